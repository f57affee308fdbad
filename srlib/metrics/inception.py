"""Distribution and perceptual metrics: FID, KID (Inception features) and LPIPS, with their weight files.

Model loading and I/O live here; the pixel metrics are pure math in :mod:`srlib.metrics.pixel`. Every network goes through
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

from srlib import weights
from srlib.weights import WeightStatus

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


_NETS: dict[tuple, object] = {}  # (what, *key) -> built network; one per process and configuration


def _resolve_quietly(key: str, mode: str) -> tuple[WeightStatus, list[warnings.WarningMessage]]:
    """``weights.resolve`` with its warning held back, so it is shown once per network built, not once per call."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = weights.resolve(key, mode)
    return status, caught


def _reemit(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=3)


def pfi_network(state: dict, blocks: list[int], **kwargs) -> torch.nn.Module:
    """pytorch-fid's ``InceptionV3(blocks, **kwargs)`` holding ``state`` (eval mode).

    pytorch-fid builds its FID network and loads the weights with ``load_state_dict_from_url(FID_WEIGHTS_URL)``
    (strict); that one call is answered with ``state``, so the structure and the loading stay exactly pytorch-fid's
    whichever file ``state`` came from (the official one or srlib's conversion, see :mod:`srlib.weights`).
    """
    from pytorch_fid import inception as pfi

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        with mock.patch.object(pfi, "load_state_dict_from_url", lambda *a, **k: state):
            return pfi.InceptionV3(blocks, **kwargs).eval()


def _build_inception(dims: int, status: WeightStatus, seed: int, device: str) -> torch.nn.Module:
    from pytorch_fid import inception as pfi

    if status.source == "file":  # the official file or srlib's conversion: status.key says which
        state, _ = weights.load_state_dict(
            status.key, "pretrained"
        )  # weights_only, hash-checked if converted
    else:
        state = random_fid_inception_state_dict(seed)
    block = pfi.InceptionV3.BLOCK_INDEX_BY_DIM[dims]
    net = pfi_network(state, [block], resize_input=True, normalize_input=True)
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
        ("inception", dims),
        "fid_inception",
        mode,
        seed,
        device,
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
