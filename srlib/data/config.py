"""The ``data_prepare`` stage's config (see :class:`srlib.config.StageConfig`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import StageConfig


@dataclass
class DataPrepareConfig(StageConfig):
    """``data_prepare`` (notebook 00): the training pool and the benchmark, copied under ``data/<profile>``."""

    STAGE: ClassVar[str] = "data_prepare"
    COMMON: ClassVar[tuple[str, ...]] = ()

    train_dir: str = (
        "embedded"  # 'embedded' or a folder of training photos (relative to the repo root)
    )
    bench_dir: str = "embedded"  # 'embedded' or a folder of benchmark photos (never trained on)
    train_name: str = "embedded-train"  # label used in metrics and tables
    bench_name: str = "embedded-bench"
    proxy: bool = True  # True: this data stands in for the paper's (labelled everywhere)
