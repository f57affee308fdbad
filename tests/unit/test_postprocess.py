"""Post-processing: histogram matching moves the histogram to the reference; the low-pass removes high frequencies;
the ablation measures both BN modes, per-tile statistics and labels a collapsed network."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from srlib import models
from srlib.data import degradations
from srlib.inference import tiling
from srlib.models import SRGANModifiedGenerator
from srlib.models.srgan_modified import bn_statistics
from srlib.srgan_modified import ablation, bn, figures
from srlib.srgan_modified import postprocess as pp
from srlib.srgan_modified.config import SRGANModifiedPostprocessConfig


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


# -- the ablation (notebook 21): BN modes, per-tile statistics, labels ---------------------------------------------


def _tiny_net(**kwargs) -> SRGANModifiedGenerator:
    torch.manual_seed(0)
    g = SRGANModifiedGenerator(num_feat=4, num_block=1, num_up_feat=4, **kwargs)
    with torch.no_grad():
        g.train()(torch.rand(1, 3, 16, 16) * 2)  # moving statistics far from the benchmark's
    return g.eval()


def _pairs(side: int = 64):
    gt = torch.rand(3, side, side, generator=torch.Generator().manual_seed(1))
    return [("img", degradations.quantize(degradations.imresize(gt, 1 / 4).clamp(0, 1)), gt)]


def test_per_image_statistics_are_per_tile_in_a_batched_tiled_pass():
    g = _tiny_net(bn_inference="per_image")
    lq = _pairs()[0][1]  # 16 x 16: four 8-px tiles, one batch
    with torch.no_grad():
        tiled = tiling.upscale(g, lq, tile=8, mode="faithful")
        each = torch.zeros_like(tiled)
        for y in (0, 8):
            for x in (0, 8):
                each[:, 4 * y : 4 * y + 32, 4 * x : 4 * x + 32] = g(
                    lq[None, :, y : y + 8, x : x + 8]
                )[0]
        untiled = g(lq[None])[0]
    torch.testing.assert_close(tiled, each, atol=1e-5, rtol=1e-5)
    assert (tiled - untiled).abs().max() > 1e-3  # the tile's own statistics, not the image's


def test_ablation_measures_both_bn_modes_and_labels_collapse(tmp_path):
    g, g_zero = (
        _tiny_net(bn_inference="per_image"),
        _tiny_net(padding="zeros", bn_inference="per_image"),
    )
    pairs = _pairs()
    lq = pairs[0][1]
    outs = ablation.variants(g, lq, scale=4, tile=8, overlap=4, g_zero=g_zero)
    with torch.no_grad():
        torch.testing.assert_close(outs["network"][1], g(lq[None])[0])
        with bn_statistics(g, "moving"):
            torch.testing.assert_close(
                outs["network, moving statistics (the seed)"][1], g(lq[None])[0]
            )
    assert g.bn_inference == "per_image"
    per_image, agree = ablation.run(
        g, pairs, scale=4, crop_border=4, tile=8, overlap=4, g_zero=g_zero
    )
    s = ablation.summarize(per_image)
    assert {
        "network, moving statistics (the seed)",
        "network, zero padding",
        "network, zero padding, moving statistics (the seed)",
        "network, moving statistics (the seed) [faithful]",
        "network, moving statistics (the seed) [blend]",
        "network, zero padding [faithful]",
        "seed as coded [faithful]",
    } <= set(s.index)
    assert s.loc["bicubic", "gain_db"] == 0
    assert list(s["status"] == "COLLAPSED") == list(s["gain_db"] < figures.COLLAPSE_GAIN_DB)
    assert s.loc["network", "status"] == "COLLAPSED"  # a random tiny network
    assert {"psnr_faithful_vs_untiled_moving", "psnr_blend_vs_untiled_moving"} <= set(agree)
    cfg = SRGANModifiedPostprocessConfig(profile="smoke", tile=8, overlap=4)
    findings = ablation.conclusions(s, agree, bn_inference="per_image")
    assert (
        findings[0].startswith("Network vs bicubic (untiled, per-image statistics)")
        and "COLLAPSED" in findings[0]
    )
    assert findings[1].startswith("The same weights with moving statistics (the seed)")
    assert any(
        f.startswith("The report: reflect padding lets the seed's 64-px tiles join")
        for f in findings
    )
    # the form srlib.site reads
    assert any(f.startswith("match (faithful tiles): ") for f in findings)
    metrics = ablation.stage_metrics(cfg, s, agree, findings, n_images=1)
    assert metrics["bn_inference"] == "per_image" and metrics["collapsed"] is True
    assert set(metrics["seam_by_bn_inference"]) == {"per_image", "moving"}
    assert metrics["seam_by_bn_inference"]["moving"]["network [faithful]"] == pytest.approx(
        s.loc["network, moving statistics (the seed) [faithful]", "seam"]
    )
    report = ablation.markdown_report(cfg, s, findings, labels=[], bench_name="b", n_images=1)
    assert report.splitlines()[0].endswith(
        f"— SMOKE, COLLAPSED ({s.loc['network', 'gain_db']:+.1f} dB vs bicubic)"
    )
    # a network at bicubic level (bicubic skip, zero tail) is not labelled, in either mode
    ok = _tiny_net(bicubic_skip=True, bn_inference="per_image")
    s_ok = ablation.summarize(ablation.run(ok, pairs, scale=4, crop_border=4, tile=8, overlap=4)[0])
    assert (s_ok["status"] == "").all()
    assert (
        ablation.title_tag(
            SRGANModifiedPostprocessConfig(profile="photos"), s_ok, "network [blend]"
        )
        == ""
    )


def test_load_networks_sets_the_stage_bn_mode(tmp_path):
    models.save_generator(
        tmp_path / "generator.pth", _tiny_net(), meta={"labels": [bn.inference_label("per_image")]}
    )
    cfg = SRGANModifiedPostprocessConfig(bn_inference="per_image")
    g, g_file, g_zero, zero_label = ablation.load_networks(cfg, tmp_path)
    assert g.bn_inference == g_zero.bn_inference == "per_image" and "swapped" in zero_label
    assert ablation.alt_method("network [blend]", "X") == "network, X [blend]"
    assert ablation.alt_method("network", "X") == "network, X"
    lp = type("LP", (), {"status": type("S", (), {"source": "random-init", "key": "alexnet"})()})()
    labels = ablation.run_labels(
        SRGANModifiedPostprocessConfig(bn_inference="moving"), g_file, zero_label, lp
    )
    # the stage's mode, not the file's
    assert not any(s.startswith(bn.LABEL_PREFIX) for s in labels)


def test_the_ablation_table_names_each_columns_reference_and_direction():
    summary = pd.DataFrame(
        {
            "tiling": ["none", "blend"],
            "psnr_y": [28.3479, 28.41],
            "d_psnr_y": [-0.0595, 0.0],
            "gain_db": [0.0, 0.0616],
            "seam": [1.14612, float("nan")],
            "status": ["", "COLLAPSED"],
        },
        index=pd.Index(["bicubic", "network [blend]"], name="method"),
    )
    shown = ablation.display_table(summary)
    assert list(shown.columns) == [
        "tiling",
        "PSNR-Y (dB) ↑",
        "seam score (1 = none, > 1 = visible)",
        "Δ PSNR-Y (dB) vs network, same tiling ↑",
        "PSNR-Y − bicubic (dB) ↑",
        "status",
    ]
    assert shown.loc["bicubic"].tolist() == ["none", "28.35", "1.146", "-0.06", "0.00", ""]
    assert (
        shown.loc["network [blend]", "seam score (1 = none, > 1 = visible)"] == ""
    )  # NaN: empty, not "nan"
