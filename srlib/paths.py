"""Canonical project paths.

The repository root is found by walking up from the current directory (or this file) to the folder holding
``dvc.yaml``, so notebooks work the same from JupyterLab, papermill (which runs them in ``notebooks/``) and tests.
"""

from __future__ import annotations

import os
from pathlib import Path


def find_root(start: Path | None = None) -> Path:
    """Return the first parent of ``start`` (default: cwd, then this file) that holds ``dvc.yaml``.

    ``SRLIB_ROOT`` overrides the search (tests use it to run the pipeline in a temporary copy).
    """
    env = os.environ.get("SRLIB_ROOT")
    if env:
        return Path(env).resolve()
    for base in ([Path(start)] if start else []) + [Path.cwd(), Path(__file__).resolve().parent]:
        for p in [base.resolve(), *base.resolve().parents]:
            if (p / "dvc.yaml").is_file():
                return p
    raise FileNotFoundError(
        "could not find the srlib project root (a folder with dvc.yaml) above "
        f"{Path.cwd()}; set SRLIB_ROOT to the repository root"
    )


def root() -> Path:
    return find_root()


def data_dir() -> Path:
    return root() / "data"


def models_dir() -> Path:
    return root() / "models"


RANK_RESULTS_ENV = "SRLIB_RANK_RESULTS"


def results_dir() -> Path:
    """``results/``; under ``torchrun``, a rank > 0's private scratch folder (:func:`srlib.nb.run_stage` sets it)."""
    scratch = os.environ.get(RANK_RESULTS_ENV)
    return Path(scratch) if scratch else root() / "results"


def rank_private(path: str | os.PathLike) -> bool:
    """Whether ``path`` lies in this rank's private results folder (written by the rank itself, then discarded)."""
    scratch = os.environ.get(RANK_RESULTS_ENV)
    return bool(scratch) and Path(path).resolve().is_relative_to(Path(scratch).resolve())


def metrics_dir() -> Path:
    return results_dir() / "metrics"


def figures_dir() -> Path:
    return results_dir() / "figures"


def tables_dir() -> Path:
    return results_dir() / "tables"


def plots_dir() -> Path:
    return results_dir() / "plots"


def references_dir() -> Path:
    return root() / "references"


def resolve(path: str | os.PathLike) -> Path:
    """Resolve a params path: absolute paths stay, relative ones are relative to the repository root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root() / p)


def shown(path: str | os.PathLike) -> str:
    """``path`` as notebooks, logs, metrics and tables write it: relative to the repository root, POSIX separators.

    ``<root>/models/smoke/srgan_train`` -> ``models/smoke/srgan_train``; a folder beside the checkout, such as the
    photos profile's ``/work/shared/data/photos-train``, -> ``../shared/data/photos-train`` (what params.yaml writes).
    A relative path is taken as already relative to the root (as params paths are; :func:`resolve`). So committed
    results name no machine: the same run on another host renders the same text. The torch cache is written
    ``$TORCH_HOME/hub/checkpoints/...`` instead (:func:`srlib.weights.shown`).
    """
    p = Path(path).expanduser()
    if not p.is_absolute():
        return p.as_posix()
    try:
        return Path(os.path.relpath(p, root())).as_posix()
    except ValueError:  # another drive (Windows): no relative form
        return p.as_posix()


# Per-profile locations. Every stage writes under its profile, so the smoke run, a CPU run on the shared photos and a
# paper run on a GPU host can sit side by side in results/ (dvc.yaml uses the same ${profile} templating).


def data_manifest(profile: str) -> Path:
    return data_dir() / profile / "manifest.json"


def night2day_dir(profile: str) -> Path:
    """The night->day study's pairs and split manifest (proxy AB files, or the split of the real night2day)."""
    return data_dir() / f"{profile}_night2day"


def run_dir(profile: str, stage: str) -> Path:
    return models_dir() / profile / stage


def profile_results(profile: str) -> Path:
    return results_dir() / profile


def metrics_file(profile: str, stage: str) -> Path:
    """The stage's headline numbers, the file ``dvc.yaml`` declares as its metrics (:mod:`srlib.headlines`)."""
    return profile_results(profile) / "metrics" / f"{stage}.json"


def details_of(metrics: str | os.PathLike) -> Path:
    """The full record beside a headline metrics file: ``<stage>.json`` -> ``<stage>.details.json``."""
    metrics = Path(metrics)
    if metrics.name.endswith(".details.json"):
        return metrics
    return metrics.with_name(metrics.name.removesuffix(".json") + ".details.json")


def _output(path: Path) -> Path:
    """An output path whose folder exists (writers such as pandas do not create it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def figure_file(profile: str, name: str) -> Path:
    return _output(profile_results(profile) / "figures" / name)


def plot_file(profile: str, name: str) -> Path:
    """A ``dvc plots`` CSV under ``results/<profile>/plots/``."""
    return _output(profile_results(profile) / "plots" / name)


def table_file(profile: str, name: str) -> Path:
    return _output(profile_results(profile) / "tables" / name)


def rendered_notebook(profile: str, notebook: str) -> Path:
    return profile_results(profile) / "notebooks" / Path(notebook).name
