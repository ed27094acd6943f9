"""Tests of fas_lib.viz.plots helpers used by notebooks 00-02 (tiny synthetic images, Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fas_lib.viz import plots  # noqa: E402

SCALES = (0.9, 1.0, 1.5)


def _crops(value: int) -> np.ndarray:
    return np.full((len(SCALES), 16, 16, 3), value, dtype=np.uint8)


def test_not_interactive_outside_ipython(monkeypatch):
    monkeypatch.delenv("FAS_NONINTERACTIVE", raising=False)
    assert plots.in_interactive_kernel() is False


def test_env_var_forces_non_interactive(monkeypatch):
    class ZMQInteractiveShell:  # the kernel's shell type, by name
        pass

    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    monkeypatch.setattr(plots, "_parent_cmdline", lambda: "python -m jupyter lab")
    monkeypatch.delenv("FAS_NONINTERACTIVE", raising=False)
    pytest.importorskip("ipywidgets")
    assert plots.in_interactive_kernel() is True
    monkeypatch.setenv("FAS_NONINTERACTIVE", "1")
    assert plots.in_interactive_kernel() is False
    monkeypatch.setenv("FAS_NONINTERACTIVE", "0")
    monkeypatch.setattr(plots, "_parent_cmdline", lambda: "python papermill nb.ipynb out.ipynb")
    assert plots.in_interactive_kernel() is False


def test_scale_grid_shape_and_unit_box():
    fig = plots.scale_grid([_crops(0), _crops(255)], ["live", "print"], SCALES)
    assert len(fig.axes) == 2 * len(SCALES)
    # the dotted unit box of scale 1.5 is 16 / 1.5 px wide; none at scales <= 1
    xs = fig.axes[2].lines[0].get_xdata()
    assert np.isclose(xs.max() - xs.min(), 16 / 1.5)
    assert not fig.axes[0].lines and not fig.axes[1].lines
    assert fig.axes[0].get_xlim() == (-0.5, 15.5)
    assert fig.axes[0].get_title() == "scale 0.9"
    plt.close(fig)


def test_plot_curves_percent_and_order():
    fig, ax = plt.subplots()
    plots.plot_curves(ax, {"a": {1.5: 0.5, 0.9: 0.0, 1.0: 0.25}}, "share")
    line = ax.lines[0]
    assert list(line.get_xdata()) == [0.9, 1.0, 1.5]
    assert list(line.get_ydata()) == [0.0, 25.0, 50.0]
    assert ax.get_ylabel() == "share (%)"
    plt.close(fig)


def test_alignment_steps_no_face_returns_none():
    class NoFace:
        landmarks_kind = "5"

        def detect(self, rgb):
            return []

    assert plots.alignment_steps(np.zeros((40, 40, 3), np.uint8), NoFace()) is None


def test_draw_polygon_skips_nan_and_closes():
    fig, ax = plt.subplots()
    plots.draw_polygon(ax, np.full((4, 2), np.nan))
    assert not ax.lines
    plots.draw_polygon(ax, plots.box_corners((0, 0, 2, 1)))
    xs = ax.lines[0].get_xdata()
    assert len(xs) == 5 and xs[0] == xs[-1]
    plt.close(fig)


def test_roc_and_det_draw() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(50), np.ones(50)]
    s = np.r_[rng.normal(0, 1, 50), rng.normal(2, 1, 50)]
    fig, (a1, a2) = plt.subplots(1, 2)
    line = plots.plot_roc(a1, y, s, label="toy")
    assert "AUC" in line.get_label()
    line2 = plots.plot_det(a2, y, s, label="toy")
    x, yy = line2.get_data()
    # probit axes: data are normal deviates, clipped to [ppf(1e-3), ppf(0.8)]
    assert np.min(x) >= -3.1 and np.max(x) <= 0.85
    plt.close(fig)
