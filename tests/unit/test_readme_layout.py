"""The README's layout section lists exactly the modules of srlib, folder by folder."""

import re

from srlib import paths


def _listed() -> set[str]:
    text = (paths.root() / "README.md").read_text()
    block = text.split("<!-- layout: every module of srlib, one line per folder -->", 1)[1]
    block = block.split("```text\n", 1)[1].split("```", 1)[0]
    listed = set()
    for line in block.splitlines():
        folder, *modules = line.split()
        assert folder.endswith("/"), line
        listed |= {folder + m for m in modules}
        assert all(re.fullmatch(r"\w+\.py", m) for m in modules), line
    return listed


def test_readme_layout_matches_the_tree():
    root = paths.root()
    actual = {
        p.relative_to(root).as_posix() + ("" if p.is_file() else "/")
        for p in (root / "srlib").rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    listed = _listed()
    assert listed - actual == set(), "README lists modules that do not exist"
    assert actual - listed == set(), "modules missing from the README's layout section"


def test_readme_headlines_are_the_photos_sites():
    """The README's Results block is the photos site's headlines.md, line for line (numbers never typed)."""
    text = (paths.root() / "README.md").read_text()
    block = text.split("<!-- headlines: results/photos/site/headlines.md -->\n")[1].split(
        "<!-- /headlines -->"
    )[0]
    assert block == (paths.root() / "results/photos/site/headlines.md").read_text()
    from srlib.site.studies import STUDIES

    assert block.count("\n- [") + block.startswith("- [") == len(STUDIES)  # one line per study
