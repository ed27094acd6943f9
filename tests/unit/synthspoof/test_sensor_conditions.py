"""SynthSpoof's harder multi-modal data (MODALITY_VERSION 2): the worn attacks ``mask_partial``,
``mask_flexible`` and ``mask_paper``, and the sensor conditions (misregistration, weak NIR
illumination, depth dropouts); and that none of it touches the default dataset. About 10 s."""

from __future__ import annotations

import dataclasses
import hashlib

import cv2
import numpy as np
import pytest

from fas_lib.synthspoof import ALL_ATTACK_TYPES, SynthConfig, config_hash
from fas_lib.synthspoof import video as video_module
from fas_lib.synthspoof.camera import noise_bank
from fas_lib.synthspoof.dataset import plan_jobs
from fas_lib.synthspoof.factors import FLEX_MASKS, MASKS, PRINTERS, by_name
from fas_lib.synthspoof.mask import (
    PARTS,
    WORN_ATTACKS,
    cut_cover,
    face_cover,
    mask_subject,
    paper_mask,
    paper_sheet,
    worn_subject,
)
from fas_lib.synthspoof.render import make_world
from fas_lib.synthspoof.sensors import (
    NIR_MAX_GAIN,
    NIR_POWER,
    SensorConditions,
    draw_conditions,
    dropouts,
    exposure_gain,
    facing,
    head_nir,
    ir_frames,
    misregister,
)
from fas_lib.synthspoof.sources import subject_sources, user_sources
from fas_lib.synthspoof.subjects import make_subjects
from fas_lib.synthspoof.video import render_video

#: ``config_hash(SynthConfig())`` of SynthSpoof 4.0 (the sensor conditions and the worn attacks,
#: written under 3.0, left it as it was): the default dataset keeps its hash.
DEFAULT_HASH = "0600b3e210"
#: The same for :data:`SMALL` (no modalities, the default attack types).
SMALL_HASH = "41a0fd8080"
SMALL = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1",), live_per_session=1)
#: SHA-1 (first 16 hex digits) of the RGB frames of subject 0's videos of :data:`SMALL`, and of
#: a multi-modal config's (:data:`MM`) default attack types, computed with SynthSpoof 4.0's
#: renderer (the sensor conditions, added under 3.0, changed none of 3.0's): the default data
#: renders byte-identical, and a video's RGB frames do not depend on its sensor conditions
#: (their generator is their own).
SMALL_RGB = {"s000_s1_live1": "19facf45a500e7b7", "s000_s1_print_flat": "abdd766da712c577",
             "s000_s1_replay_phone": "2f85fc17fe4a0507"}
MM = SynthConfig(n_subjects=3, frames_per_video=2, sessions=("s1",), live_per_session=1,
                 attack_types=ALL_ATTACK_TYPES, modalities=("depth", "nir"))
MM_RGB = {"s000_s1_live1": "389f0896edccae1c", "s000_s1_print_flat": "83d7ad67765742fd",
          "s000_s1_mask": "bd52d08932e256f7"}
NEW = ("mask_partial", "mask_flexible", "mask_paper")


def _sha(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


@pytest.fixture(scope="module")
def subject():
    return make_subjects(3, 0, subject_sources(user_sources(None)[0]), indices=[0])[0]


def _render(cfg, subject, video_id, modalities=None):
    job = next(j for j in plan_jobs(cfg) if j.video_id == video_id)
    world = make_world(subject, cfg.width, cfg.height, job.session)
    return render_video(job, subject, world, cfg.width, cfg.height, cfg.frames_per_video,
                        cfg.seed, noise_bank(cfg.seed, cfg.height, cfg.width),
                        tuple(cfg.modalities if modalities is None else modalities))


@pytest.fixture(scope="module")
def mm_videos(subject):
    return {k: _render(MM, subject, f"s000_s1_{'live1' if k == 'live' else k}")
            for k in ("live", "mask", *NEW)}


# -- the default dataset is untouched ------------------------------------------------------------


def test_default_hash_pinned():
    assert config_hash(SynthConfig()) == DEFAULT_HASH
    assert config_hash(SMALL) == SMALL_HASH


def test_default_rgb_frames_render_identically(subject):
    for vid, digest in SMALL_RGB.items():
        res = _render(SMALL, subject, vid)
        assert res.depth is None and res.nir is None
        assert not {"nir_power", "depth_dropout", "ir_warp"} & set(res.gt), vid
        assert _sha(res.frames) == digest, vid


def test_sensor_conditions_leave_rgb_alone(subject, mm_videos):
    assert _sha(mm_videos["live"].frames) == MM_RGB["s000_s1_live1"]
    assert _sha(mm_videos["mask"].frames) == MM_RGB["s000_s1_mask"]  # the rigid mask unchanged
    res = _render(MM, subject, "s000_s1_print_flat")
    assert _sha(res.frames) == MM_RGB["s000_s1_print_flat"]


# -- the new worn attacks ----------------------------------------------------------------------


def test_new_attack_types_render(mm_videos):
    for kind in NEW:
        r = mm_videos[kind]
        assert r.frames.shape == (2, 480, 640, 3) and r.frames.dtype == np.uint8
        assert r.depth.shape == r.nir.shape == (2, 480, 640)
        assert r.depth.dtype == r.nir.dtype == np.uint8
        assert str(r.gt["attack_type"]) == kind and int(r.gt["label"]) == 0
        x0, y0, x1, y1 = r.gt["face_box"][1].astype(int)
        face = r.depth[1][y0:y1, x0:x1]
        assert (face > 0).mean() > 0.5 and face[face > 0].mean() > 100  # near, mostly measured
        assert 20 < r.nir[1][y0:y1, x0:x1].mean() < 250, kind


def test_new_attack_types_are_deterministic(subject, mm_videos):
    again = _render(MM, subject, "s000_s1_mask_paper")
    first = mm_videos["mask_paper"]
    for a, b in ((again.frames, first.frames), (again.depth, first.depth),
                 (again.nir, first.nir)):
        np.testing.assert_array_equal(a, b)


def _aux(s):
    """The sprite's [relief, skin, alpha, mask NIR] as :func:`head_nir` reads them."""
    nir = s.nir if s.nir is not None else np.zeros_like(s.skin)
    return np.dstack([s.relief, s.skin, s.sprites["open"][..., 3], nir])


def _sprite_nir(s):
    gray = cv2.cvtColor(s.sprites["open"][..., :3], cv2.COLOR_RGB2GRAY).astype(np.float32)
    return head_nir(gray, _aux(s), 0.9 * s.iod / 68.0, 1.0, 30.0)


def test_partial_mask_leaves_the_other_half_skin(subject):
    lm, iod = subject.landmarks["open"], subject.iod
    region, _ = face_cover(lm, subject.relief.shape, iod)
    live_nir = _sprite_nir(subject)
    for part in PARTS:
        worn = mask_subject(subject, MASKS[0], np.random.default_rng(0), part=part)
        kept = cut_cover(region, lm, iod, part) > 0
        free = (region > 0) & ~kept
        free &= cv2.erode(free.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0  # off the edge
        assert kept.sum() > 0.2 * (region > 0).sum() and free.sum() > 0.2 * (region > 0).sum()
        # the free half: the wearer's own relief, skin and NIR (not the mask's)
        np.testing.assert_array_equal(worn.relief[free], subject.relief[free])
        np.testing.assert_array_equal(worn.skin[free], subject.skin[free])
        assert (worn.nir[free] == 0).all() and (worn.nir[kept] > 0).mean() > 0.8
        worn_nir = _sprite_nir(worn)
        np.testing.assert_allclose(worn_nir[free], live_nir[free], atol=1e-3)
        # the covered half: the mask's flat NIR (a quarter of skin's spread or less)
        cover = kept & (worn.nir > 0)
        q = [np.percentile(x[cover], [25, 50, 75]) for x in (worn_nir, live_nir)]
        assert (q[0][2] - q[0][0]) / q[0][1] < 0.5 * (q[1][2] - q[1][0]) / q[1][1], part
    # the upper half leaves the mouth free: the smile is kept; the lower half drops it
    upper = mask_subject(subject, MASKS[0], np.random.default_rng(0), part="upper")
    lower = mask_subject(subject, MASKS[0], np.random.default_rng(0), part="lower")
    assert not np.array_equal(upper.sprites["smile"], upper.sprites["open"])
    np.testing.assert_array_equal(lower.landmarks["smile"], lower.landmarks["open"])
    with pytest.raises(ValueError, match="part"):
        cut_cover(region, lm, iod, "left")


def test_flexible_mask_follows_the_face(subject):
    rng = np.random.default_rng(0)
    rigid = mask_subject(subject, MASKS[0], rng)
    flex = mask_subject(subject, FLEX_MASKS[1], np.random.default_rng(0), flexible=True)
    rel = subject.relief.astype(np.float32)
    on = (flex.nir > 0) & (rigid.nir > 0)
    off = {k: s.relief[on].astype(np.float32) - rel[on] for k, s in (("rigid", rigid),
                                                                       ("flex", flex))}
    assert off["flex"].std() < 0.5 * off["rigid"].std(), off  # follows the face's shape ...
    assert abs(np.median(off["flex"]) - FLEX_MASKS[1].thickness) <= 1.0  # ... its thickness
    scatter = round(255 * FLEX_MASKS[1].scatter)
    assert (flex.skin[flex.nir > 0] == scatter).all() and (rigid.skin[rigid.nir > 0] == 0).all()
    assert (flex.nir > 0).sum() > (rigid.nir > 0).sum()  # reaches past the jaw
    assert not np.array_equal(flex.sprites["smile"], flex.sprites["open"])  # expression kept
    # in NIR the translucent mask lies between the opaque one and skin (its spread)
    spread = {}
    for k, s in (("live", subject), ("rigid", rigid), ("flex", flex)):
        x = _sprite_nir(s)[on]
        q25, q50, q75 = np.percentile(x, [25, 50, 75])
        spread[k] = (q75 - q25) / q50
    assert spread["rigid"] < spread["flex"] < 1.5 * spread["live"], spread


def test_paper_mask_is_a_bent_sheet_at_a_lower_relief(subject):
    lm, iod = subject.landmarks["open"], subject.iod
    region, holes = face_cover(lm, subject.relief.shape, iod)
    rel = subject.relief.astype(np.float32)
    sheet = paper_sheet(rel, region, lm, np.random.default_rng(3))
    free = sheet > rel + 2.0  # where it does not rest on the face, a function of x alone
    cols = np.flatnonzero(free.all(axis=0) & (region > 0).any(axis=0))
    assert len(cols) > 10
    assert np.ptp(sheet[:, cols], axis=0).max() == 0
    assert (sheet >= rel + 2.0 - 1e-4).all()  # never below the face
    worn = paper_mask(subject, PRINTERS[0], np.random.default_rng(3), residual=0.3)
    on = (region > 0) & (holes == 0)
    lo, hi = np.percentile(worn.relief[on], [5, 95]), np.percentile(subject.relief[on], [5, 95])
    assert 0 < lo[1] - lo[0] < hi[1] - hi[0]  # face-like, lower relief
    paper = 0.9 * float(np.mean(PRINTERS[0].paper))
    assert (worn.nir[on] > 0).all() and worn.nir[on].max() <= paper + 1
    assert (worn.skin[on] == 0).all()
    np.testing.assert_array_equal(worn.landmarks["smile"], worn.landmarks["open"])  # rigid


def test_worn_subject_dispatch(subject):
    for kind in WORN_ATTACKS:
        inst = {"mask": "m1", "mask_partial": "m2", "mask_flexible": "f3", "mask_paper": "p2"}
        s, gloss = worn_subject(kind, inst[kind], "c3", subject, np.random.default_rng(0), 69.0)
        assert s.nir is not None and s.nir.shape == subject.skin.shape and gloss >= 0
    assert by_name("f2") is FLEX_MASKS[1]
    with pytest.raises(ValueError, match="worn"):
        worn_subject("print_flat", "p1", "c3", subject, np.random.default_rng(0), 69.0)


# -- the sensor conditions ---------------------------------------------------------------------


def test_conditions_are_drawn_per_device_and_video():
    a, b = draw_conditions(0, 5, "c2", "s1"), draw_conditions(0, 5, "c2", "s1")
    assert a == b and a.rng is not b.rng
    c = draw_conditions(0, 6, "c2", "s1")
    assert c.warp[1:] == a.warp[1:] and c.warp[0] != a.warp[0]  # one device, its own parallax
    assert draw_conditions(0, 5, "c4", "s1").warp[1:] != a.warp[1:]
    many = [draw_conditions(0, i, "c1", s) for i in range(200) for s in ("s1", "s3")]
    power = np.array([m.nir_power for m in many])
    assert NIR_POWER[0] <= power.min() and power.max() <= NIR_POWER[1]
    assert 0.3 < np.mean(power < 0.5) < 0.7  # log-uniform: about half below 0.5
    sun = np.array([m.dropout for m in many[1::2]])
    assert sun.min() > np.array([m.dropout for m in many[0::2]]).max() - 0.06
    assert exposure_gain(1.0) == 1.0 and exposure_gain(0.2) == NIR_MAX_GAIN


def test_misregister_moves_content_by_the_warp():
    img = np.zeros((120, 160), np.float32)
    img[50:60, 90:100] = 200.0
    c0 = np.array([94.5, 54.5])
    for warp in ((3.0, -2.0, 0.0, 0.0), (-1.5, 2.5, 2.0, 0.03)):
        out = misregister(img, warp)
        yy, xx = np.nonzero(out > 100)
        dx, dy, roll, ls = warp
        m = cv2.getRotationMatrix2D((80.0, 60.0), roll, float(np.exp(ls)))
        expect = m[:, :2] @ c0 + m[:, 2] + (dx, dy)
        np.testing.assert_allclose([xx.mean(), yy.mean()], expect, atol=0.3)
    depth = misregister(img, (2.0, 0.0, 0.0, 0.0), nearest=True)
    assert set(np.unique(depth)) <= {0.0, 200.0}  # no mixing across a depth edge


def _forced(monkeypatch, **fields):
    real = draw_conditions

    def fake(*args, **kw):
        return dataclasses.replace(real(*args, **kw), **fields)
    monkeypatch.setattr(video_module, "draw_conditions", fake)


def test_rendered_ir_frames_are_shifted_by_the_drawn_warp(subject, mm_videos, monkeypatch):
    drawn = mm_videos["live"]
    warp = tuple(float(v) for v in drawn.gt["ir_warp"])
    _forced(monkeypatch, warp=(0.0, 0.0, 0.0, 0.0))
    aligned = _render(MM, subject, "s000_s1_live1")
    np.testing.assert_array_equal(aligned.frames, drawn.frames)
    x0, y0, x1, y1 = drawn.gt["face_box"][1].astype(int)
    win = (slice(y0 - 10, y1 + 10), slice(x0 - 10, x1 + 10))
    a, b = (np.float32(v.nir[1][win]) for v in (aligned, drawn))
    # ECC translation (phase correlation of these windows is biased toward zero by a few
    # tenths of a pixel: flat walls, and rotation and scale change the shift across the window)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-6)
    _, m_ecc = cv2.findTransformECC(a, b, np.eye(2, 3, dtype=np.float32),
                                    cv2.MOTION_TRANSLATION, crit, None, 5)
    sx, sy = m_ecc[:, 2]
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    m = cv2.getRotationMatrix2D((320.0, 240.0), warp[2], float(np.exp(warp[3])))
    expect = m[:, :2] @ centre + m[:, 2] + warp[:2] - centre
    assert abs(warp[0]) + abs(warp[1]) > 1.0, warp  # the fixture's draw moves it visibly
    np.testing.assert_allclose([sx, sy], expect, atol=0.75)


def _face_snr(nir: np.ndarray, box: np.ndarray) -> float:
    """Mean NIR of the face over its pixel noise (the residual of a 2-pixel blur)."""
    x0, y0, x1, y1 = box.astype(int)
    w, h = x1 - x0, y1 - y0
    f = nir[y0 + h // 4:y1 - h // 4, x0 + w // 4:x1 - w // 4].astype(np.float32)
    return float(f.mean() / (f - cv2.GaussianBlur(f, (0, 0), 2.0)).std())


def test_weak_nir_illumination_lowers_the_face_snr(subject, monkeypatch):
    snr = {}
    for power in (1.0, 0.25):
        _forced(monkeypatch, nir_power=power, dropout=0.0)
        r = _render(MM, subject, "s000_s1_live1")
        snr[power] = _face_snr(r.nir[1], r.gt["face_box"][1])
    assert snr[0.25] < 0.6 * snr[1.0], snr
    # the sensor alone: a flat patch (active 150 + ambient 20) at nominal and a quarter power
    bank = noise_bank(0, 120, 160)
    cond = draw_conditions(0, 1, "c1", "s1")
    out = {}
    for power in (1.0, 0.25):
        c = dataclasses.replace(cond, nir_power=power, dropout=0.0,
                                warp=(0.0, 0.0, 0.0, 0.0), rng=np.random.default_rng(0))
        _, n = ir_frames(np.full((120, 160), 150.0), np.full((120, 160), 150.0 * power + 20),
                         np.random.default_rng(0), bank, cond=c)
        p = n[20:-20, 20:-20].astype(np.float64)
        out[power] = p.mean() / p.std()
    assert out[0.25] < 0.5 * out[1.0], out


def test_depth_dropouts():
    cond = SensorConditions(1.0, 0.1, (0.0, 0.0, 0.0, 0.0), np.random.default_rng(0))
    bright = np.full((240, 320), 150.0, np.float32)
    share = dropouts(cond, bright).mean()
    assert 0.07 < share < 0.13, share  # the blobs, nothing else on a bright, smooth surface
    lost = dropouts(dataclasses.replace(cond, dropout=0.0), np.full((240, 320), 7.5))
    assert 0.65 < lost.mean() < 0.85  # a weak return (a quarter of WEAK_RETURN): 75 % lost
    spot = bright.copy()
    spot[100:104, 100:104] = 255.0  # a specular highlight
    lost = dropouts(dataclasses.replace(cond, dropout=0.0), spot)
    assert lost[100:104, 100:104].any() and not lost[:80].any()
    # in a rendered frame: holes in the depth map where the conditions drop the pattern
    depth = np.full((240, 320), 140.0, np.float32)
    d, _ = ir_frames(depth, bright, np.random.default_rng(1), noise_bank(0, 240, 320), cond=cond)
    assert 0.07 < (d == 0).mean() < 0.14


def test_conditions_in_the_ground_truth(mm_videos):
    for kind, r in mm_videos.items():
        assert NIR_POWER[0] <= float(r.gt["nir_power"]) <= NIR_POWER[1], kind
        assert 0.0 <= float(r.gt["depth_dropout"]) < 0.2
        assert r.gt["ir_warp"].shape == (4,) and np.isfinite(r.gt["ir_warp"]).all()
    facing_flat = facing(np.zeros((8, 8), np.uint8), 1.0)
    assert np.allclose(facing_flat, 1.0)
