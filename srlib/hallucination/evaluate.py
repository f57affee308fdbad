"""Evaluating the diverse-hallucination GAN: Table 1 in the paper's form, diversity, LR consistency, the ablation.

Conventions (written down, as BasicSR's metrics README does):

* input: the HR crop's 8-bit average-pooled x1/8 (the training degradation, :mod:`srlib.hallucination.data`);
  outputs clamped to [0, 1] and rounded to 8 bits before any metric;
* PSNR / SSIM on Y (BT.601) with ``crop_border`` = 8 px removed (:func:`srlib.evaluation.measure`); LPIPS v0.1
  (``lpips_net``, RGB, whole crop). The paper does not state its convention: its numbers are not comparable anyway
  (CelebA vs a proxy);
* ``z = 0`` is the reconstruction; ``z != 0`` rows average ``num_samples`` hallucinations per input (z ~ N(0, 1),
  seeded per input), then average over inputs;
* diversity of one input: the mean over its K (K - 1) / 2 pairs of hallucinations of the mean absolute pixel
  difference (8-bit levels), of the mean absolute difference of G's gradient outputs (what L_z acts on), and of the
  L2 distance of their FID-Inception pool3 features (2048-d);
* LR consistency: ``||round(DS(I)) - I_LR||_inf`` in 8-bit levels; consistent when it is within ``consistency_eps``
  (0.1 level: i.e. exactly I_LR once rounded, the paper's constraint).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from srlib import evaluation, stats
from srlib.data import degradations
from srlib.metrics import inception as inception_metrics
from srlib.metrics.fid import kid_from_features
from srlib.metrics.lpips import LPIPSModel
from srlib.models import hallucination as hm

# the rows of Table 1 (the paper's four in Fig. 5's order, then ours at z != 0 and the alpha = 0 ablation)
ROWS = {
    "bicubic": "bicubic",
    "srgan": "SRGAN (x8, retrained)",
    "esrgan": "ESRGAN (x8 head, retrained)",
    "ours_z0": "ours, z = 0",
    "ours_z": "ours, z ~ N(0, 1) (mean of K)",
    "no_lz_z0": "ours without L_z (alpha = 0), z = 0",
    "no_lz_z": "ours without L_z (alpha = 0), z ~ N(0, 1)",
}
# which paper row each of ours is typed against (the paper's "ours" is its reconstruction, z = 0)
PAPER_ROW = {
    "bicubic": "bicubic",
    "srgan": "srgan",
    "esrgan": "esrgan",
    "ours_z0": "ours",
    "ours_z": "ours",
}
METRICS = ("ssim_y", "psnr_y", "lpips")  # Table 1's order
DIVERSITY = ("div_pixel", "div_grad", "div_inception")


def sample_noise(
    g: hm.HallucinationGenerator, lq: torch.Tensor, k: int, *, seed: int, index: int
) -> torch.Tensor:
    """K noises for input ``index``: (K, m, h, w), the same for every generator with this ``noise_dim`` (seeded)."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + index)
    return torch.randn((k, g.noise_dim, *lq.shape[-2:]), generator=gen)


@torch.no_grad()
def outputs(
    g: hm.HallucinationGenerator, lq: torch.Tensor, z: torch.Tensor | None, device
) -> dict[str, torch.Tensor]:
    """G on one LR image (3, h, w) for noises z (K, m, h, w) (None: z = 0): 8-bit images (K, 3, H, W), grads."""
    g = g.to(device).eval()
    n = 1 if z is None else z.shape[0]
    out = g(lq[None].expand(n, -1, -1, -1).to(device), None if z is None else z.to(device))
    return {
        "image": degradations.quantize(out["image"][-1].float().cpu()),
        "grad": out["grad"][-1].float().cpu(),
    }


def pairwise_mean(x: torch.Tensor | np.ndarray, distance) -> float:
    """Mean of ``distance(x[i], x[j])`` over the unordered pairs i < j of the K samples ``x``."""
    k = len(x)
    vals = [distance(x[i], x[j]) for i in range(k) for j in range(i + 1, k)]
    return float(np.mean(vals))


def diversity(images: torch.Tensor, grads: torch.Tensor, features: np.ndarray) -> dict[str, float]:
    """The three diversity measures of K hallucinations of one input (see the module's conventions)."""
    return {
        "div_pixel": pairwise_mean(images, lambda a, b: float((a - b).abs().mean() * 255)),
        "div_grad": pairwise_mean(grads, lambda a, b: float((a - b).abs().mean())),
        "div_inception": pairwise_mean(features, lambda a, b: float(np.linalg.norm(a - b))),
    }


def image_metrics(sr: torch.Tensor, gt: torch.Tensor, lq: torch.Tensor, *, scale: int, crop_border: int,
                  eps: float, lpips_model: LPIPSModel) -> dict[str, np.ndarray]:  # fmt: skip
    """PSNR-Y, SSIM-Y, LPIPS and LR consistency of (K, 3, H, W) outputs of one input: arrays of length K."""
    rows = [evaluation.measure(s[None], gt[None], crop_border=crop_border) for s in sr]
    levels = hm.lr_consistency_levels(sr, lq[None].expand(len(sr), -1, -1, -1), scale=scale)
    return {
        "psnr_y": np.array([r["psnr_y"] for r in rows]),
        "ssim_y": np.array([r["ssim_y"] for r in rows]),
        "lpips": lpips_model(sr, gt[None].expand_as(sr)).numpy(),
        "lr_levels": levels.numpy(),
        "lr_consistent": (levels <= eps).float().numpy(),
    }


def evaluate(
    generators: dict[str, torch.nn.Module],
    sets: dict[str, Sequence[tuple[str, torch.Tensor, torch.Tensor]]],
    *,
    cfg,
    lpips_model: LPIPSModel,
    device,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-image metrics of every row of :data:`ROWS` present, per-input diversity of the two noisy models, and KID.

    ``generators``: ``{"srgan": g, "esrgan": g, "ours": G, "no_lz": G}`` (any may be absent). Returns
    ``(per_image, per_input_diversity, kid)``: one row per (set, image, row) with the metric means over that
    input's outputs; one row per (set, image, model) with the three diversity measures and the share of consistent
    hallucinations; one row per (set, row) with the KID of its outputs (all K for the noisy rows) against the HR
    crops (:func:`kid_table`).
    """
    rows, div_rows = [], []
    feats: dict[
        tuple[str, str], list[np.ndarray]
    ] = {}  # (set, row) -> FID-Inception pool3 features

    def measured(
        base: dict, row: str, sr: torch.Tensor, gt: torch.Tensor, lq: torch.Tensor
    ) -> dict:
        m = image_metrics(sr, gt, lq, **kw)
        rows.append(base | {"row": row} | _means(m))
        feats.setdefault((base["set"], row), []).append(pool3(sr))
        return m

    def pool3(images: torch.Tensor) -> np.ndarray:
        return inception_metrics.inception_features(
            images, dims=2048, mode=cfg.fid_weights, device=device, seed=cfg.seed
        )[0]

    upscalers = {"bicubic": evaluation.bicubic_upscaler(cfg.scale)}
    upscalers |= {
        k: evaluation.model_upscaler(generators[k], device)
        for k in ("srgan", "esrgan")
        if k in generators
    }
    kw = dict(
        scale=cfg.scale,
        crop_border=cfg.crop_border,
        eps=cfg.consistency_eps,
        lpips_model=lpips_model,
    )
    for set_name, pairs in sets.items():
        for index, (name, lq, gt) in enumerate(pairs):
            base = {"set": set_name, "image": name}
            feats.setdefault((set_name, "hr"), []).append(pool3(gt[None]))
            for row, up in upscalers.items():
                measured(base, row, degradations.quantize(up(lq[None]).clamp(0, 1)), gt, lq)
            for model in ("ours", "no_lz"):
                if model not in generators:
                    continue
                g = generators[model]
                measured(base, f"{model}_z0", outputs(g, lq, None, device)["image"], gt, lq)
                hal = outputs(
                    g, lq, sample_noise(g, lq, cfg.num_samples, seed=cfg.seed, index=index), device
                )
                m = measured(base, f"{model}_z", hal["image"], gt, lq)
                div_rows.append(
                    base
                    | {"model": model}
                    | diversity(hal["image"], hal["grad"], feats[(set_name, f"{model}_z")][-1])
                    | {"lr_consistent": float(m["lr_consistent"].mean()), "lr_levels_max": float(m["lr_levels"].max())}
                )  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(div_rows), kid_table(feats, seed=cfg.seed)


def kid_table(feats: dict[tuple[str, str], list[np.ndarray]], *, seed: int) -> pd.DataFrame:
    """KID x 10^3 (mean and std over subsets) of each (set, row)'s outputs against the set's HR crops.

    Unbiased MMD^2 in FID-Inception pool3 features (:func:`srlib.metrics.fid.kid_from_features`); on a few dozen
    images its subsets are the whole sets, so the std is small and says nothing of the sampling error: read it as a
    ranking of the rows, not as a distance comparable with published KIDs.
    """
    out = []
    for (set_name, row), chunks in feats.items():
        if row == "hr":
            continue
        fa, fb = np.concatenate(chunks), np.concatenate(feats[(set_name, "hr")])
        value, std = kid_from_features(fa, fb, n_subsets=100, subset_size=1000, seed=seed)
        out.append({"set": set_name, "row": row, "kid_x1e3": 1e3 * value, "kid_std_x1e3": 1e3 * std,
                    "n_outputs": len(fa), "n_hr": len(fb)})  # fmt: skip
    return pd.DataFrame(out)


def _means(m: dict[str, np.ndarray]) -> dict[str, float]:
    return {k: float(np.mean(v)) for k, v in m.items()}


def summary(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean of each metric per (set, row), rows in :data:`ROWS` order."""
    cols = [*METRICS, "lr_consistent", "lr_levels"]
    out = per_image.groupby(["set", "row"], sort=False)[cols].mean().reset_index()
    out["n"] = per_image.groupby(["set", "row"], sort=False).size().to_numpy()
    order = {r: i for i, r in enumerate(ROWS)}
    return out.sort_values(
        ["set", "row"], key=lambda s: s.map(order) if s.name == "row" else s
    ).reset_index(drop=True)


def paired(
    per_image: pd.DataFrame, a: str, b: str, metric: str, *, set_name: str, n_boot: int, seed: int
) -> dict:
    """Paired bootstrap CI + Wilcoxon of row ``a`` minus row ``b`` on one set (:func:`srlib.stats.compare_models`)."""
    df = per_image[per_image.set == set_name]
    return stats.compare_models(df, metric, a, b, by="row", on="image", n_boot=n_boot, seed=seed)


ABLATION_COLUMNS = ["set", "measure", "metric", "a", "b", "higher_is_better", "n", "n_dropped", "mean_a", "mean_b",
                    "mean_diff", "ci_low", "ci_high", "p_wilcoxon", "verdict"]  # fmt: skip


def ablation(div: pd.DataFrame, *, n_boot: int, seed: int) -> pd.DataFrame:
    """The central claim, measured: diversity with L_z minus without, per set and measure, paired over inputs."""
    out = []
    for set_name, df in div.groupby("set", sort=False):
        if set(df.model) < {"ours", "no_lz"}:
            continue
        for measure in DIVERSITY:
            res = stats.compare_models(
                df,
                measure,
                "ours",
                "no_lz",
                higher_is_better=True,
                by="model",
                on="image",
                n_boot=n_boot,
                seed=seed,
            )
            out.append({"set": set_name, "measure": measure} | res)
    return pd.DataFrame(out, columns=ABLATION_COLUMNS)


def collapsed(summary_df: pd.DataFrame, set_name: str) -> dict[str, float]:
    """``{row: PSNR-Y - bicubic's}`` of the rows of one set whose mean PSNR-Y is more than
    :data:`srlib.stats.COLLAPSE_DB` (3.01 dB: twice bicubic's MSE) below bicubic: broken runs, labelled as such."""
    df = summary_df[summary_df.set == set_name].set_index("row")
    if "bicubic" not in df.index:
        return {}
    gap = df.psnr_y - df.loc["bicubic", "psnr_y"]
    return {row: float(g) for row, g in gap.items() if row != "bicubic" and g < -stats.COLLAPSE_DB}


def collapse_labels(summary_df: pd.DataFrame) -> list[str]:
    """One ``COLLAPSED: ...`` label per (set, row) that :func:`collapsed` finds."""
    return [f"COLLAPSED: {ROWS[row]} on {s}: {gap:+.2f} dB PSNR-Y against bicubic (more than twice its MSE); its "
            "Table 1 row and every comparison with it describe a broken run, not the method"
            for s in dict.fromkeys(summary_df.set) for row, gap in collapsed(summary_df, s).items()]  # fmt: skip


def paper_table(
    summary_df: pd.DataFrame, reference: pd.DataFrame, per_image: pd.DataFrame, *, set_name: str, n_boot: int,
    seed: int, not_comparable: Sequence[str],
) -> pd.DataFrame:  # fmt: skip
    """Table 1's form on one set: per row the paper's SSIM / PSNR / LPIPS, ours (with the paired difference from
    bicubic and its 95 % CI), and Δ = ours − paper, which ``comparable`` says how to read (``not_comparable``: why
    no row is comparable, e.g. PROXY data)."""
    value = reference.set_index(["method", "metric"])["value"]
    ours = summary_df[summary_df.set == set_name].set_index("row")
    rows, broken = [], collapsed(summary_df, set_name)
    for row, label in ROWS.items():
        if row not in ours.index:
            continue
        rec: dict = {"row": label + (" — COLLAPSED" if row in broken else "")}
        paper_row = PAPER_ROW.get(row)
        for metric in METRICS:
            p = value.get((paper_row, metric), math.nan) if paper_row else math.nan
            mine = float(ours.loc[row, metric])
            rec[f"paper_{metric}"] = p
            rec[f"ours_{metric}"] = mine
            if row != "bicubic":
                res = paired(
                    per_image, row, "bicubic", metric, set_name=set_name, n_boot=n_boot, seed=seed
                )
                rec |= {
                    f"{metric}_vs_bicubic": res["mean_diff"],
                    f"{metric}_ci": (res["ci_low"], res["ci_high"]),
                }
            rec[f"delta_{metric}"] = mine - p
        rec["n"] = int(ours.loc[row, "n"])
        rec["comparable"] = "no: " + "; ".join(not_comparable) if not_comparable else "yes"
        ref = reference[reference.method == paper_row]
        rec["paper_source"] = "" if ref.empty else f"{ref.table.iloc[0]}, {ref.row_label.iloc[0]}"
        rows.append(rec)
    return pd.DataFrame(rows)


def paper_table_view(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`paper_table` as text: ``paper / ours (− bicubic [CI]) / Δ`` per metric, SSIM and LPIPS to 2 decimals
    as the paper prints them, PSNR to 2."""
    out = pd.DataFrame({"row": table.row})
    heads = {"ssim_y": "SSIM-Y", "psnr_y": "PSNR-Y [dB]", "lpips": "LPIPS"}
    for metric in METRICS:
        dec = 3 if metric != "psnr_y" else 2
        out[f"paper {heads[metric]}"] = [_num(v, 2) for v in table[f"paper_{metric}"]]
        texts = []
        for r in table.to_dict("records"):
            text = _num(r[f"ours_{metric}"], dec)
            if (
                f"{metric}_vs_bicubic" in r
                and r[f"{metric}_vs_bicubic"] == r[f"{metric}_vs_bicubic"]
            ):
                lo, hi = r[f"{metric}_ci"]
                text += f" ({_num(r[f'{metric}_vs_bicubic'], dec, '+')} [{_num(lo, dec, '+')}, {_num(hi, dec, '+')}])"
            texts.append(text)
        out[f"ours {heads[metric]} (− bicubic [95 % CI])"] = texts
        out[f"Δ {heads[metric]}"] = [_num(v, dec, "+") for v in table[f"delta_{metric}"]]
    out["n"] = table.n
    out["comparable with the paper"] = table.comparable
    return out


def _num(v, d: int, sign: str = "") -> str:
    return "" if v is None or v != v else format(v, f"{sign}.{d}f")


@torch.no_grad()
def interpolation(
    g: hm.HallucinationGenerator, lq: torch.Tensor, *, steps: int, seed: int, device
) -> torch.Tensor:
    """Images along the straight line z_a -> z_b (two seeded noises): (steps, 3, H, W), 8-bit."""
    gen = torch.Generator().manual_seed(seed)
    z_a, z_b = (torch.randn((1, g.noise_dim, *lq.shape[-2:]), generator=gen) for _ in range(2))
    t = torch.linspace(0, 1, steps).view(-1, 1, 1, 1)
    return outputs(g, lq, (1 - t) * z_a + t * z_b, device)["image"]


# --------------------------------------------------------------------------------------------------------------
# the hallucination_evaluate stage (notebook 41)

MODEL_FILES = {
    "ours": "ours.pth",
    "no_lz": "no_lz.pth",
    "srgan": "srgan.pth",
    "esrgan": "esrgan.pth",
}


def load_generators(run) -> dict[str, torch.nn.Module]:
    """The trained generators of ``hallucination_train`` that exist in its run folder."""
    from pathlib import Path

    from srlib import models

    found = {}
    for key, name in MODEL_FILES.items():
        path = Path(run) / name
        if path.is_file():
            found[key] = models.load_generator(path)[0]
    if "ours" not in found:
        raise FileNotFoundError(
            f"{run}/ours.pth is missing: run the hallucination_train stage first"
        )
    return found


def metrics(summary_df: pd.DataFrame, per_image: pd.DataFrame, abl: pd.DataFrame, div: pd.DataFrame,
            kid: pd.DataFrame, *, n_boot: int, seed: int) -> dict:  # fmt: skip
    """The metrics file's numbers: per set the rows' means (and KID), ours (z = 0) against every other row, the
    ablation."""
    out: dict = {}
    for set_name, df in summary_df.groupby("set", sort=False):
        rows = {
            r["row"]: {k: r[k] for k in (*METRICS, "lr_consistent", "lr_levels", "n")}
            for r in df.to_dict("records")
        }
        comps = {}
        for other in [r for r in rows if r != "ours_z0"]:
            for metric in METRICS:
                res = paired(
                    per_image, "ours_z0", other, metric, set_name=set_name, n_boot=n_boot, seed=seed
                )
                comps[f"ours_z0_vs_{other}_{metric}"] = {k: res[k] for k in ("mean_diff", "ci_low", "ci_high",
                                                                             "p_wilcoxon", "verdict", "n")}  # fmt: skip
        d = div[div.set == set_name]
        diversity_means = {m: {k: float(g[k].mean()) for k in (*DIVERSITY, "lr_consistent")}
                           for m, g in d.groupby("model", sort=False)}  # fmt: skip
        a = abl[abl.set == set_name] if len(abl) else abl
        for r in kid[kid.set == set_name].to_dict("records") if len(kid) else []:
            rows.setdefault(r["row"], {}).update(
                kid_x1e3=r["kid_x1e3"], kid_std_x1e3=r["kid_std_x1e3"]
            )
        out[set_name] = {
            "rows": rows,
            "collapsed": collapsed(summary_df, set_name),
            "paired": comps,
            "diversity": diversity_means,
            "ablation": {
                r["measure"]: {
                    k: r[k]
                    for k in (
                        "mean_a",
                        "mean_b",
                        "mean_diff",
                        "ci_low",
                        "ci_high",
                        "p_wilcoxon",
                        "verdict",
                        "n",
                    )
                }
                for r in a.to_dict("records")
            },  # fmt: skip
        }
    return out


# the paired comparison's verdict (srlib.stats.paired_comparison: with L_z = A, without = B) in the claim's words
CLAIM_VERDICTS = {
    "A better": "higher WITH L_z (CI excludes 0, Wilcoxon p < 0.05): the paper's central claim holds here",
    "B better": "LOWER with L_z (CI excludes 0, Wilcoxon p < 0.05): the OPPOSITE of the paper's claim",
    "similar": "not distinguishable (the CI includes 0): the central claim is NOT shown here",
    "inconclusive": "the CI excludes 0 but the Wilcoxon test does not reach p < 0.05 (too few inputs): NOT shown",
}


def ordering(res: dict, paper_gap: float) -> str:
    """Whether a paired difference (with its CI) reproduces the sign of the paper's gap."""
    if res["ci_low"] <= 0 <= res["ci_high"]:
        return "the CI includes 0: this run cannot order the two (the paper can)"
    same = (res["ci_low"] > 0) == (paper_gap > 0)
    return "the same ordering as the paper" if same else "the OPPOSITE ordering to the paper's"


def conclusions(record: dict, *, paper: pd.DataFrame) -> list[str]:
    """Findings built from this run's numbers: Table 1's ordering against the paper's, the central claim, the LR
    constraint. Every line says its set and n."""
    value = paper.set_index(["method", "metric"])["value"]
    lines = []
    for set_name, m in record["metrics"].items():
        rows, n = m["rows"], m["rows"]["ours_z0"]["n"]
        tag = f"[{set_name}, n = {n}]"
        for other in ("bicubic", "srgan", "esrgan"):
            res = m["paired"].get(f"ours_z0_vs_{other}_psnr_y")
            if res is None:
                continue
            paper_gap = value.get(("ours", "psnr_y"), math.nan) - value.get(
                (other, "psnr_y"), math.nan
            )
            broken = m.get("collapsed", {}).get(other)
            lines.append(
                f"{tag} PSNR-Y ours (z = 0) − {other}: {res['mean_diff']:+.2f} dB [{res['ci_low']:+.2f}, "
                f"{res['ci_high']:+.2f}] (the paper: {paper_gap:+.2f} dB): {ordering(res, paper_gap)}"
                + (f" -- but the {other} row COLLAPSED ({broken:+.2f} dB against bicubic): this says nothing of "
                   f"{other} itself" if broken is not None else "")
            )  # fmt: skip
        for row, label in (("ours_z0", "z = 0"), ("ours_z", "z != 0")):
            if row in rows:
                lines.append(
                    f"{tag} LR consistency, ours {label}: {rows[row]['lr_consistent']:.0%} of outputs have "
                    f"round(DS(I)) = I_LR everywhere; mean max deviation {rows[row]['lr_levels']:.2f} 8-bit levels"
                )
        for measure, res in m["ablation"].items():
            verdict = CLAIM_VERDICTS[res["verdict"]]
            lines.append(
                f"{tag} diversity ({measure}) with L_z {res['mean_a']:.4g} vs without {res['mean_b']:.4g}: "
                f"{res['mean_diff']:+.4g} [{res['ci_low']:+.4g}, {res['ci_high']:+.4g}], Wilcoxon p = "
                f"{res['p_wilcoxon']:.3g}: {verdict}"
            )
    return lines


def run_labels(cfg, sets: dict, lpips_model: LPIPSModel, train_record: dict | None) -> list[str]:
    """The caveats on every number of this stage: the proxy sets, random metric trunks, the training's own labels."""
    labels = []
    if "faces" in sets and cfg.faces_proxy:
        labels.append(
            f"PROXY faces: {len(sets['faces'])} real faces from pip packages, not CelebA's test set"
        )
    if "bench" in sets:
        labels.append(
            f"PROXY set: {len(sets['bench'])} centre crops of {cfg.bench_crop}^2 of the benchmark photos (no faces)"
        )
    if not lpips_model.status.comparable:
        labels.append(
            f"LPIPS on a RANDOM {cfg.lpips_net} trunk ({lpips_model.status.source}): not the published LPIPS"
        )
    return labels + list((train_record or {}).get("labels", []))


def write_results(cfg, *, per_image: pd.DataFrame, div: pd.DataFrame, kid: pd.DataFrame, summary_df: pd.DataFrame,
                  abl: pd.DataFrame,
                  tables: dict[str, pd.DataFrame], labels: list[str], weights: dict, sets: dict) -> dict:  # fmt: skip
    """The per-image, diversity, ablation and Table 1 tables (CSV; Table 1 also markdown) and the metrics file."""
    from srlib import paths, tracking

    per_image.to_csv(paths.table_file(cfg.profile, "hallucination/per_image.csv"), index=False)
    div.to_csv(paths.table_file(cfg.profile, "hallucination/diversity.csv"), index=False)
    abl.to_csv(paths.table_file(cfg.profile, "hallucination/ablation.csv"), index=False)
    for set_name, table in tables.items():
        table.to_csv(
            paths.table_file(cfg.profile, f"hallucination/table1_{set_name}.csv"), index=False
        )
        paths.table_file(cfg.profile, f"hallucination/table1_{set_name}.md").write_text(
            evaluation.markdown_table(paper_table_view(table))
        )
    kid.to_csv(paths.table_file(cfg.profile, "hallucination/kid.csv"), index=False)
    numbers = metrics(summary_df, per_image, abl, div, kid, n_boot=cfg.n_boot, seed=cfg.seed)
    labels = list(labels) + collapse_labels(summary_df)
    proxy = cfg.faces_proxy or "bench" in sets
    return tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE),
        numbers,
        stage=cfg.STAGE,
        profile=cfg.profile,
        data={
            "name": " + ".join(f"{k} ({len(v)})" for k, v in sets.items()),
            "proxy": proxy,
            "sets": {k: len(v) for k, v in sets.items()},
        },  # fmt: skip
        weights=weights,
        labels=labels,
        config={
            k: getattr(cfg, k)
            for k in (
                "scale",
                "num_samples",
                "crop_border",
                "consistency_eps",
                "lpips_net",
                "bench_crop",
                "seed",
            )
        },  # fmt: skip
    )
