"""Night→day stage trainers: each builds its networks from the stage config, trains them, saves the generator.

The paper's two-stage models reuse the engines unchanged (Abedjooy & Ebrahimi):

* **M1** (SR first): Real-ESRGAN fine-tuned on night pairs ``(night_lq 64², night_hr 256²)`` turns the night LR into
  night HR (:func:`train_sr`, :class:`~srlib.night2day.pairs.PairedCrops` into
  :func:`srlib.realesrgan.train.fit_realesrgan`); CUT translates night HR → day HR (:func:`train_cut`, unpaired
  sets, :func:`srlib.cut.train.fit_cut`).
* **M2** (translation first): CUT at 64² translates night LR → day LR; Real-ESRGAN fine-tuned on day pairs
  ``(day_lq, day_hr)`` upsamples it. Same two trainers, same config section (``night2day_models``).

The end-to-end M3's trainers are :mod:`srlib.night2day.m3` (its paired mode shares :func:`fit_sr_pairs`).

Every trainer seeds the global RNG with ``cfg.seed`` before building its networks (the initialisation depends on the
seed only, not on what ran before), writes ``run_dir/<name>/`` (checkpoint, history; resumable) and the generator as
``run_dir/<name>.pth`` (:func:`srlib.models.save_generator`), and returns ``(generator, history, info)``, ``info``
holding the iteration count and the weight statuses for the metrics file. A hyperparameter is read from ``cfg`` in
one place: where its network, loss or loop is built.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor, nn

from srlib import models, tracking, weights
from srlib.cut.data import UnpairedCrops
from srlib.cut.train import CUTConfig, build_cut, fit_cut
from srlib.losses import VGGFeatures
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
from srlib.night2day.config import Night2DayModelsConfig
from srlib.night2day.pairs import PairedCrops, epochs_to_iters
from srlib.realesrgan.train import fit_realesrgan, load_pretrained_generator, make_vgg

log = logging.getLogger("srlib.train_night2day")

RELEASED_RRDB = {"num_feat": 64, "num_block": 23, "num_grow_ch": 32}  # RealESRGAN_x4plus

Trained = tuple[nn.Module, tracking.History, dict]  # (generator, history, info)


def mixed_precision(precision: str) -> dict:
    """``info``'s record of a training precision other than the paper's fp32 (none for fp32)."""
    return {} if precision == "fp32" else {"precision": f"{precision} autocast (the paper: fp32)"}


def init_sr_generator(g: RRDBNet, weights_mode: str) -> weights.WeightStatus:
    """Initialise an x4 RRDBNet from ``RealESRGAN_x4plus`` when its architecture is the released one.

    The paper fine-tunes the published Real-ESRGAN. A reduced architecture (smoke / CPU profiles) cannot take those
    weights: it keeps its random init and the returned status says so (``source`` ``random-init``, not comparable).
    """
    arch = {k: g.arch_kwargs[k] for k in RELEASED_RRDB}
    if arch == RELEASED_RRDB:
        return load_pretrained_generator(g, weights_mode)
    reduced = ", ".join(f"{k}={v}" for k, v in arch.items())
    return weights.WeightStatus(
        key="realesrgan_x4plus",
        mode=weights_mode,
        source="random-init",
        path=None,
        message=f"reduced RRDBNet ({reduced}; released: 64/23/32): RealESRGAN_x4plus cannot be loaded, random init",
    )


def fit_sr_pairs(
    *,
    g: nn.Module,
    g_status: weights.WeightStatus,
    vgg: VGGFeatures,
    d: nn.Module,
    lq: Tensor,
    gt: Tensor,
    run_dir: str | Path,
    name: str,
    epochs: int,
    batch_size: int,
    gt_size: int,
    lr: float,
    ema_decay: float,
    w_pix: float,
    w_percep: float,
    w_gan: float,
    seed: int,
    log_interval: int,
    ckpt_interval: int,
    device: torch.device | str,
    precision: str = "fp32",
    channels_last: bool = False,
    compile: str = "off",
) -> Trained:
    """Fine-tune Real-ESRGAN (L1 + perceptual + GAN on USM-sharpened targets, U-Net D, EMA) on fixed pairs.

    The shared body of M1's / M2's SR stage and the paired M3: ``epochs`` passes over ``(lq, gt)`` (the paper: 300
    epochs, Adam 2e-4 for G and D). Returns ``(g_ema, history, info)``. ``precision``: the training steps'
    autocast (:func:`srlib.realesrgan.train.fit_realesrgan`); ``info`` records it when it is not fp32.
    ``channels_last`` / ``compile``: NHWC networks and batches / torch.compile of G and D (as ``fit_realesrgan``'s).
    """
    run_dir = Path(run_dir)
    data = PairedCrops(lq, gt, gt_size=gt_size, batch_size=batch_size, seed=seed)
    iters, steps_per_epoch = epochs_to_iters(epochs, len(data), batch_size)
    log.info(
        "[%s] %d pairs, %d epochs x %d steps = %d iterations",
        name,
        len(data),
        epochs,
        steps_per_epoch,
        iters,
    )
    history, g_ema = fit_realesrgan(
        g=g,
        d=d,
        vgg=vgg,
        data=data,
        iters=iters,
        run_dir=run_dir / name,
        lr_g=lr,
        lr_d=lr,
        ema_decay=ema_decay,
        w_pix=w_pix,
        w_percep=w_percep,
        w_gan=w_gan,
        log_interval=log_interval,
        ckpt_interval=ckpt_interval,
        device=device,
        name=name,
        queue_size=0,
        sharpen_gt=True,
        precision=precision,
        channels_last=channels_last,
        compile=compile,
    )
    info = {
        "iters": iters,
        "epochs": epochs,
        "pairs": len(data),
        "weights": {"realesrgan_x4plus": g_status.as_dict(), "vgg19": vgg.status.as_dict()},
    } | mixed_precision(precision)
    models.save_generator(run_dir / f"{name}.pth", g_ema.cpu(), meta=info)
    return g_ema, history, info


# ---------------------------------------------------------------------------------------------------- M1 / M2


def train_sr(
    cfg: Night2DayModelsConfig,
    *,
    lq: Tensor,
    gt: Tensor,
    run_dir: str | Path,
    name: str,
    device: torch.device | str,
) -> Trained:
    """M1's / M2's Real-ESRGAN: fine-tuned on night pairs (M1: night LR → night HR) or day pairs (M2: day LR →
    day HR), from ``RealESRGAN_x4plus`` (``cfg.sr_*``)."""
    torch.manual_seed(cfg.seed)
    g = RRDBNet(
        scale=4,
        num_feat=cfg.sr_num_feat,
        num_block=cfg.sr_num_block,
        num_grow_ch=cfg.sr_num_grow_ch,
    )
    g_status = init_sr_generator(g, cfg.sr_weights)
    vgg = make_vgg(cfg.vgg_weights)
    d = UNetDiscriminatorSN(num_feat=cfg.sr_d_num_feat)
    return fit_sr_pairs(
        g=g,
        g_status=g_status,
        vgg=vgg,
        d=d,
        lq=lq,
        gt=gt,
        run_dir=run_dir,
        name=name,
        epochs=cfg.sr_epochs,
        batch_size=cfg.sr_batch_size,
        gt_size=cfg.sr_gt_size,
        lr=cfg.sr_lr,
        ema_decay=cfg.sr_ema_decay,
        w_pix=cfg.sr_w_pix,
        w_percep=cfg.sr_w_percep,
        w_gan=cfg.sr_w_gan,
        seed=cfg.seed,
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        device=device,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        compile=cfg.compile,
    )


def train_cut(
    cfg: Night2DayModelsConfig,
    *,
    x: Tensor,
    y: Tensor,
    run_dir: str | Path,
    name: str,
    device: torch.device | str,
) -> Trained:
    """M1's / M2's CUT (PatchNCE + LSGAN, identity NCE, Adam 2e-4 betas 0.5/0.999) from domain ``x`` to ``y``.

    ``x`` and ``y`` are uint8 image stacks, used **unpaired** (independent random draws, CUT's ``unaligned``
    dataset): M1 night HR → day HR at 256², M2 night LR → day LR at 64² (``cfg.cut_*``). One epoch =
    ``len(x) / batch_size`` steps; ``cut_epochs`` at constant rate then ``cut_epochs_decay`` linearly to 0.
    """
    run_dir = Path(run_dir)
    torch.manual_seed(cfg.seed)
    cut = CUTConfig(
        num_patches=cfg.cut_num_patches,
        netf_nc=cfg.cut_netf_nc,
        lr=cfg.cut_lr,
        batch_size=cfg.cut_batch_size,
        n_epochs=cfg.cut_epochs,
        n_epochs_decay=cfg.cut_epochs_decay,
        load_size=cfg.cut_load_size,
        crop_size=cfg.cut_crop_size,
    )
    g, d, f = build_cut(
        num_feat=cfg.cut_num_feat,
        num_block=cfg.cut_num_block,
        num_feat_d=cfg.cut_d_num_feat,
        netf_nc=cut.netf_nc,
        nce_layers=cut.nce_layers,
    )
    data = UnpairedCrops(
        list(x),
        list(y),
        load_size=cut.load_size,
        crop_size=cut.crop_size,
        batch_size=cut.batch_size,
        seed=cfg.seed,
    )
    epochs = cut.n_epochs + cut.n_epochs_decay
    iters, steps_per_epoch = epochs_to_iters(epochs, len(x), cut.batch_size)
    log.info(
        "[%s] %d x / %d y images, %d epochs x %d steps = %d iterations",
        name,
        len(x),
        len(y),
        epochs,
        steps_per_epoch,
        iters,
    )
    history = fit_cut(
        g=g,
        d=d,
        f=f,
        data=data,
        cfg=cut,
        iters=iters,
        run_dir=run_dir / name,
        steps_per_epoch=steps_per_epoch,
        seed=cfg.seed,
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        device=device,
        name=name,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        compile=cfg.compile,
    )
    info = {"iters": iters, "epochs": epochs, "x_images": len(x), "y_images": len(y)}
    info |= mixed_precision(cfg.precision)
    models.save_generator(run_dir / f"{name}.pth", g.cpu().eval(), meta=info)
    return g.eval(), history, info
