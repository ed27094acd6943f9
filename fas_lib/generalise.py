"""Generalisation experiments (notebook 07): the course's models and the LBP baseline under the
shift protocols of :mod:`fas_lib.shift`, as one long table, and the issue's targets read off it.

>>> from fas_lib import generalise
>>> pf = generalise.protocol_folds(cache, ["standard", "p1", "p4"], max_folds=2)  # doctest: +SKIP
>>> df = generalise.cnn_runs(cache, pf, scales=(0.9, 1.0), groups=[(0.9, 1.0, 1.1)])  # doctest: +SKIP

Every row is one run folder (trained once, read back afterwards) under one protocol and fold:
``protocol``, ``fold``, ``recipe`` (a preset of :data:`fas_lib.config.PRESETS` for the CNNs, an
:data:`fas_lib.lbp.LBP_RECIPES` name for LBP), ``model`` (``"CNN_S 0.9"``,
``"MS-FANS [0.9,1.0,1.1]"``, ``"LBP grid_gray 1.0"``), ``family`` (``single``, ``msfans``,
``lbp``), ``scales``, the frame-level ``dev_eer``, ``test_eer`` and ``test_hter`` (threshold at
the dev EER) and ``run_dir``. :func:`fold_means` averages the folds of p3 / p4 / loao.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fas_lib import experiments
from fas_lib.augment import AUGMENTS
from fas_lib.cache import CropCache
from fas_lib.config import ExperimentConfig, load_experiment
from fas_lib.lbp import lbp_recipe
from fas_lib.shift import FOLDED, folds, protocol_view
from fas_lib.transfer import cross_dataset

#: The metrics every row carries.
METRICS: tuple[str, ...] = ("dev_eer", "test_eer", "test_hter")
#: Model names of the backbones.
BACKBONE_NAMES: dict[str, str] = {"cnn_s": "CNN_S", "cnn_d": "CNN_D"}


def protocol_folds(cache: CropCache, protocols: Sequence[str],
                   max_folds: int | None = None) -> list[tuple[str, str | None]]:
    """``(protocol, fold)`` pairs: every fold of a folded protocol (cameras, attack types), or
    its first ``max_folds`` (a parameter to trim repeats, never to drop a protocol)."""
    out: list[tuple[str, str | None]] = []
    for p in protocols:
        names = folds(cache.table, p) if p in FOLDED else [None]
        out += [(p, f) for f in names[: max_folds or None]]
    return out


def _rows(df: pd.DataFrame, protocol: str, fold: str | None, recipe: str, family: str,
          model: Any) -> list[dict[str, Any]]:
    rows = []
    for _, r in df.iterrows():
        scales = list(r["scales"]) if "scales" in r and isinstance(r["scales"], list) else [
            float(r["scale"])]
        rows.append({"protocol": protocol, "fold": fold, "recipe": recipe, "family": family,
                     "model": model(scales), "scales": scales,
                     **{m: float(r[m]) for m in METRICS}, "run_dir": r["run_dir"]})
    return rows


def cnn_runs(cache: CropCache, protocol_folds: Sequence[tuple[str, str | None]],
             scales: Sequence[float] = (), groups: Sequence[Sequence[float]] = (),
             recipes: Sequence[str] = ("cpu", "robust"), backbone: str = "cnn_s",
             seed: int = 0, out_root: str | Path = "runs", progress: bool = True,
             **overrides: Any) -> pd.DataFrame:
    """Single-scale runs (Table II's) at ``scales`` and MS-FANS runs on ``groups`` under every
    protocol and fold and every recipe (a preset: ``"cpu"`` the course's default, ``"robust"``
    augmentation + model selection on the shifted dev split).

    Args:
        cache: the crop cache of the ``standard`` protocol (the others are views of it).
        protocol_folds: from :func:`protocol_folds`.
        scales: single-scale runs.
        groups: MS-FANS scale groups.
        recipes: presets.
        backbone: ``"cnn_s"`` or ``"cnn_d"``.
        seed, out_root, progress, **overrides: as in :func:`fas_lib.experiments.table_ii`.
    """
    name = BACKBONE_NAMES.get(backbone, backbone)
    rows: list[dict[str, Any]] = []
    jobs = [(p, f, r) for p, f in protocol_folds for r in recipes]
    for p, f, recipe in tqdm(jobs, desc="protocols x recipes", disable=not progress):
        view = protocol_view(cache, p, f)
        # standard: the configs of notebooks 03-06 (protocol None), whose runs are read back
        common = dict(backbone=backbone, preset=recipe, seed=seed, out_root=out_root,
                      progress=False, protocol=None if p == "standard" else p, fold=f,
                      **overrides)
        if scales:
            t2 = experiments.table_ii(view, scales=scales, **common)
            rows += _rows(t2, p, f, recipe, "single", lambda s: f"{name} {s[0]:g}")
        if groups:
            t3 = experiments.table_iii(view, groups=groups, fusions=("msfans",), **common)
            rows += _rows(t3, p, f, recipe, "msfans",
                          lambda s: f"MS-FANS {experiments.group_label(s)}")
    return pd.DataFrame(rows)


def lbp_runs(cache: CropCache, protocol_folds: Sequence[tuple[str, str | None]],
             recipes: Sequence[str] = ("grid_gray", "boulkenafet"),
             scales: Sequence[float] = (1.0,), seed: int = 0, out_root: str | Path = "runs",
             workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """The LBP baseline (:func:`fas_lib.experiments.lbp_baseline`), each recipe of
    :data:`fas_lib.lbp.LBP_RECIPES` at each scale, under every protocol and fold."""
    rows: list[dict[str, Any]] = []
    jobs = [(p, f, r) for p, f in protocol_folds for r in recipes]
    for p, f, recipe in tqdm(jobs, desc="LBP", disable=not progress):
        view = protocol_view(cache, p, f)
        df = experiments.lbp_baseline(view, scales=scales, out_root=out_root, multiscale=False,
                                      workers=workers, seed=seed, progress=False,
                                      **lbp_recipe(recipe))
        rows += _rows(df, p, f, recipe, "lbp", lambda s, r=recipe: f"LBP {r} {s[0]:g}")
    return pd.DataFrame(rows)


def fold_means(df: pd.DataFrame) -> pd.DataFrame:
    """The metrics averaged over the folds of each protocol, recipe and model (``n_folds``)."""
    keys = ["protocol", "recipe", "family", "model"]
    out = df.groupby(keys, sort=False)[list(METRICS)].mean()
    out["n_folds"] = df.groupby(keys, sort=False).size()
    return out.reset_index()


def best_lbp(means: pd.DataFrame, protocol: str) -> pd.Series:
    """The LBP row of ``protocol`` with the lowest mean dev EER (the setting dev would pick),
    from :func:`fold_means`."""
    sub = means[(means["protocol"] == protocol) & (means["family"] == "lbp")]
    if sub.empty:
        raise ValueError(f"no LBP rows for protocol {protocol!r}")
    return sub.loc[sub["dev_eer"].idxmin()]


def targets(means: pd.DataFrame, protocols: Sequence[str], models: Sequence[str],
            recipe: str = "robust") -> pd.DataFrame:
    """The issue's first two targets per protocol and model (from :func:`fold_means`): test
    EER below the best LBP setting (best by dev EER, and the best by test EER beside it for
    honesty), and test EER within 2x dev EER."""
    rows = []
    for p in protocols:
        lbp = means[(means["protocol"] == p) & (means["family"] == "lbp")]
        if lbp.empty:
            continue
        by_dev, best_test = best_lbp(means, p), float(lbp["test_eer"].min())
        for m in models:
            hit = means[(means["protocol"] == p) & (means["recipe"] == recipe)
                        & (means["model"] == m)]
            if hit.empty:
                continue
            r = hit.iloc[0]
            rows.append({"protocol": p, "model": m, "recipe": recipe, "n_folds": int(r["n_folds"]),
                         "dev_eer": r["dev_eer"], "test_eer": r["test_eer"],
                         "lbp_by_dev": by_dev["model"], "lbp_by_dev_test_eer": by_dev["test_eer"],
                         "lbp_best_test_eer": best_test,
                         "beats_lbp": bool(r["test_eer"] < by_dev["test_eer"]),
                         "beats_every_lbp": bool(r["test_eer"] < best_test),
                         "test_within_2x_dev": bool(r["test_eer"] <= 2 * max(r["dev_eer"],
                                                                             np.finfo(float).eps))})
    return pd.DataFrame(rows)


def _model_configs(scale: float, group: Sequence[float], recipe: str, seed: int,
                   **fields: Any) -> list[tuple[str, ExperimentConfig]]:
    """The CNN_S of Table II at ``scale`` and MS-FANS on ``group`` (Table III's file)."""
    single = load_experiment("table_ii").configs(grid={"scales": [(float(scale),)]},
                                                 preset=recipe, seed=seed, **fields)[0]
    fused = load_experiment("table_iii").configs(
        grid={"scales": [tuple(float(x) for x in group)], "fusion": ["msfans"]},
        preset=recipe, seed=seed, **fields)[0]
    return [(f"CNN_S {scale:g}", single), (f"MS-FANS {experiments.group_label(group)}", fused)]


def _finetune(cfg: ExperimentConfig, init_from: str, recipe: str) -> ExperimentConfig:
    """``cfg`` fine-tuned from ``init_from``: the ``finetune`` preset, and the ``robust``
    recipe's augmentation and dev selection when ``recipe`` is ``"robust"``."""
    extra: dict[str, Any] = {"augment": AUGMENTS, "select_on_dev": True} if recipe == "robust" \
        else {}
    return ExperimentConfig.from_dict({**cfg.to_dict(), "preset": "finetune", "epochs": None,
                                       "batch_size": None, "lr": None, "milestones": None,
                                       "init_from": init_from, **extra})


def transfer_study(synth: CropCache, real: CropCache, scale: float, group: Sequence[float],
                   recipe: str = "robust", lbp_recipes: Sequence[str] = ("grid_gray",),
                   lbp_scales: Sequence[float] = (1.0,), seed: int = 0,
                   out_root: str | Path = "runs", smoke: bool = False,
                   dataset: str = "synthspoof", progress: bool = False) -> pd.DataFrame:
    """SynthSpoof and a real dataset side by side, for CNN_S at ``scale`` and MS-FANS on
    ``group`` (``recipe`` preset): trained on SynthSpoof alone and scored on the real test split
    (:func:`fas_lib.transfer.cross_dataset`, threshold from SynthSpoof's dev), trained on the
    real dataset alone, pre-trained on SynthSpoof and fine-tuned on it (``init_from``, preset
    ``finetune``); and the LBP baseline trained on it.

    Args:
        synth: SynthSpoof's ``standard`` cache.
        real: the real dataset's cache (its ``dataset`` names the rows).
        scale, group, recipe, seed, out_root, smoke: the runs.
        lbp_recipes, lbp_scales: the LBP rows.
        dataset: the ``dataset`` field of the SynthSpoof-side configs (notebook 07's runs).
        progress: tqdm bars.

    Returns:
        One row per model and training: ``model``, ``training``, the frame-level metrics on
        the real test split and ``run_dir``.
    """
    name = str(real.manifest.get("dataset", "real"))
    rows: list[dict[str, Any]] = []
    for model, cfg in _model_configs(scale, group, recipe, seed, smoke=smoke, dataset=dataset):
        cross = cross_dataset(cfg, synth, real, out_root, progress=progress)
        mine = ExperimentConfig.from_dict({**cfg.to_dict(), "dataset": name,
                                           "protocol": real.manifest.get("protocol")})
        (alone,) = experiments.run_many([mine], out_root, real, progress, desc=name)
        (tuned,) = experiments.run_many([_finetune(mine, cross["train_run"], recipe)],
                                        out_root, real, progress, desc="fine-tune")
        for training, res in ((f"SynthSpoof only -> {name}", cross),
                              (f"{name} only", alone),
                              (f"SynthSpoof, fine-tuned on {name}", tuned)):
            frame = res["metrics"]["frame"]
            rows.append({"model": model, "training": training, "run_dir": res["run_dir"],
                         **{m: float("nan") if frame[m] is None else float(frame[m])
                            for m in METRICS}})
    lbp = lbp_runs(real, [("standard", None)], recipes=lbp_recipes, scales=lbp_scales,
                   seed=seed, out_root=out_root, progress=progress)
    rows += [{"model": r["model"], "training": f"{name} only", "run_dir": r["run_dir"],
              **{m: r[m] for m in METRICS}} for _, r in lbp.iterrows()]
    return pd.DataFrame(rows)
