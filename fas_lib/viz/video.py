"""Figures of notebook 09: attention maps, metric bars of the ablations, paired differences.

* :func:`attention_examples` + :func:`plot_attention`: the ``K`` regions STASN attends to,
  drawn on the frames of one live, one print and one replay clip (rows) over time (columns);
* :func:`plot_metric_bars`: video-level test EER and ACER (or any metrics) of a table of runs;
* :func:`plot_differences`: EER differences with their bootstrap intervals
  (:func:`fas_lib.studies.video.compare_runs`), one line per pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from fas_lib.studies.video_attention import attention_boxes
from fas_lib.training.clip_inputs import ClipConfig, ClipSource, clip_input
from fas_lib.viz.plots import image_grid

__all__ = ["REGION_COLOURS", "attention_examples", "plot_attention", "plot_differences",
           "plot_metric_bars"]

#: Colour of region ``k`` (cycled).
REGION_COLOURS: tuple[str, ...] = ("yellow", "cyan", "magenta", "lime", "orange", "white")


def attention_examples(model: Any, cfg: ClipConfig, source: ClipSource,
                       kinds: Sequence[str], n_frames: int = 4
                       ) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """The first clip of each attack type in ``kinds`` (those present): its model-input frames
    as uint8 images ``(f, s, s, 3)``, its attended boxes ``(f, K, 4)`` in input pixels, and
    the row label (``attack_type`` and ``video_id``); ``f`` = at most ``n_frames`` frames."""
    types = source.clips.videos["attack_type"].astype(str).tolist()
    images, boxes, labels = [], [], []
    for kind in kinds:
        if kind not in types:
            continue
        i = types.index(kind)
        x, _ = clip_input([source], [i], cfg)
        frames = ((x[0, :n_frames].permute(0, 2, 3, 1).numpy() + 1) * 127.5).clip(0, 255)
        images.append(frames.astype(np.uint8))
        boxes.append(attention_boxes(model, x)[0, :n_frames])
        labels.append(f"{kind}\n{source.clips.videos['video_id'].iloc[i]}")
    return images, boxes, labels


def plot_attention(images: Sequence[np.ndarray], boxes: Sequence[np.ndarray],
                   labels: Sequence[str], title: str | None = None, cell_inches: float = 1.7):
    """A grid of clips (rows) x frames (columns) with the ``K`` attended boxes of each frame.

    Args:
        images: per row, frames ``(f, s, s, 3)`` uint8.
        boxes: per row, boxes ``(f, K, 4)`` = ``(x0, y0, x1, y1)`` in the frames' pixels.
        labels: one label per row.
        title: figure title.
        cell_inches: width of one cell.

    Returns:
        The Matplotlib figure.

    Raises:
        ValueError: the three lists differ in length, or are empty.
    """
    if not images or not len(images) == len(boxes) == len(labels):
        raise ValueError(f"need as many image rows, box rows and labels (and at least one); got "
                         f"{len(images)}, {len(boxes)}, {len(labels)}")
    rows = [[f for f in clip] for clip in images]
    n_cols = max(len(r) for r in rows)
    fig = image_grid(rows, row_labels=list(labels),
                     col_labels=[f"frame {j + 1}" for j in range(n_cols)],
                     cell_inches=cell_inches, title=title)
    axes = np.asarray(fig.axes).reshape(len(rows), n_cols)
    for r, clip_boxes in enumerate(boxes):
        for j, frame_boxes in enumerate(clip_boxes):
            for k, (x0, y0, x1, y1) in enumerate(frame_boxes):
                axes[r, j].add_patch(Rectangle(
                    (x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=1.2,
                    edgecolor=REGION_COLOURS[k % len(REGION_COLOURS)]))
    return fig


def plot_metric_bars(rows: pd.DataFrame, label: str = "label",
                     metrics: Sequence[str] = ("test_eer", "test_acer"),
                     ax: Axes | None = None, title: str = "") -> Axes:
    """Grouped bars (in %) of ``metrics`` for each row of ``rows``, labelled by ``label``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(rows) + 1.5), 3.4))
    width = 0.8 / max(len(metrics), 1)
    x = np.arange(len(rows))
    for j, m in enumerate(metrics):
        vals = 100 * rows[m].astype(float).to_numpy()
        bars = ax.bar(x + (j - (len(metrics) - 1) / 2) * width, vals, width,
                      label=m.replace("test_", "").upper())
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, rows[label].astype(str).tolist(), rotation=20, ha="right")
    ax.set_ylabel("video level (%)")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return ax


def plot_differences(comparisons: Sequence[dict[str, Any]], ax: Axes | None = None,
                     title: str = "EER(A) - EER(B), paired bootstrap") -> Axes:
    """One line per comparison: the EER difference (points, %) and its bootstrap interval.

    Each comparison is :func:`fas_lib.studies.video.compare_runs`'s dict with a ``label``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.6 * len(comparisons) + 1.2))
    for i, c in enumerate(comparisons):
        ax.plot([100 * c["ci_low"], 100 * c["ci_high"]], [i, i], color="0.4", lw=2)
        ax.plot(100 * c["diff"], i, "o", color="tab:blue")
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(comparisons)), [c["label"] for c in comparisons], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test EER difference (percentage points); < 0: A better")
    ax.set_title(title, fontsize=10)
    return ax
