"""DVC remotes for data and checkpoints, end to end on a local-folder remote: a clone runs a training stage and
``dvc push``-es; a second clone ``dvc pull``-s, gets the same checkpoint bytes, and ``dvc repro`` skips the training.

The clones are of the repository's committed HEAD (what CI checks out); the remotes' URLs are pointed at a temporary
folder with ``dvc remote modify --local``, as a user points them at S3 / GCS / SSH (.dvc/config).
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from srlib import paths

pytestmark = pytest.mark.notebooks
STAGE = "degradation_matrix"  # a training stage of a few seconds on the smoke profile


def run(cmd: list[str], cwd: Path) -> str:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                        "DVC_NO_ANALYTICS": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip
    env.pop("SRLIB_ROOT", None)  # each clone is its own project root
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    )
    return res.stdout + res.stderr


def point_remotes(clone: Path, store: Path) -> None:
    for name in ("data", "checkpoints"):
        run(["dvc", "remote", "modify", "--local", name, "url", str(store / name)], clone)


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.pth"))
    }


def test_push_then_pull_in_a_fresh_clone_restores_the_checkpoint_and_skips_training(tmp_path):
    root = paths.root()
    if not (root / ".git").exists():
        pytest.skip("needs the git repository")
    a, b, store = tmp_path / "a", tmp_path / "b", tmp_path / "store"
    run(["git", "clone", "--quiet", str(root), str(a)], tmp_path)
    params = (a / "params.yaml").read_text()
    marker = "    degradation_matrix:\n      num_threads: 1\n"
    assert marker in params
    (a / "params.yaml").write_text(
        params.replace(marker, marker + "      x4_block: false\n", 1)
    )  # no x4plus
    point_remotes(a, store)
    run(["dvc", "repro", STAGE], a)
    trained = digests(a / f"models/smoke/{STAGE}")
    assert trained
    out = run(
        ["dvc", "push", "--with-deps", STAGE], a
    )  # the stage and what it needs (data_prepare)
    assert list((store / "checkpoints").rglob("*")) and list((store / "data").rglob("*")), out
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    run(["git", "add", "-A"], a)  # dvc.lock and the run's results, as a user commits them
    run([*git, "commit", "--quiet", "-m", "the run"], a)

    run(["git", "clone", "--quiet", str(a), str(b)], tmp_path)
    assert not (b / f"models/smoke/{STAGE}").exists()  # not in git: only in the remote
    point_remotes(b, store)
    run(["dvc", "pull", "--with-deps", STAGE], b)
    assert digests(b / f"models/smoke/{STAGE}") == trained
    status = run(["dvc", "status", STAGE], b)
    assert "up to date" in status, status
    before = {
        p: p.stat().st_mtime_ns for p in (b / f"models/smoke/{STAGE}").rglob("*") if p.is_file()
    }
    out = run(["dvc", "repro", STAGE], b)
    assert f"Stage '{STAGE}' didn't change, skipping" in out, out
    assert {p: p.stat().st_mtime_ns for p in before} == before  # nothing retrained or rewritten
