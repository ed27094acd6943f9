"""Training the multi-modal networks (MM-FAS, ADSN) on a crop cache with depth and NIR crops.

One run (:func:`train_mm`): the model of :class:`MMRunConfig` (any MM-FAS config, including a
single modality, early fusion, no aggregation and the face-recognition trunk with
:func:`~fas_lib.models.init_from_face_recognition`; or any ADSN config with the weights of
:class:`~fas_lib.models.ADSNLoss`), trained with Adam on the ``train`` frames of one crop scale
(:func:`fas_lib.loader.load_splits`, re-exported here: whole splits in memory,
they are small), random horizontal flips of all modalities of a sample together; optionally
with the authors' recipe (:mod:`fas_lib.mm_recipe`: Adam's betas, a cosine schedule, their
augmentation, flip test-time augmentation; :meth:`MMRunConfig.recipe`). MM-FAS learns
with cross-entropy on its two logits (the authors' ``cce``), ADSN with its loss. A run folder
(:func:`mm_run_dir`: ``<name>-<hash of the config and the data>``, as :func:`fas_lib.runs.
run_dir`) holds ``checkpoint.pt`` after every epoch, then ``scores.csv`` (dev and test frame
scores, :func:`fas_lib.scoring.scores_table`) and ``results.json`` (:func:`fas_lib.runs.
write_run`; metrics of :func:`fas_lib.mm_metrics.mm_report`). A finished folder is read back,
an interrupted one resumes: every epoch re-seeds Python, NumPy and PyTorch from ``(seed,
epoch)`` and draws its order, flips and augmentation from that seed, so a resumed run scores
exactly like an uninterrupted one (on CPU).

Scores: MM-FAS ``softmax(logits)[:, 1]``; ADSN ``sigmoid(logit)``, or, trained without BCE
(``lambda_bce=0``: its classifier then learns nothing), the embedding's cosine to the bona fide
center minus its cosine to the attack center (:meth:`~fas_lib.models.ADSNLoss.center_scores`).
``exclude_attacks`` leaves attack types out of training (the ensemble's folds); dev and test
are scored whole.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from fas_lib.config import epoch_seed
from fas_lib.loader import SplitData, load_splits, split_inputs
from fas_lib.mm_metrics import mm_report
from fas_lib.mm_recipe import (
    MM_RECIPES,
    UNHASHED_DEFAULTS,
    augment_batch,
    check_recipe,
    draw_augment,
    flip_tta,
    set_epoch_lr,
)
from fas_lib.models import (
    ADSN,
    ADSN_PRESETS,
    MMFAS,
    MMFAS_PRESETS,
    ADSNLoss,
    init_from_face_recognition,
    scores_from_logits,
)
from fas_lib.runs import (
    CHECKPOINT,
    SCORES,
    config_hash,
    data_key,
    load_checkpoint,
    read_results,
    restore_training,
    save_checkpoint,
    training_checkpoint,
    write_run,
)
from fas_lib.scoring import scores_table
from fas_lib.utils import set_seed, tune_malloc

__all__ = ["INITS", "MM_MODELS", "MMRunConfig", "SplitData", "build_mm", "load_mm_run",
           "load_splits", "make_optimizer", "mm_run_dir", "score_mm", "train_mm", "train_step"]

MM_MODELS: tuple[str, ...] = ("mmfas", "adsn")
INITS: tuple[str, ...] = ("random", "face_recognition")
_TUPLE_FIELDS = ("modalities", "widths", "blocks")


@dataclass(frozen=True)
class MMRunConfig:
    """One multi-modal training run.

    Attributes:
        model: ``"mmfas"`` or ``"adsn"``.
        preset: the model's preset (:data:`~fas_lib.models.MMFAS_PRESETS`,
            :data:`~fas_lib.models.ADSN_PRESETS`).
        options: overrides of the preset's fields (``modalities``, ``aggregation``,
            ``fusion``, ``trunk``, ``widths``, ``input_size``; ADSN ``fusion``, ...).
        loss: ADSN only: :class:`~fas_lib.models.ADSNLoss` weights (``lambda_bce``,
            ``lambda_center``, ``lambda_cosine``, ``margin``, ``lambda_overlap``, ``lambda_parts``).
        init: ``"random"`` or ``"face_recognition"`` (MM-FAS with ``trunk="dlib"``).
        epochs, batch_size, lr, weight_decay, betas: Adam's training schedule.
        schedule: ``"constant"`` rate or ``"cosine"`` over the epochs, set once per epoch
            (:func:`fas_lib.mm_recipe.epoch_lr`).
        scale: the cached crop scale the model sees.
        flip: random horizontal flips (all modalities of a sample flipped together).
        augment: ``None`` or ``"paper"``: the authors' training augmentation besides the flip
            (:data:`fas_lib.mm_recipe.PAPER_AUGMENT`).
        tta_flip: score a frame as the mean of its and its mirror's score.
        exclude_attacks: attack types left out of the training frames.
        seed: model initialisation, order and flips.
        name: run name (the folder's prefix).
        eval_batch_size: frames per scoring pass.
    """

    model: str = "mmfas"
    preset: str = "cpu"
    options: Mapping[str, Any] = field(default_factory=dict)
    loss: Mapping[str, float] = field(default_factory=dict)
    init: str = "random"
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scale: float = 1.0
    flip: bool = True
    exclude_attacks: tuple[str, ...] = ()
    seed: int = 0
    name: str = "mm"
    eval_batch_size: int = 128
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "constant"
    augment: str | None = None
    tta_flip: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_attacks", tuple(self.exclude_attacks))
        object.__setattr__(self, "betas", check_recipe(self.betas, self.schedule, self.augment,
                                                       self.tta_flip))
        if self.model not in MM_MODELS:
            raise ValueError(f"model must be one of {MM_MODELS}, got {self.model!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.loss and self.model != "adsn":
            raise ValueError("loss weights are ADSN's; MM-FAS trains with cross-entropy")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {self.epochs}, "
                             f"{self.batch_size}")
        self.model_config()  # unknown options and bad sizes fail here, not after training

    def model_config(self) -> Any:
        """The model's config: the preset with :attr:`options` applied."""
        table = MMFAS_PRESETS if self.model == "mmfas" else ADSN_PRESETS
        if self.preset not in table:
            raise ValueError(f"unknown {self.model} preset {self.preset!r}; have {sorted(table)}")
        opts = {k: tuple(v) if k in _TUPLE_FIELDS else v for k, v in self.options.items()}
        try:
            return replace(table[self.preset], **opts)
        except TypeError as exc:
            raise ValueError(f"bad {self.model} option in {sorted(opts)}: {exc}") from None

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities the model reads."""
        return tuple(self.model_config().modalities) if self.model == "mmfas" else ADSN.modalities

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (tuples become lists); the recipe fields only when they differ
        from their defaults (:data:`~fas_lib.mm_recipe.UNHASHED_DEFAULTS`: older run folders
        keep their hash)."""
        d = json.loads(json.dumps(asdict(self)))
        return {k: v for k, v in d.items() if k not in UNHASHED_DEFAULTS
                or v != UNHASHED_DEFAULTS[k]}

    @classmethod
    def recipe(cls, recipe: str = "paper", /, **fields: Any) -> MMRunConfig:
        """A named recipe of :data:`~fas_lib.mm_recipe.MM_RECIPES`, ``fields`` overriding it
        (e.g. ``MMRunConfig.recipe("paper", preset="cpu", epochs=2)``)."""
        if recipe not in MM_RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; have {sorted(MM_RECIPES)}")
        return cls(**{**MM_RECIPES[recipe], **fields})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MMRunConfig:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**d, "options": dict(d.get("options") or {}),
                      "loss": dict(d.get("loss") or {})})


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


def train_step(model: nn.Module, loss_mod: ADSNLoss | None, opt: torch.optim.Optimizer,
               x: Mapping[str, Tensor], y: Tensor) -> float:
    """One optimiser step: MM-FAS's cross-entropy (``loss_mod=None``) or ADSN's loss.

    Returns:
        The batch's mean loss before the step.
    """
    out = model(x)
    loss = F.cross_entropy(out, y) if loss_mod is None else loss_mod(out, y)["total"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.item())


def _frame_scores(out: Any, loss_mod: ADSNLoss | None) -> Tensor:
    if loss_mod is None:
        return scores_from_logits(out)
    if loss_mod.lambda_bce == 0:
        return loss_mod.center_scores(out.embedding)
    return torch.sigmoid(out.logits)


@torch.no_grad()
def score_mm(model: nn.Module, loss_mod: ADSNLoss | None, data: SplitData,
             modalities: tuple[str, ...], batch_size: int = 128,
             tta_flip: bool = False) -> np.ndarray:
    """Bona-fide scores of every frame of a split, in eval mode (see the module docstring);
    ``tta_flip``: each the mean of the frame's and its mirror's (:func:`~fas_lib.mm_recipe.
    flip_tta`)."""
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


def _epoch(state: dict[str, Any], rows: Tensor, train: SplitData, epoch: int,
           bar: tqdm | None) -> dict[str, float]:
    """One seeded pass over ``rows``: order, flips and augmentation from ``(seed, epoch)``, at
    the epoch's rate."""
    cfg, model, loss_mod, opt = state["cfg"], state["model"], state["loss"], state["opt"]
    seed = epoch_seed(cfg.seed, epoch)
    set_seed(seed)
    set_epoch_lr(opt, cfg.lr, cfg.schedule, epoch, cfg.epochs)
    gen = torch.Generator().manual_seed(seed)
    order = rows[torch.randperm(len(rows), generator=gen)]
    flips = torch.rand(len(train.y), generator=gen) < 0.5
    aug = draw_augment(train.y, rows, seed) if cfg.augment else None
    model.train()
    t0, total, seen = time.perf_counter(), 0.0, 0
    for a in range(0, len(order), cfg.batch_size):
        batch = order[a:a + cfg.batch_size]
        if len(batch) < 2:  # BatchNorm needs two samples
            continue
        x = augment_batch(split_inputs(train, cfg.modalities, batch), batch,
                          flips if cfg.flip else None, aug, train.x)
        loss = train_step(model, loss_mod, opt, x, train.y[batch])
        total, seen = total + loss * len(batch), seen + len(batch)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.3f}")
    dt = time.perf_counter() - t0
    return {"epoch": epoch + 1, "loss": total / max(seen, 1), "seconds": dt,
            "samples_per_s": seen / dt if dt > 0 else float("nan")}


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
            "epoch": 0, "train_seconds": 0.0}


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
        ``results.json``'s content: ``config``, ``metrics`` (:func:`fas_lib.mm_metrics.
        mm_report`), ``history``, ``timing`` (``train_samples_per_s``, ``eval_ms_per_face``),
        ``data``.

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
    state = _state(cfg)
    if resume and (out / CHECKPOINT).is_file():
        _restore(state, out / CHECKPOINT)
    rows = _train_rows(cfg, data["train"])
    per_epoch = sum(1 for a in range(0, len(rows), cfg.batch_size) if len(rows) - a >= 2)
    out.mkdir(parents=True, exist_ok=True)
    with tqdm(total=cfg.epochs * per_epoch, initial=state["epoch"] * per_epoch, unit="it",
              desc=f"train {cfg.name}", disable=not progress, leave=False) as bar:
        for epoch in range(state["epoch"], cfg.epochs):
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                return {"complete": False, "epochs_done": epoch, "config": cfg.to_dict()}
            record = _epoch(state, rows, data["train"], epoch, bar)
            state["history"].append(record)
            state["train_seconds"] += record["seconds"]
            state["epoch"] = epoch + 1
            save_checkpoint(out / CHECKPOINT, training_checkpoint(
                epoch + 1, _parts(state), cfg.to_dict(), state["history"], state["train_seconds"]))
    return _score_and_write(state, data, out, len(rows))


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
    return state["model"].eval(), state["loss"], cfg
