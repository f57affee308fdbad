"""Shared fixture of the notebook smoke runs: a temporary copy of the project used as SRLIB_ROOT."""

import shutil

import pytest

from srlib import paths


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The parts of the repo the notebooks need, copied; results land there, not in git."""
    root = tmp_path_factory.mktemp("project")
    src = paths.root()
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(src / name, root / name)
    for name in ("notebooks", "references"):
        shutil.copytree(src / name, root / name)
    mp = pytest.MonkeyPatch()
    mp.setenv("SRLIB_ROOT", str(root))
    mp.setenv(
        "TORCH_HOME", str(root / "torch_home")
    )  # no pretrained files: 'auto' must fall back, labelled
    yield root
    mp.undo()
