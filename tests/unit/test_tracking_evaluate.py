"""Metrics files carry provenance; history CSVs; evaluation and the paper table."""

import json

import pandas as pd
import pytest
import torch

from srlib import evaluation, models, tracking, training
from srlib.models import SRResNet
from srlib.weights import WeightStatus


def test_metrics_file_labels_proxy_and_random_weights(tmp_path):
    status = WeightStatus("vgg19", "auto", "random-init", None, "random")
    out = tracking.write_metrics(
        tmp_path / "m.json",
        {"psnr_y": 30.0},
        stage="s",
        profile="smoke",
        data={"name": "embedded-bench", "proxy": True},
        weights={"vgg19": status},
    )
    on_disk = json.loads((tmp_path / "m.details.json").read_text())
    assert on_disk == json.loads(json.dumps(out))
    assert on_disk["comparable_with_paper"] is False
    assert on_disk["weights"]["vgg19"]["source"] == "random-init"
    assert any("PROXY" in s for s in on_disk["labels"]) and any(
        "RANDOM" in s for s in on_disk["labels"]
    )


def test_metrics_file_requires_data_provenance(tmp_path):
    with pytest.raises(ValueError, match="proxy"):
        tracking.write_metrics(tmp_path / "m.json", {}, stage="s", profile="p", data={"name": "x"})
    assert not (tmp_path / "m.json").exists()


def test_history_roundtrip_and_truncate(tmp_path):
    h = tracking.History()
    h.log(1, l_g_pix=0.5)
    h.log(2, l_g_pix=0.25, val_psnr_y=30.0)
    h.to_csv(tmp_path / "h.csv")
    back = tracking.History.from_csv(tmp_path / "h.csv")
    assert back.rows == h.rows
    back.truncate(1)
    assert back.rows == [{"step": 1, "l_g_pix": 0.5}]


def test_generator_file_roundtrip(tmp_path):
    g = SRResNet(num_feat=8, num_block=1, scale=2)
    models.save_generator(
        tmp_path / "g.pth",
        g,
    )
    g2, meta = models.load_generator(tmp_path / "g.pth")
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(g.eval()(x), g2(x))
    torch.save({"foo": 1}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="bad.pth"):
        models.load_generator(tmp_path / "bad.pth")


def test_evaluate_and_summarize_gain_over_bicubic():
    gen = torch.Generator().manual_seed(0)
    gt = (
        torch.rand(3, 32, 32, generator=gen) * 255
    ).round() / 255  # 8-bit ground truth, as loaded from files
    lq = torch.rand(3, 8, 8, generator=gen)
    ups = {"bicubic": evaluation.bicubic_upscaler(4), "oracle": lambda x: gt[None]}
    df = evaluation.evaluate(ups, [("img", lq, gt)], crop_border=4)
    assert set(df.model) == {"bicubic", "oracle"}
    assert df[df.model == "oracle"].psnr_y.item() == float("inf")
    s = evaluation.summarize(df[df.model == "bicubic"])
    assert s["bicubic"]["gain_db"] == 0.0 and s["bicubic"]["n"] == 1


def test_paper_table_marks_rows_not_comparable_on_proxy():
    ref = pd.DataFrame(
        [
            {
                "dataset": "Set5",
                "method": "srresnet",
                "metric": "psnr_y",
                "value": 32.05,
                "table": "Table 2",
                "page": 8,
            },
            {
                "dataset": "Set5",
                "method": "srgan",
                "metric": "psnr_y",
                "value": 29.40,
                "table": "Table 2",
                "page": 8,
            },
        ]
    )
    ours = {
        "metrics": {"models": {"srresnet": {"psnr_y": 30.0}, "srgan": {"psnr_y": 28.0}}},
        "data": {"name": "bench", "proxy": False},
        "comparable_with_paper": False,
        "weights": {"vgg19": {"comparable": False}},
    }
    t = evaluation.paper_table(ref, ours, weights_by_method={"srgan": ["vgg19"]})
    assert t.delta.tolist() == pytest.approx([-2.05, -1.40])
    assert t.comparable.tolist() == [True, False]
    assert t.weights.tolist() == ["none needed", "RANDOM vgg19"]
    md = evaluation.markdown_table(t)
    assert md.count("\n") == 4 and "| srgan | psnr_y |" in md


def test_interval_log_averages_and_emits_at_interval_and_end():
    import logging

    ilog = training.IntervalLog(name="t", iters=5, interval=2, logger=logging.getLogger("test"))
    assert ilog.add(1, {"l": 1.0}) == {}
    row = ilog.add(2, {"l": 3.0}, lr_g=0.1)
    assert row["l"] == 2.0 and row["lr_g"] == 0.1 and row["sec_per_iter"] >= 0
    assert ilog.add(3, {"l": 5.0}) == {}
    assert ilog.add(4, {"l": 7.0})["l"] == 6.0
    assert ilog.add(5, {"l": 9.0})["l"] == 9.0  # the last step always emits


def test_srgan_evaluate_and_tables_stages_write_their_files(tmp_path, monkeypatch):
    """The stage functions of notebooks 11 and 90 on two tiny saved generators and three tiny photos."""
    from srlib import paths
    from srlib.data.images import save_image
    from srlib.srgan import evaluate
    from srlib.srgan.config import SRGANEvaluateConfig, TablesConfig

    reference = paths.root() / "references" / "srgan_ledig2017.csv"
    monkeypatch.setenv("SRLIB_ROOT", str(tmp_path))
    cfg = SRGANEvaluateConfig(profile="t", scale=2, crop_border=2, zoom_size=8)
    run = paths.run_dir("t", "srgan_train")
    vgg19 = WeightStatus("vgg19", "auto", "random-init", None, "random").as_dict()
    torch.manual_seed(0)
    for stage in ("srresnet", "srgan"):
        g = SRResNet(num_feat=8, num_block=1, scale=2, bicubic_skip=True)
        meta = {"stage": stage} | ({"vgg19": vgg19} if stage == "srgan" else {})
        models.save_generator(run / f"{stage}.pth", g, meta=meta)
    gen = torch.Generator().manual_seed(0)
    files = []
    for i in range(3):
        files.append(
            {"file": str(save_image(torch.rand(3, 20, 22, generator=gen), tmp_path / f"im{i}.png"))}
        )
    manifest = {
        "proxy": True,
        "splits": {"bench": {"name": "tiny", "source": "test", "files": files}},
    }

    pairs = evaluate.benchmark_pairs(cfg, manifest)
    assert [p[2].shape for p in pairs] == [(3, 20, 22)] * 3 and pairs[0][1].shape == (3, 10, 11)
    ups, saved = evaluate.upscalers(cfg, "cpu")
    assert list(ups) == ["bicubic", "srresnet", "srgan"]
    assert evaluate.labels(saved) == [evaluate.BICUBIC_SKIP_LABEL]
    per_image = evaluate.per_image_metrics(cfg, ups, pairs)
    on_disk = pd.read_csv(paths.table_file("t", "srgan_per_image.csv"))
    assert len(on_disk) == 9 and on_disk.psnr_y.tolist() == pytest.approx(per_image.psnr_y.tolist())
    paired = evaluate.paired_comparisons(cfg, per_image)
    assert list(zip(paired.metric, paired.a, paired.b)) == [
        ("psnr_y", "srresnet", "bicubic"),
        ("psnr_y", "srgan", "srresnet"),
        ("ssim_y", "srresnet", "bicubic"),
        ("ssim_y", "srgan", "srresnet"),
    ]
    assert len(evaluate.zoom_figures(cfg, ups, pairs, per_image)) == 3
    summary = evaluate.write_metrics(cfg, per_image, paired, manifest=manifest, files=saved)
    written = tracking.read_metrics(paths.metrics_file("t", "srgan_evaluate"))
    assert written["metrics"]["models"] == summary  # JSON keeps floats exactly
    assert written["metrics"]["crop_border"] == 2 and written["metrics"]["scale"] == 2
    assert set(written["metrics"]["paired"]) == {
        "srresnet_vs_bicubic_psnr_y",
        "srgan_vs_srresnet_psnr_y",
        "srresnet_vs_bicubic_ssim_y",
        "srgan_vs_srresnet_ssim_y",
    }
    assert written["data"] == {"name": "tiny", "proxy": True, "source": "test", "images": 3}
    assert written["labels"][0] == evaluate.BICUBIC_SKIP_LABEL
    assert written["weights"]["vgg19"]["source"] == "random-init"

    (tmp_path / "references").mkdir()
    (tmp_path / "references" / reference.name).write_bytes(reference.read_bytes())
    table, ours = evaluate.paper_table(TablesConfig(profile="t"))
    assert len(table) == len(pd.read_csv(reference)) and not table.comparable.any()
    md = paths.table_file("t", "srgan_ledig2017.md").read_text()
    assert md.startswith("# Ledig et al. 2017, Table 2: paper / ours / delta (t profile)")
    assert all(f"- {label}" in md for label in ours["labels"]) and "(PROXY)" in md
