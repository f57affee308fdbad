"""Runtime setup shared by every stage: seeding, the device, CPU threads, progress bars."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} requested but CUDA is not available")
    return torch.device(device)


def set_threads(num_threads: int) -> None:
    """``num_threads > 0`` caps torch's CPU threads (0 keeps torch's default)."""
    if num_threads > 0:
        torch.set_num_threads(num_threads)


def use_progress(progress: bool) -> bool:
    """tqdm bars only when asked: DVC/papermill runs set `progress: false` (widgets do not render there, papermill#617)."""
    return bool(progress)
