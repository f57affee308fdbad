"""SRGAN's stage configs: ``srgan_train``, ``srgan_evaluate`` and ``tables`` (Ledig et al., CVPR 2017).

Defaults are the paper's (§3.2, Fig. 4); ``params.yaml`` holds the same values and its profiles override them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import StageConfig


@dataclass
class SRGANTrainConfig(StageConfig):
    """``srgan_train`` (notebook 10): Ledig et al. §3.2 -- SRResNet-MSE pre-training, then SRGAN-VGG54 from it."""

    STAGE: ClassVar[str] = "srgan_train"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # global seed (data sampling, initialisation)
    scale: int = 4  # super-resolution factor
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    num_feat: int = 64  # generator width (paper: 64)
    num_block: int = 16  # residual blocks B (paper: 16)
    bicubic_skip: bool = (
        False  # learn the residual over bicubic (NOT Ledig's architecture; labelled when on)
    )
    train_max_side: int = 0  # shrink training photos whose long side exceeds this; 0 keeps them
    gt_size: int = 96  # HR crop side (paper: 96)
    batch_size: int = 16  # paper: 16
    pretrain_iters: int = 1_000_000  # SRResNet-MSE updates (paper: 1e6)
    lr_g_pretrain: float = 1e-4  # paper: 1e-4
    gan_iters: int = 200_000  # SRGAN updates (paper: 2e5)
    lr_g: float = 1e-4  # SRGAN generator lr before the decay (paper: 1e-4)
    lr_d: float = 1e-4  # discriminator lr before the decay
    lr_decay_at: int = 100_000  # both lrs x0.1 from this GAN step (paper: 1e5)
    beta1: float = 0.9  # Adam beta1 (paper: 0.9)
    w_pix: float = 0.0  # pixel MSE weight in SRGAN (SRGAN-VGG54: 0)
    w_percep: float = 1.0  # VGG54 content loss weight
    w_adv: float = 1e-3  # adversarial weight (paper: 1e-3)
    vgg_layer: str = "features.35"  # conv5_4 after ReLU (VGG54)
    vgg_rescale: float = 1 / 12.75  # feature rescale (paper §3.2)
    vgg_weights: str = "auto"  # pretrained | auto | random
    flat_threshold: float = 0.02  # redraw crops with grey std below this
    log_interval: int = 100  # steps between log lines
    val_interval: int = 5000  # steps between validations on benchmark centre crops
    ckpt_interval: int = 5000  # steps between checkpoints (resume point)
    val_crop: int = 192  # HR centre-crop side used for validation


@dataclass
class SRGANEvaluateConfig(StageConfig):
    """``srgan_evaluate`` (notebook 11): bicubic / SRResNet / SRGAN on the benchmark, PSNR-Y / SSIM-Y (Ledig Table 2)."""

    STAGE: ClassVar[str] = "srgan_evaluate"
    COMMON: ClassVar[tuple[str, ...]] = ("scale", "device", "num_threads", "progress")

    scale: int = 4  # super-resolution factor
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    crop_border: int = (
        4  # pixels removed on each side before PSNR/SSIM: the scale, as Ledig and BasicSR
    )
    zoom_size: int = 64  # side of the zoomed crops in the comparison figure (ground-truth pixels)


@dataclass
class TablesConfig(StageConfig):
    """``tables`` (notebook 90): Ledig et al. Table 2 -- paper / ours / delta."""

    STAGE: ClassVar[str] = "tables"
    COMMON: ClassVar[tuple[str, ...]] = ()

    reference: str = "references/srgan_ledig2017.csv"  # typed-in paper numbers (table, page)
