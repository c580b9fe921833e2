"""The book builds (warnings are errors) and its summary shows every committed full result."""

import html as html_text
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from serlib.papers import PAPERS

PROJECT = Path(__file__).resolve().parent.parent

# Sphinx's smartquotes turn ' into a typographic apostrophe (and -- into an en dash) on the page.
_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "--", "\u2014": "---", "\u2026": "..."})


def as_typed(page: str) -> str:
    """The page's text with HTML entities and Sphinx's smart punctuation turned back into what was typed."""
    return html_text.unescape(page).translate(_TYPOGRAPHY)


def test_as_typed_undoes_smartquotes():
    assert as_typed("the validation actor\u2019s &amp; 1\u20132") == "the validation actor's & 1--2"


@pytest.mark.slow
def test_book_builds_and_summary_shows_full_results(tmp_path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(PROJECT / name, tmp_path / name)
    for folder in ("book", "results", "benchmarks"):
        shutil.copytree(PROJECT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*-smoke.json", ".ipynb_checkpoints"))
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
    assert (html / "rerun.html").exists()
    assert "headline cells" in summary and "within 3 points" in summary and "<img" in summary  # scoreboard and figure
    stand_ins = {p.name: p.stand_in for p in PAPERS if p.stand_in}
    for path in sorted((tmp_path / "results").glob("*/*-full.json")):
        record = json.loads(path.read_text())
        assert as_typed(record["protocol"]) in as_typed(summary), (path.name, record["protocol"])
        shown_all = stand_ins.get(record["paper"]) == record["corpus"] or all(r["paper_value"] is None for r in record["rows"])
        for row in record["rows"]:
            if row["paper_value"] is not None or shown_all:
                ours = f"{100 * row['value']:.1f}" if row["seeds"] == 1 else f"{100 * row['value']:.1f} ± {100 * row['std']:.1f}"
                assert f">{ours}</td>" in summary, (path.name, row)
            if row["paper_value"] is not None:
                assert f"{100 * row['paper_value']:.1f}" in summary
    crnn = json.loads((tmp_path / "results" / "crnn" / "nemo-full.json").read_text())
    assert "stands in for the paper" in summary and crnn["rows"][0]["paper_value"] is None
