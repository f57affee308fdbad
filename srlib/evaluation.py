"""Evaluation: model x benchmark -> per-image metrics, summary, sample crops.

Protocol (SR papers, BasicSR): the ground truth is mod-cropped to the scale, the input is its 8-bit MATLAB-bicubic
downscale, the output is clamped to [0, 1] and rounded to 8 bits before measuring, and PSNR/SSIM are computed on
the Y channel (BT.601, 16-235) with ``crop_border = scale`` pixels removed on each side (see :mod:`srlib.metrics.pixel`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from srlib.data import degradations
from srlib.data.images import save_image
from srlib.metrics import pixel as metrics

Upscaler = Callable[[torch.Tensor], torch.Tensor]  # lq (1, 3, h, w) -> sr (1, 3, sh, sw) in [0, 1]


def bicubic_upscaler(scale: int) -> Upscaler:
    """The baseline every SR table starts with: MATLAB bicubic upscaling of the 8-bit input."""
    return lambda lq: degradations.imresize(lq, scale)


def model_upscaler(model: nn.Module, device: torch.device | str = "cpu") -> Upscaler:
    model = model.to(device).eval()

    @torch.no_grad()
    def run(lq: torch.Tensor) -> torch.Tensor:
        return model(lq.to(device)).float().cpu()

    return run


def measure(sr: torch.Tensor, gt: torch.Tensor, *, crop_border: int) -> dict[str, float]:
    """PSNR-Y and SSIM-Y of one 8-bit-quantised output against its ground truth."""
    sr = degradations.quantize(sr.clamp(0, 1))
    return {
        "psnr_y": float(metrics.psnr(sr, gt, crop_border=crop_border, y_only=True)[0]),
        "ssim_y": float(metrics.ssim(sr, gt, crop_border=crop_border, y_only=True)[0]),
    }


def evaluate(
    upscalers: dict[str, Upscaler],
    pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
    *,
    crop_border: int,
    sample_dir: str | Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run every upscaler on every ``(name, lq, gt)`` pair; one row per (model, image).

    With ``sample_dir``, each output is also written as ``<sample_dir>/<model>/<image>.png``.
    """
    rows = []
    items = [(m, p) for m in upscalers for p in pairs]
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="evaluate")
    for model_name, (img_name, lq, gt) in items:
        sr = upscalers[model_name](lq[None])
        if sr.shape[-2:] != gt.shape[-2:]:
            raise ValueError(
                f"{model_name} on {img_name}: output {tuple(sr.shape[-2:])} != gt {tuple(gt.shape[-2:])}"
            )
        rows.append(
            {"model": model_name, "image": img_name, "height": gt.shape[-2], "width": gt.shape[-1]}
            | measure(sr, gt[None], crop_border=crop_border)
        )
        if sample_dir is not None:
            save_image(sr.clamp(0, 1), Path(sample_dir) / model_name / f"{img_name}.png")
    return pd.DataFrame(rows)


def summarize(per_image: pd.DataFrame, baseline: str = "bicubic") -> dict[str, dict[str, float]]:
    """Mean (and std) per model; ``gain_db`` = mean PSNR-Y minus the baseline's on the same images."""
    out: dict[str, dict[str, float]] = {}
    base = per_image[per_image.model == baseline].set_index("image")["psnr_y"] if baseline else None
    for model_name, grp in per_image.groupby("model", sort=False):
        row = {
            "psnr_y": float(grp.psnr_y.mean()),
            "psnr_y_std": float(grp.psnr_y.std(ddof=0)),
            "ssim_y": float(grp.ssim_y.mean()),
            "ssim_y_std": float(grp.ssim_y.std(ddof=0)),
            "n": int(len(grp)),
        }
        if base is not None and len(base):
            row["gain_db"] = float((grp.set_index("image")["psnr_y"] - base).mean())
        out[str(model_name)] = row
    return out


def center_crop(img: torch.Tensor, size: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    th, tw = min(size, h), min(size, w)
    top, left = (h - th) // 2, (w - tw) // 2
    return img[..., top : top + th, left : left + tw]


def validation_fn(
    pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
    *,
    scale: int,
    crop_border: int,
    crop: int = 192,
    device: torch.device | str = "cpu",
) -> Callable[[nn.Module], dict[str, float]]:
    """A cheap validation for ``train.fit``: mean PSNR-Y on centre crops and the gain over bicubic (dB).

    Crops keep it affordable on a CPU; the final evaluation uses whole images.
    """
    crops = []
    for _name, _lq, gt in pairs:
        gt_c = degradations.mod_crop(center_crop(gt, crop), scale)
        lq_c = degradations.quantize(degradations.imresize(gt_c, 1 / scale).clamp(0, 1))
        crops.append((lq_c[None], gt_c[None]))
    bicubic = [
        measure(bicubic_upscaler(scale)(lq), gt, crop_border=crop_border)["psnr_y"]
        for lq, gt in crops
    ]
    base = sum(bicubic) / len(bicubic)

    def run(g: nn.Module) -> dict[str, float]:
        vals = [
            measure(g(lq.to(device)).float().cpu(), gt, crop_border=crop_border) for lq, gt in crops
        ]
        psnr = sum(v["psnr_y"] for v in vals) / len(vals)
        ssim = sum(v["ssim_y"] for v in vals) / len(vals)
        return {"val_psnr_y": psnr, "val_ssim_y": ssim, "val_gain_db": psnr - base}

    return run


def sample_outputs(
    upscalers: dict[str, Upscaler],
    pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]],
    names: Sequence[str] | None = None,
) -> dict[str, dict[str, torch.Tensor]]:
    """``{image: {method: output, ..., "ground truth": gt}}`` (8-bit quantised) for figures and the viewer."""
    out = {}
    for name, lq, gt in pairs:
        if names is not None and name not in names:
            continue
        out[name] = {
            m: degradations.quantize(up(lq[None])[0].clamp(0, 1)) for m, up in upscalers.items()
        }
        out[name]["ground truth"] = gt
    return out


def paper_table(
    reference: pd.DataFrame,
    ours: dict,
    *,
    ours_key: str = "models",
    weights_by_method: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Join a typed-in reference table with our metrics file into "paper / ours / delta" rows.

    Args:
        reference: rows with at least ``dataset, method, metric, value, table, page``.
        ours: a metrics payload written by :func:`srlib.tracking.write_metrics` whose ``metrics[ours_key]`` maps
            method -> {metric: value}; its ``data`` and ``weights`` blocks label every row.
        weights_by_method: which pretrained files each method's numbers depend on (e.g. ``{"srgan": ["vgg19"]}``:
            SRGAN was trained with the VGG54 loss). A row is comparable only on the paper's data with those files.
    """
    need = {"dataset", "method", "metric", "value", "table", "page"}
    missing = need - set(reference.columns)
    if missing:
        raise ValueError(f"reference table lacks columns {sorted(missing)}")
    models = ours["metrics"][ours_key]
    proxy = bool(ours["data"].get("proxy", True))
    data_name = ours["data"]["name"] + (" (PROXY)" if proxy else "")
    status = ours.get("weights", {})
    rows = []
    for r in reference.itertuples(index=False):
        value = models.get(r.method, {}).get(r.metric)
        deps = (weights_by_method or {}).get(r.method, [])
        random_w = [k for k in deps if not status.get(k, {}).get("comparable", False)]
        rows.append(
            {
                "method": r.method,
                "metric": r.metric,
                "paper dataset": r.dataset,
                "paper": r.value,
                "ours dataset": data_name,
                "ours": value,
                "delta": None if value is None else value - r.value,
                "source": f"{r.table}, p. {r.page}",
                "weights": "none needed"
                if not deps
                else (f"RANDOM {', '.join(random_w)}" if random_w else "pretrained"),
                "comparable": value is not None and not proxy and not random_w,
            }
        )
    return pd.DataFrame(rows)


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""

    def cell(v):
        if isinstance(v, float):
            return "" if v != v else format(v, floatfmt)
        return "" if v is None else str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"
