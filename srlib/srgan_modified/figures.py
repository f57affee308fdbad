"""The report's figures, remade: tile-border seams (zero vs reflect padding), the FFT low-pass, histogram matching.

The seed's report (vTuanpham/SRGAN_Reimplementation_modified) argues with these pictures; notebook 21 draws them for
one benchmark image before it measures the same fixes (:mod:`srlib.srgan_modified.ablation`). The stage-level
functions take the stage config (:class:`~srlib.srgan_modified.config.SRGANModifiedPostprocessConfig`):
:func:`figure_pair`, :func:`padding_outputs`, :func:`padding_seams`, :func:`lowpass_before_after`; the plain figure
functions below them take their arguments.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Circle

from srlib import viz
from srlib.inference import layout, tiling
from srlib.srgan_modified import postprocess
from srlib.srgan_modified.config import SRGANModifiedPostprocessConfig

# ---------------------------------------------------------------------------------------------------------------------
# the stage's figures (notebook 21)


def figure_pair(
    cfg: SRGANModifiedPostprocessConfig, pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]]
) -> tuple[str, torch.Tensor, torch.Tensor]:
    """The ``(name, lq, gt)`` the figures show: ``cfg.figure_image``, or the first pair."""
    return next((p for p in pairs if p[0] == cfg.figure_image), pairs[0])


def padding_outputs(
    cfg: SRGANModifiedPostprocessConfig, g, g_zero, lq: torch.Tensor, *, device="cpu"
) -> dict[str, torch.Tensor]:
    """The report's seam comparison: zero / reflect padding on the seed's tiles, and reflect on blended tiles."""
    return {
        "zero padding, faithful tiles": tiling.upscale(
            g_zero, lq, tile=cfg.tile, mode="faithful", device=device
        ),
        "reflect padding, faithful tiles": tiling.upscale(
            g, lq, tile=cfg.tile, mode="faithful", device=device
        ),
        "reflect padding, blended tiles": tiling.upscale(
            g, lq, tile=cfg.tile, overlap=cfg.overlap, device=device
        ),
    }


def padding_seams(
    cfg: SRGANModifiedPostprocessConfig, name: str, lq: torch.Tensor, outs: dict[str, torch.Tensor]
):
    """:func:`seam_figure` of :func:`padding_outputs`, each scored at its own tiling's seam lines."""
    h, w = lq.shape[-2:]
    lines = layout.seam_lines(h, w, scale=cfg.scale, tile=cfg.tile, overlap=0, mode="faithful")
    blend_lines = layout.seam_lines(
        h, w, scale=cfg.scale, tile=cfg.tile, overlap=cfg.overlap, mode="blend"
    )
    scores = {
        k: layout.seam_score(v.clamp(0, 1), *(lines if "faithful" in k else blend_lines))
        for k, v in outs.items()
    }
    return seam_figure(
        outs, lines, scores=scores, title=f"{name}: tile corner (red ticks: seed tile borders)"
    )


def lowpass_before_after(cfg: SRGANModifiedPostprocessConfig, name: str, net: torch.Tensor):
    """:func:`lowpass_figure` of a network output and its clean FFT low-pass at ``cfg.radius``."""
    before = net.clamp(0, 1)
    return lowpass_figure(
        before,
        postprocess.fft_lowpass(before, radius=cfg.radius),
        radius=cfg.radius,
        title=f"{name}: FFT low-pass, radius {cfg.radius:.0%} of max(H, W)",
    )


def histogram_matching(name: str, lq: torch.Tensor, net: torch.Tensor):
    """:func:`histogram_figure` of a network output matched to its LR input."""
    return histogram_figure(
        lq,
        net.clamp(0, 1),
        postprocess.match_histograms(net, lq),
        title=f"{name}: histogram matching to the LR input",
    )


# ---------------------------------------------------------------------------------------------------------------------
# figures (each returns a Figure)


def seam_figure(
    images: dict[str, torch.Tensor],
    lines: tuple[list[int], list[int]],
    *,
    size: int = 128,
    scores: dict[str, float] | None = None,
    title: str | None = None,
):
    """The same crop (around a tile corner) of several outputs, tile borders marked at the image edge."""
    ys, xs = lines
    first = next(iter(images.values()))
    cy = ys[0] if ys else first.shape[-2] // 2
    cx = xs[0] if xs else first.shape[-1] // 2
    top, left = max(cy - size // 2, 0), max(cx - size // 2, 0)
    fig, axes = plt.subplots(1, len(images), figsize=(3.2 * len(images), 3.6))
    for ax, (name, img) in zip(np.atleast_1d(axes), images.items()):
        ax.imshow(
            viz.to_numpy(img[..., top : top + size, left : left + size]), interpolation="nearest"
        )
        for y in ys:
            if top <= y < top + size:
                ax.plot([-0.5, 6], [y - top - 0.5] * 2, color="red", lw=2)
        for x in xs:
            if left <= x < left + size:
                ax.plot([x - left - 0.5] * 2, [-0.5, 6], color="red", lw=2)
        label = name if not scores else f"{name}\nseam score {scores[name]:.2f}"
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _log_spectrum(img: torch.Tensor) -> np.ndarray:
    gray = img.double().mean(0)
    return torch.log1p(torch.fft.fftshift(torch.fft.fft2(gray)).abs()).numpy()


def lowpass_figure(
    before: torch.Tensor,
    after: torch.Tensor,
    *,
    radius: float = 0.23,
    size: int = 128,
    title: str | None = None,
):
    """Crop and centred log-spectrum before / after the low-pass, with the kept disc drawn on the spectrum."""
    h, w = before.shape[-2:]
    size = min(size, h - 1, w - 1)  # busiest_box pools the (h-1, w-1) gradient map
    top, left = viz.busiest_box(before, size)
    r = int(max(h, w) * radius)
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
    for i, (name, img) in enumerate((("before", before), ("after", after))):
        axes[i].imshow(
            viz.to_numpy(img[..., top : top + size, left : left + size]), interpolation="nearest"
        )
        axes[i].set_title(f"{name} low-pass (crop)")
        axes[2 + i].imshow(_log_spectrum(img), cmap="magma")
        axes[2 + i].add_patch(Circle((w // 2, h // 2), r, fill=False, edgecolor="cyan", lw=1))
        axes[2 + i].set_title(f"log |FFT| {name} (disc r={r})")
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def histogram_figure(
    lq: torch.Tensor, sr: torch.Tensor, matched: torch.Tensor, *, title: str | None = None
):
    """Per-channel histograms of the LR input, the network output and the matched output, plus the three images."""
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (name, img) in zip(
        axes[0], (("LR input", lq), ("network output", sr), ("histogram-matched", matched))
    ):
        ax.imshow(viz.to_numpy(img))
        ax.set_title(name)
        ax.axis("off")
    for c, (ax, color) in enumerate(zip(axes[1], ("red", "green", "blue"))):
        for name, img, style in (
            ("LR input", lq, "-"),
            ("network", sr, ":"),
            ("matched", matched, "--"),
        ):
            hist, edges = np.histogram(
                img[c].clamp(0, 1).numpy(), bins=64, range=(0, 1), density=True
            )
            ax.plot((edges[1:] + edges[:-1]) / 2, hist, style, color=color, label=name)
        ax.set_title(f"{color} channel")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
