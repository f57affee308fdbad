"""The ``data_prepare`` stage's config (see :class:`srlib.config.StageConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import StageConfig


@dataclass
class DataPrepareConfig(StageConfig):
    """``data_prepare`` (notebook 00): the training pool and the benchmark, copied under ``data/<profile>``.

    Study-wide: every paper's stages read this manifest. Ledig et al. 2017 train on 350k ImageNet photos and report
    Table 2 on Set5 / Set14 / BSD100 (§3.1); neither can be fetched where this study runs, so the default is a
    labelled proxy (photos that pip packages ship) and any folder of photos can take its place.
    """

    STAGE: ClassVar[str] = "data_prepare"
    COMMON: ClassVar[tuple[str, ...]] = ()

    train_dir: str = "embedded"  # 'embedded' or a folder of training photos (paper: ImageNet, 350k)
    bench_dir: str = "embedded"  # 'embedded' or a folder, never trained on (paper: Set5/14, BSD100)
    train_name: str = "embedded-train"  # the training data's name in metrics and tables
    bench_name: str = "embedded-bench"  # the benchmark's name in metrics and tables
    proxy: bool = True  # stands in for the paper's data (labelled everywhere); False: the real sets
