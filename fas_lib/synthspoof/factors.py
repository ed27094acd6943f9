"""Capture factors of SynthSpoof: sessions (environments), cameras and attack instruments.

Every video is recorded in one **session** (a room, its light and its background style), by one
**camera** (resolution, blur, noise, colour response, white balance, sharpening, JPEG) and,
for an attack, with one **instrument** (the printer of a print, the display of a replay). The
levels are fixed and documented here, like OULU-NPU's three sessions, six phones, two printers
and two displays (Boulkenafet et al., FG 2017); every video draws small variations around its
levels. Every subject is recorded in every session; instruments rotate over a subject's attacks
(:func:`instrument_for`) and cameras over the videos of each split, session and instrument
(:func:`assign_cameras`), so that every subject split holds every level of every factor and the
OULU-style protocols of :mod:`fas_lib.data.shift` can hold one level out for dev and another for
test.

=======  ==================================================================================
factor   levels
=======  ==================================================================================
session  ``s1`` office, neutral light from above; ``s2`` living room, dim warm lamp from the
         left; ``s3`` by a window, bright cool daylight from the right
camera   ``c1`` old USB webcam; ``c2`` laptop webcam; ``c3`` phone A; ``c4`` phone B;
         ``c5`` compact camera
printer  ``p1`` office laser, plain paper; ``p2`` inkjet, glossy photo paper; ``p3`` colour
         laser, recycled paper
display  ``d1`` matte laptop LCD; ``d2`` glossy OLED phone; ``d3`` bluish IPS tablet
mask     ``m1`` glossy painted resin; ``m2`` matte paper-mache; ``m3`` 3-D printed gypsum
         (only for the opt-in ``mask`` and ``mask_partial`` attacks); flexible masks ``f1``
         painted latex, ``f2`` pigmented silicone, ``f3`` painted silicone full-head (only for
         the opt-in ``mask_flexible``); the opt-in ``mask_paper`` is printed by ``p1``-``p3``
=======  ==================================================================================

A config may fix factors at one level (``SynthConfig.fixed_factors``, the ablation of
:func:`fas_lib.studies.generalise.variant_study`): :func:`rendered_factors` is the one place that
turns a video's planned levels into the ones it is rendered and labelled with
(:data:`FIXED_LEVELS`).

A print's NIR contrast depends on its ink (``Printer.nir_ink``): carbon toner absorbs 850 nm,
dye inks hardly do. The opt-in ``print_nir`` attack uses the same printers with carbon ink.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import cv2
import numpy as np

from .camera import Quality


@dataclass(frozen=True)
class Session:
    """An environment: the light on the scene and the style of its backgrounds.

    Attributes:
        name: ``"s1"`` ...
        title: what it stands for.
        illuminant: RGB colour of the light (before the camera's white balance).
        level: exposure level (1 = the course's earlier default).
        light_angle: direction the light comes from, degrees in the image (0 = right, 90 = top).
        light_strength: brightness difference across the frame along that direction.
        wall_sat: saturation range of the background's wall colours.
        wall_val: value (brightness) range of the background's wall colours.
    """

    name: str
    title: str
    illuminant: tuple[float, float, float]
    level: float
    light_angle: float
    light_strength: float
    wall_sat: tuple[float, float]
    wall_val: tuple[float, float]


@dataclass(frozen=True)
class Camera:
    """A camera model: its sensor and optics (:class:`~.camera.Quality`) and its colour pipeline.

    Attributes:
        name: ``"c1"`` ...
        title: what it stands for.
        optics: resolution, blur, noise and JPEG settings; ``optics.name`` is the video's
            ``quality`` (``"low"``, ``"normal"``, ``"high"``, as CASIA-FASD names them).
        saturation: colour response (1 = neutral).
        tint: RGB gains of the sensor's colour response.
        awb: share of the light's colour cast that its auto white balance removes.
        sharpen: unsharp-mask amount of its image processor (0 = none).
        alias: contrast share of patterns far finer than its pixels that it still aliases
            (no optical low-pass filter, demosaicking): phones most, blurry webcams least
            (:func:`~.camera.residual_modulation`).
    """

    name: str
    title: str
    optics: Quality
    saturation: float
    tint: tuple[float, float, float]
    awb: float
    sharpen: float
    alias: float = 0.0


@dataclass(frozen=True)
class Printer:
    """A printer and its paper.

    Attributes:
        name: ``"p1"`` ...
        title: what it stands for.
        period: halftone screen period in texture pixels (the dot pattern as drawn; its
            contrast in the video is what :func:`~.camera.residual_modulation` leaves of the
            real screen ruling ``lpi``).
        angles: screen angles of the three inks, degrees.
        saturation: range of the gamut's saturation.
        dot_mix: range of the share of hard dots in the printed tone.
        gloss: strength of the specular sheen on the paper (0 = matte).
        paper: paper white, RGB.
        nir_ink: share of its inks' visible darkness that also absorbs 850 nm light (carbon
            black toner high, dye inks low): the contrast of the printed face in NIR.
        lpi: halftone screen ruling, lines per inch (sets the dots' real period).
        grain: paper texture (fibres, mottle), relative contrast.
        black: range of the ink's black relative to white (its density: photo inks on
            glossy paper reach 2.0-2.4, i.e. 0.4-1 %; toner on plain paper about 1.3, 5 %;
            seen in a lit room, flare lifts both).
        gamma: range of the print's tone curve (1 = the photo's own).
    """

    name: str
    title: str
    period: float
    angles: tuple[float, float, float]
    saturation: tuple[float, float]
    dot_mix: tuple[float, float]
    gloss: float
    paper: tuple[float, float, float]
    nir_ink: float = 0.4
    lpi: float = 150.0
    grain: float = 0.02
    black: tuple[float, float] = (0.1, 0.2)
    gamma: tuple[float, float] = (0.9, 1.15)


@dataclass(frozen=True)
class MaskMaterial:
    """A 3-D face mask (the opt-in ``mask`` and ``mask_partial`` attacks: rigid; the
    ``mask_flexible`` attack: :data:`FLEX_MASKS`).

    Attributes:
        name: ``"m1"`` ...
        title: what it stands for.
        flatness: share of the face's own shading and detail the paint removes (1 = flat).
        tint: RGB gains of the paint relative to the subject's skin.
        gloss: peak of its specular highlight, grey levels (RGB and NIR).
        nir: its NIR reflectance at 850 nm, grey levels (skin is about 150-180).
        grain: amplitude of its surface texture (paper fibres, print layers), grey levels.
        smooth: blur of the face relief it was moulded on, in inter-ocular distances.
        scatter: share of its NIR radiance scattered under its surface like skin's (0: an
            opaque resin or gypsum; translucent silicone some).
        thickness: how far it stands proud of the face, relief levels.
    """

    name: str
    title: str
    flatness: float
    tint: tuple[float, float, float]
    gloss: float
    nir: float
    grain: float
    smooth: float
    scatter: float = 0.0
    thickness: float = 6.0


@dataclass(frozen=True)
class Display:
    """A display panel (of a phone or of a larger screen).

    Attributes:
        name: ``"d1"`` ...
        title: what it stands for.
        order: sub-pixel order, ``"rgb"`` or ``"bgr"``.
        dark: range of the transmission of the matrix between sub-pixels (moire contrast).
        black: range of the black level.
        gamma: range of the display gamma.
        tint: RGB white point (gamut).
        glare: range of the reflection's peak, grey levels (gloss).
        ppi: pixel density, pixels per inch (sets the sub-pixels' real period).
    """

    name: str
    title: str
    order: str
    dark: tuple[float, float]
    black: tuple[float, float]
    gamma: tuple[float, float]
    tint: tuple[float, float, float]
    glare: tuple[float, float]
    ppi: float = 200.0


SESSIONS: tuple[Session, ...] = (
    Session("s1", "office, neutral ceiling light from above", (1.0, 1.0, 1.0), 1.0, 90.0,
            0.25, (0.05, 0.35), (0.6, 0.9)),
    Session("s2", "living room, dim warm lamp from the left", (1.2, 0.97, 0.7), 0.74, 180.0,
            0.6, (0.3, 0.65), (0.35, 0.7)),
    Session("s3", "by a window, bright cool daylight from the right", (0.86, 0.98, 1.18), 1.12,
            0.0, 0.55, (0.0, 0.2), (0.72, 0.97)),
)
CAMERAS: tuple[Camera, ...] = (
    Camera("c1", "old USB webcam", Quality("low", 0.5, 1.0, 3.0, 5.0, 40, 0.014),
           0.8, (1.0, 1.05, 0.93), 0.35, 0.0, 0.01),
    Camera("c2", "laptop webcam", Quality("normal", 0.7, 0.7, 2.2, 3.6, 60, 0.01),
           0.9, (0.95, 1.04, 1.02), 0.6, 0.9, 0.03),
    Camera("c3", "phone A, front camera", Quality("high", 0.92, 0.5, 1.4, 2.4, 85, 0.006),
           1.25, (1.05, 1.0, 0.96), 0.85, 0.6, 0.08),
    Camera("c4", "phone B, front camera", Quality("normal", 0.8, 0.6, 1.8, 3.0, 70, 0.008),
           1.05, (0.98, 0.98, 1.06), 0.7, 1.3, 0.06),
    Camera("c5", "compact camera", Quality("high", 1.0, 0.4, 1.0, 2.0, 92, 0.005),
           1.0, (1.0, 1.0, 1.0), 0.92, 0.2, 0.02),
)
#: The levels span what real attacks use: a plain-paper office print is washed out and dull
#: (p1), a photo print on glossy paper is close to the photo (p2); a matte laptop panel lifts
#: its blacks with the room's light (d1), an OLED phone hardly changes the picture (d2).
PRINTERS: tuple[Printer, ...] = (
    Printer("p1", "office laser printer, plain paper", 4.2, (15.0, 75.0, 45.0), (0.5, 0.7),
            (0.55, 0.72), 0.0, (244.0, 243.0, 236.0), 0.55, 100.0, 0.035, (0.1, 0.18),
            (0.9, 1.15)),
    Printer("p2", "inkjet printer, glossy photo paper", 2.6, (15.0, 75.0, 0.0), (0.88, 1.0),
            (0.3, 0.45), 0.55, (251.0, 250.0, 248.0), 0.15, 240.0, 0.008, (0.02, 0.06),
            (0.95, 1.05)),
    Printer("p3", "colour laser printer, recycled paper", 3.4, (105.0, 165.0, 45.0),
            (0.65, 0.85), (0.45, 0.62), 0.15, (236.0, 231.0, 218.0), 0.35, 150.0, 0.05,
            (0.06, 0.12), (0.92, 1.1)),
)
DISPLAYS: tuple[Display, ...] = (
    Display("d1", "matte laptop LCD", "rgb", (0.25, 0.38), (0.04, 0.09), (0.88, 1.02),
            (0.95, 0.98, 1.0), (8.0, 25.0), 110.0),
    Display("d2", "glossy OLED phone screen", "bgr", (0.12, 0.22), (0.0, 0.015), (0.97, 1.12),
            (1.0, 0.97, 1.01), (50.0, 90.0), 440.0),
    Display("d3", "bluish IPS tablet screen", "rgb", (0.3, 0.45), (0.02, 0.05), (0.92, 1.08),
            (0.9, 0.95, 1.0), (25.0, 60.0), 264.0),
)
MASKS: tuple[MaskMaterial, ...] = (
    MaskMaterial("m1", "glossy painted resin mask", 0.5, (1.04, 0.98, 0.92), 70.0, 205.0, 2.0,
                 0.12),
    MaskMaterial("m2", "matte paper-mache mask", 0.6, (1.0, 0.96, 0.9), 0.0, 190.0, 7.0, 0.2),
    MaskMaterial("m3", "3-D printed gypsum mask, full colour", 0.4, (0.97, 0.97, 0.97), 15.0,
                 215.0, 4.0, 0.08),
)
#: Flexible masks (the opt-in ``mask_flexible`` attack): thin, moulded closely on the face
#: (``smooth``), they keep the wearer's expression and let some NIR light scatter under their
#: surface (``scatter``: this course's modelling choice, not a measured value). Flexible
#: silicone masks are one of WMCA's attack categories (George et al., IEEE TIFS 2020).
FLEX_MASKS: tuple[MaskMaterial, ...] = (
    MaskMaterial("f1", "painted latex mask", 0.45, (1.02, 0.97, 0.93), 25.0, 185.0, 3.0, 0.05,
                 0.3, 2.0),
    MaskMaterial("f2", "pigmented silicone mask, hyper-realistic", 0.2, (1.0, 0.98, 0.96), 15.0,
                 170.0, 1.5, 0.03, 0.6, 3.0),
    MaskMaterial("f3", "painted silicone full-head mask", 0.3, (1.03, 0.96, 0.94), 20.0, 178.0,
                 2.0, 0.04, 0.5, 3.0),
)
SESSION_NAMES: tuple[str, ...] = tuple(s.name for s in SESSIONS)
CAMERA_NAMES: tuple[str, ...] = tuple(c.name for c in CAMERAS)


@dataclass(frozen=True)
class Factors:
    """The capture factors of one video (``instrument`` is ``""`` for a live video)."""

    session: str
    camera: str
    instrument: str


#: Attack type -> the family of its instrument, in the order that rotates the levels
#: (``fas_lib.synthspoof.config.ALL_ATTACK_TYPES``).
ATTACK_INSTRUMENTS: dict[str, tuple] = {
    "print_flat": PRINTERS, "print_warped": PRINTERS, "print_cut": PRINTERS,
    "replay_phone": DISPLAYS, "replay_screen": DISPLAYS, "mask": MASKS, "print_nir": PRINTERS,
    "mask_partial": MASKS, "mask_flexible": FLEX_MASKS, "mask_paper": PRINTERS,
}


#: Generation factors a config may fix at one level for every video
#: (``SynthConfig.fixed_factors``): this module's session, camera and instrument, and the
#: media's margins (:func:`~.media.sample_margins`, ``wide``).
FIXABLE_FACTORS: tuple[str, ...] = ("session", "camera", "instrument", "margins")
#: The level of a fixed factor: session ``s1`` (neutral light from above, mid-bright walls),
#: camera ``c5`` (the compact camera: sharpest, least noise, neutral colour), and the
#: instrument of each family among ``("p2", "d1", "m1", "f1")``: every print from the photo
#: inkjet, every replay on the matte LCD, every mask of painted resin (a flexible one of latex).
FIXED_LEVELS: dict[str, str | tuple[str, ...]] = {
    "session": "s1", "camera": "c5", "instrument": ("p2", "d1", "m1", "f1"),
}


def rendered_factors(planned: Factors, attack_type: str, fixed: Collection[str]) -> Factors:
    """The capture factors a video is rendered and labelled with: ``planned`` (from
    :func:`instrument_for` and :func:`assign_cameras`) with every family in ``fixed`` at its
    :data:`FIXED_LEVELS` level (a live video keeps no instrument; ``"margins"`` is
    :func:`~.media.sample_margins`' business).
    """
    session = str(FIXED_LEVELS["session"]) if "session" in fixed else planned.session
    camera = str(FIXED_LEVELS["camera"]) if "camera" in fixed else planned.camera
    instrument = planned.instrument
    if "instrument" in fixed and instrument:
        instrument = next(level.name for level in ATTACK_INSTRUMENTS[attack_type]
                          if level.name in FIXED_LEVELS["instrument"])
    return Factors(session, camera, instrument)


def instrument_for(subject_index: int, session: int, attack_type: str) -> str:
    """The instrument of an attack: a subject's three prints in a session use the three
    printers, its two replays two of the three displays, rotated by subject and session; a
    mask is one of :data:`MASKS` and a NIR print one of the printers, rotated likewise.

    Raises:
        KeyError: ``attack_type`` is not in :data:`ATTACK_INSTRUMENTS`.
    """
    if attack_type not in ATTACK_INSTRUMENTS:
        raise KeyError(f"no instrument family for attack type {attack_type!r}; "
                       f"known: {list(ATTACK_INSTRUMENTS)}")
    k = (subject_index + session + list(ATTACK_INSTRUMENTS).index(attack_type)) % 3
    return ATTACK_INSTRUMENTS[attack_type][k].name


def assign_cameras(cells: list[tuple[str, ...]]) -> list[str]:
    """Cameras for videos in order, round-robin within each cell (a video's split, session and
    instrument, or ``"live"``), each cell starting two cameras after the previous new one.

    Every cell so spreads its videos evenly over the cameras, whatever the subjects in a split:
    a protocol that holds out a session, an instrument *and* a camera (p4) still finds
    ``len(cell) / 5`` videos in every held-out combination.
    """
    nxt: dict[tuple[str, ...], int] = {}
    out = []
    for cell in cells:
        if cell not in nxt:
            nxt[cell] = 2 * len(nxt)
        out.append(CAMERAS[nxt[cell] % len(CAMERAS)].name)
        nxt[cell] += 1
    return out


def by_name(name: str) -> Session | Camera | Printer | Display | MaskMaterial:
    """The level called ``name`` (``"s2"``, ``"c4"``, ``"p1"``, ``"d3"``, ``"m1"``)."""
    for level in (*SESSIONS, *CAMERAS, *PRINTERS, *DISPLAYS, *MASKS, *FLEX_MASKS):
        if level.name == name:
            return level
    raise KeyError(f"no capture-factor level {name!r}")


def light_field(session: Session, rng: np.random.Generator, width: int,
                height: int) -> np.ndarray:
    """The session's light over the frame, jittered per video: ``(H, W, 3)`` float32 gains.

    Colour ``illuminant`` (+- 3 %), level (+- 8 %) and a linear ramp of relative strength
    ``light_strength`` (+- 20 %) rising towards ``light_angle`` (+- 20 degrees).
    """
    colour = np.asarray(session.illuminant) * (1 + rng.normal(0, 0.03, 3))
    level = session.level * rng.uniform(0.92, 1.08)
    ang = np.radians(session.light_angle + rng.uniform(-20, 20))
    strength = session.light_strength * rng.uniform(0.8, 1.2)
    q = 16
    yy, xx = np.mgrid[0:height:q, 0:width:q].astype(np.float32)
    u = ((xx - width / 2) * np.cos(ang) - (yy - height / 2) * np.sin(ang)) / max(width, height)
    ramp = 1.0 + strength * np.clip(u, -0.5, 0.5)
    coarse = (ramp[..., None] * (level * colour)[None, None]).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)


def illuminate(rgb: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``rgb`` (uint8) lit by ``field`` (float32 gains), saturated to uint8."""
    return cv2.multiply(rgb, field, dtype=cv2.CV_8U)


def saturation_matrix(s: float) -> np.ndarray:
    """``(3, 3)`` float64 colour matrix scaling saturation by ``s`` about the luma."""
    luma = np.array([0.299, 0.587, 0.114])
    return s * np.eye(3) + (1 - s) * np.outer(np.ones(3), luma)


def colour_pipeline(rgb: np.ndarray, camera: Camera, illuminant: np.ndarray) -> np.ndarray:
    """The camera's colour processing: white balance (``awb`` of the cast removed), tint,
    saturation and sharpening, on uint8 RGB."""
    cast = np.asarray(illuminant, np.float64)
    wb = (cast / cast.mean()) ** (-camera.awb)
    m = np.diag(camera.tint) @ saturation_matrix(camera.saturation) @ np.diag(wb)
    out = cv2.transform(rgb, m.astype(np.float32))
    if camera.sharpen > 0:
        soft = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = cv2.addWeighted(out, 1 + camera.sharpen, soft, -camera.sharpen, 0)
    return out
