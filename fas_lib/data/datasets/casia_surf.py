"""CASIA-SURF (Zhang et al., CVPR 2019): RGB, depth and near-infrared images, 1,000 subjects.

Layout under the root::

    Training/<real_part|fake_part>/CLKJ_<subject>/<recording>.rssdk/<color|depth|ir>/<n>.jpg
        (<recording>: real, 04_en_b, 05_enm_s or 06_enm_b)
    Val/<folder>/<nnnnnn>-<color|depth|ir>.jpg
    train_list.txt        lines "rgb_path depth_path ir_path label"  (1 real, 0 attack)
    val_public_list.txt   lines "rgb_path depth_path ir_path"        (no labels)
    val_label.txt         the validation labels

Splits: ``train_list.txt`` -> train; the validation set (public list + labels) -> dev. The
challenge's test set is used when ``test_public_list.txt`` and ``test_label.txt`` are both
present (same formats; *unverified*), otherwise test is empty. One row per RGB image, with
``depth_path`` and ``ir_path`` filled.

``attack_type`` is the attack folder name (``04_en_b``, ``05_enm_s``, ``06_enm_b``) when the
path has one, else ``unknown_attack`` (validation paths reveal nothing). Training frames of one
``.rssdk`` recording share a ``video_id`` (the folder); validation images are their own video.
``subject`` is the part after ``CLKJ_``; validation images have no known subject and get their
folder (``Val/0000``) as a stand-in. ``quality`` is empty.

Tolerances (*unverified* formats): ``val_label.txt`` may hold one label per line in list order,
or lines whose first token is the RGB path and whose last token is the label (Bob's
``bob.db.casiasurf`` reads it that way); labels are matched on the sample stem
(``Val/0000/000000``). Validation samples without a label are skipped (``unlabelled``).

Crop cache: the colour, depth and IR images are face crops cut separately (of different sizes,
on no shared pixel grid), so the adapter is ``precropped``: a cache with depth / NIR
(``fas prepare --modalities depth nir``) runs no detector and takes each whole image as its
face box (:mod:`fas_lib.cache.modalities`); an RGB-only cache detects the face as before.
"""

from __future__ import annotations

import re
from pathlib import Path

from fas_lib.data.datasets.base import (
    DatasetAdapter,
    DatasetLayoutError,
    drop_missing,
    normalise_entry,
    read_list_file,
)
from fas_lib.data.protocol import SkipLog

_ATTACK_FOLDER = re.compile(r"/(?P<folder>[^/]+)\.rssdk/", re.IGNORECASE)
_SUBJECT = re.compile(r"/CLKJ_(?P<subject>[^/]+)/", re.IGNORECASE)
_MODALITY_SUFFIX = re.compile(r"[-_](color|depth|ir|rgb)$", re.IGNORECASE)

#: optional labelled sets: split -> (public list, label file)
LABELLED_SETS: dict[str, tuple[str, str]] = {
    "dev": ("val_public_list.txt", "val_label.txt"),
    "test": ("test_public_list.txt", "test_label.txt"),
}


def sample_key(path: str) -> str:
    """The stem shared by a sample's three files.

    ``Val/0000/000000-color.jpg`` -> ``Val/0000/000000``.
    """
    stem = normalise_entry(path).rsplit(".", 1)[0]
    return _MODALITY_SUFFIX.sub("", stem)


def attack_type_of(rgb_path: str, label: int) -> str | None:
    """``live``, the attack folder name or ``unknown_attack``; ``None`` if path and label clash."""
    m = _ATTACK_FOLDER.search("/" + rgb_path)
    folder = m["folder"].lower() if m else None
    if label == 1:
        return "live" if folder in (None, "real") else None
    if folder == "real":
        return None
    return folder or "unknown_attack"


class CasiaSurf(DatasetAdapter):
    """Adapter for CASIA-SURF; see the module docstring for layout and tolerances."""

    name = "casia_surf"
    title = "CASIA-SURF"
    protocols = ("challenge",)
    default_protocol = "challenge"
    required = ("train_list.txt",)
    layout = "train_list.txt, Training/ and (for dev) val_public_list.txt + val_label.txt"
    precropped = True

    def _rows(self, protocol: str, fold: int | None, skips: SkipLog) -> list[dict]:
        rows: list[dict] = []
        for lineno, line in enumerate(read_list_file(self.root / "train_list.txt"), start=1):
            parts = line.split()
            if len(parts) != 4 or parts[3] not in ("0", "1"):
                skips.add(f"train_list.txt:{lineno}", "malformed_line")
                continue
            self._add(rows, parts[:3], int(parts[3]), "train", skips)
        for split, (public, labels) in LABELLED_SETS.items():
            if (self.root / public).is_file():
                self._labelled_set(rows, public, labels, split, skips)
        return drop_missing(rows, self.root, skips)

    def _labelled_set(
        self, rows: list[dict], public: str, labels: str, split: str, skips: SkipLog
    ) -> None:
        """Add the rows of a public list whose labels live in a separate file."""
        if not (self.root / labels).is_file():
            raise DatasetLayoutError(
                f"CASIA-SURF root {self.root} has {public} but no {labels} beside it; the "
                f"{split} split needs its labels; see README 'Use a real dataset'"
            )
        samples = [line.split() for line in read_list_file(self.root / public)]
        label_of = self._read_labels(self.root / labels, samples)
        for lineno, parts in enumerate(samples, start=1):
            if len(parts) != 3:
                skips.add(f"{public}:{lineno}", "malformed_line")
                continue
            label = label_of.get(sample_key(parts[0]))
            if label is None:
                skips.add(normalise_entry(parts[0]), "unlabelled")
                continue
            self._add(rows, parts, label, split, skips)

    @staticmethod
    def _read_labels(path: Path, samples: list[list[str]]) -> dict[str, int]:
        """Sample key -> label, from either label-file format (see module docstring)."""
        lines = [line.split() for line in read_list_file(path)]
        if all(len(tokens) == 1 for tokens in lines):
            if len(lines) != len(samples):
                raise DatasetLayoutError(
                    f"{path} holds {len(lines)} labels but its list holds {len(samples)} samples; "
                    "one label per line, in list order, was expected"
                )
            pairs = [(s[0], t[0]) for s, t in zip(samples, lines, strict=True) if s]
        else:
            pairs = [(t[0], t[-1]) for t in lines if len(t) >= 2]
        return {sample_key(p): int(v) for p, v in pairs if v in ("0", "1")}

    def _add(
        self, rows: list[dict], paths: list[str], label: int, split: str, skips: SkipLog
    ) -> None:
        """Append one row for an (rgb, depth, ir) triple."""
        rgb, depth, ir = (normalise_entry(p) for p in paths)
        attack_type = attack_type_of(rgb, label)
        if attack_type is None:
            skips.add(rgb, "label_conflict")
            return
        subject = _SUBJECT.search("/" + rgb)
        recording = _ATTACK_FOLDER.search("/" + rgb)
        rows.append(
            {
                "path": rgb,
                "subject": subject["subject"] if subject else rgb.rsplit("/", 1)[0],
                "label": label,
                "attack_type": attack_type,
                "quality": "",
                "split": split,
                "video_id": rgb[: recording.end() - 2] if recording else sample_key(rgb),
                "depth_path": depth,
                "ir_path": ir,
            }
        )
