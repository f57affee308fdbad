"""Numeric precision of forward passes: one resolution of ``fp32 | bf16 | fp16 | auto`` for inference and training.

* :func:`autocast_dtype` -- the autocast dtype a precision means on a device (None = plain fp32). Inference
  (:mod:`srlib.inference.tiling`) keeps the CPU in fp32 (``auto``'s choice there, and a warning for an explicit
  bf16 / fp16); training passes ``cpu_autocast=True`` so a bf16 / fp16 run does autocast on the CPU too (tests).
  On CUDA, bf16 falls back to fp16 with a warning where the GPU has no bf16.
* :func:`autocast` -- ``torch.autocast`` for the forward passes of a training step; for ``fp32`` a context that
  does nothing, so the default computation is exactly the fp32 one (bit for bit).
* :func:`grad_scaler` / :func:`backward_step` -- fp16 needs a ``torch.amp.GradScaler`` (loss scaling, skipped steps
  on overflow); its state goes into the checkpoint with the networks' (pass it in ``resumable_loop``'s ``state``),
  so a resumed fp16 run repeats the uninterrupted one.

Two speed options of every training family sit beside it (a stage's ``channels_last`` and ``compile`` fields):

* :func:`place` / :func:`layout` -- networks and batches in NHWC memory (``channels_last=True``: cuDNN's fast
  convolution layout on tensor-core GPUs); off, they are exactly ``.to(device)`` and the batch as it is.
* :func:`compiled` -- ``torch.compile`` of a network's forward (``inductor`` on a GPU host; ``aot_eager`` traces
  without generating code, the backend the CPU tests use). The compiled wrapper shares the network's parameters:
  the training steps call the wrapper, the checkpoint keeps the network itself (no ``_orig_mod.`` keys), so a
  compiled run's checkpoints load into an uncompiled network and resume either way.
* :func:`check_config` -- a stage config's ``precision`` / ``compile`` refused with the parameter's name;
  :func:`check_instance_norm_layout` refuses NHWC at batch 1 on the CPU for InstanceNorm networks (a PyTorch bug).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence

import torch
from torch import nn

from srlib.config import ParamsError

PRECISIONS = ("auto", "fp32", "fp16", "bf16")  # inference (python -m srlib upscale --precision)
TRAINING_PRECISIONS = ("fp32", "bf16", "fp16")  # training (a stage's `precision` field)
COMPILE_BACKENDS = ("off", "inductor", "aot_eager")  # a stage's `compile` field
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(
    precision: str, device: torch.device, *, cpu_autocast: bool = False
) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for fp32 (with a warning when falling back).

    ``auto``: bf16 (or fp16) on CUDA, fp32 elsewhere. ``cpu_autocast``: an explicit bf16 / fp16 autocasts on the
    CPU as well (training) instead of falling back to fp32 with a warning (inference).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    device = torch.device(device)
    if precision == "fp32":
        return None
    if device.type != "cuda":
        if cpu_autocast and precision in _DTYPES:
            return _DTYPES[precision]
        if precision != "auto":
            warnings.warn(
                f"precision {precision} is not used on {device.type}: running in fp32", stacklevel=2
            )
        return None
    bf16_ok = torch.cuda.is_bf16_supported()
    if precision == "auto":
        return torch.bfloat16 if bf16_ok else torch.float16
    if precision == "bf16" and not bf16_ok:
        warnings.warn("this GPU has no bf16 support: running in fp16", stacklevel=2)
        return torch.float16
    return _DTYPES[precision]


def _check_training(precision: str) -> str:
    if precision not in TRAINING_PRECISIONS:
        raise ValueError(
            f"training precision must be one of {TRAINING_PRECISIONS}, got {precision!r}"
        )
    return precision


def training_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """:func:`autocast_dtype` for a training step (``fp32 | bf16 | fp16``; CPU autocast allowed)."""
    return autocast_dtype(_check_training(precision), torch.device(device), cpu_autocast=True)


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for a step's forward passes (and losses); for ``fp32`` a context that does nothing."""
    device = torch.device(device)
    dtype = training_dtype(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(precision: str, device: torch.device | str) -> torch.amp.GradScaler | None:
    """A ``GradScaler`` when ``precision`` runs in fp16 on ``device`` (bf16 and fp32 need none), else None."""
    device = torch.device(device)
    if training_dtype(precision, device) is not torch.float16:
        return None
    return torch.amp.GradScaler(device.type)


def check_loop_state(precision: str, state: dict) -> str:
    """``precision`` after checking it names a training precision and, for fp16, that ``state`` holds a scaler."""
    if _check_training(precision) == "fp16" and not any(
        isinstance(o, torch.amp.GradScaler) for o in state.values()
    ):
        raise ValueError(
            "fp16 training needs its torch.amp.GradScaler in the loop's state (checkpointed, so resume is exact)"
        )
    return precision


def backward_step(
    loss: torch.Tensor,
    opt: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
    scaler: torch.amp.GradScaler | None = None,
) -> None:
    """``loss.backward(); opt.step()``, through ``scaler`` when there is one (scaled loss, unscaled step, update).

    ``opt`` may be several optimisers of one loss (CUT's G and F), stepped in the order given, then one update.
    """
    opts = [opt] if isinstance(opt, torch.optim.Optimizer) else list(opt)
    if scaler is None:
        loss.backward()
        for o in opts:
            o.step()
        return
    scaler.scale(loss).backward()
    for o in opts:
        scaler.step(o)
    scaler.update()


# ------------------------------------------------------------------------------------------- speed options


def place(net: nn.Module, device: torch.device | str, *, channels_last: bool = False) -> nn.Module:
    """``net.to(device)``, in NHWC memory when ``channels_last`` (4-D weights only; off: exactly ``.to(device)``)."""
    if channels_last:
        return net.to(device, memory_format=torch.channels_last)
    return net.to(device)


def layout(batch: torch.Tensor, *, channels_last: bool = False) -> torch.Tensor:
    """A 4-D batch in NHWC memory when ``channels_last`` (the same values); off: the batch itself."""
    return batch.contiguous(memory_format=torch.channels_last) if channels_last else batch


def compiled(net: nn.Module, backend: str = "off") -> nn.Module:
    """``torch.compile(net, backend=backend)`` -- a wrapper sharing ``net``'s parameters -- or ``net`` for ``off``."""
    if backend not in COMPILE_BACKENDS:
        raise ValueError(f"compile must be one of {COMPILE_BACKENDS}, got {backend!r}")
    return net if backend == "off" else torch.compile(net, backend=backend)


def check_instance_norm_layout(
    *, channels_last: bool, device: torch.device | str, batch_size: int, where: str
) -> None:
    """Refuse NHWC training at batch 1 on the CPU for networks with InstanceNorm (CUT, M3's unpaired mode).

    PyTorch 2.14.1's CPU ``instance_norm`` backward misreads an NHWC incoming gradient at batch 1: the input
    gradient is wrong by O(1), not by rounding (``tests/unit/test_speed_night2day.py`` pins it; batch >= 2 is
    right). Such a run would train quietly on wrong gradients, so it stops before the first step instead.
    """
    if channels_last and torch.device(device).type == "cpu" and batch_size == 1:
        raise ValueError(
            f"{where}: channels_last at batch 1 on the CPU gets wrong InstanceNorm gradients (a PyTorch CPU bug, "
            "pinned in tests/unit/test_speed_night2day.py); set channels_last: false, or train on a GPU"
        )


def check_config(cfg) -> None:
    """Refuse a stage config's ``precision`` (and ``compile``, where it has one), naming the parameter."""
    checks = [("precision", TRAINING_PRECISIONS), ("compile", COMPILE_BACKENDS)]
    for field, allowed in checks:
        value = getattr(cfg, field, None)
        if value is not None and value not in allowed:
            raise ParamsError(
                f"{cfg.STAGE}: parameter '{field}' must be one of {', '.join(allowed)}, got {value!r}"
            )
