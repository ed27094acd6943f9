"""One LBP + SVM run on a crop cache, for :func:`fas_lib.studies.tables.lbp_baseline`.

:func:`crop_features` describes the centre crops of one cached scale with
:func:`fas_lib.baselines.lbp.extract_lbp`; :func:`lbp_run` fits
:class:`fas_lib.baselines.lbp.LBPSVM` on ``train``, scores the other splits and writes the run
folder (``scores.csv``, ``results.json``); :func:`run_options` checks the texture and normalisation
options and keeps, for the run's config, those that differ from :data:`LBP_OPTION_DEFAULTS`, so that
a run with the defaults has the same config (and folder name) as before these options existed.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.baselines.lbp import LBPSVM, extract_lbp, train_lbp_svm
from fas_lib.cache.reader import CropCache
from fas_lib.cache.views import ProtocolView
from fas_lib.evaluation.scores import evaluate_scores, scores_table
from fas_lib.training.runs import SCORES, write_run

__all__ = ["LBP_OPTION_DEFAULTS", "crop_features", "lbp_run", "run_options"]


#: Defaults of the texture and normalisation options of
#: :func:`fas_lib.studies.tables.lbp_baseline`, as JSON values; a run records in its config (and
#: so its folder name) only the ones it changes.
LBP_OPTION_DEFAULTS: dict[str, Any] = dict(P=8, R=[1.0], method="nri_uniform", grid=[1, 1],
                                           texture_size=None, normalise="auto")


def run_options(features: dict[str, Any], normalise: str | None, kernel: str,
                size: int) -> dict[str, Any]:
    """The options of an LBP run that differ from :data:`LBP_OPTION_DEFAULTS` (JSON values).

    Checked first, so that bad settings fail before any feature is computed.

    Args:
        features: :func:`fas_lib.baselines.lbp.extract_lbp` options (``color_space``, ``P``, ``R``,
            ``method``, ``grid``, ``texture_size``).
        normalise, kernel: :class:`fas_lib.baselines.lbp.LBPSVM` settings.
        size: side of the centre crop.
    """
    LBPSVM(kernel=kernel, normalise=normalise)
    extract_lbp(np.zeros((0, size, size, 3), np.uint8), **features)  # no crop: checks only
    R = features["R"]
    given = dict(P=int(features["P"]),
                 R=[float(r) for r in (R if isinstance(R, Sequence) else [R])],
                 method=features["method"], grid=[int(g) for g in features["grid"]],
                 texture_size=features["texture_size"], normalise=normalise)
    return {k: v for k, v in given.items() if v != LBP_OPTION_DEFAULTS[k]}


#: Features of whole splits of the caches this process has described, per cache object (gone
#: with it): ``{cache: {(split, scale position, options, size): (N, D) features}}``.
_SPLIT_FEATURES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], np.ndarray]] = (
    weakref.WeakKeyDictionary())


def crop_features(cache: CropCache, split: str, index: int, options: dict[str, Any],
                  size: int, workers: int, progress: bool) -> np.ndarray:
    """LBP features of the centre ``size`` x ``size`` crops of one cached scale of a split.

    The features of a crop do not depend on the others, so they are computed once per cache,
    split, scale and options in this process and kept while the cache object lives: a shift
    protocol's view (:class:`fas_lib.cache.views.ProtocolView`) takes its rows of its base
    cache's features instead of describing the same crops again (notebook 07 fits the LBP
    recipes under six protocols and folds on one cache).

    Args:
        cache: opened crop cache.
        split: ``"train"``, ``"dev"`` or ``"test"``.
        index: position of the scale in ``cache.scales``.
        options: :func:`fas_lib.baselines.lbp.extract_lbp` options (colour space, grid, ...).
        size: side of the centre crop.
        workers, progress: as in :func:`fas_lib.baselines.lbp.extract_lbp`.

    Returns:
        ``(N, D)`` float32 features, rows in the split's table order.
    """
    if isinstance(cache, ProtocolView):
        whole = crop_features(cache.base, split, index, options, size, workers, progress)
        return whole[cache.rows(split)]
    try:
        memo = _SPLIT_FEATURES.setdefault(cache, {})
    except TypeError:  # an object that cannot be weakly referenced: nothing is kept
        memo = {}
    key = (split, int(index), json.dumps(options, sort_keys=True, default=str), int(size))
    if key not in memo:
        memo[key] = _describe(cache, split, index, options, size, workers, progress)
    return memo[key]


def _describe(cache: CropCache, split: str, index: int, options: dict[str, Any],
              size: int, workers: int, progress: bool) -> np.ndarray:
    """:func:`crop_features` computed: the split's crops in chunks of 512."""
    crops = cache.crops(split)
    n, side = crops.shape[0], crops.shape[2]
    o = (side - size) // 2
    chunk = 512
    parts = []
    for i in range(0, n, chunk):
        c = np.ascontiguousarray(crops[i:i + chunk, index, o:o + size, o:o + size])
        parts.append(extract_lbp(c, workers=workers, progress=progress, **options))
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def lbp_run(cache: CropCache, name: str, ids: list[int], splits: list[str],
            spec: dict[str, Any], features: dict[str, Any], workers: int,
            d: Path) -> dict[str, Any]:
    """Fit and score one LBP + SVM run; write its run folder ``d``.

    Args:
        cache: opened crop cache.
        name: the run's scale label (``"1.1"`` or ``"[1.1,1.2]"``).
        ids: positions of its scales in the cache; their histograms are concatenated.
        splits: the cache's splits; the SVM fits ``train`` and scores the others.
        spec: the run's config (``results.json``): ``size``, ``seed``, ``kernel``, ``C``, the
            :func:`run_options` and ``scales``.
        features: :func:`fas_lib.baselines.lbp.extract_lbp` options.
        workers: LBP worker processes.
        d: the run folder.

    Returns:
        The results (as written to ``results.json``).
    """
    size, seed = spec["size"], spec["seed"]
    t0 = time.perf_counter()
    x = {sp: np.concatenate([crop_features(cache, sp, i, features, size, workers, False)
                             for i in ids], axis=1) for sp in splits}  # each computed once
    t_feat = time.perf_counter() - t0
    y_train = cache.frames("train")["label"].to_numpy().astype(int)
    svm = train_lbp_svm(x["train"], y_train, seed=seed, kernel=spec["kernel"], C=spec["C"],
                        normalise=spec.get("normalise", LBP_OPTION_DEFAULTS["normalise"]))
    scores = _scores(cache, splits, svm, x)
    res = {"complete": True, "name": f"lbp-{spec['color_space']}-{name}", "config": spec,
           "metrics": evaluate_scores(scores),
           "timing": {"train_seconds": time.perf_counter() - t0,
                      "feature_seconds": t_feat, "train_samples_per_s": None},
           "scores_csv": SCORES}
    write_run(d, res, scores)
    return res


def _scores(cache: CropCache, splits: list[str], svm: LBPSVM,
            x: dict[str, np.ndarray]) -> pd.DataFrame:
    """The scores table of the SVM on every split but ``train``."""
    tables = [scores_table(sp, cache.frames(sp), svm.score(x[sp]))
              for sp in splits if sp != "train"]
    return pd.concat(tables, ignore_index=True)
