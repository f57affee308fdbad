"""srlib.metrics against scikit-image / an independent BasicSR-style cv2 SSIM / closed forms."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from srlib.metrics import pixel as M


def _pair(b=3, h=40, w=48, noise=30, seed=0, dtype=torch.float64):
    """uint8-derived RGB pairs in [0, 1]: gt random levels, sr = gt + integer noise, clipped."""
    g = torch.Generator().manual_seed(seed)
    gt = torch.randint(0, 256, (b, 3, h, w), generator=g).double()
    sr = (gt + torch.randint(-noise, noise + 1, gt.shape, generator=g)).clamp(0, 255)
    return (sr / 255).to(dtype), (gt / 255).to(dtype)


def _np_view(img: torch.Tensor, crop: int, y_only: bool) -> np.ndarray:
    """(3, H, W) in [0, 1] -> HWC (or HW for Y) on the 255 scale, cropped, for the reference implementations."""
    if crop:
        img = img[:, crop:-crop, crop:-crop]
    hwc = img.permute(1, 2, 0).numpy()
    if y_only:
        return rgb2ycbcr(hwc)[
            ..., 0
        ]  # skimage: Y = 16 + 65.481 R + 128.553 G + 24.966 B, R,G,B in [0, 1]
    return hwc * 255


@pytest.mark.parametrize("crop_border", [0, 4])
@pytest.mark.parametrize("y_only", [False, True])
@pytest.mark.parametrize("precision", ["auto", "float64"])  # auto on float32: the OpenCV paths
def test_psnr_ssim_match_skimage(crop_border, y_only, precision):
    sr, gt = _pair(dtype=torch.float32 if precision == "auto" else torch.float64)
    p = M.psnr(sr, gt, crop_border=crop_border, y_only=y_only, precision=precision)
    s = M.ssim(sr, gt, crop_border=crop_border, y_only=y_only, precision=precision)
    assert p.shape == s.shape == (3,) and p.dtype == s.dtype == torch.float64
    for i in range(3):
        a, b = (_np_view(t[i].double(), crop_border, y_only) for t in (sr, gt))
        ref_p = peak_signal_noise_ratio(b, a, data_range=255)
        ref_s = structural_similarity(
            a,
            b,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
            channel_axis=None if y_only else -1,
        )
        assert abs(p[i].item() - ref_p) < 1e-6
        assert abs(s[i].item() - ref_s) < 1e-6


def test_ssim_matches_basicsr_formula_with_cv2():
    """Independent check of the BasicSR recipe: cv2 Gaussian 11/1.5, filter2D, [5:-5] crop, per-channel mean."""
    cv2 = pytest.importorskip("cv2")
    sr, gt = _pair(b=2, h=33, w=29, seed=1)
    k = cv2.getGaussianKernel(11, 1.5)
    win = k @ k.T
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def ssim_1ch(x, y):
        mx, my = cv2.filter2D(x, -1, win)[5:-5, 5:-5], cv2.filter2D(y, -1, win)[5:-5, 5:-5]
        sxx = cv2.filter2D(x * x, -1, win)[5:-5, 5:-5] - mx**2
        syy = cv2.filter2D(y * y, -1, win)[5:-5, 5:-5] - my**2
        sxy = cv2.filter2D(x * y, -1, win)[5:-5, 5:-5] - mx * my
        return (
            ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
        ).mean()

    ours = M.ssim(sr, gt)
    for i in range(2):
        x, y = (sr[i] * 255).numpy(), (gt[i] * 255).numpy()
        ref = np.mean([ssim_1ch(x[c], y[c]) for c in range(3)])
        assert abs(ours[i].item() - ref) < 1e-6


def test_rgb_to_y_coefficients():
    eye = torch.eye(3, dtype=torch.float64).view(3, 3, 1, 1)  # pure R, G, B
    y = M.rgb_to_y(eye).flatten() * 255
    assert torch.allclose(
        y, torch.tensor([16 + 65.481, 16 + 128.553, 16 + 24.966], dtype=torch.float64)
    )
    assert M.rgb_to_y(torch.zeros(3, 1, 1)).item() * 255 == pytest.approx(16)
    assert M.rgb_to_y(torch.ones(3, 1, 1)).item() * 255 == pytest.approx(235, abs=1e-9)
    rgb = torch.rand(3, 5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    r, g, b = rgb
    expected = (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255
    out = M.rgb_to_y(rgb)
    assert out.shape == (1, 5, 7)
    assert torch.allclose(out[0], expected, atol=1e-15)
    assert np.allclose(
        out[0].numpy() * 255, rgb2ycbcr(rgb.permute(1, 2, 0).numpy())[..., 0], atol=1e-9
    )


def test_bgr_gotcha_changes_y_only():
    sr, gt = _pair(seed=3)
    flip = [2, 1, 0]
    assert torch.allclose(M.psnr(sr[:, flip], gt[:, flip]), M.psnr(sr, gt), atol=1e-12)
    assert torch.allclose(M.ssim(sr[:, flip], gt[:, flip]), M.ssim(sr, gt), atol=1e-12)
    assert not torch.allclose(
        M.psnr(sr[:, flip], gt[:, flip], y_only=True), M.psnr(sr, gt, y_only=True)
    )


def test_psnr_inf_range_and_closed_form():
    sr, gt = _pair(b=2)
    assert torch.isinf(M.psnr(gt, gt)).all()
    assert torch.allclose(M.psnr(sr * 255, gt * 255, data_range=255), M.psnr(sr, gt), atol=1e-9)
    # constant error of one 8-bit level: MSE = 1, PSNR = 20 log10(255)
    g = torch.full((1, 3, 8, 8), 100 / 255, dtype=torch.float64)
    assert M.psnr(g + 1 / 255, g).item() == pytest.approx(20 * math.log10(255), abs=1e-9)
    assert M.ssim(gt, gt).tolist() == pytest.approx([1.0, 1.0], abs=1e-12)


def test_shapes_and_errors():
    sr, gt = _pair(b=1)
    single = M.psnr(sr[0], gt[0])
    assert single.shape == (1,) and single.item() == M.psnr(sr, gt).item()
    assert M.psnr(sr.float(), gt.float()).dtype == torch.float64
    with pytest.raises(ValueError, match="differ"):
        M.psnr(sr, gt[..., :-1])
    with pytest.raises(ValueError, match="crop_border"):
        M.ssim(sr, gt, crop_border=30)
    with pytest.raises(ValueError, match="at least 11"):
        M.ssim(sr[..., :10, :10], gt[..., :10, :10])
    with pytest.raises(ValueError, match="3 channels"):
        M.psnr(sr[:, :1], gt[:, :1], y_only=True)
    with pytest.raises(TypeError):
        M.psnr((sr * 255).to(torch.uint8), gt)


def test_chunking_is_invisible(monkeypatch):
    """The torch path: groups of small images and row blocks (with their 10-row halo) of large ones give the
    per-image values."""
    sr, gt = _pair(b=70, h=16, w=16, seed=4)
    batched = M.ssim(sr, gt, precision="float64")
    single = torch.cat([M.ssim(sr[i], gt[i], precision="float64") for i in range(0, 70, 23)])
    assert torch.allclose(batched[::23], single, atol=1e-14)
    sr, gt = _pair(b=2, h=47, w=33, seed=7)
    whole = M.ssim(sr, gt, y_only=True, precision="float64"), M.ssim(sr, gt, precision="float64")
    monkeypatch.setitem(
        M._CHUNK_PX, "cpu", 3 * 33 * 30
    )  # -> blocks of 20 output rows + a 17-row remainder
    assert torch.allclose(M.ssim(sr, gt, y_only=True, precision="float64"), whole[0], atol=1e-14)
    assert torch.allclose(M.ssim(sr, gt, precision="float64"), whole[1], atol=1e-14)


def _hard_pairs():
    """Pairs where float32 statistics would cancel: flat halves far apart, an inverted image, a collapsed (constant)
    output, a smooth photo-like image with a 1 % offset; float32, as networks write them."""
    g = torch.Generator().manual_seed(3)
    smooth = torch.nn.functional.interpolate(
        torch.rand(2, 3, 9, 9, generator=g), size=(72, 80), mode="bilinear"
    )
    halves = torch.zeros(2, 3, 64, 64)
    halves[..., :32, :] = 0.9
    halves[..., 32:, :] = 0.05
    return {
        "halves": ((halves + 0.01).clamp(0, 1), halves),
        "inverted": (1 - halves, halves),
        "collapsed": (torch.full_like(smooth, 0.5), smooth),
        "offset": ((smooth + 0.01).clamp(0, 1), smooth),
    }


@pytest.mark.parametrize("case", ["halves", "inverted", "collapsed", "offset"])
def test_cpu_fast_paths_equal_the_float64_paths(case):
    sr, gt = _hard_pairs()[case]
    for y_only in (False, True):
        for crop in (0, 3):
            kw = dict(y_only=y_only, crop_border=crop)
            fast, ref = M.ssim(sr, gt, **kw), M.ssim(sr, gt, precision="float64", **kw)
            assert (fast - ref).abs().max() < 1e-12, (y_only, crop)
            fast, ref = M.psnr(sr, gt, **kw), M.psnr(sr, gt, precision="float64", **kw)
            assert (fast - ref).abs().max() < 1e-6, (y_only, crop)
    sk = structural_similarity(*(t[0].permute(1, 2, 0).double().numpy() * 255 for t in (sr, gt)),
                               gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
                               channel_axis=-1)  # fmt: skip
    assert abs(M.ssim(sr, gt)[0].item() - sk) < 1e-6
    with pytest.raises(ValueError, match="precision must be 'auto' or 'float64'"):
        M.ssim(sr, gt, precision="fp16")


def test_inputs_are_not_modified():
    sr, gt = _pair(b=2, seed=8)
    sr0, gt0 = sr.clone(), gt.clone()
    for f in (M.psnr, M.ssim, M.rmse, M.mae, M.ncc):
        f(sr, gt)
        f(sr, gt, y_only=True, crop_border=2)
    assert torch.equal(sr, sr0) and torch.equal(gt, gt0)


def test_rmse_mae():
    sr, gt = _pair(b=2, seed=5)
    d = (sr - gt).numpy().reshape(2, -1)
    assert np.allclose(M.rmse(sr, gt).numpy(), np.sqrt((d**2).mean(1)), atol=1e-14)
    assert np.allclose(M.mae(sr, gt).numpy(), np.abs(d).mean(1), atol=1e-14)
    rmse255 = M.rmse(sr, gt, out_range=255)
    assert torch.allclose(rmse255, 255 * M.rmse(sr, gt))
    assert torch.allclose(M.psnr(sr, gt), 20 * torch.log10(255 / rmse255), atol=1e-9)
    assert torch.allclose(M.mae(sr * 255, gt * 255, data_range=255), M.mae(sr, gt), atol=1e-12)
    assert M.rmse(sr, gt, y_only=True, crop_border=2).shape == (2,)


def test_ncc():
    sr, gt = _pair(b=2, seed=6)
    assert torch.allclose(M.ncc(0.3 * gt + 0.2, gt), torch.ones(2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(M.ncc(-gt, gt), -torch.ones(2, dtype=torch.float64), atol=1e-12)
    ref = [np.corrcoef(sr[i].flatten().numpy(), gt[i].flatten().numpy())[0, 1] for i in range(2)]
    assert np.allclose(M.ncc(sr, gt).numpy(), ref, atol=1e-12)
    flat = torch.full_like(gt, 0.5)
    assert torch.isnan(M.ncc(flat, gt)).all()  # one constant image: undefined
    assert torch.isnan(
        M.ncc(flat, flat.clone())
    ).all()  # both constant and equal: also NaN (documented)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    sr, gt = _pair(b=2)
    for f in (M.psnr, M.ssim):
        assert torch.allclose(
            f(sr.cuda(), gt.cuda(), y_only=True).cpu(), f(sr, gt, y_only=True), atol=1e-10
        )


def test_cpu_fast_paths_take_tensors_that_require_grad():
    sr, gt = _pair(b=1, dtype=torch.float32)
    sr.requires_grad_(True)
    for f in (M.psnr, M.ssim, M.rmse):
        for y_only in (False, True):
            assert torch.isfinite(f(sr, gt, y_only=y_only)).all()


def test_compiled_ssim_threads_layouts_and_dtypes():
    """The compiled pass: the same bits on 1 and 3 threads; a cropped (non-contiguous) or float64 input and a plane
    narrower than tall agree with the torch float64 path; a kernel that is not 11 symmetric taps is refused."""
    from srlib.metrics import ssim_kernel

    sr, gt = _pair(b=4, h=37, w=29, seed=11, dtype=torch.float32)
    torch.set_num_threads(1)
    try:
        one = M.ssim(sr, gt)
        torch.set_num_threads(3)
        assert torch.equal(M.ssim(sr, gt), one)
    finally:
        torch.set_num_threads(1)
    for kw in (dict(crop_border=2), dict(crop_border=3, y_only=True)):
        assert (
            M.ssim(sr, gt, **kw) - M.ssim(sr, gt, precision="float64", **kw)
        ).abs().max() < 1e-13
    assert (M.ssim(sr.double(), gt.double()) - one).abs().max() < 1e-13
    x = np.zeros((1, 1, 12, 12))
    with pytest.raises(ValueError, match="11 symmetric taps"):
        ssim_kernel.plane_means(x, x, np.arange(11.0), 1e-4, 9e-4)


def test_without_numba_ssim_takes_the_torch_path(monkeypatch):
    import srlib.metrics

    sr, gt = _pair(b=2, dtype=torch.float32)
    fast = M.ssim(sr, gt)
    monkeypatch.delattr(srlib.metrics, "ssim_kernel", raising=False)
    monkeypatch.setitem(sys.modules, "srlib.metrics.ssim_kernel", None)  # import -> ImportError
    with pytest.warns(UserWarning, match="numba is not installed"):
        slow = M.ssim(sr, gt)
    assert (slow - fast).abs().max() < 1e-13


def test_compiled_ssim_gives_the_same_bits_on_a_baseline_x86_target(tmp_path):
    """No fastmath, no FMA contraction: the value must not depend on the vector width. The module is compiled again
    for numba's 'generic' CPU (SSE2 only) in a fresh process without torch, and must give the same bits."""
    path = Path(M.__file__).with_name("ssim_kernel.py")
    code = f"""
import importlib.util, sys, numpy as np
spec = importlib.util.spec_from_file_location("k", {str(path)!r}); k = importlib.util.module_from_spec(spec)
spec.loader.exec_module(k)
g = np.random.default_rng(5); x = g.random((2, 3, 40, 52)).astype(np.float32)
y = np.clip(x + g.normal(0, 0.05, x.shape), 0, 1).astype(np.float32)
w = np.exp(-((np.arange(11) - 5) ** 2) / 4.5); w /= w.sum()
print(k.plane_means(x, y, w, 1e-4, 9e-4).tobytes().hex())
"""
    runs = {}
    for cpu in ("host", "generic"):
        env = os.environ | {"NUMBA_CACHE_DIR": str(tmp_path / cpu)}
        env.pop("NUMBA_CPU_NAME", None)
        if cpu == "generic":
            env["NUMBA_CPU_NAME"] = "generic"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        runs[cpu] = out.stdout.strip()
    assert runs["host"] == runs["generic"] and len(runs["host"]) == 2 * 6 * 8
