"""What the course shows: every figure goes through :func:`fas_lib.viz.plots.save_fig`
(:mod:`~fas_lib.viz.plots`), the interactive explorers with their static fallbacks
(:mod:`~fas_lib.viz.widgets`), and the figures of the clip and video notebooks
(:mod:`~fas_lib.viz.clips`, :mod:`~fas_lib.viz.video`).
"""
