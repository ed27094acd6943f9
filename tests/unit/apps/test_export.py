"""Unit tests of fas_lib.apps.export and ``fas export``: ONNX Runtime against PyTorch, metadata.

Fixture: ``tiny_run`` of tests/conftest.py (MS-FANS trained 3 epochs on the tiny SynthSpoof
``reference`` cache); its test crops are the parity set.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fas_lib.apps.cli import main
from fas_lib.apps.export import (
    ScoringModel,
    export_onnx,
    onnx_scores,
    onnx_session,
    read_metadata,
    threshold_of,
)
from fas_lib.apps.predict import Predictor, portrait_files, run_threshold
from fas_lib.cache.loader import centre_input, load_split_tensors
from fas_lib.data.io import read_image
from fas_lib.training.config import scale_indices
from fas_lib.training.runs import load_run

pytestmark = pytest.mark.usefixtures("one_thread", "private_data_dir")

#: The issue's bound on the score difference between ONNX Runtime and PyTorch.
PARITY = 1e-4


@pytest.fixture(scope="module")
def onnx_file(tiny_run, tmp_path_factory):
    return export_onnx(tiny_run, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def test_onnx_runtime_matches_pytorch_on_the_test_crops(onnx_file, tiny_run, reference):
    model, cfg = load_run(tiny_run)
    x = load_split_tensors(reference, "test", scale_indices(reference, cfg.scales)).x
    with torch.no_grad():
        want_s, want_w = (t.numpy() for t in ScoringModel(model)(x))
    assert want_s.std() > 1e-3 and np.abs(want_w).mean() > 0.05  # not a collapsed model
    session = onnx_session(onnx_file, threads=1)
    got_s, got_w = onnx_scores(session, x)
    assert got_s.shape == (len(x),) and got_w.shape == (len(x), 3)
    err = float(np.abs(got_s - want_s).max())
    print(f"ONNX Runtime vs PyTorch, {len(x)} test frames: max |score diff| = {err:.2e}")
    assert err < PARITY
    assert np.abs(got_w - want_w).max() < PARITY
    for b in (1, 3):  # dynamic batch: other sizes than the traced one (2)
        s, _ = onnx_scores(session, x[:b])
        assert np.abs(s - want_s[:b]).max() < PARITY


def test_onnx_scores_a_portrait_like_predict(onnx_file, tiny_run):
    predictor = Predictor.from_run(tiny_run, device="cpu", keep_crops=True)
    face = predictor.predict_frame(read_image(portrait_files()["astronaut"]))[0]
    s, w = onnx_scores(onnx_session(onnx_file), centre_input(face.crops[None]))
    assert abs(float(s[0]) - face.score) < PARITY
    assert np.abs(w[0] - list(face.weights.values())).max() < PARITY


def test_metadata_describes_inputs_preprocessing_and_threshold(onnx_file, tiny_run):
    meta = read_metadata(onnx_file)
    assert json.loads(meta["fas_lib.scales"]) == [1.1, 1.2, 1.3]
    assert "float32 (batch, 3, 3, 112, 112)" in meta["fas_lib.input"]
    assert "x / 127.5 - 1" in meta["fas_lib.preprocessing"]
    assert "dlib" in meta["fas_lib.preprocessing"] and meta["fas_lib.crop_size"] == "128"
    assert json.loads(meta["fas_lib.training.config"])["fusion"] == "msfans"
    assert threshold_of(onnx_file) == run_threshold(tiny_run)
    import onnx

    proto = onnx.load(str(onnx_file))
    (inp,) = proto.graph.input
    assert inp.name == "crops" and inp.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [o.name for o in proto.graph.output] == ["score", "weights"]


def test_cli_export_and_wrong_run(tiny_run, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "--run", str(tiny_run), "--onnx", str(out)]) == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert main(["export", "--run", str(tmp_path / "nope"), "--onnx", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no run folder" in err
