"""ONNX export (dynamic H / W) of every generator family, ONNX Runtime parity with PyTorch (max |delta| <= 1e-4 at
two sizes), the export-onnx command, and the upscale CLI running an ``.onnx`` file through the tiled inference."""

import numpy as np
import pytest
import torch
from PIL import Image
from test_models import SMALL_GENERATORS

from srlib import cli, models
from srlib.inference import onnx as sr_onnx
from srlib.models import ARCHS

pytestmark = pytest.mark.usefixtures("one_thread")
TOLERANCE = (
    1e-4  # the bound; fp32 re-associations in ONNX Runtime's kernels stay ~1e-6 here
)


def nudged(name):
    torch.manual_seed(0)
    g = ARCHS[name](**SMALL_GENERATORS[name])
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # off the zero-initialised tails, so every layer shows in the output
        for p in g.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    return g.eval()


@pytest.mark.parametrize("name", sorted(SMALL_GENERATORS))
def test_every_family_exports_with_dynamic_shapes_and_matches_pytorch(name, tmp_path):
    g = nudged(name)
    path = sr_onnx.export(g, tmp_path / f"{name}.onnx", arch=name, source="test")
    model = sr_onnx.OnnxGenerator(path)
    assert model.scale == getattr(sr_onnx.exportable(g), "scale", 1) and model.arch == name
    diffs = sr_onnx.parity(g, model, sizes=(16, 28))  # neither the 32^2 it was traced at
    assert max(diffs.values()) <= TOLERANCE, diffs
    x = torch.rand(2, 3, 12, 20)  # batch and a non-square input: every axis is dynamic
    assert model(x).shape == (2, 3, 12 * model.scale, 20 * model.scale)
    assert model.to("cpu") is model and model.to(torch.float32) is model
    with pytest.raises(
        ValueError, match=r"\.onnx: ONNX models run on ONNX Runtime's CPU provider, not cuda"
    ):
        model.to(device="cuda")


def test_export_command_writes_and_checks(tmp_path, capsys):
    ckpt = models.save_generator(tmp_path / "g.pth", nudged("srresnet"))
    assert cli.main(["export-onnx", "--checkpoint", str(ckpt), "-o", str(tmp_path / "g.onnx")]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("ok ") and "max |ONNX - PyTorch|" in out and (tmp_path / "g.onnx").is_file()
    )
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file
    assert cli.main(["export-onnx", "--checkpoint", str(ckpt), "-o", str(tmp_path / "g.bin")]) == 2


def test_upscale_cli_runs_an_onnx_file_like_its_checkpoint(tmp_path, capsys):
    g = nudged("srresnet")
    ckpt = models.save_generator(tmp_path / "g.pth", g)
    sr_onnx.export(g, tmp_path / "g.onnx", arch="srresnet", source=str(ckpt))
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 26, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    outs = {}
    for kind in ("pth", "onnx"):
        dest = tmp_path / f"out_{kind}.png"
        args = [str(tmp_path / "in.png"), "-o", str(dest), "--checkpoint", str(tmp_path / f"g.{kind}"),
                "--tile", "8", "--overlap", "2", "--no-progress"]  # fmt: skip
        assert cli.main(["upscale", *args]) == 0
        outs[kind] = np.asarray(Image.open(dest)).astype(int)
    assert outs["onnx"].shape == (40, 52, 3)
    assert (
        np.abs(outs["onnx"] - outs["pth"]).max() <= 1
    )  # 8-bit outputs: at most one rounding step apart
    rc = cli.main(["upscale", str(tmp_path / "in.png"), "-o", str(tmp_path / "x.png"), "--checkpoint",
                   str(tmp_path / "g.onnx"), "--precision", "bf16", "--no-progress"])  # fmt: skip
    assert rc == 2 and "ONNX models run on the CPU in fp32" in capsys.readouterr().err


def test_an_unreadable_onnx_file_is_named(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not onnx")
    with pytest.raises(ValueError, match="bad.onnx: not a readable ONNX model"):
        sr_onnx.OnnxGenerator(bad)
