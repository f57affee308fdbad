"""CUT's training data: unpaired image sets sampled as CUT's ``unaligned`` dataset does (resize, random crop, flip).

Every ``batch(step)`` is a pure function of ``(seed, step)`` (:func:`srlib.training.step_generator`), so a resumed
:func:`srlib.cut.train.fit_cut` sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from srlib import training


class UnpairedCrops:
    """Unpaired x / y training images addressed by step (CUT's ``unaligned`` dataset, ``resize_and_crop``).

    Per step and domain: a random image, resized to ``load_size`` x ``load_size`` (bicubic with antialiasing, close
    to PIL's bicubic that CUT uses), a random ``crop_size`` crop, a horizontal flip w.p. 0.5; mapped to [-1, 1].
    ``batch(step)`` is a pure function of ``(seed, step)``.
    """

    def __init__(
        self,
        images_x,
        images_y,
        *,
        load_size: int = 286,
        crop_size: int = 256,
        batch_size: int = 1,
        seed: int = 0,
    ):
        if not images_x or not images_y:
            raise ValueError("UnpairedCrops needs images in both domains")
        if crop_size > load_size:
            raise ValueError("crop_size must be <= load_size")
        self.images_x = [self._u8(i) for i in images_x]
        self.images_y = [self._u8(i) for i in images_y]
        self.load_size, self.crop_size, self.batch_size, self.seed = (
            load_size,
            crop_size,
            batch_size,
            seed,
        )

    @staticmethod
    def _u8(img: torch.Tensor) -> torch.Tensor:
        """Images are kept as uint8: float [0, 1] tensors are rounded, uint8 ones kept as they are."""
        return img if img.dtype == torch.uint8 else (img.clamp(0, 1) * 255).round().to(torch.uint8)

    def generator(self, step: int) -> torch.Generator:
        return training.step_generator(self.seed, step)

    def _one(self, images, g: torch.Generator) -> torch.Tensor:
        img = images[int(torch.randint(len(images), (1,), generator=g))].float()[None] / 255
        if img.shape[-2:] != (self.load_size, self.load_size):
            img = F.interpolate(
                img,
                size=(self.load_size, self.load_size),
                mode="bicubic",
                antialias=True,
                align_corners=False,
            ).clamp(0, 1)
        top, left = (
            int(torch.randint(self.load_size - self.crop_size + 1, (1,), generator=g))
            for _ in range(2)
        )
        img = img[0, :, top : top + self.crop_size, left : left + self.crop_size]
        if torch.rand(1, generator=g) < 0.5:
            img = img.flip(-1)
        return img * 2 - 1

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.generator(step)
        x = torch.stack([self._one(self.images_x, g) for _ in range(self.batch_size)])
        y = torch.stack([self._one(self.images_y, g) for _ in range(self.batch_size)])
        return x, y
