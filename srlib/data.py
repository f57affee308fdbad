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
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srlib import degradations

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class ImageReadError(OSError):
    """An image file could not be decoded."""


# ---------------------------------------------------------------------------------------------------- image I/O


EXIF_ORIENTATION = 0x0112  # the EXIF tag phones and cameras set instead of rotating the stored pixels


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
    return np.ascontiguousarray(ops[orientation](arr))  # views with negative strides: torch.from_numpy needs a copy


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
    elif arr.shape[2] == 4:  # RGBA: evaluate the colour channels (srlib.inference handles alpha separately)
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
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return files


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------- embedded default

# Real photographs shipped inside pip wheels. Synthetic images (chessboard, logo, text, phantom) and medical or
# microscopy images are left out. Both motorcycle views are training images so the benchmark holds no near-copy.
EMBEDDED_TRAIN = {
    "skimage": ["astronaut.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
                "hubble_deep_field.jpg", "brick.png", "grass.png", "gravel.png", "camera.png", "coins.png",
                "moon.png"],
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
                raise FileNotFoundError(f"embedded photo missing from the installed {pkg} package: {src}")
            dst = out_dir / f"{pkg}_{src.name}"
            shutil.copyfile(src, dst)
            files.append(dst)
        prep = PreparedSplit(name, out_dir, files, "embedded default (photos shipped by pip packages)")
    else:
        folder = Path(source).expanduser().resolve()
        files = list_images(folder)
        prep = PreparedSplit(name, folder, files, f"folder {folder}")
    for f in prep.files:
        load_image(f)  # raises ImageReadError naming the file
    return prep


def write_manifest(path: Path, splits: dict[str, PreparedSplit], *, proxy: bool) -> dict:
    """``{"proxy": bool, "splits": {split: {name, folder, source, files: [{file, sha256}]}}}``."""
    manifest = {"proxy": bool(proxy), "splits": {
        name: {
            "name": s.name,
            "folder": str(s.folder),
            "source": s.source,
            "files": [{"file": str(f), "sha256": sha256_file(f)} for f in s.files],
        }
        for name, s in splits.items()
    }}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data manifest not found: {path} (run the data_prepare stage first)")
    return json.loads(path.read_text())


def split_info(manifest: dict, split: str) -> dict:
    if split not in manifest["splits"]:
        raise KeyError(f"split {split!r} not in manifest (has {', '.join(manifest['splits'])})")
    return manifest["splits"][split]


def split_files(manifest: dict, split: str) -> list[Path]:
    return [Path(e["file"]) for e in split_info(manifest, split)["files"]]


# -------------------------------------------------------------------------------------------- training pairs


def augment(*imgs: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
    """Same random hflip / vflip / 90-degree rotation for every tensor (BasicSR ``augment``)."""
    hflip, vflip, rot = (torch.rand(3, generator=generator) < 0.5).tolist()
    out = []
    for x in imgs:
        if hflip:
            x = x.flip(-1)
        if vflip:
            x = x.flip(-2)
        if rot:
            x = x.transpose(-1, -2)
        out.append(x)
    return out


def gray_std(img: torch.Tensor) -> float:
    return float((0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]).std())


class PairedPatches:
    """Random HR crops and their degraded LR versions, addressed by training step.

    Args:
        images: HR images ``(3, H, W)`` in [0, 1] (kept in memory as uint8).
        scale: SR factor.
        gt_size: HR crop side (96 in SRGAN; must be divisible by ``scale``).
        batch_size: crops per step.
        degrade: ``gt_batch -> lq_batch``; default MATLAB bicubic downscale by ``scale``.
        flat_threshold: crops whose grey-level std is below this are redrawn (up to 10 times); the photos have
            large flat areas (sky, bokeh) that teach an SR network nothing.
        use_augment: random flips and transposition.
        seed: base seed; batch ``step`` uses a generator seeded with ``(seed, step)``.
    """

    def __init__(
        self,
        images: Sequence[torch.Tensor],
        *,
        scale: int,
        gt_size: int,
        batch_size: int,
        degrade: Callable[[torch.Tensor], torch.Tensor] | None = None,
        flat_threshold: float = 0.0,
        use_augment: bool = True,
        seed: int = 0,
    ):
        if gt_size % scale:
            raise ValueError(f"gt_size {gt_size} must be divisible by scale {scale}")
        self.images = [(img.clamp(0, 1) * 255).round().to(torch.uint8) for img in images]
        small = [i for i, im in enumerate(self.images) if min(im.shape[-2:]) < gt_size]
        if small:
            raise ValueError(f"images {small} are smaller than gt_size={gt_size}")
        if not self.images:
            raise ValueError("PairedPatches needs at least one image")
        self.scale, self.gt_size, self.batch_size = scale, gt_size, batch_size
        self.degrade = degrade or (lambda gt: degradations.imresize(gt, 1 / scale))
        self.flat_threshold, self.use_augment, self.seed = flat_threshold, use_augment, seed

    def generator(self, step: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + step)

    def _crop(self, g: torch.Generator) -> torch.Tensor:
        for _ in range(10):
            img = self.images[int(torch.randint(len(self.images), (1,), generator=g))]
            h, w = img.shape[-2:]
            top = int(torch.randint(h - self.gt_size + 1, (1,), generator=g))
            left = int(torch.randint(w - self.gt_size + 1, (1,), generator=g))
            crop = img[:, top : top + self.gt_size, left : left + self.gt_size].float() / 255.0
            if gray_std(crop) >= self.flat_threshold:
                break
        if self.use_augment:
            (crop,) = augment(crop, generator=g)
        return crop

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lq, gt)`` for training step ``step``: ``(B, 3, s, s)`` and ``(B, 3, S, S)``, S = scale * s."""
        g = self.generator(step)
        gt = torch.stack([self._crop(g) for _ in range(self.batch_size)])
        lq = degradations.quantize(self.degrade(gt).clamp(0, 1))  # LR stored as 8-bit, as in the papers
        return lq, gt


def load_images(files: Sequence[Path], *, max_side: int = 0) -> list[torch.Tensor]:
    """Load files as RGB tensors; ``max_side > 0`` shrinks larger images (MATLAB bicubic) to save memory."""
    out = []
    for f in files:
        img = load_image(f)
        side = max(img.shape[-2:])
        if max_side and side > max_side:
            h, w = img.shape[-2:]
            img = degradations.imresize(img, size=(round(h * max_side / side), round(w * max_side / side)))
            img = img.clamp(0, 1)
        out.append(img)
    return out


def benchmark_pairs(files: Sequence[Path], scale: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, lq, gt)`` per file: gt mod-cropped to the scale, lq = 8-bit MATLAB bicubic downscale."""
    pairs = []
    for f in files:
        gt = degradations.mod_crop(load_image(f), scale)
        lq = degradations.quantize(degradations.imresize(gt, 1 / scale).clamp(0, 1))
        pairs.append((Path(f).stem, lq, gt))
    return pairs
