"""Metrics files, training history and checkpoints.

Every metrics JSON the study writes says **which data and which weights each number used**: the ``data`` block names
the dataset (and whether it is a proxy), the ``weights`` block holds one :class:`srlib.weights.WeightStatus` per
pretrained file involved, and ``comparable_with_paper`` is true only when both are the paper's. DVC reads the numeric
leaves (``dvc metrics show``); ``history.csv`` feeds ``dvc plots``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
import pickle
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

import srlib
from srlib.weights import WeightStatus


def _atomic_write(path: Path, write) -> Path:
    """Write through a temporary file in the same folder, so a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    return _atomic_write(Path(path), lambda p: p.write_text(json.dumps(obj, indent=2, default=str) + "\n"))


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
    """Write a metrics JSON with its provenance.

    Args:
        metrics: the numbers (nested dicts allowed; DVC shows numeric leaves).
        stage, profile: which DVC stage and params profile produced them.
        data: at least ``{"name": ..., "proxy": bool}``; say what stands in for the paper's dataset.
        weights: weight statuses of every pretrained file the numbers depend on (``{}`` when none).
        labels: free-text caveats shown next to the numbers (e.g. "bicubic skip: not Ledig's architecture").
    """
    if "name" not in data or "proxy" not in data:
        raise ValueError("write_metrics: `data` must say at least its 'name' and whether it is a 'proxy'")
    wdict = {k: (v.as_dict() if isinstance(v, WeightStatus) else dict(v)) for k, v in (weights or {}).items()}
    random_weights = sorted(k for k, v in wdict.items() if not v.get("comparable", False))
    labels = list(labels or [])
    if data["proxy"]:
        labels.append(f"PROXY DATA: {data['name']} stands in for the paper's dataset")
    if random_weights:
        labels.append(f"RANDOM WEIGHTS: {', '.join(random_weights)} not pretrained; dependent numbers not comparable")
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
        "written": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    write_json(path, payload)
    return payload


def read_metrics(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"metrics file not found: {path}")
    return json.loads(path.read_text())


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
            rows = [{k: (int(v) if k == "step" else float(v)) for k, v in r.items() if v != ""} for r in csv.DictReader(f)]
        return cls(rows)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


class CheckpointError(OSError):
    """A checkpoint cannot be used: unreadable, unsafe, or written by a different training setup."""


class UnsafeCheckpoint(CheckpointError):
    """A checkpoint whose pickle holds objects other than tensors and plain containers (it could run code)."""


class NonFiniteTraining(FloatingPointError):
    """A training step produced a non-finite loss or non-finite parameters; the run was stopped."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    return _atomic_write(Path(path), lambda p: torch.save(state, p))


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
        raise CheckpointError(f"cannot read checkpoint {path}: not a PyTorch file, or corrupt") from None
    except Exception as exc:  # truncated zip, not a torch file, ...
        first = str(exc).strip().split(". ")[0]
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {first}") from None


def checkpoint_files(run_dir: str | Path, keep: int) -> list[Path]:
    """``last.pth`` then the older ones ``last.1.pth`` .. ``last.{keep-1}.pth`` (newest first)."""
    run_dir = Path(run_dir)
    return [run_dir / "last.pth"] + [run_dir / f"last.{i}.pth" for i in range(1, keep)]


def rotate_and_save(run_dir: str | Path, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write ``state`` as ``run_dir/last.pth``, keeping the ``keep - 1`` previous checkpoints as ``last.N.pth``.

    The new file is complete on disk (temporary file, then rename) before the older ones move, so a kill at any
    moment leaves at least one whole checkpoint.
    """
    files = checkpoint_files(run_dir, keep)
    fd, tmp = tempfile.mkstemp(dir=files[0].parent, prefix=f".{files[0].name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        for older, newer in zip(files[:0:-1], files[-2::-1]):  # last.(k-2) -> last.(k-1), ..., last -> last.1
            if newer.exists():
                os.replace(newer, older)
        os.replace(tmp, files[0])
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return files[0]


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files a killed :func:`_atomic_write` left in ``folder`` (none at a clean stop)."""
    folder = Path(folder)
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _load_latest(run_dir: Path, keep: int, logger) -> tuple[Path, dict] | None:
    """The newest readable checkpoint of ``run_dir`` (falling back to older ones with a warning), or None."""
    present = [p for p in checkpoint_files(run_dir, keep) if p.is_file()]
    failures = []
    for p in present:
        try:
            saved = load_checkpoint(p)
        except UnsafeCheckpoint:
            raise
        except CheckpointError as exc:
            failures.append(str(exc))
            continue
        for msg in failures:
            logger.warning("%s; falling back to %s (step %s)", msg, p.name, saved.get("step"))
            warnings.warn(f"{msg}; falling back to {p} (step {saved.get('step')})", stacklevel=3)
        return p, saved
    if failures:
        raise CheckpointError(
            f"no readable checkpoint in {run_dir}: {'; '.join(failures)}. Delete the folder to start afresh."
        )
    return None


def state_dict_difference(want: dict, have: dict) -> str:
    """The first difference between two state dicts (missing / unexpected keys, a shape), or ''."""
    if not (isinstance(want, dict) and isinstance(have, dict)):
        return ""
    missing, unexpected = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing or unexpected:
        return f"keys missing {missing[:3]}, unexpected {unexpected[:3]}"
    for k, v in want.items():
        if isinstance(v, torch.Tensor) and isinstance(have[k], torch.Tensor) and v.shape != have[k].shape:
            return f"{k} has shape {tuple(have[k].shape)} in the file, {tuple(v.shape)} expected"
    return ""


def _config_difference(saved: dict | None, config: dict | None) -> str:
    """``name: file value != run value`` for each setting both sides record (iters may grow: not compared)."""
    if not saved or not config:
        return ""
    diffs = [f"{k}={saved[k]!r} in the file, {v!r} in this run" for k, v in config.items()
             if k in saved and saved[k] != v]
    return "; ".join(diffs)


def _non_finite(logs: dict[str, float]) -> list[str]:
    return [f"{k}={v}" for k, v in logs.items() if not math.isfinite(float(v))]


def _non_finite_params(state: dict[str, Any]) -> list[str]:
    """Names of the networks in ``state`` with a non-finite parameter or buffer."""
    bad = []
    for k, obj in state.items():
        if isinstance(obj, torch.nn.Module):
            tensors = [t for t in obj.state_dict().values() if torch.is_floating_point(t)]
            if tensors and not all(bool(torch.isfinite(t).all()) for t in tensors):
                bad.append(k)
    return bad


class IntervalLog:
    """Averages per-step training logs over ``interval`` steps and emits one durable log line per interval.

    Shared by every ``fit`` loop: ``row = ilog.add(step, logs, lr_g=...)`` returns ``{}`` between intervals and, at
    an interval (or the last step), the averaged row plus the extra values and ``sec_per_iter``, after logging
    ``[name] step s/iters l_...=... 0.123 s/it eta 4.5 min``.
    """

    def __init__(self, *, name: str, iters: int, interval: int, logger):
        self.name, self.iters, self.interval, self.logger = name, iters, interval, logger
        self._sums: dict[str, float] = {}
        self._n = 0
        self._t = time.perf_counter()

    def add(self, step: int, logs: dict[str, float], **extra: float) -> dict[str, float]:
        for k, v in logs.items():
            self._sums[k] = self._sums.get(k, 0.0) + v
        self._n += 1
        if step % self.interval and step != self.iters:
            return {}
        sec_it = (time.perf_counter() - self._t) / self._n
        row = {k: v / self._n for k, v in self._sums.items()} | extra
        self.logger.info(
            "[%s] step %d/%d %s %.3f s/it eta %.1f min", self.name, step, self.iters,
            " ".join(f"{k}={v:.4g}" for k, v in row.items()), sec_it, sec_it * (self.iters - step) / 60,
        )
        self._sums, self._n, self._t = {}, 0, time.perf_counter()
        return row | {"sec_per_iter": sec_it}


def resumable_loop(
    *,
    step_fn,
    state: dict[str, Any],
    iters: int,
    run_dir: str | Path,
    name: str,
    logger,
    log_interval: int = 100,
    ckpt_interval: int = 1000,
    resume: bool = True,
    val_fn=None,
    val_interval: int = 0,
    progress: bool = False,
    extra_state: dict | None = None,
    config: dict[str, Any] | None = None,
    keep: int = 2,
) -> History:
    """Run ``step_fn(step) -> (logs, extra)`` for steps ``start+1 .. iters`` with checkpoint, resume and history.

    ``state`` maps names to objects with ``state_dict`` / ``load_state_dict`` (networks, optimisers, pools): every
    ``ckpt_interval`` steps and at the end ``run_dir/last.pth`` holds ``{"step", "run_config", **their state dicts,
    **extra_state}`` (the ``keep - 1`` previous ones stay as ``last.1.pth`` ..) and ``run_dir/history.csv`` the
    interval-averaged logs (:class:`IntervalLog`, with ``extra`` such as the learning rate). With ``resume`` and a
    checkpoint present, training continues after its step and the history is cut back to it; when ``step_fn``
    draws its randomness from ``(seed, step)``, the resumed run repeats the uninterrupted one bit for bit.
    ``val_fn(step) -> dict`` (e.g. :func:`srlib.train.validation_hook`) runs at step 0 of a fresh run, every
    ``val_interval`` steps and at the end; its values join that step's history row. ``progress`` shows a tqdm bar
    (the log lines stay the durable record). Shared by every fit loop of srlib.

    Guards (each a one-line error naming the file or the step):

    * resume refuses a checkpoint that does not fit: a network of other shapes, a missing part, a step past
      ``iters``, or a ``config`` value (plain hyperparameters the caller records) that differs -- raised as
      :class:`CheckpointError`; a truncated latest checkpoint falls back to the previous one with a warning;
    * a non-finite loss (any value of ``logs``) or non-finite network parameters stop the run with
      :class:`NonFiniteTraining` before anything is saved, so the last good checkpoint stays intact;
    * temporary files a killed save left behind are removed at the start.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    hist_path = run_dir / "history.csv"
    for p in remove_stale_temp_files(run_dir):
        logger.info("[%s] removed %s, left by an interrupted save", name, p.name)
    config = dict(config or {})
    start, history, last_good = 0, History(), None
    latest = _load_latest(run_dir, keep, logger) if resume else None
    if latest is not None:
        ckpt_path, saved = latest
        start = _restore(ckpt_path, saved, state=state, iters=iters, config=config)
        history = History.from_csv(hist_path)
        history.truncate(start)
        last_good = (ckpt_path, start)
        logger.info("[%s] resumed from %s at step %d", name, ckpt_path, start)
    validating = val_fn is not None and val_interval > 0
    if start == 0 and validating:
        history.log(0, **val_fn(0))
    bar = None
    if progress and start < iters:
        from tqdm.auto import tqdm

        bar = tqdm(total=iters, initial=start, desc=name)

    def stop(what: str, step: int) -> NonFiniteTraining:
        kept = (f"the last good checkpoint {last_good[0]} (step {last_good[1]}) is kept" if last_good
                else "no checkpoint was written")
        return NonFiniteTraining(f"[{name}] step {step}: {what}; training stopped, {kept}")

    t0, ilog = time.perf_counter(), IntervalLog(name=name, iters=iters, interval=log_interval, logger=logger)
    for step in range(start + 1, iters + 1):
        logs, extra = step_fn(step)
        bad = _non_finite(logs)
        if bad:
            raise stop(f"non-finite loss {', '.join(bad)}", step)
        if bar is not None:
            bar.update(1)
        row = ilog.add(step, logs, **extra)
        if validating and (step % val_interval == 0 or step == iters):
            row |= val_fn(step)
        if row:
            history.log(step, **row)
        if step % ckpt_interval == 0 or step == iters:
            bad = _non_finite_params(state)
            if bad:
                since = last_good[1] if last_good else 0
                raise stop(f"parameters of {bad} became non-finite after step {since} (a non-finite gradient)", step)
            payload = ({"step": step, "run_config": config} | {k: obj.state_dict() for k, obj in state.items()}
                       | (extra_state or {}))
            history.to_csv(hist_path)  # first: a kill before the checkpoint leaves history ahead, cut on resume
            last_good = (rotate_and_save(run_dir, payload, keep=keep), step)
    if bar is not None:
        bar.close()
    if start < iters:
        logger.info("[%s] %d steps in %.1f min", name, iters - start, (time.perf_counter() - t0) / 60)
    history.to_csv(hist_path)
    return history


def _restore(path: Path, saved: dict, *, state: dict[str, Any], iters: int, config: dict[str, Any]) -> int:
    """Load ``saved`` into ``state`` after checking it fits this run; return its step (see :func:`resumable_loop`)."""
    fix = "use the settings it was written with, or delete the folder (or pass resume=False) to start afresh"
    step = saved.get("step")
    if not isinstance(step, int):
        raise CheckpointError(f"{path} is not a training checkpoint of srlib (no step); {fix}")
    if step > iters:
        raise CheckpointError(f"{path} is at step {step}, past this run's iters={iters}; "
                              f"set iters >= {step} to reuse it, or delete the folder to start afresh")
    missing = sorted(set(state) - set(saved))
    if missing:
        raise CheckpointError(f"{path} lacks {missing}: it was written by a different training setup; {fix}")
    diff = _config_difference(saved.get("run_config"), config)
    if diff:
        raise CheckpointError(f"{path} was written with other settings ({diff}); {fix}")
    for k, obj in state.items():
        if isinstance(obj, torch.nn.Module):
            diff = state_dict_difference(obj.state_dict(), saved[k])
            if diff:
                raise CheckpointError(f"{path}: its '{k}' is another architecture ({diff}); {fix}")
        try:
            obj.load_state_dict(saved[k])
        except (RuntimeError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise CheckpointError(f"{path}: its '{k}' does not fit this run ({first}); {fix}") from None
    return step
