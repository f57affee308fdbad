"""The study's data: HR crops whose 8-bit average-pooled x1/8 image is the LR, and the CelebA crop recipe.

The degradation is DS itself (average pooling, LAG's downscaler): the real HR image then satisfies the paper's LR
constraint exactly (``round(DS(I_HR)) = I_LR``), which is what lets D_I read F = 0 as "real" (§3.1). With MATLAB
bicubic LR (the other studies' protocol) even the ground truth would sit a level or two away from I_LR.

CelebA on a networked GPU host (the ``paper`` profile)::

    python -m srlib data fetch celeba_align               # img_align_celeba/ under data/raw/ (1.4 GB)
    # list_eval_partition.txt from the same Google Drive folder into data/raw/
    python -c "from srlib.hallucination.data import celeba_crops as c; c('data/raw/img_align_celeba', \\
        'data/raw/list_eval_partition.txt', 'data/celeba128/train', split=0); c(..., 'data/celeba128/test', split=2)"
    dvc add data/celeba128

Each crop is the aligned face's centre 178^2 square resized to 128^2 (PIL's bicubic with antialiasing): the common
x8 CelebA setup (128^2 HR, 16^2 LR); the paper does not state its crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from srlib.data import degradations, images, splits
from srlib.data.patches import PairedPatches
from srlib.models.hallucination import downscale

CELEBA_SPLITS = {0: "train", 1: "valid", 2: "test"}  # list_eval_partition.txt's codes


def degrade(scale: int):
    """gt -> DS(gt) (average pooling by ``scale``); :class:`PairedPatches` rounds it to 8 bits."""
    return lambda gt: downscale(gt, scale)


def pair(gt: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, H, W) HR -> ``(lq, gt)``: gt mod-cropped to ``scale``, lq its 8-bit average-pooled x1/``scale``."""
    gt = degradations.quantize(degradations.mod_crop(gt, scale))
    return degradations.quantize(downscale(gt[None], scale)[0]), gt


def training_files(cfg, manifest: dict) -> list[Path]:
    """The HR training images: data_prepare's train split (``train_dir: manifest``) or a folder's images."""
    if cfg.train_dir == "manifest":
        return splits.split_files(manifest, "train")
    return images.folder_images(cfg, "train_dir")


def training_patches(cfg, files: Sequence[Path]) -> PairedPatches:
    """Random ``gt_size`` HR crops (flips, transposition) and their 8-bit DS: batches by ``(seed, step)``."""
    return PairedPatches(
        images.load_images(files, max_side=cfg.train_max_side),
        scale=cfg.scale,
        gt_size=cfg.gt_size,
        batch_size=cfg.batch_size,
        degrade=degrade(cfg.scale),
        flat_threshold=cfg.flat_threshold,
        seed=cfg.seed,
    )


def centre_crop(img: torch.Tensor, size: int) -> torch.Tensor:
    """The centre ``size`` x ``size`` of (3, H, W) (the whole side when the image is smaller)."""
    h, w = img.shape[-2:]
    s = min(size, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[..., top : top + s, left : left + s]


def evaluation_sets(cfg, manifest: dict) -> dict[str, list[tuple[str, torch.Tensor, torch.Tensor]]]:
    """``{set: [(name, lq, gt), ...]}``: the faces of ``faces_dir`` and ``bench_crop`` centre crops of the benchmark.

    The faces are read where they lie (never copied into the project); every HR image goes through :func:`pair`.
    """

    sets: dict[str, list] = {}
    if cfg.faces_dir:
        files = images.folder_images(cfg, "faces_dir")
        files = files[: cfg.max_faces] if cfg.max_faces else files
        sets["faces"] = [(f.stem, *pair(images.load_image(f), cfg.scale)) for f in files]
    if cfg.bench_crop:
        files = splits.split_files(manifest, "bench")
        files = files[: cfg.max_bench] if cfg.max_bench else files
        crops = [(f.stem, centre_crop(images.load_image(f), cfg.bench_crop)) for f in files]
        sets["bench"] = [
            (name, *pair(img, cfg.scale))
            for name, img in crops
            if min(img.shape[-2:]) >= cfg.scale * 2
        ]
    return sets


def celeba_crops(
    image_dir: str | Path,
    partition_file: str | Path,
    out_dir: str | Path,
    *,
    split: int,
    size: int = 128,
) -> int:
    """Write the ``split`` (0 train, 1 valid, 2 test) faces of CelebA's aligned set as ``size``^2 PNG centre crops.

    The centre 178^2 square of each 178 x 218 aligned face, resized to ``size`` (PIL bicubic). Returns the count.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [
        line.split()[0]
        for line in Path(partition_file).read_text().splitlines()
        if line.strip() and int(line.split()[1]) == split
    ]
    for name in names:
        with Image.open(Path(image_dir) / name) as im:
            w, h = im.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            im.convert("RGB").crop(box).resize((size, size), Image.BICUBIC).save(
                out / f"{Path(name).stem}.png"
            )
    return len(names)
