"""Capsule paper (Jalal et al. 2019): features, conv capsules, routing and the baselines."""

import numpy as np
import pytest
import torch

from serlib import features
from serlib.models.capsule import SYSTEMS, ConvCapsules, TemporalCapsuleNetwork, VectorCNN, capsule_activations
from serlib.models.layers import DynamicRouting, margin_loss, squash


def tone(freq: float, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_feature_star_is_f0_23_mfcc_log_energy_with_dynamics():
    values = features.PitchMFCCEnergy()(tone(220.0))
    assert values.shape == (1 + (16000 - 400) // 160, 75)
    f0 = values[20:-20, 0]  # away from the edges, where the pitch tracker settles
    assert np.median(f0) == pytest.approx(12 * np.log2(220.0 / 27.5), abs=0.5)  # semitones above 27.5 Hz
    static = values[:, :25]
    np.testing.assert_allclose(values[:, 25:50], features.delta(static, 1), atol=1e-5)


def test_feature_star_log_energy_follows_loudness():
    quiet, loud = (features.PitchMFCCEnergy()(a * tone(220.0)) for a in (0.1, 1.0))
    assert loud[:, 24].mean() - quiet[:, 24].mean() == pytest.approx(2 * np.log(10), abs=0.01)


def test_egemaps_has_88_functionals():
    assert features.EGeMAPS()(tone(200.0)).shape == (88,)


def test_trimmed_drops_silence_and_has_its_own_cache_key():
    signal = np.concatenate([np.zeros(8000, np.float32), tone(300.0), np.zeros(8000, np.float32)])
    spectrum = features.LogMel(n_mels=128, n_fft=1024)
    assert len(features.Trimmed(spectrum)(signal)) < len(spectrum(signal)) - 80
    assert features.extractor_key(features.Trimmed(spectrum)) != features.extractor_key(features.Trimmed(spectrum, top_db=20))


def test_context_windows_repeat_edge_frames():
    frames = np.arange(10, dtype=np.float32)[:, None]
    windows = features.context_windows(frames, context=3, shift=4)
    assert windows.shape == (3, 7, 1)  # centres 0, 4, 8
    assert windows[0, :, 0].tolist() == [0, 0, 0, 0, 1, 2, 3]
    assert windows[1, :, 0].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert windows[2, :, 0].tolist() == [5, 6, 7, 8, 9, 9, 9]
    assert features.context_windows(frames[:1], context=45, shift=30).shape == (1, 91, 1)


def test_context_windows_reject_bad_settings():
    with pytest.raises(ValueError, match="shift"):
        features.context_windows(np.zeros((5, 2)), context=2, shift=0)


def test_supervector_length_is_components_times_classes():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 1, 2, 2])
    frames = [rng.normal(loc=y, size=(60, 5)) for y in labels]
    supervectors = features.GMMSupervector(components=4).fit(frames, labels).transform(frames)
    assert supervectors.shape == (6, 4 * 3)
    np.testing.assert_allclose(supervectors.reshape(6, 3, 4).sum(axis=2), 1.0, rtol=1e-5)  # posteriors per GMM


def test_supervector_needs_enough_frames_per_class():
    with pytest.raises(ValueError, match="fewer than 8 components"):
        features.GMMSupervector(components=8).fit([np.zeros((3, 2))], np.array([0]))


@pytest.mark.parametrize("classes, capsules", [(2, 4), (8, 10)])
def test_conv_capsule_shapes_for_k_4_and_10(classes, capsules):
    model = TemporalCapsuleNetwork("proposed", n_inputs=75, n_classes=classes)
    scores = model(torch.randn(3, 91, 75))
    assert scores.shape == (3, classes)
    assert model.conv_capsule_outputs.shape == (3, capsules, 91 - 2, 90)  # K capsules, T' steps, 90 filters
    assert torch.all(model.conv_capsule_outputs.norm(dim=-1) < 1)  # squashed
    lengths = model.class_capsule_outputs.norm(dim=-1)
    torch.testing.assert_close(scores, torch.log(lengths + 1e-8))


def test_routing_over_convolutional_capsules_shares_weights_per_type():
    layer = DynamicRouting(in_capsules=4, in_dim=6, out_capsules=2, out_dim=3)
    out = layer(torch.randn(5, 4, 7, 6))  # 4 types × 7 positions
    assert out.shape == (5, 2, 3) and layer.weight.shape == (4, 2, 3, 6)
    assert layer.coupling.shape == (5, 28, 2)
    torch.testing.assert_close(layer.coupling.sum(dim=2), torch.ones(5, 28))


def test_conv_capsules_group_filters_per_convolution():
    layer = ConvCapsules(n_inputs=8, capsules=4, filters=5, kernel=3)
    assert layer(torch.randn(2, 10, 8)).shape == (2, 4, 8, 5)
    u = layer(torch.zeros(1, 10, 8))  # zero input: every capsule is its convolution's squashed bias
    for k in range(4):
        torch.testing.assert_close(u[0, k, 0], squash(layer.conv.bias[5 * k : 5 * (k + 1)]).detach())


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_system_classifies_windows_and_learns(system):
    torch.manual_seed(0)
    model = TemporalCapsuleNetwork(system, n_inputs=6, n_classes=2, units=8, filters=5)
    x, y = torch.randn(16, 12, 6), torch.randint(0, 2, (16,))
    x[y == 1] += 1.0
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = model.loss(model(x), y)  # the loss the shared loop trains it with
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_unknown_system_or_class_count_is_refused():
    with pytest.raises(ValueError, match="system must be one of"):
        TemporalCapsuleNetwork("lstm", 75, 8)
    with pytest.raises(ValueError, match="no K given for 5 classes"):
        TemporalCapsuleNetwork("proposed", 75, 5)
    assert TemporalCapsuleNetwork("proposed", 75, 5, capsules=6).conv_capsules.capsules == 6


def test_vector_cnn_shapes():
    assert VectorCNN(n_classes=8)(torch.randn(4, 88)).shape == (4, 8)


def test_capsule_activations_for_the_figures():
    model = TemporalCapsuleNetwork("proposed", n_inputs=6, n_classes=2, units=8, filters=5)
    conv, classes = capsule_activations(model, np.random.default_rng(0).normal(size=(7, 12, 6)).astype(np.float32), batch_size=3)
    assert conv.shape == (7, 4, 10, 5) and classes.shape == (7, 2, 16)
    with pytest.raises(ValueError, match="no capsule routing"):
        capsule_activations(TemporalCapsuleNetwork("blstm", 6, 2, units=8), np.zeros((1, 12, 6), np.float32))


def test_margin_loss_matches_sabour_eq4():
    lengths = torch.tensor([[0.95, 0.05], [0.5, 0.6]])
    # row 1: target 0 above m+ and other below m-: 0; row 2: target 1: (0.9-0.6)² + 0.5 (0.5-0.1)² = 0.09 + 0.08
    assert margin_loss(lengths, torch.tensor([0, 1])).item() == pytest.approx((0.0 + 0.17) / 2)


def test_routing_systems_train_with_the_margin_loss_others_with_cross_entropy():
    scores, targets = torch.log(torch.tensor([[0.5, 0.6]])), torch.tensor([1])
    routed = TemporalCapsuleNetwork("proposed", 6, 2, units=8, filters=5)
    assert routed.loss(scores, targets).item() == pytest.approx(margin_loss(scores.exp(), targets).item())
    dense = TemporalCapsuleNetwork("blstm", 6, 2, units=8)
    assert dense.loss(scores, targets).item() == pytest.approx(torch.nn.functional.cross_entropy(scores, targets).item())


def test_whole_map_reading_makes_one_capsule_per_convolution():
    model = TemporalCapsuleNetwork("proposed", 6, 8, capsules=10, units=8, filters=5, reading="whole_map", frames=12)
    scores = model(torch.randn(3, 12, 6))
    assert scores.shape == (3, 8)
    assert model.conv_capsule_outputs.shape == (3, 10, 1, 5 * (12 - 2))  # K capsules of filters × T' values
    assert model.routing.weight.shape[0] == 10 and model.routing.weight.shape[-1] == 5 * 10
    with pytest.raises(ValueError, match="whole_map reading is for the routing systems"):
        TemporalCapsuleNetwork("blstm_cnn", 6, 8, capsules=10, units=8, reading="whole_map", frames=12)
    with pytest.raises(ValueError, match="needs frames"):
        TemporalCapsuleNetwork("proposed", 6, 8, capsules=10, units=8, reading="whole_map")


def test_fau_aibo_reuses_the_rate_validated_for_the_matching_acted_task():
    """FAU-Aibo has no validation speaker: its 5 classes reuse the 8-class rate, its NEG/IDL pair the valence rate."""
    from serlib.papers import capsule

    chosen = {("feature_proposed", "8-class"): 3e-4, ("feature_proposed", "2-class valence"): 1e-4,
              ("feature_proposed", "2-class intensity"): 1e-3, ("fb128_proposed", "8-class"): 1e-3}
    assert capsule.fau_rates(chosen) == {("feature_proposed", "5-class"): 3e-4, ("feature_proposed", "2-class"): 1e-4,
                                         ("fb128_proposed", "5-class"): 1e-3}
