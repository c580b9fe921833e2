"""Cournut & Buldu, "Speech Emotion Recognition using Recurrent Neural Networks" (KTH report).

§2.3 and §3.2: two recurrent layers (vanilla RNN or LSTM of 128 units, or bidirectional LSTM
of 64 units per direction), dropout 0.2 on the input and hidden layers, then a dense softmax
layer on the last step's output with L2 regularisation 1e-4 on its weights.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Cell = Literal["rnn", "lstm", "blstm"]

#: Units per layer (per direction for the BLSTM), §4.3.
HIDDEN_UNITS: dict[str, int] = {"rnn": 128, "lstm": 128, "blstm": 64}


class RecurrentClassifier(nn.Module):
    """Two stacked recurrent layers → dropout → dense layer (logits; softmax in the loss)."""

    def __init__(
        self,
        n_features: int,
        n_classes: int = 7,
        cell: Cell = "lstm",
        layers: int = 2,
        dropout: float = 0.2,
        l2: float = 1e-4,
    ) -> None:
        super().__init__()
        if cell not in HIDDEN_UNITS:
            raise ValueError(f"cell must be one of {sorted(HIDDEN_UNITS)}, got {cell!r}")
        hidden = HIDDEN_UNITS[cell]
        recurrent = nn.RNN if cell == "rnn" else nn.LSTM
        self.bidirectional = cell == "blstm"
        self.input_dropout = nn.Dropout(dropout)
        self.recurrent = recurrent(
            n_features, hidden, num_layers=layers, batch_first=True,
            dropout=dropout, bidirectional=self.bidirectional,
        )
        self.output_dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden * (2 if self.bidirectional else 1), n_classes)
        self.l2 = l2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, frames, features) → logits (batch, classes)."""
        _, state = self.recurrent(self.input_dropout(x))
        hidden = state[0] if isinstance(state, tuple) else state
        # Top layer's final state; for the BLSTM, forward after the last frame and backward
        # after the first (Keras' Bidirectional(return_sequences=False)).
        last = torch.cat([hidden[-2], hidden[-1]], dim=1) if self.bidirectional else hidden[-1]
        return self.dense(self.output_dropout(last))

    def penalty(self) -> torch.Tensor:
        """Keras-style L2 term on the dense kernel, added to the loss (§2.3.3)."""
        return self.l2 * self.dense.weight.pow(2).sum()
