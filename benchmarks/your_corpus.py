"""A user's own corpus through every paper: the realistic CSV corpus of
``tools/make_mixed_csv_corpus.py`` (29 speakers with very uneven counts, the 4 shared classes, FLAC
files of mixed rates, some stereo, non-ASCII speaker names) run through ``serlib reproduce PAPER
-p corpus corpus.csv`` as a user would, each paper in its own process.

    .venv/bin/python benchmarks/your_corpus.py --profile smoke                 # all five papers
    .venv/bin/python benchmarks/your_corpus.py --profile full rnn crnn         # hours on 2 CPU cores
    .venv/bin/python benchmarks/your_corpus.py --profile full rnn -p seeds 0,1,2   # a stated cut of the profile

It keeps each run's results file in ``benchmarks/your_corpus/<paper>-<profile>.json`` (the evidence
that the run finished: outside ``results/``, so the book never shows a mixed corpus as a paper's
result; the ``--work`` folder is written ``$WORK`` in it) and writes ``benchmarks/your_corpus.md``: per paper and profile, whether the run ended, its
wall time, its rows, and its first table's numbers. Runs of the other profile already there are kept.
The corpus is made once under ``--work`` from ``$SERLIB_DATA`` (Emo-DB, SAVEE and RAVDESS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
EVIDENCE = PROJECT / "benchmarks" / "your_corpus"
REPORT = PROJECT / "benchmarks" / "your_corpus.md"
#: The notebook parameter that names a paper's corpus (scalogram takes a list of corpora).
CORPUS_PARAMETER = {"scalogram": "corpora"}


def make_corpus(data_root: Path, work: Path) -> Path:
    """The CSV corpus under ``work`` (made once, from the shared corpora)."""
    manifest = work / "corpus" / "corpus.csv"
    if not manifest.exists():
        subprocess.run([sys.executable, str(PROJECT / "tools" / "make_mixed_csv_corpus.py"), str(data_root),
                        str(manifest.parent)], check=True, cwd=PROJECT)
    return manifest


def run_paper(paper: str, profile: str, manifest: Path, work: Path, parameters: list[tuple[str, str]] = ()) -> dict:
    """One ``serlib reproduce`` of ``paper`` on the CSV corpus in a fresh process (with the
    ``parameters`` that cut or change its profile, recorded with the run): how it ended."""
    results = work / "results"
    environment = {**os.environ, "SERLIB_RESULTS": str(results)}
    command = [sys.executable, "-m", "serlib.cli", "reproduce", paper, "--profile", profile, "--device", "cpu",
               "--no-book", "-p", CORPUS_PARAMETER.get(paper, "corpus"), str(manifest)]
    command += [word for name, value in parameters for word in ("-p", name, value)]
    started = time.time()
    done = subprocess.run(command, env=environment, cwd=PROJECT, capture_output=True, text=True)
    (work / f"{paper}-{profile}.log").write_text(done.stdout + done.stderr)
    ended = {"paper": paper, "profile": profile, "parameters": " ".join(f"-p {n} {v}" for n, v in parameters),
             "ok": done.returncode == 0, "wall_seconds": round(time.time() - started),
             "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    written = results / paper / f"{manifest.stem}-{profile}.json"
    if done.returncode == 0 and written.exists():
        EVIDENCE.mkdir(parents=True, exist_ok=True)
        (EVIDENCE / f"{paper}-{profile}.json").write_text(without_machine_paths(written.read_text(), work))
    else:
        ended["error"] = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    return ended


def without_machine_paths(text: str, work: Path) -> str:
    """A results file's text with this machine's ``--work`` folder written ``$WORK`` (the corpus
    path a run records is the user's, not part of the evidence)."""
    return text.replace(json.dumps(str(work.resolve()) + "/")[1:-1], "$WORK/")


def first_table(record: dict) -> str:
    """The first table's UA (or first metric's) scores of a results file, as ``row: value``."""
    from serlib import results  # here: the driver itself runs no model

    rows = [row for row in record["rows"] if row.get("metric") not in ("confusion",) and row.get("quantity", results.SCORE) == results.SCORE]
    if not rows:
        return "no rows"
    table, metric = rows[0]["table"], ("UA" if any(r["metric"] == "UA" for r in rows) else rows[0]["metric"])
    chosen = [row for row in rows if row["table"] == table and row["metric"] == metric and not row.get("variant")]
    return f"{table}, {metric}: " + "; ".join(f"{row['row']} ({row['column']}, {row['level']}) {100 * row['value']:.1f}"
                                              for row in chosen[:6]) + (" …" if len(chosen) > 6 else "")


def report(runs: list[dict]) -> str:
    """The Markdown report: a table of the runs (paper, profile, how it ended, wall time, date,
    machine), then each full run's first table and each failed run's error, one line per run."""
    lines = ["<!-- Written by benchmarks/your_corpus.py: do not edit. -->", "",
             "The CSV corpus of `tools/make_mixed_csv_corpus.py` (real speech of Emo-DB, SAVEE and RAVDESS in one CSV "
             "manifest) through every paper; the results files are in `benchmarks/your_corpus/`. These numbers show that "
             "the protocols run on a user's corpus: they are not a reproduction of any paper.", "",
             "| paper | profile | parameters | ended | wall time | date | machine | results rows |",
             "|---|---|---|---|---|---|---|---|"]
    details = []
    for run in sorted(runs, key=lambda run: (run["paper"], run["profile"])):
        evidence = EVIDENCE / f"{run['paper']}-{run['profile']}.json"
        if run["ok"] and evidence.exists():
            record = json.loads(evidence.read_text())
            rows, detail = str(len(record["rows"])), first_table(record) if run["profile"] == "full" else None
        else:
            rows, detail = "none", f"error: {run.get('error', '?')}"
        lines.append(f"| {run['paper']} | {run['profile']} | {'`' + run['parameters'] + '`' if run.get('parameters') else '–'} | {'ok' if run['ok'] else 'failed'} | "
                     f"{run['wall_seconds'] / 60:.1f} min | {run['date']} | {run['machine']} | {rows} |")
        if detail:
            details.append(f"- **{run['paper']}, {run['profile']}**: {detail}")
    if details:
        lines += ["", "What each full run's first table holds (%), and why a run failed:", "", *details]
    return "\n".join(lines + ["", "A smoke run's numbers test the code on a few utterances and are not shown. A run with "
                                "parameters ran its profile with them: a stated cut (e.g. fewer seeds) to fit a session."]) + "\n"


def main() -> None:
    from serlib import config
    from serlib.papers import PAPERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("papers", nargs="*", default=[paper.name for paper in PAPERS])
    parser.add_argument("--profile", default="smoke", choices=["smoke", "full"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/your_corpus"), help="the corpus, logs and results")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter for every paper run (a cut of the profile: stated in the report)")
    arguments = parser.parse_args()
    manifest = make_corpus(config.data_root(), arguments.work)
    runs_file = EVIDENCE / "runs.json"
    kept = json.loads(runs_file.read_text()) if runs_file.exists() else []
    for paper in arguments.papers:
        ended = run_paper(paper, arguments.profile, manifest, arguments.work, [tuple(p) for p in arguments.parameter])
        print(f"{paper} {arguments.profile}: {'ok' if ended['ok'] else 'FAILED'} in {ended['wall_seconds']} s", flush=True)
        kept = [run for run in kept if (run["paper"], run["profile"]) != (paper, arguments.profile)] + [ended]
        EVIDENCE.mkdir(parents=True, exist_ok=True)
        runs_file.write_text(json.dumps(kept, indent=1) + "\n")
        REPORT.write_text(report(kept))


if __name__ == "__main__":
    main()
