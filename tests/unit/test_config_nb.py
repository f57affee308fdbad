"""params.yaml merging, profiles, and the notebook runner's parameter checks."""

import pytest

from srlib import config, nb, paths

PARAMS = {
    "profile": "smoke",
    "common": {"seed": 0, "scale": 4},
    "stage_a": {"lr_g": 1e-4, "iters": 100},
    "profiles": {"smoke": {"stage_a": {"iters": 2}}, "paper": {}},
}


def test_stage_params_merge_order():
    p = config.stage_params("stage_a", params=PARAMS)
    assert p == {"seed": 0, "scale": 4, "lr_g": 1e-4, "iters": 2, "profile": "smoke"}
    assert config.stage_params("stage_a", profile="paper", params=PARAMS)["iters"] == 100


def test_unknown_stage_profile_and_override_are_errors():
    with pytest.raises(config.ParamsError, match="unknown stage 'nope'"):
        config.stage_params("nope", params=PARAMS)
    with pytest.raises(config.ParamsError, match="unknown profile 'fast'"):
        config.stage_params("stage_a", profile="fast", params=PARAMS)
    bad = {**PARAMS, "profiles": {"smoke": {"stage_a": {"itres": 2}}}}
    with pytest.raises(config.ParamsError, match="itres"):
        config.stage_params("stage_a", params=bad)


def test_from_params_builds_dataclasses():
    cfg = config.from_params(config.SRResNetConfig, {"num_feat": 32, "unrelated": 1})
    assert cfg.num_feat == 32 and cfg.num_block == 16


def test_repo_params_cover_every_notebook_parameter():
    """params.yaml sections and notebook parameters cells must not drift apart (both directions)."""
    for stage, notebook in nb.STAGES.items():
        declared = set(nb.notebook_parameters(paths.root() / notebook))
        for profile in config.read_params()["profiles"]:
            given = set(config.stage_params(stage, profile=profile))
            assert given == declared, (stage, profile, given ^ declared)


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
