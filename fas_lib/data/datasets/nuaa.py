"""NUAA Photograph Imposter Database (Tan et al., ECCV 2010): 15 subjects, still images.

Layout under the root::

    ClientRaw/<ID>/<ID>_<glasses>_<pos>_<session>_<picNo>.jpg      (bona fide)
    ImposterRaw/<ID>/...                                             (printed-photo attacks)
    client_train_raw.txt   client_test_raw.txt                       (official split lists,
    imposter_train_raw.txt imposter_test_raw.txt                      one <ID>/<file> a line)

The lists have CRLF line endings; backslashes (Windows copies) are accepted as separators.
Copies in circulation list files that are not there (subjects never released): such entries
are skipped as ``listed_missing`` and reported in :attr:`ProtocolResult.skips`; an entry listed
twice is kept once (``duplicate_entry``). Every image is its own sample, so ``video_id`` is the
path without extension. ``attack_type`` is ``print``; ``quality`` is ``session<S>``.

NUAA has no development set. Protocols:

* ``standard`` (default): the official train/test lists, plus a dev split carved out of the
  training subjects for threshold selection. Rule: sort the subjects of the two train lists by
  id; the last ``max(1, round(n / 5))`` of them (about 20 %) go to dev, when there are at least
  2; their train images move to dev, test is untouched (9 training subjects: the 2 highest ids
  go to dev). The carve-out is this project's choice, not part of the dataset.
* ``standard_nodev``: exactly the official lists; dev is empty.
* ``session_dev``: the official lists, with a dev split that shares the test's kind of shift
  (an unseen session, :mod:`fas_lib.data.shift`): of the training lists' images, the first session
  (by number) trains and the others go to dev; test is untouched (official: training sessions
  1-2, test session 3). Its dev shares subjects with train (NUAA has too few to hold out both);
  the rule is this project's choice.

Every row records its ``session`` (``session<S>``, also its ``quality``).
"""

from __future__ import annotations

import re

from fas_lib.data.datasets.base import (
    DatasetAdapter,
    normalise_entry,
    numeric_id,
    read_list_file,
)
from fas_lib.data.protocol import SkipLog

#: list file -> (image folder, label, split)
LISTS: dict[str, tuple[str, int, str]] = {
    "client_train_raw.txt": ("ClientRaw", 1, "train"),
    "imposter_train_raw.txt": ("ImposterRaw", 0, "train"),
    "client_test_raw.txt": ("ClientRaw", 1, "test"),
    "imposter_test_raw.txt": ("ImposterRaw", 0, "test"),
}

#: share of the training subjects moved to dev by the ``standard`` protocol
DEV_FRACTION = 0.2

_NAME = re.compile(r"^(?P<id>\d+)_(?P<glasses>\d+)_(?P<pos>\d+)_(?P<session>\d+)_(?P<pic>\d+)$")


def dev_subjects(train_subjects: set[str]) -> set[str]:
    """The training subjects the ``standard`` protocol moves to dev (see module docstring)."""
    if len(train_subjects) < 2:
        return set()
    ordered = sorted(train_subjects, key=lambda s: (0, int(s), s) if s.isdigit() else (1, 0, s))
    n_dev = max(1, round(len(ordered) * DEV_FRACTION))
    return set(ordered[-n_dev:])


class Nuaa(DatasetAdapter):
    """Adapter for the NUAA Photograph Imposter Database; see the module docstring."""

    name = "nuaa"
    title = "NUAA"
    protocols = ("standard", "standard_nodev", "session_dev")
    default_protocol = "standard"
    required = ("ClientRaw", "ImposterRaw", *LISTS)
    layout = "ClientRaw/, ImposterRaw/ and the lists client_train_raw.txt ... imposter_test_raw.txt"

    def _rows(self, protocol: str, fold: int | None, skips: SkipLog) -> list[dict]:
        rows: list[dict] = []
        seen: set[str] = set()
        for list_name, (folder, label, split) in LISTS.items():
            for entry in read_list_file(self.root / list_name):
                rel = f"{folder}/{normalise_entry(entry)}"
                if rel in seen:
                    skips.add(rel, "duplicate_entry")
                    continue
                seen.add(rel)
                if not (self.root / rel).is_file():
                    skips.add(rel, "listed_missing")
                    continue
                rows.append(self._row(rel, label, split))
        if protocol == "standard":
            dev = dev_subjects({r["subject"] for r in rows if r["split"] == "train"})
            for row in rows:
                if row["split"] == "train" and row["subject"] in dev:
                    row["split"] = "dev"
        if protocol == "session_dev":
            first = min((r["session"] for r in rows if r["split"] == "train" and r["session"]),
                        default="", key=lambda s: int(s.removeprefix("session")))
            for row in rows:
                if row["split"] == "train" and row["session"] != first:
                    row["split"] = "dev"
        return rows

    @staticmethod
    def _row(rel: str, label: int, split: str) -> dict:
        """One table row; subject and session come from the file name (else the folder)."""
        parts = rel.split("/")
        stem = parts[-1].rsplit(".", 1)[0]
        m = _NAME.match(stem)
        subject = numeric_id(m["id"] if m else parts[-2] if len(parts) > 2 else "")
        return {
            "path": rel,
            "subject": subject,
            "label": label,
            "attack_type": "live" if label == 1 else "print",
            "quality": f"session{int(m['session'])}" if m else "",
            "session": f"session{int(m['session'])}" if m else "",
            "split": split,
            "video_id": rel.rsplit(".", 1)[0],
        }
