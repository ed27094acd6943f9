"""How far Table III's differences are luck, and whether a group's scales disagree at all.

* :func:`significance`: a paired bootstrap over test subjects of two fusions' EERs, per group;
* :func:`seed_spread`: Table III for one scale group, once per training seed;
* :func:`scale_agreement`: whether a group's single-scale networks make the same mistakes, on
  training and on test data (a fusion can only help where they disagree);
* :func:`mirror_sensitivity`: how much a trained network depends on left and right (the test
  split scored as is and mirrored; a recapture's cues do not change under a mirror);
* :func:`border_use`: whether a single-scale network rejects the attacks whose crop shows the
  medium's border (SynthSpoof's ground truth says which do) more often than those whose crop
  does not.

They read the run folders of :func:`fas_lib.studies.tables.table_ii` /
:func:`fas_lib.studies.tables.table_iii` (:mod:`fas_lib.training.runs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fas_lib.cache.reader import CropCache
from fas_lib.evaluation.metrics import eer, errors_at, paired_bootstrap_eer
from fas_lib.studies.tables import FUSIONS_III, SCALE_GROUPS, group_label, table_iii
from fas_lib.training.config import cache_splits, scale_indices
from fas_lib.training.runs import load_run, read_results, read_run_scores
from fas_lib.training.scoring import score_split

__all__ = ["border_use", "mirror_sensitivity", "scale_agreement", "seed_spread",
           "significance"]


def _test_scores(run_dir: str | Path) -> pd.DataFrame:
    return read_run_scores(run_dir, "test").set_index(["video_id", "frame_idx"])


def significance(
    table3: pd.DataFrame,
    cache: CropCache,
    a: str = "msfans",
    b: str = "best_single",
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per group of Table III: is ``a``'s frame-level test EER lower than ``b``'s beyond luck?

    A paired bootstrap over **test subjects**
    (:func:`fas_lib.evaluation.metrics.paired_bootstrap_eer`): both runs' scores of the same test
    frames, subjects resampled with replacement. With 16 test subjects a difference of one EER point
    is often within the interval.

    Args:
        table3: the result of :func:`.table_iii` (its ``run_dir`` column is read).
        cache: the crop cache the runs were scored on (for the subject of each frame).
        a, b: two fusions of ``table3`` (``"best_single"`` is the run picked for the group).
        n_boot, seed: bootstrap replicates and seed.

    Returns:
        One row per group: ``group``, ``a``, ``b``, ``unit`` (``"subject"``, or ``"video"``
        when the test split has a single subject, as in SMOKE runs) and the bootstrap's fields
        (``diff`` = EER(a) - EER(b), ``ci_low``, ``ci_high``, ``p_a_better``, ...; rates in
        [0, 1]).

    Raises:
        ValueError: a fusion missing from ``table3``, or runs that scored different frames.
    """
    for f in (a, b):
        if f not in set(table3["fusion"]):
            raise ValueError(f"table3 has no {f!r} rows (it has {sorted(set(table3.fusion))})")
    fr = cache.frames("test")
    unit = "subject" if fr["subject"].nunique() >= 2 else "video"
    cluster_of = dict(zip(fr["video_id"].astype(str), fr["subject" if unit == "subject"
                                                         else "video_id"].astype(str)))
    rows = []
    for group in dict.fromkeys(table3["group"]):
        sub = table3[table3["group"] == group].set_index("fusion")
        sa, sb = _test_scores(sub.loc[a, "run_dir"]), _test_scores(sub.loc[b, "run_dir"])
        if len(sa) != len(sb) or not sa.index.sort_values().equals(sb.index.sort_values()):
            raise ValueError(f"{group}: the {a} and {b} runs scored different test frames")
        sb = sb.loc[sa.index]
        clusters = [cluster_of[str(v)] for v in sa.index.get_level_values("video_id")]
        res = paired_bootstrap_eer(sa["label"].to_numpy(), sa["score"].to_numpy(),
                                   sb["score"].to_numpy(), clusters, n_boot=n_boot, seed=seed)
        rows.append({"group": group, "a": a, "b": b, "unit": unit, **res})
    return pd.DataFrame(rows)


def seed_spread(
    cache: CropCache,
    group: Sequence[float] = (0.9, 1.0, 1.1),
    seeds: Sequence[int] = (0, 1, 2),
    backbone: str = "cnn_s",
    preset: str = "cpu",
    out_root: str | Path = "runs",
    progress: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Table III for one scale group, once per training seed: how much of a fusion's lead is noise.

    Every seed retrains the group's three single-scale runs ("best single" is re-picked per
    seed, on test, as in the paper) and the Average, Concat and MS-FANS runs; finished runs
    are read back, so seed 0 reuses notebook 06's runs.

    Args:
        cache: opened crop cache.
        group: the scale group.
        seeds: training seeds (at least two).
        backbone, preset, out_root, progress, ``**overrides``: as in :func:`.table_iii`.

    Returns:
        A dict with ``group``, ``seeds``, ``test_eer`` (``{fusion: {seed: eer}}``),
        ``best_scale`` (``{seed: scale}``), ``stats`` (``{fusion: {"mean", "std", "min",
        "max"}}``) and ``msfans_beats_best_single`` (``{seed: bool}``); rates in [0, 1],
        ``std`` is the sample standard deviation.
    """
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seed_spread needs at least two distinct seeds, got {seeds}")
    group = tuple(float(s) for s in group)
    eer: dict[str, dict[str, float]] = {f: {} for f in FUSIONS_III}
    best_scale: dict[str, float] = {}
    for seed in seeds:
        t3 = table_iii(cache, groups=[group], backbone=backbone, preset=preset, seed=seed,
                       out_root=out_root, progress=progress, **overrides)
        for row in t3.itertuples():
            eer[row.fusion][str(seed)] = float(row.test_eer)
            if row.fusion == "best_single":
                best_scale[str(seed)] = float(row.best_scale)
    stats = {}
    for f, by_seed in eer.items():
        v = np.array(list(by_seed.values()), dtype=float)
        stats[f] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)),
                    "min": float(v.min()), "max": float(v.max())}
    return {
        "group": list(group), "seeds": seeds, "backbone": backbone, "preset": preset,
        "test_eer": eer, "best_scale": best_scale, "stats": stats,
        "msfans_beats_best_single": {s: eer["msfans"][s] < eer["best_single"][s]
                                     for s in eer["msfans"]},
    }


def scale_agreement(
    table2: pd.DataFrame,
    cache: CropCache,
    groups: Sequence[Sequence[float]] = SCALE_GROUPS,
    splits: Sequence[str] = ("train", "test"),
    progress: bool = True,
) -> pd.DataFrame:
    """Do a group's single-scale networks make the same mistakes, on training and on test data?

    A fusion can only help where the scales disagree: where one scale classifies a frame
    correctly and another does not. Each single-scale run of ``table2`` is scored on every
    split of ``splits`` (centre crops, eval mode; ``train`` is re-scored from the checkpoint,
    the others are read from the run's scores), and a frame counts as a mistake of that scale
    when it falls on the wrong side of the split's own EER threshold
    (:func:`fas_lib.evaluation.metrics.eer`, :func:`fas_lib.evaluation.metrics.errors_at`). The
    training split shows what an end-to-end fusion learns from: when every scale separates it
    already, the fusion head sees no disagreement to learn which scale to trust.

    Args:
        table2: the result of :func:`.table_ii` (its ``scale`` and ``run_dir`` columns).
        cache: the crop cache the runs were trained on.
        groups: scale groups, each of scales present in ``table2``.
        splits: splits of ``cache`` to measure.
        progress: tqdm bars while re-scoring.

    Returns:
        One row per (group, split): ``group``, ``split``, ``n_frames``, ``eer`` and ``errors``
        (lists, one entry per scale of the group), ``any_wrong`` (frames some scale gets wrong),
        ``all_wrong`` (frames every scale gets wrong) and ``disagree`` (= ``any_wrong -
        all_wrong``: frames some scale gets right and another wrong).

    Raises:
        ValueError: a group scale missing from ``table2``, or an unknown split.
    """
    have = cache_splits(cache)
    bad = [s for s in splits if s not in have]
    if bad:
        raise ValueError(f"unknown split(s) {bad}; the cache has {sorted(have)}")
    runs = {round(float(r.scale), 6): r.run_dir for r in table2.itertuples()}
    groups = [tuple(float(s) for s in g) for g in groups]
    missing = sorted({s for g in groups for s in g if round(s, 6) not in runs})
    if missing:
        raise ValueError(f"table2 has no single-scale run for scale(s) {missing}")
    wrong: dict[tuple[float, str], np.ndarray] = {}
    rates: dict[tuple[float, str], float] = {}
    for scale in sorted({s for g in groups for s in g}):
        for split, (w, rate) in _mistakes(runs[round(scale, 6)], cache, splits,
                                          progress).items():
            wrong[scale, split], rates[scale, split] = w, rate
    return pd.DataFrame([_agreement_row(g, split, wrong, rates)
                         for g in groups for split in splits])


def _mistakes(run: str | Path, cache: CropCache, splits: Sequence[str],
              progress: bool) -> dict[str, tuple[np.ndarray, float]]:
    """Per split: which frames one run gets wrong at the split's own EER threshold, and the EER.

    ``train`` is re-scored from the checkpoint; other splits are read from ``scores.csv``.
    """
    saved = read_run_scores(run) if any(sp != "train" for sp in splits) else None
    out = {}
    for split in splits:
        if split == "train":
            model, cfg = load_run(run)
            scores = score_split(model, cache, split, scale_indices(cache, cfg.scales),
                                 cfg.scales, cfg.eval_batch_size, progress=progress)
        else:
            scores = saved[saved["split"] == split]
        y, sc = scores["label"].to_numpy(), scores["score"].to_numpy()
        rate, threshold = eer(y, sc)
        out[split] = (errors_at(y, sc, threshold), rate)
    return out


def _agreement_row(g: tuple[float, ...], split: str,
                   wrong: dict[tuple[float, str], np.ndarray],
                   rates: dict[tuple[float, str], float]) -> dict[str, Any]:
    w = np.stack([wrong[s, split] for s in g])
    any_wrong, all_wrong = int(w.any(axis=0).sum()), int(w.all(axis=0).sum())
    return {"group": group_label(g), "split": split, "n_frames": int(w.shape[1]),
            "eer": [rates[s, split] for s in g],
            "errors": [int(n) for n in w.sum(axis=1)],
            "any_wrong": any_wrong, "all_wrong": all_wrong,
            "disagree": any_wrong - all_wrong}


class _Mirrored(torch.nn.Module):
    """``model`` reading its input mirrored left to right (the width axis)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Any:
        return self.model(x.flip(-1))


def mirror_sensitivity(run: str | Path, cache: CropCache, split: str = "test",
                       batch_size: int = 64) -> dict[str, Any]:
    """A finished run's ``split`` scored on its centre crops as they are and mirrored left to
    right (:func:`fas_lib.training.scoring.score_split` both times): the EER of each and how far a
    frame's score moves.

    Nothing a recapture leaves (halftone, pixel grid, colour, border) depends on left and
    right, so on realistic data the two EERs should be close; a large change says the network
    learned something orientation-bound (a light that always comes from one side, a few
    identities seen one way round).

    Returns:
        ``eer`` and ``eer_mirrored`` of ``split``, ``mean_abs_change`` of the bona fide score,
        ``n_frames``, ``scales``.
    """
    model, cfg = load_run(run)
    idx = scale_indices(cache, cfg.scales)
    plain, mirrored = (score_split(m, cache, split, idx, cfg.scales, batch_size, progress=False)
                       for m in (model, _Mirrored(model)))
    y, p, m = plain["label"].to_numpy(), plain["score"].to_numpy(), mirrored["score"].to_numpy()
    return {"eer": float(eer(y, p)[0]), "eer_mirrored": float(eer(y, m)[0]),
            "mean_abs_change": float(np.abs(p - m).mean()), "n_frames": int(len(y)),
            "scales": [float(v) for v in cfg.scales]}


def border_use(run: str | Path, load_gt: Callable[[str], dict], window: float = 1.0,
               box: str = "aligned") -> dict[str, Any]:
    """APCER of a finished single-scale run on the test attacks whose crop shows the medium's
    border and on those whose crop does not, at the run's dev-EER threshold.

    A network that learned the border (a print's edge, a screen's bezel, the fingers that hold
    it) rejects nearly every attack whose crop shows one; on real data the wide scales win
    because of it. The border is decided from the generator's ground truth
    (:func:`fas_lib.synthspoof.gt.crop_shows_border`) for the part of the crop the network
    sees: ``scale * window`` of the face box (``window``: the scored centre window's share of
    the cached crop side, 112 / 128 in the course).

    Args:
        run: a finished run folder with one scale (:func:`fas_lib.studies.tables.table_ii`).
        load_gt: ``video_id -> ground truth``
            (:meth:`fas_lib.synthspoof.SynthSpoofReader.load_gt`).
        window: the seen share of the cached crop side.
        box: the box the scale is relative to (``"aligned"``: the crop cache's).

    Returns:
        ``scale``, ``threshold``, ``n_border`` / ``n_no_border`` test attack frames and
        ``apcer_border`` / ``apcer_no_border`` (NaN without frames).
    """
    from fas_lib.synthspoof.gt import crop_shows_border

    scales = read_results(run)["config"]["scales"]
    if len(scales) != 1:
        raise ValueError(f"{run} has scales {scales}; border_use needs a single-scale run")
    dev, test = read_run_scores(run, "dev"), read_run_scores(run, "test")
    _, threshold = eer(dev["label"].to_numpy(), dev["score"].to_numpy())
    attacks = test[test["label"] == 0]
    gts = {v: load_gt(v) for v in attacks["video_id"].unique()}
    shows = np.array([crop_shows_border(gts[v], int(f), float(scales[0]) * window, box)
                      for v, f in zip(attacks["video_id"], attacks["frame_idx"], strict=True)],
                     dtype=bool)
    accepted = attacks["score"].to_numpy() >= threshold
    border, rest = accepted[shows], accepted[~shows]
    return {"scale": float(scales[0]), "threshold": float(threshold),
            "n_border": int(shows.sum()), "n_no_border": int((~shows).sum()),
            "apcer_border": float(border.mean()) if len(border) else float("nan"),
            "apcer_no_border": float(rest.mean()) if len(rest) else float("nan")}
