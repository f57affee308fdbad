"""Distribution and perceptual metrics: FID, KID (Inception features) and LPIPS, with their weight files.

Model loading and I/O live here; the pixel metrics are pure math in :mod:`srlib.metrics`. Every network goes through
:func:`srlib.weights.resolve`, so each result says whether it was computed with the published weights
(``status.source == "file"``) or with a random-initialised network (``"random-init"``: NOT comparable with papers).

**FID** (Heusel et al. 2017, https://arxiv.org/abs/1706.08500) is the Fréchet distance between Gaussians fitted to
Inception-v3 pool3 features of two image sets: ``‖μ1 - μ2‖² + Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½)``. We use pytorch-fid 0.3.0 as
is for the network and the preprocessing, so numbers match ``python -m pytorch_fid`` (which ports the TTUR TF code):

* network: ``pytorch_fid.inception.InceptionV3`` (the TF 2015-12-05 graph, 1008 classes, TF-style pooling), weights
  ``pt_inception-2015-12-05-6726825d.pth`` loaded by pytorch-fid's own loader from ``$TORCH_HOME/hub/checkpoints``;
  ``dims`` picks the block (2048 = pool3, the standard; 64 / 192 / 768 only for tests and debugging);
* preprocessing: files are decoded with PIL ``.convert("RGB")`` and ``ToTensor`` (uint8 / 255), tensors are taken as
  float RGB in [0, 1]; InceptionV3 resizes bilinearly to 299×299 (``align_corners=False``) and maps to [-1, 1]
  (``normalize_input=True``). Nothing else: no centre crop, no antialiasing;
* statistics: float64 features, ``μ = mean``, ``Σ = np.cov(rowvar=False)`` (N - 1 normalisation);
* distance: :func:`frechet_distance`, ``scipy.linalg.sqrtm`` of Σ1 Σ2 with pytorch-fid's fallback (1e-6 added to the
  diagonals when the root is not finite; ValueError on an imaginary diagonal beyond 1e-3).

Random-initialised Inception features are nearly zero (PyTorch's default init shrinks activations layer by layer and
the BatchNorm running statistics are the identity), so random-init FIDs are tiny (≈ 1e-15 at dims 2048): they
exercise the plumbing and the parity checks, nothing else.

FID is biased upward roughly as FID∞ + k / N (Chong & Forsyth 2020), and with N ≤ dims the covariance has rank
≤ N - 1 < dims (singular): values from a few hundred images are only comparable at the same N and never with
published 50k numbers. :func:`fid` returns these caveats in ``warnings``. **KID** (Bińkowski et al. 2018, unbiased MMD²
with the cubic polynomial kernel ``k(x, y) = (xᵀy / d + 1)³``, averaged over random subsets) is unbiased and the
better small-sample companion.

**LPIPS** (Zhang et al. 2018) via the ``lpips`` package, ``version='0.1'``, ``net='alex'`` by default (the package
default and the best forward metric). The linear calibration layers ship inside the package; the trunk (torchvision
AlexNet / VGG16 ImageNet weights) is resolved through :mod:`srlib.weights` (``alexnet-owt-7be5be79.pth``,
``vgg16-397923af.pth``) and copied into the package's model. Inputs are RGB in [0, 1]; we call the model with
``normalize=True``, which maps them to [-1, 1] (``2x - 1``) before LPIPS' own scaling layer. Per-image values are the
spatial mean (``spatial=False``), computed in float32, returned as float64.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from scipy import linalg

from srlib import weights
from srlib.weights import WeightStatus

__all__ = [
    "IMAGE_EXTENSIONS",
    "fid_inception",
    "random_fid_inception_state_dict",
    "inception_features",
    "inception_stats",
    "frechet_distance",
    "fid",
    "kid_from_features",
    "kid",
    "LPIPSModel",
    "load_lpips",
    "lpips_distance",
    "diversity",
]

IMAGE_EXTENSIONS = {
    "bmp",
    "jpg",
    "jpeg",
    "pgm",
    "png",
    "ppm",
    "tif",
    "tiff",
    "webp",
}  # as pytorch-fid
_PREPROCESS_TAG = "pytorch-fid-0.3.0:PIL-RGB/ToTensor:bilinear299:[-1,1]"

Images = str | os.PathLike | torch.Tensor | Iterable[torch.Tensor]


# ---------------------------------------------------------------------------------------------------------------------
# FID Inception


@contextmanager
def _random_init_loader():
    """Let pytorch-fid build its FID Inception without a file: its loader returns the fresh network's own weights.

    pytorch-fid's ``fid_inception_v3`` builds torchvision's Inception (``init_weights=False``: PyTorch default init),
    swaps in the FID blocks, then loads ``FID_WEIGHTS_URL``. We keep all of that and only answer the load with the
    state dict of the network being built, so the structure stays exactly pytorch-fid's.
    """
    from pytorch_fid import inception as pfi

    built: list[torch.nn.Module] = []
    original = pfi._inception_v3

    def capture(*args, **kwargs):
        net = original(*args, **kwargs)
        built.append(net)
        return net

    with (
        mock.patch.object(pfi, "_inception_v3", capture),
        mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: built[-1].state_dict()),
    ):
        yield


def random_fid_inception_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """State dict of a random-initialised FID Inception (the layout of ``pt_inception-2015-12-05-6726825d.pth``).

    Tests and the benchmark save it under ``$TORCH_HOME/hub/checkpoints`` to exercise the real loading path offline.
    Equal to what :func:`fid_inception` builds with ``mode="random", seed=seed``.
    """
    from pytorch_fid import inception as pfi

    with torch.random.fork_rng(devices=[]), _random_init_loader():
        torch.manual_seed(seed)
        net = pfi.fid_inception_v3()
    return net.state_dict()


_NETS: dict[
    tuple, tuple | LPIPSModel
] = {}  # (what, *key) -> built network; one per process and configuration


def _resolve_quietly(key: str, mode: str) -> tuple[WeightStatus, list[warnings.WarningMessage]]:
    """``weights.resolve`` with its warning held back, so it is shown once per network built, not once per call."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = weights.resolve(key, mode)
    return status, caught


def _reemit(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=3)


def _build_inception(dims: int, status: WeightStatus, seed: int, device: str) -> torch.nn.Module:
    from pytorch_fid import inception as pfi

    block = pfi.InceptionV3.BLOCK_INDEX_BY_DIM[dims]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        if status.source == "file":
            # pytorch-fid's own loader (torch.hub.load_state_dict_from_url on FID_WEIGHTS_URL) finds the file in
            # $TORCH_HOME/hub/checkpoints; model_dir pins it to the folder srlib.weights resolved, in case
            # torch.hub.set_dir() pointed torch elsewhere.
            loader = functools.partial(
                pfi.load_state_dict_from_url, model_dir=str(Path(status.path).parent)
            )
            with mock.patch.object(pfi, "load_state_dict_from_url", loader):
                net = pfi.InceptionV3([block], resize_input=True, normalize_input=True)
        else:
            with torch.random.fork_rng(devices=[]), _random_init_loader():
                torch.manual_seed(seed)
                net = pfi.InceptionV3([block], resize_input=True, normalize_input=True)
    return net.to(device).eval()


def _cached_net(kind: tuple, weight_key: str, mode: str, seed: int, device, build):
    """One network per (kind, weights source and file, seed, device), built by ``build(status, device)`` once.

    Warnings raised while resolving the weights are re-emitted only when the network is actually built, so a cached
    network does not repeat them on every call.
    """
    status, caught = _resolve_quietly(weight_key, mode)
    device = str(torch.device(device))
    file_id = _file_identity(status.path) if status.source == "file" else ()
    key = (*kind, mode, status.source, seed if status.source != "file" else None, device, file_id)
    if key not in _NETS:
        _reemit(caught)
        _NETS[key] = build(status, device)
    return _NETS[key]


def fid_inception(
    dims: int = 2048, mode: str = "auto", *, device: str | torch.device = "cpu", seed: int = 0
) -> tuple[torch.nn.Module, WeightStatus]:
    """pytorch-fid's ``InceptionV3`` for ``dims`` features and how its weights were resolved (cached per process).

    Args:
        dims: 2048 (pool3, the FID standard), 768, 192 or 64.
        mode: ``pretrained`` | ``auto`` | ``random`` (see :mod:`srlib.weights`).
        device: where the network runs.
        seed: initialisation seed when the network is random-initialised.
    """
    from pytorch_fid.inception import InceptionV3

    if dims not in InceptionV3.BLOCK_INDEX_BY_DIM:
        raise ValueError(
            f"dims must be one of {sorted(InceptionV3.BLOCK_INDEX_BY_DIM)}, got {dims}"
        )
    return _cached_net(
        ("inception", dims), "fid_inception", mode, seed, device,
        lambda status, dev: (_build_inception(dims, status, seed, dev), status),
    )


def _file_identity(path: str | None) -> tuple:
    st = os.stat(path)
    return (str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return weights.sha256_of(Path(path))


def _weights_tag(status: WeightStatus, seed: int) -> str:
    if status.source == "file":
        return "file:" + _file_sha256(*_file_identity(status.path))
    return f"random-init:seed{seed}:torch{torch.__version__}"


# ---------------------------------------------------------------------------------------------------------------------
# image sources


def _list_images(folder: Path) -> list[Path]:
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix[1:].lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {folder}")
    return files


def _load_image(path: Path) -> torch.Tensor:
    from PIL import Image
    from torchvision.transforms.functional import to_tensor

    with Image.open(path) as img:
        # (3, H, W) float32 = uint8 / 255, as pytorch-fid's ImagePathDataset + ToTensor
        return to_tensor(img.convert("RGB"))


def _content_hash(images: str | os.PathLike | torch.Tensor) -> str:
    h = hashlib.sha256()
    if torch.is_tensor(images):
        t = images.detach().to("cpu", torch.float32).contiguous()
        h.update(repr(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
        return h.hexdigest()
    folder = Path(images)
    for p in _list_images(folder):
        h.update(p.name.encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _batches(images: Images, batch_size: int) -> Iterable[torch.Tensor]:
    """Yield float (b, 3, H, W) batches in [0, 1]; consecutive same-size images share a batch."""
    if isinstance(images, str | os.PathLike):
        files = _list_images(Path(images))
        for i in range(0, len(files), batch_size):
            chunk = [_load_image(p) for p in files[i : i + batch_size]]
            run = [chunk[0]]
            for t in chunk[1:]:
                if t.shape == run[-1].shape:
                    run.append(t)
                else:
                    yield torch.stack(run)
                    run = [t]
            yield torch.stack(run)
        return
    if torch.is_tensor(images):
        images = [images]
    for t in images:
        t = t.unsqueeze(0) if t.ndim == 3 else t
        if t.ndim != 4 or t.shape[1] not in (1, 3) or not t.is_floating_point():
            raise ValueError(
                f"expected float (N, 3, H, W) RGB tensors in [0, 1], got {t.dtype} {tuple(t.shape)}"
            )
        t = t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t
        for i in range(0, t.shape[0], batch_size):
            yield t[i : i + batch_size]


# ---------------------------------------------------------------------------------------------------------------------
# features and statistics


def inception_features(
    images: Images,
    *,
    dims: int = 2048,
    mode: str = "auto",
    device: str | torch.device = "cpu",
    batch_size: int = 50,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, WeightStatus]:
    """Inception features ``(N, dims)`` (float64) of a folder of images or of float RGB tensors in [0, 1].

    Args:
        images: a folder (files with pytorch-fid's extensions, any case, sorted by name), a tensor
            ``(N, 3, H, W)`` / ``(3, H, W)``, or an iterable of such tensors (batches produced on the fly).
        dims: feature block (2048 = pool3).
        mode: weights mode for the FID Inception (``pretrained`` | ``auto`` | ``random``).
        device: where the network runs.
        batch_size: images per forward pass (pytorch-fid's default is 50).
        cache_dir: if given, features of folders and tensors are cached there as ``.npz``, keyed by the content
            hash of the images, ``dims``, the weights (file sha256, or random-init + seed + torch version) and the
            preprocessing. Iterables are never cached.
        seed: initialisation seed for a random-initialised network.

    Returns:
        ``(features, status)``.
    """
    net, status = fid_inception(dims, mode, device=device, seed=seed)
    cache_file = None
    if cache_dir is not None and (torch.is_tensor(images) or isinstance(images, str | os.PathLike)):
        key = {
            "content": _content_hash(images),
            "dims": dims,
            "weights": _weights_tag(status, seed),
            "preprocess": _PREPROCESS_TAG,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        cache_file = Path(cache_dir) / f"inception-{dims}-{digest[:24]}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as f:
                return f["features"], status

    feats = []
    with torch.inference_mode():
        for batch in _batches(images, batch_size):
            out = net(batch.to(device, torch.float32))[0]
            if out.shape[2:] != (1, 1):  # dims < 2048: global average pool, as pytorch-fid
                out = torch.nn.functional.adaptive_avg_pool2d(out, (1, 1))
            feats.append(out.flatten(1).cpu().numpy().astype(np.float64))
    if not feats:
        raise ValueError("no images given")
    features = np.concatenate(feats)

    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npz")
        np.savez(tmp, features=features, key=json.dumps(key, sort_keys=True))
        tmp.replace(cache_file)
    return features, status


def _stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if features.shape[0] < 2:
        raise ValueError(f"FID statistics need at least 2 images, got {features.shape[0]}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def inception_stats(
    images: Images | str | os.PathLike,
    *,
    dims: int = 2048,
    mode: str = "auto",
    device: str | torch.device = "cpu",
    batch_size: int = 50,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """``(mu, sigma, n)`` of the Inception features of ``images`` (see :func:`inception_features` for the arguments).

    ``images`` may also be a pytorch-fid ``.npz`` statistics file (keys ``mu``, ``sigma``; ``n`` when present, else
    ``None``), e.g. published reference statistics.
    """
    if isinstance(images, str | os.PathLike) and str(images).endswith(".npz"):
        with np.load(images) as f:
            n = int(f["n"]) if "n" in f.files else None
            return f["mu"].astype(np.float64), f["sigma"].astype(np.float64), n
    feats, _ = inception_features(
        images,
        dims=dims,
        mode=mode,
        device=device,
        batch_size=batch_size,
        cache_dir=cache_dir,
        seed=seed,
    )
    mu, sigma = _stats(feats)
    return mu, sigma, feats.shape[0]


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, *, eps: float = 1e-6
) -> float:
    """Fréchet distance ``‖μ1 - μ2‖² + Tr(Σ1) + Tr(Σ2) - 2 Tr((Σ1 Σ2)^½)`` between two Gaussians (float64).

    The matrix root is ``scipy.linalg.sqrtm(Σ1 Σ2)`` as in pytorch-fid / TTUR. If it is not finite (nearly singular
    product), ``eps`` is added to both diagonals and the root retaken, with a warning. A small imaginary part from
    round-off is dropped; an imaginary diagonal beyond 1e-3 raises ``ValueError``. The result can be slightly
    negative (≈ -1e-6) for identical statistics.
    """
    mu1, mu2 = (
        np.atleast_1d(np.asarray(mu1, np.float64)),
        np.atleast_1d(np.asarray(mu2, np.float64)),
    )
    s1, s2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}"
        )
    root = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(root).all():
        warnings.warn(
            f"frechet_distance: sqrtm(sigma1 @ sigma2) is not finite (singular product); adding {eps} to the "
            "diagonals (pytorch-fid's fallback)",
            RuntimeWarning,
            stacklevel=2,
        )
        offset = np.eye(s1.shape[0]) * eps
        root = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(root):
        imag = np.abs(np.diagonal(root).imag).max()
        if imag > 1e-3:
            raise ValueError(
                f"frechet_distance: imaginary component {imag:.3g} in sqrtm(sigma1 @ sigma2)"
            )
        root = root.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(root))


def _sample_warnings(n_a: int | None, n_b: int | None, dims: int) -> list[str]:
    out = []
    for name, n in (("a", n_a), ("b", n_b)):
        if n is not None and n <= dims:
            out.append(
                f"N_{name}={n} <= dims={dims}: the covariance has rank <= N-1 < dims (singular); the value is "
                f"finite but strongly biased upward and NOT comparable with published FIDs (which use >= 10k-50k "
                f"images and dims 2048). Report KID alongside."
            )
    if n_a is not None and n_b is not None and n_a != n_b:
        out.append(
            f"N_a={n_a} != N_b={n_b}: FID's bias depends on N (~ k/N); compare FIDs only at equal N."
        )
    return out


def fid(
    a: Images | str | os.PathLike,
    b: Images | str | os.PathLike,
    *,
    dims: int = 2048,
    mode: str = "auto",
    device: str | torch.device = "cpu",
    batch_size: int = 50,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
) -> dict:
    """FID between two image sets (folders, tensors, iterables of tensors, or ``.npz`` statistics).

    Returns:
        ``{"value", "n_a", "n_b", "dims", "weights": WeightStatus.as_dict(), "warnings": [...]}``. ``warnings`` lists
        every caveat: random-initialised features, N <= dims (singular covariance), N_a != N_b, the sqrtm fallback.
    """
    kw = dict(
        dims=dims, mode=mode, device=device, batch_size=batch_size, cache_dir=cache_dir, seed=seed
    )
    mu1, s1, n_a = inception_stats(a, **kw)
    mu2, s2, n_b = inception_stats(b, **kw)
    if mu1.shape[0] != dims or mu2.shape[0] != dims:
        raise ValueError(f"statistics have {mu1.shape[0]} / {mu2.shape[0]} dims, expected {dims}")
    _, status = fid_inception(dims, mode, device=device, seed=seed)
    notes = []
    if not status.comparable:
        notes.append(
            f"features from a RANDOM-INITIALISED Inception ({status.message}); NOT comparable with papers"
        )
    notes += _sample_warnings(n_a, n_b, dims)
    for name, x in (("a", a), ("b", b)):
        if isinstance(x, str | os.PathLike) and str(x).endswith(".npz"):
            notes.append(
                f"{name} is a statistics file ({x}): its Inception weights and preprocessing are not "
                "checked; it must come from the same network for the value to mean anything"
            )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = frechet_distance(mu1, s1, mu2, s2)
    notes += [str(w.message) for w in caught]
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return {
        "value": value,
        "n_a": n_a,
        "n_b": n_b,
        "dims": dims,
        "weights": status.as_dict(),
        "warnings": notes,
    }


# ---------------------------------------------------------------------------------------------------------------------
# KID


def kid_from_features(
    fa: np.ndarray, fb: np.ndarray, *, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD² with ``k(x, y) = (xᵀy / d + 1)³``, mean and std over random subsets.

    Each subset draws ``m = min(subset_size, N_a, N_b)`` rows of each set without replacement (numpy
    ``default_rng(seed)``); the unbiased estimator leaves the kernel diagonals out, so the value can be negative
    when the two sets come from the same distribution.
    """
    fa, fb = np.asarray(fa, np.float64), np.asarray(fb, np.float64)
    d = fa.shape[1]
    m = min(subset_size, fa.shape[0], fb.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    rng = np.random.default_rng(seed)
    vals = np.empty(n_subsets)
    for i in range(n_subsets):
        x = fa[rng.choice(fa.shape[0], m, replace=False)]
        y = fb[rng.choice(fb.shape[0], m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        vals[i] = (
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean()
        )
    return float(vals.mean()), float(vals.std())


def kid(
    a: Images,
    b: Images,
    *,
    dims: int = 2048,
    mode: str = "auto",
    device: str | torch.device = "cpu",
    batch_size: int = 50,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
    n_subsets: int = 100,
    subset_size: int = 1000,
) -> dict:
    """KID between two image sets; returns ``{"value", "std", "n_a", "n_b", "subset_size", "dims", "weights",
    "warnings"}`` (``value`` is the mean over subsets; published KIDs are often ×1000)."""
    kw = dict(
        dims=dims, mode=mode, device=device, batch_size=batch_size, cache_dir=cache_dir, seed=seed
    )
    fa, status = inception_features(a, **kw)
    fb, _ = inception_features(b, **kw)
    value, std = kid_from_features(fa, fb, n_subsets=n_subsets, subset_size=subset_size, seed=seed)
    notes = []
    if not status.comparable:
        notes.append(
            f"features from a RANDOM-INITIALISED Inception ({status.message}); NOT comparable with papers"
        )
    m = min(subset_size, fa.shape[0], fb.shape[0])
    if m < subset_size:
        notes.append(
            f"subset size {m} < {subset_size} (small sets): KID is unbiased but its variance is larger"
        )
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return {
        "value": value,
        "std": std,
        "n_a": fa.shape[0],
        "n_b": fb.shape[0],
        "subset_size": m,
        "dims": dims,
        "weights": status.as_dict(),
        "warnings": notes,
    }


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
        state = weights.load_state_dict(_LPIPS_TRUNK[net], mode)[0] if status.source == "file" else None
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
