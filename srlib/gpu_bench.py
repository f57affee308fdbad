"""The measurements of the one prepared GPU run (:mod:`srlib.gpu_run`); each returns a dict of plain figures.

* :func:`bench_matmul` -- an 8192³ bf16 matrix product: the chip's achievable dense rate, beside the datasheet peak.
* :func:`bench_rrdbnet` -- RRDBNet (RealESRGAN_x4plus: 23 RRDBs, 64 features, x4) inference at 256² in fp32 (TF32
  convolutions, PyTorch's default), bf16 autocast and bf16 + channels_last: img/s, TFLOP/s and the share of the
  bf16 dense peak, with the FLOPs counted from the model (``torch.utils.flop_counter`` on the meta device).
* :func:`bench_compile` -- the same under ``torch.compile``, in a child process with a timeout (a compile that
  hangs or takes minutes costs its timeout, not the run): ``python -m srlib.gpu_bench compile ...``.
* :func:`bench_pixel_metrics` -- batched PSNR / SSIM (:mod:`srlib.metrics.pixel`) vs scikit-image on the same
  pairs: pairs/s of each and the largest difference of the values.
* :func:`bench_fid_features` -- Inception pool3 feature extraction (:mod:`srlib.metrics.inception`): img/s.
* :func:`bench_train_steps` -- SRResNet-MSE and SRGAN-VGG54 steps/s of the SRGAN family through the real
  ``srgan.train.fit`` (the stage's batches, networks and cudnn settings) per precision / memory format.
* :func:`bench_family_steps` -- the same for the other families (modified SRGAN, Real-ESRGAN, CUT at M1's and M2's
  sizes, the unpaired M3) through their real fit loops (:func:`family_fits`), per precision, with the time the
  gpu profile's iterations of each would take.
* :func:`layout_checks` -- the two PyTorch CPU bugs of the NHWC option (:func:`instance_norm_nhwc_error`,
  :func:`compiled_nhwc_pad_backward`) asked of this device: whether CUT and M3 may train with ``channels_last``.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from srlib import precision as amp

# Dense bf16 tensor-core peaks (TFLOP/s) by device-name fragment, from the vendors' datasheets (the sparsity figure
# halved). The H200's and the H100 SXM's are the same chip rate; KINDS.md measured ~790 TFLOP/s on an 8192³ product.
PEAKS = (
    (
        "H200",
        989.5,
        "NVIDIA H200 Tensor Core GPU datasheet: BF16 1,979 TFLOPS with sparsity = 989.5 dense",
    ),
    (
        "H100 PCIe",
        756.5,
        "NVIDIA H100 datasheet (PCIe): BF16 1,513 TFLOPS with sparsity = 756.5 dense",
    ),
    ("H100", 989.5, "NVIDIA H100 datasheet (SXM): BF16 1,979 TFLOPS with sparsity = 989.5 dense"),
    ("A100", 312.0, "NVIDIA A100 datasheet: BF16 312 TFLOPS dense"),
)


def peak_bf16(device: torch.device) -> dict:
    """``{"tflops", "source"}`` of the device's dense bf16 peak (None where no datasheet figure is known)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return {"tflops": None, "source": f"no peak for {device.type}"}
    name = torch.cuda.get_device_name(device)
    for key, tflops, source in PEAKS:
        if key in name:
            return {"tflops": tflops, "source": source}
    return {"tflops": None, "source": f"no datasheet figure known for {name}"}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(
    fn: Callable[[], object], device: torch.device, *, repeats: int, warmup: int = 2
) -> float:
    """Median wall seconds of ``fn()`` (the device synchronised around each call) after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def counted_flops(fn: Callable[[], object]) -> int:
    """FLOPs ``fn()`` runs (convolutions and matrix products, forward and backward) by torch's flop counter."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def rates(flops: float, seconds: float, items: int, peak: dict) -> dict:
    """Throughput figures of one timing: per second, TFLOP/s and the share of the bf16 peak."""
    tflops = flops / seconds / 1e12
    share = tflops / peak["tflops"] if peak["tflops"] else None
    return {
        "ms": seconds * 1e3,
        "per_s": items / seconds,
        "tflops": tflops,
        "share_of_bf16_peak": share,
    }


def bench_matmul(device: torch.device, *, n: int, repeats: int) -> dict:
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    t = timed(lambda: a @ b, device, repeats=repeats)
    return {"n": n, "dtype": str(dtype), **rates(2 * n**3, t, 1, peak_bf16(device))}


def rrdbnet(device: torch.device, *, tiny: bool, size: int, batch: int) -> tuple:
    """``(net, x, flops, info)``: RealESRGAN_x4plus (its file if present, else random-init; the dry run: a 1-block
    8-feature twin) on ``device``, a random batch, the batch's FLOPs counted on a meta-device copy (no compute)."""
    from srlib.models.esrgan import RRDBNet, load_realesrgan_x4plus

    torch.manual_seed(0)
    if tiny:
        net, weights = (
            RRDBNet(num_feat=8, num_block=1, num_grow_ch=8).eval(),
            "random-init (dry run)",
        )
    else:
        try:
            net, status = load_realesrgan_x4plus("auto")
            weights = status.source
        except Exception as exc:  # whatever loads: the speed does not depend on the weights
            net, weights = RRDBNet().eval(), f"random-init (loading failed: {type(exc).__name__})"
    with torch.device("meta"):
        twin, probe = type(net)(**net.arch_kwargs), torch.empty(1, 3, size, size)
    flops = counted_flops(lambda: twin(probe)) * batch
    x = torch.rand(batch, 3, size, size).to(device)
    info = {"arch": dict(net.arch_kwargs), "weights": weights, "size": size, "batch": batch}
    return net.to(device), x, flops, info | {"flops_per_image": flops / batch}


def bench_rrdbnet(device: torch.device, *, tiny: bool, size: int, batch: int, repeats: int) -> dict:
    """Eager inference: fp32 (TF32 convolutions), bf16 autocast, bf16 + channels_last (cuDNN autotuned)."""
    torch.backends.cudnn.benchmark = True  # one input shape: let cuDNN pick its fastest kernels
    net, x, flops, out = rrdbnet(device, tiny=tiny, size=size, batch=batch)
    peak = peak_bf16(device)
    variants = {
        "fp32": ("fp32", False),
        "bf16": ("bf16", False),
        "bf16_channels_last": ("bf16", True),
    }
    with torch.inference_mode():
        ref = net(x).float()
        for name, (prec, nhwc) in variants.items():
            fmt = torch.channels_last if nhwc else torch.contiguous_format
            net.to(memory_format=fmt)
            xi = x.contiguous(memory_format=fmt)

            def fn(xi=xi, prec=prec):
                with amp.autocast(prec, device):
                    return net(xi)

            out[name] = rates(flops, timed(fn, device, repeats=repeats), batch, peak)
            out[name]["max_abs_diff_vs_fp32"] = float((fn().float() - ref).abs().max())
    net.to(memory_format=torch.contiguous_format)
    return out | {"tf32_convolutions": bool(torch.backends.cudnn.allow_tf32)}


def compiled_rrdbnet(spec: dict) -> dict:
    """``torch.compile(backend=spec["backend"])`` of RRDBNet: the first call's seconds (the compile) and the
    throughput after, in fp32 and bf16. Runs in the child process of :func:`bench_compile`."""
    device = torch.device(spec["device"])
    torch.backends.cudnn.benchmark = True
    net, x, flops, out = rrdbnet(device, tiny=spec["tiny"], size=spec["size"], batch=spec["batch"])
    out["backend"] = spec["backend"]
    with torch.inference_mode():
        for prec in ("fp32", "bf16"):
            torch._dynamo.reset()
            compiled = torch.compile(net, backend=spec["backend"])

            def fn(compiled=compiled, prec=prec):
                with amp.autocast(prec, device):
                    return compiled(x)

            first = timed(fn, device, repeats=1, warmup=0)
            speed = rates(
                flops, timed(fn, device, repeats=spec["repeats"]), spec["batch"], peak_bf16(device)
            )
            out[prec] = speed | {"compile_s": first}
    return out


def bench_compile(device: torch.device, *, timeout_s: float, **spec) -> dict:
    """:func:`compiled_rrdbnet` in a child process (``python -m srlib.gpu_bench RESULT SPEC``) that is killed after
    ``timeout_s``: a compile that hangs or takes minutes costs its timeout, not the rest of the run."""
    if timeout_s < 10:
        return {"status": f"skipped: {timeout_s:.0f} s left of the run", "backend": spec["backend"]}
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "compile.json"
        cmd = [sys.executable, "-m", "srlib.gpu_bench", str(result)]
        cmd.append(json.dumps(spec | {"device": str(device)}))
        t = time.perf_counter()
        # its own process group: a timeout also ends the compile workers inductor starts
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            output, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"status": f"timed out after {timeout_s:.0f} s", "backend": spec["backend"]}
        if proc.returncode != 0 or not result.is_file():
            tail = " | ".join(output.strip().splitlines()[-3:])
            return {
                "status": f"failed (exit {proc.returncode}): {tail}",
                "backend": spec["backend"],
            }
        return json.loads(result.read_text()) | {
            "status": "ok",
            "process_s": time.perf_counter() - t,
        }


def bench_pixel_metrics(device: torch.device, *, pairs: int, size: int, repeats: int) -> dict:
    """:mod:`srlib.metrics.pixel` (batched, float64, on ``device``) vs scikit-image (a call per image, CPU)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from srlib.metrics import pixel

    g = torch.Generator().manual_seed(0)
    gt8 = torch.randint(0, 256, (pairs, 3, size, size), generator=g, dtype=torch.int16)
    sr8 = (gt8 + torch.randint(-20, 21, gt8.shape, generator=g, dtype=torch.int16)).clamp(0, 255)
    gt, sr = (gt8.float() / 255).to(device), (sr8.float() / 255).to(device)
    hwc = [[x.permute(1, 2, 0).numpy().astype("uint8") for x in t] for t in (sr8, gt8)]
    pairs_np = list(zip(*hwc))
    sk = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    refs = {
        "ssim": lambda: [structural_similarity(a, b, channel_axis=-1, **sk) for a, b in pairs_np],
        "psnr": lambda: [peak_signal_noise_ratio(b, a, data_range=255) for a, b in pairs_np],
    }
    out: dict = {"pairs": pairs, "size": size, "ours_device": str(device)}
    for name, ours in (("ssim", pixel.ssim), ("psnr", pixel.psnr)):
        t_ours = timed(lambda ours=ours: ours(sr, gt), device, repeats=repeats, warmup=1)
        t = time.perf_counter()
        ref_vals = torch.tensor(refs[name](), dtype=torch.float64)
        t_ref = time.perf_counter() - t
        out[name] = {
            "ours_pairs_per_s": pairs / t_ours,
            "skimage_pairs_per_s": pairs / t_ref,
            "speedup": t_ref / t_ours,
            "max_abs_diff": float((ours(sr, gt).cpu() - ref_vals).abs().max()),
        }
    return out


def bench_fid_features(device: torch.device, *, images: int, size: int, batch: int) -> dict:
    """Inception pool3 features (pytorch-fid's network, resized to 299² inside) of random images: img/s."""
    from srlib.metrics import inception

    x = torch.rand(images, 3, size, size, generator=torch.Generator().manual_seed(0))
    inception.inception_features(x[:batch], device=device, batch_size=batch)  # build + warm up
    sync(device)
    t = time.perf_counter()
    feats, status = inception.inception_features(x, device=device, batch_size=batch)
    sync(device)
    per_s = images / (time.perf_counter() - t)
    out = {"images": images, "input_size": size, "batch": batch, "dims": int(feats.shape[1])}
    return out | {
        "img_per_s": per_s,
        "weights": status.source,
        "includes": "the host-to-device copy",
    }


def bench_train_steps(
    device: torch.device, *, cfg, photos: list, tiny: bool, variants, steps: int
) -> dict:
    """Seconds per SRResNet-MSE and SRGAN step of ``cfg``'s networks and batches, per ``(precision, NHWC)``.

    Each variant runs ``srgan.train.fit`` for ``steps`` steps (3 log intervals; the first, a warm-up, is left
    out) after the stage's runtime setup (seeds, deterministic cuDNN), so the numbers are those the stage sees.
    The dry run's discriminator is a tiny one (the paper's is 23.6 M parameters whatever the crop size).
    """
    from srlib import losses, runtime
    from srlib.data.patches import PairedPatches
    from srlib.models import Discriminator
    from srlib.srgan import train

    runtime.seed_everything(cfg.seed)
    kw = dict(scale=cfg.scale, gt_size=cfg.gt_size, batch_size=cfg.batch_size, seed=cfg.seed)
    data = PairedPatches(photos, flat_threshold=cfg.flat_threshold, **kw)  # as the stage's batches
    g = train.build_generator(cfg).to(device)
    d = (Discriminator(num_feat=8, fc_dim=16) if tiny else train.build_discriminator(cfg)).to(
        device
    )
    vgg = losses.VGGFeatures(layer=cfg.vgg_layer, weights_mode="random").to(device)
    lq, gt = (t.to(device) for t in data.batch(0))

    def gan_pass():
        sr = g(lq)
        losses.perceptual_vgg(sr, gt, vgg, rescale=cfg.vgg_rescale).add(
            losses.gan_g_loss(d(sr))
        ).backward()
        sum(losses.gan_d_loss(d(gt), d(sr.detach()))).backward()

    flops = {"srresnet": counted_flops(lambda: losses.pixel_mse(g(lq), gt).backward())}
    flops["srgan"] = counted_flops(gan_pass)
    stages = {
        "srresnet": dict(lr_g=1e-4, w_pix=1.0),
        "srgan": dict(d=d, vgg=vgg, lr_g=1e-4, lr_d=1e-4, w_pix=0.0, w_percep=1.0, w_adv=1e-3),
    }
    peak, interval = peak_bf16(device), max(1, steps // 3)
    out: dict = {"batch": cfg.batch_size, "gt_size": cfg.gt_size, "flops_per_step": flops}
    with tempfile.TemporaryDirectory() as tmp:
        for prec, nhwc in variants:
            name = prec + ("_channels_last" if nhwc else "")
            out[name] = {}
            for stage, kw in stages.items():
                hist = train.fit(
                    g=g,
                    data=data,
                    iters=steps,
                    run_dir=f"{tmp}/{name}-{stage}",
                    log_interval=interval,
                    ckpt_interval=steps,
                    resume=False,
                    device=device,
                    precision=prec,
                    channels_last=nhwc,
                    name=f"bench-{stage}",
                    **kw,
                )
                per = [r["sec_per_iter"] for r in hist.rows if "sec_per_iter" in r]
                sec = statistics.median(per[1:] or per)
                out[name][stage] = rates(flops[stage], sec, 1, peak) | {
                    "img_per_s": cfg.batch_size / sec
                }
    return out


# the training pairs the gpu profile's night->day stages see: the synthetic-night proxy of photos-train (33 training
# photos x 4 crops; README), for the iteration counts of those stages
PROXY_TRAIN_PAIRS = 132
FAMILY_VARIANTS = ("fp32", "bf16", "fp16")  # the other families have no channels_last option
NIGHT2DAY_HR = 256  # night2day's HR side (its LR: 64²)


def _u8_images(n: int, size: int, seed: int) -> torch.Tensor:
    """``n`` random smooth uint8 images ``(n, 3, size, size)`` (a step's time does not depend on the content)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, max(1, size // 8), max(1, size // 8), generator=gen)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x * 255).round().to(torch.uint8)


def _cut_networks(cfg) -> tuple:
    """M1's / M2's CUT as :func:`srlib.night2day.train.train_cut` builds it: ``(cut_config, g, d, f)``."""
    from srlib.cut.train import CUTConfig, build_cut

    cut = CUTConfig(
        num_patches=cfg.cut_num_patches,
        netf_nc=cfg.cut_netf_nc,
        lr=cfg.cut_lr,
        batch_size=cfg.cut_batch_size,
        n_epochs=cfg.cut_epochs,
        n_epochs_decay=cfg.cut_epochs_decay,
        load_size=cfg.cut_load_size,
        crop_size=cfg.cut_crop_size,
    )
    nets = build_cut(
        num_feat=cfg.cut_num_feat,
        num_block=cfg.cut_num_block,
        num_feat_d=cfg.cut_d_num_feat,
        netf_nc=cut.netf_nc,
        nce_layers=cut.nce_layers,
    )
    return (cut, *nets)


def family_fits(
    cfgs: dict,
    photos: list,
    *,
    device: torch.device,
    n_pairs: int = PROXY_TRAIN_PAIRS,
    n_images: int = 16,
    hr_side: int = NIGHT2DAY_HR,
) -> dict:
    """``{network: (fit, info)}`` for the other training families at the sizes of ``cfgs`` (stage configs by name:
    ``srgan_modified_train``, ``night2day_m1``, ``night2day_m2``, ``night2day_m3``).

    ``fit(run_dir, iters, precision, log_interval) -> History`` runs the family's real fit loop on the stage's
    networks (built once, trained on across calls) and batches: the modified SRGAN's crops of ``photos``; for the
    night->day networks ``n_images`` random images at night2day's sizes (HR ``hr_side``², 256², LR a quarter).
    ``info``: the batch, the crop side, the iterations of the stage (``n_pairs`` training pairs for the night->day
    ones) and its precision. VGG19 is random-initialised (the weights do not change the speed).
    """
    from srlib import losses
    from srlib.cut.data import UnpairedCrops
    from srlib.cut.train import fit_cut
    from srlib.data.patches import PairedPatches
    from srlib.models.cut import NLayerDiscriminator, PatchSampleF
    from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
    from srlib.night2day.m3 import fit_m3_unpaired
    from srlib.night2day.pairs import PairedCrops, UnpairedCrossScale, epochs_to_iters
    from srlib.realesrgan.train import fit_realesrgan, make_vgg
    from srlib.srgan_modified import train as modified

    fits: dict = {}
    common = dict(resume=False, device=device)

    # -- the modified SRGAN: the seed's recipe on the stage's crops
    cfg = cfgs["srgan_modified_train"]
    kw = dict(scale=cfg.scale, gt_size=cfg.gt_size, batch_size=cfg.batch_size, seed=cfg.seed)
    crops = PairedPatches(photos, flat_threshold=cfg.flat_threshold, **kw)
    g, d = modified.build_generator(cfg), modified.build_discriminator(cfg)
    feats = losses.VGGFeatures(
        layers=list(cfg.content_layers), weights_mode="random", normalize=cfg.vgg_normalize
    )

    def fit_modified(run_dir, iters, precision, log_interval, g=g, d=d, cfg=cfg):
        return modified.fit(
            g=g,
            d=d,
            vgg=feats,
            data=crops,
            iters=iters,
            run_dir=run_dir,
            lr_g=cfg.lr_g,
            lr_d=cfg.lr_d,
            betas=(cfg.beta1, 0.999),
            adam_eps=cfg.adam_eps,
            w_content=cfg.w_content,
            w_adv=cfg.w_adv,
            log_interval=log_interval,
            ckpt_interval=iters,
            precision=precision,
            name="bench-srgan_modified",
            **common,
        )

    twin = 2 if cfg.train_zero_padding else 1  # the zero-padded twin trains the same recipe again
    info = {"batch": cfg.batch_size, "gt_size": cfg.gt_size, "profile_iters": cfg.iters * twin}
    info |= {"profile_precision": cfg.precision, "stage": f"{cfg.STAGE} (x{twin}: G and its twin)"}
    fits["srgan_modified"] = (fit_modified, info)

    m1, m2, m3 = cfgs["night2day_m1"], cfgs["night2day_m2"], cfgs["night2day_m3"]
    hr = _u8_images(n_images, hr_side, 0)
    lq = torch.nn.functional.avg_pool2d(hr.float(), 4).round().to(torch.uint8)

    # -- Real-ESRGAN (M1's / M2's SR, and the paired M3 where its fields are the same)
    g = RRDBNet(
        scale=4, num_feat=m1.sr_num_feat, num_block=m1.sr_num_block, num_grow_ch=m1.sr_num_grow_ch
    )
    d, vgg = UNetDiscriminatorSN(num_feat=m1.sr_d_num_feat), make_vgg("random")
    pairs = PairedCrops(lq, hr, gt_size=m1.sr_gt_size, batch_size=m1.sr_batch_size, seed=m1.seed)

    def fit_sr(run_dir, iters, precision, log_interval, g=g, d=d, cfg=m1):
        return fit_realesrgan(
            g=g,
            d=d,
            vgg=vgg,
            data=pairs,
            iters=iters,
            run_dir=run_dir,
            lr_g=cfg.sr_lr,
            lr_d=cfg.sr_lr,
            ema_decay=cfg.sr_ema_decay,
            w_pix=cfg.sr_w_pix,
            w_percep=cfg.sr_w_percep,
            w_gan=cfg.sr_w_gan,
            log_interval=log_interval,
            ckpt_interval=iters,
            name="bench-realesrgan",
            queue_size=0,
            precision=precision,
            **common,
        )[0]

    sr_iters, _ = epochs_to_iters(m1.sr_epochs, n_pairs, m1.sr_batch_size)
    fits["realesrgan"] = (
        fit_sr,
        {"batch": m1.sr_batch_size, "gt_size": m1.sr_gt_size, "profile_iters": sr_iters}
        | {"profile_precision": m1.precision, "stage": "night2day_m1 / m2 SR, night2day_m3 paired"},
    )

    # -- CUT: M1's night HR -> day HR, M2's night LR -> day LR
    def fit_c(run_dir, iters, precision, log_interval, *, nets, cut, data, steps_per_epoch, name):
        g, d, f = nets
        return fit_cut(
            g=g,
            d=d,
            f=f,
            data=data,
            cfg=cut,
            iters=iters,
            run_dir=run_dir,
            steps_per_epoch=steps_per_epoch,
            log_interval=log_interval,
            ckpt_interval=iters,
            name=name,
            precision=precision,
            **common,
        )

    for name, cfg, images in (("cut_m1", m1, hr), ("cut_m2", m2, lq)):
        cut, *nets = _cut_networks(cfg)
        unpaired = UnpairedCrops(
            list(images),
            list(images.flip(-1)),
            load_size=cut.load_size,
            crop_size=cut.crop_size,
            batch_size=cut.batch_size,
            seed=cfg.seed,
        )
        epochs = cut.n_epochs + cut.n_epochs_decay
        iters, per_epoch = epochs_to_iters(epochs, n_pairs, cut.batch_size)
        bound = dict(nets=nets, cut=cut, data=unpaired, steps_per_epoch=per_epoch)
        info = {"batch": cut.batch_size, "gt_size": cut.crop_size, "profile_iters": iters}
        info |= {"profile_precision": cfg.precision, "stage": f"{cfg.STAGE} CUT"}
        fits[name] = (functools.partial(fit_c, **bound, name=f"bench-{name}"), info)

    # -- the unpaired M3: CUT's losses across scales on one RRDBNet
    g = RRDBNet(scale=4, num_feat=m3.num_feat, num_block=m3.num_block, num_grow_ch=m3.num_grow_ch)
    nce_layers = tuple(k for k in m3.nce_layers if k <= len(g.body))
    d = NLayerDiscriminator(num_feat=m3.unpaired_d_num_feat)
    f = PatchSampleF(in_channels=[m3.num_feat] * len(nce_layers), num_feat=m3.netf_nc)
    cross = UnpairedCrossScale(lq, hr.flip(-1), lq.flip(-1), batch_size=m3.unpaired_batch_size)
    epochs = m3.unpaired_epochs + m3.unpaired_epochs_decay
    m3_iters, m3_per_epoch = epochs_to_iters(epochs, n_pairs, m3.unpaired_batch_size)

    def fit_m3(run_dir, iters, precision, log_interval, g=g, d=d, f=f, cfg=m3):
        return fit_m3_unpaired(
            g=g,
            d=d,
            f=f,
            data=cross,
            iters=iters,
            run_dir=run_dir,
            steps_per_epoch=m3_per_epoch,
            n_epochs=cfg.unpaired_epochs,
            n_epochs_decay=cfg.unpaired_epochs_decay,
            lr=cfg.unpaired_lr,
            lambda_gan=cfg.lambda_gan,
            lambda_nce=cfg.lambda_nce,
            nce_idt=cfg.nce_idt,
            nce_layers=nce_layers,
            num_patches=cfg.num_patches,
            log_interval=log_interval,
            ckpt_interval=iters,
            name="bench-m3_unpaired",
            precision=precision,
            **common,
        )

    fits["m3_unpaired"] = (
        fit_m3,
        {"batch": m3.unpaired_batch_size, "gt_size": hr_side, "profile_iters": m3_iters}
        | {"profile_precision": m3.precision, "stage": "night2day_m3 unpaired"},
    )
    return fits


def bench_family_steps(
    device: torch.device, *, fits: dict, steps: int, variants=FAMILY_VARIANTS
) -> dict:
    """Training steps/s of the other families (:func:`family_fits`) per precision, through their real fit loops.

    Each network first runs one fp32 step under torch's flop counter (its FLOPs per step, forward and backward),
    then ``steps`` steps per variant (3 log intervals; the first, a warm-up, left out), after the stages' runtime
    setup (seeds, deterministic cuDNN). ``predicted_s``: the stage's iterations of that network at the measured
    step time of the stage's precision (``profile_iters`` x the ``profile_precision`` variant's seconds).
    """
    from srlib import runtime

    runtime.seed_everything(0)
    peak, interval = peak_bf16(device), max(1, steps // 3)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fit, info) in fits.items():
            res = dict(info)
            one_step = functools.partial(fit, f"{tmp}/{name}-flops", 1, "fp32", 1)
            res["flops_per_step"] = counted_flops(one_step)
            for prec in variants:
                hist = fit(f"{tmp}/{name}-{prec}", steps, prec, interval)
                per = [r["sec_per_iter"] for r in hist.rows if "sec_per_iter" in r]
                sec = statistics.median(per[1:] or per)
                res[prec] = rates(res["flops_per_step"], sec, 1, peak) | {
                    "img_per_s": info["batch"] / sec
                }
            mine = res.get(info["profile_precision"])
            if mine:
                res["predicted_s"] = mine["ms"] / 1e3 * info["profile_iters"]
            out[name] = res
            sync(device)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return out


if (
    __name__ == "__main__"
):  # the child process of bench_compile: python -m srlib.gpu_bench RESULT SPEC
    Path(sys.argv[1]).write_text(json.dumps(compiled_rrdbnet(json.loads(sys.argv[2])), indent=1))


# ---------------------------------------------------------------------------------------------- layout checks


def instance_norm_nhwc_error(device: torch.device | str) -> float:
    """The largest difference of ``instance_norm``'s input gradient at batch 1 between an NCHW and an NHWC incoming
    gradient (the same values). Rounding-level where the kernel is right; PyTorch 2.14.1's CPU kernel is off by O(1)
    (``tests/unit/test_speed_night2day.py``)."""
    x = torch.randn(1, 4, 3, 3, generator=torch.Generator().manual_seed(0)).to(device)
    go = torch.randn(1, 4, 3, 3, generator=torch.Generator().manual_seed(1)).to(device)
    grads = []
    for grad_out in (go, go.contiguous(memory_format=torch.channels_last)):
        xi = x.clone().requires_grad_(True)
        F.instance_norm(xi).backward(grad_out)
        grads.append(xi.grad)
    return float((grads[1] - grads[0]).abs().max())


def compiled_nhwc_pad_backward(
    device: torch.device | str, backend: str = "aot_eager"
) -> str | None:
    """A compiled NHWC ``x + IN(x)`` then replicate pad, as in CUT's generator, run backward: None when it works,
    else the error (one line). PyTorch 2.14.1 on the CPU fails ("view size is not compatible")."""

    def f(x):
        return F.pad(x + F.instance_norm(x), (1, 1, 1, 1), mode="replicate")

    x = torch.rand(2, 4, 6, 6, device=device).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    try:
        torch.compile(f, backend=backend)(x).square().sum().backward()
    except Exception as exc:  # noqa: BLE001 - the answer is the error itself
        return (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )
    return None if torch.isfinite(x.grad).all() else "non-finite gradient"


def layout_checks(device: torch.device, *, backend: str) -> dict:
    """Both checks on ``device``: ``channels_last_ok_for_instance_norm`` is what the gpu profile's CUT / M3 wait for."""
    error = instance_norm_nhwc_error(device)
    failure = compiled_nhwc_pad_backward(device, backend)
    return {
        "instance_norm_nhwc_batch1_grad_error": error,
        "channels_last_ok_for_instance_norm": error < 1e-4,
        "compiled_nhwc_pad_backward": failure or "ok",
        "backend": backend,
    }
