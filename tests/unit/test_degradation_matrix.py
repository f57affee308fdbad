"""The degradation matrix's pieces: the three degradations, the seeded test LR, claim 2's comparisons and verdict."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from srlib.config import ParamsError
from srlib.data import degradations
from srlib.zssr import matrix
from srlib.zssr.config import DegradationMatrixConfig

DEGS = ("bicubic", "blur", "realesrgan")


def _hr(n=3, side=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(f"im{i}", torch.rand(3, side, side, generator=g)) for i in range(n)]


def test_blur_sigma_rule_and_override():
    assert matrix.blur_sigma(3) == pytest.approx(1.6)  # RDN's BD setting at x3
    assert matrix.blur_sigma(2) == pytest.approx(3.2 / 3)
    assert matrix.blur_sigma(4, 0.8) == 0.8


def test_degradations_are_what_they_say():
    gt = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(0)
    bic = matrix.degrade(gt, "bicubic", scale=2, generator=g)
    assert torch.equal(bic, degradations.quantize(degradations.imresize(gt, 0.5).clamp(0, 1)))
    s = 1.6 * 2 / 3
    blur = matrix.degrade(gt, "blur", scale=2, generator=g)
    expect = degradations.blur_downscale(gt, 2, s, size=2 * math.ceil(3 * s) + 1)
    assert torch.equal(blur, degradations.quantize(expect.clamp(0, 1)))
    assert not torch.equal(blur, bic)
    real = matrix.degrade(gt, "realesrgan", scale=2, generator=torch.Generator().manual_seed(0))
    assert real.shape == (1, 3, 16, 16) and torch.equal(real, (real * 255).round() / 255)  # 8-bit
    with pytest.raises(ValueError, match="unknown degradation"):
        matrix.degrade(gt, "jpeg", scale=2, generator=g)


def test_test_pairs_are_seeded_per_image_and_the_same_for_every_call():
    hr = _hr()
    a = matrix.test_pairs(hr, degradations_=DEGS, scale=2, sigma=0.0, seed=0)
    b = matrix.test_pairs(hr[:2], degradations_=DEGS, scale=2, sigma=0.0, seed=0)
    assert list(a) == list(DEGS)
    for d in DEGS:  # image i's LR does not depend on how many images follow it
        for (na, lqa, gta), (nb_, lqb, _) in zip(a[d], b[d]):
            assert (
                na == nb_
                and torch.equal(lqa, lqb)
                and lqa.shape == (3, 16, 16)
                and gta.shape == (3, 32, 32)
            )
    c = matrix.test_pairs(hr, degradations_=DEGS, scale=2, sigma=0.0, seed=1)
    assert not torch.equal(
        a["realesrgan"][0][1], c["realesrgan"][0][1]
    )  # the random pipeline follows the seed
    assert torch.equal(a["bicubic"][0][1], c["bicubic"][0][1])  # the deterministic ones do not
    assert matrix.test_pairs(hr, degradations_=("blur",), scale=4, sigma=0.0, seed=0)["blur"][0][
        1
    ].shape == (3, 8, 8)


def test_degraded_patches_share_the_crops_and_differ_in_the_lr():
    imgs = [img for _, img in _hr(2, 48)]
    kw = dict(scale=2, gt_size=16, batch_size=3, seed=5)
    pa = matrix.DegradedPatches(imgs, degradation="bicubic", **kw)
    pc = matrix.DegradedPatches(imgs, degradation="realesrgan", **kw)
    (lqa, gta), (lqc, gtc) = pa.batch(3), pc.batch(3)
    assert torch.equal(gta, gtc) and not torch.equal(lqa, lqc)
    assert torch.equal(pc.batch(3)[0], lqc)  # a pure function of (seed, step): resume repeats it
    assert torch.equal(lqa, degradations.quantize(degradations.imresize(gta, 0.5).clamp(0, 1)))


def _per_image(gap: dict[str, float], n=6, noise=0.01, seed=0):
    """Synthetic per-image PSNR: row 'trained on d' scores base[test] + gap[d] when d == test, else base[test]."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in DEGS:
        for i in range(n):
            base = 30 + i
            for d in DEGS:
                v = base + (gap[t] if d == t else 0.0) + noise * rng.standard_normal()
                rows.append(
                    {"row": matrix.trained_row(d), "test": t, "image": f"im{i}", "psnr_y": v}
                )
    return pd.DataFrame(rows)


def test_diagonal_claim_and_its_verdict():
    df = _per_image({"bicubic": 0.5, "blur": 0.4, "realesrgan": 1.0}, n=8)
    claim = matrix.diagonal_claim(df, trained=DEGS, n_boot=500, seed=0)
    assert len(claim) == 3 * 3  # per column: the two others, and "any"
    anyrow = claim[(claim.test == "realesrgan") & (claim.against == "any")].iloc[0]
    assert anyrow.mean_diff == pytest.approx(1.0, abs=0.02) and anyrow.verdict == "A better"
    assert matrix.verdict_claim2(claim) == "holds"
    lost = matrix.diagonal_claim(_per_image({"bicubic": 0.5, "blur": -0.5, "realesrgan": 1.0}, n=8),
                                 trained=DEGS, n_boot=500, seed=0)  # fmt: skip
    verdict = matrix.verdict_claim2(lost)
    assert verdict.startswith("does not hold for blur (-0.50 dB") and "bicubic" not in verdict
    few = matrix.diagonal_claim(
        _per_image({d: 0.5 for d in DEGS}, n=3), trained=DEGS, n_boot=500, seed=0
    )
    assert matrix.verdict_claim2(few).startswith(
        "inconclusive"
    )  # n = 3: the rank test cannot reach 0.05


def test_matrix_orders_rows_and_columns():
    df = _per_image({d: 0.0 for d in DEGS}, noise=0.0)
    m = matrix.matrix(df)
    assert list(m.columns) == list(DEGS) and list(m.index) == [matrix.trained_row(d) for d in DEGS]
    assert m.loc[matrix.trained_row("blur"), "bicubic"] == pytest.approx(30 + 2.5)


def test_config_refusals():
    with pytest.raises(ParamsError, match="'scale' must be 2 or 4"):
        DegradationMatrixConfig(scale=3)
    with pytest.raises(ParamsError, match="'train_degradations' must list some of"):
        DegradationMatrixConfig(train_degradations=("bicubic", "jpeg"))
    with pytest.raises(ParamsError, match="'realesrgan_weights' must be one of"):
        DegradationMatrixConfig(realesrgan_weights="yes")
    with pytest.raises(ParamsError, match="'bench_crop' must be divisible by 4"):
        DegradationMatrixConfig(bench_crop=30)
