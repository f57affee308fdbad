"""Figures of the ``srgan_train`` stage (notebook 10: one training pair, the learning curves) and of
``srgan_evaluate`` (notebook 11: PSNR-Y per image, zoomed crops of picked images)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import Rectangle

from srlib import paths, tracking, viz
from srlib.data.patches import PairedPatches
from srlib.srgan import perceptual

if TYPE_CHECKING:
    from srlib.srgan.config import SRGANTrainConfig


def training_pair(data: PairedPatches):
    """The first crop of step 1's batch: its LR input (nearest-upscaled) beside the ground truth."""
    lq, gt = data.batch(1)
    lq_big = lq[:1].repeat_interleave(data.scale, -1).repeat_interleave(data.scale, -2)
    return viz.zoom_comparison(
        {f"lq (nearest x{data.scale})": lq_big, "ground truth": gt[:1]},
        size=data.gt_size // 2,
        title="one training pair",
    )


def learning_curves(
    cfg: SRGANTrainConfig, hist_pre: tracking.History, hist_gan: tracking.History
) -> list[Path]:
    """SRResNet's gain over bicubic (validation PSNR-Y) and SRGAN's losses, saved under ``figures/srgan_train/``.

    The SRGAN losses' title names the perceptual network when it is the FID-Inception substitute."""
    pre, gan = hist_pre.to_frame(), hist_gan.to_frame()
    gain = viz.learning_curve(
        pre,
        ["val_gain_db"],
        ylabel="PSNR-Y gain over bicubic [dB]",
        hline=0.0,
        hline_label="bicubic",
        title=f"SRResNet-MSE ({cfg.profile} profile)",
    )
    losses = viz.learning_curve(
        gan,
        ["l_g_percep", "l_g_gan", "l_d_real", "l_d_fake"],
        logy=True,
        title="SRGAN losses" + perceptual.title_tag(cfg.percep_net),
    )
    return [
        viz.save(gain, paths.figure_file(cfg.profile, "srgan_train/srresnet_gain_curve.png")),
        viz.save(losses, paths.figure_file(cfg.profile, "srgan_train/srgan_losses.png")),
    ]


# --------------------------------------------------------------------------------------------------------------
# srgan_evaluate (notebook 11)

MARKERS = ("s", "o", "D", "^", "v")


def per_image_psnr(
    per_image: pd.DataFrame,
    *,
    baseline: str = "bicubic",
    sort_by: str = "srresnet",
    names: Mapping[str, str] | None = None,
    title: str | None = None,
):
    """PSNR-Y per image as a dot plot, one row per image sorted by ``sort_by`` − ``baseline`` (worst at the bottom):
    left every method's PSNR-Y, right each network's difference to the baseline on the same image, with the mean of
    that difference in the legend. The height grows with the images (~0.26 in a row), the width stays 11 in."""
    names = dict(names or {})
    wide = per_image.pivot(index="image", columns="model", values="psnr_y")
    methods = list(dict.fromkeys(per_image.model))
    order = list((wide[sort_by] - wide[baseline]).sort_values(kind="stable").index)
    y = np.arange(len(order))
    fig, (ax_abs, ax_gain) = plt.subplots(
        1, 2, figsize=(11, max(3.6, 0.26 * len(order) + 1.9)), sharey=True, layout="constrained"
    )
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    # each method a little above or below its image's row, so equal values do not hide each other
    dodge = 0.5 / len(methods)
    handles, base = [], names.get(baseline, baseline)
    for i, m in enumerate(methods):
        style = dict(
            marker=MARKERS[i % len(MARKERS)], ls="none", ms=6, color=colours[i % len(colours)]
        )
        yy = y + (i - (len(methods) - 1) / 2) * dodge
        (dots,) = ax_abs.plot(wide.loc[order, m], yy, label=names.get(m, m), **style)
        if m != baseline:
            diff = wide.loc[order, m] - wide.loc[order, baseline]
            ax_gain.plot(diff, yy, **style)
            dots = dots.__class__(
                [], [], label=f"{names.get(m, m)} (mean − {base} {diff.mean():+.2f} dB)", **style
            )
        handles.append(dots)
    handles.append(
        ax_gain.axvline(0, color="gray", ls="--", lw=1, label=f"{base} (0 on the right)")
    )
    ax_abs.set_yticks(y, order, fontsize=8)
    ax_abs.set_ylabel(
        f"benchmark image\n(by {names.get(sort_by, sort_by)} − {base}, best at the top)"
    )
    ax_abs.set_xlabel("PSNR-Y [dB]")
    ax_gain.set_xlabel(f"PSNR-Y − {base} on the same image [dB]")
    ax_abs.set_title("PSNR-Y per method", fontsize=10)
    ax_gain.set_title(f"difference to {base}", fontsize=10)
    for ax in (ax_abs, ax_gain):
        ax.grid(alpha=0.3)
    # one legend under both panels: it never covers a dot
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def zoom_rows(
    samples: Mapping[str, Mapping[str, torch.Tensor]],
    rules: Mapping[str, Sequence[str]],
    per_image: pd.DataFrame,
    *,
    size: int,
    baseline: str = "bicubic",
    gain_of: str = "srresnet",
    names: Mapping[str, str] | None = None,
    title: str | None = None,
):
    """One row per picked image (``rules``: image -> the rules that picked it): the whole ground truth with the box,
    then the same ``size`` crop of every method and of the ground truth (nearest-neighbour), each method's panel
    titled with its whole-image PSNR-Y / SSIM-Y from ``per_image``. The crop is the ground truth's busiest window
    (:func:`srlib.viz.busiest_box`), where methods differ most. Constrained layout: no title over a panel."""
    names = dict(names or {})
    shown = list(rules)
    methods = [k for k in samples[shown[0]] if k != "ground truth"]
    cols = len(methods) + 2
    fig, axes = plt.subplots(
        len(shown),
        cols,
        figsize=(2.7 * cols, 3.0 * len(shown) + 0.7),
        squeeze=False,
        layout="constrained",
    )
    vals = per_image.set_index(["image", "model"])
    for row, name in zip(axes, shown):
        imgs = samples[name]
        gt = imgs["ground truth"]
        s = max(1, min(size, *(d - 1 for d in gt.shape[-2:])))  # busiest_box needs one pixel spare
        top, left = viz.busiest_box(gt, s)
        row[0].imshow(viz.to_numpy(gt))
        row[0].add_patch(Rectangle((left, top), s, s, fill=False, edgecolor="red", linewidth=1.5))
        gain = vals.loc[(name, gain_of), "psnr_y"] - vals.loc[(name, baseline), "psnr_y"]
        row[0].set_title(
            f"{', '.join(rules[name])}: {name}\n{names.get(gain_of, gain_of)} − {names.get(baseline, baseline)} "
            f"{gain:+.2f} dB",
            fontsize=9,
        )
        for ax, key in zip(row[1:], [*methods, "ground truth"]):
            ax.imshow(
                viz.to_numpy(imgs[key][..., top : top + s, left : left + s]),
                interpolation="nearest",
            )
            if key == "ground truth":
                label = f"ground truth ({s}-px crop)"
            else:
                v = vals.loc[(name, key)]
                label = f"{names.get(key, key)}\nPSNR-Y {v.psnr_y:.2f} dB · SSIM-Y {v.ssim_y:.4f}"
            ax.set_title(label, fontsize=9)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
