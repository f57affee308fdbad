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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image
from torch import Tensor

from srlib import data, degradations

PAPER = "Abedjooy & Ebrahimi, Multi-modality image super-resolution using generative adversarial networks"
GT_SIZE = 256  # HR side in the paper
LQ_SIZE = 64  # LR side in the paper (x4)
PAPER_FRACTIONS = (0.8, 0.1, 0.1)  # train / val / test, random split of all pairs
SPLITS = ("train", "val", "test")

PROXY_NOTE = (
    "PROXY DATA: the night images are synthesised from day photos by srlib.night2day.synthetic_night "
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
        raise data.ImageReadError(f"cannot read image {path}: {exc}") from exc


def check_ab_header(path: str | Path) -> None:
    """Raise :class:`Night2DayFormatError` naming ``path`` when its header size is not 2:1."""
    w, h = ab_size(path)
    if w != 2 * h:
        raise Night2DayFormatError(
            f"{path}: night2day AB image must be twice as wide as high (512x256), got {w}x{h} (width x height)"
        )


def load_ab(path: str | Path) -> tuple[Tensor, Tensor]:
    """Read an AB file as ``(night, day)``, each ``(3, H, H)`` in ``[0, 1]``; errors name the file."""
    return split_ab(data.load_image(path), name=path)  # load_image raises ImageReadError naming the file


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
        return data.list_images(root)
    files = [f for d in subdirs for f in data.list_images(d)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def split_counts(n: int, fractions: Sequence[float] = PAPER_FRACTIONS) -> tuple[int, int, int]:
    """``(n_train, n_val, n_test)``: val and test are ``round_half_up(n * f)``, train takes the rest.

    For the paper's 20,110 pairs this gives 16,088 / 2,011 / 2,011 exactly (20,110 is a multiple of 10, so every
    sensible rounding rule agrees there); for other ``n`` the remainder goes to train.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
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


def make_sample(night: Tensor, day: Tensor, *, gt_size: int = GT_SIZE, lq_size: int = LQ_SIZE) -> Night2DaySample:
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


# ------------------------------------------------------------------------------------ synthetic-night proxy

# Lamp colours (linear-ish RGB multipliers, max 1). Low-pressure / high-pressure sodium street lights are the orange
# cast of night webcams; the blue cast stands for moonlight / blue hour and for white LED lighting seen by a camera
# white-balanced for tungsten.
SODIUM = (1.0, 0.62, 0.28)
BLUE = (0.55, 0.70, 1.0)
WARM_WHITE = (1.0, 0.90, 0.75)


@dataclass
class SyntheticNightConfig:
    """Parameters of :func:`synthetic_night`; each ``*_range`` is drawn uniformly per image.

    The exposure model ``night = gain * day ** gamma`` follows the usual low-light synthesis (gamma darkens shadows
    more than highlights, gain lowers everything); noise follows the Poisson–Gaussian sensor model (Foi et al. 2008)
    on the darkened image. Everything happens in display (sRGB-encoded) space: a proxy, not a radiometric camera
    model. Sizes of glows are fractions of the image's short side, so 256² crops and full photos look alike.
    """

    # exposure drop
    gamma_range: tuple[float, float] = (1.5, 2.5)
    gain_range: tuple[float, float] = (0.15, 0.40)
    # colour cast: multiply by 1 + strength * (tint - 1), renormalised to keep luminance
    p_sodium: float = 0.6  # probability of the orange sodium tint; otherwise blue
    cast_strength_range: tuple[float, float] = (0.3, 0.8)
    # artificial light glows: a bright core and a wide dim halo per lamp
    glows_range: tuple[int, int] = (1, 5)  # number of lamps, inclusive
    glow_rows: tuple[float, float] = (0.25, 0.95)  # vertical placement (0 = top): lamps sit below the sky
    core_sigma_range: tuple[float, float] = (0.004, 0.012)  # fraction of the short side
    halo_factor_range: tuple[float, float] = (4.0, 10.0)  # halo sigma / core sigma
    core_gain_range: tuple[float, float] = (0.8, 1.5)  # core peak (saturates above 1)
    halo_gain_range: tuple[float, float] = (0.08, 0.30)  # halo peak
    p_sodium_lamp: float = 0.6  # lamp colour: sodium, otherwise warm white
    # Poisson–Gaussian sensor noise: x + (Poisson(x * peak) / peak - x) + N(0, read_sigma^2)
    peak_range: tuple[float, float] = (30.0, 300.0)  # photons at white, drawn log-uniform (fewer = noisier)
    read_sigma_range: tuple[float, float] = (0.002, 0.012)
    # JPEG
    jpeg_quality_range: tuple[int, int] = (60, 90)  # inclusive; (100, 100) keeps JPEG at its mildest

    def __post_init__(self):
        for name, value in asdict(self).items():
            if name.endswith("_range") or name == "glow_rows":
                lo, hi = value
                if lo > hi:
                    raise ValueError(f"{name}: low {lo} > high {hi}")
        if not (0 <= self.p_sodium <= 1 and 0 <= self.p_sodium_lamp <= 1):
            raise ValueError("probabilities must lie in [0, 1]")
        if self.peak_range[0] <= 0 or self.gain_range[0] <= 0 or self.gamma_range[0] <= 0:
            raise ValueError("peak, gain and gamma must be > 0")


@dataclass
class NightParams:
    """One draw of :class:`SyntheticNightConfig` (kept so a figure can say what was applied)."""

    gamma: float
    gain: float
    tint: tuple[float, float, float]
    cast_strength: float
    glows: list[dict]  # {"y", "x" (pixels), "core_sigma", "halo_sigma" (pixels), "core_gain", "halo_gain", "colour"}
    peak: float
    read_sigma: float
    jpeg_quality: int


def _uniform(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(1, generator=g, dtype=torch.float64))


def _randint(g: torch.Generator, lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]`` inclusive."""
    return int(torch.randint(lo, hi + 1, (1,), generator=g))


def sample_night_params(
    size: tuple[int, int], *, generator: torch.Generator, cfg: SyntheticNightConfig
) -> NightParams:
    """Draw the per-image parameters for an image of ``size = (H, W)``; uses only ``generator``."""
    g = generator
    h, w = size
    short = min(h, w)
    gamma, gain = _uniform(g, *cfg.gamma_range), _uniform(g, *cfg.gain_range)
    tint = SODIUM if _uniform(g, 0, 1) < cfg.p_sodium else BLUE
    strength = _uniform(g, *cfg.cast_strength_range)
    glows = []
    for _ in range(_randint(g, *cfg.glows_range)):
        core = _uniform(g, *cfg.core_sigma_range) * short
        glows.append({
            "y": _uniform(g, *cfg.glow_rows) * (h - 1),
            "x": _uniform(g, 0, 1) * (w - 1),
            "core_sigma": core,
            "halo_sigma": core * _uniform(g, *cfg.halo_factor_range),
            "core_gain": _uniform(g, *cfg.core_gain_range),
            "halo_gain": _uniform(g, *cfg.halo_gain_range),
            "colour": SODIUM if _uniform(g, 0, 1) < cfg.p_sodium_lamp else WARM_WHITE,
        })
    log_peak = _uniform(g, math.log(cfg.peak_range[0]), math.log(cfg.peak_range[1]))
    return NightParams(
        gamma=gamma, gain=gain, tint=tint, cast_strength=strength, glows=glows, peak=math.exp(log_peak),
        read_sigma=_uniform(g, *cfg.read_sigma_range), jpeg_quality=_randint(g, *cfg.jpeg_quality_range),
    )


def glow_map(size: tuple[int, int], glows: Sequence[dict]) -> Tensor:
    """``(3, H, W)`` additive light of the lamps: per lamp ``colour * (core_gain * G(core) + halo_gain * G(halo))``
    with ``G(s)`` an unnormalised Gaussian of peak 1 and sigma ``s`` pixels."""
    h, w = size
    yy = torch.arange(h, dtype=torch.float32)[:, None]  # (H, 1)
    xx = torch.arange(w, dtype=torch.float32)[None, :]  # (1, W)
    out = torch.zeros(3, h, w)
    for lamp in glows:
        light = torch.zeros(h, w)
        for sigma, peak in ((lamp["core_sigma"], lamp["core_gain"]), (lamp["halo_sigma"], lamp["halo_gain"])):
            # a 2-D Gaussian is the outer product of two 1-D ones: (H, 1) * (1, W)
            gy = torch.exp(-((yy - lamp["y"]) ** 2) / (2 * sigma**2))
            gx = torch.exp(-((xx - lamp["x"]) ** 2) / (2 * sigma**2))
            light += peak * (gy * gx)
        out += torch.tensor(lamp["colour"]).view(3, 1, 1) * light
    return out


def render_night(day: Tensor, params: NightParams, *, generator: torch.Generator) -> Tensor:
    """Apply ``params`` to one day image ``(3, H, W)``; ``generator`` draws the sensor noise only."""
    x = day.float().clamp(0, 1)
    # 1. exposure drop
    x = params.gain * x.pow(params.gamma)
    # 2. colour cast, renormalised so the BT.601 luma of a grey pixel is unchanged
    tint = 1 + params.cast_strength * (torch.tensor(params.tint) - 1)
    tint = tint / (0.299 * tint[0] + 0.587 * tint[1] + 0.114 * tint[2])
    x = x * tint.view(3, 1, 1)
    # 3. artificial lights (additive; cores saturate)
    x = (x + glow_map(tuple(x.shape[-2:]), params.glows)).clamp(0, 1)
    # 4. Poisson–Gaussian sensor noise: shot noise on the photon count, then read noise
    x = torch.poisson(x * params.peak, generator=generator) / params.peak
    x = degradations.add_gaussian_noise(x, params.read_sigma, generator=generator)
    # 5. 8-bit JPEG, as a webcam would store it
    return degradations.jpeg(x.clamp(0, 1), params.jpeg_quality)


def synthetic_night(
    day: Tensor, *, generator: torch.Generator, cfg: SyntheticNightConfig | None = None
) -> Tensor:
    """A **proxy** night image rendered from a day photo (see :data:`PROXY_NOTE`).

    Steps: exposure drop ``gain * day ** gamma``; colour cast (orange sodium or blue); a few artificial light glows
    (bright Gaussian core + wide halo, placed at random below the top quarter); Poisson–Gaussian sensor noise; JPEG.
    All randomness comes from ``generator``, so the same seed gives the same night image.

    Args:
        day: ``(3, H, W)`` or ``(B, 3, H, W)`` in ``[0, 1]``; a batch draws parameters per image, in order.
        generator: a CPU ``torch.Generator``.
        cfg: :class:`SyntheticNightConfig` (defaults when ``None``).

    Returns:
        The night image, same shape, on the 8-bit grid, float32 on ``day``'s device.
    """
    cfg = cfg or SyntheticNightConfig()
    imgs = day[None] if day.dim() == 3 else day
    if imgs.dim() != 4 or imgs.shape[1] != 3:
        raise ValueError(f"expected (3, H, W) or (B, 3, H, W), got {tuple(day.shape)}")
    outs = []
    for img in imgs.detach().cpu():
        params = sample_night_params(tuple(img.shape[-2:]), generator=generator, cfg=cfg)
        outs.append(render_night(img, params, generator=generator))
    out = torch.stack(outs).to(day.device)
    return out[0] if day.dim() == 3 else out


class ProxyNight2DayPairs:
    """**Proxy** night2day pairs from a folder of day photos (see :data:`PROXY_NOTE`).

    Item ``i`` uses photo ``i % len(files)`` and a generator seeded with ``(seed, i)``, so it is a pure function of
    ``(files, seed, i, cfg)``. The day HR is a square crop resized to ``gt_size`` (MATLAB bicubic, antialiased):

    * ``mode="crop"``: random side in ``crop_fraction`` × the short side, random position, random horizontal flip;
    * ``mode="resize"``: the central square of the whole photo (no randomness in the geometry).

    The night HR is :func:`synthetic_night` of the day HR (rendered at HR, like a real night photo), and both LR
    images follow the paper's protocol (:func:`make_lq`).

    Args:
        files: day photos, or a folder of them (:func:`srlib.data.list_images`).
        seed: base seed.
        cfg: :class:`SyntheticNightConfig`.
        pairs_per_image: items per photo (``len = len(files) * pairs_per_image``).
        mode: ``"crop"`` or ``"resize"``.
        crop_fraction: ``(low, high)`` of the crop side relative to the short side (``mode="crop"``).
        gt_size, lq_size: 256 and 64 in the paper.
        max_side: photos larger than this are shrunk once on load (MATLAB bicubic) and cached in memory;
            0 keeps full size.
    """

    note = PROXY_NOTE

    def __init__(
        self,
        files: Sequence[str | Path] | str | Path,
        *,
        seed: int = 0,
        cfg: SyntheticNightConfig | None = None,
        pairs_per_image: int = 1,
        mode: str = "crop",
        crop_fraction: tuple[float, float] = (0.5, 1.0),
        gt_size: int = GT_SIZE,
        lq_size: int = LQ_SIZE,
        max_side: int = 1024,
    ):
        if isinstance(files, str | Path):
            files = data.list_images(files)
        self.files = [Path(f) for f in files]
        if not self.files:
            raise ValueError("ProxyNight2DayPairs needs at least one photo")
        if mode not in ("crop", "resize"):
            raise ValueError(f"mode must be 'crop' or 'resize', got {mode!r}")
        if not 0 < crop_fraction[0] <= crop_fraction[1] <= 1:
            raise ValueError(f"crop_fraction must satisfy 0 < low <= high <= 1, got {crop_fraction}")
        if pairs_per_image < 1 or gt_size % lq_size:
            raise ValueError("pairs_per_image must be >= 1 and gt_size a multiple of lq_size")
        self.seed, self.cfg = seed, cfg or SyntheticNightConfig()
        self.pairs_per_image, self.mode, self.crop_fraction = pairs_per_image, mode, crop_fraction
        self.gt_size, self.lq_size, self.max_side = gt_size, lq_size, max_side
        self._cache: dict[int, Tensor] = {}

    def __len__(self) -> int:
        return len(self.files) * self.pairs_per_image

    def _photo(self, k: int) -> Tensor:
        if k not in self._cache:
            (img,) = data.load_images([self.files[k]], max_side=self.max_side)
            self._cache[k] = (img * 255).round().to(torch.uint8)  # (3, H, W) uint8 in memory
        return self._cache[k].float() / 255

    def generator(self, i: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + i)

    def day_hr(self, i: int, generator: torch.Generator) -> Tensor:
        photo = self._photo(i % len(self.files))
        h, w = photo.shape[-2:]
        short = min(h, w)
        if self.mode == "resize":
            side, top, left = short, (h - short) // 2, (w - short) // 2
        else:
            side = max(1, round(_uniform(generator, *self.crop_fraction) * short))
            top = _randint(generator, 0, h - side)
            left = _randint(generator, 0, w - side)
        crop = photo[:, top : top + side, left : left + side]
        if self.mode == "crop" and _uniform(generator, 0, 1) < 0.5:
            crop = crop.flip(-1)
        return to_gt_size(crop.clamp(0, 1), self.gt_size).clamp(0, 1)

    def __getitem__(self, i: int) -> Night2DaySample:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} proxy pairs")
        i %= len(self)
        g = self.generator(i)
        day_hr = self.day_hr(i, g)
        night_hr = synthetic_night(day_hr, generator=g, cfg=self.cfg)
        return Night2DaySample(make_lq(night_hr, self.lq_size), night_hr, make_lq(day_hr, self.lq_size), day_hr)


def luminance(img: Tensor) -> Tensor:
    """BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of ``(..., 3, H, W)`` in [0, 1], shape ``(..., H, W)``."""
    return 0.299 * img[..., 0, :, :] + 0.587 * img[..., 1, :, :] + 0.114 * img[..., 2, :, :]
