"""Model inputs as arrays, with no dependence on torch: what features hand to the training loop.

:class:`Examples` holds inputs, labels and the utterance (manifest row) of each; variable-length
inputs carry their true ``lengths`` (frames before zero padding) so that a model can mask the
padding (:func:`pad_sequences`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Examples:
    """Model inputs ``x`` with labels ``y``, the utterance (row of the manifest) of each and,
    for zero-padded sequences, each one's true length in frames."""

    x: np.ndarray
    y: np.ndarray
    utterance: np.ndarray
    lengths: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not len(self.x) == len(self.y) == len(self.utterance):
            raise ValueError(f"x, y, utterance lengths differ: {len(self.x)}, {len(self.y)}, {len(self.utterance)}")
        if self.lengths is not None and len(self.lengths) != len(self.x):
            raise ValueError(f"lengths has {len(self.lengths)} entries for {len(self.x)} examples")


def stack_examples(
    per_utterance: Sequence[np.ndarray] | Mapping[int, np.ndarray], labels: np.ndarray, rows: np.ndarray
) -> Examples:
    """Examples from the utterances at ``rows``, each contributing all its windows/segments
    (``per_utterance[r]`` has shape (n_r, ...)) with its label."""
    chosen = [per_utterance[r] for r in rows]
    counts = [len(c) for c in chosen]
    return Examples(
        x=np.concatenate(chosen).astype(np.float32),
        y=np.repeat(np.asarray(labels)[rows], counts),
        utterance=np.repeat(rows, counts),
    )


def pad_sequences(
    per_utterance: Sequence[np.ndarray] | Mapping[int, np.ndarray], labels: np.ndarray, rows: np.ndarray,
    max_frames: int | None = None,
) -> Examples:
    """One example per utterance at ``rows``: its (frames, dims) array cut to ``max_frames`` and
    zero-padded to the longest, with its true length kept in ``lengths``."""
    chosen = [per_utterance[r][:max_frames] if max_frames else per_utterance[r] for r in rows]
    lengths = np.array([len(c) for c in chosen])
    x = np.zeros((len(chosen), int(lengths.max()), *chosen[0].shape[1:]), dtype=np.float32)
    for i, sequence in enumerate(chosen):
        x[i, : len(sequence)] = sequence
    return Examples(x, np.asarray(labels)[rows], np.asarray(rows), lengths)
