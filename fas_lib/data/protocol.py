"""The one dataset abstraction: a protocol table with one row per sample.

Every adapter (SynthSpoof, CASIA-FASD, Replay-Attack, OULU-NPU, NUAA, CASIA-SURF, generic CSV)
returns a :class:`pandas.DataFrame` with exactly these columns:

=============  =================================================================
column         meaning
=============  =================================================================
path           file of the sample (video or image), relative to the dataset root
subject        subject / client id (string)
label          1 = bona fide (live), 0 = attack (see :data:`fas_lib.LIVE`)
attack_type    ``"live"`` for bona fide, else the attack's name (PAI species)
quality        capture quality or condition (``"low"``, ``"adverse"``, phone id, ...)
split          ``"train"``, ``"dev"`` or ``"test"``
video_id       identifier shared by all frames of one video (scores merge on it)
depth_path     pixel-aligned depth file, or ``""`` when the dataset has none
ir_path        pixel-aligned near-infrared file, or ``""`` when the dataset has none
session        capture session / environment (``"s1"``, ``"session3"``), ``""`` if unknown
camera         capture device (``"c4"``, ``"phone2"``), ``""`` if unknown
instrument     attack instrument (printer, display), ``""`` for bona fide or unknown
=============  =================================================================

The last three are the *capture factors* that the shift protocols of :mod:`fas_lib.data.shift`
hold out (unseen session, camera, instrument); a table or CSV without them gets ``""``.

Protocols are data, not code: a table can be written to and read from CSV unchanged. What an
adapter or the media reader leaves out of a table is recorded in a :class:`SkipLog`.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pandas as pd

COLUMNS: tuple[str, ...] = (
    "path",
    "subject",
    "label",
    "attack_type",
    "quality",
    "split",
    "video_id",
    "depth_path",
    "ir_path",
    "session",
    "camera",
    "instrument",
)
#: The optional columns: the capture factors, ``""`` when a table leaves them out.
FACTORS: tuple[str, ...] = ("session", "camera", "instrument")
SPLITS: tuple[str, ...] = ("train", "dev", "test")


class ProtocolError(ValueError):
    """A protocol table or protocol file does not have the expected form."""


class SkipLog:
    """Files left out of a protocol table, with the reason for each.

    Attributes:
        counts: reason -> number of files skipped for it.
        items: ``(path, reason)`` pairs in the order they were met.
    """

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.items: list[tuple[str, str]] = []

    def add(self, path: str | Path, reason: str) -> None:
        """Record that ``path`` was left out because of ``reason``."""
        self.counts[reason] += 1
        self.items.append((str(path), reason))


def make_table(rows: list[dict]) -> pd.DataFrame:
    """Build a validated protocol table from a list of row dicts (missing optional paths -> "")."""
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("depth_path", "ir_path"):
        df[col] = df[col].astype(object).fillna("")  # all-missing -> float64: cast first
    return validate(df)


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """Check a protocol table's columns and values; return it with canonical dtypes.

    Raises:
        ProtocolError: on a missing column, an unknown split or a label other than 0/1.
    """
    df = df.assign(**{f: "" for f in FACTORS if f not in df.columns})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ProtocolError(f"protocol table lacks column(s) {missing}; expected {list(COLUMNS)}")
    df = df.loc[:, list(COLUMNS)].copy()
    for col in COLUMNS:
        if col != "label":
            df[col] = df[col].astype(object).fillna("").astype(str)
    try:
        df["label"] = df["label"].astype(int)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"labels must be 0 (attack) or 1 (bona fide): {exc}") from None
    bad_labels = sorted(set(df["label"]) - {0, 1})
    if bad_labels:
        raise ProtocolError(f"labels must be 0 (attack) or 1 (bona fide), found {bad_labels}")
    bad_splits = sorted(set(df["split"]) - set(SPLITS))
    if bad_splits:
        raise ProtocolError(f"unknown split(s) {bad_splits}; expected one of {SPLITS}")
    live_mismatch = df[(df["label"] == 1) != (df["attack_type"] == "live")]
    if len(live_mismatch):
        raise ProtocolError(
            "attack_type must be 'live' exactly for bona fide rows; first offending path: "
            f"{live_mismatch['path'].iloc[0]}"
        )
    return df.reset_index(drop=True)


def write_protocol(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a validated table to CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    validate(df).to_csv(path, index=False)
    return path


def read_protocol(path: str | Path) -> pd.DataFrame:
    """Read a protocol CSV written by :func:`write_protocol` (or by a user) and validate it."""
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(f"protocol file not found: {path}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{path} is not a readable CSV protocol file: {exc}") from None
    return validate(df)
