"""STASN, MM-FAS and ADSN experiments as data, beside MS-FANS's (``configs/*.yaml``).

An MS-FANS experiment file (:class:`fas_lib.training.config.Experiment`) has ``title``, ``paper``,
``base`` and ``grid``; a file of another method adds two keys:

* ``method``: ``"clip"`` (:class:`~fas_lib.training.clip_inputs.ClipConfig` runs on clips: STASN,
  MS-FANS over time; notebook 09) or ``"mm"`` (:class:`~fas_lib.training.mm_config.MMRunConfig` runs
  on a crop cache with depth and NIR: MM-FAS, ADSN; notebook 08);
* ``data``: how the data is made. ``clip``: the arguments of :func:`fas_lib.cache.prepare.get_clips`
  (``dataset``, ``root``, ``t``, ``scales``, ``use_gt_boxes``); ``mm``: ``synth`` (the
  :class:`~fas_lib.synthspoof.SynthConfig` fields of a SynthSpoof with depth and NIR, generated
  when ``root`` is not given; ``attack_types: all`` for every attack type) and the cache's
  ``scale`` and ``crop_size``; ``smoke: true`` in either asks for the tiny data of the notebooks'
  smoke runs.

``base`` and ``grid`` then hold the fields of the method's config, one run per combination of
the grid, as for MS-FANS; or, instead of ``grid``, ``runs``: named runs (name -> the fields that
differ from ``base``), as the notebooks name their table rows. ``fas train --config
configs/stasn.yaml`` (or ``mmfas.yaml``, ``adsn.yaml``) trains them through the one engine
(:mod:`fas_lib.training.engine`) into ``runs/<file>/<run name>``; ``--set FIELD=VALUE`` overrides a
field of every run.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fas_lib.training.clip_inputs import ClipConfig, split_data
from fas_lib.training.config import read_mapping
from fas_lib.training.mm_config import MMRunConfig

__all__ = ["METHODS", "MethodExperiment", "is_method_file", "load_method_experiment",
           "method_data", "train_method_runs"]

#: Method -> its run config class (``msfans`` files are
#: :class:`fas_lib.training.config.Experiment`).
METHODS: dict[str, type] = {"clip": ClipConfig, "mm": MMRunConfig}
_KEYS = {"title", "paper", "method", "data", "base", "grid", "runs"}


@dataclass
class MethodExperiment:
    """A clip or multi-modal experiment file (see the module docstring)."""

    name: str
    title: str
    paper: str
    method: str
    data: dict[str, Any]
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    path: Path | None = None
    runs: dict[str, dict[str, Any]] | None = None

    def configs(self, **overrides: Any) -> list[Any]:
        """One run config per combination of the grid (the first field varying slowest),
        ``overrides`` set on every run; for a grid field an override is its list of values.
        Each run is named after the base name and its grid values (``stasn-temporal``), or
        by its key in ``runs``, so that every run gets its own folder."""
        fields = dict(overrides)
        cls = METHODS[self.method]
        if self.runs:
            return [cls.from_dict({**self.base, **run, "name": name, **fields})
                    for name, run in self.runs.items()]
        axes = {}
        for key, values in self.grid.items():
            values = fields.pop(key, values)
            if not isinstance(values, list) or not values:
                raise ValueError(f"{key} varies over the grid: give its values as a list")
            axes[key] = values
        out = []
        for combo in itertools.product(*axes.values()):
            d = {**self.base, **dict(zip(axes, combo, strict=True)), **fields}
            if combo and "name" not in axes:
                d["name"] = "-".join([str(d.get("name", self.name)), *map(_label, combo)])
            out.append(cls.from_dict(d))
        return out


def _label(value: Any) -> str:
    """A grid value in a run name: ``both``, ``1.4``, ``1.2_1.3`` for a list."""
    if isinstance(value, list | tuple):
        return "_".join(_label(v) for v in value)
    if isinstance(value, dict):
        return "_".join(f"{k}{_label(v)}" for k, v in value.items())
    return f"{value:g}" if isinstance(value, float) else str(value)


def is_method_file(path: str | Path) -> bool:
    """Whether ``path`` is an existing YAML experiment file of a clip or multi-modal method."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return isinstance(data, dict) and data.get("method", "msfans") in METHODS


def load_method_experiment(path: str | Path) -> MethodExperiment:
    """Read and check a method's experiment file (every run's config is built once here).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a mapping, unknown keys or method, a grid value that is not a
            non-empty list, or a field its config does not have.
    """
    path = Path(path)
    data = read_mapping(path)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; a method file has {sorted(_KEYS)}")
    if data.get("method") not in METHODS:
        raise ValueError(f"{path}: method must be one of {sorted(METHODS)}, got "
                         f"{data.get('method')!r} (MS-FANS files have no method)")
    grid, runs = data.get("grid") or {}, data.get("runs") or None
    bad = [k for k, v in grid.items() if not isinstance(v, list) or not v]
    if bad:
        raise ValueError(f"{path}: grid values must be non-empty lists, not for {bad}")
    if grid and runs:
        raise ValueError(f"{path}: give either grid or runs, not both")
    if runs is not None and not (isinstance(runs, dict)
                                 and all(isinstance(v, dict) for v in runs.values())):
        raise ValueError(f"{path}: runs must map each run's name to its fields")
    exp = MethodExperiment(path.stem, str(data.get("title", "")), str(data.get("paper", "")),
                           data["method"], dict(data.get("data") or {}),
                           dict(data.get("base") or {}), dict(grid), path, runs)
    try:
        exp.configs()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return exp


def method_data(exp: MethodExperiment, smoke: bool = False, workers: int = 2) -> Any:
    """The data an experiment's runs train on: :data:`~fas_lib.training.clip_inputs.ClipData` for
    ``clip``, the crop cache with depth and NIR for ``mm`` (generated and cached when needed;
    ``smoke``: the tiny versions the notebooks' smoke runs use). Under torchrun, rank 0 makes
    it first and the other processes then open what it made."""
    from fas_lib.training import devices
    ctx, _ = devices.init("cpu")
    return devices.rank0_first(ctx, lambda: _make_data(exp, smoke, workers))


def _make_data(exp: MethodExperiment, smoke: bool, workers: int) -> Any:
    spec = dict(exp.data)
    smoke = bool(spec.pop("smoke", False)) or smoke
    if exp.method == "clip":
        from fas_lib.cache.prepare import get_clips

        t = spec.pop("t", None)
        cache, clips = get_clips(spec.pop("dataset", "synthspoof"), spec.pop("root", None),
                                 smoke=smoke, workers=workers, t=2 if smoke else t, **spec)
        return split_data(cache, clips)
    return _mm_cache(spec, smoke, workers)


def _mm_cache(spec: dict[str, Any], smoke: bool, workers: int) -> Any:
    from fas_lib.cache.build import build_cache
    from fas_lib.synthspoof import ALL_ATTACK_TYPES, SynthConfig, generate

    dataset, root = spec.get("dataset", "synthspoof"), spec.get("root")
    synthetic = dataset == "synthspoof" and root is None
    if synthetic:
        fields = dict(spec.get("synth") or {})
        if fields.get("attack_types") == "all":
            fields["attack_types"] = ALL_ATTACK_TYPES
        if smoke:  # notebook 08's smoke data: one subject per split, one session
            fields.update(n_subjects=3, sessions=("s1",), live_per_session=1)
        root = generate(SynthConfig(**fields), workers=workers, progress=False).root
    return build_cache(dataset, root, scales=(float(spec.get("scale", 1.0)),),
                       n_frames=int((spec.get("synth") or {}).get("frames_per_video", 2)),
                       crop_size=int(spec.get("crop_size", 64)), workers=workers,
                       use_gt_boxes=synthetic, modalities=("depth", "nir"), progress=False)


def train_method_runs(exp: MethodExperiment, configs: Sequence[Any], data: Any,
                      folders: Sequence[Path], resume: bool = True,
                      progress: bool = True) -> list[dict[str, Any]]:
    """Train each run of ``configs`` in its folder through the engine; a finished folder of
    the same config is read back (with ``resume``), an interrupted one resumes."""
    from fas_lib.training.clips import run_clip_experiment
    from fas_lib.training.multimodal import load_splits, train_mm
    from fas_lib.training.runs import read_results

    out = []
    if exp.method == "clip":
        for cfg, folder in zip(configs, folders, strict=True):
            done = (read_results(folder) or {}) if resume else {}
            if not (done.get("complete") and done.get("config") == cfg.to_dict()):
                done = run_clip_experiment(cfg, data, folder, resume=resume, progress=progress)
            out.append(done)
        return out
    splits: dict[tuple[float, int], Any] = {}
    for cfg, folder in zip(configs, folders, strict=True):
        key = (cfg.scale, cfg.model_config().input_size)
        if key not in splits:  # one load per scale and input size, shared by the runs
            splits[key] = load_splits(data, *key)
        out.append(train_mm(cfg, data, folder, resume=resume, progress=progress,
                            data=splits[key]))
    return out
