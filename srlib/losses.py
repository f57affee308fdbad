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


class VGGFeatures(nn.Module):
    """Frozen torchvision VGG19 ``features`` trunk, returning the maps after the requested layers.

    Args:
        layer: one ``features`` index (``'features.35'`` = conv5_4 after ReLU, SRGAN's VGG54); or
        layers: several indices (e.g. Real-ESRGAN's pre-ReLU conv1_2..conv5_4 = 2, 7, 16, 25, 34); ``forward`` then
            returns a list in that order. Use one of the two.
        weights_mode: ``pretrained | auto | random`` (see :mod:`srlib.weights`); ``self.status`` records the outcome.
        normalize: apply ImageNet mean/std to [0, 1] inputs (torchvision weights were trained that way).
    """

    def __init__(
        self,
        *,
        layer: str | int | None = None,
        layers: Sequence[str | int] | None = None,
        weights_mode: str = "auto",
        normalize: bool = True,
    ):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        if (layer is None) == (layers is None):
            raise ValueError("VGGFeatures: give exactly one of `layer` or `layers`")
        self.single = layer is not None
        self.indices = [int(str(x).split(".")[-1]) for x in ([layer] if self.single else layers)]
        # Only torchvision's VGG19 `features` trunk is built: the 120 M-parameter classifier is never used.
        features = make_layers(cfgs["E"], batch_norm=False)
        state, self.status = weights.load_state_dict("vgg19", weights_mode)
        if state is not None:
            features.load_state_dict({k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")})
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

    def forward(self, x):  # (B, 3, H, W) in [0, 1] -> (B, 512, H/16, W/16) for features.35, or a list
        if self.normalize:
            x = (x - self.mean) / self.std
        wanted, outs = set(self.indices), {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in wanted:
                # ReLUs run in place: clone a pre-ReLU map so the next layer does not overwrite it
                outs[i] = x.clone() if i + 1 < len(self.features) else x
        return outs[self.indices[0]] if self.single else [outs[i] for i in self.indices]


def perceptual_vgg(sr: torch.Tensor, gt: torch.Tensor, vgg: VGGFeatures, *, rescale: float = 1 / 12.75):
    """l_VGG/i,j = mean (rescale * (phi(gt) - phi(sr)))^2 (Ledig eq. 5).

    The paper rescales the VGG feature maps by 1/12.75 "to obtain VGG losses of a scale that is comparable to the
    MSE loss"; the ground-truth features carry no gradient.
    """
    with torch.no_grad():
        f_gt = vgg(gt)
    return F.mse_loss(vgg(sr) * rescale, f_gt * rescale)


def gan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """l_Gen = -log D(G(lq)) (Ledig eq. 6, the non-saturating form), as BCE-with-logits against 'real'."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def gan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D minimises -log D(gt) - log(1 - D(G(lq))); returned as the two terms (l_d_real, l_d_fake)."""
    l_real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    l_fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return l_real, l_fake
