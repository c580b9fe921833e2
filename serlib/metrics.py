"""Classification metrics: WA, UA, confusion matrices and bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its total (per-class recall on the diagonal); empty rows stay 0."""
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)


def weighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """WA: the fraction of correct decisions (plain accuracy)."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """UA (= UAR): mean per-class recall over the classes present in ``y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "WA": weighted_accuracy,
    "UA": unweighted_accuracy,
}


def bootstrap_ci(
    y_true: np.ndarray,
    y_preds: Sequence[np.ndarray],
    metric: Callable[[np.ndarray, np.ndarray], float],
    groups: np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the seed-averaged ``metric`` over test utterances.

    ``y_preds`` holds one prediction vector per seed (same test items). Resampling draws whole
    ``groups`` (utterances) with replacement, so window-level metrics respect that windows of
    one utterance are not independent.
    """
    y_true = np.asarray(y_true)
    preds = np.stack([np.asarray(p) for p in y_preds])
    groups = np.arange(len(y_true)) if groups is None else np.asarray(groups)
    unique, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(unique))]
    rng = np.random.default_rng(seed)
    scores = np.empty(n_boot)
    for b in range(n_boot):
        rows = np.concatenate([members[g] for g in rng.integers(0, len(unique), len(unique))])
        scores[b] = np.mean([metric(y_true[rows], p[rows]) for p in preds])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)
