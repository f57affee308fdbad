"""Night→day report: the reference file and its loader, FID comparability, the verdicts in words, collapsed panels,
the histogram axes and the run tags."""

import csv

import numpy as np
import pandas as pd
import pytest
import torch

from srlib import paths
from srlib.night2day import evaluate as ev
from srlib.night2day import figures as nf
from srlib.night2day import report as rp

# ------------------------------------------------------------------------------------------------ the reference


def test_reference_file_cites_the_paper_and_allows_an_empty_std():
    path = paths.references_dir() / "night2day_abedjooy.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [*rp.REFERENCE_COLUMNS, "convention"]
    assert not any("issue" in v.lower() for r in rows for v in r.values())  # the paper only
    assert {r["table"] for r in rows} == {"Tables 1-3"}
    ref = rp.read_reference(path)
    assert len(ref) == 25 and ref["std"].isna().sum() == sum(r["std"] == "" for r in rows)
    post = ref.set_index(["method", "phase", "metric"])
    assert post.at[("M1", "Post", "rmse"), "value"] == 0.23
    assert post.at[("M2", "Post", "fid"), "value"] == 96.56


def _write(tmp_path, rows):
    path = tmp_path / "ref.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[*rp.REFERENCE_COLUMNS, "convention"])
        w.writeheader()
        for r in rows:
            w.writerow(
                {"paper": "P", "table": "Table 1", "page": "", "dataset": "d", "convention": "c"}
                | r
            )
    return path


def test_read_reference_reads_std_and_refuses_bad_values(tmp_path):
    row = {"method": "M1", "phase": "Post", "metric": "rmse", "value": "0.23"}
    ref = rp.read_reference(_write(tmp_path, [row | {"std": "0.08"}]))
    assert ref.at[0, "std"] == 0.08 and ref.at[0, "page"] == ""
    assert np.isnan(rp.read_reference(_write(tmp_path, [row | {"std": ""}])).at[0, "std"])
    with pytest.raises(ValueError, match=r"ref.csv row 2: std 'about 0.1' is not a number"):
        rp.read_reference(_write(tmp_path, [row | {"std": "about 0.1"}]))
    with pytest.raises(ValueError, match="row 2: value '' is not a number"):
        rp.read_reference(_write(tmp_path, [row | {"value": "", "std": ""}]))
    with pytest.raises(ValueError, match="duplicate rows"):
        rp.read_reference(_write(tmp_path, [row | {"std": ""}, row | {"std": ""}]))
    (tmp_path / "short.csv").write_text("method,phase,metric,value\nM1,Post,rmse,0.2\n")
    with pytest.raises(ValueError, match=r"short.csv: missing columns \['paper'"):
        rp.read_reference(tmp_path / "short.csv")


def test_fid_is_comparable_only_when_measured_like_the_paper():
    fid = pd.DataFrame({"key": ["M1/Pre"], "fid": [300.0], "n": [60]})
    fid.attrs["weights"] = {"comparable": True}
    assert rp.fid_not_comparable(fid, 2048) == [
        "60 test images (paper: 2,011; FID is biased upward at small N)"
    ]
    fid.attrs["weights"] = {"comparable": False}
    reasons = rp.fid_not_comparable(fid.assign(n=2011), 192)
    assert reasons == [
        "a random-initialised Inception",
        "192-dim Inception features (paper: pool3, 2048)",
    ]
    fid.attrs["weights"] = {"comparable": True}
    assert rp.fid_not_comparable(fid.assign(n=2011), 2048) == []


# ------------------------------------------------------------------------------------- the verdicts in words


def _per_image(n=20):
    """M1 Post beats Pre on RMSE, MAE, SSIM, ties it on NCC (±0.01 alternating); M2 Post is worse than M1's on
    every metric and worse than Pre on NCC."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        pre = {
            "rmse": 0.42 + 0.03 * rng.standard_normal(),
            "mae": 0.38 + 0.03 * rng.standard_normal(),
            "ssim": 0.17 + 0.02 * rng.standard_normal(),
            "ncc": 0.72 + 0.05 * rng.standard_normal(),
        }
        m1 = {
            "rmse": pre["rmse"] - 0.22,
            "mae": pre["mae"] - 0.2,
            "ssim": pre["ssim"] + 0.35,
            "ncc": pre["ncc"] + (0.01 if i % 2 else -0.01),
        }
        m2 = {"rmse": m1["rmse"] + 0.05, "mae": m1["mae"] + 0.04, "ssim": m1["ssim"] - 0.1}
        m2["ncc"] = m1["ncc"] - 0.2 - 0.01 * (i % 3)
        for model, post in (("M1", m1), ("M2", m2)):
            for phase, vals in (("Pre", pre), ("Post", post)):
                rows.append(
                    {"image": f"i{i}", "model": model, "phase": phase, "key": f"{model}/{phase}"}
                    | vals
                )
    return pd.DataFrame(rows)


def _fid(comparable=True):
    fid = pd.DataFrame(
        {
            "key": ["M1/Pre", "M1/Post", "M2/Pre", "M2/Post"],
            "fid": [300.0, 250.0, 300.0, 320.0],
            "n": 20,
        }
    )
    fid.attrs["weights"], fid.attrs["notes"] = {"comparable": comparable}, []
    return fid


def test_findings_say_per_metric_which_is_better_and_whether_the_paper_holds():
    df, fid = _per_image(), _fid()
    pv = rp.phase_verdicts(df)
    post_better = rp.post_better_summary(pv, fid)
    mv = rp.model_verdicts(df, [("M1", "M2")])
    md = rp.findings_markdown(
        pv,
        post_better,
        mv,
        fid,
        profile="photos",
        data={"name": "proxy", "proxy": True, "pairs": 20},
        labels=["PROXY DATA"],
    )
    lines = md.splitlines()
    m1 = next(x for x in lines if x.startswith("- **M1**, Post vs Pre (n = 20): "))
    assert "Post better than Pre on RMSE " in m1 and "), MAE " in m1 and "), SSIM " in m1
    ncc = pv[(pv.model == "M1") & (pv.metric == "ncc")].iloc[0]
    assert ncc.verdict == "similar"
    assert (
        f"similar on NCC {ncc.mean_b:.3f} → {ncc.mean_a:.3f} (Δ {rp._num(ncc.mean_diff)}, "
        f"95 % CI [{rp._num(ncc.ci_low)}, {rp._num(ncc.ci_high)}])" in m1
    )
    assert "FID 300 → 250: better (one value per phase, no CI)" in m1
    assert m1.endswith(
        "→ **not resolved against** the paper (Post is worse on no metric, but not shown better on "
        "NCC (similar))."
    )
    m2 = next(x for x in lines if x.startswith("- **M2**, Post vs Pre"))
    assert "Pre better than Post on NCC" in m2
    assert m2.endswith("→ **contradicts** the paper (Pre is better on NCC, FID).")
    m12 = next(x for x in lines if x.startswith("- **M1 vs M2 (Post)** (n = 20): "))
    r = mv.set_index("metric").loc["rmse"]
    assert m12.startswith(
        f"- **M1 vs M2 (Post)** (n = 20): M1 better than M2 on all four metrics: RMSE {r.mean_a:.3f} vs "
        f"{r.mean_b:.3f} (Δ {r.mean_diff:+.3f}, 95 % CI [{r.ci_low:+.3f}, {r.ci_high:+.3f}]); MAE "
    )
    assert "FID 250 vs 320 (one value each, no CI)" in m12
    assert m12.endswith(
        '→ **contradicts** the paper\'s "M1 and M2 perform similarly" '
        "(M1 is better on RMSE, MAE, SSIM, NCC)."
    )
    assert "Near-constant" not in md and "## Beyond the paper" not in md


def test_post_better_verdicts_and_similarity():
    v = {"not_better_on": {}, "all": True, "fid": True, "all_per_image_metrics": True}
    assert rp.post_better_verdict("M1", v) == ("agrees", "Post is better on every metric")
    assert rp.post_better_verdict("M1", v | {"fid": None})[0] == "agrees"
    v = {"not_better_on": {"mae": "inconclusive"}, "all": False, "fid": True}
    assert rp.post_better_verdict("M1", v) == (
        "not resolved",
        "Post is worse on no metric, but not shown better on MAE (inconclusive)",
    )
    rows = pd.DataFrame(
        {
            "a": "M1",
            "b": "M2",
            "metric": ["rmse", "mae"],
            "verdict": ["similar", "similar"],
            "equivalent": [True, True],
            "margin": 0.01,
            "n": 30,
        }
    )
    assert rp.similar_verdict(rows)[0] == "agrees"
    assert rp.similar_verdict(rows.assign(equivalent=[True, False]))[0] == "not resolved"
    assert rp.similar_verdict(rows.assign(verdict=["similar", "B better"])) == (
        "contradicts",
        "M2 is better on MAE",
    )


def test_verdict_sentence_names_inconclusive_and_undefined_metrics():
    rows = pd.DataFrame(
        {
            "metric": ["rmse", "ncc"],
            "verdict": ["inconclusive", "undefined (need at least 2 finite pairs, got 0)"],
            "mean_a": [0.2, np.nan],
            "mean_b": [0.3, np.nan],
            "mean_diff": [-0.1, np.nan],
            "ci_low": [-0.2, np.nan],
            "ci_high": [-0.0004, np.nan],
            "p_wilcoxon": [0.125, np.nan],
            "n": [4, 0],
        }
    )
    text = rp.verdict_sentence(rows, "M3-paired", "M1")
    assert text == (
        "inconclusive on RMSE 0.200 vs 0.300 (Δ -0.100, 95 % CI [-0.200, -4.0e-04], n = 4; CI excludes 0 "
        "but Wilcoxon p = 0.12); undefined on NCC (need at least 2 finite pairs, got 0)"
    )


def test_verdict_sentence_names_the_better_model_first_with_its_own_numbers():
    rows = pd.DataFrame(
        {
            "metric": ["rmse"],
            "verdict": ["B better"],
            "mean_a": [0.3],
            "mean_b": [0.2],
            "mean_diff": [0.1],
            "ci_low": [0.05],
            "ci_high": [0.15],
            "p_wilcoxon": [0.001],
            "n": [12],
        }
    )
    assert rp.verdict_sentence(rows, "M3-paired", "M1") == (
        "M1 better than M3-paired on RMSE 0.200 vs 0.300 (Δ -0.100, 95 % CI [-0.150, -0.050])"
    )
    assert rp.verdict_sentence(rows, "Post", "Pre", arrow=True) == (
        "Pre better than Post on RMSE 0.200 → 0.300 (Δ +0.100, 95 % CI [+0.050, +0.150])"
    )


# --------------------------------------------------------------------------------- collapsed panels, figures


def _phase_images():
    gen = torch.Generator().manual_seed(0)
    flat = torch.zeros(3, 3, 16, 16, dtype=torch.uint8)
    flat[:, 0, 0, 0] = 1  # one pixel one level up: still a flat image
    real = (torch.rand(3, 3, 16, 16, generator=gen) * 255).to(torch.uint8)
    images = {("M1", "Pre"): real, ("M1", "Post"): real, ("M2", "Post"): flat}
    return ev.PhaseImages(images, real, real, ["a", "b", "c"])


def test_constant_outputs_and_collapsed_panel_titles():
    ph = _phase_images()
    assert ev.constant_outputs(ph) == ["M2/Post"]
    assert nf.panel_title("M2 Post", ph, ("M2", "Post")).startswith(
        "M2 Post: COLLAPSED\n(near-constant, std 0.00"
    )
    assert nf.panel_title("M1 Post", ph, ("M1", "Post")) == "M1 Post"


def test_histograms_label_both_axes_and_keep_the_legend_off_the_panels():
    df = _per_image(6)
    fig = nf._histogram_figure(df[df.model == "M1"], by="phase", title="T (SMOKE)")
    try:
        assert [ax.get_xlabel() for ax in fig.axes] == [nf.AXIS_LABELS[m] for m in rp.METRICS]
        assert all(ax.get_ylabel() == "density (per phase)" for ax in fig.axes)
        fig.canvas.draw()
        legend, last = fig.axes[-1].get_legend(), fig.axes[-1]
        assert (
            legend.get_window_extent().x0 >= last.get_window_extent().x1
        )  # beside, not on, a panel
        title = fig._suptitle.get_window_extent()
        assert fig.get_suptitle() == "T (SMOKE)"
        assert all(title.y0 >= ax.get_tightbbox().y1 - 1 for ax in fig.axes)  # above every panel
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
