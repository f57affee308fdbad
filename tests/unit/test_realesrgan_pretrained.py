"""The ``realesrgan_pretrained`` stage's pieces: its config's refusals, the weight labels, the figure's image rule,
and the bootstrap CI of a mean (:func:`srlib.stats.bootstrap_mean`)."""

import math

import numpy as np
import pandas as pd
import pytest

from srlib import config, nb, stats
from srlib.realesrgan import benchmark
from srlib.realesrgan.config import RealESRGANPretrainedConfig
from srlib.weights import WeightStatus


@pytest.mark.parametrize(
    "override,message",
    [
        ({"scale": 2}, "common.scale=2 cannot be honoured: RealESRGAN_x4plus is a x4 network"),
        ({"max_images": 1}, "'max_images' must be 0 (all) or >= 2"),
        ({"weights": "yes"}, "'weights' must be one of pretrained, auto, random"),
        ({"fid_weights": "file"}, "'fid_weights' must be one of"),
        ({"tile": 32, "overlap": 32}, "'tile' must be 0 or larger than overlap=32"),
        ({"eval_crop": 120}, "'eval_crop' must be 0 (whole images) or >= 200"),
        ({"kid_dims": 100}, "'kid_dims' must be one of 64, 192, 768, 2048"),
        ({"precision": "fp8"}, "'precision' must be one of auto, fp32, fp16, bf16"),
        ({"lpips_net": "squeeze"}, "'lpips_net' must be one of alex, vgg"),
    ],
)
def test_config_refuses_what_the_stage_cannot_honour(override, message):
    with pytest.raises(config.ParamsError) as exc:
        nb.prepare("realesrgan_pretrained", profile="smoke", overrides=override)
    assert message in str(exc.value)


def test_paper_defaults_and_the_smoke_profile():
    cfg = RealESRGANPretrainedConfig()
    assert (cfg.scale, cfg.weights, cfg.crop_border, cfg.max_images) == (4, "auto", 4, 0)
    smoke, _ = config.stage_config_params(RealESRGANPretrainedConfig, profile="smoke")
    assert smoke["max_images"] >= 2 and smoke["num_threads"] == 1


CONVERTED = WeightStatus(
    "realesrgan_x4plus_ncnn", "auto", "file", "/x.pth", "loaded", converted="from the ncnn release"
)
RANDOM = WeightStatus("realesrgan_x4plus_ncnn", "auto", "random-init", None, "not found")


def test_every_x4plus_label_says_how_its_weights_resolved():
    assert benchmark.x4plus_state(CONVERTED) == "pretrained, fp16-converted release"
    assert benchmark.x4plus_state(RANDOM).startswith("RANDOM-INIT")
    assert benchmark.method_names(CONVERTED)["realesrgan_x4plus"] == (
        "Real-ESRGAN x4plus (pretrained, fp16-converted release)"
    )
    assert "RANDOM-INIT" in benchmark.method_names(RANDOM)["realesrgan_x4plus"]
    assert benchmark.weight_state(RANDOM) == "random-init: not comparable"
    assert benchmark.weight_state({"source": "file", "comparable": True}) == "pretrained"
    converted = {
        "source": "file",
        "comparable": "yes, converted TF-graph export (pool3 within 1e-6)",
    }
    assert benchmark.weight_state(converted) == "converted TF-graph export"


def test_zoom_images_are_the_median_and_the_worst_gain_never_the_best():
    gains = {"a": 2.0, "b": -3.0, "c": 0.5, "d": -1.0}  # x4plus - bicubic, dB
    rows = [{"model": "bicubic", "image": k, "psnr_y": 30.0} for k in gains]
    rows += [
        {"model": "realesrgan_x4plus", "image": k, "psnr_y": 30.0 + g} for k, g in gains.items()
    ]
    rows += [{"model": "hr", "image": k, "psnr_y": math.nan} for k in gains]
    picks = benchmark.zoom_picks(pd.DataFrame(rows))
    assert picks == {"median gain": "d", "worst gain": "b"}  # even count: the lower middle one
    assert "a" not in picks.values()


def test_bootstrap_mean_ci():
    rng = np.random.default_rng(1)
    v = rng.normal(28.0, 2.0, size=40)
    b = stats.bootstrap_mean(v, n_boot=2000, seed=3)
    assert b["n"] == 40 and b["n_dropped"] == 0 and b["mean"] == pytest.approx(v.mean())
    assert b["ci_low"] < b["mean"] < b["ci_high"]
    half = 1.96 * v.std(ddof=1) / np.sqrt(v.size)  # the normal interval, for scale
    assert b["ci_high"] - b["ci_low"] == pytest.approx(2 * half, rel=0.2)
    assert stats.bootstrap_mean(v, n_boot=2000, seed=3) == b  # seeded
    # the same resampling as the paired comparison (A - 0)
    p = stats.paired_comparison(v, np.zeros_like(v), n_boot=2000, seed=3)
    assert (p["ci_low"], p["ci_high"]) == (b["ci_low"], b["ci_high"])
    with_nan = stats.bootstrap_mean([1.0, float("nan"), 3.0, float("inf")], n_boot=100)
    assert with_nan["n"] == 2 and with_nan["n_dropped"] == 2 and with_nan["mean"] == 2.0
    one = stats.bootstrap_mean([5.0])
    assert one["mean"] == 5.0 and math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])
