"""Every notebook, executed through papermill with ``SMOKE=True``, and what it wrote.

One session-scoped run (:func:`smoke_run`) executes all ``notebooks/NN_*.ipynb`` in order with
``tools/run_notebooks.py --smoke`` (a later notebook reuses the data and training runs of an
earlier one), into a fresh folder ``build/notebook-smoke/run-<time>-<pid>/``:

    notebooks/  executed copies + run_status.json     figures/  FIG_DIR
    results/    RESULTS_DIR                            runs/     RUNS_DIR
    data/       FAS_DATA_DIR (SynthSpoof and crop caches, generated from scratch)
    log.txt     the runner's output

Only the latest run folder is kept. The per-notebook tests then assert on its outputs: the
notebook ran, wrote at least one ``results/NN_*.json`` and one ``figures/NN_*.png``, every
figure the README lists for it, and results whose content passes its check in
:data:`EXPECTED` (ranges, the scales, splits...). ``pytest tests/notebooks --smoke-run DIR``
checks an existing run folder without executing anything.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import read_run_status  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]
SMOKE_ROOT = ROOT / "build" / "notebook-smoke"
SCALES = [0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
CELL_TIMEOUT_S = 900  # a hung cell fails the run instead of hanging CI
SMOKE_DISK_BYTES = 3 * 2**30  # a smoke run writes ~1.6 GB (data, runs); a full disk breaks a save

pytestmark = pytest.mark.notebooks


@dataclass
class SmokeRun:
    """Where one smoke run wrote, and what the runner reported."""

    folder: Path
    runs: dict[str, dict] = field(default_factory=dict, repr=False)  # name -> run_status entry
    data_dir: str | None = None  # FAS_DATA_DIR the runner gave the kernels
    log: str = field(default="", repr=False)
    repo_outputs_before: dict[str, float] | None = None

    @property
    def figures(self) -> Path:
        return self.folder / "figures"

    @property
    def results(self) -> Path:
        return self.folder / "results"


    def load_results(self, number: str) -> dict[str, dict]:
        """``{stem: content}`` of ``results/NN_*.json``."""
        return {p.stem: json.loads(p.read_text(encoding="utf-8"))
                for p in sorted(self.results.glob(f"{number}_*.json"))}


def _repo_outputs() -> dict[str, float]:
    """Modification times of everything in the repository's figures/ and results/."""
    return {str(p.relative_to(ROOT)): p.stat().st_mtime
            for d in ("figures", "results") for p in (ROOT / d).glob("*") if p.is_file()}


def _echo(request: pytest.FixtureRequest, text: str) -> None:
    """Print past pytest's output capture (progress of the long session fixture)."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print(text, end="")
        return
    with capman.global_and_fixture_disabled():
        sys.stdout.write(text)
        sys.stdout.flush()



@pytest.fixture(scope="session")
def smoke_run(request: pytest.FixtureRequest) -> SmokeRun:
    """Run every notebook with SMOKE=True into a fresh build/notebook-smoke/run-* folder."""
    if not NOTEBOOKS:
        pytest.fail("no notebooks found: nothing matches notebooks/[0-9][0-9]_*.ipynb")
    given = request.config.getoption("--smoke-run")
    if given:
        folder = Path(given).absolute()
        if not (folder / "notebooks" / "run_status.json").is_file():
            pytest.fail(f"--smoke-run {given}: no notebooks/run_status.json there")
        log = folder / "log.txt"
        return SmokeRun(folder, *read_run_status(folder), log.read_text() if log.is_file() else "")

    SMOKE_ROOT.mkdir(parents=True, exist_ok=True)
    for old in SMOKE_ROOT.glob("run-*"):  # keep one run: the training runs weigh ~0.4 GB
        shutil.rmtree(old, ignore_errors=True)
    free = shutil.disk_usage(SMOKE_ROOT).free
    if free < SMOKE_DISK_BYTES:
        pytest.fail(f"the notebook smoke run writes about 1.6 GB under {SMOKE_ROOT}; only "
                    f"{free / 2**30:.1f} GB are free there (it needs "
                    f"{SMOKE_DISK_BYTES / 2**30:.0f} GB): free some space first")
    folder = SMOKE_ROOT / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    cmd = [sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--smoke", "--no-progress",
           "--out", str(folder / "notebooks"), "--fig-dir", str(folder / "figures"),
           "--results-dir", str(folder / "results"), "--runs-dir", str(folder / "runs"),
           "--data-dir", str(folder / "data"), "--cell-timeout", str(CELL_TIMEOUT_S)]
    before = _repo_outputs()
    folder.mkdir(parents=True)
    lines = []
    _echo(request, f"\nnotebook smoke run -> {folder.relative_to(ROOT)}\n")
    # the kernels draw inline, as in `make notebooks` (tests/conftest.py's MPLBACKEND=Agg would
    # leave the executed copies, which `make site` shows, without their figures)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    with open(folder / "log.txt", "w", encoding="utf-8") as log, subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            if line.startswith("[") and "WARNING" not in line:  # progress lines only
                _echo(request, "  " + line)
    text = "".join(lines)
    if proc.returncode not in (0, 1):  # 1 = some notebook failed: the tests below say which
        pytest.fail(f"tools/run_notebooks.py exited {proc.returncode}:\n{text[-3000:]}")
    runs, data_dir = read_run_status(folder)
    if data_dir is not None and Path(data_dir).resolve() != (folder / "data").resolve():
        pytest.fail(f"the runner used FAS_DATA_DIR={data_dir}, not {folder / 'data'}")
    return SmokeRun(folder, runs, data_dir, text, before)


# --- per-notebook content checks ---------------------------------------------------------------

def _fraction(value: Any, what: str) -> float:
    assert isinstance(value, (int, float)) and 0.0 <= value <= 1.0, f"{what} = {value!r}"
    return float(value)


def _per_scale(mapping: dict, what: str, scales: list[float] = SCALES,
               monotone: bool = False) -> list[float]:
    """Values of a ``{"0.9": x, "1.0": y, ...}`` dict in scale order, each a fraction."""
    got = sorted((float(k), v) for k, v in mapping.items())
    assert [s for s, _ in got] == scales, f"{what}: scales {[s for s, _ in got]} != {scales}"
    values = [_fraction(v, f"{what}[{s}]") for s, v in got]
    if monotone:  # a wider crop of the same frame contains the narrower one
        assert all(a <= b + 1e-12 for a, b in zip(values, values[1:])), \
            f"{what} decreases with the scale: {values}"
    return values


def check_00(results: dict[str, dict], run: SmokeRun) -> None:
    """Setup and data: environment, SynthSpoof counts and splits, border share by scale."""
    r = results["00_data"]
    env = r["environment"]
    assert env["python"].startswith("3.11"), env["python"]
    assert run.data_dir and Path(env["data_dir"]).resolve() == Path(run.data_dir).resolve(), \
        f"the kernel used {env['data_dir']}, not the run's FAS_DATA_DIR {run.data_dir}"
    assert env["dlib_model_files"], "no dlib model files found"
    c = r["counts"]
    assert c["videos"] == c["live_videos"] + c["attack_videos"] > 0
    assert c["frames"] >= c["videos"]
    assert c["subject_disjoint"] is True
    assert set(c["subjects_per_split"]) == {"train", "dev", "test"}
    assert all(n >= 1 for n in c["subjects_per_split"].values())
    bs = r["border_share"]
    assert bs["n_attack_frames"] > 0
    shares = _per_scale(bs["per_scale"], "00 border_share.per_scale", monotone=True)
    assert shares[-1] > shares[0], f"no scale shows the medium's border more often: {shares}"
    assert set(bs["per_attack_type"]) == set(r["config"]["attack_types"])
    assert r["generation"]["n_videos"] == c["videos"]
    _check_realism(r["realism"], r["config"])


def _check_realism(real: dict, config: dict) -> None:
    """Notebook 00's section 8: identity diversity and cue strength per scale."""
    n = config["n_subjects"]
    for name in ("sprites", "frames"):
        st = real["identity"][name]
        assert st["n_subjects"] == n and st["threshold"] == 0.6, (name, st["n_subjects"])
        d = st["different"]
        assert d["n_pairs"] == n * (n - 1) // 2
        assert 0 <= d["n_distinct"] <= d["n_pairs"]
        assert _fraction(d["share_distinct"], f"{name} share_distinct") == pytest.approx(
            d["n_distinct"] / d["n_pairs"])
        assert 0 <= d["n_subjects_with_twin"] <= n
        assert 0 <= d["q05"] <= d["q50"] <= d["q95"]
    frames = real["identity"]["frames"]
    assert frames["n_descriptors"] >= n
    same = frames["same"]
    assert same["n_pairs"] > 0 and 0 <= same["q05"] <= same["q50"] <= same["q95"]
    _fraction(frames["verification_eer"], "identity verification_eer")
    assert set(frames["by_source"]) == {"same_source", "cross_source"}
    q = real["identity"]["sprite_to_frames"]
    assert q["n"] == frames["n_descriptors"] and 0 <= q["q50"] < 0.6, q
    cs = real["cue_strength"]
    assert cs["n_frames"].get("train", 0) > 0 and cs["n_frames"].get("test", 0) > 0
    per = cs["per_scale"]
    _per_scale({s: v["classifier_eer"] for s, v in per.items()}, "00 cue classifier_eer")
    for s, v in per.items():
        assert set(v["group_eer"]) == {"texture", "colour", "context"}, s
        assert set(v["statistic_eer"]) == set(cs["statistics"]), s
        assert v["best_statistic"]["eer"] == min(v["statistic_eer"].values())
        assert set(v["by"]["attack_type"]) == set(config["attack_types"]), s
    refs = real["references"]
    assert refs["note"] == "quoted from the papers, not measured here"
    assert all(set(ref) >= {"cite", "reported", "checked"} for k, ref in refs.items()
               if k != "note")


def check_01(results: dict[str, dict], run: SmokeRun) -> None:
    """Face alignment: detection rate and landmark error against ground truth."""
    a = results["01_alignment"]["alignment"]
    assert a["aligner"]["scales"] == SCALES and a["aligner"]["crop_size"] == 128
    assert 0 < a["detected"] <= a["frames"]
    rate = _fraction(a["detection_rate"], "detection_rate")
    assert rate >= 0.5, f"dlib finds only {rate:.0%} of the SynthSpoof faces"
    assert math.isfinite(a["mean_error_px"]) and 0 <= a["mean_error_px"] < 10, a["mean_error_px"]
    assert 0 <= a["mean_error_iod"] < 0.2, a["mean_error_iod"]
    assert a["median_error_px"] <= a["mean_error_px"] * 3
    assert set(a["by_attack_type"]) >= {"live"}


def check_02(results: dict[str, dict], run: SmokeRun) -> None:
    """Multi-scale crops: border share per scale (monotone), padding shares."""
    r = results["02_crops"]
    assert r["scales"] == SCALES
    assert r["n_frames"] > 0
    crops = r["border_share_crops"]
    assert crops["n_attack_frames"] > 0
    full = _per_scale(crops["per_scale"], "02 border_share_crops.per_scale", monotone=True)
    view = _per_scale(crops["test_view_per_scale"], "02 border_share_crops.test_view_per_scale",
                      monotone=True)
    assert all(v <= f + 1e-12 for v, f in zip(view, full)), \
        f"the centre view shows the border more often than the whole crop: {view} > {full}"
    _fraction(crops["agreement_detected_vs_true"], "agreement_detected_vs_true")
    for box in ("face", "aligned"):
        _per_scale(r["border_share_gt"][box], f"02 border_share_gt.{box}", monotone=True)
    _per_scale(r["padding"]["share_with_padding"], "02 padding.share_with_padding", monotone=True)


def check_03(results: dict[str, dict], run: SmokeRun) -> None:
    """Table II: EER and HTER of CNN_S at each scale (the keys tools/readme_tables.py reads)."""
    r = results["03_table_ii"]
    assert r["scales"] == SCALES
    for key in ("test_eer", "test_hter", "dev_eer"):
        _per_scale(r[key], f"03 {key}")
    assert len(r["runs"]) == len(SCALES)
    assert float(r["best_scale"]) in SCALES
    _per_scale({k: v / 100 for k, v in r["paper_table_ii_eer_percent"].items()}, "paper EER")
    assert [m["scale"] for m in r["mirror"]] == SCALES
    border = r["border_use"]  # SynthSpoof: attacks split by whether their crop shows the border
    assert [b["scale"] for b in border] == SCALES
    n_attacks = {b["n_border"] + b["n_no_border"] for b in border}
    assert len(n_attacks) == 1 and n_attacks.pop() > 0, border


def check_04(results: dict[str, dict], run: SmokeRun) -> None:
    """Table I: parameters and FLOPs of CNN_S / CNN_D; a short CNN_D training run."""
    r = results["04_deep_cnn"]
    assert set(r["table_i"]) == {"cnn_s", "cnn_d"}
    assert r["cost"], "no cost rows"
    for row in r["cost"]:
        assert row["FLOPs_G"] > 0 and math.isclose(row["FLOPs_G"], 2 * row["MACs_G"],
                                                   rel_tol=1e-6), row
    ratios = r["paper_vs_ours_ratio"]
    assert all(0.1 < v["flops_over_paper"] < 10 for v in ratios.values()), ratios
    assert r["training"]["backbone"] == "cnn_d"


def check_05(results: dict[str, dict], run: SmokeRun) -> None:
    """MS-FANS: learning curve, learned scale weights, EER with hand-set weights."""
    r = results["05_lstm_fusion"]
    scales = [float(s) for s in r["scales"]]
    assert r["history"] and all(math.isfinite(h["loss"]) for h in r["history"])
    mean = r["learned_weights"]["mean"]
    assert sorted(float(k) for k in mean) == scales
    assert all(math.isfinite(v) for v in mean.values())
    for name, eer in r["test_eer_by_weights"].items():
        _fraction(eer, f"05 test_eer_by_weights[{name}]")
    for key in ("test_eer", "test_hter", "dev_eer"):
        _fraction(r["metrics"]["frame"][key], f"05 metrics.frame.{key}")
    try_it = r["try_it"]  # "try it on your own photo": the two portraits by default
    assert sorted(f["source"] for f in try_it["faces"]) == ["astronaut.png", "grace_hopper.jpg"]
    for f in try_it["faces"]:
        _fraction(f["score"], f"05 try_it score of {f['source']}")
        assert f["decision"] == ("bona fide" if f["score"] >= try_it["threshold"] else "attack")
    assert "dev split" in try_it["threshold_source"]


def check_06(results: dict[str, dict], run: SmokeRun) -> None:
    """Table III grid, LBP baseline, Tables IV/V (the keys tools/readme_tables.py reads)."""
    t3 = results["06_table_iii"]
    assert t3["groups"], "no scale group"
    assert set(t3["test_eer"]) == {"best_single", "average", "concat", "msfans"}
    for method, per_group in t3["test_eer"].items():
        assert set(per_group) == set(t3["groups"]), (method, per_group)
        for group, eer in per_group.items():
            _fraction(eer, f"06 Table III {method} {group}")
    dev = t3["best_single_dev"]  # SynthSpoof has a dev split: the dev-picked single scale
    assert set(dev["scale"]) == set(t3["groups"]) and 0 <= dev["msfans_wins"] <= len(t3["groups"])
    for g, scale in dev["scale"].items():
        assert any(abs(scale - s) < 1e-6 for s in map(float, g.strip("[]").split(","))), (g, scale)
        _fraction(dev["test_eer"][g], f"06 dev-picked single scale {g}")
    sig = t3["significance"]
    # SMOKE data has one test subject, so its bootstrap resamples test videos instead
    assert sig["unit"] == ("test video" if t3["smoke"] else "test subject") and sig["n_boot"] >= 1
    assert {(r["group"], r["b"]) for r in sig["rows"]} == \
        {(g, b) for g in t3["groups"] for b in ("best_single", "average", "concat")}
    for r in sig["rows"]:
        assert r["a"] == "msfans" and r["ci_low"] <= r["ci_high"], r
        assert 0 <= r["p_a_better"] <= 1 and r["n_clusters"] >= 1, r
        diff = t3["test_eer"]["msfans"][r["group"]] - t3["test_eer"][r["b"]][r["group"]]
        assert math.isclose(r["diff"], diff, abs_tol=1e-9), (r, diff)
    lbp = results["06_lbp_baseline"]
    assert lbp["rows"]
    for row in lbp["rows"]:
        _fraction(row["test_eer"], f"06 LBP test_eer at {row['scale']}")
        _fraction(row["test_hter"], f"06 LBP test_hter at {row['scale']}")
    t45 = results["06_tables_iv_v"]
    assert t45["table_iv"] and t45["table_v"]


def check_07(results: dict[str, dict], run: SmokeRun) -> None:
    """Shift protocols: the protocol table, runs per protocol and recipe, LBP, P1 MS-FANS."""
    r = results["07_generalisation"]
    table = r["protocol_table"]
    assert {row["protocol"] for row in table} == set(r["protocols"])
    for row in table:  # every split of every protocol holds both classes
        assert row["live videos"] > 0 and row["attack videos"] > 0, row
    p1 = {row["split"]: row["sessions"] for row in table if row["protocol"] == "p1"}
    assert p1 == {"train": "s1", "dev": "s2", "test": "s3"}, p1
    runs = r["runs"]
    assert {x["protocol"] for x in runs} == set(r["protocols"])
    assert {x["family"] for x in runs} == {"single", "msfans", "lbp"}
    for x in runs:
        for key in ("dev_eer", "test_eer", "test_hter"):
            _fraction(x[key], f"07 {x['protocol']} {x['model']} {x['recipe']} {key}")
    assert {x["recipe"] for x in runs if x["family"] != "lbp"} == set(r["recipes"])
    assert r["targets"] and {t["protocol"] for t in r["targets"]} <= {"p1", "p3", "p4"}
    assert 0 <= r["p1_msfans"]["wins"] <= r["p1_msfans"]["n_groups"]
    assert r["context"], "no single-scale curve"


def check_08(results: dict[str, dict], run: SmokeRun) -> None:
    """Multi-modal: per-sensor EER, the MM-FAS / ADSN rows, the ensemble, the unseen rows."""
    r = results["08_multimodal"]
    types = r["attack_types"]
    assert {"mask", "print_nir"} <= set(types), types
    assert set(r["groups"]["sensors"]) == {"rgb", "depth", "nir"}
    assert {"mmfas", "mmfas_main", "early", "ensemble"} <= set(r["groups"]["mmfas"])
    assert r["groups"]["adsn"] == ["adsn", "adsn_no_bce", "adsn_no_center", "adsn_no_cosine",
                                   "adsn_no_local", "adsn_concat"]
    assert set(r["part_overlap"]) == {"adsn", "adsn_no_local"}, r["part_overlap"]
    for name, value in r["part_overlap"].items():  # a mean cosine of non-negative maps
        assert 0.0 <= value <= 1.0 + 1e-6, f"08 part overlap {name} = {value!r}"
    diffs = r["differences"]  # paired bootstrap over test subjects (section 9)
    assert {d["family"] for d in diffs} == {"mmfas", "adsn", "best_single"}, diffs
    for d in diffs:
        assert d["ci_low"] <= d["ci_high"], d
        assert all(-1.0 <= d[k] <= 1.0 for k in ("diff", "ci_low", "ci_high")), d
    for name, rep in r["reports"].items():
        for key in ("acer", "apcer", "bpcer", "test_eer", "tpr_at_fpr_1e-02", "tpr_at_fpr_1e-03"):
            _fraction(rep[key], f"08 {name} {key}")
        assert rep["apcer"] == max(rep["apcer_per_type"].values()), name
        assert set(rep["eer_per_type"]) == set(types), name
    for sensor in ("rgb", "depth", "nir"):
        assert set(r["sensor_eer"][sensor]) == set(types)
    assert {u["attack_type"] for u in r["unseen"]} == set(types)
    for u in r["unseen"]:
        assert set(u["apcer_per_type"]) == {u["attack_type"]}
    if "fr_init" in r["reports"]:
        assert r["port_descriptor_error"] < 1e-3, r["port_descriptor_error"]
def check_09(results: dict[str, dict], run: SmokeRun) -> None:
    """Video models: clips per split, STASN's ablations, the data ablation, MS-FANS over time
    with its bootstrap, the attention statistic, every metric a rate."""
    r = results["09_time_and_regions"]
    assert all(n > 0 for n in r["clips"].values()), r["clips"]
    assert {x["study"] for x in r["ablations"]} == {"branches", "regions", "frames"}
    assert {x["value"] for x in r["ablations"] if x["study"] == "branches"} == {
        "temporal", "spatial", "both"}
    assert [x["value"] for x in r["data_ablation"]] == ["real", "synth", "both"]
    n_seeds = {x["n_seeds"] for x in r["data_ablation"]}  # every cell trained with as many seeds
    assert len(n_seeds) == 1 and len(r["data_ablation_runs"]) == 3 * n_seeds.pop()
    assert len(r["data_ablation_bootstrap"]) == 3
    for b in r["data_ablation_bootstrap"]:  # synth - real, both - real, synth - both
        assert b["ci_low"] <= b["ci_high"] and math.isfinite(b["diff"]), b
    assert r["synthesized"]["model"]  # the synthesizer's own models, named
    rows = [*r["ablations"], *r["data_ablation"], *r["msfans_time"]["rows"]]
    for x in rows:
        for key in ("dev_eer", "test_eer", "test_hter", "test_apcer", "test_bpcer", "test_acer"):
            _fraction(x[key], f"09 {x['study']} {x['value']} {key}")
    assert len(r["msfans_time"]["rows"]) == 4 and len(r["msfans_time"]["bootstrap"]) == 3
    for b in r["msfans_time"]["bootstrap"]:
        assert b["ci_low"] <= b["diff"] <= b["ci_high"], b
    att = r["attention"]
    assert att["n_regions"] > 0
    _fraction(att["attended"], "09 attended share")
    _fraction(att["chance"], "09 chance share")
    assert r["synthesized"]["videos"] > 0 and r["synthesized"]["clips"]["train"] > 0


def check_generic(results: dict[str, dict], run: SmokeRun) -> None:
    """Any notebook without its own check: every results file is a non-empty dict."""
    for stem, content in results.items():
        assert isinstance(content, dict) and content, f"results/{stem}.json is empty"


EXPECTED: dict[str, Callable[[dict[str, dict], SmokeRun], None]] = {
    "00": check_00, "01": check_01, "02": check_02, "03": check_03,
    "04": check_04, "05": check_05, "06": check_06, "07": check_07, "08": check_08,
    "09": check_09,
}


# --- tests -------------------------------------------------------------------------------------

def test_notebooks_found() -> None:
    assert NOTEBOOKS, "no notebooks found: nothing matches notebooks/[0-9][0-9]_*.ipynb"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_smoke(name: str, smoke_run: SmokeRun) -> None:
    number = name[:2]
    run = smoke_run.runs.get(name)
    assert run is not None, f"{name} was not run (see {smoke_run.folder / 'log.txt'})"
    assert run["ok"], (f"{name} failed: {run['error']}\n  executed copy: {run['output']}\n"
                       f"  log: {smoke_run.folder / 'log.txt'}")
    results = smoke_run.load_results(number)
    assert results, f"{name} wrote no results/{number}_*.json"
    figures = sorted(smoke_run.figures.glob(f"{number}_*.png"))
    assert figures, f"{name} wrote no figures/{number}_*.png"
    for stem, content in results.items():
        if isinstance(content, dict) and "smoke" in content:
            assert content["smoke"] is True, f"results/{stem}.json says smoke={content['smoke']}"
    EXPECTED.get(number, check_generic)(results, smoke_run)


@pytest.mark.parametrize("name", NAMES)
def test_executed_copy_shows_its_figures(name: str, smoke_run: SmokeRun) -> None:
    """The executed notebook holds its figures as PNG outputs (what the course site shows)."""
    run = smoke_run.runs.get(name)
    assert run is not None and run["ok"], f"{name} did not run"
    nb = json.loads(Path(run["output"]).read_text(encoding="utf-8"))
    pngs = sum("image/png" in o.get("data", {}) for c in nb["cells"]
               for o in c.get("outputs", []))
    assert pngs >= 1, f"{name}'s executed copy {run['output']} shows no figure"


@pytest.mark.parametrize("name", NAMES)
def test_readme_figures_are_drawn(name: str, smoke_run: SmokeRun, notebook_table) -> None:
    """Every figure the README's notebook table lists for this notebook is written by it."""
    rows = {row.number: row for row in notebook_table}
    row = rows.get(name[:2])
    assert row is not None, f"the README's notebook table has no row for {name}"
    drawn = [p.stem for p in smoke_run.figures.glob(f"{name[:2]}_*.png")]
    missing = [f for f in row.figures if not fnmatch.filter(drawn, f)]
    assert not missing, f"README lists {missing} for {name}, its smoke run drew {sorted(drawn)}"


def test_smoke_run_left_repository_outputs_alone(smoke_run: SmokeRun) -> None:
    """FIG_DIR / RESULTS_DIR reached every notebook: figures/ and results/ are untouched."""
    if smoke_run.repo_outputs_before is None:
        pytest.skip("--smoke-run: the notebooks were not run in this session")
    after = _repo_outputs()
    changed = sorted(k for k, t in after.items() if smoke_run.repo_outputs_before.get(k) != t)
    assert not changed, f"the smoke run wrote into the repository: {changed}"


def test_smoke_times_recorded(smoke_run: SmokeRun) -> None:
    """The runner recorded every notebook's smoke wall time in build/notebook_times.json."""
    if smoke_run.repo_outputs_before is None:
        pytest.skip("--smoke-run: the notebooks were not run in this session")
    times = json.loads((ROOT / "build" / "notebook_times.json").read_text())["smoke"]
    for name in NAMES:
        assert times["notebooks"][name]["seconds"] > 0
