"""Real-ESRGAN's stage config: ``realesrgan_pretrained`` (Wang et al., ICCVW 2021).

Wang, Xie, Dong & Shan, *Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data*, ICCVW 2021
(https://arxiv.org/abs/2107.10833). The stage measures the released RealESRGAN_x4plus network (srlib's conversion of
its fp16 ncnn release, :func:`srlib.convert.releases.load_model`) beside bicubic on the study's benchmark: the
classic protocol of :mod:`srlib.evaluation` (x4 MATLAB-bicubic LR, PSNR / SSIM on Y) plus LPIPS, NIQE and KID. The
paper itself reports NIQE only, on real-world sets without ground truth (Table 1); fields the paper does not fix say
so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from srlib.config import ParamsError, StageConfig
from srlib.precision import PRECISIONS
from srlib.weights import MODES

LPIPS_NETS = ("alex", "vgg")
KID_DIMS = (64, 192, 768, 2048)  # pytorch-fid's Inception blocks


@dataclass
class RealESRGANPretrainedConfig(StageConfig):
    """``realesrgan_pretrained`` (notebook 50): bicubic vs the pretrained Real-ESRGAN x4plus on the benchmark.

    Each benchmark image, mod-cropped to the scale, is the ground truth; its 8-bit MATLAB-bicubic x1/4 downscale is
    the input (the study's degradation, as ``srgan_evaluate``). x4plus runs through srlib's tiled inference.
    """

    STAGE: ClassVar[str] = "realesrgan_pretrained"
    COMMON: ClassVar[tuple[str, ...]] = ("seed", "scale", "device", "num_threads", "progress")

    seed: int = (
        0  # seed of the bootstrap and of any random-initialised metric network (not in the paper)
    )
    scale: int = 4  # SR factor: RealESRGAN_x4plus is a x4 network (paper: x4 throughout)
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch CPU threads; 0 keeps torch's default
    progress: bool = False  # tqdm bars (off under DVC/papermill; the log line is the record)
    weights: str = (
        "auto"  # x4plus weights: pretrained | auto (random init, labelled, if unavailable) | random
    )
    tile: int = 256  # tile side in LR pixels for x4plus (0: whole image; the official script's default is 0)
    overlap: int = (
        32  # minimum tile overlap in LR pixels, feathered blending (the official script pads 10 px)
    )
    precision: str = (
        "fp32"  # auto | fp32 | fp16 | bf16 inference (the official script: fp16 on GPU)
    )
    crop_border: int = (
        4  # pixels removed on each side before PSNR / SSIM / NIQE (= scale, BasicSR convention)
    )
    max_images: int = 0  # use the first N benchmark images (0: all; at least 2 for the CIs and KID)
    eval_crop: int = (
        0  # centre-crop each ground truth to this side first (0: whole images; not in the paper)
    )
    n_boot: int = 10_000  # bootstrap resamples of the images for the 95 % CIs (srlib.stats)
    lpips_net: str = "alex"  # LPIPS v0.1 trunk: alex | vgg (not in the paper)
    lpips_weights: str = (
        "auto"  # LPIPS trunk: pretrained | auto | random (auto: random trunk if absent, labelled)
    )
    fid_weights: str = "auto"  # KID's FID Inception: pretrained | auto | random
    kid_dims: int = 2048  # Inception feature block for KID (pool3: 2048)
    kid_subsets: int = 100  # KID: random subsets averaged (Binkowski et al. 2018)
    kid_subset_size: int = 1000  # KID: images per subset (capped at the number of images)
    zoom_size: int = 96  # side of the zoomed crops in the comparison figures (ground-truth pixels)

    def check(self) -> None:
        def refuse(name: str, why: str) -> None:
            raise ParamsError(
                f"{self.STAGE}: parameter {name!r} {why}, got {getattr(self, name)!r}"
            )

        if self.scale != 4:
            raise ParamsError(
                f"{self.STAGE}: common.scale={self.scale} cannot be honoured: RealESRGAN_x4plus is a x4 network; "
                "keep scale: 4 for this stage"
            )
        for name in ("weights", "lpips_weights", "fid_weights"):
            if getattr(self, name) not in MODES:
                refuse(name, f"must be one of {', '.join(MODES)}")
        if self.precision not in PRECISIONS:
            refuse("precision", f"must be one of {', '.join(PRECISIONS)}")
        if self.lpips_net not in LPIPS_NETS:
            refuse("lpips_net", f"must be one of {', '.join(LPIPS_NETS)}")
        if self.kid_dims not in KID_DIMS:
            refuse("kid_dims", f"must be one of {', '.join(map(str, KID_DIMS))}")
        if self.tile < 0 or self.overlap < 0:
            refuse("tile" if self.tile < 0 else "overlap", "must be >= 0")
        if 0 < self.tile <= self.overlap:
            refuse("tile", f"must be 0 or larger than overlap={self.overlap}")
        if self.crop_border < 0:
            refuse("crop_border", "must be >= 0")
        least = 2 * 96 + 2 * self.crop_border  # NIQE needs two 96 x 96 blocks after the border crop
        if self.eval_crop < 0 or 0 < self.eval_crop < least:
            refuse(
                "eval_crop", f"must be 0 (whole images) or >= {least} (two NIQE blocks of 96 px)"
            )
        if self.max_images < 0 or self.max_images == 1:
            refuse("max_images", "must be 0 (all) or >= 2 (the CIs and KID need two images)")
        if self.n_boot < 1:
            refuse("n_boot", "must be >= 1")
        if self.kid_subsets < 1 or self.kid_subset_size < 2:
            refuse("kid_subsets" if self.kid_subsets < 1 else "kid_subset_size", "is too small")
        if self.zoom_size < 8:
            refuse("zoom_size", "must be >= 8")
