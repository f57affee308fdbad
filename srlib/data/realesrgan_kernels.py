"""Real-ESRGAN's blur kernels: the random kernel families, the sinc filter, filtering, and USM sharpening.

Ported from BasicSR's ``degradations.py`` (kernel formulas and sampling ranges as in ``train_realesrgan_x4plus.yml``);
every random draw comes from an explicit ``torch.Generator``. The degradation pipeline that uses them is
:mod:`srlib.data.degradations_realesrgan`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

KERNEL_TYPES = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)


# ---- random draws from an explicit generator ----------------------------------------------------


def _uniform(g: torch.Generator, lo: float, hi: float, n: int | None = None):
    u = torch.rand(n or 1, generator=g, dtype=torch.float64, device=g.device).cpu()
    v = lo + (hi - lo) * u
    return v if n else float(v)


def _choice(g: torch.Generator, probs: Sequence[float]) -> int:
    p = torch.as_tensor(probs, dtype=torch.float64, device=g.device)
    return int(torch.multinomial(p, 1, generator=g))


# ---- blur kernels (all normalised to sum to 1, float64, CPU) -------------------------------------


def mesh_grid(kernel_size: int) -> Tensor:
    """``(k, k, 2)`` grid of ``(x, y)`` offsets from the centre; x runs along columns."""
    ax = torch.arange(-(kernel_size // 2), kernel_size // 2 + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    return torch.stack((xx, yy), dim=-1)


def _quadratic_form(
    kernel_size: int, sig_x: float, sig_y: float, theta: float, isotropic: bool
) -> Tensor:
    """``q = p^T Sigma^-1 p`` on the grid, ``Sigma = R diag(sig_x^2, sig_y^2) R^T`` (R rotates by theta)."""
    if isotropic:
        sig_y, theta = sig_x, 0.0
    c, s = math.cos(theta), math.sin(theta)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    sigma = rot @ torch.diag(torch.tensor([sig_x**2, sig_y**2], dtype=torch.float64)) @ rot.T
    p = mesh_grid(kernel_size)  # (k, k, 2)
    return ((p @ torch.linalg.inv(sigma)) * p).sum(-1)  # (k, k)


def bivariate_gaussian(
    kernel_size: int,
    sig_x: float,
    sig_y: float = 0.0,
    theta: float = 0.0,
    *,
    isotropic: bool = True,
) -> Tensor:
    """``exp(-q / 2)``: isotropic (``sig_x`` only) or anisotropic rotated Gaussian."""
    k = torch.exp(-0.5 * _quadratic_form(kernel_size, sig_x, sig_y, theta, isotropic))
    return k / k.sum()


def bivariate_generalized_gaussian(
    kernel_size: int,
    sig_x: float,
    sig_y: float,
    theta: float,
    beta: float,
    *,
    isotropic: bool = True,
) -> Tensor:
    """``exp(-q^beta / 2)`` (generalized Gaussian, Real-ESRGAN eq. 2); beta = 1 is the Gaussian."""
    k = torch.exp(-0.5 * _quadratic_form(kernel_size, sig_x, sig_y, theta, isotropic).pow(beta))
    return k / k.sum()


def bivariate_plateau(
    kernel_size: int,
    sig_x: float,
    sig_y: float,
    theta: float,
    beta: float,
    *,
    isotropic: bool = True,
) -> Tensor:
    """``1 / (1 + q^beta)`` (plateau-shaped kernel, Real-ESRGAN eq. 3)."""
    k = 1.0 / (_quadratic_form(kernel_size, sig_x, sig_y, theta, isotropic).pow(beta) + 1.0)
    return k / k.sum()


def sinc_kernel(cutoff: float, kernel_size: int, pad_to: int = 0) -> Tensor:
    """Circularly symmetric ideal low-pass filter (Real-ESRGAN eq. 4), truncated to ``kernel_size``.

    ``k(i, j) = cutoff * J1(cutoff * r) / (2 pi r)``, ``r`` the distance to the centre, with the limit
    ``cutoff^2 / (4 pi)`` at ``r = 0``; normalised to sum 1 and zero-padded to ``pad_to``. ``cutoff`` is in radians
    per pixel (pi = Nyquist). It models ringing and overshoot artifacts.
    """
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    r = mesh_grid(kernel_size).norm(dim=-1)
    safe_r = torch.where(r > 0, r, torch.ones_like(r))
    k = cutoff * torch.special.bessel_j1(cutoff * safe_r) / (2 * math.pi * safe_r)
    k = torch.where(r > 0, k, torch.full_like(k, cutoff**2 / (4 * math.pi)))
    k = k / k.sum()
    return _pad_kernel(k, pad_to)


def _pad_kernel(k: Tensor, size: int) -> Tensor:
    p = (size - k.shape[-1]) // 2
    return F.pad(k, (p, p, p, p)) if p > 0 else k


def random_mixed_kernel(
    *,
    kernel_list: Sequence[str],
    kernel_prob: Sequence[float],
    kernel_size: int,
    sigma_range: tuple[float, float],
    betag_range: tuple[float, float],
    betap_range: tuple[float, float],
    generator: torch.Generator,
    rotation_range: tuple[float, float] = (-math.pi, math.pi),
) -> tuple[Tensor, str]:
    """One kernel of a randomly chosen type (BasicSR ``random_mixed_kernels``, no multiplicative noise)."""
    kind = kernel_list[_choice(generator, kernel_prob)]
    isotropic = kind.endswith("iso") and not kind.endswith("aniso")
    sig_x = _uniform(generator, *sigma_range)
    sig_y, theta = sig_x, 0.0
    if not isotropic:
        sig_y = _uniform(generator, *sigma_range)
        theta = _uniform(generator, *rotation_range)
    if kind in ("iso", "aniso"):
        return bivariate_gaussian(kernel_size, sig_x, sig_y, theta, isotropic=isotropic), kind
    # beta is drawn from [lo, 1] or [1, hi] with equal odds (so beta < 1 and beta > 1 are equally likely)
    lo, hi = betag_range if kind.startswith("generalized") else betap_range
    beta = (
        _uniform(generator, lo, 1.0)
        if _uniform(generator, 0, 1) < 0.5
        else _uniform(generator, 1.0, hi)
    )
    fn = bivariate_generalized_gaussian if kind.startswith("generalized") else bivariate_plateau
    return fn(kernel_size, sig_x, sig_y, theta, beta, isotropic=isotropic), kind


def random_blur_kernel(
    *,
    kernel_list: Sequence[str],
    kernel_prob: Sequence[float],
    sinc_prob: float,
    sigma_range: tuple[float, float],
    betag_range: tuple[float, float],
    betap_range: tuple[float, float],
    generator: torch.Generator,
    max_size: int = 21,
) -> tuple[Tensor, str]:
    """A stage's blur kernel: size from {7, 9, ..., max_size}; sinc w.p. ``sinc_prob``, else a mixed kernel.

    Returns the ``(max_size, max_size)`` kernel (zero-padded) and its type. The sinc cutoff is drawn from
    U[pi/3, pi] for sizes < 13 and U[pi/5, pi] otherwise (a wide kernel can represent a lower cutoff).
    """
    sizes = list(range(7, max_size + 1, 2))
    size = sizes[int(torch.randint(len(sizes), (1,), generator=generator, device=generator.device))]
    if _uniform(generator, 0, 1) < sinc_prob:
        cutoff = _uniform(generator, math.pi / 3 if size < 13 else math.pi / 5, math.pi)
        return sinc_kernel(cutoff, size, pad_to=max_size), "sinc"
    k, kind = random_mixed_kernel(
        kernel_list=kernel_list,
        kernel_prob=kernel_prob,
        kernel_size=size,
        sigma_range=sigma_range,
        betag_range=betag_range,
        betap_range=betap_range,
        generator=generator,
    )
    return _pad_kernel(k, max_size), kind


def random_final_sinc(
    p: float, generator: torch.Generator, max_size: int = 21
) -> tuple[Tensor, str]:
    """Final sinc w.p. ``p`` (size 7..21, cutoff U[pi/3, pi]), else a pulse (identity) kernel."""
    if _uniform(generator, 0, 1) < p:
        sizes = list(range(7, max_size + 1, 2))
        size = sizes[
            int(torch.randint(len(sizes), (1,), generator=generator, device=generator.device))
        ]
        return sinc_kernel(_uniform(generator, math.pi / 3, math.pi), size, pad_to=max_size), "sinc"
    pulse = torch.zeros(max_size, max_size, dtype=torch.float64)
    pulse[max_size // 2, max_size // 2] = 1.0
    return pulse, "pulse"


# ---- filtering and sharpening --------------------------------------------------------------------


def filter2d(img: Tensor, kernel: Tensor) -> Tensor:
    """Correlate each image with its kernel: ``kernel`` is ``(k, k)`` (shared) or ``(B, k, k)``; k odd.

    Reflect padding by ``k // 2`` (BasicSR ``filter2D``); replicate when the image is too small to reflect.
    """
    b, c, h, w = img.shape
    k = kernel.shape[-1]
    if k % 2 == 0:
        raise ValueError(f"kernel size must be odd, got {k}")
    p = k // 2
    mode = "reflect" if p < min(h, w) else "replicate"
    x = F.pad(img, (p, p, p, p), mode=mode)  # (B, C, H+2p, W+2p)
    kernel = kernel.to(img.device, img.dtype)
    if kernel.dim() == 2:
        weight = kernel.expand(c, 1, k, k)
        return F.conv2d(x, weight, groups=c)
    weight = kernel.view(b, 1, k, k).repeat_interleave(c, dim=0)  # (B*C, 1, k, k)
    return F.conv2d(x.reshape(1, b * c, h + 2 * p, w + 2 * p), weight, groups=b * c).view(
        b, c, h, w
    )


def _gaussian_blur_separable(img: Tensor, kernel1d: Tensor) -> Tensor:
    c, k = img.shape[1], kernel1d.numel()
    p = k // 2
    mode = "reflect" if p < min(img.shape[-2:]) else "replicate"
    kernel1d = kernel1d.to(img.device, img.dtype)
    x = F.pad(img, (p, p, p, p), mode=mode)
    x = F.conv2d(x, kernel1d.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, kernel1d.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def usm_sharp(
    img: Tensor, *, weight: float = 0.5, radius: int = 50, threshold: float = 10
) -> Tensor:
    """Unsharp masking of the GT (Real-ESRGAN §4.1: sharper outputs without visible overshoot).

    ``blur`` = Gaussian of side ``radius`` (made odd: 51) and OpenCV's default sigma for that side
    (``0.3 * ((k - 1) / 2 - 1) + 0.8`` = 8); ``residual = img - blur``; ``mask = |residual| * 255 > threshold``,
    softened by the same blur; ``out = soft_mask * clamp(img + weight * residual, 0, 1) + (1 - soft_mask) * img``.
    The 2-D Gaussian is applied as two 1-D passes (separable; same result up to float rounding).
    """
    k = radius + 1 if radius % 2 == 0 else radius
    sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
    x = torch.arange(k, dtype=torch.float64) - (k - 1) / 2
    g = torch.exp(-(x * x) / (2 * sigma * sigma))
    g = g / g.sum()
    residual = img - _gaussian_blur_separable(img, g)
    mask = (residual.abs() * 255 > threshold).to(img.dtype)
    soft_mask = _gaussian_blur_separable(mask, g)
    sharp = (img + weight * residual).clamp(0, 1)
    return soft_mask * sharp + (1 - soft_mask) * img
