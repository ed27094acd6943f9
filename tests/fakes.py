"""Miniature fake datasets in the exact layouts of the real ones (tests only; tiny on purpose).

Every builder writes into a folder (``tmp_path`` in tests) the folder structure, file names and
list files of one public dataset (see ``DATASETS.md`` and :mod:`fas_lib.data.datasets`),
with a parameter for how many subjects. Videos are real, decodable 2-frame 32x24 MJPG clips
(a few kB); images are 32x24 JPEGs. Bona fide media are greenish, attacks reddish, so a test
can tell them apart after decoding. Builders return a :class:`FakeDataset` naming what was
written, what was listed but left absent, and which files were written corrupt.

:func:`build_replay_attack_frames` is a *frame-folder release* (one folder of JPEG frames per
video, as many copies in circulation are): its frames hold a face dlib's detector finds
(:func:`face_frame`: matplotlib's public-domain Grace Hopper portrait, 192 px wide), so a crop
cache and training run on it end to end.

Import from a test as ``from tests import fakes`` (the repository root must be on
``sys.path``; ``tests/unit/data/test_datasets.py`` shows how).
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

FRAME_W, FRAME_H, N_FRAMES = 32, 24, 2
CORRUPT_BYTES = b"this is not a video: truncated download\x00\x01"


@dataclass
class FakeDataset:
    """What a builder wrote.

    Attributes:
        root: the dataset root.
        files: relative paths of the media files written (corrupt ones included).
        missing: relative paths listed in a list file but deliberately not written.
        corrupt: relative paths written with bytes that are not a video.
    """

    root: Path
    files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


def _frame(kind: str, index: int) -> np.ndarray:
    """A 32x24 BGR frame: greenish for ``live``, reddish otherwise, brighter each frame."""
    img = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    channel = 1 if kind == "live" else 2
    img[..., channel] = 120 + 40 * index
    img[6:18, 10:22] = 200  # a bright "face" block
    return img


@functools.lru_cache(maxsize=None)
def video_bytes(suffix: str = ".avi", kind: str = "live") -> bytes:
    """Bytes of a decodable 2-frame MJPG video (``.avi`` or ``.mov`` container)."""
    fourcc = cv2.VideoWriter_fourcc(*("jpeg" if suffix == ".mov" else "MJPG"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"clip{suffix}"
        writer = cv2.VideoWriter(str(path), fourcc, 5.0, (FRAME_W, FRAME_H))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write MJPG {suffix} videos here")
        for i in range(N_FRAMES):
            writer.write(_frame(kind, i))
        writer.release()
        return path.read_bytes()


@functools.lru_cache(maxsize=None)
def image_bytes(kind: str = "live") -> bytes:
    """Bytes of a 32x24 JPEG image."""
    ok, buf = cv2.imencode(".jpg", _frame(kind, 0))
    assert ok
    return buf.tobytes()


def _write(fake: FakeDataset, rel: str, data: bytes) -> None:
    path = fake.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    fake.files.append(rel)


def write_video(fake: FakeDataset, rel: str, kind: str = "live") -> None:
    """Write a tiny decodable video at ``fake.root / rel`` (container from the suffix)."""
    _write(fake, rel, video_bytes(Path(rel).suffix.lower(), "live" if kind == "live" else "attack"))


def write_image(fake: FakeDataset, rel: str, kind: str = "live") -> None:
    """Write a tiny JPEG at ``fake.root / rel``."""
    _write(fake, rel, image_bytes("live" if kind == "live" else "attack"))


def write_corrupt(fake: FakeDataset, rel: str) -> None:
    """Overwrite (or create) ``rel`` with bytes no decoder accepts."""
    (fake.root / rel).parent.mkdir(parents=True, exist_ok=True)
    (fake.root / rel).write_bytes(CORRUPT_BYTES)
    if rel not in fake.files:
        fake.files.append(rel)
    fake.corrupt.append(rel)


def write_lines(path: Path, lines: list[str], crlf: bool = False) -> None:
    """Write a list file, with CRLF line endings when ``crlf``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    eol = "\r\n" if crlf else "\n"
    path.write_bytes((eol.join(lines) + eol).encode("utf-8"))


FACE_LINES = ["1 5 4 20 16", "2 0 0 0 0"]  # frame 1: a box; frame 2: no face


# --------------------------------------------------------------------------- CASIA-FASD
CASIA_FILES = {"live": ("1", "2", "HR_1"), "warped_photo": ("3", "4", "HR_2"),
               "cut_photo": ("5", "6", "HR_3"), "video_replay": ("7", "8", "HR_4")}  # fmt: skip


def casia_train_ids(n_train: int) -> list[int]:
    """Training folder numbers used for ``n_train`` subjects: some below 16, some 16-20 (dev)."""
    n_dev = min(5, n_train // 2)
    if n_train - n_dev > 15:
        raise ValueError("CASIA-FASD has 20 training subjects at most")
    return list(range(1, n_train - n_dev + 1)) + list(range(16, 16 + n_dev))


def build_casia_fasd(
    root: Path, n_train: int = 2, n_test: int = 2, *, faces: bool = True, corrupt: bool = True
) -> FakeDataset:
    """CASIA-FASD: ``train_release/<id>/`` and ``test_release/<id>/`` with the 12 videos each.

    Training folders are :func:`casia_train_ids` (2 -> folders 1 and 16); test folders 1..n_test.
    ``faces`` writes ``face-locations/train_release/1/1.face``; ``corrupt`` makes
    ``test_release/1/HR_4.avi`` unreadable.
    """
    fake = FakeDataset(Path(root))
    folders = [("train_release", i) for i in casia_train_ids(n_train)]
    folders += [("test_release", i) for i in range(1, n_test + 1)]
    for release, number in folders:
        for kind, stems in CASIA_FILES.items():
            for stem in stems:
                write_video(fake, f"{release}/{number}/{stem}.avi", kind)
    if faces:
        write_lines(fake.root / "face-locations/train_release/1/1.face", FACE_LINES)
    if corrupt and n_test:
        write_corrupt(fake, "test_release/1/HR_4.avi")
    return fake


# --------------------------------------------------------------------------- Replay-Attack
def replay_names(client: int) -> dict[str, list[str]]:
    """The 4 real and 20 attack file names of one client, by folder (real, fixed, hand)."""
    c = f"client{client:03d}_session01"
    lights = ("controlled", "adverse")
    names: dict[str, list[str]] = {"real": [], "fixed": [], "hand": []}
    names["real"] = [f"{c}_webcam_authenticate_{light}_{t}.mov" for light in lights for t in (1, 2)]
    attacks = [("print", "highdef", "photo")]
    attacks += [(dev, dev, st) for dev in ("mobile", "highdef") for st in ("photo", "video")]
    for support in ("fixed", "hand"):
        names[support] = [
            f"attack_{dev}_client{client:03d}_session01_{sdev}_{stype}_{light}.mov"
            for dev, sdev, stype in attacks
            for light in lights
        ]
    return names


def build_replay_attack(
    root: Path, n_train: int = 1, n_devel: int = 1, n_test: int = 1, *, enroll: bool = True,
    faces: bool = True,
) -> FakeDataset:
    """Replay-Attack: ``train/``, ``devel/``, ``test/`` with real/, attack/{fixed,hand}/, enroll/.

    Clients are numbered 1.. across the groups in that order (``client001``...). ``faces``
    writes the ``.face`` file of the first real training video.
    """
    fake = FakeDataset(Path(root))
    client = 0
    for group, n in (("train", n_train), ("devel", n_devel), ("test", n_test)):
        for _ in range(n):
            client += 1
            for folder, files in replay_names(client).items():
                sub = "real" if folder == "real" else f"attack/{folder}"
                for name in files:
                    kind = "live" if folder == "real" else "attack"
                    write_video(fake, f"{group}/{sub}/{name}", kind)
            if enroll:
                for light in ("controlled", "adverse"):
                    name = f"client{client:03d}_session01_enroll_{light}.mov"
                    write_video(fake, f"{group}/enroll/{name}")
    if faces and n_train:
        first = replay_names(1)["real"][0].replace(".mov", ".face")
        write_lines(fake.root / "face-locations/train/real" / first, FACE_LINES)
    return fake


# --------------------------------------------------------------------------- OULU-NPU
def build_oulu_npu(
    root: Path, n_train: int = 1, n_dev: int = 1, n_test: int = 1, *, crlf_protocol: int = 3
) -> FakeDataset:
    """OULU-NPU: ``<Split>_files/<P>_<S>_<U>_<F>.avi`` for 6 phones x 3 sessions x 5 files,
    and ``Protocols/Protocol_1..4`` lists following the official protocol definitions.

    Users: train 1..n_train, dev 21.., test 36.. Protocols 1 and 3 label attacks -1; 2 and 4
    use -2 for replay (as some copies do). The lists of ``crlf_protocol`` use CRLF endings.
    """
    fake = FakeDataset(Path(root))
    users = {"Train": range(1, n_train + 1), "Dev": range(21, 21 + n_dev),
             "Test": range(36, 36 + n_test)}  # fmt: skip
    videos = {split: [(p, s, u, f) for u in us for p in range(1, 7) for s in (1, 2, 3)
                      for f in range(1, 6)] for split, us in users.items()}  # fmt: skip
    for split, items in videos.items():
        for p, s, u, f in items:
            kind = "live" if f == 1 else "attack"
            write_video(fake, f"{split}_files/{p}_{s}_{u:02d}_{f}.avi", kind)

    def keep(proto: int, split: str, fold: int | None, v: tuple[int, int, int, int]) -> bool:
        p, s, _, f = v
        train_like = split in ("Train", "Dev")
        if proto == 1:
            return s in (1, 2) if train_like else s == 3
        if proto == 2:
            return f in (1, 2, 4) if train_like else f in (1, 3, 5)
        if proto == 3:
            return p != fold if train_like else p == fold
        return (p != fold and s in (1, 2) and f in (1, 2, 4)) if train_like else (
            p == fold and s == 3 and f in (1, 3, 5))

    for proto in (1, 2, 3, 4):
        for fold in ((None,) if proto in (1, 2) else range(1, 7)):
            for split, items in videos.items():
                lines = []
                for v in items:
                    if keep(proto, split, fold, v):
                        p, s, u, f = v
                        label = "+1" if f == 1 else ("-2" if proto in (2, 4) and f >= 4 else "-1")
                        lines.append(f"{label},{p}_{s}_{u:02d}_{f}")
                name = f"{split}.txt" if fold is None else f"{split}_{fold}.txt"
                write_lines(fake.root / f"Protocols/Protocol_{proto}/{name}", lines,
                            crlf=proto == crlf_protocol)
    return fake


# --------------------------------------------------------------------------- NUAA
def build_nuaa(
    root: Path, n_subjects: int = 3, images: int = 2, n_missing: int = 2, *, backslash: bool = True
) -> FakeDataset:
    """NUAA: ``ClientRaw/<ID>/`` and ``ImposterRaw/<ID>/`` JPEGs and the four CRLF lists.

    Subjects 1..n_subjects each get ``images`` train images (sessions 1 and 2 alternately, as
    the official lists mix them) and ``images`` test images (session 3) in both folders.
    ``n_missing`` extra entries of a never-released subject (0016) are listed in
    ``client_test_raw.txt`` without files. ``backslash`` writes the imposter lists with Windows
    separators.
    """
    fake = FakeDataset(Path(root))
    lists: dict[str, list[str]] = {k: [] for k in ("client_train_raw.txt", "imposter_train_raw.txt",
                                                   "client_test_raw.txt", "imposter_test_raw.txt")}
    for sid in range(1, n_subjects + 1):
        for split, first in (("train", 1), ("test", 3)):
            for pic in range(images):
                session = first + pic % 2 if split == "train" else first
                entry = f"{sid:04d}/{sid:04d}_00_01_{session:02d}_{pic}.jpg"
                for who, folder in (("client", "ClientRaw"), ("imposter", "ImposterRaw")):
                    write_image(fake, f"{folder}/{entry}", "live" if who == "client" else "attack")
                    windows = backslash and who == "imposter"
                    listed = entry.replace("/", "\\") if windows else entry
                    lists[f"{who}_{split}_raw.txt"].append(listed)
    for pic in range(n_missing):
        entry = f"0016/0016_00_01_03_{pic}.jpg"
        lists["client_test_raw.txt"].append(entry)
        fake.missing.append(f"ClientRaw/{entry}")
    for name, lines in lists.items():
        write_lines(fake.root / name, lines, crlf=True)
    return fake


# --------------------------------------------------------------------------- CASIA-SURF
SURF_RECORDINGS = {"real_part": ("real",), "fake_part": ("04_en_b", "05_enm_s", "06_enm_b")}


def build_casia_surf(
    root: Path, n_subjects: int = 2, frames: int = 2, n_val: int = 4, *, label_format: str = "paths"
) -> FakeDataset:
    """CASIA-SURF: ``Training/`` recordings, ``Val/0000/`` samples and the three list files.

    Each subject (``CLKJ_AS0001``...) has one real and three attack recordings of ``frames``
    frames. Validation sample k is bona fide when k is even. ``label_format`` ``"paths"`` writes
    ``val_label.txt`` as ``rgb depth ir label`` lines; ``"labels"`` one label per line.
    """
    fake = FakeDataset(Path(root))
    train_lines = []
    for sid in range(1, n_subjects + 1):
        for part, recordings in SURF_RECORDINGS.items():
            for rec in recordings:
                kind = "live" if rec == "real" else "attack"
                base = f"Training/{part}/CLKJ_AS{sid:04d}/{rec}.rssdk"
                for n in range(1, frames + 1):
                    triple = [f"{base}/{m}/{n}.jpg" for m in ("color", "depth", "ir")]
                    for rel in triple:
                        write_image(fake, rel, kind)
                    train_lines.append(" ".join(triple) + f" {int(kind == 'live')}")
    public, labels = [], []
    for k in range(n_val):
        triple = [f"Val/0000/{k:06d}-{m}.jpg" for m in ("color", "depth", "ir")]
        label = int(k % 2 == 0)
        for rel in triple:
            write_image(fake, rel, "live" if label else "attack")
        public.append(" ".join(triple))
        labels.append(f"{' '.join(triple)} {label}" if label_format == "paths" else str(label))
    write_lines(fake.root / "train_list.txt", train_lines)
    write_lines(fake.root / "val_public_list.txt", public)
    write_lines(fake.root / "val_label.txt", labels)
    return fake


# --------------------------------------------------------------------------- generic CSV
def build_generic_csv(root: Path, n_per_class: int = 2) -> FakeDataset:
    """A user dataset ``media/*.avi`` and ``protocol.csv`` (path,label,split,subject).

    Each split gets ``n_per_class`` bona fide and ``n_per_class`` attack videos; subject ids
    ``s<split>`` keep the splits subject-disjoint.
    """
    fake = FakeDataset(Path(root))
    lines = ["path,label,split,subject"]
    for split in ("train", "dev", "test"):
        for label in (1, 0):
            for i in range(n_per_class):
                rel = f"media/{split}_{'live' if label else 'attack'}_{i}.avi"
                write_video(fake, rel, "live" if label else "attack")
                lines.append(f"{rel},{label},{split},s{split}")
    write_lines(fake.root / "protocol.csv", lines)
    return fake


# --------------------------------------------------------------------------- frame folders
FACE_W = 192  # frame width of face_frame: the portrait's face is about 70 px, above dlib's 40


@functools.lru_cache(maxsize=1)
def _portrait() -> np.ndarray:
    """matplotlib's Grace Hopper portrait (public domain), BGR, resized to FACE_W wide."""
    import matplotlib

    img = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    h = round(img.shape[0] * FACE_W / img.shape[1])
    return cv2.resize(img, (FACE_W, h), interpolation=cv2.INTER_AREA)


def face_frame(kind: str, subject: int, index: int) -> np.ndarray:
    """A BGR frame with a detectable face: the portrait tinted per ``subject``, shifted by 2 px
    per frame ``index``; an attack (``kind != "live"``) is a faded, warm print with a white
    paper border."""
    img = _portrait().astype(np.float32)
    h, w = img.shape[:2]
    shift = np.float32([[1, 0, 2 * index - 2], [0, 1, index - 1]])
    img = cv2.warpAffine(img, shift, (w, h), borderMode=cv2.BORDER_REPLICATE)
    img *= np.float32([1.0, 1.0 - 0.04 * (subject % 4), 1.0 + 0.04 * (subject % 4)])
    if kind != "live":
        img = 0.7 * img + 0.3 * np.float32([60, 120, 200])
        img[:8] = img[-8:] = 245
        img[:, :8] = img[:, -8:] = 245
    return np.clip(img, 0, 255).astype(np.uint8)


def write_face_image(fake: FakeDataset, rel: str, kind: str = "live", subject: int = 0,
                     index: int = 0) -> None:
    """Write :func:`face_frame` ``(kind, subject, index)`` as the image ``rel`` (by suffix)."""
    ok, buf = cv2.imencode(Path(rel).suffix, face_frame(kind, subject, index))
    assert ok
    _write(fake, rel, buf.tobytes())


def write_frame_folder(fake: FakeDataset, rel: str, n: int, kind: str = "live",
                       subject: int = 0, faces: bool = True, ext: str = ".jpg") -> None:
    """Write the folder ``rel`` of ``n`` frames ``frame_1`` ... ``frame_<n>`` (natural order
    differs from string order from 10 on): :func:`face_frame` s, or the tiny 32x24 frames."""
    for i in range(n):
        if faces:
            write_face_image(fake, f"{rel}/frame_{i + 1}{ext}", kind, subject, i)
        else:
            ok, buf = cv2.imencode(ext, _frame(kind, min(i, 2)))
            _write(fake, f"{rel}/frame_{i + 1}{ext}", buf.tobytes())


def build_replay_attack_frames(
    root: Path, n_train: int = 1, n_devel: int = 1, n_test: int = 1, *, n_real: int = 2,
    n_attacks: int = 2, frames: int = 3, protocol_csv: bool = True,
) -> FakeDataset:
    """Replay-Attack as a frame-folder release: ``<group>/real/<video name>/frame_<k>.jpg`` and
    ``<group>/attack/fixed/<video name>/...``, the names of :func:`replay_names` without
    ``.mov``; per client the first ``n_real`` real and ``n_attacks`` fixed-support attack
    videos, each of ``frames`` face frames.

    ``protocol_csv`` also writes ``protocol.csv`` at the root listing every folder (path, label,
    split, subject, attack_type), so the same copy is read by the ``csv`` adapter as by
    ``replay_attack``; ``fake.files`` holds the folders (not the frames).
    """
    fake = FakeDataset(Path(root))
    lines = ["path,label,split,subject,attack_type"]
    client = 0
    for group, split, n in (("train", "train", n_train), ("devel", "dev", n_devel),
                            ("test", "test", n_test)):
        for _ in range(n):
            client += 1
            names = replay_names(client)
            videos = [("real", v, "live") for v in names["real"][:n_real]]
            videos += [("attack/fixed", v, parse_attack(v)) for v in names["fixed"][:n_attacks]]
            for folder, name, attack in videos:
                rel = f"{group}/{folder}/{name.removesuffix('.mov')}"
                write_frame_folder(fake, rel, frames, attack, client)
                lines.append(f"{rel},{int(attack == 'live')},{split},{client},{attack}")
    fake.files = sorted({f.rsplit("/", 1)[0] for f in fake.files})
    if protocol_csv:
        write_lines(fake.root / "protocol.csv", lines)
    return fake


def parse_attack(name: str) -> str:
    """The attack device of a Replay-Attack attack file name (``attack_print_...`` -> print)."""
    return name.split("_")[1]


# --- a fabricated crop cache with depth and NIR crops (multi-modal tests) ----------------------

#: What each fake attack type looks like to each sensor: (rgb flat, depth face-shaped, nir face)
FAKE_MM_SENSORS: dict[str, tuple[bool, bool, bool]] = {
    "live": (False, True, True),
    "print_flat": (True, False, True),     # flat in depth, the printed face shows in NIR
    "replay_phone": (True, False, False),  # flat, and a screen shows no face in NIR
    "mask": (True, True, False),           # face-shaped in depth, wrong NIR
}


def build_modality_cache(root: Path, n_videos: int = 3, frames: int = 2, size: int = 64,
                         scales: tuple[float, ...] = (1.0, 1.4), seed: int = 0,
                         attack_types: tuple[str, ...] = ("print_flat", "replay_phone", "mask"),
                         ):
    """A finished :class:`~fas_lib.cache.reader.CropCache` folder with ``depth_<split>.npy`` and
    ``nir_<split>.npy`` beside the RGB crops (the layout of :mod:`fas_lib.cache.modalities`),
    opened (``modalities == ("depth", "nir")``).

    Every split holds ``n_videos`` live videos and ``n_videos`` videos per attack type, each of
    ``frames`` frames; the signals follow :data:`FAKE_MM_SENSORS` (a bump in depth, a bright
    disc in NIR, a flat RGB texture for attacks) plus noise, so that a tiny model learns them.
    """
    import json

    import pandas as pd

    from fas_lib.cache.reader import open_cache

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size] / (size - 1) - 0.5
    bump = np.clip(1 - 8 * (xx**2 + yy**2), 0, 1)
    rows = []
    arrays: dict[tuple[str, str], list[np.ndarray]] = {}
    for split in ("train", "dev", "test"):
        for kind in ("live", *attack_types):
            rgb_flat, depth_face, nir_face = FAKE_MM_SENSORS[kind]
            for v in range(n_videos):
                for f in range(frames):
                    noise = rng.normal(0, 12, (len(scales), size, size))
                    tex = rng.normal(0, 40 if not rgb_flat else 8, (len(scales), size, size, 3))
                    rgb = np.clip(128 + tex, 0, 255).astype(np.uint8)
                    depth = np.clip(60 + (150 * bump if depth_face else 0) + noise, 0, 255)
                    nir = np.clip(40 + (120 * bump if nir_face else 20) + noise, 0, 255)
                    for name, arr in (("crops", rgb), ("depth", depth), ("nir", nir)):
                        arrays.setdefault((name, split), []).append(arr.astype(np.uint8))
                    n = sum(r["split"] == split for r in rows)
                    rows.append({"split": split, "video_id": f"{split}_{kind}_{v}",
                                 "subject": f"{split}{v}", "label": int(kind == "live"),
                                 "attack_type": kind, "frame_idx": f, "index": n})
    for (name, split), items in arrays.items():
        np.save(root / f"{name}_{split}.npy", np.stack(items))
    pd.DataFrame(rows).to_csv(root / "table.csv", index=False)
    manifest = {"complete": True, "dataset": "fake_mm", "protocol": "standard", "fold": None,
                "params": {"scales": list(scales), "crop_size": size,
                           "modalities": ["depth", "nir"]},
                "root": str(root), "counts": {"frames": len(rows)}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return open_cache(root)
