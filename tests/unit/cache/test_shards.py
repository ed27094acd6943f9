"""Tests of fas_lib.cache.shards: face-location files read as per-frame boxes."""

from __future__ import annotations

from fas_lib.cache.shards import face_file_boxes


def test_face_file_frame_numbering(tmp_path):
    one = tmp_path / "one.face"
    one.write_text("1 5 4 20 16\n2 0 0 0 0\n")
    assert face_file_boxes(one) == {0: (5.0, 4.0, 25.0, 20.0), 1: None}
    zero = tmp_path / "zero.face"
    zero.write_text("0 1 2 3 4\n1 5 4 20 16\n")
    assert face_file_boxes(zero) == {0: (1.0, 2.0, 4.0, 6.0), 1: (5.0, 4.0, 25.0, 20.0)}
