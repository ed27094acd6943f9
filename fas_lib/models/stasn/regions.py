"""STASN's region attention: where to look (:class:`RegionAttention`) and a differentiable crop.

A region is a square of fixed side ``size`` (a fraction of the image side) around a centre
``(cx, cy)`` in PyTorch's normalised coordinates (``-1`` = left / top edge of the image, ``+1`` =
right / bottom edge, ``align_corners=False``). The spatial transformer crops it with the affine
map ``x_in = size * x_out + cx`` (:func:`region_theta`), so a region covers
``[cx - size, cx + size]``, i.e. ``size * W`` pixels, and the crop is differentiable with respect
to both the image and the centre (``affine_grid`` + bilinear ``grid_sample``).

:class:`RegionAttention` predicts ``K`` centres per frame from a CNN feature map. Two locators:

* ``"softargmax"`` (default): a ``1 x 1`` convolution gives ``K`` heat maps; the centre of
  region ``k`` is the softmax-weighted mean of the map cells' centres (soft-argmax), rescaled so
  that the extreme cells put the box against the image border. It starts near the image centre
  and moves continuously towards the cells that lower the loss.
* ``"regress"``: the other plain reading of "the RAM predicts region positions" (ours; the
  paper's text available here does not say how): a depth-wise convolution, global average
  pooling and a linear layer to ``2K`` numbers, ``tanh``, scaled to keep the box inside the
  image.

Either way every box lies inside the image, and :func:`region_boxes_px` gives the boxes in pixels
``(x0, y0, x1, y1)`` (edges, not pixel centres), for drawing attention maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "LOCATORS", "RegionAttention", "crop_regions", "region_boxes_px", "region_overlap",
    "region_theta",
]

#: Names accepted by ``RegionAttention(locator=...)``.
LOCATORS: tuple[str, ...] = ("softargmax", "regress")


def region_theta(centres: Tensor, size: float) -> Tensor:
    """Affine matrices ``(N, 2, 3)`` of square regions: ``[[size, 0, cx], [0, size, cy]]``.

    Args:
        centres: ``(N, 2)`` region centres ``(cx, cy)``, normalised coordinates.
        size: region side as a fraction of the image side, in ``(0, 1]``.
    """
    theta = centres.new_zeros(centres.shape[0], 2, 3)
    theta[:, 0, 0] = size
    theta[:, 1, 1] = size
    theta[:, :, 2] = centres
    return theta


def crop_regions(images: Tensor, centres: Tensor, size: float, out_size: int) -> Tensor:
    """The spatial transformer's crop: ``K`` square regions of every image, resampled.

    Args:
        images: ``(N, C, H, W)``.
        centres: ``(N, K, 2)`` normalised centres ``(cx, cy)``.
        size: region side as a fraction of the image side.
        out_size: side of every crop in pixels (``size * W / out_size`` input pixels per output
            pixel; a crop of ``size * W == out_size`` pixels on the pixel grid is exact).

    Returns:
        ``(N, K, C, out_size, out_size)``; outside the image the crop is zero.
    """
    n, k = centres.shape[:2]
    c = images.shape[1]
    theta = region_theta(centres.reshape(n * k, 2), size)
    grid = F.affine_grid(theta, [n * k, c, out_size, out_size], align_corners=False)
    src = images.unsqueeze(1).expand(n, k, *images.shape[1:]).reshape(n * k, *images.shape[1:])
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.view(n, k, c, out_size, out_size)


def region_boxes_px(centres: Tensor, size: float, height: int, width: int) -> Tensor:
    """Pixel boxes ``(..., 4)`` = ``(x0, y0, x1, y1)`` of regions with centres ``(..., 2)``.

    Coordinates are pixel *edges*: ``x0 = 0`` is the image's left edge, ``x1 = W`` its right
    edge, so ``image[..., round(y0):round(y1), round(x0):round(x1)]`` is the region when the
    box falls on the pixel grid.
    """
    half = torch.tensor([size, size], dtype=centres.dtype, device=centres.device)
    scale = torch.tensor([width, height], dtype=centres.dtype, device=centres.device) / 2
    lo = (centres - half + 1) * scale
    hi = (centres + half + 1) * scale
    return torch.cat([lo, hi], dim=-1)


def region_overlap(centres: Tensor, size: float) -> Tensor:
    """Mean pairwise IoU of the ``K`` equal squares of each frame: ``(..., K, 2)`` -> ``(...)``.

    Differentiable in the centres; ``0`` for ``K = 1``. Used as an optional penalty
    (``stasn_loss(..., overlap_weight=...)``, our addition) against the ``K`` regions of a frame
    collapsing onto one spot.
    """
    k = centres.shape[-2]
    if k < 2:
        return centres.new_zeros(centres.shape[:-2])
    side = 2 * size  # in normalised units
    gap = (centres.unsqueeze(-2) - centres.unsqueeze(-3)).abs()  # (..., K, K, 2)
    inter = F.relu(side - gap).prod(dim=-1)
    iou = inter / (2 * side * side - inter)
    off_diagonal = ~torch.eye(k, dtype=torch.bool, device=centres.device)
    return iou[..., off_diagonal].mean(dim=-1)


class RegionAttention(nn.Module):
    """RAM: ``K`` region centres per image from its feature map ``(N, C, h, w)`` -> ``(N, K, 2)``.

    See the module docstring for the two locators. The soft-argmax's temperature is learned
    through the ``1 x 1`` convolution's scale; its initial heat maps are near-uniform, so every
    region starts near the image centre.

    Args:
        in_channels: ``C`` of the feature map.
        n_regions: ``K``.
        size: region side as a fraction of the image side (boxes are kept inside the image).
        locator: ``"softargmax"`` or ``"regress"``.
    """

    def __init__(
        self, in_channels: int, n_regions: int, size: float, locator: str = "softargmax"
    ) -> None:
        super().__init__()
        if locator not in LOCATORS:
            raise ValueError(f"locator must be one of {LOCATORS}, got {locator!r}")
        if not 0 < size <= 1:
            raise ValueError(f"region size must be in (0, 1], got {size}")
        if n_regions < 1:
            raise ValueError(f"n_regions must be >= 1, got {n_regions}")
        self.n_regions = n_regions
        self.size = size
        self.locator = locator
        if locator == "softargmax":
            self.heat = nn.Conv2d(in_channels, n_regions, kernel_size=1)
        else:
            self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels)
            self.fc = nn.Linear(in_channels, 2 * n_regions)
            nn.init.zeros_(self.fc.weight)  # start every box at the image centre
            nn.init.zeros_(self.fc.bias)

    def heatmaps(self, fmap: Tensor) -> Tensor:
        """``"softargmax"`` only: the ``K`` spatial softmax maps ``(N, K, h, w)``."""
        logits = self.heat(fmap)
        return torch.softmax(logits.flatten(2), dim=-1).view_as(logits)

    def forward(self, fmap: Tensor) -> Tensor:
        """Centres ``(N, K, 2)`` in normalised coordinates, every box inside the image."""
        if self.locator == "regress":
            pooled = F.relu(self.depthwise(fmap)).mean(dim=(2, 3))
            return torch.tanh(self.fc(pooled)).view(-1, self.n_regions, 2) * (1 - self.size)
        h, w = fmap.shape[2:]
        prob = self.heatmaps(fmap)
        ys = (torch.arange(h, dtype=fmap.dtype, device=fmap.device) + 0.5) * 2 / h - 1
        xs = (torch.arange(w, dtype=fmap.dtype, device=fmap.device) + 0.5) * 2 / w - 1
        cx = (prob.sum(dim=2) * xs).sum(dim=-1)
        cy = (prob.sum(dim=3) * ys).sum(dim=-1)
        centres = torch.stack([cx, cy], dim=-1)
        # the extreme cell centres sit at +-(1 - 1/side): map them onto the border-touching box
        reach = torch.tensor(
            [(1 - self.size) / (1 - 1 / w) if w > 1 else 0.0,
             (1 - self.size) / (1 - 1 / h) if h > 1 else 0.0],
            dtype=fmap.dtype, device=fmap.device,
        )
        return centres * reach
