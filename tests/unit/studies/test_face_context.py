"""Unit tests of fas_lib.studies.face_context: face-only and context-only crops, their cache view
and the study that trains one network per scale and part (on the session's tiny SynthSpoof cache,
3 x 10 tiny epochs, a few seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fas_lib.studies.face_context import (
    GREY,
    MaskedCropCache,
    face_context_study,
    face_context_table,
    face_side,
    mask_crops,
)
from fas_lib.training.runs import data_key

pytestmark = pytest.mark.usefixtures("one_thread", "private_data_dir")


def test_face_side_is_the_scale_one_crop():
    assert face_side(1.0, 128) == 128
    assert face_side(0.9, 128) == 128  # a tight crop is all face
    assert face_side(2.0, 128) == 64
    assert face_side(1.4, 128) == 91
    with pytest.raises(ValueError, match="positive"):
        face_side(0.0, 128)


def _crops(n=3, scales=(1.0, 2.0), size=16):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, len(scales), size, size, 3), dtype=np.uint8), scales


def test_mask_crops_keeps_exactly_one_part():
    crops, scales = _crops()
    face = mask_crops(crops, scales, "face")
    context = mask_crops(crops, scales, "context")
    inner = (slice(None), 1, slice(4, 12), slice(4, 12))  # scale 2.0: the centre 8 x 8
    np.testing.assert_array_equal(face[inner], crops[inner])
    assert (context[inner] == GREY).all()
    ring = np.ones((16, 16), bool)
    ring[4:12, 4:12] = False
    assert (face[:, 1][:, ring] == GREY).all()
    np.testing.assert_array_equal(context[:, 1][:, ring], crops[:, 1][:, ring])
    np.testing.assert_array_equal(face[:, 0], crops[:, 0])  # scale 1.0: all face
    assert (context[:, 0] == GREY).all()  # ... and no context
    assert face.dtype == crops.dtype and crops.max() > GREY  # the input is left alone


def test_mask_crops_rejects_bad_input():
    crops, scales = _crops()
    with pytest.raises(ValueError, match="keep"):
        mask_crops(crops, scales, "hair")
    with pytest.raises(ValueError, match=r"\(N, 3, H, W, C\)"):
        mask_crops(crops, (1.0, 1.5, 2.0), "face")


def test_masked_cache_masks_crops_only_and_gets_its_own_data_key(reference):
    face = MaskedCropCache(reference.path, "face")
    context = MaskedCropCache(reference.path, "context")
    crops = reference.crops("test")
    np.testing.assert_array_equal(face.crops("test"),
                                  mask_crops(crops, reference.scales, "face"))
    np.testing.assert_array_equal(face.landmarks("test"), reference.landmarks("test"))
    pd.testing.assert_frame_equal(face.frames("test"), reference.frames("test"))
    keys = {data_key(reference), data_key(face), data_key(context)}
    assert len(keys) == 3
    with pytest.raises(ValueError, match="keep"):
        MaskedCropCache(reference.path, "all")


def test_study_trains_each_part_once_and_reads_runs_back(reference, tmp_path):
    scales = [s for s in reference.scales if s > 1.0][:1] + [1.0]
    study = face_context_study(reference, scales, tmp_path, progress=False)
    assert sorted(zip(study["part"], study["scale"])) == sorted(
        [("full", scales[0]), ("full", 1.0), ("face", scales[0]), ("face", 1.0),
         ("context", scales[0])])
    assert study["test_eer"].between(0, 1).all()
    masked = [p for p in study["run_dir"] if "face_context" in p]
    assert len(masked) == 3 and len(set(study["run_dir"])) == 5
    again = face_context_study(reference, scales, tmp_path, progress=False)
    pd.testing.assert_frame_equal(study, again)  # finished runs are read back, not retrained
    table = face_context_table(study)
    assert list(table.columns) == ["full", "face", "context", "uses"]
    assert set(table["uses"]) <= {"face", "context", "both"}


def test_table_names_the_part_the_full_crop_scores_like():
    study = pd.DataFrame({
        "scale": [1.4] * 3 + [2.0] * 3 + [2.7] * 3,
        "part": ["full", "face", "context"] * 3,
        "test_eer": [0.11, 0.11, 0.14, 0.08, 0.15, 0.08, 0.03, 0.10, 0.09],
        "dev_eer": [0.1] * 9, "run_dir": list("abcdefghi")})
    table = face_context_table(study)
    assert list(table["uses"]) == ["face", "context", "both"]
    assert table.loc[2.0, "context"] == pytest.approx(8.0)
