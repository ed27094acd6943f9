"""The one training loop of the course: seeded, resumable epochs for every method.

Each method says what differs (:class:`Trainer`): the parts a checkpoint holds (model,
optimiser, schedule, a loss with parameters), one seeded training epoch, and how to score dev
for selection; :func:`fit` does the rest the same way for all of them:

* **resume**: a checkpoint after every epoch (:func:`fas_lib.training.runs.training_checkpoint`: the
  parts, the RNG states, the config and the history); a run started again reads it back
  (:func:`fas_lib.training.runs.restore_training`) and goes on, so an interrupted run scores exactly
  like an uninterrupted one: every epoch re-seeds its own draws from ``(seed, epoch)``;
* **progress**: one tqdm bar over the run's iterations;
* **selection on dev** (``select_on_dev``): dev scored after every epoch, its EER in the
  history, the weights of the selected epoch (:func:`fas_lib.training.runs.selected_epoch`, ties to
  the later one) kept in ``best.pt``; :func:`load_best` puts them back before test is scored;
* **several processes** (``ctx``, :mod:`fas_lib.training.devices`): only rank 0 scores dev and
  writes; every process waits for the checkpoint before the next epoch;
* ``stop_after_epoch`` (time-sliced training) and ``on_epoch_end`` (a callback per epoch).

MS-FANS on frames (:mod:`fas_lib.training.frames`), STASN and MS-FANS on clips
(:mod:`fas_lib.training.clips`) and MM-FAS / ADSN (:mod:`fas_lib.training.multimodal`) train through
it. Warm starts from a finished run (``init_from``) use :func:`copy_weights`; mixed precision and
DDP are the method's batch step's (:class:`fas_lib.training.devices.Precision`,
:func:`fas_lib.training.devices.wrap`), with the batch shares of
:func:`fas_lib.training.devices.share`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from fas_lib.training import devices
from fas_lib.training.runs import (
    BEST,
    CHECKPOINT,
    load_checkpoint,
    restore_training,
    save_checkpoint,
    selected_epoch,
    training_checkpoint,
)

__all__ = ["ENGINE_OPT_IN", "Fitted", "Trainer", "copy_weights", "fit", "load_best",
           "opt_in_dict"]

#: The engine's opt-in options of every method's config and their "off" values: dev
#: selection, a warm start from a finished run's folder, mixed precision. A config leaves
#: them out of its ``to_dict`` while off (:func:`opt_in_dict`), so run folders, checkpoints
#: and results of runs that do not use them are those written before the options existed.
ENGINE_OPT_IN: dict[str, Any] = {"select_on_dev": False, "init_from": None, "amp": False}


def opt_in_dict(d: dict[str, Any], off: Mapping[str, Any] = ENGINE_OPT_IN) -> dict[str, Any]:
    """``d`` without the opt-in keys of ``off`` that hold their off value."""
    return {k: v for k, v in d.items() if k not in off or v != off[k]}


@dataclass
class Trainer:
    """What one method plugs into :func:`fit`.

    Attributes:
        name: the run's name (the progress bar's label).
        config: the run's config as a dict (saved in every checkpoint; a checkpoint of
            another config is refused).
        epochs: epochs to train.
        iters_per_epoch: optimiser steps per epoch (the progress bar's unit).
        parts: name -> object with ``state_dict`` / ``load_state_dict`` that a checkpoint
            holds (``model``, ``optimizer``, ``scheduler``, ``loss`` ...).
        train_epoch: ``(epoch, bar) -> record``: one seeded epoch (its draws from ``(seed,
            epoch)``, its learning rate, its schedule step); the record holds ``epoch`` (1-based)
            and ``seconds``.
        score_dev: ``() -> dev EER`` of the current weights (needed by ``select_on_dev``).
        best_parts: the parts whose weights ``best.pt`` keeps (default: ``model``, and
            ``loss`` when it has one).
        comparable: the config's keys that must match a checkpoint's (default: all).
        extra: more entries of every checkpoint (e.g. ``model_config``).
    """

    name: str
    config: dict[str, Any]
    epochs: int
    iters_per_epoch: int
    parts: dict[str, Any]
    train_epoch: Callable[[int, tqdm | None], dict[str, Any]]
    score_dev: Callable[[], float] | None = None
    best_parts: tuple[str, ...] | None = None
    comparable: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def weights(self) -> dict[str, Any]:
        """The parts ``best.pt`` keeps."""
        names = self.best_parts or tuple(n for n in ("model", "loss") if n in self.parts)
        return {n: self.parts[n] for n in names}


@dataclass
class Fitted:
    """What :func:`fit` leaves: the history, the training seconds and whether every epoch ran."""

    history: list[dict[str, Any]]
    train_seconds: float
    complete: bool


def fit(trainer: Trainer, out: str | Path, *, resume: bool = True, progress: bool = True,
        stop_after_epoch: int | None = None,
        on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
        select_on_dev: bool = False,
        ctx: devices.DistContext | None = None) -> Fitted:
    """Train ``trainer`` in the run folder ``out`` from its last checkpoint on.

    Raises:
        ValueError: ``out`` holds another config's checkpoint, or ``select_on_dev`` without
            a ``score_dev``.
    """
    ctx = ctx or devices.DistContext()
    if select_on_dev and trainer.score_dev is None:
        raise ValueError(f"{trainer.name}: select_on_dev needs a dev split to score")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    start, history, seconds = 0, [], 0.0
    if resume and ckpt.is_file():
        start, history, seconds = restore_training(ckpt, trainer.config, trainer.parts,
                                                   comparable=trainer.comparable)
    bar = tqdm(total=trainer.epochs * trainer.iters_per_epoch,
               initial=start * trainer.iters_per_epoch, unit="it",
               desc=f"train {trainer.name}", disable=not (progress and ctx.is_main),
               leave=False)
    try:
        for epoch in range(start, trainer.epochs):
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                break
            record = trainer.train_epoch(epoch, bar)
            history.append(record)
            seconds += record["seconds"]
            if ctx.is_main:  # one process scores dev and writes (fas_lib.training.devices)
                if select_on_dev:
                    _select(trainer, out, history, record)
                save_checkpoint(ckpt, training_checkpoint(
                    epoch + 1, trainer.parts, trainer.config, history, seconds,
                    **trainer.extra))
            devices.barrier(ctx)  # every process can resume from that checkpoint
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, record)
    finally:
        bar.close()
    return Fitted(history, seconds, len(history) >= trainer.epochs)


def _select(trainer: Trainer, out: Path, history: list[dict[str, Any]],
            record: dict[str, Any]) -> None:
    """Score dev into ``record``; keep the weights in ``best.pt`` when this epoch is the
    selected one so far. Written before the epoch's checkpoint: a run interrupted in between
    redoes the epoch and writes the same ``best.pt``; scoring reads no RNG that training
    uses (every epoch re-seeds)."""
    assert trainer.score_dev is not None
    record["dev_eer"] = float(trainer.score_dev())
    if selected_epoch(history) == record["epoch"]:
        save_checkpoint(out / BEST, {"epoch": record["epoch"], "dev_eer": record["dev_eer"],
                                     **{n: p.state_dict()
                                        for n, p in trainer.weights().items()}})


def load_best(parts: Mapping[str, Any], out: str | Path) -> int:
    """Load ``best.pt``'s weights into ``parts`` (those it holds); returns its epoch."""
    best = load_checkpoint(Path(out) / BEST)
    for name, part in parts.items():
        if name in best:
            part.load_state_dict(best[name])
    return int(best["epoch"])


def copy_weights(src: Mapping[str, nn.Module], dst: Mapping[str, nn.Module],
                 what: str) -> None:
    """Copy a finished run's weights (``init_from``) into a new run's parts of the same names.

    Raises:
        ValueError: a part is missing or its tensors differ in names or shapes (another model).
    """
    for name, module in dst.items():
        if name not in src:
            raise ValueError(f"{what} has no {name!r} to start from")
        have, want = src[name].state_dict(), module.state_dict()
        bad = sorted(k for k in set(have) | set(want)
                     if k not in have or k not in want or have[k].shape != want[k].shape)
        if bad:
            raise ValueError(f"{what} holds another model: {name} differs in {bad[:5]}")
        module.load_state_dict(have)
