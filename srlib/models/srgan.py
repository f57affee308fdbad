"""SRResNet generator and SRGAN discriminator.

Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network", CVPR 2017
(https://arxiv.org/abs/1609.04802), Figure 4 and §3. Reference implementations read for details:
Lornatang/SRGAN-PyTorch ``model.py`` (closest to the paper) and leftthomas/SRGAN (size-agnostic discriminator).

Choices not fixed by the paper are commented where they are made.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from srlib.models.common import records_arguments


class ResidualBlock(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN plus identity (Ledig Fig. 4, after Gross & Wilber's ResNet variant)."""

    def __init__(self, num_feat: int = 64):
        super().__init__()
        # bias=False before BN: BN's shift makes a conv bias redundant (Lornatang does the same).
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_feat)
        self.act = nn.PReLU(num_feat)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_feat)

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class UpsampleBlock(nn.Module):
    """conv3x3 (C -> 4C), PixelShuffle(2), PReLU: one x2 sub-pixel step (Shi et al. 2016)."""

    def __init__(self, num_feat: int = 64):
        super().__init__()
        self.conv = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(num_feat)

    def forward(self, x):  # (B, C, H, W) -> (B, C, 2H, 2W)
        return self.act(self.shuffle(self.conv(x)))


@records_arguments
class SRResNet(nn.Module):
    """SRResNet / SRGAN generator.

    Args:
        num_in_ch: input channels.
        num_out_ch: output channels.
        num_feat: feature width (64 in the paper).
        num_block: residual blocks (16 in the paper).
        scale: upscaling factor, a power of two (two x2 sub-pixel blocks for x4).
        bicubic_skip: add a bicubic upsampling of the input to the output, so the network learns the residual
            (BasicSR's MSRResNet does this with bilinear). Not Ledig's architecture: off in the paper profile,
            and labelled wherever it is used. The tail conv then starts at zero, so training starts at bicubic.
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        scale: int = 4,
        bicubic_skip: bool = False,
    ):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"SRResNet scale must be a power of two >= 2, got {scale}")
        self.scale = scale
        self.bicubic_skip = bicubic_skip
        # 9x9 head: a large receptive field on the LR input (k9n64s1 + PReLU).
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 9, 1, 4)
        self.act_first = nn.PReLU(num_feat)
        self.body = nn.Sequential(*[ResidualBlock(num_feat) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False)
        self.bn_body = nn.BatchNorm2d(num_feat)
        self.upsample = nn.Sequential(
            *[UpsampleBlock(num_feat) for _ in range(int(math.log2(scale)))]
        )
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 9, 1, 4)  # k9n3s1 tail, linear output
        if bicubic_skip:
            nn.init.zeros_(self.conv_last.weight)
            nn.init.zeros_(self.conv_last.bias)

    def forward(self, lq):  # (B, 3, h, w) in [0, 1] -> (B, 3, scale*h, scale*w), unclamped
        feat = self.act_first(self.conv_first(lq))  # (B, C, h, w)
        body = self.bn_body(self.conv_body(self.body(feat)))
        out = self.conv_last(self.upsample(feat + body))  # long skip over all residual blocks
        if self.bicubic_skip:
            out = out + F.interpolate(
                lq, scale_factor=self.scale, mode="bicubic", align_corners=False
            )
        return out


class Discriminator(nn.Module):
    """SRGAN discriminator: 8 conv layers (64, 64s2, 128, 128s2, 256, 256s2, 512, 512s2), dense 1024, dense 1.

    LeakyReLU 0.2, BN on every conv except the first (Ledig Fig. 4). Returns **logits**; the sigmoid lives in
    the loss (BCE-with-logits is the numerically stable form of the paper's -log D).

    The paper's dense head assumes 96x96 inputs (512x6x6 features). An adaptive average pool to 6x6 in front of it
    is the identity at 96x96 and lets the same network judge any size (leftthomas/SRGAN pools to 1x1 instead).
    """

    def __init__(self, *, num_in_ch: int = 3, num_feat: int = 64, fc_dim: int = 1024):
        super().__init__()
        layers: list[nn.Module] = []
        chans = [num_feat * m for m in (1, 1, 2, 2, 4, 4, 8, 8)]  # k3n64s1, k3n64s2, ..., k3n512s2
        c_in = num_in_ch
        for i, c_out in enumerate(chans):
            stride = 2 if i % 2 else 1
            layers.append(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=(i == 0)))
            if i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * 6 * 6, fc_dim),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(fc_dim, 1),
        )

    def forward(self, x):  # (B, 3, H, W) -> (B,) logits
        return self.classifier(self.pool(self.features(x))).squeeze(1)


@torch.no_grad()
def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
