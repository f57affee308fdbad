"""srlib.stats: summary tables, histograms, paired bootstrap comparisons on synthetic per-image metrics."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from srlib import stats

matplotlib.use("Agg")


def _per_image(seed=0, n=40, shift=0.5):
    rng = np.random.default_rng(seed)
    base = rng.normal(28, 3, n)  # per-image difficulty shared by both models
    rows = []
    for model, delta in (("bicubic", 0.0), ("srgan", shift)):
        psnr = base + delta + rng.normal(0, 0.2, n)
        lpips = 0.3 - delta / 10 + rng.normal(0, 0.01, n)
        rows += [
            {"model": model, "image": f"img{i:03d}", "psnr_y": psnr[i], "lpips": lpips[i]}
            for i in range(n)
        ]
    return pd.DataFrame(rows)


def test_summary_table():
    df = _per_image()
    df.loc[0, "psnr_y"] = math.inf  # identical pair: left out and counted
    table = stats.summary_table(
        df, by="model", metrics=["psnr_y", "lpips"], decimals={"psnr_y": 2, "lpips": 4}
    )
    assert list(table.index) == ["bicubic", "srgan"] and table.index.name == "model"
    sub = df[df.model == "srgan"].psnr_y
    assert table.loc["srgan", "psnr_y_mean"] == pytest.approx(sub.mean())
    assert table.loc["srgan", "psnr_y_std"] == pytest.approx(sub.std(ddof=1))
    assert table.loc["srgan", "psnr_y_n"] == 40 and table.loc["bicubic", "psnr_y_n"] == 39
    assert table.loc["bicubic", "psnr_y_dropped"] == 1
    assert table.loc["srgan", "psnr_y"] == f"{sub.mean():.2f} ± {sub.std(ddof=1):.2f}"
    assert " ± " in table.loc["srgan", "lpips"]
    default = stats.summary_table(
        df.rename(columns={"model": "phase"})
    )  # by="phase", all numeric metrics
    assert {"psnr_y", "lpips"} <= set(default.columns)


def test_histograms_returns_figure():
    from matplotlib.figure import Figure

    df = _per_image()
    df.loc[1, "psnr_y"] = math.inf
    fig = stats.histograms(df, "psnr_y", by="model")
    assert isinstance(fig, Figure)
    assert "1 non-finite" in fig.axes[0].get_title()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_paired_comparison_ci_contains_true_shift_and_verdicts():
    rng = np.random.default_rng(1)
    b = rng.normal(25, 3, 60)
    a = b + 0.5 + rng.normal(0, 0.3, 60)  # true mean shift 0.5
    res = stats.paired_comparison(a, b, higher_is_better=True, n_boot=4000, seed=0)
    assert res["ci_low"] < 0.5 < res["ci_high"]
    assert res["verdict"] == "A better" and res["p_wilcoxon"] < 1e-6 and res["n"] == 60
    assert (
        stats.paired_comparison(a, b, higher_is_better=False, n_boot=500)["verdict"] == "B better"
    )
    assert stats.paired_comparison(b, a, higher_is_better=True, n_boot=500)["verdict"] == "B better"
    again = stats.paired_comparison(a, b, higher_is_better=True, n_boot=4000, seed=0)
    assert again == res  # seeded


def test_paired_comparison_identical_is_similar():
    x = np.random.default_rng(2).normal(0.3, 0.05, 30)
    res = stats.paired_comparison(x, x.copy(), n_boot=1000)
    assert res["verdict"] == "similar" and res["mean_diff"] == 0 and res["p_wilcoxon"] == 1.0
    assert res["ci_low"] == res["ci_high"] == 0


def test_bootstrap_coverage_near_nominal():
    """Over many synthetic data sets the 95% percentile CI covers the true shift about 95% of the time."""
    rng = np.random.default_rng(3)
    hits = 0
    for i in range(100):
        d = 0.2 + rng.standard_normal(50) * 0.5
        res = stats.paired_comparison(d, np.zeros(50), n_boot=1000, seed=i)
        hits += res["ci_low"] <= 0.2 <= res["ci_high"]
    assert 85 <= hits <= 100


def test_paired_comparison_drops_non_finite_and_checks_shapes():
    a, b = np.array([1.0, 2.0, np.inf, 4.0]), np.array([1.5, 2.5, 3.0, np.nan])
    res = stats.paired_comparison(a, b, n_boot=200)
    assert res["n"] == 2 and res["n_dropped"] == 2
    with pytest.raises(ValueError):
        stats.paired_comparison([1.0, 2.0], [1.0])


def test_compare_models():
    df = _per_image(shift=1.0)
    res = stats.compare_models(df, "psnr_y", "srgan", "bicubic", True, n_boot=2000)
    assert res["verdict"] == "A better" and res["a"] == "srgan" and res["n"] == 40
    lp = stats.compare_models(
        df, "lpips", "srgan", "bicubic", n_boot=2000
    )  # direction looked up: lower is better
    assert lp["higher_is_better"] is False and lp["verdict"] == "A better"
    partial = df.drop(index=df[(df.model == "srgan") & (df.image == "img000")].index)
    assert stats.compare_models(partial, "psnr_y", "srgan", "bicubic", True, n_boot=200)["n"] == 39
    with pytest.raises(ValueError, match="no rows"):
        stats.compare_models(df, "psnr_y", "esrgan", "bicubic", True)
    with pytest.raises(ValueError, match="higher_is_better"):
        stats.compare_models(df.rename(columns={"psnr_y": "score"}), "score", "srgan", "bicubic")


def test_few_images_give_inconclusive_not_better():
    a = np.array([30.1, 28.2, 31.3, 27.4])
    res = stats.paired_comparison(a + 0.1, a, n_boot=500)
    assert res["ci_low"] > 0 and res["p_wilcoxon"] >= 0.05
    assert res["verdict"] == "inconclusive"
