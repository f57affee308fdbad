"""The modified SRGAN's stage configs: the seed's training recipe and the post-processing ablation.

Paper: the student report "Super-resolution using GANs", a Keras reimplementation of SRGAN (Ledig et al., CVPR 2017,
arXiv:1609.04802) with changes; its code is the seed ``vTuanpham/SRGAN_Reimplementation_modified``. The report has
no results table (it shows pictures only), so the defaults are the seed's code (``SRGAN_train.py`` for training,
``loadh5baend.py`` for inference and post-processing), quirks included, and the tables these stages serve are our
own: the training record (``metrics/srgan_modified_train.json``) and the ablation the report never made
(``tables/srgan_modified_ablation.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib import precision
from srlib.config import ParamsError, StageConfig
from srlib.models.srgan_modified import BN_INFERENCE, PADDINGS


def _check_choice(cfg: StageConfig, field: str, allowed: tuple[str, ...]) -> None:
    value = getattr(cfg, field)
    if value not in allowed:
        raise ParamsError(
            f"{cfg.STAGE}: parameter '{field}' must be one of {', '.join(allowed)}, got {value!r}"
        )


@dataclass
class SRGANModifiedTrainConfig(StageConfig):
    """``srgan_modified_train`` (notebook 20): the seed's generator, discriminator and recipe (``SRGAN_train.py``).

    Serves the training record ``metrics/srgan_modified_train.json`` (and the generators notebook 21 measures). The
    seed's quirks are kept: no SRResNet pre-training, batch size 1, Adam at Keras defaults, D updated on real and
    fake batches separately. Read by :mod:`srlib.srgan_modified.train` (``build_generator(cfg)`` and friends).
    """

    STAGE: ClassVar[str] = "srgan_modified_train"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = 0  # global seed (data sampling, initialisation)
    scale: int = 4  # super-resolution factor (seed: x4, two nearest-x2 upsampling blocks)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    # -- generator (seed: create_gen)
    num_feat: int = 64  # generator width (seed: 64)
    num_block: int = 20  # residual blocks of conv5x5-BN / conv3x3-BN-PReLU / conv3x3-BN (seed: 20)
    num_up_feat: int = 256  # width of the convs in each nearest-x2 upsampling block (seed: 256)
    padding: str = (
        "reflect"  # reflect (seed: k // 2 successive 1-px tf.pad REFLECT, valid convs) | zeros
    )
    # Keras BN momentum (seed: 0.5; the PyTorch momentum is 1 minus this, also 0.5)
    bn_momentum: float = 0.5
    bicubic_skip: bool = False  # NOT in the seed: learn a residual over bicubic (labelled when on)
    # BN statistics at inference: per_image (NOT the seed, labelled: each image normalised with its own statistics,
    # as batch-1 training did; Keras training=True) | moving (the seed's Keras predict: the moving averages, which
    # collapse a batch-1 network, notebook 20). Reported numbers, figures and the saved generator use it; training
    # is the same either way and the other mode is measured beside it
    bn_inference: str = "per_image"
    # -- discriminator (seed: create_disc)
    d_num_feat: int = 32  # discriminator base width df (seed: 32)
    d_fc_dim: int = 512  # discriminator hidden dense width (seed: 512)
    # -- data (seed: pre-made 256^2 HR / 64^2 LR files)
    train_max_side: int = 0  # shrink training photos whose long side exceeds this; 0 keeps them
    gt_size: int = 256  # HR crop side (seed: 256x256 HR / 64x64 LR pairs)
    batch_size: int = 1  # seed quirk: batch size 1 ("dataset is varying in subject")
    iters: int = 742_500  # updates (seed: 30 epochs x 24,750 pairs at batch 1)
    # -- optimiser and loss (seed: compile(optimizer="adam", loss_weights=[1e-3, 1]))
    lr_g: float = 1e-3  # Adam, Keras default (seed)
    lr_d: float = 1e-3  # Adam, Keras default (seed)
    beta1: float = 0.9  # Adam beta1 (Keras default; beta2 0.999)
    adam_eps: float = 1e-7  # Adam epsilon (Keras default; PyTorch's is 1e-8)
    w_content: float = 1.0  # weight of the VGG content loss (seed: loss_weights [1e-3, 1])
    w_adv: float = 1e-3  # adversarial BCE weight (seed: 1e-3)
    precision: str = "fp32"  # fp32 | bf16 | fp16 autocast of the steps (seed: fp32; labelled)
    channels_last: bool = False  # NHWC networks and batches (GPU speed; off: the plain layout)
    compile: str = "off"  # off | inductor | aot_eager: torch.compile of G and D's forward passes
    # torchvision VGG19 features indices of Keras layers 5, 8, 10 (block2_conv2, block3_conv2, block3_conv4,
    # post-ReLU), equal weights (seed: vgg.layers[5, 8, 10] outputs)
    content_layers: tuple[int, ...] = (8, 13, 17)
    vgg_normalize: bool = False  # ImageNet mean/std before VGG (seed: none, RGB [0, 1] straight in)
    vgg_weights: str = (
        "auto"  # pretrained | auto | random (auto: random features when the file is missing)
    )
    # -- the report's seam comparison and the run's bookkeeping (not in the seed's training script)
    train_zero_padding: bool = (
        True  # also train a zero-padded twin (same recipe) for the seam figure
    )
    flat_threshold: float = (
        0.0  # redraw crops with grey std below this (the seed has no such filter)
    )
    log_interval: int = 100  # steps between log lines
    val_interval: int = 5000  # steps between validations on benchmark centre crops
    ckpt_interval: int = 5000  # steps between checkpoints (resume point)
    val_crop: int = 192  # HR centre-crop side used for validation
    # BN inference check: crops for the recalibrated statistics (0: skip the check; not in the seed)
    bn_check_batches: int = 200
    run_label: str = ""  # caveat printed with every number of this run (e.g. 'SHORT CPU RUN ...')

    def check(self) -> None:
        precision.check_config(self)
        _check_choice(self, "padding", PADDINGS)
        _check_choice(self, "bn_inference", BN_INFERENCE)


@dataclass
class SRGANModifiedPostprocessConfig(StageConfig):
    """``srgan_modified_postprocess`` (notebook 21): the seed's post-processing and tiling, quantified.

    Serves ``tables/srgan_modified_ablation.md`` (and ``metrics/srgan_modified_postprocess.json``): bicubic, network,
    + each fix, + all fixes, x the seed's tiling (``loadh5baend.py``: 64-px tiles, no overlap) vs blended tiles.
    The report shows these fixes as pictures only; the numbers are ours. Read by :mod:`srlib.srgan_modified.ablation`
    and :mod:`srlib.srgan_modified.figures`.
    """

    STAGE: ClassVar[str] = "srgan_modified_postprocess"
    COMMON: ClassVar[tuple[str, ...]] = ("scale", "device", "num_threads", "progress")

    scale: int = 4  # super-resolution factor
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    tile: int = 64  # tile side in LR pixels for both tilings (seed: 64)
    # blended tiling (not in the seed): minimum tile overlap in LR pixels (feather 0 / ramp / 1 over quarters)
    overlap: int = 32
    radius: float = 0.23  # low-pass disc radius as a fraction of max(H, W) (seed 'auto': 23 %)
    crop_border: int = 4  # pixels removed on each side before PSNR/SSIM (the scale, by convention)
    eval_crop: int = 0  # centre-crop each ground truth to this side first (0: whole images)
    max_images: int = 0  # use the first N benchmark images (0: all)
    lpips_net: str = "alex"  # LPIPS trunk: alex | vgg
    # pretrained | auto | random (auto: random trunk when the file is missing, labelled)
    lpips_weights: str = "auto"
    figure_image: str = ""  # benchmark image (stem) for the figures (empty: the first)
    # BN statistics at inference for every row but those marked with the other mode: per_image (NOT the seed,
    # labelled; each tile normalised with its own statistics, so seams are re-measured) | moving (the seed's)
    bn_inference: str = "per_image"

    def check(self) -> None:
        _check_choice(self, "bn_inference", BN_INFERENCE)
