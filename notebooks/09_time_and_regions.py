# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Time and regions: clips, STASN and MS-FANS over time
#
# Every model so far scored **one frame**; a video's score was the mean of its frames' scores.
# But a face anti-spoofing system sees a video: a live face blinks and moves its mouth, a print
# moves rigidly (a warped one bends), a replay shows the recorded motion through a screen.
# STASN (Yang et al., "Face Anti-Spoofing: Model Matters, So Does Data", CVPR 2019) reads
# clips of T frames with two modules: a **temporal** one (TASM: a CNN per frame, an LSTM over
# the frames) and a **spatial** one that first picks K regions of every frame (RAM, a
# differentiable spatial-transformer crop) and scores them (SASM). Its two claims: the regions
# it attends to are the evidence (borders, moiré, reflections), and **synthesized** replay
# attacks are good training data. This notebook tests both on SynthSpoof, and adds what the
# MS-FANS paper names as future work: its scale fusion run on every frame, an LSTM over time.
#
# **Learning goals**
#
# 1. Build a clip cache (T frames per video, aligned once) and see the motion cues it carries.
# 2. Build STASN up branch by branch, then vary K (regions) and T (frames), at video level.
# 3. Run the data ablation: real replays, synthesized replays only, both; tested on real ones.
# 4. Count how often the attended regions cover the medium's border, against chance.
# 5. Compare MS-FANS over time with MS-FANS on one frame and with STASN, with a paired
#    bootstrap over test subjects.
#
# **Before this notebook**: 02 (crops), 05 (MS-FANS), 06 (the paired bootstrap).
# Papers: STASN (CVPR 2019); MS-FANS (ICPR 2018), Sec. V. The models are
# `fas_lib.models.stasn.model` and `fas_lib.models.msfans.temporal`; training
# `fas_lib.training.clips`. 
# Runtime on a laptop CPU: about 7 min (on 2 cores: caching 960 clips, synthesizing and
# caching 216 replays, 12 clip models at 64 px and the data ablation's 3 cells with up to 2
# seeds each), seconds when its runs exist in `RUNS_DIR`. SMOKE: under 1 min.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from fas_lib.cache.clips import clip_report, motion_energy, motion_separability
from fas_lib.cache.prepare import get_clips
from fas_lib.core.utils import data_dir, environment_line, save_results, set_seed, smoke_output_dirs
from fas_lib.data.datasets import load_protocol
from fas_lib.preprocess.align import FaceAligner
from fas_lib.studies import video as vs
from fas_lib.studies.video_attention import border_attention
from fas_lib.training.clip_inputs import ClipConfig, ClipSource
from fas_lib.training.clips import load_clip_run
from fas_lib.training.runs import read_results
from fas_lib.viz.clips import plot_motion_energy
from fas_lib.viz.plots import image_grid, save_fig
from fas_lib.viz.video import attention_examples, plot_attention, plot_differences, plot_metric_bars

T0 = time.perf_counter()
print(environment_line(("python", "torch", "fas_lib", "device", "torch_threads")))

# %% tags=["parameters"]
SMOKE = False            # True: tiny data and one epoch (tests, CI)
SEED = 0
DATASET = "synthspoof"   # or a real dataset with DATA_ROOT (then no attention statistic)
DATA_ROOT = None
WORKERS = 2
T = 8                    # frames per clip in the cache (SynthSpoof videos have 8)
USE_GT_BOXES = True      # SynthSpoof: the generator's face boxes, not dlib's detector (4x faster)
STASN_SCALE = 1.4        # STASN's crop scale: the medium's border is in ~90 % of the views
MSFANS_SCALES = (1.2, 1.3, 1.4)  # MS-FANS over time: Table III's last group but one
INPUT_SIZE = 64          # model input side (the paper's CNN_S reads 112; 64 is ~3x cheaper)
EPOCHS = 6
BATCH_SIZE = 8           # clips per step
LR = 3e-3
BRANCHES = ("temporal", "spatial", "both")
KS = (1, 2, 4)           # regions per frame (the full model: the last)
TS = (1, 4, 8)           # frames per clip (the full model: the last)
DATA_CELLS = ("real", "synth", "both")
DATA_SEEDS = 1           # training seeds per data cell to start with
MAX_DATA_SEEDS = 2       # one more seed at a time while two cells differ by less than their CI
KINDS = ("live", "print_flat", "replay_phone", "replay_screen")  # rows of the attention figure
N_RANDOM = 8             # random regions per frame for the attention statistic's chance
N_BOOT = 1000
FIG_DIR = "../figures"
RESULTS_DIR = "../results"
RUNS_DIR = "../runs"

# %%
set_seed(SEED)
torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
FIG_DIR, RESULTS_DIR = smoke_output_dirs(SMOKE, FIG_DIR, RESULTS_DIR)
if SMOKE:  # the smoke SynthSpoof: 1 subject per split, 2 frames per video
    T, TS, KS, EPOCHS, N_BOOT = 2, (1, 2), (1, 2), 1, min(N_BOOT, 50)
BASE = ClipConfig(name="stasn", model="stasn", scales=(STASN_SCALE,), t=T,
                  input_size=INPUT_SIZE, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR,
                  milestones=(max(1, EPOCHS - 2),), seed=SEED, n_regions=max(KS),
                  branches="both")
SCALES = tuple(sorted({STASN_SCALE, *MSFANS_SCALES}))

# %% [markdown]
# ## 1. Frames vs clips: the clip cache
#
# A frame model sees 4 frames of a video, one at a time (notebooks 03-07). A clip model sees T
# frames at once, in time order. The clip cache (`fas_lib.cache.prepare.get_clips`, `fas prepare
# --clips T`) decodes every video once, aligns T evenly spaced frames at every scale and
# indexes them as clips; a frame without a face is a counted skip, a clip with too few frames
# is dropped and counted, and the missing slots of a kept clip repeat the nearest frame.

# %%
cache, clips = get_clips(DATASET, DATA_ROOT, smoke=SMOKE, workers=WORKERS, t=T, scales=SCALES,
                         use_gt_boxes=USE_GT_BOXES and DATASET == "synthspoof")
print(cache)
DATA = vs.split_data(cache, clips)
test = clips["test"]
at = {s: i for i, s in enumerate(cache.scales)}
present = set(test.videos["attack_type"])
kinds = [k for k in KINDS if k in present]
if len(kinds) < 2:  # a real dataset's attack types: live and the first three
    kinds = ["live", *sorted(present - {"live"})[:3]]
first = {k: int(np.flatnonzero(test.videos["attack_type"] == k)[0]) for k in kinds}
strip = [[cache.crops("test")[r, at[STASN_SCALE]] for r in test.rows[first[k]]] for k in kinds]
fig = image_grid(strip, row_labels=kinds, col_labels=[f"t={j + 1}" for j in range(T)],
                 cell_inches=1.2, title=f"one test clip per kind, scale {STASN_SCALE}")
save_fig(fig, "09_clip_strip", FIG_DIR)
plt.show()

# %% [markdown]
# ## 2. Is there motion evidence, and is it easy?
#
# The motion energy of a clip is the mean absolute difference of consecutive aligned frames
# (`fas_lib.cache.clips.motion_energy`): alignment removes most rigid head motion, so what is left
# is expression, blinks, a print's bending and a screen's refresh. If motion alone separated
# live from attacks, no model would be needed. The title gives two EERs: motion as a liveness
# score ("more motion = more live"; above 50 % means the attacks move more), and the better
# of both signs, which says how separable the classes are at all.

# %%
ENERGY = motion_energy(cache, test, at[STASN_SCALE])
MOTION = motion_separability(ENERGY)
ax = plot_motion_energy(ENERGY, title=f"Motion energy per test clip, scale {STASN_SCALE}")
save_fig(ax.figure, "09_motion", FIG_DIR)
plt.show()

# %% [markdown]
# ## 3. STASN built up branch by branch, K and T
#
# The CPU study preset: CNN_S frames of `INPUT_SIZE` px (the 112 px centre window of the
# cached crop, resized), regions of a quarter of the frame side cropped to twice their size,
# an LSTM of 128, SGD as the frame models (`fas_lib.training.clips`). `temporal` is TASM alone,
# `spatial` RAM + SASM alone, `both` the full model with fused scores; then K and T vary
# around it. Every number is at **video level** (one clip per video): the threshold fixed at
# the dev EER, then test EER, HTER, APCER (the worst attack type), BPCER and ACER.

# %%
GRID = vs.stasn_grid(BASE, BRANCHES, KS, TS)
ABL = vs.run_cells(GRID, DATA, RUNS_DIR)
show = ["study", "value", *vs.METRICS, "worst_type", "train_seconds"]
display(ABL[show].round(4))
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
for ax, study in zip(axes, ("branches", "regions", "frames")):
    plot_metric_bars(ABL[ABL.study == study], "value", ax=ax, title=f"STASN: {study}")
fig.tight_layout()
save_fig(fig, "09_ablations", FIG_DIR)
plt.show()

# %% [markdown]
# ### STASN in plain tensors
#
# What `vs.run_cells` trained is the few lines below. The full model of the `branches` study
# (`both`, K regions, T frames) is read back, and its forward pass is written out on one test
# clip of each kind shown above: TASM (the frame CNN, the LSTM, its last output), RAM (K heat
# maps, each a softmax over the feature map's cells, whose mean cell is a region's centre),
# the spatial transformer's crop, SASM (a second CNN per region, the K vectors of a frame
# classified, the frames averaged) and the fused logits, then the training loss. The asserts
# check that these lines compute exactly what `fas_lib.models.STASN` and `stasn_loss` compute.

# %%
import torch.nn.functional as F

from fas_lib.models import stasn_loss
from fas_lib.training.clip_inputs import clip_input

full = ABL[(ABL.study == "branches") & (ABL.value == "both")].iloc[0]
model, cfg = load_clip_run(full.run_dir)
model.eval()
xb, yb = clip_input([ClipSource(cache, test)], list(first.values()), cfg)  # (B, T, 3, s, s)
B, TT, K, SIDE, R = *xb.shape[:2], model.n_regions, model.region_size, model.region_out
with torch.no_grad():
    frames = xb.flatten(0, 1)                                 # (B*T, 3, s, s)
    fmap = model.encoder.feature_map(frames)                  # (B*T, C, h, w): the frame CNN
    # TASM: each frame's map pooled to a vector, the LSTM reads the T vectors in order
    seq = model.encoder.pool(fmap).view(B, TT, -1)            # (B, T, D)
    hidden, _ = model.lstm(seq)                               # (B, T, hidden)
    tasm = model.temporal_head(hidden[:, -1])                 # (B, 2): the last output
    # RAM: K heat maps, each a softmax over the h x w cells; a centre is the mean cell
    h, w = fmap.shape[2:]
    heat = model.ram.heat(fmap).flatten(2).softmax(-1).view(B * TT, K, h, w)
    xs, ys = (torch.arange(w) + 0.5) * 2 / w - 1, (torch.arange(h) + 0.5) * 2 / h - 1
    centres = torch.stack([(heat.sum(2) * xs).sum(-1), (heat.sum(3) * ys).sum(-1)], -1)
    centres = centres * torch.tensor([(1 - SIDE) / (1 - 1 / w), (1 - SIDE) / (1 - 1 / h)])
    # spatial transformer: x_in = SIDE * x_out + centre, resampled (bilinear) to R x R
    theta = torch.zeros(B * TT * K, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = SIDE
    theta[:, :, 2] = centres.reshape(-1, 2)
    grid = F.affine_grid(theta, [B * TT * K, 3, R, R], align_corners=False)
    crops = F.grid_sample(frames.repeat_interleave(K, 0), grid, align_corners=False)
    # SASM: a second CNN per region (B*T*K, D'), a frame's K vectors concatenated, classified
    per_frame = model.spatial_head(model.region_encoder(crops).view(B * TT, -1))  # (B*T, 2)
    sasm = per_frame.view(B, TT, 2).mean(1)                   # (B, 2): mean over the frames
    fused = model.fusion_weight * tasm + (1 - model.fusion_weight) * sasm
    # the loss: the fused logits' cross-entropy plus each module's own
    loss = F.cross_entropy(fused, yb) + cfg.branch_weight * (
        F.cross_entropy(tasm, yb) + F.cross_entropy(sasm, yb))
    lib = model(xb)
assert torch.allclose(fused, lib.logits, atol=1e-5)
assert torch.allclose(centres.view(B, TT, K, 2), lib.centres, atol=1e-6)
assert torch.allclose(loss, stasn_loss(lib, yb, branch_weight=cfg.branch_weight), atol=1e-5)
print(f"frames {tuple(frames.shape)} -> maps {tuple(fmap.shape)}; {K} regions per frame, "
      f"crops {tuple(crops.shape)}; fused logits equal the library's (max difference "
      f"{(fused - lib.logits).abs().max():.1e}), loss {loss:.4f}")

# %% [markdown]
# ## 4. So does data: synthesized replays
#
# `fas_lib.replay.synthesis` turns any live video into a replay attack: a display recaptured by a
# camera. Both are the synthesizer's **own** models, of other families than the ones that
# render SynthSpoof's replays: PenTile, delta and S-stripe sub-pixels (SynthSpoof: RGB / BGR
# stripes), an OLED black-crush curve, the sRGB curve or a TN panel's angle-dependent gamma
# (SynthSpoof: a power gamma), CIE primaries and white points, a lamp's hotspot, PWM bands;
# a disc lens with chromatic aberration and vignetting, a Bayer sensor with Poisson-Gaussian
# noise, demosaicking, a tone curve and JPEG (`fas_lib.replay.panel`, `_device`,
# `_camera`). Only the room and the device's motion are SynthSpoof's. Every live video of the
# training and dev subjects is replayed once (seeded). The full STASN is trained on live clips
# plus: SynthSpoof's replays; the synthesized replays **only**; both. Dev holds the same kinds
# as training; test holds the test subjects' live clips and SynthSpoof's replays only, so the
# "synth" cell never saw a replay of SynthSpoof's simulator.
#
# **What this can show**: whether replays from an independent simulator teach a model the
# replays of another simulator, i.e. whether the model learns recapture rather than one
# renderer's sub-pixels, curves and noise. **What it cannot show**: transfer to real screens
# and cameras. Both simulators are simplified and written with the same general knowledge;
# the videos shown on the synthesized screens are SynthSpoof's live videos (its faces, rooms
# and camera). A gain here is necessary, not sufficient, evidence that synthesized replays
# help on real data (exercise 4 runs the real test).
#
# Each cell starts with `DATA_SEEDS` training seeds; while two cells differ by less than their
# interval (the 95 % bootstrap interval of the EER difference, resampling test subjects with
# every cell and seed scored on the same resample, holds 0), one more seed is trained, up to
# `MAX_DATA_SEEDS`. A cell's numbers are means over its seeds; the dots are the seeds.

# %%
from fas_lib.replay.synthesis import MODEL

root = cache.manifest["root"]
table = load_protocol(DATASET, root).table
synth_root = (data_dir() / "replays"
              / f"{DATASET}-{'smoke' if SMOKE else 'full'}-seed{SEED}-{MODEL}")
SYNTH, REPLAY_ROWS = None, pd.DataFrame(columns=show)
DATA_RUNS, DATA_BOOT = pd.DataFrame(), pd.DataFrame()
if all(any(map(vs.is_real_replay, c.videos["attack_type"])) for c in clips.values()):
    replays, skips = vs.synthesize_replays(table, root, synth_root, seed=SEED)
    print(f"{len(replays)} synthesized replays in {synth_root}; skipped: {dict(skips.counts)}")
    synth_cache, synth_clips = get_clips("csv", synth_root, smoke=SMOKE, workers=WORKERS, t=T,
                                         scales=(STASN_SCALE,))
    SYNTH = {"model": MODEL, "videos": len(replays), "skipped": dict(skips.counts),
             "clips": {s: len(c) for s, c in synth_clips.items()}}
    data = {c: vs.replay_data(cache, clips, synth_cache, synth_clips, c) for c in DATA_CELLS}
    DATA_RUNS, REPLAY_ROWS, DATA_BOOT = vs.data_ablation(
        BASE, data, RUNS_DIR, seeds=range(SEED, SEED + DATA_SEEDS), max_seeds=MAX_DATA_SEEDS,
        n_boot=N_BOOT, boot_seed=SEED)
    display(REPLAY_ROWS[["value", "n_seeds", "test_eer", "test_eer_ci_low", "test_eer_ci_high",
                         "test_eer_sd", "test_apcer", "test_acer", "dev_eer"]].round(4))
    display(DATA_BOOT[["label", "diff", "ci_low", "ci_high", "p_a_better", "decided",
                       "diff_per_seed", "cluster"]].round(4))
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    plot_metric_bars(REPLAY_ROWS, "value", metrics=("test_eer", "test_apcer", "test_acer"),
                     ax=axes[0], title="STASN trained on live + ... replays; tested on "
                                       "SynthSpoof's")
    x = np.arange(len(REPLAY_ROWS)) - 0.8 / 3  # the EER bars of plot_metric_bars
    eer_pct = 100 * REPLAY_ROWS["test_eer"].to_numpy(float)
    axes[0].errorbar(x, eer_pct, fmt="none", ecolor="black", capsize=3, yerr=[
        eer_pct - 100 * REPLAY_ROWS["test_eer_ci_low"].to_numpy(float),
        100 * REPLAY_ROWS["test_eer_ci_high"].to_numpy(float) - eer_pct])
    at_cell = {c: i for i, c in enumerate(REPLAY_ROWS["value"])}
    axes[0].plot(x[DATA_RUNS["value"].map(at_cell)], 100 * DATA_RUNS["test_eer"], "k.", ms=4)
    plot_differences(DATA_BOOT.to_dict("records"), ax=axes[1],
                     title="test EER difference (A - B), bootstrap over test subjects")
    fig.tight_layout()
    save_fig(fig, "09_data_ablation", FIG_DIR)
    plt.show()
else:
    print("not every split has recorded replays (a print-only dataset?): no data ablation")

# %% [markdown]
# ## 5. Where does STASN look?
#
# Each of the K regions of every frame of every attack clip is mapped back to the frame
# (through the crop's alignment transform, recomputed from the cached landmarks) and tested
# against SynthSpoof's ground-truth outline of the printed picture or the screen: does the
# outline pass through the region? Chance is the same count for regions of the same size
# placed uniformly at random in the same frames (`fas_lib.studies.video_attention`).

# %%
ATTENTION = None  # `model` and `cfg`: the full model, read back above
if DATASET == "synthspoof":
    from fas_lib.synthspoof import SynthSpoofReader

    aligner = FaceAligner(scales=(STASN_SCALE,), crop_size=cache.crops("test").shape[2],
                          landmarks=str(cache.manifest["params"].get("landmarks", "5")))
    ATTENTION = border_attention(model, cfg, ClipSource(cache, test),
                                 SynthSpoofReader(root).load_gt, aligner, n_random=N_RANDOM,
                                 seed=SEED, n_boot=N_BOOT)
    per = pd.DataFrame(ATTENTION["per_attack_type"]).T
    per.loc["all"] = {k: ATTENTION[k] for k in per.columns}
    display(per.round(3))
else:
    print("no ground-truth medium outline for a real dataset: the statistic is skipped")
images, boxes, labels = attention_examples(model, cfg, ClipSource(cache, test), kinds,
                                           n_frames=min(T, 4))
fig = plot_attention(images, boxes, labels, title=f"STASN's {cfg.n_regions} regions per frame")
save_fig(fig, "09_attention", FIG_DIR)
plt.show()

# %% [markdown]
# ## 6. MS-FANS over time
#
# `TemporalMultiScaleNet` runs MS-FANS's scale fusion (one CNN over the scales, the LSTM that
# weighs them) on every frame, then an LSTM over the frames. Its baseline is the same network
# trained on single frames (`temporal="mean"`: exactly MS-FANS per frame), scored on the
# middle frame alone ("one frame") and on the mean of the clip's frames. STASN's row is the
# full model of section 3, on the same clips. Is a difference more than luck? The paired
# bootstrap resamples test subjects (notebook 06).

# %%
MS_BASE = dict(scales=MSFANS_SCALES, t=T, input_size=INPUT_SIZE, epochs=EPOCHS,
               batch_size=BATCH_SIZE, lr=LR, milestones=(max(1, EPOCHS - 2),), seed=SEED)
MS = vs.run_cells([("msfans", "over time", ClipConfig(name="msfans-time", model="msfans_time",
                                                      **MS_BASE)),
                   ("msfans", "frames", ClipConfig(name="msfans-frame", model="msfans_frame",
                                                   **MS_BASE))], DATA, RUNS_DIR)
frame_dir = MS.run_dir[1]
one = vs.result_row(read_results(frame_dir), "score_one_frame")
COMPARE = pd.concat([MS.assign(value=["MS-FANS over time", "MS-FANS, mean of frames"]),
                     pd.DataFrame([{"study": "msfans", "value": "MS-FANS, one frame", **one,
                                    "run_dir": frame_dir}]),
                     ABL[(ABL.study == "branches") & (ABL.value == "both")].assign(
                         study="msfans", value="STASN")], ignore_index=True)
display(COMPARE[show].round(4))
PAIRS = [("over time - one frame", MS.run_dir[0], frame_dir, "score", "score_one_frame"),
         ("over time - mean of frames", MS.run_dir[0], frame_dir, "score", "score"),
         ("over time - STASN", MS.run_dir[0], full.run_dir, "score", "score")]
BOOT = [{"label": name, **vs.compare_runs(a, b, sa, sb, n_boot=N_BOOT, seed=SEED)}
        for name, a, b, sa, sb in PAIRS]
display(pd.DataFrame(BOOT)[["label", "diff", "ci_low", "ci_high", "p_a_better", "cluster"]]
        .round(4))
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
plot_metric_bars(COMPARE, "value", ax=axes[0], title="MS-FANS over time vs one frame, STASN")
plot_differences(BOOT, ax=axes[1])
fig.tight_layout()
save_fig(fig, "09_msfans_time", FIG_DIR)
plt.show()

# %%
def finite(obj):
    """NaN -> None, recursively: the results file holds no NaN."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite(v) for v in obj]
    return None if isinstance(obj, float) and not np.isfinite(obj) else obj


def records(df: pd.DataFrame) -> list[dict]:
    """JSON rows without run folders."""
    return [{k: v for k, v in r.items() if k != "run_dir"} for r in df.to_dict(orient="records")]


save_results(finite(dict(
    dataset=DATASET, smoke=SMOKE, seed=SEED, level="video", t=T, input_size=INPUT_SIZE,
    epochs=EPOCHS, stasn_scale=STASN_SCALE, msfans_scales=list(MSFANS_SCALES),
    clips={s: len(c) for s, c in clips.items()}, clip_report=clip_report(clips.values()),
    motion=MOTION, ablations=records(ABL), data_ablation=records(REPLAY_ROWS),
    data_ablation_bootstrap=records(DATA_BOOT), data_ablation_runs=records(DATA_RUNS),
    synthesized=SYNTH, attention=ATTENTION,
    msfans_time=dict(rows=records(COMPARE), bootstrap=BOOT), runtime_s=time.perf_counter() - T0,
)), "09_time_and_regions", RESULTS_DIR)
print(f"notebook runtime: {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# ## Summary
#
# * A clip cache aligns T frames per video once; clips index them, with counted drops. Motion
#   energy alone separates live from attacks only partly (section 2): time carries evidence,
#   but not an easy one.
# * STASN built up branch by branch (section 3): the table gives what the temporal module, the
#   regions and their fusion each bring at video level, and how K and T change it, on this
#   CPU-sized preset (64 px, a few epochs).
# * The data ablation (section 4) asks STASN's second question: can synthesized replays stand
#   in for recorded ones, and do they help beside them? The synthesizer's display and camera
#   are its own, so the "synth" row says whether an independent simulator's replays teach
#   SynthSpoof's; read "synth - real" with its bootstrap interval over test subjects (more
#   than one seed where the interval holds 0). It cannot say whether they teach real ones.
# * The attention statistic (section 5) says whether the learned regions sit on the medium's
#   border more often than regions placed at random, per attack type.
# * MS-FANS over time against MS-FANS on one frame and STASN (section 6), with the bootstrap
#   interval that says which differences are more than the luck of 16 test subjects.

# %% [markdown]
# ## Exercises
#
# 1. Train STASN with `locator="regress"` (the public re-implementation's RAM) by building the
#    model yourself from `fas_lib.models.STASN`: do the regions move to the border more often?
# 2. Set `INPUT_SIZE=112` and `EPOCHS=10` (about 4x the time): which conclusions of sections
#    3 and 6 survive?
# 3. Add `overlap_weight` to `stasn_loss` (see `fas_lib.models.stasn.model`) so that the K regions
#    spread out, and re-run section 5's statistic.
# 4. Point `DATASET` / `DATA_ROOT` at CASIA-FASD: section 4 then synthesizes replays from its
#    live videos and tests on its recorded replays: the "synth" row then says whether the
#    synthesizer's display and camera models transfer to real screens and cameras, the one
#    thing the SynthSpoof run cannot say.
# 5. Fix one panel (`ReplaySettings(display="o2")`) or one camera for every synthesized
#    replay (pass `settings=` to `vs.synthesize_replays` and a new `synth_root`): which of
#    the synthesizer's models does the "synth" row depend on?
