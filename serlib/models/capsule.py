"""Jalal, Loweimi, Moore & Hain, "Learning temporal clusters using capsule routing for speech
emotion recognition" (Interspeech 2019): BLSTM → 1D conv capsules → routing, and its baselines.

§3: two BLSTM layers of 256 units, then K one-dimensional convolutions (K = 4 for 2 classes,
10 for 8) of 90 filters each over the BLSTM activations of a context window; each convolution's
feature maps form capsules, squashed by eq. (2); a routing-by-agreement layer (eqs. 3-4) with one
capsule per class. Tables 1 and 3 compare the baselines built here from the same parts:
Capsule alone, BLSTM alone, Capsule + BLSTM (reverse order), BLSTM + CNN (max-pooling in place of
routing), and a CNN over utterance vectors (GMM supervectors, eGeMAPS).
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import torch
from torch import nn

from serlib.models.layers import DynamicRouting, margin_loss, squash

System = Literal["proposed", "capsule", "blstm", "capsule_blstm", "blstm_cnn"]
SYSTEMS: tuple[str, ...] = get_args(System)
#: How a convolution's feature maps form capsules (§3 "the output feature maps are concatenated to
#: form a capsule"): one capsule per time step (``per_step``, our main reading) or one capsule per
#: convolution, its whole 90 × T′ map (``whole_map``, the labelled variant).
CapsuleReading = Literal["per_step", "whole_map"]
CAPSULE_READINGS: tuple[str, ...] = get_args(CapsuleReading)

#: §3: K conv capsules per task.
CAPSULES_FOR_CLASSES = {2: 4, 8: 10}


class BLSTM(nn.Module):
    """Stacked bidirectional LSTM returning every time step's activations (batch, time, 2·units)."""

    def __init__(self, n_inputs: int, units: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_inputs, units, num_layers=layers, batch_first=True, bidirectional=True)
        self.n_outputs = 2 * units

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


class ConvCapsules(nn.Module):
    """K one-dimensional convolutions of ``filters`` filters over time (§2.2, §3).

    The paper does not say how the maps form vectors. ``per_step`` (our main reading): at each
    output time step the ``filters`` values of convolution k form one capsule vector, squashed by
    eq. (2), as in Sabour et al.'s primary capsules, so there are K × T' capsules of dimension
    ``filters``. ``whole_map`` (variant): convolution k's whole map, ``filters`` × T' values, is
    one capsule, so there are K capsules per window.
    """

    def __init__(self, n_inputs: int, capsules: int, filters: int = 90, kernel: int = 3, stride: int = 1,
                 reading: CapsuleReading = "per_step") -> None:
        super().__init__()
        if reading not in CAPSULE_READINGS:
            raise ValueError(f"reading must be one of {CAPSULE_READINGS}, got {reading!r}")
        self.capsules, self.filters, self.reading = capsules, filters, reading
        self.conv = nn.Conv1d(n_inputs, capsules * filters, kernel, stride)  # K convolutions as one grouped output

    def steps(self, frames: int) -> int:
        """T': the convolution's output steps for a window of ``frames``."""
        return (frames - self.conv.kernel_size[0]) // self.conv.stride[0] + 1

    def capsule_dim(self, frames: int) -> int:
        """A capsule's dimension for windows of ``frames``."""
        return self.filters * (self.steps(frames) if self.reading == "whole_map" else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, time, features) → squashed capsules: (batch, K, T', filters) per step, or
        (batch, K, 1, filters·T') for the whole map."""
        maps = self.conv(x.transpose(1, 2))  # (batch, K·filters, T')
        batch, _, steps = maps.shape
        capsules = maps.view(batch, self.capsules, self.filters, steps)
        if self.reading == "whole_map":
            return squash(capsules.flatten(2).unsqueeze(2))
        return squash(capsules.transpose(2, 3))


class TemporalCapsuleNetwork(nn.Module):
    """One model class for the five systems on frame windows (batch, frames, features).

    ``proposed``: BLSTM → conv capsules → routing.  ``capsule``: conv capsules → routing.
    ``blstm``: BLSTM → dense on the last steps.  ``capsule_blstm``: conv capsules → BLSTM → dense.
    ``blstm_cnn``: BLSTM → the same K × 90 convolutions with ReLU and max-pooling over time → dense.
    The dense baselines read the BLSTM's final forward and first backward states.
    """

    def __init__(
        self,
        system: System,
        n_inputs: int,
        n_classes: int,
        capsules: int | None = None,
        units: int = 256,
        filters: int = 90,
        kernel: int = 3,
        class_capsule_dim: int = 16,
        routing_iterations: int = 3,
        reading: CapsuleReading = "per_step",
        frames: int | None = None,
    ) -> None:
        """``reading``: how conv maps form capsules (:class:`ConvCapsules`); ``whole_map`` needs the
        window length ``frames`` (its capsules' dimension depends on it)."""
        super().__init__()
        if system not in SYSTEMS:
            raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")
        capsules = capsules or CAPSULES_FOR_CLASSES.get(n_classes)
        if capsules is None:
            raise ValueError(f"no K given for {n_classes} classes (the paper sets K only for 2 and 8)")
        self.system = system
        self.blstm = BLSTM(n_inputs, units) if system in ("proposed", "blstm", "blstm_cnn") else None
        conv_inputs = self.blstm.n_outputs if self.blstm is not None else n_inputs
        if reading == "whole_map" and (system not in ("proposed", "capsule") or frames is None):
            raise ValueError("the whole_map reading is for the routing systems (proposed, capsule) and needs frames")
        self.conv_capsules = ConvCapsules(conv_inputs, capsules, filters, kernel, reading=reading) if system != "blstm" else None
        # Routing over K × T' capsules; W_mn is shared by the T' capsules of convolution m, as the
        # convolution's weights are (our choice: K × C matrices, not K × T' × C). Whole-map
        # capsules: K capsules of filters × T' dimensions, routed K → C.
        self.routing = (
            DynamicRouting(capsules, self.conv_capsules.capsule_dim(frames or 0), n_classes, class_capsule_dim,
                           routing_iterations)
            if system in ("proposed", "capsule") else None
        )
        self.top_blstm = BLSTM(capsules * filters, units) if system == "capsule_blstm" else None
        dense_inputs = {"blstm": 2 * units, "capsule_blstm": 2 * units, "blstm_cnn": capsules * filters}
        self.dense = nn.Linear(dense_inputs[system], n_classes) if system in dense_inputs else None
        self.conv_capsule_outputs: torch.Tensor | None = None  # last (batch, K, T', filters), for Fig. 2
        self.class_capsule_outputs: torch.Tensor | None = None  # last (batch, classes, dim), for Fig. 3

    @staticmethod
    def _final_states(h: torch.Tensor) -> torch.Tensor:
        half = h.shape[-1] // 2
        return torch.cat([h[:, -1, :half], h[:, 0, half:]], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, frames, features) → class scores (batch, classes): logits, or log capsule
        lengths for the routing systems (trained by :meth:`loss`)."""
        h = self.blstm(x) if self.blstm is not None else x
        if self.system == "blstm":
            return self.dense(self._final_states(h))
        if self.system == "blstm_cnn":
            maps = torch.relu(self.conv_capsules.conv(h.transpose(1, 2)))
            return self.dense(maps.amax(dim=2))
        u = self.conv_capsules(h)
        self.conv_capsule_outputs = u.detach()
        if self.system == "capsule_blstm":
            sequence = u.transpose(1, 2).flatten(2)  # (batch, T', K·filters)
            return self.dense(self._final_states(self.top_blstm(sequence)))
        v = self.routing(u)
        self.class_capsule_outputs = v.detach()
        # The class capsules' lengths, normalised over classes, are the posteriors of §3: the
        # shared loop's softmax of log-lengths gives exactly that.
        return torch.log(v.norm(dim=-1) + 1e-8)

    def loss(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Routing systems: Sabour et al.'s margin loss on the capsule lengths (m⁺ 0.9, m⁻ 0.1, λ 0.5);
        the others: cross-entropy. The paper names no loss; cross-entropy on normalised lengths
        left the routing systems at chance in a pilot run."""
        if self.routing is None:
            return nn.functional.cross_entropy(scores, targets)
        return margin_loss(scores.exp(), targets)


class VectorCNN(nn.Module):
    """CNN back-end for utterance vectors (GMM supervectors, eGeMAPS; Tables 1 and 3).

    Choice (not specified): two 1D convolutions (32 and 64 filters of width 3, ReLU, max-pool 2)
    along the vector, global max-pooling, dropout 0.3, dense softmax layer.
    """

    def __init__(self, n_classes: int, channels: tuple[int, int] = (32, 64), kernel: int = 3, dropout: float = 0.3) -> None:
        super().__init__()
        first, second = channels
        self.features = nn.Sequential(
            nn.Conv1d(1, first, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(first, second, kernel, padding=kernel // 2), nn.ReLU(), nn.AdaptiveMaxPool1d(1),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(second, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, length) → logits (batch, classes)."""
        return self.classifier(self.features(x.unsqueeze(1)))


@torch.no_grad()
def capsule_activations(model: TemporalCapsuleNetwork, x: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Conv-capsule outputs (n, K, T', dim) and class capsules (n, classes, dim) of a routing
    system for the windows ``x`` (Figs. 2 and 3)."""
    if model.routing is None:
        raise ValueError(f"system {model.system!r} has no capsule routing")
    model.eval()
    device = next(model.parameters()).device
    conv, classes = [], []
    for start in range(0, len(x), batch_size):
        model(torch.as_tensor(x[start : start + batch_size], device=device))
        conv.append(model.conv_capsule_outputs.cpu().numpy())
        classes.append(model.class_capsule_outputs.cpu().numpy())
    return np.concatenate(conv), np.concatenate(classes)
