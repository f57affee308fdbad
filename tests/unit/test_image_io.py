"""Image files: EXIF orientation on every read, the streaming PNG writer, and streamed == in-memory upscaling."""

import struct
import zlib

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from srlib.data import images as data
from srlib.inference import arrays, images, tiling
from srlib.models import SRGANModifiedGenerator

pytestmark = pytest.mark.usefixtures("one_thread")

CASES = {  # name -> (shape, dtype): every layout the CLI keeps
    "rgb8": ((37, 53, 3), np.uint8),
    "rgb16": ((37, 53, 3), np.uint16),
    "gray8": ((37, 53), np.uint8),
    "gray16": ((37, 53), np.uint16),
    "la8": ((37, 53, 2), np.uint8),
    "la16": ((37, 53, 2), np.uint16),
    "rgba8": ((37, 53, 4), np.uint8),
    "rgba16": ((37, 53, 4), np.uint16),
}


def _array(name, seed=0):
    shape, dtype = CASES[name]
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)


def _exif(orientation):
    ex = Image.Exif()
    ex[data.EXIF_ORIENTATION] = orientation
    return ex


def _with_exif_chunk(png: bytes, orientation: int) -> bytes:
    """``png`` with an eXIf chunk after IHDR (PIL cannot write 16-bit colour PNGs, OpenCV writes no EXIF)."""
    body = _exif(orientation).tobytes()[
        6:
    ]  # the chunk holds the TIFF structure without the "Exif\0\0" prefix
    chunk = (
        struct.pack(">I", len(body))
        + b"eXIf"
        + body
        + struct.pack(">I", zlib.crc32(body, zlib.crc32(b"eXIf")))
    )
    end_of_ihdr = 8 + 8 + 13 + 4
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]


# ---------------------------------------------------------------------------------------------- EXIF orientation


def test_phone_jpeg_orientation_6_is_upright_in_both_readers(tmp_path):
    stored = np.zeros(
        (96, 160, 3), np.uint8
    )  # 160 wide x 96 high as stored; the camera was held upright
    stored[:8, :8] = 255  # a marker in the stored top-left corner
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=_exif(6), quality=95)
    arr = images.read_image(tmp_path / "phone.jpg")
    assert arr.shape == (160, 96, 3)  # 96 wide x 160 high
    assert (
        arr[:8, -8:].mean() > 200 and arr[:8, :8].mean() < 50
    )  # turned clockwise: the marker is top-right
    img = data.load_image(tmp_path / "phone.jpg")
    assert img.shape == (3, 160, 96)
    np.testing.assert_allclose(img.numpy().transpose(1, 2, 0), arr / 255.0, atol=1e-6)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pil_exif_transpose(tmp_path, orientation):
    arr = _array("rgb8")
    Image.fromarray(arr).save(tmp_path / "o.png", exif=_exif(orientation))
    with Image.open(tmp_path / "o.png") as im:
        want = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(images.read_image(tmp_path / "o.png"), want)
    np.testing.assert_array_equal(data.apply_orientation(arr, orientation), want)
    assert np.allclose(data.load_image(tmp_path / "o.png").numpy().transpose(1, 2, 0), want / 255.0)


def test_orientation_of_16_bit_colour_read_with_opencv(tmp_path):
    arr = _array("rgb16")
    ok, png = cv2.imencode(".png", cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
    assert ok
    (tmp_path / "o6.png").write_bytes(_with_exif_chunk(png.tobytes(), 6))
    back = images.read_image(tmp_path / "o6.png")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, np.rot90(arr, -1))  # all 16 bits, turned clockwise


# ------------------------------------------------------------------------------------------- streaming PNG writer


@pytest.mark.parametrize("name", list(CASES))
def test_png_writer_decodes_exactly_with_pil_and_opencv(tmp_path, name):
    arr = _array(name)
    path = tmp_path / f"{name}.png"
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    with images.PNGWriter(path, arr.shape[1], arr.shape[0], channels, arr.dtype) as png:
        for r0, r1 in [
            (0, 1),
            (1, 11),
            (11, 11),
            (11, 37),
        ]:  # uneven bands: the Up filter spans band edges
            png.write(arr[r0:r1])
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # the temporary file is gone
    cv = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if channels == 2:  # OpenCV expands grey + alpha to BGRA with equal colour channels
        assert (cv[..., 0] == cv[..., 1]).all() and (cv[..., 0] == cv[..., 2]).all()
        cv = cv[..., [0, 3]]
    elif channels >= 3:
        cv = cv2.cvtColor(cv, cv2.COLOR_BGRA2RGBA if channels == 4 else cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(cv, arr)
    with Image.open(path) as im:
        im.load()
        if (
            arr.dtype == np.uint8 or channels == 1
        ):  # PIL holds 16-bit grey but truncates 16-bit colour to 8 bits
            assert (
                im.mode
                == {1: "L" if arr.dtype == np.uint8 else "I;16", 2: "LA", 3: "RGB", 4: "RGBA"}[
                    channels
                ]
            )
            np.testing.assert_array_equal(np.asarray(im), arr)
    np.testing.assert_array_equal(images.read_image(path), arr)  # including 16-bit grey + alpha


def test_png_writer_leaves_nothing_on_failure(tmp_path):
    arr = _array("rgb8")
    with pytest.raises(ValueError, match="10 of 37 rows"):
        with images.PNGWriter(tmp_path / "short.png", 53, 37, 3, np.uint8) as png:
            png.write(arr[:10])
    with pytest.raises(RuntimeError, match="boom"):
        with images.PNGWriter(tmp_path / "boom.png", 53, 37, 3, np.uint8) as png:
            png.write(arr[:10])
            raise RuntimeError("boom")
    with pytest.raises(ValueError, match=r"rows of shape \(n, 53, 3\) uint8"):
        with images.PNGWriter(tmp_path / "wrong.png", 53, 37, 3, np.uint8) as png:
            png.write(arr.astype(np.uint16))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ streamed == the previous in-memory path


def _previous_upscale_array(arr, model, **kwargs):
    """The in-memory path before streaming: a float copy of the whole input (padded whole for faithful tiling), the
    whole float output, and alpha resized over the whole image."""
    maxv = float(np.iinfo(arr.dtype).max)
    a3 = arr[..., None] if arr.ndim == 2 else arr
    c = a3.shape[2]
    gray = c in (1, 2)
    color = a3[..., :1] if gray else a3[..., :3]
    lq = torch.from_numpy(np.ascontiguousarray(color.transpose(2, 0, 1))).float().div_(maxv)
    if gray:
        lq = lq.expand(3, -1, -1)
    sr = tiling.upscale(model, lq, **kwargs)
    if gray:
        sr = (sr * torch.tensor(arrays._LUMA).view(3, 1, 1)).sum(0, keepdim=True)
    out = np.empty((sr.shape[1], sr.shape[2], c), arr.dtype)
    out[..., : sr.shape[0]] = (
        sr.clamp(0, 1).mul(maxv).round().permute(1, 2, 0).numpy().astype(arr.dtype)
    )
    if c in (2, 4):
        out[..., -1] = cv2.resize(
            np.ascontiguousarray(a3[..., -1]), out.shape[1::-1], interpolation=cv2.INTER_CUBIC
        )
    return out


def _previous_png(arr, path):
    """What the previous ``write_image`` wrote: OpenCV, BGR(A) order, grey + alpha as BGRA."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 2:
        arr = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGBA2BGRA if arr.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), arr)


def _decoded(path):
    """(OpenCV's, PIL's) decoding as RGB(A) arrays; grey + alpha as RGBA (the previous writer's layout)."""
    cv = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    with Image.open(path) as im:
        pil = np.asarray(im.convert("RGBA") if im.mode == "LA" else im)
    return cv, pil


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return SRGANModifiedGenerator(num_feat=4, num_block=1, num_up_feat=4, scale=2).eval()


@pytest.mark.parametrize("mode,tile,overlap", [("blend", 16, 6), ("faithful", 16, 0)])
@pytest.mark.parametrize("name", list(CASES))
def test_streamed_png_equals_the_previous_in_memory_output(
    tmp_path, net, name, mode, tile, overlap
):
    arr = _array(name)
    kwargs = dict(
        tile=tile, overlap=overlap, mode=mode, batch_size=2
    )  # batches change float round-off: same for all
    ref = _previous_upscale_array(arr, net, **kwargs)
    np.testing.assert_array_equal(arrays.upscale_array(arr, net, **kwargs).reshape(ref.shape), ref)
    streamed, in_memory, previous = (
        tmp_path / "streamed.png",
        tmp_path / "in_memory.png",
        tmp_path / "previous.png",
    )
    assert arrays.upscale_file(arr, net, streamed, **kwargs) == (
        ref.shape[:2] if arr.ndim == 2 else ref.shape
    )
    arrays.upscale_file(arr, net, in_memory, in_memory=True, **kwargs)
    _previous_png(ref, previous)
    want_cv, want_pil = _decoded(previous)
    for path in (streamed, in_memory):
        cv, pil = _decoded(path)
        np.testing.assert_array_equal(cv, want_cv)
        np.testing.assert_array_equal(pil, want_pil)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_alpha_in_bands_equals_the_whole_image_resize(dtype, scale):
    rng = np.random.default_rng(scale)
    alpha = rng.random((41, 29)).astype(np.float32)
    if dtype != np.float32:
        alpha = (alpha * np.iinfo(dtype).max).round().astype(dtype)
    whole = cv2.resize(alpha, (29 * scale, 41 * scale), interpolation=cv2.INTER_CUBIC)
    for band in (1, 7, 256):
        rows = [
            arrays._alpha_rows(alpha, scale, r0, min(r0 + band, 41 * scale))
            for r0 in range(0, 41 * scale, band)
        ]
        np.testing.assert_array_equal(np.concatenate(rows), whole)
