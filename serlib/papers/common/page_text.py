"""Sentences and small tables every paper's page prints: the profile banner, the quoted rows'
references, the settings table, and the wording of orderings and of a difference's sign."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd

from serlib import results


def banner(settings: Any, device: str, corpus: str, part: str = "") -> str:
    """The line every paper page prints above its numbers: profile, device, corpus, and ``part``
    where the run is part of the protocol ("test folds 1, 2 of 5 only"); a smoke profile says that
    its numbers are not a reproduction."""
    profile = settings.profile
    line = f"**Profile `{profile}` · device `{device}` · corpus `{corpus}`{f' · {part}' if part else ''}**"
    if profile != "full":
        line = (f"**Profile `{profile}`: a quick check of the code on a subset. These numbers are not a "
                f"reproduction.**\n\n{line}")
    return line


def signed_ci(value: float, low: float, high: float, scale: float = 100) -> str:
    """A difference and its CI as one table cell, in points: "+2.3 [+0.1, +4.3]" (``scale`` 100
    turns fractions into points; 1 leaves points as they are)."""
    return f"{scale * value:+.1f} [{scale * low:+.1f}, {scale * high:+.1f}]"


def listed(words: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c" ("" for none)."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}" if words else ""


def reference_list(references: Mapping[str, str], source: str) -> str:
    """The works a paper's quoted rows cite, as a Markdown list under the table that quotes them
    (``references``: the paper's bracket → the work; ``source``: how the brackets were resolved)."""
    return f"**References of the quoted rows** ({source}):\n\n" + "\n".join(
        f"- {bracket} {work}" for bracket, work in references.items())


def prose_frame(lines: Sequence[Mapping[str, str]]) -> pd.DataFrame:
    """A table of sentences (a page's "Why our numbers differ"), one row per mapping, marked so
    that :func:`serlib.plots.readable_html` makes every cell wrap at a reading width (``td.prose``
    in ``_static/custom.css``), where the book's number tables keep each cell on one line."""
    frame = pd.DataFrame(list(lines))
    frame.attrs["prose"] = True
    return frame


def describe_settings(settings: Any) -> pd.DataFrame:
    """The settings as a two-column table for the page (one row per setting, so it fits a narrow
    column however many settings a paper has)."""
    frame = pd.DataFrame({"value": {k: str(v) for k, v in asdict(settings).items()}})
    frame.index.name = "setting"
    return frame


def sign_agreement(low: float, high: float, paper: float) -> str:
    """Whether a difference's CI [low, high] establishes the paper's sign ("agrees"), the opposite
    sign, a difference where the paper prints none, or nothing ("not established")."""
    if not (low > 0 or high < 0):
        return "not established"
    if round(paper, 1) == 0:
        return "differs (paper: equal)"
    return "agrees" if (low > 0) == (paper > 0) else "opposite"


def ranking(scores: Mapping[str, float]) -> tuple[str, ...]:
    """Systems from the best to the worst score."""
    return tuple(sorted(scores, key=scores.get, reverse=True))


def ordering_line(ours: Mapping[str, float], paper: Mapping[str, float], metric: str) -> str:
    """One line: our ranking of the systems by ``metric`` and whether it is the paper's."""
    ranked, printed = ranking(ours), ranking({system: paper[system] for system in ours})
    agreement = "the paper's order" if ranked == printed else f"paper: {' > '.join(printed)}"
    return f"{metric}: {' > '.join(ranked)} ({agreement})"


def ordering_of_rows(rows: pd.DataFrame, metric: str = "UA") -> str:
    """:func:`ordering_line` for the rows of a results file that carry the paper's value (first
    table and column with such scores, labelled variants and differences left out); "–" where none does."""
    rows = results.scores(rows)
    compared = rows[rows["paper_value"].notna() & (rows["variant"].fillna("") == "") & (rows["metric"] == metric)]
    if not len(compared):
        return "–"
    first = compared[(compared["table"] == compared["table"].iloc[0]) & (compared["column"] == compared["column"].iloc[0])]
    return ordering_line(dict(zip(first["row"], first["value"])), dict(zip(first["row"], first["paper_value"])), metric)

