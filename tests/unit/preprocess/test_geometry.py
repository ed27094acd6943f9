"""fas_lib.preprocess.geometry: point conversions, the similarity fit, crop matrices, padding,
boxes.

Pure numpy / OpenCV on synthetic points; no dlib and no image.
"""

from __future__ import annotations

import numpy as np
import pytest

from fas_lib.preprocess.geometry import (
    TEMPLATE_5,
    TEMPLATE_PAPER5,
    box_in_crop,
    check_box,
    crop_matrix,
    dlib5_to_alignment_points,
    dlib68_to_dlib5,
    dlib68_to_paper5,
    invert_affine,
    padded_fraction,
    similarity_transform,
)


def _similarity(angle: float, scale: float, t: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, t[0]], [scale * s, scale * c, t[1]]])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def test_templates_are_upright_and_symmetric():
    for t in (TEMPLATE_5, TEMPLATE_PAPER5):
        assert t[0, 1] == t[1, 1]  # eyes level
        assert t[0, 0] + t[1, 0] == pytest.approx(1.0)  # symmetric about x = 0.5
        assert t[2, 0] == 0.5  # nose on the midline
    assert TEMPLATE_PAPER5[3, 1] == TEMPLATE_PAPER5[4, 1]


def test_point_conversions():
    pts68 = np.arange(136, dtype=np.float64).reshape(68, 2)
    five = dlib68_to_dlib5(pts68)
    np.testing.assert_array_equal(five, pts68[[45, 42, 36, 39, 33]])
    # the eye on the image's left is dlib5 points 2 and 3
    np.testing.assert_array_equal(
        dlib5_to_alignment_points(five), [(pts68[36] + pts68[39]) / 2,
                                          (pts68[45] + pts68[42]) / 2, pts68[33]]
    )
    paper = dlib68_to_paper5(pts68)
    np.testing.assert_array_equal(paper[0], pts68[36:42].mean(0))
    np.testing.assert_array_equal(paper[2:], pts68[[30, 48, 54]])


def test_similarity_transform_recovers_a_similarity():
    m = _similarity(0.3, 1.7, (5.0, -2.0))
    src = np.array([[0.0, 0.0], [3.0, 1.0], [1.0, 4.0], [-2.0, 2.5]])
    np.testing.assert_allclose(similarity_transform(src, _apply(m, src)), m, atol=1e-12)
    # a reflection is never fitted: the best rotation keeps det > 0
    fit = similarity_transform(src, src * [-1.0, 1.0])
    assert np.linalg.det(fit[:, :2]) > 0


def test_crop_matrix_maps_the_unit_box_to_the_crop():
    align_m = _similarity(0.1, 0.01, (0.2, 0.1))  # frame -> unit face box
    frame_pts = _apply(invert_affine(align_m), np.array([[0.5, 0.5], [0.0, 0.0], [1.0, 1.0]]))
    at1 = _apply(crop_matrix(align_m, 1.0, 1.0, 128), frame_pts)
    np.testing.assert_allclose(at1, [[64, 64], [0, 0], [128, 128]], atol=1e-9)
    at2 = _apply(crop_matrix(align_m, 2.0, 1.0, 128), frame_pts)
    np.testing.assert_allclose(at2, [[64, 64], [32, 32], [96, 96]], atol=1e-9)
    np.testing.assert_allclose(_apply(invert_affine(align_m), _apply(align_m, frame_pts)),
                               frame_pts, atol=1e-9)


def test_padded_fraction_exact_values():
    # identity crop of a 100 x 100 frame: nothing outside; shifted by half: half outside
    m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    assert padded_fraction(m, 100, 100, 100) == 0.0
    m_shift = np.array([[1.0, 0, 50], [0, 1.0, 0]])
    assert padded_fraction(m_shift, 100, 100, 100) == pytest.approx(0.5, abs=1e-4)


def test_box_in_crop_corners():
    align_m = np.array([[0.01, 0, 0], [0, 0.01, 0]])  # the unit box is frame [0, 100]^2
    corners = box_in_crop(align_m, np.array([0, 0, 100, 100]), 1.0, 128)
    np.testing.assert_allclose(corners, [[0, 0], [128, 0], [128, 128], [0, 128]], atol=1e-9)


@pytest.mark.parametrize("bad", [(10, 10, 5, 20), (1, 2, 3), (0, 0, np.nan, 5), "face"])
def test_bad_box_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="box"):
        check_box(bad)


def test_check_box_returns_float64():
    b = check_box([1, 2, 3, 4])
    assert b.dtype == np.float64 and b.tolist() == [1, 2, 3, 4]
