import pytest
import torch

from serlib.models.layers import DynamicRouting, MaskedBatchNorm1d, MaskedLSTM, length_mask, reverse_within_lengths, squash


def test_squash_keeps_direction_and_norm_below_one():
    s = torch.randn(6, 5, 16) * torch.tensor([0.01, 0.5, 1.0, 3.0, 100.0]).view(1, 5, 1)
    v = squash(s)
    norms = v.norm(dim=-1)
    assert torch.all(norms < 1)
    expected = s.norm(dim=-1) ** 2 / (1 + s.norm(dim=-1) ** 2)
    torch.testing.assert_close(norms, expected, rtol=1e-4, atol=1e-6)
    cosine = torch.nn.functional.cosine_similarity(v, s, dim=-1)
    torch.testing.assert_close(cosine, torch.ones_like(cosine))


def test_routing_coefficients_sum_to_one_over_output_capsules():
    layer = DynamicRouting(in_capsules=10, in_dim=90, out_capsules=8, out_dim=16, iterations=3)
    out = layer(torch.randn(4, 10, 90))
    assert out.shape == (4, 8, 16)
    assert layer.coupling.shape == (4, 10, 8)
    torch.testing.assert_close(layer.coupling.sum(dim=2), torch.ones(4, 10))
    assert torch.all(out.norm(dim=-1) < 1)


def _routing_by_hand(weight: torch.Tensor, p: torch.Tensor, iterations: int) -> torch.Tensor:
    """Sabour et al.'s Procedure 1 with explicit loops: û_{n|m} = W_mn u_m; b = 0; then c_m = softmax_n(b_m),
    s_n = Σ_m c_mn û_{n|m}, v_n = squash(s_n) and b_mn += û_{n|m} · v_n, for one sample."""
    in_caps, out_caps = weight.shape[:2]
    u_hat = [[weight[m, n] @ p[m] for n in range(out_caps)] for m in range(in_caps)]
    b = torch.zeros(in_caps, out_caps, dtype=p.dtype)
    for iteration in range(iterations):
        c = [torch.exp(b[m]) / torch.exp(b[m]).sum() for m in range(in_caps)]
        v = [squash(sum(c[m][n] * u_hat[m][n] for m in range(in_caps))) for n in range(out_caps)]
        for m in range(in_caps):
            for n in range(out_caps):
                b[m, n] += u_hat[m][n] @ v[n]
    return torch.stack(v)


@pytest.mark.parametrize("iterations", [1, 2, 3])
def test_routing_computes_procedure_1(iterations):
    torch.manual_seed(0)
    layer = DynamicRouting(in_capsules=5, in_dim=6, out_capsules=3, out_dim=4, iterations=iterations).double()
    with torch.no_grad():
        layer.weight.mul_(20)  # agreement large enough that each iteration moves the coupling
        p = torch.randn(2, 5, 6, dtype=torch.float64)
        out = layer(p)
        for sample in range(2):
            torch.testing.assert_close(out[sample], _routing_by_hand(layer.weight, p[sample], iterations))
    if iterations == 1:  # b = 0: every input capsule couples equally to every output
        torch.testing.assert_close(layer.coupling, torch.full((2, 5, 3), 1 / 3, dtype=torch.float64))


def test_routing_iterations_change_the_output():
    torch.manual_seed(0)
    layer = DynamicRouting(in_capsules=5, in_dim=6, out_capsules=3, out_dim=4, iterations=1)
    with torch.no_grad():
        layer.weight.mul_(20)
        p = torch.randn(2, 5, 6)
        once = layer(p)
        layer.iterations = 3
        assert not torch.allclose(once, layer(p), atol=1e-3)


def test_routing_learns_through_backpropagation():
    layer = DynamicRouting(in_capsules=4, in_dim=8, out_capsules=2, out_dim=4)
    layer(torch.randn(3, 4, 8)).norm(dim=-1).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def _packed_reference(lstm: torch.nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0]


def _copy_weights(reference: torch.nn.LSTM, layer: MaskedLSTM) -> None:
    with torch.no_grad():
        for suffix, target in (("", layer.forward_lstm), ("_reverse", layer.backward_lstm)):
            if target is None:
                continue
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(target, f"{name}_l0").copy_(getattr(reference, f"{name}_l0{suffix}"))


@pytest.mark.parametrize("bidirectional", [True, False])
def test_the_fused_lstm_computes_what_the_packed_lstm_computes(bidirectional):
    torch.manual_seed(0)
    lengths = torch.tensor([7, 3, 11, 1, 11])
    x = torch.randn(5, 11, 6) * length_mask(lengths, 11).unsqueeze(-1)
    x_packed, x_fused = x.clone().requires_grad_(), x.clone().requires_grad_()
    reference = torch.nn.LSTM(6, 4, batch_first=True, bidirectional=bidirectional)
    layer = MaskedLSTM(6, 4, bidirectional)
    _copy_weights(reference, layer)
    expected, got = _packed_reference(reference, x_packed, lengths), layer(x_fused, lengths)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    weights = torch.randn_like(expected)
    (expected * weights).sum().backward()
    (got * weights).sum().backward()
    torch.testing.assert_close(x_fused.grad, x_packed.grad, atol=1e-5, rtol=1e-5)
    for suffix, target in (("", layer.forward_lstm), ("_reverse", layer.backward_lstm)):
        if target is not None:
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                torch.testing.assert_close(getattr(target, f"{name}_l0").grad, getattr(reference, f"{name}_l0{suffix}").grad,
                                           atol=1e-5, rtol=1e-5)


def test_reversing_within_lengths_twice_gives_the_batch_back():
    lengths = torch.tensor([3, 5, 1])
    x = torch.arange(15.0).view(3, 5, 1)
    reversed_ = reverse_within_lengths(x, lengths)
    assert reversed_[0, :, 0].tolist() == [2, 1, 0, 3, 4] and reversed_[2, :, 0].tolist() == [10, 11, 12, 13, 14]
    torch.testing.assert_close(reverse_within_lengths(reversed_, lengths), x)


def test_masked_batch_norm_statistics_ignore_the_padding():
    torch.manual_seed(0)
    short = torch.randn(2, 3, 4)
    padded = torch.cat([short, torch.full((2, 3, 6), 50.0)], dim=2)  # the same frames with junk padding
    mask = length_mask(torch.tensor([4, 4]), 10)
    norm = MaskedBatchNorm1d(3)
    plain = torch.nn.BatchNorm1d(3)
    torch.testing.assert_close(norm(padded, mask)[..., :4], plain(short))
    torch.testing.assert_close(norm.running_mean, plain.running_mean)
    torch.testing.assert_close(norm.running_var, plain.running_var)
    norm.eval(), plain.eval()
    torch.testing.assert_close(norm(padded, mask)[..., :4], plain(short))


def test_masked_batch_norm_statistics_over_unequal_lengths_are_those_of_the_valid_frames():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6)
    lengths = torch.tensor([6, 2])
    mask = length_mask(lengths, 6)
    x_padded = x.masked_fill(~mask.unsqueeze(1), 50.0)  # junk in the second utterance's padding
    valid = torch.cat([x[0], x[1, :, :2]], dim=1).unsqueeze(0)  # (1, channels, the 8 valid frames)
    norm, plain = MaskedBatchNorm1d(3), torch.nn.BatchNorm1d(3)
    got, expected = norm(x_padded, mask), plain(valid)[0]
    torch.testing.assert_close(torch.cat([got[0], got[1, :, :2]], dim=1), expected)
    torch.testing.assert_close(norm.running_mean, plain.running_mean)
    torch.testing.assert_close(norm.running_var, plain.running_var)
