"""Full-reference image metrics (PSNR, SSIM, RMSE, MAE, NCC) under the conventions of SR paper tables.

Pure tensor math: no model loading, no file I/O (LPIPS / FID / KID live in :mod:`srlib.metrics.inception`). The conventions
follow BasicSR (``basicsr/metrics/psnr_ssim.py`` and its ``metrics/README.md``), which reproduces the MATLAB code
behind the SRGAN / ESRGAN / Real-ESRGAN tables:

* **Input.** Float tensors ``(B, C, H, W)`` or ``(C, H, W)``, **RGB**, values in ``[0, data_range]`` (default
  ``[0, 1]``), on any device. ``sr`` and ``gt`` must have the same shape. A ``(C, H, W)`` input is treated as a batch
  of one image.
* **Output.** One value **per image**: a float64 tensor of shape ``(B,)`` on the input's device, so notebooks can draw
  histograms and report mean ± std. Nothing is averaged over the batch.
* **Precision.** SSIM is computed in float64 throughout (BasicSR computes the metric in float64 as well; its Y
  conversion runs in float32, ours in float64). On the CPU (``precision="auto"``, the default) by one fused pass per
  plane compiled with Numba (:mod:`srlib.metrics.ssim_kernel`): the four Gaussian-filtered maps of the plane shifted
  by 1/2 and the map as ``l * cs`` with ``l = 1 - mu_d^2 / (mu_x^2 + mu_y^2 + C1)``,
  ``cs = 1 - var(x - y) / (var(x) + var(y) + C2)`` (``d = x - y``; algebraically Wang et al.'s formula), within
  1e-13 of the torch float64 path, which GPUs, a Python without Numba and
  ``precision="float64"`` take. PSNR / RMSE on the CPU for float32 input: OpenCV's ``norm(NORM_L2SQR)`` (float64
  accumulation of the float32 differences, each rounded once: a relative 6e-8, so PSNR within 1e-6 dB; measured
  1e-12); the Y differences are combined in float32 (measured: 4e-8 dB). Tests: tests/unit/test_metrics.py, against
  scikit-image to 1e-6.
* **Order of operations** (as BasicSR): ``crop_border`` pixels are removed from each of the four edges first (by
  convention ``crop_border = scale``), then the optional Y conversion, then the metric.
* **Rounding.** The metrics do *not* quantise. BasicSR quantises the network output to uint8 before measuring
  (``tensor2img``: clamp to [0, 1], ``(x * 255).round()``); call :func:`srlib.data.degradations.quantize` on ``sr`` first to reproduce
  paper tables. Ground truth loaded from 8-bit files is already on that grid.
* **Y channel** (``y_only=True``): BT.601 "studio swing" luma, exactly MATLAB ``rgb2ycbcr`` and BasicSR
  ``rgb2ycbcr(..., y_only=True)``: ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1], i.e. Y in
  [16, 235] on the 255 scale. :func:`rgb_to_y` returns that value divided by 255 (so in [16/255, 235/255]); Y is
  *not* rounded (MATLAB's uint8 path would round it; BasicSR does not).
* **255 scale.** PSNR and SSIM are computed on the 255 scale like BasicSR: the input is multiplied by
  ``255 / data_range`` (after the Y conversion), so ``data_range`` only states what range the input is in.
* **PSNR** ``= 10 log10(255² / MSE)``, MSE over all pixels and channels of one image (after crop / Y). Identical
  images give ``+inf`` (BasicSR's numpy version does the same; its ``_pt`` variant adds 1e-8 to the MSE instead,
  which caps PSNR near 128 dB -- we keep ``inf`` so identical pairs are visible; drop or clip them before averaging).
* **SSIM**: Wang et al. (2004) as in their ``ssim_index.m`` and BasicSR: 11×11 Gaussian window with σ = 1.5
  (normalised to sum 1), "valid" filtering (no padding; the map is (H-10)×(W-10)), K1 = 0.01, K2 = 0.03, dynamic
  range L = 255 (C1 = (K1 L)², C2 = (K2 L)²), population (not sample) variances, mean of the map per channel, then the
  mean over channels. No down-sampling (the later ``ssim.m`` down-samples by ``round(min(H, W) / 256)``; SR papers
  do not). This equals ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255, channel_axis=...)``: skimage filters with reflect padding and then
  crops (win - 1) / 2 = 5 pixels per side before the mean, which leaves exactly the valid region (tested to 1e-6).
* **RMSE / MAE** are reported in the units of ``out_range`` (default 1.0: the [0, 1] scale; ``out_range=255`` gives
  8-bit levels), over all pixels and channels of one image (or Y with ``y_only``).
* **NCC** is the zero-mean normalised cross-correlation (ZNCC), i.e. Pearson's r between the two images flattened
  over all channels and pixels: ``Σ(a-ā)(b-b̄) / sqrt(Σ(a-ā)² Σ(b-b̄)²)`` in [-1, 1]. It is invariant to gain and
  offset (``ncc(a x + b, x) = 1`` for a > 0). It is undefined when either image is constant; we return **NaN** for
  that image (also when both are constant and equal -- a flat patch carries no correlation information; ``nanmean``
  or pandas' default ``skipna`` leave it out of averages).

**The BasicSR BGR gotcha.** BasicSR's numpy functions (``calculate_psnr`` / ``calculate_ssim``) take HWC images in
[0, 255] in **BGR** order, because they read files with ``cv2.imread``, and convert with ``bgr2ycbcr``. Our functions
take RGB. RGB PSNR / SSIM do not depend on the channel order (they average over channels), but the **Y channel
does**: feeding BGR data to an RGB ``rgb2ycbcr`` swaps the R and B coefficients (65.481 vs 24.966) and silently
changes every ``psnr_y`` / ``ssim_y``. Convert cv2 images with ``img[..., ::-1]`` before building tensors.

**GPU.** BasicSR reports that its float32 GPU path differs from MATLAB by ~0.003 dB on Y; here everything runs in
float64, so CPU and CUDA agree to round-off. (MPS has no float64: move tensors to the CPU first.)
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator

import cv2
import numpy as np
import torch

__all__ = [
    "Y_COEFFS",
    "Y_OFFSET",
    "rgb_to_y",
    "psnr",
    "ssim",
    "rmse",
    "mae",
    "ncc",
]

# BT.601 studio-swing luma for R, G, B in [0, 1], result on the 255 scale (MATLAB rgb2ycbcr, BasicSR rgb2ycbcr).
Y_COEFFS = (65.481, 128.553, 24.966)
Y_OFFSET = 16.0

# SSIM constants (Wang et al. 2004, BasicSR `_ssim`).
_SSIM_WIN, _SSIM_SIGMA, _K1, _K2 = 11, 1.5, 0.01, 0.03
# Pixels (channels x rows x columns) per SSIM block. On CPUs small blocks keep the four filtered float64 maps in cache,
# which is what makes the shifted-FMA filter fast (2^16 was best at 128²-512² here); other devices take large blocks.
_CHUNK_PX = {"cpu": 1 << 16, "other": 1 << 24}


# ---------------------------------------------------------------------------------------------------------------------
# helpers


def _batch(img: torch.Tensor, name: str) -> torch.Tensor:
    if not torch.is_tensor(img):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(img).__name__}")
    if img.ndim == 3:
        img = img.unsqueeze(0)
    if img.ndim != 4:
        raise ValueError(f"{name} must be (B, C, H, W) or (C, H, W), got shape {tuple(img.shape)}")
    if not img.is_floating_point():
        raise TypeError(
            f"{name} must be a float tensor with values in [0, data_range], got {img.dtype}"
        )
    return img


def _pair(
    sr: torch.Tensor, gt: torch.Tensor, crop_border: int, y_only: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shape checks and the border crop (views, no copy)."""
    sr, gt = _batch(sr, "sr"), _batch(gt, "gt")
    if sr.shape != gt.shape:
        raise ValueError(f"sr and gt shapes differ: {tuple(sr.shape)} vs {tuple(gt.shape)}")
    if y_only and sr.shape[1] != 3:
        raise ValueError(f"y_only needs 3 channels (RGB), got {sr.shape[1]}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        if min(sr.shape[-2:]) <= 2 * crop_border:
            raise ValueError(
                f"crop_border={crop_border} leaves nothing of a {tuple(sr.shape[-2:])} image"
            )
        sr = sr[..., crop_border:-crop_border, crop_border:-crop_border]
        gt = gt[..., crop_border:-crop_border, crop_border:-crop_border]
    return sr, gt


def _image_chunks(img: torch.Tensor) -> range:
    """Start indices of groups of whole images of about 2^18 values on CPUs (one 512² RGB image: cache-sized float64
    temporaries, ~10x faster than whole-batch ops), 2^26 elsewhere."""
    budget = 1 << 18 if img.device.type == "cpu" else 1 << 26
    return range(0, img.shape[0], max(1, budget // img[0].numel()))


def _scaled(img: torch.Tensor, y_only: bool, factor: float, *, offset: bool = True) -> torch.Tensor:
    """float64 copy on the metric scale: ``img * factor`` or its Y (``offset=False`` drops the +16, for differences)."""
    if not y_only:
        return img.to(torch.float64, copy=True).mul_(factor)
    c = [v * factor / 255 for v in Y_COEFFS]
    y = img[:, 0:1].to(torch.float64, copy=True).mul_(c[0])
    y.add_(img[:, 1:2], alpha=c[1]).add_(img[:, 2:3], alpha=c[2])
    return y.add_(Y_OFFSET * factor / 255) if offset else y


def _diffs(sr: torch.Tensor, gt: torch.Tensor, crop_border: int, y_only: bool):
    """Yield float64 differences ``sr - gt`` (or of their Y / 255) per group of whole images (cache-sized blocks).

    Y is affine, so Y(sr) - Y(gt) is the Y-coefficient combination of the RGB difference (the 16 cancels). The
    callers scale the reduced value, not the pixels (one pass fewer).
    """
    sr, gt = _pair(sr, gt, crop_border, y_only)
    chunks = _image_chunks(sr)
    for i in chunks:
        j = slice(i, i + chunks.step)
        d = sr[j].to(torch.float64, copy=True).sub_(gt[j])
        yield _scaled(d, y_only, 1.0, offset=False) if y_only else d


def _mean_sq(sr, gt, crop_border, y_only, precision="float64") -> torch.Tensor:
    """Per-image mean squared difference (float64, input scale)."""
    if _fast(sr, precision) and _fast(gt, precision):
        sr, gt = _pair(sr, gt, crop_border, y_only)
        with _opencv_threads():
            return _fast_mse(sr, gt, y_only)
    parts = []
    for d in _diffs(sr, gt, crop_border, y_only):
        n = d[0].numel()
        parts.append(torch.linalg.vector_norm(d.flatten(1), dim=1).square_().div_(n))
    return torch.cat(parts)


def _gaussian_1d() -> list[float]:
    x = torch.arange(_SSIM_WIN, dtype=torch.float64) - (_SSIM_WIN - 1) / 2
    g = torch.exp(-(x**2) / (2 * _SSIM_SIGMA**2))
    return (g / g.sum()).tolist()


def _filter_valid(s: torch.Tensor, k: list[float]) -> torch.Tensor:
    """Separable 'valid' correlation of the last two dims with the 1-D kernel ``k`` (float64 shifted FMAs).

    Faster than float64 ``conv2d`` on the CPU (which has no optimised double path) and exact to round-off.
    """
    n = len(k)
    w = s.shape[-1] - n + 1
    o = torch.mul(s[..., 0:w], k[0])
    for i in range(1, n):
        o.add_(s[..., i : i + w], alpha=k[i])
    h = s.shape[-2] - n + 1
    p = torch.mul(o[..., 0:h, :], k[0])
    for i in range(1, n):
        p.add_(o[..., i : i + h, :], alpha=k[i])
    return p


def _ssim_map_sum(x: torch.Tensor, y: torch.Tensor, k: list[float]) -> torch.Tensor:
    """Sum over the valid SSIM map of ``x``, ``y`` (..., h, w) on the 255 scale -> (...)."""
    c1, c2 = (_K1 * 255) ** 2, (_K2 * 255) ** 2
    s = torch.empty((4, *x.shape), dtype=torch.float64, device=x.device)
    s[0], s[1] = x, y
    torch.mul(x, x, out=s[2]).addcmul_(
        y, y
    )  # vx + vy needs only filter(x² + y²): 4 filtered maps, not 5
    torch.mul(x, y, out=s[3])
    ux, uy, uss, uxy = _filter_valid(s, k).unbind(0)
    uxuy = ux * uy
    u2 = torch.addcmul(ux * ux, uy, uy)  # ux² + uy²
    num = (2 * uxuy + c1).mul_((uxy - uxuy).mul_(2).add_(c2))  # (2 ux uy + C1)(2 σxy + C2)
    den = (u2 + c1).mul_((uss - u2).add_(c2))  # (ux² + uy² + C1)(σx² + σy² + C2)
    return num.div_(den).sum((-2, -1))


# ---------------------------------------------------------------------------------------------------------------------
# the CPU fast paths (OpenCV for PSNR, the compiled pass for SSIM; see "Precision" above)


def _fast(img: torch.Tensor, precision: str, dtypes=(torch.float32,)) -> bool:
    """Whether ``img`` takes a CPU fast path: CPU tensors of ``dtypes`` under ``precision="auto"``."""
    if precision not in ("auto", "float64"):
        raise ValueError(f"precision must be 'auto' or 'float64', got {precision!r}")
    return precision == "auto" and img.device.type == "cpu" and img.dtype in dtypes


def _planes(img: torch.Tensor, y_only: bool) -> np.ndarray:
    """``(B, C, h, w)`` planes on the [0, 1] scale: numpy views of the float32 images, or their Y / 255 in float64."""
    x = img.detach().numpy()
    if not y_only:
        return x
    c = [v / 255 for v in Y_COEFFS]
    y = np.multiply(x[:, 0:1], c[0], dtype=np.float64)
    y += np.multiply(x[:, 1:2], c[1], dtype=np.float64)
    y += np.multiply(x[:, 2:3], c[2], dtype=np.float64)
    y += Y_OFFSET / 255
    return y


def _fast_mse(sr: torch.Tensor, gt: torch.Tensor, y_only: bool) -> torch.Tensor:
    """Per-image MSE (float64, input scale) by OpenCV's float64-accumulated squared L2 of the float32 difference."""
    if y_only:  # Y is affine: Y(sr) - Y(gt) is the coefficient combination of the RGB difference
        d = torch.sub(sr.detach(), gt.detach()).numpy()
        c = [np.float32(v / 255) for v in Y_COEFFS]
        x = np.multiply(d[:, 0], c[0])
        x += c[1] * d[:, 1]
        x += c[2] * d[:, 2]
        sq = [cv2.norm(x[i], cv2.NORM_L2SQR) for i in range(len(x))]
        n = x[0].size
    else:
        a, b = sr.detach().numpy(), gt.detach().numpy()
        h = a.shape[1] * a.shape[2]  # (C, h, w) as a (C h, w) matrix: one OpenCV call per image
        sq = [
            cv2.norm(a[i].reshape(h, -1), b[i].reshape(h, -1), cv2.NORM_L2SQR)
            for i in range(len(a))
        ]
        n = a[0].size
    return torch.tensor(sq, dtype=torch.float64) / n


def _fast_ssim(sr: torch.Tensor, gt: torch.Tensor, y_only: bool) -> torch.Tensor | None:
    """Per-image SSIM by the compiled float64 pass (:mod:`srlib.metrics.ssim_kernel`); ``None`` without Numba."""
    try:
        from srlib.metrics import ssim_kernel
    except (
        ImportError
    ):  # e.g. a GPU host's own Python: the torch float64 path, same values to 1e-13
        warnings.warn(
            "numba is not installed: CPU SSIM takes the slower torch float64 path", stacklevel=3
        )
        return None
    x, y = _planes(sr, y_only), _planes(gt, y_only)
    kernel = np.asarray(_gaussian_1d(), dtype=np.float64)
    means = ssim_kernel.plane_means(x, y, kernel, _K1**2, _K2**2, threads=torch.get_num_threads())
    return torch.from_numpy(means.mean(axis=1))


@contextlib.contextmanager
def _opencv_threads() -> Iterator[None]:
    """OpenCV on one thread for the block (the PSNR norms), restored afterwards: its row-split threading did not pay
    on single planes (measured on the former OpenCV SSIM, 64 x 512^2: 0.87 s on 2 threads, 0.73 s on 1)."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


# ---------------------------------------------------------------------------------------------------------------------
# public API


def rgb_to_y(img: torch.Tensor) -> torch.Tensor:
    """BT.601 studio-swing luma of RGB in [0, 1]: ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``.

    Args:
        img: ``(B, 3, H, W)`` or ``(3, H, W)`` RGB in [0, 1].

    Returns:
        Y with the channel dim kept (``(B, 1, H, W)`` / ``(1, H, W)``) in [16/255, 235/255], not rounded, in float64
        unless the input is float64 already (then same dtype). Multiply by 255 for the MATLAB ``rgb2ycbcr`` value.
    """
    if img.shape[-3] != 3:
        raise ValueError(f"rgb_to_y needs 3 channels (RGB), got {img.shape[-3]}")
    img = img.to(torch.float64)
    r, g, b = img.unbind(-3)
    y = (Y_OFFSET + Y_COEFFS[0] * r + Y_COEFFS[1] * g + Y_COEFFS[2] * b) / 255.0
    return y.unsqueeze(-3)


def psnr(
    sr: torch.Tensor,
    gt: torch.Tensor,
    *,
    crop_border: int = 0,
    y_only: bool = False,
    data_range: float = 1.0,
    precision: str = "auto",
) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, in dB, on the 255 scale (BasicSR ``calculate_psnr``).

    Args:
        sr: network output, ``(B, C, H, W)`` / ``(C, H, W)``, values in [0, data_range].
        gt: ground truth, same shape.
        crop_border: pixels removed from each edge before measuring (``scale`` by convention).
        y_only: measure the BT.601 Y channel only (``psnr_y``); needs RGB input.
        data_range: the range the inputs are in (1.0 for [0, 1] tensors, 255 for 8-bit values).
        precision: ``"auto"`` (the CPU fast path for float32 input, within 1e-6 dB) or ``"float64"``.

    Returns:
        ``(B,)`` float64; ``+inf`` for identical images.
    """
    mse = _mean_sq(sr, gt, crop_border, y_only, precision) * (255.0 / data_range) ** 2
    return 10 * torch.log10(255.0**2 / mse)


def ssim(
    sr: torch.Tensor,
    gt: torch.Tensor,
    *,
    crop_border: int = 0,
    y_only: bool = False,
    precision: str = "auto",
) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004 / BasicSR ``calculate_ssim``), inputs in [0, 1].

    11×11 Gaussian (σ 1.5) window, valid region, K1 = 0.01, K2 = 0.03, L = 255, per-channel map means averaged over
    channels, in float64. ``precision="auto"``: on the CPU, one fused compiled pass per plane (module docstring;
    planes spread over ``torch.get_num_threads()`` threads); ``"float64"`` (and GPUs): batched torch separable filtering in cache-sized blocks (images, or rows of
    large images). Both agree to 1e-13.

    Args:
        sr: network output, ``(B, C, H, W)`` / ``(C, H, W)``, values in [0, 1].
        gt: ground truth, same shape.
        crop_border: pixels removed from each edge before measuring.
        y_only: measure the BT.601 Y channel only (``ssim_y``).
        precision: ``"auto"`` (the compiled pass on the CPU) or ``"float64"`` (the torch path everywhere).

    Returns:
        ``(B,)`` float64.
    """
    exact = (
        torch.float32,
        torch.float64,
    )  # the compiled pass computes in float64 (module docstring)
    fast = _fast(sr, precision, exact) and _fast(gt, precision, exact)
    sr, gt = _pair(sr, gt, crop_border, y_only)
    b, c, h, w = sr.shape
    c = 1 if y_only else c
    if min(h, w) < _SSIM_WIN:
        raise ValueError(
            f"SSIM needs at least {_SSIM_WIN}x{_SSIM_WIN} pixels after cropping, got {h}x{w}"
        )
    if fast and (value := _fast_ssim(sr, gt, y_only)) is not None:
        return value
    k, pad = _gaussian_1d(), _SSIM_WIN - 1
    budget = _CHUNK_PX["cpu" if sr.device.type == "cpu" else "other"]
    sums = torch.zeros(b, c, dtype=torch.float64, device=sr.device)
    if c * h * w <= budget:  # small images: several whole images per block
        step = budget // (c * h * w)
        for i in range(0, b, step):
            x, y = (
                _scaled(sr[i : i + step], y_only, 255.0),
                _scaled(gt[i : i + step], y_only, 255.0),
            )
            sums[i : i + step] = _ssim_map_sum(x, y, k)
    else:  # large images: one image at a time, in blocks of rows (each block carries a 10-row halo)
        rows = max(16, budget // (c * w) - pad)
        for i in range(b):
            for r in range(0, h - pad, rows):
                blk = slice(r, min(r + rows, h - pad) + pad)
                x, y = (
                    _scaled(sr[i : i + 1, :, blk], y_only, 255.0),
                    _scaled(gt[i : i + 1, :, blk], y_only, 255.0),
                )
                sums[i] += _ssim_map_sum(x, y, k)[0]
    return (sums / ((h - pad) * (w - pad))).mean(dim=1)


def rmse(
    sr: torch.Tensor,
    gt: torch.Tensor,
    *,
    crop_border: int = 0,
    y_only: bool = False,
    data_range: float = 1.0,
    out_range: float = 1.0,
    precision: str = "auto",
) -> torch.Tensor:
    """Root-mean-square error per image, in units of ``out_range`` (default: the [0, 1] scale).

    Args:
        sr, gt: ``(B, C, H, W)`` / ``(C, H, W)`` in [0, data_range].
        crop_border: pixels removed from each edge first.
        y_only: on the BT.601 Y channel (Y / 255, see :func:`rgb_to_y`).
        data_range: the range the inputs are in.
        out_range: report on the [0, out_range] scale (255 for 8-bit levels).
        precision: as :func:`psnr`'s.

    Returns:
        ``(B,)`` float64.
    """
    return _mean_sq(sr, gt, crop_border, y_only, precision).sqrt_() * (out_range / data_range)


def mae(
    sr: torch.Tensor,
    gt: torch.Tensor,
    *,
    crop_border: int = 0,
    y_only: bool = False,
    data_range: float = 1.0,
    out_range: float = 1.0,
) -> torch.Tensor:
    """Mean absolute error per image, in units of ``out_range`` (default: the [0, 1] scale); args as :func:`rmse`."""
    diffs = _diffs(sr, gt, crop_border, y_only)
    return torch.cat([d.abs_().mean(dim=(1, 2, 3)) for d in diffs]) * (out_range / data_range)


def ncc(
    sr: torch.Tensor, gt: torch.Tensor, *, crop_border: int = 0, y_only: bool = False
) -> torch.Tensor:
    """Zero-mean normalised cross-correlation (Pearson r over all channels and pixels) per image.

    Args:
        sr, gt: ``(B, C, H, W)`` / ``(C, H, W)``; the range does not matter (gain / offset invariant).
        crop_border: pixels removed from each edge first.
        y_only: on the BT.601 Y channel.

    Returns:
        ``(B,)`` float64 in [-1, 1]; NaN where either image is constant (r is undefined there).
    """
    sr, gt = _pair(sr, gt, crop_border, y_only)
    x, y = _scaled(sr, y_only, 1.0).flatten(1), _scaled(gt, y_only, 1.0).flatten(1)
    constant = (x.amax(1) == x.amin(1)) | (y.amax(1) == y.amin(1))
    xc, yc = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    r = (xc * yc).sum(1) / torch.sqrt((xc * xc).sum(1) * (yc * yc).sum(1))
    r = r.clamp(-1.0, 1.0)  # round-off can step just outside [-1, 1]
    return torch.where(constant, torch.full_like(r, math.nan), r)
