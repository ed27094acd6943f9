"""Generalisation experiments (notebook 07): the course's models and the LBP baseline under the
shift protocols of :mod:`fas_lib.data.shift`, as one long table, and the issue's targets read off
it.

>>> from fas_lib.studies import generalise
>>> pf = generalise.protocol_folds(cache, ["standard", "p1", "p4"], max_folds=2)  # doctest: +SKIP
>>> df = generalise.cnn_runs(cache, pf, scales=(0.9, 1.0),
...                          groups=[(0.9, 1.0, 1.1)])  # doctest: +SKIP

Every row is one run folder (trained once, read back afterwards) under one protocol and fold:
``protocol``, ``fold``, ``recipe`` (a preset of :data:`fas_lib.training.config.PRESETS` for the
CNNs, an :data:`fas_lib.baselines.lbp.LBP_RECIPES` name for LBP), ``model`` (``"CNN_S 0.9"``,
``"MS-FANS [0.9,1.0,1.1]"``, ``"LBP grid_gray 1.0"``), ``family`` (``single``, ``msfans``,
``lbp``), ``scales``, the frame-level ``dev_eer``, ``test_eer`` and ``test_hter`` (threshold at
the dev EER) and ``run_dir``. :func:`fold_means` averages the folds of p3 / p4 / loao.

:func:`variant_study` is the ablation of SynthSpoof's own design (issue 21): CNN_S and MS-FANS
trained on each variant of the generator (:func:`default_variants`: the default and one
variant per factor fixed at one level, ``SynthConfig.fixed_factors``) and scored on every
variant's test split, one row per (model, trained_on, scored_on); :func:`variant_matrix`
lays one model's rows out as a train x score table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fas_lib import SCALES
from fas_lib.baselines.lbp import lbp_recipe
from fas_lib.cache.prepare import get_cache
from fas_lib.cache.reader import CropCache
from fas_lib.cache.views import protocol_view
from fas_lib.data.shift import FOLDED, folds
from fas_lib.studies import tables as experiments
from fas_lib.studies.transfer import cross_dataset
from fas_lib.synthspoof import FIXABLE_FACTORS, SynthConfig, generate
from fas_lib.training.config import PRESETS, ExperimentConfig, load_experiment

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
        seed, out_root, progress, ``**overrides``: as in :func:`fas_lib.studies.tables.table_ii`.
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
    """The LBP baseline (:func:`fas_lib.studies.tables.lbp_baseline`), each recipe of
    :data:`fas_lib.baselines.lbp.LBP_RECIPES` at each scale, under every protocol and fold."""
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
    extra: dict[str, Any] = {k: PRESETS["robust"][k] for k in ("augment", "select_on_dev")} \
        if recipe == "robust" else {}
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
    (:func:`fas_lib.studies.transfer.cross_dataset`, threshold from SynthSpoof's dev), trained on
    the real dataset alone, pre-trained on SynthSpoof and fine-tuned on it (``init_from``, preset
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


def default_variants(base: SynthConfig | None = None) -> dict[str, SynthConfig]:
    """The generator variants of issue 21's ablation, by name: ``base`` (``"default"``, the
    current SynthSpoof), one variant per factor of :data:`~fas_lib.synthspoof.FIXABLE_FACTORS`
    fixed at one level (``"fixed session"``: SynthSpoof 2.0's sessions undone, ``"fixed
    camera"``, ``"fixed instrument"``, ``"fixed margins"``: wide margins), and all of them
    fixed (``"1.x-like"``).

    Args:
        base: the configuration every variant starts from (its own ``fixed_factors`` are
            replaced); ``None``: the default :class:`~fas_lib.synthspoof.SynthConfig`, a
            smaller one (e.g. :func:`fas_lib.cache.prepare.smoke_synth_config`) for a quick look.
    """
    base = dataclasses.replace(base or SynthConfig(), fixed_factors=())
    out = {"default": base}
    out.update({f"fixed {f}": dataclasses.replace(base, fixed_factors=(f,))
                for f in FIXABLE_FACTORS})
    out["1.x-like"] = dataclasses.replace(base, fixed_factors=FIXABLE_FACTORS)
    return out


def variant_caches(variants: Mapping[str, SynthConfig], scales: Sequence[float] = SCALES,
                   smoke: bool = False, workers: int = 2, progress: bool = False,
                   use_gt_boxes: bool = False) -> dict[str, CropCache]:
    """Each variant generated (cached under ``data_dir()/synthspoof/<hash>``) and its crop
    cache built or opened (:func:`fas_lib.cache.prepare.get_cache` with that root: 4 frames per
    video, 2 when ``smoke``), by name."""
    caches = {}
    for name, config in tqdm(variants.items(), desc="variants", disable=not progress):
        root = generate(config, workers=workers, progress=progress).root
        caches[name] = get_cache("synthspoof", root, smoke=smoke, workers=workers,
                                 progress=progress, scales=scales, use_gt_boxes=use_gt_boxes)
    return caches


def variant_study(variants: Mapping[str, SynthConfig], scale: float, group: Sequence[float],
                  recipe: str = "robust", seed: int = 0, out_root: str | Path = "runs",
                  smoke: bool = False, progress: bool = False, *, workers: int = 2,
                  use_gt_boxes: bool = False,
                  others: Mapping[str, CropCache] | None = None) -> pd.DataFrame:
    """Which change of the generator moved the models (issue 21): CNN_S at ``scale`` and
    MS-FANS on ``group`` (``recipe`` preset, the configs of :func:`transfer_study`) trained on
    each variant's train split and scored on every variant's test split, at the threshold of
    the training variant's dev EER (:func:`fas_lib.studies.transfer.cross_dataset`; the diagonal is
    the within-variant result). Runs and scores are folders under ``out_root``, read back
    when finished.

    Args:
        variants: name -> generation config (:func:`default_variants`).
        scale, group, recipe, seed, out_root, smoke: the runs, as :func:`transfer_study`
            (``smoke``: also 2 cached frames per video).
        progress: tqdm bars.
        workers: processes for generation and caching.
        use_gt_boxes: crop with the generator's face boxes instead of dlib's detector.
        others: further test caches by name, scored like the variants (a real dataset's
            cache, cut at ``scale`` and ``group``'s scales: which variant transfers best).

    Returns:
        One row per (model, trained_on, scored_on): ``model``, ``trained_on``, ``scored_on``,
        ``dev_eer`` (the training variant's), ``test_eer`` and ``test_hter`` on the scored
        variant's test split, ``run_dir`` (the cross-scoring folder) and ``train_run``.
    """
    clash = sorted(set(variants) & set(others or {}))
    if clash:
        raise ValueError(f"others {clash} share a name with a variant; rename them")
    scales = sorted({float(x) for x in (*SCALES, scale, *group)})
    caches = variant_caches(variants, scales, smoke, workers, progress, use_gt_boxes)
    configs = _model_configs(scale, group, recipe, seed, smoke=smoke, dataset="synthspoof")
    rows: list[dict[str, Any]] = []
    tests = {**caches, **(others or {})}
    jobs = [(t, m, cfg) for t in caches for m, cfg in configs]
    for trained_on, model, cfg in tqdm(jobs, desc="variant runs", disable=not progress):
        for scored_on, test_cache in tests.items():
            res = cross_dataset(cfg, caches[trained_on], test_cache, out_root, progress=False)
            frame = res["metrics"]["frame"]
            rows.append({"model": model, "trained_on": trained_on, "scored_on": scored_on,
                         **{m: float("nan") if frame[m] is None else float(frame[m])
                            for m in METRICS},
                         "run_dir": res["run_dir"], "train_run": res["train_run"]})
    return pd.DataFrame(rows)


def variant_matrix(study: pd.DataFrame, model: str, metric: str = "test_hter") -> pd.DataFrame:
    """One model's rows of :func:`variant_study` as a table: trained on (rows) x scored on
    (columns, the variants then the ``others``), ``metric`` in %, in the study's order."""
    sub = study[study["model"] == model]
    if sub.empty:
        raise ValueError(f"no rows for model {model!r}; the study has {sorted(set(study.model))}")
    table = sub.pivot(index="trained_on", columns="scored_on", values=metric) * 100.0
    return table.reindex(index=list(dict.fromkeys(sub["trained_on"])),
                         columns=list(dict.fromkeys(sub["scored_on"])))
