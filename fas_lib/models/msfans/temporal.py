"""MS-FANS over time (scales x time): the MS-FANS paper's future work, video input.

:class:`TemporalMultiScaleNet` runs an unchanged
:class:`~fas_lib.models.msfans.multiscale.MultiScaleNet` on every frame of a clip ``(B, T, n, 3, H,
W)`` (``n`` scales of ``T`` frames): its shared CNN (Eq. 1), its fusion head (Eq. 2-4: scale weights
and fused feature per frame) and its auxiliary classifiers (Eq. 5). Then, over time:

* ``temporal="lstm"`` (default): an LSTM reads the ``T`` fused features ``(B, T, D)``; a linear
  layer classifies its last output. Scale fusion answers "which scale", the LSTM "which frames
  and what motion".
* ``temporal="mean"``: **the bypass**: no temporal parameters; the clip logits are the mean over
  frames of MS-FANS's own per-frame logits. With ``T = 1`` this *is* ``MultiScaleNet``: the same
  logits, weights and features as ``frame_model(clip[:, 0])``. It is the single-frame baseline
  averaged over frames.

The frame model is either built from keyword arguments (those of ``MultiScaleNet``) or passed in,
e.g. a trained single-frame model to start from.

Label convention: logit index 1 is bona fide (:data:`fas_lib.LIVE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from fas_lib.models.msfans.multiscale import MultiScaleNet

__all__ = [
    "TEMPORAL_MODES", "TemporalMultiScaleNet", "TemporalMultiScaleOutput",
    "temporal_msfans_loss",
]

#: How :class:`TemporalMultiScaleNet` combines the frames.
TEMPORAL_MODES: tuple[str, ...] = ("lstm", "mean")


@dataclass
class TemporalMultiScaleOutput:
    """Everything :meth:`TemporalMultiScaleNet.forward` computes.

    Attributes:
        logits: clip logits ``(B, 2)`` (index 1 = bona fide).
        frame_logits: MS-FANS's fused logits per frame ``(B, T, 2)`` (Eq. 4).
        per_scale_logits: auxiliary classifiers' logits ``(B, T, n, 2)`` (Eq. 5).
        weights: scale weights per frame ``(B, T, n)`` (MS-FANS: ``alpha``, Eq. 2).
        fused: fused feature per frame ``(B, T, D)`` (Eq. 3).
        features: per-scale CNN features ``(B, T, n, D)`` (Eq. 1).
    """

    logits: Tensor
    frame_logits: Tensor
    per_scale_logits: Tensor
    weights: Tensor
    fused: Tensor
    features: Tensor


class TemporalMultiScaleNet(nn.Module):
    """MS-FANS's scale fusion per frame, then an LSTM (or the mean) over frames.

    Args:
        frame_model: the per-frame model; ``None`` builds ``MultiScaleNet(**frame_kwargs)``.
        temporal: ``"lstm"`` or ``"mean"`` (the bypass; see the module docstring).
        hidden_size: LSTM width (``"lstm"`` only).
        **frame_kwargs: arguments of :class:`~fas_lib.models.msfans.multiscale.MultiScaleNet`
            (``backbone``, ``fusion``, ``n_scales``, ...) when ``frame_model`` is ``None``.
    """

    def __init__(
        self,
        frame_model: MultiScaleNet | None = None,
        temporal: str = "lstm",
        hidden_size: int = 128,
        **frame_kwargs: Any,
    ) -> None:
        super().__init__()
        if temporal not in TEMPORAL_MODES:
            raise ValueError(f"temporal must be one of {TEMPORAL_MODES}, got {temporal!r}")
        if frame_model is not None and frame_kwargs:
            raise ValueError("pass either a frame_model or MultiScaleNet arguments, not both")
        self.frame_model = frame_model if frame_model is not None else MultiScaleNet(**frame_kwargs)
        self.temporal = temporal
        self.n_scales = self.frame_model.n_scales
        #: Keyword arguments that rebuild this model (for checkpoints).
        self.config: dict[str, Any] = dict(
            temporal=temporal, hidden_size=hidden_size, **self.frame_model.config
        )
        if temporal == "lstm":
            fused_dim = self.frame_model.fusion.fused_dim
            self.lstm = nn.LSTM(fused_dim, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, 2)

    def forward(self, clips: Tensor) -> TemporalMultiScaleOutput:
        """Clips ``(B, T, n, 3, H, W)`` -> :class:`TemporalMultiScaleOutput`."""
        if clips.dim() != 6 or clips.shape[2] != self.n_scales:
            raise ValueError(
                f"expected clips of shape (B, T, {self.n_scales}, 3, H, W); "
                f"got {tuple(clips.shape)}"
            )
        b, t = clips.shape[:2]
        out = self.frame_model(clips.flatten(0, 1))  # every frame through MS-FANS
        frame_logits = out.logits.view(b, t, 2)
        fused = out.fused.view(b, t, -1)
        if self.temporal == "lstm":
            hidden, _ = self.lstm(fused)
            logits = self.head(hidden[:, -1])
        else:
            logits = frame_logits.mean(dim=1)
        return TemporalMultiScaleOutput(
            logits=logits,
            frame_logits=frame_logits,
            per_scale_logits=out.per_scale_logits.view(b, t, self.n_scales, 2),
            weights=out.weights.view(b, t, self.n_scales),
            fused=fused,
            features=out.features.view(b, t, self.n_scales, -1),
        )


def temporal_msfans_loss(
    output: TemporalMultiScaleOutput,
    targets: Tensor,
    iteration: int,
    max_iter: int,
    aux_weight: float = 0.5,
    frame_weight: float = 0.0,
) -> Tensor:
    """Eq. 6 over time: ``CE(clip) + frame_weight * CE(frames) + aux_weight * sum_i CE(aux_i)``.

    The auxiliary per-scale terms are active while ``iteration < max_iter / 2``, as in
    :func:`~fas_lib.models.msfans.fusion.msfans_loss`; each per-scale and per-frame cross-entropy is
    a mean over the ``B * T`` frames (every frame carries its clip's label).

    Args:
        output: a :class:`TemporalMultiScaleOutput`.
        targets: clip labels ``(B,)``, 1 = bona fide, 0 = attack.
        iteration: current iteration (0-based).
        max_iter: total number of training iterations.
        aux_weight: weight of the auxiliary per-scale losses (paper: 0.5).
        frame_weight: weight of the per-frame MS-FANS loss (default 0: clip loss only).
    """
    targets = targets.long()
    t = output.frame_logits.shape[1]
    frame_targets = targets.repeat_interleave(t)
    loss = F.cross_entropy(output.logits, targets)
    if frame_weight:
        loss = loss + frame_weight * F.cross_entropy(output.frame_logits.flatten(0, 1),
                                                     frame_targets)
    if iteration < max_iter / 2 and aux_weight:
        per_scale = output.per_scale_logits.flatten(0, 1)  # (B*T, n, 2)
        aux = sum(F.cross_entropy(per_scale[:, i], frame_targets)
                  for i in range(per_scale.shape[1]))
        loss = loss + aux_weight * aux
    return loss
