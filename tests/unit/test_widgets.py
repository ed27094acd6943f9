"""Tests of fas_lib.widgets: notebook 02's scale explorer, notebook 05's scale-weight sliders.

Fixtures: tiny flat crops; 60 random 16-dim "features" over 3 scales and a hand-made linear
scorer (no CNN runs).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fas_lib import widgets  # noqa: E402
from fas_lib.widgets import ScaleWeightExplorer  # noqa: E402

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
