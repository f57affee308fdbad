"""Training the diverse-hallucination GAN (§3) -- explicit ``g_step`` / ``d_step`` and a ``fit`` loop -- and the 8x
comparison rows of Table 1 with srlib's SRGAN and Real-ESRGAN engines.

One iteration (the paper's losses, §3):

* G: one forward pass of ``[lq; lq; lq]`` with noise ``[0; z1; z2]`` gives the reconstruction ``(I_SR, g_SR)`` and
  two hallucinations ``(I_z, g_z)``, each an MSG pyramid.
  ``L_recons = gamma (L_percp + L_grad) + beta (L_adv^g + L_adv^I)`` on the reconstruction and
  ``L_halluc = L_adv^g + L_adv^I - alpha L_z`` on the hallucinations (G *maximises* L_z, DSGAN's term on the gradient
  output only). Every fake image reaches D_I with its consistency map F (straight-through rounding), so D_I's verdict
  on F pushes G towards ``round(DS(I_z)) = I_LR``.
* D: the non-saturating logistic loss of D_I (real: the HR pyramid with F = 0) and D_g (real: the gradient maps of the
  HR pyramid) on the three detached fakes, plus ``r1_gamma / 2`` times R1 on the real inputs (Mescheder et al. 2018).

All randomness of a step -- the crops and both noises -- is a function of ``(seed, step)``, so a resumed run repeats an
uninterrupted one bit for bit (:func:`srlib.training.resumable_loop`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from srlib import distributed, losses, models, tracking, training
from srlib.data.patches import PairedPatches
from srlib.models import hallucination as hm
from srlib.models.esrgan import RRDBNet, UNetDiscriminatorSN
from srlib.models.srgan import Discriminator, SRResNet
from srlib.realesrgan import train as realesrgan_train
from srlib.runtime import use_progress
from srlib.srgan import perceptual
from srlib.srgan import train as srgan_train

if TYPE_CHECKING:
    from srlib.hallucination.config import HallucinationTrainConfig

log = logging.getLogger("srlib.train")

# what the substitute content network is called on every number it touches
INCEPTION_LABEL = (
    "perceptual loss: FID-Inception Mixed_5d (substitute for the paper's VGG-16, not the paper's)"
)
BASELINE_LABELS = {
    "SRGAN": "SRGAN row: SRResNet x8 (three x2 sub-pixel blocks) trained by srlib's SRGAN engine on the same crops",
    "ESRGAN": (
        "ESRGAN row: RRDBNet with srlib's 8x head (a third nearest x2 + conv; no released ESRGAN is x8), trained "
        "by srlib's Real-ESRGAN engine (L1, then L1 + VGG19 perceptual + U-Net GAN; no USM): not ESRGAN's RaGAN "
        "recipe; its VGG19 is random where the file is absent (the weights block says)"
    ),
}


def build_generator(cfg: HallucinationTrainConfig) -> hm.HallucinationGenerator:
    return hm.HallucinationGenerator(
        scale=cfg.scale, num_feat=cfg.num_feat, num_block=cfg.num_block, noise_dim=cfg.noise_dim
    )


def build_discriminators(
    cfg: HallucinationTrainConfig,
) -> tuple[hm.PyramidDiscriminator, hm.PyramidDiscriminator]:
    """D_I (images, conditioned on the 3-channel F) and D_g (1-channel gradient maps)."""
    kw = dict(scale=cfg.scale, num_feat=cfg.d_num_feat, num_block=cfg.d_num_block)
    return hm.PyramidDiscriminator(in_ch=3, cond_ch=3, **kw), hm.PyramidDiscriminator(in_ch=1, **kw)


class L1Features(nn.Module):
    """L_percp = ||phi(I_SR) - phi(I_HR)||_1 on one feature map; ``status`` says whether its weights were found."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.status = net, net.status

    def forward(self, sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            f_gt = self.net(gt)
        return F.l1_loss(self.net(sr), f_gt)


def build_percep(cfg: HallucinationTrainConfig) -> L1Features:
    """VGG-16 ``vgg_layer`` (the paper) or the FID-Inception Mixed_5d substitute (``percep_net: inception``)."""
    if cfg.percep_net == "inception":
        return L1Features(
            losses.InceptionFeatures(layer="Mixed_5d", weights_mode=cfg.inception_weights)
        )
    return L1Features(
        losses.VGGFeatures(layer=cfg.vgg_layer, arch="vgg16", weights_mode=cfg.vgg_weights)
    )


def real_pyramids(gt: torch.Tensor, num_scales: int, *, requires_grad: bool = False):
    """The HR image pyramid (coarsest first) and its gradient maps: what D_I and D_g see as real."""
    imgs = hm.pyramid(gt, num_scales)
    grads = [hm.gradient_map(x) for x in imgs]
    if requires_grad:  # R1 differentiates D w.r.t. its real inputs
        imgs = [x.detach().requires_grad_(True) for x in imgs]
        grads = [x.detach().requires_grad_(True) for x in grads]
    return imgs, grads


def g_step(
    *,
    g: hm.HallucinationGenerator,
    d_img: hm.PyramidDiscriminator,
    d_grad: hm.PyramidDiscriminator,
    opt_g: torch.optim.Optimizer,
    lq: torch.Tensor,
    gt: torch.Tensor,
    z_1: torch.Tensor,
    z_2: torch.Tensor,
    percep: L1Features,
    gamma: float = 10.0,
    beta: float = 0.1,
    alpha: float = 1.0,
    tau: float = 0.1,
    eps: float = 0.1,
) -> tuple[dict[str, list[torch.Tensor]], dict[str, float]]:
    """One generator update, L_recons + L_halluc (§3). Returns the detached fakes ``[rec; z1; z2]`` and the logs.

    ``l_z`` is logged (and measured) also when ``alpha = 0``, where it carries no gradient into G.
    """
    b = lq.shape[0]
    opt_g.zero_grad(set_to_none=True)
    lq3 = torch.cat([lq, lq, lq])
    out = g(lq3, torch.cat([torch.zeros_like(z_1), z_1, z_2]))  # (3B, ...) pyramids: [rec; z1; z2]
    images, grads = out["image"], out["grad"]
    f_map = hm.consistency_map(images[-1], lq3, scale=g.scale, eps=eps)  # (3B, 3, h, w)
    with training.frozen(d_img), training.frozen(d_grad):
        logit_img, logit_grad = d_img(images, f_map), d_grad(grads)
    l_percep = percep(images[-1][:b], gt)
    l_grad = F.l1_loss(grads[-1][:b], hm.gradient_map(gt))
    l_adv_rec = losses.gan_g_loss(logit_grad[:b]) + losses.gan_g_loss(logit_img[:b])
    l_adv_hal = losses.gan_g_loss(logit_grad[b:]) + losses.gan_g_loss(logit_img[b:])
    l_z = losses.diversity_term(grads[-1][b : 2 * b], grads[-1][2 * b :], z_1, z_2, tau=tau)
    l_recons = gamma * (l_percep + l_grad) + beta * l_adv_rec
    l_halluc = l_adv_hal - alpha * l_z
    total = l_recons + l_halluc
    total.backward()
    opt_g.step()
    consistent = (f_map.detach().flatten(1).amax(dim=1) == 0).float()
    logs = {
        "l_g_percep": l_percep.item(),
        "l_g_grad": l_grad.item(),
        "l_g_adv_rec": l_adv_rec.item(),
        "l_g_adv_hal": l_adv_hal.item(),
        "l_z": l_z.item(),
        "l_g_total": total.item(),
        "lr_consistent_rec": consistent[:b]
        .mean()
        .item(),  # share of F = 0 (round(DS(I)) = I_LR everywhere)
        "lr_consistent_hal": consistent[b:].mean().item(),
    }
    fakes = {
        "image": [x.detach() for x in images],
        "grad": [x.detach() for x in grads],
        "f": f_map.detach(),
    }
    return fakes, logs


def d_step(
    *,
    d_img: hm.PyramidDiscriminator,
    d_grad: hm.PyramidDiscriminator,
    opt_d: torch.optim.Optimizer,
    gt: torch.Tensor,
    fakes: dict[str, list[torch.Tensor]],
    r1_gamma: float = 10.0,
) -> dict[str, float]:
    """One update of both discriminators: logistic loss on real vs the step's three fakes, + r1_gamma / 2 R1."""
    opt_d.zero_grad(set_to_none=True)
    num_scales = len(fakes["image"])
    real_imgs, real_grads = real_pyramids(gt, num_scales, requires_grad=r1_gamma > 0)
    f_zero = torch.zeros_like(
        fakes["f"][: gt.shape[0]]
    )  # real images sit exactly on I_LR (DS is the degradation)
    real_i, real_g = d_img(real_imgs, f_zero), d_grad(real_grads)
    fake_i, fake_g = d_img(fakes["image"], fakes["f"]), d_grad(fakes["grad"])
    l_real_i, l_fake_i = losses.gan_d_loss(real_i, fake_i)
    l_real_g, l_fake_g = losses.gan_d_loss(real_g, fake_g)
    total = l_real_i + l_fake_i + l_real_g + l_fake_g
    logs = {"l_d_real": (l_real_i + l_real_g).item(), "l_d_fake": (l_fake_i + l_fake_g).item()}
    if r1_gamma > 0:
        r1 = losses.r1_penalty(real_i, real_imgs) + losses.r1_penalty(real_g, real_grads)
        total = total + 0.5 * r1_gamma * r1
        logs["r1"] = r1.item()
    total.backward()
    opt_d.step()
    return logs | {
        "d_real": torch.sigmoid(real_i).mean().item(),
        "d_fake": torch.sigmoid(fake_i).mean().item(),
    }


def fit(
    cfg: HallucinationTrainConfig,
    *,
    g: hm.HallucinationGenerator,
    d_img: hm.PyramidDiscriminator,
    d_grad: hm.PyramidDiscriminator,
    percep: L1Features,
    data: PairedPatches,
    alpha: float,
    run_dir: str | Path,
    device: torch.device | str = "cpu",
    name: str = "hallucination",
    resume: bool = True,
) -> tracking.History:
    """``cfg.iters`` iterations of one D step and one G step (Adam, lrs ``lr_g`` / ``lr_d``: TTUR) with ``alpha``.

    ``run_dir`` receives ``last.pth`` (every network and optimiser: resume) and ``history.csv``.
    """
    device = torch.device(device)
    for net in (g, d_img, d_grad):
        net.to(device).train()
    percep.to(device)
    betas = (float(cfg.beta1), float(cfg.beta2))
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=betas)
    opt_d = torch.optim.Adam([*d_img.parameters(), *d_grad.parameters()], lr=cfg.lr_d, betas=betas)

    # DDP under torchrun (srlib.distributed): the steps call the wrappers, the checkpoints keep the networks
    run_g, run_di, run_dg = (distributed.wrap(n, device) for n in (g, d_img, d_grad))

    def step_fn(step: int):
        lq, gt = data.batch(step, device)
        # both noises from the step's second stream (the crops use the first): a function of (seed, step)
        noise = training.step_generator(data.seed, step, stream=training.STREAM_OFFSET)
        z_1, z_2 = g.noise(lq, noise), g.noise(lq, noise)
        lq, gt, z_1, z_2 = distributed.shard(
            lq, gt, z_1, z_2
        )  # this rank's slice of the global batch
        fakes, logs = g_step(
            g=run_g, d_img=run_di, d_grad=run_dg, opt_g=opt_g, lq=lq, gt=gt, z_1=z_1, z_2=z_2, percep=percep,
            gamma=cfg.gamma, beta=cfg.beta, alpha=alpha, tau=cfg.tau, eps=cfg.consistency_eps,
        )  # fmt: skip
        logs |= d_step(
            d_img=run_di, d_grad=run_dg, opt_d=opt_d, gt=gt, fakes=fakes, r1_gamma=cfg.r1_gamma
        )
        return logs, {"lr_g": cfg.lr_g}

    return training.resumable_loop(
        step_fn=step_fn,
        state={"g": g, "d_img": d_img, "d_grad": d_grad, "opt_g": opt_g, "opt_d": opt_d},
        iters=cfg.iters,
        run_dir=run_dir,
        name=name,
        logger=log,
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        resume=resume,
        progress=use_progress(cfg.progress),
        config={
            k: getattr(cfg, k)
            for k in "gamma beta tau consistency_eps r1_gamma lr_g lr_d beta1 beta2 batch_size gt_size seed".split()
        }
        | {"alpha": alpha},
    )


def train_model(
    cfg: HallucinationTrainConfig,
    data: PairedPatches,
    percep: L1Features,
    *,
    alpha: float,
    run: Path,
    device: torch.device | str,
    name: str,
) -> tuple[hm.HallucinationGenerator, tracking.History, Path]:
    """Build G, D_I, D_g from ``cfg.seed`` and fit them with ``alpha``; ``run/<name>.pth`` holds the generator."""
    torch.manual_seed(cfg.seed)  # the same initialisation for alpha = 1 and its ablation
    g = build_generator(cfg)
    d_img, d_grad = build_discriminators(cfg)
    hist = fit(
        cfg, g=g, d_img=d_img, d_grad=d_grad, percep=percep, data=data, alpha=alpha,
        run_dir=Path(run) / name, device=device, name=name,
    )  # fmt: skip
    meta = {
        "stage": cfg.STAGE,
        "alpha": alpha,
        "percep_net": cfg.percep_net,
        "percep": percep.status.as_dict(),
    }
    path = models.save_generator(Path(run) / f"{name}.pth", g.cpu().eval(), meta=meta)
    return g, hist, path


# --------------------------------------------------------------------------------------------------------------
# the comparison rows of Table 1: SRGAN and ESRGAN at 8x on the same crops, srlib's engines


def _baseline_fit_kwargs(cfg: HallucinationTrainConfig, device) -> dict:
    return dict(
        log_interval=cfg.log_interval,
        ckpt_interval=cfg.ckpt_interval,
        device=device,
        progress=cfg.progress,
    )


def train_srgan(
    cfg: HallucinationTrainConfig, data: PairedPatches, *, run: Path, device
) -> tuple[SRResNet, dict[str, tracking.History], Path]:
    """SRResNet x8: pixel-MSE pre-training, then Ledig's content (VGG54, or the Inception substitute) + 1e-3 GAN."""
    torch.manual_seed(cfg.seed)
    g = SRResNet(num_feat=cfg.srgan_num_feat, num_block=cfg.srgan_num_block, scale=cfg.scale)
    hist = {
        "mse": srgan_train.fit(
            g=g,
            data=data,
            iters=cfg.baseline_pretrain_iters,
            run_dir=Path(run) / "srgan_mse",
            lr_g=1e-4,
            w_pix=1.0,
            name="srgan_mse",
            **_baseline_fit_kwargs(cfg, device),
        )  # fmt: skip
    }
    content = perceptual.build(_srgan_content(cfg))
    hist["gan"] = srgan_train.fit(
        g=g, d=Discriminator(), data=data, iters=cfg.baseline_gan_iters, run_dir=Path(run) / "srgan_gan",
        lr_g=1e-4, lr_d=1e-4, w_pix=0.0, w_percep=1.0, w_adv=1e-3, vgg=content,
        vgg_rescale=perceptual.rescale(_srgan_content(cfg)), name="srgan_gan", **_baseline_fit_kwargs(cfg, device),
    )  # fmt: skip
    path = models.save_generator(
        Path(run) / "srgan.pth", g.cpu().eval(), meta={"stage": cfg.STAGE, "row": "SRGAN"}
    )
    return g, hist, path


def _srgan_content(cfg: HallucinationTrainConfig) -> SimpleNamespace:
    """The SRGAN content loss's settings: VGG54 (Ledig) or, with ``percep_net: inception``, the same substitute."""
    return SimpleNamespace(
        percep_net="inception" if cfg.percep_net == "inception" else "vgg19",
        inception_weights=cfg.inception_weights,
        inception_rescale=losses.INCEPTION_RESCALE,
        vgg_layer="features.35",
        vgg_weights=cfg.vgg_weights,
        vgg_rescale=1 / 12.75,
    )


def train_esrgan(
    cfg: HallucinationTrainConfig, data: PairedPatches, *, run: Path, device
) -> tuple[RRDBNet, dict[str, tracking.History], Path]:
    """RRDBNet x8 (srlib's 8x head): L1 pre-training (the PSNR-oriented RRDBNet), then L1 + perceptual + U-Net GAN."""
    torch.manual_seed(cfg.seed)
    g = RRDBNet(
        scale=cfg.scale, num_feat=cfg.esrgan_num_feat, num_block=cfg.esrgan_num_block,
        num_grow_ch=cfg.esrgan_num_grow_ch,
    )  # fmt: skip
    common = dict(data=data, queue_size=0, sharpen_gt=False, log_interval=cfg.log_interval,
                  ckpt_interval=cfg.ckpt_interval, device=device)  # fmt: skip
    hist = {}
    hist["l1"], _ = realesrgan_train.fit_realesrgan(
        g=g, iters=cfg.baseline_pretrain_iters, run_dir=Path(run) / "esrgan_l1", lr_g=2e-4, name="esrgan_l1",
        ema_decay=0.0, **common,
    )  # fmt: skip
    vgg = realesrgan_train.make_vgg(cfg.vgg_weights)
    hist["gan"], _ = realesrgan_train.fit_realesrgan(
        g=g, d=UNetDiscriminatorSN(num_feat=cfg.esrgan_num_feat), vgg=vgg, iters=cfg.baseline_gan_iters,
        run_dir=Path(run) / "esrgan_gan", lr_g=1e-4, lr_d=1e-4, name="esrgan_gan", ema_decay=0.0, **common,
    )  # fmt: skip
    meta = {"stage": cfg.STAGE, "row": "ESRGAN", "vgg19": vgg.status.as_dict()}
    path = models.save_generator(Path(run) / "esrgan.pth", g.cpu().eval(), meta=meta)
    return g, hist, path


# --------------------------------------------------------------------------------------------------------------
# the hallucination_train stage (notebook 40): what its metrics file records


def run_labels(cfg: HallucinationTrainConfig, percep: L1Features) -> list[str]:
    """The caveats every number of this run carries: the proxy data, the content network, the budget."""
    labels = []
    if cfg.proxy:
        labels.append(
            "PROXY data: generic photo crops, not CelebA faces (the paper's training set)"
        )
    if cfg.percep_net == "inception":
        labels.append(INCEPTION_LABEL)
    if not getattr(percep.status, "comparable", False):
        labels.append(f"RANDOM weights in L_percp ({cfg.percep_net}: {percep.status.source})")
    if cfg.train_baselines:
        labels += list(BASELINE_LABELS.values())
    return labels + ([cfg.run_label] if cfg.run_label else [])


def final_metrics(cfg: HallucinationTrainConfig, hists: dict[str, tracking.History]) -> dict:
    """The last interval's losses of each network and the CPU/GPU minutes each took (the budget, measured)."""
    keys = ("l_g_percep", "l_g_grad", "l_g_adv_rec", "l_g_adv_hal", "l_z", "l_d_real", "l_d_fake", "r1",
            "lr_consistent_rec", "lr_consistent_hal", "l_g_pix", "l_g_gan")  # fmt: skip
    out = {name: tracking.last_values(h, keys) | {"iters": int(h.to_frame().step.max()),
                                         "minutes": tracking.train_minutes(h, log_interval=cfg.log_interval)}
           for name, h in hists.items()}  # fmt: skip
    return out | {"train_minutes": float(sum(v["minutes"] for v in out.values()))}


def write_results(cfg: HallucinationTrainConfig, hists: dict[str, tracking.History], *, percep: L1Features,
                  files, labels: list[str], baseline_weights: dict | None = None) -> dict:  # fmt: skip
    """Every history as a ``dvc plots`` CSV (``plots/hallucination/<name>.csv``) and ``metrics/hallucination_train.json``."""
    from srlib import paths

    for name, hist in hists.items():
        hist.to_csv(paths.plot_file(cfg.profile, f"hallucination/{name}.csv"))
    final = final_metrics(cfg, hists)
    return tracking.write_metrics(
        paths.metrics_file(cfg.profile, cfg.STAGE),
        final,
        stage=cfg.STAGE,
        profile=cfg.profile,
        data={
            "name": "CelebA" if not cfg.proxy else "photo crops (PROXY for CelebA)",
            "proxy": cfg.proxy,
            "train": paths.shown(files[0].parent) if files else "",
            "images": len(files),
        },  # fmt: skip
        weights={("fid_inception" if cfg.percep_net == "inception" else "vgg16"): percep.status}
        | (baseline_weights or {}),
        labels=labels,
        config={
            k: getattr(cfg, k)
            for k in (
                "scale gt_size batch_size num_feat num_block noise_dim d_num_feat d_num_block gamma beta alpha tau "
                "consistency_eps r1_gamma percep_net iters lr_g lr_d beta1 beta2 baseline_pretrain_iters "
                "baseline_gan_iters srgan_num_feat srgan_num_block esrgan_num_feat esrgan_num_block esrgan_num_grow_ch "
                "seed"
            ).split()
        },  # fmt: skip
    )


def conclusions(record: dict) -> list[str]:
    """What the training curves say, from this run's numbers: L_z with and without its term, LR consistency."""
    m = record["metrics"]
    lines = [f"training took {m['train_minutes']:.1f} min in all (the four networks)"]
    for name in ("ours", "no_lz"):
        if name in m:
            r = m[name]
            lines.append(
                f"{name}: {r['iters']} steps in {r['minutes']:.1f} min; last interval L_z = {r.get('l_z', float('nan')):.4g}, "
                f"L_percp = {r.get('l_g_percep', float('nan')):.4g}, L_grad = {r.get('l_g_grad', float('nan')):.4g}; "
                f"share of hallucinations with F = 0: {r.get('lr_consistent_hal', float('nan')):.0%}"
            )
    if "ours" in m and "no_lz" in m:
        more = m["ours"].get("l_z", 0) > m["no_lz"].get("l_z", 0)
        lines.append(
            "during training L_z (gradient-map diversity per unit of noise) ended "
            + (
                "HIGHER with its term than without"
                if more
                else "NOT higher with its term than without"
            )
            + " (one interval's mean, no CI: notebook 41 measures it on held-out inputs with paired CIs)"
        )
    return lines


def train_baselines(
    cfg: HallucinationTrainConfig, data: PairedPatches, *, run: Path, device
) -> tuple[dict[str, tracking.History], dict]:
    """Both 8x comparison rows (:func:`train_srgan`, :func:`train_esrgan`): their histories and the weight statuses
    of their content networks (for the metrics file)."""
    _, srgan_hists, _ = train_srgan(cfg, data, run=run, device=device)
    _, esrgan_hists, esrgan_file = train_esrgan(cfg, data, run=run, device=device)
    hists = {f"srgan_{k}": h for k, h in srgan_hists.items()} | {
        f"esrgan_{k}": h for k, h in esrgan_hists.items()
    }
    vgg19 = models.load_generator(esrgan_file)[1]["meta"]["vgg19"]
    return hists, {"vgg19 (ESRGAN row)": vgg19}
