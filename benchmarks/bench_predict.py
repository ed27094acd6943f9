"""Inference speed: ms per face, PyTorch eager vs ONNX Runtime, and ``fas predict`` frames/s.

Measures in one run, on one model (MS-FANS, CNN_S, scales 1.1/1.2/1.3; an untrained model
seeded 0 unless ``--run`` names a trained run folder: the weights do not change the cost):

* ``latency``: milliseconds per face of the whole multi-scale model (3 crops in, score and
  scale weights out), eval mode, at batch 1 and batch 32, with **PyTorch eager**
  (:class:`fas_lib.apps.export.ScoringModel` under ``torch.no_grad``) and **ONNX Runtime** on the
  CPU (the file ``fas export`` writes, :func:`fas_lib.apps.export.write_onnx`), the two alternating
  in blocks of calls, round after round, so that a machine slowing down affects both alike;
  medians, with the same number of threads for both and ONNX Runtime's thread spinning off
  (left on, with the two alternating call by call, its idle threads held both cores while
  PyTorch ran: 137 ms per face at batch 1 instead of 6); ``onnx_max_abs_score_diff``: their
  largest score difference on the timed inputs;
* ``predict``: the whole ``fas predict`` path on a 640 x 480 MJPG video of a portrait (decode,
  detect, 5 points, align, crop, score every frame, :meth:`fas_lib.apps.predict.Predictor.
  predict_file`) in frames/s, and the same without scoring (decode, detect, align, crop) to
  show what the model adds;
* on a machine with a GPU, PyTorch's latency on it too, with the device named.

Writes ``results/bench_predict.json``.

Usage::

    python benchmarks/bench_predict.py [--run RUN_DIR] [--threads N] [--rounds 5] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from fas_lib.apps.export import ScoringModel, onnx_scores, onnx_session, write_onnx
from fas_lib.apps.predict import Predictor, Threshold, portrait_files
from fas_lib.core.utils import environment, save_results, tune_malloc
from fas_lib.data.io import iter_frames, read_image
from fas_lib.training.config import ExperimentConfig, build_model

SCALES3 = (1.1, 1.2, 1.3)


def make_predictor(run: str | None) -> Predictor:
    """The run's predictor, or an untrained seeded MS-FANS on the CPU."""
    if run:
        return Predictor.from_run(run, device="cpu", every=1)
    cfg = ExperimentConfig(scales=SCALES3, seed=0, device="cpu").resolve()
    torch.manual_seed(0)
    return Predictor(build_model(cfg), cfg, Threshold(0.5, "benchmark: untrained model"),
                     device="cpu", every=1, run="(untrained, seed 0)")


def portrait_video(path: Path, n_frames: int) -> Path:
    """A 640 x 480 MJPG video of the astronaut portrait drifting a few pixels per frame."""
    face = cv2.cvtColor(read_image(portrait_files()["astronaut"]), cv2.COLOR_RGB2BGR)
    face = cv2.resize(face, (420, 420), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 480))
    for i in range(n_frames):
        frame = np.full((480, 640, 3), 128, np.uint8)
        x, y = 80 + (i % 20) * 4, 30 + (i % 10)
        frame[y:y + 420, x:x + 420] = face
        writer.write(frame)
    writer.release()
    return path


def time_calls(fns: dict[str, callable], rounds: int, calls: int) -> dict[str, list[float]]:
    """Seconds per call of each function: per round, one untimed call then the median of
    ``calls`` timed calls of each function in turn (blocks, not call by call: the engines'
    worker threads would otherwise spin on the cores while the other one runs)."""
    for fn in fns.values():  # warm-up (allocations, oneDNN / ORT kernel choice)
        fn()
        fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            fn()
            ts = []
            for _ in range(calls):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
            out[name].append(statistics.median(ts))
    return out


def latency(predictor: Predictor, onnx_file: Path, threads: int, rounds: int,
            calls: int) -> dict:
    """ms per face at batch 1 and 32, PyTorch eager vs ONNX Runtime (CPU), and parity."""
    model = ScoringModel(predictor.model).eval()
    session = onnx_session(onnx_file, threads=threads, spin=False)
    rows, diff = {}, 0.0
    for batch in (1, 32):
        x = torch.rand(batch, len(predictor.scales), 3, 112, 112) * 2 - 1
        xn = x.numpy()

        def eager(x=x):
            with torch.no_grad():
                return model(x)

        times = time_calls({"pytorch": eager, "onnxruntime": lambda xn=xn: onnx_scores(
            session, xn)}, rounds, calls)
        ms = {k: 1e3 * statistics.median(v) / batch for k, v in times.items()}
        rows[f"batch_{batch}"] = {"pytorch_ms_per_face": ms["pytorch"],
                                  "onnxruntime_ms_per_face": ms["onnxruntime"],
                                  "onnxruntime_speedup": ms["pytorch"] / ms["onnxruntime"],
                                  "rounds_ms_per_face": {k: [1e3 * t / batch for t in v]
                                                         for k, v in times.items()}}
        diff = max(diff, float(np.abs(onnx_scores(session, xn)[0] - eager()[0].numpy()).max()))
    rows["onnx_max_abs_score_diff"] = diff
    return rows


def cuda_latency(predictor: Predictor, rounds: int, calls: int) -> dict | None:
    """PyTorch eager ms per face on the GPU at batch 1 and 32 (``None`` without one)."""
    if not torch.cuda.is_available():
        return None
    model = ScoringModel(predictor.model).cuda().eval()
    out = {"device": torch.cuda.get_device_name(0)}
    for batch in (1, 32):
        x = torch.rand(batch, len(predictor.scales), 3, 112, 112, device="cuda")

        def call(x=x):
            with torch.no_grad():
                model(x)
            torch.cuda.synchronize()

        t = time_calls({"cuda": call}, rounds, calls)["cuda"]
        out[f"batch_{batch}_ms_per_face"] = 1e3 * statistics.median(t) / batch
    predictor.model.cpu()
    return out


def predict_fps(predictor: Predictor, video: Path, rounds: int) -> dict:
    """Frames/s of the whole predict path and of decode + detect + align + crop alone."""
    from fas_lib.data.protocol import SkipLog

    n = sum(1 for _ in iter_frames(video))
    full, align = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        media = predictor.predict_file(video, SkipLog())
        full.append(n / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for _, rgb in iter_frames(video):
            predictor.aligner.align_all(rgb)
        align.append(n / (time.perf_counter() - t0))
    assert media is not None and len({f.frame_idx for f in media.faces}) == n, \
        "the portrait must be found in every frame"
    return {"frames": n, "frame_size": [640, 480], "faces_scored": len(media.faces),
            "predict_fps": statistics.median(full),
            "predict_fps_rounds": full, "decode_detect_align_crop_fps": statistics.median(align),
            "decode_detect_align_crop_fps_rounds": align}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="a trained run folder (default: an untrained seeded model)")
    ap.add_argument("--threads", type=int, default=None, help="threads for both engines "
                    "(default: PyTorch's, the number of cores)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=20, help="timed calls per engine and round")
    ap.add_argument("--frames", type=int, default=60, help="frames of the 640 x 480 video")
    ap.add_argument("--smoke", action="store_true", help="2 rounds, 3 calls, 10 frames")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    args = ap.parse_args()
    if args.smoke:
        args.rounds, args.calls, args.frames = 2, 3, 10
    tuned = tune_malloc()
    load_before = os.getloadavg()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    predictor = make_predictor(args.run)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = write_onnx(predictor, Path(tmp) / "model.onnx")
        lat = latency(predictor, onnx_file, threads, args.rounds, args.calls)
        video = portrait_video(Path(tmp) / "portrait_640x480.avi", args.frames)
        fps = predict_fps(predictor, video, max(2, args.rounds // 2))
    gpu = cuda_latency(predictor, args.rounds, args.calls)
    out = {"model": f"MS-FANS CNN_S, scales {list(SCALES3)}", "run": predictor.run,
           "smoke": args.smoke, "threads": threads, "malloc_tuned": tuned, "device": "cpu",
           "rounds": args.rounds, "calls_per_round": args.calls, "latency": lat,
           "predict": fps, "cuda": gpu,
           "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
           "environment": environment(("torch", "opencv", "dlib", "fas_lib"))}
    save_results(out, "bench_predict", args.out)
    for b in ("batch_1", "batch_32"):
        r = lat[b]
        print(f"{b}: PyTorch {r['pytorch_ms_per_face']:.2f} ms/face, ONNX Runtime "
              f"{r['onnxruntime_ms_per_face']:.2f} ms/face ({r['onnxruntime_speedup']:.2f}x)")
    print(f"ONNX vs PyTorch max |score diff|: {lat['onnx_max_abs_score_diff']:.2e}")
    print(f"fas predict on 640x480 video: {fps['predict_fps']:.1f} frames/s "
          f"(decode + detect + align + crop alone: {fps['decode_detect_align_crop_fps']:.1f})")
    if gpu:
        print(f"GPU {gpu['device']}: {gpu['batch_1_ms_per_face']:.2f} / "
              f"{gpu['batch_32_ms_per_face']:.3f} ms/face at batch 1 / 32")


if __name__ == "__main__":
    main()
