"""The notebook runner's checks before a kernel starts (types, params.yaml syntax), and how it keeps renderings.

Only ``test_failed_run_keeps_the_last_good_rendering`` executes notebooks: a two-cell temporary one, twice.
"""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import nbformat
import pytest

from srlib import config, nb, paths


def spec(annotation: str, default: str) -> dict:
    """One entry as papermill's ``inspect_notebook`` returns it ("None" is its spelling of no annotation)."""
    return {"inferred_type_name": annotation, "default": default}


@dataclasses.dataclass
class Typed(config.StageConfig):
    STAGE: ClassVar[str] = "typed"

    n: int = 0
    x: float = 0.0
    s: str = ""
    b: bool = False
    layers: tuple[int, ...] = ()
    extra: dict = dataclasses.field(default_factory=dict)


@pytest.mark.parametrize(
    "name, good, bad",
    [
        ("n", [3, 0], [True, 3.0, "3", None, [3]]),
        ("x", [1, 1e-4], [False, "1e-4", None]),
        ("s", ["", "auto"], [1, True, None, ["a"]]),
        ("b", [True, False], [0, 1, "true", None]),
        ("layers", [[], [1, 2], (1,)], ["[1]", 1, {}, [1.5], ["a"]]),
        ("extra", [{}, {"a": 1}], [[], "a"]),
    ],
)
def test_type_rules(name, good, bad):
    """The dataclass's annotations decide (YAML / papermill lists stand for tuples; int is no bool)."""
    for value in good:
        Typed(**{name: value})
    for value in bad:
        with pytest.raises(config.ParamsError, match=f"parameter '{name}' must be"):
            Typed(**{name: value})


def test_every_stage_and_profile_type_checks():
    """params.yaml as committed passes the type check for every stage under every profile (no execution)."""
    for profile in config.read_params()["profiles"]:
        for stage in nb.STAGES:
            notebook, params = nb.prepare(stage, profile=profile)
            assert params["profile"] == profile and notebook.is_file()


@pytest.mark.parametrize("stage", ["srgan_evaluate", "srgan_train"])
def test_cli_rejects_a_wrong_type_naming_it(stage, capsys):
    """(data_prepare takes no ``scale`` at all: there ``-p scale=...`` is an unknown name.)"""
    assert nb.main([stage, "-p", "scale=abc"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"error: {stage}: parameter 'scale' must be int (paper default 4), got str 'abc' (from -p)\n"
    )


def test_wrong_type_in_params_yaml_names_the_section(monkeypatch):
    real = config.read_params()
    bad = {
        **real,
        "srgan_train": {**real["srgan_train"], "lr_g": "fast"},
        "profiles": {
            **real["profiles"],
            "smoke": {**real["profiles"]["smoke"], "srgan_train": {"batch_size": 4.5}},
        },
    }
    monkeypatch.setattr(config, "read_params", lambda path=None: bad)
    with pytest.raises(config.ParamsError) as err:
        nb.prepare("srgan_train", profile="smoke")
    msg = str(err.value)  # the first wrong field in the dataclass's order
    assert "'batch_size' must be int (paper default 16), got float 4.5 (from profile 'smoke'" in msg
    assert "\n" not in msg
    bad["profiles"]["smoke"]["srgan_train"]["batch_size"] = 4
    with pytest.raises(config.ParamsError) as err:
        nb.prepare("srgan_train", profile="smoke")
    assert (
        "parameter 'lr_g' must be float (paper default 0.0001), got str 'fast' (from params.yaml section "
        "'srgan_train')" in str(err.value)
    )


def test_text_parameter_typed_by_yaml_gets_a_quoting_hint():
    with pytest.raises(config.ParamsError, match="got bool True .*quote it"):
        nb.prepare("srgan_modified_train", overrides=dict([nb.parse_override("run_label=yes")]))
    assert nb.parse_override("run_label=") == ("run_label", "")


def test_bad_yaml_is_one_line_with_line_and_column(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("profile: smoke\ncommon:\n  seed: 0\n  scale: 4: x\n")
    with pytest.raises(config.ParamsError) as err:
        config.read_params(params)
    msg = str(err.value)
    assert msg.startswith(
        f"{params}, line 4, column 11: invalid YAML: mapping values are not allowed here"
    )
    assert "near 'scale: 4: x'" in msg and "\n" not in msg


def test_cli_with_broken_params_yaml_prints_one_line(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("profile: smoke\ncommon: [seed: 0\n")
    env = {**os.environ, "SRLIB_ROOT": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "srlib", "nb", "data_prepare"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) <= 2 and lines[0].startswith(
        f"error: {tmp_path / 'params.yaml'}, line 3, column 1: invalid YAML"
    )


# ---------------------------------------------------------------------------------------------------------------------
# renderings: a failed run never replaces the last good one

TINY_PARAMS = """\
profile: smoke
common: {}
tiny:
  fail: false
  label: first
profiles:
  smoke: {}
"""


@dataclasses.dataclass
class TinyConfig(config.StageConfig):
    STAGE: ClassVar[str] = "tiny"

    fail: bool = False
    label: str = "first"


def _tiny_notebook(path: Path) -> None:
    doc = nbformat.v4.new_notebook()
    doc.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    doc.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell(
        'profile: str = "paper"\nfail: bool = False\nlabel: str = "default"'
    )
    params.metadata["tags"] = ["parameters"]
    doc.cells = [
        params,
        nbformat.v4.new_code_cell('if fail:\n    raise RuntimeError(f"asked to fail ({label})")'),
        nbformat.v4.new_code_cell("print(label)"),
    ]
    nbformat.write(doc, str(path))


@pytest.mark.slow
def test_failed_run_keeps_the_last_good_rendering(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text(TINY_PARAMS)
    _tiny_notebook(tmp_path / "tiny.ipynb")
    monkeypatch.setenv("SRLIB_ROOT", str(tmp_path))
    monkeypatch.setattr(nb, "STAGES", {"tiny": "tiny.ipynb"})
    monkeypatch.setattr(nb, "CONFIGS", {"tiny": TinyConfig})
    output = paths.rendered_notebook("smoke", "tiny.ipynb")
    running, failed = nb.rendering_paths(output)
    output.parent.mkdir(parents=True)
    running.write_text("left by a killed run")
    failed.write_text("from an older failure")

    assert nb.run_stage("tiny") == output  # 1: success
    good = output.read_bytes()
    assert (
        b"first" in good and not running.exists() and not failed.exists()
    )  # stale files cleaned up
    meta = nbformat.reads(good.decode(), as_version=4).metadata.papermill
    assert (
        meta.output_path == "results/smoke/notebooks/tiny.ipynb" and meta.input_path == "tiny.ipynb"
    )

    with pytest.raises(nb.NotebookFailed) as err:  # 2: failure
        nb.run_stage("tiny", overrides={"fail": True, "label": "second"})
    msg = str(err.value)
    assert "RuntimeError: asked to fail (second)" in msg and str(failed) in msg
    assert output.read_bytes() == good  # byte-identical
    assert "asked to fail (second)" in failed.read_text() and not running.exists()
    assert sorted(p.name for p in output.parent.iterdir()) == ["tiny.failed.ipynb", "tiny.ipynb"]


def test_injected_values_are_folded_into_the_typed_parameters_cell():
    def cell(src, tag=None):
        return {"cell_type": "code", "metadata": {"tags": [tag] if tag else []}, "source": src}

    params = cell(
        'profile: str = "paper"  # params profile\nscale: int = 4  # factor\nrescale: float = 1 / 12.75  # VGG',
        "parameters",
    )
    injected = cell(
        '# Parameters\nprofile = "smoke"\nscale = 4\nrescale = 0.0784313725490196\n',
        "injected-parameters",
    )
    out = nb.fold_parameters([cell("import x"), params, injected, cell("cfg = 1")])
    assert [c["source"] for c in out[::2]] == ["import x", "cfg = 1"] and len(out) == 3
    assert out[1]["source"] == nb.FOLDED_HEADER + (
        'profile: str = "smoke"  # params profile (default: "paper")\n'
        "scale: int = 4  # factor\n"
        "rescale: float = 0.0784313725490196  # VGG"  # 1 / 12.75: the same value, no default note
    )
    stray = cell('profile = "smoke"\nother = 1\n', "injected-parameters")
    assert nb.fold_parameters([params, stray]) == [
        params,
        stray,
    ]  # a name the cell lacks: left as papermill wrote
