"""params.yaml merging, the stage config dataclasses, and the notebook runner's parameter checks."""

import ast
import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import ClassVar

import pytest

from srlib import config, nb, paths


@dataclass
class StageA(config.StageConfig):
    STAGE: ClassVar[str] = "stage_a"
    SECTIONS: ClassVar[tuple[str, ...]] = ("shared", "stage_a")
    COMMON: ClassVar[tuple[str, ...]] = ("seed",)

    seed: int = 0
    lr_g: float = 1e-4
    iters: int = 100
    layers: tuple[int, ...] = (1, 2)

    def check(self):
        if self.iters < 0:
            raise config.ParamsError(
                f"{self.STAGE}: parameter 'iters' must be >= 0, got {self.iters}"
            )


PARAMS = {
    "profile": "smoke",
    "common": {"seed": 0, "scale": 4},
    "shared": {"lr_g": 1e-4, "layers": [1, 2]},
    "stage_a": {"iters": 100},
    "profiles": {"smoke": {"shared": {"lr_g": 1e-3}, "stage_a": {"iters": 2}}, "paper": {}},
}


def test_stage_config_params_merge_order_and_common_keys():
    values, sources = config.stage_config_params(StageA, params=PARAMS)
    assert values == {
        "seed": 0,
        "lr_g": 1e-3,
        "layers": [1, 2],
        "iters": 2,
        "profile": "smoke",
    }  # no 'scale'
    assert sources["lr_g"] == "profile 'smoke' (params.yaml profiles.smoke.shared)"
    assert config.stage_config_params(StageA, profile="paper", params=PARAMS)[0]["iters"] == 100
    cfg = config.build(StageA, values, sources)
    assert cfg.layers == (1, 2) and cfg.lr_g == 1e-3  # YAML lists become the annotated tuples


def test_unknown_section_profile_override_and_values_are_errors():
    with pytest.raises(config.ParamsError, match="no section 'shared'"):
        config.stage_config_params(
            StageA, params={k: v for k, v in PARAMS.items() if k != "shared"}
        )
    with pytest.raises(config.ParamsError, match="unknown profile 'fast'"):
        config.stage_config_params(StageA, profile="fast", params=PARAMS)
    bad = {**PARAMS, "profiles": {"smoke": {"stage_a": {"itres": 2}}}}
    with pytest.raises(config.ParamsError, match="itres"):
        config.stage_config_params(StageA, params=bad)
    with pytest.raises(
        config.ParamsError,
        match=r"'iters' must be int \(paper default 100\), got str 'abc' \(from -p\)",
    ):
        config.build(StageA, {"iters": "abc"}, {"iters": "-p"})
    with pytest.raises(config.ParamsError, match="'layers' must be tuple"):
        StageA(layers=(1, "x"))
    with pytest.raises(config.ParamsError, match="'iters' must be >= 0"):
        StageA(iters=-1)
    with pytest.raises(config.ParamsError, match=r"unknown parameter\(s\) \['bogus'\]"):
        config.build(StageA, {"bogus": 1})


def _parameters_cell(notebook) -> dict[str, tuple[str, object]]:
    """``{name: (annotation text, default value)}`` of a notebook's parameters cell."""
    doc = json.loads((paths.root() / notebook).read_text())
    cell = next(c for c in doc["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    out = {}
    src = "".join(cell["source"])
    for node in ast.parse(src).body:
        assert isinstance(node, ast.AnnAssign), (
            f"{notebook}: parameters cell lines must be `name: type = value`"
        )
        value = eval(
            compile(ast.Expression(node.value), notebook, "eval"), {"__builtins__": {}}
        )  # constants only
        out[node.target.id] = (ast.unparse(node.annotation), value)
    return out


def _same_type(annotation: str, hint) -> bool:
    """A parameters-cell annotation names the dataclass field's type (lists stand for the dataclass's tuples)."""
    if typing.get_origin(hint) is tuple:
        return annotation.startswith(("list", "tuple"))
    return annotation == getattr(hint, "__name__", str(hint))


@pytest.mark.parametrize("stage", sorted(nb.STAGES))
def test_dataclass_params_yaml_and_parameters_cell_agree(stage):
    """Names, types and defaults: the dataclass, params.yaml (paper sections) and the notebook hold the same."""
    cls = nb.CONFIGS[stage]
    hints = typing.get_type_hints(cls)
    fields = {f.name: f.default for f in dataclasses.fields(cls)}
    cell = _parameters_cell(nb.STAGES[stage])
    assert set(cell) == set(fields), f"{stage}: notebook vs dataclass: {set(cell) ^ set(fields)}"
    paper, _ = config.stage_config_params(cls, profile="paper")
    assert set(paper) == set(fields), (
        f"{stage}: params.yaml vs dataclass: {set(paper) ^ set(fields)}"
    )
    for name, default in fields.items():
        annotation, cell_default = cell[name]
        assert _same_type(annotation, hints[name]), (stage, name, annotation, hints[name])
        if name == "profile":
            continue
        as_field = tuple(cell_default) if isinstance(default, tuple) else cell_default
        assert as_field == default, (
            f"{stage}.{name}: notebook default {cell_default!r} != dataclass {default!r}"
        )
        yaml_value = tuple(paper[name]) if isinstance(default, tuple) else paper[name]
        assert (
            yaml_value == pytest.approx(default)
            if isinstance(default, float)
            else yaml_value == default
        ), f"{stage}.{name}: params.yaml {paper[name]!r} != dataclass default {default!r}"


@pytest.mark.parametrize("stage", sorted(nb.STAGES))
def test_every_profile_builds_its_config(stage):
    for profile in config.read_params()["profiles"]:
        values, sources = config.stage_config_params(nb.CONFIGS[stage], profile=profile)
        config.build(nb.CONFIGS[stage], values, sources)


def test_night2day_stages_refuse_another_scale():
    for stage in (
        "night2day_data",
        "night2day_m1",
        "night2day_m2",
        "night2day_m3",
        "night2day_evaluate",
    ):
        with pytest.raises(config.ParamsError, match=r"common.scale=2 cannot be honoured: .* x4"):
            nb.prepare(stage, profile="smoke", overrides={"scale": 2})
    nb.prepare("srgan_train", profile="smoke", overrides={"scale": 2})  # SRGAN honours x2


def test_cli_refuses_another_scale_for_night2day(capsys):
    assert nb.main(["night2day_m1", "-p", "scale=2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "common.scale=2" in err[0]


def test_runner_refuses_unknown_parameter_before_running():
    with pytest.raises(config.ParamsError, match="bogus"):
        nb.run_stage("data_prepare", overrides={"bogus": 1})


def test_parse_override_types():
    assert nb.parse_override("iters=3") == ("iters", 3)
    assert nb.parse_override("lr_g=1e-4") == ("lr_g", 1e-4)
    assert nb.parse_override("train_dir=../x") == ("train_dir", "../x")
    with pytest.raises(config.ParamsError):
        nb.parse_override("iters")


def test_cli_reports_unknown_parameter(capsys):
    assert nb.main(["data_prepare", "-p", "bogus=1"]) == 2
    assert "bogus" in capsys.readouterr().err


def test_dvc_stages_depend_on_exactly_the_params_their_config_takes():
    import yaml

    stages = yaml.safe_load((paths.root() / "dvc.yaml").read_text())["stages"]
    for stage, cls in nb.CONFIGS.items():
        want = [
            "profile",
            *(f"common.{k}" for k in cls.COMMON),
            *cls.sections(),
            "profiles.${profile}",
        ]
        assert stages[stage]["params"] == want, stage
