"""Papermill smoke run of the modified-SRGAN notebooks (20, 21) in a temporary copy of the project."""

import json

import pytest
import torch

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
    train = json.loads(
        (project / "results/smoke/metrics/srgan_modified_train.details.json").read_text()
    )
    m = train["metrics"]
    modes = {"moving statistics (the seed)", "recalibrated over 2 crops", "per-image statistics"}
    assert set(m["bn_check"]) == set(m["bn_check_zero_padding"]) == modes
    assert m["bn_inference"] == "per_image" and m["collapsed"] == (m["val_gain_db"] < -3.0103)
    assert m["val_gain_db"] == m["bn_check"]["per-image statistics"]["val_gain_db"]
    assert m["val_gain_db_moving"] == m["bn_check"]["moving statistics (the seed)"]["val_gain_db"]
    assert any(s.startswith("BN INFERENCE: per-image statistics") for s in train["labels"])
    assert (project / "models/smoke/srgan_modified_train/generator_zeros.pth").is_file()
    g_file = torch.load(
        project / "models/smoke/srgan_modified_train/generator.pth", weights_only=True
    )
    assert g_file["arch_kwargs"]["bn_inference"] == "per_image"
    figs = project / "results/smoke/figures/srgan_modified_train"
    assert {"gain_curve.png", "losses.png", "bn_offsets.png"} <= {f.name for f in figs.iterdir()}
    pp = json.loads(
        (project / "results/smoke/metrics/srgan_modified_postprocess.details.json").read_text()
    )
    ablation = pp["metrics"]["ablation"]
    assert {
        "bicubic",
        "network",
        "network, moving statistics (the seed)",
        "network, zero padding, moving statistics (the seed)",
        "network, moving statistics (the seed) [faithful]",
        "+ all [blend]",
        "seed as coded [faithful]",
        "network, zero padding [faithful]",
    } <= set(ablation)
    assert pp["metrics"]["bn_inference"] == "per_image"
    assert set(pp["metrics"]["seam_by_bn_inference"]) == {"per_image", "moving"}
    assert {"psnr_y", "ssim_y", "lpips", "seam"} <= set(ablation["network [blend]"])
    assert (
        pp["weights"]["lpips_alex"]["source"] == "random-init"
        and pp["comparable_with_paper"] is False
    )
    table = (project / "results/smoke/tables/srgan_modified_ablation.md").read_text()
    assert "## Findings" in table and "LPIPS trunk random-init" in table
    assert "— SMOKE" in table.splitlines()[0]  # the smoke profile says so in the title
    assert ("COLLAPSED" in table.splitlines()[0]) == pp["metrics"]["collapsed"]
    for fig in ("padding_seams", "lowpass", "histogram_matching"):
        assert (project / f"results/smoke/figures/srgan_modified_postprocess/{fig}.png").is_file()
    # no echoed return values (paths, dicts, lists, strings) in the rendered notebooks
    for name in ("20_srgan_modified_train", "21_srgan_modified_postprocess"):
        rendered = json.loads((project / f"results/smoke/notebooks/{name}.ipynb").read_text())
        echoed = [
            "".join(o["data"]["text/plain"])[:60]
            for c in rendered["cells"]
            if c["cell_type"] == "code"
            for o in c["outputs"]
            if o.get("output_type") == "execute_result"
            and "".join(o["data"].get("text/plain", "")).startswith(("PosixPath", "{", "[", "'"))
        ]
        assert not echoed, (name, echoed)
