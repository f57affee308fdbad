"""Command line: ``python -m srlib <command>`` (also installed as ``srlib``).

Commands:
    nb STAGE [--profile P] [-p name=value]   run a stage notebook with its params.yaml section (papermill)
    weights list|verify|fetch [KEY...]       pretrained files: where they are, checks, downloads
    data recipe|fetch NAME...                the papers' real datasets (networked GPU host)
    upscale IN... -o OUT --checkpoint CKPT   upscale images/folders of any size with a trained generator (tiled)
    export-onnx --checkpoint CKPT -o F.onnx  a generator as ONNX (dynamic H / W), its ONNX Runtime parity checked
    gpu-run OUT_DIR [--dry-run]              the one prepared GPU run: benchmarks + the gpu profile's SRGAN
    site [--profile P]                       the results site: results/<profile>/site/index.html (offline HTML)
    headlines [--profile P]                  rebuild the metrics files DVC shows from their details files
    checkpoints [--profile P]                copy the small trained generators into results/<profile>/checkpoints/
"""

from __future__ import annotations

import sys

COMMANDS = (
    "nb",
    "weights",
    "data",
    "upscale",
    "export-onnx",
    "gpu-run",
    "site",
    "headlines",
    "checkpoints",
)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "nb":
        from srlib import nb

        return nb.main(rest)
    if cmd == "weights":
        from srlib import weights

        return weights.main(rest)
    if cmd == "data":
        from srlib.data import datasets

        return datasets.main(rest)
    if cmd == "upscale":
        from srlib.inference import cli as upscale_cli

        return upscale_cli.main(rest)
    if cmd == "export-onnx":
        from srlib.inference import onnx

        return onnx.main(rest)
    if cmd == "gpu-run":
        from srlib import gpu_run

        return gpu_run.main(rest)
    if cmd == "site":
        from srlib import site

        return site.main(rest)
    if cmd == "checkpoints":
        from srlib import checkpoints

        return checkpoints.main(rest)
    if cmd == "headlines":
        from srlib import headlines

        return headlines.main(rest)
    print(f"unknown command {cmd!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
    return 2
