"""Weights of another framework's graph -> a torch network's state dict, matched by structure, not by position.

Both sides are reduced to the sequence of their parametrised layers (:class:`Step`: a conv with weight shape, bias,
stride / padding / dilation and the activation applied to its output, or a PReLU with its slopes; each with the
resampling -- nearest / bilinear interpolation, pixel shuffle -- since the previous such layer, and a final ``end``
step with the trailing resampling). The target's sequence comes from running the network once on a tiny input and
recording its torch calls (:func:`torch_steps`): its **forward order**, each call's weight named by its state-dict
key. :func:`match` requires the two sequences to agree step by step and reports the first differing step of both
sides otherwise, so weights of another network, or of the same family built with other arguments, never load by
position. The readers of each format (:mod:`srlib.convert.ncnn`) produce the source sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode


class ConversionError(ValueError):
    """Weights in another format that cannot be read, or that do not fit the target network (one line)."""


@dataclass(frozen=True)
class Step:
    """A parametrised layer as the mapping compares it; ``name`` (ncnn layer or state-dict prefix) is not compared."""

    kind: str  # "conv" | "prelu"
    shape: tuple[int, ...]  # weight shape, torch order (out, in, kh, kw) / (channels,)
    bias: bool = False
    geometry: str = ""  # conv stride / padding / dilation
    act: str = ""  # activation applied to the conv's output ("lrelu(0.2)", "relu")
    # resampling since the previous step ("nearest x2", "pixel_shuffle x4")
    resample: tuple[str, ...] = ()
    name: str = field(default="", compare=False)

    def __str__(self) -> str:
        if self.kind == "end":
            return f"end of the network after [{', '.join(self.resample)}]"
        shape = "x".join(map(str, self.shape))
        extra = f"{' +bias' if self.bias else ''} {self.geometry} {self.act}".rstrip()
        return f"{self.name}: {self.kind} {shape}{extra} after [{', '.join(self.resample)}]"


def activation(kind: int, params: tuple) -> str:
    """A fused activation by its ncnn code (0 none, 1 ReLU, 2 leaky ReLU with ``params[0]`` as slope)."""
    if kind == 0:
        return ""
    if kind == 1 or (kind == 2 and not params):
        return "relu"
    if kind == 2:
        return f"lrelu({round(float(params[0]), 6):g})"
    return f"activation type {kind}"


class _Recorder(TorchFunctionMode):
    """Records ``(function, args, kwargs, output)`` of every torch call made while it is active."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.calls.append((func, args, kwargs, out))
        return out


def _arg(args: tuple, kwargs: dict, i: int, name: str, default):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


@torch.no_grad()
def torch_steps(net: nn.Module, in_ch: int = 3, size: int = 8) -> list[Step]:
    """The parametrised layers of ``net`` in forward order (one forward pass on a ``size``² input), as :class:`Step`."""
    names = {id(p): n.removesuffix(".weight") for n, p in net.named_parameters()}
    recorder = _Recorder()
    with recorder:
        net.eval()(torch.zeros(1, in_ch, size, size))
    steps: list[Step] = []
    conv_out: dict[int, int] = {}  # id(conv output tensor) -> step index
    resample: list[str] = []
    for func, args, kwargs, out in recorder.calls:
        if func in (F.conv2d, torch.conv2d):
            weight, bias = args[1], _arg(args, kwargs, 2, "bias", None)
            (sh, sw), (ph, pw) = (
                _pair(_arg(args, kwargs, 3, "stride", 1)),
                _pair(_arg(args, kwargs, 4, "padding", 0)),
            )
            dh, dw = _pair(_arg(args, kwargs, 5, "dilation", 1))
            geometry = f"s{sh}x{sw} p{ph},{pw},{ph},{pw} d{dh}x{dw}"
            shape = tuple(weight.shape)
            name = names.get(id(weight), "?")
            steps.append(Step("conv", shape, bias is not None, geometry, "", tuple(resample), name))
            conv_out[id(out)], resample = len(steps) - 1, []
        elif func in (F.prelu, torch.prelu):
            weight = args[1]
            name = names.get(id(weight), "?")
            steps.append(Step("prelu", tuple(weight.shape), resample=tuple(resample), name=name))
            resample = []
        elif func in (F.leaky_relu, F.relu, torch.relu) and id(args[0]) in conv_out:
            i = conv_out[id(args[0])]
            slope = _arg(args, kwargs, 1, "negative_slope", 0.01) if func is F.leaky_relu else 0.0
            steps[i] = replace(steps[i], act=activation(2 if slope else 1, (slope,)))
        elif func is F.interpolate:
            mode = _arg(args, kwargs, 3, "mode", "nearest")
            s = _arg(args, kwargs, 2, "scale_factor", None)
            hs, ws = (s, s) if not isinstance(s, tuple | list) else s
            if s is None:  # a fixed output size: never equal to a scale token
                resample.append(f"{mode} to size {_arg(args, kwargs, 1, 'size', None)}")
            else:
                resample.append(f"{mode} x{hs:g}" if hs == ws else f"{mode} x{hs:g},{ws:g}")
        elif func in (F.pixel_shuffle, torch.pixel_shuffle):
            resample.append(f"pixel_shuffle x{int(_arg(args, kwargs, 1, 'upscale_factor', 1))}")
    return [*steps, Step("end", (), resample=tuple(resample))]


def match(source: list[Step], target: list[Step], label: str) -> None:
    """Refuse (``ConversionError``) unless the two step sequences agree one by one (names aside)."""
    if len(source) == len(target) and all(s == t for s, t in zip(source, target, strict=True)):
        return
    counts = [
        (sum(s.kind == "conv" for s in steps), sum(s.kind == "prelu" for s in steps))
        for steps in (source, target)
    ]
    i = next(
        (i for i, (s, t) in enumerate(zip(source, target, strict=False)) if s != t),
        min(len(source), len(target)),
    )
    raise ConversionError(
        f"{label}: the graphs differ ({counts[0][0]} convs + {counts[0][1]} PReLU in the file, "
        f"{counts[1][0]} + {counts[1][1]} in the network); first difference at parametrised layer {i}: file "
        f"[{source[i] if i < len(source) else 'nothing'}] vs network "
        f"[{target[i] if i < len(target) else 'nothing'}]"
    )


def state_dict(
    net: nn.Module,
    source: list[Step],
    target: list[Step],
    arrays: dict[str, dict[str, np.ndarray]],
    label: str,
) -> dict[str, torch.Tensor]:
    """``net``'s state dict (its keys, in its order) from ``arrays`` (source step name -> flat weight / bias)."""
    match(source, target, label)
    state: dict[str, torch.Tensor] = {}
    for s, t in zip(source, target, strict=True):
        if s.kind == "end":
            continue
        w = arrays[s.name]
        state[f"{t.name}.weight"] = torch.from_numpy(w["weight"].reshape(s.shape).copy())
        if "bias" in w:
            state[f"{t.name}.bias"] = torch.from_numpy(w["bias"].copy())
    want = net.state_dict()
    if set(state) != set(want):
        missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
        raise ConversionError(
            f"{label}: state-dict keys differ (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    return {k: state[k] for k in want}
