"""The modified SRGAN (vTuanpham seed) with its post-processing: training with the seed's recipe
(:mod:`~srlib.srgan_modified.train`; the batch-1 BN check, :mod:`~srlib.srgan_modified.bn`), histogram matching and
FFT low-pass (:mod:`~srlib.srgan_modified.postprocess`), the quantified ablation
(:mod:`~srlib.srgan_modified.ablation`) and the report's figures (:mod:`~srlib.srgan_modified.figures`). The stage
configs are :mod:`~srlib.srgan_modified.config`.
"""
