"""Image loading, the embedded default set, manifests, paired crops."""

import numpy as np
import pytest
import torch
from PIL import Image

from srlib.data import datasets, images, patches, splits


def test_load_image_converts_gray_rgba_and_16bit(tmp_path):
    Image.fromarray(np.full((5, 6), 128, np.uint8)).save(tmp_path / "g.png")
    Image.fromarray((np.zeros((5, 6, 4)) + [10, 20, 30, 0]).astype(np.uint8)).save(
        tmp_path / "a.png"
    )
    Image.fromarray(np.full((5, 6), 65535, np.uint16)).save(tmp_path / "w.png")
    g, a, w = (images.load_image(tmp_path / n) for n in ("g.png", "a.png", "w.png"))
    assert g.shape == a.shape == w.shape == (3, 5, 6)
    assert g[0, 0, 0].item() == pytest.approx(128 / 255)
    assert a[:, 0, 0].tolist() == pytest.approx([10 / 255, 20 / 255, 30 / 255])
    assert w.max().item() == pytest.approx(1.0)


def test_corrupt_and_fake_images_are_named(tmp_path):
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "ok.jpg", quality=90)
    raw = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(raw[: len(raw) // 3])
    (tmp_path / "text.png").write_text("hello")
    for name in ("truncated.jpg", "text.png"):
        with pytest.raises(images.ImageReadError, match=name):
            images.load_image(tmp_path / name)


def test_list_images_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        images.list_images(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no images"):
        images.list_images(tmp_path)


def test_embedded_sources_exist_and_are_disjoint():
    train = {p.name for _, p in splits.embedded_sources("train")}
    bench = {p.name for _, p in splits.embedded_sources("bench")}
    assert not train & bench
    for _, p in splits.embedded_sources("train") + splits.embedded_sources("bench"):
        assert p.is_file(), p


def test_prepare_split_stops_on_a_corrupt_file_and_writes_nothing_else(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src / "a.png")
    (src / "b.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(images.ImageReadError, match="b.png"):
        splits.prepare_split("train", str(src), tmp_path / "out", name="x")
    assert sorted(p.name for p in src.iterdir()) == ["a.png", "b.png"]


def test_manifest_roundtrip(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(src / f"{i}.png")
    split = splits.prepare_split("bench", str(src), tmp_path, name="mine")
    m = splits.write_manifest(tmp_path / "m.json", {"bench": split}, proxy=True)
    m2 = splits.read_manifest(tmp_path / "m.json")
    assert m == m2 and m2["proxy"] is True
    assert [p.name for p in splits.split_files(m2, "bench")] == ["0.png", "1.png"]
    assert splits.split_info(m2, "bench")["name"] == "mine"
    with pytest.raises(KeyError, match="train"):
        splits.split_files(m2, "train")
    assert len(datasets.describe(m2)) == 2


def test_missing_data_folder_param_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        datasets.source("no_such_folder")
    assert datasets.source("embedded") == "embedded"


def test_flat_crops_are_rejected():
    flat = torch.full((3, 64, 64), 0.5)
    busy = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    ds = patches.PairedPatches([flat, busy], scale=4, gt_size=16, batch_size=8, flat_threshold=0.05)
    _, gt = ds.batch(0)
    assert all(patches.gray_std(c) > 0.05 for c in gt)


def test_paired_patches_lq_is_8bit_bicubic_of_gt():
    img = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    ds = patches.PairedPatches([img], scale=4, gt_size=32, batch_size=1, use_augment=False)
    lq, gt = ds.batch(0)
    assert torch.equal(gt[0], (img * 255).round() / 255)
    assert torch.allclose(lq * 255, (lq * 255).round(), atol=1e-4)
    assert lq.shape == (1, 3, 8, 8)


def test_gt_size_must_divide_scale():
    with pytest.raises(ValueError, match="divisible"):
        patches.PairedPatches([torch.rand(3, 40, 40)], scale=4, gt_size=30, batch_size=1)


def test_benchmark_pairs_are_mod_cropped(tmp_path):
    Image.fromarray(np.zeros((30, 23, 3), np.uint8)).save(tmp_path / "x.png")
    ((name, lq, gt),) = images.benchmark_pairs([tmp_path / "x.png"], 4)
    assert name == "x" and gt.shape == (3, 28, 20) and lq.shape == (3, 7, 5)
