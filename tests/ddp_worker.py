"""Tiny GAN trainings that the data-parallel test runs in one process and under ``torchrun --nproc_per_node 2``
(gloo, CPU); each writes its final networks (``final.pth``) and its history.

* ``realesrgan``: RRDBNet G, the U-Net spectral-norm D (power-iteration buffers), VGG perceptual loss, the pool;
* ``hallucination``: the diverse-hallucination G and its two pyramid D's, with R1 (a double backward under DDP);
* ``cut``: CUT's ResNet G, PatchGAN D and PatchNCE head F (F called four times per G step, G's encoder outside DDP's
  forward) with the identity NCE;
* ``m3``: the unpaired end-to-end M3 (RRDBNet G, cross-scale PatchNCE).

    python tests/ddp_worker.py OUT_DIR [--engine realesrgan|hallucination|cut|m3] [--iters N] [--resume-from DIR]
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
    ap.add_argument("--engine", default="realesrgan", choices=list(ENGINES))
    args = ap.parse_args()
    out = Path(args.out)
    run_dir = out / "run"
    if args.resume_from and distributed.is_main():
        shutil.copytree(args.resume_from, run_dir)
    distributed.init("cpu")
    distributed.barrier()
    nets = ENGINES[args.engine](run_dir, args.iters)
    state = {k: n.state_dict() if isinstance(n, torch.nn.Module) else n for k, n in nets.items()}
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


def cut(run_dir: Path, iters: int) -> dict:
    from srlib.cut import data as cut_data
    from srlib.cut import train as train_cut

    cfg = train_cut.CUTConfig(num_patches=16, load_size=36, crop_size=32, batch_size=4, lr=1e-3)
    data = cut_data.UnpairedCrops(
        [photo(0, 40), photo(1, 36)], [photo(2, 36)], load_size=36, crop_size=32, batch_size=4
    )
    torch.manual_seed(1)
    g, d, f = train_cut.build_cut(num_feat=8, num_block=2, num_feat_d=8, netf_nc=16)
    train_cut.fit_cut(g=g, d=d, f=f, data=data, cfg=cfg, iters=iters, run_dir=run_dir, steps_per_epoch=2,
                      log_interval=1, ckpt_interval=2)  # fmt: skip
    return {"g": g, "d": d, "f": f} | probed(g, d, photo(7, 32)[None] * 2 - 1)


def probed(g: torch.nn.Module, d: torch.nn.Module, x: torch.Tensor, to_d=lambda sr: sr) -> dict:
    """What G and D (on G's output, mapped by ``to_d``) compute on an input they never saw, and the parameters
    that cannot matter."""
    with torch.no_grad():
        sr = g(x)
        probe = torch.cat((sr.flatten(), d(to_d(sr)).flatten()))
    noise = [
        f"{n}.{k}" for n, net in (("g", g), ("d", d)) for k in biases_before_instance_norm(net)
    ]
    return {"probe": probe, "noise_driven": noise}


def biases_before_instance_norm(net: torch.nn.Module) -> list[str]:
    """Biases of the convolutions an InstanceNorm follows (CUT keeps them: ``use_bias`` with IN): the norm removes
    them from the output, so their true gradient is 0 and what they get is float rounding, which Adam normalises
    into lr-sized steps of arbitrary sign -- they differ between any two summation orders, and change nothing."""
    out = []
    for prefix, m in net.named_modules():
        if isinstance(m, torch.nn.Sequential):
            kids = list(m.named_children())
            for (name, a), (_, b) in zip(kids, kids[1:]):
                if isinstance(b, torch.nn.InstanceNorm2d) and getattr(a, "bias", None) is not None:
                    out.append(f"{prefix}.{name}.bias" if prefix else f"{name}.bias")
    return out


def m3(run_dir: Path, iters: int) -> dict:
    from srlib.models.cut import NLayerDiscriminator, PatchSampleF
    from srlib.night2day import m3 as night2day_m3
    from srlib.night2day.pairs import UnpairedCrossScale

    def u8(x):
        return (x * 255).round().to(torch.uint8)

    day_hr = torch.stack([photo(i, 32) for i in range(4)])
    night = torch.stack([photo(10 + i, 8) for i in range(4)])
    data = UnpairedCrossScale(u8(night), u8(day_hr), u8(F.avg_pool2d(day_hr, 4)), batch_size=4)
    torch.manual_seed(1)
    g, d = RRDBNet(num_feat=4, num_block=1, num_grow_ch=4), NLayerDiscriminator(num_feat=4)
    f = PatchSampleF(in_channels=[4, 4], num_feat=8)
    night2day_m3.fit_m3_unpaired(g=g, d=d, f=f, data=data, iters=iters, run_dir=run_dir, steps_per_epoch=2,
                                 n_epochs=1, n_epochs_decay=2, nce_layers=(0, 1), num_patches=16, lr=1e-3,
                                 log_interval=1, ckpt_interval=2)  # fmt: skip
    return {"g": g, "d": d, "f": f} | probed(g, d, photo(7, 8)[None], to_d=lambda sr: sr * 2 - 1)


ENGINES = {"realesrgan": realesrgan, "hallucination": hallucination, "cut": cut, "m3": m3}

if __name__ == "__main__":
    main()
