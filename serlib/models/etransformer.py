"""Residual-BLSTM + time pooling + E-transformer (the etransformer paper, §2): one network whose
:class:`Architecture` switches its modules, so the proposed model and the seven ablations of
Table 2 are configurations of one class.

Input: a batch of zero-padded log-mel spectrograms (batch, frames, mels) with their true
``lengths`` in frames. The paper zero-pads every utterance to 4 s and says nothing of masks; here
padded frames never count (our choice): they are re-zeroed after every convolution, left out of
the batch normalisation statistics, never read by the LSTMs (each direction starts at a valid
frame), excluded from pooling windows, attention (key padding mask) and the statistics. An utterance therefore scores the same alone as padded in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from serlib.models.layers import MaskedBatchNorm1d, MaskedLSTM, length_mask

RECURRENT = ("residual", "no skip", "plain")
TRANSFORMERS = ("enhanced", "plain", None)


@dataclass(frozen=True)
class Architecture:
    """Which modules the network has (Table 2's models differ only here).

    ``recurrent``: "residual" (two residual-BLSTM modules, §2.2), "no skip" (the same modules without
    their residual connection: ``H = FFN(BLSTM(X))``) or "plain" (two stacked BLSTMs, no FFN);
    ``transformer``: "enhanced" (three E-transformer modules, §2.4), "plain" (three transformer
    encoder layers) or None (statistics pooling right after the recurrent part).
    """

    conv_front: bool = True  # the 3-Conv-layers module (§2.1)
    recurrent: str = "residual"
    time_pooling: bool = True  # §2.3
    transformer: str | None = "enhanced"

    def __post_init__(self) -> None:
        if self.recurrent not in RECURRENT:
            raise ValueError(f"recurrent must be one of {RECURRENT}, got {self.recurrent!r}")
        if self.transformer not in TRANSFORMERS:
            raise ValueError(f"transformer must be one of {TRANSFORMERS}, got {self.transformer!r}")


#: Table 2: the proposed model and Base1-Base7, each a configuration of the same network.
#: Time pooling belongs to the last recurrent module (§2.3), so every model but Base4 keeps it.
ARCHITECTURES: dict[str, Architecture] = {
    "proposed": Architecture(),
    "Base1: w/ BLSTM": Architecture(recurrent="plain"),
    "Base2: w/ transformer": Architecture(transformer="plain"),
    "Base3: w/ BLSTM and transformer": Architecture(recurrent="plain", transformer="plain"),
    "Base4: w/o time pooling": Architecture(time_pooling=False),
    "Base5: Conv-residual-BLSTM": Architecture(transformer=None),
    # §3.3: Base6 differs from Base5 only in the residual connection ("the other parameters are the same")
    "Base6: Conv-BLSTM": Architecture(recurrent="no skip", transformer=None),
    "Base7: BLSTM (baseline)": Architecture(conv_front=False, recurrent="plain", transformer=None),
}


@dataclass(frozen=True)
class Sizes:
    """Every size of §2 (and our choices where it gives none)."""

    n_mels: int = 40  # §3.1
    channels: int = 128  # §2.1: 3-Conv-layers output channels
    kernels: tuple[int, int, int] = (5, 3, 3)  # §2.1
    lstm_units: int = 128  # §2.2: per direction, "the same as the dimension size of the input"
    ffn_hidden: int = 512  # §2.2: FFN 256 → 512 → 128
    dropout: float = 0.2  # §2.2 (BLSTM) and §2.3 (before time pooling)
    pool: int = 2  # §2.3: kernel 2, stride 2
    d_model: int = 128  # §2.4
    heads: int = 8  # §2.4
    transformer_ffn: int = 512  # not given: 4 × d_model, as in Vaswani et al.
    transformer_dropout: float = 0.1  # not given: PyTorch's (and Vaswani et al.'s) default
    transformer_layers: int = 3  # §2: three E-transformer modules, one encoder layer each (a module count: the name stays, being part of every training's identity)
    conv_kernel: int = 3  # §2.4: E-transformer's Conv1d kernel
    recurrent_layers: int = 2  # §2: two residual-BLSTM modules


def _masked(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``h`` (batch, time, dim) with padded steps set to zero."""
    return h * mask.unsqueeze(-1).to(h.dtype)


class ConvBlocks(nn.Module):
    """The 3-Conv-layers module (§2.1): three Conv1d (kernels 5, 3, 3; stride 1; 128 channels) + BN
    + ReLU blocks, with a residual connection around the last block."""

    def __init__(self, n_inputs: int, sizes: Sizes) -> None:
        super().__init__()
        widths = [n_inputs] + [sizes.channels] * len(sizes.kernels)
        self.blocks = nn.ModuleList(
            nn.ModuleDict({"conv": nn.Conv1d(n_in, n_out, k, padding=k // 2), "norm": MaskedBatchNorm1d(n_out)})
            for n_in, n_out, k in zip(widths, widths[1:], sizes.kernels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # (batch, channels, time)
        keep = mask.unsqueeze(1).to(h.dtype)
        for i, block in enumerate(self.blocks):
            out = torch.relu(block["norm"](block["conv"](h), mask)) * keep
            h = out + h if i == len(self.blocks) - 1 else out
        return h.transpose(1, 2)


class BLSTM(nn.Module):
    """One bidirectional LSTM layer over the valid frames (fused kernel, :class:`MaskedLSTM`),
    dropout on its output (§2.2)."""

    def __init__(self, n_inputs: int, units: int, dropout: float) -> None:
        super().__init__()
        self.lstm = MaskedLSTM(n_inputs, units)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.lstm(x, lengths))


class ResidualBLSTM(nn.Module):
    """Eqs. (1)-(3): ``H = FFN(BLSTM(X)) + X`` with ``FFN(h) = max(0, hW₁ + b₁)W₂ + b₂``
    (256 → 512 → 128); without ``skip`` (Base6), ``H = FFN(BLSTM(X))``."""

    def __init__(self, n_inputs: int, sizes: Sizes, skip: bool = True) -> None:
        super().__init__()
        self.skip = skip
        self.blstm = BLSTM(n_inputs, sizes.lstm_units, sizes.dropout)
        self.ffn = nn.Sequential(nn.Linear(2 * sizes.lstm_units, sizes.ffn_hidden), nn.ReLU(),
                                 nn.Linear(sizes.ffn_hidden, n_inputs))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = self.ffn(self.blstm(x, lengths))
        return out + x if self.skip else out


def time_pool(h: torch.Tensor, lengths: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Max pooling over time, kernel = stride = ``size`` (§2.3; max is our choice: the paper says
    "pooling operation in CNN"). A window holding the last valid frame and padding keeps only the
    valid frame; ``ceil(length / size)`` frames remain."""
    mask = length_mask(lengths, h.shape[1])
    filled = h.masked_fill(~mask.unsqueeze(-1), float("-inf")).transpose(1, 2)
    pooled = nn.functional.max_pool1d(filled, size, size, ceil_mode=True).transpose(1, 2)
    new_lengths = (lengths + size - 1) // size
    return pooled.masked_fill(~length_mask(new_lengths, pooled.shape[1]).unsqueeze(-1), 0.0), new_lengths


class ConvNorm(nn.Module):
    """E-transformer's Conv1d layer (§2.4): convolution (kernel 3, stride 1, 128 channels), ReLU,
    layer normalisation."""

    def __init__(self, dim: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.norm(torch.relu(self.conv(h.transpose(1, 2)).transpose(1, 2)))
        return _masked(out, mask)


def encoder_layer(sizes: Sizes) -> nn.TransformerEncoderLayer:
    """Fig. 2: multi-head self-attention and FFN sub-layers, each with a residual connection
    followed by layer normalisation (post-norm); 8 heads, d_model 128."""
    return nn.TransformerEncoderLayer(sizes.d_model, sizes.heads, sizes.transformer_ffn, sizes.transformer_dropout,
                                      batch_first=True, norm_first=False)


class ETransformer(nn.Module):
    """Eqs. (5)-(8): ``Y = Conv1d(Transformer(Conv1d(T))) + T``."""

    def __init__(self, sizes: Sizes) -> None:
        super().__init__()
        self.before = ConvNorm(sizes.d_model, sizes.conv_kernel)
        self.encoder = encoder_layer(sizes)
        self.after = ConvNorm(sizes.d_model, sizes.conv_kernel)

    def forward(self, t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        attended = self.encoder(self.before(t, mask), src_key_padding_mask=~mask)
        return self.after(_masked(attended, mask), mask) + t


class PlainTransformer(nn.Module):
    """A transformer encoder layer in place of an E-transformer module (Base2, Base3)."""

    def __init__(self, sizes: Sizes) -> None:
        super().__init__()
        self.encoder = encoder_layer(sizes)

    def forward(self, t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return _masked(self.encoder(t, src_key_padding_mask=~mask), mask)


def statistics_pooling(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. (9): mean and standard deviation over the valid frames, concatenated."""
    valid = mask.unsqueeze(-1).to(h.dtype)
    count = valid.sum(dim=1).clamp(min=1)
    mean = (h * valid).sum(dim=1) / count
    variance = (((h - mean.unsqueeze(1)) ** 2) * valid).sum(dim=1) / count
    return torch.cat([mean, torch.sqrt(variance + 1e-8)], dim=1)


class EmotionTransformer(nn.Module):
    """The proposed network (Fig. 1) or one of its ablations (:data:`ARCHITECTURES`): 3-Conv-layers
    → two (residual-)BLSTM modules → dropout + time pooling → three (E-)transformer modules →
    statistics pooling → a linear layer (softmax in the cross-entropy loss).

    A plain BLSTM stack outputs 256 values per frame (128 per direction); where a transformer
    (d_model 128) follows it, a linear layer projects them to 128 (our choice: the paper does not
    say how Base1 and Base3 join the two).
    """

    def __init__(self, n_classes: int = 4, architecture: Architecture = Architecture(), sizes: Sizes = Sizes()) -> None:
        super().__init__()
        self.architecture, self.sizes = architecture, sizes
        width = sizes.n_mels
        self.front = ConvBlocks(width, sizes) if architecture.conv_front else None
        width = sizes.channels if architecture.conv_front else width
        if architecture.recurrent in ("residual", "no skip"):
            if width != sizes.d_model:
                raise ValueError("a residual-BLSTM needs the 3-Conv-layers front (its input width is d_model)")
            skip = architecture.recurrent == "residual"
            self.recurrent = nn.ModuleList(ResidualBLSTM(width, sizes, skip) for _ in range(sizes.recurrent_layers))
        else:
            widths = [width] + [2 * sizes.lstm_units] * sizes.recurrent_layers
            self.recurrent = nn.ModuleList(BLSTM(n_in, sizes.lstm_units, sizes.dropout) for n_in in widths[:-1])
            width = widths[-1]
        self.pool_dropout = nn.Dropout(sizes.dropout) if architecture.time_pooling else None
        self.projection = None
        if architecture.transformer is not None:
            if width != sizes.d_model:
                self.projection = nn.Linear(width, sizes.d_model)
                width = sizes.d_model
            block = ETransformer if architecture.transformer == "enhanced" else PlainTransformer
            self.transformers = nn.ModuleList(block(sizes) for _ in range(sizes.transformer_layers))
        else:
            self.transformers = nn.ModuleList()
        self.classifier = nn.Linear(2 * width, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, frames, mels) with lengths in frames → class logits (batch, classes)."""
        lengths = lengths.clamp(min=1, max=x.shape[1])
        mask = length_mask(lengths, x.shape[1])
        h = _masked(x, mask)
        if self.front is not None:
            h = self.front(h, mask)
        for layer in self.recurrent:
            h = _masked(layer(h, lengths), mask)
        if self.pool_dropout is not None:
            h, lengths = time_pool(self.pool_dropout(h), lengths, self.sizes.pool)
            mask = length_mask(lengths, h.shape[1])
        if self.projection is not None:
            h = _masked(self.projection(h), mask)
        for block in self.transformers:
            h = block(h, mask)
        return self.classifier(statistics_pooling(h, mask))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def multiply_adds(model: EmotionTransformer, frames: int) -> dict[str, int]:
    """Multiply-adds of one utterance of ``frames`` frames, per part of the network (weights
    only: convolutions, LSTM gates, linear layers, attention projections and its two
    ``T × T × d`` products; normalisations and activations left out)."""
    sizes, architecture = model.sizes, model.architecture
    counts: dict[str, int] = {}
    steps = frames
    if model.front is not None:
        counts["3-Conv-layers"] = sum(steps * conv.in_channels * conv.out_channels * conv.kernel_size[0]
                                      for conv in (block["conv"] for block in model.front.blocks))
    recurrent = 0
    for layer in model.recurrent:
        lstm = layer.blstm.lstm if isinstance(layer, ResidualBLSTM) else layer.lstm
        recurrent += steps * 2 * 4 * lstm.hidden_size * (lstm.input_size + lstm.hidden_size)
        if isinstance(layer, ResidualBLSTM):
            recurrent += steps * sum(m.in_features * m.out_features for m in layer.ffn if isinstance(m, nn.Linear))
    counts["BLSTM part"] = recurrent
    if architecture.time_pooling:
        steps = -(-steps // sizes.pool)
    if model.projection is not None:
        counts["projection"] = steps * model.projection.in_features * model.projection.out_features
    d = sizes.d_model
    transformer = 0
    for block in model.transformers:
        attention = 4 * steps * d * d + 2 * steps * steps * d
        transformer += attention + 2 * steps * d * sizes.transformer_ffn
        if isinstance(block, ETransformer):
            transformer += 2 * steps * d * d * sizes.conv_kernel
    if model.transformers:
        counts["transformer part"] = transformer
    counts["classifier"] = model.classifier.in_features * model.classifier.out_features
    counts["total"] = sum(counts.values())
    counts["frames after time pooling"] = steps
    return counts
