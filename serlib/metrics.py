"""Classification metrics: WA, UA, confusion matrices and bootstrap confidence intervals.

WA and UA are plain NumPy: the bootstraps call them hundreds of thousands of times, and
scikit-learn's input validation made one call cost milliseconds (a test pins them to
scikit-learn's ``accuracy_score`` and ``balanced_accuracy_score``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn import metrics as sk


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class (classes 0..n_classes-1)."""
    return sk.confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def row_normalised(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its total (per-class recall on the diagonal); empty rows stay 0."""
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)


def _decisions(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both label vectors as arrays; empty or unequal lengths are an error."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"need two non-empty label vectors of one length, got shapes {y_true.shape} and {y_pred.shape}")
    return y_true, y_pred


def weighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """WA: the fraction of correct decisions (plain accuracy)."""
    y_true, y_pred = _decisions(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """UA (= UAR, balanced accuracy): mean per-class recall over the classes present in ``y_true``
    (a predicted class absent from ``y_true`` only counts as an error)."""
    y_true, y_pred = _decisions(y_true, y_pred)
    classes, true_class = np.unique(y_true, return_inverse=True)
    correct = np.bincount(true_class, weights=y_true == y_pred, minlength=len(classes))
    return float(np.mean(correct / np.bincount(true_class, minlength=len(classes))))


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
    if preds.shape[1] != len(y_true) or len(groups) != len(y_true):
        raise ValueError(f"{len(y_true)} test items, but predictions of {preds.shape[1]} and groups of {len(groups)}")
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


def _speaker_then_group_draw(speakers: np.ndarray, groups: np.ndarray,
                             rng: np.random.Generator) -> Callable[[], np.ndarray]:
    """A function drawing one two-level resample of item rows: speakers with replacement, then,
    within each drawn speaker, as many of its groups as it has, with replacement, each with all
    its items. An error names a group that spans two speakers."""
    if len(speakers) != len(groups):
        raise ValueError(f"{len(groups)} groups for {len(speakers)} speakers: one of each per item")
    group_ids, group_of_item = np.unique(groups, return_inverse=True)
    order = np.argsort(group_of_item, kind="stable")  # items, group by group
    sizes = np.bincount(group_of_item, minlength=len(group_ids))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    speaker_ids, speaker_of_item = np.unique(speakers, return_inverse=True)
    speaker_of_group = speaker_of_item[order[starts]]
    if (spanning := np.flatnonzero(np.bincount(group_of_item, weights=speaker_of_item != speaker_of_group[group_of_item]))).size:
        raise ValueError(f"group {group_ids[spanning[0]].item()!r} holds items of more than one speaker")
    groups_of = [np.flatnonzero(speaker_of_group == s) for s in range(len(speaker_ids))]

    def draw() -> np.ndarray:
        drawn = np.concatenate([rng.choice(groups_of[s], len(groups_of[s]))
                                for s in rng.integers(0, len(groups_of), len(groups_of))])
        counts = sizes[drawn]
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return order[np.repeat(starts[drawn], counts) + offsets]

    return draw


def paired_difference_ci(
    y_true: np.ndarray,
    first: Sequence[np.ndarray],
    second: Sequence[np.ndarray],
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    groups: np.ndarray | None = None,
    speakers: np.ndarray | None = None,
    resample_seeds: bool = False,
) -> tuple[float, float, float]:
    """Seed-averaged ``metric`` of ``first`` minus that of ``second`` on the same test items, with a
    paired percentile bootstrap CI (one resample of the items scores both): (difference, low, high).
    With ``groups`` (e.g. the utterance of each window) whole groups are resampled. With
    ``speakers`` (the speaker of each item) the bootstrap has two levels: speakers are drawn with
    replacement, then items within each drawn speaker, so that the CI also covers which speakers
    a corpus happens to have (nEMO: 9). With both, the second level draws whole groups within each
    drawn speaker (an utterance that several fold models predicted is drawn with all its
    predictions); a group must belong to one speaker. With ``resample_seeds``, each resample also
    draws each system's seeds (its prediction vectors) with replacement, independently for the two
    systems (separate trainings), so that the CI covers the spread between trainings too."""
    y_true = np.asarray(y_true)
    a, b = (np.stack([np.asarray(p) for p in preds]) for preds in (first, second))
    if a.shape[1] != len(y_true) or b.shape[1] != len(y_true):
        raise ValueError("both systems must predict every test item, in the same order")

    def difference(rows: np.ndarray, seeds_a: np.ndarray | None = None, seeds_b: np.ndarray | None = None) -> float:
        return float(np.mean([metric(y_true[rows], p[rows]) for p in (a if seeds_a is None else a[seeds_a])])
                     - np.mean([metric(y_true[rows], p[rows]) for p in (b if seeds_b is None else b[seeds_b])]))

    rng = np.random.default_rng(seed)
    if speakers is not None and groups is not None:
        draw_rows = _speaker_then_group_draw(np.asarray(speakers), np.asarray(groups), rng)
    elif speakers is not None:
        _, inverse = np.unique(np.asarray(speakers), return_inverse=True)
        members = [np.flatnonzero(inverse == s) for s in range(inverse.max() + 1)]

        def draw_rows() -> np.ndarray:
            return np.concatenate([rng.choice(members[s], len(members[s])) for s in rng.integers(0, len(members), len(members))])
    elif groups is None:
        def draw_rows() -> np.ndarray:
            return rng.integers(0, len(y_true), len(y_true))
    else:
        _, inverse = np.unique(np.asarray(groups), return_inverse=True)
        members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]

        def draw_rows() -> np.ndarray:
            return np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])

    def resample() -> float:
        rows = draw_rows()
        if not resample_seeds:
            return difference(rows)
        return difference(rows, rng.integers(0, len(a), len(a)), rng.integers(0, len(b), len(b)))

    scores = np.array([resample() for _ in range(n_boot)])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return difference(np.arange(len(y_true))), float(low), float(high)
