"""Images, the embedded default photo set, and paired random-crop training data.

* :func:`load_image` reads any PIL-readable file as RGB float ``(3, H, W)`` in ``[0, 1]`` (grey is repeated to three
  channels, alpha is dropped, 16-bit is scaled by 65535), turned upright by its EXIF orientation; unreadable files
  raise :class:`ImageReadError` naming them.
* The **embedded default** is a small set of real photographs that pip packages ship (scikit-image's offline data,
  scikit-learn's sample images, matplotlib's ``grace_hopper.jpg``), with a fixed train/benchmark split, so the whole
  study runs on any fresh machine. It is a stand-in for DIV2K / Set5, and labelled ``embedded`` everywhere.
* :class:`PairedPatches` samples training pairs. Batch ``step`` is a pure function of ``(seed, step)``, which is what
  makes checkpoint + resume reproduce uninterrupted training exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srlib.data import degradations

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class ImageReadError(OSError):
    """An image file could not be decoded."""


# ---------------------------------------------------------------------------------------------------- image I/O


EXIF_ORIENTATION = (
    0x0112  # the EXIF tag phones and cameras set instead of rotating the stored pixels
)


def exif_orientation(im: Image.Image) -> int:
    """EXIF orientation (1-8) of an opened, loaded image; 1 (pixels stored upright) when absent or invalid.

    Call it after ``im.load()``: PNG files may carry their EXIF block after the pixel data.
    """
    try:
        value = im.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block must not make otherwise readable pixels unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """``arr`` (``(H, W)`` or ``(H, W, C)``, any dtype) as it is meant to be displayed for EXIF ``orientation``.

    The same transposition as ``PIL.ImageOps.exif_transpose``, done on the array so that it also applies to 16-bit
    colour images that PIL cannot hold (read with OpenCV, which ignores the tag with ``IMREAD_UNCHANGED``).
    Orientation 6 (a phone held upright) stores the picture turned 90 degrees anticlockwise: it is turned clockwise.
    """
    ops = {
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # rotated 180
        4: lambda a: a[::-1],  # mirrored top-bottom
        5: lambda a: a.swapaxes(0, 1),  # transposed (mirror about the main diagonal)
        6: lambda a: np.rot90(a, -1),  # turn clockwise
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # transversed (mirror about the other diagonal)
        8: lambda a: np.rot90(a, 1),  # turn anticlockwise
    }
    if orientation not in ops:
        return arr
    return np.ascontiguousarray(
        ops[orientation](arr)
    )  # views with negative strides: torch.from_numpy needs a copy


def load_image(path: str | Path) -> torch.Tensor:
    """Read ``path`` as an RGB float tensor ``(3, H, W)`` in ``[0, 1]``, upright by its EXIF orientation."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im)
            mode = im.mode
            orientation = exif_orientation(im)
    except Exception as exc:  # PIL raises several types for truncated / non-image files
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc
    arr = apply_orientation(arr, orientation)
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = arr.astype(np.float32) / 65535.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif arr.dtype == bool:
        arr = arr.astype(np.float32)
    else:
        arr = arr.astype(np.float32) / 255.0
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.shape[2] == 2:  # LA
        arr = np.repeat(arr[..., :1], 3, axis=2)
    elif (
        arr.shape[2] == 4
    ):  # RGBA: evaluate the colour channels (srlib.inference handles alpha separately)
        arr = arr[..., :3]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).clamp_(0, 1)


def save_image(img: torch.Tensor, path: str | Path) -> Path:
    """Write a ``(3, H, W)`` or ``(1, 3, H, W)`` tensor in ``[0, 1]`` as an 8-bit image."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = img.detach().float().cpu()
    if img.ndim == 4:
        img = img[0]
    arr = (img.clamp(0, 1).numpy().transpose(1, 2, 0) * 255.0).round().astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path


def list_images(folder: str | Path) -> list[Path]:
    """Sorted image files directly inside ``folder``; a clear error when it is missing or holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return files


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_images(files: Sequence[Path], *, max_side: int = 0) -> list[torch.Tensor]:
    """Load files as RGB tensors; ``max_side > 0`` shrinks larger images (MATLAB bicubic) to save memory."""
    out = []
    for f in files:
        img = load_image(f)
        side = max(img.shape[-2:])
        if max_side and side > max_side:
            h, w = img.shape[-2:]
            img = degradations.imresize(
                img, size=(round(h * max_side / side), round(w * max_side / side))
            )
            img = img.clamp(0, 1)
        out.append(img)
    return out


def benchmark_pairs(
    files: Sequence[Path], scale: int
) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, lq, gt)`` per file: gt mod-cropped to the scale, lq = 8-bit MATLAB bicubic downscale."""
    pairs = []
    for f in files:
        gt = degradations.mod_crop(load_image(f), scale)
        lq = degradations.quantize(degradations.imresize(gt, 1 / scale).clamp(0, 1))
        pairs.append((Path(f).stem, lq, gt))
    return pairs


def folder_images(cfg, name: str) -> list[Path]:
    """The images of the folder parameter ``name`` of a stage config; a one-line error naming it when there are none."""
    from srlib import paths
    from srlib.config import ParamsError

    folder = getattr(cfg, name)
    try:
        return list_images(paths.resolve(folder))
    except (FileNotFoundError, ValueError) as exc:
        raise ParamsError(f"{cfg.STAGE}: parameter {name!r} = {folder!r}: {exc}") from None


def photo_inputs(cfg, name: str, *, crop: int, mod: int) -> list[tuple[str, torch.Tensor]]:
    """The photos listed in parameter ``name`` (no ground truth) as LR inputs: centre ``crop`` crops (0: whole),
    mod-cropped to ``mod``; a one-line error naming the parameter for a path that is not a file."""
    from srlib import evaluation, paths
    from srlib.config import ParamsError

    out = []
    for p in getattr(cfg, name):
        path = paths.resolve(p)
        if not path.is_file():
            raise ParamsError(f"{cfg.STAGE}: parameter {name!r}: {p} is not a file")
        img = load_image(path)
        img = evaluation.center_crop(img, crop) if crop else img
        out.append((Path(p).stem, degradations.mod_crop(img, mod)))
    return out
