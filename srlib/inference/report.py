"""``python -m srlib upscale --report FILE.json``: what each output was made with, and its NIQE before and after.

The report (one JSON file, written atomically when the run ends, also when some inputs failed) holds:

* the run: the model (``--model`` name or the checkpoint's arch), its weight status (a released model's
  :class:`srlib.weights.WeightStatus`; a checkpoint's path, sha256, arch and arguments), the device, the tiling and
  the precision asked for and the one the device runs (``auto`` is fp32 on the CPU; a reduced-precision batch whose
  output is not finite is recomputed in fp32, with a warning on stderr);
* per output image: input and output files and sizes, the seconds the upscale took (reading, network and writing),
  and **NIQE** (Mittal et al. 2013, :mod:`srlib.metrics.niqe`; no reference, lower is better) of the input and of
  the output as written. NIQE is of the colour (alpha ignored; grey is replicated to RGB) through BT.601 Y with no
  border removed; it needs two 96 x 96 blocks, so a smaller image gets ``null`` and the reason. The output is read
  back from its file, and NIQE keeps float64 maps of the whole luma (~50 bytes per pixel): outputs above
  :data:`NIQE_MAX_MEGAPIXELS` are left out with the reason;
* the files that failed, with their errors.

:func:`check` validates ``--report`` at parse time (a usage error, exit 2, before any work); :func:`writable` is the
probe the command runs on the output and report folders before it computes anything.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

NIQE_MAX_MEGAPIXELS = 64.0  # larger outputs: NIQE's float64 maps would need several GB


def report_file(text: str) -> str:
    """``--report``: an argparse ``type=`` for a ``.json`` file name."""
    if Path(text).suffix.lower() != ".json" or not Path(text).stem:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a .json file name: the report is JSON (e.g. --report upscale-report.json)"
        )
    return text


def check(ap: argparse.ArgumentParser, args: argparse.Namespace, files: list[Path]) -> None:
    """Parse-time checks of ``--report`` (``ap.error``: exit 2, nothing created): not a folder, not an input, not
    an existing file without ``--overwrite``, not under a file, and NIQE's pristine parameters installed."""
    from srlib.metrics import niqe

    path = Path(args.report)
    if path.is_dir():
        ap.error(f"--report {path} is an existing folder: name a .json file")
    if path.exists() and path.resolve() in {f.resolve() for f in files}:
        ap.error(f"--report {path} is an input file; refusing to overwrite inputs")
    if path.exists() and not args.overwrite:
        ap.error(f"--report {path} exists (pass --overwrite to replace it, or name another file)")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        ap.error(f"--report {path}: {parent} is a file, not a folder")
    try:
        niqe.load_pristine_params()
    except (FileNotFoundError, ValueError) as exc:
        ap.error(f"--report needs NIQE's pristine parameters: {exc}")


def writable(folder: Path) -> str:
    """Create ``folder`` and write + remove a probe file in it; the reason it failed, or ``""``.

    Checked before any image is computed: otherwise a long upscale would fail only when its output is written.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".srlib-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def checkpoint_status(path: str, state: dict) -> dict:
    """A checkpoint's entry in the report's ``weights``: its file, sha256, arch and constructor arguments."""
    from srlib.weights import sha256_of

    return {
        "source": "checkpoint",
        "path": str(path),
        "sha256": sha256_of(Path(path)),
        "arch": state["arch"],
        "arch_kwargs": dict(state["arch_kwargs"]),
    }


def niqe_of(arr: np.ndarray) -> tuple[float | None, str]:
    """NIQE of an image array from :func:`srlib.inference.images.read_image` (colour only, Y, no border crop), or
    ``(None, reason)`` when it cannot be scored (too small, too large)."""
    import torch

    from srlib.inference.arrays import max_value
    from srlib.metrics import niqe, pixel

    h, w = arr.shape[:2]
    if h * w / 1e6 > NIQE_MAX_MEGAPIXELS:
        return None, f"left out: {w}x{h} is above {NIQE_MAX_MEGAPIXELS:g} MP (NIQE's float64 maps)"
    a = arr[..., None] if arr.ndim == 2 else arr
    color = a[..., :1] if a.shape[2] in (1, 2) else a[..., :3]
    luma = np.empty((h, w), dtype=np.float64)
    scale = max_value(arr.dtype)
    for r0 in range(0, h, 256):  # Y in bands: no float copy of the whole colour image
        band = torch.from_numpy(np.ascontiguousarray(color[r0 : r0 + 256])).permute(2, 0, 1)
        band = band.to(torch.float64).div_(scale).expand(3, -1, -1)[None]
        luma[r0 : r0 + 256] = pixel.rgb_to_y(band)[0, 0].numpy()
    try:  # one channel in [0, 1] is taken as luma: x 255, rounded (as the RGB path does after its Y)
        score = float(niqe.niqe(torch.from_numpy(luma)[None, None])["niqe"][0])
    except ValueError as exc:
        return None, str(exc)
    if not np.isfinite(score):  # JSON has no NaN
        return None, "undefined: fewer than two 96x96 blocks with a defined fit (flat areas)"
    return score, ""


def niqe_text(entry: dict) -> str:
    """``NIQE 5.12 -> 3.40`` (input -> output) for the command's ``ok`` line; ``n/a`` where it was left out."""
    a, b = (entry.get(k) for k in ("niqe_input", "niqe_output"))
    return "NIQE " + " -> ".join("n/a" if v is None else f"{v:.2f}" for v in (a, b))


class Report:
    """The ``--report`` of one run: settings up front, one entry per output, written by :meth:`write`."""

    def __init__(self, path: str | Path, *, model: str, weights: dict, settings: dict):
        self.path = Path(path)
        self.run = {"model": model, "weights": weights, **settings}
        self.images: list[dict] = []

    @classmethod
    def start(
        cls, args: argparse.Namespace, *, model: str, weights: dict, scale: int, device
    ) -> Report:
        """The report of this command line: the tiling and precision options, the precision ``device`` runs."""
        import torch

        from srlib.precision import autocast_dtype

        with (
            warnings.catch_warnings()
        ):  # the upscale itself warns about a precision the device does not run
            warnings.simplefilter("ignore")
            dtype = autocast_dtype(args.precision, device)
        used = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
        settings = {
            "scale": scale,
            "device": str(device),
            "tile": args.tile,
            "overlap": args.overlap,
            "tiling": args.tiling,
            "batch": args.batch,
            "precision_requested": args.precision,
            "precision_used": used,
            "precision_note": "a reduced-precision batch whose output is not finite is recomputed in fp32 "
            "(warned on stderr)",
            "postprocess": args.postprocess,
            "stretch_input": args.stretch_input,
            "threads": args.threads,  # what srlib.runtime.use_threads chose for 'auto'
            "backend": getattr(
                args, "backend", "torch"
            ),  # torch | ncnn | onnx (srlib.inference.cli._backend)
            # the ncnn backend's 3x3 transform: f63 | ncnn (srlib.inference.ncnn.default_winograd); None otherwise
            "ncnn_winograd": getattr(args, "ncnn_winograd", None),
        }
        return cls(args.report, model=model, weights=weights, settings=settings)

    def add(self, src: Path, dest: Path, arr: np.ndarray, seconds: float) -> dict:
        """Record one output: sizes, the time, NIQE of the input ``arr`` and of ``dest`` read back. Never raises
        (a NIQE that cannot be computed is ``null`` with its reason)."""
        from srlib.inference.images import read_image

        t0 = time.perf_counter()
        entry = {
            "input": str(src),
            "output": str(dest),
            "input_size": [int(arr.shape[1]), int(arr.shape[0])],
            "seconds": round(seconds, 3),
        }
        entry["niqe_input"], why_in = niqe_of(arr)
        try:
            out = read_image(dest)
            entry["output_size"] = [int(out.shape[1]), int(out.shape[0])]
            entry["niqe_output"], why_out = niqe_of(out)
        except (
            Exception
        ) as exc:  # the output was written; the report says why it could not be scored
            entry["niqe_output"], why_out = None, f"cannot read the output back: {exc}"
        finally:
            out = None
        notes = {k: v for k, v in (("niqe_input", why_in), ("niqe_output", why_out)) if v}
        if notes:
            entry["niqe_notes"] = notes
        entry["niqe_seconds"] = round(time.perf_counter() - t0, 3)
        self.images.append(entry)
        return entry

    def write(self, errors: list[str]) -> Path:
        """Write the report (temporary file + rename) with the failed files; returns its path."""
        import srlib
        from srlib import tracking
        from srlib.metrics import niqe

        payload = {
            "command": "python -m srlib upscale",
            "srlib_version": srlib.__version__,
            "written": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **self.run,
            "niqe": {
                "lower_is_better": True,
                "luma": "BT.601 Y (16-235), rounded; colour only (alpha ignored, grey replicated)",
                "crop_border": 0,
                "params": dict(niqe.PROVENANCE),
            },
            "images": self.images,
            "failed": list(errors),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return tracking.write_json(self.path, payload)
