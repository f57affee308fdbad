"""Losses and the VGG feature extractor's weight resolution (real loading path under a temporary TORCH_HOME)."""

import math
import warnings

import pytest
import torch

from srlib import losses, weights
from srlib.download import DownloadError


def test_gan_losses_at_chance_are_log2():
    zeros = torch.zeros(4)
    assert losses.gan_g_loss(zeros).item() == pytest.approx(math.log(2))
    l_real, l_fake = losses.gan_d_loss(zeros, zeros)
    assert l_real.item() == pytest.approx(math.log(2)) and l_fake.item() == pytest.approx(
        math.log(2)
    )


def test_gan_g_loss_is_minus_log_d():
    logits = torch.tensor([0.3, -1.2])
    want = -torch.log(torch.sigmoid(logits)).mean()
    assert losses.gan_g_loss(logits).item() == pytest.approx(want.item(), rel=1e-6)


def test_pixel_losses():
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    assert losses.pixel_mse(a, b).item() == pytest.approx(0.25)
    assert losses.pixel_l1(a, b).item() == pytest.approx(0.5)


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory):
    """A random-initialised torchvision VGG19 state dict under the exact published file name."""
    from torchvision.models import vgg19

    home = tmp_path_factory.mktemp("torch_home")
    torch.manual_seed(1)
    state = vgg19(weights=None).state_dict()
    path = home / "hub" / "checkpoints" / weights.WEIGHTS["vgg19"].filename
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return home, state


@pytest.mark.slow
def test_vgg_features_load_the_cached_file(vgg19_file, monkeypatch):
    home, state = vgg19_file
    monkeypatch.setenv("TORCH_HOME", str(home))
    vgg = losses.VGGFeatures(layer="features.35", weights_mode="pretrained")
    assert vgg.status.source == "file" and vgg.status.comparable
    torch.testing.assert_close(vgg.features[34].weight, state["features.34.weight"])
    assert len(vgg.features) == 36  # conv5_4 + its ReLU, before pool5
    x = torch.rand(1, 3, 32, 32)
    assert vgg(x).shape == (1, 512, 2, 2)
    assert not any(p.requires_grad for p in vgg.parameters())


def test_vgg_auto_without_file_warns_and_is_labelled(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="RANDOM-INITIALISED"):
        vgg = losses.VGGFeatures(layer=3, weights_mode="auto")
    assert vgg.status.source == "random-init" and not vgg.status.comparable
    assert vgg.status.as_dict()["comparable"] is False


def test_vgg_pretrained_without_file_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise DownloadError("could not download: Name or service not known")

    monkeypatch.setattr("srlib.weights.download", offline)
    with pytest.raises(weights.WeightsUnavailable) as err:
        losses.VGGFeatures(layer=3, weights_mode="pretrained")
    msg = str(err.value)
    assert "vgg19-dcbb9e9d.pth" in msg and str(tmp_path / "hub" / "checkpoints") in msg
    assert not list(tmp_path.rglob("*.part")), "a failed download must not leave partial files"


def test_random_mode_never_touches_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status = weights.resolve("vgg19", "random")
    assert status.source == "random-init" and status.path is None


def test_unknown_mode_and_key_are_rejected():
    with pytest.raises(ValueError, match="weights mode"):
        weights.resolve("vgg19", "sometimes")
    with pytest.raises(KeyError, match="unknown weight file"):
        weights.resolve("resnet9000", "auto")


def test_perceptual_loss_zero_for_identical_and_scaled(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    vgg = losses.VGGFeatures(layer=3, weights_mode="random")
    x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    assert losses.perceptual_vgg(x, x, vgg).item() == 0.0
    full = losses.perceptual_vgg(x, y, vgg, rescale=1.0).item()
    assert losses.perceptual_vgg(x, y, vgg, rescale=0.5).item() == pytest.approx(full / 4, rel=1e-5)


def test_verify_checks_the_hash_prefix(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights.local_path("alexnet")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the real file")
    ok, msg = weights.verify("alexnet")
    assert not ok and "MISMATCH" in msg


def test_multi_layer_features_keep_pre_relu_maps(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(0)
    vgg = losses.VGGFeatures(layers=["features.2", 3, 7], weights_mode="random")
    pre, post, pre2 = vgg(torch.rand(1, 3, 16, 16))
    assert pre.min() < 0, (
        "conv1_2 before ReLU must keep negative values (in-place ReLU must not leak)"
    )
    torch.testing.assert_close(post, pre.clamp(min=0))
    assert pre2.shape == (1, 128, 8, 8)
    with pytest.raises(ValueError, match="exactly one"):
        losses.VGGFeatures(layer=3, layers=[3], weights_mode="random")
