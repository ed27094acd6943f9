"""The networks of MS-FANS (Luo et al., ICPR 2018), one module per job.

* :mod:`fas_lib.models.msfans.cnn`: :class:`CNN_S` / :class:`CNN_D`, the shallow and deep CNNs of
  Table I (:func:`build_backbone`, :func:`describe`);
* :mod:`fas_lib.models.msfans.fusion`: the fusion heads (``single`` / ``average`` / ``concat`` /
  ``msfans``, :func:`build_fusion`), the auxiliary classifiers (Eq. 5), :func:`msfans_loss`
  (Eq. 6) and :func:`scores_from_logits`;
* :mod:`fas_lib.models.msfans.multiscale`: :class:`MultiScaleNet`, **one** CNN shared by all scales
  (Eq. 1), a fusion head and the auxiliary classifiers;
* :mod:`fas_lib.models.profile`: :func:`count_flops` / :func:`paper_convention_flops` /
  :func:`compare_with_paper` (Table IV),
  :func:`measure_latency`;
* :mod:`fas_lib.models.pretrained.face_recognition`: :class:`DlibResNet`, dlib's face-recognition
  ResNet read from its ``.dat`` file (:func:`load_face_recognition_net`), its 128-d descriptors and
  trunk feature maps (:func:`embed_with_features`), for MM-FAS's face-recognition init;
* :mod:`fas_lib.models.pretrained.dlib_dat`: :func:`read_dlib_net`, dlib's binary model format read
  without dlib (:class:`DlibReader`, :class:`DlibNetFile`, :class:`DlibModelError`).

Multi-modal networks (RGB / depth / NIR), issue 12:

* :mod:`fas_lib.models.mmfas.model`: :class:`MMFAS` (Parkin & Grinchuk, CVPRW 2019): per-modality
  trunks, the aggregation path (:class:`AggregationBlock`), presets :data:`MMFAS_PRESETS`,
  :func:`build_mmfas`, :func:`describe_mmfas`;
* :mod:`fas_lib.models.adsn.model`: :class:`ADSN` (Deng et al., TIFS 2023): :func:`surface_normals`,
  dual ResNet18 streams, attention fusion (:class:`GlobalCrossModal`,
  :class:`LocalParts`), :func:`attention_maps`, :data:`ADSN_PRESETS`, :func:`build_adsn`,
  :func:`describe_adsn`;
* :mod:`fas_lib.models.adsn.losses`: :func:`center_loss`, :func:`cosine_loss`,
  :func:`overlap_loss`, :func:`part_center_loss`, :class:`ADSNLoss`;
* :mod:`fas_lib.models.mmfas.blocks`: the residual stages they share, :func:`as_modalities`,
  :func:`describe_presets`.

Every public name is re-exported here: ``from fas_lib.models import MultiScaleNet, CNN_S,
build_fusion, msfans_loss``.

Label convention: logit index 1 is bona fide (:data:`fas_lib.LIVE`), so
``scores_from_logits(logits) = softmax(logits)[:, 1]`` is higher for more bona fide inputs.
"""

from fas_lib.models.msfans.cnn import (
    BACKBONES,
    CNN_D,
    CNN_D_SPEC,
    CNN_S,
    CNN_S_SPEC,
    TableICNN,
    build_backbone,
    describe,
)
from fas_lib.models.msfans.fusion import (
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
from fas_lib.models.msfans.multiscale import MultiScaleNet
from fas_lib.models.pretrained.dlib_dat import (
    DlibLayer,
    DlibModelError,
    DlibNetFile,
    DlibReader,
    read_dlib_net,
)
from fas_lib.models.pretrained.face_recognition import (
    DESCRIPTOR_DIM,
    FEATURE_NAMES,
    TRUNK_WIDTHS,
    DlibResNet,
    DlibTrunk,
    add_prev,
    default_model_path,
    dlib_stage,
    dlib_trunk_sides,
    embed_with_features,
    face_descriptors,
    load_face_recognition_net,
)
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

# --- multi-modal networks (issue 12): MM-FAS, ADSN, their losses and shared blocks ---------
from fas_lib.models.adsn.losses import (  # noqa: E402
    ADSNLoss,
    center_loss,
    cosine_loss,
    overlap_loss,
    part_center_loss,
)
from fas_lib.models.adsn.model import (  # noqa: E402
    ADSN,
    ADSN_PRESETS,
    ADSNConfig,
    ADSNOutput,
    ConcatFuse,
    GlobalCrossModal,
    LocalParts,
    ResNet18Trunk,
    adsn_dummy_input,
    attention_maps,
    build_adsn,
    describe_adsn,
    surface_normals,
)
from fas_lib.models.mmfas.blocks import (  # noqa: E402
    CaffeBlock,
    ModalityInput,
    ResNetBlock,
    as_modalities,
    caffe_stage,
    describe_presets,
    resnet_stage,
)
from fas_lib.models.mmfas.model import (  # noqa: E402
    DEFAULT_CHANNELS,
    MMFAS,
    MMFAS_PRESETS,
    AggregationBlock,
    CaffeTrunk,
    MMFASConfig,
    build_mmfas,
    describe_mmfas,
    dlib_trunk_config,
    init_from_face_recognition,
    mmfas_dummy_input,
)

__all__ += [
    "ADSN", "ADSN_PRESETS", "ADSNConfig", "ADSNLoss", "ADSNOutput", "AggregationBlock",
    "CaffeBlock", "CaffeTrunk", "ConcatFuse", "DEFAULT_CHANNELS", "GlobalCrossModal",
    "LocalParts", "MMFAS", "MMFAS_PRESETS", "MMFASConfig", "ModalityInput", "ResNet18Trunk",
    "ResNetBlock", "adsn_dummy_input", "as_modalities", "attention_maps", "build_adsn",
    "build_mmfas", "caffe_stage", "center_loss", "cosine_loss", "describe_adsn",
    "describe_mmfas", "describe_presets", "mmfas_dummy_input", "overlap_loss", "part_center_loss",
    "resnet_stage", "surface_normals",
    "DlibTrunk", "TRUNK_WIDTHS", "dlib_stage", "dlib_trunk_config", "dlib_trunk_sides",
    "init_from_face_recognition",
]

# Temporal models (issue 16): STASN (Yang et al., CVPR 2019) and MS-FANS over time.
from fas_lib.models.msfans.temporal import (  # noqa: E402
    TEMPORAL_MODES,
    TemporalMultiScaleNet,
    TemporalMultiScaleOutput,
    temporal_msfans_loss,
)
from fas_lib.models.stasn.encoders import (  # noqa: E402
    ENCODERS,
    FrameEncoder,
    ResNetEncoder,
    TableEncoder,
    build_frame_encoder,
)
from fas_lib.models.stasn.model import (  # noqa: E402
    BRANCHES,
    STASN,
    STASN_PRESETS,
    STASNOutput,
    stasn_loss,
)
from fas_lib.models.stasn.regions import (  # noqa: E402
    LOCATORS,
    RegionAttention,
    crop_regions,
    region_boxes_px,
    region_overlap,
    region_theta,
)

__all__ += [
    "BRANCHES", "ENCODERS", "LOCATORS", "STASN", "STASN_PRESETS", "TEMPORAL_MODES",
    "FrameEncoder", "RegionAttention", "ResNetEncoder", "STASNOutput", "TableEncoder",
    "TemporalMultiScaleNet", "TemporalMultiScaleOutput", "build_frame_encoder", "crop_regions",
    "region_boxes_px", "region_overlap", "region_theta", "stasn_loss", "temporal_msfans_loss",
]
