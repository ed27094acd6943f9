"""fas_lib.cache.plan and frame-folder crop caches: what a build caches and the disk it takes.

Fixtures are tiny: frame folders and frames listed one per row of 192 x 225 JPEG face frames
(``tests/fakes.py``, ``face_frame``: dlib finds the face in every one), cached at two scales;
the Replay-Attack frame-folder fake (12 folders of 3 frames) for the disk estimate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fas_lib.cache.build import build_cache, skip_report
from fas_lib.cache.plan import (
    FIXED_BYTES_PER_FRAME,
    bytes_per_frame,
    estimate_cache,
    limit_videos,
    sample_frame_rows,
)
from fas_lib.data.datasets import load_protocol
from fas_lib.data.io import sample_indices

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # repository root, for tests.fakes
from tests import fakes  # noqa: E402

SCALES = (1.0, 1.4)
N_FRAMES = 3


def frames_dataset(root: Path) -> fakes.FakeDataset:
    """A CSV dataset of frame folders (7 frames each) and one video listed frame by frame
    (7 rows), with an empty folder, a folder without images, a folder with one undecodable
    frame and one whose frames all fail to decode."""
    fake = fakes.FakeDataset(root)
    lines = ["path,label,split,subject,video_id"]
    for split, subject in (("train", 1), ("test", 2)):
        for kind in ("live", "print"):
            rel = f"{split}/{kind}_folder"
            fakes.write_frame_folder(fake, rel, 7, kind, subject)
            lines.append(f"{rel},{int(kind == 'live')},{split},{subject},")
    for k in (4, 1, 7, 2, 5, 3, 6):  # frame_1 ... frame_7 in rows, out of order
        fakes.write_face_image(fake, f"rows/live_frame_{k}.jpg", "live", 3, k - 1)
        lines.append(f"rows/live_frame_{k}.jpg,1,train,3,rows_video")
    (root / "train/empty").mkdir(parents=True)
    (root / "train/text").mkdir()
    (root / "train/text/frames.txt").write_text("the frames are elsewhere")
    fakes.write_frame_folder(fake, "test/one_bad", 7, "print", 2)
    (root / "test/one_bad/frame_4.jpg").write_bytes(b"truncated jpeg")  # frame 3: picked
    fakes.write_frame_folder(fake, "test/all_bad", 2, "live", 2)
    for k in (1, 2):
        (root / f"test/all_bad/frame_{k}.jpg").write_bytes(b"")
    for rel, label in (("train/empty", 1), ("train/text", 0), ("test/one_bad", 0),
                       ("test/all_bad", 1)):
        lines.append(f"{rel},{label},{rel.split('/')[0]},9,")
    fakes.write_lines(root / "protocol.csv", lines)
    return fake


@pytest.fixture(scope="module")
def frames_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames") / "ds"
    frames_dataset(root)
    return build_cache("csv", root, out=root.parent / "cache", scales=SCALES, n_frames=N_FRAMES,
                       workers=1, progress=False)


def test_frame_folders_honour_n_frames_like_videos(frames_cache):
    t = frames_cache.table
    for vid in ("train/live_folder", "train/print_folder", "test/live_folder"):
        rows = t[t["video_id"] == vid]
        assert rows["frame_idx"].tolist() == sample_indices(7, None, N_FRAMES) == [0, 3, 6]
        assert set(rows["path"]) == {vid}
    bad = t[t["video_id"] == "test/one_bad"]  # frame 3 did not decode: 0 and 6 kept
    assert bad["frame_idx"].tolist() == [0, 6]


def test_frames_listed_one_per_row_are_one_video(frames_cache):
    t = frames_cache.table
    rows = t[t["video_id"] == "rows_video"]  # 7 rows: sampled as a 7-frame video
    assert rows["frame_idx"].tolist() == [0, 3, 6]
    assert rows["path"].tolist() == [f"rows/live_frame_{k}.jpg" for k in (1, 4, 7)]
    counts = frames_cache.manifest["counts"]
    assert counts["videos"] == {"train": 5, "dev": 0, "test": 4}  # rows_video counts once
    assert counts["videos_with_frames"] == {"train": 3, "dev": 0, "test": 3}
    assert counts["frames"] == {"train": 9, "dev": 0, "test": 8}


def test_bad_frame_folders_are_counted_and_reported(frames_cache):
    m = frames_cache.manifest
    assert m["skips"]["media"] == {"empty_folder": 2, "empty_video": 1, "unreadable_frame": 3}
    where = {(s["path"], s["reason"]) for s in m["skipped"]}
    assert {("train/empty", "empty_folder"), ("train/text", "empty_folder"),
            ("test/one_bad", "unreadable_frame"), ("test/all_bad", "empty_video")} <= where
    report = skip_report(m)
    assert "2 frame folders without an image" in report
    assert "3 frames that could not be decoded" in report


def test_limit_and_sample_frame_rows_on_a_table():
    table = pd.DataFrame({
        "path": [f"f/{v}_{k}.jpg" for v in ("a", "b") for k in (10, 2, 1)] + ["c.avi"],
        "video_id": ["a"] * 3 + ["b"] * 3 + ["c"], "split": "train", "attack_type": "live"})
    kept, index = sample_frame_rows(table, None, 2)
    assert kept["path"].tolist() == ["f/a_10.jpg", "f/a_1.jpg", "f/b_10.jpg", "f/b_1.jpg",
                                     "c.avi"]
    assert index == [2, 0, 2, 0, None]  # natural order 1, 2, 10: frames 0 and 2 of 3
    assert sample_frame_rows(table, 2, None)[1] == [2, 0, 2, 0, None]
    assert len(limit_videos(table, 1)) == 1
    assert limit_videos(table, 1, by_video=True)["video_id"].tolist() == ["a"] * 3
    assert limit_videos(table, None) is table


def test_estimate_matches_a_built_cache(tmp_path, capsys):
    fake = fakes.build_replay_attack_frames(tmp_path / "ra")  # 12 folders x 3 face frames
    table = load_protocol("csv", fake.root).table
    est = estimate_cache(table, fake.root, SCALES, 128, n_frames=2, frame_rows=True)
    assert (est.n_videos, est.n_frames) == (12, 24)
    assert est.bytes_per_frame == 2 * 128 * 128 * 3 + 2 * 4 + FIXED_BYTES_PER_FRAME
    assert est.bytes_per_scale == 24 * (128 * 128 * 3 + 4) and est.peak_bytes == 2 * \
        est.total_bytes
    cache = build_cache("csv", fake.root, out=tmp_path / "c", scales=SCALES, n_frames=2,
                        workers=1, progress=True)
    assert est.describe() in capsys.readouterr().out  # printed before the build
    arrays = sum(np.load(f, mmap_mode="r").nbytes for f in cache.path.glob("*_*.npy"))
    assert arrays == est.total_bytes  # every frame had a face: the formula is exact
    size = cache.size_bytes()  # + table.csv, manifest.json, params.json, .npy headers
    assert est.total_bytes <= size <= 1.05 * est.total_bytes
    with_mods = bytes_per_frame(2, 128, ("depth", "nir")) - est.bytes_per_frame
    assert with_mods == 2 * 2 * 128 * 128  # one grey crop per scale and modality


def test_depth_given_as_a_frame_folder_follows_the_rgb_frames(tmp_path):
    fake = fakes.FakeDataset(tmp_path / "ds")
    lines = ["path,label,split,depth_path"]
    for split, kind in (("train", "live"), ("test", "print")):
        fakes.write_frame_folder(fake, f"{split}/rgb", 5, kind)
        h, w = fakes.face_frame(kind, 0, 0).shape[:2]
        for k in range(5):  # depth frame k: a flat surface at grey level 100 + 20 k
            (fake.root / f"{split}/depth").mkdir(exist_ok=True)
            fakes.cv2.imwrite(str(fake.root / f"{split}/depth/{k:02d}.png"),
                              np.full((h, w), 100 + 20 * k, np.uint8))
        lines.append(f"{split}/rgb,{int(kind == 'live')},{split},{split}/depth")
    fakes.write_lines(fake.root / "protocol.csv", lines)
    cache = build_cache("csv", fake.root, out=tmp_path / "c", scales=(1.0,), n_frames=2,
                        workers=1, progress=False, modalities=("depth",))
    assert not cache.manifest["skips"]["media"]
    for split in ("train", "test"):
        frames = cache.frames(split)
        assert frames["frame_idx"].tolist() == [0, 4]
        centre = cache.array("depth", split)[:, 0, 64, 64]
        assert centre.tolist() == [100 + 20 * k for k in frames["frame_idx"]]
