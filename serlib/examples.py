"""Model inputs as arrays, with no dependence on torch: what features hand to the training loop.

:class:`Examples` holds inputs (one array or several named ones), labels and the utterance
(manifest row) of each; variable-length
inputs carry their true ``lengths`` (frames before zero padding) so that a model can mask the
padding (:func:`pad_sequences`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: A model's input: one array, or several named arrays with one row per example (e.g. a
#: spectrogram and the utterance's functionals, for a two-channel model).
Inputs = np.ndarray | Mapping[str, np.ndarray]


def count_rows(x: Any) -> int:
    """Examples in ``x``: an array, or a mapping of arrays that must agree (arrays or tensors)."""
    if isinstance(x, Mapping):
        sizes = {name: len(value) for name, value in x.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"named inputs have different numbers of examples: {sizes}")
        return next(iter(sizes.values()))
    return len(x)


def take_rows(x: Any, rows: Any) -> Any:
    """The examples ``rows`` of ``x`` (an array or tensor, or a mapping of them)."""
    return {name: value[rows] for name, value in x.items()} if isinstance(x, Mapping) else x[rows]


@dataclass
class Examples:
    """Model inputs ``x`` with labels ``y``, the utterance (row of the manifest) of each and,
    for zero-padded sequences, each one's true length in frames."""

    x: Inputs
    y: np.ndarray
    utterance: np.ndarray
    lengths: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not count_rows(self.x) == len(self.y) == len(self.utterance):
            raise ValueError(f"x, y, utterance lengths differ: {count_rows(self.x)}, {len(self.y)}, {len(self.utterance)}")
        if self.lengths is not None and len(self.lengths) != count_rows(self.x):
            raise ValueError(f"lengths has {len(self.lengths)} entries for {count_rows(self.x)} examples")


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
