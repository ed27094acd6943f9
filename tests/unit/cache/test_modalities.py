"""Depth and NIR in the crop cache (fas_lib.cache.modalities, build_cache(modalities=...)).

Fixtures: ``synth_mod``, a SynthSpoof of 3 subjects x (live, print_flat) x 2 frames generated
with depth and NIR (6 videos), and its cache ``mod_cache``; ``marker``, a generic-CSV dataset
made of two of its frames as PNG images (lossless) plus one MJPG video row, in which a magenta
square is drawn in the RGB frame and a bright square at the same pixels of the depth frame; the
NIR image is the RGB frame's red channel, so its crops must equal the RGB crops' red channel
byte for byte when the geometry is the same.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fas_lib import CROP_SIZE, SCALES
from fas_lib.cache.build import build_cache, cache_params, default_cache_dir, skip_report
from fas_lib.cache.loader import modality_batch
from fas_lib.cache.modalities import check_modalities
from fas_lib.cache.shards import BuildInterrupted
from fas_lib.synthspoof import SynthConfig, generate
from fas_lib.synthspoof.reader import SynthSpoofReader

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))  # repository root, for tests.fakes
from tests import fakes  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_data_dir")

SPLITS = ("train", "dev", "test")
HALF = 3  # the marker is a 7 x 7 square centred on the nose base


def build(dataset: str, root: Path, out: Path, **kw):
    return build_cache(dataset, root, out=out, progress=False, **{"workers": 1, **kw})


@pytest.fixture(scope="module")
def synth_mod(tmp_path_factory) -> Path:
    config = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1",), live_per_session=1,
                         attack_types=("print_flat",), modalities=("depth", "nir"))
    return generate(config, root=tmp_path_factory.mktemp("synth_mod") / "ss", workers=1,
                    progress=False).root


@pytest.fixture(scope="module")
def mod_cache(synth_mod, tmp_path_factory):
    return build("synthspoof", synth_mod, tmp_path_factory.mktemp("mc") / "cache", n_frames=2,
                 modalities=("depth", "nir"))


def _marked(frame: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RGB with a magenta square, depth with a 200 square on 0, NIR = the RGB red channel)."""
    x, y = (int(round(v)) for v in centre)
    rgb = frame.copy()
    rgb[y - HALF:y + HALF + 1, x - HALF:x + HALF + 1] = (255, 0, 255)
    depth = np.zeros(frame.shape[:2], np.uint8)
    depth[y - HALF:y + HALF + 1, x - HALF:x + HALF + 1] = 200
    return rgb, depth, np.ascontiguousarray(rgb[..., 0])


def _write_png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), bgr)


def _write_avi(path: Path, frames: list[np.ndarray]) -> None:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (w, h))
    for f in frames:
        vw.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR) if f.ndim == 3 else
                 cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    vw.release()


@pytest.fixture(scope="module")
def marker(synth_mod, tmp_path_factory) -> Path:
    """The marker dataset: rows img0, img1 (PNG) and vid (2-frame MJPG videos), all train."""
    reader = SynthSpoofReader(synth_mod)
    live = [v for v in reader.video_ids if "live" in v][:2]
    root = tmp_path_factory.mktemp("marker")
    lines = ["path,label,split,subject,depth_path,ir_path"]
    video = {"rgb": [], "depth": [], "nir": []}
    for i, vid in enumerate(live):
        frames, gt = reader.read_frames(vid), reader.load_gt(vid)
        for t in range(2):
            rgb, depth, nir = _marked(frames[t], gt["landmarks5"][t][4])
            if i == 0:
                for name, img in zip(video, (rgb, depth, nir), strict=True):
                    video[name].append(img)
            if t == 0:
                for name, img in (("rgb", rgb), ("depth", depth), ("nir", nir)):
                    _write_png(root / name / f"img{i}.png", img)
                lines.append(f"rgb/img{i}.png,1,train,s{i},depth/img{i}.png,nir/img{i}.png")
    for name, frames in video.items():
        _write_avi(root / name / "vid.avi", frames)
    lines.append("rgb/vid.avi,1,train,s9,depth/vid.avi,nir/vid.avi")
    fakes.write_lines(root / "protocol.csv", lines)
    return root


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    assert len(xs) >= 4, "marker not found in the crop"
    return np.array([xs.mean(), ys.mean()])


# ----------------------------------------------------------------------------- alignment
def test_marker_lands_on_the_same_crop_pixel_in_every_modality(marker, tmp_path):
    cache = build("csv", marker, tmp_path / "c", n_frames=2, modalities=("depth", "nir"))
    frames = cache.frames("train")
    assert sorted(frames["path"].tolist()) == ["rgb/img0.png", "rgb/img1.png", "rgb/vid.avi",
                                               "rgb/vid.avi"]
    crops, depth, nir = (cache.crops("train"), cache.array("depth", "train"),
                         cache.array("nir", "train"))
    assert depth.shape == nir.shape == (4, len(SCALES), CROP_SIZE, CROP_SIZE)
    assert depth.dtype == nir.dtype == np.uint8
    for i, path in enumerate(frames["path"]):
        lossless = path.endswith(".png")
        if lossless:  # same warp, same interpolation: NIR = the RGB crop's red channel exactly
            np.testing.assert_array_equal(nir[i], crops[i][..., 0])
        for s in range(len(SCALES)):
            c = crops[i, s].astype(int)
            at_rgb = _centroid((c[..., 0] - c[..., 1] > 120) & (c[..., 2] - c[..., 1] > 120))
            at_depth = _centroid(depth[i, s] > 100)
            assert np.abs(at_rgb - at_depth).max() <= (0.5 if lossless else 1.0), (path, s)
        # the marker is where the face's nose is: inside every crop, near the centre
        assert np.abs(at_rgb - CROP_SIZE / 2).max() < CROP_SIZE / 4


def test_depth_is_nearest_neighbour(marker, tmp_path):
    cache = build("csv", marker, tmp_path / "c", n_frames=1, modalities=("depth",))
    assert cache.modalities == ("depth",)
    assert not (cache.path / "nir_train.npy").exists()
    png = cache.frames("train")["path"].str.endswith(".png").to_numpy()
    assert png.sum() == 2
    # only the values of the (lossless) source image, 0 and 200: holes stay holes
    assert set(np.unique(cache.array("depth", "train")[png]).tolist()) == {0, 200}


# ----------------------------------------------------------------------------- RGB unchanged
def test_default_params_and_rgb_crops_unchanged(synth_mod, mod_cache, tmp_path):
    old = {"scales": [float(s) for s in SCALES], "crop_size": 128, "every": None,
           "n_frames": 4, "landmarks": "5", "detector": "hog", "use_gt_boxes": False,
           "max_videos_per_group": None, "cache_version": "1"}
    assert cache_params(SCALES, CROP_SIZE, None, 4, False, None) == old
    assert cache_params(SCALES, CROP_SIZE, None, 4, False, None, modalities=()) == old
    root = Path("/data/x")
    assert (default_cache_dir("d", "p", None, root, old)
            != default_cache_dir("d", "p", None, root, {**old, "modalities": ["depth"]}))
    rgb = build("synthspoof", synth_mod, tmp_path / "rgb", n_frames=2)
    assert rgb.modalities == () and "modalities" not in rgb.manifest["params"]
    assert mod_cache.modalities == ("depth", "nir")
    for split in SPLITS:
        for name in ("crops", "landmarks", "boxes", "pad"):
            a, b = (rgb.path / f"{name}_{split}.npy", mod_cache.path / f"{name}_{split}.npy")
            assert a.read_bytes() == b.read_bytes(), (name, split)
        n = len(mod_cache.frames(split))
        assert mod_cache.array("depth", split).shape == (n, len(SCALES), CROP_SIZE, CROP_SIZE)
        assert mod_cache.array("nir", split).shape == (n, len(SCALES), CROP_SIZE, CROP_SIZE)
    assert (rgb.path / "table.csv").read_bytes() == (mod_cache.path / "table.csv").read_bytes()
    # the live frames' depth crops see a head (values above the background), not only zeros
    live = mod_cache.frames("train")["attack_type"].to_numpy() == "live"
    assert mod_cache.array("depth", "train")[live].max() > 0


def test_resume_with_modalities_is_identical(synth_mod, mod_cache, tmp_path):
    out = tmp_path / "cache"
    with pytest.raises(BuildInterrupted):
        build("synthspoof", synth_mod, out, n_frames=2, modalities=("nir", "depth"), _stop_after=2)
    assert len(list((out / "shards").glob("*.npz"))) == 2
    resumed = build("synthspoof", synth_mod, out, n_frames=2, modalities=("depth", "nir"))
    assert resumed.manifest["n_videos_processed_this_run"] == 4
    for split in SPLITS:
        for name in ("crops", "depth", "nir", "landmarks"):
            a, b = (resumed.path / f"{name}_{split}.npy", mod_cache.path / f"{name}_{split}.npy")
            assert a.read_bytes() == b.read_bytes(), (name, split)


# ----------------------------------------------------------------------------- skips
def test_missing_and_corrupt_modality_files_are_counted_skips(marker, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(marker, root)
    (root / "depth" / "img0.png").write_bytes(fakes.CORRUPT_BYTES)  # corrupt
    _write_png(root / "depth" / "img1.png", np.zeros((10, 10), np.uint8))  # of another size
    (root / "nir" / "vid.avi").unlink()  # listed but absent: the adapter drops the row
    shutil.copy(marker / "rgb" / "img0.png", root / "rgb" / "img2.png")
    shutil.copy(marker / "depth" / "img0.png", root / "depth" / "img2.png")
    lines = (root / "protocol.csv").read_text().splitlines()
    fakes.write_lines(root / "protocol.csv",
                      [*lines, "rgb/img2.png,1,train,s2,depth/img2.png,"])  # no NIR listed
    cache = build("csv", root, tmp_path / "c", n_frames=2, modalities=("depth", "nir"))
    m = cache.manifest
    assert m["skips"]["media"] == {"modality_missing": 1, "modality_unreadable": 2}
    assert m["skips"]["protocol"] == {"listed_missing": 1}
    assert len(cache.table) == 0 and cache.array("depth", "train").shape[0] == 0
    reasons = sorted((s["path"], s["reason"]) for s in m["skipped"])
    assert reasons == [("nir/vid.avi", "listed_missing"), ("rgb/img0.png", "modality_unreadable"),
                       ("rgb/img1.png", "modality_unreadable"),
                       ("rgb/img2.png", "modality_missing")]
    report = skip_report(m)
    assert "1 videos without their depth or NIR file" in report
    assert "2 videos whose depth or NIR file is corrupt" in report
    # the same data without modalities caches every frame: nothing else was wrong
    assert len(build("csv", root, tmp_path / "rgb", n_frames=2).table) == 3


def test_bad_modality_requests_are_clear_errors(reference, synth):
    with pytest.raises(ValueError, match="lists no depth file"):
        build("synthspoof", synth, reference.path.parent / "none", n_frames=2,
              modalities=("depth",))
    for bad in (("ir",), ("depth", "depth"), "depth"):
        with pytest.raises(ValueError, match="modalities"):
            check_modalities(bad)
    assert check_modalities(["NIR", "depth"]) == ("depth", "nir")


# ----------------------------------------------------------------------------- CASIA-SURF
def test_casia_surf_fills_the_arrays_without_detection(tmp_path):
    fake = fakes.build_casia_surf(tmp_path / "surf", n_subjects=1, frames=1, n_val=2)
    cache = build("casia_surf", fake.root, tmp_path / "c", scales=(1.0, 2.0), crop_size=48,
                  modalities=("depth", "nir"))
    assert cache.manifest["params"]["alignment"] == "whole_image"
    n = {s: len(cache.frames(s)) for s in SPLITS}
    assert n == {"train": 4, "dev": 2, "test": 0}  # every image, though dlib finds no face
    assert not cache.manifest["skips"]["media"]
    boxes, lms = cache.boxes("train"), cache.landmarks("train")
    np.testing.assert_array_equal(boxes, np.tile([0, 0, fakes.FRAME_W, fakes.FRAME_H], (4, 1)))
    assert np.isnan(lms).all()
    np.testing.assert_allclose(cache.pad_fraction("train"), np.tile([0.0, 0.75], (4, 1)),
                               atol=1e-6)  # the image is 1/2 of the side at scale 2
    for mod in ("depth", "nir"):
        arr = cache.array(mod, "train")
        assert arr.shape == (4, 2, 48, 48)
        # scale 1: the fake's bright block (rows 6-18 of 24, columns 10-22 of 32) fills the
        # middle of the crop, the darker background its corners
        assert arr[:, 0, 20:28, 20:28].min() > 150 and arr[:, 0, :6, :6].max() < 120
        assert (arr[:, 1, :10] == 0).all()  # scale 2: padding around the image
    # the fake's three images of a sample are one JPEG: the IR crop is the RGB crop in grey
    # (up to the rounding of converting before or after the bilinear warp)
    grey = np.stack([cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in
                     cache.crops("dev").reshape(-1, 48, 48, 3)]).reshape(2, 2, 48, 48)
    assert np.abs(cache.array("nir", "dev").astype(int) - grey).max() <= 2


# ----------------------------------------------------------------------------- loader
def test_modality_batch_contract(mod_cache, reference):
    b = modality_batch(mod_cache, "train", [2, 0], size=112)
    assert set(b) == {"rgb", "depth", "nir", "label", "row"}
    assert b["rgb"].shape == (2, 3, 112, 112) and b["depth"].shape == (2, 1, 112, 112)
    assert b["nir"].shape == (2, 1, 112, 112) and b["rgb"].dtype == torch.float32
    k = SCALES.index(1.0)  # default: the scale nearest 1.0
    d = mod_cache.array("depth", "train")[2, k, 8:120, 8:120].astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(b["depth"][0, 0].numpy(), d, atol=1e-6)
    rgb = mod_cache.crops("train")[0, k, 8:120, 8:120, 1].astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(b["rgb"][1, 1].numpy(), rgb, atol=1e-6)
    labels = mod_cache.frames("train")["label"].to_numpy()
    assert b["label"].tolist() == [labels[2], labels[0]] and b["row"].tolist() == [2, 0]
    full = modality_batch(mod_cache, "train", [1], scale_index=0, modalities=("nir",))
    assert set(full) == {"rgb", "nir", "label", "row"} and full["nir"].shape == (1, 1, 128, 128)
    with pytest.raises(ValueError, match="holds the modalities"):
        modality_batch(reference, "train", [0])
    with pytest.raises(IndexError):
        modality_batch(mod_cache, "train", [len(labels)])


def test_fas_prepare_modalities(marker, tmp_path, capsys):
    from fas_lib.apps.cli import main

    out = tmp_path / "c"
    assert main(["prepare", "--dataset", "csv", "--root", str(marker), "--out", str(out),
                 "--n-frames", "1", "--workers", "1", "--no-progress",
                 "--modalities", "nir", "depth"]) == 0
    assert "128 px crops + depth, nir crops" in capsys.readouterr().out
    assert (out / "depth_train.npy").is_file() and (out / "nir_train.npy").is_file()
    with pytest.raises(SystemExit):
        main(["prepare", "--dataset", "csv", "--root", str(marker), "--modalities", "ir"])
