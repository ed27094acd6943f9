"""fas_lib.baselines.lbp_runs and the options of experiments.lbp_baseline: the issue's grid recipe
checked against an independent implementation, the defaults unchanged, kernels, bad options.

Fixture: :class:`TextureCache`, a :class:`test_train.TinyCache` (3 scales, 48 train / 24 dev /
24 test frames) whose crops are smooth random textures with pixel noise; attacks add faint
diagonal stripes (a screen's moire) to the lower third of the crop, with a random amplitude, so
that neither the colour baseline nor the grid recipe is perfect.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter
from skimage.color import rgb2gray
from skimage.feature import local_binary_pattern
from sklearn.svm import LinearSVC

import fas_lib.studies.tables as ex
from fas_lib.baselines.lbp import lbp_recipe
from fas_lib.baselines.lbp_runs import LBP_OPTION_DEFAULTS, crop_features
from fas_lib.evaluation.metrics import eer
from tests.frame_fakes import TinyCache

SIZE = 112  # lbp_baseline's default centre crop


class TextureCache(TinyCache):
    """TinyCache with textured crops; attacks carry stripes of amplitude ``amp`` (grey levels)."""

    def __init__(self, amp: float = 5.0, seed: int = 0) -> None:
        super().__init__(n={"train": 48, "dev": 24, "test": 24}, seed=seed)
        rng = np.random.default_rng(seed + 1)
        yy, xx = np.mgrid[:128, :128]
        stripes = np.where(yy >= 80, np.sin(2 * np.pi * (xx + yy) / 7), 0.0)[..., None]
        for split, c in self._crops.items():
            attack = self.frames(split)["label"].to_numpy() == 0
            base = gaussian_filter(rng.normal(0, 1, c.shape), sigma=(0, 0, 3, 3, 0))
            base = 128 + 40 * base / base.std() + rng.normal(0, 3, c.shape)
            a = rng.uniform(0.5, 1.5, len(c)) * amp * attack
            base += a[:, None, None, None, None] * stripes
            self._crops[split] = np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def cache() -> TextureCache:
    return TextureCache()


# ----------------------------------------------------------------------------- the recipe, by hand
def grid_gray_lbp(crop: np.ndarray) -> np.ndarray:
    """The issue's recipe, written out: grey 64 x 64, uniform LBP (P=8, R=1), 3 x 3 grid.

    Two conventions are the library's (``fas_lib.baselines.lbp``, documented there): the grey image
    is scikit-image's ``rgb2gray`` rounded to 8 bits, and the one-pixel border, whose neighbours
    scikit-image would take from a zero padding, is dropped before the grid is cut.
    """
    small = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    gray = np.clip(np.rint(rgb2gray(small) * 255), 0, 255).astype(np.uint8)
    codes = local_binary_pattern(gray, P=8, R=1, method="uniform")[1:-1, 1:-1]  # 62 x 62
    hists = []
    for band in np.array_split(codes, 3, axis=0):  # rows of 21, 21, 20 codes
        for cell in np.array_split(band, 3, axis=1):
            h = np.histogram(cell, bins=10, range=(0, 10))[0].astype(np.float64)
            hists.append(h / h.sum())  # P + 2 = 10 uniform patterns, normalised per cell
    return np.concatenate(hists)  # 90 values


def grid_gray_run(cache: TinyCache, index: int) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Features of the centre crops, a LinearSVC on train, its scores on dev and test."""
    o = (cache.crops("train").shape[2] - SIZE) // 2
    x = {sp: np.stack([grid_gray_lbp(c[index, o:o + SIZE, o:o + SIZE])
                       for c in cache.crops(sp)]) for sp in ("train", "dev", "test")}
    svm = LinearSVC(C=1.0, class_weight="balanced", random_state=0, max_iter=10_000)
    svm.fit(x["train"], cache.frames("train")["label"])
    scores = pd.concat([pd.DataFrame({"split": sp, "label": cache.frames(sp)["label"],
                                      "score": svm.decision_function(x[sp])})
                        for sp in ("dev", "test")], ignore_index=True)
    return x, scores


def test_grid_gray_recipe_matches_an_independent_implementation(cache, tmp_path):
    recipe = lbp_recipe("grid_gray")
    t = ex.lbp_baseline(cache, scales=(1.1, 1.3), out_root=tmp_path, progress=False, **recipe)
    assert list(t["scale"]) == ["1.1", "1.3", "[1.1,1.3]"]
    features = {k: recipe[k] for k in ("color_space", "P", "R", "method", "grid",
                                       "texture_size")}
    for index, row in enumerate(t.itertuples()):
        if index == 2:
            break  # the multi-scale row: checked per scale
        mine, expected = grid_gray_run(cache, 2 * index)  # scales 1.1 and 1.3: positions 0, 2
        for sp in ("train", "test"):  # what lbp_baseline computes for this scale
            lib = crop_features(cache, sp, 2 * index, features, SIZE, 1, False)
            assert lib.shape == (len(mine[sp]), 90)
            np.testing.assert_array_equal(lib, mine[sp].astype(np.float32))  # float32 there
        scores = pd.read_csv(Path(row.run_dir) / "scores.csv")
        assert scores[["split", "label"]].equals(expected[["split", "label"]])
        # the same SVM on the same values (here up to float32 rounding): measured 6e-8 apart
        np.testing.assert_allclose(scores["score"], expected["score"], rtol=0, atol=1e-5)
        res = json.loads((Path(row.run_dir) / "results.json").read_text())
        test = expected[expected["split"] == "test"]
        assert res["metrics"]["frame"]["test_eer"] == pytest.approx(
            eer(test["label"].to_numpy(), test["score"].to_numpy())[0], abs=1e-9)
        assert res["config"]["kernel"] == "linearsvc" and res["config"]["grid"] == [3, 3]
        assert res["config"]["texture_size"] == 64 and res["config"]["normalise"] is None


def test_boulkenafet_recipe_is_lbp_baselines_defaults():
    params = inspect.signature(ex.lbp_baseline).parameters
    for key, value in lbp_recipe("boulkenafet").items():
        assert params[key].default == value, key


def test_defaults_and_the_boulkenafet_recipe_are_the_same_runs(cache, tmp_path, monkeypatch):
    plain = ex.lbp_baseline(cache, scales=(1.2,), out_root=tmp_path, progress=False)
    res = json.loads((Path(plain["run_dir"][0]) / "results.json").read_text())
    # a default run's config (and so its folder name) has only the keys it always had
    assert set(res["config"]) == {"color_space", "kernel", "C", "size", "seed", "data",
                                  "scales"}
    assert not set(res["config"]) & set(LBP_OPTION_DEFAULTS)

    def boom(*_a, **_k):
        raise AssertionError("the same settings must read the run back, not compute it")

    monkeypatch.setattr(ex, "lbp_run", boom)
    named = ex.lbp_baseline(cache, scales=(1.2,), out_root=tmp_path, progress=False,
                            **lbp_recipe("boulkenafet"))
    pd.testing.assert_frame_equal(plain, named)
    spelled = ex.lbp_baseline(cache, scales=(1.2,), out_root=tmp_path, progress=False, R=(1.0,),
                              grid=[1, 1], normalise="auto", texture_size=None)
    pd.testing.assert_frame_equal(plain, spelled)


@pytest.mark.parametrize("options", [
    dict(kernel="linear"), dict(kernel="rbf", grid=(2, 2)), dict(texture_size=64),
    dict(kernel="linear", normalise="l2"), dict(kernel="chi2"), dict(R=(1, 2), P=8),
])
def test_each_option_is_its_own_run(cache, tmp_path, options):
    plain = ex.lbp_baseline(cache, scales=(1.2,), color_space="gray", out_root=tmp_path,
                            progress=False)
    other = ex.lbp_baseline(cache, scales=(1.2,), color_space="gray", out_root=tmp_path,
                            progress=False, **options)
    assert other["run_dir"][0] != plain["run_dir"][0]
    res = json.loads((Path(other["run_dir"][0]) / "results.json").read_text())
    assert res["config"]["kernel"] == options.get("kernel", "rbf")
    a = pd.read_csv(Path(plain["run_dir"][0]) / "scores.csv")["score"]
    b = pd.read_csv(Path(other["run_dir"][0]) / "scores.csv")["score"]
    assert not np.allclose(a, b)
    assert 0 <= res["metrics"]["frame"]["test_eer"] <= 1


@pytest.mark.parametrize("options, match", [
    (dict(grid=(0, 3)), "grid"), (dict(texture_size=1), "texture_size"),
    (dict(normalise="minmax"), "normalise"), (dict(kernel="poly"), "kernel"),
    (dict(method="var"), "method"), (dict(kernel="chi2", normalise="standard"), "non-negative"),
])
def test_bad_options_fail_before_any_run(cache, tmp_path, options, match):
    with pytest.raises(ValueError, match=match):
        ex.lbp_baseline(cache, scales=(1.1,), out_root=tmp_path, progress=False, **options)
    assert not any(tmp_path.iterdir())


def test_protocol_views_reuse_their_base_caches_features(three_session_cache, monkeypatch):
    from fas_lib.baselines import lbp_runs
    from fas_lib.cache.reader import CropCache
    from fas_lib.cache.views import protocol_view

    base = CropCache(three_session_cache.path)
    opts = dict(color_space="gray", P=8, R=1.0, method="nri_uniform", grid=(1, 1),
                texture_size=None)
    fresh = {split: lbp_runs._describe(protocol_view(base, "p1"), split, 0, opts, 64, 1, False)
             for split in ("train", "test")}  # computed on the view's own crops
    calls = []
    real = lbp_runs._describe
    monkeypatch.setattr(lbp_runs, "_describe", lambda *a: calls.append(a[1]) or real(*a))
    for protocol in ("p1", "p2", "p1"):
        view = protocol_view(base, protocol)
        for split in ("train", "test"):
            got = crop_features(view, split, 0, opts, 64, 1, False)
            assert got.shape[0] == len(view.frames(split))
            if protocol == "p1":
                np.testing.assert_array_equal(got, fresh[split])  # the same numbers
    assert sorted(calls) == ["test", "train"]  # the base's splits, described once each
