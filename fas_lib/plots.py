"""Plot helpers: every figure of the course goes through :func:`save_fig`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def save_fig(fig, name: str, fig_dir: str | Path = "figures", dpi: int = 110) -> Path:
    """Save a Matplotlib figure as ``fig_dir/name.png``.

    Args:
        fig: a ``matplotlib.figure.Figure``.
        name: file stem starting with the notebook number, e.g. ``"02_scale_grid"``.
        fig_dir: destination folder, created if missing.
        dpi: resolution of the PNG.

    Returns:
        The path written.
    """
    path = Path(fig_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def image_grid(
    images: Sequence[Sequence[np.ndarray]],
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell_inches: float = 1.6,
    title: str | None = None,
):
    """Show a 2-D list of RGB (or grey) images as a grid with row and column labels.

    Args:
        images: ``images[r][c]`` is an ``HxW`` or ``HxWx3`` uint8 array (``None`` leaves a blank).
        row_labels: one label per row, written on the left.
        col_labels: one label per column, written on top.
        cell_inches: size of one cell.
        title: optional figure title.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    n_rows = len(images)
    n_cols = max(len(r) for r in images)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(cell_inches * n_cols, cell_inches * n_rows), squeeze=False
    )
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            img = images[r][c] if c < len(images[r]) else None
            if img is not None:
                ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            if col_labels is not None and r == 0 and c < len(col_labels):
                ax.set_title(col_labels[c], fontsize=9)
            if row_labels is not None and c == 0 and r < len(row_labels):
                ax.set_ylabel(row_labels[r], fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
