"""The book builds (warnings are errors) and its summary shows every committed full result."""

import html as html_text
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from serlib.papers import PAPERS, STUDIES

PROJECT = Path(__file__).resolve().parent.parent

# Sphinx's smartquotes turn ' into a typographic apostrophe (and -- into an en dash) on the page.
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "--", "\u2014": "---", "\u2026": "..."})


def as_typed(page: str) -> str:
    """The page's text with HTML entities and Sphinx's smart punctuation turned back into what was typed."""
    return html_text.unescape(page).translate(_TYPOGRAPHY)


#: What a reader cannot follow: a tracker's issue number ("#12") and a commit hash outside a provenance
#: label ("commit 3732ec8", a download's "MD5 ...").
ISSUE_NUMBER = re.compile(r"(?<![\w&/#])#\d{1,3}\b")
BARE_HASH = re.compile(r"(?<!commit )(?<!commit `)(?<!MD5 )(?<!MD5 `)\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")


#: A provenance label naming the commits a results file's rows came from ("code: commit a1b2c3d, e4f5a6b").
PROVENANCE = re.compile(r"commits? `?[0-9a-f]{7,40}`?(, `?[0-9a-f]{7,40}`?)*")


def unreadable_references(text: str) -> list[str]:
    """Each issue number or bare commit hash in ``text`` (provenance labels left out), with a little context."""
    text = PROVENANCE.sub("commit", text)
    return [text[max(0, m.start() - 40):m.end() + 10] for pattern in (ISSUE_NUMBER, BARE_HASH) for m in pattern.finditer(text)]


def visible_text(page: str) -> str:
    """What a browser shows of an HTML page: no scripts, styles or tags."""
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    return " ".join(html_text.unescape(re.sub(r"(?s)<[^>]+>", " ", page)).split())


def broken_links(page: Path) -> list[str]:
    """The links of a built ``page`` to a file of the book that does not exist, or to an anchor of
    the page itself that it does not hold (e.g. ``papers/rnn.ipynb`` in a cell's Markdown output,
    which Sphinx never rewrites)."""
    text = page.read_text()
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    broken = []
    for href in re.findall(r'\bhref="([^"]*)"', text):
        href = html_text.unescape(href)
        if re.match(r"[a-z]+:", href) or href.startswith("//"):
            continue  # another site, mail
        target, _, anchor = href.partition("#")
        target = target.partition("?")[0]
        if target and not (page.parent / target).exists():
            broken.append(href)
        elif not target and anchor and anchor not in ids:
            broken.append(href)
    return broken


def test_broken_links_are_found(tmp_path):
    (tmp_path / "there.html").write_text("")
    page = tmp_path / "page.html"
    page.write_text('<h2 id="a">A</h2> <a href="there.html#x">ok</a> <a href="there.html?v=1">ok</a> <a href="#a">ok</a> <a href="https://x.org">ok</a> '
                    '<a href="gone.ipynb">no</a> <a href="#b">no</a> <a href="crosscorpus-protocol">no</a>')
    assert broken_links(page) == ["gone.ipynb", "#b", "crosscorpus-protocol"]


def test_unreadable_references_are_found():
    assert len(unreadable_references("as in #12, see 81cc5f8a")) == 2
    assert unreadable_references("at commit `81cc5f8`, code: commit 81cc5f8, 3732ec8 · MD5 bc696df654c87fed845eb13823edef8a · colour #fff · facade") == []


def test_prose_names_no_issue_numbers_or_bare_hashes():
    """The book's hand-written prose (pages, notebooks' markdown, README, benchmark reports) speaks to a reader."""
    sources = [*PROJECT.glob("book/*.md"), PROJECT / "README.md", *PROJECT.glob("benchmarks/*.md")]
    texts = {path: path.read_text() for path in sources}
    for path in [*PROJECT.glob("notebooks/*.ipynb"), *PROJECT.glob("book/**/*.ipynb")]:
        cells = nbformat.read(path, as_version=4).cells
        texts[path] = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    found = {path.relative_to(PROJECT).as_posix(): hits for path, text in texts.items() if (hits := unreadable_references(text))}
    assert not found, found


def test_as_typed_undoes_smartquotes():
    assert as_typed("the validation actor\u2019s &amp; 1\u20132") == "the validation actor's & 1--2"


@pytest.mark.slow
def test_book_builds_and_summary_shows_full_results(tmp_path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(PROJECT / name, tmp_path / name)
    for folder in ("book", "results", "benchmarks"):
        shutil.copytree(PROJECT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*-smoke.json", "*.tmp", ".ipynb_checkpoints"))
    env = {**os.environ, "SERLIB_RESULTS": str(tmp_path / "results")}
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run(
        [str(jupyter_book), "build", str(tmp_path), "--warningiserror", "--keep-going"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    html = tmp_path / "_build" / "html" / "book"
    summary = (html / "summary.html").read_text()
    for paper in PAPERS:
        if paper.shown:
            assert (html / "papers" / f"{paper.name}.html").exists()
            assert f'href="papers/{paper.name}.html' in summary, f"the summary does not link {paper.name}'s page"
    assert (html / "rerun.html").exists()
    rendered = {page.name: hits for page in html.rglob("*.html") if (hits := unreadable_references(visible_text(page.read_text())))}
    assert not rendered, rendered  # glued prose too, which only the built page shows
    broken = {page.name: hits for page in html.rglob("*.html") if (hits := broken_links(page))}
    assert not broken, broken
    assert "headline cells" in summary and "within 3 points" in summary and "<img" in summary  # scoreboard and figure
    stand_ins = {p.name: p.stand_in for p in PAPERS if p.stand_in}
    studies = {study.name for study in STUDIES if study.shown}
    for path in sorted((tmp_path / "results").glob("*/*-full.json")):
        record = json.loads(path.read_text())
        assert as_typed(record["protocol"]) in as_typed(summary), (path.name, record["protocol"])
        scores = [row for row in record["rows"] if row.get("quantity", "score") == "score"]  # differences: on the pages
        page = (html / (f"{record['paper']}.html" if record["paper"] in studies else f"papers/{record['paper']}.html")).read_text()
        for row in record["rows"]:
            if row.get("quantity") == "difference":  # each difference a verdict rests on is on its page, signed, with its CI
                assert f"{100 * row['value']:+.1f}" in page or f">{100 * row['value']:.1f}<" in page, (path.name, row)
                assert f"[{100 * row['ci_low']:+.1f}, {100 * row['ci_high']:+.1f}]" in page, (path.name, row)
        if record["paper"] in studies:  # the summary names the study and its protocol; its cells are on its own page
            assert f'href="{record["paper"]}.html' in summary, f"the summary does not link {record['paper']}'s page"
            assert all(f">{100 * row['value']:.1f} [" in page for row in scores), path.name  # "80.0 [72.8, 86.0]"
            continue
        shown_all = stand_ins.get(record["paper"]) == record["corpus"] or all(r["paper_value"] is None for r in scores)
        for row in scores:
            if row["paper_value"] is not None or shown_all:
                ours = f"{100 * row['value']:.1f}" if row["seeds"] == 1 else f"{100 * row['value']:.1f} ± {100 * row['std']:.1f}"
                assert f">{ours}</td>" in summary, (path.name, row)
            if row["paper_value"] is not None:
                assert f"{100 * row['paper_value']:.1f}" in summary
    crnn = json.loads((tmp_path / "results" / "crnn" / "nemo-full.json").read_text())
    shown = as_typed(visible_text(summary))
    assert re.search(r"EmotAsS ?: licence-gated, not run here; the paper's numbers are on its page", shown)  # nEMO: IEMOCAP only
    assert "nEMO stands in for the paper's licence-gated IEMOCAP" in shown and crnn["rows"][0]["paper_value"] is None
