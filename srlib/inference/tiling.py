"""The tiled forward pass: upscale an image of any size tile by tile, with bounded memory, in the right precision.

:func:`upscale` cuts the input as :mod:`srlib.inference.layout` says (``blend``: overlapping tiles with feathered
weights; ``faithful``: the seed's 64-px tiles), runs the tiles through the network in batches and accumulates the
outputs in a float32 band of one tile row (``3 x tile*scale x W*scale``) plus its weights; finished rows are handed
to a *sink*, so the whole output need never exist in memory (:mod:`srlib.inference.arrays` streams them into a PNG).
The input stays in its integer type (uint8 / uint16); each tile is converted to float when it is cut.

Precision (resolved by :func:`srlib.precision.autocast_dtype`, shared with training): ``auto`` uses bf16 (or fp16)
autocast on CUDA where supported and fp32 on the CPU; a reduced-precision batch whose output is not finite is
recomputed in fp32 (fp16 overflow gives black or NaN tiles otherwise). An fp32 output that is still not finite raises
``ValueError`` (corrupt weights would otherwise be written as black images).

The command line (``python -m srlib upscale``) is :mod:`srlib.inference.cli`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

from srlib.inference.layout import _overlaps, axis_window, layout
from srlib.precision import autocast_dtype

Sink = Callable[
    [int, torch.Tensor], None
]  # (first HR row, finished rows (3, n, W*scale) float32) -> None


# ---------------------------------------------------------------------------------------------------------------------
# precision


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
    if len(ys) == len(xs) == 1 and (hp, wp) == (h, w):
        # one tile, the whole image: its blending weights are all 1, so its output is the result (the same bits,
        # without the band's passes: 1-24 ms, 5-9 % of a 128²-256² SRVGGNetCompact forward)
        where = f"the tile at input rows 0-{h}, columns 0-{w}"
        res = _run(model, _cut(lq, 0, h, 0, w, maxv, prepare)[None], device, dtype, where)[0]
        if on_tiles is not None:
            on_tiles(1)
        if sink is None:
            return res.contiguous()
        for r0 in range(0, H, 256):
            sink(r0, res[:, r0 : r0 + 256].contiguous())
        return None
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
