"""FID / KID / LPIPS: parity with pytorch-fid and lpips, the real weight-loading paths, caveats, the weights CLI.

Networks are random-initialised (no downloads here); parity tests place the *same* random state dict where both
implementations look for it (a temporary TORCH_HOME, see tests/conftest.py). FID tests use dims=64 and few images.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srlib import weights
from srlib.metrics import fid, inception
from srlib.metrics import lpips as metrics_lpips


def _images(n, size=32, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, size, size), generator=g) / 255).to(dtype)


def _gaussian_stats(n, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.3 + shift
    return x.mean(0), np.cov(x, rowvar=False)


# ---------------------------------------------------------------------------------------------------------------------
# Fréchet distance


@pytest.mark.parametrize("d", [2, 64])
def test_frechet_distance_diagonal_closed_form(d):
    """Diagonal covariances: FID = ‖μ1 - μ2‖² + Σ (√a - √b)² -- computed independently of any sqrtm."""
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    a, b = rng.uniform(0.1, 2.0, d), rng.uniform(0.1, 2.0, d)
    want = float((mu1 - mu2) @ (mu1 - mu2) + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    got = fid.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("n", [500, 20])  # full rank, and N < d (singular covariances)
def test_frechet_distance_of_sample_statistics_is_finite_and_symmetric(n):
    mu1, s1 = _gaussian_stats(n, 64, seed=1)
    mu2, s2 = _gaussian_stats(n, 64, seed=2, shift=0.1)
    ours = fid.frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(ours) and ours > 0
    assert ours == pytest.approx(fid.frechet_distance(mu2, s2, mu1, s1), rel=1e-6)


def test_frechet_distance_closed_form():
    """Identity covariances: FID = ‖μ1 - μ2‖² (pytorch-fid's own test case)."""
    mu1, mu2 = np.zeros(16), np.arange(16) / 4
    assert fid.frechet_distance(mu1, np.eye(16), mu2, np.eye(16)) == pytest.approx(
        float(mu2 @ mu2), rel=1e-12
    )
    mu, s = _gaussian_stats(300, 32, seed=3)
    assert abs(fid.frechet_distance(mu, s, mu, s)) < 1e-6
    with pytest.raises(ValueError, match="shape"):
        fid.frechet_distance(mu, s, mu[:-1], s[:-1, :-1])


# ---------------------------------------------------------------------------------------------------------------------
# FID / KID end to end (random-initialised Inception, dims 64)


def test_fid_identical_sets_and_caveats(torch_home):
    x = _images(6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fid.fid(x, x, dims=64, mode="auto")
    shown = [str(w.message) for w in caught]
    assert any("RANDOM-INITIALISED" in m for m in shown) and any("singular" in m for m in shown)
    assert abs(res["value"]) < 1e-3
    assert res["n_a"] == res["n_b"] == 6 and res["dims"] == 64
    assert res["weights"]["source"] == "random-init" and res["weights"]["comparable"] is False
    assert any("singular" in w for w in res["warnings"])  # N <= dims
    assert not any("N_a=6 != N_b" in w for w in res["warnings"])


def test_fid_small_unequal_sets_finite_and_warned():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fid.fid(_images(5, seed=1), _images(7, seed=2), dims=64, mode="random")
    assert np.isfinite(res["value"]) and res["value"] > 0
    assert any("N_a=5 <= dims=64" in w for w in res["warnings"])
    assert any("N_a=5 != N_b=7" in w for w in res["warnings"])


def test_fid_inception_file_path_is_pytorch_fids_loader(torch_home):
    """A state dict placed under the published name is what pytorch-fid's loader reads, labelled source 'file'."""
    path = torch_home.put("fid_inception", seed=3)
    net_file, status = inception.fid_inception(64, "pretrained")
    assert status.source == "file" and status.comparable and Path(status.path) == path
    net_rand, status_rand = inception.fid_inception(64, "random", seed=3)
    assert status_rand.source == "random-init" and net_file is not net_rand
    x = _images(3)
    with torch.inference_mode():
        assert torch.equal(
            net_file(x)[0], net_rand(x)[0]
        )  # same weights: the file's, via the real loader
    first_conv = net_file.blocks[0][0].conv.weight
    assert torch.equal(first_conv, torch.load(path, weights_only=True)["Conv2d_1a_3x3.conv.weight"])


def test_fid_pretrained_without_file_fails_with_instructions(torch_home, monkeypatch):
    def offline(key, **kw):
        raise weights.WeightsUnavailable(weights.where_to_put(key))

    monkeypatch.setattr(weights, "fetch", offline)
    with pytest.raises(weights.WeightsUnavailable, match="pt_inception-2015-12-05-6726825d.pth"):
        inception.fid_inception(64, "pretrained")


def test_folder_equals_tensor_and_cache(tmp_path, monkeypatch):
    x = _images(4, size=24, seed=5)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(x):
        arr = (img * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(arr).save(folder / f"{i:02d}.png")
    (folder / "notes.txt").write_text("not an image")
    cache = tmp_path / "cache"
    f_dir, _ = inception.inception_features(folder, dims=64, mode="random", cache_dir=cache)
    f_ten, _ = inception.inception_features(x, dims=64, mode="random")
    assert f_dir.shape == (4, 64) and f_dir.dtype == np.float64
    assert np.array_equal(f_dir, f_ten)
    assert len(list(cache.glob("*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("network called although cached")

    monkeypatch.setattr(inception, "_batches", boom)
    f_again, _ = inception.inception_features(folder, dims=64, mode="random", cache_dir=cache)
    assert np.array_equal(f_again, f_dir)
    mu, sigma, n = inception.inception_stats(folder, dims=64, mode="random", cache_dir=cache)
    assert (
        n == 4
        and np.allclose(mu, f_dir.mean(0))
        and np.allclose(sigma, np.cov(f_dir, rowvar=False))
    )
    monkeypatch.undo()
    inception.inception_features(
        folder, dims=64, mode="random", cache_dir=cache, seed=1
    )  # other weights: new entry
    assert len(list(cache.glob("*.npz"))) == 2


def test_npz_statistics_input(tmp_path):
    mu, s = _gaussian_stats(100, 64, seed=7)
    np.savez(tmp_path / "ref.npz", mu=mu, sigma=s)
    m2, s2, n = inception.inception_stats(tmp_path / "ref.npz")
    assert n is None and np.array_equal(m2, mu) and np.array_equal(s2, s)


def test_kid_from_features():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((200, 32)), rng.standard_normal((200, 32))
    c = rng.standard_normal((200, 32)) * 1.5 + 0.5
    same, same_std = fid.kid_from_features(a, b, n_subsets=20, subset_size=100)
    diff, _ = fid.kid_from_features(a, c, n_subsets=20, subset_size=100)
    assert abs(same) < 3 * same_std + 1e-3 and diff > 10 * max(abs(same), same_std)
    # unbiased estimator by hand on one full "subset"
    x, y, d = a[:50], c[:50], 32
    k = lambda u, v: (u @ v.T / d + 1) ** 3  # noqa: E731
    m = 50
    ref = ((k(x, x).sum() - np.trace(k(x, x))) + (k(y, y).sum() - np.trace(k(y, y)))) / (
        m * (m - 1)
    )
    ref -= 2 * k(x, y).mean()
    assert fid.kid_from_features(x, y, n_subsets=1, subset_size=50)[0] == pytest.approx(
        ref, rel=1e-12
    )


def test_kid_end_to_end():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fid.kid(_images(6, seed=1), _images(6, seed=2), dims=64, mode="random", n_subsets=5)
    assert (
        np.isfinite(res["value"])
        and res["subset_size"] == 6
        and res["weights"]["source"] == "random-init"
    )


# ---------------------------------------------------------------------------------------------------------------------
# LPIPS


@pytest.mark.slow
def test_lpips_matches_package_with_same_trunk_file(torch_home):
    """Our trunk copy (srlib.weights) == lpips' own torchvision loading of the same alexnet-owt-7be5be79.pth."""
    import lpips

    path = torch_home.put("alexnet", seed=4)
    sr, gt = _images(3, size=48, seed=8), _images(3, size=48, seed=9)
    model = metrics_lpips.load_lpips("alex", "pretrained")
    assert model.status.source == "file" and Path(model.status.path) == path
    state = torch.load(path, weights_only=True)
    assert torch.equal(model.model.net.slice1[0].weight, state["features.0.weight"])
    ours = metrics_lpips.lpips_distance(sr, gt, model=model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_net = lpips.LPIPS(
            net="alex", version="0.1", verbose=False
        )  # torchvision loads the file via torch.hub
    with torch.no_grad():
        ref = ref_net(sr, gt, normalize=True).flatten().double()
    assert ours.shape == (3,) and ours.dtype == torch.float64
    assert (ours - ref).abs().max().item() < 1e-6
    random_trunk = metrics_lpips.lpips_distance(sr, gt, mode="random")
    assert (random_trunk - ours).abs().max().item() > 1e-4  # the file really changed the network


def test_lpips_auto_without_file_is_labelled_random(torch_home):
    import lpips

    sr, gt = _images(2, size=32, seed=10), _images(2, size=32, seed=11)
    with pytest.warns(UserWarning, match="RANDOM-INITIALISED"):
        model = metrics_lpips.load_lpips("alex", "auto", seed=0)
    assert model.status.source == "random-init" and not model.status.comparable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        ref_net = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    with torch.no_grad():
        ref = ref_net(sr, gt, normalize=True).flatten().double()
    assert (metrics_lpips.lpips_distance(sr, gt, model=model) - ref).abs().max().item() < 1e-6
    assert metrics_lpips.lpips_distance(sr, sr, model=model).abs().max().item() < 1e-6


def test_diversity():
    model = metrics_lpips.load_lpips("alex", "random")
    samples = _images(4, size=32, seed=12)
    div = metrics_lpips.diversity(samples, model=model)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    manual = torch.stack(
        [metrics_lpips.lpips_distance(samples[i], samples[j], model=model)[0] for i, j in pairs]
    ).mean()
    assert div.shape == (1,) and div.item() == pytest.approx(manual.item(), abs=1e-6)
    same = samples[:1].expand(3, -1, -1, -1)
    batch = torch.stack([samples[:3], same])  # (N=2, K=3, 3, H, W)
    out = metrics_lpips.diversity(batch, model=model)
    assert out.shape == (2,) and out[1].item() < 1e-6 and out[0].item() > 0
    with pytest.raises(ValueError, match="K >= 2"):
        metrics_lpips.diversity(samples[:1], model=model)


# ---------------------------------------------------------------------------------------------------------------------
# weights CLI (srlib.weights.main)


def test_weights_cli(torch_home, monkeypatch, capsys):
    assert weights.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "fid_inception" in out and str(torch_home.checkpoints) in out
    assert weights.main(["verify"]) == 0  # nothing present: nothing to verify
    assert weights.main(["verify", "alexnet"]) == 1  # named but missing
    assert "alexnet-owt-7be5be79.pth" in capsys.readouterr().out
    torch_home.put("alexnet", state_dict={"x": torch.zeros(1)})
    assert (
        weights.main(["verify", "alexnet"]) == 1
    )  # a random file cannot match the published digest
    assert "MISMATCH" in capsys.readouterr().out

    def offline(key, **kw):
        raise weights.WeightsUnavailable(f"could not download. {weights.where_to_put(key)}")

    monkeypatch.setattr(weights, "fetch", offline)
    assert weights.main(["fetch", "vgg19"]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert weights.main(["bogus"]) == 2 and weights.main(["verify", "nope"]) == 2
    assert weights.main([]) == 2


def test_published_digests_are_full_and_match_file_names():
    for key in ("vgg19", "vgg16", "alexnet", "fid_inception", "realesrgan_x4plus"):
        w = weights.WEIGHTS[key]
        assert len(w.sha256) == 64
        prefix = w.filename.rsplit("-", 1)[-1].removesuffix(".pth")
        if (
            key != "realesrgan_x4plus"
        ):  # torchvision / pytorch-fid names carry the first 8 hex digits
            assert w.sha256.startswith(prefix)
