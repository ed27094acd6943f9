"""OULU-NPU (Boulkenafet et al., FG 2017): 55 users, 6 phones, 3 sessions, 4,950 videos.

Layout under the root::

    Train_files/<Phone>_<Session>_<User>_<File>.avi     (users 01-20)
    Dev_files/...                                        (users 21-35)
    Test_files/...                                       (users 36-55)
    Protocols/Protocol_1/{Train,Dev,Test}.txt
    Protocols/Protocol_2/{Train,Dev,Test}.txt
    Protocols/Protocol_3/{Train,Dev,Test}_<1..6>.txt
    Protocols/Protocol_4/{Train,Dev,Test}_<1..6>.txt

Each list line is ``label,video`` such as ``+1,1_1_01_1``; the video is
``<Split>_files/<video>.avi`` with the split of the list file, or, in a frame-folder release,
the folder ``<Split>_files/<video>/`` of its image frames (:func:`fas_lib.data.io.frame_files`;
used when the ``.avi`` is absent). ``+1`` is bona fide and any
negative label an attack (most copies use ``-1``; some use ``-2`` for replay). The attack type
comes from the File number of the name, not from the label: 2 ``print1``, 3 ``print2``,
4 ``replay1``, 5 ``replay2``: these are attack *instruments*; the dataset's evaluation
(Boulkenafet et al., FG 2017; IJCB 2017 competition) takes APCER as the maximum over the two
attack *kinds* (PAI species) print and replay, each pooling its two instruments, which
:func:`fas_lib.evaluation.metrics.apcer_bpcer_acer` does through :data:`fas_lib.evaluation.metrics.PAI_SPECIES`. A line whose label sign contradicts its File number is skipped
(``label_conflict``). ``quality`` is ``phone<P>_session<S>``; the capture factors are
``session`` ``session<S>``, ``camera`` ``phone<P>`` and ``instrument`` the attack type
(``print1`` ...), so :mod:`fas_lib.data.shift` can hold them out too.

The adapter reads the official lists and adds no rule of its own; their semantics are:
P1 unseen session (train/dev sessions 1-2, test session 3); P2 unseen attack instrument
(train/dev print1 + replay1, test print2 + replay2); P3 leave one phone out (fold k: train/dev
without phone k, test on phone k); P4 all three at once (6 folds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fas_lib.data.datasets.base import (
    DatasetAdapter,
    DatasetLayoutError,
    numeric_id,
    read_list_file,
)
from fas_lib.data.protocol import ProtocolError, SkipLog

SPLIT_FILES: dict[str, str] = {"Train": "train", "Dev": "dev", "Test": "test"}
ATTACK_TYPES: dict[int, str] = {1: "live", 2: "print1", 3: "print2", 4: "replay1", 5: "replay2"}
SIX_FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
FOLDS: dict[str, tuple[int, ...]] = {"1": (), "2": (), "3": SIX_FOLDS, "4": SIX_FOLDS}

_NAME = re.compile(r"^(?P<phone>\d+)_(?P<session>\d+)_(?P<user>\d+)_(?P<file>\d+)$")
_PROTOCOL = re.compile(r"^(?:protocol_?|p)?\s*(?P<n>[1-4])$")


@dataclass(frozen=True)
class OuluName:
    """The fields of an OULU-NPU video name ``<Phone>_<Session>_<User>_<File>``."""

    phone: int
    session: int
    user: str
    file: int

    @property
    def attack_type(self) -> str:
        """``live``, ``print1``, ``print2``, ``replay1`` or ``replay2``."""
        return ATTACK_TYPES[self.file]


def parse_oulu_name(name: str) -> OuluName | None:
    """Parse ``1_1_01_1`` (an optional ``.avi`` suffix is ignored); ``None`` when malformed."""
    name = name.strip()
    if name.lower().endswith(".avi"):
        name = name[:-4]
    m = _NAME.match(name)
    if m is None or int(m["file"]) not in ATTACK_TYPES:
        return None
    return OuluName(int(m["phone"]), int(m["session"]), numeric_id(m["user"]), int(m["file"]))


class OuluNpu(DatasetAdapter):
    """Adapter for OULU-NPU; see the module docstring for layout and protocols.

    Protocol names are ``"1"`` to ``"4"``; ``1``, ``"P1"`` and ``"Protocol_1"`` are accepted.
    Protocols 3 and 4 need ``fold`` in 1-6.
    """

    name = "oulu_npu"
    title = "OULU-NPU"
    protocols = tuple(FOLDS)
    default_protocol = "1"
    required = ("Train_files", "Dev_files", "Test_files", "Protocols")
    layout = "Train_files/, Dev_files/, Test_files/ and Protocols/Protocol_<1..4>/"

    def resolve_protocol(self, protocol: str | None) -> str:
        """Canonical protocol ``"1"``-``"4"`` from ``1``, ``"P1"``, ``"Protocol_1"``, ..."""
        if protocol is None:
            return self.default_protocol
        m = _PROTOCOL.match(str(protocol).strip().lower())
        if m is None:
            raise ProtocolError(
                f"OULU-NPU has no protocol {protocol!r}; expected one of 1, 2, 3, 4 "
                "('Protocol_1' and 'P1' are accepted too)"
            )
        return m["n"]

    def folds(self, protocol: str) -> tuple[int, ...]:
        """Folds 1-6 for protocols 3 and 4; none for 1 and 2."""
        return FOLDS[protocol]

    def list_files(self, protocol: str, fold: int | None) -> dict[str, str]:
        """Split name -> list file path (relative to the root) for one protocol and fold."""
        suffix = f"_{fold}" if fold is not None else ""
        folder = f"Protocols/Protocol_{protocol}"
        return {f"{folder}/{stem}{suffix}.txt": split for stem, split in SPLIT_FILES.items()}

    def _rows(self, protocol: str, fold: int | None, skips: SkipLog) -> list[dict]:
        lists = self.list_files(protocol, fold)
        missing = [rel for rel in lists if not (self.root / rel).is_file()]
        if missing:
            raise DatasetLayoutError(self._missing_lists_message(protocol, missing))
        rows: list[dict] = []
        for rel_list, split in lists.items():
            folder = split.capitalize() + "_files"
            for lineno, line in enumerate(read_list_file(self.root / rel_list), start=1):
                label_text, _, video = line.partition(",")
                name = parse_oulu_name(video)
                try:
                    label = float(label_text)
                except ValueError:
                    label = 0.0
                if name is None or label == 0.0:
                    skips.add(f"{rel_list}:{lineno}", "malformed_line")
                    continue
                if (label > 0) != (name.file == 1):
                    skips.add(f"{rel_list}:{lineno}", "label_conflict")
                    continue
                path = f"{folder}/{video.strip().removesuffix('.avi')}.avi"
                rows.append(
                    {
                        "path": path,
                        "subject": name.user,
                        "label": int(label > 0),
                        "attack_type": name.attack_type,
                        "quality": f"phone{name.phone}_session{name.session}",
                        "split": split,
                        "video_id": path[:-4],
                        "session": f"session{name.session}",
                        "camera": f"phone{name.phone}",
                        "instrument": "" if name.file == 1 else name.attack_type,
                    }
                )
        kept = []
        for row in rows:
            if not (self.root / row["path"]).is_file() and (self.root / row["video_id"]).is_dir():
                row["path"] = row["video_id"]  # a frame-folder release
            if (self.root / row["path"]).exists():
                kept.append(row)
            else:
                skips.add(row["path"], "listed_missing")
        return kept

    def _missing_lists_message(self, protocol: str, missing: list[str]) -> str:
        """Name the missing list files and the folds that do have all their lists."""
        message = f"OULU-NPU root {self.root} lacks {', '.join(missing)}"
        valid = self.folds(protocol)
        if valid:
            present = [
                k
                for k in valid
                if all((self.root / r).is_file() for r in self.list_files(protocol, k))
            ]
            message += (
                f"; protocol {protocol} has folds {list(valid)}, of which "
                f"{present or 'none'} have Train/Dev/Test lists here"
            )
        return message + "; see README 'Use a real dataset'"
