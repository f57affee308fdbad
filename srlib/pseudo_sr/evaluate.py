"""The blind-SR table (notebook 53): every engine of srlib on one test set degraded by X's hidden family, x4.

Protocol (BasicSR's metrics conventions, as the rest of srlib):

* test set: each benchmark HR (centre ``bench_crop``, mod-cropped) and its LR drawn once from the Real-ESRGAN
  second-order family, seeded per image (:func:`srlib.pseudo_sr.data.test_set`): the family X was made with, never
  the same draws. No row sees the test LR's degradation parameters; the rows marked "KNOWS the test family" were
  trained on pairs from the same family (an upper reference, not blind SR);
* outputs clamped to [0, 1] and rounded to 8 bits; PSNR-Y / SSIM-Y (BT.601 Y) with ``scale`` border pixels off;
  LPIPS v0.1 (its trunk's weight state in every label); NIQE (no reference, same border); KID of each row's outputs
  against the ground-truth set (FID Inception's weight state in the labels);
* paired comparisons of pseudo-SR against every other row, per metric, over the images both have (bootstrap 95 % CI
  and Wilcoxon, :func:`srlib.stats.compare_models`); ZSSR runs on the first ``zssr_images`` only, so its comparisons
  say their ``n``;
* a row whose PSNR-Y is more than :data:`COLLAPSE_DB` below bicubic is labelled COLLAPSED everywhere.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import torch

from srlib import evaluation, models, paths, runtime, stats, tracking, viz
from srlib.config import ParamsError
from srlib.data import degradations, splits
from srlib.metrics import fid, inception, lpips, niqe
from srlib.pseudo_sr import data as pdata
from srlib.pseudo_sr import train as ptrain

if TYPE_CHECKING:
    from srlib.pseudo_sr.config import BlindSREvaluateConfig

log = logging.getLogger("srlib.pseudo_sr")

OURS, BICUBIC, ZSSR, X4PLUS = "pseudo", "bicubic", "zssr", "x4plus"
METRICS = ("psnr_y", "ssim_y", "lpips", "niqe")
DECIMALS = {"psnr_y": 2, "ssim_y": 4, "lpips": 4, "niqe": 2}
COLLAPSE_DB = (
    3.0  # a row this far below bicubic (PSNR-Y) is labelled COLLAPSED (the project's rule)
)
MATCHED = ("scale",)  # must equal pseudo_sr_train's
NAMES = (
    {BICUBIC: "bicubic"}
    | {f"srresnet_{d}": name for d, name in ptrain.BASELINE_ROWS.items()}
    | {ZSSR: "ZSSR (trained on the test image, bicubic kernel assumed)", X4PLUS: "Real-ESRGAN x4plus (released)",
       ptrain.FINETUNE: ptrain.FINETUNE_ROW}
    | ptrain.ROWS
)  # fmt: skip
LPIPS_WORDS = {"A better": "pseudo-SR better", "B better": "the other better", "similar": "similar",
               "inconclusive": "inconclusive"}  # fmt: skip
NOT_BLIND = ("srresnet_realesrgan", ptrain.FINETUNE)  # trained on pairs of the test family


@dataclass
class BlindRun:
    """What the stage's steps share: the config, the test pairs, the photos, the networks and weight statuses."""

    cfg: BlindSREvaluateConfig
    device: torch.device
    train_record: dict
    pairs: list
    photos: list
    nets: dict
    lpips: lpips.LPIPSModel
    weights: dict


def train_record(cfg: BlindSREvaluateConfig) -> dict:
    """Notebook 52's full metrics record; refuses a config whose scale differs from the training's."""
    return tracking.upstream_record(cfg, "pseudo_sr_train", MATCHED)


def load_networks(cfg: BlindSREvaluateConfig, record: dict, device) -> dict:
    """``{row: net or {"g_xy", "u"}}`` from ``models/<profile>/pseudo_sr_train/`` (what notebook 52 left)."""
    run = paths.run_dir(cfg.profile, "pseudo_sr_train")
    c = record["config"]

    def load(name):
        path = run / f"{name}.pth"
        if not path.is_file():
            raise ParamsError(
                f"blind_sr_evaluate: {paths.shown(path)} is missing: rerun pseudo_sr_train"
            )
        return models.load_generator(path)[0].to(device)

    nets: dict = {f"srresnet_{d}": load(d) for d in c["baselines"]}
    if c["finetune_iters"]:
        nets[ptrain.FINETUNE] = load(ptrain.FINETUNE)
    for v in c["variants"]:
        nets[v] = {"g_xy": load(f"{v}_g_xy"), "u": load(f"{v}_u")}
    return nets


def start(cfg: BlindSREvaluateConfig) -> BlindRun:
    """Threads and device, the degraded test pairs, the photos, every network, LPIPS and the KID Inception."""
    from srlib.convert import releases
    from srlib.zssr import matrix

    device = runtime.setup(cfg, seed=True)
    record = train_record(cfg)
    manifest = splits.read_manifest(paths.data_manifest(cfg.profile))
    pairs = pdata.test_set(cfg, manifest)
    nets = load_networks(cfg, record, device)
    weights = {}
    if cfg.scale == 4:
        x4, weights[X4PLUS] = releases.load_model(matrix.RELEASE, cfg.realesrgan_weights)
        nets[X4PLUS] = x4.to(device)
    lp = lpips.load_lpips(cfg.lpips_net, cfg.lpips_weights, device=device, seed=cfg.seed)
    _, weights["fid_inception"] = inception.fid_inception(
        cfg.kid_dims, cfg.fid_weights, device=device, seed=cfg.seed
    )
    weights[f"lpips_{cfg.lpips_net}"] = lp.status
    return BlindRun(cfg, device, record, pairs, pdata.photo_inputs(cfg), nets, lp, weights)


def row_order(run: BlindRun) -> list[str]:
    """The table's rows: bicubic, the paired baselines, ZSSR, x4plus (released, fine-tuned), pseudo-SR, ablations."""
    have = set(run.nets) | {BICUBIC, ZSSR}
    return [r for r in NAMES if r in have]


def upscaler(run: BlindRun, row: str):
    """``lq (1, 3, h, w) -> sr`` for every row but ZSSR (trained per image: :func:`zssr_upscale`)."""
    if row == BICUBIC:
        return evaluation.bicubic_upscaler(run.cfg.scale)
    net = run.nets[row]
    if isinstance(net, dict):  # the test path x -> G_xy -> U
        g_xy, u = net["g_xy"].eval(), net["u"].eval()
        return lambda lq: u(g_xy(lq.to(run.device))).cpu()
    if row == X4PLUS and run.cfg.tile:
        from srlib.inference import tiling

        return tiling.upscaler(
            net, tile=run.cfg.tile, overlap=16, device=run.device, precision="fp32"
        )
    return evaluation.model_upscaler(net.eval(), run.device)


def zssr_config(cfg: BlindSREvaluateConfig, lr_side: int):
    """ZSSR's config for this table: upstream ``configs.py`` values, x``scale`` in one jump, the CPU caps."""
    from srlib.zssr.config import ZSSRConfig

    crop = min(cfg.zssr_crop_size, lr_side) // cfg.scale * cfg.scale
    return ZSSRConfig(profile=cfg.profile, seed=cfg.seed, scale=cfg.scale, max_iters=cfg.zssr_max_iters,
                      crop_size=crop, noise_std=cfg.zssr_noise_std, test_degradations=("bicubic",),
                      kernels=("bicubic",))  # fmt: skip


def zssr_upscale(run: BlindRun, lq: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """ZSSR trained on this LR alone with the bicubic kernel assumed (it cannot know the test family), then its
    final test (8-map median, back-projection). Returns the SR and the run's iterations and stop reason."""
    from srlib.zssr import internal as zi

    zcfg = zssr_config(run.cfg, min(lq.shape[-2:]))
    res = zi.train_zssr(lq, cfg=zcfg, degradation="bicubic", seed=run.cfg.seed, device=run.device)
    down = zi.downscaler("bicubic", scale=zcfg.scale, sigma=0.0)
    sr = zi.zssr_upscale(
        res.net, lq, scale=zcfg.scale, down=down, ensemble=zcfg.ensemble, bp_iters=zcfg.bp_iters
    )
    return sr[None].cpu(), {"iters": res.iters, "stop": res.stop}


def _uint8(img: torch.Tensor) -> torch.Tensor:
    return img.clamp(0, 1).mul(255).round().to(torch.uint8)


def measure(run: BlindRun) -> tuple[pd.DataFrame, dict, dict]:
    """Every row on every test image: ``(per_image, outputs, zssr_runs)``.

    ``per_image``: one row per (model, image) with PSNR-Y, SSIM-Y, LPIPS, NIQE and seconds; ``outputs``: the 8-bit
    SR ``{model: {image: (3, H, W) uint8}}`` (``hr``: the ground truths) for KID and the figures.
    """
    cfg = run.cfg
    rows, outputs, zruns = [], {r: {} for r in [*row_order(run), "hr"]}, {}
    ups = {r: upscaler(run, r) for r in row_order(run) if r != ZSSR}
    n_zssr = cfg.zssr_images or len(run.pairs)
    for i, (name, lq, gt) in enumerate(run.pairs):
        outputs["hr"][name] = _uint8(gt)
        line = []
        for row in row_order(run):
            if row == ZSSR and i >= n_zssr:
                continue
            t0 = time.perf_counter()
            if row == ZSSR:
                sr, zruns[name] = zssr_upscale(run, lq)
            else:
                with torch.no_grad():
                    sr = ups[row](lq[None])
            sr = degradations.quantize(sr.clamp(0, 1))
            seconds = time.perf_counter() - t0
            m = evaluation.measure(sr, gt[None], crop_border=cfg.scale)
            m["lpips"] = float(run.lpips(sr, gt[None])[0])
            m["niqe"] = niqe.niqe_or_nan(sr[0], cfg.scale, f"{name} ({row})")
            rows.append({"model": row, "image": name, "seconds": seconds} | m)
            outputs[row][name] = _uint8(sr[0])
            line.append(f"{row} {m['psnr_y']:.2f}")
        log.info("%s: %s", name, "; ".join(line))
    return pd.DataFrame(rows), outputs, zruns


def kid_scores(run: BlindRun, outputs: dict) -> dict[str, dict]:
    """KID of each row's outputs against the ground truths of the same images."""
    cfg, out = run.cfg, {}
    for row in row_order(run):
        names = list(outputs[row])
        out[row] = fid.kid((outputs[row][n].float().div(255) for n in names),
                           (outputs["hr"][n].float().div(255) for n in names), dims=cfg.kid_dims,
                           mode=cfg.fid_weights, device=run.device, seed=cfg.seed, n_subsets=cfg.kid_subsets,
                           subset_size=cfg.kid_subset_size)  # fmt: skip
    return out


def summarize(run: BlindRun, per_image: pd.DataFrame, kid: dict) -> pd.DataFrame:
    """One row per model: each metric's mean and bootstrap 95 % CI, KID and its std, images, seconds, flags."""
    cfg, out = run.cfg, []
    bic = per_image[per_image.model == BICUBIC]["psnr_y"].mean()
    for row in row_order(run):
        sub = per_image[per_image.model == row]
        r = {
            "model": row,
            "method": NAMES[row],
            "images": int(len(sub)),
            "blind": row not in NOT_BLIND,
        }
        for metric in METRICS:
            b = stats.bootstrap_mean(sub[metric], n_boot=cfg.n_boot, seed=cfg.seed)
            r |= {
                metric: b["mean"],
                f"{metric}_ci_low": b["ci_low"],
                f"{metric}_ci_high": b["ci_high"],
            }
        r |= {
            "kid": kid[row]["value"],
            "kid_std": kid[row]["std"],
            "seconds_per_image": float(sub.seconds.mean()),
        }
        r["collapsed"] = bool(r["psnr_y"] < bic - COLLAPSE_DB)
        out.append(r)
    return pd.DataFrame(out).set_index("model")


def paired(run: BlindRun, per_image: pd.DataFrame) -> pd.DataFrame:
    """pseudo-SR minus every other row, per metric, on the images both have (bootstrap CI, Wilcoxon).

    A metric with fewer than two scored pairs (NIQE on crops smaller than its blocks) is kept as ``untestable``.
    """
    cfg, out = run.cfg, []
    for row in [r for r in row_order(run) if r != OURS]:
        for m in METRICS:
            try:
                out.append(
                    stats.compare_models(per_image, m, OURS, row, n_boot=cfg.n_boot, seed=cfg.seed)
                )
            except ValueError:
                out.append({"metric": m, "a": OURS, "b": row, "n": 0, "verdict": "untestable"})
    return pd.DataFrame(out)


@torch.no_grad()
def photo_outputs(run: BlindRun) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """The real photos (no ground truth): each blind row's output (ZSSR left out: CPU time) and NIQE per output."""
    cols: dict[str, list] = {}
    rows = []
    for name, lq in run.photos:
        cols.setdefault("input (nearest)", []).append(
            torch.nn.functional.interpolate(lq[None], scale_factor=run.cfg.scale, mode="nearest")[0]
        )
        for row in [r for r in row_order(run) if r != ZSSR]:
            sr = degradations.quantize(upscaler(run, row)(lq[None]).clamp(0, 1))[0]
            cols.setdefault(row, []).append(sr)
            rows.append(
                {
                    "photo": name,
                    "model": row,
                    "niqe": niqe.niqe_or_nan(sr, run.cfg.scale, f"{name} ({row})"),
                }
            )
    return {k: torch.stack(v) for k, v in cols.items()}, pd.DataFrame(rows)


def sample_columns(run: BlindRun, outputs: dict, *, n: int = 2) -> dict[str, torch.Tensor]:
    """The first ``n`` test images: LR (nearest), each row's 8-bit output, the ground truth."""
    names = list(outputs["hr"])[:n]
    lq = {name: lq for name, lq, _ in run.pairs}
    cols = {"LR (nearest)": torch.stack([torch.nn.functional.interpolate(lq[k][None], scale_factor=run.cfg.scale,
                                                                         mode="nearest")[0] for k in names])}  # fmt: skip
    for row in row_order(run):
        if all(k in outputs[row] for k in names):
            cols[row] = torch.stack([outputs[row][k].float() / 255 for k in names])
    return cols | {"ground truth": torch.stack([outputs["hr"][k].float() / 255 for k in names])}


# ------------------------------------------------------------------------------------------------ the results


def run_labels(run: BlindRun, summary: pd.DataFrame) -> list[str]:
    """The caveats on every number of this stage."""
    from srlib.realesrgan.benchmark import weight_state, x4plus_state

    cfg = run.cfg
    labels = [
        f"test LR: the hidden Real-ESRGAN second-order family at x{cfg.scale}, drawn once per image (seeded); "
        "PROXY test set: benchmark photos, not NTIRE 2018 track 4",  # fmt: skip
        f"LPIPS-{cfg.lpips_net}: {weight_state(run.lpips.status)}",
        "rows marked KNOWS the test family were trained on pairs from it: an upper reference, not blind SR",
    ]
    if X4PLUS in run.weights:
        labels.append(f"Real-ESRGAN x4plus: {x4plus_state(run.weights[X4PLUS])}")
    if cfg.bench_crop:
        labels.append(f"test images: {cfg.bench_crop}^2 centre crops")
    if summary["niqe"].isna().all():
        labels.append(
            "NIQE: no test image is large enough (two 96^2 blocks after the border); scored on the photos only"
        )
    n_zssr = int(summary.loc[ZSSR, "images"]) if ZSSR in summary.index else 0
    labels.append(
        f"ZSSR: {n_zssr} images, at most {cfg.zssr_max_iters} iterations (ZSSR: 3000), bicubic kernel"
    )
    labels += [f"COLLAPSED: {NAMES[r]} ({summary.loc[r, 'psnr_y']:.2f} dB, more than {COLLAPSE_DB:g} dB below "
               "bicubic)" for r in summary.index[summary.collapsed]]  # fmt: skip
    train = run.train_record.get("labels", [])
    return (
        labels + [t for t in train if t not in labels] + ([cfg.run_label] if cfg.run_label else [])
    )


def table(summary: pd.DataFrame) -> pd.DataFrame:
    """The committed table: method, images, each metric as ``mean [low, high]``, KID x 10^3 +- its std over subsets
    (none when one subset holds every image)."""
    out = []
    for _row, r in summary.iterrows():
        name = r["method"] + (" — COLLAPSED" if r["collapsed"] else "")
        cells = {"method": name, "blind": "yes" if r["blind"] else "no", "images": int(r["images"])}
        for m, d in DECIMALS.items():
            cells[m] = f"{r[m]:.{d}f} [{r[f'{m}_ci_low']:.{d}f}, {r[f'{m}_ci_high']:.{d}f}]"
        spread = f" ± {1e3 * r['kid_std']:.2f}" if r["kid_std"] > 0 else " (one subset: all images)"
        cells["kid_x1e3"] = f"{1e3 * r['kid']:.2f}{spread}"
        out.append(cells)
    return pd.DataFrame(out)


def _res(p: pd.DataFrame, row: str, metric: str) -> dict | None:
    sub = p[(p.b == row) & (p.metric == metric)]
    return sub.iloc[0].to_dict() if len(sub) else None


def verdict(summary: pd.DataFrame, p: pd.DataFrame) -> dict[str, str]:
    """The three questions of the issue, answered from the paired PSNR-Y / LPIPS comparisons."""
    out = {}
    for key, row in (("vs_ideal", "srresnet_bicubic"), ("vs_zssr", ZSSR), ("vs_x4plus", X4PLUS),
                     ("vs_direct", "direct"), ("vs_two_way", "two_way")):  # fmt: skip
        r, lp = _res(p, row, "psnr_y"), _res(p, row, "lpips")
        if r is None or r["verdict"] == "untestable":
            continue
        lp = lp if lp and lp["verdict"] != "untestable" else None
        word = {"A better": "BEATS", "B better": "LOSES TO", "similar": "is not separable from",
                "inconclusive": "cannot be told from"}[r["verdict"]]  # fmt: skip
        note = (
            " (a COLLAPSED row: says nothing about the method)"
            if summary.loc[row, "collapsed"]
            else ""
        )
        out[key] = (f"pseudo-SR {word} {NAMES[row]}{note} on PSNR-Y: {r['mean_diff']:+.2f} dB "
                    f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}], n = {r['n']}, Wilcoxon p = {r['p_wilcoxon']:.3g}"
                    + (f"; LPIPS {lp['mean_diff']:+.4f} [{lp['ci_low']:+.4f}, {lp['ci_high']:+.4f}] "
                       f"({LPIPS_WORDS[lp['verdict']]})" if lp else ""))  # fmt: skip
    return out


def write_results(run: BlindRun, *, per_image: pd.DataFrame, summary: pd.DataFrame, p: pd.DataFrame,
                  photo_niqe: pd.DataFrame, zruns: dict, labels: list[str]) -> dict:  # fmt: skip
    """Tables (CSV + markdown) under ``tables/blind_sr/`` and ``metrics/blind_sr_evaluate.json``."""
    cfg = run.cfg
    per_image.to_csv(paths.table_file(cfg.profile, "blind_sr/per_image.csv"), index=False)
    summary.to_csv(paths.table_file(cfg.profile, "blind_sr/summary.csv"))
    p.to_csv(paths.table_file(cfg.profile, "blind_sr/paired_vs_pseudo.csv"), index=False)
    photo_niqe.to_csv(paths.table_file(cfg.profile, "blind_sr/photos_niqe.csv"), index=False)
    paths.table_file(cfg.profile, "blind_sr/table.md").write_text(
        evaluation.markdown_table(table(summary))
    )
    rows = {r: {m: float(summary.loc[r, m]) for m in (*METRICS, "kid", "kid_std")}
            | {"method": NAMES[r], "images": int(summary.loc[r, "images"]), "collapsed": bool(summary.loc[r, "collapsed"]),
               "blind": bool(summary.loc[r, "blind"])} for r in summary.index}  # fmt: skip
    pairs = {f"{OURS}_vs_{r['b']}_{r['metric']}": {k: r[k] for k in ("mean_diff", "ci_low", "ci_high", "p_wilcoxon",
             "verdict", "n")} for r in p.to_dict("records")}  # fmt: skip
    numbers = {"images": len(run.pairs), "rows": rows, "paired": pairs, "verdict": verdict(summary, p),
               "zssr_iters": {k: v["iters"] for k, v in zruns.items()},
               "photos_niqe": {m: float(g.niqe.mean()) for m, g in photo_niqe.groupby("model")} if len(photo_niqe) else {}}  # fmt: skip
    return tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE), numbers, stage=cfg.STAGE, profile=cfg.profile,
        data={"name": "benchmark photos degraded by the hidden Real-ESRGAN family (PROXY for NTIRE 2018 track 4)"
              if cfg.test_dir == "manifest" else cfg.test_dir, "proxy": cfg.test_dir == "manifest",
              "images": len(run.pairs), "photos": [n for n, _ in run.photos]},
        weights=run.weights, labels=labels,
        config={k: getattr(cfg, k) for k in ("scale bench_crop max_images zssr_images zssr_max_iters zssr_crop_size "
                "zssr_noise_std lpips_net kid_dims seed").split()},
    )  # fmt: skip


def conclusions(record: dict) -> list[str]:
    """The verdict in words, from this run's numbers: pseudo-SR against the ideal model, ZSSR, x4plus, ablations."""
    m = record["metrics"]
    best = max(m["rows"], key=lambda r: m["rows"][r]["psnr_y"])
    lpips_best = min(m["rows"], key=lambda r: m["rows"][r]["lpips"])
    lines = [m["verdict"][k] for k in ("vs_ideal", "vs_zssr", "vs_x4plus", "vs_direct", "vs_two_way")
             if k in m["verdict"]]  # fmt: skip
    lines.append(
        f"highest mean PSNR-Y: {NAMES[best]} ({m['rows'][best]['psnr_y']:.2f} dB); lowest LPIPS: "
        f"{NAMES[lpips_best]} ({m['rows'][lpips_best]['lpips']:.4f}; the trunk's state is in the labels)"
    )
    if X4PLUS in m["rows"]:
        rank = sorted(m["rows"], key=lambda r: -m["rows"][r]["psnr_y"]).index(X4PLUS) + 1
        lines.append(
            f"the released Real-ESRGAN x4plus ranks {rank} of {len(m['rows'])} on PSNR-Y "
            f"({m['rows'][X4PLUS]['psnr_y']:.2f} dB) and has NIQE {m['rows'][X4PLUS]['niqe']:.2f}"
        )
    return lines


def psnr_figure(per_image: pd.DataFrame, *, title: str):
    """Per-image PSNR-Y of every row (:func:`srlib.viz.metric_bars`)."""
    return viz.metric_bars(per_image, "psnr_y", title=title, unit="dB")


def title_tag(profile: str, summary: pd.DataFrame) -> str:
    """The figure-title suffix: SMOKE / PROXY, and COLLAPSED rows when there are any."""
    notes = (
        [f"COLLAPSED: {', '.join(summary.index[summary.collapsed])}"]
        if summary.collapsed.any()
        else []
    )
    return viz.run_tag(profile, proxy=True, notes=notes)
