"""The headline of each stage: the few numbers ``dvc metrics show`` / ``dvc metrics diff`` print.

DVC prints one row per metrics file and one column per key of *any* file, so the headline files share one small set of
columns (:data:`COLUMNS`) and each stage fills those that apply; everything else (config, labels, weight provenance,
per-image and per-phase numbers) stays in the full record, ``metrics/<stage>.details.json``. A headline is a pure
function of that record (:func:`headline`), so it can be rebuilt from it (``python -m srlib headlines``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

# every key a headline file may hold, in DVC's (alphabetical) order
COLUMNS = {
    "ci_high": "upper end of the 95 % paired-bootstrap CI of gain_db",
    "ci_low": "lower end of that CI",
    "commit": "the git commit that wrote the numbers (7 hex digits; '+' when its sources had uncommitted changes)",
    "gain_db": "the stage's model minus bicubic, PSNR-Y (dB)",
    "n": "images (or pairs) the numbers are measured on",
    "psnr_y": "the stage's model, PSNR-Y (dB)",
    "rmse": "night->day: the stage's model's Post RMSE vs the day ground truth (RGB in [0, 1])",
}


def _srgan_train(m: dict) -> dict:  # SRResNet's last validation on benchmark centre crops
    return {"psnr_y": m["srresnet"]["val_psnr_y"], "gain_db": m["srresnet"]["val_gain_db"]}


def _paired_gain(psnr_y: float, gain: dict, n: int) -> dict:
    """A model's PSNR-Y and its paired gain over bicubic (mean difference and its bootstrap CI) on n images."""
    return {
        "psnr_y": psnr_y,
        "gain_db": gain["mean_diff"],
        "ci_low": gain["ci_low"],
        "ci_high": gain["ci_high"],
        "n": n,
    }


def _srgan_evaluate(m: dict) -> dict:  # SRResNet vs bicubic on the whole benchmark
    srresnet = m["models"]["srresnet"]
    return _paired_gain(
        srresnet["psnr_y"], m["paired"]["srresnet_vs_bicubic_psnr_y"], srresnet["n"]
    )


def _srgan_modified_train(m: dict) -> dict:  # the reported BN mode's validation
    return {"psnr_y": m["val_psnr_y"], "gain_db": m["val_gain_db"]}


def _srgan_modified_postprocess(
    m: dict,
) -> dict:  # the network with blended tiles, before post-processing
    return {
        "psnr_y": m["ablation"]["network"]["psnr_y"],
        "gain_db": m["network_gain_db"],
        "n": m["images"],
    }


def _realesrgan_pretrained(m: dict) -> dict:  # the released x4plus vs bicubic
    x4 = m["models"]["realesrgan_x4plus"]
    return _paired_gain(
        x4["psnr_y"], m["paired"]["realesrgan_x4plus_vs_bicubic_psnr_y"], x4["images"]
    )


def _hallucination_evaluate(m: dict) -> dict:  # ours (z = 0) vs bicubic: faces, else bench
    s = m["faces"] if "faces" in m else m["bench"]
    ours = s["rows"]["ours_z0"]
    return _paired_gain(ours["psnr_y"], s["paired"]["ours_z0_vs_bicubic_psnr_y"], ours["n"])


def _night2day_model(column: str) -> Callable[[dict], dict]:
    def pick(m: dict) -> dict:  # the val preview's output
        return {"rmse": m["val_preview"][column]["rmse"]}

    return pick


def _night2day_evaluate(m: dict) -> dict:  # M1 (the paper's first model) on the whole test split
    return {"rmse": m["phases"]["M1/Post"]["rmse"]}


def _degradation_matrix(
    m: dict,
) -> dict:  # the diagonal (each network on its own degradation) vs bicubic
    block = next(iter(m["blocks"].values()))["psnr_y"]  # the stage's scale (x2 by default)
    diag = [block[f"trained on {t}"][t] for t in block["bicubic"] if f"trained on {t}" in block]
    bic = [block["bicubic"][t] for t in block["bicubic"] if f"trained on {t}" in block]
    return {"psnr_y": sum(diag) / len(diag), "gain_db": (sum(diag) - sum(bic)) / len(diag),
            "n": m["images"]}  # fmt: skip


def _zssr(m: dict) -> dict:  # ZSSR in the ideal case (bicubic LR, bicubic kernel) vs bicubic
    gain = m["ideal"].get("vs_bicubic") or {}
    if not gain:
        return {"psnr_y": m["ideal"]["psnr_y"], "n": m["images"]}
    return _paired_gain(m["ideal"]["psnr_y"], gain, gain["n"])


def _blind_sr_evaluate(m: dict) -> dict:  # pseudo-SR vs bicubic on the degraded test set
    return _paired_gain(
        m["rows"]["pseudo"]["psnr_y"], m["paired"]["pseudo_vs_bicubic_psnr_y"], m["images"]
    )


STAGES: dict[str, Callable[[dict], dict]] = {
    "data_prepare": lambda m: {"n": m["bench"]["images"]},
    "srgan_train": _srgan_train,
    "srgan_evaluate": _srgan_evaluate,
    "srgan_modified_train": _srgan_modified_train,
    "srgan_modified_postprocess": _srgan_modified_postprocess,
    "realesrgan_pretrained": _realesrgan_pretrained,
    "night2day_data": lambda m: {"n": m["pairs"]["test"]},
    "night2day_m1": _night2day_model("post"),
    "night2day_m2": _night2day_model("post"),
    "night2day_m3": _night2day_model("M3-paired"),
    "night2day_evaluate": _night2day_evaluate,
    "hallucination_train": lambda m: {},  # the commit only: its numbers are training losses
    "hallucination_evaluate": _hallucination_evaluate,
    "degradation_matrix": _degradation_matrix,
    "zssr": _zssr,
    "pseudo_sr_train": lambda m: {},  # the commit only: its numbers are training losses
    "blind_sr_evaluate": _blind_sr_evaluate,
}


def short_commit(commit: str) -> str:
    """``abc1234`` for a clean checkout's commit, ``abc1234+`` when it had uncommitted changes."""
    sha = (commit.split() or [""])[0]
    if len(sha) < 7 or any(c not in "0123456789abcdef" for c in sha):
        return "unknown"
    return sha[:7] + ("+" if "uncommitted" in commit else "")


# decimals shown: 1/1000 dB resolves any PSNR difference a benchmark can; RMSE on [0, 1] images to 1e-4
DECIMALS = {"ci_high": 3, "ci_low": 3, "gain_db": 3, "psnr_y": 3, "rmse": 4}


def _rounded(key: str, value):
    if value is None:
        return None
    if key == "n":
        return int(value)
    return round(float(value), DECIMALS[key])


def headline(stage: str, record: dict) -> dict:
    """The headline file of ``stage`` from its full metrics record (a stage without one: the commit only)."""
    numbers = STAGES[stage](record["metrics"]) if stage in STAGES else {}
    unknown = sorted(set(numbers) - set(COLUMNS))
    if unknown:
        raise ValueError(f"headline of {stage}: keys {unknown} are not in srlib.headlines.COLUMNS")
    out = {k: _rounded(k, v) for k, v in numbers.items()}
    out["commit"] = short_commit(record.get("git_commit", ""))
    return dict(sorted(out.items()))


def rebuild(metrics_dir: str | Path) -> list[Path]:
    """Rewrite every headline under ``metrics_dir`` from its details file; a single-file record written before the
    split (``<stage>.json`` holding everything) is moved to its details file first."""
    from srlib import paths, tracking

    written = []
    for path in sorted(Path(metrics_dir).glob("*.json")):
        if path.name.endswith(".details.json"):
            continue
        record = json.loads(path.read_text())
        if "metrics" in record:  # a record from before the split
            tracking.write_json(paths.details_of(path), record)
        else:
            record = tracking.read_metrics(path)
        tracking.write_json(path, headline(record["stage"], record))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m srlib headlines",
        description="Rebuild results/<profile>/metrics/<stage>.json (the headlines DVC shows) from the details files.",
    )
    ap.add_argument("--profile", default="smoke")
    args = ap.parse_args(argv)
    from srlib import paths

    folder = paths.profile_results(args.profile) / "metrics"
    if not folder.is_dir():
        raise SystemExit(
            f"no metrics folder {paths.shown(folder)} (run the profile's stages first)"
        )
    for path in rebuild(folder):
        print(paths.shown(path))
    return 0
