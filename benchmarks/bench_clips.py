"""Clip-cache speed: build once, then read clips, against decoding + aligning the videos each epoch.

Measured in one run, on this machine:

* ``build_seconds`` / ``build_frames_per_s``: :func:`fas_lib.cache.build.build_cache` with
  ``n_frames=T`` end to end (the clip cache: listing, pool start, shards, consolidation,
  manifest), ``--workers`` processes;
* ``read_clips_per_s``: :func:`fas_lib.cache.clips.clip_batch` over every clip of the cache (all
  splits), batches of ``--batch`` clips, 3 scales, centre 112 x 112, uint8 -> float (what a clip
  trainer reads each epoch);
* ``decode_clips_per_s``: the alternative without a cache: for every clip's video, decode its T
  sampled frames (:func:`fas_lib.data.io.iter_frames`), align them (dlib detection, 5 points, 7
  crops: :class:`fas_lib.preprocess.align.FaceAligner`) and convert the same 3 centre crops
  (:func:`fas_lib.cache.loader.centre_input`), in this process;
* ``read_over_decode``: how many times faster an epoch's clips come from the cache;
* ``decode_equals_cache``: share of the clips with a face in all T frames whose decoded tensor
  equals the cached clip exactly (``clips_with_missing_frames`` counts the others).

Read and decode rounds alternate (``--rounds``), medians reported. Writes
``results/bench_clips.json``.

Usage::

    python benchmarks/bench_clips.py [--smoke] [--subjects 6] [--t 8] [--workers 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fas_lib.cache.build import build_cache
from fas_lib.core.utils import save_results, set_seed
from fas_lib.synthspoof import SynthConfig, generate

# torch is imported inside the functions: the build's "spawn" workers re-import this script's
# top level, and importing torch there would be counted as cache-building time.

SCALE_IDX = [2, 3, 4]  # 1.1, 1.2, 1.3 of fas_lib.SCALES
SPLITS = ("train", "dev", "test")


def read_rate(cache, clips: dict, batch: int) -> float:
    """Clips/s of :func:`fas_lib.cache.clips.clip_batch` over every clip, ``batch`` at a time."""
    from fas_lib.cache.clips import clip_batch

    n = 0
    t0 = time.perf_counter()
    for cs in clips.values():
        for start in range(0, len(cs), batch):
            x, _ = clip_batch(cache, cs, np.arange(start, min(len(cs), start + batch)), SCALE_IDX)
            n += len(x)
    return n / (time.perf_counter() - t0)


def decode_clip(aligner, path: Path, t: int):
    """One clip decoded and aligned from its video: ``(T', 3, 3, 112, 112)`` float32."""
    from fas_lib.cache.loader import centre_input

    crops = [res.crops[SCALE_IDX] for _, frame in _frames(path, t)
             if (res := aligner.align(frame)) is not None]
    return centre_input(np.stack(crops)) if crops else None


def _frames(path: Path, t: int):
    from fas_lib.data.io import iter_frames

    return iter_frames(path, n_frames=t)


def decode_rate(cache, clips: dict, root: Path, t: int) -> tuple[float, float, int]:
    """Clips/s of decoding + aligning every clip's video, the share of complete clips equal to
    the cache, and the number of clips missing a frame."""
    import torch

    from fas_lib.cache.clips import clip_batch
    from fas_lib.preprocess.align import FaceAligner

    aligner = FaceAligner(cache.scales)
    n = same = full = 0
    t0 = time.perf_counter()
    for cs in clips.values():
        for i, rel in enumerate(cs.videos["path"]):
            x = decode_clip(aligner, root / rel, t)
            n += 1
            if x is not None and len(x) == t:
                full += 1
                same += int(torch.equal(x, clip_batch(cache, cs, [i], SCALE_IDX)[0][0]))
    return n / (time.perf_counter() - t0), same / max(full, 1), n - full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (a check that it runs)")
    ap.add_argument("--subjects", type=int, default=6, help="SynthSpoof subjects (6 kinds each)")
    ap.add_argument("--t", type=int, default=8, help="frames per clip (SynthSpoof videos: 8)")
    ap.add_argument("--batch", type=int, default=8, help="clips per read batch")
    ap.add_argument("--rounds", type=int, default=3, help="alternating read/decode rounds")
    ap.add_argument("--workers", type=int, default=2, help="build processes")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--results-dir", default="results")
    args = ap.parse_args()
    if args.smoke:
        args.subjects, args.rounds = 3, 1
    import torch

    from fas_lib.cache.clips import clip_report, clip_sets

    torch.set_num_threads(args.threads)
    set_seed(0)
    config = SynthConfig(n_subjects=args.subjects, sessions=("s1",), live_per_session=1)
    root = generate(config, workers=2, progress=False).root
    res: dict = {"machine_threads": args.threads, "t": args.t, "workers": args.workers,
                 "synthspoof": config.to_dict()}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cache = build_cache("synthspoof", root, out=Path(tmp) / "clips", n_frames=args.t,
                            workers=args.workers, progress=False, force=True)
        res["build_seconds"] = time.perf_counter() - t0
        n_sampled = len(cache.table) + cache.manifest["skips"]["media"].get("no_face", 0)
        res["build_frames_per_s"] = n_sampled / res["build_seconds"]
        clips = clip_sets(cache, args.t)
        res["clips"] = {s: len(c) for s, c in clips.items()}
        res["clip_report"] = clip_report(clips.values())
        read_rate(cache, clips, args.batch)  # warm-up: page cache, allocator
        reads, decodes, equal = [], [], []
        for _ in range(args.rounds):
            reads.append(read_rate(cache, clips, args.batch))
            rate, share, res["clips_with_missing_frames"] = decode_rate(cache, clips, root,
                                                                        args.t)
            decodes.append(rate)
            equal.append(share)
        res["cache_bytes"] = cache.size_bytes()
    res["read_clips_per_s"] = statistics.median(reads)
    res["decode_clips_per_s"] = statistics.median(decodes)
    res["read_over_decode"] = res["read_clips_per_s"] / res["decode_clips_per_s"]
    res["decode_equals_cache"] = equal[-1]
    res["build_epochs_equivalent"] = res["build_seconds"] * res["decode_clips_per_s"] / max(
        1, sum(res["clips"].values()))
    res["rounds"] = {"read": reads, "decode": decodes}
    res = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()}
    path = save_results(res, "bench_clips", args.results_dir)
    print(json.dumps({k: v for k, v in res.items() if k not in ("synthspoof", "rounds")},
                     indent=1))
    print(f"clips/s from the cache {res['read_clips_per_s']:.1f} vs decoding + aligning "
          f"{res['decode_clips_per_s']:.2f}: ratio {res['read_over_decode']:.0f}x; written to {path}")


if __name__ == "__main__":
    main()
