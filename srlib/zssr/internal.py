"""Zero-Shot SR (Shocher, Cohen & Irani, CVPR 2018): learning from the test image alone, then upscaling it.

What upstream ZSSR does (``ZSSR.py``, ``utils.py``, ``configs.py``; reimplemented, not copied), step by step:

* **pairs** (:func:`random_father`, :func:`father_to_son`): each iteration draws an "HR father" from the test image
  itself -- with p = 0.05 a plain random crop, with p = 0.45 a crop under one of the 8 dihedral maps (rotation by a
  multiple of 90 degrees, with or without a mirror: no interpolation), otherwise an affine crop (scale ~ U[min_scale,
  1], x / y scale difference ~ N(0, 0.25), shear ~ N(0, 0.1), any rotation, mirror; cubic warp) -- of
  ``crop_size``; the "LR son" is the father degraded by the kernel, known or assumed (bicubic), plus noise
  ``noise_std``. The net sees the son cubic-upscaled to the father's size and is trained with L1 to give the father;
* **learning rate** (:class:`LRPolicy`): every ``test_every`` iterations the reconstruction MSE of the test image from
  its own son is measured; every ``lr_check_every`` iterations, once ``min_iters`` have passed since the last change,
  a line is fitted to the last ``lr_slope_range / test_every`` of those values; when ``-ratio * slope < std`` (the
  std of the fitted slope: the curve is flat within its noise) the lr is divided by 10; training stops when the lr
  falls below ``min_lr`` (so after three divisions from 1e-3) or after ``max_iters``;
* **inference** (:func:`zssr_upscale`): the net on the cubic upscale of the test image under each of the 8 dihedral
  maps, each output mapped back and back-projected ``bp_iters`` times, their median, back-projected again.

Here images are ``(3, H, W)`` tensors in [0, 1]; every random draw comes from a seeded ``torch.Generator``. Two
choices of ours, written down: fathers are cropped to a multiple of the scale (upstream resizes to a given output
shape instead), and the sons are rounded to 8 bits like the test LR they stand for (upstream keeps floats).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from srlib import training
from srlib.data import degradations
from srlib.models.zssr import ZSSRNet
from srlib.zssr import matrix

# ---------------------------------------------------------------------------------------------- dihedral maps


def dihedral(img: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th of the 8 maps (upstream's order): rotation by 90 k degrees; for k >= 4 then a left-right mirror."""
    out = torch.rot90(img, k % 4, dims=(-2, -1))
    return out.flip(-1) if k >= 4 else out


def dihedral_inverse(img: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`dihedral`'s k-th map (mirror first, then the opposite rotation)."""
    out = img.flip(-1) if k >= 4 else img
    return torch.rot90(out, -(k % 4), dims=(-2, -1))


# ---------------------------------------------------------------------------------------------- training pairs


def _uniform(g: torch.Generator) -> float:
    return float(torch.rand((), generator=g, dtype=torch.float64))


def _normal(g: torch.Generator) -> float:
    return float(torch.randn((), generator=g, dtype=torch.float64))


def random_father(
    image: torch.Tensor, *, cfg, generator: torch.Generator
) -> tuple[torch.Tensor, str]:
    """One HR father of side ``min(crop_size, image side)`` (a multiple of the scale) and its augmentation mode."""
    g, s = generator, cfg.scale
    h, w = image.shape[-2:]
    size = min(cfg.crop_size, h, w) // s * s
    u = _uniform(g)
    mode = ("leave_as_is" if u < cfg.p_leave_as_is
            else "no_interp" if u < cfg.p_leave_as_is + cfg.p_no_interpolate else "affine")  # fmt: skip
    if mode != "affine":
        k = (
            int(torch.randint(8, (), generator=g))
            if mode == "no_interp" and cfg.allow_rotation
            else 0
        )
        img = dihedral(image, k)
        hh, ww = img.shape[-2:]
        top = int(torch.randint(hh - size + 1, (), generator=g))
        left = int(torch.randint(ww - size + 1, (), generator=g))
        return img[:, top : top + size, left : left + size].contiguous(), mode
    scale = cfg.min_scale + (1.0 - cfg.min_scale) * _uniform(g)
    diff = cfg.scale_diff_sigma * _normal(g)
    reflect = (1.0 if _uniform(g) < 0.5 else -1.0) if cfg.allow_rotation else 1.0
    theta = 2 * math.pi * _uniform(g) if cfg.allow_rotation else 0.0
    shear_x, shear_y = cfg.shear_sigma * _normal(g), cfg.shear_sigma * _normal(g)
    shift_x = _uniform(g) * max(scale * w - size, 0)
    shift_y = _uniform(g) * max(scale * h - size, 0)
    # upstream's product: back-from-centre . crop shift . shear . rotation . scale (and mirror) . to-centre
    to_centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    back = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]])
    scale_m = np.diag([reflect * (scale + diff / 2), scale - diff / 2, 1.0])
    shift_m = np.array([[1, 0, -shift_x], [0, 1, -shift_y], [0, 0, 1]])
    c, sn = math.cos(theta), math.sin(theta)
    rot = np.array([[c, sn, 0], [-sn, c, 0], [0, 0, 1]])
    shear = np.array([[1, shear_x, 0], [shear_y, 1, 0], [0, 0, 1]])
    m = back @ shift_m @ shear @ rot @ scale_m @ to_centre
    arr = image.permute(1, 2, 0).numpy().astype(np.float32)
    out = cv2.warpPerspective(arr, m, (size, size), flags=cv2.INTER_CUBIC)
    return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1).clamp(0, 1), mode


def son_degradation(kernel: str, test: str) -> str:
    """The degradation that makes sons: the test's own (``known``) or bicubic (``bicubic``, assumed)."""
    return test if kernel == "known" else "bicubic"


def father_to_son(father: torch.Tensor, *, degradation: str, cfg, noise_std: float,
                  generator: torch.Generator) -> torch.Tensor:  # fmt: skip
    """The LR son of an HR father: :func:`srlib.zssr.matrix.degrade` (8-bit), plus N(0, noise_std), clamped."""
    son = matrix.degrade(
        father[None], degradation, scale=cfg.scale, sigma=cfg.blur_sigma, generator=generator
    )[0]
    if noise_std:
        son = son + noise_std * torch.randn(son.shape, generator=generator)
    return son.clamp(0, 1)


def upscale_input(lq: torch.Tensor, scale: int) -> torch.Tensor:
    """The net's input: the cubic (MATLAB imresize) upscale of ``(..., 3, h, w)`` by ``scale``."""
    return degradations.imresize(lq, scale)


# ------------------------------------------------------------------------------------------- learning rate


@dataclass
class LRPolicy:
    """ZSSR's learning-rate policy (``ZSSR.learning_rate_policy``), its decisions logged.

    ``step(it, lr, steps, values)`` is called after iteration ``it`` with the iterations and values of the
    reconstruction tests so far; it returns the new lr. At iterations where ``(it + 1) % check_every == 0`` and more
    than ``min_iters`` have passed since the last change, it fits a line to the last ``slope_range // test_every``
    tests (the slope and the std of its estimate, with the covariance scaled by rss / (M - 4) as upstream's numpy
    did: at least 5 points) and divides the lr by 10 when ``-ratio * slope < std``; each such check is appended to
    :attr:`decisions`.
    """

    check_every: int = 60
    slope_range: int = 256
    test_every: int = 50
    ratio: float = 1.5
    min_iters: int = 256
    decisions: list[dict] = field(default_factory=list)
    last_change: int = 0

    def due(self, it: int) -> bool:
        return (it + 1) % self.check_every == 0 and it - self.last_change > self.min_iters

    def step(self, it: int, lr: float, steps: list[int], values: list[float]) -> float:
        if not self.due(it):
            return lr
        n = self.slope_range // self.test_every
        if (
            len(steps) < n
        ):  # fewer tests than the fit spans (only when min_iters < slope_range): no decision yet
            return lr
        x, y = np.asarray(steps[-n:], dtype=float), np.asarray(values[-n:], dtype=float)
        (slope, icpt), cov = np.polyfit(x, y, 1, cov="unscaled")
        # upstream ran numpy < 1.16, whose polyfit(cov=True) scaled the covariance by rss / (M - N - 2) -- today's
        # uses rss / (M - N) (numpy PR 11197); with 5 points that is a sqrt(3) larger std. Scale as upstream did.
        rss = float(((y - (slope * x + icpt)) ** 2).sum())
        std = float(np.sqrt(cov[0, 0] * rss / (len(x) - 4)))
        divide = bool(-self.ratio * slope < std)
        new_lr = lr / 10 if divide else lr
        self.decisions.append({"iter": it, "slope": float(slope), "std": std, "lr": lr, "new_lr": new_lr,
                               "decision": "divide" if divide else "keep"})  # fmt: skip
        if divide:
            self.last_change = it
        return new_lr


def policy(cfg) -> LRPolicy:
    return LRPolicy(check_every=cfg.lr_check_every, slope_range=cfg.lr_slope_range, test_every=cfg.test_every,
                    ratio=cfg.lr_change_ratio, min_iters=cfg.min_iters)  # fmt: skip


# ---------------------------------------------------------------------------------------------- training


def forward(net: torch.nn.Module, lq: torch.Tensor, scale: int) -> torch.Tensor:
    """One pass: ``(3, h, w)`` LR -> ``(3, s h, s w)`` SR, clamped to [0, 1] (as upstream's forward_pass)."""
    return net(upscale_input(lq[None], scale))[0].clamp(0, 1)


@dataclass
class ZSSRRun:
    """A trained per-image net and its log: iterations, losses, the reconstruction tests, the lr decisions."""

    net: ZSSRNet
    iters: int
    seconds: float
    stop: str  # "min_lr" | "max_iters"
    losses: list[float]
    test_steps: list[int]
    test_mse: list[float]
    decisions: list[dict]
    modes: dict[str, int]


def train_zssr(lq: torch.Tensor, *, cfg, degradation: str, seed: int, noise_std: float | None = None,
               device="cpu") -> ZSSRRun:  # fmt: skip
    """ZSSR's training on one LR image ``(3, h, w)``: sons by ``degradation`` (the known or assumed kernel).

    Raises :class:`srlib.training.NonFiniteTraining` on a non-finite loss (the net so far is discarded with it).
    """
    if any(side % cfg.scale for side in lq.shape[-2:]):
        raise ValueError(f"ZSSR: the LR image {tuple(lq.shape[-2:])} must be divisible by scale={cfg.scale} "
                         "(its own son is made at that scale); mod-crop it first")  # fmt: skip
    noise = cfg.noise_std if noise_std is None else noise_std
    torch.manual_seed(seed)
    net = ZSSRNet(
        num_feat=cfg.num_feat, num_layer=cfg.num_layer, init_variance=cfg.init_variance
    ).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    g = training.step_generator(seed, 0, stream=11)
    pol, lr = policy(cfg), cfg.lr
    losses, steps, tests, modes = [], [], [], {"leave_as_is": 0, "no_interp": 0, "affine": 0}
    start, stop, it = time.perf_counter(), "max_iters", 0
    for it in range(cfg.max_iters):
        father, mode = random_father(lq, cfg=cfg, generator=g)
        modes[mode] += 1
        son = father_to_son(father, degradation=degradation, cfg=cfg, noise_std=noise, generator=g)
        father = father.to(device)
        out = net(upscale_input(son[None], cfg.scale).to(device))
        loss = F.l1_loss(out, father[None])
        if not torch.isfinite(loss):
            raise training.NonFiniteTraining(
                f"ZSSR: non-finite L1 loss at iteration {it} (lr {lr:g})"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (
            it % cfg.test_every == 0
        ):  # reconstruct the test image from its own son (upstream quick_test)
            with torch.no_grad():
                son_of_input = father_to_son(
                    lq, degradation=degradation, cfg=cfg, noise_std=noise, generator=g
                )
                rec = forward(net, son_of_input.to(device), cfg.scale).cpu()
                h, w = rec.shape[-2:]
                tests.append(float(((lq[:, :h, :w] - rec) ** 2).mean()))
                steps.append(it)
        lr = pol.step(it, lr, steps, tests)
        for group in opt.param_groups:
            group["lr"] = lr
        if lr < cfg.min_lr:
            stop = "min_lr"
            break
    net.eval()
    return ZSSRRun(
        net, it + 1, time.perf_counter() - start, stop, losses, steps, tests, pol.decisions, modes
    )


# --------------------------------------------------------------------------------------------- inference


def back_projection(
    sr: torch.Tensor, lq: torch.Tensor, *, scale: int, down: Callable
) -> torch.Tensor:
    """One back-projection step (upstream ``utils.back_projection``): ``sr + cubic_up(lq - down(sr))``, clamped."""
    return (sr + degradations.imresize(lq - down(sr), scale)).clamp(0, 1)


def downscaler(
    degradation: str, *, scale: int, sigma: float
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The deterministic down-sampling back-projection uses: bicubic, or blur + bicubic for ``blur``.

    The Real-ESRGAN pipeline is random (noise, JPEG): it has no fixed down-sampling, so back-projection uses bicubic.
    """
    if degradation == "blur":
        s = matrix.blur_sigma(scale, sigma)
        return lambda x: degradations.blur_downscale(x, scale, s, size=2 * math.ceil(3 * s) + 1)
    return lambda x: degradations.imresize(x, 1 / scale)


def self_ensemble(fn: Callable[[torch.Tensor], torch.Tensor], lq: torch.Tensor, *,
                  post: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
    """The median (numpy's: the mean of the two middle values of 8) of ``fn`` under the 8 dihedral maps, each output
    mapped back and passed through ``post`` (per-output back-projection) first."""
    outs = []
    for k in range(8):
        out = dihedral_inverse(fn(dihedral(lq, k)), k)
        outs.append(post(out) if post else out)
    return torch.quantile(torch.stack(outs), 0.5, dim=0)


@torch.no_grad()
def zssr_upscale(net: torch.nn.Module, lq: torch.Tensor, *, scale: int, down: Callable, ensemble: bool,
                 bp_iters: int) -> torch.Tensor:  # fmt: skip
    """ZSSR's final test: the net (with the 8-map median when ``ensemble``), back-projected ``bp_iters`` times."""
    device = next(net.parameters()).device

    def project(sr: torch.Tensor) -> torch.Tensor:
        for _ in range(bp_iters):
            sr = back_projection(sr[None], lq[None], scale=scale, down=down)[0]
        return sr

    def fn(x: torch.Tensor) -> torch.Tensor:
        return forward(net, x.to(device), scale).cpu()

    sr = self_ensemble(fn, lq, post=project) if ensemble else fn(lq)
    return project(sr)


INFERENCE = {  # the ablation of ZSSR's two inference options, on the same trained net
    "full": {"ensemble": True, "bp": True},
    "no_ensemble": {"ensemble": False, "bp": True},
    "no_bp": {"ensemble": True, "bp": False},
    "plain": {"ensemble": False, "bp": False},
}
