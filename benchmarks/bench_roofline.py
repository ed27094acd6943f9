"""How close CNN_S training runs to this CPU's floating-point limit, and where time goes
outside the model.

Measured in one run, on the course's training path (112 x 112 crops, batch 32, SGD, the
Eq. 6 loss, the allocator tuning of :func:`fas_lib.core.utils.tune_malloc`):

* **the limit**: the theoretical FP32 peak ``threads x clock x FLOPs per cycle`` (clock and
  vector width from ``/proc/cpuinfo`` and ``/sys``: 16 lanes with AVX-512, 8 with AVX2, 4
  otherwise; 2 FLOPs per lane per fused multiply-add; **2 FMA units per core, an assumption**
  true of recent x86 server and desktop cores, not readable from the OS), and the measured rate
  of a large float32 matrix product (``torch.mm``, best of several), the attainable peak (a
  virtual machine reports its nominal clock: when the product beats the nominal peak, the
  cores run faster, and the clock the product implies is reported as well);
* **the model**: CNN_S at one scale and MS-FANS (CNN_S over three scales) training from
  tensors in memory: samples/s, the FLOPs of one training step (forward, loss and backward
  counted by :class:`torch.utils.flop_counter.FlopCounterMode`), so the achieved GFLOP/s and
  its share of both peaks;
* **outside the model**, per batch of the three-scale model: reading the batch from the crop
  cache (:class:`fas_lib.cache.loader.CropDataset` through a ``DataLoader``, as training does), the
  ``robust`` recipe's capture augmentation (blur, noise, JPEG) on top of it, the training step,
  and scoring a batch in eval mode (``torch.no_grad``, and ``torch.inference_mode`` as
  :mod:`fas_lib.training.scoring` does); each as a share of one training iteration.

:func:`speed_probe` is the model measurement in one second (CNN_S, one scale): the notebook
runner (``tools/run_notebooks.py``) takes it before each notebook, so that the times of two
suites can be compared on a shared machine whose speed varies.

Writes ``results/bench_roofline.json``.

Usage::

    python benchmarks/bench_roofline.py [--cache DIR] [--smoke] [--threads 2] [--iters 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from fas_lib.core.utils import cpu_facts, save_results, set_seed, tune_malloc
from fas_lib.models import MultiScaleNet
from fas_lib.preprocess.augment import CAPTURE, Augment
from fas_lib.training.config import scale_indices
from fas_lib.training.frames import train_step

SCALES3 = (1.1, 1.2, 1.3)
FMA_UNITS = 2  # per core: an assumption (see the module docstring)
AUX_WEIGHT = 0.5  # Eq. 6's weight of the auxiliary losses (the paper's, the course's default)


def cpu_peak(threads: int, cpuinfo: str | None = None,
             max_khz: int | None = None) -> dict[str, Any]:
    """The theoretical FP32 peak of ``threads`` cores and what it is computed from.

    Args:
        threads: cores in use.
        cpuinfo: the text of ``/proc/cpuinfo`` (default: read it).
        max_khz: the highest clock in kHz (default: ``cpufreq``'s ``cpuinfo_max_freq`` when the
            system has it, else the largest ``cpu MHz`` of ``cpuinfo``).
    """
    if cpuinfo is None:
        freq = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
        max_khz = int(freq.read_text()) if max_khz is None and freq.exists() else max_khz
    facts = cpu_facts(cpuinfo)
    flags = facts["flags"]
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    fma = "fma" in flags or "avx512f" in flags
    if max_khz is not None:
        ghz, source = max_khz / 1e6, "cpufreq cpuinfo_max_freq"
    else:
        mhz = facts["mhz"]
        ghz, source = (max(mhz) / 1e3 if mhz else float("nan")), "/proc/cpuinfo cpu MHz"
    per_cycle = lanes * (2 if fma else 1) * FMA_UNITS
    return {"cpu": facts["cpu"] or "unknown", "threads": threads,
            "clock_ghz": ghz, "clock_source": source, "fp32_lanes": lanes, "fma": fma,
            "fma_units_assumed": FMA_UNITS, "flops_per_cycle_per_core": per_cycle,
            "peak_gflops": threads * ghz * per_cycle}


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    """Best GFLOP/s of an ``n x n`` float32 matrix product (``2 n^3`` FLOPs)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _step(model: MultiScaleNet, opt: torch.optim.Optimizer, x: torch.Tensor,
          y: torch.Tensor) -> None:
    """The course's training step (:func:`fas_lib.training.frames.train_step`, Eq. 6 with the
    auxiliary losses at their default weight, as in the first half of a run)."""
    train_step(model, opt, x, y, 0, 100, AUX_WEIGHT)


def step_flops(model: MultiScaleNet, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one training step (forward, loss, backward) on the batch ``x``."""
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    with FlopCounterMode(display=False) as counter:
        _step(model, opt, x, y)
    return float(counter.get_total_flops())


def _median_time(fn: Callable[[], None], iters: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean seconds per call of ``fn`` over ``iters`` calls."""
    fn()  # warm-up: allocator, oneDNN kernels
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        times.append((time.perf_counter() - t0) / iters)
    return statistics.median(times)


def _cnn_s(n_scales: int, bs: int) -> tuple[MultiScaleNet, torch.Tensor, torch.Tensor]:
    """CNN_S over ``n_scales`` (seeded) and a random batch of ``bs`` 112 x 112 crops."""
    set_seed(0)
    fusion = "msfans" if n_scales > 1 else "single"
    model = MultiScaleNet("cnn_s", fusion, n_scales=n_scales).train()
    return model, torch.randn(bs, n_scales, 3, 112, 112), torch.randint(0, 2, (bs,))


def _step_seconds(model: MultiScaleNet, x: torch.Tensor, y: torch.Tensor, iters: int,
                  rounds: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return _median_time(lambda: _step(model, opt, x, y), iters, rounds)


def speed_probe(iters: int = 5, rounds: int = 3, bs: int = 32) -> float:
    """CNN_S training samples/s at one scale (:func:`model_roofline`'s measurement, shorter:
    about a second on 2 cores): how fast this machine trains the course's model right now."""
    model, x, y = _cnn_s(1, bs)
    return bs / _step_seconds(model, x, y, iters, rounds)


def model_roofline(n_scales: int, bs: int, iters: int, rounds: int,
                   peak: float, attainable: float) -> dict[str, Any]:
    """Samples/s, FLOPs per step and the share of the peaks of CNN_S over ``n_scales``."""
    model, x, y = _cnn_s(n_scales, bs)
    flops = step_flops(model, x, y)
    sec = _step_seconds(model, x, y, iters, rounds)
    fusion = "msfans" if n_scales > 1 else "single"
    achieved = flops / sec / 1e9
    return {"model": f"CNN_S, {n_scales} scale{'s' if n_scales > 1 else ''} ({fusion})",
            "n_scales": n_scales, "batch_size": bs, "train_step_gflops": flops / 1e9,
            "train_gflops_per_sample": flops / bs / 1e9, "seconds_per_step": sec,
            "samples_per_s": bs / sec, "achieved_gflops": achieved,
            "share_of_peak": achieved / peak, "share_of_matmul": achieved / attainable}


def _next_batch(make_loader: Callable[[], Any]) -> Callable[[], Any]:
    """A function returning the next batch of a loader, restarting it when exhausted."""
    state = {"it": iter(make_loader())}

    def nxt() -> Any:
        try:
            return next(state["it"])
        except StopIteration:
            state["it"] = iter(make_loader())
            return next(state["it"])
    return nxt


def outside_the_model(cache: Any, bs: int, iters: int, rounds: int) -> dict[str, Any]:
    """Seconds per batch of each stage around the three-scale model, and their shares."""
    from fas_lib.cache.loader import CropDataset

    idx = scale_indices(cache, SCALES3)
    gen = torch.Generator().manual_seed(0)

    def loader(augment: Augment | None) -> Callable[[], Any]:
        ds = CropDataset(cache, "train", idx, train=True, size=112, seed=0, augment=augment)
        return _next_batch(lambda: torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True,
                                                               generator=gen))

    plain, robust = loader(None), loader(Augment(CAPTURE))
    load = _median_time(plain, iters, rounds)
    load_aug = _median_time(robust, iters, rounds)
    set_seed(0)
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x, y = plain()[:2]
    model.train()
    step = _median_time(lambda: _step(model, opt, x, y), iters, rounds)
    model.eval()

    def score(mode: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            with mode():
                model(x)
        return run
    score_ng = _median_time(score(torch.no_grad), iters, rounds)
    score_im = _median_time(score(torch.inference_mode), iters, rounds)
    iteration = load + step
    return {
        "seconds_per_batch": {"load": load, "augment_capture": load_aug - load, "train_step": step,
                              "score_no_grad": score_ng, "score_inference_mode": score_im},
        "share_of_cpu_iteration": {"load": load / iteration, "train_step": step / iteration},
        "share_of_robust_iteration": {
            "load": load / (load_aug + step), "augment_capture": (load_aug - load) / (load_aug + step),
            "train_step": step / (load_aug + step)},
        "scoring_vs_training_step": score_ng / step,
        "inference_mode_speedup": score_ng / score_im,
        "n_train_frames": len(cache.frames("train")),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=None, help="crop cache folder (default: SynthSpoof's)")
    ap.add_argument("--smoke", action="store_true", help="tiny cache, few iterations")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10, help="steps or batches per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    args = ap.parse_args()

    from fas_lib.cache.prepare import get_cache
    from fas_lib.cache.reader import open_cache

    torch.set_num_threads(args.threads)
    malloc_tuned = tune_malloc()
    iters, rounds = (2, 1) if args.smoke else (args.iters, args.rounds)
    peak = cpu_peak(torch.get_num_threads())
    mm = max(matmul_gflops() for _ in range(3))
    models = [model_roofline(n, args.batch_size, iters, rounds, peak["peak_gflops"], mm)
              for n in (1, 3)]
    cache = open_cache(args.cache) if args.cache else get_cache(smoke=args.smoke)
    outside = outside_the_model(cache, args.batch_size, iters, rounds)
    # a virtual machine reports its nominal clock; cores that run faster (boost) show up as a
    # matrix product above the nominal peak: the clock that product implies is reported too
    peak["matmul_implied_clock_ghz"] = mm / (peak["threads"] * peak["flops_per_cycle_per_core"])
    out = {"machine": peak, "matmul_gflops": mm, "matmul_share_of_peak": mm / peak["peak_gflops"],
           "models": models, "outside_the_model": outside, "malloc_tuned": malloc_tuned,
           "cpu_count": os.cpu_count(), "smoke": args.smoke,
           "cache": str(getattr(cache, "path", ""))}
    path = save_results(out, "bench_roofline", args.out)
    _report(out)
    print(f"wrote {path}")


def _report(out: dict[str, Any]) -> None:
    m = out["machine"]
    print(f"{m['cpu']}: {m['threads']} threads x {m['clock_ghz']:.2f} GHz x "
          f"{m['flops_per_cycle_per_core']} FLOPs/cycle = {m['peak_gflops']:.1f} GFLOP/s peak "
          f"(FP32, {m['fp32_lanes']} lanes, {m['fma_units_assumed']} FMA units assumed); "
          f"matmul {out['matmul_gflops']:.1f} GFLOP/s ({100 * out['matmul_share_of_peak']:.0f} %"
          f" of it; at least {m['matmul_implied_clock_ghz']:.2f} GHz if it ran at the peak)")
    for r in out["models"]:
        print(f"{r['model']:28s} {r['samples_per_s']:7.1f} samples/s, "
              f"{r['train_gflops_per_sample'] * 1e3:6.1f} MFLOPs/sample -> "
              f"{r['achieved_gflops']:5.1f} GFLOP/s = {100 * r['share_of_peak']:4.1f} % of peak, "
              f"{100 * r['share_of_matmul']:4.1f} % of matmul")
    o = out["outside_the_model"]
    s = o["seconds_per_batch"]
    print("per batch of 32 (3 scales): " + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in s.items()))
    print("shares of a robust-recipe iteration: " + ", ".join(
        f"{k} {100 * v:.0f} %" for k, v in o["share_of_robust_iteration"].items()))


if __name__ == "__main__":
    main()
