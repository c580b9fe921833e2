"""Luo, Zou & Huang, *Investigation on joint representation learning for robust feature extraction in speech
emotion recognition* (Interspeech 2018; our copy has no title page: identified from its content):
plain CRNN, HSF-CRNN and multi-CRNN (§3, sizes from §4.2).

Every model reads a batch of zero-padded log-mel spectrograms ``x["spectrogram"]`` (batch,
frames, mels) with their true ``lengths`` in frames, and cuts each utterance into overlapping
segments itself (§3.1: segments of 30 frames overlapping by 10; the multi-CRNN's second channel
50 frames overlapping by 25). An utterance is neither clipped nor padded (§3.1): it keeps its own
number of segments, and the LSTM and the pooling see only those (padding is masked out).
Segments are whole: frames after the last whole segment (fewer than one hop) are not used; an
utterance shorter than one segment is zero-padded to one. HSF-CRNN also reads the utterance's
openSMILE functionals ``x["functionals"]`` (batch, 6373).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from serlib.models.layers import MaskedLSTM, length_mask, masked_mean_max_min


def segment_counts(lengths: torch.Tensor, size: int, hop: int) -> torch.Tensor:
    """Whole segments of ``size`` frames every ``hop`` frames in ``lengths`` frames (at least one)."""
    return torch.clamp((lengths - size) // hop + 1, min=1)


def dense(sizes: list[int]) -> nn.Sequential:
    """Fully connected layers of the given sizes, each followed by a sigmoid (§4.2: "all FC layers
    are activated by sigmoid function")."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.Sigmoid()]
    return nn.Sequential(*layers)


class CRNN(nn.Module):
    """The CRNN base (§3.1, §4.2): per segment, a full-spectrogram temporal convolution (30 filters
    of mels × 5, ReLU) → max-pool 1×3 stride 2 → convolution (30 filters of 1×3, ReLU) → max-pool
    1×3 stride 2, flattened; an LSTM of 128 over the segment sequence; mean, max and min pooling
    of its outputs (eqs. 1-3) → 384 values per utterance."""

    def __init__(self, n_mels: int = 40, segment: int = 30, hop: int = 20, filters: int = 30,
                 kernel: int = 5, pool: int = 3, pool_stride: int = 2, lstm_units: int = 128) -> None:
        super().__init__()
        if not 0 < hop <= segment:
            raise ValueError(f"hop must be in 1..segment ({segment}), got {hop}")
        self.n_mels, self.segment, self.hop = n_mels, segment, hop
        self.convolutions = nn.Sequential(
            nn.Conv2d(1, filters, (n_mels, kernel)), nn.ReLU(), nn.MaxPool2d((1, pool), (1, pool_stride)),
            nn.Conv2d(filters, filters, (1, 3)), nn.ReLU(), nn.MaxPool2d((1, pool), (1, pool_stride)),
        )
        with torch.no_grad():
            flat = self.convolutions(torch.zeros(1, 1, n_mels, segment)).numel()
        self.lstm = MaskedLSTM(flat, lstm_units, bidirectional=False)
        self.output_size = 3 * lstm_units

    def forward(self, spectrogram: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mels) with lengths in frames → (batch, 384)."""
        if spectrogram.shape[-1] != self.n_mels:
            raise ValueError(f"expected {self.n_mels} mel bands, got input of shape {tuple(spectrogram.shape)}")
        counts = segment_counts(lengths, self.segment, self.hop)
        needed = int((counts.max() - 1) * self.hop + self.segment)
        frames = spectrogram[:, :needed]
        if frames.shape[1] < needed:
            frames = nn.functional.pad(frames, (0, 0, 0, needed - frames.shape[1]))
        segments = frames.unfold(1, self.segment, self.hop)  # (batch, segments, mels, segment)
        batch, steps = segments.shape[:2]
        features = self.convolutions(segments.reshape(batch * steps, 1, self.n_mels, self.segment))
        features = features.reshape(batch, steps, -1)
        outputs = self.lstm(features, counts)
        return masked_mean_max_min(outputs, length_mask(counts, steps))


class PlainCRNN(nn.Module):
    """Plain CRNN SER system (§3.1, Fig. 1): CRNN 384 → FC 128 → FC 32 → softmax."""

    def __init__(self, n_classes: int = 4, n_mels: int = 40, segment: int = 30, hop: int = 20) -> None:
        super().__init__()
        self.crnn = CRNN(n_mels, segment, hop)
        self.head = nn.Sequential(dense([self.crnn.output_size, 128, 32]), nn.Linear(32, n_classes))

    def forward(self, x: Mapping[str, torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.crnn(x["spectrogram"], lengths))


class HSFCRNN(nn.Module):
    """HSF-CRNN (§3.2, Fig. 2; §4.2): CRNN 384 → FC 128 beside functionals → FC 1024 → 520 → 128;
    concatenated → joint FC 32 → softmax."""

    def __init__(self, n_functionals: int = 6373, n_classes: int = 4, n_mels: int = 40, segment: int = 30,
                 hop: int = 20) -> None:
        super().__init__()
        self.crnn = CRNN(n_mels, segment, hop)
        self.crnn_projection = dense([self.crnn.output_size, 128])
        self.functionals = dense([n_functionals, 1024, 520, 128])
        self.joint = dense([128 + 128, 32])
        self.output = nn.Linear(32, n_classes)

    def forward(self, x: Mapping[str, torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
        learned = self.crnn_projection(self.crnn(x["spectrogram"], lengths))
        handcrafted = self.functionals(x["functionals"])
        return self.output(self.joint(torch.cat([learned, handcrafted], dim=1)))


class MultiCRNN(nn.Module):
    """Multi-CRNN (§3.3, Fig. 3; §4.2): the short-segment CRNN (30/10) → FC 128 → FC 128,
    concatenated with the long-segment CRNN feature (50 frames overlapping by 25, 384) → FC 128
    → softmax."""

    def __init__(self, n_classes: int = 4, n_mels: int = 40, short: tuple[int, int] = (30, 20),
                 long: tuple[int, int] = (50, 25)) -> None:
        super().__init__()
        self.short_crnn = CRNN(n_mels, *short)
        self.long_crnn = CRNN(n_mels, *long)
        self.short_projection = dense([self.short_crnn.output_size, 128, 128])
        self.joint = dense([128 + self.long_crnn.output_size, 128])
        self.output = nn.Linear(128, n_classes)

    def forward(self, x: Mapping[str, torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
        short = self.short_projection(self.short_crnn(x["spectrogram"], lengths))
        long = self.long_crnn(x["spectrogram"], lengths)
        return self.output(self.joint(torch.cat([short, long], dim=1)))
