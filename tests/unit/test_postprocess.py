"""Post-processing: histogram matching moves the histogram to the reference; the low-pass removes high frequencies."""

import math

import numpy as np
import pytest
import torch

from srlib.srgan_modified import postprocess as pp


def test_match_histograms_takes_the_reference_distribution_and_keeps_the_order():
    g = torch.Generator().manual_seed(0)
    sr = torch.rand(3, 64, 64, generator=g) * 0.3  # dark
    ref = 0.5 + 0.5 * torch.rand(3, 16, 16, generator=g) ** 2  # bright, other size and shape
    out = pp.match_histograms(sr, ref)
    q = torch.linspace(0.05, 0.95, 7, dtype=torch.float64)
    for c in range(3):
        torch.testing.assert_close(
            out[c].double().quantile(q), ref[c].double().quantile(q), atol=0.02, rtol=0
        )
        # a monotone map: the pixel order of sr is kept
        a, b = sr[c].flatten(), out[c].flatten()
        assert bool(((b[a.argsort()]).diff() >= -1e-7).all())
    assert out.shape == sr.shape and abs(float(out.mean() - ref.mean())) < 0.01


def _amplitude(img: torch.Tensor, ky: int, kx: int) -> float:
    return float(
        torch.fft.fft2(img.double())[..., ky, kx].abs().mean() / img.shape[-1] / img.shape[-2]
    )


def test_lowpass_removes_a_high_sinusoid_and_keeps_a_low_one():
    n = 128  # r = int(0.23 * 128) = 29 frequency bins
    y, x = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    low = 0.2 * torch.sin(2 * math.pi * 3 * x / n)
    high = 0.2 * torch.sin(2 * math.pi * 50 * y / n)
    img = (0.5 + low + high).expand(3, n, n)
    out = pp.fft_lowpass(img)
    assert _amplitude(img, 0, 3) == pytest.approx(0.1, rel=1e-3) and _amplitude(
        img, 50, 0
    ) == pytest.approx(0.1, rel=1e-3)
    assert _amplitude(out, 0, 3) == pytest.approx(0.1, rel=1e-3)
    assert _amplitude(out, 50, 0) < 1e-6
    torch.testing.assert_close(out, (0.5 + low).expand(3, n, n), atol=1e-5, rtol=0)
    quirky = pp.fft_lowpass(img, seed_quirks=True)  # magnitude + per-channel min-max
    assert float(quirky.min()) == pytest.approx(0, abs=1e-6) and float(
        quirky.max()
    ) == pytest.approx(1, abs=1e-6)


@pytest.mark.parametrize("h,w", [(64, 64), (37, 50)])
def test_mask_equals_the_seeds_shifted_disc(h, w):
    r = int(max(h, w) * 0.23)
    x, y = np.ogrid[:h, :w]
    keep = (x - int(h / 2)) ** 2 + (
        y - int(w / 2)
    ) ** 2 < r * r  # the seed: zero where >= r^2, centre (h/2, w/2)
    assert np.array_equal(np.fft.ifftshift(keep), pp.lowpass_mask(h, w).numpy())


def test_seed_postprocess_ends_on_the_input_histogram():
    g = torch.Generator().manual_seed(1)
    lq = torch.rand(3, 24, 24, generator=g)
    sr = 2 * torch.rand(3, 96, 96, generator=g) - 0.5  # unclamped network output
    for as_coded in (False, True):
        out = pp.seed_postprocess(sr, lq, as_coded=as_coded)
        assert out.shape == sr.shape and 0 <= float(out.min()) and float(out.max()) <= 1
        for c in range(3):
            assert abs(float(out[c].median() - lq[c].median())) < 0.03
    batch = pp.apply_steps(
        sr[None].repeat(2, 1, 1, 1), lq[None].repeat(2, 1, 1, 1), "match,lowpass,match"
    )
    assert batch.shape == (2, 3, 96, 96)


def test_parse_steps():
    assert pp.parse_steps("match, lowpass,match") == ["match", "lowpass", "match"]
    assert pp.parse_steps("") == [] and pp.parse_steps("none") == []
    with pytest.raises(ValueError, match="blur"):
        pp.parse_steps("match,blur")
