"""Training pseudo-supervised unpaired SR (Maeda 2020) -- explicit ``g_step`` / ``u_step`` / ``d_step`` and ``fit`` --
its two ablations, and the paired baselines that the blind-SR table compares it with.

One iteration (Maeda §3; the unofficial ``pseudo_model.py`` ``train_step``), with y a clean HR crop, y↓ its bicubic
LR, x an unrelated degraded LR crop and z a noise map:

* ``g_step`` (G_{Y↓→X} and G_{X→Y↓} together, D's and U frozen):
  ``fake_x = G_yx(y↓, z)``, ``rec = G_xy(fake_x)`` (the pseudo-clean LR), ``clean_x = G_xy(x)``;
  ``L = L_adv(D_X, fake_x) + L_adv(D_{Y↓}, clean_x) + w_cyc |rec - y↓|_1 + w_idt |G_xy(y↓) - y↓|_1
  + w_geo |clean_x - GE(G_xy, x)|_1 + w_dsr L_adv(D_{X↑}, U(rec))``. The cycle is **one way** (y↓ -> X -> Y↓):
  nothing asks x -> Y↓ -> X to return to x, so G_xy may remove what G_yx cannot recreate. The last term passes
  *through* U (frozen) into both LR generators: it makes the pseudo pairs' SR look like the real inputs' SR.
  ``two_way`` adds ``w_cyc |G_yx(clean_x, z2) - x|_1`` (CycleGAN's second cycle).
* ``u_step`` (U only): ``pseudo`` / ``two_way``: ``w_u_pix |U(rec.detach()) - y|_1`` -- the pseudo-supervision: the
  pair (rec, y) is paired by construction. ``direct`` (the approach the paper argues against): U sees only real
  inputs, ``U(clean_x.detach())``, and learns from a GAN loss on its output against clean HR (D_HR), no pixel loss.
* ``d_step`` (LSGAN, every D): D_X real x vs fake_x; D_{Y↓} real y↓ vs clean_x; D_{X↑} "real" U(clean_x) vs
  "fake" U(rec); ``direct`` also D_HR real y vs U(clean_x), with ``r1_gamma / 2`` R1 on y.

All randomness of a step -- the crops, X's hidden degradation, the noise -- is a function of ``(seed, step)``, so a
resumed run repeats an uninterrupted one bit for bit (:func:`srlib.training.resumable_loop`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from srlib import distributed, losses, models, tracking, training
from srlib.models import pseudo_sr as pm
from srlib.models.srgan import SRResNet

if TYPE_CHECKING:
    from srlib.pseudo_sr.config import PseudoSRTrainConfig
    from srlib.pseudo_sr.data import UnpairedPatches

log = logging.getLogger("srlib.train")

LR_PART = ("g_yx", "g_xy")
DISCRIMINATORS = ("d_x", "d_y", "d_sr")
ROWS = {
    "pseudo": "pseudo-SR (ours)",
    "direct": "pseudo-SR ablation: direct (GAN-only U, no pseudo pairs)",
    "two_way": "pseudo-SR ablation: two-way cycle",
}
BASELINE_ROWS = {
    "bicubic": "SRResNet, bicubic pairs (ideal degradation)",
    "blur": "SRResNet, blur + bicubic pairs",
    "realesrgan": "SRResNet, Real-ESRGAN pairs (KNOWS the test family: not blind)",
}
FINETUNE = "finetune_x4plus"
FINETUNE_ROW = "Real-ESRGAN x4plus, fine-tuned on Y (KNOWS the test family: not blind)"


def build_networks(cfg: PseudoSRTrainConfig, variant: str) -> dict[str, nn.Module]:
    """The six networks (seven for ``direct``), initialised from ``seed``: every variant starts from the same weights."""
    torch.manual_seed(cfg.seed)
    nets: dict[str, nn.Module] = {
        "g_yx": pm.DegradationGenerator(num_feat=cfg.gyx_num_feat, num_block=cfg.gyx_num_block, z_feat=cfg.z_feat),
        "g_xy": pm.CleaningGenerator(num_feat=cfg.gxy_num_feat, num_block=cfg.gxy_num_block),
        "u": SRResNet(num_feat=cfg.u_num_feat, num_block=cfg.u_num_block, scale=cfg.scale,
                      bicubic_skip=cfg.u_bicubic_skip),
        "d_x": pm.PatchDiscriminator(num_feat=cfg.d_num_feat, num_layers=cfg.d_num_layers, scale=1),
        "d_y": pm.PatchDiscriminator(num_feat=cfg.d_num_feat, num_layers=cfg.d_num_layers, scale=1),
        "d_sr": pm.PatchDiscriminator(num_feat=cfg.d_num_feat, num_layers=cfg.d_num_layers, scale=cfg.scale),
    }  # fmt: skip
    if variant == "direct":
        nets["d_hr"] = pm.PatchDiscriminator(
            num_feat=cfg.d_num_feat, num_layers=cfg.d_num_layers, scale=cfg.scale
        )
    return nets


def build_optimizers(
    cfg: PseudoSRTrainConfig, nets: dict[str, nn.Module]
) -> dict[str, torch.optim.Optimizer]:
    """Adam per network: the LR part and the D's (lr_g / lr_d, beta1), U (lr_u, beta1_u); betas[1] 0.999."""

    def adam(name):
        lr, b1 = (
            (cfg.lr_u, cfg.beta1_u)
            if name == "u"
            else (cfg.lr_g if name in LR_PART else cfg.lr_d, cfg.beta1)
        )
        return torch.optim.Adam(nets[name].parameters(), lr=lr, betas=(b1, 0.999))

    return {f"opt_{k}": adam(k) for k in nets}


def lr_at(base: float, step: int, *, iters: int, milestones, decay: float) -> float:
    """MultiStepLR as a function of the step: ``base * decay^(milestones passed)``, milestones as fractions."""
    return base * decay ** sum(step > round(m * iters) for m in milestones)


def g_step(
    nets: dict[str, nn.Module], opts: dict, batch: dict, *, w: dict, two_way: bool
) -> tuple[dict, dict]:
    """One update of G_yx and G_xy (D's and U frozen); returns the logs and the detached LR tensors of this step."""
    g_yx, g_xy, u = nets["g_yx"], nets["g_xy"], nets["u"]
    y_down, x = batch["y_down"], batch["x"]
    with training.frozen(nets["d_x"]), training.frozen(nets["d_y"]), training.frozen(nets["d_sr"]), \
            training.frozen(u):  # fmt: skip
        fake_x = g_yx(y_down, batch["z"])  # (B, 3, s, s): clean LR made to look degraded
        rec = g_xy(fake_x)  # (B, 3, s, s): the pseudo-clean LR, U's pseudo-pair input
        clean_x = g_xy(x)  # (B, 3, s, s): the test path's first half on a real degraded input
        terms = {
            "l_gan_yx": losses.lsgan_g_loss(nets["d_x"](fake_x)),
            "l_gan_xy": losses.lsgan_g_loss(nets["d_y"](clean_x)),
            "l_cyc": w["cyc"] * F.l1_loss(rec, y_down),
            "l_idt": w["idt"] * F.l1_loss(g_xy(y_down), y_down),
            "l_geo": w["geo"] * F.l1_loss(clean_x, pm.geometric_ensemble(g_xy, x)),
        }
        sr_rec = u(rec)  # through frozen U: the D_{X up} term reaches the LR generators only
        if w["dsr"]:
            terms["l_dsr"] = w["dsr"] * losses.lsgan_g_loss(nets["d_sr"](sr_rec))
        if two_way:
            terms["l_cyc_x"] = w["cyc"] * F.l1_loss(g_yx(clean_x, batch["z2"]), x)
        total = sum(terms.values())
        for k in LR_PART:
            opts[f"opt_{k}"].zero_grad(set_to_none=True)
        total.backward()
        for k in LR_PART:
            opts[f"opt_{k}"].step()
    logs = {k: v.item() for k, v in terms.items()} | {"l_g_total": total.item()}
    return logs, {"fake_x": fake_x.detach(), "rec": rec.detach(), "clean_x": clean_x.detach(),
                  "sr_rec": sr_rec.detach()}  # fmt: skip


def u_step(nets: dict[str, nn.Module], opts: dict, batch: dict, outs: dict, *, variant: str,
           w_u_pix: float) -> dict:  # fmt: skip
    """One update of U: L1 on the pseudo pair ``(rec, y)``, or (``direct``) a GAN loss on ``U(clean_x)`` only."""
    u, opt = nets["u"], opts["opt_u"]
    opt.zero_grad(set_to_none=True)
    if variant == "direct":
        with training.frozen(nets["d_hr"]):
            loss = losses.lsgan_g_loss(nets["d_hr"](u(outs["clean_x"])))
        name = "l_u_gan"
    else:
        loss = w_u_pix * F.l1_loss(u(outs["rec"]), batch["y"])
        name = "l_u_pix"
    loss.backward()
    opt.step()
    return {name: loss.item()}


def d_step(
    nets: dict[str, nn.Module], opts: dict, batch: dict, outs: dict, *, r1_gamma: float
) -> dict:
    """One LSGAN update of every discriminator on this step's detached fakes (``d_hr`` with R1 when present)."""
    with torch.no_grad():
        sr_x = nets["u"](outs["clean_x"])  # the SR of a real input: D_{X up}'s "real"
    pairs = {
        "d_x": (batch["x"], outs["fake_x"]),
        "d_y": (batch["y_down"], outs["clean_x"]),
        "d_sr": (sr_x, outs["sr_rec"]),
    }
    terms = {}
    for name, (real, fake) in pairs.items():
        l_real, l_fake = losses.lsgan_d_loss(nets[name](real), nets[name](fake))
        terms[f"l_{name}"] = 0.5 * (l_real + l_fake)
    if "d_hr" in nets:
        y = batch["y"].detach().requires_grad_(r1_gamma > 0)
        real_logits = nets["d_hr"](y)
        l_real, l_fake = losses.lsgan_d_loss(real_logits, nets["d_hr"](sr_x))
        terms["l_d_hr"] = 0.5 * (l_real + l_fake)
        if r1_gamma:
            terms["l_d_hr_r1"] = r1_gamma / 2 * losses.r1_penalty(real_logits, [y])
    names = [k for k in nets if k.startswith("d_")]
    for k in names:
        opts[f"opt_{k}"].zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    for k in names:
        opts[f"opt_{k}"].step()
    return {k: v.item() for k, v in terms.items()}


def loss_weights(cfg: PseudoSRTrainConfig) -> dict[str, float]:
    return {"cyc": cfg.w_cyc, "idt": cfg.w_idt, "geo": cfg.w_geo, "dsr": cfg.w_dsr}


def fit(cfg: PseudoSRTrainConfig, *, variant: str, data: UnpairedPatches, run_dir: str | Path, device,
        resume: bool = True) -> tuple[dict[str, nn.Module], tracking.History]:  # fmt: skip
    """``iters`` steps of ``variant`` (pseudo | direct | two_way) with checkpoints and resume in ``run_dir``."""
    nets = {k: v.to(device).train() for k, v in build_networks(cfg, variant).items()}
    opts = build_optimizers(cfg, nets)
    w = loss_weights(cfg)
    run = {
        k: distributed.wrap(v, device) for k, v in nets.items()
    }  # DDP under torchrun; checkpoints keep nets

    def step_fn(step: int):
        lr = {k: lr_at(cfg.lr_g if k in LR_PART else cfg.lr_d, step, iters=cfg.iters,
                       milestones=cfg.lr_milestones, decay=cfg.lr_decay) for k in nets if k != "u"}  # fmt: skip
        lr["u"] = lr_at(
            cfg.lr_u, step, iters=cfg.iters, milestones=cfg.lr_milestones, decay=cfg.lr_decay_u
        )
        for k, v in lr.items():
            training.set_lr(opts[f"opt_{k}"], v)
        batch = distributed.shard_dict(
            data.batch(step, device)
        )  # this rank's slice of the global batch
        logs, outs = g_step(run, opts, batch, w=w, two_way=variant == "two_way")
        logs |= u_step(run, opts, batch, outs, variant=variant, w_u_pix=cfg.w_u_pix)
        logs |= d_step(
            run, opts, batch, outs, r1_gamma=cfg.r1_gamma if variant == "direct" else 0.0
        )
        return logs, {"lr_g": lr["g_xy"], "lr_u": lr["u"]}

    record = {k: getattr(cfg, k) for k in ("scale", "gt_size", "batch_size", "w_cyc", "w_idt", "w_geo", "w_dsr",
                                           "w_u_pix", "lr_g", "lr_d", "lr_u", "seed")}  # fmt: skip
    hist = training.resumable_loop(
        step_fn=step_fn, state=nets | opts, iters=cfg.iters, run_dir=run_dir, name=variant, logger=log,
        log_interval=cfg.log_interval, ckpt_interval=cfg.ckpt_interval, resume=resume, progress=cfg.progress,
        config=record | {"variant": variant},
    )  # fmt: skip
    return nets, hist


def train_variants(
    cfg: PseudoSRTrainConfig, data: UnpairedPatches, *, run: Path, device
) -> tuple[dict, dict]:
    """Each of ``variants``: its fit (resume state in ``run/<variant>/``), then ``run/<variant>_{u,g_xy,g_yx}.pth``
    (the test path is G_xy then U)."""
    nets, hists = {}, {}
    for v in cfg.variants:
        n, hists[v] = fit(cfg, variant=v, data=data, run_dir=run / v, device=device)
        meta = {"variant": v, "iters": cfg.iters, "row": ROWS[v]}
        for k in ("u", "g_xy", "g_yx"):
            save_net(run / f"{v}_{k}.pth", n[k], meta=meta)
        nets[v] = {k: n[k].eval() for k in ("u", "g_xy", "g_yx")}
    return nets, hists


def save_net(path: Path, net: nn.Module, *, meta: dict) -> Path:
    """A generator file: SRResNet through :func:`srlib.models.save_generator`, the LR generators alike."""
    return models.save_generator(path, net, meta=meta)


def baseline_config(cfg: PseudoSRTrainConfig):
    """The degradation matrix's config for the paired rows: U's architecture, Y's crops, the same budget."""
    from srlib.zssr.config import DegradationMatrixConfig

    return DegradationMatrixConfig(
        profile=cfg.profile, seed=cfg.seed, progress=cfg.progress, scale=cfg.scale, gt_size=cfg.gt_size,
        batch_size=cfg.batch_size, flat_threshold=cfg.flat_threshold, num_feat=cfg.u_num_feat,
        num_block=cfg.u_num_block, bicubic_skip=cfg.u_bicubic_skip, iters=cfg.iters, lr_g=cfg.lr_u,
        beta1=cfg.beta1_u, log_interval=cfg.log_interval, ckpt_interval=cfg.ckpt_interval,
    )  # fmt: skip


def train_baselines(cfg: PseudoSRTrainConfig, y_images, *, run: Path, device) -> tuple[dict, dict]:
    """SRResNet-MSE on (degraded Y, Y) pairs per ``baselines`` degradation (the matrix's recipe at this scale):
    ``run/<degradation>.pth``."""
    from srlib.zssr import matrix

    mcfg = baseline_config(cfg)
    nets, hists = {}, {}
    for d in cfg.baselines:
        patches = matrix.DegradedPatches(y_images, degradation=d, scale=cfg.scale, gt_size=cfg.gt_size,
                                         batch_size=cfg.batch_size, flat_threshold=cfg.flat_threshold,
                                         seed=cfg.seed)  # fmt: skip
        nets[d], hists[d] = matrix.train_network(mcfg, patches, run=run, device=device)
    return nets, hists


def finetune_x4plus(cfg: PseudoSRTrainConfig, y_images, *, run: Path, device):
    """The released x4plus, ``finetune_iters`` pixel-MSE steps on (Real-ESRGAN-degraded Y, Y): srlib's SRGAN engine's
    pixel phase (Real-ESRNet fine-tunes with L1; ours, labelled). Returns ``(net, history, weight status)``."""
    from srlib.convert import releases
    from srlib.srgan.train import fit as pixel_fit
    from srlib.zssr import matrix

    g, status = releases.load_model(matrix.RELEASE, cfg.realesrgan_weights)
    patches = matrix.DegradedPatches(y_images, degradation="realesrgan", scale=4, gt_size=cfg.gt_size,
                                     batch_size=cfg.batch_size, flat_threshold=cfg.flat_threshold, seed=cfg.seed)  # fmt: skip
    hist = pixel_fit(g=g, data=patches, iters=cfg.finetune_iters, run_dir=run / FINETUNE, lr_g=cfg.finetune_lr,
                     betas=(0.9, 0.99), w_pix=1.0, name=FINETUNE, log_interval=cfg.log_interval,
                     ckpt_interval=cfg.ckpt_interval, device=device, progress=cfg.progress)  # fmt: skip
    models.save_generator(
        run / f"{FINETUNE}.pth", g, meta={"iters": cfg.finetune_iters, "from": status.key}
    )
    return g.eval(), hist, status


# ------------------------------------------------------------------------------------------------ the results

LOSS_KEYS = ("l_gan_yx", "l_gan_xy", "l_cyc", "l_cyc_x", "l_idt", "l_geo", "l_dsr", "l_u_pix", "l_u_gan",
             "l_d_x", "l_d_y", "l_d_sr", "l_d_hr", "l_g_pix")  # fmt: skip


def run_labels(cfg: PseudoSRTrainConfig, weights: dict) -> list[str]:
    """The caveats on every number of this stage."""
    labels = []
    if cfg.x_dir == "manifest":
        labels.append("PROXY X: degraded LR synthesised from photos (the hidden Real-ESRGAN second-order family), "
                      "not real-world LR; Y: clean photos of other scenes")  # fmt: skip
    if cfg.u_bicubic_skip:
        labels.append(
            "U and the SRResNet baselines learn a residual over bicubic (not SRResNet's architecture)"
        )
    labels.append("G_{X->Y down}: EDSR-style residual blocks for the unofficial code's RCAN (ours)")
    if cfg.finetune_iters:
        from srlib.realesrgan.benchmark import x4plus_state

        labels.append(f"x4plus fine-tune: {cfg.finetune_iters} pixel-MSE steps from the release "
                      f"({x4plus_state(weights[FINETUNE])})")  # fmt: skip
    return labels + ([cfg.run_label] if cfg.run_label else [])


def final_metrics(cfg: PseudoSRTrainConfig, hists: dict[str, tracking.History]) -> dict:
    """Each run's last-interval losses, its steps and minutes (the budget, measured), and the total."""
    out = {name: tracking.last_values(h, LOSS_KEYS) | {"iters": int(h.to_frame().step.max()),
                                              "minutes": tracking.train_minutes(h, log_interval=cfg.log_interval)}
           for name, h in hists.items()}  # fmt: skip
    return out | {"train_minutes": float(sum(v["minutes"] for v in out.values()))}


def write_results(cfg: PseudoSRTrainConfig, hists: dict[str, tracking.History], *, info: dict, labels: list[str],
                  weights: dict) -> dict:  # fmt: skip
    """Every history as a ``dvc plots`` CSV (``plots/pseudo_sr/<run>.csv``) and ``metrics/pseudo_sr_train.json``."""
    from srlib import paths

    for name, hist in hists.items():
        hist.to_csv(paths.plot_file(cfg.profile, f"pseudo_sr/{name}.csv"))
    proxy = cfg.proxy or cfg.x_dir == "manifest"
    return tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE), final_metrics(cfg, hists), stage=cfg.STAGE, profile=cfg.profile,
        data={"name": "photo halves, X synthesised (PROXY for real-world LR)" if proxy else "X / Y folders",
              "proxy": proxy, "y_images": info["y"]["images"], "x_images": info["x"]["images"],
              "x_made_by": info["x"]["made_by"]},
        weights=weights, labels=labels,
        config={k: getattr(cfg, k) for k in (
            "scale gt_size batch_size gyx_num_feat gyx_num_block z_feat gxy_num_feat gxy_num_block u_num_feat "
            "u_num_block u_bicubic_skip d_num_feat d_num_layers w_cyc w_idt w_geo w_dsr w_u_pix r1_gamma iters lr_g "
            "lr_d beta1 lr_u beta1_u lr_milestones lr_decay lr_decay_u variants baselines finetune_iters seed").split()},
    )  # fmt: skip


def conclusions(record: dict) -> list[str]:
    """What the training curves say, from this run's numbers (one interval's means, no CI: notebook 53 tests)."""
    m = record["metrics"]
    lines = [f"training took {m['train_minutes']:.1f} min in all"]
    for v in ("pseudo", "direct", "two_way"):
        if v in m:
            r = m[v]
            u = (
                f"U pixel L1 {r['l_u_pix']:.4f}"
                if "l_u_pix" in r
                else f"U GAN loss {r.get('l_u_gan', float('nan')):.3f}"
            )
            lines.append(f"{v}: {r['iters']} steps in {r['minutes']:.1f} min; one-way cycle L1 {r['l_cyc']:.4f}, "
                         f"identity {r['l_idt']:.4f}, {u}; D_X {r['l_d_x']:.3f}, D_Y {r['l_d_y']:.3f} "
                         "(LSGAN: 0.25 when D cannot tell)")  # fmt: skip
    for d in BASELINE_ROWS:
        if d in m:
            lines.append(f"{BASELINE_ROWS[d]}: pixel MSE {m[d].get('l_g_pix', float('nan')):.5f} after "
                         f"{m[d]['iters']} steps ({m[d]['minutes']:.1f} min)")  # fmt: skip
    if FINETUNE in m:
        lines.append(f"x4plus fine-tune: pixel MSE {m[FINETUNE].get('l_g_pix', float('nan')):.5f} after "
                     f"{m[FINETUNE]['iters']} steps ({m[FINETUNE]['minutes']:.1f} min)")  # fmt: skip
    return lines


def curves(hists: dict[str, tracking.History], key: str) -> pd.DataFrame:
    """``step`` and one ``key`` column per run that logged it (one learning-curve figure)."""
    frames = [h.to_frame()[["step", key]].rename(columns={key: n}) for n, h in hists.items()
              if key in h.to_frame()]  # fmt: skip
    out = frames[0]
    for f in frames[1:]:
        out = out.merge(f, on="step", how="outer")
    return out


@torch.no_grad()
def lr_samples(
    nets: dict, data: UnpairedPatches, *, step: int = 0, n: int = 4
) -> dict[str, torch.Tensor]:
    """What the LR part learned, on one batch: y down, G_yx(y down, z), a real x, G_xy(x) and the pseudo pair's SR."""
    b = data.batch(step, device=next(nets["u"].parameters()).device)
    fake_x = nets["g_yx"](b["y_down"], b["z"]).clamp(0, 1)
    rec = nets["g_xy"](fake_x).clamp(0, 1)
    return {"clean LR y↓": b["y_down"][:n], "G_yx(y↓, z)": fake_x[:n], "G_xy(G_yx(y↓))": rec[:n],
            "degraded x (X)": b["x"][:n], "G_xy(x)": nets["g_xy"](b["x"]).clamp(0, 1)[:n]}  # fmt: skip
