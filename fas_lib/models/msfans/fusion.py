"""Fusion heads of MS-FANS: per-scale features ``(B, n, D)`` -> two-way logits ``(B, 2)``.

Every head follows the same two-step recipe, so that a notebook can replace the learned scale
weights by its own (notebook 05's sliders) without running the CNN again:

1. scale weights ``w`` of shape ``(B, n)``: :meth:`FusionHead.default_weights` (what the head
   itself uses) or any weights the caller passes;
2. :meth:`FusionHead.combine` mixes the features with ``w``; a linear layer classifies the result.

=========  =================================  =======================================  ===========
head       default weights ``w``              fused feature                            classifier
=========  =================================  =======================================  ===========
single     one-hot at ``scale_index``         ``sum_i w_i f_i`` = ``f_k``              ``D -> 2``
average    ``1/n`` for every scale            ``sum_i w_i f_i`` (the mean)             ``D -> 2``
concat     ``1`` for every scale              ``[w_1 f_1, ..., w_n f_n]`` (``n*D``)    ``nD -> 2``
msfans     LSTM outputs ``alpha_i`` (Eq. 2)   ``sum_i alpha_i f_i`` (Eq. 3)            ``D -> 2``
=========  =================================  =======================================  ===========

Also here: the auxiliary per-scale classifiers (Eq. 5, :class:`AuxClassifiers`), the output record
:class:`MultiScaleOutput`, the loss of Eq. 6 (:func:`msfans_loss`) and :func:`scores_from_logits`.
The whole model, :class:`fas_lib.models.msfans.multiscale.MultiScaleNet`, and the CNNs
(:mod:`fas_lib.models.msfans.cnn`) live beside it; :mod:`fas_lib.models` re-exports these names.

Class index 1 of the logits is *bona fide* (:data:`fas_lib.LIVE`), index 0 is *attack*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Names accepted by :func:`build_fusion` (and ``MultiScaleNet(fusion=...)``).
FUSIONS: tuple[str, ...] = ("single", "average", "concat", "msfans")

#: How the MS-FANS head turns the LSTM outputs into scale weights.
WEIGHT_NORMS: tuple[str, ...] = ("none", "softmax")


def as_weights(
    weights: Tensor | Sequence[float], batch: int, n_scales: int, like: Tensor
) -> Tensor:
    """Broadcast user weights (``(n,)`` or ``(B, n)``; tensor, list or array) to ``(B, n)``.

    Args:
        weights: one weight per scale, shared by the batch, or one row per sample.
        batch: ``B``.
        n_scales: ``n``.
        like: a tensor whose dtype and device the result takes.

    Raises:
        ValueError: when the shape is neither ``(n,)`` nor ``(B, n)``.
    """
    w = torch.as_tensor(weights, dtype=like.dtype, device=like.device)
    if w.dim() == 1 and w.shape[0] == n_scales:
        return w.unsqueeze(0).expand(batch, n_scales)
    if w.dim() == 2 and tuple(w.shape) == (batch, n_scales):
        return w
    raise ValueError(
        f"scale weights must have shape ({n_scales},) or ({batch}, {n_scales}); "
        f"got {tuple(w.shape)}"
    )


class FusionHead(nn.Module):
    """Base class: weights, then fusion, then a linear 2-way classifier.

    Args:
        feature_dim: ``D``, the width of one scale's CNN feature.
        n_scales: ``n``, how many scales are fused.
    """

    name: str = "base"

    def __init__(self, feature_dim: int, n_scales: int) -> None:
        super().__init__()
        if n_scales < 1:
            raise ValueError(f"n_scales must be >= 1, got {n_scales}")
        self.feature_dim = feature_dim
        self.n_scales = n_scales
        self.classifier = nn.Linear(self.fused_dim, 2)

    @property
    def fused_dim(self) -> int:
        """Width of the fused feature that the classifier reads."""
        return self.feature_dim

    def default_weights(self, feats: Tensor) -> Tensor:
        """The head's own scale weights ``(B, n)`` for features ``(B, n, D)``."""
        raise NotImplementedError

    def combine(self, feats: Tensor, weights: Tensor) -> Tensor:
        """Weighted sum ``sum_i w_i f_i``: ``(B, n, D)``, ``(B, n)`` -> ``(B, D)`` (Eq. 3)."""
        return (weights.unsqueeze(-1) * feats).sum(dim=1)

    def forward(
        self, feats: Tensor, weights: Tensor | Sequence[float] | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Fuse and classify.

        Args:
            feats: per-scale features ``(B, n, D)``.
            weights: ``None`` for the head's own weights, else ``(n,)`` or ``(B, n)`` weights that
                are used exactly as given (no normalisation).

        Returns:
            ``(logits (B, 2), weights (B, n), fused feature (B, fused_dim))``.
        """
        if feats.dim() != 3 or tuple(feats.shape[1:]) != (self.n_scales, self.feature_dim):
            raise ValueError(
                f"expected features of shape (B, {self.n_scales}, {self.feature_dim}); "
                f"got {tuple(feats.shape)}"
            )
        if weights is None:
            w = self.default_weights(feats)
        else:
            w = as_weights(weights, feats.shape[0], self.n_scales, feats)
        fused = self.combine(feats, w)
        return self.classifier(fused), w, fused


class SingleScaleFusion(FusionHead):
    """Use one scale only (Table II models, and Table III's "best single scale").

    Args:
        feature_dim: ``D``.
        n_scales: ``n``; train Table II models with ``n_scales=1``: with more scales the CNN
            still runs on all of them (uniform output shapes); only ``scale_index`` is classified.
        scale_index: which scale (0-based position in the input) is classified.
    """

    name = "single"

    def __init__(self, feature_dim: int, n_scales: int, scale_index: int = 0) -> None:
        super().__init__(feature_dim, n_scales)
        if not 0 <= scale_index < n_scales:
            raise ValueError(f"scale_index must be in [0, {n_scales}), got {scale_index}")
        self.scale_index = scale_index

    def default_weights(self, feats: Tensor) -> Tensor:
        """One-hot weights at ``scale_index``."""
        w = feats.new_zeros(feats.shape[0], self.n_scales)
        w[:, self.scale_index] = 1.0
        return w


class AverageFusion(FusionHead):
    """Table III's "Average": the mean of the scale features, then a linear classifier."""

    name = "average"

    def default_weights(self, feats: Tensor) -> Tensor:
        """Uniform weights ``1/n``."""
        return feats.new_full((feats.shape[0], self.n_scales), 1.0 / self.n_scales)


class ConcatFusion(FusionHead):
    """Table III's "Concat": ``[f_1, ..., f_n]`` (length ``n*D``), then a linear classifier.

    Hand-set weights multiply each block: ``[w_1 f_1, ..., w_n f_n]``; the default is all ones.
    """

    name = "concat"

    @property
    def fused_dim(self) -> int:
        """``n * D``."""
        return self.feature_dim * self.n_scales

    def default_weights(self, feats: Tensor) -> Tensor:
        """All ones: the plain concatenation."""
        return feats.new_ones(feats.shape[0], self.n_scales)

    def combine(self, feats: Tensor, weights: Tensor) -> Tensor:
        """Concatenate the weighted blocks: ``(B, n, D)`` -> ``(B, n*D)``."""
        return (weights.unsqueeze(-1) * feats).flatten(1)


class MSFANSFusion(FusionHead):
    """Adaptive fusion of MS-FANS (Sec. III-B, Eq. 2-4): an LSTM with one hidden unit.

    The LSTM (``nn.LSTM(D, 1, batch_first=True)``, zero initial state) reads the scale features
    in input order (smallest crop first when the scales are sorted) and its hidden output at step
    ``i`` is the scale's weight (Eq. 2); the fused feature is ``f = sum_i alpha_i f_i`` (Eq. 3) and
    a linear layer ``D -> 2`` with softmax classifies it (Eq. 4).

    Choices the paper leaves open:

    * ``weight_norm="none"`` (default, **the paper's reading**): ``alpha_i`` is the raw LSTM
      output ``h_i = o_i * tanh(c_i)``, so it lies in ``(-1, 1)``, weights need not sum to 1 and
      may be negative. ``weight_norm="softmax"`` (**our option, not in the paper**): softmax of
      the LSTM outputs over the scales, so weights are positive and sum to 1 (since
      ``h_i`` is in ``(-1, 1)`` the largest possible weight ratio is ``e^2``, about 7.4).
    * Initialisation: PyTorch's LSTM default draws every weight from ``U(-1/sqrt(H), 1/sqrt(H))``,
      i.e. ``U(-1, 1)`` for ``H = 1``, which saturates the gates on a ``D = 1024`` input. We
      redraw the input-to-hidden weights from ``U(-1/sqrt(D), 1/sqrt(D))`` (what ``nn.Linear``
      does for a ``D``-input layer); recurrent weights and biases keep the default.

    Caution (observed, not in the paper): with raw weights, ``alpha = 0`` is an attractor while
    the fused classifier is worse than chance -- shrinking ``f`` brings its loss down to
    ``log 2``. Memorising 8 pure-noise samples with Adam (``lr`` 1e-4 or 1e-3) drives every
    ``alpha`` to 0 within about 10 steps; the output gate saturates and the fused path stops
    learning (the auxiliary losses still train the CNN). On learnable data the weights instead
    grow in magnitude towards 1 (often negative: the classifier absorbs the sign).
    ``"softmax"`` cannot collapse this way.

    Args:
        feature_dim: ``D``.
        n_scales: ``n``.
        weight_norm: ``"none"`` or ``"softmax"`` (see above).
    """

    name = "msfans"

    def __init__(self, feature_dim: int, n_scales: int, weight_norm: str = "none") -> None:
        super().__init__(feature_dim, n_scales)
        if weight_norm not in WEIGHT_NORMS:
            raise ValueError(f"weight_norm must be one of {WEIGHT_NORMS}, got {weight_norm!r}")
        self.weight_norm = weight_norm
        self.lstm = nn.LSTM(feature_dim, 1, batch_first=True)
        bound = 1.0 / math.sqrt(feature_dim)
        nn.init.uniform_(self.lstm.weight_ih_l0, -bound, bound)

    def lstm_outputs(self, feats: Tensor) -> Tensor:
        """The raw LSTM hidden outputs ``h_i`` for every scale: ``(B, n, D)`` -> ``(B, n)``."""
        out, _ = self.lstm(feats)
        return out.squeeze(-1)

    def default_weights(self, feats: Tensor) -> Tensor:
        """Scale weights ``alpha`` (Eq. 2), normalised as ``weight_norm`` says."""
        h = self.lstm_outputs(feats)
        return torch.softmax(h, dim=1) if self.weight_norm == "softmax" else h


def build_fusion(
    name: str,
    feature_dim: int,
    n_scales: int,
    weight_norm: str = "none",
    scale_index: int = 0,
) -> FusionHead:
    """Build a fusion head by name.

    Args:
        name: one of :data:`FUSIONS`.
        feature_dim: ``D``.
        n_scales: ``n``.
        weight_norm: only for ``"msfans"``: ``"none"`` (paper) or ``"softmax"``.
        scale_index: only for ``"single"``: the scale that is classified.

    Raises:
        ValueError: on an unknown name.
    """
    if name == "single":
        return SingleScaleFusion(feature_dim, n_scales, scale_index)
    if name == "average":
        return AverageFusion(feature_dim, n_scales)
    if name == "concat":
        return ConcatFusion(feature_dim, n_scales)
    if name == "msfans":
        return MSFANSFusion(feature_dim, n_scales, weight_norm)
    raise ValueError(f"unknown fusion {name!r}; expected one of {FUSIONS}")


class AuxClassifiers(nn.Module):
    """The auxiliary per-scale classifiers of Eq. 5: scale features ``(B, n, D)`` -> ``(B, n, 2)``.

    The paper imposes "an auxiliary loss ... on the CNN features of each scale" but does not say
    whether the ``n`` classifiers share weights. Default (``shared=False``): one ``D -> 2`` linear
    layer per scale, because each crop scale has its own feature statistics (Table II shows the
    scales behave differently) and the per-scale logits then read as ``n`` single-scale models;
    ``shared=True`` uses one layer for all scales (``2D + 2`` parameters instead of ``n(2D + 2)``).

    Args:
        feature_dim: ``D``.
        n_scales: ``n``.
        shared: one classifier for all scales instead of one per scale.
    """

    def __init__(self, feature_dim: int, n_scales: int, shared: bool = False) -> None:
        super().__init__()
        self.shared = shared
        self.n_scales = n_scales
        self.heads = nn.ModuleList(
            nn.Linear(feature_dim, 2) for _ in range(1 if shared else n_scales)
        )

    def forward(self, feats: Tensor) -> Tensor:
        """Per-scale logits ``(B, n, 2)``."""
        if self.shared:
            return self.heads[0](feats)
        return torch.stack([head(feats[:, i]) for i, head in enumerate(self.heads)], dim=1)


@dataclass
class MultiScaleOutput:
    """Everything :meth:`MultiScaleNet.forward` computes.

    Attributes:
        logits: fused-feature logits ``(B, 2)`` (index 1 = bona fide), Eq. 4.
        per_scale_logits: auxiliary classifiers' logits ``(B, n, 2)``, Eq. 5.
        weights: scale weights ``(B, n)`` used by the fusion (MS-FANS: ``alpha``, Eq. 2).
        fused: fused feature ``(B, D)`` (``(B, n*D)`` for ``concat``), Eq. 3.
        features: per-scale CNN features ``(B, n, D)``, Eq. 1.
    """

    logits: Tensor
    per_scale_logits: Tensor
    weights: Tensor
    fused: Tensor
    features: Tensor


def scores_from_logits(logits: Tensor) -> Tensor:
    """Bona-fide probability ``softmax(logits)[:, 1]``; higher means more likely bona fide.

    Works on ``(B, 2)`` and on per-scale ``(B, n, 2)`` logits (returns ``(B,)`` or ``(B, n)``).
    """
    return torch.softmax(logits, dim=-1)[..., 1]


def msfans_loss(
    output: MultiScaleOutput,
    targets: Tensor,
    iteration: int,
    max_iter: int,
    aux_weight: float = 0.5,
    return_parts: bool = False,
) -> Tensor | tuple[Tensor, dict[str, float]]:
    """Eq. 6: ``CE(fused) + aux_weight * sum_i CE(aux_i)`` while ``iteration < max_iter / 2``.

    From ``iteration >= max_iter / 2`` on only ``CE(fused)`` remains (the paper writes ``<`` and
    ``>``; the boundary itself goes to the second phase). Each cross-entropy is a batch mean; the
    auxiliary terms are *summed* over scales, as in Eq. 6. ``aux_weight=0`` trains without
    auxiliary losses (the paper does not say whether its Table II/III baselines used them).

    Args:
        output: a :class:`MultiScaleOutput`.
        targets: labels ``(B,)``, 1 = bona fide, 0 = attack.
        iteration: current iteration (0-based).
        max_iter: total number of training iterations (``MAXITER``).
        aux_weight: weight of the auxiliary losses (paper: 0.5).
        return_parts: also return the terms as floats (``fused``, ``aux``, ``aux_active``).
    """
    targets = targets.long()
    loss_fused = F.cross_entropy(output.logits, targets)
    aux_active = iteration < max_iter / 2 and aux_weight != 0
    loss = loss_fused
    loss_aux = torch.zeros((), device=loss_fused.device)
    if aux_active:
        n = output.per_scale_logits.shape[1]
        loss_aux = sum(F.cross_entropy(output.per_scale_logits[:, i], targets) for i in range(n))
        loss = loss_fused + aux_weight * loss_aux
    if return_parts:
        parts = dict(fused=loss_fused.item(), aux=loss_aux.item(), aux_active=float(aux_active))
        return loss, parts
    return loss
