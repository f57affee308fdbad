"""The modified SRGAN's fixes, measured: bicubic, network, + each fix, + all fixes, x faithful vs blended tiling.

The report behind the seed (vTuanpham/SRGAN_Reimplementation_modified) shows pictures only. Here every variant is
scored on a benchmark with PSNR-Y / SSIM-Y (:mod:`srlib.metrics.pixel` conventions via :func:`srlib.evaluation.measure`),
LPIPS (:mod:`srlib.metrics.inception`; label the trunk's weights) and a seam score (:func:`srlib.inference.layout.seam_score`).

Every network row uses the generator's BN statistics at inference (``cfg.bn_inference``, default per-image: NOT the
seed's, labelled; each tile is normalised with its own statistics, so the seams are measured in that mode); the rows
named after the other mode (``..., moving statistics (the seed)``) are the seed's inference on the same weights.

Variants (``method`` column):

* ``bicubic``: MATLAB bicubic x scale, the baseline of every SR table;
* ``network``: untiled inference (the reference the tilings are compared with); ``network, <other mode>``: the same
  weights with the other BN statistics; ``network, zero padding`` (and ``..., <other mode>``): the zero-padded twin,
  untiled (the contrast: its moving statistics do not compound at the borders);
* for each tiling ``faithful`` (the seed's 64-px tiles, no overlap, white padding) and ``blend`` (overlap +
  feathered weights): ``network`` alone, ``+ match`` (histogram matching to the LR input), ``+ low-pass``
  (FFT low-pass, clean filter: real part, clamped), ``+ all`` (:func:`srlib.srgan_modified.postprocess.seed_postprocess`:
  match -> low-pass -> match with the seed's magnitude/min-max quirks);
* ``network, zero padding [faithful]`` (with ``g_zero``): the report's seam comparison, a zero-padded network on the
  same faithful tiles;
* ``seed as coded``: the seed's whole chain as ``loadh5baend.py`` runs it: [30, 255] input stretch, faithful tiles,
  min-max -> low-pass -> match (BN statistics as the other network rows);
* ``network, <other mode> [faithful]`` / ``[blend]``: the other BN mode's seams.

``gain_db`` is each row's PSNR-Y minus bicubic's; ``status`` says COLLAPSED below
:data:`~srlib.srgan_modified.figures.COLLAPSE_GAIN_DB`.

Seam scores are measured at each tiling's own seam lines; untiled outputs and bicubic at the faithful tile borders
(their score is the level of "no seam" on that image content).

The stage (notebook 21) works through the functions that take its config
(:class:`~srlib.srgan_modified.config.SRGANModifiedPostprocessConfig`, at the end of this module); the report's
figures are :mod:`srlib.srgan_modified.figures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from srlib import evaluation, models
from srlib.data import degradations, images
from srlib.inference import arrays, layout
from srlib.inference import tiling as inference
from srlib.metrics import lpips
from srlib.models.srgan_modified import bn_statistics
from srlib.srgan_modified import bn, figures, postprocess
from srlib.srgan_modified.config import SRGANModifiedPostprocessConfig

TILINGS = ("faithful", "blend")
FIXES = {"network": "", "+ match": "match", "+ low-pass": "lowpass", "+ all": "seed"}
METRICS = ("psnr_y", "ssim_y", "lpips", "seam")


def other_label(g) -> str:
    """How the rows of ``g``'s other BN mode are named: ``moving statistics (the seed)`` for a per-image ``g``."""
    return bn.MODE_LABELS[bn.other_mode(g.bn_inference)]


def alt_method(method: str, label: str) -> str:
    """``network [blend]`` -> ``network, <label> [blend]``; ``network`` -> ``network, <label>``."""
    base, _, tiling = method.partition(" [")
    return f"{base}, {label}" + (f" [{tiling}" if tiling else "")


def variants(
    g,
    lq: torch.Tensor,
    *,
    scale: int,
    tile: int,
    overlap: int,
    radius: float = 0.23,
    g_zero=None,
    device="cpu",
) -> dict[str, tuple[str, torch.Tensor]]:
    """``{method: (tiling, sr)}`` for one LR image ``(3, h, w)``; ``g`` (and ``g_zero``) in eval mode, each in its
    own ``bn_inference`` mode, plus the rows of the other mode (:func:`alt_method`)."""
    up = dict(scale=scale, device=device)
    alt, label = bn.other_mode(g.bn_inference), other_label(g)

    def tiled(net, tiling: str) -> torch.Tensor:
        ov = overlap if tiling == "blend" else 0
        return inference.upscale(net, lq, tile=tile, overlap=ov, mode=tiling, **up)

    out = {
        "bicubic": ("none", degradations.imresize(lq[None], scale)[0]),
        "network": ("none", inference.upscale(g, lq, tile=0, **up)),
    }
    with bn_statistics(g, alt):
        out[alt_method("network", label)] = ("none", inference.upscale(g, lq, tile=0, **up))
    if g_zero is not None:  # the contrast: the zero-padded twin, untiled, in both modes
        out["network, zero padding"] = ("none", inference.upscale(g_zero, lq, tile=0, **up))
        with bn_statistics(g_zero, alt):
            out[alt_method("network, zero padding", label)] = (
                "none",
                inference.upscale(g_zero, lq, tile=0, **up),
            )
    for tiling in TILINGS:
        net = tiled(g, tiling)
        for fix, steps in FIXES.items():
            out[f"{fix} [{tiling}]"] = (
                tiling,
                postprocess.apply_steps(net, lq, steps, radius=radius) if steps else net,
            )
    with bn_statistics(g, alt):  # the other mode's seams
        for tiling in TILINGS:
            out[alt_method(f"network [{tiling}]", label)] = (tiling, tiled(g, tiling))
    if g_zero is not None:  # the report's comparison: the same tiles with a zero-padded network
        out["network, zero padding [faithful]"] = ("faithful", tiled(g_zero, "faithful"))
    stretched = inference.upscale(g, arrays.stretch_30_255(lq), tile=tile, mode="faithful", **up)
    out["seed as coded [faithful]"] = (
        "faithful",
        postprocess.seed_postprocess(stretched, lq, radius=radius, as_coded=True),
    )
    return out


def center_pairs(pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]], size: int, scale: int):
    """Centre-crop each ground truth to ``size`` (mod ``scale``) and remake its 8-bit bicubic LR input (0: keep)."""
    if not size:
        return list(pairs)
    out = []
    for name, _lq, gt in pairs:
        gt_c = degradations.mod_crop(evaluation.center_crop(gt, size), scale)
        out.append(
            (name, degradations.quantize(degradations.imresize(gt_c, 1 / scale).clamp(0, 1)), gt_c)
        )
    return out


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)).double() ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def run(
    g,
    pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
    *,
    scale: int,
    crop_border: int,
    tile: int = 64,
    overlap: int = 16,
    radius: float = 0.23,
    lpips_model=None,
    g_zero=None,
    device="cpu",
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every variant on every ``(name, lq, gt)``: (per-image metrics, tiled-vs-untiled agreement per image).

    The second frame holds, per image, the PSNR (RGB, float outputs clamped to [0, 1]) of each tiling's raw network
    output against untiled inference: the "blended tiles reproduce the untiled output" check, in ``g``'s BN mode
    (``psnr_<tiling>_vs_untiled``) and in the other (``psnr_<tiling>_vs_untiled_<other mode>``).
    """
    g = g.to(device).eval()
    g_zero = None if g_zero is None else g_zero.to(device).eval()
    rows, agree = [], []
    items = pairs
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(pairs, desc="ablation")
    for name, lq, gt in items:
        outs = variants(
            g,
            lq,
            scale=scale,
            tile=tile,
            overlap=overlap,
            radius=radius,
            g_zero=g_zero,
            device=device,
        )
        h, w = lq.shape[-2:]
        lines = {
            t: layout.seam_lines(
                h, w, scale=scale, tile=tile, overlap=overlap if t == "blend" else 0, mode=t
            )
            for t in TILINGS
        }
        lines["none"] = lines["faithful"]
        ref = outs["network"][1]
        alt, label = bn.other_mode(g.bn_inference), other_label(g)
        ref_alt = outs[alt_method("network", label)][1]
        agree.append(
            {
                "image": name,
                **{f"psnr_{t}_vs_untiled": _psnr(outs[f"network [{t}]"][1], ref) for t in TILINGS},
                **{
                    f"psnr_{t}_vs_untiled_{alt}": _psnr(
                        outs[alt_method(f"network [{t}]", label)][1], ref_alt
                    )
                    for t in TILINGS
                },
            }
        )
        for method, (tiling, sr) in outs.items():
            sr = degradations.quantize(sr.clamp(0, 1))  # what a saved 8-bit PNG holds
            row = {"method": method, "tiling": tiling, "image": name}
            row |= evaluation.measure(sr[None], gt[None], crop_border=crop_border)
            if lpips_model is not None:
                row["lpips"] = float(lpips_model(sr, gt)[0])
            row["seam"] = layout.seam_score(sr, *lines[tiling])
            rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(agree)


def agreement(agree: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean / min / count of the tiled-vs-untiled PSNR over images where tiling changed anything (finite PSNR)."""
    out = {}
    for c in agree.columns.drop("image"):
        v = agree[c].replace(np.inf, np.nan).dropna()
        out[c] = {
            "mean": float(v.mean()) if len(v) else float("nan"),
            "min": float(v.min()) if len(v) else float("nan"),
            "n": int(len(v)),
            "identical": int(len(agree) - len(v)),
        }
    return out


def summarize(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean per method (in run order) plus deltas against ``network`` with the same tiling (untiled for bicubic),
    the gain over bicubic (``gain_db``, PSNR-Y) and ``status`` (COLLAPSED below
    :data:`~srlib.srgan_modified.figures.COLLAPSE_GAIN_DB`, else empty)."""
    cols = [c for c in METRICS if c in per_image]
    mean = per_image.groupby("method", sort=False)[cols].mean()
    tiling = per_image.groupby("method", sort=False)["tiling"].first()
    out = mean.copy()
    out.insert(0, "tiling", tiling)
    for c in ("psnr_y", "ssim_y", "lpips"):
        if c not in mean:
            continue
        base = [mean.loc[f"network [{t}]" if t in TILINGS else "network", c] for t in tiling]
        out[f"d_{c}"] = mean[c].to_numpy() - np.array(base)
    out["gain_db"] = mean["psnr_y"] - mean.loc["bicubic", "psnr_y"]
    out["status"] = ["COLLAPSED" if figures.collapsed(v) else "" for v in out["gain_db"]]
    return out


# the table's columns as a reader sees them: what each measures, against what, and which direction is better;
# with the decimals that matter (1/100 dB, 1e-4 of SSIM / LPIPS)
DISPLAY = {
    "tiling": ("tiling", None),
    "psnr_y": ("PSNR-Y (dB) ↑", 2),
    "ssim_y": ("SSIM-Y ↑", 4),
    "lpips": ("LPIPS ↓", 4),
    "seam": ("seam score (1 = none, > 1 = visible)", 3),
    "d_psnr_y": ("Δ PSNR-Y (dB) vs network, same tiling ↑", 2),
    "d_ssim_y": ("Δ SSIM-Y vs network ↑", 4),
    "d_lpips": ("Δ LPIPS vs network ↓", 4),
    "gain_db": ("PSNR-Y − bicubic (dB) ↑", 2),
    "status": ("status", None),
}


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`summarize`'s table for reading: columns named with their reference and direction, numbers printed
    with their decimals (a missing one empty)."""
    cols = [c for c in DISPLAY if c in summary]
    out = summary[cols].copy()
    for c in cols:
        if DISPLAY[c][1] is not None:
            out[c] = [("" if v != v else f"{v:.{DISPLAY[c][1]}f}") for v in out[c]]
    out.index.name = "method"
    return out.rename(columns={c: DISPLAY[c][0] for c in cols})


def gains(summary: pd.DataFrame) -> dict[str, float]:
    """``{method: PSNR-Y gain over bicubic}`` of every row (the figures' COLLAPSED labels)."""
    return {k: float(v) for k, v in summary["gain_db"].items()}


def title_tag(
    cfg: SRGANModifiedPostprocessConfig, summary: pd.DataFrame, method: str = "network"
) -> str:
    """SMOKE / COLLAPSED suffix for a figure of ``method``'s output (``cfg.bn_inference`` mode), with the cause
    when the same weights work in the other mode."""
    alt = bn.other_mode(cfg.bn_inference)
    g = gains(summary)
    by_mode = {cfg.bn_inference: g.get(method)}
    alt_row = alt_method(method, bn.MODE_LABELS[alt])
    if alt_row in g:
        by_mode[alt] = g[alt_row]
    return figures.mode_tag(cfg.profile, cfg.bn_inference, by_mode)


def _verdict(d_psnr: float, d_lpips: float | None) -> str:
    if d_lpips is None or np.isnan(d_lpips):
        return "helps" if d_psnr > 0.05 else ("hurts" if d_psnr < -0.05 else "changes little")
    if d_psnr > 0.05 and d_lpips < 0.002:
        return "helps"
    if d_psnr < -0.05 and d_lpips > -0.002:
        return "hurts"
    if abs(d_psnr) <= 0.05 and abs(d_lpips) <= 0.002:
        return "changes little"
    return "trades one metric for the other"


def conclusions(
    summary: pd.DataFrame, agree: pd.DataFrame | None = None, *, bn_inference: str = "per_image"
) -> list[str]:
    """Plain sentences, with the numbers, about what each fix and each tiling does (from :func:`summarize`), the
    seed's BN inference beside ``bn_inference`` (the mode of the network rows), and where the run disagrees with the
    seed's report."""
    s = summary
    lp = "lpips" in s
    out = []
    mode, alt = bn_inference, bn.other_mode(bn_inference)
    label = bn.MODE_LABELS[alt]
    net, bic = s.loc["network"], s.loc["bicubic"]
    gain = net.psnr_y - bic.psnr_y
    state = (
        "COLLAPSED"
        if figures.collapsed(gain)
        else "within 1 dB of bicubic or better"
        if gain >= -1
        else "below bicubic, not collapsed"
    )
    out.append(
        f"Network vs bicubic (untiled, {bn.MODE_LABELS[mode]}): PSNR-Y {net.psnr_y:.2f} vs {bic.psnr_y:.2f} dB "
        f"({gain:+.2f} dB: {state}), SSIM-Y {net.ssim_y:.4f} vs {bic.ssim_y:.4f}"
        + (f", LPIPS {net.lpips:.4f} vs {bic.lpips:.4f}." if lp else ".")
    )
    if alt_method("network", label) in s.index:
        a = s.loc[alt_method("network", label)]
        text = (
            f"The same weights with {label}: PSNR-Y {a.psnr_y:.2f} dB ({a.gain_db:+.2f} dB vs bicubic"
            + (": COLLAPSED" if figures.collapsed(a.gain_db) else "")
            + ")"
        )
        zr, za = "network, zero padding", alt_method("network, zero padding", label)
        if zr in s.index and za in s.index:
            text += (
                f"; the zero-padded twin: {s.loc[zr].gain_db:+.2f} dB with {bn.MODE_LABELS[mode]}, "
                f"{s.loc[za].gain_db:+.2f} dB with {label}"
            )
        out.append(text + ".")
    f, b = s.loc["network [faithful]"], s.loc["network [blend]"]
    text = (
        f"Tiling ({bn.MODE_LABELS[mode]}"
        + (", each tile normalised on its own" if mode == "per_image" else "")
        + f"): the seed's faithful 64-px tiles give a seam score of {f.seam:.2f} against {b.seam:.2f} for "
        f"blended tiles (untiled output on the same lines: {net.seam:.2f}; 1 = no seam), and PSNR-Y "
        f"{f.psnr_y:.2f} vs {b.psnr_y:.2f} dB"
    )
    tiled = agreement(agree) if agree is not None and len(agree) else {}
    if tiled.get("psnr_blend_vs_untiled", {}).get("n"):
        bl, fa = tiled["psnr_blend_vs_untiled"], tiled["psnr_faithful_vs_untiled"]
        text += (
            f"; against untiled inference the blended output reaches {bl['mean']:.1f} dB PSNR (min "
            f"{bl['min']:.1f}, {bl['n']} images with more than one tile), the faithful one {fa['mean']:.1f} dB"
        )
    fa_alt, bl_alt = (alt_method(f"network [{t}]", label) for t in TILINGS)
    if fa_alt in s.index and bl_alt in s.index:
        text += (
            f". With {label} the seam scores are {s.loc[fa_alt].seam:.2f} (faithful) and "
            f"{s.loc[bl_alt].seam:.2f} (blended)"
        )
        alt_bl = tiled.get(f"psnr_blend_vs_untiled_{alt}", {})
        if alt_bl.get("n"):
            text += f", the blended output {alt_bl['mean']:.1f} dB from untiled"
    out.append(text + ".")
    seamless = f.seam <= max(net.seam, b.seam)
    out.append(
        "The report: reflect padding lets the seed's 64-px tiles join without visible seams. This run "
        + ("agrees" if seamless else "disagrees")
        + f": seam score {f.seam:.2f} on those tiles against {net.seam:.2f} for the untiled output and "
        f"{b.seam:.2f} for blended tiles."
    )
    if "network, zero padding [faithful]" in s.index:
        z = s.loc["network, zero padding [faithful]"]
        out.append(
            f"Padding (faithful tiles): seam score {z.seam:.2f} with zero padding vs {f.seam:.2f} with reflect "
            f"padding (PSNR-Y {z.psnr_y:.2f} vs {f.psnr_y:.2f} dB); blended tiles (reflect) reach {b.seam:.2f}."
        )
    for tiling in TILINGS:
        for fix in ("+ match", "+ low-pass", "+ all"):
            r = s.loc[f"{fix} [{tiling}]"]
            d_lp = r.d_lpips if lp else None
            out.append(
                f"{fix[2:]} ({tiling} tiles): {_verdict(r.d_psnr_y, d_lp)} -- PSNR-Y {r.d_psnr_y:+.2f} dB, "
                f"SSIM-Y {r.d_ssim_y:+.4f}"
                + (f", LPIPS {r.d_lpips:+.4f}" if lp else "")
                + f", seam {r.seam:.2f}."
            )
    sc = s.loc["seed as coded [faithful]"]
    out.append(
        f"The seed's chain as coded (stretch, faithful tiles, min-max -> low-pass -> match): PSNR-Y "
        f"{sc.psnr_y:.2f} dB ({sc.psnr_y - net.psnr_y:+.2f} vs untiled network)"
        + (f", LPIPS {sc.lpips:.4f}" if lp else "")
        + f", seam {sc.seam:.2f}."
    )
    return out


# ---------------------------------------------------------------------------------------------------------------------
# the stage (notebook 21): everything from its config


def benchmark(cfg: SRGANModifiedPostprocessConfig, files: Sequence[Path]) -> list:
    """The benchmark ``(name, lq, gt)`` pairs: centre-cropped to ``cfg.eval_crop``, the first ``cfg.max_images``."""
    pairs = center_pairs(images.benchmark_pairs(files, cfg.scale), cfg.eval_crop, cfg.scale)
    return pairs[: cfg.max_images] if cfg.max_images else pairs


def load_networks(
    cfg: SRGANModifiedPostprocessConfig, run: Path
) -> tuple[torch.nn.Module, dict, torch.nn.Module, str]:
    """``(g, g_file, g_zero, zero_label)`` from notebook 20's run folder, both set to ``cfg.bn_inference``.

    ``g_zero`` is the zero-padded twin when it was trained; otherwise the same weights with zero pads swapped in
    (built from the file's own ``arch_kwargs``), and ``zero_label`` says which.
    """
    g, g_file = models.load_generator(run / "generator.pth")
    if (run / "generator_zeros.pth").is_file():
        g_zero, _ = models.load_generator(run / "generator_zeros.pth")
        zero_label = "zero-padded twin trained with the same recipe"
    else:
        g_zero = models.SRGANModifiedGenerator(**(g_file["arch_kwargs"] | {"padding": "zeros"}))
        g_zero.load_state_dict(g.state_dict())
        zero_label = "zero padding swapped into the reflect-trained weights (no twin trained)"
    g.bn_inference = g_zero.bn_inference = cfg.bn_inference
    return g, g_file, g_zero, zero_label


def load_lpips(cfg: SRGANModifiedPostprocessConfig, device="cpu") -> lpips.LPIPSModel:
    """The LPIPS model of the ablation (``cfg.lpips_net`` trunk, ``cfg.lpips_weights`` mode)."""
    return lpips.load_lpips(cfg.lpips_net, cfg.lpips_weights, device=device)


def run_labels(
    cfg: SRGANModifiedPostprocessConfig, g_file: dict, zero_label: str, lp: lpips.LPIPSModel
) -> list[str]:
    """The caveats: the generator's own (but its BN mode: this stage's), which zero-padded network, the LPIPS trunk,
    the centre crops."""
    labels = [s for s in g_file["meta"].get("labels", []) if not s.startswith(bn.LABEL_PREFIX)]
    labels += [bn.inference_label(cfg.bn_inference)] if cfg.bn_inference != "moving" else []
    labels += [f"zero padding: {zero_label}"]
    labels += [f"LPIPS trunk {lp.status.source} ({lp.status.key})"]
    return labels + ([f"centre crops {cfg.eval_crop}px"] if cfg.eval_crop else [])


def measure(
    cfg: SRGANModifiedPostprocessConfig,
    g,
    pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
    *,
    lpips_model=None,
    g_zero=None,
    device="cpu",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`run` with ``cfg``'s tiling, low-pass radius and crop border."""
    return run(
        g,
        pairs,
        scale=cfg.scale,
        crop_border=cfg.crop_border,
        tile=cfg.tile,
        overlap=cfg.overlap,
        radius=cfg.radius,
        lpips_model=lpips_model,
        g_zero=g_zero,
        device=device,
        progress=cfg.progress,
    )


def markdown_report(
    cfg: SRGANModifiedPostprocessConfig,
    summary: pd.DataFrame,
    findings: list[str],
    *,
    labels: list[str],
    bench_name: str,
    n_images: int,
) -> str:
    """``tables/srgan_modified_ablation.md``: the caveats, the summary table, the findings."""
    return (
        f"# Modified SRGAN: fixes x tiling ablation ({cfg.profile} profile, {bench_name}, {n_images} images)"
        + title_tag(cfg, summary)
        + "\n\n"
        + "".join(f"- {label}\n" for label in labels)
        + "\n"
        + evaluation.markdown_table(display_table(summary).reset_index())
        + "\n## Findings\n\n"
        + "".join(f"- {s}\n" for s in findings)
    )


SEAM_METHODS = (
    "network, zero padding [faithful]",
    "network [faithful]",
    "network [blend]",
    "network",
)


def stage_metrics(
    cfg: SRGANModifiedPostprocessConfig,
    summary: pd.DataFrame,
    agree: pd.DataFrame,
    findings: list[str],
    *,
    n_images: int,
) -> dict:
    """The metrics block: the summary per method, tiled-vs-untiled agreement, seam scores (by padding, and by BN
    mode), the BN mode, whether the network collapsed, the settings."""
    label = bn.MODE_LABELS[bn.other_mode(cfg.bn_inference)]
    seam_by_mode = {
        cfg.bn_inference: {m: float(summary.loc[m, "seam"]) for m in SEAM_METHODS[1:]},
        bn.other_mode(cfg.bn_inference): {
            m: float(summary.loc[alt_method(m, label), "seam"])
            for m in SEAM_METHODS[1:]
            if alt_method(m, label) in summary.index
        },
    }
    gain = float(summary.loc["network", "gain_db"])
    return {
        "bn_inference": cfg.bn_inference,
        "network_gain_db": gain,
        "collapsed": figures.collapsed(gain),
        "collapse_threshold_db": figures.COLLAPSE_GAIN_DB,
        "ablation": summary.drop(columns="tiling").to_dict(orient="index"),
        "tiled_vs_untiled_psnr": agreement(agree),
        "seam_by_padding": {m: float(summary.loc[m, "seam"]) for m in SEAM_METHODS},
        "seam_by_bn_inference": seam_by_mode,
        "tile": cfg.tile,
        "overlap": cfg.overlap,
        "radius": cfg.radius,
        "images": n_images,
        "findings": findings,
    }


def metrics_data(
    cfg: SRGANModifiedPostprocessConfig, manifest: dict, bench: dict, n_images: int
) -> dict:
    """The ``data`` block of the metrics file: the benchmark, how many images, the centre crop."""
    return {
        "name": bench["name"],
        "proxy": manifest["proxy"],
        "source": bench["source"],
        "images": n_images,
        "eval_crop": cfg.eval_crop,
    }


def metrics_weights(
    cfg: SRGANModifiedPostprocessConfig, g_file: dict, lp: lpips.LPIPSModel
) -> dict:
    """The ``weights`` block: the VGG19 of the generator's training, and the LPIPS trunk."""
    return {"vgg19": g_file["meta"]["vgg19"], f"lpips_{cfg.lpips_net}": lp.status}
