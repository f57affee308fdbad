"""Metrics files, training history and checkpoints.

A stage's metrics are two files. ``metrics/<stage>.details.json``, the full record, says **which data and which
weights each number used**: the ``data`` block names the dataset (and whether it is a proxy), the ``weights`` block
holds one :class:`srlib.weights.WeightStatus` per pretrained file involved, ``comparable_with_paper`` is true only
when both are the paper's, and the labels, config, git commit and numbers follow. ``metrics/<stage>.json``, the file
``dvc.yaml`` declares, holds its headline only (:mod:`srlib.headlines`: a few numbers in columns shared by every
stage, and the commit), so ``dvc metrics show`` / ``diff`` read as one short table. ``history.csv`` feeds
``dvc plots``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import numbers
import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

import srlib
from srlib import headlines, paths, runtime
from srlib.weights import WeightStatus


def _atomic_write(path: Path, write) -> Path:
    """Write through a temporary file in the same folder, so a crash never leaves a half-written file.

    Under ``torchrun`` only rank 0 writes shared files; every rank then waits at a barrier, so no rank reads the
    file before it is complete (every rank runs the same writes: :mod:`srlib.distributed`). A rank > 0 writes its
    own results folder (:func:`srlib.paths.rank_private`), which it alone reads.
    """
    from srlib import distributed

    path = Path(path)
    if distributed.is_main() or paths.rank_private(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            write(Path(tmp))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    distributed.barrier()
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    return _atomic_write(
        Path(path), lambda p: p.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    )


def write_metrics(
    path: str | Path,
    metrics: dict[str, Any],
    *,
    stage: str,
    profile: str,
    data: dict[str, Any],
    weights: dict[str, WeightStatus | dict] | None = None,
    labels: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> dict:
    """Write a stage's metrics: the full record with its provenance at ``<stage>.details.json`` and the headline
    (:func:`srlib.headlines.headline` of the record) at ``path``; returns the record.

    Args:
        path: the headline file, ``paths.metrics_file(profile, stage)``.
        metrics: the numbers (nested dicts allowed; DVC shows numeric leaves).
        stage, profile: which DVC stage and params profile produced them.
        data: at least ``{"name": ..., "proxy": bool}``; say what stands in for the paper's dataset.
        weights: weight statuses of every pretrained file the numbers depend on (``{}`` when none).
        labels: free-text caveats shown next to the numbers (e.g. "bicubic skip: not Ledig's architecture").
    """
    if "name" not in data or "proxy" not in data:
        raise ValueError(
            "write_metrics: `data` must say at least its 'name' and whether it is a 'proxy'"
        )
    wdict = {
        k: (v.as_dict() if isinstance(v, WeightStatus) else dict(v))
        for k, v in (weights or {}).items()
    }
    random_weights = sorted(k for k, v in wdict.items() if not v.get("comparable", False))
    labels = list(labels or [])
    if data["proxy"]:
        labels.append(f"PROXY DATA: {data['name']} stands in for the paper's dataset")
    if random_weights:
        labels.append(
            f"RANDOM WEIGHTS: {', '.join(random_weights)} not pretrained; dependent numbers not comparable"
        )
    payload = {
        "stage": stage,
        "profile": profile,
        "comparable_with_paper": not data["proxy"] and not random_weights,
        "labels": labels,
        "data": data,
        "weights": wdict,
        "metrics": metrics,
        "config": config or {},
        "srlib_version": srlib.__version__,
        "git_commit": runtime.git_commit(),
        "written": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    from srlib import distributed

    if distributed.active():  # trained under torchrun: the processes that shared each global batch
        payload["world_size"] = distributed.world_size()
    write_json(paths.details_of(path), payload)
    write_json(
        path, headlines.headline(stage, payload)
    )  # after the record: a headline always has its details
    return payload


def upstream_record(cfg, stage: str, matched: tuple[str, ...] = (), *, why: str = "") -> dict:
    """The full metrics record (``<stage>.details.json``) of the stage ``cfg``'s stage reads from; refuses, naming the
    parameter, a config whose ``matched`` parameters differ from the ones that stage ran with (``why`` says why)."""
    from srlib import paths
    from srlib.config import ParamsError

    path = paths.details_of(paths.metrics_file(cfg.profile, stage))
    if not path.is_file():
        raise ParamsError(
            f"{cfg.STAGE}: {paths.shown(path)} is missing: run the {stage} stage first"
        )
    record = json.loads(path.read_text())
    for name in matched:
        theirs = record["config"][name]
        if getattr(cfg, name) != theirs:
            raise ParamsError(f"{cfg.STAGE}: parameter {name!r} is {getattr(cfg, name)!r} but {stage} ran with "
                              f"{theirs!r}" + (f": {why}" if why else ""))  # fmt: skip
    return record


def read_metrics(path: str | Path) -> dict:
    """The full record of a stage's metrics, given its headline file (or the record's own path)."""
    path = paths.details_of(path)
    if not path.is_file():
        raise FileNotFoundError(f"metrics file not found: {paths.shown(path)}")
    return json.loads(path.read_text())


def metrics_table(metrics: dict[str, Any], *, digits: int = 6):
    """A metrics dict (nested dicts allowed) as a one-column table for notebooks: index ``metric`` (nested keys
    joined with ``/``), ``value`` with floats to ``digits`` significant digits and ints left ints (an object column:
    ``iters`` stays ``30``, not ``30.0``). Meant as a cell's last expression in place of the raw dict, whose repr
    shows ``np.float64(...)`` wrappers and 17 digits."""
    import pandas as pd

    def rows(d: dict, prefix: str = ""):
        for k, v in d.items():
            name = f"{prefix}{k}"
            if isinstance(v, dict):
                yield from rows(v, f"{name}/")
            elif isinstance(v, numbers.Integral):  # bool, int, numpy ints
                yield name, v if isinstance(v, bool) else int(v)
            elif isinstance(v, numbers.Real):  # float and numpy floats (registered as numbers.Real)
                yield name, float(f"{float(v):.{digits}g}")
            else:
                yield name, v

    names, values = zip(*rows(metrics)) if metrics else ((), ())
    index = pd.Index(names, name="metric")
    return pd.Series(values, index=index, dtype=object, name="value").to_frame()


class History:
    """Rows of ``{step, ...}`` logged during training, saved as CSV for ``dvc plots`` (x: step)."""

    def __init__(self, rows: list[dict] | None = None):
        self.rows = list(rows or [])

    def log(self, step: int, **values) -> dict:
        row = {"step": int(step), **{k: float(v) for k, v in values.items()}}
        self.rows.append(row)
        return row

    def truncate(self, step: int) -> None:
        """Drop rows after ``step`` (used on resume, so the history matches the checkpoint)."""
        self.rows = [r for r in self.rows if r["step"] <= step]

    def to_csv(self, path: str | Path) -> Path:
        cols: list[str] = []
        for r in self.rows:
            cols += [k for k in r if k not in cols]

        def write(p: Path):
            with open(p, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=cols or ["step"])
                w.writeheader()
                w.writerows(self.rows)

        return _atomic_write(Path(path), write)

    @classmethod
    def from_csv(cls, path: str | Path) -> History:
        path = Path(path)
        if not path.is_file():
            return cls()
        with open(path, newline="") as f:
            rows = [
                {k: (int(v) if k == "step" else float(v)) for k, v in r.items() if v != ""}
                for r in csv.DictReader(f)
            ]
        return cls(rows)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


class CheckpointError(OSError):
    """A checkpoint cannot be used: unreadable, unsafe, or written by a different training setup."""


class UnsafeCheckpoint(CheckpointError):
    """A checkpoint whose pickle holds objects other than tensors and plain containers (it could run code)."""


def torch_save(state: Any, path: str | Path) -> None:
    """``torch.save`` through an open file: torch names the zip's top folder after a *path*'s file name, which for
    a temporary file is random, so the same state gave different bytes in every run; a file object gives
    ``archive/`` and the same bytes."""
    with open(path, "wb") as f:
        torch.save(state, f)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    return _atomic_write(Path(path), lambda p: torch_save(state, p))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint **without running any pickled code** (``weights_only=True``).

    srlib's checkpoints hold tensors, numbers, strings and plain containers only. A file whose pickle asks for any
    other object (a class, a function, ``os.system`` behind a ``__reduce__``) is refused with
    :class:`UnsafeCheckpoint` before anything in it runs; an unreadable or truncated file raises
    :class:`CheckpointError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found:
            raise UnsafeCheckpoint(
                f"refusing to load {path}: its pickle asks for {found.group(1)}, not only tensors and plain "
                "containers, and could run code on loading. srlib never writes such files; do not use it."
            ) from None
        raise CheckpointError(
            f"cannot read checkpoint {path}: not a PyTorch file, or corrupt"
        ) from None
    except Exception as exc:  # truncated zip, not a torch file, ...
        first = str(exc).strip().split(". ")[0]
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(exc).__name__}: {first}"
        ) from None


def state_dict_difference(want: dict, have: dict) -> str:
    """The first difference between two state dicts (missing / unexpected keys, a shape), or ''."""
    if not (isinstance(want, dict) and isinstance(have, dict)):
        return ""
    missing, unexpected = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing or unexpected:
        return f"keys missing {missing[:3]}, unexpected {unexpected[:3]}"
    for k, v in want.items():
        if (
            isinstance(v, torch.Tensor)
            and isinstance(have[k], torch.Tensor)
            and v.shape != have[k].shape
        ):
            return f"{k} has shape {tuple(have[k].shape)} in the file, {tuple(v.shape)} expected"
    return ""


def last_values(hist: History, keys) -> dict[str, float]:
    """The last logged value of each of ``keys`` a history has (the last interval's means)."""
    frame = hist.to_frame()
    return {
        k: float(frame[k].dropna().iloc[-1]) for k in keys if k in frame and frame[k].notna().any()
    }


def train_minutes(*hists: History, log_interval: int) -> float:
    """Minutes the histories' steps took (each logged ``sec_per_iter`` stands for ``log_interval`` steps)."""
    return float(sum(h.to_frame().sec_per_iter.sum() for h in hists) * log_interval / 60)
