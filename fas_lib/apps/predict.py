"""Score your own photos, videos and camera with a trained run (``fas predict``).

>>> predictor = Predictor.from_run("runs/msfans")                 # doctest: +SKIP
>>> report = predictor.predict_paths(["me.jpg", "clip.mp4", "photos/"])  # doctest: +SKIP
>>> report.faces[0].score, report.faces[0].live                    # doctest: +SKIP

The preprocessing is the training data's **by construction**: every face goes through the same
:class:`~fas_lib.preprocess.align.FaceAligner` settings the crop cache uses (dlib's HOG detector, 5
points, the similarity template, :data:`fas_lib.CROP_SIZE` crops at the run's scales, black
padding), cut by the one function that cuts the cache's crops
(:meth:`~fas_lib.preprocess.align.FaceAligner. align_box`), then the centre 112 x 112 window scaled
to ``[-1, 1]`` as a cached test frame is scored (:func:`fas_lib.cache.loader.centre_input`).
``tests/unit/apps/test_predict.py`` checks that a cached test crop and the crop ``predict`` cuts from the
same frame are identical.

For every face: box, landmarks, the bona-fide score (higher = more bona fide), the decision at
the run's threshold (the frame-level EER threshold of its dev split, :func:`run_threshold`,
which also says where it came from) and, for MS-FANS, the per-scale weights. A video is read
every ``every``-th frame and gets a video-level score: the mean score of the largest face of
its frames (:func:`fas_lib.evaluation.metrics.video_scores`, as the video-level metrics of a run).
Several faces per frame are scored, largest first. A missing, unreadable or empty file and a
frame without a face are counted in the report's :class:`~fas_lib.data.protocol.SkipLog` (reasons
:data:`SKIP_REASONS`), never raised. The table, JSON and pictures are in
:mod:`fas_lib.apps.predict_show`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from fas_lib import CROP_SIZE
from fas_lib.cache.loader import centre_input
from fas_lib.core.utils import get_device
from fas_lib.data.io import (
    IMAGE_EXTENSIONS,
    MEDIA_REASONS,
    VIDEO_EXTENSIONS,
    MediaError,
    iter_frames,
    to_rgb_uint8,
)
from fas_lib.data.protocol import SkipLog
from fas_lib.evaluation.metrics import video_scores
from fas_lib.models import MultiScaleNet, scores_from_logits
from fas_lib.preprocess.align import AlignResult, FaceAligner
from fas_lib.synthspoof.sources import portrait_files
from fas_lib.training.config import ExperimentConfig
from fas_lib.training.devices import Precision
from fas_lib.training.runs import load_run, read_results

__all__ = ["IMAGE_EXTENSIONS", "SKIP_REASONS", "FaceScore", "MediaScore", "PredictReport",
           "Predictor", "Threshold", "media_files", "portrait_files",
           "run_threshold"]

#: Why nothing was scored: a file's (:data:`fas_lib.data.io.MEDIA_REASONS`), a frame's ``no_face``,
#: and ``camera_closed`` for a camera that delivered no frame.
SKIP_REASONS: tuple[str, ...] = (*MEDIA_REASONS, "no_face", "camera_closed")

#: Frames a camera is read for when nothing else is asked.
CAMERA_FRAMES = 100


@dataclass(frozen=True)
class Threshold:
    """A decision threshold: ``score >= value`` is bona fide; ``source`` says where it is from."""

    value: float
    source: str


def run_threshold(run_dir: str | Path, results: dict[str, Any] | None = None) -> Threshold:
    """The threshold a run's HTER is measured at: the frame-level EER threshold of ``dev``
    (of ``test`` for protocols without dev, which the source then says).

    Raises:
        ValueError: the run has no finished ``results.json``.
    """
    results = read_results(run_dir) if results is None else results
    if not results or not results.get("complete") or "metrics" not in results:
        raise ValueError(f"{run_dir} is not a finished run (no complete results.json, so no "
                         "threshold chosen on dev); finish it with `fas train`")
    metrics = results["metrics"]
    frame = metrics["frame"]
    if metrics.get("threshold_split", "dev") == "dev":
        return Threshold(float(frame["dev_threshold"]),
                         f"EER threshold of the run's dev split (frame level, {run_dir})")
    return Threshold(float(frame["test_eer_threshold"]),
                     f"EER threshold of the run's test split: it has no dev split ({run_dir})")


@dataclass
class FaceScore:
    """One scored face.

    Attributes:
        source: the file (or ``camera:N``) it comes from.
        frame_idx: frame index in the video (0 for an image).
        face: 0 for the largest face of the frame, 1 for the next...
        box: ``(left, top, right, bottom)`` in frame pixels.
        landmarks: dlib's 5 points ``(5, 2)`` in frame pixels.
        score: bona-fide score in ``[0, 1]`` (higher = more bona fide).
        live: ``score >= threshold``.
        weights: MS-FANS's weight of each scale (``{"1.1": w, ...}``); ``None`` for other fusions.
        crops: ``(S, 128, 128, 3)`` uint8 crops at the run's scales (kept for pictures only).
    """

    source: str
    frame_idx: int
    face: int
    box: np.ndarray
    landmarks: np.ndarray
    score: float
    live: bool
    weights: dict[str, float] | None = None
    crops: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (no crops)."""
        return {"source": self.source, "frame_idx": self.frame_idx, "face": self.face,
                "box": [round(float(v), 1) for v in self.box],
                "landmarks": np.round(self.landmarks.astype(float), 1).tolist(),
                "score": self.score, "decision": "bona fide" if self.live else "attack",
                "weights": self.weights}


@dataclass
class MediaScore:
    """What one file (or camera) gave: its faces, frames read and, for a video, its score."""

    source: str
    kind: str  # "image", "video" or "camera"
    faces: list[FaceScore]
    n_frames: int
    video_score: float | None = None
    video_live: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"source": self.source, "kind": self.kind, "n_frames": self.n_frames,
                "video_score": self.video_score,
                "video_decision": None if self.video_live is None else
                ("bona fide" if self.video_live else "attack"),
                "faces": [f.to_dict() for f in self.faces]}


@dataclass
class PredictReport:
    """Everything one ``predict`` call gave: scored media, skips, the threshold used."""

    media: list[MediaScore]
    skips: SkipLog
    threshold: Threshold
    run: str

    @property
    def faces(self) -> list[FaceScore]:
        """Every scored face, in media and frame order."""
        return [f for m in self.media for f in m.faces]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (``fas predict --json``)."""
        return {"run": self.run,
                "threshold": {"value": self.threshold.value, "source": self.threshold.source},
                "n_faces": len(self.faces), "media": [m.to_dict() for m in self.media],
                "skips": {"counts": dict(self.skips.counts),
                          "items": [{"path": p, "reason": r} for p, r in self.skips.items]}}


def media_files(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Files to score: each path given, and the images and videos of each folder (sorted,
    recursive; other files of a folder are ignored, a file given by name is always tried)."""
    out: list[str] = []
    known = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(str(f) for f in sorted(p.rglob("*"))
                       if f.is_file() and f.suffix.lower() in known)
        else:
            out.append(str(p))
    return out


FrameHook = Callable[[str, int, np.ndarray, list[FaceScore]], None]


class Predictor:
    """A trained run, ready to score faces in frames, files, folders and cameras.

    Args:
        model: the run's model (:func:`fas_lib.training.runs.load_run`).
        config: its resolved config (the scales, in the model's order).
        threshold: the decision threshold (:func:`run_threshold`).
        device: ``"auto"`` (a GPU when there is one), ``"cpu"``, ``"cuda"``...
        every: score every ``every``-th frame of a video or camera.
        max_faces: score at most this many faces per frame, largest first (``None``: all).
        keep_crops: keep each face's crops in its :class:`FaceScore` (for pictures).
        amp: mixed precision (:class:`fas_lib.training.devices.Precision`); off by default.
        run: the run folder, for the report.
    """

    def __init__(self, model: MultiScaleNet, config: ExperimentConfig, threshold: Threshold,
                 device: str = "auto", every: int = 5, max_faces: int | None = None,
                 keep_crops: bool = False, amp: bool = False, run: str = "") -> None:
        if every < 1:
            raise ValueError(f"every must be a positive number of frames, got {every}")
        self.device = get_device(device)
        self.model = model.to(self.device).eval()
        self.config, self.threshold, self.run = config, threshold, str(run)
        self.scales = tuple(float(s) for s in config.scales)
        self.every, self.max_faces, self.keep_crops = every, max_faces, keep_crops
        self.precision = Precision(self.device, amp)
        self._aligner: FaceAligner | None = None

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "auto", threshold: float | None = None,
                 **kwargs: Any) -> Predictor:
        """A predictor for a finished run folder (``threshold``: overrides the run's).

        Raises:
            FileNotFoundError: no such folder, or no checkpoint in it.
            ValueError: an unfinished run or an unreadable checkpoint.
        """
        run = Path(run_dir)
        if not run.is_dir():
            raise FileNotFoundError(f"no run folder {run}; `fas train` writes one")
        thr = (Threshold(float(threshold), "given by the caller") if threshold is not None
               else run_threshold(run))
        try:
            model, cfg = load_run(run, device=get_device(device))
        except (RuntimeError, KeyError, TypeError) as exc:  # a checkpoint of another model
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{run} holds a checkpoint this code cannot load ({first})") from None
        return cls(model, cfg, thr, device=device, run=str(run), **kwargs)

    @property
    def aligner(self) -> FaceAligner:
        """The crop cache's aligner settings at the run's scales (created on first use)."""
        if self._aligner is None:
            self._aligner = FaceAligner(self.scales, crop_size=CROP_SIZE, landmarks="5")
        return self._aligner

    # -- scoring ------------------------------------------------------------------------------
    def score_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores ``(B,)`` and MS-FANS weights ``(B, S)`` (``None`` otherwise) of uint8 crops
        ``(B, S, 128, 128, 3)`` at the run's scales."""
        x = centre_input(crops).to(self.device)
        with torch.no_grad(), self.precision.autocast():
            out = self.model(x)
        scores = scores_from_logits(out.logits.float()).cpu().numpy().astype(np.float64)
        weights = (out.weights.float().cpu().numpy().astype(np.float64)
                   if self.model.fusion_name == "msfans" else None)
        return scores, weights

    def predict_frame(self, rgb: np.ndarray, source: str = "", frame_idx: int = 0
                      ) -> list[FaceScore]:
        """Every face of one RGB frame, largest first (``[]`` when none is found)."""
        faces: list[AlignResult] = self.aligner.align_all(rgb, self.max_faces)
        if not faces:
            return []
        scores, weights = self.score_crops(np.stack([f.crops for f in faces]))
        names = [f"{s:g}" for s in self.scales]
        return [FaceScore(
            source, int(frame_idx), k, np.asarray(f.box, np.float64),
            np.asarray(f.landmarks, np.float64), float(scores[k]),
            bool(scores[k] >= self.threshold.value),
            None if weights is None else dict(zip(names, map(float, weights[k]), strict=True)),
            f.crops if self.keep_crops else None) for k, f in enumerate(faces)]

    def _score_frames(self, frames: Iterator[tuple[int, np.ndarray]], source: str, kind: str,
                      skips: SkipLog, on_frame: FrameHook | None) -> MediaScore:
        """Score an iterator of ``(index, RGB frame)``; count frames without a face."""
        faces: list[FaceScore] = []
        n = 0
        for idx, rgb in frames:
            n += 1
            found = self.predict_frame(rgb, source, idx)
            if not found:
                skips.add(source if kind == "image" else f"{source}#{idx}", "no_face")
                continue
            faces.extend(found)
            if on_frame is not None:
                on_frame(source, idx, rgb, found)
        return self._media(source, kind, faces, n)

    def _media(self, source: str, kind: str, faces: list[FaceScore], n: int) -> MediaScore:
        """A :class:`MediaScore`; videos and cameras get the mean score of their largest faces."""
        media = MediaScore(source, kind, faces, n)
        largest = [f.score for f in faces if f.face == 0]
        if kind != "image" and largest:
            v = video_scores(largest, [source] * len(largest))
            media.video_score = float(v["score"].iloc[0])
            media.video_live = bool(media.video_score >= self.threshold.value)
        return media

    def predict_file(self, path: str | os.PathLike, skips: SkipLog,
                     on_frame: FrameHook | None = None) -> MediaScore | None:
        """Score an image or every ``every``-th frame of a video; ``None`` (and one counted
        skip) when the file is missing, unreadable or an empty video."""
        source = str(path)
        kind = "video" if Path(source).suffix.lower() in VIDEO_EXTENSIONS else "image"
        try:
            frames = iter_frames(source, every=self.every if kind == "video" else None)
            return self._score_frames(frames, source, kind, skips, on_frame)
        except MediaError as exc:
            skips.add(source, exc.reason)
            return None

    def predict_paths(self, paths: Sequence[str | os.PathLike],
                      on_frame: FrameHook | None = None) -> PredictReport:
        """Score files and folders (:func:`media_files`); bad media are counted, not raised.

        Args:
            paths: images, videos and folders of them.
            on_frame: called as ``on_frame(source, frame_idx, rgb, faces)`` for every frame
                with a face (pictures, ``--show``).
        """
        skips = SkipLog()
        media = [m for p in media_files(paths)
                 if (m := self.predict_file(p, skips, on_frame)) is not None]
        return PredictReport(media, skips, self.threshold, self.run)

    def predict_camera(self, camera: int | str = 0, max_frames: int = CAMERA_FRAMES,
                       on_frame: FrameHook | None = None) -> PredictReport:
        """Score every ``every``-th of the first ``max_frames`` frames of an OpenCV capture.

        Args:
            camera: a camera index (``0``: the default webcam) or anything
                ``cv2.VideoCapture`` opens (a video file, a stream URL).
            max_frames: frames to read; Ctrl-C stops earlier with what was scored.
            on_frame: see :meth:`predict_paths`.
        """
        source = f"camera:{camera}"
        skips = SkipLog()
        cap = cv2.VideoCapture(camera)
        try:
            if not cap.isOpened():
                skips.add(source, "camera_closed")
                return PredictReport([], skips, self.threshold, self.run)
            media = self._score_frames(self._camera_frames(cap, max_frames), source, "camera",
                                       skips, on_frame)
        finally:
            cap.release()
        if media.n_frames == 0:
            skips.add(source, "camera_closed")
        return PredictReport([media] if media.n_frames else [], skips, self.threshold, self.run)

    def _camera_frames(self, cap: cv2.VideoCapture, max_frames: int
                       ) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, RGB frame)`` of every ``every``-th frame read; stops at the end, after
        ``max_frames`` frames or on Ctrl-C."""
        try:
            for i in range(int(max_frames)):
                ok, frame = cap.read()
                if not ok or frame is None:
                    return
                if i % self.every == 0:
                    yield i, to_rgb_uint8(frame)
        except KeyboardInterrupt:
            return
