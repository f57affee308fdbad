"""Tests for srlib.data.degradations: MATLAB bicubic against published MATLAB outputs; properties."""

import math

import cv2
import numpy as np
import pytest
import torch

from srlib.data import degradations as deg

# --------------------------------------------------------------------------------------------------
# MATLAB reference values
# --------------------------------------------------------------------------------------------------
# Source: GNU Octave image package, inst/imresize.m (2022 rewrite by Christof Kaufmann; read in
# the GitHub mirror tojtoj/octave-image @ a8dc36b), %!test block "Test bicubic interpolations
# against some reference results from matlab". The expected uint8 images are MATLAB's
# imresize(uint8(in), s, "bicubic", ...). MATLAB's uint8 path rounds after each 1-D pass (height
# first), so our float64 result is within one grey level and imresize_np(uint8) is bit-exact.
OCTAVE_IN = [
    [116, 227, 153, 69, 146, 194, 59, 130, 139, 106],
    [2, 47, 137, 249, 90, 75, 16, 24, 158, 44],
    [155, 68, 46, 84, 166, 156, 69, 204, 32, 152],
    [71, 221, 137, 230, 210, 153, 192, 115, 30, 118],
    [107, 143, 108, 52, 51, 73, 101, 21, 175, 90],
    [54, 158, 143, 77, 26, 168, 113, 229, 165, 225],
    [9, 47, 133, 135, 130, 207, 236, 43, 19, 73],
    [129, 60, 59, 243, 64, 181, 249, 56, 32, 86],
]
MATLAB_BICUBIC = {
    # (scale, antialias): expected uint8 output
    (1.5, True): [
        [116, 187, 237, 171, 94, 61, 135, 191, 187, 75, 91, 142, 140, 124, 108],
        [43, 92, 143, 149, 164, 163, 119, 123, 118, 44, 38, 80, 151, 118, 62],
        [13, 21, 47, 107, 195, 228, 115, 81, 70, 24, 19, 56, 137, 105, 48],
        [146, 98, 49, 49, 71, 107, 148, 159, 132, 58, 124, 176, 61, 85, 146],
        [118, 139, 144, 92, 116, 168, 201, 188, 159, 140, 167, 158, 27, 69, 153],
        [61, 151, 218, 145, 174, 219, 201, 164, 146, 187, 148, 84, 48, 76, 115],
        [102, 132, 151, 119, 90, 72, 72, 72, 83, 114, 60, 31, 144, 130, 80],
        [81, 121, 154, 133, 87, 41, 19, 67, 116, 95, 108, 140, 183, 180, 163],
        [37, 95, 152, 150, 117, 73, 35, 108, 179, 130, 174, 214, 153, 176, 219],
        [3, 29, 73, 131, 136, 120, 116, 162, 214, 229, 147, 54, 35, 62, 96],
        [67, 54, 51, 83, 153, 187, 111, 141, 210, 255, 149, 22, 13, 42, 74],
        [142, 99, 53, 43, 164, 237, 77, 103, 197, 254, 159, 42, 31, 59, 91],
    ],
    (0.5, False): [
        [92, 164, 123, 38, 118],
        [139, 116, 188, 167, 69],
        [121, 87, 67, 108, 180],
        [54, 153, 141, 149, 42],
    ],
    (0.5, True): [
        [105, 140, 126, 81, 109],
        [110, 134, 153, 114, 93],
        [108, 108, 94, 127, 146],
        [67, 126, 162, 149, 62],
    ],
    (4 / 3, True): [
        [116, 203, 221, 141, 62, 110, 180, 191, 70, 104, 143, 136, 111, 106],
        [26, 78, 126, 156, 200, 139, 103, 103, 33, 28, 92, 158, 67, 46],
        [51, 35, 51, 112, 195, 146, 101, 87, 29, 57, 100, 114, 81, 74],
        [159, 110, 63, 50, 82, 148, 179, 152, 83, 173, 147, 27, 143, 170],
        [70, 171, 189, 134, 217, 226, 193, 158, 186, 157, 83, 25, 114, 135],
        [91, 152, 162, 116, 118, 114, 102, 98, 138, 65, 60, 127, 92, 84],
        [90, 130, 144, 111, 52, 24, 50, 101, 94, 86, 129, 190, 146, 135],
        [41, 114, 157, 139, 89, 37, 82, 178, 125, 192, 203, 154, 213, 227],
        [4, 33, 89, 141, 127, 118, 151, 213, 232, 119, 35, 34, 81, 92],
        [88, 61, 54, 97, 203, 129, 115, 203, 255, 119, 18, 24, 70, 81],
        [147, 91, 43, 68, 247, 125, 80, 191, 255, 130, 33, 37, 83, 94],
    ],
    (1 / 3, False): [
        [47, 90, 24, 44],
        [143, 51, 21, 90],
        [60, 64, 56, 86],
    ],
    (1 / 3, True): [
        [115, 135, 97, 101],
        [113, 119, 124, 125],
        [81, 157, 118, 64],
    ],
}


@pytest.mark.parametrize("key", list(MATLAB_BICUBIC), ids=str)
def test_imresize_matches_matlab_uint8(key):
    scale, antialias = key
    expected = np.array(MATLAB_BICUBIC[key], dtype=np.float64)
    img = torch.tensor(OCTAVE_IN, dtype=torch.float64)[None, None] / 255  # (1, 1, 8, 10)
    out = deg.imresize(img, scale, antialias=antialias)[0, 0].numpy()
    assert out.shape == expected.shape
    ours = np.clip(np.round(out * 255), 0, 255)
    assert np.abs(ours - expected).max() <= 1
    # the uint8 numpy path repeats MATLAB's per-pass uint8 rounding and is bit-exact
    u8 = deg.imresize_np(np.array(OCTAVE_IN, np.uint8), scale, antialias=antialias)
    assert u8.dtype == np.uint8
    np.testing.assert_array_equal(u8, expected)


def test_imresize_matches_matlab_float():
    # Same Octave file, "check resizing of row and col rgb images": a 1x2 image [10, 6] resized to
    # 3x3 with "cubic" gives [10.27777777777777, 8, 5.72222222222222] per row ("values from MATLAB")
    expected = np.array([10.27777777777777, 8, 5.72222222222222])
    row = torch.tensor([[10.0, 6.0]], dtype=torch.float64).expand(3, 1, 2)  # (C=3, 1, 2)
    out = deg.imresize(row, size=(3, 3)).numpy()
    np.testing.assert_allclose(out, np.broadcast_to(expected, (3, 3, 3)), atol=1e-13, rtol=0)
    col = row.transpose(1, 2)  # (3, 2, 1)
    out = deg.imresize(col, size=(3, 3)).numpy()
    np.testing.assert_allclose(
        out, np.broadcast_to(expected[:, None], (3, 3, 3)), atol=1e-13, rtol=0
    )


# --------------------------------------------------------------------------------------------------
# Hand-derived kernels (exact dyadic / rational numbers from the MATLAB definition)
# --------------------------------------------------------------------------------------------------
# cubic(t) = 1.5|t|^3 - 2.5|t|^2 + 1 (|t| <= 1), -0.5|t|^3 + 2.5|t|^2 - 4|t| + 2 (1 < |t| <= 2):
#   cubic(1/4, 3/4, 5/4, 7/4) = 111/128, 29/128, -9/128, -3/128
#   cubic(1/8, 3/8, ..., 15/8) = 987, 745, 399, 93, -49, -75, -45, -7 (all / 1024)
#   cubic(0, 1/3, 2/3, 1, 4/3, 5/3) = 1, 7/9, 1/3, 0, -2/27, -1/27
# With antialias, 1/s downscaling uses s * cubic(s * d), whose taps already sum to 1.
C4 = np.array([111, 29, -9, -3]) / 128
C8 = np.array([987, 745, 399, 93, -49, -75, -45, -7]) / 1024


def _sym(half):  # [a, b, c] -> [c, b, a, a, b, c]
    return np.concatenate([half[::-1], half])


def _weights_t(n_in, n_out):
    """(n_in, n_out) transposed weight matrix of the width pass: resize the identity."""
    eye = torch.eye(n_in, dtype=torch.float64)[None, None]
    return deg.imresize(eye, size=(n_in, n_out))[0, 0].numpy()


@pytest.mark.parametrize(
    ("n_in", "n_out", "o", "first_tap", "taps"),
    [
        # x1/2: output o samples 0-based c = 2o + 0.5, 8 taps
        (32, 16, 7, 11, _sym(C4) / 2),
        # x1/4: c = 4o + 1.5, 16 taps
        (48, 12, 5, 14, _sym(C8) / 4),
        # x1/3: c = 3o + 1, taps at integer distances -5..5
        (
            36,
            12,
            5,
            11,
            np.array([-1 / 27, -2 / 27, 0, 1 / 3, 7 / 9, 1, 7 / 9, 1 / 3, 0, -2 / 27, -1 / 27]) / 3,
        ),
        # x2: c = o/2 - 0.25; o = 2k (c = k - 1/4) uses k-2..k+1
        (16, 32, 14, 5, np.array([-3, 29, 111, -9]) / 128),
        (16, 32, 15, 6, np.array([-9, 111, 29, -3]) / 128),
        # x4: c = o/4 - 3/8; o = 4k (c = k - 3/8) and o = 4k + 1 (c = k - 1/8) use k-2..k+1
        (16, 64, 32, 6, np.array([-45, 399, 745, -75]) / 1024),
        (16, 64, 33, 6, np.array([-7, 93, 987, -49]) / 1024),
    ],
)
def test_imresize_interior_kernels(n_in, n_out, o, first_tap, taps):
    wt = _weights_t(n_in, n_out)
    expected = np.zeros(n_in)
    expected[first_tap : first_tap + len(taps)] = taps
    np.testing.assert_allclose(wt[:, o], expected, atol=1e-15)


def test_imresize_symmetric_boundary():
    # x1/2, first output: c = 0.5, taps at j = -3..4 fold as -1->0, -2->1, -3->2 (edge repeated).
    wt = _weights_t(16, 8)
    expected = np.zeros(16)
    expected[:5] = np.array([111 + 29, 111 - 9, 29 - 3, -9, -3]) / 256
    np.testing.assert_allclose(wt[:, 0], expected, atol=1e-15)
    # x2, first output: c = -0.25, taps j = -2..1 -> [1, 0, 0, 1]
    wt = _weights_t(8, 16)
    expected = np.zeros(8)
    expected[:2] = np.array([111 + 29, -3 - 9]) / 128
    np.testing.assert_allclose(wt[:, 0], expected, atol=1e-15)


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 4, 0.37, 1.5])
def test_imresize_constant(scale):
    const = torch.full((2, 3, 12, 20), 0.3, dtype=torch.float64)
    out = deg.imresize(const, scale)
    torch.testing.assert_close(out, torch.full_like(out, 0.3))


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 4, 1.5])
def test_imresize_ramp(scale):
    # A ramp f(j) = j stays linear away from the borders: out[o] = c(o) = (o + 0.5)/s - 0.5.
    # Exact for any upscale (the a=-0.5 cubic reproduces linears) and for integer downscales
    # (symmetric taps); not for e.g. scale 0.37, whose stretched-kernel taps are not symmetric.
    n = 48
    ramp = torch.arange(n, dtype=torch.float64).expand(1, 1, 4, n)
    out = deg.imresize(ramp, (1, scale))[0, 0, 0].numpy()
    assert out.size == math.ceil(n * scale)
    c = (np.arange(out.size) + 0.5) / scale - 0.5
    reach = 2 / min(scale, 1) + 1
    interior = (c > reach) & (c < n - 1 - reach)
    assert interior.sum() >= 3
    np.testing.assert_allclose(out[interior], c[interior], atol=1e-12)


@pytest.mark.parametrize(
    ("shape", "scale", "size", "expected"),
    [
        ((8, 10), 1 / 3, None, (3, 4)),
        ((8, 10), 4 / 3, None, (11, 14)),
        ((5, 7), 2, None, (10, 14)),
        ((5, 7), (2, 0.5), None, (10, 4)),
        ((5, 7), None, (9, 3), (9, 3)),
    ],
)
def test_imresize_output_size(shape, scale, size, expected):
    out = deg.imresize(torch.rand(1, 3, *shape), scale, size=size)
    assert out.shape == (1, 3, *expected)


def test_imresize_argument_errors():
    img = torch.rand(3, 8, 8)
    with pytest.raises(ValueError):
        deg.imresize(img)
    with pytest.raises(ValueError):
        deg.imresize(img, 0.5, size=(4, 4))
    with pytest.raises(TypeError):
        deg.imresize(img.to(torch.uint8), 0.5)


# --------------------------------------------------------------------------------------------------
# Scalar-loop reference, written straight from MATLAB's imresize.m (contributions + resizeAlongDim)
# --------------------------------------------------------------------------------------------------


def _ref_cubic(t):
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


def _ref_resize_1d(v, out_len, scale, antialias):
    n = len(v)
    width = 4.0 / scale if (antialias and scale < 1) else 4.0
    aux = list(range(1, n + 1)) + list(range(n, 0, -1))  # MATLAB's symmetric index map
    out = []
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        idx = [left + p for p in range(math.ceil(width) + 2)]
        if antialias and scale < 1:
            w = [scale * _ref_cubic(scale * (u - i)) for i in idx]
        else:
            w = [_ref_cubic(u - i) for i in idx]
        total = sum(w)
        out.append(sum(wk / total * v[aux[(i - 1) % (2 * n)] - 1] for wk, i in zip(w, idx)))
    return out


def _ref_imresize(a, out_h, out_w, antialias=True):
    h, w = a.shape
    rows = np.array([_ref_resize_1d(list(r), out_w, out_w / w, antialias) for r in a])  # (h, out_w)
    return np.array([_ref_resize_1d(list(c), out_h, out_h / h, antialias) for c in rows.T]).T


@pytest.mark.parametrize(
    ("size", "antialias"),
    [
        ((7, 9), True),
        ((5, 6), True),
        ((4, 5), True),
        ((9, 11), False),
        ((26, 34), True),
        ((52, 17), True),
    ],
)
def test_imresize_matches_scalar_reference(size, antialias):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(13, 17, generator=g, dtype=torch.float64)
    ours = deg.imresize(a[None, None], size=size, antialias=antialias)[0, 0].numpy()
    ref = _ref_imresize(a.numpy(), *size, antialias=antialias)
    np.testing.assert_allclose(ours, ref, atol=1e-10, rtol=0)


# --------------------------------------------------------------------------------------------------
# SR protocols and the other degradations
# --------------------------------------------------------------------------------------------------


def test_mod_crop_and_bicubic_downscale():
    gt = torch.rand(2, 3, 50, 37)
    assert deg.mod_crop(gt, 4).shape == (2, 3, 48, 36)
    lq = deg.bicubic_downscale(gt, 4)
    assert lq.shape == (2, 3, 12, 9)
    torch.testing.assert_close(lq, deg.imresize(gt[..., :48, :36], 1 / 4))
    assert deg.bicubic_downscale(torch.rand(3, 300, 300), 3).shape == (3, 100, 100)


def test_bilinear_resize_cv2_equals_opencv():
    img = torch.rand(2, 3, 256, 200)
    out = deg.bilinear_resize_cv2(img, (64, 50))
    assert out.shape == (2, 3, 64, 50)
    for b in range(2):
        ref = cv2.resize(
            np.ascontiguousarray(img[b].permute(1, 2, 0).numpy()),
            (50, 64),
            interpolation=cv2.INTER_LINEAR,
        )
        np.testing.assert_array_equal(out[b].permute(1, 2, 0).numpy(), ref)
    assert deg.bilinear_resize_cv2(torch.rand(1, 9, 7), (18, 14)).shape == (1, 18, 14)


def test_nearest_upsample():
    img = torch.rand(3, 4, 5)
    out = deg.nearest_upsample(img, 3)
    assert out.shape == (3, 12, 15)
    torch.testing.assert_close(out[:, ::3, ::3], img)
    torch.testing.assert_close(out[:, 2::3, 1::3], img)
    with pytest.raises(ValueError):
        deg.nearest_upsample(img, 1.5)


def test_gaussian_kernel():
    k = deg.gaussian_kernel2d(9, 1.6)
    assert k.shape == (9, 9) and k.dtype == torch.float32
    assert k.sum().item() == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(k, k.flip(0))
    torch.testing.assert_close(k, k.flip(1))
    torch.testing.assert_close(k, k.T)
    assert k.argmax().item() == 40  # the centre
    with pytest.raises(ValueError):
        deg.gaussian_kernel2d(8, 1.0)
    with pytest.raises(ValueError):
        deg.gaussian_kernel2d(7, 0.0)


def test_gaussian_blur():
    const = torch.full((2, 3, 16, 16), 0.7)
    torch.testing.assert_close(deg.gaussian_blur(const, 2.0), const)
    img = torch.rand(2, 3, 16, 16)
    per_image = deg.gaussian_blur(img, torch.tensor([0.8, 2.0]), size=9)
    torch.testing.assert_close(per_image[0], deg.gaussian_blur(img[0], 0.8, size=9))
    torch.testing.assert_close(per_image[1], deg.gaussian_blur(img[1:], 2.0, size=9)[0])
    assert img.std() > per_image[0].std() > per_image[1].std()
    with pytest.raises(ValueError):
        deg.gaussian_blur(img, torch.tensor([1.0, 2.0, 3.0]))


def test_blur_downscale_determinism():
    gt = torch.rand(4, 3, 24, 24)

    def draw(seed):
        return deg.blur_downscale(
            gt, 4, generator=torch.Generator().manual_seed(seed), sigma_range=(0.2, 3.0)
        )

    a, b, c = draw(1), draw(1), draw(2)
    assert a.shape == (4, 3, 6, 6)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)
    fixed = deg.blur_downscale(gt, 3, 1.6, size=7, padding="replicate")
    torch.testing.assert_close(
        fixed, deg.imresize(deg.gaussian_blur(gt, 1.6, 7, padding="replicate"), 1 / 3)
    )
    with pytest.raises(ValueError):
        deg.blur_downscale(gt, 4, sigma_range=(0.2, 3.0))  # no generator
    with pytest.raises(ValueError):
        deg.blur_downscale(gt, 4)


def test_add_gaussian_noise():
    img = torch.full((2, 3, 64, 64), 0.5)
    a = deg.add_gaussian_noise(img, 0.1, generator=torch.Generator().manual_seed(0))
    b = deg.add_gaussian_noise(img, 0.1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - img).std().item() == pytest.approx(0.1, rel=0.05)
    per = deg.add_gaussian_noise(
        img, torch.tensor([0.0, 0.2]), generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(per[0], img[0]) and (per[1] - img[1]).std().item() == pytest.approx(
        0.2, rel=0.05
    )


def test_jpeg():
    img = deg.quantize(torch.rand(2, 3, 32, 32))
    out = deg.jpeg(img, 75)
    assert out.shape == img.shape and out.dtype == torch.float32
    torch.testing.assert_close(out, deg.quantize(out))  # on the 8-bit grid
    assert (deg.jpeg(img, 100) - img).abs().mean() < (deg.jpeg(img, 10) - img).abs().mean()
    smooth = deg.quantize(deg.gaussian_blur(torch.rand(3, 32, 32), 3.0))
    assert (deg.jpeg(smooth, 95) - smooth).abs().max() < 0.05  # RGB stays RGB (no BGR swap)
    assert deg.jpeg(torch.rand(1, 16, 16), 50).shape == (1, 16, 16)
    for bad in (101, -1, 50.0, "50", True):
        with pytest.raises(ValueError, match="quality"):
            deg.jpeg(img, bad)


def test_quantize():
    x = torch.tensor([-0.2, 0.0, 0.5, 0.999, 1.3])
    q = deg.quantize(x)
    torch.testing.assert_close(q * 255, (q * 255).round())
    assert q.min() == 0 and q.max() == 1
    assert q[2].item() == pytest.approx(128 / 255)


def _noise(x):
    return deg.add_gaussian_noise(x, 0.05, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    ("fn", "out_hw"),
    [
        (lambda x: deg.imresize(x, 0.5), (8, 12)),
        (lambda x: deg.imresize(x, 2), (32, 48)),
        (lambda x: deg.bicubic_downscale(x, 4), (4, 6)),
        (lambda x: deg.bilinear_resize_cv2(x, (8, 12)), (8, 12)),
        (lambda x: deg.nearest_upsample(x, 2), (32, 48)),
        (lambda x: deg.gaussian_blur(x, 1.0), (16, 24)),
        (lambda x: deg.blur_downscale(x, 2, 1.0), (8, 12)),
        (_noise, (16, 24)),
        (lambda x: deg.jpeg(x, 50), (16, 24)),
        (deg.quantize, (16, 24)),
    ],
)
def test_shapes_and_dtypes_3d_4d(fn, out_hw):
    x4 = torch.rand(2, 3, 16, 24)
    y4 = fn(x4)
    assert y4.shape == (2, 3, *out_hw) and y4.dtype == torch.float32
    y3 = fn(x4[0])
    assert y3.shape == (3, *out_hw) and y3.dtype == torch.float32
    if fn is not _noise:  # the noise of a batch of 1 need not equal the batch's first draw
        torch.testing.assert_close(y3, y4[0])


def test_imresize_np():
    arr = np.random.default_rng(0).random((10, 12, 3)).astype(np.float32)
    out = deg.imresize_np(arr, 0.5)
    assert out.shape == (5, 6, 3) and out.dtype == np.float32
    expected = deg.imresize(torch.from_numpy(arr).permute(2, 0, 1), 0.5).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert deg.imresize_np(arr[..., 0], 2).shape == (20, 24)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    img = torch.rand(2, 3, 32, 40)
    for fn in (
        lambda x: deg.imresize(x, 1 / 3),
        lambda x: deg.imresize(x, 4),
        lambda x: deg.gaussian_blur(x, 1.5),
    ):
        out = fn(img.cuda())
        assert out.is_cuda
        torch.testing.assert_close(out.cpu(), fn(img), atol=1e-5, rtol=0)
    g = torch.Generator(device="cuda").manual_seed(0)
    assert deg.add_gaussian_noise(img.cuda(), 0.1, generator=g).is_cuda
