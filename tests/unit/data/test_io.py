"""fas_lib.data.io: images, videos and frame folders in, RGB uint8 out, one clear MediaError for
every bad file.

Every file here is written into ``tmp_path`` and is tiny (64 x 48 pixels, at most 12 frames).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fas_lib.data.io import (
    DEFAULT_FPS,
    MediaError,
    frame_count,
    frame_files,
    is_video,
    iter_frames,
    natural_key,
    read_image,
    sample_indices,
    video_fps,
)

W, H = 64, 48


def write_video(path, n_frames: int, fps: int = 15):
    """An MJPG AVI whose frame i is filled with grey value 30 * i (n_frames may be 0)."""
    fourcc = cv2.VideoWriter_fourcc(*"MJPG")
    vw = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, fourcc, fps, (W, H))
    assert vw.isOpened()
    for i in range(n_frames):
        vw.write(np.full((H, W, 3), 30 * i, np.uint8))
    vw.release()
    return path


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.avi", 7)


# -- images ------------------------------------------------------------------------------------


def test_missing_image_is_missing_file(tmp_path):
    with pytest.raises(MediaError) as err:
        read_image(tmp_path / "nope.png")
    assert err.value.reason == "missing_file"
    assert "nope.png" in str(err.value) and err.value.path.endswith("nope.png")
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    "name, payload",
    [
        ("corrupt.jpg", b"\xff\xd8\xff\xe0 this is not really a jpeg" * 3),
        ("corrupt.png", b"\x89PNG\r\n\x1a\n truncated png"),
        ("notes.png", b"hello, I am a text file"),
        ("empty.jpg", b""),
    ],
)
def test_corrupt_image_is_unreadable(tmp_path, name, payload):
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(MediaError) as err:
        read_image(path)
    assert err.value.reason == "unreadable_file"
    assert name in str(err.value)


def test_folder_is_unreadable(tmp_path):
    with pytest.raises(MediaError) as err:
        read_image(tmp_path)
    assert err.value.reason == "unreadable_file" and "folder" in str(err.value)


def test_colour_image_comes_back_rgb(tmp_path):
    bgr = np.zeros((H, W, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    cv2.imwrite(str(tmp_path / "red.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 100])
    for name in ("red.png", "red.jpg"):
        img = read_image(tmp_path / name)
        assert img.shape == (H, W, 3) and img.dtype == np.uint8
        assert abs(int(img[..., 0].mean()) - 200) <= 2 and img[..., 2].max() <= 3, name


def test_grey_image_becomes_three_equal_channels(tmp_path):
    grey = np.tile(np.arange(W, dtype=np.uint8)[None] * 3, (H, 1))
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    img = read_image(tmp_path / "grey.png")
    assert img.shape == (H, W, 3)
    assert np.array_equal(img[..., 0], grey) and np.array_equal(img[..., 1], grey)
    assert np.array_equal(img[..., 2], grey)


def test_rgba_is_composited_on_white(tmp_path):
    bgra = np.zeros((H, W, 4), np.uint8)
    bgra[..., 1] = 180  # green
    bgra[:, : W // 2, 3] = 255  # left half opaque, right half fully transparent
    bgra[:, W // 2 :, 3] = 0
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    img = read_image(tmp_path / "rgba.png")
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    assert (img[:, : W // 2] == [0, 180, 0]).all()
    assert (img[:, W // 2 :] == 255).all()


def test_sixteen_bit_is_scaled_to_eight(tmp_path):
    grey16 = np.zeros((H, W), np.uint16)
    grey16[:, : W // 2] = 65535
    grey16[:, W // 2 :] = 32896  # 128 * 257
    cv2.imwrite(str(tmp_path / "deep.png"), grey16)
    assert cv2.imread(str(tmp_path / "deep.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    img = read_image(tmp_path / "deep.png")
    assert img.dtype == np.uint8 and img.shape == (H, W, 3)
    assert (img[:, : W // 2] == 255).all() and (img[:, W // 2 :] == 128).all()


# -- sampling ----------------------------------------------------------------------------------


def test_is_video_by_extension():
    assert is_video("a/b.avi") and is_video("X.MOV") and is_video("c.mp4") and is_video("d.webm")
    assert not is_video("a.jpg") and not is_video("a.png") and not is_video("avi")


def test_sample_indices():
    assert sample_indices(5) == [0, 1, 2, 3, 4]
    assert sample_indices(10, every=3) == [0, 3, 6, 9]
    assert sample_indices(10, n_frames=4) == [0, 3, 6, 9]
    assert sample_indices(100, n_frames=1) == [0]
    assert sample_indices(3, n_frames=8) == [0, 1, 2]
    assert sample_indices(20, every=2, n_frames=3) == [0, 8, 18]  # among 0, 2, ..., 18
    assert sample_indices(0, n_frames=4) == []
    for bad in ({"every": 0}, {"n_frames": 0}, {"every": -2}):
        with pytest.raises(ValueError):
            sample_indices(10, **bad)
    with pytest.raises(ValueError):
        sample_indices(-1)


# -- videos ------------------------------------------------------------------------------------


def test_iter_frames_all_every_and_evenly_spaced(video):
    frames = list(iter_frames(video))
    assert [i for i, _ in frames] == list(range(7))
    for i, f in frames:
        assert f.shape == (H, W, 3) and f.dtype == np.uint8
        assert abs(float(f.mean()) - 30 * i) < 3, "frame i must be the i-th frame written"
    assert [i for i, _ in iter_frames(video, every=3)] == [0, 3, 6]
    got = list(iter_frames(video, n_frames=3))
    assert [i for i, _ in got] == [0, 3, 6]
    assert abs(float(got[1][1].mean()) - 90) < 3


def test_iter_frames_on_an_image_yields_it_once(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((H, W, 3), 77, np.uint8))
    out = list(iter_frames(tmp_path / "a.png", n_frames=4))
    assert len(out) == 1 and out[0][0] == 0 and out[0][1].shape == (H, W, 3)


def test_missing_video(tmp_path):
    with pytest.raises(MediaError) as err:
        list(iter_frames(tmp_path / "gone.avi"))
    assert err.value.reason == "missing_file"


@pytest.mark.parametrize("payload", [b"", b"this is not a video: truncated download\x00\x01" * 20])
def test_garbage_video_is_unreadable(tmp_path, payload):
    path = tmp_path / "bad.mp4"
    path.write_bytes(payload)
    with pytest.raises(MediaError) as err:
        list(iter_frames(path))
    assert err.value.reason == "unreadable_file" and "bad.mp4" in str(err.value)


def test_truncated_video_is_reported(video, tmp_path):
    data = video.read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[: len(data) // 3])
    try:
        frames = list(iter_frames(path))
    except MediaError as err:
        assert err.reason in ("unreadable_file", "empty_video")
    else:  # some backends recover the frames before the cut: they must be real frames
        assert 0 < len(frames) < 7


def test_zero_frame_video_is_empty(tmp_path):
    path = write_video(tmp_path / "zero.avi", 0)
    assert path.stat().st_size > 0
    with pytest.raises(MediaError) as err:
        list(iter_frames(path, n_frames=4))
    assert err.value.reason == "empty_video" and "zero.avi" in str(err.value)
    with pytest.raises(MediaError):
        list(iter_frames(path))


def test_bad_sampling_arguments_raise_valueerror_not_mediaerror(video):
    with pytest.raises(ValueError) as err:
        list(iter_frames(video, every=0))
    assert not isinstance(err.value, MediaError)


class _LyingCapture:
    """A real capture whose header frame count is replaced (some containers get it wrong)."""

    def __init__(self, cap, count):
        self._cap, self._count = cap, count

    def get(self, prop):
        return self._count if prop == cv2.CAP_PROP_FRAME_COUNT else self._cap.get(prop)

    def __getattr__(self, name):
        return getattr(self._cap, name)


@pytest.mark.parametrize("header_count", [20, 0, -1])
def test_wrong_header_frame_count_still_gives_evenly_spaced_frames(video, monkeypatch,
                                                                   header_count):
    import fas_lib.data.io as fio

    real = fio._open_video
    monkeypatch.setattr(fio, "_open_video", lambda p: _LyingCapture(real(p), header_count))
    got = list(iter_frames(video, n_frames=3))
    assert sorted(i for i, _ in got) == [0, 3, 6], "7 frames really: 0, 3, 6"
    for i, f in got:
        assert abs(float(f.mean()) - 30 * i) < 3


def test_video_fps_from_header_or_default(tmp_path):
    assert video_fps(write_video(tmp_path / "a.avi", 3, fps=12)) == 12
    (tmp_path / "bad.avi").write_bytes(b"not a video")
    assert video_fps(tmp_path / "bad.avi") == DEFAULT_FPS
    assert video_fps(tmp_path / "photo.png") == DEFAULT_FPS


# -- frame folders (one folder of image frames per video) ---------------------------------------


def write_frames(folder, n: int, ext: str = ".png"):
    """Frames ``frame_1`` ... ``frame_<n>``, frame k (0-based) filled with grey value 20 * k."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        cv2.imwrite(str(folder / f"frame_{k + 1}{ext}"), np.full((H, W, 3), 20 * k, np.uint8))
    return folder


def test_frame_folder_is_sampled_like_a_video_in_natural_order(tmp_path):
    folder = write_frames(tmp_path / "v", 12)  # frame_10 sorts before frame_2 as strings
    assert [p.name for p in frame_files(folder)][:3] == ["frame_1.png", "frame_2.png",
                                                         "frame_3.png"]
    assert frame_count(folder) == 12
    for kw in ({}, {"n_frames": 4}, {"every": 5}, {"every": 2, "n_frames": 3}, {"n_frames": 20}):
        got = list(iter_frames(folder, **kw))
        assert [i for i, _ in got] == sample_indices(12, kw.get("every"), kw.get("n_frames"))
        for i, frame in got:  # frame i is the folder's i-th image, decoded as RGB
            assert frame.shape == (H, W, 3) and int(frame.mean()) == 20 * i
    assert natural_key("frame_2.png") < natural_key("frame_10.png")


def test_frame_folder_without_images_is_a_clear_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaError) as err:
        list(iter_frames(tmp_path / "empty"))
    assert err.value.reason == "empty_folder" and "is empty" in str(err.value)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no frames here")
    (tmp_path / "notes" / ".hidden.png").write_bytes(b"")  # hidden files are not frames
    with pytest.raises(MediaError) as err:
        frame_count(tmp_path / "notes")
    assert err.value.reason == "empty_folder" and "readme.txt" in str(err.value)
    with pytest.raises(MediaError) as err:
        list(iter_frames(tmp_path / "gone"))
    assert err.value.reason == "missing_file"


def test_unreadable_frames_are_reported_and_the_others_kept(tmp_path):
    folder = write_frames(tmp_path / "v", 5)
    (folder / "frame_3.png").write_bytes(b"truncated")  # frame 2
    bad: list[tuple[int, str]] = []
    got = list(iter_frames(folder, on_bad_frame=lambda i, e: bad.append((i, e.reason))))
    assert [i for i, _ in got] == [0, 1, 3, 4] and bad == [(2, "unreadable_file")]
    with pytest.raises(MediaError) as err:  # no hook: the bad frame is an error, not a drop
        list(iter_frames(folder))
    assert err.value.reason == "unreadable_file" and "frame 2" in str(err.value)
    for name in ("frame_1.png", "frame_2.png", "frame_4.png", "frame_5.png"):
        (folder / name).write_bytes(b"")
    bad.clear()
    with pytest.raises(MediaError) as err:  # nothing decodes: an empty video, after the hook
        list(iter_frames(folder, n_frames=2, on_bad_frame=lambda i, e: bad.append((i, e.reason))))
    assert err.value.reason == "empty_video" and [i for i, _ in bad] == [0, 4]


def test_frame_count_of_videos_and_images(video, tmp_path):
    assert frame_count(video) == 7
    cv2.imwrite(str(tmp_path / "one.jpg"), np.zeros((H, W, 3), np.uint8))
    assert frame_count(tmp_path / "one.jpg") == 1
