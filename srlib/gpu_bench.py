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
"""

from __future__ import annotations

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


if (
    __name__ == "__main__"
):  # the child process of bench_compile: python -m srlib.gpu_bench RESULT SPEC
    Path(sys.argv[1]).write_text(json.dumps(compiled_rrdbnet(json.loads(sys.argv[2])), indent=1))
