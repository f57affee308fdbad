"""Run a stage's notebook with papermill: ``python -m srlib nb <stage> [--profile P] [-p name=value ...]``.

The stage's parameters are ``common | params[stage] | profiles[profile][stage]`` (:func:`srlib.config.stage_params`)
plus command-line overrides. Every name must exist in the notebook's ``parameters`` cell -- an unknown name is an
error, not a silently ignored injection -- so ``params.yaml`` and the notebooks cannot drift apart. The rendered
notebook goes to ``results/<profile>/notebooks/``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import yaml

from srlib import config, paths

# stage name (= params.yaml section = DVC stage) -> source notebook. A plain dict: grep from a stage to its notebook.
STAGES: dict[str, str] = {
    "data_prepare": "notebooks/00_data_prepare.ipynb",
    "srgan_train": "notebooks/10_srgan_train.ipynb",
    "srgan_evaluate": "notebooks/11_srgan_evaluate.ipynb",
    "srgan_modified_train": "notebooks/20_srgan_modified_train.ipynb",
    "srgan_modified_postprocess": "notebooks/21_srgan_modified_postprocess.ipynb",
    "night2day_data": "notebooks/30_night2day_data.ipynb",
    "night2day_m1": "notebooks/31_night2day_m1.ipynb",
    "night2day_m2": "notebooks/32_night2day_m2.ipynb",
    "night2day_m3": "notebooks/33_night2day_m3.ipynb",
    "night2day_evaluate": "notebooks/34_night2day_evaluate.ipynb",
    "tables": "notebooks/90_tables.ipynb",
}


class NotebookFailed(RuntimeError):
    """A stage notebook raised; the message carries the notebook's own error and where the rendering is."""


def notebook_parameters(notebook: str | Path) -> dict[str, dict]:
    """Names (with inferred types and defaults) declared in the notebook's ``parameters`` cell."""
    import papermill as pm

    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook not found: {notebook}")
    declared = pm.inspect_notebook(str(notebook))
    if not declared:
        raise config.ParamsError(f"{notebook} has no cell tagged 'parameters'")
    return declared


def parse_override(text: str) -> tuple[str, Any]:
    """``name=value`` with the value parsed as YAML (``3`` -> int, ``1e-4`` -> float, ``[1, 2]`` -> list)."""
    if "=" not in text:
        raise config.ParamsError(f"override {text!r} is not of the form name=value")
    name, value = text.split("=", 1)
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    return name.strip(), parsed


def stage_notebook(stage: str) -> Path:
    if stage not in STAGES:
        raise config.ParamsError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return paths.root() / STAGES[stage]


def run_stage(
    stage: str,
    *,
    profile: str | None = None,
    overrides: dict[str, Any] | None = None,
    output: str | Path | None = None,
    kernel: str = "python3",
    log_output: bool = False,
) -> Path:
    """Execute the stage notebook with its parameters; return the rendered notebook's path."""
    import papermill as pm

    notebook = stage_notebook(stage)
    params = config.stage_params(stage, profile=profile)
    overrides = dict(overrides or {})
    declared = notebook_parameters(notebook)
    unknown = sorted((set(params) | set(overrides)) - set(declared))
    if unknown:
        raise config.ParamsError(
            f"{notebook.name}: its parameters cell does not define {unknown} "
            f"(given by params.yaml section {stage!r} / common / profile, or -p); it declares {sorted(declared)}"
        )
    params.update(overrides)
    output = Path(output) if output else paths.rendered_notebook(params["profile"], notebook.name)
    output.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("srlib.nb").info("running %s (profile %s) -> %s", notebook.name, params["profile"], output)
    try:
        pm.execute_notebook(
            str(notebook), str(output), parameters=params, kernel_name=kernel, cwd=str(notebook.parent),
            progress_bar=False, log_output=log_output, request_save_on_cell_execute=True,
        )
    except pm.PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(rendered with the traceback: {output})"
        ) from None
    return output


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m srlib nb", description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=sorted(STAGES))
    ap.add_argument("--profile", help="params profile (default: params.yaml `profile`)")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override one parameter")
    ap.add_argument("-o", "--output", help="rendered notebook path (default results/<profile>/notebooks/)")
    ap.add_argument("--log-output", action="store_true", help="stream the notebook's output to this terminal")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        overrides = dict(parse_override(p) for p in args.param)
        out = run_stage(args.stage, profile=args.profile, overrides=overrides, output=args.output,
                        log_output=args.log_output)
    except (config.ParamsError, FileNotFoundError, NotebookFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0
