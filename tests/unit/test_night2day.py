"""Night2day data: AB loader, the paper's split and LR protocol, the Pre phase, the synthetic-night proxy."""

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from srlib import paths
from srlib.data import datasets, degradations, images
from srlib.night2day import data as night2day_data
from srlib.night2day import proxy

RED, BLUE = (255, 0, 0), (0, 0, 255)


def write_ab(path, *, height=256, left=RED, right=BLUE, noise_seed=None, fmt=None):
    """An AB file: left half ``left`` (night), right half ``right`` (day); optional texture for resize tests."""
    arr = np.zeros((height, 2 * height, 3), np.uint8)
    arr[:, :height] = left
    arr[:, height:] = right
    if noise_seed is not None:
        arr = np.random.default_rng(noise_seed).integers(0, 256, arr.shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)
    return path


# ------------------------------------------------------------------------------------------------- split


def test_paper_split_counts_for_20110_pairs():
    assert night2day_data.split_counts(20_110) == (16_088, 2_011, 2_011)
    files = [f"n2d/{i:05d}.jpg" for i in range(20_110)]
    split = night2day_data.paper_split(files, seed=0)
    assert {k: len(v) for k, v in split.items()} == {"train": 16_088, "val": 2_011, "test": 2_011}
    assert set().union(*map(set, split.values())) == {Path(f) for f in files}


def test_paper_split_on_a_small_tree_is_disjoint_seeded_and_order_free(tmp_path):
    root = tmp_path / "night2day"
    for i in range(20):  # the pix2pix tree: the splits are pooled and re-split
        write_ab(
            root / ("train" if i < 14 else "val" if i < 15 else "test") / f"{i:02d}.png", height=8
        )
    files = night2day_data.list_ab_files(root)
    assert len(files) == 20
    split = night2day_data.paper_split(files, seed=3)
    assert [len(split[k]) for k in ("train", "val", "test")] == [16, 2, 2]
    tr, va, te = (set(split[k]) for k in ("train", "val", "test"))
    assert not (tr & va or tr & te or va & te) and tr | va | te == set(files)
    assert night2day_data.paper_split(list(reversed(files)), seed=3) == split
    assert night2day_data.paper_split(files, seed=4) != split
    flat = tmp_path / "flat"
    for i in range(3):
        write_ab(flat / f"{i}.png", height=8)
    assert len(night2day_data.list_ab_files(flat)) == 3


def test_split_counts_rejects_bad_fractions():
    with pytest.raises(ValueError, match="fractions"):
        night2day_data.split_counts(10, (0.5, 0.2, 0.2))


# --------------------------------------------------------------------------------------------- AB loader


def test_night_is_the_left_half(tmp_path):
    night, day = night2day_data.load_ab(write_ab(tmp_path / "ab.png"))
    assert night.shape == day.shape == (3, 256, 256)
    assert night[:, 0, 0].tolist() == [1.0, 0.0, 0.0]  # red = left = night
    assert day[:, 0, 0].tolist() == [0.0, 0.0, 1.0]  # blue = right = day
    s = night2day_data.Night2DayPairs([tmp_path / "ab.png"])[0]
    assert s.night_hr.mean(dim=(1, 2)).tolist() == pytest.approx([1, 0, 0])
    assert s.day_lq.mean(dim=(1, 2)).tolist() == pytest.approx([0, 0, 1])


def test_sizes_follow_the_paper_protocol(tmp_path):
    f = write_ab(tmp_path / "ab.png", noise_seed=0)
    s = night2day_data.Night2DayPairs(tmp_path)[0]
    assert s.night_lq.shape == s.day_lq.shape == (3, 64, 64)
    assert s.night_hr.shape == s.day_hr.shape == (3, 256, 256)
    night, day = night2day_data.load_ab(f)
    assert torch.equal(s.day_hr, day)  # 256^2 halves are kept as they are
    lq = degradations.quantize(degradations.bilinear_resize_cv2(day, (64, 64)))  # cv2 INTER_LINEAR
    assert torch.equal(s.day_lq, lq)
    u8 = (day.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    ref = cv2.resize(
        u8, (64, 64), interpolation=cv2.INTER_LINEAR
    )  # what the paper ran, on 8-bit images
    assert (
        np.abs(s.day_lq.permute(1, 2, 0).numpy() * 255 - ref).max() <= 1
    )  # OpenCV fixed point: +-1 level
    for x in s:
        assert torch.equal(x, degradations.quantize(x))  # on the 8-bit grid
    # a 2:1 file of another size is resized to the paper's sizes
    write_ab(tmp_path / "big" / "ab.png", height=300, noise_seed=1)
    s = night2day_data.Night2DayPairs(tmp_path / "big")[0]
    assert s.night_hr.shape == (3, 256, 256) and s.night_lq.shape == (3, 64, 64)
    batch = night2day_data.stack([s, s])
    assert batch.day_hr.shape == (2, 3, 256, 256)


def test_non_2to1_file_is_rejected_naming_it(tmp_path):
    write_ab(tmp_path / "good.png", height=8)
    Image.fromarray(np.zeros((256, 256, 3), np.uint8)).save(tmp_path / "square_one.png")
    with pytest.raises(night2day_data.Night2DayFormatError, match="square_one.png"):
        night2day_data.Night2DayPairs(tmp_path)
    with pytest.raises(night2day_data.Night2DayFormatError, match="square_one.png"):
        night2day_data.load_ab(tmp_path / "square_one.png")
    with pytest.raises(night2day_data.Night2DayFormatError, match="256x256"):
        night2day_data.split_ab(torch.zeros(3, 256, 256))


def test_truncated_file_is_rejected_naming_it(tmp_path):
    write_ab(tmp_path / "ok.jpg", noise_seed=0)
    raw = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut_short.jpg").write_bytes(raw[: len(raw) // 3])
    pairs = night2day_data.Night2DayPairs(
        [tmp_path / "cut_short.jpg"]
    )  # the header still says 512x256
    with pytest.raises(images.ImageReadError, match="cut_short.jpg"):
        pairs[0]
    with pytest.raises(images.ImageReadError, match="cut_short.jpg"):
        pairs.verify()
    (tmp_path / "not_an_image.jpg").write_bytes(b"nope")
    with pytest.raises(images.ImageReadError, match="not_an_image.jpg"):
        night2day_data.Night2DayPairs([tmp_path / "not_an_image.jpg"])


# --------------------------------------------------------------------------------------------- Pre phase


def test_pre_phase_is_nearest_neighbour():
    lq = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    up = night2day_data.pre_phase(lq)
    assert up.shape == (2, 3, 256, 256)
    assert torch.equal(up, lq.repeat_interleave(4, dim=-2).repeat_interleave(4, dim=-1))
    assert night2day_data.pre_phase(lq[0]).shape == (3, 256, 256)


# ------------------------------------------------------------------------------------------------- proxy


def _day(seed=0, size=64):
    """A bright, textured 'day' image."""
    g = torch.Generator().manual_seed(seed)
    return degradations.quantize(0.5 + 0.4 * torch.rand(3, size, size, generator=g))


def test_synthetic_night_is_seeded_and_darker():
    day = _day()
    a = proxy.synthetic_night(day, generator=torch.Generator().manual_seed(7))
    b = proxy.synthetic_night(day, generator=torch.Generator().manual_seed(7))
    c = proxy.synthetic_night(day, generator=torch.Generator().manual_seed(8))
    assert a.shape == day.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert 0 <= a.min() and a.max() <= 1 and torch.equal(a, degradations.quantize(a))
    for seed in range(5):
        night = proxy.synthetic_night(day, generator=torch.Generator().manual_seed(seed))
        assert night2day_data.luminance(night).mean() < 0.6 * night2day_data.luminance(day).mean()
    batch = proxy.synthetic_night(
        torch.stack([day, day]), generator=torch.Generator().manual_seed(7)
    )
    assert torch.equal(batch[0], a)  # batch draws per image, in order


def test_synthetic_night_steps_are_visible():
    day = torch.full((3, 64, 64), 0.7)
    quiet = proxy.SyntheticNightConfig(
        glows_range=(0, 0),
        peak_range=(1e6, 1e6),
        read_sigma_range=(0, 0),
        jpeg_quality_range=(100, 100),
        p_sodium=1.0,
    )
    night = proxy.synthetic_night(day, generator=torch.Generator().manual_seed(0), cfg=quiet)
    r, g, b = night.mean(dim=(1, 2)).tolist()
    assert r > g > b  # sodium cast
    assert night.std(dim=(1, 2)).max() < 0.01  # no glows, (almost) no noise
    lamp = proxy.SyntheticNightConfig(
        glows_range=(1, 1),
        **{k: getattr(quiet, k) for k in ("peak_range", "read_sigma_range", "jpeg_quality_range")},
    )
    lit = proxy.synthetic_night(day, generator=torch.Generator().manual_seed(0), cfg=lamp)
    assert lit.max() > night.max() + 0.3  # a bright lamp core
    noisy = proxy.SyntheticNightConfig(
        glows_range=(0, 0), peak_range=(20, 20), jpeg_quality_range=(100, 100)
    )
    assert (
        proxy.synthetic_night(day, generator=torch.Generator().manual_seed(0), cfg=noisy).std()
        > 0.02
    )
    with pytest.raises(ValueError, match="gamma_range"):
        proxy.SyntheticNightConfig(gamma_range=(2.0, 1.0))


def test_proxy_pairs_are_deterministic_and_shaped(tmp_path):
    for i in range(2):
        Image.fromarray((_day(i, 96).numpy().transpose(1, 2, 0) * 255).astype(np.uint8)).save(
            tmp_path / f"{i}.png"
        )
    ds = proxy.ProxyNight2DayPairs(tmp_path, seed=1, pairs_per_image=2, gt_size=32, lq_size=8)
    assert len(ds) == 4
    s = ds[3]
    assert s.night_hr.shape == s.day_hr.shape == (3, 32, 32)
    assert s.night_lq.shape == s.day_lq.shape == (3, 8, 8)
    again = proxy.ProxyNight2DayPairs(tmp_path, seed=1, pairs_per_image=2, gt_size=32, lq_size=8)[3]
    assert all(torch.equal(x, y) for x, y in zip(s, again, strict=True))
    other = proxy.ProxyNight2DayPairs(tmp_path, seed=2, pairs_per_image=2, gt_size=32, lq_size=8)[3]
    assert not torch.equal(s.night_hr, other.night_hr)
    assert night2day_data.luminance(s.night_hr).mean() < night2day_data.luminance(s.day_hr).mean()
    assert torch.equal(s.day_lq, night2day_data.make_lq(s.day_hr, 8))
    resized = proxy.ProxyNight2DayPairs(tmp_path, mode="resize", gt_size=32, lq_size=8)
    assert resized[0].day_hr.shape == (3, 32, 32)
    assert "PROXY" in ds.note and "not comparable" in night2day_data.PROXY_NOTE
    with pytest.raises(IndexError):
        ds[4]


# ------------------------------------------------------------------------------------- recipe, references


def test_recipe_and_reference_numbers():
    r = datasets.RECIPES["night2day"]
    assert r.url == "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/night2day.tar.gz"
    assert r.extracts_to == "night2day"
    with open(paths.references_dir() / "night2day_abedjooy.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 25  # M1 3 phases + M2 2 phases, 5 metrics each
    value = {(r["method"], r["phase"], r["metric"]): float(r["value"]) for r in rows}
    assert value["M1", "Post", "fid"] == 90.47 and value["M2", "Post", "ncc"] == 0.90
    assert value["M1", "Pre", "rmse"] == value["M2", "Pre", "rmse"] == 0.48
