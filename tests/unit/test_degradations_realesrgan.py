"""Real-ESRGAN degradation pipeline: each stage against its definition, determinism, sizes; training pairs, pool."""

import math

import pytest
import torch

from srlib.data import degradations_realesrgan, realesrgan_kernels
from srlib.realesrgan import pairs

torch.set_num_threads(1)

CFG = degradations_realesrgan.RealESRGANDegradationConfig()


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def photo_like(b=2, size=64, seed=0):
    """Smooth random images with edges (a blurred random field plus a step), in [0, 1]."""
    x = torch.rand(b, 3, size // 8, size // 8, generator=gen(seed))
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x[..., :, size // 2 :] *= 0.5
    return x


# ---- config ---------------------------------------------------------------------------------------


def test_config_defaults_are_the_yml():
    assert (
        CFG.kernel_prob == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
        and CFG.kernel_list == realesrgan_kernels.KERNEL_TYPES
    )
    assert (CFG.blur_sigma, CFG.blur_sigma2) == ((0.2, 3.0), (0.2, 1.5))
    assert (CFG.resize_prob, CFG.resize_range) == ((0.2, 0.7, 0.1), (0.15, 1.5))
    assert (CFG.resize_prob2, CFG.resize_range2) == ((0.3, 0.4, 0.3), (0.3, 1.2))
    assert (CFG.noise_range, CFG.noise_range2, CFG.poisson_scale_range) == (
        (1, 30),
        (1, 25),
        (0.05, 3),
    )
    assert (CFG.jpeg_range, CFG.jpeg_range2, CFG.final_sinc_prob, CFG.queue_size) == (
        (30, 95),
        (30, 95),
        0.8,
        180,
    )
    assert (CFG.gt_size, CFG.crop_pad_size, CFG.second_blur_prob, CFG.gray_noise_prob) == (
        256,
        400,
        0.8,
        0.4,
    )


# ---- kernels --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"]
)
def test_every_kernel_type_sums_to_one(kind):
    probs = [1.0 if k == kind else 0.0 for k in realesrgan_kernels.KERNEL_TYPES]
    for seed in range(3):
        k, got = realesrgan_kernels.random_mixed_kernel(
            kernel_list=realesrgan_kernels.KERNEL_TYPES,
            kernel_prob=probs,
            kernel_size=11,
            sigma_range=(0.2, 3),
            betag_range=(0.5, 4),
            betap_range=(1, 2),
            generator=gen(seed),
        )
        assert got == kind and k.shape == (11, 11)
        assert k.sum().item() == pytest.approx(1.0, abs=1e-12)
        assert (k >= 0).all() and k.argmax().item() == 60  # peak at the centre


def test_isotropic_gaussian_matches_the_formula():
    k = realesrgan_kernels.bivariate_gaussian(7, 1.3)
    r2 = realesrgan_kernels.mesh_grid(7).pow(2).sum(-1)
    want = torch.exp(-r2 / (2 * 1.3**2))
    torch.testing.assert_close(k, want / want.sum())
    torch.testing.assert_close(k, k.T)


def test_anisotropic_rotation_by_90_degrees_swaps_the_axes():
    a = realesrgan_kernels.bivariate_gaussian(9, 2.0, 0.7, math.pi / 2, isotropic=False)
    b = realesrgan_kernels.bivariate_gaussian(9, 0.7, 2.0, 0.0, isotropic=False)
    torch.testing.assert_close(a, b)
    assert a[4, :].sum() < a[:, 4].sum()  # sig_x = 2 along y after the rotation: wider vertically


def test_generalized_gaussian_with_beta_one_is_the_gaussian_and_plateau_formula():
    g1 = realesrgan_kernels.bivariate_generalized_gaussian(9, 1.5, 0.8, 0.3, 1.0, isotropic=False)
    torch.testing.assert_close(
        g1, realesrgan_kernels.bivariate_gaussian(9, 1.5, 0.8, 0.3, isotropic=False)
    )
    p = realesrgan_kernels.bivariate_plateau(9, 1.5, 1.5, 0.0, 1.7)
    q = realesrgan_kernels.mesh_grid(9).pow(2).sum(-1) / 1.5**2
    want = 1 / (1 + q.pow(1.7))
    torch.testing.assert_close(p, want / want.sum())


def test_sinc_kernel_sums_to_one_and_cuts_off_at_omega_c():
    wc = math.pi / 2
    k = realesrgan_kernels.sinc_kernel(wc, 21)
    assert k.sum().item() == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(k, k.flip(0))
    n = 256
    response = torch.fft.fft2(k, s=(n, n)).abs()
    f = torch.fft.fftfreq(n) * 2 * math.pi
    radius = (f[:, None] ** 2 + f[None, :] ** 2).sqrt()
    passband, stopband = (
        response[radius < 0.5 * wc],
        response[(radius > 1.5 * wc) & (radius <= math.pi)],
    )
    assert passband.min() > 0.8 and passband.max() < 1.1  # ~1 below the cutoff (truncation ripple)
    assert stopband.max() < 0.1  # ~0 above it
    assert realesrgan_kernels.sinc_kernel(wc, 13, pad_to=21).shape == (21, 21)


def test_random_kernels_are_padded_normalised_and_deterministic():
    kw = dict(
        kernel_list=CFG.kernel_list,
        kernel_prob=CFG.kernel_prob,
        sinc_prob=0.5,
        sigma_range=CFG.blur_sigma,
        betag_range=CFG.betag_range,
        betap_range=CFG.betap_range,
    )
    kinds = set()
    for seed in range(20):
        k, kind = realesrgan_kernels.random_blur_kernel(generator=gen(seed), **kw)
        k2, kind2 = realesrgan_kernels.random_blur_kernel(generator=gen(seed), **kw)
        assert torch.equal(k, k2) and kind == kind2
        assert k.shape == (21, 21) and k.sum().item() == pytest.approx(1.0, abs=1e-12)
        kinds.add(kind)
    assert "sinc" in kinds and len(kinds) >= 3
    pulse, kind = realesrgan_kernels.random_final_sinc(0.0, gen())
    assert kind == "pulse" and pulse.sum() == 1 and pulse[10, 10] == 1


# ---- filtering, USM -------------------------------------------------------------------------------


def test_filter2d_pulse_is_identity_and_per_image_kernels_apply_per_image():
    x = torch.rand(3, 3, 20, 24, generator=gen())
    pulse = torch.zeros(5, 5)
    pulse[2, 2] = 1
    torch.testing.assert_close(realesrgan_kernels.filter2d(x, pulse), x)
    kernels = torch.stack(
        [realesrgan_kernels.bivariate_gaussian(5, s).float() for s in (0.5, 1.0, 2.0)]
    )
    batched = realesrgan_kernels.filter2d(x, kernels)
    for i in range(3):
        torch.testing.assert_close(
            batched[i : i + 1], realesrgan_kernels.filter2d(x[i : i + 1], kernels[i])
        )
    tiny = torch.rand(
        1, 3, 6, 6
    )  # smaller than the kernel radius: replicate padding instead of an error
    assert (
        realesrgan_kernels.filter2d(tiny, realesrgan_kernels.bivariate_gaussian(21, 2.0)).shape
        == tiny.shape
    )


def test_usm_sharpening():
    flat = torch.full((1, 3, 64, 64), 0.4)
    torch.testing.assert_close(realesrgan_kernels.usm_sharp(flat), flat)
    x = photo_like()
    torch.testing.assert_close(realesrgan_kernels.usm_sharp(x, weight=0.0), x)
    y = realesrgan_kernels.usm_sharp(x)
    assert y.min() >= 0 and y.max() <= 1
    step = x[..., 32, 28:36]  # across the step edge: the sharpened jump is larger
    assert (y[..., 32, 31] - y[..., 32, 32]).abs().mean() > (
        step[..., 3] - step[..., 4]
    ).abs().mean()


# ---- resize, noise, JPEG --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", degradations_realesrgan.RESIZE_MODES)
def test_resize_output_size_is_exact(mode):
    x = torch.rand(2, 3, 40, 30)
    assert degradations_realesrgan.random_resize(x, scale=0.15, mode=mode).shape[-2:] == (
        6,
        4,
    )  # floor(40 * .15), floor(30 * .15)
    assert degradations_realesrgan.random_resize(x, scale=1.5, mode=mode).shape[-2:] == (60, 45)
    assert degradations_realesrgan.random_resize(x, size=(17, 11), mode=mode).shape[-2:] == (17, 11)
    with pytest.raises(ValueError):
        degradations_realesrgan.random_resize(x, scale=0.5, mode="nearest")


def test_gaussian_noise_sigma_and_gray():
    x = torch.full((2, 3, 128, 128), 0.5)
    sigma = torch.tensor([10.0, 20.0])
    y = degradations_realesrgan.add_gaussian_noise_pt(
        x, sigma, torch.tensor([False, True]), generator=gen()
    )
    std = (y - x).flatten(1).std(1) * 255
    assert std[0].item() == pytest.approx(10, rel=0.05) and std[1].item() == pytest.approx(
        20, rel=0.05
    )
    assert torch.equal(y[1, 0], y[1, 1]) and torch.equal(y[1, 1], y[1, 2])  # grey noise: one field
    assert not torch.equal(y[0, 0], y[0, 1])


def test_poisson_noise_is_zero_mean_shot_noise():
    x = photo_like(2, 64)
    y = degradations_realesrgan.add_poisson_noise_pt(
        x, torch.tensor([1.0, 1.0]), torch.tensor([False, True]), generator=gen()
    )
    assert y.min() >= 0 and y.max() <= 1
    assert abs((y - x).mean().item()) < 0.01
    inside = ((y[1] > 0) & (y[1] < 1)).all(
        0
    )  # grey noise is one field shared by the channels (off the clamp)
    torch.testing.assert_close((y[1, 0] - x[1, 0])[inside], (y[1, 1] - x[1, 1])[inside])
    assert inside.float().mean() > 0.9
    black = torch.zeros(1, 3, 16, 16)  # no photons, no noise
    assert torch.equal(
        degradations_realesrgan.add_poisson_noise_pt(
            black, torch.tensor([3.0]), torch.tensor([False]), generator=gen()
        ),
        black,
    )


def test_jpeg_quality_per_image_and_range_honoured():
    x = photo_like(2, 32)
    out = degradations_realesrgan.jpeg_pt(x, [95, 30])
    err = (out - x).abs().flatten(1).mean(1)
    assert err[0] < err[1]  # quality 95 is closer than 30
    assert torch.equal(out * 255, (out * 255).round())
    with pytest.raises(ValueError):
        degradations_realesrgan.jpeg_pt(x, [95])
    qualities = []
    for seed in range(8):
        _, params = degradations_realesrgan.degrade(
            photo_like(2, 32, seed), CFG, generator=gen(seed), return_params=True
        )
        for q in params["jpeg_quality"]:
            qualities += q
    assert len(qualities) == 32 and all(isinstance(q, int) and 30 <= q <= 95 for q in qualities)
    assert len(set(qualities)) > 10


# ---- the pipeline ---------------------------------------------------------------------------------


def test_degrade_size_grid_and_determinism():
    gt = photo_like(3, 64)
    a, pa = degradations_realesrgan.degrade(gt, CFG, generator=gen(5), return_params=True)
    b, pb = degradations_realesrgan.degrade(gt, CFG, generator=gen(5), return_params=True)
    c = degradations_realesrgan.degrade(gt, CFG, generator=gen(6))
    assert a.shape == (3, 3, 16, 16) and a.dtype == gt.dtype
    assert torch.equal(a, b) and pa == pb and not torch.equal(a, c)
    assert torch.equal(a * 255, (a * 255).round()) and a.min() >= 0 and a.max() <= 1
    assert set(pa) >= {
        "kernels",
        "noise",
        "jpeg_quality",
        "resize1",
        "resize2",
        "second_blur",
        "final",
    }
    x2 = degradations_realesrgan.degrade(
        photo_like(1, 48),
        degradations_realesrgan.RealESRGANDegradationConfig(scale=2),
        generator=gen(),
    )
    assert x2.shape == (1, 3, 24, 24)


def test_degrade_draws_cover_the_configured_options():
    seen = {"resize1": set(), "noise": set(), "final": set()}
    for seed in range(12):
        _, p = degradations_realesrgan.degrade(
            photo_like(1, 32), CFG, generator=gen(seed), return_params=True
        )
        s = p["resize1"][0]
        seen["resize1"].add("up" if s > 1 else "down" if s < 1 else "keep")
        assert CFG.resize_range[0] <= s <= CFG.resize_range[1]
        assert CFG.resize_range2[0] <= p["resize2"][0] <= CFG.resize_range2[1]
        seen["noise"].add(p["noise"][0][0])
        seen["final"].add(p["final"][0])
    assert (
        seen["noise"] == {"gaussian", "poisson"}
        and len(seen["final"]) == 2
        and len(seen["resize1"]) >= 2
    )


def test_paired_random_crop_is_aligned():
    gt = torch.rand(2, 3, 40, 40)
    lq = gt[..., ::4, ::4]
    lq_c, gt_c = pairs.paired_random_crop(lq, gt, 16, 4, generator=gen(3))
    assert lq_c.shape[-2:] == (4, 4) and gt_c.shape[-2:] == (16, 16)
    assert torch.equal(lq_c, gt_c[..., ::4, ::4])


def test_training_pair_pool_fills_then_mixes_and_round_trips():
    pool = pairs.TrainingPairPool(4)
    batches = [
        (torch.full((2, 3, 2, 2), i / 255), torch.full((2, 3, 8, 8), i / 255)) for i in range(1, 6)
    ]
    for lq, gt in batches[:2]:  # filling: pass-through
        out = pool(lq, gt, generator=gen())
        assert out[0] is lq and out[1] is gt
    state = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in pool.state_dict().items()}
    lq_out, gt_out = pool(
        *batches[2], generator=gen(1)
    )  # full: two stored pairs come out, the new ones go in
    assert set((lq_out * 255).round().flatten().tolist()) <= {1.0, 2.0}
    assert torch.equal(
        (lq_out * 255).round()[:, 0, 0, 0], (gt_out * 255).round()[:, 0, 0, 0]
    )  # pairs stay pairs
    assert sorted(pool.lq[:, 0, 0, 0].tolist()).count(3) == 2
    again = pairs.TrainingPairPool(4)
    again.load_state_dict(state)
    lq_again, _ = again(*batches[2], generator=gen(1))
    assert torch.equal(lq_again, lq_out)
    with pytest.raises(ValueError, match="divisible"):
        pairs.TrainingPairPool(5)(*batches[0], generator=gen())


def test_realesrgan_pairs_are_a_pure_function_of_the_step():
    cfg = degradations_realesrgan.RealESRGANDegradationConfig(gt_size=32, crop_pad_size=48)
    images = [photo_like(1, 64, 0)[0], photo_like(1, 40, 1)[0]]  # the second is padded up to 48
    data = pairs.RealESRGANPairs(images, cfg=cfg, batch_size=2, seed=1)
    (lq, gt), (lq2, gt2) = data.batch(3), data.batch(3)
    assert lq.shape == (2, 3, 8, 8) and gt.shape == (2, 3, 32, 32)
    assert torch.equal(lq, lq2) and torch.equal(gt, gt2)
    assert not torch.equal(data.batch(4)[0], lq)
    with pytest.raises(ValueError):
        pairs.RealESRGANPairs(
            images,
            cfg=degradations_realesrgan.RealESRGANDegradationConfig(gt_size=30),
            batch_size=1,
        )
