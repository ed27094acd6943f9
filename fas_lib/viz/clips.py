"""Figures of clips: the motion check of notebook 09 (is there motion evidence, and is it easy?).

>>> energy = motion_energy(cache, clips["test"], scale_index=3)    # doctest: +SKIP
>>> fig = plot_motion_energy(energy)                              # doctest: +SKIP

:func:`plot_motion_energy` draws the per-clip motion energy of
:func:`fas_lib.cache.clips.motion_energy` by attack type (live first), one box and the clips as
points, with the EER of motion alone as a live-vs-attack score
(:func:`fas_lib.cache.clips.motion_separability`) in the title.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from fas_lib.cache.clips import motion_separability


def plot_motion_energy(energy: pd.DataFrame, ax: Axes | None = None,
                       title: str = "Motion energy per clip") -> Axes:
    """Box and points of ``energy["motion"]`` per attack type, the EER of motion in the title.

    Args:
        energy: :func:`fas_lib.cache.clips.motion_energy`'s table (``attack_type``, ``label``,
            ``motion``).
        ax: axes to draw on (``None``: a new figure).
        title: the title's first line.

    Returns:
        The axes.

    Raises:
        ValueError: ``energy`` has no clip with a motion value.
    """
    import matplotlib.pyplot as plt

    e = energy.dropna(subset=["motion"])
    if e.empty:
        raise ValueError("no clip with a motion value (clips of one distinct frame only)")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    kinds = sorted(e["attack_type"].unique(), key=lambda a: (a != "live", a))
    data = [e.loc[e["attack_type"] == k, "motion"].to_numpy() for k in kinds]
    ax.boxplot(data, showfliers=False, widths=0.5)
    rng = np.random.default_rng(0)  # seeded jitter: the figure is reproducible
    for i, d in enumerate(data, start=1):
        colour = "tab:green" if kinds[i - 1] == "live" else "tab:red"
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(d)), d, s=8, alpha=0.6, color=colour)
    ax.set_xticks(range(1, len(kinds) + 1), kinds, rotation=30, ha="right")
    ax.set_ylabel("mean |frame difference| (grey levels)")
    sep = motion_separability(e)
    def pct(v: float) -> str:
        return "n/a" if math.isnan(v) else f"{100 * v:.1f} %"

    ax.set_title(f"{title}\nEER of motion alone as a liveness score: {pct(sep['eer'])} "
                 f"(either sign: {pct(sep['eer_either'])}), {sep['n_clips']} clips", fontsize=10)
    return ax
