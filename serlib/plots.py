"""Figures and displayed tables shared by the paper notebooks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def confusion_heatmap(
    matrix: np.ndarray, labels: Sequence[str], title: str = "", ax: plt.Axes | None = None
) -> plt.Axes:
    """Row-normalised confusion matrix as a heatmap in percent (rows: true, columns: predicted)."""
    ax = ax or plt.subplots(figsize=(5.5, 4.5))[1]
    sns.heatmap(
        100 * np.asarray(matrix), annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100,
        xticklabels=labels, yticklabels=labels, cbar_kws={"label": "% of true class"}, ax=ax,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return ax


def tsne_scatter(
    points: np.ndarray, groups: np.ndarray, names: Sequence[str], title: str = "",
    ax: plt.Axes | None = None, seed: int = 0,
) -> plt.Axes:
    """2-D t-SNE (van der Maaten & Hinton 2008) of ``points`` (n, dims), coloured by ``groups`` (0..len(names)-1)."""
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(points) - 1) / 3)
    embedded = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    ax = ax or plt.subplots(figsize=(5, 4.5))[1]
    palette = sns.color_palette("tab10", len(names))
    for group, name in enumerate(names):
        chosen = groups == group
        ax.scatter(*embedded[chosen].T, s=4, alpha=0.6, color=palette[group], label=name)
    ax.set(title=title, xticks=[], yticks=[])
    ax.legend(markerscale=3, fontsize="small", loc="best")
    return ax


def paper_vs_ours(cells: pd.DataFrame, band: float = 3.0, ax: plt.Axes | None = None) -> plt.Axes:
    """Every headline cell: the paper's value (x) against ours (y) in percent, with our 95 % CI
    as a vertical bar, the diagonal and a ±``band``-point band; one colour per paper and one marker
    per table, named in the legend with the cell's metric (UA, WA, accuracy: each keeps the paper's
    own). No text beside the points: in a cluster of cells, labels would cover each other."""
    ax = ax or plt.subplots(figsize=(7, 7))[1]
    papers = sorted(cells["paper"].unique())
    palette = dict(zip(papers, sns.color_palette("tab10", len(papers))))
    markers = dict(zip(sorted(cells["table"].astype(str).unique()), itertools.cycle("os^Dv<>Pp*")))
    low = 100 * min(cells["paper_value"].min(), cells["ci_low"].min()) - 5
    high = 100 * max(cells["paper_value"].max(), cells["ci_high"].max()) + 5
    line = np.array([low, high])
    ax.fill_between(line, line - band, line + band, color="0.9", label=f"±{band:g} points")
    ax.plot(line, line, color="0.4", lw=1, label="ours = paper")
    for (paper, table, metric), chosen in cells.groupby(["paper", cells["table"].astype(str), "metric"]):
        x, y = 100 * chosen["paper_value"], 100 * chosen["value"]
        ax.errorbar(x, y, yerr=[y - 100 * chosen["ci_low"], 100 * chosen["ci_high"] - y], fmt=markers[table], ms=5,
                    color=palette[paper], ecolor=palette[paper], alpha=0.8, capsize=2, label=f"{paper}, {table} ({metric})")
    ax.set(xlim=(low, high), ylim=(low, high), xlabel="paper (%)", ylabel="ours (%, 95 % CI)", aspect="equal",
           title="Headline cells: paper vs ours (each in the paper's metric)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")  # outside: no point is covered
    return ax


def learning_curves(
    histories: Sequence[Sequence[dict]], labels: Sequence[str], metric: str = "val_UA", title: str = "",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """``metric`` per epoch of several trainings (e.g. the folds of one initialisation), in
    percent: each training a thin line with a dot on the epoch it kept (its best ``metric``, the
    earliest of ties), the mean over the trainings still running at each epoch in bold. Too many
    trainings to tell apart by colour, so the legend names the kinds of line, and ``labels`` mark
    the kept dots."""
    ax = ax or plt.subplots(figsize=(10, 3.2))[1]
    by_epoch: dict[int, list[float]] = {}
    for history, label in zip(histories, labels):
        epochs = [h["epoch"] for h in history if metric in h]
        values = [100 * h[metric] for h in history if metric in h]
        ax.plot(epochs, values, color="0.65", lw=0.8)
        kept = int(np.argmax(values))
        ax.plot(epochs[kept], values[kept], "o", color="tab:blue", ms=4)
        ax.annotate(label, (epochs[kept], values[kept]), xytext=(2, 3), textcoords="offset points", fontsize=6, color="0.3")
        for epoch, value in zip(epochs, values):
            by_epoch.setdefault(epoch, []).append(value)
    epochs = sorted(by_epoch)
    ax.plot(epochs, [np.mean(by_epoch[e]) for e in epochs], color="black", lw=2)
    ax.plot([], [], color="0.65", lw=0.8, label=f"each of {len(histories)} trainings")
    ax.plot([], [], color="black", lw=2, label="mean of those still training")
    ax.plot([], [], "o", color="tab:blue", ms=4, label="epoch kept (labelled)")
    ax.set(xlabel="epoch", ylabel=f"{metric.replace('_', ' ')} (%)", title=title)
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


#: A table cell longer than this (characters) is text, not a number: it wraps (``td.text`` in
#: ``_static/custom.css``) where the book's number cells ("93.8 [91.9, 95.6]") stay on one line.
TEXT_CELL_CHARS = 24


def text_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """For :meth:`pandas.io.formats.style.Styler.set_td_classes`: "text" on each cell longer than
    :data:`TEXT_CELL_CHARS`, so that it wraps on the page."""
    return frame.map(lambda value: "text" if isinstance(value, str | tuple | list) and len(str(value)) > TEXT_CELL_CHARS else "")


def decimals_needed(values: pd.Series, most: int = 3) -> int:
    """The fewest decimals (at most ``most``) that show every value of a float column as it is:
    a column of 200.0 and 400.0 prints "200", one of 624.2 and 207.7 "624.2"."""
    finite = values[np.isfinite(values.astype(float))].astype(float)
    return next((d for d in range(most) if np.allclose(finite.round(d), finite, rtol=0, atol=1e-9)), most)


def readable_html(frame: pd.DataFrame) -> str:
    """``frame`` as a page shows it: no unnamed 0, 1, 2, ... index column (a named index stays), "–"
    for a missing value, each float column with the decimals it needs (:func:`decimals_needed`),
    the frame's ``attrs["caption"]`` as its caption, and long text cells marked to wrap
    (:data:`TEXT_CELL_CHARS`; every cell of a :func:`~serlib.papers.common.prose_frame`, wider)."""
    styler = frame.style.format(na_rep="–", precision=3)
    for column in frame.columns[[pd.api.types.is_float_dtype(t) for t in frame.dtypes]] if frame.columns.is_unique else ():
        styler = styler.format(na_rep="–", precision=decimals_needed(frame[column]), subset=[column])
    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        styler = styler.hide(axis="index")
    if frame.attrs.get("caption"):
        styler = styler.set_caption(frame.attrs["caption"])
    if frame.columns.is_unique and frame.index.is_unique:
        styler = styler.set_td_classes(frame.map(lambda value: "text prose") if frame.attrs.get("prose") else text_cells(frame))
    return styler.to_html()


def readable_tables() -> None:
    """Show every DataFrame on a page through :func:`readable_html`. Call once at the top of a page."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, readable_html)


def cross_corpus_heatmaps(cells: pd.DataFrame, chance: float = 0.25) -> plt.Figure:
    """One heatmap per model: training corpus (rows) × test corpus (columns), UA in % with its 95 %
    CI below; the diagonal (held-out speakers of the training corpus) framed."""
    models = list(dict.fromkeys(cells["model"]))
    corpora = list(dict.fromkeys(cells["train"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        chosen = cells[cells["model"] == model].set_index(["train", "test"])
        values = np.array([[100 * chosen.loc[(t, s), "value"] for s in corpora] for t in corpora])
        notes = np.array([[f"{100 * chosen.loc[(t, s), 'value']:.0f}\n[{100 * chosen.loc[(t, s), 'ci_low']:.0f}, "
                           f"{100 * chosen.loc[(t, s), 'ci_high']:.0f}]" for s in corpora] for t in corpora])
        sns.heatmap(values, annot=notes, fmt="", cmap="viridis", vmin=100 * chance, vmax=100, xticklabels=corpora,
                    yticklabels=corpora, cbar=ax is axes[0][-1], cbar_kws={"label": "UA (%)"}, ax=ax,
                    annot_kws={"fontsize": 9})
        for i in range(len(corpora)):
            ax.add_patch(plt.Rectangle((i, i), 1, 1, fill=False, edgecolor="white", linewidth=2.5))
        ax.set_xlabel("test corpus")
        ax.set_ylabel("training corpus")
        ax.set_title(model, fontsize=10)
    fig.tight_layout()
    return fig


def transfer_summary(cells: pd.DataFrame, chance: float = 0.25) -> plt.Axes:
    """Per model and training corpus: UA on its own held-out speakers (filled) beside the mean UA
    on the other corpora (open), with chance marked."""
    models = list(dict.fromkeys(cells["model"]))
    corpora = list(dict.fromkeys(cells["train"]))
    ax = plt.subplots(figsize=(8.5, 3.8))[1]
    palette = sns.color_palette("tab10", len(models))
    width = 0.8 / len(models)
    for m, model in enumerate(models):
        chosen = cells[cells["model"] == model]
        own = chosen[chosen["diagonal"]].set_index("train")["value"].reindex(corpora)
        other = chosen[~chosen["diagonal"]].groupby("train")["value"].mean().reindex(corpora)
        x = np.arange(len(corpora)) + (m - (len(models) - 1) / 2) * width
        ax.scatter(x, 100 * own, color=palette[m], marker="o", s=50, label=f"{model}: own corpus (held-out speakers)")
        ax.scatter(x, 100 * other, facecolors="none", edgecolors=palette[m], marker="o", s=50,
                   label=f"{model}: other corpora (mean)")
        ax.vlines(x, 100 * other, 100 * own, color=palette[m], linewidth=1)
    ax.axhline(100 * chance, color="grey", linestyle="--", linewidth=1)
    ax.text(0.01, 100 * chance + 0.5, "chance", color="grey", fontsize=9, transform=ax.get_yaxis_transform())
    ax.set_xticks(range(len(corpora)), corpora)
    ax.set_xlabel("training corpus")
    ax.set_ylabel("UA (%)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax
