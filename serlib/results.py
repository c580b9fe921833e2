"""Result files: ``results/<paper>/<corpus>-<profile>.json``, one per paper, corpus and profile.

Each file records what produced its numbers (paper, corpus, protocol, profile, device, seeds,
git commit, package versions, times, training time per table, the paper's cells not run) and
``rows``: one per table cell, with the paper's value beside ours, a 95 % CI and the row's own
provenance. Runs of a subset of a table merge into the file by cell (:meth:`ResultsFile.write`).
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import config, files, metrics
from serlib.training import Outcome

PACKAGES = ("serlib", "numpy", "scipy", "torch", "librosa", "soundfile", "scikit-learn", "pandas", "PyWavelets", "opensmile")


def _git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.PROJECT_ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "serlib"], cwd=config.PROJECT_ROOT, capture_output=True, text=True).stdout.strip()
        return commit + ("+dirty-serlib" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


#: The fields that name a cell: a new run's row replaces the stored row with the same values.
CELL_FIELDS = ("table", "row", "column", "metric", "level", "variant")
#: What one measurement of a system covers: a run that measures it replaces every stored row of it
#: (all its metrics and levels), so a row the code no longer writes does not outlive its measurement.
MEASUREMENT_FIELDS = ("table", "row", "column", "variant")
#: What a row measures (:class:`ResultRow` ``quantity``): one system's score, or a difference of two.
SCORE, DIFFERENCE = "score", "difference"
#: Between the two scores a difference row's ``row`` or ``column`` names ("A − B", :func:`difference_name`).
MINUS = " − "


def difference_name(first: str, second: str) -> str:
    """"``first`` − ``second``": the ``row`` (or ``column``) of a difference row."""
    return f"{first}{MINUS}{second}"


def operands(row: str, column: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The two (row, column) cells a difference row subtracts: "A − B" in its ``row`` (two rows of
    one column) or in its ``column`` (two columns of one row)."""
    if (row.count(MINUS), column.count(MINUS)) == (1, 0):
        first, _, second = row.partition(MINUS)
        return (first, column), (second, column)
    if (row.count(MINUS), column.count(MINUS)) == (0, 1):
        first, _, second = column.partition(MINUS)
        return (row, first), (row, second)
    raise ValueError(f"difference row {row!r} ({column!r}) must name \"A{MINUS}B\" exactly once, in its row or its column")


@dataclass
class ResultRow:
    """One table cell: the paper's number and ours (mean over seeds) with its CI.

    ``quantity`` is :data:`SCORE` (``row``'s ``metric``) or :data:`DIFFERENCE` (``row`` or
    ``column`` names "A − B", :func:`difference_name`, :func:`operands`: A's ``metric`` minus B's on
    the test items both scored, with a paired CI; ``paper_value`` is the paper's difference, on any corpus, since a page sets a
    difference beside the paper's even on a stand-in; a difference's ``std`` is None: its paired CI
    gives its spread). A score's ``std`` is its spread over ``seeds`` (:func:`spread`), None where
    a single seed or run measured none.
    ``ci_level`` is the CI's level: 0.95 unless a page judges several differences at once and
    corrects it. ``variant`` names a labelled sensitivity run (empty for the
    paper's protocol). The provenance
    fields (``git_commit``, ``device``, ``profile``, ``recorded``) are filled by :meth:`ResultsFile.add`, so
    that a results file merged from several runs says, per row, which run produced it.
    """

    table: str
    row: str
    column: str
    metric: str
    paper_value: float | None
    value: float
    ci_low: float
    ci_high: float
    std: float | None = None
    seeds: int = 1
    level: str = "window"
    variant: str = ""
    quantity: str = SCORE
    ci_level: float = 0.95
    git_commit: str = ""
    device: str = ""
    profile: str = ""
    recorded: str = ""

    def __post_init__(self) -> None:
        if self.quantity not in (SCORE, DIFFERENCE):
            raise ValueError(f"results row {self.table} {self.row}: quantity {self.quantity!r} is neither {SCORE!r} nor {DIFFERENCE!r}")
        if self.quantity == DIFFERENCE:
            operands(self.row, self.column)

    def cell(self) -> tuple:
        return tuple(getattr(self, name) for name in CELL_FIELDS)


@dataclass(frozen=True)
class Cell:
    """A table cell the paper prints that a run did not produce (listed as not run)."""

    table: str
    row: str
    column: str

    def __str__(self) -> str:
        return f"{self.table} {self.row} ({self.column})"


def spread(values: Sequence[float] | np.ndarray) -> float | None:
    """Population standard deviation of ``values`` (scores over seeds or runs); None for a single
    value, which measures no spread (0.0 would claim that seeds agree)."""
    return float(np.std(values)) if len(values) > 1 else None


def mean_and_spread(value: float, std: float | None) -> str:
    """``value`` in percent with ``± std`` where seeds or runs measured a spread ("42.0 ± 1.3";
    "42.0" for a single one)."""
    return f"{100 * value:.1f}" if std is None or pd.isna(std) else f"{100 * value:.1f} ± {100 * std:.1f}"


def summarise_seeds(
    outcomes: list[Outcome], level: str, metric: str, n_boot: int = 1000, clusters: np.ndarray | None = None
) -> dict[str, float]:
    """Mean and std over seeds of ``metric`` at ``level``, and the bootstrap CI of that mean.

    The bootstrap resamples test utterances, or ``clusters`` (one label per manifest row, e.g. the
    speaker) where a test set has few speakers: a cluster bootstrap keeps what one speaker's
    utterances share, which an utterance bootstrap wrongly treats as independent."""
    predictions = [o.levels[level] for o in outcomes]
    for seed, p in enumerate(predictions[1:], start=1):
        if not (np.array_equal(p.utterance, predictions[0].utterance) and np.array_equal(p.y_true, predictions[0].y_true)):
            raise ValueError(f"{level} predictions of outcome {seed} and outcome 0 are not of the same test items in "
                             "the same order; the seeds' CI pairs them item by item")
    scores = [p.score(metric) for p in predictions]
    groups = predictions[0].utterance if clusters is None else np.asarray(clusters)[predictions[0].utterance]
    low, high = metrics.bootstrap_ci(
        predictions[0].y_true, [p.y_pred for p in predictions], metrics.METRICS[metric],
        groups=groups, n_boot=n_boot,
    )
    return {"value": float(np.mean(scores)), "std": spread(scores), "ci_low": low, "ci_high": high, "seeds": len(scores)}


def summarise_splits(outcomes: list[Outcome], level: str, metric: str, n_boot: int = 1000) -> dict[str, float]:
    """Mean and std of ``metric`` over runs on **different** random splits (e.g. 10 × 75/25), with a
    t-interval for the mean; a single run falls back to :func:`summarise_seeds`' bootstrap CI."""
    if len(outcomes) == 1:
        return summarise_seeds(outcomes, level, metric, n_boot)
    from scipy import stats

    scores = np.array([o.levels[level].score(metric) for o in outcomes])
    half = stats.t.ppf(0.975, len(scores) - 1) * scores.std(ddof=1) / np.sqrt(len(scores))
    mean = float(scores.mean())
    return {"value": mean, "std": spread(scores), "ci_low": max(0.0, mean - half),
            "ci_high": min(1.0, mean + half), "seeds": len(scores)}


@dataclass
class ResultsFile:
    """Collects rows during a run and writes them into ``results/<paper>/<corpus>-<profile>.json``.

    Writing **merges by measurement** (:data:`MEASUREMENT_FIELDS`) into the file already there: a
    run of some systems replaces every row of theirs (all metrics and levels) and keeps every other
    row with its own provenance. A difference rests on two scores (:func:`operands`), each of its
    own variant where the file holds that cell in it, else of any variant (etransformer's inflation
    on IEMOCAP subtracts a labelled variant from the paper's protocol): a run that measures either
    drops the stored difference, so that no difference outlives a score it was drawn from (the run
    writes those it can draw again).
    ``training_seconds`` (per table) merge the same way; ``not_run`` lists the paper's cells that
    no row of the merged file holds. A file holds one protocol: a run whose ``protocol`` text
    differs replaces every earlier row, and the paper cells it does not measure become not run.
    """

    paper: str
    corpus: str
    protocol: str
    profile: str
    device: str
    seeds: list[int]
    notes: dict = field(default_factory=dict)
    rows: list[ResultRow] = field(default_factory=list)
    training_seconds: dict[str, float | None] = field(default_factory=dict)
    not_run: list[Cell] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    git_commit: str = field(default_factory=_git_commit)  # the code that ran: read at the start

    def add(self, row: ResultRow) -> None:
        """Add ``row``, stamped with this run's commit, device, profile and time."""
        self.rows.append(replace(row, git_commit=self.git_commit, device=self.device, profile=self.profile,
                                 recorded=_iso(time.time())))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rows])

    def path(self, folder: str | Path | None = None) -> Path:
        """``<results>/<paper>/<corpus>-<profile>.json``; a corpus given as a path is an error (a CSV
        corpus is named by its stem, :func:`serlib.papers.common.corpus_label`)."""
        if "/" in self.corpus or "\\" in self.corpus or self.corpus.endswith(".csv"):
            raise ValueError(f"results of {self.paper}: corpus {self.corpus!r} is a path; name it (a CSV by its stem)")
        return config.results_dir(folder) / self.paper / f"{self.corpus}-{self.profile}.json"

    def write(self, folder: str | Path | None = None) -> Path:
        """Merge this run into its results file (atomically) and return the file's path."""
        ended = time.time()
        path = self.path(folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        stored = upgrade_record(json.loads(path.read_text())) if path.exists() else {}
        mine = {tuple(getattr(r, k) for k in MEASUREMENT_FIELDS) for r in self.rows}
        scored = {tuple(r[k] for k in MEASUREMENT_FIELDS) for r in stored.get("rows", []) if r["quantity"] == SCORE} | {
            tuple(getattr(r, k) for k in MEASUREMENT_FIELDS) for r in self.rows if r.quantity == SCORE}

        def rewritten(table: str, cell: tuple[str, str], variant: str) -> bool:
            """Whether this run measures the score a stored difference took ``cell`` from."""
            if (table, *cell, variant) in scored:
                return (table, *cell, variant) in mine
            return any(key[:3] == (table, *cell) for key in mine)

        rows = [r for r in stored.get("rows", []) if tuple(r.get(k, "") for k in MEASUREMENT_FIELDS) not in mine
                and not (r["quantity"] == DIFFERENCE
                         and any(rewritten(r["table"], cell, r["variant"]) for cell in operands(r["row"], r["column"])))]
        if stored and stored.get("protocol") != self.protocol:
            stored = _superseded(path, stored, rows, self.protocol)
            rows = []
        rows += [asdict(r) for r in self.rows]
        held = {(r["table"], r["row"], r["column"]) for r in rows}
        not_run = {str(c): asdict(c) for c in [Cell(**c) for c in stored.get("not_run", [])] + self.not_run}
        record = {
            "paper": self.paper, "corpus": self.corpus, "protocol": self.protocol,
            "profile": self.profile, "device": self.device, "seeds": self.seeds,
            "git_commit": self.git_commit, "packages": _versions(),
            "started": _iso(self.started), "ended": _iso(ended),
            "wall_seconds": round(ended - self.started, 1),
            "training_seconds": {**stored.get("training_seconds", {}), **self.training_seconds},
            "not_run": [c for c in not_run.values() if (c["table"], c["row"], c["column"]) not in held],
            "notes": {**stored.get("notes", {}), **self.notes},
            "rows": rows,
        }
        files.write_text(path, json.dumps(record, indent=2) + "\n")
        return path


def _superseded(path: Path, stored: dict, kept: Sequence[dict], protocol: str) -> dict:
    """What of a results file measured under another protocol survives a run under ``protocol``:
    none of its rows, notes or training times (the file's protocol text would mislabel them), only
    its not-run cells and the paper-protocol cells of its scores, now not run; one warning names them."""
    cells = {(r["table"], r["row"], r["column"]) for r in kept
             if r["quantity"] == SCORE and r.get("paper_value") is not None and not r.get("variant")}
    if kept:
        commits = sorted({str(r.get("git_commit", ""))[:7] for r in kept})
        warnings.warn(f"{path}: {len(kept)} rows measured under another protocol (commit {', '.join(commits)}) are "
                      f"dropped, and their {len(cells)} paper cells listed as not run; the file's protocol was: "
                      f"{stored.get('protocol')!r}", stacklevel=3)
    not_run = [*stored.get("not_run", []), *({"table": t, "row": r, "column": c} for t, r, c in sorted(cells))]
    return {"not_run": not_run}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="seconds")


_NOT_RUN_TEXT = re.compile(r"^(?P<table>Table \d+) (?P<row>.+) \((?P<column>[^()]+)\)$")


def upgrade_record(record: dict) -> dict:
    """A results file in the current format. Files written before rows carried provenance get
    the file's commit, device, profile and end time on each row; their free-form
    ``notes["training_seconds <table>"]`` and ``notes["not_run"]`` become the named fields; the
    ``std`` of a row of one seed (0.0 in files written before :func:`spread`) becomes None."""
    record = dict(record)
    notes = dict(record.get("notes", {}))
    training = dict(record.get("training_seconds", {}))
    for key in [k for k in notes if k.startswith("training_seconds ")]:
        training[key.removeprefix("training_seconds ")] = notes.pop(key)
    not_run = list(record.get("not_run", []))
    for text in notes.pop("not_run", []):
        match = _NOT_RUN_TEXT.match(text)
        if match is None:
            raise ValueError(f"results file of {record.get('paper')}/{record.get('corpus')}: cannot read not_run entry {text!r}")
        not_run.append(match.groupdict())
    defaults = {"variant": "", "quantity": SCORE, "ci_level": 0.95, "git_commit": record.get("git_commit", ""), "device": record.get("device", ""),
                "profile": record.get("profile", ""), "recorded": record.get("ended", "")}
    record["rows"] = [{**defaults, **row, **({"std": None} if row.get("seeds") == 1 else {})} for row in record.get("rows", [])]
    record.update(notes=notes, training_seconds=training, not_run=not_run)
    return record


def total_training_seconds(per_table: Mapping[str, float | None]) -> float | None:
    """A results file's training time: the sum of its tables' recorded times (None: none recorded)."""
    recorded = [seconds for seconds in per_table.values() if seconds is not None]
    return sum(recorded) if recorded else None


def load_results(folder: str | Path | None = None) -> pd.DataFrame:
    """Every row of every results file under ``folder``, with the file's paper, corpus, protocol
    and wall time, its total training time and its not-run cells (a tuple of :class:`Cell`)."""
    frames = []
    for path in sorted(config.results_dir(folder).glob("*/*.json")):
        record = upgrade_record(json.loads(path.read_text()))
        rows = pd.DataFrame(record["rows"])
        for key in ("paper", "corpus", "protocol", "wall_seconds"):
            rows[key] = record[key]
        rows["training_seconds"] = total_training_seconds(record["training_seconds"])
        rows["not_run"] = [tuple(Cell(**c) for c in record["not_run"])] * len(rows)
        frames.append(rows)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def scores(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that score one system (:data:`SCORE`; rows without ``quantity`` predate differences)."""
    return rows[rows["quantity"].fillna(SCORE) == SCORE] if "quantity" in rows else rows


def differences(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that hold a difference of two systems (:data:`DIFFERENCE`)."""
    return rows[rows["quantity"] == DIFFERENCE] if "quantity" in rows else rows.iloc[:0]


def ours_by_column(record: ResultsFile, order: Sequence[str]) -> pd.DataFrame:
    """Our value with its 95 % CI (%) per row (systems, in ``order``) and (column, metric)."""
    rows = scores(record.table())
    rows["ours"] = [f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]" for v, lo, hi in zip(rows["value"], rows["ci_low"], rows["ci_high"])]
    table = rows.pivot(index="row", columns=["column", "metric"], values="ours")
    return table.reindex([name for name in order if name in table.index])


def comparison_table(rows: pd.DataFrame, table: str | None = None) -> pd.DataFrame:
    """Ours beside the paper, one line per cell, values in percent, laid out to fit a page: what
    the cell is (row, column, metric), then ``ours`` (the mean ± std over seeds; the value alone
    for a single run, whose spread the CI gives), its ``95% CI``, the ``gap`` (ours − paper, points),
    the ``paper``'s value and whether it lies in our CI. Columns that are the same on every line
    (the table, the level, the seeds) are left out and named in ``attrs["caption"]``, which a
    page's tables show (:func:`serlib.plots.readable_tables`). Rows of
    labelled variants get a ``variant`` column. Only scores (:func:`scores`): a difference's CI may
    be corrected, and its page shows it."""
    rows = scores(rows)
    if table is not None:
        rows = rows[rows["table"] == table]

    def pct(x: float | None) -> str:
        return "–" if x is None or pd.isna(x) else f"{100 * x:.1f}"

    has_paper = rows["paper_value"].notna()
    shown = pd.DataFrame({
        "table": rows["table"], "row": rows["row"], "column": rows["column"], "metric": rows["metric"],
        "ours": [mean_and_spread(v, s) for v, s in zip(rows["value"], rows["std"])],
        "95% CI": [f"[{pct(lo)}, {pct(hi)}]" for lo, hi in zip(rows["ci_low"], rows["ci_high"])],
        "gap": [f"{100 * (v - p):+.1f}" if has else "–" for v, p, has in zip(rows["value"], rows["paper_value"], has_paper)],
        "paper": [pct(v) for v in rows["paper_value"]],
        "paper in CI": ["yes" if has and lo <= p <= hi else ("no" if has else "–")
                        for p, lo, hi, has in zip(rows["paper_value"], rows["ci_low"], rows["ci_high"], has_paper)],
        "level": rows["level"], "seeds": rows["seeds"],
    }).reset_index(drop=True)
    if "variant" in rows and (rows["variant"].fillna("") != "").any():
        shown.insert(1, "variant", rows["variant"].fillna("").replace("", "paper's protocol").to_numpy())
    constant = [name for name in ("table", "level", "seeds") if len(shown) > 1 and shown[name].nunique() == 1]
    shown.attrs["caption"] = " · ".join(f"{name}: {shown[name].iloc[0]}" for name in constant)  # shown by the page
    return shown.drop(columns=constant)


#: A headline cell lies "close" to the paper within this many points (percent).
CLOSE_POINTS = 3.0


def headline_cells(rows: pd.DataFrame, stand_ins: dict[str, str] | None = None) -> pd.DataFrame:
    """The rows that measure the paper's own claims: a score (:func:`scores`) with a paper value, not a confusion-matrix cell,
    not a labelled variant, not a stand-in corpus (``stand_ins``: paper → its stand-in corpus).
    A measurement the paper prints in two tables (rnn's LSTM rows of Tables 3 and 4: the same
    number, one training) counts once, under its first table: rows with the same row, column,
    metric, level, paper value, value and CI are one cell."""
    rows = scores(rows)
    if not len(rows):
        return rows
    stand_ins = stand_ins or {}
    on_stand_in = [stand_ins.get(paper) == corpus for paper, corpus in zip(rows["paper"], rows["corpus"])]
    keep = rows["paper_value"].notna() & (rows["metric"] != "confusion") & (rows["variant"].fillna("") == "") & ~pd.Series(on_stand_in, index=rows.index)
    same = [name for name in ("paper", "corpus", "row", "column", "metric", "level", "paper_value", "value", "ci_low", "ci_high")
            if name in rows]
    kept = rows[keep]
    if "table" in kept:
        kept = kept.sort_values("table", kind="stable")
    cells = kept.drop_duplicates(same).copy()
    cells["gap"] = 100 * (cells["value"] - cells["paper_value"])
    cells["close"] = cells["gap"].abs() <= CLOSE_POINTS
    cells["paper_in_ci"] = (cells["ci_low"] <= cells["paper_value"]) & (cells["paper_value"] <= cells["ci_high"])
    return cells


#: The three disjoint classes of a headline cell: within :data:`CLOSE_POINTS` of the paper;
#: further, but with the paper's value inside our 95 % CI (consistent, and inconclusive: a wide
#: CI holds many values); neither (not reproduced).
CELL_CLASSES = (f"within {CLOSE_POINTS:g} points", "consistent but inconclusive", "not reproduced")


def cell_classes(cells: pd.DataFrame) -> pd.Series:
    """:data:`CELL_CLASSES` of each headline cell (:func:`headline_cells`); none for none."""
    if not len(cells):
        return pd.Series(dtype=object)
    return pd.Series([CELL_CLASSES[0] if close else CELL_CLASSES[1] if inside else CELL_CLASSES[2]
                      for close, inside in zip(cells["close"].astype(bool), cells["paper_in_ci"].astype(bool))],
                     index=cells.index, dtype=object)


def class_counts(classes: pd.Series | Mapping[str, int], bold: bool = False) -> str:
    """"3 within 3 points, 6 consistent but inconclusive, 1 not reproduced": how many headline cells
    fall in each of :data:`CELL_CLASSES`, from :func:`cell_classes` or a count per class."""
    counts = classes.value_counts() if isinstance(classes, pd.Series) else classes
    mark = "**" if bold else ""
    return ", ".join(f"{mark}{int(counts.get(name, 0))} {name}{mark}" for name in CELL_CLASSES)


def scoreboard(rows: pd.DataFrame, stand_ins: dict[str, str] | None = None) -> pd.DataFrame:
    """Per paper and corpus: headline cells, how many fall in each of the disjoint
    :data:`CELL_CLASSES`, and how many of the paper's cells were not run."""
    cells = headline_cells(rows, stand_ins)
    classes = cell_classes(cells) if len(cells) else pd.Series(dtype=object)
    board = []
    for (paper, corpus), group in rows.groupby(["paper", "corpus"], sort=False):
        chosen = classes[(cells["paper"] == paper) & (cells["corpus"] == corpus)] if len(cells) else classes
        not_run = group["not_run"].iloc[0] if "not_run" in group else ()
        board.append({"paper": paper, "corpus": corpus, "headline cells": len(chosen),
                      **{name: int((chosen == name).sum()) for name in CELL_CLASSES}, "not run": len(not_run)})
    return pd.DataFrame(board)
