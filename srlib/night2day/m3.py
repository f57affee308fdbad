"""The end-to-end M3 (beyond the paper, which names "an end-to-end generative network" as its next step): one
RRDBNet from night LR 64² straight to day HR 256² (:func:`m3_generator`), in two modes --

* *paired* (:func:`train_m3_paired`): L1 + perceptual + GAN on ``(night_lq, day_hr)``, i.e. Real-ESRGAN's losses
  with the night→day pairing the dataset has and the paper left unused
  (:func:`srlib.night2day.train.fit_sr_pairs`, the body of M1 / M2's SR stage);
* *unpaired* (:func:`train_m3_unpaired`): CUT's PatchNCE + LSGAN across scales (:func:`fit_m3_unpaired`).

Unpaired, PatchNCE needs the input and the output at the same locations, so the output is area-downsampled x4 back
to the input grid and both go through the generator's own trunk (:meth:`srlib.models.esrgan.RRDBNet.encode`), as
CUT uses its generator's encoder (:func:`cross_scale_nce`); the PatchGAN discriminator sees day HR images. CUT's
identity NCE becomes: G(day LR) should keep day LR's patches.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srlib import distributed, models, tracking, training, weights
from srlib import precision as amp
from srlib.cut.train import cut_d_step, gan_nce_update, linear_decay, pooled_nce
from srlib.models.cut import NLayerDiscriminator, PatchSampleF
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
from srlib.night2day.config import Night2DayM3Config
from srlib.night2day.pairs import PairedCrops, UnpairedCrossScale, epochs_to_iters
from srlib.night2day.train import Trained, fit_sr_pairs, init_sr_generator, mixed_precision
from srlib.realesrgan.train import fit_realesrgan, make_vgg

log = logging.getLogger("srlib.train_night2day")


def cross_scale_nce(
    *,
    g: RRDBNet,
    f: PatchSampleF,
    src_lq: Tensor,
    out_hr: Tensor,
    nce_layers: Sequence[int],
    num_patches: int = 256,
    nce_t: float = 0.07,
    lambda_nce: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """PatchNCE between an LR input and its HR output: the output is area-downsampled to the input grid, both go
    through ``g``'s trunk; queries from the output, keys (detached inside :func:`srlib.losses.patch_nce`) from the
    input, at the same sampled locations. Averaged over layers, times ``lambda_nce``."""
    scale = out_hr.shape[-1] // src_lq.shape[-1]
    feat_q = g.encode(F.avg_pool2d(out_hr, scale), nce_layers)  # (B, C, h, w) per layer
    feat_k = g.encode(src_lq, nce_layers)
    return pooled_nce(
        f,
        feat_q,
        feat_k,
        num_patches=num_patches,
        nce_t=nce_t,
        lambda_nce=lambda_nce,
        generator=generator,
    )


def m3_unpaired_g_step(
    *,
    g: RRDBNet,
    f: PatchSampleF,
    d: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_f: torch.optim.Optimizer,
    night_lq: Tensor,
    day_lq: Tensor | None,
    sr: Tensor,
    sr_idt: Tensor | None,
    lambda_gan: float = 1.0,
    lambda_nce: float = 1.0,
    nce_layers: Sequence[int] = (0, 1, 2, 3),
    num_patches: int = 256,
    nce_t: float = 0.07,
    generator: torch.Generator | None = None,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """l_G = lambda_GAN LSGAN(D(sr)) + NCE(night_lq, sr) [averaged with NCE(day_lq, G(day_lq)) when given];
    D works on [-1, 1], as CUT's. ``precision`` / ``scaler``: autocast and fp16 scaling, as CUT's G step."""
    kw = dict(
        g=g,
        f=f,
        nce_layers=nce_layers,
        num_patches=num_patches,
        nce_t=nce_t,
        lambda_nce=lambda_nce,
        generator=generator,
    )
    nce_pairs = [(night_lq, sr)] + ([(day_lq, sr_idt)] if sr_idt is not None else [])
    return gan_nce_update(
        d=d,
        opt_g=opt_g,
        opt_f=opt_f,
        fake_for_d=sr * 2 - 1,
        lambda_gan=lambda_gan,
        nce_pairs=nce_pairs,
        nce_fn=lambda src, tgt: cross_scale_nce(src_lq=src, out_hr=tgt, **kw),
        precision=precision,
        scaler=scaler,
    )


def fit_m3_unpaired(
    *,
    g: RRDBNet,
    d: nn.Module,
    f: PatchSampleF,
    data: UnpairedCrossScale,
    iters: int,
    run_dir: str | Path,
    steps_per_epoch: int,
    n_epochs: int,
    n_epochs_decay: int,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    lambda_gan: float = 1.0,
    lambda_nce: float = 1.0,
    nce_idt: bool = True,
    nce_layers: Sequence[int] = (0, 1, 2, 3),
    num_patches: int = 256,
    nce_t: float = 0.07,
    seed: int = 0,
    log_interval: int = 100,
    ckpt_interval: int = 1000,
    device: torch.device | str = "cpu",
    resume: bool = True,
    name: str = "m3_unpaired",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: str = "off",
) -> tracking.History:
    """Train the unpaired end-to-end M3 with CUT's optimisation (Adam 2e-4, betas 0.5/0.999, linear decay, one LSGAN
    D step then one G+F step per iteration); checkpoint / resume through :func:`srlib.training.resumable_loop`.
    ``precision``: as :func:`srlib.cut.train.fit_cut`'s (``fp32`` default: exactly the plain computation).
    ``channels_last`` / ``compile``: NHWC networks and batches / torch.compile of G and D (checkpoints: the plain nets)."""
    device = torch.device(device)
    amp.check_instance_norm_layout(
        channels_last=channels_last, device=device, batch_size=data.batch_size, where=name
    )
    for net in (g, d, f):
        amp.place(net, device, channels_last=channels_last).train()
    lr_fn = linear_decay(lr, n_epochs, n_epochs_decay, steps_per_epoch)
    opts = {
        k: torch.optim.Adam(net.parameters(), lr=lr_fn(0), betas=betas)
        for k, net in (("opt_g", g), ("opt_d", d), ("opt_f", f))
    }
    scaler_g, scaler_d = amp.grad_scaler(precision, device), amp.grad_scaler(precision, device)
    scalers = {"scaler_g": scaler_g, "scaler_d": scaler_d} if scaler_g else {}  # fp16 only
    # G's and D's forward passes through the compiled wrappers (G's trunk encoding for PatchNCE and F stay eager);
    # the loop's state and the checkpoints keep the networks themselves
    # under torchrun (srlib.distributed): DDP around G, D and F, each rank on its slice (as CUT's fit loop)
    run_g, run_d = (distributed.wrap(amp.compiled(n, compile), device) for n in (g, d))
    run_f = distributed.wrap(f, device)

    def step_fn(step: int):
        for opt in opts.values():
            training.set_lr(opt, lr_fn(step - 1))
        night_lq, day_hr, day_lq = (
            amp.layout(t, channels_last=channels_last)
            for t in distributed.shard(*data.batch(step, device))  # this rank's slice
        )
        gen = training.step_generator(seed, step, stream=training.STREAM_OFFSET, device=device)
        b = night_lq.shape[0]
        with amp.autocast(precision, device):  # one forward, as CUT
            out = run_g(torch.cat((night_lq, day_lq)) if nce_idt else night_lq)
        sr, sr_idt = out[:b], (out[b:] if nce_idt else None)
        logs = cut_d_step(
            d=run_d,
            opt_d=opts["opt_d"],
            fake_y=sr * 2 - 1,
            real_y=day_hr * 2 - 1,
            precision=precision,
            scaler=scaler_d,
        )
        logs |= m3_unpaired_g_step(
            g=g,
            f=run_f,
            d=run_d,
            opt_g=opts["opt_g"],
            opt_f=opts["opt_f"],
            night_lq=night_lq,
            day_lq=day_lq if nce_idt else None,
            sr=sr,
            sr_idt=sr_idt,
            lambda_gan=lambda_gan,
            lambda_nce=lambda_nce,
            nce_layers=nce_layers,
            num_patches=num_patches,
            nce_t=nce_t,
            generator=gen,
            precision=precision,
            scaler=scaler_g,
        )
        return logs, {"lr": lr_fn(step - 1)}

    return training.resumable_loop(
        step_fn=step_fn,
        state={"g": g, "d": d, "f": f} | opts | scalers,
        iters=iters,
        run_dir=run_dir,
        name=name,
        logger=log,
        log_interval=log_interval,
        ckpt_interval=ckpt_interval,
        resume=resume,
        precision=precision,
        config={
            "lr": lr,
            "betas": tuple(betas),
            "lambda_gan": lambda_gan,
            "lambda_nce": lambda_nce,
            "nce_idt": nce_idt,
            "nce_layers": tuple(nce_layers),
            "num_patches": num_patches,
            "nce_t": nce_t,
            "seed": seed,
            "steps_per_epoch": steps_per_epoch,
            "n_epochs": n_epochs,
            "n_epochs_decay": n_epochs_decay,
        },
    )


def nce_at_chance(history: tracking.History, num_patches: int, *, tol: float = 0.01) -> bool:
    """Whether the last logged PatchNCE is within ``tol`` (relative) of chance, ``log(num_patches)``: every patch
    looks alike to the encoder and the loss gives no content constraint."""
    last = history.rows[-1]["l_nce"]
    return abs(last - math.log(num_patches)) <= tol * math.log(num_patches)


# -------------------------------------------------------------------------------------- stage trainers


def m3_generator(cfg: Night2DayM3Config) -> tuple[RRDBNet, weights.WeightStatus]:
    """M3's x4 RRDBNet (both modes), initialised from ``RealESRGAN_x4plus`` as M1 / M2's SR stages."""
    g = RRDBNet(
        scale=4, num_feat=cfg.num_feat, num_block=cfg.num_block, num_grow_ch=cfg.num_grow_ch
    )
    return g, init_sr_generator(g, cfg.weights)


def train_m3_paired(
    cfg: Night2DayM3Config,
    *,
    lq: Tensor,
    gt: Tensor,
    run_dir: str | Path,
    device: torch.device | str,
    name: str = "m3_paired",
) -> Trained:
    """The paired M3: Real-ESRGAN's losses on ``(night LR, day HR)`` with M1's SR budget (``cfg.paired_*``)."""
    torch.manual_seed(cfg.seed)
    g, g_status = m3_generator(cfg)
    vgg = make_vgg(cfg.vgg_weights)
    d = UNetDiscriminatorSN(num_feat=cfg.paired_d_num_feat)
    return fit_sr_pairs(
        g=g,
        g_status=g_status,
        vgg=vgg,
        d=d,
        lq=lq,
        gt=gt,
        run_dir=run_dir,
        name=name,
        epochs=cfg.paired_epochs,
        batch_size=cfg.paired_batch_size,
        gt_size=cfg.paired_gt_size,
        lr=cfg.paired_lr,
        ema_decay=cfg.paired_ema_decay,
        w_pix=cfg.paired_w_pix,
        w_percep=cfg.paired_w_percep,
        w_gan=cfg.paired_w_gan,
        seed=cfg.seed,
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        device=device,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        compile=cfg.compile,
    )


def _sr_init(
    cfg: Night2DayM3Config,
    g: RRDBNet,
    *,
    night_lq: Tensor,
    night_hr: Tensor | None,
    run_dir: Path,
    name: str,
    device: torch.device | str,
) -> int:
    """L1 SR pre-training of a random-init unpaired M3 on the **night** pairs (``cfg.unpaired_init_epochs``;
    RealESRNet's loss, the paired budget's batch and crop); returns its iteration count (0: none)."""
    if cfg.unpaired_init_epochs <= 0:
        return 0
    if night_hr is None:
        raise ValueError(
            "unpaired_init_epochs > 0 needs night_hr (the SR initialisation trains on night pairs)"
        )
    data = PairedCrops(
        night_lq,
        night_hr,
        gt_size=cfg.paired_gt_size,
        batch_size=cfg.paired_batch_size,
        seed=cfg.seed,
    )
    iters, _ = epochs_to_iters(cfg.unpaired_init_epochs, len(data), data.batch_size)
    fit_realesrgan(
        g=g,
        data=data,
        iters=iters,
        run_dir=run_dir / f"{name}_init",
        lr_g=2e-4,
        ema_decay=0.0,
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        device=device,
        name=f"{name}_init",
        queue_size=0,
        sharpen_gt=False,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        compile=cfg.compile,
    )
    return iters


def train_m3_unpaired(
    cfg: Night2DayM3Config,
    *,
    night_lq: Tensor,
    day_hr: Tensor,
    day_lq: Tensor,
    night_hr: Tensor | None,
    run_dir: str | Path,
    device: torch.device | str,
    name: str = "m3_unpaired",
) -> Trained:
    """The unpaired M3 (:func:`fit_m3_unpaired`) with M1's CUT budget; ``cfg.nce_layers``
    index the RRDBNet trunk (0 = conv_first, k = after RRDB k; those past the trunk are dropped).

    PatchNCE needs a generator whose output already carries the input's structure: the published RealESRGAN_x4plus
    does (it is an SR network). A random-initialised RRDBNet outputs a near-constant image, every patch looks alike
    and PatchNCE sits at chance (log of the patch count) with no useful gradient. ``cfg.unpaired_init_epochs > 0``
    therefore first trains it as a plain SR network on the **night** pairs ``(night_lq, night_hr)`` with L1
    (RealESRNet's loss) -- the role RealESRGAN_x4plus plays in the paper profile. This uses no night↔day pairing.
    """
    run_dir = Path(run_dir)
    torch.manual_seed(cfg.seed)
    g, g_status = m3_generator(cfg)
    nce_layers = tuple(k for k in cfg.nce_layers if k <= len(g.body))
    init_iters = _sr_init(
        cfg, g, night_lq=night_lq, night_hr=night_hr, run_dir=run_dir, name=name, device=device
    )
    d = NLayerDiscriminator(num_feat=cfg.unpaired_d_num_feat)
    f = PatchSampleF(
        in_channels=[g.arch_kwargs["num_feat"]] * len(nce_layers), num_feat=cfg.netf_nc
    )
    data = UnpairedCrossScale(
        night_lq, day_hr, day_lq, batch_size=cfg.unpaired_batch_size, seed=cfg.seed
    )
    epochs = cfg.unpaired_epochs + cfg.unpaired_epochs_decay
    iters, steps_per_epoch = epochs_to_iters(epochs, len(data), data.batch_size)
    log.info(
        "[%s] %d pairs (unpaired draws), %d iterations, NCE layers %s",
        name,
        len(data),
        iters,
        nce_layers,
    )
    history = fit_m3_unpaired(
        g=g,
        d=d,
        f=f,
        data=data,
        iters=iters,
        run_dir=run_dir / name,
        steps_per_epoch=steps_per_epoch,
        n_epochs=cfg.unpaired_epochs,
        n_epochs_decay=cfg.unpaired_epochs_decay,
        lr=cfg.unpaired_lr,
        lambda_gan=cfg.lambda_gan,
        lambda_nce=cfg.lambda_nce,
        nce_idt=cfg.nce_idt,
        nce_layers=nce_layers,
        num_patches=cfg.num_patches,
        seed=cfg.seed,
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        device=device,
        name=name,
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        compile=cfg.compile,
    )
    info = {
        "iters": iters,
        "epochs": epochs,
        "pairs": len(data),
        "nce_layers": list(nce_layers),
        "init_iters": init_iters,
        "weights": {"realesrgan_x4plus": g_status.as_dict()},
    } | mixed_precision(cfg.precision)
    models.save_generator(run_dir / f"{name}.pth", g.cpu().eval(), meta=info)
    return g.eval(), history, info
