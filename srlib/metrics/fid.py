"""FID and KID from Inception pool3 features: the math, apart from loading the network (:mod:`srlib.metrics.inception`).

* :func:`frechet_distance` -- ``‖μ1 - μ2‖² + Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½)`` as pytorch-fid / TTUR compute it;
* :func:`fid` -- two image sets (folders or tensors) to one number, with the small-sample caveats in ``warnings``
  (FID is biased upward roughly as FID∞ + k / N, and N ≤ dims gives singular covariances);
* :func:`kid_from_features` / :func:`kid` -- the unbiased MMD² with the cubic polynomial kernel
  ``k(x, y) = (xᵀy / d + 1)³`` averaged over random subsets (Bińkowski et al. 2018): the better small-N signal.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import numpy as np
import torch

from srlib.metrics.inception import Images, fid_inception, inception_features, inception_stats


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, *, eps: float = 1e-6
) -> float:
    """Fréchet distance ``‖μ1 - μ2‖² + Tr(Σ1) + Tr(Σ2) - 2 Tr((Σ1 Σ2)^½)`` between two Gaussians (float64).

    Computed by pytorch-fid's own ``calculate_frechet_distance`` (``scipy.linalg.sqrtm`` of Σ1 Σ2 as in TTUR; if
    the root is not finite, ``eps`` is added to both diagonals; an imaginary diagonal beyond 1e-3 raises
    ``ValueError``). Here: shapes are checked first (a clear ``ValueError``), and its printed fallback notice becomes
    one ``RuntimeWarning``. The result can be slightly negative (≈ -1e-6) for identical statistics.
    """
    from pytorch_fid.fid_score import calculate_frechet_distance

    mu1, mu2 = (np.atleast_1d(np.asarray(m, np.float64)) for m in (mu1, mu2))
    s1, s2 = (np.atleast_2d(np.asarray(s, np.float64)) for s in (sigma1, sigma2))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}"
        )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        # pytorch-fid 0.3.0 calls sqrtm(disp=False), deprecated since SciPy 1.16 (same algorithm, same result)
        warnings.filterwarnings(
            "ignore", message="The `disp` argument is deprecated", category=DeprecationWarning
        )
        value = calculate_frechet_distance(mu1, s1, mu2, s2, eps=eps)
    if printed.getvalue().strip():
        warnings.warn(
            f"frechet_distance: {printed.getvalue().strip()} (pytorch-fid's fallback for a singular product)",
            RuntimeWarning,
            stacklevel=2,
        )
    return float(value)


def _sample_warnings(n_a: int | None, n_b: int | None, dims: int) -> list[str]:
    out = []
    for name, n in (("a", n_a), ("b", n_b)):
        if n is not None and n <= dims:
            out.append(
                f"N_{name}={n} <= dims={dims}: the covariance has rank <= N-1 < dims (singular); the value is "
                f"finite but strongly biased upward and NOT comparable with published FIDs (which use >= 10k-50k "
                f"images and dims 2048). Report KID alongside."
            )
    if n_a is not None and n_b is not None and n_a != n_b:
        out.append(
            f"N_a={n_a} != N_b={n_b}: FID's bias depends on N (~ k/N); compare FIDs only at equal N."
        )
    return out


def fid(
    a: Images | str | os.PathLike,
    b: Images | str | os.PathLike,
    *,
    dims: int = 2048,
    mode: str = "auto",
    device: str | torch.device = "cpu",
    batch_size: int = 50,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> dict:
    """FID between two image sets (folders, tensors, iterables of tensors, or ``.npz`` statistics).

    Returns:
        ``{"value", "n_a", "n_b", "dims", "weights": WeightStatus.as_dict(), "warnings": [...]}``. ``warnings`` lists
        every caveat: random-initialised features, N <= dims (singular covariance), N_a != N_b, the sqrtm fallback.
    """
    kw = dict(
        dims=dims, mode=mode, device=device, batch_size=batch_size, cache_dir=cache_dir, seed=seed
    )
    mu1, s1, n_a = inception_stats(a, **kw)
    mu2, s2, n_b = inception_stats(b, **kw)
    if mu1.shape[0] != dims or mu2.shape[0] != dims:
        raise ValueError(f"statistics have {mu1.shape[0]} / {mu2.shape[0]} dims, expected {dims}")
    _, status = fid_inception(dims, mode, device=device, seed=seed)
    notes = []
    if not status.comparable:
        notes.append(
            f"features from a RANDOM-INITIALISED Inception ({status.message}); NOT comparable with papers"
        )
    notes += _sample_warnings(n_a, n_b, dims)
    for name, x in (("a", a), ("b", b)):
        if isinstance(x, str | os.PathLike) and str(x).endswith(".npz"):
            notes.append(
                f"{name} is a statistics file ({x}): its Inception weights and preprocessing are not "
                "checked; it must come from the same network for the value to mean anything"
            )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = frechet_distance(mu1, s1, mu2, s2)
    notes += [str(w.message) for w in caught]
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return {
        "value": value,
        "n_a": n_a,
        "n_b": n_b,
        "dims": dims,
        "weights": status.as_dict(),
        "warnings": notes,
    }


# ---------------------------------------------------------------------------------------------------------------------
# KID


def kid_from_features(
    fa: np.ndarray, fb: np.ndarray, *, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD² with ``k(x, y) = (xᵀy / d + 1)³``, mean and std over random subsets.

    Each subset draws ``m = min(subset_size, N_a, N_b)`` rows of each set without replacement (numpy
    ``default_rng(seed)``); the unbiased estimator leaves the kernel diagonals out, so the value can be negative
    when the two sets come from the same distribution.
    """
    fa, fb = np.asarray(fa, np.float64), np.asarray(fb, np.float64)
    d = fa.shape[1]
    m = min(subset_size, fa.shape[0], fb.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    rng = np.random.default_rng(seed)
    vals = np.empty(n_subsets)
    for i in range(n_subsets):
        x = fa[rng.choice(fa.shape[0], m, replace=False)]
        y = fb[rng.choice(fb.shape[0], m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        vals[i] = (
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean()
        )
    return float(vals.mean()), float(vals.std())


def kid(
    a: Images,
    b: Images,
    *,
    dims: int = 2048,
    mode: str = "auto",
    device: str | torch.device = "cpu",
    batch_size: int = 50,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
    n_subsets: int = 100,
    subset_size: int = 1000,
) -> dict:
    """KID between two image sets; returns ``{"value", "std", "n_a", "n_b", "subset_size", "dims", "weights",
    "warnings"}`` (``value`` is the mean over subsets; published KIDs are often ×1000)."""
    kw = dict(
        dims=dims, mode=mode, device=device, batch_size=batch_size, cache_dir=cache_dir, seed=seed
    )
    fa, status = inception_features(a, **kw)
    fb, _ = inception_features(b, **kw)
    value, std = kid_from_features(fa, fb, n_subsets=n_subsets, subset_size=subset_size, seed=seed)
    notes = []
    if not status.comparable:
        notes.append(
            f"features from a RANDOM-INITIALISED Inception ({status.message}); NOT comparable with papers"
        )
    m = min(subset_size, fa.shape[0], fb.shape[0])
    if m < subset_size:
        notes.append(
            f"subset size {m} < {subset_size} (small sets): KID is unbiased but its variance is larger"
        )
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return {
        "value": value,
        "std": std,
        "n_a": fa.shape[0],
        "n_b": fb.shape[0],
        "subset_size": m,
        "dims": dims,
        "weights": status.as_dict(),
        "warnings": notes,
    }
