"""Data-parallel training on PyTorch's own engine: ``torchrun`` + DistributedDataParallel, one process per device.

A script that calls srlib's fit loops runs under ``torchrun --nproc_per_node N script.py``, and so does a training
stage's notebook, ``torchrun --nproc_per_node N -m srlib nb <stage>`` (:data:`srlib.nb.DATA_PARALLEL`; every rank
renders it, rank > 0 into a scratch folder): each process reads torchrun's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``) and :func:`init` joins the process group the first time a fit loop asks (NCCL on
GPUs, gloo on the CPU; ``tests/ddp_worker.py`` is such a script). What the Real-ESRGAN, SRGAN, modified-SRGAN, CUT,
M3, hallucination and pseudo-SR fit loops do with it:

* **the global batch is the params value**: every rank draws the same global batch from ``(seed, step)`` (the same
  crops, degradations and pools as one process) and keeps its own slice (:func:`shard`; ``batch_size`` must divide
  by the world size). Losses are means over the slice, DDP averages the gradients, so an update equals one process's
  on the whole batch up to float summation order -- and a run resumes at any world size;
* **DDP wraps what the steps call** (:func:`wrap`), never what is checkpointed: checkpoints keep the plain networks;
* **rank 0 alone writes** checkpoints, histories, metrics and log lines (:func:`is_main`); the logged losses are
  averaged over the ranks (:func:`mean_logs`), so the history is the global batch's;
* **BatchNorm**: statistics over the global batch need SyncBatchNorm, which DDP supports on CUDA only: on GPUs
  :func:`wrap` converts BN layers; on CPU ranks a BN network is refused (its per-rank statistics would silently train
  another model than one process does). Spectral-norm power iterations (Real-ESRGAN's U-Net D) depend on the
  weights only, so they agree on every rank; DDP broadcasts rank 0's buffers at every forward as well. InstanceNorm
  (CUT, M3's D) is per image: nothing to synchronise;
* **the step's own draws** (CUT's patch locations, FastCUT's flip, the pair pool) come from ``(seed, step)``
  generators, the same on every rank, so each slice sees what it sees in one process.

One process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``): every function here is the identity, bit for bit.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """True on rank 0 (and in a single process): the one that writes files and log lines."""
    return rank() == 0


def active() -> bool:
    return world_size() > 1


def init(device: torch.device | str | None = None) -> torch.device | None:
    """Join the process group once (NCCL for CUDA, gloo otherwise); returns this rank's device (CUDA: LOCAL_RANK)."""
    if not active():
        return torch.device(device) if device is not None else None
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev


class DataParallel(nn.parallel.DistributedDataParallel):
    """DDP that lets the steps read the wrapped network's attributes (``scale``, ``num_scales``) through it."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def has_batchnorm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def wrap(net: nn.Module | None, device: torch.device | str) -> nn.Module | None:
    """``net`` under DDP (SyncBatchNorm on CUDA) for the steps to call; ``net`` itself in one process.

    Parameters frozen for a step (D during the G step, :func:`srlib.training.frozen`) are fine: DDP's reducer skips
    parameters that need no gradient (tests/unit/test_distributed.py trains a GAN both ways).
    """
    if net is None or not active():
        return net
    device = torch.device(device)
    if has_batchnorm(net) and device.type != "cuda":
        raise ValueError(
            f"{type(net).__name__} has BatchNorm layers: data-parallel training on CPU ranks would normalise each "
            "rank's slice on its own (SyncBatchNorm needs CUDA); train it in one process or on GPUs"
        )
    device = init(device)
    if has_batchnorm(net):  # in place: the checkpointed network is the one DDP trains
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    ids = [device.index] if device.type == "cuda" else None
    return DataParallel(net, device_ids=ids)


def per_rank(batch_size: int, where: str = "batch_size") -> int:
    """The slice each rank trains on; refuses a global batch the world size does not divide."""
    n = world_size()
    if batch_size % n:
        raise ValueError(
            f"parameter {where!r} ({batch_size}, the global batch) must be divisible by the world size {n}"
        )
    return batch_size // n


def shard(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...] | torch.Tensor:
    """This rank's contiguous slice (dim 0) of each global-batch tensor; the tensors themselves in one process."""
    if not active():
        return tensors if len(tensors) != 1 else tensors[0]
    r = rank()
    out = []
    for t in tensors:
        b = per_rank(t.shape[0])
        out.append(t[r * b : (r + 1) * b])
    return tuple(out) if len(out) != 1 else out[0]


def shard_dict(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """:func:`shard` of every tensor of a batch dict."""
    if not active():
        return batch
    return {k: shard(v) for k, v in batch.items()}


def mean_logs(logs: dict[str, float]) -> dict[str, float]:
    """The logged values averaged over the ranks (each a mean over its slice: the global batch's mean)."""
    if not active() or not logs:
        return logs
    keys = list(logs)  # every rank logs the same names in the same order (the same code)
    t = torch.tensor([float(logs[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return dict(zip(keys, (t / world_size()).tolist(), strict=True))


def barrier() -> None:
    if active() and dist.is_initialized():
        dist.barrier()
