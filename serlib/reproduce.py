"""``serlib reproduce``: run papers' notebooks under papermill, one after another, and build the book.

With ``--profile full`` each executed notebook is written to its page (``book/papers/<paper>.ipynb``,
a study's ``book/<study>.ipynb``: what the book renders); other profiles go to ``_build/reproduce/<paper>-<profile>.ipynb`` and
never over the book's pages. Results files go where the notebooks write them: the checkout's
``results/`` or ``$SERLIB_RESULTS``. A paper that fails does not stop the others. Features,
checkpoints and finished trainings are cached, so rerunning resumes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from serlib import config, jobs
from serlib.papers import PAPERS, Paper, Study, get


@dataclass
class NotebookReport:
    """How one paper's notebook run ended."""

    paper: str
    ended: str  # "ok", "failed" or GRID_STORED (--grid-only: the grid ran, the notebook did not)
    seconds: float
    notebook: Path
    results: list[Path] = field(default_factory=list)
    error: str = ""


#: How a ``--grid-only`` run of a paper ends when its grid is stored: its notebook did not run.
GRID_STORED = "grid stored, notebook not run"

#: The notebook parameters that choose another corpus than the paper's own.
CORPUS_PARAMETERS = ("corpus", "corpora")


def output_notebook(paper: Paper | Study, profile: str, parameters: Mapping[str, str] | None = None) -> Path:
    """The page (``book/papers/<paper>.ipynb``, a study's ``book/<study>.ipynb``) for the full profile on
    the default corpora, else
    ``_build/reproduce/<paper>-<profile>.ipynb`` (``<paper>-<corpus>-<profile>.ipynb`` for a run on
    another corpus, e.g. your CSV: it never writes over the book's page)."""
    chosen = {name: str(value) for name, value in (parameters or {}).items() if name in CORPUS_PARAMETERS and value}
    if profile == "full" and not chosen:
        return config.PROJECT_ROOT / paper.page
    label = "_".join("+".join(Path(item).stem if item.endswith(".csv") else item for item in value.split(","))
                     for value in chosen.values())
    return config.PROJECT_ROOT / "_build" / "reproduce" / ("-".join(filter(None, [paper.name, label, profile])) + ".ipynb")


def notebook_parameters(paper: Paper | Study) -> list[str]:
    """The names in the notebook's ``parameters`` cell."""
    import papermill

    return list(papermill.inspect_notebook(str(config.PROJECT_ROOT / paper.notebook)))


def select_papers(names: Sequence[str], every: bool) -> list[Paper | Study]:
    """The papers named (or, with ``every``, every reproduced paper), in registry order."""
    if every == bool(names):
        raise ValueError("name one or more papers, or give --all")
    chosen = [p for p in PAPERS if p.reproduced] if every else [get(name) for name in names]
    unready = [p.name for p in chosen if not p.reproduced]
    if unready:
        raise ValueError(f"not reproduced yet (no notebook): {unready}; reproduced: {[p.name for p in PAPERS if p.reproduced]}")
    return chosen


def parameters_for(papers: Sequence[Paper | Study], profile: str, device: str, extra: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Each paper's papermill parameters. A ``-p`` name goes to the papers whose notebook has it;
    a name no chosen paper has is an error listing the valid ones."""
    reserved = sorted({"profile", "device"} & set(extra))
    if reserved:
        raise ValueError(f"set {', '.join(reserved)} with --{' / --'.join(reserved)}, not with -p "
                         "(valid profiles: smoke, full)")
    known = {p.name: notebook_parameters(p) for p in papers}
    unknown = sorted(name for name in extra if not any(name in names for names in known.values()))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; " + "; ".join(f"{p}: {names}" for p, names in known.items()))
    common = {"profile": profile, "device": device}
    return {p.name: {**common, **{k: v for k, v in extra.items() if k in known[p.name]}} for p in papers}


def _results_state(paper: Paper | Study) -> dict[Path, float]:
    folder = config.results_dir() / paper.name
    return {path: path.stat().st_mtime for path in folder.glob("*.json")} if folder.is_dir() else {}


def run_paper(paper: Paper | Study, profile: str, parameters: Mapping[str, str]) -> NotebookReport:
    """Execute one paper's notebook; never raises for a failing notebook."""
    import papermill

    target = output_notebook(paper, profile, parameters)
    target.parent.mkdir(parents=True, exist_ok=True)
    before = _results_state(paper)
    started = time.time()
    try:
        papermill.execute_notebook(
            str(config.PROJECT_ROOT / paper.notebook), str(target), parameters=dict(parameters),
            cwd=str(config.PROJECT_ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
        ended, error = "ok", ""
    except Exception as err:  # noqa: BLE001 - a failing paper is reported, the others still run
        ended, error = "failed", f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    if target.exists():
        project_relative_page(target, paper.notebook)
        tag_for_readers(target)
    written = sorted(p for p, mtime in _results_state(paper).items() if before.get(p) != mtime)
    return NotebookReport(paper.name, ended, time.time() - started, target, written, error)


def _machine_prefixes() -> dict[str, str]:
    """Absolute folders of this machine and what an executed page shows instead."""
    prefixes = {str(config.PROJECT_ROOT) + "/": "", str(config.data_root()): f"${config.DATA_ENV}",
                str(config.cache_dir()): f"${config.CACHE_ENV}"}
    return dict(sorted(prefixes.items(), key=lambda item: -len(item[0])))  # longest first


def scrub_machine_paths(text: str, prefixes: Mapping[str, str] | None = None) -> str:
    """``text`` with the project, data and cache folders written relative to the project or as
    the setting that names them (``$SERLIB_DATA``, ``$SERLIB_CACHE``)."""
    for prefix, shown in (prefixes or _machine_prefixes()).items():
        text = text.replace(prefix, shown)
    return text


def project_relative_page(notebook_path: Path, input_path: str | None = None) -> None:
    """Keep machine paths out of an executed page: papermill's recorded input and output paths
    and parameters, and every path printed in an output, become project-relative."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    prefixes = _machine_prefixes()
    recorded = notebook.metadata.get("papermill", {})
    if input_path is not None:
        recorded["input_path"] = input_path
    recorded["output_path"] = config.shown(notebook_path)
    for name, value in recorded.get("parameters", {}).items():
        if isinstance(value, str):
            recorded["parameters"][name] = scrub_machine_paths(value, prefixes)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = scrub_machine_paths(cell.source, prefixes)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = scrub_machine_paths(output["text"], prefixes)
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/") and isinstance(value, str):
                    output["data"][kind] = scrub_machine_paths(value, prefixes)
    nbformat.write(notebook, notebook_path)


#: Printed lines from which a page's cell output (a training log) scrolls in a short box.
LONG_OUTPUT_LINES = 20
#: Tags that already decide how a cell shows; :func:`tag_for_readers` leaves such a cell alone.
SHOWING_TAGS = ("remove-cell", "remove-input", "hide-input", "hide-cell")


#: Cells whose output is the notebook's parameters: they keep the text column's width.
PARAMETER_TAGS = ("parameters", "injected-parameters")


def reader_tags(cell) -> list[str]:
    """The Jupyter Book tags a page's code cell gets for a reader: its code folded behind a
    "show code" toggle (``hide-input``); its output as wide as the margin allows (``full-width``:
    the theme folds the page's contents box away while it shows, so a results table fits a
    1300 px window); and a printed output of more than :data:`LONG_OUTPUT_LINES` lines (a
    training log) in a scrolling box (``scroll-output``)."""
    tags = list(cell.metadata.get("tags", []))
    if cell.cell_type != "code":
        return tags
    if not any(tag in tags for tag in SHOWING_TAGS):
        tags.append("hide-input")
    if "full-width" not in tags and not any(tag in tags for tag in PARAMETER_TAGS):
        tags.append("full-width")
    printed = sum(str(output.get("text", "")).count("\n") for output in cell.get("outputs", []) if output.get("output_type") == "stream")
    if printed > LONG_OUTPUT_LINES and "scroll-output" not in tags:
        tags.append("scroll-output")
    return tags


def tag_for_readers(notebook_path: Path) -> None:
    """Set :func:`reader_tags` on every code cell of an executed page (``serlib reproduce`` does
    this to each page it writes, so no page is tagged by hand)."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.metadata["tags"] = reader_tags(cell)
    nbformat.write(notebook, notebook_path)


def summary_table(reports: Sequence[NotebookReport]) -> str:
    """Paper, how it ended, wall time and results files written, as a Markdown table."""
    lines = ["| paper | ended | wall time | results files written |", "|---|---|---|---|"]
    for report in reports:
        files = ", ".join(config.shown(p) for p in report.results) or "none"
        ended = report.ended if not report.error else f"{report.ended}: {report.error}"
        lines.append(f"| {report.paper} | {ended} | {report.seconds:.0f} s | {files} |")
    return "\n".join(lines)


def build_book(log: Callable[[str], None] = print) -> int:
    """``jupyter-book build`` of the checkout (warnings are errors); its exit code."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    log("building the book ...")
    return subprocess.run([str(jupyter_book), "build", str(config.PROJECT_ROOT), "--warningiserror", "--keep-going"],
                          cwd=config.PROJECT_ROOT).returncode


def train_grid_first(paper: Paper | Study, profile: str, parameters: Mapping[str, str], execution: jobs.Execution,
                     log: Callable[[str], None] = print) -> str:
    """Train ``paper``'s grid before its notebook, as :mod:`serlib.jobs` (``--executor dask``, or ``--force``);
    an error message naming the failed trainings, or "" when all are stored."""
    report = jobs.train_grid(paper.name, profile, parameters, execution, parameters.get("data_root"), parameters.get("cache"),
                             parameters.get("device", "auto"), log=lambda line: log(f"  {paper.name} grid {line}"))
    return "" if report.ok else f"{len(report.failed)} of {report.planned} trainings failed: {', '.join(sorted(report.failed))}"


def _grids(names: Sequence[str], every: bool, profile: str, device: str, data_root: str | None,
           extra: Mapping[str, str] | None) -> list[tuple[Paper | Study, ModuleType, list[jobs.JobSpec]]]:
    """Each chosen paper, its module and its grid's job specs under these parameters."""
    if profile not in ("smoke", "full"):
        raise ValueError(f"unknown profile {profile!r}; valid profiles: ['full', 'smoke']")
    papers = select_papers(names, every)
    parameters = parameters_for(papers, profile, device, extra or {})
    grids = []
    for paper in papers:
        chosen = parameters[paper.name]
        grids.append((paper, jobs.paper_module(paper.name),
                      jobs.plan(paper.name, profile, chosen, data_root or chosen.get("data_root"), chosen.get("cache"),
                                chosen.get("device", "auto"))))
    return grids


def show_plans(names: Sequence[str], every: bool, profile: str, device: str = "auto", data_root: str | None = None,
               extra: Mapping[str, str] | None = None, log: Callable[[str], None] = print) -> int:
    """``serlib reproduce --plan``: each chosen paper's grid under these parameters, with what the
    cache holds of it (stored, started, not begun) and the training time left; trains nothing."""
    for paper, module, specs in _grids(names, every, profile, device, data_root, extra):
        log(f"{paper.name} ({profile}):")
        for line in jobs.progress_lines(paper.name, jobs.grid_progress(specs), module.GRID_STAGES):
            log(f"  {line}")
    return 0


def export_outcomes(names: Sequence[str], every: bool, profile: str, folder: str | Path | None = None,
                    device: str = "auto", data_root: str | None = None, extra: Mapping[str, str] | None = None,
                    log: Callable[[str], None] = print) -> int:
    """``serlib outcomes export``: copy the stored outcomes of each chosen paper's grid (under
    these parameters) into ``folder`` (default ``outcomes/``), to commit or carry to another machine."""
    target = Path(folder) if folder is not None else jobs.OUTCOMES_DIR
    for paper, _, specs in _grids(names, every, profile, device, data_root, extra):
        copied, present = jobs.export_outcomes(specs, target)
        log(f"{paper.name}: {len(copied)} outcomes exported to {config.shown(target / paper.name)}, {len(present)} "
            f"there already, {len(specs) - len(copied) - len(present)} of the {len(specs)} planned not stored yet")
    return 0


def import_outcomes(names: Sequence[str] = (), folder: str | Path | None = None, cache: str | Path | None = None,
                    log: Callable[[str], None] = print) -> int:
    """``serlib outcomes import``: copy the exported outcomes the cache lacks into it."""
    source = Path(folder) if folder is not None else jobs.OUTCOMES_DIR
    copied, present = jobs.import_outcomes(source, cache, [get(name).name for name in names])
    log(f"{len(copied)} outcomes imported from {config.shown(source)} into {config.shown(config.cache_dir(cache))}, "
        f"{len(present)} there already")
    return 0


def reproduce(names: Sequence[str], every: bool, profile: str, device: str = "auto", data_root: str | None = None,
              extra: Mapping[str, str] | None = None, book: bool = True, log: Callable[[str], None] = print,
              execution: jobs.Execution = jobs.Execution()) -> int:
    """Run the chosen papers in turn (each one's training grid first where ``execution`` says so,
    only the grid where it says ``grid_only``), print the summary table, build the book; 0 if all
    succeeded."""
    if profile not in ("smoke", "full"):
        raise ValueError(f"unknown profile {profile!r}; valid profiles: ['full', 'smoke']")
    papers = select_papers(names, every)
    if execution.runs_grid:
        for paper in papers:
            jobs.paper_module(paper.name)  # an error now, before any paper runs, where one has no grid
    parameters = parameters_for(papers, profile, device, extra or {})
    if data_root:  # through the environment, so that no machine path is written into the executed notebooks
        folder = Path(data_root).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"--data-root {data_root}: no such folder")
        os.environ[config.DATA_ENV] = str(folder)
    reports = []
    for i, paper in enumerate(papers, start=1):
        target = "its grid only" if execution.grid_only else config.shown(output_notebook(paper, profile, parameters[paper.name]))
        log(f"[{i}/{len(papers)}] {paper.name} ({profile}) → {target} ...")
        started = time.time()
        grid_error = train_grid_first(paper, profile, parameters[paper.name], execution, log) if execution.runs_grid else ""
        if grid_error or execution.grid_only:
            # --grid-only: the notebook, its page and its results file are left as they were
            report = NotebookReport(paper.name, "failed" if grid_error else GRID_STORED, time.time() - started,
                                    output_notebook(paper, profile, parameters[paper.name]), error=grid_error)
        else:
            report = run_paper(paper, profile, parameters[paper.name])
            report.seconds = time.time() - started
        log(f"[{i}/{len(papers)}] {paper.name}: {report.ended} in {report.seconds:.0f} s" + (f" ({report.error})" if report.error else ""))
        reports.append(report)
    log(summary_table(reports))
    failed = [r.paper for r in reports if r.ended == "failed"]
    if book and not execution.grid_only and build_book(log) != 0:
        log("the book build failed")
        return 1
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    return 0
