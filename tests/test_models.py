import pytest
import torch

from serlib.models.rnn import RecurrentClassifier


def lstm_parameters(inputs: int, hidden: int) -> int:
    """PyTorch LSTM layer: 4 gates × (input weights + recurrent weights + two bias vectors)."""
    return 4 * (hidden * inputs + hidden * hidden + 2 * hidden)


def rnn_parameters(inputs: int, hidden: int) -> int:
    return hidden * inputs + hidden * hidden + 2 * hidden


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("lstm", lstm_parameters(120, 128) + lstm_parameters(128, 128) + 128 * 7 + 7),
        ("rnn", rnn_parameters(120, 128) + rnn_parameters(128, 128) + 128 * 7 + 7),
        ("blstm", 2 * lstm_parameters(120, 64) + 2 * lstm_parameters(128, 64) + 128 * 7 + 7),
    ],
)
def test_parameter_counts(cell, expected):
    model = RecurrentClassifier(120, 7, cell)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("cell", ["rnn", "lstm", "blstm"])
def test_output_shape(cell):
    model = RecurrentClassifier(39, 7, cell).eval()
    assert model(torch.zeros(5, 25, 39)).shape == (5, 7)


def test_blstm_reads_both_ends_of_the_sequence():
    torch.manual_seed(0)
    model = RecurrentClassifier(4, 3, "blstm").eval()
    x = torch.randn(1, 25, 4)
    first_changed, last_changed = x.clone(), x.clone()
    first_changed[0, 0] += 5
    last_changed[0, -1] += 5
    assert not torch.allclose(model(x), model(first_changed))
    assert not torch.allclose(model(x), model(last_changed))


def test_l2_penalty_is_on_the_dense_kernel_only():
    model = RecurrentClassifier(10, 7, "lstm", l2=1e-4)
    with torch.no_grad():
        model.dense.weight.fill_(2.0)
        model.dense.bias.fill_(100.0)
    assert model.penalty().item() == pytest.approx(1e-4 * 4.0 * 7 * 128)


def test_unknown_cell():
    with pytest.raises(ValueError, match="cell must be one of"):
        RecurrentClassifier(10, 7, "gru")
