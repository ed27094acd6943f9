"""MS-FANS's multi-scale model: one shared CNN (Eq. 1), a fusion head and auxiliary classifiers.

:class:`MultiScaleNet` runs one backbone of :mod:`fas_lib.models.msfans.cnn` over every scale, fuses
the per-scale features with a head of :mod:`fas_lib.models.msfans.fusion` (``single`` / ``average``
/ ``concat`` / ``msfans``) and classifies each scale with the auxiliary classifiers (Eq. 5).

Label convention: logit index 1 is bona fide (:data:`fas_lib.LIVE`), so
``scores_from_logits(logits) = softmax(logits)[:, 1]`` is higher for more bona fide inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from fas_lib.models.msfans.cnn import build_backbone
from fas_lib.models.msfans.fusion import AuxClassifiers, FusionHead, MultiScaleOutput, build_fusion

__all__ = ["MultiScaleNet"]


class MultiScaleNet(nn.Module):
    """MS-FANS and its baselines: a shared CNN over ``n`` scales, a fusion head, aux classifiers.

    Eq. 1 uses one CNN for every scale: the input ``(B, n, 3, H, W)`` is folded into a batch of
    ``B*n`` crops, so BatchNorm statistics in training mix all scales of the batch. The auxiliary
    classifiers exist for every fusion; :func:`msfans_loss` decides whether they are trained.

    Re-weighting scales by hand without re-running the CNN (notebook 05)::

        model.eval()
        with torch.no_grad():
            feats = model.extract_features(crops)                # (B, n, D), once
            scores = scores_from_logits(model.classify_features(feats, weights=[0.2, 0.5, 0.3]))

    Args:
        backbone: ``"cnn_s"``, ``"cnn_d"`` or a built module with ``.feature_dim``.
        fusion: ``"single"``, ``"average"``, ``"concat"`` or ``"msfans"``.
        n_scales: number of crops per sample, in input order.
        weight_norm: MS-FANS weights: ``"none"`` (paper, raw LSTM outputs) or ``"softmax"``.
        dropout: dropout after each FC of the backbone.
        scale_index: for ``fusion="single"``: the scale that is classified.
        aux_shared: one auxiliary classifier for all scales (``True``) or one per scale.
        input_size: crop side (paper: 112).
        conv_padding: backbone convolution padding (see :class:`TableICNN`).
    """

    def __init__(
        self,
        backbone: str | nn.Module = "cnn_s",
        fusion: str = "msfans",
        n_scales: int = 3,
        weight_norm: str = "none",
        dropout: float = 0.5,
        scale_index: int = 0,
        aux_shared: bool = False,
        input_size: int = 112,
        conv_padding: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(backbone, str):
            self.backbone: nn.Module = build_backbone(backbone, input_size, conv_padding, dropout)
        else:
            self.backbone = backbone
        self.feature_dim: int = int(self.backbone.feature_dim)
        self.n_scales = n_scales
        self.fusion_name = fusion
        #: Keyword arguments that rebuild this model (for checkpoints).
        self.config: dict[str, Any] = dict(
            backbone=backbone if isinstance(backbone, str) else type(backbone).__name__,
            fusion=fusion, n_scales=n_scales, weight_norm=weight_norm, dropout=dropout,
            scale_index=scale_index, aux_shared=aux_shared, input_size=input_size,
            conv_padding=conv_padding,
        )
        self.fusion: FusionHead = build_fusion(
            fusion, self.feature_dim, n_scales, weight_norm=weight_norm, scale_index=scale_index
        )
        self.aux = AuxClassifiers(self.feature_dim, n_scales, shared=aux_shared)

    def extract_features(self, x: Tensor) -> Tensor:
        """Eq. 1 with one shared CNN: crops ``(B, n, 3, H, W)`` -> features ``(B, n, D)``.

        A 4-D input ``(B, 3, H, W)`` is accepted when ``n_scales == 1``.
        """
        if x.dim() == 4 and self.n_scales == 1:
            x = x.unsqueeze(1)
        if x.dim() != 5 or x.shape[1] != self.n_scales:
            raise ValueError(
                f"expected crops of shape (B, {self.n_scales}, C, H, W); got {tuple(x.shape)}"
            )
        b, n = x.shape[:2]
        return self.backbone(x.flatten(0, 1)).view(b, n, -1)

    def fuse(
        self, feats: Tensor, weights: Tensor | Sequence[float] | None = None
    ) -> MultiScaleOutput:
        """Fuse precomputed features ``(B, n, D)`` and classify them (Eq. 2-5).

        Args:
            feats: per-scale features, e.g. from :meth:`extract_features` in eval mode.
            weights: ``None`` for the model's own weights, else ``(n,)`` or ``(B, n)`` weights
                used as given (not normalised), e.g. from notebook 05's sliders.
        """
        logits, w, fused = self.fusion(feats, weights)
        return MultiScaleOutput(logits, self.aux(feats), w, fused, feats)

    def classify_features(
        self, feats: Tensor, weights: Tensor | Sequence[float] | None = None
    ) -> Tensor:
        """Logits ``(B, 2)`` of the trained classifier on features fused with ``weights``.

        Runs no CNN: changing the weights and re-scoring is instant. With ``weights=None`` this
        equals ``forward(x).logits`` for the same features.
        """
        return self.fusion(feats, weights)[0]

    def scale_weights(self, feats: Tensor) -> Tensor:
        """The model's own scale weights ``(B, n)`` for features ``(B, n, D)``."""
        return self.fusion.default_weights(feats)

    def forward(self, x: Tensor) -> MultiScaleOutput:
        """Crops ``(B, n, 3, H, W)`` -> :class:`MultiScaleOutput`."""
        return self.fuse(self.extract_features(x))
