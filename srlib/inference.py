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

Memory: outputs are accumulated in a float32 band of one tile row (``3 x tile*scale x W*scale``) plus its weights;
finished rows are handed to a *sink* (a float tensor, or a quantising writer into a preallocated uint8/uint16 array),
so peak memory is the input, the output array, one band and one batch of tiles -- independent of image height.

Precision: ``auto`` uses bf16 (or fp16) autocast on CUDA where supported and fp32 on the CPU; a reduced-precision
batch whose output is not finite is recomputed in fp32 (fp16 overflow gives black or NaN tiles otherwise).

Files: :func:`read_image` / :func:`write_image` keep grey, grey+alpha, RGB and RGBA, 8 and 16 bits. Colour goes
through the network (grey is replicated to RGB and converted back with BT.601 luma weights); alpha is upscaled
separately with bicubic interpolation (``cv2.resize``), since the network was never trained on it.

The command line (``python -m srlib upscale``) is :mod:`srlib.upscale_cli`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from srlib.data import ImageReadError

MODES = ("blend", "faithful")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
SEED_TILE = 64
_LUMA = (0.299, 0.587, 0.114)  # BT.601 weights, as PIL's RGB -> L conversion

Sink = Callable[[int, torch.Tensor], None]  # (first HR row, finished rows (3, n, W*scale) float32) -> None


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
            warnings.warn(f"precision {precision} is not used on {device.type}: running in fp32", stacklevel=2)
        return None
    bf16_ok = torch.cuda.is_bf16_supported()
    if precision == "auto":
        return torch.bfloat16 if bf16_ok else torch.float16
    if precision == "bf16" and not bf16_ok:
        warnings.warn("this GPU has no bf16 support: running in fp16", stacklevel=2)
        return torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def _run(model: nn.Module, x: torch.Tensor, device: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
    """Model output for a batch, as float32 on the CPU; reduced precision falls back to fp32 if not finite."""
    x = x.to(device)
    with torch.no_grad():
        if dtype is not None:
            with torch.autocast(device_type=device.type, dtype=dtype):
                y = model(x).float()
            if torch.isfinite(y).all():
                return y.cpu()
            warnings.warn(f"non-finite output in {dtype}: recomputing the batch in fp32", stacklevel=3)
        return model(x).float().cpu()


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


def layout(h: int, w: int, *, tile: int, overlap: int, mode: str) -> tuple[list, list, tuple[int, int]]:
    """Row spans, column spans and the padded input size ``(H', W')`` of a tiling (``tile=0``: one tile)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "faithful":
        if tile <= 0:
            raise ValueError("faithful tiling needs tile > 0 (the seed uses 64)")
        hp, wp = math.ceil(h / tile) * tile, math.ceil(w / tile) * tile
        return ([(y, y + tile) for y in range(0, hp, tile)], [(x, x + tile) for x in range(0, wp, tile)], (hp, wp))
    return spans(h, tile, overlap), spans(w, tile, overlap), (h, w)


def seam_lines(h: int, w: int, *, scale: int, tile: int, overlap: int, mode: str) -> tuple[list[int], list[int]]:
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
) -> torch.Tensor | None:
    """Run ``model`` over ``lq`` tile by tile; return the ``(3, s*H, s*W)`` float32 output (None with a ``sink``).

    Args:
        model: an SR network in eval mode (``model.scale`` gives the factor unless ``scale`` is passed).
        lq: ``(3, H, W)`` float image in [0, 1] (any size; kept on the CPU, tiles are moved to ``device``).
        tile: tile side in input pixels (``0``: the whole image in one pass).
        overlap: minimum overlap of neighbouring tiles in input pixels (``blend`` only).
        mode: ``blend`` (overlap + feathered weights) or ``faithful`` (the seed's 64-px tiles, no overlap).
        batch_size: tiles per forward pass; ``0`` picks as many as fit in 256x256 input pixels.
        precision: ``auto | fp32 | fp16 | bf16`` (see module docstring).
        sink: receives finished output rows ``(first_row, (3, n, s*W) float32)`` (a buffer that is reused: copy or
            convert it, do not keep it); then nothing is returned.
        on_tiles: called with the number of tiles after each batch (progress bars).
    """
    if lq.ndim != 3 or lq.shape[0] != 3:
        raise ValueError(f"upscale expects a (3, H, W) image, got {tuple(lq.shape)}")
    scale = scale or model_scale(model)
    device = torch.device(device)
    dtype = autocast_dtype(precision, device)
    model = model.to(device)  # a no-op when it is there already
    h, w = lq.shape[-2:]
    ys, xs, (hp, wp) = layout(h, w, tile=tile, overlap=overlap if mode == "blend" else 0, mode=mode)
    lq = lq.float()
    if (hp, wp) != (h, w):  # the seed pads bottom/right with white (np.pad constant_values=1)
        lq = torch.nn.functional.pad(lq, (0, wp - w, 0, hp - h), value=1.0)
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
    x_windows = [axis_window((b - a) * scale, ob * scale, oa * scale) for (a, b), (ob, oa) in zip(xs, _overlaps(xs))]
    blend = mode == "blend"
    band_top = 0  # HR row of acc[:, 0]
    for i, ((y0, y1), (ob, oa)) in enumerate(zip(ys, _overlaps(ys))):
        y_win = axis_window((y1 - y0) * scale, ob * scale, oa * scale)
        r0 = y0 * scale - band_top  # where this tile row starts inside the band
        for j0 in range(0, len(xs), batch_size):
            cols = list(range(j0, min(j0 + batch_size, len(xs))))
            batch = torch.stack([lq[:, y0:y1, xs[j][0] : xs[j][1]] for j in cols])
            res = _run(model, batch, device, dtype)  # (b, 3, s*th, s*tw)
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
        for c0 in range(0, max(n_out, 0), 256):  # hand over in slices of 256 rows (bounded sink temporaries)
            sink(band_top + c0, acc[:, c0 : min(c0 + 256, n_out), :W].contiguous())
        acc[:, :keep] = acc[:, done : done + keep].clone()
        wacc[:keep] = wacc[done : done + keep].clone()
        acc[:, keep:] = 0
        wacc[keep:] = 0
        band_top += done
    return out


def upscaler(model: nn.Module, *, tile: int = 256, overlap: int = 32, mode: str = "blend",
             device: torch.device | str = "cpu", precision: str = "auto"):
    """An :data:`srlib.evaluate.Upscaler` (``(1, 3, h, w) -> (1, 3, s*h, s*w)``) running :func:`upscale`."""
    model = model.to(device).eval()
    return lambda lq: upscale(model, lq[0], tile=tile, overlap=overlap, mode=mode, device=device,
                              precision=precision)[None]


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


def stretch_30_255(lq: torch.Tensor) -> torch.Tensor:
    """The seed's input quirk: ``cv2.normalize(img, 30, 255, NORM_MINMAX)`` over all channels, then / 255."""
    lo, hi = lq.min(), lq.max()
    return (30 + (lq - lo) * (225 / (hi - lo).clamp_min(1e-12))) / 255


def upscale_array(
    arr: np.ndarray,
    model: nn.Module,
    *,
    stretch_input: bool = False,
    postprocess: str = "",
    radius: float = 0.23,
    max_postprocess_mp: float = 64.0,
    **kwargs,
) -> np.ndarray:
    """Upscale an ``(H, W)`` / ``(H, W, C)`` array (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; uint8, uint16 or
    float in [0, 1]) into a new array of the same layout and dtype. ``kwargs`` go to :func:`upscale`.

    Args:
        stretch_input: the seed's [30, 255] min-max stretch of the input (a quirk; off by default).
        postprocess: :func:`srlib.postprocess.apply_steps` steps (``"match,lowpass,match"``, ``"seed"``); they
            need the whole float output in memory, so outputs above ``max_postprocess_mp`` megapixels are refused.
    """
    from srlib import postprocess as pp

    maxv = max_value(arr.dtype)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"unsupported image shape {arr.shape}")
    c = arr.shape[2]
    gray, alpha = c in (1, 2), c in (2, 4)
    color = arr[..., :1] if gray else arr[..., :3]
    lq = torch.from_numpy(np.ascontiguousarray(color.transpose(2, 0, 1))).float().div_(maxv)
    if gray:
        lq = lq.expand(3, -1, -1)
    net_in = stretch_30_255(lq) if stretch_input else lq
    scale = kwargs.pop("scale", None) or model_scale(model)
    h, w = arr.shape[:2]
    out = np.empty((h * scale, w * scale, c), dtype=arr.dtype)
    luma = torch.tensor(_LUMA).view(3, 1, 1)

    def write(row0: int, rows: torch.Tensor) -> None:
        if gray:
            rows = (rows * luma).sum(0, keepdim=True)
        vals = rows.clamp_(0, 1).mul_(maxv)
        if maxv != 1.0:
            vals = vals.round_()
        out[row0 : row0 + rows.shape[1], :, : (1 if gray else 3)] = vals.permute(1, 2, 0).numpy().astype(arr.dtype)

    steps = pp.parse_steps(postprocess)
    if steps:
        if h * w * scale * scale / 1e6 > max_postprocess_mp:
            raise ValueError(f"post-processing holds the whole output in memory: {h * scale}x{w * scale} is above "
                             f"{max_postprocess_mp:g} MP (raise max_postprocess_mp, or upscale without it)")
        sr = upscale(model, net_in, scale=scale, **kwargs)
        write(0, pp.apply_steps(sr, lq, steps, radius=radius))
    else:
        upscale(model, net_in, scale=scale, sink=write, **kwargs)
    if alpha:
        a = np.ascontiguousarray(arr[..., -1])
        up = cv2.resize(a, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)  # saturates for integer types
        out[..., -1] = np.clip(up, 0, 1) if maxv == 1.0 else up
    return out[..., 0] if c == 1 else out


# ---------------------------------------------------------------------------------------------------------------------
# files


def read_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` fully into ``(H, W)`` / ``(H, W, C)`` uint8 or uint16, RGB(A) order, keeping grey, alpha and
    16 bits. Truncated or non-image files raise :class:`srlib.data.ImageReadError` naming the file."""
    path = Path(path)
    sixteen_color = False
    try:
        with Image.open(path) as im:
            raw = im.tile[0][3] if im.tile else None  # the decoder's raw mode, e.g. "RGB;16B" for a 48-bit PNG
            im.load()  # decodes everything: a truncated file raises here
            mode = im.mode
            if mode in ("RGB", "RGBA") and isinstance(raw, str) and ";16" in raw:
                sixteen_color = True  # PIL has no 16-bit colour mode and would drop 8 bits; re-read with OpenCV
                arr = None
            elif mode.startswith("I;16") or mode == "I":
                arr = np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
            elif mode in ("L", "LA", "RGB", "RGBA"):
                arr = np.asarray(im).copy()
            elif mode in ("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa"):
                has_alpha = mode in ("PA", "La", "RGBa") or "transparency" in im.info
                arr = np.asarray(im.convert("RGBA" if has_alpha else ("L" if mode == "1" else "RGB"))).copy()
            else:
                raise ValueError(f"unsupported image mode {mode!r}")
    except Exception as exc:  # PIL raises several types for truncated / non-image files
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc
    if sixteen_color:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise ImageReadError(f"cannot read image {path}: OpenCV could not decode it")
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return arr


def write_image(arr: np.ndarray, path: str | Path) -> Path:
    """Write an array from :func:`read_image` / :func:`upscale_array` (8 or 16 bit; PNG/TIFF keep both and alpha).

    Written to a temporary file in the same folder and renamed, so a failure never leaves a partial image.
    NB: converts RGB(A) to OpenCV's BGR(A) *in place* to save a copy of a large output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if arr.dtype not in (np.uint8, np.uint16):
        arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 2:  # grey + alpha: OpenCV writes BGRA only
        arr = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)
    if arr.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if arr.shape[2] == 4 else cv2.COLOR_RGB2BGR
        arr = cv2.cvtColor(arr, code, dst=arr)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        if not cv2.imwrite(str(tmp), arr):
            raise OSError(f"OpenCV could not write {path}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
