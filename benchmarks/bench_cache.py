"""Crop-cache speed: build rate (1 and 2 workers) vs bare decode + align, and read rate vs training.

Measured in one run, on this machine:

* ``bare_decode_frames_per_s``: decoding the sampled frames only
(:func:`fas_lib.data.io.iter_frames`);
* ``bare_align_frames_per_s``: decode + dlib detection, landmarks and the 7 crops, one process,
  nothing written (the floor of what a build can do per core);
* ``build_frames_per_s_w1`` / ``_w2``: :func:`fas_lib.cache.build.build_cache` end to end (protocol,
  pool start, shards, consolidation, manifest) with 1 and 2 workers; frames = sampled frames
  processed (cached + no face);
* ``read_samples_per_s``: training reads, a batch of 32 with 3 scales and a random 112 x 112
  crop (:meth:`fas_lib.cache.loader.CropDataset.loader`), from a memory-mapped cache of
  ``--read-frames`` frames (the built cache's frames tiled, same layout); also through a plain
  ``DataLoader(ds, batch_size=32, shuffle=True)`` (``read_samples_per_s_dataloader``);
* ``train_samples_per_s``: CNN_S MS-FANS 3 scales (``fas_lib.models.MultiScaleNet``), batch 32,
  SGD with the Eq. 6 loss, on batches already in memory;
* ``read_over_train``: target >= 10 (reading must never be what training waits for);
* depth and NIR (``modality_*``): a small SynthSpoof generated with both
  (``--modality-subjects`` subjects, one session, 4 frames per video) cached twice with 1
  worker, RGB only and with ``modalities=("depth", "nir")``: build milliseconds per cached frame
  (``modality_build_ms_per_frame_rgb`` / ``_rgbdn``) and bytes on disk per cached frame (the
  whole cache folder, ``modality_disk_bytes_per_frame_rgb`` / ``_rgbdn``), and their ratios.

Read and train rounds alternate so that a machine slowing down affects both alike; medians
are reported. Writes ``results/bench_cache.json``.

Usage::

    python benchmarks/bench_cache.py [--smoke] [--subjects 6] [--threads 2] [--modality-subjects 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fas_lib.cache.build import build_cache
from fas_lib.core.utils import save_results, set_seed
from fas_lib.data.datasets import load_protocol
from fas_lib.synthspoof import SynthConfig, generate

# torch is imported inside the functions: the build's "spawn" workers re-import this script's
# top level, and importing torch there would be counted as cache-building time.

SCALE_IDX = [2, 3, 4]  # 1.1, 1.2, 1.3 of fas_lib.SCALES


def bare_rates(root: Path, paths: list[str], n_frames: int) -> dict[str, float]:
    """Frames/s of decoding alone and of decoding + aligning, in this process."""
    from fas_lib.data.io import iter_frames
    from fas_lib.preprocess.align import FaceAligner

    aligner = FaceAligner()
    t0 = time.perf_counter()
    n = sum(1 for p in paths for _ in iter_frames(root / p, n_frames=n_frames))
    decode = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    n = 0
    for p in paths:
        for _, frame in iter_frames(root / p, n_frames=n_frames):
            aligner.align(frame)
            n += 1
    return {"bare_decode_frames_per_s": decode,
            "bare_align_frames_per_s": n / (time.perf_counter() - t0), "frames_sampled": n}


def timed_build(root: Path, out: Path, n_frames: int, workers: int) -> tuple[float, object]:
    t0 = time.perf_counter()
    cache = build_cache("synthspoof", root, out=out, n_frames=n_frames, workers=workers,
                        progress=False, force=True)
    wall = time.perf_counter() - t0
    n = len(cache.table) + cache.manifest["skips"]["media"].get("no_face", 0)
    return n / wall, cache


def modality_costs(subjects: int, n_frames: int, folder: Path) -> dict[str, float]:
    """Build milliseconds and disk bytes per cached frame, RGB only vs RGB + depth + NIR."""
    config = SynthConfig(n_subjects=subjects, frames_per_video=4, sessions=("s1",),
                         live_per_session=1, modalities=("depth", "nir"))
    root = generate(config, workers=2, progress=False).root
    res: dict[str, float] = {}
    for tag, mods in (("rgb", ()), ("rgbdn", ("depth", "nir"))):
        t0 = time.perf_counter()
        cache = build_cache("synthspoof", root, out=folder / f"mod_{tag}", n_frames=n_frames,
                            workers=1, progress=False, force=True, modalities=mods)
        wall = time.perf_counter() - t0
        n = max(len(cache.table), 1)
        res[f"modality_build_ms_per_frame_{tag}"] = 1000 * wall / n
        res[f"modality_disk_bytes_per_frame_{tag}"] = cache.size_bytes() / n
        res["modality_frames"] = len(cache.table)
    res["modality_build_ratio"] = (res["modality_build_ms_per_frame_rgbdn"]
                                   / res["modality_build_ms_per_frame_rgb"])
    res["modality_disk_ratio"] = (res["modality_disk_bytes_per_frame_rgbdn"]
                                  / res["modality_disk_bytes_per_frame_rgb"])
    return res


class TiledCache:
    """A cache's crops tiled to ``n`` frames in a memory-mapped ``.npy`` (same layout)."""

    def __init__(self, cache, n: int, folder: Path) -> None:
        src = np.concatenate([cache.crops(s) for s in ("train", "dev", "test")])
        labels = np.concatenate([cache.frames(s)["label"].to_numpy() for s in
                                 ("train", "dev", "test")])
        file = folder / "crops_train.npy"
        arr = np.lib.format.open_memmap(file, mode="w+", dtype=np.uint8,
                                        shape=(n, *src.shape[1:]))
        for start in range(0, n, len(src)):
            k = min(len(src), n - start)
            arr[start:start + k] = src[:k]
        arr.flush()
        del arr
        self.array = np.load(file, mmap_mode="r")
        self.table = pd.DataFrame({"label": np.resize(labels, n), "index": np.arange(n)})
        self.scales = cache.scales

    def crops(self, split: str) -> np.ndarray:
        return self.array

    def frames(self, split: str) -> pd.DataFrame:
        return self.table


def read_rate(ds, plain: bool, seed: int) -> float:
    import torch

    g = torch.Generator().manual_seed(seed)
    loader = (torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, generator=g) if plain
              else ds.loader(32, shuffle=True, generator=g))
    n = 0
    t0 = time.perf_counter()
    for x, y, _ in loader:
        n += len(y)
    return n / (time.perf_counter() - t0)


def train_rate(model, opt, batches: list, iters: int, it0: int) -> float:
    from fas_lib.models import msfans_loss

    model.train()
    t0 = time.perf_counter()
    n = 0
    for i in range(iters):
        x, y = batches[i % len(batches)]
        loss = msfans_loss(model(x), y, it0 + i, 10**6)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += len(y)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (a check that it runs)")
    ap.add_argument("--subjects", type=int, default=6, help="SynthSpoof subjects (6 kinds each)")
    ap.add_argument("--n-frames", type=int, default=4, help="frames sampled per video")
    ap.add_argument("--read-frames", type=int, default=2000, help="frames of the read cache")
    ap.add_argument("--iters", type=int, default=12, help="training iterations per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating read/train rounds")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--modality-subjects", type=int, default=3,
                    help="subjects of the depth + NIR SynthSpoof (0: skip that part)")
    ap.add_argument("--results-dir", default="results")
    args = ap.parse_args()
    if args.smoke:
        args.subjects, args.read_frames, args.iters, args.rounds = 3, 128, 2, 1
        args.modality_subjects = min(args.modality_subjects, 3)
    import torch

    from fas_lib.cache.loader import CropDataset

    torch.set_num_threads(args.threads)
    set_seed(0)

    config = SynthConfig(n_subjects=args.subjects, sessions=("s1",), live_per_session=1)
    root = generate(config, workers=2, progress=False).root
    paths = load_protocol("synthspoof", root).table["path"].tolist()
    res: dict = {"machine_threads": args.threads, "videos": len(paths), "n_frames": args.n_frames,
                 "synthspoof": config.to_dict()}
    res.update(bare_rates(root, paths, args.n_frames))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        res["build_frames_per_s_w1"], c1 = timed_build(root, tmp / "w1", args.n_frames, 1)
        res["build_frames_per_s_w2"], c2 = timed_build(root, tmp / "w2", args.n_frames, 2)
        res["w1_equals_w2"] = all(
            (c1.path / f).read_bytes() == (c2.path / f).read_bytes()
            for f in ["table.csv"] + [f"crops_{s}.npy" for s in ("train", "dev", "test")])
        res["cache_frames"] = len(c1.table)
        res["cache_skips"] = c1.manifest["skips"]["media"]
        if args.modality_subjects:
            res.update(modality_costs(args.modality_subjects, args.n_frames, tmp))
        tiled = TiledCache(c1, args.read_frames, tmp)
        ds = CropDataset(tiled, "train", SCALE_IDX, train=True, seed=0)
        res["read_frames"] = len(ds)

        from fas_lib.models import MultiScaleNet

        model = MultiScaleNet("cnn_s", "msfans", n_scales=3)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        batches = [ds.batch(np.arange(i, i + 32) % len(ds))[:2] for i in range(0, 128, 32)]
        train_rate(model, opt, batches, 2, 0)  # warm-up
        reads, reads_plain, trains = [], [], []
        for r in range(args.rounds):
            reads.append(read_rate(ds, plain=False, seed=r))
            trains.append(train_rate(model, opt, batches, args.iters, 2 + r * args.iters))
            reads_plain.append(read_rate(ds, plain=True, seed=r))
    res["read_samples_per_s"] = statistics.median(reads)
    res["read_samples_per_s_dataloader"] = statistics.median(reads_plain)
    res["train_samples_per_s"] = statistics.median(trains)
    res["read_over_train"] = res["read_samples_per_s"] / res["train_samples_per_s"]
    res["read_over_train_dataloader"] = (res["read_samples_per_s_dataloader"]
                                         / res["train_samples_per_s"])
    res["build_w1_over_bare"] = res["build_frames_per_s_w1"] / res["bare_align_frames_per_s"]
    res["build_w2_over_w1"] = res["build_frames_per_s_w2"] / res["build_frames_per_s_w1"]
    res["rounds"] = {"read": reads, "read_dataloader": reads_plain, "train": trains}
    res = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in res.items()}
    path = save_results(res, "bench_cache", args.results_dir)
    print(json.dumps({k: v for k, v in res.items() if k not in ("synthspoof", "rounds")},
                     indent=1))
    print(f"target read_over_train >= 10: {'met' if res['read_over_train'] >= 10 else 'NOT met'}"
          f"; written to {path}")


if __name__ == "__main__":
    main()
