"""The diverse-hallucination study's stage configs: ``hallucination_train`` and ``hallucination_evaluate``.

Abid, Hedhli and Gagné, *A generative model for hallucinating diverse versions of super resolution images*. The
paper fixes the losses' weights (gamma = 10, beta = 0.1, alpha = 1), epsilon = 0.1, Adam (lr 1e-4, betas 0 / 0.9,
TTUR), batch 8 and CelebA at x8; everything else is unstated and chosen here from the work it cites (LAG, DSGAN,
MSG-GAN, R1), each field saying where its value comes from. ``params.yaml`` holds the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import ParamsError, StageConfig
from srlib.weights import MODES

PERCEP_NETS = (
    "vgg16",
    "inception",
)  # L_percp's network: the paper's VGG-16, or the FID-Inception substitute


def _check_scale(cfg) -> None:
    if cfg.scale < 2 or cfg.scale & (cfg.scale - 1):
        raise ParamsError(
            f"{cfg.STAGE}: parameter 'scale' must be a power of two >= 2, got {cfg.scale}"
        )


@dataclass
class HallucinationTrainConfig(StageConfig):
    """``hallucination_train`` (notebook 40): the model with L_z, its alpha = 0 ablation and the 8x baselines.

    All four networks see the same crops in the same order (the ``(seed, step)`` stream), at the same budget.
    """

    STAGE: ClassVar[str] = "hallucination_train"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "device", "num_threads", "progress")

    seed: int = 0  # global seed: initialisation, the (seed, step) crop and noise streams
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    scale: int = 8  # SR factor (the paper: x8 on CelebA)
    # data: the paper's CelebA (128^2 centre crops of the aligned faces, 16^2 LR: a common x8 setup, not stated)
    train_dir: str = "data/celeba128/train"  # HR folder (paper: CelebA train crops) | manifest
    proxy: bool = False  # not the paper's CelebA (labelled when true)
    train_max_side: int = 0  # shrink larger photos (memory; not in the paper); 0 keeps
    gt_size: int = 128  # HR crop side (CelebA 128^2 -> 16^2 LR at x8)
    batch_size: int = 8  # crops per update (the paper: 8)
    flat_threshold: float = 0.0  # redraw crops of grey std below this (ours)
    # generator (Fig. 2)
    num_feat: int = 64  # width (not stated; LAG narrows 256 -> 64 over its stages; one width here)
    num_block: int = 8  # residual blocks on LR + noise (the paper: 8)
    noise_dim: int = 64  # m, noise channels per LR pixel (not stated; LAG's noise_dim default 64)
    # discriminators (Fig. 3)
    d_num_feat: int = 64  # width of D_I and D_g (not stated; as G)
    d_num_block: int = 2  # residual blocks after the DownBlocks (not stated)
    # losses (§3)
    gamma: float = 10.0  # weight of L_percp + L_grad in L_recons (the paper: 10)
    beta: float = 0.1  # weight of the reconstruction's adversarial terms (the paper: 0.1)
    alpha: float = 1.0  # weight of L_z (the paper: 1; the ablation: 0)
    tau: float = 0.1  # L_z clamp (not stated; DSGAN bound; ours)
    consistency_eps: float = 0.1  # epsilon of F in 8-bit levels (the paper: 0.1)
    r1_gamma: float = 10.0  # R1 gamma: gamma / 2 E||grad D||^2 (Mescheder 2018)
    percep_net: str = "vgg16"  # vgg16 (the paper) | inception (labelled substitute)
    vgg_layer: str = "features.8"  # phi (not stated): relu2_2 (Johnson 2016)
    vgg_weights: str = "auto"  # VGG-16 file: pretrained | auto | random
    inception_weights: str = "auto"  # percep_net inception: pretrained | auto | random
    # optimisation (§4)
    iters: int = 200_000  # G updates (not stated; LAG trains for ~2M images: 250k steps of batch 8)
    lr_g: float = 1e-4  # Adam lr of G (the paper: 1e-4)
    lr_d: float = 4e-4  # D lr: TTUR ratio 4 (LAG ttur; not stated)
    beta1: float = 0.0  # Adam beta1 (the paper: 0)
    beta2: float = 0.9  # Adam beta2 (the paper: 0.9)
    train_ablation: bool = True  # also train alpha 0, same budget (central claim)
    # the 8x comparison rows of Table 1, retrained on the same crops with srlib's engines
    train_baselines: bool = True  # SRGAN (SRResNet x8) and ESRGAN (RRDBNet with srlib's 8x head)
    baseline_pretrain_iters: int = 100_000  # pixel-loss steps of each baseline (ours)
    baseline_gan_iters: int = 100_000  # GAN steps of each baseline (ours)
    srgan_num_feat: int = 64  # SRResNet width (Ledig: 64)
    srgan_num_block: int = 16  # SRResNet residual blocks (Ledig: 16)
    esrgan_num_feat: int = 64  # RRDBNet width (ESRGAN: 64)
    esrgan_num_block: int = 23  # RRDBs (ESRGAN: 23)
    esrgan_num_grow_ch: int = 32  # dense growth channels (ESRGAN: 32)
    # bookkeeping (not in the paper)
    log_interval: int = 100  # steps between log lines
    ckpt_interval: int = 5000  # steps between checkpoints (resume point)
    run_label: str = ""  # caveat printed with every number of this run (e.g. 'SHORT CPU RUN ...')

    def check(self) -> None:
        _check_scale(self)
        if self.gt_size % self.scale:
            raise ParamsError(
                f"{self.STAGE}: parameter 'gt_size' must be divisible by scale={self.scale}, got {self.gt_size}"
            )
        if self.percep_net not in PERCEP_NETS:
            raise ParamsError(
                f"{self.STAGE}: parameter 'percep_net' must be one of {', '.join(PERCEP_NETS)}, got {self.percep_net!r}"
            )
        self.require_choice(("vgg_weights", "inception_weights"), MODES)
        for name in ("iters", "batch_size", "noise_dim", "num_block", "num_feat", "d_num_feat"):
            if getattr(self, name) < 1:
                raise ParamsError(
                    f"{self.STAGE}: parameter {name!r} must be >= 1, got {getattr(self, name)}"
                )
        if self.tau <= 0 or self.alpha < 0 or self.r1_gamma < 0:
            raise ParamsError(f"{self.STAGE}: 'tau' must be > 0 and 'alpha', 'r1_gamma' >= 0")


@dataclass
class HallucinationEvaluateConfig(StageConfig):
    """``hallucination_evaluate`` (notebook 41): Table 1 in the paper's form, diversity, LR consistency, the ablation.

    Inputs are HR crops whose 8-bit x1/``scale`` average-pooled image is the LR (the training degradation): the
    faces of ``faces_dir`` (CelebA's test set on the paper's host; 12 real faces here, a proxy) and ``bench_crop``
    centre crops of the benchmark photos.
    """

    STAGE: ClassVar[str] = "hallucination_evaluate"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "device", "num_threads", "progress")

    seed: int = 0  # seed of the evaluation noise and the bootstrap
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill)
    scale: int = 8  # SR factor (the paper: x8)
    faces_dir: str = "data/celeba128/test"  # 128^2 faces (paper: CelebA test); "" skips
    faces_proxy: bool = False  # the faces are not CelebA's test set (labelled when true)
    max_faces: int = 0  # 0: every face of faces_dir
    bench_crop: int = 0  # benchmark centre crops (HR px; 0 skips)
    max_bench: int = 0  # 0: every benchmark image
    num_samples: int = 8  # K hallucinations per input (z ~ N(0, 1))
    crop_border: int = 8  # PSNR / SSIM border (the scale: BasicSR)
    consistency_eps: float = 0.1  # LR-consistency epsilon, 8-bit levels (paper)
    lpips_net: str = "alex"  # LPIPS trunk (the paper does not say; alex is LPIPS's default)
    lpips_weights: str = "auto"  # pretrained | auto | random
    fid_weights: str = "auto"  # FID Inception: pretrained | auto | random
    n_boot: int = 10000  # bootstrap resamples of the paired CIs
    interp_steps: int = 7  # frames of the z-interpolation strip
    reference: str = "references/hallucination_abid.csv"  # Table 1 typed in (a row per value)

    def check(self) -> None:
        _check_scale(self)
        if self.num_samples < 2:
            raise ParamsError(
                f"{self.STAGE}: parameter 'num_samples' must be >= 2 (pairwise diversity), got {self.num_samples}"
            )
        if self.bench_crop and self.bench_crop % self.scale:
            raise ParamsError(
                f"{self.STAGE}: parameter 'bench_crop' must be divisible by scale={self.scale}"
            )
        if not self.faces_dir and not self.bench_crop:
            raise ParamsError(
                f"{self.STAGE}: set 'faces_dir' or 'bench_crop': there is nothing to evaluate"
            )
        self.require_choice(("lpips_weights", "fid_weights"), MODES)
