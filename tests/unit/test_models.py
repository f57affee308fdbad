"""SRResNet / SRGAN discriminator: shapes, scale, paper parameter count, bicubic-skip start; every family of
ARCHS / DISCRIMINATORS builds, records its arguments, round-trips through its file, gives logits."""

import inspect

import pytest
import torch
import torch.nn.functional as F

from srlib import models
from srlib.models import ARCHS, DISCRIMINATORS, Discriminator, SRResNet
from srlib.models import hallucination as hm
from srlib.models.srgan import count_params


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_output_shape(scale):
    g = SRResNet(num_feat=8, num_block=2, scale=scale).eval()
    lq = torch.rand(2, 3, 10, 7)
    assert g(lq).shape == (2, 3, 10 * scale, 7 * scale)


def test_srresnet_rejects_non_power_of_two_scale():
    with pytest.raises(ValueError, match="power of two"):
        SRResNet(scale=3)


def test_paper_srresnet_has_the_published_parameter_count():
    # Ledig Fig. 4 with 16 blocks x 64 features: 1.549 M parameters (perf-anchors, counted independently).
    assert round(count_params(SRResNet()) / 1e6, 3) == 1.549


def test_bicubic_skip_starts_exactly_at_bicubic():
    g = SRResNet(num_feat=8, num_block=1, scale=4, bicubic_skip=True).eval()
    lq = torch.rand(1, 3, 12, 12)
    want = F.interpolate(lq, scale_factor=4, mode="bicubic", align_corners=False)
    torch.testing.assert_close(g(lq), want)


def test_srresnet_blocks_are_conv_bn_prelu_conv_bn():
    block = SRResNet(num_feat=8, num_block=1).body[0]
    kinds = [type(m).__name__ for m in block.children()]
    assert kinds == ["Conv2d", "BatchNorm2d", "PReLU", "Conv2d", "BatchNorm2d"]


@pytest.mark.parametrize("size", [96, 64, 128])
def test_discriminator_is_size_agnostic(size):
    d = Discriminator(num_feat=8, fc_dim=16).eval()
    assert d(torch.rand(3, 3, size, size)).shape == (3,)


def test_discriminator_layout_matches_paper():
    d = Discriminator()
    convs = [m for m in d.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert d.classifier[1].in_features == 512 * 6 * 6 and d.classifier[1].out_features == 1024


# small constructor arguments of every family (a family added to ARCHS / DISCRIMINATORS needs a row here)
SMALL_GENERATORS = {
    "srresnet": dict(num_feat=8, num_block=1, scale=2, bicubic_skip=True),
    "srgan_modified": dict(num_feat=8, num_block=1, num_up_feat=16, scale=2, padding="zeros"),
    "rrdbnet": dict(num_feat=8, num_block=1, num_grow_ch=4, scale=2),
    "cut_resnet_9blocks": dict(num_feat=4, num_block=1, antialias=False),
    "srvgg_compact": dict(num_feat=4, num_conv=1, upscale=1),  # x1: the check below reads `scale`
    "hallucination": dict(
        scale=2, num_feat=8, num_block=1, noise_dim=2
    ),  # checked at z = 0 (its .sr)
    "pseudo_sr_cleaning": dict(num_feat=8, num_block=1),  # x1: G_{X -> Y down}
    "pseudo_sr_degradation": dict(num_feat=8, num_block=1, z_feat=2),  # x1, z = 0: G_{Y down -> X}
}
# name -> (arguments, output shape for a (2, 3, 32, 32) input)
SMALL_DISCRIMINATORS = {
    "srgan": (dict(num_feat=4, fc_dim=8), (2,)),
    "srgan_modified": (dict(num_feat=4, fc_dim=8, input_size=32), (2,)),
    "unet_sn": (dict(num_feat=4), (2, 1, 32, 32)),
    "cut_patchgan": (dict(num_feat=4), (2, 1, 2, 2)),
    "hallucination_pyramid": (
        dict(scale=4, num_feat=4, num_block=1),
        (2, 1, 8, 8),
    ),  # on x's pyramid
    "pseudo_sr_patchgan": (
        dict(num_feat=4, scale=4),
        (2, 1, 5, 5),
    ),  # D_{X up}: stride 2, 2, 1, 1, 1
}


def test_every_family_has_a_small_configuration_here():
    assert set(SMALL_GENERATORS) == set(ARCHS)
    assert set(SMALL_DISCRIMINATORS) == set(DISCRIMINATORS)


@pytest.mark.parametrize("name", sorted(SMALL_GENERATORS))
def test_every_generator_family_records_its_arguments_and_round_trips(name, tmp_path):
    cls, kwargs = ARCHS[name], SMALL_GENERATORS[name]
    g = cls(**kwargs)
    # every constructor argument recorded, the given ones with their values, the others at their defaults
    signature = inspect.signature(cls)
    assert set(g.arch_kwargs) == set(signature.parameters)
    for arg, param in signature.parameters.items():
        assert g.arch_kwargs[arg] == kwargs.get(arg, param.default), arg
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # weights of no init (a zero-initialised tail would hide a missing load)
        for p in g.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    g.train()(torch.rand(2, 3, 8, 8, generator=gen))  # BatchNorm running statistics away from 0 / 1
    path = models.save_generator(tmp_path / f"{name}.pth", g, meta={"stage": "test"})
    torch.manual_seed(123)  # the rebuilt network starts from other random weights
    g2, state = models.load_generator(path)
    assert type(g2) is cls and g2.arch_kwargs == g.arch_kwargs and not g2.training
    assert state["arch"] == name and state["meta"] == {"stage": "test"}
    x = torch.rand(1, 3, 8, 8, generator=gen)
    with (
        torch.no_grad()
    ):  # the hallucination G gives pyramids: its reconstruction (z = 0) image is the output
        run = lambda net: net.sr(x) if hasattr(net, "sr") else net(x)  # noqa: E731
        out, out2 = run(g.eval()), run(g2)
    side = 8 * kwargs.get("scale", 1)
    assert out.shape == (1, 3, side, side)
    torch.testing.assert_close(out2, out, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(SMALL_DISCRIMINATORS))
def test_every_discriminator_family_gives_logits(name):
    kwargs, shape = SMALL_DISCRIMINATORS[name]
    torch.manual_seed(0)
    d = DISCRIMINATORS[name](**kwargs).eval()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=gen, requires_grad=True)
    logits = d(hm.pyramid(x, d.num_scales)) if isinstance(d, hm.PyramidDiscriminator) else d(x)
    assert logits.shape == shape and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    assert not torch.equal(logits[0], logits[1])  # depends on its input ...
    logits.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # ... differentiably (the G step needs it)
