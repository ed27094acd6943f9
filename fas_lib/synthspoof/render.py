"""Rendering primitives: a subject's world (first scene), head motion, blinks, compositing.

Coordinates: a subject's *world* is its first scene at a canonical framing (face inter-ocular
distance :data:`WORLD_IOD`). Any view of it - a live camera frame, the photo that gets printed,
the video shown on a screen - is an affine map from world to output pixels. All maps are 3 x 3
matrices so that they compose with the homographies that place media in the second scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .factors import SESSION_NAMES, SESSIONS
from .gt import face_box
from .scene import room_view, session_room
from .subjects import Subject

#: Inter-ocular distance of the face in world pixels.
WORLD_IOD: float = 68.0
#: The world canvas extends this fraction of the frame size beyond each frame edge.
WORLD_PAD: float = 0.45


@dataclass
class World:
    """A subject sitting in its first scene.

    Attributes:
        bg: ``(H, W, 3)`` uint8 background canvas, larger than a frame.
        canvas_to_world: ``(3, 3)`` map from canvas pixels to world coordinates.
        place: ``(3, 3)`` map from sprite pixels to world coordinates.
        face_centre: world centre of the face box (open eyes, no head motion).
        face_size: world side of the face box.
    """

    bg: np.ndarray
    canvas_to_world: np.ndarray
    place: np.ndarray
    face_centre: np.ndarray
    face_size: float


def similarity(scale: float, angle_deg: float, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(3, 3)`` similarity mapping point ``src`` to ``dst`` with the given scale and rotation."""
    a = np.radians(angle_deg)
    r = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m = np.eye(3)
    m[:2, :2] = r
    m[:2, 2] = np.asarray(dst, np.float64) - r @ np.asarray(src, np.float64)
    return m


def world_canvas(width: int, height: int) -> tuple[int, int]:
    """Size of a world's background canvas for ``width`` x ``height`` frames (``WORLD_PAD`` of
    the frame on every side), which is also what a session's room is made around."""
    return int(width * (1 + 2 * WORLD_PAD)), int(height * (1 + 2 * WORLD_PAD))


def room_of(session: str, width: int, height: int, seed: int) -> np.ndarray:
    """The room of a dataset's ``session`` for ``width`` x ``height`` frames
    (:func:`~.scene.session_room` made around the world canvas, in the session's wall style):
    the one room its live worlds and its attacks' surroundings are views of."""
    s_idx = SESSION_NAMES.index(session)
    style = SESSIONS[s_idx]
    return session_room(seed, s_idx, *world_canvas(width, height), style.wall_sat,
                        style.wall_val)


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a ``(3, 3)`` projective map to ``(..., 2)`` points."""
    p = np.asarray(pts, np.float64)
    q = p @ m[:2, :2].T + m[:2, 2]
    w = p @ m[2, :2] + m[2, 2]
    return q / w[..., None]


def make_world(subject: Subject, width: int, height: int, session: str = "s1",
               seed: int = 0) -> World:
    """Place a subject in the room of a session (:func:`~.scene.session_room` of the dataset's
    ``seed``), seen from the subject's own spot and with its own face position (deterministic
    from the subject's ``scene_seed`` and the session)."""
    s_idx = SESSION_NAMES.index(session)
    rng = np.random.default_rng(
        np.random.SeedSequence([subject.params["scene_seed"], width, height, s_idx])
    )
    cw, ch = world_canvas(width, height)
    bg = room_view(room_of(session, width, height, seed), rng, cw, ch)
    c2w = np.eye(3)
    c2w[:2, 2] = (-WORLD_PAD * width, -WORLD_PAD * height)
    lm = subject.landmarks["open"]
    box = face_box(lm)
    centre_s = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    k = WORLD_IOD / subject.iod
    centre_w = np.array([width * rng.uniform(0.45, 0.55), height * rng.uniform(0.42, 0.5)])
    place = similarity(k, 0.0, centre_s, centre_w)
    return World(bg, c2w, place, centre_w, float(box[2] - box[0]) * k)


def head_motion(
    rng: np.random.Generator, n: int, centre: np.ndarray, amp: float = 1.0
) -> list[np.ndarray]:
    """Smooth small head motion: ``n`` world-space ``(3, 3)`` maps about the face centre.

    Rotation, uniform scale, translation and a slight horizontal squash (a turn of the head)
    follow damped random walks.
    """
    out = []
    state = np.zeros(5)
    vel = np.zeros(5)
    step = np.array([0.6, 0.006, 1.2, 0.8, 0.008]) * amp  # deg, scale, px, px, squash
    lim = np.array([4.0, 0.05, 8.0, 6.0, 0.06]) * amp
    for _ in range(n):
        out.append(_pose(centre, *state))
        vel = 0.6 * vel + rng.normal(0, 1, 5) * step
        state = np.clip(state + vel, -lim, lim)
    return out


def medium_drift(
    rng: np.random.Generator, n: int, k_frame: float = 1.0, handheld: bool = True,
    strength: float = 1.0,
) -> list[np.ndarray]:
    """Per-frame rigid motion of a held medium: ``n`` frame-space ``(3, 3)`` homographies.

    Roll, scale, translation and perspective follow damped random walks (starting at the
    identity); a hand-held medium moves about three times more than one on a stand.

    Args:
        rng: generator (six normal draws per frame).
        n: number of frames.
        k_frame: frame width / 640 (translation and perspective scale with the frame).
        handheld: held in the hand (phone, print) rather than standing (monitor).
        strength: factor on every step (1 = SynthSpoof's motion, 0 = still).
    """
    amp = (1.0 if handheld else 0.35) * strength
    step = np.array([0.35, 0.004, 1.5, 1.5, 1.5e-5, 1.5e-5]) * amp
    state, vel, out = np.zeros(6), np.zeros(6), []
    for _ in range(n):
        a = np.radians(state[0])
        m = np.eye(3)
        m[:2, :2] = (1 + state[1]) * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        m[:2, 2] = state[2:4] * k_frame
        m[2, :2] = state[4:6] / k_frame
        out.append(m)
        vel = 0.6 * vel + rng.normal(0, 1, 6) * step
        state = state + vel
    return out


def _pose(
    centre: np.ndarray, rot: float, scale: float, tx: float, ty: float, squash: float
) -> np.ndarray:
    a = np.radians(rot)
    r = (
        (1 + scale)
        * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        @ np.diag([1 - abs(squash), 1])
    )
    m = np.eye(3)
    m[:2, :2] = r
    m[:2, 2] = centre + (tx, ty) - r @ centre
    return m


def eye_schedule(rng: np.random.Generator, n: int) -> list[str]:
    """Per-frame sprite variants: a blink (half, closed, half) in most videos, sometimes a smile."""
    seq = ["open"] * n
    if rng.random() < 0.35:
        start = int(rng.integers(0, n))
        seq[start:] = ["smile"] * (n - start)
    if n >= 3 and rng.random() < 0.85:
        b = int(rng.integers(0, n - 2))
        seq[b : b + 3] = ["half", "closed", "half"]
    return seq


def blend(
    dst: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, x0: int, y0: int, gain: float = 1.0
) -> None:
    """Alpha-blend a contiguous RGB patch with a uint8 alpha into ``dst`` at ``(x0, y0)``, in place.

    Args:
        dst: ``(H, W, 3)`` uint8 image.
        rgb: ``(h, w, 3)`` uint8 patch.
        alpha: ``(h, w)`` uint8 opacity.
        x0: left column of the patch in ``dst``.
        y0: top row of the patch in ``dst``.
        gain: brightness factor applied to the patch first (emissive screens).
    """
    h, w = rgb.shape[:2]
    roi = dst[y0 : y0 + h, x0 : x0 + w]
    if gain != 1.0:
        rgb = cv2.convertScaleAbs(rgb, alpha=gain)
    a = alpha.astype(np.float32) * (1.0 / 255.0)
    roi[...] = cv2.blendLinear(rgb, np.ascontiguousarray(roi), a, 1.0 - a)


def blend_rgba(dst: np.ndarray, src: np.ndarray, x0: int, y0: int, gain: float = 1.0) -> None:
    """:func:`blend` for an RGBA patch."""
    blend(dst, cv2.cvtColor(src, cv2.COLOR_RGBA2RGB), src[..., 3], x0, y0, gain)


def warp_patch(
    src: np.ndarray | list[np.ndarray],
    m: np.ndarray,
    size: tuple[int, int],
    interp: int = cv2.INTER_LINEAR,
) -> tuple | None:
    """Warp ``src`` by the ``(3, 3)`` map ``m`` into the bounding box it covers in a ``size`` image.

    Args:
        src: one image, or a list of same-sized images warped into the same box.
        m: ``(3, 3)`` map (affine or projective).
        size: ``(width, height)`` of the destination.
        interp: interpolation flag.

    Returns:
        ``(patch, x0, y0)`` (``patch`` a list when ``src`` is), or ``None`` when nothing lands
        inside the destination.
    """
    many = isinstance(src, list)
    srcs = src if many else [src]
    h, w = srcs[0].shape[:2]
    corners = apply(m, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64))
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, size[0]), min(y1, size[1])
    if x1 <= x0 or y1 <= y0:
        return None
    t = np.array([[1.0, 0, -x0], [0, 1.0, -y0], [0, 0, 1.0]]) @ m
    out = []
    for img in srcs:
        if np.allclose(t[2], [0, 0, 1]):
            p = cv2.warpAffine(
                img,
                t[:2],
                (x1 - x0, y1 - y0),
                flags=interp,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
        else:
            p = cv2.warpPerspective(
                img,
                t,
                (x1 - x0, y1 - y0),
                flags=interp,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
        out.append(p)
    return (out if many else out[0]), x0, y0


def render_view(
    world: World,
    subject: Subject,
    m_out: np.ndarray,
    size: tuple[int, int],
    pose: np.ndarray,
    variant: str,
    bg: np.ndarray | None = None,
    aux: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render the subject in its world through the world -> output map ``m_out``.

    Args:
        world: the subject's world.
        subject: the subject.
        m_out: ``(3, 3)`` world -> output pixels (affine).
        size: ``(width, height)`` of the output.
        pose: ``(3, 3)`` head motion in world coordinates.
        variant: sprite variant (``"open"``, ``"half"``, ``"closed"``, ``"smile"``).
        bg: the background already warped by ``m_out`` (saves a warp per frame).
        aux: optional ``(H, W, 3)`` uint8 output receiving [relief, skin, alpha] of the subject,
            or ``(H, W, 4)`` receiving also its mask's NIR reflectance (``subject.nir``).

    Returns:
        ``(image, landmarks68)`` in output pixels.
    """
    img = (world_background(world, m_out, size) if bg is None else bg).copy()
    m = m_out @ pose @ world.place
    res = warp_patch(subject.sprites[variant], m, size)
    if res is not None:
        patch, x0, y0 = res
        blend_rgba(img, patch, x0, y0)
        if aux is not None:
            alpha = subject.sprites["open"][..., 3]
            maps = [subject.relief, subject.skin, alpha]
            if aux.shape[2] > 3:
                maps.append(subject.nir if subject.nir is not None else np.zeros_like(alpha))
            stack = np.dstack(maps)
            p2 = warp_patch(stack, m, size)
            if p2 is not None:
                a2, ax, ay = p2
                aux[ay : ay + a2.shape[0], ax : ax + a2.shape[1]] = a2.reshape(
                    a2.shape[0], a2.shape[1], -1
                )
    return img, apply(m, subject.landmarks[variant])


def world_background(world: World, m_out: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The world's background seen through ``m_out``."""
    return cv2.warpAffine(
        world.bg,
        (m_out @ world.canvas_to_world)[:2],
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
