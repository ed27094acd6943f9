"""What ``fas predict`` shows: the table, the JSON, and the annotated frame with its crops.

:func:`format_report` prints a :class:`~fas_lib.apps.predict.PredictReport` as a table (one row per
face, then the video-level scores, the threshold and where it came from, the skips);
:func:`annotate` draws the boxes, landmarks and scores on a frame; :func:`crop_strip` puts a
face's crops at every scale side by side, :func:`face_figure` both in one matplotlib figure
(notebook 05's "try it on your own photo"); :class:`FrameSaver` is the ``on_frame`` hook of
:class:`~fas_lib.apps.predict.Predictor` that writes both for every frame with a face
(``--save-dir``) and, with ``show=True``, draws them with matplotlib (``--show``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fas_lib.apps.predict import FaceScore, PredictReport
from fas_lib.data.io import is_video

__all__ = ["FrameSaver", "annotate", "crop_strip", "face_figure", "figure", "format_report",
           "report_json", "skip_line"]

GREEN, RED = (40, 200, 60), (230, 40, 40)  # RGB: bona fide, attack


def _weights_text(weights: dict[str, float] | None) -> str:
    return "" if weights is None else " ".join(f"{k}:{v:+.2f}" for k, v in weights.items())


def format_report(report: PredictReport) -> str:
    """The table ``fas predict`` prints (one line per face), video scores, threshold, skips."""
    rows = [("source", "frame", "face", "box (l, t, r, b)", "score", "decision", "weights")]
    for f in report.faces:
        rows.append((f.source, str(f.frame_idx), str(f.face),
                     ", ".join(f"{v:.0f}" for v in f.box), f"{f.score:.4f}",
                     "bona fide" if f.live else "attack", _weights_text(f.weights)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    if len(rows) == 1:
        lines.append("(no face scored)")
    for m in report.media:
        if m.video_score is not None:
            lines.append(f"{m.kind} {m.source}: {m.n_frames} frames sampled, video score "
                         f"{m.video_score:.4f} -> {'bona fide' if m.video_live else 'attack'}")
    t = report.threshold
    lines.append(f"threshold {t.value:.4f} (score >= threshold: bona fide): {t.source}")
    lines.append(skip_line(report))
    return "\n".join(lines)


def skip_line(report: PredictReport) -> str:
    """``"skipped: 1 unreadable_file (bad.jpg), 2 no_face"`` or ``"skipped: nothing"``."""
    if not report.skips.items:
        return "skipped: nothing"
    parts = []
    for reason, n in report.skips.counts.items():
        examples = [p for p, r in report.skips.items if r == reason][:2]
        parts.append(f"{n} {reason} ({', '.join(examples)}{', ...' if n > 2 else ''})")
    return "skipped: " + ", ".join(parts)


def report_json(report: PredictReport) -> str:
    """The report as indented JSON (``fas predict --json``)."""
    return json.dumps(report.to_dict(), indent=2)


def annotate(rgb: np.ndarray, faces: Sequence[FaceScore]) -> np.ndarray:
    """A copy of the frame with each face's box (green: bona fide, red: attack), its 5
    landmarks and its score."""
    out = np.ascontiguousarray(rgb).copy()
    thick = max(1, round(max(out.shape[:2]) / 320))
    for f in faces:
        colour = GREEN if f.live else RED
        l, t, r, b = (int(round(v)) for v in f.box)
        cv2.rectangle(out, (l, t), (r, b), colour, thick)
        for x, y in f.landmarks:
            cv2.circle(out, (int(round(x)), int(round(y))), thick + 1, colour, -1)
        text = f"{f.score:.3f} {'bona fide' if f.live else 'attack'}"
        cv2.putText(out, text, (l, max(12, t - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick,
                    colour, thick, cv2.LINE_AA)
    return out


def crop_strip(face: FaceScore, scales: Sequence[float]) -> np.ndarray:
    """The face's crops at every scale side by side, each labelled with its scale (and, for
    MS-FANS, its weight)."""
    if face.crops is None:
        raise ValueError("the face kept no crops: create the Predictor with keep_crops=True")
    tiles = []
    for crop, s in zip(face.crops, scales, strict=True):
        tile = np.ascontiguousarray(crop).copy()
        label = f"{s:g}" + ("" if face.weights is None else f" w{face.weights[f'{s:g}']:+.2f}")
        cv2.putText(tile, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 0), 1,
                    cv2.LINE_AA)
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)


class FrameSaver:
    """``on_frame`` hook: writes ``<stem>[_f<frame>].png`` (annotated frame) and
    ``<stem>[_f<frame>]_face<k>_crops.png`` (crops at each scale) into ``out_dir``, and with
    ``show`` draws them with matplotlib.

    Args:
        scales: the run's scales, in crop order.
        out_dir: where pictures go (``None``: write nothing).
        show: draw each frame in a matplotlib window.
    """

    def __init__(self, scales: Sequence[float], out_dir: str | Path | None = None,
                 show: bool = False) -> None:
        self.scales = tuple(scales)
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.show = show
        self.written: list[Path] = []
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)

    def _stem(self, source: str, frame_idx: int, kind_video: bool) -> str:
        stem = Path(source.replace(":", "_")).stem or "frame"
        return f"{stem}_f{frame_idx:05d}" if kind_video else stem

    def __call__(self, source: str, frame_idx: int, rgb: np.ndarray,
                 faces: list[FaceScore]) -> None:
        video = source.startswith("camera:") or is_video(source)
        stem = self._stem(source, frame_idx, video)
        frame = annotate(rgb, faces)
        strips = [crop_strip(f, self.scales) for f in faces if f.crops is not None]
        if self.out_dir is not None:
            self._write(self.out_dir / f"{stem}.png", frame)
            for f, strip in zip(faces, strips, strict=False):
                self._write(self.out_dir / f"{stem}_face{f.face}_crops.png", strip)
        if self.show:
            self._draw(stem, frame, strips)

    def _write(self, path: Path, rgb: np.ndarray) -> None:
        if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")
        self.written.append(path)

    @staticmethod
    def _draw(title: str, frame: np.ndarray, strips: list[np.ndarray]) -> None:
        import matplotlib.pyplot as plt

        figure(title, frame, strips)
        plt.show(block=False)
        plt.pause(0.5)


def figure(title: str, frame: np.ndarray, strips: Sequence[np.ndarray]) -> Any:
    """A matplotlib figure: the annotated frame (:func:`annotate`) above each face's crop
    strip (:func:`crop_strip`)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1 + len(strips), 1, figsize=(8, 5 + 1.3 * len(strips)),
                             gridspec_kw={"height_ratios": [4] + [1] * len(strips)},
                             squeeze=False)
    for ax, img in zip(axes[:, 0], [frame, *strips], strict=True):
        ax.imshow(img)
        ax.axis("off")
    axes[0, 0].set_title(title)
    fig.tight_layout()
    return fig


def face_figure(title: str, rgb: np.ndarray, faces: Sequence[FaceScore],
                scales: Sequence[float]) -> Any:
    """:func:`figure` of a frame and its scored faces (faces that kept their crops)."""
    return figure(title, annotate(rgb, faces),
                  [crop_strip(f, scales) for f in faces if f.crops is not None])
