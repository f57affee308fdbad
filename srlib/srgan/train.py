"""SRGAN training (Ledig et al. 2017, §3.2): the loop, and the ``srgan_train`` stage built on it.

The loop: explicit ``g_step`` / ``d_step`` functions and a ``fit`` loop with checkpoint + resume. No trainer object
and nothing inside the ``nn.Module``s: ``fit`` owns the optimisers, calls one D step and one G step per iteration
(Ledig §3.2: k = 1), logs an interval line (the durable record; the tqdm bar is optional), saves ``last.pth`` every
``ckpt_interval`` steps, and resumes from it. Batches are pure functions of ``(seed, step)``
(:class:`srlib.data.patches.PairedPatches`) and learning rates pure functions of ``step``, so a resumed run
reproduces the uninterrupted one.

The stage (notebook 10): one function a step, each taking the stage's :class:`SRGANTrainConfig` and reading its
fields where they are used -- :func:`build_generator` (the architecture), :func:`training_data`,
:func:`validation`, :func:`pretrain` (SRResNet-MSE), :func:`~srlib.srgan.perceptual.build` (``percep_net``) /
:func:`build_discriminator` / :func:`train_gan` (SRGAN-VGG54) and :func:`write_results`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from srlib import distributed, evaluation, losses, models, paths, tracking, training
from srlib import precision as amp
from srlib.data import images, splits
from srlib.data.patches import PairedPatches
from srlib.models import Discriminator, SRResNet
from srlib.runtime import use_progress
from srlib.srgan import perceptual
from srlib.training import set_lr, validation_hook

if TYPE_CHECKING:
    from srlib.srgan.config import SRGANTrainConfig

log = logging.getLogger("srlib.train")


def g_step(
    *,
    g: nn.Module,
    opt_g: torch.optim.Optimizer,
    lq: torch.Tensor,
    gt: torch.Tensor,
    d: nn.Module | None = None,
    vgg: perceptual.Features | None = None,
    w_pix: float = 1.0,
    w_percep: float = 0.0,
    w_adv: float = 0.0,
    vgg_rescale: float = 1 / 12.75,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """One generator update: l_G = w_pix l_MSE + w_percep l_VGG + w_adv l_Gen. Returns (sr.detach(), logs).

    ``vgg``: VGGFeatures (l_VGG, Ledig eq. 5) or InceptionFeatures (the substitute, logged as ``l_g_percep`` too).
    ``precision``: the forward passes and losses under autocast (``fp32``: none); ``scaler``: fp16 loss scaling.
    """
    opt_g.zero_grad(set_to_none=True)
    with amp.autocast(precision, lq.device):
        sr = g(lq)
        terms: dict[str, torch.Tensor] = {}
        if w_pix:
            terms["l_g_pix"] = w_pix * losses.pixel_mse(sr, gt)
        if w_percep:
            if vgg is None:
                raise ValueError("w_percep > 0 needs a VGG feature extractor (vgg=...)")
            terms["l_g_percep"] = w_percep * perceptual.loss(sr, gt, vgg, rescale=vgg_rescale)
        if w_adv:
            if d is None:
                raise ValueError("w_adv > 0 needs a discriminator (d=...)")
            with training.frozen(d):  # no D gradients from the G step
                terms["l_g_gan"] = w_adv * losses.gan_g_loss(d(sr))
        if not terms:
            raise ValueError("g_step: all loss weights are zero")
        total = sum(terms.values())
    amp.backward_step(total, opt_g, scaler)
    return sr.detach(), {k: v.item() for k, v in terms.items()} | {"l_g_total": total.item()}


def d_step(
    *,
    d: nn.Module,
    opt_d: torch.optim.Optimizer,
    sr: torch.Tensor,
    gt: torch.Tensor,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """One discriminator update on a real batch and the (detached) fake batch from the same iteration."""
    l_real, l_fake, real_logits, fake_logits = training.gan_d_step(
        d=d, opt_d=opt_d, sr=sr, gt=gt, precision=precision, scaler=scaler
    )
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
    vgg: perceptual.Features | None = None,
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
    precision: str = "fp32",
    channels_last: bool = False,
    compile: str = "off",
) -> tracking.History:
    """Train ``g`` (and ``d`` when ``w_adv > 0``) for ``iters`` steps; return the history (also in run_dir).

    ``run_dir`` receives ``last.pth`` (full state, for resume), ``history.csv`` and, at the end, ``generator.pth``.
    With ``resume=True`` and an existing ``last.pth`` training continues from its step. ``precision``: ``fp32``
    (default; exactly the plain computation), ``bf16`` or ``fp16`` autocast (fp16 with a GradScaler per optimiser,
    checkpointed); ``channels_last``: networks and batches in NHWC memory (faster convolutions on GPUs);
    ``compile``: ``torch.compile`` backend of G and D's forward passes (``off``; checkpoints keep the plain modules).
    Batches are made on ``device`` (crops drawn on the CPU, degraded on ``device``: :meth:`PairedPatches.batch`).
    """
    device = torch.device(device)
    lr_g_fn, lr_d_fn = training.schedule(lr_g), training.schedule(lr_d)
    adversarial = w_adv > 0
    if adversarial and (d is None or lr_d is None):
        raise ValueError("adversarial training (w_adv > 0) needs d and lr_d")
    amp.place(g, device, channels_last=channels_last).train()
    run_g = distributed.wrap(
        amp.compiled(g, compile), device
    )  # the steps call run_g (DDP under torchrun)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr_g_fn(0), betas=betas)
    scaler_g = amp.grad_scaler(precision, device)
    state = {"g": g, "opt_g": opt_g} | ({"scaler_g": scaler_g} if scaler_g else {})
    scaler_d = None
    if adversarial:
        amp.place(d, device, channels_last=channels_last).train()
        opt_d = torch.optim.Adam(d.parameters(), lr=lr_d_fn(0), betas=betas)
        scaler_d = amp.grad_scaler(precision, device)
        state |= {"d": d, "opt_d": opt_d} | ({"scaler_d": scaler_d} if scaler_d else {})
    if vgg is not None:
        amp.place(vgg, device, channels_last=channels_last)
    run_d = distributed.wrap(amp.compiled(d, compile), device) if adversarial else None

    def step_fn(step: int):
        set_lr(opt_g, lr_g_fn(step - 1))
        lq, gt = (amp.layout(t, channels_last=channels_last) for t in data.batch(step, device))
        lq, gt = distributed.shard(
            lq, gt
        )  # this rank's slice of the global batch (srlib.distributed)
        sr, logs = g_step(
            g=run_g,
            opt_g=opt_g,
            lq=lq,
            gt=gt,
            d=run_d,
            vgg=vgg,
            w_pix=w_pix,
            w_percep=w_percep,
            w_adv=w_adv,
            vgg_rescale=vgg_rescale,
            precision=precision,
            scaler=scaler_g,
        )
        if adversarial:
            set_lr(opt_d, lr_d_fn(step - 1))
            logs |= d_step(d=run_d, opt_d=opt_d, sr=sr, gt=gt, precision=precision, scaler=scaler_d)
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
        precision=precision,
        config={
            "lr_g_0": lr_g_fn(0),
            "lr_d_0": lr_d_fn(0) if adversarial else None,
            "betas": tuple(betas),
            "w_pix": w_pix,
            "w_percep": w_percep,
            "w_adv": w_adv,
            "vgg_rescale": vgg_rescale,
            "percep_net": None if vgg is None else perceptual.name(vgg),
            "scale": data.scale,
            "gt_size": data.gt_size,
            "batch_size": data.batch_size,
            "seed": data.seed,
        },
    )


# --------------------------------------------------------------------------------------------------------------
# the srgan_train stage (notebook 10)

BICUBIC_SKIP_LABEL = (
    "bicubic skip: the generator learns a residual over bicubic (not Ledig's architecture)"
)
# the metrics file's ``config`` block: the generator's architecture (its arch_kwargs), then these settings
RECORDED = (
    "gt_size batch_size pretrain_iters gan_iters lr_g_pretrain lr_g lr_d w_pix w_adv seed".split()
)
ARCH_RECORDED = ("num_feat", "num_block", "scale", "bicubic_skip")


def build_generator(cfg: SRGANTrainConfig) -> SRResNet:
    """SRResNet (Ledig Fig. 4) of the configured width and depth: both stages train this one network."""
    return SRResNet(
        num_feat=cfg.num_feat,
        num_block=cfg.num_block,
        scale=cfg.scale,
        bicubic_skip=cfg.bicubic_skip,
    )


def build_discriminator(cfg: SRGANTrainConfig) -> Discriminator:
    """SRGAN's discriminator (Ledig Fig. 4: 64..512 channels, dense 1024): the paper fixes it, no field changes it."""
    return Discriminator()


def training_data(cfg: SRGANTrainConfig, manifest: dict) -> PairedPatches:
    """Random ``gt_size`` HR crops of the training photos, LR by MATLAB bicubic, flips and transposition."""
    photos = images.load_images(splits.split_files(manifest, "train"), max_side=cfg.train_max_side)
    return PairedPatches(
        photos,
        scale=cfg.scale,
        gt_size=cfg.gt_size,
        batch_size=cfg.batch_size,
        flat_threshold=cfg.flat_threshold,
        seed=cfg.seed,
    )


def validation(
    cfg: SRGANTrainConfig, manifest: dict, device: torch.device | str
) -> Callable[[nn.Module], dict[str, float]]:
    """PSNR-Y on ``val_crop`` centre crops of the benchmark (border = scale) and the gain over bicubic."""
    pairs = images.benchmark_pairs(splits.split_files(manifest, "bench"), cfg.scale)
    return evaluation.validation_fn(
        pairs, scale=cfg.scale, crop_border=cfg.scale, crop=cfg.val_crop, device=device
    )


def _fit_kwargs(cfg: SRGANTrainConfig, val_fn, device) -> dict:
    """What both stages give :func:`fit` alike: Adam's betas, the intervals, validation, device, progress."""
    return dict(
        betas=(cfg.beta1, 0.999),
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        val_interval=cfg.val_interval,
        val_fn=val_fn,
        device=device,
        progress=cfg.progress,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        compile=cfg.compile,
    )


def pretrain(
    cfg: SRGANTrainConfig,
    g: SRResNet,
    data: PairedPatches,
    *,
    run_dir: Path,
    val_fn: Callable[[nn.Module], dict[str, float]] | None,
    device: torch.device | str,
) -> tracking.History:
    """Stage 1, SRResNet-MSE (Ledig §3.2): ``pretrain_iters`` pixel-MSE updates; ``run_dir/srresnet.pth``."""
    hist = fit(
        g=g,
        data=data,
        iters=cfg.pretrain_iters,
        run_dir=Path(run_dir) / "srresnet",
        lr_g=cfg.lr_g_pretrain,
        w_pix=1.0,
        name="srresnet",
        **_fit_kwargs(cfg, val_fn, device),
    )
    models.save_generator(Path(run_dir) / "srresnet.pth", g, meta={"stage": "srresnet"})
    return hist


def train_gan(
    cfg: SRGANTrainConfig,
    g: SRResNet,
    d: nn.Module,
    vgg: perceptual.Features,
    data: PairedPatches,
    *,
    run_dir: Path,
    val_fn: Callable[[nn.Module], dict[str, float]] | None,
    device: torch.device | str,
) -> tracking.History:
    """Stage 2, SRGAN-VGG54 (Ledig §3.2, Eq. 3) from the pre-trained ``g``; ``run_dir/srgan.pth``.

    ``w_percep`` VGG54 (or the substitute ``vgg`` is) + ``w_adv`` adversarial (+ ``w_pix`` MSE) for ``gan_iters``
    steps, both learning rates x0.1 from ``lr_decay_at``, one D step per G step.
    """
    hist = fit(
        g=g,
        d=d,
        data=data,
        iters=cfg.gan_iters,
        run_dir=Path(run_dir) / "srgan",
        lr_g=training.step_decay(cfg.lr_g, cfg.lr_decay_at),
        lr_d=training.step_decay(cfg.lr_d, cfg.lr_decay_at),
        w_pix=cfg.w_pix,
        w_percep=cfg.w_percep,
        w_adv=cfg.w_adv,
        vgg=vgg,
        vgg_rescale=perceptual.rescale(cfg),
        name="srgan",
        **_fit_kwargs(cfg, val_fn, device),
    )
    meta = {"stage": "srgan"} | perceptual.meta(vgg)
    models.save_generator(Path(run_dir) / "srgan.pth", g, meta=meta)
    return hist


def generator_labels(g: nn.Module) -> list[str]:
    """Caveats the generator's architecture puts on every number (bicubic skip is not Ledig's)."""
    return [BICUBIC_SKIP_LABEL] if g.arch_kwargs.get("bicubic_skip") else []


def precision_labels(cfg: SRGANTrainConfig) -> list[str]:
    """A label when the training steps did not run in fp32 (the paper's precision); none for fp32."""
    label = f"mixed precision: training steps under {cfg.precision} autocast (the paper: fp32)"
    return [] if cfg.precision == "fp32" else [label]


def run_record(cfg: SRGANTrainConfig, g: nn.Module) -> dict:
    """The metrics file's ``config`` block: the generator's architecture (as it recorded it) and the settings."""
    return {k: g.arch_kwargs[k] for k in ARCH_RECORDED} | {k: getattr(cfg, k) for k in RECORDED}


def final_metrics(
    cfg: SRGANTrainConfig, hist_pre: tracking.History, hist_gan: tracking.History
) -> dict:
    """The last validation and loss values of each stage, their iterations, and the training time."""
    pre, gan = hist_pre.to_frame(), hist_gan.to_frame()
    minutes = (pre.sec_per_iter.sum() + gan.sec_per_iter.sum()) * cfg.log_interval / 60
    return {
        "srresnet": {k: pre[k].dropna().iloc[-1] for k in ("val_psnr_y", "val_gain_db", "l_g_pix")}
        | {"iters": cfg.pretrain_iters},
        "srgan": {
            k: gan[k].dropna().iloc[-1]
            for k in ("val_psnr_y", "val_gain_db", "l_g_percep", "l_g_gan")
        }
        | {"iters": cfg.gan_iters},
        "train_minutes": float(minutes),
    }


def write_results(
    cfg: SRGANTrainConfig,
    hist_pre: tracking.History,
    hist_gan: tracking.History,
    *,
    g: nn.Module,
    vgg: perceptual.Features,
    manifest: dict,
) -> dict:
    """Both histories as ``dvc plots`` CSVs and ``metrics/srgan_train.json`` with provenance; the numbers."""
    hist_pre.to_csv(paths.plot_file(cfg.profile, "srresnet_history.csv"))
    hist_gan.to_csv(paths.plot_file(cfg.profile, "srgan_history.csv"))
    final = final_metrics(cfg, hist_pre, hist_gan)
    train, bench = splits.split_info(manifest, "train"), splits.split_info(manifest, "bench")
    tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE),
        final,
        stage=cfg.STAGE,
        profile=cfg.profile,
        data={
            "name": train["name"],
            "proxy": manifest["proxy"],
            "train": train["source"],
            "validation": f"centre crops {cfg.val_crop}px of {bench['name']}",
        },
        weights=perceptual.weights(vgg),
        labels=generator_labels(g) + precision_labels(cfg) + perceptual.labels(vgg),
        config=run_record(cfg, g) | perceptual.record(cfg),
    )
    return final
