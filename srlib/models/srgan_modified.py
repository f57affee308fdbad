"""The "modified SRGAN" of a student report, ported faithfully from its Keras code.

Seed: vTuanpham/SRGAN_Reimplementation_modified (``SRGAN_train.py``: ``create_gen``, ``res_block``,
``upscale_block``, ``create_disc``; ``CustomPadding.py``), accompanying the report "Super-resolution using GANs".
It changes Ledig et al.'s SRGAN (https://arxiv.org/abs/1609.04802) in ways that matter for tiled inference and
for the numbers; each is kept here and commented where it is made:

* every generator conv is ``padding="valid"`` after explicit **reflect** pads, so tiles see mirrored context
  instead of zeros at their borders. The seed stacks k // 2 layers ``SymmetricPadding2D(1)``, each a 1-px
  ``tf.pad(..., "REFLECT")`` (which does not repeat the edge pixel), so a 5x5 or 9x9 conv sees the two edge pixels
  bouncing (``x0 x1 | x0 x1 x2`` and ``x0 x1 x0 x1 | x0 ...``), not one k // 2-px mirror (``ReflectionPad2d``:
  ``x2 x1 | x0``): :class:`SeedReflectPad`. ``padding="zeros"`` swaps in zero pads (same shapes) to reproduce the
  report's seam comparison;
* 9x9 head + PReLU, then a 5x5 conv + PReLU that is the long-skip source;
* 20 residual blocks of **three** convs: conv5x5-BN, conv3x3-BN-PReLU, conv3x3-BN (Ledig: two 3x3 convs);
* nearest-neighbour x2 upsampling (``UpSampling2D``), not sub-pixel convolution, with 256-wide convs;
* all generator BN layers with Keras ``momentum=0.5`` (= PyTorch 0.5, see :func:`keras_bn`) and Keras eps 1e-3;
* discriminator of base width 32 (Ledig: 64), LeakyReLU 0.3 (Ledig: 0.2), dense 512 (Ledig: 1024).

Keras defaults the seed relies on are reproduced too: conv biases everywhere (also before BN), Glorot-uniform
kernels with zero biases, PReLU slopes starting at 0 with one slope per channel (``shared_axes=[1, 2]``).

BN statistics at inference (``bn_inference``): ``moving`` is the seed's (Keras ``predict`` normalises with the moving
averages); ``per_image`` normalises every image (every tile) with its own statistics, as batch-1 training did (Keras
``training=True``): NOT the seed's inference, a labelled deviation the stages use by default (notebook 20 shows why).
Training is the same either way.

Training recipe (VGG content layers, loss weights, batch 1, separate D updates): :mod:`srlib.srgan_modified.train`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from srlib.models.common import records_arguments

PADDINGS = ("reflect", "zeros")
# BN statistics at inference: the seed's moving averages | each image's own
BN_INFERENCE = ("moving", "per_image")


class KerasBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that can normalise each sample with its own statistics at inference (``per_image``).

    ``per_image = False`` (default): eval mode uses the running (Keras: moving) statistics, as Keras ``predict``.
    ``per_image = True``: eval mode normalises every sample of the batch on its own, with its per-channel mean and
    biased variance over H, W (``F.instance_norm`` with this layer's gamma / beta): what a batch-1 training forward
    computes, for any batch size (so each tile of a batched tiled pass has its own statistics); the running
    statistics are neither used nor updated. Training mode is plain BN either way.
    """

    per_image: bool = False

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        # `training` first: a train-mode (compiled) graph never reads `per_image`
        if not self.training and self.per_image:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        return super().forward(x)


def keras_bn(num_feat: int, keras_momentum: float, eps: float = 1e-3) -> KerasBatchNorm2d:
    """BatchNorm with Keras semantics: Keras updates ``moving = m * moving + (1 - m) * batch``, PyTorch
    ``running = (1 - m) * running + m * batch``, so PyTorch momentum = 1 - Keras momentum (0.5 stays 0.5)."""
    return KerasBatchNorm2d(num_feat, eps=eps, momentum=1.0 - keras_momentum)


def keras_prelu(num_feat: int) -> nn.PReLU:
    """Keras ``PReLU(shared_axes=[1, 2])``: one slope per channel, initialised to 0 (i.e. it starts as a ReLU)."""
    return nn.PReLU(num_feat, init=0.0)


class SeedReflectPad(nn.Module):
    """``n`` successive 1-px reflect pads on each side: the seed's ``n`` stacked ``SymmetricPadding2D(1)`` layers.

    Each layer is ``tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT")`` (``np.pad(mode="reflect")``: the edge
    pixel is not repeated), so the pad keeps bouncing between the two outermost pixels: a row ``x0 x1 x2 ...`` gets
    ``x1 | x0`` (n = 1), ``x0 x1 | x0`` (n = 2, the 5x5 convs) and ``x0 x1 x0 x1 | x0`` (n = 4, the 9x9 convs), where
    one n-px mirror (``nn.ReflectionPad2d(n)``) would give ``x2 x1 | x0`` and ``x4 x3 x2 x1 | x0``. Needs H, W >= 2.
    """

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x):  # (B, C, H, W) -> (B, C, H + 2n, W + 2n)
        for _ in range(self.n):
            x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return x


class PadConv(nn.Module):
    """Explicit pad of k // 2 pixels, then a "valid" conv: the seed's ``SymmetricPadding2D`` + ``Conv2D`` pairs."""

    def __init__(self, c_in: int, c_out: int, kernel: int, padding: str = "reflect"):
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        p = kernel // 2
        # (p successive 1-px zero pads are one p-px zero pad)
        self.pad = SeedReflectPad(p) if padding == "reflect" else nn.ZeroPad2d(p)
        self.conv = nn.Conv2d(
            c_in, c_out, kernel, 1, 0
        )  # Keras Conv2D keeps its bias even before BN

    def forward(self, x):  # (B, c_in, H, W) -> (B, c_out, H, W)
        return self.conv(self.pad(x))


class ResidualBlock(nn.Module):
    """conv5x5-BN, conv3x3-BN-PReLU, conv3x3-BN, plus identity (the seed's ``res_block``; Ledig has no 5x5 conv)."""

    def __init__(
        self,
        num_feat: int = 64,
        *,
        padding: str = "reflect",
        bn_momentum: float = 0.5,
        bn_eps: float = 1e-3,
    ):
        super().__init__()
        self.conv1 = PadConv(num_feat, num_feat, 5, padding)
        self.bn1 = keras_bn(num_feat, bn_momentum, bn_eps)
        self.conv2 = PadConv(num_feat, num_feat, 3, padding)
        self.bn2 = keras_bn(num_feat, bn_momentum, bn_eps)
        self.act = keras_prelu(num_feat)
        self.conv3 = PadConv(num_feat, num_feat, 3, padding)
        self.bn3 = keras_bn(num_feat, bn_momentum, bn_eps)

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        y = self.bn1(self.conv1(x))  # no activation after the first conv, as in the seed
        y = self.act(self.bn2(self.conv2(y)))
        return x + self.bn3(self.conv3(y))


class UpsampleBlock(nn.Module):
    """conv3x3 + PReLU, conv3x3 + BN, nearest x2, PReLU (the seed's ``upscale_block``).

    Nearest-neighbour upsampling after the convs (Keras ``UpSampling2D``) instead of Ledig's sub-pixel shuffle: the
    convs run at the low resolution and each output 2x2 block starts from one feature vector.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int = 256,
        *,
        padding: str = "reflect",
        bn_momentum: float = 0.5,
        bn_eps: float = 1e-3,
    ):
        super().__init__()
        self.conv1 = PadConv(c_in, c_out, 3, padding)
        self.act1 = keras_prelu(c_out)
        self.conv2 = PadConv(c_out, c_out, 3, padding)
        self.bn = keras_bn(c_out, bn_momentum, bn_eps)
        self.act2 = keras_prelu(c_out)

    def forward(self, x):  # (B, c_in, H, W) -> (B, c_out, 2H, 2W)
        y = self.bn(self.conv2(self.act1(self.conv1(x))))
        return self.act2(F.interpolate(y, scale_factor=2, mode="nearest"))


@records_arguments
class SRGANModifiedGenerator(nn.Module):
    """The seed's ``create_gen(num_res_block=20)``: 64x64 -> 256x256 in the report, any size here.

    Args:
        num_in_ch: input channels.
        num_out_ch: output channels.
        num_feat: width of the head and the residual body (seed: 64).
        num_block: residual blocks (seed: 20; Ledig: 16).
        num_up_feat: width of the convs in each x2 upsampling block (seed: 256).
        scale: a power of two; one upsampling block per factor 2 (seed: 4).
        padding: ``reflect`` (seed) or ``zeros`` (the report's seam comparison); same shapes either way.
        bn_momentum: **Keras** BN momentum (seed: 0.5; converted by :func:`keras_bn`).
        bn_eps: BN epsilon (Keras default 1e-3; PyTorch's default would be 1e-5).
        bicubic_skip: NOT in the seed. Adds a bicubic upsampling of the input and starts the tail at zero, so the
            network learns a residual and a short CPU run starts from bicubic; labelled wherever it is on.
        bn_inference: BN statistics in eval mode: ``moving`` (the seed: Keras ``predict``) or ``per_image`` (each
            image / tile its own, as batch-1 training; not the seed). Settable later (:attr:`bn_inference`, which
            also updates ``arch_kwargs``, so a saved file rebuilds the mode in use); training is unaffected.
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 20,
        num_up_feat: int = 256,
        scale: int = 4,
        padding: str = "reflect",
        bn_momentum: float = 0.5,
        bn_eps: float = 1e-3,
        bicubic_skip: bool = False,
        bn_inference: str = "moving",
    ):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(
                f"SRGANModifiedGenerator scale must be a power of two >= 2, got {scale}"
            )
        self.scale, self.padding, self.bicubic_skip = scale, padding, bicubic_skip
        bn = dict(bn_momentum=bn_momentum, bn_eps=bn_eps)
        self.conv_first = PadConv(num_in_ch, num_feat, 9, padding)
        self.act_first = keras_prelu(num_feat)
        self.conv_second = PadConv(
            num_feat, num_feat, 5, padding
        )  # 5x5 + PReLU: the long-skip source
        self.act_second = keras_prelu(num_feat)
        self.body = nn.Sequential(
            *[ResidualBlock(num_feat, padding=padding, **bn) for _ in range(num_block)]
        )
        self.conv_body = PadConv(num_feat, num_feat, 3, padding)
        self.bn_body = keras_bn(num_feat, bn_momentum, bn_eps)
        ups, c_in = [], num_feat
        for _ in range(int(math.log2(scale))):
            ups.append(UpsampleBlock(c_in, num_up_feat, padding=padding, **bn))
            c_in = num_up_feat
        self.upsample = nn.Sequential(*ups)
        self.conv_last = PadConv(
            c_in, num_out_ch, 9, padding
        )  # linear output, no clamp (as the seed)
        keras_init(self)
        if bicubic_skip:
            nn.init.zeros_(self.conv_last.conv.weight)
            nn.init.zeros_(self.conv_last.conv.bias)
        self.bn_inference = bn_inference

    @property
    def bn_inference(self) -> str:
        """``moving`` (the seed's inference) or ``per_image``: the statistics every BN layer uses in eval mode."""
        return self._bn_inference

    @bn_inference.setter
    def bn_inference(self, mode: str) -> None:
        if mode not in BN_INFERENCE:
            raise ValueError(f"bn_inference must be one of {BN_INFERENCE}, got {mode!r}")
        for m in self.modules():
            if isinstance(m, KerasBatchNorm2d):
                m.per_image = mode == "per_image"
        self._bn_inference = mode
        # set after construction (records_arguments adds arch_kwargs then): the file rebuilds the mode in use
        if hasattr(self, "arch_kwargs"):
            self.arch_kwargs["bn_inference"] = mode

    @property
    def receptive_radius(self) -> int:
        """Half-width (LR pixels) of the theoretical receptive field: how far a tile border can influence."""
        lq_px = 4 + 2 + 4 * len(self.body) + 1  # 9x9, 5x5, blocks (5x5 + 3x3 + 3x3), body conv
        hr_px, f = 0.0, 1
        for _ in self.upsample:
            hr_px += 2 / f  # two 3x3 convs at the block's input resolution, in LR pixels
            f *= 2
        hr_px += 4 / f  # 9x9 tail at the output resolution
        return lq_px + math.ceil(hr_px)

    def forward(self, lq):  # (B, 3, h, w) in [0, 1] -> (B, 3, scale*h, scale*w), unclamped
        feat = self.act_second(
            self.conv_second(self.act_first(self.conv_first(lq)))
        )  # (B, C, h, w)
        body = self.bn_body(self.conv_body(self.body(feat)))
        out = self.conv_last(self.upsample(feat + body))  # (B, 3, s*h, s*w)
        if self.bicubic_skip:
            out = out + F.interpolate(
                lq, scale_factor=self.scale, mode="bicubic", align_corners=False
            )
        return out


class SRGANModifiedDiscriminator(nn.Module):
    """The seed's ``create_disc``: 8 conv3x3 layers (32, 32s2, 64, 64s2, 128, 128s2, 256, 256s2), dense 512, dense 1.

    Convs use Keras ``padding="same"``: for stride 2 TensorFlow pads only bottom/right (one pixel), which
    ``ZeroPad2d((0, 1, 0, 1))`` reproduces (PyTorch's symmetric ``padding=1`` would shift the sampling grid).
    BN (Keras momentum 0.8 -> PyTorch 0.2, eps 1e-3) on all but the first layer; LeakyReLU 0.3.

    The dense head flattens the 256 x (H/16) x (W/16) map, so the input size is fixed (``input_size``, 256 in the
    seed: a 33.6 M-parameter dense layer). Returns **logits**: the seed's final sigmoid lives in the loss
    (BCE-with-logits is the numerically stable form of Keras' sigmoid + binary cross-entropy).

    Args:
        num_in_ch: input channels.
        num_feat: base width ``df`` (seed: 32).
        fc_dim: width of the hidden dense layer (seed: ``df * 16`` = 512).
        input_size: side of the square HR input (seed: 256); must be divisible by 16.
        bn_momentum: Keras BN momentum (seed: 0.8).
    """

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_feat: int = 32,
        fc_dim: int = 512,
        input_size: int = 256,
        bn_momentum: float = 0.8,
    ):
        super().__init__()
        if input_size % 16:
            raise ValueError(
                f"input_size must be divisible by 16 (four stride-2 convs), got {input_size}"
            )
        self.input_size = input_size
        layers: list[nn.Module] = []
        chans = [num_feat * m for m in (1, 1, 2, 2, 4, 4, 8, 8)]  # k3n64s1, k3n64s2, ..., k3n512s2
        c_in = num_in_ch
        for i, c_out in enumerate(chans):
            stride = 2 if i % 2 else 1
            # TF "same": total pad k - s; stride 1 -> 1 px each side, stride 2 -> 1 px at bottom/right only
            layers.append(nn.ZeroPad2d((0, 1, 0, 1)) if stride == 2 else nn.ZeroPad2d(1))
            layers.append(nn.Conv2d(c_in, c_out, 3, stride, 0))
            if i > 0:
                layers.append(keras_bn(c_out, bn_momentum))
            layers.append(nn.LeakyReLU(0.3))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = input_size // 16
        self.classifier = nn.Sequential(
            # Keras flattens channels-last (H, W, C); the order only permutes the dense weights, so C, H, W is kept
            nn.Flatten(),
            nn.Linear(c_in * side * side, fc_dim),
            nn.LeakyReLU(0.3),
            nn.Linear(fc_dim, 1),
        )
        keras_init(self)

    def forward(self, x):  # (B, 3, S, S) -> (B,) logits
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"discriminator built for {self.input_size}x{self.input_size}, got {tuple(x.shape[-2:])}"
            )
        return self.classifier(self.features(x)).squeeze(1)


@contextmanager
def bn_statistics(g: nn.Module, mode: str) -> Iterator[nn.Module]:
    """Run ``g`` with ``mode`` BN statistics at inference inside the block, then restore its own mode.

    A model without the switch (no ``bn_inference`` attribute: plain BN) is left alone for ``moving``: its eval mode
    already uses the moving statistics.
    """
    saved = getattr(g, "bn_inference", None)
    if saved is None:
        if mode != "moving":
            raise ValueError(f"{type(g).__name__} has no per-image BN switch (bn_inference)")
        yield g
        return
    g.bn_inference = mode
    try:
        yield g
    finally:
        g.bn_inference = saved


@torch.no_grad()
def keras_init(model: nn.Module) -> nn.Module:
    """Keras defaults: Glorot-uniform kernels and zero biases for Conv2D / Dense (PyTorch uses Kaiming-uniform)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model
