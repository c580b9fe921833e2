"""What every paper's protocol shares, one job a module; every name is re-exported here, so
``common.<name>`` is the interface:

- :mod:`~serlib.papers.common.settings`: profiles with typed overrides (notebook parameters, ``-p``),
  the valid values each setting declares, a labelled variant by name, and the ``serlib reproduce``
  command of a page's settings;
- :mod:`~serlib.papers.common.corpus`: the corpus a paper runs on (registered name or CSV
  manifest), its speech only, the paper's classes mapped onto it, the smoke subsets;
- :mod:`~serlib.papers.common.sessions`: the IEMOCAP papers' 4-class task and speaker-disjoint
  folds on any corpus;
- :mod:`~serlib.papers.common.trainings`: one training as a function of its key, whose outcome is
  stored in the cache;
- :mod:`~serlib.papers.common.page_text`: the sentences and small tables every page prints;
- :mod:`~serlib.papers.common.comparisons`: two systems' paired difference with a CI over speakers
  and their utterances, at a level corrected for a verdict's number of comparisons.
"""

from __future__ import annotations

from serlib.papers.common.settings import (
    Valid, setting, variants_setting, resolve, named, parameter_text, reproduce_command
)
from serlib.papers.common.corpus import (
    corpus_label, check_corpus_name, load_corpus, load_speech, speech_only, ClassMapping, map_classes,
    smoke_speakers, smoke_subset
)
from serlib.papers.common.sessions import (
    FOUR_CLASSES, SessionTask, SESSION_TASKS, four_class_manifest, SESSION_FOLDS, SESSION_FOLD_NUMBERS,
    session_task, with_sessions, session_corpus
)
from serlib.papers.common.trainings import (
    training_seconds, TrainingKey, OUTCOME_FILE, KEY_FILE, CHECKPOINT_FILE, NETWORK_FILE,
    TESTED_PATTERN, training_folder, folder_of, committed_outcome, tested_path, save_tested, tested_seconds, save_outcome, load_outcome,
    training_outcome, Training
)
from serlib.papers.common.comparisons import resamples, corrected_level, correction, paired_difference, comparison_cells
from serlib.papers.common.page_text import (
    banner, listed, signed_ci, reference_list, prose_frame, describe_settings, sign_agreement, ranking, ordering_line, ordering_of_rows
)

__all__ = [
    "Valid", "setting", "variants_setting", "resolve", "named", "parameter_text", "reproduce_command",
    "corpus_label", "check_corpus_name",
    "load_corpus", "load_speech", "speech_only", "ClassMapping", "map_classes", "smoke_speakers",
    "smoke_subset", "FOUR_CLASSES", "SessionTask", "SESSION_TASKS", "four_class_manifest",
    "SESSION_FOLDS", "SESSION_FOLD_NUMBERS", "session_task", "with_sessions", "session_corpus",
    "training_seconds", "TrainingKey", "OUTCOME_FILE", "KEY_FILE", "CHECKPOINT_FILE", "NETWORK_FILE",
    "TESTED_PATTERN", "training_folder", "folder_of", "committed_outcome", "tested_path", "save_tested", "tested_seconds", "save_outcome",
    "load_outcome", "training_outcome", "Training", "banner", "listed", "signed_ci", "reference_list", "prose_frame", "describe_settings",
    "sign_agreement", "ranking", "ordering_line", "ordering_of_rows", "resamples", "corrected_level", "correction", "paired_difference", "comparison_cells"
]
