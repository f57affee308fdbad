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
import os
import tempfile
import time
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


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    return _atomic_write(Path(path), lambda p: torch.save(state, p))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise OSError(f"cannot read checkpoint {path}: {exc}") from exc


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
) -> History:
    """Run ``step_fn(step) -> (logs, extra)`` for steps ``start+1 .. iters`` with checkpoint, resume and history.

    ``state`` maps names to objects with ``state_dict`` / ``load_state_dict`` (networks, optimisers, pools): every
    ``ckpt_interval`` steps and at the end ``run_dir/last.pth`` holds ``{"step", **their state dicts,
    **extra_state}`` and ``run_dir/history.csv`` the interval-averaged logs (:class:`IntervalLog`, with ``extra``
    such as the learning rate). With ``resume`` and a ``last.pth`` present, training continues after its step and
    the history is cut back to it; when ``step_fn`` draws its randomness from ``(seed, step)``, the resumed run
    repeats the uninterrupted one. ``val_fn(step) -> dict`` (e.g. :func:`srlib.train.validation_hook`) runs at step
    0 of a fresh run, every ``val_interval`` steps and at the end; its values join that step's history row.
    ``progress`` shows a tqdm bar (the log lines stay the durable record). Shared by every fit loop of srlib.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path, hist_path = run_dir / "last.pth", run_dir / "history.csv"
    start, history = 0, History()
    if resume and ckpt_path.is_file():
        saved = load_checkpoint(ckpt_path)
        missing = sorted(set(state) - set(saved))
        if missing:
            raise KeyError(f"{ckpt_path} lacks {missing}: it was written by a different training setup")
        for k, obj in state.items():
            obj.load_state_dict(saved[k])
        start = int(saved["step"])
        history = History.from_csv(hist_path)
        history.truncate(start)
        logger.info("[%s] resumed from %s at step %d", name, ckpt_path, start)
    validating = val_fn is not None and val_interval > 0
    if start == 0 and validating:
        history.log(0, **val_fn(0))
    bar = None
    if progress and start < iters:
        from tqdm.auto import tqdm

        bar = tqdm(total=iters, initial=start, desc=name)
    t0, ilog = time.perf_counter(), IntervalLog(name=name, iters=iters, interval=log_interval, logger=logger)
    for step in range(start + 1, iters + 1):
        logs, extra = step_fn(step)
        if bar is not None:
            bar.update(1)
        row = ilog.add(step, logs, **extra)
        if validating and (step % val_interval == 0 or step == iters):
            row |= val_fn(step)
        if row:
            history.log(step, **row)
        if step % ckpt_interval == 0 or step == iters:
            payload = {"step": step} | {k: obj.state_dict() for k, obj in state.items()} | (extra_state or {})
            save_checkpoint(ckpt_path, payload)
            history.to_csv(hist_path)
    if bar is not None:
        bar.close()
    if start < iters:
        logger.info("[%s] %d steps in %.1f min", name, iters - start, (time.perf_counter() - t0) / 60)
    history.to_csv(hist_path)
    return history
