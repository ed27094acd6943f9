"""Read a generated SynthSpoof folder: protocol, manifest, frames, ground truth, modalities."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fas_lib.data.protocol import read_protocol


class SynthSpoofReader:
    """A generated SynthSpoof folder.

    Attributes:
        root: the dataset folder.
        protocol: the protocol table (one row per video).
        manifest: the parsed ``manifest.json``.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.manifest: dict = json.loads((self.root / "manifest.json").read_text(encoding="utf-8"))
        self.protocol: pd.DataFrame = read_protocol(self.root / "protocol.csv")
        self._rows = self.protocol.set_index("video_id")

    def __len__(self) -> int:
        return len(self.protocol)

    def __repr__(self) -> str:
        n = self.manifest.get("n_frames")
        return f"SynthSpoofReader(root={str(self.root)!r}, videos={len(self)}, frames={n})"

    @property
    def video_ids(self) -> list[str]:
        """All video ids in protocol order."""
        return self.protocol["video_id"].tolist()

    def _row(self, video_id: str) -> pd.Series:
        if video_id not in self._rows.index:
            raise KeyError(f"unknown video_id {video_id!r}; e.g. {self.video_ids[:3]}")
        return self._rows.loc[video_id]

    def load_gt(self, video_id: str) -> dict[str, np.ndarray]:
        """Exact per-frame ground truth of one video.

        Keys: ``face_box`` (T, 4) l, t, r, b of the square dlib-like box; ``landmarks68``
        (T, 68, 2); ``landmarks5`` (T, 5, 2) in dlib's 5-point order; ``paper5`` (T, 5, 2) eye
        centres, nose tip, mouth corners; ``medium_outer`` / ``medium_inner`` (T, 32, 2) polygons
        of the paper or device edge and of the printed image / active screen (NaN for live);
        ``iod`` (T,); and 0-d ``label``, ``attack_type``, ``quality``, ``subject``, ``split``,
        ``video_id``. Videos rendered with depth and NIR also hold their sensor conditions
        (:class:`~fas_lib.synthspoof.sensors.SensorConditions`): 0-d ``nir_power`` (the NIR
        illuminator's power relative to nominal) and ``depth_dropout``, and ``ir_warp`` (the
        IR camera's registration error relative to RGB: ``(dx, dy, roll, log_scale)``).
        """
        self._row(video_id)
        with np.load(self.root / "gt" / f"{video_id}.npz", allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def read_frames(self, video_id: str) -> np.ndarray:
        """Decoded frames ``(T, H, W, 3)`` uint8 RGB."""
        path = self.root / self._row(video_id)["path"]
        cap = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
        cap.release()
        if not frames:
            raise OSError(f"could not decode any frame from {path}")
        return np.stack(frames)

    def read_modality(self, video_id: str, kind: str) -> np.ndarray:
        """Depth (``"depth"``) or near-infrared (``"nir"``) frames ``(T, H, W)`` uint8."""
        col = {"depth": "depth_path", "nir": "ir_path"}.get(kind)
        if col is None:
            raise ValueError(f"kind must be 'depth' or 'nir', got {kind!r}")
        rel = self._row(video_id)[col]
        if not rel:
            raise FileNotFoundError(
                f"this dataset was generated without {kind!r}; pass modalities=({kind!r},)"
            )
        stack = cv2.imread(str(self.root / rel), cv2.IMREAD_UNCHANGED)
        if stack is None:
            raise OSError(f"could not decode {self.root / rel}")
        height = int(self.manifest["params"]["height"])
        return stack.reshape(-1, height, stack.shape[-1])


def sensor_views(reader: SynthSpoofReader, subject: str,
                 session: str = "s1") -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """What each sensor sees of each attack: the middle frame of one subject's videos.

    Args:
        reader: a SynthSpoof generated with ``modalities=("depth", "nir")``.
        subject: subject id, e.g. ``"s000"``.
        session: session name.

    Returns:
        ``attack_type -> (rgb (H, W, 3), depth (H, W), nir (H, W))`` uint8, in protocol order
        (``"live"`` first: the subject's first live video of the session).

    Raises:
        KeyError: no video of ``subject`` in ``session``.
        FileNotFoundError: the dataset was generated without depth or NIR.
    """
    p = reader.protocol
    rows = p[(p["subject"] == subject) & (p["session"] == session)]
    if rows.empty:
        raise KeyError(f"no video of subject {subject!r} in session {session!r}; subjects: "
                       f"{sorted(p['subject'].unique())[:5]}, sessions: "
                       f"{sorted(p['session'].unique())}")
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for vid, kind in zip(rows["video_id"], rows["attack_type"], strict=True):
        if kind in out:
            continue
        depth, nir = reader.read_modality(vid, "depth"), reader.read_modality(vid, "nir")
        frames = reader.read_frames(vid)
        t = len(frames) // 2
        out[kind] = (frames[t], depth[t], nir[t])
    return out
