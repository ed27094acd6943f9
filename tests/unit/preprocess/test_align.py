"""fas_lib.preprocess.align and fas_lib.studies.alignment: crops of real faces, padding, given
boxes, accuracy vs GT.

The pure geometry (no dlib) is tested in ``test_geometry.py``.

Fixtures are tiny: skimage's astronaut portrait (512 x 512) and a 3-subject, 2-frame, one-quality
SynthSpoof (36 frames at 640 x 480) generated once for this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from fas_lib.preprocess.align import FaceAligner
from fas_lib.preprocess.geometry import box_in_crop, check_box
from fas_lib.studies.alignment import (
    MIN_IOU,
    box_iou,
    box_matches,
    evaluate_alignment,
    landmark_error,
    select_videos,
)
from fas_lib.synthspoof import SynthConfig, generate

SCALES = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
TINY = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1",), live_per_session=1)
#: measured on TINY: detection rate 35/36 = 0.97, mean landmark error 0.035 IOD; bounds with margin
MIN_DETECTION_RATE = 0.9
MAX_MEAN_ERROR_IOD = 0.08


pytestmark = pytest.mark.usefixtures("private_data_dir")


@pytest.fixture(scope="module")
def aligner():
    return FaceAligner(SCALES)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(TINY, root=tmp_path_factory.mktemp("tiny") / "ds", workers=1, progress=False)


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def synth_frame(tiny):
    vid = tiny.video_ids[0]
    return tiny.read_frames(vid)[0], tiny.load_gt(vid), 0


def _inside(corners, lo=0.0, hi=128.0, tol=0.5):
    return bool((corners >= lo - tol).all() and (corners <= hi + tol).all())


# -- geometry ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["astronaut", "synthetic"])
def test_scale_one_crop_contains_the_face_box(aligner, astronaut, synth_frame, which):
    frame = astronaut if which == "astronaut" else synth_frame[0]
    res = aligner.align(frame)
    assert res is not None
    assert res.crops.shape == (7, 128, 128, 3) and res.crops.dtype == np.uint8
    assert res.pad_fraction.shape == (7,) and res.landmarks.shape == (5, 2)
    corners = box_in_crop(res.matrix, res.box, 1.0, 128)
    assert _inside(corners), corners
    # and it fills a good part of it (the crop is the face, not the whole frame)
    side = corners[:, 0].max() - corners[:, 0].min()
    assert 0.6 * 128 < side <= 128.5


def _portraits():
    import matplotlib

    grace = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    return {"astronaut": data.astronaut(), "grace_hopper": cv2.cvtColor(grace, cv2.COLOR_BGR2RGB)}


def test_5_and_68_point_modes_give_the_same_face_size(aligner):
    # a crop "scale" must mean the same face size whichever landmarks align it: the pixel ->
    # face-box scale of the two similarity fits agrees within 2 % on the course's portraits
    # (with the first 68-point template the face came out 3.5 % and 5.6 % smaller).
    aligner68 = FaceAligner(SCALES, landmarks="68")
    for name, img in _portraits().items():
        box = aligner.detect(img)[0]
        m5 = aligner.alignment_matrix(aligner.predict_landmarks(img, box))
        m68 = aligner68.alignment_matrix(aligner68.predict_landmarks(img, box))
        ratio = np.sqrt(abs(np.linalg.det(m68[:, :2])) / abs(np.linalg.det(m5[:, :2])))
        assert abs(ratio - 1) < 0.02, f"{name}: 68-point face size / 5-point = {ratio:.3f}"


def test_crops_zoom_out_with_scale(aligner, astronaut):
    res = aligner.align(astronaut)
    sides = [np.ptp(box_in_crop(res.matrix, res.box, s, 128)[:, 0]) for s in SCALES]
    assert all(a > b for a, b in zip(sides, sides[1:], strict=False))
    assert sides[0] / sides[-1] == pytest.approx(1.5 / 0.9, rel=1e-6)
    # the centre of the 1.5 crop, blown up by 1.5, shows what the 1.0 crop shows
    c10, c15 = res.crops[SCALES.index(1.0)], res.crops[SCALES.index(1.5)]
    k = round(128 / 1.5)
    lo = (128 - k) // 2
    centre = cv2.resize(c15[lo : lo + k, lo : lo + k], (128, 128), interpolation=cv2.INTER_LINEAR)
    inner = slice(16, 112)
    corr = np.corrcoef(centre[inner, inner].ravel(), c10[inner, inner].ravel())[0, 1]
    assert corr > 0.9
    other = np.corrcoef(c15[inner, inner].ravel(), c10[inner, inner].ravel())[0, 1]
    assert other < corr


def test_padding_is_zero_inside_and_positive_near_the_edge(aligner, astronaut, synth_frame):
    res = aligner.align(synth_frame[0])  # the face is in the middle of a 640 x 480 frame
    assert (res.pad_fraction == 0).all()
    box = aligner.align(astronaut).box.astype(int)
    edge = np.ascontiguousarray(astronaut[:, box[0] - 5 :])  # face 5 px from the left edge
    res = aligner.align(edge)
    assert res is not None
    assert res.pad_fraction[-1] > 0.1  # scale 1.5 reaches far outside the frame
    assert np.all(np.diff(res.pad_fraction) >= 0)  # more padding as the crop grows
    # padded pixels are black (pad_mode "constant") on the left side of the big crop
    assert res.crops[-1][:, :5].max() == 0


def test_alignment_removes_head_roll(aligner, astronaut):
    def angle(img):
        m = aligner.align(img).matrix
        return np.degrees(np.arctan2(m[1, 0], m[0, 0]))

    h, w = astronaut.shape[:2]
    base = angle(astronaut)
    for roll in (15.0, -15.0):
        rot = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), roll, 1.0), (w, h))
        assert abs((angle(rot) - base) - roll) < 2.5, roll


# -- inputs ------------------------------------------------------------------------------------


def test_grey_and_rgba_frames_give_rgb_crops(aligner, astronaut):
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    for img in (grey, grey[:, :, None], rgba):
        res = aligner.align(img)
        assert res is not None
        assert res.crops.shape == (7, 128, 128, 3) and res.crops.dtype == np.uint8
    res = aligner.align(grey)
    assert np.array_equal(res.crops[..., 0], res.crops[..., 2])


def test_blank_frame_has_no_face(aligner):
    assert aligner.align(np.zeros((240, 320, 3), np.uint8)) is None
    assert aligner.detect(np.full((240, 320), 128, np.uint8)) == []


def test_detect_accepts_grey_and_rgb_alike(aligner, synth_frame):
    rgb = synth_frame[0]
    a = aligner.detect(rgb)
    b = aligner.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert len(a) == len(b) == 1 and np.array_equal(a[0], b[0])


def test_given_box_skips_the_detector(synth_frame):
    frame, gt, t = synth_frame
    al = FaceAligner(SCALES)

    def no_detector(*args, **kwargs):
        raise AssertionError("the detector must not run when a box is given")

    detected = al.align(frame)
    al._detector = no_detector
    res = al.align(frame, box=gt["face_box"][t])
    assert res is not None and res.n_faces == 1
    assert np.allclose(res.box, gt["face_box"][t])
    assert res.crops.shape == (7, 128, 128, 3)
    # the landmarks are as good as with the detector's own box
    assert landmark_error(res.landmarks, gt["landmarks5"][t]) < 0.1 * gt["iod"][t]
    assert landmark_error(res.landmarks, detected.landmarks) < 0.1 * gt["iod"][t]
    with pytest.raises(AssertionError):
        al.align(frame)


@pytest.mark.parametrize("bad", [(10, 10, 5, 20), (1, 2, 3), (0, 0, np.nan, 5), "face"])
def test_bad_box_is_a_clear_error(aligner, astronaut, bad):
    with pytest.raises(ValueError, match="box"):
        aligner.align(astronaut, box=bad)
    with pytest.raises(ValueError):
        check_box(bad)


def test_bad_parameters(aligner):
    for scales in ((), (1.0, np.nan), (1.0, np.inf), (0.0,)):
        with pytest.raises(ValueError, match="scales"):
            FaceAligner(scales=scales)
    with pytest.raises(ValueError, match="landmarks"):
        FaceAligner(landmarks="7")
    with pytest.raises(ValueError):
        aligner.align(np.zeros((4, 4, 2), np.uint8))


# -- accuracy against SynthSpoof's ground truth -----------------------------------------------


def test_box_iou_and_match_rule():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    pts = np.array([[4.0, 4], [6, 4], [5, 5], [4, 6], [6, 6]])
    assert box_matches((0, 0, 10, 10), (0, 0, 10, 10), pts)
    assert box_matches((3, 3, 7, 7), (-20, -20, 30, 30), pts)  # IoU 0.0064 but centre inside
    assert not box_matches((20, 20, 30, 30), (0, 0, 10, 10), pts)
    assert MIN_IOU == 0.3


def test_detection_and_landmark_accuracy_on_synthetic_frames(tiny):
    report = evaluate_alignment(tiny, progress=False)
    assert len(report.frames) == 36 and report.n_videos == 18
    assert report.detection_rate >= MIN_DETECTION_RATE
    assert report.mean_error_iod < MAX_MEAN_ERROR_IOD
    det = report.frames[report.frames["detected"]]
    assert (det["err_px"] > 0).all() and (det["iou"] >= 0).all()
    assert np.allclose(det["err_iod"], det["err_px"] / det["iod"])
    table = report.table()
    assert ("attack_type", "replay_screen") in table.index and ("quality", "normal") in table.index
    assert table.loc[("all", "all"), "frames"] == 36
    assert table.xs("attack_type")["frames"].sum() == 36
    d = report.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["detection_rate"] == pytest.approx(report.detection_rate)
    assert set(d["by_attack_type"]) == {"live", "print_flat", "print_warped", "print_cut",
                                        "replay_phone", "replay_screen"}


def test_evaluation_options(tiny):
    part = select_videos(tiny.protocol, max_videos=6)
    assert sorted(part["attack_type"]) == sorted(
        ["live", "print_flat", "print_warped", "print_cut", "replay_phone", "replay_screen"]
    ), "the first videos must cover every attack type"
    report = evaluate_alignment(tiny, max_videos=6, frames_per_video=1, split="test",
                                progress=False)
    assert len(report.frames) == 6 and set(report.frames["split"]) == {"test"}
    assert (report.frames["frame_idx"] == 0).all()
    with pytest.raises(ValueError, match="split"):
        evaluate_alignment(tiny, split="validation", progress=False)
    with pytest.raises(ValueError):
        evaluate_alignment(tiny, frames_per_video=0, progress=False)


def test_undecodable_video_is_counted_not_raised(tiny, tmp_path):
    import shutil

    from fas_lib.synthspoof import SynthSpoofReader

    copy = tmp_path / "copy"
    shutil.copytree(tiny.root, copy)
    ds = SynthSpoofReader(copy)
    first = ds.protocol.iloc[0]
    (copy / first["path"]).write_bytes(b"garbage")
    report = evaluate_alignment(ds, max_videos=2, progress=False)
    assert report.skips.counts == {"unreadable_file": 1}
    assert set(report.frames["video_id"]) == set(select_videos(ds.protocol, max_videos=2)
                                                  ["video_id"]) - {first["video_id"]}
