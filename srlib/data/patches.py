"""Paired random-crop training data: HR crops and their LR versions, a pure function of ``(seed, step)``.

:class:`PairedPatches` samples batch ``step`` from a generator seeded with ``(seed, step)`` -- which is what makes a
resumed run repeat the uninterrupted one exactly. :func:`augment` applies the same random flips / 90° rotation to
every tensor of a pair (BasicSR's ``augment``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from srlib import training
from srlib.data import degradations

# -------------------------------------------------------------------------------------------- training pairs


def augment(*imgs: torch.Tensor, generator: torch.Generator) -> list[torch.Tensor]:
    """Same random hflip / vflip / 90-degree rotation for every tensor (BasicSR ``augment``)."""
    hflip, vflip, rot = (torch.rand(3, generator=generator) < 0.5).tolist()
    out = []
    for x in imgs:
        if hflip:
            x = x.flip(-1)
        if vflip:
            x = x.flip(-2)
        if rot:
            x = x.transpose(-1, -2)
        out.append(x)
    return out


def gray_std(img: torch.Tensor) -> float:
    return float((0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]).std())


class PairedPatches:
    """Random HR crops and their degraded LR versions, addressed by training step.

    Args:
        images: HR images ``(3, H, W)`` in [0, 1] (kept in memory as uint8).
        scale: SR factor.
        gt_size: HR crop side (96 in SRGAN; must be divisible by ``scale``).
        batch_size: crops per step.
        degrade: ``gt_batch -> lq_batch``; default MATLAB bicubic downscale by ``scale``.
        flat_threshold: crops whose grey-level std is below this are redrawn (up to 10 times); the photos have
            large flat areas (sky, bokeh) that teach an SR network nothing.
        use_augment: random flips and transposition.
        seed: base seed; batch ``step`` uses a generator seeded with ``(seed, step)``.
    """

    def __init__(
        self,
        images: Sequence[torch.Tensor],
        *,
        scale: int,
        gt_size: int,
        batch_size: int,
        degrade: Callable[[torch.Tensor], torch.Tensor] | None = None,
        flat_threshold: float = 0.0,
        use_augment: bool = True,
        seed: int = 0,
    ):
        if gt_size % scale:
            raise ValueError(f"gt_size {gt_size} must be divisible by scale {scale}")
        self.images = [(img.clamp(0, 1) * 255).round().to(torch.uint8) for img in images]
        small = [i for i, im in enumerate(self.images) if min(im.shape[-2:]) < gt_size]
        if small:
            raise ValueError(f"images {small} are smaller than gt_size={gt_size}")
        if not self.images:
            raise ValueError("PairedPatches needs at least one image")
        self.scale, self.gt_size, self.batch_size = scale, gt_size, batch_size
        self.degrade = degrade or (lambda gt: degradations.imresize(gt, 1 / scale))
        self.flat_threshold, self.use_augment, self.seed = flat_threshold, use_augment, seed

    def generator(self, step: int) -> torch.Generator:
        return training.step_generator(self.seed, step)

    def _crop(self, g: torch.Generator) -> torch.Tensor:
        for _ in range(10):
            img = self.images[int(torch.randint(len(self.images), (1,), generator=g))]
            h, w = img.shape[-2:]
            top = int(torch.randint(h - self.gt_size + 1, (1,), generator=g))
            left = int(torch.randint(w - self.gt_size + 1, (1,), generator=g))
            crop = img[:, top : top + self.gt_size, left : left + self.gt_size].float() / 255.0
            if gray_std(crop) >= self.flat_threshold:
                break
        if self.use_augment:
            (crop,) = augment(crop, generator=g)
        return crop

    def batch(
        self, step: int, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lq, gt)`` for training step ``step``: ``(B, 3, s, s)`` and ``(B, 3, S, S)``, S = scale * s, on ``device``.

        The crops are drawn on the CPU (the same crops on every device: the generator is the CPU's); the HR batch
        then moves to ``device`` and is degraded there, so on a GPU the bicubic downscale (the costly part) runs on
        the GPU. ``device`` None or the CPU: everything on the CPU, as before.
        """
        g = self.generator(step)
        gt = torch.stack([self._crop(g) for _ in range(self.batch_size)])
        if device is not None:
            gt = gt.to(device)
        lq = degradations.quantize(
            self.degrade(gt).clamp(0, 1)
        )  # LR stored as 8-bit, as in the papers
        return lq, gt
