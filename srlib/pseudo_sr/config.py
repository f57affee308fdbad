"""The pseudo-supervised SR study's stage configs: ``pseudo_sr_train`` (notebook 52), ``blind_sr_evaluate`` (53).

Maeda, "Unpaired Image Super-Resolution using Pseudo-Supervision", CVPR 2020 (https://arxiv.org/abs/2002.11397).
There is no official code. Values marked "unofficial" come from ``yoon28/pseudo-sr`` (faces only, read at commit
a371d36: ``configs/faces.yaml`` and ``models/pseudo_model.py``); "ours" marks what neither states. ``params.yaml``
holds the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import ParamsError, StageConfig
from srlib.weights import MODES

PARTS = ("even", "odd", "all")
VARIANTS = ("pseudo", "direct", "two_way")  # the model, and the two ablations the paper motivates
BASELINES = (
    "bicubic",
    "blur",
    "realesrgan",
)  # paired SRResNet rows: srlib.zssr.matrix.degrade names
LPIPS_NETS = ("alex", "vgg")


def _check_positive(cfg, names) -> None:
    for name in names:
        if not getattr(cfg, name) > 0:
            raise ParamsError(
                f"{cfg.STAGE}: parameter {name!r} must be > 0, got {getattr(cfg, name)}"
            )


@dataclass
class PseudoSRTrainConfig(StageConfig):
    """``pseudo_sr_train`` (notebook 52): the pseudo-supervised model, its ablations and the paired baselines.

    Every run sees the same clean HR crops of Y in the same order (the ``(seed, step)`` stream) for ``iters`` steps;
    the unpaired runs also see the degraded LR crops of X, which no paired baseline sees.
    """

    STAGE: ClassVar[str] = "pseudo_sr_train"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "device", "num_threads", "progress")

    seed: int = 0  # global seed: init, the (seed, step) crop / degradation / noise streams
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    scale: int = 4  # SR factor (paper, realistic wild: x4; the unofficial faces config: 2)
    # data: Y = clean HR, X = degraded LR of other scenes; "manifest": the train split of data_prepare
    y_dir: str = "data/raw/DIV2K_train_HR"  # clean HR folder (DIV2K train) | manifest (train split)
    x_dir: str = "data/raw/DIV2K_train_LR_wild"  # degraded LR (NTIRE 2018 track 4) | manifest
    y_part: str = "even"  # positions of the sorted list Y takes: even | odd | all (ours)
    x_part: str = "odd"  # positions X takes (odd vs even: no scene on both sides, unpaired)
    proxy: bool = False  # X synthesised by the hidden pipeline below (labelled when true)
    train_max_side: int = 0  # shrink larger photos (memory; ours); 0 keeps
    gt_size: int = 128  # HR crop side; LR patch gt_size / scale (unofficial: LR 32)
    batch_size: int = 16  # crops per update (unofficial: 16 per GPU)
    flat_threshold: float = 0.0  # redraw crops of grey std below this (ours)
    # networks (srlib.models.pseudo_sr; U is srlib's SRResNet, as the ideal-degradation baseline)
    gyx_num_feat: int = 64  # G_{Y down -> X} width (unofficial TransferNet: 64)
    gyx_num_block: int = 6  # its residual blocks (unofficial: 6)
    z_feat: int = 8  # its noise-head channels (unofficial: 8)
    gxy_num_feat: int = 64  # G_{X -> Y down} width (ours; unofficial: RCAN)
    gxy_num_block: int = 8  # its residual blocks (ours)
    u_num_feat: int = 64  # U width (SRResNet: 64)
    u_num_block: int = 16  # U residual blocks (SRResNet: 16)
    u_bicubic_skip: bool = False  # U learns a residual over bicubic (not SRResNet's; labelled)
    d_num_feat: int = 64  # width of D_X, D_{Y down}, D_{X up} (unofficial PatchGAN: 64)
    d_num_layers: int = 3  # their stride layers (unofficial: 3)
    # losses of the LR part (unofficial faces.yaml OPT_CYC.LOSS; LSGAN as its GANLoss)
    w_cyc: float = 1.0  # one-way cycle |G_xy(G_yx(y_down)) - y_down|_1 (unofficial: 1)
    w_idt: float = 2.0  # identity |G_xy(y_down) - y_down|_1 (unofficial: 2; against colour shift)
    w_geo: float = 1.0  # geometric ensemble |G_xy(x) - mean_k T_k^-1 G_xy(T_k x)|_1 (unofficial: 1)
    w_dsr: float = 0.1  # D_{X up} term on the two LR generators, never U (unofficial: 0.1)
    # U (unofficial pseudo_model.py: pixel L1 on the pseudo pairs only)
    w_u_pix: float = 1.0  # L1 of U(G_xy(G_yx(y_down))) against y, the pseudo-supervision
    r1_gamma: float = 10.0  # R1 on the direct ablation's HR D (unofficial SR part: 10)
    # optimisation (unofficial faces.yaml; milestones as fractions of iters: 100k, 180k, 240k, 280k of 300k)
    iters: int = 300_000  # updates per run (unofficial MAX_ITER: 300k)
    lr_g: float = 1e-4  # Adam lr of G_yx and G_xy (unofficial: 1e-4)
    lr_d: float = 1e-4  # Adam lr of the discriminators (unofficial: 1e-4)
    beta1: float = 0.5  # Adam beta1 of the LR part (unofficial: 0.5)
    lr_u: float = 1e-4  # Adam lr of U (unofficial OPT_SR: 1e-4)
    beta1_u: float = 0.9  # Adam beta1 of U (unofficial: 0.9)
    lr_milestones: tuple[float, ...] = (0.333, 0.6, 0.8, 0.933)  # fractions of iters (unofficial)
    lr_decay: float = 0.5  # lr factor at each milestone, LR part (unofficial: 0.5)
    lr_decay_u: float = 0.9  # lr factor at each milestone, U (unofficial OPT_SR: 0.9)
    # runs
    variants: tuple[str, ...] = ("pseudo", "direct", "two_way")  # model; GAN-only U; two-way cycle
    baselines: tuple[str, ...] = ("bicubic", "blur", "realesrgan")  # paired SRResNets on Y
    finetune_iters: int = 0  # pixel-MSE x4plus fine-tune on Real-ESRGAN-degraded Y; 0 skips
    finetune_lr: float = 1e-4  # its Adam lr (Real-ESRGAN's finetune config: 1e-4)
    realesrgan_weights: str = "auto"  # x4plus release for the fine-tune: pretrained | auto | random
    log_interval: int = 100  # steps between log lines
    ckpt_interval: int = 5000  # steps between checkpoints (resume point)
    run_label: str = ""  # caveat printed with every number of this run

    def check(self) -> None:
        if self.scale not in (2, 4):
            raise ParamsError(f"{self.STAGE}: parameter 'scale' must be 2 or 4, got {self.scale}")
        if self.gt_size % (4 * self.scale):
            raise ParamsError(
                f"{self.STAGE}: parameter 'gt_size' must be divisible by 4 x scale = {4 * self.scale} "
                f"(the LR patch feeds a 1/4 noise map), got {self.gt_size}"
            )
        for name, known in (("variants", VARIANTS), ("baselines", BASELINES)):
            bad = [v for v in getattr(self, name) if v not in known]
            if bad:
                raise ParamsError(
                    f"{self.STAGE}: parameter {name!r} may list {', '.join(known)}, got {bad}"
                )
        self.require_choice(("y_part", "x_part"), PARTS)
        if "all" in (self.y_part, self.x_part) or self.y_part == self.x_part:
            if self.y_dir == self.x_dir or "manifest" in (self.y_dir, self.x_dir):
                raise ParamsError(f"{self.STAGE}: 'y_part' {self.y_part!r} and 'x_part' {self.x_part!r} of one "
                                  "image list overlap: X and Y must be unpaired")  # fmt: skip
        if "pseudo" not in self.variants:
            raise ParamsError(
                f"{self.STAGE}: parameter 'variants' must include 'pseudo' (the model)"
            )
        if self.finetune_iters and self.scale != 4:
            raise ParamsError(f"{self.STAGE}: 'finetune_iters' needs scale 4 (x4plus is x4 only)")
        for name in (
            "iters",
            "batch_size",
            "gyx_num_feat",
            "gxy_num_feat",
            "u_num_feat",
            "d_num_feat",
        ):
            if getattr(self, name) < 1:
                raise ParamsError(
                    f"{self.STAGE}: parameter {name!r} must be >= 1, got {getattr(self, name)}"
                )
        if self.finetune_iters < 0:
            raise ParamsError(f"{self.STAGE}: parameter 'finetune_iters' must be >= 0")
        _check_positive(self, ("lr_g", "lr_d", "lr_u", "finetune_lr"))
        if any(not 0 < m < 1 for m in self.lr_milestones):
            raise ParamsError(
                f"{self.STAGE}: 'lr_milestones' are fractions of iters, each in (0, 1)"
            )
        self.require_choice(("realesrgan_weights",), MODES)


@dataclass
class BlindSREvaluateConfig(StageConfig):
    """``blind_sr_evaluate`` (notebook 53): every engine of the project on one degraded test set, x4.

    The test LR of each image is drawn once from the same hidden family as X (seeded per image), so the table is
    blind for every row except the one labelled as knowing the family.
    """

    STAGE: ClassVar[str] = "blind_sr_evaluate"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "device", "num_threads", "progress")

    seed: int = 0  # seed of the test degradations, ZSSR, the bootstrap
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill)
    scale: int = 4  # SR factor; must be pseudo_sr_train's
    test_dir: str = "data/raw/DIV2K_valid_HR"  # HR test folder (DIV2K valid) | manifest (bench)
    bench_crop: int = 0  # test on centre crops (HR px); 0 whole images
    max_images: int = 0  # first N test images; 0 all
    photos: tuple[str, ...] = ()  # real JPEG photos without ground truth (qualitative grid, NIQE)
    photo_crop: int = 0  # centre crop of each photo (LR px); 0 whole
    # ZSSR rows (srlib.zssr; upstream configs.py values unless set here: CPU time)
    zssr_images: int = 0  # ZSSR on the first N test images; 0 all (its CIs are on those)
    zssr_max_iters: int = 3000  # iterations at most (ZSSR: 3000)
    zssr_crop_size: int = 128  # father crop side (ZSSR: 128), capped at the LR side
    zssr_noise_std: float = 0.0125  # noise on the sons (ZSSR X2_REAL_CONF: 0.0125)
    # the released Real-ESRGAN x4plus
    realesrgan_weights: str = "auto"  # pretrained | auto | random
    tile: int = 0  # x4plus tiled inference (0: whole image)
    # metrics (BasicSR conventions: 8-bit outputs, Y of BT.601, scale px border off)
    lpips_net: str = "alex"  # LPIPS trunk (LPIPS v0.1 default: alex)
    lpips_weights: str = "auto"  # pretrained | auto | random
    fid_weights: str = "auto"  # KID's FID Inception: pretrained | auto | random
    kid_dims: int = 2048  # Inception features (pool3: 2048)
    kid_subsets: int = 100  # KID subsets (Binkowski et al.: 100)
    kid_subset_size: int = 1000  # KID subset size (capped at the image count)
    n_boot: int = 10000  # bootstrap resamples of the paired CIs
    reference: str = "references/pseudo_sr_maeda.csv"  # what the paper states (datasets, scale)
    run_label: str = ""  # caveat printed with every number of this run

    def check(self) -> None:
        if self.scale not in (2, 4):
            raise ParamsError(f"{self.STAGE}: parameter 'scale' must be 2 or 4, got {self.scale}")
        if self.bench_crop and self.bench_crop % (4 * self.scale):
            raise ParamsError(
                f"{self.STAGE}: parameter 'bench_crop' must be divisible by {4 * self.scale}, got {self.bench_crop}"
            )
        for name in (
            "zssr_max_iters",
            "zssr_crop_size",
            "kid_dims",
            "kid_subsets",
            "kid_subset_size",
        ):
            if getattr(self, name) < 1:
                raise ParamsError(
                    f"{self.STAGE}: parameter {name!r} must be >= 1, got {getattr(self, name)}"
                )
        self.require_choice(("realesrgan_weights", "lpips_weights", "fid_weights"), MODES)
        self.require_choice(("lpips_net",), LPIPS_NETS)
