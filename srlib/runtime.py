"""Runtime setup shared by every stage: seeding, the device, CPU threads, progress bars."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    """``num_threads > 0`` caps torch's CPU threads (0 keeps torch's default: one per core).

    The stages use this: a training's float results depend on the thread count (summation order), so a stage's count
    is its ``num_threads`` parameter, never the machine's load. Inference and measurement, whose results do not,
    take :func:`use_threads` instead.
    """
    if num_threads > 0:
        torch.set_num_threads(num_threads)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _cpu_times() -> dict[str, tuple[int, int]]:
    """Per-CPU (busy, total) jiffies from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                v = [int(x) for x in fields[:8]]
                idle = v[3] + v[4]  # idle + iowait
                out[name] = (sum(v) - idle, sum(v))
    return out


def free_cores(sample_s: float = 0.1) -> int:
    """Cores of this process's affinity that other processes leave idle now: a core busier than half the time over
    ``sample_s`` seconds (/proc/stat; this process sleeps meanwhile) counts as taken. Elsewhere: the cores less the
    1-minute load average. At least 1."""
    usable = usable_cores()
    try:
        allowed = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        a = _cpu_times()
        time.sleep(sample_s)
        b = _cpu_times()
    except (OSError, AttributeError, ValueError):
        return max(1, usable - round(os.getloadavg()[0])) if hasattr(os, "getloadavg") else usable
    busy = 0
    for cpu in allowed & a.keys() & b.keys():
        d_busy, d_total = b[cpu][0] - a[cpu][0], b[cpu][1] - a[cpu][1]
        busy += d_total > 0 and d_busy / d_total > 0.5
    return max(1, len(allowed & b.keys()) - busy)


@contextmanager
def threads_restored() -> Iterator[None]:
    """torch's and OpenCV's thread counts as they were before the block, whatever it set (:func:`use_threads`).

    Found the hard way: a test process that ran the CLI kept its 2 threads, and the children it forked afterwards
    (multiprocessing's fork context) hung in their first OpenMP parallel region."""
    import cv2

    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before[0]:
            torch.set_num_threads(before[0])
        if cv2.getNumThreads() != before[1]:
            cv2.setNumThreads(before[1])


def use_threads(threads: int | str = "auto") -> int:
    """The one place inference and measurement set their CPU threads (torch, OpenCV; ONNX Runtime and ncnn take the
    returned count): ``"auto"`` (or 0) = :func:`free_cores`, so another busy process never leaves OpenMP threads
    spinning against it (2 threads with one core taken run several times slower than 1); a number = that many."""
    n = free_cores() if threads in ("auto", 0) else int(threads)
    if n < 1:
        raise ValueError(f"threads must be 'auto' or >= 1, got {threads!r}")
    torch.set_num_threads(n)
    import cv2

    cv2.setNumThreads(n)
    return n


def use_progress(progress: bool) -> bool:
    """tqdm bars only when asked: DVC/papermill runs set `progress: false` (widgets do not render there, papermill#617)."""
    return bool(progress)


def setup(cfg, *, seed: bool) -> torch.device:
    """The runtime a stage runs in, from its config: CPU threads (``cfg.num_threads``), with ``seed=True`` the
    global seeds (``cfg.seed``; stages that seed each network themselves pass False), and the device
    (``cfg.device``; ``cpu`` for stages that take none). Returns the device."""
    set_threads(cfg.num_threads)
    if seed:
        seed_everything(cfg.seed)
    return pick_device(getattr(cfg, "device", "cpu"))


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (e.g. ``SRLIB_ROOT`` for notebook kernels), restoring them after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# the files a result depends on: uncommitted changes elsewhere (results, data) do not make a run "dirty"
SOURCE_PATHS = ("srlib", "notebooks", "params.yaml", "dvc.yaml", "references")


def git_commit(root: str | os.PathLike | None = None) -> str:
    """``$SRLIB_GIT_COMMIT``, else the checkout's HEAD, marked when its sources have uncommitted changes.

    Every metrics file records it (:func:`srlib.tracking.write_metrics`), so a committed number names the code that
    produced it. A copy without git (e.g. a GPU host's carried tree) passes the commit in ``SRLIB_GIT_COMMIT``.
    """
    import subprocess

    from srlib import paths

    if os.environ.get("SRLIB_GIT_COMMIT"):
        return os.environ["SRLIB_GIT_COMMIT"]
    git = ["git", "-C", str(root or paths.root())]
    try:
        sha = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=30
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "--", *SOURCE_PATHS],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git checkout here; set SRLIB_GIT_COMMIT)"
    return sha.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
