"""Unit tests of fas_lib.apps.predict, fas_lib.apps.predict_show and ``fas predict``.

Fixtures are tiny: the SynthSpoof ``synth`` of tests/conftest.py, its ``reference`` crop cache
and ``tiny_run`` (MS-FANS trained 3 epochs on it); the two course portraits; a corrupt file.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fas_lib.apps.cli import main
from fas_lib.apps.predict import Predictor, media_files, portrait_files, run_threshold
from fas_lib.apps.predict_show import FrameSaver, format_report
from fas_lib.cache.loader import CropDataset, centre_input
from fas_lib.data.io import iter_frames, read_image
from fas_lib.training.config import scale_indices

pytestmark = pytest.mark.usefixtures("one_thread", "private_data_dir")


@pytest.fixture(scope="module")
def predictor(tiny_run) -> Predictor:
    return Predictor.from_run(tiny_run, device="cpu", every=1, keep_crops=True)


def frame_of(root: Path, rel: str, frame_idx: int) -> np.ndarray:
    return next(f for i, f in iter_frames(root / rel) if i == frame_idx)


def test_predict_cuts_exactly_the_cached_crops(predictor, reference, synth, tiny_run):
    """The same preprocessing as training: the crops predict cuts from a test frame are the
    cached ones byte for byte, the model input is the scorer's, and so is the score."""
    frames = reference.frames("test")
    idx = scale_indices(reference, predictor.scales)
    scores = pd.read_csv(tiny_run / "scores.csv").query("split == 'test'")
    assert len(frames) >= 2
    for row in range(len(frames)):
        rec = frames.iloc[row]
        faces = predictor.predict_frame(frame_of(synth, rec["path"], rec["frame_idx"]))
        cached = reference.crops("test")[row][idx]
        assert np.array_equal(faces[0].crops, cached), rec["path"]
        assert np.array_equal(faces[0].box.astype(np.float32), reference.boxes("test")[row])
        x = centre_input(faces[0].crops[None])
        x_cache = CropDataset(reference, "test", idx, train=False, size=112).batch([row])[0]
        assert x.dtype == x_cache.dtype and bool((x == x_cache).all())
        want = scores[(scores.video_id == rec["video_id"]) &
                      (scores.frame_idx == rec["frame_idx"])].score.item()
        assert faces[0].score == pytest.approx(want, abs=1e-6)


def test_threshold_is_the_runs_dev_eer_threshold(predictor, tiny_run):
    res = json.loads((tiny_run / "results.json").read_text())
    thr = run_threshold(tiny_run)
    assert thr.value == res["metrics"]["frame"]["dev_threshold"]
    assert "dev split" in thr.source and str(tiny_run) in thr.source
    no_dev = {**res, "metrics": {**res["metrics"], "threshold_split": "test"}}
    t2 = run_threshold(tiny_run, no_dev)
    assert t2.value == res["metrics"]["frame"]["test_eer_threshold"]
    assert "no dev split" in t2.source
    with pytest.raises(ValueError, match="not a finished run"):
        run_threshold(tiny_run, {"complete": False})


def test_images_video_folder_and_bad_files_are_scored_or_counted(predictor, synth, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, src in portrait_files().items():
        (folder / f"{name}{src.suffix}").write_bytes(src.read_bytes())
    (folder / "corrupt.jpg").write_bytes(b"not a jpeg at all")
    (folder / "notes.txt").write_text("ignored: not media")
    cv2.imwrite(str(folder / "blank.png"), np.full((120, 160, 3), 90, np.uint8))  # no face
    video = next(synth.rglob("*live*.avi"))
    report = predictor.predict_paths([folder, video, tmp_path / "missing.png"])
    assert report.skips.counts == {"unreadable_file": 1, "no_face": 1, "missing_file": 1}
    by_source = {Path(m.source).name: m for m in report.media}
    assert set(by_source) == {"astronaut.png", "grace_hopper.jpg", "blank.png", video.name}
    assert len(by_source["astronaut.png"].faces) == 1
    vid = by_source[video.name]
    assert vid.kind == "video" and vid.n_frames == 3 and len(vid.faces) == 3
    assert vid.video_score == pytest.approx(np.mean([f.score for f in vid.faces]))
    for f in report.faces:
        assert 0.0 <= f.score <= 1.0 and f.live == (f.score >= report.threshold.value)
        assert f.box.shape == (4,) and f.landmarks.shape == (5, 2)
        assert set(f.weights) == {"1.1", "1.2", "1.3"}
    text = format_report(report)
    assert "corrupt.jpg" in text and "video score" in text and "dev split" in text


def test_several_faces_in_one_image(predictor):
    a, g = (read_image(p) for p in portrait_files().values())
    h = min(a.shape[0], g.shape[0])
    both = np.concatenate([a[:h], g[:h]], axis=1)
    faces = predictor.predict_frame(both, "two.png")
    boxes = [f.box.tolist() for f in faces]
    # each portrait's face is found about where it is found alone (HOG's window grid moves
    # it by a few pixels; dlib may add a false face in the joined image)
    alone_a = predictor.predict_frame(a)[0].box
    alone_g = predictor.predict_frame(g[:h])[0].box + [a.shape[1], 0, a.shape[1], 0]
    for alone in (alone_a, alone_g):
        assert min(np.abs(np.array(boxes) - alone).max(axis=1)) <= 16, (alone, boxes)
    assert [f.face for f in faces] == list(range(len(faces)))
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    assert areas == sorted(areas, reverse=True)  # largest first
    one = Predictor.from_run(predictor.run, device="cpu", max_faces=1).predict_frame(both)
    assert len(one) == 1 and one[0].box.tolist() == boxes[0]


def test_camera_reads_a_video_file_or_a_capture(predictor, synth, monkeypatch):
    video = next(synth.rglob("*replay_phone*.avi"))
    report = predictor.predict_camera(str(video), max_frames=2)
    assert len(report.media) == 1 and report.media[0].kind == "camera"
    assert report.media[0].n_frames == 2 and report.media[0].video_score is not None

    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for _, f in iter_frames(video)]

    class FakeCapture:  # a webcam delivering the video's frames, then nothing
        def __init__(self, index):
            assert index == 0
            self.frames = list(frames)

        def isOpened(self):  # noqa: N802 - OpenCV's name
            return True

        def read(self):
            return (True, self.frames.pop(0)) if self.frames else (False, None)

        def release(self):
            pass

    monkeypatch.setattr("fas_lib.apps.predict.cv2.VideoCapture", FakeCapture)
    report = predictor.predict_camera(0, max_frames=10)
    assert report.media[0].source == "camera:0" and report.media[0].n_frames == len(frames)


def test_closed_camera_is_a_counted_skip(predictor, tmp_path):
    report = predictor.predict_camera(str(tmp_path / "no_camera_here.avi"), max_frames=3)
    assert not report.media and report.skips.counts == {"camera_closed": 1}


def test_media_files_expands_folders(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.JPG", "a/b/y.avi", "a/z.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [Path(p).name for p in media_files([tmp_path / "a", tmp_path / "q.bin"])] == \
        ["y.avi", "x.JPG", "q.bin"]


def test_frame_saver_writes_annotated_frame_and_crops(predictor, tmp_path):
    rgb = read_image(portrait_files()["astronaut"])
    faces = predictor.predict_frame(rgb, "astronaut.png")
    saver = FrameSaver(predictor.scales, tmp_path)
    saver("astronaut.png", 0, rgb, faces)
    assert sorted(p.name for p in saver.written) == ["astronaut.png", "astronaut_face0_crops.png"]
    strip = read_image(tmp_path / "astronaut_face0_crops.png")
    assert strip.shape == (128, 3 * 128, 3)
    assert read_image(tmp_path / "astronaut.png").shape == rgb.shape


def test_cli_predict_json_table_and_exit_status(tiny_run, synth, tmp_path, capsys):
    portrait = str(portrait_files()["grace_hopper"])
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    assert main(["predict", portrait, str(tmp_path / "bad.png"), "--run", str(tiny_run),
                 "--json", "--device", "cpu", "--save-dir", str(tmp_path / "out")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_faces"] == 1 and out["skips"]["counts"] == {"unreadable_file": 1}
    assert out["threshold"]["source"].startswith("EER threshold")
    assert (tmp_path / "out" / "grace_hopper_face0_crops.png").is_file()
    # nothing scored: exit status 1, one line on stderr, no traceback
    assert main(["predict", str(tmp_path / "bad.png"), "--run", str(tiny_run)]) == 1
    captured = capsys.readouterr()
    assert "unreadable_file" in captured.out and "Traceback" not in captured.err
    assert captured.err.strip() == "fas predict: no face could be scored"


@pytest.mark.parametrize("make", ["missing", "not_a_run", "foreign_checkpoint"])
def test_cli_predict_wrong_run_folder_is_one_line(make, tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    if make != "missing":
        run.mkdir()
    if make == "foreign_checkpoint":
        import torch

        for name in ("results.json", "scores.csv"):
            (run / name).write_bytes((tiny_run / name).read_bytes())
        ck = torch.load(tiny_run / "checkpoint.pt", weights_only=True)
        ck["model"] = {"backbone.weight": torch.zeros(1)}
        torch.save(ck, run / "checkpoint.pt")
    status = main(["predict", str(portrait_files()["astronaut"]), "--run", str(run)])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("fas predict: error:")
