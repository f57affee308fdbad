"""ZSSR against the external networks (notebook 61): claim 3 of the seed essay, ZSSR's Table 1, its ablations.

Conventions: ZSSR sees exactly notebook 60's test LR (same seed, scale, blur sigma and crops: checked against its
metrics record); outputs are measured like the matrix's rows (8-bit, PSNR-Y / SSIM-Y with ``scale`` border pixels
off); each (image, test degradation, kernel) is one ZSSR training from scratch, seeded with ``seed``; on the bicubic
test the known kernel *is* bicubic, so that net serves both kernel rows. The four inference variants
(:data:`srlib.zssr.internal.INFERENCE`) run on the same trained net.
"""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
import torch

from srlib import evaluation, paths, stats, tracking
from srlib.data import degradations, images
from srlib.metrics import niqe
from srlib.zssr import internal as zi
from srlib.zssr import matrix

log = logging.getLogger(__name__)

MATCHED = (
    "scale",
    "blur_sigma",
    "bench_crop",
    "seed",
)  # must equal notebook 60's: the same test LR
ZSSR_ROWS = {"known": "ZSSR (known kernel)", "bicubic": "ZSSR (bicubic assumed)"}


def matrix_record(cfg) -> dict:
    """Notebook 60's full metrics record; refuses a config whose test LR would differ from the matrix's."""
    return tracking.upstream_record(
        cfg, "degradation_matrix", MATCHED, why="ZSSR must see the matrix's test LR"
    )


def test_pairs(cfg, manifest: dict) -> dict[str, list]:
    """Notebook 60's test pairs (the first ``max_images``): the same function, seed and crops."""
    hr = matrix.test_images(cfg, manifest)
    return matrix.test_pairs(hr, degradations_=cfg.test_degradations, scale=cfg.scale, sigma=cfg.blur_sigma,
                             seed=cfg.seed)  # fmt: skip


def upscale(cfg, net, lq: torch.Tensor, *, son: str, ensemble: bool, bp: bool) -> torch.Tensor:
    """ZSSR's final test of one trained net; back-projection down-samples with the sons' kernel (upstream: the
    kernel ZSSR was given, so bicubic when it is assumed)."""
    down = zi.downscaler(son, scale=cfg.scale, sigma=cfg.blur_sigma)
    return zi.zssr_upscale(net, lq, scale=cfg.scale, down=down, ensemble=ensemble,
                           bp_iters=cfg.bp_iters if bp else 0)  # fmt: skip


def train(
    cfg, lq: torch.Tensor, *, degradation: str, seed: int, device, noise_std=None
) -> zi.ZSSRRun:
    """One ZSSR training in one jump of ``scale`` (``gradual`` adds :func:`gradual_upscale`'s two x2 steps)."""
    return zi.train_zssr(
        lq, cfg=cfg, degradation=degradation, seed=seed, noise_std=noise_std, device=device
    )


def gradual_upscale(cfg, lq: torch.Tensor, *, test: str, seed: int, device) -> torch.Tensor:
    """x4 in two x2 steps: ZSSR x2 on the input, then ZSSR x2 on that output (upstream's base change)."""
    half = dataclasses.replace(cfg, scale=2, gradual=False, crop_size=cfg.crop_size // 2 * 2)
    x = lq
    for step in range(2):
        run = zi.train_zssr(x, cfg=half, degradation=test, seed=seed + step, device=device)
        x = upscale(half, run.net, x, son=test, ensemble=cfg.ensemble, bp=cfg.bp_iters > 0)
    return x


def run_all(
    cfg, pairs: dict[str, list], *, device
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """ZSSR on every (image, test degradation, kernel): ``(per_image, runs, decisions, samples)``.

    ``per_image``: one row per (image, test, kernel, inference variant); ``runs``: one row per training (iterations,
    seconds, why it stopped, lr decisions); ``decisions``: every lr-policy check; ``samples``: the first image's
    full-inference output per (test, kernel), for the figures; ``curves``: every reconstruction test (the values
    the lr policy fits).
    """
    rows, runs, decisions, curves, samples = [], [], [], [], {}
    for test, plist in pairs.items():
        for stem, lq, gt in plist:
            trained: dict[str, zi.ZSSRRun] = {}
            for kernel in cfg.kernels:
                son = zi.son_degradation(kernel, test)
                shared = son in trained  # on the bicubic test, known = bicubic: one net
                run = (
                    trained[son]
                    if shared
                    else train(cfg, lq, degradation=son, seed=cfg.seed, device=device)
                )
                trained[son] = run
                base = {"image": stem, "test": test, "kernel": kernel}
                runs.append(base | {"son": son, "iters": run.iters, "seconds": 0.0 if shared else run.seconds,
                                    "stop": run.stop, "divisions": sum(d["decision"] == "divide" for d in run.decisions),
                                    "shared": shared} | {f"fathers_{k}": v for k, v in run.modes.items()})  # fmt: skip
                if not shared:
                    decisions += [base | d for d in run.decisions]
                    curves += [
                        base | {"iter": i, "test_mse": v}
                        for i, v in zip(run.test_steps, run.test_mse)
                    ]
                for variant, opt in zi.INFERENCE.items():
                    sr = upscale(cfg, run.net, lq, son=son, ensemble=opt["ensemble"], bp=opt["bp"])
                    m = evaluation.measure(sr[None], gt[None], crop_border=cfg.scale)
                    rows.append(base | {"inference": variant} | m)
                    if variant == "full" and stem == plist[0][0]:
                        samples[(test, kernel)] = sr
                if cfg.gradual:  # x4 in two x2 ZSSR steps, beside the one-jump x4
                    sr = gradual_upscale(cfg, lq, test=son, seed=cfg.seed,
                                         device=device)  # fmt: skip
                    rows.append(base | {"inference": "gradual"}
                                | evaluation.measure(sr[None], gt[None], crop_border=cfg.scale))  # fmt: skip
                log.info("ZSSR %s / test %s / kernel %s: %d iters (%s), %.1f s", stem, test, kernel, run.iters,
                         run.stop, run.seconds)  # fmt: skip
    frames = (pd.DataFrame(rows), pd.DataFrame(runs), pd.DataFrame(decisions), pd.DataFrame(curves))
    return (*frames, samples)


def seed_variance(cfg, pairs: dict[str, list], *, device) -> pd.DataFrame:
    """Run-to-run variance: ZSSR (bicubic test, known kernel, full inference) rerun with each of
    ``variance_seeds`` on the first ``variance_images`` images; one row per (image, seed)."""
    test = "bicubic" if "bicubic" in pairs else next(iter(pairs))
    rows = []
    for stem, lq, gt in pairs[test][: cfg.variance_images]:
        for seed in cfg.variance_seeds:
            run = train(cfg, lq, degradation=test, seed=seed, device=device)
            sr = upscale(cfg, run.net, lq, son=test, ensemble=cfg.ensemble, bp=cfg.bp_iters > 0)
            rows.append({"image": stem, "test": test, "seed": seed, "iters": run.iters}
                        | evaluation.measure(sr[None], gt[None], crop_border=cfg.scale))  # fmt: skip
    return pd.DataFrame(rows)


def variance_summary(df: pd.DataFrame) -> dict:
    """Per image the spread of PSNR-Y over seeds (std, max - min), and their means."""
    if df.empty:
        return {}
    g = df.groupby("image").psnr_y
    per = pd.DataFrame({"std": g.std(ddof=1), "range": g.max() - g.min(), "mean": g.mean()})
    return {"images": int(len(per)), "seeds": int(df.seed.nunique()), "mean_std_db": float(per["std"].mean()),
            "max_range_db": float(per["range"].max()),
            "per_image": {k: {c: float(v) for c, v in r.items()} for k, r in per.iterrows()}}  # fmt: skip


# -------------------------------------------------------------------------------------------- real photos


def real_image_config(cfg):
    """Upstream's ``X2_REAL_CONF`` for photos without ground truth: mild noise on the sons (``night_noise_std``),
    no rotations, no scale / shear jitter, min scale 0.75, no self-ensemble, no back-projection."""
    return dataclasses.replace(cfg, noise_std=cfg.night_noise_std, allow_rotation=False, scale_diff_sigma=0.0,
                               shear_sigma=0.0, min_scale=0.75, ensemble=False, bp_iters=0)  # fmt: skip


def night_inputs(cfg) -> list[tuple[str, torch.Tensor]]:
    """The real photos (``night_photos``) as LR inputs: centre ``night_crop`` crops, mod-cropped to the scale."""
    return images.photo_inputs(cfg, "night_photos", crop=cfg.night_crop, mod=cfg.scale)


def night_scores(
    cfg, photos: list[tuple[str, torch.Tensor]], *, nets: dict, device
) -> tuple[pd.DataFrame, dict]:
    """NIQE (lower is better; no ground truth) of bicubic, notebook 60's networks and ZSSR (real-image config,
    bicubic kernel assumed) on each real photo; ``({photo: {row: sr}})`` for the figure."""
    real = real_image_config(cfg)
    rows, outputs = [], {}
    ups = (
        matrix.network_upscalers(nets, device)
        if nets
        else {"bicubic": evaluation.bicubic_upscaler(cfg.scale)}
    )
    for stem, lq in photos:
        outs = {row: degradations.quantize(up(lq[None]).clamp(0, 1))[0] for row, up in ups.items()}
        run = train(real, lq, degradation="bicubic", seed=cfg.seed, device=device)
        outs[ZSSR_ROWS["bicubic"]] = degradations.quantize(
            upscale(real, run.net, lq, son="bicubic", ensemble=False, bp=False)
        )
        for row, sr in outs.items():
            rows.append(
                {
                    "photo": stem,
                    "row": row,
                    "niqe": niqe.niqe_or_nan(sr, cfg.scale, f"{stem} / {row}"),
                }
            )
        outputs[stem] = {
            "LR (nearest)": degradations.nearest_upsample(lq[None], cfg.scale)[0]
        } | outs
    return pd.DataFrame(rows), outputs


def load_matrix_networks(cfg) -> dict:
    """Notebook 60's trained networks (``models/<profile>/degradation_matrix/<d>.pth``), those present."""
    from srlib import models

    run = paths.run_dir(cfg.profile, "degradation_matrix")
    return {p.stem: models.load_generator(p)[0].eval() for p in sorted(run.glob("*.pth"))}


# ----------------------------------------------------------------------------------------- claims, tables


def full_matrix(matrix_per_image: pd.DataFrame, zssr_per_image: pd.DataFrame) -> pd.DataFrame:
    """Notebook 60's rows and ZSSR's (full inference) on the images ZSSR ran on: one per-image frame."""
    z = zssr_per_image[zssr_per_image.inference == "full"].assign(
        row=lambda d: d.kernel.map(ZSSR_ROWS)
    )
    ran = set(z.image)
    m = matrix_per_image[matrix_per_image.image.isin(ran) & matrix_per_image.test.isin(set(z.test))]
    return pd.concat([m, z[m.columns.intersection(z.columns)]], ignore_index=True)


def claim3(combined: pd.DataFrame, *, n_boot: int, seed: int) -> pd.DataFrame:
    """Claim 3 on each non-bicubic test degradation: ZSSR (each kernel) against the external network trained on
    bicubic (the standard model) and against the one trained on that very degradation (the matched upper bound)."""
    out = []
    for test in [t for t in dict.fromkeys(combined.test) if t != "bicubic"]:
        col = combined[combined.test == test]
        for zrow in [r for r in ZSSR_ROWS.values() if r in set(col.row)]:
            for ext in (matrix.trained_row("bicubic"), matrix.trained_row(test), "bicubic"):
                if ext not in set(col.row):
                    continue
                res = stats.compare_models(
                    col, "psnr_y", zrow, ext, by="row", n_boot=n_boot, seed=seed
                )
                out.append({"test": test} | res)
    return pd.DataFrame(out)


def verdict_claim3(claim: pd.DataFrame) -> str:
    """ "holds" when ZSSR with the known kernel beats the bicubic-trained network on every non-bicubic test."""
    rows = claim[(claim.a == ZSSR_ROWS["known"]) & (claim.b == matrix.trained_row("bicubic"))]
    if rows.empty:
        return "untested"

    def cell(r) -> str:
        return (
            f"{r.test} ({r.mean_diff:+.2f} dB, CI {r.ci_low:+.2f} .. {r.ci_high:+.2f}: {r.verdict})"
        )

    if (rows.verdict == "A better").all():
        return "holds: " + ", ".join(cell(r) for r in rows.itertuples())
    if (rows.verdict == "B better").any() or (rows.verdict == "similar").any():
        return "does not hold here: " + ", ".join(cell(r) for r in rows.itertuples())
    return "inconclusive: " + ", ".join(cell(r) for r in rows.itertuples())


def table1(cfg, per_image: pd.DataFrame) -> pd.DataFrame:
    """ZSSR's Table 1 (x2, bicubic kernel, PSNR-Y) as paper / ours / delta; ours = ZSSR (bicubic kernel, full
    inference) on the benchmark's bicubic LR -- a PROXY for each of the paper's sets (none of them is here)."""
    ref = pd.read_csv(paths.resolve(cfg.reference))
    ours = per_image[(per_image.test == "bicubic") & (per_image.kernel == "bicubic")
                     & (per_image.inference == "full")].psnr_y  # fmt: skip
    ci = stats.bootstrap_mean(ours.to_numpy(), n_boot=cfg.n_boot, seed=cfg.seed)
    rows = []
    for r in ref[(ref.method == "zssr") & (ref.metric == "psnr_y")].itertuples():
        rows.append({"dataset (paper)": r.dataset, "paper": r.value, "ours (PROXY: benchmark photos)": ci["mean"],
                     "ours CI low": ci["ci_low"], "ours CI high": ci["ci_high"], "n": ci["n"],
                     "delta (not comparable)": ci["mean"] - r.value, "paper source": f"{r.table}; {r.row_label}"})  # fmt: skip
    return pd.DataFrame(rows)


def run_labels(cfg, nets: dict) -> list[str]:
    labels = ["PROXY: the benchmark photos stand in for Set5 / Set14 / BSD100 (ZSSR's Table 1)",
              "ZSSR's sons are rounded to 8 bits like the test LR (upstream keeps floats); fathers are cropped to a "
              "multiple of the scale"]  # fmt: skip
    if "realesrgan" in cfg.test_degradations:
        labels.append("known kernel on the Real-ESRGAN test: sons made by a fresh draw of the same random pipeline "
                      "(it has no single kernel); back-projection there uses bicubic")  # fmt: skip
    if cfg.night_photos and not nets:
        labels.append(
            "real photos: notebook 60's networks are absent, only bicubic and ZSSR are scored"
        )
    return labels + ([cfg.run_label] if cfg.run_label else [])


def write_results(cfg, *, per_image, runs, decisions, variance, night, combined, claim, table, labels,
                  manifest_bench: str) -> dict:  # fmt: skip
    """Every table (CSV; the matrix and Table 1 also markdown) and the metrics file."""
    from srlib import tracking

    t = lambda name: paths.table_file(cfg.profile, f"zssr/{name}")  # noqa: E731
    for name, df in {"per_image": per_image, "runs": runs, "lr_decisions": decisions, "variance": variance,
                     "night_niqe": night, "claim3": claim, "table1": table}.items():  # fmt: skip
        df.to_csv(t(f"{name}.csv"), index=False)
    full = matrix.matrix(combined)
    full.to_csv(t("full_matrix_psnr_y.csv"))
    t("full_matrix_psnr_y.md").write_text(
        evaluation.markdown_table(full.reset_index(), floatfmt=".2f")
    )
    t("table1.md").write_text(evaluation.markdown_table(table, floatfmt=".2f"))
    ablation = per_image.pivot_table(
        index=["test", "kernel"], columns="inference", values="psnr_y", aggfunc="mean"
    )
    ablation.to_csv(t("inference_ablation.csv"))
    ideal = per_image[
        (per_image.test == "bicubic")
        & (per_image.kernel == "bicubic")
        & (per_image.inference == "full")
    ]
    bic = (
        combined[(combined.test == "bicubic") & (combined.row == "bicubic")]
        .set_index("image")
        .psnr_y
    )
    gain = stats.paired_comparison(ideal.set_index("image").psnr_y.loc[bic.index].to_numpy(), bic.to_numpy(),
                                   n_boot=cfg.n_boot, seed=cfg.seed) if len(bic) >= 2 else {}  # fmt: skip
    numbers = {
        "images": int(per_image.image.nunique()),
        "ideal": {"psnr_y": float(ideal.psnr_y.mean()), "ssim_y": float(ideal.ssim_y.mean()), "vs_bicubic": gain},
        "matrix": {r: {c: float(v) for c, v in row.items()} for r, row in full.iterrows()},
        "inference_ablation": {f"{k[0]}/{k[1]}": {c: float(v) for c, v in row.items()} for k, row in ablation.iterrows()},
        "claim3": {f"{r['test']}: {r['a']} vs {r['b']}": {k: r[k] for k in ("mean_diff", "ci_low", "ci_high",
                   "p_wilcoxon", "verdict", "n")} for r in claim.to_dict("records")},
        "claim3_verdict": verdict_claim3(claim),
        "seconds_per_image": float(runs[~runs.shared].seconds.mean()),
        "iters_mean": float(runs[~runs.shared].iters.mean()),
        "lr_divisions_mean": float(runs[~runs.shared].divisions.mean()),
        "variance": variance_summary(variance),
        "night_niqe": night.groupby("row", sort=False).niqe.mean().to_dict() if len(night) else {},
        "table1": table.to_dict("records"),
    }  # fmt: skip
    return tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE), numbers, stage=cfg.STAGE, profile=cfg.profile,
        data={"name": manifest_bench + (" (centre crops)" if cfg.bench_crop else ""), "proxy": True,
              "night_photos": [paths.shown(paths.resolve(p)) for p in cfg.night_photos]},
        weights={}, labels=labels,
        config={k: getattr(cfg, k) for k in ("scale test_degradations kernels blur_sigma bench_crop max_images "
                "num_feat num_layer lr max_iters min_iters crop_size noise_std ensemble bp_iters seed").split()},
    )  # fmt: skip


def conclusions(record: dict) -> list[str]:
    """Claim 3, Table 1 and the run's costs in words, from this run's numbers."""
    m = record["metrics"]
    lines = [f"ZSSR took {m['seconds_per_image']:.1f} s per training on average ({m['iters_mean']:.0f} iterations, "
             f"{m['lr_divisions_mean']:.1f} lr divisions) over {m['images']} image(s)"]  # fmt: skip
    g = m["ideal"].get("vs_bicubic") or {}
    if g:
        lines.append(f"ideal case (bicubic LR, bicubic kernel): ZSSR {m['ideal']['psnr_y']:.2f} dB PSNR-Y, "
                     f"{g['mean_diff']:+.2f} dB over bicubic (CI {g['ci_low']:+.2f} .. {g['ci_high']:+.2f}): "
                     f"{g['verdict']}")  # fmt: skip
    for r in m["table1"]:
        lines.append(f"Table 1 {r['dataset (paper)']}: paper {r['paper']:.2f} dB, ours {r['ours (PROXY: benchmark photos)']:.2f} "
                     f"dB on the benchmark photos (PROXY: delta {r['delta (not comparable)']:+.2f} dB, not comparable)")  # fmt: skip
    lines.append(f"claim 3 (ZSSR adapts to the image's degradation where an external model trained on bicubic "
                 f"fails): {m['claim3_verdict']}")  # fmt: skip
    v = m.get("variance") or {}
    if v:
        lines.append(f"run-to-run: over {v['seeds']} seeds on {v['images']} image(s), PSNR-Y std {v['mean_std_db']:.3f} "
                     f"dB on average, largest spread {v['max_range_db']:.3f} dB")  # fmt: skip
    scored = {
        k: v for k, v in m["night_niqe"].items() if v == v
    }  # NaN: the photo too small for NIQE
    if m["night_niqe"] and not scored:
        lines.append("real photos: too small for NIQE (two 96 x 96 blocks needed): no scores")
    elif scored:
        best = min(scored, key=scored.get)
        lines.append("real photos, NIQE (lower is better; no ground truth): "
                     + ", ".join(f"{k} {v:.2f}" for k, v in m["night_niqe"].items()) + f"; lowest: {best}")  # fmt: skip
    return lines
