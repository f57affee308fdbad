"""ONNX export of srlib's generators with dynamic H / W, and ONNX Runtime (CPU) as an upscaling backend.

``python -m srlib export-onnx --checkpoint CKPT | --model NAME -o OUT.onnx`` writes one ONNX file per generator (any
family of :data:`srlib.models.ARCHS`; the hallucination G as its reconstruction at z = 0, the pseudo-SR degradation G
at a zero noise map), its batch, height and width dynamic (Real-ESRGAN PR #360 asked for exactly that), then checks
ONNX Runtime's output against PyTorch's at two input sizes and prints the largest difference. The file carries its
provenance in the ONNX metadata (``srlib_arch``, ``scale``, ``source``), so ``python -m srlib upscale --checkpoint
OUT.onnx`` can run it through the same tiled inference as a ``.pth`` (:class:`OnnxGenerator`).

The export uses PyTorch's TorchScript-based exporter (``dynamo=False``): the ``torch.export`` path cannot trace
RRDBNet's dynamic shapes in torch 2.14. Opset 17.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

OPSET = 17
PARITY_SIZES = (32, 47)  # two LR sides for the parity check (an odd one: no size is special-cased)


def exportable(model: nn.Module) -> nn.Module:
    """The ``lq -> sr`` module to trace: the hallucination G's reconstruction, the others as they are."""
    from srlib.models.hallucination import HallucinationGenerator, Reconstruction

    return Reconstruction(model) if isinstance(model, HallucinationGenerator) else model


def export(
    model: nn.Module, path: str | Path, *, arch: str, source: str, sample_side: int = 32
) -> Path:
    """Write ``model`` (eval mode, CPU, fp32) to ``path`` with dynamic batch / H / W; atomic (a temporary file)."""
    import warnings

    import onnx

    path = Path(path)
    net = exportable(model).eval().float().cpu()
    x = torch.rand(1, 3, sample_side, sample_side, generator=torch.Generator().manual_seed(0))
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        warnings.catch_warnings()
    ):  # the TorchScript exporter's deprecation notice: the choice is documented above
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(tmp), dynamo=False, opset_version=OPSET, input_names=["lq"],
                          output_names=["sr"], dynamic_axes={"lq": {0: "batch", 2: "h", 3: "w"},
                                                             "sr": {0: "batch", 2: "H", 3: "W"}})  # fmt: skip
    proto = onnx.load(str(tmp))
    scale = getattr(net, "scale", 1)
    for key, value in {"srlib_arch": arch, "scale": str(scale), "source": source}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    tmp.replace(path)
    return path


class CpuOnly(nn.Module):
    """An upscaler run by an engine outside torch on the CPU: it holds no parameters, and ``to()`` refuses any device
    but the CPU with :meth:`refusal`'s message (the CLI moves every model to its ``--device``)."""

    def refusal(self, device: torch.device) -> str:
        return f"{type(self).__name__} runs on the CPU, not {device}"

    def to(self, *args, **kwargs):
        target = args[0] if args else kwargs.get("device")
        device = torch.device(target) if isinstance(target, str | torch.device) else None
        if device is not None and device.type != "cpu":
            raise ValueError(self.refusal(device))
        return self


class OnnxGenerator(CpuOnly):
    """An exported generator run by ONNX Runtime's CPU provider, usable wherever srlib takes an ``nn.Module`` upscaler.

    ``scale`` comes from the file's metadata. It holds no parameters; ``to()`` refuses any device but the CPU.
    """

    def __init__(self, path: str | Path, *, threads: int = 0):
        super().__init__()
        import onnxruntime as ort

        self.path = Path(path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(
                str(self.path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types for unreadable files
            raise ValueError(
                f"{self.path}: not a readable ONNX model ({type(exc).__name__}: {exc})"
            ) from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "scale" not in meta:
            raise ValueError(
                f"{self.path}: no 'scale' in its metadata: export it with `python -m srlib export-onnx`"
            )
        self.scale, self.arch, self.source = (
            int(meta["scale"]),
            meta.get("srlib_arch", ""),
            meta.get("source", ""),
        )
        self.input_name = self.session.get_inputs()[0].name

    def refusal(self, device: torch.device) -> str:
        return f"{self.path}: ONNX models run on ONNX Runtime's CPU provider, not {device}"

    def forward(
        self, lq: torch.Tensor
    ) -> torch.Tensor:  # (B, 3, h, w) -> (B, 3, scale h, scale w), float32
        x = np.ascontiguousarray(lq.detach().float().cpu().numpy())
        return torch.from_numpy(self.session.run(None, {self.input_name: x})[0])


def parity(
    model: nn.Module, onnx_model: OnnxGenerator, sizes=PARITY_SIZES, *, seed: int = 0
) -> dict[int, float]:
    """``{side: max |ONNX Runtime - PyTorch|}`` on random inputs of each side (the same seeded input for both)."""
    net = exportable(model).eval().float().cpu()
    out = {}
    for side in sizes:
        x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(seed + side))
        with torch.no_grad():
            out[side] = float((onnx_model(x) - net(x)).abs().max())
    return out


def main(argv: list[str] | None = None) -> int:
    """``export-onnx --checkpoint CKPT | --model NAME -o OUT.onnx``: 0 when written and within ``--tolerance``."""
    from srlib import models
    from srlib.convert import releases

    ap = argparse.ArgumentParser(prog="python -m srlib export-onnx",
                                 description="Export an srlib generator to ONNX (dynamic H / W) and check its parity.")  # fmt: skip
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--checkpoint", metavar="CKPT", help="generator file written by srlib (.pth)"
    )
    source.add_argument(
        "--model", choices=list(releases.MODELS), help="a released Real-ESRGAN network"
    )
    ap.add_argument("-o", "--output", required=True, metavar="OUT.onnx")
    ap.add_argument(
        "--tolerance", type=float, default=1e-4, help="largest |ONNX - PyTorch| accepted (1e-4)"
    )
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if not args.output.endswith(".onnx"):
        print(f"error: -o {args.output}: the output must end in .onnx", file=sys.stderr)
        return 2
    try:
        if args.model:
            model, status = releases.load_model(args.model, "pretrained")
            arch, src = args.model, status.path or args.model
        else:
            model, state = models.load_generator(args.checkpoint)
            arch, src = state["arch"], args.checkpoint
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = export(model, args.output, arch=arch, source=str(src))
    diffs = parity(model, OnnxGenerator(path))
    shown = ", ".join(f"{s}x{s}: {d:.2e}" for s, d in diffs.items())
    ok = max(diffs.values()) <= args.tolerance
    print(f"{'ok' if ok else 'error'} {path} ({arch}, x{OnnxGenerator(path).scale}); max |ONNX - PyTorch| {shown}"
          + ("" if ok else f" > {args.tolerance:g}"))  # fmt: skip
    return 0 if ok else 1
