"""Configuration: dataclasses with the papers' defaults, and ``params.yaml`` loading.

``params.yaml`` layout (one source of truth for DVC, papermill and these dataclasses)::

    profile: smoke          # which entry of `profiles` overrides the sections (smoke | photos | paper)
    common: {...}           # seed, scale, device, progress -- shared by every stage
    <stage>: {...}          # one section per DVC stage, holding the paper's settings
    profiles:
      smoke: {<stage>: {...overrides...}}

A stage's parameters are ``common | params[stage] | profiles[profile][stage]`` (later wins). Switching the whole
study is one change: ``dvc exp run -S profile=paper``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

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


def stage_params_with_sources(
    stage: str, *, profile: str | None = None, params: dict | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`stage_params` plus, for each name, which part of params.yaml set it (for error messages)."""
    params = read_params() if params is None else params
    if stage not in params:
        stages = [k for k in params if k not in ("profile", "common", "profiles")]
        raise ParamsError(f"unknown stage {stage!r} in params.yaml; stages: {', '.join(stages)}")
    chosen = profile or params.get("profile", "paper")
    profiles = _section(params.get("profiles"), "'profiles'")
    if chosen not in profiles and chosen != "paper":
        raise ParamsError(
            f"unknown profile {chosen!r}; profiles: {', '.join(map(str, profiles)) or '(none)'}"
        )
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for where, section in (
        ("common", _section(params.get("common"), "section 'common'")),
        (stage, _section(params[stage], f"section {stage!r}")),
    ):
        merged.update(section)
        sources.update(dict.fromkeys(section, f"params.yaml section {where!r}"))
    overrides = _section(
        _section(profiles.get(chosen), f"profiles.{chosen}").get(stage),
        f"profiles.{chosen}.{stage}",
    )
    unknown = set(overrides) - set(merged)
    if unknown:
        raise ParamsError(
            f"profiles.{chosen}.{stage} sets {sorted(unknown)} which {stage!r} does not define"
        )
    merged.update(overrides)
    sources.update(
        dict.fromkeys(overrides, f"profile {chosen!r} (params.yaml profiles.{chosen}.{stage})")
    )
    merged["profile"] = chosen
    sources["profile"] = "--profile" if profile else "params.yaml 'profile'"
    return merged, sources


def stage_params(
    stage: str, *, profile: str | None = None, params: dict | None = None
) -> dict[str, Any]:
    """Flat parameter dict for ``stage``: ``common | params[stage] | profiles[profile][stage]``."""
    return stage_params_with_sources(stage, profile=profile, params=params)[0]


def from_params(cls, params: dict[str, Any], **extra):
    """Build dataclass ``cls`` from the keys of ``params`` it declares (others are ignored)."""
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in params.items() if k in names}
    kwargs.update(extra)
    for f in fields(cls):  # YAML gives lists where the dataclass wants tuples
        if f.name in kwargs and isinstance(kwargs[f.name], list):
            kwargs[f.name] = tuple(kwargs[f.name])
    return cls(**kwargs)


def as_dict(cfg) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


# --------------------------------------------------------------------------------------------------------------
# SRGAN (Ledig et al., CVPR 2017)


@dataclass
class SRResNetConfig:
    """Generator of Ledig et al. (Fig. 4): B residual blocks of k3n64s1, two sub-pixel x2 upsamplers."""

    num_in_ch: int = 3
    num_out_ch: int = 3
    num_feat: int = 64  # "k3n64s1" everywhere in the body
    num_block: int = 16  # B = 16 residual blocks
    scale: int = 4  # two PixelShuffle(2) stages
    # Not in the paper: learn the residual over bicubic (as BasicSR's MSRResNet does). Off in the paper profile.
    bicubic_skip: bool = False


@dataclass
class DiscriminatorConfig:
    """Discriminator of Ledig et al. (Fig. 4): 8 conv layers 64..512, dense 1024, dense 1."""

    num_in_ch: int = 3
    num_feat: int = 64
    fc_dim: int = 1024


@dataclass
class SRGANTrainConfig:
    """Training recipe of Ledig et al. §3.2: SRResNet (MSE) pre-training, then SRGAN from it."""

    gt_size: int = 96  # random 96x96 HR crops
    batch_size: int = 16
    pretrain_iters: int = 1_000_000  # SRResNet: 10^6 updates at 1e-4
    lr_g_pretrain: float = 1e-4
    gan_iters: int = 200_000  # SRGAN: 10^5 updates at 1e-4 then 10^5 at 1e-5
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    lr_decay_at: int = 100_000  # GAN iteration at which both learning rates drop x0.1
    beta1: float = 0.9  # Adam beta1 = 0.9
    beta2: float = 0.999
    w_pix: float = 0.0  # SRGAN-VGG54 uses no pixel loss; Lornatang adds MSE with weight 1
    w_percep: float = 1.0  # VGG54 content loss
    w_adv: float = 1e-3  # l_SR = l_VGG + 1e-3 l_Gen
    vgg_layer: str = "features.35"  # conv5_4 after ReLU, before pool5 ("VGG54")
    vgg_rescale: float = 1 / 12.75  # feature maps rescaled by 1/12.75 (paper §3.2)
    vgg_weights: str = "auto"  # pretrained | auto | random (see srlib.weights)
    flat_threshold: float = 0.02  # reject crops whose gray std is below this (flat sky, bokeh)
    log_interval: int = 100
    val_interval: int = 5000
    ckpt_interval: int = 5000
    seed: int = 0
    extra: dict = field(default_factory=dict)
