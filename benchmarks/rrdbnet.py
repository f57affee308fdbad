"""RRDBNet (RealESRGAN_x4plus: 23 blocks, 64 features, x4) forward time against spandrel's, and degradation throughput.

CPU (default), one torch thread:

1. ``srlib.models.esrgan.RRDBNet`` vs the same state dict loaded by ``spandrel.ModelLoader`` (the model-loading
   library chaiNNer / ComfyUI use) at 64² and 128² inputs (1 image), ``torch.inference_mode``. Runs are interleaved
   A B A B after one warm-up each; the median of ``--repeats`` (>= 5) is reported with the ratio
   ``t_spandrel / t_ours`` (> 1: ours is faster; the goal is >= 1.0) and the achieved GFLOP/s
   (73.43 GMAC per 64² input, perf-anchors §1). The outputs are compared first (max |Δ|).
2. The Real-ESRGAN degradation pipeline (``srlib.data.degradations_realesrgan.degrade``) on a batch of ``--deg-batch``
   GT crops of ``--deg-size``² (the paper: 12 x 400²): images per second, median of 3 seeds.

GPU (``--gpu``; needs CUDA): img/s of RRDBNet at 256² (batch ``--gpu-batch``) in fp32 (TF32 allowed, PyTorch's
default for cuDNN convolutions) and bf16 autocast, each with and without channels_last and ``torch.compile``, as a
percentage of the compute bound 336 img/s (1175 GMAC per 256² input at 790 TFLOP/s bf16 on an H100, perf-anchors §2);
spandrel's eager bf16 for reference; and the degradation pipeline on the GPU (its JPEG steps run on the CPU).

    python benchmarks/rrdbnet.py                # CPU, ~3-6 min on a busy 2-core machine
    python benchmarks/rrdbnet.py --sizes 64     # CPU, 64² only
    python benchmarks/rrdbnet.py --gpu          # on a CUDA host
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import interleaved  # noqa: E402
from srlib.data import degradations_realesrgan as dr  # noqa: E402
from srlib.models.esrgan import RRDBNet  # noqa: E402

GMAC_64 = 73.43  # RRDBNet 23b x4 at a 64² input (perf-anchors §1); scales with the pixel count
BOUND_256 = 336.0  # img/s at 256², H100 bf16 compute bound (perf-anchors §2)


def models(device: str = "cpu"):
    """Our RRDBNet with a random state dict, and spandrel's model loaded from the same dict."""
    from spandrel import ModelLoader

    torch.manual_seed(0)
    ours = RRDBNet().eval()
    theirs = (
        ModelLoader()
        .load_from_state_dict({k: v.clone() for k, v in ours.state_dict().items()})
        .model.eval()
    )
    return ours.to(device), theirs.to(device)


def bench_cpu(sizes: list[int], repeats: int) -> None:
    torch.set_num_threads(1)
    ours, theirs = models()
    print(
        f"== RRDBNet x4 (23 blocks) forward, CPU, 1 thread, batch 1, median of {repeats} (ABAB) =="
    )
    print(f"torch {torch.__version__}; ratio = t_spandrel / t_ours (> 1: ours faster)")
    with torch.inference_mode():
        x = torch.rand(1, 3, 32, 32)
        print(f"parity at 32²: max |Δ| = {(ours(x) - theirs(x)).abs().max().item():.2e}")
        for size in sizes:
            x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(size))
            t = interleaved(
                {"ours": lambda x=x: ours(x), "spandrel": lambda x=x: theirs(x)}, repeats
            )
            mo, ms = statistics.median(t["ours"]), statistics.median(t["spandrel"])
            pair = statistics.median([b / a for a, b in zip(t["ours"], t["spandrel"])])
            gflop = 2 * GMAC_64 * (size / 64) ** 2
            print(
                f"{size:4d}²  ours {mo:7.3f} s ({gflop / mo:5.1f} GFLOP/s)  spandrel {ms:7.3f} s "
                f"({gflop / ms:5.1f} GFLOP/s)  ratio {ms / mo:.3f} (median of per-pair ratios {pair:.3f})"
            )


def bench_degradation(batch: int, size: int, device: str, threads: int | None = 1) -> None:
    if threads:
        torch.set_num_threads(threads)
    cfg = dr.RealESRGANDegradationConfig()
    gt = torch.rand(batch, 3, size // 8, size // 8, generator=torch.Generator().manual_seed(0))
    gt = torch.nn.functional.interpolate(
        gt, size=(size, size), mode="bilinear", align_corners=False
    ).to(device)
    times = []
    for seed in range(4):
        g = torch.Generator(device=device).manual_seed(seed)
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        lq = dr.degrade(gt, cfg, generator=g)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    med = statistics.median(times[1:])  # the first run warms up
    where = f"{device}, {torch.get_num_threads()} thread(s)" if device == "cpu" else device
    print(
        f"== degradation pipeline ({where}): {batch} x {size}² -> {tuple(lq.shape[-2:])} lq, median of 3 =="
    )
    print(f"{med:.3f} s per batch, {batch / med:.1f} img/s")


def bench_gpu(batch: int, repeats: int, compile_mode: str | None) -> None:
    if not torch.cuda.is_available():
        raise SystemExit("--gpu needs CUDA")
    ours, theirs = models("cuda")
    print(
        f"== RRDBNet x4 (23 blocks) forward, {torch.cuda.get_device_name()}, batch {batch} at 256², "
        f"median of {repeats} =="
    )
    print(
        f"compute bound {BOUND_256:.0f} img/s (bf16, 790 TFLOP/s); fp32 runs use TF32 "
        f"(cudnn.allow_tf32={torch.backends.cudnn.allow_tf32})"
    )
    x = torch.rand(batch, 3, 256, 256, device="cuda")

    def timed(fn) -> float:
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            ts.append(start.elapsed_time(end) / 1e3)
        return statistics.median(ts)

    def report(name: str, t: float) -> None:
        ips = batch / t
        print(
            f"{name:<34s} {t * 1e3:8.2f} ms  {ips:7.1f} img/s  {100 * ips / BOUND_256:5.1f} % of bound"
        )

    with torch.inference_mode():
        for dtype in (torch.float32, torch.bfloat16):
            for channels_last in (False, True):
                for compiled in (False, True):
                    fmt = torch.channels_last if channels_last else torch.contiguous_format
                    net = RRDBNet().cuda().eval().to(memory_format=fmt)
                    net.load_state_dict(ours.state_dict())
                    run = torch.compile(net, mode=compile_mode) if compiled else net
                    xi = x.contiguous(memory_format=fmt)

                    def fn(run=run, xi=xi, dtype=dtype):
                        with torch.autocast(
                            "cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16
                        ):
                            return run(xi)

                    name = (
                        f"ours {'bf16' if dtype == torch.bfloat16 else 'fp32/tf32'}"
                        f"{' +channels_last' if channels_last else ''}{' +compile' if compiled else ''}"
                    )
                    report(name, timed(fn))

        def spandrel_bf16():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return theirs(x)

        report("spandrel bf16 (eager)", timed(spandrel_bf16))
    bench_degradation(12, 400, "cuda", threads=None)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="CPU input sides")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median; >= 5)")
    p.add_argument("--deg-batch", type=int, default=12)
    p.add_argument("--deg-size", type=int, default=400)
    p.add_argument("--gpu", action="store_true", help="GPU benchmark instead of the CPU one")
    p.add_argument("--gpu-batch", type=int, default=8)
    p.add_argument(
        "--compile-mode", default=None, help="torch.compile mode (default: PyTorch's default)"
    )
    args = p.parse_args()
    if args.gpu:
        bench_gpu(args.gpu_batch, max(args.repeats, 10), args.compile_mode)
        return
    bench_cpu(args.sizes, max(args.repeats, 5))
    bench_degradation(args.deg_batch, args.deg_size, "cpu")


if __name__ == "__main__":
    main()
