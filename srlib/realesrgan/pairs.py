"""Real-ESRGAN training pairs: GT crops degraded on the fly, one paired crop per batch, and the training-pair pool.

Wang et al., ICCV-W 2021, §3; ``realesrgan/data/realesrgan_dataset.py`` (GT preparation) and
``realesrgan/models/realesrgan_model.py`` (``feed_data``: paired crop, ``_dequeue_and_enqueue``). The degradation
itself is :func:`srlib.data.degradations_realesrgan.degrade`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from srlib import training
from srlib.data.degradations_realesrgan import RealESRGANDegradationConfig, degrade


def paired_random_crop(
    lq: Tensor, gt: Tensor, gt_size: int, scale: int, *, generator: torch.Generator
):
    """One random crop position for the whole batch (BasicSR ``paired_random_crop``): ``(lq, gt)`` patches."""
    lq_size = gt_size // scale
    h, w = lq.shape[-2:]
    if min(h, w) < lq_size:
        raise ValueError(f"lq {h}x{w} is smaller than the patch {lq_size}")
    top = int(torch.randint(h - lq_size + 1, (1,), generator=generator, device=generator.device))
    left = int(torch.randint(w - lq_size + 1, (1,), generator=generator, device=generator.device))
    lq = lq[..., top : top + lq_size, left : left + lq_size]
    gt = gt[..., top * scale : top * scale + gt_size, left * scale : left * scale + gt_size]
    return lq, gt


class TrainingPairPool:
    """Real-ESRGAN's training-pair pool (``_dequeue_and_enqueue``, ``queue_size`` 180).

    One batch shares its resize / noise-type draws; the pool mixes batches so that a training batch holds several
    degradation settings. Until the pool is full, batches are stored and passed through; then each call shuffles
    the pool, returns its first B pairs and stores the new batch in their place. Both images are on the 8-bit grid,
    so the pool keeps ``uint8`` (exact), which also keeps checkpoints small. Save it with :meth:`state_dict`.
    """

    def __init__(self, size: int = 180):
        self.size, self.ptr = size, 0
        self.lq: Tensor | None = None
        self.gt: Tensor | None = None

    @staticmethod
    def _u8(x: Tensor) -> Tensor:
        return (x.clamp(0, 1) * 255).round().to(torch.uint8)

    def __call__(
        self, lq: Tensor, gt: Tensor, *, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        b = lq.shape[0]
        if self.size % b:
            raise ValueError(f"pool size {self.size} must be divisible by the batch size {b}")
        if self.lq is None:
            self.lq = torch.zeros((self.size, *lq.shape[1:]), dtype=torch.uint8, device=lq.device)
            self.gt = torch.zeros((self.size, *gt.shape[1:]), dtype=torch.uint8, device=gt.device)
        if self.ptr < self.size:  # filling: store and pass the batch through
            self.lq[self.ptr : self.ptr + b] = self._u8(lq)
            self.gt[self.ptr : self.ptr + b] = self._u8(gt)
            self.ptr += b
            return lq, gt
        idx = torch.randperm(self.size, generator=generator, device=generator.device).to(
            self.lq.device
        )
        self.lq, self.gt = self.lq[idx], self.gt[idx]
        lq_out = self.lq[:b].to(lq.dtype) / 255
        gt_out = self.gt[:b].to(gt.dtype) / 255
        self.lq[:b], self.gt[:b] = self._u8(lq), self._u8(gt)
        return lq_out, gt_out

    def state_dict(self) -> dict:
        return {"size": self.size, "ptr": self.ptr, "lq": self.lq, "gt": self.gt}

    def load_state_dict(self, state: dict) -> None:
        self.size, self.ptr, self.lq, self.gt = (
            state["size"],
            state["ptr"],
            state["lq"],
            state["gt"],
        )


class RealESRGANPairs:
    """Degraded training pairs addressed by step: ``batch(step)`` is a pure function of ``(seed, step)``.

    Per image (RealESRGANDataset): a random source image, horizontal flip w.p. 0.5, reflect-101 padding up to /
    random crop to ``crop_pad_size``; then :func:`degrade` on the batch and one :func:`paired_random_crop` of
    ``gt_size``. The pool (:class:`TrainingPairPool`) is state and lives in the training loop.

    Args:
        images: GT images ``(3, H, W)`` in [0, 1] (kept as uint8).
        cfg: degradation settings (``crop_pad_size``, ``gt_size``, ``scale``, ...).
        batch_size: images per step (12 per GPU in the paper).
        seed: base seed.
    """

    def __init__(
        self,
        images: Sequence[Tensor],
        *,
        cfg: RealESRGANDegradationConfig,
        batch_size: int,
        seed: int = 0,
    ):
        if not images:
            raise ValueError("RealESRGANPairs needs at least one image")
        if (
            cfg.gt_size % cfg.scale
            or cfg.crop_pad_size % cfg.scale
            or cfg.gt_size > cfg.crop_pad_size
        ):
            raise ValueError(
                "gt_size and crop_pad_size must be divisible by scale, and gt_size <= crop_pad_size"
            )
        self.images = [(img.clamp(0, 1) * 255).round().to(torch.uint8) for img in images]
        self.cfg, self.batch_size, self.seed = cfg, batch_size, seed

    def generator(self, step: int, device: torch.device | str = "cpu") -> torch.Generator:
        return training.step_generator(self.seed, step, device=device)

    def _gt_crop(self, g: torch.Generator) -> Tensor:
        size = self.cfg.crop_pad_size
        img = (
            self.images[
                int(torch.randint(len(self.images), (1,), generator=g, device=g.device))
            ].float()
            / 255
        )
        if self.cfg.use_hflip and torch.rand(1, generator=g, device=g.device).item() < 0.5:
            img = img.flip(-1)
        h, w = img.shape[-2:]
        if (
            h < size or w < size
        ):  # cv2.BORDER_REFLECT_101 == torch "reflect" (edge pixel not repeated)
            ph, pw = max(0, size - h), max(0, size - w)
            while ph or pw:  # torch reflect needs pad < side: pad in steps for very small images
                sh, sw = min(ph, img.shape[-2] - 1), min(pw, img.shape[-1] - 1)
                img = F.pad(img[None], (0, sw, 0, sh), mode="reflect")[0]
                ph, pw = ph - sh, pw - sw
        h, w = img.shape[-2:]
        top = int(torch.randint(h - size + 1, (1,), generator=g, device=g.device))
        left = int(torch.randint(w - size + 1, (1,), generator=g, device=g.device))
        return img[:, top : top + size, left : left + size]

    def batch(self, step: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        """``(lq, gt)``: ``(B, 3, gt_size/scale, ...)`` and ``(B, 3, gt_size, gt_size)`` on ``device``."""
        g = self.generator(step, device)
        gt = torch.stack([self._gt_crop(g) for _ in range(self.batch_size)]).to(device)
        lq = degrade(gt, self.cfg, generator=g)
        return paired_random_crop(lq, gt, self.cfg.gt_size, self.cfg.scale, generator=g)
