"""Losses, one small function each, with the formula in the docstring.

Key names in training logs follow BasicSR: ``l_g_pix``, ``l_g_percep``, ``l_g_gan``, ``l_d_real``, ``l_d_fake``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from srlib import weights

# ImageNet statistics that torchvision's VGG weights expect (inputs in [0, 1] RGB).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def pixel_mse(sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """l_MSE = mean over pixels of (gt - sr)^2 (Ledig eq. 4, averaged instead of summed)."""
    return F.mse_loss(sr, gt)


def pixel_l1(sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """l_1 = mean |gt - sr| (Real-ESRGAN / ESRGAN pixel loss)."""
    return F.l1_loss(sr, gt)


VGG_CFGS = {"vgg19": "E", "vgg16": "D"}  # torchvision's layer configurations


class VGGFeatures(nn.Module):
    """Frozen torchvision VGG19 (or VGG16) ``features`` trunk, returning the maps after the requested layers.

    Args:
        layer: one ``features`` index (``'features.35'`` = conv5_4 after ReLU, SRGAN's VGG54); or
        layers: several indices (e.g. Real-ESRGAN's pre-ReLU conv1_2..conv5_4 = 2, 7, 16, 25, 34); ``forward`` then
            returns a list in that order. Use one of the two.
        weights_mode: ``pretrained | auto | random`` (see :mod:`srlib.weights`); ``self.status`` records the outcome.
        normalize: apply ImageNet mean/std to [0, 1] inputs (torchvision weights were trained that way).
        arch: ``vgg19`` (SRGAN, Real-ESRGAN) or ``vgg16`` (the hallucination paper's L_percp); both share the
            indices up to pool2 (relu2_2 = 8).
    """

    def __init__(
        self,
        *,
        layer: str | int | None = None,
        layers: Sequence[str | int] | None = None,
        weights_mode: str = "auto",
        normalize: bool = True,
        arch: str = "vgg19",
    ):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        if arch not in VGG_CFGS:
            raise ValueError(
                f"VGGFeatures: arch must be one of {', '.join(VGG_CFGS)}, got {arch!r}"
            )

        if (layer is None) == (layers is None):
            raise ValueError("VGGFeatures: give exactly one of `layer` or `layers`")
        self.single = layer is not None
        self.indices = [int(str(x).split(".")[-1]) for x in ([layer] if self.single else layers)]
        # Only torchvision's `features` trunk is built: the 120 M-parameter classifier is never used.
        features = make_layers(cfgs[VGG_CFGS[arch]], batch_norm=False)
        state, self.status = weights.load_state_dict(arch, weights_mode)
        if state is not None:
            features.load_state_dict(
                {
                    k.removeprefix("features."): v
                    for k, v in state.items()
                    if k.startswith("features.")
                }
            )
        self.features = features[: max(self.indices) + 1].eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True):  # the feature extractor never leaves eval mode
        super().train(mode)
        self.features.eval()
        return self

    def forward(
        self, x
    ):  # (B, 3, H, W) in [0, 1] -> (B, 512, H/16, W/16) for features.35, or a list
        if self.normalize:
            x = (x - self.mean) / self.std
        wanted, outs = set(self.indices), {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in wanted:
                # ReLUs run in place: clone a pre-ReLU map so the next layer does not overwrite it
                outs[i] = x.clone() if i + 1 < len(self.features) else x
        return outs[self.indices[0]] if self.single else [outs[i] for i in self.indices]


def perceptual_vgg(
    sr: torch.Tensor, gt: torch.Tensor, vgg: VGGFeatures, *, rescale: float = 1 / 12.75
):
    """l_VGG/i,j = mean (rescale * (phi(gt) - phi(sr)))^2 (Ledig eq. 5).

    The paper rescales the VGG feature maps by 1/12.75 "to obtain VGG losses of a scale that is comparable to the
    MSE loss"; the ground-truth features carry no gradient.
    """
    with torch.no_grad():
        f_gt = vgg(gt)
    return F.mse_loss(vgg(sr) * rescale, f_gt * rescale)


# ---------------------------------------------------------------------------------------------------------------------
# A substitute content loss where VGG19's file is absent: the FID Inception trunk (NOT the paper's loss)

# pytorch-fid's FID Inception (the TF 2015-12-05 graph) up to a Mixed block, without its resize to 299²: the trunk
# is convolutional, so it runs on the training crop itself. Shapes (C x side), valid convs / pools unless padded:
#   layer (kernel, stride)    input 96   input 48
#   Conv2d_1a_3x3 (3, s2)      32 x 47    32 x 23
#   Conv2d_2a_3x3 (3)          32 x 45    32 x 21
#   Conv2d_2b_3x3 (3, pad 1)   64 x 45    64 x 21
#   MaxPool (3, s2)            64 x 22    64 x 10
#   Conv2d_3b_1x1              80 x 22    80 x 10
#   Conv2d_4a_3x3 (3)         192 x 20   192 x  8
#   MaxPool (3, s2)           192 x  9   192 x  3
#   Mixed_5b / 5c / 5d        256 / 288 / 288 x 9 (x 3 at 48²)   (InceptionA: size-preserving branches)
#   Mixed_6a (3, s2)          768 x  4   768 x  1                 (then Mixed_6b..6e, size-preserving)
# Mixed_5d (the last block before Mixed_6a's stride 2) is the default: 9 x 9 x 288 at 96², close to VGG54's
# 6 x 6 x 512 in resolution; Mixed_6e would leave 4 x 4 (1 x 1 at 48²). The smallest input with a Mixed_5d map is
# 27² (1 x 1). At 299² (FID's input) Mixed_5d is 35 x 35.
INCEPTION_LAYERS = ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                    "Mixed_6d", "Mixed_6e")  # fmt: skip
# Mixed_5d features rescaled by this make l_Inc of the SRGAN init's output the size of its pixel MSE, as Ledig's
# 1/12.75 does for VGG54 (measured with the converted TF weights on 96² crops of the photos; see perceptual_inception).
INCEPTION_RESCALE = 0.1


class InceptionFeatures(nn.Module):
    """Frozen FID Inception trunk (pytorch-fid's ``fid_inception_v3``, TF 2015-12-05 weights) up to ``layer``.

    Built by pytorch-fid itself (``InceptionV3`` blocks 0-2, :func:`srlib.metrics.inception.pfi_network`), holding
    the state dict ``srlib.weights.load_state_dict("fid_inception", weights_mode)`` gives: the official
    ``pt_inception-2015-12-05-6726825d.pth`` or srlib's conversion of the same graph (``status.key`` says which), or
    none (random-initialised, seed 0, ``status.source == "random-init"``: dead features, as random VGG's). Inputs are
    mapped as pytorch-fid does (``2x - 1`` of RGB in [0, 1]) and NOT resized; BatchNorm stays in eval mode.

    Args:
        layer: the Mixed block whose output is returned (``INCEPTION_LAYERS``; default ``Mixed_5d``).
        weights_mode: ``pretrained | auto | random`` (see :mod:`srlib.weights`); ``self.status`` records the outcome.
    """

    def __init__(self, *, layer: str = "Mixed_5d", weights_mode: str = "auto"):
        super().__init__()
        from srlib.metrics.inception import pfi_network, random_fid_inception_state_dict

        if layer not in INCEPTION_LAYERS:
            raise ValueError(f"InceptionFeatures: layer {layer!r} is not in {INCEPTION_LAYERS}")
        self.layer = layer
        state, self.status = weights.load_state_dict("fid_inception", weights_mode)
        if state is None:
            state = random_fid_inception_state_dict(seed=0)
        net = pfi_network(state, [2], resize_input=False, normalize_input=False)
        # pytorch-fid's blocks 0-2: Conv2d_1a..2b + pool, Conv2d_3b..4a + pool, Mixed_5b..6e
        block0, block1, mixed = net.blocks
        upto = INCEPTION_LAYERS.index(layer) + 1
        self.trunk = nn.Sequential(*block0, *block1, *mixed[:upto]).eval()
        for p in self.trunk.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):  # BatchNorm keeps the TF graph's statistics
        super().train(mode)
        self.trunk.eval()
        return self

    def forward(self, x):
        # (B, 3, H, W) in [0, 1] -> (B, 288, h, h) for Mixed_5d: h = 9 at H = 96, 3 at 48
        return self.trunk(2 * x - 1)


def perceptual_inception(
    sr: torch.Tensor,
    gt: torch.Tensor,
    net: InceptionFeatures,
    *,
    rescale: float = INCEPTION_RESCALE,
):
    """l_Inc = mean (rescale * (psi(gt) - psi(sr)))^2, psi = FID Inception Mixed_5d: Ledig eq. 5 with another net.

    A labelled substitute for VGG54 where VGG19's file is absent, not the paper's loss. ``rescale`` plays the role
    of Ledig's 1/12.75 ("VGG losses of a scale that is comparable to the MSE loss"): :data:`INCEPTION_RESCALE`
    = 0.1 = sqrt(pixel MSE / raw feature MSE), measured with the converted TF weights on 128 crops of 96² of the
    photos (photos-train, 8 batches of 16): for the SRGAN initialisation's output (the photos profile's SRResNet
    after 400 MSE steps) the raw Mixed_5d MSE is 0.154 and the pixel MSE 0.00153 (ratio 101; 78-216 per batch;
    bicubic: 0.162 / 0.00171), so l_Inc starts at ~1.0x the pixel MSE. The ground-truth features carry no gradient.
    """
    with torch.no_grad():
        f_gt = net(gt)
    return F.mse_loss(net(sr) * rescale, f_gt * rescale)


def gan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """l_Gen = -log D(G(lq)) (Ledig eq. 6, the non-saturating form), as BCE-with-logits against 'real'."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def gan_d_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """D minimises -log D(gt) - log(1 - D(G(lq))); returned as the two terms (l_d_real, l_d_fake)."""
    l_real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    l_fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return l_real, l_fake


# ---------------------------------------------------------------------------------------------------------------------
# Modified SRGAN (vTuanpham/SRGAN_Reimplementation_modified): equal-weight MSE on three VGG19 maps

# The seed's content network is ``keras.applications.VGG19(include_top=False).layers[i] for i in (10, 5, 8)``.
# Keras' layer list starts with the InputLayer and has no separate ReLU layers (its convs apply the ReLU), so the
# indices name block3_conv4, block2_conv2 and block3_conv2, after their ReLU. torchvision's ``vgg19().features``
# follows every conv with its own ReLU module; the same post-ReLU maps are the outputs of modules 17, 8 and 13:
#   Keras  1 block1_conv1  2 block1_conv2  3 pool  4 block2_conv1  5 block2_conv2  6 pool  7 block3_conv1 ...
#   torch  0,1 conv1_1     2,3 conv1_2     4 pool  5,6 conv2_1     7,8 conv2_2     9 pool 10,11 conv3_1 ...
KERAS_VGG19_TO_TORCHVISION = {
    5: 8,
    8: 13,
    10: 17,
}  # block2_conv2, block3_conv2, block3_conv4 (post-ReLU)
SEED_CONTENT_LAYERS = (
    8,
    13,
    17,
)  # the seed's three maps as torchvision `features` indices (shallow to deep)


def multi_layer_content(
    sr: torch.Tensor,
    gt: torch.Tensor,
    vgg: VGGFeatures,
    *,
    layer_weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """l_content = sum_k w_k mean (phi_k(gt) - phi_k(sr))^2 over the maps of ``vgg`` (built with ``layers=[...]``).

    The seed compiles Keras ``mse`` on each of the three feature outputs with loss weight 1: an equal-weight sum of
    per-layer means (w_k = 1; no 1/12.75 rescale as in Ledig). The ground-truth features carry no gradient.
    """
    with torch.no_grad():
        f_gt = vgg(gt)
    f_sr = vgg(sr)
    if not isinstance(f_sr, list):
        raise ValueError("multi_layer_content needs VGGFeatures(layers=[...]) (a list of maps)")
    w = [1.0] * len(f_sr) if layer_weights is None else list(layer_weights)
    if len(w) != len(f_sr):
        raise ValueError(f"{len(w)} layer weights for {len(f_sr)} feature maps")
    return sum(wk * F.mse_loss(a, b) for wk, a, b in zip(w, f_sr, f_gt))


# ---------------------------------------------------------------------------------------------------------------------
# Real-ESRGAN perceptual loss (BasicSR PerceptualLoss, train_realesrgan_x4plus.yml)

# VGG19 ``features`` indices of the convs *before* their ReLU (Real-ESRGAN uses pre-activation maps, ESRGAN §3.3:
# post-ReLU maps are sparse and give weaker supervision), and the published layer weights.
VGG19_PRE_RELU = {"conv1_2": 2, "conv2_2": 7, "conv3_4": 16, "conv4_4": 25, "conv5_4": 34}
REALESRGAN_LAYER_WEIGHTS = {
    "conv1_2": 0.1,
    "conv2_2": 0.1,
    "conv3_4": 1.0,
    "conv4_4": 1.0,
    "conv5_4": 1.0,
}


def perceptual_l1(
    sr: torch.Tensor, gt: torch.Tensor, vgg: VGGFeatures, *, layer_weights: Sequence[float]
) -> torch.Tensor:
    """l_percep = sum_k w_k mean |phi_k(sr) - phi_k(gt)| over the maps of ``vgg`` (built with ``layers=[...]``).

    BasicSR's PerceptualLoss with ``criterion: l1``, ``use_input_norm: true`` (ImageNet mean/std, which
    :class:`VGGFeatures` applies), ``perceptual_weight: 1``, ``style_weight: 0``. Real-ESRGAN: ``layers`` =
    ``VGG19_PRE_RELU`` values and ``layer_weights`` = ``REALESRGAN_LAYER_WEIGHTS`` values (0.1, 0.1, 1, 1, 1).
    The ground-truth features carry no gradient.
    """
    with torch.no_grad():
        f_gt = vgg(gt)
    f_sr = vgg(sr)
    if not isinstance(f_sr, list):
        raise ValueError("perceptual_l1 needs VGGFeatures(layers=[...]) (a list of maps)")
    if len(layer_weights) != len(f_sr):
        raise ValueError(f"{len(layer_weights)} layer weights for {len(f_sr)} feature maps")
    return sum(wk * F.l1_loss(a, b) for wk, a, b in zip(layer_weights, f_sr, f_gt))


# ---------------------------------------------------------------------------------------------------------------------
# CUT (Park et al., ECCV 2020): LSGAN and PatchNCE


def lsgan_g_loss(fake_pred: torch.Tensor) -> torch.Tensor:
    """l_G = mean (D(G(x)) - 1)^2 (LSGAN, Mao et al. 2017; CUT's ``gan_mode lsgan``), over every PatchGAN output."""
    return F.mse_loss(fake_pred, torch.ones_like(fake_pred))


def lsgan_d_loss(
    real_pred: torch.Tensor, fake_pred: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """D minimises mean (D(y) - 1)^2 and mean D(G(x))^2; returned as (l_d_real, l_d_fake). CUT averages them."""
    return F.mse_loss(real_pred, torch.ones_like(real_pred)), F.mse_loss(
        fake_pred, torch.zeros_like(fake_pred)
    )


def patch_nce(feat_q: torch.Tensor, feat_k: torch.Tensor, *, tau: float = 0.07) -> torch.Tensor:
    """PatchNCE (CUT eq. 2-3): InfoNCE over patches, negatives from the same image.

    For image b and patch i, with unit-norm features (query q from G(x), key k from x at the same location)::

        logits_i = [q_i . k_i, q_i . k_1, ..., q_i . k_P] / tau,   the (i, i) negative set to -10 / tau
        l = mean over (b, i) of cross-entropy(logits_i, target 0) = -log softmax(logits_i)[0]

    The masked diagonal repeats the positive, so CUT fills it with -10 before dividing by tau (e^-10/tau ~ 0).
    The keys are detached. Negatives from other images of the batch are not used (CUT and FastCUT default).

    Args:
        feat_q: ``(B, P, C)`` query features, L2-normalised (:class:`srlib.models.cut.PatchSampleF`).
        feat_k: ``(B, P, C)`` key features at the same P locations.
        tau: temperature (``nce_T`` 0.07).

    Returns:
        The mean loss over the B * P patches (a scalar).
    """
    b, p, _ = feat_q.shape
    feat_k = feat_k.detach()
    l_pos = (feat_q * feat_k).sum(-1, keepdim=True)  # (B, P, 1)
    l_neg = torch.bmm(feat_q, feat_k.transpose(1, 2))  # (B, P, P)
    diagonal = torch.eye(p, dtype=torch.bool, device=feat_q.device)[None]
    l_neg = l_neg.masked_fill(diagonal, -10.0)
    logits = torch.cat((l_pos, l_neg), dim=2).flatten(0, 1) / tau  # (B*P, 1+P)
    return F.cross_entropy(logits, torch.zeros(b * p, dtype=torch.long, device=feat_q.device))


# ---------------------------------------------------------------------------------------------------------------------
# Diverse hallucination SR (Abid, Hedhli, Gagne): R1 and the diversity term of DSGAN


def r1_penalty(real_logits: torch.Tensor, real_inputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """R1 = E[ ||grad_x D(x)||^2 ] on real data (Mescheder et al. 2018, eq. 9, without its gamma / 2).

    ``real_logits`` must come from ``real_inputs`` with ``requires_grad`` set; the gradient of the logits' sum (each
    image's own logits: D is per image) is taken w.r.t. every input (all scales of an MSG pyramid, the conditioning
    map excluded), squared, summed per image and averaged over the batch. ``create_graph`` keeps it differentiable
    for D's update.
    """
    grads = torch.autograd.grad(real_logits.sum(), list(real_inputs), create_graph=True)
    return sum(g.pow(2).flatten(1).sum(dim=1) for g in grads).mean()


def diversity_term(
    out_1: torch.Tensor, out_2: torch.Tensor, z_1: torch.Tensor, z_2: torch.Tensor, *, tau: float
):
    """L_z = E[min(d(G(x, z1), G(x, z2)) / ||z1 - z2||, tau)] (DSGAN, Yang et al. 2019, eq. 2), per image, averaged.

    ``d`` and the norm are mean absolute differences (DSGAN's L1 choice, normalised by the element counts so the
    ratio does not depend on the image or noise size). The generator *maximises* it (its loss carries ``-alpha L_z``);
    ``tau`` bounds it so the term stops pushing once outputs differ enough (DSGAN's stability bound).
    """
    d_out = (out_1 - out_2).abs().flatten(1).mean(dim=1)
    d_z = (z_1 - z_2).abs().flatten(1).mean(dim=1).clamp_min(1e-8)
    return torch.clamp(d_out / d_z, max=tau).mean()
