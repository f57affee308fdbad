"""Rendered notebooks -> standalone HTML pages that need no network and no JavaScript.

nbconvert's ``lab`` template with its CSS in one shared ``notebook.css`` (not inlined in every page: the same
~250 kB twelve times) and images embedded as data URIs, minus every
``<script>`` it would add: require.js, MathJax and mermaid from a CDN, the jupyter-widgets manager from unpkg, the
widget state and the ``application/javascript`` outputs. Widget outputs (tqdm bars) show their text fallback. Math
stays as its TeX source (no MathJax offline).
"""

from __future__ import annotations

from pathlib import Path

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_javascript -%}{%- endblock data_javascript -%}
{%- block data_widget_view -%}
{%- if 'text/plain' in output.data -%}<pre>{{ output.data['text/plain'] | escape }}</pre>{%- endif -%}
{%- endblock data_widget_view -%}
{%- block notebook_css -%}
{%- if resources.site_css -%}<link rel="stylesheet" href="{{ resources.site_css }}">
{%- else -%}<!--srlib-site-css-->{{ super() }}<!--/srlib-site-css-->{%- endif -%}
{%- endblock notebook_css -%}
{%- block body_header -%}
{{ super() }}
<nav style="padding: 0.5em 1em; font-family: sans-serif"><a href="{{ resources.site_back }}">← {{ resources.site_back_text | escape }}</a></nav>
{%- endblock body_header -%}
"""


def exporter():
    """An HTMLExporter with the template above (built once per site: the Jinja environment takes ~1 s)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(
        extra_loaders=[DictLoader({"srlib_site.html.j2": _TEMPLATE})],
        template_file="srlib_site.html.j2",
        embed_images=True,
    )


CSS_NAME = "notebook.css"  # one stylesheet beside the notebook pages (the lab template's ~250 kB of CSS, once)


def write_css(exp, folder: Path) -> Path:
    """The lab template's notebook CSS (what it would inline in every page) as ``folder/notebook.css``."""
    import re

    import nbformat

    page, _ = exp.from_notebook_node(
        nbformat.v4.new_notebook(), resources={"site_back": "", "site_back_text": ""}
    )
    block = page.split("<!--srlib-site-css-->", 1)[1].split("<!--/srlib-site-css-->", 1)[0]
    css = "\n".join(re.findall(r"<style[^>]*>(.*?)</style>", block, flags=re.S))
    out = Path(folder) / CSS_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(css.strip() + "\n", encoding="utf-8")
    return out


def to_html(exp, notebook: Path, out: Path, *, back: str, back_text: str, css: str) -> Path:
    """Write ``notebook`` as the page ``out``, with a link ``back`` (relative) at the top and the stylesheet ``css``
    (relative, from :func:`write_css`)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata.pop("widgets", None)  # no widget-state script (this copy is ours, read from disk)
    body, _ = exp.from_notebook_node(
        nb,
        resources={
            "metadata": {"name": notebook.stem, "path": str(notebook.parent)},
            "site_back": back,
            "site_back_text": back_text,
            "site_css": css,
        },
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out
