"""Figures of the diverse-hallucination study: Fig. 4's grid, the z-interpolation strip, the ablation's paired dots,
the learning curves, and a z slider for JupyterLab (with the static strip for renderings without a kernel)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from srlib import evaluation, viz
from srlib.hallucination import evaluate as hev
from srlib.models import hallucination as hm

MEASURE_NAMES = {
    "div_pixel": "pixels (mean |Δ|, 8-bit levels)",
    "div_grad": "G's gradient maps (mean |Δ|)",
    "div_inception": "FID-Inception pool3 (L2)",
}


def nearest_up(lq: torch.Tensor, scale: int) -> torch.Tensor:
    return torch.nn.functional.interpolate(lq, scale_factor=scale, mode="nearest")


def hallucination_grid(g, pairs, *, scale: int, num_samples: int, seed: int, device, title: str):
    """Fig. 4's form: per input the LR (nearest), bicubic, the reconstruction z = 0, ``num_samples``
    hallucinations, their gradient maps beneath (second row), and the HR."""
    columns: dict[str, list[torch.Tensor]] = {"LR (nearest)": [], "bicubic": [], "z = 0": []}
    columns |= {f"z_{i + 1}": [] for i in range(num_samples)}
    columns["HR"] = []
    labels = []
    bicubic = evaluation.bicubic_upscaler(scale)
    for index, (name, lq, gt) in enumerate(pairs):
        rec = hev.outputs(g, lq, None, device)
        hal = hev.outputs(
            g, lq, hev.sample_noise(g, lq, num_samples, seed=seed, index=index), device
        )
        grey = lambda x: (x / max(float(x.max()), 1e-6)).clamp(0, 1).expand(-1, 3, -1, -1)  # noqa: E731
        columns["LR (nearest)"] += [nearest_up(lq[None], scale)[0], torch.zeros_like(gt)]
        columns["bicubic"] += [
            bicubic(lq[None])[0].clamp(0, 1),
            hm.gradient_map(bicubic(lq[None]))[0].expand(3, -1, -1),
        ]
        columns["z = 0"] += [rec["image"][0], grey(rec["grad"])[0]]
        for i in range(num_samples):
            columns[f"z_{i + 1}"] += [hal["image"][i], grey(hal["grad"][i : i + 1])[0]]
        columns["HR"] += [gt, grey(hm.gradient_map(gt[None]))[0]]
        labels += [f"{name}: image", f"{name}: gradient"]
    stacked = {k: torch.stack(v) for k, v in columns.items()}
    return viz.image_grid(stacked, row_labels=labels, title=title, size=1.6)


def interpolation_strip(g, pairs, *, steps: int, seed: int, device, title: str):
    """Rows = inputs, columns = images along z_a -> z_b (straight line in noise space)."""
    frames = [
        hev.interpolation(g, lq, steps=steps, seed=seed + i, device=device)
        for i, (_, lq, _) in enumerate(pairs)
    ]
    columns = {
        f"t = {t:.2f}": torch.stack([f[j] for f in frames])
        for j, t in enumerate(np.linspace(0, 1, steps))
    }
    return viz.image_grid(columns, row_labels=[n for n, _, _ in pairs], title=title, size=1.6)


def ablation_figure(div: pd.DataFrame, table: pd.DataFrame, *, title: str):
    """Per measure: each input's diversity with L_z and without (paired, a line each), the paired CI in the title."""
    fig, axes = plt.subplots(
        1, len(hev.DIVERSITY), figsize=(4.2 * len(hev.DIVERSITY), 3.6), squeeze=False
    )
    for ax, measure in zip(axes[0], hev.DIVERSITY):
        for set_name, df in div.groupby("set", sort=False):
            wide = df.pivot_table(index="image", columns="model", values=measure)
            if not {"ours", "no_lz"} <= set(wide.columns):
                continue
            for _, r in wide.iterrows():
                ax.plot([0, 1], [r["no_lz"], r["ours"]], color="0.7", lw=0.8)
            ax.scatter(np.zeros(len(wide)), wide["no_lz"], s=12, label=f"{set_name}: without L_z")
            ax.scatter(np.ones(len(wide)), wide["ours"], s=12, label=f"{set_name}: with L_z")
        rows = table[table.measure == measure]
        ci = "; ".join(
            f"{r.set}: {r.mean_diff:+.3g} [{r.ci_low:+.3g}, {r.ci_high:+.3g}]"
            for r in rows.itertuples()
        )
        ax.set_xticks([0, 1], ["alpha = 0", "alpha = 1"])
        ax.set_title(f"{MEASURE_NAMES[measure]}\nwith − without: {ci}", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def losses_figure(histories: dict[str, pd.DataFrame], *, title: str):
    """L_z, L_percp, L_grad and D's losses of the two trainings (alpha = 1 and 0) against the step."""
    keys = [
        "l_z",
        "l_g_percep",
        "l_g_grad",
        "l_g_adv_hal",
        "l_d_real",
        "l_d_fake",
        "r1",
        "lr_consistent_hal",
    ]
    fig, axes = plt.subplots(2, 4, figsize=(14, 6), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for name, frame in histories.items():
            if key in frame:
                ax.plot(frame["step"], frame[key], label=name)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def z_slider(g, pairs, *, steps: int, seed: int, device, strip_png: bytes) -> viz.CropViewer:
    """An ipywidgets slider over t on the line z_a -> z_b for one input (JupyterLab, live), with the static
    interpolation strip for renderings without a kernel (:class:`srlib.viz.CropViewer` shows both)."""
    import ipywidgets as widgets
    from PIL import Image

    by_name = {name: lq for name, lq, _ in pairs}
    pick = widgets.Dropdown(options=list(by_name), description="input")
    t = widgets.FloatSlider(0.0, min=0.0, max=1.0, step=1 / max(steps - 1, 1), description="t")
    view = widgets.Image(format="png")

    def redraw(*_):
        lq = by_name[pick.value]
        gen = torch.Generator().manual_seed(seed + list(by_name).index(pick.value))
        z_a, z_b = (torch.randn((1, g.noise_dim, *lq.shape[-2:]), generator=gen) for _ in range(2))
        img = hev.outputs(g, lq, (1 - t.value) * z_a + t.value * z_b, device)["image"][0]
        arr = (viz.to_numpy(img) * 255).round().astype(np.uint8)
        out = io.BytesIO()
        Image.fromarray(arr).resize((arr.shape[1] * 3, arr.shape[0] * 3), Image.NEAREST).save(
            out, format="PNG"
        )
        view.value = out.getvalue()

    for w in (pick, t):
        w.observe(redraw, names="value")
    redraw()
    note = "[z slider (ipywidgets): live in JupyterLab with a running kernel; the strip above is its static form]"
    return viz.CropViewer(widgets.VBox([pick, t, view]), strip_png, note)


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()
