"""CUT / FastCUT training: explicit ``cut_forward`` / ``cut_d_step`` / ``cut_g_step`` and a ``fit_cut`` loop.

Park et al., ECCV 2020, §3 and §4 (settings: ``models/cut_model.py``, ``options/*_options.py`` of
taesungp/contrastive-unpaired-translation). One iteration is CUT's ``optimize_parameters``::

    fake = G(cat(x, y))                 # y only with nce_idt (CUT); the batch is flipped w.p. 0.5 in FastCUT
    D step:  l_D = 0.5 * (mean D(fake_y)^2 + mean (D(y) - 1)^2)           (LSGAN)
    G step:  l_G = lambda_GAN * mean (D(fake_y) - 1)^2 + NCE,   NCE = mean of PatchNCE(x, fake_y) [and (y, idt_y)]
             PatchNCE(src, tgt) = lambda_NCE * mean over layers of patch_nce(F(G_enc(tgt)), F(G_enc(src)))

G and the projection head F are updated together. There is no image pool (CUT sets ``pool_size=0``; the 50-image
pool is CycleGAN's default). Learning rates: Adam(2e-4, betas 0.5 / 0.999) for G, D and F, constant for
``n_epochs`` and linearly decayed over ``n_epochs_decay`` (:func:`linear_decay`). Images are in [-1, 1].
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from srlib import distributed, losses, tracking, training
from srlib import precision as amp
from srlib.cut.data import UnpairedCrops
from srlib.models.cut import NLayerDiscriminator, PatchSampleF, ResnetGenerator

log = logging.getLogger("srlib.train_cut")


@dataclass
class CUTConfig:
    """CUT's defaults (``--CUT_mode CUT``); :meth:`fastcut` gives FastCUT's."""

    lambda_gan: float = 1.0
    lambda_nce: float = 1.0  # FastCUT: 10
    nce_idt: bool = True  # identity NCE on G(y) vs y; FastCUT: False
    flip_equivariance: bool = False  # FastCUT: True
    nce_layers: tuple[int, ...] = (0, 4, 8, 12, 16)
    num_patches: int = 256
    nce_t: float = 0.07
    netf_nc: int = 256
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 1
    n_epochs: int = 200  # FastCUT: 150
    n_epochs_decay: int = 200  # FastCUT: 50
    load_size: int = 286
    crop_size: int = 256
    pool_size: int = 0  # no image pool in CUT

    @classmethod
    def fastcut(cls, **overrides) -> CUTConfig:
        """FastCUT (CUT's ``--CUT_mode FastCUT``): no identity NCE, lambda_NCE 10, flip equivariance, 150 + 50."""
        return replace(
            cls(
                nce_idt=False,
                lambda_nce=10.0,
                flip_equivariance=True,
                n_epochs=150,
                n_epochs_decay=50,
            ),
            **overrides,
        )


def linear_decay(
    lr: float, n_epochs: int, n_epochs_decay: int, steps_per_epoch: int
) -> Callable[[int], float]:
    """CUT's ``lr_policy linear`` as a function of the (0-based) step.

    Epoch ``e = step // steps_per_epoch + 1`` runs at ``lr * (1 - max(0, e - n_epochs) / (n_epochs_decay + 1))``:
    constant for ``n_epochs`` epochs, then linearly towards 0 over ``n_epochs_decay`` epochs.
    """

    def fn(step: int) -> float:
        epoch = step // steps_per_epoch + 1
        return lr * (1.0 - max(0, epoch - n_epochs) / float(n_epochs_decay + 1))

    return fn


def build_cut(
    *,
    num_feat: int = 64,
    num_block: int = 9,
    num_feat_d: int = 64,
    netf_nc: int = 256,
    nce_layers: Sequence[int] = (0, 4, 8, 12, 16),
) -> tuple[ResnetGenerator, NLayerDiscriminator, PatchSampleF]:
    """G (ResNet-9, ngf 64), D (PatchGAN, ndf 64) and F (MLP head on the NCE layers' channels)."""
    g = ResnetGenerator(num_feat=num_feat, num_block=num_block)
    d = NLayerDiscriminator(num_feat=num_feat_d)
    f = PatchSampleF(in_channels=g.feature_channels(nce_layers), num_feat=netf_nc)
    return g, d, f


def _flip_draw(generator: torch.Generator | None) -> bool:
    return bool(
        torch.rand(1, generator=generator, device=generator.device if generator else "cpu") < 0.5
    )


def cut_forward(
    *,
    g: ResnetGenerator,
    real_x: torch.Tensor,
    real_y: torch.Tensor,
    nce_idt: bool,
    flip_equivariance: bool,
    generator: torch.Generator | None = None,
    precision: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
    """``(fake_y, idt_y, flipped)``: G on x (and y, for the identity NCE) in one batch; FastCUT flips it w.p. 0.5.

    ``precision``: G's forward pass under autocast (``fp32``: none).
    """
    real = torch.cat((real_x, real_y)) if nce_idt else real_x
    flipped = flip_equivariance and _flip_draw(generator)
    if flipped:
        real = torch.flip(real, [3])
    with amp.autocast(precision, real.device):
        fake = g(real)
    b = real_x.shape[0]
    return fake[:b], (fake[b:] if nce_idt else None), flipped


def cut_d_step(
    *,
    d: nn.Module,
    opt_d: torch.optim.Optimizer,
    fake_y: torch.Tensor,
    real_y: torch.Tensor,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """LSGAN discriminator update on the (detached) fake and a real batch; l_D = 0.5 (l_fake + l_real).

    ``precision``: D's forward passes and the losses under autocast (``fp32``: none); ``scaler``: fp16 scaling.
    """
    opt_d.zero_grad(set_to_none=True)
    with amp.autocast(precision, real_y.device):
        l_real, l_fake = losses.lsgan_d_loss(d(real_y), d(fake_y.detach()))
        l_d = 0.5 * (l_real + l_fake)
    amp.backward_step(l_d, opt_d, scaler)
    return {"l_d_real": l_real.item(), "l_d_fake": l_fake.item()}


def nce_loss(
    *,
    g: ResnetGenerator,
    f: PatchSampleF,
    src: torch.Tensor,
    tgt: torch.Tensor,
    nce_layers: Sequence[int],
    num_patches: int = 256,
    nce_t: float = 0.07,
    lambda_nce: float = 1.0,
    flipped: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """CUT's ``calculate_NCE_loss(src, tgt)``: queries from G's encoder on ``tgt`` (G's output), keys on ``src``.

    With flip equivariance the output was computed from the flipped input, so its features are flipped back
    before they are compared with the unflipped source at the same locations.
    """
    feat_q = g.encode(tgt, nce_layers)
    if flipped:
        feat_q = [torch.flip(fq, [3]) for fq in feat_q]
    feat_k = g.encode(src, nce_layers)
    return pooled_nce(
        f,
        feat_q,
        feat_k,
        num_patches=num_patches,
        nce_t=nce_t,
        lambda_nce=lambda_nce,
        generator=generator,
    )


def pooled_nce(
    f: PatchSampleF,
    feat_q: Sequence[torch.Tensor],
    feat_k: Sequence[torch.Tensor],
    *,
    num_patches: int,
    nce_t: float,
    lambda_nce: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """PatchNCE over encoder layers: ``num_patches`` key locations drawn per layer, the queries taken at the same
    locations, ``lambda_nce`` times the mean over layers (CUT's ``calculate_NCE_loss`` after the encoding)."""
    k_pool, ids = f(feat_k, num_patches, None, generator=generator)
    q_pool, _ = f(feat_q, num_patches, ids)
    return sum(
        lambda_nce * losses.patch_nce(q, k, tau=nce_t) for q, k in zip(q_pool, k_pool)
    ) / len(feat_q)


def cut_g_step(
    *,
    g: ResnetGenerator,
    f: PatchSampleF,
    d: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_f: torch.optim.Optimizer,
    real_x: torch.Tensor,
    real_y: torch.Tensor,
    fake_y: torch.Tensor,
    idt_y: torch.Tensor | None,
    flipped: bool = False,
    lambda_gan: float = 1.0,
    lambda_nce: float = 1.0,
    nce_layers: Sequence[int] = (0, 4, 8, 12, 16),
    num_patches: int = 256,
    nce_t: float = 0.07,
    generator: torch.Generator | None = None,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """Generator + projection-head update: l_G = lambda_GAN l_GAN + NCE (averaged with the identity NCE if given)."""
    kw = dict(
        g=g,
        f=f,
        nce_layers=nce_layers,
        num_patches=num_patches,
        nce_t=nce_t,
        lambda_nce=lambda_nce,
        flipped=flipped,
        generator=generator,
    )
    nce_pairs = [(real_x, fake_y)] + ([(real_y, idt_y)] if idt_y is not None else [])
    return gan_nce_update(
        d=d,
        opt_g=opt_g,
        opt_f=opt_f,
        fake_for_d=fake_y,
        lambda_gan=lambda_gan,
        nce_pairs=nce_pairs,
        nce_fn=lambda src, tgt: nce_loss(src=src, tgt=tgt, **kw),
        precision=precision,
        scaler=scaler,
    )


def gan_nce_update(
    *,
    d: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_f: torch.optim.Optimizer,
    fake_for_d: torch.Tensor,
    lambda_gan: float,
    nce_pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
    nce_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """CUT's G + F update, shared with the cross-scale M3 of :mod:`srlib.night2day.m3`.

    ``l_G = lambda_GAN * LSGAN_G(D(fake)) + NCE``, where NCE is ``nce_fn(src, tgt)`` of the first (input, output)
    pair, averaged with the second (the identity pair) when given. D is frozen during the update. ``precision``:
    the forward passes and losses under autocast (``fp32``: none); ``scaler``: fp16 scaling of the one loss that
    G and F share (both optimisers stepped through it, then one update).
    """
    opt_g.zero_grad(set_to_none=True)
    opt_f.zero_grad(set_to_none=True)
    logs: dict[str, float] = {}
    with amp.autocast(precision, fake_for_d.device):
        with training.frozen(d):  # D gets no gradient from the G step
            l_gan = (
                lambda_gan * losses.lsgan_g_loss(d(fake_for_d))
                if lambda_gan > 0
                else fake_for_d.new_zeros(())
            )
        l_nce = nce_fn(*nce_pairs[0])
        l_total_nce = l_nce
        if len(nce_pairs) > 1:
            l_nce_y = nce_fn(*nce_pairs[1])
            l_total_nce = 0.5 * (l_nce + l_nce_y)
            logs["l_nce_y"] = l_nce_y.item()
        total = l_gan + l_total_nce
    amp.backward_step(total, (opt_g, opt_f), scaler)
    return logs | {"l_g_gan": l_gan.item(), "l_nce": l_nce.item(), "l_g_total": total.item()}


def cut_train_step(
    *,
    g: ResnetGenerator,
    f: PatchSampleF,
    d: nn.Module,
    opt_g,
    opt_f,
    opt_d,
    real_x: torch.Tensor,
    real_y: torch.Tensor,
    cfg: CUTConfig,
    generator: torch.Generator | None = None,
    precision: str = "fp32",
    scaler_g: torch.amp.GradScaler | None = None,
    scaler_d: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """One CUT iteration (forward, D step, G step) with the settings of ``cfg``.

    ``precision``: every forward pass under autocast (``fp32``: none); ``scaler_g`` (G and F) / ``scaler_d``: fp16
    loss scaling.
    """
    fake_y, idt_y, flipped = cut_forward(
        g=g,
        real_x=real_x,
        real_y=real_y,
        nce_idt=cfg.nce_idt,
        flip_equivariance=cfg.flip_equivariance,
        generator=generator,
        precision=precision,
    )
    logs = cut_d_step(
        d=d, opt_d=opt_d, fake_y=fake_y, real_y=real_y, precision=precision, scaler=scaler_d
    )
    logs |= cut_g_step(
        g=g,
        f=f,
        d=d,
        opt_g=opt_g,
        opt_f=opt_f,
        real_x=real_x,
        real_y=real_y,
        fake_y=fake_y,
        idt_y=idt_y,
        flipped=flipped,
        lambda_gan=cfg.lambda_gan,
        lambda_nce=cfg.lambda_nce,
        nce_layers=cfg.nce_layers,
        num_patches=cfg.num_patches,
        nce_t=cfg.nce_t,
        generator=generator,
        precision=precision,
        scaler=scaler_g,
    )
    return logs


def fit_cut(
    *,
    g: ResnetGenerator,
    d: NLayerDiscriminator,
    f: PatchSampleF,
    data: UnpairedCrops,
    cfg: CUTConfig,
    iters: int,
    run_dir: str | Path,
    steps_per_epoch: int,
    seed: int = 0,
    log_interval: int = 100,
    ckpt_interval: int = 1000,
    device: torch.device | str = "cpu",
    resume: bool = True,
    name: str = "cut",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: str = "off",
) -> tracking.History:
    """Train CUT / FastCUT for ``iters`` steps; ``last.pth`` (full state) every ``ckpt_interval`` steps, resumable.

    ``steps_per_epoch`` converts CUT's per-epoch linear decay into steps (the size of the x set for batch 1).
    The random draws of a step (flip, patch locations) come from a generator seeded with ``(seed, step)``, so a
    resumed run repeats the uninterrupted one. ``precision``: ``fp32`` (default; exactly the plain computation),
    ``bf16`` or ``fp16`` autocast of the forward passes (fp16: a GradScaler for G + F and one for D, checkpointed).
    ``channels_last`` / ``compile``: NHWC networks and batches / torch.compile of G and D (checkpoints: the plain nets).
    """
    device = torch.device(device)
    amp.check_instance_norm_layout(
        channels_last=channels_last, device=device, batch_size=data.batch_size, where=name
    )
    for net in (g, d, f):
        amp.place(net, device, channels_last=channels_last).train()
    lr_fn = linear_decay(cfg.lr, cfg.n_epochs, cfg.n_epochs_decay, steps_per_epoch)
    opts = {
        k: torch.optim.Adam(net.parameters(), lr=lr_fn(0), betas=cfg.betas)
        for k, net in (("opt_g", g), ("opt_d", d), ("opt_f", f))
    }
    scalers = {k: amp.grad_scaler(precision, device) for k in ("scaler_g", "scaler_d")}
    scalers = {k: v for k, v in scalers.items() if v is not None}  # fp16 only
    # G's and D's forward passes through the compiled wrappers (G's encoder, used by PatchNCE, and F stay eager);
    # the loop's state and the checkpoints keep the networks themselves
    # under torchrun (srlib.distributed): DDP around G, D and F; PatchNCE's locations and FastCUT's flip come from
    # the step's generator, the same on every rank, so each rank's slice sees one process's draws
    run_g, run_d = (distributed.wrap(amp.compiled(n, compile), device) for n in (g, d))
    run_f = distributed.wrap(f, device)

    def step_fn(step: int):
        for opt in opts.values():
            training.set_lr(opt, lr_fn(step - 1))
        real_x, real_y = (
            amp.layout(t.to(device), channels_last=channels_last)
            for t in distributed.shard(*data.batch(step))  # this rank's slice of the global batch
        )
        gen = training.step_generator(
            seed, step, stream=training.STREAM_OFFSET, device=device
        )  # apart from the data's
        logs = cut_train_step(
            g=run_g,
            f=run_f,
            d=run_d,
            real_x=real_x,
            real_y=real_y,
            cfg=cfg,
            generator=gen,
            precision=precision,
            **opts,
            **scalers,
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
        config=asdict(cfg) | {"seed": seed, "steps_per_epoch": steps_per_epoch},
    )
