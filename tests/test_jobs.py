"""A paper's training grid as jobs (serlib.jobs): every key gets an outcome, failures are retried
and reported, an interrupted driver resumes, local and Dask runs give the same rows, and a
cluster profile writes the expected SLURM script. Dask clusters here are local: 127.0.0.1, no
dashboard."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from serlib import cli, config, jobs
from serlib.papers import common
from serlib.papers.common import load_outcome

GRID = "tests.grid_fixture"
DATA = Path(__file__).parent / "data"


def _plan(tmp_path, **parameters):
    return jobs.plan(GRID, "smoke", {name: str(value) for name, value in parameters.items()}, tmp_path, tmp_path / "cache")


@pytest.mark.parametrize("executor", [jobs.Execution("local"), jobs.Execution("dask", workers=1)])
def test_the_process_that_runs_a_grids_jobs_builds_the_grid_once(tmp_path, executor):
    builds = tmp_path / "builds"
    builds.mkdir()
    report = jobs.train_grid(GRID, "smoke", {"builds": str(builds)}, executor, tmp_path, tmp_path / "cache", log=lambda line: None)
    assert report.ok and len(report.ran) == 4
    processes = [path.name.split("-")[1] for path in builds.iterdir()]
    here = processes.count(str(os.getpid()))
    assert here == 2  # the driver: the plan, then the plan that finds no later stage
    if executor.executor == "dask":
        assert len(processes) - here == 1, processes  # the worker: once for its four jobs
    else:
        assert len(processes) == here


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_an_exporting_grid_exports_each_training_as_it_finishes(tmp_path, executor):
    exported = tmp_path / "exported"
    execution = jobs.Execution(executor, workers=1 if executor == "dask" else None, export_to=str(exported))
    assert execution.runs_grid
    lines = []
    report = jobs.train_grid(GRID, "smoke", {}, execution, tmp_path, tmp_path / "cache", log=lines.append)
    assert report.ok and len(report.ran) == 4
    outcomes = sorted(path.parent.name for path in exported.glob("grid/*/outcome.npz"))
    assert len(outcomes) == 4 and all((exported / "grid" / name / "key.json").exists() for name in outcomes)
    assert sorted(name.split("/", 1)[1] for name in report.ran) == outcomes


def test_an_export_that_finds_no_outcome_in_this_cache_is_named_not_silent(tmp_path, monkeypatch):
    from serlib.jobs import transfer

    monkeypatch.setattr(transfer, "export_outcomes", lambda specs, folder: ([], []))  # as for a worker's own cache
    lines = []
    execution = jobs.Execution(export_to=str(tmp_path / "exported"))
    report = jobs.train_grid(GRID, "smoke", {}, execution, tmp_path, tmp_path / "cache", log=lines.append)
    assert report.ok and len(report.not_exported) == len(report.ran) == 4
    assert any(line.startswith("warning: 4 finished trainings were not exported") and "SERLIB_CACHE" in line
               for line in lines)


def test_reproduce_export_flag_names_the_checkouts_outcomes_or_a_folder(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr("serlib.reproduce.reproduce", lambda *args, execution, **kwargs: seen.append(execution) or 0)
    assert cli.main(["reproduce", "rnn", "--profile", "smoke", "--export"]) == 0
    assert cli.main(["reproduce", "rnn", "--profile", "smoke", "--export", str(tmp_path / "elsewhere")]) == 0
    assert cli.main(["reproduce", "rnn", "--profile", "smoke"]) == 0
    assert [e.export_to for e in seen] == [str(config.OUTCOMES_DIR), str(tmp_path / "elsewhere"), None]


def test_grid_only_trains_the_grid_and_leaves_the_notebook_page_and_book_alone(monkeypatch):
    from serlib import reproduce

    grids, lines = [], []
    monkeypatch.setattr(reproduce, "train_grid_first", lambda paper, *args, **kwargs: grids.append(paper.name) or "")
    monkeypatch.setattr(reproduce, "run_paper", lambda *args: pytest.fail("--grid-only ran the notebook"))
    monkeypatch.setattr(reproduce, "build_book", lambda *args: pytest.fail("--grid-only built the book"))
    assert reproduce.reproduce(["rnn"], False, "smoke", execution=jobs.Execution(grid_only=True), log=lines.append) == 0
    assert grids == ["rnn"] and "| rnn | grid stored, notebook not run |" in lines[-1]
    monkeypatch.setattr(reproduce, "train_grid_first", lambda *args, **kwargs: "1 of 4 trainings failed: a")
    assert reproduce.reproduce(["rnn"], False, "smoke", execution=jobs.Execution(grid_only=True), log=lines.append) == 1
    seen = []
    monkeypatch.setattr("serlib.reproduce.reproduce", lambda *args, execution, **kwargs: seen.append(execution) or 0)
    assert cli.main(["reproduce", "rnn", "--profile", "smoke", "--grid-only", "--export"]) == 0
    assert seen[0].grid_only and seen[0].runs_grid


def test_every_key_of_a_small_grid_gets_an_outcome_on_a_local_dask_cluster(tmp_path):
    specs = _plan(tmp_path)
    assert len({spec.name for spec in specs}) == 4 and not any(jobs.is_done(spec) for spec in specs)
    report = jobs.execute(specs, jobs.Execution("dask", workers=2), log=lambda line: None)
    assert report.ok and sorted(report.ran) == sorted(spec.name for spec in specs)
    assert all(jobs.is_done(spec) for spec in specs)
    again = jobs.execute(specs, jobs.Execution("dask", workers=2), log=lambda line: None)
    assert again.ran == [] and len(again.skipped) == 4  # nothing is trained twice


def test_a_job_that_fails_once_is_retried(tmp_path):
    specs = _plan(tmp_path, fail_once=tmp_path / "markers")
    report = jobs.execute(specs, jobs.Execution("dask", workers=2, retries=1), log=lambda line: None)
    assert report.ok and len(report.ran) == 4
    assert len(list((tmp_path / "markers").iterdir())) == 4  # each had failed once


def test_a_failure_that_persists_is_reported_and_a_rerun_runs_only_that_key(tmp_path):
    lines = []
    failing = _plan(tmp_path, fail_always=2)
    report = jobs.execute(failing, jobs.Execution("dask", workers=2, retries=1), log=lines.append)
    broken = [spec.name for spec in failing if spec.key.seed == 2]
    assert list(report.failed) == broken and "always fails" in report.failed[broken[0]]
    assert any(line.startswith("failed: ") and broken[0] in line for line in lines)
    fixed = _plan(tmp_path)  # the same grid (failures are not part of a training's identity), now healthy
    assert [spec.name for spec in fixed] == [spec.name for spec in failing]
    rerun = jobs.execute(fixed, jobs.Execution("dask", workers=2), log=lambda line: None)
    assert rerun.ran == broken and len(rerun.skipped) == 3


@pytest.mark.parametrize("executor", [jobs.Execution("local"), jobs.Execution("dask", workers=2)])
def test_a_staged_grid_is_planned_again_until_every_stage_is_stored(tmp_path, executor):
    lines = []
    report = jobs.train_grid(GRID, "smoke", {"staged": "True"}, executor, tmp_path, tmp_path / "cache", log=lines.append)
    assert report.ok and len(report.ran) == 8 and report.planned == 8
    assert any(line.startswith("stage 2: 8 trainings planned") for line in lines)
    assert all(jobs.is_done(spec) for spec in _plan(tmp_path, staged=True))
    again = jobs.train_grid(GRID, "smoke", {"staged": "True"}, executor, tmp_path, tmp_path / "cache", log=lines.append)
    assert again.ok and again.ran == [] and len(again.skipped) == 8


def test_local_runs_retry_and_report_the_same_way(tmp_path):
    report = jobs.execute(_plan(tmp_path, fail_always=1, fail_once=tmp_path / "markers"), jobs.Execution("local", retries=1),
                          log=lambda line: None)
    assert len(report.ran) == 3 and len(report.failed) == 1


def test_a_driver_killed_mid_grid_resumes_without_redoing_finished_keys(tmp_path):
    driver = (f"from serlib import jobs; specs = jobs.plan({GRID!r}, 'smoke', {{'runs': '6', 'pause': '1.0'}}, "
              f"{str(tmp_path)!r}, {str(tmp_path / 'cache')!r}); jobs.execute(specs, jobs.Execution('dask', workers=1))")
    process = subprocess.Popen([sys.executable, "-c", driver], cwd=config.PROJECT_ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    outcomes = tmp_path / "cache" / "trainings" / "grid"
    deadline = time.time() + 120
    while len(list(outcomes.glob("*/outcome.npz"))) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(list(outcomes.glob("*/outcome.npz")))
    assert 2 <= finished < 6
    report = jobs.execute(_plan(tmp_path, runs=6, pause=1.0), jobs.Execution("dask", workers=2), log=lambda line: None)
    assert len(report.skipped) == finished and len(report.ran) == 6 - finished and report.ok


def test_force_trains_every_key_again(tmp_path):
    specs = _plan(tmp_path)
    jobs.execute(specs, jobs.Execution("local"), log=lambda line: None)
    report = jobs.execute(specs, jobs.Execution("local", force=True), log=lambda line: None)
    assert len(report.ran) == 4 and not report.skipped


def test_a_job_built_from_other_code_or_settings_is_refused(tmp_path):
    spec = _plan(tmp_path)[0]
    stale = jobs.JobSpec(spec.paper, spec.profile, spec.overrides, spec.key, "0" * 16, spec.data_root, spec.cache)
    with pytest.raises(LookupError, match="not in the grid"):
        jobs.run_job(stale)


def test_the_plan_counts_stored_started_and_not_begun_trainings_and_times_what_is_left(tmp_path):
    import torch

    specs = _plan(tmp_path)
    jobs.execute(specs[:2], jobs.Execution("local"), log=lambda line: None)
    started = common.folder_of(specs[2].key, specs[2].digest, specs[2].cache)
    started.mkdir(parents=True)
    torch.save({"history": [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}]}, started / "checkpoint.ckpt")
    progress = jobs.grid_progress(specs)
    groups = [progress.groups[spec.key.table, spec.key.system, spec.key.task] for spec in specs]
    assert [(g.stored, g.started, g.not_begun) for g in groups] == [(1, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    assert groups[2].started_epochs == [3]
    recorded = load_outcome(common.folder_of(specs[0].key, specs[0].digest, specs[0].cache) / "outcome.npz").training_seconds()
    group_of = [(spec.key.table, spec.key.system, spec.key.task) for spec in specs]
    assert progress.pace(*group_of[0]) == pytest.approx(recorded) and progress.pace(*group_of[3]) is None
    lines = jobs.progress_lines("grid", progress, stages=2)
    assert "4 trainings planned now: 2 stored, 1 started, 1 not begun" in lines[-2]
    assert "1 not begun; 2 left whose table, system and task have no stored training (in this plan)" in lines[-2] and "2 stages" in lines[-1]
    assert any("1 (3)" in line for line in lines)  # the started training and its finished epochs


def test_the_plan_times_each_task_of_a_system_at_its_own_pace():
    """One system trains at different paces on different tasks (etransformer's proposed model: about
    an hour on a random fold, a quarter of an hour on a speaker-independent one)."""
    random, independent = ("Table 2", "proposed", "random"), ("Table 2", "proposed", "speaker-independent")
    progress = jobs.GridProgress(groups={random: jobs.GroupProgress(stored=2, not_begun=1),
                                         independent: jobs.GroupProgress(stored=1, not_begun=2)},
                                 seconds_by_group={random: [3600.0, 4000.0], independent: [900.0]})
    assert progress.seconds_left(*random) == 4000.0 and progress.seconds_left(*independent) == 1800.0
    assert "3 not begun; 1.6 h of training left at the pace" in jobs.progress_lines("grid", progress)[-1]
    untimed = jobs.GridProgress(groups={random: jobs.GroupProgress(not_begun=2)})
    assert jobs.progress_lines("grid", untimed)[-1].endswith(
        "2 not begun; 2 left whose table, system and task have no stored training (in this plan) to time them by")
    done = jobs.GridProgress(groups={random: jobs.GroupProgress(stored=2)}, seconds_by_group={random: [60.0, 60.0]})
    assert jobs.progress_lines("grid", done)[-1].endswith("0 not begun; nothing left to train")


def test_reproduce_plan_prints_the_grid_and_trains_nothing(capsys, monkeypatch, corpora_root, tmp_path):
    monkeypatch.setenv("SERLIB_CACHE", str(tmp_path / "cache"))
    assert cli.main(["reproduce", "rnn", "--profile", "smoke", "--plan", "--data-root", str(corpora_root)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"rnn: (\d+) trainings planned now: 0 stored, 0 started, \1 not begun", printed)
    assert not (tmp_path / "cache" / "trainings").exists()


def test_an_older_caches_runs_folder_is_still_read(tmp_path):
    specs = _plan(tmp_path, runs=1)
    jobs.execute(specs, jobs.Execution("local"), log=lambda line: None)
    trainings = tmp_path / "cache" / config.TRAININGS_FOLDER
    trainings.rename(tmp_path / "cache" / config.OLD_TRAININGS_FOLDER)  # the layout before the rename
    assert jobs.is_done(specs[0]) and not trainings.exists()
    assert jobs.execute(specs, jobs.Execution("local"), log=lambda line: None).ran == []


def test_exported_outcomes_resume_the_grid_on_another_machine_and_a_broken_one_is_named(tmp_path):
    specs = _plan(tmp_path)
    jobs.execute(specs[:3], jobs.Execution("local"), log=lambda line: None)
    folder = common.folder_of(specs[0].key, specs[0].digest, specs[0].cache)  # a stored training's training folder:
    assert sorted(path.name for path in folder.iterdir()) == sorted(  # its three files, no temporary left
        (jobs.CHECKPOINT_FILE, jobs.KEY_FILE, jobs.OUTCOME_FILE))
    assert json.loads((folder / jobs.KEY_FILE).read_text())["key"]["system"] == specs[0].key.system
    carried = tmp_path / "outcomes"
    copied, present = jobs.export_outcomes(specs, carried)
    assert sorted(copied) == sorted(spec.name for spec in specs[:3]) and present == []
    assert jobs.export_outcomes(specs, carried) == ([], copied)  # unchanged outcomes are not copied again
    assert not list(carried.rglob("*.ckpt"))  # checkpoints stay behind
    assert len(list(carried.rglob("key.json"))) == 3  # each outcome travels with its key and identity
    # another machine: an empty cache, the same grid; importing makes the three trainings stored there
    elsewhere = [jobs.JobSpec(s.paper, s.profile, s.overrides, s.key, s.digest, s.data_root, str(tmp_path / "other"))
                 for s in specs]
    assert jobs.grid_progress(elsewhere).exported == 0  # the progress looks in outcomes/ of the checkout ...
    assert [s.name for s in jobs.exported_not_imported(elsewhere, carried)] == copied  # ... a driver is told before training
    waiting = jobs.grid_progress(elsewhere)
    waiting.exported = 3
    assert any(line.startswith("3 of the trainings not stored here are finished in") for line in jobs.progress_lines("grid", waiting))
    assert len(jobs.import_outcomes(carried, tmp_path / "other")[0]) == 3
    assert jobs.exported_not_imported(elsewhere, carried) == []
    assert [jobs.is_done(spec) for spec in elsewhere] == [True, True, True, False]
    report = jobs.execute(elsewhere, jobs.Execution("local"), log=lambda line: None)
    assert report.ran == [specs[3].name] and len(report.skipped) == 3
    assert jobs.import_outcomes(carried, tmp_path / "other") == ([], sorted(s.name for s in specs[:3]))
    # a page that reloads an imported training's network trains it again here, and says so
    imported = jobs.GridCache().grid(GRID, "smoke", specs[0].overrides, specs[0].data_root, str(tmp_path / "other"), "auto")[specs[0].digest]
    with pytest.warns(UserWarning, match=r"trained again here .* 0 of 4 \w+-level predictions differ"):
        assert imported.checkpoint(tmp_path / "other").exists()
    broken = next(carried.rglob("outcome.npz"))
    broken.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=re.escape(str(broken))):
        jobs.import_outcomes(carried, tmp_path / "third")


def test_a_network_a_page_reloads_travels_with_its_outcome_and_reloads_without_training(tmp_path):
    import torch
    from tests.grid_fixture import _model

    specs = _plan(tmp_path)[:2]
    jobs.execute(specs, jobs.Execution("local"), log=lambda line: None)
    here = jobs.GridCache().grid(GRID, "smoke", specs[0].overrides, specs[0].data_root, specs[0].cache, "auto")[specs[0].digest]
    network = here.network(_model, "last", specs[0].cache)
    folder = common.folder_of(specs[0].key, specs[0].digest, specs[0].cache)
    assert (folder / jobs.NETWORK_FILE).exists()
    carried = tmp_path / "outcomes"
    jobs.export_outcomes(specs, carried)
    assert len(list(carried.rglob(jobs.NETWORK_FILE))) == 1 and not list(carried.rglob("*.ckpt"))  # only the reloaded one
    jobs.import_outcomes(carried, tmp_path / "other")
    elsewhere = jobs.GridCache().grid(GRID, "smoke", specs[0].overrides, specs[0].data_root, str(tmp_path / "other"), "auto")[specs[0].digest]
    elsewhere = replace(elsewhere, train=lambda checkpoint: pytest.fail("a kept network must reload without training"))
    reloaded = elsewhere.network(_model, "last", tmp_path / "other")
    assert not (common.folder_of(specs[0].key, specs[0].digest, tmp_path / "other") / jobs.CHECKPOINT_FILE).exists()
    for before, after in zip(network.state_dict().values(), reloaded.state_dict().values()):
        assert torch.equal(before, after)
    assert not reloaded.training


def test_outcomes_cli_exports_a_papers_grid_and_imports_it_into_an_empty_cache(capsys, monkeypatch, corpora_root, tmp_path):
    monkeypatch.setenv("SERLIB_CACHE", str(tmp_path / "cache"))
    args = ["--profile", "smoke", "--data-root", str(corpora_root), "--to", str(tmp_path / "out")]
    assert cli.main(["outcomes", "export", "rnn", *args]) == 0
    assert re.search(r"rnn: 0 outcomes exported .*, 0 there already, (\d+) of the \1 planned not stored yet",
                     capsys.readouterr().out)
    assert cli.main(["outcomes", "import", "--from", str(tmp_path / "missing")]) == 2
    assert "no such folder of exported outcomes" in capsys.readouterr().err


def _normalised(script: str) -> str:
    """The job script without what belongs to this machine: the Python and the scheduler's address."""
    script = script.replace(sys.executable, "PYTHON")
    return re.sub(r"tcp://[0-9.]+:[0-9]+", "tcp://SCHEDULER", script)


def test_a_cluster_profile_writes_the_expected_slurm_script():
    profile = jobs.ClusterProfile.read(DATA / "slurm-gpu.yaml")
    cluster = profile.cluster(dashboard=False, host="127.0.0.1")
    try:
        script = _normalised(cluster.job_script())
    finally:
        cluster.close()
    assert script == (DATA / "slurm-gpu.expected.sh").read_text()
    assert "#SBATCH --gres=gpu:1" in script and "--resources GPU=1" in script


def test_a_bad_cluster_profile_is_named(tmp_path):
    bad = tmp_path / "cluster.yaml"
    bad.write_text("scheduler: slurm\npartition: gpu\ngpu: 1\n")
    with pytest.raises(ValueError, match=r"cluster.yaml: unknown field\(s\) \['gpu'\]"):
        jobs.ClusterProfile.read(bad)
    bad.write_text("scheduler: lsf\npartition: gpu\n")
    with pytest.raises(ValueError, match="scheduler must be 'slurm' or 'pbs'"):
        jobs.ClusterProfile.read(bad)


def test_cluster_options_need_the_dask_executor_and_a_paper_with_a_grid(capsys):
    assert cli.main(["reproduce", "rnn", "--profile", "smoke", "--workers", "2", "--no-book"]) == 2
    assert "--workers needs --executor dask" in capsys.readouterr().err
    with pytest.raises(ValueError, match="does not meet the grid contract"):
        jobs.paper_module("serlib.papers.common")  # a module path without training_grid()


def _rows(results_dir: Path) -> list[dict]:
    kept = ("table", "row", "column", "metric", "level", "value", "std", "ci_low", "ci_high", "paper_value", "seeds", "variant")
    rows = json.loads((results_dir / "rnn" / "emodb-smoke.json").read_text())["rows"]
    return sorted(({k: row.get(k) for k in kept} for row in rows), key=lambda row: json.dumps(row, sort_keys=True))


@pytest.mark.slow
def test_reproduce_rnn_smoke_end_to_end_locally_and_on_dask_with_the_same_rows(tmp_path, monkeypatch, corpora_root):
    """``serlib reproduce rnn --profile smoke`` from an empty cache, here and on a local Dask
    cluster: the results file a reader gets, and the same rows from both executors."""
    rows = {}
    for executor in ("local", "dask"):
        monkeypatch.setenv(config.RESULTS_ENV, str(tmp_path / executor / "results"))
        monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / executor / "cache"))
        extra = ["--workers", "2"] if executor == "dask" else []
        assert cli.main(["reproduce", "rnn", "--profile", "smoke", "--no-book", "--data-root", str(corpora_root),
                         "--executor", executor, *extra]) == 0
        rows[executor] = _rows(tmp_path / executor / "results")
    executed = config.PROJECT_ROOT / "_build" / "reproduce" / "rnn-smoke.ipynb"
    assert executed.is_file() and str(corpora_root) not in executed.read_text()  # no machine path in the page
    record = json.loads((tmp_path / "local" / "results" / "rnn" / "emodb-smoke.json").read_text())
    assert record["profile"] == "smoke" and record["corpus"] == "emodb" and record["seeds"] == [0]
    scores = [r for r in record["rows"] if r["quantity"] == "score"]
    compared = [r for r in scores if r["paper_value"] is not None and not r["variant"]]
    assert len(compared) == 12 and all(r["level"] == "window" and r["metric"] == "WA" for r in compared)
    assert len([r for r in scores if r["variant"]]) == 6  # 3 variants x the two +Δ+ΔΔ LSTM rows, labelled
    # one MSPEC − MFCC difference per pair the paper compares, and one per variant
    assert len([r for r in record["rows"] if r["quantity"] == "difference"]) == 5 + 3
    assert record["training_seconds"]["Tables 3-4"] > 0
    assert all(0.0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 1.0 for r in scores)
    assert all(-1.0 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 1.0 for r in record["rows"])
    trained = list((tmp_path / "dask" / "cache" / "trainings" / "rnn").glob("*/outcome.npz"))
    assert len(trained) == 16  # the grid ran on the cluster: 10 configurations + 3 variants x 2 configurations, 1 seed
    assert rows["dask"] == rows["local"] and len(rows["local"]) >= 10
