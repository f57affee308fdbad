"""Whole images as numpy arrays and files: grey, grey+alpha, RGB, RGBA at 8 / 16 bits through a tiled upscale.

Colour goes through the network (grey is replicated to RGB and converted back with BT.601 luma weights); alpha is
upscaled separately with bicubic interpolation (``cv2.resize``, band by band with a margin, which equals the
whole-image resize), since the network was never trained on it. The input stays in its integer type; each tile is
converted to float when it is cut (:func:`srlib.inference.tiling.upscale`). :func:`upscale_file` streams finished
rows into a PNG (:class:`srlib.inference.images.PNGWriter`), so peak memory is the input, one band of tile rows and
one batch of tiles -- independent of the output size; :func:`upscale_array`, TIFF output and post-processing (which
needs the whole image) hold the whole output array.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from srlib.inference.images import PNGWriter, write_image
from srlib.inference.tiling import model_scale, upscale

Rows = Callable[
    [int, np.ndarray], None
]  # (first output row, finished rows (n, W*scale, C) in the input's dtype)

_LUMA = (0.299, 0.587, 0.114)  # BT.601 weights, as PIL's RGB -> L conversion


# ---------------------------------------------------------------------------------------------------------------------
# numpy images: grey, alpha, 16 bit


def max_value(dtype: np.dtype) -> float:
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    if np.issubdtype(dtype, np.floating):
        return 1.0
    raise ValueError(f"unsupported image dtype {dtype} (uint8, uint16 or float in [0, 1])")


def stretch_30_255(
    lq: torch.Tensor, lo: torch.Tensor | None = None, hi: torch.Tensor | None = None
) -> torch.Tensor:
    """The seed's input quirk: ``cv2.normalize(img, 30, 255, NORM_MINMAX)`` over all channels, then / 255.

    ``lo`` / ``hi``: the min / max to stretch from (default: those of ``lq``); pass the whole image's to stretch
    tile by tile exactly as the whole image.
    """
    lo = lq.min() if lo is None else lo
    hi = lq.max() if hi is None else hi
    return (30 + (lq - lo) * (225 / (hi - lo).clamp_min(1e-12))) / 255


def _alpha_rows(alpha: np.ndarray, scale: int, r0: int, r1: int) -> np.ndarray:
    """Output rows ``[r0, r1)`` of ``cv2.resize(alpha, (W*s, H*s), INTER_CUBIC)``, from a band of input rows.

    Bicubic output row ``R`` reads input rows ``floor((R + 0.5) / s - 0.5) - 1`` to ``... + 2``; a band with a margin of
    3 input rows holds them all, and band-local row ``R - i0*s`` has the same sampling phase as ``R``, so the
    band resize equals the whole-image resize exactly (cv2's border replication only touches the margin, which is
    cut off, or the image's real border). Tested in ``tests/unit/test_image_io.py``.
    """
    h, w = alpha.shape
    i0 = max(r0 // scale - 3, 0)
    i1 = min(-(-r1 // scale) + 3, h)
    up = cv2.resize(
        np.ascontiguousarray(alpha[i0:i1]),
        (w * scale, (i1 - i0) * scale),
        interpolation=cv2.INTER_CUBIC,
    )
    return up[r0 - i0 * scale : r1 - i0 * scale]  # cv2 saturates integer types


def upscale_rows(
    arr: np.ndarray,
    model: nn.Module,
    emit: Rows,
    *,
    stretch_input: bool = False,
    postprocess: str = "",
    radius: float = 0.23,
    max_postprocess_mp: float = 64.0,
    **kwargs,
) -> tuple[int, ...]:
    """Upscale an image array and hand the finished output rows to ``emit`` in order, top to bottom.

    ``arr`` as in :func:`upscale_array`; ``emit(row0, rows)`` gets ``(n, W*s, C)`` arrays of the input's dtype (C = 1
    for grey) that it must copy or write out (they are not kept). Without ``postprocess`` only one band of rows
    exists at a time; returns the output shape (as :func:`upscale_array`'s).
    """
    from srlib.srgan_modified import postprocess as pp

    maxv = max_value(arr.dtype)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"unsupported image shape {arr.shape}")
    c = arr.shape[2]
    gray, alpha = c in (1, 2), c in (2, 4)
    n_color = 1 if gray else 3
    # A (C, H, W) view of the colour channels in the input's own integer type: tiles become float when they are
    # cut (upscale's max_value), so the whole image never exists in float32 (4x the memory of uint8).
    lq = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[:n_color]
    if gray:
        lq = lq.expand(3, -1, -1)
    prepare = None
    if (
        stretch_input
    ):  # the stretch uses the whole image's min / max: computed once, applied tile by tile
        color = arr[..., :n_color]  # numpy: torch has no min / max for uint16
        lo = torch.tensor(float(color.min()), dtype=torch.float32).div_(maxv)
        hi = torch.tensor(float(color.max()), dtype=torch.float32).div_(maxv)

        def prepare(t: torch.Tensor) -> torch.Tensor:
            return stretch_30_255(t, lo, hi)

    scale = kwargs.pop("scale", None) or model_scale(model)
    h, w = arr.shape[:2]
    luma = torch.tensor(_LUMA).view(3, 1, 1)

    def write(row0: int, rows: torch.Tensor) -> None:
        n = rows.shape[1]
        if gray:
            rows = (rows * luma).sum(0, keepdim=True)
        vals = rows.clamp_(0, 1).mul_(maxv)
        if maxv != 1.0:
            vals = vals.round_()
        band = np.empty((n, w * scale, c), dtype=arr.dtype)
        band[..., :n_color] = vals.permute(1, 2, 0).numpy().astype(arr.dtype)
        if alpha:
            up = _alpha_rows(arr[..., -1], scale, row0, row0 + n)
            band[..., -1] = np.clip(up, 0, 1) if maxv == 1.0 else up
        emit(row0, band)

    steps = pp.parse_steps(postprocess)
    if steps:
        if h * w * scale * scale / 1e6 > max_postprocess_mp:
            raise ValueError(
                f"post-processing holds the whole output in memory: {h * scale}x{w * scale} is above "
                f"{max_postprocess_mp:g} MP (raise max_postprocess_mp, or upscale without it)"
            )
        lq_float = lq.to(torch.float32, copy=True).div_(
            maxv
        )  # the histogram reference (bounded by the MP limit)
        sr = upscale(model, lq, scale=scale, max_value=maxv, prepare=prepare, **kwargs)
        write(0, pp.apply_steps(sr, lq_float, steps, radius=radius))
    else:
        upscale(model, lq, scale=scale, max_value=maxv, prepare=prepare, sink=write, **kwargs)
    return (h * scale, w * scale) if c == 1 else (h * scale, w * scale, c)


def upscale_array(arr: np.ndarray, model: nn.Module, **kwargs) -> np.ndarray:
    """Upscale an ``(H, W)`` / ``(H, W, C)`` array (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; uint8, uint16 or
    float in [0, 1]) into a new array of the same layout and dtype, held whole in memory.

    Keyword arguments: those of :func:`upscale` plus
        stretch_input: the seed's [30, 255] min-max stretch of the input (a quirk; off by default).
        postprocess: :func:`srlib.srgan_modified.postprocess.apply_steps` steps (``"match,lowpass,match"``, ``"seed"``); they
            need the whole float output in memory, so outputs above ``max_postprocess_mp`` megapixels (default 64)
            are refused.
        radius: the low-pass radius of those steps.
    """
    out = None

    def emit(row0: int, rows: np.ndarray) -> None:
        nonlocal out
        if out is None:
            out = np.empty((h * scale, rows.shape[1], rows.shape[2]), dtype=rows.dtype)
        out[row0 : row0 + rows.shape[0]] = rows

    scale = kwargs.get("scale") or model_scale(model)
    h = arr.shape[0]
    shape = upscale_rows(arr, model, emit, **kwargs)
    return out.reshape(shape)


def upscale_file(
    arr: np.ndarray, model: nn.Module, path: str | Path, *, in_memory: bool = False, **kwargs
) -> tuple[int, ...]:
    """Upscale ``arr`` (as :func:`upscale_array`) into the image file ``path``; returns the output shape.

    A ``.png`` without post-processing is streamed band by band of tile rows (:class:`PNGWriter`): memory holds the
    input and one band, whatever the output size. TIFF, ``postprocess`` (which needs the whole image) or
    ``in_memory=True`` build the whole output array first and write it with :func:`write_image`. Either way the file
    appears only when complete (temporary file + rename); on an error nothing is left behind.
    """
    from srlib.srgan_modified import postprocess as pp

    path = Path(path)
    if in_memory or path.suffix.lower() != ".png" or pp.parse_steps(kwargs.get("postprocess")):
        out = upscale_array(arr, model, **kwargs)
        shape = out.shape
        write_image(out, path)
        return shape
    scale = kwargs.get("scale") or model_scale(model)
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    with PNGWriter(path, arr.shape[1] * scale, arr.shape[0] * scale, channels, arr.dtype) as png:
        return upscale_rows(arr, model, lambda _row0, rows: png.write(rows), **kwargs)
