"""The results site (srlib.site), built from the committed results/smoke into a temporary folder.

(a) Structure: every local link and image of every page exists (inside the results folder: the site moves with it),
no absolute path, no script, no external stylesheet; every number on a page equals its metrics file's value; the
verdicts follow the stated rules; bad inputs are one line naming the file.
(b) Headless Chromium (skips when it is not installed): the pages load from file:// with no broken image and no
request other than file: / data:, and show the headline text. Chromium is driven over the DevTools protocol on a
pipe (``--remote-debugging-pipe``: NUL-terminated JSON on fds 3 / 4; no port, no websocket library), which answers
what a page cannot say without JavaScript of its own: each <img>'s ``naturalWidth`` after the load event.
``SRLIB_SITE_SHOTS=DIR`` keeps the screenshots of the index and the SRGAN page there.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from srlib import paths
from srlib.site import build, main
from srlib.site.claims import AGREES, CONTRADICTS, UNTESTABLE, VERDICTS, paired_verdict
from srlib.site.inputs import Inputs, SiteError

PROFILE = "smoke"
STUDY_PAGES = (
    "srgan.html",
    "srgan_modified.html",
    "night2day.html",
    "hallucination.html",
    "degradation.html",
    "realesrgan.html",
    "blind_sr.html",
)
PAGES = 1 + len(STUDY_PAGES)  # the index, then one page per study, then the notebooks


def _copy_results(root: Path) -> Path:
    """The committed results of PROFILE (without any built site) under ``root``."""
    shutil.copytree(
        paths.profile_results(PROFILE),
        root / PROFILE,
        ignore=shutil.ignore_patterns("site", ".site.*"),
    )
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = _copy_results(tmp_path_factory.mktemp("results"))
    start = time.perf_counter()
    pages = build(PROFILE, root)
    return root, pages, time.perf_counter() - start


class Page(HTMLParser):
    """The links, images, scripts, stylesheets, numbers and claim rows of one page."""

    def __init__(self, path: Path):
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.scripts, self.stylesheets, self.nums, self.claims = [], [], [], []
        self._num: dict | None = None
        self._cells: list[list] | None = None  # the <td>s of the current row: [class, text]
        self.styles, self._in_style = [], False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("href", "src"):
            if a.get(name) is not None:
                self.urls.append((tag, a[name]))
        if tag == "script":
            self.scripts.append(a)
        if tag == "link":
            self.stylesheets.append(a)
        if tag == "style":
            self._in_style = True
        if tag == "span" and a.get("class") == "num":
            self._num = dict(a, text="")
        if tag == "tr":
            self._cells = []
        if tag == "td" and self._cells is not None:
            self._cells.append([a.get("class") or "", ""])

    def handle_endtag(self, tag):
        if tag == "span" and self._num is not None:
            self.nums.append(self._num)
            self._num = None
        if tag == "style":
            self._in_style = False
        if tag == "tr" and self._cells:
            if len(self._cells) == 3 and self._cells[1][0].startswith("verdict"):
                self.claims.append(tuple(text.strip() for _, text in self._cells))
            self._cells = None

    def handle_data(self, data):
        if self._num is not None:
            self._num["text"] += data
        if self._cells:
            self._cells[-1][1] += data
        if self._in_style:
            self.styles.append(data)


def _value(payload, key: str):
    """The metrics value at a dotted key (an independent reading: keys may hold dots, lists take indices)."""
    node, parts = payload, key.split(".")
    while parts:
        if isinstance(node, list):
            node, parts = node[int(parts[0])], parts[1:]
            continue
        for n in range(len(parts), 0, -1):
            if ".".join(parts[:n]) in node:
                node, parts = node[".".join(parts[:n])], parts[n:]
                break
        else:
            raise KeyError(key)
    return node


def _metrics(root: Path, stage: str) -> dict:
    return json.loads((root / PROFILE / "metrics" / f"{stage}.details.json").read_text())


# --------------------------------------------------------------------------------------------- (a) structure


def test_build_writes_the_index_the_studies_and_every_notebook_in_seconds(site):
    root, pages, seconds = site
    out = root / PROFILE / "site"
    assert pages[0] == out / "index.html"
    assert [p.name for p in pages[1:PAGES]] == list(STUDY_PAGES)
    notebooks = sorted(p.stem for p in (root / PROFILE / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.stem for p in pages[PAGES:]) == notebooks  # every rendered notebook, as HTML
    assert all(p.is_file() and p.parent.is_relative_to(out) for p in pages)
    assert seconds < 60, f"site build took {seconds:.0f} s"


def test_every_local_link_and_image_exists_and_is_relative(site):
    root, pages, _ = site
    checked = 0
    for page in pages:
        for tag, url in Page(page).urls:
            parsed = urlparse(url)
            if parsed.scheme in ("http", "https", "mailto") or parsed.scheme == "data":
                assert tag != "img" or parsed.scheme == "data", f"{page.name}: external image {url}"
                continue
            assert not parsed.scheme and not url.startswith("/"), (
                f"{page.name}: absolute link {url}"
            )
            if not parsed.path:  # "#anchor" on the same page
                continue
            target = (page.parent / unquote(parsed.path)).resolve()
            assert target.exists(), f"{page.name}: broken {tag} {url}"
            assert target.is_relative_to(root.resolve()), (
                f"{page.name}: {url} leaves the results folder"
            )
            checked += 1
    assert checked > 50


def test_no_script_and_no_external_stylesheet_or_font(site):
    _, pages, _ = site
    for page in pages:
        p = Page(page)
        assert p.scripts == [], f"{page.name}: {p.scripts[:2]}"
        assert all(not urlparse(s.get("href", "")).scheme for s in p.stylesheets), page.name
        assert not re.search(r"url\(\s*['\"]?https?:|@import", "".join(p.styles)), page.name


def test_every_number_on_a_page_is_its_metrics_file_value(site):
    root, pages, _ = site
    for page in pages[:PAGES]:
        nums = Page(page).nums
        assert len(nums) >= 6, page.name
        for n in nums:
            value = _value(_metrics(root, n["data-stage"]), n["data-key"])
            assert float(n["data-value"]) == value, (page.name, n)
            assert n["text"] == format(value, n["data-fmt"]), (page.name, n)


def test_headlines_shown_are_the_papers_comparisons(site):
    root, pages, _ = site
    shown = {
        p.name: {(n["data-stage"], n["data-key"]) for n in Page(p).nums} for p in pages[:PAGES]
    }
    ev = "metrics.paired.srresnet_vs_bicubic_psnr_y."
    x4 = "metrics.paired.realesrgan_x4plus_vs_bicubic_"
    hs = f"metrics.{_hallucination_set(root)}"
    want = {
        "srgan.html": [("srgan_evaluate", ev + k) for k in ("mean_diff", "ci_low", "ci_high")],
        "realesrgan.html": [("realesrgan_pretrained", f"{x4}{m}.{k}") for m in ("psnr_y", "niqe") for k in ("mean_diff", "ci_low", "ci_high")],
        "night2day.html": [("night2day_evaluate", f"metrics.phases.{p}.{m}") for p in ("M1/Post", "M2/Post") for m in ("rmse", "ssim", "fid", "kid")]
        + [("night2day_evaluate", "metrics.post_vs_pre.M1_rmse.ci_low")],
        "srgan_modified.html": [("srgan_modified_postprocess", "metrics.ablation.network [faithful].seam")],
        "hallucination.html": [("hallucination_evaluate", f"{hs}.paired.ours_z0_vs_{r}_psnr_y.{k}") for r in ("bicubic", "srgan", "esrgan") for k in ("mean_diff", "ci_low", "ci_high")]
        + [("hallucination_evaluate", f"{hs}.ablation.{m}.{k}") for m in ("div_pixel", "div_grad", "div_inception") for k in ("mean_diff", "ci_low", "ci_high")]
        + [("hallucination_evaluate", f"{hs}.rows.{r}.lr_consistent") for r in ("ours_z0", "ours_z")],
        "degradation.html": [("degradation_matrix", f"metrics.claim2.{t}_vs_any.{k}") for t in ("bicubic", "blur", "realesrgan") for k in ("mean_diff", "ci_low", "ci_high")]
        + [("zssr", f"metrics.ideal.vs_bicubic.{k}") for k in ("mean_diff", "ci_low", "ci_high")]
        + [("zssr", f"metrics.claim3.{t}: ZSSR (known kernel) vs trained on bicubic.{k}") for t in ("blur", "realesrgan") for k in ("mean_diff", "ci_low", "ci_high")],
    }  # fmt: skip
    for name, keys in want.items():
        assert set(keys) <= shown[name], name
    assert set(want["srgan.html"]) <= shown["index.html"]
    assert set(want["hallucination.html"][:3]) <= shown["index.html"]  # ours (z = 0) − bicubic [CI]
    assert set(want["degradation.html"][:3] + want["degradation.html"][9:15]) <= shown["index.html"]
    # and the index line reads as the numbers: "+0.14 [+0.10, +0.16]"
    res = _metrics(root, "srgan_evaluate")["metrics"]["paired"]["srresnet_vs_bicubic_psnr_y"]
    text = re.sub(r"<[^>]+>", "", pages[0].read_text()).replace("&amp;", "&").replace("&#x27;", "'")
    assert f"{res['mean_diff']:+.2f} [{res['ci_low']:+.2f}, {res['ci_high']:+.2f}]" in text


def _claims(page: Path) -> dict[str, tuple[str, str]]:
    return {text: (verdict, why) for text, verdict, why in Page(page).claims}


def _hallucination_set(root: Path) -> str:
    """The set the hallucination page reads: "faces" when the run has it, else "bench" (the study's rule)."""
    sets = _metrics(root, "hallucination_evaluate")["metrics"]
    return "faces" if "faces" in sets else "bench"


def _rule(res: dict) -> str:
    """A claim that A beats B, from a stored comparison's CI and Wilcoxon p (the site's stated rule)."""
    lo, hi, p = res["ci_low"], res["ci_high"], res["p_wilcoxon"]
    return UNTESTABLE if lo <= 0 <= hi or p >= 0.05 else AGREES if lo > 0 else CONTRADICTS


def test_hallucination_verdicts_follow_the_numbers(site):
    root, _, _ = site
    claims = _claims(root / PROFILE / "site" / "hallucination.html")
    m = _metrics(root, "hallucination_evaluate")["metrics"][_hallucination_set(root)]
    ref = {
        r["method"]: float(r["value"])
        for r in Inputs(PROFILE, root).reference("hallucination_abid")
        if r["metric"] == "psnr_y"
    }
    for row, label in (("bicubic", "bicubic"), ("srgan", "SRGAN"), ("esrgan", "ESRGAN")):
        (text, (verdict, why)), *_ = (
            (t, v) for t, v in claims.items() if t.startswith(f"Ours beats {label} in PSNR-Y")
        )
        res = m["paired"][f"ours_z0_vs_{row}_psnr_y"]
        if row in m.get("collapsed", {}):  # a broken baseline cannot test the ordering
            assert verdict == UNTESTABLE and f"the {label} row COLLAPSED here" in why, row
        else:
            assert verdict == _rule(res) and f"{res['p_wilcoxon']:.3g}" in why, row
        # the paper's Table 1, from references/
        assert f"{ref['ours']:.2f} dB vs {ref[row]:.2f} dB" in text
    assert "21.08 dB vs 18.11 dB" in next(t for t in claims if "bicubic" in t)
    # the central claim: higher diversity with L_z on all three measures
    (verdict, why), *_ = (v for t, v in claims.items() if "central claim" in t)
    rules = {_rule(m["ablation"][k]) for k in ("div_pixel", "div_grad", "div_inception")}
    assert verdict == (
        CONTRADICTS if CONTRADICTS in rules else AGREES if rules == {AGREES} else UNTESTABLE
    )
    assert all(w in why for w in ("pixels", "gradient maps", "FID-Inception"))
    (verdict, why), *_ = (v for t, v in claims.items() if "absolute numbers" in t)
    assert verdict == UNTESTABLE and "comparable_with_paper is false" in why
    assert "params.yaml hallucination_train: " in why


def _stage_rule(stored: str) -> str:
    """A claim from the stage's own verdict phrase (srlib.zssr's verdict_claim2 / verdict_claim3), the brief's rule."""
    if stored == "holds" or stored.startswith("holds:"):
        return AGREES
    return CONTRADICTS if stored.startswith("does not hold") else UNTESTABLE


def test_degradation_verdicts_follow_the_numbers(site):
    import yaml

    root, _, _ = site
    claims = _claims(root / PROFILE / "site" / "degradation.html")
    dm = _metrics(root, "degradation_matrix")
    zs = _metrics(root, "zssr")
    (verdict, why), *_ = (v for t, v in claims.items() if "claim 2" in t)
    assert verdict == _stage_rule(dm["metrics"]["claim2_verdict"])
    for t in dm["config"]["test_degradations"]:  # each column's own reading, with its rank test
        res = dm["metrics"]["claim2"][f"{t}_vs_any"]
        assert f"test {t}: {res['mean_diff']:+.3g} [95 % CI {res['ci_low']:+.3g}" in why
        assert f"p = {res['p_wilcoxon']:.3g}" in why or _rule(res) != UNTESTABLE
    assert f"each network trained {dm['config']['iters']} steps" in why
    (text, (verdict, why)), *_ = ((t, v) for t, v in claims.items() if "claim 3" in t)
    assert verdict == _stage_rule(zs["metrics"]["claim3_verdict"])
    assert text.endswith("(blur, realesrgan; ×2, PSNR-Y)")
    for t in ("blur", "realesrgan"):
        res = zs["metrics"]["claim3"][f"{t}: ZSSR (known kernel) vs trained on bicubic"]
        assert f"test {t}: {res['mean_diff']:+.3g} [95 % CI" in why
    # the budget: this run's against ZSSR's (params.yaml zssr), on claim 3 and on Table 1
    paper = yaml.safe_load((paths.root() / "params.yaml").read_text())["zssr"]
    budget = (
        f"at most {zs['config']['max_iters']} iterations on {zs['config']['crop_size']}² crops (ZSSR's "
        f"settings, params.yaml zssr: {paper['max_iters']} iterations, {paper['crop_size']}² crops)"
    )
    assert (paper["max_iters"], paper["crop_size"]) == (3000, 128) and budget in why
    (text, (verdict, why)), *_ = ((t, v) for t, v in claims.items() if "absolute numbers" in t)
    assert verdict == UNTESTABLE and "comparable_with_paper is false" in why and budget in why
    assert "typed from memory" in why and "ours is one number for every row" in why
    ref = Inputs(PROFILE, root).reference("zssr_shocher")
    said = " / ".join(f"{float(r['value']):.2f}" for r in ref)
    assert text.endswith(f"Set5 / Set14 / BSD100 {said} dB") and said == "37.37 / 33.00 / 31.65"
    page = (root / PROFILE / "site" / "degradation.html").read_text()
    for href in (
        "60_degradation_matrix.html",
        "61_zssr.html",
        "figures/zssr/full_matrix_psnr.png",
        "tables/zssr/table1.md",
        "tables/degradation/claim2.csv",
        "tables/degradation/matrix_x2_psnr_y.md",
    ):
        assert href in page, href  # fmt: skip


def _degradation_copy(
    root: Path, *, claim2: str | None = None, claim3: str | None = None
) -> Inputs:
    """The smoke results under ``root`` with the stages' own verdicts replaced."""
    for stage, key, verdict in (
        ("degradation_matrix", "claim2_verdict", claim2),
        ("zssr", "claim3_verdict", claim3),
    ):
        if verdict is not None:
            path = root / PROFILE / "metrics" / f"{stage}.details.json"
            payload = json.loads(path.read_text())
            payload["metrics"][key] = verdict
            path.write_text(json.dumps(payload))
    return Inputs(PROFILE, root)  # fmt: skip


@pytest.mark.parametrize(
    ("claim2", "claim3", "verdicts"),
    [
        ("holds", "holds: blur (+3.02 dB, CI +1.24 .. +4.81: A better)", (AGREES, AGREES)),
        ("does not hold for blur (-0.10 dB, CI -0.20 .. -0.01)", "does not hold here: blur (...)", (CONTRADICTS, CONTRADICTS)),
        ("inconclusive for blur (+0.03 dB, CI +0.02 .. +0.05) (the rank test cannot separate them on these images)",
         "inconclusive: blur (...)", (UNTESTABLE, UNTESTABLE)),
        ("untested", "untested", (UNTESTABLE, UNTESTABLE)),
        ("holds", "does not hold here: realesrgan (-0.16 dB)", (AGREES, CONTRADICTS)),
    ],
)  # fmt: skip
def test_the_degradation_claims_follow_the_stages_verdicts(tmp_path, claim2, claim3, verdicts):
    from srlib.site.studies import degradation

    study = degradation(_degradation_copy(_copy_results(tmp_path), claim2=claim2, claim3=claim3))
    assert [c.verdict for c in study.claims] == [
        *verdicts,
        UNTESTABLE,
    ]  # Table 1 is never comparable here
    phrase = lambda s: s.split(":")[0].split(" for ")[0]  # noqa: E731
    assert f"the stage's verdict: {phrase(claim2)};" in study.claims[0].why
    assert f"the stage's verdict: {phrase(claim3)};" in study.claims[1].why


def test_the_stages_verdict_phrases_are_the_ones_the_site_reads():
    """srlib.zssr's verdict_claim2 / verdict_claim3 on each outcome, read back by the page; the row names agree."""
    import pandas as pd

    from srlib.site import studies
    from srlib.zssr import matrix, study

    assert studies._ZSSR_KNOWN == study.ZSSR_ROWS["known"]
    assert studies._trained("blur") == matrix.trained_row("blur")
    outcomes = {("A better", "A better"): AGREES, ("A better", "B better"): CONTRADICTS,
                ("A better", "similar"): CONTRADICTS, ("A better", "inconclusive"): UNTESTABLE}  # fmt: skip
    for found, want in outcomes.items():
        rows = [dict(test=t, verdict=v, mean_diff=0.1, ci_low=0.05, ci_high=0.2) for t, v in zip(("blur", "realesrgan"), found, strict=True)]  # fmt: skip
        two = pd.DataFrame([dict(r, diagonal=r["test"], against="any") for r in rows])
        three = pd.DataFrame([dict(r, a=study.ZSSR_ROWS["known"], b=matrix.trained_row("bicubic")) for r in rows])  # fmt: skip
        for stored in (matrix.verdict_claim2(two), study.verdict_claim3(three)):
            assert studies._stored_verdict(stored)[0] == want == _stage_rule(stored), stored
    empty = pd.DataFrame(columns=["test", "against", "a", "b", "verdict"])
    assert studies._stored_verdict(matrix.verdict_claim2(empty)) == (UNTESTABLE, "untested")
    assert studies._stored_verdict(study.verdict_claim3(empty)) == (UNTESTABLE, "untested")


def test_a_profile_without_a_zssr_run_shows_the_matrix_alone(tmp_path, monkeypatch):
    from srlib.site import notebooks
    from srlib.site.studies import degradation

    root = _copy_results(tmp_path)
    for name in ("zssr.details.json", "zssr.json"):
        (root / PROFILE / "metrics" / name).unlink()
    study = degradation(Inputs(PROFILE, root))
    assert study.stages == ["degradation_matrix"]
    assert study.figure == "degradation_matrix/matrix_psnr.png"
    assert not any(t.startswith("zssr/") for t in study.tables)
    assert {h.cell.stage for h in study.headlines} == {"degradation_matrix"}
    assert [c.verdict for c in study.claims[1:]] == [UNTESTABLE, UNTESTABLE]
    assert all(
        "no ZSSR run in this profile" in c.why and "zssr.details.json" in c.why
        for c in study.claims[1:]
    )
    # and the site still builds (nbconvert stubbed: the notebooks are not what this checks)
    monkeypatch.setattr(notebooks, "to_html", lambda exp, nb, out, **kw: out.write_text("stub"))
    pages = build(PROFILE, root)
    page = root / PROFILE / "site" / "degradation.html"
    assert page in pages and "61_zssr" not in page.read_text()
    assert "degradation_matrix/matrix_psnr.png" in page.read_text()  # fmt: skip


def test_verdicts_follow_the_numbers(site):
    root, pages, _ = site
    out = root / PROFILE / "site"
    for name in STUDY_PAGES:
        claims = _claims(out / name)
        assert len(claims) >= 2 and all(v in VERDICTS for v, _ in claims.values()), name
    # SRResNet > bicubic in PSNR-Y: agrees only when the CI excludes 0 upwards and the rank test says so
    res = _metrics(root, "srgan_evaluate")["metrics"]["paired"]["srresnet_vs_bicubic_psnr_y"]
    lo, hi, p = res["ci_low"], res["ci_high"], res["p_wilcoxon"]
    want = UNTESTABLE if lo <= 0 <= hi or p >= 0.05 else AGREES if lo > 0 else CONTRADICTS
    (verdict, why), *_ = (
        v for t, v in _claims(out / "srgan.html").items() if "beats bicubic in PSNR-Y" in t
    )
    assert verdict == want and f"{p:.3g}" in why
    # night->day, M1: Post better than Pre on every metric <-> the metrics file's post_better_than_pre
    m1 = _metrics(root, "night2day_evaluate")["metrics"]["post_better_than_pre"]["M1"]
    (verdict, _), *_ = (
        v for t, v in _claims(out / "night2day.html").items() if t.startswith("M1: Post")
    )
    assert (verdict == AGREES) == m1["all"]
    # the paper's numbers in the claims come from references/
    ref = [
        r for r in Inputs(PROFILE, root).reference("srgan_ledig2017") if r["method"] == "srresnet"
    ]
    assert any(f"{float(ref[0]['value']):.2f}" in t for t in _claims(out / "srgan.html"))
    # absolute numbers on proxy data cannot be tested
    for name in STUDY_PAGES:
        for t, (v, why) in _claims(out / name).items():
            if "absolute numbers" in t:
                assert v == UNTESTABLE and "comparable_with_paper is false" in why


def test_paired_verdict_is_srlib_stats_rule():
    """The site's rule for stored comparisons without a verdict is paired_comparison's own."""
    import numpy as np

    from srlib import stats

    rng = np.random.default_rng(0)
    seen = set()
    for n in (4, 6, 12, 40):
        for shift in (-1.0, -0.05, 0.0, 0.05, 1.0):
            a = rng.normal(size=n)
            b = a - shift + 0.3 * rng.normal(size=n)
            for higher in (True, False):
                res = stats.paired_comparison(a, b, higher_is_better=higher, n_boot=2000)
                bare = {k: v for k, v in res.items() if k != "verdict"}
                assert paired_verdict(bare, higher_is_better=higher) == res["verdict"], (n, shift)
                seen.add(res["verdict"])
    assert seen == {"A better", "B better", "similar", "inconclusive"}


def test_notebook_names_follow_srlib_nb_stages(site):
    from srlib import nb

    inp = Inputs(PROFILE, site[0])
    for stage, notebook in nb.STAGES.items():
        assert inp.notebook(stage).name == Path(notebook).name


def test_provenance_names_the_git_commit(site):
    root, pages, _ = site
    commit = _metrics(root, "srgan_evaluate")["git_commit"]
    assert commit and commit in (root / PROFILE / "site" / "srgan.html").read_text()
    assert commit in pages[0].read_text()


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda d: (d / "metrics" / "srgan_evaluate.details.json").unlink(), "srgan_evaluate.details.json"),
        (lambda d: (d / "metrics" / "night2day_evaluate.details.json").write_text("{oops"), "night2day_evaluate.details.json: invalid JSON"),
        (lambda d: _drop_key(d / "metrics" / "realesrgan_pretrained.details.json"), "realesrgan_pretrained.details.json: no 'metrics.paired.realesrgan_x4plus_vs_bicubic_niqe"),
        (lambda d: (d / "figures" / "srgan_evaluate" / "psnr_y_per_image.png").unlink(), "psnr_y_per_image.png"),
        (lambda d: (d / "notebooks" / "33_night2day_m3.ipynb").unlink(), "NN_night2day_m3.ipynb"),
        (lambda d: (d / "tables" / "night2day" / "findings.md").unlink(), "findings.md"),
        (lambda d: (d / "figures" / "hallucination_evaluate" / "ablation.png").unlink(), "hallucination_evaluate/ablation.png"),
        (lambda d: _rename_sets(d / "metrics" / "hallucination_evaluate.details.json"), "hallucination_evaluate.details.json: no 'faces' or 'bench' set"),
        (lambda d: (d / "metrics" / "degradation_matrix.details.json").unlink(), "degradation_matrix.details.json"),
        (lambda d: (d / "figures" / "zssr" / "full_matrix_psnr.png").unlink(), "zssr/full_matrix_psnr.png"),
        (lambda d: (d / "tables" / "zssr" / "table1.md").unlink(), "zssr/table1.md"),
    ],
)  # fmt: skip
def test_a_bad_input_is_one_line_naming_the_file_and_nothing_is_written(tmp_path, damage, named):
    root = _copy_results(tmp_path)
    damage(root / PROFILE)
    with pytest.raises(SiteError) as exc:
        build(PROFILE, root)
    assert named in str(exc.value) and "\n" not in str(exc.value)
    assert not (root / PROFILE / "site").exists()


def test_a_failed_build_keeps_the_last_site_and_a_rebuild_leaves_no_stale_page(
    tmp_path, monkeypatch
):
    from srlib.site import notebooks

    root = _copy_results(tmp_path)
    old = root / PROFILE / "site"
    old.mkdir()
    (old / "index.html").write_text("the last good site")
    (old / "stale.html").write_text("a page of an earlier build")

    def fail(*args, **kwargs):
        raise RuntimeError("nbconvert failed")

    monkeypatch.setattr(notebooks, "to_html", fail)
    with pytest.raises(RuntimeError, match="nbconvert failed"):
        build(PROFILE, root)
    assert (old / "index.html").read_text() == "the last good site"
    assert [p.name for p in (root / PROFILE).iterdir() if p.name.startswith(".")] == []
    monkeypatch.undo()
    pages = build(PROFILE, root)
    assert not (old / "stale.html").exists() and pages[0].read_text().startswith("<!DOCTYPE html>")


def _drop_key(path: Path) -> None:
    payload = json.loads(path.read_text())
    del payload["metrics"]["paired"]["realesrgan_x4plus_vs_bicubic_niqe"]
    path.write_text(json.dumps(payload))


def _rename_sets(path: Path) -> None:
    payload = json.loads(path.read_text())
    payload["metrics"] = {f"other_{k}": v for k, v in payload["metrics"].items()}
    path.write_text(json.dumps(payload))


def test_cli_refuses_a_profile_without_results(tmp_path, capsys):
    assert main(["--profile", "nosuch", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nosuch" in err[0]
    assert main(["--profile", "../x"]) == 2 and "profile" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- (b) headless Chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed (Debian: apt-get install chromium; `make test` installs it when run as root)",
)


class Chromium:
    """Headless Chromium over the DevTools protocol on a pipe: we write fd 3, it answers on fd 4."""

    def __init__(self, exe: str, user_dir: Path, timeout: float = 60.0):
        to_r, self._w = os.pipe()
        self._r, from_w = os.pipe()
        # the child's ends, moved above 10 so that 3<& / 4>& cannot clobber one with the other (bash: dash takes
        # single-digit fds only)
        cr, cw = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_r, from_w))
        os.close(to_r)
        os.close(from_w)
        args = ["--headless", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe", "--no-first-run",
                "--no-default-browser-check", "--hide-scrollbars", f"--user-data-dir={user_dir}"]  # fmt: skip
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{cr} 4>&{cw} {cr}<&- {cw}>&-', "bash", exe, *args],
            pass_fds=(cr, cw),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cr)
        os.close(cw)
        self.timeout, self._id, self._buf, self.events = timeout, 0, b"", []

    def _next(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._r], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._r, 1 << 20) if ready else b""
            if not chunk:
                raise TimeoutError("chromium did not answer (exited or timed out)")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._next()
            if m.get("id") == self._id:
                assert "error" not in m, (method, m["error"])
                return m["result"]
            self.events.append(m)

    def wait(self, event: str, session: str) -> dict:
        while True:
            for m in self.events:
                if m.get("method") == event and m.get("sessionId") == session:
                    return m["params"]
            self.events.append(self._next())

    def load(self, url: str) -> tuple[str, dict, list[str]]:
        """Open ``url`` in a new tab; (session, what the page holds after its load event, every request URL)."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        s = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for method in ("Page.enable", "Network.enable"):
            self.call(method, s)
        self.call("Emulation.setDeviceMetricsOverride", s, width=1280, height=1400, deviceScaleFactor=1, mobile=False)  # fmt: skip
        self.events.clear()
        nav = self.call("Page.navigate", s, url=url)
        assert "errorText" not in nav, (url, nav)
        self.wait("Page.loadEventFired", s)  # after every image has loaded or failed
        probe = (
            "JSON.stringify({images: document.images.length, broken: Array.from(document.images)"
            ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src').slice(0, 80)),"
            " text: document.body.innerText})"
        )
        state = json.loads(
            self.call("Runtime.evaluate", s, expression=probe, returnByValue=True)["result"][
                "value"
            ]
        )
        requests = [
            m["params"]["request"]["url"]
            for m in self.events
            if m.get("method") == "Network.requestWillBeSent" and m.get("sessionId") == s
        ]
        return s, state, requests

    def screenshot(self, session: str, out: Path) -> Path:
        out.write_bytes(
            base64.b64decode(self.call("Page.captureScreenshot", session, format="png")["data"])
        )
        return out

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (TimeoutError, AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


@needs_chromium
def test_pages_load_in_headless_chromium_with_every_image(site, tmp_path):
    from PIL import Image

    root, pages, _ = site
    out = root / PROFILE / "site"
    browser = Chromium(CHROMIUM, tmp_path / "chromium-profile")
    shots = {}
    try:
        for page in [
            out / "index.html",
            *(out / n for n in STUDY_PAGES),
            out / "notebooks" / "11_srgan_evaluate.html",
        ]:
            s, state, requests = browser.load(page.as_uri())
            assert state["broken"] == [], (page.name, state["broken"])
            assert all(u.startswith(("file://", "data:")) for u in requests), (
                page.name,
                requests[:5],
            )
            if page.name in STUDY_PAGES:
                assert state["images"] >= 1 and "The paper's claims" in state["text"]
            if page.name in ("index.html", "srgan.html"):
                shots[page.name] = browser.screenshot(s, tmp_path / f"{page.stem}.png")
                res = _metrics(root, "srgan_evaluate")["metrics"]["paired"][
                    "srresnet_vs_bicubic_psnr_y"
                ]
                ci = f"[{res['ci_low']:+.2f}, {res['ci_high']:+.2f}]"  # its own table cell on srgan.html
                sep = " " if page.name == "index.html" else "\t"
                assert f"{res['mean_diff']:+.2f}{sep}{ci}" in state["text"]
            if page.parent.name == "notebooks":
                assert state["images"] >= 1 and "SRGAN evaluation" in state["text"]
    finally:
        browser.close()
    for shot in shots.values():
        with Image.open(shot) as im:
            assert im.size == (1280, 1400)
            lo, hi = im.convert("L").getextrema()
            assert hi - lo > 100  # text on a white page, not a blank
    if os.environ.get("SRLIB_SITE_SHOTS"):
        keep = Path(os.environ["SRLIB_SITE_SHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        for shot in shots.values():
            shutil.copy(shot, keep / shot.name)


def test_readme_points_at_the_site_the_stage_builds():
    import yaml

    from srlib.site.build import SITE

    readme = (paths.root() / "README.md").read_text()
    section = readme.split("## Results", 1)[1].split("\n## ", 1)[0]
    assert f"results/smoke/{SITE}/index.html" in section
    stage = yaml.safe_load((paths.root() / "dvc.yaml").read_text())["stages"]["site"]
    assert stage["cmd"] == "python -m srlib site"
    assert [next(iter(o)) for o in stage["outs"]] == [f"results/${{profile}}/{SITE}"]
    assert all(o[next(iter(o))]["cache"] is False for o in stage["outs"])


@pytest.mark.parametrize(
    ("l_g_percep", "drop", "verdict", "why"),
    [
        (3.7e-17, -5.57, UNTESTABLE, "SRGAN COLLAPSED (-5.57 dB): the content loss is dead"),
        (
            0.02,
            -5.57,
            UNTESTABLE,
            "SRGAN COLLAPSED (-5.57 dB): PSNR fell 5.57 dB below its SRResNet start",
        ),
        (3.7e-17, -2.0, UNTESTABLE, "SRGAN DEAD CONTENT LOSS (-2.00 dB): the content loss is dead"),
        (0.02, -2.0, AGREES, ""),
    ],
)
def test_a_collapsed_srgan_does_not_count_as_the_papers_trade(
    tmp_path, l_g_percep, drop, verdict, why
):
    from srlib.site.studies import srgan

    root = _copy_results(tmp_path)
    path = root / PROFILE / "metrics" / "srgan_evaluate.details.json"
    payload = json.loads(path.read_text())
    res = payload["metrics"]["paired"]["srgan_vs_srresnet_psnr_y"]
    res.update(
        mean_diff=drop, ci_low=drop - 0.8, ci_high=drop + 0.8, p_wilcoxon=1e-6, verdict="B better"
    )
    payload["metrics"]["paired"]["srgan_vs_srresnet_psnr_y"]["n"] = 32
    payload["metrics"]["models"]["bicubic"]["n"] = 32
    payload["metrics"].setdefault("training", {})["l_g_percep"] = l_g_percep
    path.write_text(json.dumps(payload))
    claim = srgan(Inputs(PROFILE, root)).claims[2]
    assert claim.text.startswith("SRGAN-VGG54 gives up PSNR-Y") and claim.verdict == verdict
    assert claim.why.startswith(why) and ("SRGAN " in claim.why) == bool(why)


def _resolved(res: dict, diff: float, verdict: str) -> None:
    """A stored comparison made decisive (n = 40, p = 1e-6) or, for "similar", a CI across 0."""
    span = abs(diff) + 1.0 if verdict == "similar" else abs(diff) / 2
    res.update(
        mean_diff=diff,
        ci_low=diff - span,
        ci_high=diff + span,
        p_wilcoxon=1e-6,
        verdict=verdict,
        n=40,
    )


@pytest.mark.parametrize(
    ("ablation", "verdict"),
    [
        ({"div_pixel": "A better", "div_grad": "A better", "div_inception": "A better"}, AGREES),
        (
            {"div_pixel": "A better", "div_grad": "B better", "div_inception": "A better"},
            CONTRADICTS,
        ),
        ({"div_pixel": "A better", "div_grad": "A better", "div_inception": "similar"}, UNTESTABLE),
        ({"div_pixel": "B better", "div_grad": "similar", "div_inception": "similar"}, CONTRADICTS),
    ],
)
def test_the_hallucination_central_claim_needs_more_diversity_with_lz_on_every_measure(
    tmp_path, ablation, verdict
):
    from srlib.site.studies import hallucination

    root = _copy_results(tmp_path)
    path = root / PROFILE / "metrics" / "hallucination_evaluate.details.json"
    payload = json.loads(path.read_text())
    s = payload["metrics"][_hallucination_set(root)]
    s["rows"]["ours_z0"]["n"] = 40
    for measure, found in ablation.items():
        _resolved(
            s["ablation"][measure], {"A better": 0.5, "B better": -0.5}.get(found, 0.0), found
        )
    path.write_text(json.dumps(payload))
    claim = next(
        c for c in hallucination(Inputs(PROFILE, root)).claims if "central claim" in c.text
    )
    assert claim.verdict == verdict
    # each measure's own reading over the 40 images, in the order pixels, gradient maps, Inception features
    label = {
        "div_pixel": "pixels",
        "div_grad": "G's gradient maps",
        "div_inception": "FID-Inception features",
    }
    winner = {
        "A better": "with L_z better",
        "B better": "without L_z better",
        "similar": "no difference resolved",
    }
    parts = claim.why.split("; ")
    assert len(parts) == 3
    for part, (measure, found) in zip(parts, ablation.items(), strict=True):
        assert part.startswith(f"{label[measure]}: ") and part.endswith(
            f"over 40 images: {winner[found]}"
        )


def test_the_hallucination_page_reads_the_faces_set_when_there_is_one(tmp_path):
    from srlib.site.studies import hallucination

    root = _copy_results(tmp_path)
    path = root / PROFILE / "metrics" / "hallucination_evaluate.details.json"
    payload = json.loads(path.read_text())
    bench = payload["metrics"]["bench"]
    faces = json.loads(json.dumps(bench))  # a second set, decisive where the bench is not
    faces["rows"]["ours_z0"]["n"] = 40
    faces[
        "collapsed"
    ] = {}  # no broken baseline on this set: every ordering is decided by its numbers
    _resolved(faces["paired"]["ours_z0_vs_bicubic_psnr_y"], 2.96, "A better")
    _resolved(faces["paired"]["ours_z0_vs_srgan_psnr_y"], -0.9, "B better")
    # faces second: the record's order does not matter
    payload["metrics"] = {"bench": bench, "faces": faces}
    payload["comparable_with_paper"] = True  # then the claim names the set's Table 1
    path.write_text(json.dumps(payload))
    study = hallucination(Inputs(PROFILE, root))
    assert study.scope.startswith("the faces set, 40 images")
    assert {h.cell.key.split(".")[1] for h in study.headlines} == {"faces"}
    gain = study.summary[0]
    assert gain.cell.key == "metrics.faces.paired.ours_z0_vs_bicubic_psnr_y.mean_diff"
    assert (gain.cell.text, gain.ci[0].text, gain.ci[1].text) == ("+2.96", "+1.48", "+4.44")
    verdicts = [c.verdict for c in study.claims]
    assert verdicts[:2] == [AGREES, CONTRADICTS] and "SRGAN better" in study.claims[1].why
    assert "rows are in tables/hallucination/table1_faces.md; trained " in study.claims[-1].why
    assert {"hallucination/table1_faces.md", "hallucination/table1_bench.md"} <= set(study.tables)


def test_a_collapsed_baseline_cannot_test_the_ordering(tmp_path):
    from srlib.site.studies import hallucination

    root = _copy_results(tmp_path)
    path = root / PROFILE / "metrics" / "hallucination_evaluate.details.json"
    payload = json.loads(path.read_text())
    for m in payload["metrics"].values():
        m["collapsed"] = {"esrgan": -9.5}
        _resolved(m["paired"]["ours_z0_vs_esrgan_psnr_y"], 5.0, "A better")
    path.write_text(json.dumps(payload))
    study = hallucination(Inputs(PROFILE, root))
    claim = next(c for c in study.claims if c.text.startswith("Ours beats ESRGAN"))
    assert claim.verdict == UNTESTABLE and "the ESRGAN row COLLAPSED here (-9.50 dB" in claim.why
    assert any(h.label.startswith("ESRGAN (COLLAPSED)") for h in study.headlines)
