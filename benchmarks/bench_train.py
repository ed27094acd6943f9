"""Training throughput from the crop cache vs from memory, and inference latency per face.

Measures, in one run and on the same model and loop (MS-FANS, CNN_S, scales 1.1/1.2/1.3,
batch 32, SGD step with the Eq. 6 loss):

* ``cache_samples_per_s``: batches come from :class:`fas_lib.cache.loader.CropDataset` over the crop
  cache through a ``DataLoader`` (random 112 crops, uint8 -> float, normalisation per batch);
* ``memory_samples_per_s``: batches are slices of tensors already in memory
  (:func:`fas_lib.cache.loader.load_split_tensors`, nothing done per batch but the slice);
* ``ratio = cache / memory`` (target >= 0.9: reading the cache must not slow training down);
* ``layout_speedup``: the in-memory loop with the convolutions on channels-last copies (the
  default, ``TableICNN.channels_last``) over the same loop in the plain layout;
* ``latency_ms_per_face``: eval-mode forward of one face (3 scales, batch 1) on CPU, median.

Like training (:func:`fas_lib.training.frames.run_experiment`), it runs with the allocator tuning of
:func:`fas_lib.core.utils.tune_malloc` (``malloc_tuned`` says whether it applied).

The two loops alternate in rounds (cache, memory, cache, ...) so that a machine slowing down
during the run affects both alike. Writes ``results/bench_train.json``.

Usage::

    python benchmarks/bench_train.py [--cache DIR] [--smoke] [--threads 2] [--iters 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from fas_lib.core.utils import save_results, set_seed, tune_malloc
from fas_lib.models import MultiScaleNet, measure_latency, msfans_loss
from fas_lib.training.config import scale_indices

SCALES3 = (1.1, 1.2, 1.3)


def _step(model, opt, x, y, it, max_iter) -> None:
    loss = msfans_loss(model(x), y, it, max_iter)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _time_loop(model, opt, batches, n_iter: int) -> float:
    """Samples/s of ``n_iter`` training steps drawing batches from the iterator factory."""
    it = iter(batches())
    seen = 0
    t0 = time.perf_counter()
    for i in range(n_iter):
        try:
            x, y = next(it)[:2]
        except StopIteration:
            it = iter(batches())
            x, y = next(it)[:2]
        _step(model, opt, x, y, i, 2 * n_iter)
        seen += len(y)
    return seen / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=None, help="crop cache folder (default: SynthSpoof's)")
    ap.add_argument("--smoke", action="store_true", help="tiny cache, few iterations")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=20, help="training steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    args = ap.parse_args()

    from fas_lib.cache.loader import CropDataset, load_split_tensors
    from fas_lib.cache.prepare import get_cache
    from fas_lib.cache.reader import open_cache

    torch.set_num_threads(args.threads)
    malloc_tuned = tune_malloc()  # as fas_lib.training.frames.run_experiment does
    cache = open_cache(args.cache) if args.cache else get_cache(smoke=args.smoke)
    idx = scale_indices(cache, SCALES3)
    iters = 3 if args.smoke else args.iters
    bs = args.batch_size

    ds = CropDataset(cache, "train", idx, train=True, size=112, seed=0)
    gen = torch.Generator().manual_seed(0)

    def from_cache():
        return torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, generator=gen)

    mem = load_split_tensors(cache, "train", idx)
    x_mem, y_mem = mem[0], mem[1]

    def from_memory():
        perm = torch.randperm(len(y_mem), generator=gen)
        return ((x_mem[perm[i:i + bs]], y_mem[perm[i:i + bs]])
                for i in range(0, len(y_mem), bs))

    set_seed(0)
    model = MultiScaleNet("cnn_s", "msfans", n_scales=3)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    model.train()
    _time_loop(model, opt, from_memory, 2)  # warm-up (allocator, oneDNN kernels)
    cache_sps, mem_sps = [], []
    for _ in range(args.rounds):
        cache_sps.append(_time_loop(model, opt, from_cache, iters))
        mem_sps.append(_time_loop(model, opt, from_memory, iters))
    c, m = statistics.median(cache_sps), statistics.median(mem_sps)
    # Memory layout of the convolutions: the same loop from memory with the channels-last copy
    # switched off (TableICNN.channels_last), alternating with it switched on.
    plain_sps, cl_sps = [], []
    for _ in range(args.rounds):
        model.backbone.channels_last = False
        plain_sps.append(_time_loop(model, opt, from_memory, iters))
        model.backbone.channels_last = True
        cl_sps.append(_time_loop(model, opt, from_memory, iters))
    plain, cl = statistics.median(plain_sps), statistics.median(cl_sps)
    lat = measure_latency(MultiScaleNet("cnn_s", "msfans", n_scales=3), n_scales=3,
                          batch_size=1, repeats=10 if args.smoke else 50)
    out = {
        "model": "MS-FANS CNN_S, 3 scales " + str(list(SCALES3)),
        "batch_size": bs,
        "threads": torch.get_num_threads(),
        "malloc_tuned": malloc_tuned,
        "iters_per_round": iters,
        "rounds": args.rounds,
        "n_train_frames": int(len(ds)),
        "cache_samples_per_s": c,
        "memory_samples_per_s": m,
        "cache_samples_per_s_rounds": cache_sps,
        "memory_samples_per_s_rounds": mem_sps,
        "ratio": c / m,
        "target_ratio": 0.9,
        "ratio_ok": bool(c / m >= 0.9),
        "layout_plain_samples_per_s": plain,
        "layout_channels_last_samples_per_s": cl,
        "layout_speedup": cl / plain,
        "latency_ms_per_face": lat["median_ms"],
        "latency_min_ms": lat["min_ms"],
        "smoke": args.smoke,
        "cache": str(getattr(cache, "path", "")),
    }
    path = save_results(out, "bench_train", args.out)
    print(f"train samples/s: cache {c:.1f}, memory {m:.1f}, ratio {c / m:.3f} (target >= 0.9)")
    print(f"channels-last convolutions: {cl:.1f} vs {plain:.1f} samples/s plain, "
          f"{cl / plain:.2f}x")
    print(f"inference latency per face (3 scales, batch 1, {out['threads']} threads): "
          f"{lat['median_ms']:.2f} ms")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
