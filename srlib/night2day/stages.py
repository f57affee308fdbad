"""One call per night→day training stage: M1 and M2 (:func:`train_two_stage`), M3 (:func:`train_end_to_end`).

Notebooks 31 and 32 are one body: M1 and M2 train the same two networks (Real-ESRGAN fine-tuning and CUT, one
config section, :class:`~srlib.night2day.config.Night2DayModelsConfig`) in opposite orders, so
``train_two_stage(cfg, order="sr_first")`` is M1 and ``order="cut_first"`` is M2 (:data:`TWO_STAGE`). Each stage
call reads the split (:func:`start_training`), trains its networks (:mod:`srlib.night2day.train`,
:mod:`srlib.night2day.m3`), writes the history CSVs and loss curves
(``results/<profile>/plots|figures/<stage>/<network>*``), a val preview of the phases and the metrics file, and
returns a :class:`StageResult` for the notebook to show.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from srlib import paths, runtime, tracking, viz
from srlib.night2day import data as night2day_data
from srlib.night2day import prepare
from srlib.night2day.config import Night2DayM3Config, Night2DayModelsConfig
from srlib.night2day.evaluate import apply_chain, measure
from srlib.night2day.m3 import nce_at_chance, train_m3_paired, train_m3_unpaired
from srlib.night2day.pairs import stack_split
from srlib.night2day.train import Trained, train_cut, train_sr

log = logging.getLogger("srlib.train_night2day")

# the learning curves of the two loss families (Real-ESRGAN's on a log scale)
CURVES = {
    "sr": (["l_g_pix", "l_g_percep", "l_g_gan", "l_d_real", "l_d_fake"], True),
    "cut": (["l_nce", "l_nce_y", "l_g_gan", "l_d_real", "l_d_fake"], False),
}


@dataclass
class TrainingRun:
    """What a training stage works on: the config, device, split manifest, train / val pairs, the decoded
    training images (``{field: uint8 (N, 3, H, W)}``) and the stage's model folder."""

    cfg: Night2DayModelsConfig | Night2DayM3Config
    device: torch.device
    manifest: dict
    train_pairs: night2day_data.Night2DayPairs
    val_pairs: night2day_data.Night2DayPairs
    train_set: dict[str, Tensor]
    run_dir: Path

    @property
    def tag(self) -> str:
        """The figure-title suffix that marks a smoke run or proxy data."""
        return viz.run_tag(self.cfg.profile, proxy=self.manifest["proxy"])

    def preview(self) -> night2day_data.Night2DaySample:
        """The first ``cfg.preview_pairs`` val pairs, stacked."""
        n = min(self.cfg.preview_pairs, len(self.val_pairs))
        return night2day_data.stack([self.val_pairs[i] for i in range(n)])

    def save_history(self, name: str, history: tracking.History, *, kind: str, title: str) -> None:
        """``plots/<stage>/<name>.csv`` and ``figures/<stage>/<name>_losses.png`` (``kind``: sr | cut)."""
        profile, stage = self.cfg.profile, self.cfg.STAGE
        history.to_csv(paths.plot_file(profile, f"{stage}/{name}.csv"))
        columns, logy = CURVES[kind]
        fig = viz.learning_curve(history.to_frame(), columns, logy=logy, title=title)
        viz.save(fig, paths.figure_file(profile, f"{stage}/{name}_losses.png"))

    def save_preview(self, columns: dict[str, Tensor], title: str) -> None:
        fig = viz.image_grid(columns, title=title + self.tag)
        viz.save(fig, paths.figure_file(self.cfg.profile, f"{self.cfg.STAGE}/val_preview.png"))

    def write_metrics(self, metrics: dict, *, weights: dict, labels: Sequence[str] = ()) -> dict:
        labels = ([self.manifest["note"]] if self.manifest["proxy"] else []) + list(labels)
        return tracking.write_metrics(
            paths.metrics_file(self.cfg.profile, self.cfg.STAGE),
            metrics,
            stage=self.cfg.STAGE,
            profile=self.cfg.profile,
            data=prepare.data_block(self.manifest, "train", len(self.train_pairs)),
            weights=weights,
            labels=labels,
        )


def start_training(
    cfg: Night2DayModelsConfig | Night2DayM3Config, fields: Sequence[str]
) -> TrainingRun:
    """Threads and device, the split manifest (``night2day_data``), train / val pairs, the training images decoded
    once (``fields`` of each pair)."""
    device = runtime.setup(cfg, seed=False)  # each trainer seeds its own networks
    manifest = prepare.read_manifest(paths.night2day_dir(cfg.profile))
    train_pairs = prepare.split_pairs(manifest, "train", max_pairs=cfg.max_train_pairs)
    val_pairs = prepare.split_pairs(manifest, "val")
    if manifest["proxy"]:
        log.info(manifest["note"])
    log.info(
        "%d training pairs, %d val pairs (%s)", len(train_pairs), len(val_pairs), manifest["name"]
    )
    train_set = stack_split(train_pairs, fields, progress=cfg.progress)
    run_dir = paths.run_dir(cfg.profile, cfg.STAGE)
    return TrainingRun(cfg, device, manifest, train_pairs, val_pairs, train_set, run_dir)


@dataclass
class StageResult:
    """A training stage's outcome: ``{name: (generator, history, info)}`` in training order, the val preview's
    per-image metrics, the metrics written and the weight statuses they depend on."""

    trained: dict[str, Trained]
    val_check: dict[str, dict[str, np.ndarray]]
    metrics: dict
    weights: dict

    def val_table(self) -> pd.DataFrame:
        """Mean of every metric per preview column (rounded for display)."""
        means = {k: {m: v.mean() for m, v in d.items()} for k, d in self.val_check.items()}
        return pd.DataFrame(means).T.round(4)

    def conclusions(self, model: str) -> list[str]:
        """The notebook's findings from this run's numbers: each network's last losses, and per metric whether the
        output beats the night input on the val preview (a first look: the test split's verdicts with confidence
        intervals are ``34_night2day_evaluate``'s)."""
        lines = []
        for name, (_, history, info) in self.trained.items():
            last = history.rows[-1]
            losses = ", ".join(f"{k} {last[k]:.3g}" for k in last if k.startswith("l_"))
            lines.append(f"{name}: {info['iters']:,} steps; last logged losses {losses}.")
            if not all(math.isfinite(last[k]) for k in last if k.startswith("l_")):
                lines.append(f"  {name}: BROKEN, a loss is not finite.")
        pre = self.val_check["pre"]
        n = len(pre["rmse"])
        for col, vals in self.val_check.items():
            if col == "pre":
                continue
            out = model if col == "post" else col
            words = []
            for m, better_low in VAL_METRICS.items():
                a, b = float(pre[m].mean()), float(vals[m].mean())
                verdict = (
                    "similar"
                    if abs(b - a) < 0.01
                    else ("better" if (b < a) == better_low else "WORSE")
                )
                words.append(f"{m.upper()} {a:.3f} -> {b:.3f} ({verdict})")
            lines.append(f"{out} vs the night input on {n} val pairs: " + ", ".join(words) + ".")
        return lines


# the preview metrics and their direction (True: lower is better)
VAL_METRICS = {"rmse": True, "mae": True, "ssim": False, "ncc": False}


def _summary(trained: Trained) -> dict:
    """A network's metrics entry: its info (less the weight statuses, recorded at the top) and the last log row."""
    _, history, info = trained
    return {k: v for k, v in info.items() if k != "weights"} | {"final": history.rows[-1]}


def _val_means(val_check: dict[str, dict[str, np.ndarray]]) -> dict:
    return {k: {m: float(v.mean()) for m, v in d.items()} for k, d in val_check.items()}


# ------------------------------------------------------------------------------------------- M1 / M2: two stages


@dataclass(frozen=True)
class Network:
    """One network of M1 / M2: ``kind`` (sr | cut), ``name`` (generator file, history CSV and figure stem), the
    training fields (``(lq, gt)`` pairs for SR, ``(x, y)`` unpaired domains for CUT), the loss-curve title."""

    kind: str
    name: str
    data: tuple[str, str]
    title: str


@dataclass(frozen=True)
class TwoStageModel:
    """M1 or M2: the stage, and its two networks in training (= inference) order."""

    model: str
    stage: str
    networks: tuple[Network, Network]
    intermediate: str  # the val preview's column for the first network's output


TWO_STAGE = {
    "sr_first": TwoStageModel(  # M1: night LR -> Real-ESRGAN -> night HR -> CUT -> day HR
        "M1",
        "night2day_m1",
        (
            Network(
                "sr", "sr_night", ("night_lq", "night_hr"), "M1 stage 1: Real-ESRGAN on night pairs"
            ),
            Network("cut", "cut_hr", ("night_hr", "day_hr"), "M1 stage 2: CUT night HR -> day HR"),
        ),
        "SR night (Intermediate)",
    ),
    "cut_first": TwoStageModel(  # M2: night LR -> CUT (64²) -> day LR -> Real-ESRGAN -> day HR
        "M2",
        "night2day_m2",
        (
            Network(
                "cut",
                "cut_lq",
                ("night_lq", "day_lq"),
                "M2 stage 1: CUT night LR -> day LR (64x64)",
            ),
            Network("sr", "sr_day", ("day_lq", "day_hr"), "M2 stage 2: Real-ESRGAN on day pairs"),
        ),
        "CUT day LR (NN x4)",
    ),
}


def two_stage_model(cfg: Night2DayModelsConfig, order: str) -> TwoStageModel:
    """The model ``order`` names, checked against the config's stage (M1's and M2's CUT sizes differ)."""
    if order not in TWO_STAGE:
        raise ValueError(f"order must be one of {sorted(TWO_STAGE)}, got {order!r}")
    spec = TWO_STAGE[order]
    if cfg.STAGE != spec.stage:
        raise ValueError(
            f"order {order!r} is {spec.model} (stage {spec.stage}), but the config is {cfg.STAGE}'s"
        )
    return spec


def train_two_stage(cfg: Night2DayModelsConfig, *, order: str) -> StageResult:
    """M1 (``order="sr_first"``) or M2 (``"cut_first"``): both networks, their curves, the val preview, metrics.

    Writes ``models/<profile>/<stage>/<name>.pth`` (M1: ``sr_night``, ``cut_hr``; M2: ``cut_lq``, ``sr_day``),
    ``plots/<stage>/<name>.csv``, ``figures/<stage>/<name>_losses.png``, ``figures/<stage>/val_preview.png`` and
    ``metrics/<stage>.json`` (one entry per network, in training order, then the val preview's Pre / Post means).
    """
    spec = two_stage_model(cfg, order)
    run = start_training(cfg, list(dict.fromkeys(f for n in spec.networks for f in n.data)))
    trained: dict[str, Trained] = {}
    for net in spec.networks:
        a, b = (run.train_set[f] for f in net.data)
        where = dict(run_dir=run.run_dir, name=net.name, device=run.device)
        if net.kind == "sr":
            trained[net.name] = train_sr(cfg, lq=a, gt=b, **where)
        else:
            trained[net.name] = train_cut(cfg, x=a, y=b, **where)
        run.save_history(net.name, trained[net.name][1], kind=net.kind, title=net.title)

    preview = run.preview()
    outs = apply_chain([g for g, _, _ in trained.values()], preview.night_lq.to(run.device))
    pre = night2day_data.pre_phase(preview.night_lq)
    middle = outs[
        0
    ].cpu()  # M1: night HR 256²; M2: day LR 64², shown nearest-neighbour x4 as the Pre phase
    if middle.shape[-1] != night2day_data.GT_SIZE:
        middle = night2day_data.pre_phase(middle)
    run.save_preview(
        {
            "night LR (NN x4)": pre,
            spec.intermediate: middle,
            f"{spec.model} output": outs[1].cpu(),
            "day ground truth": preview.day_hr,
        },
        f"{spec.model} on val pairs",
    )
    val_check = {
        "pre": measure(pre, preview.day_hr),
        "post": measure(outs[1].cpu(), preview.day_hr),
    }
    metrics = {name: _summary(t) for name, t in trained.items()} | {
        "val_preview": _val_means(val_check)
    }
    sr_name = next(n.name for n in spec.networks if n.kind == "sr")
    weights = trained[sr_name][2]["weights"]
    run.write_metrics(metrics, weights=weights)
    return StageResult(trained, val_check, metrics, weights)


# ---------------------------------------------------------------------------------------------- M3: end to end


def train_end_to_end(cfg: Night2DayM3Config) -> StageResult:
    """M3 in both modes (paired, then unpaired), their curves, the val preview and the metrics.

    Writes ``models/<profile>/night2day_m3/m3_paired.pth`` and ``m3_unpaired.pth``, their history CSVs and loss
    curves, ``val_preview.png`` and ``metrics/night2day_m3.json``; a PatchNCE that ended at chance level
    (:func:`srlib.night2day.m3.nce_at_chance`) is recorded and labelled.
    """
    run = start_training(cfg, ["night_lq", "night_hr", "day_lq", "day_hr"])
    s = run.train_set
    paired = train_m3_paired(
        cfg, lq=s["night_lq"], gt=s["day_hr"], run_dir=run.run_dir, device=run.device
    )
    run.save_history("m3_paired", paired[1], kind="sr", title="M3-paired")
    unpaired = train_m3_unpaired(
        cfg,
        night_lq=s["night_lq"],
        day_hr=s["day_hr"],
        day_lq=s["day_lq"],
        night_hr=s["night_hr"],
        run_dir=run.run_dir,
        device=run.device,
    )
    run.save_history("m3_unpaired", unpaired[1], kind="cut", title="M3-unpaired")
    at_chance = nce_at_chance(unpaired[1], cfg.num_patches)
    log.info(
        "final l_nce %.4f vs chance log(%d) = %.4f: %s",
        unpaired[1].rows[-1]["l_nce"],
        cfg.num_patches,
        math.log(cfg.num_patches),
        "AT CHANCE, PatchNCE constrains nothing (the generator's output has no patch structure yet)"
        if at_chance
        else "below chance (PatchNCE is matching patches)",
    )

    preview = run.preview()
    outs = [
        apply_chain([g], preview.night_lq.to(run.device))[0].cpu() for g in (unpaired[0], paired[0])
    ]
    pre = night2day_data.pre_phase(preview.night_lq)
    run.save_preview(
        {
            "night LR (NN x4)": pre,
            "M3-unpaired": outs[0],
            "M3-paired output": outs[1],
            "day ground truth": preview.day_hr,
        },
        "M3-paired on val pairs",
    )
    val_check = {
        "pre": measure(pre, preview.day_hr),
        "M3-unpaired": measure(outs[0], preview.day_hr),
        "M3-paired": measure(outs[1], preview.day_hr),
    }
    metrics = {
        "m3_paired": _summary(paired),
        "m3_unpaired": _summary(unpaired) | {"nce_at_chance": at_chance},
        "val_preview": _val_means(val_check),
    }
    weights = paired[2]["weights"]
    labels = ["M3-unpaired: PatchNCE ended at chance level"] if at_chance else []
    run.write_metrics(metrics, weights=weights, labels=labels)
    return StageResult({"m3_paired": paired, "m3_unpaired": unpaired}, val_check, metrics, weights)
