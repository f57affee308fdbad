"""Figures of the degradation study: the three test degradations, the train x test heat-map, ZSSR's runs."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from srlib import viz
from srlib.data import degradations
from srlib.zssr.matrix import DEGRADATION_NAMES


def degradation_examples(pairs: dict[str, list], *, index: int = 0, title: str = ""):
    """One benchmark image's HR and its LR under each test degradation (nearest-upscaled to the HR's size)."""
    name, _, gt = next(iter(pairs.values()))[index]
    cols = {"HR": gt[None]}
    for d, plist in pairs.items():
        lq = plist[index][1]
        cols[DEGRADATION_NAMES[d]] = degradations.nearest_upsample(
            lq[None], gt.shape[-1] // lq.shape[-1]
        )
    return viz.image_grid(cols, row_labels=[name], title=title or None, size=3.0)


def heatmap(m: pd.DataFrame, *, title: str, unit: str = "dB", highlight: Sequence[str] = ()):
    """The matrix as a heat-map: rows = upscalers, columns = test degradations; each cell's value written in it.

    Colours are per column (each test degradation has its own difficulty): a cell's colour says how it ranks in its
    column, the number says its value. The cells of ``highlight`` rows on the diagonal are outlined.
    """
    values = m.to_numpy(dtype=float)
    lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    shade = (values - lo) / np.where(hi > lo, hi - lo, 1)
    fig, ax = plt.subplots(figsize=(1.9 * m.shape[1] + 2.6, 0.55 * m.shape[0] + 1.4))
    ax.imshow(shade, cmap="viridis", aspect="auto", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            v = values[i, j]
            ax.text(j, i, "" if np.isnan(v) else f"{v:.2f}", ha="center", va="center",
                    color="white" if shade[i, j] < 0.5 else "black", fontsize=9)  # fmt: skip
            if m.index[i] in highlight and m.index[i].endswith(m.columns[j]):
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2))
    ax.set_xticks(
        range(m.shape[1]), [f"test {DEGRADATION_NAMES.get(c, c)}" for c in m.columns], fontsize=8
    )
    ax.set_yticks(range(m.shape[0]), list(m.index), fontsize=8)
    ax.set_title(f"{title} ({unit}; colour ranks within a column)", fontsize=9)
    fig.tight_layout()
    return fig


def crops_row(images: dict[str, torch.Tensor], *, title: str):
    """Named ``(3, H, W)`` outputs side by side (one row)."""
    return viz.image_grid({k: v[None] for k, v in images.items()}, title=title, size=2.6)


def lr_policy(curves: pd.DataFrame, decisions: pd.DataFrame, *, image: str, title: str):
    """One image's reconstruction-test MSE per iteration (what ZSSR's lr policy fits), each training a line, its lr
    divisions marked."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for (test, kernel), c in curves[curves.image == image].groupby(["test", "kernel"], sort=False):
        (line,) = ax.plot(
            c["iter"], c["test_mse"], marker="o", ms=2, label=f"test {test}, kernel {kernel}"
        )
        if len(decisions):
            d = decisions[(decisions.image == image) & (decisions.test == test) & (decisions.kernel == kernel)
                          & (decisions.decision == "divide")]  # fmt: skip
            for it in d["iter"]:
                ax.axvline(it, color=line.get_color(), ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE(input, ZSSR(son of input))")
    ax.set_title(f"{title}\n(dotted: lr divided by 10)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def ablation_bars(per_image: pd.DataFrame, *, title: str):
    """Mean PSNR-Y of each inference variant (self-ensemble, back-projection) per (test, kernel)."""
    wide = per_image.pivot_table(
        index=["test", "kernel"], columns="inference", values="psnr_y", aggfunc="mean"
    )
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    x = np.arange(len(wide))
    width = 0.8 / len(wide.columns)
    for j, col in enumerate(wide.columns):
        ax.bar(x + j * width, wide[col], width, label=col)
    ax.set_xticks(x + 0.4 - width / 2, [f"{t}\n{k}" for t, k in wide.index], fontsize=8)
    lo = np.nanmin(wide.to_numpy())
    ax.set_ylim(lo - 1.0, np.nanmax(wide.to_numpy()) + 0.5)
    ax.set_ylabel("PSNR-Y (dB)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def outputs_grid(outputs: dict[str, dict[str, torch.Tensor]], *, title: str):
    """Rows = photos, columns = upscalers (each photo's outputs at the same size)."""
    names = list(next(iter(outputs.values())))
    cols = {n: torch.stack([outputs[p][n] for p in outputs]) for n in names}
    return viz.image_grid(cols, row_labels=list(outputs), title=title, size=2.6)
