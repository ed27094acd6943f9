"""SynthSpoof: determinism, ground truth, border visibility, caching, modalities, user photos.

Every dataset here is tiny (a few subjects, 1-5 frames per video) so that the file runs in well
under a minute on two cores.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest

from fas_lib.data.protocol import COLUMNS
from fas_lib.synthspoof import (
    ATTACK_TYPES,
    SynthConfig,
    border_share,
    default_root,
    distinctness,
    generate,
    make_subjects,
)
from fas_lib.synthspoof.gt import points_in_polygon

SCALES = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
TINY = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1", "s2"), live_per_session=1)
# 4 subjects x 5 attack types x 3 sessions x 5 frames = 300 attack frames; 320 x 240 is enough
# for geometry and four times cheaper to render.
SMALL = SynthConfig(n_subjects=4, frames_per_video=5, width=320, height=240, seed=5)


pytestmark = pytest.mark.usefixtures("private_data_dir")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(TINY, root=tmp_path_factory.mktemp("tiny") / "ds", workers=1, progress=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return generate(SMALL, root=tmp_path_factory.mktemp("small") / "ds", workers=1, progress=False)


def _all_gt(ds):
    return [ds.load_gt(v) for v in ds.video_ids]


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_is_identical_across_worker_counts(tiny, tmp_path):
    state = np.random.get_state()[1].copy()
    other = generate(TINY, root=tmp_path / "w2", workers=2, progress=False)
    assert np.array_equal(np.random.get_state()[1], state), "the global NumPy RNG must not be used"
    assert tiny.protocol.equals(other.protocol)
    for v in tiny.video_ids:
        assert (tiny.root / tiny.protocol.set_index("video_id").loc[v, "path"]).read_bytes() == (
            other.root / other.protocol.set_index("video_id").loc[v, "path"]
        ).read_bytes()
        assert np.array_equal(tiny.read_frames(v), other.read_frames(v))
        a, b = tiny.load_gt(v), other.load_gt(v)
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), (v, k)


def test_different_seed_differs(tiny, tmp_path):
    cfg = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1", "s2"), live_per_session=1, seed=1)
    other = generate(cfg, root=tmp_path / "s1", workers=1, progress=False)
    v = tiny.video_ids[0]
    assert not np.array_equal(tiny.read_frames(v), other.read_frames(v))
    assert not np.allclose(tiny.load_gt(v)["landmarks68"], other.load_gt(v)["landmarks68"])


# -- protocol and ground truth -----------------------------------------------------------------


def test_protocol_and_files(tiny):
    p = tiny.protocol
    assert list(p.columns) == list(COLUMNS)
    assert len(p) == 3 * 6 * 2
    assert set(p["attack_type"]) == {"live", *ATTACK_TYPES}
    assert (p["label"] == (p["attack_type"] == "live").astype(int)).all()
    assert (p["depth_path"] == "").all() and (p["ir_path"] == "").all()
    for row in p.itertuples():
        assert row.path == f"videos/{row.split}/{row.subject}/{row.video_id}.avi"
        assert (tiny.root / row.path).is_file()
    man = tiny.manifest
    assert man["complete"] and man["n_frames"] == len(p) * 2
    assert man["counts"]["label"] == {"0": 30, "1": 6}
    assert man["frames_per_s"] > 0


def test_ground_truth_shapes_and_consistency(tiny):
    for v in tiny.video_ids:
        row = tiny.protocol.set_index("video_id").loc[v]
        gt = tiny.load_gt(v)
        frames = tiny.read_frames(v)
        t = len(frames)
        assert frames.shape == (t, 480, 640, 3) and frames.dtype == np.uint8
        assert gt["face_box"].shape == (t, 4)
        assert gt["landmarks68"].shape == (t, 68, 2)
        assert gt["landmarks5"].shape == (t, 5, 2) and gt["paper5"].shape == (t, 5, 2)
        assert gt["medium_outer"].shape == gt["medium_inner"].shape == (t, 32, 2)
        assert int(gt["label"]) == row["label"] and str(gt["attack_type"]) == row["attack_type"]
        assert str(gt["quality"]) == row["quality"] and str(gt["subject"]) == row["subject"]
        assert str(gt["split"]) == row["split"]
        for factor in ("session", "camera", "instrument"):
            assert str(gt[factor]) == row[factor], (v, factor)
        box = gt["face_box"]
        assert np.allclose(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])  # square
        for pts in (gt["landmarks5"], gt["paper5"]):
            inside = (
                (pts[..., 0] > box[:, None, 0])
                & (pts[..., 0] < box[:, None, 2])
                & (pts[..., 1] > box[:, None, 1])
                & (pts[..., 1] < box[:, None, 3])
            )
            assert inside.all(), v
        assert np.all((gt["iod"] > 50) & (gt["iod"] < 90)), (v, gt["iod"])
        # dlib 5-point order: 0, 1 = outer / inner corner of the eye on the image's right
        assert (gt["landmarks5"][:, 0, 0] > gt["landmarks5"][:, 1, 0]).all()
        assert (gt["landmarks5"][:, 2, 0] < gt["landmarks5"][:, 3, 0]).all()
        if row["label"] == 1:
            assert np.isnan(gt["medium_outer"]).all() and np.isnan(gt["medium_inner"]).all()
        else:
            for f in range(t):
                assert points_in_polygon(gt["medium_inner"][f], gt["medium_outer"][f]).mean() > 0.9


def test_splits_are_subject_disjoint_in_replay_attack_proportions(small):
    p = small.protocol
    subjects = {s: set(p.loc[p["split"] == s, "subject"]) for s in ("train", "dev", "test")}
    assert not (subjects["train"] & subjects["dev"]) and not (subjects["train"] & subjects["test"])
    assert not (subjects["dev"] & subjects["test"])
    from fas_lib.synthspoof import split_subjects

    counts = {s: split_subjects(40, 0).count(s) for s in ("train", "dev", "test")}
    assert counts == {"train": 12, "dev": 12, "test": 16}


def test_forty_distinct_subjects():
    subjects = make_subjects(40, seed=0)
    assert len({s.subject_id for s in subjects}) == 40
    d = distinctness(subjects)
    off = d[np.triu_indices(40, 1)]
    # mean absolute difference of aligned 64 x 64 thumbnails, in grey levels
    assert off.min() > 8.0, off.min()
    assert np.median(off) > 25.0


# -- the lesson: border visibility grows with the crop scale ---------------------------------


def test_border_share_grows_with_scale(small):
    gts = _all_gt(small)
    n_attack = sum(len(g["face_box"]) for g in gts if int(g["label"]) == 0)
    assert n_attack >= 300
    share = border_share(gts, SCALES)
    values = [share[s] for s in SCALES]
    assert all(b >= a for a, b in pairwise(values)), share
    assert share[0.9] < 0.10, share
    assert share[1.5] > 0.50, share
    # the aligner's larger unit box sees the border earlier but also grows monotonically
    aligned = [border_share(gts, SCALES, box="aligned")[s] for s in SCALES]
    assert all(b >= a for a, b in pairwise(aligned))


# -- caching and atomicity ------------------------------------------------------------------------


def test_cache_hit_and_new_folder_for_new_params(tmp_path, monkeypatch):
    monkeypatch.setenv("FAS_DATA_DIR", str(tmp_path))
    cfg = SynthConfig(
        n_subjects=3, frames_per_video=1, sessions=("s1",), live_per_session=1, attack_types=("print_flat",)
    )
    first = generate(cfg, progress=False, workers=1)
    assert first.root == default_root(cfg) and first.root.parent == tmp_path / "synthspoof"
    stamp = (first.root / "manifest.json").stat().st_mtime_ns

    import fas_lib.synthspoof.dataset as gen

    def boom(*args, **kwargs):
        raise AssertionError("a cache hit must not render anything")

    monkeypatch.setattr(gen, "_run_subject", boom)
    again = generate(cfg, progress=False, workers=1)
    assert again.root == first.root
    assert (again.root / "manifest.json").stat().st_mtime_ns == stamp
    monkeypatch.undo()
    monkeypatch.setenv("FAS_DATA_DIR", str(tmp_path))

    changed = generate(SynthConfig(**{**cfg.__dict__, "seed": 9}), progress=False, workers=1)
    assert changed.root != first.root and changed.root.parent == first.root.parent
    assert json.loads((changed.root / "manifest.json").read_text())["params"]["seed"] == 9
    assert not list(first.root.parent.glob(".*tmp*"))


def test_interrupted_generation_leaves_no_complete_folder(tmp_path, monkeypatch):
    import fas_lib.synthspoof.dataset as gen

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(gen, "_run_subject", fail)
    cfg = SynthConfig(n_subjects=3, frames_per_video=1, sessions=("s1",), live_per_session=1, attack_types=())
    with pytest.raises(RuntimeError):
        generate(cfg, root=tmp_path / "ds", workers=1, progress=False)
    assert not (tmp_path / "ds").exists()
    assert list(tmp_path.iterdir()) == []


# -- modalities ------------------------------------------------------------------------------------


def test_depth_and_nir(tmp_path):
    cfg = SynthConfig(
        n_subjects=3,
        frames_per_video=2,
        sessions=("s1",), live_per_session=1,
        attack_types=("print_flat", "replay_phone"),
        modalities=("depth", "nir"),
    )
    ds = generate(cfg, root=tmp_path / "mm", workers=1, progress=False)
    p = ds.protocol.set_index("video_id")
    assert (p["depth_path"] != "").all() and (p["ir_path"] != "").all()

    def face_roughness(depth: np.ndarray, box: np.ndarray) -> float:
        x0, y0, x1, y1 = box.astype(int)
        patch = depth[y0:y1, x0:x1].astype(np.float64)
        yy, xx = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
        ok = patch > 0
        a = np.stack([xx[ok], yy[ok], np.ones(ok.sum())], 1)
        coef, *_ = np.linalg.lstsq(a, patch[ok], rcond=None)
        return float(np.std(patch[ok] - a @ coef))  # residual after fitting a plane

    def medium_mean(img: np.ndarray, poly: np.ndarray) -> float:
        mask = np.zeros(img.shape, np.uint8)
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
        return float(img[mask > 0].mean())

    def vid(subject: str, kind: str) -> str:  # the session-1 video of a kind
        return f"{subject}_s1_{kind}1" if kind == "live" else f"{subject}_s1_{kind}"

    for subject in ("s000", "s001", "s002"):
        frames = ds.read_frames(vid(subject, "live"))
        depth = {k: ds.read_modality(vid(subject, k), "depth") for k in ("live", "print_flat")}
        nir = {
            k: ds.read_modality(vid(subject, k), "nir")
            for k in ("print_flat", "replay_phone")
        }
        assert depth["live"].shape == nir["print_flat"].shape == frames.shape[:3]
        assert depth["live"].dtype == np.uint8
        gt = {k: ds.load_gt(vid(subject, k)) for k in ("live", "print_flat", "replay_phone")}
        live_r = face_roughness(depth["live"][0], gt["live"]["face_box"][0])
        print_r = face_roughness(depth["print_flat"][0], gt["print_flat"]["face_box"][0])
        assert live_r > 8.0 and print_r < 3.0 and live_r > 4 * print_r, (live_r, print_r)
        assert medium_mean(nir["replay_phone"][0], gt["replay_phone"]["medium_inner"][0]) + 60 < (
            medium_mean(nir["print_flat"][0], gt["print_flat"]["medium_inner"][0])
        )
    with pytest.raises(ValueError):
        ds.read_modality(ds.video_ids[0], "thermal")


# -- the user's own photos -------------------------------------------------------------------------


def test_user_faces_dir_with_bad_files(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    from skimage import data

    face = data.astronaut()[:300, 60:420, ::-1]  # a real face (BGR for cv2.imwrite)
    cv2.imwrite(str(folder / "me.jpg"), np.ascontiguousarray(face[:, ::-1]))
    grad = np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (150, 1))
    cv2.imwrite(str(folder / "no_face.png"), grad)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a JPEG" * 3)
    cfg = SynthConfig(
        n_subjects=3,
        frames_per_video=1,
        sessions=("s1",), live_per_session=1,
        attack_types=(),
        user_faces_dir=str(folder),
    )
    ds = generate(cfg, root=tmp_path / "ds", workers=1, progress=False)
    users = ds.manifest["user_faces"]
    assert users["used"] == ["me.jpg"]
    assert users["n_skipped"] == 2
    reasons = {s["file"]: s["reason"] for s in users["skipped"]}
    assert set(reasons) == {"no_face.png", "corrupt.jpg"}
    assert "no face" in reasons["no_face.png"] and "corrupt" in reasons["corrupt.jpg"]
    assert ds.manifest["sources"][-1] == "me.jpg"
    # subject s002 is derived from the third source, the user's photo
    assert len(ds.read_frames("s002_s1_live1")) == 1
    assert Path(ds.root / "protocol.csv").is_file()


def test_unguarded_script_with_workers_finishes_with_a_warning(tmp_path):
    """A plain script calling generate(workers=2) at top level: its spawned workers re-run the
    script; they must fail fast (not hang the parent), and the parent must finish in-process."""
    import subprocess
    import sys

    script = tmp_path / "plain_script.py"
    script.write_text(
        "from fas_lib.synthspoof import SynthConfig, generate\n"
        "cfg = SynthConfig(n_subjects=3, frames_per_video=1, sessions=('s1',), live_per_session=1,\n"
        "                  attack_types=('print_flat',), seed=11)\n"
        f"ds = generate(cfg, root={str(tmp_path / 'data')!r}, workers=2, progress=False)\n"
        "print('videos', len(ds.video_ids))\n"
    )
    env = {**__import__("os").environ, "FAS_DATA_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=90, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "videos 6" in proc.stdout                   # 3 subjects x (live + print_flat)
    assert "process pool failed" in proc.stderr        # the parent said what happened
    assert "if __name__ == '__main__':" in proc.stderr  # and how to avoid it
