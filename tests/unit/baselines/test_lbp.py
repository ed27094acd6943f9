"""fas_lib.baselines.lbp: feature shapes, normalisation, a separable toy problem, determinism."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from fas_lib.baselines import lbp
from fas_lib.evaluation.metrics import eer


def _crops(n: int, noise: float, seed: int, size: int = 64) -> np.ndarray:
    """Smooth colour textures (blurred noise) plus pixel noise of std ``noise`` (grey levels)."""
    rng = np.random.default_rng(seed)
    base = gaussian_filter(rng.normal(0, 1, (n, size, size, 3)), sigma=(0, 3, 3, 0))
    base = 128 + 40 * base / base.std()
    return np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "space, R, dim",
    [("gray", 1, 59), ("hsv", 1, 177), ("ycbcr", 1, 177), ("hsv+ycbcr", 1, 354),
     ("gray", (1, 2, 3), 177), ("ycbcr", (1, 2), 354)],
)
def test_shapes_and_normalisation(space: str, R: int | tuple, dim: int) -> None:
    crop = _crops(1, 5.0, 0)[0]
    f = lbp.lbp_features(crop, space, R=R)
    assert f.shape == (dim,) == (lbp.feature_dim(space, R=R),)
    assert f.dtype == np.float32 and np.all(f >= 0)
    np.testing.assert_allclose(f.reshape(-1, 59).sum(axis=1), 1.0, rtol=1e-6)


def test_other_methods_bins() -> None:
    crop = _crops(1, 5.0, 0)[0]
    assert lbp.lbp_features(crop, "gray", method="uniform").shape == (10,)
    assert lbp.lbp_features(crop, "gray", method="default").shape == (256,)


def test_constant_crop_is_one_pattern() -> None:
    # A flat image has one LBP code everywhere; a one-hot histogram per channel also shows that
    # the border (where scikit-image compares with zero padding) is left out.
    crop = np.full((20, 20, 3), 100, dtype=np.uint8)
    f = lbp.lbp_features(crop, "ycbcr", R=(1, 2)).reshape(-1, 59)
    assert np.all(f.max(axis=1) == 1.0)


def test_colour_spaces_differ() -> None:
    crop = _crops(1, 5.0, 1)[0]
    g = lbp.lbp_features(crop, "gray")
    h = lbp.lbp_features(crop, "hsv")
    y = lbp.lbp_features(crop, "ycbcr")
    assert not np.allclose(h[:59], y[:59])
    # the Y channel of YCbCr and the grey image are both luma: close, not identical
    assert np.abs(g - y[:59]).sum() < 0.5


def test_bad_inputs() -> None:
    crop = _crops(1, 5.0, 0)[0]
    with pytest.raises(ValueError, match="colour space"):
        lbp.lbp_features(crop, "lab")
    with pytest.raises(TypeError, match="uint8"):
        lbp.lbp_features(crop.astype(np.float32), "gray")
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        lbp.lbp_features(crop[..., 0], "gray")
    with pytest.raises(ValueError, match="too small"):
        lbp.lbp_features(crop[:4, :4], "gray", R=2)
    with pytest.raises(ValueError, match="method"):
        lbp.lbp_features(crop, "gray", method="var")


def test_extract_matches_single_and_workers() -> None:
    crops = _crops(6, 5.0, 2, size=32)
    one = np.stack([lbp.lbp_features(c, "hsv") for c in crops])
    batch = lbp.extract_lbp(crops, "hsv", chunk_size=4, progress=False)
    assert batch.shape == (6, 177) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, one)
    par = lbp.extract_lbp(crops, "hsv", chunk_size=2, workers=2, progress=False)
    np.testing.assert_array_equal(par, one)
    assert lbp.extract_lbp(crops[:0], "gray").shape == (0, 59)


def _toy(seed: int) -> tuple[np.ndarray, np.ndarray]:
    # bona fide (1): smooth texture, faint noise; attack (0): the same kind of texture, strong noise
    x = np.concatenate([_crops(24, 2.0, seed), _crops(24, 5.0, seed + 100)])
    y = np.r_[np.ones(24, dtype=int), np.zeros(24, dtype=int)]
    return x, y


@pytest.mark.parametrize("kernel", ["rbf", "chi2"])
def test_svm_separates_toy_problem(kernel: str) -> None:
    xtr, ytr = _toy(10)
    xte, yte = _toy(20)
    ftr, fte = lbp.extract_lbp(xtr, "ycbcr"), lbp.extract_lbp(xte, "ycbcr")
    model = lbp.train_lbp_svm(ftr, ytr, seed=0, kernel=kernel)
    s = model.score(fte)
    assert eer(yte, s)[0] < 0.1
    # direction: bona fide must score higher on average (negating would give EER near 1)
    assert s[yte == 1].mean() > s[yte == 0].mean()
    assert eer(yte, -s)[0] > 0.9


def test_svm_deterministic_and_errors() -> None:
    xtr, ytr = _toy(30)
    f = lbp.extract_lbp(xtr, "gray")
    s1 = lbp.train_lbp_svm(f, ytr, seed=3).score(f)
    s2 = lbp.train_lbp_svm(f, ytr, seed=3).score(f)
    np.testing.assert_array_equal(s1, s2)
    with pytest.raises(ValueError, match="both"):
        lbp.train_lbp_svm(f, np.ones(len(f), dtype=int))
    with pytest.raises(RuntimeError, match="before fit"):
        lbp.LBPSVM().score(f)
    with pytest.raises(ValueError, match="kernel"):
        lbp.LBPSVM(kernel="poly")


# ----------------------------------------------------------------------------- options
def test_grid_is_a_partition_of_the_whole_histogram() -> None:
    crop = _crops(1, 5.0, 4, size=40)[0]
    whole = lbp.lbp_features(crop, "ycbcr", method="uniform")
    assert np.array_equal(whole, lbp.lbp_features(crop, "ycbcr", method="uniform", grid=(1, 1)))
    f = lbp.lbp_features(crop, "ycbcr", method="uniform", grid=(3, 2))
    assert f.shape == (3 * 6 * 10,) == (lbp.feature_dim("ycbcr", method="uniform", grid=(3, 2)),)
    cells = f.reshape(3, 6, 10)  # channel, cell (row by row), bin
    np.testing.assert_allclose(cells.sum(axis=2), 1.0, rtol=1e-6)
    # the 38 x 38 code map (border dropped) cut into rows of 13, 13, 12 and columns of 19, 19
    sizes = np.outer([13, 13, 12], [19, 19]).ravel() / 38**2
    np.testing.assert_allclose((cells * sizes[None, :, None]).sum(axis=1), whole.reshape(3, 10),
                               rtol=1e-5)
    assert not np.allclose(cells[:, 0], cells[:, -1])  # the cells see different texture


def test_texture_size_resizes_first() -> None:
    import cv2

    crop = _crops(1, 5.0, 5, size=112)[0]
    small = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(lbp.lbp_features(crop, "hsv", texture_size=64),
                                  lbp.lbp_features(small, "hsv"))
    np.testing.assert_array_equal(lbp.lbp_features(small, "hsv", texture_size=64),
                                  lbp.lbp_features(small, "hsv"))  # already that size: as is
    crops = _crops(5, 5.0, 6, size=48)
    one = np.stack([lbp.lbp_features(c, "gray", grid=(2, 2), texture_size=32) for c in crops])
    par = lbp.extract_lbp(crops, "gray", grid=(2, 2), texture_size=32, workers=2, chunk_size=2,
                          progress=False)
    np.testing.assert_array_equal(par, one)
    assert par.shape == (5, 4 * 59)


@pytest.mark.parametrize("kwargs, match", [
    (dict(grid=(0, 2)), "grid"), (dict(grid=(2,)), "grid"), (dict(grid=(1.5, 2)), "grid"),
    (dict(grid=3), "grid"), (dict(grid=(20, 20)), "too small for a 20x20 grid"),
    (dict(texture_size=2), "texture_size"), (dict(texture_size=32.5), "texture_size"),
])
def test_bad_options(kwargs: dict, match: str) -> None:
    crop = _crops(1, 5.0, 0, size=16)[0]
    with pytest.raises(ValueError, match=match):
        lbp.lbp_features(crop, "gray", **kwargs)
    if "too small" not in match:  # checked before any crop is read
        with pytest.raises(ValueError, match=match):
            lbp.extract_lbp(crop[None, :0], "gray", **kwargs)


def test_normalisation_choices() -> None:
    xtr, ytr = _toy(40)
    f = lbp.extract_lbp(xtr, "gray", grid=(2, 2))
    auto = lbp.train_lbp_svm(f, ytr, kernel="linear").score(f)
    std = lbp.train_lbp_svm(f, ytr, kernel="linear", normalise="standard").score(f)
    np.testing.assert_array_equal(auto, std)  # "auto" is the StandardScaler for linear / rbf
    chi2 = lbp.train_lbp_svm(f, ytr, kernel="chi2").score(f)
    np.testing.assert_array_equal(chi2, lbp.train_lbp_svm(f, ytr, kernel="chi2",
                                                          normalise=None).score(f))
    l2 = lbp.train_lbp_svm(f, ytr, kernel="rbf", normalise="l2")
    steps = [type(s).__name__ for s in l2.model.named_steps.values()]
    assert steps == ["Normalizer", "SVC"]
    raw = lbp.train_lbp_svm(f, ytr, kernel="linearsvc", normalise=None)
    assert type(raw.model).__name__ == "LinearSVC"
    with pytest.raises(ValueError, match="normalise"):
        lbp.LBPSVM(normalise="minmax")
    with pytest.raises(ValueError, match="non-negative"):
        lbp.LBPSVM(kernel="chi2", normalise="standard")


@pytest.mark.parametrize("kernel", ["linear", "linearsvc"])
def test_linear_kernels_separate_toy_problem(kernel: str) -> None:
    xtr, ytr = _toy(50)
    xte, yte = _toy(60)
    opts = dict(grid=(2, 2))
    model = lbp.train_lbp_svm(lbp.extract_lbp(xtr, "ycbcr", **opts), ytr, kernel=kernel)
    s = model.score(lbp.extract_lbp(xte, "ycbcr", **opts))
    assert eer(yte, s)[0] < 0.1 and s[yte == 1].mean() > s[yte == 0].mean()


def test_recipes() -> None:
    params = inspect.signature(lbp.extract_lbp).parameters
    for key in ("color_space", "P", "R", "method", "grid", "texture_size"):
        assert lbp.LBP_RECIPES["boulkenafet"][key] == (
            params[key].default if key != "color_space" else "hsv+ycbcr"), key
    assert inspect.signature(lbp.LBPSVM).parameters["normalise"].default == "auto"
    r = lbp.lbp_recipe("grid_gray", C=10.0)
    assert r["C"] == 10.0 and lbp.LBP_RECIPES["grid_gray"]["C"] == 1.0  # a copy
    assert lbp.feature_dim(r["color_space"], r["P"], r["R"], r["method"], r["grid"]) == 90
    with pytest.raises(ValueError, match="unknown LBP recipe 'x'"):
        lbp.lbp_recipe("x")
    with pytest.raises(ValueError, match="field"):
        lbp.lbp_recipe("grid_gray", colour="gray")


@pytest.mark.parametrize("method", ["nri_uniform", "uniform", "default", "ror"])
@pytest.mark.parametrize("P, R", [(8, 1), (8, 2), (8, 1.5), (4, 1), (12, 2.5)])
def test_codes_equal_scikit_image(P: int, R: float, method: str) -> None:
    """lbp_codes is scikit-image's local_binary_pattern code for code (border cut): on noise
    (every neighbour pattern occurs), on smooth textures and on flat patches (ties between the
    centre and interpolated neighbours)."""
    from skimage.feature import local_binary_pattern

    rng = np.random.default_rng(P * 10 + int(2 * R))
    noise = rng.integers(0, 256, (3, 40, 48), dtype=np.uint8)
    smooth = _crops(2, 2.0, 7, size=40)[..., :].transpose(0, 3, 1, 2).reshape(6, 40, 40)
    flat = np.full((2, 40, 48), 100, dtype=np.uint8)
    flat[1, 10:30, 12:20] = 101
    for batch in (noise, smooth[:, :, :40], flat):
        b = int(np.ceil(R))
        ours = lbp.lbp_codes(batch, P, R, method)
        ref = np.stack([local_binary_pattern(ch, P, R, method)[b:-b, b:-b] for ch in batch])
        np.testing.assert_array_equal(ours, ref.astype(np.int64))
    if (P, method) == (8, "nri_uniform"):  # every one of the 59 codes occurs on the noise
        assert len(np.unique(lbp.lbp_codes(noise, P, R, method))) == 59


def test_batch_features_equal_one_crop_at_a_time() -> None:
    """extract_lbp describes a chunk in one batch; each row equals lbp_features of its crop, for
    both recipes of LBP_RECIPES (grid, resize) and several radii."""
    crops = _crops(5, 5.0, 3, size=48)
    for options in (dict(color_space="hsv+ycbcr"), dict(color_space="gray", method="uniform",
                                                        grid=(3, 3), texture_size=32),
                    dict(color_space="ycbcr", R=(1, 2), grid=(2, 1))):
        batch = lbp.extract_lbp(crops, progress=False, **options)
        one = np.stack([lbp.lbp_features(c, **options) for c in crops])
        np.testing.assert_array_equal(batch, one)


def _reference_features(crop: np.ndarray, color_space: str, R: tuple, grid: tuple) -> np.ndarray:
    """The feature vector by its definition: per channel, per radius, scikit-image's codes (border
    cut) and a normalised histogram per grid cell, row by row, concatenated."""
    from skimage.feature import local_binary_pattern

    out = []
    for ch in lbp.to_channels(crop, color_space):
        for r in R:
            b = int(np.ceil(r))
            codes = local_binary_pattern(ch, 8, r, "nri_uniform")[b:-b, b:-b].astype(np.int64)
            for band in np.array_split(codes, grid[0], axis=0):
                for cell in np.array_split(band, grid[1], axis=1):
                    out.append(np.bincount(cell.ravel(), minlength=59) / cell.size)
    return np.concatenate(out).astype(np.float32)


def test_features_equal_their_definition() -> None:
    crops = _crops(3, 5.0, 4, size=40)
    for space, R, grid in (("hsv+ycbcr", (1,), (1, 1)), ("gray", (1, 2), (3, 2))):
        ours = lbp.extract_lbp(crops, space, R=R, grid=grid, progress=False)
        ref = np.stack([_reference_features(c, space, R, grid) for c in crops])
        np.testing.assert_array_equal(ours, ref)
