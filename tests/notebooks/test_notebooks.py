"""Papermill smoke runs of every stage notebook, in a temporary copy of the project, with tiny overrides.

These are the only tests that execute notebooks (~1-2 min in all on 2 cores); they check that each notebook runs
top to bottom through `srlib.nb` and writes its metrics with provenance, and that bad inputs fail with the file or
folder named.
"""

import json

import numpy as np
import pytest
from PIL import Image

from srlib import nb
from srlib.srgan import perceptual

pytestmark = pytest.mark.notebooks

TINY = {
    "srgan_train": dict(
        num_feat=8,
        num_block=1,
        gt_size=32,
        batch_size=2,
        pretrain_iters=2,
        gan_iters=2,
        lr_decay_at=1,
        log_interval=1,
        val_interval=2,
        ckpt_interval=2,
        val_crop=48,
    ),
}


def test_whole_smoke_study_runs(project):
    for stage in ("data_prepare", "srgan_train", "srgan_evaluate", "tables"):
        out = nb.run_stage(stage, profile="smoke", overrides=TINY.get(stage))
        assert out == project / "results" / "smoke" / "notebooks" / out.name and out.is_file()
    metrics = {
        s: json.loads((project / "results/smoke/metrics" / f"{s}.details.json").read_text())
        for s in ("data_prepare", "srgan_train", "srgan_evaluate")
    }
    assert metrics["data_prepare"]["metrics"]["bench"]["images"] == 4
    ev = metrics["srgan_evaluate"]
    assert set(ev["metrics"]["models"]) == {"bicubic", "srresnet", "srgan"}
    # the smoke profile's SRGAN trains with the labelled FID-Inception substitute (real converted weights here)
    assert (
        ev["weights"]["fid_inception"]["source"] == "file" and ev["comparable_with_paper"] is False
    )
    assert perceptual.SUBSTITUTE_LABEL in ev["labels"]
    assert perceptual.SUBSTITUTE_LABEL in metrics["srgan_train"]["labels"]
    assert metrics["srgan_train"]["config"]["percep_net"] == "inception"
    assert any("PROXY" in label for label in ev["labels"])
    table = (project / "results/smoke/tables/srgan_ledig2017.md").read_text()
    # SRGAN rows: VGG54 not used (the substitute's label heads the table), so not comparable
    assert "FID-Inception content loss (substitute for VGG54)" in table and "(PROXY)" in table
    assert perceptual.SUBSTITUTE_LABEL in table
    rendered = json.loads((project / "results/smoke/notebooks/10_srgan_train.ipynb").read_text())
    # papermill's injected values are folded into the parameters cell: one cell, this run's values
    assert not any(
        "injected-parameters" in c["metadata"].get("tags", []) for c in rendered["cells"]
    )
    params = next(c for c in rendered["cells"] if "parameters" in c["metadata"].get("tags", []))
    assert 'profile: str = "smoke"  # params profile' in "".join(params["source"])
    assert '(default: "paper")' in "".join(params["source"])


def test_missing_data_folder_is_named(project):
    with pytest.raises(nb.NotebookFailed, match="no_such_photos"):
        nb.run_stage(
            "data_prepare",
            profile="smoke",
            overrides={"train_dir": "no_such_photos"},
            output=project / "failed.ipynb",
        )


def test_corrupt_image_is_named(project):
    photos = project / "bad_photos"
    photos.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(photos / "fine.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(nb.NotebookFailed, match="broken.jpg"):
        nb.run_stage(
            "data_prepare",
            profile="smoke",
            overrides={"bench_dir": str(photos)},
            output=project / "failed2.ipynb",
        )
