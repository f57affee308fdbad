"""RRDBNet / UNetDiscriminatorSN: BasicSR state-dict keys, parity with spandrel, the RealESRGAN_x4plus load path."""

import pytest
import torch

from srlib.models.esrgan import (
    RRDBNet,
    UNetDiscriminatorSN,
    generator_state,
    load_realesrgan_x4plus,
    pad_for_unshuffle,
)
from srlib.models.srgan import count_params

torch.set_num_threads(1)


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter redrawn (not the 0.1-scaled init), so parity is tested on a generic state dict."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return net


def basicsr_keys(num_block: int) -> list[str]:
    """The key list of BasicSR's RRDBNet, written out by hand from basicsr/archs/rrdbnet_arch.py."""
    keys = ["conv_first.weight", "conv_first.bias"]
    for b in range(num_block):
        for r in (1, 2, 3):
            for c in range(1, 6):
                keys += [f"body.{b}.rdb{r}.conv{c}.weight", f"body.{b}.rdb{r}.conv{c}.bias"]
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"):
        keys += [f"{name}.weight", f"{name}.bias"]
    return keys


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_rrdbnet_output_shape(scale):
    g = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4).eval()
    assert g(torch.rand(2, 3, 12, 8)).shape == (2, 3, 12 * scale, 8 * scale)


def test_state_dict_keys_are_basicsr_keys():
    g = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4)
    assert list(g.state_dict()) == basicsr_keys(2)
    assert g.conv_first.in_channels == 3
    assert (
        RRDBNet(scale=2, num_feat=8, num_block=1).conv_first.in_channels == 12
    )  # pixel-unshuffle by 2
    assert RRDBNet(scale=1, num_feat=8, num_block=1).conv_first.in_channels == 48  # by 4


def test_realesrgan_x4plus_has_the_published_parameter_count():
    assert (
        count_params(RRDBNet()) == 16_697_987
    )  # perf-anchors §1 (RealESRGAN_x4plus, counted independently)


@pytest.mark.parametrize("scale", [4, 2])
def test_parity_with_spandrel(scale):
    spandrel = pytest.importorskip("spandrel")
    # spandrel hard-codes the growth channels to 32; width and depth are reduced to keep the test fast
    ours = randomised(RRDBNet(scale=scale, num_feat=16, num_block=2, num_grow_ch=32)).eval()
    state = {k: v.clone() for k, v in ours.state_dict().items()}
    desc = spandrel.ModelLoader().load_from_state_dict({"params_ema": state})
    assert desc.architecture.id == "ESRGAN" and desc.scale == scale
    theirs = desc.model.eval()
    # Same tensors, one to one: spandrel renames BasicSR keys to its old layout, so every one of our keys must be
    # consumed by its converter and land in the same position.
    theirs_values = list(theirs.state_dict().values())
    assert len(theirs_values) == len(state)
    for (k, v), w in zip(state.items(), theirs_values):
        assert torch.equal(v, w), k
    lq = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = ours(lq), theirs(lq)
    assert a.shape == b.shape == (1, 3, 32 * scale, 32 * scale)
    assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("scale", [2, 1])
def test_unshuffle_models_accept_any_size(scale):
    g = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4).eval()
    lq = torch.rand(1, 3, 9, 7)
    padded, (h, w) = pad_for_unshuffle(lq, scale)
    assert padded.shape[-2:] == ((10, 8) if scale == 2 else (12, 8))
    with torch.no_grad():
        torch.testing.assert_close(g(lq), g(padded)[..., : h * scale, : w * scale])
    assert pad_for_unshuffle(lq, 4)[0] is lq


@pytest.mark.parametrize("scale", [4, 2])
def test_rrdbnet_runs_through_srlib_inference(scale):
    from srlib.inference import tiling

    torch.manual_seed(
        0
    )  # the tolerance below holds for this network and input, not for any random one
    g = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4).eval()
    lq = torch.rand(3, 21, 19)
    with torch.no_grad():
        direct = g(lq[None])[0]
    torch.testing.assert_close(tiling.upscale(g, lq, tile=0), direct)
    tiled = tiling.upscale(g, lq, tile=12, overlap=8)  # odd tile sizes; x2 pads inside the model
    assert tiled.shape == direct.shape and (tiled - direct).abs().max() < 0.05


def test_unet_discriminator_gives_per_pixel_logits_and_basicsr_keys():
    d = UNetDiscriminatorSN(num_feat=8)
    out = d(torch.rand(2, 3, 32, 24))
    assert out.shape == (2, 1, 32, 24)
    keys = set(d.state_dict())
    assert {"conv0.weight", "conv0.bias", "conv9.weight", "conv9.bias"} <= keys
    for i in range(1, 9):  # spectral-norm convs: weight_orig + power-iteration vectors, no bias
        assert {f"conv{i}.weight_orig", f"conv{i}.weight_u", f"conv{i}.weight_v"} <= keys
        assert f"conv{i}.bias" not in keys
    assert d.conv3.weight_orig.shape == (64, 32, 4, 4)


def test_skip_connection_flag_changes_the_output():
    torch.manual_seed(0)
    a = UNetDiscriminatorSN(num_feat=4).eval()
    b = UNetDiscriminatorSN(num_feat=4, skip_connection=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(a(x), b(x))


def test_generator_state_picks_params_ema():
    ema, params = {"a": torch.zeros(1)}, {"a": torch.ones(1)}
    assert generator_state({"params_ema": ema, "params": params}) is ema
    assert generator_state({"params": params}) is params
    assert generator_state(params) is params
    assert generator_state({"params_ema": ema, "params": params}, param_key="params") is params


def test_random_initialised_realesrgan_x4plus_loads_through_the_real_path(torch_home):
    torch.manual_seed(3)
    published = RRDBNet()  # the released architecture, random weights, saved in the released layout
    torch_home.put("realesrgan_x4plus", state_dict={"params_ema": published.state_dict()})
    net, status = load_realesrgan_x4plus("pretrained")
    assert status.source == "file" and status.comparable
    assert status.path.endswith("hub/checkpoints/RealESRGAN_x4plus.pth")
    for (k, a), b in zip(published.state_dict().items(), net.state_dict().values()):
        assert torch.equal(a, b), k
    assert not net.training


def test_realesrgan_x4plus_modes_without_the_file(torch_home):
    with pytest.warns(UserWarning, match="RANDOM-INITIALISED"):
        _, status = load_realesrgan_x4plus("auto")
    assert status.source == "random-init" and not status.comparable
    _, status = load_realesrgan_x4plus("random")
    assert status.source == "random-init"
