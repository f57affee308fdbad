"""Night→day data: the pix2pix night2day AB files, the paper's split and LR protocol, and a synthetic-night proxy.

Abedjooy & Ebrahimi, "Multi-modality image super-resolution using generative adversarial networks" (issue 6):
recover a high-resolution **day** image from a low-resolution **night** image of the same scene.

Real data (pix2pix's ``night2day``, scenes from the Transient Attributes webcams, Laffont et al. 2014):

* each file is one AB image, 512 wide × 256 high: night ``A`` on the **left** half, day ``B`` on the **right** half
  (:func:`split_ab`, :func:`load_ab`; a file whose width is not twice its height is refused, naming the file);
* the paper pools all pairs and splits them at random 80/10/10, 20,110 → 16,088 / 2,011 / 2,011
  (:func:`paper_split`; pix2pix's own train/val/test folders are ignored, see :func:`list_ab_files`);
* HR images are 256×256; LR images are made with OpenCV ``cv2.resize(..., INTER_LINEAR)`` to 64×64
  (:func:`make_lq`), stored on the 8-bit grid;
* the "Pre" phase compares the LR night image, nearest-neighbour upsampled to 256×256 (:func:`pre_phase`), with the
  day ground truth.

:class:`Night2DayPairs` yields ``(night_lq, night_hr, day_lq, day_hr)`` per pair, each ``(3, H, W)`` in ``[0, 1]``.

Proxy (where night2day cannot be downloaded): :func:`synthetic_night` renders a night version of a day photo
(exposure drop, colour cast, artificial light glows, Poisson–Gaussian sensor noise, JPEG), and
:class:`ProxyNight2DayPairs` turns a folder of day photos into the same tuples. It is a **proxy**: every table,
figure and metrics file built on it prints :data:`PROXY_NOTE`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image
from torch import Tensor

from srlib.data import degradations, images

PAPER = "Abedjooy & Ebrahimi, Multi-modality image super-resolution using generative adversarial networks"
GT_SIZE = 256  # HR side in the paper
LQ_SIZE = 64  # LR side in the paper (x4)
PAPER_FRACTIONS = (0.8, 0.1, 0.1)  # train / val / test, random split of all pairs
SPLITS = ("train", "val", "test")

PROXY_NOTE = (
    "PROXY DATA: the night images are synthesised from day photos by srlib.night2day.proxy.synthetic_night "
    "(exposure drop, colour cast, light glows, Poisson-Gaussian noise, JPEG); this is not the night2day dataset "
    "(Transient Attributes webcams), and proxy pairs are pixel-aligned renderings of one photo. "
    "Numbers are not comparable with Abedjooy & Ebrahimi Tables 1-3."
)


class Night2DayFormatError(ValueError):
    """An AB file does not have the night2day layout (width = 2 × height)."""


class Night2DaySample(NamedTuple):
    """One pair; every image ``(3, H, W)`` in ``[0, 1]`` on the 8-bit grid."""

    night_lq: Tensor  # (3, 64, 64)
    night_hr: Tensor  # (3, 256, 256)
    day_lq: Tensor  # (3, 64, 64)
    day_hr: Tensor  # (3, 256, 256), the ground truth of every phase


# ------------------------------------------------------------------------------------------------ AB files


def split_ab(img: Tensor, *, name: str | Path | None = None) -> tuple[Tensor, Tensor]:
    """Cut one AB image into ``(night, day)``: night ``A`` is the left half, day ``B`` the right half.

    Args:
        img: ``(3, H, 2H)`` image (``(B, 3, H, 2H)`` works too).
        name: file name for the error message.

    Raises:
        Night2DayFormatError: the width is not twice the height.
    """
    h, w = img.shape[-2:]
    if w != 2 * h:
        where = f"{name}: " if name is not None else ""
        raise Night2DayFormatError(
            f"{where}night2day AB image must be twice as wide as high (512x256), got {w}x{h} (width x height)"
        )
    return img[..., :h], img[..., h:]


def ab_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from the file header (no decode); unreadable files raise :class:`data.ImageReadError`."""
    try:
        with Image.open(path) as im:
            return im.size
    except Exception as exc:
        raise images.ImageReadError(f"cannot read image {path}: {exc}") from exc


def check_ab_header(path: str | Path) -> None:
    """Raise :class:`Night2DayFormatError` naming ``path`` when its header size is not 2:1."""
    w, h = ab_size(path)
    if w != 2 * h:
        raise Night2DayFormatError(
            f"{path}: night2day AB image must be twice as wide as high (512x256), got {w}x{h} (width x height)"
        )


def load_ab(path: str | Path) -> tuple[Tensor, Tensor]:
    """Read an AB file as ``(night, day)``, each ``(3, H, H)`` in ``[0, 1]``; errors name the file."""
    return split_ab(
        images.load_image(path), name=path
    )  # load_image raises ImageReadError naming the file


def list_ab_files(root: str | Path) -> list[Path]:
    """All AB files of a night2day folder, sorted by path relative to ``root``.

    ``root`` is either a flat folder of AB files or the extracted pix2pix tree ``root/{train,val,test}/`` (any of
    those present). The tree's splits are **pooled**: the paper re-splits all pairs at random (:func:`paper_split`).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"night2day folder not found: {root}")
    subdirs = [root / s for s in SPLITS if (root / s).is_dir()]
    if not subdirs:
        return images.list_images(root)
    files = [f for d in subdirs for f in images.list_images(d)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def split_counts(n: int, fractions: Sequence[float] = PAPER_FRACTIONS) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)``: val and test are ``round_half_up(n * f)``, train takes the rest.

    For the paper's 20,110 pairs this gives 16,088 / 2,011 / 2,011 exactly (20,110 is a multiple of 10, so every
    sensible rounding rule agrees there); for other ``n`` the remainder goes to train.
    """
    if (
        len(fractions) != 3
        or any(f < 0 for f in fractions)
        or not math.isclose(sum(fractions), 1.0)
    ):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    n_val, n_test = (math.floor(n * f + 0.5) for f in fractions[1:])
    if n_val + n_test > n:
        raise ValueError(f"cannot split {n} files as {fractions}")
    return n - n_val - n_test, n_val, n_test


def paper_split(
    files: Sequence[str | Path], seed: int, *, fractions: Sequence[float] = PAPER_FRACTIONS
) -> dict[str, list[Path]]:
    """The paper's random 80/10/10 split of all pairs: ``{"train": [...], "val": [...], "test": [...]}``.

    The files are sorted first, so the split depends only on the set of files and ``seed`` (not on listing order);
    a ``torch.randperm`` drawn from a generator seeded with ``seed`` assigns them. Each split is returned sorted.
    Counts follow :func:`split_counts`.
    """
    files = sorted(Path(f) for f in files)
    if len(set(files)) != len(files):
        raise ValueError("paper_split: duplicate files")
    n_train, n_val, _ = split_counts(len(files), fractions)
    perm = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed)).tolist()
    order = [files[i] for i in perm]
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    return {k: sorted(v) for k, v in parts.items()}


# ------------------------------------------------------------------------------------------- LR protocol


def to_gt_size(img: Tensor, size: int = GT_SIZE) -> Tensor:
    """Square HR image of side ``size`` on the 8-bit grid; a no-op (up to quantisation) for 256² night2day halves.

    Other sizes (a non-512×256 AB file, a proxy crop) are resized with MATLAB-compatible antialiased bicubic.
    """
    if tuple(img.shape[-2:]) != (size, size):
        img = degradations.imresize(img, size=(size, size))
    return degradations.quantize(img)


def make_lq(hr: Tensor, size: int = LQ_SIZE) -> Tensor:
    """The paper's LR: ``cv2.resize(hr, (size, size), interpolation=cv2.INTER_LINEAR)``, on the 8-bit grid.

    INTER_LINEAR does not antialias when shrinking (at ×4 each LR pixel interpolates 2×2 HR pixels): that is the
    paper's protocol, not a bug. OpenCV on ``uint8`` input uses fixed-point weights; computing in float and rounding,
    as here, can differ from it by one grey level on a few pixels.
    """
    return degradations.quantize(degradations.bilinear_resize_cv2(hr, (size, size)))


def pre_phase(lq: Tensor, *, scale: int = GT_SIZE // LQ_SIZE) -> Tensor:
    """The "Pre" phase: LR upsampled by nearest neighbour (each pixel becomes a ``scale × scale`` block)."""
    return degradations.nearest_upsample(lq, scale)


def make_sample(
    night: Tensor, day: Tensor, *, gt_size: int = GT_SIZE, lq_size: int = LQ_SIZE
) -> Night2DaySample:
    """``(night_lq, night_hr, day_lq, day_hr)`` from full-size night and day images (paper protocol)."""
    night_hr, day_hr = to_gt_size(night, gt_size), to_gt_size(day, gt_size)
    return Night2DaySample(make_lq(night_hr, lq_size), night_hr, make_lq(day_hr, lq_size), day_hr)


class Night2DayPairs:
    """The real night2day pairs: item ``i`` is :class:`Night2DaySample` of ``files[i]``.

    Args:
        files: AB files (e.g. one split of :func:`paper_split`), or a folder / extracted tree
            (:func:`list_ab_files`).
        gt_size: HR side (256 in the paper).
        lq_size: LR side (64 in the paper).
        check_headers: read every file's header at construction and refuse non-2:1 files, naming the first
            (cheap: no decoding). Truncated files are found when an item is decoded (:class:`data.ImageReadError`
            naming the file); :meth:`verify` decodes them all.
    """

    def __init__(
        self,
        files: Sequence[str | Path] | str | Path,
        *,
        gt_size: int = GT_SIZE,
        lq_size: int = LQ_SIZE,
        check_headers: bool = True,
    ):
        if isinstance(files, str | Path):
            files = list_ab_files(files)
        self.files = [Path(f) for f in files]
        if not self.files:
            raise ValueError("Night2DayPairs needs at least one file")
        if gt_size % lq_size:
            raise ValueError(f"gt_size {gt_size} must be a multiple of lq_size {lq_size}")
        self.gt_size, self.lq_size = gt_size, lq_size
        if check_headers:
            for f in self.files:
                check_ab_header(f)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Night2DaySample:
        night, day = load_ab(self.files[i])
        return make_sample(night, day, gt_size=self.gt_size, lq_size=self.lq_size)

    def verify(self) -> None:
        """Decode every file (raises naming the first bad one)."""
        for f in self.files:
            load_ab(f)


def stack(samples: Sequence[Night2DaySample]) -> Night2DaySample:
    """Batch samples: each field becomes ``(B, 3, H, W)``."""
    return Night2DaySample(*(torch.stack(field) for field in zip(*samples, strict=True)))


def luminance(img: Tensor) -> Tensor:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of ``(..., 3, H, W)`` in [0, 1], shape ``(..., H, W)``."""
    return 0.299 * img[..., 0, :, :] + 0.587 * img[..., 1, :, :] + 0.114 * img[..., 2, :, :]
