"""``fas reproduce``: the paper's Tables II, III and V on a dataset, in one call and one report.

>>> from fas_lib.studies.reproduce import reproduce
>>> report = reproduce("replay_attack", "/data/replayattack")    # doctest: +SKIP

:func:`reproduce` builds (or opens, or resumes) the dataset's crop cache
(:func:`fas_lib.cache.prepare.get_cache`, which prints the disk it needs before it starts), trains
or reads back every run of the tables with the drivers of :mod:`fas_lib.studies.tables` and writes
one report, ``<out>/report.json`` and ``<out>/report.md``. The runs live in keyed run folders under
``<out>/runs`` (:func:`fas_lib.training.runs.run_dir`), so a call that was interrupted resumes where
it stopped, and a finished one is read back in seconds.

* **Table II** (``configs/table_ii.yaml``): CNN_S trained at each scale;
* **Table III** (``configs/table_iii.yaml``): per group of three adjacent scales, the best
  single scale (the group's Table II run with the lowest test EER, as in the paper), Average,
  Concat and MS-FANS;
* **Table V** (and **IV** on request; ``configs/tables_iv_v.yaml``): MS-FANS with CNN_S and
  CNN_D on the table's group and the colour-texture LBP + SVM baseline on the group's scales
  (concatenated histograms), beside every row of the paper's table.

The paper's numbers (:mod:`fas_lib.evaluation.paper`) appear only in columns labelled as the
paper's; they were measured on CASIA-FASD (Tables II-IV) and REPLAY-ATTACK (Table V) with the
paper's training, not with the ``cpu`` preset used here by default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fas_lib.cache.prepare import get_cache
from fas_lib.cache.reader import CropCache
from fas_lib.core.utils import atomic_write_text, human_bytes, save_results
from fas_lib.data.datasets import ADAPTERS, get_adapter
from fas_lib.evaluation import paper
from fas_lib.studies import tables as experiments
from fas_lib.training.config import PRESETS, cache_splits, load_experiment

#: The tables :func:`reproduce` can run, and those it runs by default (the issue's).
TABLES: tuple[str, ...] = ("II", "III", "IV", "V")
DEFAULT_TABLES: tuple[str, ...] = ("II", "III", "V")
#: Table III's rows as the report names them.
FUSION_NAMES: dict[str, str] = {"best_single": "Best single scale", "average": "Average",
                                "concat": "Concat", "msfans": "MS-FANS"}


@dataclass(frozen=True)
class TablePlan:
    """What :func:`reproduce` runs, checked before anything is built.

    Attributes:
        tables: the tables, in :data:`TABLES` order.
        scales: Table II's scales (and those the cache is cut at).
        groups: Table III's groups (the paper's groups within ``scales``).
        comparisons: ``"IV"`` / ``"V"`` -> the MS-FANS group of that table.
    """

    tables: tuple[str, ...]
    scales: tuple[float, ...]
    groups: tuple[tuple[float, ...], ...] = ()
    comparisons: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def single_scales(self) -> list[float]:
        """The scales whose single-scale CNN_S runs are needed (Table II's, Table III's)."""
        if "II" in self.tables:
            return list(self.scales)
        return sorted({s for g in self.groups for s in g})

    def n_runs(self) -> int:
        """How many CNN runs the tables hold (each is trained once, then read back; the CNN_S
        MS-FANS run of Table IV / V is Table III's when Table III has its group)."""
        n = len(self.single_scales()) + 3 * len(self.groups)
        return n + sum(1 + (g not in self.groups) for g in set(self.comparisons.values()))


def _within(group: Sequence[float], scales: Sequence[float]) -> bool:
    return all(any(abs(s - c) < 1e-6 for c in scales) for s in group)


def plan_tables(tables: Iterable[str] = DEFAULT_TABLES,
                scales: Iterable[float] | None = None) -> TablePlan:
    """Check the tables and scales asked for; what each table will run.

    Args:
        tables: some of :data:`TABLES` (``"ii"`` and ``"2"`` are accepted for ``"II"``).
        scales: crop scales; ``None``: Table II's (the paper's seven, 0.9 ... 1.5).

    Raises:
        ValueError: an unknown table, bad scales, or scales that leave a table asked for
            without its group (the message names the scales it needs).
    """
    roman = {"2": "II", "3": "III", "4": "IV", "5": "V"}
    asked = [roman.get(str(t).strip(), str(t).strip().upper()) for t in tables]
    bad = [t for t in asked if t not in TABLES]
    if bad or not asked:
        raise ValueError(f"unknown table(s) {bad or asked}; expected some of {list(TABLES)}")
    if scales is None:
        scales = [g[0] for g in load_experiment("table_ii").grid["scales"]]
    scales = tuple(float(s) for s in scales)
    if not scales or any(not np.isfinite(s) or s <= 0 for s in scales) or \
            len(set(scales)) != len(scales):
        raise ValueError(f"scales must be distinct positive numbers, got {list(scales)}")
    groups: tuple[tuple[float, ...], ...] = ()
    if "III" in asked:
        paper_groups = [tuple(map(float, g)) for g in load_experiment("table_iii").grid["scales"]]
        groups = tuple(g for g in paper_groups if _within(g, scales))
        if not groups:
            raise ValueError(f"Table III needs three adjacent scales of one of its groups "
                             f"{paper_groups} among the scales, got {list(scales)}; add them "
                             "or leave Table III out (--tables II V)")
    iv_v = [tuple(map(float, g)) for g in load_experiment("tables_iv_v").grid["scales"]]
    comparisons = {t: g for t, g in zip(("IV", "V"), iv_v, strict=True) if t in asked}
    for t, g in comparisons.items():
        if not _within(g, scales):
            raise ValueError(f"Table {t} runs MS-FANS on {list(g)}, which are not all among the "
                             f"scales {list(scales)}; add them or leave Table {t} out")
    return TablePlan(tuple(t for t in TABLES if t in asked), scales, groups, comparisons)


def _pct(value: Any) -> float | None:
    """A rate in [0, 1] as a percentage (``None`` for a missing or NaN one)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return 100.0 * float(value)


def _ours(row: dict[str, Any] | pd.Series) -> dict[str, float | None]:
    """A run's headline numbers in percent (frame level, and video level: the mean score of a
    video's frames)."""
    return {"eer_percent": _pct(row.get("test_eer")), "hter_percent": _pct(row.get("test_hter")),
            "dev_eer_percent": _pct(row.get("dev_eer")),
            "video_eer_percent": _pct(row.get("video_test_eer")),
            "video_hter_percent": _pct(row.get("video_test_hter"))}


def table_ii_report(t2: pd.DataFrame) -> dict[str, Any]:
    """Table II's section of the report: one row per scale, ours beside the paper's EER."""
    rows = [{"scale": float(r["scale"]), **_ours(r),
             "paper_eer_percent": paper.table_ii_eer(r["scale"]), "run_dir": r["run_dir"]}
            for r in t2.to_dict("records")]
    return {"title": "CNN_S trained and tested at one crop scale",
            "paper": "Table II, CASIA-FASD, EER (%)", "rows": rows}


def table_iii_report(t3: pd.DataFrame) -> dict[str, Any]:
    """Table III's section: one row per (group, fusion), the paper's EER beside ours, and the
    groups where MS-FANS has a lower test EER than each other row."""
    rows = [{"group": r["group"], "scales": [float(s) for s in r["scales"]],
             "fusion": r["fusion"], "best_scale": r.get("best_scale"), **_ours(r),
             "paper_eer_percent": paper.table_iii_eer(r["fusion"], tuple(r["scales"])),
             "run_dir": r["run_dir"]} for r in t3.to_dict("records")]
    wins = {against: experiments.msfans_wins(t3, against=against)["wins"]
            for against in ("best_single", "average", "concat")}
    return {"title": "fusing three adjacent scales with CNN_S",
            "paper": "Table III, CASIA-FASD, EER (%)", "groups": list(dict.fromkeys(t3["group"])),
            "rows": rows, "msfans_lower_eer_than": wins}


def comparison_report(table: str, group: tuple[float, ...], cache: CropCache,
                      fields: dict[str, Any], out_root: Path, workers: int,
                      progress: bool) -> dict[str, Any]:
    """Table IV's or V's section: MS-FANS (CNN_S, CNN_D) on ``group`` and the LBP baseline on
    its scales, trained or read back under ``out_root``, beside every row of the paper's."""
    where, paper_rows = paper.COMPARISON_TABLES[table]
    label = experiments.group_label(group)
    exp = load_experiment("tables_iv_v")
    ours: dict[str, dict[str, Any]] = {}
    for backbone in ("cnn_s", "cnn_d"):
        (cfg,) = exp.configs(grid={"scales": [group]}, backbone=backbone, **fields)
        (res,) = experiments.run_many([cfg], out_root, cache, progress,
                                      desc=f"Table {table} {backbone}")
        ours[backbone] = {"what": f"MS-FANS {backbone.upper()}, {label}",
                          **_ours(experiments.summarise(res)), "run_dir": res["run_dir"]}
    lbp = experiments.lbp_baseline(cache, scales=group, out_root=out_root, workers=workers,
                                   seed=fields.get("seed", 0), progress=progress)
    multi = lbp[lbp["scale"].astype(str) == label].iloc[0]
    ours["lbp"] = {"what": f"LBP {multi['color_space']} + SVM, scales {label}",
                   **_ours(multi), "run_dir": multi["run_dir"]}
    rows = []
    for r in paper_rows:
        mine = ours.get(r.ours or "", {})
        rows.append({"method": r.method, "paper_eer_percent": r.eer,
                     "paper_hter_percent": r.hter, "paper_flops": r.flops,
                     "ours": mine.get("what"), **{k: mine.get(k) for k in _ours({})},
                     "run_dir": mine.get("run_dir")})
    return {"title": f"MS-FANS on {label} against the published methods",
            "paper": f"Table {table}, {where}", "group": list(group), "rows": rows}


def _default_out(dataset: str, protocol: str | None, fold: int | None) -> Path:
    name = dataset + (f"-{protocol}" if protocol else "") + (f"-f{fold}" if fold else "")
    return Path("reproduce") / "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def reproduce(
    dataset: str,
    root: str | Path | None,
    protocol: str | None = None,
    fold: int | None = None,
    *,
    out: str | Path | None = None,
    preset: str = "cpu",
    epochs: int | None = None,
    scales: Iterable[float] | None = None,
    seed: int = 0,
    n_frames: int | None = None,
    workers: int = 2,
    tables: Iterable[str] = DEFAULT_TABLES,
    progress: bool = True,
    verbose: bool = True,
) -> dict[str, Any]:
    """Run the paper's tables on a dataset and write one report (see the module docstring).

    Args:
        dataset: a name of :data:`fas_lib.data.datasets.DATASETS` (``csv`` for your own data).
        root: the dataset root (``None`` only for SynthSpoof, which is then generated).
        protocol: the dataset's protocol (``None``: its default).
        fold: the fold of protocols with folds.
        out: folder of the report and of the runs (``None``: ``reproduce/<dataset>[-<protocol>]``).
        preset: training preset of :data:`fas_lib.training.config.PRESETS` (``"paper"``: the paper's
            learning rate, 30 epochs).
        epochs: epochs of every run (``None``: the preset's).
        scales: crop scales (``None``: the paper's seven); Table III takes the paper's groups
            within them, Tables IV / V need their group among them.
        seed: training seed.
        n_frames: frames per video in the crop cache (``None``: 4, evenly spaced).
        workers: processes for the crop cache and the LBP features.
        tables: some of :data:`TABLES`.
        progress: progress bars.
        verbose: print what is being done, stage by stage.

    Returns:
        The report (also written to ``<out>/report.json``, with ``<out>/report.md``).

    Raises:
        ValueError: unknown dataset, table or preset, bad scales or epochs, or a missing root.
        fas_lib.data.datasets.DatasetLayoutError: ``root`` does not hold the dataset's layout.
    """
    plan = plan_tables(tables, scales)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
    if epochs is not None and int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    name = get_adapter(dataset, root if root is not None else ".").name
    out = Path(out) if out is not None else _default_out(name, protocol, fold)
    say: Callable[..., None] = print if verbose else (lambda *a, **k: None)
    t0 = time.perf_counter()
    say(f"fas reproduce: Tables {', '.join(plan.tables)} on {ADAPTERS[name].title} ({name}), "
        f"preset {preset}, {epochs or 'preset'} epochs, seed {seed}: {plan.n_runs()} CNN runs, "
        f"under {out / 'runs'}")
    say("[1] crop cache")
    cache = get_cache(name, root, protocol, fold, workers=workers, progress=progress,
                      n_frames=n_frames, scales=plan.scales)
    say(f"    {cache.path}: {len(cache.table):,} frames, {human_bytes(cache.size_bytes())} "
        "on disk")
    fields = {k: v for k, v in dict(
        dataset=name, root=None if root is None else str(Path(root).expanduser().resolve()),
        protocol=protocol, fold=fold, epochs=epochs, preset=preset, seed=seed).items()
        if v is not None}
    report = _run_tables(plan, cache, fields, out / "runs", workers, progress, say)
    report.update(_header(name, protocol, fold, cache, plan, preset, epochs, seed))
    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    json_path = save_results(report, "report", out)
    md_path = atomic_write_text(out / "report.md", markdown(report))
    say(f"report: {json_path} and {md_path} ({report['wall_seconds']:.0f} s)")
    return report


def _run_tables(plan: TablePlan, cache: CropCache, fields: dict[str, Any], runs: Path,
                workers: int, progress: bool, say: Callable[..., None]) -> dict[str, Any]:
    """Train or read back the runs of every table of ``plan``; the report's table sections."""
    report: dict[str, Any] = {}
    common = dict(out_root=runs, progress=progress, **fields)
    t2 = None
    if "II" in plan.tables or plan.groups:
        say(f"[2] Table II: CNN_S at scales {plan.single_scales()}")
        t2 = experiments.table_ii(cache, scales=plan.single_scales(), **common)
        if "II" in plan.tables:
            report["table_ii"] = table_ii_report(t2)
    if plan.groups:
        say(f"[3] Table III: Average, Concat, MS-FANS on {len(plan.groups)} group(s)")
        t3 = experiments.table_iii(cache, groups=plan.groups, table2=t2, **common)
        report["table_iii"] = table_iii_report(t3)
    for table, group in plan.comparisons.items():
        say(f"[4] Table {table}: MS-FANS CNN_S and CNN_D, LBP baseline on {list(group)}")
        report[f"table_{table.lower()}"] = comparison_report(table, group, cache, fields, runs,
                                                             workers, progress)
    return report


def _header(name: str, protocol: str | None, fold: int | None, cache: CropCache,
            plan: TablePlan, preset: str, epochs: int | None, seed: int) -> dict[str, Any]:
    """The report's description of what was measured, and how."""
    test = cache.frames("test")
    threshold = "dev" if "dev" in cache_splits(cache) else "test"
    m = cache.manifest
    return {
        "dataset": name, "title": ADAPTERS[name].title, "protocol": m.get("protocol", protocol),
        "fold": fold, "root": m.get("root"), "tables": list(plan.tables),
        "scales": list(plan.scales), "preset": preset,
        "epochs": epochs if epochs is not None else PRESETS[preset]["epochs"], "seed": seed,
        "level": "frame (video: the mean score of a video's frames)",
        "hter_threshold_split": threshold,
        "n_test_frames": int(len(test)), "n_test_videos": int(test["video_id"].nunique()),
        "cache": {"path": str(cache.path), "bytes": cache.size_bytes(),
                  "frames": m["counts"]["frames"], "skips": m.get("skips", {})},
        "paper": "Luo, Kan, Shan, Chen. Face Anti-Spoofing with Multi-Scale Information. "
                 "ICPR 2018 (columns and keys named 'paper' hold its published numbers)",
    }


# ----------------------------------------------------------------------------- Markdown


def _cell(value: Any, paper_value: bool = False) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:g}" if paper_value else f"{value:.2f}"
    return str(value)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["---:" if h.startswith(("EER", "HTER", "video", "dev", "[")) else "---"
                       for h in header[1:]]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: one table per paper table, ours beside the paper's."""
    thr = ("the dev EER threshold" if report["hter_threshold_split"] == "dev" else
           "the test EER threshold (no dev split: an optimistic HTER)")
    lines = [f"# MS-FANS reproduced on {report['title']} ({report['dataset']}, protocol "
             f"{report['protocol']})", "",
             f"Ours: preset `{report['preset']}`, {report['epochs']} epochs, seed "
             f"{report['seed']}, scales {report['scales']}; {report['n_test_frames']} test frames "
             f"of {report['n_test_videos']} videos; frame-level EER, and video level (the mean "
             f"score of a video's frames); HTER at {thr}.", "",
             f"Paper: {report['paper']}. Its numbers were measured on CASIA-FASD (Tables II-IV) "
             "and REPLAY-ATTACK (Table V) with its own training: compare the shape, and the "
             "level only for the same dataset and training length.", ""]
    if "table_ii" in report:
        lines += ["## Table II — CNN_S at one crop scale", ""]
        lines += _md_table(
            ["scale", "EER (%), ours", "HTER (%), ours", "video EER (%), ours",
             "dev EER (%), ours", "EER (%), paper (Table II, CASIA-FASD)"],
            [[f"{r['scale']:g}", _cell(r["eer_percent"]), _cell(r["hter_percent"]),
              _cell(r["video_eer_percent"]), _cell(r["dev_eer_percent"]),
              _cell(r["paper_eer_percent"], True)] for r in report["table_ii"]["rows"]])
    if "table_iii" in report:
        lines += _md_table_iii(report["table_iii"])
    for key in ("table_iv", "table_v"):
        if key in report:
            lines += _md_comparison(report[key])
    return "\n".join(lines)


def _md_table_iii(section: dict[str, Any]) -> list[str]:
    groups = section["groups"]
    cells = {(r["fusion"], r["group"]): r for r in section["rows"]}
    rows = []
    for fusion, words in FUSION_NAMES.items():
        if not any((fusion, g) in cells for g in groups):
            continue
        get = lambda g, k: cells.get((fusion, g), {}).get(k)  # noqa: E731
        rows.append([f"{words}, ours"] + [_cell(get(g, "eer_percent")) for g in groups])
        rows.append([f"{words}, paper (CASIA-FASD)"]
                    + [_cell(get(g, "paper_eer_percent"), True) for g in groups])
    wins = ", ".join(f"{FUSION_NAMES[k]} in {v} of {len(groups)}"
                     for k, v in section["msfans_lower_eer_than"].items())
    return ["## Table III — fusing three adjacent scales, test EER (%)", "",
            *_md_table(["method", *groups], rows),
            f"MS-FANS has a lower test EER (ours) than: {wins} groups.", ""]


def _md_comparison(section: dict[str, Any]) -> list[str]:
    rows = [[r["method"], _cell(r["paper_eer_percent"], True),
             _cell(r["paper_hter_percent"], True), r["paper_flops"], _cell(r["ours"]),
             _cell(r["eer_percent"]), _cell(r["hter_percent"]), _cell(r["video_eer_percent"])]
            for r in section["rows"]]
    return [f"## {section['paper'].split(',')[0]} — {section['title']}", "",
            *_md_table(["method (paper's list)", f"EER (%), paper ({section['paper']})",
                        "HTER (%), paper", "FLOPs, paper", "ours: what ran", "EER (%), ours",
                        "HTER (%), ours", "video EER (%), ours"], rows)]
