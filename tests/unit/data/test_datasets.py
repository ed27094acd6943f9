"""Tests of fas_lib.data.datasets on miniature fakes in the real layouts (tests/fakes.py; tiny
files).

Expected counts are worked out by hand from the fake's size in each test's comment.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pandas as pd
import pytest

from fas_lib.data.datasets import (
    DATASETS,
    DatasetLayoutError,
    load_protocol,
    parse_oulu_name,
    parse_replay_name,
    protocols,
    read_face_locations,
    read_list_file,
)
from fas_lib.data.datasets.nuaa import dev_subjects
from fas_lib.data.protocol import ProtocolError, validate, write_protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # repository root, for tests.fakes
from tests import fakes  # noqa: E402


def counts(result, by=("split",)) -> dict:
    """Row counts grouped by columns, as a plain dict (keys are tuples when grouping by 2+)."""
    by = list(by)
    grouped = result.table.groupby(by[0] if len(by) == 1 else by).size()
    return {k: int(v) for k, v in grouped.items()}


# ----------------------------------------------------------------------------- registry
def test_registry_names_and_unknown_dataset():
    assert DATASETS == (
        "casia_fasd", "replay_attack", "oulu_npu", "nuaa", "casia_surf", "synthspoof", "csv"
    )  # fmt: skip
    assert protocols("Replay-Attack")[0] == "grandtest"
    with pytest.raises(ValueError, match="unknown dataset 'msu'.*casia_fasd"):
        load_protocol("msu", "/nowhere")


# ----------------------------------------------------------------------------- CASIA-FASD
@pytest.fixture(scope="module")
def casia(tmp_path_factory):
    # train folders 1 and 16 (16 -> dev), test folders 1 and 2 (subjects 21, 22): 4 x 12 videos
    return fakes.build_casia_fasd(tmp_path_factory.mktemp("casia") / "CASIA", n_train=2, n_test=2)


def test_casia_default_is_the_papers_protocol(casia):
    # MS-FANS trains on all 20 training subjects (no dev carve-out): standard_nodev is default
    res = load_protocol("casia_fasd", casia.root)
    assert res.protocol == "standard_nodev"
    assert counts(res) == {"train": 24, "test": 24}
    assert sorted(res.table[res.table.split == "train"]["subject"].unique()) == ["1", "16"]


def test_casia_standard_counts(casia):
    res = load_protocol("casia_fasd", casia.root, "standard")
    assert res.protocol == "standard" and len(res.table) == 48
    assert counts(res) == {"train": 12, "dev": 12, "test": 24}
    # 3 videos per type per subject; 1 subject in train, 1 in dev, 2 in test
    by_type = counts(res, ("split", "attack_type"))
    for t in ("live", "warped_photo", "cut_photo", "video_replay"):
        assert (by_type[("train", t)], by_type[("dev", t)], by_type[("test", t)]) == (3, 3, 6)
    assert counts(res, ("label",)) == {0: 36, 1: 12}
    subjects = {k: sorted(v) for k, v in res.table.groupby("split")["subject"].unique().items()}
    assert subjects == {"train": ["1"], "dev": ["16"], "test": ["21", "22"]}
    assert res.skips == {}


def test_casia_subjects_quality_and_ids(casia):
    t = load_protocol("casia_fasd", casia.root, "standard").table.set_index("path")
    assert t.loc["train_release/1/1.avi", ["attack_type", "quality"]].tolist() == ["live", "normal"]
    assert t.loc["train_release/1/2.avi", "quality"] == "low"
    assert t.loc["train_release/1/HR_1.avi", "quality"] == "high"
    assert t.loc["test_release/2/8.avi", ["attack_type", "quality", "subject"]].tolist() == [
        "video_replay", "low", "22"]  # fmt: skip
    assert t.loc["train_release/16/HR_3.avi", "attack_type"] == "cut_photo"
    # each subject: 4 high, 4 normal, 4 low
    assert set(t.groupby(["subject", "quality"]).size()) == {4}
    assert t["video_id"].is_unique


def test_casia_protocol_variants(casia):
    standard = load_protocol("casia_fasd", casia.root, "standard").table
    grandtest = load_protocol("casia_fasd", casia.root, "grandtest").table
    pd.testing.assert_frame_equal(standard, grandtest)
    nodev = load_protocol("casia_fasd", casia.root, "standard_nodev")
    assert counts(nodev) == {"train": 24, "test": 24}
    with pytest.raises(ProtocolError, match="standard_nodev"):
        load_protocol("casia_fasd", casia.root, "overall")
    with pytest.raises(ProtocolError, match="no folds"):
        load_protocol("casia_fasd", casia.root, fold=1)


def test_casia_corrupt_video_is_listed_not_decoded(casia):
    t = load_protocol("casia_fasd", casia.root).table
    assert casia.corrupt == ["test_release/1/HR_4.avi"]
    assert casia.corrupt[0] in set(t["path"])
    assert not cv2.VideoCapture(str(casia.root / casia.corrupt[0])).isOpened()


def test_casia_face_locations(casia):
    res = load_protocol("casia_fasd", casia.root)
    row = res.table[res.table["path"] == "train_release/1/1.avi"].iloc[0]
    face = res.face_location_file(row)
    assert face == casia.root / "face-locations/train_release/1/1.face"
    assert read_face_locations(face) == {1: (5, 4, 20, 16), 2: None}
    assert res.face_location_file("train_release/1/2.avi") is None


def test_casia_missing_and_unknown_files(tmp_path):
    fake = fakes.build_casia_fasd(tmp_path / "c", n_train=1, n_test=1, faces=False)
    (fake.root / "train_release/1/HR_2.avi").unlink()
    (fake.root / "train_release/1/notes.avi").write_bytes(b"x")
    res = load_protocol("casia_fasd", fake.root)
    assert len(res.table) == 23
    assert res.skips == {"expected_missing": 1, "unrecognised_name": 1}
    assert ("train_release/1/HR_2.avi", "expected_missing") in res.skipped


def test_casia_wrong_root(tmp_path, casia):
    with pytest.raises(DatasetLayoutError, match="does not exist.*train_release.*README"):
        load_protocol("casia_fasd", tmp_path / "nope")
    (tmp_path / "half" / "train_release").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="lacks test_release.*found: train_release"):
        load_protocol("casia_fasd", tmp_path / "half")
    with pytest.raises(FileNotFoundError, match=r"did you mean .*CASIA\?"):
        load_protocol("casia_fasd", casia.root.parent)
    (tmp_path / "half" / "test_release" / "1").mkdir(parents=True)  # right folders, no videos
    with pytest.raises(DatasetLayoutError, match="no usable file.*expected_missing': 12"):
        load_protocol("casia_fasd", tmp_path / "half")


# ----------------------------------------------------------------------------- Replay-Attack
# Per client: 4 real; attacks by protocol (bob.db.replay's full-data counts / 50 clients)
REPLAY_PER_CLIENT = {"grandtest": 20, "print": 4, "mobile": 8, "highdef": 8, "photo": 12,
                     "video": 8, "digitalphoto": 8}  # fmt: skip
REPLAY_FULL = {"grandtest": 1000, "print": 200, "mobile": 400, "highdef": 400, "photo": 600,
               "video": 400, "digitalphoto": 400}  # fmt: skip
REPLAY_TYPES = {"grandtest": {"print", "mobile", "highdef"}, "print": {"print"},
                "mobile": {"mobile"}, "highdef": {"highdef"},
                "photo": {"print", "mobile", "highdef"}, "video": {"mobile", "highdef"},
                "digitalphoto": {"mobile", "highdef"}}  # fmt: skip


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    # clients 1 (train), 2 (devel), 3 (test); each 4 real + 20 attacks + 2 enrollment videos
    return fakes.build_replay_attack(tmp_path_factory.mktemp("replay"), 1, 1, 1)


def test_replay_per_client_counts_match_full_dataset():
    assert {k: 50 * v for k, v in REPLAY_PER_CLIENT.items()} == REPLAY_FULL


@pytest.mark.parametrize("protocol", list(REPLAY_PER_CLIENT))
def test_replay_protocols(replay, protocol):
    res = load_protocol("replay_attack", replay.root, protocol)
    n = REPLAY_PER_CLIENT[protocol]
    assert counts(res, ("split", "label")) == {
        (s, lab): (4 if lab == 1 else n) for s in ("train", "dev", "test") for lab in (0, 1)
    }
    attacks = res.table[res.table["label"] == 0]
    assert set(attacks["attack_type"]) == REPLAY_TYPES[protocol]
    assert not res.table["path"].str.contains("enroll").any()
    assert set(res.table["quality"]) == {"controlled", "adverse"}
    assert (res.table["session"] == res.table["quality"]).all()
    assert (attacks["instrument"] == attacks["attack_type"]).all()
    assert res.skips == {}


def test_replay_sample_types_and_subjects(replay):
    t = load_protocol("replay_attack", replay.root, "photo").table
    kinds = {parse_replay_name(p).sample_type for p in t.loc[t["label"] == 0, "path"]}
    assert kinds == {"photo"}
    assert sorted(t.groupby("split")["subject"].first().items()) == [
        ("dev", "2"), ("test", "3"), ("train", "1")]  # fmt: skip
    name = parse_replay_name(
        "train/attack/hand/attack_print_client001_session01_highdef_photo_adverse.mov")
    assert (name.client, name.attack_device, name.sample_type, name.support, name.light) == (
        "1", "print", "photo", "hand", "adverse")  # fmt: skip
    assert parse_replay_name("train/enroll/client001_session01_enroll_controlled.mov") is None


def test_replay_face_file_and_wrong_root(replay, tmp_path):
    res = load_protocol("replay_attack", replay.root)
    rel = "train/real/client001_session01_webcam_authenticate_controlled_1.mov"
    assert res.face_location_file({"path": rel}) == (
        replay.root / "face-locations" / rel.replace(".mov", ".face"))
    (tmp_path / "train" / "real").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="lacks train/attack.*devel/.*README"):
        load_protocol("replay_attack", tmp_path)


# ----------------------------------------------------------------------------- OULU-NPU
@pytest.fixture(scope="module")
def oulu(tmp_path_factory):
    # 1 user per split (01, 21, 36); per user 6 phones x 3 sessions x 5 files = 90 videos
    return fakes.build_oulu_npu(tmp_path_factory.mktemp("oulu"), 1, 1, 1, crlf_protocol=3)


def phones(table: pd.DataFrame, split: str) -> set[int]:
    q = table.loc[table["split"] == split, "quality"]
    return {int(v.split("_")[0].removeprefix("phone")) for v in q}


def test_oulu_protocol_1_unseen_session(oulu):
    res = load_protocol("oulu_npu", oulu.root, "Protocol_1")
    # train/dev: 2 sessions x 6 phones x 5 files = 60 (12 live); test: session 3 -> 30 (6 live)
    assert counts(res, ("split", "label")) == {
        ("train", 0): 48, ("train", 1): 12, ("dev", 0): 48, ("dev", 1): 12,
        ("test", 0): 24, ("test", 1): 6}  # fmt: skip
    sessions = res.table["quality"].str.split("_session").str[1]
    assert set(sessions[res.table["split"] != "test"]) == {"1", "2"}
    assert set(sessions[res.table["split"] == "test"]) == {"3"}
    assert sorted(res.table.groupby("split")["subject"].first()) == ["1", "21", "36"]
    t = res.table  # the capture factors, for fas_lib.data.shift
    assert (t["session"] == "session" + sessions).all()
    assert set(t["camera"]) == {f"phone{p}" for p in range(1, 7)}
    assert set(t.loc[t.label == 0, "instrument"]) == {"print1", "print2", "replay1", "replay2"}
    assert (t.loc[t.label == 1, "instrument"] == "").all()


def test_oulu_protocol_2_unseen_instrument_with_minus_two_labels(oulu):
    res = load_protocol("oulu_npu", oulu.root, 2)
    # 3 sessions x 6 phones = 18 per file number; train files 1,2,4; test files 1,3,5
    assert counts(res, ("split", "attack_type")) == {
        ("train", "live"): 18, ("train", "print1"): 18, ("train", "replay1"): 18,
        ("dev", "live"): 18, ("dev", "print1"): 18, ("dev", "replay1"): 18,
        ("test", "live"): 18, ("test", "print2"): 18, ("test", "replay2"): 18}  # fmt: skip


@pytest.mark.parametrize("fold", range(1, 7))
def test_oulu_protocol_3_leaves_one_phone_out(oulu, fold):
    res = load_protocol("oulu_npu", oulu.root, "P3", fold=fold)
    # 5 phones x 3 sessions x 5 files = 75 train/dev; phone k: 15 test (3 live)
    assert counts(res) == {"train": 75, "dev": 75, "test": 15}
    assert phones(res.table, "train") == phones(res.table, "dev") == set(range(1, 7)) - {fold}
    assert phones(res.table, "test") == {fold}
    assert counts(res, ("split", "label"))[("test", 1)] == 3
    assert all((oulu.root / p).is_file() for p in res.table["path"])  # CRLF lists parsed cleanly


def test_oulu_protocol_4_all_three(oulu):
    res = load_protocol("oulu_npu", oulu.root, "4", fold=6)
    # train: 5 phones x sessions 1-2 x files 1,2,4 = 30; test: phone 6, session 3, files 1,3,5 = 3
    assert counts(res, ("split", "attack_type")) == {
        ("train", "live"): 10, ("train", "print1"): 10, ("train", "replay1"): 10,
        ("dev", "live"): 10, ("dev", "print1"): 10, ("dev", "replay1"): 10,
        ("test", "live"): 1, ("test", "print2"): 1, ("test", "replay2"): 1}  # fmt: skip
    assert set(res.table.loc[res.table["split"] == "test", "quality"]) == {"phone6_session3"}


def test_oulu_fold_errors(oulu, tmp_path):
    for bad in (None, 0, 7):
        with pytest.raises(ProtocolError, match=r"needs fold= one of \[1, 2, 3, 4, 5, 6\]"):
            load_protocol("oulu_npu", oulu.root, "3", fold=bad)
    with pytest.raises(ProtocolError, match="no folds"):
        load_protocol("oulu_npu", oulu.root, "1", fold=1)
    with pytest.raises(ProtocolError, match="no protocol 'Protocol_5'"):
        load_protocol("oulu_npu", oulu.root, "Protocol_5")
    fake = fakes.build_oulu_npu(tmp_path / "o", 1, 1, 1)
    (fake.root / "Protocols/Protocol_4/Train_5.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"Train_5\.txt.*\[1, 2, 3, 4, 6\] have"):
        load_protocol("oulu_npu", fake.root, "4", fold=5)


def test_oulu_listed_missing_and_conflicting_lines(tmp_path):
    fake = fakes.build_oulu_npu(tmp_path / "o", 1, 1, 1)
    (fake.root / "Train_files/1_1_01_2.avi").unlink()  # in P1 train (session 1)
    with open(fake.root / "Protocols/Protocol_1/Test.txt", "a") as f:
        f.write("+1,1_3_36_2\nnot a line\n")  # a bona fide label on a print video; garbage
    res = load_protocol("oulu_npu", fake.root, "1")
    assert res.skips == {"listed_missing": 1, "label_conflict": 1, "malformed_line": 1}
    assert ("Train_files/1_1_01_2.avi", "listed_missing") in res.skipped
    assert counts(res) == {"train": 59, "dev": 60, "test": 30}


def test_parse_oulu_name():
    n = parse_oulu_name("6_3_55_5.avi")
    assert (n.phone, n.session, n.user, n.attack_type) == (6, 3, "55", "replay2")
    assert parse_oulu_name("1_1_01_6") is None


# ----------------------------------------------------------------------------- NUAA
@pytest.fixture(scope="module")
def nuaa(tmp_path_factory):
    # 3 subjects x 2 images per class and split; 2 listed-but-missing client test entries
    return fakes.build_nuaa(tmp_path_factory.mktemp("nuaa"), n_subjects=3, images=2, n_missing=2)


def test_nuaa_standard_with_dev_carve_out(nuaa):
    res = load_protocol("nuaa", nuaa.root)
    # train subjects 1-3; round(3 / 5) -> 1 subject (3) moves to dev
    assert counts(res, ("split", "label")) == {
        ("train", 0): 4, ("train", 1): 4, ("dev", 0): 2, ("dev", 1): 2,
        ("test", 0): 6, ("test", 1): 6}  # fmt: skip
    assert set(res.table.loc[res.table["split"] == "dev", "subject"]) == {"3"}
    assert set(res.table["attack_type"]) == {"live", "print"}
    assert res.skips == {"listed_missing": 2}
    assert sorted(p for p, _ in res.skipped) == sorted(nuaa.missing)
    assert not res.table["path"].str.contains(r"[\\\r]").any()  # CRLF and backslashes handled
    assert all((nuaa.root / p).is_file() for p in res.table["path"])


def test_nuaa_official_lists_without_dev(nuaa):
    res = load_protocol("nuaa", nuaa.root, "standard_nodev")
    assert counts(res) == {"train": 12, "test": 12}
    assert set(res.table["quality"]) == {"session1", "session2", "session3"}
    assert (res.table["session"] == res.table["quality"]).all()


def test_nuaa_session_dev_holds_out_a_training_session(nuaa):
    res = load_protocol("nuaa", nuaa.root, "session_dev")
    t = res.table
    sessions = {s: set(t.loc[t["split"] == s, "session"]) for s in ("train", "dev", "test")}
    assert sessions == {"train": {"session1"}, "dev": {"session2"}, "test": {"session3"}}
    assert counts(res, ("split", "label")) == {
        ("train", 0): 3, ("train", 1): 3, ("dev", 0): 3, ("dev", 1): 3,
        ("test", 0): 6, ("test", 1): 6}  # fmt: skip


def test_nuaa_dev_rule_and_duplicates(tmp_path):
    assert dev_subjects({str(i) for i in range(1, 10)}) == {"8", "9"}
    assert dev_subjects({str(i) for i in range(1, 16)}) == {"13", "14", "15"}
    assert dev_subjects({"1"}) == set()
    fake = fakes.build_nuaa(tmp_path / "n", n_subjects=2, images=1, n_missing=0)
    with open(fake.root / "client_train_raw.txt", "ab") as f:
        f.write(b"0001/0001_00_01_01_0.jpg\r\n")
    res = load_protocol("nuaa", fake.root, "standard_nodev")
    assert res.skips == {"duplicate_entry": 1} and len(res.table) == 8


def test_nuaa_wrong_root(tmp_path):
    (tmp_path / "ClientRaw").mkdir()
    with pytest.raises(DatasetLayoutError, match="lacks ImposterRaw, client_train_raw.txt"):
        load_protocol("nuaa", tmp_path)


# ----------------------------------------------------------------------------- CASIA-SURF
@pytest.mark.parametrize("label_format", ["paths", "labels"])
def test_casia_surf_counts_and_modalities(tmp_path, label_format):
    # 2 subjects x (1 real + 3 attack recordings) x 2 frames = 16 train rows; 4 val samples
    fake = fakes.build_casia_surf(tmp_path, 2, frames=2, n_val=4, label_format=label_format)
    res = load_protocol("casia_surf", fake.root)
    assert counts(res, ("split", "attack_type")) == {
        ("train", "live"): 4, ("train", "04_en_b"): 4, ("train", "05_enm_s"): 4,
        ("train", "06_enm_b"): 4, ("dev", "live"): 2, ("dev", "unknown_attack"): 2}  # fmt: skip
    t = res.table
    assert t["depth_path"].str.contains("depth").all() and t["ir_path"].str.contains("ir").all()
    assert all((fake.root / p).is_file() for p in pd.concat([t["depth_path"], t["ir_path"]]))
    train = t[t["split"] == "train"]
    assert train["video_id"].nunique() == 8  # frames of one .rssdk recording share it
    assert set(train["subject"]) == {"AS0001", "AS0002"}


def test_casia_surf_skips_and_layout(tmp_path):
    fake = fakes.build_casia_surf(tmp_path / "s", n_subjects=1, frames=1, n_val=2)
    (fake.root / "Training/real_part/CLKJ_AS0001/real.rssdk/ir/1.jpg").unlink()
    with open(fake.root / "train_list.txt", "a") as f:
        f.write("Training/fake_part/CLKJ_AS0001/real.rssdk/color/1.jpg a b 0\nonly two\n")
    res = load_protocol("casia_surf", fake.root)
    assert res.skips == {"listed_missing": 1, "label_conflict": 1, "malformed_line": 1}
    assert counts(res) == {"train": 3, "dev": 2}
    (fake.root / "val_label.txt").unlink()
    with pytest.raises(DatasetLayoutError, match="val_public_list.txt but no val_label.txt"):
        load_protocol("casia_surf", fake.root)
    with pytest.raises(DatasetLayoutError, match="train_list.txt"):
        load_protocol("casia_surf", tmp_path / "empty_dir_that_is_missing")


# ----------------------------------------------------------------------------- generic CSV
def test_generic_csv_good(tmp_path):
    fake = fakes.build_generic_csv(tmp_path, n_per_class=2)
    by_folder = load_protocol("csv", fake.root)
    by_file = load_protocol("csv", fake.root / "protocol.csv")
    pd.testing.assert_frame_equal(by_folder.table, by_file.table)
    t = by_folder.table
    assert counts(by_folder, ("split", "attack_type")) == {
        (s, a): 2 for s in ("train", "dev", "test") for a in ("live", "attack")}
    row = t[t["path"] == "media/dev_attack_0.avi"].iloc[0]
    assert (row["label"], row["subject"], row["video_id"], row["depth_path"]) == (
        0, "sdev", "media/dev_attack_0", "")  # fmt: skip


def test_generic_csv_aliases_and_missing_files(tmp_path):
    fake = fakes.build_generic_csv(tmp_path, n_per_class=1)
    (tmp_path / "mine.csv").write_text(
        "Path, Label, Split, attack_type\n"
        "media/train_live_0.avi,live,training,\n"
        "media/dev_attack_0.avi,0,val,replay\n"
        "media/gone.avi,1,eval,live\n"
    )
    res = load_protocol("csv", fake.root, protocol="mine.csv")
    pairs = res.table[["split", "attack_type"]].values.tolist()
    assert pairs == [["train", "live"], ["dev", "replay"]]
    assert res.skips == {"listed_missing": 1}


MALFORMED = {
    "no_split_column": ("path,label\na.avi,1\n", "missing column.*'split'"),
    "typo_column": ("path,label,split,subjcet\na.avi,1,train,3\n", "unknown column.*subjcet"),
    "bad_label": ("path,label,split\na.avi,2,train\n", "line 2: label '2'"),
    "bad_split": ("path,label,split\na.avi,1,holdout\n", "split 'holdout'"),
    "live_with_attack_type": ("path,label,split,attack_type\na.avi,1,test,print\n", "does not fit"),
    "duplicate": ("path,label,split\na.avi,1,train\na.avi,0,test\n", "line 3.*listed twice"),
    "header_only": ("path,label,split\n", "no rows"),
    "empty_file": ("", "not a readable CSV"),
    "semicolons": ("path;label;split\na.avi;1;train\n", "comma-separated"),
    "binary": ("\udcff\udcfe garbage", "not a readable CSV"),
    "ragged": ('path,label,split\na.avi,1,train,extra,"unclosed\n', "not a readable CSV"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_generic_csv_malformed(tmp_path, case):
    text, message = MALFORMED[case]
    (tmp_path / "protocol.csv").write_bytes(text.encode("utf-8", "surrogateescape"))
    (tmp_path / "a.avi").write_bytes(b"x")
    with pytest.raises(ProtocolError, match=message):
        load_protocol("csv", tmp_path)


def test_generic_csv_missing_file(tmp_path):
    with pytest.raises(DatasetLayoutError, match="no protocol CSV"):
        load_protocol("csv", tmp_path)


# ----------------------------------------------------------------------------- SynthSpoof
# ----------------------------------------------------------------------------- frame folders
COLS = ["path", "label", "split", "subject", "attack_type", "video_id"]


def test_frame_folder_release_reads_the_same_through_csv_and_replay_attack(tmp_path):
    # 3 clients (one per group) x (2 real + 2 attack) folders of 3 JPEG frames
    fake = fakes.build_replay_attack_frames(tmp_path / "ra")
    by_csv = load_protocol("csv", fake.root)
    by_layout = load_protocol("replay_attack", fake.root)
    assert sorted(by_csv.table["path"]) == fake.files  # every row is a folder: one video
    pd.testing.assert_frame_equal(by_csv.table[COLS], by_layout.table[COLS])
    assert counts(by_layout, ("split", "attack_type")) == {
        (s, a): 2 for s in ("train", "dev", "test") for a in ("live", "print")}
    assert not by_csv.skips and not by_layout.skips
    # a folder that is gone is listed_missing; a trailing slash names the same folder
    text = (fake.root / "protocol.csv").read_text()
    first = fake.files[0]
    (fake.root / "p2.csv").write_text(text.replace(f"{first},", f"{first}/,")
                                      + "train/real/gone,1,train,9,live\n")
    res = load_protocol("csv", fake.root, protocol="p2.csv")
    assert first in set(res.table["path"]) and res.skips == {"listed_missing": 1}


def test_csv_rows_one_per_frame_share_a_video_id(tmp_path):
    fake = fakes.FakeDataset(tmp_path)
    lines = ["path,label,split,video_id"]
    for split in ("train", "test"):
        for label in (1, 0):
            vid = f"{split}_{label}"
            for k in (1, 2, 10):
                rel = f"frames/{vid}_{k}.jpg"
                fakes.write_image(fake, rel, "live" if label else "attack")
                lines.append(f"{rel},{label},{split},{vid}")
    fakes.write_lines(tmp_path / "protocol.csv", lines)
    res = load_protocol("csv", tmp_path)
    assert len(res.table) == 12 and res.table["video_id"].nunique() == 4


FRAME_ROW_ERRORS = {
    "labels_disagree": ("a/1.jpg,1,train,v\na/2.jpg,0,train,v\n", "disagree on label"),
    "splits_disagree": ("a/1.jpg,1,train,v\na/2.jpg,1,test,v\n", "disagree on split"),
    "video_shares": ("a/1.jpg,1,train,v\nclip.avi,1,train,v\n", "clip.avi is a video file"),
    "folder_shares": ("a/1.jpg,1,train,v\na,1,train,v\n", "a is a folder"),
}


@pytest.mark.parametrize("case", sorted(FRAME_ROW_ERRORS))
def test_csv_frame_rows_that_cannot_be_one_video_raise(tmp_path, case):
    fake = fakes.FakeDataset(tmp_path)
    for rel in ("a/1.jpg", "a/2.jpg"):
        fakes.write_image(fake, rel)
    fakes.write_video(fake, "clip.avi")
    body, message = FRAME_ROW_ERRORS[case]
    (tmp_path / "protocol.csv").write_text("path,label,split,video_id\n" + body)
    with pytest.raises(ProtocolError, match=message):
        load_protocol("csv", tmp_path)


def test_casia_and_oulu_read_frame_folders_in_place_of_videos(tmp_path):
    casia = fakes.build_casia_fasd(tmp_path / "casia", n_train=2, n_test=1, corrupt=False)
    for stem in ("1", "HR_4"):  # test subject 21 released as frame folders
        (casia.root / f"test_release/1/{stem}.avi").unlink()
        fakes.write_frame_folder(casia, f"test_release/1/{stem}", 2, faces=False)
    fakes.write_frame_folder(casia, "train_release/1/2", 2, faces=False)  # beside 2.avi
    res = load_protocol("casia_fasd", casia.root)
    paths = set(res.table["path"])
    assert {"test_release/1/1", "test_release/1/HR_4", "train_release/1/2.avi"} <= paths
    assert len(res.table) == 3 * 12 and res.skips == {"duplicate_entry": 1}
    row = res.table[res.table["path"] == "test_release/1/HR_4"].iloc[0]
    assert (row["attack_type"], row["quality"], row["video_id"]) == (
        "video_replay", "high", "test_release/1/HR_4")
    oulu = fakes.build_oulu_npu(tmp_path / "oulu")
    (oulu.root / "Train_files/1_1_01_1.avi").unlink()
    fakes.write_frame_folder(oulu, "Train_files/1_1_01_1", 2, faces=False)
    res = load_protocol("oulu_npu", oulu.root, "1")
    row = res.table[res.table["video_id"] == "Train_files/1_1_01_1"].iloc[0]
    assert row["path"] == "Train_files/1_1_01_1" and row["label"] == 1 and not res.skips


def test_synthspoof_reads_generator_protocol(tmp_path):
    fake = fakes.build_generic_csv(tmp_path / "user", n_per_class=1)
    table = load_protocol("csv", fake.root).table
    write_protocol(table, tmp_path / "synth" / "protocol.csv")
    with pytest.raises(DatasetLayoutError, match="lacks protocol.csv.*generator"):
        load_protocol("synthspoof", tmp_path)
    for rel in table["path"]:
        (tmp_path / "synth" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "synth" / rel).write_bytes(fakes.video_bytes())
    res = load_protocol("synthspoof", tmp_path / "synth")
    pd.testing.assert_frame_equal(res.table, table)


# ----------------------------------------------------------------------------- shared helpers
def test_read_list_file_handles_crlf_bom_and_blanks(tmp_path):
    (tmp_path / "l.txt").write_bytes(b"\xef\xbb\xbfa/1.jpg\r\n\r\n  b/2.jpg  \r\nc/3.jpg")
    assert read_list_file(tmp_path / "l.txt") == ["a/1.jpg", "b/2.jpg", "c/3.jpg"]


def test_read_face_locations_formats_and_errors(tmp_path):
    (tmp_path / "a.face").write_bytes(b"0 10 20 30 40\r\n1 0 0 0 0\r\n2,1,2,3,4\r\n")
    boxes = read_face_locations(tmp_path / "a.face")
    assert boxes == {0: (10, 20, 30, 40), 1: None, 2: (1, 2, 3, 4)}
    (tmp_path / "b.face").write_text("0 1 2 3 4\n1 1 2\n")
    with pytest.raises(ValueError, match=r"b\.face:2: expected 'frame x y w h'"):
        read_face_locations(tmp_path / "b.face")
    with pytest.raises(DatasetLayoutError):
        read_face_locations(tmp_path / "missing.face")


BUILDERS = {
    "casia_fasd": lambda p: fakes.build_casia_fasd(p, 1, 1),
    "replay_attack": lambda p: fakes.build_replay_attack(p, 1, 1, 1),
    "oulu_npu": lambda p: fakes.build_oulu_npu(p, 1, 1, 1),
    "nuaa": lambda p: fakes.build_nuaa(p, 2, 1, 1),
    "casia_surf": lambda p: fakes.build_casia_surf(p, 1, 1, 2),
    "csv": lambda p: fakes.build_generic_csv(p, 1),
}


@pytest.mark.parametrize("dataset", list(BUILDERS))
def test_every_adapter_gives_relative_existing_paths_and_decodable_media(tmp_path, dataset):
    fake = BUILDERS[dataset](tmp_path / dataset)
    res = load_protocol(dataset, fake.root)
    t = res.table
    pd.testing.assert_frame_equal(validate(t), t)
    assert len(t) and not t["path"].str.startswith("/").any()
    assert all((fake.root / p).is_file() for p in t["path"])
    assert set(t["path"]) <= set(fake.files)
    if dataset != "casia_surf":  # there, frames of one recording share a video_id
        assert t["video_id"].is_unique
    first = next(p for p in t["path"] if p not in fake.corrupt)
    if first.endswith(".jpg"):
        assert cv2.imread(str(fake.root / first)).shape == (24, 32, 3)
    else:
        cap, frames = cv2.VideoCapture(str(fake.root / first)), []
        while (frame := cap.read()[1]) is not None:
            frames.append(frame)
        cap.release()
        assert len(frames) == fakes.N_FRAMES and frames[0].shape == (24, 32, 3)


def test_summary_and_absolute(casia):
    res = load_protocol("casia_fasd", casia.root, "standard")
    s = res.summary()
    assert list(s.index) == ["train", "dev", "test"] and s.loc["test", "total"] == 24
    assert res.absolute("test_release/1/1.avi").is_file()
