"""Real-ESRGAN's second-order degradation model, on batched torch tensors (CPU or GPU).

Wang et al., "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data", ICCV-W 2021
(https://arxiv.org/abs/2107.10833), §3.1-3.2 and Fig. 2. Settings: ``options/train_realesrgan_x4plus.yml``;
behaviour read in ``realesrgan/models/realesrgan_model.py`` (``feed_data``), ``realesrgan/data/realesrgan_dataset.py``
and BasicSR ``basicsr/data/degradations.py`` / ``basicsr/utils/img_process_util.py``. The defaults of
:class:`RealESRGANDegradationConfig` are the yml's.

Pipeline (:func:`degrade`), on ``gt`` (B, 3, H, W) in [0, 1]::

    gt_usm = usm_sharp(gt)                       # the first stage starts from the sharpened GT, as upstream
    stage 1: blur(k1) -> resize(up/down/keep) -> Gaussian|Poisson noise -> clamp -> JPEG
    stage 2: blur(k2) w.p. 0.8 -> resize to (H/4*s, W/4*s) -> noise -> 50/50 either
             [resize to H/4 + final sinc] -> JPEG   or   JPEG -> [resize to H/4 + final sinc]
    lq = round(clamp(out) * 255) / 255

Per image: blur kernels (type, size 7..21, sigma, rotation, beta), sinc cutoffs, noise sigma / scale, grey-noise
flag, JPEG quality. Per batch (upstream draws these once per batch; the training-pair pool mixes batches): resize
direction, factor and mode, Gaussian vs Poisson, whether the second blur runs, the order of the last two steps.

Differences from upstream, on purpose and documented:

* **JPEG** is a per-image OpenCV round trip on the CPU (:func:`srlib.data.degradations.jpeg`) with the drawn quality
  rounded to an integer, instead of BasicSR's ``DiffJPEG(differentiable=False)`` on the GPU. Both use the IJG
  quantisation tables and 4:2:0 chroma; they differ in DCT rounding and chroma filtering. On a GPU this costs a
  device round trip per JPEG step.
* **Randomness** comes from one explicit ``torch.Generator`` (upstream mixes Python ``random``, NumPy and torch's
  global RNG), so a batch is a pure function of the generator's seed. Noise is drawn on the generator's device.
* **Training pairs** (GT crops, the paired crop, the 180-pair pool) live in :mod:`srlib.realesrgan.pairs`.
* **Borders**: filters pad by reflection like upstream; when an image is smaller than the kernel radius (only
  possible with crops far below the paper's 400x400), replicate padding is used instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from srlib.data import degradations
from srlib.data.realesrgan_kernels import (
    KERNEL_TYPES,
    _choice,
    _uniform,
    filter2d,
    random_blur_kernel,
    random_final_sinc,
    usm_sharp,
)

RESIZE_MODES = ("area", "bilinear", "bicubic")


@dataclass
class RealESRGANDegradationConfig:
    """``train_realesrgan_x4plus.yml`` (identical in ``train_realesrnet_x4plus.yml``); names as in the yml."""

    scale: int = 4
    gt_size: int = 256  # training crop of the GT (lq crop = gt_size / scale)
    crop_pad_size: int = (
        400  # GT is reflect-101 padded / randomly cropped to this before degrading (dataset)
    )
    use_hflip: bool = True
    queue_size: int = 180  # training-pair pool
    # first degradation
    blur_kernel_size: int = (
        21  # largest kernel; sizes are drawn from 7, 9, ..., 21 and zero-padded to 21
    )
    kernel_list: tuple[str, ...] = KERNEL_TYPES
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    betag_range: tuple[float, float] = (0.5, 4.0)
    betap_range: tuple[float, float] = (1.0, 2.0)
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: tuple[float, float] = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_range: tuple[float, float] = (1.0, 30.0)  # sigma in 8-bit units
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[float, float] = (30.0, 95.0)
    # second degradation
    second_blur_prob: float = 0.8
    kernel_list2: tuple[str, ...] = KERNEL_TYPES
    kernel_prob2: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob2: float = 0.1
    blur_sigma2: tuple[float, float] = (0.2, 1.5)
    betag_range2: tuple[float, float] = (0.5, 4.0)
    betap_range2: tuple[float, float] = (1.0, 2.0)
    resize_prob2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: tuple[float, float] = (0.3, 1.2)
    gaussian_noise_prob2: float = 0.5
    noise_range2: tuple[float, float] = (1.0, 25.0)
    poisson_scale_range2: tuple[float, float] = (0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: tuple[float, float] = (30.0, 95.0)
    final_sinc_prob: float = 0.8


# ---- resize, noise, JPEG -------------------------------------------------------------------------


def random_resize(
    img: Tensor, *, mode: str, scale: float | None = None, size: tuple[int, int] | None = None
) -> Tensor:
    """``F.interpolate`` by ``scale`` (output ``floor(H * scale)``) or to ``size``; area / bilinear / bicubic."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of scale or size")
    if size is not None:
        return F.interpolate(img, size=tuple(int(s) for s in size), mode=mode)
    return F.interpolate(img, scale_factor=scale, mode=mode)


def _rgb_to_gray(img: Tensor) -> Tensor:  # (B, 3, H, W) -> (B, 1, H, W), torchvision's weights
    return (0.2989 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]).unsqueeze(1)


def add_gaussian_noise_pt(
    img: Tensor, sigma: Tensor, gray: Tensor, *, generator: torch.Generator
) -> Tensor:
    """``img + n * sigma / 255``, clamped to [0, 1]; ``sigma`` (B,) in 8-bit units, ``gray`` (B,) bool.

    Grey noise is one field shared by the three channels (Real-ESRGAN §3.1 "gray noise").
    """
    b, c, h, w = img.shape
    color = torch.randn(
        img.shape, generator=generator, device=generator.device, dtype=img.dtype
    ).to(img.device)
    mono = torch.randn(
        (b, 1, h, w), generator=generator, device=generator.device, dtype=img.dtype
    ).to(img.device)
    g = gray.to(img.device, img.dtype).view(b, 1, 1, 1)
    noise = (color * (1 - g) + mono * g) * sigma.to(img.device, img.dtype).view(b, 1, 1, 1)
    return (img + noise / 255).clamp(0, 1)


def _poisson_noise(img: Tensor, generator: torch.Generator) -> Tensor:
    """Shot noise of the 8-bit image with ``2^ceil(log2(#grey levels))`` photons per unit (skimage's rule)."""
    b = img.shape[0]
    q8 = (img * 255).round().clamp(0, 255)
    # distinct 8-bit levels per image (upstream: len(torch.unique(...))), by one batched bincount
    bins = q8.to(torch.int64).flatten(1) + 256 * torch.arange(b, device=img.device)[:, None]
    levels = (
        (torch.bincount(bins.flatten(), minlength=256 * b).view(b, 256) > 0).sum(1).double().cpu()
    )
    vals = (2 ** torch.ceil(torch.log2(levels))).to(img.device, img.dtype).view(-1, 1, 1, 1)
    q = q8 / 255
    counts = torch.poisson((q * vals).to(generator.device), generator=generator).to(q.device)
    return counts / vals - q


def add_poisson_noise_pt(
    img: Tensor, scale: Tensor, gray: Tensor, *, generator: torch.Generator
) -> Tensor:
    """``img + scale * poisson_noise``, clamped to [0, 1]; grey noise is computed on the luma and shared.

    Colour noise is drawn only when some image needs it, grey noise likewise (upstream always draws colour).
    """
    b = img.shape[0]
    g = gray.to(img.device, img.dtype).view(b, 1, 1, 1)
    noise = torch.zeros_like(img)
    if not bool(gray.all()):
        noise = noise + _poisson_noise(img, generator) * (1 - g)
    if bool(gray.any()):
        noise = (
            noise + _poisson_noise(_rgb_to_gray(img), generator) * g
        )  # (B, 1, H, W), shared by the channels
    return (img + noise * scale.to(img.device, img.dtype).view(b, 1, 1, 1)).clamp(0, 1)


def jpeg_pt(img: Tensor, quality: Sequence[int]) -> Tensor:
    """Per-image JPEG round trip (OpenCV, on the CPU; see the module docstring); ``quality`` one int per image."""
    if len(quality) != img.shape[0]:
        raise ValueError(f"need one quality per image ({img.shape[0]}), got {len(quality)}")
    out = [degradations.jpeg(img[i : i + 1].clamp(0, 1), int(q)) for i, q in enumerate(quality)]
    return torch.cat(out).to(img.device, img.dtype)


# ---- the two-stage pipeline ----------------------------------------------------------------------


def _noise(
    out: Tensor,
    g: torch.Generator,
    gaussian_p: float,
    sigma_range,
    poisson_range,
    gray_p: float,
    log: dict,
):
    b = out.shape[0]
    gray = _uniform(g, 0, 1, b) < gray_p
    if _uniform(g, 0, 1) < gaussian_p:
        sigma = _uniform(g, *sigma_range, b)
        log.setdefault("noise", []).append(("gaussian", sigma.tolist(), gray.tolist()))
        return add_gaussian_noise_pt(out, sigma, gray, generator=g)
    scale = _uniform(g, *poisson_range, b)
    log.setdefault("noise", []).append(("poisson", scale.tolist(), gray.tolist()))
    return add_poisson_noise_pt(out, scale, gray, generator=g)


def _jpeg(out: Tensor, g: torch.Generator, jpeg_range, log: dict) -> Tensor:
    # DiffJPEG takes a float quality per image; OpenCV needs an int: round the U[lo, hi] draw.
    quality = [int(round(q)) for q in _uniform(g, *jpeg_range, out.shape[0]).tolist()]
    log.setdefault("jpeg_quality", []).append(quality)
    return jpeg_pt(out.clamp(0, 1), quality)


def _resize_draw(g: torch.Generator, probs, rng) -> float:
    kind = _choice(g, probs)  # 0 up, 1 down, 2 keep
    return _uniform(g, 1.0, rng[1]) if kind == 0 else _uniform(g, rng[0], 1.0) if kind == 1 else 1.0


def sample_kernels(cfg: RealESRGANDegradationConfig, batch: int, generator: torch.Generator):
    """Per-image ``(kernel1, kernel2, sinc)``, each ``(B, 21, 21)`` float64, and their type names."""
    k1, k2, ks, names = [], [], [], []
    common = {"max_size": cfg.blur_kernel_size, "generator": generator}
    for _ in range(batch):
        a, ta = random_blur_kernel(
            kernel_list=cfg.kernel_list,
            kernel_prob=cfg.kernel_prob,
            sinc_prob=cfg.sinc_prob,
            sigma_range=cfg.blur_sigma,
            betag_range=cfg.betag_range,
            betap_range=cfg.betap_range,
            **common,
        )
        b, tb = random_blur_kernel(
            kernel_list=cfg.kernel_list2,
            kernel_prob=cfg.kernel_prob2,
            sinc_prob=cfg.sinc_prob2,
            sigma_range=cfg.blur_sigma2,
            betag_range=cfg.betag_range2,
            betap_range=cfg.betap_range2,
            **common,
        )
        c, tc = random_final_sinc(cfg.final_sinc_prob, generator, cfg.blur_kernel_size)
        k1.append(a), k2.append(b), ks.append(c), names.append((ta, tb, tc))
    return torch.stack(k1), torch.stack(k2), torch.stack(ks), names


def degrade(
    gt: Tensor,
    cfg: RealESRGANDegradationConfig,
    *,
    generator: torch.Generator,
    return_params: bool = False,
):
    """Real-ESRGAN's second-order degradation of a GT batch (see the module docstring).

    Args:
        gt: ``(B, 3, H, W)`` in [0, 1], H and W divisible by ``cfg.scale``; any device.
        cfg: the degradation settings.
        generator: the only source of randomness (CPU or the images' device).
        return_params: also return a dict of every drawn parameter (for logging and tests).

    Returns:
        ``lq`` ``(B, 3, H / scale, W / scale)`` on the 8-bit grid, same device and dtype as ``gt``
        (and the parameter dict when asked).
    """
    g, s = generator, cfg.scale
    b, _, h, w = gt.shape
    kernel1, kernel2, sinc, names = sample_kernels(cfg, b, g)
    log: dict = {"kernels": names}
    # ---- first degradation (starts from the USM-sharpened GT, as in RealESRGANModel.feed_data)
    out = filter2d(usm_sharp(gt), kernel1)
    scale1 = _resize_draw(g, cfg.resize_prob, cfg.resize_range)
    mode1 = RESIZE_MODES[_choice(g, [1, 1, 1])]
    out = random_resize(out, scale=scale1, mode=mode1)
    out = _noise(
        out,
        g,
        cfg.gaussian_noise_prob,
        cfg.noise_range,
        cfg.poisson_scale_range,
        cfg.gray_noise_prob,
        log,
    )
    out = _jpeg(out, g, cfg.jpeg_range, log)
    # ---- second degradation
    second_blur = _uniform(g, 0, 1) < cfg.second_blur_prob
    if second_blur:
        out = filter2d(out, kernel2)
    scale2 = _resize_draw(g, cfg.resize_prob2, cfg.resize_range2)
    mode2 = RESIZE_MODES[_choice(g, [1, 1, 1])]
    out = random_resize(out, size=(int(h / s * scale2), int(w / s * scale2)), mode=mode2)
    out = _noise(
        out,
        g,
        cfg.gaussian_noise_prob2,
        cfg.noise_range2,
        cfg.poisson_scale_range2,
        cfg.gray_noise_prob2,
        log,
    )
    # Resize back + final sinc form one step; upstream found other orders give "twisted lines".
    sinc_first = _uniform(g, 0, 1) < 0.5
    mode3 = RESIZE_MODES[_choice(g, [1, 1, 1])]
    if sinc_first:
        out = filter2d(random_resize(out, size=(h // s, w // s), mode=mode3), sinc)
        out = _jpeg(out, g, cfg.jpeg_range2, log)
    else:
        out = _jpeg(out, g, cfg.jpeg_range2, log)
        out = filter2d(random_resize(out, size=(h // s, w // s), mode=mode3), sinc)
    lq = (out * 255).round().clamp(0, 255) / 255
    if not return_params:
        return lq
    log |= {
        "resize1": (scale1, mode1),
        "second_blur": second_blur,
        "resize2": (scale2, mode2),
        "final": ("sinc_then_jpeg" if sinc_first else "jpeg_then_sinc", mode3),
    }
    return lq, log
