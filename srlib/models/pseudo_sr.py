"""The low-resolution networks of pseudo-supervised unpaired SR: G_{Y↓→X}, G_{X→Y↓} and the PatchGAN discriminators.

Maeda, "Unpaired Image Super-Resolution using Pseudo-Supervision", CVPR 2020 (https://arxiv.org/abs/2002.11397).
No official code exists; the unofficial faces-only ``yoon28/pseudo-sr`` was read for the shapes below
(``models/generators.py``, ``models/discriminators.py``, ``models/geo_loss.py``). The upsampler U is srlib's SRResNet
(:mod:`srlib.models.srgan`), the same network as the ideal-degradation baseline, so that the blind-SR table compares
training schemes, not architectures.

* :class:`DegradationGenerator` -- G_{Y↓→X}: clean LR + noise map -> realistic degraded LR (the unofficial code's
  ``TransferNet``: 5x5 convolutions, BN, LeakyReLU 0.2, a noise head of two stride-2 transposed convolutions);
* :class:`CleaningGenerator` -- G_{X→Y↓}: degraded LR -> pseudo-clean LR. The unofficial code uses an RCAN-based
  network; ours is EDSR-style residual blocks (no BN) with a global skip, so it starts at the identity;
* :class:`PatchDiscriminator` -- D_X, D_{Y↓} (``scale=1``) and D_{X↑} (``scale`` = the SR factor, stride-2 on the
  first log2(scale) layers so it sees HR patches at the LR receptive field): pix2pix's PatchGAN without
  normalisation, one LSGAN score per patch;
* :func:`geometric_ensemble` -- the mean of a network over the 8 dihedral maps of its input (the geometric-ensemble
  loss compares G_{X→Y↓}(x) with it).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from srlib.models.common import records_arguments


class ResBlock(nn.Module):
    """conv-(BN)-act-conv-(BN) plus identity (EDSR's block; the unofficial ``common.ResBlock``)."""

    def __init__(self, num_feat: int, kernel: int, *, bn: bool, act: nn.Module):
        super().__init__()
        pad = kernel // 2
        layers: list[nn.Module] = [nn.Conv2d(num_feat, num_feat, kernel, 1, pad, bias=not bn)]
        layers += [nn.BatchNorm2d(num_feat)] if bn else []
        layers += [act, nn.Conv2d(num_feat, num_feat, kernel, 1, pad, bias=not bn)]
        layers += [nn.BatchNorm2d(num_feat)] if bn else []
        self.body = nn.Sequential(*layers)

    def forward(self, x):  # (B, C, h, w) -> (B, C, h, w)
        return x + self.body(x)


@records_arguments
class DegradationGenerator(nn.Module):
    """G_{Y↓→X}: a clean LR ``(B, 3, h, w)`` and a noise map ``(B, 1, h/4, w/4)`` -> a degraded LR ``(B, 3, h, w)``.

    The noise is what lets one clean image map to many degradations (sensor noise, JPEG blocks); it is upsampled x4 by
    two transposed convolutions (the unofficial code: 8^2 noise for 32^2 patches) and merged with the image features
    by a 1x1 convolution. The output is additive over the input (the degradation is a residual of the clean LR), and
    the last 1x1 convolution starts at zero, so training starts from the identity (ours; the unofficial code starts
    from a random residual).

    Args:
        num_feat: width (64 in the unofficial code).
        num_block: residual blocks after the merge (6).
        z_feat: channels of the noise head (8).
        bn: batch normalisation in the blocks (true in the unofficial code).
    """

    def __init__(self, *, num_feat: int = 64, num_block: int = 6, z_feat: int = 8, bn: bool = True):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.2, True)  # noqa: E731
        half = num_feat // 2
        head: list[nn.Module] = [nn.Conv2d(3, half, 5, 1, 2)]
        head += [nn.BatchNorm2d(half)] if bn else []
        head += [act(), ResBlock(half, 5, bn=bn, act=act())]
        self.img_head = nn.Sequential(*head)
        self.z_head = nn.Sequential(
            nn.ConvTranspose2d(1, z_feat, 2, 2),
            act(),
            nn.ConvTranspose2d(z_feat, 2 * z_feat, 2, 2),
            act(),
        )
        self.merge = nn.Conv2d(half + 2 * z_feat, num_feat, 1)
        self.body = nn.Sequential(
            *[ResBlock(num_feat, 5, bn=bn, act=act()) for _ in range(num_block)]
        )
        self.fusion = nn.Sequential(
            nn.Conv2d(num_feat, half, 1), act(), nn.Conv2d(half, num_feat // 4, 1), act(),
            nn.Conv2d(num_feat // 4, 3, 1),
        )  # fmt: skip

        nn.init.zeros_(
            self.fusion[-1].weight
        )  # starts as the identity: a clean LR passes unchanged
        nn.init.zeros_(self.fusion[-1].bias)

    def forward(self, lq, z=None):  # (B, 3, h, w), (B, 1, h/4, w/4) -> (B, 3, h, w), unclamped
        if z is None:  # the noise-free degradation (a zero noise map)
            z = lq.new_zeros(lq.shape[0], 1, lq.shape[-2] // 4, lq.shape[-1] // 4)
        if z.shape[-2] * 4 != lq.shape[-2] or z.shape[-1] * 4 != lq.shape[-1]:
            raise ValueError(
                f"noise {tuple(z.shape[-2:])} must be 1/4 of the image {tuple(lq.shape[-2:])}"
            )
        feat = self.merge(torch.cat([self.img_head(lq), self.z_head(z)], dim=1))  # (B, C, h, w)
        return lq + self.fusion(self.body(feat))


@records_arguments
class CleaningGenerator(nn.Module):
    """G_{X→Y↓}: a degraded LR ``(B, 3, h, w)`` -> its pseudo-clean LR, ``x + body(x)``; the test path's first half.

    The tail starts at zero, so the network starts as the identity (a clean input should pass unchanged: the
    identity loss asks exactly that).

    Args:
        num_feat: width (64).
        num_block: residual blocks (8; ours, for the RCAN of the unofficial code).
    """

    def __init__(self, *, num_feat: int = 64, num_block: int = 8):
        super().__init__()
        self.conv_first = nn.Conv2d(3, num_feat, 3, 1, 1)
        self.body = nn.Sequential(
            *[ResBlock(num_feat, 3, bn=False, act=nn.ReLU(True)) for _ in range(num_block)]
        )
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)
        nn.init.zeros_(self.conv_last.weight)
        nn.init.zeros_(self.conv_last.bias)

    def forward(self, x):  # (B, 3, h, w) -> (B, 3, h, w), unclamped
        feat = self.conv_first(x)
        return x + self.conv_last(feat + self.body(feat))


class PatchDiscriminator(nn.Module):
    """PatchGAN without normalisation: conv4x4-C, -2C, -4C, -8C (LReLU 0.2) -> conv4x4-1, raw LSGAN scores.

    Padding 1 (pix2pix's; the unofficial code pads 0, which needs LR patches of 17 px or more). ``scale`` 1 keeps
    stride 1 throughout (an LR discriminator: a 32^2 patch gives 27^2 scores); ``scale`` s makes
    the first log2(s) convolutions stride 2, so D_{X↑} judges an HR patch with the LR ones' field of view.

    Args:
        num_feat: first width (64).
        num_layers: convolutions before the last two (3).
        scale: 1, 2 or 4 (8 with num_layers >= 3).
    """

    def __init__(
        self, *, num_in_ch: int = 3, num_feat: int = 64, num_layers: int = 3, scale: int = 1
    ):
        super().__init__()
        n_down = int(math.log2(scale)) if scale >= 1 else -1
        if 2**n_down != scale or n_down > num_layers:
            raise ValueError(
                f"PatchDiscriminator scale must be a power of two <= 2^num_layers, got {scale}"
            )
        self.scale = scale
        strides = [2 if i < n_down else 1 for i in range(num_layers)]
        seq: list[nn.Module] = [
            nn.Conv2d(num_in_ch, num_feat, 4, strides[0], 1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, num_layers):
            prev, mult = mult, min(2**n, 8)
            seq += [
                nn.Conv2d(num_feat * prev, num_feat * mult, 4, strides[n], 1),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**num_layers, 8)
        seq += [nn.Conv2d(num_feat * prev, num_feat * mult, 4, 1, 1), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(num_feat * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):  # (B, 3, H, W) -> (B, 1, H', W') raw scores (LSGAN: no sigmoid)
        return self.model(x)


def dihedral(img: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th of the 8 dihedral maps (k in 0..7): rot90^(k mod 4), then a horizontal flip when k >= 4."""
    out = torch.rot90(img, k % 4, (-2, -1))
    return out.flip(-1) if k >= 4 else out


def dihedral_inverse(img: torch.Tensor, k: int) -> torch.Tensor:
    """Undo :func:`dihedral` ``k``."""
    out = img.flip(-1) if k >= 4 else img
    return torch.rot90(out, -(k % 4), (-2, -1))


def geometric_ensemble(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean of ``net`` over the 8 dihedral maps of ``x``, each mapped back (the unofficial ``geometry_ensemble``).

    Gradients flow through all 8 passes: the geometric-ensemble loss ``|G(x) - ensemble(G, x)|_1`` asks G to commute
    with flips and rotations, and trains both sides (as the unofficial code does).
    """
    return torch.stack([dihedral_inverse(net(dihedral(x, k)), k) for k in range(8)]).mean(0)
