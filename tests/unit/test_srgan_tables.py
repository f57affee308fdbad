"""SRGAN's conclusions, title tags and evaluation figures, from metrics records and per-image tables."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from srlib import paths
from srlib.srgan import evaluate, figures

REFERENCE = pd.read_csv(paths.root() / evaluate.REFERENCE)


def _res(mean, lo, hi, p, verdict, n=32):
    return {
        "mean_diff": mean,
        "ci_low": lo,
        "ci_high": hi,
        "p_wilcoxon": p,
        "n": n,
        "verdict": verdict,
    }


def _record(*, profile, paired, training, weights, labels, proxy=True, n=32):
    return {
        "profile": profile,
        "comparable_with_paper": False,
        "labels": labels,
        "data": {"name": "bench-classic", "proxy": proxy, "images": n},
        "weights": weights,
        "metrics": {
            "models": {m: {"n": n} for m in ("bicubic", "srresnet", "srgan")},
            "scale": 4,
            "crop_border": 4,
            "paired": paired,
            "training": training,
        },
    }


RANDOM_VGG = {"vgg19": {"source": "random-init", "comparable": False}}
RANDOM_LABEL = "RANDOM WEIGHTS: vgg19 not pretrained; dependent numbers not comparable"


def photos_like():
    """The committed photos run: SRGAN 5.57 dB below SRResNet, random VGG19, l_g_percep 3.7e-17."""
    p = 4.656612873077393e-10
    paired = {
        "srresnet_vs_bicubic_psnr_y": _res(1.3117, 1.031, 1.626, p, "A better"),
        "srresnet_vs_bicubic_ssim_y": _res(0.0353, 0.0289, 0.0422, p, "A better"),
        "srgan_vs_srresnet_psnr_y": _res(-5.5714, -6.4407, -4.7353, p, "B better"),
        "srgan_vs_srresnet_ssim_y": _res(-0.0385, -0.0453, -0.0320, p, "B better"),
    }
    training = {
        "percep_net": "vgg19",
        "source": "metrics/srgan_train.json",
        "srresnet_iters": 3000,
        "srgan_iters": 30,
        "l_g_percep": 3.725191157526037e-17,
        "l_g_gan": 8e-4,
        "w_adv": 1e-3,
    }
    labels = ["PROXY DATA: bench-classic stands in for the paper's dataset", RANDOM_LABEL]
    return _record(
        profile="photos", paired=paired, training=training, weights=RANDOM_VGG, labels=labels
    )


def smoke_like():
    """The smoke run: SRGAN 6 steps from SRResNet, n = 4 (the rank test cannot reach 0.05)."""
    paired = {
        "srresnet_vs_bicubic_psnr_y": _res(0.1357, 0.1025, 0.1629, 0.125, "inconclusive", 4),
        "srresnet_vs_bicubic_ssim_y": _res(0.0009, 0.0001, 0.0022, 0.25, "inconclusive", 4),
        "srgan_vs_srresnet_psnr_y": _res(-0.0021, -0.0067, 0.0030, 0.625, "similar", 4),
        "srgan_vs_srresnet_ssim_y": _res(-0.0006, -0.0007, -0.0005, 0.125, "inconclusive", 4),
    }
    training = {
        "percep_net": "inception",
        "srresnet_iters": 30,
        "srgan_iters": 6,
        "l_g_percep": 9.5e-3,
    }
    weights = {"fid_inception": {"source": "file", "comparable": "yes, converted"}}
    return _record(
        profile="smoke", paired=paired, training=training, weights=weights, labels=[], n=4
    )


def test_collapse_is_named_with_its_causes_and_never_expected():
    lines = evaluate.findings(photos_like(), REFERENCE)
    text = "\n".join(lines)
    (collapse,) = [line for line in lines if line.startswith("COLLAPSED")]
    assert collapse.startswith("COLLAPSED: SRGAN loses 5.57 dB PSNR-Y against SRResNet")
    assert "l_g_percep = 3.7e-17" in collapse and "w_adv = 0.001" in collapse
    assert "vgg19 was RANDOM-INIT" in collapse
    assert "expected" not in text.lower() and "No collapse" not in text
    assert lines[0].startswith("Run: photos profile; 32 images of bench-classic (PROXY DATA), x4")
    assert "trained 3,000 SRResNet + 30 SRGAN steps (the paper: 1,000,000 + 200,000)" in lines[0]
    assert lines[1] == (
        "SRResNet − bicubic: PSNR-Y +1.31 dB [95 % CI +1.03, +1.63], SSIM-Y +0.0353 [95 % CI +0.0289, +0.0422]; "
        "n = 32 images, paired bootstrap; Wilcoxon p = 4.66e-10 / 4.66e-10."
    )
    claims = [line for line in lines if line.startswith("Claim ")]
    assert len(claims) == 4
    assert claims[0].endswith("Verdict: agrees.")
    # SRResNet > SRGAN holds here only because SRGAN collapsed: said, and the paper's values quoted
    assert (
        "Set5 32.05 vs 29.40" in claims[2] and "agrees in sign only: SRGAN COLLAPSED" in claims[2]
    )
    assert lines[-1].startswith("Absolute numbers: not comparable") and RANDOM_LABEL in lines[-1]


def test_no_collapse_and_an_unmoved_srgan_with_undecided_claims():
    lines = evaluate.findings(smoke_like(), REFERENCE)
    assert lines[0].startswith("Run: SMOKE profile, a plumbing check")
    assert not any(line.startswith("COLLAPSED") for line in lines)
    assert any(line.startswith("No collapse: SRResNet − bicubic +0.14 dB") for line in lines)
    assert any(
        line.startswith("SRGAN is still SRResNet: SRGAN − SRResNet PSNR-Y -0.002 dB")
        for line in lines
    )
    verdicts = [line.split("Verdict: ")[1] for line in lines if line.startswith("Claim ")]
    assert verdicts == [
        "cannot be decided (the CI excludes 0, but Wilcoxon p = 0.125 ≥ 0.05 with n = 4).",
        "cannot be decided (the CI excludes 0, but Wilcoxon p = 0.25 ≥ 0.05 with n = 4).",
        "cannot be decided (CI contains 0).",
        "cannot be decided (the CI excludes 0, but Wilcoxon p = 0.125 ≥ 0.05 with n = 4).",
    ]


def test_verdicts_contradict_and_fall_back_to_the_rule_for_older_files():
    ev = smoke_like()
    paired = ev["metrics"]["paired"]
    # SRResNet significantly below bicubic; an older file: no stored verdict or n
    paired["srresnet_vs_bicubic_psnr_y"] = {
        "mean_diff": -0.5, "ci_low": -0.7, "ci_high": -0.3, "p_wilcoxon": 0.001
    }  # fmt: skip
    paired["srgan_vs_srresnet_psnr_y"] = _res(-4.0, -4.5, -3.5, 0.001, "B better")
    ev["metrics"]["training"] = {}  # nothing recorded about training: the cause is not guessed
    ev["weights"] = {}
    lines = evaluate.findings(ev, REFERENCE)
    claims = [line for line in lines if line.startswith("Claim ")]
    assert claims[0].endswith("n = 4. Verdict: contradicts.")
    (collapse,) = [line for line in lines if line.startswith("COLLAPSED")]
    assert "cause: not identified from the metrics files" in collapse
    assert "agrees in sign only" in claims[2]


def test_srresnet_below_bicubic_by_more_than_3_db_is_a_collapse():
    ev = smoke_like()
    ev["metrics"]["paired"]["srresnet_vs_bicubic_psnr_y"] = _res(-3.5, -4.0, -3.1, 0.01, "B better")
    (line,) = [x for x in evaluate.collapses(ev) if x.startswith("COLLAPSED")]
    assert line.startswith("COLLAPSED: SRResNet loses 3.50 dB PSNR-Y against bicubic")
    # the bound: about a doubled MSE, notebook 10's; Ledig's own SRGAN (-2.65 dB on Set5) is inside it
    assert evaluate.COLLAPSE_DB == pytest.approx(-3.0103, abs=1e-4)


def _files(percep_net, source):
    key = {"vgg19": "vgg19", "inception": "fid_inception"}[percep_net]
    return {"srgan": {"meta": {"percep_net": percep_net, key: {"source": source}}}}


def test_title_tag_says_smoke_proxy_substitute_random_and_collapse():
    data = {"name": "embedded-bench", "proxy": True}
    tag = evaluate.title_tag("smoke", _files("inception", "file"), data)
    assert tag == (
        "\nSMOKE run: a plumbing check · PROXY DATA (embedded-bench) · "
        "FID-Inception content loss (substitute for VGG54)"
    )
    tag = evaluate.title_tag(
        "photos", _files("vgg19", "random-init"), data, srgan_vs_srresnet_db=-5.57
    )
    assert "SMOKE" not in tag and "RANDOM-INIT vgg19 content loss" in tag
    assert tag.endswith("SRGAN COLLAPSED (-5.6 dB vs SRResNet)")
    assert (
        evaluate.title_tag("paper", _files("vgg19", "file"), {"name": "Set5", "proxy": False}) == ""
    )


def _per_image(n, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        base = 25 + 5 * rng.random()
        for m, shift in (("bicubic", 0.0), ("srresnet", 0.1 * i), ("srgan", -1.0)):
            rows.append({"model": m, "image": f"img{i:02d}", "psnr_y": base + shift, "ssim_y": 0.8})
    return pd.DataFrame(rows)


def test_zoom_picks_are_median_worst_and_best_gain():
    per_image = _per_image(5)  # SRResNet's gain grows with the image index
    assert evaluate.zoom_picks(per_image) == {
        "median gain": "img02",
        "worst gain": "img00",
        "best gain": "img04",
    }
    assert set(evaluate.zoom_picks(_per_image(1)).values()) == {"img00"}


def test_per_image_plot_stays_readable_for_32_images():
    fig = figures.per_image_psnr(_per_image(32), names=evaluate.NAMES, title="t\nSMOKE")
    width, height = fig.get_size_inches() * 120  # viz.save's dpi
    assert width <= 2000 and height <= 2000 and 1 / 3 <= width / height <= 3
    ax_abs, ax_gain = fig.axes
    assert ax_abs.get_xlabel() == "PSNR-Y [dB]" and "[dB]" in ax_gain.get_xlabel()
    assert ax_abs.get_ylabel() and len(ax_abs.get_yticklabels()) == 32
    # best gain at the top: the last y tick is the image with the largest SRResNet - bicubic
    assert ax_abs.get_yticklabels()[-1].get_text() == "img31"
    assert (
        fig.get_layout_engine() is not None
    )  # constrained: the suptitle never overlaps the panels
    plt.close(fig)


def test_zoom_rows_titles_carry_each_panels_numbers():
    per_image = _per_image(2)
    gen = torch.Generator().manual_seed(0)
    samples = {
        name: {m: torch.rand(3, 40, 48, generator=gen) for m in ("bicubic", "srresnet", "srgan")}
        | {"ground truth": torch.rand(3, 40, 48, generator=gen)}
        for name in ("img00", "img01")
    }
    rules = {"img00": ["median gain", "worst gain"], "img01": ["best gain"]}
    fig = figures.zoom_rows(samples, rules, per_image, size=64, names=evaluate.NAMES, title="x")
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 10 and titles[0].startswith("median gain, worst gain: img00\n")
    v = per_image.set_index(["image", "model"]).loc[("img01", "srgan")]
    assert titles[8] == f"SRGAN\nPSNR-Y {v.psnr_y:.2f} dB · SSIM-Y 0.8000"
    assert titles[9] == "ground truth (39-px crop)"  # the crop stays inside the 40-px image
    plt.close(fig)
