"""Jalal, Loweimi, Moore & Hain, *Learning temporal clusters using capsule routing for speech
emotion recognition* (Interspeech 2019).

Protocol: Feature* (F0 + 23 MFCC + log-energy, Δ, ΔΔ; §4.1) or FB128 frames in ±45-frame
context windows (§4.1) → BLSTM (2 × 256) → K 1D conv capsules of 90 filters → routing (§3), and
the baselines of Tables 1 and 3. RAVDESS: Table 2 speaker-independent (19 actors train, one
validates, 4 test), Table 3 random 75/25 splits × 10; FAU-Aibo: Table 1 (one school trains, the
other tests) and Table 4 (2-class, 75/25 × 10). Tasks: 8-class (FAU: 5-class) and 2-class, the
latter read both as valence (§4.3) and as intensity (Fig. 3).

Every (table, system, task, split, seed, learning rate) is one cached training
(:func:`system_training`). Each network's learning rate is chosen once per system and task from a
grid fixed in advance, by the utterance-level UA of Table 2's validation actor
(:func:`run_protocol`); Table 2 then trains three seeds, Table 3 its random splits at that rate.
Labelled variants (:data:`VARIANTS`) read the conv capsules the other way §3 allows, test
Table 3's baselines on unseen actors, and train on denser context windows.

One job per module, each using only those before it: :mod:`~serlib.papers.capsule.config`
(extractors, hyperparameters, systems, variants, settings and profiles, the paper's values),
:mod:`~serlib.papers.capsule.data` (corpora, tasks, splits), :mod:`~serlib.papers.capsule.trainings`
(inputs per split, one training), :mod:`~serlib.papers.capsule.protocol` (learning-rate choice, the
tables' runs, the grid) and :mod:`~serlib.papers.capsule.page` (results rows, the page's tables,
verdicts and figure points). Every name is re-exported here: ``capsule.<name>`` is the interface.
"""

from __future__ import annotations

from serlib.papers.capsule.config import (PAPER, FEATURE_STAR, FB128, EGEMAPS, EXTRACTORS, Hyperparameters, HPARAMS,
                                          SYSTEMS, TASKS, Variant, VARIANTS, variant, Settings, PROFILES, settings,
                                          PAPER_VALUES, QUOTED_TABLE2, PAPER_FAU, PAPER_TABLE4, RAVDESS_ORDER)
from serlib.papers.capsule.data import (Task, Corpus, acted_tasks, corpus_features, load_acted,
                                        load_fau_aibo, table2_split, table3_splits, school_split)
from serlib.papers.capsule.trainings import (supervectors, split_inputs, model_builder, epoch_budget, network_config,
                                             svm_estimator, is_network, system_identity, system_training, train_system,
                                             trained_model)
from serlib.papers.capsule.protocol import (LearningRateChoice, choose_learning_rate, Cell, protocol_cells,
                                            training_variant, rate_variant, table_runs, rate_candidates, rate_choice,
                                            cell_trainings, TableOutcomes, ProtocolOutcomes, CellPlan, plan_cell, run_protocol,
                                            cell_line,
                                            GRID_STAGES, training_grid, run_table)
from serlib.papers.capsule.page import (constant_outputs, add_rows, not_run, acted_results_file, paper_beside_ours,
                                        binary_reading_gaps, choices_table, utterance_rows, variant_table,
                                        system_order, verdict_box, why_table, protocol_rates, unseen_actor_baselines,
                                        kept_epochs, validation_at_chosen_rates, fau_results_file, FAU_RATE_TASK, fau_rates, run_fau_aibo,
                                        conv_capsule_points, output_capsule_points, ordering_summary)
from serlib.papers.capsule.data import _task  # noqa: F401 - private, kept reachable
from serlib.papers.capsule.trainings import _scaled  # noqa: F401 - private, kept reachable

__all__ = ["PAPER", "FEATURE_STAR", "FB128", "EGEMAPS", "EXTRACTORS", "Hyperparameters", "HPARAMS", "SYSTEMS", "TASKS",
           "Variant", "VARIANTS", "variant", "Settings", "PROFILES", "settings", "PAPER_VALUES", "QUOTED_TABLE2",
           "PAPER_FAU", "PAPER_TABLE4", "RAVDESS_ORDER", "Task", "Corpus", "acted_tasks", "corpus_features",
           "load_acted", "load_fau_aibo", "table2_split", "table3_splits", "school_split",
           "supervectors", "split_inputs", "model_builder", "epoch_budget", "network_config", "svm_estimator",
           "is_network", "system_identity", "system_training", "train_system", "trained_model", "LearningRateChoice",
           "choose_learning_rate", "Cell", "protocol_cells", "training_variant", "rate_variant", "table_runs",
           "rate_candidates", "rate_choice", "cell_trainings", "TableOutcomes", "ProtocolOutcomes", "CellPlan", "plan_cell", "run_protocol", "cell_line",
           "GRID_STAGES", "training_grid", "run_table", "constant_outputs", "add_rows", "not_run", "acted_results_file",
           "paper_beside_ours", "binary_reading_gaps", "choices_table", "utterance_rows", "variant_table",
           "system_order", "verdict_box", "why_table", "protocol_rates", "unseen_actor_baselines", "kept_epochs",
           "validation_at_chosen_rates", "fau_results_file", "FAU_RATE_TASK", "fau_rates", "run_fau_aibo", "conv_capsule_points", "output_capsule_points",
           "ordering_summary"]
