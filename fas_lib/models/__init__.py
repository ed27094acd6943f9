"""The networks of MS-FANS (Luo et al., ICPR 2018), one module per job.

* :mod:`fas_lib.models.cnn`: :class:`CNN_S` / :class:`CNN_D`, the shallow and deep CNNs of
  Table I (:func:`build_backbone`, :func:`describe`);
* :mod:`fas_lib.models.fusion`: the fusion heads (``single`` / ``average`` / ``concat`` /
  ``msfans``, :func:`build_fusion`), the auxiliary classifiers (Eq. 5), :func:`msfans_loss`
  (Eq. 6) and :func:`scores_from_logits`;
* :mod:`fas_lib.models.multiscale`: :class:`MultiScaleNet`, **one** CNN shared by all scales
  (Eq. 1), a fusion head and the auxiliary classifiers;
* :mod:`fas_lib.models.profile`: :func:`count_flops` / :func:`paper_convention_flops` /
  :func:`compare_with_paper` (Table IV),
  :func:`measure_latency`;
* :mod:`fas_lib.models.face_recognition`: :class:`DlibResNet`, dlib's face-recognition ResNet
  read from its ``.dat`` file (:func:`load_face_recognition_net`), its 128-d descriptors and
  trunk feature maps (:func:`embed_with_features`), for MM-FAS's face-recognition init;
* :mod:`fas_lib.models.dlib_dat`: :func:`read_dlib_net`, dlib's binary model format read
  without dlib (:class:`DlibReader`, :class:`DlibNetFile`, :class:`DlibModelError`).

Every public name is re-exported here: ``from fas_lib.models import MultiScaleNet, CNN_S,
build_fusion, msfans_loss``.

Label convention: logit index 1 is bona fide (:data:`fas_lib.LIVE`), so
``scores_from_logits(logits) = softmax(logits)[:, 1]`` is higher for more bona fide inputs.
"""

from fas_lib.models.cnn import (
    BACKBONES,
    CNN_D,
    CNN_D_SPEC,
    CNN_S,
    CNN_S_SPEC,
    TableICNN,
    build_backbone,
    describe,
)
from fas_lib.models.dlib_dat import (
    DlibLayer,
    DlibModelError,
    DlibNetFile,
    DlibReader,
    read_dlib_net,
)
from fas_lib.models.face_recognition import (
    DESCRIPTOR_DIM,
    FEATURE_NAMES,
    DlibResNet,
    add_prev,
    default_model_path,
    embed_with_features,
    face_descriptors,
    load_face_recognition_net,
)
from fas_lib.models.fusion import (
    FUSIONS,
    WEIGHT_NORMS,
    AuxClassifiers,
    AverageFusion,
    ConcatFusion,
    FusionHead,
    MSFANSFusion,
    MultiScaleOutput,
    SingleScaleFusion,
    as_weights,
    build_fusion,
    msfans_loss,
    scores_from_logits,
)
from fas_lib.models.multiscale import MultiScaleNet
from fas_lib.models.profile import (
    PAPER_TABLE_IV_FLOPS,
    compare_with_paper,
    count_flops,
    measure_latency,
    paper_convention_flops,
)

__all__ = [
    "BACKBONES", "CNN_D", "CNN_D_SPEC", "CNN_S", "CNN_S_SPEC", "DESCRIPTOR_DIM", "FEATURE_NAMES",
    "FUSIONS", "PAPER_TABLE_IV_FLOPS", "WEIGHT_NORMS", "AuxClassifiers", "AverageFusion",
    "ConcatFusion", "DlibLayer", "DlibModelError", "DlibNetFile", "DlibReader", "DlibResNet",
    "FusionHead", "MSFANSFusion", "MultiScaleNet", "MultiScaleOutput", "SingleScaleFusion",
    "TableICNN",
    "add_prev", "as_weights", "build_backbone", "build_fusion", "compare_with_paper", "count_flops",
    "default_model_path", "describe", "embed_with_features", "face_descriptors",
    "load_face_recognition_net", "measure_latency", "msfans_loss", "paper_convention_flops",
    "read_dlib_net", "scores_from_logits",
]
