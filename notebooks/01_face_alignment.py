# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Face detection and alignment
#
# Before MS-FANS crops anything, every frame is pre-processed as in the paper's Fig. 3a:
# "face detection and points detection are conducted to get five facial landmarks including
# two eyes centers, one nose tip, and two mouth corners. Then, according to the five points
# each face is aligned to a canonical one" (Sec. IV-A). This notebook builds that pipeline from
# dlib's parts, one step at a time, on two classic test photos and on SynthSpoof frames, and
# then measures how accurate it is against SynthSpoof's exact ground truth.
#
# **Learning goals**
#
# 1. Run dlib's HOG face detector and its 5-point shape predictor, and know which five points
#    it returns (eye corners and the base of the nose — not the paper's five).
# 2. Derive the paper's five points (eye centres, nose tip, mouth corners) from dlib's 5- and
#    68-point models.
# 3. Compute the least-squares similarity transform from the points to a template by hand
#    (centre, covariance, SVD) and check it against `fas_lib.preprocess.geometry`.
# 4. Measure detection rate and landmark error (pixels and % of the inter-ocular distance)
#    per attack type, and read where alignment fails.
#
# **Before this notebook**: 00 (setup and data). Paper: Sec. IV-A and Fig. 3a.
#
# Runtime on a laptop CPU: about 1 min, plus about 1 min the first time to generate the RGB
# SynthSpoof that this and the later notebooks share. SMOKE: under 30 s.

# %%
import time

import cv2
import matplotlib.cbook
import matplotlib.pyplot as plt
import numpy as np
import skimage.data
from IPython.display import display

from fas_lib.core.utils import environment_line, save_results, set_seed, smoke_output_dirs
from fas_lib.preprocess import align, geometry
from fas_lib.viz.plots import alignment_steps, box_corners, draw_points, draw_polygon, save_fig

T0 = time.perf_counter()
print(environment_line(("python", "torch", "opencv", "dlib", "fas_lib", "device")))

# %% tags=["parameters"]
SMOKE = False            # True: a few videos only, for tests/CI
SEED = 0
DATASET = "synthspoof"   # any adapter: casia_fasd, replay_attack, oulu_npu, ...
DATA_ROOT = None         # None -> SynthSpoof is generated; else the dataset folder
PROTOCOL = None          # None -> the dataset's default (CASIA-FASD: standard_nodev, the paper's)
FOLD = None
WORKERS = 2
SPLIT = "test"           # the split whose frames are measured
MAX_VIDEOS = None        # None -> every video of SPLIT; SMOKE -> 12
FRAMES_PER_VIDEO = None  # frames scored per video (None -> all of them)
UPSAMPLE = 0             # dlib upsampling: 0 finds faces of about 80 px and more
FIG_DIR = "../figures"
RESULTS_DIR = "../results"

# %%
set_seed(SEED)
FIG_DIR, RESULTS_DIR = smoke_output_dirs(SMOKE, FIG_DIR, RESULTS_DIR)
plt.rcParams["figure.dpi"] = 80
if SMOKE and MAX_VIDEOS is None:
    MAX_VIDEOS = 12
RESULTS = {"smoke": bool(SMOKE), "dataset": DATASET, "split": SPLIT}
astronaut = skimage.data.astronaut()
with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
    grace = plt.imread(fh)
print("astronaut", astronaut.shape, "| grace_hopper", grace.shape)

# %% [markdown]
# ## 1. Face detection
#
# dlib's frontal face detector slides a linear SVM over a pyramid of **HOG** (histogram of
# oriented gradients) features. It returns boxes; `FaceAligner.detect` sorts them largest
# first, and the pipeline keeps the largest face. With `upsample=0` it finds faces of about
# 80 pixels and more; upsampling once finds smaller faces at four times the cost.

# %%
aligner = align.FaceAligner(upsample=UPSAMPLE)             # dlib's 5-point predictor
aligner68 = align.FaceAligner(landmarks="68", upsample=UPSAMPLE)
box = aligner.detect(astronaut)[0]
times = []
for _ in range(5):
    t = time.perf_counter()
    aligner.detect(astronaut)
    times.append(time.perf_counter() - t)
RESULTS["detect_ms_512px"] = 1000 * float(np.median(times))
print(f"box (left, top, right, bottom) = {box}, {box[2] - box[0]:.0f} px wide; "
      f"detection takes {RESULTS['detect_ms_512px']:.0f} ms on a 512 x 512 image")

# %% [markdown]
# ## 2. Five points — but which five?
#
# The paper's five points are the **eye centres, the nose tip and the two mouth corners**.
# dlib's small and fast 5-point model returns different ones:
#
# | dlib index | point | 68-point index |
# |---|---|---|
# | 0 | outer corner of the eye on the image's right (subject's left eye) | 45 |
# | 1 | inner corner of that eye | 42 |
# | 2 | outer corner of the eye on the image's left (subject's right eye) | 36 |
# | 3 | inner corner of that eye | 39 |
# | 4 | base of the nose (subnasale) | 33 |
#
# `fas_lib.preprocess.geometry` turns them into the paper's kind of points: each **eye centre** is
# the mean of its two corners, and the **nose base** stands in for the nose tip; the 5-point model
# has no mouth corners, so alignment uses three points. With `FaceAligner(landmarks="68")` the
# paper's five points are taken literally from dlib's 68-point model (eye centres = mean of
# the six points around each eye, nose tip = 30, mouth corners = 48 and 54). The figure shows
# both.

# %%
pts5 = aligner.predict_landmarks(astronaut, box)
pts68 = aligner68.predict_landmarks(astronaut, box)
paper5 = geometry.dlib68_to_paper5(pts68)
derived = geometry.dlib5_to_alignment_points(pts5)

fig, axes = plt.subplots(1, 2, figsize=(10, 5))
x0, y0, x1, y1 = box
for ax in axes:
    ax.imshow(astronaut)
    draw_polygon(ax, box_corners(box), color="lime")
    ax.set_xlim(x0 - 30, x1 + 30)
    ax.set_ylim(y1 + 30, y0 - 30)
    ax.set_axis_off()
draw_points(axes[0], pts5, [str(i) for i in range(5)], color="yellow", size=30)
draw_points(axes[0], derived, ["L eye centre", "R eye centre", "nose base"], color="cyan",
            size=30, marker="X")
axes[0].set_title("dlib 5-point model (yellow) → eye centres + nose base (cyan)")
draw_points(axes[1], pts68, color="white", size=6)
draw_points(axes[1], paper5, ["L eye", "R eye", "nose tip", "L mouth", "R mouth"],
            color="red", size=36, text_color="white")
axes[1].set_title("dlib 68-point model → the paper's five points (red)")
fig.tight_layout()
save_fig(fig, "01_five_points", FIG_DIR)
plt.show()
gap = np.linalg.norm(derived[:2] - paper5[:2], axis=1)
print(f"eye centres: 5-point model vs 68-point model differ by {gap.round(1)} px "
      f"(inter-ocular distance {np.linalg.norm(paper5[1] - paper5[0]):.0f} px)")

# %% [markdown]
# ## 3. The similarity transform, step by step
#
# Alignment maps the source points $p_i$ onto fixed **template** positions $q_i$ (in units of
# the aligned face box, $[0,1]^2$) with the best *similarity*: rotation $R$, one scale $c$
# and a translation $t$, minimising $\sum_i \lVert c R p_i + t - q_i \rVert^2$. A similarity
# keeps the face's proportions (an affine transform would shear faces into the template's
# shape, erasing identity cues and, for attacks, the geometry of a bent print). The closed form
# (Umeyama, 1991):
#
# 1. centre both point sets: $\bar p$, $\bar q$, $P = p - \bar p$, $Q = q - \bar q$;
# 2. SVD of the cross-covariance $\Sigma = Q^\top P / K = U S V^\top$;
# 3. $R = U D V^\top$ with $D = \mathrm{diag}(1, \pm 1)$ chosen so that $\det R = +1$ (no mirror);
# 4. $c = \mathrm{tr}(S D) / \sigma_p^2$ with $\sigma_p^2 = \lVert P \rVert^2 / K$;
# 5. $t = \bar q - c R \bar p$.
#
# Written out here, then compared with `fas_lib.preprocess.geometry.similarity_transform`:

# %%
src = derived                       # [L eye centre, R eye centre, nose base] in pixels
dst = geometry.TEMPLATE_5              # their canonical positions in the unit face box
mu_p, mu_q = src.mean(0), dst.mean(0)
P, Q = src - mu_p, dst - mu_q
U, S, Vt = np.linalg.svd(Q.T @ P / len(src))
D = np.diag([1.0, np.sign(np.linalg.det(U) * np.linalg.det(Vt))])
R = U @ D @ Vt
c = np.trace(np.diag(S) @ D) / ((P ** 2).sum() / len(src))
t = mu_q - c * R @ mu_p
M = np.hstack([c * R, t[:, None]])
print("by hand:\n", M.round(5))
print("fas_lib:\n", geometry.similarity_transform(src, dst).round(5))
assert np.allclose(M, geometry.similarity_transform(src, dst))
angle = np.degrees(np.arctan2(R[1, 0], R[0, 0]))
residual = np.linalg.norm(src @ M[:, :2].T + M[:, 2] - dst, axis=1)
print(f"rotation {angle:.2f} deg, scale {c:.5f} (1 face box = {1 / c:.0f} px), "
      f"residual per point {residual.round(4)} face boxes")
RESULTS["astronaut"] = {"rotation_deg": angle, "face_box_px": 1 / c,
                        "residual_face_boxes": residual}

# %% [markdown]
# Now every step as pictures: detection and points, the 68-point view, the points mapped into
# the template (blue circles: template; red dots: the image's points after the transform —
# with three points and four degrees of freedom they cannot all fit exactly), and the aligned
# crops at scale 1.0 (the unit face box) and 1.5. The same for Grace Hopper, and for the
# astronaut rotated by 25°: the aligned crop comes out upright.

# %%
h, w = astronaut.shape[:2]
rotated = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h))
for name, img in (("astronaut", astronaut), ("grace_hopper", grace), ("rotated", rotated)):
    fig = alignment_steps(img, aligner, aligner68, title=name.replace("_", " "))
    if fig is None:
        print(f"{name}: no face detected")
        continue
    save_fig(fig, f"01_steps_{name}", FIG_DIR)
    plt.show()

# %% [markdown]
# ## 4. On SynthSpoof frames
#
# The same pipeline on one frame of every kind of video. Attacks are faces too: the detector
# and the landmarks work on printed and replayed faces just as on live ones, which is exactly
# why alignment cannot be the anti-spoofing step — it only decides *where* to look.
# Red crosses are the ground-truth points, yellow dots the detected ones.

# %%
from fas_lib import synthspoof

ds = None
if DATASET == "synthspoof":
    from fas_lib.cache.prepare import smoke_synth_config

    if DATA_ROOT is not None:       # a SynthSpoof folder generated before
        ds = synthspoof.SynthSpoofReader(DATA_ROOT)
    else:                           # the same dataset the later notebooks train on
        config = smoke_synth_config() if SMOKE else synthspoof.SynthConfig()
        ds = synthspoof.generate(config, workers=WORKERS)
    table = ds.protocol
else:
    from fas_lib.data.datasets import load_protocol
    from fas_lib.data.io import iter_frames

    loaded = load_protocol(DATASET, DATA_ROOT, PROTOCOL, FOLD)
    table = loaded.table


def read_first(row) -> np.ndarray:
    # the first frame of a protocol row (SynthSpoof reader, or fas_lib.data.io for other datasets)
    if ds is not None:
        return ds.read_frames(row.video_id)[0]
    return next(iter_frames(loaded.absolute(row.path), n_frames=1))[1]


part = table[table["split"] == SPLIT]
kinds = ["live"] + sorted(k for k in part["attack_type"].unique() if k != "live")
subject = part.groupby("subject")["attack_type"].nunique().idxmax()
fig, axes = plt.subplots(2, len(kinds), figsize=(2.3 * len(kinds), 4.8), squeeze=False)
for j, k in enumerate(kinds):
    cand = part[(part["attack_type"] == k) & (part["subject"] == subject)]
    row = (cand if len(cand) else part[part["attack_type"] == k]).iloc[-1]
    frame = read_first(row)
    res = aligner.align(frame)
    ax, ax2 = axes[0, j], axes[1, j]
    ax.imshow(frame)
    ax.set_title(k, fontsize=9)
    for a in (ax, ax2):
        a.set_xticks([]); a.set_yticks([])
    if res is None:
        ax.set_xlabel("no face detected", color="red")
        continue
    draw_polygon(ax, box_corners(res.box), color="lime")
    draw_points(ax, res.landmarks, color="yellow", size=10)
    if ds is not None:
        draw_points(ax, ds.load_gt(row.video_id)["landmarks5"][0], color="red", size=14,
                    marker="x")
    bx0, by0, bx1, by1 = res.box
    pad = 0.5 * (bx1 - bx0)
    ax.set_xlim(bx0 - pad, bx1 + pad)
    ax.set_ylim(by1 + pad, by0 - pad)
    ax2.imshow(res.crops[list(aligner.scales).index(1.0)])
    ax2.set_xlabel("aligned, scale 1.0", fontsize=8)
fig.tight_layout()
save_fig(fig, "01_synthetic_alignment", FIG_DIR)
plt.show()

# %% [markdown]
# ## 5. How accurate is it? Detection rate and landmark error
#
# SynthSpoof knows every frame's true landmarks, so the aligner can be scored frame by frame
# (`fas_lib.studies.alignment.evaluate_alignment`): the **detection rate** (share of frames where a
# face is found; each miss is a frame the anti-spoofing model never sees), and the **landmark
# error** of dlib's five points — in pixels and normalised by the inter-ocular distance
# (IOD, the distance between the eye centres), the usual scale-free measure: under about
# 5 % IOD is an accurate landmark, over 10 % a visibly wrong one. The table splits it by
# attack type.

# %%
report = None
if ds is not None:
    from fas_lib.studies.alignment import MATCH_RULE, evaluate_alignment

    report = evaluate_alignment(ds, aligner, split=SPLIT, max_videos=MAX_VIDEOS,
                                frames_per_video=FRAMES_PER_VIDEO, workers=WORKERS)
    shown = report.table()[["frames", "detection_rate", "wrong_face", "mean_error_px",
                            "median_error_px", "mean_error_iod", "p95_error_iod"]].copy()
    for col in ("detection_rate", "mean_error_iod", "p95_error_iod"):
        shown[col] = (100 * shown[col]).round(2)
    shown = shown.rename(columns={"detection_rate": "detected (%)",
                                  "mean_error_iod": "mean error (% IOD)",
                                  "p95_error_iod": "95th pct (% IOD)"})
    display(shown.round(2))
    print(f"{report.n_videos} videos, {len(report.frames)} frames in {report.seconds:.0f} s; "
          f"a detection counts when: {MATCH_RULE}")
    RESULTS["alignment"] = report.to_dict()
else:
    print(f"{DATASET} has no ground-truth landmarks: the accuracy table is skipped. "
          "The detection rate is still measured on a few videos:")
    from fas_lib.preprocess.batch import align_batch

    part_videos = part.head(MAX_VIDEOS or 20)
    batch = align_batch([str(loaded.absolute(p)) for p in part_videos["path"]], n_frames=4,
                        workers=WORKERS)
    print(batch.report())
    no_face = batch.skips.counts.get("no_face", 0)
    RESULTS["detection"] = {"frames_seen": batch.n_frames_seen, "no_face": no_face,
                            "detection_rate": 1 - no_face / max(batch.n_frames_seen, 1),
                            "skips": dict(batch.skips.counts)}

# %% [markdown]
# The distribution behind the means: a box per attack type of the per-frame error (as a share
# of the IOD), with the 5 % and 10 % lines. Then the frames with the largest errors, with the
# true points (red crosses) and the predicted ones (yellow dots) — look at what they have in
# common.

# %%
if report is not None and report.frames["detected"].any():
    fig = report.plot_errors()
    save_fig(fig, "01_landmark_error", FIG_DIR)
    plt.show()
    worst = report.frames[report.frames["detected"]].nlargest(4, "err_iod")
    fig, axes = plt.subplots(1, len(worst), figsize=(3.2 * len(worst), 3.4), squeeze=False)
    for ax, (_, w) in zip(axes[0], worst.iterrows()):
        frame = ds.read_frames(w.video_id)[int(w.frame_idx)]
        gt = ds.load_gt(w.video_id)
        box = aligner.detect(frame)[0]
        ax.imshow(frame)
        draw_polygon(ax, box_corners(box), color="lime")
        draw_points(ax, aligner.predict_landmarks(frame, box), color="yellow", size=14)
        draw_points(ax, gt["landmarks5"][int(w.frame_idx)], color="red", size=18, marker="x")
        pad = 0.35 * (box[2] - box[0])
        ax.set_xlim(box[0] - pad, box[2] + pad)
        ax.set_ylim(box[3] + pad, box[1] - pad)
        ax.set_xticks([]); ax.set_yticks([])
        ax.set_title(f"{w.video_id} #{int(w.frame_idx)}\nerror {100 * w.err_iod:.1f} % IOD "
                     f"({w.err_px:.1f} px)", fontsize=8)
    fig.tight_layout()
    save_fig(fig, "01_worst_frames", FIG_DIR)
    plt.show()

# %%
RESULTS["runtime_s"] = round(time.perf_counter() - T0, 1)
path = save_results(RESULTS, "01_alignment", RESULTS_DIR)
print(f"wrote {path}; notebook runtime {RESULTS['runtime_s']:.0f} s")

# %% [markdown]
# ## Summary
#
# - The paper's pre-processing is detection → five landmarks → similarity alignment → crops.
#   dlib provides the detector (HOG + linear SVM) and landmark models; its 5-point model gives
#   eye corners and the nose base, from which eye centres follow; the 68-point model gives the
#   paper's five points literally.
# - The similarity transform has a closed form (centre, SVD of the cross-covariance, fix the
#   reflection, scale, translate); it rotates the face upright and normalises its size, so
#   that "scale 1.0" means the same face region in every frame.
# - On SynthSpoof the aligner is scored against exact ground truth (`results/01_alignment.json`):
#   detection rate and landmark error per attack type. Attacks are detected and aligned like
#   live faces — alignment decides where to look, not what is real.

# %% [markdown]
# ## Exercises
#
# 1. Set `UPSAMPLE = 1`. How do the detection rate and the detection time change?
# 2. Align with `FaceAligner(landmarks="68")` (the paper's five points). Compare the aligned
#    crops with the 5-point ones: which is more stable across frames of one video?
# 3. Replace the similarity by a full affine transform (`cv2.getAffineTransform` on the three
#    points). Align the astronaut and Grace Hopper: what happens to their faces?
# 4. Find the frames with the largest landmark error in the report. Which attack types and
#    qualities are they, and what do the frames have in common?
# 5. The detector is given the whole 640 × 480 frame. Time `aligner.detect` on a frame
#    downscaled by 2 (and the boxes scaled back). Is the accuracy still acceptable?
