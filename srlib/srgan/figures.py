"""Figures of the ``srgan_train`` stage (notebook 10): one training pair, the learning curves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
