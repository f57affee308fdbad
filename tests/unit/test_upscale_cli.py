"""``python -m srlib upscale``: good files done, bad files named, non-zero exit, nothing overwritten."""

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srlib import cli, models
from srlib.inference import cli as upscale_cli
from srlib.models import SRGANModifiedGenerator

pytestmark = pytest.mark.usefixtures("one_thread")


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def setup(tmp_path):
    torch.manual_seed(0)
    kwargs = dict(num_feat=4, num_block=1, num_up_feat=4, scale=2)
    ckpt = models.save_generator(
        tmp_path / "g.pth",
        SRGANModifiedGenerator(**kwargs),
    )
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(photos / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).save(photos / "gray.png")
    Image.fromarray(rng.integers(0, 256, (20, 24, 4), dtype=np.uint8), mode="RGBA").save(
        photos / "rgba.png"
    )
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, format="JPEG")
    (photos / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (photos / "notes.png").write_text("this is a text file, not a PNG\n")
    return tmp_path, photos, ckpt


def test_folder_with_bad_files(setup, capsys):
    tmp, photos, ckpt = setup
    before = _digests(photos)
    out = tmp / "out"
    args = [
        str(photos),
        "-o",
        str(out),
        "--checkpoint",
        str(ckpt),
        "--tile",
        "12",
        "--overlap",
        "4",
        "--no-progress",
    ]
    assert upscale_cli.main(args) == 1
    err = capsys.readouterr().err
    assert "truncated.jpg" in err and "notes.png" in err
    assert sorted(p.name for p in out.iterdir()) == ["gray.png", "rgb.png", "rgba.png"]
    with Image.open(out / "gray.png") as im:
        assert im.mode == "L" and im.size == (48, 40)
    with Image.open(out / "rgba.png") as im:
        assert im.mode == "RGBA" and im.size == (48, 40)
    with Image.open(out / "rgb.png") as im:
        assert im.mode == "RGB" and im.size == (48, 40)
    assert _digests(photos) == before

    # a second run refuses the existing outputs (named), changes nothing, exits non-zero
    done = _digests(out)
    assert cli.main(["upscale", *args]) == 1
    assert "exists" in capsys.readouterr().err and _digests(out) == done
    assert (
        upscale_cli.main([*args, "--overwrite", "--tiling", "faithful", "--tile", "8"]) == 1
    )  # bad files still bad
    assert _digests(out) != done and _digests(photos) == before


def test_inputs_are_never_overwritten(setup, capsys):
    tmp, photos, ckpt = setup
    before = _digests(photos)
    rc = upscale_cli.main(
        [
            str(photos / "rgb.png"),
            str(photos / "gray.png"),
            "-o",
            str(photos),
            "--checkpoint",
            str(ckpt),
            "--overwrite",
            "--no-progress",
        ]
    )
    assert rc == 1 and "is an input file" in capsys.readouterr().err and _digests(photos) == before
    single = tmp / "single.png"
    assert (
        upscale_cli.main(
            [
                str(photos / "rgb.png"),
                "-o",
                str(single),
                "--checkpoint",
                str(ckpt),
                "--postprocess",
                "match,lowpass,match",
                "--no-progress",
            ]
        )
        == 0
    )
    assert Image.open(single).size == (48, 40)


def test_usage_errors_exit_2(setup, capsys):
    tmp, photos, ckpt = setup
    assert (
        upscale_cli.main(
            [str(photos), "-o", str(tmp / "o"), "--checkpoint", str(tmp / "missing.pth")]
        )
        == 2
    )
    assert "missing.pth" in capsys.readouterr().err
    assert (
        upscale_cli.main(
            [str(photos), "-o", str(tmp / "o"), "--checkpoint", str(ckpt), "--postprocess", "x"]
        )
        == 2
    )


def _save(path, edit=None):
    torch.manual_seed(0)
    kwargs = dict(num_feat=4, num_block=1, num_up_feat=4, scale=2)
    g = SRGANModifiedGenerator(**kwargs)
    if edit is not None:
        with torch.no_grad():
            edit(g)
    return models.save_generator(path, g)


def test_phone_photo_is_upscaled_upright(tmp_path):
    stored = np.random.default_rng(0).integers(
        0, 256, (96, 160, 3), dtype=np.uint8
    )  # 160 wide x 96 high stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to display
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif)
    ckpt = _save(tmp_path / "g.pth")
    out = tmp_path / "out"
    assert (
        upscale_cli.main(
            [
                str(tmp_path / "phone.jpg"),
                "-o",
                str(out),
                "--checkpoint",
                str(ckpt),
                "--no-progress",
            ]
        )
        == 0
    )
    with Image.open(out / "phone.png") as im:
        assert im.size == (192, 320)  # 2 x (96 wide x 160 high)


ONE = ["{tmp}/photos/rgb.png", "-o", "{tmp}/out"]
BAD_OPTIONS = [  # (arguments but --checkpoint, what the message says)
    ([*ONE, "--tile", "-5"], "argument --tile: -5 is negative"),
    ([*ONE, "--tile", "7"], "--tile 7 must be larger than --overlap 32"),
    ([*ONE, "--tile", "32", "--overlap", "32"], "--tile 32 must be larger than --overlap 32"),
    ([*ONE, "--overlap", "-1"], "argument --overlap: -1 is negative"),
    ([*ONE, "--batch", "-1"], "argument --batch: -1 is negative"),
    ([*ONE, "--threads", "0"], "argument --threads: 0 is not >= 1; use 'auto'"),
    (
        [*ONE, "--threads", "many"],
        "argument --threads: 'many' is neither 'auto' nor a whole number",
    ),
    (
        [*ONE, "--radius", "0", "--postprocess", "lowpass"],
        "argument --radius: 0 must be a number > 0",
    ),
    ([*ONE, "--radius", "nan"], "argument --radius: nan must be a number > 0"),
    ([*ONE, "--tiling", "faithful", "--tile", "0"], "--tiling faithful needs --tile > 0"),
    (
        [*ONE, "--postprocess", "match,blur"],
        "argument --postprocess: unknown post-processing step(s) ['blur']",
    ),
    (
        ["{tmp}/photos/rgb.png", "-o", "{tmp}/new.jpg"],
        "outputs are written as PNG or TIFF, not .jpg",
    ),
    (
        ["{tmp}/photos/rgb.png", "{tmp}/photos/gray.png", "-o", "{tmp}/x.png"],
        "names one output file, but the inputs give 2 image(s)",
    ),
    (
        ["{tmp}/photos", "-o", "{tmp}/x.tif"],
        "names one output file, but the inputs give 3 image(s)",
    ),
    (["{tmp}/photos", "-o", "{tmp}/notes.txt"], "is an existing file, not a folder"),
    (
        [*ONE, "--report", "{tmp}/report.txt"],
        "argument --report: '{tmp}/report.txt' is not a .json file",
    ),
    ([*ONE, "--report", "{tmp}/notes.txt/r.json"], "notes.txt is a file, not a folder"),
    ([*ONE, "--report", "{tmp}/photos/rgb.png"], "is not a .json file name"),
]


@pytest.mark.parametrize("argv,message", BAD_OPTIONS, ids=[" ".join(a[1:]) for a, _ in BAD_OPTIONS])
def test_bad_options_are_usage_errors_before_any_work(tmp_path, capsys, argv, message):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("rgb.png", "gray.png", "more.png"):
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(photos / name)
    (tmp_path / "notes.txt").write_text("not a folder\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    argv = [a.format(tmp=tmp_path) for a in argv]
    message = message.format(tmp=tmp_path)
    # a missing checkpoint: the usage error must come first (no model is loaded, nothing is computed)
    assert (
        upscale_cli.main([*argv, "--checkpoint", str(tmp_path / "missing.pth"), "--no-progress"])
        == 2
    )
    err = capsys.readouterr().err
    assert message in err and err.startswith("usage:") and "missing.pth" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing created


def test_unwritable_output_folder_exit_2_before_computing(setup, capsys):
    tmp, photos, ckpt = setup
    (tmp / "afile").write_text("x")
    rc = upscale_cli.main(
        [
            str(photos / "rgb.png"),
            "-o",
            str(tmp / "afile" / "out"),
            "--checkpoint",
            str(ckpt),
            "--no-progress",
        ]
    )
    err = capsys.readouterr()
    assert rc == 2 and f"cannot write to the output folder {tmp / 'afile' / 'out'}" in err.err
    assert "upscaled" not in err.out


def test_nan_checkpoint_is_refused_before_any_work(tmp_path, capsys):
    ckpt = _save(tmp_path / "nan.pth", lambda g: g.conv_last.conv.weight.fill_(float("nan")))
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(tmp_path / "a.png")
    rc = upscale_cli.main(
        [
            str(tmp_path / "a.png"),
            "-o",
            str(tmp_path / "out"),
            "--checkpoint",
            str(ckpt),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert (
        rc == 2 and "nan.pth: 1 weight tensor(s) hold NaN/Inf values (conv_last.conv.weight)" in err
    )
    assert not (tmp_path / "out").exists()


def test_non_finite_output_fails_the_file_and_writes_nothing(tmp_path, capsys):
    # finite weights whose products overflow float32: the output is Inf/NaN, which used to be written as black
    def blow_up(g):
        for name, p in g.named_parameters():
            if name.endswith("conv.weight"):
                p.mul_(1e30)

    ckpt = _save(tmp_path / "overflow.pth", blow_up)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(
        tmp_path / "a.png"
    )
    out = tmp_path / "out"
    rc = upscale_cli.main(
        [str(tmp_path / "a.png"), "-o", str(out), "--checkpoint", str(ckpt), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert (
        rc == 1
        and "a.png: the model's output is not finite (NaN/Inf)" in err
        and "probably corrupt" in err
    )
    assert list(out.iterdir()) == []  # no output, no temporary file


def test_too_small_radius_fails_the_file(setup, capsys):
    tmp, photos, ckpt = setup
    out = tmp / "out"
    rc = upscale_cli.main(
        [
            str(photos / "rgb.png"),
            "-o",
            str(out),
            "--checkpoint",
            str(ckpt),
            "--radius",
            "0.001",
            "--postprocess",
            "lowpass",
            "--no-progress",
        ]
    )
    assert (
        rc == 1
        and "below one frequency bin" in capsys.readouterr().err
        and list(out.iterdir()) == []
    )


def test_streamed_and_in_memory_outputs_are_identical(setup):
    tmp, photos, ckpt = setup
    files = [str(photos / n) for n in ("rgb.png", "gray.png", "rgba.png")]
    common = ["--checkpoint", str(ckpt), "--tile", "12", "--overlap", "4", "--no-progress"]
    assert upscale_cli.main([*files, "-o", str(tmp / "streamed"), *common]) == 0
    assert upscale_cli.main([*files, "-o", str(tmp / "in_memory"), "--in-memory", *common]) == 0
    for name in ("rgb.png", "gray.png", "rgba.png"):
        with Image.open(tmp / "streamed" / name) as a, Image.open(tmp / "in_memory" / name) as b:
            assert a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b)), name


def test_released_model_upscales_out_of_the_box(setup, torch_home, capsys):
    """``--model realesrgan-x4plus``: the real x4plus, converted from its pip wheel on first use (no network)."""
    tmp, photos, ckpt = setup
    one = [str(photos / "rgb.png"), "-o", str(tmp / "real" / "rgb.png")]
    argv = [*one, "--model", "realesrgan-x4plus", "--tile", "16", "--overlap", "4", "--no-progress"]
    assert upscale_cli.main(argv) == 0
    with Image.open(tmp / "real" / "rgb.png") as im:
        assert im.size == (96, 80) and im.mode == "RGB"
    assert "(realesrgan-x4plus, x4, blend tiling), 0 failed" in capsys.readouterr().out
    assert (torch_home.checkpoints / "RealESRGAN_x4plus-ncnn-fp16-c4408345.pth").is_file()
    # exactly one of --model / --checkpoint (usage errors, exit 2)
    assert (
        upscale_cli.main([*one, "--model", "realesr-animevideov3", "--checkpoint", str(ckpt)]) == 2
    )
    assert "not allowed with argument" in capsys.readouterr().err
    assert upscale_cli.main(one) == 2
    assert "one of the arguments --checkpoint --model is required" in capsys.readouterr().err
    assert upscale_cli.main([*one, "--model", "realesrgan-x8"]) == 2
    assert "invalid choice: 'realesrgan-x8'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------------
# --report FILE.json: model, weights, tiling, precision, time and NIQE of every output


def _photo(path, size):
    """A real photo crop (skimage's astronaut) of ``size`` = (height, width): NIQE needs natural statistics."""
    from skimage import data

    Image.fromarray(np.ascontiguousarray(data.astronaut()[: size[0], : size[1]])).save(path)
    return path


def test_report_records_every_output_with_niqe(setup, capsys):
    from srlib.inference import images, report
    from srlib.metrics import niqe

    tmp, photos, ckpt = setup
    big = _photo(photos / "photo.png", (100, 200))  # input 100x200: NIQE needs two 96x96 blocks
    rep = tmp / "reports" / "run.json"
    argv = [str(photos), "-o", str(tmp / "out"), "--checkpoint", str(ckpt), "--report", str(rep)]
    assert (
        upscale_cli.main([*argv, "--tile", "48", "--overlap", "8", "--no-progress"]) == 1
    )  # bad files
    out = capsys.readouterr().out
    assert f"report: {rep}" in out and "NIQE n/a -> n/a" in out  # the 20x24 inputs are too small
    doc = json.loads(rep.read_text())
    assert doc["model"] == "srgan_modified" and doc["scale"] == 2
    assert doc["weights"]["source"] == "checkpoint" and doc["weights"]["sha256"] == _sha(ckpt)
    assert (doc["tile"], doc["overlap"], doc["tiling"]) == (48, 8, "blend")
    assert (doc["precision_requested"], doc["precision_used"]) == ("auto", "fp32")
    assert doc["niqe"]["params"]["sha256"] == niqe.MEMBER_SHA256 and doc["niqe"]["lower_is_better"]
    by_name = {Path(e["input"]).name: e for e in doc["images"]}
    assert set(by_name) == {"photo.png", "rgb.png", "gray.png", "rgba.png"}
    assert sorted(Path(f.split(":")[0]).name for f in doc["failed"]) == [
        "notes.png",
        "truncated.jpg",
    ]
    e = by_name["photo.png"]
    assert e["input_size"] == [200, 100] and e["output_size"] == [400, 200] and e["seconds"] > 0
    gt = niqe.niqe(torch.from_numpy(images.read_image(big)).permute(2, 0, 1)[None] / 255.0)
    assert e["niqe_input"] == pytest.approx(float(gt["niqe"][0]), rel=1e-12)
    assert e["niqe_output"] == pytest.approx(
        report.niqe_of(images.read_image(tmp / "out" / "photo.png"))[0]
    )
    small = by_name["rgb.png"]
    assert small["niqe_input"] is None and "two 96x96 blocks" in small["niqe_notes"]["niqe_input"]


def test_report_of_a_released_model(tmp_path, torch_home, capsys):
    _photo(tmp_path / "small.png", (40, 60))  # x4: output 160x240, input too small for NIQE
    rep = tmp_path / "r.json"
    argv = [
        str(tmp_path / "small.png"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        "realesr-animevideov3",
    ]
    assert upscale_cli.main([*argv, "--report", str(rep), "--no-progress"]) == 0
    doc = json.loads(rep.read_text())
    assert doc["model"] == "realesr-animevideov3" and doc["scale"] == 4
    assert (
        doc["weights"]["key"] == "realesr_animevideov3_ncnn" and doc["weights"]["source"] == "file"
    )
    assert doc["weights"]["comparable"] == "yes, fp16-converted release"
    (e,) = doc["images"]
    assert e["output_size"] == [240, 160] and e["niqe_input"] is None and e["niqe_output"] > 0
    # the report exists now: refused without --overwrite (usage error, before any work), replaced with it
    capsys.readouterr()
    assert upscale_cli.main([*argv, "--report", str(rep), "--no-progress", "--overwrite"]) == 0
    assert upscale_cli.main([*argv, "--report", str(rep)]) == 2
    assert f"--report {rep} exists (pass --overwrite" in capsys.readouterr().err
    assert upscale_cli.main([*argv, "--report", str(tmp_path), "--overwrite"]) == 2  # not .json
    (tmp_path / "dir.json").mkdir()
    assert upscale_cli.main([*argv, "--report", str(tmp_path / "dir.json"), "--overwrite"]) == 2
    assert "is an existing folder" in capsys.readouterr().err


def test_the_ncnn_backend_upscales_like_torch(setup, capsys):
    """``--backend ncnn`` (the default where it applies: an RRDBNet on the CPU) writes what torch writes, to 8-bit
    rounding; the report says which backend ran, with which 3x3 transform; a network ncnn does not run is a usage
    error."""
    pytest.importorskip("ncnn")
    from srlib.inference.ncnn import default_winograd
    from srlib.models import RRDBNet

    tmp, photos, srgan_ckpt = setup
    torch.manual_seed(0)
    ckpt = models.save_generator(tmp / "rrdb.pth", RRDBNet(num_feat=8, num_block=1, num_grow_ch=4))
    one = [
        str(photos / "rgb.png"),
        "--checkpoint",
        str(ckpt),
        "--tile",
        "16",
        "--overlap",
        "4",
        "--no-progress",
    ]
    outs = {}
    for backend in ("torch", "auto"):
        rep = tmp / f"{backend}.json"
        argv = [
            *one,
            "-o",
            str(tmp / backend / "rgb.png"),
            "--backend",
            backend,
            "--report",
            str(rep),
        ]
        assert upscale_cli.main(argv) == 0
        run = json.loads(rep.read_text())
        assert run["backend"] == {"torch": "torch", "auto": "ncnn"}[backend]
        assert run["ncnn_winograd"] == {"torch": None, "auto": default_winograd()}[backend]
        outs[backend] = np.asarray(Image.open(tmp / backend / "rgb.png"), dtype=np.int16)
    assert outs["torch"].shape == (80, 96, 3) and np.abs(outs["torch"] - outs["auto"]).max() <= 1
    capsys.readouterr()
    argv = [
        str(photos / "rgb.png"),
        "-o",
        str(tmp / "x"),
        "--checkpoint",
        str(srgan_ckpt),
        "--backend",
        "ncnn",
    ]
    assert upscale_cli.main([*argv, "--no-progress"]) == 2
    assert "--backend ncnn runs RRDBNet x4 / x8 and SRVGGNetCompact" in capsys.readouterr().err


def test_a_run_leaves_the_callers_threads_as_they_were(setup, capsys):
    """--threads sets torch's and OpenCV's counts for the run only (an in-process caller that forks afterwards would
    otherwise leave its children hanging in OpenMP)."""
    import cv2

    tmp, photos, ckpt = setup
    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        argv = [
            str(photos / "rgb.png"),
            "-o",
            str(tmp / "t" / "rgb.png"),
            "--checkpoint",
            str(ckpt),
        ]
        assert upscale_cli.main([*argv, "--threads", "2", "--no-progress"]) == 0
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (1, 1)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])
