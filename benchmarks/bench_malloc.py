"""CPU training speed with glibc's default allocator settings vs
:func:`fas_lib.core.utils.tune_malloc`.

The allocator settings are process-wide and are read once, so each measurement runs in its own
child process: the same training loop (MS-FANS, 3 scales 1.1/1.2/1.3, batch 32, SGD step with
the Eq. 6 loss, random inputs already in memory) once with ``FAS_MALLOC_TUNING=0`` (glibc
defaults) and once with the tuning, alternating in rounds so that a machine slowing down during
the run affects both alike. For CNN_S and CNN_D it prints and writes to
``results/bench_malloc.json``:

* ``default_samples_per_s`` / ``tuned_samples_per_s``: medians over the rounds;
* ``speedup = tuned / default``;
* ``default_kernel_share`` / ``tuned_kernel_share``: the share of the child's CPU time spent in
  the kernel during the timed steps (page faults on freshly mapped memory show up here).

Usage::

    python benchmarks/bench_malloc.py [--rounds 3] [--iters 10] [--threads 2] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from fas_lib.core.utils import MALLOC_TUNING, environment, save_results

#: The child: times ``iters`` training steps after ``warmup`` and prints one JSON line.
CHILD = r"""
import json, os, sys, time
import torch
from fas_lib.models import MultiScaleNet, msfans_loss
from fas_lib.core.utils import tune_malloc

backbone, iters, warmup, threads, batch = sys.argv[1], *map(int, sys.argv[2:6])
tuned = tune_malloc()
torch.set_num_threads(threads)
torch.manual_seed(0)
model = MultiScaleNet(backbone, "msfans", n_scales=3).train()
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
x = torch.rand(batch, 3, 3, 112, 112)
y = torch.randint(0, 2, (batch,))
for i in range(warmup + iters):
    if i == warmup:
        t0, c0 = time.perf_counter(), os.times()
    loss = msfans_loss(model(x), y, i, 2 * (warmup + iters))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
dt, c1 = time.perf_counter() - t0, os.times()
user, system = c1.user - c0.user, c1.system - c0.system
print(json.dumps({"tuned": tuned, "samples_per_s": iters * batch / dt,
                  "kernel_share": system / max(user + system, 1e-9)}))
"""


def run_child(backbone: str, tuned: bool, iters: int, warmup: int, threads: int,
              batch: int) -> dict:
    """One measurement in a fresh process; raises ``RuntimeError`` with its stderr on failure."""
    env = dict(os.environ, FAS_MALLOC_TUNING="1" if tuned else "0")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, backbone, str(iters), str(warmup), str(threads), str(batch)],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({backbone}, tuned={tuned}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10, help="timed training steps per child")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--backbones", default="cnn_s,cnn_d")
    ap.add_argument("--smoke", action="store_true", help="1 round of 2 steps, CNN_S only")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    args = ap.parse_args()
    if args.smoke:
        args.rounds, args.iters, args.warmup, args.backbones = 1, 2, 1, "cnn_s"
    rows = {}
    for backbone in args.backbones.split(","):
        got: dict[bool, list[dict]] = {False: [], True: []}
        for r in range(args.rounds):
            for tuned in (False, True):
                res = run_child(backbone, tuned, args.iters, args.warmup, args.threads,
                                args.batch_size)
                got[tuned].append(res)
                print(f"{backbone} round {r + 1}: {'tuned  ' if tuned else 'default'} "
                      f"{res['samples_per_s']:7.1f} samples/s, kernel "
                      f"{100 * res['kernel_share']:4.1f} % of CPU time", flush=True)
        applied = all(res["tuned"] for res in got[True])
        med = {t: statistics.median(res["samples_per_s"] for res in got[t]) for t in got}
        ker = {t: statistics.median(res["kernel_share"] for res in got[t]) for t in got}
        rows[backbone] = {
            "default_samples_per_s": med[False], "tuned_samples_per_s": med[True],
            "speedup": med[True] / med[False], "default_kernel_share": ker[False],
            "tuned_kernel_share": ker[True], "tuning_applied": applied,
            "rounds": {str(t): [res["samples_per_s"] for res in got[t]] for t in got},
        }
        note = "" if applied else "  (tuning NOT applied: not glibc?)"
        print(f"{backbone}: default {med[False]:.1f}, tuned {med[True]:.1f} samples/s -> "
              f"speedup {med[True] / med[False]:.2f}x{note}")
    out = {
        "setup": dict(fusion="msfans", n_scales=3, batch_size=args.batch_size,
                      threads=args.threads, iters=args.iters, warmup=args.warmup,
                      rounds=args.rounds, smoke=args.smoke, inputs="random, in memory"),
        "malloc_tuning": MALLOC_TUNING,
        "backbones": rows,
        "environment": {**environment(("torch",)), "cpu_cores": os.cpu_count()},
    }
    path = save_results(out, "bench_malloc", args.out)
    print(f"written: {path}")


if __name__ == "__main__":
    main()
