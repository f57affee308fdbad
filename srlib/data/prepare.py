"""The ``data_prepare`` stage (notebook 00): each step one call taking its :class:`DataPrepareConfig`.

Both splits are materialised under ``data/<profile>/`` (embedded photos copied, a user folder validated in place),
every image decoded once (a corrupt file stops the study here, named), and the manifest records each file's sha256.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from srlib import paths, tracking, viz
from srlib.data import datasets, splits

if TYPE_CHECKING:
    from pathlib import Path

    from srlib.data.config import DataPrepareConfig


def prepare(cfg: DataPrepareConfig) -> tuple[dict[str, splits.PreparedSplit], dict]:
    """Both splits and the manifest ``data/<profile>/manifest.json``; returns ``(prepared, manifest)``."""
    out = paths.data_manifest(cfg.profile).parent
    prepared = {
        "train": splits.prepare_split(
            "train", datasets.source(cfg.train_dir), out / "train", name=cfg.train_name
        ),
        "bench": splits.prepare_split(
            "bench", datasets.source(cfg.bench_dir), out / "bench", name=cfg.bench_name
        ),
    }
    manifest = splits.write_manifest(paths.data_manifest(cfg.profile), prepared, proxy=cfg.proxy)
    return prepared, manifest


def bench_thumbnails(cfg: DataPrepareConfig, manifest: dict) -> Path:
    """The benchmark images as the evaluation sees them, saved under ``figures/data_prepare/``."""
    name = splits.split_info(manifest, "bench")["name"]
    fig = viz.thumbnails(splits.split_files(manifest, "bench"), title=f"benchmark: {name}")
    return viz.save(fig, paths.figure_file(cfg.profile, "data_prepare/bench_thumbnails.png"))


def write_metrics(
    cfg: DataPrepareConfig, prepared: dict[str, splits.PreparedSplit], sizes: pd.DataFrame
) -> dict[str, dict]:
    """Images and megapixels per split, with the data's names and provenance; returns the numbers."""
    summary = {
        split: {"images": int(len(g)), "megapixels": float((g.width * g.height).sum() / 1e6)}
        for split, g in sizes.groupby("split")
    }
    tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE),
        summary,
        stage=cfg.STAGE,
        profile=cfg.profile,
        data={
            "name": f"{prepared['train'].name} / {prepared['bench'].name}",
            "proxy": cfg.proxy,
            "train": prepared["train"].source,
            "bench": prepared["bench"].source,
        },
    )
    return summary
