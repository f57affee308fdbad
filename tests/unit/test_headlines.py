"""The metrics files DVC shows hold a short headline in shared columns; the full record sits beside them."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from srlib import headlines, paths, tracking

ROOT = paths.find_root()


def _record(tmp_path, monkeypatch, stage="srgan_train"):
    monkeypatch.setenv("SRLIB_ROOT", str(tmp_path))
    monkeypatch.setenv(
        "SRLIB_GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)"
    )
    metrics = {"srresnet": {"val_psnr_y": 29.864118, "val_gain_db": 1.2511622}, "srgan": {}}
    path = paths.metrics_file("t", stage)
    tracking.write_metrics(
        path,
        metrics,
        stage=stage,
        profile="t",
        data={"name": "x", "proxy": True},
        config={"num_feat": 32},
    )
    return path


def test_write_metrics_puts_the_headline_where_dvc_looks_and_the_record_beside_it(
    tmp_path, monkeypatch
):
    path = _record(tmp_path, monkeypatch)
    assert json.loads(path.read_text()) == {
        "commit": "0123456+",
        "gain_db": 1.251,
        "psnr_y": 29.864,
    }
    details = json.loads(paths.details_of(path).read_text())
    assert details["config"] == {"num_feat": 32} and details["labels"][0].startswith("PROXY DATA")
    assert tracking.read_metrics(path) == details == tracking.read_metrics(paths.details_of(path))


def test_a_headline_refuses_a_key_outside_the_shared_columns(monkeypatch):
    monkeypatch.setitem(headlines.STAGES, "x", lambda m: {"fid": 3.0})
    with pytest.raises(ValueError, match=r"keys \['fid'\] are not in srlib.headlines.COLUMNS"):
        headlines.headline("x", {"metrics": {}, "git_commit": "abc"})


def _hallucination_set(psnr_y: float, gain: float, n: int) -> dict:
    """One evaluation set of a hallucination_evaluate record, as srlib.hallucination.evaluate.metrics writes it."""
    comp = {
        "mean_diff": gain,
        "ci_low": gain - 0.25,
        "ci_high": gain + 0.5,
        "p_wilcoxon": 0.01,
        "n": n,
    }
    return {
        "rows": {
            "bicubic": {"psnr_y": psnr_y - gain, "n": n},
            "ours_z0": {"psnr_y": psnr_y, "n": n},
            "ours_z": {"psnr_y": psnr_y - 1.0, "n": n},
        },
        "paired": {
            "ours_z0_vs_bicubic_psnr_y": comp,
            "ours_z0_vs_srgan_psnr_y": dict(comp, mean_diff=9.0),
            "ours_z0_vs_bicubic_ssim_y": dict(comp, mean_diff=0.1),
        },
        "diversity": {},
        "ablation": {},
    }


def test_hallucination_headline_is_ours_at_z0_against_bicubic_on_faces_else_bench():
    faces = _hallucination_set(21.08349, 2.97051, 40)
    bench = _hallucination_set(18.5, -1.25, 7)
    record = {"metrics": {"bench": bench, "faces": faces}, "git_commit": "fedcba9876543210 (clean)"}
    assert headlines.headline("hallucination_evaluate", record) == {
        "ci_high": 3.471,  # 2.97051 + 0.5, rounded to 1/1000 dB
        "ci_low": 2.721,  # 2.97051 - 0.25
        "commit": "fedcba9",
        "gain_db": 2.971,
        "n": 40,
        "psnr_y": 21.083,
    }
    del record["metrics"]["faces"]  # a run without the face set: the benchmark crops
    assert headlines.headline("hallucination_evaluate", record) == {
        "ci_high": -0.75,
        "ci_low": -1.5,
        "commit": "fedcba9",
        "gain_db": -1.25,
        "n": 7,
        "psnr_y": 18.5,
    }
    # the training stage's headline is its commit alone
    assert headlines.headline("hallucination_train", {"metrics": {"ours": {"iters": 4}}}) == {
        "commit": "unknown"
    }


def test_degradation_matrix_headline_is_the_diagonal_against_bicubic_on_the_first_block():
    psnr = {
        "trained on bicubic": {"bicubic": 30.0, "blur": 26.0, "realesrgan": 24.0},
        "trained on blur": {"bicubic": 29.5, "blur": 28.5, "realesrgan": 24.5},
        "bicubic": {
            "bicubic": 29.0,
            "blur": 27.0,
            "realesrgan": 25.0,
        },  # realesrgan: no network trained on it
    }
    x4 = {"bicubic": {"bicubic": 20.0}, "realesrgan_x4plus": {"bicubic": 99.0}}
    record = {"metrics": {"images": 5, "blocks": {"x2": {"psnr_y": psnr}, "x4": {"psnr_y": x4}}}}
    # diagonal (30.0 + 28.5) / 2; its gain over the bicubic row ((30.0 - 29.0) + (28.5 - 27.0)) / 2
    assert headlines.headline("degradation_matrix", record) == {
        "commit": "unknown",
        "gain_db": 1.25,
        "n": 5,
        "psnr_y": 29.25,
    }


def test_zssr_headline_is_the_ideal_case_against_bicubic_with_its_ci_when_stored():
    gain = {"mean_diff": 1.20559, "ci_low": 0.5482, "ci_high": 1.86299, "p_wilcoxon": 0.5, "n": 4}
    record = {"metrics": {"images": 6, "ideal": {"psnr_y": 36.83102, "vs_bicubic": gain}},
              "git_commit": "7991b7b7b92ad82fea4c812647e869ef0a7e5fee (with uncommitted changes)"}  # fmt: skip
    assert headlines.headline("zssr", record) == {
        "ci_high": 1.863,
        "ci_low": 0.548,
        "commit": "7991b7b+",
        "gain_db": 1.206,
        "n": 4,  # the paired comparison's images, not the record's 6
        "psnr_y": 36.831,
    }
    record["metrics"]["ideal"]["vs_bicubic"] = {}  # one image: no paired comparison was made
    assert headlines.headline("zssr", record) == {"commit": "7991b7b+", "n": 6, "psnr_y": 36.831}


def test_rebuild_splits_a_record_written_before_the_split(tmp_path):
    old = {"stage": "data_prepare", "metrics": {"bench": {"images": 32}}, "git_commit": "not a sha"}
    (tmp_path / "data_prepare.json").write_text(json.dumps(old))
    assert headlines.rebuild(tmp_path) == [tmp_path / "data_prepare.json"]
    assert json.loads((tmp_path / "data_prepare.json").read_text()) == {
        "commit": "unknown",
        "n": 32,
    }
    assert json.loads((tmp_path / "data_prepare.details.json").read_text()) == old
    headlines.rebuild(tmp_path)  # idempotent: the second pass reads the details file
    assert json.loads((tmp_path / "data_prepare.json").read_text()) == {
        "commit": "unknown",
        "n": 32,
    }


def test_every_metrics_file_dvc_declares_has_a_headline_and_a_declared_record():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        for entry in stage.get("metrics", []):
            path = next(iter(entry)) if isinstance(entry, dict) else entry
            assert path == f"results/${{profile}}/metrics/{name}.json"
            assert name in headlines.STAGES, name
            outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage["outs"]]
            assert f"results/${{profile}}/metrics/{name}.details.json" in outs, name


@pytest.mark.parametrize("profile", ["smoke", "photos"])
def test_committed_headlines_are_those_of_their_records(profile):
    folder = ROOT / "results" / profile / "metrics"
    heads = [p for p in folder.glob("*.json") if not p.name.endswith(".details.json")]
    assert heads
    for path in heads:
        record = tracking.read_metrics(path)
        assert json.loads(path.read_text()) == headlines.headline(record["stage"], record), (
            path.name
        )


def test_dvc_metrics_show_fits_a_120_column_terminal():
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    dvc = [sys.executable, "-m", "dvc"]
    out = subprocess.run(
        [*dvc, "metrics", "show"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 1 + len(
        headlines.STAGES
    )  # a header and one row per stage of the smoke profile
    assert max(map(len, lines)) <= 120, max(lines, key=len)
    assert lines[0].split() == ["Path", *headlines.COLUMNS]
