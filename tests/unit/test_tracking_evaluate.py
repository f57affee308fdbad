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


def _reference(rows):
    return pd.DataFrame(
        [
            {
                "dataset": d,
                "method": m,
                "metric": "psnr_y",
                "value": v,
                "table": "Table 2",
                "page": 8,
            }
            for d, m, v in rows
        ]
    )


def _ours(name, proxy, weights):
    diff = {"mean_diff": 1.5, "ci_low": 1.0, "ci_high": 2.0}
    return {
        "metrics": {
            "models": {
                "bicubic": {"psnr_y": 28.5, "n": 5},
                "srresnet": {"psnr_y": 30.0, "n": 5},
                "srgan": {"psnr_y": 28.0, "n": 5},
            },
            "paired": {"srresnet_vs_bicubic_psnr_y": diff},
        },
        "data": {"name": name, "proxy": proxy},
        "weights": weights,
    }


def test_paper_table_is_one_row_per_method_with_deltas_only_on_the_papers_data():
    ref = _reference(
        [
            ("Set5", "bicubic", 28.43),
            ("Set5", "srresnet", 32.05),
            ("Set5", "srgan", 29.40),
            ("Set14", "srresnet", 28.49),
        ]
    )
    ours = _ours("set5", False, {"vgg19": {"comparable": False}})
    t = evaluation.paper_table(ref, ours, weights_by_method={"srgan": ["vgg19"]})
    assert t.method.tolist() == ["bicubic", "srresnet", "srgan"]
    assert t.paper_Set5_psnr_y.tolist() == [28.43, 32.05, 29.40]
    assert t.paper_Set14_psnr_y.isna().tolist() == [True, False, True]
    # ours once, its paired CI against bicubic where stored (none for bicubic itself, none stored for srgan)
    assert t.ours_psnr_y.tolist() == [28.5, 30.0, 28.0] and t.ours_n.tolist() == [5, 5, 5]
    assert t.ours_psnr_y_vs_bicubic.isna().tolist() == [True, False, True]
    assert t.ours_psnr_y_vs_bicubic_ci_low[1] == 1.0 and t.ours_psnr_y_vs_bicubic_ci_high[1] == 2.0
    # our benchmark is Set5, not a proxy: a delta against Set5 only, on the comparable rows
    assert [c for c in t.columns if c.startswith("delta_")] == ["delta_Set5_psnr_y"]
    assert t.delta_Set5_psnr_y[:2].tolist() == pytest.approx([0.07, -2.05]) and pd.isna(
        t.delta_Set5_psnr_y[2]
    )
    assert t.comparable.tolist() == [True, True, False]
    assert t.weights.tolist() == ["none needed", "none needed", "RANDOM vgg19"]
    assert t.not_comparable_because.tolist() == ["", "", "RANDOM vgg19"]
    view = evaluation.paper_table_view(t, ref, names={"srresnet": "SRResNet"})
    assert view.method.tolist() == ["bicubic", "SRResNet", "srgan"]
    ours_col = "ours, set5, n = 5: PSNR-Y [dB] (− bicubic [95 % CI])"
    assert view[ours_col].tolist() == ["28.50", "30.00 (+1.50 [+1.00, +2.00])", "28.00"]
    assert view["paper: Set14 PSNR-Y [dB]"].tolist() == ["", "28.49", ""]
    assert view["Δ ours − Set5 PSNR-Y [dB]"].tolist() == ["+0.07", "-2.05", ""]
    assert view["comparable with the paper"].tolist() == ["yes", "yes", "no: RANDOM vgg19"]
    md = evaluation.markdown_table(view)
    assert md.count("\n") == 5 and "| SRResNet | 32.05 |" in md


def test_paper_table_on_proxy_data_has_no_delta_and_says_why():
    ref = _reference(
        [("Set5", "bicubic", 28.43), ("Set5", "srresnet", 32.05), ("Set5", "srgan", 29.4)]
    )
    ours = _ours(
        "Set5", True, {"vgg19": {"comparable": True}}
    )  # a proxy named like the paper's set
    t = evaluation.paper_table(
        ref,
        ours,
        weights_by_method={"srgan": ["vgg19"]},
        not_comparable={"srgan": "a substitute loss"},
    )
    assert not [c for c in t.columns if c.startswith("delta_")] and not t.comparable.any()
    assert t.ours_dataset.unique().tolist() == ["Set5 (PROXY)"]
    assert t.not_comparable_because.tolist() == [
        "PROXY data (Set5)",
        "PROXY data (Set5)",
        "PROXY data (Set5); a substitute loss",
    ]
    other = evaluation.paper_table(ref, _ours("mine", False, {}), weights_by_method={})
    assert other.not_comparable_because.unique().tolist() == [
        "mine is none of the paper's datasets"
    ]
    with pytest.raises(ValueError, match="page"):
        evaluation.paper_table(ref.drop(columns="page"), ours)


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
        ("psnr_y", "srgan", "bicubic"),
        ("ssim_y", "srresnet", "bicubic"),
        ("ssim_y", "srgan", "srresnet"),
        ("ssim_y", "srgan", "bicubic"),
    ]
    assert len(paired) == 6 and paired.n.eq(3).all()
    (zoom,) = evaluate.zoom_figures(cfg, ups, pairs, per_image, manifest=manifest, files=saved)
    assert zoom.name == "zoom_picks.png" and zoom.is_file()
    assert evaluate.psnr_figure(cfg, per_image, manifest, files=saved).is_file()
    summary = evaluate.write_metrics(cfg, per_image, paired, manifest=manifest, files=saved)
    written = tracking.read_metrics(paths.metrics_file("t", "srgan_evaluate"))
    assert written["metrics"]["models"] == summary  # JSON keeps floats exactly
    assert written["metrics"]["crop_border"] == 2 and written["metrics"]["scale"] == 2
    assert set(written["metrics"]["paired"]) == {
        f"{a}_vs_{b}_{m}"
        for a, b in (("srresnet", "bicubic"), ("srgan", "srresnet"), ("srgan", "bicubic"))
        for m in ("psnr_y", "ssim_y")
    }
    gain = written["metrics"]["paired"]["srresnet_vs_bicubic_psnr_y"]
    row = paired[(paired.metric == "psnr_y") & (paired.a == "srresnet")].iloc[0]
    assert gain == {
        "mean_diff": row.mean_diff,
        "ci_low": row.ci_low,
        "ci_high": row.ci_high,
        "p_wilcoxon": row.p_wilcoxon,
        "n": 3,
        "verdict": row.verdict,
    }
    # no srgan_train.json here: the training record holds the content loss's network only
    assert written["metrics"]["training"] == {"percep_net": "vgg19"}
    assert written["metrics"]["zoom_images"] == evaluate.zoom_picks(per_image)
    assert written["data"] == {"name": "tiny", "proxy": True, "source": "test", "images": 3}
    assert written["labels"][0] == evaluate.BICUBIC_SKIP_LABEL
    assert written["weights"]["vgg19"]["source"] == "random-init"
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / reference.name).write_bytes(reference.read_bytes())
    lines = evaluate.conclusions(cfg)
    assert lines[0].startswith("Run: t profile; 3 images of tiny (PROXY DATA), x2")
    assert sum(line.startswith("Claim ") for line in lines) == 4

    table, ours = evaluate.paper_table(TablesConfig(profile="t"))
    assert table.index.tolist() == ["bicubic", "SRResNet", "SRGAN"]
    on_disk = pd.read_csv(paths.table_file("t", "srgan_ledig2017.csv"))
    assert (
        on_disk.method.tolist() == ["bicubic", "srresnet", "srgan"] and not on_disk.comparable.any()
    )
    assert on_disk.paper_Set5_psnr_y.tolist() == [28.43, 32.05, 29.40]
    assert on_disk.ours_psnr_y.tolist() == pytest.approx(
        [summary[m]["psnr_y"] for m in evaluate.NAMES]
    )
    assert on_disk.ours_psnr_y_vs_bicubic_ci_low[1] == pytest.approx(gain["ci_low"])
    assert not [c for c in on_disk.columns if c.startswith("delta")]  # proxy data: no delta
    md = paths.table_file("t", "srgan_ledig2017.md").read_text()
    assert md.startswith(
        "# Ledig et al. 2017, Table 2: bicubic / SRResNet / SRGAN at x2, the paper's and ours (t"
    )
    assert "Table 2, p. 8" in md and "No Δ column" in md and "(PROXY)" in md
    assert all(f"- {label}" in md for label in ours["labels"])
    assert md.count("\n| ") == 5  # one table: the header row, the separator and the three methods
    assert evaluate.tables_conclusions(TablesConfig(profile="t"), ours)[1:] == lines
