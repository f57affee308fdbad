"""CUT / FastCUT: layer indices as in CUT, anti-aliased layers, PatchNCE on hand-checkable cases, LSGAN, training."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srlib import losses
from srlib.cut import data as cut_data
from srlib.cut import train as train_cut
from srlib.models import ARCHS, DISCRIMINATORS
from srlib.models.cut import (
    Downsample,
    NLayerDiscriminator,
    PatchSampleF,
    ResnetBlock,
    ResnetGenerator,
    Translator,
    Upsample,
    translate,
)

torch.set_num_threads(1)

NCE_LAYERS = (0, 4, 8, 12, 16)


def smooth(seed, size=32):
    """A smooth random image in [-1, 1] (upsampled noise), what the translator sees."""
    x = torch.rand(1, 3, size // 4, size // 4, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) * 2 - 1


# ---- networks -------------------------------------------------------------------------------------


def test_generator_layer_list_matches_cut_indices():
    g = ResnetGenerator(num_feat=8)
    m = g.model
    assert len(m) == 32  # 4 + 2 x 4 + 9 blocks + 2 x 4 + 3
    assert isinstance(m[0], nn.ReflectionPad2d) and m[1].kernel_size == (7, 7)
    assert isinstance(m[4], nn.Conv2d) and (m[4].in_channels, m[4].out_channels, m[4].stride) == (
        8,
        16,
        (1, 1),
    )
    assert isinstance(m[7], Downsample) and isinstance(m[11], Downsample)
    assert isinstance(m[8], nn.Conv2d) and m[8].out_channels == 32
    assert all(isinstance(m[i], ResnetBlock) for i in range(12, 21))
    assert (
        isinstance(m[21], Upsample) and isinstance(m[25], Upsample) and isinstance(m[31], nn.Tanh)
    )
    assert all(not n.affine for n in g.modules() if isinstance(n, nn.InstanceNorm2d))
    keys = set(g.state_dict())  # CUT's netG keys, so its checkpoints load
    assert {
        "model.1.weight",
        "model.4.bias",
        "model.7.filt",
        "model.12.conv_block.1.weight",
        "model.12.conv_block.5.weight",
        "model.22.weight",
        "model.30.weight",
    } <= keys


def test_encode_returns_the_nce_layers():
    g = ResnetGenerator(num_feat=8, num_block=9)
    feats = g.encode(smooth(0, 32), NCE_LAYERS)
    assert [tuple(f.shape[1:]) for f in feats] == [
        (3, 38, 38),
        (16, 32, 32),
        (32, 16, 16),
        (32, 8, 8),
        (32, 8, 8),
    ]
    torch.testing.assert_close(
        feats[0][..., 3:-3, 3:-3], smooth(0, 32)
    )  # layer 0 = padded RGB pixels
    assert g.feature_channels(NCE_LAYERS) == [3, 16, 32, 32, 32]
    assert ResnetGenerator(num_block=5).feature_channels(NCE_LAYERS) == [
        3,
        128,
        256,
        256,
        256,
    ]  # ngf 64


def test_generator_shape_range_and_no_antialias_variant():
    x = smooth(1, 24)
    for g in (
        ResnetGenerator(num_feat=4, num_block=1),
        ResnetGenerator(num_feat=4, num_block=1, antialias=False, antialias_up=False),
    ):
        y = g(x)
        assert y.shape == x.shape and y.abs().max() <= 1


def test_antialiased_layers_keep_constants_and_sizes():
    c = torch.full((1, 4, 12, 10), 0.3)
    torch.testing.assert_close(Downsample(4)(c), torch.full((1, 4, 6, 5), 0.3))
    torch.testing.assert_close(Upsample(4)(c), torch.full((1, 4, 24, 20), 0.3))


def test_patchgan_output_and_init():
    d = NLayerDiscriminator(num_feat=8)
    assert d(torch.rand(1, 3, 256, 256) * 2 - 1).shape == (
        1,
        1,
        30,
        30,
    )  # pix2pix's 30x30 map of 70x70 patches
    assert NLayerDiscriminator(num_feat=8, antialias=False)(torch.rand(1, 3, 256, 256)).shape == (
        1,
        1,
        30,
        30,
    )
    w = d.model[0].weight  # Xavier-normal, gain 0.02
    assert w.std().item() == pytest.approx(0.02 * math.sqrt(2 / (3 * 16 + 8 * 16)), rel=0.15)
    assert (
        DISCRIMINATORS["cut_patchgan"] is NLayerDiscriminator
        and ARCHS["cut_resnet_9blocks"] is ResnetGenerator
    )


def test_patch_sample_f_shapes_unit_norm_and_shared_ids():
    g = ResnetGenerator(num_feat=8, num_block=5)
    f = PatchSampleF(in_channels=g.feature_channels(NCE_LAYERS), num_feat=16)
    assert [k for k in f.state_dict() if k.endswith("weight")][:2] == [
        "mlp_0.0.weight",
        "mlp_0.2.weight",
    ]
    feats = g.encode(torch.cat([smooth(0), smooth(1)]), NCE_LAYERS)
    out, ids = f(feats, 50, generator=torch.Generator().manual_seed(0))
    assert [tuple(o.shape) for o in out] == [(2, 50, 16)] * 5
    norms = out[2].norm(
        dim=-1
    )  # x / (|x| + 1e-7): just below 1 (the 0.02-gain init makes |x| small)
    assert (norms <= 1).all() and (norms > 0.9).all()
    again, _ = f(feats, 50, ids)
    torch.testing.assert_close(again[0], out[0])
    small, _ = PatchSampleF(in_channels=[32], num_feat=16)(
        [feats[-1]], 500
    )  # 8x8 map: all 64 locations
    assert small[0].shape[1] == 64


def test_translate_pads_any_size_and_runs_through_srlib_inference():
    from srlib.inference import tiling

    g = ResnetGenerator(num_feat=4, num_block=1).eval()
    img = torch.rand(3, 18, 21)
    with torch.no_grad():
        out = translate(g, img)
        torch.testing.assert_close(translate(g, img[None])[0], out)
        inner = (g(F.pad(img[None], (0, 3, 0, 2), mode="reflect") * 2 - 1) + 1) / 2
    assert out.shape == img.shape and out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out, inner[0, :, :18, :21])
    torch.testing.assert_close(tiling.upscale(Translator(g), img, tile=0), out)


# ---- losses ---------------------------------------------------------------------------------------


def test_patch_nce_identical_features_give_log_num_patches():
    # q = k and every patch has the same unit feature: the positive and the P - 1 negatives all have logit
    # 1 / tau, the masked diagonal -10 / tau, so l = log(P + e^(-11 / tau)) = log P to within 1e-68.
    b, p, c, tau = 2, 256, 8, 0.07
    u = F.normalize(torch.randn(c, dtype=torch.float64), dim=0)
    feat = u.expand(b, p, c).clone()
    want = math.log(p + math.exp(-11 / tau))
    assert losses.patch_nce(feat, feat, tau=tau).item() == pytest.approx(want, abs=1e-12)
    assert want == pytest.approx(math.log(256), abs=1e-60)


def test_patch_nce_orthonormal_features():
    # q = k = the identity basis: positive 1 / tau, negatives 0, diagonal -10 / tau:
    # l = log(1 + (P - 1) e^(-1 / tau) + e^(-11 / tau)).
    p, tau = 16, 0.5
    feat = torch.eye(p, dtype=torch.float64)[None]
    want = math.log(1 + (p - 1) * math.exp(-1 / tau) + math.exp(-11 / tau))
    assert losses.patch_nce(feat, feat, tau=tau).item() == pytest.approx(want, abs=1e-12)


def test_patch_nce_uses_only_same_image_negatives_and_detaches_keys():
    q = F.normalize(torch.randn(2, 8, 4), dim=-1).requires_grad_(True)
    k = F.normalize(torch.randn(2, 8, 4), dim=-1).requires_grad_(True)
    both = losses.patch_nce(q, k)
    separate = (losses.patch_nce(q[:1], k[:1]) + losses.patch_nce(q[1:], k[1:])) / 2
    torch.testing.assert_close(both, separate)
    both.backward()
    assert q.grad is not None and k.grad is None


def test_lsgan_losses():
    ones, zeros = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    assert losses.lsgan_g_loss(ones).item() == 0 and losses.lsgan_g_loss(zeros).item() == 1
    l_real, l_fake = losses.lsgan_d_loss(ones, zeros)
    assert l_real.item() == 0 and l_fake.item() == 0
    l_real, l_fake = losses.lsgan_d_loss(
        torch.full((2, 1, 3, 3), 0.5), torch.full((2, 1, 3, 3), 0.5)
    )
    assert l_real.item() == pytest.approx(0.25) and l_fake.item() == pytest.approx(0.25)


# ---- configs, schedule, training ------------------------------------------------------------------


def test_cut_and_fastcut_settings():
    cut, fast = train_cut.CUTConfig(), train_cut.CUTConfig.fastcut()
    assert (cut.nce_idt, cut.lambda_nce, cut.flip_equivariance, cut.pool_size, cut.batch_size) == (
        True,
        1,
        False,
        0,
        1,
    )
    assert (fast.nce_idt, fast.lambda_nce, fast.flip_equivariance) == (False, 10, True)
    assert (fast.n_epochs, fast.n_epochs_decay, cut.n_epochs, cut.n_epochs_decay) == (
        150,
        50,
        200,
        200,
    )
    assert (cut.lr, cut.betas, cut.nce_t, cut.num_patches, cut.nce_layers) == (
        2e-4,
        (0.5, 0.999),
        0.07,
        256,
        NCE_LAYERS,
    )


def test_linear_decay_schedule():
    fn = train_cut.linear_decay(2e-4, n_epochs=2, n_epochs_decay=3, steps_per_epoch=10)
    assert fn(0) == fn(19) == 2e-4  # epochs 1-2 constant
    assert fn(20) == pytest.approx(2e-4 * 3 / 4) and fn(49) == pytest.approx(2e-4 / 4)


def tiny_cut(seed=0):
    torch.manual_seed(seed)
    g = ResnetGenerator(num_feat=8, num_block=2)
    d = NLayerDiscriminator(num_feat=8)
    f = PatchSampleF(in_channels=g.feature_channels(NCE_LAYERS), num_feat=32)
    return g, d, f


def test_cut_overfits_a_tiny_pair():
    cfg = train_cut.CUTConfig(num_patches=32, lr=2e-3)
    g, d, f = tiny_cut()
    opts = {
        k: torch.optim.Adam(n.parameters(), lr=cfg.lr, betas=cfg.betas)
        for k, n in (("opt_g", g), ("opt_d", d), ("opt_f", f))
    }
    x, y = smooth(1), smooth(2)
    hist = [
        train_cut.cut_train_step(
            g=g,
            f=f,
            d=d,
            real_x=x,
            real_y=y,
            cfg=cfg,
            generator=torch.Generator().manual_seed(s),
            **opts,
        )
        for s in range(25)
    ]
    nce = [h["l_nce"] for h in hist]
    assert sum(nce[-5:]) / 5 < 0.65 * nce[0]  # PatchNCE falls clearly (6.1 -> about 3.5 here)
    assert sum(h["l_d_real"] + h["l_d_fake"] for h in hist[-5:]) / 5 < 0.5  # and D learns the pair
    assert {"l_nce_y", "l_g_gan", "l_d_real", "l_d_fake"} <= set(hist[0])


def test_fastcut_step_flips_and_is_deterministic():
    cfg = train_cut.CUTConfig.fastcut(num_patches=16)
    results = []
    for _ in range(2):
        g, d, f = tiny_cut(1)
        opts = {
            k: torch.optim.Adam(n.parameters(), lr=cfg.lr, betas=cfg.betas)
            for k, n in (("opt_g", g), ("opt_d", d), ("opt_f", f))
        }
        logs = [
            train_cut.cut_train_step(
                g=g,
                f=f,
                d=d,
                real_x=smooth(3),
                real_y=smooth(4),
                cfg=cfg,
                generator=torch.Generator().manual_seed(s),
                **opts,
            )
            for s in range(3)
        ]
        results.append((logs, g.model[1].weight.clone()))
    assert results[0][0] == results[1][0] and torch.equal(results[0][1], results[1][1])
    assert "l_nce_y" not in results[0][0][0]
    flips = [
        train_cut.cut_forward(
            g=g,
            real_x=smooth(3),
            real_y=smooth(4),
            nce_idt=False,
            flip_equivariance=True,
            generator=torch.Generator().manual_seed(s),
        )[2]
        for s in range(10)
    ]
    assert True in flips and False in flips


def test_fit_cut_resume_equals_uninterrupted(tmp_path):
    cfg = train_cut.CUTConfig(num_patches=16, load_size=36, crop_size=32)
    data = cut_data.UnpairedCrops(
        [smooth(0, 40)[0] * 0.5 + 0.5], [smooth(1, 36)[0] * 0.5 + 0.5], load_size=36, crop_size=32
    )
    x, y = data.batch(1)
    assert x.shape == y.shape == (1, 3, 32, 32) and x.min() >= -1 and x.max() <= 1

    def run(run_dir, iters):
        g, d, f = tiny_cut(2)
        train_cut.fit_cut(
            g=g,
            d=d,
            f=f,
            data=data,
            cfg=cfg,
            iters=iters,
            run_dir=run_dir,
            steps_per_epoch=2,
            log_interval=1,
            ckpt_interval=2,
        )
        return g, f

    g_full, f_full = run(tmp_path / "full", 4)
    run(tmp_path / "split", 2)
    g_res, f_res = run(tmp_path / "split", 4)
    for a, b in zip(
        [*g_full.state_dict().values(), *f_full.state_dict().values()],
        [*g_res.state_dict().values(), *f_res.state_dict().values()],
    ):
        assert torch.equal(a, b)
