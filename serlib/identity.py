"""A training's identity: what it computes, and nothing else (one rule for every paper).

A training is found in the cache (and in the committed ``outcomes/``) by the hash of its
:class:`~serlib.papers.common.TrainingKey` and of :func:`training_identity`:

- ``model``: the model class, and ``code``: :func:`code_fingerprint` of the class and of every
  ``serlib.models`` definition it uses (shared layers, loss functions, size dataclasses), read
  from their syntax trees with docstrings dropped, so that a comment, a docstring, formatting or
  an unrelated function in the same module changes nothing, while a changed layer width or
  forward pass does;
- ``arguments``: what the model is built from (architecture, sizes, hyperparameters);
- ``train``: the optimisation settings (:meth:`serlib.training.TrainConfig.identity` and the
  paper's training choices);
- ``inputs``: each input's extractor cache key and how the paper turns features into examples;
- ``split``: each part as the count and hash of its sorted utterance ids (a changed manifest of
  the same shape is a new split; a reordered manifest is the same split).

The seed is part of the key (and of ``train``).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from typing import Any

from serlib import config

#: The package whose definitions a model's code fingerprint follows.
MODELS_PACKAGE = "serlib.models"


#: Fields that later Pythons added to nodes this code uses (3.12: generic type parameters), left out
#: so that a fingerprint is the same on every Python the project supports.
NEWER_FIELDS = frozenset({"type_params"})


def canonical_dump(node: object) -> str:
    """A syntax tree as text, the same on every supported Python: what Python 3.11's
    ``ast.dump(node, annotate_fields=False, include_attributes=False)`` writes (positional fields;
    an optional field that is None is left out and the fields after it are named), without
    :data:`NEWER_FIELDS` (``ast.dump`` itself changed its output in 3.12 and 3.13)."""
    if isinstance(node, ast.AST):
        parts, named = [], False
        for name in node._fields:
            if name in NEWER_FIELDS:
                continue
            try:
                value = getattr(node, name)
            except AttributeError:
                named = True
                continue
            if value is None and getattr(type(node), name, ...) is None:
                named = True
                continue
            text = canonical_dump(value)
            parts.append(f"{name}={text}" if named else text)
        return f"{type(node).__name__}({', '.join(parts)})"
    if isinstance(node, list):
        return f"[{', '.join(canonical_dump(item) for item in node)}]"
    return repr(node)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstring of every module, class and function removed (in place)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a module body, with those inside top-level ``if``/``try``/``with`` blocks."""
    found = []
    for node in body:
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for block in ("body", "orelse", "finalbody"):
                found += _top_level(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                found += _top_level(handler.body)
        else:
            found.append(node)
    return found


class _ModuleDefinitions:
    """The top-level definitions of one ``serlib.models`` module by name (every statement that
    binds the name), and the names it imports from sibling modules (``from serlib.models.layers
    import squash``; ``from serlib.models import layers``; ``import serlib.models.layers as L``)."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.statements: dict[str, list[ast.stmt]] = {}
        self.imported: dict[str, tuple[str, str | None]] = {}  # alias → (module, name or None for the module)
        for node in _top_level(_without_docstrings(ast.parse(source)).body):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                self.statements.setdefault(node.name, []).append(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for leaf in (leaf for target in targets for leaf in ast.walk(target)):
                    if isinstance(leaf, ast.Name) and node not in self.statements.get(leaf.id, []):
                        self.statements.setdefault(leaf.id, []).append(node)
            elif isinstance(node, ast.ImportFrom):
                self._import_from(node)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(MODELS_PACKAGE + ".") and alias.asname:
                        self.imported[alias.asname] = (alias.name, None)
                    elif alias.name.startswith(MODELS_PACKAGE):
                        raise ValueError(f"{name}: write `import {alias.name} as NAME` or `from ... import`: a model's "
                                         "code fingerprint follows those")

    def _import_from(self, node: ast.ImportFrom) -> None:
        if node.level:
            raise ValueError(f"{self.name}: relative import of {node.module or '.'}; serlib.models modules import "
                             "absolutely, so that a model's code fingerprint can follow them")
        for alias in node.names:
            local = alias.asname or alias.name
            if node.module and node.module.startswith(MODELS_PACKAGE + "."):
                self.imported[local] = (node.module, alias.name)
            elif node.module == MODELS_PACKAGE:
                if importlib.util.find_spec(f"{MODELS_PACKAGE}.{alias.name}") is None:
                    raise ValueError(f"{self.name}: `from {MODELS_PACKAGE} import {alias.name}` is not a module; import "
                                     "it from the module that defines it")
                self.imported[local] = (f"{MODELS_PACKAGE}.{alias.name}", None)


def _source_of(module_name: str, sources: Mapping[str, str]) -> str:
    if module_name in sources:
        return sources[module_name]
    module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
    return inspect.getsource(module)


def code_fingerprint(model_class: type, sources: Mapping[str, str] | None = None) -> str:
    """Hash of the syntax trees (docstrings dropped; comments and formatting never reach a tree)
    of ``model_class`` and of every ``serlib.models`` definition it reaches by name: classes,
    functions and module constants of its own module and those it imports from sibling modules.
    ``sources`` replaces a module's source by name (to test an edit without writing a file)."""
    sources = dict(sources or {})
    modules: dict[str, _ModuleDefinitions] = {}

    def definitions(module_name: str) -> _ModuleDefinitions:
        if module_name not in modules:
            modules[module_name] = _ModuleDefinitions(module_name, _source_of(module_name, sources))
        return modules[module_name]

    def resolve(module_name: str, name: str) -> tuple[str, str] | None:
        found = definitions(module_name)
        if name in found.statements:
            return module_name, name
        if name in found.imported:
            other, attribute = found.imported[name]
            return resolve(other, attribute) if attribute else None
        return None

    start = (model_class.__module__, model_class.__qualname__.split(".")[0])
    if not start[0].startswith(MODELS_PACKAGE + "."):
        raise ValueError(f"{model_class.__qualname__} is not defined in {MODELS_PACKAGE}; its code cannot be fingerprinted")
    seen: dict[tuple[str, str], str] = {}
    pending = [start]
    while pending:
        module_name, name = pending.pop()
        if (module_name, name) in seen:
            continue
        nodes = definitions(module_name).statements[name]
        seen[module_name, name] = "\n".join(canonical_dump(node) for node in nodes)
        for leaf in (leaf for node in nodes for leaf in ast.walk(node)):
            if isinstance(leaf, ast.Name):
                target = resolve(module_name, leaf.id)
            elif isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name):
                imported = definitions(module_name).imported.get(leaf.value.id)  # e.g. ``layers.squash``
                target = resolve(imported[0], leaf.attr) if imported and imported[1] is None else None
            else:
                continue
            if target is not None and target not in seen:
                pending.append(target)
    text = "\n".join(f"{module}.{name}: {dump}" for (module, name), dump in sorted(seen.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def split_identity(split: Any) -> dict[str, dict[str, Any]]:
    """Each part of a :class:`serlib.splits.Split` as its size and the hash of its sorted utterance ids."""
    if split.utterances is None:
        raise ValueError(f"split {split.name!r} carries no utterance ids (build it with serlib.splits.make_split)")
    return {part: {"count": len(ids), "ids": config.fingerprint(sorted(ids))} for part, ids in split.utterances.items()}


def training_identity(model: type | str, arguments: Mapping[str, Any], train: Mapping[str, Any],
                      inputs: Mapping[str, Any], split: Any) -> dict[str, Any]:
    """What a training computes, besides its key: ``model`` (a ``serlib.models`` class, or the name
    of an estimator that is not one, e.g. ``"svm"``), what it is built from, how it is trained,
    its inputs and its split (see the module's docstring)."""
    is_class = isinstance(model, type)
    return {"model": model.__qualname__ if is_class else model, "code": code_fingerprint(model) if is_class else "",
            "arguments": dict(arguments), "train": dict(train), "inputs": dict(inputs), "split": split_identity(split)}
