"""Night→day data preparation: the split manifest every later stage reads, for the real dataset or the proxy.

Both sources end in the same place, ``data/<profile>_night2day/split.json`` (``{"proxy", "note", "source",
"splits": {"train": [...], "val": [...], "test": [...]}, ...}``), whose files are night2day **AB images** (512×256,
night left, day right). Later stages load them with :class:`srlib.night2day.data.Night2DayPairs`, so the proxy runs through
exactly the loader and LR protocol the real data uses.

* **Real** (:func:`prepare_real`): the extracted pix2pix ``night2day`` folder (``python -m srlib data fetch
  night2day`` on a networked host, then ``dvc add data/raw/night2day``), all pairs pooled and split at random
  80/10/10 as the paper (:func:`srlib.night2day.data.paper_split`). Nothing is copied: the manifest lists the files.
* **Proxy** (:func:`prepare_proxy`): day photos rendered to synthetic night (:func:`srlib.night2day.proxy.synthetic_night`)
  and written as AB files. The split is **by photo**, not by pair: several crops come from one photo, and crops of
  a test photo in the training set would leak (the paper's random split of webcam frames has the analogous leak of
  scenes: frames of one webcam land in train and test alike). Train and val take the training photos (val gets the
  paper's 1/9 of them, at least one), test takes the benchmark photos, which no stage trains on.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from srlib import paths, runtime, tracking
from srlib.data import datasets, images, splits
from srlib.night2day import data as night2day_data
from srlib.night2day import proxy
from srlib.night2day.config import Night2DayDataConfig

log = logging.getLogger("srlib.night2day_prepare")

MANIFEST = "split.json"


def _clear(out_dir: Path) -> None:
    """Remove what an earlier preparation wrote (split folders and manifest), nothing else."""
    for split in night2day_data.SPLITS:
        if (out_dir / split).is_dir():
            shutil.rmtree(out_dir / split)
    (out_dir / MANIFEST).unlink(missing_ok=True)


def photo_split(
    photos: Sequence[Path], *, val_fraction: float, seed: int
) -> tuple[list[Path], list[Path]]:
    """Training photos into ``(train, val)`` at random; val gets ``round(n * val_fraction)`` photos, at least one
    when there are two or more."""
    photos = sorted(Path(p) for p in photos)
    if not photos:
        raise ValueError("no training photos for the night2day proxy")
    n_val = (
        min(len(photos) - 1, max(1, int(len(photos) * val_fraction + 0.5)))
        if len(photos) > 1
        else 0
    )
    perm = torch.randperm(len(photos), generator=torch.Generator().manual_seed(seed)).tolist()
    val = sorted(photos[i] for i in perm[:n_val])
    return sorted(set(photos) - set(val)), val


def write_ab_pairs(
    pairs: proxy.ProxyNight2DayPairs, out_dir: Path, *, progress: bool = False
) -> list[Path]:
    """Write every proxy pair as one AB file (night HR left, day HR right), ``<photo stem>_<k>.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i in tqdm(range(len(pairs)), desc=out_dir.name, disable=not progress):
        sample = pairs[i]
        photo = pairs.files[i % len(pairs.files)]
        path = out_dir / f"{photo.stem}_{i // len(pairs.files):02d}.png"
        images.save_image(torch.cat((sample.night_hr, sample.day_hr), dim=-1), path)
        files.append(path)
    return sorted(files)


def prepare_proxy(
    out_dir: str | Path,
    *,
    train_photos: Sequence[Path],
    test_photos: Sequence[Path],
    source: str,
    seed: int = 0,
    val_fraction: float = 1 / 9,
    pairs_per_image: int = 4,
    test_pairs_per_image: int = 2,
    crop_fraction: tuple[float, float] = (0.5, 1.0),
    max_side: int = 1024,
    cfg: proxy.SyntheticNightConfig | None = None,
    exclude: Sequence[str] = (),
    progress: bool = False,
) -> dict:
    """Render the proxy dataset and write its manifest; returns the manifest.

    Each photo gives ``pairs_per_image`` (test: ``test_pairs_per_image``) random square crops (side ``crop_fraction``
    of the short side, 256² after MATLAB bicubic) with their synthetic night, seeded per split and pair.
    Photos whose stem is in ``exclude`` are left out (e.g. photos that already are night scenes: rendering
    "night" from them makes no sense; they serve the qualitative figure instead).
    """
    out_dir = Path(out_dir)
    cfg = cfg or proxy.SyntheticNightConfig()
    excluded = set(exclude)
    train_photos = [Path(p) for p in train_photos if Path(p).stem not in excluded]
    test_photos = [Path(p) for p in test_photos if Path(p).stem not in excluded]
    train, val = photo_split(train_photos, val_fraction=val_fraction, seed=seed)
    photos = {"train": train, "val": val, "test": sorted(test_photos)}
    if not photos["test"]:
        raise ValueError("no test photos for the night2day proxy")
    per = {"train": pairs_per_image, "val": pairs_per_image, "test": test_pairs_per_image}
    _clear(out_dir)
    splits = {}
    for k, split in enumerate(night2day_data.SPLITS):
        if not photos[split]:
            splits[split] = []
            continue
        pairs = proxy.ProxyNight2DayPairs(
            photos[split],
            seed=seed * 10 + k,
            cfg=cfg,
            pairs_per_image=per[split],
            mode="crop",
            crop_fraction=crop_fraction,
            max_side=max_side,
        )
        files = write_ab_pairs(pairs, out_dir / split, progress=progress)
        splits[split] = [f.relative_to(out_dir).as_posix() for f in files]
        log.info("proxy %s: %d pairs from %d photos", split, len(files), len(photos[split]))
    manifest = {
        "proxy": True,
        "name": "synthetic-night proxy",
        "note": night2day_data.PROXY_NOTE,
        "source": source,
        "relative_to": "manifest",
        "seed": seed,
        "photos": {s: [p.name for p in v] for s, v in photos.items()},
        "excluded": sorted(excluded),
        "synthetic_night": asdict(cfg),
        "splits": splits,
    }
    tracking.write_json(out_dir / MANIFEST, manifest)
    return manifest


def prepare_real(out_dir: str | Path, root: str | Path, *, seed: int = 0) -> dict:
    """The paper's split of the real night2day pairs under ``root``; header-checks every file (naming the first
    bad one) and writes the manifest with absolute paths."""
    out_dir = Path(out_dir)
    files = night2day_data.list_ab_files(root)
    if not files:
        raise FileNotFoundError(f"no AB images under {root}")
    for f in files:
        night2day_data.check_ab_header(f)
    split = night2day_data.paper_split(files, seed)
    _clear(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "proxy": False,
        "name": "night2day",
        "note": "pix2pix night2day (Transient Attributes webcams), all pairs pooled, random 80/10/10 split",
        # provenance, copied into metrics: repo-relative (no machine path)
        "source": paths.shown(Path(root).resolve()),
        "relative_to": "absolute",
        "seed": seed,
        "splits": {k: [str(Path(f).resolve()) for f in v] for k, v in split.items()},
    }
    tracking.write_json(out_dir / MANIFEST, manifest)
    return manifest


def prepare_split(cfg: Night2DayDataConfig) -> dict:
    """The ``night2day_data`` stage: the proxy from the ``data_prepare`` photos (``cfg.source == "proxy"``: train
    photos -> train / val, benchmark photos -> test) or the paper's split of the real pairs under ``cfg.source``;
    returns the manifest as later stages read it."""
    runtime.set_threads(cfg.num_threads)
    out_dir = paths.night2day_dir(cfg.profile)
    if cfg.source == "proxy":
        photos = splits.read_manifest(paths.data_manifest(cfg.profile))
        train, bench = splits.split_info(photos, "train"), splits.split_info(photos, "bench")
        prepare_proxy(
            out_dir,
            train_photos=splits.split_files(photos, "train"),
            test_photos=splits.split_files(photos, "bench"),
            source=f"{train['name']} + {bench['name']} photos",
            seed=cfg.seed,
            val_fraction=cfg.val_fraction,
            pairs_per_image=cfg.pairs_per_image,
            test_pairs_per_image=cfg.test_pairs_per_image,
            crop_fraction=cfg.crop_fraction,
            max_side=cfg.max_side,
            exclude=cfg.exclude_photos,
            progress=cfg.progress,
        )
    else:
        prepare_real(out_dir, datasets.source(cfg.source), seed=cfg.seed)
    manifest = read_manifest(out_dir)
    log.info(manifest["note"])
    return manifest


def split_sizes(manifest: dict) -> pd.Series:
    """Pairs per split."""
    return pd.Series({k: len(v) for k, v in manifest["splits"].items()}, name="pairs")


def luma_table(manifest: dict) -> pd.DataFrame:
    """Mean BT.601 luma of night and day per non-empty split (:func:`mean_luma`), one row per split."""
    return pd.DataFrame(
        {
            split: mean_luma(manifest, split)
            for split in night2day_data.SPLITS
            if manifest["splits"][split]
        }
    ).T


def write_data_metrics(cfg: Night2DayDataConfig, manifest: dict, luma: pd.DataFrame) -> dict:
    """``metrics/night2day_data.json``: pairs per split and the luma table."""
    return tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE),
        {
            "pairs": {k: len(v) for k, v in manifest["splits"].items()},
            "mean_luma": luma.to_dict(orient="index"),
        },
        stage=cfg.STAGE,
        profile=cfg.profile,
        data=data_block(manifest, "all", sum(len(v) for v in manifest["splits"].values())),
        labels=[manifest["note"]] if manifest["proxy"] else [],
    )


def read_manifest(out_dir: str | Path) -> dict:
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"night2day split manifest not found: {path} (run the night2day_data stage)"
        )
    manifest = json.loads(path.read_text())
    manifest["_dir"] = str(Path(out_dir).resolve())
    return manifest


def split_files(manifest: dict, split: str) -> list[Path]:
    if split not in manifest["splits"]:
        raise KeyError(
            f"split {split!r} not in the night2day manifest ({', '.join(manifest['splits'])})"
        )
    base = Path(manifest["_dir"]) if manifest.get("relative_to") == "manifest" else Path("/")
    return [base / f for f in manifest["splits"][split]]


def split_pairs(manifest: dict, split: str, *, max_pairs: int = 0) -> night2day_data.Night2DayPairs:
    """The split as :class:`srlib.night2day.data.Night2DayPairs` (the first ``max_pairs`` files when > 0)."""
    files = split_files(manifest, split)
    if not files:
        raise ValueError(f"night2day split {split!r} is empty")
    return night2day_data.Night2DayPairs(files[:max_pairs] if max_pairs > 0 else files)


def mean_luma(manifest: dict, split: str, *, max_pairs: int = 200) -> dict[str, float]:
    """Mean BT.601 luma of the night and day HR images of (the first ``max_pairs`` pairs of) a split."""
    pairs = split_pairs(manifest, split, max_pairs=max_pairs)
    night = day = 0.0
    for i in range(len(pairs)):
        s = pairs[i]
        night += float(night2day_data.luminance(s.night_hr).mean())
        day += float(night2day_data.luminance(s.day_hr).mean())
    return {"night": night / len(pairs), "day": day / len(pairs), "pairs": len(pairs)}


def data_block(manifest: dict, split: str, n: int) -> dict:
    """The ``data`` provenance block of a metrics file."""
    return {
        "name": manifest["name"],
        "proxy": manifest["proxy"],
        "source": manifest["source"],
        "split": split,
        "pairs": n,
        "note": manifest["note"],
    }
