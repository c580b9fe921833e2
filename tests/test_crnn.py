"""The CRNN paper's models and protocol: segmenting inside the model, masking of padded
segments, the three systems' sizes, and the protocol's folds, inputs and choices."""

import numpy as np
import pandas as pd
import pytest
import torch

from serlib import corpora, results, splits, training
from serlib.examples import Examples
from serlib.models.crnn import CRNN, HSFCRNN, MultiCRNN, PlainCRNN, segment_counts
from serlib.models.layers import length_mask, masked_mean_max_min
from serlib.papers import common, crnn
from tests.test_corpora import write_emotass_fixture, write_iemocap_fixture


def test_segment_counts_follow_the_paper_sizes():
    lengths = torch.tensor([10, 30, 49, 50, 70, 245])
    assert segment_counts(lengths, 30, 20).tolist() == [1, 1, 1, 2, 3, 11]  # 30 frames overlapping by 10
    assert segment_counts(lengths, 50, 25).tolist() == [1, 1, 1, 1, 1, 8]  # 50 frames overlapping by 25


def test_masked_pooling_ignores_padding():
    h = torch.randn(2, 5, 3)
    lengths = torch.tensor([5, 2])
    pooled = masked_mean_max_min(h, length_mask(lengths, 5))
    short = h[1, :2]
    assert torch.allclose(pooled[1], torch.cat([short.mean(0), short.amax(0), short.amin(0)]))
    h[1, 2:] = 1e6  # what lies in the padding never matters
    assert torch.allclose(masked_mean_max_min(h, length_mask(lengths, 5))[1], pooled[1])


@pytest.mark.parametrize("model", [PlainCRNN(), MultiCRNN(), HSFCRNN(n_functionals=20)], ids=lambda m: type(m).__name__)
def test_an_utterance_scores_the_same_alone_or_padded_in_a_batch(model):
    """No clipping or padding of an utterance (§3.1): batching with a longer one changes nothing."""
    torch.manual_seed(0)
    model.eval()
    long, short = torch.randn(230, 40), torch.randn(97, 40)
    functionals = torch.randn(2, 20)
    batch = torch.zeros(2, 230, 40)
    batch[0], batch[1, :97] = long, short
    together = model({"spectrogram": batch, "functionals": functionals}, torch.tensor([230, 97]))
    alone = model({"spectrogram": short[None], "functionals": functionals[1:]}, torch.tensor([97]))
    assert together.shape == (2, 4)
    assert torch.allclose(together[1], alone[0], atol=1e-5)


def test_the_systems_have_the_papers_layer_sizes():
    base = CRNN()
    assert base.output_size == 384 and base.lstm.hidden_size == 128
    conv1, conv2 = base.convolutions[0], base.convolutions[3]
    assert (conv1.out_channels, conv1.kernel_size, conv2.out_channels, conv2.kernel_size) == (30, (40, 5), 30, (1, 3))
    assert base.lstm.input_size == 30 * 4  # 30 frames → conv 26 → pool 12 → conv 10 → pool 4
    assert CRNN(segment=50, hop=25).lstm.input_size == 30 * 9
    hsf = HSFCRNN()
    assert [m.out_features for m in hsf.functionals if isinstance(m, torch.nn.Linear)] == [1024, 520, 128]
    assert hsf.functionals[0].in_features == 6373 and hsf.joint[0].out_features == 32
    multi = MultiCRNN()
    assert [m.out_features for m in multi.short_projection if isinstance(m, torch.nn.Linear)] == [128, 128]
    assert multi.joint[0].in_features == 128 + 384
    plain = PlainCRNN()
    assert [m.out_features for m in plain.head.modules() if isinstance(m, torch.nn.Linear)] == [128, 32, 4]
    assert all(isinstance(m, torch.nn.Sigmoid) for m in plain.head[0] if not isinstance(m, torch.nn.Linear))


def test_named_inputs_train_through_the_shared_loop():
    rng = np.random.default_rng(0)
    x = {"spectrogram": rng.normal(size=(12, 80, 40)).astype(np.float32), "functionals": rng.normal(size=(12, 20)).astype(np.float32)}
    data = Examples(x, np.arange(12) % 4, np.arange(12), np.full(12, 80))
    outcome = training.train_and_evaluate(lambda: HSFCRNN(n_functionals=20), {"train": data, "val": data, "test": data},
                                          training.TrainConfig(epochs=2, batch_size=4, select="val", select_metric="UA", progress=False))
    assert len(outcome.history) == 2 and outcome.levels["utterance"].posteriors.shape == (12, 4)
    with pytest.raises(ValueError, match="different numbers of examples"):
        Examples({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))}, np.zeros(3), np.arange(3))


def test_inputs_standardise_with_the_training_speakers_only():
    rng = np.random.default_rng(1)
    spectrograms = [rng.normal(size=(40 + i, 40)).astype(np.float32) for i in range(6)]
    functionals = rng.normal(size=(6, 5)).astype(np.float32)
    parts = {"train": np.array([0, 1, 2]), "val": np.array([3]), "test": np.array([4, 5])}
    before = crnn.inputs(spectrograms, functionals, np.zeros(6, int), parts)
    spectrograms[4] = spectrograms[4] * 100 + 7
    functionals[5] = 1e4
    after = crnn.inputs(spectrograms, functionals, np.zeros(6, int), parts)
    for name in ("spectrogram", "functionals"):
        np.testing.assert_array_equal(before["train"].x[name], after["train"].x[name])
    frames = np.concatenate([before["train"].x["spectrogram"][i, :n] for i, n in enumerate(before["train"].lengths)])
    np.testing.assert_allclose(frames.mean(axis=0), 0, atol=1e-5)
    assert before["test"].lengths.tolist() == [44, 45] and before["test"].x["spectrogram"].shape == (2, 45, 40)


def test_nemo_folds_hold_out_each_session_with_a_validation_speaker_from_the_next(corpora_root):
    manifest = corpora.load_manifest("nemo", corpora_root / "nemo", download=False)
    folds = splits.session_folds(manifest, validate_on_next=True)
    assert [manifest["speaker"].iloc[f.val].unique().tolist() for f in folds] == [["IC0"], ["KD0"], ["MK0"], ["WR0"], ["EB0"]]
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(3076))
    for fold in folds:
        assert len(fold.train) + len(fold.val) + len(fold.test) == 3076
    leaky = splits.Split("leaky", folds[0].train, folds[1].test, folds[0].test, speaker_independent=False)
    with pytest.raises(splits.SpeakerLeakError):
        splits.check_speaker_disjoint(manifest, leaky)


def test_iemocap_merges_excitement_and_the_single_split_carries_the_papers_numbers(tmp_path):
    write_iemocap_fixture(tmp_path / "iemocap", turns_per_speaker=1, labels=("neu", "ang", "sad", "hap", "exc", "fru"))
    settings = crnn.settings("full", test_folds="4,5", learning_rates="1e-3,3e-3", epochs=2, n_boot=100)
    data = crnn.load_data(settings, corpus="iemocap", root=tmp_path / "iemocap", cache=tmp_path / "cache", progress=False)
    assert "frustration" not in set(data.manifest["emotion"])
    assert data.manifest["emotion"].value_counts()["happiness"] == 2 * data.manifest["emotion"].value_counts()["anger"]
    fold_outcomes = crnn.run_table1(data, settings, "cpu", tmp_path / "cache", log=lambda line: None)
    for (system, session), rate in fold_outcomes.chosen.items():  # each fold's rate is its best on validation
        scores = {r: np.mean([o.validation_score("UA") for o in fold_outcomes.outcomes[system, session, r]]) for r in settings.learning_rates}
        assert scores[rate] == max(scores.values())
    record = crnn.results_file(data, fold_outcomes, settings, "cpu")
    rows = record.table()
    scored = results.scores(rows)
    compared = scored[scored["paper_value"].notna()]
    assert set(compared["column"]) == {"single split (session 5 tests)"} and len(compared) == 6
    assert compared.set_index(["row", "metric"]).loc[("HSF-CRNN", "UA"), "paper_value"] == pytest.approx(0.6398)
    assert set(rows["column"]) == {"2-fold leave-one-session-out", "single split (session 5 tests)"}
    # the paper's ordering as three paired differences on the pooled sessions, beside the paper's differences
    paired = results.differences(rows).set_index(["row", "metric"])
    assert len(paired) == 6 and set(paired["column"]) == {"2-fold leave-one-session-out"}
    assert paired["ci_level"].tolist() == pytest.approx([1 - 0.05 / 3] * 6) and (paired["ci_low"] <= paired["value"]).all()
    pooled = scored[scored["column"] == "2-fold leave-one-session-out"].set_index(["row", "metric"])["value"]
    hsf_plain = paired.loc[(results.difference_name("HSF-CRNN", "Plain CRNN"), "UA")]
    assert hsf_plain["value"] == pytest.approx(pooled["HSF-CRNN", "UA"] - pooled["Plain CRNN", "UA"])
    assert hsf_plain["paper_value"] == pytest.approx(0.6398 - 0.5642)
    table2 = crnn.run_table2(write_emotass(tmp_path / "emotass"), data, fold_outcomes, settings, "cpu", tmp_path / "cache", progress=False)
    assert {(r.row, r.column) for r in table2.rows} == {(s, "Develop set") for s in crnn.SYSTEMS}
    assert all(r.paper_value == crnn.PAPER_TABLE2[r.row, "Develop set"] for r in table2.rows)


def write_emotass(root):
    write_emotass_fixture(root)
    return root


def test_the_stand_in_is_never_compared_with_the_papers_numbers():
    assert crnn.TASKS["nemo"].stand_in and not crnn.TASKS["iemocap"].stand_in
    scores = {"Plain CRNN": 0.5, "Multi-CRNN": 0.6, "HSF-CRNN": 0.55}
    assert common.ranking(scores) == ("Multi-CRNN", "HSF-CRNN", "Plain CRNN")
    assert crnn.paper_table(crnn.PAPER_TABLE1).loc["HSF-CRNN", "UA"] == "63.98"


def test_the_papers_tables_keep_their_printed_digits():
    printed = crnn.paper_table(crnn.PAPER_TABLE2)
    assert printed.loc["Baseline [20]"].tolist() == ["41.8", "28.0"]
    assert printed.loc["HSF-CRNN", "Test set"] == "35.795" and printed.loc["Plain CRNN", "Test set"] == "–"


@pytest.mark.parametrize("overrides, message", [
    ({"systems": "Plain CRNN,CRNN-X"}, r"parameter systems: unknown value\(s\) \['CRNN-X'\]"),
    ({"corpus": "emodbx"}, r"parameter corpus: unknown corpus 'emodbx'; known: \[.*'emodb'"),  # any registered corpus or a CSV
    ({"learning_rates": "0"}, "parameter learning_rates: every value must be above 0"),
    ({"test_fold": "1"}, r"unknown parameter\(s\) \['test_fold'\]"),
])
def test_bad_parameters_are_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        crnn.settings("full", **overrides)


def _table1_rows(ua: dict[str, tuple[float, float, float]], seeds: int = 1) -> pd.DataFrame:
    """Table 1 rows of the pooled view with given (value, CI low, CI high) UA and WA."""
    return pd.DataFrame([
        {"table": "Table 1", "row": system, "column": "5-fold leave-one-session-out", "metric": metric,
         "value": value, "ci_low": low, "ci_high": high, "seeds": seeds}
        for system, (value, low, high) in ua.items() for metric in ("WA", "UA")])


def _difference_rows(found: dict[tuple[str, str], tuple[float, float, float]], level: float = 1 - 0.05 / 3) -> pd.DataFrame:
    """Paired UA and WA differences ``first − second`` of the pooled view with given (value, CI low, CI high)."""
    return pd.DataFrame([
        {"table": "Table 1", "row": results.difference_name(first, second), "column": "5-fold leave-one-session-out",
         "metric": metric, "value": value, "ci_low": low, "ci_high": high, "seeds": 1, "quantity": results.DIFFERENCE,
         "ci_level": level, "paper_value": crnn.PAPER_TABLE1[first, metric] - crnn.PAPER_TABLE1[second, metric]}
        for (first, second), (value, low, high) in found.items() for metric in ("WA", "UA")])


def test_the_verdict_says_whether_the_papers_ordering_holds_and_which_paired_differences_establish_it():
    held = _table1_rows({"Plain CRNN": (0.45, 0.42, 0.48), "Multi-CRNN": (0.50, 0.47, 0.53), "HSF-CRNN": (0.60, 0.57, 0.63)})
    text = crnn.verdict(held, "nemo", "full")
    assert "by point score the paper's UA ordering HSF-CRNN > Multi-CRNN > Plain CRNN holds" in text
    assert "Paired UA differences" not in text  # none stored: the scores alone judge nothing
    assert "With 1 seed per system these CIs cover the test speakers and utterances, not a rerun's spread" in text
    three_seeds = _table1_rows({"Plain CRNN": (0.45, 0.42, 0.48), "HSF-CRNN": (0.60, 0.57, 0.63)}, seeds=3)
    assert "seed" not in crnn.verdict(three_seeds, "nemo", "full")
    two_seeds = pd.concat([_table1_rows({"Plain CRNN": (0.45, 0.42, 0.48), "HSF-CRNN": (0.60, 0.57, 0.63)}, seeds=2),
                           _difference_rows({("HSF-CRNN", "Plain CRNN"): (0.15, 0.08, 0.22)})], ignore_index=True)
    text_two = crnn.verdict(two_seeds, "nemo", "full")
    assert "over the test speakers and their utterances, and the 2 seeds of each (" in text_two
    assert "With 2 seeds per system these CIs draw the seeds too, but so few show little of a rerun's spread" in text_two
    assert crnn.ordering_summary(held) == "UA: HSF-CRNN > Multi-CRNN > Plain CRNN (the paper's order)"
    paired = pd.concat([held, _difference_rows({("HSF-CRNN", "Multi-CRNN"): (0.10, 0.02, 0.18),
                                                ("Multi-CRNN", "Plain CRNN"): (0.05, -0.01, 0.11),
                                                ("HSF-CRNN", "Plain CRNN"): (0.15, 0.08, 0.22)})], ignore_index=True)
    text = crnn.verdict(paired, "nemo", "full")
    assert ("each with a 98.3 % CI over the test speakers and their utterances (95 % corrected for 3 comparisons): "
            "HSF-CRNN − Multi-CRNN +10.0 [+2.0, +18.0] (agrees); Multi-CRNN − Plain CRNN +5.0 [-1.0, +11.0] (not established); "
            "HSF-CRNN − Plain CRNN +15.0 [+8.0, +22.0] (agrees). The paper's sign is established for 2 of 3, the opposite for 0") in text
    assert crnn.ordering_summary(paired) == (
        "the paper's order as paired differences: its sign established for 2 of 3 (HSF-CRNN − Multi-CRNN, HSF-CRNN − Plain "
        "CRNN), the opposite for 0; by point score, UA: HSF-CRNN > Multi-CRNN > Plain CRNN (the paper's order)")
    assert crnn.ordering(paired, "5-fold leave-one-session-out").loc["UA", crnn.NEIGHBOURS] == "yes, no"
    table = crnn.differences_table(paired, "5-fold leave-one-session-out")  # WA and UA of each pair, beside the paper's
    assert table.loc["HSF-CRNN − Multi-CRNN", "ours WA"] == "+10.0 [+2.0, +18.0]"
    assert table.loc["HSF-CRNN − Multi-CRNN", "paper (IEMOCAP) UA"] == "+5.92"
    assert table.loc["Multi-CRNN − Plain CRNN", "UA: the paper's sign"] == "not established"
    assert "98.3 % (95 % corrected for 3 comparisons)" in table.attrs["caption"]
    assert crnn.differences_table(held, "5-fold leave-one-session-out").empty
    broken = pd.concat([_table1_rows({"Plain CRNN": (0.55, 0.52, 0.58), "Multi-CRNN": (0.50, 0.47, 0.53), "HSF-CRNN": (0.60, 0.57, 0.63)}),
                        _difference_rows({("Multi-CRNN", "Plain CRNN"): (-0.05, -0.11, 0.01),
                                          ("HSF-CRNN", "Plain CRNN"): (0.05, 0.01, 0.09)})], ignore_index=True)
    assert "does not hold: ours is HSF-CRNN > Plain CRNN > Multi-CRNN" in crnn.verdict(broken, "nemo", "full")
    table = crnn.ordering(broken, "5-fold leave-one-session-out")  # HSF > Plain stored as such; Plain > Multi read from Multi − Plain
    assert not table.loc["UA", "same order"] and table.loc["UA", crnn.NEIGHBOURS] == "yes, no"
    assert crnn.ordering(held, "5-fold leave-one-session-out").loc["UA", crnn.NEIGHBOURS] == "not compared, not compared"


def test_the_verdict_box_names_what_ran_and_what_needs_a_licence():
    rows = _table1_rows({"Plain CRNN": (0.45, 0.42, 0.48), "Multi-CRNN": (0.50, 0.47, 0.53), "HSF-CRNN": (0.60, 0.57, 0.63)})
    box = crnn.verdict_box(rows, "nemo", "full", {"nemo"})
    assert "Table 1's protocol on **nEMO**" in box and "ordering HSF-CRNN > Multi-CRNN > Plain CRNN holds" in box
    assert "Not reproduced here:** Table 1 on IEMOCAP and Table 2 on EmotAsS: licence-gated" in box
    with_iemocap = crnn.verdict_box(rows, "nemo", "full", {"nemo", "iemocap"})
    assert "Table 1 on IEMOCAP:** run from a licensed copy" in with_iemocap and "Not reproduced here:** Table 2 on EmotAsS" in with_iemocap


def test_the_main_models_rate_is_the_one_the_committed_nemo_run_chose_most():
    """crosscorpus trains HSF-CRNN at one rate: the Table 1 candidate its validation speakers chose most on nEMO."""
    import json
    from collections import Counter

    from serlib import config

    record = json.loads((config.PROJECT_ROOT / "results" / "crnn" / "nemo-full.json").read_text())
    chosen = Counter(rate for cell, rate in record["notes"]["chosen_learning_rates"].items() if cell.startswith("HSF-CRNN /"))
    assert sum(chosen.values()) == 5
    assert chosen.most_common(1)[0][0] == crnn.MAIN_MODEL_LEARNING_RATE


def test_the_rerun_note_sets_seed_0_beside_its_earlier_run_and_says_how_many_seeds_the_page_draws():
    first_seed = {"Plain CRNN": 0.40, "Multi-CRNN": 0.45, "HSF-CRNN": 0.50}
    one = crnn.rerun_note(first_seed, crnn.settings("full", seeds="0"), "nemo")
    assert "Seed 0's pooled UA moved from 44.6 to 40.0 (Plain CRNN), 42.7 to 45.0 (Multi-CRNN) and 49.0 to 50.0 (HSF-CRNN)" in one
    assert one.endswith("a second seed is what would establish an order.")
    two = crnn.rerun_note(first_seed, crnn.settings("full"), "nemo")  # the full profile's two seeds
    assert "This page trains 2 seeds, and its means and paired CIs draw on all of them" in two
    assert crnn.rerun_note(first_seed, crnn.settings("smoke"), "nemo") == ""
    assert crnn.rerun_note(first_seed, crnn.settings("full", seeds="1,2"), "nemo") == ""  # no earlier run of seed 1
