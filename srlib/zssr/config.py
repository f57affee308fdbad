"""The degradation study's stage configs: ``degradation_matrix`` (notebook 60) and ``zssr`` (notebook 61).

The study measures two claims of the seed essay ("Image Super-resolution", W. Fok): a network trained on one simple
degradation does poorly on any other (claim 2: the train x test matrix), and Zero-Shot SR (Shocher, Cohen & Irani,
CVPR 2018), trained on the test image alone, adapts to that image's degradation where external models fail (claim 3).
``params.yaml`` holds the same values; each field says where its value comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import ParamsError, StageConfig
from srlib.weights import MODES

# the three degradations of the matrix (srlib.zssr.matrix.degrade): train on each, test on each
DEGRADATIONS = ("bicubic", "blur", "realesrgan")
KERNELS = ("known", "bicubic")  # ZSSR's son kernel: the test degradation's, or bicubic assumed


def _check_common(cfg) -> None:
    if cfg.scale not in (2, 4):
        raise ParamsError(f"{cfg.STAGE}: parameter 'scale' must be 2 or 4, got {cfg.scale}")
    if cfg.blur_sigma < 0:
        raise ParamsError(f"{cfg.STAGE}: parameter 'blur_sigma' must be >= 0, got {cfg.blur_sigma}")
    if cfg.bench_crop and cfg.bench_crop % 4:
        raise ParamsError(
            f"{cfg.STAGE}: parameter 'bench_crop' must be divisible by 4 (both scales), got {cfg.bench_crop}"
        )
    lists = ("train_degradations", "test_degradations")
    for name in [n for n in lists if hasattr(cfg, n)]:
        bad = [d for d in getattr(cfg, name) if d not in DEGRADATIONS]
        if bad or not getattr(cfg, name):
            raise ParamsError(
                f"{cfg.STAGE}: parameter {name!r} must list some of {', '.join(DEGRADATIONS)}, got {bad or '[]'}"
            )


@dataclass
class DegradationMatrixConfig(StageConfig):
    """``degradation_matrix`` (notebook 60): one reduced SRResNet per training degradation, each tested on all.

    The three networks see the same HR crops in the same order (the ``(seed, step)`` stream); only the way their LR
    is made differs. The test LR of each benchmark image is drawn once per (image, degradation), seeded, and is the
    same for every row (and for ZSSR in notebook 61).
    """

    STAGE: ClassVar[str] = "degradation_matrix"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "device", "num_threads", "progress")

    seed: int = 0  # global seed: initialisation, the crop stream, the test degradations
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    scale: int = 2  # SR factor (ZSSR's Table 1 is x2; 4 also runs)
    train_degradations: tuple[str, ...] = ("bicubic", "blur", "realesrgan")  # a network each
    test_degradations: tuple[str, ...] = ("bicubic", "blur", "realesrgan")  # the columns
    blur_sigma: float = 0.0  # Gaussian sigma of (b); 0 means 1.6 s / 3 (RDN's BD, scaled)
    # data
    train_max_side: int = 0  # shrink larger training photos (memory); 0 keeps
    gt_size: int = 96  # HR crop side (SRGAN: 96)
    batch_size: int = 16  # crops per update (SRGAN: 16)
    flat_threshold: float = 0.0  # redraw crops of grey std below this (ours)
    bench_crop: int = 0  # test on benchmark centre crops (HR px); 0 whole images
    max_images: int = 0  # first N benchmark images; 0 all
    # the network: SRResNet (Ledig 2017) reduced, trained with pixel MSE (SRResNet-MSE)
    num_feat: int = 64  # width (Ledig: 64)
    num_block: int = 8  # residual blocks (Ledig: 16; halved: the reduced SRResNet)
    bicubic_skip: bool = False  # learn the residual over bicubic (not Ledig's; labelled)
    iters: int = 100_000  # MSE updates per network (Ledig: 1e6 for SRResNet; ours)
    lr_g: float = 1e-4  # Adam lr (Ledig: 1e-4)
    beta1: float = 0.9  # Adam beta1 (Ledig: 0.9)
    # extra rows
    x4_block: bool = True  # also test bicubic and Real-ESRGAN x4plus at x4 (x4plus is x4 only)
    realesrgan_weights: str = "auto"  # x4plus release, x4 block only: pretrained | auto | random
    tile: int = 0  # x4plus tiled inference (0: whole image)
    n_boot: int = 10000  # bootstrap resamples of the paired CIs
    log_interval: int = 100  # steps between log lines
    ckpt_interval: int = 5000  # steps between checkpoints (resume point)
    run_label: str = ""  # caveat printed with every number of this run

    def check(self) -> None:
        _check_common(self)
        if self.gt_size % self.scale:
            raise ParamsError(
                f"{self.STAGE}: parameter 'gt_size' must be divisible by scale={self.scale}, got {self.gt_size}"
            )
        for name in ("iters", "batch_size", "num_feat", "num_block"):
            if getattr(self, name) < 1:
                raise ParamsError(
                    f"{self.STAGE}: parameter {name!r} must be >= 1, got {getattr(self, name)}"
                )
        self.require_choice(("realesrgan_weights",), MODES)


@dataclass
class ZSSRConfig(StageConfig):
    """``zssr`` (notebook 61): ZSSR per test image, known and assumed kernels, its ablations, seeds, real photos.

    The defaults are upstream ZSSR's ``configs.py`` (``Config()`` = ``X2_ONE_JUMP_IDEAL_CONF``, the ideal x2 case);
    ``scale``, ``blur_sigma``, ``bench_crop`` and ``seed`` must be notebook 60's, so that ZSSR sees the same test LR
    as the matrix's rows (the stage refuses otherwise).
    """

    STAGE: ClassVar[str] = "zssr"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "device", "num_threads", "progress")

    seed: int = 0  # seed of the test degradations (as notebook 60), of ZSSR's crops and init
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill)
    scale: int = 2  # SR factor (ZSSR's Table 1: x2); as degradation_matrix
    test_degradations: tuple[str, ...] = ("bicubic", "blur", "realesrgan")  # as notebook 60
    kernels: tuple[str, ...] = ("known", "bicubic")  # son kernel: the test's | bicubic assumed
    blur_sigma: float = 0.0  # as degradation_matrix (0: 1.6 s / 3)
    bench_crop: int = 0  # as degradation_matrix (HR centre crops; 0 whole images)
    max_images: int = 0  # ZSSR on the first N benchmark images; 0 all
    # the network (configs.py: width, depth, init_variance, learn_residual)
    num_feat: int = 64  # hidden channels (ZSSR: 64)
    num_layer: int = 8  # convolutions (ZSSR: 8)
    init_variance: float = 0.1  # weights ~ N(0, v / fan_in) (ZSSR: 0.1)
    # optimisation (configs.py; the policy is ZSSR.py's learning_rate_policy)
    lr: float = 1e-3  # Adam lr, first value (ZSSR: 0.001)
    max_iters: int = 3000  # iterations at most (ZSSR: 3000)
    min_iters: int = 256  # iterations since the last lr change before a check (ZSSR: 256)
    min_lr: float = 9e-6  # stop once lr is below this (ZSSR: 9e-6)
    lr_check_every: int = 60  # lr policy cadence (ZSSR: 60)
    lr_slope_range: int = 256  # iterations the linear fit spans (ZSSR: 256)
    test_every: int = 50  # reconstruction-MSE test cadence, the fit's points (ZSSR: 50)
    lr_change_ratio: float = 1.5  # divide lr by 10 when -ratio x slope < std (ZSSR: 1.5)
    # training pairs (configs.py's augment_* and noise_std; utils.py's random_augment)
    crop_size: int = 128  # father crop side (ZSSR: 128)
    noise_std: float = 0.0  # Gaussian noise on the sons (ZSSR: 0; 0.0125 real)
    p_leave_as_is: float = 0.05  # a plain crop as father (ZSSR: 0.05)
    p_no_interpolate: float = 0.45  # a crop under 1 of 8 dihedral maps (ZSSR: 0.45)
    min_scale: float = 0.5  # affine fathers: scale ~ U[min_scale, 1] (ZSSR: 0.5)
    scale_diff_sigma: float = 0.25  # affine: x / y scale difference ~ N(0, s) (ZSSR: 0.25)
    shear_sigma: float = 0.1  # affine: shear ~ N(0, s) (ZSSR: 0.1)
    allow_rotation: bool = True  # rotations and reflections (ZSSR: true)
    # inference (ZSSR.py final_test)
    ensemble: bool = True  # 8 dihedral passes, median (ZSSR: output_flip true)
    bp_iters: int = 10  # back-projection iterations (ZSSR: 10)
    gradual: bool = False  # x4 as two x2 ZSSR runs, the second on the first output
    # what this study adds
    variance_seeds: tuple[int, ...] = (0, 1, 2)  # ZSSR reruns (seeds) for run-to-run variance
    variance_images: int = 4  # images the seeds are run on (bicubic test, known kernel)
    night_photos: tuple[str, ...] = ()  # real photos without ground truth, scored with NIQE
    night_crop: int = 0  # centre crop of each (LR px; 0 whole): CPU time
    night_noise_std: float = 0.0125  # real photos: X2_REAL_CONF's noise_std (0.0125)
    n_boot: int = 10000  # bootstrap resamples of the paired CIs
    reference: str = "references/zssr_shocher.csv"  # Table 1 (x2, PSNR-Y) typed in
    run_label: str = ""  # caveat printed with every number of this run

    def check(self) -> None:
        _check_common(self)
        bad = [k for k in self.kernels if k not in KERNELS]
        if bad or not self.kernels:
            raise ParamsError(
                f"{self.STAGE}: parameter 'kernels' must list some of {', '.join(KERNELS)}, got {bad or '[]'}"
            )
        for name in (
            "max_iters",
            "min_iters",
            "lr_check_every",
            "test_every",
            "num_feat",
            "crop_size",
        ):
            if getattr(self, name) < 1:
                raise ParamsError(
                    f"{self.STAGE}: parameter {name!r} must be >= 1, got {getattr(self, name)}"
                )
        for name in ("lr", "min_lr"):
            if not getattr(self, name) > 0:
                raise ParamsError(
                    f"{self.STAGE}: parameter {name!r} must be > 0, got {getattr(self, name)}"
                )
        if self.num_layer < 2:
            raise ParamsError(
                f"{self.STAGE}: parameter 'num_layer' must be >= 2, got {self.num_layer}"
            )
        if self.lr_slope_range // self.test_every < 5:
            raise ParamsError(
                f"{self.STAGE}: 'lr_slope_range' / 'test_every' must give >= 5 points for the linear fit"
            )
        if not 0 <= self.p_leave_as_is + self.p_no_interpolate <= 1:
            raise ParamsError(
                f"{self.STAGE}: 'p_leave_as_is' + 'p_no_interpolate' must be within [0, 1]"
            )
        if self.crop_size % self.scale:
            raise ParamsError(
                f"{self.STAGE}: parameter 'crop_size' must be divisible by scale={self.scale}"
            )
        if self.gradual and self.scale != 4:
            raise ParamsError(
                f"{self.STAGE}: 'gradual' needs scale 4 (two x2 steps), got {self.scale}"
            )
