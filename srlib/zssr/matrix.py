"""The train x test degradation matrix (notebook 60): claim 2 of the seed essay, measured.

Three ways of making the LR from the HR, each a training degradation *and* a test degradation:

* ``bicubic`` (a): MATLAB bicubic downscaling by s, 8-bit -- the "ideal" degradation most tables use;
* ``blur`` (b): a Gaussian blur of sigma(s), then the same bicubic -- the essay's "Gaussian blur with sigma a function
  of the scale, then bicubic down-sampling". sigma(s) = 1.6 s / 3 unless ``blur_sigma`` is set: RDN's "BD" setting
  (Zhang et al. 2018: 7 x 7, sigma 1.6 at x3; IRCNN's) scaled in proportion to s, so 1.07 at x2 and 2.13 at x4;
  the kernel side is 2 ceil(3 sigma) + 1;
* ``realesrgan`` (c): Real-ESRGAN's second-order pipeline (:mod:`srlib.data.degradations_realesrgan`: blur, resize,
  noise, JPEG, twice, then the final sinc), its x4plus settings with the final size 1/s.

Conventions (as BasicSR's metrics README writes them): outputs clamped to [0, 1] and rounded to 8 bits; PSNR-Y and
SSIM-Y (BT.601 Y) with ``scale`` pixels cropped from each border; the test LR of image i under degradation d is drawn
once from a generator seeded with (seed, i, d) -- every row of the matrix (and ZSSR) sees the same LR.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import torch

from srlib import evaluation, stats, training
from srlib.data import degradations, images, splits
from srlib.data import degradations_realesrgan as rd
from srlib.data.patches import PairedPatches
from srlib.zssr.config import DEGRADATIONS

DEGRADATION_NAMES = {
    "bicubic": "(a) bicubic",
    "blur": "(b) Gaussian blur + bicubic",
    "realesrgan": "(c) Real-ESRGAN second order",
}


def trained_row(degradation: str) -> str:
    """The matrix's row name of the network trained on ``degradation``."""
    return f"trained on {degradation}"


STREAM = 7_000  # test degradations' generator stream (apart from the training crops')


def blur_sigma(scale: int, sigma: float = 0.0) -> float:
    """sigma of degradation (b): ``sigma`` when set, else 1.6 s / 3 (RDN's BD at x3, in proportion to s)."""
    return sigma if sigma > 0 else 1.6 * scale / 3


def degrade(
    gt: torch.Tensor, name: str, *, scale: int, sigma: float = 0.0, generator: torch.Generator
) -> torch.Tensor:
    """The 8-bit LR of an HR batch ``(B, 3, H, W)`` (H, W divisible by ``scale``) under degradation ``name``."""
    if name == "bicubic":
        lq = degradations.imresize(gt, 1 / scale)
    elif name == "blur":
        s = blur_sigma(scale, sigma)
        lq = degradations.blur_downscale(gt, scale, s, size=2 * math.ceil(3 * s) + 1)
    elif name == "realesrgan":
        lq = rd.degrade(gt, rd.RealESRGANDegradationConfig(scale=scale), generator=generator)
    else:
        raise ValueError(f"unknown degradation {name!r}; known: {', '.join(DEGRADATIONS)}")
    return degradations.quantize(lq.clamp(0, 1))


class DegradedPatches(PairedPatches):
    """:class:`PairedPatches` whose LR comes from :func:`degrade` (the random pipeline draws from its own stream).

    The crops are those of ``PairedPatches`` with the same seed -- so the three networks see the same HR crops in
    the same order and differ only in how their LR was made.
    """

    def __init__(
        self, images_: Sequence[torch.Tensor], *, degradation: str, sigma: float = 0.0, **kw
    ):
        super().__init__(images_, **kw)
        self.degradation, self.sigma = degradation, sigma

    def batch(self, step: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.generator(step)
        gt = torch.stack([self._crop(g) for _ in range(self.batch_size)])
        gt = gt if device is None else gt.to(device)
        g2 = training.step_generator(self.seed, step, stream=STREAM)  # the pipeline's draws (CPU)
        lq = degrade(gt.cpu(), self.degradation, scale=self.scale, sigma=self.sigma, generator=g2)
        return lq.to(gt.device), gt


def training_patches(cfg, manifest: dict, degradation: str) -> DegradedPatches:
    """Random ``gt_size`` crops of the training photos, LR by ``degradation``, flips and transposition."""
    photos = images.load_images(splits.split_files(manifest, "train"), max_side=cfg.train_max_side)
    return DegradedPatches(
        photos,
        degradation=degradation,
        sigma=cfg.blur_sigma,
        scale=cfg.scale,
        gt_size=cfg.gt_size,
        batch_size=cfg.batch_size,
        flat_threshold=cfg.flat_threshold,
        seed=cfg.seed,
    )


def test_images(cfg, manifest: dict) -> list[tuple[str, torch.Tensor]]:
    """The benchmark's HR images (first ``max_images``; centre ``bench_crop`` crops when set), mod-cropped by 4."""
    files = splits.split_files(manifest, "bench")
    files = files[: cfg.max_images] if cfg.max_images else files
    out = []
    for f in files:
        gt = images.load_image(f)
        if cfg.bench_crop:
            gt = evaluation.center_crop(gt, cfg.bench_crop)
        out.append((Path(f).stem, degradations.mod_crop(gt, 4)))  # one HR for x2 and x4
    return out


def test_pairs(
    hr: Sequence[tuple[str, torch.Tensor]],
    *,
    degradations_: Sequence[str],
    scale: int,
    sigma: float,
    seed: int,
) -> dict[str, list[tuple[str, torch.Tensor, torch.Tensor]]]:
    """``{degradation: [(name, lq, gt)]}``: image i's LR drawn once with the generator (seed, i, degradation)."""
    out: dict[str, list] = {}
    for k, name in enumerate(DEGRADATIONS):
        if name not in degradations_:
            continue
        pairs = []
        for i, (stem, gt) in enumerate(hr):
            g = training.step_generator(seed, i, stream=STREAM * (k + 2) + scale)
            pairs.append(
                (stem, degrade(gt[None], name, scale=scale, sigma=sigma, generator=g)[0], gt)
            )
        out[name] = pairs
    return out


def measure(
    upscalers: dict[str, Callable[[torch.Tensor], torch.Tensor]],
    pairs: dict[str, list[tuple[str, torch.Tensor, torch.Tensor]]],
    *,
    scale: int,
) -> pd.DataFrame:
    """One row per (row = upscaler, test degradation, image): PSNR-Y / SSIM-Y with ``scale`` border pixels off."""
    rows = []
    for test, plist in pairs.items():
        for row, up in upscalers.items():
            for stem, lq, gt in plist:
                sr = up(lq[None])
                m = evaluation.measure(sr, gt[None], crop_border=scale)
                rows.append({"row": row, "test": test, "image": stem, "scale": scale} | m)
    return pd.DataFrame(rows)


def matrix(per_image: pd.DataFrame, metric: str = "psnr_y") -> pd.DataFrame:
    """Mean ``metric`` per (row, test degradation): the matrix, rows and columns in the study's order."""
    wide = per_image.pivot_table(index="row", columns="test", values=metric, aggfunc="mean")
    order = [r for r in dict.fromkeys(per_image["row"]) if r in wide.index]
    return wide.loc[order, [c for c in DEGRADATIONS if c in wide.columns]]


def diagonal_claim(
    per_image: pd.DataFrame, *, trained: Sequence[str], n_boot: int, seed: int
) -> pd.DataFrame:
    """Claim 2 per test degradation: the network trained on it against each network trained on another.

    For test degradation t and each other training degradation o, the paired comparison over images of
    PSNR-Y(trained on t) - PSNR-Y(trained on o) on t's test images, with its bootstrap CI; and the "any" row, the
    per-image mean over every off-diagonal cell of the column.
    """
    out = []
    rows = {d: trained_row(d) for d in trained}
    for t in trained:
        col = per_image[(per_image.test == t) & per_image.row.isin(rows.values())]
        if col.empty:
            continue
        wide = col.pivot_table(index="image", columns="row", values="psnr_y", aggfunc="first")
        others = [o for o in trained if o != t and rows[o] in wide.columns]
        pairs = [(o, wide[rows[o]]) for o in others] + [
            ("any", wide[[rows[o] for o in others]].mean(axis=1))
        ]
        for o, b in pairs:
            res = stats.paired_comparison(
                wide[rows[t]].to_numpy(), b.to_numpy(), n_boot=n_boot, seed=seed
            )
            out.append({"test": t, "diagonal": t, "against": o} | res)
    return pd.DataFrame(out)


def verdict_claim2(claim: pd.DataFrame) -> str:
    """Claim 2 in one phrase, from each column's diagonal against the mean of its off-diagonal cells.

    "holds" when every column's diagonal is better (CI above 0 and the rank test below 0.05); "does not hold" where
    a column's off-diagonal networks do better or the CI says they are similar; otherwise "inconclusive".
    """
    anyrows = list(claim[claim.against == "any"].itertuples())
    if not anyrows:
        return "untested"
    cell = lambda r: f"{r.test} ({r.mean_diff:+.2f} dB, CI {r.ci_low:+.2f} .. {r.ci_high:+.2f})"  # noqa: E731
    against = [cell(r) for r in anyrows if r.verdict in ("B better", "similar")]
    unsure = [cell(r) for r in anyrows if r.verdict == "inconclusive"]
    if against:
        return "does not hold for " + ", ".join(against)
    if unsure:
        return (
            "inconclusive for "
            + ", ".join(unsure)
            + " (the rank test cannot separate them on these images)"
        )
    return "holds"


# ------------------------------------------------------------------------------------------- the three networks

BICUBIC_SKIP_LABEL = (
    "bicubic skip: each SRResNet learns a residual over bicubic (not Ledig's architecture)"
)
X4PLUS = "realesrgan_x4plus"
RELEASE = "realesrgan-x4plus"  # srlib.convert.releases.MODELS name


def build_network(cfg):
    """The reduced SRResNet every training degradation trains (the same width, depth and initialisation)."""
    from srlib.models.srgan import SRResNet

    torch.manual_seed(cfg.seed)  # the same initial weights for (a), (b) and (c)
    return SRResNet(num_feat=cfg.num_feat, num_block=cfg.num_block, scale=cfg.scale,
                    bicubic_skip=cfg.bicubic_skip)  # fmt: skip


def train_network(cfg, patches: DegradedPatches, *, run: Path, device):
    """``iters`` pixel-MSE updates (SRResNet-MSE, Ledig §3.2) of a fresh network; ``run/<degradation>/``."""
    from srlib.srgan.train import fit

    g = build_network(cfg)
    hist = fit(g=g, data=patches, iters=cfg.iters, run_dir=run / patches.degradation, lr_g=cfg.lr_g,
               betas=(cfg.beta1, 0.999), w_pix=1.0, name=patches.degradation, log_interval=cfg.log_interval,
               ckpt_interval=cfg.ckpt_interval, device=device, progress=cfg.progress)  # fmt: skip
    from srlib import models

    models.save_generator(run / f"{patches.degradation}.pth", g,
                          meta={"degradation": patches.degradation, "iters": cfg.iters})  # fmt: skip
    return g.eval(), hist


def network_upscalers(nets: dict, device) -> dict[str, Callable]:
    """``{"trained on <d>": upscaler}`` for the trained networks, then bicubic."""
    ups = {trained_row(d): evaluation.model_upscaler(g, device) for d, g in nets.items()}
    return ups | {"bicubic": evaluation.bicubic_upscaler(next(iter(nets.values())).scale)}


def x4_upscalers(cfg, device) -> tuple[dict[str, Callable], dict]:
    """The x4 block's rows: bicubic and the released Real-ESRGAN x4plus (``realesrgan_weights``), and its status."""
    from srlib.convert import releases
    from srlib.inference import tiling

    model, status = releases.load_model(RELEASE, cfg.realesrgan_weights)
    ups = {"bicubic": evaluation.bicubic_upscaler(4),
           X4PLUS: tiling.upscaler(model, tile=cfg.tile, overlap=16, device=device, precision="fp32")
           if cfg.tile else evaluation.model_upscaler(model, device)}  # fmt: skip
    return ups, {X4PLUS: status}


def train_all(cfg, manifest: dict, *, run: Path, device) -> tuple[dict, dict]:
    """One network per training degradation, in ``train_degradations`` order: ``({d: net}, {d: history})``."""
    nets, hists = {}, {}
    for d in cfg.train_degradations:
        nets[d], hists[d] = train_network(
            cfg, training_patches(cfg, manifest, d), run=run, device=device
        )
    return nets, hists


# ------------------------------------------------------------------------------------------------ the results


def run_labels(cfg, weights: dict) -> list[str]:
    """The caveats on every number of this stage."""
    labels = [f"(b) is a Gaussian blur of sigma {blur_sigma(cfg.scale, cfg.blur_sigma):.3g} at x{cfg.scale} "
              "(1.6 s / 3 unless blur_sigma is set: RDN's BD setting scaled, our choice), then bicubic"]  # fmt: skip
    if cfg.bicubic_skip:
        labels.append(BICUBIC_SKIP_LABEL)
    if cfg.bench_crop:
        labels.append(f"test images: {cfg.bench_crop}^2 centre crops of the benchmark photos")
    status = weights.get(X4PLUS)
    if status is not None:
        from srlib.realesrgan.benchmark import x4plus_state

        labels.append(f"x4 block: Real-ESRGAN x4plus ({x4plus_state(status)})")
    return labels + ([cfg.run_label] if cfg.run_label else [])


def final_losses(hists: dict, *, log_interval: int) -> dict:
    """Each network's last interval's pixel loss, its steps and the minutes it took."""
    from srlib import tracking

    return {d: tracking.last_values(h, ("l_g_pix",)) | {"iters": int(h.to_frame().step.max()),
                                                "minutes": tracking.train_minutes(h, log_interval=log_interval)}
            for d, h in hists.items()}  # fmt: skip


def write_results(cfg, *, per_image: pd.DataFrame, per_image_x4: pd.DataFrame | None, claim: pd.DataFrame,
                  hists: dict, weights: dict, labels: list[str], bench: dict) -> dict:  # fmt: skip
    """The matrices (PSNR-Y and SSIM-Y, CSV + markdown), per-image values, claim 2's comparisons, the metrics file."""
    from srlib import paths, tracking

    per_image.to_csv(paths.table_file(cfg.profile, "degradation/per_image.csv"), index=False)
    claim.to_csv(paths.table_file(cfg.profile, "degradation/claim2.csv"), index=False)
    blocks = {f"x{cfg.scale}": per_image} | (
        {"x4": per_image_x4} if per_image_x4 is not None else {}
    )
    numbers: dict = {"images": int(per_image["image"].nunique()), "blocks": {}}
    for block, df in blocks.items():
        if block == "x4" and cfg.scale != 4:
            df.to_csv(paths.table_file(cfg.profile, "degradation/per_image_x4.csv"), index=False)
        for metric in ("psnr_y", "ssim_y"):
            m = matrix(df, metric)
            m.to_csv(paths.table_file(cfg.profile, f"degradation/matrix_{block}_{metric}.csv"))
            paths.table_file(cfg.profile, f"degradation/matrix_{block}_{metric}.md").write_text(
                evaluation.markdown_table(
                    m.reset_index(), floatfmt=".2f" if metric == "psnr_y" else ".4f"
                )
            )
            numbers["blocks"].setdefault(block, {})[metric] = {r: {c: float(v) for c, v in row.items()}
                                                               for r, row in m.iterrows()}  # fmt: skip
    numbers["claim2"] = {f"{r['test']}_vs_{r['against']}": {k: r[k] for k in ("mean_diff", "ci_low", "ci_high",
                         "p_wilcoxon", "verdict", "n")} for r in claim.to_dict("records")}  # fmt: skip
    numbers["claim2_verdict"] = verdict_claim2(claim)
    numbers["training"] = final_losses(hists, log_interval=cfg.log_interval)
    for d, h in hists.items():
        h.to_csv(paths.plot_file(cfg.profile, f"degradation/{d}.csv"))
    return tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE), numbers, stage=cfg.STAGE, profile=cfg.profile,
        data={"name": f"train: {bench['train']}; test: {bench['bench']}", "proxy": False,
              "images": int(per_image["image"].nunique())},
        weights=weights, labels=labels,
        config={k: getattr(cfg, k) for k in ("scale train_degradations test_degradations blur_sigma gt_size "
                "batch_size num_feat num_block bicubic_skip iters lr_g bench_crop seed").split()},
    )  # fmt: skip


def conclusions(record: dict) -> list[str]:
    """Claim 2 in words, from this run's numbers: each column's diagonal against its off-diagonal cells."""
    m = record["metrics"]
    lines = []
    for key, r in m["claim2"].items():
        test, against = key.split("_vs_")
        if against == "any":
            lines.append(
                f"test {DEGRADATION_NAMES[test]}: trained on it vs trained on the others (mean), PSNR-Y "
                f"{r['mean_diff']:+.2f} dB (95 % CI {r['ci_low']:+.2f} .. {r['ci_high']:+.2f}, n = {r['n']}): "
                f"{r['verdict']}"
            )
    lines.append(
        f"claim 2 (a model trained on one degradation does poorly on others): {m['claim2_verdict']}"
    )
    return lines


def curves(hists: dict) -> pd.DataFrame:
    """``step`` and one ``l_g_pix`` column per training degradation (for one learning-curve figure)."""
    frames = [
        h.to_frame()[["step", "l_g_pix"]].rename(columns={"l_g_pix": d}) for d, h in hists.items()
    ]
    out = frames[0]
    for f in frames[1:]:
        out = out.merge(f, on="step", how="outer")
    return out


def read_per_image(profile: str) -> pd.DataFrame:
    """Notebook 60's per-image table (``tables/degradation/per_image.csv``)."""
    from srlib import paths

    return pd.read_csv(paths.table_file(profile, "degradation/per_image.csv"))
