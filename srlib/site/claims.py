"""What a study page holds -- headline numbers, each one a metrics-file value (never typed), and the papers' claims
with a verdict in words -- and the rules that give the verdicts.

A verdict is one of :data:`VERDICTS`. A claim *agrees* or *contradicts* when this run's numbers decide it, whatever
the data: the caveats the metrics files carry (proxy data, random-init weights, reduced budgets) are printed on every
page, and a verdict on proxy data is a verdict on that experiment. It *cannot be tested here* when the run has no
measurement of it (mean opinion scores, the papers' own test sets) or cannot resolve it (a 95 % CI containing 0, or
too few images for the rank test). Paired comparisons follow :func:`srlib.stats.paired_comparison`'s rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from srlib.site.inputs import Inputs

AGREES, CONTRADICTS, UNTESTABLE = "agrees", "contradicts", "cannot be tested here"
VERDICTS = (AGREES, CONTRADICTS, UNTESTABLE)
ALPHA = 0.05  # srlib.stats.paired_comparison's significance level of the Wilcoxon test


@dataclass(frozen=True)
class Cell:
    """One number of a page: its metrics file (stage) and key there, its value and its print format."""

    stage: str
    key: str
    value: float
    fmt: str

    @property
    def text(self) -> str:
        return format(self.value, self.fmt)


@dataclass(frozen=True)
class Headline:
    label: str
    cell: Cell
    ci: tuple[Cell, Cell] | None = None  # the 95 % CI
    note: str = ""  # the test behind the CI, the number of images


@dataclass(frozen=True)
class Claim:
    text: str  # the paper's claim; its numbers read from references/
    verdict: str
    why: str


@dataclass
class Study:
    slug: str  # the page: <slug>.html
    title: str
    paper: str
    url: str
    scope: str  # what the numbers were measured on
    stages: list[str]  # its metrics files and notebooks, in order
    tables: list[str]  # files under results/<profile>/tables/
    figure: str  # the key figure, under results/<profile>/figures/
    caption: str
    headlines: list[Headline]
    summary: list[Headline]  # the index line
    claims: list[Claim]
    extra_notebooks: list[str] = field(default_factory=list)  # notebooks without a metrics file
    grid: tuple[list[str], list[tuple[str, list[Cell]]]] | None = (
        None  # (columns, rows), e.g. per phase
    )

    def caveats(self, inp: Inputs) -> list[str]:
        """The labels of the study's metrics files, once each, in order."""
        seen: dict[str, None] = {}
        for stage in self.stages:
            for label in inp.value(stage, "labels"):
                seen.setdefault(label, None)
        return list(seen)


def cell(inp: Inputs, stage: str, key: str, fmt: str) -> Cell:
    return Cell(stage, key, inp.number(stage, key), fmt)


def with_ci(inp: Inputs, stage: str, key: str, label: str, fmt: str, note: str = "") -> Headline:
    """A mean and its ``<key>_ci95`` = [low, high] (bootstrap over the images)."""
    lo, hi = (cell(inp, stage, f"{key}_ci95.{i}", fmt) for i in (0, 1))
    return Headline(label, cell(inp, stage, key, fmt), (lo, hi), note)


def paired(inp: Inputs, stage: str, key: str, label: str, fmt: str, n: int) -> Headline:
    """A paired difference A − B: ``mean_diff``, ``ci_low`` / ``ci_high`` and the Wilcoxon p when stored."""
    res = inp.value(stage, key)
    lo, hi = (cell(inp, stage, f"{key}.{k}", fmt) for k in ("ci_low", "ci_high"))
    note = f"paired bootstrap over {n} images"
    if "p_wilcoxon" in res:
        note += f"; Wilcoxon p = {res['p_wilcoxon']:.3g}"
    return Headline(label, cell(inp, stage, f"{key}.mean_diff", fmt), (lo, hi), note)


def paired_verdict(res: dict, *, higher_is_better: bool = True) -> str:
    """``"A better"`` / ``"B better"`` / ``"similar"`` / ``"inconclusive"`` of a stored paired comparison.

    The stored ``verdict`` where there is one; else :func:`srlib.stats.paired_comparison`'s rule on the stored CI and
    p (a test holds the two together): similar when the CI contains 0; A or B better when it excludes 0 and
    p < 0.05; inconclusive otherwise.
    """
    if "verdict" in res:
        return res["verdict"]
    lo, hi, p = res["ci_low"], res["ci_high"], res.get("p_wilcoxon", 0.0)
    if lo <= 0 <= hi:
        return "similar"
    if p >= ALPHA:
        return "inconclusive"
    return "A better" if (lo > 0) == higher_is_better else "B better"


def ci_text(res: dict) -> str:
    return f"{res['mean_diff']:+.3g} [95 % CI {res['ci_low']:+.3g}, {res['ci_high']:+.3g}]"


def decide(
    res: dict, claimed: str, n: int, *, names: tuple[str, str] = ("A", "B")
) -> tuple[str, str]:
    """(verdict, why) of the claim that ``claimed`` ("A better" / "B better") holds in paired comparison ``res``."""
    found = paired_verdict(res)
    if found == "similar":
        return UNTESTABLE, f"{ci_text(res)} contains 0 over {n} images: no difference resolved"
    if found == "inconclusive":
        p = res.get("p_wilcoxon", float("nan"))
        return UNTESTABLE, (
            f"{ci_text(res)} excludes 0, but Wilcoxon p = {p:.3g} ≥ {ALPHA} over {n} images (too few)"
        )
    winner = names[0] if found == "A better" else names[1]
    return (
        AGREES if found == claimed else CONTRADICTS
    ), f"{ci_text(res)} over {n} images: {winner} better"


def labels_with(inp: Inputs, stage: str, *words: str) -> str:
    """The labels of ``stage`` that mention any of ``words``: the caveats behind a claim."""
    labels = [label for label in inp.value(stage, "labels") if any(w in label for w in words)]
    return "; ".join(labels) or "none recorded"


def not_comparable(inp: Inputs, stage: str, table: str) -> str:
    """Why absolute numbers are not the paper's: the metrics file's own flag and labels."""
    where = f"metrics/{stage}.details.json"
    if inp.value(stage, "comparable_with_paper"):
        return f"{where}: comparable_with_paper is true; the paper / ours / Δ rows are in {table}"
    # write_metrics ends the labels with its PROXY DATA / RANDOM WEIGHTS summaries; the rest are on the page
    labels = inp.value(stage, "labels")
    short = [x for x in labels if x.startswith(("PROXY DATA:", "RANDOM WEIGHTS:"))] or labels
    return f"{where}: comparable_with_paper is false -- " + "; ".join(short)


def ref_where(inp: Inputs, name: str) -> str:
    """ "Table 2, p. 8" from the reference file's own columns."""
    row = inp.reference(name)[0]
    page = row.get("page", "")
    return row.get("table", "") + (f", p. {page}" if page and page != "n/a" else "")


def data_name(inp: Inputs, stage: str) -> str:
    return inp.value(stage, "data.name") + (" (PROXY)" if inp.value(stage, "data.proxy") else "")
