"""LPIPS (Zhang et al. 2018) through the ``lpips`` package, and the diversity of several outputs of one input.

``version='0.1'``, ``net='alex'`` by default (the package default). The linear calibration layers ship inside the
package; the trunk (torchvision AlexNet / VGG16 ImageNet weights) is resolved through :mod:`srlib.weights` and copied
into the package's model, so every value says which trunk weights it used. Inputs are RGB in [0, 1] (the model is
called with ``normalize=True``); per-image values are the spatial mean, computed in float32, returned as float64.
"""

from __future__ import annotations

import warnings

import torch

from srlib import weights
from srlib.metrics.inception import _cached_net
from srlib.weights import WeightStatus

# ---------------------------------------------------------------------------------------------------------------------
# LPIPS

_LPIPS_TRUNK = {"alex": "alexnet", "vgg": "vgg16"}


class LPIPSModel:
    """An ``lpips.LPIPS`` network (v0.1) plus the :class:`WeightStatus` of its trunk; call it on ``(sr, gt)``."""

    def __init__(
        self, net: str, model: torch.nn.Module, status: WeightStatus, device: torch.device
    ):
        self.net, self.model, self.status, self.device = net, model, status, device

    @torch.inference_mode()
    def __call__(self, sr: torch.Tensor, gt: torch.Tensor, *, batch_size: int = 16) -> torch.Tensor:
        """Per-image LPIPS of RGB ``(B, 3, H, W)`` / ``(3, H, W)`` tensors in [0, 1] -> ``(B,)`` float64."""
        sr = sr.unsqueeze(0) if sr.ndim == 3 else sr
        gt = gt.unsqueeze(0) if gt.ndim == 3 else gt
        if sr.shape != gt.shape or sr.ndim != 4 or sr.shape[1] != 3:
            raise ValueError(
                f"need two (B, 3, H, W) tensors of one shape, got {tuple(sr.shape)} and {tuple(gt.shape)}"
            )
        out = [
            self.model(
                sr[i : i + batch_size].to(self.device, torch.float32),
                gt[i : i + batch_size].to(self.device, torch.float32),
                normalize=True,  # [0, 1] -> [-1, 1]
            ).flatten()
            for i in range(0, sr.shape[0], batch_size)
        ]
        return torch.cat(out).to(sr.device, torch.float64)

    def __repr__(self) -> str:
        return f"LPIPSModel(net={self.net!r}, version='0.1', trunk={self.status.source!r})"


def _copy_trunk(trunk: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load torchvision ``features.{i}.*`` weights into lpips' ``slice{k}.{i}.*`` modules (strict: all covered)."""
    where = {idx: name for name, sl in trunk.named_children() for idx, _ in sl.named_children()}
    mapped = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features" and parts[1] in where:
            mapped[".".join([where[parts[1]], *parts[1:]])] = value
    trunk.load_state_dict(mapped, strict=True)


def _build_lpips(
    net: str, state: dict | None, status: WeightStatus, seed: int, device: str
) -> LPIPSModel:
    import lpips

    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.filterwarnings(
            "ignore", category=UserWarning
        )  # torchvision's `pretrained=` deprecation
        torch.manual_seed(seed)
        model = lpips.LPIPS(pretrained=True, net=net, version="0.1", pnet_rand=True, verbose=False)
    if state is not None:
        _copy_trunk(model.net, state)
    return LPIPSModel(net, model.to(device).eval(), status, torch.device(device))


def load_lpips(
    net: str = "alex", mode: str = "auto", *, device: str | torch.device = "cpu", seed: int = 0
) -> LPIPSModel:
    """LPIPS v0.1 with the ``net`` trunk resolved through :mod:`srlib.weights` (cached per process).

    Args:
        net: ``alex`` (default; ``alexnet-owt-7be5be79.pth``) or ``vgg`` (``vgg16-397923af.pth``).
        mode: ``pretrained`` | ``auto`` | ``random``. Without the trunk file, ``auto`` keeps a random trunk
            (``pnet_rand=True``, seeded) and labels it ``random-init``; the linear layers always come from the package.
        device: where the network runs.
        seed: initialisation seed of a random trunk.
    """
    net = {"vgg16": "vgg"}.get(net, net)
    if net not in _LPIPS_TRUNK:
        raise ValueError(f"net must be one of {sorted(_LPIPS_TRUNK)}, got {net!r}")

    def build(status: WeightStatus, dev: str) -> LPIPSModel:
        state = (
            weights.load_state_dict(_LPIPS_TRUNK[net], mode)[0] if status.source == "file" else None
        )
        return _build_lpips(net, state, status, seed, dev)

    return _cached_net(("lpips", net), _LPIPS_TRUNK[net], mode, seed, device, build)


def lpips_distance(
    sr: torch.Tensor,
    gt: torch.Tensor,
    *,
    net: str = "alex",
    mode: str = "auto",
    model: LPIPSModel | None = None,
    batch_size: int = 16,
) -> torch.Tensor:
    """Per-image LPIPS (v0.1) between RGB tensors in [0, 1]: ``(B, 3, H, W)`` -> ``(B,)`` float64 (lower = closer).

    Pass ``model=load_lpips(...)`` to reuse a network; record ``model.status.as_dict()`` in the metrics file.
    """
    model = model or load_lpips(net, mode, device=sr.device)
    return model(sr, gt, batch_size=batch_size)


def diversity(
    samples: torch.Tensor,
    *,
    net: str = "alex",
    mode: str = "auto",
    model: LPIPSModel | None = None,
    batch_size: int = 16,
) -> torch.Tensor:
    """Mean pairwise LPIPS among K samples of one input (higher = more diverse outputs).

    Args:
        samples: ``(K, 3, H, W)`` for one input, or ``(N, K, 3, H, W)`` for N inputs; K >= 2.

    Returns:
        ``(N,)`` float64 (``(1,)`` for a single input): mean over the K (K - 1) / 2 unordered pairs.
    """
    if samples.ndim == 4:
        samples = samples.unsqueeze(0)
    if samples.ndim != 5 or samples.shape[1] < 2:
        raise ValueError(
            f"need (K, 3, H, W) or (N, K, 3, H, W) with K >= 2, got {tuple(samples.shape)}"
        )
    model = model or load_lpips(net, mode, device=samples.device)
    n, k = samples.shape[:2]
    i, j = torch.triu_indices(k, k, offset=1)
    d = model(samples[:, i].flatten(0, 1), samples[:, j].flatten(0, 1), batch_size=batch_size)
    return d.view(n, len(i)).mean(dim=1)
