"""Unit tests of MM-FAS's face-recognition trunk (``trunk="dlib"``) and
:func:`fas_lib.models.init_from_face_recognition`: after the init, the RGB trunk's level maps
equal the dlib port's ``stage1-3`` maps on the same face; the depth / NIR trunks hold the
inflated weights; the sizes of the trunk for several inputs; clear errors. About 3 s on one
thread (the 22 MB ``.dat`` read once)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fas_lib.core.utils import set_seed
from fas_lib.models import (
    MMFAS,
    TRUNK_WIDTHS,
    MMFASConfig,
    build_mmfas,
    dlib_trunk_config,
    dlib_trunk_sides,
    embed_with_features,
    init_from_face_recognition,
    load_face_recognition_net,
    mmfas_dummy_input,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def net():
    return load_face_recognition_net()


def course_input(chips: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> the course's (N, 3, H, W) input in [-1, 1] (loader.to_float)."""
    return torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def test_rgb_trunk_reproduces_the_ports_feature_maps(net):
    rng = np.random.default_rng(0)
    chips = rng.integers(0, 256, (2, 150, 150, 3), dtype=np.uint8)
    model = MMFAS(dlib_trunk_config("cpu", input_size=150))
    assert init_from_face_recognition(model, net) == {
        "rgb": "copied", "depth": "inflated", "nir": "inflated"}
    _, features = embed_with_features(net, chips)
    with torch.no_grad():
        levels = model.trunks["rgb"](course_input(chips))
    for level, name in zip(levels, ("stage1", "stage2", "stage3")):
        assert level.shape == features[name].shape
        err = (level - features[name]).abs().max().item()
        assert err < 1e-4 * features[name].abs().max().item(), (name, err)


def test_depth_and_nir_trunks_are_inflated(net):
    model = MMFAS(dlib_trunk_config("cpu", input_size=64))
    init_from_face_recognition(model, net)
    w_rgb = net.conv.weight.detach()
    for name in ("depth", "nir"):
        trunk = model.trunks[name]
        torch.testing.assert_close(trunk.conv.weight, w_rgb.mean(1, keepdim=True))
        assert trunk.mean.flatten().tolist() == pytest.approx([net.mean.mean().item()])
        torch.testing.assert_close(trunk.stages[2][0].conv1.weight,
                                   net.stages[2][0].conv1.weight)
    # a grey face (v, v, v) gives the RGB stem 3x the response of the inflated one on v,
    # and "sum" inflation makes them equal
    summed = MMFAS(dlib_trunk_config("cpu", input_size=64))
    init_from_face_recognition(summed, net, inflate="sum")
    torch.testing.assert_close(summed.trunks["nir"].conv.weight, 3 * model.trunks["nir"].conv.weight)


def test_random_and_face_recognition_init_differ_only_in_the_trunks(net):
    set_seed(0)
    a = MMFAS(dlib_trunk_config("cpu", input_size=64))
    b = MMFAS(dlib_trunk_config("cpu", input_size=64))
    b.load_state_dict(a.state_dict())
    init_from_face_recognition(b, net)
    sa, sb = a.state_dict(), b.state_dict()
    changed = {k.split(".")[0] for k in sa if not torch.equal(sa[k], sb[k])}
    assert changed == {"trunks"}


@pytest.mark.parametrize("size", [56, 64, 112])
def test_forward_shapes(size):
    cfg = dlib_trunk_config("cpu", input_size=size)
    assert cfg.widths[:4] == TRUNK_WIDTHS
    model = MMFAS(cfg).eval()
    x = mmfas_dummy_input(cfg, batch_size=2)
    with torch.no_grad():
        assert model(x).shape == (2, 2)
        levels = model.levels(x)[0]
    assert tuple(lv.shape[-1] for lv in levels) == dlib_trunk_sides(size)


def test_trunk_sides_match_the_port():
    assert dlib_trunk_sides(150) == (35, 17, 8)  # the port's stage1-3 at 150 x 150


def test_errors(net):
    with pytest.raises(ValueError, match="widths starting"):
        MMFASConfig(trunk="dlib", widths=(8, 16, 24, 32, 64))
    with pytest.raises(ValueError, match="too small"):
        dlib_trunk_config("cpu", input_size=48)
    with pytest.raises(ValueError, match="trunk must be"):
        MMFASConfig(trunk="vgg")
    with pytest.raises(ValueError, match="needs trunk='dlib'"):
        init_from_face_recognition(build_mmfas("cpu"), net)
    with pytest.raises(ValueError, match="inflate"):
        init_from_face_recognition(MMFAS(dlib_trunk_config("cpu")), net, inflate="max")
