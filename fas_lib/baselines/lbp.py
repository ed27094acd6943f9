"""The classic baseline: colour-texture LBP + SVM (Boulkenafet et al., ICIP 2015, TIFS 2016).

A face crop is converted to a colour space (grey, HSV, YCbCr or a ``"+"``-joined combination such
as ``"hsv+ycbcr"``, the best setting of Boulkenafet et al.); each channel is described by a
normalised histogram of uniform local binary patterns (LBP: :func:`lbp_codes`, scikit-image's
:func:`skimage.feature.local_binary_pattern` code for code, computed for a whole batch of
channels at once), and the histograms are concatenated. An SVM on
these vectors scores each crop; following the project convention (:mod:`fas_lib`), a higher
score means *more likely bona fide* (label 1).

Border pixels, whose circular neighbourhood leaves the image, are left out of the histograms:
scikit-image would compare them with a zero padding.

Options (all off by default, so the defaults give the course's baseline unchanged):

* ``grid=(rows, cols)``: one histogram per cell of a spatial grid over the LBP code map
  (the border dropped, then cut into near-equal cells by :func:`numpy.array_split`), the cells
  concatenated row by row; ``(1, 1)`` is the whole crop;
* ``texture_size``: the crop is first resized to ``texture_size`` x ``texture_size`` pixels
  (:func:`cv2.resize`, ``INTER_AREA``), which sets the texture scale LBP sees;
* :class:`LBPSVM` ``normalise``: ``"standard"`` (a StandardScaler inside the SVM pipeline),
  ``"l2"`` (each vector to unit length) or ``None``; ``kernel="linearsvc"`` is a linear SVM
  trained by liblinear (:class:`sklearn.svm.LinearSVC`), fast on many samples.

:data:`LBP_RECIPES` names two settings: ``"boulkenafet"`` (the defaults: colour texture, one
histogram per channel, RBF SVM) and ``"grid_gray"`` (grey uniform LBP, P = 8, R = 1, on a
64 x 64 resize, a 3 x 3 grid, a linear SVM on the raw histograms): in the issue "Models that
generalise to unseen sessions, cameras and attacks" it reached 3.8 % test EER on NUAA, where
this baseline in grey (``color_space="gray"``) had 29.3 %. :func:`lbp_recipe` returns one as
keyword arguments of :func:`fas_lib.studies.tables.lbp_baseline`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from fas_lib.core.parallel import pool_map

COLOR_SPACES: tuple[str, ...] = ("gray", "hsv", "ycbcr")
METHODS: tuple[str, ...] = ("nri_uniform", "uniform", "default", "ror")
KERNELS: tuple[str, ...] = ("rbf", "linear", "chi2", "linearsvc")
NORMALISATIONS: tuple[str | None, ...] = ("auto", "standard", "l2", None)

Radii = int | float | Sequence[int | float]
Grid = tuple[int, int]

#: Named LBP + SVM settings, as keyword arguments of :func:`fas_lib.studies.tables.lbp_baseline`.
#: ``"boulkenafet"`` is the default of every function here (colour texture after Boulkenafet
#: et al.); ``"grid_gray"`` is the grey 3 x 3 grid recipe of the issue (see the module text).
LBP_RECIPES: dict[str, dict[str, Any]] = {
    "boulkenafet": dict(color_space="hsv+ycbcr", P=8, R=1, method="nri_uniform", grid=(1, 1),
                        texture_size=None, kernel="rbf", C=1.0, normalise="auto"),
    "grid_gray": dict(color_space="gray", P=8, R=1, method="uniform", grid=(3, 3),
                      texture_size=64, kernel="linearsvc", C=1.0, normalise=None),
}


def lbp_recipe(name: str, **overrides: Any) -> dict[str, Any]:
    """A copy of ``LBP_RECIPES[name]`` with ``overrides`` applied (unknown keys refused).

    Example:
        >>> lbp_baseline(cache, scales=(1.0,), **lbp_recipe("grid_gray"))  # doctest: +SKIP
    """
    if name not in LBP_RECIPES:
        raise ValueError(f"unknown LBP recipe {name!r}; expected one of {sorted(LBP_RECIPES)}")
    recipe = dict(LBP_RECIPES[name])
    bad = sorted(set(overrides) - set(recipe))
    if bad:
        raise ValueError(f"unknown LBP recipe field(s) {bad}; expected some of {sorted(recipe)}")
    recipe.update(overrides)
    return recipe


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


def _grid(grid: Sequence[int]) -> Grid:
    """``grid`` as ``(rows, cols)`` of positive integers."""
    try:
        rows, cols = (operator.index(v) for v in grid)
    except (TypeError, ValueError):
        rows = cols = 0
    if rows < 1 or cols < 1:
        raise ValueError(f"grid must be two positive integers (rows, cols), got {grid!r}")
    return rows, cols


def _texture_size(texture_size: int | None) -> int | None:
    """``texture_size`` checked: ``None`` or an integer of at least 3 pixels."""
    if texture_size is None:
        return None
    try:
        n = operator.index(texture_size)
    except TypeError:
        n = 0
    if n < 3:
        raise ValueError(f"texture_size must be None or an integer >= 3 (pixels), "
                         f"got {texture_size!r}")
    return n


def feature_dim(color_space: str = "gray", P: int = 8, R: Radii = 1,
                method: str = "nri_uniform", grid: Sequence[int] = (1, 1)) -> int:
    """Length of the vector :func:`lbp_features` returns for these settings."""
    n_channels = sum(1 if s == "gray" else 3 for s in _spaces(color_space))
    rows, cols = _grid(grid)
    return n_channels * len(_radii(R)) * rows * cols * n_bins(P, method)


def resize_crop(crop_rgb: np.ndarray, texture_size: int | None) -> np.ndarray:
    """``crop_rgb`` resized to ``texture_size`` x ``texture_size`` (``cv2.INTER_AREA``);
    unchanged when ``texture_size`` is ``None`` or already its side."""
    import cv2

    n = _texture_size(texture_size)
    if n is None or crop_rgb.shape[:2] == (n, n):
        return crop_rgb
    return cv2.resize(np.ascontiguousarray(crop_rgb), (n, n), interpolation=cv2.INTER_AREA)


@functools.lru_cache(maxsize=None)
def _code_table(P: int, method: str) -> np.ndarray:
    """The code of each of the ``2**P`` neighbour patterns (bit ``i``: neighbour ``i`` >= the
    centre), as scikit-image's ``local_binary_pattern`` maps them: ``default`` the pattern
    itself, ``ror`` its smallest rotation, ``uniform`` the number of ones of a pattern with at
    most two 0/1 changes along neighbours 0 .. P-1 (else P + 1), ``nri_uniform`` a distinct code
    per rotation of such a pattern (0, 1 .. P(P-1), P(P-1) + 1 for all ones, P(P-1) + 2 for the
    others)."""
    table = np.zeros(2**P, dtype=np.int64)
    mask = 2**P - 1
    for pattern in range(2**P):
        bits = [(pattern >> i) & 1 for i in range(P)]
        changes = sum(bits[i] != bits[i + 1] for i in range(P - 1))
        n_ones = sum(bits)
        if method == "default":
            code = pattern
        elif method == "ror":
            code = min(((pattern >> k) | (pattern << (P - k))) & mask for k in range(P))
        elif method == "uniform":
            code = n_ones if changes <= 2 else P + 1
        elif changes > 2:  # nri_uniform from here on
            code = P * (P - 1) + 2
        elif n_ones == 0:
            code = 0
        elif n_ones == P:
            code = P * (P - 1) + 1
        else:
            first_one, first_zero = bits.index(1), bits.index(0)
            rot = n_ones - first_zero if first_one == 0 else P - first_one
            code = 1 + (n_ones - 1) * P + rot
        table[pattern] = code
    return table


def lbp_codes(channels: np.ndarray, P: int = 8, R: float = 1, method: str = "nri_uniform"
              ) -> np.ndarray:
    """LBP codes of a batch of 8-bit channels, their ``ceil(R)``-pixel border left out.

    Equal, code for code, to ``skimage.feature.local_binary_pattern(channel, P, R, method)``
    cut to ``[b:-b, b:-b]`` (tested): the same neighbour positions (rounded to 5 decimals), the
    same bilinear interpolation in float64 in the same order of operations, the same test
    ``neighbour - centre >= 0`` and the same code of each pattern (:func:`_code_table`); but for
    a whole ``(M, H, W)`` batch in a few array operations per neighbour instead of a loop per
    pixel (about 2x faster on 128 x 128 crops).

    Args:
        channels: ``(M, H, W)`` uint8 channels (any integer or float values work the same).
        P: neighbours (at most 16 here: the code table has ``2**P`` entries).
        R: radius (> 0).
        method: ``"nri_uniform"``, ``"uniform"``, ``"default"`` or ``"ror"``.

    Returns:
        ``(M, H - 2b, W - 2b)`` int64 codes, ``b = ceil(R)``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown LBP method {method!r}; expected one of {METHODS}")
    if not 1 <= P <= 16:
        raise ValueError(f"P must be between 1 and 16, got {P}")
    img = np.asarray(channels, dtype=np.float64)
    if img.ndim != 3:
        raise ValueError(f"expected (M, H, W) channels, got shape {img.shape}")
    _, h, w = img.shape
    b = math.ceil(R)
    if h <= 2 * b or w <= 2 * b:
        raise ValueError(f"crop {h}x{w} too small for LBP radius {R}")
    angles = 2 * np.pi * np.arange(P, dtype=np.float64) / P
    rp, cp = np.round(-R * np.sin(angles), 5), np.round(R * np.cos(angles), 5)
    rows, cols = np.arange(b, h - b, dtype=np.float64), np.arange(b, w - b, dtype=np.float64)
    hi, wi = h - 2 * b, w - 2 * b
    pattern = np.zeros((len(img), hi, wi), dtype=np.int64)
    step = 4  # maps per block: a block's arrays stay in the CPU cache
    for i in range(P):
        r, c = rows + rp[i], cols + cp[i]  # as scikit-image: position, floor, ceil, fraction
        r0, r1, c0, c1 = (np.floor(r).astype(np.intp), np.ceil(r).astype(np.intp),
                          np.floor(c).astype(np.intp), np.ceil(c).astype(np.intp))
        dr, dc = (r - r0)[:, None], c - c0
        # the corners as slices: floor / ceil are the rows (cols) shifted by a constant
        assert all(np.array_equal(v, v[0] + np.arange(len(v))) for v in (r0, r1, c0, c1))
        a0, a1, e0, e1 = (int(v[0]) for v in (r0, r1, c0, c1))
        plain = not dr.any() and not dc.any()  # an integer position: the pixel itself
        for k in range(0, len(img), step):
            blk = img[k:k + step]
            centre = blk[:, b:b + hi, b:b + wi]
            tl = blk[:, a0:a0 + hi, e0:e0 + wi]
            if plain:
                texture = tl
            else:
                top = (1 - dc) * tl + dc * blk[:, a0:a0 + hi, e1:e1 + wi]
                bottom = ((1 - dc) * blk[:, a1:a1 + hi, e0:e0 + wi]
                          + dc * blk[:, a1:a1 + hi, e1:e1 + wi])
                texture = (1 - dr) * top + dr * bottom
            pattern[k:k + step] |= (texture - centre >= 0).astype(np.int64) << i
    return _code_table(int(P), method)[pattern]


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
                 method: str = "nri_uniform", grid: Sequence[int] = (1, 1),
                 texture_size: int | None = None) -> np.ndarray:
    """Concatenated normalised LBP histograms of one crop.

    Args:
        crop_rgb: (H, W, 3) uint8 RGB crop.
        color_space: ``"gray"`` (1 channel), ``"hsv"`` / ``"ycbcr"`` (3 channels) or a
            ``"+"``-joined combination, e.g. ``"hsv+ycbcr"``.
        P: number of circular neighbours.
        R: radius, or several radii (e.g. ``(1, 2, 3)``) whose histograms are concatenated.
        method: scikit-image LBP mapping; ``"nri_uniform"`` gives 59 bins for P = 8.
        grid: ``(rows, cols)`` cells, one histogram each (:func:`cell_histograms`).
        texture_size: resize the crop to this side first (:func:`resize_crop`); ``None``: not.

    Returns:
        float32 vector of length :func:`feature_dim`; each channel/radius/cell block sums to
        1, ordered channel-major (channel 0: radius 0: cells row by row, ...).
    """
    return _batch_features(resize_crop(crop_rgb, texture_size)[None], color_space, P, R,
                           method, grid)[0]


def _batch_features(crops: list[np.ndarray] | np.ndarray, color_space: str, P: int, R: Radii,
                    method: str, grid: Sequence[int]) -> np.ndarray:
    """:func:`lbp_features` of crops of one size (already resized): ``(N, D)`` float32."""
    bins = n_bins(P, method)
    radii = _radii(R)
    rows, cols = _grid(grid)
    channels = np.stack([np.stack(to_channels(c, color_space)) for c in crops])  # (N, C, H, W)
    n, n_ch, h, w = channels.shape
    flat = channels.reshape(n * n_ch, h, w)
    blocks = []  # (N * C, bins) per radius and cell, in lbp_features' order
    for r in radii:
        codes = lbp_codes(flat, P, r, method)
        if codes.shape[1] < rows or codes.shape[2] < cols:
            raise ValueError(f"LBP code map {codes.shape[1]}x{codes.shape[2]} too small for a "
                             f"{rows}x{cols} grid")
        offset = (np.arange(n * n_ch, dtype=np.int64) * bins)[:, None]
        for band in np.array_split(codes, rows, axis=1):
            for cell in np.array_split(band, cols, axis=2):
                per_map = cell.reshape(n * n_ch, -1)
                hist = np.bincount((per_map + offset).ravel(), minlength=n * n_ch * bins)
                blocks.append(hist.reshape(n * n_ch, bins) / per_map.shape[1])
    # (radius-cell, N * C, bins) -> (N, C, radius-cell, bins): channel-major, as documented
    feats = np.stack(blocks).reshape(len(blocks), n, n_ch, bins).transpose(1, 2, 0, 3)
    return feats.reshape(n, -1).astype(np.float32)


def _extract_chunk(crops: np.ndarray, color_space: str, P: int, R: Radii, method: str,
                   grid: Sequence[int], texture_size: int | None) -> np.ndarray:
    """Features of a chunk of crops (top level so that worker processes can run it)."""
    resized = [resize_crop(c, texture_size) for c in crops]
    return _batch_features(resized, color_space, P, R, method, grid)


def extract_lbp(crops: np.ndarray, color_space: str = "gray", P: int = 8, R: Radii = 1,
                method: str = "nri_uniform", workers: int = 1, progress: bool | None = None,
                chunk_size: int = 64, grid: Sequence[int] = (1, 1),
                texture_size: int | None = None) -> np.ndarray:
    """LBP features of a batch of crops.

    Args:
        crops: (N, H, W, 3) uint8 RGB crops.
        color_space, P, R, method, grid, texture_size: as in :func:`lbp_features`.
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
    dim = feature_dim(color_space, P, R, method, grid)
    texture_size = _texture_size(texture_size)
    if len(crops) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    fn = partial(_extract_chunk, color_space=color_space, P=P, R=R, method=method,
                 grid=_grid(grid), texture_size=texture_size)
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
        kernel: ``"rbf"``, ``"linear"`` (both :class:`sklearn.svm.SVC`), ``"chi2"``
            (exponential chi-squared kernel, for non-negative features) or ``"linearsvc"``
            (:class:`sklearn.svm.LinearSVC`: a linear SVM trained by liblinear, squared hinge
            loss, fast on many samples).
        C: SVM regularisation.
        gamma: kernel width; ``"scale"`` for rbf, or a float (chi2 default 1.0).
        class_weight: passed to the SVM (``"balanced"`` by default: attacks usually outnumber
            bona fide samples).
        seed: random state (libsvm without probability estimates is deterministic anyway).
        normalise: feature normalisation before the SVM, in its pipeline: ``"standard"``
            (:class:`~sklearn.preprocessing.StandardScaler`), ``"l2"`` (each vector scaled to
            unit length, :class:`~sklearn.preprocessing.Normalizer`), ``None`` (raw
            histograms) or ``"auto"`` (the default: ``"standard"``, but ``None`` for chi2).
    """

    def __init__(self, kernel: str = "rbf", C: float = 1.0, gamma: float | str = "scale",
                 class_weight: str | dict | None = "balanced", seed: int = 0,
                 normalise: str | None = "auto") -> None:
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        if normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
        if kernel == "chi2" and normalise == "standard":
            raise ValueError("the chi2 kernel needs non-negative features: normalise must be "
                             "'auto', 'l2' or None, not 'standard'")
        self.kernel, self.C, self.gamma = kernel, C, gamma
        self.class_weight, self.seed, self.normalise = class_weight, seed, normalise
        self.model: Any = None

    def _build(self) -> Any:
        from sklearn.metrics.pairwise import chi2_kernel
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import Normalizer, StandardScaler
        from sklearn.svm import SVC, LinearSVC

        common = dict(C=self.C, class_weight=self.class_weight, random_state=self.seed)
        if self.kernel == "chi2":
            gamma = 1.0 if self.gamma == "scale" else float(self.gamma)
            svm = SVC(kernel=partial(chi2_kernel, gamma=gamma), **common)
        elif self.kernel == "linearsvc":
            svm = LinearSVC(dual="auto", max_iter=10_000, **common)
        else:
            svm = SVC(kernel=self.kernel, gamma=self.gamma, **common)
        norm = self.normalise
        if norm == "auto":
            norm = None if self.kernel == "chi2" else "standard"
        if norm is None:
            return svm
        return make_pipeline(StandardScaler() if norm == "standard" else Normalizer("l2"), svm)

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
