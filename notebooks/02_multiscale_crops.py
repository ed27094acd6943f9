# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Multi-scale face crops
#
# MS-FANS never sees a whole frame. It sees *crops* of the aligned face at several scales:
# at scale 1.0 the crop is the aligned face box, at 1.5 it is 1.5 times wider and so also holds
# hair, neck and whatever surrounds the head. This notebook cuts the paper's seven scales
# (0.9, 1.0, …, 1.5; Sec. IV-A, Fig. 3b), redraws the paper's Fig. 1 for SynthSpoof, and
# measures what the larger scales add: the presentation medium's border, and padding where
# the crop leaves the frame.
#
# **Learning goals**
#
# 1. Cut aligned crops at several scales from one similarity transform, and read the paper's
#    Fig. 1 / Fig. 3b as a grid: rows = live and each attack, columns = scales.
# 2. Measure, from ground truth, the share of attack crops that contain the medium's border at
#    each scale — for the aligner's box and for the detector's box — and on the real crops.
# 3. Measure how much of a crop is padding (outside the frame) per scale, and why padding can
#    become a shortcut a classifier learns instead of the attack.
# 4. Connect the curves to the paper's Table II (EER per scale) and to the choice of scales
#    for MS-FANS.
#
# **Before this notebook**: 01 (face alignment). Paper: Sec. I (Fig. 1), Sec. IV-A (Fig. 3),
# Table II.
#
# Runtime on a laptop CPU: about 2 min the first time (building the crop cache the later
# notebooks share; 1-2 min more when SynthSpoof is not generated yet); 20 s afterwards. SMOKE:
# under 30 s.

# %%
import time

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from fas_lib import synthspoof
from fas_lib.core.utils import environment_line, save_results, set_seed, smoke_output_dirs
from fas_lib.preprocess import align, geometry
from fas_lib.viz.plots import plot_curves, save_fig, scale_grid
from fas_lib.viz.widgets import scale_explorer

T0 = time.perf_counter()
print(environment_line(("python", "torch", "opencv", "fas_lib", "device")))

# %% tags=["parameters"]
SMOKE = False            # True: the tiny smoke dataset, for tests/CI
SEED = 0
DATASET = "synthspoof"   # any adapter: casia_fasd, replay_attack, oulu_npu, ...
DATA_ROOT = None         # None -> SynthSpoof is generated; else the dataset folder
PROTOCOL = None          # None -> the dataset's default (CASIA-FASD: standard_nodev, the paper's)
FOLD = None
WORKERS = 2
SCALES = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)  # paper Sec. IV-A: the seven baseline scales
SPLIT = "test"           # the split whose frames are measured
FIG_DIR = "../figures"
RESULTS_DIR = "../results"

# %%
set_seed(SEED)
FIG_DIR, RESULTS_DIR = smoke_output_dirs(SMOKE, FIG_DIR, RESULTS_DIR)
plt.rcParams["figure.dpi"] = 80
SCALES = tuple(float(s) for s in SCALES)
RESULTS = {"smoke": bool(SMOKE), "dataset": DATASET, "split": SPLIT, "scales": list(SCALES)}

# %% [markdown]
# ## 1. The crops, computed once
#
# Cutting crops is the expensive step of every experiment (a face detection per frame), so it
# is done once and cached: `fas_lib.cache.prepare.get_cache` samples frames of every video, runs the
# aligner of notebook 01 (HOG detection → dlib's 5 points → similarity transform to the
# template) and stores, per frame, the 128 × 128 crops at every scale, the landmarks and the
# protocol row. Frames without a detected face are skipped and counted. The next notebooks
# train on this same cache.
#
# The crop at scale *s* is a square of side *s* (in units of the aligned face box) centred on
# the box; it is cut straight from the frame with one affine warp whose matrix composes the
# alignment with the scaling. Where the square leaves the frame, the crop is padded with black.

# %%
from fas_lib.cache.build import skip_report
from fas_lib.cache.prepare import get_cache

cache = get_cache(DATASET, DATA_ROOT, protocol=PROTOCOL, fold=FOLD, smoke=SMOKE, workers=WORKERS)
cache_scales = tuple(float(s) for s in cache.scales)
missing = [s for s in SCALES if not any(abs(s - c) < 1e-6 for c in cache_scales)]
if missing:
    raise ValueError(f"the cache has scales {cache_scales}; it lacks {missing}")
sidx = [min(range(len(cache_scales)), key=lambda i: abs(cache_scales[i] - s)) for s in SCALES]
frames = cache.frames(SPLIT).reset_index(drop=True)
crops = cache.crops(SPLIT)
landmarks = np.asarray(cache.landmarks(SPLIT))
print(f"cache {cache.path}: {len(frames)} {SPLIT} frames, crops {crops.shape}")
print(skip_report(cache.manifest))
display(pd.crosstab(frames["attack_type"], frames["quality"]).rename_axis("frames"))
ds = None                    # the generated dataset, for its ground truth
if DATASET == "synthspoof":
    ds = synthspoof.SynthSpoofReader(cache.manifest["root"])   # the dataset the cache was cut from
else:
    print(f"{DATASET} has no ground-truth medium outlines: sections 3 and 4 are skipped.")


# %% [markdown]
# ## 2. The paper's Fig. 1, for SynthSpoof
#
# One frame per row — live, then every attack species — of a single test subject at the
# best available quality, at the seven scales. The dotted cyan square in each crop is the
# scale-1.0 box. Read the grid column by column: at 0.9 and 1.0 the rows look alike (the
# forgery is good and the differences are fine texture); from about 1.2 on, paper edges,
# bezels, fingers and the second scene appear — in the attack rows only.

# %%
def first_border_scale(row) -> float:
    # smallest scale whose aligned crop shows the medium border (ground truth); inf if none
    gt = ds.load_gt(row.video_id)
    hits = [s for s in SCALES
            if synthspoof.crop_shows_border(gt, int(row.frame_idx), s, box="aligned")]
    return hits[0] if hits else np.inf


def pick_rows(frames: pd.DataFrame) -> pd.DataFrame:
    # one frame per attack type, all of one subject (the one covering most types). With
    # ground truth, the attack frame whose border enters the crop nearest the middle scale
    # 1.2 is shown (the grid then shows the transition); else the best-quality frame.
    kinds = ["live"] + sorted(k for k in frames["attack_type"].unique() if k != "live")
    subject = frames.groupby("subject")["attack_type"].nunique().idxmax()
    quality_rank = {"high": 0, "normal": 1, "low": 2}
    rows = []
    for k in kinds:
        cand = frames[frames["attack_type"] == k]
        same = cand[cand["subject"] == subject]
        cand = (same if len(same) else cand).copy()
        cand["_q"] = cand["quality"].map(quality_rank).fillna(9)
        cand["_b"] = 0.0
        if ds is not None and k != "live":
            cand["_b"] = [abs(first_border_scale(r) - 1.2) for r in cand.itertuples()]
        if len(cand):
            rows.append(cand.sort_values(["_b", "_q", "frame_idx"]).iloc[0])
    return pd.DataFrame(rows)


shown = pick_rows(frames)
grid = [crops[int(r.name)][sidx] for _, r in shown.iterrows()]
labels = [f"{r.attack_type}\n({r.subject}, {r.quality})" for _, r in shown.iterrows()]
fig = scale_grid(grid, labels, SCALES,
                 title=f"{DATASET}: aligned crops at the paper's seven scales ({SPLIT} split)")
save_fig(fig, "02_scale_grid", FIG_DIR)
plt.show()

# %% [markdown]
# ## 3. How many attack crops contain the medium's border? (ground truth)
#
# Notebook 00 measured this with the detector's face box. Here the crop is defined by the
# *aligner*: its scale-1.0 box is the unit square of the template, about 1.2 detector boxes
# wide and centred a little lower (on the eyes-nose-mouth region rather than the brow-chin
# box). So each aligned crop already holds more context than the detector box of the same
# scale, and the border appears at smaller scales. `synthspoof.border_share(..., box="aligned")`
# computes this from the exact landmarks of every attack frame of the split (all frames, not
# only the cached ones).
#
# Only SynthSpoof has ground truth for the medium; for another dataset the GT sections are
# skipped.

# %%
gt_share = {}
if ds is not None:
    proto = ds.protocol[ds.protocol["split"] == SPLIT]
    gts = {v: ds.load_gt(v) for v in proto.loc[proto["label"] == 0, "video_id"]}
    gt_share["aligned box"] = synthspoof.border_share(gts.values(), SCALES, box="aligned")
    gt_share["detector box (00)"] = synthspoof.border_share(gts.values(), SCALES, box="face")
    per_type = {}
    for k in sorted(proto.loc[proto["label"] == 0, "attack_type"].unique()):
        vids = proto.loc[proto["attack_type"] == k, "video_id"]
        per_type[k] = synthspoof.border_share([gts[v] for v in vids], SCALES, box="aligned")
    table = pd.DataFrame({**gt_share, **per_type}).T.mul(100).round(1)
    table.columns = [f"{s:.1f}" for s in SCALES]
    display(table.rename_axis("border share (%) at scale"))
    RESULTS["border_share_gt"] = {"aligned": gt_share["aligned box"],
                                  "face": gt_share["detector box (00)"],
                                  "aligned_per_attack_type": per_type,
                                  "n_attack_frames": sum(len(g["face_box"]) for g in gts.values())}

# %% [markdown]
# ## 4. …and on the real crops
#
# The ground-truth curve assumes perfect landmarks and uses the 68-point template of the
# paper's five points. The cached crops were cut with *detected* landmarks of dlib's 5-point
# model and its own template, so here we rebuild each cached attack crop's square in frame
# coordinates (the inverse of its alignment matrix) and test it against the true content
# outline of that very frame. Rebuilding needs no detection, only the stored landmarks, so it
# is cheap. To separate the two differences, the same test is run with the *true* 5 points
# (`landmarks5` of the ground truth) pushed through the same 5-point template: the gap between
# those two curves is the effect of landmark error alone.
#
# One more curve matters most for the experiments: the CNN does not see the whole 128 x 128
# crop but its centre 112 x 112 at test time (random 112 x 112 crops in training, Sec. IV of
# the paper), about 88 % of each side. The generator draws the face-to-edge distances so
# that *this* curve runs from almost no attack at 0.9 to almost all at 1.5; the whole crops,
# and so the random training crops, show the border somewhat earlier.

# %%
from fas_lib.synthspoof.gt import points_in_polygon


def crop_square(matrix: np.ndarray, scale: float, n: int = 8) -> np.ndarray:
    # outline points, in frame pixels, of the crop at `scale` (unit-box coordinates -> frame)
    inv = cv2.invertAffineTransform(matrix)
    corners = 0.5 + (np.array([[0, 0], [1, 0], [1, 1], [0, 1]]) - 0.5) * scale
    t = (np.arange(n) / n)[:, None]
    outline = np.concatenate([corners[i] + (corners[(i + 1) % 4] - corners[i]) * t
                              for i in range(4)])
    return outline @ inv[:, :2].T + inv[:, 2]


def border_hits(matrix: np.ndarray, inner: np.ndarray, view: float = 1.0) -> np.ndarray:
    # per scale: does the crop's square (or its centre `view` part) leave the content polygon?
    return np.array([not points_in_polygon(crop_square(matrix, s * view), inner).all()
                     for s in SCALES])


aligner = align.FaceAligner(scales=SCALES, crop_size=crops.shape[-2])
matrices = np.stack([aligner.alignment_matrix(lm) for lm in landmarks])
VIEW = 112 / crops.shape[-2]   # the CNN sees the centre 112 x 112 of each crop at test time
if ds is not None:
    det_hits, true_hits, view_hits = [], [], []
    for i, r in frames[frames["label"] == 0].iterrows():
        gt = ds.load_gt(r.video_id)
        t = int(r.frame_idx)
        det_hits.append(border_hits(matrices[i], gt["medium_inner"][t]))
        view_hits.append(border_hits(matrices[i], gt["medium_inner"][t], view=VIEW))
        true_m = aligner.alignment_matrix(gt["landmarks5"][t])
        true_hits.append(border_hits(true_m, gt["medium_inner"][t]))
    n = len(det_hits)
    crop_share = dict(zip(SCALES, np.mean(det_hits, axis=0)))
    view_share = dict(zip(SCALES, np.mean(view_hits, axis=0)))
    true5_share = dict(zip(SCALES, np.mean(true_hits, axis=0)))
    agree = float((np.array(det_hits) == np.array(true_hits)).mean())
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    plot_curves(ax, {"GT landmarks, paper's 5 points (box='aligned')": gt_share["aligned box"],
                     f"GT landmarks, dlib 5-point template ({n} frames)": true5_share,
                     f"detected landmarks = the cached crops ({n} frames)": crop_share,
                     f"the centre {round(VIEW * crops.shape[-2])} px the CNN sees at test":
                         view_share,
                     "GT, detector box (notebook 00)": gt_share["detector box (00)"]},
                "attack crops that show the medium border",
                styles={"GT, detector box (notebook 00)": {"ls": "--", "color": "0.5"},
                        "GT landmarks, paper's 5 points (box='aligned')":
                            {"color": "black", "lw": 2}},
                title=f"Medium border in the crop, {SPLIT} split")
    save_fig(fig, "02_border_share", FIG_DIR)
    plt.show()
    print(f"detected vs true landmarks agree on {100 * agree:.1f} % of (frame, scale) flags")
    print("share of attack crops whose centre view (the test input) shows the border:",
          {s: round(100 * v, 1) for s, v in view_share.items()})
    RESULTS["border_share_crops"] = {"per_scale": crop_share, "n_attack_frames": n,
                                     "test_view_per_scale": view_share,
                                     "test_view_fraction": VIEW,
                                     "true_landmarks5_per_scale": true5_share,
                                     "agreement_detected_vs_true": agree}

# %% [markdown]
# ## 5. Padding: the part of a crop outside the frame
#
# A large crop of a face near the frame's edge reaches outside the image; the aligner pads it
# with black. Padding carries no information about the attack — but if it is more frequent in
# one class (say, live faces are closer to the camera than printed ones), a network can learn
# "black corner = live" instead of the cue we want. So measure it, per scale and per class.
# The cache stored each crop's padded share when it cut the crop (exactly, from the crop's
# matrix and the frame size: `fas_lib.preprocess.geometry.padded_fraction`).

# %%
pad = np.asarray(cache.pad_fraction(SPLIT))[:, sidx]   # measured when the crops were cut
live = frames["label"].to_numpy() == 1
has_pad = pad > 0.001                                   # more than 0.1 % of the crop
pad_table = pd.DataFrame({
    "mean padded area, live (%)": 100 * pad[live].mean(0),
    "mean padded area, attack (%)": 100 * pad[~live].mean(0),
    "crops with padding, live (%)": 100 * has_pad[live].mean(0),
    "crops with padding, attack (%)": 100 * has_pad[~live].mean(0),
}, index=[f"{s:.1f}" for s in SCALES]).round(2)
display(pad_table.rename_axis("scale"))
print(f"crops with padding at the paper's scales: {100 * has_pad.mean():.2f} %")

# %% [markdown]
# How far out could we go before padding starts? The crops of larger scales need no new
# detection: the stored landmarks give each frame's alignment matrix, and
# `geometry.padded_fraction` the padded share of any scale. (At the paper's scales the
# recomputed shares must equal the cached ones — a check that the matrices are rebuilt right.)

# %%
EXT_SCALES = tuple(np.round(np.arange(0.9, 3.01, 0.1), 2))
n_px = crops.shape[-2]
ext = None
if ds is not None:
    w, h = ds.manifest["frame_size"]
    ext = np.array([[geometry.padded_fraction(geometry.crop_matrix(m, s, 1.0, n_px), n_px, w, h)
                     for s in EXT_SCALES] for m in matrices])
    same = [EXT_SCALES.index(round(s, 2)) for s in SCALES]
    assert np.allclose(ext[:, same], pad, atol=1e-3), "rebuilt matrices differ from the cache"
    curves = {"live: crops with padding": dict(zip(EXT_SCALES, (ext[live] > 0.001).mean(0))),
              "attack: crops with padding": dict(zip(EXT_SCALES, (ext[~live] > 0.001).mean(0))),
              "all: mean padded area": dict(zip(EXT_SCALES, ext.mean(0)))}
else:
    curves = {"live: crops with padding": dict(zip(SCALES, has_pad[live].mean(0))),
              "attack: crops with padding": dict(zip(SCALES, has_pad[~live].mean(0))),
              "all: mean padded area": dict(zip(SCALES, pad.mean(0)))}
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.axvspan(min(SCALES) - 0.02, max(SCALES) + 0.02, color="tab:blue", alpha=0.08,
           label="the paper's scales")
plot_curves(ax, curves, "share", title=f"Padding per scale ({len(frames)} {SPLIT} frames)",
            styles={"all: mean padded area": {"ls": "--", "color": "black"}})
save_fig(fig, "02_padding", FIG_DIR)
plt.show()
if ext is not None:
    first = next((s for s, v in zip(EXT_SCALES, (ext > 0.001).mean(0)) if v >= 0.1), None)
    print(f"padding reaches 10 % of the crops at scale {first}")
RESULTS["padding"] = {
    "mean_area": dict(zip(SCALES, pad.mean(0))),
    "mean_area_live": dict(zip(SCALES, pad[live].mean(0))),
    "mean_area_attack": dict(zip(SCALES, pad[~live].mean(0))),
    "share_with_padding": dict(zip(SCALES, has_pad.mean(0))),
    "share_with_padding_live": dict(zip(SCALES, has_pad[live].mean(0))),
    "share_with_padding_attack": dict(zip(SCALES, has_pad[~live].mean(0))),
    "n_frames": len(frames),
}
if ext is not None:
    RESULTS["padding"]["extended"] = {
        "scales": list(EXT_SCALES),
        "share_with_padding": dict(zip(EXT_SCALES, (ext > 0.001).mean(0))),
        "mean_area": dict(zip(EXT_SCALES, ext.mean(0))),
    }

# %% [markdown]
# ## 6. Explore the scales yourself
#
# In Jupyter, the cell below shows a slider over the scale and a dropdown over the attack
# types; the chosen attack's crop is drawn beside the live crop at the same scale. Under
# papermill (or any non-interactive run) it draws a static figure instead: every row at
# scales 0.9, 1.2 and 1.5.

# %%
explore = {r.attack_type: crops[int(r.name)][sidx] for _, r in shown.iterrows()}
scale_explorer(explore, SCALES, reference="live", fig_name="02_scale_explorer", fig_dir=FIG_DIR)
plt.show()

# %% [markdown]
# ## 7. What this means for the choice of scales
#
# The paper's Table II trains CNN_S on each scale alone on CASIA-FASD:
#
# | scale | 0.9 | 1.0 | 1.1 | 1.2 | 1.3 | 1.4 | 1.5 |
# |---|---|---|---|---|---|---|---|
# | EER (%) | 5.93 | 6.09 | 5.26 | **4.67** | 4.84 | 4.74 | 5.55 |
#
# The error falls as context enters the crop and rises again at 1.5 — plausibly because the
# face itself gets small (fewer pixels on the recapture texture) while padding grows. The curves
# above show the same trade-off from the data side: no single scale shows every attack's border,
# while texture detail shrinks with every step. MS-FANS sidesteps the choice by feeding several
# scales and *learning* per image how much each should count (notebook 05). Notebook 03
# reproduces Table II on SynthSpoof.

# %%
RESULTS["n_frames"] = len(frames)
RESULTS["runtime_s"] = round(time.perf_counter() - T0, 1)
path = save_results(RESULTS, "02_crops", RESULTS_DIR)
print(f"wrote {path}; notebook runtime {RESULTS['runtime_s']:.0f} s")

# %% [markdown]
# ## Summary
#
# - One similarity transform per frame gives every scale: the crop at scale *s* is the aligned
#   face box scaled by *s*, cut with one warp (`FaceAligner.crops_from_matrix`).
# - The grid (`figures/02_scale_grid.png`) is the paper's Fig. 1 for SynthSpoof: small scales
#   hide the attack's context, large scales show it.
# - Ground truth turns that into numbers (`results/02_crops.json`): the share of attack crops
#   showing the medium's border rises with the scale, earlier for the aligner's box than for
#   the detector's, and the real (detected) crops follow the ground-truth curve.
# - Padding grows with the scale and can differ between live and attack frames; a classifier
#   can exploit it, so check it for every dataset. SynthSpoof's faces sit well inside the
#   frame: its crops at the paper's scales are practically padding-free, and padding only
#   appears well beyond 1.5.

# %% [markdown]
# ## Exercises
#
# 1. Change the aligner's `pad_mode` to `"replicate"` (`FaceAligner(pad_mode=...)`) and redraw
#    the grid. Does the padding cue disappear, or does it become a different cue?
# 2. Which attack species needs the largest scale before half of its crops show the border?
#    Relate it to how the medium is held (fingers, margins) in notebook 00's gallery.
# 3. The paper's best single scale on CASIA-FASD is 1.2. Using the border-share curves, predict
#    the best single scale on SynthSpoof, then check your prediction in notebook 03.
# 4. Add scales 1.7 and 2.0 (`SCALES`, and rebuild the cache with them). What happens to the
#    padding share, and to the face's size in pixels inside a 128 × 128 crop?
# 5. Why does the crop-based border share differ from the ground-truth one? Find a cached
#    frame where they disagree and draw both squares on the frame.
