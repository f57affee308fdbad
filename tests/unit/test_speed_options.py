"""The training speed options of srlib.precision (``channels_last``, ``compile``) and the device-side batches of
PairedPatches, in SRGAN and the modified SRGAN (the night->day families: tests/unit/test_speed_night2day.py).

* off (the default), each option is the plain computation: the same objects, exactly ``.to(device)``;
* on: ``compile="aot_eager"`` (traced, the same kernels) trains bit for bit as the default; NHWC changes the order
  of float sums, so its first step's losses agree to rounding; the checkpoint holds the plain modules: the keys of the default run, no ``_orig_mod.`` prefix, so a
  compiled run resumes into the same weights as an uninterrupted compiled one;
* a stage config refuses an unknown ``compile`` backend, naming the parameter.
"""

import pytest
import torch
from torch import nn

from srlib import precision as amp
from srlib.config import ParamsError
from srlib.data.patches import PairedPatches
from srlib.srgan.config import SRGANTrainConfig
from srlib.srgan_modified.config import SRGANModifiedTrainConfig
from tests.unit.test_precision import run as srgan_run
from tests.unit.test_precision import same
from tests.unit.test_precision_families import mod_run

pytestmark = pytest.mark.usefixtures("one_thread")

SPEED = {"channels_last": True, "compile": "aot_eager"}


def keys(run_dir) -> dict[str, list[str]]:
    """The checkpoint's parts and, for each module state, its tensor names."""
    ckpt = torch.load(run_dir / "last.pth", weights_only=True)
    return {k: sorted(v) if isinstance(v, dict) else v for k, v in ckpt.items() if k != "rng"}


def first_losses(hist) -> dict[str, float]:
    """Step 1's losses: computed from the same initial weights, so they differ by float rounding only."""
    return {k: v for k, v in hist.rows[0].items() if k.startswith("l_")}


def assert_same_first_step(h0, h1, rtol: float, only: tuple[str, ...] = ()) -> None:
    """Step 1's losses (those in ``only``: the ones computed before any update of that step) within ``rtol``."""
    a, b = first_losses(h0), first_losses(h1)
    assert a.keys() == b.keys() and a
    for k in only or a:
        assert abs(a[k] - b[k]) <= rtol * abs(a[k]), (k, a[k], b[k])
    assert all(
        all(map(torch.isfinite, map(torch.tensor, first_losses(h).values()))) for h in (h0, h1)
    )


def test_off_is_the_plain_module_and_batch():
    net = nn.Conv2d(3, 4, 3)
    assert amp.compiled(net, "off") is net
    assert amp.place(net, "cpu") is net and net.weight.is_contiguous()
    x = torch.rand(2, 3, 8, 8)
    assert amp.layout(x) is x
    nhwc = amp.layout(x, channels_last=True)
    assert torch.equal(nhwc, x) and nhwc.is_contiguous(memory_format=torch.channels_last)
    amp.place(net, "cpu", channels_last=True)
    assert net.weight.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="compile must be one of"):
        amp.compiled(net, "jit")


def test_compiled_wrapper_shares_the_parameters():
    net = nn.Conv2d(3, 4, 3)
    fast = amp.compiled(net, "aot_eager")
    assert fast is not net and list(fast.parameters())[0] is net.weight
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(fast(x), net(x), rtol=0, atol=1e-6)


def test_batches_on_a_device_are_the_cpu_batches():
    images = [torch.rand(3, 40, 48, generator=torch.Generator().manual_seed(1))]
    data = PairedPatches(images, scale=2, gt_size=16, batch_size=2, seed=3)
    for step in (1, 7):
        (lq, gt), (lq_d, gt_d) = data.batch(step), data.batch(step, "cpu")
        assert torch.equal(lq, lq_d) and torch.equal(gt, gt_d)


def test_srgan_compile_is_bit_identical_and_channels_last_close(tmp_path):
    g0, d0, h0 = srgan_run(tmp_path / "plain", 4)
    g1, d1, _ = srgan_run(tmp_path / "compiled", 4, compile="aot_eager")
    assert same(g0, g1) and same(d0, d1)  # aot_eager traces the same kernels
    g2, d2, h2 = srgan_run(tmp_path / "nhwc", 4, **SPEED)
    assert_same_first_step(h0, h2, rtol=1e-5)  # measured: 1.7e-4 over 4 steps, < 1e-6 at step 1
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    g0.eval(), g2.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            g2(x), g0(x), rtol=0, atol=1e-4
        )  # measured: 1.8e-5 after 4 steps
    assert keys(tmp_path / "plain") == keys(tmp_path / "compiled") == keys(tmp_path / "nhwc")


def test_srgan_compiled_run_resumes_exactly(tmp_path):
    g_full, d_full, _ = srgan_run(tmp_path / "full", 4, **SPEED)
    srgan_run(tmp_path / "split", 2, **SPEED)
    g_split, d_split, _ = srgan_run(tmp_path / "split", 4, **SPEED)  # resumes from step 2
    assert same(g_full, g_split) and same(d_full, d_split)
    # and the compiled run's checkpoint resumes into a plain one
    g_plain, _, hist = srgan_run(tmp_path / "split", 6)
    assert hist.rows[-1]["step"] == 6


def test_srgan_modified_compile_is_bit_identical_and_channels_last_close(tmp_path):
    g0, d0, h0 = mod_run(tmp_path / "plain", 3)
    g1, d1, _ = mod_run(tmp_path / "compiled", 3, compile="aot_eager")
    assert same(g0, g1) and same(d0, d1)
    # NHWC: the content loss of step 1 (G not yet updated) agrees to rounding; what follows a D or G update drifts
    # (batch-1 BN and Adam's eps 1e-7 turn rounding-level gradients into whole-lr updates: 1.4e-4 apart in step 1's
    # l_g_gan, 7 % in the losses after 3 steps), so only that loss is compared
    _, _, h2 = mod_run(tmp_path / "nhwc", 3, **SPEED)
    assert_same_first_step(h0, h2, rtol=1e-5, only=("l_g_content",))
    assert keys(tmp_path / "plain") == keys(tmp_path / "compiled") == keys(tmp_path / "nhwc")


class Counting(nn.Module):
    """Stands in for ``torch.compile``'s wrapper: counts the forward calls that go through it."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.net(*args, **kwargs)


@pytest.mark.parametrize("family", ["srgan", "srgan_modified"])
def test_the_steps_call_the_compiled_networks(tmp_path, monkeypatch, family):
    wrappers: list[Counting] = []
    monkeypatch.setattr(
        torch, "compile", lambda net, backend: wrappers.append(Counting(net)) or wrappers[-1]
    )
    (srgan_run if family == "srgan" else mod_run)(tmp_path, 2, compile="inductor")
    assert [type(w.net).__name__ for w in wrappers][:1] in (
        ["SRResNet"],
        ["SRGANModifiedGenerator"],
    )
    assert len(wrappers) == 2 and all(w.calls >= 2 for w in wrappers), [w.calls for w in wrappers]
    # the checkpoint holds the networks, not the wrappers
    assert keys(tmp_path)["g"] and not any(k.startswith("net.") for k in keys(tmp_path)["g"])


@pytest.mark.parametrize("cls", [SRGANTrainConfig, SRGANModifiedTrainConfig])
def test_config_refuses_an_unknown_compile_backend(cls):
    with pytest.raises(
        ParamsError, match=r"parameter 'compile' must be one of off, inductor, aot_eager"
    ):
        cls(compile="jit").check()
    cls(compile="aot_eager", channels_last=True).check()
