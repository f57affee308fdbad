"""Tiny GAN trainings that the data-parallel test runs in one process and under ``torchrun --nproc_per_node 2``
(gloo, CPU); each writes its final networks (``final.pth``) and its history.

* ``realesrgan``: RRDBNet G, the U-Net spectral-norm D (power-iteration buffers), VGG perceptual loss, the pool;
* ``hallucination``: the diverse-hallucination G and its two pyramid D's, with R1 (a double backward under DDP).

    python tests/ddp_worker.py OUT_DIR [--engine realesrgan|hallucination] [--iters N] [--resume-from DIR]
"""

import argparse
import shutil
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srlib import distributed, tracking  # noqa: E402
from srlib.data.degradations_realesrgan import RealESRGANDegradationConfig  # noqa: E402
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN  # noqa: E402
from srlib.realesrgan import train as train_realesrgan  # noqa: E402
from srlib.realesrgan.pairs import RealESRGANPairs  # noqa: E402

torch.set_num_threads(1)


def photo(seed, size=48):
    x = torch.rand(3, size // 8, size // 8, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False)[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--resume-from", default="")
    ap.add_argument("--engine", default="realesrgan", choices=["realesrgan", "hallucination"])
    args = ap.parse_args()
    out = Path(args.out)
    run_dir = out / "run"
    if args.resume_from and distributed.is_main():
        shutil.copytree(args.resume_from, run_dir)
    distributed.init("cpu")
    distributed.barrier()
    nets = (
        realesrgan(run_dir, args.iters)
        if args.engine == "realesrgan"
        else hallucination(run_dir, args.iters)
    )
    state = {k: n.state_dict() for k, n in nets.items()}
    tracking.save_checkpoint(out / "final.pth", state | {"world_size": distributed.world_size()})


def realesrgan(run_dir: Path, iters: int) -> dict:
    cfg = RealESRGANDegradationConfig(gt_size=32, crop_pad_size=48, queue_size=4)
    data = RealESRGANPairs(
        [photo(0), photo(1, 56)], cfg=cfg, batch_size=4, seed=0
    )  # the global batch
    torch.manual_seed(1)
    g, d = RRDBNet(num_feat=16, num_block=1, num_grow_ch=8), UNetDiscriminatorSN(num_feat=8)
    torch.manual_seed(2)
    vgg = train_realesrgan.make_vgg("random")
    _, g_ema = train_realesrgan.fit_realesrgan(g=g, d=d, vgg=vgg, data=data, iters=iters, run_dir=run_dir,
                                               lr_g=1e-3, lr_d=1e-3, log_interval=1, ckpt_interval=2)  # fmt: skip
    return {"g": g, "d": d, "g_ema": g_ema}


def hallucination(run_dir: Path, iters: int) -> dict:
    from types import SimpleNamespace

    from srlib.data.patches import PairedPatches
    from srlib.hallucination import data as hdata
    from srlib.hallucination import train as htrain
    from srlib.hallucination.config import HallucinationTrainConfig
    from srlib.models import hallucination as hm

    cfg = HallucinationTrainConfig(profile="smoke", scale=2, gt_size=16, batch_size=4, iters=iters, log_interval=1,
                                   ckpt_interval=2, percep_net="inception")  # fmt: skip
    data = PairedPatches(
        [photo(0), photo(1, 56)], scale=2, gt_size=16, batch_size=4, degrade=hdata.degrade(2)
    )
    torch.manual_seed(1)
    g = hm.HallucinationGenerator(scale=2, num_feat=8, num_block=1, noise_dim=4)
    d_img = hm.PyramidDiscriminator(scale=2, in_ch=3, cond_ch=3, num_feat=8, num_block=1)
    d_grad = hm.PyramidDiscriminator(scale=2, in_ch=1, num_feat=8, num_block=1)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1).requires_grad_(False)
    conv.status = SimpleNamespace(source="test stand-in", comparable=False)
    htrain.fit(cfg, g=g, d_img=d_img, d_grad=d_grad, percep=htrain.L1Features(conv), data=data, alpha=1.0,
               run_dir=run_dir)  # fmt: skip
    return {"g": g, "d_img": d_img, "d_grad": d_grad}


if __name__ == "__main__":
    main()
