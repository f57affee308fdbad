"""Unpaired data for pseudo-supervised SR: clean HR Y, degraded LR X from *other* images, and the degraded test set.

Here (``y_dir: manifest``, ``x_dir: manifest``, the PROXY): the training photos of ``data_prepare`` are split into
two disjoint halves by their position in the split (even -> Y, odd -> X), so no X image has a clean counterpart in Y.
X's LR crops are made by the Real-ESRGAN second-order pipeline (:mod:`srlib.data.degradations_realesrgan`, its
x4plus settings, random per crop from a stream the model never sees) and the HR crop is thrown away. The test set is
the benchmark split degraded by the same family, each image drawn once and seeded per image
(:func:`srlib.zssr.matrix.test_pairs`), so ground truth exists.

On a networked host (``paper``) X and Y are folders (``python -m srlib data fetch div2k_train_lr_wild`` and
``div2k_train_hr``): the real degraded LR of NTIRE 2018 track 4 ("realistic wild", x4, unknown degradation) at odd
positions and the clean DIV2K HR at even positions, so no scene is in both (the split is ours; the paper's is not known
here). The test HR is DIV2K valid; its LR is drawn from the hidden family as here (ours: the track's own wild LR is
not guaranteed pixel-aligned with its HR, which PSNR needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from srlib import evaluation, training
from srlib.config import ParamsError
from srlib.data import degradations, images, splits
from srlib.data import degradations_realesrgan as rd
from srlib.data.patches import PairedPatches

X_STREAM = 9_000  # the hidden pipeline's draws (apart from the crops' and the noise's)
Z_STREAM = 9_500  # G_{Y down -> X}'s noise maps
HIDDEN = "realesrgan"  # the degradation family of X and of the test set (srlib.zssr.matrix.degrade)


PARTS = {"even": slice(0, None, 2), "odd": slice(1, None, 2), "all": slice(None)}


def domain_files(cfg, manifest: dict) -> tuple[list[Path], list[Path]]:
    """``(y_files, x_files)``: ``y_part`` / ``x_part`` of the train split (``manifest``) or of each folder's sorted
    images (DIV2K's train HR and wild LR share scene numbers: even vs odd positions keep every scene on one side)."""

    def files(name: str) -> list[Path]:
        return (
            splits.split_files(manifest, "train")
            if getattr(cfg, name) == "manifest"
            else images.folder_images(cfg, name)
        )

    y = files("y_dir")[PARTS[cfg.y_part]]
    x = files("x_dir")[PARTS[cfg.x_part]]
    if not y or not x:
        raise ParamsError(
            f"{cfg.STAGE}: Y has {len(y)} and X {len(x)} images; both need at least one"
        )
    if set(y) & set(x):
        raise ParamsError(
            f"{cfg.STAGE}: X and Y share images ({len(set(y) & set(x))}): they must be unpaired"
        )
    return y, x


class UnpairedPatches:
    """Batch ``step`` of the unpaired stream: a pure function of ``(seed, step)``.

    * ``y``: ``(B, 3, S, S)`` clean HR crops of Y (flips, transposition), ``y_down`` their 8-bit bicubic x1/s;
    * ``x``: ``(B, 3, s, s)`` degraded LR crops of X -- synthesised from HR crops of X's images by the hidden
      pipeline (``synthesise_x``) or, for a real X folder, crops of the LR images themselves;
    * ``z``, ``z2``: ``(B, 1, s/4, s/4)`` N(0, 1) noise maps for G_{Y down -> X} (``z2``: the two-way cycle's).

    The Y crops are those of :class:`PairedPatches` with the same seed, so the paired baselines see the same HR.
    """

    def __init__(self, y_images: Sequence[torch.Tensor], x_images: Sequence[torch.Tensor], *, scale: int,
                 gt_size: int, batch_size: int, synthesise_x: bool, flat_threshold: float = 0.0, seed: int = 0):  # fmt: skip
        self.scale, self.gt_size, self.batch_size, self.seed = scale, gt_size, batch_size, seed
        self.synthesise_x = synthesise_x
        self.y = PairedPatches(y_images, scale=scale, gt_size=gt_size, batch_size=batch_size,
                               flat_threshold=flat_threshold, seed=seed)  # fmt: skip
        x_side = gt_size if synthesise_x else gt_size // scale
        self.x = PairedPatches(x_images, scale=1, gt_size=x_side, batch_size=batch_size,
                               flat_threshold=flat_threshold, seed=seed + 1)  # fmt: skip

    def batch(self, step: int, device=None) -> dict[str, torch.Tensor]:
        y_down, y = self.y.batch(step)
        gx = self.x.generator(step)
        x = torch.stack([self.x._crop(gx) for _ in range(self.batch_size)])
        if self.synthesise_x:
            g = training.step_generator(self.seed, step, stream=X_STREAM)
            x = degradations.quantize(
                rd.degrade(x, rd.RealESRGANDegradationConfig(scale=self.scale), generator=g)
            )
        gz = training.step_generator(self.seed, step, stream=Z_STREAM)
        side = self.gt_size // self.scale // 4
        z = torch.randn(2, self.batch_size, 1, side, side, generator=gz)
        out = {"y": y, "y_down": y_down, "x": x.clamp(0, 1), "z": z[0], "z2": z[1]}
        return out if device is None else {k: v.to(device) for k, v in out.items()}


def training_data(cfg, manifest: dict) -> tuple[UnpairedPatches, list[torch.Tensor], dict]:
    """The unpaired stream, the Y images (the paired baselines train on them) and a description of both domains."""
    y_files, x_files = domain_files(cfg, manifest)
    y_images = images.load_images(y_files, max_side=cfg.train_max_side)
    x_images = images.load_images(x_files, max_side=cfg.train_max_side)
    synthesise = cfg.x_dir == "manifest"
    data = UnpairedPatches(y_images, x_images, scale=cfg.scale, gt_size=cfg.gt_size, batch_size=cfg.batch_size,
                           synthesise_x=synthesise, flat_threshold=cfg.flat_threshold, seed=cfg.seed)  # fmt: skip
    info = {
        "y": {"images": len(y_files), "names": [f.stem for f in y_files]},
        "x": {"images": len(x_files), "names": [f.stem for f in x_files],
              "made_by": f"hidden {HIDDEN} pipeline (x4plus settings, random per crop)" if synthesise else "folder"},
    }  # fmt: skip
    return data, y_images, info


def test_set(cfg, manifest: dict) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``[(name, lq, gt)]``: each test HR (centre ``bench_crop``, mod-cropped) and its LR under the hidden family."""
    from srlib.zssr import matrix

    if cfg.test_dir == "manifest":
        files = splits.split_files(manifest, "bench")
    else:
        files = images.folder_images(cfg, "test_dir")
    files = files[: cfg.max_images] if cfg.max_images else files
    if len(files) < 2:
        raise ParamsError(
            f"{cfg.STAGE}: the test set has {len(files)} image(s); the CIs and KID need 2"
        )
    hr = []
    for f in files:
        gt = images.load_image(f)
        gt = evaluation.center_crop(gt, cfg.bench_crop) if cfg.bench_crop else gt
        hr.append((Path(f).stem, degradations.mod_crop(gt, 4 * cfg.scale)))
    pairs = matrix.test_pairs(
        hr, degradations_=(HIDDEN,), scale=cfg.scale, sigma=0.0, seed=cfg.seed
    )
    return pairs[HIDDEN]


def photo_inputs(cfg) -> list[tuple[str, torch.Tensor]]:
    """The real photos without ground truth (``photos``), centre-cropped to ``photo_crop`` LR px, mod 4."""
    return images.photo_inputs(cfg, "photos", crop=cfg.photo_crop, mod=4)
