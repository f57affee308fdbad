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


def _cells(reference: pd.DataFrame) -> list[tuple[str, str]]:
    """The reference's ``(dataset, metric)`` pairs, in the order they first appear."""
    return list(dict.fromkeys(zip(reference.dataset, reference.metric)))


def paper_table(
    reference: pd.DataFrame,
    ours: dict,
    *,
    ours_key: str = "models",
    baseline: str = "bicubic",
    weights_by_method: dict[str, list[str]] | None = None,
    not_comparable: dict[str, str] | None = None,
) -> pd.DataFrame:
    """A paper's table beside our run, one row per method: the paper's value on each of its datasets, then ours once.

    Args:
        reference: rows with at least ``dataset, method, metric, value, table, page`` (a typed-in table).
        ours: a metrics payload written by :func:`srlib.tracking.write_metrics` whose ``metrics[ours_key]`` maps
            method -> {metric: value} and whose ``metrics["paired"]["<method>_vs_<baseline>_<metric>"]`` holds the
            paired comparison with the baseline (``mean_diff``, ``ci_low``, ``ci_high``: :mod:`srlib.stats`); its
            ``data`` and ``weights`` blocks decide which rows are comparable.
        baseline: the method the paired differences are taken against (its own row has none).
        weights_by_method: which pretrained files each method's numbers depend on (e.g. ``{"srgan": ["vgg19"]}``:
            SRGAN was trained with the VGG54 loss). A row is comparable only on the paper's data with those files.
        not_comparable: further reasons per method (e.g. a substitute loss), which make its row not comparable.

    Returns:
        Columns ``method``; ``paper_<dataset>_<metric>`` per reference cell, in its order; ``ours_dataset``
        (``" (PROXY)"`` appended on proxy data), ``ours_n``; per metric ``ours_<metric>``,
        ``ours_<metric>_vs_<baseline>`` and its ``_ci_low`` / ``_ci_high`` (NaN for the baseline and where not
        stored); ``delta_<dataset>_<metric>`` (ours - paper) only when our benchmark is one of the paper's datasets
        and not a proxy, NaN in the rows that are not comparable; ``weights``, ``comparable``,
        ``not_comparable_because`` and ``source`` (table and page).
    """
    need = {"dataset", "method", "metric", "value", "table", "page"}
    missing = need - set(reference.columns)
    if missing:
        raise ValueError(f"reference table lacks columns {sorted(missing)}")
    models = ours["metrics"][ours_key]
    paired = ours["metrics"].get("paired", {})
    proxy = bool(ours["data"].get("proxy", True))
    name = ours["data"]["name"]
    status = ours.get("weights", {})
    cells = _cells(reference)
    metric_names = list(dict.fromkeys(m for _, m in cells))
    # a delta is a reproduction error only on the paper's own benchmark (the same name, not a proxy of it)
    same_data = (
        next((d for d, _ in cells if d.lower() == name.lower()), None) if not proxy else None
    )
    value = reference.set_index(["method", "dataset", "metric"])["value"]
    rows = []
    for method in dict.fromkeys(reference.method):
        first = reference[reference.method == method].iloc[0]
        row: dict = {"method": method}
        row |= {f"paper_{d}_{m}": value.get((method, d, m)) for d, m in cells}
        row |= {
            "ours_dataset": name + (" (PROXY)" if proxy else ""),
            "ours_n": models.get(method, {}).get("n"),
        }
        for m in metric_names:
            res = paired.get(f"{method}_vs_{baseline}_{m}", {})
            row |= {
                f"ours_{m}": models.get(method, {}).get(m),
                f"ours_{m}_vs_{baseline}": res.get("mean_diff"),
                f"ours_{m}_vs_{baseline}_ci_low": res.get("ci_low"),
                f"ours_{m}_vs_{baseline}_ci_high": res.get("ci_high"),
            }
        deps = (weights_by_method or {}).get(method, [])
        random_w = [k for k in deps if not status.get(k, {}).get("comparable", False)]
        why = []
        if proxy:
            why.append(f"PROXY data ({name})")
        elif same_data is None:
            why.append(f"{name} is none of the paper's datasets")
        if random_w:
            why.append(f"RANDOM {', '.join(random_w)}")
        if (not_comparable or {}).get(method):
            why.append(not_comparable[method])
        if any(row[f"ours_{m}"] is None for m in metric_names):
            why.append("not measured")
        row["comparable"] = not why
        if same_data is not None:
            row |= {
                f"delta_{same_data}_{m}": row[f"ours_{m}"] - row[f"paper_{same_data}_{m}"]
                if row["comparable"]
                else None
                for m in metric_names
            }
        row["weights"] = (
            "none needed"
            if not deps
            else (f"RANDOM {', '.join(random_w)}" if random_w else "pretrained")
        )
        row["not_comparable_because"] = "; ".join(why)
        row["source"] = f"{first.table}, p. {first.page}"
        rows.append(row)
    order = [
        c for c in rows[0] if c not in ("comparable", "weights", "not_comparable_because", "source")
    ]
    return pd.DataFrame(rows)[[*order, "weights", "comparable", "not_comparable_because", "source"]]


# how a metric is printed in the paper tables: header, decimals (PSNR as Ledig's 2, SSIM as their 4)
METRIC_FORMATS = {"psnr_y": ("PSNR-Y [dB]", 2), "ssim_y": ("SSIM-Y", 4)}


def paper_table_view(
    table: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    baseline: str = "bicubic",
    names: dict[str, str] | None = None,
) -> pd.DataFrame:
    """:func:`paper_table` for reading: text cells with each metric's decimals (:data:`METRIC_FORMATS`), the
    paper's columns as ``"paper: Set5 PSNR-Y [dB]"``, ours once as ``"28.99 (+0.14 [+0.10, +0.16])"`` (the mean,
    then the paired difference against ``baseline`` with its 95 % CI), the Δ columns where :func:`paper_table`
    made them, and ``"comparable with the paper"`` (``yes`` or ``no: <why>``). ``names``: method -> display name."""
    cells = _cells(reference)
    metric_names = list(dict.fromkeys(m for _, m in cells))

    def fmt(metric: str) -> tuple[str, int]:
        return METRIC_FORMATS.get(metric, (metric, 4))

    def num(v, d: int, sign: str = "") -> str:
        return "" if v is None or v != v else format(v, f"{sign}.{d}f")

    out = pd.DataFrame({"method": [(names or {}).get(m, m) for m in table.method]})
    for d, m in cells:
        head, dec = fmt(m)
        out[f"paper: {d} {head}"] = [num(v, dec) for v in table[f"paper_{d}_{m}"]]
    data, n = table.ours_dataset.iloc[0], table.ours_n.dropna()
    images = f", n = {int(n.iloc[0])}" if len(n) else ""
    for m in metric_names:
        head, dec = fmt(m)
        col = f"ours, {data}{images}: {head} (− {baseline} [95 % CI])"
        texts = []
        for r in table.to_dict("records"):
            text = num(r[f"ours_{m}"], dec) or "not measured"
            diff = r[f"ours_{m}_vs_{baseline}"]
            if diff is not None and diff == diff:
                lo, hi = r[f"ours_{m}_vs_{baseline}_ci_low"], r[f"ours_{m}_vs_{baseline}_ci_high"]
                text += f" ({num(diff, dec, '+')} [{num(lo, dec, '+')}, {num(hi, dec, '+')}])"
            texts.append(text)
        out[col] = texts
    for c in table.columns:
        if c.startswith("delta_"):
            d, m = c[len("delta_") :].split("_", 1)
            head, dec = fmt(m)
            out[f"Δ ours − {d} {head}"] = [num(v, dec, "+") for v in table[c]]
    out["comparable with the paper"] = [
        "yes" if ok else f"no: {why}"
        for ok, why in zip(table.comparable, table.not_comparable_because)
    ]
    return out


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
