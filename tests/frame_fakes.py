"""A tiny in-memory crop cache and a run config for the frame-training tests.

:class:`TinyCache`: 3 scales, 20 train / 12 dev / 12 test frames of random 128 x 128 crops,
bona fide frames brighter, with the interface of :class:`fas_lib.cache.reader.CropCache`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fas_lib.training.config import ExperimentConfig

SCALES3 = (1.1, 1.2, 1.3)


class TinyCache:
    """In-memory stand-in for a CropCache: ``.scales``, ``.table``, ``.crops``, ``.frames``."""

    def __init__(self, n: dict[str, int] | None = None, scales=SCALES3, seed: int = 0,
                 frames_per_video: int = 2) -> None:
        n = n or {"train": 20, "dev": 12, "test": 12}
        rng = np.random.default_rng(seed)
        self.path = "<tiny in-memory cache>"
        self.scales = tuple(scales)
        self._crops, rows = {}, []
        types = ("print_flat", "replay_phone")
        for split, k in n.items():
            labels = np.array([(i // frames_per_video) % 3 == 0 for i in range(k)], int)
            c = rng.integers(0, 120, size=(k, len(scales), 128, 128, 3), dtype=np.uint8)
            c[labels == 1] += 100  # bona fide brighter: learnable in a few steps
            self._crops[split] = c
            for i in range(k):
                v = i // frames_per_video
                rows.append(dict(path=f"{split}/v{v}.avi", subject=f"s{v % 4}", label=labels[i],
                                 attack_type="live" if labels[i] else types[v % 2],
                                 quality="high", split=split, video_id=f"{split}_v{v}",
                                 depth_path="", ir_path="", frame_idx=i % frames_per_video,
                                 index=i))
        self.table = pd.DataFrame(rows)
        self.manifest = {"scales": list(self.scales), "dataset": "tiny", "protocol": "default",
                         "root": f"/data/tiny-{seed}", "params": {"scales": list(self.scales)},
                         "counts": {"frames": dict(n)}}

    def crops(self, split: str) -> np.ndarray:
        return self._crops[split]

    def landmarks(self, split: str) -> np.ndarray:
        return np.zeros((len(self._crops[split]), 5, 2), np.float32)

    def frames(self, split: str) -> pd.DataFrame:
        t = self.table[self.table["split"] == split]
        return t.sort_values("index").reset_index(drop=True)


def cfg(**kw) -> ExperimentConfig:
    base = dict(backbone="cnn_s", fusion="msfans", scales=SCALES3, epochs=2, batch_size=8,
                lr=0.01, milestones=(1,), seed=3, device="cpu")
    base.update(kw)
    return ExperimentConfig(**base)


def scores_of(out_dir) -> pd.DataFrame:
    return pd.read_csv(out_dir / "scores.csv")
