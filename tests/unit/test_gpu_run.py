"""The one prepared GPU run: its dry run (every step at toy size on the CPU) writes the real run's outputs, small;
the iteration guard; the generator files that travel."""

import json
import tarfile

import pytest
import torch

from srlib import gpu_bench, gpu_report, gpu_run, models
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
    fs = b["family_steps"]
    assert set(fs) == {"srgan_modified", "realesrgan", "cut_m1", "cut_m2", "m3_unpaired"}
    for v in fs.values():
        assert v["flops_per_step"] > 0 and all(v[p]["per_s"] > 0 for p in gpu_bench.FAMILY_VARIANTS)
        assert v["profile_precision"] == "bf16" and v["predicted_s"] > 0
    t = s["training"]
    assert set(t["stage_seconds"]) == set(gpu_run.STAGES)
    assert t["iters"]["run"] == {"pretrain_iters": 8, "gan_iters": 2}
    assert {"srresnet_gain_over_bicubic_db", "ci95_db", "benchmark"} <= set(t["headline"])
    assert any(
        "bf16 autocast" in label for label in t["labels"]
    )  # the profile's precision is labelled
    assert "SRResNet gain over bicubic" in (out / "summary.md").read_text()
    assert "| m3_unpaired |" in (out / "summary.md").read_text()
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


def test_gpu_profile_sizes_the_other_families_at_paper_size_in_bf16():
    cfgs = gpu_run.family_configs(dry_run=False)
    assert {c.precision for c in cfgs.values()} == {"bf16"}
    m1, m3 = cfgs["night2day_m1"], cfgs["night2day_m3"]
    assert (m1.sr_num_feat, m1.sr_num_block, m1.sr_batch_size, m1.sr_gt_size) == (64, 23, 12, 256)
    assert (m1.cut_num_feat, m1.cut_num_block, m1.cut_crop_size) == (64, 9, 256)
    assert cfgs["night2day_m2"].cut_crop_size == 64 and (m3.num_feat, m3.num_block) == (64, 23)
    modified = cfgs["srgan_modified_train"]
    assert (modified.num_feat, modified.num_block, modified.gt_size) == (64, 20, 256)


class TinyFeatures(torch.nn.Module):
    """Stands in for VGG19 (``n`` maps, a list as ``VGGFeatures(layers=...)`` gives): no 20 M-parameter build."""

    def __init__(self, n: int):
        super().__init__()
        self.convs = torch.nn.ModuleList(
            torch.nn.Conv2d(3 if i == 0 else 4, 4, 3, padding=1) for i in range(n)
        )

    def forward(self, x):
        maps = []
        for conv in self.convs:
            x = torch.relu(conv(x))
            maps.append(x)
        return maps


def test_family_step_benchmark_runs_every_family_through_its_fit_loop(one_thread, monkeypatch):
    from srlib import losses
    from srlib.realesrgan import train as train_realesrgan

    monkeypatch.setattr(losses, "VGGFeatures", lambda **kw: TinyFeatures(len(kw["layers"])))
    monkeypatch.setattr(train_realesrgan, "make_vgg", lambda mode: TinyFeatures(5))
    # the step is run, its FLOPs not counted (the flop counter's first use costs seconds; the dry run counts them)
    monkeypatch.setattr(gpu_bench, "counted_flops", lambda fn: (fn(), 1e9)[1])
    cfgs = gpu_run.family_configs(dry_run=True)
    photos = [torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))]
    fits = gpu_bench.family_fits(cfgs, photos, device=torch.device("cpu"), n_images=2, hr_side=32)
    res = gpu_bench.bench_family_steps(torch.device("cpu"), fits=fits, steps=1, variants=("bf16",))
    assert set(res) == {"srgan_modified", "realesrgan", "cut_m1", "cut_m2", "m3_unpaired"}
    for name, v in res.items():
        assert v["flops_per_step"] > 0 and v["bf16"]["per_s"] > 0, name
        assert v["predicted_s"] == pytest.approx(v["bf16"]["ms"] / 1e3 * v["profile_iters"])
    assert res["cut_m1"]["profile_iters"] == 30 * gpu_bench.PROXY_TRAIN_PAIRS  # 30 epochs, batch 1
    assert res["srgan_modified"]["profile_iters"] == 2 * 4000  # and its zero-padded twin


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
