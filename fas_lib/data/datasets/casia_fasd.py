"""CASIA-FASD (Zhang et al., ICB 2012): 50 subjects, 600 videos.

Layout under the root::

    train_release/<1..20>/{1,2,HR_1,3,4,HR_2,5,6,HR_3,7,8,HR_4}.avi
    test_release/<1..30>/...                   (test folder n is subject n + 20)
    face-locations/<train|test>_release/<n>/<name>.face      (optional face boxes)

Frame-folder releases: a folder ``<n>/<name>/`` of image frames stands for ``<n>/<name>.avi``
(:func:`fas_lib.data.io.frame_files`); when both are there the video is kept and the folder skipped
as ``duplicate_entry``.

File names: ``1, 2, HR_1`` real; ``3, 4, HR_2`` warped photo; ``5, 6, HR_3`` cut photo;
``7, 8, HR_4`` video replay. Quality: ``HR_*`` high; odd numbers normal, even numbers low
(Bob's ``bob.pad.face`` mapping; not confirmed by a second source).

Protocols:

* ``standard_nodev`` (default): the dataset's own split as MS-FANS uses it (Sec. IV-A, "divided
  into train set and test sets, consisting of 20 and 30 subjects"): train = all 20 subjects of
  ``train_release``, test = ``test_release``, and an empty dev split. The paper reports EER on
  test only for CASIA-FASD; with no dev rows :func:`fas_lib.training.frames.evaluate_scores` fixes the
  HTER / APCER / BPCER threshold at the test EER (``threshold_split == "test"``) and reports
  the ``dev_*`` metrics as NaN. Use it to reproduce Tables II-IV.
* ``standard``: the same test set, with a development set carved out of the training subjects
  for threshold selection: subjects 1-15 train, 16-20 dev. The carve-out is the rule of Bob's
  ``grandtest`` protocol (``bob.pad.face.database.casiafasd``). Trains on 15 subjects, not the
  paper's 20, but gives an HTER at a threshold fixed without looking at test.
* ``grandtest``: the rows of ``standard`` under Bob's name, for comparisons with Bob-based papers.
"""

from __future__ import annotations

from pathlib import Path

from fas_lib.data.datasets.base import DatasetAdapter, relative
from fas_lib.data.protocol import SkipLog

#: file stem -> (attack type, quality)
FILES: dict[str, tuple[str, str]] = {
    "1": ("live", "normal"),
    "2": ("live", "low"),
    "HR_1": ("live", "high"),
    "3": ("warped_photo", "normal"),
    "4": ("warped_photo", "low"),
    "HR_2": ("warped_photo", "high"),
    "5": ("cut_photo", "normal"),
    "6": ("cut_photo", "low"),
    "HR_3": ("cut_photo", "high"),
    "7": ("video_replay", "normal"),
    "8": ("video_replay", "low"),
    "HR_4": ("video_replay", "high"),
}

#: first training subject of the dev carve-out (Bob's grandtest: 16-20 -> dev)
DEV_FIRST_SUBJECT = 16

#: test_release folder n holds subject n + TEST_OFFSET
TEST_OFFSET = 20


class CasiaFasd(DatasetAdapter):
    """Adapter for CASIA-FASD; see the module docstring for layout and protocols."""

    name = "casia_fasd"
    title = "CASIA-FASD"
    protocols = ("standard_nodev", "standard", "grandtest")
    default_protocol = "standard_nodev"  # the paper's: all 20 training subjects train
    required = ("train_release", "test_release")
    layout = ("train_release/<1..20>/ and test_release/<1..30>/ holding 1.avi ... HR_4.avi "
              "(or folders 1/ ... HR_4/ of their frames)")
    face_dir = "face-locations"

    def _rows(self, protocol: str, fold: int | None, skips: SkipLog) -> list[dict]:
        rows: list[dict] = []
        for release in ("train_release", "test_release"):
            for folder in _subject_folders(self.root / release, skips, self.root):
                number = int(folder.name)
                if release == "test_release":
                    subject, split = number + TEST_OFFSET, "test"
                elif protocol != "standard_nodev" and number >= DEV_FIRST_SUBJECT:
                    subject, split = number, "dev"
                else:
                    subject, split = number, "train"
                rows.extend(self._subject_rows(folder, str(subject), split, skips))
        return rows

    def _subject_rows(self, folder: Path, subject: str, split: str, skips: SkipLog) -> list[dict]:
        """Rows of one subject folder; missing and unknown files go to the skip log."""
        videos = {p.stem.upper(): p for p in folder.iterdir() if p.suffix.lower() == ".avi"}
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):  # frame folders
            if sub.name.upper() in videos:
                skips.add(relative(sub, self.root), "duplicate_entry")
            else:
                videos[sub.name.upper()] = sub
        rows = []
        for stem, (attack_type, quality) in FILES.items():
            path = videos.pop(stem, None)
            if path is None:
                skips.add(relative(folder, self.root) + f"/{stem}.avi", "expected_missing")
                continue
            rel = relative(path, self.root)
            rows.append(
                {
                    "path": rel,
                    "subject": subject,
                    "label": int(attack_type == "live"),
                    "attack_type": attack_type,
                    "quality": quality,
                    "split": split,
                    "video_id": rel.rsplit(".", 1)[0],
                }
            )
        for path in videos.values():
            skips.add(relative(path, self.root), "unrecognised_name")
        return rows


def _subject_folders(release: Path, skips: SkipLog, root: Path) -> list[Path]:
    """Numbered subject folders of a release folder, in numeric order."""
    folders = []
    for child in release.iterdir():
        if child.is_dir() and child.name.isdigit():
            folders.append(child)
        elif child.is_dir():
            skips.add(relative(child, root), "unrecognised_folder")
    return sorted(folders, key=lambda p: int(p.name))
