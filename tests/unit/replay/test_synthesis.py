"""Replay synthesis from live videos: determinism, geometry, alignability, moire, batch skips,
and the synthesizer's own display and camera (independent of SynthSpoof's renderer).

Frames are small (320 x 240, one to three frames) so that the file runs in seconds; the one
SynthSpoof check reuses the session's tiny dataset (``synth`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fas_lib.data.io import iter_frames, read_image
from fas_lib.data.protocol import make_table, read_protocol
from fas_lib.preprocess.align import FaceAligner
from fas_lib.replay.camera import camera_by_name, draw_camera, recapture
from fas_lib.replay.panel import SAMPLES, layout_tile
from fas_lib.replay.synthesis import (
    ATTACK_TYPE,
    MODEL,
    ReplaySettings,
    output_path,
    synthesize_protocol,
    synthesize_replay,
    synthesize_video,
)
from fas_lib.synthspoof import SynthSpoofReader
from fas_lib.synthspoof.dataset import write_avi
from fas_lib.synthspoof.gt import points_in_polygon
from fas_lib.synthspoof.render import apply
from fas_lib.synthspoof.sources import portrait_files

W, H = 320, 240


@pytest.fixture(scope="module")
def portraits() -> dict[str, np.ndarray]:
    """The two shipped portraits cut to 320 x 240 around the face (face boxes 87 and 134 px)."""
    astro = read_image(portrait_files()["astronaut"])[6:246, 62:382]
    grace = read_image(portrait_files()["grace_hopper"])[52:436, 0:512]
    return {k: cv2.resize(v, (W, H), interpolation=cv2.INTER_AREA)
            for k, v in (("astronaut", astro), ("grace_hopper", grace))}


@pytest.fixture(scope="module")
def aligner() -> FaceAligner:
    return FaceAligner(upsample=1)


def _clip(frame: np.ndarray, n: int = 3) -> np.ndarray:
    """A short 'video': the frame shifted by a pixel per frame."""
    return np.stack([np.roll(frame, t, axis=1) for t in range(n)])


# -- determinism, shapes -----------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(portraits):
    clip = _clip(portraits["astronaut"])
    a, ia = synthesize_replay(clip, seed=7)
    b, ib = synthesize_replay(clip, seed=7)
    c, ic = synthesize_replay(clip, seed=8)
    assert a.tobytes() == b.tobytes()
    assert np.array_equal(ia["homography"], ib["homography"]) and ia["settings"] == ib["settings"]
    assert not np.array_equal(a, c)
    assert not np.allclose(ia["homography"], ic["homography"])
    assert not np.array_equal(a[0], a[1]), "frames of a clip differ (content, drift, noise)"


def test_shapes_dtypes_and_info(portraits):
    out, info = synthesize_replay(_clip(portraits["grace_hopper"], 2), seed=1)
    assert out.shape == (2, H, W, 3) and out.dtype == np.uint8
    assert info["homography"].shape == (2, 3, 3)
    assert info["screen"].shape == info["device"].shape == (2, 32, 2)
    assert set(info["settings"]) >= {"display", "camera", "device", "session", "pitch"}
    one, _ = synthesize_replay(portraits["grace_hopper"], ReplaySettings(size=(200, 160)))
    assert one.shape == (1, 160, 200, 3)


def test_settings_are_validated_and_fixed_choices_kept(portraits):
    with pytest.raises(ValueError, match="display"):
        ReplaySettings(display="d1")  # SynthSpoof's panels are not the synthesizer's
    with pytest.raises(ValueError, match="camera"):
        ReplaySettings(camera="c5")
    with pytest.raises(ValueError, match="fill"):
        ReplaySettings(fill=(0.9, 0.5))
    with pytest.raises(ValueError, match="uint8"):
        synthesize_replay(np.zeros((2, H, W, 3), np.float32))
    s = ReplaySettings(display="o2", camera="k1", device="replay_phone", session="s3", hands=False)
    _, info = synthesize_replay(portraits["astronaut"], s, seed=3)
    assert {k: info["settings"][k] for k in ("display", "camera", "device", "session")} == {
        "display": "o2", "camera": "k1", "device": "replay_phone", "session": "s3"}


def test_homography_maps_the_picture_onto_the_screen(portraits):
    _, info = synthesize_replay(_clip(portraits["astronaut"], 2), seed=4)
    corners = np.array([[-0.5, -0.5], [W - 0.5, -0.5], [W - 0.5, H - 0.5], [-0.5, H - 0.5]])
    for t in range(2):
        mapped = apply(info["homography"][t], corners)
        screen = info["screen"][t][::8]  # the polygon's corners (8 points per side)
        assert np.abs(mapped - screen).max() < 1.0
        assert points_in_polygon(screen.mean(0, keepdims=True), info["device"][t]).all()


# -- the face stays alignable ------------------------------------------------------------------


def _check_alignable(aligner, src, out, info, tol: float) -> None:
    """dlib finds the face in the replay where the homography puts the source's landmarks."""
    r0 = aligner.align(src)
    assert r0 is not None
    for t in range(len(out)):
        r = aligner.align(out[t])
        assert r is not None, f"no face in synthesized frame {t} ({info['settings']})"
        mapped = apply(info["homography"][t], r0.landmarks)
        assert np.median(np.linalg.norm(mapped - r.landmarks, axis=1)) < tol
        assert points_in_polygon(mapped, info["screen"][t]).all()


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
@pytest.mark.parametrize("seed", [0, 4, 5])
def test_portrait_replay_is_alignable(portraits, aligner, name, seed):
    src = portraits[name]
    out, info = synthesize_replay(_clip(src, 2), seed=seed)
    _check_alignable(aligner, src, out, info, tol=3.0)


def test_synthspoof_live_frame_replay_is_alignable(synth, aligner):
    ds = SynthSpoofReader(synth)
    vid = ds.protocol.query("attack_type == 'live'")["video_id"].iloc[0]
    frames = ds.read_frames(vid)[:2]
    out, info = synthesize_replay(frames, ReplaySettings(fill=(0.8, 0.9)), seed=2)
    _check_alignable(aligner, frames[0], out[:1], info, tol=4.0)


# -- the display's sub-pixels survive as moire -------------------------------------------------


def _peakiness(grey: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Largest / median power of the high-passed patch's spectrum (|f| > 0.05), and its
    variance: a periodic pattern (moire) gives sharp peaks, noise a flat spectrum."""
    ys, xs = np.nonzero(mask)
    p = grey[ys.min():ys.max(), xs.min():xs.max()].astype(np.float32)
    p -= cv2.GaussianBlur(p, (0, 0), 3)
    power = np.abs(np.fft.fft2(p)) ** 2
    f = np.hypot(np.fft.fftfreq(p.shape[0])[:, None], np.fft.fftfreq(p.shape[1])[None])
    band = power[f > 0.05]
    return float(band.max() / np.median(band)), float(p.var())


@pytest.mark.parametrize("display,camera,pitch,seed", [
    ("o1", "k2", 1.2, 1), ("o2", "k3", 1.4, 3), ("o3", "k1", 0.7, 0)])
def test_moire_energy_on_flat_content(display, camera, pitch, seed):
    """A flat grey picture has no texture of its own: what the screen region holds beyond the
    camera's noise (a flat grey photographed by the same camera) is the display's emitters.
    (Not at every pitch: where the lens's disc response is near zero at the emitters' period,
    e.g. ``k3`` at 1.5 camera pixels per display pixel, little moire is left, as in life.)"""
    s = ReplaySettings(display=display, camera=camera, pitch=(pitch, pitch), room=False,
                       glare=0.0, reflection=(0, 0), bleed=0.0, flicker=0.0, motion=0.0)
    out, info = synthesize_replay(np.full((H, W, 3), 128, np.uint8), s, seed=seed)
    mask = np.zeros((H, W), np.uint8)
    cv2.fillPoly(mask, [np.round(info["screen"][0]).astype(np.int32)], 255)
    mask = cv2.erode(mask, np.ones((15, 15), np.uint8)) > 0
    grey = cv2.cvtColor(out[0], cv2.COLOR_RGB2GRAY)
    rng = np.random.default_rng(0)
    noise_only = recapture(np.full((H, W, 3), 0.2, np.float32),
                           draw_camera(camera_by_name(camera), rng, (W, H)), rng)
    peak, var = _peakiness(grey, mask)
    peak0, var0 = _peakiness(cv2.cvtColor(noise_only, cv2.COLOR_RGB2GRAY), mask)
    assert peak > 5 * peak0 and var > 2 * var0


# -- videos and protocol tables ----------------------------------------------------------------


def test_video_is_written_deterministically(portraits, tmp_path):
    src = tmp_path / "live.avi"
    write_avi(src, _clip(portraits["astronaut"], 3), 15)
    row, info = synthesize_video(src, tmp_path / "a.avi", seed=5, source={"subject": "s01",
                                 "split": "dev", "video_id": "v1", "session": "s2"})
    synthesize_video(src, tmp_path / "b.avi", seed=5)
    assert (tmp_path / "a.avi").read_bytes() == (tmp_path / "b.avi").read_bytes()
    frames = np.stack([f for _, f in iter_frames(tmp_path / "a.avi")])
    assert frames.shape == (3, H, W, 3) and info["fps"] == 15 and info["frame_index"] == [0, 1, 2]
    assert row["attack_type"] == ATTACK_TYPE and row["label"] == 0
    assert (row["subject"], row["split"], row["video_id"]) == ("s01", "dev", "v1__replay_synth")
    assert row["instrument"] == info["settings"]["display"]
    make_table([row])  # a valid protocol row


def test_protocol_counts_skips_and_resumes(portraits, tmp_path):
    root = tmp_path / "data"
    write_avi(root / "live" / "a.avi", _clip(portraits["grace_hopper"], 2), 25)
    (root / "live").mkdir(exist_ok=True)
    (root / "live" / "corrupt.avi").write_bytes(b"RIFF not a video" * 40)
    base = {"label": 1, "attack_type": "live", "quality": "", "split": "train"}
    table = make_table([
        {**base, "path": "live/a.avi", "subject": "1", "video_id": "a"},
        {**base, "path": "live/corrupt.avi", "subject": "2", "video_id": "c"},
        {**base, "path": "live/missing.avi", "subject": "3", "video_id": "m"},
        {**base, "path": "attack/x.avi", "subject": "1", "video_id": "x", "label": 0,
         "attack_type": "print"},
    ])
    out = tmp_path / "out"
    replays, skips = synthesize_protocol(table, root, out, seed=1, n_frames=2)
    assert len(replays) == 1 and replays["path"].iloc[0] == output_path("live/a.avi").as_posix()
    assert dict(skips.counts) == {"unreadable_file": 1, "missing_file": 1}
    assert read_protocol(out / "protocol.csv").equals(replays)
    video = out / replays["path"].iloc[0]
    stamp = video.stat().st_mtime_ns
    again, _ = synthesize_protocol(table, root, out, seed=1, n_frames=2)
    assert again.equals(replays) and video.stat().st_mtime_ns == stamp


def test_protocol_of_a_synthspoof_dataset(synth, tmp_path):
    """Any adapter's table works: SynthSpoof's live rows become replays of the same subjects."""
    table = SynthSpoofReader(synth).protocol
    live = table.query("label == 1")
    replays, skips = synthesize_protocol(table, synth, tmp_path, seed=0, n_frames=2)
    assert not skips.items and len(replays) == len(live)
    for col in ("subject", "split", "session"):
        assert replays[col].tolist() == live[col].tolist()
    assert set(replays["attack_type"]) == {ATTACK_TYPE} and set(replays["label"]) == {0}
    frames = [f for _, f in iter_frames(tmp_path / replays["path"].iloc[0])]
    assert len(frames) == 2 and frames[0].shape == (480, 640, 3)


def test_protocol_refuses_outputs_of_another_seed(portraits, tmp_path):
    """Kept outputs were drawn with the seed, settings and frames that wrote them: a call with
    other ones would list rows (camera, display) that do not describe the files."""
    root = tmp_path / "data"
    write_avi(root / "live" / "a.avi", _clip(portraits["grace_hopper"], 2), 25)
    table = make_table([{"label": 1, "attack_type": "live", "quality": "", "split": "train",
                         "path": "live/a.avi", "subject": "1", "video_id": "a"}])
    out = tmp_path / "out"
    synthesize_protocol(table, root, out, seed=1, n_frames=2)
    for kwargs in ({"seed": 2, "n_frames": 2}, {"seed": 1, "n_frames": None},
                   {"seed": 1, "n_frames": 2, "settings": ReplaySettings(display="o1")}):
        with pytest.raises(ValueError, match="overwrite"):
            synthesize_protocol(table, root, out, **kwargs)
    again, _ = synthesize_protocol(table, root, out, seed=2, n_frames=2, overwrite=True)
    fresh, _ = synthesize_protocol(table, root, tmp_path / "fresh", seed=2, n_frames=2)
    assert again.drop(columns="path").equals(fresh.drop(columns="path"))
    assert (out / again["path"].iloc[0]).read_bytes() == (
        tmp_path / "fresh" / fresh["path"].iloc[0]).read_bytes()


def test_protocol_refuses_two_sources_of_one_output(portraits, tmp_path):
    """Two live files that map to one output path: the second would silently reuse the
    first's replay (checked before any file is read)."""
    root = tmp_path / "data"
    write_avi(root / "live" / "a.avi", _clip(portraits["grace_hopper"], 2), 25)
    base = {"label": 1, "attack_type": "live", "quality": "", "split": "train", "subject": "1"}
    table = make_table([{**base, "path": "live/a.avi", "video_id": "a1"},
                        {**base, "path": "live/a.mp4", "video_id": "a2"}])
    with pytest.raises(ValueError, match="same output"):
        synthesize_protocol(table, root, tmp_path / "out", seed=1, n_frames=2)


# -- the synthesizer's own display and camera, not SynthSpoof's ----------------------------------


SYNTHSPOOF_MODELS = {
    "fas_lib.synthspoof.screen": ("make_display", "display_texture", "backlight_bleed",
                                  "room_reflection"),
    "fas_lib.synthspoof.camera": ("capture", "noise_bank", "bank_view", "source_capture"),
    "fas_lib.synthspoof.factors": ("colour_pipeline", "saturation_matrix", "illuminate"),
}


def test_synthspoof_display_and_camera_are_not_used(portraits, monkeypatch):
    """SynthSpoof's display, capture and colour models raise if called: a replay is still
    made, and no synthesis module imports them or SynthSpoof's panel and camera tables."""
    import ast
    import importlib
    import inspect

    def boom(*args, **kwargs):
        raise AssertionError("the synthesizer used SynthSpoof's display or camera model")

    for module, names in SYNTHSPOOF_MODELS.items():
        for name in names:
            monkeypatch.setattr(importlib.import_module(module), name, boom)
    for seed in (0, 1, 2):
        out, _ = synthesize_replay(_clip(portraits["astronaut"], 2), seed=seed)
        assert out.shape == (2, H, W, 3)
    banned = {n for names in SYNTHSPOOF_MODELS.values() for n in names} | {
        "DISPLAYS", "CAMERAS", "CAMERA_NAMES", "Display", "Camera", "Quality"}
    for name in ("replay.synthesis", "replay.panel", "replay.device", "replay.camera"):
        module = importlib.import_module(f"fas_lib.{name}")
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.ImportFrom) and "synthspoof" in (node.module or ""):
                assert not node.module.endswith((".screen", ".camera")), (name, node.module)
                assert not {a.name for a in node.names} & banned, (name, node.module)


def test_layout_tiles_have_their_own_periods_and_phases():
    """PenTile: red and blue on alternate pixels of a checkerboard, green in every pixel;
    delta: stripes whose odd rows are shifted by half a pixel; S-stripe: red above green in
    one column, blue beside them. None is SynthSpoof's stripe (every row of a pixel alike)."""
    s = SAMPLES
    p = layout_tile("pentile")
    r, g, b = p[..., 0], p[..., 1], p[..., 2]
    assert p.shape == (2 * s, 2 * s, 3)
    assert np.allclose(np.roll(r, (s, s), (0, 1)), r) and not np.allclose(np.roll(r, s, 1), r)
    assert np.allclose(np.roll(r, s, 1), b) and np.allclose(np.roll(r, s, 0), b)
    assert np.allclose(np.roll(g, s, 1), g) and np.allclose(np.roll(g, s, 0), g)
    d = layout_tile("delta")
    assert d.shape == (2 * s, s, 3)
    assert np.allclose(np.roll(d[:s], s // 2, 1), d[s:])  # the odd row: half a pixel on
    assert not np.allclose(d[:s], d[s:])
    assert np.allclose(np.roll(d[..., 0], s // 3, 1), d[..., 1])  # R, G, B a third apart
    assert np.allclose(np.roll(d[..., 1], s // 3, 1), d[..., 2])
    t = layout_tile("sstripe")
    cols, rows = t.mean(0), t.mean(1)
    assert np.argmax(cols[:, 0]) == np.argmax(cols[:, 1]) < s // 2 < np.argmax(cols[:, 2])
    assert np.argmax(rows[:, 0]) < s // 2 < np.argmax(rows[:, 1])
    for tile in (p, d, t):
        assert not all(np.allclose(tile[i], tile[0]) for i in range(len(tile)))


def _corr(x: np.ndarray, dx: int, dy: int) -> float:
    """Correlation of a zero-mean patch with itself shifted by (dx, dy)."""
    a, b = x[:x.shape[0] - dy, :x.shape[1] - dx], x[dy:, dx:]
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.parametrize("display", ["o1", "o2"])
def test_sub_pixel_layout_is_visible_in_the_replay(display):
    """At 6 camera pixels per display pixel the camera resolves the emitters: PenTile's red
    repeats one pixel on diagonally and is opposite one pixel across; the delta's red repeats
    one row down only half a pixel across (3 camera pixels)."""
    s = ReplaySettings(display=display, camera="k2", pitch=(6.0, 6.0), fill=(0.8, 0.8), roll=0,
                       tilt=0, motion=0, room=False, glare=0, reflection=(0, 0), flicker=0)
    out, info = synthesize_replay(np.full((H, W, 3), 160, np.uint8), s, seed=2)
    x0, y0 = np.ceil(info["screen"][0].min(0)).astype(int) + 8
    x1, y1 = np.floor(info["screen"][0].max(0)).astype(int) - 8
    red = out[0, y0:y1, x0:x1, 0].astype(np.float64)
    red -= cv2.GaussianBlur(red, (0, 0), 8)
    if display == "o1":
        assert _corr(red, 6, 6) > 0.3 and _corr(red, 6, 0) < -0.1
    else:
        assert _corr(red, 3, 6) > 0.3 and _corr(red, 0, 6) < -0.1 and _corr(red, 6, 0) > 0.3


def test_protocol_records_the_model(portraits, tmp_path):
    """synthesis.json names the synthesizer's model; a folder of another model's replays (the
    first synthesizer recorded none) is refused."""
    import json

    root = tmp_path / "data"
    write_avi(root / "live" / "a.avi", _clip(portraits["grace_hopper"], 2), 25)
    table = make_table([{"label": 1, "attack_type": "live", "quality": "", "split": "train",
                         "path": "live/a.avi", "subject": "1", "video_id": "a"}])
    out = tmp_path / "out"
    replays, _ = synthesize_protocol(table, root, out, seed=1, n_frames=2)
    report = json.loads((out / "synthesis.json").read_text())
    assert report["model"] == MODEL and report["written"] == 1
    assert replays["quality"].iloc[0] in ("low", "normal", "high")
    del report["model"]
    (out / "synthesis.json").write_text(json.dumps(report))
    with pytest.raises(ValueError, match="model"):
        synthesize_protocol(table, root, out, seed=1, n_frames=2)
