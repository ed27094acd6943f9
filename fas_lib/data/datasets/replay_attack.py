"""Idiap Replay-Attack (Chingovska et al., BIOSIG 2012): 50 clients, 1,200 videos.

Layout under the root (groups ``train``/``devel``/``test`` with 15/15/20 clients)::

    <group>/real/client<NNN>_session01_webcam_authenticate_<light>_<1|2>.mov
    <group>/attack/<fixed|hand>/attack_<device>_client<NNN>_session01_<sdevice>_<stype>_<light>.mov
    <group>/enroll/...                    (face-recognition enrollment: never used here)
    face-locations/<same relative path>.face                   (optional face boxes)

Frame-folder releases: a folder named like a video (with or without ``.mov``) that holds the
video's image frames stands for the video (:func:`fas_lib.data.io.frame_files`); the crop cache
reads it like the video file.

(``<device>``: print, mobile or highdef; ``<sdevice>``: highdef or mobile; ``<stype>``: photo
or video; ``<light>``: controlled or adverse.)

Table columns: ``attack_type`` is the attack device (``print``, ``mobile``, ``highdef``: the
PAI species); ``quality`` is the lighting (``controlled``/``adverse``), also recorded as the
capture factor ``session`` (the attack device is the ``instrument``; one webcam, so ``camera``
is empty); ``split`` maps ``devel`` to ``dev``. The support (fixed/hand), sample device and sample type (photo/video) are
in the path; :func:`parse_replay_name` recovers them.

Protocols (as Idiap's ``bob.db.replay`` defines them; its tests give the full-data counts).
Every protocol holds all 200 real authentication videos (60/60/80); they differ in attacks:

============  ===========================================  =====================
protocol      attacks kept                                 attacks (tr/dev/test)
============  ===========================================  =====================
grandtest     all                                          1000 (300/300/400)
print         attack device ``print``                      200
mobile        attack device ``mobile`` (photo and video)   400
highdef       attack device ``highdef`` (photo and video)  400
photo         sample type ``photo`` (print + digital)      600
video         sample type ``video``                        400
digitalphoto  photo shown on a screen (photo, not print)   400
============  ===========================================  =====================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fas_lib.data.datasets.base import DatasetAdapter, numeric_id, relative
from fas_lib.data.protocol import SkipLog

GROUPS: dict[str, str] = {"train": "train", "devel": "dev", "test": "test"}
SUPPORTS: tuple[str, ...] = ("fixed", "hand")

_REAL = re.compile(
    r"^client(?P<client>\d+)_session(?P<session>\d+)_webcam_authenticate_"
    r"(?P<light>controlled|adverse)_(?P<take>\d+)$"
)
_ATTACK = re.compile(
    r"^attack_(?P<device>print|mobile|highdef)_client(?P<client>\d+)_session(?P<session>\d+)_"
    r"(?P<sample_device>highdef|mobile)_(?P<sample_type>photo|video)_(?P<light>controlled|adverse)$"
)


@dataclass(frozen=True)
class ReplayName:
    """What a Replay-Attack file name says about its video.

    Attributes:
        client: client id without zero padding (``"1"``).
        light: ``"controlled"`` or ``"adverse"``.
        attack_device: ``"print"``, ``"mobile"``, ``"highdef"``, or ``"live"`` for real videos.
        sample_device: device that recorded the shown sample (``""`` for real videos).
        sample_type: ``"photo"`` or ``"video"`` (``""`` for real videos).
        support: ``"fixed"`` or ``"hand"`` (``""`` for real videos).
    """

    client: str
    light: str
    attack_device: str
    sample_device: str = ""
    sample_type: str = ""
    support: str = ""


def parse_replay_name(path: str | Path) -> ReplayName | None:
    """Parse a real or attack video path; ``None`` when the name is not a Replay-Attack name."""
    path = Path(path)
    stem = path.stem.lower()
    if m := _REAL.match(stem):
        return ReplayName(numeric_id(m["client"]), m["light"], "live")
    if m := _ATTACK.match(stem):
        return ReplayName(
            numeric_id(m["client"]),
            m["light"],
            m["device"],
            m["sample_device"],
            m["sample_type"],
            path.parent.name.lower(),
        )
    return None


#: protocol -> which attacks it keeps (real videos are always kept)
PROTOCOL_FILTERS: dict[str, Callable[[ReplayName], bool]] = {
    "grandtest": lambda n: True,
    "print": lambda n: n.attack_device == "print",
    "mobile": lambda n: n.attack_device == "mobile",
    "highdef": lambda n: n.attack_device == "highdef",
    "photo": lambda n: n.sample_type == "photo",
    "video": lambda n: n.sample_type == "video",
    "digitalphoto": lambda n: n.sample_type == "photo" and n.attack_device != "print",
}


class ReplayAttack(DatasetAdapter):
    """Adapter for Idiap Replay-Attack; see the module docstring for layout and protocols."""

    name = "replay_attack"
    title = "Replay-Attack"
    protocols = tuple(PROTOCOL_FILTERS)
    default_protocol = "grandtest"
    required = tuple(f"{g}/{kind}" for g in GROUPS for kind in ("real", "attack"))
    layout = ("train/, devel/ and test/, each with real/ and attack/{fixed,hand}/ (.mov videos "
              "or folders of their frames)")
    face_dir = "face-locations"

    def _rows(self, protocol: str, fold: int | None, skips: SkipLog) -> list[dict]:
        keep = PROTOCOL_FILTERS[protocol]
        rows: list[dict] = []
        for group, split in GROUPS.items():
            for path in self._videos(self.root / group, skips):
                name = parse_replay_name(path)
                rel = relative(path, self.root)
                if name is None:
                    skips.add(rel, "unrecognised_name")
                    continue
                is_real = name.attack_device == "live"
                if is_real != (path.parent.name.lower() == "real"):
                    skips.add(rel, "name_folder_conflict")
                    continue
                if not is_real and not keep(name):
                    continue
                rows.append(
                    {
                        "path": rel,
                        "subject": name.client,
                        "label": int(is_real),
                        "attack_type": name.attack_device,
                        "quality": name.light,
                        "split": split,
                        "video_id": rel.rsplit(".", 1)[0],
                        "session": name.light,
                        "instrument": "" if is_real else name.attack_device,
                    }
                )
        return rows

    def _videos(self, group_dir: Path, skips: SkipLog) -> list[Path]:
        """The ``.mov`` files (or frame folders) of one group's ``real/`` and
        ``attack/<support>/`` folders."""
        folders = [group_dir / "real"]
        for child in sorted((group_dir / "attack").iterdir()):
            if child.is_dir() and child.name.lower() in SUPPORTS:
                folders.append(child)
            else:
                skips.add(relative(child, self.root), "unrecognised_name")
        return sorted(
            p for folder in folders for p in folder.iterdir()
            if p.suffix.lower() == ".mov" or p.is_dir()
        )
