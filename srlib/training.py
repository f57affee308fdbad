"""The training-loop toolkit every fit function of srlib shares.

* :func:`resumable_loop` -- steps ``start+1 .. iters`` of a ``step_fn`` with checkpoint (the last 2 kept), resume
  (bit-identical to an uninterrupted run when the step's randomness is a function of ``(seed, step)``), history,
  validation, and the guards: a non-finite loss or non-finite weights stop the run with the last good checkpoint
  intact; resume refuses a checkpoint that does not fit (architecture, a step past ``iters``, other settings).
* :class:`IntervalLog` -- interval-averaged log lines.
* small pieces the fit loops had each written again: :func:`step_generator` (the random stream of a step),
  :func:`schedule`, :func:`step_decay`, :func:`set_lr`, :func:`frozen` (D during the G step), :func:`gan_d_step`, :func:`validation_hook`.

Mixed precision is opt-in (``precision``: ``fp32`` default | ``bf16`` | ``fp16``, :mod:`srlib.precision`): forward
passes under autocast (none for fp32: bit-identical), fp16 through a ``GradScaler`` checkpointed in ``state``.

Checkpoint files themselves (safe loading, atomic writes) are :mod:`srlib.tracking`.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from srlib import distributed, losses, paths
from srlib import precision as amp
from srlib.tracking import (
    CheckpointError,
    History,
    UnsafeCheckpoint,
    load_checkpoint,
    state_dict_difference,
    torch_save,
)

log = logging.getLogger("srlib.train")


def step_decay(lr: float, decay_at: int | None, factor: float = 0.1) -> Callable[[int], float]:
    """Learning rate as a pure function of the step: ``lr`` before ``decay_at``, ``lr * factor`` after."""
    return lambda step: lr * (factor if decay_at is not None and step >= decay_at else 1.0)


# a second stream of the same (seed, step), apart from the batch's (pools, patch draws)
STREAM_OFFSET = 2**40


def step_generator(seed: int, step: int, *, stream: int = 0, device=None) -> torch.Generator:
    """The random stream of one training step: a generator seeded with ``(seed, step)`` (and ``stream``).

    Every random draw of a step comes from such a generator -- never from the global RNG -- so step ``k`` draws the
    same numbers whether the run started at 0 or resumed at ``k - 1``: that is what makes resume bit-identical.
    ``stream`` separates independent draws of the same step (``0``: the batch; ``STREAM_OFFSET``: a second one).
    """
    gen = torch.Generator() if device is None else torch.Generator(device=device)
    return gen.manual_seed(stream + seed * 1_000_003 + step)


def schedule(lr: float | Callable[[int], float]) -> Callable[[int], float]:
    """A learning rate as a function of the step: a constant, or the schedule itself."""
    return lr if callable(lr) else (lambda _step, value=lr: value)


@contextmanager
def frozen(net: nn.Module) -> Iterator[nn.Module]:
    """No gradients into ``net``'s parameters inside the block (D during the G step); restored after."""
    params = list(net.parameters())
    for p in params:
        p.requires_grad_(False)
    try:
        yield net
    finally:
        for p in params:
            p.requires_grad_(True)


def gan_d_step(
    *,
    d: nn.Module,
    opt_d: torch.optim.Optimizer,
    sr: torch.Tensor,
    gt: torch.Tensor,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One discriminator update with the BCE GAN loss on a real batch and the (detached) fake one of this step.

    ``l_D = BCE(D(gt), 1) + BCE(D(sr), 0)`` over every logit D gives (one per image for SRGAN's D, one per pixel
    for Real-ESRGAN's U-Net). Returns ``(l_real, l_fake, real_logits, fake_logits)`` for the caller's log names.
    ``precision`` / ``scaler``: autocast of the forward pass and fp16 loss scaling (:mod:`srlib.precision`).
    """
    opt_d.zero_grad(set_to_none=True)
    with amp.autocast(precision, gt.device):
        real_logits, fake_logits = d(gt), d(sr.detach())
        l_real, l_fake = losses.gan_d_loss(real_logits, fake_logits)
    amp.backward_step(l_real + l_fake, opt_d, scaler)
    return l_real, l_fake, real_logits, fake_logits


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of ``opt`` (learning rates are functions of the step)."""
    for group in opt.param_groups:
        group["lr"] = lr


def validation_hook(
    g: nn.Module, val_fn: Callable[[nn.Module], dict[str, float]] | None, name: str
) -> Callable[[int], dict[str, float]] | None:
    """``val_fn(g)`` as a fit-loop hook ``hook(step)``: eval mode and no grad, a log line, the mode restored."""
    if val_fn is None:
        return None

    def hook(step: int) -> dict[str, float]:
        was_training = g.training
        g.eval()
        with torch.no_grad():
            vals = val_fn(g)
        g.train(was_training)
        log.info(
            "[%s] step %d validation: %s",
            name,
            step,
            " ".join(f"{k}={v:.4f}" for k, v in vals.items()),
        )
        return vals

    return hook


class NonFiniteTraining(FloatingPointError):
    """A training step produced a non-finite loss or non-finite parameters; the run was stopped."""


def checkpoint_files(run_dir: str | Path, keep: int) -> list[Path]:
    """``last.pth`` then the older ones ``last.1.pth`` .. ``last.{keep-1}.pth`` (newest first)."""
    run_dir = Path(run_dir)
    return [run_dir / "last.pth"] + [run_dir / f"last.{i}.pth" for i in range(1, keep)]


def rotate_and_save(run_dir: str | Path, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write ``state`` as ``run_dir/last.pth``, keeping the ``keep - 1`` previous checkpoints as ``last.N.pth``.

    The new file is complete on disk (temporary file, then rename) before the older ones move, and ``last.pth``
    is never absent: the previous one is copied to ``last.1.pth`` and then atomically replaced. A kill at any
    moment leaves ``last.pth`` a whole checkpoint (the new one or the previous one).
    """
    files = checkpoint_files(run_dir, keep)
    if not distributed.is_main():  # rank 0 writes (srlib.distributed); the others wait for the file
        distributed.barrier()
        return files[0]
    fd, tmp = tempfile.mkstemp(dir=files[0].parent, prefix=f".{files[0].name}.", suffix=".tmp")
    os.close(fd)
    # the copy of last.pth on its way to last.1.pth; a leftover matches remove_stale_temp_files' pattern
    previous = tmp.removesuffix(".tmp") + ".previous.tmp"
    try:
        torch_save(state, tmp)  # the same bytes for the same state
        for older, newer in zip(
            files[:0:-1], files[-2::-1]
        ):  # last.(k-2) -> last.(k-1), ..., last -> last.1
            if not newer.exists():
                continue
            if newer == files[0]:  # a copy of last.pth, so last.pth stays in place
                # a copy, not a hard link: a kill before the final rename would leave last.pth and last.1.pth
                # one file, and damage to it (a truncated copy of the run folder) would take the fallback too
                shutil.copyfile(newer, previous)
                os.replace(previous, older)
            else:
                os.replace(newer, older)
        os.replace(tmp, files[0])
    finally:
        for leftover in (tmp, previous):
            if os.path.exists(leftover):
                os.unlink(leftover)
    distributed.barrier()
    return files[0]


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files a killed :func:`_atomic_write` left in ``folder`` (none at a clean stop)."""
    folder = Path(folder)
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() and distributed.is_main() else []
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
            failures.append(str(exc).replace(str(p), paths.shown(p)))  # warned below: repo-relative
            continue
        for msg in failures:
            logger.warning("%s; falling back to %s (step %s)", msg, p.name, saved.get("step"))
            warnings.warn(
                f"{msg}; falling back to {paths.shown(p)} (step {saved.get('step')})", stacklevel=3
            )
        return p, saved
    if failures:
        raise CheckpointError(
            f"no readable checkpoint in {run_dir}: {'; '.join(failures)}. Delete the folder to start afresh."
        )
    return None


def _config_difference(saved: dict | None, config: dict | None) -> str:
    """``name: file value != run value`` for each setting both sides record (iters may grow: not compared)."""
    if not saved or not config:
        return ""
    diffs = [
        f"{k}={saved[k]!r} in the file, {v!r} in this run"
        for k, v in config.items()
        if k in saved and saved[k] != v
    ]
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


_QUIET = logging.getLogger("srlib.train.rank")  # the log of ranks other than 0: silent
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


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
            "[%s] step %d/%d %s %.3f s/it eta %.1f min",
            self.name,
            step,
            self.iters,
            " ".join(f"{k}={v:.4g}" for k, v in row.items()),
            sec_it,
            sec_it * (self.iters - step) / 60,
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
    precision: str = "fp32",
) -> History:
    """Run ``step_fn(step) -> (logs, extra)`` for steps ``start+1 .. iters`` with checkpoint, resume and history.

    ``state`` maps names to objects with ``state_dict`` / ``load_state_dict`` (networks, optimisers, pools): every
    ``ckpt_interval`` steps and at the end ``run_dir/last.pth`` holds ``{"step", "run_config", **their state dicts,
    **extra_state}`` (the ``keep - 1`` previous ones stay as ``last.1.pth`` ..) and ``run_dir/history.csv`` the
    interval-averaged logs (:class:`IntervalLog`, with ``extra`` such as the learning rate). With ``resume`` and a
    checkpoint present, training continues after its step and the history is cut back to it; when ``step_fn``
    draws its randomness from ``(seed, step)``, the resumed run repeats the uninterrupted one bit for bit.
    ``val_fn(step) -> dict`` (e.g. :func:`srlib.training.validation_hook`) runs at step 0 of a fresh run, every
    ``val_interval`` steps and at the end; its values join that step's history row. ``progress`` shows a tqdm bar
    (the log lines stay the durable record). Shared by every fit loop of srlib.

    Guards (each a one-line error naming the file or the step):

    * resume refuses a checkpoint that does not fit: a network of other shapes, a missing part, a step past
      ``iters``, or a ``config`` value (plain hyperparameters the caller records) that differs -- raised as
      :class:`CheckpointError`; a truncated latest checkpoint falls back to the previous one with a warning;
    * a non-finite loss (any value of ``logs``) or non-finite network parameters stop the run with
      :class:`NonFiniteTraining` before anything is saved, so the last good checkpoint stays intact;
    * temporary files a killed save left behind are removed at the start.

    ``precision`` (``fp32 | bf16 | fp16``, what ``step_fn`` runs in) joins ``config``; fp16 needs its
    ``torch.amp.GradScaler`` in ``state``, so the loss scale is checkpointed and a resume repeats the run exactly.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    hist_path = run_dir / "history.csv"
    if not distributed.is_main():  # rank 0 logs and shows progress (srlib.distributed)
        logger, progress = _QUIET, False
    for p in remove_stale_temp_files(run_dir):
        logger.info("[%s] removed %s, left by an interrupted save", name, p.name)
    config = dict(config or {}) | {"precision": amp.check_loop_state(precision, state)}
    start, history, last_good = 0, History(), None
    latest = _load_latest(run_dir, keep, logger) if resume else None
    if latest is not None:
        ckpt_path, saved = latest
        start = _restore(ckpt_path, saved, state=state, iters=iters, config=config)
        history = History.from_csv(hist_path)
        history.truncate(start)
        last_good = (ckpt_path, start)
        logger.info("[%s] resumed from %s at step %d", name, paths.shown(ckpt_path), start)
    validating = val_fn is not None and val_interval > 0
    if start == 0 and validating:
        history.log(0, **val_fn(0))
    bar = None
    if progress and start < iters:
        from tqdm.auto import tqdm

        bar = tqdm(total=iters, initial=start, desc=name)

    def stop(what: str, step: int) -> NonFiniteTraining:
        kept = (
            f"the last good checkpoint {last_good[0]} (step {last_good[1]}) is kept"
            if last_good
            else "no checkpoint was written"
        )
        return NonFiniteTraining(f"[{name}] step {step}: {what}; training stopped, {kept}")

    t0, ilog = (
        time.perf_counter(),
        IntervalLog(name=name, iters=iters, interval=log_interval, logger=logger),
    )
    for step in range(start + 1, iters + 1):
        logs, extra = step_fn(step)
        logs = distributed.mean_logs(
            logs
        )  # the global batch's means under torchrun; as they are in one process
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
                raise stop(
                    f"parameters of {bad} became non-finite after step {since} (a non-finite gradient)",
                    step,
                )
            payload = (
                {"step": step, "run_config": config}
                | {k: obj.state_dict() for k, obj in state.items()}
                | (extra_state or {})
            )
            # first: a kill before the checkpoint leaves history ahead, cut on resume
            history.to_csv(hist_path)
            last_good = (rotate_and_save(run_dir, payload, keep=keep), step)
    if bar is not None:
        bar.close()
    if start < iters:
        logger.info(
            "[%s] %d steps in %.1f min", name, iters - start, (time.perf_counter() - t0) / 60
        )
    history.to_csv(hist_path)
    return history


def _restore(
    path: Path, saved: dict, *, state: dict[str, Any], iters: int, config: dict[str, Any]
) -> int:
    """Load ``saved`` into ``state`` after checking it fits this run; return its step (see :func:`resumable_loop`)."""
    fix = "use the settings it was written with, or delete the folder (or pass resume=False) to start afresh"
    step = saved.get("step")
    if not isinstance(step, int):
        raise CheckpointError(f"{path} is not a training checkpoint of srlib (no step); {fix}")
    if step > iters:
        raise CheckpointError(
            f"{path} is at step {step}, past this run's iters={iters}; "
            f"set iters >= {step} to reuse it, or delete the folder to start afresh"
        )
    missing = sorted(set(state) - set(saved))
    if missing:
        raise CheckpointError(
            f"{path} lacks {missing}: it was written by a different training setup; {fix}"
        )
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
            raise CheckpointError(
                f"{path}: its '{k}' does not fit this run ({first}); {fix}"
            ) from None
    return step
