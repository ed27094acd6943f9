"""Write the results tables of the README and the site's pages from ``results/*.json``.

The numbers come only from the files the notebooks write:

* ``results/03_table_ii.json`` (notebook 03): EER / HTER of CNN_S at each scale;
* ``results/06_table_iii.json`` (notebook 06): best single scale / Average / Concat / MS-FANS
  for the five scale groups;
* ``results/06_lbp_baseline.json`` (notebook 06): the colour-texture LBP + SVM baseline;
* ``results/seed_spread.json`` (``tools/seed_spread.py``): one group of Table III under
  several training seeds;
* ``results/07_generalisation.json`` (notebook 07): the models and the LBP baseline under the
  shift protocols of ``fas_lib.data.shift``;
* ``results/08_multimodal.json`` (notebook 08): per-sensor EER, the MM-FAS and ADSN ablation
  tables, the unseen-attack rows (section ``multimodal``); ``results/bench_mm.json``
  (``benchmarks/bench_mm.py``): the multi-modal models' speed and size (``bench_mm``);
* ``results/09_time_and_regions.json`` (notebook 09): the video models (STASN's ablations, the
  data ablation, MS-FANS over time) and the attention statistic;
* ``results/notebook_suite.json`` (``tools/run_notebooks.py``): each notebook's wall time in
  the last complete full run (section ``notebook_times``, the README).

Each table is written between a pair of markers into the one document of :data:`DOCUMENTS`
that holds them (the README's summary, ``docs/results.md``'s tables, ``docs/synthspoof.md``'s
border table)::

    <!-- results:table_ii:start -->
    ...generated...
    <!-- results:table_ii:end -->

(``table_ii``, ``table_iii``, ``lbp``, ``seeds``, ``shift``, ``video``, ``notebook_times``;
``summary``: the best test EER of each family, written when all three files exist; ``border``:
the share of attack crops that show the medium's border per scale, from ``results/00_data.json``
and ``results/02_crops.json``).
The paper's numbers appear only in columns or rows labelled as the paper's; they are read from the
same results files (keys ``paper_*``), which the notebooks fill from the paper's tables.

Usage::

    python tools/readme_tables.py            # rewrite the documents in place
    python tools/readme_tables.py --check    # exit 1 when a document differs from results/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: The documents that hold the generated sections (each section in exactly one of them).
DOCUMENTS: tuple[str, ...] = ("README.md", "docs/results.md", "docs/synthspoof.md")

#: marker name -> results file stem that feeds it.
SECTIONS: dict[str, str] = {
    "table_ii": "03_table_ii",
    "table_iii": "06_table_iii",
    "lbp": "06_lbp_baseline",
    "seeds": "seed_spread",
    "shift": "07_generalisation",
    "notebook_times": "notebook_suite",
}

#: Display names of the Table III methods, in the paper's row order.
METHOD_NAMES: dict[str, str] = {
    "best_single": "Best single scale",
    "average": "Average",
    "concat": "Concat",
    "msfans": "MS-FANS",
}


def start_marker(name: str) -> str:
    """``<!-- results:NAME:start -->``."""
    return f"<!-- results:{name}:start -->"


def end_marker(name: str) -> str:
    """``<!-- results:NAME:end -->``."""
    return f"<!-- results:{name}:end -->"


def _pct(value: Any) -> str:
    """A fraction in [0, 1] as a percentage with two decimals; ``None`` -> an em dash."""
    if value is None:
        return "—"
    return f"{100.0 * float(value):.2f}"


def _head(label: str, columns: Sequence[str]) -> list[str]:
    """A Markdown table's header and separator: ``label`` over the rows, right-aligned
    ``columns``."""
    return [f"| {label} | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]


def _paper(value: Any) -> str:
    """A paper number, already in percent, printed as the paper prints it."""
    return "—" if value is None else f"{float(value):g}"


def _scale_key(scale: Any) -> str:
    return f"{float(scale):.1f}"


def _by_scale(values: Mapping[str, Any]) -> dict[str, Any]:
    """Re-key ``{"1": x, "1.1": y}`` (any float spelling) as ``{"1.0": x, "1.1": y}``."""
    return {_scale_key(k): v for k, v in values.items()}


def _provenance(res: Mapping[str, Any], notebook: str, source: str | None = None) -> str:
    """The "Ours: measured on ..." line; ``source`` replaces ``notebooks/<notebook>``."""
    dataset = res.get("dataset", "?")
    protocol = res.get("protocol")
    where = f"`{dataset}`" + (f" (protocol `{protocol}`)" if protocol else "")
    level = res.get("level", "frame")
    n_test = res.get("n_test")
    n = f", {n_test} test {level}s" if n_test is not None else ""
    smoke = " **SMOKE run (tiny data, few iterations): not a result.**" if res.get("smoke") else ""
    return (f"Ours: measured on {where}{n}, {level}-level test EER, written by "
            f"`{source or 'notebooks/' + notebook}` to `results/`.{smoke}")


def render_table_ii(res: Mapping[str, Any]) -> str:
    """Markdown for Table II: EER (and HTER) of CNN_S at each scale, beside the paper's EER.

    Args:
        res: the contents of ``results/03_table_ii.json`` with keys ``scales``, ``test_eer``
            (scale string -> fraction), optional ``test_hter`` and ``paper_table_ii_eer_percent``.
    """
    scales = [_scale_key(s) for s in res["scales"]]
    eer = _by_scale(res["test_eer"])
    hter = _by_scale(res.get("test_hter") or {})
    paper = _by_scale(res.get("paper_table_ii_eer_percent") or {})
    head = "| | " + " | ".join(scales) + " |"
    sep = "|---|" + "---:|" * len(scales)
    rows = [
        "| EER (%), ours | " + " | ".join(_pct(eer.get(s)) for s in scales) + " |",
    ]
    if hter:
        rows.append("| HTER (%), ours | " + " | ".join(_pct(hter.get(s)) for s in scales) + " |")
    dev = _by_scale(res.get("dev_eer") or {})
    if dev:
        rows.append("| dev EER (%), ours | " + " | ".join(_pct(dev.get(s)) for s in scales) + " |")
    if paper:
        rows.append("| EER (%), paper (Table II, CASIA-FASD) | "
                    + " | ".join(_paper(paper.get(s)) for s in scales) + " |")
    best = min(scales, key=lambda s: float(eer[s]))
    lines = [
        "**Table II** — CNN_S trained on one scale at a time (scale = crop side / face size).",
        "",
        head,
        sep,
        *rows,
        "",
        _provenance(res, "03_shallow_cnn_scales.ipynb")
        + f" Best scale here: {best} (EER {_pct(eer[best])} %).",
    ]
    return "\n".join(lines)


def _group_key(group: Sequence[Any] | str) -> str:
    if isinstance(group, str):
        return group
    return "[" + ", ".join(_scale_key(s) for s in group) + "]"


def render_table_iii(res: Mapping[str, Any]) -> str:
    """Markdown for Table III: fusion strategies x scale groups (test EER %), ours then paper's.

    Args:
        res: the contents of ``results/06_table_iii.json`` with keys ``groups`` (lists of
            scales), ``test_eer`` (method -> group string -> fraction), optional
            ``best_single_scale`` (group string -> scale) and ``paper_table_iii_eer_percent``.
    """
    groups = [_group_key(g) for g in res["groups"]]
    eer = res["test_eer"]
    paper = res.get("paper_table_iii_eer_percent") or {}
    methods = [m for m in METHOD_NAMES if m in eer]
    head, sep = _head("Method", groups)

    def best_in(col: str, table: Mapping[str, Mapping[str, Any]], scale: float) -> str | None:
        vals = [(float(table[m][col]) * scale, m) for m in methods
                if m in table and table[m].get(col) is not None]
        return min(vals)[1] if vals else None

    rows = []
    winners = {g: best_in(g, eer, 1.0) for g in groups}
    for m in methods:
        cells = []
        for g in groups:
            txt = _pct(eer[m].get(g))
            cells.append(f"**{txt}**" if winners[g] == m and m != "best_single" else txt)
        rows.append(f"| {METHOD_NAMES[m]} | " + " | ".join(cells) + " |")
    lines = [
        "**Table III** — fusion of three adjacent scales with CNN_S, test EER (%); "
        "bold: the best fusion of a group.",
        "",
        head,
        sep,
        *rows,
    ]
    best_scale = res.get("best_single_scale") or {}
    if best_scale:
        lines += ["", "Best single scale of each group (ours, from Table II): "
                  + ", ".join(f"{g} → {_scale_key(best_scale[g])}" for g in groups
                              if g in best_scale) + "."]
    lines += ["", win_line(eer, groups)]
    dev = res.get("best_single_dev")
    if dev and "msfans" in eer:
        picks = ", ".join(f"{g} → {_scale_key(dev['scale'][g])} ({_pct(dev['test_eer'][g])})"
                          for g in groups if g in dev.get("scale", {}))
        n = len(wins({"msfans": eer["msfans"], "dev": dev["test_eer"]}, "msfans", "dev", groups))
        lines += ["", "The single scale picked on **dev** instead of on test (no look at the "
                  f"test set; its test EER % in brackets): {picks}. MS-FANS has a lower test "
                  f"EER than it in {n} of {len(groups)} groups."]
    sig = res.get("significance")
    if sig and sig.get("rows"):
        lines += ["", *render_significance(sig, groups)]
    agree = res.get("scale_agreement")
    if agree and agree.get("rows"):
        lines += ["", *render_agreement(agree["rows"], groups)]
    lines += ["", _provenance(res, "06_ablation.ipynb")]
    if paper:
        lines += [
            "",
            "Paper (Table III, CASIA-FASD, EER %), for comparison only:",
            "",
            head,
            sep,
            *(f"| {METHOD_NAMES[m]} | " + " | ".join(_paper(paper[m].get(g)) for g in groups)
              + " |" for m in METHOD_NAMES if m in paper),
        ]
    return "\n".join(lines)


def _signed(value: float) -> str:
    return f"{100.0 * float(value):+.2f}".replace("-", "−")


def _interval(r: Mapping[str, Any]) -> str:
    """``[low, high]`` of a bootstrap row's interval, signed points."""
    return f"[{_signed(r['ci_low'])}, {_signed(r['ci_high'])}]"


def _labelled_differences(rows: Sequence[Mapping[str, Any]]) -> str:
    """``label: diff [low, high]; ...`` of bootstrap rows, signed points."""
    return "; ".join(f"{r['label']}: {_signed(r['diff'])} {_interval(r)}" for r in rows)


def render_significance(sig: Mapping[str, Any], groups: Sequence[str]) -> list[str]:
    """Markdown lines: MS-FANS minus each other method, with the bootstrap interval per group."""
    rows = {(r["b"], r["group"]): r for r in sig["rows"]}
    level = round(100 * float(sig["rows"][0].get("level", 0.95)))
    unit = sig.get("unit", "test subject")
    lines = [
        f"Is a difference more than luck? MS-FANS minus each method, in EER points, with the "
        f"{level} % interval of a paired bootstrap over {unit}s ({sig.get('n_boot')} "
        f"replicates, {sig.get('level', 'frame')} level; an interval that contains 0 cannot "
        "tell the two apart on this test set):",
        "",
        *_head("MS-FANS minus", groups),
    ]
    n_sure = {}
    for m in ("best_single", "average", "concat"):
        cells = []
        for g in groups:
            r = rows.get((m, g))
            if r is None:
                cells.append("—")
                continue
            cells.append(f"{_signed(r['diff'])} {_interval(r)}")
            if r["ci_high"] < 0:
                n_sure.setdefault(m, []).append(g)
        if any((m, g) in rows for g in groups):
            lines.append(f"| {METHOD_NAMES[m]} | " + " | ".join(cells) + " |")
    better = "; ".join(f"{METHOD_NAMES[m]} in {len(v)} ({', '.join(v)})"
                       for m, v in n_sure.items()) or "none"
    lines += ["", f"Groups where MS-FANS is better with the whole interval below 0: {better}."]
    return lines


def render_agreement(rows: Sequence[Mapping[str, Any]], groups: Sequence[str]) -> list[str]:
    """Markdown lines: the single-scale networks' shared and disjoint mistakes per group.

    Args:
        rows: records of :func:`fas_lib.studies.significance.scale_agreement` (``group``, ``split``,
            ``n_frames``, ``errors``, ``any_wrong``, ``all_wrong``).
        groups: the column order.
    """
    by = {(r["group"], r["split"]): r for r in rows}
    splits = list(dict.fromkeys(r["split"] for r in rows))
    frames = ", ".join(f"{next(r['n_frames'] for r in rows if r['split'] == sp)} {sp}"
                       for sp in splits)
    lines = [
        "Can a fusion win at all? Frames the group's single-scale networks get wrong, at each "
        "split's own EER threshold (" + " / ".join(splits) + f"; {frames} frames): a fusion "
        "can only gain where some scale is wrong and another right, and it learns from the "
        "training frames.",
        "",
        *_head("Frames wrong (" + " / ".join(splits) + ")", groups),
    ]
    for label, pick in (("at the group's best scale", lambda r: min(r["errors"])),
                        ("at some scale", lambda r: r["any_wrong"]),
                        ("at every scale", lambda r: r["all_wrong"])):
        cells = [" / ".join(str(pick(by[g, sp])) if (g, sp) in by else "—" for sp in splits)
                 for g in groups]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def wins(eer: Mapping[str, Mapping[str, Any]], method: str, against: str,
         groups: Sequence[str]) -> list[str]:
    """The groups where ``method`` has a strictly lower EER than ``against`` (both present)."""
    a, b = eer.get(method, {}), eer.get(against, {})
    return [g for g in groups
            if a.get(g) is not None and b.get(g) is not None and float(a[g]) < float(b[g])]


def win_line(eer: Mapping[str, Mapping[str, Any]], groups: Sequence[str]) -> str:
    """One sentence counting the groups where MS-FANS beats each other row of Table III."""
    parts = []
    for against in ("best_single", "average", "concat"):
        if against in eer and "msfans" in eer:
            won = wins(eer, "msfans", against, groups)
            which = f" ({', '.join(won)})" if won else ""
            parts.append(f"than {METHOD_NAMES[against]} in {len(won)} of {len(groups)}{which}")
    if not parts:
        return ""
    return "Groups where MS-FANS has a lower test EER: " + "; ".join(parts) + "."


def render_summary(t2: Mapping[str, Any], t3: Mapping[str, Any], lbp: Mapping[str, Any]) -> str:
    """The best test EER of each family (single-scale CNN, fusion, LBP + SVM) on the same data.

    Args:
        t2, t3, lbp: ``results/03_table_ii.json``, ``06_table_iii.json``, ``06_lbp_baseline.json``.
    """
    eer2 = _by_scale(t2["test_eer"])
    s_best = min(eer2, key=lambda s: float(eer2[s]))
    fused = [(float(v), m, g) for m, col in t3["test_eer"].items() if m != "best_single"
             for g, v in col.items() if v is not None]
    f_eer, f_method, f_group = min(fused)
    l_row = min(lbp["rows"], key=lambda r: float(r["test_eer"]))
    smoke = any(r.get("smoke") for r in (t2, t3, lbp))
    lines = [
        "| Best of each family (ours) | Test EER (%) | Where |",
        "|---|---:|---|",
        f"| CNN_S, one scale (Table II) | {_pct(eer2[s_best])} | scale {s_best} |",
        f"| CNN_S, fused scales (Table III) | {_pct(f_eer)} | {METHOD_NAMES[f_method]}, "
        f"{_group_key(f_group)} |",
        f"| LBP + SVM, `{lbp.get('color_space', '?')}` | {_pct(l_row['test_eer'])} | "
        f"scale(s) {l_row['scale']} |",
    ]
    if smoke:
        lines += ["", "**SMOKE run (tiny data, few iterations): not a result.**"]
    return "\n".join(lines)


def render_lbp(res: Mapping[str, Any]) -> str:
    """Markdown for the LBP + SVM baseline: one row per scale (and the multi-scale one).

    Args:
        res: the contents of ``results/06_lbp_baseline.json`` with keys ``color_space`` and
            ``rows`` (each with ``scale`` (a label such as ``"1.2"`` or ``"[1.1,1.2,1.3]"``),
            ``test_eer`` and optional ``test_hter``).
    """
    lines = [
        "**Baseline** — colour-texture LBP + SVM (after Boulkenafet et al.), colour space "
        f"`{res.get('color_space', '?')}`.",
        "",
        "| Scale(s) | Test EER (%) | Test HTER (%) |",
        "|---|---:|---:|",
        *(f"| {r['scale']} | {_pct(r['test_eer'])} | {_pct(r.get('test_hter'))} |"
          for r in res["rows"]),
        "",
        _provenance(res, "06_ablation.ipynb"),
    ]
    return "\n".join(lines)


def render_border(data: Mapping[str, Any], crops: Mapping[str, Any]) -> str:
    """Markdown: share of attack crops showing the medium's border at each scale.

    Args:
        data: ``results/00_data.json`` (``border_share``: ground truth, detector face box).
        crops: ``results/02_crops.json`` (``border_share_crops``: the cached crops, whole and
            the centre view the CNN sees at test).
    """
    gt = _by_scale(data["border_share"]["per_scale"])
    bc = crops["border_share_crops"]
    whole, view = _by_scale(bc["per_scale"]), _by_scale(bc["test_view_per_scale"])
    scales = list(gt)
    side = round(128 * float(bc.get("test_view_fraction", 112 / 128)))

    def row(label: str, values: Mapping[str, Any]) -> str:
        cells = " | ".join(f"{100.0 * float(values[s]):.1f}" for s in scales)
        return f"| {label} | {cells} |"

    lines = [
        *_head("crop scale", scales),
        row("attack crops showing the medium's border, detector box (%)", gt),
        row("… aligned crop as cut by the pipeline (%)", whole),
        row(f"… its centre {side} × {side}, the CNN's input at test (%)", view),
        "",
        f"The first row is over all {data['border_share']['n_attack_frames']:,} attack frames "
        "(ground-truth face box, `results/00_data.json`); the other two over the "
        f"{bc['n_attack_frames']:,} cached attack frames of the {crops.get('split', 'test')} "
        "split, with the crops the pipeline actually cut (detected landmarks, aligned box; "
        "`results/02_crops.json`).",
    ]
    if data.get("smoke") or crops.get("smoke"):
        lines += ["", "**SMOKE run (tiny data): not a result.**"]
    return "\n".join(lines)


def render_seed_spread(res: Mapping[str, Any]) -> str:
    """Markdown: Table III for one group under several seeds (``results/seed_spread.json``)."""
    seeds = [str(s) for s in res["seeds"]]
    group = _group_key(res["group"])
    lines = [
        f"**Seed spread** — the group {group} of Table III retrained with seeds "
        f"{', '.join(seeds)} (`python tools/seed_spread.py`), test EER (%).",
        "",
        *_head("Method", [f"seed {s}" for s in seeds] + ["mean ± sd"]),
    ]
    for method, name in METHOD_NAMES.items():
        by_seed, st = res["test_eer"][method], res["stats"][method]
        cells = []
        for s in seeds:
            cell = _pct(by_seed[s])
            if method == "best_single":
                cell += f" ({float(res['best_scale'][s]):.1f})"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {_pct(st['mean'])} ± {_pct(st['std'])} |")
    beats = res["msfans_beats_best_single"]
    n_win = sum(bool(beats[s]) for s in seeds)
    lines += ["", f"MS-FANS has a lower test EER than the best single scale (in brackets: the "
                  f"scale picked on test for that seed) for {n_win} of {len(seeds)} seeds.",
              "", _provenance(res, "", source="tools/seed_spread.py")]
    return "\n".join(lines)


def _mean_rows(res: Mapping[str, Any]) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    return {(m["protocol"], m["recipe"], m["model"]): m for m in res["means"]}


def _lbp_pick(means: Sequence[Mapping[str, Any]], protocol: str) -> Mapping[str, Any] | None:
    """The LBP row of ``protocol`` with the lowest dev EER (what dev would choose)."""
    rows = [m for m in means if m["protocol"] == protocol and m["family"] == "lbp"]
    return min(rows, key=lambda m: m["dev_eer"]) if rows else None


def render_shift(res: Mapping[str, Any]) -> str:
    """Markdown for notebook 07: test (dev) EER per protocol of the target models and of the
    LBP setting dev picks, the targets, and Table II extended to wide scales under a shift.

    Args:
        res: the contents of ``results/07_generalisation.json`` (keys ``protocols``,
            ``recipes``, ``target_models``, ``means``, ``targets``, ``context``, ``p1_msfans``).
    """
    protocols, means = res["protocols"], _mean_rows(res)
    folds = {p: max((m["n_folds"] for k, m in means.items() if k[0] == p), default=0)
             for p in protocols}
    head = "| model | recipe | " + " | ".join(
        f"{p}" + (f" ({folds[p]} folds)" if folds[p] > 1 else "") for p in protocols) + " |"
    lines = ["**Generalisation** — test EER % (dev EER % in brackets), frame level, mean over "
             "folds; each protocol's dev split holds an unseen session / camera / instrument / "
             "attack type (`standard`: unseen people only).", "", head,
             "|---|---|" + "---:|" * len(protocols)]

    def cell(m: Mapping[str, Any] | None) -> str:
        return "—" if m is None else f"{_pct(m['test_eer'])} ({_pct(m['dev_eer'])})"

    for model in res["target_models"]:
        for recipe in res["recipes"]:
            lines.append(f"| {model} | {recipe} | " + " | ".join(
                cell(means.get((p, recipe, model))) for p in protocols) + " |")
    picks = [_lbp_pick(res["means"], p) for p in protocols]
    lines.append("| best LBP on dev | | " + " | ".join(
        cell(m) + (f" {m['model'].split()[1]}" if m else "") for m in picks) + " |")
    targets = res.get("targets") or []
    if targets:
        lines += ["", "Targets (robust recipe): " + "; ".join(
            f"{t['protocol']} {t['model']}: {'below' if t['beats_lbp'] else 'not below'} the "
            f"LBP dev picks ({_pct(t['test_eer'])} vs {_pct(t['lbp_by_dev_test_eer'])}), test "
            f"{'within' if t['test_within_2x_dev'] else 'not within'} 2x dev"
            for t in targets) + "."]
    p1 = res.get("p1_msfans")
    if p1:
        sure = sum(1 for r in p1["significance"] if r["ci_high"] < 0)
        lines += ["", f"On P1 ({p1.get('recipe', 'robust')}), MS-FANS is below its group's dev-chosen single scale in "
                      f"{p1['wins']} of {p1['n_groups']} groups ({sure} with the 95 % bootstrap "
                      "interval of the difference below 0)."]
    ctx = res.get("context") or {}
    if ctx:
        scales = list(next(iter(ctx.values())))
        lines += ["", "CNN_S at one scale, test EER % (Table II, extended past the paper's 1.5):",
                  "", *_head("protocol / recipe", scales)]
        lines += [f"| {k} | " + " | ".join(_pct(v.get(s)) for s in scales) + " |"
                  for k, v in ctx.items()]
    lines += ["", _provenance({**res, "protocol": None}, "07_generalisation.ipynb")]
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    return f"{float(seconds) / 60:.1f}"


def render_notebook_times(suite: Mapping[str, Any]) -> str:
    """Markdown: each notebook's wall time in the last complete full run and the suite's total.

    Args:
        suite: ``results/notebook_suite.json`` (``tools/run_notebooks.py``): ``notebooks``
            (name -> seconds), ``total_s``, ``runs_trained``, ``runs_reused``, ``finished``,
            ``machine``, optionally ``load_average`` (name -> the 1-minute load average when
            the notebook finished) and ``speed`` (name -> CNN_S training samples/s just before
            it).
    """
    times = suite["notebooks"]
    load = suite.get("load_average") or {}
    trained = suite.get("runs_trained_per_notebook") or {}
    speed = suite.get("speed") or {}
    # the optional columns, those the record has: title, name -> value, cell format, total
    extra = [col for col in (
        ("models trained", trained, str, f"**{sum(trained.values())}**"),
        ("load average at its end", load, "{:.1f}".format, ""),
        ("machine speed before it (CNN_S samples/s)", speed, "{:.0f}".format, ""),
    ) if col[1]]
    lines = _head("notebook", ["minutes"] + [title for title, *_ in extra])
    for name, seconds in times.items():
        cells = [_minutes(seconds)] + [fmt(values[name]) if name in values else "—"
                                       for _, values, fmt, _ in extra]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(f"| **all** | **{_minutes(suite['total_s'])}** |"
                 + "".join(f" {total} |" if total else " |" for *_, total in extra))
    reused = int(suite.get("runs_reused", 0))
    scratch = ("from scratch (every model trained in the run)" if reused == 0 else
               f"with {reused} runs read back from an earlier run")
    mach = suite.get("machine") or {}
    cores = mach.get("cpu_cores", "?")
    cpu = f" of an {mach['cpu']} ({mach.get('vector_isa') or '?'})" if mach.get("cpu") else ""
    when = str(suite.get("finished", "?"))[:10]
    lines += ["", f"Measured by `make notebooks` ({suite.get('mode', 'full')} parameters), "
              f"{scratch}: {suite.get('runs_trained', '?')} models trained, on {cores} cores{cpu}, "
              f"finished {when} (`results/notebook_suite.json`, written by "
              "`tools/run_notebooks.py`)."]
    if load:
        lines.append(f"A load average near {cores} is the suite alone; above it, other jobs "
                     "shared the cores.")
    if speed:
        lines.append("The machine's speed is measured before each notebook (CNN_S training, "
                     "one scale, `speed_probe` of `benchmarks/bench_roofline.py`): on a shared "
                     "machine it varies between hours, and the times scale with it.")
    return "\n".join(lines)


RENDERERS = {"table_ii": render_table_ii, "table_iii": render_table_iii, "lbp": render_lbp,
             "seeds": render_seed_spread, "shift": render_shift,
             "notebook_times": render_notebook_times}

#: Sections rendered from several results files (written only when all of them exist).
MULTI: dict[str, tuple[tuple[str, ...], Any]] = {
    "summary": (("03_table_ii", "06_table_iii", "06_lbp_baseline"), render_summary),
    "border": (("00_data", "02_crops"), render_border),
}


# --- tools/recipe_ablation.py (which part of a training recipe hurts under a shift) -----------


def render_recipe_ablation(res: Mapping[str, Any]) -> str:
    """Markdown: test EER (mean ± sd over seeds) per recipe and protocol, and each recipe's
    paired difference to ``cpu`` (``results/recipe_ablation.json``)."""
    protocols = list(dict.fromkeys(r["protocol"] for r in res["summary"]))
    recipes = list(dict.fromkeys(r["recipe"] for r in res["summary"]))
    cell = {(r["protocol"], r["recipe"]): r for r in res["summary"]}
    effect = {(r["protocol"], r["recipe"]): r for r in res.get("effects") or []}
    seeds = ", ".join(str(s) for s in res["seeds"])
    lines = [
        f"**Recipe ablation** — CNN_S at {float(res['scale']):g}, test EER % (mean ± sd over "
        f"seeds {seeds}; folds averaged first), and in brackets the change against `cpu`, seed "
        "by seed (points; how many seeds were worse).",
        "",
        *_head("recipe", protocols),
    ]
    for rec in recipes:
        cells = []
        for p in protocols:
            r = cell.get((p, rec))
            if r is None:
                cells.append("—")
                continue
            text = f"{_pct(r['test_eer'])} ± {_pct(r['test_eer_sd'])}"
            e = effect.get((p, rec))
            if e is not None:
                text += (f" ({_signed(e['delta_test_eer'])}; "
                         f"{e['worse_seeds']}/{e['n_seeds']})")
            cells.append(text)
        lines.append(f"| {rec} | " + " | ".join(cells) + " |")
    lines += ["", _provenance(res, "", source="tools/recipe_ablation.py")]
    return "\n".join(lines)


SECTIONS["recipes"] = "recipe_ablation"
RENDERERS["recipes"] = render_recipe_ablation


def render_variant_study(res: Mapping[str, Any]) -> str:
    """Markdown: per model, test HTER % of runs trained on each SynthSpoof variant (rows) and
    scored on each variant's test split (columns) (``results/variant_study.json``)."""
    rows = res["rows"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    trained = list(dict.fromkeys(r["trained_on"] for r in rows))
    scored = list(dict.fromkeys(r["scored_on"] for r in rows))
    cell = {(r["model"], r["trained_on"], r["scored_on"]): r["test_hter"] for r in rows}
    subjects = sorted({v["n_subjects"] for v in res["variants"].values()})
    lines = [f"**SynthSpoof variants** — test HTER % at the training variant's dev-EER "
             f"threshold; rows: trained on, columns: scored on; {res['recipe']} recipe, seed "
             f"{res['seed']}, {', '.join(map(str, subjects))} subjects per variant, "
             f"{res.get('boxes', '?')} face boxes."]
    for m in models:
        lines += ["", f"*{m}*", "", *_head("trained on", scored)]
        for t in trained:
            vals = [cell.get((m, t, sc)) for sc in scored]
            lines.append(f"| {t} | " + " | ".join("—" if v is None else _pct(v) for v in vals)
                         + " |")
    lines += ["", _provenance({**res, "dataset": "synthspoof variants"}, "",
                              source="tools/variant_study.py")]
    return "\n".join(lines)


SECTIONS["variants"] = "variant_study"
RENDERERS["variants"] = render_variant_study


# --- notebook 08 (multi-modal anti-spoofing) and benchmarks/bench_mm.py -----------------------

#: Row labels of notebook 08's tables.
MM_NAMES: dict[str, str] = {
    "rgb": "RGB alone", "depth": "depth alone", "nir": "NIR alone",
    "early": "early fusion (channels stacked)", "mmfas_main": "MM-FAS without aggregation",
    "mmfas": "MM-FAS", "fr_random": "MM-FAS, dlib trunk, random init",
    "fr_init": "MM-FAS, dlib trunk, face-recognition init",
    "ensemble": "MM-FAS ensemble of the attack-type folds",
    "adsn": "ADSN (BCE + center + cosine + local terms, attention)",
    "adsn_no_bce": "ADSN without BCE",
    "adsn_no_center": "ADSN without center loss", "adsn_no_cosine": "ADSN without cosine loss",
    "adsn_no_local": "ADSN without the local overlap and part-center losses",
    "adsn_concat": "ADSN, concatenation instead of attention",
}


def _mm_rows(res: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """ISO / ChaLearn rows of notebook 08's reports, one per run name."""
    rows = ["| model | ACER | APCER | BPCER | test EER | TPR@FPR=1e-2 | TPR@FPR=1e-3 | worst type |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for n in names:
        r = res["reports"][n]
        rows.append(f"| {MM_NAMES.get(n, n)} | {_pct(r['acer'])} | {_pct(r['apcer'])} | "
                    f"{_pct(r['bpcer'])} | {_pct(r['test_eer'])} | {_pct(r['tpr_at_fpr_1e-02'])}"
                    f" | {_pct(r['tpr_at_fpr_1e-03'])} | {r['worst_type']} |")
    return rows


def _mm_differences(diffs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The paired bootstrap rows of notebook 08 (none: no lines)."""
    if not diffs:
        return []
    d0 = diffs[0]
    lines = ["", f"**Which differences are real** — test EER(a) - EER(b), points, with the 95 % "
                 f"paired bootstrap interval over {d0['n_clusters']} test {d0['unit']}s "
                 f"({d0['n_boot']} replicates); **bold**: the interval excludes 0.", "",
             "| comparison | a | b | EER(a) - EER(b) | 95 % interval |",
             "|---|---|---|---:|---|"]
    family = {"mmfas": "MM-FAS vs its ablation", "adsn": "ADSN vs its ablation",
              "best_single": "fused vs the best single sensor (chosen on dev)"}
    for d in diffs:
        cell = f"{_signed(d['diff'])}"
        lines.append(f"| {family.get(d['family'], d['family'])} | {MM_NAMES.get(d['a'], d['a'])} "
                     f"| {MM_NAMES.get(d['b'], d['b'])} | "
                     f"{'**' + cell + '**' if d['excludes_zero'] else cell} | {_interval(d)} |")
    return lines


def render_multimodal(res: Mapping[str, Any]) -> str:
    """Markdown for notebook 08: per-sensor EER by attack type, the MM-FAS and ADSN ablation
    tables, the unseen-attack rows and the port's descriptor error.

    Args:
        res: the contents of ``results/08_multimodal.json`` (keys ``sensor_eer``, ``groups``,
            ``reports``, ``unseen``, ``attack_types``, ``port_descriptor_error``).
    """
    types = list(res["attack_types"])
    sensor = res["sensor_eer"]
    lines = ["**Per sensor** — test EER % of bona fide against each attack type alone.", "",
             *_head("model", types)]
    order = [n for n in MM_NAMES if n in sensor]  # the JSON's keys are sorted
    lines += [f"| {MM_NAMES[n]} | " + " | ".join(_pct(sensor[n].get(t)) for t in types)
              + " |" for n in order]
    n_test = next(iter(res["reports"].values()))
    lines += ["", f"**MM-FAS and its ablation** — % at the dev-EER threshold (APCER: the worst "
                  f"attack type, ISO/IEC 30107-3); {n_test['n_test_attacks']} test attack and "
                  f"{n_test['n_test_bona_fide']} bona fide frames.", ""]
    lines += _mm_rows(res, res["groups"]["mmfas"])
    lines += ["", "**Unseen attack types** — each fold's MM-FAS on the type it never saw "
                  "(threshold from dev without that type).", "",
              "| held-out type | test EER | APCER | BPCER | ACER |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {u['attack_type']} | {_pct(u['test_eer'])} | {_pct(u['apcer'])} | "
              f"{_pct(u['bpcer'])} | {_pct(u['acer'])} |" for u in res["unseen"]]
    lines += ["", "**ADSN and its ablation** (depth as surface normals + NIR; without BCE: "
                  "scored by the embedding's cosines to the class centers).", ""]
    lines += _mm_rows(res, res["groups"]["adsn"])
    lines += _mm_differences(res.get("differences") or [])
    err = res.get("port_descriptor_error")
    if err is not None:
        lines += ["", f"dlib port: max |port - dlib| over the 128-d descriptors of the two "
                      f"portraits = {float(err):.1e}."]
    lines += ["", _provenance({**res, "protocol": None}, "08_multimodal.ipynb")]
    return "\n".join(lines)


def render_bench_mm(res: Mapping[str, Any]) -> str:
    """Markdown for ``results/bench_mm.json``: training and inference speed per model, and
    parameters / FLOPs per preset."""
    lines = [f"**Multi-modal models, speed** ({res['threads']} threads, batch "
             f"{res['batch_size']}, random inputs in memory"
             + ("; **tiny run: not a measurement**" if res.get("smoke") else "") + ")", "",
             "| model | input | training samples/s | inference ms per face |",
             "|---|---:|---:|---:|"]
    lines += [f"| {MM_NAMES.get(n, n)} | {r['input_size']} | {r['train_samples_per_s']:.1f} | "
              f"{r['infer_ms_per_face']:.2f} |"
              for n, r in sorted(res["speed"].items(), key=lambda kv: list(MM_NAMES).index(kv[0])
                                 if kv[0] in MM_NAMES else len(MM_NAMES))]
    lines += ["", "| network | preset | input | parameters (M) | GFLOPs |",
              "|---|---|---:|---:|---:|"]
    lines += [f"| {net} | {preset} | {r['input_size']} | {r['params'] / 1e6:.2f} | "
              f"{r['flops'] / 1e9:.3f} |"
              for net, presets in res["sizes"].items() for preset, r in presets.items()]
    return "\n".join(lines)


SECTIONS.update({"multimodal": "08_multimodal", "bench_mm": "bench_mm"})
RENDERERS.update({"multimodal": render_multimodal, "bench_mm": render_bench_mm})


# --- notebook 09 (time and regions: STASN and MS-FANS over time) ------------------------------

#: Row labels of notebook 09's studies: study -> (table label, value -> model words).
VIDEO_STUDIES: dict[str, str] = {
    "branches": "STASN, branches", "regions": "STASN, K regions", "frames": "STASN, t frames",
    "data": "STASN, training replays", "msfans": "MS-FANS / STASN",
}
VIDEO_VALUES: dict[str, str] = {
    "temporal": "temporal only (TASM)", "spatial": "spatial only (RAM + SASM)",
    "both": "both (fused)", "real": "live + SynthSpoof's replays",
    "synth": "live + synthesized replays (the synthesizer's own models)",
}


def _video_row(row: Mapping[str, Any]) -> str:
    """One markdown row of notebook 09's table: study, model, video-level metrics."""
    cells = [_pct(row.get(k)) for k in ("test_eer", "test_hter", "test_apcer", "test_bpcer",
                                        "test_acer", "dev_eer")]
    what = VIDEO_VALUES.get(str(row["value"]), str(row["value"]))
    if row["study"] == "data" and row["value"] == "both":
        what = "live + SynthSpoof's and synthesized replays"
    study = VIDEO_STUDIES.get(row["study"], row["study"])
    return f"| {study} | {what} | " + " | ".join(cells) + " |"


def _video_rows(res: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The rows of the table: the ablations (each cell once), the data ablation, MS-FANS."""
    seen, rows = set(), []
    for row in [*res["ablations"], *res["data_ablation"], *res["msfans_time"]["rows"]]:
        key = (row["study"], str(row["value"]))
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return rows


def _attention_line(att: Mapping[str, Any] | None) -> str:
    """The attention statistic in words (``None``: not measured)."""
    if not att or att.get("attended") is None:
        return "Attention statistic: not measured (no ground-truth medium outline)."
    per = "; ".join(f"{t} {_pct(v['attended'])} vs {_pct(v['chance'])}"
                    for t, v in sorted(att["per_attack_type"].items())
                    if v.get("attended") is not None)
    return (f"Attention: {_pct(att['attended'])} % of STASN's attended regions on attack frames "
            f"cover the medium's border, against {_pct(att['chance'])} % for regions of the same "
            f"size placed at random (difference {_signed(att['diff'])} points, 95 % "
            f"bootstrap interval over clips {_interval(att)}; {att['n_regions']} regions, "
            f"K = {att['k']}). "
            f"Per attack type, attended vs chance (%): {per}.")


def render_video(res: Mapping[str, Any]) -> str:
    """Markdown for notebook 09: video-level metrics of STASN's ablations, the data ablation and
    MS-FANS over time; the attention statistic; the paired bootstrap of MS-FANS over time.

    Args:
        res: the contents of ``results/09_time_and_regions.json`` (keys ``ablations``,
            ``data_ablation``, ``msfans_time`` with ``rows`` and ``bootstrap``, ``attention``,
            ``t``, ``input_size``, ``epochs``).
    """
    lines = [f"**Notebook 09** — video level (one clip of {res['t']} frames per video), test "
             "split, threshold at the dev EER; CNN_S frames of "
             f"{res['input_size']} px, {res['epochs']} epochs. The data-ablation rows are tested "
             "on the live videos and SynthSpoof's replays of the test subjects only (means over "
             "their training seeds).", "",
             "| study | model | EER | HTER | APCER | BPCER | ACER | dev EER |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [_video_row(r) for r in _video_rows(res)]
    boot = res["msfans_time"].get("bootstrap") or []
    if boot:
        lines += ["", "MS-FANS over time, paired bootstrap over test "
                  f"{boot[0].get('cluster', 'subject')}s (EER difference, points, 95 % "
                  f"interval): {_labelled_differences(boot)}."]
    data_boot = res.get("data_ablation_bootstrap") or []
    if data_boot:
        seeds = {r.get("n_seeds") for r in res["data_ablation"]}
        lines += ["", f"Training replays, test EER difference (points) with its 95 % bootstrap "
                  f"interval over test {data_boot[0].get('cluster', 'subject')}s, "
                  f"{'/'.join(str(n) for n in sorted(seeds))} seed(s) per cell: "
                  f"{_labelled_differences(data_boot)}."]
    lines += ["", _attention_line(res.get("attention")),
              "", _provenance({**res, "level": "video", "protocol": None},
                              "09_time_and_regions.ipynb")]
    return "\n".join(lines)


SECTIONS.update({"video": "09_time_and_regions"})
RENDERERS.update({"video": render_video})


def load_sections(results_dir: Path) -> dict[str, str]:
    """Render every section whose results file exists in ``results_dir``.

    Raises:
        FileNotFoundError: when none of the results files exists.
    """
    out: dict[str, str] = {}
    for name, stem in SECTIONS.items():
        path = results_dir / f"{stem}.json"
        if path.exists():
            out[name] = RENDERERS[name](json.loads(path.read_text(encoding="utf-8")))
    for name, (stems, render) in MULTI.items():
        paths = [results_dir / f"{stem}.json" for stem in stems]
        if all(p.exists() for p in paths):
            out[name] = render(*(json.loads(p.read_text(encoding="utf-8")) for p in paths))
    if not out:
        expected = ", ".join(f"{s}.json" for s in SECTIONS.values())
        raise FileNotFoundError(
            f"no results file in {results_dir} (expected {expected}); run notebooks 03 and 06 "
            "first (make notebooks)"
        )
    return out


def replace_sections(readme: str, sections: Mapping[str, str]) -> str:
    """Put each rendered section between its markers in ``readme``.

    Raises:
        ValueError: when a section's markers are missing, duplicated or out of order.
    """
    for name, body in sections.items():
        start, end = start_marker(name), end_marker(name)
        if readme.count(start) != 1 or readme.count(end) != 1:
            raise ValueError(f"README must contain {start} and {end} exactly once each")
        i, j = readme.index(start), readme.index(end)
        if j < i:
            raise ValueError(f"{end} comes before {start} in the README")
        readme = readme[: i + len(start)] + "\n" + body.strip() + "\n" + readme[j:]
    return readme


def replace_in_documents(texts: Mapping[str, str],
                         sections: Mapping[str, str]) -> dict[str, str]:
    """:func:`replace_sections` over several documents: each section goes into the one
    document that holds its markers.

    Raises:
        ValueError: when a section's markers are in no document or in more than one.
    """
    out = dict(texts)
    for name, body in sections.items():
        holders = [d for d, t in out.items() if start_marker(name) in t or end_marker(name) in t]
        if len(holders) != 1:
            raise ValueError(f"{start_marker(name)} must be in exactly one of {list(out)}; "
                             f"found in {holders or 'none'}")
        out[holders[0]] = replace_sections(out[holders[0]], {name: body})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    parser.add_argument("--doc", "--readme", dest="docs", type=Path, action="append",
                        help="a document with markers (repeatable; default: "
                             + ", ".join(DOCUMENTS) + ")")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when a document differs from the results")
    args = parser.parse_args(argv)
    docs = args.docs or [ROOT / d for d in DOCUMENTS]
    try:
        sections = load_sections(args.results_dir)
        texts = {str(d): d.read_text(encoding="utf-8") for d in docs}
        new = replace_in_documents(texts, sections)
    except (FileNotFoundError, ValueError) as exc:
        print(f"readme_tables: {exc}", file=sys.stderr)
        return 2
    stale = [d for d in texts if new[d] != texts[d]]
    if args.check:
        if stale:
            print(f"readme_tables: {', '.join(stale)} out of date with {args.results_dir}; "
                  "run `python tools/readme_tables.py`", file=sys.stderr)
            return 1
        print(f"readme_tables: {', '.join(sections)} up to date")
        return 0
    for d in stale:
        Path(d).write_text(new[d], encoding="utf-8")
    print(f"readme_tables: wrote {', '.join(sections)} into {', '.join(texts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
