"""SynthSpoof 4.0: a session is a place. Every video of a session, live or attack, looks into the
session's one room (:func:`~fas_lib.synthspoof.scene.session_room`) from a spot of its own.
About 5 s."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fas_lib.synthspoof import SynthConfig
from fas_lib.synthspoof import render as render_module
from fas_lib.synthspoof import video as video_module
from fas_lib.synthspoof.camera import noise_bank
from fas_lib.synthspoof.dataset import plan_jobs
from fas_lib.synthspoof.factors import SESSIONS
from fas_lib.synthspoof.render import make_world, room_of, world_canvas
from fas_lib.synthspoof.scene import ROOM_MARGIN, room_view, session_room
from fas_lib.synthspoof.sources import subject_sources, user_sources
from fas_lib.synthspoof.subjects import make_subjects
from fas_lib.synthspoof.video import render_video

CFG = SynthConfig(n_subjects=3, frames_per_video=1, width=320, height=240, sessions=("s1", "s2"),
                  live_per_session=1)


def _room(seed=0, session=0, size=(200, 150)):
    st = SESSIONS[session]
    return session_room(seed, session, *size, st.wall_sat, st.wall_val)


def _offset(window: np.ndarray, room: np.ndarray) -> tuple[int, int] | None:
    """Where ``window`` lies in ``room`` pixel for pixel, else None."""
    res = cv2.matchTemplate(room, window, cv2.TM_SQDIFF)  # the best candidate, then exactly
    x, y = cv2.minMaxLoc(res)[2]
    h, w = window.shape[:2]
    return (x, y) if np.array_equal(room[y:y + h, x:x + w], window) else None


@pytest.fixture(scope="module")
def subjects():
    return make_subjects(CFG.n_subjects, CFG.seed, subject_sources(user_sources(None)[0]))


def test_a_session_room_is_fixed_by_seed_and_session_and_read_only():
    room = _room()
    assert room.shape == (round(150 * (1 + ROOM_MARGIN)), round(200 * (1 + ROOM_MARGIN)), 3)
    assert not room.flags.writeable
    session_room.cache_clear()
    np.testing.assert_array_equal(_room(), room)  # the same from a fresh start
    assert not np.array_equal(_room(session=1), room)
    assert not np.array_equal(_room(seed=1), room)


def test_room_views_are_windows_near_the_centre():
    room = _room()
    rng = np.random.default_rng(0)
    spots = set()
    for _ in range(20):
        v = room_view(room, rng, 200, 150)
        assert v.shape == (150, 200, 3) and v.flags.writeable
        x, y = _offset(v, room)
        spots.add((x, y))
    assert len(spots) > 10  # each video its own spot
    with pytest.raises(ValueError, match="does not fit"):
        room_view(room, rng, room.shape[1] + 1, 10)


def test_subjects_of_a_session_stand_in_one_room(subjects):
    cw, ch = world_canvas(CFG.width, CFG.height)
    for s_idx, name in enumerate(("s1", "s2")):
        st = SESSIONS[s_idx]
        room = room_of(name, CFG.width, CFG.height, CFG.seed)
        assert room is session_room(CFG.seed, s_idx, cw, ch, st.wall_sat, st.wall_val)
        spots = [_offset(make_world(s, CFG.width, CFG.height, name, CFG.seed).bg, room)
                 for s in subjects]
        assert None not in spots, name  # every subject's background is a window of the room
        assert len(set(spots)) == len(spots)  # seen from different spots
    other = room_of("s2", CFG.width, CFG.height, CFG.seed)
    assert _offset(make_world(subjects[0], CFG.width, CFG.height, "s1", CFG.seed).bg,
                   other) is None  # and not in another session's room


def test_attacks_are_recorded_in_the_room_of_their_session(subjects, monkeypatch):
    """The live world and the surroundings of a print and a replay look into the same room."""
    seen: dict[str, list[int]] = {}

    def spy(module, where):
        inner = module.room_view

        def view(room, rng, width, height):
            seen.setdefault(where, []).append(id(room))
            return inner(room, rng, width, height)

        monkeypatch.setattr(module, "room_view", view)

    spy(render_module, "world")
    spy(video_module, "attack")
    bank = noise_bank(CFG.seed, CFG.height, CFG.width)
    for vid in ("s000_s1_print_flat", "s000_s1_replay_phone", "s000_s2_replay_screen"):
        job = next(j for j in plan_jobs(CFG) if j.video_id == vid)
        world = make_world(subjects[0], CFG.width, CFG.height, job.session, CFG.seed)
        render_video(job, subjects[0], world, CFG.width, CFG.height, 1, CFG.seed, bank, ())
    assert seen["world"][0] == seen["world"][1] == seen["attack"][0] == seen["attack"][1]
    assert seen["world"][2] == seen["attack"][2] != seen["world"][0]
