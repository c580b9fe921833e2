"""Result files: ``results/<paper>/<corpus>-<profile>.json``, one per notebook run.

Each file records what produced its numbers (paper, corpus, protocol, profile, device, seeds,
git commit, package versions, times) and ``rows``: one per table cell, with the paper's value
beside ours and a bootstrap 95 % CI.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import config, metrics
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


@dataclass
class ResultRow:
    """One table cell: the paper's number and ours (mean over seeds) with its CI."""

    table: str
    row: str
    column: str
    metric: str
    paper_value: float | None
    value: float
    ci_low: float
    ci_high: float
    std: float = 0.0
    seeds: int = 1
    level: str = "window"


def summarise_seeds(
    outcomes: list[Outcome], level: str, metric: str, n_boot: int = 1000
) -> dict[str, float]:
    """Mean and std over seeds of ``metric`` at ``level``, and the bootstrap CI of that mean."""
    predictions = [o.levels[level] for o in outcomes]
    scores = [p.score(metric) for p in predictions]
    low, high = metrics.bootstrap_ci(
        predictions[0].y_true, [p.y_pred for p in predictions], metrics.METRICS[metric],
        groups=predictions[0].utterance, n_boot=n_boot,
    )
    return {"value": float(np.mean(scores)), "std": float(np.std(scores)), "ci_low": low, "ci_high": high, "seeds": len(scores)}


def summarise_runs(outcomes: list[Outcome], level: str, metric: str, n_boot: int = 1000) -> dict[str, float]:
    """Mean and std of ``metric`` over runs on **different** random splits (e.g. 10 × 75/25), with a
    t-interval for the mean; a single run falls back to :func:`summarise_seeds`' bootstrap CI."""
    if len(outcomes) == 1:
        return summarise_seeds(outcomes, level, metric, n_boot)
    from scipy import stats

    scores = np.array([o.levels[level].score(metric) for o in outcomes])
    half = stats.t.ppf(0.975, len(scores) - 1) * scores.std(ddof=1) / np.sqrt(len(scores))
    mean = float(scores.mean())
    return {"value": mean, "std": float(scores.std()), "ci_low": max(0.0, mean - half),
            "ci_high": min(1.0, mean + half), "seeds": len(scores)}


@dataclass
class Run:
    """Collects rows during a notebook run and writes the results file at the end."""

    paper: str
    corpus: str
    protocol: str
    profile: str
    device: str
    seeds: list[int]
    notes: dict = field(default_factory=dict)
    rows: list[ResultRow] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    git_commit: str = field(default_factory=_git_commit)  # the code that ran: read at the start

    def add(self, row: ResultRow) -> None:
        self.rows.append(row)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rows])

    def write(self, folder: str | Path | None = None) -> Path:
        ended = time.time()
        path = config.results_dir(folder) / self.paper / f"{self.corpus}-{self.profile}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "paper": self.paper, "corpus": self.corpus, "protocol": self.protocol,
            "profile": self.profile, "device": self.device, "seeds": self.seeds,
            "git_commit": self.git_commit, "packages": _versions(),
            "started": _iso(self.started), "ended": _iso(ended),
            "wall_seconds": round(ended - self.started, 1), "notes": self.notes,
            "rows": [asdict(r) for r in self.rows],
        }
        path.write_text(json.dumps(record, indent=2) + "\n")
        return path


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="seconds")


def load_results(folder: str | Path | None = None) -> pd.DataFrame:
    """Every row of every results file under ``folder``, with the file's provenance columns."""
    frames = []
    for path in sorted(config.results_dir(folder).glob("*/*.json")):
        record = json.loads(path.read_text())
        rows = pd.DataFrame(record["rows"])
        for key in ("paper", "corpus", "protocol", "profile", "device", "wall_seconds"):
            rows[key] = record[key]
        trained = [v for k, v in record.get("notes", {}).items() if k.startswith("training_seconds") and v is not None]
        rows["training_seconds"] = sum(trained) if trained else None
        rows["not_run"] = "; ".join(record.get("notes", {}).get("not_run", []))
        frames.append(rows)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def comparison_table(rows: pd.DataFrame, table: str | None = None) -> pd.DataFrame:
    """Paper vs ours, one line per cell, values in percent: ``ours`` is mean ± std over seeds."""
    if table is not None:
        rows = rows[rows["table"] == table]
    def pct(x: float | None) -> str:
        return "–" if x is None or pd.isna(x) else f"{100 * x:.1f}"
    return pd.DataFrame({
        "table": rows["table"], "row": rows["row"], "column": rows["column"],
        "metric": rows["metric"], "level": rows["level"],
        "paper": [pct(v) for v in rows["paper_value"]],
        "ours": [f"{pct(v)} ± {pct(s)}" for v, s in zip(rows["value"], rows["std"])],
        "95% CI": [f"[{pct(lo)}, {pct(hi)}]" for lo, hi in zip(rows["ci_low"], rows["ci_high"])],
        "seeds": rows["seeds"],
    }).reset_index(drop=True)
