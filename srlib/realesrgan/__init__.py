"""Real-ESRGAN (Wang et al., ICCVW 2021): RealESRNet / RealESRGAN training (:mod:`~srlib.realesrgan.train`) on
synthetic second-order degradations (:mod:`~srlib.realesrgan.pairs`), and the released x4plus measured beside
bicubic on the benchmark (:mod:`~srlib.realesrgan.benchmark`, stage ``realesrgan_pretrained``; its config in
:mod:`~srlib.realesrgan.config`).
"""
