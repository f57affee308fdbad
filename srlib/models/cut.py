"""CUT / FastCUT networks: anti-aliased ResNet-9 generator, PatchGAN discriminator, PatchNCE projection head.

Park, Efros, Zhang, Zhu, "Contrastive Learning for Unpaired Image-to-Image Translation", ECCV 2020
(https://arxiv.org/abs/2007.15651), §3 and Appendix C (architecture). Reference implementation read for details:
taesungp/contrastive-unpaired-translation ``models/networks.py`` (``ResnetGenerator``, ``Downsample``, ``Upsample``,
``NLayerDiscriminator``, ``PatchSampleF``), with its defaults: ngf = ndf = 64, 9 blocks, InstanceNorm without
affine parameters, no dropout, reflect padding, anti-aliased down- and upsampling (Zhang 2019, "Making
convolutional networks shift-invariant again"), Xavier-normal init with gain 0.02.

The generator keeps CUT's flat ``model`` ``nn.Sequential``, so its state-dict keys match CUT's ``netG`` and the
**layer indices mean what they mean in CUT**: ``nce_layers = (0, 4, 8, 12, 16)`` are the reflection-padded input
(RGB pixels), the first and second down-sampling convs (before their norm) and ResNet blocks 1 and 5.

Images: CUT's networks work on [-1, 1] (tanh output). :func:`translate` takes [0, 1] images of any size, pads them
to a multiple of 4 and maps the range, so callers keep srlib's [0, 1] convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from srlib.models.common import records_arguments

# Binomial (Pascal-triangle) low-pass filters used by the anti-aliased layers.
_BINOMIAL = {
    1: [1.0],
    2: [1.0, 1.0],
    3: [1.0, 2.0, 1.0],
    4: [1.0, 3.0, 3.0, 1.0],
    5: [1.0, 4.0, 6.0, 4.0, 1.0],
}


def binomial_filter(size: int) -> torch.Tensor:
    """``(size, size)`` outer product of a binomial row, normalised to sum 1 ([1, 2, 1] for size 3)."""
    a = torch.tensor(_BINOMIAL[size])
    f = a[:, None] * a[None, :]
    return f / f.sum()


class Downsample(nn.Module):
    """Blur-pool: reflect pad, depthwise binomial blur (3x3), stride 2 (CUT ``Downsample``)."""

    def __init__(self, channels: int, filt_size: int = 3, stride: int = 2):
        super().__init__()
        self.stride = stride
        lo, hi = (filt_size - 1) // 2, filt_size // 2  # (left, right) padding: equal for odd sizes
        self.pad = nn.ReflectionPad2d((lo, hi, lo, hi))
        self.register_buffer(
            "filt", binomial_filter(filt_size)[None, None].repeat(channels, 1, 1, 1)
        )

    def forward(self, x):  # (B, C, H, W) -> (B, C, H/2, W/2)
        return F.conv2d(self.pad(x), self.filt, stride=self.stride, groups=x.shape[1])


class Upsample(nn.Module):
    """Anti-aliased x2 upsampling: replicate pad, transposed depthwise [1, 3, 3, 1] filter (CUT ``Upsample``)."""

    def __init__(self, channels: int, filt_size: int = 4, stride: int = 2):
        super().__init__()
        self.stride, self.filt_odd = stride, filt_size % 2 == 1
        self.pad_size = (filt_size - 1) // 2
        self.pad = nn.ReplicationPad2d(1)
        # x stride^2: zero insertion keeps one sample in four, the filter restores the mean
        self.register_buffer(
            "filt", (binomial_filter(filt_size) * stride**2)[None, None].repeat(channels, 1, 1, 1)
        )

    def forward(self, x):  # (B, C, H, W) -> (B, C, 2H, 2W)
        out = F.conv_transpose2d(
            self.pad(x), self.filt, stride=self.stride, padding=1 + self.pad_size, groups=x.shape[1]
        )[:, :, 1:, 1:]
        return out if self.filt_odd else out[:, :, :-1, :-1]


class ResnetBlock(nn.Module):
    """reflect-pad, conv3x3, IN, ReLU, reflect-pad, conv3x3, IN; plus identity (Johnson et al. 2016)."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=True),
            nn.InstanceNorm2d(dim),
        )

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        return x + self.conv_block(x)


def init_cut_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """CUT's ``init_type xavier``, ``init_gain 0.02``: Xavier-normal conv / linear weights, zero biases."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.xavier_normal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


@records_arguments
class ResnetGenerator(nn.Module):
    """CUT's ``resnet_9blocks`` generator (index layout in the module docstring; 32 layers for 9 blocks).

    c7s1-64 -> two (conv3x3 stride 1, IN, ReLU, blur-pool) down-steps -> ``num_block`` ResNet blocks at 4x width ->
    two (anti-aliased x2, conv3x3, IN, ReLU) up-steps -> c7s1-3 -> tanh. All padding is reflective except the
    upsampler's replicate pad. Input sides must be divisible by 4.

    Args:
        num_in_ch: input channels (3).
        num_out_ch: output channels (3).
        num_feat: ``ngf``, width of the first layer (64).
        num_block: ResNet blocks (9).
        antialias: blur-pool downsampling (CUT default); False gives stride-2 convs (``--no_antialias``).
        antialias_up: blur upsampling + conv (default); False gives transposed convs (``--no_antialias_up``).
        init_gain: Xavier gain (0.02).
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 9,
        antialias: bool = True,
        antialias_up: bool = True,
        init_gain: float = 0.02,
    ):
        super().__init__()
        nf = num_feat
        # InstanceNorm without affine parameters, so every conv keeps its bias (CUT: use_bias = norm is IN).
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(num_in_ch, nf, 7),
            nn.InstanceNorm2d(nf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):
            c_in, c_out = nf * mult, nf * mult * 2
            if antialias:
                layers += [
                    nn.Conv2d(c_in, c_out, 3, 1, 1),
                    nn.InstanceNorm2d(c_out),
                    nn.ReLU(True),
                    Downsample(c_out),
                ]
            else:
                layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.InstanceNorm2d(c_out), nn.ReLU(True)]
        layers += [ResnetBlock(nf * 4) for _ in range(num_block)]
        for mult in (4, 2):
            c_in, c_out = nf * mult, nf * mult // 2
            if antialias_up:
                layers += [
                    Upsample(c_in),
                    nn.Conv2d(c_in, c_out, 3, 1, 1),
                    nn.InstanceNorm2d(c_out),
                    nn.ReLU(True),
                ]
            else:
                layers += [
                    nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1),
                    nn.InstanceNorm2d(c_out),
                    nn.ReLU(True),
                ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(nf, num_out_ch, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_cut_weights(self, init_gain)

    def forward(self, x):  # (B, 3, H, W) in [-1, 1] -> (B, 3, H, W) in [-1, 1]
        return self.model(x)

    def encode(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """Outputs of ``model[i]`` for ``i`` in ``layers`` (ascending), stopping after the last one.

        CUT's ``netG(x, nce_layers, encode_only=True)``: the encoder features PatchNCE compares.
        """
        layers = sorted(layers)
        feats, feat = [], x
        for i, layer in enumerate(self.model):
            feat = layer(feat)
            if i in layers:
                feats.append(feat)
            if i == layers[-1]:
                break
        return feats

    @torch.no_grad()
    def feature_channels(self, layers: Sequence[int]) -> list[int]:
        """Channels of the ``layers`` outputs (for :class:`PatchSampleF`), found with one tiny forward."""
        return [
            f.shape[1]
            for f in self.encode(torch.zeros(1, self.model[1].in_channels, 16, 16), layers)
        ]


class NLayerDiscriminator(nn.Module):
    """CUT's ``basic`` PatchGAN (pix2pix's 70x70 design, n_layers 3): one LSGAN score per overlapping patch.

    conv4x4-64 (no norm) -> conv4x4-128, -256 (IN) -> conv4x4-512 stride 1 (IN) -> conv4x4-1; LReLU 0.2. With
    ``antialias`` (CUT's default) every stride-2 conv becomes conv stride 1 + LReLU + blur-pool, which widens the
    receptive field slightly beyond pix2pix's 70x70.

    Args:
        num_in_ch: input channels (3).
        num_feat: ``ndf`` (64).
        num_layers: ``n_layers_D`` (3).
        antialias: blur-pool downsampling (default True).
        init_gain: Xavier gain (0.02).
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_feat: int = 64,
        num_layers: int = 3,
        antialias: bool = True,
        init_gain: float = 0.02,
    ):
        super().__init__()
        nf = num_feat
        if antialias:
            seq: list[nn.Module] = [
                nn.Conv2d(num_in_ch, nf, 4, 1, 1),
                nn.LeakyReLU(0.2, True),
                Downsample(nf),
            ]
        else:
            seq = [nn.Conv2d(num_in_ch, nf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, num_layers):
            prev, mult = mult, min(2**n, 8)
            if antialias:
                seq += [
                    nn.Conv2d(nf * prev, nf * mult, 4, 1, 1),
                    nn.InstanceNorm2d(nf * mult),
                    nn.LeakyReLU(0.2, True),
                    Downsample(nf * mult),
                ]
            else:
                seq += [
                    nn.Conv2d(nf * prev, nf * mult, 4, 2, 1),
                    nn.InstanceNorm2d(nf * mult),
                    nn.LeakyReLU(0.2, True),
                ]
        prev, mult = mult, min(2**num_layers, 8)
        seq += [
            nn.Conv2d(nf * prev, nf * mult, 4, 1, 1),
            nn.InstanceNorm2d(nf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(nf * mult, 1, 4, 1, 1),
        ]
        self.model = nn.Sequential(*seq)
        init_cut_weights(self, init_gain)

    def forward(self, x):  # (B, 3, 256, 256) -> (B, 1, 30, 30) raw scores (LSGAN: no sigmoid)
        return self.model(x)


class PatchSampleF(nn.Module):
    """CUT's ``mlp_sample`` head: sample patch locations, project with a 2-layer MLP, L2-normalise.

    One MLP per NCE layer (``Linear(C_l, 256) -> ReLU -> Linear(256, 256)``; keys ``mlp_0``, ``mlp_1``, ... as in
    CUT's ``netF``). CUT builds the MLPs lazily on the first forward; here they are built from the known channels
    (:meth:`ResnetGenerator.feature_channels`), so the head exists, and can be optimised, before any data is seen.

    Args:
        in_channels: channels of each NCE layer (3, 128, 256, 256, 256 for the default generator and layers).
        num_feat: ``netF_nc``, the projection width (256).
        use_mlp: False gives CUT's plain ``sample`` head (no projection).
        init_gain: Xavier gain (0.02).
    """

    def __init__(
        self,
        *,
        in_channels: Sequence[int],
        num_feat: int = 256,
        use_mlp: bool = True,
        init_gain: float = 0.02,
    ):
        super().__init__()
        self.use_mlp, self.num_layers = use_mlp, len(in_channels)
        if use_mlp:
            for i, c in enumerate(in_channels):
                setattr(
                    self,
                    f"mlp_{i}",
                    nn.Sequential(nn.Linear(c, num_feat), nn.ReLU(), nn.Linear(num_feat, num_feat)),
                )
        init_cut_weights(self, init_gain)

    def forward(
        self,
        feats: Sequence[torch.Tensor],
        num_patches: int = 256,
        patch_ids: Sequence[torch.Tensor] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Sample ``num_patches`` locations per layer (the same ones for every image of the batch, as in CUT).

        Args:
            feats: per layer ``(B, C_l, H_l, W_l)``.
            num_patches: locations per layer (256; fewer when the map is smaller).
            patch_ids: reuse these locations (the query side reuses the key side's ids).
            generator: source of the random locations (reproducible runs).

        Returns:
            ``(features, ids)``: per layer ``(B, P, num_feat)`` unit vectors, and the ``(P,)`` flat indices.
        """
        out, ids = [], []
        for i, feat in enumerate(feats):
            b, c, h, w = feat.shape
            flat = feat.permute(0, 2, 3, 1).reshape(b, h * w, c)  # (B, HW, C)
            if patch_ids is not None:
                idx = patch_ids[i]
            else:
                dev = generator.device if generator is not None else feat.device
                idx = torch.randperm(h * w, generator=generator, device=dev)[
                    : min(num_patches, h * w)
                ].to(feat.device)
            x = flat[:, idx, :]  # (B, P, C)
            if self.use_mlp:
                x = getattr(self, f"mlp_{i}")(x)  # (B, P, num_feat)
            x = x / (x.norm(p=2, dim=-1, keepdim=True) + 1e-7)  # CUT's Normalize(2), eps 1e-7
            out.append(x)
            ids.append(idx)
        return out, ids


def translate(g: ResnetGenerator, img: torch.Tensor) -> torch.Tensor:
    """Translate [0, 1] images of any size: reflect-pad to a multiple of 4, run ``g`` on [-1, 1], crop back.

    Args:
        g: the generator (put it in eval mode; IN has no running statistics, so eval only matters for dropout).
        img: ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1].

    Returns:
        The translated image in [0, 1], same shape.
    """
    x = img.unsqueeze(0) if img.dim() == 3 else img
    h, w = x.shape[-2:]
    ph, pw = (-h) % 4, (-w) % 4
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    y = (g(x * 2 - 1) + 1) / 2
    y = y[..., :h, :w]
    return y[0] if img.dim() == 3 else y


class Translator(nn.Module):
    """``g`` as a [0, 1] -> [0, 1] image model with ``scale = 1`` (:func:`translate`), for :mod:`srlib.inference`.

    Run it untiled (``upscale(Translator(g), img, tile=0)``) where memory allows: InstanceNorm statistics are
    computed per tile, so tiles of a large image are normalised differently and blending only hides part of it.
    """

    scale = 1

    def __init__(self, g: ResnetGenerator):
        super().__init__()
        self.g = g

    def forward(self, img):  # (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1]
        return translate(self.g, img)
