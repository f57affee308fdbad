"""Tiled inference (``srlib.inference``): overhead against untiled inference, and a 4000x4000 x4 run on the CPU.

1. **Tiling overhead** on a ``--size``² input (default 512): untiled ``model(lq)`` vs :func:`srlib.inference.tiling.upscale`
   with blended tiles (``--tile``/``--overlap``, default 256/32) and with tiles of the whole image (the pure
   bookkeeping cost), interleaved A B A B, median of ``--repeats``. Prints each ratio tiled / untiled (goal: <= 1.15)
   and the PSNR of the tiled output against the untiled one (goal: >= 50 dB). Network: the ``--checkpoint``
   generator, by default ``models/photos/srgan_modified_train/generator.pth`` when present, else a random-initialised
   reduced modified-SRGAN generator (32 features, 6 blocks, 64 upsampling features); the overhead does not depend on
   the weights, the PSNR does (a trained network's border effects reach less far than a random one's).
2. **4000x4000 x4 on the CPU** end to end through the CLI (``python -m srlib upscale``: read PNG, tiled inference into
   a preallocated uint8 output, write a 16000x16000 PNG) in a fresh interpreter; prints its wall time and peak RSS
   (its own VmHWM; goal: <= 4 GB). Network: a tiny modified-SRGAN generator (8 features, 1 block, 8 upsampling
   features, ~45 kMAC per input pixel) -- the seed-size network (~10 MMAC per input pixel) would take hours on 2
   cores; memory is bounded by the tile either way (input, output array, one band of tile rows, one batch of tiles).

Measured on the 2-core development machine (2 threads, other jobs running): [1] tiles 256/32 on 512x512 -> ratio
1.047, PSNR 76.1 dB against untiled (photos-profile generator); [2] 87 s, peak RSS 2.22 GB.

    python benchmarks/inference.py              # both parts (~5 min on 2 cores)
    python benchmarks/inference.py --skip-big   # part 1 only
    python benchmarks/inference.py --threads 1  # on a machine shared with other runs (avoids OpenMP stalls)
"""

from __future__ import annotations

import argparse
import math
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
from srlib import models  # noqa: E402
from srlib.inference import layout, tiling  # noqa: E402
from srlib.models import SRGANModifiedGenerator  # noqa: E402

DEFAULT_CKPT = ROOT / "models/photos/srgan_modified_train/generator.pth"
REDUCED = dict(num_feat=32, num_block=6, num_up_feat=64, scale=4)
TINY = dict(num_feat=8, num_block=1, num_up_feat=8, scale=4)


def _test_image(size: int) -> torch.Tensor:
    """A natural photo (scikit-image's astronaut) resized to ``size``², as a (3, size, size) float tensor."""
    import cv2
    from skimage import data

    img = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(img.transpose(2, 0, 1).copy()).float() / 255


def bench_overhead(model, label: str, size: int, tile: int, overlap: int, repeats: int) -> None:
    lq = _test_image(size)
    runs = {
        "untiled": lambda: tiling.upscale(model, lq, tile=0),
        f"tiles {tile}/{overlap}": lambda: tiling.upscale(model, lq, tile=tile, overlap=overlap),
        f"one tile ({size})": lambda: tiling.upscale(model, lq, tile=size, overlap=overlap),
    }
    outs = {k: f() for k, f in runs.items()}  # warm-up (and the outputs for the PSNR)
    med = medians(interleaved(runs, repeats, warmup=False))
    ys, xs, _ = layout.layout(size, size, tile=tile, overlap=overlap, mode="blend")
    print(
        f"\n[1] tiling overhead, {size}x{size} -> x{model.scale}, {label}, {torch.get_num_threads()} threads, "
        f"median of {repeats}"
    )
    print(
        f"    layout {tile}/{overlap}: {len(ys)}x{len(xs)} tiles of {ys[0][1] - ys[0][0]}x{xs[0][1] - xs[0][0]} px "
        f"({len(ys) * len(xs) * (ys[0][1] - ys[0][0]) * (xs[0][1] - xs[0][0]) / size**2:.2f}x the pixels)"
    )
    for k in runs:
        ref = outs["untiled"].clamp(0, 1)
        mse = float(((outs[k].clamp(0, 1) - ref) ** 2).mean())
        psnr = math.inf if mse == 0 else 10 * math.log10(1 / mse)
        print(
            f"    {k:18s} {med[k]:7.2f} s   ratio {med[k] / med['untiled']:.3f}   PSNR vs untiled {psnr:6.1f} dB"
        )


def bench_big(size: int, tile: int, overlap: int, threads: int) -> None:
    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        ckpt = models.save_generator(
            tmp / "tiny.pth",
            SRGANModifiedGenerator(**TINY).eval(),
        )
        img = (_test_image(size).numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        cv2.imwrite(str(tmp / "big.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        del img
        args = [
            str(tmp / "big.png"),
            "-o",
            str(tmp / "out"),
            "--checkpoint",
            str(ckpt),
            "--tile",
            str(tile),
            "--overlap",
            str(overlap),
            "--device",
            "cpu",
            "--threads",
            str(threads),
            "--no-progress",
        ]
        # The CLI in a fresh interpreter that reports its own VmHWM (peak RSS of its address space). getrusage's
        # RUSAGE_CHILDREN would also count the pages of this (forked) benchmark process before the exec.
        code = (
            "import sys; from srlib import cli; rc = cli.main(['upscale', *sys.argv[1:]]); "
            "print('VmHWM', [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]); "
            "sys.exit(rc)"
        )
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True
        )
        wall = time.perf_counter() - t
        hwm = [line for line in proc.stdout.splitlines() if line.startswith("VmHWM")]
        peak_kb = int(hwm[0].split()[1]) if hwm else 0
        out = tmp / "out" / "big.png"
        print(
            f"\n[2] {size}x{size} -> x4 ({size * 4}x{size * 4}) on the CPU through `python -m srlib upscale` "
            f"(tiles {tile}/{overlap}, {threads or 'default'} threads), tiny generator {TINY}"
        )
        print(
            f"    exit {proc.returncode}; wall {wall:.1f} s (incl. interpreter start, PNG read and write); "
            f"peak RSS {peak_kb / 1024**2:.2f} GB; output {out.stat().st_size / 1e6 if out.exists() else 0:.0f} MB"
        )
        if proc.returncode:
            print(proc.stdout[-2000:], proc.stderr[-2000:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--checkpoint", default=str(DEFAULT_CKPT))
    ap.add_argument("--big", type=int, default=4000)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (0 = default; 1 on a shared machine)",
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.skip_overhead:
        if Path(args.checkpoint).is_file():
            model, state = models.load_generator(args.checkpoint)
            label = f"{state['arch']} {state['arch_kwargs']} from {args.checkpoint}"
        else:
            torch.manual_seed(0)
            model, label = (
                SRGANModifiedGenerator(**REDUCED).eval(),
                f"random-init srgan_modified {REDUCED}",
            )
        bench_overhead(model.eval(), label, args.size, args.tile, args.overlap, args.repeats)
    if not args.skip_big:
        bench_big(args.big, args.tile, args.overlap, args.threads)


if __name__ == "__main__":
    main()
