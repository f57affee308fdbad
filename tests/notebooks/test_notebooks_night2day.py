"""Papermill smoke run of the night->day study (notebooks 30-34) in a temporary copy of the project."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from srlib import nb, tracking

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


def _tensors(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{prefix}/{k}")


def test_m3_stage_under_torchrun_trains_what_one_process_trains(project, tmp_path):
    """``torchrun --nproc_per_node 2 -m srlib nb night2day_m3``: two gloo ranks each render the notebook; rank 0's
    rendering, metrics and generators are the run's and match one process's (the tolerance of
    tests/unit/test_distributed.py); rank 1 leaves nothing behind."""
    for stage in ("data_prepare", "night2day_data", "night2day_m3"):
        if not (project / f"results/smoke/metrics/{stage}.json").is_file():
            nb.run_stage(stage, profile="smoke", overrides=TINY.get(stage))
    models = project / "models/smoke/night2day_m3"
    one = models.rename(tmp_path / "one_process")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env |= {"OMP_NUM_THREADS": "1", "TMPDIR": str(scratch)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "srlib",
           "nb", "night2day_m3", "--profile", "smoke"]  # fmt: skip
    cmd += [f"-p{k}={v}" for k, v in TINY["night2day_m3"].items()]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    record = json.loads((project / "results/smoke/metrics/night2day_m3.details.json").read_text())
    assert record["world_size"] == 2
    assert res.stdout.strip().splitlines()[-1] == "results/smoke/notebooks/33_night2day_m3.ipynb"
    assert not [
        p for p in scratch.iterdir() if p.name.startswith("srlib-rank")
    ]  # rank 1's scratch, removed
    for name in ("m3_paired.pth", "m3_unpaired.pth"):
        a = dict(_tensors(tracking.load_checkpoint(one / name)))
        b = dict(_tensors(tracking.load_checkpoint(models / name)))
        assert a.keys() == b.keys() and a
        for key, t in a.items():
            if t.is_floating_point():
                torch.testing.assert_close(b[key], t, rtol=0, atol=5e-5, msg=f"{name}{key}")
        assert not all(torch.equal(a[k], b[k]) for k in a)  # two runs, not one file
