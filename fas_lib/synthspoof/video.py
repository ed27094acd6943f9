"""Render one video (live, print, replay or mask) with its exact per-frame ground truth.

Live: the subject in its first scene, with head motion and blinks, seen by the simulated camera.
Attacks: a photo / video of the subject in its first scene shown on a medium (print or screen)
that sits in a SECOND scene, drifts rigidly (homography) and is recaptured by the camera; a
mask (opt-in: rigid, partial, flexible or of paper) is worn in the first scene like a live
video (:mod:`.mask`). Depth and NIR follow :mod:`.sensors`, under the video's sensor conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from fas_lib.preprocess.geometry import dlib68_to_dlib5, dlib68_to_paper5

from .camera import capture, residual_modulation, source_capture
from .factors import by_name, colour_pipeline, illuminate, light_field
from .gt import POLY_SIDE_POINTS, face_box
from .mask import WORN_ATTACKS, worn_subject
from .media import IOD_MM, PHOTO_CAMERA, PRINT_IOD, PRINT_SIZE, Medium, make_print, sample_margins
from .render import (
    WORLD_IOD,
    World,
    apply,
    blend_rgba,
    eye_schedule,
    head_motion,
    medium_drift,
    render_view,
    room_of,
    similarity,
    warp_patch,
    world_background,
)
from .scene import room_view
from .screen import REPLAY_PITCH, SCREEN_FACE_SIZE, VIDEO_CAMERA, display_texture, make_display
from .sensors import (
    NIR_IOD_REF,
    RELIEF_SLOPE,
    draw_conditions,
    head_nir,
    ir_frames,
    medium_nir,
    nir_gain,
)
from .subjects import Subject

#: Peak of the skin's specular highlight in NIR, grey levels.
SKIN_SHINE: float = 30.0
#: Face inter-ocular distance in the recorded frames, pixels at 640 x 480 (scaled with width).
FRAME_IOD_RANGE: tuple[float, float] = (58.0, 80.0)
_NPOLY = 4 * POLY_SIDE_POINTS


@dataclass(frozen=True)
class VideoJob:
    """What to render: one row of the protocol, with the factor levels rendered
    (:func:`~.factors.rendered_factors`); ``wide_margins``: :data:`~.media.WIDE_MIN_MARGIN`."""

    index: int
    video_id: str
    subject_index: int
    subject: str
    attack_type: str
    quality: str
    split: str
    session: str = "s1"
    camera: str = "c3"
    instrument: str = ""
    wide_margins: bool = False


@dataclass
class VideoResult:
    """Rendered frames and ground truth of one video (modalities ``None`` unless asked)."""

    frames: np.ndarray
    gt: dict
    depth: np.ndarray | None = None
    nir: np.ndarray | None = None


def render_video(
    job: VideoJob,
    subject: Subject,
    world: World,
    width: int,
    height: int,
    n_frames: int,
    seed: int,
    bank: np.ndarray,
    modalities: tuple = (),
) -> VideoResult:
    """Render the frames of one video; its RNG is ``SeedSequence([seed, job.index])``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, job.index]))
    want = bool(modalities)
    r = _Renderer(subject, world, width, height, n_frames, rng, bank, want, job, seed)
    if job.attack_type == "live":
        r.live()
    elif job.attack_type in WORN_ATTACKS:
        r.live(*worn_subject(job.attack_type, job.instrument, job.camera, subject, rng,
                             float(np.mean(FRAME_IOD_RANGE)) * r.k_frame))
    elif job.attack_type.startswith("print"):
        r.printed()
    else:
        r.replay()
    lm = np.stack(r.lms)
    iod = np.linalg.norm(lm[:, 36:42].mean(1) - lm[:, 42:48].mean(1), axis=1)
    gt = {
        "face_box": face_box(lm),
        "landmarks68": lm,
        "landmarks5": np.stack([dlib68_to_dlib5(x) for x in lm]),
        "paper5": np.stack([dlib68_to_paper5(x) for x in lm]),
        "medium_outer": np.stack(r.outer),
        "medium_inner": np.stack(r.inner),
        "iod": iod,
        "label": np.array(1 if job.attack_type == "live" else 0),
        "attack_type": np.array(job.attack_type),
        "quality": np.array(job.quality),
        "session": np.array(job.session),
        "camera": np.array(job.camera),
        "instrument": np.array(job.instrument),
        "subject": np.array(job.subject),
        "split": np.array(job.split),
        "video_id": np.array(job.video_id),
    }
    if r.cond is not None:  # only with modalities: the default dataset's files are unchanged
        gt.update(r.cond.gt())
    res = VideoResult(np.stack(r.frames), gt)
    if "depth" in modalities:
        res.depth = np.stack(r.depth)
    if "nir" in modalities:
        res.nir = np.stack(r.nir)
    return res


class _Renderer:
    """Per-video state; methods append frames, landmarks, polygons and modalities."""

    def __init__(
        self,
        subject: Subject,
        world: World,
        width: int,
        height: int,
        n: int,
        rng: np.random.Generator,
        bank: np.ndarray,
        want_aux: bool,
        job: VideoJob,
        seed: int,
    ) -> None:
        self.s, self.w, self.size, self.n = subject, world, (width, height), n
        self.rng, self.bank = rng, bank
        self.want_aux, self.job, self.seed = want_aux, job, seed
        camera, self.session = by_name(job.camera), by_name(job.session)
        self.camera = camera
        self.q = camera.optics
        self.isp = partial(colour_pipeline, camera=camera, illuminant=self.session.illuminant)
        self.light = light_field(self.session, rng, width, height)
        self.k_frame = width / 640.0
        self.cond = draw_conditions(seed, job.index, job.camera, job.session,
                                    self.k_frame) if want_aux else None
        self.power = self.cond.nir_power if self.cond is not None else 1.0  # NIR illuminator
        self.frames: list[np.ndarray] = []
        self.lms: list[np.ndarray] = []
        self.outer: list[np.ndarray] = []
        self.inner: list[np.ndarray] = []
        self.depth: list[np.ndarray] = []
        self.nir: list[np.ndarray] = []

    def _frame_iod(self) -> float:
        return float(self.rng.uniform(*FRAME_IOD_RANGE)) * self.k_frame

    def _face_pos(self) -> np.ndarray:
        w, h = self.size
        return np.array([w * self.rng.uniform(0.4, 0.6), h * self.rng.uniform(0.42, 0.54)])

    # -- live -------------------------------------------------------------------------------
    def live(self, wearer: Subject | None = None, gloss: float = 0.0) -> None:
        """A live video, or the subject's mask worn by ``wearer`` (mask NIR ``gloss``)."""
        w, h = self.size
        s = self.s if wearer is None else wearer
        a = similarity(
            self._frame_iod() / WORLD_IOD,
            self.rng.uniform(-3, 3),
            self.w.face_centre,
            self._face_pos(),
        )
        bg = world_background(self.w, a, self.size)
        poses = head_motion(self.rng, self.n, self.w.face_centre)
        variants = eye_schedule(self.rng, self.n)
        far = self.rng.uniform(25, 55)
        near = self.rng.uniform(130, 160)
        nan = np.full((_NPOLY, 2), np.nan)
        for t in range(self.n):
            aux = np.zeros((h, w, 3 + (s.nir is not None)), np.uint8) if self.want_aux else None
            img, lm = render_view(self.w, s, a, self.size, poses[t], variants[t], bg=bg, aux=aux)
            self._emit(img, lm, nan, nan)
            if aux is not None:
                alpha = aux[..., 2].astype(np.float32) / 255
                depth = far * (1 - alpha) + (near - 20 + aux[..., 0] * (100 / 255)) * alpha
                gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
                hair = (alpha > 0.5) & (aux[..., 1] < 128) & (gray < 60)  # absorbs the pattern
                slope = RELIEF_SLOPE * self._iod(lm) / NIR_IOD_REF
                gain = nir_gain(lm, self.k_frame) * self.power
                nir = head_nir(gray, aux, slope, gain, SKIN_SHINE, gloss)
                self._emit_aux(depth, nir, hair)

    # -- attacks ----------------------------------------------------------------------------
    def _residual(self, per_inch: float, face_size: tuple[float, float], f_iod: float) -> float:
        """Contrast share the camera sees of a medium's dots or pixels (``per_inch`` of them)
        when it shows the face at ``face_size`` (drawn) times life size, ``f_iod`` pixels
        between the eyes in the frame (:func:`~.camera.residual_modulation`)."""
        period = 25.4 / per_inch * f_iod / (IOD_MM * self.rng.uniform(*face_size))
        return residual_modulation(period, self.q.blur, self.camera.alias)

    def _window(self, margins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World rectangle ``(x0, y0)``, ``(width, height)`` around the face box with margins."""
        c, b = self.w.face_centre, self.w.face_size
        x0 = c[0] - b * (0.5 + margins[0])
        y0 = c[1] - b * (0.5 + margins[1])
        return np.array([x0, y0]), np.array(
            [b * (1 + margins[0] + margins[2]), b * (1 + margins[1] + margins[3])]
        )

    def _placement(self, face_plane: np.ndarray, k: float) -> np.ndarray:
        """Initial plane -> frame homography: scale, roll, slight tilt, face at a random spot."""
        s = similarity(k, self.rng.uniform(-7, 7), face_plane, np.zeros(2))
        tilt = np.eye(3)
        tilt[2, :2] = self.rng.uniform(-4e-4, 4e-4, 2) / self.k_frame
        pos = self._face_pos()
        t = np.array([[1.0, 0, pos[0]], [0, 1.0, pos[1]], [0, 0, 1.0]])
        return t @ tilt @ s

    def _drift(self, handheld: bool) -> list[np.ndarray]:
        """Per-frame rigid motion of the medium (:func:`~.render.medium_drift`)."""
        return medium_drift(self.rng, self.n, self.k_frame, handheld)

    def _scene2(self) -> tuple[np.ndarray, float]:
        """What surrounds the medium: the session's room (the one the live videos show) from
        where the attacker stands, and its distance behind the medium."""
        w, h = self.size
        room = room_of(self.session.name, w, h, self.seed)
        return room_view(room, self.rng, w, h), float(self.rng.uniform(25, 55))

    def _attack_frame(
        self,
        bg2: np.ndarray,
        hmat: np.ndarray,
        medium: Medium,
        lm_plane: np.ndarray,
        far: float,
        near: float,
        nir_tex: np.ndarray | None,
    ) -> None:
        """Compose one attack frame: the medium warped by ``hmat`` over the second scene."""
        img = bg2.copy()
        res = warp_patch(medium.rgba, hmat, self.size)
        if res is not None:
            patch, x0, y0 = res
            blend_rgba(img, patch, x0, y0, gain=medium.gain)
        lm = apply(hmat, lm_plane)
        self._emit(img, lm, apply(hmat, medium.outer), apply(hmat, medium.inner),
                   lit=medium.kind == "replay")
        if not self.want_aux:
            return
        w, h = self.size
        gray = cv2.cvtColor(bg2, cv2.COLOR_RGB2GRAY).astype(np.float32)
        depth = np.full((h, w), far, np.float32)
        nir = 0.35 * gray
        if res is not None:
            alpha = medium.rgba[..., 3]
            z = medium.z if medium.z is not None else np.zeros_like(alpha)
            stack = np.dstack([nir_tex, z, alpha, medium.extra["fingers"]])
            aux = warp_patch(stack, hmat, self.size)
            if aux is not None:
                ap, ax, ay = aux
                ph, pw = ap.shape[:2]
                a = ap[..., 2].astype(np.float32) / 255
                # perspective scale of the plane at each pixel: nearer parts look larger
                inv = np.linalg.inv(hmat)
                xs = np.arange(ax, ax + pw, dtype=np.float64)[None, :]
                ys = np.arange(ay, ay + ph, dtype=np.float64)[:, None]
                sw = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
                fc = apply(hmat, lm_plane[30:31])[0]
                s0 = inv[2, 0] * fc[0] + inv[2, 1] * fc[1] + inv[2, 2]
                plane = (near * (sw / s0)).astype(np.float32) - ap[..., 1].astype(np.float32) * 0.5
                plane += ap[..., 3].astype(np.float32) * (15 / 255)  # fingers stand proud
                sl = (slice(ay, ay + ph), slice(ax, ax + pw))
                depth[sl] = depth[sl] * (1 - a) + plane * a
                gain = nir_gain(lm, self.k_frame) * self.power  # the illuminator's falloff
                nir[sl] = nir[sl] * (1 - a) + ap[..., 0].astype(np.float32) * gain * a
        self._emit_aux(depth, nir)

    def printed(self) -> None:
        kind = self.job.attack_type
        m = sample_margins(self.rng, self.job.index, self.seed, "print_portrait",
                           self.job.wide_margins)
        origin, extent = self._window(m)
        k_tex = PRINT_IOD / WORLD_IOD
        size = (round(extent[0] * k_tex), round(extent[1] * k_tex))
        m_c = similarity(k_tex, 0.0, origin, np.zeros(2))
        eye = np.eye(3)
        variant = "smile" if self.rng.random() < 0.3 else "open"
        content, lm_c = render_view(self.w, self.s, m_c, size, eye, variant)
        content = source_capture(content, self.rng, *PHOTO_CAMERA)  # the photo's own camera
        light = self.rng.uniform(0.78, 1.0) * (1 + self.rng.normal(0, 0.03, 3))
        printer = by_name(self.job.instrument)
        f_iod = self._frame_iod()
        residual = self._residual(printer.lpi, PRINT_SIZE, f_iod)  # of the halftone
        medium = make_print(content, lm_c, self.w.face_size * k_tex, self.rng, kind, light,
                            printer=printer, residual=residual)
        behind = {}
        eyes = slice(36, 48)
        if kind == "print_cut":
            shift = self.rng.normal(0, 1.5, 2)
            m_b = similarity(1.0, 0.0, np.zeros(2), shift) @ m_c
            bg_c = world_background(self.w, m_b, size)
            for v in ("open", "half", "closed"):
                img_b, lm_b = render_view(self.w, self.s, m_b, size, eye, v, bg=bg_c)
                behind[v] = (img_b, lm_b)
            schedule = eye_schedule(self.rng, self.n)
            schedule = ["open" if v == "smile" else v for v in schedule]
        face_c = medium.to_plane(np.array([self.w.face_centre]) @ m_c[:2, :2].T + m_c[:2, 2])[0]
        h0 = self._placement(face_c, f_iod / PRINT_IOD)
        drift = self._drift(handheld=True)
        bg2, far = self._scene2()
        near = self.rng.uniform(135, 165)
        ox, oy = medium.extra["content_origin"]
        picture = self._nir_picture(m_c, size, variant, content) if kind == "print_nir" else None
        if behind:
            holes = medium.extra["holes"][oy : oy + size[1], ox : ox + size[0]] > 0
        for t in range(self.n):
            lm = lm_c
            if behind:  # the holes are rewritten every frame, so the texture is edited in place
                img_b, lm_b = behind[schedule[t]]
                region = medium.rgba[oy : oy + size[1], ox : ox + size[0], :3]
                region[holes] = (img_b[holes] * 0.8).astype(np.uint8)
                lm = lm_c.copy()
                lm[eyes] = lm_b[eyes]
            nir_tex = None
            if self.want_aux:  # paper reflects NIR, ink absorbs it by its carbon content
                nir_tex = medium_nir(medium.rgba, medium.extra,
                                     by_name(self.job.instrument).nir_ink, picture=picture)
            hmat = drift[t] @ h0
            self._attack_frame(bg2, hmat, medium, medium.to_plane(lm), far, near, nir_tex)

    def replay(self) -> None:
        kind = self.job.attack_type
        m = sample_margins(self.rng, self.job.index, self.seed, kind, self.job.wide_margins)
        origin, extent = self._window(m)
        f_iod = self._frame_iod()
        # drawn: camera pixels per display pixel (the texture's resolution: the panel shows
        # about as many pixels as the camera records); real: the panel's pixel period in
        # camera pixels, which sets how much of its sub-pixel pattern the camera sees
        pitch = self.rng.uniform(*REPLAY_PITCH)
        display = by_name(self.job.instrument)
        residual = self._residual(display.ppi, SCREEN_FACE_SIZE[kind], f_iod)  # sub-pixels
        k_disp = f_iod / (pitch * WORLD_IOD)
        dsize = (round(extent[0] * k_disp), round(extent[1] * k_disp))
        m_d = similarity(k_disp, 0.0, origin, np.zeros(2))
        medium = make_display(dsize[0], dsize[1], self.w.face_size * k_disp, self.rng, kind, pitch,
                              display=display, residual=residual)
        bg_d = world_background(self.w, m_d, dsize)
        poses = head_motion(self.rng, self.n, self.w.face_centre)
        variants = eye_schedule(self.rng, self.n)
        face_c = medium.to_plane(np.array([self.w.face_centre]) @ m_d[:2, :2].T + m_d[:2, 2])[0]
        h0 = self._placement(face_c, pitch / 3.0)
        drift = self._drift(handheld=kind == "replay_phone")
        bg2, far = self._scene2()
        bg2 = illuminate(bg2, self.light)  # the room is lit; the screen emits its own light
        near = self.rng.uniform(135, 165)
        nir_tex = None
        if self.want_aux:  # the panel emits no NIR: its glass, the bezel and the fingers
            nir_tex = medium_nir(medium.rgba, medium.extra, None, gain=medium.gain)
        source = self.rng.uniform(size=3)  # the replayed video's camera, fixed for the video
        cam = [tuple(lo + u * (hi - lo) for _ in range(2)) for u, (lo, hi)
               in zip(source, VIDEO_CAMERA)]
        for t in range(self.n):
            content, lm = render_view(self.w, self.s, m_d, dsize, poses[t], variants[t], bg=bg_d)
            content = source_capture(content, self.rng, cam[0], cam[1],
                                     tuple(int(round(v)) for v in cam[2]))
            display_texture(medium, content)
            hmat = drift[t] @ h0
            self._attack_frame(bg2, hmat, medium, medium.to_plane(lm), far, near, nir_tex)

    # -- output -----------------------------------------------------------------------------
    def _emit(self, img: np.ndarray, lm: np.ndarray, outer: np.ndarray, inner: np.ndarray,
              lit: bool = False) -> None:
        """Record a frame: lit by the session's light (unless ``lit`` already), photographed."""
        if not lit:
            img = illuminate(img, self.light)
        self.frames.append(capture(img, self.q, self.rng, self.bank, self.isp))
        self.lms.append(lm)
        self.outer.append(outer)
        self.inner.append(inner)

    def _emit_aux(self, depth: np.ndarray, nir: np.ndarray,
                  absorb: np.ndarray | None = None) -> None:
        """Record a depth and an NIR frame (:func:`~.sensors.ir_frames` under the video's
        conditions); ``absorb``: dark hair."""
        d, n = ir_frames(depth, nir, self.rng, self.bank, absorb, self.cond)
        self.depth.append(d)
        self.nir.append(n)

    @staticmethod
    def _iod(lm: np.ndarray) -> float:
        return float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))

    def _nir_picture(self, m_c: np.ndarray, size: tuple[int, int], variant: str,
                     content: np.ndarray) -> np.ndarray | None:
        """The NIR photo a ``print_nir`` attacker prints in carbon ink: the live head's NIR
        (:func:`~.sensors.head_nir`) in the content's pixels; ``None`` without modalities."""
        if not self.want_aux:
            return None
        aux = np.zeros((size[1], size[0], 3), np.uint8)
        _, lm = render_view(self.w, self.s, m_c, size, np.eye(3), variant, aux=aux)
        gray = cv2.cvtColor(content, cv2.COLOR_RGB2GRAY).astype(np.float32)
        nir = head_nir(gray, aux, RELIEF_SLOPE * self._iod(lm) / NIR_IOD_REF, 1.0, SKIN_SHINE)
        return np.clip(nir, 0, 255).astype(np.uint8)
