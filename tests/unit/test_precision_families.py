"""Mixed precision in the other training families (modified SRGAN, Real-ESRGAN, CUT, the unpaired M3, and the
night->day stages that call them), as tests/unit/test_precision.py holds it for SRGAN:

* ``precision="fp32"`` (the default) enters no autocast region and builds no GradScaler, and its result is, bit for
  bit, that of the same steps written out in plain PyTorch here (same op order, same random draws);
* bf16 autocast trains on the CPU: finite losses, other weights than fp32's, fp32 master weights, no scaler;
* fp16's GradScalers are checkpointed: a resumed run repeats the uninterrupted one, scaler state included.
"""

import contextlib
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srlib import losses, training
from srlib import precision as amp
from srlib.config import ParamsError
from srlib.cut import train as train_cut
from srlib.cut.data import UnpairedCrops
from srlib.data.patches import PairedPatches
from srlib.data.realesrgan_kernels import usm_sharp
from srlib.models import SRGANModifiedDiscriminator, SRGANModifiedGenerator
from srlib.models.cut import NLayerDiscriminator, PatchSampleF
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
from srlib.night2day import m3
from srlib.night2day import train as train_n2d
from srlib.night2day.config import Night2DayM1Config, Night2DayM2Config, Night2DayM3Config
from srlib.night2day.pairs import PairedCrops, UnpairedCrossScale
from srlib.realesrgan import train as train_resr
from srlib.srgan_modified import train as train_mod
from srlib.srgan_modified.config import SRGANModifiedTrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def same(*pairs: tuple[nn.Module, nn.Module]) -> bool:
    """Every tensor of every pair of modules' state dicts equal (``torch.equal``)."""
    for a, b in pairs:
        sa, sb = a.state_dict(), b.state_dict()
        if sa.keys() != sb.keys() or not all(torch.equal(sa[k], sb[k]) for k in sa):
            return False
    return True


def cpu_fp16_autocast() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            y = nn.Conv2d(3, 4, 3)(torch.rand(1, 3, 8, 8))
    except (RuntimeError, ValueError):
        return False
    return y.dtype == torch.float16


needs_fp16 = pytest.mark.skipif(
    not cpu_fp16_autocast(), reason="this PyTorch has no fp16 autocast on the CPU"
)


@pytest.fixture
def no_amp(monkeypatch):
    """Any autocast region or GradScaler fails the test: the fp32 path must use neither."""

    def refuse(*args, **kwargs):
        raise AssertionError("the fp32 path entered autocast or built a GradScaler")

    monkeypatch.setattr(torch, "autocast", refuse)
    monkeypatch.setattr(torch.amp, "GradScaler", refuse)


@pytest.fixture
def growing_scaler(monkeypatch):
    """A GradScaler whose scale grows every step: a resume that lost its state would end at another scale."""

    def growing(precision, device):
        return torch.amp.GradScaler("cpu", growth_interval=1) if precision == "fp16" else None

    monkeypatch.setattr(amp, "grad_scaler", growing)


class TinyFeatures(nn.Module):
    """Stands in for VGG19: ``n`` post-ReLU maps (a list, as ``VGGFeatures(layers=...)`` returns)."""

    def __init__(self, n: int = 2):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(3 if i == 0 else 4, 4, 3, stride=1 + (i > 0), padding=1) for i in range(n)
        )

    def forward(self, x):
        maps = []
        for conv in self.convs:
            x = torch.relu(conv(x))
            maps.append(x)
        return maps


def u8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().to(torch.uint8)


def checkpoint(run_dir) -> dict:
    return torch.load(run_dir / "last.pth", weights_only=True)


def assert_scalers_resumed(full: dict, split: dict, keys: tuple[str, ...]) -> None:
    for k in keys:
        assert full[k] == split[k], k
    # the scale moved off its initial 2^16 (grew, or backed off on an fp16 overflow): the resumed run continued
    # from the saved scale, not from a fresh scaler
    assert full[keys[0]]["scale"] != 2.0**16


# ---------------------------------------------------------------------------------------------- modified SRGAN


def mod_data():
    images = [torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(5))]
    return PairedPatches(images, scale=4, gt_size=32, batch_size=1, seed=0)


def mod_nets():
    torch.manual_seed(0)
    g = SRGANModifiedGenerator(num_feat=8, num_block=1, num_up_feat=8)
    d = SRGANModifiedDiscriminator(num_feat=4, fc_dim=8, input_size=32)
    return g, d, TinyFeatures()


def mod_run(run_dir, iters, **kw):
    g, d, feats = mod_nets()
    hist = train_mod.fit(
        g=g,
        d=d,
        vgg=feats,
        data=mod_data(),
        iters=iters,
        run_dir=run_dir,
        log_interval=1,
        ckpt_interval=2,
        **kw,
    )
    return g, d, hist


def test_srgan_modified_fp32_is_the_plain_recipe_bit_for_bit(tmp_path, no_amp):
    g_fit, d_fit, _ = mod_run(tmp_path, 3, precision="fp32")
    g, d, feats = mod_nets()  # the seed's recipe written out: no autocast, no scaler
    data, bce = mod_data(), F.binary_cross_entropy_with_logits
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    for step in range(1, 4):
        lq, gt = data.batch(step)
        g.eval()
        with torch.no_grad():
            fake = g(lq)
        order = training.step_generator(0, step, stream=training.STREAM_OFFSET)
        real_first = bool(torch.randint(2, (1,), generator=order).item())
        d.train()
        for x, target in [(gt, 1.0), (fake, 0.0)][:: 1 if real_first else -1]:
            opt_d.zero_grad(set_to_none=True)
            logits = d(x)
            bce(logits, torch.full_like(logits, target)).backward()
            opt_d.step()
        g.train()
        d.eval()
        with training.frozen(d):
            opt_g.zero_grad(set_to_none=True)
            sr = g(lq)
            content = 1.0 * losses.multi_layer_content(sr, gt, feats)
            sum([content, 1e-3 * losses.gan_g_loss(d(sr))]).backward()
            opt_g.step()
    assert same((g, g_fit), (d, d_fit))


def test_srgan_modified_bf16_trains_on_the_cpu(tmp_path):
    g32, _, _ = mod_run(tmp_path / "fp32", 2)
    g16, _, hist = mod_run(tmp_path / "bf16", 2, precision="bf16")
    assert all(torch.isfinite(torch.tensor(list(r.values()))).all() for r in hist.rows)
    assert not same((g32, g16)) and all(p.dtype == torch.float32 for p in g16.parameters())
    state = checkpoint(tmp_path / "bf16")
    assert state["run_config"]["precision"] == "bf16" and "scaler_g" not in state


@needs_fp16
def test_srgan_modified_fp16_resume_repeats_the_uninterrupted_run(tmp_path, growing_scaler):
    g_full, d_full, h_full = mod_run(tmp_path / "full", 4, precision="fp16")
    mod_run(tmp_path / "split", 2, precision="fp16")
    g_res, d_res, h_res = mod_run(tmp_path / "split", 4, precision="fp16")
    assert same((g_full, g_res), (d_full, d_res))
    assert [r["l_g_total"] for r in h_full.rows] == [r["l_g_total"] for r in h_res.rows]
    full, split = checkpoint(tmp_path / "full"), checkpoint(tmp_path / "split")
    assert_scalers_resumed(full, split, ("scaler_g", "scaler_d"))


def test_srgan_modified_stage_precision_field_reaches_the_loop(tmp_path):
    assert SRGANModifiedTrainConfig().precision == "fp32"
    with pytest.raises(ParamsError, match="'precision' must be one of fp32, bf16, fp16"):
        SRGANModifiedTrainConfig(precision="fp64")
    tiny = dict(num_feat=8, num_block=1, num_up_feat=8, d_num_feat=4, d_fc_dim=8, gt_size=32)
    cfg = SRGANModifiedTrainConfig(**tiny, iters=1, log_interval=1, precision="bf16")
    assert not any("mixed precision" in s for s in train_mod.run_labels(SRGANModifiedTrainConfig()))
    assert any("bf16 autocast" in s for s in train_mod.run_labels(cfg))
    g = train_mod.build_generator(cfg)
    train_mod.train_network(
        cfg, g, vgg=TinyFeatures(), data=mod_data(), val_fn=None, run=tmp_path, device="cpu"
    )
    assert checkpoint(tmp_path / g.padding)["run_config"]["precision"] == "bf16"


# ---------------------------------------------------------------------------------------------- Real-ESRGAN


def resr_data():
    hr = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    return PairedCrops(u8(F.avg_pool2d(hr, 4)), u8(hr), gt_size=16, batch_size=2, seed=0)


def resr_nets():
    torch.manual_seed(1)
    return (
        RRDBNet(num_feat=8, num_block=1, num_grow_ch=8),
        UNetDiscriminatorSN(num_feat=8),
        TinyFeatures(5),
    )


def resr_run(run_dir, iters, *, adversarial=True, **kw):
    g, d, feats = resr_nets()
    adv = dict(d=d, vgg=feats) if adversarial else {}
    hist, g_ema = train_resr.fit_realesrgan(
        g=g,
        data=resr_data(),
        iters=iters,
        run_dir=run_dir,
        lr_g=1e-3,
        log_interval=1,
        ckpt_interval=2,
        queue_size=0,
        **adv,
        **kw,
    )
    return g, g_ema, d, hist


def test_realesrgan_fp32_is_the_plain_computation_bit_for_bit(tmp_path, no_amp):
    g_fit, ema_fit, d_fit, _ = resr_run(tmp_path, 3, precision="fp32")
    g, d, feats = resr_nets()  # RealESRGAN's G and D steps and the EMA written out
    g_ema = copy.deepcopy(g).eval()
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.9, 0.99))
    data = resr_data()
    for step in range(1, 4):
        lq, gt = data.batch(step)
        gt_usm = usm_sharp(gt)
        opt_g.zero_grad(set_to_none=True)
        sr = g(lq)
        l_pix = 1.0 * losses.pixel_l1(sr, gt_usm)
        l_percep = 1.0 * losses.perceptual_l1(
            sr, gt_usm, feats, layer_weights=train_resr.REALESRGAN_LAYER_WEIGHTS
        )
        with training.frozen(d):
            l_gan = 0.1 * losses.gan_g_loss(d(sr))
        (l_pix + l_percep + l_gan).backward()
        opt_g.step()
        opt_d.zero_grad(set_to_none=True)
        l_real, l_fake = losses.gan_d_loss(d(gt), d(sr.detach()))
        (l_real + l_fake).backward()
        opt_d.step()
        train_resr.ema_update(g_ema, g, 0.999)
    assert same((g, g_fit), (g_ema, ema_fit), (d, d_fit))
    # RealESRNet (L1 only) through fit: the same as the plain L1 steps
    g_net, _, _, _ = resr_run(tmp_path / "net", 2, adversarial=False)
    g, _, _ = resr_nets()
    opt = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.9, 0.99))
    for step in range(1, 3):
        lq, gt = data.batch(step)
        opt.zero_grad(set_to_none=True)
        losses.pixel_l1(g(lq), usm_sharp(gt)).backward()
        opt.step()
    assert same((g, g_net))


def test_realesrgan_bf16_trains_on_the_cpu_and_keeps_the_ema_in_fp32(tmp_path):
    g32, _, _, _ = resr_run(tmp_path / "fp32", 2)
    g16, ema16, _, hist = resr_run(tmp_path / "bf16", 2, precision="bf16")
    assert all(torch.isfinite(torch.tensor(list(r.values()))).all() for r in hist.rows)
    assert not same((g32, g16))
    assert all(t.dtype == torch.float32 for t in [*g16.parameters(), *ema16.parameters()])
    state = checkpoint(tmp_path / "bf16")
    assert state["run_config"]["precision"] == "bf16" and "scaler_g" not in state


@needs_fp16
def test_realesrgan_fp16_resume_repeats_the_uninterrupted_run(tmp_path, growing_scaler):
    g_full, ema_full, d_full, h_full = resr_run(tmp_path / "full", 4, precision="fp16")
    resr_run(tmp_path / "split", 2, precision="fp16")
    g_res, ema_res, d_res, h_res = resr_run(tmp_path / "split", 4, precision="fp16")
    assert same((g_full, g_res), (ema_full, ema_res), (d_full, d_res))
    assert [r["l_g_total"] for r in h_full.rows] == [r["l_g_total"] for r in h_res.rows]
    full, split = checkpoint(tmp_path / "full"), checkpoint(tmp_path / "split")
    assert_scalers_resumed(full, split, ("scaler_g", "scaler_d"))


# ---------------------------------------------------------------------------------------------- CUT


def cut_data():
    gen = torch.Generator().manual_seed(2)
    x, y = torch.rand(3, 40, 40, generator=gen), torch.rand(3, 36, 36, generator=gen)
    return UnpairedCrops([x], [y], load_size=36, crop_size=32)


def cut_cfg(fast: bool = False) -> train_cut.CUTConfig:
    kw = dict(num_patches=16, load_size=36, crop_size=32, netf_nc=16)
    return train_cut.CUTConfig.fastcut(**kw) if fast else train_cut.CUTConfig(**kw)


def cut_nets():
    torch.manual_seed(2)
    return train_cut.build_cut(num_feat=8, num_block=2, num_feat_d=8, netf_nc=16)


def cut_run(run_dir, iters, *, fast=False, **kw):
    g, d, f = cut_nets()
    hist = train_cut.fit_cut(
        g=g,
        d=d,
        f=f,
        data=cut_data(),
        cfg=cut_cfg(fast),
        iters=iters,
        run_dir=run_dir,
        steps_per_epoch=2,
        log_interval=1,
        ckpt_interval=2,
        **kw,
    )
    return g, d, f, hist


@pytest.mark.parametrize("fast", [False, True], ids=["cut", "fastcut"])
def test_cut_fp32_is_the_plain_computation_bit_for_bit(tmp_path, no_amp, fast):
    g_fit, d_fit, f_fit, _ = cut_run(tmp_path, 3, fast=fast, precision="fp32")
    cfg, (g, d, f), data = cut_cfg(fast), cut_nets(), cut_data()  # CUT's iteration written out
    opts = [torch.optim.Adam(n.parameters(), lr=cfg.lr, betas=cfg.betas) for n in (g, d, f)]
    opt_g, opt_d, opt_f = opts
    for step in range(1, 4):
        real_x, real_y = data.batch(step)
        gen = training.step_generator(0, step, stream=training.STREAM_OFFSET)
        real = torch.cat((real_x, real_y)) if cfg.nce_idt else real_x
        flipped = cfg.flip_equivariance and bool(torch.rand(1, generator=gen) < 0.5)
        fake = g(torch.flip(real, [3]) if flipped else real)
        fake_y, idt_y = fake[:1], fake[1:]
        opt_d.zero_grad(set_to_none=True)
        l_real, l_fake = losses.lsgan_d_loss(d(real_y), d(fake_y.detach()))
        (0.5 * (l_real + l_fake)).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        opt_f.zero_grad(set_to_none=True)
        with training.frozen(d):
            l_gan = cfg.lambda_gan * losses.lsgan_g_loss(d(fake_y))
        kw = dict(g=g, f=f, nce_layers=cfg.nce_layers, num_patches=cfg.num_patches)
        kw |= dict(nce_t=cfg.nce_t, lambda_nce=cfg.lambda_nce, flipped=flipped, generator=gen)
        l_nce = train_cut.nce_loss(src=real_x, tgt=fake_y, **kw)
        if cfg.nce_idt:
            l_nce = 0.5 * (l_nce + train_cut.nce_loss(src=real_y, tgt=idt_y, **kw))
        (l_gan + l_nce).backward()
        opt_g.step()
        opt_f.step()
    assert same((g, g_fit), (d, d_fit), (f, f_fit))


def test_cut_bf16_trains_on_the_cpu(tmp_path):
    g32, _, _, _ = cut_run(tmp_path / "fp32", 2)
    g16, _, f16, hist = cut_run(tmp_path / "bf16", 2, precision="bf16")
    assert all(torch.isfinite(torch.tensor(list(r.values()))).all() for r in hist.rows)
    assert not same((g32, g16))
    assert all(p.dtype == torch.float32 for p in [*g16.parameters(), *f16.parameters()])
    state = checkpoint(tmp_path / "bf16")
    assert state["run_config"]["precision"] == "bf16" and "scaler_g" not in state


@needs_fp16
def test_cut_fp16_resume_repeats_the_uninterrupted_run(tmp_path, growing_scaler):
    g_full, d_full, f_full, h_full = cut_run(tmp_path / "full", 4, precision="fp16")
    cut_run(tmp_path / "split", 2, precision="fp16")
    g_res, d_res, f_res, h_res = cut_run(tmp_path / "split", 4, precision="fp16")
    assert same((g_full, g_res), (d_full, d_res), (f_full, f_res))
    assert [r["l_g_total"] for r in h_full.rows] == [r["l_g_total"] for r in h_res.rows]
    full, split = checkpoint(tmp_path / "full"), checkpoint(tmp_path / "split")
    assert_scalers_resumed(full, split, ("scaler_g", "scaler_d"))


def test_one_scaler_steps_both_optimisers_of_one_loss():
    a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    opts = [torch.optim.SGD(n.parameters(), lr=0.1) for n in (a, b)]
    before = [n.weight.detach().clone() for n in (a, b)]
    x = torch.ones(1, 2)
    amp.backward_step((a(x) + b(x)).sum(), opts, torch.amp.GradScaler("cpu"))
    assert all(not torch.equal(w, n.weight) for w, n in zip(before, (a, b)))


# ---------------------------------------------------------------------------------------------- unpaired M3


def m3_data():
    gen = torch.Generator().manual_seed(3)
    day_hr = torch.rand(4, 3, 32, 32, generator=gen)
    night_lq = u8(torch.rand(4, 3, 8, 8, generator=gen))
    return UnpairedCrossScale(night_lq, u8(day_hr), u8(F.avg_pool2d(day_hr, 4)), batch_size=2)


def m3_nets():
    torch.manual_seed(0)
    g = RRDBNet(num_feat=4, num_block=1, num_grow_ch=4)
    return g, NLayerDiscriminator(num_feat=4), PatchSampleF(in_channels=[4, 4], num_feat=8)


M3_KW = dict(steps_per_epoch=2, n_epochs=1, n_epochs_decay=2, nce_layers=(0, 1), num_patches=16)


def m3_run(run_dir, iters, **kw):
    g, d, f = m3_nets()
    hist = m3.fit_m3_unpaired(
        g=g,
        d=d,
        f=f,
        data=m3_data(),
        iters=iters,
        run_dir=run_dir,
        log_interval=1,
        ckpt_interval=2,
        **M3_KW,
        **kw,
    )
    return g, d, f, hist


def test_m3_unpaired_fp32_is_the_plain_computation_bit_for_bit(tmp_path, no_amp):
    g_fit, d_fit, f_fit, _ = m3_run(tmp_path, 3, precision="fp32")
    (g, d, f), data = m3_nets(), m3_data()
    lr_fn = train_cut.linear_decay(2e-4, 1, 2, 2)
    opt_g, opt_d, opt_f = (
        torch.optim.Adam(n.parameters(), lr=lr_fn(0), betas=(0.5, 0.999)) for n in (g, d, f)
    )
    for step in range(1, 4):
        for opt in (opt_g, opt_d, opt_f):
            training.set_lr(opt, lr_fn(step - 1))
        night_lq, day_hr, day_lq = data.batch(step)
        gen = training.step_generator(0, step, stream=training.STREAM_OFFSET)
        out = g(torch.cat((night_lq, day_lq)))
        sr, sr_idt = out[:2], out[2:]
        opt_d.zero_grad(set_to_none=True)
        l_real, l_fake = losses.lsgan_d_loss(d(day_hr * 2 - 1), d((sr * 2 - 1).detach()))
        (0.5 * (l_real + l_fake)).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        opt_f.zero_grad(set_to_none=True)
        with training.frozen(d):
            l_gan = 1.0 * losses.lsgan_g_loss(d(sr * 2 - 1))
        kw = dict(g=g, f=f, nce_layers=(0, 1), num_patches=16, generator=gen)
        l_nce = m3.cross_scale_nce(src_lq=night_lq, out_hr=sr, **kw)
        l_nce_y = m3.cross_scale_nce(src_lq=day_lq, out_hr=sr_idt, **kw)
        (l_gan + 0.5 * (l_nce + l_nce_y)).backward()
        opt_g.step()
        opt_f.step()
    assert same((g, g_fit), (d, d_fit), (f, f_fit))


def test_m3_unpaired_bf16_trains_on_the_cpu(tmp_path):
    g32, _, _, _ = m3_run(tmp_path / "fp32", 2)
    g16, _, _, hist = m3_run(tmp_path / "bf16", 2, precision="bf16")
    assert all(torch.isfinite(torch.tensor(list(r.values()))).all() for r in hist.rows)
    assert not same((g32, g16))
    assert checkpoint(tmp_path / "bf16")["run_config"]["precision"] == "bf16"


@needs_fp16
def test_m3_unpaired_fp16_resume_repeats_the_uninterrupted_run(tmp_path, growing_scaler):
    g_full, d_full, f_full, h_full = m3_run(tmp_path / "full", 4, precision="fp16")
    m3_run(tmp_path / "split", 2, precision="fp16")
    g_res, d_res, f_res, h_res = m3_run(tmp_path / "split", 4, precision="fp16")
    assert same((g_full, g_res), (d_full, d_res), (f_full, f_res))
    assert [r["l_g_total"] for r in h_full.rows] == [r["l_g_total"] for r in h_res.rows]
    full, split = checkpoint(tmp_path / "full"), checkpoint(tmp_path / "split")
    assert_scalers_resumed(full, split, ("scaler_g", "scaler_d"))


# ---------------------------------------------------------------------------------------------- night->day stages


# M3's networks and batches at toy size (the stage trainers' tests)
TINY_M3 = dict(
    num_feat=4,
    num_block=1,
    num_grow_ch=4,
    vgg_weights="random",
    paired_d_num_feat=4,
    paired_batch_size=2,
    paired_gt_size=16,
    unpaired_d_num_feat=4,
    unpaired_batch_size=2,
    netf_nc=8,
    num_patches=8,
    unpaired_init_epochs=1,
)
TINY_MODELS = dict(
    sr_num_feat=4,
    sr_num_block=1,
    sr_num_grow_ch=4,
    sr_d_num_feat=4,
    sr_epochs=1,
    sr_batch_size=2,
    sr_gt_size=16,
    vgg_weights="random",
    cut_num_feat=4,
    cut_num_block=1,
    cut_d_num_feat=4,
    cut_netf_nc=8,
    cut_num_patches=8,
    cut_epochs=1,
    cut_load_size=36,
    cut_crop_size=32,
    log_interval=1,
)


def test_night2day_precision_fields_are_checked():
    for cls in (Night2DayM1Config, Night2DayM2Config, Night2DayM3Config):
        assert cls().precision == "fp32"
        with pytest.raises(ParamsError, match="'precision' must be one of fp32, bf16, fp16"):
            cls(precision="fp64")


def test_night2day_m1_trainers_pass_the_precision_on(tmp_path):
    hr = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    lq = u8(F.avg_pool2d(hr, 4))
    where = dict(run_dir=tmp_path, device="cpu")
    cfg = Night2DayM1Config(**TINY_MODELS, precision="bf16")
    _, _, info_sr = train_n2d.train_sr(cfg, lq=lq, gt=u8(hr), name="sr", **where)
    _, _, info_cut = train_n2d.train_cut(cfg, x=u8(hr), y=u8(hr), name="cut", **where)
    for name, info in (("sr", info_sr), ("cut", info_cut)):
        assert checkpoint(tmp_path / name)["run_config"]["precision"] == "bf16"
        assert info["precision"].startswith("bf16 autocast")
    cfg32 = Night2DayM1Config(**TINY_MODELS)
    _, _, info = train_n2d.train_cut(cfg32, x=u8(hr), y=u8(hr), name="cut32", **where)
    assert "precision" not in info  # fp32 records nothing new


def test_night2day_m3_trainers_pass_the_precision_on(tmp_path):
    gen = torch.Generator().manual_seed(6)
    day_hr, night_hr = (
        torch.rand(4, 3, 32, 32, generator=gen),
        torch.rand(4, 3, 32, 32, generator=gen),
    )
    cfg = Night2DayM3Config(
        **TINY_M3, paired_epochs=1, unpaired_epochs=1, log_interval=1, precision="bf16"
    )
    night_lq = u8(F.avg_pool2d(night_hr, 4))
    _, _, info_p = m3.train_m3_paired(
        cfg, lq=night_lq, gt=u8(day_hr), run_dir=tmp_path, device="cpu"
    )
    _, _, info_u = m3.train_m3_unpaired(
        cfg,
        night_lq=night_lq,
        day_hr=u8(day_hr),
        day_lq=u8(F.avg_pool2d(day_hr, 4)),
        night_hr=u8(night_hr),
        run_dir=tmp_path,
        device="cpu",
    )
    for name in ("m3_paired", "m3_unpaired_init", "m3_unpaired"):
        assert checkpoint(tmp_path / name)["run_config"]["precision"] == "bf16", name
    assert info_p["precision"].startswith("bf16") and info_u["precision"].startswith("bf16")


def test_fp32_autocast_is_a_null_context():
    assert isinstance(amp.autocast("fp32", "cpu"), contextlib.nullcontext)
