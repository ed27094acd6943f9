"""The configuration of one multi-modal run (:class:`MMRunConfig`): MM-FAS or ADSN, its preset
and options, the training recipe and the engine's options (:mod:`fas_lib.training.engine`).

:mod:`fas_lib.training.multimodal` trains it; the run folder's name is a hash of
:meth:`MMRunConfig.to_dict`, which leaves out the recipe fields and the engine's options while they
hold their defaults, so that the folders of runs from before those fields existed keep their names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fas_lib.models import ADSN, ADSN_PRESETS, MMFAS_PRESETS
from fas_lib.training import engine
from fas_lib.training.mm_recipe import MM_RECIPES, UNHASHED_DEFAULTS, check_recipe

__all__ = ["INITS", "MM_MODELS", "MMRunConfig"]

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
            (:func:`fas_lib.training.mm_recipe.epoch_lr`).
        scale: the cached crop scale the model sees.
        flip: random horizontal flips (all modalities of a sample flipped together).
        augment: ``None`` or ``"paper"``: the authors' training augmentation besides the flip
            (:data:`fas_lib.training.mm_recipe.PAPER_AUGMENT`).
        tta_flip: score a frame as the mean of its and its mirror's score.
        exclude_attacks: attack types left out of the training frames.
        seed: model initialisation, order and flips.
        name: run name (the folder's prefix).
        eval_batch_size: frames per scoring pass.
        select_on_dev: score the dev frames after every epoch and test with the weights of
            the lowest dev EER (:func:`fas_lib.training.engine.fit`).
        init_from: start from the weights of this finished run's folder (same model; its
            ``init`` is then not used).
        amp: mixed precision (:class:`fas_lib.training.devices.Precision`; bfloat16 on CPU).
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
    select_on_dev: bool = False
    init_from: str | None = None
    amp: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_attacks", tuple(self.exclude_attacks))
        if self.init_from is not None:
            object.__setattr__(self, "init_from", str(self.init_from))
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
        from their defaults (:data:`~fas_lib.training.mm_recipe.UNHASHED_DEFAULTS`: older run
        folders keep their hash)."""
        d = json.loads(json.dumps(asdict(self)))
        return engine.opt_in_dict(d, {**UNHASHED_DEFAULTS, **engine.ENGINE_OPT_IN})

    @classmethod
    def recipe(cls, recipe: str = "paper", /, **fields: Any) -> MMRunConfig:
        """A named recipe of :data:`~fas_lib.training.mm_recipe.MM_RECIPES`, ``fields`` overriding
        it (e.g. ``MMRunConfig.recipe("paper", preset="cpu", epochs=2)``)."""
        if recipe not in MM_RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; have {sorted(MM_RECIPES)}")
        return cls(**{**MM_RECIPES[recipe], **fields})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MMRunConfig:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**d, "options": dict(d.get("options") or {}),
                      "loss": dict(d.get("loss") or {})})
