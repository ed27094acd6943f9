"""Metrics of the multi-modal study (notebook 08), on top of :mod:`fas_lib.evaluation.metrics`.

Same conventions as :mod:`fas_lib.evaluation.metrics`: label 1 = bona fide, a higher score is more
bona fide, a sample is accepted when ``score >= threshold``.

* :func:`tpr_at_fpr`: the ChaLearn CASIA-SURF challenge's metric, the share of bona fide
  accepted (TPR) at the lowest threshold that accepts at most a share ``fpr`` of the attacks
  (FPR = APCER pooled over the attacks). No interpolation: with ``n`` attacks, an FPR below
  ``1 / n`` means "no attack accepted", so TPR at 1e-3 needs 1,000 attacks to say more than that;
  :func:`mm_report` records the number of attacks beside it.
* :func:`eer_per_attack_type`: the EER of bona fide against each attack type alone (the
  per-sensor table: which attack a modality cannot see).
* :func:`mm_report`: every number of the notebook's tables for a scores table
  (:func:`fas_lib.evaluation.scores.scores_table`): ISO/IEC 30107-3 APCER (max over attack types),
  BPCER and ACER at the dev-EER threshold, the test EER, TPR at FPR = 1e-2 and 1e-3, the EER per
  type.
* :func:`unseen_attack_report`: a leave-one-attack-type-out fold's row: the threshold from dev
  *without* the held-out type (what the fold's model could know), the test on bona fide plus
  that type only.
* :func:`paired_differences`: for pairs of models, the difference of their test EERs with a
  paired bootstrap interval over **test subjects**
  (:func:`fas_lib.evaluation.metrics.paired_bootstrap_eer`: subjects resampled with replacement,
  both models scored on the same resample), and the difference of their ACERs (point values, each at
  its own dev-EER threshold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from fas_lib.evaluation.metrics import ArrayLike, apcer_bpcer_acer, bootstrap_eers, eer
from fas_lib.evaluation.scores import align_scores

__all__ = ["FPR_TARGETS", "eer_per_attack_type", "mm_report", "paired_differences",
           "tpr_at_fpr", "unseen_attack_report"]

#: The FPRs at which the ChaLearn challenge reads the TPR.
FPR_TARGETS: tuple[float, ...] = (1e-2, 1e-3)


def tpr_at_fpr(labels: ArrayLike, scores: ArrayLike, fpr: float) -> float:
    """Share of bona fide accepted at the lowest threshold with at most ``fpr`` attacks
    accepted (the best TPR among ROC points with ``FPR <= fpr``).

    Args:
        labels: 1 = bona fide, 0 = attack.
        scores: higher = more bona fide.
        fpr: the largest share of attacks accepted, in ``[0, 1]``.

    Raises:
        ValueError: ``fpr`` outside ``[0, 1]``, or the checks of
            :func:`fas_lib.evaluation.metrics.eer`
            (both classes, finite scores, equal lengths).
    """
    if not 0.0 <= fpr <= 1.0:
        raise ValueError(f"fpr must be in [0, 1], got {fpr}")
    eer(labels, scores)  # the same input checks as every metric
    f, t, _ = skm.roc_curve(np.asarray(labels).astype(int), np.asarray(scores, dtype=float),
                            pos_label=1, drop_intermediate=False)
    return float(t[f <= fpr + 1e-12].max())


def eer_per_attack_type(labels: ArrayLike, scores: ArrayLike,
                        attack_types: ArrayLike) -> dict[str, float]:
    """EER of all bona fide samples against the attacks of each type alone.

    Returns:
        ``{attack type: EER}`` in sorted order of the types (bona fide rows' types ignored).
    """
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=float)
    types = np.asarray(attack_types, dtype=object)
    if not len(y) == len(s) == len(types):
        raise ValueError(f"lengths differ: labels {len(y)}, scores {len(s)}, types {len(types)}")
    live = y == 1
    out = {}
    for t in sorted({str(v) for v in types[~live]}):
        keep = live | ((y == 0) & (types.astype(str) == t))
        out[t] = eer(y[keep], s[keep])[0]
    return out


def _split(scores: pd.DataFrame, split: str, score_col: str) -> pd.DataFrame:
    part = scores[scores["split"] == split]
    if len(part) == 0:
        raise ValueError(f"the scores table has no {split!r} rows")
    if score_col not in part:
        raise ValueError(f"the scores table has no column {score_col!r}")
    return part


def _at_threshold(test: pd.DataFrame, score_col: str, threshold: float) -> dict[str, Any]:
    """ISO errors at ``threshold``, the test EER and TPR at the FPR targets of a test table."""
    y, s = test["label"].to_numpy(), test[score_col].to_numpy()
    iso = apcer_bpcer_acer(y, s, test["attack_type"].to_numpy(), threshold)
    out = {"threshold": threshold, "test_eer": eer(y, s)[0], "acer": iso["acer"],
           "apcer": iso["apcer"], "bpcer": iso["bpcer"], "worst_type": iso["worst_type"],
           "apcer_per_type": iso["apcer_per_type"]}
    for target in FPR_TARGETS:
        out[f"tpr_at_fpr_{target:.0e}"] = tpr_at_fpr(y, s, target)
    out["n_test_bona_fide"] = int(np.sum(y == 1))
    out["n_test_attacks"] = int(np.sum(y == 0))
    return out


def mm_report(scores: pd.DataFrame, score_col: str = "score") -> dict[str, Any]:
    """The notebook's numbers for one model's frame scores, threshold at the dev EER.

    Args:
        scores: a scores table with ``dev`` and ``test`` rows (``split, label, attack_type``
            and ``score_col``).
        score_col: the score column.

    Returns:
        ``dev_eer``, ``threshold``, ``test_eer``, ``acer``, ``apcer`` (max over attack types),
        ``bpcer``, ``worst_type``, ``apcer_per_type``, ``tpr_at_fpr_1e-02``,
        ``tpr_at_fpr_1e-03``, ``n_test_bona_fide``, ``n_test_attacks`` and ``eer_per_type``
        (test EER of bona fide against each type).

    Raises:
        ValueError: no dev or test rows, a missing column, or a split with one class.
    """
    dev, test = _split(scores, "dev", score_col), _split(scores, "test", score_col)
    dev_eer, thr = eer(dev["label"].to_numpy(), dev[score_col].to_numpy())
    out = {"dev_eer": dev_eer, **_at_threshold(test, score_col, thr)}
    out["eer_per_type"] = eer_per_attack_type(test["label"], test[score_col], test["attack_type"])
    return out


def unseen_attack_report(scores: pd.DataFrame, attack_type: str,
                         score_col: str = "score") -> dict[str, Any]:
    """One leave-one-attack-type-out row: how a model that never saw ``attack_type`` meets it.

    The threshold is the EER threshold of dev **without** ``attack_type`` (bona fide and the
    types the model was trained on); the test holds bona fide and ``attack_type`` only, so
    ``apcer`` is that type's and ``test_eer`` its EER against bona fide.

    Returns:
        ``attack_type``, ``dev_eer`` (seen types), and the keys of :func:`mm_report` but
        ``eer_per_type``, on that test subset.

    Raises:
        ValueError: ``attack_type`` has no test attack, or as :func:`mm_report`.
    """
    dev, test = _split(scores, "dev", score_col), _split(scores, "test", score_col)
    dev = dev[(dev["label"] == 1) | (dev["attack_type"].astype(str) != attack_type)]
    test = test[(test["label"] == 1) | (test["attack_type"].astype(str) == attack_type)]
    if not (test["label"] == 0).any():
        raise ValueError(f"no test attack of type {attack_type!r}")
    dev_eer, thr = eer(dev["label"].to_numpy(), dev[score_col].to_numpy())
    return {"attack_type": attack_type, "dev_eer": dev_eer, **_at_threshold(test, score_col, thr)}


def paired_differences(scores: Mapping[str, pd.DataFrame], pairs: Sequence[tuple[str, str, str]],
                       subjects: Mapping[str, str] | None = None, n_boot: int = 1000,
                       seed: int = 0, level: float = 0.95,
                       score_col: str = "score") -> list[dict[str, Any]]:
    """Is model ``a``'s test EER lower than model ``b``'s beyond the luck of the test subjects?

    For every ``(family, a, b)`` of ``pairs``: a paired bootstrap of the two models' scores of
    the same test frames (as :func:`fas_lib.evaluation.metrics.paired_bootstrap_eer`), the resampled
    unit the **test subject** (``subjects``: video id -> subject): each replicate draws as many
    subjects as the test split has, with replacement, and scores both models on the same draw.
    Every model is scored once on each of the same resamples
    (:func:`fas_lib.evaluation.metrics.bootstrap_eers`), so every pair sees the same draws. With
    fewer than two test subjects (a smoke run) the unit is the video, and ``unit`` says so. The
    ACERs are each model's own (at its dev-EER threshold, :func:`mm_report`), their difference
    a point value without an interval.

    Args:
        scores: model name -> scores table (``dev`` and ``test`` rows).
        pairs: ``(family, a, b)``; a pair with a model missing from ``scores`` is skipped.
        subjects: video id -> subject of every test video (``None``: videos are the unit).
        n_boot, seed, level: the bootstrap's replicates, seed and interval coverage.
        score_col: the score column.

    Returns:
        One dict per pair: ``family``, ``a``, ``b``, ``unit``, ``n_clusters``, ``n_frames``,
        ``eer_a``, ``eer_b``, ``diff`` (``EER(a) - EER(b)``; negative: ``a`` is better),
        ``ci_low``, ``ci_high`` (the percentile interval of the replicates' differences),
        ``excludes_zero`` (the interval lies on one side of 0), ``p_a_better``, ``p_tie``,
        ``acer_a``, ``acer_b``, ``acer_diff``, ``n_boot``, ``level`` (rates in [0, 1]).

    Raises:
        ValueError: two models scored different test frames, or as
            :func:`fas_lib.evaluation.metrics.paired_bootstrap_eer`.
    """
    pairs = [(f, a, b) for f, a, b in pairs if a in scores and b in scores]
    names = list(dict.fromkeys(m for _, a, b in pairs for m in (a, b)))
    if not names:
        return []
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    key = ["video_id", "frame_idx"]
    info, matrix = align_scores([_split(scores[n], "test", score_col) for n in names], names,
                                key, score_col)
    vids = info["video_id"].astype(str)
    subj = vids.map(dict(subjects or {}))
    unit = "subject" if subj.notna().all() and subj.nunique() >= 2 else "video"
    clusters = (subj if unit == "subject" else vids).to_numpy()
    full, reps, _ = bootstrap_eers(info["label"].to_numpy(), matrix, clusters, n_boot, seed)
    col = {n: i for i, n in enumerate(names)}
    acer = {n: float(mm_report(scores[n], score_col)["acer"]) for n in names}
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    rows = []
    for family, a, b in pairs:
        d = reps[:, col[a]] - reps[:, col[b]]
        lo, hi = (float(v) for v in np.quantile(d, q))
        ea, eb = float(full[col[a]]), float(full[col[b]])
        rows.append({"family": family, "a": a, "b": b, "unit": unit,
                     "n_clusters": len(set(map(str, clusters))), "n_frames": len(info),
                     "eer_a": ea, "eer_b": eb, "diff": ea - eb, "ci_low": lo, "ci_high": hi,
                     "excludes_zero": bool(lo > 0 or hi < 0),
                     "p_a_better": float(np.mean(d < 0)), "p_tie": float(np.mean(d == 0)),
                     "acer_a": acer[a], "acer_b": acer[b], "acer_diff": acer[a] - acer[b],
                     "n_boot": int(n_boot), "level": float(level)})
    return rows
