"""The training notebooks' conclusions are built from the run's numbers: a dead content loss or a PSNR fall past the
paper's trade is called COLLAPSED with its cause; night->day previews say per metric which side is better."""

import math

import numpy as np
import pytest

from srlib import paths, tracking, viz
from srlib.night2day.stages import StageResult
from srlib.srgan import findings


def _srgan_metrics(tmp_path, monkeypatch, *, l_percep, gan_psnr, labels=()):
    src = paths.references_dir() / "srgan_ledig2017.csv"
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "srgan_ledig2017.csv").write_text(src.read_text())
    monkeypatch.setenv("SRLIB_ROOT", str(tmp_path))
    metrics = {
        "srresnet": {"val_psnr_y": 29.86, "val_gain_db": 1.25, "l_g_pix": 1e-3, "iters": 3000},
        "srgan": {
            "val_psnr_y": gan_psnr,
            "val_gain_db": gan_psnr - 28.61,
            "l_g_percep": l_percep,
            "iters": 30,
        },
    }
    tracking.write_metrics(
        paths.metrics_file("t", "srgan_train"),
        metrics,
        stage="srgan_train",
        profile="t",
        data={"name": "x", "proxy": True},
        labels=list(labels),
    )
    return findings.conclusions("t")


def test_a_dead_content_loss_is_called_collapsed_with_its_cause(tmp_path, monkeypatch):
    lines = _srgan_metrics(tmp_path, monkeypatch, l_percep=3.7e-17, gan_psnr=24.33)
    text = "\n".join(lines)
    assert "COLLAPSED: the content loss is dead (l_g_percep = 3.7e-17" in text
    assert (
        "-5.53 dB vs SRResNet" in text and "(paper, Set5: -2.65 dB" in text
    )  # 29.40 - 32.05 from references
    assert "expected" not in text
    assert "PROXY DATA" in lines[-1]


@pytest.mark.parametrize(
    ("gan_psnr", "word"),
    [
        (29.50, "has the paper's sign"),
        (29.86, "No measurable PSNR change"),
        (30.2, "contradicts"),
        (26.0, "COLLAPSED"),
    ],
)
def test_a_live_content_loss_is_judged_by_the_size_and_sign_of_the_drop(
    tmp_path, monkeypatch, gan_psnr, word
):
    lines = _srgan_metrics(tmp_path, monkeypatch, l_percep=0.02, gan_psnr=gan_psnr)
    assert word in "\n".join(lines)
    assert ("COLLAPSED" in "\n".join(lines)) == (word == "COLLAPSED")


def test_srgan_state_one_bound_and_a_dead_loss_as_cause_or_state():
    assert findings.COLLAPSE_DROP_DB == pytest.approx(
        3.0103, abs=1e-4
    )  # a doubled MSE, as every study uses
    assert (
        findings.srgan_state(math.nan, -0.1)[0] == "DEAD CONTENT LOSS"
    )  # a non-finite loss is dead too
    assert findings.srgan_state(1e-17, -5.5)[1].startswith(
        "the content loss is dead"
    )  # collapsed, with its cause
    assert findings.srgan_state(1e-17, -5.5)[0] == "COLLAPSED"
    assert findings.srgan_state(0.01, -3.0) == ("ok", "")  # -3.00 dB is inside -3.01
    assert findings.srgan_state(0.01, -3.02)[0] == "COLLAPSED"


class _History:
    def __init__(self, rows):
        self.rows = rows


def test_night2day_conclusions_say_per_metric_which_side_is_better():
    pre = {
        "rmse": np.array([0.4, 0.4]),
        "mae": np.array([0.35, 0.35]),
        "ssim": np.array([0.1, 0.1]),
        "ncc": np.array([0.73, 0.73]),
    }
    post = {
        "rmse": np.array([0.25, 0.27]),
        "mae": np.array([0.35, 0.351]),
        "ssim": np.array([0.2, 0.2]),
        "ncc": np.array([0.0, -0.1]),
    }
    trained = {
        "sr_night": (None, _History([{"step": 18, "l_g_pix": 0.12, "lr_g": 2e-4}]), {"iters": 18}),
        "cut_hr": (None, _History([{"step": 4, "l_nce": math.inf}]), {"iters": 4}),
    }
    lines = StageResult(trained, {"pre": pre, "post": post}, {}, {}).conclusions("M1")
    assert lines[0] == "sr_night: 18 steps; last logged losses l_g_pix 0.12."
    assert "  cut_hr: BROKEN, a loss is not finite." in lines
    assert lines[-1] == (
        "M1 vs the night input on 2 val pairs: RMSE 0.400 -> 0.260 (better), MAE 0.350 -> 0.350 (similar), "
        "SSIM 0.100 -> 0.200 (better), NCC 0.730 -> -0.050 (WORSE)."
    )


def test_run_tag_says_smoke_before_proxy():
    assert viz.run_tag("smoke", proxy=True) == " (SMOKE)"
    assert viz.run_tag("photos", proxy=True, notes=["COLLAPSED"]) == " (PROXY, COLLAPSED)"
    assert viz.run_tag("paper") == ""


def test_per_image_dots_sort_rows_and_keep_a_sane_size():
    import pandas as pd

    rows = [
        {"image": f"im{i}", "model": m, "psnr_y": v + i}
        for i in range(32)
        for m, v in (("bicubic", 20.0), ("x4", 19.0))
    ]
    fig = viz.metric_bars(pd.DataFrame(rows[::-1]), "psnr_y", unit="dB")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        f"im{i}" for i in range(32)
    ]  # by the first model, lowest first
    assert ax.get_xlabel() == "PSNR-Y [dB]" and ax.get_ylabel() == "image (sorted by x4)"
    w, h = fig.get_size_inches() * 120
    assert w <= 1000 and h <= 1300  # was 0.35 in per bar: 2,700 x 440 px for 32 images and 2 models
