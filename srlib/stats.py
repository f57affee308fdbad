"""Per-image metrics -> the papers' presentation: mean ± std tables, histograms, paired model comparisons.

Input is a long ``pandas.DataFrame`` with one row per (group, image) and one column per metric, as
:func:`srlib.evaluation.evaluate` writes it (columns ``model``, ``image``, ``psnr_y``, ``ssim_y``, ...). Conventions:

* **std** is the sample standard deviation (``ddof=1``, pandas' default) across images; N is the number of finite
  values. Non-finite values (``inf`` PSNR of identical pairs, NaN NCC of flat images) are left out and counted in
  ``{metric}_dropped``.
* **Paired comparison** of models A and B on the same images: the per-image difference ``d = A - B``; the mean of d,
  a percentile bootstrap 95% CI of that mean (``n_boot`` resamples of the images, numpy ``default_rng(seed)``), and
  the two-sided Wilcoxon signed-rank p-value (scipy, zero differences dropped -- ``zero_method="wilcox"``). The
  verdict is ``"similar"`` when the CI contains 0, otherwise ``"A better"`` / ``"B better"`` according to
  ``higher_is_better``. The verdict follows the CI alone; the p-value is reported beside it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# A network has COLLAPSED when it loses more than 10 log10(2) = 3.01 dB PSNR against the output it should beat
# (bicubic, or the network it started from): its mean squared error is then more than doubled. Every study of the
# project uses this one bound (srlib.srgan.findings, srlib.srgan.evaluate, srlib.srgan_modified.figures).
COLLAPSE_DB = 10 * math.log10(2)

__all__ = [
    "HIGHER_IS_BETTER",
    "summary_table",
    "histograms",
    "bootstrap_mean",
    "paired_comparison",
    "compare_models",
]

# Direction of the metrics the study reports (prefix match: "psnr_y" -> "psnr").
HIGHER_IS_BETTER = {
    "psnr": True,
    "ssim": True,
    "ncc": True,
    "lpips": False,
    "rmse": False,
    "mae": False,
    "fid": False,
    "kid": False,
    "niqe": False,
}


def _direction(metric: str) -> bool:
    for name, higher in HIGHER_IS_BETTER.items():
        if metric.lower().startswith(name):
            return higher
    raise ValueError(
        f"don't know whether higher {metric!r} is better; pass higher_is_better=True/False"
    )


def summary_table(
    df: pd.DataFrame,
    by: str = "phase",
    metrics: list[str] | None = None,
    *,
    decimals: int | dict[str, int] = 4,
) -> pd.DataFrame:
    """Mean ± std and N of each metric per group (rows in order of first appearance).

    Args:
        df: one row per image (and group).
        by: the grouping column (e.g. ``phase`` or ``model``).
        metrics: metric columns; default: every numeric column except ``by``.
        decimals: digits in the formatted ``"mean ± std"`` string, one int or per metric.

    Returns:
        Indexed by ``by``; for each metric the columns ``{m}_mean``, ``{m}_std``, ``{m}_n``, ``{m}_dropped`` and
        ``{m}`` (the formatted string, e.g. ``"27.1234 ± 3.2100"``).
    """
    if metrics is None:
        metrics = [c for c in df.select_dtypes("number").columns if c != by]
    rows = {}
    for group, sub in df.groupby(by, sort=False):
        row = {}
        for m in metrics:
            values = pd.to_numeric(sub[m], errors="coerce").to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            mean = float(finite.mean()) if finite.size else math.nan
            std = float(finite.std(ddof=1)) if finite.size > 1 else math.nan
            d = decimals.get(m, 4) if isinstance(decimals, dict) else decimals
            row |= {
                f"{m}_mean": mean,
                f"{m}_std": std,
                f"{m}_n": int(finite.size),
                f"{m}_dropped": int(values.size - finite.size),
                m: f"{mean:.{d}f} ± {std:.{d}f}",
            }
        rows[group] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = by
    return out


def histograms(df: pd.DataFrame, metric: str, by: str = "phase", *, bins: int | str = "auto"):
    """Overlaid per-group histograms of one metric (seaborn, density per group, step outlines); returns the Figure.

    Non-finite values are left out (the title says how many).
    """
    import matplotlib.pyplot as plt

    from srlib import viz

    values = pd.to_numeric(df[metric], errors="coerce")
    keep = np.isfinite(values.to_numpy(dtype=float))
    data = df.loc[keep, [by, metric]].assign(**{metric: values[keep]})
    fig, ax = plt.subplots(figsize=(6, 4))
    viz.group_histogram(ax, data, metric, by=by, bins=bins)
    dropped = int((~keep).sum())
    ax.set_title(f"{metric} per image" + (f" ({dropped} non-finite left out)" if dropped else ""))
    fig.tight_layout()
    return fig


def _bootstrap_means(d: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of ``d``: numpy ``default_rng(seed)``, in chunks."""
    n = d.size
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    step = max(1, 2_000_000 // n)  # resample in chunks to bound memory
    for i in range(0, n_boot, step):
        k = min(step, n_boot - i)
        means[i : i + k] = d[rng.integers(0, n, size=(k, n))].mean(axis=1)
    return means


def bootstrap_mean(values, *, n_boot: int = 10000, seed: int = 0, ci: float = 0.95) -> dict:
    """Mean of per-image values with a percentile bootstrap CI (the resampling of :func:`paired_comparison`).

    Non-finite values are left out (counted in ``n_dropped``). Returns ``{"n", "n_dropped", "mean", "ci_low",
    "ci_high"}``; with fewer than 2 finite values the interval is NaN.
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    keep = np.isfinite(v)
    v = v[keep]
    out = {"n": int(v.size), "n_dropped": int((~keep).sum())}
    if v.size < 2:
        mean = float(v.mean()) if v.size else math.nan
        return out | {"mean": mean, "ci_low": math.nan, "ci_high": math.nan}
    lo, hi = np.quantile(_bootstrap_means(v, n_boot, seed), [(1 - ci) / 2, (1 + ci) / 2])
    return out | {"mean": float(v.mean()), "ci_low": float(lo), "ci_high": float(hi)}


def paired_comparison(
    a,
    b,
    *,
    higher_is_better: bool = True,
    n_boot: int = 10000,
    seed: int = 0,
    ci: float = 0.95,
    alpha: float = 0.05,
) -> dict:
    """Compare paired per-image values of A and B (same images, same order).

    Args:
        a, b: per-image values (array-likes of equal length; pairs with a non-finite value are dropped).
        higher_is_better: direction of the metric (PSNR/SSIM True, LPIPS False).
        n_boot: bootstrap resamples of the images.
        seed: bootstrap seed.
        ci: confidence level of the percentile interval.
        alpha: significance level of the Wilcoxon test.

    Returns:
        ``{"n", "n_dropped", "mean_a", "mean_b", "mean_diff" (A - B), "ci_low", "ci_high", "p_wilcoxon",
        "verdict"}``. The verdict is ``"similar"`` when the CI contains 0; ``"A better"`` / ``"B better"`` only when
        the CI excludes 0 **and** the Wilcoxon p-value is below ``alpha``; otherwise ``"inconclusive"`` (the
        percentile bootstrap is over-confident on a handful of images, where the rank test cannot reach ``alpha``:
        with n = 4 its smallest two-sided p is 0.125).
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D of equal length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = a.size
    if n < 2:
        raise ValueError(f"need at least 2 finite pairs, got {n}")
    d = a - b
    lo, hi = np.quantile(_bootstrap_means(d, n_boot, seed), [(1 - ci) / 2, (1 + ci) / 2])
    if np.all(d == 0):
        p = 1.0  # scipy cannot rank all-zero differences
    else:
        p = float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    if lo <= 0 <= hi:
        verdict = "similar"
    elif p >= alpha:
        verdict = "inconclusive"
    else:
        a_higher = lo > 0
        verdict = "A better" if a_higher == higher_is_better else "B better"
    return {
        "n": int(n),
        "n_dropped": int((~keep).sum()),
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "mean_diff": float(d.mean()),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_wilcoxon": p,
        "verdict": verdict,
    }


def compare_models(
    df: pd.DataFrame,
    metric: str,
    a: str,
    b: str,
    higher_is_better: bool | None = None,
    *,
    by: str = "model",
    on: str = "image",
    n_boot: int = 10000,
    seed: int = 0,
) -> dict:
    """:func:`paired_comparison` of groups ``a`` and ``b`` of column ``by``, paired on column ``on``.

    ``higher_is_better=None`` looks the metric up in :data:`HIGHER_IS_BETTER`. Only images present in both groups
    are compared (``n`` says how many). The result also names ``metric``, ``a`` and ``b``.
    """
    if higher_is_better is None:
        higher_is_better = _direction(metric)
    wide = df[df[by].isin([a, b])].pivot_table(
        index=on, columns=by, values=metric, aggfunc="first", dropna=False
    )
    missing = {a, b} - set(wide.columns)
    if missing:
        raise ValueError(f"no rows with {by} in {sorted(missing)}")
    wide = wide[[a, b]].dropna(how="any")
    res = paired_comparison(
        wide[a].to_numpy(),
        wide[b].to_numpy(),
        higher_is_better=higher_is_better,
        n_boot=n_boot,
        seed=seed,
    )
    return {"metric": metric, "a": a, "b": b, "higher_is_better": higher_is_better} | res
