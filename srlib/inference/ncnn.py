"""The ncnn runtime as srlib's CPU backend for Real-ESRGAN's families (``srlib upscale --backend ncnn``).

On a CPU, ncnn runs RRDBNet faster than PyTorch's direct convolution can: its 3x3 convolutions are Winograd
transforms, which need fewer multiplications, while oneDNN's direct kernels already run near the core's FMA peak
(``benchmarks/ncnn_vs_torch.py`` prints both: torch eager runs x4plus at 0.62-0.81x ncnn's speed here).
:class:`NcnnGenerator` writes a torch RRDBNet (x4 / x8) or SRVGGNetCompact as ncnn files
(:func:`srlib.convert.ncnn.write_ncnn`, fp32), loads them into ``ncnn.Net`` with fp16 / bf16 storage and arithmetic
off, its 3x3 convolutions as Winograd F(6,3) on AVX-512 CPUs (:func:`default_winograd`), and runs wherever srlib
takes an ``nn.Module`` upscaler (the tiling included). Outputs: within 1e-5 of the eager fp32 network on the tests'
small networks (tests/unit/test_convert_ncnn.py); 7e-6 on x4plus and 2.6e-5 on animevideov3 at 256² (the benchmark).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from srlib.convert.ncnn import WINOGRAD, ConversionError, run_ncnn, write_ncnn
from srlib.inference.onnx import CpuOnly


def available() -> bool:
    """Whether the ``ncnn`` package is installed (srlib's ``dev`` extra, or ``pip install ncnn==1.0.20261020``)."""
    try:
        import ncnn  # noqa: F401
    except ImportError:
        return False
    return True


def supports(net: nn.Module) -> bool:
    """Whether :func:`srlib.convert.ncnn.write_ncnn` writes ``net``: RRDBNet x4 / x8, SRVGGNetCompact."""
    from srlib.models.esrgan import RRDBNet
    from srlib.models.srvgg import SRVGGNetCompact

    return isinstance(net, SRVGGNetCompact) or (isinstance(net, RRDBNet) and net.unshuffle == 1)


def default_winograd() -> str:
    """F(6,3) where the CPU has AVX-512, ncnn's own choice (F(4,3) here) elsewhere.

    ncnn's selection rules were profiled on an AVX2 i7-7700 (``test_prefer_winograd63`` in its ``convolution_x86.cpp``)
    and never take F(6,3) for 64 channels in or more. With AVX-512's 16-wide packing F(6,3) runs x4plus faster:
    1.06-1.18x ncnn's choice on this project's AMD Zen 5 host at 128² / 256², 1 and 2 threads (3 processes pooled;
    ``benchmarks/ncnn_vs_torch.py``, row ``ncnn_f63``); SRVGGNetCompact 1.00-1.08x there, but 0.82x at 32². It was
    not measured on an AVX2 CPU, so there ncnn's own rule stays."""
    return "f63" if torch.backends.cpu.get_cpu_capability() == "AVX512" else "ncnn"


class NcnnGenerator(CpuOnly):
    """``net`` run by ncnn on the CPU in fp32 (it holds no parameters; ``to()`` refuses any device but the CPU).

    ``winograd``: the transform of the 3x3 convolutions (:func:`srlib.convert.ncnn.run_ncnn`); ``"auto"``:
    :func:`default_winograd`."""

    def __init__(self, net: nn.Module, *, threads: int = 1, winograd: str = "auto"):
        super().__init__()
        if not available():
            raise ValueError(
                "--backend ncnn needs the ncnn package: pip install ncnn==1.0.20261020"
            )
        if not supports(net):
            raise ValueError(
                f"ncnn runs RRDBNet x4 / x8 and SRVGGNetCompact here, not {type(net).__name__}"
            )
        if winograd not in ("auto", *WINOGRAD):
            raise ValueError(f"winograd must be 'auto' or one of {WINOGRAD}, not {winograd!r}")
        self.scale, self.arch = net.scale, type(net).__name__
        self.winograd = default_winograd() if winograd == "auto" else winograd
        with tempfile.TemporaryDirectory(
            prefix="srlib-ncnn-"
        ) as tmp:  # ncnn reads the files while loading
            try:
                param, bin_ = write_ncnn(net, Path(tmp) / "net.param", Path(tmp) / "net.bin")
                self._forward = run_ncnn(param, bin_, None, threads=threads, winograd=self.winograd)
            except ConversionError as exc:
                raise ValueError(str(exc)) from None

    def refusal(self, device: torch.device) -> str:
        return f"the ncnn backend runs on the CPU, not {device}"

    def forward(
        self, lq: torch.Tensor
    ) -> torch.Tensor:  # (B, 3, h, w) -> (B, 3, scale h, scale w), float32
        x = lq.detach().float().cpu().numpy()
        return torch.stack([torch.from_numpy(self._forward(img)) for img in x])
