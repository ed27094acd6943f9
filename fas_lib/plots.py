"""Plot helpers: every figure of the course goes through :func:`save_fig`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

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


def draw_unit_box(ax, n: int, scale: float, color: str = "cyan", lw: float = 0.8) -> None:
    """Draw the scale-1.0 square (the aligned face box) inside an ``n``-pixel crop at ``scale``.

    Nothing is drawn for ``scale <= 1`` (the box is then the crop or larger); the axes keep the
    image's extent.
    """
    if scale > 1.0 + 1e-6:
        side = n / float(scale)
        o = (n - side) / 2 - 0.5
        draw_polygon(ax, box_corners((o, o, o + side, o + side)), color=color, lw=lw, ls=":")
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)


def _clean(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def alignment_steps(rgb: np.ndarray, aligner, aligner68=None, title: str | None = None):
    """One row of panels showing every alignment step of :class:`fas_lib.align.FaceAligner`.

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

    from fas_lib import align as al

    rgb = al.ensure_rgb_uint8(rgb)
    boxes = aligner.detect(rgb)
    if not boxes:
        return None
    box = boxes[0]
    lm = aligner.predict_landmarks(rgb, box)
    matrix = aligner.alignment_matrix(lm)
    if aligner.landmarks_kind == "5":
        src, template = al.dlib5_to_alignment_points(lm), al.TEMPLATE_5
        names = ["L eye", "R eye", "nose base"]
    else:
        src, template = al.dlib68_to_paper5(lm), al.TEMPLATE_PAPER5
        names = ["L eye", "R eye", "nose tip", "L mouth", "R mouth"]
    n_panels = 5 if aligner68 is not None else 4
    fig, axes = plt.subplots(1, n_panels, figsize=(2.9 * n_panels, 3.1))
    for ax in axes:
        _clean(ax)
    x0, y0, x1, y1 = box
    pad = 0.6 * (x1 - x0)
    view = (max(0, x0 - pad), min(rgb.shape[1], x1 + pad), min(rgb.shape[0], y1 + pad),
            max(0, y0 - pad))

    ax = axes[0]
    ax.imshow(rgb)
    draw_polygon(ax, box_corners(box), color="lime")
    if len(lm) == 5:
        draw_points(ax, lm, [str(i) for i in range(5)], color="yellow")
    else:
        draw_points(ax, lm, color="yellow", size=4)
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    ax.set_title(f"1 · HOG box + dlib {len(lm)} points", fontsize=9)
    i = 1
    if aligner68 is not None:
        ax = axes[i]
        i += 1
        lm68 = aligner68.predict_landmarks(rgb, box)
        ax.imshow(rgb)
        draw_points(ax, lm68, color="white", size=3)
        draw_points(ax, al.dlib68_to_paper5(lm68), ["Le", "Re", "N", "Lm", "Rm"],
                    color="red", size=24, fontsize=7, text_color="white")
        ax.set_xlim(view[0], view[1])
        ax.set_ylim(view[2], view[3])
        ax.set_title("2 · 68 points → paper's five", fontsize=9)
    ax = axes[i]
    mapped = src @ matrix[:, :2].T + matrix[:, 2]
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
    ax.set_title(f"{i + 1} · similarity → template (rms {rms:.3f})", fontsize=9)
    for k, scale in enumerate((1.0, 1.5)):
        ax = axes[i + 1 + k]
        size = 128
        crop = cv2_warp(rgb, al.crop_matrix(matrix, scale, 1.0, size), size)
        ax.imshow(crop)
        draw_unit_box(ax, size, scale, lw=1.2)
        ax.set_title(f"{i + 2 + k} · aligned crop, scale {scale}", fontsize=9)
    if title:
        axes[0].set_ylabel(title, fontsize=10)
    fig.tight_layout()
    return fig


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


def scale_explorer(
    crops: dict[str, np.ndarray],
    scales: Sequence[float],
    reference: str | None = "live",
    static_scales: Sequence[float] = (0.9, 1.2, 1.5),
    fig_name: str | None = None,
    fig_dir: str | Path = "figures",
):
    """A scale slider and a sample dropdown over multi-scale crops, or its static fallback.

    In a live Jupyter frontend (:func:`in_interactive_kernel`) this shows an ipywidgets
    slider over ``scales`` and a dropdown over the samples in ``crops``; the chosen sample's
    crop is drawn large beside the ``reference`` sample's crop at the same scale. Anywhere else
    (papermill, a script) it draws the static fallback: every sample at ``static_scales``.

    Args:
        crops: ``{name: (S, H, W, 3) crops at scales}``, e.g. one frame per attack type.
        scales: the crop scales, one per crop.
        reference: name drawn beside the chosen sample (``None``: the sample alone).
        static_scales: the columns of the fallback figure (each must be in ``scales``).
        fig_name: save the fallback figure under this name (always, also when interactive).
        fig_dir: folder for ``fig_name``.

    Returns:
        The widget, or the fallback figure.
    """
    import matplotlib.pyplot as plt

    scales = [float(s) for s in scales]
    names = list(crops)
    if not names:
        raise ValueError("crops is empty: nothing to explore")
    idx = [_scale_index(scales, s) for s in static_scales]
    fig = image_grid([[crops[n][i] for i in idx] for n in names], row_labels=names,
                     col_labels=[f"scale {scales[i]:.1f}" for i in idx], cell_inches=1.7)
    if fig_name:
        save_fig(fig, fig_name, fig_dir)
    if not in_interactive_kernel():
        return fig
    import ipywidgets as widgets
    from IPython.display import display

    plt.close(fig)
    ref = reference if reference in crops else None
    sample = widgets.Dropdown(options=[n for n in names if n != ref] or names, description="sample")
    scale = widgets.SelectionSlider(options=[(f"{s:.1f}", i) for i, s in enumerate(scales)],
                                    value=min(range(len(scales)), key=lambda i: abs(scales[i] - 1)),
                                    description="scale", continuous_update=True)
    out = widgets.Output()

    def redraw(*_args) -> None:
        shown = [ref, sample.value] if ref is not None else [sample.value]
        with out:
            out.clear_output(wait=True)
            f, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.8), squeeze=False)
            for ax, name in zip(axes[0], shown):
                crop = crops[name][scale.value]
                ax.imshow(crop)
                draw_unit_box(ax, crop.shape[0], scales[scale.value])
                ax.set_title(f"{name}, scale {scales[scale.value]:.1f}", fontsize=10)
                _clean(ax)
            f.tight_layout()
            display(f)
            plt.close(f)

    sample.observe(redraw, names="value")
    scale.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox([sample, scale]), out])
    display(box)
    return box


def _scale_index(scales: Sequence[float], scale: float) -> int:
    """Index of ``scale`` in ``scales`` (to 1e-6), with a clear error when it is absent."""
    for i, s in enumerate(scales):
        if abs(float(s) - float(scale)) < 1e-6:
            return i
    raise ValueError(f"scale {scale} is not one of the crop scales {list(scales)}")


# ---------------------------------------------------------------- scale-weight explorer (notebook 05)


def plot_score_panels(
    axes, labels, scores, title: str | None = None, threshold: float | None = None
) -> float:
    """Draw a score histogram per class on ``axes[0]`` and the ROC on ``axes[1]``.

    Args:
        axes: two Matplotlib Axes.
        labels: 1 = bona fide, 0 = attack.
        scores: higher = more bona fide.
        title: prefix of the histogram title.
        threshold: drawn as a vertical line; ``None`` -> the EER threshold of these scores.

    Returns:
        The EER of ``scores`` (a fraction).
    """
    from fas_lib import metrics

    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    rate, thr = metrics.eer(y, s)
    thr = thr if threshold is None else threshold
    ax_h, ax_r = axes
    bins = np.linspace(min(0.0, s.min()), max(1.0, s.max()), 31)
    ax_h.hist(s[y == 1], bins=bins, alpha=0.6, color="tab:green", label="bona fide")
    ax_h.hist(s[y == 0], bins=bins, alpha=0.6, color="tab:red", label="attack")
    ax_h.axvline(thr, color="k", ls="--", lw=1)
    ax_h.set_xlabel("score (higher = more bona fide)")
    ax_h.set_ylabel("samples")
    ax_h.set_title(f"{title + ': ' if title else ''}EER {100 * rate:.2f} %", fontsize=10)
    ax_h.legend(fontsize=8)
    metrics.plot_roc(ax_r, y, s, label="test")
    ax_r.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax_r.plot([rate], [1 - rate], "ko", ms=4)
    ax_r.legend(fontsize=8, loc="lower right")
    return rate


class ScaleWeightExplorer:
    """Re-score a test set with hand-set scale weights, instantly (features computed once).

    The expensive part (the CNN on every crop) is done before: ``score_fn(weights)`` only fuses
    precomputed features with the given weights and applies the trained classifier, e.g.
    ``lambda w: scores_from_logits(model.classify_features(feats, w)).numpy()`` with ``feats``
    from :meth:`fas_lib.models.MultiScaleNet.extract_features`.

    Args:
        score_fn: ``weights -> scores``; ``weights`` is ``None`` (the model's own, learned
            weights, one row per sample) or an ``(n,)`` array shared by every sample.
        labels: test labels (1 = bona fide).
        scale_names: one label per scale, e.g. ``["1.1", "1.2", "1.3"]``.
        learned_weights: the model's own weights ``(N, n)`` on the test set (the sliders start
            at their mean).
        weight_range: slider range; ``None`` -> ``(-1, 1)`` when a learned weight is negative,
            else ``(0, 1)``.
    """

    def __init__(self, score_fn, labels, scale_names: Sequence[str], learned_weights,
                 weight_range: tuple[float, float] | None = None) -> None:
        self.score_fn = score_fn
        self.labels = np.asarray(labels).astype(int)
        self.scale_names = [str(s) for s in scale_names]
        self.learned = np.asarray(learned_weights, dtype=float)
        if self.learned.ndim != 2 or self.learned.shape != (len(self.labels),
                                                               len(self.scale_names)):
            raise ValueError(
                f"learned_weights must have shape ({len(self.labels)}, {len(self.scale_names)}); "
                f"got {self.learned.shape}"
            )
        if weight_range is None:
            weight_range = (-1.0, 1.0) if (self.learned < 0).any() else (0.0, 1.0)
        self.weight_range = weight_range

    @property
    def mean_learned(self) -> np.ndarray:
        """Mean learned weight of each scale over the test samples."""
        return self.learned.mean(axis=0)

    def scores(self, weights=None) -> np.ndarray:
        """Test scores with ``weights`` (``None`` = learned, per sample)."""
        if weights is not None:
            weights = np.asarray(weights, dtype=float)
            if weights.shape != (len(self.scale_names),):
                raise ValueError(f"expected {len(self.scale_names)} weights, got {weights.shape}")
        return np.asarray(self.score_fn(weights), dtype=float)

    def _title(self, weights) -> str:
        if weights is None:
            return "learned weights (per sample)"
        return "w = [" + ", ".join(f"{w:.2f}" for w in weights) + "]"

    def static_figure(self, settings: Sequence[tuple[str, object]] | None = None):
        """One row (histogram, ROC) per ``(name, weights)`` setting; the non-interactive fallback.

        Args:
            settings: ``None`` -> learned weights, their mean shared by all samples, and
                uniform weights ``1/n``.

        Returns:
            The figure; ``figure.eers`` maps each setting's name to its EER.
        """
        import matplotlib.pyplot as plt

        n = len(self.scale_names)
        if settings is None:
            settings = [("learned", None), ("mean learned", self.mean_learned),
                        ("uniform", np.full(n, 1.0 / n))]
        fig, axes = plt.subplots(len(settings), 2, figsize=(9, 3.2 * len(settings)),
                                 squeeze=False)
        eers = {}
        for row, (name, w) in zip(axes, settings):
            title = self._title(w) if w is None else f"{name}, {self._title(w)}"
            eers[name] = plot_score_panels(row, self.labels, self.scores(w), title=title)
        fig.tight_layout()
        fig.eers = eers
        return fig

    def widget(self):
        """Sliders (one per scale), a 'restore learned weights' button and a live figure.

        Moving a slider re-scores with the slider weights shared by all samples; the button sets
        the sliders back to the mean learned weights and scores with the learned per-sample
        weights. Needs ``ipywidgets`` and a live Jupyter frontend.
        """
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from IPython.display import display

        lo, hi = self.weight_range
        sliders = [widgets.FloatSlider(value=float(np.clip(w, lo, hi)), min=lo, max=hi,
                                       step=0.01, description=f"scale {name}",
                                       continuous_update=True, readout_format=".2f")
                   for name, w in zip(self.scale_names, self.mean_learned)]
        restore = widgets.Button(description="Restore learned weights", icon="undo")
        out = widgets.Output()
        state = {"learned": True, "mute": False}

        def redraw(*_args) -> None:
            if state["mute"]:
                return
            w = None if state["learned"] else np.array([s.value for s in sliders])
            with out:
                out.clear_output(wait=True)
                fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
                plot_score_panels(axes, self.labels, self.scores(w), title=self._title(w))
                fig.tight_layout()
                display(fig)
                plt.close(fig)

        def on_slide(_change) -> None:
            if not state["mute"]:
                state["learned"] = False
                redraw()

        def on_restore(_button) -> None:
            state["mute"] = True
            for s, w in zip(sliders, self.mean_learned):
                s.value = float(np.clip(w, lo, hi))
            state["mute"], state["learned"] = False, True
            redraw()

        for s in sliders:
            s.observe(on_slide, names="value")
        restore.on_click(on_restore)
        redraw()
        return widgets.VBox([widgets.HBox([widgets.VBox(sliders), restore]), out])

    def show(self, fig_name: str | None = None, fig_dir: str | Path = "figures"):
        """The widget in a live kernel, else :meth:`static_figure` (always saved when ``fig_name``).

        Returns:
            The widget, or the static figure.
        """
        fig = self.static_figure()
        if fig_name:
            save_fig(fig, fig_name, fig_dir)
        if in_interactive_kernel():
            import matplotlib.pyplot as plt
            from IPython.display import display

            plt.close(fig)
            w = self.widget()
            display(w)
            return w
        return fig
