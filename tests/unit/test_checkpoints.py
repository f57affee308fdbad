"""The trained generators behind committed results are obtainable: small ones copied beside the results, every one
indexed with its sha256, larger ones pointed at the DVC remote."""

import hashlib
import json

import pytest

from srlib import checkpoints, paths


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("SRLIB_ROOT", str(tmp_path))
    return tmp_path


def _model(root, stage, name, size):
    path = root / "models" / "p" / stage / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(range(256)) * (size // 256))
    return path


def test_small_generators_are_copied_and_large_ones_indexed_for_the_dvc_remote(root, monkeypatch):
    monkeypatch.setattr(checkpoints, "MAX_COMMITTED", 1024)
    small = _model(root, "a", "srresnet.pth", 512)
    _model(root, "a", "big.pth", 4096)
    (small.parent / "srresnet").mkdir()
    (small.parent / "srresnet" / "last.pth").write_bytes(
        b"resume state"
    )  # sub-folders are not published
    index = checkpoints.publish("p", stages=("a",))
    out = root / "results" / "p" / "checkpoints"
    assert sorted(index) == ["a/big.pth", "a/srresnet.pth"]
    assert (out / "a" / "srresnet.pth").read_bytes() == small.read_bytes()
    assert not (out / "a" / "big.pth").exists()
    assert index["a/srresnet.pth"] == {
        "source": "models/p/a/srresnet.pth",
        "bytes": 512,
        "sha256": hashlib.sha256(small.read_bytes()).hexdigest(),
        "committed": "results/p/checkpoints/a/srresnet.pth",
    }
    assert index["a/big.pth"]["committed"] is None
    assert index["a/big.pth"]["obtain"].startswith("dvc pull models/p/a ")
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk["max_committed_bytes"] == 1024 and on_disk["a/big.pth"] == index["a/big.pth"]


def test_a_stage_without_models_is_one_line_naming_the_folder(root, capsys):
    assert checkpoints.main(["--profile", "p"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "error: no trained models at models/p/srgan_train (run `dvc repro srgan_train` first)"
    )
    assert not (paths.profile_results("p") / "checkpoints").exists()


def test_stages_picks_what_a_partial_profile_has(root, capsys):
    _model(root, "srgan_train", "srresnet.pth", 512)
    assert checkpoints.main(["--profile", "p", "--stages", "srgan_train"]) == 0
    assert capsys.readouterr().out == "srgan_train/srresnet.pth: 0.00 MiB, committed\n"
    assert (root / "results/p/checkpoints/srgan_train/srresnet.pth").is_file()


def test_a_partial_publish_keeps_the_other_stages_entries(root):
    _model(root, "a", "g.pth", 256)
    _model(root, "b", "g.pth", 512)
    checkpoints.publish("p", stages=("a", "b"))
    (root / "models/p/b/g.pth").write_bytes(b"retrained")
    index = checkpoints.publish("p", stages=("b",))
    assert sorted(index) == ["a/g.pth", "b/g.pth"] and index["a/g.pth"]["bytes"] == 256
    assert index["b/g.pth"]["bytes"] == len(b"retrained")
    (root / "results/p/checkpoints/a/g.pth").unlink()  # a stale entry whose copy is gone is dropped
    assert sorted(checkpoints.publish("p", stages=("b",))) == ["b/g.pth"]
