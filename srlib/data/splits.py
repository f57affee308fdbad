"""The embedded default photo set and prepared train / benchmark splits with their manifest.

The **embedded default** is a small set of real photographs that pip packages ship (scikit-image's offline data,
scikit-learn's sample images, matplotlib's ``grace_hopper.jpg``), with a fixed train / benchmark split, so the whole
study runs on any fresh machine. It stands in for DIV2K / Set5 and is labelled ``embedded`` (a proxy) everywhere.
:func:`prepare_split` copies a source (the embedded set or a folder of photos) into ``data/<profile>/<split>`` and
:func:`write_manifest` records files, hashes and whether the data is a proxy.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from srlib import paths
from srlib.data.images import list_images, load_image, sha256_file

# ------------------------------------------------------------------------------------------- embedded default

# Real photographs shipped inside pip wheels. Synthetic images (chessboard, logo, text, phantom) and medical or
# microscopy images are left out. Both motorcycle views are training images so the benchmark holds no near-copy.
EMBEDDED_TRAIN = {
    "skimage": [
        "astronaut.png",
        "rocket.jpg",
        "motorcycle_left.png",
        "motorcycle_right.png",
        "hubble_deep_field.jpg",
        "brick.png",
        "grass.png",
        "gravel.png",
        "camera.png",
        "coins.png",
        "moon.png",
    ],
    "sklearn": ["china.jpg"],
}
EMBEDDED_BENCH = {
    "skimage": ["chelsea.png", "coffee.png"],
    "sklearn": ["flower.jpg"],
    "matplotlib": ["grace_hopper.jpg"],
}


def _package_image(package: str, name: str) -> Path:
    if package == "skimage":
        import skimage

        return Path(skimage.__file__).parent / "data" / name
    if package == "sklearn":
        import sklearn.datasets

        return Path(sklearn.datasets.__file__).parent / "images" / name
    if package == "matplotlib":
        import matplotlib

        return Path(matplotlib.get_data_path()) / "sample_data" / name
    raise ValueError(f"unknown package {package!r}")


def embedded_sources(split: str) -> list[tuple[str, Path]]:
    """``(package, path)`` of the embedded photos of ``split`` ('train' or 'bench')."""
    table = {"train": EMBEDDED_TRAIN, "bench": EMBEDDED_BENCH}[split]
    return [(pkg, _package_image(pkg, n)) for pkg, names in table.items() for n in names]


@dataclass
class PreparedSplit:
    name: str  # label used in metrics and tables (e.g. 'bench-classic')
    folder: Path
    files: list[Path]
    source: str  # human-readable provenance, copied into every metrics file


def prepare_split(split: str, source: str, out_dir: Path, *, name: str) -> PreparedSplit:
    """Materialise one split: copy the embedded photos into ``out_dir`` or validate a user folder in place.

    Every image is decoded once here, so a corrupt file stops the pipeline at the first stage, named.
    """
    out_dir = Path(out_dir)
    if source == "embedded":
        out_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for pkg, src in embedded_sources(split):
            if not src.is_file():
                raise FileNotFoundError(
                    f"embedded photo missing from the installed {pkg} package: {src}"
                )
            dst = out_dir / f"{pkg}_{src.name}"
            shutil.copyfile(src, dst)
            files.append(dst)
        prep = PreparedSplit(
            name, out_dir, files, "embedded default (photos shipped by pip packages)"
        )
    else:
        folder = Path(source).expanduser().resolve()
        files = list_images(folder)
        # provenance relative to the repo root (e.g. "folder ../shared/data/photos-train"): metrics name no machine
        prep = PreparedSplit(name, folder, files, f"folder {paths.shown(folder)}")
    for f in prep.files:
        load_image(f)  # raises ImageReadError naming the file
    return prep


def write_manifest(path: Path, splits: dict[str, PreparedSplit], *, proxy: bool) -> dict:
    """``{"proxy": bool, "splits": {split: {name, folder, source, files: [{file, sha256}]}}}``."""
    manifest = {
        "proxy": bool(proxy),
        "splits": {
            name: {
                "name": s.name,
                "folder": str(s.folder),
                "source": s.source,
                "files": [{"file": str(f), "sha256": sha256_file(f)} for f in s.files],
            }
            for name, s in splits.items()
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"data manifest not found: {path} (run the data_prepare stage first)"
        )
    return json.loads(path.read_text())


def split_info(manifest: dict, split: str) -> dict:
    if split not in manifest["splits"]:
        raise KeyError(f"split {split!r} not in manifest (has {', '.join(manifest['splits'])})")
    return manifest["splits"][split]


def split_files(manifest: dict, split: str) -> list[Path]:
    return [Path(e["file"]) for e in split_info(manifest, split)["files"]]
