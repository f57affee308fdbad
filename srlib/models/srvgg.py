"""SRVGGNetCompact: Real-ESRGAN's small VGG-style generator (``realesr-animevideov3``, ``realesr-general-x4v3``).

Wang et al., "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data", ICCV-W 2021
(https://arxiv.org/abs/2107.10833); the compact network came with the project's v0.2.5 anime-video models (the
repository's ``docs/anime_video_model.md``). Layout read from Real-ESRGAN ``realesrgan/archs/srvgg_arch.py``.

A plain chain at input resolution -- conv, activation, ``num_conv`` x (conv, activation), conv to
``3 * upscale**2`` channels -- then a pixel shuffle, plus the nearest-neighbour upscaled input: the body learns only
the residual over nearest upsampling. No normalisation, no skip inside the body, so it is fast (the x4 anime-video
model is 0.6 M parameters against RRDBNet's 16.7 M).

**State-dict keys are Real-ESRGAN's** (``body.0`` conv, ``body.1`` activation, ..., ``body.{2 num_conv + 2}`` the
last conv), so the published ``realesr-animevideov3.pth`` (key ``params``) loads with ``strict=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srlib.models.common import records_arguments

ACTIVATIONS = ("relu", "prelu", "leakyrelu")


def _activation(act_type: str, num_feat: int) -> nn.Module:
    if act_type == "relu":
        return nn.ReLU(inplace=True)
    if act_type == "prelu":
        return nn.PReLU(num_parameters=num_feat)  # one learned slope per channel (init 0.25)
    if act_type == "leakyrelu":
        return nn.LeakyReLU(negative_slope=0.1, inplace=True)
    raise ValueError(f"SRVGGNetCompact act_type must be one of {ACTIVATIONS}, got {act_type!r}")


@records_arguments
class SRVGGNetCompact(nn.Module):
    """Compact VGG-style SR generator: ``body`` (convs and activations at input resolution) + pixel shuffle.

    Args:
        num_in_ch: image channels (3).
        num_out_ch: output channels (3).
        num_feat: width of every hidden conv (64).
        num_conv: hidden 3x3 convs between the first and the last (16 in realesr-animevideov3, 32 in
            realesr-general-x4v3).
        upscale: output scale; the last conv gives ``num_out_ch * upscale**2`` channels for the pixel shuffle.
        act_type: ``prelu`` (the released models), ``relu`` or ``leakyrelu`` (slope 0.1).
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
        act_type: str = "prelu",
    ):
        super().__init__()
        if upscale < 1:
            raise ValueError(f"SRVGGNetCompact upscale must be >= 1, got {upscale}")
        self.scale = upscale  # what srlib.inference.tiling reads
        layers = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(
            layers
        )  # ModuleList, not Sequential: keys body.N as in Real-ESRGAN
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(
        self, lq: torch.Tensor
    ) -> torch.Tensor:  # (B, 3, h, w) -> (B, 3, s*h, s*w), unclamped
        out = lq
        for layer in self.body:
            out = layer(out)  # (B, num_feat, h, w); the last conv gives (B, 3 s^2, h, w)
        out = self.upsampler(out)  # (B, 3, s*h, s*w)
        # the body learns the residual over nearest-neighbour upsampling of the input
        return out + F.interpolate(lq, scale_factor=self.scale, mode="nearest")
