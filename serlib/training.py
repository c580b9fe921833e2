"""The one training/evaluation loop every paper uses.

The contract a model meets is :class:`Trainable`: ``forward(x)`` (or ``forward(x, lengths)`` for
zero-padded variable-length inputs) returns class scores, where ``x`` is a tensor or, for a model
with several inputs, a dict of named tensors (:data:`serlib.examples.Inputs`); an optional ``loss(scores, targets)``
replaces cross-entropy and an optional ``penalty()`` is added to it. The loop: Adam (learning
rate, weight decay, optional gradient-norm clipping from :class:`TrainConfig`), mini-batches
shuffled by a per-epoch seed, per-epoch checkpoints that a rerun resumes from, model selection
on the last epoch or the best validation score (WA or UA), and predictions at two levels: the
model's input unit (window/segment) and the utterance (mean posterior over its windows).
"""

from __future__ import annotations

import os
import pickle
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from serlib import config, files, metrics
from serlib.examples import Examples, Inputs, count_rows, stack_examples, take_rows

__all__ = ["Examples", "stack_examples", "Trainable", "TrainConfig", "Predictions", "Outcome", "fit",
           "train_and_evaluate", "use_threads", "load_trained", "evaluate", "evaluate_estimator", "pool_folds", "pool_folds_per_seed"]


@runtime_checkable
class HasOwnLoss(Protocol):
    """A model that brings its own training objective (e.g. the capsule margin loss)."""

    def loss(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class HasPenalty(Protocol):
    """A model whose loss gets an extra regularisation term (e.g. Keras-style L2 on one layer)."""

    def penalty(self) -> torch.Tensor: ...


class Trainable(Protocol):
    """What the loop needs of a model: an ``nn.Module`` mapping inputs (batch, ...) to class scores
    (batch, classes); with ``Examples.lengths`` it is called as ``model(x, lengths)``. It may also
    be :class:`HasOwnLoss` (else cross-entropy on the scores) and :class:`HasPenalty`."""

    def __call__(self, x: torch.Tensor, *lengths: torch.Tensor) -> torch.Tensor: ...
    def parameters(self): ...
    def train(self, mode: bool = True): ...
    def eval(self): ...


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and selection settings; each paper's configuration fills these.

    ``select``: keep the model after the ``"last"`` epoch or the epoch with the best validation
    ``select_metric`` (``"val"``) at ``select_level`` (windows, or utterances from their windows'
    mean posteriors). ``patience``: stop once that many epochs have passed without a
    better validation score (None: train all ``epochs``). ``weight_decay`` is Adam's L2 term;
    ``gradient_clip`` the maximal global gradient norm (None: no clipping). ``balanced_loss``
    weights cross-entropy by inverse training-class frequency. ``length_buckets``: for zero-padded
    inputs, batches of similar lengths (each shuffled pool of :data:`BUCKET_POOL` batches sorted by
    length, then cut into batches taken in a shuffled order); every batch is cut to its longest
    sequence either way.
    """

    epochs: int
    batch_size: int
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    gradient_clip: float | None = None
    seed: int = 0
    device: str = "auto"
    select: Literal["last", "val"] = "last"
    select_metric: Literal["WA", "UA"] = "WA"
    select_level: Literal["window", "utterance"] = "window"
    patience: int | None = None
    balanced_loss: bool = False
    length_buckets: bool = False
    eval_batch_size: int = 2048
    progress: bool = True

    def identity(self) -> dict:
        """The settings that decide the trained weights, for a training's identity: ``device`` and
        ``progress`` blanked, and switches that are off (``select_level`` at
        windows, ``patience``, ``balanced_loss``, ``length_buckets``) left out, so that adding a switch
        keeps the identities of trainings that never used it."""
        fields = asdict(replace(self, device="", progress=False))
        for name, off in (("select_level", "window"), ("patience", None), ("balanced_loss", False),
                          ("length_buckets", False)):
            if fields[name] == off:
                del fields[name]
        return fields

    @property
    def selection_key(self) -> str:
        """The history entry the kept epoch is chosen on, e.g. ``val_WA`` or ``val_utterance_UA``."""
        return validation_key(self.select_metric, self.select_level)


def validation_key(metric: str, level: str = "window") -> str:
    """A validation score's name in a training history: ``val_<metric>`` for windows (the
    historical name), ``val_utterance_<metric>`` for utterances."""
    return f"val_{metric}" if level == "window" else f"val_{level}_{metric}"


@dataclass
class Predictions:
    """True and predicted classes at one level, with the utterance each row belongs to."""

    y_true: np.ndarray
    y_pred: np.ndarray
    utterance: np.ndarray
    posteriors: np.ndarray

    def score(self, metric: str) -> float:
        return metrics.METRICS[metric](self.y_true, self.y_pred)

    @staticmethod
    def concat(parts: list[Predictions]) -> Predictions:
        """Predictions of several test sets (e.g. the folds of a cross-validation) as one."""
        return Predictions(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("y_true", "y_pred", "utterance", "posteriors")))


@dataclass
class Outcome:
    """One trained model's test predictions (``window`` and ``utterance`` levels) and history."""

    levels: dict[str, Predictions]
    history: list[dict] = field(default_factory=list)

    def training_seconds(self) -> float:
        """Training time recorded in the history (also for a run reloaded from its checkpoint);
        NaN when some epoch was trained by a version that did not record it."""
        if not all("seconds" in h for h in self.history):
            return float("nan")
        return float(sum(h["seconds"] for h in self.history))

    def validation_score(self, metric: str = "WA", level: str = "window") -> float:
        """The best validation ``metric`` at ``level`` over the epochs: the epoch ``select="val"``
        keeps when it selects on the same score, and the score by which hyperparameters (e.g.
        learning rates) are compared."""
        key = validation_key(metric, level)
        scores = [h[key] for h in self.history if key in h]
        if not scores:
            raise ValueError(f"no validation {metric} at the {level} level in the history: train with a validation set "
                             "(an outcome from before utterance-level scores were recorded: train it again)")
        return max(scores)

    def kept_epoch(self, metric: str = "WA", level: str = "window") -> int:
        """The epoch ``select="val"`` keeps when it selects on this score: the first with the best
        validation ``metric`` at ``level``."""
        self.validation_score(metric, level)  # a clear error where the history has no such score
        key = validation_key(metric, level)
        return max((h for h in self.history if key in h), key=lambda h: (h[key], -h["epoch"]))["epoch"]


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int, device: torch.device) -> None:
    """Seed torch and ask for deterministic kernels on the CPU."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(device.type == "cpu")


def _forward(model: nn.Module, x, lengths: torch.Tensor | None) -> torch.Tensor:
    return model(x) if lengths is None else model(x, lengths)


def as_tensors(x: Inputs, device: torch.device):
    """``x`` (an array or a mapping of named arrays) as tensor(s) on ``device``."""
    if isinstance(x, Mapping):
        return {name: torch.as_tensor(value, device=device) for name, value in x.items()}
    return torch.as_tensor(x, device=device)


def cut_to_longest(x, lengths: torch.Tensor | np.ndarray | None):
    """A batch of zero-padded sequences (an array or tensor, or a mapping of them) cut to its longest
    sequence: every input with a time axis (three or more dimensions) loses the padding no example
    of the batch needs. Masked models compute the same on the shorter batch."""
    if lengths is None:
        return x
    longest = int(lengths.max())
    cut = lambda value: value[:, :longest] if value.ndim >= 3 else value  # noqa: E731
    return {name: cut(value) for name, value in x.items()} if isinstance(x, Mapping) else cut(x)


@torch.no_grad()
def predict_proba(
    model: nn.Module, x: Inputs, device: torch.device, batch_size: int, lengths: np.ndarray | None = None
) -> np.ndarray:
    """Softmax posteriors for ``x`` (with its ``lengths`` where padded) in evaluation mode;
    padded sequences are scored in batches of similar lengths, each cut to its longest."""
    model.eval()
    order = np.arange(count_rows(x)) if lengths is None else np.argsort(lengths, kind="stable")
    outputs = []
    for i in range(0, len(order), batch_size):
        rows = order[i : i + batch_size]
        batch_lengths = None if lengths is None else torch.as_tensor(lengths[rows], device=device)
        batch = as_tensors(cut_to_longest(take_rows(x, rows), batch_lengths), device)
        outputs.append(torch.softmax(_forward(model, batch, batch_lengths), dim=1).cpu().numpy())
    posteriors = np.empty((len(order), outputs[0].shape[1]), dtype=outputs[0].dtype)
    posteriors[order] = np.concatenate(outputs)
    return posteriors


def utterance_level(window: Predictions) -> Predictions:
    """Average window posteriors per utterance; the utterance's class is the argmax."""
    ids, inverse = np.unique(window.utterance, return_inverse=True)
    sums = np.zeros((len(ids), window.posteriors.shape[1]))
    np.add.at(sums, inverse, window.posteriors)
    posteriors = sums / np.bincount(inverse)[:, None]
    y_true = np.zeros(len(ids), dtype=int)
    y_true[inverse] = window.y_true
    return Predictions(y_true, posteriors.argmax(axis=1), ids, posteriors)


def evaluate(model: nn.Module, data: Examples, device: torch.device, batch_size: int) -> dict[str, Predictions]:
    """Predictions at the window and the utterance level."""
    posteriors = predict_proba(model, data.x, device, batch_size, data.lengths)
    window = Predictions(data.y, posteriors.argmax(axis=1), data.utterance, posteriors)
    return {"window": window, "utterance": utterance_level(window)}


def class_weights(y: torch.Tensor, cfg: TrainConfig) -> torch.Tensor | None:
    """Inverse class frequency of the training labels, mean weight 1 per example (``balanced_loss``), else None."""
    if not cfg.balanced_loss:
        return None
    counts = torch.bincount(y).to(torch.float32)
    if torch.any(counts == 0):
        raise ValueError(f"balanced_loss: a class has no training example (counts {counts.tolist()})")
    return counts.sum() / (len(counts) * counts)


def stopped_early(history: list[dict], best: dict, cfg: TrainConfig) -> bool:
    """True once ``cfg.patience`` epochs have passed since the best validation epoch."""
    return cfg.patience is not None and bool(history) and len(history) - best.get("epoch", 0) >= cfg.patience


#: Batches per pool that :class:`TrainConfig`'s ``length_buckets`` sorts by length.
BUCKET_POOL = 16


def epoch_batches(rows: int, batch_size: int, seed: int, lengths: torch.Tensor | None = None) -> list[torch.Tensor]:
    """The shuffled mini-batches of one epoch (seeded); with ``lengths``, batches of similar
    lengths (see :class:`TrainConfig`'s ``length_buckets``)."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(rows, generator=generator)
    if lengths is None:
        return list(order.split(batch_size))
    batches = []
    for pool in order.split(batch_size * BUCKET_POOL):
        by_length = pool[torch.argsort(lengths.cpu()[pool], stable=True)]
        batches += list(by_length.split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def _epoch(model, optimizer, x, y, lengths, cfg: TrainConfig, epoch: int, device) -> float:
    model.train()
    seed = cfg.seed * 100_003 + epoch
    batches = epoch_batches(count_rows(x), cfg.batch_size, seed, lengths if cfg.length_buckets else None)
    torch.manual_seed(seed)  # dropout masks: reproducible after a resume
    loss_fn = model.loss if isinstance(model, HasOwnLoss) else nn.CrossEntropyLoss(weight=class_weights(y, cfg))
    total, count = 0.0, 0
    for rows in batches:
        rows = rows.to(device)
        batch_lengths = None if lengths is None else lengths[rows]
        scores = _forward(model, cut_to_longest(take_rows(x, rows), batch_lengths), batch_lengths)
        loss = loss_fn(scores, y[rows])
        if isinstance(model, HasPenalty):
            loss = loss + model.penalty()
        optimizer.zero_grad()
        loss.backward()
        if cfg.gradient_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.gradient_clip)
        optimizer.step()
        total += loss.item() * len(rows)
        count += len(rows)
    return total / count


def read_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict | None:
    """The training state saved at ``path``; None when there is none. An unreadable checkpoint
    (cut by a killed run or a full disk) is reported in one warning naming the file and moved
    aside (``.corrupt``): the training starts again from scratch instead of crashing."""
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except (EOFError, RuntimeError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        warnings.warn(f"checkpoint {path} is unreadable ({type(err).__name__}: {err}); training from scratch", stacklevel=3)
        path.replace(path.with_name(path.name + ".corrupt"))
        return None


def use_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads for this process (:func:`serlib.config.threads`): every training
    calls it, so a notebook's kernel, a CLI run and a Dask worker all train on the threads chosen,
    whichever path started them. A chosen count is kept in ``$SERLIB_THREADS`` so that later trainings
    of the process keep it. Returns the count."""
    count = config.threads(threads)
    if threads:
        os.environ[config.THREADS_ENV] = str(count)
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def fit(
    model: nn.Module,
    train: Examples,
    val: Examples | None,
    cfg: TrainConfig,
    checkpoint: Path | None = None,
) -> list[dict]:
    """Train ``model`` in place; returns the per-epoch history (loss, validation WA and UA of
    windows and of utterances, seconds).

    With ``checkpoint``, state is saved after every epoch and an existing checkpoint is resumed
    (a finished or early-stopped run reloads at once). ``cfg.select == "val"`` restores, at the end,
    the epoch with the best validation ``cfg.selection_key`` (ties: the earliest).
    """
    if (cfg.select == "val" or cfg.patience is not None) and val is None:
        raise ValueError("select='val' and patience need a validation set")
    if cfg.balanced_loss and isinstance(model, HasOwnLoss):
        raise ValueError(f"balanced_loss weights cross-entropy; {type(model).__name__} brings its own loss")
    device = next(model.parameters()).device
    use_threads()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    history: list[dict] = []
    best: dict = {"score": -1.0, "state": None}
    saved = read_checkpoint(checkpoint, device) if checkpoint is not None else None
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        history, best = saved["history"], saved["best"]
    x = as_tensors(train.x, device)
    y = torch.as_tensor(train.y, device=device, dtype=torch.long)
    lengths = None if train.lengths is None else torch.as_tensor(train.lengths, device=device)
    epochs = range(len(history) + 1, cfg.epochs + 1)
    for epoch in tqdm(epochs, desc="epochs", disable=not cfg.progress, leave=False):
        if stopped_early(history, best, cfg):
            break
        started = time.time()
        record = {"epoch": epoch, "train_loss": _epoch(model, optimizer, x, y, lengths, cfg, epoch, device)}
        record["seconds"] = time.time() - started
        if val is not None:
            levels = evaluate(model, val, device, cfg.eval_batch_size)
            record.update({validation_key(metric, level): predictions.score(metric)
                           for level, predictions in levels.items() for metric in ("WA", "UA")})
            if record[cfg.selection_key] > best["score"]:
                best = {"score": record[cfg.selection_key], "epoch": epoch,
                        "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
        history.append(record)
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "history": history, "best": best}
            with files.atomic_path(checkpoint) as temporary:
                torch.save(state, temporary)
    if cfg.select == "val":
        model.load_state_dict(best["state"])
    return history


def train_and_evaluate(
    make_model: Callable[[], nn.Module],
    data: dict[str, Examples],
    cfg: TrainConfig,
    checkpoint: Path | None = None,
) -> Outcome:
    """Seed, build, train on ``data["train"]`` (validating on ``data.get("val")``), test on ``data["test"]``."""
    model, history = trained_model(make_model, data, cfg, checkpoint)
    return Outcome(evaluate(model, data["test"], resolve_device(cfg.device), cfg.eval_batch_size), history)


def trained_model(
    make_model: Callable[[], nn.Module],
    data: Mapping[str, Examples],
    cfg: TrainConfig,
    checkpoint: Path | None = None,
) -> tuple[nn.Module, list[dict]]:
    """Seed, build and train on ``data["train"]`` (validating on ``data.get("val")``): the model
    (the kept epoch's) and its history, for a caller that tests it on several sets."""
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed, device)
    model = make_model().to(device)
    history = fit(model, data["train"], data.get("val"), cfg, checkpoint)
    return model, history


def load_trained(make_model: Callable[[], nn.Module], checkpoint: Path, select: Literal["last", "val"] = "last") -> nn.Module:
    """The model a finished :func:`fit` left behind, rebuilt from its checkpoint (on the CPU)."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = make_model()
    model.load_state_dict(saved["best"]["state"] if select == "val" else saved["model"])
    return model.eval()


def evaluate_estimator(make_estimator: Callable[[], object], data: dict[str, Examples]) -> Outcome:
    """A scikit-learn classifier fitted on ``data["train"]`` and tested on ``data["test"]``.

    Posteriors come from ``predict_proba`` where the estimator has it, else are one-hot
    predictions (e.g. an SVM). For utterance-level inputs both levels are the same predictions.
    """
    started = time.time()
    estimator = make_estimator().fit(data["train"].x, data["train"].y)
    seconds = time.time() - started
    if not np.array_equal(estimator.classes_, np.arange(len(estimator.classes_))):
        raise ValueError(f"training labels must be 0..C-1, each present; got classes {estimator.classes_.tolist()}")
    test = data["test"]
    if hasattr(estimator, "predict_proba"):
        posteriors = estimator.predict_proba(test.x)
    else:
        posteriors = (estimator.predict(test.x)[:, None] == estimator.classes_[None, :]).astype(float)
    window = Predictions(test.y, posteriors.argmax(axis=1), test.utterance, posteriors)
    return Outcome({"window": window, "utterance": utterance_level(window)}, [{"epoch": 1, "seconds": seconds}])


def mean_score(outcomes: Iterable[Outcome], metric: str, level: str = "utterance") -> float:
    """``metric`` of each outcome's test predictions at ``level``, averaged (e.g. over seeds)."""
    return float(np.mean([o.levels[level].score(metric) for o in outcomes]))


def pooled_confusion(outcomes: Iterable[Outcome], level: str, n_classes: int) -> np.ndarray:
    """Row-normalised confusion matrix of ``outcomes``' test predictions at ``level``, their counts
    summed (folds pooled, seeds summed) before each row is divided by its total."""
    counts = sum(metrics.confusion_matrix(o.levels[level].y_true, o.levels[level].y_pred, n_classes) for o in outcomes)
    return metrics.row_normalised(np.asarray(counts))


def pooled_recalls(outcomes: Iterable[Outcome], level: str, n_classes: int) -> np.ndarray:
    """Recall of each class (0..1) over ``outcomes``' pooled test predictions at ``level``: the
    diagonal of :func:`pooled_confusion`."""
    return np.diag(pooled_confusion(outcomes, level, n_classes))


def pool_folds(outcomes: list[Outcome]) -> Outcome:
    """One outcome from the folds of a cross-validation (one seed): test predictions pooled,
    histories concatenated (so training time adds up over the folds)."""
    return Outcome(
        {level: Predictions.concat([o.levels[level] for o in outcomes]) for level in outcomes[0].levels},
        [h for o in outcomes for h in o.history],
    )


def pool_folds_per_seed(folds: Iterable[Sequence[Outcome]]) -> list[Outcome]:
    """One pooled outcome per seed from each fold's outcomes in seed order: ``folds[f][s]`` →
    ``[pool_folds([folds[0][s], folds[1][s], ...]) for s in seeds]``. Every fold needs every seed."""
    per_fold = [list(outcomes) for outcomes in folds]
    if len({len(outcomes) for outcomes in per_fold}) > 1:
        raise ValueError(f"folds with different numbers of seeds: {[len(outcomes) for outcomes in per_fold]}")
    return [pool_folds(list(per_seed)) for per_seed in zip(*per_fold)]
