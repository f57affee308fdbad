"""Batch size 1 and BN: which statistics at inference? (notebook 20's check; none of it is in the seed but ``moving``)

Training with one crop per batch normalises every crop with its own statistics; the seed's inference (Keras
``predict``) uses the moving averages, which with Keras momentum 0.5 are essentially those of the last two training
crops. The two modes are the generator's ``bn_inference`` (:class:`srlib.models.srgan_modified.KerasBatchNorm2d`):
``moving`` (the seed) and ``per_image`` (each image, each tile, its own statistics: the training condition).

:func:`bn_inference_check` scores the same weights three ways (moving, re-estimated over many training crops by
:func:`recalibrate_bn`, per-image); :func:`with_other_mode` adds the other mode's numbers to a validation;
:func:`bn_offsets` measures, layer by layer, how far the moving statistics are from an image's own (the diagnosis).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from srlib.data.patches import PairedPatches
from srlib.models.srgan_modified import BN_INFERENCE, KerasBatchNorm2d, bn_statistics

# how each mode is named in tables, rows and legends
MODE_LABELS = {"moving": "moving statistics (the seed)", "per_image": "per-image statistics"}
LABEL_PREFIX = "BN INFERENCE:"


def inference_label(mode: str) -> str:
    """The caveat a run with ``mode`` statistics at inference carries (``per_image`` is not the seed's)."""
    if mode == "moving":
        return f"{LABEL_PREFIX} moving statistics (Keras predict), as the seed"
    return (
        f"{LABEL_PREFIX} per-image statistics (Keras training=True; each tile its own), NOT the seed's moving "
        "averages (Keras predict); the seed's are reported beside them as 'moving statistics (the seed)'"
    )


def other_mode(mode: str) -> str:
    """The BN inference mode that is not ``mode`` (``moving`` <-> ``per_image``)."""
    if mode not in BN_INFERENCE:
        raise ValueError(f"bn_inference must be one of {BN_INFERENCE}, got {mode!r}")
    return BN_INFERENCE[1 - BN_INFERENCE.index(mode)]


@contextmanager
def per_image_bn(model: nn.Module) -> Iterator[nn.Module]:
    """BN layers normalise each input (each sample of a batch) with its own statistics; running stats untouched.

    Not the seed's inference (Keras ``predict`` uses the moving averages). ``bn_statistics(model, "per_image")``.
    """
    with bn_statistics(model, "per_image"):
        yield model


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module, data: PairedPatches, *, batches: int = 200, device="cpu"
) -> nn.Module:
    """A copy of ``model`` whose BN running statistics are the plain average over ``batches`` training batches.

    Not in the seed. With batch 1 and Keras momentum 0.5 the moving statistics are essentially those of the last two
    training crops; a cumulative average (``momentum=None``) estimates those of the training distribution instead.
    The batches are drawn far from the training steps (``data.batch(10**7 + i)``). The copy infers with its
    (recalibrated) moving statistics.
    """
    model = copy.deepcopy(model).to(device)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for i in range(batches):
        model(data.batch(10**7 + i)[0].to(device))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    if hasattr(model, "bn_inference"):
        model.bn_inference = "moving"
    return model.eval()


def bn_inference_check(
    model: nn.Module,
    data: PairedPatches,
    val_fn: Callable[[nn.Module], dict[str, float]],
    *,
    batches: int = 200,
    device="cpu",
) -> dict[str, dict[str, float]]:
    """``val_fn`` under three BN inference modes: the seed's moving statistics, recalibrated, per-image statistics.

    Independent of ``model``'s own ``bn_inference`` (each mode is set explicitly and restored).
    """
    model = model.eval()
    with torch.no_grad():
        with bn_statistics(model, "moving"):
            out = {MODE_LABELS["moving"]: val_fn(model)}
        out[f"recalibrated over {batches} crops"] = val_fn(
            recalibrate_bn(model, data, batches=batches, device=device)
        )
        with bn_statistics(model, "per_image"):
            out[MODE_LABELS["per_image"]] = val_fn(model)
    return out


def with_other_mode(
    val_fn: Callable[[nn.Module], dict[str, float]],
) -> Callable[[nn.Module], dict[str, float]]:
    """``val_fn`` in the model's own BN mode, plus the same numbers in the other mode as ``<key>_<other mode>``.

    E.g. ``val_gain_db`` (per-image, the stage's mode) and ``val_gain_db_moving`` (the seed's) in one history row.
    """

    def run(g: nn.Module) -> dict[str, float]:
        vals = val_fn(g)
        other = other_mode(g.bn_inference)
        with bn_statistics(g, other):
            vals |= {f"{k}_{other}": v for k, v in val_fn(g).items()}
        return vals

    return run


@torch.no_grad()
def bn_offsets(model: nn.Module, lqs: Iterable[torch.Tensor], *, device="cpu") -> dict[str, float]:
    """Per BN layer (in forward order), the offset the moving statistics leave, averaged over images and channels.

    Each ``lq`` (``(3, h, w)`` or ``(1, 3, h, w)``) runs through ``model`` with the seed's moving statistics; at each
    BN layer, per channel, ``|mu_image - mu_moving| / sqrt(var_moving + eps)``: the mean the normalised map has where
    per-image statistics would give 0, in units of the moving standard deviation. Offsets that grow with depth
    compound (each layer's input already carries the previous layers' offsets).
    """
    model = model.eval()
    names = {m: n for n, m in model.named_modules() if isinstance(m, KerasBatchNorm2d)}
    sums: dict[str, float] = {}
    count = 0

    def hook(m, args):
        x = args[0].double()
        mu = x.mean((0, 2, 3))
        off = (mu - m.running_mean.double()).abs() / (m.running_var.double() + m.eps).sqrt()
        sums[names[m]] = sums.get(names[m], 0.0) + float(off.mean())

    handles = [m.register_forward_pre_hook(hook) for m in names]
    try:
        with bn_statistics(model, "moving"):
            for lq in lqs:
                model((lq if lq.ndim == 4 else lq[None]).to(device))
                count += 1
    finally:
        for h in handles:
            h.remove()
    return {k: v / max(count, 1) for k, v in sums.items()}
