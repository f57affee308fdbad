"""The seven studies, each from its metrics files: SRGAN, the modified SRGAN, night→day, diverse hallucination, the
degradation matrix with ZSSR, Real-ESRGAN, pseudo-supervised unpaired SR with its blind-SR table."""

from __future__ import annotations

import re

from srlib.site.claims import (
    AGREES,
    CONTRADICTS,
    UNTESTABLE,
    Claim,
    Headline,
    Study,
    cell,
    ci_text,
    data_name,
    decide,
    labels_with,
    not_comparable,
    paired,
    ref_where,
    with_ci,
)
from srlib.site.inputs import Inputs, SiteError, paper_setting, shown
from srlib.srgan.findings import srgan_state


def srgan(inp: Inputs) -> Study:
    """Ledig et al. 2017: SRResNet-MSE, then SRGAN-VGG54 (notebooks 10, 11, 90)."""
    ev, tr, ref = "srgan_evaluate", "srgan_train", "srgan_ledig2017"
    n = int(inp.number(ev, "metrics.models.bicubic.n"))
    pair = "metrics.paired."
    gain = paired(
        inp, ev, pair + "srresnet_vs_bicubic_psnr_y", "SRResNet − bicubic, PSNR-Y (dB)", "+.2f", n
    )
    ssim = paired(
        inp, ev, pair + "srresnet_vs_bicubic_ssim_y", "SRResNet − bicubic, SSIM-Y", "+.4f", n
    )
    gan = paired(
        inp, ev, pair + "srgan_vs_srresnet_psnr_y", "SRGAN − SRResNet, PSNR-Y (dB)", "+.2f", n
    )
    absolute = [
        Headline(
            f"{m}, PSNR-Y (dB)",
            cell(inp, ev, f"metrics.models.{m}.psnr_y", ".2f"),
            note=f"mean of {n} images",
        )
        for m in ("bicubic", "srresnet", "srgan")
    ]

    def paper(method: str, metric: str) -> str:
        fmt = ".2f" if metric == "psnr_y" else ".4f"
        values = (
            inp.paper(ref, dataset=d, method=method, metric=metric)
            for d in ("Set5", "Set14", "BSD100")
        )
        return " / ".join(f"{v:{fmt}}" for v in values)

    where = ref_where(inp, ref) + ", Set5 / Set14 / BSD100"
    tested = [
        (f"SRResNet-MSE beats bicubic in PSNR-Y ({where}: {paper('srresnet', 'psnr_y')} dB vs "
         f"{paper('bicubic', 'psnr_y')} dB)", "srresnet_vs_bicubic_psnr_y", "A better", ("SRResNet", "bicubic")),
        (f"SRResNet-MSE beats bicubic in SSIM-Y ({where}: {paper('srresnet', 'ssim_y')} vs "
         f"{paper('bicubic', 'ssim_y')})", "srresnet_vs_bicubic_ssim_y", "A better", ("SRResNet", "bicubic")),
        (f"SRGAN-VGG54 gives up PSNR-Y against SRResNet for perceptual quality ({where}: "
         f"{paper('srgan', 'psnr_y')} dB vs {paper('srresnet', 'psnr_y')} dB)", "srgan_vs_srresnet_psnr_y",
         "B better", ("SRGAN", "SRResNet")),
    ]  # fmt: skip
    claims = [
        Claim(text, *decide(inp.value(ev, pair + key), claimed, n, names=names))
        for text, key, claimed, names in tested
    ]
    # a collapsed SRGAN stage loses PSNR too, but that is not the paper's trade: the claim is not tested then
    percep = inp.metrics(ev)["metrics"].get("training", {}).get("l_g_percep")
    drop = inp.number(ev, pair + "srgan_vs_srresnet_psnr_y.mean_diff")
    state, cause = srgan_state(float("nan") if percep is None else percep, drop)
    if state != "ok" and percep is not None:
        claims[2] = Claim(claims[2].text, UNTESTABLE, f"SRGAN {state} ({drop:+.2f} dB): {cause}")
    budget = (
        f"; trained {inp.number(tr, 'metrics.srresnet.iters'):.0f} SRResNet + "
        f"{inp.number(tr, 'metrics.srgan.iters'):.0f} SRGAN steps (the paper's settings, params.yaml "
        f"srgan_train: {paper_setting('srgan_train', 'pretrain_iters')} + {paper_setting('srgan_train', 'gan_iters')})"
    )
    claims.append(
        Claim(
            f"The absolute numbers of {where}",
            UNTESTABLE,
            not_comparable(inp, ev, "tables/srgan_ledig2017.md") + budget,
        )
    )
    claims.append(
        Claim(
            "SRGAN-VGG54's outputs are rated far more photo-realistic (the paper's mean-opinion-score test)",
            UNTESTABLE,
            "no human raters in this study; its content loss: "
            + labels_with(inp, tr, "perceptual", "RANDOM WEIGHTS", "VGG"),
        )
    )
    return Study(
        slug="srgan",
        title="SRGAN (Ledig et al., CVPR 2017)",
        paper="Ledig et al., Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network",
        url="https://arxiv.org/abs/1609.04802",
        scope=f"{n} images of {data_name(inp, ev)}, ×{inp.number(ev, 'metrics.scale'):.0f}, PSNR / SSIM on Y "
        f"with a {inp.number(ev, 'metrics.crop_border'):.0f}-pixel border removed",
        stages=[tr, ev],
        tables=[
            "srgan_ledig2017.md",
            "srgan_ledig2017.csv",
            "srgan_paired.csv",
            "srgan_per_image.csv",
        ],
        figure="srgan_evaluate/psnr_y_per_image.png",
        caption="PSNR-Y per benchmark image: bicubic, SRResNet, SRGAN",
        headlines=[gain, ssim, gan, *absolute],
        summary=[gain, gan],
        claims=claims,
        extra_notebooks=["tables"],
    )


# srlib.srgan_modified.ablation's findings: "match (faithful tiles): helps -- PSNR-Y +5.12 dB, ..."
_FINDING = re.compile(r"^(?P<fix>[\w-]+) \((?P<tiling>\w+) tiles\): (?P<word>[\w ]+?) -- ")


def _finding(inp: Inputs, stage: str, fix: str, tiling: str) -> tuple[str, str]:
    """(word, sentence) of the ablation's finding on ``fix``: helps / hurts / changes little / trades ..."""
    for line in inp.value(stage, "metrics.findings"):
        m = _FINDING.match(line)
        if m and m["fix"] == fix and m["tiling"] == tiling:
            return m["word"], line
    raise SiteError(f"{shown(inp.metrics_path(stage))}: no finding on {fix!r} with {tiling} tiles")


def srgan_modified(inp: Inputs) -> Study:
    """The modified SRGAN (vTuanpham seed) and its post-processing, quantified (notebooks 20, 21)."""
    tr, pp, a = "srgan_modified_train", "srgan_modified_postprocess", "metrics.ablation."
    n = int(inp.number(pp, "metrics.images"))
    note = f"mean of {n} images, one run: no CI"

    def h(label: str, key: str, fmt: str = ".2f") -> Headline:
        return Headline(label, cell(inp, pp, a + key, fmt), note=note)

    net = h("network (untiled), PSNR-Y (dB)", "network.psnr_y")
    bic = h("bicubic, PSNR-Y (dB)", "bicubic.psnr_y")
    faithful = h("seam score of the seed's 64-px tiles (1 = no seam)", "network [faithful].seam")
    blend = h("seam score of overlapped, blended tiles", "network [blend].seam")
    untiled = h("seam score of the untiled output on the same lines", "network.seam")
    zero = h(
        "seam score of the seed's tiles with zero padding", "network, zero padding [faithful].seam"
    )
    match = h(
        "histogram matching (seed's tiles): Δ PSNR-Y (dB)", "+ match [faithful].d_psnr_y", "+.2f"
    )
    lowpass = h(
        "FFT low-pass (seed's tiles): Δ PSNR-Y (dB)", "+ low-pass [faithful].d_psnr_y", "+.2f"
    )
    # notebook 20's BN check, by whatever names it gives the modes (empty when the check did not run): under
    # ``bn_check`` (``bn_inference`` names the mode used); files written before that held the check in ``bn_inference``
    trained = inp.metrics(tr)["metrics"]
    check_key = next(
        (k for k in ("bn_check", "bn_inference") if isinstance(trained.get(k), dict)), None
    )
    bn_check = trained.get(check_key) or {}
    bn = [
        Headline(
            f"gain over bicubic with BN {k}, PSNR-Y (dB)",
            cell(inp, tr, f"metrics.{check_key}.{k}.val_gain_db", "+.2f"),
            note="validation crops of notebook 20",
        )
        for k in bn_check
    ]
    seamless = faithful.cell.value <= max(untiled.cell.value, blend.cell.value)
    words = {"helps": AGREES, "hurts": CONTRADICTS, "changes little": CONTRADICTS}
    m_word, m_line = _finding(inp, pp, "match", "faithful")
    l_word, l_line = _finding(inp, pp, "low-pass", "faithful")
    claims = [
        Claim(
            "Reflect padding inside the network lets 64-px tiles without overlap join without visible seams",
            AGREES if seamless else CONTRADICTS,
            f"seam score {faithful.cell.text} for the seed's tiles against {untiled.cell.text} untiled and "
            f"{blend.cell.text} with blended tiles (1 = no seam); {note}",
        ),
        Claim(
            "Reflect padding shows fewer tile seams than zero padding (the report's padding figure)",
            AGREES if zero.cell.value > faithful.cell.value else CONTRADICTS,
            f"seam score {zero.cell.text} with zero padding vs {faithful.cell.text} with reflect padding "
            f"({labels_with(inp, pp, 'zero padding')}); {note}",
        ),
        Claim(
            "Histogram matching to the LR input's colours improves the output",
            words.get(m_word, UNTESTABLE),
            m_line,
        ),
        Claim(
            "An FFT low-pass removes the GAN's patterns",
            AGREES if l_word == "helps" else CONTRADICTS if l_word == "hurts" else UNTESTABLE,
            f"{l_line} (PSNR-Y and LPIPS do not isolate the patterns the low-pass targets)",
        ),
        Claim(
            "The modified SRGAN's outputs look better than bicubic (the report shows pictures, no numbers)",
            UNTESTABLE,
            f"this run's network: PSNR-Y {net.cell.text} vs bicubic {bic.cell.text} dB after "
            f"{inp.number(tr, 'metrics.iters'):.0f} steps (the seed's settings, params.yaml "
            f"srgan_modified_train: {paper_setting('srgan_modified_train', 'iters')}); "
            + labels_with(inp, tr, "RUN"),
        ),
    ]
    return Study(
        slug="srgan_modified",
        title="Modified SRGAN with post-processing (vTuanpham seed)",
        paper="Super-resolution using GANs (a student report); code: vTuanpham/SRGAN_Reimplementation_modified",
        url="https://github.com/vTuanpham/SRGAN_Reimplementation_modified",
        scope=f"{n} images of {data_name(inp, pp)}, "
        + (
            f"centre crops of {crop:.0f} px"
            if (crop := inp.number(pp, "data.eval_crop"))
            else "whole images"
        ),
        stages=[tr, pp],
        tables=[
            "srgan_modified_ablation.md",
            "srgan_modified_ablation.csv",
            "srgan_modified_ablation_per_image.csv",
        ],
        figure="srgan_modified_postprocess/padding_seams.png",
        caption="Tile seams: zero vs reflect padding, the seed's tiles vs blended tiles",
        headlines=[net, bic, faithful, blend, untiled, zero, match, lowpass, *bn],
        summary=[net, bic, faithful, blend, match],
        claims=claims,
    )


_BETTER = {"A better": "Post better", "B better": "Pre better"}  # post_vs_pre: A = Post, B = Pre


def _post_better_than_pre(inp: Inputs, ev: str, model: str, n: int) -> tuple[str, str]:
    """(verdict, why) of "Post is better than Pre on every metric" from the stored ``post_better_than_pre``."""
    res = inp.value(ev, f"metrics.post_better_than_pre.{model}")
    lost = {k.upper(): _BETTER.get(v, v) for k, v in res["not_better_on"].items()}
    fid = f"metrics.phases.{model}/"
    fid_text = f"FID {inp.number(ev, fid + 'Pre.fid'):.1f} → {inp.number(ev, fid + 'Post.fid'):.1f}"
    if res["all"]:
        return (
            AGREES,
            f"Post better on every per-image metric over {n} pairs and on FID ({fid_text})",
        )
    lost_text = (
        "; ".join(f"{k}: {v}" for k, v in lost.items()) or "Post better on every per-image metric"
    )
    if "Pre better" in lost.values() or not res["fid"]:
        point = "better" if res["fid"] else "not better"
        return CONTRADICTS, f"{lost_text}; {fid_text} ({point}; one value per phase, no CI)"
    return UNTESTABLE, f"not resolved over {n} pairs: {lost_text}"


def _m1_like_m2(inp: Inputs, ev: str, n: int) -> tuple[str, str]:
    """(verdict, why) of "M1 and M2 perform similarly" from the stored Post-phase comparisons."""
    comp = {
        k: inp.value(ev, f"metrics.model_comparison.M1_vs_M2_{k}")
        for k in ("rmse", "mae", "ssim", "ncc")
    }
    better = {k: r for k, r in comp.items() if r["verdict"] in ("A better", "B better")}
    if better:
        return CONTRADICTS, "; ".join(
            f"{k.upper()} {ci_text(r)}: {'M1' if r['verdict'] == 'A better' else 'M2'} better"
            for k, r in better.items()
        )
    if all(r.get("equivalent") for r in comp.values()):
        return AGREES, f"every CI lies within the paper's two-decimal resolution ({n} pairs)"
    return UNTESTABLE, (
        f"no difference resolved over {n} pairs, but the CIs are wider than the paper's two-decimal resolution"
    )


def night2day(inp: Inputs) -> Study:
    """Abedjooy & Ebrahimi: M1 = SR then CUT, M2 = CUT then SR, M3 = end-to-end (ours) (notebooks 30-34)."""
    ev, ref = "night2day_evaluate", "night2day_abedjooy"
    n = int(inp.number(ev, "data.pairs"))
    phases = inp.value(ev, "metrics.phases")
    models = list(
        dict.fromkeys(k.split("/")[0] for k in phases)
    )  # M1, M2 (, M1-pretrained, ...), M3-*
    fmts = {"rmse": ".3f", "ssim": ".3f", "fid": ".1f", "kid": ".3g"}
    rows = [
        (phase, [cell(inp, ev, f"metrics.phases.{phase}.{m}", f) for m, f in fmts.items()])
        for phase in phases
    ]
    post = [
        paired(inp, ev, f"metrics.post_vs_pre.{m}_{k}", f"{m}: Post − Pre, {k.upper()}", "+.3f", n)
        for m in models
        for k in ("rmse", "ssim")
    ]
    m12 = [
        paired(
            inp,
            ev,
            f"metrics.model_comparison.M1_vs_M2_{k}",
            f"M1 − M2 (Post), {k.upper()}",
            "+.3f",
            n,
        )
        for k in ("rmse", "ssim")
    ]
    fid = [
        Headline(f"{p}, FID", cell(inp, ev, f"metrics.phases.{p}.fid", ".1f"))
        for p in ("M1/Pre", "M1/Post", "M2/Post")
    ]

    def paper(model: str, phase: str, metric: str) -> float:
        return inp.paper(ref, method=model, phase=phase, metric=metric)

    where = ref_where(inp, ref)
    claims = []
    for m in (m for m in models if m.split("-")[0] in ("M1", "M2")):  # the paper's two models
        base = m.split("-")[0]
        said = ", ".join(
            f"{k.upper()} {paper(base, 'Pre', k):.2f} → {paper(base, 'Post', k):.2f}"
            for k in ("rmse", "ssim", "fid")
        )
        text = f"{m}: Post is better than Pre on every metric ({where}, {base}: {said})"
        claims.append(Claim(text, *_post_better_than_pre(inp, ev, m, n)))
    said = ", ".join(
        f"{k.upper()} {paper('M1', 'Post', k):.2f} vs {paper('M2', 'Post', k):.2f}"
        for k in ("rmse", "ssim", "fid")
    )
    text = f"M1 and M2 perform similarly (the paper's words; {where}, Post: {said})"
    claims.append(Claim(text, *_m1_like_m2(inp, ev, n)))
    why = not_comparable(inp, ev, "tables/night2day/paper_tables.md")
    claims.append(
        Claim(
            f"The absolute numbers of {where} on {inp.reference(ref)[0]['dataset']}",
            UNTESTABLE,
            "; ".join([why, *inp.value(ev, "metrics.fid_notes")]),
        )
    )
    return Study(
        slug="night2day",
        title="Night→day multi-modality SR (Abedjooy & Ebrahimi): M1 / M2 / M3",
        paper="Abedjooy & Ebrahimi, Multi-modality image super-resolution using generative adversarial networks",
        url="",
        scope=f"{n} test pairs of {data_name(inp, ev)}, every phase against the day ground truth",
        stages=["night2day_data", "night2day_m1", "night2day_m2", "night2day_m3", ev],
        tables=[
            "night2day/paper_tables.md",
            "night2day/findings.md",
            "night2day/summary.csv",
            "night2day/paper_comparison.csv",
            "night2day/post_vs_pre.csv",
            "night2day/model_comparison.csv",
            "night2day/per_image.csv",
        ],
        figure="night2day_evaluate/models_grid.png",
        caption="Test images through every model: night LR, M1, M2, M3, day ground truth",
        headlines=[*post, *m12, *fid],
        summary=[post[0], m12[0], *fid],
        claims=claims,
        grid=(["phase", *(k.upper() for k in fmts)], rows),
    )


# hallucination_evaluate's sets, in the order the headlines prefer them; Table 1's rows ours (z = 0) is paired with;
# the ablation's three diversity measures
_SETS = ("faces", "bench")
_ROWS = {"bicubic": "bicubic", "srgan": "SRGAN", "esrgan": "ESRGAN"}
_DIVERSITY = {
    "div_pixel": "pixels",
    "div_grad": "G's gradient maps",
    "div_inception": "FID-Inception features",
}


def _first_set(inp: Inputs, stage: str) -> str:
    """The evaluation set the headlines are read from: "faces" when the run has it, else "bench"."""
    present = inp.value(stage, "metrics")
    found = next((s for s in _SETS if s in present), None)
    if found is None:
        where = shown(inp.metrics_path(stage))
        raise SiteError(f"{where}: no {' or '.join(map(repr, _SETS))} set under 'metrics'")
    return found


def _more_diverse_with_lz(inp: Inputs, stage: str, key: str, n: int) -> tuple[str, str]:
    """(verdict, why) of "diversity is higher with L_z than without" on all three measures: agrees when every one
    agrees, contradicts when any one contradicts, else it cannot be tested here."""
    names = ("with L_z", "without L_z")
    found = {
        m: decide(inp.value(stage, f"{key}.{m}"), "A better", n, names=names) for m in _DIVERSITY
    }
    verdicts = {v for v, _ in found.values()}
    verdict = (
        CONTRADICTS if CONTRADICTS in verdicts else AGREES if verdicts == {AGREES} else UNTESTABLE
    )
    return verdict, "; ".join(f"{_DIVERSITY[m]}: {why}" for m, (_, why) in found.items())


def hallucination(inp: Inputs) -> Study:
    """Abid, Hedhli & Gagné: ours at z = 0 and z drawn, its alpha = 0 (no L_z) ablation, SRGAN / ESRGAN at ×8, on the
    first evaluation set present (notebooks 40, 41)."""
    ev, tr, ref = "hallucination_evaluate", "hallucination_train", "hallucination_abid"
    name = _first_set(inp, ev)
    s = f"metrics.{name}."
    n = int(inp.number(ev, s + "rows.ours_z0.n"))
    k = inp.number(ev, "config.num_samples")
    gains = {
        row: paired(inp, ev, f"{s}paired.ours_z0_vs_{row}_psnr_y", f"ours (z = 0) − {label}, PSNR-Y (dB)",
                    "+.2f", n)
        for row, label in _ROWS.items()
    }  # fmt: skip
    diverse = {
        m: paired(inp, ev, f"{s}ablation.{m}", f"diversity with L_z − without, {what}", "+.3g", n)
        for m, what in _DIVERSITY.items()
    }
    broken = inp.metrics(ev)["metrics"][name].get("collapsed", {})  # rows > 3 dB below bicubic
    eps = inp.number(ev, "config.consistency_eps")
    consistent = [
        Headline(
            f"ours ({label}), share of LR-consistent outputs",
            cell(inp, ev, f"{s}rows.{row}.lr_consistent", ".0%"),
            note=f"round(DS(I)) within {eps:g} 8-bit levels of I_LR everywhere; {how}",
        )
        for row, label, how in (
            ("ours_z0", "z = 0", f"{n} images"),
            ("ours_z", "z drawn", f"{n} images × {k:.0f} draws of z"),
        )
    ]
    absolute = [
        Headline(f"{label}{' (COLLAPSED)' if row in broken else ''}, PSNR-Y (dB)",
                 cell(inp, ev, f"{s}rows.{row}.psnr_y", ".2f"), note=f"mean of {n} images")
        for row, label in {**_ROWS, "ours_z0": "ours (z = 0)"}.items()
    ]  # fmt: skip

    def paper(method: str) -> str:
        return f"{inp.paper(ref, method=method, metric='psnr_y'):.2f}"

    where = ref_where(inp, ref) + " (row labels inferred)"

    def against(row: str, label: str) -> tuple[str, str]:
        if row in broken:
            return UNTESTABLE, (f"the {label} row COLLAPSED here ({broken[row]:+.2f} dB PSNR-Y against bicubic, "
                                "more than twice its MSE): a broken baseline cannot test the ordering")  # fmt: skip
        return decide(inp.value(ev, f"{s}paired.ours_z0_vs_{row}_psnr_y"), "A better", n,
                      names=("ours (z = 0)", label))  # fmt: skip

    claims = [
        Claim(f"Ours beats {label} in PSNR-Y ({where}: {paper('ours')} dB vs {paper(row)} dB)", *against(row, label))
        for row, label in _ROWS.items()
    ]  # fmt: skip
    claims.append(
        Claim(
            "L_z makes the hallucinations diverse: a cGAN without it ignores z (the paper's central claim; here "
            f"alpha = 1 vs its alpha = 0 ablation, {k:.0f} draws of z per image, in pixels, G's gradient maps "
            "and FID-Inception features)",
            *_more_diverse_with_lz(inp, ev, s + "ablation", n),
        )
    )
    budget = (
        f"; trained {inp.number(tr, 'metrics.ours.iters'):.0f} steps (params.yaml hallucination_train: "
        f"{paper_setting('hallucination_train', 'iters')}; the paper does not state its number of steps)"
    )
    claims.append(
        Claim(
            f"The absolute numbers of {where} on {inp.reference(ref)[0]['dataset']}",
            UNTESTABLE,
            not_comparable(inp, ev, f"tables/hallucination/table1_{name}.md") + budget,
        )
    )
    return Study(
        slug="hallucination",
        title="Diverse hallucination SR (Abid, Hedhli & Gagné): Table 1 at ×8 and the L_z ablation",
        paper="Abid, Hedhli & Gagné, A generative model for hallucinating diverse versions of super resolution "
        "images",
        url="",
        scope=f"the {name} set, {n} images of {data_name(inp, ev)}, ×{inp.number(ev, 'config.scale'):.0f} from "
        f"the 8-bit average-pooled LR, PSNR / SSIM on Y with a border of "
        f"{inp.number(ev, 'config.crop_border'):.0f} pixels removed, {k:.0f} draws of z per image",
        stages=[tr, ev],
        tables=[
            *(
                f"hallucination/table1_{x}.{ext}"
                for x in inp.value(ev, "metrics")
                for ext in ("md", "csv")
            ),
            "hallucination/ablation.csv",
            "hallucination/diversity.csv",
            "hallucination/per_image.csv",
        ],
        figure="hallucination_evaluate/ablation.png",
        caption="Diversity of each input's hallucinations with L_z (alpha = 1) and without (alpha = 0): pixels, "
        "gradient maps, FID-Inception features",
        headlines=[*gains.values(), *diverse.values(), *consistent, *absolute],
        summary=[gains["bicubic"], diverse["div_inception"]],
        claims=claims,
    )


# the degradation study's row names, as srlib.zssr.matrix.trained_row and srlib.zssr.study.ZSSR_ROWS write them
# (matched here rather than imported: those modules import torch, seconds the site does not need; a test holds the
# names together); the phrases srlib.zssr's verdict_claim2 / verdict_claim3 begin with
_ZSSR_KNOWN = "ZSSR (known kernel)"
_STORED = re.compile(r"^(holds|does not hold( here)?|inconclusive|untested)\b")
_ZSSR_TABLES = ("table1.md", "table1.csv", "full_matrix_psnr_y.md", "full_matrix_psnr_y.csv", "claim3.csv",
                "inference_ablation.csv", "variance.csv", "night_niqe.csv", "runs.csv", "lr_decisions.csv",
                "per_image.csv")  # fmt: skip


_ZSSR_CLAIM = (
    "ZSSR adapts to the test image's degradation where an external model trained on bicubic fails (the seed "
    "essay's claim 3): with the known kernel it beats the network trained on bicubic on every non-bicubic test"
)


def _trained(degradation: str) -> str:
    return f"trained on {degradation}"


def _stored_verdict(text: str) -> tuple[str, str]:
    """(verdict, its phrase) of a stage's own verdict on a claim: "holds" agrees, "does not hold ..." contradicts,
    "inconclusive ..." and "untested" cannot be tested here."""
    m = _STORED.match(text)
    phrase = m[1] if m else text
    if phrase == "holds":
        return AGREES, phrase
    return (CONTRADICTS if phrase.startswith("does not hold") else UNTESTABLE), phrase


def _matrix_claim(inp: Inputs, dm: str) -> tuple[list[Headline], Claim]:
    """Claim 2: each test column's diagonal against the mean of the networks trained on the other degradations."""
    claim2 = inp.value(dm, "metrics.claim2")
    columns = {k.removesuffix("_vs_any"): k for k in claim2 if k.endswith("_vs_any")}
    gains = [
        paired(inp, dm, f"metrics.claim2.{k}", f"test {t}: trained on it − trained on the others (mean), PSNR-Y "
               "(dB)", "+.2f", int(claim2[k]["n"]))
        for t, k in columns.items()
    ]  # fmt: skip
    readings = [
        f"test {t}: "
        + decide(claim2[k], "A better", int(claim2[k]["n"]), names=(_trained(t), "the others"))[1]
        for t, k in columns.items()
    ]
    verdict, phrase = _stored_verdict(inp.value(dm, "metrics.claim2_verdict"))
    budget = (
        f"each network trained {inp.number(dm, 'config.iters'):.0f} steps (params.yaml degradation_matrix: "
        f"{paper_setting('degradation_matrix', 'iters')})"
    )
    claim = Claim(
        "A model trained on one degradation does poorly on others (the seed essay's claim 2): on each test "
        "degradation the network trained on it beats those trained on the others (mean of their PSNR-Y, "
        f"×{inp.number(dm, 'config.scale'):.0f}, one reduced SRResNet per training degradation)",
        verdict,
        "; ".join([*readings, f"the stage's verdict: {phrase}", budget]),
    )
    return gains, claim


def _zssr_claims(
    inp: Inputs, zs: str, ref: str
) -> tuple[list[Headline], list[Headline], list[Claim]]:
    """(headlines, index line, claims) of ZSSR: the ideal case, claim 3, its costs, Table 1 (not comparable)."""
    n = int(inp.number(zs, "metrics.images"))
    ideal = inp.value(zs, "metrics.ideal.vs_bicubic")  # empty when fewer than 2 images
    label = "ZSSR − bicubic, ideal case (bicubic LR, bicubic kernel), PSNR-Y (dB)"
    vs_bicubic = (
        [paired(inp, zs, "metrics.ideal.vs_bicubic", label, "+.2f", int(ideal["n"]))]
        if ideal
        else []
    )
    # Table 1's "ours" is the ideal case's mean, with its bootstrap CI
    table1 = inp.value(zs, "metrics.table1")
    absolute = Headline(
        "ZSSR, ideal case, PSNR-Y (dB)",
        cell(inp, zs, "metrics.ideal.psnr_y", ".2f"),
        tuple(cell(inp, zs, f"metrics.table1.0.ours CI {end}", ".2f") for end in ("low", "high")) if table1 else None,
        note=f"bootstrap over {n} images (tables/zssr/table1.csv)" if table1 else f"mean of {n} images",
    )  # fmt: skip
    stored = inp.value(zs, "metrics.claim3")
    keys = {
        t: f"{t}: {_ZSSR_KNOWN} vs {_trained('bicubic')}"
        for t in inp.value(zs, "config.test_degradations")
    }
    keys = {t: k for t, k in keys.items() if k in stored}  # the non-bicubic tests
    adapts = [
        paired(inp, zs, f"metrics.claim3.{k}", f"test {t}: {_ZSSR_KNOWN} − network {_trained('bicubic')}, PSNR-Y "
               "(dB)", "+.2f", int(stored[k]["n"]))
        for t, k in keys.items()
    ]  # fmt: skip
    max_iters = inp.number(zs, "config.max_iters")
    cost = [
        Headline("ZSSR, seconds per training", cell(inp, zs, "metrics.seconds_per_image", ".3g"),
                 note=f"mean over the trainings on {n} images"),
        Headline("ZSSR, iterations per training", cell(inp, zs, "metrics.iters_mean", ".0f"),
                 note=f"mean; at most {max_iters:.0f}"),
        Headline("ZSSR, lr divisions per training", cell(inp, zs, "metrics.lr_divisions_mean", ".1f"),
                 note="mean; ZSSR's lr policy on its reconstruction test"),
    ]  # fmt: skip
    variance = inp.value(zs, "metrics.variance")
    if variance:
        spread = cell(inp, zs, "metrics.variance.mean_std_db", ".2g")
        note = f"{variance['seeds']} seeds, mean over {variance['images']} image(s)"
        cost.append(Headline("ZSSR, run-to-run std of PSNR-Y (dB)", spread, note=note))
    niqe = [
        Headline(f"real photos, {row}, NIQE (lower: more natural)",
                 cell(inp, zs, f"metrics.night_niqe.{row}", ".2f"), note="no ground truth")
        for row, v in inp.value(zs, "metrics.night_niqe").items()
        if v == v  # NaN: a photo too small for NIQE
    ]  # fmt: skip
    budget = (
        f"ZSSR trained at most {max_iters:.0f} iterations on {inp.number(zs, 'config.crop_size'):.0f}² crops "
        f"(ZSSR's settings, params.yaml zssr: {paper_setting('zssr', 'max_iters')} iterations, "
        f"{paper_setting('zssr', 'crop_size')}² crops)"
    )
    readings = [
        f"test {t}: "
        + decide(
            stored[k], "A better", int(stored[k]["n"]), names=(_ZSSR_KNOWN, _trained("bicubic"))
        )[1]
        for t, k in keys.items()
    ]
    verdict, phrase = _stored_verdict(inp.value(zs, "metrics.claim3_verdict"))
    tests = f" ({', '.join(keys)}; ×{inp.number(zs, 'config.scale'):.0f}, PSNR-Y)" if keys else ""
    memory = "; ".join(
        dict.fromkeys(r["row_label"] for r in inp.reference(ref) if r["method"] == "zssr")
    )
    claims = [
        Claim(
            _ZSSR_CLAIM + tests,
            verdict,
            "; ".join([*readings, f"the stage's verdict: {phrase}", budget]),
        ),
        Claim(
            _table1_claim(inp, ref),
            UNTESTABLE,
            not_comparable(inp, zs, "tables/zssr/table1.md")
            + f"; ours is one number for every row (ZSSR on {n} benchmark photos, {absolute.cell.text} dB); the "
            f"paper's values: {memory} (references/{ref}.csv); {budget}",
        ),
    ]
    return [*vs_bicubic, absolute, *adapts, *cost, *niqe], [*vs_bicubic, *adapts[:1]], claims


def _table1_claim(inp: Inputs, ref: str) -> str:
    """The claim on ZSSR's Table 1, its numbers from references/."""
    rows = [r for r in inp.reference(ref) if r["method"] == "zssr" and r["metric"] == "psnr_y"]
    sets = [r["dataset"] for r in rows]
    said = " / ".join(
        f"{inp.paper(ref, dataset=d, method='zssr', metric='psnr_y'):.2f}" for d in sets
    )
    scales = "/".join(dict.fromkeys(f"×{r['scale']}" for r in rows))
    where = f"ZSSR's {ref_where(inp, ref)} ({scales}, bicubic kernel, PSNR-Y)"
    return f"The absolute numbers of {where}: {' / '.join(sets)} {said} dB"


def degradation(inp: Inputs) -> Study:
    """The train × test degradation matrix (notebook 60) and Zero-Shot SR against it (notebook 61): the seed essay's
    claims 2 and 3, ZSSR's Table 1. A profile without a ZSSR run shows the matrix, and says ZSSR's claims are not
    tested."""
    dm, zs, ref = "degradation_matrix", "zssr", "zssr_shocher"
    n = int(inp.number(dm, "metrics.images"))
    scale = inp.number(dm, "config.scale")
    blocks = inp.value(dm, "metrics.blocks")
    gains, claim2 = _matrix_claim(inp, dm)
    x4 = blocks.get("x4", {}).get("psnr_y", {})
    x4plus = [
        Headline(f"×4 block: Real-ESRGAN x4plus on the {t} test, PSNR-Y (dB)",
                 cell(inp, dm, f"metrics.blocks.x4.psnr_y.realesrgan_x4plus.{t}", ".2f"),
                 note=f"mean of {n} images, no CI stored (bicubic: tables/degradation/matrix_x4_psnr_y.md)")
        for t in x4.get("realesrgan_x4plus", {})
    ]  # fmt: skip
    has_zssr = inp.metrics_path(zs).is_file()
    if has_zssr:
        heads, summary, claims = _zssr_claims(inp, zs, ref)
    else:
        absent = f"no ZSSR run in this profile: {shown(inp.metrics_path(zs))} is absent (run `dvc repro {zs}`)"
        heads, summary = [], []
        claims = [
            Claim(_ZSSR_CLAIM, UNTESTABLE, absent),
            Claim(_table1_claim(inp, ref), UNTESTABLE, absent),
        ]
    tables = [
        *(f"degradation/matrix_{b}_{m}.{ext}" for b in blocks for m in ("psnr_y", "ssim_y") for ext in ("md", "csv")),
        "degradation/claim2.csv",
        "degradation/per_image.csv",
        *(["degradation/per_image_x4.csv"] if "x4" in blocks and scale != 4 else []),
        *(f"zssr/{t}" for t in (_ZSSR_TABLES if has_zssr else ())),
    ]  # fmt: skip
    zssr_scope = (
        f"; ZSSR on {inp.number(zs, 'metrics.images'):.0f} of them" if has_zssr else "; no ZSSR run"
    )
    return Study(
        slug="degradation",
        title="When the degradation is wrong: the train × test matrix and Zero-Shot SR (Shocher et al., CVPR 2018)",
        paper="Shocher, Cohen & Irani, “Zero-Shot” Super-Resolution using Deep Internal Learning; the train × "
        "test matrix tests the seed essay's claim 2",
        url="https://arxiv.org/abs/1712.06087",
        scope=f"{n} test images ({data_name(inp, dm)}), ×{scale:.0f}, the test LR made by each of "
        f"{', '.join(inp.value(dm, 'config.test_degradations'))} (one seeded draw per image), PSNR / SSIM on Y "
        f"with a {scale:.0f}-pixel border removed"
        + (", a ×4 block with the released Real-ESRGAN x4plus" if x4 else "")
        + zssr_scope,
        stages=[dm, zs] if has_zssr else [dm],
        tables=tables,
        figure="zssr/full_matrix_psnr.png" if has_zssr else "degradation_matrix/matrix_psnr.png",
        caption="PSNR-Y of every upscaler (rows"
        + (", ZSSR's two kernels last" if has_zssr else "")
        + ") on every test degradation (columns); each network's own degradation outlined",
        headlines=[*gains, *heads, *x4plus],
        summary=[*gains[:1], *summary],
        claims=[claim2, *claims],
    )


def realesrgan(inp: Inputs) -> Study:
    """Bicubic vs the released Real-ESRGAN x4plus (fp16-converted) on the benchmark (notebook 50)."""
    st = "realesrgan_pretrained"
    n = int(inp.number(st, "metrics.models.bicubic.images"))
    mk, pk = "metrics.models.", "metrics.paired.realesrgan_x4plus_vs_bicubic_"
    ci_note = f"bootstrap over {n} images"
    name = {m: inp.value(st, f"{mk}{m}.label") for m in ("bicubic", "realesrgan_x4plus", "hr")}
    psnr = [
        with_ci(inp, st, f"{mk}{m}.psnr_y", f"{name[m]}, PSNR-Y (dB)", ".2f", ci_note)
        for m in ("bicubic", "realesrgan_x4plus")
    ]
    niqe = [
        with_ci(inp, st, f"{mk}{m}.niqe", f"{name[m]}, NIQE (lower: more natural)", ".2f", ci_note)
        for m in ("bicubic", "realesrgan_x4plus", "hr")
    ]
    d_psnr = paired(inp, st, pk + "psnr_y", "x4plus − bicubic, PSNR-Y (dB)", "+.2f", n)
    d_ssim = paired(inp, st, pk + "ssim_y", "x4plus − bicubic, SSIM-Y", "+.4f", n)
    d_niqe = paired(inp, st, pk + "niqe", "x4plus − bicubic, NIQE", "+.2f", n)
    verdict, why = decide(inp.value(st, pk + "niqe"), "A better", n, names=("x4plus", "bicubic"))
    claims = [
        Claim("Real-ESRGAN's outputs look more natural than bicubic's: a lower NIQE (the paper's measure)", verdict,
              why + " (stored verdict; lower NIQE is better)"),
        Claim("The NIQE values of the paper's Table 1 on RealSR, DRealSR, OST300, DPED, ImageNet val and ADE20K",
              UNTESTABLE, "those sets are not here; " + labels_with(inp, st, "Table 1")),
    ]  # fmt: skip
    return Study(
        slug="realesrgan",
        title="Real-ESRGAN x4plus, pretrained, on the benchmark (Wang et al., ICCVW 2021)",
        paper="Wang, Xie, Dong & Shan, Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data",
        url="https://arxiv.org/abs/2107.10833",
        scope=f"{n} images of {data_name(inp, st)}, ×{inp.number(st, 'metrics.protocol.scale'):.0f} from "
        f"{inp.value(st, 'metrics.protocol.lr')}, a {inp.number(st, 'metrics.protocol.crop_border'):.0f}-pixel border removed",
        stages=[st],
        tables=[
            "realesrgan_pretrained.md",
            "realesrgan_pretrained.csv",
            "realesrgan_pretrained_paired.csv",
            "realesrgan_pretrained_per_image.csv",
        ],
        figure="realesrgan_pretrained/psnr_y_per_image.png",
        caption="PSNR-Y per benchmark image: bicubic vs x4plus",
        headlines=[*psnr, d_psnr, d_ssim, *niqe, d_niqe],
        summary=[d_psnr, d_niqe],
        claims=claims,
    )


def blind_sr(inp: Inputs) -> Study:
    """Maeda 2020's pseudo-supervised unpaired SR against every engine of srlib on one degraded test set (52, 53)."""
    st, ref = "blind_sr_evaluate", "pseudo_sr_maeda"
    rows = inp.value(st, "metrics.rows")
    names = {"srresnet_bicubic": "the ideal-degradation SRResNet", "zssr": "ZSSR", "x4plus": "Real-ESRGAN x4plus",
             "direct": "the direct ablation", "two_way": "the two-way-cycle ablation"}  # fmt: skip
    present = {k: v for k, v in names.items() if k in rows}

    def key(row: str, metric: str = "psnr_y") -> str:
        return f"metrics.paired.pseudo_vs_{row}_{metric}"

    gains = [paired(inp, st, key(r), f"pseudo-SR − {name}, PSNR-Y (dB)", "+.2f", int(inp.number(st, key(r) + ".n")))
             for r, name in present.items()]  # fmt: skip
    absolute = [Headline(f"{rows[r]['method']}, PSNR-Y (dB)", cell(inp, st, f"metrics.rows.{r}.psnr_y", ".2f"),
                         note=f"mean of {rows[r]['images']:.0f} images" + (" — COLLAPSED" if rows[r]["collapsed"] else ""))
                for r in rows]  # fmt: skip
    claims = []
    for r, text in (("srresnet_bicubic", "Pseudo-supervised SR beats a model trained on ideal (bicubic) degradations "
                     "on real-world-degraded LR"),
                    ("direct", "Pseudo-supervision beats the direct approach (a GAN loss on the SR output only)"),
                    ("zssr", "Pseudo-supervised SR beats ZSSR on the degraded test set (not the paper's claim: ours)")):  # fmt: skip
        if r in rows:
            res = inp.value(st, key(r))
            verdict, why = decide(res, "A better", int(res["n"]), names=("pseudo-SR", names[r]))
            if rows[r]["collapsed"]:  # a broken comparison row cannot test an ordering
                verdict, why = (
                    UNTESTABLE,
                    f"{names[r]} COLLAPSED (more than 3 dB below bicubic); {why}",
                )
            claims.append(Claim(text + " (PSNR-Y)", verdict, why))
    claims.append(Claim("The paper's numbers on NTIRE 2018 track 4 (realistic wild, ×4)", UNTESTABLE,
                        "not typed: " + inp.reference(ref)[0]["row_label"] + "; "
                        + not_comparable(inp, st, "tables/blind_sr/table.md")))  # fmt: skip
    n = int(inp.number(st, "metrics.images"))
    return Study(
        slug="blind_sr",
        title="Unpaired SR with pseudo-supervision, and a blind-SR table (Maeda, CVPR 2020)",
        paper="Maeda, Unpaired Image Super-Resolution using Pseudo-Supervision",
        url="https://arxiv.org/abs/2002.11397",
        scope=f"{n} test images ({data_name(inp, st)}), ×{inp.number(st, 'config.scale'):.0f}, the LR drawn once per "
        "image from the Real-ESRGAN second-order family (X's hidden family); PSNR / SSIM on Y with the scale as border",
        stages=["pseudo_sr_train", st],
        tables=[
            f"blind_sr/{t}"
            for t in (
                "table.md",
                "summary.csv",
                "paired_vs_pseudo.csv",
                "per_image.csv",
                "photos_niqe.csv",
            )
        ],  # fmt: skip
        figure="blind_sr/psnr_per_image.png",
        caption="PSNR-Y per test image, every row of the blind-SR table",
        headlines=[*gains, *absolute],
        summary=gains[:1],
        claims=claims,
    )


STUDIES = (srgan, srgan_modified, night2day, hallucination, degradation, realesrgan, blind_sr)
