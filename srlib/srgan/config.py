"""SRGAN's stage configs: ``srgan_train``, ``srgan_evaluate`` and ``tables`` (Ledig et al., CVPR 2017).

Ledig et al., *Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network*, CVPR 2017
(arXiv:1609.04802v5). Defaults are the paper's (§3.2 and Fig. 4; the settings behind its Table 2);
``params.yaml`` holds the same values and its profiles override them. Fields the paper does not fix say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib import precision
from srlib.config import ParamsError, StageConfig

PERCEP_NETS = ("vgg19", "inception")  # the content-loss networks (srlib.srgan.perceptual)
INCEPTION_MIN_SIDE = 27  # the smallest crop with a Mixed_5d map (1 x 1, srlib.losses)


@dataclass
class SRGANTrainConfig(StageConfig):
    """``srgan_train`` (notebook 10): SRResNet-MSE pre-training, then SRGAN-VGG54 initialised from it.

    Ledig et al. 2017, §3.2 (training details) and Fig. 4 (architectures); the two generators it trains are the
    SRResNet and SRGAN rows of Table 2 (measured by ``srgan_evaluate``, compared by ``tables``).
    """

    STAGE: ClassVar[str] = "srgan_train"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # global seed: initialisation and the (seed, step) crop stream (not in the paper)
    scale: int = 4  # SR factor (paper: x4 throughout, §3.1; two x2 sub-pixel blocks)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    # generator (Fig. 4)
    num_feat: int = 64  # generator width (paper: 64 feature maps, k3n64s1, Fig. 4)
    num_block: int = 16  # residual blocks (paper: B = 16, §3.1 and Fig. 4)
    bicubic_skip: bool = False  # residual over bicubic: NOT Ledig's architecture (labelled when on)
    # data (§3.2)
    train_max_side: int = 0  # shrink photos with a longer side (memory; not in the paper); 0 keeps
    gt_size: int = 96  # HR crop side (paper: 96x96 sub-images, §3.2)
    batch_size: int = 16  # crops per update (paper: 16, §3.2)
    flat_threshold: float = 0.02  # redraw crops of grey std below this (ours: flat sky)
    # stage 1, SRResNet-MSE (§3.2)
    pretrain_iters: int = 1_000_000  # SRResNet-MSE updates (paper: 10^6)
    lr_g_pretrain: float = 1e-4  # SRResNet learning rate (paper: 10^-4)
    # stage 2, SRGAN-VGG54 (§3.2), initialised from stage 1
    gan_iters: int = 200_000  # SRGAN updates (paper: 10^5 at 10^-4, then 10^5 at 10^-5)
    lr_g: float = 1e-4  # SRGAN generator lr before the decay (paper: 10^-4)
    lr_d: float = 1e-4  # discriminator lr before the decay (paper: one rate for G and D)
    lr_decay_at: int = 100_000  # both lrs x0.1 from this GAN step (paper: after 10^5 updates)
    beta1: float = 0.9  # Adam beta1, beta2 = 0.999 (paper: Adam, beta1 = 0.9, §3.2)
    w_pix: float = 0.0  # pixel MSE weight in SRGAN (SRGAN-VGG54: 0, content loss is VGG54 only)
    w_percep: float = 1.0  # VGG54 content loss weight (paper: 1, Eq. 3)
    w_adv: float = 1e-3  # adversarial weight (paper: 10^-3, Eq. 3)
    vgg_layer: str = "features.35"  # phi_5,4: conv5_4 after ReLU of VGG19 (paper: VGG54, §2.2.1)
    vgg_rescale: float = 1 / 12.75  # VGG feature rescale (paper: 1/12.75, §3.2)
    vgg_weights: str = "auto"  # ImageNet VGG19 file: pretrained | auto (random if absent) | random
    # the content loss's network: vgg19 = VGG54 (the paper) | inception = FID-Inception Mixed_5d, an explicit and
    # labelled substitute (NOT the paper's) for when VGG19's file is absent (srlib.srgan.perceptual)
    percep_net: str = "vgg19"
    inception_weights: str = "auto"  # FID Inception file: pretrained | auto | random
    inception_rescale: float = 0.1  # Mixed_5d feature rescale (ours, measured as Ledig's 1/12.75)
    precision: str = "fp32"  # fp32 | bf16 | fp16 autocast of the training steps (paper: fp32; labelled otherwise)
    channels_last: bool = False  # NHWC networks and batches (GPU speed; off: the plain layout)
    compile: str = "off"  # off | inductor | aot_eager: torch.compile of G and D's forward passes
    # bookkeeping (not in the paper)
    log_interval: int = 100  # steps between log lines
    val_interval: int = 5000  # steps between validations on benchmark centre crops
    ckpt_interval: int = 5000  # steps between checkpoints (resume point)
    val_crop: int = 192  # HR centre-crop side used for validation

    def check(self) -> None:
        if self.scale < 2 or self.scale & (self.scale - 1):
            raise ParamsError(
                f"{self.STAGE}: parameter 'scale' must be a power of two >= 2 (SRResNet's x2 "
                f"sub-pixel blocks), got {self.scale}"
            )
        if self.gt_size % self.scale:
            raise ParamsError(
                f"{self.STAGE}: parameter 'gt_size' must be divisible by scale={self.scale}, "
                f"got {self.gt_size}"
            )
        if self.percep_net not in PERCEP_NETS:
            raise ParamsError(
                f"{self.STAGE}: parameter 'percep_net' must be one of {', '.join(PERCEP_NETS)}, "
                f"got {self.percep_net!r}"
            )
        if self.percep_net == "inception" and self.gt_size < INCEPTION_MIN_SIDE:
            raise ParamsError(
                f"{self.STAGE}: percep_net 'inception' needs gt_size >= {INCEPTION_MIN_SIDE} (a Mixed_5d map), "
                f"got {self.gt_size}"
            )
        precision.check_config(self)


@dataclass
class SRGANEvaluateConfig(StageConfig):
    """``srgan_evaluate`` (notebook 11): bicubic / SRResNet / SRGAN on the benchmark, Ledig Table 2's protocol.

    PSNR and SSIM on the Y channel with a ``crop_border`` strip removed, whole images, x``scale``
    (Ledig et al. 2017, §3.1 and Table 2).
    """

    STAGE: ClassVar[str] = "srgan_evaluate"
    COMMON: ClassVar[tuple[str, ...]] = ("scale", "device", "num_threads", "progress")

    scale: int = 4  # SR factor of the benchmark pairs (paper: x4)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    crop_border: int = 4  # pixels removed on each side (paper: a 4-pixel strip, §3.1; = scale)
    zoom_size: int = 64  # side of the zoomed crops in the comparison figure (ground-truth pixels)

    def check(self) -> None:
        if self.crop_border < 0:
            raise ParamsError(
                f"{self.STAGE}: parameter 'crop_border' must be >= 0, got {self.crop_border}"
            )


@dataclass
class TablesConfig(StageConfig):
    """``tables`` (notebook 90): Ledig et al. 2017 Table 2 (p. 8) -- paper / ours / delta, with labels."""

    STAGE: ClassVar[str] = "tables"
    COMMON: ClassVar[tuple[str, ...]] = ()

    reference: str = "references/srgan_ledig2017.csv"  # Table 2 typed in (value, table, page a row)
