"""Tests of fas_lib.cache: layout, resume after interruption, corrupt shards, skips, face files.

Fixtures are tiny: a SynthSpoof of 3 subjects x (live, print_flat, replay_phone) x 1 quality x 3
frames (9 videos, generated once in this process, about 3 s) cached at 2 frames per video, and
the miniature fakes of tests/fakes.py (32 x 24 clips in which dlib finds no face, so only the
face-location file gives a crop).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fas_lib.cache import (
    BuildInterrupted,
    CacheError,
    build_cache,
    face_file_boxes,
    open_cache,
    skip_report,
)
from fas_lib.align import FaceAligner
from fas_lib.datasets import DatasetLayoutError, load_protocol
from fas_lib.io import iter_frames
from fas_lib.loader import CropDataset
from fas_lib.protocol import COLUMNS
from fas_lib.synthspoof import SynthConfig, generate

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # repository root, for tests.fakes
from tests import fakes  # noqa: E402

TINY = SynthConfig(n_subjects=3, frames_per_video=3, qualities=("normal",),
                   attack_types=("print_flat", "replay_phone"))
ARRAYS = [f"{name}_{split}.npy" for name in ("crops", "landmarks", "boxes", "pad")
          for split in ("train", "dev", "test")]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return generate(TINY, root=tmp_path_factory.mktemp("synth") / "ss", workers=1,
                    progress=False).root


@pytest.fixture(scope="module")
def reference(synth, tmp_path_factory):
    """An uninterrupted build, to compare resumed builds with."""
    return build_cache("synthspoof", synth, out=tmp_path_factory.mktemp("ref") / "cache",
                       n_frames=2, workers=1, progress=False)


def build(synth: Path, out: Path, **kw):
    return build_cache("synthspoof", synth, out=out, progress=False,
                       **{"workers": 1, "n_frames": 2, **kw})


def assert_same_cache(a: Path, b: Path) -> None:
    for name in [*ARRAYS, "table.csv"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# ----------------------------------------------------------------------------- contents
def test_layout_table_and_manifest(reference, synth):
    c = reference
    protocol = load_protocol("synthspoof", synth).table
    # 9 videos x 2 of 3 frames (the first and the last); dlib may miss a face: counted
    m = c.manifest
    n_no_face = m["skips"]["media"].get("no_face", 0)
    assert len(c.table) == 18 - n_no_face and n_no_face <= 2
    assert m["dataset"] == "synthspoof" and m["protocol"] == "default" and m["complete"]
    assert m["params"]["n_frames"] == 2 and m["params"]["scales"] == [0.9, 1.0, 1.1, 1.2, 1.3,
                                                                      1.4, 1.5]
    assert set(m["versions"]) >= {"fas_lib", "numpy", "opencv", "dlib"}
    assert list(c.table.columns) == [*COLUMNS, "frame_idx", "index"]
    assert set(c.table["frame_idx"]) <= {0, 2}
    for split in ("train", "dev", "test"):
        f = c.frames(split)
        assert list(f["index"]) == list(range(len(f)))
        assert c.crops(split).shape == (len(f), 7, 128, 128, 3) and c.crops(split).dtype == np.uint8
        assert isinstance(c.crops(split), np.memmap)
        assert c.landmarks(split).shape == (len(f), 5, 2)
        assert c.boxes(split).shape == (len(f), 4) and c.pad_fraction(split).shape == (len(f), 7)
        # protocol table order, then frame index
        order = {p: i for i, p in enumerate(protocol["path"])}
        keys = [(order[p], k) for p, k in zip(f["path"], f["frame_idx"], strict=True)]
        assert keys == sorted(keys)
        assert m["counts"]["frames"][split] == len(f)
        # 1 subject per split: live, print_flat, replay_phone
        assert set(f["attack_type"]) == {"live", "print_flat", "replay_phone"}
    assert not (c.path / "shards").exists()  # shards removed once complete
    # every array row is the frame its table row names: align it again and compare
    aligner = FaceAligner()
    for split in ("train", "test"):
        for row in c.frames(split).itertuples():
            frame = dict(iter_frames(synth / row.path))[row.frame_idx]
            res = aligner.align(frame)
            np.testing.assert_array_equal(c.crops(split)[row.index], res.crops)
            np.testing.assert_allclose(c.landmarks(split)[row.index], res.landmarks, atol=1e-4)
    # crops hold a face: the centre of the scale-1.0 crop is not padding
    assert c.crops("train")[:, 1, 60:68, 60:68].mean() > 20
    assert (c.pad_fraction("train")[:, 0] <= c.pad_fraction("train")[:, -1] + 1e-6).all()


def test_reopen_is_free_and_other_params_are_refused(reference, synth, tmp_path):
    again = build(synth, reference.path)  # same params: opened, not rebuilt
    assert again.manifest["created"] == reference.manifest["created"]
    with pytest.raises(CacheError, match="other parameters"):
        build(synth, reference.path, n_frames=3)
    out = tmp_path / "c"
    with pytest.raises(BuildInterrupted):
        build(synth, out, _stop_after=1)
    with pytest.raises(CacheError, match="other parameters"):
        build(synth, out, n_frames=1)  # half-built with n_frames=2: refused, not mixed
    assert len(build(synth, out, n_frames=1, force=True).table) <= 9
    precious = tmp_path / "home"
    (precious / "notes.txt").parent.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(CacheError, match="not a crop cache"):
        build(synth, precious, force=True)
    assert (precious / "notes.txt").read_text() == "keep me"


# ----------------------------------------------------------------------------- resume
def test_resume_after_interruption_is_identical(reference, synth, tmp_path):
    out = tmp_path / "cache"
    with pytest.raises(BuildInterrupted):
        build(synth, out, _stop_after=4)
    shards = sorted((out / "shards").glob("*.npz"))
    assert len(shards) == 4 and not (out / "manifest.json").exists()
    with pytest.raises(CacheError, match="did not finish"):
        open_cache(out)
    resumed = build(synth, out)
    assert resumed.manifest["n_videos_processed_this_run"] == 5  # 4 of 9 were skipped
    assert_same_cache(resumed.path, reference.path)


def test_tmp_files_ignored_and_corrupt_shard_rebuilt(reference, synth, tmp_path):
    out = tmp_path / "cache"
    with pytest.raises(BuildInterrupted):
        build(synth, out, _stop_after=3)
    shards = sorted((out / "shards").glob("*.npz"))
    (out / "shards" / f".{shards[0].stem}.abc.tmp").write_bytes(b"half a shard")
    shards[1].write_bytes(shards[1].read_bytes()[:5000])  # truncated: cannot load
    with pytest.warns(RuntimeWarning, match="rebuilding corrupt shard"):
        resumed = build(synth, out)
    assert_same_cache(resumed.path, reference.path)


def test_killed_process_resumes_identically(reference, synth, tmp_path):
    """A real interruption: `fas prepare` killed with SIGKILL once shards appear."""
    out = tmp_path / "cache"
    cmd = [sys.executable, "-m", "fas_lib.cli", "prepare", "--dataset", "synthspoof",
           "--root", str(synth), "--out", str(out), "--n-frames", "2", "--workers", "1",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / "shards").glob("*.npz"))) < 2:
        if proc.poll() is not None:
            pytest.fail(f"fas prepare ended early: {proc.stderr.read().decode()}")
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "the build finished before it was killed"
    assert 2 <= len(list((out / "shards").glob("*.npz"))) < 9
    assert_same_cache(build(synth, out).path, reference.path)


def test_process_pool_gives_the_same_cache(reference, synth, tmp_path):
    assert_same_cache(build(synth, tmp_path / "c", workers=2).path, reference.path)


# ----------------------------------------------------------------------------- loader on a real cache
def test_crop_dataset_reads_the_memmap(reference):
    ds = CropDataset(reference, "test", [2, 3, 4], train=False)
    x, y, row = ds[0]
    assert x.shape == (3, 3, 112, 112) and x.dtype.is_floating_point
    expected = reference.crops("test")[0, 2:5, 8:120, 8:120].astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(x.numpy().transpose(0, 2, 3, 1), expected, atol=1e-6)
    assert int(y) == int(reference.frames("test")["label"][0]) and row == 0


# ----------------------------------------------------------------------------- miniatures and skips
def test_casia_fake_face_file_used_and_skips_counted(tmp_path):
    fake = fakes.build_casia_fasd(tmp_path / "CASIA", n_train=2, n_test=1)
    c = build_cache("casia_fasd", fake.root, out=tmp_path / "cache", n_frames=4, workers=1,
                    progress=False)
    m = c.manifest
    # 36 videos x 2 frames = 72 frames; test_release/1/HR_4.avi is corrupt (1 file, 0 frames);
    # dlib finds no face in the 32x24 clips: only train_release/1/1.avi's .face file gives a
    # box (frame 1 in the file = frame index 0; its frame 2 is marked "no face")
    assert m["skips"]["media"]["unreadable_file"] == 1
    assert m["skips"]["media"]["no_face"] == 70 - 1
    assert m["counts"]["face_location_files"] == 1
    assert c.table[["path", "frame_idx", "split"]].values.tolist() == [
        ["train_release/1/1.avi", 0, "train"]]
    np.testing.assert_allclose(c.boxes("train")[0], [5, 4, 25, 20])
    assert c.crops("dev").shape == (0, 7, 128, 128, 3)  # empty split: a valid empty array
    report = skip_report(m)
    assert "CASIA-FASD: 1 unreadable or corrupt files (e.g. test_release/1/HR_4.avi)" in report
    assert "CASIA-FASD: 69 frames with no detected face" in report
    items = {(s["path"], s["reason"]) for s in m["skipped"]}
    assert ("test_release/1/HR_4.avi", "unreadable_file") in items


def test_nuaa_listed_missing_reported(tmp_path):
    fake = fakes.build_nuaa(tmp_path / "NUAA", n_subjects=2, images=1, n_missing=2)
    c = build_cache("nuaa", fake.root, out=tmp_path / "cache", workers=1, progress=False)
    assert c.manifest["skips"]["protocol"] == {"listed_missing": 2}
    assert "NUAA: 2 listed files missing" in skip_report(c.manifest)
    # 8 images, no face in any: all counted, none silently dropped
    assert c.manifest["skips"]["media"] == {"no_face": 8} and len(c.table) == 0


def test_wrong_root_names_the_layout(tmp_path):
    with pytest.raises(DatasetLayoutError, match="train_release"):
        build_cache("casia_fasd", tmp_path / "nothing", out=tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists()


def test_face_file_frame_numbering(tmp_path):
    one = tmp_path / "one.face"
    one.write_text("1 5 4 20 16\n2 0 0 0 0\n")
    assert face_file_boxes(one) == {0: (5.0, 4.0, 25.0, 20.0), 1: None}
    zero = tmp_path / "zero.face"
    zero.write_text("0 1 2 3 4\n1 5 4 20 16\n")
    assert face_file_boxes(zero) == {0: (1.0, 2.0, 4.0, 6.0), 1: (5.0, 4.0, 25.0, 20.0)}


def test_bad_face_file_falls_back_and_is_reported(tmp_path):
    fake = fakes.build_replay_attack(tmp_path / "RA", n_train=1, n_devel=1, n_test=1)
    face = next((fake.root / "face-locations").rglob("*.face"))
    face.write_text("not a face line\n")
    c = build_cache("replay_attack", fake.root, protocol="print", out=tmp_path / "c",
                    n_frames=1, workers=1, progress=False)
    assert c.manifest["skips"]["faces"] == {"bad_face_file": 1}
    assert "face-location files" in skip_report(c.manifest)
    # print protocol: 4 real + 4 print attacks per client, 3 clients, 1 frame each, no faces
    assert c.manifest["skips"]["media"] == {"no_face": 24}


def test_bad_parameters(synth, tmp_path):
    with pytest.raises(ValueError, match="n_frames"):
        build(synth, tmp_path / "c", n_frames=0)
    with pytest.raises(ValueError, match="SynthSpoof only"):
        build_cache("nuaa", tmp_path, use_gt_boxes=True, progress=False)
