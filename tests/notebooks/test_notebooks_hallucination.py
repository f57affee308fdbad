"""Papermill smoke runs of notebooks 40 and 41 (diverse hallucination SR) in a temporary project copy.

Tiny networks (the smoke profile's), a few steps each, two benchmark crops and a face folder of two generated images;
the checks are on what the stages write and how they label it, not on the numbers.
"""

import json

import numpy as np
import pytest
from PIL import Image

from srlib import nb
from srlib.hallucination import evaluate as hev

pytestmark = pytest.mark.notebooks


def _faces(folder, n=2, side=64):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(
            folder / f"face{i}.png"
        )
    return folder


def test_hallucination_notebooks_run_and_label_everything(project):
    faces = _faces(project / "faces")
    nb.run_stage("data_prepare", profile="smoke")
    nb.run_stage("hallucination_train", profile="smoke")
    nb.run_stage(
        "hallucination_evaluate",
        profile="smoke",
        overrides={"faces_dir": str(faces), "faces_proxy": True, "n_boot": 200},
    )
    results = project / "results/smoke"
    tr = json.loads((results / "metrics/hallucination_train.details.json").read_text())
    assert {"ours", "no_lz", "srgan_mse", "srgan_gan", "esrgan_l1", "esrgan_gan"} <= set(
        tr["metrics"]
    )
    assert tr["metrics"]["ours"]["iters"] == tr["metrics"]["no_lz"]["iters"] == 4  # the same budget
    assert tr["config"]["alpha"] == 1.0 and tr["comparable_with_paper"] is False
    assert any("PROXY" in label for label in tr["labels"]) and any(
        "8x head" in label for label in tr["labels"]
    )
    run = project / "models/smoke/hallucination_train"
    assert {p.name for p in run.glob("*.pth")} == set(hev.MODEL_FILES.values())

    ev = json.loads((results / "metrics/hallucination_evaluate.details.json").read_text())
    assert set(ev["metrics"]) == {"faces", "bench"} and ev["data"]["sets"] == {
        "faces": 2,
        "bench": 2,
    }
    faces_m = ev["metrics"]["faces"]
    assert set(faces_m["rows"]) == set(hev.ROWS)
    assert set(faces_m["ablation"]) == set(hev.DIVERSITY)
    for row in faces_m["rows"].values():
        assert 0 <= row["lr_consistent"] <= 1 and row["n"] == 2
    assert any("PROXY faces" in label for label in ev["labels"])
    assert any(
        "RANDOM alex trunk" in label for label in ev["labels"]
    )  # no LPIPS trunk file in the temp TORCH_HOME
    assert all("kid_x1e3" in faces_m["rows"][row] for row in ("bicubic", "ours_z0", "ours_z"))
    kid = (results / "tables/hallucination/kid.csv").read_text().splitlines()
    assert kid[0].startswith("set,row,kid_x1e3") and len(kid) == 1 + 2 * len(hev.ROWS)
    table = (results / "tables/hallucination/table1_faces.md").read_text()
    assert "| ours, z = 0 |" in table and "no: PROXY" in table
    assert "ours without L_z (alpha = 0), z = 0" in table
    for name in ("ablation", "hallucinations", "hallucinations_no_lz", "interpolation"):
        assert (results / f"figures/hallucination_evaluate/{name}.png").is_file()
    rendered = json.loads((results / "notebooks/41_hallucination_evaluate.ipynb").read_text())
    text = "".join(
        "".join(o.get("text", ""))
        for c in rendered["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
    )
    assert "central claim" in text and "SMOKE RUN" in text
    assert "z slider (ipywidgets)" in json.dumps(
        rendered
    )  # the widget's note, beside its static strip


def test_missing_faces_folder_is_named(project):
    nb.run_stage("data_prepare", profile="smoke")
    nb.run_stage(
        "hallucination_train",
        profile="smoke",
        overrides={"train_ablation": False, "train_baselines": False},
    )
    with pytest.raises(nb.NotebookFailed, match="faces_dir"):
        nb.run_stage(
            "hallucination_evaluate", profile="smoke", overrides={"faces_dir": "no/such/folder"}
        )
