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
