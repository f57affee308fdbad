"""SRResNet / SRGAN discriminator: shapes, scale, paper parameter count, bicubic-skip start."""

import pytest
import torch
import torch.nn.functional as F

from srlib.models import ARCHS, Discriminator, SRResNet
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


def test_arch_dict_is_plain():
    assert ARCHS["srresnet"] is SRResNet
