"""The synthetic-night proxy of pix2pix's night2day pairs, built from day photos (labelled PROXY everywhere).

A seeded rendering of each day photo as night: exposure drop with a gamma, a sodium / blue / warm-white cast, lamp
glows, Poisson-Gaussian sensor noise and JPEG compression (:func:`render_night`, parameters drawn by
:func:`sample_night_params`). :class:`ProxyNight2DayPairs` yields the same samples as the real loader
(:mod:`srlib.night2day.data`), so every later stage runs unchanged on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from srlib import training
from srlib.data import degradations, images
from srlib.night2day.data import GT_SIZE, LQ_SIZE, PROXY_NOTE, Night2DaySample, make_lq, to_gt_size

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
    glow_rows: tuple[float, float] = (
        0.25,
        0.95,
    )  # vertical placement (0 = top): lamps sit below the sky
    core_sigma_range: tuple[float, float] = (0.004, 0.012)  # fraction of the short side
    halo_factor_range: tuple[float, float] = (4.0, 10.0)  # halo sigma / core sigma
    core_gain_range: tuple[float, float] = (0.8, 1.5)  # core peak (saturates above 1)
    halo_gain_range: tuple[float, float] = (0.08, 0.30)  # halo peak
    p_sodium_lamp: float = 0.6  # lamp colour: sodium, otherwise warm white
    # Poisson–Gaussian sensor noise: x + (Poisson(x * peak) / peak - x) + N(0, read_sigma^2)
    peak_range: tuple[float, float] = (
        30.0,
        300.0,
    )  # photons at white, drawn log-uniform (fewer = noisier)
    read_sigma_range: tuple[float, float] = (0.002, 0.012)
    # JPEG
    jpeg_quality_range: tuple[int, int] = (
        60,
        90,
    )  # inclusive; (100, 100) keeps JPEG at its mildest

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
    glows: list[
        dict
    ]  # {"y", "x" (pixels), "core_sigma", "halo_sigma" (pixels), "core_gain", "halo_gain", "colour"}
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
        glows.append(
            {
                "y": _uniform(g, *cfg.glow_rows) * (h - 1),
                "x": _uniform(g, 0, 1) * (w - 1),
                "core_sigma": core,
                "halo_sigma": core * _uniform(g, *cfg.halo_factor_range),
                "core_gain": _uniform(g, *cfg.core_gain_range),
                "halo_gain": _uniform(g, *cfg.halo_gain_range),
                "colour": SODIUM if _uniform(g, 0, 1) < cfg.p_sodium_lamp else WARM_WHITE,
            }
        )
    log_peak = _uniform(g, math.log(cfg.peak_range[0]), math.log(cfg.peak_range[1]))
    return NightParams(
        gamma=gamma,
        gain=gain,
        tint=tint,
        cast_strength=strength,
        glows=glows,
        peak=math.exp(log_peak),
        read_sigma=_uniform(g, *cfg.read_sigma_range),
        jpeg_quality=_randint(g, *cfg.jpeg_quality_range),
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
        for sigma, peak in (
            (lamp["core_sigma"], lamp["core_gain"]),
            (lamp["halo_sigma"], lamp["halo_gain"]),
        ):
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
        files: day photos, or a folder of them (:func:`srlib.data.images.list_images`).
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
            files = images.list_images(files)
        self.files = [Path(f) for f in files]
        if not self.files:
            raise ValueError("ProxyNight2DayPairs needs at least one photo")
        if mode not in ("crop", "resize"):
            raise ValueError(f"mode must be 'crop' or 'resize', got {mode!r}")
        if not 0 < crop_fraction[0] <= crop_fraction[1] <= 1:
            raise ValueError(
                f"crop_fraction must satisfy 0 < low <= high <= 1, got {crop_fraction}"
            )
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
            (img,) = images.load_images([self.files[k]], max_side=self.max_side)
            self._cache[k] = (img * 255).round().to(torch.uint8)  # (3, H, W) uint8 in memory
        return self._cache[k].float() / 255

    def generator(self, i: int) -> torch.Generator:
        return training.step_generator(self.seed, i)

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
        return Night2DaySample(
            make_lq(night_hr, self.lq_size), night_hr, make_lq(day_hr, self.lq_size), day_hr
        )
