"""Tests of fas_lib.cache.build: resume after interruption, corrupt shards, skips, face files.

Fixtures are tiny: the SynthSpoof ``synth`` and its ``reference`` cache of tests/conftest.py,
and the miniature fakes of tests/fakes.py (32 x 24 clips in which dlib finds no face, so only
the face-location file gives a crop).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fas_lib.cache.build import build_cache, skip_report
from fas_lib.cache.reader import CacheError, open_cache
from fas_lib.cache.shards import BuildInterrupted
from fas_lib.data.datasets import DatasetLayoutError
from fas_lib.preprocess import geometry

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))  # repository root, for tests.fakes
from tests import fakes  # noqa: E402

ARRAYS = [f"{name}_{split}.npy" for name in ("crops", "landmarks", "boxes", "pad")
          for split in ("train", "dev", "test")]


def build(synth: Path, out: Path, **kw):
    return build_cache("synthspoof", synth, out=out, progress=False,
                       **{"workers": 1, "n_frames": 2, **kw})


def assert_same_cache(a: Path, b: Path) -> None:
    for name in [*ARRAYS, "table.csv"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# ----------------------------------------------------------------------------- reopen
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
    cmd = [sys.executable, "-m", "fas_lib.apps.cli", "prepare", "--dataset", "synthspoof",
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


@pytest.mark.parametrize("scales, match", [
    ((), "positive"), ((1.0, float("nan")), "positive"), ((1.0, float("inf")), "positive"),
    ((0.0, 1.0), "positive"), ((1.0, 2.7, 1.0), "distinct"),
])
def test_bad_scales_refused_before_any_work(tmp_path, scales, match):
    with pytest.raises(ValueError, match=match):
        build_cache("casia_fasd", tmp_path / "nothing", out=tmp_path / "c", scales=scales,
                    progress=False)
    assert not (tmp_path / "c").exists()


# ----------------------------------------------------------------------------- wide context
WIDE = (1.0, 2.0, 2.7, 4.0)  # past the paper's 1.5: other public models crop at 2.7 and 4.0


def test_wide_scales_up_to_4(tmp_path):
    """Crops of the same size at every scale, the face smaller by the scale ratio, more of the
    crop padded; the one face of the CASIA-FASD fake comes from its face-location file."""
    fake = fakes.build_casia_fasd(tmp_path / "CASIA", n_train=1, n_test=1, corrupt=False)
    c = build_cache("casia_fasd", fake.root, out=tmp_path / "cache", n_frames=1, scales=WIDE,
                    workers=1, progress=False)
    assert c.scales == WIDE and c.manifest["params"]["scales"] == list(WIDE)
    crops, pad = c.crops("train"), c.pad_fraction("train")
    assert crops.shape == (1, 4, 128, 128, 3) and crops.dtype == np.uint8 and pad.shape == (1, 4)
    # geometry: the alignment re-derived from the stored landmarks maps the face box into each
    # crop with a side 1 / scale of the scale-1.0 one, and gives the padding the cache stored
    m = geometry.similarity_transform(geometry.dlib5_to_alignment_points(c.landmarks("train")[0]),
                                   geometry.TEMPLATE_5)
    sides = np.array([np.ptp(geometry.box_in_crop(m, c.boxes("train")[0], s, 128), axis=0)
                      for s in WIDE])
    np.testing.assert_allclose(sides * np.array(WIDE)[:, None], sides[[0, 0, 0, 0]], rtol=1e-9)
    expected = [geometry.padded_fraction(geometry.crop_matrix(m, s, 1.0, 128), 128, fakes.FRAME_W,
                                      fakes.FRAME_H) for s in WIDE]
    np.testing.assert_allclose(pad[0], expected, atol=1e-6)
    assert pad[0, 0] < 0.05 and np.all(np.diff(pad[0]) > 0.1) and pad[0, -1] > 0.6
    # pixels: the fake's bright "face" block covers 1 / scale^2 of the scale-1.0 area, and its
    # centre moves towards the crop centre by the same ratio (crops are centred on the face)
    bright = [np.argwhere(crops[0, k].min(axis=-1) > 150) for k in range(len(WIDE))]
    areas = np.array([len(b) for b in bright], dtype=float)
    np.testing.assert_allclose(areas * np.array(WIDE) ** 2, areas[0], rtol=0.05)
    offsets = np.array([b.mean(axis=0) - 63.5 for b in bright])  # (row, col), crop pixels
    assert np.abs(offsets[0]).max() > 3  # off centre at scale 1.0 (about 9 pixels)
    np.testing.assert_allclose(offsets, offsets[[0, 0, 0, 0]] / np.array(WIDE)[:, None],
                               atol=0.75)


def test_a_crop_does_not_depend_on_the_other_scales_cut_with_it(tmp_path):
    """The same frames cut at (1.0,) and at (1.0, 2.7): identical crops at 1.0, identical
    tables and the same data_key, so runs at 1.0 are read back from either cache."""
    from fas_lib.training.runs import data_key

    fake = fakes.build_casia_fasd(tmp_path / "CASIA", n_train=1, n_test=1, corrupt=False)
    one = build_cache("casia_fasd", fake.root, out=tmp_path / "one", n_frames=1, scales=(1.0,),
                      workers=1, progress=False)
    two = build_cache("casia_fasd", fake.root, out=tmp_path / "two", n_frames=1,
                      scales=(1.0, 2.7), workers=1, progress=False)
    for split in ("train", "test"):
        np.testing.assert_array_equal(one.crops(split)[:, 0], two.crops(split)[:, 0])
        pd.testing.assert_frame_equal(one.frames(split), two.frames(split))
    assert data_key(one) == data_key(two)


# ----------------------------------------------------------------------------- detections
def test_a_cache_at_other_scales_reuses_the_detections_of_its_sibling(synth, tmp_path,
                                                                      monkeypatch):
    """A cache of the same frames at other scales aligns on the boxes its finished sibling's
    detector found (no detection runs) and equals, array for array, a cache built with the
    detector; a sibling of other frames is not used; a frame the sibling found no face on is a
    counted no-face skip again."""
    from fas_lib.preprocess.align import FaceAligner

    build(synth, tmp_path / "caches" / "a", scales=(1.0,))
    fresh = build(synth, tmp_path / "alone" / "b", scales=(1.0, 1.3))
    assert fresh.manifest["detections_from"] is None
    calls = []
    real_detect = FaceAligner.detect
    monkeypatch.setattr(FaceAligner, "detect",
                        lambda self, rgb: calls.append(1) or real_detect(self, rgb))
    reused = build(synth, tmp_path / "caches" / "b", scales=(1.0, 1.3))
    assert calls == [] and reused.manifest["detections_from"] == "a"
    assert_same_cache(reused.path, fresh.path)
    assert reused.manifest["skipped"] == fresh.manifest["skipped"]
    other = build(synth, tmp_path / "caches" / "c", scales=(1.3,), n_frames=3)  # other frames
    assert len(calls) == len(other.table) and other.manifest["detections_from"] is None

    # the sibling "found no face" on one frame: that frame is skipped and counted, not detected
    calls.clear()
    m_file = tmp_path / "caches" / "a" / "manifest.json"
    manifest = json.loads(m_file.read_text())
    first = open_cache(tmp_path / "caches" / "a").frames("train").iloc[0]
    manifest["skipped"].append({"path": first["path"], "reason": "no_face", "count": 1,
                                "stage": "media", "frames": [int(first["frame_idx"])]})
    m_file.write_text(json.dumps(manifest))
    less = build(synth, tmp_path / "caches" / "d", scales=(1.1,))
    assert calls == [] and len(less.table) == len(fresh.table) - 1
    assert less.manifest["skips"]["media"]["no_face"] == (
        fresh.manifest["skips"]["media"].get("no_face", 0) + 1)


def test_a_face_location_file_comes_before_the_sibling_detections(tmp_path):
    """With a sibling cache beside it, a dataset's face-location files are still read (and
    counted) where they exist; the sibling's boxes stand in for the detector only: the same
    frames, boxes and skips as the sibling's."""
    fake = fakes.build_casia_fasd(tmp_path / "CASIA", n_train=2, n_test=1)
    first = build_cache("casia_fasd", fake.root, out=tmp_path / "caches" / "a", n_frames=4,
                        workers=1, progress=False)
    second = build_cache("casia_fasd", fake.root, out=tmp_path / "caches" / "b", n_frames=4,
                         scales=(1.0, 2.0), workers=1, progress=False)
    assert second.manifest["detections_from"] == "a"
    assert second.manifest["counts"] == first.manifest["counts"]
    assert second.manifest["counts"]["face_location_files"] == 1
    assert second.manifest["skips"] == first.manifest["skips"]
    pd.testing.assert_frame_equal(second.table, first.table)
    np.testing.assert_array_equal(second.boxes("train"), first.boxes("train"))
