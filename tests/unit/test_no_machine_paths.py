"""No machine paths in what a reader of the committed results sees, and the source fixes that keep it so.

(a) Every git-tracked text file under ``results/`` (rendered notebooks, metrics JSON, tables, plot CSVs) is scanned
for absolute POSIX paths of a machine (``/work/...``, ``/root/.cache/...``, ``/tmp/...``): papermill metadata, log
lines, weight messages, warnings' source prefixes, echoed ``PosixPath('/...')`` values. Image data in notebooks and
URLs are not paths. No file is exempt.

(b) The sources: ``srlib.paths.shown`` (repo-relative display), folder provenance, weight messages
(``$TORCH_HOME/...``), the fit loop's resume line, warnings in a notebook kernel (``UserWarning: <message>``, once),
the crop viewer's static fallback, and the small display tables that replace echoed dicts.
"""

from __future__ import annotations

import logging
import re
import subprocess
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import srlib
from srlib import paths, tracking, training, viz, weights
from srlib.data import splits

# an absolute path starting at one of these roots, not inside a URL (``https://x.org/home/``), a relative path
# (``data/tmp/``, ``../shared``) or base64 (``+/``, ``//``)
MACHINE_PATH = re.compile(r"(?<![\w.:/~$+-])/(?:work|root|home|tmp|usr|opt|var|check|mnt)/")
# third-party text quoted verbatim, no path of a machine of the study: the Debian copyright files of the photos'
# packages point at /usr/share/common-licenses/ (results/photos/attribution/*-ATTRIBUTION.md)
QUOTED = ("/usr/share/common-licenses/",)
IMAGE_DATA = re.compile(
    r'\s*"image/(?:png|jpeg|gif)":'
)  # a notebook output's base64 image: one JSON line


def machine_paths(text: str) -> list[str]:
    """``"line: excerpt"`` of every line of ``text`` that holds a machine path."""
    hits = []
    for n, line in enumerate(text.splitlines(), 1):
        if IMAGE_DATA.match(line):
            continue
        for m in MACHINE_PATH.finditer(line):
            if not line.startswith(QUOTED, m.start()):
                hits.append(f"{n}: {line.strip()[:200]}")
                break
    return hits


def tracked_results() -> dict[str, list[str]]:
    """``{file: machine_paths}`` of every git-tracked text file under results/ (binary files: figures, skipped)."""
    root = paths.root()
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "results"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout (results are checked where they are committed)")
    found = {}
    for name in filter(None, listed.split("\0")):
        data = (root / name).read_bytes() if (root / name).is_file() else b""
        if b"\0" in data[:8192]:
            continue
        found[name] = machine_paths(data.decode("utf-8", errors="replace"))
    return found


@pytest.fixture(scope="module")
def committed():
    return tracked_results()


def test_the_scan_finds_machine_paths_and_nothing_else():
    text = "\n".join(
        [
            '"output_path": "/work/main/results/smoke/notebooks/10_srgan_train.ipynb",',  # 1
            "/tmp/fc/srlib/weights.py:340: UserWarning: vgg19: not found",  # 2
            "device=cpu run_dir=models/smoke/srgan_train",
            "    \"PosixPath('/root/.cache/torch/hub/checkpoints/x.pth')\"",  # 4
            "folder ../shared/data/photos-train; see https://example.org/home/tmp/x and data/tmp/y",
            "loaded $TORCH_HOME/hub/checkpoints/pt_inception.pth",
            '   "image/png": "iVBORw0KGgo+/tmp/AAA /work/x"',
            'License version 2 can be found in "/usr/share/common-licenses/GPL-2".',
            "see /usr/share/common-licenses/GPL-2 and /usr/local/lib",  # 9: the second one is a path
            "a: /check/run/out.json, b: /mnt/x/, c: /opt/conda/, d: /var/tmp/, e: /home/u/",  # 10
        ]
    )
    assert [h.split(":")[0] for h in machine_paths(text)] == ["1", "2", "4", "9", "10"]


def test_committed_results_name_no_machine(committed):
    dirty = [f"{name}:{hit}" for name, hits in sorted(committed.items()) for hit in hits]
    assert not dirty, (
        "machine paths in committed results (fix the code that wrote them, then re-render):\n"
        + "\n".join(dirty)
    )


# ------------------------------------------------------------------------------------------------ the source fixes


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A project root (``SRLIB_ROOT``) with a folder of photos beside it, as ``../shared/data/photos-train``."""
    root = tmp_path / "main"
    root.mkdir()
    monkeypatch.setenv("SRLIB_ROOT", str(root))
    return root


def test_shown_is_relative_to_the_repository_root(repo):
    assert paths.shown(repo / "models" / "smoke" / "srgan_train") == "models/smoke/srgan_train"
    assert paths.shown(repo.parent / "shared" / "data") == "../shared/data"
    assert paths.shown(repo) == "."
    assert paths.shown("data/smoke") == "data/smoke"  # relative: already relative to the root


def test_folder_split_provenance_is_repo_relative(repo):
    photos = repo.parent / "shared" / "data" / "photos-train"
    photos.mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photos / "a.png")
    prep = splits.prepare_split("train", str(photos), repo / "data" / "x", name="photos-train")
    assert prep.source == "folder ../shared/data/photos-train"
    inside = repo / "data" / "mine"
    inside.mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(inside / "b.png")
    assert (
        splits.prepare_split("bench", str(inside), repo / "x", name="b").source
        == "folder data/mine"
    )


def test_weight_messages_write_the_cache_as_torch_home(torch_home):
    real = str(torch_home.checkpoints)
    with pytest.warns(UserWarning) as caught:
        missing = weights.resolve("vgg19", "auto")
    assert (
        "not found in $TORCH_HOME/hub/checkpoints" in missing.message
        and real not in missing.message
    )
    assert all(real not in str(w.message) for w in caught)
    torch_home.put("vgg19", state_dict={"w": torch.zeros(1)})
    present = weights.resolve("vgg19", "auto")
    assert present.message == "vgg19: loaded $TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth"
    assert present.path == str(
        torch_home.checkpoints / "vgg19-dcbb9e9d.pth"
    )  # the loaders' path stays real


def test_fit_log_line_shows_a_relative_run_dir(repo):
    records: list[str] = []
    logger = logging.getLogger("srlib.test_no_machine_paths")
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    net = torch.nn.Linear(1, 1)
    fit = dict(
        step_fn=lambda step: ({"loss": 0.0}, {}),
        state={"net": net},
        run_dir=repo / "models" / "smoke" / "fit",
        name="fit",
        logger=logger,
        ckpt_interval=2,
    )
    try:
        training.resumable_loop(iters=2, **fit)
        training.resumable_loop(iters=3, **fit)
    finally:
        logger.removeHandler(handler)
    assert "[fit] resumed from models/smoke/fit/last.pth at step 2" in records
    assert not [r for r in records if str(repo) in r]


def test_notebook_warnings_print_without_path_each_message_once(monkeypatch, capsys):
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after the test
    srlib.notebook_warnings()
    srlib.notebook_warnings()  # idempotent: one hook
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # Python itself would now print every call
        for _ in range(3):
            warnings.warn("vgg19: random init", stacklevel=1)
        warnings.warn("singular matrix", RuntimeWarning, stacklevel=1)
        warnings.warn("vgg19: random init", RuntimeWarning, stacklevel=1)  # another category: shown
    assert capsys.readouterr().err == (
        "UserWarning: vgg19: random init\nRuntimeWarning: singular matrix\n"
        "RuntimeWarning: vgg19: random init\n"
    )
    with warnings.catch_warnings():  # the filters decide as before: only the display changed
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="raised"):
            warnings.warn("raised", stacklevel=1)


def test_display_tables_replace_echoed_dicts():
    final = {
        "srresnet": {"val_psnr_y": np.float64(27.35075778), "l_g_gan": np.float32(4.3754989e-4)},
        "iters": np.int64(30),
        "train_minutes": 0.26261,
    }
    table = tracking.metrics_table(final)
    assert table["value"].to_dict() == {
        "srresnet/val_psnr_y": 27.3508,
        "srresnet/l_g_gan": 0.00043755,  # significant digits: a small loss keeps its value
        "iters": 30,
        "train_minutes": 0.26261,
    }
    assert type(table.loc["iters", "value"]) is int  # not 30.0 (an object column)
    status = weights.resolve("vgg19", "random")
    frame = weights.table(
        {"vgg19": status, "sr": status.as_dict() | {"key": "x4", "message": "sr: why"}}
    )
    assert list(frame.columns) == ["key", "mode", "source", "comparable", "message"]
    assert frame.loc["sr", "key"] == "x4" and not frame.loc["vgg19", "comparable"]
    assert frame["message"].to_dict() == {
        "vgg19": "random initialisation (mode 'random')",
        "sr": "why",
    }


# ------------------------------------------------------------------------------------ a real kernel (nbclient)

KERNEL_CELLS = [
    """import warnings

import srlib  # every notebook's first cell imports srlib: that sets up the display

for _ in range(3):
    with warnings.catch_warnings():  # resets Python's once-per-location registry, as libraries do
        warnings.warn("vgg19: not found in $TORCH_HOME/hub/checkpoints")""",
    """import torch
from srlib import viz

g = torch.Generator().manual_seed(0)
pairs = [(f"im{i}", torch.rand(3, 16, 20, generator=g), torch.rand(3, 64, 80, generator=g)) for i in range(3)]
viz.crop_viewer(pairs, {"nearest": lambda lq: torch.nn.functional.interpolate(lq, scale_factor=4)}, size=32,
                static_images=2)""",
]


@pytest.fixture(scope="module")
def kernel_run():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in KERNEL_CELLS]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    return nb


def test_kernel_shows_a_warning_without_its_source_path_once(kernel_run):
    (out,) = kernel_run.cells[0].outputs
    assert out.output_type == "stream" and out.name == "stderr"
    assert out.text == "UserWarning: vgg19: not found in $TORCH_HOME/hub/checkpoints\n"


def test_crop_viewer_renders_a_static_grid_then_the_widget(kernel_run):
    outs = kernel_run.cells[1].outputs
    assert [o.output_type for o in outs] == ["display_data", "display_data"]  # no Out[n] echo
    grid, widget = outs
    png = __import__("base64").b64decode(grid.data["image/png"])
    assert png.startswith(b"\x89PNG") and Image.open(__import__("io").BytesIO(png)).size[0] > 100
    assert "application/vnd.jupyter.widget-view+json" in widget.data
    assert widget.data["text/plain"].startswith("[interactive crop viewer") and "VBox" not in str(
        widget
    )


def test_crop_viewer_opens_on_the_busiest_window():
    g = torch.Generator().manual_seed(1)
    gt = torch.zeros(3, 64, 80)
    gt[:, 30:50, 40:60] = torch.rand(3, 20, 20, generator=g)  # the only texture
    viewer = viz.crop_viewer([("a", gt[:, ::4, ::4], gt)], {"copy": lambda lq: gt[None]}, size=16)
    _, _, sliders, caption, _ = viewer.widget.children
    top, left = (s.value for s in sliders.children)
    assert (top, left) == viz.busiest_box(gt, 16) and 30 <= top + 8 <= 50 and 40 <= left + 8 <= 60
    assert caption.value.startswith("a: copy (crop 16px at")
    with pytest.raises(ValueError, match="static_images"):
        viz.crop_viewer([("a", gt, gt)], {}, static_images=0)
