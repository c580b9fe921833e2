import torch

from serlib.models.layers import DynamicRouting, squash


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


def test_routing_learns_through_backpropagation():
    layer = DynamicRouting(in_capsules=4, in_dim=8, out_capsules=2, out_dim=4)
    layer(torch.randn(3, 4, 8)).norm(dim=-1).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
