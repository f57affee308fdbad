"""Night→day study: data preparation, the M1/M2/M3 training adapters and trainers, cross-scale PatchNCE, phases,
verdicts, the metrics payload and the findings."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from srlib import config, tracking
from srlib.models.cut import PatchSampleF, ResnetGenerator
from srlib.models.esrgan import RRDBNet
from srlib.night2day import data as night2day_data
from srlib.night2day import evaluate as ev
from srlib.night2day import m3, stages
from srlib.night2day import pairs as pr
from srlib.night2day import prepare as night2day_prepare
from srlib.night2day import report as rp
from srlib.night2day import train as tn
from srlib.night2day.config import (
    Night2DayDataConfig,
    Night2DayM1Config,
    Night2DayM2Config,
    Night2DayM3Config,
)


def write_photo(path, seed, size=(300, 220)):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size[1] // 10, size[0] // 10, 3), dtype=np.uint8)
    Image.fromarray(base).resize(size, Image.BILINEAR).save(path)
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    train = [write_photo(root / f"train{i}.png", i) for i in range(5)]
    test = [write_photo(root / f"test{i}.png", 100 + i) for i in range(2)] + [
        write_photo(root / "night_scene.png", 7)
    ]
    return train, test


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, photos):
    out = tmp_path_factory.mktemp("proxy")
    train, test = photos
    night2day_prepare.prepare_proxy(
        out,
        train_photos=train,
        test_photos=test,
        source="test photos",
        seed=3,
        pairs_per_image=2,
        test_pairs_per_image=2,
        max_side=0,
        exclude=["night_scene"],
    )
    return night2day_prepare.read_manifest(out)


# ------------------------------------------------------------------------------------------------ preparation


def test_proxy_is_split_by_photo_written_as_ab_files_and_labelled(proxy, photos):
    assert proxy["proxy"] is True and "PROXY" in proxy["note"]
    assert {k: len(v) for k, v in proxy["splits"].items()} == {"train": 8, "val": 2, "test": 4}
    stems = {s: {f.split("/")[1].rsplit("_", 1)[0] for f in v} for s, v in proxy["splits"].items()}
    assert not stems["train"] & stems["val"] and stems["test"] == {
        "test0",
        "test1",
    }  # night_scene excluded
    assert proxy["excluded"] == ["night_scene"]
    for f in night2day_prepare.split_files(proxy, "test"):
        assert Image.open(f).size == (512, 256)
    sample = night2day_prepare.split_pairs(proxy, "train")[0]
    assert sample.night_lq.shape == (3, 64, 64) and sample.day_hr.shape == (3, 256, 256)
    assert (
        night2day_data.luminance(sample.night_hr).mean()
        < 0.6 * night2day_data.luminance(sample.day_hr).mean()
    )


def test_proxy_is_reproducible_and_rewrites_only_its_own_files(tmp_path, photos, proxy):
    train, test = photos
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    night2day_prepare.prepare_proxy(
        tmp_path,
        train_photos=train,
        test_photos=test,
        source="x",
        seed=3,
        pairs_per_image=2,
        test_pairs_per_image=2,
        max_side=0,
        exclude=["night_scene"],
    )
    a = night2day_prepare.split_files(proxy, "test")[0].read_bytes()
    b = night2day_prepare.split_files(night2day_prepare.read_manifest(tmp_path), "test")[
        0
    ].read_bytes()
    assert a == b and keep.read_text() == "mine"


def test_prepare_real_uses_the_paper_split_and_names_a_bad_file(tmp_path):
    root = tmp_path / "night2day"
    for i in range(20):
        split = ("train", "val", "test")[i % 3]
        (root / split).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((32, 64, 3), i, np.uint8)).save(root / split / f"{i}.jpg")
    manifest = night2day_prepare.prepare_real(tmp_path / "out", root, seed=0)
    assert manifest["proxy"] is False
    assert {k: len(v) for k, v in manifest["splits"].items()} == {"train": 16, "val": 2, "test": 2}
    assert json.loads((tmp_path / "out/split.json").read_text())["splits"] == manifest["splits"]
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(root / "train" / "square.jpg")
    with pytest.raises(night2day_data.Night2DayFormatError, match="square.jpg"):
        night2day_prepare.prepare_real(tmp_path / "out", root, seed=0)
    assert (tmp_path / "out/split.json").is_file()  # the earlier manifest survives a refused input


def test_missing_manifest_names_the_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match="night2day_data"):
        night2day_prepare.read_manifest(tmp_path)


# ----------------------------------------------------------------------------------------- training adapters


def _u8(x):
    return (x * 255).round().to(torch.uint8)


def test_paired_crops_are_aligned_augmented_and_seeded():
    gt = torch.rand(6, 3, 32, 32)
    gt = F.interpolate(
        F.avg_pool2d(gt, 4), scale_factor=4, mode="nearest"
    )  # 4x4 blocks: avg_pool commutes
    lq = F.avg_pool2d(gt, 4)
    data = pr.PairedCrops(_u8(lq), _u8(gt), gt_size=16, batch_size=5, seed=1)
    a_lq, a_gt = data.batch(7)
    b_lq, b_gt = data.batch(7)
    assert a_lq.shape == (5, 3, 4, 4) and a_gt.shape == (5, 3, 16, 16)
    assert torch.equal(a_lq, b_lq) and torch.equal(a_gt, b_gt)
    assert torch.allclose(F.avg_pool2d(a_gt, 4), a_lq, atol=1 / 255)
    assert not torch.equal(data.batch(8)[1], a_gt)
    with pytest.raises(ValueError, match="x4"):
        pr.PairedCrops(_u8(lq), _u8(gt[..., :30, :30]), gt_size=16, batch_size=1)


def test_unpaired_cross_scale_keeps_day_lq_with_its_day_hr():
    day_hr = torch.rand(5, 3, 16, 16)
    day_lq = F.avg_pool2d(day_hr, 4)
    night_lq = torch.rand(5, 3, 4, 4)
    data = pr.UnpairedCrossScale(_u8(night_lq), _u8(day_hr), _u8(day_lq), batch_size=8, seed=0)
    x, y, y_lq = data.batch(3)
    assert x.shape == (8, 3, 4, 4) and y.shape == (8, 3, 16, 16)
    assert torch.allclose(F.avg_pool2d(y, 4), y_lq, atol=1.5 / 255)  # flipped together
    assert all(torch.equal(p, q) for p, q in zip(data.batch(3), (x, y, y_lq)))


def test_epochs_to_iters():
    assert pr.epochs_to_iters(300, 16_088, 12) == (300 * 1341, 1341)
    with pytest.raises(ValueError):
        pr.epochs_to_iters(0, 10, 1)


def test_reduced_generator_is_labelled_random():
    g = RRDBNet(num_feat=8, num_block=1, num_grow_ch=8)
    status = tn.init_sr_generator(g, "auto")
    assert isinstance(g, RRDBNet) and status.source == "random-init" and not status.comparable
    assert "reduced" in status.message


def test_released_generator_loads_the_published_file(torch_home):
    published = RRDBNet(num_feat=64, num_block=23, num_grow_ch=32).state_dict()
    torch_home.put("realesrgan_x4plus", state_dict={"params_ema": published})
    g = RRDBNet()
    status = tn.init_sr_generator(g, "pretrained")
    assert status.source == "file" and status.comparable
    assert torch.equal(g.state_dict()["conv_last.weight"], published["conv_last.weight"])


# -------------------------------------------------------------------------------------- M3: cross-scale NCE


def test_rrdbnet_encode_returns_trunk_features():
    g = RRDBNet(num_feat=8, num_block=3, num_grow_ch=4).eval()
    x = torch.rand(1, 3, 12, 12)
    f0, f2 = g.encode(x, [0, 2])
    assert torch.allclose(f0, g.conv_first(x))
    assert torch.allclose(f2, g.body[:2](g.conv_first(x)), atol=1e-6)
    with pytest.raises(ValueError, match="0..3"):
        g.encode(x, [4])
    with pytest.raises(ValueError, match="scale 4"):
        RRDBNet(scale=2, num_feat=8, num_block=1).encode(x, [0])


def test_cross_scale_nce_prefers_outputs_that_keep_the_input_structure():
    torch.manual_seed(0)
    g = RRDBNet(num_feat=16, num_block=2, num_grow_ch=8)
    f = PatchSampleF(in_channels=[16, 16], num_feat=32)
    x = torch.rand(2, 3, 16, 16)
    kept = F.interpolate(x, scale_factor=4, mode="nearest")  # area-downsamples back to x exactly
    shuffled = F.interpolate(
        x[..., torch.randperm(16), :][..., torch.randperm(16)], scale_factor=4, mode="nearest"
    )
    kw = dict(g=g, f=f, src_lq=x, nce_layers=(0, 2), num_patches=64)
    l_kept = m3.cross_scale_nce(out_hr=kept, generator=torch.Generator().manual_seed(0), **kw)
    l_shuffled = m3.cross_scale_nce(
        out_hr=shuffled, generator=torch.Generator().manual_seed(0), **kw
    )
    assert l_kept < l_shuffled - 0.5
    constant = torch.full_like(kept, 0.5)
    l_constant = m3.cross_scale_nce(
        out_hr=constant, generator=torch.Generator().manual_seed(0), **kw
    )
    # a constant image: only the zero-padded border patches differ, so the loss sits near chance, log(64)
    assert l_constant > l_kept + 0.5 and l_constant.item() == pytest.approx(math.log(64), rel=0.03)


def _fit_m3(run_dir, iters, data):
    torch.manual_seed(0)
    from srlib.models.cut import NLayerDiscriminator

    g = RRDBNet(num_feat=4, num_block=1, num_grow_ch=4)
    d = NLayerDiscriminator(num_feat=4)
    f = PatchSampleF(in_channels=[4, 4], num_feat=8)
    hist = m3.fit_m3_unpaired(
        g=g,
        d=d,
        f=f,
        data=data,
        iters=iters,
        run_dir=run_dir,
        steps_per_epoch=2,
        n_epochs=1,
        n_epochs_decay=2,
        nce_layers=(0, 1),
        num_patches=16,
        log_interval=1,
        ckpt_interval=2,
    )
    return g, hist


def test_fit_m3_unpaired_trains_and_resumes_exactly(tmp_path):
    day_hr = torch.rand(4, 3, 32, 32)
    data = pr.UnpairedCrossScale(
        _u8(torch.rand(4, 3, 8, 8)), _u8(day_hr), _u8(F.avg_pool2d(day_hr, 4)), batch_size=2
    )
    g_full, hist = _fit_m3(tmp_path / "full", 4, data)
    assert {"l_nce", "l_nce_y", "l_g_gan", "l_d_real", "l_d_fake", "lr"} <= set(hist.rows[-1])
    assert hist.rows[-1]["lr"] < hist.rows[0]["lr"]  # linear decay after the first epoch
    _fit_m3(tmp_path / "cut", 2, data)
    g_resumed, _ = _fit_m3(tmp_path / "cut", 4, data)
    for (k, a), b in zip(g_full.state_dict().items(), g_resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    assert len(tracking.History.from_csv(tmp_path / "cut/history.csv").rows) == 4


def test_nce_at_chance():
    h = tracking.History()
    h.log(1, l_nce=math.log(256) * 1.001)
    assert m3.nce_at_chance(h, 256)
    h.log(2, l_nce=4.0)
    assert not m3.nce_at_chance(h, 256)


# ----------------------------------------------------------------------------------------- phases, verdicts


class Up4(torch.nn.Module):
    scale = 4

    def forward(self, x):
        return F.interpolate(x, scale_factor=4, mode="nearest") * 1.1


def test_run_phases_builds_every_phase_from_the_right_networks():
    torch.manual_seed(0)
    cut_hr, cut_lq = (
        ResnetGenerator(num_feat=4, num_block=1).eval(),
        ResnetGenerator(num_feat=4, num_block=1).eval(),
    )
    p = ev.Pipelines(
        sr_night=Up4(), cut_hr=cut_hr, cut_lq=cut_lq, sr_day=Up4(), m3={"M3-paired": Up4()}
    )
    lq = (torch.rand(2, 3, 16, 16) * 255).round() / 255  # 8-bit, as the paper's LR
    out = ev.run_phases(p, lq)
    assert list(out) == [
        ("M1", "Pre"),
        ("M1", "Intermediate"),
        ("M1", "Post"),
        ("M2", "Pre"),
        ("M2", "Intermediate"),
        ("M2", "Post"),
        ("M3-paired", "Pre"),
        ("M3-paired", "Post"),
    ]
    assert out["M1", "Pre"] is out["M2", "Pre"] is out["M3-paired", "Pre"]
    assert torch.equal(out["M1", "Pre"], night2day_data.pre_phase(lq))
    sr = ev.apply_chain([Up4()], lq)[0]
    assert torch.equal(out["M1", "Intermediate"], sr) and torch.equal(out["M3-paired", "Post"], sr)
    assert torch.equal(out["M1", "Post"], ev.apply_chain([cut_hr], sr)[0])
    day_lq = ev.apply_chain([cut_lq], lq)[0]
    assert torch.equal(out["M2", "Intermediate"], night2day_data.pre_phase(day_lq))
    assert torch.equal(out["M2", "Post"], ev.apply_chain([Up4()], day_lq)[0])
    assert all(torch.equal(t, (t * 255).round() / 255) for t in out.values())  # 8-bit outputs


def _per_image(n=20, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        base = {"rmse": 0.4 + 0.05 * rng.standard_normal(), "mae": 0.3, "ssim": 0.3, "ncc": 0.8}
        for model, shift in (("M1", 0.10), ("M2", 0.10 + 1e-4 * rng.standard_normal())):
            rows.append(
                {"image": f"i{i}", "model": model, "phase": "Pre", "key": f"{model}/Pre"} | base
            )
            rows.append(
                {"image": f"i{i}", "model": model, "phase": "Post", "key": f"{model}/Post"}
                | {
                    "rmse": base["rmse"] - shift,
                    "mae": 0.3 - shift / 2,
                    "ssim": 0.3 + shift,
                    "ncc": float("nan"),
                }
            )
    return pd.DataFrame(rows)


def test_post_vs_pre_and_model_verdicts():
    df = _per_image()
    pv = rp.phase_verdicts(df).set_index(["model", "metric"])
    assert (
        pv.loc[("M1", "rmse"), "verdict"] == "A better"
        and pv.loc[("M2", "ssim"), "verdict"] == "A better"
    )
    assert pv.loc[("M1", "ncc"), "verdict"].startswith("undefined")
    mv = rp.model_verdicts(df, [("M1", "M2")]).set_index("metric")
    assert (
        bool(mv.loc["rmse", "equivalent"])
        and mv.loc["rmse", "ci_high"] - mv.loc["rmse", "ci_low"] < 0.001
    )
    assert mv.loc["ncc", "verdict"].startswith("undefined") and not mv.loc["ncc", "equivalent"]


def test_paper_comparison_and_tables(tmp_path):
    df = _per_image()
    fid = pd.DataFrame([{"key": k, "fid": 100.0 + i} for i, k in enumerate(df.key.unique())])
    summary = rp.phase_summary(df, fid)
    ref = pd.DataFrame(
        [
            {"method": "M1", "phase": "Post", "metric": "rmse", "value": 0.23, "std": 0.08},
            {"method": "M1", "phase": "Post", "metric": "fid", "value": 90.47, "std": float("nan")},
        ]
    )
    comp = rp.paper_comparison(summary, ref, fid_reasons=["20 test images"])
    row = comp[(comp.model == "M1") & (comp.phase == "Post") & (comp.metric == "rmse")].iloc[0]
    assert row.paper == 0.23 and row.delta == pytest.approx(row.ours - 0.23) and row.in_paper
    assert row.paper_std == 0.08 and row.n == 20 and row.comparable
    fid_row = comp[(comp.model == "M1") & (comp.phase == "Post") & (comp.metric == "fid")].iloc[0]
    assert fid_row.in_paper and not fid_row.comparable and pd.isna(fid_row.delta)
    assert pd.isna(fid_row.paper_std)  # an empty std stays empty
    assert comp[comp.metric == "fid"].ours.tolist() == [100.0, 101.0, 100.0 + 2, 103.0]
    md = rp.paper_tables_markdown(
        comp, labels=["PROXY DATA"], title="T", fid_reasons=["20 test images"]
    )
    ours = f"{row.ours:.3f} ± {row.ours_std:.3f}"
    assert f"| Post | RMSE ↓ | 0.23 ± 0.08 | {ours} | {row.delta:+.3f} |" in md
    assert "| Post | FID ↓ | 90.47 | 101 | n/c¹ |" in md  # no std in the reference: none printed
    assert "¹ n/c, not comparable: this run's FID is on 20 test images." in md
    assert "- PROXY DATA" in md and "Table-2-style" in md and "| Pre | RMSE ↓ | — |" in md


def test_measure_conventions():
    gt = torch.zeros(1, 3, 16, 16)
    out = torch.full_like(gt, 0.5)
    m = ev.measure(out, gt)
    assert m["rmse"][0] == pytest.approx(0.5) and m["mae"][0] == pytest.approx(0.5)
    ramp = torch.linspace(0, 1, 256).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    m = ev.measure(0.5 * ramp + 0.1, ramp)
    assert (
        m["ncc"][0] == pytest.approx(1.0)
        and m["ssim"][0] < 1
        and ev.measure(ramp, ramp)["ssim"][0] == pytest.approx(1.0)
    )


def test_post_better_summary_names_failures_and_skips_random_fid():
    df = _per_image()
    pv = rp.phase_verdicts(df)
    fid = pd.DataFrame(
        [
            {"key": k, "fid": v}
            for k, v in (("M1/Pre", 2.0), ("M1/Post", 1.0), ("M2/Pre", 2.0), ("M2/Post", 3.0))
        ]
    )
    fid.attrs["weights"] = {"comparable": True}
    s = rp.post_better_summary(pv, fid)
    assert s["M1"]["not_better_on"] == {
        "ncc": pv.set_index(["model", "metric"]).loc[("M1", "ncc"), "verdict"]
    }
    assert s["M1"]["fid"] is True and s["M2"]["fid"] is False and not s["M1"]["all"]
    fid.attrs["weights"] = {"comparable": False}
    assert rp.post_better_summary(pv, fid)["M2"]["fid"] is None


def test_night_photo_inputs_take_the_central_square(tmp_path):
    arr = np.zeros((200, 300, 3), np.uint8)
    arr[:, 50:250] = 255  # the central 200x200 square is white, the side bands black
    Image.fromarray(arr).save(tmp_path / "night.png")
    names, hr, lq = ev.night_photo_inputs([tmp_path / "night.png"])
    assert names == ["night"] and hr.shape == (1, 3, 256, 256) and lq.shape == (1, 3, 64, 64)
    assert hr.min() > 0.99 and torch.equal(lq, night2day_data.make_lq(hr))


# tiny M1 / M3 configs: 4-channel networks, one block, one epoch on 32x32 images
TINY_M1 = dict(
    seed=5,
    sr_num_feat=4,
    sr_num_block=1,
    sr_num_grow_ch=4,
    sr_d_num_feat=4,
    sr_epochs=1,
    sr_batch_size=2,
    sr_gt_size=16,
    vgg_weights="random",
    cut_num_feat=4,
    cut_num_block=1,
    cut_d_num_feat=4,
    cut_netf_nc=8,
    cut_num_patches=8,
    cut_epochs=1,
    cut_load_size=36,
    cut_crop_size=32,
    log_interval=1,
)


def test_stage_trainers_are_reproducible_from_the_seed(tmp_path):
    day_hr = torch.rand(4, 3, 32, 32)
    lq, hr = _u8(F.avg_pool2d(day_hr, 4)), _u8(day_hr)
    cfg = Night2DayM1Config(**TINY_M1)
    runs = []
    for i in range(2):
        torch.manual_seed(100 + i)  # a different global RNG state before each run
        where = dict(run_dir=tmp_path / str(i), device="cpu")
        g, _, info = tn.train_sr(cfg, lq=lq, gt=hr, name="sr", **where)
        c, _, _ = tn.train_cut(cfg, x=hr, y=hr, name="cut", **where)
        runs.append((g.state_dict(), c.state_dict()))
    for a, b in zip(runs[0], runs[1]):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert g.arch_kwargs["num_feat"] == cfg.sr_num_feat  # the config reaches the network
    assert info["iters"] == 2 and info["weights"]["realesrgan_x4plus"]["source"] == "random-init"
    assert (tmp_path / "0/sr.pth").is_file() and (tmp_path / "0/cut.pth").is_file()


def test_m3_unpaired_trainer_keeps_trunk_layers_and_needs_night_pairs_for_its_init(tmp_path):
    day_hr = torch.rand(4, 3, 32, 32)
    night_hr = torch.rand(4, 3, 32, 32)
    kw = dict(
        night_lq=_u8(F.avg_pool2d(night_hr, 4)),
        day_hr=_u8(day_hr),
        day_lq=_u8(F.avg_pool2d(day_hr, 4)),
        run_dir=tmp_path,
        device="cpu",
    )
    cfg = Night2DayM3Config(
        num_feat=4,
        num_block=1,
        num_grow_ch=4,
        unpaired_d_num_feat=4,
        unpaired_epochs=1,
        unpaired_batch_size=2,
        netf_nc=8,
        num_patches=8,
        unpaired_init_epochs=1,
        paired_batch_size=2,
        paired_gt_size=16,
        log_interval=1,
    )
    with pytest.raises(ValueError, match="night_hr"):
        m3.train_m3_unpaired(cfg, night_hr=None, **kw)
    g, hist, info = m3.train_m3_unpaired(cfg, night_hr=_u8(night_hr), **kw)
    assert info["nce_layers"] == [0]  # (0, 4, 8, 12, 16) on a one-block trunk
    assert info["init_iters"] == 2 and info["iters"] == 2 and len(hist.rows) == 2
    assert g.arch_kwargs["num_feat"] == cfg.num_feat


def test_two_stage_orders_name_the_files_the_evaluation_loads():
    for order, cfg in (("sr_first", Night2DayM1Config()), ("cut_first", Night2DayM2Config())):
        spec = stages.two_stage_model(cfg, order)
        assert {n.name + ".pth" for n in spec.networks} == set(ev.GENERATOR_FILES[cfg.STAGE])
        assert [n.kind for n in spec.networks] == (
            ["sr", "cut"] if order == "sr_first" else ["cut", "sr"]
        )
    with pytest.raises(ValueError, match="M1"):
        stages.two_stage_model(Night2DayM2Config(), "sr_first")
    with pytest.raises(ValueError, match="order must be"):
        stages.two_stage_model(Night2DayM1Config(), "sr_last")


def test_data_config_refuses_a_bad_crop_fraction():
    assert Night2DayDataConfig(crop_fraction=[0.25, 0.5]).crop_fraction == (0.25, 0.5)
    for bad in ((0.9, 0.5), (0.5,), (0.0, 1.0), (0.5, 1.5)):
        with pytest.raises(config.ParamsError, match="crop_fraction"):
            Night2DayDataConfig(crop_fraction=bad)


def _verdicts():
    df = _per_image()
    df = pd.concat(
        [df, df[df.model == "M1"].assign(model="M3-paired", key=lambda d: "M3-paired/" + d.phase)]
    )
    fid = pd.DataFrame([{"key": k, "fid": 100.0 + i} for i, k in enumerate(df.key.unique())])
    fid.attrs["weights"], fid.attrs["notes"] = {"comparable": False}, ["random Inception"]
    pv = rp.phase_verdicts(df)
    mv = rp.model_verdicts(df, [("M1", "M2"), ("M3-paired", "M1"), ("M3-paired", "M2")])
    return df, fid, pv, rp.post_better_summary(pv, fid), mv


def test_evaluation_metrics_payload():
    df, fid, pv, post_better, mv = _verdicts()
    out = rp.evaluation_metrics(rp.phase_summary(df, fid), post_better, pv, mv, fid)
    assert list(out) == [
        "phases",
        "post_better_than_pre",
        "post_vs_pre",
        "model_comparison",
        "fid_notes",
        "constant_outputs",
    ]
    assert list(out["phases"]) == list(df.key.unique())
    assert set(out["phases"]["M1/Post"]) == {"rmse", "mae", "ssim", "ncc", "fid"}
    assert out["phases"]["M1/Pre"]["fid"] == 100.0
    assert out["post_vs_pre"]["M1_rmse"]["verdict"] == "A better"
    assert set(out["model_comparison"]["M1_vs_M2_rmse"]) == {
        "mean_diff",
        "ci_low",
        "ci_high",
        "p_wilcoxon",
        "verdict",
        "equivalent",
        "n",
    }
    assert out["post_vs_pre"]["M1_rmse"]["n"] == 20
    assert "M3-paired_vs_M2_ssim" in out["model_comparison"]
    assert out["post_better_than_pre"] is post_better and out["fid_notes"] == ["random Inception"]


def test_findings_markdown():
    df, fid, pv, post_better, mv = _verdicts()
    data = {"name": "synthetic-night proxy", "proxy": True, "pairs": 20}
    kw = dict(profile="smoke", data=data, labels=["PROXY DATA"], constant=["M2/Post"])
    md = rp.findings_markdown(pv, post_better, mv, fid, **kw)
    lines = md.splitlines()
    assert lines[0] == "# Findings (smoke profile)"
    assert lines[2].startswith("Data: synthetic-night proxy, 20 test pairs — PROXY, not night2day")
    m1 = next(x for x in lines if x.startswith("- **M1**, Post vs Pre (n = 20): "))
    r = pv.set_index(["model", "metric"]).loc[("M1", "rmse")]
    assert (
        f"Post better than Pre on RMSE {r.mean_b:.3f} → {r.mean_a:.3f} (Δ {r.mean_diff:+.3f}" in m1
    )
    assert "undefined on NCC" in m1 and "FID: not assessable (random-init Inception)" in m1
    assert m1.endswith(
        "→ **not resolved against** the paper (Post is worse on no metric, but not shown "
        "better on NCC (undefined))."
    )
    m3 = next(x for x in lines if x.startswith("- **M3-paired**, Post vs Pre"))
    assert m3.endswith("(beyond the paper: no claim to test)")
    # M1 and M2 differ by ~1e-4: equivalent at the paper's two-decimal resolution on RMSE, MAE, SSIM
    m12 = next(x for x in lines if x.startswith("- **M1 vs M2 (Post)** (n = 20): "))
    assert (
        "similar on RMSE" in m12 and "→ **not resolved against** the paper's" in m12
    )  # NCC undefined
    assert (
        "**Near-constant outputs** (pixel std < 0.02 on every test image" in md and "M2/Post" in md
    )
    assert "- **M3-paired vs M1 (Post)**" in md and lines[-1] == "- PROXY DATA"
    short = rp.findings_markdown(pv, post_better, mv, fid, show_labels=False, **kw)
    assert "- PROXY DATA" not in short and short.splitlines()[-1].startswith(
        "- the 1 labels logged"
    )


def test_the_release_as_it_is_runs_beside_the_fine_tuned_pipelines():
    """With ``pretrained_sr`` (M1 / M2 started from the release): M1-pretrained / M2-pretrained run it in place of
    the fine-tuned SR networks, on the same CUT networks, and every phase is measured and kept."""
    torch.manual_seed(0)
    cut_hr, cut_lq = (ResnetGenerator(num_feat=4, num_block=1).eval() for _ in range(2))
    release = RRDBNet(num_feat=4, num_block=1, num_grow_ch=4).eval()
    p = ev.Pipelines(
        sr_night=Up4(), cut_hr=cut_hr, cut_lq=cut_lq, sr_day=Up4(), pretrained_sr=release
    )
    assert p.models() == ["M1", "M2", "M1-pretrained", "M2-pretrained"]
    lq = (torch.rand(2, 3, 16, 16) * 255).round() / 255
    out = ev.run_phases(p, lq)
    night_hr = ev.apply_chain([release], lq)[0]
    assert torch.equal(out["M1-pretrained", "Intermediate"], night_hr)
    assert torch.equal(out["M1-pretrained", "Post"], ev.apply_chain([cut_hr], night_hr)[0])
    day_lq = ev.apply_chain([cut_lq], lq)[0]
    assert torch.equal(out["M2-pretrained", "Post"], ev.apply_chain([release], day_lq)[0])
    assert not torch.equal(out["M2-pretrained", "Post"], out["M2", "Post"])
    samples = [
        night2day_data.Night2DaySample(
            night_lq=lq[i],
            night_hr=torch.rand(3, 64, 64),
            day_lq=lq[i],
            day_hr=torch.rand(3, 64, 64),
        )
        for i in range(2)
    ]
    per_image, images = _evaluate_samples(p, samples)
    assert set(per_image.model) == set(p.models())
    assert set(images.images) == set(out)


def _evaluate_samples(p, samples):
    class Pairs(list):
        files = [f"img{i}.png" for i in range(len(samples))]

    return ev.evaluate_phases(p, Pairs(samples), batch_size=2)


def test_fine_tuned_generator_files_tell_whether_they_started_from_the_release():
    assert ev.started_from_release({"weights": {"realesrgan_x4plus": {"source": "file"}}})
    assert not ev.started_from_release(
        {"weights": {"realesrgan_x4plus": {"source": "random-init"}}}
    )
    assert not ev.started_from_release({})
