"""Shared pieces of the dataset adapters: errors, results, skip log, list and face-box files.

An *adapter* knows one public dataset's folder layout and turns it into the protocol table of
:mod:`fas_lib.data.protocol` (one row per video or image, ``path`` relative to the dataset root).
Adapters list files; they never decode them (a corrupt video stays in the table and the video
reader reports it later).

Files an adapter expected but could not use are not an error: each one is recorded in a
:class:`~fas_lib.data.protocol.SkipLog` with a short reason (``listed_missing``, ``expected_missing``,
``unrecognised_name``, ...), and the counts travel with the table in :class:`ProtocolResult`.
"""

from __future__ import annotations

import abc
import collections
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from fas_lib.data.protocol import SPLITS, ProtocolError, SkipLog, make_table

README_HINT = "see README 'Use a real dataset'"

Box = tuple[int, int, int, int]

#: values of the optional columns when an adapter leaves them out
ROW_DEFAULTS: dict[str, str] = {"subject": "", "quality": "", "depth_path": "", "ir_path": "",
                                "session": "", "camera": "", "instrument": ""}


class DatasetLayoutError(FileNotFoundError):
    """The dataset root is missing, or lacks the folders and files its layout requires."""


@dataclass
class ProtocolResult:
    """A protocol table and what was left out while building it.

    Attributes:
        table: the validated protocol table (see :mod:`fas_lib.data.protocol`); ``path`` is relative
            to ``root``.
        dataset: registry name of the dataset (``"casia_fasd"``, ...).
        protocol: canonical protocol name.
        root: the folder the ``path`` column is relative to.
        fold: fold number for protocols with folds (OULU-NPU 3 and 4), else ``None``.
        skips: reason -> number of skipped files (e.g. ``{"listed_missing": 3}``).
        skipped: ``(path, reason)`` for every skipped file.
        adapter: the adapter that built the table (gives face-location files).
    """

    table: pd.DataFrame
    dataset: str
    protocol: str
    root: Path
    fold: int | None = None
    skips: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    adapter: DatasetAdapter | None = None

    def absolute(self, path: str) -> Path:
        """The absolute location of a ``path`` (or ``depth_path``/``ir_path``) entry."""
        return self.root / path

    def face_location_file(self, row: Mapping[str, Any] | str) -> Path | None:
        """The face-location file of a row (``None`` when the dataset or the file has none)."""
        return self.adapter.face_location_file(row) if self.adapter is not None else None

    def summary(self) -> pd.DataFrame:
        """Number of rows per split (rows) and attack type (columns), with a total column."""
        counts = pd.crosstab(self.table["split"], self.table["attack_type"])
        counts = counts.reindex([s for s in SPLITS if s in counts.index])
        counts["total"] = counts.sum(axis=1)
        return counts


def read_list_file(path: str | Path) -> list[str]:
    """Read a dataset list file: one entry per line, blank lines dropped.

    Handles CRLF and CR line endings, a UTF-8 byte-order mark, surrounding whitespace, and
    falls back to Latin-1 for the odd non-UTF-8 byte found in old copies.

    Args:
        path: the list file.

    Returns:
        The non-empty, stripped lines.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_face_locations(path: str | Path) -> dict[int, Box | None]:
    """Read a ``.face`` file (CASIA-FASD, Replay-Attack): lines ``frame x y w h``.

    A line whose box is all zeros (or has a non-positive width or height) means "no face found
    in this frame" and maps to ``None``.

    Args:
        path: the ``.face`` file.

    Returns:
        frame number -> ``(x, y, w, h)`` in pixels, or ``None`` when the frame has no face.

    Raises:
        DatasetLayoutError: the file does not exist.
        ValueError: a line is not five integers (the message names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetLayoutError(f"face-location file not found: {path}")
    boxes: dict[int, Box | None] = {}
    for lineno, line in enumerate(read_list_file(path), start=1):
        parts = re.split(r"[\s,]+", line)
        try:
            frame, x, y, w, h = (int(float(v)) for v in parts)
        except ValueError:
            raise ValueError(
                f"{path}:{lineno}: expected 'frame x y w h' (five numbers), got {line!r}"
            ) from None
        boxes[frame] = (x, y, w, h) if w > 0 and h > 0 else None
    return boxes


def numeric_id(text: str) -> str:
    """A numeric id without zero padding (``"0007"`` -> ``"7"``); other text unchanged."""
    return str(int(text)) if text.isdigit() else text


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes."""
    return path.relative_to(root).as_posix()


def normalise_entry(entry: str) -> str:
    """A list-file path with forward slashes and no leading ``./`` or ``/``."""
    entry = entry.replace("\\", "/").strip()
    while entry.startswith("./"):
        entry = entry[2:]
    return entry.lstrip("/")


def check_layout(title: str, root: Path, required: Iterable[str], layout: str) -> None:
    """Raise one clear :class:`DatasetLayoutError` when ``root`` lacks the required entries.

    Args:
        title: the dataset's display name, for the message.
        root: the dataset root the user gave.
        required: relative paths that must exist under ``root``.
        layout: a short description of the expected layout, for the message.
    """
    required = list(required)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise DatasetLayoutError(
            f"{title} root {root} {what}; expected {layout} under it; {README_HINT}"
        )
    missing = [r for r in required if not (root / r).exists()]
    if not missing:
        return
    hint = ""
    children = sorted(p for p in root.iterdir() if p.is_dir())
    nested = [c for c in children if all((c / r).exists() for r in required)]
    if nested:
        hint = f" (did you mean {nested[0]}?)"
    found = ", ".join(p.name for p in sorted(root.iterdir())[:8]) or "nothing"
    raise DatasetLayoutError(
        f"{title} root {root} lacks {', '.join(missing)}; expected {layout} under {root}"
        f"{hint}; found: {found}; {README_HINT}"
    )


def drop_missing(rows: list[dict], root: Path, skips: SkipLog,
                 folders: bool = False) -> list[dict]:
    """Keep the rows whose files (and depth/IR files, when given) exist under ``root``.

    Args:
        rows: row dicts with ``path`` (and optional ``depth_path``, ``ir_path``) relative to
            ``root``.
        root: the dataset root.
        skips: where a row whose file is absent is recorded (``listed_missing``).
        folders: a folder counts as present too (a frame folder: one video as image frames,
            :func:`fas_lib.data.io.frame_files`); otherwise only a file does.
    """
    kept = []
    for row in rows:
        paths = [row["path"]] + [row.get(k, "") for k in ("depth_path", "ir_path")]
        absent = [p for p in paths
                  if p and not ((root / p).is_file() or (folders and (root / p).is_dir()))]
        if absent:
            skips.add(absent[0], "listed_missing")
        else:
            kept.append(row)
    return kept


class DatasetAdapter(abc.ABC):
    """Base class of the dataset adapters: layout check, protocol choice, table building.

    Subclasses set the class attributes and implement :meth:`_rows`.

    Attributes:
        name: registry name (``"casia_fasd"``).
        title: display name (``"CASIA-FASD"``).
        protocols: the protocol names it accepts.
        default_protocol: the protocol used when none is given.
        required: relative paths that must exist under the root.
        layout: the expected layout in words, for error messages.
        face_dir: folder under the root holding ``.face`` files, or ``None``.
        precropped: the images already are face crops, cut separately per modality (CASIA-SURF):
            a crop cache with depth / NIR takes each whole image as the face box instead of
            detecting (:mod:`fas_lib.cache.modalities`).
        frames_as_rows: rows that share a ``video_id`` are the image frames of one video, in
            natural path order (:func:`fas_lib.data.io.natural_key`): the crop cache samples
            ``n_frames`` of them as it samples a video file's frames
            (:func:`fas_lib.cache.plan.sample_frame_rows`). Off: every row is cached.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    protocols: ClassVar[tuple[str, ...]] = ()
    default_protocol: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]] = ()
    layout: ClassVar[str] = ""
    face_dir: ClassVar[str | None] = None
    precropped: ClassVar[bool] = False
    frames_as_rows: ClassVar[bool] = False

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def check_layout(self) -> None:
        """Raise :class:`DatasetLayoutError` when the root does not look like this dataset."""
        check_layout(self.title, self.root, self.required, self.layout)

    def resolve_protocol(self, protocol: str | None) -> str:
        """The canonical protocol name for ``protocol`` (``None`` -> the default)."""
        if protocol is None:
            return self.default_protocol
        name = str(protocol).strip().lower()
        if name not in self.protocols:
            raise ProtocolError(
                f"{self.title} has no protocol {protocol!r}; expected one of {self.protocols}"
            )
        return name

    def folds(self, protocol: str) -> tuple[int, ...]:
        """Valid fold numbers of a (canonical) protocol; empty when it has no folds."""
        return ()

    def check_fold(self, protocol: str, fold: int | None) -> int | None:
        """Validate ``fold`` against :meth:`folds`; raise a :class:`ProtocolError` listing them."""
        valid = self.folds(protocol)
        if not valid:
            if fold is not None:
                raise ProtocolError(
                    f"{self.title} protocol {protocol!r} has no folds; got fold={fold}"
                )
            return None
        if isinstance(fold, str) and fold.strip().isdigit():
            fold = int(fold)
        if fold is None or fold not in valid:
            raise ProtocolError(
                f"{self.title} protocol {protocol!r} needs fold= one of {list(valid)}; got {fold}"
            )
        return int(fold)

    def load(self, protocol: str | None = None, fold: int | None = None) -> ProtocolResult:
        """Build the protocol table.

        Args:
            protocol: protocol name (``None``: :attr:`default_protocol`).
            fold: fold number for protocols that have folds.

        Returns:
            The table and the skip report.

        Raises:
            DatasetLayoutError: the root does not have the expected layout, or no usable file.
            ProtocolError: unknown protocol or invalid fold.
        """
        self.check_layout()
        name = self.resolve_protocol(protocol)
        fold = self.check_fold(name, fold)
        skips = SkipLog()
        rows = self._rows(name, fold, skips)
        if not rows:
            raise DatasetLayoutError(
                f"{self.title} root {self.root} gave no usable file for protocol {name!r} "
                f"(skipped: {dict(skips.counts) or 'none'}); expected {self.layout}; {README_HINT}"
            )
        table = make_table([{**ROW_DEFAULTS, **row} for row in rows])
        rank = table["split"].map({s: i for i, s in enumerate(SPLITS)})
        table = table.assign(_rank=rank).sort_values(["_rank", "path"]).drop(columns="_rank")
        return ProtocolResult(
            table=table.reset_index(drop=True),
            dataset=self.name,
            protocol=name,
            root=self.root,
            fold=fold,
            skips=skips.counts,
            skipped=skips.items,
            adapter=self,
        )

    @abc.abstractmethod
    def _rows(self, protocol: str, fold: int | None, skips: SkipLog) -> list[dict]:
        """Row dicts of the protocol table (``path`` relative to the root)."""

    def face_location_file(self, row: Mapping[str, Any] | str) -> Path | None:
        """The ``.face`` file of a row or path: ``<face_dir>/<path with .face>``, else ``None``.

        Args:
            row: a table row (anything with a ``"path"`` key) or the relative path itself.
        """
        if self.face_dir is None:
            return None
        path = row if isinstance(row, str) else str(row["path"])
        candidate = self.root / self.face_dir / Path(path).with_suffix(".face")
        return candidate if candidate.is_file() else None
