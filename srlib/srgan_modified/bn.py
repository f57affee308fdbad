"""Batch size 1 and BN: which statistics at inference? (notebook 20's check; none of it is in the seed)

Training with one crop per batch normalises every crop with its own statistics; the seed's inference (Keras
``predict``) uses the moving averages, which with Keras momentum 0.5 are essentially those of the last two training
crops. :func:`bn_inference_check` scores the same weights three ways: the seed's moving statistics, statistics
re-estimated over many training crops (:func:`recalibrate_bn`), and per-image statistics (:func:`per_image_bn`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from srlib.data.patches import PairedPatches


@contextmanager
def per_image_bn(model: nn.Module) -> Iterator[nn.Module]:
    """BN layers normalise each input with its own statistics, as in batch-1 training; running stats untouched.

    Not the seed's inference (Keras ``predict`` uses the moving averages). Feed one image per call.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [(m.training, m.momentum) for m in bns]
    for m in bns:
        m.train()
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield model
    finally:
        for m, (training, momentum) in zip(bns, saved):
            m.train(training)
            m.momentum = momentum


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module, data: PairedPatches, *, batches: int = 200, device="cpu"
) -> nn.Module:
    """A copy of ``model`` whose BN running statistics are the plain average over ``batches`` training batches.

    Not in the seed. With batch 1 and Keras momentum 0.5 the moving statistics are essentially those of the last two
    training crops; a cumulative average (``momentum=None``) estimates those of the training distribution instead.
    The batches are drawn far from the training steps (``data.batch(10**7 + i)``).
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
    return model.eval()


def bn_inference_check(
    model: nn.Module,
    data: PairedPatches,
    val_fn: Callable[[nn.Module], dict[str, float]],
    *,
    batches: int = 200,
    device="cpu",
) -> dict[str, dict[str, float]]:
    """``val_fn`` under three BN inference modes: the seed's moving statistics, recalibrated, per-image statistics."""
    model = model.eval()
    with torch.no_grad():
        out = {"moving statistics (seed)": val_fn(model)}
        out[f"recalibrated over {batches} crops"] = val_fn(
            recalibrate_bn(model, data, batches=batches, device=device)
        )
        with per_image_bn(model):
            out["per-image statistics"] = val_fn(model)
    return out
