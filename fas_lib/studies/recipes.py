"""Which part of a training recipe helps or hurts under a shift (issue 21: the ``robust``
recipe failing on real data).

Until issue 21 the ``robust`` preset was the course's default (``cpu``) plus every augmentation
of :mod:`fas_lib.preprocess.augment` and model selection on dev (``select_on_dev``). On a real
printed-photo dataset with an unseen test session it made CNN_S and MS-FANS worse than the
default, some runs worse than chance. :func:`recipe_ablation` takes it apart on SynthSpoof's
shift protocols: the same network trained with each part on its own and with each part removed
(:data:`RECIPES`), over several seeds, so that a part's effect is read beside the seed spread.
What it measured made ``robust`` the capture augmentations and dev selection only
(:data:`fas_lib.training.config.PRESETS`).

>>> from fas_lib.studies import generalise, recipes
>>> pf = generalise.protocol_folds(cache, ["standard", "p1"])  # doctest: +SKIP
>>> df = recipes.recipe_ablation(cache, pf, scale=1.0, seeds=(0, 1))  # doctest: +SKIP
>>> recipes.recipe_summary(df)  # doctest: +SKIP

One row per (protocol, fold, recipe, seed): the frame-level ``dev_eer`` / ``test_eer`` /
``test_hter`` (threshold at the dev EER), the print and replay APCER at that threshold, the
training loss of the last epoch (how much of the task the augmented training data still shows)
and, with dev selection, the chosen epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fas_lib.cache.reader import CropCache
from fas_lib.cache.views import protocol_view
from fas_lib.preprocess.augment import AUGMENTS, CAPTURE, PHOTOMETRIC
from fas_lib.studies import tables as experiments
from fas_lib.training.runs import read_results, selected_epoch

__all__ = ["MILD", "RECIPES", "recipe_ablation", "recipe_effects", "recipe_summary"]

#: Milder strengths of every augmentation (:class:`fas_lib.preprocess.augment.AugmentSettings`
# fields): : the exposure, white balance, focus, noise and compression a new session or camera
# brings, : kept small beside the colour, contrast and sharpness a recapture itself changes.
MILD: dict[str, Any] = {"brightness": 0.15, "contrast": 0.1, "saturation": 0.1, "hue": 0.02,
                        "gamma": (0.85, 1.2), "blur_sigma": (0.1, 0.7),
                        "noise_std": (0.002, 0.015), "jpeg_quality": (60, 95)}


def _former(*without: str) -> dict[str, Any]:
    """The former ``robust``'s fields (every augmentation, dev selection) without ``without``."""
    return {"augment": tuple(a for a in AUGMENTS if a not in without), "select_on_dev": True}


#: The recipes of the ablation: a preset and the :class:`~fas_lib.training.config.ExperimentConfig`
#: fields it changes. ``cpu`` and ``robust`` are the presets themselves (their runs are those
#: of notebook 07); the others are ``cpu`` with one part added, or the former ``robust`` (every
#: augmentation and dev selection, the preset until issue 21) with one part removed. The
#: former recipe without the photometric part is today's ``robust``.
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "cpu": ("cpu", {}),
    "cpu + dev selection": ("cpu", {"select_on_dev": True}),
    "cpu + hflip": ("cpu", {"augment": ("hflip",)}),
    "cpu + color_jitter": ("cpu", {"augment": ("color_jitter",)}),
    "cpu + gamma": ("cpu", {"augment": ("gamma",)}),
    "cpu + photometric": ("cpu", {"augment": PHOTOMETRIC}),
    "cpu + capture": ("cpu", {"augment": CAPTURE}),
    "cpu + mild augments": ("cpu", {"augment": AUGMENTS, "augment_params": MILD}),
    "former robust": ("cpu", _former()),
    "former robust - color_jitter": ("cpu", _former("color_jitter")),
    "former robust - capture": ("cpu", _former(*CAPTURE)),
    "former robust, mild augments": ("cpu", {**_former(), "augment_params": MILD}),
    "robust": ("robust", {}),
}

_PRINT, _REPLAY = "print", "replay"


def _attack_apcer(results: Mapping[str, Any]) -> dict[str, float]:
    """Highest test APCER among print and among replay attack types (ISO: per PAI species)."""
    per_type = results["metrics"]["frame"].get("test_apcer_per_type") or {}
    out = {}
    for family in (_PRINT, _REPLAY):
        vals = [v for k, v in per_type.items() if k.startswith(family) and v is not None]
        out[f"apcer_{family}"] = float(max(vals)) if vals else float("nan")
    return out


def _run_row(run_dir: str) -> dict[str, Any]:
    """What a finished run folder adds to its row: last training loss, selected epoch, APCERs."""
    results = read_results(run_dir)
    if results is None:
        raise FileNotFoundError(f"{run_dir}: no results.json (the run did not finish)")
    history = results.get("history") or []
    return {"train_loss": float(history[-1]["loss"]) if history else float("nan"),
            "epochs": len(history), "selected_epoch": selected_epoch(history),
            **_attack_apcer(results)}


def recipe_ablation(cache: CropCache, protocol_folds: Sequence[tuple[str, str | None]],
                    scale: float = 1.0, recipes: Sequence[str] = tuple(RECIPES),
                    seeds: Sequence[int] = (0, 1), backbone: str = "cnn_s",
                    out_root: str | Path = "runs", progress: bool = True,
                    **overrides: Any) -> pd.DataFrame:
    """Train CNN_S at ``scale`` with each recipe of :data:`RECIPES` under every protocol and
    fold (:func:`fas_lib.studies.generalise.protocol_folds`) and seed; finished runs are read back.

    Args:
        cache: the ``standard`` crop cache (the shift protocols are views of it).
        protocol_folds: ``(protocol, fold)`` pairs.
        scale: the crop scale of every run.
        recipes: names in :data:`RECIPES`.
        seeds: training seeds (the spread a part's effect is read against).
        backbone, out_root, progress, ``**overrides``: as in :func:`fas_lib.studies.tables.table_ii`.
    """
    bad = [r for r in recipes if r not in RECIPES]
    if bad:
        raise ValueError(f"unknown recipe(s) {bad}; expected some of {list(RECIPES)}")
    rows: list[dict[str, Any]] = []
    jobs = [(p, f, r, s) for p, f in protocol_folds for s in seeds for r in recipes]
    for p, f, name, seed in tqdm(jobs, desc="recipe ablation", disable=not progress):
        preset, fields = RECIPES[name]
        t2 = experiments.table_ii(
            protocol_view(cache, p, f), scales=[scale], backbone=backbone, preset=preset,
            seed=seed, out_root=out_root, progress=False,
            protocol=None if p == "standard" else p, fold=f, **{**fields, **overrides})
        r = t2.iloc[0]
        rows.append({"protocol": p, "fold": f, "recipe": name, "seed": seed, "scale": scale,
                     "dev_eer": float(r["dev_eer"]), "test_eer": float(r["test_eer"]),
                     "test_hter": float(r["test_hter"]), **_run_row(r["run_dir"]),
                     "run_dir": r["run_dir"]})
    return pd.DataFrame(rows)


_METRICS = ("dev_eer", "test_eer", "test_hter", "apcer_print", "apcer_replay", "train_loss")


def recipe_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per protocol and recipe: each metric averaged over folds, then mean and standard
    deviation over seeds (``<metric>`` and ``<metric>_sd``), and ``n_seeds``."""
    per_seed = df.groupby(["protocol", "recipe", "seed"], sort=False)[list(_METRICS)].mean()
    g = per_seed.groupby(level=["protocol", "recipe"], sort=False)
    out = g.mean()
    sd = g.std(ddof=1).add_suffix("_sd")
    out = out.join(sd)
    out["n_seeds"] = g.size()
    return out.reset_index()


def recipe_effects(df: pd.DataFrame, base: str = "cpu") -> pd.DataFrame:
    """Each recipe's test EER minus ``base``'s, seed by seed (same seed, same protocol; folds
    averaged), as mean, standard deviation and the number of seeds where the recipe was worse.

    A part whose effect is well beyond its standard deviation, with the same sign for every
    seed, is a finding; one within it is not.
    """
    per_seed = df.groupby(["protocol", "recipe", "seed"], sort=False)["test_eer"].mean()
    table = per_seed.unstack("recipe")
    if base not in table.columns:
        raise ValueError(f"no {base!r} rows to compare with")
    rows = []
    for protocol, sub in table.groupby(level="protocol", sort=False):
        for recipe in table.columns:
            if recipe == base:
                continue
            diff = (sub[recipe] - sub[base]).dropna().to_numpy()
            if diff.size == 0:
                continue
            rows.append({"protocol": protocol, "recipe": recipe, "delta_test_eer": diff.mean(),
                         "delta_sd": float(np.std(diff, ddof=1)) if diff.size > 1 else np.nan,
                         "worse_seeds": int((diff > 0).sum()), "n_seeds": int(diff.size)})
    return pd.DataFrame(rows)
