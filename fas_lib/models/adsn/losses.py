"""Losses of the multi-modal networks: ADSN's BCE + center loss + cosine loss and its local
terms (Deng et al., TIFS 2023). MM-FAS trains with plain cross-entropy on its 2 logits (the authors'
``cce``), so it needs nothing here.

* :func:`center_loss` (Wen et al., ECCV 2016): ``1/2 * mean_i ||f_i - c_{y_i}||^2``;
* :func:`cosine_loss`: our reading of the paper's cosine term (its formula is not in what we
  could find): an angular companion of the center loss on the same centers,
  ``mean_i [(1 - cos(f_i, c_{y_i})) + mean_{k != y_i} max(0, cos(f_i, c_k) - margin)]``, pulling
  each embedding's direction to its class center and pushing it from the other class's;
* :func:`overlap_loss` and :func:`part_center_loss`: our reading of the abstract's joint loss
  "to ensure that local areas in the image do not overlap and belong to the same class" (the
  formulas are not in what we could find): the mean cosine similarity of every pair of a
  stream's part attention maps (0 when no two parts share a position), and a center loss on
  each part's feature with one center per class and part (as WS-DAN's feature center loss);
* :class:`ADSNLoss`: ``lambda_bce * BCE + lambda_center * center + lambda_cosine * cosine +
  lambda_overlap * overlap + lambda_parts * part_center`` with learnable centers (updated by the
  optimizer with the network's parameters rather than Wen et al.'s separate ``alpha`` rule); each
  weight at 0 removes its term (the ablation; without BCE the classifier learns nothing and a model
  is scored from its embedding's cosines to the two centers: :meth:`ADSNLoss.center_scores`).

Labels: 1 = bona fide (:data:`fas_lib.LIVE`), 0 = attack; ADSN's logit is positive for bona fide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ADSNLoss", "center_loss", "class_rows", "cosine_loss", "overlap_loss",
           "part_center_loss"]


def class_rows(centers: Tensor, labels: Tensor) -> Tensor:
    """``centers[labels]`` (each sample's class center, ``(B, ...)``) as a one-hot product.

    Indexing gives the same values, but its backward pass adds the samples' gradients into
    each center in the order the threads finish, so two ADSN runs on two threads differed
    (by up to 4e-4 in a score after one epoch); the product's backward is a matrix product,
    the same from run to run.
    """
    onehot = F.one_hot(labels.long(), centers.shape[0]).to(centers.dtype)
    rows = onehot @ centers.reshape(centers.shape[0], -1)
    return rows.reshape(len(labels), *centers.shape[1:])


def center_loss(features: Tensor, labels: Tensor, centers: Tensor) -> Tensor:
    """``1/2 * mean_i ||f_i - c_{y_i}||^2``.

    Args:
        features: ``(B, D)``.
        labels: ``(B,)`` class indices.
        centers: ``(K, D)``.
    """
    diff = features - class_rows(centers, labels)
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


def overlap_loss(maps: Tensor) -> Tensor:
    """Mean cosine similarity of every pair of part maps of the same stream (in ``[0, 1]`` for
    non-negative maps; 0 when no two parts share a position).

    Args:
        maps: ``(B, M, K, h, w)``: ``K >= 2`` maps for each of ``M`` streams.
    """
    b, m, k = maps.shape[:3]
    if k < 2:
        return maps.new_zeros(())
    flat = F.normalize(maps.reshape(b, m, k, -1), dim=-1)
    gram = flat @ flat.transpose(-1, -2)  # (B, M, K, K)
    off = ~torch.eye(k, dtype=torch.bool, device=maps.device)
    return gram[..., off].mean()


def part_center_loss(parts: Tensor, labels: Tensor, centers: Tensor) -> Tensor:
    """``1/2 * mean_{i, p} ||f_{i,p} - c_{y_i, p}||^2``: each part's feature near its class's
    center for that part.

    Args:
        parts: ``(B, P, D)`` part features.
        labels: ``(B,)`` class indices.
        centers: ``(K, P, D)``: one center per class and part.
    """
    return 0.5 * (parts - class_rows(centers, labels)).pow(2).sum(dim=-1).mean()


class ADSNLoss(nn.Module):
    """``lambda_bce * BCE(logit, y) + lambda_center * center_loss + lambda_cosine * cosine_loss
    + lambda_overlap * overlap_loss + lambda_parts * part_center_loss``.

    The class centers ``(n_classes, dim)`` (and, with ``parts``, the part centers
    ``(n_classes, parts, dim)``) are parameters of this module, drawn from ``N(0, 0.1^2)`` at
    start (not zero, so that cosines are defined): give ``loss.parameters()`` to the optimizer
    too. The local terms need an output with part maps and features (ADSN with attention
    fusion); for others (the concatenation ablation) they are 0.

    Args:
        dim: embedding size (``ADSNConfig.widths[-1]``).
        lambda_center: weight of :func:`center_loss` (0.01: Wen et al.'s order of magnitude).
        lambda_cosine: weight of :func:`cosine_loss`.
        margin: of :func:`cosine_loss`.
        n_classes: number of centers (2: attack, bona fide).
        lambda_bce: weight of the BCE term (1; 0 in the "without BCE" ablation).
        lambda_overlap: weight of :func:`overlap_loss` (1.0, our choice: in notebook 08's
            study, weights of 0.1 left the parts' maps overlapping nearly as much as without the
            term, a mean cosine of 0.90 against 0.97, while 1.0 separated them, 0.05).
        lambda_parts: weight of :func:`part_center_loss` (0.01, as the center loss's).
        parts: part features per sample (ADSN: ``2 * ADSNConfig.parts``; 0: no part centers).
    """

    def __init__(self, dim: int, lambda_center: float = 0.01, lambda_cosine: float = 0.1,
                 margin: float = 0.0, n_classes: int = 2, lambda_bce: float = 1.0,
                 lambda_overlap: float = 1.0, lambda_parts: float = 0.01,
                 parts: int = 0) -> None:
        super().__init__()
        self.lambda_bce = lambda_bce
        self.centers = nn.Parameter(0.1 * torch.randn(n_classes, dim))
        self.part_centers = (nn.Parameter(0.1 * torch.randn(n_classes, parts, dim))
                             if parts else None)
        self.lambda_center = lambda_center
        self.lambda_cosine = lambda_cosine
        self.lambda_overlap = lambda_overlap
        self.lambda_parts = lambda_parts
        self.margin = margin

    @classmethod
    def for_model(cls, config: Any, **weights: float) -> ADSNLoss:
        """The loss of an ADSN with ``config`` (an :class:`~fas_lib.models.adsn.model.ADSNConfig`):
        its embedding size and, with attention fusion, ``2 * parts`` part centers."""
        parts = 2 * config.parts if config.fusion == "attention" else 0
        return cls(config.widths[-1], parts=parts, **weights)

    def forward(self, output: Sequence[Tensor], labels: Tensor) -> dict[str, Tensor]:
        """The total and each term.

        Args:
            output: an :class:`~fas_lib.models.adsn.model.ADSNOutput` (or any sequence whose first
                two items are the ``(B,)`` logits and the ``(B, D)`` embedding, and whose items 3
                and 4, when present and not ``None``, are the part maps and part features).
            labels: ``(B,)``, 1 = bona fide.

        Returns:
            ``{"total", "bce", "center", "cosine", "overlap", "parts"}`` (scalars; ``total`` to
            backpropagate).
        """
        logits, emb = output[0], output[1]
        bce = F.binary_cross_entropy_with_logits(logits, labels.float())
        center = center_loss(emb, labels, self.centers)
        cosine = cosine_loss(emb, labels, self.centers, self.margin)
        overlap = parts = emb.new_zeros(())
        if len(output) > 4 and output[3] is not None:
            if self.part_centers is None or self.part_centers.shape[1] != output[4].shape[1]:
                raise ValueError("the output has part features but this loss has no matching "
                                 "part centers; build it with ADSNLoss.for_model(config)")
            overlap = overlap_loss(output[3])
            parts = part_center_loss(output[4], labels, self.part_centers)
        total = (self.lambda_bce * bce + self.lambda_center * center
                 + self.lambda_cosine * cosine + self.lambda_overlap * overlap
                 + self.lambda_parts * parts)
        return {"total": total, "bce": bce, "center": center, "cosine": cosine,
                "overlap": overlap, "parts": parts}

    def center_scores(self, embedding: Tensor) -> Tensor:
        """A bona-fide score from the embedding alone: ``cos(f, c_bona_fide) - cos(f, c_attack)``
        (in ``[-2, 2]``), for a model trained without BCE; ``(B, D) -> (B,)``."""
        cos = F.normalize(embedding, dim=1) @ F.normalize(self.centers, dim=1).T
        return cos[:, 1] - cos[:, 0]
