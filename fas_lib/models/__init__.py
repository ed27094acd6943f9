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
  :func:`measure_latency`.

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
    "BACKBONES", "CNN_D", "CNN_D_SPEC", "CNN_S", "CNN_S_SPEC", "FUSIONS", "PAPER_TABLE_IV_FLOPS",
    "WEIGHT_NORMS", "AuxClassifiers", "AverageFusion", "ConcatFusion", "FusionHead",
    "MSFANSFusion", "MultiScaleNet", "MultiScaleOutput", "SingleScaleFusion", "TableICNN",
    "as_weights", "build_backbone", "build_fusion", "compare_with_paper", "count_flops",
    "describe", "measure_latency", "msfans_loss", "paper_convention_flops", "scores_from_logits",
]

# Temporal models (issue 16): STASN (Yang et al., CVPR 2019) and MS-FANS over time.
from fas_lib.models.encoders import (  # noqa: E402
    ENCODERS,
    FrameEncoder,
    ResNetEncoder,
    TableEncoder,
    build_frame_encoder,
)
from fas_lib.models.regions import (  # noqa: E402
    LOCATORS,
    RegionAttention,
    crop_regions,
    region_boxes_px,
    region_overlap,
    region_theta,
)
from fas_lib.models.stasn import (  # noqa: E402
    BRANCHES,
    STASN,
    STASN_PRESETS,
    STASNOutput,
    stasn_loss,
)
from fas_lib.models.temporal import (  # noqa: E402
    TEMPORAL_MODES,
    TemporalMultiScaleNet,
    TemporalMultiScaleOutput,
    temporal_msfans_loss,
)

__all__ += [
    "BRANCHES", "ENCODERS", "LOCATORS", "STASN", "STASN_PRESETS", "TEMPORAL_MODES",
    "FrameEncoder", "RegionAttention", "ResNetEncoder", "STASNOutput", "TableEncoder",
    "TemporalMultiScaleNet", "TemporalMultiScaleOutput", "build_frame_encoder", "crop_regions",
    "region_boxes_px", "region_overlap", "region_theta", "stasn_loss", "temporal_msfans_loss",
]
