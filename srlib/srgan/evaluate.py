"""SRGAN's ``srgan_evaluate`` and ``tables`` stages (notebooks 11 and 90): Ledig et al. 2017, Table 2.

Bicubic, SRResNet and SRGAN on the benchmark with the paper's protocol (x4, PSNR / SSIM on Y, a ``crop_border``
strip removed; :mod:`srlib.evaluation`), paired comparisons on the same images (:mod:`srlib.stats`), and the
paper / ours / delta table. Each function takes the stage's config and reads its fields where they are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch

from srlib import evaluation, models, paths, stats, tracking, viz
from srlib.data import images, splits
from srlib.srgan import perceptual

if TYPE_CHECKING:
    from srlib.srgan.config import SRGANEvaluateConfig, TablesConfig

Pairs = Sequence[tuple[str, torch.Tensor, torch.Tensor]]

BICUBIC_SKIP_LABEL = (
    "bicubic skip: the generators learn a residual over bicubic (not Ledig's architecture)"
)
COMPARISONS = (("srresnet", "bicubic"), ("srgan", "srresnet"))  # A - B, on each metric
METRICS = ("psnr_y", "ssim_y")


def benchmark_pairs(cfg: SRGANEvaluateConfig, manifest: dict) -> list:
    """``(name, lq, gt)`` per benchmark image: gt mod-cropped to the scale, lq its 8-bit bicubic downscale."""
    return images.benchmark_pairs(splits.split_files(manifest, "bench"), cfg.scale)


def upscalers(
    cfg: SRGANEvaluateConfig, device: torch.device | str
) -> tuple[dict[str, evaluation.Upscaler], dict[str, dict]]:
    """Bicubic and the two generators ``srgan_train`` saved; also their files (``arch_kwargs``, ``meta``)."""
    run = paths.run_dir(cfg.profile, "srgan_train")
    srresnet, srresnet_file = models.load_generator(run / "srresnet.pth")
    srgan, srgan_file = models.load_generator(run / "srgan.pth")
    ups = {
        "bicubic": evaluation.bicubic_upscaler(cfg.scale),
        "srresnet": evaluation.model_upscaler(srresnet, device),
        "srgan": evaluation.model_upscaler(srgan, device),
    }
    return ups, {"srresnet": srresnet_file, "srgan": srgan_file}


def labels(files: dict[str, dict]) -> list[str]:
    """Caveats the generators put on every number: bicubic skip, the perceptual substitute (not Ledig's)."""
    skip = [BICUBIC_SKIP_LABEL] if files["srresnet"]["arch_kwargs"].get("bicubic_skip") else []
    return skip + perceptual.labels(files["srgan"]["meta"].get("percep_net"))


def _title_tag(files: dict[str, dict] | None) -> str:
    return perceptual.title_tag(files["srgan"]["meta"].get("percep_net")) if files else ""


def per_image_metrics(
    cfg: SRGANEvaluateConfig, ups: dict[str, evaluation.Upscaler], pairs: Pairs
) -> pd.DataFrame:
    """PSNR-Y / SSIM-Y of every method on every whole image; also ``tables/srgan_per_image.csv``."""
    per_image = evaluation.evaluate(ups, pairs, crop_border=cfg.crop_border, progress=cfg.progress)
    per_image.to_csv(paths.table_file(cfg.profile, "srgan_per_image.csv"), index=False)
    return per_image


def paired_comparisons(cfg: SRGANEvaluateConfig, per_image: pd.DataFrame) -> pd.DataFrame:
    """SRResNet - bicubic and SRGAN - SRResNet per metric (bootstrap CI, Wilcoxon); ``tables/srgan_paired.csv``."""
    paired = pd.DataFrame(
        [stats.compare_models(per_image, m, a, b) for m in METRICS for a, b in COMPARISONS]
    )
    paired.to_csv(paths.table_file(cfg.profile, "srgan_paired.csv"), index=False)
    return paired


def psnr_figure(
    cfg: SRGANEvaluateConfig, per_image: pd.DataFrame, bench_name: str, *, files: dict | None = None
) -> Path:
    """PSNR-Y per image and method, saved under ``figures/srgan_evaluate/``; ``files`` (:func:`upscalers`) adds
    the perceptual substitute's label to the title when SRGAN was trained with it."""
    title = f"PSNR-Y per image, x{cfg.scale} ({bench_name})" + _title_tag(files)
    fig = viz.metric_bars(per_image, "psnr_y", title=title)
    return viz.save(fig, paths.figure_file(cfg.profile, "srgan_evaluate/psnr_y_per_image.png"))


def zoom_figures(
    cfg: SRGANEvaluateConfig,
    ups: dict[str, evaluation.Upscaler],
    pairs: Pairs,
    per_image: pd.DataFrame,
    *,
    count: int = 3,
    files: dict | None = None,
) -> list[Path]:
    """Zoomed ``zoom_size`` crops of the ``count`` images where SRResNet gains most over bicubic (``files``: as
    :func:`psnr_figure`)."""
    gains = per_image.pivot(index="image", columns="model", values="psnr_y")
    shown = list((gains.srresnet - gains.bicubic).sort_values(ascending=False).index[:count])
    samples = evaluation.sample_outputs(ups, pairs, shown)
    return [
        viz.save(
            viz.zoom_comparison(samples[name], size=cfg.zoom_size, title=name + _title_tag(files)),
            paths.figure_file(cfg.profile, f"srgan_evaluate/zoom_{name}.png"),
        )
        for name in shown
    ]


def write_metrics(
    cfg: SRGANEvaluateConfig,
    per_image: pd.DataFrame,
    paired: pd.DataFrame,
    *,
    manifest: dict,
    files: dict[str, dict],
) -> dict[str, dict[str, float]]:
    """``metrics/srgan_evaluate.json``: the mean metrics per method, the paired comparisons, provenance.

    Returns the per-method summary (mean, std, n, gain over bicubic).
    """
    summary = evaluation.summarize(per_image)
    bench = splits.split_info(manifest, "bench")
    tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE),
        {
            "models": summary,
            "crop_border": cfg.crop_border,
            "scale": cfg.scale,
            "paired": {
                f"{r.a}_vs_{r.b}_{r.metric}": {
                    "mean_diff": r.mean_diff,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "p_wilcoxon": r.p_wilcoxon,
                }
                for r in paired.itertuples()
            },
        },
        stage=cfg.STAGE,
        profile=cfg.profile,
        data={
            "name": bench["name"],
            "proxy": manifest["proxy"],
            "source": bench["source"],
            "images": len(bench["files"]),
        },
        weights=perceptual.meta_weights(files["srgan"]["meta"]),
        labels=labels(files),
    )
    return summary


# --------------------------------------------------------------------------------------------------------------
# the tables stage (notebook 90)


def paper_table(cfg: TablesConfig) -> tuple[pd.DataFrame, dict]:
    """Ledig Table 2 beside our ``srgan_evaluate`` numbers: ``tables/srgan_ledig2017.{csv,md}``.

    Returns ``(table, ours)``; every row names the data and weights it depends on (SRGAN: the VGG19 file).
    """
    ref = pd.read_csv(paths.resolve(cfg.reference))
    ours = tracking.read_metrics(paths.metrics_file(cfg.profile, "srgan_evaluate"))
    percep = [k for k in perceptual.WEIGHT_KEYS.values() if k in ours.get("weights", {})]
    table = evaluation.paper_table(ref, ours, weights_by_method={"srgan": percep or ["vgg19"]})
    # trained on the substitute: never the paper's SRGAN, whatever the weights
    if perceptual.WEIGHT_KEYS["inception"] in percep:
        srgan = table.method == "srgan"
        table.loc[srgan, "weights"] = "FID-Inception content loss (substitute for VGG54)"
        table.loc[srgan, "comparable"] = False
    table.to_csv(paths.table_file(cfg.profile, "srgan_ledig2017.csv"), index=False)
    paths.table_file(cfg.profile, "srgan_ledig2017.md").write_text(
        f"# Ledig et al. 2017, Table 2: paper / ours / delta ({cfg.profile} profile)\n\n"
        + "".join(f"- {label}\n" for label in ours["labels"])
        + "\n"
        + evaluation.markdown_table(table)
    )
    return table, ours
