"""The ``fas`` command: prepare a dataset's crop cache, inspect it, train and evaluate.

::

    fas prepare --dataset casia_fasd --root /data/CASIA-FASD [--protocol standard] [--n-frames 4]
    fas prepare --dataset synthspoof [--smoke]          # generates SynthSpoof first
    fas prepare --dataset synthspoof --modalities depth nir   # + depth and NIR crops
    fas prepare --dataset synthspoof --clips 8          # a clip cache: 8 frames per video
    fas info ~/.cache/fas_lib/caches/casia_fasd-standard_nodev-1a2b3c4d5e
    fas train --config configs/msfans.yaml --out runs/msfans [--no-resume]
    fas train --config configs/table_ii.yaml --set epochs=2   # seven runs, one per scale
    fas train --config configs/stasn.yaml     # STASN's runs; mmfas.yaml, adsn.yaml likewise
    torchrun --nproc-per-node 2 -m fas_lib.apps.cli train --config configs/msfans.yaml  # DDP
    fas evaluate --run runs/msfans
    fas predict photo.jpg clip.mp4 photos/ --run runs/msfans [--json] [--save-dir out]
    fas predict --camera 0 --run runs/msfans
    fas export --run runs/msfans --onnx msfans.onnx
    fas reproduce --dataset replay_attack --root /data/replayattack [--epochs 30 --preset paper]

Every subcommand is a thin wrapper over a Python function of :mod:`fas_lib` (``build_cache``,
``get_cache``, ``open_cache``, ``load_experiment``, ``run_experiment``,
:mod:`fas_lib.training.methods`, ``evaluate_run``, ``Predictor``, ``export_onnx``, ``reproduce``).
Errors a user can cause (a wrong root, an unknown protocol, a missing cache or config) print one
message and exit with status 2, without a traceback; ``python -m fas_lib.apps.cli`` works as well as
``fas``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fas_lib.cache.reader import CacheError, CropCache, open_cache
from fas_lib.core.utils import human_bytes
from fas_lib.data.protocol import SPLITS

EXIT_USAGE = 2


def _add_train(sub: Any) -> None:
    """The ``train`` command's arguments."""
    tr = sub.add_parser("train", help="train the runs of an experiment file (configs/*.yaml)",
                        description="Train every run an experiment file describes (one run per "
                        "combination of its grid), each in its own folder; finished runs are "
                        "read back, interrupted ones resume.")
    tr.add_argument("--config", required=True, help="an experiment file (configs/table_ii.yaml, "
                    "configs/stasn.yaml, mmfas.yaml, adsn.yaml ...) or the fields of one "
                    "ExperimentConfig, as .yaml or .json")
    tr.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a field of every run (YAML value: --set epochs=2 --set "
                    "dataset=casia_fasd); for a field the grid varies, VALUE is its list of "
                    "values (--set 'scales=[[0.9], [1.5]]')")
    tr.add_argument("--workers", type=int, default=2,
                    help="processes that make a STASN / MM-FAS / ADSN file's data (default 2)")
    tr.add_argument("--out", help="run folder (default: runs/<config file stem>; one sub-folder "
                    "per run when the file describes several)")
    tr.add_argument("--resume", dest="resume", action="store_true", default=True,
                    help="continue a run folder's checkpoint (default)")
    tr.add_argument("--no-resume", dest="resume", action="store_false",
                    help="start again even if the run folder has a checkpoint")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fas", description="Face anti-spoofing course tools.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pr = sub.add_parser("prepare", help="build (or resume) the crop cache of a dataset",
                        description="Decode sampled frames, align faces and cache the "
                        "multi-scale crops. Interrupt it any time: rerunning resumes.")
    pr.add_argument("--dataset", required=True, help="casia_fasd, replay_attack, oulu_npu, nuaa, "
                    "casia_surf, synthspoof or csv")
    pr.add_argument("--root", help="dataset root folder (synthspoof: omit to generate it)")
    pr.add_argument("--protocol", help="protocol name (default: the dataset's default)")
    pr.add_argument("--fold", type=int, help="fold, for protocols with folds (OULU-NPU 3, 4)")
    pr.add_argument("--out", help="cache folder (default: under $FAS_DATA_DIR/caches)")
    frames = pr.add_mutually_exclusive_group()
    frames.add_argument("--n-frames", type=int, help="frames per video, evenly spaced "
                        "(default 4; smoke 2)")
    frames.add_argument("--every", type=int, help="keep every k-th frame instead")
    frames.add_argument("--clips", type=int, metavar="T", help="a clip cache: T evenly spaced "
                        "frames per video and the clip index (prints the clip report)")
    pr.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    pr.add_argument("--scales", type=float, nargs="+", help="crop scales relative to the face "
                    "box (default the paper's 0.9 ... 1.5; wider context works too, e.g. "
                    "--scales 1.0 1.5 2.7 4.0, padded where it leaves the frame)")
    pr.add_argument("--smoke", action="store_true", help="tiny data (generated SynthSpoof: "
                    "3 subjects; a real dataset: 2 videos per split and attack type)")
    pr.add_argument("--use-gt-boxes", action="store_true",
                    help="SynthSpoof: the generator's face boxes instead of dlib's detector")
    pr.add_argument("--modalities", nargs="+", default=[], choices=("depth", "nir"),
                    help="also cache depth and/or NIR crops, cut with the RGB crops' alignment "
                    "(SynthSpoof is then generated with them; CASIA-SURF and a CSV with "
                    "depth_path / ir_path columns have them)")
    pr.add_argument("--force", action="store_true", help="rebuild from scratch")
    pr.add_argument("--no-progress", action="store_true", help="no progress bar")

    info = sub.add_parser("info", help="describe a crop cache")
    info.add_argument("cache", help="the cache folder")

    _add_train(sub)

    ev = sub.add_parser("evaluate", help="metrics of a finished run folder")
    ev.add_argument("--run", required=True, help="the run folder written by `fas train`")
    _add_predict(sub)
    _add_export(sub)
    _add_reproduce(sub)
    return p


def _add_predict(sub: argparse._SubParsersAction) -> None:
    """The ``predict`` subcommand's arguments."""
    pr = sub.add_parser("predict", help="score the faces of images, videos, folders or a camera",
                        description="Detect, align and crop every face as the crop cache does, "
                        "score it with a trained run, decide at the run's dev threshold.")
    pr.add_argument("paths", nargs="*", help="images, videos and folders of them")
    pr.add_argument("--run", required=True, help="a finished run folder written by `fas train`")
    pr.add_argument("--camera", metavar="N", help="read OpenCV camera N (or a video file or "
                    "stream URL standing in for one) instead of files")
    pr.add_argument("--every", type=int, default=5, help="score every k-th frame of a video or "
                    "camera (default 5)")
    pr.add_argument("--max-frames", type=int, default=100, help="camera: frames to read "
                    "(default 100; Ctrl-C stops earlier)")
    pr.add_argument("--max-faces", type=int, help="faces per frame, largest first (default all)")
    pr.add_argument("--threshold", type=float, help="decision threshold instead of the run's "
                    "dev-EER threshold")
    pr.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda")
    pr.add_argument("--amp", action="store_true", help="mixed precision (bfloat16 on CPU, "
                    "float16 on CUDA)")
    pr.add_argument("--json", action="store_true", help="print the report as JSON")
    pr.add_argument("--show", action="store_true", help="draw each frame with a face, its "
                    "boxes, scores and crops (matplotlib window)")
    pr.add_argument("--save-dir", help="write the annotated frames and the crops at each scale "
                    "there")


def _add_export(sub: argparse._SubParsersAction) -> None:
    """The ``export`` subcommand's arguments."""
    ex = sub.add_parser("export", help="export a run's whole multi-scale model to ONNX",
                        description="n crops in, the bona-fide score and the per-scale weights "
                        "out, dynamic batch; inputs and preprocessing in the file's metadata.")
    ex.add_argument("--run", required=True, help="a finished run folder written by `fas train`")
    ex.add_argument("--onnx", required=True, help="the .onnx file to write")
    ex.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")


def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    """The ``reproduce`` subcommand's arguments."""
    rp = sub.add_parser("reproduce", help="the paper's Tables II, III and V on a dataset, in one "
                        "report", description="Cache the dataset, train (or read back) every run "
                        "of Tables II, III and V, and write <out>/report.json and report.md: our "
                        "numbers beside the paper's. Interrupt it any time: rerunning resumes.")
    rp.add_argument("--dataset", required=True, help="casia_fasd, replay_attack, oulu_npu, nuaa, "
                    "casia_surf, synthspoof or csv (frame folders too: see DATASETS.md)")
    rp.add_argument("--root", help="dataset root folder (csv: the CSV or its folder; "
                    "synthspoof: omit to generate it)")
    rp.add_argument("--protocol", help="protocol name (default: the dataset's default)")
    rp.add_argument("--fold", type=int, help="fold, for protocols with folds (OULU-NPU 3, 4)")
    rp.add_argument("--out", help="report and run folder (default: reproduce/<dataset>)")
    rp.add_argument("--preset", default="cpu", help="training preset: cpu (default), paper, "
                    "robust")
    rp.add_argument("--epochs", type=int, help="epochs of every run (default: the preset's)")
    rp.add_argument("--scales", type=float, nargs="+", help="crop scales (default the paper's "
                    "0.9 ... 1.5; Table III uses its groups within them)")
    rp.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    rp.add_argument("--n-frames", type=int, help="frames per video in the crop cache (default 4)")
    rp.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    rp.add_argument("--tables", nargs="+", default=["II", "III", "V"], metavar="T",
                    help="tables to run, among II, III, IV, V (default II III V)")
    rp.add_argument("--no-progress", action="store_true", help="no progress bars")


def describe(cache: CropCache) -> str:
    """The text ``fas info`` prints: dataset, protocol, frames per split x attack type, skips,
    size on disk."""
    from fas_lib.cache.build import skip_report  # with OpenCV and dlib's loaders: when used

    m = cache.manifest
    p = m["params"]
    sampling = f"1 frame in {p['every']}" if p.get("every") else (
        f"{p['n_frames']} frames per video" if p.get("n_frames") else "all frames")
    fold = f", fold {m['fold']}" if m.get("fold") is not None else ""
    videos = m["counts"]["videos"]
    lines = [
        f"cache     {cache.path}",
        (f"dataset   {m.get('title', m['dataset'])} ({m['dataset']}), protocol "
         f"{m['protocol']}{fold}"),
        f"root      {m['root']}",
        (f"sampling  {sampling}; scales {', '.join(f'{s:g}' for s in p['scales'])}; "
         f"{p['crop_size']} px crops"
         + (f" + {', '.join(cache.modalities)} crops" if cache.modalities else "")),
        "videos    " + ", ".join(f"{s} {n}" for s, n in videos.items()),
        padding_line(cache),
        f"size      {human_bytes(cache.size_bytes())} on disk",
        (f"built     {m.get('created', '?')} in {m.get('build_seconds', '?')} s "
         f"with {m.get('workers', '?')} worker(s); versions "
         + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())),
        "",
        "frames per split and attack type:",
        cache.summary().to_string(),
        "",
        "skips:",
        skip_report(m),
    ]
    return "\n".join(lines)


def padding_line(cache: CropCache) -> str:
    """``padding   outside the frame, mean per scale: 1 0 %, 2.7 41 %`` (for ``fas info``)."""
    pads = [cache.pad_fraction(sp) for sp in SPLITS]
    pad = np.concatenate([p.reshape(-1, len(cache.scales)) for p in pads])
    if not len(pad):
        return "padding   no frames"
    return "padding   outside the frame, mean per scale: " + ", ".join(
        f"{s:g} {100 * m:.0f} %" for s, m in zip(cache.scales, pad.mean(axis=0), strict=True))


def _prepare(args: argparse.Namespace) -> int:
    from fas_lib import SCALES
    from fas_lib.cache.prepare import get_cache, get_clips

    if args.clips is not None:
        cache, clips = get_clips(
            args.dataset, args.root, args.protocol, args.fold, smoke=args.smoke,
            workers=args.workers, progress=not args.no_progress, t=args.clips,
            scales=tuple(args.scales) if args.scales else SCALES, out=args.out,
            use_gt_boxes=args.use_gt_boxes, force=args.force, modalities=tuple(args.modalities))
        if args.no_progress:  # get_clips prints it with progress
            from fas_lib.cache.clips import clip_report

            print(clip_report(clips.values()))
        print()
        print(describe(cache))
        return 0
    cache = get_cache(args.dataset, args.root, args.protocol, args.fold, smoke=args.smoke,
                      workers=args.workers, progress=not args.no_progress,
                      n_frames=args.n_frames, every=args.every,
                      scales=tuple(args.scales) if args.scales else SCALES, out=args.out,
                      use_gt_boxes=args.use_gt_boxes, force=args.force,
                      modalities=tuple(args.modalities))
    print()
    print(describe(cache))
    return 0


def _info(args: argparse.Namespace) -> int:
    path = Path(args.cache)
    if not path.is_dir():
        raise FileNotFoundError(f"no cache folder {path}; `fas prepare` prints where it wrote one")
    print(describe(open_cache(path)))
    return 0


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["epochs=2", "scales=[1.0, 1.2]"]`` -> ``{"epochs": 2, "scales": [1.0, 1.2]}`` (YAML
    values).

    Raises:
        ValueError: on an item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        out[field.strip()] = yaml.safe_load(value)
    return out


def _train(args: argparse.Namespace) -> int:
    from fas_lib.training import devices
    try:  # under torchrun: every process trains, rank 0 prints
        return _train_runs(args, devices.context().is_main)
    finally:
        devices.shutdown()


def _train_method_runs(args: argparse.Namespace, verbose: bool) -> int:
    """Train every run of a STASN / MM-FAS / ADSN file (:mod:`fas_lib.training.methods`)."""
    from fas_lib.training import methods
    exp = methods.load_method_experiment(args.config)
    configs = exp.configs(**parse_overrides(args.set))
    out = Path(args.out) if args.out else Path("runs") / exp.name
    folders = [out] if len(configs) == 1 else [out / c.name for c in configs]
    data = methods.method_data(exp, workers=args.workers)
    results = methods.train_method_runs(exp, configs, data, folders, resume=args.resume,
                                        progress=not args.no_progress)
    lines = [f"{exp.title or exp.name}: {len(configs)} run(s) under {out}"]
    for cfg, folder, res in zip(configs, folders, results, strict=True):
        eer = res.get("metrics", {}).get("video", res.get("metrics", {})).get("test_eer")
        lines.append(f"  {cfg.name}: test EER {100 * eer:.2f} % ({folder})")
    if verbose:
        print("\n".join(lines))
    return 0


def _train_runs(args: argparse.Namespace, verbose: bool) -> int:
    """Train every run of ``--config``; print the metrics when ``verbose``."""
    from fas_lib.training import config as config_mod
    from fas_lib.training import frames as train
    from fas_lib.training import methods
    if methods.is_method_file(args.config):
        return _train_method_runs(args, verbose)

    experiment = config_mod.load_experiment(Path(args.config))
    overrides = parse_overrides(args.set)
    grid = {k: v for k, v in overrides.items() if k in experiment.grid}
    configs = experiment.configs(grid=grid, **{k: v for k, v in overrides.items()
                                               if k not in grid})
    out = Path(args.out) if args.out else Path("runs") / experiment.name
    folders = [out] if len(configs) == 1 else [out / c.name for c in configs]
    if len(configs) > 1 and verbose:
        print(f"{experiment.title or experiment.name}: {len(configs)} runs under {out}")
    for cfg, folder in zip(configs, folders, strict=True):
        result = train.run_experiment(cfg, folder, resume=args.resume,
                                      progress=not args.no_progress)
        if not verbose:
            continue
        if len(configs) == 1:
            print(json.dumps(result.get("metrics", result), indent=2, default=str))
        else:
            frame = result.get("metrics", {}).get("frame", {})
            print(f"  {cfg.name}: test EER {100 * frame.get('test_eer', float('nan')):.2f} %, "
                  f"test HTER {100 * frame.get('test_hter', float('nan')):.2f} % ({folder})")
    if verbose:
        print(f"run folder: {out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from fas_lib.training import runs
    run = Path(args.run)
    if not run.is_dir():
        raise FileNotFoundError(f"no run folder {run}; `fas train` writes one")
    result = runs.evaluate_run(run)
    print(json.dumps(result.get("metrics", result), indent=2, default=str))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from fas_lib.apps.predict import Predictor
    from fas_lib.apps.predict_show import FrameSaver, format_report, report_json

    if not args.paths and args.camera is None:
        raise ValueError("give images, videos or folders to score, or --camera N")
    import cv2  # bad media are counted and listed once below: no OpenCV parser chatter

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    keep = bool(args.save_dir or args.show)
    predictor = Predictor.from_run(args.run, device=args.device, threshold=args.threshold,
                                   every=args.every, max_faces=args.max_faces, keep_crops=keep,
                                   amp=args.amp)
    hook = FrameSaver(predictor.scales, args.save_dir, args.show) if keep else None
    if args.camera is not None:
        camera = int(args.camera) if args.camera.isdigit() else args.camera
        report = predictor.predict_camera(camera, args.max_frames, on_frame=hook)
    else:
        report = predictor.predict_paths(args.paths, on_frame=hook)
    print(report_json(report) if args.json else format_report(report), flush=True)
    if hook is not None and args.save_dir:
        print(f"{len(hook.written)} pictures written to {args.save_dir}", file=sys.stderr)
    if not report.faces:
        print("fas predict: no face could be scored", file=sys.stderr)
        return 1
    return 0


def _export(args: argparse.Namespace) -> int:
    from fas_lib.apps.export import export_onnx

    path = export_onnx(args.run, args.onnx, opset=args.opset)
    print(f"wrote {path}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from fas_lib.studies.reproduce import reproduce

    reproduce(args.dataset, args.root, args.protocol, args.fold, out=args.out,
              preset=args.preset, epochs=args.epochs, scales=args.scales, seed=args.seed,
              n_frames=args.n_frames, workers=args.workers, tables=args.tables,
              progress=not args.no_progress)
    return 0


COMMANDS = {"prepare": _prepare, "info": _info, "train": _train, "evaluate": _evaluate,
            "predict": _predict, "export": _export, "reproduce": _reproduce}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fas`` command line; returns the exit status (0 ok, 2 user error).

    Args:
        argv: the arguments (``None``: ``sys.argv[1:]``).
    """
    from fas_lib.data.datasets import DatasetLayoutError
    from fas_lib.data.protocol import ProtocolError

    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (DatasetLayoutError, ProtocolError, CacheError, FileNotFoundError, ValueError) as exc:
        print(f"fas {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"fas {args.command}: interrupted; run the same command again to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
