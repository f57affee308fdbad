"""``python -m srlib site [--profile P]``: the results site of one profile, ``results/<profile>/site/``.

Every input is checked before a page is written (a missing or malformed one is one line naming the file), then the
rendered notebooks are converted (nbconvert, a few seconds for the dozen) and the pages written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from srlib import paths
from srlib.site import notebooks as nbhtml
from srlib.site import pages
from srlib.site.inputs import Inputs, SiteError, relative, shown
from srlib.site.studies import STUDIES

SITE = "site"  # results/<profile>/site/
HEADLINES = "headlines.md"  # the index lines in markdown: the README's Results block is the photos profile's
SHARED = ["data_prepare"]  # notebooks of no single study, listed on the index


def build(profile: str = "smoke", out_dir: str | Path | None = None) -> list[Path]:
    """Write the site of ``profile`` and return the pages written (index first).

    Args:
        profile: which results: ``<out_dir>/<profile>/`` holds its metrics, notebooks, tables and figures.
        out_dir: the results folder (default ``results/``); the pages go to ``<out_dir>/<profile>/site/`` and
            link to the profile's files beside them with relative links, so the folder can be moved or opened
            from disk as a whole.
    """
    inp = Inputs(profile, Path(out_dir) if out_dir is not None else paths.results_dir())
    site = inp.dir / SITE
    studies = [make(inp) for make in STUDIES]  # reads and checks every metrics file and reference
    stages = list(
        dict.fromkeys([*SHARED, *(s for st in studies for s in [*st.stages, *st.extra_notebooks])])
    )
    sources = {stage: inp.notebook(stage) for stage in stages}
    for st in studies:  # the files the pages link to
        inp.file("figures", st.figure)
        for t in st.tables:
            inp.file("tables", t)
    links = {stage: f"notebooks/{nb.stem}.html" for stage, nb in sources.items()}
    # written beside the site, then swapped in: a build that fails half-way leaves the last good site (and no
    # stale page of an earlier one survives a rebuild)
    tmp = inp.dir / f".{SITE}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        names = _write(tmp, inp, studies, sources, links)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(site, ignore_errors=True)
    tmp.rename(site)
    return [site / name for name in names]


def _write(
    tmp: Path, inp: Inputs, studies: list, sources: dict[str, Path], links: dict[str, str]
) -> list[str]:
    """Every page into ``tmp``; their names relative to it, the index first."""
    names = ["index.html"]
    (tmp / "index.html").write_text(
        pages.index_page(studies, inp, links, list(sources)), encoding="utf-8"
    )
    for st in studies:
        (tmp / f"{st.slug}.html").write_text(
            pages.study_page(st, inp, tmp, links), encoding="utf-8"
        )
        names.append(f"{st.slug}.html")
    site_rel = f"results/{inp.profile}/{SITE}"  # as the README links it
    (tmp / HEADLINES).write_text("\n".join(pages.headlines_markdown(studies, site_rel)) + "\n")
    exp = nbhtml.exporter()
    css = None
    for stage, nb in sources.items():
        out = tmp / links[stage]
        css = css or nbhtml.write_css(exp, out.parent)
        study = next((s for s in studies if stage in [*s.stages, *s.extra_notebooks]), None)
        back = relative(tmp / (f"{study.slug}.html" if study else "index.html"), out.parent)
        nbhtml.to_html(
            exp,
            nb,
            out,
            back=back,
            back_text=study.title if study else "all studies",
            css=relative(css, out.parent),
        )
        names.append(links[stage])
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m srlib site", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", help="params profile (default: params.yaml `profile`)")
    ap.add_argument("--out", help="results folder holding <profile>/ (default: results/)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    from srlib import config  # yaml only

    try:
        profile = args.profile or config.read_params().get("profile", "smoke")
        written = build(profile, args.out)
    except (SiteError, config.ParamsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{shown(written[0])}: {len(written)} pages in {time.perf_counter() - start:.1f} s "
        f"(open it from disk)"
    )
    return 0
