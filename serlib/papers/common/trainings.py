"""One training of a paper's grid as a function of its key, whose outcome is stored.

A training is identified by a :class:`TrainingKey` (paper, table, system, task, split, seed) plus
its *identity* (:func:`serlib.identity.training_identity`: the model class and a fingerprint of
its code's syntax, what it is built from, how it is trained, its inputs and the utterance ids of
each part of its split). Both name the folder ``<cache>/trainings/<paper>/<key>-<hash>/`` that holds its
per-epoch checkpoint and, once finished, its outcome (``outcome.npz``): a changed model, loss,
configuration or split never reloads an old checkpoint, and adding a seed trains only that seed.
"""

from __future__ import annotations

import json
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from serlib import config, files
from serlib.training import Outcome, Predictions, load_trained


def training_seconds(outcomes: Iterable[Outcome]) -> float | None:
    """Training time recorded in the outcomes' histories; None when some epoch did not record it."""
    seconds = sum(o.training_seconds() for o in outcomes)
    return float(seconds) if np.isfinite(seconds) else None


@dataclass(frozen=True)
class TrainingKey:
    """One training of a paper's grid: which table, system, task, split and seed."""

    paper: str
    table: str
    system: str
    task: str
    split: str
    seed: int

    def slug(self) -> str:
        text = "-".join([self.table, self.system, self.task, self.split, f"seed{self.seed}"])
        return re.sub(r"[^A-Za-z0-9.+]+", "_", text).strip("_")[:120]


#: The files of a training's folder: the finished training's outcome (its presence marks the training as
#: stored), the key and identity beside it for a reader, the checkpoint a training resumes from, and
#: the kept network (the selected epoch's parameters only) of a training whose network a page
#: reloads for a figure: it travels with the outcome, so that figure needs no training on a fresh clone.
OUTCOME_FILE = "outcome.npz"
KEY_FILE = "key.json"
CHECKPOINT_FILE = "checkpoint.ckpt"
NETWORK_FILE = "network.pt"
#: A trained network's predictions of another test set (``tested-<name>.npz``, :meth:`Training.tested`):
#: small, so they travel with the outcome and a page reads them without the network.
TESTED_PATTERN = "tested-*.npz"


def training_folder(key: TrainingKey, identity: Mapping[str, Any], cache: str | Path | None = None) -> Path:
    """The training folder ``<cache>/trainings/<paper>/<key slug>-<hash of key and identity>``."""
    return folder_of(key, config.fingerprint({"key": asdict(key), **identity}), cache)


def folder_of(key: TrainingKey, digest: str, cache: str | Path | None = None) -> Path:
    """The training folder of ``key`` whose key-and-identity hash is ``digest``."""
    return config.trainings_dir(cache) / key.paper / f"{key.slug()}-{digest}"


def committed_outcome(key: TrainingKey, digest: str, outcomes: str | Path | None = None) -> Path:
    """Where a finished training's outcome is committed: ``<outcomes>/<paper>/<key slug>-<digest>/outcome.npz``
    (``outcomes/`` of the checkout by default; the cache's layout under ``trainings/``)."""
    return Path(outcomes if outcomes is not None else config.OUTCOMES_DIR) / key.paper / f"{key.slug()}-{digest}" / OUTCOME_FILE


def tested_path(folder: Path, name: str) -> Path:
    """Where a training's network's test named ``name`` is stored (:meth:`Training.tested`)."""
    return folder / TESTED_PATTERN.replace("*", name)


def save_tested(folder: Path, name: str, predictions: Predictions, seconds: float | None = None) -> None:
    """Store a network's utterance-level predictions of another test set in its training's
    ``folder``, with the ``seconds`` making them took (:func:`tested_seconds`)."""
    history = [] if seconds is None else [{"testing_seconds": round(float(seconds), 3)}]
    save_outcome(Outcome({"utterance": predictions}, history), tested_path(folder, name))


def tested_seconds(folder: Path, name: str) -> float:
    """The seconds a stored test (:func:`save_tested`) took; NaN where none were recorded."""
    history = load_outcome(tested_path(folder, name)).history
    return float(history[0]["testing_seconds"]) if history and "testing_seconds" in history[0] else float("nan")


def save_outcome(outcome: Outcome, path: Path) -> None:
    """An :class:`Outcome` as ``.npz`` (no pickle), written atomically."""
    arrays = {f"{level}.{name}": getattr(p, name) for level, p in outcome.levels.items()
              for name in ("y_true", "y_pred", "utterance", "posteriors")}
    arrays["history"] = np.array(json.dumps(outcome.history))
    with files.atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)


def load_outcome(path: Path) -> Outcome:
    with np.load(path, allow_pickle=False) as saved:
        levels = sorted({name.split(".")[0] for name in saved.files if "." in name})
        return Outcome(
            {level: Predictions(*(saved[f"{level}.{name}"] for name in ("y_true", "y_pred", "utterance", "posteriors")))
             for level in levels},
            json.loads(str(saved["history"])),
        )


def training_outcome(
    key: TrainingKey, identity: Mapping[str, Any], train: Callable[[Path], Outcome], cache: str | Path | None = None
) -> Outcome:
    """The outcome of training ``key``: read from its folder when a run finished before, else
    ``train(checkpoint path)`` (which resumes from that checkpoint if a run was interrupted)."""
    return Training(key, identity, train).run(cache)


@dataclass(frozen=True)
class Training:
    """One training of a paper's grid, not yet run: its key, its identity and how to train it
    (``train(checkpoint path) → Outcome``). A protocol runs it where it stands
    (:meth:`run`); ``serlib reproduce --executor dask`` runs a grid of them on a cluster first
    (:mod:`serlib.jobs`), and the protocol then reads their outcomes."""

    key: TrainingKey
    identity: Mapping[str, Any]
    train: Callable[[Path], Outcome]

    @property
    def digest(self) -> str:
        """Hash of key and identity: the end of :meth:`folder`'s name."""
        return config.fingerprint({"key": asdict(self.key), **self.identity})

    def folder(self, cache: str | Path | None = None) -> Path:
        return folder_of(self.key, self.digest, cache)

    def done(self, cache: str | Path | None = None) -> bool:
        """Whether a finished run's outcome is stored."""
        return (self.folder(cache) / OUTCOME_FILE).exists()

    def run(self, cache: str | Path | None = None) -> Outcome:
        """The stored outcome, or a training (resumed from its checkpoint) whose outcome is stored."""
        folder = self.folder(cache)
        stored = folder / OUTCOME_FILE
        if stored.exists():
            try:
                return load_outcome(stored)
            except (EOFError, ValueError, OSError, KeyError, zipfile.BadZipFile) as err:
                warnings.warn(f"cached outcome {stored} is unreadable ({type(err).__name__}: {err}); evaluating again "
                              "(from the checkpoint where it is intact)", stacklevel=3)
                stored.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        outcome = self.train(folder / CHECKPOINT_FILE)
        # the key before the outcome, which marks the training stored
        files.write_text(folder / KEY_FILE, json.dumps({"key": asdict(self.key), **self.identity}, indent=1, default=str))
        save_outcome(outcome, stored)
        return outcome

    def checkpoint(self, cache: str | Path | None = None) -> Path:
        """The checkpoint to reload this training's network from. An outcome imported from another
        machine (``serlib outcomes import``) comes without one: the training then runs again here,
        with its seed, and a warning says so and how many of its test predictions differ from the
        stored outcome's (the tables keep reading the stored outcome)."""
        folder = self.folder(cache)
        path = folder / CHECKPOINT_FILE
        if path.exists() or not self.done(cache):
            self.run(cache)
            return path
        retrained = self.train(path)
        stored = load_outcome(folder / OUTCOME_FILE)
        level = "utterance" if "utterance" in stored.levels else next(iter(stored.levels))
        before, after = stored.levels[level].y_pred, retrained.levels[level].y_pred
        differ = int((before != after).sum()) if before.shape == after.shape else len(before)
        warnings.warn(f"{self.key.slug()}: its outcome came without a checkpoint, so it was trained again here to "
                      f"reload its network; {differ} of {len(before)} {level}-level predictions differ from the stored "
                      "outcome's", stacklevel=2)
        return path

    def tested(self, name: str, test: Callable[[Path], Predictions], cache: str | Path | None = None) -> Predictions:
        """The trained network's predictions of another test set, named ``name`` (which must name
        the set's utterances): read from ``tested-<name>.npz`` beside the outcome, else ``test(checkpoint
        path)`` (the training runs first where it has not, and again where only its outcome was
        imported) and stored there. These files travel with the outcome; the network does not."""
        path = tested_path(self.folder(cache), name)
        if path.exists():
            return load_outcome(path).levels["utterance"]
        checkpoint = self.checkpoint(cache)
        if path.exists():  # training again stored it
            return load_outcome(path).levels["utterance"]
        started = time.time()
        predictions = test(checkpoint)
        save_tested(path.parent, name, predictions, seconds=time.time() - started)
        return predictions

    def network(self, make_model: Callable[[], nn.Module], select: str = "last", cache: str | Path | None = None) -> nn.Module:
        """The trained network (in eval mode, on the CPU), from its kept parameters (``network.pt``).
        The first reload writes them from the checkpoint (``select``: the epoch the training kept,
        ``"val"`` or ``"last"``), training again where there is none (:meth:`checkpoint`);
        ``serlib outcomes export`` carries them with the outcome."""
        kept = self.folder(cache) / NETWORK_FILE
        if not kept.exists():
            model = load_trained(make_model, self.checkpoint(cache), select)
            with files.atomic_path(kept) as temporary:
                torch.save({"select": select, "state": model.state_dict()}, temporary)
        saved = torch.load(kept, map_location="cpu", weights_only=True)
        if saved["select"] != select:
            raise ValueError(f"{kept}: keeps the {saved['select']!r} epoch's network, not the {select!r} one asked for")
        model = make_model()
        model.load_state_dict(saved["state"])
        return model.eval()
