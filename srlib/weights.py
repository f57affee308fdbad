"""Pretrained weight files the study uses, and how each use of them is resolved.

Every pretrained-weight use in srlib goes through :func:`resolve` with an explicit mode:

* ``pretrained`` -- the file must be present (or downloadable); otherwise a :class:`WeightsUnavailable` error names
  the file and the folder to put it in.
* ``auto`` -- use the file when present; otherwise fall back to a random-initialised network, emit a warning, and
  record ``"source": "random-init"`` in the returned :class:`WeightStatus`. Every metrics file carries these statuses,
  so a number computed with random features is never mistaken for one comparable with a paper.
* ``random`` -- never touch the disk or the network; random initialisation on purpose.

Files live where torch.hub keeps them: ``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch``). A file that is
already there is used as is (torch.hub checks hashes only on download), which is also how the tests exercise the real
loading path offline: they place random-initialised state dicts under a temporary ``TORCH_HOME``.

``sha256`` holds the full digest where it was published, otherwise the hash prefix the file name carries
(torchvision / pytorch-fid convention: the first 8 hex digits of the sha256). :func:`verify` checks either.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

MODES = ("pretrained", "auto", "random")


class WeightsUnavailable(FileNotFoundError):
    """A pretrained file was required (mode ``pretrained``) but is not on disk and could not be fetched."""


@dataclass(frozen=True)
class WeightFile:
    key: str
    filename: str
    url: str
    sha256: str  # full hex digest, or the published prefix (>= 8 hex digits)
    used_by: str


WEIGHTS: dict[str, WeightFile] = {
    "vgg19": WeightFile(
        "vgg19",
        "vgg19-dcbb9e9d.pth",
        "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        "dcbb9e9d",
        "VGG19 perceptual losses (SRGAN VGG54, Real-ESRGAN, modified SRGAN)",
    ),
    "vgg16": WeightFile(
        "vgg16",
        "vgg16-397923af.pth",
        "https://download.pytorch.org/models/vgg16-397923af.pth",
        "397923af",
        "LPIPS net='vgg' trunk",
    ),
    "alexnet": WeightFile(
        "alexnet",
        "alexnet-owt-7be5be79.pth",
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "7be5be79",
        "LPIPS net='alex' trunk (the LPIPS default)",
    ),
    "fid_inception": WeightFile(
        "fid_inception",
        "pt_inception-2015-12-05-6726825d.pth",
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        "6726825d",
        "FID / KID Inception-v3 (pytorch-fid's port of the TF 2015-12-05 graph)",
    ),
    "realesrgan_x4plus": WeightFile(
        "realesrgan_x4plus",
        "RealESRGAN_x4plus.pth",
        "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
        "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
        "Real-ESRGAN x4 generator (RRDBNet, key 'params_ema')",
    ),
}


@dataclass
class WeightStatus:
    """What one weight use resolved to; ``as_dict()`` goes into every metrics file."""

    key: str
    mode: str
    source: str  # "file" | "random-init"
    path: str | None
    message: str

    @property
    def comparable(self) -> bool:
        """True when real published weights were used, i.e. numbers may be compared with papers."""
        return self.source == "file"

    def as_dict(self) -> dict:
        return asdict(self) | {"comparable": self.comparable}


def checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (torch.hub's cache), read at call time so tests can move it."""
    torch_home = os.environ.get(
        "TORCH_HOME",
        os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"),
    )
    return Path(torch_home).expanduser() / "hub" / "checkpoints"


def _entry(key: str) -> WeightFile:
    if key not in WEIGHTS:
        raise KeyError(f"unknown weight file {key!r}; known: {', '.join(WEIGHTS)}")
    return WEIGHTS[key]


def local_path(key: str) -> Path:
    return checkpoint_dir() / _entry(key).filename


def where_to_put(key: str) -> str:
    w = _entry(key)
    return (
        f"{w.filename} ({w.used_by}) is not in {checkpoint_dir()}. On a networked host run "
        f"`python -m srlib weights fetch {key}`, or download {w.url} and copy it to "
        f"{local_path(key)} (set TORCH_HOME to use another cache folder)."
    )


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(key: str) -> tuple[bool, str]:
    """Check the cached file's sha256 against the published digest (or prefix)."""
    w, path = _entry(key), local_path(key)
    if not path.is_file():
        return False, f"missing: {path}"
    digest = sha256_of(path)
    ok = digest.startswith(w.sha256.lower())
    return ok, f"{'ok' if ok else 'MISMATCH'}: {path} sha256={digest} expected={w.sha256}"


def fetch(key: str, *, progress: bool = True) -> Path:
    """Download ``key`` into the torch hub cache and check its hash (needs a network)."""
    import torch.hub

    w, path = _entry(key), local_path(key)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    try:
        torch.hub.download_url_to_file(w.url, str(tmp), progress=progress)
    except Exception as exc:  # network errors come in many types (URLError, socket, http)
        tmp.unlink(missing_ok=True)
        raise WeightsUnavailable(f"could not download {w.url}: {exc}. {where_to_put(key)}") from exc
    digest = sha256_of(tmp)
    if not digest.startswith(w.sha256.lower()):
        tmp.unlink(missing_ok=True)
        raise WeightsUnavailable(f"{w.filename}: sha256 {digest} does not match {w.sha256}")
    tmp.replace(path)
    return path


def resolve(key: str, mode: str) -> WeightStatus:
    """Decide where the weights for ``key`` come from under ``mode`` (see module docstring)."""
    if mode not in MODES:
        raise ValueError(f"weights mode must be one of {MODES}, got {mode!r}")
    w, path = _entry(key), local_path(key)
    if mode == "random":
        return WeightStatus(key, mode, "random-init", None, f"{key}: random initialisation (mode 'random')")
    if path.is_file():
        return WeightStatus(key, mode, "file", str(path), f"{key}: loaded {path}")
    if mode == "pretrained":
        try:
            fetch(key, progress=False)
        except WeightsUnavailable as exc:
            raise WeightsUnavailable(f"weights mode 'pretrained' needs {w.filename}: {exc}") from None
        return WeightStatus(key, mode, "file", str(path), f"{key}: downloaded {path}")
    msg = (
        f"{key}: {w.filename} not found in {checkpoint_dir()}; using a RANDOM-INITIALISED network "
        f"(mode 'auto'). Numbers that depend on it are NOT comparable with published ones."
    )
    warnings.warn(msg, stacklevel=2)
    return WeightStatus(key, mode, "random-init", None, msg)


def load_state_dict(key: str, mode: str) -> tuple[dict | None, WeightStatus]:
    """Resolve ``key`` and load its state dict (``None`` when the network stays random-initialised)."""
    import torch

    status = resolve(key, mode)
    if status.source != "file":
        return None, status
    try:
        state = torch.load(status.path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsUnavailable(
            f"{status.path} is not a readable PyTorch state dict ({exc}); delete it and fetch it again"
        ) from exc
    return state, status


def list_rows() -> list[dict]:
    """One row per known file with its local state, for ``python -m srlib weights list``."""
    rows = []
    for key, w in WEIGHTS.items():
        path = local_path(key)
        rows.append(
            {"key": key, "file": w.filename, "present": path.is_file(), "path": str(path), "url": w.url,
             "sha256": w.sha256, "used_by": w.used_by}
        )
    return rows
