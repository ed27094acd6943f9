"""The experiment drivers of the notebooks: Table II, Table III and the LBP baseline.

Each driver runs many :func:`fas_lib.training.frames.run_experiment` calls (one folder per run under
``out_root``, :func:`fas_lib.training.runs.run_dir`: named after the run and a hash of its resolved
config and data), shows a tqdm bar over the runs and is **resumable**: a run whose ``results.json``
exists is read back, an interrupted one resumes from its checkpoint. Each returns a tidy
:class:`pandas.DataFrame` (one row per run).

The runs of each table are data: :func:`table_ii` and :func:`table_iii` build them from the
experiment files ``configs/table_ii.yaml`` and ``configs/table_iii.yaml``
(:func:`fas_lib.training.config.load_experiment`); their arguments override the file.

* :func:`table_ii`: one single-scale CNN per scale (paper Table II: CNN_S, EER per scale);
* :func:`table_iii`: for each group of three adjacent scales, "best single scale" (taken from
  Table II's runs within the group, as in the paper), Average, Concat and MS-FANS (Table III);
  :func:`pivot` lays it out as the paper does and :func:`msfans_wins` counts the groups where
  MS-FANS beats the best single scale;
* :func:`lbp_baseline`: colour-texture LBP + SVM (:mod:`fas_lib.baselines.lbp`) per scale and on the
  concatenated histograms of several scales, scored and evaluated the same way; its options
  (spatial grid, texture size, kernel, normalisation) take the named settings of
  :data:`fas_lib.baselines.lbp.LBP_RECIPES`.

How far Table III's differences are luck is :mod:`fas_lib.studies.significance`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from fas_lib import SCALES
from fas_lib.baselines.lbp import Radii
from fas_lib.baselines.lbp_runs import lbp_run, run_options
from fas_lib.cache.reader import CropCache
from fas_lib.core.parallel import uses_pool
from fas_lib.core.utils import get_device
from fas_lib.training.config import (
    Experiment,
    ExperimentConfig,
    cache_splits,
    load_experiment,
    open_experiment_cache,
    scale_indices,
)
from fas_lib.training.frames import run_experiment
from fas_lib.training.pool import run_workers, train_runs
from fas_lib.training.runs import config_hash, data_key, read_results, run_dir

__all__ = [
    "FUSIONS_III", "SCALE_GROUPS", "group_label", "lbp_baseline", "msfans_wins", "pivot",
    "run_many", "summarise", "table_ii", "table_iii",
]

#: Table III's scale groups: three adjacent scales of :data:`fas_lib.SCALES`.
SCALE_GROUPS: tuple[tuple[float, ...], ...] = tuple(
    tuple(SCALES[i:i + 3]) for i in range(len(SCALES) - 2)
)

#: Table III's rows, in the paper's order.
FUSIONS_III: tuple[str, ...] = ("best_single", "average", "concat", "msfans")


def group_label(group: Sequence[float]) -> str:
    """A scale group's label, e.g. ``"[1.1,1.2,1.3]"`` (Table III's columns)."""
    return "[" + ",".join(f"{s:g}" for s in group) + "]"


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of one run's results as a flat row (rates in [0, 1]).

    A metric that is missing (``None`` in a results file, e.g. ``dev_eer`` of a protocol
    without a dev split) is NaN in the row.
    """
    m = results["metrics"]
    row: dict[str, Any] = {}
    for level in ("frame", "video"):
        if level not in m:
            continue
        lv = m[level]
        for k in ("dev_eer", "test_eer", "test_hter", "test_auc", "test_apcer", "test_bpcer",
                  "test_acer"):
            row[f"{k}" if level == "frame" else f"video_{k}"] = (
                float("nan") if lv[k] is None else lv[k])
    timing = results.get("timing", {})
    row["train_seconds"] = timing.get("train_seconds")
    row["train_samples_per_s"] = timing.get("train_samples_per_s")
    return row


def run_many(
    configs: Sequence[ExperimentConfig],
    out_root: str | Path,
    cache: CropCache | None = None,
    progress: bool = True,
    desc: str = "runs",
    workers: int | None = None,
) -> list[dict[str, Any]]:
    """Run (or read back) each config in its own :func:`run_dir`; a tqdm bar over the runs.

    The run folder is named after the config *and* the data (:func:`data_key` of ``cache``, or
    of the cache each config names when ``cache`` is ``None``), so a finished run is read back
    only for the data it was trained on. The runs still to train train side by side
    (:func:`fas_lib.training.pool.train_runs`: ``workers`` processes, default
    :func:`~fas_lib.training.pool.run_workers`); configs that share a folder train once.
    """
    resolved = [c.resolve() for c in configs]  # fail fast on any bad config before training
    caches = [cache if cache is not None else open_experiment_cache(c, progress=progress)
              for c in resolved]
    dirs = [run_dir(c, out_root, k) for c, k in zip(resolved, caches, strict=True)]
    done: dict[Path, dict[str, Any]] = {}
    for d in dirs:
        res = read_results(d)
        if res is not None and res.get("complete"):
            done[d] = res
    pending: dict[Path, int] = {}  # each folder still to train -> its first config
    for i, d in enumerate(dirs):
        if d not in done:
            pending.setdefault(d, i)
    todo = list(pending)
    if workers is None:
        workers = run_workers(_device(resolved))
    inner = progress and not uses_pool(workers, len(todo))
    jobs = [(resolved[i], d, caches[i], inner) for d, i in pending.items()]
    for i, res in train_runs(_train_job, jobs, workers, progress=progress and bool(todo),
                             desc=desc, entry="run_many"):
        done[todo[i]] = res
    return [{**done[d], "run_dir": str(d)} for d in dirs]


def _device(configs: Sequence[ExperimentConfig]) -> str:
    """``"cpu"`` when every config trains on the CPU, else the first other device."""
    return next((d for d in (get_device(c.device) for c in configs) if d != "cpu"), "cpu")


def _train_job(job: tuple[ExperimentConfig, Path, CropCache | None, bool]) -> dict[str, Any]:
    """Train one run of :func:`run_many` (in a pool worker or in this process)."""
    cfg, out, cache, progress = job
    return run_experiment(cfg, out, resume=True, progress=progress, cache=cache)


def _check_scales(cache: CropCache | None, scales: Sequence[float]) -> None:
    if cache is not None:
        scale_indices(cache, scales)


def table_ii(
    cache: CropCache | None = None,
    backbone: str | None = None,
    scales: Sequence[float] | None = None,
    preset: str | None = None,
    seed: int = 0,
    out_root: str | Path = "runs",
    progress: bool = True,
    experiment: str | Path | Experiment = "table_ii",
    **overrides: Any,
) -> pd.DataFrame:
    """Table II: one single-scale network per scale, as ``configs/table_ii.yaml`` describes.

    Args:
        cache: opened crop cache (``None``: the one the config names, via ``get_cache``).
        backbone: ``"cnn_s"`` (paper) or ``"cnn_d"``; ``None``: the experiment file's.
        scales: the scales to train; ``None``: the experiment file's (the paper's seven).
        preset: a name in :data:`fas_lib.training.config.PRESETS` ("cpu", "paper", ...);
            ``None``: the file's.
        seed: training seed.
        out_root: folder of the run folders.
        progress: tqdm bars.
        experiment: the experiment file (a path, a name in ``configs/``, or an
            :class:`~fas_lib.training.config.Experiment`); its runs must each train one scale.
        **overrides: further :class:`~fas_lib.training.config.ExperimentConfig` fields (``epochs``,
        ...).

    Returns:
        One row per scale: ``scale``, the :func:`summarise` columns and ``run_dir``.
    """
    exp = load_experiment(experiment)
    grid = None if scales is None else {"scales": [(float(s),) for s in scales]}
    configs = exp.configs(grid=grid, backbone=backbone, preset=preset, seed=seed, **overrides)
    if any(len(c.scales) != 1 for c in configs):
        raise ValueError(f"{exp.name}: Table II trains one scale per run; the file's runs use "
                         f"{sorted({len(c.scales) for c in configs})} scales")
    scales = [c.scales[0] for c in configs]
    _check_scales(cache, scales)
    results = run_many(configs, out_root, cache, progress, desc="Table II")
    rows = [{"scale": float(s), **summarise(r), "run_dir": r["run_dir"]}
            for s, r in zip(scales, results, strict=True)]
    return pd.DataFrame(rows)


def table_iii(
    cache: CropCache | None = None,
    groups: Sequence[Sequence[float]] | None = None,
    fusions: Sequence[str] = FUSIONS_III,
    backbone: str | None = None,
    preset: str | None = None,
    seed: int = 0,
    out_root: str | Path = "runs",
    table2: pd.DataFrame | None = None,
    metric: str = "test_eer",
    progress: bool = True,
    experiment: str | Path | Experiment = "table_iii",
    **overrides: Any,
) -> pd.DataFrame:
    """Table III: fusion strategies per scale group, as ``configs/table_iii.yaml`` describes.

    "best_single" is, as in the paper, the best of the group's single-scale runs of Table II by
    ``metric`` (the paper picks by test EER; CASIA-FASD has no dev set). Runs missing from
    ``table2`` are trained (with the same settings) under ``out_root``.

    Args:
        cache: opened crop cache.
        groups: scale groups; ``None``: the experiment file's (the paper's five groups,
            :data:`SCALE_GROUPS`).
        fusions: rows to produce, among :data:`FUSIONS_III`.
        backbone, preset, seed, out_root, progress, ``**overrides``: as in :func:`table_ii`.
        table2: the result of :func:`table_ii` (reused for "best_single").
        metric: column that chooses the best single scale (lower is better).
        experiment: the experiment file; its grid varies ``scales`` and ``fusion``.

    Returns:
        One row per (group, fusion): ``group`` (label such as ``"[1.1,1.2,1.3]"``),
        ``scales``, ``fusion``, ``best_scale`` (for best_single), the :func:`summarise`
        columns and ``run_dir``.
    """
    bad = [f for f in fusions if f not in FUSIONS_III]
    if bad:
        raise ValueError(f"unknown Table III fusion(s) {bad}; expected some of {FUSIONS_III}")
    exp = load_experiment(experiment)
    if set(exp.grid) != {"scales", "fusion"}:
        raise ValueError(f"{exp.name}: Table III's grid varies scales and fusion, not "
                         f"{sorted(exp.grid)}")
    groups = [tuple(float(s) for s in g) for g in (exp.grid["scales"] if groups is None
                                                    else groups)]
    for g in groups:
        _check_scales(cache, g)
    fields = {k: v for k, v in dict(backbone=backbone, preset=preset, seed=seed,
                                    **overrides).items() if v is not None}
    settings = dict(out_root=out_root, progress=progress)
    rows: list[dict[str, Any]] = []
    if "best_single" in fusions:
        rows += _best_single_rows(cache, groups, table2, metric, exp, fields, settings)
    trained = [f for f in fusions if f != "best_single"]
    configs = exp.configs(grid={"scales": groups, "fusion": trained}, **fields)
    rows += _fusion_rows(cache, configs, settings)
    return _sorted_table_iii(pd.DataFrame(rows), groups)


def _best_single_rows(cache: CropCache | None, groups: list[tuple[float, ...]],
                      table2: pd.DataFrame | None, metric: str, exp: Experiment,
                      fields: dict[str, Any], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Table III's "best_single" rows: per group, its best Table II run (missing ones trained
    with the Table III file's backbone and preset and the same overrides)."""
    needed = sorted({sc for g in groups for sc in g})
    have = (set() if table2 is None
            else {round(float(sc), 6) for sc in table2["scale"]})
    missing = [sc for sc in needed if round(sc, 6) not in have]
    t2 = table2 if table2 is not None else pd.DataFrame()
    if missing:
        shared = {k: exp.base[k] for k in ("backbone", "preset") if k in exp.base}
        extra = table_ii(cache, scales=missing, **settings, **{**shared, **fields})
        t2 = pd.concat([t2, extra], ignore_index=True)
    rows = []
    for g in groups:
        sub = t2[t2["scale"].round(6).isin([round(sc, 6) for sc in g])]
        best = sub.loc[sub[metric].idxmin()]
        rows.append({"group": group_label(g), "scales": list(g), "fusion": "best_single",
                     "best_scale": float(best["scale"]),
                     **{k: best[k] for k in best.index if k not in ("scale",)}})
    return rows


def _fusion_rows(cache: CropCache | None, configs: list[ExperimentConfig],
                 settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Table III's trained rows: one run per (group, fusion)."""
    results = run_many(configs, settings["out_root"], cache, settings["progress"],
                       desc="Table III")
    return [{"group": group_label(cfg.scales), "scales": list(cfg.scales),
             "fusion": cfg.fusion, "best_scale": None, **summarise(r),
             "learned_weights": r.get("learned_weights"), "run_dir": r["run_dir"]}
            for cfg, r in zip(configs, results, strict=True)]


def _sorted_table_iii(df: pd.DataFrame, groups: list[tuple[float, ...]]) -> pd.DataFrame:
    order = {f: i for i, f in enumerate(FUSIONS_III)}
    gorder = {group_label(g): i for i, g in enumerate(groups)}
    df = df.sort_values(by=["group", "fusion"],
                        key=lambda c: c.map(gorder) if c.name == "group" else c.map(order))
    return df.reset_index(drop=True)


def pivot(table3: pd.DataFrame, metric: str = "test_eer", percent: bool = True) -> pd.DataFrame:
    """Table III as printed in the paper: rows = fusion, columns = scale group."""
    df = table3.pivot(index="fusion", columns="group", values=metric)
    df = df.reindex([f for f in FUSIONS_III if f in df.index])
    df = df[list(dict.fromkeys(table3["group"]))]
    return df * 100.0 if percent else df


def msfans_wins(table3: pd.DataFrame, metric: str = "test_eer",
                against: str = "best_single") -> dict[str, Any]:
    """Groups where MS-FANS has a strictly lower ``metric`` than ``against``."""
    p = pivot(table3, metric, percent=False)
    if "msfans" not in p.index or against not in p.index:
        raise ValueError(f"table3 needs rows 'msfans' and {against!r}, has {list(p.index)}")
    wins = [g for g in p.columns if p.loc["msfans", g] < p.loc[against, g]]
    return {"wins": len(wins), "groups": len(p.columns), "won_groups": wins, "metric": metric,
            "against": against}


def lbp_baseline(
    cache: CropCache,
    scales: Sequence[float] = (1.1, 1.2, 1.3),
    color_space: str = "hsv+ycbcr",
    out_root: str | Path = "runs",
    multiscale: bool = True,
    kernel: str = "rbf",
    C: float = 1.0,
    size: int = 112,
    workers: int = 1,
    seed: int = 0,
    progress: bool = True,
    *,
    P: int = 8,
    R: Radii = 1,
    method: str = "nri_uniform",
    grid: Sequence[int] = (1, 1),
    texture_size: int | None = None,
    normalise: str | None = "auto",
) -> pd.DataFrame:
    """Colour-texture LBP + SVM per scale (and on the scales' concatenated histograms).

    The LBP histograms are computed on the same centre ``size`` x ``size`` crop the CNNs see
    at test time; the SVM is fit on ``train`` and scores ``dev`` / ``test``; metrics and files
    (``scores.csv``, ``results.json``) are those of :func:`fas_lib.training.frames.run_experiment`,
    in ``out_root/lbp-<colour space>-<scale or group>-<hash>``; existing results are read back.
    The defaults are Boulkenafet et al.'s colour texture; a named setting of
    :data:`fas_lib.baselines.lbp.LBP_RECIPES` is passed as ``**lbp_recipe("grid_gray")``.

    Args:
        cache: opened crop cache.
        scales: scales to evaluate one by one.
        color_space: :mod:`fas_lib.baselines.lbp` colour space (Boulkenafet et al.:
            ``"hsv+ycbcr"``).
        out_root: folder of the run folders.
        multiscale: add a row for the concatenation of all ``scales``' histograms.
        kernel, C, normalise: :class:`fas_lib.baselines.lbp.LBPSVM` settings (kernels ``"rbf"``,
            ``"linear"``, ``"chi2"``, ``"linearsvc"``; ``normalise`` ``"auto"``,
            ``"standard"``, ``"l2"`` or ``None``).
        size: side of the centre crop.
        workers: LBP worker processes.
        seed: SVM seed.
        progress: tqdm bar over the scales.
        P, R, method, grid, texture_size: :func:`fas_lib.baselines.lbp.lbp_features` options, e.g.
            ``grid=(3, 3)`` (one histogram per cell), ``texture_size=64`` (resize first).

    Returns:
        One row per scale (and ``"multi"``): ``scale``, ``color_space``, :func:`summarise`
        columns, ``run_dir``.
    """
    idx = scale_indices(cache, scales)
    splits = [s for s in ("train", "dev", "test") if s in cache_splits(cache)]
    if "train" not in splits or "test" not in splits:
        raise ValueError(f"the LBP baseline needs train and test splits; cache has {splits}")
    features = dict(color_space=color_space, P=P, R=R, method=method, grid=grid,
                    texture_size=texture_size)
    settings = dict(color_space=color_space, kernel=kernel, C=C, size=size, seed=seed,
                    data=data_key(cache), **run_options(features, normalise, kernel, size))
    jobs: list[tuple[str, list[int]]] = [(f"{s:g}", [i]) for s, i in zip(scales, idx,
                                                                          strict=True)]
    if multiscale and len(scales) > 1:
        jobs.append((group_label(scales), idx))
    rows = []
    bar = tqdm(jobs, desc=f"LBP {color_space}", unit="run", disable=not progress)
    for name, ids in bar:
        spec = {**settings, "scales": [float(cache.scales[i]) for i in ids]}
        d = Path(out_root) / f"lbp-{color_space}-{name}-{config_hash(spec)}"
        res = read_results(d)
        if res is None:
            res = lbp_run(cache, name, ids, splits, spec, features, workers, d)
        rows.append({"scale": name, "color_space": color_space, **summarise(res),
                     "run_dir": str(d)})
    return pd.DataFrame(rows)

