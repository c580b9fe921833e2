"""Layers shared by several papers' models."""

from __future__ import annotations

import torch
from torch import nn


class AttentionPooling(nn.Module):
    """Softmax-normalised importance weights over time, then a weighted sum (local attention).

    Scalogram paper eq. (3), after its ref. [36] (most likely Chen et al., IEEE Signal Processing
    Letters 2018, whose Emo-DB UA of 82.8 % its Table 4 quotes as [36]; the same local attention as
    Mirsamadi et al., ICASSP 2017):
    ``α_t = exp(uᵀh_t) / Σ_τ exp(uᵀh_τ)`` and ``z = Σ_t α_t h_t`` with a learned vector ``u``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1, bias=False)
        self.weights: torch.Tensor | None = None  # last α, (batch, time), for inspection

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``h``: (batch, time, dim) → (batch, dim)."""
        alpha = torch.softmax(self.score(h).squeeze(-1), dim=1)
        self.weights = alpha.detach()
        return torch.einsum("bt,btd->bd", alpha, h)


def squash(s: torch.Tensor, dim: int = -1, eps: float = 1e-8) -> torch.Tensor:
    """Capsule non-linearity (Jalal et al. 2019 eq. 2, Sabour et al. 2017): ``‖s‖²/(1+‖s‖²) · s/‖s‖``."""
    squared = s.pow(2).sum(dim=dim, keepdim=True)
    return squared / (1 + squared) * s / torch.sqrt(squared + eps)


class DynamicRouting(nn.Module):
    """Routing-by-agreement capsule layer (Jalal et al. 2019 eqs. 3-4; Sabour et al. 2017).

    Predictions ``p̂_{n|m} = W_mn p_m``; coupling ``c_mn = softmax_n(b_mn)`` with ``b`` starting
    at zero; ``s_n = Σ_m c_mn p̂_{n|m}``, ``v_n = squash(s_n)``; ``b_mn += v_n · p̂_{n|m}``.
    Output capsule lengths serve as class scores.
    """

    def __init__(self, in_capsules: int, in_dim: int, out_capsules: int, out_dim: int, iterations: int = 3) -> None:
        super().__init__()
        self.weight = nn.Parameter(0.05 * torch.randn(in_capsules, out_capsules, out_dim, in_dim))
        self.iterations = iterations
        self.coupling: torch.Tensor | None = None  # last c, (batch, in, out), for inspection

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        """``p``: (batch, in_capsules, in_dim) → (batch, out_capsules, out_dim).

        ``p`` may also be (batch, in_capsules, positions, in_dim): convolutional capsules, whose
        positions share their type's ``W_mn`` and are routed as ``in_capsules × positions`` capsules.
        """
        if p.dim() == 4:
            predictions = torch.einsum("mnoi,bmti->bmtno", self.weight, p).flatten(1, 2)
        else:
            predictions = torch.einsum("mnoi,bmi->bmno", self.weight, p)
        logits = torch.zeros(predictions.shape[:3], device=p.device, dtype=p.dtype)
        for iteration in range(self.iterations):
            coupling = torch.softmax(logits, dim=2)
            outputs = squash(torch.einsum("bmn,bmno->bno", coupling, predictions))
            if iteration < self.iterations - 1:
                logits = logits + torch.einsum("bmno,bno->bmn", predictions, outputs)
        self.coupling = coupling.detach()
        return outputs


def margin_loss(lengths: torch.Tensor, targets: torch.Tensor, upper: float = 0.9, lower: float = 0.1, down_weight: float = 0.5) -> torch.Tensor:
    """Sabour et al. (2017) eq. (4): ``T_k max(0, m⁺ − ‖v_k‖)² + λ (1 − T_k) max(0, ‖v_k‖ − m⁻)²``, summed over classes, mean over the batch."""
    present = nn.functional.one_hot(targets, lengths.shape[1]).to(lengths.dtype)
    per_class = present * torch.relu(upper - lengths) ** 2 + down_weight * (1 - present) * torch.relu(lengths - lower) ** 2
    return per_class.sum(dim=1).mean()


def length_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(batch, steps) boolean mask, true for the first ``lengths[b]`` steps of each sequence."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean_max_min(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean, max and min over the valid time steps of ``h`` (batch, time, dim), concatenated to
    (batch, 3·dim): the CRNN paper's eqs. (1)-(3) (Luo et al., Interspeech 2018), padding never counted."""
    valid = mask.unsqueeze(-1)
    mean = (h * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1)
    largest = h.masked_fill(~valid, float("-inf")).amax(dim=1)
    smallest = h.masked_fill(~valid, float("inf")).amin(dim=1)
    return torch.cat([mean, largest, smallest], dim=1)


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` (batch, time, dim) with each sequence's first ``lengths[b]`` steps in reverse order
    and its padding left in place; applying it twice gives ``x`` back."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    last = lengths.to(x.device)[:, None] - 1
    order = torch.where(steps <= last, last - steps, steps)
    return x.gather(1, order.unsqueeze(-1).expand_as(x))


class MaskedLSTM(nn.Module):
    """A one-layer (bidirectional) LSTM over a zero-padded batch that computes what the packed
    sequence version computes, through PyTorch's fused kernel: packed sequences make the CPU LSTM
    step through time in small kernels, several times slower in the backward pass.

    The forward direction reads the padded batch as it is (padding after a sequence's last valid
    step never reaches its valid outputs); the backward direction reads each sequence reversed
    within its own length, so it starts at its last valid step. Outputs at padded steps are zero.
    ``(batch, time, n_inputs)`` with ``lengths`` → ``(batch, time, units · directions)``.
    """

    def __init__(self, n_inputs: int, units: int, bidirectional: bool = True) -> None:
        super().__init__()
        self.forward_lstm = nn.LSTM(n_inputs, units, batch_first=True)
        self.backward_lstm = nn.LSTM(n_inputs, units, batch_first=True) if bidirectional else None
        self.input_size, self.hidden_size, self.bidirectional = n_inputs, units, bidirectional

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        outputs = [self.forward_lstm(x)[0]]
        if self.backward_lstm is not None:
            backward = self.backward_lstm(reverse_within_lengths(x, lengths))[0]
            outputs.append(reverse_within_lengths(backward, lengths))
        out = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
        return out * length_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1).to(out.dtype)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """Batch normalisation of (batch, channels, time) whose training statistics (and running
    averages) come from the valid steps only, so that they do not depend on how much padding a
    batch has; in evaluation the running averages normalise every step, as ``nn.BatchNorm1d``."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if not self.training:
            return super().forward(x)
        valid = mask.unsqueeze(1).to(x.dtype)
        count = valid.sum()
        mean = (x * valid).sum(dim=(0, 2)) / count
        variance = (((x - mean[None, :, None]) ** 2) * valid).sum(dim=(0, 2)) / count
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(variance * count / (count - 1).clamp(min=1), self.momentum)
            self.num_batches_tracked += 1
        normalised = (x - mean[None, :, None]) / torch.sqrt(variance[None, :, None] + self.eps)
        return normalised * self.weight[None, :, None] + self.bias[None, :, None]
