"""Replay attacks synthesized from live videos of any dataset (STASN's "so does data").

Any live frame sequence (SynthSpoof, CASIA-FASD, Replay-Attack, OULU-NPU, a CSV of one's own)
is shown on a simulated display and recaptured by a simulated camera, both the synthesizer's
own, of other families than SynthSpoof's renderer (whose :mod:`~fas_lib.synthspoof.screen`,
:mod:`~fas_lib.synthspoof.camera`, panel and camera tables it does not use):

* **display** (:mod:`fas_lib.replay.panel`, :mod:`fas_lib.replay.device`): PenTile
  RGBG diamond, RGB delta or S-stripe sub-pixels (SynthSpoof: RGB / BGR stripes); an OLED
  black-crush curve, the sRGB piecewise curve or a TN panel whose gamma changes with the
  vertical viewing angle (SynthSpoof: a power gamma); CIE xy primaries and white; a lamp's
  hotspot, the room in an anti-reflective coating, LCD clouding, PWM bands; its own body,
  punch-hole or LED, thumb and finger tips; rendered in the camera's pixels, in linear light;
* **view**, SynthSpoof's: the device is placed in a procedural room
  (:func:`~fas_lib.synthspoof.scene.make_scene`, lit by a SynthSpoof session's light) by a
  homography (scale, roll, perspective tilt) that drifts per frame as a held or standing
  device does (:func:`~fas_lib.synthspoof.render.medium_drift`);
* **camera** (:mod:`fas_lib.replay.camera`): auto-exposure, a defocus-disc lens with
  lateral chromatic aberration and vignetting, a Bayer mosaic with Poisson-Gaussian noise,
  bilinear demosaicking, grey-world white balance, a colour matrix, a tone curve with a
  shoulder, chroma denoising and JPEG, of one of three cameras of its own.

**What the data ablation can show** (notebook 09, :func:`fas_lib.studies.video.replay_data`):
trained on live videos plus these replays and tested on SynthSpoof's own replays, whether
replays from an *independent* simulator teach a model the replays of SynthSpoof's, i.e.
whether what is learnt is recapture in general rather than one renderer's sub-pixels, curves
and noise. **What it cannot show**: transfer to real screens and cameras. Both simulators are
simplified and written with the same general knowledge of recapture; the live videos shown
on the synthesized displays are SynthSpoof's (its faces, rooms and camera), and so are the
rooms and motion of the view. A gain here is necessary, not sufficient, evidence that
synthesized replays would help on real data.

Every draw comes from ``SeedSequence([seed, SEED_KEY])``: equal frames, settings and seed give
equal bytes. :func:`synthesize_replay` also returns per frame the homography from input to output
pixels (a live landmark lands on the replayed face) and the screen's and device's polygons;
:func:`synthesize_video` writes an AVI and its protocol row; :func:`synthesize_protocol` does so
for every live row of a protocol table (``out, info = synthesize_replay(frames, seed=3)``).
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fas_lib.core.utils import atomic_path, atomic_write_text, guard_params
from fas_lib.data.io import MediaError, iter_frames, video_fps
from fas_lib.data.protocol import SkipLog, make_table, validate, write_protocol
from fas_lib.replay.camera import CAMERA_NAMES, camera_by_name, draw_camera, recapture
from fas_lib.replay.device import Screen, composite, draw_device, glass, grid_to_plane, layers
from fas_lib.replay.panel import (
    PANEL_NAMES,
    draw_panel,
    emission,
    panel_by_name,
    pwm_gains,
    to_linear,
)
from fas_lib.synthspoof.dataset import write_avi
from fas_lib.synthspoof.factors import SESSION_NAMES, by_name, light_field
from fas_lib.synthspoof.gt import rect_polygon
from fas_lib.synthspoof.render import apply, medium_drift, similarity
from fas_lib.synthspoof.scene import make_scene

#: The ``attack_type`` of synthesized replays in a protocol table.
ATTACK_TYPE: str = "replay_synth"
#: The synthesizer's model: recorded by :func:`synthesize_protocol`, which refuses a folder
#: of replays made by another one (version 1 used SynthSpoof's display and camera).
MODEL: str = "own-optics-2"
#: Second entropy word of every synthesis generator (keeps it apart from SynthSpoof's streams).
SEED_KEY: int = 16_000_016
#: Nominal face size as a share of the shorter display side (sets bezel and finger sizes).
FACE_SHARE: float = 0.35
DEVICES: tuple[str, ...] = ("replay_phone", "replay_screen")
#: The named choices of :class:`ReplaySettings` (drawn in this order) and their levels.
CHOICES: dict[str, tuple[str, ...]] = {"display": PANEL_NAMES, "camera": CAMERA_NAMES,
                                       "device": DEVICES, "session": SESSION_NAMES}
#: The ranges of :class:`ReplaySettings`, drawn after the choices in this order.
RANGES: tuple[str, ...] = ("fill", "pitch", "reflection", "saturation")


@dataclass(frozen=True)
class ReplaySettings:
    """The knobs of a synthesized replay; ``None`` and ranges are drawn per call from the seed.

    Attributes:
        display: panel (:data:`fas_lib.replay.panel.PANELS`: ``"o1"`` PenTile AMOLED
            phone, ``"o2"`` delta-layout TN LCD, ``"o3"`` S-stripe OLED tablet), or ``None``:
            one at random.
        camera: recapturing camera (:data:`fas_lib.replay.camera.CAMERAS`: ``"k1"`` budget
            phone, ``"k2"`` mirrorless camera, ``"k3"`` wide-angle USB camera), or ``None``.
        device: ``"replay_phone"`` (held, portrait bezel) or ``"replay_screen"`` (a monitor or
            tablet on a stand), or ``None``: either.
        session: room light and wall style (SynthSpoof's ``"s1"`` ... ``"s3"``), or ``None``.
        fill: range of the replayed picture's size, as a share of the output frame it could
            fill (1: the picture alone fills the frame; the bezel then lies outside).
        pitch: range of camera pixels per display pixel (a high-density phone at arm's length
            about 0.4, a low-density monitor close up 1.5). Sets the moire: the camera's lens
            and pixel footprint filter the emitter pattern, what is left aliases.
        roll: largest roll of the device, degrees.
        tilt: largest perspective coefficient at a 640-pixel-wide frame.
        motion: factor on the per-frame drift (0: still; 1: SynthSpoof's hand / stand motion).
        glare: factor on the glass's lamp hotspot (0: none, 1: the panel's own range).
        reflection: range of a factor on the glass's reflectance of the room (1: the panel's).
        bleed: factor on the LCD backlight's clouding (an OLED has none).
        saturation: range of the panel's colour mode, a saturation factor in linear light
            applied before its primaries (1: the native gamut, unmanaged).
        flicker: largest depth of the PWM bands (share of brightness; 0: none).
        hands: fingers on the device: ``None`` (a phone always, a monitor sometimes), True,
            False.
        room: the device stands in a procedural room; ``False``: a dark uniform backdrop.
        size: output ``(width, height)``; ``None``: the input's size.
    """

    display: str | None = None
    camera: str | None = None
    device: str | None = None
    session: str | None = None
    fill: tuple[float, float] = (0.55, 0.85)
    pitch: tuple[float, float] = (0.4, 1.6)
    roll: float = 6.0
    tilt: float = 4e-4
    motion: float = 1.0
    glare: float = 1.0
    reflection: tuple[float, float] = (0.5, 1.5)
    bleed: float = 1.0
    saturation: tuple[float, float] = (0.85, 1.1)
    flicker: float = 0.25
    hands: bool | None = None
    room: bool = True
    size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"{name} must be None or one of {allowed}, got {value!r}")
        for name in RANGES:
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high")
        if min(self.fill[0], self.pitch[0]) <= 0:
            raise ValueError("fill and pitch must be positive")
        if min(self.roll, self.tilt, self.motion, self.glare, self.bleed, self.flicker) < 0:
            raise ValueError("roll, tilt, motion, glare, bleed and flicker must be >= 0")
        if self.size is not None and min(self.size) < 16:
            raise ValueError(f"size must be (width, height) of at least 16 pixels, got {self.size}")


@dataclass(frozen=True)
class ReplayDraw:
    """The concrete values one call drew from :class:`ReplaySettings` (``info["settings"]``)."""

    display: str
    camera: str
    device: str
    session: str
    fill: float
    pitch: float
    reflection: float
    saturation: float
    flicker: float


def draw_settings(settings: ReplaySettings, rng: np.random.Generator) -> ReplayDraw:
    """Resolve the ``None`` choices and ranges of ``settings`` (the generator's first draws)."""

    def pick(value: str | None, names: tuple[str, ...]) -> str:
        return value if value is not None else names[int(rng.integers(len(names)))]

    names = [pick(getattr(settings, k), v) for k, v in CHOICES.items()]
    ranges = [float(rng.uniform(*getattr(settings, k))) for k in RANGES]
    return ReplayDraw(*names, *ranges, flicker=float(rng.uniform(0, settings.flicker)))


def check_frames(frames: np.ndarray) -> np.ndarray:
    """``frames`` as a ``(T, H, W, 3)`` uint8 array (one ``(H, W, 3)`` frame becomes T = 1)."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.dtype}{frames.shape}")
    if min(frames.shape[1:3]) < 16:
        raise ValueError(f"frames must be at least 16 x 16 pixels, got {frames.shape[1:3]}")
    return frames


def build_screen(draw: ReplayDraw, settings: ReplaySettings, rng: np.random.Generator,
                 disp: tuple[int, int], lens: float = 0.0,
                 in_size: tuple[int, int] | None = None) -> Screen:
    """The device (:func:`~fas_lib.replay.device.draw_device`, 2 texture pixels per
    camera pixel), its drawn panel (:func:`~fas_lib.replay.panel.draw_panel`, its emitters
    seen through a camera lens of disc radius ``lens`` pixels; the emission on a grid no finer
    than the input's ``in_size``) and glass (:func:`~fas_lib.replay.device.glass`,
    reflecting a room of the session's style)."""
    panel = panel_by_name(draw.display)
    grid = (min(disp[0], in_size[0]), min(disp[1], in_size[1])) if in_size else disp
    scale = 2.0 * draw.pitch
    body, front, active, device = draw_device(rng, draw.device, disp, FACE_SHARE * min(disp),
                                              settings.hands, scale)
    drawn = draw_panel(panel, rng, disp, draw.pitch, draw.saturation, settings.bleed, lens,
                       grid)
    room = by_name(draw.session)
    shine = glass(rng, panel, grid, settings.glare, draw.reflection, room.wall_sat,
                  room.wall_val)
    return Screen(layers(body, scale, active), layers(front, scale), active, device, drawn,
                  shine, draw.pitch, scale)


def display_size(draw: ReplayDraw, in_size: tuple[int, int],
                 out_size: tuple[int, int]) -> tuple[int, int]:
    """Display pixels ``(width, height)`` showing the input: it covers ``draw.fill`` of the
    output frame it could fill, at ``draw.pitch`` output pixels per display pixel."""
    k = min(out_size[0] / in_size[0], out_size[1] / in_size[1]) * draw.fill / draw.pitch
    return max(8, round(in_size[0] * k)), max(8, round(in_size[1] * k))


def placement(rng: np.random.Generator, draw: ReplayDraw, settings: ReplaySettings,
              screen: Screen, out_size: tuple[int, int]) -> np.ndarray:
    """Plane -> output homography of the first frame: ``pitch`` output pixels per display
    pixel, a roll, a perspective tilt about the picture's centre, the centre near the frame's."""
    x0, y0, x1, y1 = screen.active
    s = similarity(draw.pitch, rng.uniform(-settings.roll, settings.roll),
                   np.array([(x0 + x1) / 2, (y0 + y1) / 2]), np.zeros(2))
    tilt = np.eye(3)
    tilt[2, :2] = rng.uniform(-settings.tilt, settings.tilt, 2) * (640.0 / out_size[0])
    slack = 0.4 * max(0.0, 1.0 - draw.fill)
    t = np.eye(3)
    t[:2, 2] = np.asarray(out_size, np.float64) * (0.5 + rng.uniform(-slack, slack, 2))
    return t @ tilt @ s


def backdrop(rng: np.random.Generator, draw: ReplayDraw, settings: ReplaySettings,
             out_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """What surrounds the device, in linear light: a procedural room (or a dark wall) lit by
    the session, and the light field (it also lights the device's body)."""
    st = by_name(draw.session)
    light = light_field(st, rng, *out_size)
    if settings.room:
        bg = make_scene(rng, out_size[0], out_size[1], st.wall_sat, st.wall_val)
    else:
        bg = np.full((out_size[1], out_size[0], 3), int(rng.integers(8, 40)), np.uint8)
    return to_linear(bg) * light, light


def synthesize_replay(frames: np.ndarray, settings: ReplaySettings | None = None,
                      seed: int = 0) -> tuple[np.ndarray, dict]:
    """Show live frames on a simulated display and recapture them with a simulated camera.

    Args:
        frames: ``(T, H, W, 3)`` (or one ``(H, W, 3)``) uint8 RGB live frames.
        settings: the knobs (default :class:`ReplaySettings`).
        seed: non-negative integer; every draw comes from ``SeedSequence([seed, SEED_KEY])``,
            so equal inputs give equal bytes.

    Returns:
        ``(replay, info)``: ``(T, H', W', 3)`` uint8 RGB (``settings.size`` or the input's
        size) and a dict: ``homography`` ``(T, 3, 3)`` input -> output pixels; ``screen`` and
        ``device`` ``(T, 32, 2)`` polygons of the active area and of the device's edge in output
        pixels; ``settings`` (the :class:`ReplayDraw` as a dict); ``display_size``; ``size``.
    """
    frames = check_frames(frames)
    settings = settings or ReplaySettings()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), SEED_KEY]))
    n, h, w = frames.shape[:3]
    out_size = (int(settings.size[0]), int(settings.size[1])) if settings.size else (w, h)
    draw = draw_settings(settings, rng)
    disp = display_size(draw, (w, h), out_size)
    camera = draw_camera(camera_by_name(draw.camera), rng, out_size)
    screen = build_screen(draw, settings, rng, disp, camera.radius, (w, h))
    h0 = placement(rng, draw, settings, screen, out_size)
    drift = medium_drift(rng, n, out_size[0] / 640.0, draw.device == "replay_phone",
                         settings.motion)
    bg, light = backdrop(rng, draw, settings, out_size)
    gains = pwm_gains(rng, draw.flicker, screen.panel.duty, out_size[1], n)
    out = np.empty((n, out_size[1], out_size[0], 3), np.uint8)
    homs = np.stack([d @ h0 for d in drift])
    for t in range(n):
        img = bg.copy()
        composite(img, light, screen, emission(screen.panel, frames[t]), homs[t], gains[t])
        out[t] = recapture(img, camera, rng)
    inner, outer = rect_polygon(*screen.active), rect_polygon(*screen.device)
    return out, {"homography": homs @ grid_to_plane(screen.active, (w, h)),
                 "screen": np.stack([apply(m, inner) for m in homs]),
                 "device": np.stack([apply(m, outer) for m in homs]),
                 "settings": dataclasses.asdict(draw), "display_size": disp, "size": out_size}


def replay_row(source: dict, rel_path: str | Path, draw: ReplayDraw) -> dict:
    """The protocol row of a synthesized replay of the live row ``source``: same subject, split
    and session; ``attack_type`` :data:`ATTACK_TYPE`; the drawn camera (``quality`` its
    :attr:`~fas_lib.replay.camera.RecaptureCamera.quality`) and panel (``instrument``);
    ``video_id`` the source's + ``"__replay_synth"``."""
    return {"path": Path(rel_path).as_posix(), "subject": str(source.get("subject", "")),
            "label": 0, "attack_type": ATTACK_TYPE,
            "quality": camera_by_name(draw.camera).quality,
            "split": str(source.get("split", "train")),
            "video_id": f"{source.get('video_id', Path(rel_path).stem)}__{ATTACK_TYPE}",
            "depth_path": "", "ir_path": "", "session": str(source.get("session", "")),
            "camera": draw.camera, "instrument": draw.display}


def synthesize_video(path_in: str | Path, path_out: str | Path,
                     settings: ReplaySettings | None = None, seed: int = 0,
                     n_frames: int | None = None, source: dict | None = None,
                     rel_path: str | Path | None = None) -> tuple[dict, dict]:
    """Synthesize the replay of one live video (or image) into an MJPG AVI.

    Args:
        path_in: the live video or image (read with :func:`fas_lib.data.io.iter_frames`).
        path_out: the AVI to write (atomically; its folder is created).
        settings: see :class:`ReplaySettings`.
        seed: see :func:`synthesize_replay`.
        n_frames: use that many evenly spaced frames (``None``: all; they are held in memory).
        source: the live video's protocol row (subject, split, session, video_id).
        rel_path: the path to put in the row (default ``path_out``).

    Returns:
        ``(row, info)``: the protocol row (:func:`replay_row`) and :func:`synthesize_replay`'s
        info with ``fps`` and ``frame_index`` (the source frames used).

    Raises:
        MediaError: the input is missing, unreadable, has no decodable frame or changes size.
    """
    pairs = sorted(iter_frames(path_in, n_frames=n_frames), key=lambda p: p[0])
    if len({f.shape for _, f in pairs}) > 1:
        raise MediaError(path_in, "unreadable_file", f"{path_in}: the frames change size")
    out, info = synthesize_replay(np.stack([f for _, f in pairs]), settings, seed)
    fps = video_fps(path_in)
    with atomic_path(path_out) as tmp:
        avi = tmp.with_suffix(".avi")  # OpenCV's writer chooses the container by the suffix
        try:
            write_avi(avi, out, round(fps))
            avi.replace(tmp)
        finally:
            avi.unlink(missing_ok=True)
    info.update(fps=fps, frame_index=[i for i, _ in pairs])
    row = replay_row(source or {}, path_out if rel_path is None else rel_path,
                     ReplayDraw(**info["settings"]))
    return row, info


def video_seed(seed: int, path: str) -> int:
    """The seed of one source file: from ``seed`` and the file's path (stable across runs)."""
    ss = np.random.SeedSequence([int(seed), zlib.crc32(path.encode("utf-8"))])
    return int(ss.generate_state(1)[0])


def output_path(path: str) -> Path:
    """Where the replay of the source file ``path`` goes under the output root:
    ``videos/<path without suffix>__replay_synth.avi`` (anchors and ``..`` dropped)."""
    p = Path(path)
    parts = [s for s in p.with_suffix("").parts if s not in (p.anchor, "..", ".")]
    return Path("videos", *parts[:-1], f"{parts[-1]}__{ATTACK_TYPE}.avi")


def synthesize_protocol(table: pd.DataFrame, root: str | Path, out_root: str | Path,
                        settings: ReplaySettings | None = None, seed: int = 0,
                        n_frames: int | None = None,
                        overwrite: bool = False) -> tuple[pd.DataFrame, SkipLog]:
    """A synthesized replay of every live row of a protocol table (any adapter's).

    Each live file is synthesized with seed :func:`video_seed` ``(seed, path)`` into
    ``out_root`` / :func:`output_path`; an output that exists is kept unless ``overwrite`` (its
    row is drawn again, identically: ``out_root/synthesis.json``, written first, records the
    synthesizer's :data:`MODEL`, seed, settings and ``n_frames``, then the counts and skipped
    files). A source that cannot be read is skipped and counted by reason. Writes
    ``out_root/protocol.csv`` (paths relative).

    Args:
        table: a protocol table (:mod:`fas_lib.data.protocol` columns).
        root: the folder its paths are relative to.
        out_root: the output folder.
        settings: see :class:`ReplaySettings` (its ``None`` choices are drawn per video).
        seed: master seed.
        n_frames: frames per replay, evenly spaced (``None``: all frames of the source).
        overwrite: synthesize again even where the output exists.

    Returns:
        ``(replays, skips)``: the replays' protocol table and the :class:`SkipLog`.

    Raises:
        ValueError: two live files map to one output, or (without ``overwrite``) ``out_root``
            holds replays of another model, seed, settings or ``n_frames``.
    """
    settings, root, out_root = settings or ReplaySettings(), Path(root), Path(out_root)
    live = validate(table).query("label == 1")
    if len({output_path(p) for p in live["path"]}) < len(live):
        raise ValueError(f"two live files of the table map to the same output in {out_root}")
    report = guard_params(out_root / "synthesis.json", {
        "model": MODEL, "seed": int(seed), "n_frames": n_frames,
        "settings": dataclasses.asdict(settings)}, overwrite)
    rows, skips = [], SkipLog()
    for src in live.to_dict("records"):
        rel, vseed = output_path(src["path"]), video_seed(seed, src["path"])
        if (out_root / rel).is_file() and not overwrite:
            rng = np.random.default_rng(np.random.SeedSequence([vseed, SEED_KEY]))
            rows.append(replay_row(src, rel, draw_settings(settings, rng)))
            continue
        try:
            row, _ = synthesize_video(root / src["path"], out_root / rel, settings, vseed,
                                      n_frames, src, rel)
        except MediaError as exc:
            skips.add(src["path"], exc.reason)
            continue
        rows.append(row)
    replays = make_table(rows)
    write_protocol(replays, out_root / "protocol.csv")
    report.update(live=len(live), written=len(replays), skipped=dict(skips.counts),
                  skipped_files=skips.items)
    atomic_write_text(out_root / "synthesis.json", json.dumps(report, indent=1))
    return replays, skips
