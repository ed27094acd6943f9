"""Presentation-attack-detection metrics: ISO/IEC 30107-3 (APCER, BPCER, ACER) and the older ones.

Convention (the same everywhere in this module and in the project):

* **labels**: ``1`` = bona fide (live), ``0`` = attack (see :data:`fas_lib.LIVE`).
* **scores**: a *higher* score means *more likely bona fide*.
* **decision**: a sample is **accepted as bona fide** when ``score >= threshold``,
  and rejected as an attack otherwise.

Hence, at a threshold ``t``:

* FAR (false acceptance rate) = share of attacks with ``score >= t``.
  Pooled over all attacks it is the "APCER pooled"; per attack type (PAI species) it is
  ``APCER_type``, and the ISO APCER is the **maximum** over types. Attack types that are
  instruments of one species are pooled first (:data:`PAI_SPECIES`: OULU-NPU's ``print1`` /
  ``print2`` are the species ``print``, ``replay1`` / ``replay2`` the species ``replay``).
* FRR (false rejection rate) = BPCER = share of bona fide samples with ``score < t``.
* HTER = (FAR + FRR) / 2; ACER = (APCER + BPCER) / 2.

The ROC is computed with :func:`sklearn.metrics.roc_curve`, bona fide being the positive class,
so ``FAR = fpr`` and ``FRR = 1 - tpr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

ArrayLike = Sequence[Any] | np.ndarray

#: Attack type (presentation attack *instrument*) -> PAI species, for :func:`apcer_bpcer_acer`.
#: OULU-NPU's evaluation takes APCER as the maximum over its two attack kinds, print and
#: display (video replay), each kind pooling its two instruments (two printers, two displays):
#: Boulkenafet et al., "OULU-NPU: A mobile face presentation attack database with real-world
#: variations", FG 2017, Sec. on evaluation; Boulkenafet et al., "A competition on generalized
#: software-based face presentation attack detection in mobile scenarios", IJCB 2017. The names
#: are those of :data:`fas_lib.data.datasets.oulu_npu.ATTACK_TYPES`; a type not listed here is a
#: species of its own.
PAI_SPECIES: dict[str, str] = {
    "print1": "print", "print2": "print", "replay1": "replay", "replay2": "replay",
}


def _check(
    labels: ArrayLike, scores: ArrayLike, both_classes: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert labels / scores to 1-D arrays (int labels, float scores).

    Raises:
        ValueError: on mismatched lengths, empty input, labels outside {0, 1},
            NaN or infinite scores, or (``both_classes``) only one class present.
    """
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D, got shapes {y.shape} and {s.shape}")
    if len(y) != len(s):
        raise ValueError(f"labels and scores differ in length: {len(y)} != {len(s)}")
    if len(y) == 0:
        raise ValueError("labels and scores are empty")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"scores contain {int(np.sum(~np.isfinite(s)))} NaN or infinite values")
    try:
        yf = y.astype(float)
    except (TypeError, ValueError):
        msg = f"labels must be 0 (attack) or 1 (bona fide), got {np.unique(y)[:5]}"
        raise ValueError(msg) from None
    if not np.all((yf == 0) | (yf == 1)):
        raise ValueError(f"labels must be 0 (attack) or 1 (bona fide), got {np.unique(y)[:5]}")
    y = yf.astype(int)
    if both_classes and len(np.unique(y)) < 2:
        only = "bona fide (1)" if y[0] == 1 else "attack (0)"
        raise ValueError(f"only one class present ({only}); the metric needs attacks and bona fide")
    return y, s


def roc(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC as (FAR, FRR, thresholds), thresholds decreasing.

    ``FAR[i]`` and ``FRR[i]`` are the rates when accepting ``score >= thresholds[i]``;
    ``thresholds[0]`` is ``inf`` (nothing accepted: FAR 0, FRR 1). Every distinct score is kept.

    Args:
        labels: 1 = bona fide, 0 = attack.
        scores: higher = more bona fide.
    """
    y, s = _check(labels, scores)
    fpr, tpr, thr = skm.roc_curve(y, s, pos_label=1, drop_intermediate=False)
    return fpr, 1.0 - tpr, thr


def eer(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """Equal error rate and its threshold, linearly interpolated where FAR and FRR cross.

    With ``d = FAR - FRR`` along the ROC (``d`` rises strictly from -1 to +1), the first point
    ``i`` with ``d[i] >= 0`` and its predecessor bracket the crossing; ``w = -d[i-1] / (d[i] -
    d[i-1])`` gives ``EER = FAR[i-1] + w (FAR[i] - FAR[i-1])`` (= the interpolated FRR) and the
    threshold ``thr[i-1] + w (thr[i] - thr[i-1])`` (the infinite first threshold, "accept
    nothing", is taken as the next float above the top score, ``np.nextafter(top, inf)``, the
    smallest threshold that rejects every sample). When a ROC point lies exactly on the crossing
    (``d[i] == 0``, e.g. perfect separation) every threshold in ``(thr[i+1], thr[i]]`` realises
    it and the middle of that interval is returned, so that a threshold fixed on dev sits between
    the classes. "Exactly" is decided on the error *counts* (``FA * n_bona_fide == FR *
    n_attack``), not on the float difference, which rounding leaves at about 1e-16 (e.g. FAR =
    1/3 against FRR = 1 - 2/3).

    Returns:
        ``(eer, threshold)`` as plain floats.
    """
    far, frr, thr = roc(labels, scores)
    y = np.asarray(labels, dtype=float)
    return _eer_on_roc(far, frr, thr, int(np.sum(y == 1)), int(np.sum(y == 0)))


def _eer_on_roc(far: np.ndarray, frr: np.ndarray, thr: np.ndarray, n_bona: int,
                n_attack: int) -> tuple[float, float]:
    """:func:`eer` from a ROC of :func:`roc`'s form and the class counts it was computed on."""
    thr = thr.copy()
    thr[0] = np.nextafter(thr[1], np.inf)  # "accept nothing": just above the top score
    # sign of FAR - FRR from the integer counts: FA / n_attack - FR / n_bona
    cross = np.rint(far * n_attack) * n_bona - np.rint(frr * n_bona) * n_attack
    d = np.where(cross == 0, 0.0, far - frr)
    i = int(np.argmax(d >= 0))  # i >= 1 since d[0] = -1, and i < len - 1 when d[i] == 0
    if d[i] == 0:
        return float(far[i]), float((thr[i] + thr[i + 1]) / 2.0)
    w = -d[i - 1] / (d[i] - d[i - 1])
    rate = far[i - 1] + w * (far[i] - far[i - 1])
    return float(rate), float(thr[i - 1] + w * (thr[i] - thr[i - 1]))


def _wrong(y: np.ndarray, s: np.ndarray, threshold: float) -> np.ndarray:
    """Mistakes of checked labels / scores: accepted attacks and rejected bona fide."""
    return (s >= threshold) == (y == 0)


def errors_at(labels: ArrayLike, scores: ArrayLike, threshold: float) -> np.ndarray:
    """Per-sample mistakes at ``threshold``: attacks with ``score >= t``, bona fide with
    ``score < t`` (boolean array)."""
    return _wrong(*_check(labels, scores), threshold)


def far_frr(labels: ArrayLike, scores: ArrayLike, threshold: float) -> tuple[float, float]:
    """(FAR, FRR) at ``threshold``: attacks with ``score >= t``, bona fide with ``score < t``."""
    y, s = _check(labels, scores)
    wrong = _wrong(y, s, threshold)
    return float(np.mean(wrong[y == 0])), float(np.mean(wrong[y == 1]))


def hter(labels: ArrayLike, scores: ArrayLike, threshold: float) -> float:
    """Half total error rate (FAR + FRR) / 2 at a fixed ``threshold``."""
    far, frr = far_frr(labels, scores, threshold)
    return (far + frr) / 2.0


def hter_at_dev_eer(
    dev_labels: ArrayLike, dev_scores: ArrayLike, test_labels: ArrayLike, test_scores: ArrayLike
) -> dict[str, float]:
    """Fix the threshold at the development set's EER, then measure the test set there.

    Returns:
        ``{"threshold", "dev_eer", "test_far", "test_frr", "test_hter"}`` as floats.
    """
    dev_eer, thr = eer(dev_labels, dev_scores)
    far, frr = far_frr(test_labels, test_scores, thr)
    return {"threshold": thr, "dev_eer": dev_eer, "test_far": far, "test_frr": frr,
            "test_hter": (far + frr) / 2.0}


def apcer_bpcer_acer(
    labels: ArrayLike, scores: ArrayLike, attack_types: ArrayLike, threshold: float
) -> dict[str, Any]:
    """ISO/IEC 30107-3 errors at ``threshold``; APCER is the worst attack type, not the pool.

    The attack types are first mapped to their PAI species with :data:`PAI_SPECIES` (OULU-NPU's
    ``print1``, ``print2`` -> ``print``; ``replay1``, ``replay2`` -> ``replay``; other types are
    their own species), and APCER is the maximum over species, each species pooling its
    instruments, as in OULU-NPU's published evaluation (Boulkenafet et al., FG 2017; IJCB 2017
    competition report).

    Args:
        labels: 1 = bona fide, 0 = attack.
        scores: higher = more bona fide.
        attack_types: attack type of each sample (the value of bona fide rows is ignored).
        threshold: accept as bona fide when ``score >= threshold``.

    Returns:
        ``apcer_per_type`` ({species: share of that species' attacks accepted}), ``apcer`` (max
        over species), ``worst_type`` (its argmax, first in sorted order on ties),
        ``apcer_per_instrument`` ({attack type as given: share accepted}; equal to
        ``apcer_per_type`` unless :data:`PAI_SPECIES` merged types), ``apcer_pooled`` (all
        attacks together: NOT the ISO APCER), ``bpcer`` (share of bona fide rejected) and
        ``acer`` = (apcer + bpcer) / 2.
    """
    y, s = _check(labels, scores)
    types = np.asarray(attack_types, dtype=object)
    if types.shape != y.shape:
        raise ValueError(f"attack_types has length {len(types)}, labels {len(y)}")
    accepted = s >= threshold
    atk = y == 0
    per_instrument = {
        str(t): float(np.mean(accepted[atk & (types == t)]))
        for t in sorted(set(types[atk].tolist()), key=str)
    }
    species = np.array([PAI_SPECIES.get(str(t), str(t)) for t in types.tolist()], dtype=object)
    per_type = {
        str(t): float(np.mean(accepted[atk & (species == t)]))
        for t in sorted(set(species[atk].tolist()), key=str)
    }
    worst = max(per_type, key=lambda t: per_type[t])  # first maximal key in sorted order
    apcer = per_type[worst]
    bpcer = float(np.mean(~accepted[y == 1]))
    return {
        "apcer_per_type": per_type,
        "apcer": apcer,
        "worst_type": worst,
        "apcer_per_instrument": per_instrument,
        "apcer_pooled": float(np.mean(accepted[atk])),
        "bpcer": bpcer,
        "acer": (apcer + bpcer) / 2.0,
    }


def auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC (probability that a bona fide sample outscores an attack)."""
    y, s = _check(labels, scores)
    return float(skm.roc_auc_score(y, s))


def paired_bootstrap_eer(
    labels: ArrayLike,
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    clusters: ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Is system A's EER really lower than system B's? A paired bootstrap over clusters.

    Frames of one subject (or video) are not independent: 16 test subjects behave like 16
    draws, not 1,000. So the resampling unit is the **cluster** (the subject of every row):
    each replicate draws as many clusters as there are, with replacement, keeps all their rows
    and computes ``EER(A) - EER(B)`` on the *same* rows (paired). Replicates that hold only one
    class are redrawn up to ``10 * n_boot`` draws in all, and counted
    (:func:`bootstrap_eers`).

    Args:
        labels: 1 = bona fide, 0 = attack, one per row.
        scores_a, scores_b: the two systems' scores of the same rows (higher = bona fide).
        clusters: the resampling unit of each row (subject id).
        n_boot: bootstrap replicates.
        seed: seed of the resampling.
        level: coverage of the percentile interval.

    Returns:
        ``diff`` (``EER(A) - EER(B)`` on the full set; negative: A is better), ``eer_a``,
        ``eer_b``, ``ci_low`` / ``ci_high`` (percentile interval of the replicates' diffs),
        ``p_a_better`` (share of replicates with ``EER(A) < EER(B)``), ``p_tie`` (share with
        equal EERs), ``n_boot``, ``n_clusters``, ``n_redrawn`` (one-class replicates redrawn)
        and ``level``.

    Raises:
        ValueError: lengths differ, fewer than two clusters, bad ``n_boot`` or ``level``, or
            the scores / labels fail the checks of :func:`eer`.
    """
    y, sa = _check(labels, scores_a)
    _, sb = _check(labels, scores_b)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    full, reps, redrawn = bootstrap_eers(y, np.stack([sa, sb], axis=1), clusters, n_boot, seed)
    d = reps[:, 0] - reps[:, 1]
    alpha = (1.0 - level) / 2.0
    return {
        "diff": full[0] - full[1], "eer_a": full[0], "eer_b": full[1],
        "ci_low": float(np.quantile(d, alpha)), "ci_high": float(np.quantile(d, 1.0 - alpha)),
        "p_a_better": float(np.mean(d < 0)), "p_tie": float(np.mean(d == 0)),
        "n_boot": int(n_boot), "n_clusters": len(set(map(str, clusters))),
        "n_redrawn": int(redrawn), "level": float(level),
    }


def bootstrap_eers(labels: ArrayLike, scores: ArrayLike, clusters: ArrayLike,
                   n_boot: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """``(full, reps, n_redrawn)``: the EERs of every column of ``scores`` ``(rows, k)`` on all
    rows ``(k,)`` and on ``n_boot`` resamples of the clusters ``(n_boot, k)``, all columns on
    each resample; resampling and errors as :func:`paired_bootstrap_eer`'s."""
    y, g = np.asarray(labels), np.asarray(clusters, dtype=object)
    s = np.asarray(scores, dtype=float)
    s = s[:, None] if s.ndim == 1 else s
    if g.shape != y.shape or s.shape[0] != len(y):
        raise ValueError(f"clusters has length {len(g)}, scores {s.shape[0]}, labels {len(y)}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    _, inverse = np.unique(g.astype(str), return_inverse=True)
    if (n_clusters := int(inverse.max()) + 1 if len(inverse) else 0) < 2:
        raise ValueError("the bootstrap needs at least two clusters (subjects)")
    for k in range(s.shape[1]):  # labels 0 / 1 and finite scores in every column
        _check(y, s[:, k], both_classes=False)
    yi = np.asarray(y, dtype=float).astype(int)
    # A replicate keeps every row of a drawn cluster as often as the cluster was drawn: it is
    # the full set with integer row weights, so each column is sorted once (descending, as
    # roc's sklearn.metrics.roc_curve sorts) and a replicate's ROC is two weighted cumulative
    # sums over the rows it keeps; the rates are the same floats as roc's on the drawn rows.
    order = [np.argsort(s[:, k], kind="mergesort")[::-1] for k in range(s.shape[1])]
    rng = np.random.default_rng(seed)
    reps, redrawn, draws = [], 0, 0
    while len(reps) < n_boot:
        if draws >= 10 * n_boot:
            raise ValueError(f"{redrawn} of {draws} bootstrap replicates held one class only; "
                             "too few clusters with both attacks and bona fide")
        draws += 1
        weight = np.bincount(rng.integers(0, n_clusters, n_clusters),
                             minlength=n_clusters)[inverse]
        n_bona = int(weight[yi == 1].sum())
        n_attack = int(weight.sum()) - n_bona
        if n_bona == 0 or n_attack == 0:
            redrawn += 1
            continue
        reps.append([_weighted_eer(yi[o], s[o, k], weight[o], n_bona, n_attack)
                     for k, o in enumerate(order)])
    full = np.array([eer(y, s[:, k])[0] for k in range(s.shape[1])])
    return full, np.asarray(reps), redrawn


def _weighted_eer(y: np.ndarray, s: np.ndarray, w: np.ndarray, n_bona: int,
                  n_attack: int) -> float:
    """:func:`eer` of the rows of ``s`` (sorted descending) repeated ``w`` times each (0: left
    out); ``n_bona`` / ``n_attack``: the weighted class counts (both > 0)."""
    keep = w > 0
    y, s, w = y[keep], s[keep], w[keep].astype(float)
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each distinct score
    tps = np.r_[0.0, np.cumsum(y * w)[ends]]
    fps = np.r_[0.0, np.cumsum((1 - y) * w)[ends]]
    thr = np.r_[np.inf, s[ends]]
    return _eer_on_roc(fps / fps[-1], 1.0 - tps / tps[-1], thr, n_bona, n_attack)[0]


def det_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET curve as (APCER, BPCER, thresholds), thresholds increasing.

    APCER here is pooled over all attacks given (pass one attack type's samples plus the bona
    fide ones for a per-type curve). Uses :func:`sklearn.metrics.det_curve`.
    """
    y, s = _check(labels, scores)
    fpr, fnr, thr = skm.det_curve(y, s, pos_label=1, drop_intermediate=False)
    return fpr, fnr, thr


def video_scores(frame_scores: ArrayLike, video_ids: ArrayLike, labels: ArrayLike | None = None,
                 attack_types: ArrayLike | None = None) -> pd.DataFrame:
    """Video-level scores: the mean frame score of each video (videos in first-seen order).

    Returns:
        DataFrame with columns ``video_id``, ``score``, ``n_frames`` and, when given, ``label``
        and ``attack_type``.

    Raises:
        ValueError: on length mismatch, NaN scores, or a video whose frames disagree on
            label or attack type.
    """
    s = np.asarray(frame_scores, dtype=float)
    df = pd.DataFrame({"video_id": np.asarray(video_ids, dtype=object), "score": s})
    if len(df) != len(s) or s.ndim != 1:
        raise ValueError("frame_scores and video_ids must be 1-D and of equal length")
    if not np.all(np.isfinite(s)):
        raise ValueError("frame scores contain NaN or infinite values")
    extra = {"label": labels, "attack_type": attack_types}
    for col, val in extra.items():
        if val is None:
            continue
        arr = np.asarray(val, dtype=object)
        if len(arr) != len(s):
            raise ValueError(f"{col} has length {len(arr)}, frame_scores {len(s)}")
        df[col] = arr
    grouped = df.groupby("video_id", sort=False)
    out = grouped["score"].agg(score="mean", n_frames="size").reset_index()
    for col, val in extra.items():
        if val is None:
            continue
        n_distinct = grouped[col].nunique(dropna=False)
        bad = n_distinct[n_distinct > 1]
        if len(bad):
            raise ValueError(f"frames of video(s) {list(bad.index[:5])} disagree on {col}")
        out[col] = grouped[col].first().to_numpy()
    if labels is not None:
        _check(out["label"].to_numpy(), out["score"].to_numpy(), both_classes=False)
        out["label"] = out["label"].astype(int)
    return out


def _level(dev_y: ArrayLike, dev_s: ArrayLike, test_y: ArrayLike, test_s: ArrayLike,
           test_types: ArrayLike) -> dict[str, Any]:
    """All metrics for one level (frame or video); see :func:`evaluate`."""
    dev = hter_at_dev_eer(dev_y, dev_s, test_y, test_s)
    iso = apcer_bpcer_acer(test_y, test_s, test_types, dev["threshold"])
    test_eer, test_eer_thr = eer(test_y, test_s)
    return {
        "dev_eer": dev["dev_eer"],
        "dev_threshold": dev["threshold"],
        "dev_auc": auc(dev_y, dev_s),
        "test_eer": test_eer,
        "test_eer_threshold": test_eer_thr,
        "test_auc": auc(test_y, test_s),
        "test_far": dev["test_far"],
        "test_frr": dev["test_frr"],
        "test_hter": dev["test_hter"],
        **{f"test_{k}": v for k, v in iso.items()},
    }


def evaluate(dev_labels: ArrayLike, dev_scores: ArrayLike, test_labels: ArrayLike,
             test_scores: ArrayLike, test_attack_types: ArrayLike | None = None,
             dev_video_ids: ArrayLike | None = None,
             test_video_ids: ArrayLike | None = None) -> dict[str, Any]:
    """Every headline number for a dev/test pair, at frame level and (given ids) video level.

    The threshold is fixed on dev at its EER and applied to test (HTER, APCER, BPCER, ACER).
    Without ``test_attack_types`` all attacks form one type ``"attack"`` (then APCER = pooled).

    Returns:
        ``{"frame": {...}, "video": {...}}`` (``"video"`` only when both video-id arrays are
        given), each with ``dev_eer``, ``dev_threshold``, ``dev_auc``, ``test_eer``,
        ``test_eer_threshold``, ``test_auc``, ``test_far``, ``test_frr``, ``test_hter``,
        ``test_apcer``, ``test_apcer_per_type``, ``test_worst_type``,
        ``test_apcer_per_instrument``, ``test_apcer_pooled``,
        ``test_bpcer``, ``test_acer``: plain floats / str, JSON-serialisable.
    """
    test_y, test_s = _check(test_labels, test_scores)
    types = (np.full(len(test_y), "attack", dtype=object) if test_attack_types is None
             else np.asarray(test_attack_types, dtype=object))
    out: dict[str, Any] = {"frame": _level(dev_labels, dev_scores, test_y, test_s, types)}
    if (dev_video_ids is None) != (test_video_ids is None):
        raise ValueError("give both dev_video_ids and test_video_ids, or neither")
    if dev_video_ids is not None:
        dev_y, dev_s = _check(dev_labels, dev_scores)
        dv = video_scores(dev_s, dev_video_ids, labels=dev_y)
        tv = video_scores(test_s, test_video_ids, labels=test_y, attack_types=types)
        out["video"] = _level(dv["label"], dv["score"], tv["label"], tv["score"], tv["attack_type"])
        out["video"]["n_dev_videos"] = int(len(dv))
        out["video"]["n_test_videos"] = int(len(tv))
    return out
