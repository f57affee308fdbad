"""``python -m srlib upscale``: good files done, bad files named, non-zero exit, nothing overwritten."""

import hashlib
import io

import numpy as np
import pytest
import torch
from PIL import Image

from srlib import cli, evaluate, upscale_cli
from srlib.models import SRGANModifiedGenerator

pytestmark = pytest.mark.usefixtures("one_thread")


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def setup(tmp_path):
    torch.manual_seed(0)
    kwargs = dict(num_feat=4, num_block=1, num_up_feat=4, scale=2)
    ckpt = evaluate.save_generator(tmp_path / "g.pth", SRGANModifiedGenerator(**kwargs), arch="srgan_modified",
                                   arch_kwargs=kwargs)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(photos / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).save(photos / "gray.png")
    Image.fromarray(rng.integers(0, 256, (20, 24, 4), dtype=np.uint8), mode="RGBA").save(photos / "rgba.png")
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, format="JPEG")
    (photos / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (photos / "notes.png").write_text("this is a text file, not a PNG\n")
    return tmp_path, photos, ckpt


def test_folder_with_bad_files(setup, capsys):
    tmp, photos, ckpt = setup
    before = _digests(photos)
    out = tmp / "out"
    args = [str(photos), "-o", str(out), "--checkpoint", str(ckpt), "--tile", "12", "--overlap", "4", "--no-progress"]
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
    assert upscale_cli.main([*args, "--overwrite", "--tiling", "faithful", "--tile", "8"]) == 1  # bad files still bad
    assert _digests(out) != done and _digests(photos) == before


def test_inputs_are_never_overwritten(setup, capsys):
    tmp, photos, ckpt = setup
    before = _digests(photos)
    rc = upscale_cli.main([str(photos / "rgb.png"), str(photos / "gray.png"), "-o", str(photos), "--checkpoint",
                           str(ckpt), "--overwrite", "--no-progress"])
    assert rc == 1 and "is an input file" in capsys.readouterr().err and _digests(photos) == before
    single = tmp / "single.png"
    assert upscale_cli.main([str(photos / "rgb.png"), "-o", str(single), "--checkpoint", str(ckpt),
                             "--postprocess", "match,lowpass,match", "--no-progress"]) == 0
    assert Image.open(single).size == (48, 40)


def test_usage_errors_exit_2(setup, capsys):
    tmp, photos, ckpt = setup
    assert upscale_cli.main([str(photos), "-o", str(tmp / "o"), "--checkpoint", str(tmp / "missing.pth")]) == 2
    assert "missing.pth" in capsys.readouterr().err
    assert upscale_cli.main([str(photos), "-o", str(tmp / "o"), "--checkpoint", str(ckpt), "--postprocess", "x"]) == 2
