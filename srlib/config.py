"""Configuration: ``params.yaml`` loading and the base of the per-stage config dataclasses.

``params.yaml`` layout (one source of truth for DVC, papermill and the dataclasses)::

    profile: smoke          # which entry of `profiles` overrides the sections (smoke | photos | paper)
    common: {...}           # seed, scale, device, num_threads, progress -- each stage takes the ones it declares
    <section>: {...}        # one section per DVC stage (or shared by several), holding the paper's settings
    profiles:
      smoke: {<section>: {...overrides...}}

A stage's parameters are ``common[its keys] | its sections | profiles[profile][its sections]`` (later wins;
:func:`stage_config_params`), checked by building its :class:`StageConfig` dataclass. Switching the whole study is
one change: ``dvc exp run -S profile=paper``.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml

from srlib import paths


class ParamsError(ValueError):
    """A params.yaml / parameter problem: unreadable file, unknown stage, profile or name, or a wrong type."""


def _yaml_error_text(path: Path, exc: yaml.YAMLError) -> str:
    """One line for a YAML syntax error: file, 1-based line and column, the problem, and the offending text.

    yaml's own ``str(exc)`` spans five or more lines with a caret drawing; a single line reads better in a DVC log
    and still says where to look.
    """
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if (
        mark is None or not problem
    ):  # ReaderError (bad bytes) and friends carry no mark: squash their text
        return f"{path}: invalid YAML: {' '.join(str(exc).split())}; fix the file and rerun"
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}"
    text = f"{where}: invalid YAML: {problem}"
    context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        started = (
            f" started at line {cmark.line + 1}, column {cmark.column + 1}"
            if cmark is not None
            else ""
        )
        text += f" ({context}{started})"
    try:  # the offending line itself (yaml keeps no text of a file it read as a stream)
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    if 0 <= mark.line < len(lines) and lines[mark.line].strip():
        text += f" near {lines[mark.line].strip()[:60]!r}"
    return text + "; fix the file and rerun"


def read_params(path: str | Path | None = None) -> dict:
    """Load ``params.yaml`` (default: the repository root's); any problem is a one-line :class:`ParamsError`."""
    path = Path(path) if path else paths.root() / "params.yaml"
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    try:
        with open(
            path, "rb"
        ) as f:  # bytes: yaml detects the encoding and reports bad bytes as a YAMLError
            params = yaml.safe_load(f) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(_yaml_error_text(path, exc)) from None
    except OSError as exc:
        raise ParamsError(f"cannot read params file {path}: {exc.strerror or exc}") from None
    if not isinstance(params, dict):
        raise ParamsError(
            f"{path}: top level must be a mapping (name: value lines), got {type(params).__name__}"
        )
    return params


def _section(value: Any, where: str) -> dict:
    """A params.yaml section that must be a mapping (an empty one, ``section:``, reads as None)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParamsError(
            f"params.yaml: {where} must be a mapping of name: value, got {type(value).__name__} {value!r}"
        )
    return value


# --------------------------------------------------------------------------------------------------------------
# one live config per stage


@dataclass
class StageConfig:
    """Base of the per-stage configs: one dataclass per params.yaml section, the paper's defaults, a comment a field.

    A stage's dataclass, its params.yaml section(s) and its notebook's ``parameters`` cell hold the same names,
    types and defaults (a test holds the three together), and the notebook builds the config in one line,
    ``cfg = StageConfigSubclass.from_namespace(globals())``, and passes ``cfg`` down. Subclasses set:

    * ``STAGE`` -- the DVC stage (= notebook) name;
    * ``SECTIONS`` -- the params.yaml sections merged in order (default: ``(STAGE,)``); a section two stages share
      is written once and listed by both;
    * ``COMMON`` -- the ``common`` keys the stage takes (each also a field); the others are not injected;
    * :meth:`check` -- refuse values the stage cannot honour (e.g. ``scale != 4`` for a x4-only study) with a
      :class:`ParamsError` naming the parameter.

    Building the dataclass checks every value's type against its annotation, so a wrong value is refused before
    anything runs (``python -m srlib nb`` builds it before starting the kernel).
    """

    STAGE: ClassVar[str] = ""
    SECTIONS: ClassVar[tuple[str, ...]] = ()
    COMMON: ClassVar[tuple[str, ...]] = ()

    profile: str = (
        "paper"  # params profile the run belongs to (outputs go under results/<profile>/)
    )

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            hint = hints[f.name]
            if typing.get_origin(hint) is tuple and isinstance(value, list):
                value = tuple(value)  # YAML and papermill give lists
                object.__setattr__(self, f.name, value)
            if not _is_instance(value, hint):
                default = (
                    "" if f.default is dataclasses.MISSING else f" (paper default {f.default!r})"
                )
                shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
                raise ParamsError(
                    f"{self.STAGE}: parameter {f.name!r} must be {_type_name(hint)}{default}, "
                    f"got {type(value).__name__} {shown}"
                )
        self.check()

    def check(self) -> None:
        """Stage-specific refusals (override); raise :class:`ParamsError` naming the parameter."""

    def require_choice(self, names: tuple[str, ...], choices) -> None:
        """Refuse any of the parameters ``names`` whose value is not one of ``choices``, naming it."""
        for name in names:
            if getattr(self, name) not in choices:
                raise ParamsError(
                    f"{self.STAGE}: parameter {name!r} must be one of {', '.join(map(str, choices))}, "
                    f"got {getattr(self, name)!r}"
                )

    @classmethod
    def sections(cls) -> tuple[str, ...]:
        return cls.SECTIONS or (cls.STAGE,)

    @classmethod
    def from_namespace(cls, namespace: dict[str, Any]):
        """The config from a notebook's parameters (``globals()``): every field by name, nothing else."""
        missing = [f.name for f in fields(cls) if f.name not in namespace]
        if missing:
            raise ParamsError(f"{cls.STAGE}: the parameters cell does not define {missing}")
        return cls(**{f.name: namespace[f.name] for f in fields(cls)})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _is_instance(value: Any, hint: Any) -> bool:
    """``isinstance`` for the annotations configs use: int, float (int accepted), str, bool, tuples, lists, dicts."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (tuple, list):
        if not isinstance(value, origin):
            return False
        item = (
            args[0]
            if args and (origin is list or (len(args) == 2 and args[1] is Ellipsis))
            else None
        )
        return item is None or all(_is_instance(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if origin in (typing.Union, types.UnionType):
        return any(_is_instance(value, a) for a in args)
    if hint is type(None):
        return value is None
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def stage_config_params(
    cls: type[StageConfig], *, profile: str | None = None, params: dict | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values ``cls`` gets from params.yaml and where each came from.

    ``common[COMMON] | sections... | profiles[profile][section]...`` (later wins); a profile may override a key of
    any of the stage's sections, under that section's name.
    """
    params = read_params() if params is None else params
    for section in cls.sections():
        if section not in params:
            stages = [k for k in params if k not in ("profile", "common", "profiles")]
            raise ParamsError(
                f"params.yaml has no section {section!r} (needed by stage {cls.STAGE!r}); sections: {', '.join(stages)}"
            )
    chosen = profile or params.get("profile", "paper")
    profiles = _section(params.get("profiles"), "'profiles'")
    if chosen not in profiles and chosen != "paper":
        raise ParamsError(
            f"unknown profile {chosen!r}; profiles: {', '.join(map(str, profiles)) or '(none)'}"
        )
    common = _section(params.get("common"), "section 'common'")
    missing = [k for k in cls.COMMON if k not in common]
    if missing:
        raise ParamsError(
            f"stage {cls.STAGE!r} takes common keys {missing}, which params.yaml 'common' lacks"
        )
    merged = {k: common[k] for k in cls.COMMON}
    sources = dict.fromkeys(cls.COMMON, "params.yaml section 'common'")
    for section in cls.sections():
        values = _section(params[section], f"section {section!r}")
        merged.update(values)
        sources.update(dict.fromkeys(values, f"params.yaml section {section!r}"))
    chosen_profile = _section(profiles.get(chosen), f"profiles.{chosen}")
    for section in cls.sections():
        overrides = _section(chosen_profile.get(section), f"profiles.{chosen}.{section}")
        unknown = set(overrides) - set(merged)
        if unknown:
            raise ParamsError(
                f"profiles.{chosen}.{section} sets {sorted(unknown)}, which stage {cls.STAGE!r} does not define"
            )
        merged.update(overrides)
        sources.update(
            dict.fromkeys(
                overrides, f"profile {chosen!r} (params.yaml profiles.{chosen}.{section})"
            )
        )
    merged["profile"] = chosen
    sources["profile"] = "--profile" if profile else "params.yaml 'profile'"
    return merged, sources


def build(
    cls: type[StageConfig], values: dict[str, Any], sources: dict[str, str] | None = None
) -> StageConfig:
    """``cls(**values)`` with unknown names refused and the source of a bad value named in the error."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ParamsError(f"{cls.STAGE}: unknown parameter(s) {unknown}; it takes {sorted(names)}")
    try:
        return cls(**values)
    except ParamsError as exc:
        bad = re.search(r"parameter '(\w+)' must be ([\w\[\], .]+?)[ ,]", str(exc))
        where = (sources or {}).get(bad.group(1)) if bad else None
        hint = ""
        if (
            bad and where == "-p" and bad.group(2) == "str"
        ):  # YAML typed the text: quoting keeps it text
            hint = f"; quote it to pass text, e.g. -p \"{bad.group(1)}='...'\""
        raise ParamsError(f"{exc}" + (f" (from {where}{hint})" if where else "")) from None
