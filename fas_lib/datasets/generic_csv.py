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
listed twice, no rows) raises one :class:`~fas_lib.protocol.ProtocolError` naming the CSV row.
Listed files that do not exist are skipped as ``listed_missing``.

SynthSpoof (``synthspoof``): ``<root>/protocol.csv`` written by the SynthSpoof generator, read
with :func:`fas_lib.protocol.read_protocol` (``path`` relative to ``root``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd

from fas_lib.datasets.base import (
    README_HINT,
    DatasetAdapter,
    DatasetLayoutError,
    ProtocolResult,
    drop_missing,
)
from fas_lib.protocol import COLUMNS, ProtocolError, SkipLog, read_protocol
from fas_lib.shift import FOLDED, PROTOCOLS, apply_protocol
from fas_lib.shift import folds as shift_folds

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
        return drop_missing(read_user_csv(self.root / protocol), self.root, skips)


class SynthSpoof(DatasetAdapter):
    """Adapter for the SynthSpoof generator's output: ``<root>/protocol.csv``.

    Protocols: ``standard`` (the generator's subject-disjoint split; ``default`` is an alias)
    and the shift protocols of :mod:`fas_lib.shift` (``p1`` ... ``p4``, ``loao``) built from
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
