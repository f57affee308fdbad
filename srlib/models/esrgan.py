"""RRDBNet generator (ESRGAN / Real-ESRGAN) and the U-Net discriminator with spectral normalisation.

Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks", ECCV-W 2018
(https://arxiv.org/abs/1809.00219), §3.1 and Fig. 4 (RRDB, residual scaling); Wang et al., "Real-ESRGAN: Training
Real-World Blind Super-Resolution with Pure Synthetic Data", ICCV-W 2021 (https://arxiv.org/abs/2107.10833), §3.3
(pixel-unshuffle for x2 / x1) and §3.4 (U-Net discriminator with SN). Reference implementations read for details:
BasicSR ``basicsr/archs/rrdbnet_arch.py`` and Real-ESRGAN ``realesrgan/archs/discriminator_arch.py``.

**State-dict keys are BasicSR's** (``conv_first``, ``body.N.rdbK.convM``, ``conv_body``, ``conv_up1``, ``conv_up2``,
``conv_hr``, ``conv_last``; ``conv0``..``conv9`` with ``weight_orig`` / ``weight_u`` / ``weight_v`` for the SN convs),
so the published ``RealESRGAN_x4plus.pth`` (key ``params_ema``) and BasicSR / Real-ESRGAN training checkpoints load
with ``strict=True``. :func:`load_realesrgan_x4plus` does that through :mod:`srlib.weights`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from srlib import weights
from srlib.models.common import records_arguments


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs with dense connections (RDN, Zhang et al. 2018); no BN (ESRGAN §3.1 removes it).

    Args:
        num_feat: width of the block's input and output.
        num_grow_ch: channels each of the first four convs adds to the concatenation ("growth").
    """

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        # ESRGAN §3.1 "smaller initialization": Kaiming-normal scaled by 0.1 makes the very deep residual trunk
        # start close to the identity (BasicSR default_init_weights(..., 0.1)).
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        x1 = self.lrelu(self.conv1(x))  # (B, G, H, W)
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))  # (B, C, H, W), linear
        # Residual scaling by 0.2 (ESRGAN §3.1, after Szegedy et al.): stabilises training of the deep trunk.
        # torch.add(x, x5, alpha=0.2) is one kernel instead of mul + add.
        return torch.add(x, x5, alpha=0.2)


class RRDB(nn.Module):
    """Residual-in-Residual Dense Block: three RDBs and an outer residual, both scaled by 0.2 (ESRGAN Fig. 4)."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        return torch.add(x, self.rdb3(self.rdb2(self.rdb1(x))), alpha=0.2)


@records_arguments
class RRDBNet(nn.Module):
    """ESRGAN / Real-ESRGAN generator.

    ``conv_first`` -> ``num_block`` RRDBs -> ``conv_body`` (+ long skip) -> two (nearest x2, conv, LReLU) steps ->
    ``conv_hr`` + LReLU -> ``conv_last``. The trunk always upsamples x4; Real-ESRGAN's x2 and x1 models
    pixel-unshuffle the input first (x2: by 2, so 4x the input channels; x1: by 4, 16x), which keeps one network
    shape and moves most of the computation to a smaller resolution (Real-ESRGAN §3.3). For x2 / x1, inputs whose
    sides are not divisible by 2 / 4 are reflect-padded bottom/right and the output is cropped back (BasicSR would
    fail; Real-ESRGAN's inference wrapper and spandrel pad the same way), so any size works, also through the tiles
    of :func:`srlib.inference.tiling.upscale`.

    Args:
        num_in_ch: image channels (3).
        num_out_ch: output channels (3).
        scale: 4, 2 or 1 (ESRGAN / Real-ESRGAN); or 8, a third nearest x2 + conv (+ LReLU) after the two, srlib's
            8x head for the 8x comparison rows (NOT in ESRGAN's releases; labelled where used).
        num_feat: trunk width (64 in ESRGAN and Real-ESRGAN).
        num_block: number of RRDBs (23; the anime 6B model uses 6).
        num_grow_ch: dense-block growth channels (32).
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ):
        super().__init__()
        if scale not in (1, 2, 4, 8):
            raise ValueError(f"RRDBNet scale must be 1, 2, 4 or 8, got {scale}")
        self.scale = scale
        self.unshuffle = {8: 1, 4: 1, 2: 2, 1: 4}[
            scale
        ]  # pixel-unshuffle factor in front of the x4 trunk
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        # Nearest-neighbour x2 followed by a conv, twice (ESRGAN uses this instead of sub-pixel convolution).
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        if scale == 8:  # srlib's 8x head (no released ESRGAN is 8x): one more x2 step, same form
            self.conv_up3 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, lq):  # (B, 3, h, w) in [0, 1] -> (B, 3, scale*h, scale*w), unclamped
        h, w = lq.shape[-2:]
        if self.unshuffle > 1:
            lq, _ = pad_for_unshuffle(lq, self.scale)
            feat = F.pixel_unshuffle(lq, self.unshuffle)  # (B, 3u^2, h/u, w/u)
        else:
            feat = lq
        if feat.device.type == "cpu":
            # oneDNN's native layout is NHWC: the whole trunk runs ~10 % faster channels-last on CPU (measured in
            # benchmarks/rrdbnet.py); same numbers up to float rounding. The output is returned contiguous.
            feat = feat.contiguous(memory_format=torch.channels_last)
        feat = self.conv_first(feat)  # (B, C, h', w')
        feat = feat + self.conv_body(self.body(feat))  # long skip over the whole trunk
        feat = self.lrelu(
            self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest"))
        )  # (B, C, 2h', 2w')
        feat = self.lrelu(
            self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest"))
        )  # (B, C, 4h', 4w')
        if self.scale == 8:
            feat = self.lrelu(
                self.conv_up3(F.interpolate(feat, scale_factor=2, mode="nearest"))
            )  # (B, C, 8h, 8w)
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))  # (B, 3, 4h', 4w') (8h, 8w at x8)
        return out[..., : h * self.scale, : w * self.scale].contiguous()

    def encode(self, lq: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """Trunk features at input resolution for PatchNCE (the end-to-end M3 of :mod:`srlib.night2day.m3`).

        Layer ``0`` is ``conv_first``'s output, layer ``k`` (1..num_block) the output of RRDB ``k``: the x4
        generator's own encoder, as CUT takes the first half of its generator. Only scale 4 (no unshuffle).
        Returns one ``(B, num_feat, h, w)`` map per requested layer, in the order asked.
        """
        if self.unshuffle != 1:
            raise ValueError("RRDBNet.encode supports scale 4 only")
        wanted, last = set(layers), max(layers)
        if min(layers) < 0 or last > len(self.body):
            raise ValueError(f"layers must lie in 0..{len(self.body)}, got {list(layers)}")
        feats: dict[int, torch.Tensor] = {}
        feat = self.conv_first(lq)
        if 0 in wanted:
            feats[0] = feat
        for k, block in enumerate(self.body[:last], start=1):
            feat = block(feat)
            if k in wanted:
                feats[k] = feat
        return [feats[k] for k in layers]


def pad_for_unshuffle(lq: torch.Tensor, scale: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad bottom/right to a multiple of the x2 / x1 pixel-unshuffle factor; returns ``(padded, (h, w))``.

    The output of the padded input is cropped back with ``sr[..., : h * scale, : w * scale]`` (Real-ESRGAN's
    ``mod_pad``); :class:`RRDBNet` does both itself.
    """
    mod = {4: 1, 2: 2, 1: 4}[scale]
    h, w = lq.shape[-2:]
    ph, pw = (-h) % mod, (-w) % mod
    if ph or pw:
        lq = F.pad(lq, (0, pw, 0, ph), mode="reflect")
    return lq, (h, w)


class UNetDiscriminatorSN(nn.Module):
    """U-Net discriminator with spectral normalisation (Real-ESRGAN §3.4, Fig. 6): one logit **per pixel**.

    A VGG-style discriminator judges a whole image; a U-Net gives per-pixel realness feedback, which the stronger
    degradation space of Real-ESRGAN needs. Spectral norm (Miyato et al. 2018) stabilises the larger discriminator.

    conv0 (3x3, no SN) -> three SN 4x4 stride-2 convs (C -> 2C -> 4C -> 8C) -> three (bilinear x2, SN 3x3 conv)
    steps back to C with additive skips -> two SN 3x3 convs -> conv9 (3x3, no SN) to one channel. LReLU 0.2.
    Input sides must be divisible by 8.

    Args:
        num_in_ch: image channels (3).
        num_feat: base width (64).
        skip_connection: add the encoder features to the decoder ones (True in Real-ESRGAN).
    """

    def __init__(self, *, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True):
        super().__init__()
        self.skip_connection = skip_connection
        c = num_feat
        self.conv0 = nn.Conv2d(num_in_ch, c, 3, 1, 1)
        self.conv1 = spectral_norm(nn.Conv2d(c, c * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(c * 2, c * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(c * 4, c * 8, 4, 2, 1, bias=False))
        self.conv4 = spectral_norm(nn.Conv2d(c * 8, c * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(c * 4, c * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(c * 2, c, 3, 1, 1, bias=False))
        self.conv7 = spectral_norm(nn.Conv2d(c, c, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(c, c, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(c, 1, 3, 1, 1)

    def forward(self, x):  # (B, 3, H, W) -> (B, 1, H, W) logits
        act = lambda t: F.leaky_relu(t, negative_slope=0.2, inplace=True)  # noqa: E731
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        x0 = act(self.conv0(x))  # (B, C, H, W)
        x1 = act(self.conv1(x0))  # (B, 2C, H/2, W/2)
        x2 = act(self.conv2(x1))  # (B, 4C, H/4, W/4)
        x3 = act(self.conv3(x2))  # (B, 8C, H/8, W/8)
        x4 = act(self.conv4(up(x3)))  # (B, 4C, H/4, W/4)
        if self.skip_connection:
            x4 = x4 + x2
        x5 = act(self.conv5(up(x4)))  # (B, 2C, H/2, W/2)
        if self.skip_connection:
            x5 = x5 + x1
        x6 = act(self.conv6(up(x5)))  # (B, C, H, W)
        if self.skip_connection:
            x6 = x6 + x0
        out = act(self.conv7(x6))
        out = act(self.conv8(out))
        return self.conv9(out)


# ------------------------------------------------------------------------------------------------- loading


def generator_state(checkpoint: dict, param_key: str = "params_ema") -> dict[str, torch.Tensor]:
    """The generator state dict inside a BasicSR / Real-ESRGAN file.

    Released files hold ``{"params_ema": ...}`` (the EMA weights, which Real-ESRGAN publishes) and training
    checkpoints ``{"params": ..., "params_ema": ...}``; a bare state dict is returned as is. ``param_key`` is
    preferred, then ``params_ema``, then ``params`` (BasicSR's ``param_key_g`` logic).
    """
    for key in (param_key, "params_ema", "params"):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    return checkpoint


def load_realesrgan_x4plus(weights_mode: str = "auto") -> tuple[RRDBNet, weights.WeightStatus]:
    """``RealESRGAN_x4plus`` (RRDBNet 23 blocks, x4) in eval mode, resolved through :mod:`srlib.weights`.

    ``weights_mode``: ``pretrained`` (file required), ``auto`` (file if present, else random-init with a warning)
    or ``random``. The returned status goes into the metrics file (``comparable`` is False unless loaded).
    """
    net = RRDBNet(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32)
    state, status = weights.load_state_dict("realesrgan_x4plus", weights_mode)
    if state is not None:
        net.load_state_dict(generator_state(state), strict=True)
    return net.eval(), status
