"""Protocols that already are tables: a user's CSV, and the SynthSpoof generator's output.

Generic CSV (``csv``): bring your own data. ``root`` is the CSV file, or a folder holding
``protocol.csv`` (or the file named by ``protocol``); paths are relative to that folder. Columns:

* required: ``path``, ``label``, ``split``;
* optional: ``subject``, ``attack_type``, ``quality``, ``video_id``, ``depth_path``, ``ir_path``.

Defaults: ``attack_type`` ``live`` for label 1 and ``attack`` for label 0; ``subject`` and
``quality`` empty; ``video_id`` the path without extension. Labels are ``1``/``0`` (also
``live``/``bonafide``/``real`` and ``attack``/``spoof``/``fake``); splits ``train``/``dev``/``test``
(also ``val``, ``valid``, ``validation``, ``devel``, ``eval``). Any other problem (unreadable
file, missing or unknown column, bad label or split, a live row with an attack type, a path
listed twice, no rows) raises one :class:`~fas_lib.data.protocol.ProtocolError` naming the CSV row.
Listed files that do not exist are skipped as ``listed_missing``.

Videos as image frames, two ways (frame-folder releases of Replay-Attack, CASIA-FASD, OULU-NPU):

* a row whose ``path`` is a **folder** of image frames is one video (:func:`fas_lib.data.io.frame_files`:
  its images in natural name order are frames 0, 1, ...);
* rows **one per frame** that share a ``video_id`` are one video (frames in natural path
  order). They must agree on label, split, subject and attack type, and be image files (not a
  video or a folder): anything else raises :class:`~fas_lib.data.protocol.ProtocolError`.

Either way the crop cache samples ``n_frames`` evenly spaced frames of the video exactly as it
does a video file's (:func:`fas_lib.data.io.sample_indices`), and scores merge on ``video_id``. An
empty folder, a folder without images and a frame that does not decode are counted skips of
the cache (``empty_folder``, ``unreadable_frame``; :mod:`fas_lib.cache.build`).

SynthSpoof (``synthspoof``): ``<root>/protocol.csv`` written by the SynthSpoof generator, read
with :func:`fas_lib.data.protocol.read_protocol` (``path`` relative to ``root``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd

from fas_lib.data.datasets.base import (
    README_HINT,
    DatasetAdapter,
    DatasetLayoutError,
    ProtocolResult,
    drop_missing,
)
from fas_lib.data.io import is_video
from fas_lib.data.protocol import COLUMNS, ProtocolError, SkipLog, read_protocol
from fas_lib.data.shift import FOLDED, PROTOCOLS, apply_protocol
from fas_lib.data.shift import folds as shift_folds

REQUIRED_COLUMNS: tuple[str, ...] = ("path", "label", "split")
LABEL_WORDS: dict[str, int] = {
    "1": 1, "live": 1, "bonafide": 1, "bona fide": 1, "real": 1,
    "0": 0, "attack": 0, "spoof": 0, "fake": 0,
}  # fmt: skip
SPLIT_WORDS: dict[str, str] = {
    "train": "train", "training": "train",
    "dev": "dev", "devel": "dev", "development": "dev", "val": "dev", "valid": "dev",
    "validation": "dev",
    "test": "test", "testing": "test", "eval": "test", "evaluation": "test",
}  # fmt: skip


def read_user_csv(csv_path: Path) -> list[dict]:
    """Read and check a user protocol CSV; return row dicts with defaults filled.

    Args:
        csv_path: the CSV file.

    Raises:
        ProtocolError: the file is not a valid protocol CSV (see module docstring).
    """
    try:
        df = pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:  # incl. Unicode
        raise ProtocolError(f"{csv_path} is not a readable CSV file: {exc}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    unknown = [c for c in df.columns if c not in COLUMNS]
    if missing or unknown:
        separator = " (is the file comma-separated?)" if len(df.columns) == 1 else ""
        raise ProtocolError(
            f"{csv_path}: missing column(s) {missing}, unknown column(s) {unknown}{separator}; "
            f"required {list(REQUIRED_COLUMNS)}, optional "
            f"{[c for c in COLUMNS if c not in REQUIRED_COLUMNS]}"
        )
    if df.empty:
        raise ProtocolError(f"{csv_path} has a header but no rows")
    rows, seen = [], set()
    for i, rec in enumerate(df.to_dict("records"), start=2):  # line 1 is the header
        where = f"{csv_path} line {i}"
        row = {k: str(v).strip() for k, v in rec.items()}
        row["path"] = row["path"].rstrip("/")  # "frames/v1/": a frame folder
        if not row["path"]:
            raise ProtocolError(f"{where}: empty path")
        if row["path"] in seen:
            raise ProtocolError(f"{where}: path {row['path']!r} is listed twice")
        seen.add(row["path"])
        label = LABEL_WORDS.get(row["label"].lower())
        if label is None:
            raise ProtocolError(
                f"{where}: label {row['label']!r} is not 1 (bona fide) or 0 (attack)"
            )
        split = SPLIT_WORDS.get(row["split"].lower())
        if split is None:
            raise ProtocolError(f"{where}: split {row['split']!r} is not train, dev or test")
        attack_type = row.get("attack_type") or ("live" if label == 1 else "attack")
        if (label == 1) != (attack_type == "live"):
            raise ProtocolError(
                f"{where}: attack_type {attack_type!r} does not fit label {label} "
                "('live' exactly for bona fide rows)"
            )
        rows.append(
            {
                **row,
                "label": label,
                "split": split,
                "attack_type": attack_type,
                "video_id": row.get("video_id") or row["path"].rsplit(".", 1)[0],
            }
        )
    return rows


#: Columns the rows of one video (frames listed one per row) must agree on.
VIDEO_COLUMNS: tuple[str, ...] = ("label", "split", "subject", "attack_type")


def check_frame_rows(rows: list[dict], root: Path, csv_path: Path) -> None:
    """Check the videos listed frame by frame: rows sharing a ``video_id`` agree on
    :data:`VIDEO_COLUMNS` and are image files.

    Raises:
        ProtocolError: naming the ``video_id`` and the row that breaks the rule.
    """
    by_video: dict[str, list[dict]] = {}
    for row in rows:
        by_video.setdefault(row["video_id"], []).append(row)
    for vid, group in by_video.items():
        if len(group) < 2:
            continue
        for col in VIDEO_COLUMNS:
            values = sorted({str(r.get(col, "")) for r in group})
            if len(values) > 1:
                raise ProtocolError(
                    f"{csv_path}: the {len(group)} rows of video_id {vid!r} (one per frame) "
                    f"disagree on {col}: {values}; give the frames of one video the same {col}, "
                    "or give the videos different video_ids")
        for r in group:
            if is_video(r["path"]) or (root / r["path"]).is_dir():
                kind = "a folder" if (root / r["path"]).is_dir() else "a video file"
                raise ProtocolError(
                    f"{csv_path}: video_id {vid!r} is shared by {len(group)} rows, but "
                    f"{r['path']} is {kind}: only image frames listed one per row may share a "
                    "video_id (a video file or a frame folder is a whole video: give it its "
                    "own video_id)")


class GenericCsv(DatasetAdapter):
    """Adapter for a user-written protocol CSV; see the module docstring.

    Args:
        root: the CSV file itself, or the folder holding it (then ``protocol`` names the file,
            default ``protocol.csv``). Table paths are relative to that folder.
    """

    name = "csv"
    title = "Generic CSV"
    default_protocol = "protocol.csv"
    layout = "a protocol CSV (columns path,label,split[,subject,attack_type,...])"
    frames_as_rows = True

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.csv_name: str | None = None
        if self.root.is_file() or self.root.suffix.lower() == ".csv":
            self.csv_name, self.root = self.root.name, self.root.parent

    def resolve_protocol(self, protocol: str | None) -> str:
        """The CSV file name: the one given as ``root``, else ``protocol``, else the default."""
        return self.csv_name or protocol or self.default_protocol

    def check_layout(self) -> None:
        """Raise :class:`DatasetLayoutError` when the folder or the CSV does not exist."""
        if not self.root.is_dir():
            raise DatasetLayoutError(
                f"folder {self.root} of the protocol CSV does not exist; {README_HINT}"
            )

    def load(self, protocol: str | None = None, fold: int | None = None) -> ProtocolResult:
        """Read and check the CSV (see :func:`read_user_csv`); ``protocol`` names the file."""
        self.check_layout()
        csv_path = self.root / self.resolve_protocol(protocol)
        if not csv_path.is_file():
            raise DatasetLayoutError(
                f"no protocol CSV {csv_path}; expected {self.layout}; {README_HINT}"
            )
        return super().load(protocol, fold)

    def _rows(self, protocol: str, fold: int | None, skips: SkipLog) -> list[dict]:
        csv_path = self.root / protocol
        rows = drop_missing(read_user_csv(csv_path), self.root, skips, folders=True)
        check_frame_rows(rows, self.root, csv_path)
        return rows


class SynthSpoof(DatasetAdapter):
    """Adapter for the SynthSpoof generator's output: ``<root>/protocol.csv``.

    Protocols: ``standard`` (the generator's subject-disjoint split; ``default`` is an alias)
    and the shift protocols of :mod:`fas_lib.data.shift` (``p1`` ... ``p4``, ``loao``) built from
    the capture factors the table records. Folds of ``p3`` / ``p4`` are cameras, of ``loao``
    attack types: a 1-based number or the level's name (``fold="print_cut"``).
    """

    name = "synthspoof"
    title = "SynthSpoof"
    protocols = (*PROTOCOLS, "default")
    default_protocol = "standard"
    required = ("protocol.csv",)
    layout = "protocol.csv written by the SynthSpoof generator (run the generator first)"

    def resolve_protocol(self, protocol: str | None) -> str:
        """The canonical protocol name (``default`` is ``standard``)."""
        name = super().resolve_protocol(protocol)
        return "standard" if name == "default" else name

    @cached_property
    def table(self) -> pd.DataFrame:
        """``protocol.csv``, read once (folds and every protocol are built from it)."""
        self.check_layout()
        return read_protocol(self.root / "protocol.csv")

    def folds(self, protocol: str) -> tuple[int, ...]:
        """1 .. the number of cameras (p3, p4) or attack types (loao) in the table."""
        if protocol not in FOLDED:
            return ()
        return tuple(range(1, len(shift_folds(self.table, protocol)) + 1))

    def check_fold(self, protocol: str, fold: int | str | None) -> int | None:
        """As the base class, and a level's name (``"c2"``, ``"print_cut"``) for its number."""
        if protocol in FOLDED and isinstance(fold, str):
            names = shift_folds(self.table, protocol)
            if fold in names:
                fold = names.index(fold) + 1
        return super().check_fold(protocol, fold)

    def _rows(self, protocol: str, fold: int | None, skips: SkipLog) -> list[dict]:
        table = self.table
        if protocol != "standard":
            table = apply_protocol(table, protocol, fold)
        return drop_missing(table.to_dict("records"), self.root, skips)
