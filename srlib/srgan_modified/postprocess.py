"""Post-processing of super-resolved images, as the modified-SRGAN seed applies it after the network.

Seed: vTuanpham/SRGAN_Reimplementation_modified, ``loadh5baend.py`` (``predictedLrImage``, ``matchHistogram``,
``fFTransformFiltering``). Two fixes against GAN artefacts, in the seed's order:

1. **histogram matching** of each channel of the output to the *LR input* (``skimage.exposure.match_histograms``):
   undoes colour and brightness shifts, because a x4 upscale should keep the input's colour distribution;
2. **FFT low-pass**: per channel, the centred spectrum is multiplied by a disc of radius
   ``r = int(radius * max(H, W))`` frequency bins (``radius`` = 0.23, the seed's "auto" amount 23), removing
   high-frequency GAN patterns (checkerboards, stripes). The disc is in bin units, so on a non-square image it
   keeps relatively more of the short axis' band (the seed's behaviour, kept);
3. **histogram matching** again, because the low-pass changes the value distribution.

Faithful details behind ``seed_quirks`` / ``as_coded``: the seed first min-max stretches the network output to the
full range; its low-pass returns the *magnitude* of the inverse transform (``cv2.magnitude``, which folds negative
ringing up) min-max normalised per channel; and in the code as written the low-pass reads the min-maxed output, not
the first histogram match (that match only produces the saved "before denoising" image). :func:`seed_postprocess`
follows the order the report describes (match -> low-pass -> match) unless ``as_coded=True``.

Images are float tensors ``(3, H, W)`` or ``(B, 3, H, W)`` in [0, 1]; results are clamped to [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.exposure import match_histograms as _sk_match

SEED_RADIUS = (
    0.23  # "auto" denoise amount 23 % (the standalone fastFTranformFiltering.py demo uses 0.28)
)


def _per_image(fn, img: torch.Tensor, *others: torch.Tensor) -> torch.Tensor:
    if img.ndim == 3:
        return fn(img, *others)
    if img.ndim != 4:
        raise ValueError(f"expected (C, H, W) or (B, C, H, W), got {tuple(img.shape)}")
    return torch.stack(
        [fn(img[i], *(o[i] if o.ndim == 4 else o for o in others)) for i in range(img.shape[0])]
    )


def minmax(img: torch.Tensor, *, per_channel: bool = False) -> torch.Tensor:
    """Stretch to [0, 1] (``cv2.normalize(..., NORM_MINMAX)``): over all channels, or each channel separately."""
    dims = (-2, -1) if per_channel else (-3, -2, -1)
    lo, hi = img.amin(dim=dims, keepdim=True), img.amax(dim=dims, keepdim=True)
    return (img - lo) / (hi - lo).clamp_min(1e-12)


def match_histograms(sr: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Match each channel's histogram of ``sr`` to ``ref`` (any size, e.g. the LR input); skimage's algorithm.

    ``skimage.exposure.match_histograms`` maps every value of ``sr`` to the ``ref`` value at the same quantile, so the
    result has ``ref``'s per-channel value distribution while keeping ``sr``'s ordering of pixels.
    """

    def one(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != r.shape[0]:
            raise ValueError(f"channel mismatch: {x.shape[0]} vs reference {r.shape[0]}")
        a = x.detach().cpu().double().numpy().transpose(1, 2, 0)
        b = r.detach().cpu().double().numpy().transpose(1, 2, 0)
        out = _sk_match(a, b, channel_axis=-1)
        return (
            torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))
            .to(x.device, x.dtype)
            .clamp_(0, 1)
        )

    return _per_image(one, sr, ref)


def lowpass_mask(h: int, w: int, radius: float = SEED_RADIUS, *, device=None) -> torch.Tensor:
    """Boolean ``(h, w)`` mask in *unshifted* FFT layout: True where ``ky^2 + kx^2 < r^2``, r = int(radius max(h, w)).

    ``ky, kx`` are the integer frequencies (``fftfreq * n``), i.e. the distances from the centre of the seed's
    ``fftshift``-ed spectrum, so this equals its mask without shifting back and forth. ``ValueError`` when ``r < 1``
    (radius <= 0, or too small for the image): the mask would be empty.
    """
    r = int(max(h, w) * radius)
    if (
        r < 1
    ):  # an empty disc keeps no frequency at all: the "filtered" image would be black (or flat grey)
        raise ValueError(
            f"low-pass radius {radius:g} x max(H, W) = {max(h, w)} px is below one frequency bin, so "
            f"nothing would be kept (a black image): use a radius >= {1 / max(h, w):.3g}"
        )
    ky = torch.fft.fftfreq(h, device=device) * h
    kx = torch.fft.fftfreq(w, device=device) * w
    return ky[:, None] ** 2 + kx[None, :] ** 2 < r * r


def fft_lowpass(
    img: torch.Tensor, *, radius: float = SEED_RADIUS, seed_quirks: bool = False
) -> torch.Tensor:
    """Ideal circular low-pass per channel with ``torch.fft`` (radius as a fraction of max(H, W), see module doc).

    With ``seed_quirks`` the result is the magnitude of the inverse transform, min-max stretched per channel, as the
    seed's ``cv2.idft`` + ``cv2.magnitude`` + ``cv2.normalize``; otherwise the real part, clamped to [0, 1].
    """
    mask = lowpass_mask(img.shape[-2], img.shape[-1], radius, device=img.device)
    spec = torch.fft.fft2(img.double()) * mask  # (..., C, H, W) complex
    back = torch.fft.ifft2(spec)
    if seed_quirks:
        return minmax(back.abs(), per_channel=True).to(img.dtype)
    return back.real.clamp(0, 1).to(img.dtype)


def seed_postprocess(
    sr: torch.Tensor, lq: torch.Tensor, *, radius: float = SEED_RADIUS, as_coded: bool = False
) -> torch.Tensor:
    """The seed's chain: min-max, match to ``lq``, low-pass (magnitude, min-max), match to ``lq`` again.

    Args:
        sr: network output (any range; it is min-max stretched first, as the seed does).
        lq: the LR input the histograms are matched to (the original, not the [30, 255]-stretched one).
        radius: low-pass radius as a fraction of max(H, W).
        as_coded: feed the min-maxed output (not the first match) to the low-pass, as ``loadh5baend.py`` does.
    """
    stretched = minmax(sr.float())
    matched = match_histograms(stretched, lq)
    smooth = fft_lowpass(stretched if as_coded else matched, radius=radius, seed_quirks=True)
    return match_histograms(smooth, lq)


STEPS = ("match", "lowpass", "seed")


def parse_steps(steps: str | list[str] | None) -> list[str]:
    """``"match,lowpass,match"`` (or a list) -> validated step names; ``""``, ``None`` and ``"none"`` -> ``[]``."""
    if not steps:
        return []
    names = [
        s.strip() for s in (steps.split(",") if isinstance(steps, str) else steps) if s.strip()
    ]
    names = [n for n in names if n != "none"]
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ValueError(
            f"unknown post-processing step(s) {unknown}; use {', '.join(STEPS)} (comma-separated)"
        )
    return names


def apply_steps(
    sr: torch.Tensor, lq: torch.Tensor, steps: str | list[str], *, radius: float = SEED_RADIUS
):
    """Apply ``steps`` in order: ``match`` (to ``lq``), ``lowpass`` (the clean filter) or ``seed``
    (:func:`seed_postprocess`); ``steps`` is a list or a comma-separated string such as ``"match,lowpass,match"``."""
    out = (
        sr  # raw network output: `seed` min-max stretches it itself, the other steps return [0, 1]
    )
    for name in parse_steps(steps):
        if name == "match":
            out = match_histograms(out, lq)
        elif name == "lowpass":
            out = fft_lowpass(out, radius=radius)
        else:
            out = seed_postprocess(out, lq, radius=radius)
    return out.clamp(0, 1)
