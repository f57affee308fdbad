"""Papermill smoke runs of notebooks 52 (pseudo-supervised SR training) and 53 (the blind-SR table) in a temporary
project copy: tiny networks, a few steps, two test crops. The checks are on what the stages write and how they label
it (the verdict is words built from the numbers), not on the numbers themselves."""

import json

import pandas as pd
import pytest

from srlib import nb

pytestmark = pytest.mark.notebooks

ROWS = ["bicubic", "srresnet_bicubic", "srresnet_blur", "srresnet_realesrgan", "zssr", "x4plus", "finetune_x4plus",
        "pseudo", "direct", "two_way"]  # fmt: skip


def test_pseudo_sr_notebooks_train_every_row_and_write_the_blind_table(project):
    nb.run_stage("data_prepare", profile="smoke")
    nb.run_stage("pseudo_sr_train", profile="smoke")
    run = project / "models/smoke/pseudo_sr_train"
    files = {p.stem for p in run.glob("*.pth")}
    assert files == {f"{v}_{n}" for v in ("pseudo", "direct", "two_way") for n in ("u", "g_xy", "g_yx")} | {
        "bicubic", "blur", "realesrgan", "finetune_x4plus"}  # fmt: skip
    train = json.loads((project / "results/smoke/metrics/pseudo_sr_train.details.json").read_text())
    assert {"pseudo", "direct", "two_way", "finetune_x4plus"} <= set(train["metrics"])
    assert "l_cyc_x" in train["metrics"]["two_way"] and "l_cyc_x" not in train["metrics"]["pseudo"]
    assert "l_u_gan" in train["metrics"]["direct"] and "l_u_pix" in train["metrics"]["pseudo"]
    assert any(label.startswith("PROXY X") for label in train["labels"])

    nb.run_stage("blind_sr_evaluate", profile="smoke", overrides={"n_boot": 200})
    results = project / "results/smoke"
    rec = json.loads((results / "metrics/blind_sr_evaluate.details.json").read_text())
    assert list(rec["metrics"]["rows"]) == ROWS
    assert (
        not rec["metrics"]["rows"]["finetune_x4plus"]["blind"]
        and rec["metrics"]["rows"]["pseudo"]["blind"]
    )
    assert {"vs_ideal", "vs_zssr", "vs_x4plus", "vs_direct", "vs_two_way"} <= set(
        rec["metrics"]["verdict"]
    )
    assert any(
        "RANDOM WEIGHTS" in label for label in rec["labels"]
    )  # no x4plus file in the copy: 'auto' fell back
    paired = pd.read_csv(results / "tables/blind_sr/paired_vs_pseudo.csv")
    assert set(paired.b) == set(ROWS) - {"pseudo"} and (paired.a == "pseudo").all()
    assert "KNOWS the test family" in (results / "tables/blind_sr/table.md").read_text()
    for name in ("psnr_per_image", "grid", "photos"):
        assert (results / f"figures/blind_sr/{name}.png").is_file()
    rendered = (results / "notebooks/53_blind_sr_evaluate.ipynb").read_text()
    assert (
        "pseudo-SR" in rendered and "ranks" in rendered
    )  # the conclusion, from this run's numbers


def test_blind_table_refuses_a_scale_the_models_were_not_trained_at(project):
    nb.run_stage("data_prepare", profile="smoke")
    nb.run_stage(
        "pseudo_sr_train", profile="smoke", overrides={"finetune_iters": 0, "variants": ["pseudo"]}
    )
    with pytest.raises(nb.NotebookFailed, match="pseudo_sr_train ran with 4"):
        nb.run_stage("blind_sr_evaluate", profile="smoke", overrides={"scale": 2, "bench_crop": 64})
