"""The papers' real datasets: recipes for a networked GPU host, and helpers for data sources in params.

None of these archives can be downloaded on the study's CI machines, so the pipeline's default is the embedded proxy
(:mod:`srlib.data`). On a networked host::

    python -m srlib data fetch div2k_train_hr          # download, check sha256, extract under data/raw/
    dvc add data/raw/DIV2K_train_HR                     # track the extracted folder with DVC
    dvc exp run -S profile=paper -S data_prepare.train_dir=data/raw/DIV2K_train_HR \
                -S data_prepare.bench_dir=data/raw/benchmark/Set5/HR

Downloads time out after ``$SRLIB_DOWNLOAD_TIMEOUT`` seconds without data (default 30) and leave no partial
archive (:mod:`srlib.download`). ``sha256`` is the digest of the archive. Where no digest is published (the DIV2K and
EDSR pages give none), it is ``None``: ``fetch`` then prints the digest it computed, to be typed in here on first
download, and ``dvc add`` pins the extracted content from then on.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image

from srlib import paths
from srlib.download import DownloadError, download


@dataclass(frozen=True)
class Recipe:
    name: str
    url: str
    sha256: str | None
    extracts_to: str  # folder under data/raw/ after extraction
    used_for: str
    size: str
    archive: str = (
        ""  # the archive's file name when the URL's last part is not one (default: that part)
    )


RECIPES: dict[str, Recipe] = {
    "div2k_train_hr": Recipe(
        "div2k_train_hr",
        "http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip",
        None,
        "DIV2K_train_HR",
        "training HR photos (800, 2K) for SRResNet/SRGAN/Real-ESRGAN",
        "3.5 GB",
    ),
    "div2k_valid_hr": Recipe(
        "div2k_valid_hr",
        "http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip",
        None,
        "DIV2K_valid_HR",
        "validation HR photos (100)",
        "0.4 GB",
    ),
    # NTIRE 2018 track 4 ("realistic wild", x4, unknown degradation): X of the pseudo-supervised SR study (Maeda 2020)
    "div2k_train_lr_wild": Recipe(
        "div2k_train_lr_wild",
        "http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_LR_wild.zip",
        None,
        "DIV2K_train_LR_wild",
        "NTIRE 2018 track 4 training LR (x4, realistic wild degradations): pseudo_sr_train.x_dir",
        "size not known here",
    ),
    # EDSR's benchmark archive: Set5, Set14, B100 (= BSD100) and Urban100, HR plus bicubic LR x2/x3/x4.
    "sr_benchmark": Recipe(
        "sr_benchmark",
        "https://cv.snu.ac.kr/research/EDSR/benchmark.tar",
        None,
        "benchmark",
        "Set5 / Set14 / BSD100 (B100) / Urban100 test sets (use the HR folders)",
        "0.2 GB",
    ),
    # pix2pix's night2day (Transient Attributes webcams): AB files 512x256, night left / day right, in
    # night2day/{train,val,test}/; srlib.night2day pools them and re-splits 80/10/10 as Abedjooy & Ebrahimi did.
    "night2day": Recipe(
        "night2day",
        "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/night2day.tar.gz",
        None,
        "night2day",
        "night->day multi-modality SR (issue 6): ~20K night/day AB pairs",
        "unknown",
    ),
    # CelebA's aligned faces (178 x 218 JPEGs) from its Google Drive folder (torchvision's file id); the partition
    # file list_eval_partition.txt is beside it there. Crop with `srlib.hallucination.data.celeba_crops`.
    "celeba_align": Recipe(
        "celeba_align",
        "https://drive.usercontent.google.com/download?id=0B7EVK8r0v71pZjFTYXZWM3FlRnM&export=download&confirm=t",
        None,
        "img_align_celeba",
        "diverse hallucination SR (issue 15): 202,599 aligned faces; 128^2 centre crops, 16^2 LR at x8",
        "1.4 GB",
        archive="img_align_celeba.zip",
    ),
}


def raw_dir() -> Path:
    return paths.data_dir() / "raw"


def source(value: str) -> str:
    """A ``train_dir`` / ``bench_dir`` parameter: ``'embedded'`` stays, a path resolves against the repo root."""
    if value == "embedded":
        return value
    folder = paths.resolve(value)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder not found: {value!r} (resolved to {folder})")
    return str(folder)


def describe(manifest: dict) -> pd.DataFrame:
    """One row per image of a manifest: split, file, width, height."""
    rows = []
    for split, entry in manifest["splits"].items():
        for f in entry["files"]:
            with Image.open(f["file"]) as im:
                w, h = im.size
            rows.append({"split": split, "file": Path(f["file"]).name, "width": w, "height": h})
    return pd.DataFrame(rows)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


class DatasetUnavailable(OSError):
    """A recipe's archive could not be downloaded, or the one on disk does not match its digest."""


def fetch(
    name: str, dest: Path | None = None, *, timeout: float | None = None, progress: bool = True
) -> Path:
    """Download, check and extract a recipe's archive under ``data/raw/`` (needs a network).

    The download goes through :func:`srlib.download.download` (``timeout`` seconds per connect / read, default
    ``$SRLIB_DOWNLOAD_TIMEOUT`` or 30 s; the archive appears only complete and, where a digest is published, matching).
    An archive already in ``dest`` is reused after its digest is checked.
    """
    if name not in RECIPES:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(RECIPES)}")
    r = RECIPES[name]
    dest = Path(dest) if dest else raw_dir()
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / (r.archive or Path(r.url).name)
    if archive.is_file():
        digest = _sha256(archive)
        if r.sha256 and digest != r.sha256:
            raise DatasetUnavailable(
                f"{archive}: sha256 {digest} != expected {r.sha256}; delete it and fetch again"
            )
    else:
        try:
            digest = download(r.url, archive, timeout=timeout, sha256=r.sha256, progress=progress)
        except DownloadError as exc:
            raise DatasetUnavailable(
                f"{exc}. Download {r.url} by hand ({r.size}) and put it at {archive}, then rerun "
                f"`python -m srlib data fetch {name}` to check and extract it."
            ) from exc
    if not r.sha256:
        print(
            f"{archive.name}: sha256 {digest} (no published digest; record it in srlib.data.datasets.RECIPES)"
        )
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                z.extractall(dest)
        else:
            with tarfile.open(archive) as t:
                t.extractall(dest, filter="data")
    except (
        zipfile.BadZipFile,
        tarfile.TarError,
    ) as exc:  # e.g. an HTML error page saved under the archive's name
        raise DatasetUnavailable(
            f"{archive} is not a readable archive ({exc}); delete it and fetch again"
        ) from exc
    return dest / r.extracts_to


def recipe_text() -> str:
    lines = ["Real datasets (fetch on a networked host, then `dvc add` the extracted folder):"]
    for r in RECIPES.values():
        lines.append(
            f"  {r.name:16s} {r.size:>7s}  {r.url}\n{'':20s}sha256: {r.sha256 or 'not published'}; "
            f"{r.used_for}\n{'':20s}python -m srlib data fetch {r.name} && dvc add data/raw/{r.extracts_to}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``data recipe | fetch NAME...``: 0 on success, 1 when a download / check fails, 2 on usage errors."""
    if not argv or argv[0] == "recipe":
        print(recipe_text())
        return 0
    if argv[0] == "fetch" and len(argv) > 1:
        unknown = [n for n in argv[1:] if n not in RECIPES]
        if unknown:
            print(
                f"error: unknown dataset(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}",
                file=sys.stderr,
            )
            return 2
        for name in argv[1:]:
            try:
                print(fetch(name))
            except DatasetUnavailable as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
        return 0
    print("usage: python -m srlib data recipe | fetch NAME...")
    return 2
