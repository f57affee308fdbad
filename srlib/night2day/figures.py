"""Night→day figures: the data stage's test pairs and the evaluation's Figs 3-7 (Abedjooy & Ebrahimi).

Figs 3 / 5 are per-image histograms of every metric by phase (M1 / M2), Fig. 7 those of every model's Post phase;
Figs 4 / 6 show test images through every phase. All under ``results/<profile>/figures/<stage>/``; titles say
SMOKE on a plumbing run and PROXY on proxy data (:func:`srlib.viz.run_tag`), and a panel whose output is
near-constant says COLLAPSED. The training stages' curves and val previews are :mod:`srlib.night2day.stages`.
"""

from __future__ import annotations

import logging

import pandas as pd

from srlib import paths, viz
from srlib.metrics.niqe import niqe
from srlib.night2day import data as night2day_data
from srlib.night2day import prepare
from srlib.night2day.config import Night2DayDataConfig
from srlib.night2day.evaluate import (
    CONSTANT_STD,
    METRICS,
    EvaluationRun,
    PhaseImages,
    night_photo_inputs,
    run_phases,
)

log = logging.getLogger("srlib.night2day_evaluate")


def split_figure(cfg: Night2DayDataConfig, manifest: dict) -> None:
    """The first ``cfg.figure_pairs`` test pairs as the models see them: night LR (= Pre), night HR, day LR, day HR."""
    test_pairs = prepare.split_pairs(manifest, "test")
    shown = night2day_data.stack(
        [test_pairs[i] for i in range(min(cfg.figure_pairs, len(test_pairs)))]
    )
    fig = viz.image_grid(
        {
            "night LR 64² (NN x4 = Pre)": night2day_data.pre_phase(shown.night_lq),
            "night HR": shown.night_hr,
            "day LR 64²": night2day_data.pre_phase(shown.day_lq),
            "day HR (ground truth)": shown.day_hr,
        },
        title=(
            "synthetic-night test pairs (night rendered from day photos)"
            if manifest["proxy"]
            else "night2day test pairs"
        )
        + viz.run_tag(cfg.profile, proxy=manifest["proxy"]),
    )
    viz.save(fig, paths.figure_file(cfg.profile, f"{cfg.STAGE}/test_pairs.png"))


# the paper's figure numbers of the two-stage models' histograms and image grids
PAPER_FIGURES = {"M1": {"histograms": 3, "grid": 4}, "M2": {"histograms": 5, "grid": 6}}


# x-axis labels of the histograms: what each per-image value is, its scale, its direction
AXIS_LABELS = {
    "rmse": "RMSE vs day truth ([0, 1] scale; lower better)",
    "mae": "MAE vs day truth ([0, 1] scale; lower better)",
    "ssim": "SSIM vs day truth (no unit; higher better)",
    "ncc": "NCC vs day truth (Pearson r; higher better)",
}


def _histogram_figure(df: pd.DataFrame, *, by: str, title: str):
    """:func:`srlib.viz.metric_histograms` with labelled axes (metric, scale, direction; density per ``by``
    group) and the legend beside the last panel, so that neither covers a histogram."""
    import seaborn as sns

    fig = viz.metric_histograms(df, METRICS, by=by, title=title)
    fig.set_size_inches(3.6 * len(METRICS) + 1.6, 3.6)
    for ax, m in zip(fig.axes, METRICS):
        ax.set_xlabel(AXIS_LABELS[m], fontsize=8)
        ax.set_ylabel(f"density (per {by})", fontsize=8)
    if fig.axes[-1].get_legend() is not None:
        sns.move_legend(fig.axes[-1], "upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def histograms(run: EvaluationRun, per_image: pd.DataFrame) -> None:
    """Figs 3 and 5 (every phase of M1 / M2 vs the day ground truth) and Fig. 7 (the Post phase of every model):
    per-image histograms of every metric, n test images per group."""
    n = per_image["image"].nunique()
    for model, figs in PAPER_FIGURES.items():
        fig_no = figs["histograms"]
        fig = _histogram_figure(
            per_image[per_image.model == model],
            by="phase",
            title=f"Fig. {fig_no}-style: {model}, every phase vs the day ground truth, {n} test images"
            + run.tag,
        )
        viz.save(fig, run.figure(f"fig{fig_no}_{model}_histograms"))
    post = per_image[per_image.phase == "Post"]
    fig = _histogram_figure(
        post,
        by="model",
        title=f"Fig. 7-style: Post phase of every model, {n} test images" + run.tag,
    )
    viz.save(fig, run.figure("fig7_post_histograms"))


def panel_title(name: str, ph: PhaseImages, key: tuple[str, str]) -> str:
    """A grid column's title: ``name``, or ``"name: COLLAPSED (near-constant, pixel std 0.004)"`` when every test
    image of that phase has a pixel std below :data:`srlib.night2day.evaluate.CONSTANT_STD`."""
    std = float((ph.images[key].float() / 255).flatten(1).std(dim=1).max())
    return f"{name}: COLLAPSED\n(near-constant, std {std:.3f})" if std < CONSTANT_STD else name


def phase_grids(run: EvaluationRun, ph: PhaseImages) -> None:
    """Figs 4 and 6 (the first ``cfg.grid_images`` test images through every phase of M1 / M2) and the Post phase
    of every model side by side."""
    idx = list(range(min(run.cfg.grid_images, len(ph.names))))
    rows = [ph.names[i] for i in idx]
    truth = {"day ground truth": ph.float("gt", idx)}
    for model, figs in PAPER_FIGURES.items():
        fig_no = figs["grid"]
        cols = {
            panel_title(f"{model} {phase}", ph, (m, phase)): ph.float((model, phase), idx)
            for (m, phase) in ph.images
            if m == model
        }
        fig = viz.image_grid(
            cols | truth, row_labels=rows, title=f"Fig. {fig_no}-style: {model}{run.tag}"
        )
        viz.save(fig, run.figure(f"fig{fig_no}_{model}_grid"))
    cols = {
        panel_title(f"{m} Post", ph, (m, "Post")): ph.float((m, "Post"), idx)
        for m in run.pipelines.models()
    }
    fig = viz.image_grid(
        {"Pre": ph.float(("M1", "Pre"), idx)} | cols | truth,
        row_labels=rows,
        title=f"All models, Post phase{run.tag}",
    )
    viz.save(fig, run.figure("models_grid"))


def real_night_photos(run: EvaluationRun) -> pd.DataFrame | None:
    """``cfg.night_photos`` (real night scenes, no ground truth) through every model: central square -> 256² -> the
    paper's LR -> every phase (qualitative), with each image's NIQE (no-reference, lower is better; Mittal et al.
    2013, :mod:`srlib.metrics.niqe`) in the titles and in ``tables/night2day/real_night_photos_niqe.csv``."""
    if not run.cfg.night_photos:
        log.info("no real night photos listed (night_photos: [])")
        return None
    names, night_hr, night_lq = night_photo_inputs(run.cfg.night_photos)
    outs = run_phases(run.pipelines, night_lq.to(run.device))
    cols = {"night HR": night_hr} | {
        f"{m} {p}": t.cpu() for (m, p), t in outs.items() if p != "Pre" or m == "M1"
    }
    scores = pd.DataFrame(
        {name: niqe(t)["niqe"].numpy() for name, t in cols.items()},
        index=pd.Index(names, name="photo"),
    )
    scores.to_csv(run.tables / "real_night_photos_niqe.csv")
    trained_on = "the PROXY)" if run.manifest["proxy"] else "night2day)"
    fig = viz.image_grid(
        {f"{name}\nNIQE {scores[name].mean():.2f}": t for name, t in cols.items()},
        row_labels=names,
        title="Real night photos (qualitative; mean NIQE per column, lower is better; networks trained on "
        + trained_on,
    )
    viz.save(fig, run.figure("real_night_photos"))
    return scores.round(2)
