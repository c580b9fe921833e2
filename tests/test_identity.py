"""One identity rule for every training (serlib.identity): what changes a training's identity, and
what must not (comments, docstrings, formatting, unrelated code); the committed outcomes are found."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serlib import identity, jobs, splits
from serlib.models import capsule as capsule_models
from serlib.models import crnn as crnn_models
from serlib.models import layers
from serlib.models import rnn as rnn_models

CAPSULE, LAYERS = capsule_models.__name__, layers.__name__


def sources() -> dict[str, str]:
    return {CAPSULE: inspect.getsource(capsule_models), LAYERS: inspect.getsource(layers)}


def cosmetic(source: str) -> str:
    """``source`` with a comment on every function, a new docstring, a reflowed line and an unrelated
    function: what must leave every fingerprint alone."""
    edited = re.sub(r"^(\s*)def (\w+)\((.*)$", r"\1# a comment above \2\n\1def \2(\3", source, flags=re.M)
    edited = re.sub(r'"""(.)', r'"""Edited docstring. \1', edited, count=3)
    edited = edited.replace("from torch import nn", "from torch import (\n    nn,\n)")
    return edited + "\n\ndef an_unrelated_helper(x):\n    return x + 1  # nothing uses this\n"


def test_comments_docstrings_formatting_and_unrelated_code_keep_the_fingerprint():
    model = capsule_models.TemporalCapsuleNetwork
    before = identity.code_fingerprint(model)
    edited = {name: cosmetic(text) for name, text in sources().items()}
    assert edited[CAPSULE] != sources()[CAPSULE] and "# a comment above squash" in edited[LAYERS]
    assert identity.code_fingerprint(model, edited) == before


def test_a_changed_width_forward_pass_or_used_layer_changes_the_fingerprint():
    model = capsule_models.TemporalCapsuleNetwork
    before = identity.code_fingerprint(model)
    wider = sources()[CAPSULE].replace("units: int = 256,", "units: int = 257,")
    assert wider != sources()[CAPSULE]
    assert identity.code_fingerprint(model, {CAPSULE: wider}) != before
    squash = sources()[LAYERS].replace("squared / (1 + squared)", "squared / (2 + squared)")
    assert identity.code_fingerprint(model, {LAYERS: squash}) != before
    # a layer the capsule network does not use changes only the models that use it
    pooling = sources()[LAYERS].replace("clamp(min=1)\n    largest", "clamp(min=2)\n    largest")
    assert pooling != sources()[LAYERS]
    assert identity.code_fingerprint(model, {LAYERS: pooling}) == before
    assert identity.code_fingerprint(crnn_models.PlainCRNN, {LAYERS: pooling}) != identity.code_fingerprint(crnn_models.PlainCRNN)
    assert identity.code_fingerprint(rnn_models.RecurrentClassifier, {LAYERS: pooling}) == \
        identity.code_fingerprint(rnn_models.RecurrentClassifier)


def _committed_keys() -> list[tuple[str, dict]]:
    return [(path.parent.parent.name, json.loads(path.read_text())) for path in sorted(jobs.OUTCOMES_DIR.glob("*/*/key.json"))]


def _defining_module(modules: dict, model: str) -> str:
    """The one serlib.models module that defines the class ``model``."""
    defining = [name for name, module in modules.items()
                if isinstance(getattr(module, model, None), type) and getattr(module, model).__module__ == name]
    assert len(defining) == 1, f"model {model!r} is defined in {defining or 'no module'} of serlib.models"
    return defining[0]


@pytest.mark.parametrize("edit", [False, True], ids=["as committed", "after cosmetic edits of every model module"])
def test_committed_outcomes_are_still_found_by_the_code_that_looks_for_them(edit):
    """Every committed outcome's model code still hashes as it did when it ran: also after a comment,
    a docstring and an unrelated function are added to every file of serlib.models. A change to
    a model, a layer it uses or a paper's hyperparameters orphans them, and this names them."""
    from dataclasses import asdict

    modules = {m.__name__: m for m in (importlib.import_module(f"serlib.models.{p.stem}")
                                        for p in sorted(Path(layers.__file__).parent.glob("*.py")) if p.stem != "__init__")}
    edited = {name: cosmetic(inspect.getsource(module)) for name, module in modules.items()} if edit else {}
    committed = _committed_keys()
    assert committed, "no committed outcomes found"
    orphaned = []
    for paper, saved in committed:
        # a study (e.g. crosscorpus) trains the papers' models: the paper is the module defining the model
        defining = f"serlib.models.{paper}" if f"serlib.models.{paper}" in modules else _defining_module(modules, saved["model"])
        if saved.get("code"):
            model = getattr(modules[defining], saved["model"])
            if identity.code_fingerprint(model, edited) != saved["code"]:
                orphaned.append(f"{saved['key']}: model code")
        hparams = saved["arguments"].get("hparams", saved["train"].get("hparams"))
        if hparams is None:
            continue
        paper_module = defining.replace("serlib.models.", "serlib.papers.")
        if importlib.util.find_spec(paper_module) is None:
            orphaned.append(f"{saved['key']}: its model {saved['model']!r} is defined in {defining}, which no paper's "
                            "HPARAMS describe (define a paper's model in serlib/models/<paper>.py)")
            continue
        if json.loads(json.dumps(asdict(importlib.import_module(paper_module).HPARAMS))) != hparams:
            orphaned.append(f"{saved['key']}: hyperparameters")
    assert not orphaned, "committed outcomes no longer found by the code: " + "; ".join(orphaned)


def test_a_split_is_its_utterance_ids_not_its_row_positions():
    manifest = pd.DataFrame({"utterance_id": [f"u{i}" for i in range(6)], "speaker": list("aabbcc")})
    split = splits.make_split(manifest, "s", train=[0, 1, 2, 3], test=[4, 5])
    reordered = manifest.iloc[::-1].reset_index(drop=True)
    same = splits.make_split(reordered, "s", train=[2, 3, 4, 5], test=[0, 1])
    assert identity.split_identity(split) == identity.split_identity(same)
    renamed = manifest.assign(utterance_id=[f"v{i}" for i in range(6)])  # same shape, other utterances
    other = splits.make_split(renamed, "s", train=[0, 1, 2, 3], test=[4, 5])
    assert identity.split_identity(other) != identity.split_identity(split)
    assert identity.split_identity(split)["test"]["count"] == 2
    with pytest.raises(ValueError, match="carries no utterance ids"):
        identity.split_identity(splits.Split("bare", np.arange(2), np.arange(0), np.arange(2, 4), speaker_independent=False))


def test_an_estimator_outside_serlib_models_has_no_code_fingerprint():
    with pytest.raises(ValueError, match="not defined in serlib.models"):
        identity.code_fingerprint(pd.DataFrame)


def test_the_fingerprint_text_is_the_same_on_every_python():
    """canonical_dump writes what Python 3.11's ast.dump writes (the committed outcomes were keyed
    with it) and leaves out fields later Pythons added; a pinned hash catches any drift."""
    import ast
    import sys

    for module in (capsule_models, layers, crnn_models, rnn_models):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.Assign)) and sys.version_info[:2] == (3, 11):
                assert identity.canonical_dump(node) == ast.dump(node, annotate_fields=False, include_attributes=False)
    source = "class Model:\n    def forward(self, x, y=None):\n        return x * 2 if y is None else y\n"
    tree = ast.parse(source).body[0]
    assert identity.canonical_dump(tree) == (
        "ClassDef('Model', [], [], [FunctionDef('forward', arguments([], [arg('self'), arg('x'), arg('y')], "
        "kwonlyargs=[], kw_defaults=[], defaults=[Constant(None)]), [Return(IfExp(Compare(Name('y', Load()), [Is()], "
        "[Constant(None)]), BinOp(Name('x', Load()), Mult(), Constant(2)), Name('y', Load())))], [])], [])")


def test_a_module_imported_under_another_name_is_followed_and_a_relative_import_refused():
    aliased = sources()[CAPSULE].replace("from serlib.models.layers import DynamicRouting, margin_loss, squash",
                                         "import serlib.models.layers as L")
    for name in ("DynamicRouting", "margin_loss", "squash"):
        aliased = re.sub(rf"(?<![\w.]){name}\(", f"L.{name}(", aliased)
    model = capsule_models.TemporalCapsuleNetwork
    before = identity.code_fingerprint(model, {CAPSULE: aliased})
    squash = sources()[LAYERS].replace("squared / (1 + squared)", "squared / (2 + squared)")
    assert identity.code_fingerprint(model, {CAPSULE: aliased, LAYERS: squash}) != before
    relative = sources()[CAPSULE].replace("from serlib.models.layers import", "from .layers import")
    with pytest.raises(ValueError, match="relative import of layers"):
        identity.code_fingerprint(model, {CAPSULE: relative})
