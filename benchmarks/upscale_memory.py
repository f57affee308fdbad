"""Peak memory of ``python -m srlib upscale`` on a large image: streamed PNG output against the in-memory path.

A ``--width`` x ``--height`` (default 6000x4000) RGB PNG is upscaled x4 by a tiny modified-SRGAN generator (4
features, 1 block, 4 upsampling features: memory depends on the tile and image sizes, not on the network; a real one
would take hours on 2 cores) through the CLI in a fresh interpreter, twice, one after the other:

* **streamed** (the default): tile rows are written into the PNG as they finish; memory is the decoded input plus one
  band of tile rows (``3 x tile*4 x 24000`` floats and its weights, ~0.4 GB for 256-px tiles) plus torch itself;
* **in-memory** (``--in-memory``): the whole 24000x16000x3 output array (1.15 GB) is built before it is written.

Each child reports its own VmHWM (peak resident set of its address space; ``getrusage(RUSAGE_CHILDREN)`` would
also count pages of this forked benchmark before the exec). Printed: both peaks, their ratio, the wall times, and
whether the outputs decode to the same pixels (the files may differ in bytes: zlib's output depends on how the rows
are fed to it).

``--baseline-src DIR`` adds a third run of the CLI of another source tree (DIR holds its ``srlib`` package), for
before/after figures without touching this checkout, e.g.::

    mkdir /tmp/base && git archive HEAD srlib | tar -x -C /tmp/base
    python benchmarks/upscale_memory.py --threads 1 --baseline-src /tmp/base

The input is a smooth gradient with a little noise (pure noise would make a ~70 MB input and a multi-GB output
file). Needs ~3.5 GB of RAM for the in-memory run and ~1.5 GB of free disk in the temporary folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srlib import models  # noqa: E402
from srlib.models import SRGANModifiedGenerator  # noqa: E402

TINY = dict(num_feat=4, num_block=1, num_up_feat=4, scale=4)

# The CLI in a fresh interpreter that prints its own peak RSS (VmHWM, kB) after it returns.
CHILD = (
    "import sys; from srlib import cli; rc = cli.main(['upscale', *sys.argv[1:]]); "
    "print('VmHWM', [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]); "
    "sys.exit(rc)"
)


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """``(height, width, 3)`` uint8: diagonal colour gradients plus +-3 levels of noise (compresses like a photo)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), np.uint8)
    for c, (a, b) in enumerate(
        [(200, 40), (60, 180), (120, 120)]
    ):  # channel by channel: bounded temporaries
        ch = 20 + a * x + b * y + rng.normal(0, 3, (height, width)).astype(np.float32)
        img[..., c] = np.clip(ch, 0, 255).round()
    return img


def run_cli(args: list[str], cwd: Path) -> tuple[int, float, int, str]:
    """``(exit status, wall seconds, peak RSS in kB, output tail)`` of the CLI with ``args``, run in ``cwd``."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args], cwd=cwd, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    hwm = [line for line in proc.stdout.splitlines() if line.startswith("VmHWM")]
    return (
        proc.returncode,
        wall,
        int(hwm[0].split()[1]) if hwm else 0,
        (proc.stdout + proc.stderr)[-2000:],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=6000)
    ap.add_argument("--height", type=int, default=4000)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads in the CLI (1 on a shared machine)",
    )
    ap.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="also run the CLI of this source tree (a folder holding an srlib package)",
    )
    ap.add_argument(
        "--tmp",
        type=Path,
        default=None,
        help="folder for the input and outputs (default: system temp)",
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        import cv2
        import torch

        torch.manual_seed(0)
        ckpt = models.save_generator(
            tmp / "tiny.pth",
            SRGANModifiedGenerator(**TINY).eval(),
        )
        img = smooth_image(args.height, args.width)
        cv2.imwrite(str(tmp / "big.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        del img
        common = [
            "--checkpoint",
            str(ckpt),
            "--tile",
            str(args.tile),
            "--overlap",
            str(args.overlap),
            "--device",
            "cpu",
            "--threads",
            str(args.threads),
            "--no-progress",
        ]
        runs = [("streamed", ROOT, []), ("in-memory", ROOT, ["--in-memory"])]
        if args.baseline_src is not None:
            runs.append((f"baseline ({args.baseline_src})", args.baseline_src.resolve(), []))
        print(
            f"{args.width}x{args.height} RGB PNG ({(tmp / 'big.png').stat().st_size / 1e6:.0f} MB) -> x4 "
            f"({args.width * 4}x{args.height * 4}), tiles {args.tile}/{args.overlap}, {args.threads} thread(s), "
            f"tiny generator {TINY}"
        )
        results, reference, same = {}, None, {}
        for label, cwd, extra in runs:
            out = tmp / label.split()[0]
            rc, wall, peak_kb, tail = run_cli(
                [str(tmp / "big.png"), "-o", str(out), *common, *extra], cwd
            )
            png = out / "big.png"
            size = png.stat().st_size / 1e6 if png.exists() else 0.0
            if (
                png.exists()
            ):  # decoded here, in the benchmark process: the children's peaks are not affected
                pixels = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
                png.unlink()  # keep the disk use to one output at a time
                if reference is None:
                    reference = pixels
                else:
                    same[label] = np.array_equal(pixels, reference)
                del pixels
            results[label] = peak_kb
            print(
                f"  {label:12s} exit {rc}  peak RSS {peak_kb / 1024**2:5.2f} GB  wall {wall:6.1f} s  "
                f"output {size:.0f} MB"
            )
            if rc:
                print(tail)
        if results["streamed"]:
            for label in results:
                if label != "streamed":
                    print(
                        f"  peak RSS {label} / streamed: {results[label] / results['streamed']:.2f}x"
                    )
        for label, equal in same.items():
            print(f"  {label} output has the same pixels as the streamed one: {equal}")


if __name__ == "__main__":
    main()
