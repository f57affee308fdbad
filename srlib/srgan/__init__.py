"""SRGAN (Ledig et al., CVPR 2017): SRResNet-MSE pre-training, then SRGAN-VGG54 (:mod:`srlib.srgan.train`)."""
