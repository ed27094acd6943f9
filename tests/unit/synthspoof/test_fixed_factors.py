"""SynthConfig.fixed_factors: capture factors and margins rendered at one level (issue 21).

The protocol checks plan the default dataset's 960 rows without rendering; the rendering
checks use tiny datasets (3 subjects, one session, one live video and the five attacks,
1 frame of 320 x 240 per video: 18 videos, about 2 s each).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fas_lib.data import shift
from fas_lib.data.protocol import ProtocolError
from fas_lib.synthspoof import (
    FIXABLE_FACTORS,
    SynthConfig,
    border_share,
    config_hash,
    generate,
    protocol_table,
)
from fas_lib.synthspoof.factors import Factors, rendered_factors

pytestmark = pytest.mark.usefixtures("private_data_dir")

#: ``config_hash(SynthConfig())`` of SynthSpoof 4.0 (as test_synthspoof_modalities.py).
DEFAULT_HASH = "0600b3e210"
TINY = SynthConfig(n_subjects=3, frames_per_video=1, width=320, height=240, sessions=("s1",),
                   live_per_session=1)
ROW_KEYS = ["path", "video_id", "subject", "split", "label", "attack_type"]


def _fixed(config: SynthConfig, *factors: str) -> SynthConfig:
    return dataclasses.replace(config, fixed_factors=factors)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(TINY, root=tmp_path_factory.mktemp("tiny") / "ds", workers=1,
                    progress=False)


# -- the config ---------------------------------------------------------------------------


def test_validation_order_and_single_name():
    with pytest.raises(ValueError, match=r"unknown fixed_factors \['light'\].*'session', "
                                         r"'camera', 'instrument', 'margins'"):
        SynthConfig(fixed_factors=("camera", "light"))
    assert SynthConfig(fixed_factors=["margins", "session"]).fixed_factors == ("session",
                                                                                "margins")
    assert SynthConfig(fixed_factors="camera").fixed_factors == ("camera",)
    assert FIXABLE_FACTORS == ("session", "camera", "instrument", "margins")


def test_hash_unchanged_without_fixed_factors_and_order_free_with_them():
    assert config_hash(SynthConfig()) == DEFAULT_HASH
    assert config_hash(SynthConfig(fixed_factors=())) == DEFAULT_HASH
    assert "fixed_factors" not in SynthConfig().to_dict()  # manifests of earlier datasets
    hashes = {f: config_hash(SynthConfig(fixed_factors=(f,))) for f in FIXABLE_FACTORS}
    assert len(set(hashes.values()) | {DEFAULT_HASH}) == len(FIXABLE_FACTORS) + 1
    assert (config_hash(SynthConfig(fixed_factors=("margins", "camera")))
            == config_hash(SynthConfig(fixed_factors=("camera", "margins"))))
    assert SynthConfig(fixed_factors=("camera",)).to_dict()["fixed_factors"] == ["camera"]


# -- the protocol ----------------------------------------------------------------------------


@pytest.mark.parametrize("factor", FIXABLE_FACTORS)
def test_protocol_keeps_its_rows_and_names_the_rendered_level(factor):
    base = protocol_table(SynthConfig())
    t = protocol_table(SynthConfig(fixed_factors=(factor,)))
    assert t[ROW_KEYS].equals(base[ROW_KEYS])  # splits, ids and counts unchanged
    free = [c for c in ("session", "camera", "instrument") if c != factor]
    assert t[free].equals(base[free])  # the other factors keep their levels
    live = t.label == 1
    if factor == "session":
        assert set(base.session) == {"s1", "s2", "s3"} and set(t.session) == {"s1"}
    elif factor == "camera":
        assert base.camera.nunique() == 5 and set(t.camera) == {"c5"}
        assert set(t.quality) == {"high"}  # c5's optics
    elif factor == "instrument":
        prints = t.attack_type.str.startswith("print")
        assert set(t.instrument[prints]) == {"p2"} and set(t.instrument[~prints & ~live]) == {
            "d1"}
        assert set(t.instrument[live]) == {""}
    else:
        assert t.equals(base)  # margins are not a protocol column


def test_masks_and_the_one_place_that_decides():
    masks = protocol_table(SynthConfig(n_subjects=3, attack_types=("mask", "print_nir"),
                                       fixed_factors=("instrument",)))
    assert set(masks.instrument[masks.attack_type == "mask"]) == {"m1"}
    assert set(masks.instrument[masks.attack_type == "print_nir"]) == {"p2"}
    planned = Factors("s3", "c2", "d3")
    assert rendered_factors(planned, "replay_screen", ()) == planned
    assert rendered_factors(planned, "replay_screen", FIXABLE_FACTORS) == Factors("s1", "c5",
                                                                                  "d1")
    assert rendered_factors(Factors("s2", "c1", ""), "live", ("instrument",)).instrument == ""


def test_shift_protocols_need_the_factor_a_variant_fixes():
    cams = protocol_table(SynthConfig(fixed_factors=("camera",)))
    assert shift.select(cams, "p1").any()  # sessions still vary
    with pytest.raises(ProtocolError, match="needs at least 3 cameras.*fixed_factors"):
        shift.select(cams, "p3", 1)
    sessions = protocol_table(SynthConfig(fixed_factors=("session",)))
    with pytest.raises(ProtocolError, match="needs at least 3 sessions"):
        shift.select(sessions, "p1")
    assert shift.select(sessions, "standard").all()


# -- rendering -------------------------------------------------------------------------------


def test_fixed_camera_renders_every_video_with_c5(tiny, tmp_path):
    ds = generate(_fixed(TINY, "camera"), root=tmp_path / "cam", workers=1, progress=False)
    assert set(ds.protocol.camera) == {"c5"} and tiny.protocol.camera.nunique() > 1
    same = 0
    for v, cam in zip(tiny.video_ids, tiny.protocol.camera, strict=True):
        assert str(ds.load_gt(v)["camera"]) == "c5"
        equal = np.array_equal(ds.read_frames(v), tiny.read_frames(v))
        assert equal == (cam == "c5"), v  # only the camera changed: c5's videos are identical
        same += equal
    assert 0 < same < len(tiny)


def test_wide_margins_hide_the_medium_from_tight_crops(tiny, tmp_path):
    # one session s2 rendered as s1 (its light and walls), one instrument per family, wide
    # margins: every fixed factor at once on a config without s1
    cfg = _fixed(dataclasses.replace(TINY, sessions=("s2",)), "session", "instrument",
                 "margins")
    ds = generate(cfg, root=tmp_path / "wide", workers=1, progress=False)
    assert set(ds.protocol.session) == {"s1"} and ds.video_ids[0].startswith("s000_s2_")
    assert set(ds.protocol.instrument) == {"", "p2", "d1"}
    wide = border_share([ds.load_gt(v) for v in ds.video_ids])
    drawn = border_share([tiny.load_gt(v) for v in tiny.video_ids])
    assert all(wide[s] == 0 for s in (0.9, 1.0, 1.1, 1.2)), wide
    assert sum(wide.values()) < sum(drawn.values()) and drawn[1.2] > 0, drawn
