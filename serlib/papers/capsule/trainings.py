"""One training of the capsule paper: the inputs of a split (context windows, supervectors,
eGeMAPS vectors), the model and training configuration of each system, and the cached training
(:func:`system_training`) with its identity."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from serlib import config, features, files, splits, training
from serlib.identity import training_identity
from serlib.examples import Examples, stack_examples
from serlib.models.capsule import CapsuleReading, TemporalCapsuleNetwork, VectorCNN
from serlib.papers import common
from serlib.papers.capsule.config import EXTRACTORS, FEATURE_STAR, HPARAMS, PAPER, SYSTEMS, Settings, Variant
from serlib.papers.capsule.data import Corpus, Task


def _scaled(train_rows: np.ndarray, frames: list[np.ndarray]) -> list[np.ndarray]:
    return features.Standardizer().fit([frames[r] for r in train_rows]).transform(frames)


def supervectors(corpus: Corpus, task: Task, split: splits.Split, seed: int, settings: Settings,
                 cache: str | Path | None = None) -> np.ndarray:
    """GMM posterior supervectors (§2.4) of every utterance, with the per-class GMMs fitted on the
    training part's standardised Feature* frames. Cached on disk: the SVM and the CNN back-ends of
    one split and task share one fit."""
    identity = {"features": features.extractor_key(FEATURE_STAR), "utterances": corpus.manifest["utterance_id"].tolist(),
                "labels": task.labels.tolist(), "train": split.train.tolist(), "seed": seed,
                "components": settings.gmm_components, "max_frames": HPARAMS.gmm_max_frames}
    path = config.cache_dir(cache) / "supervectors" / f"{config.fingerprint(identity)}.npy"
    if path.exists():
        return np.load(path)
    scaled = _scaled(split.train, corpus.features["feature*"])
    model = features.GMMSupervector(settings.gmm_components, HPARAMS.gmm_max_frames, seed)
    vectors = model.fit([scaled[r] for r in split.train], task.labels[split.train]).transform(scaled)
    with files.atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, vectors)
    return vectors


def split_inputs(corpus: Corpus, kind: str, task: Task, split: splits.Split, seed: int, settings: Settings,
                 cache: str | Path | None = None, window_shift: int = HPARAMS.window_shift) -> dict[str, Examples]:
    """Train/val/test examples of one input kind (frame kinds: ±``HPARAMS.context`` windows every
    ``window_shift`` frames). Every statistic (z-scores, GMMs, vector scaling) comes from the
    training part only."""
    parts = {part: rows for part, rows in split.parts().items() if len(rows)}
    y = task.labels
    if kind in ("feature*", "fb128"):
        scaled = _scaled(split.train, corpus.features[kind])
        windows = {r: features.context_windows(scaled[r], HPARAMS.context, window_shift)
                   for rows in parts.values() for r in rows}
        return {part: stack_examples(windows, y, rows) for part, rows in parts.items()}
    vectors = supervectors(corpus, task, split, seed, settings, cache) if kind == "supervector" else corpus.features["egemaps"]
    scaled = StandardScaler().fit(vectors[split.train]).transform(vectors).astype(np.float32)
    return {part: Examples(scaled[rows], y[rows], rows) for part, rows in parts.items()}


# --------------------------------------------------------------------------- one training


def model_builder(system: str, n_inputs: int, n_classes: int, reading: CapsuleReading = "per_step"):
    """A function building a fresh model of ``system`` (a TemporalCapsuleNetwork or VectorCNN);
    ``reading``: how conv maps form capsules (the labelled variant reads them whole)."""
    backend = SYSTEMS[system][2]
    if backend == "vector_cnn":
        return lambda: VectorCNN(n_classes)
    return lambda: TemporalCapsuleNetwork(
        backend, n_inputs, n_classes, HPARAMS.capsules(n_classes), HPARAMS.blstm_units, HPARAMS.filters,
        HPARAMS.kernel, HPARAMS.class_capsule_dim, HPARAMS.routing_iterations, reading, 2 * HPARAMS.context + 1)


def epoch_budget(system: str, epochs: int, vector_cnn_epochs: int) -> int:
    """The epochs ``system``'s back-end trains: ``vector_cnn_epochs`` for the vector CNNs, else ``epochs``."""
    return vector_cnn_epochs if SYSTEMS[system][2] == "vector_cnn" else epochs


def network_config(system: str, settings: Settings, learning_rate: float, seed: int, device: str, has_val: bool) -> training.TrainConfig:
    """Batch and epochs of the back-end. Where there is a validation speaker, the epoch with the
    best utterance-level validation UA is kept (the score that also chooses the learning rate);
    else the model after the last epoch."""
    vector = SYSTEMS[system][2] == "vector_cnn"
    return training.TrainConfig(
        epochs=epoch_budget(system, settings.epochs, settings.vector_cnn_epochs),
        batch_size=HPARAMS.vector_cnn_batch if vector else HPARAMS.batch_size,
        learning_rate=learning_rate, seed=seed, device=device, progress=False, select="val" if has_val else "last",
        select_metric=HPARAMS.select_metric, select_level=HPARAMS.select_level)


def svm_estimator(train_labels: np.ndarray, n_classes: int):
    """RBF SVM, C by 3-fold CV on the training part (fewer folds only where a class has fewer
    training utterances, e.g. smoke)."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    folds = min(3, int(np.bincount(train_labels, minlength=n_classes).min()))
    svm = lambda: SVC(kernel="rbf", gamma="scale", C=float(np.median(HPARAMS.svm_C)))  # noqa: E731
    return (lambda: GridSearchCV(svm(), {"C": list(HPARAMS.svm_C)}, cv=folds)) if folds >= 2 else svm


def is_network(system: str) -> bool:
    """Whether ``system`` is trained by gradient descent (and so has a learning rate to choose)."""
    return SYSTEMS[system][2] != "svm"


def system_identity(corpus: Corpus, system: str, task: Task, split: splits.Split, settings: Settings,
                      learning_rate: float, variant_: Variant | None = None) -> dict:
    """What, besides its key, a training of ``system`` depends on (a variant's changes only where
    it makes them, so that the paper protocol's trainings keep their identities)."""
    backend = SYSTEMS[system][2]
    model = "svm" if backend == "svm" else VectorCNN if backend == "vector_cnn" else TemporalCapsuleNetwork
    arguments = {"backend": backend, "hparams": asdict(HPARAMS)}
    if variant_ is not None and variant_.reading != "per_step":
        arguments["reading"] = variant_.reading
    trained = {"learning_rate": learning_rate, "epochs": settings.epochs, "vector_cnn_epochs": settings.vector_cnn_epochs}
    inputs = {"features": features.extractor_key(EXTRACTORS[SYSTEMS[system][1]]), "classes": task.classes,
              "gmm_components": settings.gmm_components,
              "utterances": config.fingerprint(corpus.manifest["utterance_id"].tolist())}
    if variant_ is not None and variant_.window_shift is not None:
        inputs["window_shift"] = variant_.window_shift
    return training_identity(model, arguments, trained, inputs, split)


def system_training(corpus: Corpus, table: str, system: str, task: Task, split: splits.Split, seed: int,
                    settings: Settings, learning_rate: float, device: str = "auto", cache: str | Path | None = None,
                    variant_: Variant | None = None) -> common.Training:
    """One training of ``system`` on ``split`` for ``task`` (an SVM fit included, as one job), not yet
    run; ``variant_``: a variant that changes the training (its model or its windows)."""
    reading = variant_.reading if variant_ else "per_step"
    shift = (variant_.window_shift if variant_ else None) or HPARAMS.window_shift
    label = f"{corpus.name} {task.name} lr={learning_rate:g}" + (f" {variant_.name}" if variant_ and variant_.changes_training else "")

    def train(checkpoint: Path) -> training.Outcome:
        data = split_inputs(corpus, SYSTEMS[system][1], task, split, seed, settings, cache, shift)
        if not is_network(system):
            return training.evaluate_estimator(svm_estimator(data["train"].y, len(task.classes)), data)
        make_model = model_builder(system, data["train"].x.shape[-1], len(task.classes), reading)
        cfg = network_config(system, settings, learning_rate, seed, device, "val" in data)
        return training.train_and_evaluate(make_model, data, cfg, checkpoint)

    return common.Training(common.TrainingKey(PAPER, table, system, label, split.name, seed),
                           system_identity(corpus, system, task, split, settings, learning_rate, variant_), train)


def train_system(corpus: Corpus, table: str, system: str, task: Task, split: splits.Split, seed: int,
                 settings: Settings, learning_rate: float, device: str = "auto",
                 cache: str | Path | None = None) -> training.Outcome:
    """One cached training of ``system`` on ``split`` for ``task`` (run, or read when stored)."""
    return system_training(corpus, table, system, task, split, seed, settings, learning_rate, device, cache).run(cache)


def trained_model(corpus: Corpus, table: str, system: str, task: Task, split: splits.Split, seed: int,
                  settings: Settings, learning_rate: float, cache: str | Path | None = None):
    """The network :func:`train_system` left behind (with its inputs), reloaded from its kept
    parameters (:meth:`~serlib.papers.common.Training.network`)."""
    job = system_training(corpus, table, system, task, split, seed, settings, learning_rate, cache=cache)
    data = split_inputs(corpus, SYSTEMS[system][1], task, split, seed, settings, cache)
    make_model = model_builder(system, data["train"].x.shape[-1], len(task.classes))
    return job.network(make_model, "val" if "val" in data else "last", cache), data
