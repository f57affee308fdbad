"""Upscaling images of any size: tiled inference with bounded memory, seam measurement, and ``srlib upscale``.

Two tilings (both run tiles through the network in batches and never hold more than one tile row of outputs):

* ``faithful``: the modified-SRGAN seed's (``loadh5baend.py``): the input is padded bottom/right with white
  (1.0) to a multiple of the tile (64 px), cut into tiles **without overlap**, and the outputs are stitched. Every
  tile border is a place where the network saw mirrored (reflect padding) or zero context instead of the real
  neighbours, so borders can show. (The seed also shrinks inputs larger than 512 px to fit its RAM; not kept.)
* ``blend``: tiles of at most ``tile`` px spread evenly with at least ``overlap`` px of overlap; each output tile is
  weighted by a separable feathered window -- 0 over the outer quarter of each overlap (where the tile's own border
  effects live), a linear ramp over the middle half, 1 inside -- and the weighted sum is normalised. With an overlap
  of 4x the network's effective border reach the result equals untiled inference up to float round-off.

Memory: the input stays in its integer type (uint8 / uint16); each tile is converted to float when it is cut.
Outputs are accumulated in a float32 band of one tile row (``3 x tile*scale x W*scale``) plus its weights; finished
rows are handed to a *sink*. :func:`upscale_file` streams them into a PNG (:class:`PNGWriter`), so peak memory is the
input, one band and one batch of tiles -- independent of the output size. :func:`upscale_array` (and TIFF output, and
post-processing, which needs the whole image) also holds the whole output array.

Precision: ``auto`` uses bf16 (or fp16) autocast on CUDA where supported and fp32 on the CPU; a reduced-precision
batch whose output is not finite is recomputed in fp32 (fp16 overflow gives black or NaN tiles otherwise). An fp32
output that is still not finite raises ``ValueError`` (corrupt weights would otherwise be written as black images).

Files: :func:`read_image` / :func:`write_image` keep grey, grey+alpha, RGB and RGBA, 8 and 16 bits, and
:func:`read_image` applies the EXIF orientation. Colour goes through the network (grey is replicated to RGB and
converted back with BT.601 luma weights); alpha is upscaled separately with bicubic interpolation (``cv2.resize``,
band by band with a margin, which equals the whole-image resize), since the network was never trained on it.

The command line (``python -m srlib upscale``) is :mod:`srlib.inference.cli`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from srlib.inference.images import PNGWriter, write_image

MODES = ("blend", "faithful")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
SEED_TILE = 64
_LUMA = (0.299, 0.587, 0.114)  # BT.601 weights, as PIL's RGB -> L conversion

Sink = Callable[
    [int, torch.Tensor], None
]  # (first HR row, finished rows (3, n, W*scale) float32) -> None


# ---------------------------------------------------------------------------------------------------------------------
# precision


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for fp32 (with a warning when falling back)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return None
    if device.type != "cuda":
        if precision != "auto":
            warnings.warn(
                f"precision {precision} is not used on {device.type}: running in fp32", stacklevel=2
            )
        return None
    bf16_ok = torch.cuda.is_bf16_supported()
    if precision == "auto":
        return torch.bfloat16 if bf16_ok else torch.float16
    if precision == "bf16" and not bf16_ok:
        warnings.warn("this GPU has no bf16 support: running in fp16", stacklevel=2)
        return torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def _run(
    model: nn.Module,
    x: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype | None,
    where: str = "the batch",
) -> torch.Tensor:
    """Model output for a batch, as float32 on the CPU; reduced precision falls back to fp32 if not finite.

    A non-finite fp32 output raises ``ValueError`` naming ``where`` (the tiles): NaN weights or an overflow would
    otherwise be clamped into a black (or white) image that looks like a success.
    """
    x = x.to(device)
    with torch.no_grad():
        if dtype is not None:
            with torch.autocast(device_type=device.type, dtype=dtype):
                y = model(x).float()
            if torch.isfinite(y).all():
                return y.cpu()
            warnings.warn(
                f"non-finite output in {dtype}: recomputing the batch in fp32", stacklevel=3
            )
        y = model(x).float()
        if not torch.isfinite(y).all():
            if not torch.isfinite(x).all():
                raise ValueError(
                    f"the input holds NaN/Inf values in {where}: pass a finite image in [0, 1]"
                )
            raise ValueError(
                f"the model's output is not finite (NaN/Inf) for {where}: the checkpoint's weights are "
                "probably corrupt (or overflow float32)"
            )
        return y.cpu()


# ---------------------------------------------------------------------------------------------------------------------
# tile layout and windows


def spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, end)`` of equal tiles (<= ``tile``) covering ``[0, length)`` evenly, overlapping by >= ``overlap``.

    ``n = ceil((length - overlap) / (tile - overlap))`` tiles of size ``ceil((length + (n-1) overlap) / n)``: the
    fewest tiles that fit, shrunk to spread the overlap evenly instead of stacking the slack on the last one.
    """
    if tile <= 0 or length <= tile:
        return [(0, length)]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap} tile={tile}")
    n = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (n - 1) * overlap) / n)
    return [(s, s + size) for s in (round(i * (length - size) / (n - 1)) for i in range(n))]


def _ramp(n: int, overlap: int) -> torch.Tensor:
    """Rising edge over ``overlap`` px for an axis of ``n`` px: 0 on the first quarter, linear, 1 from 3/4 on."""
    x = torch.arange(n, dtype=torch.float32) + 0.5
    if overlap <= 0:
        return torch.ones(n)
    return ((x - overlap / 4) / (overlap / 2)).clamp(0, 1)


def axis_window(n: int, overlap_before: int, overlap_after: int) -> torch.Tensor:
    """1-D feather window of a tile: ramps only where it overlaps a neighbour (none at the image border)."""
    return _ramp(n, overlap_before) * _ramp(n, overlap_after).flip(0)


def _overlaps(sp: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(overlap with the previous tile, overlap with the next) for each span."""
    out = []
    for i, (a, b) in enumerate(sp):
        before = sp[i - 1][1] - a if i > 0 else 0
        after = b - sp[i + 1][0] if i + 1 < len(sp) else 0
        out.append((max(before, 0), max(after, 0)))
    return out


def layout(
    h: int, w: int, *, tile: int, overlap: int, mode: str
) -> tuple[list, list, tuple[int, int]]:
    """Row spans, column spans and the padded input size ``(H', W')`` of a tiling (``tile=0``: one tile)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "faithful":
        if tile <= 0:
            raise ValueError("faithful tiling needs tile > 0 (the seed uses 64)")
        hp, wp = math.ceil(h / tile) * tile, math.ceil(w / tile) * tile
        return (
            [(y, y + tile) for y in range(0, hp, tile)],
            [(x, x + tile) for x in range(0, wp, tile)],
            (hp, wp),
        )
    return spans(h, tile, overlap), spans(w, tile, overlap), (h, w)


def seam_lines(
    h: int, w: int, *, scale: int, tile: int, overlap: int, mode: str
) -> tuple[list[int], list[int]]:
    """HR rows / columns where a tiling switches from one tile to the next (the line is between ``i - 1`` and ``i``).

    ``faithful``: the tile borders. ``blend``: the middle of each overlap, where the weights cross 1/2.
    """
    ys, xs, _ = layout(h, w, tile=tile, overlap=overlap, mode=mode)

    def lines(sp, limit):
        if mode == "faithful":
            return [a * scale for a, _ in sp[1:] if a * scale < limit]
        return [round((sp[i + 1][0] + sp[i][1]) * scale / 2) for i in range(len(sp) - 1)]

    return lines(ys, h * scale), lines(xs, w * scale)


def seam_score(img: torch.Tensor, ys: list[int], xs: list[int]) -> float:
    """Mean |jump| across the given seam lines divided by the mean |difference| of all other neighbour pairs.

    About 1 when the lines are not special (no seam); well above 1 when tile borders show. ``img``: ``(C, H, W)``
    or ``(B, C, H, W)``; the lines are HR indices (line ``i`` is between rows/columns ``i - 1`` and ``i``). NaN when
    there are no lines.
    """
    img = img.double()
    dy = (img[..., 1:, :] - img[..., :-1, :]).abs()  # row r holds the jump across line r + 1
    dx = (img[..., :, 1:] - img[..., :, :-1]).abs()
    my = torch.zeros(dy.shape[-2], dtype=torch.bool)
    mx = torch.zeros(dx.shape[-1], dtype=torch.bool)
    my[[y - 1 for y in ys if 0 < y < img.shape[-2]]] = True
    mx[[x - 1 for x in xs if 0 < x < img.shape[-1]]] = True
    n_seam = int(my.sum()) * dy[..., 0, :].numel() + int(mx.sum()) * dx[..., :, 0].numel()
    if n_seam == 0:
        return float("nan")
    seam = dy[..., my, :].sum() + dx[..., :, mx].sum()
    rest = dy[..., ~my, :].sum() + dx[..., :, ~mx].sum()
    n_rest = dy.numel() + dx.numel() - n_seam
    return float((seam / n_seam) / (rest / max(n_rest, 1)).clamp_min(1e-12))


# ---------------------------------------------------------------------------------------------------------------------
# the tiled forward pass


def model_scale(model: nn.Module) -> int:
    scale = getattr(model, "scale", None)
    if not isinstance(scale, int):
        raise ValueError("the model has no integer `scale` attribute; pass scale= explicitly")
    return scale


def upscale(
    model: nn.Module,
    lq: torch.Tensor,
    *,
    scale: int | None = None,
    tile: int = 256,
    overlap: int = 32,
    mode: str = "blend",
    batch_size: int = 0,
    device: torch.device | str = "cpu",
    precision: str = "auto",
    sink: Sink | None = None,
    on_tiles: Callable[[int], None] | None = None,
    max_value: float | None = None,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor | None:
    """Run ``model`` over ``lq`` tile by tile; return the ``(3, s*H, s*W)`` float32 output (None with a ``sink``).

    Args:
        model: an SR network in eval mode (``model.scale`` gives the factor unless ``scale`` is passed).
        lq: ``(3, H, W)`` image, float in [0, 1] or integer (uint8 / uint16, or any integer type with ``max_value``);
            any size and any strides (an expanded grey view is fine); kept on the CPU as it is: each tile is
            converted to float (``tile / max_value``) when it is cut, so no float copy of the whole input is made.
        tile: tile side in input pixels (``0``: the whole image in one pass).
        overlap: minimum overlap of neighbouring tiles in input pixels (``blend`` only).
        mode: ``blend`` (overlap + feathered weights) or ``faithful`` (the seed's 64-px tiles, no overlap).
        batch_size: tiles per forward pass; ``0`` picks as many as fit in 256x256 input pixels.
        precision: ``auto | fp32 | fp16 | bf16`` (see module docstring).
        sink: receives finished output rows ``(first_row, (3, n, s*W) float32)`` (a buffer that is reused: copy or
            convert it, do not keep it); then nothing is returned.
        on_tiles: called with the number of tiles after each batch (progress bars).
        max_value: the value of white in ``lq`` (default: 255 for uint8, 65535 for uint16, 1 for floats).
        prepare: applied to each float tile (real pixels only, before the white padding of ``faithful``), e.g. the
            seed's input stretch with the whole image's min / max (see :func:`upscale_array`).
    """
    if lq.ndim != 3 or lq.shape[0] != 3:
        raise ValueError(f"upscale expects a (3, H, W) image, got {tuple(lq.shape)}")
    maxv = _tensor_max_value(lq) if max_value is None else float(max_value)
    scale = scale or model_scale(model)
    device = torch.device(device)
    dtype = autocast_dtype(precision, device)
    model = model.to(device)  # a no-op when it is there already
    h, w = lq.shape[-2:]
    ys, xs, (hp, wp) = layout(h, w, tile=tile, overlap=overlap if mode == "blend" else 0, mode=mode)
    H, W = h * scale, w * scale
    out = None
    if sink is None:
        out = torch.empty(3, H, W)

        def sink(row0: int, rows: torch.Tensor) -> None:
            out[:, row0 : row0 + rows.shape[1]] = rows

    th = max(b - a for a, b in ys)
    if batch_size <= 0:
        batch_size = max(1, (256 * 256) // (th * max(b - a for a, b in xs)))
    band_h = th * scale
    acc = torch.zeros(3, band_h, wp * scale)
    wacc = torch.zeros(band_h, wp * scale)
    x_windows = [
        axis_window((b - a) * scale, ob * scale, oa * scale)
        for (a, b), (ob, oa) in zip(xs, _overlaps(xs))
    ]
    blend = mode == "blend"
    band_top = 0  # HR row of acc[:, 0]
    for i, ((y0, y1), (ob, oa)) in enumerate(zip(ys, _overlaps(ys))):
        y_win = axis_window((y1 - y0) * scale, ob * scale, oa * scale)
        r0 = y0 * scale - band_top  # where this tile row starts inside the band
        for j0 in range(0, len(xs), batch_size):
            cols = list(range(j0, min(j0 + batch_size, len(xs))))
            batch = torch.stack([_cut(lq, y0, y1, *xs[j], maxv, prepare) for j in cols])
            where = (
                f"the tile{'s' if len(cols) > 1 else ''} at input rows {y0}-{y1}, "
                f"columns {xs[cols[0]][0]}-{xs[cols[-1]][1]}"
            )
            res = _run(model, batch, device, dtype, where)  # (b, 3, s*th, s*tw)
            for k, j in enumerate(cols):
                c0, c1 = xs[j][0] * scale, xs[j][1] * scale
                if blend:
                    win = y_win[:, None] * x_windows[j][None, :]
                    acc[:, r0 : r0 + res.shape[-2], c0:c1] += res[k] * win
                    wacc[r0 : r0 + res.shape[-2], c0:c1] += win
                else:
                    acc[:, r0 : r0 + res.shape[-2], c0:c1] = res[k]
                    wacc[r0 : r0 + res.shape[-2], c0:c1] = 1.0
            if on_tiles is not None:
                on_tiles(len(cols))
        # rows above the next tile row's start are final: normalise, hand over, shift the rest up
        done = (ys[i + 1][0] * scale if i + 1 < len(ys) else y1 * scale) - band_top
        keep = r0 + (y1 - y0) * scale - done
        acc[:, :done].div_(wacc[:done].clamp_min_(1e-8))  # in place: no band-sized temporaries
        n_out = min(done, H - band_top)
        for c0 in range(
            0, max(n_out, 0), 256
        ):  # hand over in slices of 256 rows (bounded sink temporaries)
            sink(band_top + c0, acc[:, c0 : min(c0 + 256, n_out), :W].contiguous())
        acc[:, :keep] = acc[:, done : done + keep].clone()
        wacc[:keep] = wacc[done : done + keep].clone()
        acc[:, keep:] = 0
        wacc[keep:] = 0
        band_top += done
    return out


def _tensor_max_value(lq: torch.Tensor) -> float:
    """White for a tensor's dtype: 255 (uint8), 65535 (uint16), 1 (float); other types need ``max_value``."""
    if lq.dtype == torch.uint8:
        return 255.0
    if lq.dtype == torch.uint16:
        return 65535.0
    if lq.is_floating_point():
        return 1.0
    raise ValueError(
        f"upscale: pass max_value= for a {lq.dtype} input (uint8, uint16 and floats are known)"
    )


def _cut(
    lq: torch.Tensor,
    y0: int,
    y1: int,
    x0: int,
    x1: int,
    maxv: float,
    prepare: Callable[[torch.Tensor], torch.Tensor] | None,
) -> torch.Tensor:
    """Float tile ``[y0:y1, x0:x1]`` of ``lq`` in [0, 1]; the part outside the image (``faithful`` padding) is white.

    The seed pads bottom/right with white (``np.pad(constant_values=1)``) before cutting; padding each tile gives the
    same pixels without a padded copy of the input. ``contiguous_format``: the network sees the same memory layout
    (hence the same float round-off) whatever the strides of ``lq``.
    """
    h, w = lq.shape[-2:]
    part = lq[:, y0 : min(y1, h), x0 : min(x1, w)]
    part = part.to(torch.float32, memory_format=torch.contiguous_format, copy=True).div_(maxv)
    if prepare is not None:
        part = prepare(part)
    if part.shape[-2:] == (y1 - y0, x1 - x0):
        return part
    tile = torch.ones(3, y1 - y0, x1 - x0, device=part.device)
    tile[:, : part.shape[-2], : part.shape[-1]] = part
    return tile


def upscaler(
    model: nn.Module,
    *,
    tile: int = 256,
    overlap: int = 32,
    mode: str = "blend",
    device: torch.device | str = "cpu",
    precision: str = "auto",
):
    """An :data:`srlib.evaluation.Upscaler` (``(1, 3, h, w) -> (1, 3, s*h, s*w)``) running :func:`upscale`."""
    model = model.to(device).eval()
    return lambda lq: upscale(
        model, lq[0], tile=tile, overlap=overlap, mode=mode, device=device, precision=precision
    )[None]


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


Rows = Callable[
    [int, np.ndarray], None
]  # (first output row, finished rows (n, W*scale, C) in the input's dtype)


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
