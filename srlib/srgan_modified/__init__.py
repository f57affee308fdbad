"""The modified SRGAN (vTuanpham seed) with its post-processing: training with the seed's recipe
(:mod:`~srlib.srgan_modified.train`), histogram matching and FFT low-pass (:mod:`~srlib.srgan_modified.postprocess`),
and the quantified ablation (:mod:`~srlib.srgan_modified.ablation`).
"""
