"""Figures shared by the paper notebooks."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
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
