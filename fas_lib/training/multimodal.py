"""Training the multi-modal networks (MM-FAS, ADSN) on a crop cache with depth and NIR crops.

One run (:func:`train_mm`): the model of :class:`MMRunConfig` (any MM-FAS config, including a
single modality, early fusion, no aggregation and the face-recognition trunk with
:func:`~fas_lib.models.init_from_face_recognition`; or any ADSN config with the weights of
:class:`~fas_lib.models.ADSNLoss`), trained with Adam on the ``train`` frames of one crop scale
(:func:`fas_lib.cache.loader.load_splits`, re-exported here: whole splits in memory,
they are small), random horizontal flips of all modalities of a sample together; optionally
with the authors' recipe (:mod:`fas_lib.training.mm_recipe`: Adam's betas, a cosine schedule, their
augmentation, flip test-time augmentation; :meth:`MMRunConfig.recipe`). MM-FAS learns
with cross-entropy on its two logits (the authors' ``cce``), ADSN with its loss. A run folder
(:func:`mm_run_dir`: ``<name>-<hash of the config and the data>``, as
:func:`fas_lib.training.runs.run_dir`) holds ``checkpoint.pt`` after every epoch, then
``scores.csv`` (dev and test frame scores, :func:`fas_lib.evaluation.scores.scores_table`) and
``results.json`` (:func:`fas_lib.training.runs.write_run`; metrics of
:func:`fas_lib.evaluation.mm_metrics.mm_report`). A finished folder is read back, an interrupted one
resumes: every epoch re-seeds Python, NumPy and PyTorch from ``(seed, epoch)`` and draws its order,
flips and augmentation from that seed, so a resumed run scores exactly like an uninterrupted one (on
CPU).

Scores: MM-FAS ``softmax(logits)[:, 1]``; ADSN ``sigmoid(logit)``, or, trained without BCE
(``lambda_bce=0``: its classifier then learns nothing), the embedding's cosine to the bona fide
center minus its cosine to the attack center (:meth:`~fas_lib.models.ADSNLoss.center_scores`).
``exclude_attacks`` leaves attack types out of training (the ensemble's folds); dev and test
are scored whole.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from fas_lib.cache.loader import SplitData, load_splits, split_inputs
from fas_lib.core.utils import set_seed, tune_malloc
from fas_lib.evaluation.metrics import eer
from fas_lib.evaluation.mm_metrics import mm_report
from fas_lib.evaluation.scores import scores_table
from fas_lib.models import (
    ADSN,
    MMFAS,
    ADSNLoss,
    init_from_face_recognition,
    scores_from_logits,
)
from fas_lib.training import devices, engine
from fas_lib.training.config import epoch_seed
from fas_lib.training.mm_config import INITS, MM_MODELS, MMRunConfig
from fas_lib.training.mm_recipe import (
    augment_batch,
    draw_augment,
    flip_tta,
    set_epoch_lr,
)
from fas_lib.training.runs import (
    BEST,
    CHECKPOINT,
    SCORES,
    config_hash,
    data_key,
    load_checkpoint,
    read_results,
    restore_training,
    selection_report,
    write_run,
)

__all__ = ["INITS", "MM_MODELS", "MMRunConfig", "SplitData", "build_mm", "load_mm_run",
           "load_splits", "make_optimizer", "mm_loss", "mm_run_dir", "score_mm", "train_mm",
           "train_step"]

def build_mm(cfg: MMRunConfig) -> tuple[nn.Module, ADSNLoss | None]:
    """The seeded model of a run and its loss module (ADSN's centers; ``None`` for MM-FAS)."""
    torch.manual_seed(cfg.seed)
    mcfg = cfg.model_config()
    if cfg.model == "adsn":
        if cfg.init != "random":
            raise ValueError("ADSN has no face-recognition init; use init='random'")
        model = ADSN(mcfg)
        return model, ADSNLoss.for_model(mcfg, **dict(cfg.loss))
    model = MMFAS(mcfg)
    if cfg.init == "face_recognition":
        init_from_face_recognition(model)
    return model, None


def mm_loss(model: nn.Module, loss_mod: ADSNLoss | None, x: Mapping[str, Tensor],
            y: Tensor) -> Tensor:
    """A batch's training loss: MM-FAS's cross-entropy (``loss_mod=None``) or ADSN's loss."""
    out = model(x)
    return F.cross_entropy(out, y) if loss_mod is None else loss_mod(out, y)["total"]


def train_step(model: nn.Module, loss_mod: ADSNLoss | None, opt: torch.optim.Optimizer,
               x: Mapping[str, Tensor], y: Tensor,
               precision: devices.Precision | None = None,
               forward: Callable[..., Tensor] | None = None, weight: float = 1.0) -> float:
    """One optimiser step on :func:`mm_loss`, the forward pass in mixed precision when
    ``precision`` is enabled; ``forward(x, y)`` computes the loss instead when given (through
    DDP with several processes), ``weight`` scales it (this process's share of the batch).

    Returns:
        The batch's mean loss before the step.
    """
    with precision.autocast() if precision is not None else contextlib.nullcontext():
        loss = mm_loss(model, loss_mod, x, y) if forward is None else forward(x, y)
    scaled = loss if weight == 1.0 else loss * weight
    opt.zero_grad(set_to_none=True)
    if precision is not None and precision.enabled:
        precision.step(scaled, opt)
    else:
        scaled.backward()
        opt.step()
    return float(loss.item())


def _frame_scores(out: Any, loss_mod: ADSNLoss | None) -> Tensor:
    if loss_mod is None:
        return scores_from_logits(out)
    if loss_mod.lambda_bce == 0:
        return loss_mod.center_scores(out.embedding)
    return torch.sigmoid(out.logits)


@torch.inference_mode()  # as no_grad, same numbers, less bookkeeping per op
def score_mm(model: nn.Module, loss_mod: ADSNLoss | None, data: SplitData,
             modalities: tuple[str, ...], batch_size: int = 128,
             tta_flip: bool = False) -> np.ndarray:
    """Bona-fide scores of every frame of a split, in eval mode (see the module docstring);
    ``tta_flip``: each the mean of the frame's and its mirror's
    (:func:`~fas_lib.training.mm_recipe.flip_tta`)."""
    model.eval()
    scores = []
    for a in range(0, len(data.y), batch_size):
        x = split_inputs(data, modalities, torch.arange(a, min(a + batch_size, len(data.y))))
        scores.append(flip_tta(lambda v: _frame_scores(model(v), loss_mod), x, tta_flip))
    return torch.cat(scores).double().numpy()


def mm_run_dir(cfg: MMRunConfig, out_root: str | Path, cache: Any | None = None) -> Path:
    """``out_root/<name>-<hash>``: hash of the config, the model's resolved config (a changed
    preset or default, such as ADSN's depth convention, is a new run) and, given a cache, its
    data key."""
    d = {**cfg.to_dict(), "model_config": json.loads(json.dumps(asdict(cfg.model_config())))}
    if cache is not None:
        d["data"] = data_key(cache)
    return Path(out_root) / f"{cfg.name}-{config_hash(d)}"


def _train_rows(cfg: MMRunConfig, train: SplitData) -> Tensor:
    kinds = train.frames["attack_type"].astype(str)
    unknown = set(cfg.exclude_attacks) - set(kinds[train.y.numpy() == 0])
    rows = torch.as_tensor(np.flatnonzero(~kinds.isin(cfg.exclude_attacks).to_numpy()))
    if unknown or len(rows) == 0 or len(set(train.y[rows].tolist())) < 2:
        why = f"{sorted(unknown)} are no attack types of it" if unknown else "one class is left"
        raise ValueError(f"training frames after excluding {cfg.exclude_attacks}: {why}")
    return rows


def _forward(state: dict[str, Any]) -> Callable[..., Tensor]:
    """``(x, y) -> loss`` of the run: :func:`mm_loss`, through DDP over the model and ADSN's
    centers with several processes (:func:`fas_lib.training.devices.wrap_step`)."""
    model, loss_mod, ctx = state["model"], state["loss"], state["ctx"]
    if loss_mod is None:
        return devices.wrap_step(lambda m, x, y: mm_loss(m, None, x, y), ctx, "cpu",
                                 {"model": model})
    return devices.wrap_step(mm_loss, ctx, "cpu", {"model": model, "loss": loss_mod})


def _epoch(state: dict[str, Any], rows: Tensor, train: SplitData, epoch: int,
           bar: tqdm | None) -> dict[str, float]:
    """One seeded pass over ``rows``: order, flips and augmentation from ``(seed, epoch)``, at
    the epoch's rate; with several processes each takes its share of every batch
    (:func:`fas_lib.training.devices.share`; a batch that leaves a process fewer than the two
    samples
    BatchNorm needs is skipped by all) and draws its own dropout masks."""
    cfg, model, loss_mod, opt = state["cfg"], state["model"], state["loss"], state["opt"]
    ctx = state["ctx"]
    seed = epoch_seed(cfg.seed, epoch)
    set_seed(seed)
    if ctx.active:
        torch.manual_seed(seed + ctx.rank)
    set_epoch_lr(opt, cfg.lr, cfg.schedule, epoch, cfg.epochs)
    gen = torch.Generator().manual_seed(seed)
    order = rows[torch.randperm(len(rows), generator=gen)]
    flips = torch.rand(len(train.y), generator=gen) < 0.5
    aug = draw_augment(train.y, rows, seed) if cfg.augment else None
    if state.get("forward") is None:  # after a resume: DDP starts from the restored weights
        state["forward"] = _forward(state)
    model.train()
    t0, sums, seen = time.perf_counter(), {"loss": 0.0}, 0
    for a in range(0, len(order), cfg.batch_size):
        batch = order[a:a + cfg.batch_size]
        if len(batch) < 2 * ctx.world_size:  # BatchNorm needs two samples
            continue
        mine, weight = devices.share(batch.tolist(), ctx)
        mine = torch.as_tensor(mine, dtype=batch.dtype)
        x = augment_batch(split_inputs(train, cfg.modalities, mine), mine,
                          flips if cfg.flip else None, aug, train.x)
        loss = train_step(model, loss_mod, opt, x, train.y[mine], state["precision"],
                          state["forward"], weight)
        sums["loss"], seen = sums["loss"] + loss * len(mine), seen + len(mine)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.3f}")
    sums, seen = devices.reduce_sums(ctx, sums, seen)
    dt = time.perf_counter() - t0
    return {"epoch": epoch + 1, "loss": sums["loss"] / max(seen, 1), "seconds": dt,
            "samples_per_s": seen / dt if dt > 0 else float("nan")}


def _dev_eer(state: dict[str, Any], dev: SplitData) -> float:
    """Frame-level dev EER of the current weights (``select_on_dev``)."""
    cfg = state["cfg"]
    s = score_mm(state["model"], state["loss"], dev, cfg.modalities, cfg.eval_batch_size,
                 cfg.tta_flip)
    return float(eer(dev.y.numpy(), s)[0])


def _init_from(cfg: MMRunConfig, state: dict[str, Any]) -> None:
    """Copy the weights (and ADSN's centers) of the finished run ``cfg.init_from``."""
    src = Path(str(cfg.init_from))
    if not (read_results(src) or {}).get("complete"):
        raise ValueError(f"init_from={str(src)!r} is not a finished run folder (no complete "
                         "results.json); train it with train_mm first")
    model, loss_mod, src_cfg = load_mm_run(src)
    if src_cfg.model != cfg.model:
        raise ValueError(f"init_from={str(src)!r} is a {src_cfg.model} run, this is {cfg.model}")
    have = {"model": model} | ({"loss": loss_mod} if loss_mod is not None else {})
    engine.copy_weights(have, _parts(state, optimizer=False), f"init_from={str(src)!r}")


def make_optimizer(cfg: MMRunConfig, model: nn.Module,
                   loss_mod: ADSNLoss | None) -> torch.optim.Optimizer:
    """Adam (``cfg.betas``) over the model's parameters and the loss module's (ADSN's class
    centers)."""
    params = list(model.parameters()) + (list(loss_mod.parameters()) if loss_mod else [])
    return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def _state(cfg: MMRunConfig) -> dict[str, Any]:
    model, loss_mod = build_mm(cfg)
    opt = make_optimizer(cfg, model, loss_mod)
    return {"cfg": cfg, "model": model, "loss": loss_mod, "opt": opt, "history": [],
            "epoch": 0, "train_seconds": 0.0, "precision": devices.Precision("cpu", cfg.amp),
            "ctx": devices.DistContext(), "forward": None}


def _parts(state: dict[str, Any], optimizer: bool = True) -> dict[str, Any]:
    """What a run's checkpoint holds the state of (the loss module only when it has one)."""
    parts = {"model": state["model"], "optimizer": state["opt"]} if optimizer else {
        "model": state["model"]}
    return parts | ({"loss": state["loss"]} if state["loss"] is not None else {})


def _restore(state: dict[str, Any], path: Path, optimizer: bool = True,
             checkpoint: dict[str, Any] | None = None) -> None:
    epoch, history, seconds = restore_training(
        path, state["cfg"].to_dict(), _parts(state, optimizer), rng=optimizer,
        checkpoint=checkpoint)
    state.update(epoch=epoch, history=history, train_seconds=seconds)


def _score_and_write(state: dict[str, Any], data: Mapping[str, SplitData], out: Path,
                     n_train: int) -> dict[str, Any]:
    cfg, tables = state["cfg"], []
    t0 = time.perf_counter()
    for split in ("dev", "test"):
        s = score_mm(state["model"], state["loss"], data[split], cfg.modalities,
                     cfg.eval_batch_size, cfg.tta_flip)
        tables.append(scores_table(split, data[split].frames, s))
    eval_s = time.perf_counter() - t0
    scores = pd.concat(tables, ignore_index=True)
    hist = state["history"]
    trained = sum(h["samples_per_s"] * h["seconds"] for h in hist)
    results = {
        "complete": True, "name": cfg.name, "config": cfg.to_dict(),
        "metrics": mm_report(scores), "history": hist,
        "timing": {"train_seconds": state["train_seconds"],
                   "train_samples_per_s": trained / max(state["train_seconds"], 1e-9),
                   "eval_ms_per_face": 1000 * eval_s / len(scores),
                   "threads": torch.get_num_threads()},
        "data": {"n_train_frames": n_train, "excluded_attacks": list(cfg.exclude_attacks),
                 "modalities": list(cfg.modalities)},
        "scores_csv": SCORES,
    }
    if cfg.select_on_dev:
        results["selection"] = selection_report(hist)
    write_run(out, results, scores)
    return results


def train_mm(cfg: MMRunConfig, cache: Any, out_dir: str | Path, resume: bool = True,
             progress: bool = True, data: Mapping[str, SplitData] | None = None,
             stop_after_epoch: int | None = None) -> dict[str, Any]:
    """Train one run, score dev and test, write the run folder (see the module docstring).

    Args:
        cfg: the run.
        cache: the crop cache (with the modalities the model reads).
        out_dir: the run folder (:func:`mm_run_dir`).
        resume: read a finished folder back, continue an interrupted one; ``False`` retrains.
        progress: a tqdm bar over the training iterations.
        data: the splits already in memory (:func:`load_splits` at ``cfg.scale`` and the
            model's input size; shared by the runs of a study); ``None`` loads them.
        stop_after_epoch: stop after this many epochs (checkpoint written, nothing scored);
            returns ``{"complete": False, "epochs_done": n}``.

    Returns:
        ``results.json``'s content: ``config``, ``metrics``
        (:func:`fas_lib.evaluation.mm_metrics.mm_report`), ``history``, ``timing``
        (``train_samples_per_s``, ``eval_ms_per_face``), ``data``.

    Raises:
        ValueError: a bad config, a cache without the model's modalities, an excluded type that
            no training attack has, one training class left, or another config's checkpoint.
    """
    out = Path(out_dir)
    done = (read_results(out) or {}) if resume else {}
    if done.get("complete") and done.get("config") == cfg.to_dict():
        return done
    tune_malloc()
    if data is None:
        data = load_splits(cache, cfg.scale, cfg.model_config().input_size)
    ctx, _ = devices.init("cpu")  # torchrun: join the process group (gloo)
    state = _state(cfg)
    state["ctx"] = ctx
    rows = _train_rows(cfg, data["train"])
    if cfg.select_on_dev and "dev" not in data:
        raise ValueError("select_on_dev needs a dev split; the data has "
                         f"{sorted(data)}")
    if cfg.init_from is not None and not (resume and (out / CHECKPOINT).is_file()):
        _init_from(cfg, state)
    per_epoch = sum(1 for a in range(0, len(rows), cfg.batch_size)
                    if min(cfg.batch_size, len(rows) - a) >= 2 * ctx.world_size)
    trainer = engine.Trainer(
        cfg.name, cfg.to_dict(), cfg.epochs, per_epoch, _parts(state),
        lambda epoch, bar: _epoch(state, rows, data["train"], epoch, bar),
        lambda: _dev_eer(state, data["dev"]))
    fitted = engine.fit(trainer, out, resume=resume, progress=progress,
                        stop_after_epoch=stop_after_epoch, select_on_dev=cfg.select_on_dev,
                        ctx=ctx)
    state.update(history=fitted.history, train_seconds=fitted.train_seconds,
                 epoch=len(fitted.history))
    if not fitted.complete:
        return {"complete": False, "epochs_done": state["epoch"], "config": cfg.to_dict()}
    if ctx.is_main:  # one process scores and writes; the others read its results
        if cfg.select_on_dev:  # test is scored with the selected epoch's weights
            engine.load_best(_parts(state, optimizer=False), out)
        results = _score_and_write(state, data, out, len(rows))
    devices.barrier(ctx)
    return results if ctx.is_main else (read_results(out) or {})


def load_mm_run(out_dir: str | Path) -> tuple[nn.Module, ADSNLoss | None, MMRunConfig]:
    """A run folder's trained model (eval mode), its loss module and its config.

    Raises:
        FileNotFoundError: no checkpoint in ``out_dir``.
        ValueError: the checkpoint is unreadable.
    """
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint in {out_dir}: train it with train_mm")
    ck = load_checkpoint(path)
    cfg = MMRunConfig.from_dict(json.loads(ck["config"]))
    state = _state(replace(cfg, init="random"))  # the weights come from the checkpoint
    state["cfg"] = cfg
    _restore(state, path, optimizer=False, checkpoint=ck)
    if cfg.select_on_dev and (Path(out_dir) / BEST).is_file():  # the weights test was scored with
        engine.load_best(_parts(state, optimizer=False), out_dir)
    return state["model"].eval(), state["loss"], cfg
