"""MM-FAS's training recipe, as the authors trained it (Parkin & Grinchuk, CVPRW 2019), for
:mod:`fas_lib.training.multimodal`: Adam's betas, the cosine schedule, the training augmentation and
the flip test-time augmentation, written anew from the authors' public code
(``AlexanderParkin/ChaLearn_liveness_challenge``, MIT; paths below are in that repository).

What their code does, and where it says so:

* **optimiser** (``utils/optimizer.py``, ``get_optimizer``): Adam with ``betas=(0.5, 0.999)``;
  ``opts.py``: ``lr = 2e-5``, ``weight_decay = 0``, ``batch_size = 128``, ``num_epochs = 50``,
  loss ``cce`` (cross-entropy on two logits, as :func:`fas_lib.training.multimodal.train_step`).
* **schedule** (``opts.py``: ``lr_type = 'cosine_repeat_lr'``, ``lr_decay_period = 50``;
  ``utils/optimizer.py``: ``CosineRepeatAnnealingLR``, ``eta_min = 0``): the rate follows
  ``lr * (1 + cos(pi * t / 50)) / 2``, **stepped once per epoch** (``trainer.py`` calls
  ``lr_scheduler.step()`` before each epoch; the restart at ``t = 50`` never comes within the
  50 epochs). Their step before the first epoch shifts it by one (their epoch ``e`` trains at
  ``t = e + 1``, the 50th at a rate of 0); :func:`epoch_lr` trains epoch ``e`` at ``t = e``, so
  a run starts at ``lr`` and ends just above 0 (``lr * 1e-3`` after 50 epochs), as
  :class:`torch.optim.lr_scheduler.CosineAnnealingLR` stepped per epoch does (this course's
  choice). Per epoch rather than per iteration: it is the authors' schedule, and the rate is
  a function of the epoch alone, so a run resumed from its end-of-epoch checkpoint trains at
  the same rates as an uninterrupted one. (Their submitted scores used the checkpoint of epoch
  31 of 50, ``inference.sh``: ``model_30.pth``; here a run is scored after its last epoch.)
* **training augmentation** (``opts.py``, ``opt.train_transform``; the classes in
  ``utils/transforms.py``), in their order, with the modalities each one touches:

  1. ``MergeItems(True, p=0.1)``: with probability 0.1 the sample is blended with another
     training sample **of the same class** (``alpha * self + (1 - alpha) * other``, ``alpha``
     uniform in [0, 1), label kept), every modality with the same ``alpha`` and partner;
  2. ``CustomRandomRotation(30, resample=2)``: a rotation by an angle uniform in [-30, 30]
     degrees, bilinear, black outside the image, all modalities;
  3. ``CustomResize((125, 125))``: the frame the next two steps are measured in;
  4. ``RandomApply([CustomCutout(1, 25, 75)], p=0.1)``: with probability 0.1 one black square
     of side ``randint(25, 75)`` px of the 125 px frame (0.2 to 0.6 of the side) centred on a
     uniform pixel, clipped at the border, the same square in all modalities;
  5. ``CustomRandomResizedCrop(112, scale=(0.5, 1.0))``: torchvision's random resized crop
     (area 0.5 to 1 of the frame, aspect ratio log-uniform in [3/4, 4/3], the default ratio,
     10 tries then the whole frame), the same box in all modalities;
  6. ``CustomRandomHorizontalFlip()``: a mirror with probability 0.5, all modalities;
  7. ``RandomApply([CustomColorJitter(0.25, 0.25, 0.25, 0.125)], p=0.2)``: brightness,
     contrast, saturation factors uniform in [0.75, 1.25], hue shift uniform in
     [-0.125, 0.125], in a random order (torchvision's ``ColorJitter``), **RGB only**
     (``keys = ['rgb']``);
  8. ``CustomRandomGrayscale(p=0.1)``: grey conversion (3 equal channels), **RGB only**.

  Two commented-out lines of ``opts.py`` (``LabelSmoothing``, ``CustomGaussianBlur``) are not
  part of it. ``opts.py`` is the one readable options file (``exp1_2stagev2_stage2_seed2``);
  the saved ``data/opts/*.opt`` of the other experiments are pickles, assumed to match.
* **test-time augmentation** (``inference.py`` with ``--tta``; ``ensemble.py`` averages the
  columns ``crop0`` and ``crop0_hflip``): a frame's score is the mean of the bona-fide
  probability of the centre crop and of its mirror (:func:`flip_tta`).

Written here for tensors in ``[-1, 1]`` already at the model's input side ``S``
(:func:`fas_lib.training.multimodal.load_splits`), by this course's choices: steps 2-6 are **one**
bilinear resampling (:func:`augment_batch`: the crop box and the flip map an output pixel
into the rotated frame, where the cutout square is tested, and the rotation maps it into the
input), of all modalities stacked along the channels, so the sensors stay pixel-aligned by
construction; the 125 px frame is the input itself (the crop box is a fraction of its side,
continuous rather than whole pixels, as are the cutout's side and centre); "black" is ``-1``.
Every parameter of an epoch is drawn up front from ``(seed, epoch)`` (:func:`draw_augment`,
its own generator: the global RNGs, the order and the flips are untouched), a fixed number of
draws per sample, so a sample's augmentation does not depend on its batch and a resumed run
sees the same augmentations. The flip is :mod:`fas_lib.training.multimodal`'s own
(``MMRunConfig.flip``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor

__all__ = ["AUGMENTS", "MM_RECIPES", "PAPER_AUGMENT", "SCHEDULES", "UNHASHED_DEFAULTS",
           "AugmentDraw", "PaperAugment", "augment_batch", "check_recipe", "draw_augment",
           "epoch_lr", "flip_tta", "set_epoch_lr"]

#: Learning-rate schedules: ``"constant"`` (the course's default) or ``"cosine"`` over the run.
SCHEDULES: tuple[str, ...] = ("constant", "cosine")
#: Training augmentations besides the flip: ``"paper"`` (:data:`PAPER_AUGMENT`).
AUGMENTS: tuple[str, ...] = ("paper",)

#: The recipe fields of :class:`~fas_lib.training.multimodal.MMRunConfig` at their defaults, JSON
# form. : A config leaves them out of its ``to_dict`` while they hold these values, so the run
# folder
#: (a hash of ``to_dict``) of every config from before these fields existed is unchanged.
UNHASHED_DEFAULTS: dict[str, Any] = {"betas": [0.9, 0.999], "schedule": "constant",
                                     "augment": None, "tta_flip": False}

#: Named training recipes: fields of :class:`~fas_lib.training.multimodal.MMRunConfig`
#: (``MMRunConfig.recipe(name, **overrides)``). ``"paper"``: the authors' (module docstring):
#: their ResNet34-caffe sizes, Adam 2e-5 with betas (0.5, 0.999) and no weight decay, a cosine
#: schedule over 50 epochs, batch 128, their augmentation and flip TTA. Not in it: their
#: networks started from face- or gender-recognition weights (``README.md``: four pre-trainings)
#: that this course does not have for the caffe trunk (``init="face_recognition"`` is dlib's).
MM_RECIPES: dict[str, dict[str, Any]] = {
    "paper": {"model": "mmfas", "preset": "paper", "lr": 2e-5, "betas": (0.5, 0.999),
              "weight_decay": 0.0, "schedule": "cosine", "epochs": 50, "batch_size": 128,
              "flip": True, "augment": "paper", "tta_flip": True},
}

#: Salt of the augmentation's stream (independent of the order and flips of ``(seed, epoch)``).
_SALT = 0x3FA5
_TRIES = 10  # the random resized crop's tries (torchvision's)


@dataclass(frozen=True)
class PaperAugment:
    """The parameters of the authors' augmentation (module docstring: ``opts.py``).

    Attributes:
        merge_p: probability of blending with a same-class sample (``MergeItems(True, p=0.1)``).
        degrees: rotation range ``[-degrees, degrees]`` (``CustomRandomRotation(30)``).
        cutout_p: probability of the cutout square (``RandomApply(..., p=0.1)``).
        cutout_side: its side as a fraction of the frame's, uniform in ``[lo, hi)``
            (``CustomCutout(1, 25, 75)`` on the 125 px frame: 25 / 125 and 75 / 125).
        crop_scale: the crop's area fraction (``CustomRandomResizedCrop(112, scale=(0.5, 1))``).
        crop_ratio: its aspect ratio, log-uniform (torchvision's default, (3/4, 4/3)).
        jitter_p: probability of the colour jitter (``RandomApply(..., p=0.2)``).
        jitter: brightness, contrast, saturation, hue (``CustomColorJitter(0.25, 0.25, 0.25,
            0.125)``).
        grey_p: probability of the grey conversion (``CustomRandomGrayscale(p=0.1)``).
        photometric: the modalities colour jitter and grey conversion touch (``keys = ['rgb']``
            in both classes of ``utils/transforms.py``).
    """

    merge_p: float = 0.1
    degrees: float = 30.0
    cutout_p: float = 0.1
    cutout_side: tuple[float, float] = (25 / 125, 75 / 125)
    crop_scale: tuple[float, float] = (0.5, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    jitter_p: float = 0.2
    jitter: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.125)
    grey_p: float = 0.1
    photometric: tuple[str, ...] = ("rgb",)


#: The ``"paper"`` augmentation.
PAPER_AUGMENT = PaperAugment()

# columns of the per-sample uniforms (a fixed number per sample, whatever is applied)
_MERGE, _PARTNER, _ALPHA, _ANGLE, _CUT, _CUT_SIDE, _CUT_X, _CUT_Y = range(8)
_CROP = 8  # _TRIES x (area, log-ratio, x, y)
_JIT = _CROP + 4 * _TRIES  # apply, 4 factors, 4 order keys
_GREY = _JIT + 9
_N_UNIFORM = _GREY + 1


class AugmentDraw(NamedTuple):
    """One epoch's augmentation parameters, one row per frame of the training split.

    ``merge`` (bool), ``partner`` (row of the same-class frame blended in), ``alpha``;
    ``angle`` (radians); ``hole`` ``(N, 3)`` the cutout square's centre x, y and half side in
    normalised coordinates (half side 0: none); ``box`` ``(N, 4)`` the crop's centre x, y and
    half width, half height (normalised); ``jitter`` (bool), ``factors`` ``(N, 4)``
    brightness, contrast, saturation, hue, ``order`` ``(N, 4)`` their order; ``grey`` (bool).
    """

    merge: Tensor
    partner: Tensor
    alpha: Tensor
    angle: Tensor
    hole: Tensor
    box: Tensor
    jitter: Tensor
    factors: Tensor
    order: Tensor
    grey: Tensor


def check_recipe(betas: Sequence[float], schedule: str, augment: str | None,
                 tta_flip: bool) -> tuple[float, float]:
    """Validate the recipe fields of a run; returns ``betas`` as a tuple of two floats.

    Raises:
        ValueError: betas not two numbers in ``[0, 1)``, an unknown schedule or augmentation,
            a ``tta_flip`` that is not a bool.
    """
    try:
        b = tuple(float(v) for v in betas)
    except (TypeError, ValueError):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}") from None
    if len(b) != 2 or not all(0.0 <= v < 1.0 for v in b):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if augment is not None and augment not in AUGMENTS:
        raise ValueError(f"augment must be None or one of {AUGMENTS}, got {augment!r}")
    if tta_flip not in (True, False):
        raise ValueError(f"tta_flip must be True or False, got {tta_flip!r}")
    return b[0], b[1]


def epoch_lr(lr: float, schedule: str, epoch: int, epochs: int) -> float:
    """The rate epoch ``epoch`` (0-based) of ``epochs`` trains at: ``lr``, or the cosine
    ``lr * (1 + cos(pi * epoch / epochs)) / 2`` (``lr`` at epoch 0, 0 at ``epoch = epochs``,
    the end of the run; module docstring)."""
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * (1.0 + math.cos(math.pi * epoch / epochs)) / 2.0
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def set_epoch_lr(opt: torch.optim.Optimizer, lr: float, schedule: str, epoch: int,
                 epochs: int) -> None:
    """Set every parameter group's rate to :func:`epoch_lr` (nothing changes when constant)."""
    if schedule != "constant":
        for group in opt.param_groups:
            group["lr"] = epoch_lr(lr, schedule, epoch, epochs)


def _partners(u: Tensor, labels: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Row of a same-class training frame other than itself for each frame (uniform from
    ``u``), and whether it has one."""
    partner = torch.arange(len(labels))
    has = torch.zeros(len(labels), dtype=torch.bool)
    for c in labels[rows].unique():
        cand = rows[labels[rows] == c]
        if len(cand) < 2:
            continue
        k = (u[cand] * (len(cand) - 1)).long().clamp(max=len(cand) - 2)
        partner[cand] = cand[k + (k >= torch.arange(len(cand))).long()]  # skip itself
        has[cand] = True
    return partner, has


def _crop_boxes(u: Tensor, s: PaperAugment) -> Tensor:
    """Torchvision's random resized crop on a square frame of side 1: ``_TRIES`` tries of an
    area and a log-uniform ratio; the first that fits, else the whole frame."""
    t = u.view(-1, _TRIES, 4)
    area = s.crop_scale[0] + (s.crop_scale[1] - s.crop_scale[0]) * t[..., 0]
    lo, hi = math.log(s.crop_ratio[0]), math.log(s.crop_ratio[1])
    ratio = torch.exp(lo + (hi - lo) * t[..., 1])
    w, h = torch.sqrt(area * ratio), torch.sqrt(area / ratio)
    fits = (w <= 1) & (h <= 1)
    first = torch.where(fits.any(1), fits.float().argmax(1), -1)
    pick = first.clamp(min=0).view(-1, 1)
    w, h = w.gather(1, pick)[:, 0], h.gather(1, pick)[:, 0]
    x0 = (1 - w) * t[..., 2].gather(1, pick)[:, 0]
    y0 = (1 - h) * t[..., 3].gather(1, pick)[:, 0]
    box = torch.stack([2 * (x0 + w / 2) - 1, 2 * (y0 + h / 2) - 1, w, h], 1)
    return torch.where((first < 0).view(-1, 1), torch.tensor([0.0, 0.0, 1.0, 1.0]), box)


def draw_augment(labels: Tensor, rows: Tensor, seed: int,
                 settings: PaperAugment = PAPER_AUGMENT) -> AugmentDraw:
    """Every augmentation parameter of one epoch (module docstring), from ``seed``.

    Args:
        labels: the training split's labels (N,), one draw per frame.
        rows: the training frames (merge partners are drawn among them).
        seed: the epoch's seed (:func:`fas_lib.training.config.epoch_seed` of the run's seed
            and epoch).
        settings: the parameters.
    """
    s = settings
    gen = torch.Generator().manual_seed((int(seed) + _SALT) % (2**31 - 1))
    u = torch.rand(len(labels), _N_UNIFORM, generator=gen, dtype=torch.float64)
    partner, has = _partners(u[:, _PARTNER], labels, rows)
    lo, hi = s.cutout_side
    half = torch.where(u[:, _CUT] < s.cutout_p, lo + (hi - lo) * u[:, _CUT_SIDE], 0.0)
    hole = torch.stack([2 * u[:, _CUT_X] - 1, 2 * u[:, _CUT_Y] - 1, half], 1)
    jit = torch.tensor(s.jitter, dtype=torch.float64)
    factors = 1 + jit * (2 * u[:, _JIT + 1:_JIT + 5] - 1)
    factors[:, 3] -= 1  # hue is a shift in [-hue, hue], not a factor
    return AugmentDraw(
        merge=(u[:, _MERGE] < s.merge_p) & has, partner=partner, alpha=u[:, _ALPHA].float(),
        angle=(math.radians(s.degrees) * (2 * u[:, _ANGLE] - 1)).float(), hole=hole.float(),
        box=_crop_boxes(u[:, _CROP:_JIT], s).float(), jitter=u[:, _JIT] < s.jitter_p,
        factors=factors.float(), order=u[:, _JIT + 5:_JIT + 9].argsort(1),
        grey=u[:, _GREY] < s.grey_p)


def _sample_grid(d: AugmentDraw, rows: Tensor, flip: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """The source coordinates ``(B, S, S, 2)`` of every output pixel (crop box, flip, then the
    inverse rotation) and the cutout mask ``(B, 1, S, S)`` in the rotated frame."""
    c = (torch.arange(size, dtype=torch.float32) * 2 + 1) / size - 1  # pixel centres
    v, u = torch.meshgrid(c, c, indexing="ij")
    box, hole, angle = d.box[rows], d.hole[rows], d.angle[rows]
    sign = 1.0 - 2.0 * flip.float()
    x = box[:, 0, None, None] + (sign[:, None, None] * u) * box[:, 2, None, None]
    y = box[:, 1, None, None] + v * box[:, 3, None, None]
    half = hole[:, 2, None, None]
    cut = ((x - hole[:, 0, None, None]).abs() <= half) & (
        (y - hole[:, 1, None, None]).abs() <= half) & (half > 0)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    # counter-clockwise by ``angle`` on screen (y down): source = R(-angle) destination
    grid = torch.stack([cos * x - sin * y, sin * x + cos * y], -1)
    return grid, cut[:, None]


def _photometric(rgb: Tensor, d: AugmentDraw, rows: Tensor) -> Tensor:
    """Colour jitter (ops in the drawn order) and grey conversion of a ``[-1, 1]`` RGB batch."""
    img = (rgb + 1) / 2
    out = []
    ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
    for i, r in enumerate(rows.tolist()):
        x = img[i]
        if d.jitter[r]:
            for k in d.order[r].tolist():
                x = ops[k](x, float(d.factors[r, k]))
        if d.grey[r]:
            x = TF.rgb_to_grayscale(x, num_output_channels=3)
        out.append(x)
    return torch.stack(out) * 2 - 1


def augment_batch(x: Mapping[str, Tensor], rows: Tensor, flips: Tensor | None,
                  draw: AugmentDraw | None, source: Mapping[str, Tensor],
                  settings: PaperAugment = PAPER_AUGMENT) -> dict[str, Tensor]:
    """A training batch augmented, every modality of a sample with the same geometry.

    Args:
        x: ``{modality: (B, C, S, S)}`` in ``[-1, 1]``, the frames ``rows`` of the split.
        rows: their rows in the training split.
        flips: the epoch's flips (N,) bool, or ``None`` (no flip).
        draw: :func:`draw_augment` of the epoch, or ``None``: the flip alone (as before the
            recipe: ``torch.where(flip, v.flip(-1), v)``).
        source: the whole split ``{modality: (N, C, S, S)}`` (the merge partners).
        settings: which modalities the photometric steps touch.
    """
    if draw is None:
        if flips is None:
            return dict(x)
        f = flips[rows].view(-1, 1, 1, 1)
        return {m: torch.where(f, v.flip(-1), v) for m, v in x.items()}
    names = list(x)
    if any(v.shape[-1] != v.shape[-2] for v in x.values()):
        raise ValueError("the paper augmentation needs square inputs")
    a = draw.alpha[rows].view(-1, 1, 1, 1)
    m = draw.merge[rows].view(-1, 1, 1, 1)
    stack = torch.cat([torch.where(m, a * x[k] + (1 - a) * source[k][draw.partner[rows]], x[k])
                       for k in names], 1)
    flip = flips[rows] if flips is not None else torch.zeros(len(rows), dtype=torch.bool)
    grid, cut = _sample_grid(draw, rows, flip, stack.shape[-1])
    out = F.grid_sample(stack + 1, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False) - 1
    out = torch.where(cut, torch.full_like(out, -1.0), out)
    parts = dict(zip(names, out.split([x[k].shape[1] for k in names], 1)))
    for k in settings.photometric:
        if k in parts and parts[k].shape[1] == 3:
            parts[k] = _photometric(parts[k], draw, rows)
    return {k: parts[k].contiguous() for k in names}


def flip_tta(score: Callable[[dict[str, Tensor]], Tensor], x: Mapping[str, Tensor],
             tta_flip: bool) -> Tensor:
    """``score(x)``, or with ``tta_flip`` the mean of it and the score of the mirrored frames
    (every modality flipped; the authors' ``crop0`` and ``crop0_hflip`` columns)."""
    s = score(dict(x))
    if not tta_flip:
        return s
    return (s + score({m: v.flip(-1) for m, v in x.items()})) / 2
