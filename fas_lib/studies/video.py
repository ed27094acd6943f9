"""Notebook 09's study of video models: STASN's ablations, "so does data", MS-FANS over time.

The runs are :class:`~fas_lib.training.clip_inputs.ClipConfig` s trained by
:func:`fas_lib.training.clips.run_clip_many` (resumable, one folder per run). What this module adds:

* **the grids** (:func:`stasn_grid`): STASN built up branch by branch (``temporal`` = TASM
  only, ``spatial`` = RAM + SASM only, ``both``), then ``K`` (regions per frame) and ``t``
  (frames per clip) varied one at a time around the full model; identical cells share a run;
* **the data ablation** ("model matters, so does data", Yang et al., CVPR 2019): replays
  synthesized from the live videos of the training and dev subjects
  (:func:`synthesize_replays`, :func:`fas_lib.replay.synthesis.synthesize_protocol`), and
  :func:`replay_data`: train (and fix the threshold on dev) with live videos plus the real
  replays, plus the synthesized replays only, or plus both; test on the live videos and the
  **real** replays of the test subjects;
  :func:`data_ablation` trains every cell with one or more seeds (one more, up to a limit,
  while two cells differ by less than their interval) and :func:`data_ablation_table` gives
  each cell's video-level metrics (means over its seeds) and, for each pair of cells
  (:data:`DATA_PAIRS`), the difference of their test EERs with a bootstrap interval over test
  subjects (:func:`fas_lib.evaluation.metrics.bootstrap_eers`: every cell and seed scored on the
  same resample). The synthesized replays come from a simulator independent of SynthSpoof's
  (:mod:`fas_lib.replay.synthesis`): the ablation shows whether an independent simulator's replays
  teach a model SynthSpoof's replays, not whether they would teach it real ones;
* **the comparison** (:func:`compare_runs`): test scores of two runs on the same clips, the
  paired bootstrap of their EER difference over test subjects
  (:func:`fas_lib.evaluation.metrics.paired_bootstrap_eer`);
* :func:`result_row`: the video-level EER / HTER / APCER / BPCER / ACER of a run, one row;
  :func:`run_cells` runs a list of cells and returns their rows.

The attention statistic is :mod:`fas_lib.studies.video_attention`; the figures
:mod:`fas_lib.viz.video`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.cache.clips import ClipSet
from fas_lib.data.protocol import SkipLog
from fas_lib.evaluation.metrics import bootstrap_eers, paired_bootstrap_eer
from fas_lib.evaluation.scores import align_scores
from fas_lib.models.stasn.model import BRANCHES
from fas_lib.replay.synthesis import ATTACK_TYPE, ReplaySettings, synthesize_protocol
from fas_lib.training.clip_inputs import ClipConfig, ClipData, ClipSource, split_data, subset_clips
from fas_lib.training.clips import run_clip_many
from fas_lib.training.runs import SCORES, read_run_scores

__all__ = [
    "DATA_CELLS", "DATA_PAIRS", "METRICS", "REPLAY_WORDS", "compare_runs",
    "data_ablation", "data_ablation_table", "is_real_replay", "replay_data", "result_row",
    "run_cells", "run_data_cells", "split_data", "stasn_grid", "stasn_name",
    "synthesize_replays", "undecided",
]

#: The data ablation's training sets (:func:`replay_data`).
DATA_CELLS: tuple[str, ...] = ("real", "synth", "both")
#: The data ablation's comparisons ``(a, b)``: test EER of ``a`` minus that of ``b``.
DATA_PAIRS: tuple[tuple[str, str], ...] = (("synth", "real"), ("both", "real"),
                                           ("synth", "both"))
#: Words of replay attack types: SynthSpoof's ``replay_*``, CASIA-FASD's ``video_replay``,
#: OULU-NPU's ``replay1/2``, Replay-Attack's ``mobile`` / ``highdef`` displays.
REPLAY_WORDS: tuple[str, ...] = ("replay", "video", "display", "screen", "mobile", "highdef",
                                 "tablet")
#: Video-level metrics of every row (:func:`result_row`), rates in [0, 1].
METRICS: tuple[str, ...] = ("dev_eer", "test_eer", "test_hter", "test_apcer", "test_bpcer",
                            "test_acer", "test_auc")


def stasn_name(cfg: ClipConfig) -> str:
    """``stasn-<branches>-k<K>-t<t>``: equal cells of the grids get equal names (one run)."""
    k = f"-k{cfg.n_regions}" if cfg.branches != "temporal" else ""
    return f"stasn-{cfg.branches}{k}-t{cfg.t}"


def stasn_grid(base: ClipConfig, branches: Sequence[str] = ("temporal", "spatial", "both"),
               ks: Sequence[int] = (1, 2, 4), ts: Sequence[int] = (1, 4, 8)
               ) -> list[tuple[str, str, ClipConfig]]:
    """The ablation cells ``(study, value, config)`` around the full STASN ``base``.

    ``"branches"`` varies the modules (``base``'s ``K`` and ``t``), ``"regions"`` the number of
    regions ``K`` and ``"frames"`` the clip length ``t`` (both branches). A cell equal to another
    (e.g. ``both`` = ``K = 4`` = ``t = 8``) has the same config and name, so one run serves both.

    Raises:
        ValueError: ``base`` is not a STASN config, or an unknown branch.
    """
    if base.model != "stasn":
        raise ValueError(f"stasn_grid needs a STASN config, got model={base.model!r}")
    bad = sorted(set(branches) - set(BRANCHES))
    if bad:
        raise ValueError(f"unknown branches {bad}; expected some of {BRANCHES}")
    cells = [("branches", b, dataclasses.replace(base, branches=b)) for b in branches]
    cells += [("regions", f"K={k}", dataclasses.replace(base, branches="both", n_regions=int(k)))
              for k in ks]
    cells += [("frames", f"t={t}", dataclasses.replace(base, branches="both", t=int(t)))
              for t in ts]
    return [(s, v, dataclasses.replace(c, name=stasn_name(c))) for s, v, c in cells]


def is_real_replay(attack_type: str) -> bool:
    """Whether an attack type is a recorded replay (screen, video, display), not a print or mask
    and not a synthesized replay (:data:`fas_lib.replay.synthesis.ATTACK_TYPE`)."""
    name = str(attack_type).lower()
    return name != ATTACK_TYPE and any(w in name for w in REPLAY_WORDS)


def synthesize_replays(table: pd.DataFrame, root: str | Path, out_root: str | Path,
                       seed: int = 0, splits: Sequence[str] = ("train", "dev"),
                       settings: ReplaySettings | None = None) -> tuple[pd.DataFrame, SkipLog]:
    """Synthesized replays of the live videos of ``splits`` (:func:`synthesize_protocol`).

    The test split is left out: the test replays are the real ones. Existing outputs are kept
    (a second call is cheap). Writes ``out_root/protocol.csv``, readable by the ``csv``
    adapter (``get_clips("csv", out_root, ...)``).

    Returns:
        ``(replays, skips)``: the replays' protocol table and the skipped live videos.
    """
    live = table[(table["label"] == 1) & table["split"].isin(list(splits))]
    if live.empty:
        raise ValueError(f"the protocol table has no live video in the splits {list(splits)}")
    return synthesize_protocol(live, root, out_root, settings=settings, seed=seed)


def replay_data(cache: Any, clips: dict[str, ClipSet], synth_cache: Any,
                synth_clips: dict[str, ClipSet], train_on: str) -> ClipData:
    """The data ablation's clips: live + real replays, + synthesized replays, or + both.

    ``train`` and ``dev`` hold the live clips with the replays of ``train_on`` (``"real"``,
    ``"synth"``, ``"both"``); ``test`` the live clips and the real replays of the test subjects.
    Prints and other attacks are left out everywhere.

    Raises:
        ValueError: unknown ``train_on``, or a split without live clips or without replays.
    """
    if train_on not in DATA_CELLS:
        raise ValueError(f"train_on must be one of {DATA_CELLS}, got {train_on!r}")
    data: ClipData = {}
    for split in ("train", "dev", "test"):
        c = clips[split]
        types = c.videos["attack_type"].astype(str)
        real = np.array([is_real_replay(a) for a in types]) & (c.labels == 0)
        parts = [ClipSource(cache, subset_clips(c, c.labels == 1))]
        if split == "test" or train_on in ("real", "both"):
            parts.append(ClipSource(cache, subset_clips(c, real)))
        if split != "test" and train_on in ("synth", "both"):
            parts.append(ClipSource(synth_cache, synth_clips[split]))
        if len(parts[0]) == 0 or sum(len(p) for p in parts[1:]) == 0:
            raise ValueError(f"the data ablation's {split} split needs live clips and replays; "
                             f"it has {[len(p) for p in parts]} clips per source")
        data[split] = [p for p in parts if len(p)]
    return data


def result_row(res: dict[str, Any], score: str = "score") -> dict[str, Any]:
    """The video-level metrics of a clip run (:data:`METRICS`, ``worst_type``), its name,
    training time and clips/s. ``score="score_one_frame"`` reads the one-frame metrics of a
    ``"msfans_frame"`` run."""
    metrics = res["metrics_one_frame" if score == "score_one_frame" else "metrics"]["video"]
    row = {"name": res["name"], **{k: metrics[k] for k in METRICS},
           "worst_type": metrics["test_worst_type"],
           "n_test_clips": metrics.get("n_test_videos")}
    row["train_seconds"] = res["timing"]["train_seconds"]
    row["train_clips_per_s"] = res["timing"]["train_clips_per_s"]
    return row


def _test_scores(run_dir: str | Path, column: str) -> pd.DataFrame:
    s = read_run_scores(run_dir, "test")
    if column not in s:
        raise ValueError(f"{run_dir}/{SCORES} has no column {column!r}")
    return s[["video_id", "subject", "label", column]].rename(columns={column: "score"})


def compare_runs(a: str | Path, b: str | Path, score_a: str = "score", score_b: str = "score",
                 n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Is run ``a``'s test EER lower than run ``b``'s? Paired bootstrap over test subjects.

    Both runs must have scored the same test clips (matched by ``video_id``). With fewer than
    two test subjects (the smoke data) the clusters are the videos, and ``cluster`` says so.

    Returns:
        :func:`fas_lib.evaluation.metrics.paired_bootstrap_eer`'s dict plus ``cluster`` and
        ``n_clips``.

    Raises:
        ValueError: the runs scored different test clips.
    """
    sa, sb = _test_scores(a, score_a), _test_scores(b, score_b)
    both = sa.merge(sb, on=["video_id", "subject", "label"], suffixes=("_a", "_b"))
    if len(both) != len(sa) or len(both) != len(sb):
        raise ValueError(f"the runs scored different test clips ({len(sa)} and {len(sb)}, "
                         f"{len(both)} shared)")
    cluster = "subject" if both["subject"].nunique() >= 2 else "video_id"
    out = paired_bootstrap_eer(both["label"], both["score_a"], both["score_b"], both[cluster],
                               n_boot=n_boot, seed=seed)
    return {**out, "cluster": cluster.replace("_id", ""), "n_clips": len(both)}


def run_cells(cells: Sequence[tuple[str, str, ClipConfig]], data: ClipData,
              out_root: str | Path, progress: bool = True) -> pd.DataFrame:
    """Run (or read back) the cells ``(study, value, config)`` on ``data``; one row per cell:
    ``study``, ``value``, :func:`result_row`'s columns and ``run_dir``. Cells with equal
    configs share one run (:func:`fas_lib.training.clips.run_clip_many` reads it back)."""
    results = run_clip_many([c for _, _, c in cells], data, out_root, progress,
                            desc=f"{len(cells)} cells")
    return pd.DataFrame([{"study": s, "value": v, **result_row(r), "run_dir": r["run_dir"]}
                         for (s, v, _), r in zip(cells, results)])


def run_data_cells(base: ClipConfig, data: Mapping[str, ClipData], out_root: str | Path,
                   seeds: Sequence[int] = (0,), progress: bool = True) -> pd.DataFrame:
    """Train ``base`` (the full STASN) on each cell's data (``{cell: replay_data(...)}``) with
    each seed: the run ``data-<cell>-seed<seed>``, read back when it exists.

    Returns:
        One row per cell and seed: :func:`run_cells`' columns (``study`` ``"data"``,
        ``value`` the cell, ``run_dir``) and ``seed``.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("the data ablation needs at least one seed")
    parts = []
    for cell, cell_data in data.items():
        cfgs = [("data", cell, dataclasses.replace(base, name=f"data-{cell}-seed{s}", seed=s))
                for s in seeds]
        parts.append(run_cells(cfgs, cell_data, out_root, progress).assign(seed=seeds))
    return pd.concat(parts, ignore_index=True)


def _cell_row(rows: pd.DataFrame, interval: np.ndarray) -> dict[str, Any]:
    """One cell of the data ablation: its seeds' video-level metrics averaged, the seeds' test
    EER spread and the bootstrap interval of the mean test EER."""
    out = {"study": "data", "value": str(rows["value"].iloc[0]), "n_seeds": len(rows),
           "seeds": [int(x) for x in rows["seed"]]}
    out.update({m: float(rows[m].mean()) for m in METRICS})
    out["test_eer_sd"] = float(rows["test_eer"].std(ddof=1)) if len(rows) > 1 else None
    out["test_eer_ci_low"], out["test_eer_ci_high"] = (float(v) for v in interval)
    out["worst_type"] = str(rows["worst_type"].mode().iloc[0])
    out["n_test_clips"] = rows["n_test_clips"].iloc[0]
    out["train_seconds"] = float(rows["train_seconds"].sum())
    return out


def data_ablation_table(runs: pd.DataFrame, pairs: Sequence[tuple[str, str]] = DATA_PAIRS,
                        n_boot: int = 1000, seed: int = 0, level: float = 0.95
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The data ablation with intervals, from :func:`run_data_cells`' rows.

    A cell's test EER is the mean over its seeds; the bootstrap resamples test subjects (the
    videos with fewer than two subjects, the smoke data) and scores every cell and seed on
    the same resample (:func:`fas_lib.evaluation.metrics.bootstrap_eers`), so a pair's difference is
    paired.

    Returns:
        ``(cells, comparisons)``. ``cells``: one row per cell, in ``runs``' order: ``study``,
        ``value``, ``n_seeds``, ``seeds``, :data:`METRICS` (means over the seeds),
        ``test_eer_sd`` (over the seeds), ``test_eer_ci_low`` / ``_high`` (bootstrap),
        ``worst_type``, ``n_test_clips``, ``train_seconds`` (all seeds). ``comparisons``: one
        row per pair ``(a, b)``: ``label`` ``"a - b"``, ``a``, ``b``, ``diff`` (``EER(a) -
        EER(b)``; negative: ``a`` better), ``eer_a``, ``eer_b``, ``ci_low``, ``ci_high``,
        ``p_a_better``, ``p_tie``, ``decided`` (the interval excludes 0), ``diff_per_seed``
        (the seeds both cells ran), ``n_boot``, ``n_clusters``, ``n_redrawn``, ``cluster``,
        ``level``.

    Raises:
        ValueError: a pair names a cell without runs, the runs scored different test clips.
    """
    names = list(dict.fromkeys(runs["value"].astype(str)))
    missing = sorted({c for pair in pairs for c in pair} - set(names))
    if missing:
        raise ValueError(f"no runs of the cells {missing}; the runs have {names}")
    dirs = [str(d) for d in runs["run_dir"]]
    info, scores = align_scores([_test_scores(d, "score") for d in dirs], dirs, ["video_id"],
                                what="clips")
    cluster = "subject" if info["subject"].nunique() >= 2 else "video_id"
    full, reps, redrawn = bootstrap_eers(info["label"], scores, info[cluster], n_boot, seed)
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    idx = {c: np.flatnonzero(runs["value"].astype(str).to_numpy() == c) for c in names}
    mean = {c: reps[:, idx[c]].mean(axis=1) for c in names}
    cells = pd.DataFrame([_cell_row(runs.iloc[idx[c]], np.quantile(mean[c], q)) for c in names])
    rows = []
    for a, b in pairs:
        d, ea, eb = mean[a] - mean[b], float(full[idx[a]].mean()), float(full[idx[b]].mean())
        lo, hi = (float(v) for v in np.quantile(d, q))
        sa, sb = (dict(zip(runs["seed"].iloc[idx[c]], full[idx[c]])) for c in (a, b))
        rows.append({"label": f"{a} - {b}", "a": a, "b": b, "diff": ea - eb, "eer_a": ea,
                     "eer_b": eb, "ci_low": lo, "ci_high": hi,
                     "p_a_better": float(np.mean(d < 0)), "p_tie": float(np.mean(d == 0)),
                     "decided": not lo <= 0.0 <= hi,
                     "diff_per_seed": [float(sa[k] - sb[k]) for k in sa if k in sb],
                     "n_boot": int(n_boot), "n_clusters": int(info[cluster].nunique()),
                     "n_redrawn": int(redrawn), "cluster": cluster.replace("_id", ""),
                     "level": float(level)})
    return cells, pd.DataFrame(rows)


def undecided(comparisons: pd.DataFrame) -> bool:
    """Whether two cells differ by less than their interval (an interval holds 0)."""
    return bool(len(comparisons)) and not bool(comparisons["decided"].all())


def data_ablation(base: ClipConfig, data: Mapping[str, ClipData], out_root: str | Path,
                  seeds: Sequence[int] = (0,), max_seeds: int = 2, n_boot: int = 1000,
                  boot_seed: int = 0, progress: bool = True
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run the data ablation's cells (:func:`run_data_cells`) with ``seeds``, then with one
    more seed at a time while two cells differ by less than their interval
    (:func:`undecided`), up to ``max_seeds``; returns ``(runs, cells, comparisons)``
    (:func:`data_ablation_table`)."""
    seeds = [int(s) for s in seeds]
    while True:
        runs = run_data_cells(base, data, out_root, seeds, progress)
        cells, comparisons = data_ablation_table(runs, n_boot=n_boot, seed=boot_seed)
        if not undecided(comparisons) or len(seeds) >= max_seeds:
            return runs, cells, comparisons
        seeds.append(max(seeds) + 1)
