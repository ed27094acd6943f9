"""Video models: training and inference clips/s, parameters and FLOPs (notebook 09's models).

For each clip model of :mod:`fas_lib.training.clips` (STASN with both branches, TASM only, RAM +
SASM only; MS-FANS over time; the single-frame MS-FANS trained on the clips' frames), at the
CPU preset (CNN_S, 112 px, ``T = 8`` frames, ``K = 4`` regions; MS-FANS over 3 scales) and at
notebook 09's study size (64 px):

* ``train_clips_per_s``: SGD steps (batch 8 clips, the run's loss,
  :func:`fas_lib.training.clips.clip_loss`) on random clips already in memory;
* ``infer_clips_per_s``: eval-mode forward passes (batch 16 clips, no gradients);

and, for both presets of each network (STASN ``cpu`` / ``paper`` = ResNet-50 at 224 px;
MS-FANS over time with CNN_S / CNN_D), the parameters and FLOPs of one clip
(:func:`fas_lib.models.count_flops` with the clip as input: 2 FLOPs per multiply-accumulate,
LSTMs counted by hand). Each speed is the best of ``--rounds`` rounds (the slower rounds are
other jobs on the machine). Writes ``results/bench_video_models.json``.

Usage::

    python benchmarks/bench_video_models.py [--threads 2] [--rounds 3] [--iters 6]
    python benchmarks/bench_video_models.py --tiny     # seconds: T = 2, one round, 2 steps
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import torch

from fas_lib.core.utils import save_results, set_seed, tune_malloc
from fas_lib.models import STASN, TemporalMultiScaleNet, count_flops
from fas_lib.training.clip_inputs import ClipConfig, build_clip_model
from fas_lib.training.clips import clip_loss

#: Name -> the config of one measured model (``t`` and ``input_size`` set per run).
MODELS: dict[str, ClipConfig] = {
    "stasn_both": ClipConfig(name="stasn_both", branches="both"),
    "stasn_temporal": ClipConfig(name="stasn_temporal", branches="temporal"),
    "stasn_spatial": ClipConfig(name="stasn_spatial", branches="spatial"),
    "msfans_time": ClipConfig(name="msfans_time", model="msfans_time", scales=(1.2, 1.3, 1.4)),
    "msfans_frame": ClipConfig(name="msfans_frame", model="msfans_frame",
                               scales=(1.2, 1.3, 1.4)),
}


def clips(cfg: ClipConfig, batch: int) -> torch.Tensor:
    """Random clips in the model's input layout."""
    s = cfg.input_size
    shape = (batch, cfg.t, 3, s, s) if cfg.model == "stasn" else (
        batch, cfg.t, len(cfg.scales), 3, s, s)
    return torch.rand(shape) * 2 - 1


def speed(cfg: ClipConfig, iters: int, rounds: int, batch: int = 8,
          eval_batch: int = 16) -> dict[str, float]:
    """Best-of-rounds training and inference clips/s of one model on random clips."""
    set_seed(0)
    model = build_clip_model(cfg)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x, y = clips(cfg, batch), torch.arange(batch) % 2
    xe = clips(cfg, eval_batch)
    train, infer = [], []
    for _ in range(rounds):
        model.train()
        t0 = time.perf_counter()
        for i in range(iters):
            loss, _, _ = clip_loss(model, cfg, x, y, i, 2 * iters)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        train.append(iters * batch / (time.perf_counter() - t0))
        model.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            for _ in range(iters):
                model(xe)
        infer.append(iters * eval_batch / (time.perf_counter() - t0))
    return {"train_clips_per_s": max(train), "infer_clips_per_s": max(infer),
            "train_rounds": train, "infer_rounds": infer}


def presets(t: int) -> dict[str, dict[str, float]]:
    """Parameters and FLOPs of one clip of ``t`` frames for both presets of each network."""
    nets = {
        "stasn_cpu": (STASN.from_preset("cpu"), (1, t, 3, 112, 112)),
        "stasn_paper": (STASN.from_preset("paper"), (1, t, 3, 224, 224)),
        "msfans_time_cnn_s": (TemporalMultiScaleNet(backbone="cnn_s", n_scales=3),
                              (1, t, 3, 3, 112, 112)),
        "msfans_time_cnn_d": (TemporalMultiScaleNet(backbone="cnn_d", n_scales=3),
                              (1, t, 3, 3, 112, 112)),
    }
    return {name: {**count_flops(net, inputs=torch.zeros(shape)), "frames": t}
            for name, (net, shape) in nets.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=6, help="steps per round and model")
    ap.add_argument("--tiny", action="store_true", help="T = 2, one round of 2 steps")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tuned = tune_malloc()
    t, rounds, iters = (2, 1, 2) if args.tiny else (8, args.rounds, args.iters)
    rows = {}
    for label, size in (("cpu_preset_112", 112), ("study_64", 64)):
        for name, cfg in MODELS.items():
            cfg = dataclasses.replace(cfg, t=t, input_size=size, window=112)
            rows[f"{name}@{label}"] = {**speed(cfg, iters, rounds), "t": t, "input_size": size}
            r = rows[f"{name}@{label}"]
            print(f"{name:15s} {size:4d} px  train {r['train_clips_per_s']:7.1f} clips/s  "
                  f"infer {r['infer_clips_per_s']:7.1f} clips/s")
    cost = presets(t)
    for name, c in cost.items():
        print(f"{name:18s} {c['params'] / 1e6:7.2f} M params  {c['flops'] / 1e9:8.2f} GFLOPs/clip")
    save_results({"tiny": args.tiny, "threads": args.threads, "malloc_tuned": tuned,
                  "load_average": list(os.getloadavg()), "speed": rows, "presets": cost,
                  "batch": {"train": 8, "infer": 16}}, "bench_video_models", args.out)


if __name__ == "__main__":
    main()
