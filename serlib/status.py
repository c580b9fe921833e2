"""What the book reproduces, generated: the intro's status table, each page's "What is
reproduced" paragraph and the summary's verdict column all come from here, read from the results
files (``results/<paper>/*.json``: the tables that ran and the cells that did not) and the
committed pages (``book/papers/<paper>.ipynb``: the figures they show). ``serlib status --write``
writes the intro's table (``book/status.md``); a test fails when the committed table or a page
disagrees with the results files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from serlib import config, corpora, results
from serlib.papers import PAPERS, STUDIES, Paper, common

#: Where the intro's generated status table lives (included by ``book/intro.md``).
STATUS_PAGE = config.PROJECT_ROOT / "book" / "status.md"

_FIGURE_HEADING = re.compile(r"^#+\s*(Figs?\.\s*[\d–\-, and]+)")


def figures_shown(page: str | Path) -> list[str]:
    """The figures an executed page shows: each heading that names a figure ("## Fig. 3: ...")
    followed by a code cell with an image output."""
    import nbformat

    path = config.PROJECT_ROOT / page
    if not path.exists():
        return []
    cells = nbformat.read(path, as_version=4).cells
    shown = []
    for cell, following in zip(cells, cells[1:]):
        if cell.cell_type != "markdown" or following.cell_type != "code":
            continue
        images = any("image/png" in output.get("data", {}) for output in following.get("outputs", []))
        for line in cell.source.splitlines():
            match = _FIGURE_HEADING.match(line)
            if match and images:
                shown.append(match.group(1).rstrip(" ,"))
    return shown


def _names(items: Sequence[str]) -> str:
    """"Table 3", "Tables 3 and 4", "Tables 1, 2 and 4", "Table 2 and Figs. 2 and 3": each kind
    (Table, Fig.) with its numbers, in the order the kinds first appear."""
    by_kind: dict[str, list[str]] = {}
    for item in dict.fromkeys(items):
        kind, _, number = item.partition(" ")
        by_kind.setdefault(kind, []).append(number)
    plural = {"Table": "Tables", "Fig.": "Figs."}
    phrases = [f"{kind} {numbers[0]}" if len(numbers) == 1 else f"{plural.get(kind, kind)} {common.listed(numbers)}"
               for kind, numbers in by_kind.items()]
    return common.listed(phrases)


@dataclass
class PaperStatus:
    """Where one paper stands: the tables run per corpus, the figures its page shows, the paper's
    cells not run (and why), the headline cells by class, and the stand-in's ordering line."""

    paper: Paper
    tables_run: dict[str, list[str]] = field(default_factory=dict)  # corpus → tables with rows
    figures: list[str] = field(default_factory=list)
    figures_not_shown: list[str] = field(default_factory=list)
    not_run_cells: dict[str, int] = field(default_factory=dict)  # table → cells of the paper not run
    licence_gated: dict[str, list[str]] = field(default_factory=dict)  # corpus → tables not run (licence)
    tables_not_run: dict[str, list[str]] = field(default_factory=dict)  # public corpus → tables not run yet
    cells: dict[str, int] = field(default_factory=dict)  # results.CELL_CLASSES → count
    ordering: str = ""  # on the stand-in: our ordering of the systems vs the paper's
    leaky_variants: list[str] = field(default_factory=list)

    @property
    def ran(self) -> str:
        """What ran, in one line."""
        parts = [f"{_names(tables)} on {corpora.display_name(corpus)}" + (" (stand-in)" if corpus == self.paper.stand_in else "")
                 for corpus, tables in self.tables_run.items()]
        if self.figures:
            parts.append(_names(self.figures))
        return "; ".join(parts) if parts else "nothing yet"

    @property
    def not_run(self) -> str:
        """What did not run, and why, in one line."""
        parts = [f"{count} cells of {table}" for table, count in self.not_run_cells.items()]
        parts += [f"{_names(self.figures_not_shown)}"] if self.figures_not_shown else []
        parts += [f"{_names(tables)} on {corpora.display_name(corpus)}" for corpus, tables in self.tables_not_run.items()]
        parts += [f"{_names(tables)} ({corpora.display_name(corpus)}: licence-gated)" for corpus, tables in self.licence_gated.items()]
        return "; ".join(parts) if parts else "none"

    @property
    def verdict(self) -> str:
        """One line: the headline cells by class, and :attr:`remarks`."""
        total = sum(self.cells.values())
        counts = f"{total} headline cells: {results.class_counts(self.cells)}" if total else ""
        return "; ".join(filter(None, [counts, self.remarks])) or "no headline cell"

    @property
    def remarks(self) -> str:
        """What the cell counts do not say: a run in progress, the ordering on a stand-in, leaky variants."""
        if not self.tables_run:
            return "no full-profile numbers yet" + ("" if self.paper.shown else "; its page is not yet in the book")
        lines = []
        if self.ordering:
            lines.append(f"on the stand-in, {self.ordering}")
        if self.leaky_variants:
            lines.append("outside these counts, labelled variants that leak the test set: " + ", ".join(self.leaky_variants))
        return "; ".join(lines)


def leaks_test_set(variant: str) -> bool:
    """Whether a labelled variant chooses something on the test data (its name says so: an
    epoch, a model or a rate "chosen on the test ...")."""
    return bool(re.search(r"\bon the test\b", variant))


def paper_status(paper: Paper, rows: pd.DataFrame, figures: Sequence[str] | None = None) -> PaperStatus:
    """The status of ``paper`` from its full-profile results ``rows`` (:func:`serlib.results.load_results`);
    ``figures``: those its page shows (default: read from the committed page)."""
    status = PaperStatus(paper)
    mine = rows[(rows["paper"] == paper.name) & (rows["profile"] == "full")] if len(rows) else rows
    protocol_rows = results.scores(mine[mine["variant"].fillna("") == ""]) if len(mine) else mine
    for corpus, group in (protocol_rows.groupby("corpus", sort=False) if len(protocol_rows) else ()):
        status.tables_run[corpus] = sorted(set(group["table"]), key=_table_number)
    for cells in (mine.groupby("corpus", sort=False)["not_run"].first() if len(mine) else ()):
        for cell in cells:
            status.not_run_cells[cell.table] = status.not_run_cells.get(cell.table, 0) + 1
    if figures is not None:
        status.figures = list(figures)
    elif paper.shown:
        status.figures = figures_shown(paper.page)
    status.figures_not_shown = [f for f in paper.figures if f not in status.figures] if paper.shown else []
    for corpus, tables in paper.tables.items():
        missing = [table for table in tables if table not in status.tables_run.get(corpus, [])]
        if corpus in corpora.LICENCE_GATED and missing:
            status.licence_gated[corpus] = missing
        elif missing and paper.shown:
            status.tables_not_run[corpus] = missing
    stand_ins = {paper.name: paper.stand_in} if paper.stand_in else {}
    cells = results.headline_cells(mine, stand_ins) if len(mine) else mine
    if len(cells):
        counts = results.cell_classes(cells).value_counts()
        status.cells = {name: int(counts.get(name, 0)) for name in results.CELL_CLASSES}
    if paper.stand_in and len(mine) and (mine["corpus"] == paper.stand_in).any():
        status.ordering = paper.module().ordering_summary(mine[mine["corpus"] == paper.stand_in])
    status.leaky_variants = sorted({v for v in mine["variant"].fillna("") if v and leaks_test_set(v)}) if len(mine) else []
    return status


def _table_number(table: str) -> tuple[int, str]:
    """Sort key: "Table 3" by its number."""
    digits = re.findall(r"\d+", table)
    return (int(digits[0]) if digits else 0, table)


#: The results the book shows: the checkout's ``results/`` (whatever ``$SERLIB_RESULTS`` says).
BOOK_RESULTS = config.PROJECT_ROOT / "results"


def statuses(folder: str | Path | None = None) -> list[PaperStatus]:
    """Every registered paper's status, from the results files under ``folder`` (default: the book's)."""
    rows = results.load_results(folder or BOOK_RESULTS)
    return [paper_status(paper, rows) for paper in PAPERS]


def page_link(paper: Paper, prefix: str = "papers/") -> str:
    """The paper's short name, linked to its page where the book has one."""
    return f"[{paper.name}]({prefix}{paper.name}.ipynb)" if paper.shown else f"{paper.name} (page not yet in the book)"


def intro_table(chosen: Sequence[PaperStatus]) -> str:
    """The intro's status table (Markdown: paper [n], what ran, what did not, verdict) and the
    numbered citations it points to."""
    lines = ["| paper | what ran (full profile) | not run | verdict |", "|---|---|---|---|"]
    for number, status in enumerate(chosen, start=1):
        paper = status.paper
        lines.append(f"| {page_link(paper)} [{number}]: {paper.title} | {status.ran} | {status.not_run} | {status.verdict} |")
    lines.append("")
    lines += [f"{number}. {status.paper.citation}." for number, status in enumerate(chosen, start=1)]
    return "\n".join(lines)


def duration_text(seconds: float) -> str:
    """A duration as the book writes it: hours from one up, minutes, or seconds under one."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def stored_trainings(paper: str, outcomes: str | Path | None = None) -> int:
    """How many of ``paper``'s trainings have their outcome committed in ``outcomes/<paper>/``."""
    return sum(1 for _ in (Path(outcomes or config.OUTCOMES_DIR) / paper).glob("*/outcome.npz"))


def compute_table(folder: str | Path | None = None, outcomes: str | Path | None = None) -> str:
    """What each committed results file of a page in the book cost (Markdown): page, corpus (or
    corpora, for a study), device, the trainings of the page committed in ``outcomes/``, the
    training time the file's trainings recorded and the wall time of the page's last execution."""
    rows = results.load_results(folder or BOOK_RESULTS)
    lines = ["| page | corpus | device | trainings in `outcomes/` (all corpora) | training time recorded | "
             "page's last execution |", "|---|---|---|---|---|---|"]
    if not len(rows):
        return "\n".join(lines)
    pages = [paper.name for paper in PAPERS] + [study.name for study in STUDIES if study.shown]
    full = rows[(rows["profile"] == "full") & rows["paper"].isin(pages)]
    for (paper, corpus), group in full.groupby(["paper", "corpus"], sort=False):
        first = group.iloc[0]
        trained = duration_text(first["training_seconds"]) if pd.notna(first["training_seconds"]) else "not recorded"
        studies = {study.name for study in STUDIES}
        named = (", ".join(corpora.display_name(name) for name in corpus.split("+")) if paper in studies  # joined by +
                 else corpora.display_name(corpus))
        lines.append(f"| {paper} | {named} | {', '.join(sorted(set(group['device'])))} | "
                     f"{stored_trainings(paper, outcomes)} | {trained} | {duration_text(first['wall_seconds'])} |")
    return "\n".join(lines)


def status_page(folder: str | Path | None = None) -> str:
    """The text of :data:`STATUS_PAGE`: the status table, its citations, and the compute table."""
    return ("<!-- Generated by `serlib status --write` from results/, book/papers/ and outcomes/: do not edit. -->\n\n"
            + intro_table(statuses(folder)) + "\n\n**What the committed results cost** (from the results files and `outcomes/`): the training time each file's trainings "
            "recorded, epoch by epoch, and the wall time of the page's last execution, which read those trainings "
            "from the cache. `serlib pages` regenerates a page from its committed trainings without training (a paper "
            "can have more committed trainings than its page read while the grid of its next version runs):\n\n"
            + compute_table(folder) + "\n")


def write_status_page(path: Path = STATUS_PAGE) -> bool:
    """Write :func:`status_page` to ``path``; whether it changed."""
    from serlib import files

    text = status_page()
    if path.exists() and path.read_text() == text:
        return False
    files.write_text(path, text)
    return True


def reproduced_paragraph(paper_name: str, figures: Sequence[str], folder: str | Path | None = None,
                         profile: str = "full") -> str:
    """A page's "What is reproduced" paragraph, from the same status as the intro's row
    (``figures``: those the page shows; ``folder``: where the page wrote its results, by default
    ``$SERLIB_RESULTS`` or the checkout's ``results/``). Another profile than ``full`` reproduces
    nothing, and says so."""
    from serlib.papers import get

    rows = results.load_results(folder)
    status = paper_status(get(paper_name), rows[rows["profile"] == profile].assign(profile="full") if len(rows) else rows, figures)
    if profile != "full":
        return (f"**Profile `{profile}`:** a test of the code on a subset, **not a reproduction**. It ran {status.ran}; "
                "the full profile runs the paper's protocol.")
    return (f"**What ran** (full profile, all of this paper's results files): {status.ran}. **Not run:** {status.not_run}. "
            f"**Verdict:** {status.verdict}.")


def page_run(paper: str, settings: Any, profiles: Mapping[str, Any], device: str, *records: results.ResultsFile) -> str:
    """A page's own run as it states it: the command that reproduces it and the training time the
    trainings behind its ``records`` recorded (read from their stored outcomes, so a page
    regenerated from the cache still states what its trainings cost)."""
    recorded = [results.total_training_seconds(record.training_seconds) for record in records]
    seconds = sum(s for s in recorded if s is not None)
    cost = f"{duration_text(seconds)} of training recorded" if seconds else "no training time recorded"
    return f"`{common.reproduce_command(paper, settings, profiles, device)}` ({cost})"


def _count(number: int, noun: str) -> str:
    """"3 cells", "1 cell", or "" for none."""
    return f"{number} {noun}{'s' * (number != 1)}" if number else ""


def summary_frame(chosen: Sequence[PaperStatus]) -> pd.DataFrame:
    """The summary page's first table: per registered paper its page (an HTML link), the corpora
    run, the headline cells by disjoint class, what did not run (cells, figures and licence-gated
    tables) and the remarks the counts do not make (:attr:`PaperStatus.remarks`)."""
    rows = []
    for status in chosen:
        paper = status.paper
        gated = sum(len(tables) for tables in status.licence_gated.values())
        figures = len(status.figures_not_shown)
        public = sum(len(tables) for tables in status.tables_not_run.values())
        not_run = ", ".join(filter(None, [
            _count(sum(status.not_run_cells.values()), "cell"), _count(figures, "figure"), _count(public, "table"),
            _count(gated, "licence-gated table")])) or "none"
        counts = {name: status.cells.get(name, 0) if status.cells else "–" for name in results.CELL_CLASSES}
        rows.append({"paper": f'<a href="papers/{paper.name}.html">{paper.name}</a>' if paper.shown else f"{paper.name} (no page yet)",
                     "corpora run": ", ".join(corpora.display_name(c) + (" (stand-in)" if c == paper.stand_in else "")
                                              for c in status.tables_run) or "–",
                     "headline cells": sum(status.cells.values()), **counts, "not run": not_run,
                     "remarks": status.remarks or "–"})
    return pd.DataFrame(rows)
