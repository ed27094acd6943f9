"""How realistic is a face anti-spoofing dataset? Identity diversity, and what papers report.

**Identity diversity.** A real dataset's subjects are different people; SynthSpoof's are
re-coloured, re-shaped copies of a few source portraits. dlib's face-recognition network
(:mod:`fas_lib.models.pretrained.face_recognition`, 128-d descriptors; dlib calls two faces the same
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

**Does the CNN find the task too easy?** :func:`train_errors` scores a finished run's
training split with its model and counts the frames it gets wrong at its own threshold
(:func:`train_errors_by_scale` for Table II's single-scale runs).

**References** (:data:`REFERENCES`, from :mod:`fas_lib.studies.literature`): what
published work reports about real recapture cues, numbers quoted from the papers (never
measured here), each checked against the source named in its ``checked`` field. The
cue-strength measure on crops is :mod:`fas_lib.studies.cues`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fas_lib.evaluation.metrics import eer, errors_at
from fas_lib.preprocess.geometry import (
    TEMPLATE_5,
    crop_matrix,
    dlib5_to_alignment_points,
    similarity_transform,
)
from fas_lib.studies.literature import REFERENCES

if TYPE_CHECKING:
    from fas_lib.cache.reader import CropCache

__all__ = [
    "CHIP_PADDING", "CHIP_SIZE", "DLIB_SAME_PERSON", "QUANTILES", "REFERENCES", "cache_chips",
    "chip_from_points", "composite_on_grey", "descriptors", "face_chip", "frame_chips",
    "identity_stats", "pair_distances", "plot_identity", "sprite_chips", "synthspoof_identity",
    "train_errors", "train_errors_by_scale",
]

#: dlib's same-person threshold on the Euclidean distance of two descriptors (dlib.net,
#: ``face_recognition.py``: 99.38 % accuracy on LFW with it).
DLIB_SAME_PERSON: float = 0.6
#: Quantiles reported for every distance distribution.
QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
#: dlib's chip geometry.
CHIP_SIZE, CHIP_PADDING = 150, 0.25


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
    from fas_lib.preprocess.align import load_shape_predictor

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
    cache's alignment, :meth:`fas_lib.preprocess.align.FaceAligner.alignment_matrix`).

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
    from fas_lib.models.pretrained.face_recognition import (
        face_descriptors,
        load_face_recognition_net,
    )

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


def synthspoof_identity(reader: Any, per_subject: int = 6, seed: int = 0, net: Any = None,
                        predictor: Any = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Identity diversity of a generated SynthSpoof, from its subjects' sprites and from
    rendered live frames (:func:`sprite_chips`, :func:`frame_chips`).

    The subjects are rebuilt from the dataset's manifest
    (:func:`~fas_lib.synthspoof.make_subjects` with its ``n_subjects``, ``seed`` and portraits).

    Returns:
        ``({"sprites": ..., "frames": ..., "sprite_to_frames": ...}, distances)``: the
        :func:`identity_stats` of both (with each subject's source portrait), the quantiles
        of the distance of every frame to its own subject's sprite, and the distance groups
        for :func:`plot_identity`.
    """
    from fas_lib.synthspoof.sources import subject_sources, user_sources
    from fas_lib.synthspoof.subjects import make_subjects

    p = reader.manifest["params"]
    subjects = make_subjects(int(p["n_subjects"]), int(p["seed"]),
                             subject_sources(user_sources(p.get("user_faces_dir"))[0]))
    pred = _predictor(predictor)
    s_chips, s_meta = sprite_chips(subjects, pred)
    f_chips, f_meta = frame_chips(reader, per_subject, seed, pred)
    f_meta["source"] = f_meta["subject"].map(s_meta.set_index("subject")["source"])
    d = descriptors(np.concatenate([s_chips, f_chips]), net)
    ds, df = d[:len(s_chips)], d[len(s_chips):]
    own = ds[s_meta.reset_index().set_index("subject").loc[f_meta["subject"], "index"]]
    to_sprite = np.linalg.norm(df - own, axis=1)
    frames = pair_distances(df, f_meta)
    stats = {"sprites": identity_stats(ds, s_meta), "frames": identity_stats(df, f_meta),
             "sprite_to_frames": {**_quantiles(to_sprite), "n": int(len(to_sprite))}}
    return stats, {"different subjects (median over frame pairs)": frames["different"],
                   "same subject, two frames": frames["same"],
                   "different subjects, sprites": pair_distances(ds, s_meta)["different"]}


def train_errors(run: str | Path, cache: CropCache | None = None, batch_size: int = 64,
                 progress: bool = False) -> dict[str, Any]:
    """How many training frames a finished CNN run gets wrong at its own threshold.

    Run folders keep the dev and test scores only (``scores.csv``), so the training split is
    scored here with the run's model (:func:`fas_lib.training.runs.load_run`, centre crops as at
    test time). The threshold is the run's: its dev EER threshold, or the test EER threshold of a
    protocol without dev (``threshold_split`` says which).

    Args:
        run: a run folder written by :func:`fas_lib.training.frames.run_experiment`.
        cache: the crop cache it was trained on (``None``: the one its ``results.json``
            names, or else the one its config names).
        batch_size: scoring batch size.
        progress: tqdm bar while scoring.

    Returns:
        ``scales``, ``n_train``, ``n_wrong``, ``n_wrong_live``, ``n_wrong_attack``,
        ``share_wrong``, ``threshold``, ``threshold_split``, ``train_eer``.

    Raises:
        FileNotFoundError: ``run`` holds no finished run.
    """
    from fas_lib.training.config import open_experiment_cache, scale_indices
    from fas_lib.training.runs import load_run, read_results
    from fas_lib.training.scoring import score_split
    res = read_results(run)
    if res is None or "metrics" not in res:
        raise FileNotFoundError(f"{run} holds no finished run (no results.json with metrics)")
    model, cfg = load_run(run)
    split = res["metrics"].get("threshold_split", "dev")
    frame = res["metrics"]["frame"]
    thr = float(frame["dev_threshold"] if split == "dev" else frame["test_eer_threshold"])
    if cache is None:  # the cache it was trained on, else the one its config names
        from fas_lib.cache.reader import open_cache

        used = str(res.get("data", {}).get("cache") or "")
        cache = (open_cache(used) if used and (Path(used) / "manifest.json").is_file()
                 else open_experiment_cache(cfg, progress=progress))
    idx = scale_indices(cache, cfg.scales)
    table = score_split(model, cache, "train", idx, cfg.scales, batch_size, "cpu", progress)
    y, s = table["label"].to_numpy(), table["score"].to_numpy()
    wrong = errors_at(y, s, thr)
    return {
        "scales": [float(v) for v in cfg.scales], "n_train": int(len(y)),
        "n_wrong": int(wrong.sum()), "n_wrong_live": int(wrong[y == 1].sum()),
        "n_wrong_attack": int(wrong[y == 0].sum()), "share_wrong": float(wrong.mean()),
        "threshold": thr, "threshold_split": split,
        "train_eer": float(eer(y, s)[0]) if len(np.unique(y)) > 1 else None,
    }


def train_errors_by_scale(runs: Sequence[str | Path], cache: CropCache | None = None,
                          progress: bool = False) -> dict[float, dict[str, Any]]:
    """:func:`train_errors` of single-scale runs (e.g. Table II's ``run_dir`` column), keyed
    by their scale; runs over several scales are skipped."""
    out = {}
    for run in runs:
        r = train_errors(run, cache, progress=progress)
        if len(r["scales"]) == 1:
            out[r["scales"][0]] = r
    return dict(sorted(out.items()))
