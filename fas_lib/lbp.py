"""The classic baseline: colour-texture LBP + SVM (Boulkenafet et al., ICIP 2015, TIFS 2016).

A face crop is converted to a colour space (grey, HSV, YCbCr or a ``"+"``-joined combination such
as ``"hsv+ycbcr"``, the best setting of Boulkenafet et al.); each channel is described by a
normalised histogram of uniform local binary patterns (LBP, via
:func:`skimage.feature.local_binary_pattern`), and the histograms are concatenated. An SVM on
these vectors scores each crop; following the project convention (:mod:`fas_lib`), a higher
score means *more likely bona fide* (label 1).

Border pixels, whose circular neighbourhood leaves the image, are left out of the histograms:
scikit-image would compare them with a zero padding.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from fas_lib.parallel import pool_map

COLOR_SPACES: tuple[str, ...] = ("gray", "hsv", "ycbcr")
METHODS: tuple[str, ...] = ("nri_uniform", "uniform", "default", "ror")

Radii = int | float | Sequence[int | float]


def n_bins(P: int = 8, method: str = "nri_uniform") -> int:
    """Number of histogram bins of one LBP channel (59 for ``nri_uniform`` with P = 8)."""
    if method == "nri_uniform":
        return P * (P - 1) + 3
    if method == "uniform":
        return P + 2
    if method in ("default", "ror"):
        return 2**P
    raise ValueError(f"unknown LBP method {method!r}; expected one of {METHODS}")


def _spaces(color_space: str) -> list[str]:
    """Split ``"hsv+ycbcr"`` into its parts and check each one."""
    parts = [p.strip().lower() for p in color_space.split("+")]
    for p in parts:
        if p not in COLOR_SPACES:
            raise ValueError(f"unknown colour space {p!r}; expected {COLOR_SPACES} or a '+' join")
    return parts


def _radii(R: Radii) -> tuple[float, ...]:
    radii = tuple(R) if isinstance(R, Sequence) else (R,)
    if not radii or any(r <= 0 for r in radii):
        raise ValueError(f"radii must be positive, got {R!r}")
    return radii


def feature_dim(color_space: str = "gray", P: int = 8, R: Radii = 1,
                method: str = "nri_uniform") -> int:
    """Length of the vector :func:`lbp_features` returns for these settings."""
    n_channels = sum(1 if s == "gray" else 3 for s in _spaces(color_space))
    return n_channels * len(_radii(R)) * n_bins(P, method)


def to_channels(crop_rgb: np.ndarray, color_space: str = "gray") -> list[np.ndarray]:
    """The 8-bit channels of ``crop_rgb`` in ``color_space`` (each scaled to 0..255, uint8).

    Args:
        crop_rgb: (H, W, 3) uint8 RGB image.
        color_space: ``"gray"``, ``"hsv"``, ``"ycbcr"`` or a ``"+"``-joined combination.
    """
    from skimage import color

    if not isinstance(crop_rgb, np.ndarray) or crop_rgb.ndim != 3 or crop_rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got {getattr(crop_rgb, 'shape', None)}")
    if crop_rgb.dtype != np.uint8:
        raise TypeError(
            f"expected a uint8 RGB crop, got {crop_rgb.dtype} (use skimage.img_as_ubyte)"
        )
    out: list[np.ndarray] = []
    for space in _spaces(color_space):
        if space == "gray":
            conv = color.rgb2gray(crop_rgb)[..., None] * 255.0
        elif space == "hsv":
            conv = color.rgb2hsv(crop_rgb) * 255.0
        else:  # ycbcr: Y in [16, 235], Cb / Cr in [16, 240] (ITU-R BT.601)
            conv = color.rgb2ycbcr(crop_rgb)
        conv = np.clip(np.rint(conv), 0, 255).astype(np.uint8)
        out.extend(conv[..., c] for c in range(conv.shape[-1]))
    return out


def lbp_features(crop_rgb: np.ndarray, color_space: str = "gray", P: int = 8, R: Radii = 1,
                 method: str = "nri_uniform") -> np.ndarray:
    """Concatenated normalised LBP histograms of one crop.

    Args:
        crop_rgb: (H, W, 3) uint8 RGB crop.
        color_space: ``"gray"`` (1 channel), ``"hsv"`` / ``"ycbcr"`` (3 channels) or a
            ``"+"``-joined combination, e.g. ``"hsv+ycbcr"``.
        P: number of circular neighbours.
        R: radius, or several radii (e.g. ``(1, 2, 3)``) whose histograms are concatenated.
        method: scikit-image LBP mapping; ``"nri_uniform"`` gives 59 bins for P = 8.

    Returns:
        float32 vector of length :func:`feature_dim`; each channel/radius block sums to 1,
        ordered channel-major (all radii of channel 0, then channel 1, ...).
    """
    from skimage.feature import local_binary_pattern

    bins = n_bins(P, method)
    radii = _radii(R)
    channels = to_channels(crop_rgb, color_space)
    h, w = channels[0].shape
    blocks: list[np.ndarray] = []
    for ch in channels:
        for r in radii:
            b = math.ceil(r)
            if h <= 2 * b or w <= 2 * b:
                raise ValueError(f"crop {h}x{w} too small for LBP radius {r}")
            codes = local_binary_pattern(ch, P, r, method)[b:h - b, b:w - b]
            hist = np.bincount(codes.astype(np.int64).ravel(), minlength=bins)
            blocks.append(hist / codes.size)
    return np.concatenate(blocks).astype(np.float32)


def _extract_chunk(crops: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Features of a chunk of crops (top level so that worker processes can run it)."""
    return np.stack([lbp_features(c, **kwargs) for c in crops])


def extract_lbp(crops: np.ndarray, color_space: str = "gray", P: int = 8, R: Radii = 1,
                method: str = "nri_uniform", workers: int = 1, progress: bool | None = None,
                chunk_size: int = 64) -> np.ndarray:
    """LBP features of a batch of crops.

    Args:
        crops: (N, H, W, 3) uint8 RGB crops.
        color_space, P, R, method: as in :func:`lbp_features`.
        workers: worker processes (1 = in this process); results do not depend on it.
        progress: show a tqdm bar; ``None`` shows one when N >= 1000.
        chunk_size: crops per task (and per progress-bar step).

    Returns:
        (N, D) float32 array, D = :func:`feature_dim`.
    """
    from tqdm.auto import tqdm

    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) crops, got shape {crops.shape}")
    dim = feature_dim(color_space, P, R, method)
    if len(crops) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    fn = partial(_extract_chunk, color_space=color_space, P=P, R=R, method=method)
    chunks = [crops[i:i + chunk_size] for i in range(0, len(crops), chunk_size)]
    show = len(crops) >= 1000 if progress is None else progress
    bar = tqdm(total=len(crops), desc=f"LBP {color_space}", unit="crop", disable=not show)
    parts: list[np.ndarray] = [np.zeros((0, dim), np.float32)] * len(chunks)
    try:
        with contextlib.closing(pool_map(fn, chunks, max(1, int(workers)),
                                         what="LBP features", entry="extract_lbp")) as finished:
            for i, feats in finished:
                parts[i] = feats  # back in chunk order
                bar.update(len(chunks[i]))
    finally:
        bar.close()
    return np.concatenate(parts).astype(np.float32, copy=False)


class LBPSVM:
    """SVM on LBP histograms whose :meth:`score` is higher for bona fide (label 1).

    Args:
        kernel: ``"rbf"`` (on standardised features), ``"linear"`` (standardised) or
            ``"chi2"`` (exponential chi-squared kernel on the raw histograms).
        C: SVM regularisation.
        gamma: kernel width; ``"scale"`` for rbf, or a float (chi2 default 1.0).
        class_weight: passed to :class:`sklearn.svm.SVC` (``"balanced"`` by default: attacks
            usually outnumber bona fide samples).
        seed: random state (libsvm without probability estimates is deterministic anyway).
    """

    def __init__(self, kernel: str = "rbf", C: float = 1.0, gamma: float | str = "scale",
                 class_weight: str | dict | None = "balanced", seed: int = 0) -> None:
        if kernel not in ("rbf", "linear", "chi2"):
            raise ValueError(f"kernel must be 'rbf', 'linear' or 'chi2', got {kernel!r}")
        self.kernel, self.C, self.gamma = kernel, C, gamma
        self.class_weight, self.seed = class_weight, seed
        self.model: Any = None

    def _build(self) -> Any:
        from sklearn.metrics.pairwise import chi2_kernel
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        common = dict(C=self.C, class_weight=self.class_weight, random_state=self.seed)
        if self.kernel == "chi2":
            gamma = 1.0 if self.gamma == "scale" else float(self.gamma)
            return SVC(kernel=partial(chi2_kernel, gamma=gamma), **common)
        return make_pipeline(StandardScaler(), SVC(kernel=self.kernel, gamma=self.gamma, **common))

    def fit(self, feats: np.ndarray, labels: np.ndarray) -> LBPSVM:
        """Train on (N, D) features and labels (1 = bona fide, 0 = attack); returns self."""
        y = np.asarray(labels)
        if set(np.unique(y).tolist()) != {0, 1}:
            raise ValueError(
                f"labels must contain both 0 (attack) and 1 (bona fide), got {np.unique(y)}"
            )
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 2 or len(x) != len(y):
            raise ValueError(f"feats must be (N, D) with N = len(labels), got {x.shape}, {len(y)}")
        if self.kernel == "chi2" and np.any(x < 0):
            raise ValueError("the chi2 kernel needs non-negative features (histograms)")
        self.model = self._build().fit(x, y.astype(int))
        return self

    def score(self, feats: np.ndarray) -> np.ndarray:
        """SVM decision values, higher = more likely bona fide (float64, shape (N,))."""
        if self.model is None:
            raise RuntimeError("LBPSVM.score called before fit")
        # SVC's decision_function is positive for classes_[1], i.e. label 1 = bona fide
        assert list(self.model.classes_) == [0, 1]
        return np.asarray(self.model.decision_function(np.asarray(feats, dtype=np.float64)))

    decision_function = score

    def predict(self, feats: np.ndarray, threshold: float = 0.0) -> np.ndarray:
        """Labels (1 = accepted as bona fide when score >= threshold)."""
        return (self.score(feats) >= threshold).astype(int)


def train_lbp_svm(train_feats: np.ndarray, train_labels: np.ndarray, seed: int = 0,
                  **kwargs: Any) -> LBPSVM:
    """Fit an :class:`LBPSVM` (keyword arguments go to its constructor)."""
    return LBPSVM(seed=seed, **kwargs).fit(train_feats, train_labels)
