"""Real-ESRGAN's ``realesrgan_pretrained`` stage (notebook 50): bicubic vs the released x4plus on the benchmark.

Wang et al. 2021 (https://arxiv.org/abs/2107.10833) release RealESRGAN_x4plus; srlib converts Real-ESRGAN's fp16
ncnn files of it from a pip wheel (:func:`srlib.convert.releases.load_model`; close to, not bit-identical with, the
official ``.pth``). Protocol, per benchmark image of the ``data_prepare`` bench split:

* ground truth = the image mod-cropped to the scale; input = its 8-bit MATLAB-bicubic x1/4 downscale (the study's
  degradation, :func:`srlib.data.images.benchmark_pairs`, as ``srgan_evaluate``). This is **not** the
  real-world degradation x4plus was trained for, so it is measured off its training distribution;
* outputs: bicubic x4 (MATLAB ``imresize``) and x4plus through srlib's tiled inference
  (:func:`srlib.inference.tiling.upscaler`, bounded memory), clamped and rounded to 8 bits;
* PSNR-Y / SSIM-Y with ``crop_border`` (:mod:`srlib.metrics.pixel`, BasicSR conventions), LPIPS v0.1
  (:mod:`srlib.metrics.lpips`; its trunk's weight state is in every header), NIQE (:mod:`srlib.metrics.niqe`, no
  reference, the same ``crop_border``; also of the ground truth) and KID of each method's outputs vs the ground-truth
  set (:func:`srlib.metrics.fid.kid`; the FID Inception's weight state is in the header);
* per method the mean with a percentile bootstrap 95 % CI over the images (:func:`srlib.stats.bootstrap_mean`),
  and x4plus - bicubic paired per image (:func:`srlib.stats.compare_models`).

Every x4plus label says how its weights resolved: "pretrained, fp16-converted release" or RANDOM-INIT.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch

from srlib import evaluation, paths, runtime, stats, tracking, viz
from srlib.convert import releases
from srlib.data import degradations, images, splits
from srlib.inference import tiling
from srlib.metrics import fid, inception, lpips, niqe
from srlib.weights import WeightStatus

if TYPE_CHECKING:
    from srlib.realesrgan.config import RealESRGANPretrainedConfig

log = logging.getLogger("srlib.realesrgan")

RELEASE = "realesrgan-x4plus"  # srlib.convert.releases.MODELS name
X4PLUS, BICUBIC, HR = "realesrgan_x4plus", "bicubic", "hr"  # the `model` column
METHODS = (BICUBIC, X4PLUS)
METRICS = ("psnr_y", "ssim_y", "lpips", "niqe")
DECIMALS = {"psnr_y": 2, "ssim_y": 4, "lpips": 4, "niqe": 2, "kid": 2}
PAPER = "Wang et al. 2021, Real-ESRGAN (https://arxiv.org/abs/2107.10833)"


@dataclass
class PretrainedRun:
    """What the stage's steps share: the config, the benchmark pairs, the networks and their weight statuses."""

    cfg: RealESRGANPretrainedConfig
    device: torch.device
    manifest: dict
    bench: dict  # the manifest's bench split (name, source, files)
    pairs: list  # (name, lq, gt)
    model: torch.nn.Module
    lpips: lpips.LPIPSModel
    weights: dict[str, WeightStatus]  # realesrgan_x4plus, lpips_<net>, fid_inception

    @property
    def names(self) -> dict[str, str]:
        return method_names(self.weights[X4PLUS])

    @property
    def x4plus_state(self) -> str:
        return x4plus_state(self.weights[X4PLUS])


# ---------------------------------------------------------------------------------------------------------------------
# labels


def x4plus_state(status: WeightStatus) -> str:
    """``pretrained, fp16-converted release`` (srlib's conversion), ``pretrained`` or ``RANDOM-INIT: ...``."""
    if status.source != "file":
        return "RANDOM-INIT: not the released network"
    comparable = status.as_dict()["comparable"]
    return (
        "pretrained, " + comparable.removeprefix("yes, ")
        if isinstance(comparable, str)
        else "pretrained"
    )


def weight_state(status: WeightStatus | dict) -> str:
    """A metric network's weights in a few words: ``random-init: not comparable``, a conversion's note, ``pretrained``."""
    d = status.as_dict() if isinstance(status, WeightStatus) else status
    if d["source"] != "file":
        return "random-init: not comparable"
    comparable = d.get("comparable")  # a conversion says what it is: "yes, converted ... (details)"
    if isinstance(comparable, str):
        return comparable.removeprefix("yes, ").split(" (")[0]
    return "pretrained"


def method_names(status: WeightStatus) -> dict[str, str]:
    """Display name of each ``model`` value; the x4plus one says how its weights resolved."""
    return {
        BICUBIC: "bicubic (MATLAB imresize)",
        X4PLUS: f"Real-ESRGAN x4plus ({x4plus_state(status)})",
        HR: "HR ground truth",
    }


def headers(run: PretrainedRun) -> dict[str, str]:
    """Column header of each metric, with its direction and, for LPIPS / KID, the metric network's weight state."""
    trunk = (
        "random trunk: not comparable" if not run.lpips.status.comparable else "pretrained trunk"
    )
    return {
        "psnr_y": "PSNR-Y ↑ (dB)",
        "ssim_y": "SSIM-Y ↑",
        "lpips": f"LPIPS-{run.cfg.lpips_net} ↓ ({trunk})",
        "niqe": "NIQE ↓",
        "kid": f"KID×10³ ↓ (Inception: {weight_state(run.weights['fid_inception'])})",
    }


def run_labels(run: PretrainedRun) -> list[str]:
    """The caveats every number of the run carries (the metrics file adds PROXY / RANDOM WEIGHTS itself)."""
    cfg = run.cfg
    crop = f"centre crops of {cfg.eval_crop} px" if cfg.eval_crop else "whole images"
    labels = [
        f"Real-ESRGAN x4plus: {run.x4plus_state} ({run.weights[X4PLUS].as_dict()['message']})",
        f"LR = 8-bit MATLAB-bicubic x1/{cfg.scale} of the ground truth ({crop}): not the real-world degradations "
        "x4plus was trained for (the paper reports NIQE on real-world sets without ground truth, Table 1)",
    ]
    if not run.lpips.status.comparable:
        labels.append(
            f"LPIPS-{cfg.lpips_net}: random trunk, values not comparable with published LPIPS"
        )
    if not run.weights["fid_inception"].comparable:
        labels.append("KID: random-initialised Inception, values not comparable")
    return labels


# ---------------------------------------------------------------------------------------------------------------------
# the steps


def start(cfg: RealESRGANPretrainedConfig) -> PretrainedRun:
    """Threads and device, the benchmark pairs (first ``max_images``), x4plus, LPIPS and the KID Inception."""
    device = runtime.setup(cfg, seed=False)
    manifest = splits.read_manifest(paths.data_manifest(cfg.profile))
    bench = splits.split_info(manifest, "bench")
    files = splits.split_files(manifest, "bench")
    files = files[: cfg.max_images] if cfg.max_images else files
    if len(files) < 2:
        raise ValueError(
            f"the bench split {bench['name']} has {len(files)} image(s): the CIs and KID need at least 2"
        )
    pairs = images.benchmark_pairs(files, cfg.scale)
    if cfg.eval_crop:  # the centre of each ground truth, and its own 8-bit bicubic LR
        crops = [
            degradations.mod_crop(evaluation.center_crop(gt, cfg.eval_crop), cfg.scale)
            for _, _, gt in pairs
        ]
        pairs = [
            (name, degradations.quantize(degradations.imresize(gt, 1 / cfg.scale).clamp(0, 1)), gt)
            for (name, _, _), gt in zip(pairs, crops)
        ]
    model, status = releases.load_model(RELEASE, cfg.weights)
    lp = lpips.load_lpips(cfg.lpips_net, cfg.lpips_weights, device=device, seed=cfg.seed)
    _, inception_status = inception.fid_inception(
        cfg.kid_dims, cfg.fid_weights, device=device, seed=cfg.seed
    )
    weights = {
        X4PLUS: status,
        f"lpips_{cfg.lpips_net}": lp.status,
        "fid_inception": inception_status,
    }
    return PretrainedRun(cfg, device, manifest, bench, pairs, model.to(device), lp, weights)


def upscalers(run: PretrainedRun) -> dict[str, evaluation.Upscaler]:
    """Bicubic and x4plus through the tiled inference (``tile`` / ``overlap`` / ``precision`` of the config)."""
    cfg = run.cfg
    return {
        BICUBIC: evaluation.bicubic_upscaler(cfg.scale),
        X4PLUS: tiling.upscaler(
            run.model,
            tile=cfg.tile,
            overlap=cfg.overlap,
            device=run.device,
            precision=cfg.precision,
        ),
    }


def _uint8(img: torch.Tensor) -> torch.Tensor:
    return img.clamp(0, 1).mul(255).round().to(torch.uint8)


def measure(run: PretrainedRun) -> tuple[pd.DataFrame, dict[str, dict[str, torch.Tensor]]]:
    """Every method on every image: one row per (model, image) with PSNR-Y, SSIM-Y, LPIPS, NIQE and seconds.

    ``hr`` rows hold the ground truth's NIQE only. Also returns the 8-bit outputs ``{model: {image: (3, H, W)
    uint8}}`` (``hr``: the ground truths) for KID and the figures, and writes
    ``tables/realesrgan_pretrained_per_image.csv``.
    """
    cfg, ups, names = run.cfg, upscalers(run), run.names
    rows, outputs = [], {m: {} for m in (*METHODS, HR)}
    items = run.pairs
    if cfg.progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="realesrgan_pretrained")
    for name, lq, gt in items:
        size = {"image": name, "height": gt.shape[-2], "width": gt.shape[-1]}
        outputs[HR][name] = _uint8(gt)
        niqe_hr = niqe.niqe_or_nan(gt, cfg.crop_border, f"{name} (ground truth)")
        rows.append({"model": HR, "method": names[HR], **size, "niqe": niqe_hr})
        line = []
        for m, up in ups.items():
            t0 = time.perf_counter()
            sr = degradations.quantize(up(lq[None]).clamp(0, 1))
            seconds = time.perf_counter() - t0
            row = {"model": m, "method": names[m], **size, "seconds": seconds}
            row |= evaluation.measure(sr, gt[None], crop_border=cfg.crop_border)
            row["lpips"] = float(run.lpips(sr, gt[None])[0])
            row["niqe"] = niqe.niqe_or_nan(sr[0], cfg.crop_border, f"{name} ({m})")
            outputs[m][name] = _uint8(sr[0])
            rows.append(row)
            line.append(f"{m} {row['psnr_y']:.2f} dB, NIQE {row['niqe']:.2f}, {seconds:.1f} s")
        log.info(
            "%s (%dx%d): %s; HR NIQE %.2f",
            name,
            gt.shape[-1],
            gt.shape[-2],
            "; ".join(line),
            niqe_hr,
        )
    per_image = pd.DataFrame(rows)
    per_image.to_csv(
        paths.table_file(cfg.profile, "realesrgan_pretrained_per_image.csv"), index=False
    )
    return per_image, outputs


def kid_scores(run: PretrainedRun, outputs: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict]:
    """KID of each method's outputs vs the ground-truth set (:func:`srlib.metrics.fid.kid`, ``fid_weights`` mode)."""
    cfg = run.cfg
    out = {}
    for m in METHODS:
        res = fid.kid(
            (t.float().div(255) for t in outputs[m].values()),
            (t.float().div(255) for t in outputs[HR].values()),
            dims=cfg.kid_dims,
            mode=cfg.fid_weights,
            device=run.device,
            seed=cfg.seed,
            n_subsets=cfg.kid_subsets,
            subset_size=cfg.kid_subset_size,
        )
        out[m] = res
    return out


def summarize(run: PretrainedRun, per_image: pd.DataFrame, kid: dict[str, dict]) -> pd.DataFrame:
    """One row per model (bicubic, x4plus, hr): each metric's mean and bootstrap 95 % CI, KID and its std, seconds."""
    cfg = run.cfg
    rows = []
    for m in (*METHODS, HR):
        sub = per_image[per_image.model == m]
        row = {"model": m, "method": run.names[m], "images": int(len(sub))}
        for metric in METRICS:
            if metric not in sub or sub[metric].isna().all():
                row |= {
                    metric: math.nan,
                    f"{metric}_ci_low": math.nan,
                    f"{metric}_ci_high": math.nan,
                }
                continue
            b = stats.bootstrap_mean(sub[metric], n_boot=cfg.n_boot, seed=cfg.seed)
            row |= {
                metric: b["mean"],
                f"{metric}_ci_low": b["ci_low"],
                f"{metric}_ci_high": b["ci_high"],
            }
        row["kid"] = kid[m]["value"] if m in kid else math.nan
        row["kid_std"] = kid[m]["std"] if m in kid else math.nan
        row["kid_subset_size"] = kid[m]["subset_size"] if m in kid else 0
        row["seconds_per_image"] = (
            float(sub["seconds"].mean()) if "seconds" in sub and m != HR else math.nan
        )
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def paired(run: PretrainedRun, per_image: pd.DataFrame) -> pd.DataFrame:
    """x4plus - bicubic per metric, paired on the images (bootstrap CI, Wilcoxon); ``..._paired.csv``."""
    cfg = run.cfg
    df = pd.DataFrame(
        [
            stats.compare_models(per_image, m, X4PLUS, BICUBIC, n_boot=cfg.n_boot, seed=cfg.seed)
            for m in METRICS
        ]
    )
    df.to_csv(paths.table_file(cfg.profile, "realesrgan_pretrained_paired.csv"), index=False)
    return df


# ---------------------------------------------------------------------------------------------------------------------
# tables, figures, metrics, conclusions


def _fmt(value: float, decimals: int) -> str:
    return "" if value is None or value != value else f"{value:.{decimals}f}"


def table(run: PretrainedRun, summary: pd.DataFrame) -> pd.DataFrame:
    """The committed table, one row per method: mean and 95 % CI columns per metric (rounded), KID x 10³ ± std."""
    head = headers(run)
    rows = []
    for _, r in summary.iterrows():
        row = {"method": r["method"], "images": r["images"]}
        for metric in METRICS:
            d = DECIMALS[metric]
            row[head[metric]] = round(r[metric], d) if r[metric] == r[metric] else None
            row[f"{head[metric].split(' ')[0]} 95% CI"] = (
                f"[{_fmt(r[f'{metric}_ci_low'], d)}, {_fmt(r[f'{metric}_ci_high'], d)}]"
                if r[f"{metric}_ci_low"] == r[f"{metric}_ci_low"]
                else ""
            )
        kid, std = r["kid"] * 1e3, r["kid_std"] * 1e3
        row[head["kid"]] = round(kid, 2) if kid == kid else None
        row["KID×10³ std over subsets"] = round(std, 2) if std == std else None
        row["s / image"] = (
            round(r["seconds_per_image"], 2)
            if r["seconds_per_image"] == r["seconds_per_image"]
            else None
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(run: PretrainedRun, summary: pd.DataFrame) -> str:
    """The table as markdown: one cell per metric, ``mean [CI low, CI high]``."""
    head = headers(run)
    cols = ["method", "images", *(head[m] for m in METRICS), head["kid"], "s / image"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in summary.iterrows():
        cells = [r["method"], str(r["images"])]
        for m in METRICS:
            d = DECIMALS[m]
            mean = _fmt(r[m], d)
            ci = (
                f" [{_fmt(r[f'{m}_ci_low'], d)}, {_fmt(r[f'{m}_ci_high'], d)}]"
                if r[f"{m}_ci_low"] == r[f"{m}_ci_low"]
                else ""
            )
            cells.append(mean + ci if mean else "—")
        cells.append(_kid_text(r))
        cells.append(_fmt(r["seconds_per_image"], 2) or "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _kid_text(r: pd.Series) -> str:
    """KID x 10³ ± its std over subsets; when a subset is the whole set, every subset is the same (no spread)."""
    kid = r["kid"] * 1e3
    if kid != kid:
        return "—"
    if r["kid_subset_size"] >= r["images"]:
        return f"{kid:.2f} (each subset = all {r['images']} images: no spread to report)"
    return f"{kid:.2f} ± {r['kid_std'] * 1e3:.2f}"


def _paired_markdown(run: PretrainedRun, paired_df: pd.DataFrame) -> str:
    head = headers(run)
    lines = [
        "| metric | x4plus − bicubic | 95% CI | Wilcoxon p | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in paired_df.itertuples():
        d = DECIMALS[r.metric]
        lines.append(
            f"| {head[r.metric]} | {r.mean_diff:+.{d}f} | [{r.ci_low:+.{d}f}, {r.ci_high:+.{d}f}] | "
            f"{r.p_wilcoxon:.3g} | {_verdict(r.verdict)} |"
        )
    return "\n".join(lines) + "\n"


def _verdict(verdict: str) -> str:
    return {
        "A better": "x4plus better",
        "B better": "bicubic better",
        "similar": "no difference resolved (CI contains 0)",
        "inconclusive": "CI excludes 0, Wilcoxon p ≥ 0.05 (too few images)",
    }[verdict]


def save_tables(
    run: PretrainedRun, summary: pd.DataFrame, paired_df: pd.DataFrame, findings: list[str]
) -> pd.DataFrame:
    """``tables/realesrgan_pretrained.{csv,md}``: the table (CSV numeric), the paired comparison, the findings."""
    cfg = run.cfg
    df = table(run, summary)
    df.to_csv(paths.table_file(cfg.profile, "realesrgan_pretrained.csv"), index=False)
    data = run.bench["name"] + (" (PROXY data)" if run.manifest["proxy"] else "")
    text = (
        f"# Bicubic vs pretrained Real-ESRGAN x4plus ({cfg.profile} profile)\n\n"
        f"{PAPER}. x{cfg.scale} on {len(run.pairs)} images of {data}; LR = 8-bit MATLAB-bicubic downscale of the "
        f"mod-cropped ground truth. PSNR-Y / SSIM-Y / NIQE with a {cfg.crop_border}-pixel border removed (BT.601 Y, "
        f"8-bit outputs); mean [bootstrap 95 % CI over the images, {cfg.n_boot} resamples]; KID of each method's "
        f"outputs vs the HR set (×10³, ± std over {cfg.kid_subsets} subsets); x4plus tiled {cfg.tile} px / "
        f"overlap {cfg.overlap}, {cfg.precision}, on {run.device}.\n\n"
        + "".join(f"- {label}\n" for label in run_labels(run))
        + "\n"
        + _markdown(run, summary)
        + "\n## x4plus − bicubic, paired on the images\n\n"
        + _paired_markdown(run, paired_df)
        + "\n## Findings\n\n"
        + "".join(f"- {f}\n" for f in findings)
    )
    paths.table_file(cfg.profile, "realesrgan_pretrained.md").write_text(text)
    return df


def zoom_picks(per_image: pd.DataFrame) -> dict[str, str]:
    """The images shown: the median and the worst PSNR-Y gain of x4plus over bicubic (never the best).

    ``{rule: image}``; with an even count the median is the lower middle one; one image may be both.
    """
    psnr = per_image[per_image.model.isin(METHODS)].pivot(
        index="image", columns="model", values="psnr_y"
    )
    gain = (psnr[X4PLUS] - psnr[BICUBIC]).sort_values(kind="stable")
    return {"median gain": str(gain.index[(len(gain) - 1) // 2]), "worst gain": str(gain.index[0])}


def zoom_figures(
    run: PretrainedRun, per_image: pd.DataFrame, outputs: dict[str, dict[str, torch.Tensor]]
) -> list[Path]:
    """A zoomed crop (the ground truth's busiest ``zoom_size`` window) of the :func:`zoom_picks` images, with each
    panel's whole-image PSNR-Y / SSIM-Y; ``figures/realesrgan_pretrained/zoom_*.png`` (old ones removed)."""
    cfg, names = run.cfg, run.names
    folder = paths.figure_file(cfg.profile, "realesrgan_pretrained/x").parent
    for old in folder.glob("zoom_*.png"):
        old.unlink()
    by_image: dict[str, list[str]] = {}
    for rule, name in zoom_picks(per_image).items():
        by_image.setdefault(name, []).append(rule)
    vals = per_image.set_index(["image", "model"])
    saved = []
    for name, rules in by_image.items():
        shown = {m: outputs[m][name].float().div(255) for m in METHODS}
        shown["ground truth"] = outputs[HR][name].float().div(255)
        labels = {
            m: f"{names[m]}\nPSNR-Y {vals.loc[(name, m), 'psnr_y']:.2f} dB, SSIM-Y {vals.loc[(name, m), 'ssim_y']:.4f}"
            for m in METHODS
        }
        labels["ground truth"] = names[HR]
        gain = vals.loc[(name, X4PLUS), "psnr_y"] - vals.loc[(name, BICUBIC), "psnr_y"]
        size = min(cfg.zoom_size, *shown["ground truth"].shape[-2:])
        fig = viz.zoom_comparison(
            shown,
            size=size,
            labels=labels,
            title=f"{name}: {' and '.join(rules)} of x4plus over bicubic ({gain:+.2f} dB PSNR-Y)\n"
            f"Real-ESRGAN x4plus: {run.x4plus_state}; whole-image PSNR-Y / SSIM-Y per panel",
        )
        slug = "_".join(r.replace(" ", "_") for r in rules)
        saved.append(viz.save(fig, folder / f"zoom_{slug}_{name}.png"))
    return saved


def psnr_figure(run: PretrainedRun, per_image: pd.DataFrame) -> Path:
    """PSNR-Y per image and method, ``figures/realesrgan_pretrained/psnr_y_per_image.png``."""
    df = per_image[per_image.model.isin(METHODS)].assign(model=lambda d: d.model.map(run.names))
    fig = viz.metric_bars(
        df,
        "psnr_y",
        unit="dB",
        title=f"PSNR-Y per image, x{run.cfg.scale} ({run.bench['name']}); x4plus {run.x4plus_state}",
    )
    return viz.save(
        fig, paths.figure_file(run.cfg.profile, "realesrgan_pretrained/psnr_y_per_image.png")
    )


def conclusions(run: PretrainedRun, summary: pd.DataFrame, paired_df: pd.DataFrame) -> list[str]:
    """This run's findings in sentences, every number taken from ``summary`` and ``paired_df``."""
    cfg, names, head = run.cfg, run.names, headers(run)
    b, x, hr = summary.loc[BICUBIC], summary.loc[X4PLUS], summary.loc[HR]
    data = run.bench["name"] + (" (PROXY data)" if run.manifest["proxy"] else "")
    out = [
        f"On {len(run.pairs)} images of {data} at x{cfg.scale} from MATLAB-bicubic LR: {names[BICUBIC]} PSNR-Y "
        f"{b.psnr_y:.2f} dB / SSIM-Y {b.ssim_y:.4f}; {names[X4PLUS]} {x.psnr_y:.2f} dB / {x.ssim_y:.4f}."
    ]
    for r in paired_df.itertuples():
        d = DECIMALS[r.metric]
        out.append(
            f"{head[r.metric]}: x4plus − bicubic = {r.mean_diff:+.{d}f} [95 % CI {r.ci_low:+.{d}f}, "
            f"{r.ci_high:+.{d}f}], Wilcoxon p = {r.p_wilcoxon:.3g} over {r.n} images: {_verdict(r.verdict)}."
        )
    below = "below" if x.niqe < hr.niqe else "not below"
    out.append(
        f"NIQE (no reference, lower is better): bicubic {b.niqe:.2f}, x4plus {x.niqe:.2f}, the HR ground truth "
        f"{hr.niqe:.2f}; x4plus is {below} the ground truth's own score."
    )
    if (
        max(b.kid, x.kid) <= 0
    ):  # the unbiased estimate of a squared distance: <= 0 is "no difference seen"
        verdict = "both ≤ 0: the unbiased estimate finds no distance from the HR set at this N"
    else:
        verdict = f"lower for {'x4plus' if x.kid < b.kid else 'bicubic'}"
    out.append(
        f"{head['kid']} vs the {len(run.pairs)} HR images: bicubic {_kid_text(b)}, x4plus {_kid_text(x)}; "
        f"{verdict} (one value per method, no interval; unbiased but noisy on few images)."
    )
    out.append(
        f"Time: x4plus {x.seconds_per_image:.2f} s per image on {run.device} (tile {cfg.tile}, overlap "
        f"{cfg.overlap}, {cfg.precision}); bicubic {b.seconds_per_image:.3f} s."
    )
    if run.weights[X4PLUS].source != "file":
        out.append(
            "x4plus was RANDOM-INIT (its weights did not resolve): these numbers test the plumbing only."
        )
    return out


def write_metrics(
    run: PretrainedRun,
    summary: pd.DataFrame,
    paired_df: pd.DataFrame,
    kid: dict[str, dict],
    per_image: pd.DataFrame,
    findings: list[str],
) -> dict:
    """``metrics/realesrgan_pretrained.json``: headline numbers per method, the paired comparison, KID details,
    the weight statuses (x4plus, LPIPS trunk, FID Inception) and the data's provenance; returns the payload."""
    cfg = run.cfg

    def num(v) -> float | None:
        return None if v != v else float(v)

    models = {}
    for m, r in summary.iterrows():
        entry = {"label": r["method"], "images": int(r["images"])}
        for metric in METRICS:
            entry |= {
                metric: num(r[metric]),
                f"{metric}_ci95": [num(r[f"{metric}_ci_low"]), num(r[f"{metric}_ci_high"])],
            }
        entry |= {"kid": num(r["kid"]), "kid_std": num(r["kid_std"])}
        entry["seconds_per_image"] = num(r["seconds_per_image"])
        models[m] = entry
    metrics = {
        "models": models,
        "paired": {
            f"{X4PLUS}_vs_{BICUBIC}_{r.metric}": {
                "mean_diff": r.mean_diff,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_wilcoxon": r.p_wilcoxon,
                "verdict": r.verdict,
            }
            for r in paired_df.itertuples()
        },
        "kid": {m: {k: v for k, v in res.items() if k != "weights"} for m, res in kid.items()},
        "zoom_images": zoom_picks(per_image),
        "protocol": {
            "scale": cfg.scale,
            "crop_border": cfg.crop_border,
            "lr": "8-bit MATLAB-bicubic downscale of the mod-cropped ground truth",
            "tile": cfg.tile,
            "overlap": cfg.overlap,
            "precision": cfg.precision,
            "device": str(run.device),
            "lpips": f"v0.1 {cfg.lpips_net}",
            "niqe_params": dict(niqe.PROVENANCE),
            "kid_dims": cfg.kid_dims,
        },
        "findings": findings,
    }
    return tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE),
        metrics,
        stage=cfg.STAGE,
        profile=cfg.profile,
        data={
            "name": run.bench["name"],
            "proxy": run.manifest["proxy"],
            "source": run.bench["source"],
            "images": len(run.pairs),
            "images_in_split": len(run.bench["files"]),
        },
        weights=run.weights,
        labels=run_labels(run),
        config=cfg.as_dict(),
    )
