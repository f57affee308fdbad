"""What the site reads: one profile's committed results (metrics JSON, rendered notebooks, tables, figures) and the
papers' reference numbers, each lookup failing with one line that names the file (and the key) it needed.

Paths in pages are relative to the page (``os.path.relpath``), so the site works opened from disk; paths in messages
are repository-relative where the file lies inside the repository.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Any

from srlib import paths

_PROFILE = re.compile(r"[A-Za-z0-9_-]+")


class SiteError(ValueError):
    """A missing or malformed input of the site: one line naming the file (and the key)."""


def shown(path: Path) -> str:
    """``path`` relative to the repository root when it lies inside it (messages and provenance), else as is."""
    try:
        return Path(path).resolve().relative_to(paths.root().resolve()).as_posix()
    except ValueError:
        return str(path)


class Inputs:
    """One profile's results under ``results_root/<profile>/`` and the repository's ``references/``.

    Every accessor checks that the file exists and has what is asked for; metrics files are parsed once.
    """

    def __init__(self, profile: str, results_root: Path) -> None:
        if not isinstance(profile, str) or not _PROFILE.fullmatch(profile):
            raise SiteError(f"profile must be a name of letters, digits, _ or -, got {profile!r}")
        self.profile = profile
        self.dir = Path(results_root) / profile
        if not self.dir.is_dir():
            raise SiteError(
                f"no results for profile {profile!r}: {shown(self.dir)} not found (run `dvc repro` first)"
            )
        self._metrics: dict[str, dict] = {}
        self._references: dict[str, list[dict]] = {}

    # ---------------------------------------------------------------------------------------- metrics files
    def metrics_path(self, stage: str) -> Path:
        """The full metrics record of ``stage`` (the headline DVC shows is its sibling ``<stage>.json``)."""
        return self.dir / "metrics" / f"{stage}.details.json"

    def metrics(self, stage: str) -> dict:
        """The parsed metrics record of ``stage`` (``results/<profile>/metrics/<stage>.details.json``)."""
        if stage not in self._metrics:
            path = self.metrics_path(stage)
            if not path.is_file():
                raise SiteError(f"missing metrics file {shown(path)} (run `dvc repro {stage}`)")
            try:
                payload = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise SiteError(
                    f"{shown(path)}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
                ) from None
            if not isinstance(payload, dict) or not isinstance(payload.get("metrics"), dict):
                raise SiteError(f"{shown(path)}: not a srlib metrics file (no 'metrics' mapping)")
            self._metrics[stage] = payload
        return self._metrics[stage]

    def value(self, stage: str, key: str) -> Any:
        """The value at the dotted ``key`` of ``stage``'s metrics file (a key may hold dots: longest match wins)."""
        node: Any = self.metrics(stage)
        rest = key
        while rest:
            if isinstance(node, list):  # "psnr_y_ci95.0": an index into a list
                head, _, tail = rest.partition(".")
                if not head.isdigit() or int(head) >= len(node):
                    break
                node, rest = node[int(head)], tail
                continue
            if not isinstance(node, dict):
                break
            # keys such as "M1/Pre" or "moving statistics (seed)" hold no dots; "+ match [faithful]" neither, but a
            # name may: take the longest prefix of `rest` that is a key of this level
            parts = rest.split(".")
            for n in range(len(parts), 0, -1):
                head = ".".join(parts[:n])
                if head in node:
                    node, rest = node[head], ".".join(parts[n:])
                    break
            else:
                break
        else:
            return node
        raise SiteError(
            f"{shown(self.metrics_path(stage))}: no {key!r} (written by another srlib version? rerun `dvc repro {stage}`)"
        )

    def number(self, stage: str, key: str) -> float:
        value = self.value(stage, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SiteError(
                f"{shown(self.metrics_path(stage))}: {key!r} is {value!r}, not a number"
            )
        return float(value)

    # ------------------------------------------------------------------------------------------ other files
    def file(self, *parts: str) -> Path:
        """A file under ``results/<profile>/`` that a page links to; missing is an error naming it."""
        path = self.dir.joinpath(*parts)
        if not path.is_file():
            raise SiteError(
                f"missing input {shown(path)} (run `dvc repro` for the {self.profile} profile)"
            )
        return path

    def notebook(self, stage: str) -> Path:
        """The rendered notebook of ``stage``: ``notebooks/NN_<stage>.ipynb`` (the naming of ``srlib.nb.STAGES``,
        matched here rather than imported: srlib.nb imports torch through the stage configs, seconds the site
        does not need; a test holds the two together)."""
        found = sorted((self.dir / "notebooks").glob(f"[0-9][0-9]_{stage}.ipynb"))
        if len(found) != 1:
            where = shown(self.dir / "notebooks" / f"NN_{stage}.ipynb")
            raise SiteError(
                f"missing rendered notebook {where} (run `python -m srlib nb {stage} --profile {self.profile}`)"
                if not found
                else f"{len(found)} rendered notebooks match {where}: {', '.join(p.name for p in found)}"
            )
        return found[0]

    def reference(self, name: str) -> list[dict]:
        """Rows of ``references/<name>.csv`` (the papers' numbers with table and page)."""
        if name not in self._references:
            path = paths.references_dir() / f"{name}.csv"
            if not path.is_file():
                raise SiteError(f"missing reference file {shown(path)}")
            with open(path, newline="") as f:
                self._references[name] = list(csv.DictReader(f))
        return self._references[name]

    def paper(self, name: str, **match: str) -> float:
        """The one value of ``references/<name>.csv`` whose columns equal ``match``."""
        rows = [r for r in self.reference(name) if all(r.get(k) == v for k, v in match.items())]
        if len(rows) != 1:
            where = shown(paths.references_dir() / f"{name}.csv")
            raise SiteError(f"{where}: {len(rows)} rows match {match} (want exactly 1)")
        try:
            return float(rows[0]["value"])
        except (KeyError, ValueError):
            raise SiteError(
                f"{shown(paths.references_dir() / f'{name}.csv')}: no numeric value for {match}"
            ) from None


def paper_setting(section: str, key: str) -> Any:
    """``params.yaml`` ``<section>.<key>``: the stage sections hold the papers' settings (profiles override them)."""
    from srlib import config

    try:
        value = config.read_params().get(section, {}).get(key)
    except config.ParamsError as exc:
        raise SiteError(str(exc)) from None
    if value is None:
        raise SiteError(f"params.yaml: no {section}.{key}")
    return value


def relative(target: Path, page_dir: Path) -> str:
    """``target`` as a link from a page in ``page_dir`` (POSIX separators, never absolute)."""
    return Path(os.path.relpath(target, page_dir)).as_posix()
