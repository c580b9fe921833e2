"""The benchmark script (benchmarks/extraction.py) runs and writes its table; its timings are
not tested (they belong to the machine)."""

import importlib.util
import sys

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
