"""Run a stage's notebook with papermill: ``python -m srlib nb <stage> [--profile P] [-p name=value ...]``.

The stage's parameters are the ``common`` keys it takes, its params.yaml section(s) and the profile's overrides
(:func:`srlib.config.stage_config_params`, declared by the stage's dataclass in :data:`CONFIGS`), plus command-line
overrides. Every name must exist in the notebook's ``parameters`` cell -- an unknown name is an error, not a
silently ignored injection -- and the values build the stage's dataclass, which checks every value against its field's type (so ``-p scale=abc`` stops here
naming ``scale`` instead of failing deep inside a cell) and refuses what the stage cannot honour (e.g.
``common.scale=2`` for the x4 night->day study). All of this happens before a kernel starts.

Under ``torchrun`` (``torchrun --nproc_per_node N -m srlib nb <stage>``, a stage of :data:`DATA_PARALLEL`): every
rank renders the notebook, so every rank runs the same fit loops in step (:mod:`srlib.distributed`); rank 0 writes
the rendering, results and checkpoints, and a rank > 0 writes its rendering and results into a private scratch
folder that is removed when it ends.

The rendered notebook goes to ``results/<profile>/notebooks/``. Papermill writes it to a hidden
``.<name>.running.ipynb`` beside it first, which replaces the final file only when the run succeeds: a failed run
never overwrites the last good rendering; it is kept as ``<name>.failed.ipynb`` (traceback inside) instead.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import logging
import operator
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from srlib import config, distributed, paths
from srlib.config import StageConfig
from srlib.data.config import DataPrepareConfig
from srlib.hallucination.config import HallucinationEvaluateConfig, HallucinationTrainConfig
from srlib.night2day.config import (
    Night2DayDataConfig,
    Night2DayEvaluateConfig,
    Night2DayM1Config,
    Night2DayM2Config,
    Night2DayM3Config,
)
from srlib.pseudo_sr.config import BlindSREvaluateConfig, PseudoSRTrainConfig
from srlib.realesrgan.config import RealESRGANPretrainedConfig
from srlib.srgan.config import SRGANEvaluateConfig, SRGANTrainConfig, TablesConfig
from srlib.srgan_modified.config import SRGANModifiedPostprocessConfig, SRGANModifiedTrainConfig
from srlib.zssr.config import DegradationMatrixConfig, ZSSRConfig

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
    "hallucination_train": "notebooks/40_hallucination_train.ipynb",
    "hallucination_evaluate": "notebooks/41_hallucination_evaluate.ipynb",
    "realesrgan_pretrained": "notebooks/50_realesrgan_pretrained.ipynb",
    "degradation_matrix": "notebooks/60_degradation_matrix.ipynb",
    "zssr": "notebooks/61_zssr.ipynb",
    "pseudo_sr_train": "notebooks/52_pseudo_sr_train.ipynb",
    "blind_sr_evaluate": "notebooks/53_blind_sr_evaluate.ipynb",
    "tables": "notebooks/90_tables.ipynb",
}


# stage -> its config dataclass (paper defaults; which params.yaml sections and common keys it takes)
CONFIGS: dict[str, type[StageConfig]] = {
    "data_prepare": DataPrepareConfig,
    "srgan_train": SRGANTrainConfig,
    "srgan_evaluate": SRGANEvaluateConfig,
    "srgan_modified_train": SRGANModifiedTrainConfig,
    "srgan_modified_postprocess": SRGANModifiedPostprocessConfig,
    "night2day_data": Night2DayDataConfig,
    "night2day_m1": Night2DayM1Config,
    "night2day_m2": Night2DayM2Config,
    "night2day_m3": Night2DayM3Config,
    "night2day_evaluate": Night2DayEvaluateConfig,
    "hallucination_train": HallucinationTrainConfig,
    "hallucination_evaluate": HallucinationEvaluateConfig,
    "realesrgan_pretrained": RealESRGANPretrainedConfig,
    "degradation_matrix": DegradationMatrixConfig,
    "zssr": ZSSRConfig,
    "pseudo_sr_train": PseudoSRTrainConfig,
    "blind_sr_evaluate": BlindSREvaluateConfig,
    "tables": TablesConfig,
}


class NotebookFailed(RuntimeError):
    """A stage notebook raised; the message carries the notebook's own error and where the rendering is."""


def notebook_parameters(notebook: str | Path) -> dict[str, dict]:
    """Names (with inferred types and defaults) declared in the notebook's ``parameters`` cell."""
    import papermill as pm

    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook not found: {notebook}")
    # papermill logs "Input Notebook: ..." at INFO for an inspection; before a run that is noise around our own error
    pm_log = logging.getLogger("papermill")
    level = pm_log.level
    pm_log.setLevel(max(level, logging.WARNING))
    try:
        declared = pm.inspect_notebook(str(notebook))
    finally:
        pm_log.setLevel(level)
    if not declared:
        raise config.ParamsError(f"{notebook} has no cell tagged 'parameters'")
    return declared


def parse_override(text: str) -> tuple[str, Any]:
    """``name=value`` with the value parsed as YAML (``3`` -> int, ``1e-4`` -> float, ``[1, 2]`` -> list).

    An empty value (``name=``) is the empty string, not YAML's null: ``-p run_label=`` clears a text parameter.
    """
    if "=" not in text:
        raise config.ParamsError(f"override {text!r} is not of the form name=value")
    name, value = text.split("=", 1)
    if not value.strip():
        return name.strip(), ""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = (
            value  # e.g. "a: b" or an unbalanced bracket: keep the text; the type check decides
        )
    if isinstance(parsed, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    return name.strip(), parsed


# ---------------------------------------------------------------------------------------------------------------------
# parameter types: each value must have the type of the notebook's default

_TYPE_NAMES = ("int", "float", "str", "bool", "list", "tuple", "dict")
# annotation spellings -> one of _TYPE_NAMES (``List[int]``, ``typing.Dict`` ...: the outer type is what is checked)
_ANNOTATION_ALIASES = {
    "list": "list",
    "tuple": "tuple",
    "dict": "dict",
    "sequence": "list",
    "mapping": "dict",
}
_ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_UNKNOWN = (
    object()
)  # a default that is not a literal (a call, a name): its type cannot be known without running


# ---------------------------------------------------------------------------------------------------------------------
# running a stage


def stage_notebook(stage: str) -> Path:
    if stage not in STAGES:
        raise config.ParamsError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return paths.root() / STAGES[stage]


def prepare(
    stage: str, *, profile: str | None = None, overrides: dict[str, Any] | None = None
) -> tuple[Path, dict[str, Any]]:
    """Every check that needs no kernel: the notebook, its parameter names, their types, the stage's own checks.

    Returns ``(notebook, params)``: the values :func:`srlib.config.stage_config_params` gives plus ``overrides``,
    exactly what papermill injects.
    """
    notebook = stage_notebook(stage)
    if stage not in CONFIGS:
        raise config.ParamsError(f"stage {stage!r} has no config dataclass in srlib.nb.CONFIGS")
    cls = CONFIGS[stage]
    params, sources = config.stage_config_params(cls, profile=profile)
    overrides = dict(overrides or {})
    declared = notebook_parameters(notebook)
    unknown = sorted((set(params) | set(overrides)) - set(declared))
    if unknown:
        raise config.ParamsError(
            f"{notebook.name}: its parameters cell does not define {unknown} "
            f"(given by params.yaml sections {list(cls.sections())} / common / profile, or -p); "
            f"it declares {sorted(declared)}"
        )
    params.update(overrides)
    sources.update(dict.fromkeys(overrides, "-p"))
    config.build(cls, params, sources)  # every type checked; what the stage cannot honour refused
    return notebook, params


def rendering_paths(output: Path) -> tuple[Path, Path]:
    """``(running, failed)`` beside ``output``: the in-progress rendering and the kept failed one."""
    return output.with_name(f".{output.stem}.running.ipynb"), output.with_name(
        f"{output.stem}.failed.ipynb"
    )


FOLDED_HEADER = (
    "# this run's values (injected by papermill); where one differs from the notebook's default, the comment ends\n"
    "# with (default: ...)\n"
)


def _value(text: str) -> object:
    """A parameter's value from its source: a literal, or arithmetic such as ``1 / 12.75`` (no names, no calls)."""
    import ast

    tree = ast.parse(text, mode="eval")
    if any(isinstance(n, (ast.Name, ast.Call, ast.Attribute)) for n in ast.walk(tree)):
        return text
    return eval(
        compile(tree, "<parameter>", "eval"), {"__builtins__": {}}
    )  # literals and operators only


def fold_parameters(cells: list) -> list:
    """The rendering's cells with papermill's injected values written into the ``parameters`` cell.

    papermill runs the notebook's own cell (the paper's settings) and then an injected cell that overrides it, so a
    rendered notebook shows ``profile: str = "paper"`` and below it ``profile = "smoke"``. This writes each injected
    value into its typed, commented line (keeping the default in the comment where it differs) and drops the injected
    cell; the notebook stays runnable and runs as the original did. Cells are returned unchanged when the injected
    cell holds a name the parameters cell does not.
    """
    import ast

    tags = [set(c.get("metadata", {}).get("tags", [])) for c in cells]
    try:
        i = next(k for k, t in enumerate(tags) if "parameters" in t)
        j = next(k for k, t in enumerate(tags) if "injected-parameters" in t)
    except StopIteration:
        return cells
    source = lambda c: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]  # noqa: E731
    injected = {}
    for node in ast.parse(source(cells[j])).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            return cells
        injected[node.targets[0].id] = ast.get_source_segment(source(cells[j]), node.value)
    lines, seen = [], set()
    for line in source(cells[i]).splitlines():
        code, sep, comment = line.partition("  # ")
        name, _, rest = code.partition(":")
        annotation, eq, default = rest.partition(" = ")
        name = name.strip()
        if not eq or name not in injected:
            lines.append(line)
            continue
        seen.add(name)
        value = injected[name]
        same = value == default or _value(value) == _value(default)
        note = "" if same else f" (default: {default})"
        lines.append(
            f"{name}:{annotation} = {value}{sep or ('  # ' if note else '')}{comment}{note}"
        )
    if set(injected) - seen:
        return cells
    folded = type(cells[i])(cells[i])  # a shallow copy of the same kind (nbformat's NotebookNode)
    folded["source"] = FOLDED_HEADER + "\n".join(lines)
    return [folded if k == i else c for k, c in enumerate(cells) if k != j]


def _set_output_path(rendering: Path, recorded: Path) -> None:
    """Make the rendering's papermill metadata name where the file ends up (not the temporary name), and both of its
    paths repo-relative; fold the injected parameters into the parameters cell (:func:`fold_parameters`)."""
    import nbformat

    try:
        doc = nbformat.read(str(rendering), as_version=nbformat.NO_CONVERT)
        doc.cells = fold_parameters(doc.cells)
        meta = doc.metadata.setdefault("papermill", {})
        meta["output_path"] = paths.shown(recorded)
        if meta.get("input_path"):
            meta["input_path"] = paths.shown(meta["input_path"])
        nbformat.write(doc, str(rendering))
    except Exception as exc:  # cosmetic: never lose a rendering over its metadata
        logging.getLogger("srlib.nb").warning(
            "could not update output_path in %s: %s", rendering, exc
        )


def _keep_failed(running: Path, failed: Path) -> Path | None:
    """Move a failed run's rendering to ``failed`` (None when papermill wrote nothing, e.g. no kernel)."""
    if not running.is_file():
        return None
    _set_output_path(running, failed)
    os.replace(running, failed)
    return failed


# the stages whose training runs data-parallel under torchrun (their fit loops take srlib.distributed); the others
# evaluate, or fit per image (ZSSR), and run in one process
DATA_PARALLEL = (
    "srgan_train",
    "srgan_modified_train",
    "night2day_m1",
    "night2day_m2",
    "night2day_m3",
    "hallucination_train",
    "pseudo_sr_train",
)


@contextlib.contextmanager
def _rank_scratch(stage: str) -> Iterator[Path | None]:
    """Under torchrun: refuses a stage that does not train data-parallel; on a rank > 0, yields a private scratch
    folder for its rendering and results (removed afterwards). None in one process and on rank 0."""
    if not distributed.active():
        yield None
        return
    if stage not in DATA_PARALLEL:
        raise config.ParamsError(
            f"stage {stage!r} does not train data-parallel (those that do: {', '.join(DATA_PARALLEL)}): run it in "
            "one process, without torchrun"
        )
    if distributed.is_main():
        yield None
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"srlib-rank{distributed.rank()}-"))
    os.environ[paths.RANK_RESULTS_ENV] = str(scratch / "results")  # the kernel inherits it
    try:
        yield scratch
    finally:
        os.environ.pop(paths.RANK_RESULTS_ENV, None)
        shutil.rmtree(scratch, ignore_errors=True)


def run_stage(
    stage: str,
    *,
    profile: str | None = None,
    overrides: dict[str, Any] | None = None,
    output: str | Path | None = None,
    kernel: str = "python3",
    log_output: bool = False,
) -> Path:
    """Execute the stage notebook with its parameters; return the rendered notebook's path.

    The previous rendering at ``output`` is replaced only by a successful run (see the module docstring); a success
    also removes a ``<name>.failed.ipynb`` left by an earlier failure, so that file always belongs to the latest run.
    Under ``torchrun``, a rank > 0 renders into a scratch folder, removed at the end (its return: the path it used).
    """
    with _rank_scratch(stage) as scratch:
        if scratch is not None:
            output, log_output = scratch / Path(STAGES[stage]).name, False
        return _run_stage(stage, profile=profile, overrides=overrides, output=output, kernel=kernel,
                          log_output=log_output)  # fmt: skip


def _run_stage(stage: str, *, profile, overrides, output, kernel, log_output) -> Path:
    """:func:`run_stage`'s rendering (one process, or one rank writing ``output``)."""
    import papermill as pm

    notebook, params = prepare(stage, profile=profile, overrides=overrides)
    output = Path(output) if output else paths.rendered_notebook(params["profile"], notebook.name)
    output.parent.mkdir(parents=True, exist_ok=True)
    running, failed = rendering_paths(output)
    running.unlink(
        missing_ok=True
    )  # left by a run that was killed (papermill never got to finish it)
    logging.getLogger("srlib.nb").info(
        "running %s (profile %s) -> %s", notebook.name, params["profile"], paths.shown(output)
    )
    kept_note = f"; the last good rendering {output} is unchanged" if output.is_file() else ""
    try:
        pm.execute_notebook(
            str(notebook),
            str(running),
            parameters=params,
            kernel_name=kernel,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=log_output,
            request_save_on_cell_execute=True,
        )
    except pm.PapermillExecutionError as exc:
        kept = _keep_failed(running, failed)
        raise NotebookFailed(
            f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(rendered with the traceback: {kept}{kept_note})"
        ) from None
    except Exception as exc:  # no kernel, kernel died, cell timeout...: still one message, still nothing overwritten
        kept = _keep_failed(running, failed)
        where = f"partial rendering: {kept}" if kept else "no rendering was written"
        raise NotebookFailed(
            f"{notebook.name} did not run to the end: {type(exc).__name__}: {' '.join(str(exc).split())} "
            f"({where}{kept_note})"
        ) from exc
    except BaseException:  # Ctrl-C: keep what ran for inspection, then stop as asked
        _keep_failed(running, failed)
        raise
    _set_output_path(running, output)
    os.replace(running, output)
    failed.unlink(missing_ok=True)
    return output


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m srlib nb", description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=sorted(STAGES))
    ap.add_argument("--profile", help="params profile (default: params.yaml `profile`)")
    ap.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one parameter",
    )
    ap.add_argument(
        "-o", "--output", help="rendered notebook path (default results/<profile>/notebooks/)"
    )
    ap.add_argument(
        "--log-output", action="store_true", help="stream the notebook's output to this terminal"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if distributed.is_main() else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        overrides = dict(parse_override(p) for p in args.param)
        out = run_stage(
            args.stage,
            profile=args.profile,
            overrides=overrides,
            output=args.output,
            log_output=args.log_output,
        )
    except (config.ParamsError, FileNotFoundError, NotebookFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if distributed.is_main():
        print(paths.shown(out))
    return 0
