"""Real-ESRGAN training: RealESRNet (L1) then RealESRGAN (L1 + perceptual + GAN), explicit steps and a fit loop.

Wang et al., ICCV-W 2021, §4.1; ``options/train_realesrnet_x4plus.yml`` / ``train_realesrgan_x4plus.yml``,
``realesrgan/models/realesr{net,gan}_model.py``:

* RealESRNet: ``l_g_pix = L1(sr, usm(gt))``; Adam(2e-4, betas 0.9 / 0.99), MultiStepLR at 1M (x0.5), 1M iterations.
* RealESRGAN: ``l_g_pix = L1(sr, usm(gt))`` + ``l_g_percep`` (VGG19 pre-ReLU conv1_2 .. conv5_4 with weights
  0.1, 0.1, 1, 1, 1, L1 criterion, on ``usm(gt)``) + ``0.1 * l_g_gan`` (vanilla BCE on the U-Net's per-pixel
  logits; the real images for D are the *unsharpened* gt, ``gan_gt_usm: False``); one D step per G step; Adam(1e-4,
  betas 0.9 / 0.99) for both; 400k iterations.
* Both keep an EMA of G (decay 0.999; the released ``params_ema``), the 180-pair pool, and start from a pretrained
  generator (ESRGAN for RealESRNet, RealESRNet for RealESRGAN; here :func:`load_pretrained_generator`, which
  resolves ``RealESRGAN_x4plus.pth`` through :mod:`srlib.weights` for fine-tuning).

The USM target is computed on the cropped (and pooled) GT in both stages (RealESRGANModel's order). RealESRNetModel
sharpens the 400x400 GT before cropping instead; the two differ only within ~25 px of the crop border.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from srlib import distributed, losses, tracking, training, weights
from srlib import precision as amp
from srlib.data.realesrgan_kernels import usm_sharp
from srlib.models.esrgan import generator_state
from srlib.realesrgan.pairs import RealESRGANPairs, TrainingPairPool
from srlib.training import step_decay

log = logging.getLogger("srlib.train_realesrgan")

REALESRGAN_LAYER_WEIGHTS = tuple(losses.REALESRGAN_LAYER_WEIGHTS.values())  # (0.1, 0.1, 1, 1, 1)


def load_pretrained_generator(
    g: nn.Module, weights_mode: str, key: str = "realesrgan_x4plus"
) -> weights.WeightStatus:
    """Initialise ``g`` from a published generator (``params_ema``) when the mode allows; returns the status.

    ``pretrained`` requires the file, ``auto`` uses it when present (else keeps the random init and warns),
    ``random`` trains from scratch. Record the status in the metrics file.
    """
    state, status = weights.load_state_dict(key, weights_mode)
    if state is not None:
        g.load_state_dict(generator_state(state), strict=True)
    return status


def make_vgg(weights_mode: str = "auto") -> losses.VGGFeatures:
    """VGG19 returning the pre-ReLU conv1_2, conv2_2, conv3_4, conv4_4, conv5_4 maps (ImageNet-normalised input)."""
    return losses.VGGFeatures(
        layers=list(losses.VGG19_PRE_RELU.values()), weights_mode=weights_mode
    )


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` on the parameters (BasicSR ``model_ema``); buffers are copied."""
    ema_params = dict(ema.named_parameters())
    for k, p in model.named_parameters():
        ema_params[k].mul_(decay).add_(p.detach(), alpha=1 - decay)
    ema_buffers = dict(ema.named_buffers())
    for k, b in model.named_buffers():
        ema_buffers[k].copy_(b)


def realesrnet_g_step(
    *,
    g: nn.Module,
    opt_g: torch.optim.Optimizer,
    lq: torch.Tensor,
    gt_usm: torch.Tensor,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """RealESRNet update: l_G = L1(G(lq), usm(gt)). Returns (sr.detach(), logs).

    ``precision``: the forward pass and loss under autocast (``fp32``: none); ``scaler``: fp16 loss scaling.
    """
    opt_g.zero_grad(set_to_none=True)
    with amp.autocast(precision, lq.device):
        sr = g(lq)
        l_pix = losses.pixel_l1(sr, gt_usm)
    amp.backward_step(l_pix, opt_g, scaler)
    return sr.detach(), {"l_g_pix": l_pix.item()}


def realesrgan_g_step(
    *,
    g: nn.Module,
    d: nn.Module,
    opt_g: torch.optim.Optimizer,
    lq: torch.Tensor,
    gt_usm: torch.Tensor,
    vgg: losses.VGGFeatures,
    w_pix: float = 1.0,
    w_percep: float = 1.0,
    w_gan: float = 0.1,
    layer_weights: Sequence[float] = REALESRGAN_LAYER_WEIGHTS,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """RealESRGAN generator update: w_pix L1 + w_percep l_percep (both on usm(gt)) + w_gan l_gan (BCE, D frozen).

    ``precision``: the forward passes and losses under autocast (``fp32``: none); ``scaler``: fp16 loss scaling.
    """
    opt_g.zero_grad(set_to_none=True)
    with amp.autocast(precision, lq.device):
        sr = g(lq)
        l_pix = w_pix * losses.pixel_l1(sr, gt_usm)
        l_percep = w_percep * losses.perceptual_l1(sr, gt_usm, vgg, layer_weights=layer_weights)
        with training.frozen(d):
            l_gan = w_gan * losses.gan_g_loss(d(sr))  # per-pixel logits, mean over all of them
        total = l_pix + l_percep + l_gan
    amp.backward_step(total, opt_g, scaler)
    logs = {
        "l_g_pix": l_pix.item(),
        "l_g_percep": l_percep.item(),
        "l_g_gan": l_gan.item(),
        "l_g_total": total.item(),
    }
    return sr.detach(), logs


def realesrgan_d_step(
    *,
    d: nn.Module,
    opt_d: torch.optim.Optimizer,
    sr: torch.Tensor,
    gt: torch.Tensor,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """U-Net discriminator update: BCE(D(gt), 1) + BCE(D(sr), 0), per pixel; gt unsharpened (gan_gt_usm False)."""
    l_real, l_fake, real_logits, fake_logits = training.gan_d_step(
        d=d, opt_d=opt_d, sr=sr, gt=gt, precision=precision, scaler=scaler
    )
    return {
        "l_d_real": l_real.item(),
        "l_d_fake": l_fake.item(),
        "out_d_real": real_logits.mean().item(),
        "out_d_fake": fake_logits.mean().item(),
    }


def fit_realesrgan(
    *,
    g: nn.Module,
    data: RealESRGANPairs,
    iters: int,
    run_dir: str | Path,
    d: nn.Module | None = None,
    vgg: losses.VGGFeatures | None = None,
    lr_g: Callable[[int], float] | float = 1e-4,
    lr_d: Callable[[int], float] | float = 1e-4,
    betas: tuple[float, float] = (0.9, 0.99),
    ema_decay: float = 0.999,
    w_pix: float = 1.0,
    w_percep: float = 1.0,
    w_gan: float = 0.1,
    log_interval: int = 100,
    ckpt_interval: int = 5000,
    device: torch.device | str = "cpu",
    resume: bool = True,
    name: str = "realesrgan",
    queue_size: int | None = None,
    sharpen_gt: bool = True,
    precision: str = "fp32",
    channels_last: bool = False,
    compile: str = "off",
) -> tuple[tracking.History, nn.Module]:
    """RealESRNet (``d=None``: L1 only) or RealESRGAN (``d`` and ``vgg`` given) for ``iters`` steps.

    Initialise ``g`` (e.g. :func:`load_pretrained_generator`) before calling. ``lr_g`` / ``lr_d`` are numbers or
    functions of the step (``srlib.training.step_decay(2e-4, 1_000_000, 0.5)`` is RealESRNet's MultiStepLR).
    ``run_dir`` receives ``last.pth`` (G, G-EMA, D, optimisers, the training-pair pool; for resume),
    ``history.csv`` and, at the end, ``generator_ema.pth`` (``{"params_ema": ..., "params": ...}``, the released
    layout). Batches are pure functions of ``(seed, step)`` and the pool is checkpointed, so a resumed run repeats
    the uninterrupted one. Returns ``(history, g_ema)``.

    ``data`` is anything with ``batch(step, device) -> (lq, gt)`` and ``seed``: :class:`RealESRGANPairs` (synthetic
    degradations) or fixed pairs such as :class:`srlib.night2day.pairs.PairedCrops` (Real-ESRGAN's paired-data
    fine-tuning, ``finetune_realesrgan_x4plus_pairdata.yml``); ``queue_size`` defaults to ``data.cfg.queue_size``; 0 turns the pool off.
    ``sharpen_gt=False`` trains on the ground truth as is instead of its USM-sharpened version (the pixel and
    perceptual targets; Real-ESRGAN's ``l1_gt_usm`` / ``percep_gt_usm``).
    ``precision``: ``fp32`` (default; exactly the plain computation), ``bf16`` or ``fp16`` autocast of the G and D
    forward passes (fp16 with a GradScaler per optimiser, checkpointed); the USM target, the pool and the EMA of G
    stay in fp32.
    ``channels_last`` / ``compile``: NHWC networks and batches / torch.compile of G and D (checkpoints: the plain nets).
    """
    run_dir = Path(run_dir)
    device = torch.device(device)
    adversarial = d is not None
    if adversarial and vgg is None:
        raise ValueError(
            "RealESRGAN training (d given) needs the VGG feature extractor (vgg=make_vgg(...))"
        )
    lr_g_fn, lr_d_fn = training.schedule(lr_g), training.schedule(lr_d)
    amp.place(g, device, channels_last=channels_last).train()
    # BasicSR starts the EMA as a copy of the (pretrained) generator
    g_ema = amp.place(copy.deepcopy(g), device, channels_last=channels_last).eval()
    for p in g_ema.parameters():
        p.requires_grad_(False)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr_g_fn(0), betas=betas)
    pool = TrainingPairPool(data.cfg.queue_size if queue_size is None else queue_size)
    scaler_g = amp.grad_scaler(precision, device)
    state = {"g": g, "g_ema": g_ema, "opt_g": opt_g, "pool": pool}
    state |= {"scaler_g": scaler_g} if scaler_g else {}
    scaler_d = None
    if adversarial:
        amp.place(d, device, channels_last=channels_last).train()
        amp.place(vgg, device, channels_last=channels_last)
        opt_d = torch.optim.Adam(d.parameters(), lr=lr_d_fn(0), betas=betas)
        scaler_d = amp.grad_scaler(precision, device)
        state |= {"d": d, "opt_d": opt_d} | ({"scaler_d": scaler_d} if scaler_d else {})
    # the steps call the compiled wrappers (the same parameters); state and checkpoints keep g and d themselves
    run_g = distributed.wrap(
        amp.compiled(g, compile), device
    )  # DDP under torchrun (srlib.distributed)
    run_d = distributed.wrap(amp.compiled(d, compile), device) if adversarial else None

    def step_fn(step: int):
        lq, gt = (amp.layout(t, channels_last=channels_last) for t in data.batch(step, device))
        # the pool's shuffle draws from a stream of its own (offset from the batch's), a function of (seed, step)
        if pool.size > 0:  # 0: no pool (Real-ESRGAN's paired-data fine-tuning has none)
            pool_gen = training.step_generator(
                data.seed, step, stream=training.STREAM_OFFSET, device=device
            )
            lq, gt = pool(lq, gt, generator=pool_gen)
        lq, gt = distributed.shard(
            lq, gt
        )  # this rank's slice of the global batch (after the global pool)
        gt_usm = usm_sharp(gt) if sharpen_gt else gt
        training.set_lr(opt_g, lr_g_fn(step - 1))
        if adversarial:
            sr, logs = realesrgan_g_step(
                g=run_g,
                d=run_d,
                opt_g=opt_g,
                lq=lq,
                gt_usm=gt_usm,
                vgg=vgg,
                w_pix=w_pix,
                w_percep=w_percep,
                w_gan=w_gan,
                precision=precision,
                scaler=scaler_g,
            )
            training.set_lr(opt_d, lr_d_fn(step - 1))
            logs |= realesrgan_d_step(
                d=run_d, opt_d=opt_d, sr=sr, gt=gt, precision=precision, scaler=scaler_d
            )
        else:
            _, logs = realesrnet_g_step(
                g=run_g, opt_g=opt_g, lq=lq, gt_usm=gt_usm, precision=precision, scaler=scaler_g
            )
        ema_update(g_ema, g, ema_decay)
        return logs, {"lr_g": lr_g_fn(step - 1)}

    history = training.resumable_loop(
        step_fn=step_fn,
        state=state,
        iters=iters,
        run_dir=run_dir,
        name=name,
        logger=log,
        log_interval=log_interval,
        ckpt_interval=ckpt_interval,
        resume=resume,
        precision=precision,
        config={
            "lr_g_0": lr_g_fn(0),
            "betas": tuple(betas),
            "adversarial": adversarial,
            "sharpen_gt": sharpen_gt,
            "queue_size": pool.size,
            "seed": data.seed,
        },
    )
    tracking.save_checkpoint(
        run_dir / "generator_ema.pth", {"params_ema": g_ema.state_dict(), "params": g.state_dict()}
    )
    return history, g_ema


def realesrnet_lr(lr: float = 2e-4, milestone: int = 1_000_000) -> Callable[[int], float]:
    """RealESRNet's MultiStepLR([1M], 0.5) as a function of the step."""
    return step_decay(lr, milestone, 0.5)


def realesrgan_lr(lr: float = 1e-4, milestone: int = 400_000) -> Callable[[int], float]:
    """RealESRGAN's MultiStepLR([400k], 0.5) as a function of the step (for G and D)."""
    return step_decay(lr, milestone, 0.5)
