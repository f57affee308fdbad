"""ZSSR's pieces (srlib.zssr.internal, srlib.models.zssr): pairs, the lr policy, self-ensemble, back-projection."""

import numpy as np
import pytest
import torch

from srlib import training
from srlib.config import ParamsError
from srlib.data import degradations
from srlib.models.zssr import ZSSRNet
from srlib.zssr import internal as zi
from srlib.zssr import matrix
from srlib.zssr.config import ZSSRConfig

TINY = dict(num_feat=8, num_layer=3, crop_size=16, max_iters=12, min_iters=2, lr_check_every=3,
            lr_slope_range=10, test_every=2, bp_iters=2)  # fmt: skip


def _img(h=24, w=32, seed=0):
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed))


def test_net_starts_near_the_cubic_input_and_has_no_biases():
    net = ZSSRNet()
    assert len(net.convs) == 8 and all(c.bias is None for c in net.convs)
    assert [c.out_channels for c in net.convs] == [64] * 7 + [3]
    x = torch.rand(1, 3, 16, 16)
    assert (net(x) - x).abs().mean() < 0.05  # init_variance 0.1: a small residual at the start


@pytest.mark.parametrize("mode_p", [(1.0, 0.0), (0.0, 1.0), (0.0, 0.0)])
def test_father_sizes_and_modes(mode_p):
    cfg = ZSSRConfig(crop_size=16, p_leave_as_is=mode_p[0], p_no_interpolate=mode_p[1])
    g = torch.Generator().manual_seed(0)
    father, mode = zi.random_father(_img(), cfg=cfg, generator=g)
    assert father.shape == (3, 16, 16) and 0 <= father.min() and father.max() <= 1
    assert (
        mode == {(1.0, 0.0): "leave_as_is", (0.0, 1.0): "no_interp", (0.0, 0.0): "affine"}[mode_p]
    )
    small, _ = zi.random_father(_img(10, 13), cfg=cfg, generator=g)
    assert small.shape == (3, 10, 10)  # the image's short side, floored to a multiple of the scale


def test_plain_and_dihedral_fathers_are_exact_pixels_of_the_image():
    img = _img()
    cfg = ZSSRConfig(crop_size=16, p_leave_as_is=0.0, p_no_interpolate=1.0)
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        father, _ = zi.random_father(img, cfg=cfg, generator=g)
        views = [zi.dihedral(img, k) for k in range(8)]
        hits = [v.unfold(1, 16, 1).unfold(2, 16, 1) for v in views if min(v.shape[-2:]) >= 16]
        assert any((h == father[:, None, None]).all(0).all(-1).all(-1).any() for h in hits)


def test_son_applies_the_kernel():
    cfg = ZSSRConfig(scale=2)
    father = _img(16, 16)
    g = torch.Generator().manual_seed(0)
    bic = zi.father_to_son(father, degradation="bicubic", cfg=cfg, noise_std=0.0, generator=g)
    blur = zi.father_to_son(father, degradation="blur", cfg=cfg, noise_std=0.0, generator=g)
    assert bic.shape == blur.shape == (3, 8, 8)
    assert torch.equal(
        bic, degradations.quantize(degradations.imresize(father[None], 0.5).clamp(0, 1))[0]
    )
    assert torch.equal(blur, matrix.degrade(father[None], "blur", scale=2, generator=g)[0])
    assert not torch.equal(bic, blur)
    noisy = zi.father_to_son(father, degradation="bicubic", cfg=cfg, noise_std=0.05, generator=g)
    assert 0.02 < (noisy - bic).std() < 0.08
    assert (
        zi.son_degradation("known", "blur") == "blur"
        and zi.son_degradation("bicubic", "blur") == "bicubic"
    )


def test_lr_policy_divides_exactly_when_the_rule_says():
    pol = zi.LRPolicy(check_every=60, slope_range=256, test_every=50, ratio=1.5, min_iters=256)
    steps = list(range(0, 600, 50))
    flat = [1.0 + 0.01 * (-1) ** i for i in range(len(steps))]  # flat within noise: divide
    steep = [1.0 - 0.1 * i for i in range(len(steps))]  # falling fast: keep
    assert pol.step(299, 1e-3, steps[:6], flat[:6]) == pytest.approx(
        1e-4
    )  # (299 + 1) % 60 == 0, 299 > 256
    assert pol.decisions[-1]["decision"] == "divide" and pol.last_change == 299
    assert (
        pol.step(359, 1e-4, steps[:8], flat[:8]) == 1e-4
    )  # due only 256 iterations after the last change
    assert len(pol.decisions) == 1
    pol2 = zi.LRPolicy()
    assert (
        pol2.step(300, 1e-3, steps, flat) == 1e-3 and not pol2.decisions
    )  # not on the 60-iteration cadence
    assert (
        pol2.step(299, 1e-3, steps[:6], steep[:6]) == 1e-3
        and pol2.decisions[-1]["decision"] == "keep"
    )
    # the rule itself, on the last slope_range // test_every points: -ratio * slope < std, where std is the slope's
    # standard error as upstream's numpy (< 1.16) gave it: covariance scaled by rss / (M - N - 2), M = 5, N = 2
    x, y = np.array(steps[1:6], float), np.array(flat[1:6], float)
    slope, icpt = np.polyfit(x, y, 1)
    se = np.sqrt(((y - slope * x - icpt) ** 2).sum() / (5 - 4) / ((x - x.mean()) ** 2).sum())
    d = pol.decisions[0]
    assert d["slope"] == pytest.approx(slope) and d["std"] == pytest.approx(se)
    assert -1.5 * d["slope"] < d["std"]
    # a curve today's numpy scaling would keep but upstream's divides (the std sqrt(3) larger)
    edge = [1.0, 0.98, 0.995, 0.975, 0.985]
    assert zi.LRPolicy().step(299, 1e-3, list(range(0, 250, 50)), edge) == pytest.approx(1e-4)


def test_dihedral_inverses_are_exact_and_the_ensemble_of_an_equivariant_fn_is_one_pass():
    img = _img(5, 7)
    assert len({tuple(zi.dihedral(img, k).flatten()[:6].tolist()) for k in range(8)}) == 8
    for k in range(8):
        assert torch.equal(zi.dihedral_inverse(zi.dihedral(img, k), k), img)
    up = lambda x: degradations.nearest_upsample(x[None], 2)[0]  # noqa: E731  (equivariant to the 8 maps)
    assert torch.equal(zi.self_ensemble(up, img), up(img))
    # the median of 8 is numpy's (mean of the two middle values)
    fn_k = iter(range(8))
    out = zi.self_ensemble(lambda x: torch.full_like(x, float(next(fn_k))), img)
    assert torch.allclose(out, torch.full_like(img, 3.5))


def test_back_projection_reduces_the_lr_error():
    gt = degradations.imresize(_img(16, 16)[None], 2).clamp(0, 1)
    lq = degradations.imresize(gt, 0.5)
    sr = (gt + 0.1 * torch.randn(gt.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    down = zi.downscaler("bicubic", scale=2, sigma=0.0)
    errs = []
    for _ in range(5):
        errs.append(float((down(sr) - lq).abs().mean()))
        sr = zi.back_projection(sr, lq, scale=2, down=down)
    assert all(b < a for a, b in zip(errs, errs[1:])) and errs[-1] < 0.5 * errs[0]


def test_train_zssr_learns_is_reproducible_and_refuses_nan():
    gt = degradations.imresize(_img(8, 8)[None], 4)[0].clamp(0, 1)  # 32^2, smooth: learnable
    lq = degradations.quantize(degradations.imresize(gt[None], 0.5).clamp(0, 1))[0]
    cfg = ZSSRConfig(**(TINY | {"max_iters": 40, "min_iters": 100}))
    a = zi.train_zssr(lq, cfg=cfg, degradation="bicubic", seed=0)
    b = zi.train_zssr(lq, cfg=cfg, degradation="bicubic", seed=0)
    assert a.iters == 40 and a.stop == "max_iters" and sum(a.modes.values()) == 40
    assert a.losses == b.losses and all(
        torch.equal(p, q) for p, q in zip(a.net.parameters(), b.net.parameters())
    )
    assert np.mean(a.losses[-10:]) < np.mean(a.losses[:10])
    down = zi.downscaler("bicubic", scale=2, sigma=0.0)
    sr = zi.zssr_upscale(a.net, lq, scale=2, down=down, ensemble=True, bp_iters=2)
    assert sr.shape == (3, 32, 32)
    broken = lq.clone()
    broken[:, 3, 5] = float("nan")  # a corrupt pixel: every son and the loss go NaN
    with pytest.raises(training.NonFiniteTraining, match="non-finite L1 loss at iteration 0"):
        zi.train_zssr(broken, cfg=cfg, degradation="bicubic", seed=0)


def test_training_stops_when_the_lr_falls_below_min_lr():
    lq = torch.full(
        (3, 16, 16), 0.5
    )  # a flat image: the reconstruction curve is flat, every check divides
    cfg = ZSSRConfig(**(TINY | {"max_iters": 100}))
    run = zi.train_zssr(lq, cfg=cfg, degradation="bicubic", seed=0)
    assert run.stop == "min_lr" and run.iters < 100
    assert [d["decision"] for d in run.decisions].count("divide") == 3  # 1e-3 -> 1e-6 < 9e-6


def test_an_image_not_divisible_by_the_scale_is_refused():
    with pytest.raises(ValueError, match="must be divisible by scale=2"):
        zi.train_zssr(_img(15, 16), cfg=ZSSRConfig(**TINY), degradation="bicubic", seed=0)


def test_config_refusals():
    with pytest.raises(ParamsError, match="'kernels' must list some of"):
        ZSSRConfig(kernels=("gaussian",))
    with pytest.raises(ParamsError, match="'crop_size' must be divisible by scale"):
        ZSSRConfig(crop_size=15)
    with pytest.raises(ParamsError, match="'gradual' needs scale 4"):
        ZSSRConfig(gradual=True)
    with pytest.raises(ParamsError, match="'lr' must be > 0"):
        ZSSRConfig(lr=0.0)
    with pytest.raises(ParamsError, match=">= 5 points"):
        ZSSRConfig(lr_slope_range=100, test_every=50)
