"""Hand-crafted recapture cues of the crop a CNN sees, and how well they separate live from attack.

MS-FANS rests on the premise that the cue separating live from attack depends on the crop: a
tight face crop holds only faint recapture texture (halftone dots, screen sub-pixels, blur, a
colour cast), so it is weakly separable, while a wider crop adds context (the paper's border,
a bezel, fingers). This module measures that curve on any crop cache
(:mod:`fas_lib.cache.reader`): for every scale, simple statistics of the **centre** 112 x 112 of the
128 x 128 crop (what the CNN is scored on, :func:`fas_lib.cache.loader.centre_offset`) and

* the EER of each statistic alone (its direction fixed on the training split, EER on test);
* the EER of a logistic regression on all statistics (standardised; trained on the training
  split, scored on the subject-disjoint test split), on each group of them (texture, colour,
  context: :data:`GROUPS`), and per attack type, instrument, camera and session (the
  protocol table's columns, where the dataset has them).

The statistics (:data:`STATISTICS`) follow the cues real-data papers use
(:data:`fas_lib.studies.literature.REFERENCES`) and one for context
(:data:`GROUPS`): high-frequency energy (Laplacian, DCT high band), a periodic-pattern peak
(moire), colour moments in HSV and YCbCr, specular share, colour diversity, and the longest
straight edge (a paper border, a bezel). How many training frames a CNN run gets wrong is
:func:`fas_lib.studies.realism.train_errors`.

Example:
    >>> from fas_lib.cache.prepare import get_cache                       # doctest: +SKIP
    >>> cs = cue_set(get_cache("synthspoof"), frames_per_video=2)    # doctest: +SKIP
    >>> cue_strength(cs)[1.0]["classifier_eer"]                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pandas as pd
from scipy import fft as sfft

from fas_lib.cache.loader import centre_offset
from fas_lib.cache.reader import CropCache
from fas_lib.evaluation.metrics import eer

#: Names of the columns of :func:`crop_statistics`, in order.
STATISTICS: tuple[str, ...] = (
    "lap_energy", "dct_high", "dct_mid", "moire_peak",
    *(f"{c}_{m}" for c in ("h", "s", "v", "y", "cb", "cr") for m in ("mean", "std", "skew")),
    "specular", "colour_diversity", "straight_edge",
)
#: The statistics by kind of cue: recapture texture, colour, and context (a long straight edge:
#: a paper border, a bezel).
GROUPS: dict[str, tuple[str, ...]] = {
    "texture": STATISTICS[:4],
    "colour": STATISTICS[4:-1],
    "context": STATISTICS[-1:],
}
#: Protocol-table columns the strength is broken down by (those a dataset has).
BREAKDOWN: tuple[str, ...] = ("attack_type", "instrument", "camera", "session")
#: Side of the window the CNN is scored on (of the 128 x 128 cached crop).
VIEW = 112


@dataclass
class CueSet:
    """The statistics of every sampled frame at every scale.

    Attributes:
        frames: one row per frame: the cache table's columns (``split``, ``subject``,
            ``label``, ``attack_type``, ``video_id``...).
        features: scale -> ``(N, len(STATISTICS))`` float64, rows as ``frames``.
        names: the statistics' names (:data:`STATISTICS`).
    """

    frames: pd.DataFrame
    features: dict[float, np.ndarray] = field(repr=False)
    names: tuple[str, ...] = STATISTICS


def _moments(x: np.ndarray) -> np.ndarray:
    """Mean, standard deviation and skewness over the pixels of ``(N, P)`` -> ``(N, 3)``."""
    mu = x.mean(1, dtype=np.float64)
    d = x - mu[:, None].astype(x.dtype)
    d2 = d * d
    sd = np.sqrt(d2.mean(1, dtype=np.float64))
    skew = (d2 * d).mean(1, dtype=np.float64) / np.maximum(sd, 1e-6) ** 3
    return np.stack([mu, sd, skew], 1)


def _frequency(grey: np.ndarray) -> np.ndarray:
    """``[log10 Laplacian energy, DCT high-band share, DCT mid-band share, log10 FFT peak]``.

    ``grey`` is ``(N, H, W)`` float in [0, 1]. The Laplacian is the 4-neighbour stencil
    ``4 g - g_up - g_down - g_left - g_right``; the DCT bands are ``(u + v) / (H + W)`` in
    ``[0.5, 1]`` (high) and ``[0.25, 0.5)`` (mid) of the energy without DC; the peak is the
    largest Fourier magnitude of the Hann-windowed crop above a quarter of Nyquist over the
    median there (periodic patterns: halftone, sub-pixels, moire).
    """
    n, h, w = grey.shape
    lap = (4 * grey[:, 1:-1, 1:-1] - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1]
           - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:])
    lap_energy = np.log10((lap**2).mean((1, 2)) + 1e-8)
    c = sfft.dctn(grey, axes=(1, 2), norm="ortho", workers=1) ** 2
    c[:, 0, 0] = 0.0
    band = (np.arange(h)[:, None] + np.arange(w)[None, :]) / (h + w)
    total = c.sum((1, 2)) + 1e-12
    high = c[:, band >= 0.5].sum(1) / total
    mid = c[:, (band >= 0.25) & (band < 0.5)].sum(1) / total
    win = np.outer(np.hanning(h), np.hanning(w))
    centred = (grey - grey.mean((1, 2), keepdims=True)) * win
    mag = np.abs(sfft.rfft2(centred, axes=(1, 2), workers=1))
    fy = np.abs(sfft.fftfreq(h))[:, None]
    fx = sfft.rfftfreq(w)[None, :]
    ring = np.hypot(fy, fx) > 0.125  # a quarter of Nyquist (0.5 cycles / pixel)
    sel = mag[:, ring]
    peak = np.log10(sel.max(1) / (np.median(sel, 1) + 1e-12) + 1e-12)
    return np.stack([lap_energy, high, mid, peak], 1)


def straight_edge(grey: np.ndarray) -> float:
    """Support of the longest straight edge of a uint8 grey crop, over its side.

    The largest Hough accumulator vote (1-pixel, 2-degree cells) on the crop's Canny edges
    (thresholds 50 / 150): about 1 for an edge across the whole crop (a paper border, a
    bezel, the frame's padding), small for the curved edges of a face.
    """
    edges = cv2.Canny(grey, 50, 150)
    lines = cv2.HoughLinesWithAccumulator(edges, 1, np.pi / 90, 10)
    votes = np.asarray(lines if lines is not None else [], np.float64).reshape(-1, 3)[:, 2]
    return float(votes.max()) / grey.shape[0] if len(votes) else 0.0


def crop_statistics(crops: np.ndarray) -> np.ndarray:
    """The :data:`STATISTICS` of RGB crops.

    Args:
        crops: ``(N, H, W, 3)`` uint8 RGB (e.g. the centre windows of cached crops).

    Returns:
        ``(N, len(STATISTICS))`` float64.
    """
    x = np.ascontiguousarray(crops)
    if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W, 3) uint8 RGB crops, got {x.shape} {x.dtype}")
    n = len(x)
    rgb = x.reshape(n, -1, 3).astype(np.float32) / np.float32(255.0)
    # ITU-R BT.601 luma and chroma (YCbCr), all in [0, 1] (chroma centred on 0.5)
    y = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    cb = 0.5 + (rgb[..., 2] - y) * 0.564
    cr = 0.5 + (rgb[..., 0] - y) * 0.713
    hsv = np.stack([cv2.cvtColor(c, cv2.COLOR_RGB2HSV_FULL) for c in x]).reshape(n, -1, 3)
    hsv = hsv.astype(np.float32) / np.float32(255.0)
    colour = [_moments(hsv[..., i]) for i in range(3)] + [_moments(v) for v in (y, cb, cr)]
    # specular: bright and nearly colourless pixels (V >= 0.9, S <= 0.2)
    specular = ((hsv[..., 2] >= 0.9) & (hsv[..., 1] <= 0.2)).mean(1)
    # colour diversity: distinct colours after quantising every channel to 32 levels
    q = (x.reshape(n, -1, 3) >> 3).astype(np.int64)
    codes = (q[..., 0] * 1024 + q[..., 1] * 32 + q[..., 2]) + 32768 * np.arange(n)[:, None]
    hist = np.bincount(codes.ravel(), minlength=32768 * n).reshape(n, 32768)
    diversity = (hist > 0).sum(1) / q.shape[1]
    grey = y.reshape(x.shape[:3])
    lines = [straight_edge(np.clip(g * 255 + 0.5, 0, 255).astype(np.uint8)) for g in grey]
    freq = _frequency(grey.astype(np.float64))
    return np.column_stack([freq, *colour, specular, diversity, np.asarray(lines)])


def _sample(frames: pd.DataFrame, per_video: int | None) -> pd.DataFrame:
    """At most ``per_video`` frames of every video (evenly spaced), in array order."""
    if per_video is None:
        return frames
    keep = []
    for _, g in frames.groupby("video_id", sort=False):
        if len(g) <= per_video:
            keep.append(g)
        else:
            pos = np.linspace(0, len(g) - 1, per_video).round().astype(int)
            keep.append(g.iloc[np.unique(pos)])
    out = pd.concat(keep) if keep else frames.iloc[:0]
    return out.sort_values("index", kind="stable")


def cue_set(
    cache: CropCache,
    scales: Sequence[float] | None = None,
    frames_per_video: int | None = 2,
    splits: Sequence[str] = ("train", "test"),
    batch: int = 256,
) -> CueSet:
    """Statistics of the centre window of every sampled frame's crop at every scale.

    Args:
        cache: a crop cache (any dataset).
        scales: scales to measure (``None``: all the cache holds).
        frames_per_video: frames kept per video (``None``: all cached frames).
        splits: the splits to read (training split for fitting, test for scoring).
        batch: crops converted at a time.

    Raises:
        ValueError: a scale the cache does not hold.
    """
    scales = tuple(float(s) for s in (cache.scales if scales is None else scales))
    missing = [s for s in scales if s not in cache.scales]
    if missing:
        raise ValueError(f"the cache holds scales {cache.scales}, not {missing}")
    side = int(cache.crops(splits[0]).shape[-2])
    o = centre_offset(side, min(VIEW, side))
    v = min(VIEW, side)
    rows, feats = [], {s: [] for s in scales}
    for split in splits:
        frames = _sample(cache.frames(split), frames_per_video)
        idx = frames["index"].to_numpy()
        crops = cache.crops(split)
        for s in scales:
            j = cache.scales.index(s)
            for k in range(0, len(idx), batch):
                view = np.asarray(crops[idx[k:k + batch], j, o:o + v, o:o + v])
                feats[s].append(crop_statistics(view))
        rows.append(frames.reset_index(drop=True))
    table = pd.concat(rows, ignore_index=True)
    return CueSet(table, {s: np.concatenate(f) if f else np.empty((0, len(STATISTICS)))
                          for s, f in feats.items()})


def _eer_or_none(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """EER (live = 1), or ``None`` without both classes."""
    if len(np.unique(labels)) < 2:
        return None
    return float(eer(labels, scores)[0])


def statistic_eers(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                   y_test: np.ndarray, names: Sequence[str] = STATISTICS) -> dict[str, float]:
    """EER of each statistic alone on test, its sign fixed on train (live mean above attack
    mean: higher = more live; otherwise the negated statistic)."""
    sign = np.sign(x_train[y_train == 1].mean(0) - x_train[y_train == 0].mean(0))
    sign[sign == 0] = 1.0
    return {n: float(eer(y_test, sign[i] * x_test[:, i])[0]) for i, n in enumerate(names)}


def classifier_scores(x_train: np.ndarray, y_train: np.ndarray,
                      x_test: np.ndarray) -> np.ndarray:
    """Bona-fide scores of a logistic regression on standardised statistics (fit on train)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=1.0, max_iter=2000))
    model.fit(np.nan_to_num(x_train), y_train)
    return model.decision_function(np.nan_to_num(x_test))


def _breakdown(test: pd.DataFrame, scores: np.ndarray, by: Sequence[str]) -> dict[str, dict]:
    """EER per level of each column: attack types and instruments against every live frame,
    cameras and sessions with both classes restricted to the level."""
    y = test["label"].to_numpy()
    out: dict[str, dict] = {}
    for col in by:
        if col not in test or not (test[col].astype(str) != "").any():
            continue
        vals = test[col].astype(str).to_numpy()
        levels = sorted(set(vals[(y == 0) & (vals != "")]))
        res = {}
        for lv in levels:
            if col in ("attack_type", "instrument"):
                m = (y == 1) | (vals == lv)
            else:
                m = vals == lv
            res[lv] = _eer_or_none(y[m], scores[m])
        out[col] = res
    return out


def separability(cues: CueSet, scale: float, train: str = "train", test: str = "test",
                 by: Sequence[str] = BREAKDOWN) -> dict[str, Any]:
    """How well the statistics at one scale separate live from attack on the test split.

    Returns:
        ``classifier_eer`` (logistic regression, train -> test), ``group_eer`` (the same on
        each group of :data:`GROUPS` alone), ``statistic_eer`` (each statistic alone),
        ``best_statistic`` (name and EER), ``by`` (classifier EER per
        level of each :data:`BREAKDOWN` column), ``n_train`` and ``n_test`` frames.

    Raises:
        ValueError: a split without both classes.
    """
    f = cues.frames
    x = cues.features[float(scale)]
    tr, te = (f["split"] == train).to_numpy(), (f["split"] == test).to_numpy()
    y = f["label"].to_numpy().astype(int)
    for name, m in ((train, tr), (test, te)):
        if len(np.unique(y[m])) < 2:
            raise ValueError(f"split {name!r} needs live and attack frames ({int(m.sum())} "
                             "frames sampled)")
    stats = statistic_eers(x[tr], y[tr], x[te], y[te], cues.names)
    scores = classifier_scores(x[tr], y[tr], x[te])
    best = min(stats, key=stats.get)
    groups = {}
    for g, names in GROUPS.items():
        cols = [cues.names.index(n) for n in names if n in cues.names]
        if cols:
            gs = classifier_scores(x[tr][:, cols], y[tr], x[te][:, cols])
            groups[g] = float(eer(y[te], gs)[0])
    return {
        "classifier_eer": float(eer(y[te], scores)[0]),
        "group_eer": groups,
        "statistic_eer": stats,
        "best_statistic": {"name": best, "eer": stats[best]},
        "by": _breakdown(f[te].reset_index(drop=True), scores, by),
        "n_train": int(tr.sum()),
        "n_test": int(te.sum()),
    }


def cue_strength(cues: CueSet, scales: Sequence[float] | None = None,
                 **kwargs: Any) -> dict[float, dict[str, Any]]:
    """:func:`separability` at every scale of ``cues`` (or ``scales``), in scale order."""
    scales = sorted(cues.features) if scales is None else [float(s) for s in scales]
    return {s: separability(cues, s, **kwargs) for s in scales}


def strength_table(strength: dict[float, dict[str, Any]], by: str | None = None) -> pd.DataFrame:
    """Classifier EER (%) per scale (columns): overall, per group of statistics and of the best
    statistic (``by=None``), or one row per level of ``by``."""
    if by is None:
        rows = {"all attacks": {s: r["classifier_eer"] for s, r in strength.items()}}
        for g in GROUPS:
            rows[f"{g} statistics only"] = {s: r["group_eer"].get(g, np.nan)
                                            for s, r in strength.items()}
        rows["best single statistic"] = {s: r["best_statistic"]["eer"]
                                         for s, r in strength.items()}
    else:
        rows = {}
        for s, r in strength.items():
            for lv, v in r["by"].get(by, {}).items():
                rows.setdefault(lv, {})[s] = np.nan if v is None else v
    table = pd.DataFrame(rows).T.mul(100).round(1)
    table.columns = [f"{s:g}" for s in table.columns]
    return table


def plot_strength(strength: dict[float, dict[str, Any]], by: str = "attack_type") -> Any:
    """Test EER per scale: left, all statistics and each group of :data:`GROUPS`; right, all
    statistics per level of ``by`` (e.g. attack type). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    scales = sorted(strength)
    overall = [100 * strength[s]["classifier_eer"] for s in scales]
    groups = strength_table(strength)
    for ax in axes:
        ax.plot(scales, overall, "k-o", lw=2.5, label="all statistics, all attacks")
        ax.axhline(50, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("crop scale (the CNN's centre 112 x 112 of the crop)")
    for g in GROUPS:
        axes[0].plot(scales, groups.loc[f"{g} statistics only"].to_numpy(), "--", lw=1.5,
                     label=f"{g} statistics only")
    for lv, row in strength_table(strength, by).iterrows():
        axes[1].plot(scales, row.to_numpy(), "-", lw=1, alpha=0.85, label=str(lv))
    axes[0].set_ylabel("test EER (%), logistic regression")
    axes[0].set_ylim(bottom=0)
    axes[0].set_title("by kind of cue", fontsize=9)
    axes[1].set_title(f"by {by.replace('_', ' ')}", fontsize=9)
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle("How well hand-crafted statistics separate live from attack at each scale",
                 fontsize=10)
    fig.tight_layout()
    return fig
