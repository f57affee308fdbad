"""Degradations that turn a ground-truth image ``gt`` into a low-quality input ``lq``.

Conventions (shared by every function below):

* Images are float tensors ``(B, C, H, W)`` (float32 by package convention), RGB, range ``[0, 1]``.
  A ``(C, H, W)`` tensor is accepted too and the result has the same rank.
* Nothing here clamps or rounds unless its name says so (``quantize``, ``jpeg``): bicubic
  overshoots below 0 / above 1 and Gaussian noise leaves the range. Call :func:`quantize` to get
  what an 8-bit PNG on disk would hold, which is what the papers feed their networks.
* Randomness only comes from an explicit ``torch.Generator`` argument; there is no global RNG use.
* ``imresize`` is MATLAB's ``imresize(img, scale, 'bicubic')`` (antialiasing on by default), the
  function every SR benchmark uses to make its LR images ("BI" degradation):

  - cubic kernel with ``a = -0.5`` (Keys 1981), width 4;
  - when shrinking with antialiasing, the kernel is stretched by ``1/scale`` and multiplied by
    ``scale`` (width ``4/scale``), and each output's weights are renormalised to sum to 1;
  - output pixel ``x`` (1-based) samples the input at ``u = x/scale + 0.5 * (1 - 1/scale)``;
  - out-of-range taps use MATLAB's ``symmetric`` padding, which repeats the edge pixel
    (``..., x[1], x[0] | x[0], x[1], ...``);
  - output size is ``ceil(in * scale)``, or an explicit ``size=(h, w)`` (then ``scale = out/in``);
  - separable: the dimension with the smaller scale factor is resized first (MATLAB's order;
    height first on ties). Mathematically the order does not matter; it only changes rounding.

  MATLAB rounds ``uint8`` images after each of the two 1-D passes. ``imresize`` keeps float64
  throughout, so ``quantize(imresize(x))`` may differ from MATLAB's ``uint8`` result by one grey
  level on some pixels; ``imresize_np`` on a ``uint8`` array repeats MATLAB's per-pass rounding
  and is bit-exact (checked against MATLAB outputs published in GNU Octave's tests).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def _as_4d(img: Tensor) -> tuple[Tensor, bool]:
    """Returns ``(img as (B, C, H, W), whether a batch dim was added)``."""
    if img.dim() == 3:
        return img.unsqueeze(0), True
    if img.dim() == 4:
        return img, False
    raise ValueError(f"expected a (C, H, W) or (B, C, H, W) image, got shape {tuple(img.shape)}")


def _map_numpy(img: Tensor, fn) -> Tensor:
    """Applies ``fn`` (``(H, W, C)`` array -> ``(h, w, C)`` array) to each image, on the CPU."""
    x, squeezed = _as_4d(img)
    arrs = x.detach().cpu().permute(0, 2, 3, 1).contiguous().numpy()  # (B, H, W, C)
    outs = [np.atleast_3d(fn(a)) for a in arrs]  # cv2 drops a trailing channel dim of 1
    out = torch.from_numpy(np.stack(outs)).permute(0, 3, 1, 2)  # (B, C, h, w)
    return out[0] if squeezed else out


def _per_image(value: float | Tensor, batch: int, name: str) -> Tensor:
    """Broadcasts a scalar or a ``(B,)`` tensor to a float64 ``(B,)`` CPU tensor."""
    v = torch.as_tensor(value, dtype=torch.float64).detach().cpu().flatten()
    if v.numel() == 1:
        v = v.expand(batch)
    if v.numel() != batch:
        raise ValueError(
            f"{name} must be a scalar or have one value per image ({batch}), got {v.numel()}"
        )
    return v


# ---- MATLAB-compatible bicubic imresize ----------------------------------------------------------


def _cubic(x: Tensor) -> Tensor:
    """Keys cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``), support [-2, 2]."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


def _weight_matrix(
    in_len: int, out_len: int, scale: float, antialias: bool, device: torch.device
) -> Tensor:
    """Dense ``(out_len, in_len)`` float64 resize matrix of one dimension (``contributions``).

    Row ``o`` holds the normalised weights of output pixel ``o``; taps that fall outside the image
    are folded back by symmetric padding and added to the pixel they land on.
    """
    stretch = antialias and scale < 1
    kernel_width = 4.0 / scale if stretch else 4.0
    x = torch.arange(1, out_len + 1, dtype=torch.float64, device=device)  # 1-based output pixels
    u = x / scale + 0.5 * (1 - 1 / scale)  # (out,) 1-based input coordinate
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64, device=device)  # (out, P)
    dist = u[:, None] - idx
    weights = scale * _cubic(scale * dist) if stretch else _cubic(dist)
    weights = weights / weights.sum(dim=1, keepdim=True)  # (out, P)
    # symmetric padding: 0-based index into [x0..x(n-1), x(n-1)..x0], repeated
    period = 2 * in_len
    m = (idx.long() - 1) % period
    idx0 = torch.where(m < in_len, m, period - 1 - m)  # (out, P) in [0, in_len)
    matrix = torch.zeros(out_len, in_len, dtype=torch.float64, device=device)
    return matrix.scatter_add_(1, idx0, weights)


def _imresize64(x: Tensor, scale, size, antialias: bool, matlab_uint8: bool = False) -> Tensor:
    """``(B, C, H, W)`` float64 -> ``(B, C, h, w)`` float64; the two 1-D passes of MATLAB.

    With ``matlab_uint8`` each pass is followed by MATLAB's cast to ``uint8`` (saturate, round
    half away from zero), which makes the result bit-exact with MATLAB on ``uint8`` images.
    """
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of scale or size")
    in_h, in_w = x.shape[-2:]
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        scale_h, scale_w = out_h / in_h, out_w / in_w
    else:
        scale_h, scale_w = (scale, scale) if np.ndim(scale) == 0 else scale
        scale_h, scale_w = float(scale_h), float(scale_w)
        out_h, out_w = math.ceil(in_h * scale_h), math.ceil(in_w * scale_w)
    if min(scale_h, scale_w, out_h, out_w) <= 0:
        raise ValueError(f"scale and size must be positive, got scale={scale}, size={size}")
    if scale_h <= scale_w:  # MATLAB resizes the dimension with the smaller scale first
        passes = [("h", in_h, out_h, scale_h), ("w", in_w, out_w, scale_w)]
    else:
        passes = [("w", in_w, out_w, scale_w), ("h", in_h, out_h, scale_h)]
    for dim, n_in, n_out, s in passes:
        if s == 1 and n_in == n_out:
            continue
        m = _weight_matrix(n_in, n_out, s, antialias, x.device)  # (n_out, n_in)
        x = m @ x if dim == "h" else x @ m.T  # (B, C, n_out, W) or (B, C, H, n_out)
        if matlab_uint8:
            x = torch.floor(x.clamp(0, 255) + 0.5)
    return x


def imresize(
    img: Tensor,
    scale: float | tuple[float, float] | None = None,
    *,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> Tensor:
    """MATLAB-compatible bicubic resize (see the module docstring for the exact definition).

    Computed in float64 and cast back to the input dtype; works on any device. No clamping or
    rounding is applied: quantize the result yourself if you need 8-bit values.

    Args:
        img: ``(B, C, H, W)`` or ``(C, H, W)`` float image.
        scale: Scale factor, or ``(scale_h, scale_w)``. Output size is ``ceil(in * scale)``.
        size: Output ``(h, w)``, instead of ``scale``.
        antialias: Stretch the kernel when shrinking (MATLAB's default ``true``).

    Returns:
        The resized image, same rank, dtype and device as ``img``.
    """
    if not img.is_floating_point():
        raise TypeError(f"imresize expects a floating point image, got {img.dtype}")
    x, squeezed = _as_4d(img)
    out = _imresize64(x.to(torch.float64), scale, size, antialias).to(img.dtype)
    return out[0] if squeezed else out


def imresize_np(
    arr: np.ndarray,
    scale: float | tuple[float, float] | None = None,
    *,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """:func:`imresize` for a numpy ``(H, W)`` or ``(H, W, C)`` image.

    A ``uint8`` image follows MATLAB's integer path (saturate and round after each 1-D pass), so
    the result is bit-exact with MATLAB's ``imresize`` on the same ``uint8`` image.

    Args:
        arr: ``uint8`` image in ``[0, 255]`` or a float image (any range).
        scale, size, antialias: As in :func:`imresize`.

    Returns:
        ``uint8`` for ``uint8`` input, otherwise the input's float dtype (unclamped).
    """
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"imresize_np expects a uint8 or float array, got {arr.dtype}")
    t = torch.from_numpy(np.array(arr, dtype=np.float64))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]  # (1, C, H, W)
    out = _imresize64(t, scale, size, antialias, matlab_uint8=arr.dtype == np.uint8)
    out = out[0].permute(1, 2, 0).numpy()  # (h, w, C)
    out = out[..., 0] if arr.ndim == 2 else out
    return out.astype(arr.dtype)


def mod_crop(img: Tensor, scale: int) -> Tensor:
    """Crops bottom/right so that H and W are multiples of ``scale`` (SR papers' ``modcrop``)."""
    h, w = img.shape[-2:]
    return img[..., : h - h % scale, : w - w % scale]


def bicubic_downscale(gt: Tensor, scale: int) -> Tensor:
    """The "BI" protocol of SR papers: ``imresize(modcrop(gt, scale), 1/scale)`` (antialiased).

    Args:
        gt: ``(B, C, H, W)`` or ``(C, H, W)`` image.
        scale: Integer downscaling factor (2, 3, 4, ...).

    Returns:
        ``lq`` of size ``(H // scale, W // scale)``, not quantized.
    """
    gt = mod_crop(gt, scale)
    h, w = gt.shape[-2:]
    # size= avoids ceil(H * (1/scale)) rounding up on float error; the weights use out/in == 1/scale
    return imresize(gt, size=(h // scale, w // scale))


# ---- OpenCV / torch resizes ----------------------------------------------------------------------


def bilinear_resize_cv2(img: Tensor, size: tuple[int, int]) -> Tensor:
    """``cv2.resize(..., interpolation=cv2.INTER_LINEAR)`` per image (no antialias when shrinking).

    The night2day setup makes its 64x64 ``lq`` from 256x256 ``gt`` this way.

    Args:
        img: ``(B, C, H, W)`` or ``(C, H, W)`` image.
        size: Output ``(h, w)`` (note: OpenCV itself takes ``(w, h)``).

    Returns:
        The resized image on ``img``'s device, same dtype.
    """
    h, w = size
    f32 = img.to(torch.float32)
    out = _map_numpy(f32, lambda a: cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR))
    return out.to(img.device, img.dtype)


def nearest_upsample(img: Tensor, scale: int) -> Tensor:
    """Integer nearest-neighbour upsampling (each pixel becomes a ``scale x scale`` block)."""
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    x, squeezed = _as_4d(img)
    out = F.interpolate(x, scale_factor=scale, mode="nearest")
    return out[0] if squeezed else out


# ---- Gaussian blur ("BD" degradation) ------------------------------------------------------------


def gaussian_kernel2d(size: int, sigma: float, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Isotropic ``(size, size)`` Gaussian kernel on the CPU, normalised to sum to 1.

    Args:
        size: Odd kernel side.
        sigma: Standard deviation in pixels, > 0.
        dtype: Output dtype.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd int, got {size}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r * r) / (2 * sigma * sigma))
    k = torch.outer(g, g)
    return (k / k.sum()).to(dtype)


def gaussian_blur(
    img: Tensor, sigma: float | Tensor, size: int | None = None, *, padding: str = "reflect"
) -> Tensor:
    """Depthwise Gaussian blur.

    Args:
        img: ``(B, C, H, W)`` or ``(C, H, W)`` image.
        sigma: One sigma, or a ``(B,)`` tensor with one sigma per image.
        size: Odd kernel side; default ``2 * ceil(3 * max(sigma)) + 1``.
        padding: ``F.pad`` mode: ``"reflect"`` (default), ``"replicate"`` (MATLAB ``imfilter``'s
            ``'replicate'``, used by RDN's BD script) or ``"circular"``.
    """
    x, squeezed = _as_4d(img)
    b, c, h, w = x.shape
    sig = _per_image(sigma, b, "sigma")
    if size is None:
        size = 2 * math.ceil(3 * float(sig.max())) + 1
    kernels = torch.stack(
        [gaussian_kernel2d(size, float(s), dtype=x.dtype) for s in sig]
    )  # (B, k, k)
    weight = kernels.repeat_interleave(c, dim=0)[:, None].to(x.device)  # (B*C, 1, k, k)
    p = size // 2
    xp = F.pad(x.reshape(1, b * c, h, w), (p, p, p, p), mode=padding)  # (1, B*C, H+2p, W+2p)
    out = F.conv2d(xp, weight, groups=b * c).reshape(b, c, h, w)
    return out[0] if squeezed else out


def blur_downscale(
    gt: Tensor,
    scale: int,
    sigma: float | None = None,
    *,
    size: int | None = None,
    padding: str = "reflect",
    generator: torch.Generator | None = None,
    sigma_range: tuple[float, float] | None = None,
) -> Tensor:
    """The "BD" degradation: Gaussian blur, then :func:`bicubic_downscale`.

    RDN (Zhang et al. 2018) uses ``size=7, sigma=1.6, padding="replicate"`` at scale 3.

    Args:
        gt: ``(B, C, H, W)`` or ``(C, H, W)`` image.
        scale: Integer downscaling factor.
        sigma: Fixed blur sigma; give this or ``sigma_range``.
        size: Kernel side; default from ``sigma`` (or from the top of ``sigma_range``, so the kernel
            size does not depend on the draw).
        padding: Border mode of the blur, see :func:`gaussian_blur`.
        generator: Required with ``sigma_range``.
        sigma_range: ``(a, b)``: draw one sigma per image from ``U[a, b]`` with ``generator``.
    """
    if (sigma is None) == (sigma_range is None):
        raise ValueError("give exactly one of sigma or sigma_range")
    if sigma_range is not None:
        if generator is None:
            raise ValueError("sigma_range needs an explicit generator")
        lo, hi = sigma_range
        batch = gt.shape[0] if gt.dim() == 4 else 1
        u = torch.rand(batch, generator=generator, dtype=torch.float64, device=generator.device)
        sigma = lo + (hi - lo) * u.cpu()
        size = size if size is not None else 2 * math.ceil(3 * hi) + 1
    return bicubic_downscale(gaussian_blur(gt, sigma, size, padding=padding), scale)


# ---- Noise, JPEG, quantization -------------------------------------------------------------------


def add_gaussian_noise(img: Tensor, sigma: float | Tensor, *, generator: torch.Generator) -> Tensor:
    """Adds i.i.d. Gaussian noise (not clamped).

    Args:
        img: ``(B, C, H, W)`` or ``(C, H, W)`` image.
        sigma: Noise std in ``[0, 1]`` units (``25/255`` for "sigma 25"), a scalar or ``(B,)``.
        generator: Source of the noise; the noise is drawn on ``generator.device``.
    """
    x, squeezed = _as_4d(img)
    sig = _per_image(sigma, x.shape[0], "sigma")
    if (sig < 0).any():
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=generator.device)
    out = x + noise.to(x.device) * sig.to(x.device, x.dtype).view(-1, 1, 1, 1)
    return out[0] if squeezed else out


def jpeg(img: Tensor, quality: int) -> Tensor:
    """JPEG round trip through OpenCV (``cv2.imencode`` / ``cv2.imdecode``, 4:2:0 chroma).

    The image is quantized to ``uint8`` first, so the result lies on the 8-bit grid.

    Args:
        img: ``(B, C, H, W)`` or ``(C, H, W)`` RGB (C=3) or grey (C=1) image.
        quality: OpenCV JPEG quality, an int in ``[0, 100]``.
    """
    if (
        isinstance(quality, bool)
        or not isinstance(quality, int | np.integer)
        or not 0 <= quality <= 100
    ):
        raise ValueError(f"quality must be an int in [0, 100], got {quality!r}")
    if img.shape[-3] not in (1, 3):
        raise ValueError(f"jpeg needs 1 or 3 channels, got {img.shape[-3]}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]

    def round_trip(a: np.ndarray) -> np.ndarray:  # (H, W, C) uint8 RGB
        a = a[..., 0] if a.shape[-1] == 1 else cv2.cvtColor(a, cv2.COLOR_RGB2BGR)  # OpenCV is BGR
        ok, buf = cv2.imencode(".jpg", a, params)
        if not ok:
            raise RuntimeError("cv2.imencode failed")
        d = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        return d if d.ndim == 2 else cv2.cvtColor(d, cv2.COLOR_BGR2RGB)

    u8 = (img.clamp(0, 1) * 255).round().to(torch.uint8)
    return _map_numpy(u8, round_trip).to(img.device, img.dtype) / 255


def quantize(img: Tensor) -> Tensor:
    """Rounds to the 8-bit grid: ``round(clamp(x, 0, 1) * 255) / 255`` (what saving a PNG does)."""
    return (img.clamp(0, 1) * 255).round() / 255
