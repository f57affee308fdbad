"""The night->day study's stage configs (Abedjooy & Ebrahimi): data, M1, M2, M3 and the evaluation.

The study is x4 by construction (64² night LR -> 256² day HR, the paper's protocol), so every stage takes
``common.scale`` only to refuse any other value before anything runs. M1 and M2 train the same two networks in
opposite orders: their settings are one params.yaml section (``night2day_models``) and one dataclass
(:class:`Night2DayModelsConfig`); only CUT's image size differs (HR 256² in M1, LR 64² in M2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import ParamsError, StageConfig


@dataclass
class X4Config(StageConfig):
    """A night->day stage: takes ``common.scale`` only to refuse anything but 4 (64² LR -> 256² HR)."""

    scale: int = 4  # super-resolution factor: the study is x4 by construction (64² -> 256²)

    def check(self) -> None:
        if self.scale != 4:
            raise ParamsError(
                f"{self.STAGE}: common.scale={self.scale} cannot be honoured: the night->day study is x4 by "
                "construction (64² night LR -> 256² day HR, the paper's protocol); keep scale: 4 for this stage"
            )


@dataclass
class Night2DayDataConfig(X4Config):
    """``night2day_data`` (notebook 30): the split manifest of night2day pairs (real, or the labelled proxy)."""

    STAGE: ClassVar[str] = "night2day_data"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "num_threads", "progress")

    seed: int = 0  # global seed (data sampling, initialisation)
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    source: str = "proxy"  # proxy | folder of night2day AB files (e.g. data/raw/night2day)
    pairs_per_image: int = 4  # proxy: random square crops per training / val photo
    test_pairs_per_image: int = 2  # proxy: crops per benchmark photo (the test split)
    crop_fraction: tuple[float, ...] = (
        0.5,
        1.0,
    )  # proxy: crop side as a fraction of the photo's short side
    max_side: int = 1024  # proxy: photos shrunk to this long side before cropping
    val_fraction: float = 1 / 9  # proxy: share of the training photos held out for val
    exclude_photos: tuple[
        str, ...
    ] = ()  # proxy: photo stems left out (photos that already are night scenes)
    figure_pairs: int = 6  # test pairs shown in the figure


@dataclass
class Night2DayModelsConfig(X4Config):
    """The two networks M1 and M2 train (Real-ESRGAN fine-tuning, then or after CUT): section ``night2day_models``.

    M1 = SR then CUT at 256² (night LR -> SR night HR -> day HR); M2 = CUT at 64², then SR (night LR -> day LR ->
    day HR). The stage (``night2day_m1`` / ``night2day_m2``) adds only CUT's image size.
    """

    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # global seed (data sampling, initialisation)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    sr_num_feat: int = 64  # RRDBNet width (RealESRGAN_x4plus: 64)
    sr_num_block: int = (
        23  # RRDBs (RealESRGAN_x4plus: 23); other sizes cannot load the published weights
    )
    sr_num_grow_ch: int = 32  # dense-block growth channels (32)
    sr_weights: str = "auto"  # RealESRGAN_x4plus init: pretrained | auto | random
    vgg_weights: str = "auto"  # VGG19 of the perceptual loss: pretrained | auto | random
    sr_d_num_feat: int = 64  # U-Net discriminator width
    sr_epochs: int = 300  # paper: 300 epochs of fine-tuning
    sr_batch_size: int = 12  # not in the paper (Real-ESRGAN's per-GPU batch)
    sr_gt_size: int = 256  # HR crop side (256: the whole image)
    sr_lr: float = 2e-4  # Adam learning rate of G and D (paper: 2e-4)
    sr_ema_decay: float = 0.999  # EMA of G (the released params_ema)
    sr_w_pix: float = 1.0  # L1 weight
    sr_w_percep: float = 1.0  # perceptual (VGG19 conv1_2..conv5_4) weight
    sr_w_gan: float = 0.1  # GAN weight
    cut_num_feat: int = 64  # CUT generator ngf
    cut_num_block: int = 9  # ResNet blocks (resnet_9blocks)
    cut_d_num_feat: int = 64  # PatchGAN ndf
    cut_netf_nc: int = 256  # projection-head width
    cut_num_patches: int = 256  # PatchNCE patches per layer
    cut_epochs: int = 200  # epochs at constant learning rate (paper: 200)
    cut_epochs_decay: int = 0  # epochs of linear decay to 0 after those
    cut_batch_size: int = 1  # CUT's batch
    cut_lr: float = 2e-4  # Adam 2e-4, betas 0.5 / 0.999 (paper and CUT)
    max_train_pairs: int = 0  # first N training pairs only (0: all)
    preview_pairs: int = 4  # val pairs shown in the preview figure
    log_interval: int = 100  # steps between log lines / history rows
    ckpt_interval: int = 5000  # steps between resumable checkpoints


@dataclass
class Night2DayM1Config(Night2DayModelsConfig):
    """``night2day_m1`` (notebook 31): M1 -- Real-ESRGAN on night pairs, then CUT night HR -> day HR at 256²."""

    STAGE: ClassVar[str] = "night2day_m1"
    SECTIONS: ClassVar[tuple[str, ...]] = ("night2day_models", "night2day_m1")

    cut_load_size: int = 286  # images resized to this side, then (CUT's default for 256² crops)
    cut_crop_size: int = 256  # randomly cropped to this side


@dataclass
class Night2DayM2Config(Night2DayModelsConfig):
    """``night2day_m2`` (notebook 32): M2 -- CUT night LR -> day LR at 64², then Real-ESRGAN on day pairs."""

    STAGE: ClassVar[str] = "night2day_m2"
    SECTIONS: ClassVar[tuple[str, ...]] = ("night2day_models", "night2day_m2")

    cut_load_size: int = 72  # images resized to this side, then (286/256 of 64, as CUT's ratio)
    cut_crop_size: int = 64  # randomly cropped to this side


@dataclass
class Night2DayM3Config(X4Config):
    """``night2day_m3`` (notebook 33): our end-to-end M3, night LR 64² -> day HR 256² in one RRDBNet (paired and unpaired)."""

    STAGE: ClassVar[str] = "night2day_m3"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # global seed (data sampling, initialisation)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    num_feat: int = 64  # RRDBNet width (RealESRGAN_x4plus: 64)
    num_block: int = 23  # RRDBs (RealESRGAN_x4plus: 23)
    num_grow_ch: int = 32  # growth channels (32)
    weights: str = "auto"  # RealESRGAN_x4plus init: pretrained | auto | random
    vgg_weights: str = "auto"  # VGG19 of the paired perceptual loss: pretrained | auto | random
    paired_d_num_feat: int = 64  # paired: U-Net discriminator width
    paired_epochs: int = 300  # paired: epochs (M1's SR budget)
    paired_batch_size: int = 12  # paired: batch
    paired_gt_size: int = 256  # paired: HR crop side
    paired_lr: float = 2e-4  # paired: Adam learning rate of G and D
    paired_ema_decay: float = 0.999  # paired: EMA of G
    paired_w_pix: float = 1.0  # paired: L1 weight
    paired_w_percep: float = 1.0  # paired: perceptual weight
    paired_w_gan: float = 0.1  # paired: GAN weight
    unpaired_d_num_feat: int = 64  # unpaired: PatchGAN ndf
    unpaired_epochs: int = 200  # unpaired: epochs at constant rate (M1's CUT budget)
    unpaired_epochs_decay: int = 0  # unpaired: epochs of linear decay
    unpaired_batch_size: int = 1  # unpaired: batch
    unpaired_lr: float = 2e-4  # unpaired: Adam 2e-4, betas 0.5 / 0.999
    netf_nc: int = 256  # unpaired: projection-head width
    num_patches: int = 256  # unpaired: PatchNCE patches per layer
    nce_layers: tuple[int, ...] = (
        0,
        4,
        8,
        12,
        16,
    )  # unpaired: RRDBNet trunk layers (0: conv_first, k: after RRDB k)
    lambda_gan: float = 1.0  # unpaired: GAN weight
    lambda_nce: float = 1.0  # unpaired: PatchNCE weight
    nce_idt: bool = True  # unpaired: identity PatchNCE on day LR
    unpaired_init_epochs: int = (
        0  # unpaired: L1 SR pre-training on night pairs for random-init generators (0: none)
    )
    max_train_pairs: int = 0  # first N training pairs only (0: all)
    preview_pairs: int = 4  # val pairs in the preview figure
    log_interval: int = 100  # steps between log lines
    ckpt_interval: int = 5000  # steps between resumable checkpoints


@dataclass
class Night2DayEvaluateConfig(X4Config):
    """``night2day_evaluate`` (notebook 34): every phase vs the day ground truth, the paper's Tables 1-3 and verdicts."""

    STAGE: ClassVar[str] = "night2day_evaluate"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # global seed (data sampling, initialisation)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    batch_size: int = 8  # test images per forward pass
    max_test_pairs: int = 0  # first N test pairs only (0: the whole split; paper: 2,011)
    fid_dims: int = 2048  # Inception feature dims for FID (pool3: 2048, as the paper)
    fid_weights: str = "auto"  # FID Inception weights: pretrained | auto | random
    grid_images: int = 4  # test images in the Figs 4 / 6 grids
    night_photos: tuple[
        str, ...
    ] = ()  # real night photos for the qualitative figure (no ground truth)
    reference: str = "references/night2day_abedjooy.csv"  # the paper's Tables 1-3, typed in
