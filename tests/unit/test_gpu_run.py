"""The one prepared GPU run: its dry run (every step at toy size on the CPU) writes the real run's outputs, small;
the iteration guard; the generator files that travel."""

import json
import tarfile

import pytest
import torch

from srlib import gpu_report, gpu_run, models
from srlib.models import SRResNet


@pytest.mark.slow
@pytest.mark.notebooks
def test_dry_run_writes_every_output_small(tmp_path, torch_home, capsys):
    out = tmp_path / "out"
    assert gpu_run.main([str(out), "--dry-run", "--work", str(tmp_path / "work")]) == 0
    files = {p.name: p.stat().st_size for p in out.iterdir()}
    assert set(files) == {
        "summary.json",
        "summary.md",
        "results.tar.gz",
        "srresnet.pth",
        "srgan.pth",
        "gpu-run.log",
    }
    assert len(files) <= 8 and sum(files.values()) < 10 * 2**20
    assert files["srresnet.pth"] <= gpu_report.CHECKPOINT_LIMIT
    s = json.loads((out / "summary.json").read_text())
    run = s["run"]
    assert (
        run["device"] == "cpu"
        and run["date"]
        and run["git_commit"]
        and run["outputs_within_limits"]
    )
    assert {k: v["status"] for k, v in s["steps"].items()} == dict.fromkeys(gpu_run.STEPS, "ok")
    b = s["benchmarks"]
    assert b["rrdbnet"]["flops_per_image"] > 0 and b["rrdbnet"]["bf16"]["per_s"] > 0
    assert b["compile"]["status"] == "ok" and b["compile"]["bf16"]["compile_s"] > 0
    assert b["pixel_metrics"]["ssim"]["max_abs_diff"] < 1e-6
    assert b["pixel_metrics"]["psnr"]["max_abs_diff"] < 1e-6
    assert b["fid_features"]["dims"] == 2048 and b["fid_features"]["img_per_s"] > 0
    assert {"fp32", "bf16", "bf16_channels_last", "fp16"} <= set(b["train_steps"])
    t = s["training"]
    assert set(t["stage_seconds"]) == set(gpu_run.STAGES)
    assert t["iters"]["run"] == {"pretrain_iters": 8, "gan_iters": 2}
    assert {"srresnet_gain_over_bicubic_db", "ci95_db", "benchmark"} <= set(t["headline"])
    assert any(
        "bf16 autocast" in label for label in t["labels"]
    )  # the profile's precision is labelled
    assert "SRResNet gain over bicubic" in (out / "summary.md").read_text()
    with tarfile.open(out / "results.tar.gz") as tar:
        names = set(tar.getnames())
    for nb in ("00_data_prepare", "10_srgan_train", "11_srgan_evaluate"):
        assert f"results/gpu/notebooks/{nb}.ipynb" in names
    assert {"results/gpu/metrics/srgan_evaluate.json", "data/gpu/manifest.json"} <= names
    g, _ = models.load_generator(out / "srresnet.pth")
    assert g.arch_kwargs["num_feat"] == 8
    assert "failed: none" in capsys.readouterr().out


def test_iterations_are_scaled_down_only_past_the_budget():
    cfg = gpu_run.train_config({})
    fits = gpu_run.plan_iters(cfg, 0.001, 0.002, budget_s=180)
    assert fits["overrides"] == {} and fits["planned"]["pretrain_iters"] == cfg.pretrain_iters
    slow = gpu_run.plan_iters(cfg, 0.02, 0.04, budget_s=180)
    o = slow["overrides"]
    predicted = o["pretrain_iters"] * 0.02 + o["gan_iters"] * 0.04
    assert predicted <= 180 and o["pretrain_iters"] % cfg.log_interval == 0
    assert 0 < o["lr_decay_at"] < o["gan_iters"]


def test_big_generators_travel_in_fp16(tmp_path, monkeypatch):
    g = SRResNet(num_feat=8, num_block=1, scale=2)
    models.save_generator(tmp_path / "g.pth", g)
    assert (
        gpu_report.small_generator(tmp_path / "g.pth", tmp_path / "a.pth")["stored_dtype"]
        == "float32"
    )
    monkeypatch.setattr(gpu_report, "CHECKPOINT_LIMIT", 1000)
    assert (
        gpu_report.small_generator(tmp_path / "g.pth", tmp_path / "b.pth")["stored_dtype"]
        == "float16"
    )
    h, state = models.load_generator(tmp_path / "b.pth")
    assert state["meta"]["stored_dtype"].startswith("float16")
    for a, b in zip(g.state_dict().values(), h.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
