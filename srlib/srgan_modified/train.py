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
* the fake images for D come from ``generator.predict_on_batch`` (BN in inference mode), and in the G step D is
  frozen with ``trainable = False``, which in TF2 Keras also runs D's BN in inference mode.

:func:`fit` keeps srlib's conventions: batches are pure functions of ``(seed, step)`` (so is the real/fake order),
an interval log line, ``last.pth`` checkpoints with resume, a ``history.csv``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from srlib import losses, tracking, training
from srlib.data.patches import PairedPatches
from srlib.training import validation_hook

log = logging.getLogger("srlib.train_modified")


@dataclass
class SeedTrainConfig:
    """The seed's training settings (``SRGAN_train.py``); params.yaml ``srgan_modified_train`` mirrors them."""

    gt_size: int = 256  # 256x256 HR / 64x64 LR pairs
    batch_size: int = 1  # quirk: "Batch size will stay at 1"
    iters: int = 742_500  # 30 epochs x 24,750 pairs (25,000 minus the 1 % test split) at batch 1
    lr_g: float = 1e-3  # compile(optimizer="adam"): Keras defaults
    lr_d: float = 1e-3
    beta1: float = 0.9
    adam_eps: float = 1e-7  # Keras' Adam epsilon (PyTorch's default is 1e-8)
    w_content: float = 1.0  # loss_weights=[1e-3, 1]
    w_adv: float = 1e-3
    content_layers: tuple[int, ...] = (
        losses.SEED_CONTENT_LAYERS
    )  # torchvision indices of the Keras layers 5, 8, 10
    vgg_normalize: bool = (
        False  # RGB [0, 1] straight into VGG19 (no caffe / ImageNet preprocessing)
    )


def seed_d_step(
    *,
    d: nn.Module,
    opt_d: torch.optim.Optimizer,
    fake: torch.Tensor,
    gt: torch.Tensor,
    real_first: bool,
) -> dict[str, float]:
    """Two discriminator updates, one per class, in the given order (the seed's two ``train_on_batch`` calls)."""
    d.train()
    logs = {}
    for which in ("real", "fake") if real_first else ("fake", "real"):
        x, target = (gt, 1.0) if which == "real" else (fake.detach(), 0.0)
        opt_d.zero_grad(set_to_none=True)
        logits = d(x)
        loss = nn.functional.binary_cross_entropy_with_logits(
            logits, torch.full_like(logits, target)
        )
        loss.backward()
        opt_d.step()
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
) -> dict[str, float]:
    """One generator update: l_G = w_content * sum_k MSE(phi_k) + w_adv * BCE(D(G(lq)), real)."""
    g.train()
    d.eval()  # Keras `trainable = False` on D inside the combined model: BN in inference mode, no D updates
    with training.frozen(d):
        opt_g.zero_grad(set_to_none=True)
        sr = g(lq)
        terms = {"l_g_content": w_content * losses.multi_layer_content(sr, gt, vgg)}
        if w_adv:
            terms["l_g_gan"] = w_adv * losses.gan_g_loss(d(sr))
        total = sum(terms.values())
        total.backward()
        opt_g.step()
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
) -> tracking.History:
    """Train ``g`` and ``d`` with the seed's recipe for ``iters`` steps; return the history (also in run_dir).

    ``run_dir`` receives ``last.pth`` (full state, for resume) and ``history.csv``.
    """
    device = torch.device(device)
    g.to(device)
    d.to(device)
    vgg.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr_g, betas=betas, eps=adam_eps)
    opt_d = torch.optim.Adam(d.parameters(), lr=lr_d, betas=betas, eps=adam_eps)

    def step_fn(step: int):
        lq, gt = (t.to(device) for t in data.batch(step))
        g.eval()  # generator.predict_on_batch: BN with its moving statistics
        with torch.no_grad():
            fake = g(lq)
        order_rng = training.step_generator(
            data.seed, step, stream=training.STREAM_OFFSET
        )  # pure function of the step
        real_first = bool(
            torch.randint(2, (1,), generator=order_rng).item()
        )  # the seed's randint(0, 1)
        logs = seed_d_step(d=d, opt_d=opt_d, fake=fake, gt=gt, real_first=real_first)
        logs |= seed_g_step(
            g=g, opt_g=opt_g, lq=lq, gt=gt, d=d, vgg=vgg, w_content=w_content, w_adv=w_adv
        )
        return logs, {}

    history = training.resumable_loop(
        step_fn=step_fn,
        state={"g": g, "d": d, "opt_g": opt_g, "opt_d": opt_d},
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
# BN at batch size 1: which statistics at inference?


@contextmanager
def per_image_bn(model: nn.Module) -> Iterator[nn.Module]:
    """BN layers normalise each input with its own statistics, as in batch-1 training; running stats untouched.

    Not the seed's inference (Keras ``predict`` uses the moving averages). Feed one image per call.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [(m.training, m.momentum) for m in bns]
    for m in bns:
        m.train()
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield model
    finally:
        for m, (training, momentum) in zip(bns, saved):
            m.train(training)
            m.momentum = momentum


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module, data: PairedPatches, *, batches: int = 200, device="cpu"
) -> nn.Module:
    """A copy of ``model`` whose BN running statistics are the plain average over ``batches`` training batches.

    Not in the seed. With batch 1 and Keras momentum 0.5 the moving statistics are essentially those of the last two
    training crops; a cumulative average (``momentum=None``) estimates those of the training distribution instead.
    The batches are drawn far from the training steps (``data.batch(10**7 + i)``).
    """
    model = copy.deepcopy(model).to(device)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for i in range(batches):
        model(data.batch(10**7 + i)[0].to(device))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    return model.eval()


def bn_inference_check(
    model: nn.Module,
    data: PairedPatches,
    val_fn: Callable[[nn.Module], dict[str, float]],
    *,
    batches: int = 200,
    device="cpu",
) -> dict[str, dict[str, float]]:
    """``val_fn`` under three BN inference modes: the seed's moving statistics, recalibrated, per-image statistics."""
    model = model.eval()
    with torch.no_grad():
        out = {"moving statistics (seed)": val_fn(model)}
        out[f"recalibrated over {batches} crops"] = val_fn(
            recalibrate_bn(model, data, batches=batches, device=device)
        )
        with per_image_bn(model):
            out["per-image statistics"] = val_fn(model)
    return out
