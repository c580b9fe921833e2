"""The benchmark script (benchmarks/extraction.py) runs and writes its table; its timings are
not tested (they belong to the machine)."""

import importlib.util
import re
import sys

import numpy as np
import pytest

from serlib import config


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("extraction_benchmark", config.PROJECT_ROOT / "benchmarks" / "extraction.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_writes_a_table_with_its_machine_commit_and_targets(tmp_path, corpora_root):
    output = tmp_path / "results.md"
    _benchmark_module().main(["--data-root", str(corpora_root), "--files", "4", "--repeats", "1", "--only", "MFCC",
                              "--no-training", "--output", str(output)])
    text = output.read_text()
    assert "| MFCC (13)" in text and "4 (emodb)" in text
    assert "CPU cores" in text and "at commit `" in text and "median of 1 runs" in text
    assert "target ≥ 1.7×" in text


def test_every_reproduced_paper_has_a_main_model_in_the_benchmark():
    from serlib.papers import PAPERS

    assert {model.paper for model in _benchmark_module().timed_models()} == {p.name for p in PAPERS if p.reproduced}


def _your_corpus_module():
    spec = importlib.util.spec_from_file_location("your_corpus_benchmark", config.PROJECT_ROOT / "benchmarks" / "your_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_your_corpus_report_shows_each_run_its_results_file_and_errors(tmp_path, monkeypatch):
    import json

    module = _your_corpus_module()
    monkeypatch.setattr(module, "PROJECT", tmp_path)
    monkeypatch.setattr(module, "EVIDENCE", tmp_path / "benchmarks" / "your_corpus")
    module.EVIDENCE.mkdir(parents=True)
    rows = [{"table": "Table 1", "row": "HSF-CRNN", "column": "5-fold", "metric": "UA", "level": "utterance", "value": 0.512},
            {"table": "Table 1", "row": "HSF-CRNN", "column": "5-fold", "metric": "WA", "level": "utterance", "value": 0.6}]
    (module.EVIDENCE / "crnn-full.json").write_text(json.dumps({"rows": rows}))
    runs = [{"paper": "crnn", "profile": "full", "ok": True, "wall_seconds": 1800, "date": "2026-12-05", "machine": "m",
             "parameters": "-p seeds 0,1,2"},
            {"paper": "capsule", "profile": "smoke", "ok": False, "wall_seconds": 6, "date": "2026-12-05", "machine": "m",
             "error": "ValueError: corpus 'corpus.csv': no speech"}]
    text = module.report(runs)
    assert "| capsule | smoke | – | failed | 0.1 min | 2026-12-05 | m | none |" in text
    assert "- **capsule, smoke**: error: ValueError: corpus 'corpus.csv': no speech" in text
    assert "| crnn | full | `-p seeds 0,1,2` | ok | 30.0 min | 2026-12-05 | m | 2 |" in text  # the stated cut, as code
    assert "Table 1, UA: HSF-CRNN (5-fold, utterance) 51.2" in text and "60.0" not in text
    (module.EVIDENCE / "crnn-smoke.json").write_text(json.dumps({"rows": rows}))
    smoke = module.report([{**runs[0], "profile": "smoke"}])
    assert "| crnn | smoke | `-p seeds 0,1,2` | ok |" in smoke and "51.2" not in smoke and "are not shown" in smoke


def test_the_recurrent_benchmark_says_whether_the_speed_goal_is_met():
    spec = importlib.util.spec_from_file_location("recurrent_speed", config.PROJECT_ROOT / "benchmarks" / "recurrent_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    columns = list(module.ISSUE_BASELINE)

    def rows(after: float) -> list[dict]:
        return [{"paper": paper, "path": path, columns[0]: 0.3 if path == "before" else after,
                 columns[1]: 0.4 if path == "before" else after, "s per nEMO epoch": 100.0 if path == "before" else 40.0}
                for paper in module.MODELS for path in ("before", "after")]

    shares = {part: 0.25 for part in module.STEP_PARTS} | {module.EVERYTHING_ELSE: 0.0}
    assert "**Goal**" in (met := module.report(rows(1.0), shares, 8, 8, 70))
    assert ("against the steps/s the issue measured (0.31 on nEMO lengths, 0.38 on 240-270 frames): met on nEMO lengths "
            "(3.23×), met on 240-270 frames (2.63×); against the old path timed in this run (its batches also cut to their "
            "longest): met on nEMO lengths (3.33×), met on 240-270 frames (2.50×).") in met
    assert ("measured (0.31 on nEMO lengths, 0.38 on 240-270 frames): not met on nEMO lengths (1.94×), not met on 240-270 "
            "frames (1.58×); against the old path timed in this run (its batches also cut to their longest): not met on "
            "nEMO lengths (2.00×), not met on 240-270 frames (1.50×).") in module.report(rows(0.6), shares, 8, 8, 70)
    assert "an nEMO epoch 100 s → 40 s (2.50×)" in met
    assert re.search(r"\| dropout masks \(random numbers\) +\| 25 % +\|", met)
    assert "The fused LSTM takes 25 % of the step and drawing dropout's random masks 25 %." in met


def test_the_recurrent_benchmark_splits_a_step_into_parts():
    spec = importlib.util.spec_from_file_location("recurrent_speed", config.PROJECT_ROOT / "benchmarks" / "recurrent_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from serlib.papers import etransformer

    lengths = np.array([30, 22, 17, 9])
    shares = module.where_time_goes(etransformer.make_model("proposed"), module.inputs("etransformer", lengths, 30), steps=1)
    assert list(shares) == [*module.STEP_PARTS, module.EVERYTHING_ELSE]
    assert all(0 < share < 1 for share in shares.values())  # the parts' operators are found and do not overlap
