"""Mixed precision in training: fp32 (the default) is the plain computation bit for bit, bf16 / fp16 autocast run on
the CPU, fp16's GradScaler is checkpointed so a resumed run repeats the uninterrupted one, and the stage's field."""

import contextlib

import pytest
import torch
import torch.nn.functional as F

from srlib import precision as amp
from srlib import training
from srlib.config import ParamsError
from srlib.data import patches
from srlib.models import Discriminator, SRResNet
from srlib.srgan import train
from srlib.srgan.config import SRGANTrainConfig
from srlib.tracking import CheckpointError

torch.set_num_threads(1)


def tiny_data():
    g = torch.Generator().manual_seed(123)
    images = [torch.rand(3, 40, 48, generator=g), torch.rand(3, 36, 36, generator=g)]
    return patches.PairedPatches(images, scale=2, gt_size=16, batch_size=2, seed=0)


def run(tmp, iters, *, adversarial=True, ckpt_interval=2, **kw):
    """A tiny run (SRResNet 8 x 1, D 4 / 8), ``kw`` passed to ``fit`` (precision, channels_last, ...)."""
    torch.manual_seed(0)
    g, d = SRResNet(num_feat=8, num_block=1, scale=2), Discriminator(num_feat=4, fc_dim=8)
    adv = dict(w_adv=1e-3, d=d, lr_d=1e-4) if adversarial else {}
    hist = train.fit(
        g=g,
        data=tiny_data(),
        iters=iters,
        run_dir=tmp,
        lr_g=1e-3,
        w_pix=1.0,
        log_interval=1,
        ckpt_interval=ckpt_interval,
        **adv,
        **kw,
    )
    return g, d, hist


def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def cpu_fp16_autocast() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            y = torch.nn.Conv2d(3, 4, 3)(torch.rand(1, 3, 8, 8))
    except (RuntimeError, ValueError):
        return False
    return y.dtype == torch.float16


needs_fp16 = pytest.mark.skipif(
    not cpu_fp16_autocast(), reason="this PyTorch has no fp16 autocast on the CPU"
)


def test_fp32_default_is_the_plain_computation_bit_for_bit(tmp_path):
    g_omitted, d_omitted, h_omitted = run(tmp_path / "a", 3)
    g_fp32, d_fp32, h_fp32 = run(tmp_path / "b", 3, precision="fp32", channels_last=False)
    assert same(g_omitted, g_fp32) and same(d_omitted, d_fp32)
    assert [r["l_g_total"] for r in h_omitted.rows] == [r["l_g_total"] for r in h_fp32.rows]
    # and the same as plain PyTorch: no autocast, no scaler, nothing else in the way (the MSE stage)
    g_fit, _, _ = run(tmp_path / "c", 3, adversarial=False)
    torch.manual_seed(0)
    g = SRResNet(num_feat=8, num_block=1, scale=2)
    Discriminator(num_feat=4, fc_dim=8)  # the same draws from the global RNG as run()
    opt, data = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.9, 0.999)), tiny_data()
    for step in range(1, 4):
        lq, gt = data.batch(step)
        opt.zero_grad(set_to_none=True)
        F.mse_loss(g(lq), gt).backward()
        opt.step()
    assert same(g, g_fit)


def test_bf16_autocast_trains_on_the_cpu(tmp_path):
    g32, _, _ = run(tmp_path / "fp32", 3)
    g16, d16, hist = run(tmp_path / "bf16", 3, precision="bf16", channels_last=True)
    assert all(torch.isfinite(torch.tensor(r["l_g_total"])) for r in hist.rows)
    assert not same(g32, g16)  # autocast really ran: bf16 rounding changes the weights
    assert all(p.dtype == torch.float32 for p in g16.parameters())  # master weights stay fp32
    assert "scaler_g" not in torch.load(tmp_path / "bf16" / "last.pth", weights_only=True)


@needs_fp16
def test_fp16_runs_with_a_checkpointed_grad_scaler(tmp_path):
    _, _, hist = run(tmp_path, 2, precision="fp16")
    assert len(hist.rows) == 2
    state = torch.load(tmp_path / "last.pth", weights_only=True)
    assert {"scaler_g", "scaler_d"} <= set(state) and state["scaler_g"]["scale"] > 0
    assert state["run_config"]["precision"] == "fp16"


@needs_fp16
def test_fp16_resume_repeats_the_uninterrupted_run(tmp_path, monkeypatch):
    # a scaler that grows every step: a resume that lost its state would end at another scale
    def growing(precision, device):
        return torch.amp.GradScaler("cpu", growth_interval=1) if precision == "fp16" else None

    monkeypatch.setattr(amp, "grad_scaler", growing)
    g_full, d_full, h_full = run(tmp_path / "full", 4, precision="fp16")
    run(tmp_path / "split", 2, precision="fp16")  # "interrupted" after step 2
    g_res, d_res, h_res = run(tmp_path / "split", 4, precision="fp16")
    assert same(g_full, g_res) and same(d_full, d_res)
    assert [r["l_g_total"] for r in h_res.rows] == [r["l_g_total"] for r in h_full.rows]
    full, split = (
        torch.load(tmp_path / p / "last.pth", weights_only=True) for p in ("full", "split")
    )
    assert full["scaler_g"] == split["scaler_g"] and full["scaler_d"] == split["scaler_d"]
    assert full["scaler_g"]["_growth_tracker"] == 0 and full["scaler_g"]["scale"] > 2.0**16


def test_resume_in_another_precision_is_refused(tmp_path):
    run(tmp_path, 2)
    with pytest.raises(CheckpointError, match="precision='fp32' in the file, 'bf16' in this run"):
        run(tmp_path, 4, precision="bf16")


def test_loop_checks_precision_and_the_fp16_scaler(tmp_path):
    with pytest.raises(ValueError, match="precision must be one of"):
        amp.check_loop_state("fp64", {})
    with pytest.raises(ValueError, match="GradScaler"):
        training.resumable_loop(
            step_fn=None,
            state={},
            iters=1,
            run_dir=tmp_path,
            name="t",
            logger=None,
            precision="fp16",
        )
    assert amp.grad_scaler("bf16", "cpu") is None and amp.grad_scaler("fp32", "cpu") is None
    assert isinstance(amp.autocast("fp32", "cpu"), contextlib.nullcontext)
    assert (
        amp.training_dtype("bf16", "cpu") is torch.bfloat16
        and amp.training_dtype("fp32", "cpu") is None
    )
    with pytest.warns(UserWarning, match="fp32"):  # inference keeps the CPU in fp32
        assert amp.autocast_dtype("bf16", torch.device("cpu")) is None


def test_stage_precision_field_and_label():
    assert SRGANTrainConfig().precision == "fp32"
    assert train.precision_labels(SRGANTrainConfig()) == []
    assert "bf16" in train.precision_labels(SRGANTrainConfig(precision="bf16"))[0]
    with pytest.raises(ParamsError, match="'precision' must be one of fp32, bf16, fp16"):
        SRGANTrainConfig(precision="fp64")
