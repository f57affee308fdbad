"""Diverse hallucination SR: a generator of (image, gradient map) pyramids from (LR image, noise), and its two
discriminators.

Abid, Hedhli and Gagné, *A generative model for hallucinating diverse versions of super resolution images*
(§3, Figs 2-3). No code was published: this is a reimplementation from the paper, with the unstated details taken from
the work it builds on -- LAG (Berthelot et al. 2020, ``google-research/lag`` ``lag.py``) for the noise input, the
residual trunk, the summed RGB skip and the D conditioning; MSG-GAN (Karnewar & Wang 2020) for the multi-scale
outputs and inputs. Each choice is commented where it is made.

* ``G(lq, z)`` -> ``{"image": [I_1 .. I_S], "grad": [g_1 .. g_S]}``, one entry per x2 UpBlock (``S = log2 scale``):
  scale ``2^s`` images (B, 3, 2^s h, 2^s w) and gradient maps (B, 1, 2^s h, 2^s w). ``z = 0`` is the
  reconstruction ``(I_SR, g_SR)``, ``z ~ N(0, 1)`` a hallucination ``(I_z, g_z)``.
* ``D_I(images, f)`` and ``D_g(grads)``: the pyramid in, one logit per LR location out (no linear layer).

Images are RGB in [0, 1] here as everywhere in srlib; the paper's [-1, 1] only rescales the gradient maps (x2) and
its consistency map is defined in 8-bit levels, which :func:`consistency_map` computes directly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from srlib.models.common import records_arguments

# BT.601 luma weights (the Y of srlib.metrics.pixel, without the 16-235 offset): the gradient map is taken on Y
LUMA = (0.299, 0.587, 0.114)
LEVELS = 255  # 8-bit images: one level is 1 / 255 here (the paper's r = 2 / 255 on [-1, 1])


def luminance(img: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> (B, 1, H, W) BT.601 luma."""
    w = img.new_tensor(LUMA).view(1, 3, 1, 1)
    return (img * w).sum(dim=1, keepdim=True)


def gradient_map(img: torch.Tensor, *, eps: float = 0.0) -> torch.Tensor:
    """The paper's gradient map (eqs. 3-5) of an image: ``g = ||(g_x, g_y)||_2`` of central differences of its luma.

    ``g_x(x, y) = I(x + 1, y) - I(x - 1, y)``, ``g_y(x, y) = I(x, y + 1) - I(x, y - 1)`` with the border replicated
    (so the map keeps the image's size). The paper does not say whether per channel or on luminance: luminance here,
    because the gradient branch is meant to carry structure (edges, texture), which natural images hold in their luma,
    while colour is the image branch's low-frequency skip; one channel also makes ``d(g_z1, g_z2)`` in L_z measure
    structural, not colour, diversity. ``eps`` inside the square root keeps the gradient finite at flat pixels when
    the map is differentiated (the reference maps are not). (B, 3 or 1, H, W) -> (B, 1, H, W).
    """
    y = luminance(img) if img.shape[1] == 3 else img
    p = F.pad(y, (1, 1, 1, 1), mode="replicate")
    gx = p[..., 1:-1, 2:] - p[..., 1:-1, :-2]  # I(x+1, y) - I(x-1, y): x is the column
    gy = p[..., 2:, 1:-1] - p[..., :-2, 1:-1]  # I(x, y+1) - I(x, y-1)
    return torch.sqrt(gx * gx + gy * gy + eps)


def downscale(img: torch.Tensor, factor: int) -> torch.Tensor:
    """DS: average pooling by ``factor`` (LAG's downscaler; the paper does not name its DS)."""
    return F.avg_pool2d(img, factor) if factor > 1 else img


def pyramid(img: torch.Tensor, num_scales: int) -> list[torch.Tensor]:
    """``img`` at scales 1/2^(S-1) .. 1 (coarsest first, as G outputs them): the real images D compares with."""
    return [downscale(img, 2 ** (num_scales - 1 - s)) for s in range(num_scales)]


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` forward, identity backward (the straight-through estimator, Bengio et al. 2013; LAG)."""
    return x + (torch.round(x) - x).detach()


def consistency_map(
    sr: torch.Tensor, lq: torch.Tensor, *, scale: int, eps: float = 0.1
) -> torch.Tensor:
    """F = max(|round(DS(I)) - I_LR| / r - eps, 0): how far (in 8-bit levels, beyond ``eps``) DS(I) is from I_LR.

    The paper (§3.1) writes it for [-1, 1] images with r = 2 / 255; on [0, 1] images that is ``255 DS(I)`` rounded to
    the 8-bit grid (straight-through, so D's verdict on F reaches G), minus the 8-bit ``I_LR``. ``lq`` must be
    8-bit (as every srlib LR image). (B, 3, sh, sw), (B, 3, h, w) -> (B, 3, h, w), 0 where consistent.
    """
    levels = round_ste(downscale(sr, scale) * LEVELS) - lq * LEVELS
    return torch.clamp(levels.abs() - eps, min=0.0)


def lr_consistency_levels(sr: torch.Tensor, lq: torch.Tensor, *, scale: int) -> torch.Tensor:
    """``||round(DS(I)) - I_LR||_inf`` per image in 8-bit levels (the paper's constraint, checked): (B,) float."""
    ds = (downscale(sr.clamp(0, 1), scale) * LEVELS).round()
    return (ds - (lq * LEVELS).round()).abs().flatten(1).amax(dim=1)


def _conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, 1, k // 2)


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2)  # LeakyReLU 0.2 everywhere (the paper, Figs 2-3)


class ResBlock(nn.Module):
    """conv3x3-LReLU-conv3x3 plus identity, the residual branch scaled by 1 / num_block (LAG's trunk: the sum of
    ``num_block`` branches starts near the identity, no normalisation layer needed)."""

    def __init__(self, num_feat: int, num_block: int):
        super().__init__()
        self.body = nn.Sequential(_conv(num_feat, num_feat), _lrelu(), _conv(num_feat, num_feat))
        self.weight = 1.0 / num_block

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        return x + self.weight * self.body(x)


class UpBlock(nn.Module):
    """x2 nearest, a conv block shared by both domains, then one conv per domain and a 1x1 conv to pixels (Fig. 2).

    Returns the shared features (the next UpBlock's input), the image residual (3 channels) and the gradient map
    (1 channel) at the new scale.
    """

    def __init__(self, num_feat: int):
        super().__init__()
        self.shared = nn.Sequential(
            _conv(num_feat, num_feat), _lrelu(), _conv(num_feat, num_feat), _lrelu()
        )
        self.image = nn.Sequential(_conv(num_feat, num_feat), _lrelu())
        self.grad = nn.Sequential(_conv(num_feat, num_feat), _lrelu())
        self.to_image = _conv(num_feat, 3, 1)
        self.to_grad = _conv(num_feat, 1, 1)

    def forward(self, x):  # (B, C, H, W) -> (B, C, 2H, 2W), (B, 3, 2H, 2W), (B, 1, 2H, 2W)
        x = self.shared(F.interpolate(x, scale_factor=2, mode="nearest"))
        return x, self.to_image(self.image(x)), self.to_grad(self.grad(x))


@records_arguments
class HallucinationGenerator(nn.Module):
    """G(I_LR, z) -> image and gradient pyramids (Figs 2-3).

    Args:
        scale: SR factor, a power of two (8 in the paper: three UpBlocks, 16^2 -> 128^2 on CelebA).
        num_feat: trunk and UpBlock width (not stated; LAG narrows 256 -> 64 over its stages, one width here).
        num_block: residual blocks on LR + noise (the paper: 8, as LAG's ``blocks``).
        noise_dim: m, noise channels concatenated to the LR image (not stated; LAG's ``noise_dim`` default 64).
            The noise is spatial, one m-vector per LR pixel, as in LAG (``z`` is (B, m, h, w)).
    """

    def __init__(
        self, *, scale: int = 8, num_feat: int = 64, num_block: int = 8, noise_dim: int = 64
    ):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(
                f"HallucinationGenerator: scale must be a power of two >= 2, got {scale}"
            )
        self.scale, self.noise_dim = scale, noise_dim
        self.num_scales = int(math.log2(scale))
        self.head = _conv(3 + noise_dim, num_feat)
        self.body = nn.Sequential(*[ResBlock(num_feat, num_block) for _ in range(num_block)])
        self.ups = nn.ModuleList([UpBlock(num_feat) for _ in range(self.num_scales)])

    def noise(self, lq: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, 1)^m per LR pixel: (B, m, h, w) on lq's device (drawn on ``generator``'s device, then moved)."""
        b, _, h, w = lq.shape
        dev = generator.device if generator is not None else lq.device
        z = torch.randn((b, self.noise_dim, h, w), generator=generator, device=dev)
        return z.to(lq.device, lq.dtype)

    def forward(
        self, lq: torch.Tensor, z: torch.Tensor | None = None
    ) -> dict[str, list[torch.Tensor]]:
        """(B, 3, h, w) in [0, 1] and z (B, m, h, w) (None: z = 0, the reconstruction) -> the two pyramids."""
        if z is None:
            z = lq.new_zeros((lq.shape[0], self.noise_dim, *lq.shape[-2:]))
        x = self.head(torch.cat([lq, z], dim=1))  # (B, C, h, w)
        x = x + self.body(x)
        # the skip keeping low frequencies (colours): each scale's image is the previous one upsampled (bilinear)
        # plus the UpBlock's residual, starting from the LR image itself (LAG sums upscaled RGB outputs likewise)
        image, images, grads = lq, [], []
        for up in self.ups:
            x, residual, grad = up(x)
            image = (
                F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
                + residual
            )
            images.append(image)
            grads.append(grad)
        return {"image": images, "grad": grads}

    def sr(self, lq: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """The full-scale image only: (B, 3, h, w) -> (B, 3, scale h, scale w), unclamped."""
        return self(lq, z)["image"][-1]


class Reconstruction(nn.Module):
    """The reconstruction G(lq, 0) as a plain upscaler (lq -> image tensor), for srlib's tiled inference and CLI."""

    def __init__(self, g: HallucinationGenerator):
        super().__init__()
        self.g, self.scale = g, g.scale

    def forward(self, lq: torch.Tensor) -> torch.Tensor:  # (B, 3, h, w) -> (B, 3, scale h, scale w)
        return self.g.sr(lq)


class DownBlock(nn.Module):
    """1x1 conv pixel -> features (added: MSG-GAN's input at every scale, summed as LAG's ``from_rgb``), two convs +
    LReLU, average pooling x1/2 (Fig. 3)."""

    def __init__(self, in_ch: int, num_feat: int):
        super().__init__()
        self.from_pixels = _conv(in_ch, num_feat, 1)
        self.body = nn.Sequential(
            _conv(num_feat, num_feat), _lrelu(), _conv(num_feat, num_feat), _lrelu()
        )

    def forward(self, x: torch.Tensor | None, pixels: torch.Tensor) -> torch.Tensor:
        h = self.from_pixels(pixels)  # (B, C, H, W)
        h = h if x is None else x + h
        return F.avg_pool2d(self.body(h), 2)  # (B, C, H/2, W/2)


@records_arguments
class PyramidDiscriminator(nn.Module):
    """D_I (images, ``in_ch=3``, conditioned on F) or D_g (gradient maps, ``in_ch=1``), mirroring G (Fig. 3).

    One DownBlock per scale (finest first) takes that scale's input, then ``num_block`` residual blocks at LR
    resolution, then a conv to one channel: the output is the last conv's features, a logit per LR location, no
    linear layer (the paper); the losses average them. ``cond_ch``: channels of F concatenated at the last block
    (§3.1; 3 for D_I, 0 for D_g).

    Args:
        scale: SR factor (the pyramid has log2(scale) levels, as G's).
        in_ch: 3 (images) or 1 (gradient maps).
        num_feat: width (not stated; G's).
        num_block: residual blocks after the DownBlocks (not stated; 2 here).
        cond_ch: channels of the conditioning map (3 for D_I's F, 0 for none).
    """

    def __init__(
        self,
        *,
        scale: int = 8,
        in_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 2,
        cond_ch: int = 0,
    ):
        super().__init__()
        self.num_scales = int(math.log2(scale))
        self.cond_ch = cond_ch
        self.downs = nn.ModuleList([DownBlock(in_ch, num_feat) for _ in range(self.num_scales)])
        self.merge = _conv(num_feat + cond_ch, num_feat)
        self.body = nn.Sequential(
            *[ResBlock(num_feat, max(num_block, 1)) for _ in range(num_block)]
        )
        self.last = _conv(num_feat, 1)

    def forward(
        self, pyramid: list[torch.Tensor], cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Coarsest-first pyramid (as G outputs it; length log2 scale) and F (B, cond_ch, h, w) -> (B, 1, h, w)."""
        if len(pyramid) != self.num_scales:
            raise ValueError(
                f"discriminator: expected {self.num_scales} scales, got {len(pyramid)}"
            )
        x = None
        for down, pixels in zip(self.downs, reversed(pyramid)):  # finest first
            x = down(x, pixels)
        if self.cond_ch:
            if cond is None:
                raise ValueError("D_I needs the consistency map F (zeros for real images)")
            x = torch.cat([x, cond], dim=1)
        x = F.leaky_relu(self.merge(x), 0.2)
        return self.last(self.body(x))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
