"""One-time re-key of the committed outcomes (``outcomes/<paper>/``) to the identity rule of
:mod:`serlib.identity`, so that no committed training is lost when the rule changes.

For each committed outcome (its ``key.json`` holds the training's key), the paper's grid under the
parameters its executed page recorded is planned with the new rule; the training with the same key
takes the outcome, after a check that each part of its split holds as many utterances as the old
key recorded. A staged grid (capsule: the learning rate chosen on stored candidates decides the
table trainings) is planned again until no further committed outcome is matched. Every committed
outcome must find its training, and no two the same one; then ``outcomes/<paper>/`` is rewritten.

    python tools/rekey_outcomes.py capsule [--data-root ../shared/corpora]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import nbformat

from serlib import config, jobs

PROJECT = config.PROJECT_ROOT


def page_parameters(paper: str) -> tuple[str, dict[str, str], str]:
    """(profile, parameters, device) recorded by papermill in the executed page."""
    recorded = nbformat.read(PROJECT / "book" / "papers" / f"{paper}.ipynb", as_version=4).metadata["papermill"]["parameters"]
    parameters = dict(recorded)
    return parameters.pop("profile"), parameters, parameters.pop("device", "auto")


def _key_text(key: dict) -> str:
    return json.dumps(key, sort_keys=True)


def rekey(paper: str, data_root: str | None) -> None:
    source = jobs.OUTCOMES_DIR / paper
    committed: dict[str, Path] = {}
    for path in sorted(source.glob("*/key.json")):
        text = _key_text(json.loads(path.read_text())["key"])
        if text in committed:
            raise SystemExit(f"{path.parent.name} and {committed[text].name} share a key: cannot re-key by key")
        committed[text] = path.parent
    profile, parameters, device = page_parameters(paper)
    with tempfile.TemporaryDirectory() as cache:
        matched: dict[str, Path] = {}
        while True:
            grid = jobs.GridCache().grid(paper, profile, tuple(sorted(jobs.settings_overrides(jobs.paper_module(paper), parameters).items())),
                              str(config.data_root(data_root)), cache, device)
            new = 0
            for digest, training in grid.items():
                text = _key_text(asdict(training.key))
                if text not in committed or text in matched:
                    continue
                old = json.loads((committed[text] / jobs.KEY_FILE).read_text())
                counts = {part: len(rows) for part, rows in old["split"].items()}
                now = {part: entry["count"] for part, entry in training.identity["split"].items()}
                if counts != now:
                    raise SystemExit(f"{committed[text].name}: its split had {counts} utterances, the new rule's {now}")
                folder = training.folder(cache)
                folder.mkdir(parents=True)
                (folder / jobs.KEY_FILE).write_text(json.dumps({"key": asdict(training.key), **training.identity}, indent=1,
                                                               default=str))
                shutil.copyfile(committed[text] / jobs.OUTCOME_FILE, folder / jobs.OUTCOME_FILE)
                matched[text] = folder
                new += 1
            print(f"{paper}: planned {len(grid)}, matched {new} more ({len(matched)} of {len(committed)})")
            if not new:
                break
        left = sorted(committed[text].name for text in set(committed) - set(matched))
        if left:
            raise SystemExit(f"{len(left)} committed outcomes found no training under the new rule: {left}")
        shutil.rmtree(source)
        for folder in matched.values():
            shutil.copytree(folder, source / folder.name)
    print(f"{paper}: {len(matched)} outcomes re-keyed in {config.shown(source)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("papers", nargs="+")
    parser.add_argument("--data-root")
    args = parser.parse_args(argv)
    for paper in args.papers:
        rekey(paper, args.data_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
