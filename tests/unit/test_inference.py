"""Tiled inference: layout, exactness of blending, seams, bounded memory, grey / alpha / 16-bit images."""

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srlib import precision
from srlib.data.images import ImageReadError
from srlib.inference import arrays, images, layout, tiling
from srlib.models import SRGANModifiedGenerator

pytestmark = pytest.mark.usefixtures("one_thread")


class Nearest(nn.Module):
    """A 'network' whose correct output is known exactly: nearest-neighbour upsampling."""

    def __init__(self, scale=2):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")


class SmallRF(nn.Module):
    """Fixed receptive field: two 3x3 convs (+-2 LR px) with zero padding, nearest x2, one 3x3 conv (+-1 HR px)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.scale = 2
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1)
        )
        self.tail = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x):
        return self.tail(F.interpolate(self.body(x), scale_factor=2, mode="nearest"))


def _smooth(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.avg_pool2d(torch.rand(1, 3, h + 4, w + 4, generator=g), 5, 1)[0]  # (3, h, w)


def _psnr(a, b):
    return 10 * math.log10(1 / float(((a - b) ** 2).mean()))


@pytest.mark.parametrize(
    "length,tile,overlap", [(100, 64, 32), (150, 64, 16), (65, 64, 8), (1000, 256, 32), (30, 64, 8)]
)
def test_spans_cover_with_at_least_the_overlap(length, tile, overlap):
    sp = layout.spans(length, tile, overlap)
    assert sp[0][0] == 0 and sp[-1][1] == length
    assert all(b - a <= tile for a, b in sp) and len({b - a for a, b in sp}) == 1
    assert all(sp[i][1] - sp[i + 1][0] >= overlap for i in range(len(sp) - 1))


@pytest.mark.parametrize(
    "mode,tile,overlap", [("blend", 16, 6), ("blend", 24, 8), ("faithful", 16, 0)]
)
def test_tiles_are_placed_and_normalised_exactly(mode, tile, overlap):
    lq = torch.rand(3, 37, 53)
    out = tiling.upscale(Nearest(2), lq, tile=tile, overlap=overlap, mode=mode, batch_size=3)
    torch.testing.assert_close(out, F.interpolate(lq[None], scale_factor=2, mode="nearest")[0])


def test_one_tile_is_the_network_output_and_reaches_a_sink_in_order():
    """An image that is one tile (``tile=0``, or not larger than the tile): the network's output, bit for bit, in
    300 rows > the 256-row slices a sink gets."""
    lq = _smooth(150, 70)
    net = SmallRF().eval()
    with torch.no_grad():
        ref = net(lq[None])[0]
    for tile in (0, 256):
        assert torch.equal(tiling.upscale(net, lq, tile=tile), ref)
    rows, counts = [], []
    tiling.upscale(net, lq, sink=lambda r0, b: rows.append((r0, b.clone())), on_tiles=counts.append)
    assert [r0 for r0, _ in rows] == [0, 256] and counts == [1]
    assert torch.equal(torch.cat([b for _, b in rows], dim=1), ref)


def test_blended_tiles_match_untiled_inference():
    lq = _smooth(60, 90)
    net = SmallRF().eval()
    ref = tiling.upscale(net, lq, tile=0)
    tiled = tiling.upscale(
        net, lq, tile=32, overlap=16, mode="blend"
    )  # dead zone 4 px >= reach 2 px
    assert _psnr(tiled, ref) >= 50
    g = SRGANModifiedGenerator(num_feat=8, num_block=1, num_up_feat=8, scale=2).eval()
    ref = tiling.upscale(g, lq, tile=0)
    assert _psnr(tiling.upscale(g, lq, tile=48, overlap=32), ref) >= 50


def test_faithful_tiling_shows_seams_blending_does_not():
    lq = _smooth(64, 96, seed=1)
    torch.manual_seed(0)
    g = SRGANModifiedGenerator(num_feat=8, num_block=1, num_up_feat=8, scale=2).eval()
    faithful = tiling.upscale(g, lq, tile=32, mode="faithful")
    blend = tiling.upscale(g, lq, tile=32, overlap=16, mode="blend")
    untiled = tiling.upscale(g, lq, tile=0)
    s_f = layout.seam_score(
        faithful, *layout.seam_lines(64, 96, scale=2, tile=32, overlap=0, mode="faithful")
    )
    s_b = layout.seam_score(
        blend, *layout.seam_lines(64, 96, scale=2, tile=32, overlap=16, mode="blend")
    )
    s_u = layout.seam_score(
        untiled, *layout.seam_lines(64, 96, scale=2, tile=32, overlap=0, mode="faithful")
    )
    assert s_f > 2 * s_b and s_b < 1.3 and s_u < 1.3


def test_seam_score_detects_a_step():
    img = torch.rand(3, 40, 40) * 0.1
    img[:, :, 20:] += 0.5
    assert layout.seam_score(img, [], [20]) > 10
    assert layout.seam_score(img, [20], []) == pytest.approx(1, abs=0.3)


def test_memory_is_bounded_to_a_batch_and_a_band():
    calls = []

    class Spy(Nearest):
        def forward(self, x):
            calls.append(x.shape[0])
            return super().forward(x)

    rows = []
    lq = torch.rand(3, 70, 90)
    assert (
        tiling.upscale(
            Spy(2),
            lq,
            tile=20,
            overlap=4,
            batch_size=2,
            sink=lambda r0, b: rows.append((r0, b.shape)),
        )
        is None
    )
    assert max(calls) <= 2
    assert [r0 for r0, _ in rows] == sorted(r0 for r0, _ in rows) and rows[0][0] == 0
    assert sum(s[1] for _, s in rows) == 140 and all(s[1] <= 40 and s[2] == 180 for _, s in rows)


def test_precision_falls_back_to_fp32_on_cpu():
    cpu = torch.device("cpu")
    assert (
        precision.autocast_dtype("auto", cpu) is None
        and precision.autocast_dtype("fp32", cpu) is None
    )
    with pytest.warns(UserWarning, match="fp32"):
        assert precision.autocast_dtype("fp16", cpu) is None
    with pytest.warns(UserWarning, match="fp32"):
        out = tiling.upscale(Nearest(2), torch.rand(3, 8, 8), tile=0, precision="bf16")
    assert out.dtype == torch.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gray_rgba_and_16_bit_arrays(dtype):
    maxv = np.iinfo(dtype).max
    rng = np.random.default_rng(0)
    gray = rng.integers(0, maxv + 1, (9, 13), dtype=dtype)
    out = arrays.upscale_array(gray, Nearest(2), tile=8, overlap=2)
    assert out.dtype == dtype and out.shape == (18, 26)
    np.testing.assert_array_equal(out, gray.repeat(2, 0).repeat(2, 1))  # exact: 16 bits are kept
    rgba = rng.integers(0, maxv + 1, (9, 13, 4), dtype=dtype)
    out = arrays.upscale_array(rgba, Nearest(2), tile=8, overlap=2)
    assert out.shape == (18, 26, 4) and out.dtype == dtype
    np.testing.assert_array_equal(out[..., :3], rgba[..., :3].repeat(2, 0).repeat(2, 1))
    want_alpha = cv2.resize(
        np.ascontiguousarray(rgba[..., 3]), (26, 18), interpolation=cv2.INTER_CUBIC
    )
    np.testing.assert_array_equal(out[..., 3], want_alpha)  # alpha: bicubic, not the network
    la = rgba[..., [0, 3]]
    assert arrays.upscale_array(la, Nearest(2), tile=0).shape == (18, 26, 2)


def test_read_write_roundtrip_keeps_depth_and_channels(tmp_path):
    rng = np.random.default_rng(1)
    cases = {
        "rgb16.png": rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16),
        "rgba16.png": rng.integers(0, 65536, (5, 7, 4), dtype=np.uint16),
        "gray16.png": rng.integers(0, 65536, (5, 7), dtype=np.uint16),
        "rgba8.png": rng.integers(0, 256, (5, 7, 4), dtype=np.uint8),
        "la8.png": rng.integers(0, 256, (5, 7, 2), dtype=np.uint8),
        "la16.png": rng.integers(0, 65536, (5, 7, 2), dtype=np.uint16),
        "gray8.png": rng.integers(0, 256, (5, 7), dtype=np.uint8),
        "rgb16.tif": rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16),
    }
    for name, arr in cases.items():
        images.write_image(arr.copy(), tmp_path / name)
        back = images.read_image(tmp_path / name)
        assert back.dtype == arr.dtype and np.array_equal(back, arr), (
            name
        )  # PNG keeps grey + alpha as such
    la = cases["la8.png"]
    images.write_image(
        la.copy(), tmp_path / "la8.tif"
    )  # OpenCV writes grey + alpha as BGRA: RGBA, equal colours
    back = images.read_image(tmp_path / "la8.tif")
    assert back.shape == (5, 7, 4) and np.array_equal(back[..., [0, 3]], la)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*cases, "la8.tif"]
    )  # no temporary files left
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(ImageReadError, match="bad.png"):
        images.read_image(tmp_path / "bad.png")


@pytest.mark.parametrize("mode,tile,overlap", [("blend", 16, 6), ("faithful", 16, 0)])
def test_integer_inputs_are_converted_tile_by_tile_exactly(mode, tile, overlap):
    """uint8 / uint16 / an expanded grey view go in as they are (no float copy of the image): same output as floats,
    including faithful tiling's white padding (255 / 65535 -> 1.0)."""
    g = SRGANModifiedGenerator(num_feat=4, num_block=1, num_up_feat=4, scale=2).eval()
    rng = np.random.default_rng(0)
    for dtype, maxv in ((np.uint8, 255.0), (np.uint16, 65535.0)):
        arr = rng.integers(0, int(maxv) + 1, (3, 37, 53)).astype(dtype)
        ints = torch.from_numpy(arr)
        want = tiling.upscale(g, ints.float().div_(maxv), tile=tile, overlap=overlap, mode=mode)
        torch.testing.assert_close(
            tiling.upscale(g, ints, tile=tile, overlap=overlap, mode=mode), want, rtol=0, atol=0
        )
        grey = ints[:1].expand(3, -1, -1)
        want = tiling.upscale(g, grey.float().div_(maxv), tile=tile, overlap=overlap, mode=mode)
        torch.testing.assert_close(
            tiling.upscale(g, grey, tile=tile, overlap=overlap, mode=mode), want, rtol=0, atol=0
        )
    with pytest.raises(ValueError, match="max_value"):
        tiling.upscale(g, torch.zeros(3, 8, 8, dtype=torch.int32), tile=0)


def _nan_generator():
    g = SRGANModifiedGenerator(num_feat=4, num_block=1, num_up_feat=4, scale=2).eval()
    with torch.no_grad():
        g.conv_last.conv.weight.fill_(float("nan"))
    return g


def test_non_finite_output_raises_instead_of_writing_black(tmp_path):
    g = _nan_generator()
    with pytest.raises(
        ValueError,
        match=r"not finite \(NaN/Inf\) for the tile at input rows 0-13, columns 0-13.*corrupt",
    ):
        tiling.upscale(g, torch.rand(3, 30, 30), tile=16, overlap=4, batch_size=1)
    arr = np.random.default_rng(0).integers(0, 256, (30, 30, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="weights are probably corrupt"):
        arrays.upscale_array(arr, g, tile=16, overlap=4)
    with pytest.raises(ValueError, match="weights are probably corrupt"):
        arrays.upscale_file(arr, g, tmp_path / "out.png", tile=16, overlap=4)
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary file
    with pytest.raises(ValueError, match="input holds NaN"):
        tiling.upscale(Nearest(2), torch.full((3, 8, 8), float("nan")), tile=0)
