"""The generation parameters of SynthSpoof and the names every other module agrees on."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .factors import FIXABLE_FACTORS, SESSION_NAMES

#: Bumped whenever the generator's output changes for the same parameters (invalidates caches).
#: 1.1: depth/NIR as stacked PNG; 1.2: smaller margins; 2.0: capture factors (sessions,
#: cameras, printers, displays) recorded per video, 3 sessions x (3 lives + 5 attacks) per subject;
#: 3.0: recapture texture at the strength a camera resolves (halftone dots and screen
#: sub-pixels at their real period, :func:`~.camera.residual_modulation`), paper grain,
#: replay panels with as many pixels as the camera records; 4.0: a session is a place (one room
#: per session for live and attack videos, :func:`~.scene.session_room`)
GENERATOR_VERSION: str = "4.0.0"

ATTACK_TYPES: tuple[str, ...] = (
    "print_flat",
    "print_warped",
    "print_cut",
    "replay_phone",
    "replay_screen",
)
#: Opt-in attack types (never in the default dataset): ``"mask"``, a rigid 3-D mask worn by an
#: attacker (face-shaped depth; resin / paper-mache texture, eye holes), and ``"print_nir"``, a
#: flat print whose NIR-absorbing (carbon) ink shows a skin-like face to the NIR camera; and
#: three harder worn attacks (:mod:`.mask`): ``"mask_partial"``, a rigid mask of the upper or
#: the lower face only (the rest is the wearer's skin in every sensor), ``"mask_flexible"``,
#: a thin latex / silicone mask that follows the face and its expression and scatters some
#: NIR like skin, and ``"mask_paper"``, a printed photo cut out, curved and folded onto the
#: face (face-like depth at a lower relief, the NIR of paper and ink).
EXTRA_ATTACK_TYPES: tuple[str, ...] = ("mask", "print_nir", "mask_partial", "mask_flexible",
                                       "mask_paper")
#: Every attack type a config may ask for.
ALL_ATTACK_TYPES: tuple[str, ...] = ATTACK_TYPES + EXTRA_ATTACK_TYPES
MODALITIES: tuple[str, ...] = ("depth", "nir")
#: Version of what the depth / NIR renderers and the opt-in attacks draw, folded into
#: :func:`config_hash` only for configs that ask for modalities or an opt-in attack type, so
#: that changing them regenerates those datasets and leaves the default one (RGB) alone.
#: 1: depth holes at dark hair and grazing angles, NIR distance falloff and skin highlights,
#: ink-dependent print contrast, 3-D fingers, masks and NIR prints. 2: sensor conditions per
#: video (:func:`~.sensors.draw_conditions`: weaker NIR illumination, depth dropouts at weak
#: returns, highlights and in blobs, the IR camera misregistered to RGB), translucent masks;
#: the opt-in ``mask_partial``, ``mask_flexible`` and ``mask_paper``.
MODALITY_VERSION: str = "2"


@dataclass(frozen=True)
class SynthConfig:
    """Every generation parameter; the defaults give the course's default dataset.

    Attributes:
        n_subjects: number of synthetic identities (>= 3, split 15/15/20 like Replay-Attack).
        frames_per_video: frames in every video.
        width: frame width in pixels.
        height: frame height in pixels.
        sessions: recording sessions (environments), a subset of ``("s1", "s2", "s3")``
            (:mod:`fas_lib.synthspoof.factors`).
        live_per_session: live videos of every subject in every session (each attack type
            has one video per subject and session).
        attack_types: attack species, a subset of :data:`ALL_ATTACK_TYPES` (the default
            :data:`ATTACK_TYPES`; the opt-in :data:`EXTRA_ATTACK_TYPES` on request).
        modalities: extra pixel-aligned modalities, a subset of ``("depth", "nir")``.
        seed: master seed; every video draws from ``SeedSequence([seed, video_index])``.
        user_faces_dir: optional folder of extra portrait photos used as subject sources.
        fps: frame rate written into the video files.
        fixed_factors: generation factors rendered at ONE level in every video (the
            ablation of :func:`fas_lib.studies.generalise.variant_study`), a subset of
            :data:`~.factors.FIXABLE_FACTORS`: ``"session"`` (every video lit and decorated
            as session ``s1``), ``"camera"`` (every video captured by ``c5``),
            ``"instrument"`` (every print from ``p2``, every replay on ``d1``, every mask
            ``m1``), ``"margins"`` (every medium's smallest face-to-edge margin
            :data:`~.media.WIDE_MIN_MARGIN` face boxes). The protocol keeps its rows
            (splits, video ids, counts); its session / camera / instrument columns name what
            was rendered (:func:`~.factors.rendered_factors`). Kept in ``FIXABLE_FACTORS``'
            order; ``()``, the default, is left out of :meth:`to_dict` and so of
            :func:`config_hash`: the default dataset keeps its hash.
    """

    n_subjects: int = 40
    frames_per_video: int = 8
    width: int = 640
    height: int = 480
    sessions: tuple = SESSION_NAMES
    live_per_session: int = 3
    attack_types: tuple = ATTACK_TYPES
    modalities: tuple = ()
    seed: int = 0
    user_faces_dir: str | None = None
    fps: int = 15
    fixed_factors: tuple = ()

    def __post_init__(self) -> None:
        if isinstance(self.fixed_factors, str):  # fixed_factors="camera"
            object.__setattr__(self, "fixed_factors", (self.fixed_factors,))
        for name in ("sessions", "attack_types", "modalities", "fixed_factors"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.user_faces_dir is not None:
            object.__setattr__(self, "user_faces_dir", str(self.user_faces_dir))
        if self.n_subjects < 3:
            raise ValueError(f"n_subjects must be >= 3 (one per split), got {self.n_subjects}")
        if self.frames_per_video < 1:
            raise ValueError(f"frames_per_video must be >= 1, got {self.frames_per_video}")
        if self.width < 320 or self.height < 240:
            raise ValueError(f"frames must be at least 320x240, got {self.width}x{self.height}")
        for name, allowed in (
            ("sessions", SESSION_NAMES),
            ("attack_types", ALL_ATTACK_TYPES),
            ("modalities", MODALITIES),
            ("fixed_factors", FIXABLE_FACTORS),
        ):
            bad = [v for v in getattr(self, name) if v not in allowed]
            if bad:
                raise ValueError(f"unknown {name} {bad}; allowed: {allowed}")
        object.__setattr__(self, "fixed_factors",
                           tuple(f for f in FIXABLE_FACTORS if f in self.fixed_factors))
        if not self.sessions:
            raise ValueError("sessions must not be empty")
        if self.live_per_session < 1:
            raise ValueError(f"live_per_session must be >= 1, got {self.live_per_session}")

    def to_dict(self) -> dict:
        """Parameters as a JSON-friendly dict (tuples become lists); ``fixed_factors`` only
        when it is not empty (so the manifests and hashes of earlier datasets stay valid)."""
        d = json.loads(json.dumps(dataclasses.asdict(self)))
        if not self.fixed_factors:
            del d["fixed_factors"]
        return d


def user_faces_fingerprint(user_faces_dir: str | None) -> list[list]:
    """Names, sizes and modification times of the files in ``user_faces_dir`` (for caching)."""
    if not user_faces_dir:
        return []
    folder = Path(user_faces_dir).expanduser()
    if not folder.is_dir():
        return [["<missing folder>", 0, 0]]
    rows = []
    for p in sorted(folder.iterdir()):
        if p.is_file():
            st = p.stat()
            rows.append([p.name, st.st_size, int(st.st_mtime)])
    return rows


def config_hash(config: SynthConfig) -> str:
    """Short hash of the parameters, the generator version and the user photos' fingerprint
    (and :data:`MODALITY_VERSION` when the config asks for modalities or opt-in attacks).

    ``fixed_factors`` enters through :meth:`SynthConfig.to_dict` only when it is not empty: a
    config without it hashes as it did before the field existed.
    """
    payload = {
        "params": config.to_dict(),
        "version": GENERATOR_VERSION,
        "user_faces": user_faces_fingerprint(config.user_faces_dir),
    }
    if config.modalities or set(config.attack_types) & set(EXTRA_ATTACK_TYPES):
        payload["modality_version"] = MODALITY_VERSION
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:10]
