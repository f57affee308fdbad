"""The modified SRGAN's stage configs: the seed's training recipe and the post-processing ablation.

Defaults are the seed's (``vTuanpham/SRGAN_Reimplementation_modified``, ``SRGAN_train.py``), quirks included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import StageConfig


@dataclass
class SRGANModifiedTrainConfig(StageConfig):
    """``srgan_modified_train`` (notebook 20): the vTuanpham seed's recipe (``SRGAN_train.py``), its quirks kept."""

    STAGE: ClassVar[str] = "srgan_modified_train"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # global seed (data sampling, initialisation)
    scale: int = 4  # super-resolution factor
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    num_feat: int = 64  # generator width (seed: 64)
    num_block: int = 20  # residual blocks of conv5x5-BN / conv3x3-BN-PReLU / conv3x3-BN (seed: 20)
    num_up_feat: int = 256  # width of the convs in each nearest-x2 upsampling block (seed: 256)
    padding: str = "reflect"  # reflect (seed: tf.pad REFLECT before valid convs) | zeros
    bn_momentum: float = (
        0.5  # Keras BN momentum (seed: 0.5; the PyTorch momentum is 1 minus this, also 0.5)
    )
    bicubic_skip: bool = False  # NOT in the seed: learn a residual over bicubic (labelled when on)
    d_num_feat: int = 32  # discriminator base width df (seed: 32)
    d_fc_dim: int = 512  # discriminator hidden dense width (seed: 512)
    train_max_side: int = 0  # shrink training photos whose long side exceeds this; 0 keeps them
    gt_size: int = 256  # HR crop side (seed: 256x256 HR / 64x64 LR pairs)
    batch_size: int = 1  # seed quirk: batch size 1
    iters: int = 742_500  # updates (seed: 30 epochs x 24,750 pairs at batch 1)
    lr_g: float = 1e-3  # Adam, Keras default (seed)
    lr_d: float = 1e-3  # Adam, Keras default (seed)
    beta1: float = 0.9  # Adam beta1 (Keras default)
    adam_eps: float = 1e-7  # Adam epsilon (Keras default; PyTorch's is 1e-8)
    w_content: float = 1.0  # weight of the VGG content loss (seed: loss_weights [1e-3, 1])
    w_adv: float = 1e-3  # adversarial BCE weight (seed: 1e-3)
    content_layers: tuple[int, ...] = (
        8,
        13,
        17,
    )  # torchvision VGG19 features indices of Keras layers 5, 8, 10 (post-ReLU)
    vgg_normalize: bool = False  # ImageNet mean/std before VGG (seed: none, RGB [0, 1] straight in)
    vgg_weights: str = "auto"  # pretrained | auto | random
    train_zero_padding: bool = (
        True  # also train a zero-padded twin (same recipe) for the report's seam figure
    )
    flat_threshold: float = (
        0.0  # redraw crops with grey std below this (the seed has no such filter)
    )
    log_interval: int = 100  # steps between log lines
    val_interval: int = 5000  # steps between validations on benchmark centre crops
    ckpt_interval: int = 5000  # steps between checkpoints (resume point)
    val_crop: int = 192  # HR centre-crop side used for validation
    bn_check_batches: int = (
        200  # BN inference check: crops for the recalibrated statistics (0: skip the check)
    )
    run_label: str = ""  # caveat printed with every number of this run (e.g. 'SHORT CPU RUN ...')


@dataclass
class SRGANModifiedPostprocessConfig(StageConfig):
    """``srgan_modified_postprocess`` (notebook 21): the post-processing and tiling ablation."""

    STAGE: ClassVar[str] = "srgan_modified_postprocess"
    COMMON: ClassVar[tuple[str, ...]] = ("scale", "device", "num_threads", "progress")

    scale: int = 4  # super-resolution factor
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    tile: int = 64  # tile side in LR pixels for both tilings (seed: 64)
    overlap: int = (
        32  # blended tiling: minimum tile overlap in LR pixels (feather 0 / ramp / 1 over quarters)
    )
    radius: float = 0.23  # low-pass disc radius as a fraction of max(H, W) (seed 'auto': 23 %)
    crop_border: int = 4  # pixels removed on each side before PSNR/SSIM (the scale, by convention)
    eval_crop: int = 0  # centre-crop each ground truth to this side first (0: whole images)
    max_images: int = 0  # use the first N benchmark images (0: all)
    lpips_net: str = "alex"  # LPIPS trunk: alex | vgg
    lpips_weights: str = (
        "auto"  # pretrained | auto | random (auto: random trunk when the file is missing, labelled)
    )
    figure_image: str = ""  # benchmark image (stem) for the figures (empty: the first)
