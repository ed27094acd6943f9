"""How realistic is the data? Identity diversity and cue strength per crop scale, in one run.

Measures, on the default SynthSpoof (generated and cached when needed) or on any dataset's
crop cache (``--dataset`` / ``--root``, or ``--cache DIR``):

* **identity** (:mod:`fas_lib.studies.realism`): dlib's face descriptors of the subjects
  (SynthSpoof: their sprites and rendered live frames; every dataset: chips cut from the
  cached live crops); per subject pair the distance, the share of pairs dlib calls different
  people (distance >= 0.6), the subjects with a "same person" twin, and the distances of one
  subject's frames (across sessions and cameras) for comparison;
* **cue strength** (:mod:`fas_lib.studies.cues`): hand-crafted statistics of the centre
  112 x 112 of each cached crop (high-frequency energy, moire peak, colour moments in HSV and
  YCbCr, specular share, colour diversity); per scale the test EER of each statistic and of a
  logistic regression trained on the training split, overall and per attack type,
  instrument, camera and session;
* with ``--runs DIR``: how many training frames each Table II run in ``DIR`` (CNN_S, one
  scale, ``cpu`` preset, ``--seed``, this data) gets wrong at its own threshold (the training
  split scored with the run's model);
* with ``--face-context SCALES``: which part of the crop a single-scale CNN_S learns from
  (:mod:`fas_lib.studies.face_context`): per scale the test EER of the network trained on the whole
  crop, on the face alone (context greyed) and on the context alone (face greyed); the
  runs go to ``--runs`` (default ``runs/``), whole-crop runs read back from Table II's.

Real data shows weak cues in tight crops and strong ones in wide crops (context: paper
border, bezel, fingers); published reference findings are in ``realism.REFERENCES`` and are
copied into the JSON under ``references`` (quoted from papers, not measured here).

Writes ``results/realism.json`` and prints the tables. Frames are subsampled
(``--frames-per-video``, default 2 of the cache's 4) so that a run on the default SynthSpoof
takes 1-3 minutes on 2 cores once its data and cache exist.

Usage::

    python benchmarks/bench_realism.py [--dataset synthspoof] [--root DIR] [--cache DIR]
        [--scales 0.9 1.0 ... 4.0] [--frames-per-video 2] [--per-subject 6] [--runs DIR]
        [--face-context 1.4 2.0 2.7] [--threads 2] [--workers 2] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

#: Notebook 07's cache: the paper's seven scales and wider context (shared with that notebook).
DEFAULT_SCALES = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 2.0, 2.7, 4.0)


def _identity_line(name: str, st: dict) -> str:
    d = st["different"]
    line = (f"{name:34s} {st['n_subjects']:3d} subjects: {d['n_distinct']:4d} of "
            f"{d['n_pairs']:4d} pairs distinct ({100 * d['share_distinct']:5.1f} %), "
            f"median {d['q50']:.2f}; {d['n_subjects_with_twin']} with a twin")
    if "same" in st:
        line += (f"; same subject median {st['same']['q50']:.2f}, q95 {st['same']['q95']:.2f}"
                 f", verification EER {100 * st['verification_eer']:.1f} %")
    return line


def _table_ii_runs(folder: Path, cache, scales, seed: int) -> list[Path]:
    """The finished Table II runs of ``cache``'s data under ``folder``: per scale, the folder
    :func:`fas_lib.training.runs.run_dir` names for CNN_S, fusion ``single``, the ``cpu`` preset and
    ``seed`` on this data (runs of other protocols, recipes, seeds or data versions that share
    the folder are not theirs)."""
    from fas_lib.training.config import ExperimentConfig
    from fas_lib.training.runs import read_results, run_dir

    out = []
    for s in scales:
        cfg = ExperimentConfig(backbone="cnn_s", fusion="single", scales=(s,), preset="cpu",
                               seed=seed)
        d = run_dir(cfg, folder, cache)
        if (read_results(d) or {}).get("complete") and (d / "checkpoint.pt").is_file():
            out.append(d)
    return out


def _open(args):
    """The crop cache and, for SynthSpoof, its reader."""
    from fas_lib.cache.prepare import get_cache
    from fas_lib.cache.reader import open_cache
    from fas_lib.synthspoof import SynthSpoofReader

    if args.cache:
        cache = open_cache(args.cache)
    else:
        cache = get_cache(args.dataset, args.root, args.protocol, smoke=args.smoke,
                          workers=args.workers, progress=True, scales=args.scales)
    reader = None
    root = Path(str(cache.manifest.get("root", "")))
    if cache.manifest.get("dataset") == "synthspoof" and (root / "manifest.json").is_file():
        reader = SynthSpoofReader(root)
    return cache, reader


def measure(args) -> dict:
    """Every measurement of the run, as written to ``results/realism.json``."""
    from fas_lib.studies import cues, realism

    t0 = time.perf_counter()
    cache, reader = _open(args)
    timing = {"data_s": time.perf_counter() - t0}
    out: dict = {"dataset": cache.manifest.get("dataset"), "cache": str(cache.path),
                 "cache_scales": list(cache.scales), "identity": {}}
    if reader is not None:
        out["generator_version"] = reader.manifest.get("generator_version")
        out["synthspoof_params"] = reader.manifest.get("params")
    t = time.perf_counter()
    per = 2 if args.smoke else args.per_subject
    if reader is not None:
        stats, _ = realism.synthspoof_identity(reader, per, args.seed)
        out["identity"].update(stats)
    chips, meta = realism.cache_chips(cache, per, args.seed)
    out["identity"]["cache"] = realism.identity_stats(realism.descriptors(chips), meta)
    timing["identity_s"] = time.perf_counter() - t
    t = time.perf_counter()
    scales = [s for s in (args.scales or cache.scales) if s in cache.scales]
    cue_frames = cues.cue_set(cache, scales, frames_per_video=args.frames_per_video)
    strength = cues.cue_strength(cue_frames)
    out["cue_strength"] = {"frames": {s: int((cue_frames.frames["split"] == s).sum())
                                      for s in ("train", "test")},
                           "frames_per_video": args.frames_per_video,
                           "statistics": list(cues.STATISTICS), "per_scale": strength}
    timing["cues_s"] = time.perf_counter() - t
    out["train_errors"] = None
    if args.runs:
        t = time.perf_counter()
        runs = _table_ii_runs(Path(args.runs), cache, scales, args.seed)
        out["train_errors"] = {"runs_dir": str(args.runs),
                               "per_scale": realism.train_errors_by_scale(runs)}
        timing["train_errors_s"] = time.perf_counter() - t
    out["face_context"] = None
    if args.face_context:
        out["face_context"] = _face_context(cache, args)
        timing["face_context_s"] = out["face_context"].pop("seconds")
    out["references"] = {"note": "quoted from the papers, not measured here",
                         **realism.REFERENCES}
    timing["total_s"] = time.perf_counter() - t0
    out["timing"] = timing
    return out


def _face_context(cache, args) -> dict:
    """Face-only, context-only and whole-crop runs per scale (:mod:`fas_lib.studies.face_context`)."""
    import pandas as pd

    from fas_lib.studies.face_context import face_context_study, face_context_table

    t = time.perf_counter()
    runs = Path(args.runs) if args.runs else Path(__file__).resolve().parents[1] / "runs"
    scales = [s for s in args.face_context if s in cache.scales]
    study = face_context_study(cache, scales, runs, seed=args.seed)
    table = face_context_table(study)
    return {"runs_dir": str(runs), "preset": "cpu", "backbone": "cnn_s",
            "runs": study.to_dict(orient="records"),
            "test_eer_percent": {f"{s:g}": {k: (None if pd.isna(v) else v)
                                            for k, v in row.items()}
                                 for s, row in table.iterrows()},
            "seconds": time.perf_counter() - t}


def report(out: dict) -> None:
    """Print the tables of a :func:`measure` result."""
    import pandas as pd

    from fas_lib.studies import cues

    print(f"\n{out['dataset']}: {out['cache']}")
    for name, st in out["identity"].items():
        if "different" in st:
            print(_identity_line(f"identity, {name}", st))
    for name in ("sprites", "frames"):
        src = out["identity"].get(name, {}).get("by_source")
        if src:
            print(f"  {name} by source: " + "; ".join(
                f"{k} {v['n_pairs']} pairs, {100 * v['share_distinct']:.1f} % distinct, median "
                f"{v['q50']:.2f}" for k, v in src.items()))
    strength = out["cue_strength"]["per_scale"]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print("\ncue strength: test EER (%) of hand-crafted statistics of the centre crop")
        print(cues.strength_table(strength).to_string())
        for by in ("attack_type", "instrument", "camera", "session"):
            table = cues.strength_table(strength, by)
            if len(table):
                print(f"\nby {by}:\n{table.to_string()}")
    print("\nbest statistic per scale: " + ", ".join(
        f"{s:g}: {r['best_statistic']['name']} {100 * r['best_statistic']['eer']:.1f} %"
        for s, r in strength.items()))
    if out["train_errors"]:
        print("\ntraining frames wrong at the run's threshold: " + ", ".join(
            f"{s:g}: {r['n_wrong']} of {r['n_train']}"
            for s, r in out["train_errors"]["per_scale"].items()))
    if out.get("face_context"):
        print("\nwhich part a single-scale CNN_S learns from: test EER (%)")
        print(pd.DataFrame(out["face_context"]["test_eer_percent"]).T.to_string())
    print("\ntiming (s): " + ", ".join(f"{k} {v:.1f}" for k, v in out["timing"].items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="synthspoof")
    ap.add_argument("--root", default=None, help="dataset root (None: generate SynthSpoof)")
    ap.add_argument("--protocol", default=None)
    ap.add_argument("--cache", default=None, help="an existing crop cache folder instead")
    ap.add_argument("--scales", type=float, nargs="+", default=list(DEFAULT_SCALES))
    ap.add_argument("--frames-per-video", type=int, default=2)
    ap.add_argument("--per-subject", type=int, default=6, help="identity chips per subject")
    ap.add_argument("--runs", default=None, help="folder of run folders (Table II's)")
    ap.add_argument("--face-context", type=float, nargs="*", default=None,
                    help="scales at which to train face-only / context-only CNN_S runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="the tiny SynthSpoof, 2 chips each")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    args = ap.parse_args()
    if args.cache:
        args.scales = None if args.scales == list(DEFAULT_SCALES) else args.scales

    import torch

    from fas_lib.core.utils import save_results

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    out = measure(args)
    out["args"] = vars(args)
    out["load_avg_1_5_15_before"] = [round(v, 2) for v in load_before]
    out["load_avg_1_5_15_after"] = [round(v, 2) for v in os.getloadavg()]
    report(out)
    path = save_results(out, "realism", args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
