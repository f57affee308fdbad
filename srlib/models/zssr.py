"""ZSSR's network (Shocher, Cohen & Irani, "Zero-Shot" Super-Resolution using Deep Internal Learning, CVPR 2018).

A plain fully convolutional net trained on one image at test time (:mod:`srlib.zssr.internal`): ``num_layer`` 3x3
convolutions of ``num_feat`` channels with a ReLU after every one but the last, and a global skip -- the input is
already the cubic upscale of the LR to the HR size, and the net adds the residual it predicts. The values are
upstream ``configs.py``'s (``width = 64``, ``depth = 8``, ``learn_residual = True``); its ``ZSSR.py`` builds the
filters without biases and draws them from N(0, init_variance / fan_in) with ``init_variance = 0.1`` ("typically
smaller when residual learning is on"): a near-zero residual at the start, so training starts from cubic.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from srlib.models.common import records_arguments


@records_arguments
class ZSSRNet(nn.Module):
    """``(B, 3, H, W)`` cubic-upscaled LR in [0, 1] -> ``(B, 3, H, W)`` SR = input + predicted residual (not clamped).

    Args:
        num_in_ch: image channels (3: ZSSR runs on RGB).
        num_feat: channels of the hidden layers (ZSSR: 64).
        num_layer: convolutions in all, the first and the last included (ZSSR: 8).
        init_variance: weights ~ N(0, init_variance / (3 * 3 * in_channels)) (ZSSR: 0.1); no biases (ZSSR's filters).
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_feat: int = 64,
        num_layer: int = 8,
        init_variance: float = 0.1,
    ):
        super().__init__()
        if num_layer < 2:
            raise ValueError(f"ZSSRNet needs num_layer >= 2, got {num_layer}")
        chans = [num_in_ch] + [num_feat] * (num_layer - 1) + [num_in_ch]
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, 3, 1, 1, bias=False) for cin, cout in zip(chans[:-1], chans[1:])
        )
        self.act = nn.ReLU(inplace=True)
        for conv in self.convs:
            fan_in = conv.in_channels * 9
            nn.init.normal_(conv.weight, std=math.sqrt(init_variance / fan_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, conv in enumerate(self.convs):
            h = conv(h)  # (B, num_feat, H, W), the last (B, 3, H, W)
            if i < len(self.convs) - 1:
                h = self.act(h)
        return x + h  # global skip: the net learns the residual over the cubic upscale
