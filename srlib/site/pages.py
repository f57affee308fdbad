"""The site's HTML: plain pages, a small inline style sheet, every link relative, no script.

Each number is a ``<span class="num">`` that names its metrics file and key (``data-stage``, ``data-key``) and carries
its exact value (``data-value``, Python's repr) and print format (``data-fmt``): the tests read the numbers back
against the metrics files through these.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from srlib.site.claims import VERDICTS, Cell, Headline, Study
from srlib.site.inputs import Inputs, relative

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 72em; margin: 1.5em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 0.25em 0.5em;
vertical-align: top; text-align: left; } th { background: #f4f4f4; } .num { font-variant-numeric: tabular-nums; }
td.n { text-align: right; white-space: nowrap; } .small { color: #555; font-size: 0.9em; }
.verdict { font-weight: 600; white-space: nowrap; } .agrees { color: #17692b; } .contradicts { color: #a3161b; }
.untestable { color: #6b6b6b; } img { max-width: 100%; border: 1px solid #ddd; } code { font-size: 0.92em; }
li { margin: 0.3em 0; } table.wide { width: 100%; } table.claims td:first-child { width: 36%; }
"""


def _css_class(verdict: str) -> str:
    return {VERDICTS[0]: "agrees", VERDICTS[1]: "contradicts", VERDICTS[2]: "untestable"}[verdict]


def num(c: Cell) -> str:
    return (
        f'<span class="num" data-stage="{escape(c.stage)}" data-key="{escape(c.key)}" '
        f'data-value="{c.value!r}" data-fmt="{escape(c.fmt)}">{escape(c.text)}</span>'
    )


def ci(h: Headline) -> str:
    return f"[{num(h.ci[0])}, {num(h.ci[1])}]" if h.ci else ""


def inline(h: Headline) -> str:
    """``label value [low, high]`` for the index line."""
    return f"{escape(h.label)} {num(h.cell)}" + (f" {ci(h)}" if h.ci else "")


def headlines_markdown(studies: list[Study], site_rel: str) -> list[str]:
    """The index lines as markdown (the README's Results block): a study, its headline numbers, its verdicts."""
    lines = []
    for s in studies:
        heads = "; ".join(
            f"{h.label} {h.cell.text}" + (f" [{h.ci[0].text}, {h.ci[1].text}]" if h.ci else "")
            for h in s.summary
        )
        counts = ", ".join(
            f"{sum(c.verdict == v for c in s.claims)} {v}"
            for v in VERDICTS
            if any(c.verdict == v for c in s.claims)
        )
        lines.append(f"- [{s.title}]({site_rel}/{s.slug}.html): {heads}. Claims: {counts}.")
    return lines


def document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def commits(inp: Inputs, stages: list[str]) -> str:
    """The git commit(s) the numbers came from, as the metrics files recorded them."""
    found = list(dict.fromkeys(inp.metrics(s).get("git_commit") for s in stages))
    known = [c for c in found if c]
    text = ", ".join(f"<code>{escape(c)}</code>" for c in known) or "not recorded"
    if None in found and known:
        text += " (some files record none: they predate the provenance field)"
    return text


def provenance(inp: Inputs, stages: list[str], site_dir: Path) -> str:
    rows = []
    for s in stages:
        m = inp.metrics(s)
        commit = m.get("git_commit")
        rows.append(
            f"<tr><td>{link(relative(inp.metrics_path(s), site_dir), inp.metrics_path(s).name)}</td>"
            f"<td>{f'<code>{escape(commit)}</code>' if commit else 'not recorded (the file predates the field)'}</td>"
            f"<td>{escape(str(m.get('written', 'not recorded')))}</td>"
            f"<td>{escape(str(m.get('srlib_version', '?')))}</td>"
            f"<td>{escape(str(m.get('profile', '?')))}</td></tr>"
        )
    head = "<tr><th>metrics file</th><th>git commit</th><th>written</th><th>srlib</th><th>profile</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def study_page(study: Study, inp: Inputs, site_dir: Path, notebooks: dict[str, str]) -> str:
    """One study: headlines, claims and verdicts, the key figure, caveats, files, provenance."""
    out = [f"<nav>{link('index.html', '← all studies')}</nav>", f"<h1>{escape(study.title)}</h1>"]
    paper = escape(study.paper) + (f" — {link(study.url, study.url)}" if study.url else "")
    out.append(f'<p class="small">{paper}</p>')
    out.append(
        f"<p>Profile <b>{escape(inp.profile)}</b>: {escape(study.scope)}. Numbers from git commit "
        f"{commits(inp, study.stages)}.</p>"
    )
    rows = "".join(
        f"<tr><td>{escape(h.label)}</td><td class='n'>{num(h.cell)}</td><td class='n'>{ci(h)}</td>"
        f"<td class='small'>{escape(h.note)}</td>"
        f"<td class='small'><code>{escape(h.cell.stage)}.details.json: {escape(h.cell.key)}</code></td></tr>"
        for h in study.headlines
    )
    out.append("<h2>Headline numbers</h2>")
    out.append(
        "<table class='wide'><tr><th>quantity</th><th>value</th><th>95 % CI</th><th>how</th><th>from</th></tr>"
        f"{rows}</table>"
    )
    if study.grid:
        cols, grid = study.grid
        head = "".join(f"<th>{escape(c)}</th>" for c in cols)
        body = "".join(
            f"<tr><td>{escape(name)}</td>"
            + "".join(f"<td class='n'>{num(c)}</td>" for c in cells)
            + "</tr>"
            for name, cells in grid
        )
        out.append(
            "<p>Every phase (means over the test pairs; FID and KID: one value per phase):</p>"
        )
        out.append(f"<table><tr>{head}</tr>{body}</table>")
    out.append("<h2>The paper's claims</h2>")
    claims = "".join(
        f"<tr><td>{escape(c.text)}</td><td class='verdict {_css_class(c.verdict)}'>{escape(c.verdict)}</td>"
        f"<td class='small'>{escape(c.why)}</td></tr>"
        for c in study.claims
    )
    out.append(
        f"<table class='wide claims'><tr><th>claim</th><th>verdict</th><th>why</th></tr>{claims}</table>"
    )
    figure = relative(inp.file("figures", study.figure), site_dir)
    out.append("<h2>Key figure</h2>")
    out.append(
        f'<figure><img src="{escape(figure)}" alt="{escape(study.caption)}">'
        f"<figcaption class='small'>{escape(study.caption)} ({escape(figure)})</figcaption></figure>"
    )
    out.append("<h2>Caveats the metrics files carry</h2>")
    out.append("<ul>" + "".join(f"<li>{escape(c)}</li>" for c in study.caveats(inp)) + "</ul>")
    out.append("<h2>Notebooks, tables, metrics</h2><ul>")
    for stage in [*study.stages, *study.extra_notebooks]:
        nb = inp.notebook(stage)
        out.append(
            f"<li>{link(notebooks[stage], nb.stem)} (HTML; the rendered "
            f"{link(relative(nb, site_dir), nb.name)})</li>"
        )
    tables = ", ".join(link(relative(inp.file("tables", t), site_dir), t) for t in study.tables)
    out.append(f"<li>tables: {tables}</li>")
    metrics = ", ".join(
        link(relative(inp.metrics_path(s), site_dir), inp.metrics_path(s).name)
        + " (headline: "
        + link(relative(inp.metrics_path(s).with_name(f"{s}.json"), site_dir), f"{s}.json")
        + ")"
        for s in study.stages
    )
    out.append(f"<li>metrics: {metrics}</li></ul>")
    out.append("<h2>Provenance</h2>" + provenance(inp, study.stages, site_dir))
    return document(study.title, "\n".join(out))


def index_page(
    studies: list[Study], inp: Inputs, notebooks: dict[str, str], extra: list[str]
) -> str:
    """One line per study (its headline numbers, its verdict counts, a link), then every notebook."""
    out = [
        f"<h1>srlib results — {escape(inp.profile)} profile</h1>",
        "<p>A reproducible study of GAN super-resolution papers. Each line: the headline numbers (95 % CI in "
        "brackets) and how the paper's claims fare here; each page says why, with the caveats the metrics files "
        "carry.</p>",
        "<ul>",
    ]
    for s in studies:
        counts = ", ".join(
            f"{sum(c.verdict == v for c in s.claims)} {v}"
            for v in VERDICTS
            if any(c.verdict == v for c in s.claims)
        )
        heads = "; ".join(inline(h) for h in s.summary)
        out.append(
            f"<li><b>{link(f'{s.slug}.html', s.title)}</b>: {heads}. <span class='small'>{escape(s.scope)}. "
            f"Claims: {escape(counts)}.</span></li>"
        )
    out.append("</ul><h2>Rendered notebooks</h2><ul>")
    for stage in extra:
        nb = inp.notebook(stage)
        out.append(f"<li>{link(notebooks[stage], nb.stem)}</li>")
    out.append("</ul>")
    ckpt = inp.dir / "checkpoints" / "index.json"
    if ckpt.is_file():  # the trained generators behind these numbers (small ones committed)
        out.append(
            f"<p>Trained generators: {link(relative(ckpt, inp.dir / 'site'), 'checkpoints/index.json')} "
            "(sizes, sha256; files of at most 5 MiB are beside it, larger ones come with <code>dvc pull</code>).</p>"
        )
    stages = [st for s in studies for st in s.stages]
    out.append(f"<p class='small'>Numbers from git commit {commits(inp, stages)}; built by "
               f"<code>python -m srlib site --profile {escape(inp.profile)}</code>.</p>")  # fmt: skip
    return document(f"srlib results ({inp.profile})", "\n".join(out))
