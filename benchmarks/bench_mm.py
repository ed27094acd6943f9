"""Speed and size of the multi-modal models (MM-FAS, ADSN; notebook 08).

For every model notebook 08 trains (:func:`fas_lib.studies.multimodal.study_runs`: one sensor, early
fusion, MM-FAS without / with aggregation, the face-recognition trunk, ADSN with attention and
with concatenation), at the CPU preset's sizes (or ``--input-size``):

* ``train_samples_per_s``: Adam steps of :func:`fas_lib.training.multimodal.train_step` (the loop of
  :func:`fas_lib.training.multimodal.train_mm`, its loss) on random inputs in memory, median of
  rounds;
* ``infer_ms_per_face``: eval-mode forward of one face (batch 1), median;

and the parameters and FLOPs of one forward pass of both presets of each network
(:func:`~fas_lib.models.describe_mmfas`, :func:`~fas_lib.models.describe_adsn`) and of the
face-recognition trunk's MM-FAS (:func:`~fas_lib.models.dlib_trunk_config`) at the CPU
preset's size. Writes ``results/bench_mm.json``.

Usage::

    python benchmarks/bench_mm.py [--tiny] [--threads 2] [--iters 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from fas_lib.core.utils import save_results, set_seed, tune_malloc
from fas_lib.models import (
    MMFAS,
    describe_adsn,
    describe_mmfas,
    describe_presets,
    dlib_trunk_config,
    mmfas_dummy_input,
)
from fas_lib.studies.multimodal import StudyPlan, study_runs
from fas_lib.training.multimodal import MMRunConfig, build_mm, make_optimizer, train_step

#: The study's runs timed here (the other rows train the same networks).
MODELS = ("rgb", "depth", "nir", "early", "mmfas_main", "mmfas", "fr_random", "adsn",
          "adsn_concat")


def _inputs(cfg: MMRunConfig, batch: int) -> dict[str, torch.Tensor]:
    side = cfg.model_config().input_size
    chans = {"rgb": 3, "depth": 1, "nir": 1}
    gen = torch.Generator().manual_seed(0)
    return {m: torch.rand(batch, chans[m], side, side, generator=gen) * 2 - 1
            for m in cfg.modalities}


def time_model(cfg: MMRunConfig, batch: int, iters: int, rounds: int,
               repeats: int) -> dict[str, float]:
    """Training samples/s (median of ``rounds``) and inference ms per face (median)."""
    set_seed(0)
    model, loss_mod = build_mm(cfg)
    opt = make_optimizer(cfg, model, loss_mod)
    x, y = _inputs(cfg, batch), torch.arange(batch) % 2
    model.train()
    train_step(model, loss_mod, opt, x, y)  # warm-up
    sps = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(iters):
            train_step(model, loss_mod, opt, x, y)
        sps.append(iters * batch / (time.perf_counter() - t0))
    model.eval()
    one = {m: v[:1] for m, v in x.items()}
    times = []
    with torch.no_grad():
        model(one)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(one)
            times.append(1000 * (time.perf_counter() - t0))
    return {"train_samples_per_s": statistics.median(sps),
            "infer_ms_per_face": statistics.median(times),
            "input_size": cfg.model_config().input_size, "modalities": list(cfg.modalities)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="few iterations, two models (a check)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10, help="training steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--input-size", type=int, default=64, help="MM-FAS and ADSN input side")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    malloc_tuned = tune_malloc()
    runs = study_runs(StudyPlan(input_size=args.input_size))
    names = ("depth", "adsn") if args.tiny else MODELS
    iters, rounds = (2, 1) if args.tiny else (args.iters, args.rounds)
    speed = {}
    for name in names:
        speed[name] = time_model(runs[name], args.batch_size, iters, rounds,
                                 5 if args.tiny else 50)
        print(f"{name:12s} {speed[name]['train_samples_per_s']:8.1f} samples/s  "
              f"{speed[name]['infer_ms_per_face']:7.2f} ms/face")
    fr = dlib_trunk_config("cpu")
    sizes = {"mmfas": describe_mmfas(), "adsn": describe_adsn(),
             "mmfas_dlib_trunk": describe_presets({"cpu": fr}, MMFAS, mmfas_dummy_input)}
    for net, presets in sizes.items():
        for preset, row in presets.items():
            print(f"{net:17s} {preset:6s} {row['params'] / 1e6:6.2f} M params  "
                  f"{row['flops'] / 1e9:7.3f} GFLOPs")
    out = {"speed": speed, "sizes": sizes, "batch_size": args.batch_size,
           "threads": torch.get_num_threads(), "malloc_tuned": malloc_tuned,
           "iters_per_round": iters, "rounds": rounds, "smoke": args.tiny,
           "note": "random inputs in memory; FLOPs at 2 per multiply-accumulate, batch 1"}
    print("wrote", save_results(out, "bench_mm", args.out))


if __name__ == "__main__":
    main()
