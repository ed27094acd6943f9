"""SynthSpoof 3: recapture texture at the strength a camera resolves it.

Halftone dots and screen sub-pixels are drawn in texture pixels, but their contrast in the video
is what :func:`fas_lib.synthspoof.camera.residual_modulation` leaves at their real period (a few
tenths of a camera pixel for the course's 640 x 480 videos). Tiny inputs, well under a second.
"""

from __future__ import annotations

import numpy as np
import pytest

from fas_lib.synthspoof import camera as cam
from fas_lib.synthspoof.factors import CAMERAS, DISPLAYS, PRINTERS
from fas_lib.synthspoof.media import IOD_MM, PRINT_SIZE, paper_grain, print_process
from fas_lib.synthspoof.screen import SCREEN_FACE_SIZE, _blurred_mask, _subpixel_stripe
from fas_lib.synthspoof.video import FRAME_IOD_RANGE


def test_residual_modulation_is_the_optics_transfer_with_an_alias_floor():
    # a coarse pattern (8 px period) through a sharp lens keeps most of its contrast ...
    assert cam.residual_modulation(8.0, 0.3, 0.0) > 0.9
    # ... and loses it monotonically as the period shrinks
    periods = [8.0, 4.0, 2.0, 1.5]
    values = [cam.residual_modulation(p, 0.6, 0.0) for p in periods]
    assert all(a > b for a, b in zip(values, values[1:])), values
    # the closed form at one point: exp(-2 pi^2 s^2 f^2) |sinc f|
    f, s = 0.5, 0.6
    assert cam.residual_modulation(1 / f, s, 0.0) == pytest.approx(
        np.exp(-2 * np.pi**2 * s**2 * f**2) * np.sinc(f))
    # far finer than a pixel, only the camera's aliasing floor is left
    assert cam.residual_modulation(0.2, 0.5, 0.07) == pytest.approx(0.07)


def test_real_prints_and_screens_are_finer_than_the_camera():
    """At the course's frame size every printer's dots and every panel's sub-pixels fall far
    below a camera pixel, so what a camera sees of them is its aliasing floor."""
    iod = max(FRAME_IOD_RANGE)  # the largest face: the coarsest period
    for printer in PRINTERS:
        period = 25.4 / printer.lpi * iod / (IOD_MM * min(PRINT_SIZE))
        assert period < 0.5, (printer.name, period)
        for camera in CAMERAS:
            r = cam.residual_modulation(period, camera.optics.blur, camera.alias)
            assert r == pytest.approx(camera.alias), (printer.name, camera.name)
    smallest = min(lo for lo, _ in SCREEN_FACE_SIZE.values())
    for display in DISPLAYS:
        period = 25.4 / display.ppi * iod / (IOD_MM * smallest)
        assert period < 0.6, (display.name, period)
        for camera in CAMERAS:
            r = cam.residual_modulation(period, camera.optics.blur, camera.alias)
            assert r == pytest.approx(camera.alias, abs=1e-3), (display.name, camera.name)


def _grey(h: int = 96, w: int = 96, level: int = 150) -> np.ndarray:
    return np.full((h, w, 3), level, np.uint8)


def test_halftone_contrast_follows_the_residual():
    paper = np.array(PRINTERS[0].paper)
    stds = {}
    for r in (1.0, 0.1, 0.0):
        out = print_process(_grey(), np.random.default_rng(0), paper, PRINTERS[0], residual=r)
        stds[r] = float(out[8:-8, 8:-8].astype(np.float64).std(axis=(0, 1)).mean())
    assert stds[1.0] > 10 * stds[0.0] + 1.0, stds
    assert stds[0.0] < stds[0.1] < stds[1.0], stds
    assert stds[0.0] < 1.0, stds  # a flat tone prints flat without dots


def test_subpixel_mask_keeps_the_residual_share_of_its_contrast():
    rng = np.random.default_rng(1)
    stripe, _ = _subpixel_stripe(rng, DISPLAYS[0])
    full = stripe.max(axis=(0, 1)) - stripe.min(axis=(0, 1))
    for r in (1.0, 0.25, 0.05):
        mask = _blurred_mask(np.random.default_rng(2), stripe, 1.0, 4, 3, residual=r)
        assert mask.shape == (9, 12, 3)
        period = mask[:3, :3].astype(np.float64) / 255
        depth = period.max(axis=(0, 1)) - period.min(axis=(0, 1))
        np.testing.assert_allclose(depth, r * full, atol=2.5 / 255)
        # the mean transmission (the panel's brightness) does not change
        np.testing.assert_allclose(period.mean(axis=(0, 1)), stripe.mean(axis=(0, 1)),
                                   atol=1.5 / 255)


def test_paper_grain_has_the_printers_contrast_and_stays_inside_the_paper():
    tex = np.zeros((120, 160, 4), np.uint8)
    tex[..., :3] = 200
    paper_grain(tex, (20, 10, 140, 110), np.random.default_rng(3), 0.05, face_px=100.0)
    inside = tex[10:110, 20:140, 0].astype(np.float64)
    assert inside.std() / inside.mean() == pytest.approx(0.05, rel=0.35)
    assert (tex[:10, :, :3] == 200).all() and (tex[:, :20, :3] == 200).all()


def test_source_capture_blurs_adds_noise_and_is_seeded():
    rng = np.random.default_rng(4)
    img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    a = cam.source_capture(img, np.random.default_rng(5), (0.8, 0.8), (2.0, 2.0), (90, 90))
    b = cam.source_capture(img, np.random.default_rng(5), (0.8, 0.8), (2.0, 2.0), (90, 90))
    np.testing.assert_array_equal(a, b)
    assert a.shape == img.shape and a.dtype == np.uint8
    # the lens blur removes most of the white-noise image's pixel-to-pixel variation
    assert np.abs(np.diff(a.astype(float), axis=1)).mean() < 0.6 * np.abs(
        np.diff(img.astype(float), axis=1)).mean()
