"""The ncnn runtime as srlib's CPU backend for Real-ESRGAN's families (``srlib upscale --backend ncnn``).

On a CPU, ncnn runs RRDBNet faster than PyTorch's direct convolution can: its 3x3 convolutions are Winograd
transforms, which need fewer multiplications, while oneDNN's direct kernels already run near the core's FMA peak
(``benchmarks/ncnn_vs_torch.py`` prints both: ~1.4x on x4plus at one thread). :class:`NcnnGenerator` writes a torch
RRDBNet (x4 / x8) or SRVGGNetCompact as ncnn files (:func:`srlib.convert.ncnn.write_ncnn`, fp32), loads them into
``ncnn.Net`` with fp16 / bf16 storage and arithmetic off, and runs wherever srlib takes an ``nn.Module`` upscaler (the
tiling included). Outputs: within 1e-5 of the eager fp32 network (tests/unit/test_convert_ncnn.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from srlib.convert.ncnn import ConversionError, run_ncnn, write_ncnn


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


class NcnnGenerator(nn.Module):
    """``net`` run by ncnn on the CPU in fp32 (it holds no parameters; ``to()`` refuses any device but the CPU)."""

    def __init__(self, net: nn.Module, *, threads: int = 1):
        super().__init__()
        if not available():
            raise ValueError(
                "--backend ncnn needs the ncnn package: pip install ncnn==1.0.20261020"
            )
        if not supports(net):
            raise ValueError(
                f"ncnn runs RRDBNet x4 / x8 and SRVGGNetCompact here, not {type(net).__name__}"
            )
        self.scale, self.arch = net.scale, type(net).__name__
        with tempfile.TemporaryDirectory(
            prefix="srlib-ncnn-"
        ) as tmp:  # ncnn reads the files while loading
            try:
                param, bin_ = write_ncnn(net, Path(tmp) / "net.param", Path(tmp) / "net.bin")
                self._forward = run_ncnn(param, bin_, None, threads=threads)
            except ConversionError as exc:
                raise ValueError(str(exc)) from None

    def to(self, *args, **kwargs):
        device = torch.device(args[0]) if args and isinstance(args[0], str | torch.device) else None
        if device is not None and device.type != "cpu":
            raise ValueError(f"the ncnn backend runs on the CPU, not {device}")
        return self

    def forward(
        self, lq: torch.Tensor
    ) -> torch.Tensor:  # (B, 3, h, w) -> (B, 3, scale h, scale w), float32
        x = lq.detach().float().cpu().numpy()
        return torch.stack([torch.from_numpy(self._forward(img)) for img in x])
