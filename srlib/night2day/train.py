"""Night→day training: the data adapters of M1 / M2 and the end-to-end M3 (Abedjooy & Ebrahimi; issue 6).

The paper's two-stage models reuse the engines unchanged:

* **M1** (SR first): Real-ESRGAN fine-tuned on night pairs ``(night_lq 64², night_hr 256²)`` turns the night LR into
  night HR (:class:`PairedCrops` into :func:`srlib.realesrgan.train.fit_realesrgan`); CUT translates night HR → day
  HR (unpaired sets, :func:`srlib.cut.train.fit_cut`).
* **M2** (translation first): CUT at 64² translates night LR → day LR; Real-ESRGAN fine-tuned on day pairs
  ``(day_lq, day_hr)`` upsamples it.

**M3** (beyond the paper, which names "an end-to-end generative network" as its next step): one RRDBNet from night
LR 64² straight to day HR 256², in two modes —

* *paired*: L1 + perceptual + GAN on ``(night_lq, day_hr)``, i.e. Real-ESRGAN's losses with the night→day pairing
  the dataset has and the paper left unused (:class:`PairedCrops` into ``fit_realesrgan``);
* *unpaired*: CUT's PatchNCE + LSGAN across scales (:func:`fit_m3_unpaired`). PatchNCE needs the input and the output
  at the same locations, so the output is area-downsampled ×4 back to the input grid and both go through the
  generator's own trunk (:meth:`srlib.models.esrgan.RRDBNet.encode`), as CUT uses its generator's encoder; the
  PatchGAN discriminator sees day HR images. CUT's identity NCE becomes: G(day LR) should keep day LR's patches.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from srlib import models, tracking, training, weights
from srlib.cut.train import (
    CUTConfig,
    UnpairedCrops,
    build_cut,
    cut_d_step,
    fit_cut,
    gan_nce_update,
    linear_decay,
    pooled_nce,
)
from srlib.models.cut import NLayerDiscriminator, PatchSampleF
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
from srlib.night2day import data as night2day_data
from srlib.realesrgan.train import fit_realesrgan, load_pretrained_generator, make_vgg

log = logging.getLogger("srlib.train_night2day")

RELEASED_RRDB = {"num_feat": 64, "num_block": 23, "num_grow_ch": 32}  # RealESRGAN_x4plus


def build_sr_generator(
    *, num_feat: int = 64, num_block: int = 23, num_grow_ch: int = 32, weights_mode: str = "auto"
) -> tuple[RRDBNet, weights.WeightStatus]:
    """An x4 RRDBNet, initialised from ``RealESRGAN_x4plus`` when the architecture is the released one.

    The paper fine-tunes the published Real-ESRGAN. A reduced architecture (smoke / CPU profiles) cannot take those
    weights: it starts random and the returned status says so (``source`` ``random-init``, not comparable).
    """
    g = RRDBNet(scale=4, num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch)
    arch = {"num_feat": num_feat, "num_block": num_block, "num_grow_ch": num_grow_ch}
    if arch == RELEASED_RRDB:
        return g, load_pretrained_generator(g, weights_mode)
    reduced = ", ".join(f"{k}={v}" for k, v in arch.items())
    return g, weights.WeightStatus(
        key="realesrgan_x4plus",
        mode=weights_mode,
        source="random-init",
        path=None,
        message=f"reduced RRDBNet ({reduced}; released: 64/23/32): RealESRGAN_x4plus cannot be loaded, random init",
    )


def stack_split(
    pairs: Sequence[night2day_data.Night2DaySample],
    fields: Sequence[str],
    *,
    progress: bool = False,
) -> dict[str, Tensor]:
    """Decode a split once into ``uint8`` tensors ``{field: (N, 3, H, W)}`` (16,088 night2day HR pairs: ~6 GB)."""
    out: dict[str, list[Tensor]] = {f: [] for f in fields}
    for i in tqdm(range(len(pairs)), desc="decode", disable=not progress):
        sample = pairs[i]
        for f in fields:
            out[f].append((getattr(sample, f) * 255).round().to(torch.uint8))
    log.info("decoded %d pairs (%s)", len(pairs), ", ".join(fields))
    return {f: torch.stack(v) for f, v in out.items()}


def _u8_to_float(x: Tensor, device) -> Tensor:
    return x.to(device).float() / 255


def _augment(lq: Tensor, gt: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """BasicSR's ``augment`` (hflip, vflip, transpose, each w.p. 0.5), the same for both images."""
    if torch.rand(1, generator=g) < 0.5:
        lq, gt = lq.flip(-1), gt.flip(-1)
    if torch.rand(1, generator=g) < 0.5:
        lq, gt = lq.flip(-2), gt.flip(-2)
    if torch.rand(1, generator=g) < 0.5:
        lq, gt = lq.transpose(-2, -1), gt.transpose(-2, -1)
    return lq, gt


class PairedCrops:
    """Fixed ``(lq, gt)`` pairs as Real-ESRGAN training batches: random aligned crops, flips and transposes.

    For :func:`srlib.realesrgan.train.fit_realesrgan` (it needs ``batch(step, device)``, ``seed``). ``batch(step)``
    is a pure function of ``(seed, step)``: a resumed run sees the same batches.

    Args:
        lq: ``(N, 3, h, w)`` uint8 (e.g. night LR 64²).
        gt: ``(N, 3, scale*h, scale*w)`` uint8 (night HR for M1's SR, day HR for M2's SR and the paired M3).
        gt_size: HR crop side (256 = the whole night2day image).
        batch_size: pairs per batch.
        seed: base seed.
    """

    def __init__(
        self,
        lq: Tensor,
        gt: Tensor,
        *,
        gt_size: int,
        batch_size: int,
        seed: int = 0,
        scale: int = 4,
    ):
        if lq.dtype != torch.uint8 or gt.dtype != torch.uint8:
            raise TypeError("PairedCrops stores uint8 images (8-bit grid)")
        if len(lq) != len(gt) or len(lq) == 0:
            raise ValueError(
                f"need the same non-zero number of lq and gt images, got {len(lq)} and {len(gt)}"
            )
        if tuple(gt.shape[-2:]) != (lq.shape[-2] * scale, lq.shape[-1] * scale):
            raise ValueError(
                f"gt {tuple(gt.shape[-2:])} is not x{scale} of lq {tuple(lq.shape[-2:])}"
            )
        if gt_size % scale or gt_size > min(gt.shape[-2:]):
            raise ValueError(
                f"gt_size {gt_size} must be a multiple of {scale} and at most {min(gt.shape[-2:])}"
            )
        self.lq, self.gt = lq, gt
        self.gt_size, self.batch_size, self.seed, self.scale = gt_size, batch_size, seed, scale

    def __len__(self) -> int:
        return len(self.lq)

    def batch(self, step: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        g = training.step_generator(self.seed, step)
        s, p = self.scale, self.gt_size // self.scale
        h, w = self.lq.shape[-2:]
        lqs, gts = [], []
        for i in torch.randint(len(self), (self.batch_size,), generator=g).tolist():
            top, left = (
                int(torch.randint(h - p + 1, (1,), generator=g)),
                int(torch.randint(w - p + 1, (1,), generator=g)),
            )
            lq = self.lq[i, :, top : top + p, left : left + p]
            gt = self.gt[i, :, top * s : (top + p) * s, left * s : (left + p) * s]
            lq, gt = _augment(lq, gt, g)
            lqs.append(lq)
            gts.append(gt)
        return _u8_to_float(torch.stack(lqs), device), _u8_to_float(torch.stack(gts), device)


class UnpairedCrossScale:
    """Unpaired M3 batches: night LR from some pairs, day HR (and its LR) from *other*, independently drawn pairs.

    ``batch(step) -> (night_lq, day_hr, day_lq)``, each image flipped horizontally w.p. 0.5 (CUT's only
    augmentation); a pure function of ``(seed, step)``. The pairing of the dataset is deliberately not used.
    """

    def __init__(
        self, night_lq: Tensor, day_hr: Tensor, day_lq: Tensor, *, batch_size: int, seed: int = 0
    ):
        if not (len(night_lq) == len(day_hr) == len(day_lq)) or len(night_lq) == 0:
            raise ValueError(
                "night_lq, day_hr and day_lq must hold the same non-zero number of images"
            )
        self.night_lq, self.day_hr, self.day_lq = night_lq, day_hr, day_lq
        self.batch_size, self.seed = batch_size, seed

    def batch(self, step: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, Tensor]:
        g = training.step_generator(self.seed, step)
        n = len(self.night_lq)
        xs, ys, ys_lq = [], [], []
        for _ in range(self.batch_size):
            i, j = (
                int(torch.randint(n, (1,), generator=g)),
                int(torch.randint(n, (1,), generator=g)),
            )
            x, y, y_lq = self.night_lq[i], self.day_hr[j], self.day_lq[j]
            if torch.rand(1, generator=g) < 0.5:
                x = x.flip(-1)
            if torch.rand(1, generator=g) < 0.5:
                y, y_lq = y.flip(-1), y_lq.flip(-1)
            xs.append(x)
            ys.append(y)
            ys_lq.append(y_lq)
        return tuple(_u8_to_float(torch.stack(t), device) for t in (xs, ys, ys_lq))


# ---------------------------------------------------------------------------------------------- M3 unpaired


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
) -> dict[str, float]:
    """l_G = lambda_GAN LSGAN(D(sr)) + NCE(night_lq, sr) [averaged with NCE(day_lq, G(day_lq)) when given];
    D works on [-1, 1], as CUT's."""
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
) -> tracking.History:
    """Train the unpaired end-to-end M3 with CUT's optimisation (Adam 2e-4, betas 0.5/0.999, linear decay, one LSGAN
    D step then one G+F step per iteration); checkpoint / resume through :func:`srlib.training.resumable_loop`."""
    device = torch.device(device)
    for net in (g, d, f):
        net.to(device).train()
    lr_fn = linear_decay(lr, n_epochs, n_epochs_decay, steps_per_epoch)
    opts = {
        k: torch.optim.Adam(net.parameters(), lr=lr_fn(0), betas=betas)
        for k, net in (("opt_g", g), ("opt_d", d), ("opt_f", f))
    }

    def step_fn(step: int):
        for opt in opts.values():
            training.set_lr(opt, lr_fn(step - 1))
        night_lq, day_hr, day_lq = data.batch(step, device)
        gen = training.step_generator(seed, step, stream=training.STREAM_OFFSET, device=device)
        b = night_lq.shape[0]
        out = g(torch.cat((night_lq, day_lq)) if nce_idt else night_lq)  # one forward, as CUT
        sr, sr_idt = out[:b], (out[b:] if nce_idt else None)
        logs = cut_d_step(d=d, opt_d=opts["opt_d"], fake_y=sr * 2 - 1, real_y=day_hr * 2 - 1)
        logs |= m3_unpaired_g_step(
            g=g,
            f=f,
            d=d,
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
        )
        return logs, {"lr": lr_fn(step - 1)}

    return training.resumable_loop(
        step_fn=step_fn,
        state={"g": g, "d": d, "f": f} | opts,
        iters=iters,
        run_dir=run_dir,
        name=name,
        logger=log,
        log_interval=log_interval,
        ckpt_interval=ckpt_interval,
        resume=resume,
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


def epochs_to_iters(epochs: int, n_train: int, batch_size: int) -> tuple[int, int]:
    """``(iters, steps_per_epoch)`` for ``epochs`` passes over ``n_train`` pairs (the last batch of an epoch full)."""
    if epochs < 1 or n_train < 1 or batch_size < 1:
        raise ValueError(
            f"epochs, n_train and batch_size must be >= 1, got {epochs}, {n_train}, {batch_size}"
        )
    steps = -(-n_train // batch_size)
    return epochs * steps, steps


# ------------------------------------------------------------------------- one call per training stage (notebooks)


def train_sr_stage(
    *,
    lq: Tensor,
    gt: Tensor,
    run_dir: str | Path,
    name: str,
    num_feat: int = 64,
    num_block: int = 23,
    num_grow_ch: int = 32,
    weights_mode: str = "auto",
    vgg_weights: str = "auto",
    d_num_feat: int = 64,
    epochs: int = 300,
    batch_size: int = 12,
    gt_size: int = 256,
    lr_g: float = 2e-4,
    lr_d: float = 2e-4,
    ema_decay: float = 0.999,
    w_pix: float = 1.0,
    w_percep: float = 1.0,
    w_gan: float = 0.1,
    sharpen_gt: bool = True,
    seed: int = 0,
    log_interval: int = 100,
    ckpt_interval: int = 5000,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, tracking.History, dict]:
    """Fine-tune Real-ESRGAN (L1 + perceptual + GAN, U-Net discriminator, EMA) on fixed pairs ``(lq, gt)``.

    M1: night LR → night HR; M2: day LR → day HR; M3 paired: night LR → day HR. ``epochs`` passes over the pairs
    (the paper: 300 epochs, Adam 2e-4). Writes ``run_dir/<name>/`` (checkpoint, history; resumable) and the EMA
    generator as ``run_dir/<name>.pth`` (:func:`srlib.models.save_generator`). Returns ``(g_ema, history, info)``
    where ``info`` holds the weight statuses and the iteration count for the metrics file.
    """

    run_dir = Path(run_dir)
    torch.manual_seed(seed)  # the initialisation depends on the seed only, not on what ran before
    g, g_status = build_sr_generator(
        num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch, weights_mode=weights_mode
    )
    vgg = make_vgg(vgg_weights)
    d = UNetDiscriminatorSN(num_feat=d_num_feat)
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
        lr_g=lr_g,
        lr_d=lr_d,
        ema_decay=ema_decay,
        w_pix=w_pix,
        w_percep=w_percep,
        w_gan=w_gan,
        log_interval=log_interval,
        ckpt_interval=ckpt_interval,
        device=device,
        name=name,
        queue_size=0,
        sharpen_gt=sharpen_gt,
    )
    info = {
        "iters": iters,
        "epochs": epochs,
        "pairs": len(data),
        "weights": {"realesrgan_x4plus": g_status.as_dict(), "vgg19": vgg.status.as_dict()},
    }
    models.save_generator(
        run_dir / f"{name}.pth",
        g_ema.cpu(),
        meta=info,
    )
    return g_ema, history, info


def train_cut_stage(
    *,
    x: Tensor,
    y: Tensor,
    run_dir: str | Path,
    name: str,
    num_feat: int = 64,
    num_block: int = 9,
    d_num_feat: int = 64,
    netf_nc: int = 256,
    num_patches: int = 256,
    epochs: int = 200,
    epochs_decay: int = 0,
    load_size: int = 286,
    crop_size: int = 256,
    batch_size: int = 1,
    lr: float = 2e-4,
    seed: int = 0,
    log_interval: int = 100,
    ckpt_interval: int = 5000,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, tracking.History, dict]:
    """Train CUT (PatchNCE + LSGAN, identity NCE, Adam 2e-4 betas 0.5/0.999) from domain ``x`` to domain ``y``.

    ``x`` and ``y`` are uint8 image stacks, used **unpaired** (independent random draws, CUT's ``unaligned``
    dataset). One epoch = ``len(x) / batch_size`` steps; ``epochs`` at constant rate then ``epochs_decay`` linearly
    to 0 (CUT's ``n_epochs`` / ``n_epochs_decay``). Writes ``run_dir/<name>/`` and ``run_dir/<name>.pth``.
    """

    run_dir = Path(run_dir)
    torch.manual_seed(seed)
    cfg = CUTConfig(
        num_patches=num_patches,
        netf_nc=netf_nc,
        lr=lr,
        batch_size=batch_size,
        n_epochs=epochs,
        n_epochs_decay=epochs_decay,
        load_size=load_size,
        crop_size=crop_size,
    )
    g, d, f = build_cut(
        num_feat=num_feat,
        num_block=num_block,
        num_feat_d=d_num_feat,
        netf_nc=netf_nc,
        nce_layers=cfg.nce_layers,
    )
    data = UnpairedCrops(
        list(x), list(y), load_size=load_size, crop_size=crop_size, batch_size=batch_size, seed=seed
    )
    iters, steps_per_epoch = epochs_to_iters(epochs + epochs_decay, len(x), batch_size)
    log.info(
        "[%s] %d x / %d y images, %d epochs x %d steps = %d iterations",
        name,
        len(x),
        len(y),
        epochs + epochs_decay,
        steps_per_epoch,
        iters,
    )
    history = fit_cut(
        g=g,
        d=d,
        f=f,
        data=data,
        cfg=cfg,
        iters=iters,
        run_dir=run_dir / name,
        steps_per_epoch=steps_per_epoch,
        seed=seed,
        log_interval=log_interval,
        ckpt_interval=ckpt_interval,
        device=device,
        name=name,
    )
    info = {"iters": iters, "epochs": epochs + epochs_decay, "x_images": len(x), "y_images": len(y)}
    models.save_generator(
        run_dir / f"{name}.pth",
        g.cpu().eval(),
        meta=info,
    )
    return g.eval(), history, info


def train_m3_unpaired_stage(
    *,
    night_lq: Tensor,
    day_hr: Tensor,
    day_lq: Tensor,
    run_dir: str | Path,
    name: str = "m3_unpaired",
    num_feat: int = 64,
    num_block: int = 23,
    num_grow_ch: int = 32,
    weights_mode: str = "auto",
    d_num_feat: int = 64,
    netf_nc: int = 256,
    num_patches: int = 256,
    nce_layers: Sequence[int] = (0, 4, 8, 12, 16),
    epochs: int = 200,
    epochs_decay: int = 0,
    batch_size: int = 1,
    lr: float = 2e-4,
    lambda_gan: float = 1.0,
    lambda_nce: float = 1.0,
    nce_idt: bool = True,
    night_hr: Tensor | None = None,
    init_epochs: int = 0,
    init_batch_size: int = 12,
    init_gt_size: int = 256,
    seed: int = 0,
    log_interval: int = 100,
    ckpt_interval: int = 5000,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, tracking.History, dict]:
    """The unpaired end-to-end M3 (:func:`fit_m3_unpaired`) from a Real-ESRGAN-initialised RRDBNet; saves
    ``run_dir/<name>.pth``. ``nce_layers`` index the RRDBNet trunk (0 = conv_first, k = after RRDB k).

    PatchNCE needs a generator whose output already carries the input's structure: the published RealESRGAN_x4plus
    does (it is an SR network). A random-initialised RRDBNet outputs a near-constant image, every patch looks alike
    and PatchNCE sits at chance (log of the patch count) with no useful gradient. ``init_epochs > 0`` therefore first
    trains it as a plain SR network on the **night** pairs ``(night_lq, night_hr)`` with L1 (RealESRNet's loss) —
    the role RealESRGAN_x4plus plays in the paper profile. This uses no night↔day pairing.
    """

    run_dir = Path(run_dir)
    torch.manual_seed(seed)
    g, g_status = build_sr_generator(
        num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch, weights_mode=weights_mode
    )
    nce_layers = tuple(k for k in nce_layers if k <= num_block)
    init_iters = 0
    if init_epochs > 0:
        if night_hr is None:
            raise ValueError(
                "init_epochs > 0 needs night_hr (the SR initialisation trains on night pairs)"
            )
        init_data = PairedCrops(
            night_lq, night_hr, gt_size=init_gt_size, batch_size=init_batch_size, seed=seed
        )
        init_iters, _ = epochs_to_iters(init_epochs, len(init_data), init_batch_size)
        fit_realesrgan(
            g=g,
            data=init_data,
            iters=init_iters,
            run_dir=run_dir / f"{name}_init",
            lr_g=2e-4,
            ema_decay=0.0,
            log_interval=log_interval,
            ckpt_interval=ckpt_interval,
            device=device,
            name=f"{name}_init",
            queue_size=0,
            sharpen_gt=False,
        )
    d = NLayerDiscriminator(num_feat=d_num_feat)
    f = PatchSampleF(in_channels=[num_feat] * len(nce_layers), num_feat=netf_nc)
    data = UnpairedCrossScale(night_lq, day_hr, day_lq, batch_size=batch_size, seed=seed)
    iters, steps_per_epoch = epochs_to_iters(epochs + epochs_decay, len(night_lq), batch_size)
    log.info(
        "[%s] %d pairs (unpaired draws), %d iterations, NCE layers %s",
        name,
        len(night_lq),
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
        n_epochs=epochs,
        n_epochs_decay=epochs_decay,
        lr=lr,
        lambda_gan=lambda_gan,
        lambda_nce=lambda_nce,
        nce_idt=nce_idt,
        nce_layers=nce_layers,
        num_patches=num_patches,
        seed=seed,
        log_interval=log_interval,
        ckpt_interval=ckpt_interval,
        device=device,
        name=name,
    )
    info = {
        "iters": iters,
        "epochs": epochs + epochs_decay,
        "pairs": len(night_lq),
        "nce_layers": list(nce_layers),
        "init_iters": init_iters,
        "weights": {"realesrgan_x4plus": g_status.as_dict()},
    }
    models.save_generator(
        run_dir / f"{name}.pth",
        g.cpu().eval(),
        meta=info,
    )
    return g.eval(), history, info


def nce_at_chance(history: tracking.History, num_patches: int, *, tol: float = 0.01) -> bool:
    """Whether the last logged PatchNCE is within ``tol`` (relative) of chance, ``log(num_patches)``: every patch
    looks alike to the encoder and the loss gives no content constraint."""
    last = history.rows[-1]["l_nce"]
    return abs(last - math.log(num_patches)) <= tol * math.log(num_patches)
