"""Real-ESRGAN (Wang et al., ICCVW 2021): RealESRNet / RealESRGAN training (:mod:`~srlib.realesrgan.train`) on
synthetic second-order degradations (:mod:`~srlib.realesrgan.pairs`).
"""
