"""Run folders: where a training run lives, what it holds, and how it is read back.

A run folder (:func:`run_dir`: ``out_root/<run name>-<hash of the config and the data>``) holds:

* ``checkpoint.pt`` (:data:`CHECKPOINT`): model, optimiser, scheduler, RNG states, epoch,
  history; written atomically after every epoch (:func:`save_checkpoint`) and read with
  ``torch.load(..., weights_only=True)`` (:func:`load_checkpoint`);
* ``best.pt`` (:data:`BEST`, runs with ``select_on_dev``): the weights of the epoch of lowest
  dev EER so far (:func:`selected_epoch`), the model that scores test;
* ``scores.csv`` (:data:`SCORES`): the scores table of :mod:`fas_lib.training.scoring`;
* ``results.json`` (:data:`RESULTS`): the resolved config, the metrics, per-epoch history,
  timing and samples/s.

:func:`write_run` is the one writer of ``scores.csv`` and ``results.json`` (CNN runs through
:func:`score_and_write`, the LBP baseline directly); :func:`read_results` reads a finished
run back. :func:`load_run` rebuilds a run's trained model (:func:`extract_run_features`: its
per-scale features), :func:`evaluate_run` recomputes its metrics (``fas evaluate``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from fas_lib.cache.reader import CropCache
from fas_lib.core.utils import atomic_path, rng_state, save_results, set_rng_state
from fas_lib.evaluation.scores import (
    evaluate_scores,
    mean_weights,
    read_scores,
    write_scores,
)
from fas_lib.models import MultiScaleNet
from fas_lib.training.config import (
    ExperimentConfig,
    build_model,
    cache_splits,
    open_experiment_cache,
    scale_indices,
    train_dataset,
)
from fas_lib.training.scoring import ScaleFeatures, extract_scale_features, score_split

__all__ = [
    "BEST", "CHECKPOINT", "RESULTS", "SCORES", "config_hash", "data_key", "evaluate_run",
    "extract_run_features", "load_checkpoint", "load_run", "read_results", "read_run_scores",
    "restore_training", "run_dir", "save_checkpoint", "score_and_write", "selected_epoch",
    "selection_report", "training_checkpoint", "write_run",
]

BEST = "best.pt"
CHECKPOINT = "checkpoint.pt"
RESULTS = "results.json"
SCORES = "scores.csv"


# ----------------------------------------------------------------------------- folder names


def config_hash(obj: Any) -> str:
    """8 hex digits of the SHA-1 of ``obj`` as sorted JSON (run folder names)."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:8]


def data_key(cache: CropCache) -> str:
    """A short fingerprint of the data in a crop cache, independent of where it is stored.

    It covers the dataset, protocol and fold, the cache parameters (crop size, frames per
    video...), the dataset folder's *name* (for SynthSpoof: the hash of the generation
    parameters and the generator version) and the frame counts per split. A run trained on
    other data (a new generator version, a re-made cache, another fold) so gets another run
    folder instead of being read back; moving ``$FAS_DATA_DIR`` does not. *Which* scales a
    cache holds is left out: a crop at one scale does not depend on the others cut with it
    (tested), and a run's own scales are part of its folder name, so a cache cut at more scales
    (notebook 07's, up to 4.0) reads back the runs of the paper's seven (notebooks 03-06).
    """
    m = cache.manifest
    ident = {k: m.get(k) for k in ("dataset", "protocol", "fold")}
    ident["params"] = {k: v for k, v in (m.get("params") or {}).items() if k != "scales"}
    ident["root_name"] = Path(str(m.get("root", ""))).name
    ident["frames"] = (m.get("counts") or {}).get("frames")
    return config_hash(ident)


def run_dir(config: ExperimentConfig, out_root: str | Path, cache: CropCache | None = None) -> Path:
    """``out_root/<run name>-<hash>``: hash of the resolved config (device left out) and, when
    ``cache`` is given, of the data it holds (:func:`data_key`)."""
    cfg = config.resolve()
    d = cfg.to_dict()
    d.pop("device", None)
    if cache is not None:
        d["data"] = data_key(cache)
    return Path(out_root) / f"{cfg.name}-{config_hash(d)}"


# ----------------------------------------------------------------------------- checkpoints

LOW_DISK_BYTES = 256 * 2**20  # a failed checkpoint write with less free than this: disk full



def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (:func:`fas_lib.core.utils.atomic_path`).

    A full disk makes ``torch.save`` fail with a zip writer's ``unexpected pos`` message; it is
    raised as an ``OSError`` that says so (the checkpoint before it is kept).
    """
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except (RuntimeError, OSError) as exc:
        free = shutil.disk_usage(Path(path).parent).free
        if free >= LOW_DISK_BYTES:
            raise
        raise OSError(errno.ENOSPC, f"cannot write checkpoint {path}: the disk is full "
                      f"({free / 2**20:.0f} MiB free); free some space and run again "
                      f"(training resumes from the last checkpoint)") from exc


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; ``ValueError`` when it is unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt / truncated file
        raise ValueError(
            f"cannot read checkpoint {path} ({exc}); delete it or run with resume=False"
        ) from exc


def training_checkpoint(epoch: int, parts: Mapping[str, Any], config: dict[str, Any],
                        history: list[dict[str, Any]], train_seconds: float,
                        **extra: Any) -> dict[str, Any]:
    """What every trainer saves after an epoch (:func:`restore_training` reads it back):
    ``epoch`` (epochs done), the ``state_dict()`` of each of ``parts`` under its name
    (``model``, ``optimizer``, ``scheduler``, ...), the RNG states, the config and the history
    as JSON, the training seconds, and ``extra`` as given."""
    return {"epoch": int(epoch), **{name: p.state_dict() for name, p in parts.items()},
            "rng": rng_state(), "config": json.dumps(config), "history": json.dumps(history),
            "train_seconds": float(train_seconds), **extra}


def restore_training(
    path: Path, config: dict[str, Any], parts: Mapping[str, Any], *, rng: bool = True,
    comparable: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> tuple[int, list[dict[str, Any]], float]:
    """Load a :func:`training_checkpoint` into ``parts`` (and the RNGs when ``rng``).

    Args:
        path: the checkpoint file.
        config: the config of the run resuming; the checkpoint's must equal it (compared
            through ``comparable`` when given: keys that do not change the training dropped).
        parts: name -> object with ``load_state_dict``, loaded from the entry of that name.
        rng: restore the RNG states too (resuming training; not for scoring).
        checkpoint: the checkpoint when the caller has read it already (``path`` not read again).

    Returns:
        ``(epochs done, history, train seconds)``.

    Raises:
        ValueError: the checkpoint is unreadable or belongs to another config.
    """
    ck = load_checkpoint(path) if checkpoint is None else checkpoint
    saved, same = json.loads(ck["config"]), comparable or (lambda d: d)
    if same(saved) != same(config):
        diff = sorted(k for k in set(same(saved)) | set(same(config))
                      if saved.get(k) != config.get(k))
        raise ValueError(f"{path} belongs to a run with another config (a different config in "
                         f"{diff}); use another out_dir or resume=False")
    for name, p in parts.items():
        p.load_state_dict(ck[name])
    if rng:
        set_rng_state(ck["rng"])
    return int(ck["epoch"]), json.loads(ck["history"]), float(ck["train_seconds"])


def load_run(out_dir: str | Path, device: str = "cpu") -> tuple[MultiScaleNet, ExperimentConfig]:
    """The trained model (eval mode) and resolved config of a run folder.

    For a run with ``select_on_dev``, the model is the selected epoch's (:data:`BEST`), the one
    that scored its test split.
    """
    ck_path = Path(out_dir) / CHECKPOINT
    if not ck_path.is_file():
        raise FileNotFoundError(f"no checkpoint in {out_dir}: train it with run_experiment")
    ck = load_checkpoint(ck_path)
    cfg = ExperimentConfig.from_dict(json.loads(ck["config"]))
    best = Path(out_dir) / BEST
    state = load_checkpoint(best)["model"] if cfg.select_on_dev and best.is_file() else ck["model"]
    model = build_model(cfg)
    model.load_state_dict(state)
    return model.to(device).eval(), cfg


def extract_run_features(
    out_dir: str | Path,
    split: str = "test",
    cache: CropCache | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> ScaleFeatures:
    """:func:`fas_lib.training.scoring.extract_scale_features` of a run folder's model
    (:func:`load_run`)."""
    return extract_scale_features(load_run(out_dir), split, cache, batch_size, progress)


def selected_epoch(history: list[dict[str, Any]]) -> int | None:
    """The epoch of lowest ``dev_eer`` in a run's history; ties go to the later epoch (it has
    trained longer at the same dev error). ``None`` when no epoch was scored on dev."""
    scored = [(h["dev_eer"], h["epoch"]) for h in history if h.get("dev_eer") is not None]
    if not scored:
        return None
    key = [(math.inf if math.isnan(e) else e, -ep) for e, ep in scored]
    return -min(key)[1]


def selection_report(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What dev selection chose and how much it could tell (``None``: nothing scored on dev).

    ``epoch`` (:func:`selected_epoch`), every epoch's ``dev_eer``, ``tied`` (the epochs at the
    lowest dev EER) and ``blind``: the lowest dev EER is 0 at more than one epoch, so dev cannot
    rank them and the choice among them is the tie rule's, not the data's (a dev split from the
    training sessions often separates perfectly while a shifted test does not; issue 21).
    """
    epoch = selected_epoch(history)
    if epoch is None:
        return None
    scored = [(h["epoch"], h["dev_eer"]) for h in history if h.get("dev_eer") is not None
              and not math.isnan(h["dev_eer"])]
    best = min((e for _, e in scored), default=None)  # None: dev EER undefined every epoch
    tied = [ep for ep, e in scored if e == best]
    return {"epoch": epoch, "dev_eer": [h.get("dev_eer") for h in history], "tied": tied,
            "blind": bool(best == 0 and len(tied) > 1),
            "rule": "lowest frame-level dev EER after an epoch; ties: the later epoch"}


# ----------------------------------------------------------------------------- results


def write_run(out: Path, results: dict[str, Any], scores: pd.DataFrame | None = None) -> None:
    """Write a run folder's ``scores.csv`` (when ``scores`` is given) and ``results.json``."""
    if scores is not None:
        write_scores(scores, out / SCORES)
    save_results(results, Path(RESULTS).stem, out)


def read_results(out: str | Path) -> dict[str, Any] | None:
    """A run folder's ``results.json`` (``None`` when there is none)."""
    res_path = Path(out) / RESULTS
    if not res_path.is_file():
        return None
    return json.loads(res_path.read_text(encoding="utf-8"))


def read_run_scores(out: str | Path, split: str | None = None) -> pd.DataFrame:
    """A run folder's scores table (``scores.csv``), only ``split``'s rows when it is given."""
    scores = read_scores(Path(out) / SCORES)
    return scores if split is None else scores[scores["split"] == split]


def _timing(history: list[dict[str, Any]], train_seconds: float, eval_seconds: float,
            n_scored: int, device: str) -> dict[str, Any]:
    trained = sum(h["samples_per_s"] * h["seconds"] for h in history)
    return {
        "train_seconds": train_seconds,
        "train_samples_per_s": trained / train_seconds if train_seconds > 0 else None,
        "eval_seconds": eval_seconds,
        "eval_samples_per_s": n_scored / eval_seconds if eval_seconds > 0 else None,
        "device": device,
        "threads": torch.get_num_threads(),
    }


def score_and_write(model: MultiScaleNet, cfg: ExperimentConfig, cache: CropCache,
                    idx: list[int], out: Path, device: str, progress: bool,
                    history: list[dict[str, Any]], train_seconds: float, n_train: int,
                    max_iter: int) -> dict[str, Any]:
    """Score ``dev`` / ``test`` with a trained model, compute the metrics, write the run folder.

    Returns:
        ``results.json``'s content.
    """
    t0 = time.perf_counter()
    splits = [s for s in ("dev", "test") if s in cache_splits(cache)]
    tables = [score_split(model, cache, s, idx, cfg.scales, cfg.eval_batch_size, device,
                          progress, with_aux=cfg.aux_weight > 0) for s in splits]
    eval_seconds = time.perf_counter() - t0
    scores = pd.concat(tables, ignore_index=True)
    results = {
        "complete": True,
        "name": cfg.name,
        "config": cfg.to_dict(),
        "metrics": evaluate_scores(scores),
        "history": history,
        "timing": _timing(history, train_seconds, eval_seconds, len(scores), device),
        "data": {"n_train_frames": n_train, "iterations": max_iter,
                 "cache": str(getattr(cache, "path", "")), "cache_scales": list(cache.scales)},
        "learned_weights": mean_weights(scores, cfg.scales),
        "scores_csv": SCORES,
    }
    if cfg.select_on_dev:
        results["selection"] = selection_report(history)
        if results["selection"] and results["selection"]["blind"]:
            warnings.warn(f"{cfg.name}: dev EER is 0 at epochs {results['selection']['tied']}; "
                          "dev selection cannot rank them (the later is kept). A dev split "
                          "that separates perfectly says nothing about a shifted test.",
                          stacklevel=2)
    write_run(out, results, scores)
    return results


def _rescore_run(out: Path, cache: CropCache | None, progress: bool) -> dict[str, Any]:
    model, cfg = load_run(out)
    ck = load_checkpoint(out / CHECKPOINT)
    if int(ck["epoch"]) < int(cfg.epochs or 0):
        raise ValueError(f"{out}: training stopped at epoch {ck['epoch']} of {cfg.epochs}; "
                         "resume it with run_experiment first")
    if cache is None:
        cache = open_experiment_cache(cfg, progress=progress)
    idx = scale_indices(cache, cfg.scales)
    history = json.loads(ck["history"])
    n_train = len(train_dataset(cache, idx, cfg, 0))
    return score_and_write(model, cfg, cache, idx, out, "cpu", progress, history,
                           float(ck["train_seconds"]), n_train,
                           cfg.epochs * math.ceil(n_train / cfg.batch_size))


def evaluate_run(out_dir: str | Path, rescore: bool = False, cache: CropCache | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Metrics of a finished run (``fas evaluate``), recomputed from its files.

    Args:
        out_dir: a folder written by :func:`fas_lib.training.frames.run_experiment`.
        rescore: score ``dev`` / ``test`` again with the checkpoint's model (needs the cache)
            instead of reading ``scores.csv``.
        cache: opened crop cache for ``rescore`` (``None``: the one the config names).
        progress: tqdm bars while rescoring.

    Returns:
        The updated ``results.json`` content.

    Raises:
        FileNotFoundError: when ``out_dir`` holds no run.
        ValueError: when the run is unfinished.
    """
    out = Path(out_dir)
    res_path, ck_path = out / RESULTS, out / CHECKPOINT
    if not res_path.is_file() and not ck_path.is_file():
        raise FileNotFoundError(f"{out} holds no run (no {RESULTS} or {CHECKPOINT})")
    if rescore or not (out / SCORES).is_file():
        return _rescore_run(out, cache, progress)
    results = read_results(out) or {}
    results["metrics"] = evaluate_scores(read_run_scores(out))
    write_run(out, results)
    return results
