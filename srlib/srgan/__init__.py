"""SRGAN (Ledig et al., CVPR 2017): SRResNet-MSE pre-training, then SRGAN-VGG54 (:mod:`~srlib.srgan.train`: the loop
and the ``srgan_train`` stage, its figures in :mod:`~srlib.srgan.figures`, its content-loss network in
:mod:`~srlib.srgan.perceptual`), the benchmark evaluation and the Table 2
comparison (:mod:`~srlib.srgan.evaluate`: the ``srgan_evaluate`` and ``tables`` stages), and the stages' configs
(:mod:`~srlib.srgan.config`)."""
