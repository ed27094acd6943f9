"""Shift protocols (fas_lib.data.shift) on SynthSpoof's capture factors, and the protocol view.

The protocol tables come from the generator's plan (nothing is rendered), so every count
below is exact for the default dataset: 40 subjects (12 / 12 / 16), 3 sessions, 3 live videos
and one video per attack type per subject and session.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from fas_lib.cache import views
from fas_lib.data import shift
from fas_lib.data.protocol import ProtocolError
from fas_lib.synthspoof import SynthConfig, protocol_table
from fas_lib.training.runs import data_key

#: (train live, train attack, dev live, dev attack, test live, test attack) videos per protocol
#: and fold of the default SynthSpoof.
COUNTS = {
    ("standard", None): (108, 180, 108, 180, 144, 240),
    ("p1", None): (36, 60, 36, 60, 48, 80),
    ("p2", None): (108, 60, 108, 60, 144, 80),
    ("p3", "c1"): (65, 108, 22, 36, 29, 49),
    ("p3", "c5"): (65, 107, 21, 36, 29, 47),
    ("p4", "c1"): (29, 18, 29, 15, 10, 5),
    ("p4", "c3"): (29, 19, 29, 16, 9, 5),
    ("loao", "print_cut"): (108, 108, 108, 36, 144, 48),
}
#: SHA-1 of every protocol table of the default SynthSpoof (all protocols and folds), CSV.
TABLES_SHA1 = "1bb2b7f1e69dd5d1f65c75d0d69dbdd4422858ed"


pytestmark = pytest.mark.usefixtures("private_data_dir")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return protocol_table(SynthConfig())


@pytest.fixture(scope="module")
def smoke_cache(tmp_path_factory):
    """The crop cache (ground-truth boxes, one scale, one frame per video) of a 3-subject,
    3-session SynthSpoof with one live video, a print and a replay per session (27 videos)."""
    from fas_lib.cache.build import build_cache
    from fas_lib.synthspoof import generate

    config = SynthConfig(n_subjects=3, frames_per_video=1, live_per_session=1,
                         attack_types=("print_flat", "replay_phone"), width=320, height=240)
    root = generate(config, root=tmp_path_factory.mktemp("ss") / "ss", workers=1,
                    progress=False).root
    return build_cache("synthspoof", root, out=tmp_path_factory.mktemp("c") / "cache",
                       n_frames=1, scales=(1.0,), workers=1, progress=False, use_gt_boxes=True)


def _counts(t: pd.DataFrame) -> tuple[int, ...]:
    c = t.groupby(["split", "label"]).size()
    return tuple(int(c.get((s, lab), 0)) for s in ("train", "dev", "test") for lab in (1, 0))


def _all_tables(table: pd.DataFrame):
    for p in shift.PROTOCOLS:
        for f in shift.folds(table, p) or [None]:
            yield p, f, shift.apply_protocol(table, p, f)


def test_factor_counts_of_the_default_dataset(table):
    assert len(table) == 40 * 3 * 8
    assert table.groupby("session").size().to_dict() == {"s1": 320, "s2": 320, "s3": 320}
    cams = table.groupby(["split", "camera"]).size().unstack()
    assert cams.shape == (3, 5) and (cams.max(axis=1) - cams.min(axis=1) <= 3).all(), cams
    attacks = table[table["label"] == 0]
    inst = attacks.groupby("instrument").size().to_dict()
    assert set(inst) == {"p1", "p2", "p3", "d1", "d2", "d3"}
    assert inst["p1"] == inst["p2"] == inst["p3"] == 40 * 3  # one print per printer
    assert sum(inst[d] for d in ("d1", "d2", "d3")) == 40 * 3 * 2
    assert (table.loc[table["label"] == 1, "instrument"] == "").all()
    assert set(table["quality"]) == {"low", "normal", "high"}


@pytest.mark.parametrize("key", list(COUNTS))
def test_counts_per_protocol_split_and_label(table, key):
    assert _counts(shift.apply_protocol(table, *key)) == COUNTS[key]


def test_every_fold_has_both_classes_in_every_split(table):
    for p, f, t in _all_tables(table):
        c = _counts(t)
        assert min(c) >= 5, (p, f, c)


def test_subjects_and_held_out_levels_are_disjoint(table):
    for p, f, t in _all_tables(table):
        by = {s: t[t["split"] == s] for s in ("train", "dev", "test")}
        subj = {s: set(d["subject"]) for s, d in by.items()}
        assert not (subj["train"] & subj["dev"] or subj["train"] & subj["test"]
                    or subj["dev"] & subj["test"]), p
        lv = {(s, c): set(by[s][c]) - {""} for s in by for c in ("session", "camera")}
        att = {s: by[s].loc[by[s]["label"] == 0] for s in by}
        ins = {s: set(att[s]["instrument"]) for s in by}
        if p in ("p1", "p4"):
            assert [lv[(s, "session")] for s in by] == [{"s1"}, {"s2"}, {"s3"}], (p, f)
        if p in ("p2", "p4"):
            assert ins["train"] <= {"p1", "d1"} and ins["dev"] <= {"p2", "d2"}
            assert ins["test"] <= {"p3", "d3"}, (p, f)
        if p in ("p3", "p4"):
            assert lv[("test", "camera")] == {f}
            assert f not in lv[("train", "camera")] | lv[("dev", "camera")]
        if p == "p3":
            assert len(lv[("dev", "camera")]) == 1
            assert not lv[("dev", "camera")] & lv[("train", "camera")]
        if p == "loao":
            kinds = {s: set(att[s]["attack_type"]) for s in by}
            assert kinds["test"] == {f} and len(kinds["dev"]) == 1
            assert not (kinds["train"] & (kinds["test"] | kinds["dev"]))


def test_a_fixed_seed_gives_the_same_protocol_tables(table):
    again = protocol_table(SynthConfig())
    pd.testing.assert_frame_equal(table, again)
    blob = b"".join(t.to_csv(index=False).encode() for _, _, t in _all_tables(table))
    assert hashlib.sha1(blob).hexdigest() == TABLES_SHA1
    other = protocol_table(SynthConfig(seed=1))
    assert not other["split"].equals(table["split"])


def test_folds_by_number_or_name_and_clear_errors(table):
    assert shift.folds(table, "p3") == ["c1", "c2", "c3", "c4", "c5"]
    pd.testing.assert_frame_equal(shift.apply_protocol(table, "p3", 2),
                                  shift.apply_protocol(table, "p3", "c2"))
    with pytest.raises(ProtocolError, match="unknown shift protocol"):
        shift.select(table, "p9")
    with pytest.raises(ProtocolError, match=r"fold= 1\.\.5"):
        shift.select(table, "p3", 6)
    with pytest.raises(ProtocolError, match="has no folds"):
        shift.select(table, "p1", 1)
    one_session = table[table["session"] != "s3"]
    with pytest.raises(ProtocolError, match="at least 3 sessions"):
        shift.select(one_session, "p1")
    no_test_live = table[~((table["split"] == "test") & (table["label"] == 1))]
    with pytest.raises(ProtocolError, match="test split without bona fide"):
        shift.select(no_test_live, "p2")


def test_a_real_table_without_factors_gets_a_clear_error():
    t = protocol_table(SynthConfig()).assign(session="", camera="", instrument="")
    with pytest.raises(ProtocolError, match="session / camera / instrument"):
        shift.select(t, "p1")


def test_protocol_view_of_a_cache(smoke_cache):
    view = views.protocol_view(smoke_cache, "p1")
    assert views.protocol_view(smoke_cache, "standard") is smoke_cache
    keep = shift.select(smoke_cache.table, "p1")
    for split in ("train", "dev", "test"):
        rows = smoke_cache.table[keep & (smoke_cache.table["split"] == split)]
        rows = rows.sort_values("index")
        np.testing.assert_array_equal(view.crops(split),
                                      smoke_cache.crops(split)[rows["index"].to_numpy()])
        frames = view.frames(split)
        assert frames["index"].tolist() == list(range(len(rows)))
        assert frames["video_id"].tolist() == rows["video_id"].tolist()
        assert set(frames["session"]) == {{"train": "s1", "dev": "s2", "test": "s3"}[split]}
    assert view.manifest["protocol"] == "p1" and view.manifest["counts"]["frames"] == keep.sum()
    keys = {data_key(smoke_cache), data_key(view), data_key(views.protocol_view(smoke_cache, "p2"))}
    assert len(keys) == 3
