"""A paper's settings: profiles with typed overrides (notebook parameters, ``-p NAME VALUE``),
the valid values each setting declares, a labelled variant looked up by name, and the
``serlib reproduce`` command that gives a page's settings."""

from __future__ import annotations

import shlex
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from serlib.papers.common.corpus import check_corpus_name


S = TypeVar("S")


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """``value`` (as a notebook or command line gives it: often a string) as the type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            if type(None) in args:
                return None
        hint = next(a for a in args if a is not type(None))
        return _coerce(value, hint, name)
    if origin is tuple:
        items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        return tuple(_coerce(item, args[0], name) for item in items)
    try:
        if hint is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if hint is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return hint(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"parameter {name}: cannot read {value!r} as {getattr(hint, '__name__', hint)}") from err


@dataclass(frozen=True)
class Valid:
    """The valid values of one field of a paper's ``Settings``, declared on the field
    (:func:`setting`) and checked in one place (:func:`resolve`): ``among`` (a value, or each
    item of a tuple, must be one of them), ``corpus`` (a registered corpus or a CSV manifest),
    ``at_least`` (a number, or each item, no smaller), ``positive`` (each above 0), ``nonempty`` (a
    tuple needs an item)."""

    among: tuple | None = None
    corpus: bool = False
    at_least: float | None = None
    positive: bool = False
    nonempty: bool = True

    def check(self, name: str, value: Any) -> None:
        if value is None:
            return
        items = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple) and self.nonempty and not value:
            raise ValueError(f"parameter {name}: give one or more values" + (f"; valid: {list(self.among)}" if self.among else ""))
        if self.among is not None:
            unknown = [item for item in items if item not in self.among]
            if unknown:
                raise ValueError(f"parameter {name}: unknown value(s) {unknown}; valid: {list(self.among)}")
        if self.corpus:
            for item in items:
                check_corpus_name(item, name)
        if self.at_least is not None and any(item < self.at_least for item in items):
            raise ValueError(f"parameter {name}: every value must be at least {self.at_least:g}, got {value}")
        if self.positive and any(item <= 0 for item in items):
            raise ValueError(f"parameter {name}: every value must be above 0, got {value}")


def setting(default: Any, valid: Valid) -> Any:
    """A ``Settings`` field with its default and its valid values (checked by :func:`resolve`)."""
    return field(default=default, metadata={"valid": valid})


def variants_setting(variants: Sequence[Any]) -> Any:
    """A ``variants`` field: by default every labelled variant (each with a ``name``), any of them valid, none allowed."""
    names = tuple(item.name for item in variants)
    return setting(names, Valid(among=names, nonempty=False))


def resolve(profiles: Mapping[str, S], profile: str, overrides: Mapping[str, Any] | None = None) -> S:
    """The settings of ``profile`` with ``overrides`` applied (``None`` keeps the profile's value).

    Values are converted to each field's type (``"1e-3,3e-4"`` → ``(0.001, 0.0003)``) and checked
    against the valid values their field declares (:func:`setting`). An unknown profile or
    parameter, or an invalid value, is an error that lists the valid ones.
    """
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {sorted(profiles)}")
    base = profiles[profile]
    hints = typing.get_type_hints(type(base))
    names = [f.name for f in fields(base)]
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; valid: {names}")
    chosen = replace(base, **{k: _coerce(v, hints[k], k) for k, v in given.items()})
    for spec in fields(chosen):
        if "valid" in spec.metadata:
            spec.metadata["valid"].check(spec.name, getattr(chosen, spec.name))
    return chosen


def named(items: Sequence[Any], name: str, parameter: str = "variants") -> Any:
    """The item of ``items`` (each with a ``name``) called ``name``; an unknown name is an error
    naming the parameter and the known names (e.g. a paper's labelled variants)."""
    known = {item.name: item for item in items}
    if name not in known:
        raise ValueError(f"parameter {parameter}: unknown variant {name!r}; known: {sorted(known)}")
    return known[name]


def parameter_text(value: Any) -> str:
    """A setting's value as ``-p NAME VALUE`` (and :func:`resolve`) reads it back: a tuple's items
    comma-joined, ``None`` as ``none``."""
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return str(value)


def reproduce_command(paper: str, settings: Any, profiles: Mapping[str, Any], device: str | None = None) -> str:
    """The ``serlib reproduce`` command that runs ``paper`` under ``settings``: its profile, the
    ``device`` parameter (none for ``auto``, the default), and a ``-p`` for each setting that
    differs from the profile's (what a page ran)."""
    base = profiles[settings.profile]
    words = ["serlib", "reproduce", paper, "--profile", settings.profile] + (["--device", device] if device not in (None, "auto") else [])
    for spec in fields(settings):
        value = getattr(settings, spec.name)
        if spec.name != "profile" and value != getattr(base, spec.name):
            words += ["-p", spec.name, parameter_text(value)]
    return shlex.join(words)
