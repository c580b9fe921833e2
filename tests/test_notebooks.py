"""The paper notebooks executed for real in the smoke profile (nbval runs them a second time)."""

import json
import time
from pathlib import Path

import papermill
import pytest

PROJECT = Path(__file__).resolve().parent.parent
SMOKE_BUDGET_S = 180


def run_smoke(name: str, tmp_path: Path, corpora_root: Path) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with its default (smoke) parameters; returns its results folder."""
    started = time.time()
    papermill.execute_notebook(
        PROJECT / "notebooks" / f"{name}.ipynb", tmp_path / f"{name}.ipynb",
        parameters={"data_root": str(corpora_root), "results_dir": str(tmp_path / "results")},
        cwd=str(PROJECT / "notebooks"), kernel_name="python3", progress_bar=False,
    )
    elapsed = time.time() - started
    assert elapsed < SMOKE_BUDGET_S, f"{name} smoke profile took {elapsed:.0f} s (budget {SMOKE_BUDGET_S} s)"
    return tmp_path / "results" / name


@pytest.mark.slow
def test_rnn_notebook_smoke(tmp_path, corpora_root):
    record = json.loads((run_smoke("rnn", tmp_path, corpora_root) / "emodb-smoke.json").read_text())
    assert record["profile"] == "smoke" and record["corpus"] == "emodb" and record["seeds"] == [0]
    compared = [r for r in record["rows"] if r["paper_value"] is not None]
    assert len(compared) == 12
    assert {(r["table"], r["row"], r["column"]) for r in compared} >= {("Table 3", "MSPEC +Δ+ΔΔ", "LSTM"), ("Table 4", "MFCC +Δ+ΔΔ", "Vanilla")}
    assert all(0.0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 1.0 for r in record["rows"])


@pytest.mark.slow
def test_scalogram_notebook_smoke(tmp_path, corpora_root):
    folder = run_smoke("scalogram", tmp_path, corpora_root)
    for corpus, table in (("savee", "Table 1"), ("emodb", "Table 2"), ("ravdess", "Table 3")):
        record = json.loads((folder / f"{corpus}-smoke.json").read_text())
        assert record["profile"] == "smoke" and record["paper"] == "scalogram"
        uar = {(r["column"], r["level"]) for r in record["rows"] if r["table"] == "Table 4"}
        assert uar == {(p, l) for p in ("speaker-dependent", "speaker-independent") for l in ("window", "utterance")}
        confusion = [r for r in record["rows"] if r["table"] == table]
        assert len(confusion) == 16
        for true in {r["row"] for r in confusion}:
            assert sum(r["value"] for r in confusion if r["row"] == true) == pytest.approx(1.0)
