"""Night→day tables, verdicts and the evaluation's outputs: Tables 1-3 (paper / ours / Δ), Post vs Pre, M1 vs M2
(vs M3), the metrics file and the findings (Abedjooy & Ebrahimi).

The paper's claims tested: **Post is better than Pre on every metric** (Tables 1-2; :func:`phase_verdicts`,
:func:`post_better_summary`) and **M1 and M2 perform similarly** (:func:`model_verdicts`, with an equivalence margin
at the paper's two-decimal resolution). The pure builders :func:`evaluation_metrics` (the metrics payload),
:func:`paper_tables_markdown` (``paper_tables.md``) and :func:`findings_markdown` (``findings.md``: every verdict in
words, per metric and model, with its CI and n, and whether it agrees with or contradicts the paper) are what the
``save_*`` / ``write_*`` steps of notebook 34 write.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from srlib import paths, stats, tracking
from srlib.night2day import prepare
from srlib.night2day.evaluate import (
    CONSTANT_STD,
    METRICS,
    EvaluationRun,
    PhaseImages,
    constant_outputs,
)

log = logging.getLogger("srlib.night2day_evaluate")

# Paired differences smaller than this are invisible in the paper's tables, which print two decimals.
PAPER_RESOLUTION = 0.01
# The paper's test split (20,110 pooled pairs, 80/10/10) and its FID features (Inception pool3): an FID is compared
# with the paper's only when it is measured on as many images with the same features and a pretrained Inception
# (FID is biased upward at small N, and its value depends on the feature layer).
PAPER_TEST_PAIRS = 2011
PAPER_FID_DIMS = 2048
# the columns of references/night2day_abedjooy.csv; ``std`` may be empty (not verified against the paper)
REFERENCE_COLUMNS = (
    "paper",
    "table",
    "page",
    "dataset",
    "method",
    "phase",
    "metric",
    "value",
    "std",
)
# the paper's two-stage models: the claims are theirs (M1-pretrained / M2-pretrained are M1 / M2 with the release)
PAPER_MODELS = ("M1", "M2")
DIRECTION = {"rmse": "lower", "mae": "lower", "ssim": "higher", "ncc": "higher", "fid": "lower"}
# how a verdict about the paper reads in a findings line
VERDICT_WORDS = {
    "agrees": "agrees with",
    "contradicts": "contradicts",
    "not resolved": "not resolved against",
}


# ------------------------------------------------------------------------------------------ the paper's numbers


def read_reference(path: str | Path) -> pd.DataFrame:
    """``references/night2day_abedjooy.csv``: one row per (method, phase, metric) with the paper's mean ``value``
    and ``std`` (empty where the paper's std could not be verified; read as NaN). Raises naming the file and row."""
    path = paths.resolve(path)
    ref = pd.read_csv(path, dtype={"page": str, "table": str}, keep_default_na=False)
    missing = [c for c in REFERENCE_COLUMNS if c not in ref.columns]
    if missing:
        raise ValueError(f"{path.name}: missing columns {missing}")
    for col in ("value", "std"):
        values = pd.to_numeric(ref[col].replace("", float("nan")), errors="coerce")
        bad = values.isna() & (ref[col] != "") if col == "std" else values.isna()
        if bad.any():
            i = int(bad.idxmax())
            raise ValueError(f"{path.name} row {i + 2}: {col} {ref.at[i, col]!r} is not a number")
        ref[col] = values
    key = ["method", "phase", "metric"]
    if ref.duplicated(key).any():
        raise ValueError(
            f"{path.name}: duplicate rows {ref[ref.duplicated(key)][key].values.tolist()}"
        )
    return ref


# ------------------------------------------------------------------------------------------ tables, verdicts


def phase_summary(per_image: pd.DataFrame, fid: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean ± std per ``(model, phase)`` of every metric (and FID), one row each, in evaluation order."""
    table = stats.summary_table(per_image, by="key", metrics=list(METRICS))
    keys = per_image.drop_duplicates("key").set_index("key")[["model", "phase"]]
    table = keys.join(table)
    if fid is not None:
        table = table.join(fid.set_index("key")[[c for c in ("fid", "kid", "kid_std") if c in fid]])
    return table.reset_index()


def fid_not_comparable(fid: pd.DataFrame, dims: int) -> list[str]:
    """Why this run's FID cannot be set beside the paper's (empty: it can): a random-init Inception, other features
    than pool3, fewer images than the paper's 2,011 test pairs."""
    reasons = []
    if not fid.attrs.get("weights", {}).get("comparable", False):
        reasons.append("a random-initialised Inception")
    if dims != PAPER_FID_DIMS:
        reasons.append(f"{dims}-dim Inception features (paper: pool3, {PAPER_FID_DIMS})")
    n = int(fid["n"].iloc[0]) if "n" in fid and len(fid) else 0
    if n != PAPER_TEST_PAIRS:
        reasons.append(
            f"{n} test images (paper: {PAPER_TEST_PAIRS:,}; FID is biased upward at small N)"
        )
    return reasons


def paper_comparison(
    summary: pd.DataFrame, reference: pd.DataFrame, *, fid_reasons: Sequence[str] = ()
) -> pd.DataFrame:
    """Long "paper / ours / Δ" rows for every (model, phase, metric) we measured or the paper reports.

    ``reference`` is :func:`read_reference` (method = M1/M2, phase, metric, value, std, table). Our value is the
    mean ± std over the test images (FID: the single value). ``delta`` = ours − paper where the two numbers are
    comparable: FID is not when ``fid_reasons`` (:func:`fid_not_comparable`) is non-empty (``comparable`` False).
    """
    ref = reference.set_index(["method", "phase", "metric"])
    rows = []
    for r in summary.itertuples(index=False):
        for m in (*METRICS, "fid"):
            if m == "fid" and "fid" not in summary.columns:
                continue
            ours = r.fid if m == "fid" else getattr(r, f"{m}_mean")
            std = None if m == "fid" else getattr(r, f"{m}_std")
            n = None if m == "fid" else getattr(r, f"{m}_n")
            key = (r.model, r.phase, m)
            paper = float(ref.at[key, "value"]) if key in ref.index else None
            paper_std = float(ref.at[key, "std"]) if key in ref.index and "std" in ref else None
            comparable = paper is not None and not (m == "fid" and fid_reasons)
            rows.append(
                {
                    "model": r.model,
                    "phase": r.phase,
                    "metric": m,
                    "paper": paper,
                    "paper_std": None if paper_std is None or math.isnan(paper_std) else paper_std,
                    "ours": ours,
                    "ours_std": std,
                    "n": n,
                    "delta": ours - paper if comparable else None,
                    "comparable": comparable,
                    "in_paper": paper is not None,
                }
            )
    return pd.DataFrame(rows)


def _is_num(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _model_heading(model: str) -> str:
    if model == "M1":
        return "Table-1-style (M1: Real-ESRGAN first, then CUT)"
    if model == "M2":
        return "Table-2-style (M2: CUT first, then Real-ESRGAN)"
    if model.endswith("-pretrained"):
        base = model.split("-")[0]
        return f"{model} (beyond the paper: {base} with the released Real-ESRGAN as it is, not fine-tuned)"
    return f"{model} (beyond the paper: one end-to-end generator)"


def paper_tables_markdown(
    comparison: pd.DataFrame,
    *,
    labels: Sequence[str],
    title: str,
    fid_reasons: Sequence[str] = (),
) -> str:
    """Tables 1–3 in long form: one table per model, one row per phase and metric, separate columns for the paper
    (mean ± std), ours (mean ± std over the test images) and Δ = ours − paper ("n/c" where not comparable).

    ``labels`` are the run's caveats (listed under the title); ``fid_reasons`` say why FID gets no Δ.
    """
    lines = [f"# {title}", ""]
    if labels:
        lines += ["Caveats of this run:", ""] + [f"- {label}" for label in labels] + [""]
    for model, sub in comparison.groupby("model", sort=False):
        n = sub["n"].dropna()
        n_text = f", n = {int(n.iloc[0])}" if len(n) and n.nunique() == 1 else ""
        lines += [
            f"## {_model_heading(model)}",
            "",
            f"| phase | metric | paper (mean ± std) | ours (mean ± std{n_text}) | Δ = ours − paper |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for r in sub.itertuples(index=False):
            fmt = ".4g" if r.metric == "fid" else ".3f"  # FID from a random Inception can be ~1e-13
            ours = f"{r.ours:{fmt}}" + (f" ± {r.ours_std:.3f}" if _is_num(r.ours_std) else "")
            if not r.in_paper:
                paper, delta = "—", "—"
            else:
                paper = f"{r.paper:.2f}" + (f" ± {r.paper_std:.2f}" if _is_num(r.paper_std) else "")
                delta = f"{r.delta:+{fmt}}" if r.comparable else "n/c¹"
            arrow = "↓" if DIRECTION[r.metric] == "lower" else "↑"
            lines.append(f"| {r.phase} | {r.metric.upper()} {arrow} | {paper} | {ours} | {delta} |")
        lines.append("")
    lines.append(
        "Columns: the paper's mean ± std over its 2,011 test images (std left out where it could not be verified "
        "against the paper); ours: mean ± std over this run's test images (FID: one value per phase, no std); "
        "Δ = ours − paper. ↓ lower is better, ↑ higher is better. '—': the paper has no such row."
    )
    if fid_reasons:
        lines += ["", "¹ n/c, not comparable: this run's FID is on " + "; ".join(fid_reasons) + "."]
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
    (a point comparison; ``None`` when FID came from a random-init Inception and is meaningless)? ``fid_pre`` /
    ``fid_post`` are the two FID values."""
    fid_ok = bool(fid.attrs.get("weights", {}).get("comparable", False))
    by_key = fid.set_index("key")["fid"]
    out = {}
    for model, sub in post_vs_pre.groupby("model", sort=False):
        failed = {r.metric: r.verdict for r in sub.itertuples() if r.verdict != "A better"}
        pre, post = float(by_key[f"{model}/Pre"]), float(by_key[f"{model}/Post"])
        fid_better = bool(post < pre) if fid_ok else None
        out[model] = {
            "all_per_image_metrics": not failed,
            "not_better_on": failed,
            "fid": fid_better,
            "all": not failed and fid_better is not False,
            "fid_pre": pre,
            "fid_post": post,
        }
    return out


# ------------------------------------------------------------------------------------- verdicts in words


def _num(x: float) -> str:
    """A signed difference at three decimals (two significant digits when smaller than 0.001)."""
    return f"{x:+.3f}" if x == 0 or abs(x) >= 0.001 else f"{x:+.1e}"


def _item(r, *, arrow: bool, n: bool, flip: bool = False) -> str:
    """ "RMSE 0.419 → 0.196 (Δ -0.223, 95 % CI [-0.244, -0.199])" (``arrow``: B → A, Δ = A − B) or "RMSE 0.196 vs
    0.252 (Δ …)" (A vs B, Δ = A − B; ``flip``: B vs A, Δ = B − A, for a sentence that names B first)."""
    if arrow:
        means, d, lo, hi = f"{r.mean_b:.3f} → {r.mean_a:.3f}", r.mean_diff, r.ci_low, r.ci_high
    elif flip:
        means, d, lo, hi = f"{r.mean_b:.3f} vs {r.mean_a:.3f}", -r.mean_diff, -r.ci_high, -r.ci_low
    else:
        means, d, lo, hi = f"{r.mean_a:.3f} vs {r.mean_b:.3f}", r.mean_diff, r.ci_low, r.ci_high
    extra = f", n = {r.n}" if n else ""
    return f"{r.metric.upper()} {means} (Δ {_num(d)}, 95 % CI [{_num(lo)}, {_num(hi)}]{extra})"


def _why_undefined(verdict: str) -> str:
    return verdict.removeprefix("undefined").strip(" ()") or "no finite values"


def verdict_sentence(rows: pd.DataFrame, a: str, b: str, *, arrow: bool = False) -> str:
    """Every metric of one paired comparison, grouped by verdict, in words with its means, Δ = A − B and CI:
    "M1 better than M2 on all four metrics: RMSE …" / "Post better than Pre on RMSE (…), SSIM (…); similar on
    MAE (…); Pre better than Post on NCC (…)". ``arrow`` writes the means as B → A (Pre → Post) with Δ = A − B;
    otherwise each item names the means and Δ in the order of its sentence (the better model first)."""
    per_n = rows["n"].nunique() > 1
    groups: dict[str, list[str]] = {}
    for r in rows.itertuples(index=False):
        v = r.verdict
        if v.startswith("undefined"):
            groups.setdefault("undefined", []).append(f"{r.metric.upper()} ({_why_undefined(v)})")
            continue
        text = _item(r, arrow=arrow, n=per_n, flip=v == "B better")
        if v == "inconclusive":
            text = text[:-1] + f"; CI excludes 0 but Wilcoxon p = {r.p_wilcoxon:.2g})"
        groups.setdefault(v, []).append(text)
    heads = {
        "A better": f"{a} better than {b}",
        "B better": f"{b} better than {a}",
        "similar": "similar",
        "inconclusive": "inconclusive",
        "undefined": "undefined",
    }
    parts = []
    for v, head in heads.items():
        items = groups.get(v, [])
        if not items:
            continue
        if len(items) == len(METRICS) == len(rows):
            parts.append(f"{head} on all four metrics: " + "; ".join(items))
        else:
            parts.append(f"{head} on " + ", ".join(items))
    return "; ".join(parts)


def _names(rows, verdict: str) -> list[str]:
    return [r.metric.upper() for r in rows.itertuples(index=False) if r.verdict == verdict]


def post_better_verdict(model: str, v: dict) -> tuple[str, str]:
    """(``"agrees"`` | ``"contradicts"`` | ``"not resolved"``, why) of the paper's "Post is better than Pre on every
    metric" for one model, from :func:`post_better_summary`."""
    worse = [k.upper() for k, w in v["not_better_on"].items() if w == "B better"]
    worse += ["FID"] if v["fid"] is False else []
    if worse:
        return "contradicts", "Pre is better on " + ", ".join(worse)
    if v["all"]:
        return "agrees", (
            "Post is better on every metric"
            if v["fid"]
            else "Post is better on the four per-image metrics; FID not assessable"
        )
    open_ = ", ".join(f"{k.upper()} ({w.split(' (')[0]})" for k, w in v["not_better_on"].items())
    return "not resolved", f"Post is worse on no metric, but not shown better on {open_}"


def post_better_line(model: str, v: dict, rows: pd.DataFrame | None = None) -> str:
    """One findings line: ``model``'s Post vs Pre per metric in words (``rows``: its :func:`phase_verdicts` rows),
    FID, and whether that agrees with the paper (M1 / M2 and their pretrained variants; M3 is beyond the paper)."""
    body = f"- **{model}**, Post vs Pre"
    if rows is not None and len(rows):
        n = rows["n"].max()
        body += f" (n = {n}): " + verdict_sentence(rows, "Post", "Pre", arrow=True) + "."
    else:
        body += ": " + (
            "better on every per-image metric."
            if v["all_per_image_metrics"]
            else "not better on "
            + ", ".join(f"{k.upper()} ({w})" for k, w in v["not_better_on"].items())
            + "."
        )
    if v["fid"] is None:
        body += " FID: not assessable (random-init Inception)."
    else:
        fid = f" {v['fid_pre']:.4g} → {v['fid_post']:.4g}" if "fid_pre" in v else ""
        body += f" FID{fid}: {'better' if v['fid'] else 'worse'} (one value per phase, no CI)."
    if model.split("-")[0] in PAPER_MODELS:
        verdict, why = post_better_verdict(model, v)
        body += f" → **{VERDICT_WORDS[verdict]}** the paper ({why})."
    else:
        body += " (beyond the paper: no claim to test)"
    return body


def similar_verdict(rows: pd.DataFrame) -> tuple[str, str]:
    """(``"agrees"`` | ``"contradicts"`` | ``"not resolved"``, why) of the paper's "M1 and M2 perform similarly"
    from the M1-vs-M2 :func:`model_verdicts` rows (A = M1, B = M2)."""
    a, b = rows["a"].iloc[0], rows["b"].iloc[0]
    better = [(a, _names(rows, "A better")), (b, _names(rows, "B better"))]
    better = [(who, names) for who, names in better if names]
    if better:
        return "contradicts", "; ".join(f"{who} is better on {', '.join(ns)}" for who, ns in better)
    if rows["equivalent"].all():
        return (
            "agrees",
            f"every 95 % CI lies within ±{rows['margin'].iloc[0]:g}, the paper's two-decimal resolution",
        )
    return "not resolved", (
        f"no difference resolved over {rows['n'].max()} pairs, but the CIs are wider than the paper's "
        "two-decimal resolution"
    )


def comparison_line(rows: pd.DataFrame, fid: dict[str, float] | None = None) -> str:
    """One findings line for a model-vs-model comparison (Post phase): every metric in words, FID as a point
    comparison, and, for M1 vs M2, whether that agrees with the paper's "M1 and M2 perform similarly"."""
    a, b = rows["a"].iloc[0], rows["b"].iloc[0]
    line = f"- **{a} vs {b} (Post)** (n = {rows['n'].max()}): {verdict_sentence(rows, a, b)}."
    if fid is not None and f"{a}/Post" in fid and f"{b}/Post" in fid:
        line += f" FID {fid[f'{a}/Post']:.4g} vs {fid[f'{b}/Post']:.4g} (one value each, no CI)."
    if (a, b) == PAPER_MODELS:
        verdict, why = similar_verdict(rows)
        line += (
            f' → **{VERDICT_WORDS[verdict]}** the paper\'s "M1 and M2 perform similarly" ({why}).'
        )
    return line


def findings_markdown(
    post_vs_pre: pd.DataFrame,
    post_better: dict[str, dict],
    model_cmp: pd.DataFrame,
    fid: pd.DataFrame,
    *,
    profile: str,
    data: dict,
    labels: Sequence[str],
    constant: Sequence[str] = (),
    show_labels: bool = True,
) -> str:
    """``findings.md``: the paper's two claims against this run (per model, per metric, in words, with means, Δ,
    95 % CI and n), the comparisons beyond the paper (the release as it is, M3), the constant outputs, the caveats.

    ``data`` is the metrics file's data block (``name``, ``proxy``, ``pairs``); ``constant`` the ``model/phase``
    keys whose output is constant (:func:`srlib.night2day.evaluate.constant_outputs`); ``show_labels=False``
    replaces the caveat list by a pointer to it (the notebook logged it when the run started).
    """
    fid_ok = bool(fid.attrs.get("weights", {}).get("comparable", False))
    fid_values = dict(zip(fid["key"], fid["fid"])) if fid_ok else None
    pairs = list(dict.fromkeys(zip(model_cmp["a"], model_cmp["b"])))
    rows_of = {p: model_cmp[(model_cmp.a == p[0]) & (model_cmp.b == p[1])] for p in pairs}
    lines = [
        f"# Findings ({profile} profile)",
        "",
        f"Data: {data['name']}, {data['pairs']} test pairs"
        + (
            " — PROXY, not night2day: the numbers test the study's machinery, not the paper."
            if data["proxy"]
            else "."
        ),
        "",
        "Every verdict is computed from this run's per-image numbers, paired over the test images: the two means, "
        "their difference Δ (the first-named minus the second; Post − Pre for the phases) with a bootstrap 95 % CI, "
        'and a Wilcoxon signed-rank p; "better" = the CI excludes 0 and p < 0.05, "similar" = the CI contains 0, '
        '"inconclusive" = the CI excludes 0 but p ≥ 0.05. FID is one value per phase: no CI.',
        "",
    ]
    if constant:
        lines += [
            f"**Near-constant outputs** (pixel std < {CONSTANT_STD:g} on every test image: the network "
            "collapsed to a flat colour): "
            + ", ".join(constant)
            + ". Their rows measure a flat image, not a translation or a super-resolution.",
            "",
        ]
    lines += ['## The paper: "Post is better than Pre on every metric" (Tables 1–2)', ""]
    lines += [
        post_better_line(m, v, post_vs_pre[post_vs_pre.model == m]) for m, v in post_better.items()
    ]
    lines += ["", '## The paper: "M1 and M2 perform similarly"', ""]
    lines += [comparison_line(rows_of[p], fid_values) for p in pairs if p == PAPER_MODELS]
    others = [p for p in pairs if p != PAPER_MODELS]
    if others:
        lines += ["", "## Beyond the paper (the release as it is, M3 end-to-end)", ""]
        lines += [comparison_line(rows_of[p], fid_values) for p in others]
    lines += ["", "## Caveats of this run", ""]
    if show_labels:
        lines += [f"- {x}" for x in labels] or ["- none"]
    else:
        lines.append(
            f"- the {len(labels)} labels logged when the run started (listed in findings.md)"
        )
    return "\n".join(lines) + "\n"


def evaluation_metrics(
    summary: pd.DataFrame,
    post_better: dict[str, dict],
    post_vs_pre: pd.DataFrame,
    model_cmp: pd.DataFrame,
    fid: pd.DataFrame,
    constant: Sequence[str] = (),
) -> dict:
    """The metrics payload of ``night2day_evaluate``: every phase's means and FID, Post vs Pre (summary and per
    metric), the model comparisons, the FID notes and the phases whose output is constant."""
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
            "n": r.n,
            "p_wilcoxon": r.p_wilcoxon,
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
            "n": r.n,
        }
        for r in model_cmp.itertuples()
    }
    return {
        "phases": phases,
        "post_better_than_pre": post_better,
        "post_vs_pre": phase_cmp,
        "model_comparison": models_cmp,
        "fid_notes": fid.attrs["notes"],
        "constant_outputs": list(constant),
    }


# ------------------------------------------------------------------------- the steps of notebook 34 (one call each)


def save_summary(run: EvaluationRun, per_image: pd.DataFrame, fid: pd.DataFrame) -> pd.DataFrame:
    """Write ``per_image.csv`` and ``summary.csv`` (mean ± std and FID per phase); returns the summary."""
    summary = phase_summary(per_image, fid)
    per_image.to_csv(run.tables / "per_image.csv", index=False)
    summary.to_csv(run.tables / "summary.csv", index=False)
    for note in fid.attrs["notes"]:
        log.info(note)
    return summary


def save_paper_tables(run: EvaluationRun, summary: pd.DataFrame, fid: pd.DataFrame) -> str:
    """Tables 1-3 against the paper (``cfg.reference``): ``paper_comparison.csv`` and ``paper_tables.md`` (with the
    run's caveats); returns the markdown without the caveats (the notebook logged them when the run started)."""
    reasons = fid_not_comparable(fid, run.cfg.fid_dims)
    comparison = paper_comparison(summary, read_reference(run.cfg.reference), fid_reasons=reasons)
    comparison.to_csv(run.tables / "paper_comparison.csv", index=False)
    title = (
        "Abedjooy & Ebrahimi Tables 1-3: paper / ours / Δ "
        f"({run.cfg.profile} profile, {len(run.test_pairs)} test pairs)"
    )
    kw = dict(title=title, fid_reasons=reasons)
    (run.tables / "paper_tables.md").write_text(
        paper_tables_markdown(comparison, labels=run.labels, **kw)
    )
    return paper_tables_markdown(comparison, labels=(), **kw)


def save_post_vs_pre(
    run: EvaluationRun, per_image: pd.DataFrame, fid: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Post vs Pre per model and metric (``post_vs_pre.csv``) and its per-model summary."""
    verdicts = phase_verdicts(per_image, a="Post", b="Pre", seed=run.cfg.seed)
    verdicts.to_csv(run.tables / "post_vs_pre.csv", index=False)
    return verdicts, post_better_summary(verdicts, fid)


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
    ph: PhaseImages,
) -> dict:
    """``metrics/night2day_evaluate.json`` (:func:`evaluation_metrics`, with the FID Inception's status)."""
    return tracking.write_metrics(
        paths.metrics_file(run.cfg.profile, run.cfg.STAGE),
        evaluation_metrics(summary, post_better, verdicts, model_cmp, fid, constant_outputs(ph)),
        stage=run.cfg.STAGE,
        profile=run.cfg.profile,
        data=prepare.data_block(run.manifest, "test", len(run.test_pairs)),
        weights=run.weights | {"fid_inception": fid.attrs["weights"]},
        labels=run.labels,
    )


def write_findings(
    run: EvaluationRun,
    post_vs_pre: pd.DataFrame,
    post_better: dict[str, dict],
    model_cmp: pd.DataFrame,
    fid: pd.DataFrame,
    ph: PhaseImages,
) -> str:
    """``findings.md`` (:func:`findings_markdown`, with the caveats); returns its text without the caveat list (the
    notebook logged it when the run started)."""
    kw = dict(
        profile=run.cfg.profile,
        data=prepare.data_block(run.manifest, "test", len(run.test_pairs)),
        labels=run.labels,
        constant=constant_outputs(ph),
    )
    (run.tables / "findings.md").write_text(
        findings_markdown(post_vs_pre, post_better, model_cmp, fid, **kw)
    )
    return findings_markdown(post_vs_pre, post_better, model_cmp, fid, show_labels=False, **kw)
