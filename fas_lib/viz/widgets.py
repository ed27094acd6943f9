"""The notebooks' interactive explorers (ipywidgets), each with a static fallback figure.

* :func:`scale_explorer` (notebook 02): a scale slider and a sample dropdown over multi-scale
  crops;
* :class:`ScaleWeightExplorer` (notebook 05): re-score a test set with hand-set scale weights,
  one slider per scale; :func:`plot_score_panels` draws its score histograms and ROC.

In a live Jupyter frontend (:func:`fas_lib.viz.plots.in_interactive_kernel`) they show widgets;
anywhere else (papermill, a script, the tests) the static figure.

Two things about widget callbacks shape the code (both seen in JupyterLab 4 with ipykernel 7,
headless Chromium; ``tests/browser`` checks them):

* Callbacks may run on a second thread while later cells still run (comms over subshells), and
  pyplot's global state is not thread-safe. The explorers therefore never call pyplot in a
  callback: each redraw draws into its own :class:`matplotlib.figure.Figure`, under one lock
  (:data:`DRAW_LOCK`).
* The browser snaps a slider's value to its step and sends the snapped value back, which fires
  the value observer once without any user action. The weight explorer starts its sliders on
  the step grid and ignores changes smaller than half a step.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fas_lib.evaluation.metrics import eer
from fas_lib.viz.plots import (
    clean_axes,
    draw_unit_box,
    image_grid,
    in_interactive_kernel,
    plot_roc,
    save_fig,
)

__all__ = ["DRAW_LOCK", "ScaleWeightExplorer", "plot_score_panels", "scale_explorer"]

#: Serialises the explorers' redraws (their callbacks may run on several threads).
DRAW_LOCK = threading.Lock()

#: Score ticks of the log-odds histogram axis of :func:`plot_score_panels`.
SCORE_TICKS = (1e-4, 1e-2, 0.5, 1 - 1e-2, 1 - 1e-4)
#: Scores are clipped to ``[LOGIT_EPS, 1 - LOGIT_EPS]`` before taking log-odds.
LOGIT_EPS = 1e-6


def _show(out, fig: Figure) -> None:
    """Replace what the ``Output`` widget ``out`` shows by ``fig`` (rendered as a PNG)."""
    from IPython.display import display

    with out:
        out.clear_output(wait=True)
        display(fig)


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
    plt.close(fig)
    return _scale_widget(crops, scales, names, reference)


def _scale_widget(crops: dict[str, np.ndarray], scales: list[float], names: list[str],
                  reference: str | None):
    """The live part of :func:`scale_explorer`: dropdown, slider and the redrawn crops."""
    import ipywidgets as widgets
    from IPython.display import display

    ref = reference if reference in crops else None
    sample = widgets.Dropdown(options=[n for n in names if n != ref] or names, description="sample")
    scale = widgets.SelectionSlider(options=[(f"{s:.1f}", i) for i, s in enumerate(scales)],
                                    value=min(range(len(scales)), key=lambda i: abs(scales[i] - 1)),
                                    description="scale", continuous_update=True)
    out = widgets.Output()

    def redraw(*_args) -> None:
        shown = [ref, sample.value] if ref is not None else [sample.value]
        with DRAW_LOCK:
            f = Figure(figsize=(3.6 * len(shown), 3.8))
            axes = f.subplots(1, len(shown), squeeze=False)
            for ax, name in zip(axes[0], shown):
                crop = crops[name][scale.value]
                ax.imshow(crop)
                draw_unit_box(ax, crop.shape[0], scales[scale.value])
                ax.set_title(f"{name}, scale {scales[scale.value]:.1f}", fontsize=10)
                clean_axes(ax)
            f.tight_layout()
            _show(out, f)

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


# ---------------------------------------------------------------- scale weights (notebook 05)


def plot_score_panels(
    axes, labels, scores, title: str | None = None, threshold: float | None = None
) -> float:
    """Draw a score histogram per class on ``axes[0]`` and the ROC on ``axes[1]``.

    The histogram's axis is the score's log-odds ``log(s / (1 - s))`` over a fixed range,
    labelled in scores: a model's scores crowd near 0 and 1, where a linear [0, 1] axis shows
    one bar, and a fixed range lets a redraw show where the scores moved.

    Args:
        axes: two Matplotlib Axes.
        labels: 1 = bona fide, 0 = attack.
        scores: higher = more bona fide.
        title: prefix of the histogram title.
        threshold: drawn as a vertical line; ``None`` -> the EER threshold of these scores.

    Returns:
        The EER of ``scores`` (a fraction).
    """
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    rate, thr = eer(y, s)
    thr = thr if threshold is None else threshold
    ax_h, ax_r = axes
    limit = float(_logit(np.array([1 - LOGIT_EPS]))[0])
    bins = np.linspace(-limit, limit, 41)
    x = _logit(s)
    ax_h.hist(x[y == 1], bins=bins, alpha=0.6, color="tab:green", label="bona fide")
    ax_h.hist(x[y == 0], bins=bins, alpha=0.6, color="tab:red", label="attack")
    ax_h.axvline(float(_logit(np.array([thr]))[0]), color="k", ls="--", lw=1)
    ax_h.set_xlim(-limit, limit)
    ax_h.set_xticks(_logit(np.array(SCORE_TICKS)), [f"{t:g}" for t in SCORE_TICKS])
    ax_h.set_xlabel("score, on a log-odds axis (higher = more bona fide)")
    ax_h.set_ylabel("samples")
    ax_h.set_title(f"{title + ': ' if title else ''}EER {100 * rate:.2f} %", fontsize=10)
    ax_h.legend(fontsize=8)
    plot_roc(ax_r, y, s, label="test")
    ax_r.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax_r.plot([rate], [1 - rate], "ko", ms=4)
    ax_r.legend(fontsize=8, loc="lower right")
    return rate


def _logit(scores: np.ndarray) -> np.ndarray:
    """Log-odds of scores clipped to ``[LOGIT_EPS, 1 - LOGIT_EPS]``."""
    p = np.clip(np.asarray(scores, dtype=float), LOGIT_EPS, 1 - LOGIT_EPS)
    return np.log(p / (1 - p))


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

    #: Slider step; a change smaller than half of it is the browser snapping, not a user.
    STEP = 0.01

    def slider_start(self) -> list[float]:
        """Where the sliders start: the mean learned weights, clipped to the range and put on
        the slider's step grid (so the browser has nothing to snap)."""
        lo, hi = self.weight_range
        return [round(lo + round((float(np.clip(w, lo, hi)) - lo) / self.STEP) * self.STEP, 10)
                for w in self.mean_learned]

    def widget(self):
        """Sliders (one per scale), a 'restore learned weights' button, the EER and a live figure.

        Moving a slider re-scores with the slider weights shared by all samples; the button sets
        the sliders back to where they started (the mean learned weights) and scores with the
        learned per-sample weights. The EER of what the figure shows is also written in a
        text element (CSS class ``fas-eer``: ``"<title>: EER <x.xx> %"``). Needs
        ``ipywidgets`` and a live Jupyter frontend.
        """
        import ipywidgets as widgets

        lo, hi = self.weight_range
        start = self.slider_start()
        sliders = [widgets.FloatSlider(value=v, min=lo, max=hi, step=self.STEP,
                                       description=f"scale {name}", continuous_update=True,
                                       readout_format=".2f")
                   for name, v in zip(self.scale_names, start, strict=True)]
        restore = widgets.Button(description="Restore learned weights", icon="undo",
                                 layout=widgets.Layout(width="auto"))
        eer_text = widgets.HTML().add_class("fas-eer")
        out = widgets.Output()
        state = {"learned": True, "mute": False}

        def redraw(*_args) -> None:
            w = None if state["learned"] else np.array([s.value for s in sliders])
            scores = self.scores(w)
            with DRAW_LOCK:
                fig = Figure(figsize=(9, 3.4))
                rate = plot_score_panels(fig.subplots(1, 2), self.labels, scores,
                                         title=self._title(w))
                fig.tight_layout()
                eer_text.value = f"{self._title(w)}: EER {100 * rate:.2f} %"
                _show(out, fig)

        def on_slide(change) -> None:
            if state["mute"] or abs(change["new"] - change["old"]) < self.STEP / 2:
                return
            state["learned"] = False
            redraw()

        def on_restore(_button) -> None:
            state["mute"] = True
            for s, v in zip(sliders, start, strict=True):
                s.value = v
            state["mute"], state["learned"] = False, True
            redraw()

        for s in sliders:
            s.observe(on_slide, names="value")
        restore.on_click(on_restore)
        redraw()
        box = widgets.VBox([widgets.HBox([widgets.VBox(sliders), restore]), eer_text, out])
        return box.add_class("fas-weight-explorer")

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
