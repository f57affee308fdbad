"""Side-by-side timings of srlib's metrics against the reference implementations, measured in one run.

1. PSNR / PSNR-Y / SSIM: ``srlib.metrics`` (the default CPU paths: OpenCV for PSNR, the compiled pass for SSIM;
   and the float64 torch path) vs scikit-image (one call per image) on ``--pairs`` pairs of ``--size``² RGB images
   (uint8-derived), at 1 thread (skimage is single-threaded) and at all threads, then again with another process
   busy on one core (threads ``auto`` and the fixed counts). Prints the median times, the speed ratio
   skimage / ours, and the max |Δ| of the values.
2. FID end to end: ``srlib.metrics.fid.fid`` vs the pytorch-fid CLI (``python -m pytorch_fid A B --device cpu``), both
   as fresh subprocesses (same interpreter start and torch import) on the same two folders of ``--fid-images`` PNGs
   of ``--fid-size``², with the same random-initialised Inception file placed in a temporary ``TORCH_HOME`` (the
   real weights cannot be downloaded here, so the *values* are not meaningful FIDs, only their agreement is).

Runs are interleaved A B A B and the median of ``--repeats`` is reported (the machine may be shared).

    python benchmarks/metrics.py --quick     # ~1-2 min: 8 pairs of 256², FID dims 64 on 16 images (3 repeats)
    python benchmarks/metrics.py             # 64 pairs of 512², FID dims 2048 on 64 images (1 repeat; ~10 min
                                             # on 2 cores, both FIDs dominated by the 2048² sqrtm)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import interleaved, medians  # noqa: E402
from srlib import runtime, weights  # noqa: E402
from srlib.metrics import pixel as metrics  # noqa: E402


def _busy_core() -> subprocess.Popen:
    """Another process keeping one core busy (a training in the background, a notebook, a CI neighbour)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)
    return proc


def bench_psnr_ssim(pairs: int, size: int, repeats: int, thread_counts: list[int]) -> None:
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    g = torch.Generator().manual_seed(0)
    gt8 = torch.randint(0, 256, (pairs, 3, size, size), generator=g, dtype=torch.int16)
    sr8 = (gt8 + torch.randint(-20, 21, gt8.shape, generator=g, dtype=torch.int16)).clamp(0, 255)
    gt, sr = (gt8.float() / 255), (sr8.float() / 255)  # srlib convention: float RGB in [0, 1]
    gt_np = [
        x.permute(1, 2, 0).numpy().astype(np.uint8) for x in gt8
    ]  # skimage: HWC uint8, data_range=255
    sr_np = [x.permute(1, 2, 0).numpy().astype(np.uint8) for x in sr8]

    def sk_ssim():
        return [
            structural_similarity(
                a,
                b,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=255,
                channel_axis=-1,
            )
            for a, b in zip(sr_np, gt_np)
        ]

    def sk_psnr():
        return [peak_signal_noise_ratio(b, a, data_range=255) for a, b in zip(sr_np, gt_np)]

    def sk_psnr_y():  # what a skimage user writes: Y of each image (rgb2ycbcr, [16, 235]), then PSNR on 255
        return [
            peak_signal_noise_ratio(rgb2ycbcr(b)[..., 0], rgb2ycbcr(a)[..., 0], data_range=255)
            for a, b in zip(sr_np, gt_np)
        ]

    contenders = {
        "ssim": (lambda: metrics.ssim(sr, gt), sk_ssim),
        "ssim float64 torch": (lambda: metrics.ssim(sr, gt, precision="float64"), sk_ssim),
        "psnr": (lambda: metrics.psnr(sr, gt), sk_psnr),
        "psnr float64 torch": (lambda: metrics.psnr(sr, gt, precision="float64"), sk_psnr),
        "psnr_y": (lambda: metrics.psnr(sr, gt, y_only=True), sk_psnr_y),
    }
    print(
        f"\n== PSNR / SSIM: {pairs} pairs of {size}x{size} RGB (float32 tensors; skimage: uint8 HWC), median of "
        f"{repeats} (interleaved) =="
    )
    for name, (ours, ref) in contenders.items():
        d = np.abs(ours().numpy() - np.array(ref())).max()
        print(f"max |delta| vs skimage, {name}: {d:.1e}")
    all_threads = torch.get_num_threads()

    def measure(label: str) -> dict[str, float]:
        fns = {}
        for name, (ours, ref) in contenders.items():
            fns[f"ours {name}"] = ours
            fns[f"sk {name}"] = ref
        t = medians(interleaved(fns, repeats, warmup=False))
        print(f"{label}:")
        for name in contenders:
            a, b = t[f"ours {name}"], t[f"sk {name}"]
            print(
                f"  {name:20s} ours {a:8.4f} s  skimage {b:8.4f} s  -> skimage / ours {b / a:5.2f}x"
            )
        return t

    for threads in thread_counts:
        runtime.use_threads(threads)
        measure(f"threads={threads} (torch and OpenCV)")
    busy = _busy_core()
    try:
        for threads in ("auto", *thread_counts):
            n = runtime.use_threads(threads)
            measure(f"another process busy on one core: threads={threads} -> {n}")
    finally:
        busy.kill()
    runtime.use_threads(all_threads)


def _write_pngs(folder: Path, n: int, size: int, seed: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        # smooth random images (low-res noise upscaled) so the two sets differ in distribution a little
        small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(folder / f"{i:04d}.png")


def _run(cmd: list[str], env: dict) -> tuple[float, float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    m = re.search(r"FID:\s+(\S+)", proc.stdout)
    return dt, float(m.group(1)), proc.stderr


def bench_fid(n: int, size: int, dims: int, repeats: int) -> None:
    from srlib.metrics.inception import random_fid_inception_state_dict

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        home = tmp / "torch"
        ckpt = home / "hub" / "checkpoints" / weights.WEIGHTS["fid_inception"].filename
        ckpt.parent.mkdir(parents=True)
        torch.save(random_fid_inception_state_dict(seed=0), ckpt)
        a, b = tmp / "a", tmp / "b"
        _write_pngs(a, n, size, seed=1)
        _write_pngs(b, n, size, seed=2)
        env = os.environ | {
            "TORCH_HOME": str(home),
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "ignore",
        }
        dims_arg = [] if dims == 2048 else ["--dims", str(dims)]
        ref_cmd = [
            sys.executable,
            "-m",
            "pytorch_fid",
            str(a),
            str(b),
            "--device",
            "cpu",
            *dims_arg,
        ]
        ours_cmd = [
            sys.executable,
            "-c",
            "from srlib.perceptual import fid; "
            f"r = fid({str(a)!r}, {str(b)!r}, dims={dims}, mode='pretrained', device='cpu'); "
            "print('FID:', repr(r['value']), r['weights']['source'])",
        ]
        times = {"ours": [], "pytorch-fid": []}
        values = {}
        for _ in range(repeats):
            for name, cmd in (("ours", ours_cmd), ("pytorch-fid", ref_cmd)):
                dt, value, _err = _run(cmd, env)
                times[name].append(dt)
                values[name] = value
        t_ours, t_ref = statistics.median(times["ours"]), statistics.median(times["pytorch-fid"])
        rel = abs(values["ours"] - values["pytorch-fid"]) / max(abs(values["pytorch-fid"]), 1e-300)
        print(
            f"\n== FID end to end: 2 x {n} PNGs of {size}x{size}, dims {dims}, random-init Inception file, "
            f"median of {repeats} subprocess runs (interleaved) =="
        )
        print(
            f"values: ours {values['ours']:.10g}, pytorch-fid {values['pytorch-fid']:.10g} (relative delta {rel:.1e})"
        )
        print(
            f"time: ours {t_ours:.1f} s, pytorch-fid CLI {t_ref:.1f} s -> pytorch-fid / ours = {t_ref / t_ours:.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes (overrides the size defaults)")
    p.add_argument(
        "--pairs", type=int, default=None, help="image pairs for PSNR/SSIM (default 64, quick 8)"
    )
    p.add_argument(
        "--size", type=int, default=None, help="PSNR/SSIM image side (default 512, quick 256)"
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="interleaved repeats (default 5, quick 3)"
    )
    p.add_argument(
        "--fid-images", type=int, default=None, help="PNGs per folder (default 64, quick 16)"
    )
    p.add_argument("--fid-size", type=int, default=64, help="PNG side (default 64)")
    p.add_argument(
        "--fid-dims", type=int, default=None, help="Inception dims (default 2048, quick 64)"
    )
    p.add_argument(
        "--fid-repeats",
        type=int,
        default=None,
        help="FID subprocess repeats (default 1: ~5 min at dims 2048 on 2 cores; quick 3)",
    )
    p.add_argument(
        "--threads",
        default=None,
        help="comma-separated torch thread counts for PSNR/SSIM (default: 1,all)",
    )
    p.add_argument("--skip-fid", action="store_true")
    p.add_argument("--skip-ssim", action="store_true")
    args = p.parse_args(argv)
    q = args.quick
    pick = lambda v, full, quick: v if v is not None else (quick if q else full)  # noqa: E731
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; thread policy: srlib.runtime.use_threads('auto') -> "
        f"{runtime.free_cores()} (the cores no other process keeps busy)"
    )
    if not args.skip_ssim:
        n_all = torch.get_num_threads()
        threads = [int(t) for t in args.threads.split(",")] if args.threads else sorted({1, n_all})
        bench_psnr_ssim(
            pick(args.pairs, 64, 8), pick(args.size, 512, 256), pick(args.repeats, 5, 3), threads
        )
    if not args.skip_fid:
        bench_fid(
            pick(args.fid_images, 64, 16),
            args.fid_size,
            pick(args.fid_dims, 2048, 64),
            pick(args.fid_repeats, 1, 3),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
