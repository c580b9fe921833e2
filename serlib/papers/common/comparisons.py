"""Paired comparisons of two systems tested on the same utterances: their difference with a
bootstrap CI that draws the test speakers and then their utterances, at a level corrected for how
many comparisons a verdict makes (Bonferroni)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from serlib import metrics, training
from serlib.papers.common.page_text import sign_agreement, signed_ci


def resamples(n_boot: int, level: float) -> int:
    """Bootstrap resamples of a ``level`` CI: ``n_boot``, or more where a corrected CI needs them to
    leave at least 20 resamples beyond each of its ends, so that the ends are stable."""
    return max(n_boot, math.ceil(20 / ((1 - level) / 2)))


def corrected_level(comparisons: int) -> float:
    """The CI level at which each of ``comparisons`` is judged so that all of them together keep
    95 % (Bonferroni): 1 − 0.05 / comparisons."""
    return 1 - 0.05 / max(1, comparisons)


def correction(comparisons: int) -> str:
    """How :func:`corrected_level` reached its level, in words (captions and verdicts)."""
    return f"95 % corrected for {comparisons} comparisons"


def paired_difference(first: list[training.Outcome], second: list[training.Outcome], metric: str, n_boot: int,
                      speakers: np.ndarray | None = None, level: float = 0.95) -> tuple[float, float, float]:
    """``metric`` of ``first`` minus ``second`` (one outcome per seed, utterance level) with a paired
    CI, on the utterances both tested (all of them when every fold ran; their overlap when a run
    tested only some folds); with ``speakers`` (per manifest row) the bootstrap draws speakers,
    then their utterances. With several seeds a side, each resample also draws each side's seeds
    (``resample_seeds``), so that the CI covers the spread between trainings."""
    tested = [o.levels["utterance"] for o in (first[0], second[0])]
    common_utterances = np.intersect1d(tested[0].utterance, tested[1].utterance)
    if not len(common_utterances):
        raise ValueError("the two systems share no test utterance")
    positions = [np.searchsorted(t.utterance, common_utterances, sorter=np.argsort(t.utterance)) for t in tested]
    rows = [np.argsort(t.utterance)[p] for t, p in zip(tested, positions)]
    predictions = [[o.levels["utterance"].y_pred[r] for o in outcomes] for outcomes, r in zip((first, second), rows)]
    return metrics.paired_difference_ci(tested[0].y_true[rows[0]], predictions[0], predictions[1],
                                        metrics.METRICS[metric], n_boot, level,
                                        speakers=None if speakers is None else speakers[common_utterances],
                                        resample_seeds=len(first) > 1 or len(second) > 1)


def comparison_cells(found: pd.DataFrame, name: Callable[[pd.Series], str], paper_label: str = "paper") -> dict[str, dict[str, str]]:
    """Paired differences as table cells, one line per pair (named by ``name(row)``): ``found`` has a
    row per pair and metric (``left``, ``system``, ``metric``; ``ours``, ``low``, ``high`` and the
    ``paper``'s difference in points); ours with its CI and the paper's difference per metric, then
    whether our UA CI establishes the paper's sign."""
    table: dict[str, dict[str, str]] = {}
    for _, row in found.iterrows():
        entry = table.setdefault(name(row), {})
        entry[f"ours {row.metric}"] = signed_ci(row.ours, row.low, row.high, scale=1)
        entry[f"{paper_label} {row.metric}"] = f"{row.paper:+.2f}"
        if row.metric == "UA":
            entry["UA: the paper's sign"] = sign_agreement(row.low, row.high, row.paper)
    return table
