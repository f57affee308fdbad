"""What a SRGAN training run shows, in words built from its numbers (notebook 10's conclusion).

Every line compares this run's last validation (PSNR-Y on benchmark centre crops, gain over bicubic) with the paper's
Table 2 and names a failed run and its cause instead of calling it expected. The paper's numbers are read from
``references/srgan_ledig2017.csv``, never typed here.
"""

from __future__ import annotations

import math

import pandas as pd

from srlib import paths, stats

# A content loss this small carries no gradient: random-init VGG19 features after ReLU are ~0 on real images
# (l_g_percep 3.7e-17 in a CPU run), so the "SRGAN" stage trains on the adversarial term alone.
DEAD_CONTENT_LOSS = 1e-8
# An SRGAN stage that loses more than this over its own SRResNet start has broken it, not traded PSNR for texture:
# the paper's own trade is 2.4-2.7 dB after 2e5 updates (Table 2); a handful of CPU steps cannot earn more.
COLLAPSE_DROP_DB = stats.COLLAPSE_DB


def paper_psnr(method: str, dataset: str = "Set5") -> tuple[float, str]:
    """Ledig Table 2's PSNR-Y of ``method`` on ``dataset`` and where it is printed ("Table 2, p. 8")."""
    ref = pd.read_csv(paths.references_dir() / "srgan_ledig2017.csv")
    row = ref[(ref.method == method) & (ref.dataset == dataset) & (ref.metric == "psnr_y")]
    if len(row) != 1:
        raise ValueError(
            f"references/srgan_ledig2017.csv: no single {method} psnr_y row for {dataset}"
        )
    r = row.iloc[0]
    return float(r.value), f"{r.table}, p. {r.page}"


def srgan_state(l_g_percep: float, drop_db: float) -> tuple[str, str]:
    """(state, cause) of an SRGAN stage with this last content loss and PSNR-Y change against its SRResNet start.

    ``"COLLAPSED"`` when it fell more than :data:`COLLAPSE_DROP_DB` (the cause: a dead content loss where there is
    one); ``"DEAD CONTENT LOSS"`` when the content loss carried no gradient but PSNR held (the stage did not train
    what the paper trains); ``"ok"`` otherwise. The rule :func:`srlib.srgan.evaluate.collapses` words for notebook 11.
    """
    dead = not math.isfinite(l_g_percep) or l_g_percep < DEAD_CONTENT_LOSS
    cause = (
        f"the content loss is dead (l_g_percep = {l_g_percep:.1e}: random-init features are ~0 after ReLU), so G "
        "trained on the adversarial term alone"
        if dead
        else ""
    )
    if drop_db < -COLLAPSE_DROP_DB:
        return "COLLAPSED", cause or (
            f"PSNR fell {-drop_db:.2f} dB below its SRResNet start, more than the paper's own trade"
        )
    return ("DEAD CONTENT LOSS", cause) if dead else ("ok", "")


def conclusions(profile: str) -> list[str]:
    """Notebook 10's findings, from its metrics file: the last validation numbers, the paper's, and what disagrees
    and why."""
    from srlib import tracking  # torch: not for the site's import of srgan_state

    payload = tracking.read_metrics(paths.metrics_file(profile, "srgan_train"))
    pre, gan, labels = (
        payload["metrics"]["srresnet"],
        payload["metrics"]["srgan"],
        payload["labels"],
    )
    p_bic, where = paper_psnr("bicubic")
    p_pre, _ = paper_psnr("srresnet")
    p_gan, _ = paper_psnr("srgan")
    drop = gan["val_psnr_y"] - pre["val_psnr_y"]
    lines = [
        f"SRResNet-MSE after {pre['iters']:,} steps: {pre['val_psnr_y']:.2f} dB PSNR-Y on the validation crops, "
        f"{pre['val_gain_db']:+.2f} dB over bicubic (paper, Set5 x4 after 1e6 steps: {p_pre:.2f} dB, "
        f"{p_pre - p_bic:+.2f} dB over bicubic; {where}).",
    ]
    if pre["val_gain_db"] <= 0:
        lines.append(
            "  SRResNet does NOT beat bicubic here: the pre-training is too short or broken."
        )
    state, cause = srgan_state(gan["l_g_percep"], drop)
    lines.append(
        f"SRGAN after {gan['iters']:,} steps: {gan['val_psnr_y']:.2f} dB, {drop:+.2f} dB vs SRResNet "
        f"(paper, Set5: {p_gan - p_pre:+.2f} dB, SRGAN gives up PSNR for texture)."
    )
    if state == "COLLAPSED":
        lines.append(f"  COLLAPSED: {cause}. This drop is a failed run, not the paper's trade.")
    elif state == "DEAD CONTENT LOSS":
        lines.append(
            f"  DEAD CONTENT LOSS: {cause}; PSNR held, but this is not the paper's SRGAN stage."
        )
    elif abs(drop) < 0.05:
        lines.append(
            "  No measurable PSNR change (|delta| < 0.05 dB): too few adversarial steps to move the SRResNet start."
        )
    elif drop < 0:
        lines.append(
            "  The drop has the paper's sign; its size is not comparable (budget, data, content network)."
        )
    else:
        lines.append(
            "  PSNR rose: this contradicts the paper's trade (too few adversarial steps to reach it)."
        )
    caveats = [
        x for x in labels if x.startswith(("PROXY", "RANDOM", "perceptual loss", "bicubic skip"))
    ]
    if caveats:
        lines.append("Not comparable with the paper's numbers: " + "; ".join(caveats) + ".")
    return lines
