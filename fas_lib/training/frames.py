"""Training engine: one function runs an experiment from a config (notebooks 03-06, ``fas train``).

:func:`run_experiment` builds a :class:`~fas_lib.models.MultiScaleNet` from an
:class:`~fas_lib.training.config.ExperimentConfig`, trains it on the ``train`` split of a crop cache
(:mod:`fas_lib.cache.reader`, read through :class:`fas_lib.cache.loader.CropDataset`: random 112 x
112 crops of the 128 x 128 crops in training, the centre crop at test), scores ``dev`` and ``test``
and computes every metric of :func:`fas_lib.evaluation.metrics.evaluate` at frame and video level
(:mod:`fas_lib.training.scoring`). It writes a run folder (:mod:`fas_lib.training.runs`):
``checkpoint.pt`` after
**every** epoch, ``scores.csv`` and ``results.json`` at the end.

The loop, Made-With-ML style: :func:`train_step` (the loss of Eq. 6 and one SGD step),
:func:`train_one_epoch` (one pass over the shuffled training set), :func:`run_experiment` (the
resumable run); the command line is :mod:`fas_lib.apps.cli`.

Optimisation follows Sec. IV of the paper: SGD, momentum 0.9, weight decay 5e-4, learning rate
multiplied by 0.1 at each milestone, and the loss of Eq. 6 (:func:`fas_lib.models.msfans_loss`):
auxiliary per-scale losses weighted 0.5 during the first half of the iterations, none after.
Two presets fill the values the paper leaves open (:data:`fas_lib.training.config.PRESETS`).

Opt-in (:class:`~fas_lib.training.config.ExperimentConfig`, preset ``"robust"``): ``augment``
(training augmentation, :mod:`fas_lib.preprocess.augment`); ``select_on_dev`` (dev scored after every
epoch, the weights of the lowest dev EER kept in ``best.pt`` and used for test; ties: the later
epoch); ``init_from`` (start from a finished run's weights, preset ``"finetune"``); ``amp`` (mixed
precision, :class:`fas_lib.training.devices.Precision`).

Devices: ``device=None`` or ``"auto"`` trains on a GPU when there is one. Started by
``torchrun --nproc-per-node N``, the run trains in N processes with DistributedDataParallel
and the same global batch (:mod:`fas_lib.training.devices`); rank 0 scores and writes.

Reproducibility: model initialisation is seeded with ``seed``; every epoch re-seeds Python,
NumPy and PyTorch from ``(seed, epoch)`` and shuffles with a generator seeded the same way, so an
interrupted run that resumes from its last checkpoint gives exactly the scores of an
uninterrupted one (on CPU; GPU kernels may be non-deterministic).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from fas_lib.cache.reader import CropCache
from fas_lib.core.utils import get_device, set_seed, tune_malloc
from fas_lib.evaluation.metrics import eer
from fas_lib.models import MultiScaleNet, msfans_loss
from fas_lib.training import devices, engine
from fas_lib.training.config import (
    ExperimentConfig,
    build_model,
    cache_splits,
    epoch_seed,
    open_experiment_cache,
    scale_indices,
    train_dataset,
)
from fas_lib.training.runs import (
    CHECKPOINT,
    load_run,
    read_results,
    score_and_write,
)
from fas_lib.training.scoring import score_split

__all__ = ["run_experiment", "sgd_schedule", "train_one_epoch", "train_step"]

Optimizer = torch.optim.Optimizer
Scheduler = torch.optim.lr_scheduler.MultiStepLR


# ----------------------------------------------------------------------------- step and epoch


def train_step(model: nn.Module, opt: Optimizer, x: Tensor, y: Tensor, iteration: int,
               max_iter: int, aux_weight: float, loss_scale: float = 1.0,
               precision: devices.Precision | None = None
               ) -> tuple[Tensor, dict[str, float], Tensor]:
    """One SGD step on the loss of Eq. 6 (:func:`fas_lib.models.msfans_loss`).

    Args:
        model: a :class:`~fas_lib.models.MultiScaleNet`, or the DDP module
            :func:`fas_lib.training.devices.wrap` makes of one with several processes.
        loss_scale: weight of this batch's mean loss in the gradient (several processes,
            :func:`fas_lib.training.devices.loss_scale`).
        precision: mixed precision (:class:`fas_lib.training.devices.Precision`; ``None``: float32).

    Returns:
        ``(loss, parts, logits)``: the loss, its terms as floats (``fused``, ``aux``,
        ``aux_active``) and the fused logits of the batch (before the step).
    """
    net = devices.LossNet(model, msfans_loss) if isinstance(model, MultiScaleNet) else model
    with precision.autocast() if precision else contextlib.nullcontext():
        loss, parts, logits = net(x, y, iteration, max_iter, aux_weight)
    opt.zero_grad(set_to_none=True)
    weighted = loss * loss_scale if loss_scale != 1.0 else loss
    if precision is not None and precision.enabled:
        precision.step(weighted, opt)
    else:
        weighted.backward()
        opt.step()
    return loss, parts, logits


def _epoch_loader(cache: CropCache, idx: list[int], cfg: ExperimentConfig, epoch: int,
                  ctx: devices.DistContext | None = None) -> torch.utils.data.DataLoader:
    """Re-seed every RNG from ``(seed, epoch)``; the epoch's shuffled training batches (with
    several processes, this process's shares of them:
    :func:`fas_lib.training.devices.epoch_loader`)."""
    set_seed(epoch_seed(cfg.seed, epoch))
    ds = train_dataset(cache, idx, cfg, epoch)
    if ctx is not None and ctx.active:
        return devices.epoch_loader(ds, cfg.batch_size, epoch_seed(cfg.seed, epoch), ctx)
    gen = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
    return torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True,
                                       generator=gen)


def train_one_epoch(
    model: MultiScaleNet,
    opt: Optimizer,
    loader: torch.utils.data.DataLoader,
    epoch: int,
    iters_per_epoch: int,
    max_iter: int,
    aux_weight: float,
    device: str = "cpu",
    bar: tqdm | None = None,
    ctx: devices.DistContext | None = None,
    precision: devices.Precision | None = None,
) -> dict[str, float]:
    """One pass over ``loader`` in training mode, a :func:`train_step` per batch.

    Args:
        epoch: the 0-based epoch; its batch ``i`` is iteration ``epoch * iters_per_epoch + i``
            of Eq. 6's schedule.
        iters_per_epoch: batches per epoch.
        max_iter: the run's total number of iterations.
        bar: a tqdm bar advanced once per batch (``None``: none).
        ctx: with several processes, the statistics are summed over all of them.
        precision: mixed precision for :func:`train_step`.

    Returns:
        ``seconds``, ``samples_per_s``, ``accuracy`` and the per-sample means of ``loss``,
        ``fused``, ``aux`` and ``aux_active``.
    """
    model.train()
    t0 = time.perf_counter()
    sums = {"loss": 0.0, "fused": 0.0, "aux": 0.0, "aux_active": 0.0, "correct": 0.0}
    seen = 0
    for i, (x, y, _row) in enumerate(loader):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        it = epoch * iters_per_epoch + i
        weight = devices.loss_scale(loader, i)
        loss, parts, logits = train_step(model, opt, x, y, it, max_iter, aux_weight, weight,
                                         precision)
        b = len(y) if weight else 0  # weight 0: a stand-in share of a too small batch
        seen += b
        sums["loss"] += loss.item() * b
        sums["correct"] += (logits.argmax(1) == y).sum().item() if b else 0
        for k in ("fused", "aux", "aux_active"):
            sums[k] += parts[k] * b
        if bar is not None:
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    sums, seen = devices.reduce_sums(ctx or devices.DistContext(), sums, seen, device)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "samples_per_s": seen / dt if dt > 0 else float("nan"),
            "accuracy": sums.pop("correct") / max(seen, 1),
            **{k: v / max(seen, 1) for k, v in sums.items()}}


# ----------------------------------------------------------------------------- the run


def _open_data(cfg: ExperimentConfig, cache: CropCache | None,
               progress: bool) -> tuple[CropCache, list[int]]:
    if cache is None:
        cache = open_experiment_cache(cfg, progress=progress)
    idx = scale_indices(cache, cfg.scales)
    missing = {"train", "test"} - cache_splits(cache)
    if missing:
        raise ValueError(f"the crop cache has no {sorted(missing)} split(s); it has "
                         f"{sorted(cache_splits(cache))}")
    if cfg.select_on_dev and "dev" not in cache_splits(cache):
        raise ValueError("select_on_dev needs a dev split; the crop cache has "
                         f"{sorted(cache_splits(cache))}")
    return cache, idx


def _init_from(cfg: ExperimentConfig, model: MultiScaleNet) -> None:
    """Copy the weights of the finished run ``cfg.init_from`` into ``model`` (``ValueError``
    when it is unfinished or its backbone, fusion, scales or weight_norm differ)."""
    src = Path(str(cfg.init_from))
    res = read_results(src)
    if res is None or not res.get("complete"):
        raise ValueError(f"init_from={str(src)!r} is not a finished run folder (no complete "
                         "results.json); train it with run_experiment first")
    src_model, src_cfg = load_run(src)
    keys = ("backbone", "fusion", "scales", "weight_norm")
    diff = {k: (getattr(src_cfg, k), getattr(cfg, k)) for k in keys
            if getattr(src_cfg, k) != getattr(cfg, k)}
    if diff:
        raise ValueError(f"init_from={str(src)!r} has another model: "
                         + ", ".join(f"{k} {a!r} there, {b!r} here" for k, (a, b) in diff.items()))
    model.load_state_dict(src_model.state_dict())


def _build(cfg: ExperimentConfig, device: str) -> tuple[MultiScaleNet, Optimizer, Scheduler]:
    """The seeded model, its SGD optimiser and its learning-rate schedule."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    return (model, *sgd_schedule(model, cfg))


def sgd_schedule(model: nn.Module, cfg: Any) -> tuple[Optimizer, Scheduler]:
    """The course's SGD (``lr``, ``momentum``, ``weight_decay`` of ``cfg``) and its step schedule
    (``lr`` times ``gamma`` at each of ``cfg.milestones`` epochs), for frame and clip models."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), gamma=cfg.gamma)


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k not in ("device", "eval_batch_size")}


@dataclass
class _Run:
    """The state of one run while it trains."""

    cfg: ExperimentConfig
    cache: CropCache
    idx: list[int]
    device: str
    ckpt_path: Path
    model: MultiScaleNet
    opt: Optimizer
    sched: Scheduler
    n_train: int = 0
    iters_per_epoch: int = 0
    max_iter: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    ctx: devices.DistContext = field(default_factory=devices.DistContext)
    net: nn.Module | None = None  # what trains: the model, or its DDP wrapper
    precision: devices.Precision | None = None


def _trainer(run: _Run) -> engine.Trainer:
    """MS-FANS on frames as :func:`fas_lib.training.engine.fit` trains it: one epoch is the seeded
    loader (:func:`_epoch_loader`), :func:`train_one_epoch` and the schedule's step; dev is scored
    at
    frame level for ``select_on_dev``."""
    cfg = run.cfg

    def train_epoch(epoch: int, bar: tqdm | None) -> dict[str, Any]:
        if run.net is None:  # after a resume: DDP starts from the restored weights
            run.net = devices.wrap(run.model, run.ctx, run.device, msfans_loss)
        loader = _epoch_loader(run.cache, run.idx, cfg, epoch, run.ctx)
        lr_epoch = run.opt.param_groups[0]["lr"]
        stats = train_one_epoch(run.net, run.opt, loader, epoch, run.iters_per_epoch,
                                run.max_iter, cfg.aux_weight, run.device, bar, run.ctx,
                                run.precision)
        run.sched.step()
        return {"epoch": epoch + 1, "lr": lr_epoch, **stats}

    def score_dev() -> float:
        dev = score_split(run.model, run.cache, "dev", run.idx, cfg.scales,
                          cfg.eval_batch_size, run.device, progress=False)
        return float(eer(dev["label"].to_numpy(), dev["score"].to_numpy())[0])

    return engine.Trainer(
        cfg.name, cfg.to_dict(), cfg.epochs, run.iters_per_epoch,
        {"model": run.model, "optimizer": run.opt, "scheduler": run.sched}, train_epoch,
        score_dev, comparable=_comparable, extra={"model_config": json.dumps(run.model.config)})


def run_experiment(
    config: ExperimentConfig | dict[str, Any],
    out_dir: str | Path,
    resume: bool = True,
    progress: bool = True,
    cache: CropCache | None = None,
    stop_after_epoch: int | None = None,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train, score ``dev`` / ``test``, compute the metrics; write and return the results.

    Args:
        config: an :class:`ExperimentConfig` (or a dict of its fields).
        out_dir: run folder (created); holds ``checkpoint.pt``, ``scores.csv``, ``results.json``.
        resume: continue from ``out_dir/checkpoint.pt`` when it exists (a checkpoint of a
            different config raises ``ValueError``); ``False`` starts afresh.
        progress: tqdm bars for training and scoring.
        cache: an opened crop cache (:func:`fas_lib.cache.reader.open_cache`); ``None`` opens the
            one the config names via :func:`fas_lib.cache.prepare.get_cache`.
        stop_after_epoch: stop (checkpoint kept) once this many epochs are done, without
            scoring; returns ``{"complete": False, ...}``. For time-sliced training.
        on_epoch_end: called as ``on_epoch_end(epoch, record)`` after each checkpoint.

    Returns:
        ``results.json``'s content: ``config`` (resolved), ``metrics`` (``frame`` / ``video``),
        ``history`` (per epoch; with ``select_on_dev`` each epoch's ``dev_eer``), ``timing``
        (``train_samples_per_s`` ...), ``scores_csv``; with ``select_on_dev``, ``selection``
        (the chosen ``epoch`` and every epoch's ``dev_eer``).

    Raises:
        ValueError: bad config, a scale not in the cache, a missing split, a foreign checkpoint,
            an ``init_from`` folder that is unfinished or holds another model.
    """
    if isinstance(config, dict):
        config = ExperimentConfig.from_dict(config)
    cfg = config.resolve()
    tune_malloc()
    out = Path(out_dir)
    ctx, device = devices.init(get_device(cfg.device))  # torchrun: join the process group
    progress = progress and ctx.is_main
    cache, idx = devices.rank0_first(ctx, lambda: _open_data(cfg, cache, progress))
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(cfg, cache, idx, device, out / CHECKPOINT, *_build(cfg, device), ctx=ctx,
               precision=devices.Precision(device, cfg.amp))
    run.n_train = len(train_dataset(cache, idx, cfg, 0))
    if run.n_train == 0:
        raise ValueError("the crop cache's train split is empty")
    run.iters_per_epoch = math.ceil(run.n_train / cfg.batch_size)
    run.max_iter = cfg.epochs * run.iters_per_epoch
    if cfg.init_from is not None and not (resume and run.ckpt_path.exists()):
        _init_from(cfg, run.model)
    fitted = engine.fit(_trainer(run), out, resume=resume, progress=progress,
                        stop_after_epoch=stop_after_epoch, on_epoch_end=on_epoch_end,
                        select_on_dev=cfg.select_on_dev, ctx=ctx)
    run.history, run.train_seconds = fitted.history, fitted.train_seconds
    if not fitted.complete:
        done = run.history[-1]["epoch"] if run.history else 0
        return {"complete": False, "epochs_done": done, "config": cfg.to_dict(),
                "history": run.history}
    return _score(run, out, progress)


def _score(run: _Run, out: Path, progress: bool) -> dict[str, Any]:
    """Rank 0 scores dev / test and writes the results; other processes wait and read them."""
    if run.ctx.is_main:
        if run.cfg.select_on_dev:  # test is scored with the selected epoch's weights
            engine.load_best({"model": run.model}, out)
        results = score_and_write(run.model, run.cfg, run.cache, run.idx, out, run.device,
                                  progress, run.history, run.train_seconds, run.n_train,
                                  run.max_iter)
    devices.barrier(run.ctx)
    return results if run.ctx.is_main else (read_results(out) or {})
