"""Papermill smoke run of the night->day study (notebooks 30-34) in a temporary copy of the project."""

import json

import numpy as np
import pandas as pd
import pytest

from srlib import nb

pytestmark = pytest.mark.notebooks

TWO_STAGE = dict(
    sr_num_feat=4,
    sr_num_block=1,
    sr_num_grow_ch=4,
    sr_d_num_feat=4,
    sr_epochs=1,
    sr_batch_size=4,
    sr_gt_size=32,
    cut_num_feat=4,
    cut_num_block=1,
    cut_d_num_feat=4,
    cut_netf_nc=8,
    cut_num_patches=16,
    cut_epochs=1,
    cut_load_size=40,
    cut_crop_size=32,
    max_train_pairs=8,
    log_interval=1,
    preview_pairs=2,
)
TINY = {
    "night2day_data": dict(pairs_per_image=1, test_pairs_per_image=2, figure_pairs=2),
    "night2day_m1": TWO_STAGE,
    "night2day_m2": TWO_STAGE,
    "night2day_m3": dict(
        num_feat=4,
        num_block=1,
        num_grow_ch=4,
        paired_d_num_feat=4,
        paired_epochs=1,
        paired_batch_size=4,
        paired_gt_size=32,
        unpaired_d_num_feat=4,
        unpaired_epochs=1,
        unpaired_batch_size=4,
        unpaired_init_epochs=1,
        netf_nc=8,
        num_patches=16,
        max_train_pairs=8,
        log_interval=1,
        preview_pairs=2,
    ),
    "night2day_evaluate": dict(fid_dims=64, grid_images=2),
}


def test_night2day_notebooks_run(project):
    for stage in ("data_prepare", *TINY):
        nb.run_stage(stage, profile="smoke", overrides=TINY.get(stage))
    res = project / "results/smoke"
    data = json.loads((res / "metrics/night2day_data.details.json").read_text())
    assert data["data"]["proxy"] is True and data["comparable_with_paper"] is False
    assert data["metrics"]["pairs"]["test"] == 8  # 4 embedded benchmark photos x 2
    for stage, files in (
        ("night2day_m1", ("sr_night.pth", "cut_hr.pth")),
        ("night2day_m2", ("cut_lq.pth", "sr_day.pth")),
        ("night2day_m3", ("m3_paired.pth", "m3_unpaired.pth")),
    ):
        assert all((project / "models/smoke" / stage / f).is_file() for f in files)
        m = json.loads((res / f"metrics/{stage}.details.json").read_text())
        assert m["weights"]["realesrgan_x4plus"]["source"] == "random-init" and any(
            "PROXY" in x for x in m["labels"]
        )
    ev = json.loads((res / "metrics/night2day_evaluate.details.json").read_text())
    assert set(ev["metrics"]["phases"]) == {
        "M1/Pre",
        "M1/Intermediate",
        "M1/Post",
        "M2/Pre",
        "M2/Intermediate",
        "M2/Post",
        "M3-paired/Pre",
        "M3-paired/Post",
        "M3-unpaired/Pre",
        "M3-unpaired/Post",
    }
    assert set(ev["metrics"]["post_better_than_pre"]) == {"M1", "M2", "M3-paired", "M3-unpaired"}
    assert {"M1_vs_M2_rmse", "M3-paired_vs_M1_ssim", "M3-unpaired_vs_M2_ncc"} <= set(
        ev["metrics"]["model_comparison"]
    )
    fid_weights = ev["weights"][
        "fid_inception"
    ]  # srlib's conversion (the official file is absent): real features
    assert fid_weights["source"] == "file" and fid_weights["key"] == "fid_inception_fidhelper"
    assert (
        fid_weights["comparable"].startswith("yes, converted") and not ev["comparable_with_paper"]
    )
    assert all(np.isfinite(v["kid"]) for v in ev["metrics"]["phases"].values())
    tables = res / "tables/night2day"
    md = (tables / "paper_tables.md").read_text()
    assert "PROXY DATA" in md and "| Pre | RMSE ↓ | 0.48 | " in md and "M3-unpaired" in md
    assert "M1 vs M2 (Post)" in (tables / "findings.md").read_text()
    per_image = pd.read_csv(tables / "per_image.csv")
    assert len(per_image) == 8 * 10 and per_image[["rmse", "mae", "ssim"]].notna().all().all()
    for fig in (
        "fig3_M1_histograms",
        "fig4_M1_grid",
        "fig5_M2_histograms",
        "fig6_M2_grid",
        "fig7_post_histograms",
    ):
        assert (res / f"figures/night2day_evaluate/{fig}.png").is_file()
