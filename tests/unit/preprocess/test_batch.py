"""fas_lib.preprocess.batch: per-file alignment that never raises for bad media, counts that add up,
pools.

Media are tiny: 2-frame SynthSpoof videos (3 subjects, one quality, generated once for this
module) and a few hand-made bad files written into ``tmp_path``.
"""

from __future__ import annotations

import collections

import cv2
import numpy as np
import pytest

from fas_lib.data.protocol import SkipLog
from fas_lib.preprocess.align import FaceAligner
from fas_lib.preprocess.batch import (
    SKIP_REASONS,
    BatchResult,
    FrameItem,
    align_batch,
    process_media,
)
from fas_lib.synthspoof import SynthConfig, generate

SCALES = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
TINY = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1",), live_per_session=1)


pytestmark = pytest.mark.usefixtures("private_data_dir")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(TINY, root=tmp_path_factory.mktemp("tiny") / "ds", workers=1, progress=False)


@pytest.fixture(scope="module")
def aligner():
    return FaceAligner(SCALES)


@pytest.fixture(scope="module")
def videos(tiny):
    """Two live videos whose 4 frames all have a detectable face."""
    rows = tiny.protocol[tiny.protocol["attack_type"] == "live"].head(2)
    return [str(tiny.root / p) for p in rows["path"]]


@pytest.fixture(scope="module")
def bad_media(tmp_path_factory, tiny):
    """One file per problem, plus a grey and an RGBA image of a real face."""
    d = tmp_path_factory.mktemp("bad")
    (d / "garbage.avi").write_bytes(b"not a video at all" * 50)
    vw = cv2.VideoWriter(str(d / "zero.avi"), cv2.CAP_OPENCV_MJPEG,
                         cv2.VideoWriter_fourcc(*"MJPG"), 15, (64, 48))
    vw.release()
    (d / "corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    cv2.imwrite(str(d / "blank.png"), np.zeros((240, 320, 3), np.uint8))
    frame = tiny.read_frames(tiny.video_ids[0])[0]
    cv2.imwrite(str(d / "grey.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(d / "rgba.png"), np.dstack([bgr, np.full(frame.shape[:2], 255, np.uint8)]))
    names = ["garbage.avi", "zero.avi", "corrupt.jpg", "blank.png", "grey.png", "rgba.png",
             "missing.mp4"]
    return {n.split(".")[0]: str(d / n) for n in names}


def test_process_media_on_a_good_video(videos, aligner):
    items, counts = process_media(videos[0], aligner)
    assert counts == collections.Counter()
    assert [it.frame_idx for it in items] == [0, 1]
    it = items[0]
    assert isinstance(it, FrameItem) and it.path == videos[0]
    assert it.crops.shape == (7, 128, 128, 3) and it.crops.dtype == np.uint8
    assert it.landmarks.shape == (5, 2) and it.landmarks.dtype == np.float32
    assert it.box.shape == (4,) and it.box.dtype == np.float32
    assert it.pad_fraction.shape == (7,) and it.pad_fraction.dtype == np.float32
    items, _ = process_media(videos[0], aligner, n_frames=1)
    assert [it.frame_idx for it in items] == [0]


@pytest.mark.parametrize(
    "key, reason",
    [("missing", "missing_file"), ("garbage", "unreadable_file"), ("zero", "empty_video"),
     ("corrupt", "unreadable_file"), ("blank", "no_face")],
)
def test_process_media_counts_instead_of_raising(bad_media, aligner, key, reason):
    items, counts = process_media(bad_media[key], aligner, n_frames=4)
    assert items == [] and counts == collections.Counter({reason: 1})
    assert reason in SKIP_REASONS


@pytest.mark.parametrize("key", ["grey", "rgba"])
def test_grey_and_rgba_images_are_aligned(bad_media, aligner, key):
    items, counts = process_media(bad_media[key], aligner)
    assert not counts and len(items) == 1
    assert items[0].crops.shape == (7, 128, 128, 3) and items[0].crops.dtype == np.uint8


def test_face_location_boxes_replace_the_detector(tiny, videos):
    vid = tiny.protocol.set_index("path").loc[videos[0].split(str(tiny.root) + "/")[1], "video_id"]
    gt_box = tiny.load_gt(vid)["face_box"][0]
    al = FaceAligner(SCALES)
    calls = []
    real = al._detector
    al._detector = lambda *a: calls.append(1) or real(*a)
    items, counts = process_media(videos[0], al, boxes={0: tuple(gt_box), 1: None})
    assert not calls, "the detector ran although every frame had a box"
    assert counts == {"no_face": 1} and [it.frame_idx for it in items] == [0]
    assert np.allclose(items[0].box, gt_box, atol=1e-3)
    items, counts = process_media(videos[0], al, boxes={0: tuple(gt_box)})  # frame 1: detector
    assert len(calls) == 1 and len(items) == 2 and not counts


def test_align_batch_accounts_for_everything(videos, bad_media):
    keys = ["missing", "garbage", "zero", "corrupt", "blank", "grey", "rgba"]
    paths = [videos[0], *[bad_media[k] for k in keys], videos[1]]
    res = align_batch(paths, n_frames=4, workers=1, progress=False)
    assert isinstance(res, BatchResult) and isinstance(res.skips, SkipLog)
    assert res.skips.counts == {"missing_file": 1, "unreadable_file": 2, "empty_video": 1,
                                "no_face": 1}
    # 2 + 2 video frames, blank, grey, rgba images
    assert res.n_frames_seen == 7 and len(res.items) == 6 and res.files_read == 5
    assert len(res.items) + res.skips.counts["no_face"] == res.n_frames_seen
    res.check()
    assert [it.path for it in res.items] == [videos[0]] * 2 + [bad_media["grey"],
                                                              bad_media["rgba"]] + [videos[1]] * 2
    assert (bad_media["blank"] + "#0", "no_face") in res.skips.items
    assert (bad_media["missing"], "missing_file") in res.skips.items
    assert res.report() == (
        "9 files, 5 read; 4 files skipped: 1 missing_file, 2 unreadable_file, 1 empty_video; "
        "7 frames seen, 6 aligned; 1 frame with no face"
    )


def test_check_catches_counts_that_do_not_add_up():
    res = BatchResult(items=[], skips=SkipLog(), n_frames_seen=2, n_files=1, files_read=1)
    with pytest.raises(AssertionError):
        res.check()


def test_two_workers_give_the_same_ordered_result(videos, bad_media):
    paths = [bad_media["missing"], videos[0], bad_media["blank"], videos[1]]
    one = align_batch(paths, scales=(1.0, 1.3), workers=1, progress=False)
    two = align_batch(paths, scales=(1.0, 1.3), workers=2, progress=False)
    assert [(i.path, i.frame_idx) for i in one.items] == [(i.path, i.frame_idx) for i in two.items]
    for a, b in zip(one.items, two.items, strict=True):
        assert a.crops.shape == (2, 128, 128, 3)
        assert np.array_equal(a.crops, b.crops) and np.array_equal(a.landmarks, b.landmarks)
    assert one.skips.items == two.skips.items and one.report() == two.report()


def test_bad_arguments(videos):
    with pytest.raises(ValueError, match="workers"):
        align_batch(videos, workers=0, progress=False)
    with pytest.raises(ValueError, match="every"):
        align_batch(videos, every=0, progress=False)
    with pytest.raises(ValueError, match="boxes"):
        align_batch(videos, boxes=[None], progress=False)


def test_frame_folders_are_aligned_and_their_bad_frames_counted(tiny, tmp_path):
    """A frame folder is one file: its sampled frames are aligned with frame indices as a
    video's; an undecodable frame, an empty folder and a folder without images are counted."""
    frames = tiny.read_frames(tiny.video_ids[0])  # 2 frames with a face
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        folder.mkdir()
        for k in range(3):
            cv2.imwrite(str(folder / f"{k:03d}.png"), cv2.cvtColor(frames[k % 2],
                                                                    cv2.COLOR_RGB2BGR))
    (bad / "001.png").write_bytes(b"not a png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "list.txt").write_text("frames elsewhere")
    paths = [str(good), str(bad), str(tmp_path / "empty"), str(tmp_path / "text")]
    res = align_batch(paths, n_frames=3, workers=1, progress=False)
    res.check()
    assert res.skips.counts == {"unreadable_frame": 1, "empty_folder": 2}
    assert [(it.path, it.frame_idx) for it in res.items] == [
        (str(good), 0), (str(good), 1), (str(good), 2), (str(bad), 0), (str(bad), 2)]
    assert "2 files skipped: 2 empty_folder" in res.report()
    assert "1 frame(s) that did not decode" in res.report()
    assert set(res.skips.counts) <= set(SKIP_REASONS)
