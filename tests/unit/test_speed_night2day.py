"""The training speed options of srlib.precision (``channels_last``, ``compile``) in the night->day families:
Real-ESRGAN's fine-tune (RealESRNet and RealESRGAN modes: M1 / M2's SR, the paired M3), CUT (M1 / M2) and the
unpaired M3, and the stage configs and trainers that pass them on (SRGAN and the modified SRGAN:
test_speed_options.py).

* on, a run ends close to the default run with finite losses (NHWC sums in another order; ``aot_eager`` only
  traces), and its checkpoint holds the plain modules: the default run's keys, no ``_orig_mod.`` prefix;
* a compiled run resumes from its checkpoint into the weights of the uninterrupted compiled run, and a plain run
  resumes from it too;
* the stage configs refuse an unknown ``compile`` backend, naming the parameter; the trainers pass both options on.

Off (the default) the options are the plain computation bit for bit: the fp32 tests of test_precision_families.py
run the default fit loops against the steps written out.

Two PyTorch (2.14.1) CPU bugs bound what the CPU can test (the ``_pytorch_cpu`` tests at the end hold them: strict
xfails on the CPU; on a CUDA host they check that the GPU is free of them, not yet run there):

* InstanceNorm's input gradient is wrong at batch 1 when the incoming gradient is NHWC: the CPU
  ``native_batch_norm_backward`` misreads the (1, C, H, W) view instance_norm's backward makes of it. CUT's and the
  unpaired M3's networks hold InstanceNorms, which CUT runs at batch 1 (its encodings and D), so their NHWC tests
  draw batches of 2 here;
* the fake (meta) kernel of ``replication_pad2d_backward`` gives an NCHW gradient where the CPU kernel returns NHWC:
  a compiled NHWC network with a replicate pad fails in its backward. CUT's anti-aliased upsampler has one, so the
  compiled-and-NHWC CUT tests use its transposed-convolution upsampler (``antialias_up=False``), and compare that
  run with the NHWC one of the same G (that G's fp32 NHWC gradients on the CPU are ~1 % off the fp64 ones where its
  NCHW ones are 1e-6 off, and its fp64 NHWC ones exact: a CPU kernel's precision, so it is not compared with NCHW).
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srlib import gpu_bench
from srlib.config import ParamsError
from srlib.cut import train as train_cut
from srlib.cut.data import UnpairedCrops
from srlib.models.cut import ResnetGenerator
from srlib.night2day import m3
from srlib.night2day import train as train_n2d
from srlib.night2day.config import Night2DayM1Config, Night2DayM2Config, Night2DayM3Config
from tests.unit.test_precision_families import (
    TINY_M3,
    TINY_MODELS,
    cut_cfg,
    cut_nets,
    m3_run,
    resr_run,
    same,
    u8,
)

pytestmark = pytest.mark.usefixtures("one_thread")

SPEED = {"channels_last": True, "compile": "aot_eager"}
OPTIONS = pytest.mark.parametrize(
    "options", [{"channels_last": True}, SPEED], ids=["channels_last", "both"]
)
CUDA = pytest.param(
    "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
)
CPU_BUG = pytest.param("cpu", marks=pytest.mark.xfail(strict=True, reason="PyTorch CPU bug"))


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Every test compiles its own networks, within dynamo's per-function recompilation limit."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def keys(run_dir) -> dict:
    """The checkpoint's parts and, for each state dict (modules, optimisers, ``run_config``), its names."""
    ckpt = torch.load(run_dir / "last.pth", weights_only=True)
    return {k: sorted(v) if isinstance(v, dict) else v for k, v in ckpt.items() if k != "rng"}


def assert_close_weights(a: nn.Module, b: nn.Module, atol: float, bias_atol: float | None = None):
    """Every tensor of two modules' state dicts within ``atol`` (biases within ``bias_atol`` when given).

    A bias right before an InstanceNorm has no effect on the output: its gradient is float noise, whose sign sets
    Adam's first steps (about +-lr each), so such biases differ by up to ``2 * steps * lr`` between any two runs
    that sum in another order.
    """
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        tol = bias_atol if bias_atol is not None and k.endswith("bias") else atol
        torch.testing.assert_close(sb[k], sa[k], rtol=0, atol=tol, msg=lambda m, k=k: f"{k}: {m}")


def assert_close_losses(h0, h1, rel: float) -> None:
    """The logged losses of two runs, step by step, within ``rel``; finite."""
    assert len(h0.rows) == len(h1.rows)
    for r0, r1 in zip(h0.rows, h1.rows):
        losses = [k for k in r0 if k.startswith("l_")]
        assert losses and all(torch.isfinite(torch.tensor(r1[k])) for k in losses)
        assert {k: r1[k] for k in losses} == pytest.approx({k: r0[k] for k in losses}, rel=rel)


# ---------------------------------------------------------------------------------------------- Real-ESRGAN


@OPTIONS
@pytest.mark.parametrize("adversarial", [False, True], ids=["realesrnet", "realesrgan"])
def test_realesrgan_speed_options_train_like_the_default(tmp_path, options, adversarial):
    g0, ema0, d0, h0 = resr_run(tmp_path / "plain", 3, adversarial=adversarial)
    g1, ema1, d1, h1 = resr_run(tmp_path / "fast", 3, adversarial=adversarial, **options)
    assert_close_losses(h0, h1, rel=1e-5)
    # measured: <= 1.5e-8 (G, its EMA; RealESRNet: 0) and 9e-8 (D) after 3 steps, NHWC and compiled alike
    assert_close_weights(g0, g1, atol=1e-6)
    assert_close_weights(ema0, ema1, atol=1e-6)
    assert_close_weights(d0, d1, atol=1e-6)
    assert keys(tmp_path / "plain") == keys(tmp_path / "fast")


def test_realesrgan_compiled_run_resumes_exactly(tmp_path):
    g_full, ema_full, d_full, _ = resr_run(tmp_path / "full", 4, **SPEED)
    resr_run(tmp_path / "split", 2, **SPEED)
    g_split, ema_split, d_split, _ = resr_run(tmp_path / "split", 4, **SPEED)  # from step 2
    assert same((g_full, g_split), (ema_full, ema_split), (d_full, d_split))
    _, _, _, hist = resr_run(tmp_path / "split", 6)  # a plain run resumes from the compiled one's
    assert hist.rows[-1]["step"] == 6


# ---------------------------------------------------------------------------------------------- CUT


def cut_pairs() -> UnpairedCrops:
    """test_precision_families' CUT images in batches of 2 (InstanceNorm at batch 1: see the module docstring)."""
    gen = torch.Generator().manual_seed(2)
    x, y = torch.rand(3, 40, 40, generator=gen), torch.rand(3, 36, 36, generator=gen)
    return UnpairedCrops([x], [y], load_size=36, crop_size=32, batch_size=2)


def cut_fit(run_dir, iters, *, transposed_up: bool = False, **kw):
    """test_precision_families' tiny CUT on :func:`cut_pairs`; ``transposed_up``: G's transposed-conv upsampler."""
    g, d, f = cut_nets()
    if transposed_up:  # the same seed and sizes as cut_nets' G (ngf 8, 2 blocks)
        torch.manual_seed(2)
        g = ResnetGenerator(num_feat=8, num_block=2, antialias_up=False)
    hist = train_cut.fit_cut(
        g=g,
        d=d,
        f=f,
        data=cut_pairs(),
        cfg=cut_cfg(),
        iters=iters,
        run_dir=run_dir,
        steps_per_epoch=2,
        log_interval=1,
        ckpt_interval=2,
        **kw,
    )
    return g, d, f, hist


# biases before an InstanceNorm: 3 Adam steps of lr 2e-4 either way
CUT_LR_BOUND = 2 * 3 * 2e-4 + 1e-5


@pytest.mark.parametrize(
    "options", [{"channels_last": True}, {"compile": "aot_eager"}], ids=["channels_last", "compile"]
)
def test_cut_speed_options_train_like_the_default(tmp_path, options):
    g0, d0, f0, h0 = cut_fit(tmp_path / "plain", 3)
    g1, d1, f1, h1 = cut_fit(tmp_path / "fast", 3, **options)
    # measured (NHWC): losses within 1.4e-6, weights within 1.1e-5, biases before an InstanceNorm within 9e-4
    # (Adam's +-lr steps on noise gradients); compiled: 0
    assert_close_losses(h0, h1, rel=1e-5)
    for a, b in ((g0, g1), (d0, d1), (f0, f1)):
        assert_close_weights(a, b, atol=5e-5, bias_atol=CUT_LR_BOUND)
    assert keys(tmp_path / "plain") == keys(tmp_path / "fast")


def test_cut_compiled_nhwc_run_is_the_nhwc_run(tmp_path):
    """Both options (G's transposed-conv upsampler: see the module docstring) against NHWC alone."""
    g0, d0, f0, _ = cut_fit(tmp_path / "plain", 3, transposed_up=True)
    g1, d1, f1, h1 = cut_fit(tmp_path / "nhwc", 3, transposed_up=True, channels_last=True)
    g2, d2, f2, h2 = cut_fit(tmp_path / "both", 3, transposed_up=True, **SPEED)
    # measured: aot_eager adds nothing (weights and losses equal)
    assert_close_losses(h1, h2, rel=0)
    assert same((g1, g2), (d1, d2), (f1, f2))
    assert keys(tmp_path / "plain") == keys(tmp_path / "both")


def test_cut_compiled_run_resumes_exactly(tmp_path):
    kw = dict(transposed_up=True, **SPEED)
    g_full, d_full, f_full, _ = cut_fit(tmp_path / "full", 4, **kw)
    cut_fit(tmp_path / "split", 2, **kw)
    g_split, d_split, f_split, _ = cut_fit(tmp_path / "split", 4, **kw)
    assert same((g_full, g_split), (d_full, d_split), (f_full, f_split))
    _, _, _, hist = cut_fit(tmp_path / "split", 6, transposed_up=True)
    assert hist.rows[-1]["step"] == 6


def test_cut_refuses_nhwc_at_batch_1_on_the_cpu(tmp_path, monkeypatch):
    """The InstanceNorm bug below would train CUT on wrong gradients: refused before the first step."""
    monkeypatch.setattr(UnpairedCrops, "batch", lambda *a: pytest.fail("a step ran"))
    gen = torch.Generator().manual_seed(2)
    one = UnpairedCrops(
        [torch.rand(3, 40, 40, generator=gen)],
        [torch.rand(3, 36, 36, generator=gen)],
        load_size=36,
        crop_size=32,
        batch_size=1,
    )
    g, d, f = cut_nets()
    with pytest.raises(
        ValueError, match="channels_last at batch 1 on the CPU gets wrong InstanceNorm gradients"
    ):
        train_cut.fit_cut(
            g=g,
            d=d,
            f=f,
            data=one,
            cfg=cut_cfg(),
            iters=2,
            run_dir=tmp_path,
            steps_per_epoch=1,
            channels_last=True,
        )
    assert not (tmp_path / "last.pth").exists()


# ---------------------------------------------------------------------------------------------- unpaired M3


@OPTIONS
def test_m3_unpaired_speed_options_train_like_the_default(tmp_path, options):
    g0, d0, f0, h0 = m3_run(tmp_path / "plain", 3)  # batches of 2
    g1, d1, f1, h1 = m3_run(tmp_path / "fast", 3, **options)
    # measured: G 3.4e-8, F 1e-9, D's biases before an InstanceNorm 6.1e-4 (Adam on noise gradients), losses 2e-8
    assert_close_losses(h0, h1, rel=1e-5)
    assert_close_weights(g0, g1, atol=1e-6)
    assert_close_weights(f0, f1, atol=1e-6)
    assert_close_weights(d0, d1, atol=1e-6, bias_atol=CUT_LR_BOUND)
    assert keys(tmp_path / "plain") == keys(tmp_path / "fast")


def test_m3_unpaired_compiled_run_resumes_exactly(tmp_path):
    g_full, d_full, f_full, _ = m3_run(tmp_path / "full", 4, **SPEED)
    m3_run(tmp_path / "split", 2, **SPEED)
    g_split, d_split, f_split, _ = m3_run(tmp_path / "split", 4, **SPEED)
    assert same((g_full, g_split), (d_full, d_split), (f_full, f_split))
    _, _, _, hist = m3_run(tmp_path / "split", 6)
    assert hist.rows[-1]["step"] == 6


# ---------------------------------------------------------------------------------------------- stage configs


@pytest.mark.parametrize("cls", [Night2DayM1Config, Night2DayM2Config, Night2DayM3Config])
def test_night2day_configs_refuse_an_unknown_compile_backend(cls):
    assert cls().channels_last is False and cls().compile == "off"
    with pytest.raises(
        ParamsError, match=r"parameter 'compile' must be one of off, inductor, aot_eager"
    ):
        cls(compile="jit")
    cls(compile="aot_eager", channels_last=True).check()


@pytest.fixture
def fits(monkeypatch):
    """The fit loops replaced by recorders of their speed options (the networks are built, nothing trains)."""
    calls = []

    def recorder(name, returns_ema):
        def fit(**kw):
            calls.append((name, kw["channels_last"], kw["compile"]))
            return (None, kw["g"]) if returns_ema else None

        return fit

    monkeypatch.setattr(train_n2d, "fit_realesrgan", recorder("sr", True))
    monkeypatch.setattr(train_n2d, "fit_cut", recorder("cut", False))
    monkeypatch.setattr(m3, "fit_realesrgan", recorder("m3_init", True))
    monkeypatch.setattr(m3, "fit_m3_unpaired", recorder("m3_unpaired", False))
    return calls


def test_night2day_stage_trainers_pass_the_speed_options_on(tmp_path, fits):
    hr = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    lq, where = u8(F.avg_pool2d(hr, 4)), dict(run_dir=tmp_path, device="cpu")
    cfg = Night2DayM1Config(**TINY_MODELS, channels_last=True, compile="aot_eager")
    train_n2d.train_sr(cfg, lq=lq, gt=u8(hr), name="sr", **where)
    train_n2d.train_cut(cfg, x=u8(hr), y=u8(hr), name="cut", **where)
    cfg3 = Night2DayM3Config(**TINY_M3, channels_last=True, compile="inductor")
    m3.train_m3_paired(cfg3, lq=lq, gt=u8(hr), **where)
    m3.train_m3_unpaired(cfg3, night_lq=lq, day_hr=u8(hr), day_lq=lq, night_hr=u8(hr), **where)
    assert fits == [
        ("sr", True, "aot_eager"),
        ("cut", True, "aot_eager"),
        ("sr", True, "inductor"),  # the paired M3 (fit_sr_pairs)
        ("m3_init", True, "inductor"),
        ("m3_unpaired", True, "inductor"),
    ]
    fits.clear()
    train_n2d.train_cut(Night2DayM2Config(**TINY_MODELS), x=u8(hr), y=u8(hr), name="c2", **where)
    assert fits == [("cut", False, "off")]


# ---------------------------------------------------------------------------------------------- PyTorch bugs


@pytest.mark.parametrize("device", [CPU_BUG, CUDA])
def test_instance_norm_batch1_nhwc_gradient_pytorch_cpu(device):
    """F.instance_norm's input gradient at batch 1 with an NHWC incoming gradient (CPU: wrong by O(1))."""
    assert gpu_bench.instance_norm_nhwc_error(device) < 1e-5


@pytest.mark.parametrize("device", [CPU_BUG, CUDA])
def test_compiled_nhwc_replication_pad_backward_pytorch_cpu(device):
    """A compiled NHWC ``x + IN(x)`` then replicate pad, as CUT's G (CPU: the fake kernel's strides are wrong)."""
    assert gpu_bench.compiled_nhwc_pad_backward(device) is None
