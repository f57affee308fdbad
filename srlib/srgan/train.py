"""Training: explicit ``g_step`` / ``d_step`` functions and a ``fit`` loop with checkpoint + resume.

No trainer object and nothing inside the ``nn.Module``s: ``fit`` owns the optimisers, calls one D step and one G step
per iteration (Ledig §3.2: k = 1), logs an interval line (the durable record; the tqdm bar is optional), saves
``last.pth`` every ``ckpt_interval`` steps, and resumes from it. Batches are pure functions of ``(seed, step)``
(:class:`srlib.data.patches.PairedPatches`) and learning rates pure functions of ``step``, so a resumed run reproduces the
uninterrupted one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from srlib import losses, tracking, training
from srlib.data.patches import PairedPatches
from srlib.runtime import use_progress
from srlib.training import set_lr, validation_hook

log = logging.getLogger("srlib.train")


def g_step(
    *,
    g: nn.Module,
    opt_g: torch.optim.Optimizer,
    lq: torch.Tensor,
    gt: torch.Tensor,
    d: nn.Module | None = None,
    vgg: losses.VGGFeatures | None = None,
    w_pix: float = 1.0,
    w_percep: float = 0.0,
    w_adv: float = 0.0,
    vgg_rescale: float = 1 / 12.75,
) -> tuple[torch.Tensor, dict[str, float]]:
    """One generator update: l_G = w_pix l_MSE + w_percep l_VGG + w_adv l_Gen. Returns (sr.detach(), logs)."""
    opt_g.zero_grad(set_to_none=True)
    sr = g(lq)
    terms: dict[str, torch.Tensor] = {}
    if w_pix:
        terms["l_g_pix"] = w_pix * losses.pixel_mse(sr, gt)
    if w_percep:
        if vgg is None:
            raise ValueError("w_percep > 0 needs a VGG feature extractor (vgg=...)")
        terms["l_g_percep"] = w_percep * losses.perceptual_vgg(sr, gt, vgg, rescale=vgg_rescale)
    if w_adv:
        if d is None:
            raise ValueError("w_adv > 0 needs a discriminator (d=...)")
        with training.frozen(d):  # no D gradients from the G step
            terms["l_g_gan"] = w_adv * losses.gan_g_loss(d(sr))
    if not terms:
        raise ValueError("g_step: all loss weights are zero")
    total = sum(terms.values())
    total.backward()
    opt_g.step()
    return sr.detach(), {k: v.item() for k, v in terms.items()} | {"l_g_total": total.item()}


def d_step(
    *, d: nn.Module, opt_d: torch.optim.Optimizer, sr: torch.Tensor, gt: torch.Tensor
) -> dict[str, float]:
    """One discriminator update on a real batch and the (detached) fake batch from the same iteration."""
    l_real, l_fake, real_logits, fake_logits = training.gan_d_step(d=d, opt_d=opt_d, sr=sr, gt=gt)
    return {
        "l_d_real": l_real.item(),
        "l_d_fake": l_fake.item(),
        "d_real": torch.sigmoid(real_logits).mean().item(),
        "d_fake": torch.sigmoid(fake_logits).mean().item(),
    }


def fit(
    *,
    g: nn.Module,
    data: PairedPatches,
    iters: int,
    run_dir: str | Path,
    lr_g: Callable[[int], float] | float,
    d: nn.Module | None = None,
    lr_d: Callable[[int], float] | float | None = None,
    betas: tuple[float, float] = (0.9, 0.999),
    w_pix: float = 1.0,
    w_percep: float = 0.0,
    w_adv: float = 0.0,
    vgg: losses.VGGFeatures | None = None,
    vgg_rescale: float = 1 / 12.75,
    log_interval: int = 100,
    ckpt_interval: int = 1000,
    val_interval: int = 0,
    val_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    resume: bool = True,
    name: str = "train",
    extra_state: dict | None = None,
) -> tracking.History:
    """Train ``g`` (and ``d`` when ``w_adv > 0``) for ``iters`` steps; return the history (also in run_dir).

    ``run_dir`` receives ``last.pth`` (full state, for resume), ``history.csv`` and, at the end, ``generator.pth``.
    With ``resume=True`` and an existing ``last.pth`` training continues from its step.
    """
    device = torch.device(device)
    lr_g_fn, lr_d_fn = training.schedule(lr_g), training.schedule(lr_d)
    adversarial = w_adv > 0
    if adversarial and (d is None or lr_d is None):
        raise ValueError("adversarial training (w_adv > 0) needs d and lr_d")
    g.to(device).train()
    opt_g = torch.optim.Adam(g.parameters(), lr=lr_g_fn(0), betas=betas)
    state = {"g": g, "opt_g": opt_g}
    if adversarial:
        d.to(device).train()
        opt_d = torch.optim.Adam(d.parameters(), lr=lr_d_fn(0), betas=betas)
        state |= {"d": d, "opt_d": opt_d}
    if vgg is not None:
        vgg.to(device)

    def step_fn(step: int):
        set_lr(opt_g, lr_g_fn(step - 1))
        lq, gt = (t.to(device) for t in data.batch(step))
        sr, logs = g_step(
            g=g,
            opt_g=opt_g,
            lq=lq,
            gt=gt,
            d=d if adversarial else None,
            vgg=vgg,
            w_pix=w_pix,
            w_percep=w_percep,
            w_adv=w_adv,
            vgg_rescale=vgg_rescale,
        )
        if adversarial:
            set_lr(opt_d, lr_d_fn(step - 1))
            logs |= d_step(d=d, opt_d=opt_d, sr=sr, gt=gt)
        return logs, {"lr_g": lr_g_fn(step - 1)}

    return training.resumable_loop(
        step_fn=step_fn,
        state=state,
        iters=iters,
        run_dir=run_dir,
        name=name,
        logger=log,
        log_interval=log_interval,
        ckpt_interval=ckpt_interval,
        resume=resume,
        val_fn=validation_hook(g, val_fn, name),
        val_interval=val_interval,
        progress=use_progress(progress),
        extra_state=extra_state,
        config={
            "lr_g_0": lr_g_fn(0),
            "lr_d_0": lr_d_fn(0) if adversarial else None,
            "betas": tuple(betas),
            "w_pix": w_pix,
            "w_percep": w_percep,
            "w_adv": w_adv,
            "vgg_rescale": vgg_rescale,
            "scale": data.scale,
            "gt_size": data.gt_size,
            "batch_size": data.batch_size,
            "seed": data.seed,
        },
    )
