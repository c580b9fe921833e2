"""The paper notebooks executed for real in the smoke profile (nbval runs them a second time)."""

import json
import time
from pathlib import Path

import papermill
import pytest

PROJECT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_rnn_notebook_smoke(tmp_path, corpora_root):
    started = time.time()
    papermill.execute_notebook(
        PROJECT / "notebooks" / "rnn.ipynb", tmp_path / "rnn.ipynb",
        parameters={"data_root": str(corpora_root), "results_dir": str(tmp_path / "results")},
        cwd=str(PROJECT / "notebooks"), kernel_name="python3", progress_bar=False,
    )
    elapsed = time.time() - started
    record = json.loads((tmp_path / "results" / "rnn" / "emodb-smoke.json").read_text())
    assert record["profile"] == "smoke" and record["corpus"] == "emodb" and record["seeds"] == [0]
    compared = [r for r in record["rows"] if r["paper_value"] is not None]
    assert len(compared) == 12
    assert {(r["table"], r["row"], r["column"]) for r in compared} >= {("Table 3", "MSPEC +Δ+ΔΔ", "LSTM"), ("Table 4", "MFCC +Δ+ΔΔ", "Vanilla")}
    assert all(0.0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 1.0 for r in record["rows"])
    assert elapsed < 180, f"smoke profile took {elapsed:.0f} s (budget 180 s)"


@pytest.mark.slow
def test_scalogram_notebook_smoke(tmp_path, corpora_root):
    started = time.time()
    papermill.execute_notebook(
        PROJECT / "notebooks" / "scalogram.ipynb", tmp_path / "scalogram.ipynb",
        parameters={"data_root": str(corpora_root), "results_dir": str(tmp_path / "results")},
        cwd=str(PROJECT / "notebooks"), kernel_name="python3", progress_bar=False,
    )
    elapsed = time.time() - started
    for corpus, table in (("savee", "Table 1"), ("emodb", "Table 2"), ("ravdess", "Table 3")):
        record = json.loads((tmp_path / "results" / "scalogram" / f"{corpus}-smoke.json").read_text())
        assert record["profile"] == "smoke" and record["paper"] == "scalogram"
        uar = {(r["column"], r["level"]): r for r in record["rows"] if r["table"] == "Table 4"}
        assert set(uar) == {(p, l) for p in ("speaker-dependent", "speaker-independent") for l in ("window", "utterance")}
        confusion = [r for r in record["rows"] if r["table"] == table]
        assert len(confusion) == 16
        for true in {r["row"] for r in confusion}:
            assert sum(r["value"] for r in confusion if r["row"] == true) == pytest.approx(1.0)
    assert elapsed < 180, f"smoke profile took {elapsed:.0f} s (budget 180 s)"
