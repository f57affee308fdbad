"""Metrics: pixel metrics (:mod:`~srlib.metrics.pixel`: PSNR, SSIM, RMSE, MAE, NCC -- pure math), FID / KID
(:mod:`~srlib.metrics.fid`, with the Inception network and feature I/O in :mod:`~srlib.metrics.inception`) and
LPIPS (:mod:`~srlib.metrics.lpips`).
"""
