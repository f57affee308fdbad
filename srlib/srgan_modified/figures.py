"""The report's figures, remade: tile-border seams (zero vs reflect padding), the FFT low-pass, histogram matching;
notebook 20's curves and BN figures; and the title tags that say SMOKE and COLLAPSED.

The seed's report (vTuanpham/SRGAN_Reimplementation_modified) argues with these pictures; notebook 21 draws them for
one benchmark image after it has measured the same fixes (:mod:`srlib.srgan_modified.ablation`), so every title can
say whether the network it shows works. The stage-level functions take the stage config
(:class:`~srlib.srgan_modified.config.SRGANModifiedPostprocessConfig`): :func:`figure_pair`, :func:`padding_outputs`,
:func:`padding_seams`, :func:`lowpass_before_after`; notebook 20's take the training config; the plain figure
functions below them take their arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Circle

from srlib import stats, viz
from srlib.inference import layout, tiling
from srlib.srgan_modified import bn, postprocess
from srlib.srgan_modified.config import SRGANModifiedPostprocessConfig

# ---------------------------------------------------------------------------------------------------------------------
# what a title says about the run: SMOKE (plumbing only) and COLLAPSED (the network does not work)

# A network has COLLAPSED when its PSNR-Y gain over bicubic is below -srlib.stats.COLLAPSE_DB = -3.01 dB: its mean
# squared error is then more than twice bicubic's. A working network, even an unconverged one started from scratch,
# stays within a dB or two of bicubic; a flat colour is ~13 dB below.
COLLAPSE_GAIN_DB = -stats.COLLAPSE_DB
SMOKE_PROFILES = viz.SMOKE_PROFILES  # profiles whose numbers check the plumbing only


def collapsed(gain_db: float | None) -> bool:
    """``gain_db`` (PSNR-Y over bicubic) below :data:`COLLAPSE_GAIN_DB`; unknown (None / NaN) is not collapsed."""
    return gain_db is not None and not math.isnan(gain_db) and gain_db < COLLAPSE_GAIN_DB


def collapse_cause(mode: str, gains: Mapping[str, float]) -> str:
    """Why the network collapsed in BN mode ``mode``, when the numbers show it: the same weights work in the other."""
    other = bn.other_mode(mode)
    if not collapsed(gains.get(mode)) or other not in gains or collapsed(gains[other]):
        return ""
    return f"{bn.MODE_LABELS[mode]}; {bn.MODE_LABELS[other]}: {gains[other]:+.1f} dB"


def collapse_note(gain_db: float | None, cause: str = "") -> str:
    """``"COLLAPSED (-10.5 dB vs bicubic; cause)"`` for a collapsed network, else ``""``."""
    if not collapsed(gain_db):
        return ""
    return f"COLLAPSED ({gain_db:+.1f} dB vs bicubic" + (f"; cause: {cause})" if cause else ")")


def title_tag(profile: str, gain_db: float | None = None, cause: str = "") -> str:
    """The suffix every figure / table title of this study carries: `` — SMOKE, COLLAPSED (...)`` (or ``""``)."""
    parts = (["SMOKE"] if profile in SMOKE_PROFILES else []) + [collapse_note(gain_db, cause)]
    parts = [p for p in parts if p]
    return " — " + ", ".join(parts) if parts else ""


def mode_tag(profile: str, mode: str, gains: Mapping[str, float]) -> str:
    """:func:`title_tag` of a network shown in BN mode ``mode``, with the cause when the other mode works."""
    return title_tag(profile, gains.get(mode), collapse_cause(mode, gains))


# ---------------------------------------------------------------------------------------------------------------------
# the stage's figures (notebook 21)


def figure_pair(
    cfg: SRGANModifiedPostprocessConfig, pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]]
) -> tuple[str, torch.Tensor, torch.Tensor]:
    """The ``(name, lq, gt)`` the figures show: ``cfg.figure_image``, or the first pair."""
    return next((p for p in pairs if p[0] == cfg.figure_image), pairs[0])


# panel of the seam figure -> its row in the ablation (whose gain over bicubic labels the panel)
PADDING_PANELS = {
    "zero padding, faithful tiles": "network, zero padding [faithful]",
    "reflect padding, faithful tiles": "network [faithful]",
    "reflect padding, blended tiles": "network [blend]",
}


def padding_outputs(
    cfg: SRGANModifiedPostprocessConfig, g, g_zero, lq: torch.Tensor, *, device="cpu"
) -> dict[str, torch.Tensor]:
    """The report's seam comparison (:data:`PADDING_PANELS`): zero / reflect padding on the seed's tiles, and reflect
    on blended tiles; each network in its own BN mode (the stage's)."""
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
    cfg: SRGANModifiedPostprocessConfig,
    name: str,
    lq: torch.Tensor,
    outs: dict[str, torch.Tensor],
    gains: Mapping[str, float] | None = None,
):
    """:func:`seam_figure` of :func:`padding_outputs`, each scored at its own tiling's seam lines.

    ``gains``: ablation row -> PSNR-Y gain over bicubic (:func:`srlib.srgan_modified.ablation.gains`); a collapsed
    panel says so under its name, and the title carries :func:`title_tag` of the untiled network.
    """
    gains = gains or {}
    h, w = lq.shape[-2:]
    lines = layout.seam_lines(h, w, scale=cfg.scale, tile=cfg.tile, overlap=0, mode="faithful")
    blend_lines = layout.seam_lines(
        h, w, scale=cfg.scale, tile=cfg.tile, overlap=cfg.overlap, mode="blend"
    )
    scores = {
        k: layout.seam_score(v.clamp(0, 1), *(lines if "faithful" in k else blend_lines))
        for k, v in outs.items()
    }
    notes = {k: collapse_note(gains.get(PADDING_PANELS.get(k, ""))) for k in outs}
    return seam_figure(
        outs,
        lines,
        scores=scores,
        notes=notes,
        title=f"{name}: tile corner (red ticks: seed tile borders), BN {bn.MODE_LABELS[cfg.bn_inference]}"
        + title_tag(cfg.profile, gains.get("network")),
    )


def lowpass_before_after(
    cfg: SRGANModifiedPostprocessConfig, name: str, net: torch.Tensor, tag: str = ""
):
    """:func:`lowpass_figure` of a network output and its clean FFT low-pass at ``cfg.radius``; ``tag`` ends the
    title (:func:`title_tag`)."""
    before = net.clamp(0, 1)
    return lowpass_figure(
        before,
        postprocess.fft_lowpass(before, radius=cfg.radius),
        radius=cfg.radius,
        title=f"{name}: FFT low-pass, radius {cfg.radius:.0%} of max(H, W){tag}",
    )


def histogram_matching(name: str, lq: torch.Tensor, net: torch.Tensor, tag: str = ""):
    """:func:`histogram_figure` of a network output matched to its LR input; ``tag`` ends the title."""
    return histogram_figure(
        lq,
        net.clamp(0, 1),
        postprocess.match_histograms(net, lq),
        title=f"{name}: histogram matching to the LR input{tag}",
    )


# ---------------------------------------------------------------------------------------------------------------------
# notebook 20's figures: both BN modes of both paddings, and where the moving statistics go wrong


def curve_label(padding: str, mode: str, values: pd.Series) -> str:
    """Legend entry of one validation curve: which network, which BN mode, COLLAPSED at its last value."""
    last = values.dropna()
    note = collapse_note(float(last.iloc[-1])) if len(last) else ""
    return f"{padding} padding, {bn.MODE_LABELS[mode]}" + (f": {note}" if note else "")


def gain_curves(
    frames: Mapping[str, pd.DataFrame], mode: str, *, title: str, column: str = "val_gain_db"
):
    """Validation gain over bicubic of each network (``{padding: history frame}``) in both BN modes.

    ``mode`` is the stage's: the history's ``column`` holds it, ``column_<other mode>`` the other mode.
    """
    other = bn.other_mode(mode)
    curves = None
    for padding, frame in frames.items():
        for m, col in ((mode, column), (other, f"{column}_{other}")):
            if col not in frame:
                continue
            sub = frame[["step", col]].dropna()
            sub = sub.rename(columns={col: curve_label(padding, m, sub[col])})
            curves = sub if curves is None else curves.merge(sub, on="step", how="outer")
    cols = [c for c in curves.columns if c != "step"]
    return viz.learning_curve(
        curves.sort_values("step"),
        cols,
        ylabel="PSNR-Y gain over bicubic [dB]",
        hline=0.0,
        hline_label="bicubic",
        title=title,
    )


def bn_offset_figure(offsets: Mapping[str, Mapping[str, float]], *, title: str):
    """Per-BN-layer offset of the moving statistics (:func:`srlib.srgan_modified.bn.bn_offsets`), one line each."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for label, per_layer in offsets.items():
        ax.plot(range(len(per_layer)), list(per_layer.values()), marker="o", ms=3, label=label)
    names = list(next(iter(offsets.values())))
    ax.set_xticks(range(len(names)), names, rotation=75, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel(r"mean over channels of $|\mu_c(x) - \bar\mu_c| \,/\, \bar\sigma_c$")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------------------
# figures (each returns a Figure)


def seam_figure(
    images: dict[str, torch.Tensor],
    lines: tuple[list[int], list[int]],
    *,
    size: int = 128,
    scores: dict[str, float] | None = None,
    notes: dict[str, str] | None = None,
    title: str | None = None,
):
    """The same crop (around a tile corner) of several outputs, tile borders marked at the image edge.

    ``notes``: an extra line under a panel's name (e.g. its COLLAPSED note)."""
    ys, xs = lines
    first = next(iter(images.values()))
    cy = ys[0] if ys else first.shape[-2] // 2
    cx = xs[0] if xs else first.shape[-1] // 2
    top, left = max(cy - size // 2, 0), max(cx - size // 2, 0)
    fig, axes = plt.subplots(1, len(images), figsize=(3.2 * len(images), 3.6 + 0.3 * bool(notes)))
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
        if notes and notes.get(name):
            label += f"\n{notes[name]}"
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(
        rect=(0, 0, 1, 0.95) if title else None
    )  # room for the suptitle over 3-line panel titles
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
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), layout="constrained")
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
        ax.set_xlabel(f"{color} value (0-1)")
        ax.set_ylabel("density" if c == 0 else "")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
