"""The experiment drivers of the notebooks: Table II, Table III and the LBP baseline.

Each driver runs many :func:`fas_lib.train.run_experiment` calls (one folder per run under
``out_root``, named after the run and a hash of its resolved config), shows a tqdm bar over the
runs and is **resumable**: a run whose ``results.json`` exists is read back, an interrupted one
resumes from its checkpoint. Each returns a tidy :class:`pandas.DataFrame` (one row per run).

* :func:`table_ii`: one single-scale CNN per scale (paper Table II: CNN_S, EER per scale);
* :func:`table_iii`: for each group of three adjacent scales, "best single scale" (taken from
  Table II's runs within the group, as in the paper), Average, Concat and MS-FANS (Table III);
  :func:`pivot` lays it out as the paper does and :func:`msfans_wins` counts the groups where
  MS-FANS beats the best single scale;
* :func:`lbp_baseline`: colour-texture LBP + SVM (:mod:`fas_lib.lbp`) per scale and on the
  concatenated histograms of several scales, scored and evaluated the same way;
* :func:`significance`, :func:`seed_spread` and :func:`scale_agreement`: how far Table III's
  differences are luck, and whether a group's scales disagree at all (on training and test).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib import SCALES
from fas_lib.train import (
    RESULTS,
    SCORES,
    ExperimentConfig,
    evaluate_scores,
    open_experiment_cache,
    run_experiment,
    scale_indices,
)
from fas_lib.utils import atomic_write_text, save_results

__all__ = [
    "FUSIONS_III", "SCALE_GROUPS", "data_key", "lbp_baseline", "msfans_wins", "pivot", "run_dir",
    "run_many", "scale_agreement", "seed_spread", "significance", "summarise", "table_ii",
    "table_iii",
]

#: Table III's scale groups: three adjacent scales of :data:`fas_lib.SCALES`.
SCALE_GROUPS: tuple[tuple[float, ...], ...] = tuple(
    tuple(SCALES[i:i + 3]) for i in range(len(SCALES) - 2)
)

#: Table III's rows, in the paper's order.
FUSIONS_III: tuple[str, ...] = ("best_single", "average", "concat", "msfans")


def _hash(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:8]


def data_key(cache: Any) -> str:
    """A short fingerprint of the data in a crop cache, independent of where it is stored.

    It covers the dataset, protocol and fold, the cache parameters (scales, crop size, frames
    per video...), the dataset folder's *name* (for SynthSpoof: the hash of the generation
    parameters and the generator version) and the frame counts per split. A run trained on
    other data (a new generator version, a re-made cache, another fold) so gets another run
    folder instead of being read back; moving ``$FAS_DATA_DIR`` does not.
    """
    m = cache.manifest
    ident = {k: m.get(k) for k in ("dataset", "protocol", "fold", "params")}
    ident["root_name"] = Path(str(m.get("root", ""))).name
    ident["frames"] = (m.get("counts") or {}).get("frames")
    return _hash(ident)


def run_dir(config: ExperimentConfig, out_root: str | Path, cache: Any = None) -> Path:
    """``out_root/<run name>-<hash>``: hash of the resolved config (device left out) and, when
    ``cache`` is given, of the data it holds (:func:`data_key`)."""
    cfg = config.resolve()
    d = cfg.to_dict()
    d.pop("device", None)
    if cache is not None:
        d["data"] = data_key(cache)
    return Path(out_root) / f"{cfg.name}-{_hash(d)}"


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
    cache: Any = None,
    progress: bool = True,
    desc: str = "runs",
) -> list[dict[str, Any]]:
    """Run (or read back) each config in its own :func:`run_dir`; a tqdm bar over the runs.

    The run folder is named after the config *and* the data (:func:`data_key` of ``cache``, or
    of the cache each config names when ``cache`` is ``None``), so a finished run is read back
    only for the data it was trained on.
    """
    from tqdm.auto import tqdm

    resolved = [c.resolve() for c in configs]  # fail fast on any bad config before training
    out: list[dict[str, Any]] = []
    bar = tqdm(resolved, desc=desc, unit="run", disable=not progress)
    for cfg in bar:
        run_cache = cache if cache is not None else open_experiment_cache(cfg, progress=progress)
        d = run_dir(cfg, out_root, run_cache)
        bar.set_postfix_str(cfg.name)
        res_path = d / RESULTS
        if res_path.is_file():
            res = json.loads(res_path.read_text(encoding="utf-8"))
            if res.get("complete"):
                res["run_dir"] = str(d)
                out.append(res)
                continue
        res = run_experiment(cfg, d, resume=True, progress=progress, cache=run_cache)
        res["run_dir"] = str(d)
        out.append(res)
    return out


def _check_scales(cache: Any, scales: Sequence[float]) -> None:
    if cache is not None:
        scale_indices(cache, scales)


def table_ii(
    cache: Any = None,
    backbone: str = "cnn_s",
    scales: Sequence[float] = SCALES,
    preset: str = "cpu",
    seed: int = 0,
    out_root: str | Path = "runs",
    progress: bool = True,
    **overrides: Any,
) -> pd.DataFrame:
    """Table II: one single-scale network per scale.

    Args:
        cache: opened crop cache (``None``: the one the config names, via ``get_cache``).
        backbone: ``"cnn_s"`` (paper) or ``"cnn_d"``.
        scales: the scales to train.
        preset: ``"cpu"`` or ``"paper"`` (:data:`fas_lib.train.PRESETS`).
        seed: training seed.
        out_root: folder of the run folders.
        progress: tqdm bars.
        **overrides: further :class:`~fas_lib.train.ExperimentConfig` fields (``epochs``, ...).

    Returns:
        One row per scale: ``scale``, the :func:`summarise` columns and ``run_dir``.
    """
    _check_scales(cache, scales)
    configs = [ExperimentConfig(backbone=backbone, fusion="single", scales=(s,), preset=preset,
                                seed=seed, **overrides) for s in scales]
    results = run_many(configs, out_root, cache, progress, desc="Table II")
    rows = [{"scale": float(s), **summarise(r), "run_dir": r["run_dir"]}
            for s, r in zip(scales, results, strict=True)]
    return pd.DataFrame(rows)


def table_iii(
    cache: Any = None,
    groups: Sequence[Sequence[float]] = SCALE_GROUPS,
    fusions: Sequence[str] = FUSIONS_III,
    backbone: str = "cnn_s",
    preset: str = "cpu",
    seed: int = 0,
    out_root: str | Path = "runs",
    table2: pd.DataFrame | None = None,
    metric: str = "test_eer",
    progress: bool = True,
    **overrides: Any,
) -> pd.DataFrame:
    """Table III: fusion strategies per scale group.

    "best_single" is, as in the paper, the best of the group's single-scale runs of Table II by
    ``metric`` (the paper picks by test EER; CASIA-FASD has no dev set). Runs missing from
    ``table2`` are trained (with the same settings) under ``out_root``.

    Args:
        cache: opened crop cache.
        groups: scale groups (paper: the five groups of :data:`SCALE_GROUPS`).
        fusions: rows to produce, among :data:`FUSIONS_III`.
        backbone, preset, seed, out_root, progress, **overrides: as in :func:`table_ii`.
        table2: the result of :func:`table_ii` (reused for "best_single").
        metric: column that chooses the best single scale (lower is better).

    Returns:
        One row per (group, fusion): ``group`` (label such as ``"[1.1,1.2,1.3]"``),
        ``scales``, ``fusion``, ``best_scale`` (for best_single), the :func:`summarise`
        columns and ``run_dir``.
    """
    bad = [f for f in fusions if f not in FUSIONS_III]
    if bad:
        raise ValueError(f"unknown Table III fusion(s) {bad}; expected some of {FUSIONS_III}")
    groups = [tuple(float(s) for s in g) for g in groups]
    for g in groups:
        _check_scales(cache, g)
    rows: list[dict[str, Any]] = []
    if "best_single" in fusions:
        needed = sorted({s for g in groups for s in g})
        have = (set() if table2 is None
                else {round(float(s), 6) for s in table2["scale"]})
        missing = [s for s in needed if round(s, 6) not in have]
        t2 = table2 if table2 is not None else pd.DataFrame()
        if missing:
            extra = table_ii(cache, backbone, missing, preset, seed, out_root, progress,
                             **overrides)
            t2 = pd.concat([t2, extra], ignore_index=True)
        for g in groups:
            sub = t2[t2["scale"].round(6).isin([round(s, 6) for s in g])]
            best = sub.loc[sub[metric].idxmin()]
            rows.append({"group": _label(g), "scales": list(g), "fusion": "best_single",
                         "best_scale": float(best["scale"]),
                         **{k: best[k] for k in best.index if k not in ("scale",)}})
    trained = [f for f in fusions if f != "best_single"]
    configs = [ExperimentConfig(backbone=backbone, fusion=f, scales=g, preset=preset, seed=seed,
                                **overrides) for g in groups for f in trained]
    results = run_many(configs, out_root, cache, progress, desc="Table III")
    for cfg, r in zip(configs, results, strict=True):
        rows.append({"group": _label(cfg.scales), "scales": list(cfg.scales),
                     "fusion": cfg.fusion, "best_scale": None, **summarise(r),
                     "learned_weights": r.get("learned_weights"), "run_dir": r["run_dir"]})
    df = pd.DataFrame(rows)
    order = {f: i for i, f in enumerate(FUSIONS_III)}
    gorder = {_label(g): i for i, g in enumerate(groups)}
    df = df.sort_values(by=["group", "fusion"],
                        key=lambda c: c.map(gorder) if c.name == "group" else c.map(order))
    return df.reset_index(drop=True)


def _label(group: Sequence[float]) -> str:
    return "[" + ",".join(f"{s:g}" for s in group) + "]"


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


def _test_scores(run_dir: str | Path) -> pd.DataFrame:
    s = pd.read_csv(Path(run_dir) / SCORES)
    return s[s["split"] == "test"].set_index(["video_id", "frame_idx"])


def significance(
    table3: pd.DataFrame,
    cache: Any,
    a: str = "msfans",
    b: str = "best_single",
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per group of Table III: is ``a``'s frame-level test EER lower than ``b``'s beyond luck?

    A paired bootstrap over **test subjects** (:func:`fas_lib.metrics.paired_bootstrap_eer`):
    both runs' scores of the same test frames, subjects resampled with replacement. With 16
    test subjects a difference of one EER point is often within the interval.

    Args:
        table3: the result of :func:`table_iii` (its ``run_dir`` column is read).
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
    from fas_lib.metrics import paired_bootstrap_eer

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
    cache: Any,
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
        backbone, preset, out_root, progress, **overrides: as in :func:`table_iii`.

    Returns:
        ``{"group", "seeds", "test_eer": {fusion: {seed: eer}}, "best_scale": {seed: scale},
        "stats": {fusion: {"mean", "std", "min", "max"}}, "msfans_beats_best_single":
        {seed: bool}}`` (rates in [0, 1]; ``std`` is the sample standard deviation).
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
    cache: Any,
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
    (:func:`fas_lib.metrics.eer`, :func:`fas_lib.metrics.errors_at`). The training split shows
    what an end-to-end fusion learns from: when every scale separates it already, the fusion
    head sees no disagreement to learn which scale to trust.

    Args:
        table2: the result of :func:`table_ii` (its ``scale`` and ``run_dir`` columns).
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
    from fas_lib.metrics import eer, errors_at
    from fas_lib.train import _splits, load_run, score_split

    have = _splits(cache)
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
        run = runs[round(scale, 6)]
        saved = (pd.read_csv(Path(run) / SCORES) if any(sp != "train" for sp in splits)
                 else None)
        for split in splits:
            if split == "train":
                model, cfg = load_run(run)
                scores = score_split(model, cache, split, scale_indices(cache, cfg.scales),
                                     cfg.scales, cfg.eval_batch_size, progress=progress)
            else:
                scores = saved[saved["split"] == split]
            y, sc = scores["label"].to_numpy(), scores["score"].to_numpy()
            rate, threshold = eer(y, sc)
            wrong[scale, split], rates[scale, split] = errors_at(y, sc, threshold), rate
    rows = []
    for g in groups:
        for split in splits:
            w = np.stack([wrong[s, split] for s in g])
            any_wrong, all_wrong = int(w.any(axis=0).sum()), int(w.all(axis=0).sum())
            rows.append({"group": _label(g), "split": split, "n_frames": int(w.shape[1]),
                         "eer": [rates[s, split] for s in g],
                         "errors": [int(n) for n in w.sum(axis=1)],
                         "any_wrong": any_wrong, "all_wrong": all_wrong,
                         "disagree": any_wrong - all_wrong})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- LBP baseline


def _lbp_features(cache: Any, split: str, index: int, color_space: str, size: int,
                  workers: int, progress: bool) -> np.ndarray:
    from fas_lib.lbp import extract_lbp

    crops = cache.crops(split)
    n, side = crops.shape[0], crops.shape[2]
    o = (side - size) // 2
    chunk = 512
    parts = []
    for i in range(0, n, chunk):
        c = np.ascontiguousarray(crops[i:i + chunk, index, o:o + size, o:o + size])
        parts.append(extract_lbp(c, color_space=color_space, workers=workers,
                                 progress=progress))
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def lbp_baseline(
    cache: Any,
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
) -> pd.DataFrame:
    """Colour-texture LBP + SVM per scale (and on the scales' concatenated histograms).

    The LBP histograms are computed on the same centre ``size`` x ``size`` crop the CNNs see
    at test time; the SVM is fit on ``train`` and scores ``dev`` / ``test``; metrics and files
    (``scores.csv``, ``results.json``) are those of :func:`fas_lib.train.run_experiment`, in
    ``out_root/lbp-<colour space>-<scale or group>-<hash>``; existing results are read back.

    Args:
        cache: opened crop cache.
        scales: scales to evaluate one by one.
        color_space: :mod:`fas_lib.lbp` colour space (Boulkenafet et al.: ``"hsv+ycbcr"``).
        out_root: folder of the run folders.
        multiscale: add a row for the concatenation of all ``scales``' histograms.
        kernel, C: :class:`fas_lib.lbp.LBPSVM` settings.
        size: side of the centre crop.
        workers: LBP worker processes.
        seed: SVM seed.
        progress: tqdm bar over the scales.

    Returns:
        One row per scale (and ``"multi"``): ``scale``, ``color_space``, :func:`summarise`
        columns, ``run_dir``.
    """
    import time

    from tqdm.auto import tqdm

    from fas_lib.lbp import train_lbp_svm

    idx = scale_indices(cache, scales)
    splits = [s for s in ("train", "dev", "test")
              if s in set(cache.table["split"].astype(str))]
    if "train" not in splits or "test" not in splits:
        raise ValueError(f"the LBP baseline needs train and test splits; cache has {splits}")
    settings = dict(color_space=color_space, kernel=kernel, C=C, size=size, seed=seed,
                    data=data_key(cache))
    jobs: list[tuple[str, list[int]]] = [(f"{s:g}", [i]) for s, i in zip(scales, idx,
                                                                          strict=True)]
    if multiscale and len(scales) > 1:
        jobs.append((_label(scales), idx))
    feats: dict[tuple[str, int], np.ndarray] = {}
    rows = []
    bar = tqdm(jobs, desc=f"LBP {color_space}", unit="run", disable=not progress)
    for name, ids in bar:
        spec = {**settings, "scales": [float(cache.scales[i]) for i in ids]}
        d = Path(out_root) / f"lbp-{color_space}-{name}-{_hash(spec)}"
        res_path = d / RESULTS
        if res_path.is_file():
            res = json.loads(res_path.read_text(encoding="utf-8"))
        else:
            t0 = time.perf_counter()
            for sp in splits:
                for i in ids:
                    if (sp, i) not in feats:
                        feats[(sp, i)] = _lbp_features(cache, sp, i, color_space, size,
                                                       workers, False)
            t_feat = time.perf_counter() - t0
            x = {sp: np.concatenate([feats[(sp, i)] for i in ids], axis=1) for sp in splits}
            y_train = cache.frames("train")["label"].to_numpy().astype(int)
            svm = train_lbp_svm(x["train"], y_train, seed=seed, kernel=kernel, C=C)
            tables = []
            for sp in splits:
                if sp == "train":
                    continue
                fr = cache.frames(sp)
                tables.append(pd.DataFrame({
                    "split": sp, "video_id": fr["video_id"].astype(str).to_numpy(),
                    "frame_idx": fr["frame_idx"].astype(int).to_numpy(),
                    "label": fr["label"].astype(int).to_numpy(),
                    "attack_type": fr["attack_type"].astype(str).to_numpy(),
                    "score": svm.score(x[sp])}))
            scores = pd.concat(tables, ignore_index=True)
            res = {"complete": True, "name": f"lbp-{color_space}-{name}", "config": spec,
                   "metrics": evaluate_scores(scores),
                   "timing": {"train_seconds": time.perf_counter() - t0,
                              "feature_seconds": t_feat, "train_samples_per_s": None},
                   "scores_csv": SCORES}
            atomic_write_text(d / SCORES, scores.to_csv(index=False))
            save_results(res, Path(RESULTS).stem, d)
        rows.append({"scale": name, "color_space": color_space, **summarise(res),
                     "run_dir": str(d)})
    return pd.DataFrame(rows)


def config_grid(**fields: Sequence[Any]) -> list[ExperimentConfig]:
    """All combinations of the given :class:`ExperimentConfig` fields (a small sweep helper)."""
    import itertools

    names = list(fields)
    return [ExperimentConfig(**dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*(fields[n] for n in names))]
