"""Notebook 09's study of video models: STASN's ablations, "so does data", MS-FANS over time.

The runs are :class:`~fas_lib.clip_inputs.ClipConfig` s trained by
:func:`fas_lib.clip_train.run_clip_many` (resumable, one folder per run). What this module adds:

* **the grids** (:func:`stasn_grid`): STASN built up branch by branch (``temporal`` = TASM
  only, ``spatial`` = RAM + SASM only, ``both``), then ``K`` (regions per frame) and ``t``
  (frames per clip) varied one at a time around the full model; identical cells share a run;
* **the data ablation** ("model matters, so does data", Yang et al., CVPR 2019): replays
  synthesized from the live videos of the training and dev subjects
  (:func:`synthesize_replays`, :func:`fas_lib.synthesis.synthesize_protocol`), and
  :func:`replay_data`: train (and fix the threshold on dev) with live videos plus the real
  replays, plus the synthesized replays only, or plus both; test on the live videos and the
  **real** replays of the test subjects;
* **the comparison** (:func:`compare_runs`): test scores of two runs on the same clips, the
  paired bootstrap of their EER difference over test subjects
  (:func:`fas_lib.metrics.paired_bootstrap_eer`);
* :func:`result_row`: the video-level EER / HTER / APCER / BPCER / ACER of a run, one row;
  :func:`run_cells` runs a list of cells and returns their rows.

The attention statistic is :mod:`fas_lib.video_attention`; the figures :mod:`fas_lib.video_plots`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.clip_inputs import ClipConfig, ClipData, ClipSource, subset_clips
from fas_lib.clip_train import run_clip_many
from fas_lib.clips import ClipSet
from fas_lib.metrics import paired_bootstrap_eer
from fas_lib.models.stasn import BRANCHES
from fas_lib.protocol import SkipLog
from fas_lib.runs import SCORES
from fas_lib.scoring import read_scores
from fas_lib.synthesis import ATTACK_TYPE, ReplaySettings, synthesize_protocol

__all__ = [
    "DATA_CELLS", "METRICS", "REPLAY_WORDS", "compare_runs", "is_real_replay", "replay_data",
    "result_row", "run_cells", "split_data", "stasn_grid", "stasn_name", "synthesize_replays",
]

#: The data ablation's training sets (:func:`replay_data`).
DATA_CELLS: tuple[str, ...] = ("real", "synth", "both")
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


def split_data(cache: Any, clips: dict[str, ClipSet]) -> ClipData:
    """One source per split: ``{"train": [ClipSource(cache, clips["train"])], ...}``."""
    return {s: [ClipSource(cache, c)] for s, c in clips.items() if len(c)}


def is_real_replay(attack_type: str) -> bool:
    """Whether an attack type is a recorded replay (screen, video, display), not a print or mask
    and not a synthesized replay (:data:`fas_lib.synthesis.ATTACK_TYPE`)."""
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
    s = read_scores(Path(run_dir) / SCORES)
    if column not in s:
        raise ValueError(f"{run_dir}/scores.csv has no column {column!r}")
    return s[s["split"] == "test"][["video_id", "subject", "label", column]].rename(
        columns={column: "score"})


def compare_runs(a: str | Path, b: str | Path, score_a: str = "score", score_b: str = "score",
                 n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Is run ``a``'s test EER lower than run ``b``'s? Paired bootstrap over test subjects.

    Both runs must have scored the same test clips (matched by ``video_id``). With fewer than
    two test subjects (the smoke data) the clusters are the videos, and ``cluster`` says so.

    Returns:
        :func:`fas_lib.metrics.paired_bootstrap_eer`'s dict plus ``cluster`` and ``n_clips``.

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
    return {**out, "cluster": cluster.replace("_id", ""), "n_clips": int(len(both))}


def run_cells(cells: Sequence[tuple[str, str, ClipConfig]], data: ClipData,
              out_root: str | Path, progress: bool = True) -> pd.DataFrame:
    """Run (or read back) the cells ``(study, value, config)`` on ``data``; one row per cell:
    ``study``, ``value``, :func:`result_row`'s columns and ``run_dir``. Cells with equal
    configs share one run (:func:`fas_lib.clip_train.run_clip_many` reads it back)."""
    results = run_clip_many([c for _, _, c in cells], data, out_root, progress,
                            desc=f"{len(cells)} cells")
    return pd.DataFrame([{"study": s, "value": v, **result_row(r), "run_dir": r["run_dir"]}
                         for (s, v, _), r in zip(cells, results)])
