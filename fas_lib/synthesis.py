"""Replay attacks synthesized from live videos of any dataset (STASN's "so does data").

Any live frame sequence (SynthSpoof, CASIA-FASD, Replay-Attack, OULU-NPU, a CSV of one's own)
is shown on a simulated display and recaptured by a simulated camera, with SynthSpoof's renderer
(:mod:`fas_lib.synthspoof`):

* **display** (:func:`~fas_lib.synthspoof.screen.make_display`): RGB stripe sub-pixels and the
  dark matrix (the camera resamples them into moire), the panel's black level, gamma and white
  point (its LUT), a specular glare band, bezel, body and the hand that holds it; here also a
  reduced gamut (saturation), **backlight bleed** at the panel's edges, the **room reflected**
  in the glass and a rolling **refresh band** that moves from frame to frame;
* **view**: the device placed in a procedural room (:func:`~fas_lib.synthspoof.scene.make_scene`,
  lit by a SynthSpoof session) by a homography (scale, roll, perspective tilt) that drifts per
  frame as a held or standing device does (:func:`~fas_lib.synthspoof.render.medium_drift`);
* **camera** (:func:`~fas_lib.synthspoof.camera.capture`): lens blur, resolution, sensor noise,
  exposure jitter, colour processing and JPEG of one of SynthSpoof's five cameras.

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
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fas_lib.io import MediaError, iter_frames, video_fps
from fas_lib.protocol import SkipLog, make_table, validate, write_protocol
from fas_lib.synthspoof.camera import capture, noise_bank
from fas_lib.synthspoof.dataset import write_avi
from fas_lib.synthspoof.factors import (CAMERA_NAMES, DISPLAYS, SESSION_NAMES, by_name,
                                        colour_pipeline, illuminate, light_field, saturation_matrix)
from fas_lib.synthspoof.media import Medium
from fas_lib.synthspoof.render import apply, blend_rgba, medium_drift, similarity, warp_patch
from fas_lib.synthspoof.scene import make_scene
from fas_lib.synthspoof.screen import (backlight_bleed, display_texture, make_display,
                                       room_reflection)
from fas_lib.utils import atomic_path, atomic_write_text, guard_params

#: The ``attack_type`` of synthesized replays in a protocol table.
ATTACK_TYPE: str = "replay_synth"
#: Second entropy word of every synthesis generator (keeps it apart from SynthSpoof's streams).
SEED_KEY: int = 16_000_016
#: Nominal face size as a share of the shorter display side (sets bezel and finger sizes).
FACE_SHARE: float = 0.35
DEVICES: tuple[str, ...] = ("replay_phone", "replay_screen")
#: The named choices of :class:`ReplaySettings` (drawn in this order) and their levels.
CHOICES: dict[str, tuple[str, ...]] = {"display": tuple(d.name for d in DISPLAYS),
                                       "camera": CAMERA_NAMES, "device": DEVICES,
                                       "session": SESSION_NAMES}
#: The ranges of :class:`ReplaySettings`, drawn after the choices in this order.
RANGES: tuple[str, ...] = ("fill", "pitch", "reflection", "saturation")


@dataclass(frozen=True)
class ReplaySettings:
    """The knobs of a synthesized replay; ``None`` and ranges are drawn per call from the seed.

    Attributes:
        display: panel (:data:`~fas_lib.synthspoof.factors.DISPLAYS`: ``"d1"`` matte LCD,
            ``"d2"`` glossy OLED, ``"d3"`` bluish IPS), or ``None``: one at random.
        camera: recapturing camera (:data:`~fas_lib.synthspoof.factors.CAMERAS`, ``"c1"`` old
            webcam ... ``"c5"`` compact camera), or ``None``: one at random.
        device: ``"replay_phone"`` (held, portrait bezel) or ``"replay_screen"`` (a monitor or
            tablet on a stand), or ``None``: either.
        session: room light and wall style (``"s1"`` ... ``"s3"``), or ``None``: one at random.
        fill: range of the replayed picture's size, as a share of the output frame it could
            fill (1: the picture alone fills the frame; the bezel then lies outside).
        pitch: range of camera pixels per display pixel. Sets the moire: near 1.5 the stripes
            alias strongly; SynthSpoof uses 1.0-2.0.
        roll: largest roll of the device, degrees.
        tilt: largest perspective coefficient at a 640-pixel-wide frame (SynthSpoof: 4e-4).
        motion: factor on the per-frame drift (0: still; 1: SynthSpoof's hand / stand motion).
        glare: factor on the panel's glare band (0: none, 1: the panel's own range).
        reflection: range of the reflected room's peak as a share of the glare peak drawn.
        bleed: factor on backlight bleed at the panel's edges (its peak scales with the
            panel's black level, so an OLED barely bleeds).
        saturation: range of the panel's gamut as a saturation factor (1: full gamut).
        flicker: largest depth of the rolling refresh band (share of brightness; 0: none).
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
    pitch: tuple[float, float] = (1.1, 1.9)
    roll: float = 6.0
    tilt: float = 4e-4
    motion: float = 1.0
    glare: float = 1.0
    reflection: tuple[float, float] = (0.1, 0.4)
    bleed: float = 1.0
    saturation: tuple[float, float] = (0.8, 1.0)
    flicker: float = 0.04
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


def build_display(draw: ReplayDraw, settings: ReplaySettings, rng: np.random.Generator,
                  disp: tuple[int, int]) -> Medium:
    """The device (:func:`~fas_lib.synthspoof.screen.make_display`) with the glare scaled by
    ``settings.glare`` and the room's reflection and the backlight bleed added to its glass."""
    panel = by_name(draw.display)
    panel = dataclasses.replace(panel, glare=tuple(g * settings.glare for g in panel.glare))
    medium = make_display(disp[0], disp[1], FACE_SHARE * min(disp), rng, draw.device, draw.pitch,
                          display=panel, hands=settings.hands)
    e = medium.extra
    _, _, aw, ah = e["active"]
    room = by_name(draw.session)
    refl = room_reflection(rng, aw, ah, draw.reflection * float(np.mean(panel.glare)) / medium.gain,
                           room.wall_sat, room.wall_val)
    peak = settings.bleed * float(np.mean(panel.black)) * 255.0 * rng.uniform(0.3, 1.0)
    glow = cv2.cvtColor(backlight_bleed(rng, aw, ah, peak / medium.gain), cv2.COLOR_GRAY2RGB)
    e["glare"] = cv2.add(cv2.add(e["glare"], refl), glow)
    return medium


def display_size(draw: ReplayDraw, in_size: tuple[int, int],
                 out_size: tuple[int, int]) -> tuple[int, int]:
    """Display pixels ``(width, height)`` showing the input: it covers ``draw.fill`` of the
    output frame it could fill, at ``draw.pitch`` output pixels per display pixel."""
    k = min(out_size[0] / in_size[0], out_size[1] / in_size[1]) * draw.fill / draw.pitch
    return max(8, round(in_size[0] * k)), max(8, round(in_size[1] * k))


def content_to_texture(medium: Medium, in_size: tuple[int, int],
                       disp: tuple[int, int]) -> np.ndarray:
    """``(3, 3)`` map from input pixels to the display's texture (pixel centres at integers,
    as :meth:`Medium.to_plane` maps display pixels)."""
    sx, sy = disp[0] / in_size[0], disp[1] / in_size[1]
    m = np.diag([sx, sy, 1.0])
    m[:2, 2] = (0.5 * sx - 0.5, 0.5 * sy - 0.5)  # input -> display pixels
    o = medium.to_plane(np.zeros((1, 2)))[0]
    return np.array([[3.0, 0, o[0]], [0, 3.0, o[1]], [0, 0, 1.0]]) @ m


def placement(rng: np.random.Generator, draw: ReplayDraw, settings: ReplaySettings,
              medium: Medium, out_size: tuple[int, int]) -> np.ndarray:
    """Texture -> output homography of the first frame: ``pitch / 3`` output pixels per texture
    pixel, a roll, a perspective tilt about the picture's centre, the centre near the frame's."""
    ox, oy, aw, ah = medium.extra["active"]
    s = similarity(draw.pitch / 3.0, rng.uniform(-settings.roll, settings.roll),
                   np.array([ox + aw / 2, oy + ah / 2]), np.zeros(2))
    tilt = np.eye(3)
    tilt[2, :2] = rng.uniform(-settings.tilt, settings.tilt, 2) * (640.0 / out_size[0])
    slack = 0.4 * max(0.0, 1.0 - draw.fill)
    t = np.eye(3)
    t[:2, 2] = np.asarray(out_size, np.float64) * (0.5 + rng.uniform(-slack, slack, 2))
    return t @ tilt @ s


def backdrop(rng: np.random.Generator, draw: ReplayDraw, settings: ReplaySettings,
             out_size: tuple[int, int]) -> np.ndarray:
    """What surrounds the device: a procedural room (or a dark wall), lit by the session."""
    st = by_name(draw.session)
    light = light_field(st, rng, *out_size)
    if settings.room:
        bg = make_scene(rng, out_size[0], out_size[1], st.wall_sat, st.wall_val)
    else:
        bg = np.full((out_size[1], out_size[0], 3), int(rng.integers(8, 40)), np.uint8)
    return illuminate(bg, light)


def refresh_bands(rng: np.random.Generator, depth: float, rows: int, n: int) -> np.ndarray:
    """Per-frame row gains ``(n, rows)`` float32 of a dark band rolling down the screen (the
    display's refresh beating with the camera's rolling shutter), ``depth`` deep."""
    cycles, speed, phase = rng.uniform(0.5, 2.0), rng.uniform(0.1, 0.4), rng.uniform(0, 1)
    y, t = np.arange(rows)[None] / rows, np.arange(n)[:, None]
    wave = 0.5 * (1 + np.cos(2 * np.pi * (cycles * y - phase - speed * t)))
    return (1.0 - depth * wave).astype(np.float32)


def show_content(frame: np.ndarray, disp: tuple[int, int], gamut: np.ndarray,
                 band: np.ndarray) -> np.ndarray:
    """One input frame as the panel receives it: resampled to display pixels, reduced to the
    panel's gamut, dimmed by the refresh band; ``(disp_h, disp_w, 3)`` uint8."""
    content = cv2.transform(cv2.resize(frame, disp, interpolation=cv2.INTER_AREA), gamut)
    return cv2.multiply(content, np.repeat(band[:, None, None], 3, axis=2)
                        .repeat(disp[0], axis=1), dtype=cv2.CV_8U)


def synthesize_replay(frames: np.ndarray, settings: ReplaySettings | None = None,
                      seed: int = 0) -> tuple[np.ndarray, dict]:
    """Show live frames on a simulated display and recapture them with a simulated camera.

    Args:
        frames: ``(T, H, W, 3)`` (or one ``(H, W, 3)``) uint8 RGB live frames.
        settings: the knobs (default :class:`ReplaySettings`).
        seed: non-negative integer; every draw comes from ``SeedSequence([seed, SEED_KEY])``
            and the camera's noise bank from ``seed``, so equal inputs give equal bytes.

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
    medium = build_display(draw, settings, rng, disp)
    h0 = placement(rng, draw, settings, medium, out_size)
    drift = medium_drift(rng, n, out_size[0] / 640.0, draw.device == "replay_phone",
                         settings.motion)
    bg = backdrop(rng, draw, settings, out_size)
    bands = refresh_bands(rng, draw.flicker, disp[1], n)
    gamut = saturation_matrix(draw.saturation).astype(np.float32)
    camera = by_name(draw.camera)
    isp = partial(colour_pipeline, camera=camera, illuminant=by_name(draw.session).illuminant)
    bank = noise_bank(int(seed), out_size[1], out_size[0])
    out = np.empty((n, out_size[1], out_size[0], 3), np.uint8)
    homs = np.stack([d @ h0 for d in drift])
    for t in range(n):
        display_texture(medium, show_content(frames[t], disp, gamut, bands[t]))
        img = bg.copy()
        res = warp_patch(medium.rgba, homs[t], out_size)
        if res is not None:
            blend_rgba(img, res[0], res[1], res[2], gain=medium.gain)
        out[t] = capture(img, camera.optics, rng, bank, isp)
    return out, {"homography": homs @ content_to_texture(medium, (w, h), disp),
                 "screen": np.stack([apply(m, medium.inner) for m in homs]),
                 "device": np.stack([apply(m, medium.outer) for m in homs]),
                 "settings": dataclasses.asdict(draw), "display_size": disp, "size": out_size}


def replay_row(source: dict, rel_path: str | Path, draw: ReplayDraw) -> dict:
    """The protocol row of a synthesized replay of the live row ``source``: same subject, split
    and session; ``attack_type`` :data:`ATTACK_TYPE`; the drawn camera (``quality`` its optics'
    name) and display (``instrument``); ``video_id`` the source's + ``"__replay_synth"``."""
    return {"path": Path(rel_path).as_posix(), "subject": str(source.get("subject", "")),
            "label": 0, "attack_type": ATTACK_TYPE, "quality": by_name(draw.camera).optics.name,
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
        path_in: the live video or image (read with :func:`fas_lib.io.iter_frames`).
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
            write_avi(avi, out, int(round(fps)))
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
    seed, settings and ``n_frames``, then the counts and skipped files). A source that cannot be
    read is skipped and counted by reason. Writes ``out_root/protocol.csv`` (paths relative).

    Args:
        table: a protocol table (:mod:`fas_lib.protocol` columns).
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
            holds replays of another seed, settings or ``n_frames``.
    """
    settings, root, out_root = settings or ReplaySettings(), Path(root), Path(out_root)
    live = validate(table).query("label == 1")
    if len({output_path(p) for p in live["path"]}) < len(live):
        raise ValueError(f"two live files of the table map to the same output in {out_root}")
    report = guard_params(out_root / "synthesis.json", {"seed": int(seed), "n_frames": n_frames,
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
