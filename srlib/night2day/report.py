"""Night→day tables, verdicts and the evaluation's outputs: Tables 1-3 (paper / ours / Δ), Post vs Pre, M1 vs M2
(vs M3), the metrics file and the findings (Abedjooy & Ebrahimi).

The paper's claims tested: **Post is better than Pre on every metric** (Tables 1-2; :func:`phase_verdicts`,
:func:`post_better_summary`) and **M1 and M2 perform similarly** (:func:`model_verdicts`, with an equivalence margin
at the paper's two-decimal resolution). The pure builders :func:`evaluation_metrics` (the metrics payload) and
:func:`findings_markdown` (``findings.md``) are what the ``save_*`` / ``write_*`` steps of notebook 34 write.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from srlib import paths, stats, tracking
from srlib.night2day import prepare
from srlib.night2day.evaluate import METRICS, EvaluationRun

log = logging.getLogger("srlib.night2day_evaluate")

# Paired differences smaller than this are invisible in the paper's tables, which print two decimals.
PAPER_RESOLUTION = 0.01


# ------------------------------------------------------------------------------------------ tables, verdicts


def phase_summary(per_image: pd.DataFrame, fid: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean ± std per ``(model, phase)`` of every metric (and FID), one row each, in evaluation order."""
    table = stats.summary_table(per_image, by="key", metrics=list(METRICS))
    keys = per_image.drop_duplicates("key").set_index("key")[["model", "phase"]]
    table = keys.join(table)
    if fid is not None:
        table = table.join(fid.set_index("key")[[c for c in ("fid", "kid", "kid_std") if c in fid]])
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


def post_better_line(model: str, v: dict) -> str:
    """One findings line: does ``model``'s Post beat its Pre on every per-image metric, and on FID?"""
    not_on = ", ".join(f"{k.upper()}: {w}" for k, w in v["not_better_on"].items())
    fid = (
        "not assessable (random-init Inception)"
        if v["fid"] is None
        else "better"
        if v["fid"]
        else "worse"
    )
    return (
        f"- {model}: Post better than Pre on every per-image metric: "
        f"**{'yes' if v['all_per_image_metrics'] else 'no'}**"
        + (f" (not on {not_on})" if v["not_better_on"] else "")
        + "; FID: "
        + fid
    )


def evaluation_metrics(
    summary: pd.DataFrame,
    post_better: dict[str, dict],
    post_vs_pre: pd.DataFrame,
    model_cmp: pd.DataFrame,
    fid: pd.DataFrame,
) -> dict:
    """The metrics payload of ``night2day_evaluate``: every phase's means and FID, Post vs Pre (summary and per
    metric), the model comparisons and the FID notes."""
    phases = {
        r.key: {m: getattr(r, f"{m}_mean") for m in METRICS}
        | {m: getattr(r, m) for m in ("fid", "kid") if hasattr(r, m)}
        for r in summary.itertuples()
    }
    phase_cmp = {
        f"{r.model}_{r.metric}": {
            "mean_diff": r.mean_diff,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "verdict": r.verdict,
        }
        for r in post_vs_pre.itertuples()
    }
    models_cmp = {
        f"{r.a}_vs_{r.b}_{r.metric}": {
            "mean_diff": r.mean_diff,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "p_wilcoxon": r.p_wilcoxon,
            "verdict": r.verdict,
            "equivalent": r.equivalent,
        }
        for r in model_cmp.itertuples()
    }
    return {
        "phases": phases,
        "post_better_than_pre": post_better,
        "post_vs_pre": phase_cmp,
        "model_comparison": models_cmp,
        "fid_notes": fid.attrs["notes"],
    }


def findings_markdown(
    post_better: dict[str, dict],
    model_cmp: pd.DataFrame,
    *,
    profile: str,
    data: dict,
    labels: Sequence[str],
    m3: Sequence[str] = (),
) -> str:
    """``findings.md``: the labels, the data, Post vs Pre per model, M1 vs M2 (Post) and each M3 mode vs M1 / M2.

    ``data`` is the metrics file's data block (``name``, ``proxy``, ``pairs``), ``m3`` the M3 modes evaluated.
    """
    m1_m2 = model_cmp[(model_cmp.a == "M1") & (model_cmp.b == "M2")]
    lines = [
        f"- Data: {data['name']}, {data['pairs']} test pairs"
        + (" — PROXY, not night2day." if data["proxy"] else "."),
        *[post_better_line(m, v) for m, v in post_better.items()],
        "- M1 vs M2 (Post): "
        + "; ".join(
            f"{r.metric.upper()} {r.mean_diff:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}] "
            f"{r.verdict}{' (equivalent)' if r.equivalent else ''}"
            for r in m1_m2.itertuples()
        ),
    ]
    for name in m3:
        for other in ("M1", "M2"):
            sub = model_cmp[(model_cmp.a == name) & (model_cmp.b == other)]
            lines.append(
                f"- {name} vs {other}: "
                + "; ".join(f"{r.metric.upper()} {r.verdict}" for r in sub.itertuples())
            )
    head = f"# Findings ({profile} profile)\n\n" + "".join(f"- {x}\n" for x in labels)
    return head + "\n" + "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- the steps of notebook 34 (one call each)


def save_summary(run: EvaluationRun, per_image: pd.DataFrame, fid: pd.DataFrame) -> pd.DataFrame:
    """Write ``per_image.csv`` and ``summary.csv`` (mean ± std and FID per phase); returns the summary."""
    summary = phase_summary(per_image, fid)
    per_image.to_csv(run.tables / "per_image.csv", index=False)
    summary.to_csv(run.tables / "summary.csv", index=False)
    for note in fid.attrs["notes"]:
        log.info(note)
    return summary


def save_paper_tables(run: EvaluationRun, summary: pd.DataFrame) -> str:
    """Tables 1-3 against the paper (``cfg.reference``): ``paper_comparison.csv`` and ``paper_tables.md``; returns
    the markdown."""
    comparison = paper_comparison(summary, pd.read_csv(paths.resolve(run.cfg.reference)))
    comparison.to_csv(run.tables / "paper_comparison.csv", index=False)
    title = (
        "Abedjooy & Ebrahimi Tables 1-3: paper / ours / delta "
        f"({run.cfg.profile} profile, {len(run.test_pairs)} test pairs)"
    )
    markdown = paper_tables_markdown(comparison, labels=run.labels, title=title)
    (run.tables / "paper_tables.md").write_text(markdown)
    return markdown


def save_post_vs_pre(
    run: EvaluationRun, per_image: pd.DataFrame, fid: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Post vs Pre per model and metric (``post_vs_pre.csv``) and its per-model summary (logged)."""
    verdicts = phase_verdicts(per_image, a="Post", b="Pre", seed=run.cfg.seed)
    verdicts.to_csv(run.tables / "post_vs_pre.csv", index=False)
    summary = post_better_summary(verdicts, fid)
    for model, v in summary.items():
        log.info(post_better_line(model, v))
    return verdicts, summary


def save_model_comparison(run: EvaluationRun, per_image: pd.DataFrame) -> pd.DataFrame:
    """M1 vs M2, the fine-tuned M1 / M2 vs the release as it is (when they started from it), and every M3 mode vs
    M1 and M2, Post phase (``model_comparison.csv``)."""
    pretrained = [
        (m, f"{m}-pretrained") for m in ("M1", "M2") if run.pipelines.pretrained_sr is not None
    ]
    pairs = [("M1", "M2"), *pretrained] + [(m3, m) for m3 in run.pipelines.m3 for m in ("M1", "M2")]
    model_cmp = model_verdicts(per_image, pairs, seed=run.cfg.seed)
    model_cmp.to_csv(run.tables / "model_comparison.csv", index=False)
    return model_cmp


def write_evaluation_metrics(
    run: EvaluationRun,
    summary: pd.DataFrame,
    post_better: dict[str, dict],
    verdicts: pd.DataFrame,
    model_cmp: pd.DataFrame,
    fid: pd.DataFrame,
) -> dict:
    """``metrics/night2day_evaluate.json`` (:func:`evaluation_metrics`, with the FID Inception's status)."""
    return tracking.write_metrics(
        paths.metrics_file(run.cfg.profile, run.cfg.STAGE),
        evaluation_metrics(summary, post_better, verdicts, model_cmp, fid),
        stage=run.cfg.STAGE,
        profile=run.cfg.profile,
        data=prepare.data_block(run.manifest, "test", len(run.test_pairs)),
        weights=run.weights | {"fid_inception": fid.attrs["weights"]},
        labels=run.labels,
    )


def write_findings(
    run: EvaluationRun, post_better: dict[str, dict], model_cmp: pd.DataFrame
) -> str:
    """``findings.md`` (:func:`findings_markdown`); returns its text."""
    text = findings_markdown(
        post_better,
        model_cmp,
        profile=run.cfg.profile,
        data=prepare.data_block(run.manifest, "test", len(run.test_pairs)),
        labels=run.labels,
        m3=list(run.pipelines.m3),
    )
    (run.tables / "findings.md").write_text(text)
    return text
