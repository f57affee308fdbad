"""The trained generators behind committed results, made obtainable: ``results/<profile>/checkpoints/``.

A training stage leaves its final generators at the top of ``models/<profile>/<stage>/`` (resume checkpoints sit in
sub-folders). :func:`publish` copies each one of at most :data:`MAX_COMMITTED` bytes into
``results/<profile>/checkpoints/<stage>/`` (committed with the results, so anyone can re-evaluate them, e.g.
``python -m srlib upscale --checkpoint results/photos/checkpoints/srgan_train/srresnet.pth``) and lists every one,
copied or not, with its size and sha256 in ``index.json``. Larger files (the full-size Real-ESRGAN fine-tunes) stay
DVC outputs of their stage: ``dvc push`` stores them in the project's DVC remote and ``dvc pull`` brings them back;
the index's sha256 names the exact file either way.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from srlib import paths, tracking
from srlib.convert.pip_source import file_hash

MAX_COMMITTED = 5 * 2**20  # bytes: what a git repository carries comfortably per file
STAGES = ("srgan_train", "srgan_modified_train", "night2day_m1", "night2day_m2", "night2day_m3",
          "hallucination_train", "degradation_matrix", "pseudo_sr_train")  # fmt: skip


def publish(profile: str, stages: tuple[str, ...] = STAGES) -> dict:
    """Copy the small final generators of ``stages`` into the profile's results and write their index.

    The index keeps the entries of the stages not published this time (a profile rendered in parts adds a stage
    without losing the others'), as long as their committed copy is still there.
    """
    out_dir = paths.profile_results(profile) / "checkpoints"
    index: dict[str, dict] = {}
    previous = out_dir / "index.json"
    if previous.is_file():
        old = json.loads(previous.read_text())
        index = {k: v for k, v in old.items() if isinstance(v, dict) and k.split("/")[0] not in stages
                 and (v.get("committed") is None or paths.resolve(v["committed"]).is_file())}  # fmt: skip
    for stage in stages:
        run = paths.run_dir(profile, stage)
        if not run.is_dir():
            raise FileNotFoundError(
                f"no trained models at {paths.shown(run)} (run `dvc repro {stage}` first)"
            )
        for src in sorted(run.glob("*.pth")):
            size = src.stat().st_size
            entry = {"source": paths.shown(src), "bytes": size, "sha256": file_hash(src)}
            if size <= MAX_COMMITTED:
                dest = out_dir / stage / src.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(f".{dest.name}.tmp")
                shutil.copyfile(src, tmp)
                tmp.replace(dest)
                entry["committed"] = paths.shown(dest)
            else:
                entry["committed"] = None
                entry["obtain"] = (
                    f"dvc pull {paths.shown(run)} (a DVC output, {size / 2**20:.0f} MiB)"
                )
            index[f"{stage}/{src.name}"] = entry
    tracking.write_json(
        out_dir / "index.json", {"profile": profile, "max_committed_bytes": MAX_COMMITTED} | index
    )
    return index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m srlib checkpoints",
        description="Copy the small trained generators into results/<profile>/checkpoints/ and index them all.",
    )
    ap.add_argument(
        "--profile", default=None, help="params profile (default: params.yaml `profile`)"
    )
    ap.add_argument(
        "--stages",
        nargs="+",
        choices=STAGES,
        default=list(STAGES),
        help="training stages to publish (default: all; a profile rendered in parts may lack some)",
    )
    args = ap.parse_args(argv)
    from srlib import config  # yaml only

    try:
        profile = args.profile or config.read_params().get("profile", "smoke")
        index = publish(profile, tuple(args.stages))
    except (FileNotFoundError, config.ParamsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, e in index.items():
        print(
            f"{name}: {e['bytes'] / 2**20:.2f} MiB, {'committed' if e['committed'] else 'DVC remote'}"
        )
    return 0
