"""Unit tests of fas_lib.models.pretrained.face_recognition: the PyTorch port of dlib's
face-recognition ResNet against dlib's own descriptors on the course's two portraits, its shapes,
and clear errors for a missing or corrupt ``.dat`` file.

The network's input is dlib's own chip (``dlib.get_face_chip(img, shape, 150, 0.25)``, the cut
``compute_face_descriptor`` makes), so the comparison isolates the network. About 4 s on one
CPU thread (the 22 MB file read by dlib and, several times, by the port; a few faces embedded).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fas_lib.models import (
    DESCRIPTOR_DIM,
    FEATURE_NAMES,
    DlibModelError,
    DlibReader,
    add_prev,
    default_model_path,
    embed_with_features,
    face_descriptors,
    load_face_recognition_net,
    read_dlib_net,
)
from fas_lib.preprocess.align import ModelFilesNotFound, load_detector, load_shape_predictor
from fas_lib.synthspoof.sources import portrait_files

pytestmark = pytest.mark.usefixtures("one_thread")

TOLERANCE = 1e-3  # the bound on max |port - dlib| per descriptor


@pytest.fixture(scope="module")
def net():
    return load_face_recognition_net()


@pytest.fixture(scope="module")
def dlib_faces() -> dict[str, dict[str, np.ndarray]]:
    """Per portrait: dlib's chip and dlib's descriptors from the image + 5 landmarks and from
    the chip alone (the detector's best-scoring face)."""
    import dlib

    recogniser = dlib.face_recognition_model_v1(str(default_model_path()))
    detector, predictor = load_detector(), load_shape_predictor("5")
    faces = {}
    for name, path in portrait_files().items():
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        boxes, scores, _ = detector.run(rgb, 1)
        shape = predictor(rgb, boxes[int(np.argmax(scores))])
        chip = dlib.get_face_chip(rgb, shape, size=150, padding=0.25)
        faces[name] = {
            "chip": chip,
            "from_image": np.array(recogniser.compute_face_descriptor(rgb, shape)),
            "from_chip": np.array(recogniser.compute_face_descriptor(chip)),
        }
    return faces


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_port_reproduces_dlib_descriptors(net, dlib_faces, name):
    face = dlib_faces[name]
    # dlib's chip-only call cuts nothing more: the chip is exactly what the network saw
    np.testing.assert_array_equal(face["from_chip"], face["from_image"])
    ours = face_descriptors(net, face["chip"])
    assert ours.shape == (1, DESCRIPTOR_DIM)
    error = np.abs(ours[0] - face["from_image"]).max()
    assert error < TOLERANCE, f"{name}: max |port - dlib| = {error:.3g}"


def test_two_people_are_far_apart(net, dlib_faces):
    """dlib's convention: the same person below 0.6; the astronaut is not Grace Hopper."""
    chips = np.stack([f["chip"] for f in dlib_faces.values()])
    a, b = face_descriptors(net, chips)
    assert np.linalg.norm(a - b) > 0.6


def test_embedding_and_feature_shapes(net, dlib_faces):
    chips = np.stack([f["chip"] for f in dlib_faces.values()])
    embedding, features = embed_with_features(net, chips)
    assert embedding.shape == (2, DESCRIPTOR_DIM) and not embedding.requires_grad
    shapes = {name: tuple(t.shape) for name, t in features.items()}
    assert list(shapes) == list(FEATURE_NAMES)
    assert shapes == {"stem": (2, 32, 35, 35), "stage1": (2, 32, 35, 35),
                      "stage2": (2, 64, 17, 17), "stage3": (2, 128, 8, 8),
                      "stage4": (2, 256, 4, 4), "stage5": (2, 256, 2, 2)}
    with pytest.raises(ValueError, match="RGB chips"):
        net.preprocess(np.zeros((2, 150, 150), np.uint8))


def test_file_contents():
    net_file = read_dlib_net(default_model_path())
    kinds = [layer.kind for layer in net_file.layers]
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds[-1] == "fc"
    assert net_file.input_size == (150, 150)
    assert net_file.distance_threshold == pytest.approx(0.6)
    np.testing.assert_allclose(net_file.input_mean, (122.782, 117.001, 104.298), atol=1e-4)


def test_add_prev_zero_fills_the_smaller_tensor():
    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 4, 4, 4), 10.0)
    out = add_prev(a, b)
    assert out.shape == (1, 4, 4, 4)
    assert torch.all(out[:, :2, :3, :3] == 11) and torch.all(out[:, 2:] == 10)
    assert torch.all(out[:, :, 3, :] == 10) and torch.all(out[:, :, :, 3] == 10)


def test_reader_decodes_dlib_integers_and_floats():
    r = DlibReader(b"\x01\x05\x81\x04\x02\x80\x12\x00\x01\x10\x81\x04")
    assert [r.integer(), r.integer(), r.integer(), r.integer()] == [5, -4, 4736, 0]
    assert r.real() == 1.0 and r.at_end()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFilesNotFound, match="not found"):
        load_face_recognition_net(tmp_path / "nothing.dat")
    assert issubclass(ModelFilesNotFound, FileNotFoundError)


@pytest.mark.parametrize("case", ["truncated", "garbage", "other_model"])
def test_corrupt_file_is_a_clear_error(tmp_path, case):
    data = default_model_path().read_bytes()
    content = {
        "truncated": data[: len(data) // 2],
        "garbage": b"\x07not a dlib file" * 10,
        "other_model": (default_model_path().parent
                        / "shape_predictor_5_face_landmarks.dat").read_bytes(),
    }[case]
    path = tmp_path / f"{case}.dat"
    path.write_bytes(content)
    with pytest.raises(DlibModelError, match="corrupt or not dlib's face-recognition"):
        load_face_recognition_net(path)
