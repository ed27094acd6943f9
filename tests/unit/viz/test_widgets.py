"""Tests of fas_lib.viz.widgets: notebook 02's scale explorer, notebook 05's scale-weight sliders.

Fixtures: tiny flat crops; 60 random 16-dim "features" over 3 scales and a hand-made linear
scorer (no CNN runs).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fas_lib.evaluation import metrics  # noqa: E402
from fas_lib.viz import widgets
from fas_lib.viz.widgets import ScaleWeightExplorer  # noqa: E402

SCALES = (0.9, 1.0, 1.5)


def _crops(value: int) -> np.ndarray:
    return np.full((len(SCALES), 16, 16, 3), value, dtype=np.uint8)


def make_explorer():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    feats = rng.normal(size=(60, 3, 16))
    feats[:, 2, 0] += 3.0 * (2 * y - 1)  # only scale 3 carries the class, in dimension 0
    learned = np.tile([0.1, 0.2, 0.7], (60, 1))

    def score_fn(w):
        w = learned if w is None else np.broadcast_to(w, learned.shape)
        return (w[:, :, None] * feats).sum(1)[:, 0]

    return ScaleWeightExplorer(score_fn, y, ["1.1", "1.2", "1.3"], learned), y


def test_scores_follow_the_weights():
    ex, _ = make_explorer()
    assert np.allclose(ex.mean_learned, [0.1, 0.2, 0.7])
    assert np.allclose(ex.scores(None), ex.scores([0.1, 0.2, 0.7]))
    assert not np.allclose(ex.scores([1, 0, 0]), ex.scores([0, 0, 1]))
    assert ex.weight_range == (0.0, 1.0)


def test_static_figure_eers_reflect_informative_scale(tmp_path):
    ex, _ = make_explorer()
    fig = ex.static_figure([("only 1.1", np.array([1.0, 0, 0])),
                            ("only 1.3", np.array([0, 0, 1.0])), ("learned", None)])
    assert fig.eers["only 1.3"] < 0.1 < fig.eers["only 1.1"]
    assert len(fig.axes) == 6
    default = ex.show("05_test", tmp_path)  # non-interactive under pytest: the static fallback
    assert (tmp_path / "05_test.png").is_file()
    assert set(default.eers) == {"learned", "mean learned", "uniform"}


def test_bad_shapes_are_clear_errors():
    ex, y = make_explorer()
    with pytest.raises(ValueError, match="expected 3 weights"):
        ex.scores([1.0, 2.0])
    with pytest.raises(ValueError, match="learned_weights must have shape"):
        ScaleWeightExplorer(lambda w: None, y, ["a", "b"], np.zeros((60, 3)))


def test_widget_builds_and_restores():
    pytest.importorskip("ipywidgets")
    ex, _ = make_explorer()
    box = ex.widget()
    sliders = box.children[0].children[0].children
    restore = box.children[0].children[1]
    assert [round(s.value, 2) for s in sliders] == [0.1, 0.2, 0.7]
    sliders[0].value = 0.9
    restore.click()
    assert round(sliders[0].value, 2) == 0.1


def test_scale_explorer_static_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("FAS_NONINTERACTIVE", "1")
    fig = widgets.scale_explorer({"live": _crops(10), "print": _crops(200)}, SCALES,
                               static_scales=(0.9, 1.5), fig_name="99_explorer", fig_dir=tmp_path)
    assert (tmp_path / "99_explorer.png").is_file()
    assert len(fig.axes) == 4
    plt.close(fig)


def test_scale_explorer_rejects_unknown_scale():
    with pytest.raises(ValueError, match="not one of the crop scales"):
        widgets.scale_explorer({"live": _crops(0)}, SCALES, static_scales=(1.2,))
    with pytest.raises(ValueError, match="empty"):
        widgets.scale_explorer({}, SCALES)


def _parts(box):
    sliders = box.children[0].children[0].children
    restore, eer_text = box.children[0].children[1], box.children[1]
    return sliders, restore, eer_text


def test_widget_shows_the_eer_and_the_browser_snapping_a_slider_keeps_the_learned_mode():
    # Bug seen in JupyterLab: the browser snaps each slider to its 0.01 step and echoes the
    # value back; that echo left the learned mode, so the learned EER showed for 0.3 s only.
    pytest.importorskip("ipywidgets")
    ex, y = make_explorer()
    box = ex.widget()
    sliders, restore, eer_text = _parts(box)
    assert "fas-weight-explorer" in box._dom_classes and "fas-eer" in eer_text._dom_classes
    learned = f"learned weights (per sample): EER {100 * metrics.eer(y, ex.scores())[0]:.2f} %"
    assert eer_text.value == learned
    for s in sliders:  # the echo of a snapped value: a float a hair away from the start
        s.value = s.value + 3e-17 if s.value else 1e-17
    assert eer_text.value == learned
    sliders[2].value = 0.0  # a real move: the slider weights, shared by all samples
    w = [s.value for s in sliders]
    shared = f"EER {100 * metrics.eer(y, ex.scores(w))[0]:.2f} %"
    assert eer_text.value.startswith("w = [0.10, 0.20, 0.00]") and eer_text.value.endswith(shared)
    assert shared != learned.split(": ")[1]
    restore.click()  # one click, then the browser's echo of the restored values: still learned
    for s in sliders:
        s.value = s.value + 3e-17
    assert eer_text.value == learned
    assert [s.value for s in sliders] == pytest.approx(ex.slider_start(), abs=1e-12)


def test_widget_slider_start_is_on_the_step_grid():
    ex, _ = make_explorer()
    ex.learned = ex.learned + np.array([0.0033, -0.0071, 0.4])  # off-grid means, one past 1
    start = ex.slider_start()
    assert start == [0.1, 0.19, 1.0]
    lo = ex.weight_range[0]
    assert all(abs((v - lo) / ex.STEP - round((v - lo) / ex.STEP)) < 1e-9 for v in start)


def test_redraws_never_touch_pyplot(monkeypatch):
    # Widget callbacks may run on another thread; pyplot's state is not thread-safe, so the
    # explorers draw into their own Figure objects.
    pytest.importorskip("ipywidgets")
    ex, _ = make_explorer()

    def forbidden(*_a, **_k):
        raise AssertionError("pyplot used in a widget redraw")

    for name in ("figure", "subplots", "close", "gcf", "gca"):
        monkeypatch.setattr(plt, name, forbidden)
    box = ex.widget()
    sliders, restore, eer_text = _parts(box)
    sliders[0].value = 0.5
    restore.click()
    assert eer_text.value.startswith("learned weights")
    live = widgets._scale_widget({"live": _crops(10), "print": _crops(200)}, list(SCALES),
                                 ["live", "print"], "live")
    live.children[0].children[1].value = 2


def test_score_panels_use_a_fixed_log_odds_axis():
    fig = plt.figure()
    axes = fig.subplots(1, 2)
    y = np.repeat([0, 1], 50)
    low = np.where(y == 1, 0.04, 0.01)  # every score below 0.05: one bar on a [0, 1] axis
    rate = widgets.plot_score_panels(axes, y, low)
    assert rate == 0.0
    lo, hi = axes[0].get_xlim()
    assert hi == -lo and hi > 13  # log-odds of 1 - 1e-6, the same for every redraw
    filled = [p for p in axes[0].patches if p.get_height() > 0]
    assert len({round(p.get_x(), 6) for p in filled}) == 2  # the two classes in separate bins
    plt.close(fig)
