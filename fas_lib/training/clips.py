"""Training on clips: STASN, MS-FANS over time and the single-frame MS-FANS, on clip sets.

:func:`run_clip_experiment` trains one model on the clips of a clip cache
(:class:`~fas_lib.cache.clips.ClipSet`, :func:`~fas_lib.cache.clips.clip_batch`), scores every
``dev`` and ``test`` clip and computes the video-level metrics (a clip is one video:
:func:`fas_lib.evaluation.scores.evaluate_scores` on one row per clip). Three models
(:data:`~fas_lib.training.clip_inputs.CLIP_MODELS`, ``ClipConfig.model``):

* ``"stasn"``: :class:`~fas_lib.models.STASN` (any ``branches``, ``n_regions``, ``t``) on one
  crop scale, loss :func:`~fas_lib.models.stasn_loss`;
* ``"msfans_time"``: :class:`~fas_lib.models.TemporalMultiScaleNet` (MS-FANS's scale fusion per
  frame, an LSTM over frames), loss :func:`~fas_lib.models.temporal_msfans_loss`;
* ``"msfans_frame"``: the single-frame baseline: the same network with ``temporal="mean"``
  (which *is* :class:`~fas_lib.models.MultiScaleNet` on each frame) trained on the clips' frames
  as independent samples. It is scored twice: ``score`` (the mean logits of the clip's ``t``
  frames) and ``score_one_frame`` (the middle frame alone, "MS-FANS on one frame").

Inputs and data (:class:`~fas_lib.training.clip_inputs.ClipConfig`,
:data:`~fas_lib.training.clip_inputs.ClipData`, :func:`~fas_lib.training.clip_inputs.clip_input`):
see :mod:`fas_lib.training.clip_inputs`.

Reproducibility (as :mod:`fas_lib.training.frames`): the model is initialised from ``seed``; every
epoch re-seeds Python, NumPy and PyTorch and draws its clip order and crop offsets from ``(seed,
epoch)``; a checkpoint is written after every epoch, so a resumed run scores exactly as an
uninterrupted one (tested). Run folders (:func:`clip_run_dir`): the config and a key of the
data (:func:`clip_data_key`), as :func:`fas_lib.training.runs.run_dir`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from fas_lib.core.utils import set_seed, tune_malloc
from fas_lib.evaluation.metrics import eer
from fas_lib.evaluation.scores import evaluate_scores
from fas_lib.models import scores_from_logits, stasn_loss, temporal_msfans_loss
from fas_lib.training import devices, engine
from fas_lib.training.clip_inputs import (
    ClipConfig,
    ClipData,
    ClipSource,
    build_clip_model,
    clip_input,
    frame_positions,
)
from fas_lib.training.config import epoch_seed
from fas_lib.training.frames import sgd_schedule
from fas_lib.training.runs import (
    BEST,
    CHECKPOINT,
    SCORES,
    config_hash,
    data_key,
    load_checkpoint,
    read_results,
    selection_report,
    write_run,
)

__all__ = [
    "clip_data_key", "clip_loss", "clip_run_dir", "load_clip_run", "run_clip_experiment",
    "run_clip_many", "score_clips",
]


def clip_loss(model: nn.Module, cfg: ClipConfig, x: Tensor, y: Tensor, it: int,
                max_iter: int) -> tuple[Tensor, Tensor, Tensor]:
    """The training loss of a batch (:func:`~fas_lib.models.stasn_loss` or, frames as samples
    for ``"msfans_frame"``, :func:`~fas_lib.models.temporal_msfans_loss`).

    Returns:
        ``(loss, logits, targets)``: the logits and targets the loss compared.
    """
    if cfg.model == "stasn":
        out = model(x)
        return stasn_loss(out, y, branch_weight=cfg.branch_weight), out.logits, y
    if cfg.model == "msfans_frame":  # frames as independent samples
        y = y.repeat_interleave(x.shape[1])
        x = x.flatten(0, 1).unsqueeze(1)
    out = model(x)
    return temporal_msfans_loss(out, y, it, max_iter, cfg.aux_weight), out.logits, y


# ----------------------------------------------------------------------------- scoring


def score_clips(model: nn.Module, cfg: ClipConfig, sources: Sequence[ClipSource],
                progress: bool = False) -> pd.DataFrame:
    """Score every clip of ``sources`` (eval mode, centre windows).

    Returns:
        One row per clip: ``split, video_id, subject, label, attack_type, score`` (bona-fide
        probability); ``"msfans_frame"`` adds ``score_one_frame`` (the middle frame alone).
    """
    model.eval()
    n = sum(len(s) for s in sources)
    scores, one = np.empty(n), np.empty(n)
    mid = int(frame_positions(cfg.t, 1)[0])
    with torch.inference_mode():  # as no_grad, same numbers, less bookkeeping per op
        for start in tqdm(range(0, n, cfg.eval_batch_size), desc=f"score {cfg.name}",
                          leave=False, disable=not progress):
            idx = np.arange(start, min(n, start + cfg.eval_batch_size))
            x, _ = clip_input(sources, idx, cfg)
            scores[idx] = scores_from_logits(model(x).logits).double().numpy()
            if cfg.model == "msfans_frame":
                one[idx] = scores_from_logits(model(x[:, mid:mid + 1]).logits).double().numpy()
    videos = pd.concat([s.clips.videos.assign(split=s.clips.split) for s in sources],
                       ignore_index=True)
    table = pd.DataFrame({c: videos[c].astype(str).to_numpy()
                          for c in ("split", "video_id", "subject", "attack_type")})
    table.insert(3, "label", videos["label"].astype(int).to_numpy())
    table["score"] = scores
    if cfg.model == "msfans_frame":
        table["score_one_frame"] = one
    return table


# ----------------------------------------------------------------------------- the run


def clip_data_key(data: ClipData) -> str:
    """A short fingerprint of a run's data: per split and source, the cache's
    :func:`~fas_lib.training.runs.data_key`, the clip length and the clips' video ids."""
    key = {split: [[data_key(s.cache), int(s.clips.t),
                    config_hash(s.clips.videos["video_id"].astype(str).tolist())]
                   for s in sources] for split, sources in sorted(data.items())}
    return config_hash(key)


def clip_run_dir(cfg: ClipConfig, data: ClipData, out_root: str | Path) -> Path:
    """``out_root/<name>-<hash of the config and clip_data_key(data)>``."""
    return Path(out_root) / f"{cfg.name}-{config_hash([cfg.to_dict(), clip_data_key(data)])}"


@dataclass
class _ClipRun:
    """One run while it trains."""

    cfg: ClipConfig
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.MultiStepLR
    train: list[ClipSource]
    iters: int
    history: list[dict[str, Any]]
    train_seconds: float = 0.0
    precision: devices.Precision | None = None
    ctx: devices.DistContext = field(default_factory=devices.DistContext)
    step: Callable[..., Any] | None = None  # clip_loss, through DDP with several processes


def _train_epoch(run: _ClipRun, epoch: int, bar: tqdm) -> dict[str, Any]:
    """One seeded pass over the training clips (order and windows from ``(seed, epoch)``);
    with several processes each takes its share of every batch
    (:func:`fas_lib.training.devices.share`)
    and draws its own dropout masks."""
    cfg, n = run.cfg, sum(len(s) for s in run.train)
    seed = epoch_seed(cfg.seed, epoch)
    set_seed(seed)
    if run.ctx.active:
        torch.manual_seed(seed + run.ctx.rank)
    rng = np.random.default_rng([cfg.seed, epoch])
    order, offsets = rng.permutation(n), rng.random((n, 2))
    if run.step is None:  # after a resume: DDP starts from the restored weights
        run.step = devices.wrap_step(
            lambda model, x, y, it, last: clip_loss(model, cfg, x, y, it, last), run.ctx,
            "cpu", {"model": run.model})
    run.model.train()
    t0, seen, sums = time.perf_counter(), 0, {"loss": 0.0, "correct": 0.0}
    lr = run.opt.param_groups[0]["lr"]
    for b, picks in enumerate(np.array_split(order, run.iters)):  # no batch of one clip
        mine, weight = devices.share(picks.tolist(), run.ctx)
        mine = np.asarray(mine, dtype=picks.dtype)
        x, y = clip_input(run.train, mine, cfg, offsets[mine])
        with run.precision.autocast():
            loss, logits, targets = run.step(x, y, epoch * run.iters + b, cfg.epochs * run.iters)
        scaled = loss if weight == 1.0 else loss * weight
        run.opt.zero_grad(set_to_none=True)
        if run.precision.enabled:
            run.precision.step(scaled, run.opt)
        else:
            scaled.backward()
            run.opt.step()
        k = len(mine) if weight else 0  # weight 0: a stand-in share, not counted
        seen += k
        sums["loss"] += loss.item() * k
        sums["correct"] += (logits.argmax(1) == targets).float().mean().item() * k
        bar.update(1)
        bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    run.sched.step()
    sums, seen = devices.reduce_sums(run.ctx, sums, seen)
    dt = time.perf_counter() - t0
    return {"epoch": epoch + 1, "lr": lr, "loss": sums["loss"] / seen,
            "accuracy": sums["correct"] / seen, "seconds": dt,
            "clips_per_s": seen / dt if dt > 0 else None}


def _start(cfg: ClipConfig, train: list[ClipSource]) -> _ClipRun:
    """The seeded model, optimiser and schedule."""
    torch.manual_seed(cfg.seed)
    model = build_clip_model(cfg)
    opt, sched = sgd_schedule(model, cfg)
    n = sum(len(s) for s in train)
    return _ClipRun(cfg, model, opt, sched, train, math.ceil(n / cfg.batch_size), [],
                    precision=devices.Precision("cpu", cfg.amp))


def _init_from(run: _ClipRun) -> None:
    """Copy the weights of the finished clip run ``run.cfg.init_from`` (same model)."""
    src = Path(str(run.cfg.init_from))
    if not (read_results(src) or {}).get("complete"):
        raise ValueError(f"init_from={str(src)!r} is not a finished run folder (no complete "
                         "results.json); train it with run_clip_experiment first")
    model, src_cfg = load_clip_run(src)
    if src_cfg.model != run.cfg.model:
        raise ValueError(f"init_from={str(src)!r} is a {src_cfg.model} run, this is "
                         f"{run.cfg.model}")
    engine.copy_weights({"model": model}, {"model": run.model}, f"init_from={str(src)!r}")


def _dev_eer(run: _ClipRun, dev: Sequence[ClipSource]) -> float:
    """Dev EER of the current weights, one score per clip (``select_on_dev``)."""
    t = score_clips(run.model, run.cfg, dev)
    return float(eer(t["label"].to_numpy(), t["score"].to_numpy())[0])


def _parts(run: _ClipRun) -> dict[str, Any]:
    """What a clip run's checkpoint holds the state of."""
    return {"model": run.model, "optimizer": run.opt, "scheduler": run.sched}


def _trainer(run: _ClipRun, data: ClipData) -> engine.Trainer:
    """A clip run as :func:`fas_lib.training.engine.fit` trains it (:func:`_train_epoch`; dev clips
    scored for ``select_on_dev``)."""
    return engine.Trainer(run.cfg.name, run.cfg.to_dict(), run.cfg.epochs, run.iters,
                          _parts(run), lambda epoch, bar: _train_epoch(run, epoch, bar),
                          lambda: _dev_eer(run, data["dev"]))


def _check_data(data: ClipData, cfg: ClipConfig) -> None:
    need = ("train", "test", "dev") if cfg.select_on_dev else ("train", "test")
    missing = [s for s in need if not sum(len(x) for x in data.get(s, []))]
    if missing:
        raise ValueError(f"the clip data has no clips in {missing}; it has "
                         f"{ {k: sum(len(x) for x in v) for k, v in data.items()} }")


def run_clip_experiment(cfg: ClipConfig, data: ClipData, out_dir: str | Path,
                        resume: bool = True, progress: bool = True,
                        stop_after_epoch: int | None = None) -> dict[str, Any]:
    """Train on ``data["train"]``, score ``dev`` / ``test`` clips, write the run folder.

    Args:
        cfg: the run's :class:`ClipConfig`.
        data: :data:`ClipData` (``"train"``, ``"test"``; ``"dev"`` fixes the threshold, else
            test's EER threshold is used and recorded,
            :func:`fas_lib.evaluation.scores.evaluate_scores`).
        out_dir: run folder: ``checkpoint.pt`` after every epoch, ``scores.csv``,
            ``results.json``.
        resume: continue from ``out_dir/checkpoint.pt`` when it exists.
        progress: a tqdm bar over the iterations.
        stop_after_epoch: stop once this many epochs are done (checkpoint kept, nothing
            scored); returns ``{"complete": False, ...}``.

    Returns:
        ``results.json``'s content: ``config``, ``metrics`` (``video`` level; ``frame`` is the
        same numbers, one row per clip), ``metrics_one_frame`` (``"msfans_frame"``),
        ``history``, ``timing``, ``data``.

    Raises:
        ValueError: a split without clips (dev too with ``select_on_dev``), a checkpoint of
            another config, a bad config, an ``init_from`` folder that is unfinished or holds
            another model.
    """
    _check_data(data, cfg)
    tune_malloc()
    out = Path(out_dir)
    ctx, _ = devices.init("cpu")  # torchrun: join the process group (gloo)
    run = _start(cfg, list(data["train"]))
    run.ctx = ctx
    if cfg.init_from is not None and not (resume and (out / CHECKPOINT).is_file()):
        _init_from(run)
    fitted = engine.fit(_trainer(run, data), out, resume=resume, progress=progress,
                        stop_after_epoch=stop_after_epoch, select_on_dev=cfg.select_on_dev,
                        ctx=ctx)
    run.history, run.train_seconds = fitted.history, fitted.train_seconds
    if not fitted.complete:
        return {"complete": False, "epochs_done": len(run.history), "config": cfg.to_dict()}
    if ctx.is_main:  # one process scores and writes; the others read its results
        if cfg.select_on_dev:  # test is scored with the selected epoch's weights
            engine.load_best({"model": run.model}, out)
        results = _score_and_write(run, data, out, progress)
    devices.barrier(ctx)
    return results if ctx.is_main else (read_results(out) or {})


def _score_and_write(run: _ClipRun, data: ClipData, out: Path, progress: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    scores = pd.concat([score_clips(run.model, run.cfg, data[s], progress)
                        for s in ("dev", "test") if data.get(s)], ignore_index=True)
    eval_s = time.perf_counter() - t0
    counts = {s: {"clips": sum(len(x) for x in v), "sources": len(v)} for s, v in data.items()}
    results: dict[str, Any] = {
        "complete": True, "name": run.cfg.name, "config": run.cfg.to_dict(),
        "metrics": evaluate_scores(scores), "history": run.history,
        "timing": {"train_seconds": run.train_seconds, "eval_seconds": eval_s,
                   "train_clips_per_s": (sum(len(s) for s in run.train) * run.cfg.epochs
                                         / run.train_seconds if run.train_seconds else None),
                   "eval_clips_per_s": len(scores) / eval_s if eval_s > 0 else None,
                   "threads": torch.get_num_threads()},
        "data": {"counts": counts, "key": clip_data_key(data)}, "scores_csv": SCORES,
    }
    if "score_one_frame" in scores:
        results["metrics_one_frame"] = evaluate_scores(scores, "score_one_frame")
    if run.cfg.select_on_dev:
        results["selection"] = selection_report(run.history)
    write_run(out, results, scores)
    return results


def run_clip_many(configs: Sequence[ClipConfig], data: ClipData, out_root: str | Path,
                  progress: bool = True, desc: str = "clip runs") -> list[dict[str, Any]]:
    """Run (or read back, when finished) each config in its :func:`clip_run_dir`.

    Each result gets ``run_dir``. A tqdm bar over the runs.
    """
    results = []
    bar = tqdm(configs, desc=desc, unit="run", disable=not progress)
    for cfg in bar:
        bar.set_postfix_str(cfg.name)
        folder = clip_run_dir(cfg, data, out_root)
        res = read_results(folder)
        if res is None or not res.get("complete"):
            res = run_clip_experiment(cfg, data, folder, resume=True, progress=progress)
        res["run_dir"] = str(folder)
        results.append(res)
    return results


def load_clip_run(run_dir: str | Path) -> tuple[nn.Module, ClipConfig]:
    """The trained model (eval mode) and config of a finished clip run folder.

    Raises:
        FileNotFoundError: the folder has no checkpoint.
        ValueError: the run stopped before its last epoch.
    """
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint in {run_dir}: train it with run_clip_experiment")
    ck = load_checkpoint(path)
    cfg = ClipConfig.from_dict(json.loads(ck["config"]))
    if int(ck["epoch"]) < cfg.epochs:
        raise ValueError(f"{run_dir} stopped at epoch {ck['epoch']} of {cfg.epochs}; resume it")
    model = build_clip_model(cfg)
    model.load_state_dict(ck["model"])
    if cfg.select_on_dev and (Path(run_dir) / BEST).is_file():  # the weights test was scored with
        engine.load_best({"model": model}, run_dir)
    return model.eval(), cfg
