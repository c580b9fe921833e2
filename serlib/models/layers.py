"""Layers shared by several papers' models."""

from __future__ import annotations

import torch
from torch import nn


class AttentionPooling(nn.Module):
    """Softmax-normalised importance weights over time, then a weighted sum (local attention).

    Scalogram paper eq. (3), after Mirsamadi et al. (2017, its ref. [36]):
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
