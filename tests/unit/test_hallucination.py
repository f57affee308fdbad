"""Diverse hallucination SR (Abid, Hedhli, Gagné): gradient map and F on hand-computed cases, the straight-through
rounding, L_z's clamp, R1 against autograd, the MSG shapes, G / D steps (isolation, overfit), bit-identical resume,
the configs' refusals, RRDBNet's 8x head and the diversity measures."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srlib import losses
from srlib.config import ParamsError
from srlib.data.patches import PairedPatches
from srlib.hallucination import data as hdata
from srlib.hallucination import evaluate as hev
from srlib.hallucination import train as htrain
from srlib.hallucination.config import HallucinationEvaluateConfig, HallucinationTrainConfig
from srlib.models import hallucination as hm
from srlib.models.esrgan import RRDBNet

torch.set_num_threads(1)

TINY = dict(num_feat=8, num_block=1, noise_dim=4)  # generator widths small enough for CPU tests
TINY_D = dict(num_feat=8, num_block=1)


def smooth(seed, size=32, batch=1):
    """A smooth random RGB image in [0, 1] (bilinear-upsampled noise)."""
    x = torch.rand(batch, 3, size // 4, size // 4, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def tiny_percep(seed=0):
    """L1Features on a frozen random 3x3 conv standing in for VGG-16 (no weights to load)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Conv2d(3, 8, 3, padding=1).requires_grad_(False)
    net.status = SimpleNamespace(source="test stand-in", comparable=False)
    return htrain.L1Features(net)


def tiny_nets(scale, seed=0):
    torch.manual_seed(seed)
    g = hm.HallucinationGenerator(scale=scale, **TINY)
    d_img = hm.PyramidDiscriminator(scale=scale, in_ch=3, cond_ch=3, **TINY_D)
    d_grad = hm.PyramidDiscriminator(scale=scale, in_ch=1, **TINY_D)
    return g, d_img, d_grad


def up(x, factor):
    return F.interpolate(x, scale_factor=factor, mode="nearest")


# ---- 1. gradient map ------------------------------------------------------------------------------

IMG = torch.tensor([[1.0, 2.0, 4.0], [0.0, 3.0, 9.0], [5.0, 1.0, 6.0]])  # rows y, columns x
# by hand: g_x = I(x+1) - I(x-1) along a row, g_y along a column, the border replicated
#   g_x = [[1, 3, 2], [3, 9, 6], [-4, 1, 5]],  g_y = [[-1, 1, 5], [4, -1, 2], [5, -2, -3]]
G_SQUARED = torch.tensor([[2.0, 10.0, 29.0], [25.0, 82.0, 40.0], [41.0, 5.0, 34.0]])


def test_gradient_map_hand_computed():
    g = hm.gradient_map(IMG[None, None] / 10)
    assert g.shape == (1, 1, 3, 3)
    torch.testing.assert_close(g[0, 0], G_SQUARED.sqrt() / 10)


def test_gradient_map_non_square_ramp_and_eps():
    ramp = torch.arange(4.0).expand(2, 4)[None, None] / 10  # I(x, y) = x / 10: (1, 1, 2, 4)
    want = (
        torch.tensor([1.0, 2.0, 2.0, 1.0]).expand(2, 4) / 10
    )  # central differences, halved at the borders
    torch.testing.assert_close(hm.gradient_map(ramp)[0, 0], want)
    torch.testing.assert_close(hm.gradient_map(ramp.transpose(-1, -2))[0, 0], want.T)
    flat = torch.full((1, 1, 3, 3), 0.5, requires_grad=True)
    g = hm.gradient_map(flat, eps=1e-6)
    torch.testing.assert_close(g, torch.full_like(g, 1e-3))  # sqrt(0 + eps)
    g.sum().backward()
    assert torch.isfinite(flat.grad).all()


def test_gradient_map_uses_bt601_luma():
    y = IMG[None, None] / 10
    g1 = hm.gradient_map(y)
    torch.testing.assert_close(hm.gradient_map(y.expand(1, 3, 3, 3)), g1)  # grey: luma = the value
    zero = torch.zeros_like(y)
    for channel, weight in enumerate((0.299, 0.587, 0.114)):
        rgb = torch.cat([y if c == channel else zero for c in range(3)], dim=1)
        torch.testing.assert_close(hm.gradient_map(rgb), weight * g1)
    torch.testing.assert_close(hm.luminance(torch.ones(1, 3, 1, 1)), torch.ones(1, 1, 1, 1))


def test_pyramid_is_average_pooled_coarsest_first():
    gt = smooth(0, 16)
    levels = hm.pyramid(gt, 3)
    assert [tuple(x.shape) for x in levels] == [(1, 3, 4, 4), (1, 3, 8, 8), (1, 3, 16, 16)]
    assert levels[-1] is gt or torch.equal(levels[-1], gt)
    torch.testing.assert_close(levels[0][0, :, 1, 2], gt[0, :, 4:8, 8:12].mean(dim=(1, 2)))
    torch.testing.assert_close(levels[1], F.avg_pool2d(gt, 2))
    imgs, grads = htrain.real_pyramids(gt, 3, requires_grad=True)
    assert all(x.requires_grad and x.is_leaf for x in imgs + grads)
    for x, g in zip(imgs, grads):
        torch.testing.assert_close(g, hm.gradient_map(x))


# ---- 2. straight-through rounding and F -----------------------------------------------------------


def test_round_ste_forward_is_round_backward_is_identity():
    x = torch.tensor([0.2, 0.5, 0.7, 1.5, 2.5, -0.6, 17.49, 254.51, 128.0], requires_grad=True)
    y = hm.round_ste(x)
    assert torch.equal(y.detach(), torch.round(x.detach()))
    w = torch.linspace(-2, 3, len(x))
    (y * w).sum().backward()
    assert torch.equal(x.grad, w)  # d round_ste / dx = 1 exactly


def lr_image(batch=1):
    levels = torch.tensor([[20.0, 101.0, 200.0], [37.0, 150.0, 64.0]])  # (2, 3) LR pixels, 8-bit
    lq = torch.stack([levels, levels + 3, levels + 7])[None] / 255  # (1, 3, 2, 3)
    return lq.expand(batch, -1, -1, -1).clone()


def test_consistency_map_zero_on_exact_8bit_hr():
    lq = lr_image()
    assert torch.equal(hm.consistency_map(up(lq, 2), lq, scale=2), torch.zeros_like(lq))
    # sub-block detail whose 2x2 mean is 0 keeps DS(I) = I_LR (a strided subsample would be a level off)
    detail = torch.tensor([[-1.0, 1.0], [2.0, -2.0]]).repeat(2, 3)[None, None] / 255
    hr = up(lq, 2) + detail
    assert torch.equal(hm.consistency_map(hr, lq, scale=2), torch.zeros_like(lq))
    top_left = up(hr[..., ::2, ::2], 2)  # each block's top-left pixel: one level below I_LR
    torch.testing.assert_close(hm.consistency_map(top_left, lq, scale=2), torch.full_like(lq, 0.9))
    # the data pipeline: any 8-bit HR and its 8-bit average-pooled LR (what D sees as real, F = 0)
    hr_img = (torch.rand(3, 16, 24, generator=torch.Generator().manual_seed(3)) * 255).round() / 255
    lq_p, gt_p = hdata.pair(hr_img, 8)
    assert torch.equal(hm.consistency_map(gt_p[None], lq_p[None], scale=8), torch.zeros(1, 3, 2, 3))
    assert hm.lr_consistency_levels(gt_p[None], lq_p[None], scale=8).tolist() == [0.0]


OFFSETS = torch.tensor([[0.0, 0.3, -0.3], [0.7, 2.0, -4.0]])  # 8-bit levels added per LR pixel
# F = max(|round(d)| - eps, 0) with eps = 0.1
F_WANT = torch.tensor([[0.0, 0.0, 0.0], [0.9, 1.9, 3.9]])


def test_consistency_map_counts_levels_off_and_passes_gradients():
    lq = lr_image(batch=2)
    off = torch.stack([OFFSETS / 255, torch.zeros(2, 3)])[:, None]  # image 0 off, image 1 exact
    hr = up(lq + off, 2).requires_grad_(True)
    f_map = hm.consistency_map(hr, lq, scale=2, eps=0.1)
    assert f_map.shape == (2, 3, 2, 3)
    torch.testing.assert_close(f_map[0], F_WANT.expand(3, 2, 3), atol=1e-4, rtol=0)
    assert torch.equal(f_map[1], torch.zeros(3, 2, 3))
    torch.testing.assert_close(
        hm.consistency_map(hr, lq, scale=2, eps=0.5)[0, 0],
        (F_WANT - 0.4).clamp_min(0),
        atol=1e-4,
        rtol=0,
    )
    f_map.sum().backward()
    # through the rounding: dF/dI = sign * 255 / 4 (avg pool 2x2, 8-bit levels) where F > 0, else 0
    sign = torch.sign(OFFSETS) * (F_WANT > 0)
    want = (
        torch.stack([up(sign[None, None], 2)[0, 0].expand(3, 4, 6), torch.zeros(3, 4, 6)]) * 255 / 4
    )
    torch.testing.assert_close(hr.grad, want)
    assert hr.grad.abs().sum() > 0
    assert hm.lr_consistency_levels(hr.detach(), lq, scale=2).tolist() == [4.0, 0.0]


# ---- 3. L_z -----------------------------------------------------------------------------------------


def noises(dz_0, dz_1):
    z_1 = torch.zeros(2, 2, 2, 2)
    return z_1, torch.stack([torch.full((2, 2, 2), dz_0), torch.full((2, 2, 2), dz_1)])


def test_diversity_term_ratio_when_small():
    out_1 = torch.zeros(2, 1, 4, 4)
    out_2 = torch.zeros(2, 1, 4, 4)
    out_2[0].view(-1)[:8] = 0.02  # mean |diff| 0.01, over mean |dz| 1 -> 0.01
    out_2[1] = -0.04  # 0.04 over 2 -> 0.02
    z_1, z_2 = noises(1.0, 2.0)
    val = losses.diversity_term(out_1, out_2, z_1, z_2, tau=0.1)
    assert val.item() == pytest.approx((0.01 + 0.02) / 2, rel=1e-5)
    # symmetric, and the clamp bounds each image, not the batch mean
    assert losses.diversity_term(out_2, out_1, z_2, z_1, tau=0.1).item() == pytest.approx(
        val.item()
    )
    assert losses.diversity_term(out_1, out_2, z_1, z_2, tau=0.015).item() == pytest.approx(
        (0.01 + 0.015) / 2, rel=1e-5
    )


def test_diversity_term_clamps_at_tau_with_zero_gradient():
    out_1 = torch.zeros(2, 1, 4, 4)
    out_2 = torch.full((2, 1, 4, 4), 0.5, requires_grad=True)  # ratios 0.5 / 0.01 and 0.5 / 2
    z_1, z_2 = noises(0.01, 2.0)
    val = losses.diversity_term(out_1, out_2, z_1, z_2, tau=0.1)
    assert torch.equal(val.detach(), torch.tensor(0.1))
    val.backward()
    assert torch.equal(out_2.grad, torch.zeros_like(out_2))
    # one image clamped, one not: only the unclamped one gets a gradient, 1 / (16 * mean|dz|) / batch
    small = torch.zeros(2, 1, 4, 4)
    small[0].view(-1)[:8] = 0.02
    small[1] = 0.5
    small.requires_grad_(True)
    val = losses.diversity_term(out_1, small, *noises(1.0, 2.0), tau=0.1)
    assert val.item() == pytest.approx((0.01 + 0.1) / 2, rel=1e-5)
    val.backward()
    want = torch.zeros(2, 1, 4, 4)
    want[0].view(-1)[:8] = 1 / 32
    torch.testing.assert_close(small.grad, want)
    # equal noises: no division by zero, the bound holds
    same = losses.diversity_term(out_1, out_2.detach(), z_1, z_1, tau=0.1)
    assert torch.isfinite(same) and same.item() == pytest.approx(0.1)


# ---- 4. R1 -------------------------------------------------------------------------------------------


class LinearD(nn.Module):
    """D(x_1, x_2) = sum(w_1 x_1) + sum(w_2 x_2) per image: grad_x D = w, ||grad||^2 = sum w^2."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.tensor([[[1.0, -2.0], [3.0, 0.5]]]))  # sum w^2 = 14.25
        self.w2 = nn.Parameter(torch.tensor([[[0.5, -1.0, 2.0]]]))  # sum w^2 = 5.25

    def forward(self, x1, x2):
        return ((x1 * self.w1).flatten(1).sum(1) + (x2 * self.w2).flatten(1).sum(1))[:, None]


def test_r1_closed_form_on_linear_d():
    d = LinearD()
    x1 = torch.randn(3, 1, 2, 2, requires_grad=True)
    x2 = torch.randn(3, 1, 1, 3, requires_grad=True)
    r1 = losses.r1_penalty(d(x1, x2), [x1, x2])
    assert r1.item() == pytest.approx(14.25 + 5.25)
    r1.backward()  # create_graph: R1 = sum w^2 is differentiable in w, d/dw = 2 w
    torch.testing.assert_close(d.w1.grad, 2 * d.w1.detach())
    torch.testing.assert_close(d.w2.grad, 2 * d.w2.detach())


def test_r1_matches_independent_autograd_on_conv_d():
    torch.manual_seed(0)
    d = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 3, padding=1)
    ).double()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    r1 = losses.r1_penalty(d(x), [x])
    per_image = []
    for b in range(2):
        (grad,) = torch.autograd.grad(d(x)[b].sum(), x)
        assert grad[1 - b].abs().max() == 0  # D is per image
        per_image.append(grad[b].pow(2).sum())
    torch.testing.assert_close(r1, torch.stack(per_image).mean())
    # differentiable in D's parameters, and the gradient is the right one (central difference on one weight)
    r1.backward()
    w = d[0].weight
    assert w.grad is not None and w.grad.abs().sum() > 0
    h = 1e-6
    vals = []
    for sign in (1, -1):
        with torch.no_grad():
            w[1, 2, 0, 1] += sign * h
        vals.append(losses.r1_penalty(d(x), [x]).item())
        with torch.no_grad():
            w[1, 2, 0, 1] -= sign * h
    assert w.grad[1, 2, 0, 1].item() == pytest.approx((vals[0] - vals[1]) / (2 * h), rel=1e-5)


def test_r1_on_a_pyramid_sums_every_scale():
    _, _, d_grad = tiny_nets(4)
    _, grads = htrain.real_pyramids(smooth(1, 16, batch=2), 2, requires_grad=True)
    r1 = losses.r1_penalty(d_grad(grads), grads)
    want = 0.0
    for b in range(2):
        gs = torch.autograd.grad(d_grad(grads)[b].sum(), grads)
        want += sum(g[b].pow(2).sum() for g in gs) / 2
    torch.testing.assert_close(r1, want)
    assert r1.item() > 0


# ---- 5. shapes at every MSG scale ----------------------------------------------------------------


@pytest.mark.parametrize("scale", [8, 4])
def test_generator_and_discriminator_shapes(scale):
    g, d_img, d_grad = tiny_nets(scale)
    s = int(math.log2(scale))
    lq = torch.rand(2, 3, 4, 5)
    out = g(lq)
    assert g.num_scales == s and len(out["image"]) == len(out["grad"]) == s
    for i, (img, grad) in enumerate(zip(out["image"], out["grad"]), start=1):
        assert img.shape == (2, 3, 4 * 2**i, 5 * 2**i)
        assert grad.shape == (2, 1, 4 * 2**i, 5 * 2**i)
    assert g.sr(lq).shape == (2, 3, 4 * scale, 5 * scale)
    f_map = hm.consistency_map(out["image"][-1], lq, scale=scale)
    assert f_map.shape == lq.shape
    assert d_img(out["image"], f_map).shape == (2, 1, 4, 5)
    assert d_grad(out["grad"]).shape == (2, 1, 4, 5)
    real_imgs, real_grads = htrain.real_pyramids(torch.rand(2, 3, 4 * scale, 5 * scale), s)
    assert [x.shape for x in real_imgs] == [x.shape for x in out["image"]]
    assert [x.shape for x in real_grads] == [x.shape for x in out["grad"]]
    assert d_img(real_imgs, torch.zeros_like(lq)).shape == d_grad(real_grads).shape == (2, 1, 4, 5)
    with pytest.raises(ValueError, match="consistency map"):
        d_img(out["image"])
    with pytest.raises(ValueError, match="scales"):
        d_img(out["image"][1:], f_map)
    with pytest.raises(ValueError, match="scales"):
        d_grad([*out["grad"], out["grad"][-1]])


def test_generator_noise():
    g, _, _ = tiny_nets(4)
    lq = torch.rand(2, 3, 4, 4)
    rec = g(lq)
    zeros = g(lq, torch.zeros(2, 4, 4, 4))
    for key in ("image", "grad"):
        for a, b in zip(rec[key], zeros[key]):
            assert torch.equal(a, b)  # z = None is the reconstruction, z = 0
    z_a = g.noise(lq, torch.Generator().manual_seed(0))
    assert z_a.shape == (2, 4, 4, 4)
    assert torch.equal(z_a, g.noise(lq, torch.Generator().manual_seed(0)))
    z_b = g.noise(lq, torch.Generator().manual_seed(1))
    out_a, out_b = g(lq, z_a), g(lq, z_b)
    assert torch.equal(out_a["image"][-1], g(lq, z_a)["image"][-1])
    for key in ("image", "grad"):
        assert (out_a[key][-1] - out_b[key][-1]).abs().mean() > 1e-4
        assert (out_a[key][-1] - rec[key][-1]).abs().mean() > 1e-4
    with pytest.raises(ValueError, match="power of two"):
        hm.HallucinationGenerator(scale=6, **TINY)


# ---- g_step / d_step ------------------------------------------------------------------------------


def snapshot(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def changed(before, net):
    return [k for k, v in net.state_dict().items() if not torch.equal(before[k], v)]


def step_batch(scale=4, batch=2):
    gt = (smooth(5, 8 * scale, batch=batch) * 255).round() / 255
    lq = (F.avg_pool2d(gt, scale) * 255).round() / 255
    gen = torch.Generator().manual_seed(7)
    z = [torch.randn(batch, TINY["noise_dim"], 8, 8, generator=gen) for _ in range(2)]
    return lq, gt, z


def test_g_step_updates_only_g_and_d_step_only_d():
    g, d_img, d_grad = tiny_nets(4)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam([*d_img.parameters(), *d_grad.parameters()], lr=1e-3, betas=(0.0, 0.9))
    lq, gt, (z_1, z_2) = step_batch()
    g0, di0, dg0 = snapshot(g), snapshot(d_img), snapshot(d_grad)
    kw = dict(gamma=3.0, beta=0.5, alpha=2.0, tau=0.1)
    fakes, logs = htrain.g_step(g=g, d_img=d_img, d_grad=d_grad, opt_g=opt_g, lq=lq, gt=gt, z_1=z_1,
                                z_2=z_2, percep=tiny_percep(), **kw)  # fmt: skip
    assert changed(g0, g) and not changed(di0, d_img) and not changed(dg0, d_grad)
    assert all(
        p.requires_grad and p.grad is None for p in [*d_img.parameters(), *d_grad.parameters()]
    )
    assert [x.shape[0] for x in fakes["image"] + fakes["grad"]] == [6] * 4  # [rec; z1; z2]
    assert fakes["f"].shape == (6, 3, 8, 8) and not fakes["f"].requires_grad
    assert not any(x.requires_grad for x in fakes["image"] + fakes["grad"])
    want = (
        kw["gamma"] * (logs["l_g_percep"] + logs["l_g_grad"])
        + kw["beta"] * logs["l_g_adv_rec"]
        + logs["l_g_adv_hal"]
        - kw["alpha"] * logs["l_z"]
    )
    assert logs["l_g_total"] == pytest.approx(want, rel=1e-5)
    assert 0 <= logs["lr_consistent_rec"] <= 1 and 0 <= logs["lr_consistent_hal"] <= 1
    assert 0 < logs["l_z"] <= 0.1
    g1 = snapshot(g)
    d_logs = htrain.d_step(
        d_img=d_img, d_grad=d_grad, opt_d=opt_d, gt=gt, fakes=fakes, r1_gamma=10.0
    )
    assert not changed(g1, g) and changed(di0, d_img) and changed(dg0, d_grad)
    assert d_logs["r1"] > 0 and all(math.isfinite(v) for v in d_logs.values())
    no_r1 = htrain.d_step(d_img=d_img, d_grad=d_grad, opt_d=opt_d, gt=gt, fakes=fakes, r1_gamma=0.0)
    assert "r1" not in no_r1


class Recorder(nn.Module):
    """Wraps a discriminator and keeps (detached copies of) what every call received."""

    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, []

    def forward(self, pyramid, cond=None):
        keep = None if cond is None else cond.detach().clone()
        self.calls.append(([x.detach().clone() for x in pyramid], keep))
        return self.net(pyramid, cond)


def test_g_step_and_d_step_feed_the_paper_inputs():
    g, d_img, d_grad = tiny_nets(4)
    d_img, d_grad = Recorder(d_img), Recorder(d_grad)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam([*d_img.parameters(), *d_grad.parameters()], lr=1e-3, betas=(0.0, 0.9))
    lq, gt, (z_1, z_2) = step_batch()
    percep = tiny_percep()
    with torch.no_grad():
        before = [g(lq, z) for z in (None, z_1, z_2)]
    fakes, logs = htrain.g_step(g=g, d_img=d_img, d_grad=d_grad, opt_g=opt_g, lq=lq, gt=gt, z_1=z_1,
                                z_2=z_2, percep=percep, tau=0.1, eps=0.2)  # fmt: skip
    # one batch [z = 0; z1; z2] through G, its image pyramid and F into D_I, its gradient pyramid into D_g
    for key in ("image", "grad"):
        for s in range(2):
            want = torch.cat([out[key][s] for out in before])
            torch.testing.assert_close(fakes[key][s], want)
    f_want = hm.consistency_map(fakes["image"][-1], torch.cat([lq] * 3), scale=4, eps=0.2)
    torch.testing.assert_close(fakes["f"], f_want)
    (imgs, cond), (grads, none) = d_img.calls[0], d_grad.calls[0]
    assert none is None and torch.equal(cond, fakes["f"])
    assert all(torch.equal(a, b) for a, b in zip(imgs + grads, fakes["image"] + fakes["grad"]))
    # the logged terms: L_percp and L_grad on the reconstruction, L_z on the two hallucinations' gradient maps
    rec_img, rec_grad = fakes["image"][-1][:2], fakes["grad"][-1][:2]
    assert logs["l_g_percep"] == pytest.approx(percep(rec_img, gt).item(), rel=1e-5)
    want_grad = F.l1_loss(rec_grad, hm.gradient_map(gt)).item()
    assert logs["l_g_grad"] == pytest.approx(want_grad, rel=1e-5)
    g_1, g_2 = fakes["grad"][-1][2:4], fakes["grad"][-1][4:]
    want_lz = losses.diversity_term(g_1, g_2, z_1, z_2, tau=0.1).item()
    assert logs["l_z"] == pytest.approx(want_lz, rel=1e-5)
    d_img.calls.clear(), d_grad.calls.clear()
    htrain.d_step(d_img=d_img, d_grad=d_grad, opt_d=opt_d, gt=gt, fakes=fakes, r1_gamma=10.0)
    # real: the HR pyramid with F = 0 and its gradient maps; fake: the step's detached outputs with their F
    (real_imgs, real_f), (fake_imgs, fake_f) = d_img.calls
    (real_grads, _), (fake_grads, _) = d_grad.calls
    real_want = hm.pyramid(gt, 2)
    assert all(torch.equal(a, b) for a, b in zip(real_imgs, real_want))
    assert all(torch.equal(a, hm.gradient_map(b)) for a, b in zip(real_grads, real_want))
    assert real_f.shape == (2, 3, 8, 8) and torch.equal(real_f, torch.zeros_like(real_f))
    assert torch.equal(fake_f, fakes["f"])
    assert all(
        torch.equal(a, b) for a, b in zip(fake_imgs + fake_grads, fakes["image"] + fakes["grad"])
    )


# ---- 6. overfit one batch ---------------------------------------------------------------------------


def test_overfit_one_batch_reconstruction_falls():
    g, d_img, d_grad = tiny_nets(4)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam([*d_img.parameters(), *d_grad.parameters()], lr=4e-4, betas=(0.0, 0.9))
    lq, gt = hdata.pair(smooth(1, 32)[0], 4)
    lq, gt = lq[None], gt[None]
    percep = tiny_percep()
    gen = torch.Generator().manual_seed(2)

    def rec_l1():
        with torch.no_grad():
            return F.l1_loss(g.sr(lq), gt).item()

    start = rec_l1()
    for _ in range(60):
        z_1, z_2 = (torch.randn(1, TINY["noise_dim"], 8, 8, generator=gen) for _ in range(2))
        fakes, logs = htrain.g_step(g=g, d_img=d_img, d_grad=d_grad, opt_g=opt_g, lq=lq, gt=gt,
                                    z_1=z_1, z_2=z_2, percep=percep)  # fmt: skip
        htrain.d_step(d_img=d_img, d_grad=d_grad, opt_d=opt_d, gt=gt, fakes=fakes)
    assert all(math.isfinite(v) for v in logs.values())
    assert rec_l1() < 0.5 * start, (start, rec_l1())


# ---- 7. fit: resume is bit-identical ---------------------------------------------------------------


def test_fit_resume_equals_uninterrupted(tmp_path):
    images = [torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    data = PairedPatches(
        images, scale=4, gt_size=32, batch_size=2, degrade=hdata.degrade(4), seed=3
    )
    lq, gt = data.batch(1)
    assert lq.shape == (2, 3, 8, 8) and torch.equal(lq, (lq * 255).round() / 255)

    def run(run_dir, iters, init_seed):
        cfg = HallucinationTrainConfig(
            scale=4, gt_size=32, batch_size=2, iters=iters, ckpt_interval=2, log_interval=1,
            num_feat=8, num_block=1, noise_dim=4, d_num_feat=8, d_num_block=1, lr_g=1e-3, lr_d=1e-3,
        )  # fmt: skip
        g, d_img, d_grad = tiny_nets(4, seed=init_seed)
        built = snapshot(g)
        hist = htrain.fit(cfg, g=g, d_img=d_img, d_grad=d_grad, percep=tiny_percep(), data=data,
                          alpha=1.0, run_dir=run_dir)  # fmt: skip
        return g, d_img, d_grad, hist, built

    g_full, di_full, dg_full, h_full, built = run(tmp_path / "full", 4, 0)
    assert changed(built, g_full)  # training moved G
    run(tmp_path / "split", 2, 0)
    # the resumed networks start from another initialisation: only the checkpoint can make them equal
    g_res, di_res, dg_res, h_res, _ = run(tmp_path / "split", 4, 123)
    for a, b in [(g_full, g_res), (di_full, di_res), (dg_full, dg_res)]:
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    f_full, f_res = h_full.to_frame(), h_res.to_frame()
    assert f_full.step.tolist() == f_res.step.tolist() == [1, 2, 3, 4]
    pd.testing.assert_series_equal(f_full.l_g_total, f_res.l_g_total)


# ---- 8. configs -------------------------------------------------------------------------------------


def test_config_refusals():
    HallucinationTrainConfig(scale=4, gt_size=32)
    HallucinationEvaluateConfig(num_samples=2)
    with pytest.raises(ParamsError, match="'scale'"):
        HallucinationTrainConfig(scale=6)
    with pytest.raises(ParamsError, match="'gt_size'"):
        HallucinationTrainConfig(scale=8, gt_size=100)
    with pytest.raises(ParamsError, match="'num_samples'"):
        HallucinationEvaluateConfig(num_samples=1)
    with pytest.raises(ParamsError, match="'scale'"):
        HallucinationEvaluateConfig(scale=12)


# ---- 9. RRDBNet's 8x head ---------------------------------------------------------------------------

RRDB_TINY = dict(num_feat=8, num_block=1, num_grow_ch=4)


def test_rrdbnet_scale8_head():
    torch.manual_seed(0)
    x8 = RRDBNet(scale=8, **RRDB_TINY)
    x4 = RRDBNet(scale=4, **RRDB_TINY)
    with torch.no_grad():
        assert x8(torch.rand(1, 3, 8, 8)).shape == (1, 3, 64, 64)
        assert x4(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)
    assert isinstance(x8.conv_up3, nn.Conv2d) and not hasattr(x4, "conv_up3")
    keys4, keys8 = set(x4.state_dict()), set(x8.state_dict())
    assert {k.split(".")[0] for k in keys4} == {
        "conv_first", "body", "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"
    }  # fmt: skip
    assert keys8 - keys4 == {"conv_up3.weight", "conv_up3.bias"} and keys4 <= keys8
    assert x8.conv_first.in_channels == 3  # no pixel-unshuffle at x8
    with pytest.raises(ValueError, match="scale"):
        RRDBNet(scale=3, **RRDB_TINY)


def test_vgg16_features_for_l_percp():
    vgg = losses.VGGFeatures(layer="features.8", arch="vgg16", weights_mode="random")
    assert vgg.status.source == "random-init"
    assert vgg(torch.rand(1, 3, 16, 16)).shape == (1, 128, 8, 8)  # relu2_2
    percep = htrain.L1Features(vgg)
    assert percep.status is vgg.status
    x = torch.rand(1, 3, 16, 16)
    assert percep(x, x).item() == 0 and percep(x, 1 - x).item() > 0
    with pytest.raises(ValueError, match="arch"):
        losses.VGGFeatures(layer="features.8", arch="vgg11", weights_mode="random")


# ---- 10. diversity measures ------------------------------------------------------------------------


def test_pairwise_mean_hand_computed():
    assert hev.pairwise_mean(np.array([0.0, 1.0, 3.0]), lambda a, b: abs(a - b)) == pytest.approx(
        2.0
    )
    feats = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    assert hev.pairwise_mean(feats, lambda a, b: float(np.linalg.norm(a - b))) == pytest.approx(
        20 / 3
    )


def test_diversity_identical_samples_is_zero():
    img = (torch.rand(3, 8, 8) * 255).round() / 255
    grad = torch.rand(1, 8, 8)
    feats = np.tile(np.random.default_rng(0).normal(size=(1, 16)), (4, 1))
    div = hev.diversity(img.expand(4, -1, -1, -1), grad.expand(4, -1, -1, -1), feats)
    assert div == {"div_pixel": 0.0, "div_grad": 0.0, "div_inception": 0.0}


def test_diversity_two_samples_hand_computed():
    images = torch.zeros(2, 3, 2, 2)
    images[1, 0] = 10 / 255  # 4 pixels 10 levels off
    images[1, 1, 0, 0] = 20 / 255  # one 20 levels off: 60 levels over 12 values
    grads = torch.zeros(2, 1, 2, 2)
    grads[1, 0] = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    feats = np.array([[0.0, 0.0], [3.0, 4.0]])
    div = hev.diversity(images, grads, feats)
    assert div["div_pixel"] == pytest.approx(5.0, rel=1e-5)
    assert div["div_grad"] == pytest.approx(2.5)
    assert div["div_inception"] == pytest.approx(5.0)


def test_sample_noise_is_seeded_per_input():
    g, _, _ = tiny_nets(4)
    lq = torch.rand(3, 4, 6)
    z = hev.sample_noise(g, lq, 3, seed=0, index=1)
    assert z.shape == (3, 4, 4, 6)
    assert torch.equal(z, hev.sample_noise(g, lq, 3, seed=0, index=1))
    assert not torch.equal(z, hev.sample_noise(g, lq, 3, seed=0, index=2))
    assert not torch.equal(z, hev.sample_noise(g, lq, 3, seed=1, index=1))
    assert not torch.equal(z[0], z[1])


def test_ablation_pairs_ours_with_no_lz_per_set():
    rows = []
    for i, (ours, no_lz) in enumerate([(5.0, 3.0), (4.0, 1.0), (6.0, 5.0), (7.0, 3.0)]):
        for model, v in (("ours", ours), ("no_lz", no_lz)):
            rows.append({"set": "faces", "image": f"i{i}", "model": model,
                         "div_pixel": v, "div_grad": v / 10, "div_inception": -v})  # fmt: skip
    rows.append({"set": "bench", "image": "b0", "model": "ours", "div_pixel": 1.0, "div_grad": 1.0,
                 "div_inception": 1.0})  # fmt: skip
    abl = hev.ablation(pd.DataFrame(rows), n_boot=200, seed=0)
    assert abl.set.tolist() == ["faces"] * 3  # bench has no alpha = 0 model
    res = abl.set_index("measure")
    # ours - no_lz per image: 2, 3, 1, 4 -> mean 2.5
    assert res.loc["div_pixel", "mean_diff"] == pytest.approx(2.5)
    assert res.loc["div_grad", "mean_diff"] == pytest.approx(0.25)
    assert res.loc["div_inception", "mean_diff"] == pytest.approx(-2.5)
    assert res.loc["div_pixel", "n"] == 4 and bool(res.loc["div_pixel", "higher_is_better"])


def test_a_row_more_than_3_db_below_bicubic_is_labelled_collapsed():
    import pandas as pd

    from srlib.hallucination import evaluate as hev

    summary = pd.DataFrame(
        [{"set": "faces", "row": r, "psnr_y": v} for r, v in
         (("bicubic", 22.0), ("srgan", 8.0), ("esrgan", 19.5), ("ours_z0", 18.9))]
    )  # fmt: skip
    assert hev.collapsed(summary, "faces") == {"srgan": -14.0, "ours_z0": pytest.approx(-3.1)}
    labels = hev.collapse_labels(summary)
    assert len(labels) == 2 and labels[0].startswith(
        "COLLAPSED: SRGAN (x8, retrained) on faces: -14.00 dB"
    )
    assert hev.collapsed(summary, "bench") == {}
