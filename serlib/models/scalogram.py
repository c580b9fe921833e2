"""Scalogram CNN + attention BLSTM (IJE 2020, doi 10.5829/ije.2020.33.02b.13), §2.2.

Feature learning blocks (convolution + batch norm + leaky ReLU + max-pooling, rectangular and
square kernels) over the (frames × scales) plane with the 20 bars as input channels; the output
is reshaped to a sequence over frames, fed to a BLSTM with 128 cells per direction, pooled by
attention (eq. 3), then a fully connected layer and softmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from serlib.models.layers import AttentionPooling


@dataclass(frozen=True)
class BlockSpec:
    """One feature learning block: filters, kernel (frames, scales), max-pool (frames, scales)."""

    filters: int
    kernel: tuple[int, int]
    pool: tuple[int, int]


#: 3 blocks for the small corpora (§4): a rectangular kernel along time first, then square ones.
SMALL_CORPUS_BLOCKS = (
    BlockSpec(16, (7, 3), (2, 2)),
    BlockSpec(32, (3, 3), (2, 2)),
    BlockSpec(32, (3, 3), (2, 2)),
)


def feature_learning_block(in_channels: int, spec: BlockSpec, slope: float = 0.01) -> nn.Sequential:
    """Conv2d ('same' padding) → BatchNorm2d → LeakyReLU → MaxPool2d."""
    return nn.Sequential(
        nn.Conv2d(in_channels, spec.filters, spec.kernel, padding="same"),
        nn.BatchNorm2d(spec.filters),
        nn.LeakyReLU(slope),
        nn.MaxPool2d(spec.pool),
    )


class ScalogramCRNN(nn.Module):
    """(batch, frames, scales, bars) scalograms → class logits."""

    def __init__(
        self,
        n_scales: int,
        n_bars: int,
        n_classes: int = 4,
        blocks: Sequence[BlockSpec] = SMALL_CORPUS_BLOCKS,
        lstm_units: int = 128,
        dense_units: int = 64,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        layers, channels, scales = [], n_bars, n_scales
        for spec in blocks:
            layers.append(feature_learning_block(channels, spec))
            channels, scales = spec.filters, scales // spec.pool[1]
        self.features = nn.Sequential(*layers)
        self.blstm = nn.LSTM(channels * scales, lstm_units, batch_first=True, bidirectional=True)
        self.attention = AttentionPooling(2 * lstm_units)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * lstm_units, dense_units), nn.LeakyReLU(0.01),
            nn.Dropout(dropout), nn.Linear(dense_units, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.features(x.permute(0, 3, 1, 2))  # bars as channels: (batch, d, frames', scales')
        sequence = maps.permute(0, 2, 1, 3).flatten(2)  # (batch, frames', d * scales')
        hidden, _ = self.blstm(sequence)
        return self.classifier(self.attention(hidden))
