"""Tile geometry: how an image is cut into tiles, the feathered blend windows, and where seams can show.

Two tilings (:data:`MODES`):

* ``faithful``: the modified-SRGAN seed's (``loadh5baend.py``): the input is padded bottom/right with white to a
  multiple of the tile (:data:`SEED_TILE` = 64 px), cut into tiles **without overlap**, and the outputs are
  stitched; every tile border is a place where the network saw padding instead of the real neighbours.
* ``blend``: tiles of at most ``tile`` px spread evenly with at least ``overlap`` px of overlap (:func:`spans`);
  each output tile is weighted by a separable feathered window (:func:`axis_window`) -- 0 over the outer quarter
  of each overlap, a linear ramp over the middle half, 1 inside -- and the weighted sum is normalised.

:func:`seam_lines` gives the rows / columns where a tiling switches tiles and :func:`seam_score` how much they show.
"""

from __future__ import annotations

import math

import torch

MODES = ("blend", "faithful")
SEED_TILE = 64


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
