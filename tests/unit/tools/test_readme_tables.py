"""Tests of tools/readme_tables.py: rendering, marker replacement, ``--check``, and README sync.

Fixtures are tiny hand-made results dicts (three scales, two groups); nothing is trained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[3]


rt = load_script("tools/readme_tables.py")

TABLE_II = {
    "dataset": "synthspoof", "protocol": None, "smoke": False, "level": "frame", "n_test": 40,
    "scales": [0.9, 1.0, 1.1],
    "test_eer": {"0.9": 0.125, "1": 0.05, "1.1": 0.0834},  # "1" as f"{1.0:g}" writes it
    "test_hter": {"0.9": 0.1, "1.0": 0.075, "1.1": 0.09},
    "paper_table_ii_eer_percent": {"0.9": 5.93, "1.0": 6.09, "1.1": 5.26},
}
TABLE_III = {
    "dataset": "synthspoof", "smoke": False, "level": "frame", "n_test": 40,
    "groups": [[0.9, 1.0, 1.1], [1.0, 1.1, 1.2]],
    "test_eer": {
        "best_single": {"[0.9, 1.0, 1.1]": 0.05, "[1.0, 1.1, 1.2]": 0.05},
        "average": {"[0.9, 1.0, 1.1]": 0.04, "[1.0, 1.1, 1.2]": 0.06},
        "concat": {"[0.9, 1.0, 1.1]": 0.03, "[1.0, 1.1, 1.2]": 0.07},
        "msfans": {"[0.9, 1.0, 1.1]": 0.035, "[1.0, 1.1, 1.2]": 0.02},
    },
    "best_single_scale": {"[0.9, 1.0, 1.1]": 1.0, "[1.0, 1.1, 1.2]": 1.0},
    "paper_table_iii_eer_percent": {
        "best_single": {"[0.9, 1.0, 1.1]": 5.26, "[1.0, 1.1, 1.2]": 4.67},
        "msfans": {"[0.9, 1.0, 1.1]": 4.18, "[1.0, 1.1, 1.2]": 3.89},
    },
}
LBP = {"dataset": "synthspoof", "smoke": True, "level": "frame", "color_space": "hsv+ycbcr",
       "rows": [{"scale": "1.2", "test_eer": 0.2, "test_hter": 0.25},
                {"scale": "[1.1,1.2,1.3]", "test_eer": 0.1, "test_hter": 0.125}]}

README = "\n".join([
    "# Title", "", "intro",
    rt.start_marker("table_ii"), "old", rt.end_marker("table_ii"),
    "between",
    rt.start_marker("table_iii"), rt.end_marker("table_iii"),
    rt.start_marker("lbp"), "x", rt.end_marker("lbp"),
    rt.start_marker("summary"), rt.end_marker("summary"),
    "tail", "",
])


def test_render_table_ii_numbers_and_paper_column():
    md = rt.render_table_ii(TABLE_II)
    lines = md.splitlines()
    assert "| | 0.9 | 1.0 | 1.1 |" in lines
    assert "| EER (%), ours | 12.50 | 5.00 | 8.34 |" in lines
    assert "| HTER (%), ours | 10.00 | 7.50 | 9.00 |" in lines
    assert "| EER (%), paper (Table II, CASIA-FASD) | 5.93 | 6.09 | 5.26 |" in lines
    assert not any(line.startswith("| dev EER") for line in lines)  # no dev_eer in the file
    with_dev = rt.render_table_ii(dict(TABLE_II, dev_eer={"0.9": 0.2, "1": 0.1, "1.1": 0.05}))
    assert "| dev EER (%), ours | 20.00 | 10.00 | 5.00 |" in with_dev.splitlines()
    assert "Best scale here: 1.0 (EER 5.00 %)" in md
    assert "SMOKE" not in md
    assert "`synthspoof`, 40 test frames" in md


def test_render_table_iii_bold_winner_and_paper_block():
    md = rt.render_table_iii(TABLE_III)
    lines = md.splitlines()
    assert "| Method | [0.9, 1.0, 1.1] | [1.0, 1.1, 1.2] |" in lines
    assert "| Best single scale | 5.00 | 5.00 |" in lines
    assert "| Concat | **3.00** | 7.00 |" in lines
    assert "| MS-FANS | 3.50 | **2.00** |" in lines
    # paper numbers only below the "Paper (Table III" heading
    paper_at = md.index("Paper (Table III")
    assert md.index("4.18") > paper_at and md.index("| MS-FANS | 4.18 | 3.89 |") > paper_at
    assert "[0.9, 1.0, 1.1] → 1.0" in md


SIG = {"level": "frame", "n_boot": 1000, "unit": "test subject", "rows": [
    {"group": "[0.9, 1.0, 1.1]", "a": "msfans", "b": "best_single", "diff": -0.015,
     "ci_low": -0.03, "ci_high": -0.001, "level": 0.95},
    {"group": "[1.0, 1.1, 1.2]", "a": "msfans", "b": "best_single", "diff": -0.03,
     "ci_low": -0.05, "ci_high": 0.004, "level": 0.95},
    {"group": "[0.9, 1.0, 1.1]", "a": "msfans", "b": "concat", "diff": 0.005,
     "ci_low": -0.01, "ci_high": 0.02, "level": 0.95},
]}


def test_render_table_iii_significance_rows():
    md = rt.render_table_iii(dict(TABLE_III, significance=SIG))
    lines = md.splitlines()
    assert "| MS-FANS minus | [0.9, 1.0, 1.1] | [1.0, 1.1, 1.2] |" in lines
    assert "| Best single scale | −1.50 [−3.00, −0.10] | −3.00 [−5.00, +0.40] |" in lines
    assert "| Concat | +0.50 [−1.00, +2.00] | — |" in lines
    assert not any(line.startswith("| Average | +") for line in lines)  # no rows for it
    # only the first group's whole interval is below 0
    assert "below 0: Best single scale in 1 ([0.9, 1.0, 1.1])." in md
    assert "95 % interval of a paired bootstrap over test subjects (1000 replicates" in md
    assert "MS-FANS minus" not in rt.render_table_iii(TABLE_III)  # older files: no block


def test_render_table_iii_scale_agreement_rows():
    rows = [{"group": "[0.9, 1.0, 1.1]", "split": "train", "n_frames": 20, "errors": [0, 1, 0],
             "any_wrong": 1, "all_wrong": 0},
            {"group": "[0.9, 1.0, 1.1]", "split": "test", "n_frames": 30, "errors": [3, 5, 4],
             "any_wrong": 7, "all_wrong": 2},
            {"group": "[1.0, 1.1, 1.2]", "split": "test", "n_frames": 30, "errors": [6, 2, 9],
             "any_wrong": 10, "all_wrong": 1}]
    md = rt.render_table_iii(dict(TABLE_III, scale_agreement={"rows": rows}))
    lines = md.splitlines()
    assert "(train / test; 20 train, 30 test frames)" in md
    assert "| Frames wrong (train / test) | [0.9, 1.0, 1.1] | [1.0, 1.1, 1.2] |" in lines
    assert "| at the group's best scale | 0 / 3 | — / 2 |" in lines
    assert "| at some scale | 1 / 7 | — / 10 |" in lines
    assert "| at every scale | 0 / 2 | — / 1 |" in lines
    assert "Frames wrong" not in rt.render_table_iii(TABLE_III)  # older files: no block


def test_render_table_iii_dev_picked_single_scale():
    dev = {"scale": {"[0.9, 1.0, 1.1]": 1.1, "[1.0, 1.1, 1.2]": 1.2},
           "test_eer": {"[0.9, 1.0, 1.1]": 0.03, "[1.0, 1.1, 1.2]": 0.06}, "msfans_wins": 1}
    md = rt.render_table_iii(dict(TABLE_III, best_single_dev=dev))
    assert ("picked on **dev** instead of on test (no look at the test set; its test EER % in "
            "brackets): [0.9, 1.0, 1.1] → 1.1 (3.00), [1.0, 1.1, 1.2] → 1.2 (6.00).") in md
    # MS-FANS 3.5 % vs 3.0 % loses, 2.0 % vs 6.0 % wins
    assert "MS-FANS has a lower test EER than it in 1 of 2 groups." in md
    assert "picked on **dev**" not in rt.render_table_iii(TABLE_III)


def test_win_line_counts_strict_wins_per_row():
    line = rt.win_line(TABLE_III["test_eer"], ["[0.9, 1.0, 1.1]", "[1.0, 1.1, 1.2]"])
    assert "than Best single scale in 2 of 2 ([0.9, 1.0, 1.1], [1.0, 1.1, 1.2])" in line
    assert "than Concat in 1 of 2 ([1.0, 1.1, 1.2])" in line     # 3.5 % vs 3.0 % is a loss
    assert line in rt.render_table_iii(TABLE_III)
    tie = {"best_single": {"g": 0.05}, "msfans": {"g": 0.05}}
    assert "than Best single scale in 0 of 1." in rt.win_line(tie, ["g"])  # a tie is no win


def test_render_summary_picks_the_best_of_each_family():
    md = rt.render_summary(TABLE_II, TABLE_III, LBP)
    assert "| CNN_S, one scale (Table II) | 5.00 | scale 1.0 |" in md
    assert "| CNN_S, fused scales (Table III) | 2.00 | MS-FANS, [1.0, 1.1, 1.2] |" in md
    assert "| LBP + SVM, `hsv+ycbcr` | 10.00 | scale(s) [1.1,1.2,1.3] |" in md
    assert "SMOKE run" in md                                       # LBP fixture is a smoke run


DATA_00 = {"dataset": "synthspoof", "smoke": False,
           "border_share": {"n_attack_frames": 4800,
                            "per_scale": {"0.9": 0.0, "1": 0.25, "1.5": 0.7}}}
CROPS_02 = {"dataset": "synthspoof", "smoke": False, "split": "test",
            "border_share_crops": {"n_attack_frames": 954, "test_view_fraction": 0.875,
                                   "per_scale": {"0.9": 0.2, "1.0": 0.5, "1.5": 1.0},
                                   "test_view_per_scale": {"0.9": 0.05, "1": 0.3, "1.5": 0.99}}}


def test_render_border_three_rows_in_scale_order():
    md = rt.render_border(DATA_00, CROPS_02)
    lines = md.splitlines()
    assert lines[0] == "| crop scale | 0.9 | 1.0 | 1.5 |"
    assert "| attack crops showing the medium's border, detector box (%) | 0.0 | 25.0 | 70.0 |" \
        in lines
    assert "| … aligned crop as cut by the pipeline (%) | 20.0 | 50.0 | 100.0 |" in lines
    assert "| … its centre 112 × 112, the CNN's input at test (%) | 5.0 | 30.0 | 99.0 |" in lines
    assert "4,800 attack frames" in md and "954 cached attack frames of the test split" in md
    assert "SMOKE" not in md
    assert "SMOKE" in rt.render_border(dict(DATA_00, smoke=True), CROPS_02)


SEEDS = {"dataset": "synthspoof", "smoke": False, "level": "frame", "n_test": 40,
         "group": [0.9, 1.0, 1.1], "seeds": [0, 1],
         "test_eer": {"best_single": {"0": 0.05, "1": 0.04}, "average": {"0": 0.06, "1": 0.03},
                      "concat": {"0": 0.07, "1": 0.05}, "msfans": {"0": 0.1, "1": 0.035}},
         "best_scale": {"0": 1.0, "1": 0.9},
         "stats": {"best_single": {"mean": 0.045, "std": 0.00707}, "average": {"mean": 0.045, "std": 0.0212},
                   "concat": {"mean": 0.06, "std": 0.0141}, "msfans": {"mean": 0.0675, "std": 0.046}},
         "msfans_beats_best_single": {"0": False, "1": True}}


def test_render_seed_spread_rows_and_win_count():
    md = rt.render_seed_spread(SEEDS)
    lines = md.splitlines()
    assert "| Method | seed 0 | seed 1 | mean ± sd |" in lines
    assert "| Best single scale | 5.00 (1.0) | 4.00 (0.9) | 4.50 ± 0.71 |" in lines
    assert "| MS-FANS | 10.00 | 3.50 | 6.75 ± 4.60 |" in lines
    assert "for 1 of 2 seeds" in md
    assert "written by `tools/seed_spread.py` to `results/`" in md


def test_render_lbp_flags_smoke():
    md = rt.render_lbp(LBP)
    assert "| 1.2 | 20.00 | 25.00 |" in md
    assert "| [1.1,1.2,1.3] | 10.00 | 12.50 |" in md
    assert "`hsv+ycbcr`" in md
    assert "SMOKE run" in md


def _mean(protocol, recipe, model, family, dev, test, n=1):
    return {"protocol": protocol, "recipe": recipe, "model": model, "family": family,
            "dev_eer": dev, "test_eer": test, "test_hter": test, "n_folds": n}


SHIFT = {
    "dataset": "synthspoof", "smoke": False, "level": "frame",
    "protocols": ["standard", "p3"], "recipes": ["cpu", "robust"], "target_models": ["CNN_S 1"],
    "means": [_mean("standard", "cpu", "CNN_S 1", "single", 0.01, 0.02),
              _mean("p3", "robust", "CNN_S 1", "single", 0.1, 0.15, 2),
              _mean("p3", "grid_gray", "LBP grid_gray 1", "lbp", 0.2, 0.1, 2),
              _mean("p3", "boulkenafet", "LBP boulkenafet 1", "lbp", 0.05, 0.3, 2)],
    "targets": [{"protocol": "p3", "model": "CNN_S 1", "test_eer": 0.15,
                 "lbp_by_dev_test_eer": 0.3, "beats_lbp": True, "test_within_2x_dev": True}],
    "context": {"p3 / robust": {"1": 0.15, "2.7": 0.25}},
    "p1_msfans": {"wins": 3, "n_groups": 5,
                  "significance": [{"ci_high": -0.01}, {"ci_high": 0.02}]},
}


def test_render_shift_cells_lbp_pick_and_targets():
    md = rt.render_shift(SHIFT)
    assert "| model | recipe | standard | p3 (2 folds) |" in md
    assert "| CNN_S 1 | cpu | 2.00 (1.00) | — |" in md
    assert "| CNN_S 1 | robust | — | 15.00 (10.00) |" in md
    # the LBP setting dev picks (boulkenafet: dev 5 %), not the one best on test
    assert "| best LBP on dev | | — | 30.00 (5.00) boulkenafet |" in md
    assert "p3 CNN_S 1: below the LBP dev picks (15.00 vs 30.00), test within 2x dev" in md
    assert "in 3 of 5 groups (1 with the 95 % bootstrap" in md
    assert "| p3 / robust | 15.00 | 25.00 |" in md


def test_replace_sections_is_idempotent_and_keeps_text():
    sections = {"table_ii": rt.render_table_ii(TABLE_II), "lbp": rt.render_lbp(LBP)}
    once = rt.replace_sections(README, sections)
    assert rt.replace_sections(once, sections) == once
    assert "old" not in once and "between" in once and "tail" in once
    assert rt.start_marker("table_iii") + "\n" + rt.end_marker("table_iii") in once


def test_replace_sections_missing_marker_is_an_error():
    with pytest.raises(ValueError, match="exactly once"):
        rt.replace_sections("# no markers\n", {"table_ii": "x"})


def _write(tmp_path: Path) -> tuple[Path, Path]:
    res = tmp_path / "results"
    res.mkdir()
    (res / "03_table_ii.json").write_text(json.dumps(TABLE_II))
    (res / "06_table_iii.json").write_text(json.dumps(TABLE_III))
    (res / "06_lbp_baseline.json").write_text(json.dumps(LBP))
    readme = tmp_path / "README.md"
    readme.write_text(README)
    return res, readme


def test_check_detects_mismatch_and_write_fixes_it(tmp_path, capsys):
    res, readme = _write(tmp_path)
    args = ["--results-dir", str(res), "--readme", str(readme)]
    assert rt.main([*args, "--check"]) == 1           # README still holds "old"
    assert readme.read_text() == README              # --check writes nothing
    assert rt.main(args) == 0
    assert rt.main([*args, "--check"]) == 0
    # a changed number in the results must be caught
    changed = dict(TABLE_II, test_eer={**TABLE_II["test_eer"], "1.0": 0.06})
    (res / "03_table_ii.json").write_text(json.dumps(changed))
    assert rt.main([*args, "--check"]) == 1
    # a hand edit of the README must be caught too
    rt.main(args)
    readme.write_text(readme.read_text().replace("| 6.00 |", "| 5.00 |"))
    assert rt.main([*args, "--check"]) == 1


def test_missing_results_dir_is_one_clear_error(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert rt.main(["--results-dir", str(tmp_path / "nope"), "--readme", str(readme)]) == 2
    assert "run notebooks 03 and 06" in capsys.readouterr().err


def test_repository_documents_match_results():
    """The README's and the site pages' tables equal the rendering of the committed results/."""
    results = ROOT / "results"
    if not any((results / f"{stem}.json").exists() for stem in rt.SECTIONS.values()):
        pytest.skip("results/03_table_ii.json and results/06_*.json not produced yet")
    texts = {d: (ROOT / d).read_text(encoding="utf-8") for d in rt.DOCUMENTS}
    assert rt.replace_in_documents(texts, rt.load_sections(results)) == texts, (
        "README.md or docs/ is out of date with results/: run `python tools/readme_tables.py`"
    )


def test_sections_go_to_the_one_document_that_holds_them(tmp_path):
    sections = {"table_ii": rt.render_table_ii(TABLE_II), "lbp": rt.render_lbp(LBP)}
    a = rt.start_marker("table_ii") + "\nSTALE\n" + rt.end_marker("table_ii")
    b = "text\n" + rt.start_marker("lbp") + "\n" + rt.end_marker("lbp")
    out = rt.replace_in_documents({"a.md": a, "b.md": b}, sections)
    assert out["a.md"] == rt.replace_sections(a, {"table_ii": sections["table_ii"]})
    assert "STALE" not in out["a.md"] and out["b.md"].startswith("text")
    with pytest.raises(ValueError, match="exactly one of"):
        rt.replace_in_documents({"a.md": a, "c.md": a, "b.md": b}, sections)
    with pytest.raises(ValueError, match="found in none"):
        rt.replace_in_documents({"a.md": a}, sections)
    docs = [tmp_path / "a.md", tmp_path / "b.md"]
    b += "".join(f"\n{rt.start_marker(n)}\n{rt.end_marker(n)}" for n in ("table_iii", "summary"))
    for d, text in zip(docs, (a, b)):
        d.write_text(text)
    res, _ = _write(tmp_path)
    args = ["--results-dir", str(res), "--doc", str(docs[0]), "--doc", str(docs[1])]
    assert rt.main([*args, "--check"]) == 1
    assert rt.main(args) == 0 and rt.main([*args, "--check"]) == 0
    assert docs[0].read_text() == rt.replace_sections(a, {"table_ii": sections["table_ii"]})


# --- notebook 09 (video models) -----------------------------------------------------------------

def _video_row(study: str, value: str, eer: float) -> dict:
    return {"study": study, "value": value, "test_eer": eer, "test_hter": 0.1,
            "test_apcer": 0.2, "test_bpcer": 0.05, "test_acer": 0.125, "dev_eer": 0.08}


VIDEO = {
    "dataset": "synthspoof", "smoke": False, "t": 8, "input_size": 64, "epochs": 6,
    "ablations": [_video_row("branches", "temporal", 0.1), _video_row("branches", "both", 0.05),
                  _video_row("regions", "K=4", 0.05), _video_row("regions", "K=4", 0.05)],
    "data_ablation": [{**_video_row("data", "synth", 0.3), "n_seeds": 2},
                      {**_video_row("data", "both", 0.04), "n_seeds": 2}],
    "data_ablation_bootstrap": [{"label": "synth - real", "diff": 0.12, "ci_low": 0.02,
                                 "ci_high": 0.2, "cluster": "subject"}],
    "msfans_time": {"rows": [_video_row("msfans", "MS-FANS over time", 0.02)],
                    "bootstrap": [{"label": "over time - one frame", "diff": -0.015,
                                   "ci_low": -0.04, "ci_high": 0.01, "cluster": "subject"}]},
    "attention": {"attended": 0.25, "chance": 0.1, "diff": 0.15, "ci_low": 0.1, "ci_high": 0.2,
                  "n_regions": 640, "k": 4,
                  "per_attack_type": {"print_flat": {"attended": 0.3, "chance": 0.1}}},
}


def test_render_video_rows_bootstrap_and_attention():
    md = rt.render_video(VIDEO)
    assert ("| STASN, branches | temporal only (TASM) | 10.00 | 10.00 | 20.00 | 5.00 | 12.50 "
            "| 8.00 |") in md
    assert md.count("| STASN, K regions | K=4 |") == 1  # a repeated cell is listed once
    assert ("| STASN, training replays | live + synthesized replays (the synthesizer's own "
            "models) | 30.00 |") in md
    assert "| STASN, training replays | live + SynthSpoof's and synthesized replays | 4.00 |" in md
    assert "2 seed(s) per cell: synth - real: +12.00 [+2.00, +20.00]" in md
    assert "| MS-FANS / STASN | MS-FANS over time | 2.00 |" in md
    assert "over time - one frame: −1.50 [−4.00, +1.00]" in md
    assert "25.00 % of STASN's attended regions" in md and "against 10.00 %" in md
    assert "print_flat 30.00 vs 10.00" in md and "one clip of 8 frames" in md
    none = rt.render_video({**VIDEO, "attention": None, "data_ablation_bootstrap": []})
    assert "not measured" in none and "seed(s) per cell" not in none


RECIPES = {"dataset": "synthspoof", "smoke": False, "level": "frame", "scale": 1.0,
           "seeds": [0, 1],
           "summary": [{"protocol": "standard", "recipe": "cpu", "test_eer": 0.095,
                        "test_eer_sd": 0.001},
                       {"protocol": "standard", "recipe": "robust", "test_eer": 0.12,
                        "test_eer_sd": 0.01},
                       {"protocol": "p1", "recipe": "cpu", "test_eer": 0.25,
                        "test_eer_sd": 0.004}],
           "effects": [{"protocol": "standard", "recipe": "robust", "delta_test_eer": 0.025,
                        "delta_sd": 0.01, "worse_seeds": 2, "n_seeds": 2}]}


def test_render_recipe_ablation_cells_effects_and_gaps():
    md = rt.render_recipe_ablation(RECIPES)
    lines = md.splitlines()
    assert "| recipe | standard | p1 |" in lines
    assert "| cpu | 9.50 ± 0.10 | 25.00 ± 0.40 |" in lines
    assert "| robust | 12.00 ± 1.00 (+2.50; 2/2) | — |" in lines
    assert "seeds 0, 1" in md and "written by `tools/recipe_ablation.py`" in md


VARIANTS = {"recipe": "cpu", "seed": 0, "smoke": False, "level": "frame",
            "boxes": "generator's",
            "variants": {"default": {"fixed_factors": [], "n_subjects": 24},
                         "fixed session": {"fixed_factors": ["session"], "n_subjects": 24}},
            "rows": [{"model": "CNN_S 1", "trained_on": a, "scored_on": b, "test_hter": h}
                     for a, b, h in (("default", "default", 0.1), ("default", "fixed session",
                                     0.2), ("fixed session", "default", 0.3))]}


def test_render_variant_study_matrix_per_model():
    md = rt.render_variant_study(VARIANTS)
    lines = md.splitlines()
    assert "| trained on | default | fixed session |" in lines
    assert "| default | 10.00 | 20.00 |" in lines
    assert "| fixed session | 30.00 | — |" in lines
    assert "*CNN_S 1*" in lines and "24 subjects per variant" in md
    assert "written by `tools/variant_study.py`" in md


def test_render_notebook_times_rows_total_and_load():
    suite = {"mode": "full", "finished": "2026-12-06T21:40:00", "total_s": 390.0,
             "notebooks": {"00_a": 300.0, "01_b": 90.0}, "runs_reused": 0, "runs_trained": 7,
             "machine": {"cpu_cores": 2}}
    text = rt.render_notebook_times(suite)
    assert "| 00_a | 5.0 |" in text and "| 01_b | 1.5 |" in text
    assert "| **all** | **6.5** |" in text
    assert "from scratch" in text and "7 models trained" in text and "2026-12-06" in text
    assert "load average" not in text  # an older record without it
    loaded = rt.render_notebook_times({**suite, "runs_reused": 3,
                                       "load_average": {"00_a": 2.04}})
    assert "| 00_a | 5.0 | 2.0 |" in loaded and "| 01_b | 1.5 | — |" in loaded
    assert "3 runs read back" in loaded and "near 2 is the suite alone" in loaded
    assert "on 2 cores," in text  # an older record without the processor's name
    named = rt.render_notebook_times({**suite, "machine": {"cpu_cores": 2, "cpu": "AMD EPYC",
                                                           "vector_isa": "avx2"}})
    assert "on 2 cores of an AMD EPYC (avx2)," in named
    counted = rt.render_notebook_times({**suite, "runs_trained_per_notebook": {"00_a": 0,
                                                                               "01_b": 7}})
    assert "| notebook | minutes | models trained |" in counted
    assert "| 00_a | 5.0 | 0 |" in counted and "| **all** | **6.5** | **7** |" in counted
    assert "machine speed" not in text  # an older record without the speed probe
    timed = rt.render_notebook_times({**suite, "load_average": {"00_a": 2.04, "01_b": 1.9},
                                      "speed": {"00_a": 512.4}})
    assert "| notebook | minutes | load average at its end | machine speed before it" in timed
    assert "| 00_a | 5.0 | 2.0 | 512 |" in timed and "| 01_b | 1.5 | 1.9 | — |" in timed
    assert "| **all** | **6.5** | | |" in timed and "varies between hours" in timed
