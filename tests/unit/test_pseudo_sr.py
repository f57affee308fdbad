"""Pseudo-supervised unpaired SR (Maeda 2020): every network's shape and scale, the geometric ensemble, where each
step's gradients go (parameter hooks: the one-way cycle's detach, D_{X up} never reaching U), the unpaired stream,
bit-identical resume, the configs' refusals and the blind-SR table's bookkeeping."""

import dataclasses
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from srlib.config import ParamsError
from srlib.models import pseudo_sr as pm
from srlib.models.srgan import SRResNet
from srlib.pseudo_sr import data as pdata
from srlib.pseudo_sr import evaluate as ev
from srlib.pseudo_sr import train as ptrain
from srlib.pseudo_sr.config import BlindSREvaluateConfig, PseudoSRTrainConfig

torch.set_num_threads(1)

TINY = dict(gt_size=32, batch_size=2, gyx_num_feat=8, gyx_num_block=1, z_feat=2, gxy_num_feat=8, gxy_num_block=1,
            u_num_feat=8, u_num_block=1, d_num_feat=8, iters=4, log_interval=2, ckpt_interval=2)  # fmt: skip


def tiny_cfg(**kw) -> PseudoSRTrainConfig:
    return PseudoSRTrainConfig(profile="smoke", **(TINY | kw))


def images(n, seed, side=48):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(3, side, side, generator=g) for _ in range(n)]


def stream(cfg, seed=0):
    side = max(48, cfg.gt_size)
    return pdata.UnpairedPatches(images(2, 1, side), images(2, 2, side), scale=cfg.scale, gt_size=cfg.gt_size,
                                 batch_size=cfg.batch_size, synthesise_x=True, seed=seed)  # fmt: skip


def hooked(nets):
    """Count, per network, the parameter gradients autograd delivers (a hook on every parameter)."""
    calls = {k: 0 for k in nets}
    for k, net in nets.items():
        for p in net.parameters():
            p.register_hook(lambda grad, k=k: calls.__setitem__(k, calls[k] + 1) or grad)
    return calls


def nudge(nets, seed=5):
    """Move every weight off its initialisation (zero-initialised tails would pass no gradient upstream)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for net in nets.values():
            for p in net.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.02)


# ---- 1. shapes and scales ------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [16, 24])
def test_lr_generators_keep_the_lr_shape_and_start_as_the_identity(side):
    x = torch.rand(2, 3, side, side)
    g_yx = pm.DegradationGenerator(num_feat=8, num_block=1, z_feat=2).eval()
    g_xy = pm.CleaningGenerator(num_feat=8, num_block=1)
    z = torch.randn(2, 1, side // 4, side // 4)
    assert g_yx(x, z).shape == x.shape and g_xy(x).shape == x.shape
    torch.testing.assert_close(
        g_xy(x), x, rtol=0, atol=0
    )  # zero tail: a clean input passes unchanged
    torch.testing.assert_close(g_yx(x, z), x, rtol=0, atol=0)
    nudge({"g": g_yx})
    assert not torch.equal(
        g_yx(x, z), g_yx(x, torch.randn_like(z))
    )  # the noise map matters once trained
    with pytest.raises(ValueError, match="1/4 of the image"):
        g_yx(x, torch.randn(2, 1, side // 2, side // 2))


@pytest.mark.parametrize(
    ("scale", "side", "out"), [(1, 16, 11), (2, 32, 12), (4, 64, 13), (4, 96, 21)]
)
def test_patch_discriminators_strides_follow_the_scale(scale, side, out):
    d = pm.PatchDiscriminator(num_feat=4, scale=scale)
    assert d(torch.rand(2, 3, side, side)).shape == (2, 1, out, out)


@pytest.mark.parametrize("scale", [3, 16])
def test_patch_discriminator_refuses_other_scales(scale):
    with pytest.raises(ValueError, match="power of two"):
        pm.PatchDiscriminator(num_feat=4, scale=scale)


@pytest.mark.parametrize("scale", [2, 4])
def test_every_network_of_a_run_has_its_shape(scale):
    cfg = tiny_cfg(scale=scale, gt_size=16 * scale)
    nets = ptrain.build_networks(cfg, "direct")
    assert set(nets) == {"g_yx", "g_xy", "u", "d_x", "d_y", "d_sr", "d_hr"}
    assert set(ptrain.build_networks(cfg, "pseudo")) == set(nets) - {"d_hr"}
    b = stream(cfg).batch(1)
    s = cfg.gt_size // scale
    assert b["y"].shape == (2, 3, 16 * scale, 16 * scale) and b["x"].shape == b["y_down"].shape == (
        2,
        3,
        s,
        s,
    )
    assert b["z"].shape == (2, 1, s // 4, s // 4)
    assert isinstance(nets["u"], SRResNet) and nets["u"](b["y_down"]).shape == b["y"].shape
    assert (
        nets["d_sr"](b["y"]).shape[-1] < nets["d_x"](b["x"]).shape[-1] + 3
    )  # D_{X up}: HR at an LR field


def test_geometric_ensemble_inverts_every_dihedral_map():
    x = torch.rand(1, 3, 6, 6)
    for k in range(8):
        torch.testing.assert_close(pm.dihedral_inverse(pm.dihedral(x, k), k), x, rtol=0, atol=0)
    assert (
        len({tuple(pm.dihedral(x, k).flatten().tolist()) for k in range(8)}) == 8
    )  # eight distinct maps
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    torch.testing.assert_close(
        pm.geometric_ensemble(torch.nn.Identity(), x), x
    )  # an equivariant net: itself
    assert not torch.allclose(
        pm.geometric_ensemble(conv, x), conv(x)
    )  # a generic conv is not equivariant


# ---- 2. where the gradients go --------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["pseudo", "direct", "two_way"])
def test_each_step_reaches_only_its_networks(variant):
    cfg = tiny_cfg()
    nets = ptrain.build_networks(cfg, variant)
    nudge(nets)
    opts = ptrain.build_optimizers(cfg, nets)
    calls = hooked(nets)
    batch = stream(cfg).batch(1)
    _, outs = ptrain.g_step(
        nets, opts, batch, w=ptrain.loss_weights(cfg), two_way=variant == "two_way"
    )
    assert {k for k, c in calls.items() if c} == {
        "g_yx",
        "g_xy",
    }  # U and every D frozen: D_{X up} stops at U
    assert not any(t.requires_grad for t in outs.values())  # what U and the D's get is detached
    calls.update(dict.fromkeys(calls, 0))
    ptrain.u_step(nets, opts, batch, outs, variant=variant, w_u_pix=cfg.w_u_pix)
    assert {k for k, c in calls.items() if c} == {
        "u"
    }  # the pseudo pair's L1 (or the direct GAN) trains U alone
    calls.update(dict.fromkeys(calls, 0))
    ptrain.d_step(nets, opts, batch, outs, r1_gamma=10.0)
    assert {k for k, c in calls.items() if c} == {k for k in nets if k.startswith("d_")}


def lr_part_grads(cfg, variant, batch, **w):
    nets = ptrain.build_networks(cfg, variant)
    nudge(nets)
    opts = ptrain.build_optimizers(cfg, nets)
    ptrain.g_step(nets, opts, batch, w=ptrain.loss_weights(cfg) | w, two_way=variant == "two_way")
    return {
        k: torch.cat([p.grad.flatten() for p in nets[k].parameters()]) for k in ("g_yx", "g_xy")
    }


def test_the_one_way_cycle_keeps_x_out_of_g_yx_and_the_two_way_cycle_lets_it_in():
    cfg = tiny_cfg()
    b1 = stream(cfg).batch(1)
    b2 = b1 | {"x": stream(cfg, seed=9).batch(1)["x"]}  # the same clean side, another degraded x
    one = [lr_part_grads(cfg, "pseudo", b) for b in (b1, b2)]
    torch.testing.assert_close(
        one[0]["g_yx"], one[1]["g_yx"], rtol=0, atol=0
    )  # no path from x to G_yx
    assert not torch.equal(
        one[0]["g_xy"], one[1]["g_xy"]
    )  # G_xy does see x (adversarial, geometric terms)
    two = [lr_part_grads(cfg, "two_way", b) for b in (b1, b2)]
    assert not torch.equal(two[0]["g_yx"], two[1]["g_yx"])  # x -> clean -> x reaches G_yx


def test_the_d_x_up_term_reaches_both_lr_generators_through_u():
    cfg = tiny_cfg()
    b = stream(cfg).batch(1)
    with_dsr, without = (
        lr_part_grads(cfg, "pseudo", b, dsr=1.0),
        lr_part_grads(cfg, "pseudo", b, dsr=0.0),
    )
    for k in ("g_yx", "g_xy"):
        assert (with_dsr[k] - without[k]).abs().max() > 0, k


def test_the_pseudo_pair_is_paired_with_its_own_hr_crop():
    cfg = tiny_cfg()
    nets = ptrain.build_networks(cfg, "pseudo")
    opts = ptrain.build_optimizers(cfg, nets)
    b = stream(cfg).batch(1)
    _, outs = ptrain.g_step(nets, opts, b, w=ptrain.loss_weights(cfg), two_way=False)
    # at initialisation both LR generators are the identity, so the pseudo-clean LR is y's own bicubic LR
    torch.testing.assert_close(outs["rec"], b["y_down"], rtol=0, atol=0)
    loss = ptrain.u_step(nets, opts, b, outs, variant="pseudo", w_u_pix=1.0)["l_u_pix"]
    with torch.no_grad():
        before = float(
            (nets["u"](b["y_down"]) - b["y"]).abs().mean()
        )  # U after its step: close to before
    assert loss == pytest.approx(before, rel=0.05)


# ---- 3. the unpaired stream, resume ----------------------------------------------------------------------------


def test_the_stream_is_a_function_of_seed_and_step_and_x_is_degraded():
    cfg = tiny_cfg()
    a, b = stream(cfg).batch(3), stream(cfg).batch(3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["x"], stream(cfg).batch(4)["x"])
    plain = pdata.UnpairedPatches(
        images(2, 1), images(2, 2), scale=4, gt_size=32, batch_size=2, synthesise_x=False
    )
    assert plain.batch(3)["x"].shape == a["x"].shape  # a real LR folder: crops of the LR itself


def test_domains_are_the_two_halves_of_the_train_split_and_never_overlap():
    files = [{"file": f"/d/{i}.png"} for i in range(5)]
    manifest = {"splits": {"train": {"files": files}}}
    cfg = tiny_cfg(y_dir="manifest", x_dir="manifest")
    y, x = pdata.domain_files(cfg, manifest)
    assert [p.stem for p in y] == ["0", "2", "4"] and [p.stem for p in x] == ["1", "3"]
    with pytest.raises(ParamsError, match="y_dir"):
        pdata.domain_files(tiny_cfg(y_dir="no/such/folder", x_dir="manifest"), manifest)
    for parts in (
        dict(y_part="odd"),
        dict(x_part="all"),
    ):  # one list, overlapping parts: refused before any work
        with pytest.raises(ParamsError, match="must be unpaired"):
            tiny_cfg(y_dir="manifest", x_dir="manifest", **parts)
    assert (
        tiny_cfg(y_dir="hr", x_dir="lr", y_part="all", x_part="all").x_part == "all"
    )  # two folders: allowed


def test_resume_repeats_the_uninterrupted_run(tmp_path):
    cfg = tiny_cfg(lr_milestones=(0.7,))  # a decay at step 3 of 4 (after the resume point)
    data = stream(cfg)
    full, _ = ptrain.fit(cfg, variant="two_way", data=data, run_dir=tmp_path / "a", device="cpu")
    half = dataclasses.replace(
        cfg, iters=2, lr_milestones=(0.99,)
    )  # steps 1-2 see the same lr in both
    ptrain.fit(half, variant="two_way", data=data, run_dir=tmp_path / "b", device="cpu")
    resumed, hist = ptrain.fit(
        cfg, variant="two_way", data=data, run_dir=tmp_path / "b", device="cpu"
    )
    assert list(hist.to_frame().step) == [2, 4]
    for k in full:
        for (n, p), q in zip(
            full[k].state_dict().items(), resumed[k].state_dict().values(), strict=True
        ):
            torch.testing.assert_close(q, p, rtol=0, atol=0, msg=f"{k}.{n}")


def test_lr_schedule_is_the_unofficial_multistep():
    def at(step):
        return ptrain.lr_at(
            1e-4, step, iters=300_000, milestones=(0.333, 0.6, 0.8, 0.933), decay=0.5
        )

    got = [at(s) for s in (1, 99_900, 99_901, 180_001, 300_000)]
    assert got == pytest.approx([1e-4, 1e-4, 5e-5, 2.5e-5, 6.25e-6])


# ---- 4. configs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kw", "match"), [
    (dict(gt_size=24), "divisible by 4 x scale"),
    (dict(variants=("direct",)), "must include 'pseudo'"),
    (dict(variants=("pseudo", "cycle")), "variants"),
    (dict(baselines=("jpeg",)), "baselines"),
    (dict(lr_milestones=(1.5,)), "fractions"),
    (dict(scale=2, gt_size=32, finetune_iters=3), "x4plus is x4 only"),
    (dict(realesrgan_weights="maybe"), "realesrgan_weights"),
])  # fmt: skip
def test_train_config_refuses(kw, match):
    with pytest.raises(ParamsError, match=match):
        tiny_cfg(**kw)


@pytest.mark.parametrize(("kw", "match"), [(dict(bench_crop=40), "bench_crop"), (dict(lpips_net="squeeze"), "lpips_net"),
                                           (dict(scale=8), "scale")])  # fmt: skip
def test_evaluate_config_refuses(kw, match):
    with pytest.raises(ParamsError, match=match):
        BlindSREvaluateConfig(profile="smoke", **kw)


# ---- 5. the blind-SR table's bookkeeping -----------------------------------------------------------------------


def fake_run(rows=("pseudo", "srresnet_bicubic", "direct")):
    nets = {r: object() for r in rows}
    return SimpleNamespace(cfg=SimpleNamespace(n_boot=200, seed=0, scale=4), nets=nets)


def per_image(values: dict) -> pd.DataFrame:
    return pd.DataFrame([{"model": m, "image": f"i{i}", "psnr_y": v + i, "ssim_y": 0.5, "lpips": 0.1 + 0.01 * i,
                          "niqe": float("nan"), "seconds": 0.1} for m, v in values.items() for i in range(6)])  # fmt: skip


def test_table_rows_are_ordered_flagged_and_compared_with_pseudo_sr():
    run = fake_run()
    df = per_image(
        {"bicubic": 24.0, "srresnet_bicubic": 24.5, "pseudo": 25.0, "direct": 20.0, "zssr": 24.2}
    )
    kid = {r: {"value": 0.01, "std": 0.001} for r in ev.row_order(run)}
    summary = ev.summarize(run, df, kid)
    assert list(summary.index) == ["bicubic", "srresnet_bicubic", "zssr", "pseudo", "direct"]
    assert (
        summary.loc["direct", "collapsed"] and not summary.loc["pseudo", "collapsed"]
    )  # 4 dB below bicubic
    assert "COLLAPSED" in ev.table(summary).set_index("method").index[-1]
    p = ev.paired(run, df)
    niqe = p[p.metric == "niqe"]
    assert (niqe.verdict == "untestable").all()  # no finite NIQE pair: kept, not raised
    psnr = p[(p.metric == "psnr_y") & (p.b == "srresnet_bicubic")].iloc[0]
    assert psnr.mean_diff == pytest.approx(0.5) and psnr.n == 6
    words = ev.verdict(summary, p)
    assert "COLLAPSED row" in words["vs_direct"] and words["vs_ideal"].startswith("pseudo-SR")


def test_zssr_crop_is_capped_at_the_lr_side_and_a_multiple_of_the_scale():
    cfg = BlindSREvaluateConfig(profile="smoke", zssr_crop_size=128, zssr_max_iters=7)
    z = ev.zssr_config(cfg, lr_side=30)
    assert (z.crop_size, z.scale, z.max_iters, z.noise_std) == (28, 4, 7, 0.0125)
