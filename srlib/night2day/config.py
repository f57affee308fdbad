"""The night->day study's stage configs (Abedjooy & Ebrahimi, *Multi-modality image super-resolution using generative
adversarial networks*): data, M1, M2, M3 and the evaluation.

The study is x4 by construction (64² night LR -> 256² day HR, the paper's protocol), so every stage takes
``common.scale`` only to refuse any other value before anything runs. M1 and M2 train the same two networks in
opposite orders: their settings are one params.yaml section (``night2day_models``) and one dataclass
(:class:`Night2DayModelsConfig`); only CUT's image size differs (HR 256² in M1, LR 64² in M2). Each field's comment
gives the paper's value and where it comes from; "not in the paper" marks the choices the paper leaves open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib import precision
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
    """``night2day_data`` (notebook 30): the pairs behind the paper's Tables 1-3 (§3, data).

    The paper pools pix2pix's night2day pairs (20,110) and splits them at random 80/10/10 (16,088 / 2,011 / 2,011);
    HR 256², LR ``cv2.resize(INTER_LINEAR)`` 64². Without the dataset, ``source: proxy`` renders a labelled
    synthetic-night proxy from the ``data_prepare`` photos (split by photo); the ``proxy:`` fields apply to it only.
    """

    STAGE: ClassVar[str] = "night2day_data"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "num_threads", "progress")

    seed: int = 0  # the split and the proxy's draws (the paper's split seed is not published)
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    source: str = "proxy"  # proxy | folder of night2day AB files (the paper: data/raw/night2day)
    pairs_per_image: int = 4  # proxy: random square crops per training / val photo
    test_pairs_per_image: int = 2  # proxy: crops per benchmark photo (the test split)
    crop_fraction: tuple[float, float] = (0.5, 1.0)  # proxy: (lo, hi) crop side / short side
    max_side: int = 1024  # proxy: photos shrunk to this long side before cropping
    val_fraction: float = 1 / 9  # proxy: training photos held out for val (paper: 10 % of 90 %)
    exclude_photos: tuple[str, ...] = ()  # proxy: photo stems left out (already night scenes)
    figure_pairs: int = 6  # test pairs shown in the figure

    def check(self) -> None:
        super().check()
        fraction = self.crop_fraction  # refused here, before the stage runs, not deep in the proxy
        if len(fraction) != 2 or not 0 < fraction[0] <= fraction[1] <= 1:
            raise ParamsError(
                f"{self.STAGE}: parameter 'crop_fraction' must be [lo, hi] with 0 < lo <= hi <= 1, "
                f"got {list(self.crop_fraction)}"
            )


@dataclass
class Night2DayModelsConfig(X4Config):
    """The two networks M1 (Table 1, Figs 3-4) and M2 (Table 2, Figs 5-6) train: section ``night2day_models``.

    Real-ESRGAN fine-tuned from ``RealESRGAN_x4plus`` (paper: 300 epochs, Adam 2e-4) and CUT (paper: 200 epochs,
    Adam 2e-4, betas 0.5 / 0.999, LSGAN). M1 = SR then CUT at 256² (night LR -> SR night HR -> day HR); M2 = CUT
    at 64², then SR (night LR -> day LR -> day HR). The stage (``night2day_m1`` / ``night2day_m2``) adds only CUT's
    image size.
    """

    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # initialisation and batch draws (not in the paper)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    sr_num_feat: int = 64  # RRDBNet width (RealESRGAN_x4plus, which the paper fine-tunes: 64)
    sr_num_block: int = 23  # RRDBs (RealESRGAN_x4plus: 23); other sizes cannot load its weights
    sr_num_grow_ch: int = 32  # dense-block growth channels (RealESRGAN_x4plus: 32)
    sr_weights: str = "auto"  # RealESRGAN_x4plus init (paper's): pretrained | auto | random
    vgg_weights: str = "auto"  # VGG19 of the perceptual loss: pretrained | auto | random
    sr_d_num_feat: int = 64  # U-Net discriminator width (Real-ESRGAN: 64)
    sr_epochs: int = 300  # epochs of fine-tuning (paper: 300)
    sr_batch_size: int = 12  # not in the paper (Real-ESRGAN's per-GPU batch)
    sr_gt_size: int = 256  # HR crop side (256: the whole night2day image)
    sr_lr: float = 2e-4  # Adam learning rate of G and D (paper: 2e-4)
    sr_ema_decay: float = 0.999  # EMA of G (Real-ESRGAN's released params_ema)
    sr_w_pix: float = 1.0  # L1 weight (Real-ESRGAN: 1)
    sr_w_percep: float = 1.0  # perceptual weight, VGG19 conv1_2..conv5_4 (Real-ESRGAN: 1)
    sr_w_gan: float = 0.1  # GAN weight (Real-ESRGAN: 0.1)
    cut_num_feat: int = 64  # CUT generator ngf (CUT's resnet_9blocks: 64)
    cut_num_block: int = 9  # ResNet blocks (resnet_9blocks: 9)
    cut_d_num_feat: int = 64  # PatchGAN ndf (CUT: 64)
    cut_netf_nc: int = 256  # projection-head width (CUT: 256)
    cut_num_patches: int = 256  # PatchNCE patches per layer (CUT: 256)
    cut_epochs: int = 200  # epochs at constant learning rate (paper: 200)
    cut_epochs_decay: int = 0  # epochs of linear decay to 0 after those (paper: none stated)
    cut_batch_size: int = 1  # CUT's batch (CUT: 1)
    cut_lr: float = 2e-4  # Adam 2e-4, betas 0.5 / 0.999 (paper and CUT)
    precision: str = "fp32"  # fp32 | bf16 | fp16 autocast of both networks' steps (paper: fp32)
    channels_last: bool = False  # NHWC networks and batches (GPU speed; off: the plain layout)
    compile: str = "off"  # off | inductor | aot_eager: torch.compile of G and D's forward passes
    max_train_pairs: int = 0  # first N training pairs only (0: all; paper: 16,088)
    preview_pairs: int = 4  # val pairs shown in the preview figure
    log_interval: int = 100  # steps between log lines / history rows
    ckpt_interval: int = 5000  # steps between resumable checkpoints

    def check(self) -> None:
        super().check()
        precision.check_config(self)


@dataclass
class Night2DayM1Config(Night2DayModelsConfig):
    """``night2day_m1`` (notebook 31): M1 (Table 1) -- Real-ESRGAN on night pairs, then CUT night HR -> day HR."""

    STAGE: ClassVar[str] = "night2day_m1"
    SECTIONS: ClassVar[tuple[str, ...]] = ("night2day_models", "night2day_m1")

    cut_load_size: int = 286  # images resized to this side, then cropped (CUT's default for 256²)
    cut_crop_size: int = 256  # random crop side: CUT on the 256² HR images


@dataclass
class Night2DayM2Config(Night2DayModelsConfig):
    """``night2day_m2`` (notebook 32): M2 (Table 2) -- CUT night LR -> day LR at 64², then Real-ESRGAN on day pairs."""

    STAGE: ClassVar[str] = "night2day_m2"
    SECTIONS: ClassVar[tuple[str, ...]] = ("night2day_models", "night2day_m2")

    cut_load_size: int = 72  # resized to this side, then cropped (CUT's 286 / 256 ratio at 64²)
    cut_crop_size: int = 64  # random crop side (paper: CUT at 64 x 64)


@dataclass
class Night2DayM3Config(X4Config):
    """``night2day_m3`` (notebook 33): our end-to-end M3, beyond the paper (its conclusion's "end-to-end generative
    network"): one RRDBNet night LR 64² -> day HR 256², paired and unpaired; M3 rows of the Tables 1-3-style output.

    The paper has no values for it: the paired mode takes M1's SR budget, the unpaired mode M1's CUT budget.
    """

    STAGE: ClassVar[str] = "night2day_m3"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # initialisation and batch draws
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    num_feat: int = 64  # RRDBNet width (RealESRGAN_x4plus: 64, as M1 / M2's SR)
    num_block: int = 23  # RRDBs (RealESRGAN_x4plus: 23)
    num_grow_ch: int = 32  # growth channels (RealESRGAN_x4plus: 32)
    weights: str = "auto"  # RealESRGAN_x4plus init: pretrained | auto | random
    vgg_weights: str = "auto"  # VGG19 of the paired perceptual loss: pretrained | auto | random
    paired_d_num_feat: int = 64  # paired: U-Net discriminator width (as M1's SR)
    paired_epochs: int = 300  # paired: epochs (M1's SR budget, paper: 300)
    paired_batch_size: int = 12  # paired: batch (as M1's SR)
    paired_gt_size: int = 256  # paired: HR crop side (the whole image)
    paired_lr: float = 2e-4  # paired: Adam learning rate of G and D (as M1's SR)
    paired_ema_decay: float = 0.999  # paired: EMA of G
    paired_w_pix: float = 1.0  # paired: L1 weight (Real-ESRGAN: 1)
    paired_w_percep: float = 1.0  # paired: perceptual weight (Real-ESRGAN: 1)
    paired_w_gan: float = 0.1  # paired: GAN weight (Real-ESRGAN: 0.1)
    unpaired_d_num_feat: int = 64  # unpaired: PatchGAN ndf (CUT: 64)
    unpaired_epochs: int = 200  # unpaired: epochs at constant rate (M1's CUT budget, paper: 200)
    unpaired_epochs_decay: int = 0  # unpaired: epochs of linear decay (as M1's CUT)
    unpaired_batch_size: int = 1  # unpaired: batch (CUT: 1)
    unpaired_lr: float = 2e-4  # unpaired: Adam 2e-4, betas 0.5 / 0.999 (CUT)
    netf_nc: int = 256  # unpaired: projection-head width (CUT: 256)
    num_patches: int = 256  # unpaired: PatchNCE patches per layer (CUT: 256)
    nce_layers: tuple[int, ...] = (0, 4, 8, 12, 16)  # unpaired: 0 = conv_first, k = after RRDB k
    lambda_gan: float = 1.0  # unpaired: GAN weight (CUT: 1)
    lambda_nce: float = 1.0  # unpaired: PatchNCE weight (CUT: 1)
    nce_idt: bool = True  # unpaired: identity PatchNCE on day LR (CUT's nce_idt)
    unpaired_init_epochs: int = 0  # unpaired: L1 SR pre-training on night pairs (0: none)
    precision: str = "fp32"  # fp32 | bf16 | fp16 autocast of both modes' steps (ours: fp32)
    channels_last: bool = False  # NHWC networks and batches (GPU speed; off: the plain layout)
    compile: str = "off"  # off | inductor | aot_eager: torch.compile of G and D's forward passes
    max_train_pairs: int = 0  # first N training pairs only (0: all)
    preview_pairs: int = 4  # val pairs in the preview figure
    log_interval: int = 100  # steps between log lines
    ckpt_interval: int = 5000  # steps between resumable checkpoints

    def check(self) -> None:
        super().check()
        precision.check_config(self)


@dataclass
class Night2DayEvaluateConfig(X4Config):
    """``night2day_evaluate`` (notebook 34): every phase vs the day ground truth, the paper's Tables 1-3 (paper /
    ours / Δ), Figs 3-7 and the paired verdicts (Post vs Pre, M1 vs M2, M3 vs both)."""

    STAGE: ClassVar[str] = "night2day_evaluate"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # bootstrap intervals and a random-init Inception (not in the paper)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    batch_size: int = 8  # test images per forward pass (no effect on the numbers)
    max_test_pairs: int = 0  # first N test pairs only (0: the whole split; paper: 2,011)
    fid_dims: int = 2048  # Inception feature dims for FID (paper: pool3, 2048)
    fid_weights: str = "auto"  # FID Inception (paper: published): pretrained | auto | random
    grid_images: int = 4  # test images in the Figs 4 / 6 grids
    night_photos: tuple[str, ...] = ()  # real night photos, qualitative figure (no ground truth)
    reference: str = "references/night2day_abedjooy.csv"  # the paper's Tables 1-3 (means, std)
