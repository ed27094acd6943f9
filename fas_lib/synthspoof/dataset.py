"""Generate SynthSpoof to disk (cached, atomic, parallel) and read it back.

Layout of a dataset folder::

    manifest.json                      parameters, version, counts, timing, skipped photos
    protocol.csv                       one row per video (fas_lib.data.protocol columns)
    videos/<split>/<subject>/<id>.avi  MJPG (quality 95), frames stored BGR as usual
    gt/<id>.npz                        exact per-frame ground truth (see SynthSpoofReader.load_gt)
    depth/<id>.png, nir/<id>.png       (T, H, W) uint8 frames stacked vertically into one
                                       lossless PNG (fast level 1), only when asked for
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fas_lib.core.parallel import pool_map
from fas_lib.core.utils import atomic_write_text, data_dir
from fas_lib.data.protocol import make_table, write_protocol

from .camera import noise_bank
from .config import GENERATOR_VERSION, SynthConfig, config_hash
from .factors import (
    SESSION_NAMES,
    Factors,
    assign_cameras,
    by_name,
    instrument_for,
    rendered_factors,
)
from .reader import SynthSpoofReader
from .render import make_world
from .sources import SourcePortrait, subject_sources, user_sources
from .subjects import make_subjects
from .video import VideoJob, render_video

#: MJPG quality of the stored videos.
AVI_QUALITY: int = 95
_STATE: dict = {}


def split_subjects(n: int, seed: int) -> list[str]:
    """Subject-disjoint split of ``n`` subjects in Replay-Attack's 15/15/20 proportions."""
    n_train = max(1, round(n * 15 / 50))
    n_dev = max(1, round(n * 15 / 50))
    if n - n_train - n_dev < 1:
        n_dev = n - n_train - 1
    order = np.random.default_rng(np.random.SeedSequence([seed, 3_000_017])).permutation(n)
    splits = [""] * n
    for rank, i in enumerate(order):
        splits[i] = "train" if rank < n_train else ("dev" if rank < n_train + n_dev else "test")
    return splits


def plan_jobs(config: SynthConfig) -> list[VideoJob]:
    """Every video of the dataset in a fixed order; ``index`` seeds its generator.

    Per subject and session: ``live_per_session`` live videos, then one video per attack type;
    capture factors from :func:`~fas_lib.synthspoof.factors.instrument_for` and
    :func:`~fas_lib.synthspoof.factors.assign_cameras`, then the config's ``fixed_factors``
    at their one level (:func:`~fas_lib.synthspoof.factors.rendered_factors`). Planning with
    every factor free first keeps the rows, the video ids (named after the planned session)
    and the free factors' levels of a variant those of the dataset without ``fixed_factors``.
    """
    splits = split_subjects(config.n_subjects, config.seed)
    plan = []
    for si in range(config.n_subjects):
        for session in config.sessions:
            s_idx = SESSION_NAMES.index(session)
            kinds = [("live", f"live{j + 1}", "") for j in range(config.live_per_session)]
            kinds += [(k, k, instrument_for(si, s_idx, k)) for k in config.attack_types]
            plan += [(si, session, kind, tag, instrument) for kind, tag, instrument in kinds]
    cameras = assign_cameras([(splits[si], session, instrument or "live")
                              for si, session, _, _, instrument in plan])
    fixed, wide = config.fixed_factors, "margins" in config.fixed_factors
    jobs = []
    for i, ((si, session, kind, tag, instrument), cam) in enumerate(zip(plan, cameras,
                                                                        strict=True)):
        f = rendered_factors(Factors(session, cam, instrument), kind, fixed)
        jobs.append(VideoJob(i, f"s{si:03d}_{session}_{tag}", si, f"s{si:03d}", kind,
                             by_name(f.camera).optics.name, splits[si], f.session, f.camera,
                             f.instrument, wide))
    return jobs


def rel_paths(job: VideoJob, modalities: tuple) -> dict[str, str]:
    """Relative paths of a video's files."""
    return {
        "path": f"videos/{job.split}/{job.subject}/{job.video_id}.avi",
        "gt": f"gt/{job.video_id}.npz",
        "depth_path": f"depth/{job.video_id}.png" if "depth" in modalities else "",
        "ir_path": f"nir/{job.video_id}.png" if "nir" in modalities else "",
    }


def write_avi(path: Path, frames: np.ndarray, fps: int) -> None:
    """Write RGB frames as an MJPG AVI with OpenCV's built-in encoder (deterministic bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames.shape[1:3]
    vw = cv2.VideoWriter(
        str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h)
    )
    if not vw.isOpened():
        raise OSError(f"OpenCV could not open an MJPG writer for {path}")
    vw.set(cv2.VIDEOWRITER_PROP_QUALITY, AVI_QUALITY)
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    vw.release()


def write_stack_png(path: Path, frames: np.ndarray) -> None:
    """Write ``(T, H, W)`` uint8 frames as one lossless PNG of ``T * H`` rows.

    PNG at compression level 1 writes about 4x faster than ``np.savez_compressed`` at a similar
    size, and any image tool can open it (as a real dataset's depth / IR images).
    """
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(frames.reshape(-1, frames.shape[-1])),
                           [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError(f"could not encode {path}")
    path.write_bytes(buf.tobytes())


def _init_worker(config: SynthConfig, sources: list[SourcePortrait] | None = None) -> None:
    """Set up a process to render videos; ``sources=None`` (pool workers) loads the portraits.

    Workers load them themselves (the built-in ones from the on-disk cache the parent has just
    filled) instead of receiving them pickled: a spawned worker that dies while the parent
    writes a payload larger than a pipe's buffer blocks the parent forever on Python 3.11.
    """
    cv2.setNumThreads(1)
    if sources is None:
        sources = subject_sources(user_sources(config.user_faces_dir)[0])
    _STATE.clear()
    _STATE.update(sources=sources, config=config)


def _run_subject(subject_index: int, jobs: list[VideoJob], out_root: str) -> list[int]:
    """Render and store every video of one subject (runs in a worker or inline)."""
    cfg: SynthConfig = _STATE["config"]
    subject = make_subjects(cfg.n_subjects, cfg.seed, _STATE["sources"], indices=[subject_index])[0]
    worlds = {s: make_world(subject, cfg.width, cfg.height, s, cfg.seed)  # the sessions rendered
              for s in dict.fromkeys(j.session for j in jobs)}
    bank = noise_bank(cfg.seed, cfg.height, cfg.width)
    root = Path(out_root)
    n_frames = []
    for job in jobs:
        res = render_video(
            job,
            subject,
            worlds[job.session],
            cfg.width,
            cfg.height,
            cfg.frames_per_video,
            cfg.seed,
            bank,
            tuple(cfg.modalities),
        )
        paths = rel_paths(job, cfg.modalities)
        write_avi(root / paths["path"], res.frames, cfg.fps)
        np.savez(root / paths["gt"], **res.gt)
        if res.depth is not None:
            write_stack_png(root / paths["depth_path"], res.depth)
        if res.nir is not None:
            write_stack_png(root / paths["ir_path"], res.nir)
        n_frames.append(len(res.frames))
    return n_frames


def _is_complete(root: Path, config: SynthConfig) -> bool:
    try:
        man = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        bool(man.get("complete"))
        and man.get("config_hash") == config_hash(config)
        and (man.get("params") == config.to_dict())
        and (root / "protocol.csv").is_file()
    )


def default_root(config: SynthConfig) -> Path:
    """``data_dir()/synthspoof/<hash of parameters and generator version>``."""
    return data_dir() / "synthspoof" / config_hash(config)


def generate(
    config: SynthConfig = SynthConfig(),  # noqa: B008 (frozen, immutable)
    root: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    force: bool = False,
) -> SynthSpoofReader:
    """Generate SynthSpoof (or return the cached copy when the parameters match).

    Args:
        config: generation parameters.
        root: dataset folder; default :func:`default_root`.
        workers: processes (default ``os.cpu_count()``); 1 renders in this process.
        progress: show a tqdm progress bar.
        force: regenerate even when a complete matching copy exists.

    Returns:
        The dataset.
    """
    root = Path(root).expanduser() if root is not None else default_root(config)
    if not force and _is_complete(root, config):
        return SynthSpoofReader(root)
    t0 = time.perf_counter()
    workers = max(1, int(workers or os.cpu_count() or 1))
    users, skipped = user_sources(config.user_faces_dir)
    sources = subject_sources(users)
    jobs = plan_jobs(config)
    tmp = _make_tmp_folder(root, config)
    bar = tqdm(total=len(jobs), desc="SynthSpoof", unit="video", disable=not progress)
    try:
        n_frames = _render_all(config, jobs, sources, workers, tmp, bar)
        bar.close()
        table = protocol_table(config)
        write_protocol(table, tmp / "protocol.csv")
        wall = time.perf_counter() - t0
        manifest = _manifest(config, table, jobs, n_frames, wall, workers, sources, users, skipped)
        atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        _publish(tmp, root, config)
    except BaseException:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SynthSpoofReader(root)


def _make_tmp_folder(root: Path, config: SynthConfig) -> Path:
    """A fresh temporary folder beside ``root``, with the dataset's subfolders."""
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    for sub in ("videos", "gt") + tuple(config.modalities and ("depth", "nir")):
        (tmp / sub).mkdir(exist_ok=True)
    return tmp


def run_subject_job(job: tuple[int, list[VideoJob]], out_root: str) -> list[int]:
    """:func:`_run_subject` of one ``(subject index, videos)`` job (the pool's worker)."""
    return _run_subject(job[0], job[1], out_root)


@contextlib.contextmanager
def _in_this_process(
    config: SynthConfig, sources: list[SourcePortrait], out_root: str,
) -> Iterator[partial[list[int]]]:
    """Render in this process (given portraits), restoring OpenCV's thread count afterwards."""
    old_threads = cv2.getNumThreads()
    _init_worker(config, sources)
    try:
        yield partial(run_subject_job, out_root=out_root)
    finally:
        cv2.setNumThreads(old_threads)


def _render_all(
    config: SynthConfig, jobs: list[VideoJob], sources: list[SourcePortrait], workers: int,
    tmp: Path, bar: tqdm,
) -> int:
    """Render every video into ``tmp``, one pool job per subject; returns the frames written.

    Pool workers load the portraits themselves (see :func:`_init_worker`).
    """
    by_subject: dict[int, list[VideoJob]] = {}
    for j in jobs:
        by_subject.setdefault(j.subject_index, []).append(j)
    subject_jobs = list(by_subject.items())
    n_frames = 0
    with contextlib.closing(pool_map(
        partial(run_subject_job, out_root=str(tmp)), subject_jobs, workers,
        initializer=_init_worker, initargs=(config,),
        in_process=lambda: _in_this_process(config, sources, str(tmp)),
        what="SynthSpoof generation", entry="generate",
    )) as finished:
        for i, frames in finished:
            n_frames += sum(frames)
            bar.update(len(subject_jobs[i][1]))
    return n_frames


def protocol_table(config: SynthConfig) -> pd.DataFrame:
    """The protocol table ``generate(config)`` writes, from the plan alone (nothing rendered):
    one row per video with its split and capture factors."""
    return make_table(_protocol_rows(plan_jobs(config), config))


def _protocol_rows(jobs: list[VideoJob], config: SynthConfig) -> list[dict]:
    """One protocol-table row per video."""
    rows = []
    for j in jobs:
        p = rel_paths(j, config.modalities)
        rows.append(
            {
                "path": p["path"],
                "subject": j.subject,
                "label": int(j.attack_type == "live"),
                "attack_type": j.attack_type,
                "quality": j.quality,
                "split": j.split,
                "session": j.session,
                "camera": j.camera,
                "instrument": j.instrument,
                "video_id": j.video_id,
                "depth_path": p["depth_path"],
                "ir_path": p["ir_path"],
            }
        )
    return rows


def _publish(tmp: Path, root: Path, config: SynthConfig) -> None:
    """Rename the finished temporary folder to ``root`` (replacing a stale copy)."""
    if root.exists():
        if _is_complete(root, config) and not tmp.exists():
            return
        old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(root, old)
        except FileNotFoundError:
            old = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    try:
        os.rename(tmp, root)
    except OSError:
        # another process published the same parameters meanwhile: keep theirs
        if not _is_complete(root, config):
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _manifest(
    config: SynthConfig,
    table: pd.DataFrame,
    jobs: list,
    n_frames: int,
    wall: float,
    workers: int,
    sources: list,
    users: list,
    skipped: list[dict],
) -> dict:
    counts = {
        c: {str(k): int(v) for k, v in sorted(Counter(table[c]).items())}
        for c in ("split", "label", "attack_type", "quality", "session", "camera", "instrument")
    }
    subjects = {
        s: sorted(table.loc[table["split"] == s, "subject"].unique().tolist())
        for s in ("train", "dev", "test")
    }
    return {
        "name": "SynthSpoof",
        "generator_version": GENERATOR_VERSION,
        "config_hash": config_hash(config),
        "params": config.to_dict(),
        "complete": True,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_time_s": round(wall, 3),
        "frames_per_s": round(n_frames / wall, 2) if wall > 0 else None,
        "workers": workers,
        "n_videos": len(jobs),
        "n_frames": n_frames,
        "frame_size": [config.width, config.height],
        "counts": counts,
        "subjects": subjects,
        "sources": [s.name for s in sources],
        "user_faces": {
            "dir": config.user_faces_dir,
            "used": [s.name for s in users],
            "n_skipped": len(skipped),
            "skipped": skipped,
        },
        "avi_quality": AVI_QUALITY,
    }
