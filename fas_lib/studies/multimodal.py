"""Notebook 08's study: single-sensor baselines, MM-FAS and its ablation, the per-attack-type
ensemble, ADSN and its ablation, all trained on one modality cache
(:mod:`fas_lib.training.multimodal`).

>>> from fas_lib.studies.multimodal import StudyPlan, run_study
>>> study = run_study(cache, StudyPlan(epochs=6), "runs")      # doctest: +SKIP
>>> study.table("mmfas")                                       # doctest: +SKIP

The runs (:func:`study_runs`), every one an :class:`~fas_lib.training.multimodal.MMRunConfig`:

* ``rgb``, ``depth``, ``nir``: MM-FAS on one sensor (one trunk, no aggregation path);
* ``early``: the three sensors' channels stacked into one trunk (early fusion);
* ``mmfas_main``, ``mmfas``: MM-FAS (late fusion) without / with the aggregation path;
* ``fr_random``, ``fr_init``: MM-FAS with dlib's face-recognition trunk
  (:func:`~fas_lib.models.dlib_trunk_config`) from random weights / from dlib's
  (:func:`~fas_lib.models.init_from_face_recognition`);
* ``fold_<type>`` (:func:`fold_runs`): MM-FAS (as ``mmfas``) trained on bona fide and every
  attack type but ``<type>``, with ``StudyPlan.fold_seeds`` seeds per fold (``fold_<type>``,
  then ``fold_<type>_seed<s>``; default one); their averaged scores are the ``ensemble`` row
  (a **fold ensemble** of ``folds x fold_seeds`` networks, not the authors' ensemble: theirs
  is 3 attack-type folds x 2 seeds x 4 pre-trained face or gender networks, as the issue
  counts it; the public ``ensemble.py`` averages 7 (pre-training, seed) pairs x 3 folds = 21,
  each scored with flip TTA), and each fold (its seeds averaged) on the type it never saw is
  an **unseen-attack row** (:func:`fas_lib.evaluation.mm_metrics.unseen_attack_report`);
* ``adsn``: ADSN (attention fusion, BCE + center + cosine + the local overlap and
  part-center terms); ``adsn_no_bce``, ``adsn_no_center``, ``adsn_no_cosine``: one loss term
  removed (without BCE the model is scored by its embedding's cosines to the two class
  centers, :meth:`~fas_lib.models.ADSNLoss.center_scores`); ``adsn_no_local``: both local
  terms removed (the parts are then free to overlap); ``adsn_concat``: concatenation instead
  of attention.

:func:`run_study` trains them (each run folder read back when finished, resumed when
interrupted) and returns a :class:`Study`; :meth:`Study.summary` is what notebook 08 writes to
``results/08_multimodal.json``. :meth:`Study.differences` says which rows differ beyond the
luck of the test subjects: each ablation row against its full model and each fused row against
the best single sensor (:data:`DIFFERENCES`), a paired bootstrap over test subjects
(:func:`fas_lib.evaluation.mm_metrics.paired_differences`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fas_lib.evaluation.mm_metrics import mm_report, paired_differences, unseen_attack_report
from fas_lib.evaluation.scores import scores_table
from fas_lib.models import attention_maps, dlib_trunk_config
from fas_lib.training.multimodal import (
    MMRunConfig,
    SplitData,
    load_mm_run,
    load_splits,
    mm_run_dir,
    score_mm,
    train_mm,
)
from fas_lib.training.runs import read_run_scores

__all__ = ["DIFFERENCES", "GROUPS", "Study", "StudyPlan", "attention_samples", "ensemble_scores",
           "fold_runs", "missing_sensor", "run_study", "study_runs"]

#: The notebook's tables: group -> runs, in row order (``ensemble`` is made from the folds).
GROUPS: dict[str, tuple[str, ...]] = {
    "sensors": ("rgb", "depth", "nir"),
    "mmfas": ("rgb", "depth", "nir", "early", "mmfas_main", "mmfas", "fr_random", "fr_init",
              "ensemble"),
    "adsn": ("adsn", "adsn_no_bce", "adsn_no_center", "adsn_no_cosine", "adsn_no_local",
             "adsn_concat"),
}
#: :meth:`Study.differences`' families: family -> (the reference row, the rows compared with
#: it). ``"best_single"``: every fused row against the best single sensor (lowest dev EER).
DIFFERENCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mmfas": ("mmfas", ("early", "mmfas_main", "fr_random", "fr_init", "ensemble")),
    "adsn": ("adsn", GROUPS["adsn"][1:]),
    "best_single": ("best_single", tuple(n for g in ("mmfas", "adsn") for n in GROUPS[g]
                                         if n not in GROUPS["sensors"])),
}


@dataclass(frozen=True)
class StudyPlan:
    """What the study trains and how long.

    Attributes:
        scale: the cached crop scale every model sees.
        input_size: the models' input side (a centre crop of the cached crops).
        epochs: MM-FAS epochs (every MM-FAS row, folds included).
        adsn_epochs: ADSN epochs.
        batch_size, lr: Adam's batch and rate for every run.
        seed: the runs' seed.
        fold_types: the attack types that get a fold (``None``: every attack type of the
            training split); each needs training and test attacks.
        adsn_loss: ADSN's loss weights (``lambda_center``, ``lambda_cosine``,
            ``lambda_overlap``, ``lambda_parts``; the ablation sets one of ``lambda_bce``,
            ``lambda_center``, ``lambda_cosine``, or both local ones, to 0).
        skip: run names left out (e.g. ``("fr_random", "fr_init")`` on a machine without
            dlib's model file); left-out rows are listed in the summary.
        fold_seeds: networks per fold, seeded ``seed``, ``seed + 1``, ...; the ``ensemble``
            row averages all ``folds x fold_seeds`` (the authors': 2 seeds per fold, times 4
            pre-trainings; the default 1 is the study's runs before this field existed).
    """

    scale: float = 1.0
    input_size: int = 64
    epochs: int = 6
    adsn_epochs: int = 6
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    fold_types: tuple[str, ...] | None = None
    adsn_loss: Mapping[str, float] = field(default_factory=dict)
    skip: tuple[str, ...] = ()
    fold_seeds: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.fold_seeds, bool) or not isinstance(self.fold_seeds, int) or \
                self.fold_seeds < 1:
            raise ValueError(f"fold_seeds must be an integer >= 1, got {self.fold_seeds!r}")

    def run(self, name: str, model: str = "mmfas", epochs: int | None = None,
            **fields: Any) -> MMRunConfig:
        """An :class:`MMRunConfig` with this plan's schedule (``fields`` override)."""
        opts = {"input_size": self.input_size, **fields.pop("options", {})}
        return MMRunConfig(model=model, options=opts, epochs=epochs or self.epochs,
                           batch_size=self.batch_size, lr=self.lr, scale=self.scale,
                           seed=self.seed, name=name, **fields)


def study_runs(plan: StudyPlan) -> dict[str, MMRunConfig]:
    """Every run of the study but the folds, by row name (see the module docstring)."""
    fr = {"trunk": "dlib", "widths": dlib_trunk_config("cpu", input_size=56).widths}
    mm = {m: {"options": {"modalities": (m,), "aggregation": False}}
          for m in ("rgb", "depth", "nir")}
    mm.update(early={"options": {"fusion": "early"}}, mmfas_main={"options": {
        "aggregation": False}}, mmfas={}, fr_random={"options": fr},
              fr_init={"options": fr, "init": "face_recognition"})
    loss = dict(plan.adsn_loss)
    adsn: dict[str, dict[str, Any]] = {
        "adsn": {"loss": loss}, "adsn_no_bce": {"loss": {**loss, "lambda_bce": 0.0}},
        "adsn_no_center": {"loss": {**loss, "lambda_center": 0.0}},
        "adsn_no_cosine": {"loss": {**loss, "lambda_cosine": 0.0}},
        "adsn_no_local": {"loss": {**loss, "lambda_overlap": 0.0, "lambda_parts": 0.0}},
        "adsn_concat": {"loss": loss, "options": {"fusion": "concat"}}}
    runs = {n: plan.run(n, **f) for n, f in mm.items() if n not in plan.skip}
    runs.update({n: plan.run(n, "adsn", plan.adsn_epochs, **f) for n, f in adsn.items()
                 if n not in plan.skip})
    return runs


def fold_runs(plan: StudyPlan, attack_types: Sequence[str]) -> dict[str, MMRunConfig]:
    """``fold_<type>``: the ``mmfas`` run trained without ``<type>``, for every type; with
    ``plan.fold_seeds > 1`` also ``fold_<type>_seed<s>``, the same run seeded ``s = seed + 1,
    ...`` (the first member keeps the name and folder of a one-seed study)."""
    base = plan.run("mmfas")
    out = {}
    for t in attack_types:
        for i in range(plan.fold_seeds):
            name = f"fold_{t}" if i == 0 else f"fold_{t}_seed{plan.seed + i}"
            out[name] = replace(base, name=name, exclude_attacks=(t,), seed=plan.seed + i)
    return out


def ensemble_scores(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The mean score of several models' scores tables of the same frames (same row order).

    Raises:
        ValueError: no table, or tables whose frames differ.
    """
    if not tables:
        raise ValueError("no scores table to average")
    key = ["split", "video_id", "frame_idx"]
    first = tables[0]
    for t in tables[1:]:
        if len(t) != len(first) or not t[key].astype(str).equals(first[key].astype(str)):
            raise ValueError("the scores tables do not hold the same frames in the same order")
    out = first.drop(columns=[c for c in first if c not in (*key, "label", "attack_type")])
    out["score"] = np.mean([t["score"].to_numpy() for t in tables], axis=0)
    return out


@dataclass
class Study:
    """The trained study: every run's results, scores and folder, and the derived rows.

    Attributes:
        plan: the plan it ran.
        results: run name -> ``results.json`` content
            (:func:`fas_lib.training.multimodal.train_mm`).
        scores: run name -> scores table (``ensemble`` included).
        folders: run name -> run folder.
        reports: row name -> :func:`~fas_lib.evaluation.mm_metrics.mm_report` (``ensemble``
            included).
        unseen: one :func:`~fas_lib.evaluation.mm_metrics.unseen_attack_report` per fold.
        subjects: test video id -> subject (the bootstrap's unit).
    """

    plan: StudyPlan
    results: dict[str, dict[str, Any]]
    scores: dict[str, pd.DataFrame]
    folders: dict[str, Path]
    reports: dict[str, dict[str, Any]]
    unseen: list[dict[str, Any]]
    subjects: dict[str, str] = field(default_factory=dict)
    _paired: dict[tuple, list] = field(default_factory=dict, repr=False, compare=False)

    def table(self, group: str) -> pd.DataFrame:
        """The rows of a group of :data:`GROUPS` (runs that were not run are left out):
        ACER, APCER, BPCER, test EER, TPR at FPR 1e-2 / 1e-3 (fractions), worst type."""
        rows = []
        for name in GROUPS[group]:
            r = self.reports.get(name)
            if r is None:
                continue
            rows.append({"model": name, "acer": r["acer"], "apcer": r["apcer"],
                         "bpcer": r["bpcer"], "test_eer": r["test_eer"],
                         "tpr@fpr=1e-2": r["tpr_at_fpr_1e-02"],
                         "tpr@fpr=1e-3": r["tpr_at_fpr_1e-03"], "worst_type": r["worst_type"]})
        return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()

    def sensor_eer(self) -> pd.DataFrame:
        """Test EER of bona fide against each attack type, per single-sensor model (rows) and
        for the fused ``mmfas``, ``ensemble`` and ``adsn`` (when run)."""
        names = [n for n in ("rgb", "depth", "nir", "mmfas", "ensemble", "adsn")
                 if n in self.reports]
        return pd.DataFrame({n: self.reports[n]["eer_per_type"] for n in names}).T

    def best_single(self) -> str | None:
        """The single-sensor row with the lowest **dev** EER (ties: the order of
        ``GROUPS["sensors"]``), ``None`` without one: chosen without the test split it is then
        compared on."""
        rows = [n for n in GROUPS["sensors"] if n in self.reports]
        if not rows:
            return None
        return min(rows, key=lambda n: (self.reports[n]["dev_eer"], rows.index(n)))

    def differences(self, n_boot: int = 1000, seed: int = 0,
                    level: float = 0.95) -> pd.DataFrame:
        """Test EER differences with a paired bootstrap interval over test subjects, one row per
        pair of :data:`DIFFERENCES` whose rows were run
        (:func:`~fas_lib.evaluation.mm_metrics.paired_differences`' columns; ``diff = EER(a) -
        EER(b)``, negative: ``a`` better; ``family`` ``"best_single"`` has the chosen sensor in
        ``b``). Computed once per ``(n_boot, seed, level)``."""
        key = (int(n_boot), int(seed), float(level))
        if key not in self._paired:
            best, pairs = self.best_single(), []
            for fam, (ref, rows) in DIFFERENCES.items():
                if ref != "best_single":
                    pairs += [(fam, ref, r) for r in rows]
                elif best is not None:
                    pairs += [(fam, r, best) for r in rows]
            self._paired[key] = paired_differences(self.scores, pairs, self.subjects, *key)
        return pd.DataFrame(self._paired[key])

    def summary(self, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
        """JSON-friendly: plan, per-row reports, unseen rows, timing and parameters per run,
        and under ``differences`` the records of :meth:`differences` (``n_boot``, ``seed``)."""
        timing = {n: {"train_seconds": r["timing"]["train_seconds"],
                      "train_samples_per_s": r["timing"]["train_samples_per_s"],
                      "eval_ms_per_face": r["timing"]["eval_ms_per_face"],
                      "n_train_frames": r["data"]["n_train_frames"]}
                  for n, r in self.results.items()}
        plan = {k: v for k, v in asdict(self.plan).items() if k != "fold_seeds" or v != 1}
        return {"plan": {**plan, "adsn_loss": dict(self.plan.adsn_loss)},
                "groups": {g: [n for n in rows if n in self.reports] for g, rows in GROUPS.items()},
                "reports": self.reports, "unseen": self.unseen, "timing": timing,
                "skipped": list(self.plan.skip),
                "configs": {n: r["config"] for n, r in self.results.items()},
                "differences": self.differences(n_boot, seed).to_dict(orient="records")}


def _train_all(runs: Mapping[str, MMRunConfig], cache: Any, out_root: str | Path,
               data: Mapping[str, SplitData], progress: bool) -> tuple[dict, dict, dict]:
    results, scores, folders = {}, {}, {}
    bar = tqdm(runs.items(), desc="multi-modal runs", disable=not progress)
    for name, cfg in bar:
        bar.set_postfix(run=name)
        folders[name] = mm_run_dir(cfg, out_root, cache)
        results[name] = train_mm(cfg, cache, folders[name], progress=progress, data=data)
        scores[name] = read_run_scores(folders[name])
    return results, scores, folders


def _unseen_rows(folds: Sequence[str], scores: Mapping[str, pd.DataFrame],
                 results: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One unseen-attack row per fold type: its runs' scores (its seeds) averaged, on the type
    they never saw; ``run`` is the fold's first run, ``members`` (several seeds only) all."""
    members: dict[str, list[str]] = {}
    for n in folds:
        members.setdefault(results[n]["config"]["exclude_attacks"][0], []).append(n)
    rows = []
    for t, names in members.items():
        table = scores[names[0]] if len(names) == 1 else ensemble_scores(
            [scores[n] for n in names])
        row = {**unseen_attack_report(table, t), "run": names[0]}
        rows.append(row if len(names) == 1 else {**row, "members": names})
    return rows


def run_study(cache: Any, plan: StudyPlan, out_root: str | Path,
              progress: bool = True) -> Study:
    """Train (or read back) every run of the plan and derive the ensemble and unseen rows.

    Args:
        cache: a crop cache with depth and NIR crops.
        plan: what to train.
        out_root: folder of the run folders (:func:`fas_lib.training.multimodal.mm_run_dir`).
        progress: tqdm bars.

    Raises:
        ValueError: a fold type absent from the training split's or the test split's attacks
            (checked before training), or as :func:`fas_lib.training.multimodal.train_mm`.
    """
    data = load_splits(cache, plan.scale, plan.input_size)
    train_types = sorted(set(data["train"].frames.loc[data["train"].y.numpy() == 0,
                                                      "attack_type"].astype(str)))
    types = list(plan.fold_types) if plan.fold_types is not None else train_types
    if set(types) - set(train_types):
        raise ValueError(f"fold types {sorted(set(types) - set(train_types))} are not attack "
                         f"types of the training split ({train_types})")
    test = data["test"].frames
    unseen = sorted(set(types) - set(test.loc[test["label"] == 0, "attack_type"].astype(str)))
    if unseen:  # their unseen-attack rows could not be measured, after training everything
        raise ValueError(f"fold types {unseen} have no test attack; pass StudyPlan(fold_types="
                         "...) with types of both the training and the test split")
    runs = {**study_runs(plan), **fold_runs(plan, types)}
    runs = {k: v for k, v in runs.items() if k not in plan.skip}
    results, scores, folders = _train_all(runs, cache, out_root, data, progress)
    reports = {n: r["metrics"] for n, r in results.items()}
    folds = [n for n in scores if n.startswith("fold_")]
    unseen = _unseen_rows(folds, scores, results)
    if folds:
        scores["ensemble"] = ensemble_scores([scores[n] for n in folds])
        reports["ensemble"] = mm_report(scores["ensemble"])
    subjects = dict(zip(test["video_id"].astype(str), test["subject"].astype(str)))
    return Study(plan, results, scores, folders, reports, unseen, subjects)


def attention_samples(folder: str | Path, data: SplitData,
                      types: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """ADSN's attention on the first frame of each attack type (``"live"``: bona fide) of a
    split, for the figure.

    Args:
        folder: an ADSN run folder with attention fusion.
        data: the split (:func:`fas_lib.training.multimodal.load_splits`).
        types: attack types (``"live"`` for bona fide); a type without a frame is skipped and
            listed under ``"missing"``.

    Returns:
        A dict ``{type: maps}`` and ``"missing"``; ``maps`` holds ``depth`` and ``nir`` (the two
        inputs, ``(S, S)``), ``parts_depth`` and ``parts_nir`` (each stream's K part maps,
        ``(K, S, S)``, each scaled to a maximum of 1: :func:`~fas_lib.models.attention_maps`)
        and ``row`` (its position in ``data``).
    """
    model, _, cfg = load_mm_run(folder)
    if cfg.model != "adsn":
        raise ValueError(f"{folder} is a {cfg.model} run; attention maps need ADSN")
    kinds = data.frames["attack_type"].astype(str).to_numpy()
    out: dict[str, Any] = {"missing": []}
    for t in types:
        hit = np.flatnonzero(kinds == t)
        if len(hit) == 0:
            out["missing"].append(t)
            continue
        x = {m: data.x[m][hit[:1]] for m in ("depth", "nir")}
        att = attention_maps(model, x)
        out[t] = {"depth": x["depth"][0, 0].numpy(), "nir": x["nir"][0, 0].numpy(),
                  "parts_depth": att["depth"][0].numpy(),
                  "parts_nir": att["nir"][0].numpy(), "row": int(hit[0])}
    return out


def missing_sensor(run_dir: str | Path, cache: Any, drop: str, fill: float = 0.0,
                   data: Mapping[str, SplitData] | None = None) -> dict[str, Any]:
    """A trained fused run scored on test with one sensor missing (IR-only or RGB-only use).

    The dropped sensor's input is the constant ``fill`` (0.0: mid-grey, the middle of the
    ``[-1, 1]`` inputs), the others are as recorded. The threshold stays the deployed model's
    (its own dev EER threshold with every sensor), so APCER / BPCER / ACER say what a system
    calibrated with every sensor does when one fails; ``test_eer`` is threshold-free. A run
    trained with ``tta_flip`` is scored with it, as its dev scores were.

    Args:
        run_dir: a finished :func:`fas_lib.training.multimodal.train_mm` folder.
        cache: its modality crop cache (``data`` may hold its test split already).
        drop: one of the run's modalities.
        fill: the missing sensor's constant input.
        data: splits from :func:`fas_lib.training.multimodal.load_splits` at the run's scale and
        size.

    Returns:
        :func:`fas_lib.evaluation.mm_metrics.mm_report` of the run's dev scores with every sensor
        and its test scores without ``drop``, plus ``dropped``.

    Raises:
        ValueError: ``drop`` is not one of the run's modalities.
    """
    model, loss_mod, cfg = load_mm_run(run_dir)
    if drop not in cfg.modalities:
        raise ValueError(f"{drop!r} is not a modality of this run; it reads {cfg.modalities}")
    if data is None:
        data = load_splits(cache, cfg.scale, cfg.model_config().input_size, splits=("test",))
    test = data["test"]
    x = {**test.x, drop: test.x[drop].new_full(test.x[drop].shape, fill)}
    scores = score_mm(model, loss_mod, SplitData(x, test.y, test.frames), cfg.modalities,
                      cfg.eval_batch_size, cfg.tta_flip)
    table = pd.concat([read_run_scores(run_dir, "dev"), scores_table("test", test.frames, scores)],
                      ignore_index=True)
    return {"dropped": drop, **mm_report(table)}
