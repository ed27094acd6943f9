"""How realistic is a face anti-spoofing dataset? Identity diversity, and what papers report.

**Identity diversity.** A real dataset's subjects are different people; SynthSpoof's are
re-coloured, re-shaped copies of a few source portraits. dlib's face-recognition network
(:mod:`fas_lib.models.face_recognition`, 128-d descriptors; dlib calls two faces the same
person below a Euclidean distance of :data:`DLIB_SAME_PERSON`) measures how far apart they are:

* :func:`sprite_chips`: one chip per synthetic subject, from its sprite (composited on grey);
* :func:`frame_chips`: chips of rendered live frames of a generated SynthSpoof (several per
  subject, across sessions and cameras; dlib's 5 points predicted in the generator's face box);
* :func:`cache_chips`: chips of the live frames of any crop cache (a real dataset's too), cut
  from a wide cached crop with the cache's own 5 points;
* :func:`descriptors`, then :func:`pair_distances` and :func:`identity_stats`: distances of
  different subjects (per subject pair, the median over their frame pairs) against those of
  frames of the same subject; :func:`plot_identity` draws both with the 0.6 line.

Chips are cut as dlib's ``get_face_chip(img, shape, size=150, padding=0.25)``.

**References** (:data:`REFERENCES`): what published work reports about real recapture cues,
numbers quoted from the papers (never measured here), each checked against the source named in
its ``checked`` field. The cue-strength measure on crops is :mod:`fas_lib.synthspoof.cues`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.geometry import (
    TEMPLATE_5,
    crop_matrix,
    dlib5_to_alignment_points,
    similarity_transform,
)
from fas_lib.metrics import eer

#: dlib's same-person threshold on the Euclidean distance of two descriptors (dlib.net,
#: ``face_recognition.py``: 99.38 % accuracy on LFW with it).
DLIB_SAME_PERSON: float = 0.6
#: Quantiles reported for every distance distribution.
QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
#: dlib's chip geometry.
CHIP_SIZE, CHIP_PADDING = 150, 0.25

#: Published findings about real recapture cues (reference numbers from the papers, rates in
#: [0, 1]; ``None`` where the number was not checked). Never mixed with measured numbers.
REFERENCES: dict[str, dict[str, Any]] = {
    "maatta2011": {
        "cite": "J. Määttä, A. Hadid, M. Pietikäinen, 'Face spoofing detection from single "
                "images using micro-texture analysis', IJCB 2011",
        "dataset": "NUAA Photograph Imposter Database",
        "cue": "micro-texture of printed photos: multi-scale LBP histograms + SVM",
        "reported": None,
        "checked": "title, venue and method (reference lists citing it)",
    },
    "chingovska2012": {
        "cite": "I. Chingovska, A. Anjos, S. Marcel, 'On the effectiveness of local binary "
                "patterns in face anti-spoofing', BIOSIG 2012",
        "dataset": "Replay-Attack (introduced there)",
        "cue": "grey-level LBP micro-texture of the face; 'moderate discriminability'",
        "reported": {"test_hter": 0.15},
        "checked": "abstract, infoscience.epfl.ch/record/192369 ('LBP, with 15% Half Total "
                   "Error Rate')",
    },
    "freitas_pereira2012": {
        "cite": "T. de Freitas Pereira, A. Anjos, J. M. De Martino, S. Marcel, 'LBP-TOP based "
                "countermeasure against face spoofing attacks', ACCV 2012 workshops",
        "dataset": "Replay-Attack",
        "cue": "space-time texture (LBP-TOP) instead of single-frame LBP",
        "reported": {"test_hter_lbp": 0.1516, "test_hter_lbp_top": 0.0760},
        "checked": "abstract, publications.idiap.ch/publications/show/2426",
    },
    "komulainen2013": {
        "cite": "J. Komulainen, A. Hadid, M. Pietikäinen, A. Anjos, S. Marcel, "
                "'Complementary countermeasures for detecting scenic face spoofing attacks', "
                "ICB 2013",
        "dataset": "Replay-Attack",
        "cue": "motion and texture fused at score level",
        "reported": {"test_hter_best_single": 0.112, "test_hter_fused": 0.051},
        "checked": "abstract",
    },
    "wen2015": {
        "cite": "D. Wen, H. Han, A. K. Jain, 'Face spoof detection with image distortion "
                "analysis', IEEE TIFS 10(4):746-761, 2015",
        "dataset": "Replay-Attack, CASIA-FASD, MSU MFSD (introduced there)",
        "cue": "image distortion: specular reflection, blurriness, chromatic moment, colour "
               "diversity; hard across databases and devices",
        "reported": None,
        "checked": "abstract and bibliographic record",
    },
    "boulkenafet2016": {
        "cite": "Z. Boulkenafet, J. Komulainen, A. Hadid, 'Face spoofing detection using colour "
                "texture analysis', IEEE TIFS 2016, doi:10.1109/TIFS.2016.2555286",
        "dataset": "CASIA-FASD, Replay-Attack, MSU MFSD",
        "cue": "colour texture: texture histograms of each band of luminance and chrominance "
               "(HSV, YCbCr); recaptures lack high-frequency information",
        "reported": None,
        "checked": "abstract and introduction",
    },
    "patel2016": {
        "cite": "K. Patel, H. Han, A. K. Jain, 'Secure face unlock: spoof detection on "
                "smartphones', IEEE TIFS 11(10):2268, 2016",
        "dataset": "MSU USSA (more than 1000 subjects), Replay-Attack, CASIA-FASD, MSU MFSD",
        "cue": "image distortion of recaptures: surface reflection, moire pattern, colour "
               "distortion, shape deformation",
        "reported": None,
        "checked": "abstract",
    },
}


def composite_on_grey(rgba: np.ndarray, grey: int = 128) -> np.ndarray:
    """An RGBA sprite over a uniform grey background, ``(H, W, 3)`` uint8 contiguous."""
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.ascontiguousarray((rgba[..., :3] * a + grey * (1 - a)).astype(np.uint8))


def chip_from_points(rgb: np.ndarray, points5: np.ndarray) -> np.ndarray:
    """dlib's ``get_face_chip(rgb, shape, 150, 0.25)`` for dlib's 5 points ``(5, 2)``."""
    import dlib

    pts = np.asarray(points5, dtype=np.float64)
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    shape = dlib.full_object_detection(
        dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
        dlib.points([dlib.point(int(round(x)), int(round(y))) for x, y in pts]))
    return dlib.get_face_chip(np.ascontiguousarray(rgb), shape, size=CHIP_SIZE,
                              padding=CHIP_PADDING)


def face_chip(rgb: np.ndarray, box: Sequence[float], predictor: Any) -> np.ndarray:
    """dlib's chip of the face in ``box`` (left, top, right, bottom), 5 points predicted there."""
    import dlib

    img = np.ascontiguousarray(rgb)
    shape = predictor(img, dlib.rectangle(*(int(round(v)) for v in box)))
    return dlib.get_face_chip(img, shape, size=CHIP_SIZE, padding=CHIP_PADDING)


def _predictor(predictor: Any) -> Any:
    if predictor is not None:
        return predictor
    from fas_lib.align import load_shape_predictor

    return load_shape_predictor("5")


def sprite_chips(subjects: Sequence[Any], predictor: Any = None,
                 variant: str = "open") -> tuple[np.ndarray, pd.DataFrame]:
    """One chip per subject from its sprite (:func:`fas_lib.synthspoof.make_subjects`).

    Returns:
        ``(N, 150, 150, 3)`` uint8 chips and a table with ``subject``, ``source``.
    """
    pred = _predictor(predictor)
    chips, rows = [], []
    for s in subjects:
        lm = np.asarray(s.landmarks[variant])
        box = (*lm.min(0), *lm.max(0))
        chips.append(face_chip(composite_on_grey(s.sprites[variant]), box, pred))
        rows.append({"subject": s.subject_id, "source": s.source})
    return np.stack(chips), pd.DataFrame(rows)


def _spread(rows: pd.DataFrame, k: int, rng: np.random.Generator) -> pd.DataFrame:
    """``k`` rows spread over the ``session`` values (round robin, shuffled within each)."""
    groups = [g.iloc[rng.permutation(len(g))] for _, g in rows.groupby("session", sort=True)]
    order = [g.iloc[i] for i in range(max(map(len, groups), default=0)) for g in groups
             if i < len(g)]
    return pd.DataFrame(order[:k])


def frame_chips(reader: Any, per_subject: int = 6, seed: int = 0,
                predictor: Any = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Chips of rendered live frames of a generated SynthSpoof, ``per_subject`` per subject.

    Each comes from another live video (spread over the sessions, so over cameras too), at a
    random frame; dlib's 5 points are predicted in the ground-truth face box.

    Args:
        reader: a :class:`~fas_lib.synthspoof.SynthSpoofReader`.
        per_subject: chips per subject (at most one per live video).
        seed: seed of the choice of videos and frames.
        predictor: dlib's 5-point predictor (``None``: loaded).

    Returns:
        ``(N, 150, 150, 3)`` uint8 chips and a table with ``subject``, ``video_id``,
        ``frame``, ``session``, ``camera``.
    """
    pred = _predictor(predictor)
    rng = np.random.default_rng(seed)
    live = reader.protocol[reader.protocol["label"] == 1]
    chips, rows = [], []
    for subject, vids in live.groupby("subject", sort=True):
        for _, r in _spread(vids, per_subject, rng).iterrows():
            frames = reader.read_frames(r["video_id"])
            t = int(rng.integers(len(frames)))
            box = reader.load_gt(r["video_id"])["face_box"][t]
            chips.append(face_chip(frames[t], box, pred))
            rows.append({"subject": subject, "video_id": r["video_id"], "frame": t,
                         "session": r.get("session", ""), "camera": r.get("camera", "")})
    return np.stack(chips), pd.DataFrame(rows)


def cache_chips(cache: Any, per_subject: int = 6, seed: int = 0, scale: float | None = None,
                splits: Sequence[str] = ("train", "dev", "test"),
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """Chips of the live frames of a crop cache (any dataset), ``per_subject`` per subject.

    The chip is cut from the cached crop at ``scale`` (default: the widest cached scale up to
    2.0, so that dlib's padding fits) with the cache's 5 points mapped into the crop (the
    cache's alignment, :meth:`fas_lib.align.FaceAligner.alignment_matrix`).

    Returns:
        Chips and a table with ``subject``, ``video_id``, ``frame_idx``, ``split`` and the
        ``session`` / ``camera`` columns the cache has.
    """
    if scale is None:
        scale = max([s for s in cache.scales if s <= 2.0] or [min(cache.scales)])
    j = cache.scales.index(float(scale))
    rng = np.random.default_rng(seed)
    chips, rows = [], []
    for split in splits:
        frames = cache.frames(split)
        live = frames[frames["label"] == 1]
        if "session" not in live:
            live = live.assign(session="")
        crops, lms = cache.crops(split), cache.landmarks(split)
        side = crops.shape[-2]
        for _, f in live.groupby("subject", sort=True):
            pick = _spread(f.drop_duplicates("video_id"), per_subject, rng)
            for _, r in pick.iterrows():
                i = int(r["index"])
                m = similarity_transform(dlib5_to_alignment_points(lms[i]), TEMPLATE_5)
                m = crop_matrix(m, float(scale), 1.0, side)
                pts = np.asarray(lms[i], np.float64) @ m[:, :2].T + m[:, 2]
                chips.append(chip_from_points(np.asarray(crops[i, j]), pts))
                rows.append({k: r[k] for k in ("subject", "video_id", "frame_idx", "split",
                                               "session", "camera") if k in r})
    return np.stack(chips), pd.DataFrame(rows)


def descriptors(chips: np.ndarray, net: Any = None, batch: int = 64) -> np.ndarray:
    """dlib's 128-d descriptors of chips, ``(N, 128)`` float64 (PyTorch port, CPU)."""
    from fas_lib.models.face_recognition import face_descriptors, load_face_recognition_net

    net = load_face_recognition_net() if net is None else net
    return np.concatenate([face_descriptors(net, chips[k:k + batch])
                           for k in range(0, len(chips), batch)])


def pair_distances(desc: np.ndarray, meta: pd.DataFrame) -> dict[str, Any]:
    """Distances between descriptors, grouped.

    Returns:
        ``subjects`` (sorted ids), ``subject_matrix`` (median distance over the frame pairs
        of each two subjects; the diagonal is NaN), ``different`` (its upper triangle, one
        value per subject pair), ``same`` (frame pairs of one subject), ``same_cross_session``
        (those from two sessions; empty without a ``session`` column), ``frame_different``
        (frame pairs of two subjects), ``same_source`` (per subject pair, whether both come
        from one source portrait; ``None`` without a ``source`` column).
    """
    d = np.sqrt(np.maximum(((desc[:, None, :] - desc[None, :, :]) ** 2).sum(-1), 0.0))
    subj = meta["subject"].astype(str).to_numpy()
    names = sorted(set(subj))
    pos = {s: np.flatnonzero(subj == s) for s in names}
    n = len(names)
    mat = np.full((n, n), np.nan)
    for a in range(n):
        for b in range(a + 1, n):
            mat[a, b] = mat[b, a] = float(np.median(d[np.ix_(pos[names[a]], pos[names[b]])]))
    iu = np.triu_indices(len(desc), 1)
    same = subj[iu[0]] == subj[iu[1]]
    sess = meta["session"].astype(str).to_numpy() if "session" in meta else None
    cross = same & (sess[iu[0]] != sess[iu[1]]) if sess is not None else np.zeros_like(same)
    su = np.triu_indices(n, 1)
    src = None
    if "source" in meta:
        by = meta.drop_duplicates("subject").set_index("subject")["source"].astype(str)
        src = by.loc[names].to_numpy()
    return {
        "subjects": names, "subject_matrix": mat, "different": mat[su],
        "same": d[iu][same], "same_cross_session": d[iu][cross],
        "frame_different": d[iu][~same],
        "same_source": None if src is None else src[su[0]] == src[su[1]],
    }


def _quantiles(x: np.ndarray) -> dict[str, float] | None:
    if len(x) == 0:
        return None
    return {f"q{int(q * 100):02d}": float(np.quantile(x, q)) for q in QUANTILES}


def identity_stats(desc: np.ndarray, meta: pd.DataFrame,
                   threshold: float = DLIB_SAME_PERSON) -> dict[str, Any]:
    """Identity diversity of descriptors with their ``meta`` (``subject`` [, ``session``,
    ``source``]).

    Returns:
        ``n_subjects``, ``n_descriptors``; ``different`` (subject pairs: quantiles,
        ``n_pairs``, ``n_distinct`` and ``share_distinct`` at ``distance >= threshold``,
        ``n_subjects_with_twin``: subjects with another subject below it); with several
        descriptors per subject, ``same`` and ``same_cross_session`` (quantiles, pairs, share
        at or above the threshold: "not the same person" by dlib's rule), the share of
        different-subject frame pairs below it (``false_match_share``) and the verification
        EER of same against different frame pairs; with ``source``, ``by_source`` (subject
        pairs from one source portrait vs from two).
    """
    p = pair_distances(desc, meta)
    diff, mat = p["different"], p["subject_matrix"]
    twins = (np.nan_to_num(mat, nan=np.inf) < threshold).any(1)
    out: dict[str, Any] = {
        "threshold": threshold, "n_subjects": len(p["subjects"]), "n_descriptors": len(desc),
        "different": {**(_quantiles(diff) or {}), "n_pairs": int(len(diff)),
                      "n_distinct": int((diff >= threshold).sum()),
                      "share_distinct": float((diff >= threshold).mean()) if len(diff) else None,
                      "n_subjects_with_twin": int(twins.sum())},
    }
    for key in ("same", "same_cross_session"):
        x = p[key]
        if len(x):
            out[key] = {**_quantiles(x), "n_pairs": int(len(x)),
                        "share_not_same_person": float((x >= threshold).mean())}
    fd = p["frame_different"]
    if len(p["same"]) and len(fd):
        y = np.r_[np.ones(len(p["same"])), np.zeros(len(fd))]
        out["false_match_share"] = float((fd < threshold).mean())
        out["verification_eer"] = float(eer(y, -np.r_[p["same"], fd])[0])
    if p["same_source"] is not None:
        out["by_source"] = {}
        for name, m in (("same_source", p["same_source"]), ("cross_source", ~p["same_source"])):
            x = diff[m]
            out["by_source"][name] = {**(_quantiles(x) or {}), "n_pairs": int(len(x)),
                                      "share_distinct": float((x >= threshold).mean())
                                      if len(x) else None}
    return out


def plot_identity(distances: dict[str, np.ndarray], threshold: float = DLIB_SAME_PERSON,
                  ax: Any = None, title: str = "") -> Any:
    """Histograms of distance groups (e.g. ``{"different subjects": ..., "same subject":
    ...}``) with dlib's threshold; returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    bins = np.linspace(0, max(1.2, *(float(np.max(v)) for v in distances.values() if len(v))),
                       41)
    for label, v in distances.items():
        if len(v):
            ax.hist(v, bins=bins, alpha=0.55, density=True, label=f"{label} ({len(v)})")
    ax.axvline(threshold, color="red", ls="--", lw=1.5,
               label=f"dlib's same-person threshold {threshold}")
    ax.set_xlabel("Euclidean distance of dlib face descriptors")
    ax.set_ylabel("density")
    ax.legend(fontsize=7)
    ax.set_title(title or "Are the subjects different people?", fontsize=9)
    return ax.figure
