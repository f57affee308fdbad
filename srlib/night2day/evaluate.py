"""Night→day evaluation: every phase of M1, M2 and M3 against the day ground truth, Tables 1–3, paired verdicts.

Abedjooy & Ebrahimi compare each **phase** of a model with the day HR ground truth (256²) on the test pairs:

=============  ==========================================================================  =================
phase          image                                                                       in the paper
=============  ==========================================================================  =================
Pre            night LR 64², nearest-neighbour ×4 (:func:`srlib.night2day.data.pre_phase`)       M1, M2
Intermediate   M1: Real-ESRGAN(night LR) = night HR; M2: CUT(night LR) = day LR, NN ×4     M1 only
Post           M1: CUT(SR night); M2: Real-ESRGAN(CUT(night LR)); M3: G(night LR)          M1, M2
=============  ==========================================================================  =================

Conventions (the paper gives none beyond the metric names, so they are written down here): images in [0, 1], RGB,
8-bit quantised outputs, no border crop; RMSE and MAE on the [0, 1] scale; SSIM = Wang et al. 2004 (11×11 Gaussian
σ 1.5, K1 0.01, K2 0.03, L = 255 on the 8-bit levels), mean over the three channels; NCC = Pearson r over all pixels
and channels (:mod:`srlib.metrics.pixel`). FID is one number per phase (Inception pool3 statistics of the phase's images vs
the day ground truths, :func:`srlib.metrics.fid.fid`): it has no per-image values, so it gets no confidence interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from srlib import evaluation, models, paths, stats
from srlib.data import degradations
from srlib.data.images import load_image
from srlib.metrics import fid as metrics_fid
from srlib.metrics import inception
from srlib.metrics import pixel as metrics
from srlib.models.cut import ResnetGenerator, translate
from srlib.night2day import data as night2day_data

METRICS = ("rmse", "mae", "ssim", "ncc")
# the paper's Tables 1-3 report these phases; M2's Intermediate and all M3 rows are ours
PAPER_PHASES = {"M1": ("Pre", "Intermediate", "Post"), "M2": ("Pre", "Post")}
# Paired differences smaller than this are invisible in the paper's tables, which print two decimals.
PAPER_RESOLUTION = 0.01

# stage -> {file: role}; the notebooks 31-33 write these generator files (srlib.models.save_generator)
GENERATOR_FILES = {
    "night2day_m1": {"sr_night.pth": "sr_night", "cut_hr.pth": "cut_hr"},
    "night2day_m2": {"cut_lq.pth": "cut_lq", "sr_day.pth": "sr_day"},
    "night2day_m3": {"m3_paired.pth": "M3-paired", "m3_unpaired.pth": "M3-unpaired"},
}


@dataclass
class Pipelines:
    """The trained networks: M1 = (sr_night, cut_hr), M2 = (cut_lq, sr_day), M3 = one generator per mode."""

    sr_night: nn.Module
    cut_hr: nn.Module
    cut_lq: nn.Module
    sr_day: nn.Module
    m3: dict[str, nn.Module] = field(default_factory=dict)
    meta: dict[str, dict] = field(
        default_factory=dict
    )  # role -> the generator file's meta (weights, data)

    def models(self) -> list[str]:
        return ["M1", "M2", *self.m3]


def load_pipelines(
    profile: str, device: torch.device | str = "cpu", *, with_m3: bool = True
) -> Pipelines:
    """Load every generator file of the M1 / M2 (/ M3) stages; a missing file raises naming it and its stage."""
    nets, meta = {}, {}
    for stage, files in GENERATOR_FILES.items():
        if stage == "night2day_m3" and not with_m3:
            continue
        for name, role in files.items():
            path = paths.run_dir(profile, stage) / name
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} not found: run the {stage} stage first (dvc repro {stage})"
                )
            g, state = models.load_generator(path)
            nets[role] = g.to(device).eval()
            meta[role] = state.get("meta", {})
    m3 = {k: nets.pop(k) for k in ("M3-paired", "M3-unpaired") if k in nets}
    return Pipelines(**nets, m3=m3, meta=meta)


def _q(x: Tensor) -> Tensor:
    return degradations.quantize(x.clamp(0, 1))


@torch.no_grad()
def apply_chain(nets: Sequence[nn.Module], x: Tensor) -> list[Tensor]:
    """Run networks one after the other on [0, 1] images, 8-bit quantising every output; returns each output.

    A CUT generator runs through :func:`srlib.models.cut.translate` ([-1, 1] inside, any size); an SR network
    takes [0, 1] directly.
    """
    outs = []
    for net in nets:
        x = _q(translate(net, x) if isinstance(net, ResnetGenerator) else net(x))
        outs.append(x)
    return outs


@torch.no_grad()
def run_phases(p: Pipelines, night_lq: Tensor) -> dict[tuple[str, str], Tensor]:
    """``{(model, phase): (B, 3, 256, 256)}`` for a batch of night LR images; every output 8-bit quantised.

    The Pre phase is one tensor shared by all models (it does not depend on them).
    """
    pre = night2day_data.pre_phase(night_lq)
    out: dict[tuple[str, str], Tensor] = {("M1", "Pre"): pre}
    out["M1", "Intermediate"], out["M1", "Post"] = apply_chain([p.sr_night, p.cut_hr], night_lq)
    day_lq, out["M2", "Post"] = apply_chain([p.cut_lq, p.sr_day], night_lq)
    out["M2", "Pre"] = pre
    out["M2", "Intermediate"] = night2day_data.pre_phase(day_lq)
    out["M2", "Post"] = out.pop(("M2", "Post"))  # keep the Pre, Intermediate, Post order
    for name, g in p.m3.items():
        out[name, "Pre"] = pre
        (out[name, "Post"],) = apply_chain([g], night_lq)
    return out


def measure(out: Tensor, gt: Tensor) -> dict[str, np.ndarray]:
    """Per-image RMSE, MAE, SSIM, NCC of ``out`` vs ``gt`` (conventions in the module docstring)."""
    return {
        "rmse": metrics.rmse(out, gt).numpy(),
        "mae": metrics.mae(out, gt).numpy(),
        "ssim": metrics.ssim(out, gt).numpy(),
        "ncc": metrics.ncc(out, gt).numpy(),
    }


@dataclass
class PhaseImages:
    """Every phase's test outputs (uint8, ``(N, 3, 256, 256)``), the ground truths and the night inputs."""

    images: dict[tuple[str, str], Tensor]
    gt: Tensor
    night_lq: Tensor
    names: list[str]

    def float(self, key: tuple[str, str] | str, idx: Sequence[int] | None = None) -> Tensor:
        t = self.gt if key == "gt" else self.night_lq if key == "night_lq" else self.images[key]
        return (t if idx is None else t[list(idx)]).float() / 255


def _u8(x: Tensor) -> Tensor:
    return (x * 255).round().to(torch.uint8).cpu()


def evaluate_phases(
    p: Pipelines,
    pairs: night2day_data.Night2DayPairs,
    *,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> tuple[pd.DataFrame, PhaseImages]:
    """Run every phase on the test pairs: per-image metrics (one row per image × model × phase) and the images."""
    rows, gts, lqs = [], [], []
    chunks: dict[tuple[str, str], list[Tensor]] = {}
    names = [Path(f).stem for f in pairs.files]
    for start in tqdm(
        range(0, len(pairs), batch_size), desc="night2day test", disable=not progress
    ):
        idx = range(start, min(start + batch_size, len(pairs)))
        batch = night2day_data.stack([pairs[i] for i in idx])
        outs = run_phases(p, batch.night_lq.to(device))
        measured: dict[
            int, dict
        ] = {}  # the shared Pre tensor is measured and stored once (as M1/Pre)
        for (model, phase), out in outs.items():
            if id(out) not in measured:
                measured[id(out)] = measure(out.float().cpu(), batch.day_hr)
                chunks.setdefault((model, phase), []).append(_u8(out))
            vals = measured[id(out)]
            for j, i in enumerate(idx):
                rows.append(
                    {"image": names[i], "model": model, "phase": phase, "key": f"{model}/{phase}"}
                    | {m: float(vals[m][j]) for m in METRICS}
                )
        gts.append(_u8(batch.day_hr))
        lqs.append(_u8(batch.night_lq))
    images = {key: torch.cat(parts) for key, parts in chunks.items()}
    for model in p.models():  # the Pre phase is one tensor for every model
        images[model, "Pre"] = images["M1", "Pre"]
    order = list(dict.fromkeys((r["model"], r["phase"]) for r in rows))
    images = {k: images[k] for k in order}
    return pd.DataFrame(rows), PhaseImages(images, torch.cat(gts), torch.cat(lqs), names)


def fid_per_phase(
    ph: PhaseImages,
    *,
    dims: int = 2048,
    mode: str = "auto",
    device: torch.device | str = "cpu",
    seed: int = 0,
    batch_size: int = 50,
) -> pd.DataFrame:
    """FID of every phase's images vs the day ground truths (Pre computed once, shared by all models)."""

    def batches(t: Tensor):
        return (t[i : i + batch_size].float() / 255 for i in range(0, len(t), batch_size))

    gt_stats = inception.inception_stats(
        batches(ph.gt), dims=dims, mode=mode, device=device, seed=seed
    )
    done: dict[int, dict] = {}
    rows = []
    for (model, phase), imgs in ph.images.items():
        if id(imgs) not in done:
            mu, sigma, n = inception.inception_stats(
                batches(imgs), dims=dims, mode=mode, device=device, seed=seed
            )
            value = metrics_fid.frechet_distance(mu, sigma, gt_stats[0], gt_stats[1])
            done[id(imgs)] = {"fid": value, "n": n}
        rows.append({"model": model, "phase": phase, "key": f"{model}/{phase}"} | done[id(imgs)])
    _, status = inception.fid_inception(dims, mode, device=device, seed=seed)
    notes = (
        [] if status.comparable else [f"FID from a RANDOM-INITIALISED Inception ({status.message})"]
    )
    if dims != 2048:
        notes.append(
            f"FID on {dims}-dim Inception features (the paper's FID uses pool3, 2048): not comparable"
        )
    if len(ph.gt) <= dims:
        notes.append(
            f"N = {len(ph.gt)} images <= {dims} dims: singular covariances, FID biased and unstable"
        )
    if not status.comparable:
        notes.append(
            "a random-init Inception maps every image to nearly the same features: FID is ~0 for every "
            "phase and says nothing about realism; Post-vs-Pre on FID is not assessed"
        )
    out = pd.DataFrame(rows)
    out.attrs["weights"], out.attrs["notes"] = status.as_dict(), notes
    return out


def post_better_summary(post_vs_pre: pd.DataFrame, fid: pd.DataFrame) -> dict[str, dict]:
    """Per model: is Post better than Pre on every per-image metric (paired verdict "A better"), and on FID
    (a point comparison; ``None`` when FID came from a random-init Inception and is meaningless)?"""
    fid_ok = bool(fid.attrs.get("weights", {}).get("comparable", False))
    by_key = fid.set_index("key")["fid"]
    out = {}
    for model, sub in post_vs_pre.groupby("model", sort=False):
        failed = {r.metric: r.verdict for r in sub.itertuples() if r.verdict != "A better"}
        fid_better = bool(by_key[f"{model}/Post"] < by_key[f"{model}/Pre"]) if fid_ok else None
        out[model] = {
            "all_per_image_metrics": not failed,
            "not_better_on": failed,
            "fid": fid_better,
            "all": not failed and fid_better is not False,
        }
    return out


# ------------------------------------------------------------------------------------------ tables, verdicts


def phase_summary(per_image: pd.DataFrame, fid: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean ± std per ``(model, phase)`` of every metric (and FID), one row each, in evaluation order."""
    table = stats.summary_table(per_image, by="key", metrics=list(METRICS))
    keys = per_image.drop_duplicates("key").set_index("key")[["model", "phase"]]
    table = keys.join(table)
    if fid is not None:
        table = table.join(fid.set_index("key")[["fid"]])
    return table.reset_index()


def paper_comparison(summary: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Long "paper / ours / Δ" rows for every (model, phase, metric) we measured or the paper reports.

    ``reference`` is ``references/night2day_abedjooy.csv`` (method = M1/M2, phase, metric, value, table).
    Our value is the mean over the test images (FID: the single value).
    """
    ref = reference.set_index(["method", "phase", "metric"])["value"]
    rows = []
    for r in summary.itertuples(index=False):
        for m in (*METRICS, "fid"):
            if m == "fid" and "fid" not in summary.columns:
                continue
            ours = r.fid if m == "fid" else getattr(r, f"{m}_mean")
            std = None if m == "fid" else getattr(r, f"{m}_std")
            paper = ref.get((r.model, r.phase, m))
            rows.append(
                {
                    "model": r.model,
                    "phase": r.phase,
                    "metric": m,
                    "paper": paper,
                    "ours": ours,
                    "ours_std": std,
                    "delta": None if paper is None else ours - paper,
                    "in_paper": paper is not None,
                }
            )
    return pd.DataFrame(rows)


def paper_tables_markdown(comparison: pd.DataFrame, *, labels: Sequence[str], title: str) -> str:
    """Tables 1–3 in the paper's form: one table per model, rows = phases, cells "paper / ours ± std / Δ"."""
    lines = [f"# {title}", ""] + [f"- {label}" for label in labels] + [""]
    for model, sub in comparison.groupby("model", sort=False):
        which = {
            "M1": "Table-1-style (M1: SR first)",
            "M2": "Table-2-style (M2: translation first)",
        }.get(model, f"{model} (beyond the paper: end-to-end)")
        metrics_ = list(dict.fromkeys(sub["metric"]))
        lines += [
            f"## {which}",
            "",
            "| phase | " + " | ".join(m.upper() for m in metrics_) + " |",
            "| --- |" + " --- |" * len(metrics_),
        ]
        for phase, rows in sub.groupby("phase", sort=False):
            cells = []
            for m in metrics_:
                r = rows[rows.metric == m].iloc[0]
                fmt = ".4g" if m == "fid" else ".3f"  # FID from a random Inception can be ~1e-13
                ours = f"{r.ours:{fmt}}" + (
                    "" if r.ours_std is None or pd.isna(r.ours_std) else f" ± {r.ours_std:.3f}"
                )
                cells.append(
                    f"{r.paper:.2f} / {ours} / {r.delta:+{fmt}}"
                    if r.in_paper
                    else f"— / {ours} / —"
                )
            lines.append(f"| {phase} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(
        "Cells: paper / ours (mean ± std over the test images; FID one value) / Δ = ours − paper. "
        "'—': the paper has no such row."
    )
    return "\n".join(lines) + "\n"


def _equivalent(res: dict, margin: float) -> bool:
    return -margin < res["ci_low"] and res["ci_high"] < margin


def _compare(df: pd.DataFrame, metric: str, a: str, b: str, *, by: str, seed: int) -> dict:
    """:func:`srlib.stats.compare_models`, or an "undefined" row when fewer than two images have finite values
    in both groups (e.g. NCC of a constant output is undefined)."""
    try:
        return stats.compare_models(df, metric, a, b, by=by, on="image", seed=seed)
    except ValueError as exc:
        nan = float("nan")
        return {
            "metric": metric,
            "a": a,
            "b": b,
            "n": 0,
            "mean_a": nan,
            "mean_b": nan,
            "mean_diff": nan,
            "ci_low": nan,
            "ci_high": nan,
            "p_wilcoxon": nan,
            "verdict": f"undefined ({exc})",
        }


def phase_verdicts(
    per_image: pd.DataFrame, *, a: str = "Post", b: str = "Pre", seed: int = 0
) -> pd.DataFrame:
    """Per model and metric: is phase ``a`` better than phase ``b``? Paired over the test images."""
    rows = []
    for model, sub in per_image.groupby("model", sort=False):
        if not {a, b} <= set(sub.phase):
            continue
        for m in METRICS:
            res = _compare(sub, m, a, b, by="phase", seed=seed)
            rows.append({"model": model} | res)
    return pd.DataFrame(rows)


def model_verdicts(
    per_image: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    *,
    phase: str = "Post",
    seed: int = 0,
    margin: float = PAPER_RESOLUTION,
) -> pd.DataFrame:
    """Model A vs model B at ``phase`` on every metric: mean difference, bootstrap 95 % CI, Wilcoxon p, verdict.

    ``equivalent`` is True when the whole CI lies inside ±``margin`` (default: the paper's two-decimal resolution):
    "similar" alone (CI contains 0) can also mean "too few images to tell".
    """
    sub = per_image[per_image.phase == phase]
    rows = []
    for a, b in pairs:
        for m in METRICS:
            res = _compare(sub, m, a, b, by="model", seed=seed)
            rows.append(res | {"equivalent": _equivalent(res, margin), "margin": margin})
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------------------- real night photos


def night_photo_inputs(files: Sequence[str | Path]) -> tuple[list[str], Tensor, Tensor]:
    """Real night photos for the qualitative figure: central square → 256² (MATLAB bicubic) → the paper's LR.

    Returns ``(names, night_hr (N, 3, 256, 256), night_lq (N, 3, 64, 64))``. They have no day ground truth.
    """
    names, hrs = [], []
    for f in files:
        img = load_image(paths.resolve(f))
        img = evaluation.center_crop(img, min(img.shape[-2:]))
        hrs.append(night2day_data.to_gt_size(img).clamp(0, 1))
        names.append(Path(f).stem)
    hr = torch.stack(hrs)
    return names, hr, night2day_data.make_lq(hr)
