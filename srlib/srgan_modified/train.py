"""Training recipe of the modified SRGAN, as the seed's ``SRGAN_train.py`` runs it.

Seed: vTuanpham/SRGAN_Reimplementation_modified. What differs from Ledig's recipe (:mod:`srlib.srgan.train`) and is kept:

* **no SRResNet pre-training**: the GAN trains from scratch;
* **content loss** = equal-weight MSE of three VGG19 maps (block2_conv2, block3_conv2, block3_conv4 after ReLU,
  :func:`srlib.losses.multi_layer_content`), RGB in [0, 1] fed to VGG without ImageNet normalisation, plus the
  adversarial BCE at weight 1e-3 (``loss_weights=[1e-3, 1]``);
* **Adam at Keras defaults** (lr 1e-3, eps 1e-7) for both networks;
* **batch size 1** ("since dataset is varying in subject with little correlation");
* **D is updated twice per step**, once on the real batch and once on the fake batch, in random order (two
  ``train_on_batch`` calls), so its BN layers see single-class batches;
* the fake images for D come from ``generator.predict_on_batch`` (BN in inference mode, with the **moving**
  statistics whatever the generator's ``bn_inference``: the recipe is the seed's in both modes), and in the G step
  D is frozen with ``trainable = False``, which in TF2 Keras also runs D's BN in inference mode.

What the stage reports is the generator with ``cfg.bn_inference`` statistics at inference (default ``per_image``,
NOT the seed's: a batch-1 network normalised with the moving averages collapses, notebook 20), with the seed's
moving statistics measured beside it (``val_gain_db_moving``, the BN check) and the zero-padded twin as the contrast.

:func:`fit` keeps srlib's conventions: batches are pure functions of ``(seed, step)`` (so is the real/fake order),
an interval log line, ``last.pth`` checkpoints with resume, a ``history.csv``. The stage (notebook 20) works through
the functions that take its config (:class:`~srlib.srgan_modified.config.SRGANModifiedTrainConfig`):
:func:`build_generator`, :func:`build_discriminator`, :func:`build_content_features`, :func:`training_patches`,
:func:`train_network`, :func:`bn_check`, :func:`bn_offset_profile`, the metrics blocks and :func:`conclusions`;
each hyperparameter is read in one place there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from srlib import distributed, evaluation, losses, tracking, training, viz
from srlib import precision as amp
from srlib.data import images, splits
from srlib.data.patches import PairedPatches
from srlib.models import SRGANModifiedDiscriminator, SRGANModifiedGenerator
from srlib.models.srgan_modified import bn_statistics
from srlib.srgan_modified import bn as bn_modes
from srlib.srgan_modified import figures
from srlib.srgan_modified.config import SRGANModifiedTrainConfig
from srlib.training import validation_hook

log = logging.getLogger("srlib.train_modified")


def seed_d_step(
    *,
    d: nn.Module,
    opt_d: torch.optim.Optimizer,
    fake: torch.Tensor,
    gt: torch.Tensor,
    real_first: bool,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """Two discriminator updates, one per class, in the given order (the seed's two ``train_on_batch`` calls).

    ``precision``: D's forward and the BCE under autocast (``fp32``: none); ``scaler``: fp16 loss scaling.
    """
    d.train()
    logs = {}
    for which in ("real", "fake") if real_first else ("fake", "real"):
        x, target = (gt, 1.0) if which == "real" else (fake.detach(), 0.0)
        opt_d.zero_grad(set_to_none=True)
        with amp.autocast(precision, x.device):
            logits = d(x)
            loss = nn.functional.binary_cross_entropy_with_logits(
                logits, torch.full_like(logits, target)
            )
        amp.backward_step(loss, opt_d, scaler)
        logs[f"l_d_{which}"] = loss.item()
        logs[f"d_{which}"] = torch.sigmoid(logits.detach()).mean().item()
    return logs


def seed_g_step(
    *,
    g: nn.Module,
    opt_g: torch.optim.Optimizer,
    lq: torch.Tensor,
    gt: torch.Tensor,
    d: nn.Module,
    vgg: losses.VGGFeatures,
    w_content: float = 1.0,
    w_adv: float = 1e-3,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """One generator update: l_G = w_content * sum_k MSE(phi_k) + w_adv * BCE(D(G(lq)), real).

    ``precision``: the forward passes and losses under autocast (``fp32``: none); ``scaler``: fp16 loss scaling.
    """
    g.train()
    d.eval()  # Keras `trainable = False` on D inside the combined model: BN in inference mode, no D updates
    with training.frozen(d):
        opt_g.zero_grad(set_to_none=True)
        with amp.autocast(precision, lq.device):
            sr = g(lq)
            terms = {"l_g_content": w_content * losses.multi_layer_content(sr, gt, vgg)}
            if w_adv:
                terms["l_g_gan"] = w_adv * losses.gan_g_loss(d(sr))
            total = sum(terms.values())
        amp.backward_step(total, opt_g, scaler)
    return {k: v.item() for k, v in terms.items()} | {"l_g_total": total.item()}


def fit(
    *,
    g: nn.Module,
    d: nn.Module,
    vgg: losses.VGGFeatures,
    data: PairedPatches,
    iters: int,
    run_dir: str | Path,
    lr_g: float = 1e-3,
    lr_d: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-7,
    w_content: float = 1.0,
    w_adv: float = 1e-3,
    log_interval: int = 100,
    ckpt_interval: int = 1000,
    val_interval: int = 0,
    val_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    resume: bool = True,
    name: str = "srgan_modified",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: str = "off",
) -> tracking.History:
    """Train ``g`` and ``d`` with the seed's recipe for ``iters`` steps; return the history (also in run_dir).

    ``run_dir`` receives ``last.pth`` (full state, for resume) and ``history.csv``. ``precision``: ``fp32`` (default;
    exactly the plain computation), ``bf16`` or ``fp16`` autocast of every forward pass (fp16 with a GradScaler per
    optimiser, checkpointed, so a resumed run repeats the uninterrupted one). ``channels_last`` / ``compile``: NHWC
    networks and batches, ``torch.compile`` of G and D (:mod:`srlib.precision`; checkpoints keep the plain modules).
    """
    device = torch.device(device)
    for net in (g, d, vgg):
        amp.place(net, device, channels_last=channels_last)
    # the steps' callables (DDP under torchrun: srlib.distributed); the checkpoints keep g and d
    run_g, run_d = (distributed.wrap(amp.compiled(n, compile), device) for n in (g, d))
    opt_g = torch.optim.Adam(g.parameters(), lr=lr_g, betas=betas, eps=adam_eps)
    opt_d = torch.optim.Adam(d.parameters(), lr=lr_d, betas=betas, eps=adam_eps)
    scaler_g, scaler_d = amp.grad_scaler(precision, device), amp.grad_scaler(precision, device)
    state = {"g": g, "d": d, "opt_g": opt_g, "opt_d": opt_d}
    state |= {"scaler_g": scaler_g, "scaler_d": scaler_d} if scaler_g else {}

    def step_fn(step: int):
        lq, gt = (amp.layout(t, channels_last=channels_last) for t in data.batch(step, device))
        lq, gt = distributed.shard(lq, gt)
        run_g.eval()  # generator.predict_on_batch: BN with its moving statistics (in either bn_inference mode)
        with torch.no_grad(), amp.autocast(precision, device), bn_statistics(g, "moving"):
            fake = run_g(lq)
        order_rng = training.step_generator(
            data.seed, step, stream=training.STREAM_OFFSET
        )  # pure function of the step
        real_first = bool(
            torch.randint(2, (1,), generator=order_rng).item()
        )  # the seed's randint(0, 1)
        logs = seed_d_step(
            d=run_d,
            opt_d=opt_d,
            fake=fake,
            gt=gt,
            real_first=real_first,
            precision=precision,
            scaler=scaler_d,
        )
        logs |= seed_g_step(
            g=run_g,
            opt_g=opt_g,
            lq=lq,
            gt=gt,
            d=run_d,
            vgg=vgg,
            w_content=w_content,
            w_adv=w_adv,
            precision=precision,
            scaler=scaler_g,
        )
        return logs, {}

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
        val_fn=validation_hook(g, val_fn, name),
        val_interval=val_interval,
        progress=progress,
        precision=precision,
        config={
            "lr_g": lr_g,
            "lr_d": lr_d,
            "betas": tuple(betas),
            "adam_eps": adam_eps,
            "w_content": w_content,
            "w_adv": w_adv,
            "gt_size": data.gt_size,
            "batch_size": data.batch_size,
            "seed": data.seed,
        },
    )
    g.eval()
    return history


# ---------------------------------------------------------------------------------------------------------------------
# the stage (notebook 20): everything built from its config, each hyperparameter read once


def _generator_kwargs(cfg: SRGANModifiedTrainConfig, padding: str | None = None) -> dict:
    return dict(
        num_feat=cfg.num_feat,
        num_block=cfg.num_block,
        num_up_feat=cfg.num_up_feat,
        scale=cfg.scale,
        padding=cfg.padding if padding is None else padding,
        bn_momentum=cfg.bn_momentum,
        bicubic_skip=cfg.bicubic_skip,
        bn_inference=cfg.bn_inference,
    )


def _discriminator_kwargs(cfg: SRGANModifiedTrainConfig) -> dict:
    return dict(num_feat=cfg.d_num_feat, fc_dim=cfg.d_fc_dim, input_size=cfg.gt_size)


def build_generator(
    cfg: SRGANModifiedTrainConfig, padding: str | None = None
) -> SRGANModifiedGenerator:
    """The seed's generator as ``cfg`` sets it (``cfg.bn_inference`` statistics at inference); ``padding`` overrides
    ``cfg.padding`` (``"zeros"``: the twin)."""
    return SRGANModifiedGenerator(**_generator_kwargs(cfg, padding))


def build_discriminator(cfg: SRGANModifiedTrainConfig) -> SRGANModifiedDiscriminator:
    """The seed's discriminator for ``cfg.gt_size`` inputs (its dense head fixes the input size)."""
    return SRGANModifiedDiscriminator(**_discriminator_kwargs(cfg))


def build_content_features(cfg: SRGANModifiedTrainConfig) -> losses.VGGFeatures:
    """The VGG19 maps of the content loss (the seed's three layers, RGB [0, 1] straight in)."""
    return losses.VGGFeatures(
        layers=list(cfg.content_layers), weights_mode=cfg.vgg_weights, normalize=cfg.vgg_normalize
    )


def run_labels(cfg: SRGANModifiedTrainConfig) -> list[str]:
    """The caveats printed with every number of the run (``run_label``; the bicubic skip and mixed precision when on)."""
    labels = [cfg.run_label] if cfg.run_label else []
    if cfg.bicubic_skip:
        labels.append(
            "bicubic skip: the generator learns a residual over bicubic (not the seed's architecture)"
        )
    if cfg.precision != "fp32":
        labels.append(
            f"mixed precision: training steps under {cfg.precision} autocast (the seed: fp32)"
        )
    if cfg.bn_inference != "moving":
        labels.append(bn_modes.inference_label(cfg.bn_inference))
    return labels


def training_patches(cfg: SRGANModifiedTrainConfig, files: list[Path]) -> PairedPatches:
    """Random HR crops of the training photos with their MATLAB-bicubic LR inputs (batches a function of the step)."""
    return PairedPatches(
        images.load_images(files, max_side=cfg.train_max_side),
        scale=cfg.scale,
        gt_size=cfg.gt_size,
        batch_size=cfg.batch_size,
        flat_threshold=cfg.flat_threshold,
        seed=cfg.seed,
    )


def validation(
    cfg: SRGANModifiedTrainConfig, bench_pairs, device
) -> Callable[[nn.Module], dict[str, float]]:
    """PSNR-Y on ``cfg.val_crop`` centre crops of the benchmark (``crop_border = scale``), gain over bicubic, in the
    generator's own BN mode (:func:`train_network` adds the other mode's)."""
    return evaluation.validation_fn(
        bench_pairs, scale=cfg.scale, crop_border=cfg.scale, crop=cfg.val_crop, device=device
    )


def train_network(
    cfg: SRGANModifiedTrainConfig,
    g: SRGANModifiedGenerator,
    *,
    vgg: losses.VGGFeatures,
    data: PairedPatches,
    val_fn: Callable[[nn.Module], dict[str, float]] | None,
    run: Path,
    device,
) -> tracking.History:
    """:func:`fit` ``g`` against a fresh discriminator with ``cfg``'s recipe, in ``run / g.padding``; each validation
    in ``g``'s BN mode (``val_gain_db``, ...) and in the other (``val_gain_db_moving``, ... by default)."""
    return fit(
        g=g,
        d=build_discriminator(cfg),
        vgg=vgg,
        data=data,
        iters=cfg.iters,
        run_dir=Path(run) / g.padding,
        lr_g=cfg.lr_g,
        lr_d=cfg.lr_d,
        betas=(cfg.beta1, 0.999),
        adam_eps=cfg.adam_eps,
        w_content=cfg.w_content,
        w_adv=cfg.w_adv,
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        val_interval=cfg.val_interval,
        val_fn=bn_modes.with_other_mode(val_fn) if val_fn is not None else None,
        device=device,
        progress=cfg.progress,
        name=f"srgan_modified[{g.padding}]",
        precision=cfg.precision,
        channels_last=cfg.channels_last,
        compile=cfg.compile,
    )


def generator_meta(
    cfg: SRGANModifiedTrainConfig, vgg: losses.VGGFeatures, labels: list[str]
) -> dict:
    """What ``generator.pth`` carries besides the architecture: the VGG19 status, the steps, the caveats."""
    return {"vgg19": vgg.status.as_dict(), "iters": cfg.iters, "labels": labels}


def bn_check(
    cfg: SRGANModifiedTrainConfig,
    g: nn.Module,
    data: PairedPatches,
    val_fn: Callable[[nn.Module], dict[str, float]],
    *,
    device="cpu",
) -> dict[str, dict[str, float]]:
    """:func:`~srlib.srgan_modified.bn.bn_inference_check` over ``cfg.bn_check_batches`` crops; ``{}`` when that is
    0 (check skipped) or there is no network (``g`` None: no zero-padded twin)."""
    if not cfg.bn_check_batches or g is None:
        return {}
    return bn_modes.bn_inference_check(g, data, val_fn, batches=cfg.bn_check_batches, device=device)


def bn_table(bn: dict, bn_zero: dict | None = None) -> pd.DataFrame:
    """The BN check as a table: one row per inference mode, validation PSNR-Y / SSIM-Y / gain of the network and,
    when given, of its zero-padded twin (columns ``zero padding: ...``)."""
    table = pd.DataFrame(bn).T
    if bn_zero:
        table = table.join(pd.DataFrame(bn_zero).T.add_prefix("zero padding: "))
    return table


def _networks(cfg: SRGANModifiedTrainConfig, g: nn.Module, g_zero: nn.Module | None) -> dict:
    """``{"<padding> padding": g}`` and, when trained, ``{"zero-padded twin": g_zero}``."""
    return {f"{cfg.padding} padding": g} | (
        {"zero-padded twin": g_zero} if g_zero is not None else {}
    )


def bn_offset_profile(
    cfg: SRGANModifiedTrainConfig,
    g: nn.Module,
    g_zero: nn.Module | None,
    bench_pairs,
    *,
    device="cpu",
) -> dict[str, dict[str, float]]:
    """:func:`~srlib.srgan_modified.bn.bn_offsets` of the network and its zero-padded twin on the benchmark's LR
    centre crops (``cfg.val_crop / scale`` px, the validation's): the seed's moving statistics, layer by layer."""
    side = cfg.val_crop // cfg.scale
    lqs = [evaluation.center_crop(lq, side) for _name, lq, _gt in bench_pairs]
    return {
        name: bn_modes.bn_offsets(net, lqs, device=device)
        for name, net in _networks(cfg, g, g_zero).items()
    }


FINAL_KEYS = ("val_psnr_y", "val_gain_db", "l_g_content", "l_g_gan", "l_d_real", "l_d_fake")


def mode_gains(bn: dict) -> dict[str, float]:
    """``{bn_inference mode: val_gain_db}`` from a BN check (:func:`bn_check`), for the collapse labels."""
    return {
        mode: bn[label]["val_gain_db"]
        for mode, label in bn_modes.MODE_LABELS.items()
        if label in bn
    }


def final_metrics(
    cfg: SRGANModifiedTrainConfig, frame, bn: dict, bn_zero: dict | None = None
) -> dict:
    """The metrics block: the last logged value of each :data:`FINAL_KEYS` (in ``cfg.bn_inference`` mode) and of
    ``val_gain_db`` in the other mode, the training time, the BN check of the network and of its zero-padded twin,
    and whether the reported network collapsed (:data:`~srlib.srgan_modified.figures.COLLAPSE_GAIN_DB`)."""
    last = frame.ffill().iloc[-1]
    final = {k: float(last[k]) for k in FINAL_KEYS}
    alt = f"val_gain_db_{bn_modes.other_mode(cfg.bn_inference)}"
    if alt in last:
        final[alt] = float(last[alt])
    return final | {
        "bn_inference": cfg.bn_inference,
        "collapsed": figures.collapsed(final["val_gain_db"]),
        "collapse_threshold_db": figures.COLLAPSE_GAIN_DB,
        "iters": cfg.iters,
        "train_minutes": float((frame.sec_per_iter * cfg.log_interval).sum() / 60),
        "zero_padding_twin": bool(cfg.train_zero_padding),
        "bn_check": bn,
        "bn_check_zero_padding": bn_zero or {},
    }


def title_tag(cfg: SRGANModifiedTrainConfig, final: dict) -> str:
    """SMOKE / COLLAPSED suffix of this run's figure titles (the reported network: ``cfg.bn_inference`` mode)."""
    other = bn_modes.other_mode(cfg.bn_inference)
    gains = {cfg.bn_inference: final["val_gain_db"]}
    if f"val_gain_db_{other}" in final:
        gains[other] = final[f"val_gain_db_{other}"]
    return figures.mode_tag(cfg.profile, cfg.bn_inference, gains)


def conclusions(
    cfg: SRGANModifiedTrainConfig,
    final: dict,
    offsets: dict[str, dict[str, float]] | None = None,
) -> list[str]:
    """Plain sentences, with this run's numbers, about the network, the seed's BN inference and the twin."""
    mode, labels = cfg.bn_inference, bn_modes.MODE_LABELS
    gain = final["val_gain_db"]
    verdict = (
        "COLLAPSED"
        if figures.collapsed(gain)
        else "works" + (" (within 1 dB of bicubic or better)" if gain >= -1 else "")
    )
    out = [
        f"The network ({cfg.padding} padding, {labels[mode]} at inference): PSNR-Y {final['val_psnr_y']:.2f} dB on "
        f"the validation crops, {gain:+.2f} dB against bicubic -- {verdict}."
    ]
    for name, key in (("network", "bn_check"), ("zero-padded twin", "bn_check_zero_padding")):
        g = mode_gains(final.get(key) or {})
        if len(g) == 2:
            mv, pi = g["moving"], g["per_image"]
            state = "COLLAPSES" if figures.collapsed(mv) else "does not collapse"
            out.append(
                f"The {name} with the seed's inference ({labels['moving']}): {mv:+.2f} dB against bicubic vs "
                f"{pi:+.2f} dB with {labels['per_image']} (same weights): the seed's inference {state} it"
                + (
                    f" -- here the run disagrees with the seed, whose report shows working outputs of its "
                    f"moving statistics (its shipped model: epoch 12, ~300,000 batch-1 updates; this run: "
                    f"{cfg.iters:,})."
                    if figures.collapsed(mv) and not figures.collapsed(pi)
                    else "."
                )
            )
    for padding, per_layer in (offsets or {}).items():
        v = list(per_layer.values())
        if v:
            out.append(
                f"BN offset of the moving statistics ({padding}): {v[0]:.2f} at the first BN layer, "
                f"{max(v):.2f} at most, {v[-1]:.2f} at the last (the upsampler's), in units of the moving std."
            )
    return out


def metrics_data(cfg: SRGANModifiedTrainConfig, manifest: dict) -> dict:
    """The ``data`` block of the metrics file: the training split and the validation crops."""
    train = splits.split_info(manifest, "train")
    return {
        "name": train["name"],
        "proxy": manifest["proxy"],
        "train": train["source"],
        "validation": f"centre crops {cfg.val_crop}px of {splits.split_info(manifest, 'bench')['name']}",
    }


def metrics_config(cfg: SRGANModifiedTrainConfig) -> dict:
    """The ``config`` block of the metrics file: the generator's constructor arguments, the discriminator's under a
    ``d_`` prefix, then the recipe. (Until this version the two sets were merged, so ``num_feat`` recorded the
    discriminator's width; the two coincide in the smoke and photos profiles, not in the paper one.)"""
    return (
        _generator_kwargs(cfg)
        | {f"d_{k}": v for k, v in _discriminator_kwargs(cfg).items()}
        | dict(
            gt_size=cfg.gt_size,
            batch_size=cfg.batch_size,
            iters=cfg.iters,
            lr_g=cfg.lr_g,
            lr_d=cfg.lr_d,
            adam_eps=cfg.adam_eps,
            w_content=cfg.w_content,
            w_adv=cfg.w_adv,
            content_layers=list(cfg.content_layers),
            vgg_normalize=cfg.vgg_normalize,
            seed=cfg.seed,
        )
    )


# ---------------------------------------------------------------------------------------------------------------------
# notebook 20's figures: every title ends with title_tag (SMOKE / COLLAPSED), every panel names its BN mode


def gain_figure(cfg: SRGANModifiedTrainConfig, hist, hist_zero, final: dict):
    """Validation gain over bicubic during training: the network and its twin, each in both BN modes."""
    frames = {cfg.padding: hist.to_frame()} | (
        {"zero": hist_zero.to_frame()} if hist_zero is not None else {}
    )
    return figures.gain_curves(
        frames,
        cfg.bn_inference,
        title=f"modified SRGAN, validation ({cfg.profile} profile)" + title_tag(cfg, final),
    )


def losses_figure(cfg: SRGANModifiedTrainConfig, frame, final: dict):
    """The network's training losses (log scale)."""
    return viz.learning_curve(
        frame,
        ["l_g_content", "l_g_gan", "l_d_real", "l_d_fake"],
        logy=True,
        title=f"modified SRGAN losses ({cfg.profile} profile)" + title_tag(cfg, final),
    )


def offset_figure(cfg: SRGANModifiedTrainConfig, offsets: dict):
    """:func:`~srlib.srgan_modified.figures.bn_offset_figure` of :func:`bn_offset_profile`."""
    return figures.bn_offset_figure(
        offsets,
        title="BN offset of the moving statistics (the seed's inference), layer by layer"
        + figures.title_tag(cfg.profile),
    )


def sample_figure(
    cfg: SRGANModifiedTrainConfig, g: nn.Module, g_zero: nn.Module | None, bench_pairs, final: dict
):
    """``(image name, figure)``: zoomed crops of the first benchmark image, bicubic, then the network and its twin
    in both BN modes, every panel labelled with its mode, its PSNR-Y / SSIM-Y on the whole image and, where its
    PSNR-Y gain over bicubic there is below :data:`~srlib.srgan_modified.figures.COLLAPSE_GAIN_DB`, COLLAPSED. The
    image is the benchmark's first (a fixed rule, not a pick), the crop its busiest window."""
    ups = {"bicubic": evaluation.bicubic_upscaler(cfg.scale)}
    labels = {}
    for name, net in _networks(cfg, g, g_zero).items():
        for mode in (cfg.bn_inference, bn_modes.other_mode(cfg.bn_inference)):
            ups[f"{name}, {mode}"] = _mode_upscaler(net, mode)
            labels[f"{name}, {mode}"] = f"{name}\n{bn_modes.MODE_LABELS[mode]}"
    samples = evaluation.sample_outputs(ups, bench_pairs[:1])
    image = next(iter(samples))
    outs = samples[image]
    scores = {
        k: evaluation.measure(v[None], outs["ground truth"][None], crop_border=cfg.scale)
        for k, v in outs.items()
        if k != "ground truth"
    }
    labels["bicubic"] = "bicubic"
    for k in labels:  # each panel: its whole-image PSNR-Y / SSIM-Y, and COLLAPSED where it is
        note = figures.collapse_note(scores[k]["psnr_y"] - scores["bicubic"]["psnr_y"])
        labels[k] += f"\nPSNR-Y {scores[k]['psnr_y']:.2f} dB, SSIM-Y {scores[k]['ssim_y']:.3f}"
        labels[k] += f"\n{note}" if note else ""
    fig = viz.zoom_comparison(
        outs,
        size=64,
        labels=labels,
        title=f"{image} ({cfg.profile} profile; the benchmark's first image, its busiest 64-px window)"
        + title_tag(cfg, final),
    )
    fig.tight_layout(rect=(0, 0, 1, 0.9))  # room for the title over the 4-line panel labels
    return image, fig


def _mode_upscaler(g: nn.Module, mode: str):
    def up(lq: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), bn_statistics(g.eval(), mode):
            return g(lq.to(next(g.parameters()).device)).float().cpu()

    return up
