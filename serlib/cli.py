"""``serlib`` command line.

``serlib corpus NAME --root DIR [--json]``: summarise a corpus.
``serlib reproduce [PAPER ...] [--all] --profile {smoke,full} [--device D] [--data-root DIR]
[-p NAME VALUE ...] [--no-book] [--plan] [--executor {local,dask} ...]``: run papers' notebooks, their
training grids first on a Dask cluster with ``--executor dask`` (see :mod:`serlib.reproduce`, :mod:`serlib.jobs`).
``serlib outcomes export PAPER --profile P [-p NAME VALUE ...] [--to DIR]`` and ``serlib outcomes import
[PAPER ...] [--from DIR]``: carry a grid's finished trainings to another machine or session (default ``outcomes/``).
``serlib pages [PAPER ...] [--plan] [--no-book]``: regenerate the committed pages from ``outcomes/`` (:mod:`serlib.pages`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from serlib import config, corpora


def _corpus(args: argparse.Namespace) -> int:
    manifest = corpora.load_manifest(args.name, args.root, download=not args.no_download)
    info = corpora.summary(manifest)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{args.name}: {info['utterances']} utterances, {info['speakers']} speakers, {info['hours']:.2f} h")
    for emotion, count in info["emotions"].items():
        print(f"  {emotion:<10} {count}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from serlib.jobs import Execution
    from serlib.reproduce import reproduce, show_plans

    extra = dict(args.parameter or [])
    if args.plan:
        return show_plans(args.papers, args.all, args.profile, args.device, args.data_root, extra)
    from serlib import config

    export_to = None if args.export is None else str(Path(args.export).resolve() if args.export else config.OUTCOMES_DIR)
    execution = Execution(args.executor, args.workers, args.scheduler_address, args.scheduler_file,
                          args.cluster_profile, args.retries, args.force, export_to, args.grid_only)
    return reproduce(args.papers, args.all, args.profile, args.device, args.data_root, extra, book=not args.no_book,
                     log=lambda line: print(line, flush=True), execution=execution)


def _outcomes(args: argparse.Namespace) -> int:
    from serlib.reproduce import export_outcomes, import_outcomes

    if args.action == "import":
        return import_outcomes(args.papers, args.folder, log=lambda line: print(line, flush=True))
    return export_outcomes(args.papers, args.all, args.profile, args.folder, args.device, args.data_root,
                           dict(args.parameter or []), log=lambda line: print(line, flush=True))


def _pages(args: argparse.Namespace) -> int:
    from serlib.pages import regenerate

    return regenerate(args.papers, args.plan, not args.no_book, args.data_root, log=lambda line: print(line, flush=True))


def _status(args: argparse.Namespace) -> int:
    from serlib import status

    if args.write:
        changed = status.write_status_page()
        print(f"{config.shown(status.STATUS_PAGE)} {'written' if changed else 'unchanged'}")
    else:
        print(status.status_page())
    return 0


def main(argv: list[str] | None = None) -> int:
    from serlib.papers import PAPERS, STUDIES

    parser = argparse.ArgumentParser(prog="serlib", description="Reproducible speech emotion recognition.")
    commands = parser.add_subparsers(dest="command", required=True)
    corpus = commands.add_parser("corpus", help="summarise a corpus (utterances, speakers, emotions, hours)")
    corpus.add_argument("name", help=f"one of {sorted(corpora.PARSERS)} or a CSV manifest path")
    corpus.add_argument("--root", help="the corpus folder (default: <data root>/<name>)")
    corpus.add_argument("--json", action="store_true", help="print JSON")
    corpus.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing corpus")
    corpus.set_defaults(run=_corpus)
    reproduced = [p.name for p in PAPERS if p.reproduced] + [s.name for s in STUDIES]
    repro = commands.add_parser(
        "reproduce", help="run papers' notebooks (full profile: into their pages under book/) and build the book",
        description="Run each paper's notebook under papermill, one after another; a failing paper does not stop the "
                    "others. Rerunning resumes from cached features, checkpoints and finished trainings.")
    repro.add_argument("papers", nargs="*", metavar="PAPER", help=f"papers to run: {reproduced}")
    repro.add_argument("--all", action="store_true", help="every reproduced paper")
    repro.add_argument("--profile", required=True, choices=["smoke", "full"],
                       help="full: the paper's protocol, written into its page under book/; smoke: a quick check, into _build/reproduce/")
    repro.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    repro.add_argument("--data-root", help="folder holding one sub-folder per corpus (default: $SERLIB_DATA)")
    repro.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                       help="a notebook parameter, e.g. -p corpus my_corpus.csv or -p epochs 2 (repeatable)")
    repro.add_argument("--no-book", action="store_true", help="do not build the book afterwards")
    repro.add_argument("--plan", action="store_true",
                       help="print each paper's training grid and what the cache holds of it (stored, started, "
                            "not begun, time left); train nothing")
    grid = repro.add_argument_group(
        "where the trainings run", "With --executor dask, each paper's training grid runs on a Dask cluster first "
        "(one job per training, outcomes stored in the cache), then its notebook reads the outcomes.")
    grid.add_argument("--executor", choices=["local", "dask"], default="local",
                      help="local (default): the notebook trains one model after another; dask: the grid runs on a cluster")
    grid.add_argument("--workers", type=int, help="dask LocalCluster workers, one thread each (default: every core)")
    grid.add_argument("--scheduler-address", help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    grid.add_argument("--scheduler-file", help="the scheduler file of a running Dask scheduler")
    grid.add_argument("--cluster-profile", help="YAML: start workers as SLURM or PBS jobs (see README, Run on a cluster)")
    grid.add_argument("--retries", type=int, default=1, help="times a failed training is tried again (default 1)")
    grid.add_argument("--force", action="store_true", help="clear the stored outcomes and checkpoints of the grid first")
    grid.add_argument("--export", nargs="?", const="", metavar="DIR",
                      help="run the grid first and export each training's outcome into DIR (default: outcomes/ in the "
                           "checkout) as soon as it finishes, to commit while a long grid runs")
    grid.add_argument("--grid-only", action="store_true",
                      help="run the grid and stop: the notebook does not run, so a part of a grid (e.g. -p test_folds 3) "
                           "leaves the page and its results file as they are; regenerate them on every stored part later")
    repro.set_defaults(run=_reproduce)
    outcomes = commands.add_parser(
        "outcomes", help="carry a grid's finished trainings to another machine or session",
        description="export: copy the stored outcomes of each paper's grid (the same --profile and -p as reproduce) "
                    "into a folder, to commit or copy; import: copy a folder's outcomes the cache lacks into the cache, "
                    "so that reproduce trains only what is left. Checkpoints stay behind.")
    outcome_actions = outcomes.add_subparsers(dest="action", required=True)
    export = outcome_actions.add_parser("export", help="copy a grid's stored outcomes into a folder")
    export.add_argument("papers", nargs="*", metavar="PAPER", help=f"papers whose grid to export: {reproduced}")
    export.add_argument("--all", action="store_true", help="every reproduced paper")
    export.add_argument("--profile", required=True, choices=["smoke", "full"])
    export.add_argument("--device", default="auto", help="the device the grid was planned for (as for reproduce)")
    export.add_argument("--data-root", help="folder holding one sub-folder per corpus (default: $SERLIB_DATA)")
    export.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="a notebook parameter, as given to reproduce (repeatable)")
    export.add_argument("--to", dest="folder", help="the folder (default: outcomes/ in the checkout)")
    imported = outcome_actions.add_parser("import", help="copy exported outcomes into the cache")
    imported.add_argument("papers", nargs="*", metavar="PAPER", help="only these papers' outcomes (default: all)")
    imported.add_argument("--from", dest="folder", help="the folder (default: outcomes/ in the checkout)")
    outcomes.set_defaults(run=_outcomes)
    pages = commands.add_parser(
        "pages", help="regenerate the committed pages (papers and studies) from the committed trainings (outcomes/), training nothing",
        description="Import outcomes/, check that every training of each committed page (under the parameters the page "
                    "recorded) is stored, then execute the pages again and build the book.")
    pages.add_argument("papers", nargs="*", metavar="PAPER", help="only these pages (default: every committed page)")
    pages.add_argument("--plan", action="store_true", help="only say how many trainings each page has stored and lacks")
    pages.add_argument("--no-book", action="store_true", help="do not build the book afterwards")
    pages.add_argument("--data-root", help="folder holding one sub-folder per corpus (default: $SERLIB_DATA)")
    pages.set_defaults(run=_pages)
    status = commands.add_parser(
        "status", help="print what each paper's page reproduces, from the results files and the committed pages",
        description="The book's status table (book/status.md, included by the intro), generated from results/ and book/papers/.")
    status.add_argument("--write", action="store_true", help="write book/status.md (make book does this before building)")
    status.set_defaults(run=_status)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (corpora.CorpusError, ValueError) as err:
        print(f"serlib: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
