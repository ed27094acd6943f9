"""Export a run's whole multi-scale model to ONNX (``fas export``) and run it with ONNX Runtime.

>>> export_onnx("runs/msfans", "msfans.onnx")                       # doctest: +SKIP
>>> session = onnx_session("msfans.onnx")                           # doctest: +SKIP
>>> scores, weights = onnx_scores(session, centre_input(crops).numpy())  # doctest: +SKIP

The exported graph is :class:`ScoringModel`: the shared CNN over the ``n`` crops (Eq. 1), the
fusion head and the softmax, i.e.

* input ``crops``: float32 ``(batch, n, 3, 112, 112)``, the centre 112 x 112 of each
  128 x 128 aligned crop, RGB, ``x / 127.5 - 1`` (:func:`fas_lib.cache.loader.centre_input`), the
  scales in the run's order;
* outputs ``score``: ``(batch,)`` bona-fide probability (higher = bona fide) and ``weights``:
  ``(batch, n)`` the fusion's per-scale weights (MS-FANS: the LSTM's ``alpha``).

The batch dimension is dynamic. The file's ``metadata_props`` say all of this and how the crops
are cut (detector, landmarks, alignment template, crop size, scales, padding), plus the run's
threshold and where it came from (:func:`export_metadata`), so the file can be used without
this package. The legacy TorchScript exporter is used (``dynamo=False``): it needs no package
beyond ``onnx``, and ``tests/unit/apps/test_export.py`` checks the result against PyTorch.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fas_lib import CROP_SIZE
from fas_lib.apps.predict import Predictor, Threshold
from fas_lib.core.utils import atomic_path, environment
from fas_lib.models import MultiScaleNet, scores_from_logits
from fas_lib.preprocess.geometry import TEMPLATE_5

__all__ = ["INPUT_NAME", "OUTPUT_NAMES", "ScoringModel", "export_metadata", "export_onnx",
           "onnx_scores", "onnx_session", "read_metadata", "threshold_of", "write_onnx"]

INPUT_NAME = "crops"
OUTPUT_NAMES = ("score", "weights")
INPUT_SIZE = 112


class ScoringModel(nn.Module):
    """What the ONNX file holds: crops ``(B, n, 3, 112, 112)`` -> ``(score (B,), weights (B, n))``.

    Args:
        model: a trained :class:`~fas_lib.models.MultiScaleNet` (put in eval mode here).
    """

    def __init__(self, model: MultiScaleNet) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, crops: Tensor) -> tuple[Tensor, Tensor]:
        """Bona-fide scores (softmax of the fused logits, class 1) and per-scale weights."""
        out = self.model(crops)
        return scores_from_logits(out.logits), out.weights


def export_metadata(predictor: Predictor) -> dict[str, str]:
    """The ``metadata_props`` of an exported run: inputs, outputs, preprocessing, threshold."""
    cfg, thr = predictor.config, predictor.threshold
    n = len(predictor.scales)
    return {
        "fas_lib.version": environment(("fas_lib", "torch"))["fas_lib"],
        "fas_lib.run": predictor.run,
        "fas_lib.training.config": json.dumps(cfg.to_dict(), sort_keys=True),
        "fas_lib.scales": json.dumps(list(predictor.scales)),
        "fas_lib.input": (f"{INPUT_NAME}: float32 (batch, {n}, 3, {INPUT_SIZE}, {INPUT_SIZE}), "
                          "one aligned crop per scale in the order of fas_lib.scales, RGB, "
                          "channels first"),
        "fas_lib.outputs": ("score: float32 (batch,), bona-fide probability, higher = bona "
                            f"fide; weights: float32 (batch, {n}), the fusion's weight of each "
                            f"scale ({cfg.fusion}, weight_norm {cfg.weight_norm})"),
        "fas_lib.preprocessing": (
            "1. detect the face (dlib frontal HOG detector on the grey frame, upsample 0); "
            "2. dlib's 5-point shape predictor in the box; 3. least-squares similarity "
            "mapping [mean of points 2 and 3, mean of points 0 and 1, point 4] onto "
            "fas_lib.template_5 (units of the scale-1.0 face box); 4. for each scale s, one "
            f"bilinear affine warp of the RGB frame to a {CROP_SIZE} x {CROP_SIZE} crop of the "
            "square of side s centred on the box centre (0.5, 0.5), black outside the frame; "
            f"5. the centre {INPUT_SIZE} x {INPUT_SIZE} window (offset "
            f"{(CROP_SIZE - INPUT_SIZE) // 2}); 6. x / 127.5 - 1 (uint8 -> [-1, 1])"),
        "fas_lib.template_5": json.dumps(TEMPLATE_5.tolist()),
        "fas_lib.crop_size": str(CROP_SIZE),
        "fas_lib.threshold": repr(thr.value),
        "fas_lib.threshold_source": thr.source,
    }


def export_onnx(run_dir: str | Path, path: str | Path, opset: int = 17,
                threshold: float | None = None) -> Path:
    """Write a finished run's model as an ONNX file with a dynamic batch and its metadata.

    Args:
        run_dir: a finished run folder (``fas train``).
        path: the ``.onnx`` file to write (atomically).
        opset: ONNX opset version.
        threshold: overrides the run's threshold in the metadata.

    Raises:
        FileNotFoundError, ValueError: not a finished run folder (see
            :meth:`fas_lib.apps.predict.Predictor.from_run`).
    """
    predictor = Predictor.from_run(run_dir, device="cpu", threshold=threshold)
    return write_onnx(predictor, path, opset)


def write_onnx(predictor: Predictor, path: str | Path, opset: int = 17) -> Path:
    """:func:`export_onnx` of a :class:`~fas_lib.apps.predict.Predictor`'s model (on the CPU)."""
    import onnx

    wrapper = ScoringModel(copy.deepcopy(predictor.model).cpu())
    example = torch.zeros(2, len(predictor.scales), 3, INPUT_SIZE, INPUT_SIZE)
    dims = {INPUT_NAME: {0: "batch"}, **{k: {0: "batch"} for k in OUTPUT_NAMES}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape checks and the LSTM's state
        torch.onnx.export(wrapper, (example,), str(tmp), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                          dynamic_axes=dims)
        wrapper.eval()  # the exporter restores the root's training flag on every submodule
        proto = onnx.load(str(tmp))
        onnx.helper.set_model_props(proto, export_metadata(predictor))
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def onnx_session(path: str | Path, threads: int | None = None, spin: bool = True) -> Any:
    """An ONNX Runtime CPU session of an exported file.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (``None``: ONNX Runtime's default, one per core).
        spin: let idle worker threads spin-wait for the next call (ONNX Runtime's default;
            ``False`` frees the cores at once, fairer to other work on a small machine).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_scores(session: Any, crops: np.ndarray | Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``(scores (B,), weights (B, n))`` of float32 model inputs ``(B, n, 3, 112, 112)``."""
    x = crops.numpy() if isinstance(crops, Tensor) else np.asarray(crops, np.float32)
    score, weights = session.run(list(OUTPUT_NAMES), {INPUT_NAME: np.ascontiguousarray(x)})
    return score, weights


def threshold_of(path: str | Path) -> Threshold:
    """The threshold an exported file carries in its metadata."""
    meta = read_metadata(path)
    return Threshold(float(meta["fas_lib.threshold"]), meta["fas_lib.threshold_source"])
