"""SRGAN's content-loss network (``percep_net``): VGG54 as in the paper, or a labelled FID-Inception substitute.

``vgg19`` is Ledig et al.'s VGG54 (torchvision VGG19 ``features.35``, rescaled by 1/12.75; eq. 5). Where the VGG19
file is absent, ``vgg_weights: auto`` falls back to a random VGG whose conv5_4 features are dead (l_g_percep ~ 1e-17:
no content signal at all). ``inception`` is a substitute that IS obtainable offline: the FID Inception (the TF
2015-12-05 graph; pytorch-fid's official file, or srlib's conversion of the same graph where that is absent) up to
Mixed_5d, on the crop itself (:class:`srlib.losses.InceptionFeatures`, :func:`srlib.losses.perceptual_inception`).
It is not the paper's loss: the metrics files, the figure titles and the tables of the SRGAN stages carry
:data:`SUBSTITUTE_LABEL`, and the weights block names the network used (``fid_inception``, not ``vgg19``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from srlib import losses

if TYPE_CHECKING:
    from srlib.srgan.config import SRGANTrainConfig

INCEPTION_LAYER = "Mixed_5d"
SUBSTITUTE_LABEL = (
    f"perceptual loss: FID-Inception {INCEPTION_LAYER} (substitute for VGG54, not the paper's)"
)
# percep_net -> its key in the weights block
WEIGHT_KEYS = {"vgg19": "vgg19", "inception": "fid_inception"}

Features = losses.VGGFeatures | losses.InceptionFeatures


def build(cfg: SRGANTrainConfig) -> Features:
    """The frozen feature network of the content loss; ``status`` says whether its weights were found."""
    if cfg.percep_net == "inception":
        return losses.InceptionFeatures(layer=INCEPTION_LAYER, weights_mode=cfg.inception_weights)
    return losses.VGGFeatures(layer=cfg.vgg_layer, weights_mode=cfg.vgg_weights)


def name(net: Features) -> str:
    """``vgg19`` or ``inception``: what ``net`` is."""
    return "inception" if isinstance(net, losses.InceptionFeatures) else "vgg19"


def loss(sr, gt, net: Features, *, rescale: float):
    """The content loss of ``net``: l_VGG (Ledig eq. 5) or l_Inc, the same MSE of rescaled features."""
    fn = losses.perceptual_inception if name(net) == "inception" else losses.perceptual_vgg
    return fn(sr, gt, net, rescale=rescale)


def rescale(cfg: SRGANTrainConfig) -> float:
    """The feature rescale of the configured network (VGG54: the paper's 1/12.75; Inception: measured, ours)."""
    return cfg.inception_rescale if cfg.percep_net == "inception" else cfg.vgg_rescale


def labels(percep: str | Features | None) -> list[str]:
    """The substitute's label for a network, or a ``percep_net`` (a config's or a file's ``meta``); none for VGG54."""
    percep_net = percep if percep is None or isinstance(percep, str) else name(percep)
    return [SUBSTITUTE_LABEL] if percep_net == "inception" else []


def weights(net: Features) -> dict:
    """The metrics file's weights block: the status of the network the content loss used, under its key."""
    return {WEIGHT_KEYS[name(net)]: net.status}


def record(cfg: SRGANTrainConfig) -> dict:
    """The metrics file's config entries for the content loss: network, layer, rescale."""
    layer = INCEPTION_LAYER if cfg.percep_net == "inception" else cfg.vgg_layer
    return {"percep_net": cfg.percep_net, "percep_layer": layer, "percep_rescale": rescale(cfg)}


def meta(net: Features) -> dict:
    """What ``srgan.pth`` records about its content loss, read back by ``srgan_evaluate``."""
    return {"percep_net": name(net)} | {k: v.as_dict() for k, v in weights(net).items()}


def meta_weights(meta: dict) -> dict:
    """The weights block of a generator file's ``meta`` (files before ``percep_net`` hold ``vgg19`` only)."""
    return {k: meta[k] for k in WEIGHT_KEYS.values() if k in meta}


def title_tag(percep_net: str | None) -> str:
    """A figure-title suffix: a second line naming the substitute (empty for VGG54)."""
    return "".join(f"\n{label}" for label in labels(percep_net))
