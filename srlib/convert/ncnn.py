"""ncnn ``.param`` / ``.bin`` files -> BasicSR-layout state dicts, mapped by the graph's structure.

ncnn (https://github.com/Tencent/ncnn) stores a network as a text graph (``.param``: magic ``7767517``, then
``layer_count blob_count``, then one line per layer: ``type name n_in n_out inputs... outputs... k=v...``, where
``-23300-k=n,v1,..,vn`` is an array parameter) and a flat weight file (``.bin``): for each layer with weights, in
``.param`` order, its arrays back to back. A Convolution stores its kernel with a 4-byte tag (``0x01306B47``: fp16,
padded to 4 bytes; ``0``: fp32) and then, if ``5=1``, ``0=`` fp32 biases without a tag; a PReLU stores ``0=`` fp32
slopes without a tag. Real-ESRGAN's releases for ncnn (realesrgan-ncnn-vulkan) are fp16 kernels.

Mapping (:mod:`srlib.convert.mapping`): the graph's Convolution / PReLU layers, with their shapes, activations and
the resampling between them, must agree one by one with the target network's parameters in forward order; a file of
another network, or a network built with other arguments, is refused, never loaded by position. The ``.bin`` is
read only after that check. Conversion is exact: fp16 values widen to fp32 without rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from srlib.convert.mapping import ConversionError, Step, activation, state_dict, torch_steps

MAGIC = 7767517
TAG_FP16, TAG_FP32 = 0x01306B47, 0x00000000
WEIGHTLESS = {"Input", "Split", "Concat", "BinaryOp", "Eltwise", "Interp", "PixelShuffle", "ReLU"}
INTERP_MODES = {1: "nearest", 2: "bilinear", 3: "bicubic"}


@dataclass(frozen=True)
class Layer:
    """One line of a ``.param`` file."""

    type: str
    name: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    params: dict[int, int | float | tuple]


# ------------------------------------------------------------------------------------------------- reading


def _value(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def parse_param(path: str | Path) -> list[Layer]:
    """The layers of a text ``.param`` file, in file order."""
    path = Path(path)
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines or lines[0] != [str(MAGIC)]:
        raise ConversionError(f"{path}: not a text ncnn .param file (first line must be {MAGIC})")
    n_layers = int(lines[1][0]) if len(lines) > 1 else -1
    layers = []
    for number, row in enumerate(lines[2:], start=3):
        try:
            kind, name, n_in, n_out = row[0], row[1], int(row[2]), int(row[3])
            blobs, pairs = row[4 : 4 + n_in + n_out], row[4 + n_in + n_out :]
            params: dict[int, int | float | tuple] = {}
            for pair in pairs:
                key, _, text = pair.partition("=")
                k = int(key)
                if k <= -23300:  # array: -23300-k = count,v1,...
                    count, *values = text.split(",")
                    params[-23300 - k] = tuple(_value(v) for v in values[: int(count)])
                else:
                    params[k] = _value(text)
        except (IndexError, ValueError):
            raise ConversionError(f"{path}, line {number}: not an ncnn layer line") from None
        layers.append(Layer(kind, name, tuple(blobs[:n_in]), tuple(blobs[n_in:]), params))
    if len(layers) != n_layers:
        raise ConversionError(f"{path}: header says {n_layers} layers, found {len(layers)}")
    return layers


def _conv_shape(layer: Layer) -> tuple[int, int, int, int]:
    p = layer.params
    out, kw = int(p.get(0, 0)), int(p.get(1, 0))
    kh, size = int(p.get(11, kw)), int(p.get(6, 0))
    if not out or not kw or size % (out * kh * kw):
        raise ConversionError(
            f"{layer.name}: weight size {size} is not out {out} x kernel {kh}x{kw} x channels"
        )
    return out, size // (out * kh * kw), kh, kw


def read_bin(path: str | Path, layers: list[Layer]) -> dict[str, dict[str, np.ndarray]]:
    """The weights of every parametrised layer: ``{layer name: {"weight": ..., "bias": ...}}`` (float32, flat).

    Refuses a file that ends early (truncated, or the ``.bin`` of another ``.param``), one with bytes left over, a
    weight type other than fp16 / fp32 (int8, quantised), and layer types whose storage is not known here.
    """
    path = Path(path)
    data = path.read_bytes()
    offset = 0

    def take(nbytes: int, what: str) -> bytes:
        nonlocal offset
        if offset + nbytes > len(data):
            raise ConversionError(
                f"{path}: truncated or not the weights of this .param: {what} needs {nbytes} bytes at offset "
                f"{offset:,}, the file has {len(data):,} bytes"
            )
        chunk, offset = data[offset : offset + nbytes], offset + nbytes
        return chunk

    def fp32(n: int, what: str) -> np.ndarray:
        return np.frombuffer(take(4 * n, what), dtype="<f4").astype(np.float32)

    out: dict[str, dict[str, np.ndarray]] = {}
    for layer in layers:
        if layer.type == "Convolution":
            n = int(layer.params.get(6, 0))
            what = f"layer {layer.name}"
            tag = int.from_bytes(take(4, f"{what} (tag)"), "little")
            if tag == TAG_FP16:
                raw = take((2 * n + 3) // 4 * 4, f"{what} ({n} fp16 weights)")
                weight = np.frombuffer(raw[: 2 * n], dtype="<f2").astype(np.float32)
            elif tag == TAG_FP32:
                weight = fp32(n, f"{what} ({n} fp32 weights)")
            else:
                raise ConversionError(
                    f"{path}: {what} has weight tag {tag:#010x}; only fp16 ({TAG_FP16:#010x}) and fp32 (0) "
                    "are read (int8 / quantised files are not)"
                )
            out[layer.name] = {"weight": weight}
            if int(layer.params.get(5, 0)):
                c = int(layer.params[0])
                out[layer.name]["bias"] = fp32(c, f"{what} ({c} biases)")
        elif layer.type == "PReLU":
            c = int(layer.params.get(0, 1))
            out[layer.name] = {"weight": fp32(c, f"layer {layer.name} ({c} slopes)")}
        elif layer.type not in WEIGHTLESS:
            raise ConversionError(
                f"{path}: layer {layer.name} of type {layer.type} is not supported by this converter"
            )
    if offset != len(data):
        raise ConversionError(
            f"{path}: {len(data) - offset:,} bytes left after the last layer's weights: not the .bin of this "
            ".param"
        )
    return out


# ------------------------------------------------------------------------------------------------- structure


def ncnn_steps(layers: list[Layer]) -> list[Step]:
    """The parametrised layers of an ncnn graph in file order, then an ``end`` step with the trailing resampling."""
    steps: list[Step] = []
    produced_by: dict[str, int] = {}  # blob -> index of the conv step that produced it
    resample: list[str] = []
    for layer in layers:
        p = layer.params
        if layer.type == "Convolution":
            sh, sw = int(p.get(13, p.get(3, 1))), int(p.get(3, 1))
            pl = int(p.get(4, 0))
            pt = int(p.get(14, pl))
            pr, pb = int(p.get(15, pl)), int(p.get(16, pt))
            dh, dw = int(p.get(12, p.get(2, 1))), int(p.get(2, 1))
            steps.append(
                Step(
                    "conv",
                    _conv_shape(layer),
                    bool(int(p.get(5, 0))),
                    f"s{sh}x{sw} p{pt},{pl},{pb},{pr} d{dh}x{dw}",
                    activation(int(p.get(9, 0)), tuple(p.get(10, ()))),
                    tuple(resample),
                    layer.name,
                )
            )
            produced_by[layer.tops[0]], resample = len(steps) - 1, []
        elif layer.type == "PReLU":
            steps.append(
                Step("prelu", (int(p.get(0, 1)),), resample=tuple(resample), name=layer.name)
            )
            resample = []
        elif layer.type == "ReLU" and layer.bottoms[0] in produced_by:  # a conv's own activation
            i = produced_by[layer.bottoms[0]]
            slope = float(p.get(0, 0.0))
            steps[i] = replace(steps[i], act=activation(2 if slope else 1, (slope,)))
            produced_by[layer.tops[0]] = i
        elif layer.type == "Interp":
            mode = INTERP_MODES.get(int(p.get(0, 1)), f"mode {p.get(0)}")
            hs, ws = float(p.get(1, 1.0)), float(p.get(2, 1.0))
            resample.append(f"{mode} x{hs:g}" if hs == ws else f"{mode} x{hs:g},{ws:g}")
        elif layer.type == "PixelShuffle":
            resample.append(f"pixel_shuffle x{int(p.get(0, 1))}")
        elif layer.type not in WEIGHTLESS:
            raise ConversionError(
                f"layer {layer.name} of type {layer.type} is not supported by this converter"
            )
    return [*steps, Step("end", (), resample=tuple(resample))]


# ------------------------------------------------------------------------------------------------- mapping


def map_onto(
    net, param: str | Path, bin_: str | Path, *, in_ch: int = 3
) -> dict[str, torch.Tensor]:
    """The state dict of ``net`` filled from the ncnn files, matched step by step (:mod:`srlib.convert.mapping`).

    The structure is checked before the ``.bin`` is read: a ``.param`` of another network is refused as such.
    """
    layers = parse_param(param)
    source, target = ncnn_steps(layers), torch_steps(net, in_ch)
    label = f"{Path(param).name} vs {type(net).__name__}({getattr(net, 'arch_kwargs', '')})"
    return state_dict(net, source, target, read_bin(bin_, layers), label)


def _counts(steps: list[Step]) -> tuple[list[Step], list[Step]]:
    return [s for s in steps if s.kind == "conv"], [s for s in steps if s.kind == "prelu"]


def rrdbnet_arch(param: str | Path) -> dict:
    """RRDBNet constructor arguments read off an ncnn graph (x4 only: no pixel-unshuffle front end)."""
    convs, prelus = _counts(ncnn_steps(parse_param(param)))
    if len(convs) < 21 or (len(convs) - 6) % 15 or prelus:
        raise ConversionError(
            f"{Path(param).name} is not an RRDBNet graph: {len(convs)} Convolution and {len(prelus)} PReLU "
            "layers (an RRDBNet has 6 + 15 per block Convolutions and no PReLU)"
        )
    return dict(
        num_in_ch=convs[0].shape[1],
        num_out_ch=convs[-1].shape[0],
        scale=4,
        num_feat=convs[0].shape[0],
        num_block=(len(convs) - 6) // 15,
        num_grow_ch=convs[1].shape[0],
    )


def srvgg_arch(param: str | Path) -> dict:
    """SRVGGNetCompact constructor arguments read off an ncnn graph."""
    steps = ncnn_steps(parse_param(param))
    convs, prelus = _counts(steps)
    shuffle = [r for r in steps[-1].resample if r.startswith("pixel_shuffle")]
    if len(convs) < 2 or not shuffle or len(prelus) not in (0, len(convs) - 1):
        tail = "" if shuffle else ", no pixel shuffle at the end"
        raise ConversionError(
            f"{Path(param).name} is not an SRVGGNetCompact graph: {len(convs)} Convolution and "
            f"{len(prelus)} PReLU layers{tail}"
        )
    upscale = int(shuffle[0].split("x")[-1])
    act = "prelu" if prelus else {"relu": "relu", "lrelu(0.1)": "leakyrelu"}.get(convs[0].act, "")
    return dict(
        num_in_ch=convs[0].shape[1],
        num_out_ch=convs[-1].shape[0] // upscale**2,
        num_feat=convs[0].shape[0],
        num_conv=len(convs) - 2,
        upscale=upscale,
        act_type=act or convs[0].act,
    )


def convert_rrdbnet(param: str | Path, bin_: str | Path, **arch) -> dict[str, torch.Tensor]:
    """An ncnn RRDBNet (Real-ESRGAN x4plus / x4plus_anime_6B) -> a BasicSR ``RRDBNet`` state dict.

    ``arch`` overrides the constructor arguments read off the graph (:func:`rrdbnet_arch`); the structure check
    refuses files that do not fit them.
    """
    from srlib.models.esrgan import RRDBNet

    kwargs = rrdbnet_arch(param) | arch
    return map_onto(RRDBNet(**kwargs), param, bin_, in_ch=kwargs["num_in_ch"])


def convert_srvgg(param: str | Path, bin_: str | Path, **arch) -> dict[str, torch.Tensor]:
    """An ncnn SRVGGNetCompact (realesr-animevideov3) -> a Real-ESRGAN ``SRVGGNetCompact`` state dict."""
    from srlib.models.srvgg import SRVGGNetCompact

    kwargs = srvgg_arch(param) | arch
    try:
        net = SRVGGNetCompact(**kwargs)
    except ValueError as exc:
        raise ConversionError(f"{Path(param).name}: {exc}") from None
    return map_onto(net, param, bin_, in_ch=kwargs["num_in_ch"])


# ------------------------------------------------------------------------------------------------- writing


class _Graph:
    """An ncnn graph being written: layer lines, their fp32 weights, and the Split layers a reused blob needs."""

    def __init__(self):
        self.lines: list[str] = []
        self.weights: list[bytes] = []
        self.blobs = 0

    def blob(self) -> str:
        self.blobs += 1
        return f"b{self.blobs}"

    def layer(self, kind: str, bottoms: list[str], n_out: int = 1, params: str = "") -> list[str]:
        tops = [self.blob() for _ in range(n_out)]
        line = f"{kind:<16} l{len(self.lines):<5} {len(bottoms)} {n_out} {' '.join(bottoms + tops)}"
        self.lines.append(f"{line} {params}".rstrip())
        return tops

    def split(self, blob: str, n: int) -> list[str]:
        return [blob] if n == 1 else self.layer("Split", [blob], n)

    def conv(self, conv: torch.nn.Conv2d, blob: str, act: str = "") -> str:
        w = conv.weight.detach().float().cpu().numpy()  # (out, in, kh, kw): ncnn's order
        out, _, kh, kw = w.shape
        if (
            (kh, kw) != (3, 3)
            or conv.stride != (1, 1)
            or conv.padding != (1, 1)
            or conv.bias is None
        ):
            raise ConversionError(
                f"{conv}: only 3x3 stride-1 pad-1 convolutions with a bias are written"
            )
        self.weights += [TAG_FP32.to_bytes(4, "little"), w.astype("<f4").tobytes()]
        self.weights.append(conv.bias.detach().float().cpu().numpy().astype("<f4").tobytes())
        return self.layer("Convolution", [blob], params=f"0={out} 1=3 4=1 5=1 6={w.size} {act}")[0]

    def text(self, input_blob: str) -> str:
        head = [
            str(MAGIC),
            f"{len(self.lines) + 1} {self.blobs + 1}",
            f"{'Input':<16} in     0 1 {input_blob}",
        ]
        return "\n".join(head + self.lines) + "\n"


_LRELU = "9=2 -23310=1,{:e}"


def _rrdbnet_graph(net) -> _Graph:
    if net.unshuffle != 1:
        raise ConversionError(
            f"RRDBNet x{net.scale} starts with a pixel-unshuffle: only x4 / x8 are written"
        )
    g, lrelu = _Graph(), _LRELU.format(0.2)
    g.blobs = 1  # b1: the input
    feat_body, feat_skip = g.split(g.conv(net.conv_first, "b1"), 2)
    x = feat_body
    for rrdb in net.body:
        x, rrdb_skip = g.split(x, 2)
        for rdb in (rrdb.rdb1, rrdb.rdb2, rrdb.rdb3):
            # every feature feeds the later convolutions (dense connections) and x the residual too
            uses = {0: g.split(x, 6)}
            outs = []
            for k, conv in enumerate(
                (rdb.conv1, rdb.conv2, rdb.conv3, rdb.conv4, rdb.conv5), start=1
            ):
                inputs = [uses[0][k - 1]] + [uses[j][k - 1 - j] for j in range(1, k)]
                cat = inputs[0] if k == 1 else g.layer("Concat", inputs)[0]
                y = g.conv(conv, cat, act=lrelu if k < 5 else "")
                if k < 5:
                    uses[k] = g.split(y, 5 - k)
                outs.append(y)
            # x5 * 0.2 + x (ESRGAN's residual scaling)
            x = g.layer(
                "Eltwise", [outs[-1], uses[0][5]], params="0=1 -23301=2,2.000000e-01,1.000000e+00"
            )[0]
        x = g.layer("Eltwise", [x, rrdb_skip], params="0=1 -23301=2,2.000000e-01,1.000000e+00")[0]
    feat = g.layer("BinaryOp", [g.conv(net.conv_body, x), feat_skip], params="0=0")[0]
    ups = [net.conv_up1, net.conv_up2] + ([net.conv_up3] if net.scale == 8 else [])
    for conv in ups:
        feat = g.layer("Interp", [feat], params="0=1 1=2.000000e+00 2=2.000000e+00")[0]
        feat = g.conv(conv, feat, act=lrelu)
    g.conv(net.conv_last, g.conv(net.conv_hr, feat, act=lrelu))
    return g


def _srvgg_graph(net) -> _Graph:
    g = _Graph()
    g.blobs = 1
    body_in, skip = g.split("b1", 2)
    x = body_in
    convs = [m for m in net.body if isinstance(m, torch.nn.Conv2d)]
    acts = [m for m in net.body if not isinstance(m, torch.nn.Conv2d)]
    for k, conv in enumerate(convs):
        x = g.conv(conv, x)
        if k == len(convs) - 1:
            break
        act = acts[k]
        if isinstance(act, torch.nn.PReLU):
            slopes = act.weight.detach().float().cpu().numpy()
            g.weights.append(slopes.astype("<f4").tobytes())
            x = g.layer("PReLU", [x], params=f"0={slopes.size}")[0]
        else:  # ReLU / LeakyReLU(0.1)
            x = g.layer("ReLU", [x], params=f"0={getattr(act, 'negative_slope', 0.0):e}")[0]
    x = g.layer("PixelShuffle", [x], params=f"0={net.scale}")[0]
    up = g.layer("Interp", [skip], params=f"0=1 1={float(net.scale):e} 2={float(net.scale):e}")[0]
    g.layer("BinaryOp", [x, up], params="0=0")
    return g


def write_ncnn(net, param: str | Path, bin_: str | Path) -> tuple[Path, Path]:
    """An RRDBNet (x4 / x8) or SRVGGNetCompact as ncnn files: a text ``.param`` graph and an fp32 ``.bin``.

    The inverse of :func:`map_onto` (tests/unit/test_convert_ncnn.py converts the files back and compares, and runs
    them in ncnn against the torch network); what ``srlib upscale --backend ncnn`` runs.
    """
    from srlib.models.esrgan import RRDBNet
    from srlib.models.srvgg import SRVGGNetCompact

    if isinstance(net, RRDBNet):
        g = _rrdbnet_graph(net)
    elif isinstance(net, SRVGGNetCompact):
        g = _srvgg_graph(net)
    else:
        raise ConversionError(
            f"{type(net).__name__}: only RRDBNet and SRVGGNetCompact are written as ncnn files"
        )
    param, bin_ = Path(param), Path(bin_)
    param.write_text(g.text("b1"))
    bin_.write_bytes(b"".join(g.weights))
    return param, bin_


# ------------------------------------------------------------------------------------------------- the oracle


WINOGRAD = ("ncnn", "f63")  # run_ncnn's choices of Winograd transform for the 3x3 convolutions
_HINT = 64  # the nominal output side of the shape hints below (any side past ncnn's F(2,3) range acts alike)


def winograd63_param(text: str) -> str:
    """A ``.param`` text whose 3x3 stride-1 convolutions ncnn will run as Winograd F(6,3) once F(4,3) is disabled.

    ncnn picks each 3x3 convolution's transform in ``Convolution_x86::create_pipeline``: with no shape hint, F(6,3)
    only for <= 32 channels in and out, otherwise F(4,3) -- so every RRDBNet / SRVGGNetCompact layer (64 to 192
    channels in) gets F(4,3), and with F(4,3) disabled F(2,3). With a shape hint (``-23330=4,3,w,h,c``, the output
    blob's shape) and F(4,3) disabled it falls through to F(6,3); at run time it re-checks the real size and keeps
    the one transform it prepared. The hint steers that choice only; any input size still runs."""
    lines = []
    for line in text.splitlines():
        tokens = line.split()
        if (
            tokens
            and tokens[0] == "Convolution"
            and not any(t.startswith("-23330=") for t in tokens)
        ):
            p = dict(t.split("=", 1) for t in tokens[4:] if "=" in t and not t.startswith("-"))
            kernel = (p.get("1"), p.get("11", p.get("1")))  # kernel w, h (h defaults to w)
            dilation, stride = (
                (p.get("2", "1"), p.get("12", "1")),
                (p.get("3", "1"), p.get("13", "1")),
            )
            if kernel == ("3", "3") and dilation == stride == ("1", "1"):
                line += f" -23330=4,3,{_HINT},{_HINT},{p['0']}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_ncnn(
    param: str | Path, bin_: str | Path, lq: np.ndarray, *, threads: int = 1, winograd: str = "ncnn"
):
    """Run the ncnn files with the ``ncnn`` package on CPU in fp32: ``(3, h, w)`` float32 -> ``(3, s h, s w)``.

    The parity oracle of the tests and the CPU speed peer of ``benchmarks/ncnn_vs_torch.py``; returns a callable
    when ``lq`` is None (the loaded network, for timing repeated runs). ``winograd``: ``"ncnn"`` keeps ncnn's own
    choice of transform for the 3x3 convolutions (F(4,3) for these networks); ``"f63"`` makes it F(6,3)
    (:func:`winograd63_param`): 8x8 products per 6x6 output tile instead of 6x6 per 4x4, i.e. 1.78 instead of 2.25
    multiplications per output pixel and channel pair (direct: 9), for more transform work, larger rounding (max
    |Δ| vs torch: x4plus 6-7e-6 instead of 2-3e-6, animevideov3 2.6e-5 instead of 7e-6) and more memory for the
    transformed weights (x4plus: 516 instead of 294 MB resident after loading).
    """
    if winograd not in WINOGRAD:
        raise ValueError(f"winograd must be one of {WINOGRAD}, not {winograd!r}")
    try:
        import ncnn
    except ImportError:
        raise ImportError(
            "the ncnn package is the parity oracle (pip install ncnn==1.0.20261020, in srlib's dev extra)"
        ) from None
    layers = parse_param(param)
    consumed = {b for layer in layers for b in layer.bottoms}
    inp = next(layer.tops[0] for layer in layers if layer.type == "Input")
    outp = next(t for layer in layers for t in layer.tops if t not in consumed)
    net = ncnn.Net()
    opt = net.opt
    opt.use_vulkan_compute = False
    opt.num_threads = threads
    for flag in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(opt, flag, False)  # fp32 all through: the reference for the fp32 torch network
    if winograd == "f63":
        opt.use_winograd43_convolution = False
        failed = net.load_param_mem(winograd63_param(Path(param).read_text()))
    else:
        failed = net.load_param(str(param))
    if failed or net.load_model(str(bin_)):
        raise ConversionError(f"ncnn could not load {param} / {bin_}")

    def forward(x: np.ndarray) -> np.ndarray:
        # ncnn.Mat wraps the array's memory without owning it: the array must outlive extract() (a temporary
        # copy, made for a non-contiguous input, would be freed first and ncnn would read freed memory)
        data = np.ascontiguousarray(x, dtype=np.float32)
        ex = net.create_extractor()
        ex.input(inp, ncnn.Mat(data))
        ret, out = ex.extract(outp)
        if ret:
            raise RuntimeError(f"ncnn extract({outp!r}) failed with {ret}")
        return np.array(out)

    return forward if lq is None else forward(lq)
