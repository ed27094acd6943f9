"""How well do dlib's detector and landmarks work? Score them against SynthSpoof's ground truth.

SynthSpoof stores every frame's exact landmarks
(:meth:`~fas_lib.synthspoof.SynthSpoofReader.load_gt`): ``landmarks5`` are the true 68-point
positions picked in **dlib's 5-point order** (outer and inner corner of the image-right eye, outer
and inner corner of the image-left eye, nose base; see
:func:`fas_lib.preprocess.geometry.dlib68_to_dlib5`), ``face_box`` is the dlib-like box derived from
them and ``iod`` the inter-ocular distance (between the two eye centres, each the mean of its six
68-point eye landmarks). The aligner's predicted points are compared in that same convention: dlib's
5-point predictor output as it is, the 68-point predictor's output converted with
:func:`~fas_lib.preprocess.geometry.dlib68_to_dlib5`.

Per frame:

- **detected**: the detector found a face and the box the aligner uses (the largest) *matches*
  the ground-truth face: IoU with the GT box >= :data:`MIN_IOU` (0.3), **or** the centre of the
  five GT points lies inside the box. The second rule accepts a correct detection whose box is
  sized differently from the GT rule's box (dlib's box size jitters by about 7 %); the IoU rule
  alone would reject small, correct boxes on tilted faces. A frame where faces are found but
  the largest is not the GT face (e.g. a face in the second scene of a replay) counts as a
  miss, ``wrong_face``: the pipeline would crop the wrong face.
- **landmark error** (detected frames only): mean over the five points of the Euclidean distance
  between predicted and GT points, in pixels and divided by the GT IOD. Under about 0.05 IOD is
  an accurate landmark, over 0.1 a visibly wrong one.

Example:
    >>> report = evaluate_alignment(ds, max_videos=30, frames_per_video=2)
    >>> report.table()                      # overall, per attack type and per quality
    >>> save_results(report.to_dict(), "01_alignment_eval")
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fas_lib.core.parallel import pool_map
from fas_lib.data.io import MediaError, iter_frames
from fas_lib.data.protocol import SkipLog
from fas_lib.preprocess.align import FaceAligner
from fas_lib.preprocess.batch import aligner_kwargs, init_worker, worker_aligner
from fas_lib.preprocess.geometry import dlib68_to_dlib5
from fas_lib.synthspoof import SynthSpoofReader

#: Minimum IoU between the detected and the GT face box for a detection to count.
MIN_IOU: float = 0.3

MATCH_RULE = (
    f"largest detected box has IoU >= {MIN_IOU} with the GT face box, or contains the centre of "
    "the five GT landmarks"
)

FRAME_COLUMNS = (
    "video_id", "frame_idx", "attack_type", "quality", "split", "n_faces", "detected",
    "wrong_face", "iou", "err_px", "err_iod", "iod",
)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes ``(left, top, right, bottom)``."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def box_matches(box: Sequence[float], gt_box: Sequence[float], gt_points: np.ndarray) -> bool:
    """Whether a detected box counts as the GT face (see :data:`MATCH_RULE`)."""
    cx, cy = np.asarray(gt_points, dtype=np.float64).mean(0)
    inside = box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
    return bool(inside or box_iou(box, gt_box) >= MIN_IOU)


def landmark_error(pred5: np.ndarray, gt5: np.ndarray) -> float:
    """Mean Euclidean distance in pixels between two ``(5, 2)`` point sets (same convention)."""
    return float(np.linalg.norm(np.asarray(pred5, float) - np.asarray(gt5, float), axis=1).mean())


def score_frame(aligner: FaceAligner, rgb: np.ndarray, gt: dict, t: int) -> dict[str, Any]:
    """Detect, predict landmarks and score one frame against its ground truth.

    Args:
        aligner: a :class:`~fas_lib.preprocess.align.FaceAligner`.
        rgb: the frame.
        gt: the video's ground truth (:meth:`~fas_lib.synthspoof.SynthSpoofReader.load_gt`).
        t: frame index into the ground truth.

    Returns:
        ``n_faces``, ``detected``, ``wrong_face``, ``iou``, ``err_px``, ``err_iod``, ``iod``
        (NaN errors when not detected).
    """
    gt5, gt_box, iod = gt["landmarks5"][t], gt["face_box"][t], float(gt["iod"][t])
    boxes = aligner.detect(rgb)
    row: dict[str, Any] = {
        "n_faces": len(boxes), "detected": False, "wrong_face": False,
        "iou": math.nan, "err_px": math.nan, "err_iod": math.nan, "iod": iod,
    }
    if not boxes:
        return row
    box = boxes[0]
    row["iou"] = box_iou(box, gt_box)
    if not box_matches(box, gt_box, gt5):
        row["wrong_face"] = True
        return row
    pred = aligner.predict_landmarks(rgb, box)
    if len(pred) == 68:
        pred = dlib68_to_dlib5(pred)
    err = landmark_error(pred, gt5)
    row.update(detected=True, err_px=err, err_iod=err / iod if iod > 0 else math.nan)
    return row


def _score_video(job: tuple[str, str, str, int | None], aligner: FaceAligner | None = None) -> tuple:
    """Score the chosen frames of one video; returns (video_id, rows, media error reason)."""
    root, video_id, rel, n_frames = job
    aligner = aligner if aligner is not None else worker_aligner()
    with np.load(Path(root) / "gt" / f"{video_id}.npz", allow_pickle=False) as z:
        gt = {k: z[k] for k in ("landmarks5", "face_box", "iod")}
    rows = []
    try:
        for t, rgb in iter_frames(Path(root) / rel, n_frames=n_frames):
            if t >= len(gt["iod"]):
                break
            rows.append({"frame_idx": t, **score_frame(aligner, rgb, gt, t)})
    except MediaError as exc:
        return video_id, rows, exc.reason
    return video_id, rows, None


def _nan_to_none(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _summary(df: pd.DataFrame) -> dict[str, Any]:
    det = df[df["detected"]]
    n = len(df)
    return {
        "frames": int(n),
        "detected": int(len(det)),
        "detection_rate": float(len(det) / n) if n else math.nan,
        "any_face_rate": float((df["n_faces"] > 0).mean()) if n else math.nan,
        "wrong_face": int(df["wrong_face"].sum()),
        "mean_error_px": float(det["err_px"].mean()) if len(det) else math.nan,
        "median_error_px": float(det["err_px"].median()) if len(det) else math.nan,
        "mean_error_iod": float(det["err_iod"].mean()) if len(det) else math.nan,
        "median_error_iod": float(det["err_iod"].median()) if len(det) else math.nan,
        "p95_error_iod": float(det["err_iod"].quantile(0.95)) if len(det) else math.nan,
    }


@dataclass
class AlignmentReport:
    """Detection rate and landmark error of an aligner on SynthSpoof frames.

    Attributes:
        frames: one row per scored frame (columns :data:`FRAME_COLUMNS`).
        skips: videos that could not be decoded (reason per video).
        aligner: the aligner's parameters.
        n_videos: videos asked for.
        seconds: wall time of the evaluation.
    """

    frames: pd.DataFrame
    skips: SkipLog = field(default_factory=SkipLog)
    aligner: dict[str, Any] = field(default_factory=dict)
    n_videos: int = 0
    seconds: float = 0.0

    def summary(self, by: str | None = None) -> dict[str, Any]:
        """Overall figures, or ``{group: figures}`` per value of the column ``by``."""
        if by is None:
            return _summary(self.frames)
        return {str(k): _summary(g) for k, g in self.frames.groupby(by, sort=True)}

    @property
    def detection_rate(self) -> float:
        """Share of frames where the face was detected (see the module's match rule)."""
        return self.summary()["detection_rate"]

    @property
    def mean_error_iod(self) -> float:
        """Mean landmark error over detected frames, as a share of the inter-ocular distance."""
        return self.summary()["mean_error_iod"]

    def table(self) -> pd.DataFrame:
        """Overall, per attack type and per quality: frames, detection rate, errors."""
        rows = [{"group": "all", "value": "all", **self.summary()}]
        for col in ("attack_type", "quality"):
            for k, s in self.summary(col).items():
                rows.append({"group": col, "value": k, **s})
        return pd.DataFrame(rows).set_index(["group", "value"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly figures (NaN -> ``None``) for :func:`fas_lib.core.utils.save_results`."""
        def clean(d: dict) -> dict:
            return {k: (clean(v) if isinstance(v, dict) else _nan_to_none(v)) for k, v in d.items()}

        return clean({
            **self.summary(),
            "by_attack_type": self.summary("attack_type"),
            "by_quality": self.summary("quality"),
            "n_videos": self.n_videos,
            "videos_skipped": dict(self.skips.counts),
            "match_rule": MATCH_RULE,
            "landmarks": "dlib 5-point order (eye corners, nose base) vs SynthSpoof landmarks5",
            "aligner": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in self.aligner.items()
            },
            "seconds": round(self.seconds, 2),
        })

    def plot_errors(self):
        """Box plot of the landmark error (share of IOD) per attack type; returns the figure."""
        import matplotlib.pyplot as plt

        det = self.frames[self.frames["detected"]]
        kinds = sorted(det["attack_type"].unique())
        fig, ax = plt.subplots(figsize=(1.2 * max(len(kinds), 3) + 1.5, 3.2))
        if kinds:
            ax.boxplot([det.loc[det["attack_type"] == k, "err_iod"] for k in kinds],
                       showfliers=True)
            ax.set_xticks(range(1, len(kinds) + 1), kinds, rotation=30, ha="right")
        ax.axhline(0.05, color="green", ls="--", lw=1, label="0.05 IOD (accurate)")
        ax.axhline(0.10, color="red", ls="--", lw=1, label="0.10 IOD (visibly wrong)")
        ax.set_ylabel("landmark error / IOD")
        ax.set_title("dlib 5-point landmark error vs ground truth")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig


def select_videos(
    protocol: pd.DataFrame, split: str | None = None, max_videos: int | None = None
) -> pd.DataFrame:
    """Protocol rows to evaluate, spread over attack types and qualities.

    Videos are taken round-robin over the (attack type, quality) groups, so the first
    ``max_videos`` cover every group before repeating one.
    """
    table = protocol
    if split is not None:
        table = table[table["split"] == split]
        if table.empty:
            raise ValueError(
                f"no video in split {split!r}; splits: {sorted(protocol['split'].unique())}"
            )
    rank = table.groupby(["attack_type", "quality"], sort=False).cumcount()
    order = table.assign(_rank=rank.to_numpy(), _pos=np.arange(len(table)))
    order = order.sort_values(["_rank", "_pos"]).drop(columns=["_rank", "_pos"])
    if max_videos is not None:
        if int(max_videos) < 1:
            raise ValueError(f"max_videos must be >= 1, got {max_videos}")
        order = order.head(int(max_videos))
    return order


def evaluate_alignment(
    ds: SynthSpoofReader,
    aligner: FaceAligner | None = None,
    max_videos: int | None = None,
    frames_per_video: int | None = None,
    workers: int = 1,
    progress: bool = True,
    split: str | None = None,
) -> AlignmentReport:
    """Detection rate and landmark error of ``aligner`` on SynthSpoof frames.

    Args:
        ds: a :class:`~fas_lib.synthspoof.SynthSpoofReader` dataset.
        aligner: a :class:`~fas_lib.preprocess.align.FaceAligner`; default ``FaceAligner()``
            (HOG, 5 points).
        max_videos: evaluate at most this many videos (spread over attack types and
            qualities, see :func:`select_videos`); ``None``: all.
        frames_per_video: that many evenly spaced frames per video; ``None``: all frames.
        workers: processes (each builds its own aligner with the same parameters).
        progress: tqdm progress bar over videos.
        split: only videos of this split (``"train"``, ``"dev"``, ``"test"``); ``None``: all.

    Returns:
        An :class:`AlignmentReport`.
    """
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if frames_per_video is not None and int(frames_per_video) < 1:
        raise ValueError(f"frames_per_video must be >= 1, got {frames_per_video}")
    aligner = aligner if aligner is not None else FaceAligner()
    kwargs = aligner_kwargs(aligner)
    videos = select_videos(ds.protocol, split, max_videos)
    meta = videos.set_index("video_id")[["attack_type", "quality", "split"]]
    jobs = [
        (str(ds.root), v, p, frames_per_video)
        for v, p in zip(videos["video_id"], videos["path"], strict=True)
    ]
    t0 = time.perf_counter()
    skips = SkipLog()
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(jobs), desc="alignment eval", unit="video", disable=not progress)
    results: list[tuple] = [()] * len(jobs)
    try:
        with contextlib.closing(pool_map(
            _score_video, jobs, int(workers), initializer=init_worker, initargs=(kwargs,),
            in_process=lambda: contextlib.nullcontext(partial(_score_video, aligner=aligner)),
            what="alignment evaluation", entry="evaluate_alignment",
        )) as finished:
            for i, res in finished:
                results[i] = res
                bar.update(1)
    finally:
        bar.close()
    for video_id, video_rows, reason in results:
        _gather(video_id, video_rows, reason, meta, rows, skips, ds.root, videos)
    frames = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    frames = frames.astype({"detected": bool, "wrong_face": bool})
    return AlignmentReport(frames, skips, kwargs, len(jobs), time.perf_counter() - t0)


def _gather(
    video_id: str, video_rows: list[dict], reason: str | None, meta: pd.DataFrame,
    rows: list[dict], skips: SkipLog, root: Path, videos: pd.DataFrame,
) -> None:
    if reason is not None:
        path = videos.loc[videos["video_id"] == video_id, "path"].iloc[0]
        skips.add(Path(root) / path, reason)
    m = meta.loc[video_id]
    for r in video_rows:
        rows.append({"video_id": video_id, "attack_type": m["attack_type"],
                     "quality": m["quality"], "split": m["split"], **r})
