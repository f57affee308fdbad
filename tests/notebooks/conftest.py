"""Shared fixture of the notebook smoke runs: a temporary copy of the project used as SRLIB_ROOT."""

import os
import shutil

import pytest

from srlib import paths


@pytest.fixture(scope="module")
def project(tmp_path_factory, converted_weights):
    """The parts of the repo the notebooks need, copied; results land there, not in git."""
    root = tmp_path_factory.mktemp("project")
    src = paths.root()
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(src / name, root / name)
    for name in ("notebooks", "references"):
        shutil.copytree(src / name, root / name)
    mp = pytest.MonkeyPatch()
    mp.setenv("SRLIB_ROOT", str(root))
    # no official pretrained files ('auto' must fall back, labelled), only srlib's conversion of the FID Inception
    # (what a fresh clone's `make repro` makes on first need; converted once per session, linked here)
    checkpoints = root / "torch_home" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    fid_file = converted_weights("fid_inception_fidhelper")
    os.link(fid_file, checkpoints / fid_file.name)
    mp.setenv("TORCH_HOME", str(root / "torch_home"))
    yield root
    mp.undo()
