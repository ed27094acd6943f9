"""Losses of the multi-modal networks: ADSN's BCE + center loss + cosine loss (Deng et al.,
TIFS 2023). MM-FAS trains with plain cross-entropy on its 2 logits (the authors' ``cce``), so it
needs nothing here.

* :func:`center_loss` (Wen et al., ECCV 2016): ``1/2 * mean_i ||f_i - c_{y_i}||^2``;
* :func:`cosine_loss`: our reading of the paper's cosine term (its formula is not in what we
  could find): an angular companion of the center loss on the same centers,
  ``mean_i [(1 - cos(f_i, c_{y_i})) + mean_{k != y_i} max(0, cos(f_i, c_k) - margin)]``, pulling
  each embedding's direction to its class center and pushing it from the other class's;
* :class:`ADSNLoss`: ``lambda_bce * BCE + lambda_center * center + lambda_cosine * cosine``
  with learnable centers (updated by the optimizer with the network's parameters rather than
  Wen et al.'s separate ``alpha`` rule); each weight at 0 removes its term (the ablation;
  without BCE the classifier learns nothing and a model is scored from its embedding's
  cosines to the two centers: :meth:`ADSNLoss.center_scores`).

Labels: 1 = bona fide (:data:`fas_lib.LIVE`), 0 = attack; ADSN's logit is positive for bona fide.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ADSNLoss", "center_loss", "cosine_loss"]


def center_loss(features: Tensor, labels: Tensor, centers: Tensor) -> Tensor:
    """``1/2 * mean_i ||f_i - c_{y_i}||^2``.

    Args:
        features: ``(B, D)``.
        labels: ``(B,)`` class indices.
        centers: ``(K, D)``.
    """
    diff = features - centers[labels.long()]
    return 0.5 * diff.pow(2).sum(dim=1).mean()


def cosine_loss(features: Tensor, labels: Tensor, centers: Tensor, margin: float = 0.0) -> Tensor:
    """``mean_i [(1 - cos(f_i, c_{y_i})) + mean_{k != y_i} max(0, cos(f_i, c_k) - margin)]``.

    Args:
        features: ``(B, D)``.
        labels: ``(B,)`` class indices.
        centers: ``(K, D)``, ``K >= 2``.
        margin: cosine below which another class's center is not pushed away.
    """
    cos = F.normalize(features, dim=1) @ F.normalize(centers, dim=1).T  # (B, K)
    own = F.one_hot(labels.long(), centers.shape[0]).bool()
    pull = 1 - cos[own]
    push = (cos - margin).clamp(min=0).masked_fill(own, 0).sum(dim=1) / (centers.shape[0] - 1)
    return (pull + push).mean()


class ADSNLoss(nn.Module):
    """``lambda_bce * BCE(logit, y) + lambda_center * center_loss + lambda_cosine * cosine_loss``.

    The class centers ``(n_classes, dim)`` are parameters of this module, drawn from
    ``N(0, 0.1^2)`` at start (not zero, so that cosines are defined): give
    ``loss.parameters()`` to the optimizer too.

    Args:
        dim: embedding size (``ADSNConfig.widths[-1]``).
        lambda_center: weight of :func:`center_loss` (0.01: Wen et al.'s order of magnitude).
        lambda_cosine: weight of :func:`cosine_loss`.
        margin: of :func:`cosine_loss`.
        n_classes: number of centers (2: attack, bona fide).
        lambda_bce: weight of the BCE term (1; 0 in the "without BCE" ablation).
    """

    def __init__(self, dim: int, lambda_center: float = 0.01, lambda_cosine: float = 0.1,
                 margin: float = 0.0, n_classes: int = 2, lambda_bce: float = 1.0) -> None:
        super().__init__()
        self.lambda_bce = lambda_bce
        self.centers = nn.Parameter(0.1 * torch.randn(n_classes, dim))
        self.lambda_center = lambda_center
        self.lambda_cosine = lambda_cosine
        self.margin = margin

    def forward(self, output: Sequence[Tensor], labels: Tensor) -> dict[str, Tensor]:
        """The total and each term.

        Args:
            output: an :class:`~fas_lib.models.adsn.ADSNOutput` (or any sequence whose first two
                items are the ``(B,)`` logits and the ``(B, D)`` embedding).
            labels: ``(B,)``, 1 = bona fide.

        Returns:
            ``{"total", "bce", "center", "cosine"}`` (scalars; ``total`` to backpropagate).
        """
        logits, emb = output[0], output[1]
        bce = F.binary_cross_entropy_with_logits(logits, labels.float())
        center = center_loss(emb, labels, self.centers)
        cosine = cosine_loss(emb, labels, self.centers, self.margin)
        total = (self.lambda_bce * bce + self.lambda_center * center
                 + self.lambda_cosine * cosine)
        return {"total": total, "bce": bce, "center": center, "cosine": cosine}

    def center_scores(self, embedding: Tensor) -> Tensor:
        """A bona-fide score from the embedding alone: ``cos(f, c_bona_fide) - cos(f, c_attack)``
        (in ``[-2, 2]``), for a model trained without BCE; ``(B, D) -> (B,)``."""
        cos = F.normalize(embedding, dim=1) @ F.normalize(self.centers, dim=1).T
        return cos[:, 1] - cos[:, 0]
