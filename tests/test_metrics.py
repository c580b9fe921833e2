import warnings

import numpy as np
import pytest
from sklearn import metrics as sk

from serlib import metrics


def test_ua_and_wa_on_a_hand_made_confusion():
    # class 0: 8 of 10 right; class 1: 1 of 2 right  → WA = 9/12, UA = (0.8 + 0.5) / 2
    y_true = np.array([0] * 10 + [1] * 2)
    y_pred = np.array([0] * 8 + [1] * 2 + [1, 0])
    assert metrics.weighted_accuracy(y_true, y_pred) == pytest.approx(0.75)
    assert metrics.unweighted_accuracy(y_true, y_pred) == pytest.approx(0.65)
    matrix = metrics.confusion_matrix(y_true, y_pred, 3)
    assert matrix.tolist() == [[8, 2, 0], [1, 1, 0], [0, 0, 0]]
    assert metrics.row_normalised(matrix).tolist() == [[0.8, 0.2, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]


def test_wa_and_ua_equal_scikit_learn_exactly():
    """The NumPy WA and UA are scikit-learn's, bit for bit: with a predicted class absent from
    y_true, with string labels, and on a single class."""
    rng = np.random.default_rng(1)
    cases = [(rng.integers(0, 7, n), rng.integers(0, 7, n)) for n in (1, 5, 40, 999)]
    cases += [(np.array([0, 0, 1, 1]), np.array([0, 2, 1, 2])),  # class 2 predicted, never true
              (np.array(["anger", "joy", "joy"]), np.array(["joy", "joy", "sad"])),
              (np.array([3, 3, 3]), np.array([3, 1, 3]))]
    for y_true, y_pred in cases:
        assert metrics.weighted_accuracy(y_true, y_pred) == sk.accuracy_score(y_true, y_pred)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # scikit-learn warns about a class never true
            assert metrics.unweighted_accuracy(y_true, y_pred) == sk.balanced_accuracy_score(y_true, y_pred)


def test_wa_and_ua_refuse_mismatched_or_empty_labels():
    for y_true, y_pred in (([0, 1], [0]), ([], []), ([[0, 1]], [[0, 1]])):
        with pytest.raises(ValueError, match="non-empty label vectors of one length"):
            metrics.unweighted_accuracy(y_true, y_pred)
        with pytest.raises(ValueError, match="non-empty label vectors of one length"):
            metrics.weighted_accuracy(y_true, y_pred)


def test_bootstrap_ci_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 400)
    y_pred = np.where(rng.random(400) < 0.6, y_true, rng.integers(0, 4, 400))
    low, high = metrics.bootstrap_ci(y_true, [y_pred], metrics.weighted_accuracy, n_boot=500)
    estimate = metrics.weighted_accuracy(y_true, y_pred)
    assert low < estimate < high and 0.03 < high - low < 0.2


def test_grouped_bootstrap_is_wider_for_correlated_windows():
    # 20 utterances × 50 windows, each utterance all right or all wrong: 20 effective samples, not 1000
    y_true = np.zeros(1000, dtype=int)
    y_pred = np.repeat(np.arange(20) % 2, 50)
    groups = np.repeat(np.arange(20), 50)
    naive = metrics.bootstrap_ci(y_true, [y_pred], metrics.weighted_accuracy, n_boot=300)
    grouped = metrics.bootstrap_ci(y_true, [y_pred], metrics.weighted_accuracy, groups=groups, n_boot=300)
    assert grouped[1] - grouped[0] > 3 * (naive[1] - naive[0])


def test_paired_difference_resamples_whole_groups():
    """Ten utterances of ten windows each; the two systems differ on two whole utterances. Resampling
    windows treats the 20 differing windows as independent and gives a narrower CI."""
    y_true = np.zeros(100, dtype=int)
    first = np.zeros(100, dtype=int)
    second = first.copy()
    second[:20] = 1  # utterances 0 and 1 wrong for the second system
    utterance = np.repeat(np.arange(10), 10)
    by_window = metrics.paired_difference_ci(y_true, [first], [second], metrics.weighted_accuracy, 500)
    by_utterance = metrics.paired_difference_ci(y_true, [first], [second], metrics.weighted_accuracy, 500, groups=utterance)
    assert by_window[0] == by_utterance[0] == pytest.approx(0.2)
    assert by_utterance[2] - by_utterance[1] > 1.5 * (by_window[2] - by_window[1])


def test_a_two_level_bootstrap_over_speakers_is_wider_when_speakers_disagree():
    """Two systems that differ on some speakers only: resampling speakers as well as utterances
    widens the paired CI beyond the utterance-only one."""
    rng = np.random.default_rng(0)
    speakers = np.repeat(np.arange(9), 60)
    y = rng.integers(0, 4, len(speakers))
    first = y.copy()
    second = np.where((speakers < 3) & (rng.random(len(y)) < 0.6), (y + 1) % 4, y)  # worse on 3 of 9 speakers
    metric = metrics.METRICS["UA"]
    value, low, high = metrics.paired_difference_ci(y, [first], [second], metric, n_boot=300)
    value_s, low_s, high_s = metrics.paired_difference_ci(y, [first], [second], metric, n_boot=300, speakers=speakers)
    assert value == value_s and low_s <= value_s <= high_s
    assert high_s - low_s > 1.5 * (high - low)


def test_speakers_then_groups_draw_each_utterance_with_all_its_predictions():
    """Off a cross-corpus diagonal each utterance is predicted once per fold model. Drawing
    (speaker, utterance) groups gives the CI of one copy, however many copies there are; drawing
    the copies as independent items (speakers only) narrows it."""
    rng = np.random.default_rng(1)
    speakers = np.repeat(np.arange(6), 20)
    y = rng.integers(0, 4, len(speakers))
    first = np.where(rng.random(len(y)) < 0.3, (y + 1) % 4, y)
    second = np.where(rng.random(len(y)) < 0.4, (y + 2) % 4, y)
    metric, copies = metrics.METRICS["UA"], 5
    once = metrics.paired_difference_ci(y, [first], [second], metric, 300, speakers=speakers)
    # singleton groups: the same draws as speakers alone
    assert metrics.paired_difference_ci(y, [first], [second], metric, 300, speakers=speakers,
                                        groups=np.arange(len(y))) == once
    repeated = [np.tile(v, copies) for v in (y, first, second, speakers)]
    utterance = np.tile(np.arange(len(y)), copies)
    grouped = metrics.paired_difference_ci(repeated[0], [repeated[1]], [repeated[2]], metric, 300,
                                           speakers=repeated[3], groups=utterance)
    assert grouped == pytest.approx(once)
    as_items = metrics.paired_difference_ci(repeated[0], [repeated[1]], [repeated[2]], metric, 300, speakers=repeated[3])
    assert as_items[2] - as_items[1] < grouped[2] - grouped[1]
    with pytest.raises(ValueError, match="group 3 holds items of more than one speaker"):
        metrics.paired_difference_ci(y[:4], [first[:4]], [second[:4]], metric, 10, speakers=np.array([0, 0, 1, 1]),
                                     groups=np.array([3, 3, 3, 4]))


def test_the_speaker_then_group_draw_returns_whole_groups_of_their_speakers():
    """Groups of unequal sizes, their items scattered and ids with gaps: every resample is a run of
    whole groups, each group's items in full, each of a drawn speaker, as many groups as it has."""
    rng = np.random.default_rng(3)
    group_speaker = {10: 0, 12: 0, 15: 1, 16: 1, 19: 1, 30: 2}
    groups = rng.permutation(np.repeat(list(group_speaker), [1, 3, 2, 4, 1, 2]))
    speakers = np.array([group_speaker[g] for g in groups])
    items_of = {g: set(np.flatnonzero(groups == g)) for g in group_speaker}
    draw = metrics._speaker_then_group_draw(speakers, groups, np.random.default_rng(0))
    for _ in range(50):
        rows, position, drawn = draw(), 0, []
        while position < len(rows):
            group = groups[rows[position]]
            block = rows[position:position + len(items_of[group])]
            assert set(block) == items_of[group]
            drawn.append(group)
            position += len(block)
        per_speaker = np.bincount([group_speaker[g] for g in drawn], minlength=3)
        assert all(count % size == 0 for count, size in zip(per_speaker, (2, 3, 1)))


def test_resampling_seeds_widens_the_paired_ci_when_trainings_disagree():
    """Ten trainings of one system split into good and poor ones: holding them fixed hides that
    spread; drawing each system's seeds too puts it in the CI. The point estimate is the same."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 4, 400)
    good, poor = y.copy(), np.where(rng.random(len(y)) < 0.6, (y + 1) % 4, y)
    first = [good] * 3 + [poor] * 7
    second = [np.where(rng.random(len(y)) < 0.4, (y + 2) % 4, y) for _ in range(10)]
    metric = metrics.METRICS["UA"]
    fixed = metrics.paired_difference_ci(y, first, second, metric, 400)
    drawn = metrics.paired_difference_ci(y, first, second, metric, 400, resample_seeds=True)
    assert drawn[0] == fixed[0]
    assert drawn[2] - drawn[1] > 3 * (fixed[2] - fixed[1])


def test_a_papers_paired_difference_draws_the_seeds_only_where_a_side_has_several():
    """common.paired_difference: one seed a side is the utterance bootstrap as before (bit for bit);
    with a good and a poor seed on one side, the seeds are drawn too and 0 enters the CI."""
    from serlib import training
    from serlib.papers import common

    y = np.repeat(np.arange(2), 20)

    def outcome(right: int) -> training.Outcome:  # the first ``right`` utterances predicted correctly
        pred = np.where(np.arange(40) < right, y, 1 - y)
        return training.Outcome({"utterance": training.Predictions(y, pred, np.arange(40), np.eye(2)[pred])})

    speakers = np.arange(40) // 10
    single = common.paired_difference([outcome(40)], [outcome(10)], "UA", 300, speakers)
    assert single == metrics.paired_difference_ci(y, [outcome(40).levels["utterance"].y_pred],
                                                  [outcome(10).levels["utterance"].y_pred], metrics.unweighted_accuracy,
                                                  300, speakers=speakers)
    value, low, high = common.paired_difference([outcome(40), outcome(10)], [outcome(10), outcome(10)], "UA", 300, speakers)
    assert value == pytest.approx(0.375) and low == 0.0 and single[1] > 0.25  # the seeds held fixed keep 0 out
