"""Papermill smoke run of the modified-SRGAN notebooks (20, 21) in a temporary copy of the project."""

import json

import pytest

from srlib import nb

pytestmark = pytest.mark.notebooks

TINY = {
    "srgan_modified_train": dict(
        num_feat=4,
        num_block=1,
        num_up_feat=4,
        d_num_feat=4,
        d_fc_dim=8,
        gt_size=32,
        iters=2,
        log_interval=1,
        val_interval=2,
        ckpt_interval=2,
        val_crop=48,
        bn_check_batches=2,
    ),
    "srgan_modified_postprocess": dict(max_images=1, eval_crop=128, tile=16, overlap=4),
}


def test_modified_srgan_notebooks_run(project):
    for stage in ("data_prepare", "srgan_modified_train", "srgan_modified_postprocess"):
        nb.run_stage(stage, profile="smoke", overrides=TINY.get(stage))
    train = json.loads((project / "results/smoke/metrics/srgan_modified_train.json").read_text())
    assert set(train["metrics"]["bn_inference"]) == {
        "moving statistics (seed)",
        "recalibrated over 2 crops",
        "per-image statistics",
    }
    assert (project / "models/smoke/srgan_modified_train/generator_zeros.pth").is_file()
    pp = json.loads((project / "results/smoke/metrics/srgan_modified_postprocess.json").read_text())
    ablation = pp["metrics"]["ablation"]
    assert {
        "bicubic",
        "network",
        "+ all [blend]",
        "seed as coded [faithful]",
        "network, zero padding [faithful]",
    } <= set(ablation)
    assert {"psnr_y", "ssim_y", "lpips", "seam"} <= set(ablation["network [blend]"])
    assert (
        pp["weights"]["lpips_alex"]["source"] == "random-init"
        and pp["comparable_with_paper"] is False
    )
    table = (project / "results/smoke/tables/srgan_modified_ablation.md").read_text()
    assert "## Findings" in table and "LPIPS trunk random-init" in table
    for fig in ("padding_seams", "lowpass", "histogram_matching"):
        assert (project / f"results/smoke/figures/srgan_modified_postprocess/{fig}.png").is_file()
