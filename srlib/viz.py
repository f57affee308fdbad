"""Figures (each function returns a matplotlib Figure; srlib never calls ``plt.show()``) and the notebook viewer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use(matplotlib.get_backend() if matplotlib.get_backend() else "Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402


def to_numpy(img: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` / ``(1, 3, H, W)`` tensor in [0, 1] -> ``(H, W, 3)`` array."""
    if img.ndim == 4:
        img = img[0]
    return img.detach().float().cpu().clamp(0, 1).numpy().transpose(1, 2, 0)


def save(fig, path: str | Path, *, dpi: int = 120) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def busiest_box(gt: torch.Tensor, size: int) -> tuple[int, int]:
    """Top-left of the ``size`` x ``size`` window with the most gradient energy: where SR methods differ most."""
    gray = gt.mean(0) if gt.ndim == 3 else gt[0].mean(0)
    grad = (gray[1:, :-1] - gray[:-1, :-1]).abs() + (gray[:-1, 1:] - gray[:-1, :-1]).abs()
    pooled = torch.nn.functional.avg_pool2d(grad[None, None], size, stride=max(size // 4, 1))[0, 0]
    idx = int(pooled.argmax())
    stride = max(size // 4, 1)
    return (idx // pooled.shape[1]) * stride, (idx % pooled.shape[1]) * stride


def zoom_comparison(
    images: dict[str, torch.Tensor],
    *,
    gt_key: str = "ground truth",
    box: tuple[int, int] | None = None,
    size: int = 96,
    labels: dict[str, str] | None = None,
    title: str | None = None,
):
    """Full ground truth with a box, then the same zoomed crop of every image (nearest-neighbour display)."""
    gt = images[gt_key]
    top, left = box if box is not None else busiest_box(gt, size)
    n = len(images) + 1
    fig, axes = plt.subplots(1, n, figsize=(3 * n, 3.4))
    axes[0].imshow(to_numpy(gt))
    axes[0].add_patch(
        Rectangle((left, top), size, size, fill=False, edgecolor="red", linewidth=1.5)
    )
    axes[0].set_title(gt_key)
    for ax, (name, img) in zip(axes[1:], images.items()):
        crop = img[..., top : top + size, left : left + size]
        ax.imshow(to_numpy(crop), interpolation="nearest")
        ax.set_title((labels or {}).get(name, name), fontsize=9)
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def learning_curve(
    history: pd.DataFrame,
    columns: Sequence[str],
    *,
    x: str = "step",
    title: str | None = None,
    ylabel: str | None = None,
    hline: float | None = None,
    hline_label: str = "",
    logy: bool = False,
):
    """Line plot of history columns (rows missing a column are skipped for that column)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    points = 0
    for col in columns:
        if col in history:
            sub = history[[x, col]].dropna()
            points = max(points, len(sub))
            ax.plot(sub[x], sub[col], marker="o" if len(sub) < 40 else None, ms=3, label=col)
    if hline is not None:
        ax.axhline(hline, color="gray", ls="--", lw=1, label=hline_label or None)
    ax.set_xlabel(x)
    losses = all(c.startswith("l_") for c in columns)
    ax.set_ylabel(ylabel or ("loss" + (" (log scale)" if logy else "") if losses else "value"))
    if logy:
        ax.set_yscale("log")
    # a run shorter than one log interval: say so rather than draw a lone dot as a curve
    if points <= 1:
        title = (title or "") + "\n(one logged point: the run is too short for a curve)"
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


METRIC_NAMES = {"psnr_y": "PSNR-Y", "ssim_y": "SSIM-Y", "lpips": "LPIPS", "niqe": "NIQE"}


def metric_bars(per_image: pd.DataFrame, metric: str, *, title: str | None = None, unit: str = ""):
    """Per-image metric as a dot plot: one row per image (sorted by the first model's value, highest at the top), one
    marker per model, the axis named with its unit; the legend below, so a few dozen images stay readable."""
    models = list(dict.fromkeys(per_image.model))
    wide = per_image.pivot_table(index="image", columns="model", values=metric)[models]
    wide = wide.sort_values(models[0])
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.28 * len(wide)), layout="constrained")
    for model, marker in zip(models, "osD^v<>"):
        ax.scatter(wide[model], range(len(wide)), marker=marker, s=28, label=model, zorder=3)
    ax.set_yticks(range(len(wide)), wide.index, fontsize=8)
    name = METRIC_NAMES.get(metric, metric)
    ax.set_xlabel(f"{name}{f' [{unit}]' if unit else ''}")
    ax.set_ylabel(f"image (sorted by {models[0]})")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=2, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


class CropViewer:
    """What :func:`crop_viewer` returns: the ipywidgets viewer (``widget``) and a static PNG grid (``png``) of the
    crops it opens on.

    Displayed as a cell's result it shows both, as two outputs: the grid first, which every static rendering keeps
    (GitHub, nbconvert, the site pages; a widget there is an empty box without its kernel), then the live widget,
    whose text fallback (``note``) says what it is instead of ipywidgets' ``VBox(children=...)``. There is no
    ``Out[n]``: ``_ipython_display_`` does the displaying.
    """

    def __init__(self, widget, png: bytes, note: str):
        self.widget, self.png, self.note = widget, png, note

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display({"image/png": self.png, "text/plain": "<static crop grid>"}, raw=True)
        bundle = self.widget._repr_mimebundle_()  # ipywidgets 8: {widget-view json, text/plain}
        display(bundle | {"text/plain": self.note}, raw=True)


def crop_viewer(
    pairs,
    upscalers: dict,
    *,
    size: int = 128,
    zoom: int = 3,
    static_images: int = 3,
    title_tag: str = "",
) -> CropViewer:
    """ipywidgets viewer for JupyterLab: pick a benchmark image, flip between methods, move the crop; with a static
    grid of the same crops for renderings without a kernel (:class:`CropViewer`).

    Both open on each image's busiest ``size`` window of the ground truth (:func:`busiest_box`, where SR methods
    differ most); the grid shows it for the first ``static_images`` images, one row each, every method plus the
    ground truth. Outputs are computed when an image is first shown (and cached), so opening the viewer costs
    ``static_images`` images. The crop is shown through an ``Image`` widget (PNG bytes, nearest-neighbour zoom)
    rather than an ``Output`` widget, which can deadlock headless executions (nbclient/papermill).

    Args:
        pairs: ``(name, lq, gt)`` triples as from :func:`srlib.data.images.benchmark_pairs`.
        upscalers: ``{method: lq (1, 3, h, w) -> sr}``, e.g. bicubic and the trained generators.
        title_tag: appended to the static grid's title (e.g. a SMOKE / PROXY line).
    """
    import io

    import ipywidgets as widgets
    from PIL import Image

    if size < 1 or zoom < 1 or static_images < 1:
        raise ValueError(
            f"crop_viewer: size, zoom and static_images must be >= 1, got {size}, {zoom}, {static_images}"
        )
    by_name = {name: (lq, gt) for name, lq, gt in pairs}
    if not by_name:
        raise ValueError("crop_viewer: no benchmark pairs to show")
    cache: dict[str, dict[str, torch.Tensor]] = {}

    def outputs(name: str) -> dict[str, torch.Tensor]:
        if name not in cache:
            lq, gt = by_name[name]
            cache[name] = {m: up(lq[None])[0].clamp(0, 1) for m, up in upscalers.items()} | {
                "ground truth": gt
            }
        return cache[name]

    def start(name: str) -> tuple[int, int]:
        gt = by_name[name][1]
        h, w = gt.shape[-2:]
        return busiest_box(gt, max(1, min(size, h - 1, w - 1)))

    def crop(img: torch.Tensor, top: int, left: int) -> torch.Tensor:
        return img[..., top : top + size, left : left + size]

    # the static grid: the crops the viewer opens on, for the first images
    names = list(by_name)[:static_images]
    boxes = {n: start(n) for n in names}
    columns = {
        m: [crop(outputs(n)[m], *boxes[n]) for n in names] for m in [*upscalers, "ground truth"]
    }
    fig = image_grid(
        columns,
        row_labels=[f"{n}\n{size}px at {top_},{left_}" for n, (top_, left_) in boxes.items()],
        title=f"the viewer's starting crops: {size}px at each image's busiest window (nearest)"
        + title_tag,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)  # shown once, by CropViewer (the inline backend would show it again)

    pick = widgets.Dropdown(options=list(by_name), description="image")
    method = widgets.ToggleButtons(options=[*upscalers, "ground truth"], description="show")
    top = widgets.IntSlider(0, 0, 1, description="top")
    left = widgets.IntSlider(0, 0, 1, description="left")
    view = widgets.Image(format="png")
    caption = widgets.Label()

    def move_to_start(*_):
        h, w = by_name[pick.value][1].shape[-2:]
        top.max, left.max = max(h - size, 1), max(w - size, 1)
        top.value, left.value = start(pick.value)

    def redraw(*_):
        img = outputs(pick.value)[method.value]
        h, w = img.shape[-2:]
        top.max, left.max = max(h - size, 1), max(w - size, 1)
        arr = to_numpy(crop(img, top.value, left.value))
        pil = Image.fromarray((arr * 255).round().astype(np.uint8))
        pil = pil.resize((pil.width * zoom, pil.height * zoom), Image.NEAREST)
        out = io.BytesIO()
        pil.save(out, format="PNG")
        view.value = out.getvalue()
        caption.value = f"{pick.value}: {method.value} (crop {size}px at {top.value},{left.value}; x{zoom} nearest)"

    move_to_start()
    # a newly picked image opens on its busiest window too, as in the grid
    pick.observe(move_to_start, names="value")
    for w in (pick, method, top, left):
        w.observe(redraw, names="value")
    redraw()
    widget = widgets.VBox([pick, method, widgets.HBox([top, left]), caption, view])
    note = (
        "[interactive crop viewer (ipywidgets): live in JupyterLab with a running kernel; "
        "the static grid above shows the crops it opens on]"
    )
    return CropViewer(widget, buf.getvalue(), note)


def thumbnails(files: Sequence[str | Path], *, cols: int = 8, title: str | None = None):
    """Grid of small previews of image files, captioned with their names."""
    from PIL import Image

    rows = max(1, -(-len(files) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, f in zip(axes.flat, files):
        with Image.open(f) as im:
            im = im.convert("RGB")
            im.thumbnail((256, 256))
            ax.imshow(np.asarray(im))
        ax.set_title(Path(f).stem[:22], fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(
    columns: dict[str, torch.Tensor],
    *,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
    size: float = 2.2,
):
    """Rows = images, columns = named ``(N, 3, H, W)`` tensors in [0, 1] (e.g. night input, phases, day truth).

    Small inputs are shown nearest-neighbour at the same display size as the large ones (what the Pre phase is).
    """
    names = list(columns)
    n = len(next(iter(columns.values())))
    fig, axes = plt.subplots(
        n, len(names), figsize=(size * len(names), size * n + 0.4), squeeze=False
    )
    for j, name in enumerate(names):
        for i in range(n):
            ax = axes[i, j]
            ax.imshow(to_numpy(columns[name][i]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=9)
            if j == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[i], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def group_histogram(
    ax, df: pd.DataFrame, x: str, *, by: str, bins: int | str = "auto", legend: bool = True
):
    """Overlaid per-group histograms of column ``x`` on ``ax``: a density per group, step outlines, light fill."""
    import seaborn as sns

    sns.histplot(
        data=df,
        x=x,
        hue=by,
        bins=bins,
        stat="density",
        common_norm=False,
        element="step",
        fill=True,
        alpha=0.25,
        ax=ax,
        legend=legend,
    )


def metric_histograms(
    df: pd.DataFrame,
    metrics: Sequence[str],
    *,
    by: str = "phase",
    title: str | None = None,
    bins: int | str = "auto",
):
    """One panel per metric: overlaid per-group histograms of the per-image values (densities, step outlines)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        group_histogram(ax, df, m, by=by, bins=bins, legend=ax is axes[0, -1])
        ax.set_title(m.upper())
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


SMOKE_PROFILES = ("smoke",)  # profiles whose numbers check the plumbing only


def run_tag(profile: str, *, proxy: bool = False, notes: Sequence[str] = ()) -> str:
    """A figure-title suffix that says what a run is: `` (SMOKE)`` for a plumbing run, `` (PROXY)`` for a proxy
    dataset, and any further ``notes`` (e.g. ``"COLLAPSED: constant output"``); ``""`` for a paper run."""
    parts = ["SMOKE" if profile in SMOKE_PROFILES else "PROXY" if proxy else "", *notes]
    parts = [p for p in parts if p]
    return f" ({', '.join(parts)})" if parts else ""
