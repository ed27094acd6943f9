"""Tests of fas_lib.cache.reader, the reader: the layout, table and manifest of a finished cache,
and the memory-mapped arrays the loader reads.

The fixtures ``synth`` (a tiny SynthSpoof) and ``reference`` (its cache at 2 frames per video)
are in tests/conftest.py.
"""

from __future__ import annotations

import numpy as np

from fas_lib.cache.loader import CropDataset
from fas_lib.data.datasets import load_protocol
from fas_lib.data.io import iter_frames
from fas_lib.data.protocol import COLUMNS
from fas_lib.preprocess.align import FaceAligner


# ----------------------------------------------------------------------------- contents
def test_layout_table_and_manifest(reference, synth):
    c = reference
    protocol = load_protocol("synthspoof", synth).table
    # 9 videos x 2 of 3 frames (the first and the last); dlib may miss a face: counted
    m = c.manifest
    n_no_face = m["skips"]["media"].get("no_face", 0)
    assert len(c.table) == 18 - n_no_face and n_no_face <= 2
    assert m["dataset"] == "synthspoof" and m["protocol"] == "standard" and m["complete"]
    assert m["params"]["n_frames"] == 2 and m["params"]["scales"] == [0.9, 1.0, 1.1, 1.2, 1.3,
                                                                      1.4, 1.5]
    assert set(m["versions"]) >= {"fas_lib", "numpy", "opencv", "dlib"}
    assert list(c.table.columns) == [*COLUMNS, "frame_idx", "index"]
    assert set(c.table["frame_idx"]) <= {0, 2}
    for split in ("train", "dev", "test"):
        f = c.frames(split)
        assert list(f["index"]) == list(range(len(f)))
        assert c.crops(split).shape == (len(f), 7, 128, 128, 3) and c.crops(split).dtype == np.uint8
        assert isinstance(c.crops(split), np.memmap)
        assert c.landmarks(split).shape == (len(f), 5, 2)
        assert c.boxes(split).shape == (len(f), 4) and c.pad_fraction(split).shape == (len(f), 7)
        # protocol table order, then frame index
        order = {p: i for i, p in enumerate(protocol["path"])}
        keys = [(order[p], k) for p, k in zip(f["path"], f["frame_idx"], strict=True)]
        assert keys == sorted(keys)
        assert m["counts"]["frames"][split] == len(f)
        # 1 subject per split: live, print_flat, replay_phone
        assert set(f["attack_type"]) == {"live", "print_flat", "replay_phone"}
    assert not (c.path / "shards").exists()  # shards removed once complete
    # every array row is the frame its table row names: align it again and compare
    aligner = FaceAligner()
    for split in ("train", "test"):
        for row in c.frames(split).itertuples():
            frame = dict(iter_frames(synth / row.path))[row.frame_idx]
            res = aligner.align(frame)
            np.testing.assert_array_equal(c.crops(split)[row.index], res.crops)
            np.testing.assert_allclose(c.landmarks(split)[row.index], res.landmarks, atol=1e-4)
    # crops hold a face: the centre of the scale-1.0 crop is not padding
    assert c.crops("train")[:, 1, 60:68, 60:68].mean() > 20
    assert (c.pad_fraction("train")[:, 0] <= c.pad_fraction("train")[:, -1] + 1e-6).all()



# ----------------------------------------------------------------------------- loader on a real
# cache
def test_crop_dataset_reads_the_memmap(reference):
    ds = CropDataset(reference, "test", [2, 3, 4], train=False)
    x, y, row = ds[0]
    assert x.shape == (3, 3, 112, 112) and x.dtype.is_floating_point
    expected = reference.crops("test")[0, 2:5, 8:120, 8:120].astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(x.numpy().transpose(0, 2, 3, 1), expected, atol=1e-6)
    assert int(y) == int(reference.frames("test")["label"][0]) and row == 0
