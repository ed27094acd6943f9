"""Plot helpers: every figure of the course goes through :func:`save_fig`.

Image grids and crop drawings (:func:`image_grid`, :func:`scale_grid`, :func:`alignment_steps`
...), curves against the crop scale (:func:`plot_curves`) and the ROC / DET curves of
:mod:`fas_lib.evaluation.metrics` (:func:`plot_roc`, :func:`plot_det`). The interactive explorers of
notebooks 02 and 05 live in :mod:`fas_lib.viz.widgets`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from scipy.stats import norm

from fas_lib.evaluation.metrics import ArrayLike, auc, det_curve, roc

#: Batch runners that execute notebooks without a frontend (their kernels cannot show widgets).
_BATCH_RUNNERS: tuple[str, ...] = ("papermill", "nbconvert", "nbclient", "pytest", "nbmake")


def _parent_cmdline() -> str:
    """Command line of this process's parent (Linux ``/proc``; empty string elsewhere)."""
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace")


def in_interactive_kernel() -> bool:
    """True only inside a live Jupyter frontend that can show ipywidgets.

    False when ``$FAS_NONINTERACTIVE`` is set to anything but ``""``/``"0"`` (what
    ``tools/run_notebooks.py`` and the notebook tests set), outside IPython, in a terminal
    IPython, when ``ipywidgets`` is not installed, or when the kernel was started by a batch
    runner (papermill, nbconvert, nbclient, pytest). Notebooks call it to choose between an
    interactive widget and its static fallback figure.
    """
    if os.environ.get("FAS_NONINTERACTIVE", "") not in ("", "0"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    parent = _parent_cmdline().lower()
    return not any(name in parent for name in _BATCH_RUNNERS)


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
    aspect: float = 1.0,
):
    """Show a 2-D list of RGB (or grey) images as a grid with row and column labels.

    Args:
        images: ``images[r][c]`` is an ``HxW`` or ``HxWx3`` uint8 array (``None`` leaves a blank).
        row_labels: one label per row, written on the left.
        col_labels: one label per column, written on top.
        cell_inches: width of one cell.
        title: optional figure title.
        aspect: height / width of a cell (0.75 for 640 x 480 frames).

    Returns:
        The Matplotlib figure.
    """
    import matplotlib.pyplot as plt

    n_rows = len(images)
    n_cols = max(len(r) for r in images)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(cell_inches * n_cols, cell_inches * aspect * n_rows),
        squeeze=False,
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


# ---------------------------------------------------------------- data, alignment and crops (00-02)


def box_corners(box: Sequence[float]) -> np.ndarray:
    """Corners ``(4, 2)`` of an axis-aligned box ``(left, top, right, bottom)``, clockwise."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def draw_polygon(ax, points, color: str = "lime", lw: float = 1.5, **kwargs) -> None:
    """Draw a closed polygon (a box's corners, a rotated crop, a medium outline) on ``ax``."""
    p = np.asarray(points, dtype=float)
    if not np.isfinite(p).all():
        return
    p = np.vstack([p, p[:1]])
    ax.plot(p[:, 0], p[:, 1], color=color, lw=lw, **kwargs)


def draw_points(
    ax,
    points,
    labels: Sequence[str] | None = None,
    color: str = "yellow",
    size: float = 18,
    fontsize: float = 8,
    marker: str = "o",
    text_color: str | None = None,
) -> None:
    """Scatter ``(K, 2)`` points on ``ax`` with an optional text label next to each.

    The labels sit on a dark box, in ``text_color`` (default: the points' colour).
    """
    p = np.asarray(points, dtype=float)
    ax.scatter(p[:, 0], p[:, 1], s=size, c=color, marker=marker, edgecolors="black",
               linewidths=0.5, zorder=3)
    for (x, y), text in zip(p, labels or []):
        ax.annotate(text, (x, y), xytext=(4, -4), textcoords="offset points",
                    color=text_color or color,
                    fontsize=fontsize, fontweight="bold", zorder=4,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "black", "alpha": 0.45, "lw": 0})


def draw_unit_box(ax, n: int, scale: float, color: str = "cyan", lw: float = 1.0) -> None:
    """Draw the scale-1.0 square (the aligned face box) inside an ``n``-pixel crop at ``scale``.

    A dashed ``color`` line on a black outline, so it shows on light backgrounds (paper, white
    walls) as well as dark ones. Nothing is drawn for ``scale <= 1`` (the box is then the crop
    or larger); the axes keep the image's extent.
    """
    if scale > 1.0 + 1e-6:
        side = n / float(scale)
        o = (n - side) / 2 - 0.5
        outline = [patheffects.withStroke(linewidth=lw + 1.5, foreground="black")]
        draw_polygon(ax, box_corners((o, o, o + side, o + side)), color=color, lw=lw,
                     ls=(0, (3, 2)), path_effects=outline)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)


def clean_axes(ax) -> None:
    """Hide an Axes' ticks (image panels)."""
    ax.set_xticks([])
    ax.set_yticks([])


def alignment_steps(rgb: np.ndarray, aligner, aligner68=None, title: str | None = None):
    """One row of panels showing every alignment step of
    :class:`fas_lib.preprocess.align.FaceAligner`.

    Panels: (1) the HOG detection and dlib's five points, numbered; (2) with ``aligner68`` given,
    the 68-point model and the paper's five points taken from it; (3) the template: the points
    after the similarity transform next to their canonical positions in the unit face box;
    (4) the aligned scale-1.0 crop and (5) the scale-1.5 crop, with the unit box drawn.

    Args:
        rgb: an RGB frame.
        aligner: a ``FaceAligner(landmarks="5")`` (or ``"68"``).
        aligner68: optional ``FaceAligner(landmarks="68")`` for panel 2.
        title: written left of the row.

    Returns:
        The figure, or ``None`` when no face is detected.
    """
    import matplotlib.pyplot as plt

    from fas_lib.preprocess import align as al
    from fas_lib.preprocess import geometry as geo
    rgb = al.ensure_rgb_uint8(rgb)
    boxes = aligner.detect(rgb)
    if not boxes:
        return None
    box = boxes[0]
    lm = aligner.predict_landmarks(rgb, box)
    matrix = aligner.alignment_matrix(lm)
    if aligner.landmarks_kind == "5":
        src, template = geo.dlib5_to_alignment_points(lm), geo.TEMPLATE_5
        names = ["L eye", "R eye", "nose base"]
    else:
        src, template = geo.dlib68_to_paper5(lm), geo.TEMPLATE_PAPER5
        names = ["L eye", "R eye", "nose tip", "L mouth", "R mouth"]
    n_panels = 5 if aligner68 is not None else 4
    fig, axes = plt.subplots(1, n_panels, figsize=(2.9 * n_panels, 3.1))
    for ax in axes:
        clean_axes(ax)
    x0, y0, x1, y1 = box
    pad = 0.6 * (x1 - x0)
    view = (max(0, x0 - pad), min(rgb.shape[1], x1 + pad), min(rgb.shape[0], y1 + pad),
            max(0, y0 - pad))

    _detection_panel(axes[0], rgb, box, lm, view)
    i = 1
    if aligner68 is not None:
        lm68 = aligner68.predict_landmarks(rgb, box)
        _paper5_panel(axes[i], rgb, lm68, geo.dlib68_to_paper5(lm68), view)
        i += 1
    _template_panel(axes[i], src @ matrix[:, :2].T + matrix[:, 2], template, names, i + 1)
    for k, scale in enumerate((1.0, 1.5)):
        ax = axes[i + 1 + k]
        size = 128
        crop = cv2_warp(rgb, geo.crop_matrix(matrix, scale, 1.0, size), size)
        ax.imshow(crop)
        draw_unit_box(ax, size, scale, lw=1.2)
        ax.set_title(f"{i + 2 + k} · aligned crop, scale {scale}", fontsize=9)
    if title:
        axes[0].set_ylabel(title, fontsize=10)
    fig.tight_layout()
    return fig


def _detection_panel(ax, rgb: np.ndarray, box: Sequence[float], lm: np.ndarray,
                     view: tuple[float, float, float, float]) -> None:
    """Panel 1 of :func:`alignment_steps`: the HOG box and dlib's points."""
    ax.imshow(rgb)
    draw_polygon(ax, box_corners(box), color="lime")
    if len(lm) == 5:
        draw_points(ax, lm, [str(i) for i in range(5)], color="yellow")
    else:
        draw_points(ax, lm, color="yellow", size=4)
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    ax.set_title(f"1 · HOG box + dlib {len(lm)} points", fontsize=9)


def _paper5_panel(ax, rgb: np.ndarray, lm68: np.ndarray, paper5: np.ndarray,
                  view: tuple[float, float, float, float]) -> None:
    """Panel 2 of :func:`alignment_steps`: the 68 points and the paper's five taken from them."""
    ax.imshow(rgb)
    draw_points(ax, lm68, color="white", size=3)
    draw_points(ax, paper5, ["Le", "Re", "N", "Lm", "Rm"],
                color="red", size=24, fontsize=7, text_color="white")
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    ax.set_title("2 · 68 points → paper's five", fontsize=9)


def _template_panel(ax, mapped: np.ndarray, template: np.ndarray, names: Sequence[str],
                    number: int) -> None:
    """The template panel of :func:`alignment_steps`: mapped points next to the template."""
    draw_polygon(ax, box_corners((0, 0, 1, 1)), color="0.5", ls="--")
    ax.scatter(template[:, 0], template[:, 1], s=90, facecolors="none", edgecolors="tab:blue",
               linewidths=1.5, label="template")
    ax.scatter(mapped[:, 0], mapped[:, 1], s=18, c="tab:red", label="your points, mapped")
    for (x, y), text in zip(template, names):
        ax.annotate(text, (x, y), xytext=(0, 9), textcoords="offset points", ha="center",
                    fontsize=7)
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(1.1, -0.1)
    ax.set_aspect("equal")
    ax.legend(fontsize=6, loc="lower center")
    rms = float(np.sqrt(((mapped - template) ** 2).sum(1).mean()))
    ax.set_title(f"{number} · similarity → template (rms {rms:.3f})", fontsize=9)


def cv2_warp(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Affine-warp ``rgb`` with a ``(2, 3)`` matrix into a black-padded ``size`` square."""
    import cv2

    return cv2.warpAffine(rgb, np.asarray(matrix, dtype=np.float64), (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def scale_grid(
    crops: Sequence[np.ndarray],
    row_labels: Sequence[str],
    scales: Sequence[float],
    unit_box: bool = True,
    cell_inches: float = 1.35,
    title: str | None = None,
):
    """The paper's Fig. 1 / Fig. 3b: one row per sample, one column per crop scale.

    Args:
        crops: per row an ``(S, H, W, 3)`` array of crops at ``scales``.
        row_labels: one label per row (e.g. the attack type).
        scales: the crop scales, one per column.
        unit_box: draw the scale-1.0 square (the aligned face box) in each larger crop.
        cell_inches: size of one cell.
        title: figure title.

    Returns:
        The figure.
    """
    fig = image_grid([list(c) for c in crops], row_labels=row_labels,
                     col_labels=[f"scale {s:.1f}" for s in scales], cell_inches=cell_inches,
                     title=title)
    if unit_box:
        for r, row in enumerate(crops):
            for c, s in enumerate(scales):
                draw_unit_box(fig.axes[r * len(scales) + c], row[c].shape[0], s)
    return fig


def plot_curves(
    ax,
    curves: dict[str, dict[float, float]],
    ylabel: str,
    percent: bool = True,
    title: str | None = None,
    styles: dict[str, dict] | None = None,
) -> None:
    """Line plot of ``{label: {scale: value}}`` against the crop scale (e.g. border share).

    Args:
        ax: Matplotlib Axes.
        curves: one curve per label.
        ylabel: y-axis label.
        percent: show values (fractions) as percentages.
        title: axes title.
        styles: optional ``{label: plot kwargs}``.
    """
    k = 100.0 if percent else 1.0
    for name, curve in curves.items():
        xs = sorted(float(x) for x in curve)
        ys = [k * curve[x] for x in sorted(curve, key=float)]
        ax.plot(xs, ys, marker="o", ms=4, label=name, **(styles or {}).get(name, {}))
    ax.set_xlabel("crop scale")
    ax.set_ylabel(ylabel + (" (%)" if percent else ""))
    if percent:
        ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)


# ---------------------------------------------------------------- ROC and DET curves


def plot_roc(ax: Axes, labels: ArrayLike, scores: ArrayLike, label: str | None = None,
             log_far: bool = False, **kwargs: Any) -> Line2D:
    """Plot 1 - FRR (bona fide accepted) against FAR on ``ax``; returns the line.

    Args:
        ax: a matplotlib Axes.
        label: legend entry; the AUC is appended.
        log_far: logarithmic FAR axis (zero FAR points are then not drawn).
        **kwargs: passed to ``ax.plot``.
    """
    far, frr, _ = roc(labels, scores)
    text = f"AUC = {auc(labels, scores):.3f}"
    (line,) = ax.plot(far, 1.0 - frr, label=f"{label} ({text})" if label else text, **kwargs)
    if log_far:
        ax.set_xscale("log")
    ax.set_xlabel("FAR (attacks accepted)")
    ax.set_ylabel("1 - FRR (bona fide accepted)")
    ax.set_ylim(0.0, 1.01)
    return line


DET_TICKS: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8)


def plot_det(ax: Axes, labels: ArrayLike, scores: ArrayLike, label: str | None = None,
             lo: float = 1e-3, hi: float = 0.8, **kwargs: Any) -> Line2D:
    """Plot a DET curve (BPCER against APCER) on normal-deviate axes; returns the line.

    Both rates are mapped through the inverse normal CDF (probit), clipped to ``[lo, hi]``,
    and the ticks are labelled in percent, as in standard DET plots.
    """
    apcer, bpcer, _ = det_curve(labels, scores)
    probit = lambda p: norm.ppf(np.clip(p, lo, hi))  # noqa: E731
    (line,) = ax.plot(probit(apcer), probit(bpcer), label=label, **kwargs)
    ticks = [t for t in DET_TICKS if lo <= t <= hi]
    labels_txt = [f"{100 * t:g}" for t in ticks]
    ax.set_xticks(norm.ppf(ticks), labels_txt)
    ax.set_yticks(norm.ppf(ticks), labels_txt)
    ax.set_xlim(norm.ppf(lo), norm.ppf(hi))
    ax.set_ylim(norm.ppf(lo), norm.ppf(hi))
    ax.set_xlabel("APCER (%)")
    ax.set_ylabel("BPCER (%)")
    return line
