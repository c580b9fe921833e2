"""``serlib pages``: regenerate the book's committed pages from the committed trainings.

Each executed page (``book/papers/<paper>.ipynb``, a study's ``book/<study>.ipynb``) records the parameters it ran with (papermill's
metadata). ``serlib pages`` copies the committed outcomes (``outcomes/``) into the cache, plans each
page's grid under its recorded parameters, and, only when every training is stored, executes the
notebooks again with those parameters and builds the book: no training runs. ``--plan`` stops
after the count. A page whose grid lacks trainings is named with how many, and nothing runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat

from serlib import config, jobs, reproduce
from serlib.papers import PAPERS, STUDIES, Paper, Study


def committed_pages(names: Sequence[str] = ()) -> list[Paper | Study]:
    """The papers and studies (all, or those named) whose executed page is committed in ``book/``."""
    chosen = [p for p in (*PAPERS, *STUDIES) if p.reproduced and (config.PROJECT_ROOT / p.page).exists()]
    unknown = sorted(set(names) - {p.name for p in chosen})
    if unknown:
        raise ValueError(f"no committed page for {unknown}; committed pages: {[p.name for p in chosen]}")
    return [p for p in chosen if not names or p.name in names]


def recorded_parameters(paper: Paper | Study) -> dict[str, str]:
    """The papermill parameters the committed page of ``paper`` ran with (profile and device included)."""
    page = config.PROJECT_ROOT / paper.page
    recorded = nbformat.read(page, as_version=4).metadata.get("papermill", {}).get("parameters")
    if not recorded or "profile" not in recorded:
        raise ValueError(f"{config.shown(page)}: records no papermill parameters (execute it with serlib reproduce)")
    return {name: str(value) for name, value in recorded.items()}


def missing_trainings(paper: Paper | Study, parameters: dict[str, str], data_root: str | Path | None = None) -> tuple[int, list[str]]:
    """(trainings planned, names of those not stored) for ``paper``'s grid under ``parameters``;
    a staged grid is planned again until its later stages appear or a training is missing."""
    module = jobs.paper_module(paper.name)
    for _ in range(module.GRID_STAGES):  # each plan builds the grid anew from the outcomes stored
        specs = jobs.plan(paper.name, parameters["profile"], parameters, data_root, None, parameters.get("device", "auto"))
        missing = [spec.name for spec in specs if not jobs.is_done(spec)]
        if missing:
            break
    return len(specs), missing


def regenerate(names: Sequence[str] = (), plan_only: bool = False, book: bool = True, data_root: str | None = None,
               log: Callable[[str], None] = print) -> int:
    """Import the committed outcomes, check that every training of every chosen page is stored,
    then (unless ``plan_only``) execute each page again with its recorded parameters and build the
    book; 1 where a training is missing (nothing runs then) or a page fails."""
    if data_root:  # through the environment, as serlib reproduce does: no machine path enters a page
        os.environ[config.DATA_ENV] = str(Path(data_root).expanduser().resolve())
    copied, present = jobs.import_outcomes()
    log(f"{len(copied)} committed outcomes imported into {config.shown(config.cache_dir())}, {len(present)} there already")
    pages = committed_pages(names)
    chosen = {paper.name: recorded_parameters(paper) for paper in pages}
    lacking = {}
    for paper in pages:
        planned, missing = missing_trainings(paper, chosen[paper.name], data_root)
        log(f"{paper.name}: {planned} trainings under the page's parameters "
            f"({', '.join(f'{k}={v}' for k, v in chosen[paper.name].items())}): {planned - len(missing)} stored, "
            f"{len(missing)} to train" + (" (nothing to train: the page regenerates from stored outcomes)" if not missing else ""))
        if missing:
            lacking[paper.name] = missing
    if plan_only:
        return 0
    if lacking:
        log("serlib pages trains nothing; train the missing trainings first with serlib reproduce PAPER --profile full "
            "and the page's parameters: " + "; ".join(f"{name}: {len(m)}" for name, m in lacking.items()))
        return 1
    reports = [reproduce.run_paper(paper, chosen[paper.name]["profile"], chosen[paper.name]) for paper in pages]
    log(reproduce.summary_table(reports))
    if book and reproduce.build_book(log) != 0:
        return 1
    return 0 if all(report.ended == "ok" for report in reports) else 1
