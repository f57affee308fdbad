"""Night→day evaluation: every phase of M1, M2 and M3 against the day ground truth, Tables 1–3, paired verdicts.

Abedjooy & Ebrahimi compare each **phase** of a model with the day HR ground truth (256²) on the test pairs:

=============  ==========================================================================  =================
phase          image                                                                       in the paper
=============  ==========================================================================  =================
Pre            night LR 64², nearest-neighbour ×4 (:func:`srlib.night2day.data.pre_phase`)       M1, M2
Intermediate   M1: Real-ESRGAN(night LR) = night HR; M2: CUT(night LR) = day LR, NN ×4     M1 only
Post           M1: CUT(SR night); M2: Real-ESRGAN(CUT(night LR)); M3: G(night LR)          M1, M2
=============  ==========================================================================  =================

Conventions (the paper gives none beyond the metric names, so they are written down here): images in [0, 1], RGB,
8-bit quantised outputs, no border crop; RMSE and MAE on the [0, 1] scale; SSIM = Wang et al. 2004 (11×11 Gaussian
σ 1.5, K1 0.01, K2 0.03, L = 255 on the 8-bit levels), mean over the three channels; NCC = Pearson r over all pixels
and channels (:mod:`srlib.metrics.pixel`). FID is one number per phase (Inception pool3 statistics of the phase's images vs
the day ground truths, :func:`srlib.metrics.fid.fid`): it has no per-image values, so it gets no confidence interval.

The stage (notebook 34) starts with :func:`start_evaluation` (an :class:`EvaluationRun`: the config, the test pairs,
the trained pipelines, their weight statuses and labels) and measures with :func:`phases_on_test_split` and
:func:`fid_on_test_split`; the tables, verdicts, metrics file and findings are :mod:`srlib.night2day.report`, the
figures :mod:`srlib.night2day.figures`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from srlib import evaluation, models, paths, runtime, viz
from srlib.data import degradations
from srlib.data.images import load_image
from srlib.metrics import fid as metrics_fid
from srlib.metrics import inception
from srlib.metrics import pixel as metrics
from srlib.models.cut import ResnetGenerator, translate
from srlib.models.esrgan import load_realesrgan_x4plus
from srlib.night2day import data as night2day_data
from srlib.night2day import prepare
from srlib.night2day.config import Night2DayEvaluateConfig

log = logging.getLogger("srlib.night2day_evaluate")

METRICS = ("rmse", "mae", "ssim", "ncc")
# the paper's Tables 1-3 report these phases; M2's Intermediate and all M3 rows are ours
PAPER_PHASES = {"M1": ("Pre", "Intermediate", "Post"), "M2": ("Pre", "Post")}

# stage -> {file: role}; the notebooks 31-33 write these generator files (srlib.models.save_generator)
GENERATOR_FILES = {
    "night2day_m1": {"sr_night.pth": "sr_night", "cut_hr.pth": "cut_hr"},
    "night2day_m2": {"cut_lq.pth": "cut_lq", "sr_day.pth": "sr_day"},
    "night2day_m3": {"m3_paired.pth": "M3-paired", "m3_unpaired.pth": "M3-unpaired"},
}


@dataclass
class Pipelines:
    """The trained networks: M1 = (sr_night, cut_hr), M2 = (cut_lq, sr_day), M3 = one generator per mode."""

    sr_night: nn.Module
    cut_hr: nn.Module
    cut_lq: nn.Module
    sr_day: nn.Module
    m3: dict[str, nn.Module] = field(default_factory=dict)
    meta: dict[str, dict] = field(
        default_factory=dict
    )  # role -> the generator file's meta (weights, data)
    # the released RealESRGAN_x4plus as it is, when M1 / M2 started from it: "M1-pretrained" / "M2-pretrained" run
    # it in place of their fine-tuned SR network ("pretrained, not fine-tuned"), beside the fine-tuned M1 / M2
    pretrained_sr: nn.Module | None = None

    def models(self) -> list[str]:
        pretrained = ["M1-pretrained", "M2-pretrained"] if self.pretrained_sr is not None else []
        return ["M1", "M2", *pretrained, *self.m3]


def load_pipelines(
    profile: str, device: torch.device | str = "cpu", *, with_m3: bool = True
) -> Pipelines:
    """Load every generator file of the M1 / M2 (/ M3) stages; a missing file raises naming it and its stage."""
    nets, meta = {}, {}
    for stage, files in GENERATOR_FILES.items():
        if stage == "night2day_m3" and not with_m3:
            continue
        for name, role in files.items():
            path = paths.run_dir(profile, stage) / name
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} not found: run the {stage} stage first (dvc repro {stage})"
                )
            g, state = models.load_generator(path)
            nets[role] = g.to(device).eval()
            meta[role] = state.get("meta", {})
    m3 = {k: nets.pop(k) for k in ("M3-paired", "M3-unpaired") if k in nets}
    pretrained = None
    if any(started_from_release(meta[role]) for role in ("sr_night", "sr_day")):
        pretrained, status = load_realesrgan_x4plus("pretrained")
        pretrained = pretrained.to(device).eval()
        meta["pretrained_sr"] = {"weights": {"realesrgan_x4plus": status.as_dict()}}
    return Pipelines(**nets, m3=m3, meta=meta, pretrained_sr=pretrained)


def started_from_release(meta: dict) -> bool:
    """Was this SR generator file fine-tuned from the released RealESRGAN_x4plus (official or converted)?"""
    return meta.get("weights", {}).get("realesrgan_x4plus", {}).get("source") == "file"


@dataclass
class EvaluationRun:
    """What the evaluation stage works on: the config, device, split manifest, test pairs, the trained pipelines,
    the weight statuses of every generator file (``"<role>:<key>"``), the labels of the run, the tables folder."""

    cfg: Night2DayEvaluateConfig
    device: torch.device
    manifest: dict
    test_pairs: night2day_data.Night2DayPairs
    pipelines: Pipelines
    weights: dict[str, dict]
    labels: list[str]
    tables: Path

    @property
    def tag(self) -> str:
        """The figure-title suffix: `` (SMOKE)`` for a plumbing run, `` (PROXY)`` on proxy data, else ``""``."""
        return viz.run_tag(self.cfg.profile, proxy=self.manifest["proxy"])

    def figure(self, name: str) -> Path:
        return paths.figure_file(self.cfg.profile, f"{self.cfg.STAGE}/{name}.png")


def start_evaluation(cfg: Night2DayEvaluateConfig) -> EvaluationRun:
    """Threads and device, the test split (the first ``cfg.max_test_pairs`` when > 0), every trained generator.

    The labels are the proxy note (on proxy data) and one line per generator weight that was not pretrained.
    """
    device = runtime.setup(cfg, seed=False)  # each trainer seeds its own networks
    manifest = prepare.read_manifest(paths.night2day_dir(cfg.profile))
    test_pairs = prepare.split_pairs(manifest, "test", max_pairs=cfg.max_test_pairs)
    pipelines = load_pipelines(cfg.profile, device)
    weights = {
        f"{role}:{k}": v
        for role, meta in pipelines.meta.items()
        for k, v in meta.get("weights", {}).items()
    }
    labels = ([manifest["note"]] if manifest["proxy"] else []) + [
        f"{k} not pretrained: {v['message']}" for k, v in weights.items() if not v["comparable"]
    ]
    tables = paths.profile_results(cfg.profile) / "tables" / "night2day"
    tables.mkdir(parents=True, exist_ok=True)
    for line in [f"{len(test_pairs)} test pairs ({manifest['name']})", *labels]:
        log.info(line)
    return EvaluationRun(cfg, device, manifest, test_pairs, pipelines, weights, labels, tables)


def _q(x: Tensor) -> Tensor:
    return degradations.quantize(x.clamp(0, 1))


@torch.no_grad()
def apply_chain(nets: Sequence[nn.Module], x: Tensor) -> list[Tensor]:
    """Run networks one after the other on [0, 1] images, 8-bit quantising every output; returns each output.

    A CUT generator runs through :func:`srlib.models.cut.translate` ([-1, 1] inside, any size); an SR network
    takes [0, 1] directly.
    """
    outs = []
    for net in nets:
        x = _q(translate(net, x) if isinstance(net, ResnetGenerator) else net(x))
        outs.append(x)
    return outs


@torch.no_grad()
def run_phases(p: Pipelines, night_lq: Tensor) -> dict[tuple[str, str], Tensor]:
    """``{(model, phase): (B, 3, 256, 256)}`` for a batch of night LR images; every output 8-bit quantised.

    The Pre phase is one tensor shared by all models (it does not depend on them).
    """
    pre = night2day_data.pre_phase(night_lq)
    out: dict[tuple[str, str], Tensor] = {("M1", "Pre"): pre}
    out["M1", "Intermediate"], out["M1", "Post"] = apply_chain([p.sr_night, p.cut_hr], night_lq)
    day_lq, out["M2", "Post"] = apply_chain([p.cut_lq, p.sr_day], night_lq)
    out["M2", "Pre"] = pre
    out["M2", "Intermediate"] = night2day_data.pre_phase(day_lq)
    out["M2", "Post"] = out.pop(("M2", "Post"))  # keep the Pre, Intermediate, Post order
    if p.pretrained_sr is not None:  # the release as it is, in place of the fine-tuned SR networks
        night_hr, day_hr = apply_chain([p.pretrained_sr, p.cut_hr], night_lq)
        out["M1-pretrained", "Pre"] = pre
        out["M1-pretrained", "Intermediate"], out["M1-pretrained", "Post"] = night_hr, day_hr
        out["M2-pretrained", "Pre"] = pre
        out["M2-pretrained", "Intermediate"] = night2day_data.pre_phase(day_lq)
        (out["M2-pretrained", "Post"],) = apply_chain([p.pretrained_sr], day_lq)
    for name, g in p.m3.items():
        out[name, "Pre"] = pre
        (out[name, "Post"],) = apply_chain([g], night_lq)
    return out


def measure(out: Tensor, gt: Tensor) -> dict[str, np.ndarray]:
    """Per-image RMSE, MAE, SSIM, NCC of ``out`` vs ``gt`` (conventions in the module docstring)."""
    return {
        "rmse": metrics.rmse(out, gt).numpy(),
        "mae": metrics.mae(out, gt).numpy(),
        "ssim": metrics.ssim(out, gt).numpy(),
        "ncc": metrics.ncc(out, gt).numpy(),
    }


@dataclass
class PhaseImages:
    """Every phase's test outputs (uint8, ``(N, 3, 256, 256)``), the ground truths and the night inputs."""

    images: dict[tuple[str, str], Tensor]
    gt: Tensor
    night_lq: Tensor
    names: list[str]

    def float(self, key: tuple[str, str] | str, idx: Sequence[int] | None = None) -> Tensor:
        t = self.gt if key == "gt" else self.night_lq if key == "night_lq" else self.images[key]
        return (t if idx is None else t[list(idx)]).float() / 255


# An output whose every image has a pixel standard deviation below this ([0, 1] scale: 5 of 255 levels) is
# near-constant: the network collapsed to one flat colour and its metrics measure that flat image. A collapsed
# smoke network's near-black output has 0.004-0.011 (one or two levels of quantisation noise); the darkest real
# input (the synthetic-night Pre phase) has 0.04 and day photos ~0.2.
CONSTANT_STD = 0.02


def constant_outputs(ph: PhaseImages, tol: float = CONSTANT_STD) -> list[str]:
    """The ``model/phase`` keys whose output is near-constant on every test image (pixel std over all pixels and
    channels below ``tol``)."""
    out = []
    for (model, phase), imgs in ph.images.items():
        std = (imgs.float() / 255).flatten(1).std(dim=1)
        if len(std) and bool((std < tol).all()):
            out.append(f"{model}/{phase}")
    return out


def _u8(x: Tensor) -> Tensor:
    return (x * 255).round().to(torch.uint8).cpu()


def evaluate_phases(
    p: Pipelines,
    pairs: night2day_data.Night2DayPairs,
    *,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> tuple[pd.DataFrame, PhaseImages]:
    """Run every phase on the test pairs: per-image metrics (one row per image × model × phase) and the images."""
    rows, gts, lqs = [], [], []
    chunks: dict[tuple[str, str], list[Tensor]] = {}
    names = [Path(f).stem for f in pairs.files]
    for start in tqdm(
        range(0, len(pairs), batch_size), desc="night2day test", disable=not progress
    ):
        idx = range(start, min(start + batch_size, len(pairs)))
        batch = night2day_data.stack([pairs[i] for i in idx])
        outs = run_phases(p, batch.night_lq.to(device))
        measured: dict[
            int, dict
        ] = {}  # the shared Pre tensor is measured and stored once (as M1/Pre)
        for (model, phase), out in outs.items():
            if id(out) not in measured:
                measured[id(out)] = measure(out.float().cpu(), batch.day_hr)
                chunks.setdefault((model, phase), []).append(_u8(out))
            vals = measured[id(out)]
            for j, i in enumerate(idx):
                rows.append(
                    {"image": names[i], "model": model, "phase": phase, "key": f"{model}/{phase}"}
                    | {m: float(vals[m][j]) for m in METRICS}
                )
        gts.append(_u8(batch.day_hr))
        lqs.append(_u8(batch.night_lq))
    images = {key: torch.cat(parts) for key, parts in chunks.items()}
    for model in p.models():  # the Pre phase is one tensor for every model
        images[model, "Pre"] = images["M1", "Pre"]
    order = list(dict.fromkeys((r["model"], r["phase"]) for r in rows))
    images = {k: images[k] for k in order}
    return pd.DataFrame(rows), PhaseImages(images, torch.cat(gts), torch.cat(lqs), names)


def fid_per_phase(
    ph: PhaseImages,
    *,
    dims: int = 2048,
    mode: str = "auto",
    device: torch.device | str = "cpu",
    seed: int = 0,
    batch_size: int = 50,
) -> pd.DataFrame:
    """FID and KID of every phase's images vs the day ground truths (Pre computed once, shared by all models).

    One set of Inception features per phase serves both: FID (one value, biased upward at small N) and KID
    (unbiased MMD², mean and std over 100 subsets of min(1000, N) images, :func:`srlib.metrics.fid.kid_from_features`).
    """

    def features(t: Tensor):
        batches = (t[i : i + batch_size].float() / 255 for i in range(0, len(t), batch_size))
        return inception.inception_features(
            batches, dims=dims, mode=mode, device=device, seed=seed
        )[0]

    gt_feats = features(ph.gt)
    gt_mu, gt_sigma = gt_feats.mean(0), np.cov(gt_feats, rowvar=False)
    done: dict[int, dict] = {}
    rows = []
    for (model, phase), imgs in ph.images.items():
        if id(imgs) not in done:
            feats = features(imgs)
            value = metrics_fid.frechet_distance(
                feats.mean(0), np.cov(feats, rowvar=False), gt_mu, gt_sigma
            )
            kid, kid_std = metrics_fid.kid_from_features(feats, gt_feats, seed=seed)
            done[id(imgs)] = {"fid": value, "kid": kid, "kid_std": kid_std, "n": len(feats)}
        rows.append({"model": model, "phase": phase, "key": f"{model}/{phase}"} | done[id(imgs)])
    _, status = inception.fid_inception(dims, mode, device=device, seed=seed)
    notes = (
        [] if status.comparable else [f"FID from a RANDOM-INITIALISED Inception ({status.message})"]
    )
    if dims != 2048:
        notes.append(
            f"FID on {dims}-dim Inception features (the paper's FID uses pool3, 2048): not comparable"
        )
    if len(ph.gt) <= dims:
        notes.append(
            f"N = {len(ph.gt)} images <= {dims} dims: singular covariances, FID biased and unstable"
        )
    if not status.comparable:
        notes.append(
            "a random-init Inception maps every image to nearly the same features: FID is ~0 for every "
            "phase and says nothing about realism; Post-vs-Pre on FID is not assessed"
        )
    out = pd.DataFrame(rows)
    out.attrs["weights"], out.attrs["notes"] = status.as_dict(), notes
    return out


def phases_on_test_split(run: EvaluationRun) -> tuple[pd.DataFrame, PhaseImages]:
    """:func:`evaluate_phases` on the run's test pairs, ``cfg.batch_size`` images per forward pass."""
    return evaluate_phases(
        run.pipelines,
        run.test_pairs,
        batch_size=run.cfg.batch_size,
        device=run.device,
        progress=run.cfg.progress,
    )


def fid_on_test_split(run: EvaluationRun, ph: PhaseImages) -> pd.DataFrame:
    """:func:`fid_per_phase` with the run's Inception (``cfg.fid_dims`` features, ``cfg.fid_weights``)."""
    return fid_per_phase(
        ph, dims=run.cfg.fid_dims, mode=run.cfg.fid_weights, device=run.device, seed=run.cfg.seed
    )


# -------------------------------------------------------------------------------------------- real night photos


def night_photo_inputs(files: Sequence[str | Path]) -> tuple[list[str], Tensor, Tensor]:
    """Real night photos for the qualitative figure: central square → 256² (MATLAB bicubic) → the paper's LR.

    Returns ``(names, night_hr (N, 3, 256, 256), night_lq (N, 3, 64, 64))``. They have no day ground truth.
    """
    names, hrs = [], []
    for f in files:
        img = load_image(paths.resolve(f))
        img = evaluation.center_crop(img, min(img.shape[-2:]))
        hrs.append(night2day_data.to_gt_size(img).clamp(0, 1))
        names.append(Path(f).stem)
    hr = torch.stack(hrs)
    return names, hr, night2day_data.make_lq(hr)
