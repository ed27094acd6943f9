"""Tests of tools/readme_tables.py's notebook 08 and bench_mm sections, on hand-made results
(two attack types, three sensors)."""

from __future__ import annotations

from pathlib import Path

from conftest import load_script

ROOT = Path(__file__).resolve().parents[3]


rt = load_script("tools/readme_tables.py")


def report(acer: float, worst: str) -> dict:
    return {"acer": acer, "apcer": 2 * acer, "bpcer": 0.0, "test_eer": 0.05,
            "tpr_at_fpr_1e-02": 0.9, "tpr_at_fpr_1e-03": 0.5, "worst_type": worst,
            "n_test_attacks": 40, "n_test_bona_fide": 20}


MM = {
    "dataset": "synthspoof", "smoke": False, "level": "frame",
    "attack_types": ["mask", "print_nir"],
    "sensor_eer": {"nir": {"mask": 0.0, "print_nir": 0.5}, "depth": {"mask": 0.45,
                                                                    "print_nir": 0.0},
                   "rgb": {"mask": 0.1, "print_nir": 0.2}},
    "groups": {"mmfas": ["depth", "mmfas"], "adsn": ["adsn_no_bce"]},
    "reports": {"depth": report(0.25, "mask"), "mmfas": report(0.01, "print_nir"),
                "adsn_no_bce": report(0.125, "mask")},
    "unseen": [{"attack_type": "mask", "test_eer": 0.3, "apcer": 0.6, "bpcer": 0.05,
                "acer": 0.325}],
    "port_descriptor_error": 2.8e-7,
}


def test_render_multimodal():
    text = rt.render_multimodal(MM)
    lines = text.splitlines()
    sensors = [ln for ln in lines if ln.startswith("| RGB alone") or ln.startswith("| depth alone")
               or ln.startswith("| NIR alone")]
    # the sensor rows in RGB, depth, NIR order (the JSON's keys are sorted), in percent
    assert sensors[:3] == ["| RGB alone | 10.00 | 20.00 |", "| depth alone | 45.00 | 0.00 |",
                           "| NIR alone | 0.00 | 50.00 |"]
    assert "| MM-FAS | 1.00 | 2.00 | 0.00 | 5.00 | 90.00 | 50.00 | print_nir |" in lines
    assert "| ADSN without BCE | 12.50 | 25.00 | 0.00 | 5.00 | 90.00 | 50.00 | mask |" in lines
    assert "| mask | 30.00 | 60.00 | 5.00 | 32.50 |" in lines
    assert "40 test attack and 20 bona fide frames" in text
    assert "= 2.8e-07." in text and "SMOKE" not in text


def test_render_bench_mm():
    res = {"threads": 2, "batch_size": 32, "smoke": True,
           "speed": {"mmfas": {"input_size": 64, "train_samples_per_s": 90.04,
                               "infer_ms_per_face": 2.456},
                     "depth": {"input_size": 64, "train_samples_per_s": 290.0,
                               "infer_ms_per_face": 0.81}},
           "sizes": {"mmfas": {"cpu": {"input_size": 64, "params": 404938.0,
                                       "flops": 109558336.0}}}}
    lines = rt.render_bench_mm(res).splitlines()
    assert "tiny run: not a measurement" in lines[0]
    speed = [ln for ln in lines if ln.startswith("| depth alone") or ln.startswith("| MM-FAS")]
    assert speed == ["| depth alone | 64 | 290.0 | 0.81 |", "| MM-FAS | 64 | 90.0 | 2.46 |"]
    assert "| mmfas | cpu | 64 | 0.40 | 0.110 |" in lines


def test_sections_registered():
    assert rt.SECTIONS["multimodal"] == "08_multimodal" and rt.SECTIONS["bench_mm"] == "bench_mm"
    page = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    for name in ("multimodal", "bench_mm"):
        assert page.count(rt.start_marker(name)) == 1 and page.count(rt.end_marker(name)) == 1


def test_render_multimodal_differences():
    diff = {"family": "mmfas", "a": "mmfas", "b": "early", "unit": "subject", "n_clusters": 10,
            "n_boot": 1000, "diff": -0.04, "ci_low": -0.07, "ci_high": -0.01,
            "excludes_zero": True}
    tie = {**diff, "family": "best_single", "a": "adsn", "b": "depth", "diff": 0.01,
           "ci_low": -0.02, "ci_high": 0.03, "excludes_zero": False}
    md = rt.render_multimodal({**MM, "differences": [diff, tie]})
    assert "interval over 10 test subjects (1000 replicates)" in md
    assert ("| MM-FAS vs its ablation | MM-FAS | early fusion (channels stacked) | **−4.00** | "
            "[−7.00, −1.00] |") in md
    assert ("| fused vs the best single sensor (chosen on dev) | ADSN (BCE + center + cosine + "
            "local terms, attention) | depth alone | +1.00 | [−2.00, +3.00] |") in md
    assert "Which differences are real" not in rt.render_multimodal(MM)  # none measured
