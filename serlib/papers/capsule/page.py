"""What the capsule paper's page shows: the results rows of a protocol's runs (RAVDESS and
FAU-Aibo), the tables beside the paper's, the verdict and why-tables, the points of Figs. 2 and 3,
and the summary's one-line ordering."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import results, splits
from serlib.examples import Examples
from serlib.models.capsule import TemporalCapsuleNetwork, capsule_activations
from serlib.papers import common
from serlib.papers.capsule.config import (HPARAMS, PAPER, PAPER_FAU, PAPER_TABLE4, PAPER_VALUES, SYSTEMS, TASKS,
                                          VARIANTS, Settings, variant)
from serlib.papers.capsule.data import Corpus, school_split, table3_splits
from serlib.papers.capsule.protocol import ProtocolOutcomes, TableOutcomes, run_table
from serlib.papers.capsule.trainings import epoch_budget


def constant_outputs(table: str, table_outcomes: TableOutcomes) -> list[str]:
    """Models that predict one class for every test utterance of a split (UA = chance)."""
    flagged = []
    for (system, task), cell_outcomes in table_outcomes.outcomes.items():
        constant = sum(len(np.unique(o.levels["utterance"].y_pred)) == 1 for o in cell_outcomes)
        if constant:
            flagged.append(f"{table} {SYSTEMS[system][0]} ({task}): one class for every test utterance in {constant} of {len(cell_outcomes)} split(s)")
    return flagged


def add_rows(record: results.ResultsFile, corpus: Corpus, table: str, table_outcomes: TableOutcomes,
             paper: Mapping[tuple[str, str], Mapping[str, float]], n_boot: int, variant_: str = "") -> None:
    """Utterance- and window-level UA rows (window rows only for systems that classify windows: an
    utterance-level baseline's would repeat its utterance row); the paper's value (its one 2-class
    number beside **both** binary readings) at the utterance level. Runs on one split (Table 2's
    seeds) get a bootstrap CI over test speakers; runs on different random splits a t-interval."""
    speakers = corpus.manifest["speaker"].to_numpy()
    for (system, task), cell_outcomes in table_outcomes.outcomes.items():
        same_split = len({tuple(o.levels["utterance"].utterance) for o in cell_outcomes}) == 1
        windowed = any(len(o.levels["window"].utterance) > len(o.levels["utterance"].utterance) for o in cell_outcomes)
        for level in ("utterance", "window") if windowed else ("utterance",):
            value = paper.get((table, system), {}).get(task.split(" ")[0])
            summary = (results.summarise_seeds(cell_outcomes, level, "UA", n_boot, clusters=speakers) if same_split
                       else results.summarise_splits(cell_outcomes, level, "UA", n_boot))
            record.add(results.ResultRow(
                table=table, row=SYSTEMS[system][0], column=task, metric="UA", level=level, variant=variant_,
                paper_value=value / 100 if value is not None and level == "utterance" else None, **summary))


def not_run(paper: Mapping[tuple[str, str], Mapping[str, float]], tasks: Sequence[str], ran: set[tuple[str, str, str]]) -> list[results.Cell]:
    """The paper's (table, system) cells × ``tasks`` that no table of this run trained."""
    return [results.Cell(table, SYSTEMS[system][0], task) for table, system in paper for task in tasks
            if (table, system, task) not in ran]


def acted_results_file(corpus: Corpus, settings: Settings, device: str, protocol: ProtocolOutcomes) -> results.ResultsFile:
    """The results of Tables 2 and 3 and the variants (paper values only on RAVDESS, the paper's corpus)."""
    tables = {name: protocol.tables.get(name, TableOutcomes()) for name in ("Table 2", "Table 3")}
    record = results.ResultsFile(
        paper=PAPER, corpus=corpus.name, profile=settings.profile, device=device, seeds=list(range(settings.table3_splits)),
        started=corpus.started,
        protocol=f"{corpus.name} speech. Learning rate per system and task chosen from {list(settings.learning_rates)} by "
                 f"the validation actor's utterance UA. Table 2: the last {settings.test_speakers} actors (sorted) test, "
                 f"the one before validates (kept epoch), the others train; {settings.table2_seeds} seeds, CI over test "
                 f"speakers. Table 3: {settings.table3_splits} emotion-stratified random 75/25 utterance splits "
                 "(speaker-dependent), one run per split, model after the last epoch. UA of utterances (mean window posterior).",
        notes={"settings": asdict(settings), "hparams": asdict(HPARAMS), "tasks": {t.name: t.note for t in corpus.tasks.values()},
               "dropped_tasks": corpus.dropped_tasks, "speech_only": corpus.notes,
               "learning_rate_choices": [c.record() for c in protocol.choices.values()],
               "variants": {name: {"question": variant(name).question, "table": variant(name).table,
                                   "cells": sorted(f"{SYSTEMS[s][0]}, {t}" for s, t in tr.outcomes)}
                            for name, tr in protocol.variants.items()},
               "constant_output": [line for name, tr in {**tables, **protocol.variants}.items() for line in constant_outputs(name, tr)]})
    paper = PAPER_VALUES if corpus.name == "ravdess" else {}
    for name, table_outcomes in tables.items():
        add_rows(record, corpus, name, table_outcomes, paper, settings.n_boot)
    for name, table_outcomes in protocol.variants.items():
        add_rows(record, corpus, variant(name).table, table_outcomes, paper, settings.n_boot, name)
        record.training_seconds[f"variant: {name}"] = table_outcomes.training_seconds
    record.training_seconds.update({name: table_outcomes.training_seconds for name, table_outcomes in tables.items()})
    record.training_seconds["learning-rate candidates"] = protocol.choice_seconds
    ran = {(t, s, task) for t, table_outcomes in tables.items() for s, task in table_outcomes.outcomes}
    record.not_run += not_run(paper, TASKS, ran)  # the paper's cells of every task, asked for or not
    return record


def paper_beside_ours(record: results.ResultsFile, table: str, tasks: Sequence[str]) -> pd.DataFrame:
    """One line per system of ``table`` in the paper's order: paper % / ours (utterance UA, mean ± std)."""
    rows = record.table()
    rows = rows[(rows["table"] == table) & (rows["level"] == "utterance") & (rows["variant"] == "")] if len(rows) else rows
    lines = {}
    for (t, system), values in PAPER_VALUES.items():
        if t != table:
            continue
        line = {}
        for task in tasks:
            ours = rows[(rows["row"] == SYSTEMS[system][0]) & (rows["column"] == task)] if len(rows) else rows
            mine = results.mean_and_spread(ours["value"].iloc[0], ours["std"].iloc[0]) if len(ours) else "not run"
            line[task] = f"{values.get(task.split(' ')[0], '–')} / {mine}"
        lines[SYSTEMS[system][0]] = line
    return pd.DataFrame(lines).T.rename_axis(f"{table}: paper / ours (UA %)")


def binary_reading_gaps(record: results.ResultsFile) -> pd.DataFrame:
    """|ours − paper| (UA points) per cell where both binary readings ran and the paper has a value."""
    rows = record.table()
    if not len(rows):
        return pd.DataFrame()
    rows = rows[(rows["level"] == "utterance") & rows["column"].str.startswith("2-class") & rows["paper_value"].notna()
                & (rows["variant"] == "")]
    gaps = (100 * (rows["value"] - rows["paper_value"]).abs()).groupby([rows["table"], rows["row"], rows["column"]]).first()
    return gaps.unstack("column").dropna() if len(gaps) else pd.DataFrame()


def choices_table(protocol: ProtocolOutcomes) -> pd.DataFrame:
    """Every learning-rate choice: the candidates' validation UA (utterance level, the kept epoch),
    the chosen rate, and the test UA of each candidate (information only: it never chooses)."""
    rows = pd.DataFrame([c.record() for c in protocol.choices.values()])
    return rows.set_index(["system", "task", "variant"]) if len(rows) else rows


def utterance_rows(record: results.ResultsFile) -> pd.DataFrame:
    """The run's utterance-level UA rows (paper protocol and variants)."""
    rows = record.table()
    return rows[rows["level"] == "utterance"] if len(rows) else rows


def variant_table(record: results.ResultsFile) -> pd.DataFrame:
    """Each variant row beside the paper-protocol row of the same cell: UA %, the change, the paper's value."""
    rows = utterance_rows(record)
    if not len(rows) or not (rows["variant"] != "").any():
        return pd.DataFrame()
    base = rows[rows["variant"] == ""].set_index(["table", "row", "column"])
    lines = []
    for _, r in rows[rows["variant"] != ""].iterrows():
        ours = base["value"].get((r["table"], r["row"], r["column"]))
        lines.append({"variant": r["variant"], "table": r["table"], "system": r["row"], "task": r["column"],
                      "paper protocol": "not run" if ours is None else f"{100 * ours:.1f}",
                      "variant [95% CI]": f"{100 * r['value']:.1f} [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]",
                      "change (points)": "–" if ours is None else f"{100 * (r['value'] - ours):+.1f}",
                      "paper": "–" if pd.isna(r["paper_value"]) else f"{100 * r['paper_value']:.1f}",
                      "seeds": int(r["seeds"])})
    return pd.DataFrame(lines)


def system_order(record: results.ResultsFile, table: str = "Table 3", task: str = "8-class") -> tuple[pd.DataFrame, float | None]:
    """The systems of ``table`` that ran on ``task``, ranked by the paper and by us (1 = best),
    with Spearman's rank correlation of the two orders (None under three systems)."""
    from scipy import stats

    rows = utterance_rows(record)
    rows = rows[(rows["table"] == table) & (rows["column"] == task) & (rows["variant"] == "") & rows["paper_value"].notna()] if len(rows) else rows
    if len(rows) < 3:
        return pd.DataFrame(), None
    order = pd.DataFrame({"paper": 100 * rows["paper_value"].to_numpy(), "ours": 100 * rows["value"].to_numpy()},
                         index=pd.Index(rows["row"], name=f"{table}, {task}"))
    order["paper rank"] = order["paper"].rank(ascending=False).astype(int)
    order["our rank"] = order["ours"].rank(ascending=False, method="min").astype(int)
    return order.sort_values("paper rank").round(1), float(stats.spearmanr(order["paper"], order["ours"]).statistic)


def verdict_box(record: results.ResultsFile, profile: str) -> str:
    """The page's opening box (Markdown): per table how many cells we reproduce, whether the
    paper's ranking of systems holds, what the variant and the learning-rate grid showed, and
    what did not run."""
    rows = record.table()
    cells = results.headline_cells(rows.assign(paper=PAPER, corpus=record.corpus)) if len(rows) else rows
    if not len(cells):
        return f"- No paper value applies to {record.corpus} ({profile} profile): ours alone below."
    lines = []
    classes = results.cell_classes(cells)  # the intro's and the summary's three classes
    for table, chosen in cells.groupby("table"):
        worst = chosen.loc[chosen["gap"].abs().idxmax()]
        binary = chosen[chosen["column"].str.startswith("2-class")]
        numbers = binary.groupby(["row", "paper_value"]).ngroups
        twice = (f" ({numbers} of the paper's binary numbers, each counted under both readings of the binary task: "
                 f"{len(chosen) - len(binary) + numbers} distinct numbers of the paper)") if len(binary) > numbers else ""
        lines.append(f"- **{table}** ({profile} profile), {len(chosen)} cell{'s' if len(chosen) != 1 else ''}{twice}: "
                     + results.class_counts(classes[chosen.index], bold=True)
                     + f"; the largest gap is {worst['row']}, {worst['column']}: {100 * worst['value']:.1f} vs "
                     f"{100 * worst['paper_value']:.1f}.")
    order, rho = system_order(record)
    if rho is not None:
        best = order.index[order["our rank"] == 1][0]
        lines.append(f"- **The paper's central comparison** (Table 3, 8-class, {len(order)} systems, {profile} profile): our order of the systems "
                     f"follows the paper's with Spearman ρ = {rho:.2f}; our best system is {best} "
                     f"(the paper's: {order.index[0]}).")
    for name, chosen in variant_table(record).groupby("variant", sort=False):
        lines.append(f"- **Variant, {name}** ({chosen['table'].iloc[0]}, {profile} profile; ours under the paper's protocol → the variant, "
                     "paper): " + "; ".join(f"{v['system']} {v['task']} {v['paper protocol']} → "
                                            f"{v['variant [95% CI]'].split(' [')[0]}, {v['paper']}" for _, v in chosen.iterrows()) + ".")
    skipped = [v.name for v in VARIANTS if v.name not in record.notes.get("settings", {}).get("variants", [v.name])]
    if skipped:
        lines.append(f"- **Variants not run here:** {', '.join(f'*{name}*' for name in skipped)} (the `variants` parameter).")
    if record.not_run:
        tasks = sorted({c.column for c in record.not_run})
        binary = {(c.table, c.row) for c in record.not_run if c.column.startswith("2-class")}
        lines.append(f"- **Not run here:** {len(record.not_run)} of the paper's cells ({', '.join(tasks)}"
                     + (f": its {len(binary)} binary numbers, each under both readings of the binary task" if binary else "")
                     + "); the tables below mark them not run. Tables 1 and 4 need the licensed FAU-Aibo.")
    lines.append("- Why the gaps: [why our numbers differ](capsule-why).")
    return "\n".join(lines)


def why_table(record: results.ResultsFile, protocol: ProtocolOutcomes, split: splits.Split) -> pd.DataFrame:
    """For each kind of gap: the explanations we can test, the run that tests each, and what it showed."""
    rows = utterance_rows(record)
    main = rows[rows["variant"] == ""] if len(rows) else rows
    choices = choices_table(protocol)
    chosen_settings = record.notes.get("settings", {})
    test_speakers, epochs = chosen_settings.get("test_speakers", "the"), chosen_settings.get("epochs", HPARAMS.epochs)
    vector_cnn_epochs = chosen_settings.get("vector_cnn_epochs", HPARAMS.vector_cnn_epochs)
    lines = []
    t2 = main[(main["table"] == "Table 2") & main["paper_value"].notna()] if len(main) else main
    if len(t2):
        gaps = ", ".join(f"{r['row'].split(' + ')[0]} {r['column']} {100 * (r['value'] - r['paper_value']):+.1f}" for _, r in t2.iterrows())
        spread = "; ".join(f"{r['row'].split(' + ')[0]} {r['column']} ±{100 * r['std']:.1f}" for _, r in t2.iterrows()
                           if pd.notna(r["std"])) or "none measured (one seed per cell)"
        lines.append({"gap": f"Table 2 (speaker-independent): {gaps} points",
                      "explanation": "one run's seed noise", "run that tests it": f"{int(t2['seeds'].max())} seeds per cell, CI over the {test_speakers} test actors",
                      "what it showed": f"std over seeds: {spread} points"})
        if len(choices):
            chosen = choices.reset_index()
            chosen = chosen[(chosen["variant"] == "") & chosen["system"].isin(set(t2["row"]))]
            lines.append({"gap": "", "explanation": "an untuned learning rate",
                          "run that tests it": f"rates {list(protocol_rates(protocol))} chosen on the validation actor's utterance UA",
                          "what it showed": "; ".join(f"{r['system'].split(' + ')[0]} {r['task']}: {r['chosen']:g}" for _, r in chosen.iterrows())})
        variants = variant_table(record)
        for _, v in (variants[variants["table"] == "Table 2"] if len(variants) else variants).iterrows():
            lines.append({"gap": "", "explanation": variant(v["variant"]).explains,
                          "run that tests it": f"variant “{v['variant']}” ({v['task']})",
                          "what it showed": f"{v['change (points)']} points ({v['variant [95% CI]']} vs {v['paper protocol']})"})
        lines.append({"gap": "", "explanation": "which actors test (the paper's 19 + 4 of 24 names none)",
                      "run that tests it": "not tested: one fixed split (the last actors in sorted order test, the one before validates)", "what it showed": "–"})
    t3 = main[(main["table"] == "Table 3") & main["paper_value"].notna()] if len(main) else main
    if len(t3):
        def gap_text(rows: pd.DataFrame) -> str:
            return ", ".join(f"{r['row']} {r['column']} {100 * (r['value'] - r['paper_value']):+.1f}" for _, r in rows.iterrows())

        systems = t3["row"].map({label: key for key, (label, _, _) in SYSTEMS.items()})
        baseline = systems.isin(variant("baselines on unseen actors").systems)
        above = t3["value"] - t3["paper_value"] > results.CLOSE_POINTS / 100
        below = t3["paper_value"] - t3["value"] > results.CLOSE_POINTS / 100
        if (above & baseline).any():
            lines.append({"gap": "Table 3 baselines above the paper: " + gap_text(t3[above & baseline]),
                          "explanation": "random 75/25 utterance splits share every actor, statement and repetition between "
                                         "training and test; a tuned baseline (C by cross-validation, standardised inputs) "
                                         "exploits that, the paper's baselines may not have been tuned",
                          "run that tests it": "variant “baselines on unseen actors”: the same systems on Table 2's split",
                          "what it showed": unseen_actor_baselines(record)})
        if (above & ~baseline).any():
            lines.append({"gap": "Table 3 networks above the paper: " + gap_text(t3[above & ~baseline]),
                          "explanation": "the paper gives no learning rate for any network, so its networks may have "
                                         "trained at an untuned one; ours each train at the rate the validation actor chose",
                          "run that tests it": "the learning-rate grid: each network's utterance UA on the validation actor "
                                               f"(unseen in training, {len(split.val)} utterances) at its chosen rate, beside the proposed "
                                               "framework's",
                          "what it showed": validation_at_chosen_rates(protocol, [*systems[above & ~baseline], "feature_proposed"])})
        if below.any():
            lines.append({"gap": "Table 3 below the paper: " + gap_text(t3[below]),
                          "explanation": f"a fixed budget and the model after its last epoch ({epochs} epochs for the "
                                         f"sequence networks, {vector_cnn_epochs} for the vector CNNs; Table 3 has no "
                                         "validation actor)",
                          "run that tests it": "the epoch the validation actor kept at each system's chosen rate",
                          "what it showed": kept_epochs(protocol, list(systems[below]), epochs, vector_cnn_epochs)})
    return common.prose_frame(lines)


def protocol_rates(protocol: ProtocolOutcomes) -> list[float]:
    """The candidate rates of the run's choices, in the order tried."""
    return list(dict.fromkeys(rate for choice in protocol.choices.values() for rate in choice.validation_ua))


def unseen_actor_baselines(record: results.ResultsFile) -> str:
    """Table 3's baselines on unseen actors (the variant) against the paper's values."""
    rows = variant_table(record)
    rows = rows[(rows["table"] == "Table 3")] if len(rows) else rows
    return "; ".join(f"{r['system']} {r['task']}: {r['variant [95% CI]']} (paper {r['paper']}, ours on random splits "
                     f"{r['paper protocol']})" for _, r in rows.iterrows()) or "not run"


def kept_epochs(protocol: ProtocolOutcomes, systems: Sequence[str], epochs: int, vector_cnn_epochs: int) -> str:
    """The epoch the validation actor kept for each of ``systems``' chosen candidates, of the epochs
    its back-end trains (:func:`epoch_budget`)."""
    return "; ".join(f"{SYSTEMS[c.system][0]} {c.task}: {c.kept_epoch} of {epoch_budget(c.system, epochs, vector_cnn_epochs)}"
                     for c in protocol.choices.values()
                     if not c.variant and c.kept_epoch and c.system in systems) or "not run"


def validation_at_chosen_rates(protocol: ProtocolOutcomes, systems: Sequence[str]) -> str:
    """Each of ``systems``' utterance UA on the validation actor at the rate it chose (paper protocol)."""
    return "; ".join(f"{SYSTEMS[c.system][0]} {c.task}: {100 * c.validation_ua[c.chosen]:.1f}" for c in protocol.choices.values()
                     if not c.variant and c.system in systems) or "not run"


def fau_results_file(corpus: Corpus, settings: Settings, device: str, table1: dict[str, TableOutcomes], table4: TableOutcomes) -> results.ResultsFile:
    """Tables 1 and 4 on FAU-Aibo beside the paper's values."""
    record = results.ResultsFile(
        paper=PAPER, corpus="fau-aibo", profile=settings.profile, device=device, seeds=list(range(settings.table3_splits)),
        started=corpus.started,
        protocol="FAU-Aibo (IS2009 chunks). Table 1: one school trains, the other tests (speaker-disjoint). "
                 "Table 4: 2-class, random 75/25 utterance splits. UA of chunks.",
        notes={"settings": asdict(settings), "hparams": asdict(HPARAMS)})
    for column, table_outcomes in table1.items():
        train_school, test_school = column.split("→")
        for (system, task), cell_outcomes in table_outcomes.outcomes.items():
            value = PAPER_FAU[system][train_school, test_school][0 if task == "2-class" else 1]
            record.add(results.ResultRow(table="Table 1", row=SYSTEMS[system][0], column=f"{column} {task}", metric="UA",
                                      level="utterance", paper_value=value / 100,
                                      **results.summarise_splits(cell_outcomes, "utterance", "UA", settings.n_boot)))
    add_rows(record, corpus, "Table 4", table4, {("Table 4", "feature_proposed"): {"2-class": PAPER_TABLE4["Proposed Framework"]}},
             settings.n_boot)
    record.training_seconds.update({"Table 1": sum(t.training_seconds for t in table1.values()), "Table 4": table4.training_seconds})
    return record


#: The acted corpus's task whose validated learning rate each FAU-Aibo task reuses (FAU-Aibo has no
#: validation speaker): its 5 classes take the multi-class task's rate, its NEG/IDL pair (negative
#: against idle) the valence task's.
FAU_RATE_TASK = {"5-class": "8-class", "2-class": "2-class valence"}


def fau_rates(chosen: Mapping[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """The acted corpus's chosen rates by (system, task) under FAU-Aibo's task names (:data:`FAU_RATE_TASK`)."""
    return {(system, fau_task): rate for (system, task), rate in chosen.items()
            for fau_task, source in FAU_RATE_TASK.items() if task == source}


def run_fau_aibo(corpus: Corpus, settings: Settings, device: str = "auto", cache: str | Path | None = None,
                 reuse_rates: Mapping[tuple[str, str], float] | None = None, log=print) -> results.ResultsFile:
    """Tables 1 (both school directions, every system) and 4 (proposed, 2-class, 75/25 splits),
    each network at the rate the acted corpus's validation actor chose for its system and the task
    :data:`FAU_RATE_TASK` maps its task to (``reuse_rates``, by the acted corpus's task names)."""
    rates = fau_rates(reuse_rates or {})
    table1 = {f"{a}→{b}": run_table(corpus, "Table 1", list(PAPER_FAU), [school_split(corpus, a, b)], settings, device, cache,
                                    reuse_rates=rates, log=log)
              for a, b in (("Mont", "Ohm"), ("Ohm", "Mont"))}
    table4 = run_table(corpus, "Table 4", ["feature_proposed"], table3_splits(corpus, settings), settings, device, cache, tasks=["2-class"],
                       reuse_rates=rates, log=log)
    return fau_results_file(corpus, settings, device, table1, table4)


# --------------------------------------------------------------------------- figures


def conv_capsule_points(model: TemporalCapsuleNetwork, x: np.ndarray, points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 2: squashed conv-capsule vectors at every time step of the windows ``x``, an equal
    random sample per capsule: (vectors, capsule index)."""
    conv, _ = capsule_activations(model, x)
    capsules = conv.shape[1]
    vectors = conv.transpose(1, 0, 2, 3).reshape(capsules, -1, conv.shape[-1])  # (K, windows × T', filters)
    per_capsule = min(points // capsules, vectors.shape[1])
    rng = np.random.default_rng(seed)
    chosen = np.stack([v[rng.choice(len(v), per_capsule, replace=False)] for v in vectors])
    return chosen.reshape(-1, chosen.shape[-1]), np.repeat(np.arange(capsules), per_capsule)


def output_capsule_points(model: TemporalCapsuleNetwork, data: Examples, points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 3: class-capsule outputs (flattened) of a random sample of windows, with their labels."""
    chosen = np.random.default_rng(seed).choice(len(data.x), min(points, len(data.x)), replace=False)
    _, outputs = capsule_activations(model, data.x[chosen])
    return outputs.reshape(len(chosen), -1), data.y[chosen]


def ordering_summary(rows: pd.DataFrame) -> str:
    """One line for the summary's scoreboard: our UA ordering of the systems vs the paper's."""
    return common.ordering_of_rows(rows)
