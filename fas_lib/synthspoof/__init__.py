"""SynthSpoof: the course's embedded synthetic face anti-spoofing dataset.

Live and attack videos are generated procedurally from two public-domain portraits (and,
optionally, the user's own photos) so that the MS-FANS lesson is visible: at crop scales
0.9-1.0 only subtle recapture texture (halftone dots, screen sub-pixels and moire, gamut)
separates live from attack, while larger crops increasingly contain the medium's context
(paper border, bezel, holding fingers, a second background).

Example:
    >>> from fas_lib.synthspoof import SynthConfig, generate, border_share
    >>> ds = generate(SynthConfig(n_subjects=6, frames_per_video=4))
    >>> frames = ds.read_frames(ds.video_ids[0])          # (T, H, W, 3) RGB
    >>> gt = ds.load_gt(ds.video_ids[0])                  # exact boxes, landmarks, polygons
    >>> border_share([ds.load_gt(v) for v in ds.video_ids])

Importing the package does no work.
"""

from .config import (
                     ALL_ATTACK_TYPES,
                     ATTACK_TYPES,
                     EXTRA_ATTACK_TYPES,
                     GENERATOR_VERSION,
                     MODALITIES,
                     MODALITY_VERSION,
                     SynthConfig,
                     config_hash,
)
from .dataset import default_root, generate, plan_jobs, protocol_table, split_subjects
from .factors import FIXABLE_FACTORS, SESSION_NAMES
from .gt import aligned_box, border_share, crop_shows_border, face_box
from .reader import SynthSpoofReader, sensor_views
from .subjects import Subject, distinctness, make_subjects, subject_thumbnails

__all__ = [
    "ALL_ATTACK_TYPES",
    "ATTACK_TYPES",
    "EXTRA_ATTACK_TYPES",
    "FIXABLE_FACTORS",
    "GENERATOR_VERSION",
    "MODALITIES",
    "MODALITY_VERSION",
    "SESSION_NAMES",
    "Subject",
    "SynthConfig",
    "SynthSpoofReader",
    "aligned_box",
    "border_share",
    "config_hash",
    "crop_shows_border",
    "default_root",
    "distinctness",
    "face_box",
    "generate",
    "make_subjects",
    "plan_jobs",
    "sensor_views",
    "protocol_table",
    "split_subjects",
    "subject_thumbnails",
]
