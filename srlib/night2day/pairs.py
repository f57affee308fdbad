"""Night→day training data: a split decoded once into uint8 stacks, and the batch adapters of the trainers.

* :class:`PairedCrops` -- fixed ``(lq, gt)`` pairs as Real-ESRGAN batches (aligned random crops, flips,
  transposes): M1's SR on night pairs, M2's SR on day pairs, the paired M3 on (night LR, day HR), and the SR
  initialisation of a random-init unpaired M3;
* :class:`UnpairedCrossScale` -- the unpaired M3's draws: night LR from some pairs, day HR (with its LR) from others.

CUT's own unpaired sets are :class:`srlib.cut.data.UnpairedCrops`. Every ``batch(step)`` is a pure function of
``(seed, step)`` (:func:`srlib.training.step_generator`), so a resumed run sees the batches an uninterrupted one saw.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from srlib import training
from srlib.data.patches import augment
from srlib.night2day import data as night2day_data

log = logging.getLogger("srlib.train_night2day")


def stack_split(
    pairs: Sequence[night2day_data.Night2DaySample],
    fields: Sequence[str],
    *,
    progress: bool = False,
) -> dict[str, Tensor]:
    """Decode a split once into ``uint8`` tensors ``{field: (N, 3, H, W)}`` (16,088 night2day HR pairs: ~6 GB)."""
    out: dict[str, list[Tensor]] = {f: [] for f in fields}
    for i in tqdm(range(len(pairs)), desc="decode", disable=not progress):
        sample = pairs[i]
        for f in fields:
            out[f].append((getattr(sample, f) * 255).round().to(torch.uint8))
    log.info("decoded %d pairs (%s)", len(pairs), ", ".join(fields))
    return {f: torch.stack(v) for f, v in out.items()}


def epochs_to_iters(epochs: int, n_train: int, batch_size: int) -> tuple[int, int]:
    """``(iters, steps_per_epoch)`` for ``epochs`` passes over ``n_train`` pairs (the last batch of an epoch full)."""
    if epochs < 1 or n_train < 1 or batch_size < 1:
        raise ValueError(
            f"epochs, n_train and batch_size must be >= 1, got {epochs}, {n_train}, {batch_size}"
        )
    steps = -(-n_train // batch_size)
    return epochs * steps, steps


def _u8_to_float(x: Tensor, device) -> Tensor:
    return x.to(device).float() / 255


class PairedCrops:
    """Fixed ``(lq, gt)`` pairs as Real-ESRGAN training batches: random aligned crops, flips and transposes
    (:func:`srlib.data.patches.augment`).

    For :func:`srlib.realesrgan.train.fit_realesrgan` (it needs ``batch(step, device)``, ``seed``). ``batch(step)``
    is a pure function of ``(seed, step)``: a resumed run sees the same batches.

    Args:
        lq: ``(N, 3, h, w)`` uint8 (e.g. night LR 64²).
        gt: ``(N, 3, scale*h, scale*w)`` uint8 (night HR for M1's SR, day HR for M2's SR and the paired M3).
        gt_size: HR crop side (256 = the whole night2day image).
        batch_size: pairs per batch.
        seed: base seed.
    """

    def __init__(
        self,
        lq: Tensor,
        gt: Tensor,
        *,
        gt_size: int,
        batch_size: int,
        seed: int = 0,
        scale: int = 4,
    ):
        if lq.dtype != torch.uint8 or gt.dtype != torch.uint8:
            raise TypeError("PairedCrops stores uint8 images (8-bit grid)")
        if len(lq) != len(gt) or len(lq) == 0:
            raise ValueError(
                f"need the same non-zero number of lq and gt images, got {len(lq)} and {len(gt)}"
            )
        if tuple(gt.shape[-2:]) != (lq.shape[-2] * scale, lq.shape[-1] * scale):
            raise ValueError(
                f"gt {tuple(gt.shape[-2:])} is not x{scale} of lq {tuple(lq.shape[-2:])}"
            )
        if gt_size % scale or gt_size > min(gt.shape[-2:]):
            raise ValueError(
                f"gt_size {gt_size} must be a multiple of {scale} and at most {min(gt.shape[-2:])}"
            )
        self.lq, self.gt = lq, gt
        self.gt_size, self.batch_size, self.seed, self.scale = gt_size, batch_size, seed, scale

    def __len__(self) -> int:
        return len(self.lq)

    def batch(self, step: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        g = training.step_generator(self.seed, step)
        s, p = self.scale, self.gt_size // self.scale
        h, w = self.lq.shape[-2:]
        lqs, gts = [], []
        for i in torch.randint(len(self), (self.batch_size,), generator=g).tolist():
            top, left = (
                int(torch.randint(h - p + 1, (1,), generator=g)),
                int(torch.randint(w - p + 1, (1,), generator=g)),
            )
            lq = self.lq[i, :, top : top + p, left : left + p]
            gt = self.gt[i, :, top * s : (top + p) * s, left * s : (left + p) * s]
            lq, gt = augment(lq, gt, generator=g)  # BasicSR's hflip / vflip / transpose
            lqs.append(lq)
            gts.append(gt)
        return _u8_to_float(torch.stack(lqs), device), _u8_to_float(torch.stack(gts), device)


class UnpairedCrossScale:
    """Unpaired M3 batches: night LR from some pairs, day HR (and its LR) from *other*, independently drawn pairs.

    ``batch(step) -> (night_lq, day_hr, day_lq)``, each image flipped horizontally w.p. 0.5 (CUT's only
    augmentation); a pure function of ``(seed, step)``. The pairing of the dataset is deliberately not used.
    """

    def __init__(
        self, night_lq: Tensor, day_hr: Tensor, day_lq: Tensor, *, batch_size: int, seed: int = 0
    ):
        if not (len(night_lq) == len(day_hr) == len(day_lq)) or len(night_lq) == 0:
            raise ValueError(
                "night_lq, day_hr and day_lq must hold the same non-zero number of images"
            )
        self.night_lq, self.day_hr, self.day_lq = night_lq, day_hr, day_lq
        self.batch_size, self.seed = batch_size, seed

    def __len__(self) -> int:
        return len(self.night_lq)

    def batch(self, step: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, Tensor]:
        g = training.step_generator(self.seed, step)
        n = len(self.night_lq)
        xs, ys, ys_lq = [], [], []
        for _ in range(self.batch_size):
            i, j = (
                int(torch.randint(n, (1,), generator=g)),
                int(torch.randint(n, (1,), generator=g)),
            )
            x, y, y_lq = self.night_lq[i], self.day_hr[j], self.day_lq[j]
            if torch.rand(1, generator=g) < 0.5:
                x = x.flip(-1)
            if torch.rand(1, generator=g) < 0.5:
                y, y_lq = y.flip(-1), y_lq.flip(-1)
            xs.append(x)
            ys.append(y)
            ys_lq.append(y_lq)
        return tuple(_u8_to_float(torch.stack(t), device) for t in (xs, ys, ys_lq))
