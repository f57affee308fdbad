"""SRGAN's ``srgan_evaluate`` and ``tables`` stages (notebooks 11 and 90): Ledig et al. 2017, Table 2.

Bicubic, SRResNet and SRGAN on the benchmark with the paper's protocol (x4, PSNR / SSIM on Y, a ``crop_border``
strip removed; :mod:`srlib.evaluation`), paired comparisons on the same images (:mod:`srlib.stats`), the figures
(:mod:`srlib.srgan.figures`), Table 2 beside our run, and the conclusions in sentences: every number and verdict in
them is read from the metrics file, so the notebooks hold no typed claim that can go stale. Each function takes the
stage's config and reads its fields where they are used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch

from srlib import evaluation, models, paths, stats, tracking, viz
from srlib.data import images, splits
from srlib.srgan import figures, findings, perceptual
from srlib.srgan.config import SRGANTrainConfig, TablesConfig

if TYPE_CHECKING:
    from srlib.srgan.config import SRGANEvaluateConfig

Pairs = Sequence[tuple[str, torch.Tensor, torch.Tensor]]

BICUBIC_SKIP_LABEL = (
    "bicubic skip: the generators learn a residual over bicubic (not Ledig's architecture)"
)
# A - B on each metric: the two comparisons of Table 2's ordering, and SRGAN against the baseline for the table
COMPARISONS = (("srresnet", "bicubic"), ("srgan", "srresnet"), ("srgan", "bicubic"))
METRICS = ("psnr_y", "ssim_y")
NAMES = {"bicubic": "bicubic", "srresnet": "SRResNet", "srgan": "SRGAN"}
# how a metric is written in the sentences: name, unit, decimals (PSNR as Table 2's 2, SSIM as its 4)
TEXT = {"psnr_y": ("PSNR-Y", " dB", 2), "ssim_y": ("SSIM-Y", "", 4)}
REFERENCE = TablesConfig.reference  # Table 2 typed in; notebook 11 reads the tables stage's default

# profiles whose numbers check the plumbing only (params.yaml: a CPU-minutes run)
SMOKE_PROFILES = viz.SMOKE_PROFILES
# A generator has COLLAPSED when it loses more than 10 log10 2 = 3.01 dB PSNR-Y (a doubled MSE) against the
# network it started from (SRGAN: SRResNet) or, for SRResNet, against bicubic; Ledig's own SRGAN gives up 2.4-2.7 dB
# against SRResNet (Table 2). The bound and the dead-loss threshold are notebook 10's (srlib.srgan.findings), so the
# training and the evaluation notebooks call the same run collapsed.
COLLAPSE_DB = -findings.COLLAPSE_DROP_DB
# A content loss below this is dead: it carries no gradient next to the adversarial term. A working one is ~1e-3 to
# 1e-1 (the smoke run's FID-Inception loss ~1e-2); a random-initialised VGG19's conv5_4 features are ~0 (l_g_percep
# ~1e-17, the photos run before the substitute).
DEAD_CONTENT_LOSS = findings.DEAD_CONTENT_LOSS
# |SRGAN - SRResNet| PSNR-Y CI inside this band: the GAN stage has not (yet) moved the generator
UNMOVED_DB = 0.1


def benchmark_pairs(cfg: SRGANEvaluateConfig, manifest: dict) -> list:
    """``(name, lq, gt)`` per benchmark image: gt mod-cropped to the scale, lq its 8-bit bicubic downscale."""
    return images.benchmark_pairs(splits.split_files(manifest, "bench"), cfg.scale)


def upscalers(
    cfg: SRGANEvaluateConfig, device: torch.device | str
) -> tuple[dict[str, evaluation.Upscaler], dict[str, dict]]:
    """Bicubic and the two generators ``srgan_train`` saved; also their files (``arch_kwargs``, ``meta``)."""
    run = paths.run_dir(cfg.profile, "srgan_train")
    srresnet, srresnet_file = models.load_generator(run / "srresnet.pth")
    srgan, srgan_file = models.load_generator(run / "srgan.pth")
    ups = {
        "bicubic": evaluation.bicubic_upscaler(cfg.scale),
        "srresnet": evaluation.model_upscaler(srresnet, device),
        "srgan": evaluation.model_upscaler(srgan, device),
    }
    return ups, {"srresnet": srresnet_file, "srgan": srgan_file}


def labels(files: dict[str, dict]) -> list[str]:
    """Caveats the generators put on every number: bicubic skip, the perceptual substitute (not Ledig's)."""
    skip = [BICUBIC_SKIP_LABEL] if files["srresnet"]["arch_kwargs"].get("bicubic_skip") else []
    return skip + perceptual.labels(files["srgan"]["meta"].get("percep_net"))


def per_image_metrics(
    cfg: SRGANEvaluateConfig, ups: dict[str, evaluation.Upscaler], pairs: Pairs
) -> pd.DataFrame:
    """PSNR-Y / SSIM-Y of every method on every whole image; also ``tables/srgan_per_image.csv``."""
    per_image = evaluation.evaluate(ups, pairs, crop_border=cfg.crop_border, progress=cfg.progress)
    per_image.to_csv(paths.table_file(cfg.profile, "srgan_per_image.csv"), index=False)
    return per_image


def paired_comparisons(cfg: SRGANEvaluateConfig, per_image: pd.DataFrame) -> pd.DataFrame:
    """SRResNet - bicubic, SRGAN - SRResNet and SRGAN - bicubic per metric (bootstrap CI, Wilcoxon);
    ``tables/srgan_paired.csv``."""
    paired = pd.DataFrame(
        [stats.compare_models(per_image, m, a, b) for m in METRICS for a, b in COMPARISONS]
    )
    paired.to_csv(paths.table_file(cfg.profile, "srgan_paired.csv"), index=False)
    return paired


# --------------------------------------------------------------------------------------------------------------
# what a title says about the run: SMOKE, PROXY DATA, the content loss, COLLAPSED


def _content_loss(percep_net: str | None, weights: dict) -> tuple[str, dict]:
    """The content loss's network (``percep_net``; files before it hold VGG19 only) and its weight status."""
    net = percep_net or "vgg19"
    return net, weights.get(perceptual.WEIGHT_KEYS.get(net, net), {})


def _random(status: dict) -> bool:
    return status.get("source") == "random-init"


def title_tag(
    profile: str,
    files: dict[str, dict] | None,
    data: dict | None = None,
    *,
    srgan_vs_srresnet_db: float | None = None,
) -> str:
    """A figure-title suffix, a second line: SMOKE, PROXY DATA (name), the content-loss caveat (the FID-Inception
    substitute, random-init weights) and ``SRGAN COLLAPSED`` (:data:`COLLAPSE_DB`); empty when none applies."""
    parts = ["SMOKE run: a plumbing check"] if profile in SMOKE_PROFILES else []
    if data and data.get("proxy"):
        parts.append(f"PROXY DATA ({data['name']})")
    if files:
        meta = files["srgan"]["meta"]
        net, status = _content_loss(meta.get("percep_net"), perceptual.meta_weights(meta))
        if net == "inception":
            parts.append("FID-Inception content loss (substitute for VGG54)")
        if _random(status):
            parts.append(f"RANDOM-INIT {net} content loss")
    if srgan_vs_srresnet_db is not None and srgan_vs_srresnet_db < COLLAPSE_DB:
        parts.append(f"SRGAN COLLAPSED ({srgan_vs_srresnet_db:+.1f} dB vs SRResNet)")
    return "\n" + " · ".join(parts) if parts else ""


def _mean_gap(per_image: pd.DataFrame, a: str, b: str, metric: str = "psnr_y") -> float:
    wide = per_image.pivot(index="image", columns="model", values=metric)
    return float((wide[a] - wide[b]).mean())


def _tag(cfg, per_image: pd.DataFrame, manifest: dict | None, files: dict | None) -> str:
    data = None
    if manifest is not None:
        data = {"name": splits.split_info(manifest, "bench")["name"], "proxy": manifest["proxy"]}
    gap = (
        _mean_gap(per_image, "srgan", "srresnet")
        if {"srgan", "srresnet"} <= set(per_image.model)
        else None
    )
    return title_tag(cfg.profile, files, data, srgan_vs_srresnet_db=gap)


def psnr_figure(
    cfg: SRGANEvaluateConfig,
    per_image: pd.DataFrame,
    manifest: dict | None = None,
    *,
    files: dict | None = None,
) -> Path:
    """PSNR-Y per image and method, and each network's difference to bicubic, one row per image sorted by SRResNet's
    gain (:func:`srlib.srgan.figures.per_image_psnr`); ``figures/srgan_evaluate/psnr_y_per_image.png``. The title
    carries :func:`title_tag` (``manifest``: the data's name and proxy flag; ``files``: :func:`upscalers`)."""
    bench = splits.split_info(manifest, "bench")["name"] if manifest is not None else "benchmark"
    title = (
        f"PSNR-Y per image, x{cfg.scale}, {per_image.image.nunique()} images of {bench}; "
        f"rows sorted by SRResNet − bicubic" + _tag(cfg, per_image, manifest, files)
    )
    fig = figures.per_image_psnr(per_image, names=NAMES, title=title)
    return viz.save(fig, paths.figure_file(cfg.profile, "srgan_evaluate/psnr_y_per_image.png"))


def zoom_picks(per_image: pd.DataFrame) -> dict[str, str]:
    """The images the zoom figure shows, by SRResNet's PSNR-Y gain over bicubic: the median (the lower middle one
    with an even count), the worst and the best. ``{rule: image}``; one image may hold several rules."""
    wide = per_image.pivot(index="image", columns="model", values="psnr_y")
    gain = (wide.srresnet - wide.bicubic).sort_values(kind="stable")
    return {
        "median gain": str(gain.index[(len(gain) - 1) // 2]),
        "worst gain": str(gain.index[0]),
        "best gain": str(gain.index[-1]),
    }


def zoom_figures(
    cfg: SRGANEvaluateConfig,
    ups: dict[str, evaluation.Upscaler],
    pairs: Pairs,
    per_image: pd.DataFrame,
    *,
    manifest: dict | None = None,
    files: dict | None = None,
) -> list[Path]:
    """Zoomed ``zoom_size`` crops (each ground truth's busiest window) of the :func:`zoom_picks` images, one row each,
    every panel titled with its whole-image PSNR-Y / SSIM-Y and the picking rule in the title;
    ``figures/srgan_evaluate/zoom_picks.png`` (older ``zoom_*.png`` removed). ``manifest`` / ``files``: as
    :func:`psnr_figure`."""
    folder = paths.figure_file(cfg.profile, "srgan_evaluate/x").parent
    for old in folder.glob("zoom_*.png"):
        old.unlink()
    rules: dict[str, list[str]] = {}
    for rule, name in zoom_picks(per_image).items():
        rules.setdefault(name, []).append(rule)
    samples = evaluation.sample_outputs(ups, pairs, list(rules))
    n = per_image.image.nunique()
    title = (
        f"x{cfg.scale}: the median, worst and best of {n} images by SRResNet − bicubic PSNR-Y gain\n"
        f"{cfg.zoom_size}-px crop at each ground truth's busiest window (nearest), "
        f"whole-image PSNR-Y / SSIM-Y per panel" + _tag(cfg, per_image, manifest, files)
    )
    fig = figures.zoom_rows(samples, rules, per_image, size=cfg.zoom_size, names=NAMES, title=title)
    return [viz.save(fig, folder / "zoom_picks.png")]


def crop_viewer(
    cfg: SRGANEvaluateConfig,
    pairs: Pairs,
    ups: dict[str, evaluation.Upscaler],
    per_image: pd.DataFrame,
    *,
    manifest: dict | None = None,
    files: dict | None = None,
) -> viz.CropViewer:
    """The interactive crop viewer (:func:`srlib.viz.crop_viewer`), its static grid's title with :func:`title_tag`."""
    return viz.crop_viewer(pairs, ups, title_tag=_tag(cfg, per_image, manifest, files))


# --------------------------------------------------------------------------------------------------------------
# the metrics file


def training_record(cfg: SRGANEvaluateConfig, files: dict[str, dict]) -> dict:
    """What ``srgan_train`` recorded about how the generators were trained (its metrics file, written with the
    generator files this stage reads): steps, the content and adversarial losses at the last SRGAN step, the
    content loss's network. Copied into ``srgan_evaluate.json`` so the tables stage needs that file alone."""
    out: dict = {"percep_net": files["srgan"]["meta"].get("percep_net") or "vgg19"}
    path = paths.metrics_file(cfg.profile, "srgan_train")
    try:
        train = tracking.read_metrics(path)
    except FileNotFoundError:
        return out
    m, conf = train["metrics"], train.get("config", {})
    return out | {
        "source": f"metrics/{path.name}",
        "srresnet_iters": m.get("srresnet", {}).get("iters"),
        "srgan_iters": m.get("srgan", {}).get("iters"),
        "l_g_percep": m.get("srgan", {}).get("l_g_percep"),
        "l_g_gan": m.get("srgan", {}).get("l_g_gan"),
        "w_adv": conf.get("w_adv"),
        "w_pix": conf.get("w_pix"),
    }


def write_metrics(
    cfg: SRGANEvaluateConfig,
    per_image: pd.DataFrame,
    paired: pd.DataFrame,
    *,
    manifest: dict,
    files: dict[str, dict],
) -> dict[str, dict[str, float]]:
    """``metrics/srgan_evaluate.json``: the mean metrics per method, the paired comparisons (with their ``n`` and
    verdict), how the generators were trained (:func:`training_record`), the zoomed images (:func:`zoom_picks`),
    provenance.

    Returns the per-method summary (mean, std, n, gain over bicubic).
    """
    summary = evaluation.summarize(per_image)
    bench = splits.split_info(manifest, "bench")
    tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE),
        {
            "models": summary,
            "crop_border": cfg.crop_border,
            "scale": cfg.scale,
            "paired": {
                f"{r.a}_vs_{r.b}_{r.metric}": {
                    "mean_diff": r.mean_diff,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "p_wilcoxon": r.p_wilcoxon,
                    "n": r.n,
                    "verdict": r.verdict,
                }
                for r in paired.itertuples()
            },
            "training": training_record(cfg, files),
            "zoom_images": zoom_picks(
                per_image
            ),  # the images zoom_figures shows, by its stated rule
        },
        stage=cfg.STAGE,
        profile=cfg.profile,
        data={
            "name": bench["name"],
            "proxy": manifest["proxy"],
            "source": bench["source"],
            "images": len(bench["files"]),
        },
        weights=perceptual.meta_weights(files["srgan"]["meta"]),
        labels=labels(files),
    )
    return summary


# --------------------------------------------------------------------------------------------------------------
# conclusions: sentences from the metrics file


def _verdict(res: dict) -> str:
    """The stored verdict, or :func:`srlib.stats.paired_comparison`'s rule on the stored CI and p (older files)."""
    if "verdict" in res:
        return res["verdict"]
    lo, hi, p = res["ci_low"], res["ci_high"], res.get("p_wilcoxon", 0.0)
    if lo <= 0 <= hi:
        return "similar"
    if p >= 0.05:
        return "inconclusive"
    return "A better" if lo > 0 else "B better"


def _diff(res: dict, metric: str) -> str:
    name, unit, d = TEXT[metric]
    return f"{name} {res['mean_diff']:+.{d}f}{unit} [95 % CI {res['ci_low']:+.{d}f}, {res['ci_high']:+.{d}f}]"


def _n(ev: dict, res: dict) -> int:
    return int(res.get("n", ev["metrics"]["models"]["bicubic"]["n"]))


def _paper(reference: pd.DataFrame, a: str, b: str, metric: str) -> str:
    """``"Set5 32.05 vs 28.43, Set14 ..., BSD100 ... dB"``: Table 2's values of A and B."""
    _, unit, d = TEXT[metric]
    value = reference.set_index(["method", "dataset", "metric"])["value"]
    sets = [s for s in dict.fromkeys(reference.dataset) if (a, s, metric) in value.index]
    return (
        ", ".join(
            f"{s} {value[(a, s, metric)]:.{d}f} vs {value[(b, s, metric)]:.{d}f}" for s in sets
        )
        + unit
    )


def _where(reference: pd.DataFrame) -> str:
    row = reference.iloc[0]
    return f"{row.table}, p. {row.page}"


def collapses(ev: dict) -> list[str]:
    """``"COLLAPSED: ... cause: ..."`` for each generator below :data:`COLLAPSE_DB` against the network it started
    from, with the cause the metrics file shows (a dead content loss, random-init weights); else one line saying
    neither collapsed."""
    paired, training = ev["metrics"]["paired"], ev["metrics"].get("training", {})
    net, status = _content_loss(training.get("percep_net"), ev.get("weights", {}))
    out = []
    rr = paired["srresnet_vs_bicubic_psnr_y"]
    if rr["mean_diff"] < COLLAPSE_DB:
        steps = training.get("srresnet_iters")
        out.append(
            f"COLLAPSED: SRResNet loses {-rr['mean_diff']:.2f} dB PSNR-Y against bicubic "
            f"(95 % CI {rr['ci_low']:+.2f}, {rr['ci_high']:+.2f}; more than {-COLLAPSE_DB:.1f} dB, about twice "
            f"bicubic's MSE); cause: not identified from the metrics files (SRResNet-MSE trained "
            f"{steps if steps is not None else 'an unrecorded number of'} steps)."
        )
    gan = paired["srgan_vs_srresnet_psnr_y"]
    if gan["mean_diff"] < COLLAPSE_DB:
        causes = []
        percep = training.get("l_g_percep")
        if percep is not None and percep < DEAD_CONTENT_LOSS:
            w_adv = training.get("w_adv")
            causes.append(
                f"the content loss was dead: l_g_percep = {percep:.2g} at the last of "
                f"{training.get('srgan_iters', '?')} SRGAN steps ({training.get('source', 'srgan_train')}; a "
                f"working one is ~1e-3 to 1e-1), so the generator followed the adversarial term"
                + (f" (w_adv = {w_adv:g})" if w_adv is not None else "")
                + " alone"
            )
        if _random(status):
            causes.append(
                f"its content-loss network {net} was RANDOM-INIT (no pretrained file: "
                f"weights.{perceptual.WEIGHT_KEYS.get(net, net)}.source = random-init), whose features carry no "
                f"image content"
            )
        why = "; ".join(causes) or (
            f"not identified from the metrics files (content loss {net}, l_g_percep = "
            f"{training.get('l_g_percep', 'not recorded')}, weights {status.get('source', 'not recorded')})"
        )
        out.append(
            f"COLLAPSED: SRGAN loses {-gan['mean_diff']:.2f} dB PSNR-Y against SRResNet, the network it started "
            f"from (95 % CI {gan['ci_low']:+.2f}, {gan['ci_high']:+.2f}; more than {-COLLAPSE_DB:.1f} dB, about "
            f"twice SRResNet's MSE; Ledig's SRGAN gives up 2.4-2.7 dB); cause: {why}."
        )
    if not out:
        out.append(
            f"No collapse: SRResNet − bicubic {rr['mean_diff']:+.2f} dB and SRGAN − SRResNet "
            f"{gan['mean_diff']:+.2f} dB PSNR-Y, both above {COLLAPSE_DB:+.1f} dB (no generator doubles the MSE "
            f"of the network it started from)."
        )
    if -UNMOVED_DB < gan["ci_low"] and gan["ci_high"] < UNMOVED_DB:
        steps = training.get("srgan_iters")
        out.append(
            f"SRGAN is still SRResNet: SRGAN − SRResNet PSNR-Y {gan['mean_diff']:+.3f} dB [95 % CI "
            f"{gan['ci_low']:+.3f}, {gan['ci_high']:+.3f}] after "
            f"{steps if steps is not None else 'its'} GAN steps, inside ±{UNMOVED_DB} dB: the adversarial stage "
            f"has barely changed the generator, so this run cannot show SRGAN's trade-off."
        )
    return out


def _decided(res: dict, claimed: str, n: int) -> str:
    found = _verdict(res)
    if found == "similar":
        return "cannot be decided (CI contains 0)"
    if found == "inconclusive":
        return (
            f"cannot be decided (the CI excludes 0, but Wilcoxon p = {res.get('p_wilcoxon', math.nan):.3g} "
            f"≥ 0.05 with n = {n})"
        )
    return "agrees" if found == claimed else "contradicts"


def claims(ev: dict, reference: pd.DataFrame) -> list[str]:
    """Table 2's ordering, one line per claim: the paper's values, this run's paired difference and its verdict
    (agrees / contradicts / cannot be decided; :func:`srlib.stats.paired_comparison`'s rule)."""
    paired = ev["metrics"]["paired"]
    collapsed = paired["srgan_vs_srresnet_psnr_y"]["mean_diff"] < COLLAPSE_DB
    out = []
    for a, b, better, claimed in (
        ("srresnet", "bicubic", "srresnet", "A better"),
        ("srgan", "srresnet", "srresnet", "B better"),
    ):
        worse = b if better == a else a
        for metric in METRICS:
            res = paired[f"{a}_vs_{b}_{metric}"]
            n = _n(ev, res)
            verdict = _decided(res, claimed, n)
            if a == "srgan" and collapsed and verdict == "agrees":
                verdict = "agrees in sign only: SRGAN COLLAPSED (above), not the paper's trade-off"
            out.append(
                f"Claim {NAMES[better]} > {NAMES[worse]} in {TEXT[metric][0]} ({_where(reference)}: "
                f"{_paper(reference, better, worse, metric)}). This run: {NAMES[a]} − {NAMES[b]} "
                f"{_diff(res, metric)}, n = {n}. Verdict: {verdict}."
            )
    return out


def _scope(ev: dict) -> str:
    data, m, training = ev["data"], ev["metrics"], ev["metrics"].get("training", {})
    smoke = (
        "SMOKE profile, a plumbing check: its numbers test the code, not the paper"
        if ev["profile"] in SMOKE_PROFILES
        else f"{ev['profile']} profile"
    )
    steps = ""
    if training.get("srresnet_iters") is not None:
        steps = (
            f"; trained {training['srresnet_iters']:,} SRResNet + {training.get('srgan_iters') or 0:,} SRGAN steps "
            f"(the paper: {SRGANTrainConfig.pretrain_iters:,} + {SRGANTrainConfig.gan_iters:,})"
        )
    return (
        f"Run: {smoke}; {data.get('images', m['models']['bicubic']['n'])} images of {data['name']}"
        + (" (PROXY DATA)" if data.get("proxy") else "")
        + f", x{m['scale']}, PSNR-Y / SSIM-Y with a {m['crop_border']}-px border removed{steps}."
    )


def _comparability(ev: dict) -> str:
    if ev.get("comparable_with_paper"):
        return "Absolute numbers: comparable with Table 2 (comparable_with_paper is true: the paper's data and weights)."
    short = [x for x in ev["labels"] if x.startswith(("PROXY DATA:", "RANDOM WEIGHTS:"))] + [
        x for x in ev["labels"] if x == perceptual.SUBSTITUTE_LABEL
    ]
    return (
        "Absolute numbers: not comparable with Table 2's Set5 / Set14 / BSD100 (comparable_with_paper is false: "
        + "; ".join(short or ev["labels"])
        + "): only the orderings above carry over."
    )


def findings(ev: dict, reference: pd.DataFrame) -> list[str]:
    """This run in sentences, from an ``srgan_evaluate`` metrics record and Table 2 typed in: scope, the two paired
    differences (CI, n), collapses and their causes, the paper's claims with verdicts, comparability."""
    paired = ev["metrics"]["paired"]
    out = [_scope(ev)]
    for a, b in COMPARISONS[:2]:
        res = {m: paired[f"{a}_vs_{b}_{m}"] for m in METRICS}
        ps = [f"{res[m].get('p_wilcoxon', math.nan):.3g}" for m in METRICS]
        out.append(
            f"{NAMES[a]} − {NAMES[b]}: "
            + ", ".join(_diff(res[m], m) for m in METRICS)
            + f"; n = {_n(ev, res['psnr_y'])} images, paired bootstrap; Wilcoxon p = {' / '.join(ps)}."
        )
    return out + collapses(ev) + claims(ev, reference) + [_comparability(ev)]


def _reference(path: str) -> pd.DataFrame:
    return pd.read_csv(paths.resolve(path))


def conclusions(cfg: SRGANEvaluateConfig) -> list[str]:
    """Notebook 11's conclusions: :func:`findings` of the metrics file :func:`write_metrics` wrote, against
    Table 2 (:data:`REFERENCE`)."""
    ev = tracking.read_metrics(paths.metrics_file(cfg.profile, cfg.STAGE))
    return findings(ev, _reference(REFERENCE))


# --------------------------------------------------------------------------------------------------------------
# the tables stage (notebook 90)


def _not_comparable(ours: dict) -> dict[str, str]:
    """Per method, what besides data and weight files keeps its row from the paper's: the content-loss substitute."""
    net = ours["metrics"].get("training", {}).get("percep_net")
    if net == "inception" or perceptual.WEIGHT_KEYS["inception"] in ours.get("weights", {}):
        # trained on the substitute: never the paper's SRGAN, whatever the weights
        return {"srgan": "FID-Inception content loss (substitute for VGG54)"}
    return {}


def paper_table(cfg: TablesConfig) -> tuple[pd.DataFrame, dict]:
    """Ledig Table 2 as one wide table, one row per method: the paper's Set5 / Set14 / BSD100 PSNR-Y and SSIM-Y, then
    our ``srgan_evaluate`` numbers once with their paired 95 % CI against bicubic, and why a row is not comparable
    (:func:`srlib.evaluation.paper_table`; no Δ column unless our benchmark is one of the paper's).

    Writes ``tables/srgan_ledig2017.csv`` (numbers) and ``.md`` (the readable table, its sources and labels).
    Returns ``(table, ours)``: the readable table (:func:`srlib.evaluation.paper_table_view`, indexed by method) and
    the metrics record.
    """
    ref = _reference(cfg.reference)
    ours = tracking.read_metrics(paths.metrics_file(cfg.profile, "srgan_evaluate"))
    percep = [k for k in perceptual.WEIGHT_KEYS.values() if k in ours.get("weights", {})]
    table = evaluation.paper_table(
        ref,
        ours,
        weights_by_method={"srgan": percep or ["vgg19"]},
        not_comparable=_not_comparable(ours),
    )
    for method, why in _not_comparable(ours).items():
        table.loc[table.method == method, "weights"] = why
    table.to_csv(paths.table_file(cfg.profile, "srgan_ledig2017.csv"), index=False)
    view = evaluation.paper_table_view(table, ref, names=NAMES)
    smoke = " — SMOKE run: a plumbing check" if cfg.profile in SMOKE_PROFILES else ""
    paths.table_file(cfg.profile, "srgan_ledig2017.md").write_text(
        f"# Ledig et al. 2017, Table 2: bicubic / SRResNet / SRGAN at x{ours['metrics']['scale']}, the paper's "
        f"and ours ({cfg.profile} profile{smoke})\n\n"
        + "".join(f"{note}\n\n" for note in _notes(ours, ref))
        + evaluation.markdown_table(view)
        + "\n"
        + "".join(f"- {label}\n" for label in ours["labels"])
    )
    return view.set_index("method"), ours


def _notes(ours: dict, ref: pd.DataFrame) -> list[str]:
    row = ref.iloc[0]
    m, data = ours["metrics"], ours["data"]
    proxy = " (PROXY)" if data.get("proxy") else ""
    sets = " / ".join(dict.fromkeys(ref.dataset))
    delta = (
        "Δ columns: ours − the paper's on the same dataset."
        if ours.get("comparable_with_paper")
        and data["name"].lower() in {s.lower() for s in ref.dataset}
        else f"No Δ column: our benchmark is not {sets} with the paper's weights "
        f"(comparable_with_paper is {str(bool(ours.get('comparable_with_paper'))).lower()}; the table's last "
        f"column says why, row by row), so ours − paper would compare two different experiments."
    )
    return [
        f"Paper columns: {row.paper}, {_where(ref)}: PSNR-Y [dB] / SSIM-Y on {sets} ({row.convention}).",
        f"Ours: metrics/srgan_evaluate.json, the mean over {data.get('images', '?')} images of {data['name']}{proxy}, "
        f"x{m['scale']}, {m['crop_border']}-px border removed; in brackets the paired difference against bicubic "
        f"on the same images with its 95 % bootstrap CI.",
        delta,
    ]


def tables_conclusions(cfg: TablesConfig, ours: dict) -> list[str]:
    """Notebook 90's conclusions: what the table compares, whether a Δ is meaningful, then :func:`findings` of the
    same metrics record (the lines notebook 11 prints)."""
    ref = _reference(cfg.reference)
    return _notes(ours, ref)[2:] + findings(ours, ref)
