"""SynthSpoof's depth / NIR physics and its opt-in attacks (mask, NIR-visible print)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fas_lib.data.shift import apply_protocol
from fas_lib.synthspoof import (
    ALL_ATTACK_TYPES,
    ATTACK_TYPES,
    EXTRA_ATTACK_TYPES,
    SynthConfig,
    config_hash,
    generate,
    protocol_table,
    sensor_views,
)
from fas_lib.synthspoof import config as config_module
from fas_lib.synthspoof.factors import instrument_for

#: ``config_hash(SynthConfig())`` of SynthSpoof 4.0 (the opt-in attacks leave it alone).
DEFAULT_HASH = "0600b3e210"
SUBJECTS = ("s000", "s001", "s002")


@pytest.fixture(scope="module")
def mm(tmp_path_factory):
    cfg = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1",), live_per_session=1,
                      attack_types=ALL_ATTACK_TYPES, modalities=("depth", "nir"))
    return generate(cfg, root=tmp_path_factory.mktemp("mm") / "ds", workers=1, progress=False)


def _views(ds, subject):
    return sensor_views(ds, subject, "s1")


def _box(ds, subject, kind, shrink=0.2):  # a negative shrink grows the box
    vid = f"{subject}_s1_{'live1' if kind == 'live' else kind}"
    x0, y0, x1, y1 = ds.load_gt(vid)["face_box"][1]  # the middle frame of 2
    dx, dy = (x1 - x0) * shrink, (y1 - y0) * shrink
    return (slice(max(0, int(y0 + dy)), int(y1 - dy)),
            slice(max(0, int(x0 + dx)), int(x1 - dx)))


def _filled(patch):
    """A depth patch with its holes (0) filled by the mean of their valid neighbours (the
    sensor's dropouts are not the surface's shape)."""
    valid = (patch > 0).astype(np.float32)
    num = cv2.GaussianBlur(patch.astype(np.float32) * valid, (0, 0), 4)
    den = cv2.GaussianBlur(valid, (0, 0), 4)
    return np.where(valid > 0, patch, num / np.maximum(den, 1e-3)).astype(np.float32)


def _plane_residual(patch):
    ok = patch > 0
    yy, xx = np.nonzero(ok)
    a = np.stack([xx, yy, np.ones(len(xx))], 1)
    z = patch[ok].astype(np.float64)
    coef, *_ = np.linalg.lstsq(a, z, rcond=None)
    return float(np.std(z - a @ coef))


def test_default_hash_and_opt_in_types_unchanged():
    assert config_hash(SynthConfig()) == DEFAULT_HASH
    assert SynthConfig().attack_types == ATTACK_TYPES
    assert not set(EXTRA_ATTACK_TYPES) & set(ATTACK_TYPES)
    assert ALL_ATTACK_TYPES == ATTACK_TYPES + ("mask", "print_nir", "mask_partial",
                                               "mask_flexible", "mask_paper")
    with pytest.raises(ValueError, match="attack_types"):
        SynthConfig(attack_types=("mask3d",))


def test_modality_version_only_in_modality_hashes(monkeypatch):
    plain, mm = SynthConfig(n_subjects=3), SynthConfig(n_subjects=3, modalities=("nir",))
    masked = SynthConfig(n_subjects=3, attack_types=("mask",))
    before = [config_hash(c) for c in (plain, mm, masked)]
    monkeypatch.setattr(config_module, "MODALITY_VERSION", "test")
    after = [config_hash(c) for c in (plain, mm, masked)]
    assert after[0] == before[0] and after[1] != before[1] and after[2] != before[2]


def test_protocol_table_and_shift_protocols_with_new_types():
    cfg = SynthConfig(n_subjects=3, frames_per_video=2, live_per_session=1,
                      attack_types=ALL_ATTACK_TYPES)
    t = protocol_table(cfg)
    assert len(t) == 3 * 3 * (1 + 10)
    new = t[t["attack_type"].isin(["mask", "print_nir"])]
    assert len(new) == 2 * 9 and (new["label"] == 0).all()
    assert set(t.loc[t["attack_type"] == "mask", "instrument"]) == {"m1", "m2", "m3"}
    assert set(t.loc[t["attack_type"] == "print_nir", "instrument"]) == {"p1", "p2", "p3"}
    assert instrument_for(0, 0, "mask") == "m3" and instrument_for(1, 0, "mask") == "m1"
    p2 = apply_protocol(t, "p2")
    test_masks = p2[(p2["split"] == "test") & (p2["attack_type"] == "mask")]
    assert set(test_masks["instrument"]) == {"m3"}
    assert set(p2.loc[p2["split"] == "train", "instrument"]) == {"", "p1", "d1", "m1", "f1"}
    for kind, family in (("mask_partial", {"m1", "m2", "m3"}),
                         ("mask_flexible", {"f1", "f2", "f3"}),
                         ("mask_paper", {"p1", "p2", "p3"})):
        assert set(t.loc[t["attack_type"] == kind, "instrument"]) == family, kind
    loao = apply_protocol(t, "loao", "mask")
    assert set(loao.loc[loao["split"] == "test", "attack_type"]) == {"live", "mask"}
    assert "mask" not in set(loao.loc[loao["split"] == "train", "attack_type"])


def test_sensor_views(mm):
    v = _views(mm, "s000")
    assert list(v) == ["live", *ALL_ATTACK_TYPES]
    rgb, depth, nir = v["mask"]
    assert rgb.shape == (480, 640, 3) and depth.shape == nir.shape == (480, 640)
    with pytest.raises(KeyError):
        sensor_views(mm, "s999")


def test_mask_depth_is_face_shaped_print_depth_planar(mm):
    for s in SUBJECTS:
        v = _views(mm, s)
        crops = {}
        for kind in ("live", "mask", "print_flat"):
            patch = v[kind][1][_box(mm, s, kind)].astype(np.float32)
            crops[kind] = patch
        live = cv2.resize(_filled(crops["live"]), (24, 24), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(_filled(crops["mask"]), (24, 24), interpolation=cv2.INTER_AREA)
        corr = np.corrcoef(live.ravel(), mask.ravel())[0, 1]
        assert corr > 0.8, (s, corr)
        assert _plane_residual(crops["mask"]) > 3 * _plane_residual(crops["print_flat"])
        assert _plane_residual(crops["print_flat"]) < 3.0


def test_mask_nir_differs_from_skin(mm):
    for s in SUBJECTS:
        v = _views(mm, s)
        stats = {}
        for kind in ("live", "mask"):
            patch = v[kind][2][_box(mm, s, kind, 0.25)].astype(np.float64)
            q25, q50, q75 = np.percentile(patch, [25, 50, 75])
            stats[kind] = (q75 - q25) / q50  # robust to the eye holes; the falloff scales all
        assert stats["mask"] < 0.5 * stats["live"], (s, stats)


def _face_contrast(ds, nir, subject, kind, grow=0.3):
    """``(p95 - p5) / p95`` of NIR over the face box grown by ``grow`` per side (gain-free):
    skin against hair and background with 0.3, the face's own features with 0."""
    lo, hi = np.percentile(nir[_box(ds, subject, kind, -grow)], [5, 95])
    return float((hi - lo) / hi)


def _detail(nir: np.ndarray) -> float:
    """Spread of NIR detail of a few pixels (a face's eyes, nose and mouth), blind to a smooth
    glare band across a glossy screen and to most of the sensor's pixel noise (which a weak
    illuminator's gain amplifies)."""
    x = nir.astype(np.float32)
    return float((cv2.GaussianBlur(x, (0, 0), 1.5) - cv2.GaussianBlur(x, (0, 0), 6)).std())


def test_screen_nir_shows_no_face_print_nir_does(mm):
    for s in SUBJECTS:
        v = _views(mm, s)
        live = _detail(v["live"][2][_box(mm, s, "live")])
        for k in ("replay_phone", "replay_screen"):
            screen = _detail(v[k][2][_box(mm, s, k)])
            assert screen < 5 and screen < 0.5 * live, (s, k, screen, live)
        c = {k: _face_contrast(mm, v[k][2], s, k) for k in ("live", "print_flat", "print_nir")}
        assert c["print_nir"] > c["print_flat"] + 0.2, (s, c)
        # the face itself alike (what stands behind it differs: a live face has the session's
        # room behind it, a print its paper and another part of the room)
        own = {k: _face_contrast(mm, v[k][2], s, k, grow=0.0) for k in ("live", "print_nir")}
        assert abs(own["print_nir"] - own["live"]) < 0.15, (s, own)


def test_print_nir_contrast_follows_the_ink(mm):
    p = mm.protocol.set_index("video_id")
    for s in SUBJECTS:
        v = _views(mm, s)
        std = {p.loc[f"{s}_s1_{k}", "instrument"]: float(v[k][2][_box(mm, s, k)].std())
               for k in ("print_flat", "print_warped", "print_cut")}
        assert std["p1"] > std["p3"] > std["p2"], (s, std)  # carbon toner > colour laser > dye


def test_depth_sensor_holes_at_grazing_angles_and_dark_hair():
    from fas_lib.synthspoof.camera import noise_bank
    from fas_lib.synthspoof.sensors import depth_frame, nir_gain

    bank = noise_bank(0, 120, 160)
    flat = np.full((120, 160), 120.0, np.float32)
    ramp = flat.copy()
    ramp[:, 80:] = 40 + np.arange(80, dtype=np.float32)[None, :] * 2.5  # slope 2.5 per pixel
    rng = np.random.default_rng(0)
    d_flat, d_ramp = depth_frame(flat, rng, bank), depth_frame(ramp, rng, bank)
    assert (d_flat == 0).mean() == 0.0
    steep = d_ramp[10:-10, 90:-10]
    assert 0.03 < (steep == 0).mean() < 0.1  # P(N(0, 1) > 2.5 - 2.5 / 3) = 4.8 %
    assert (d_ramp[10:-10, 5:70] == 0).mean() == 0.0
    hair = np.zeros((120, 160), bool)
    hair[:60] = True
    d_hair = depth_frame(flat, rng, bank, hair)
    assert 0.55 < (d_hair[:60] == 0).mean() < 0.85 and (d_hair[60:] == 0).mean() == 0.0
    lm = np.zeros((68, 2))
    lm[42:48, 0] = 68.0  # eye centres 68 px apart: the reference distance
    assert nir_gain(lm, 1.0) == pytest.approx(1.0)
    lm[42:48, 0] = 34.0  # twice as far: a quarter of the light
    assert nir_gain(lm, 1.0) == pytest.approx(0.4)  # clipped at 0.4 (0.25 unclipped)
    assert nir_gain(lm, 0.6) == pytest.approx((34 / (68 * 0.6)) ** 2)


def test_fingers_stand_proud_of_prints():
    from fas_lib.synthspoof.media import make_print

    content = np.full((200, 160, 3), 128, np.uint8)
    lm = np.tile(np.array([[80.0, 100.0]]), (68, 1))
    for variant in ("print_flat", "print_warped"):
        m = make_print(content, lm, 120.0, np.random.default_rng(1), variant)
        f = m.extra["fingers"]
        assert f.shape == m.rgba.shape[:2] and f.max() > 200
        assert (m.rgba[..., 3][f > 0] > 0).all()  # fingers only where something is drawn
