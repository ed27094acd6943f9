# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Setup and the SynthSpoof data
#
# This course implements MS-FANS (Luo et al., *Face Anti-Spoofing with Multi-Scale Information*,
# ICPR 2018) and runs every experiment on a laptop CPU. Its default data is **SynthSpoof**, a
# synthetic face anti-spoofing dataset generated on your machine in about two minutes: live
# videos and five attack species (flat, warped and cut photo prints; phone and screen
# replays), recorded in three sessions (rooms and lights) by five cameras, with three printers
# and three displays, and exact ground truth. This notebook checks your
# installation, generates the data and looks at it.
#
# **Learning goals**
#
# 1. Check the environment: Python, PyTorch, OpenCV, dlib and its landmark model files, CPU
#    cores and device.
# 2. Generate SynthSpoof and read its *protocol table* (one row per video: path, subject,
#    label, attack type, split, and the capture factors session, camera and instrument), and
#    check that the splits are subject-disjoint.
# 3. Recognise the attack species of the paper's datasets (CASIA-FASD: warped photo, cut
#    photo, video replay; Replay-Attack: print and replay, hand-held or fixed) in frames,
#    clips, depth and near-infrared views.
# 4. Measure from ground truth how often an attack frame's crop at scale *s* shows the
#    medium's border or surroundings: the context that MS-FANS feeds to its network.
# 5. Ask how realistic the data is: are the subjects different people to a face recogniser,
#    and how strongly do simple hand-crafted cues separate live from attack at each scale?
#
# **Before this notebook**: nothing. Paper: Sec. I (Fig. 1) and Sec. IV-A.
#
# Runtime on a laptop CPU: about 3.5 min the first time (most of it generating SynthSpoof and its
# crop cache on 2 cores; notebook 02 then reuses the cache); about 2 min once both are cached.
# SMOKE: about 1 min.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from fas_lib import SCALES, synthspoof
from fas_lib.cache.prepare import get_cache
from fas_lib.core.utils import (
    data_dir,
    environment,
    environment_line,
    save_results,
    set_seed,
    smoke_output_dirs,
)
from fas_lib.preprocess import align
from fas_lib.studies import cues, realism
from fas_lib.viz.plots import box_corners, draw_polygon, image_grid, plot_curves, save_fig

T0 = time.perf_counter()
print(environment_line(("python", "torch", "opencv", "dlib", "fas_lib", "device", "cpu_cores")))

# %% tags=["parameters"]
SMOKE = False            # True: a tiny dataset (3 subjects x 3 sessions x 2 frames), for tests/CI
SEED = 0                 # master seed of SynthSpoof (every video has its own child seed)
DATASET = "synthspoof"   # another dataset name (casia_fasd, replay_attack, ...) + DATA_ROOT
                         # adds a summary of its protocol table; the figures stay SynthSpoof
DATA_ROOT = None         # None -> generate into fas_lib.core.utils.data_dir()/synthspoof/<hash>
PROTOCOL = None          # None -> the dataset's default (CASIA-FASD: standard_nodev, the paper's)
WORKERS = 2              # generator processes
N_SUBJECTS = 40          # split 15/15/20 like Replay-Attack (paper: 50 subjects per dataset)
FRAMES_PER_VIDEO = 8     # the paper datasets: full videos of 10-20 s; we sample a few frames
MODALITIES = ("depth", "nir")  # pixel-aligned views (CASIA-SURF style) of a small preview set
MODALITY_SUBJECTS = 3    # subjects in that preview set (an empty MODALITIES skips it)
REGENERATE = False       # True: generate again even when a cached copy exists (to time it)
IDENTITY_PER_SUBJECT = 6  # live frames per subject embedded by dlib's face recogniser
CUE_FRAMES_PER_VIDEO = 2  # cached frames per video whose cue statistics are measured (of 4)
FIG_DIR = "../figures"
RESULTS_DIR = "../results"

# %%
set_seed(SEED)
FIG_DIR, RESULTS_DIR = smoke_output_dirs(SMOKE, FIG_DIR, RESULTS_DIR)
plt.rcParams["figure.dpi"] = 80
RESULTS = {"smoke": bool(SMOKE), "seed": SEED}


# %% [markdown]
# ## 1. The environment
#
# Everything in this course runs on a CPU. Face detection and landmarks come from **dlib**
# (a HOG + linear-SVM detector and an ensemble-of-regression-trees shape predictor); its model
# files ship with the `face-recognition-models` package. If the table below says a model file
# is missing, reinstall the project (`pip install -e .`).

# %%
def model_files() -> pd.DataFrame:
    try:
        folder = align.models_dir()
    except align.ModelFilesNotFound as err:
        print("dlib model files NOT found:", err)
        return pd.DataFrame(columns=["file", "MB"])
    rows = [{"file": p.name, "MB": round(p.stat().st_size / 2**20, 1)}
            for p in sorted(folder.glob("*.dat"))]
    return pd.DataFrame(rows)


models = model_files()
env = {
    **environment(),  # versions, device, cores, threads
    "data_dir": str(data_dir()),
    "dlib_model_files": models["file"].tolist(),
}
RESULTS["environment"] = env
shown_env = {k: v for k, v in env.items() if k != "dlib_model_files"}
display(pd.Series(shown_env, name="value").to_frame())
display(models)
needed = {"shape_predictor_5_face_landmarks.dat", "shape_predictor_68_face_landmarks.dat"}
print("dlib predictors found:", needed <= set(models["file"]))

# %% [markdown]
# ## 2. Generate SynthSpoof
#
# `SynthConfig` holds every generation parameter; `generate` renders the videos in
# `WORKERS` processes and writes them, with a protocol table and per-frame ground truth, to a
# folder named after a hash of the parameters. Calling it again with the same parameters
# returns the stored copy instantly, so the time and throughput below are the ones measured
# when the data was generated (kept in `manifest.json`).
#
# How a video is made: a subject (one of two public-domain portraits, re-coloured, re-shaped
# and given glasses, hair colour and a background) is rendered with head motion and blinks
# (**live**); for an **attack** the same subject is first turned into a medium — a printed
# photo (gamut, ink and paper, paper white border, flat / bent / with the eyes cut out) or a
# phone or monitor showing a video (black level, gamma, white point, glare, bezel; sub-pixels
# and halftone dots only as faintly as a camera resolves them) — which is then held by a hand
# or placed in a *second* scene and recaptured. Every video has three **capture factors**
# (`fas_lib.synthspoof.factors`): the **session** it is recorded in (an office under neutral
# light, a living room under a dim warm lamp, a room by a bright cool window), the **camera**
# (five models, from an old webcam to a compact camera: resolution, noise, colour response,
# sharpening, JPEG; the `quality` column names their class, low / normal / high, as CASIA-FASD
# does) and, for an attack, the **instrument** (three printers, three displays). Notebook 07
# holds them out one by one to see what a model really learned. A session is a place: all
# its videos, live and attack, are recorded in one room, each from a spot of its own.
#
# This is the RGB dataset every later notebook uses (`SynthConfig()`, about a minute and a half
# on a 2-core laptop). Depth and NIR roughly triple the rendering cost, so section 6 renders them
# only for a small preview set of `MODALITY_SUBJECTS` subjects.

# %%
if SMOKE:
    config = synthspoof.SynthConfig(n_subjects=3, frames_per_video=2, live_per_session=1,
                                    seed=SEED)
else:
    config = synthspoof.SynthConfig(n_subjects=N_SUBJECTS, frames_per_video=FRAMES_PER_VIDEO,
                                    seed=SEED)
print(config)
t = time.perf_counter()
ds = synthspoof.generate(config, root=DATA_ROOT if DATASET == "synthspoof" else None,
                         workers=WORKERS, force=REGENERATE)
call_s = time.perf_counter() - t
man = ds.manifest
print(ds)
print(f"generated in {man['wall_time_s']:.1f} s with {man['workers']} workers: "
      f"{man['n_videos']} videos, {man['n_frames']} frames, {man['frames_per_s']:.1f} frames/s "
      f"(this call: {call_s:.1f} s{', cached copy' if call_s < 0.5 * man['wall_time_s'] else ''})")
RESULTS["config"] = config.to_dict()
RESULTS["root"] = str(ds.root)
RESULTS["generation"] = {k: man[k] for k in ("wall_time_s", "frames_per_s", "workers", "n_videos",
                                             "n_frames", "frame_size", "generator_version",
                                             "config_hash")}

# %% [markdown]
# ## 3. The protocol table
#
# Every dataset in this course — SynthSpoof and the adapters for CASIA-FASD, Replay-Attack,
# OULU-NPU, NUAA and CASIA-SURF — becomes the same table with one row per video. Labels follow
# one convention everywhere: **1 = bona fide (live), 0 = attack**, and a higher score means
# *more likely live*. The split is by subject, like the paper's datasets: nobody in the test
# set was seen in training, so a model cannot pass by recognising faces.

# %%
proto = ds.protocol
display(proto.head(4))
counts = pd.crosstab(proto["split"], proto["attack_type"]).reindex(["train", "dev", "test"])
counts = counts[["live"] + [a for a in config.attack_types]]
counts["total"] = counts.sum(axis=1)
n_subjects = proto.groupby("split")["subject"].nunique()
display(counts.assign(subjects=n_subjects))
subjects = {s: set(proto.loc[proto["split"] == s, "subject"]) for s in ("train", "dev", "test")}
overlaps = {f"{a}&{b}": sorted(subjects[a] & subjects[b])
            for a, b in (("train", "dev"), ("train", "test"), ("dev", "test"))}
disjoint = not any(overlaps.values())
print("subject-disjoint splits:", disjoint, overlaps)
assert disjoint, f"subjects shared between splits: {overlaps}"
RESULTS["counts"] = {
    "videos_per_split_and_type": {s: {k: int(v) for k, v in row.items()}
                                  for s, row in counts.iterrows()},
    "subjects_per_split": {s: int(v) for s, v in n_subjects.items()},
    "videos": int(len(proto)),
    "frames": int(man["n_frames"]),
    "live_videos": int((proto["label"] == 1).sum()),
    "attack_videos": int((proto["label"] == 0).sum()),
    "subject_disjoint": disjoint,
    "videos_per_split_and_factor": {
        f: {s: {k: int(v) for k, v in row.items()} for s, row in
            pd.crosstab(proto["split"], proto[f]).drop(columns="", errors="ignore").iterrows()}
        for f in ("session", "camera", "instrument")},
}
display(pd.crosstab([proto["split"], proto["session"]], proto["camera"]))

# %% [markdown]
# A real dataset gives the same table through `fas_lib.data.datasets.load_protocol` (see
# `DATASETS.md` for where to get each one and the folder layout it expects). With
# `DATASET="replay_attack"` and `DATA_ROOT` set, the next cell prints its summary and the files
# it had to leave out.

# %%
if DATASET != "synthspoof" and DATA_ROOT is not None:
    from fas_lib.data.datasets import load_protocol

    other = load_protocol(DATASET, DATA_ROOT, PROTOCOL)
    print(f"{DATASET} / {other.protocol}: {len(other.table)} rows, skipped {dict(other.skips)}")
    display(other.summary())
    RESULTS["other_dataset"] = {"dataset": DATASET, "protocol": other.protocol,
                                "rows": len(other.table), "skips": dict(other.skips),
                                "summary": other.summary().to_dict()}
else:
    print("DATASET is SynthSpoof: nothing more to load.")

# %% [markdown]
# ## 4. Live and attacks in every session
#
# One frame of each kind of video of one test subject, in each session (the camera of each
# video is in the protocol table). Look at the face alone first (the
# middle of each frame): the prints and replays are deliberately *good* forgeries, with only
# faint recapture cues — a duller or shifted colour, lifted blacks, a sheen, the blur and noise
# of two cameras, sometimes a faint moire. A print's halftone dots and a screen's sub-pixels
# are a few tenths of a camera pixel apart at this frame size, so a camera sees almost nothing
# of them (`fas_lib.synthspoof.camera.residual_modulation`). Then look
# around the face: paper edges, a phone's bezel, fingers, a second room. That context is what
# larger crops will contain.

# %%
test_subject = sorted(subjects["test"])[0]
kinds = ["live"] + list(config.attack_types)
sub = (proto[proto["subject"] == test_subject].drop_duplicates(["attack_type", "session"])
       .set_index(["attack_type", "session"]))
gallery = [[ds.read_frames(sub.loc[(k, s), "video_id"])[0] for s in config.sessions]
           for k in kinds]
fig = image_grid(gallery, row_labels=kinds, col_labels=[f"session {s}" for s in config.sessions],
                 cell_inches=2.6, aspect=0.75,
                 title=f"SynthSpoof, subject {test_subject}: frame 0 of every video")
save_fig(fig, "00_gallery", FIG_DIR, dpi=90)
plt.show()

# %% [markdown]
# ## 5. A clip
#
# Frames of one video in a row. The live face moves its head and blinks; a hand-held
# medium shakes and drifts as a whole, a fixed one stays still while the face on a replay
# screen moves. Temporal cues like these are not used by MS-FANS (it classifies single
# frames), but they are one reason the course keeps all frames of a video together.

# %%
q = config.sessions[0]
clip_kinds = [k for k in ("live", "print_warped", "replay_phone") if k in kinds]
clips = [list(ds.read_frames(sub.loc[(k, q), "video_id"])) for k in clip_kinds]
fig = image_grid(clips, row_labels=clip_kinds,
                 col_labels=[f"frame {i}" for i in range(len(clips[0]))],
                 cell_inches=1.9, aspect=0.75,
                 title=f"clips of subject {test_subject}, session {q}")
save_fig(fig, "00_clip_strip", FIG_DIR, dpi=90)
plt.show()

# %% [markdown]
# ## 6. Depth and near-infrared
#
# Multi-modal datasets such as CASIA-SURF add a depth camera and a near-infrared (NIR) camera.
# SynthSpoof renders both as one IR camera beside the RGB one, registered to it within a few
# pixels (as a real kiosk's are), with a real sensor's failings (depth dropouts, a NIR
# illuminator weaker in some videos than others). A live face has relief; a print or
# a screen is a plane (a warped print a gently curved one). In NIR, skin reflects strongly,
# printed ink less, and an LCD's image is invisible: its panel looks dark. MS-FANS itself uses
# RGB only; these views are for the exercises and for comparison with depth-based methods.

# %%
if MODALITIES:
    mm_config = synthspoof.SynthConfig(n_subjects=MODALITY_SUBJECTS, frames_per_video=2,
                                       sessions=(q,), live_per_session=1,
                                       modalities=tuple(MODALITIES), seed=SEED)
    t = time.perf_counter()
    mm = synthspoof.generate(mm_config, workers=WORKERS, progress=False)
    print(f"preview set with {MODALITIES}: {len(mm)} videos ({time.perf_counter() - t:.1f} s)")
    first = mm.protocol.drop_duplicates("attack_type").set_index("attack_type")["video_id"]
    rows, labels = [], []
    for k in kinds:
        vid = first[k]
        row = [mm.read_frames(vid)[0]]
        for m in MODALITIES:
            row.append(mm.read_modality(vid, m)[0])
        rows.append(row)
        labels.append(k)
    fig = image_grid(rows, row_labels=labels, col_labels=["RGB"] + list(MODALITIES),
                     cell_inches=2.4, aspect=0.75, title="RGB, depth (bright = near) and NIR")
    save_fig(fig, "00_modalities", FIG_DIR, dpi=90)
    plt.show()
else:
    print("generated without modalities (MODALITIES=()): nothing to show")


# %% [markdown]
# ## 7. How often does a crop show the medium's border?
#
# The generator knows, for every frame, the face box dlib's detector would give (square,
# derived from the exact landmarks) and, for an attack, the outline of the medium's *content*:
# the printed image area or the screen's active area. A crop at scale *s* is the face box
# scaled by *s* about its centre. When that square reaches outside the content area it shows
# the paper's white border, the bezel, fingers or the second scene — cues that do not depend on
# recapture texture at all.
#
# The figure first draws the geometry on one frame (green: the face box; dashed: the crops at
# 0.9 … 1.5; orange: the medium's content outline; red: its outer edge).

# %%
def first_hit(gt: dict, frame: int = 0) -> float:
    hits = [s for s in SCALES if synthspoof.crop_shows_border(gt, frame, s)]
    return hits[0] if hits else np.inf


# the test subject's attack video whose border appears at the middle scale (a telling example)
attack_vids = sub.loc[sub["label"] == 0, "video_id"].tolist()
vid = min(attack_vids, key=lambda v: abs(first_hit(ds.load_gt(v)) - 1.25))
gt = ds.load_gt(vid)
frame = ds.read_frames(vid)[0]
fig, ax = plt.subplots(figsize=(7.5, 5.6))
ax.imshow(frame)
c = box_corners(gt["face_box"][0])
centre = c.mean(0)
prev = False
for s in SCALES:
    hit = synthspoof.crop_shows_border(gt, 0, s)
    corners = (c - centre) * s + centre
    draw_polygon(ax, corners, color="red" if hit else "cyan", lw=1, ls="--")
    if s in (1.0, SCALES[-1]) or (hit and not prev):
        ax.text(corners[2, 0] + 2, corners[2, 1], f"{s:.1f}", color="red" if hit else "cyan",
                fontsize=8, fontweight="bold", va="top")
    prev = hit
draw_polygon(ax, c, color="lime", lw=2)
draw_polygon(ax, gt["medium_inner"][0], color="orange", lw=1.5)
draw_polygon(ax, gt["medium_outer"][0], color="red", lw=1.5)
ax.set_axis_off()
ax.set_title(f"{vid}: face box (green), crops at 0.9-1.5 (cyan; red = shows border),\n"
             "content area (orange) and medium edge (red)", fontsize=9)
save_fig(fig, "00_border_geometry", FIG_DIR)
plt.show()

# %% [markdown]
# Now over every attack frame of the dataset, per attack species. The share grows with the
# scale, which is the paper's Fig. 1 in numbers: at 0.9-1.0 almost no crop shows the border
# (only texture separates live from attack), at 1.5 most do. Compare the species: the cell
# also prints the smallest scale at which half of each species' frames show the border.

# %%
t = time.perf_counter()
gts = {v: ds.load_gt(v) for v in proto.loc[proto["label"] == 0, "video_id"]}
share = {"all attacks": synthspoof.border_share(gts.values(), SCALES)}
for k in config.attack_types:
    vids = proto.loc[proto["attack_type"] == k, "video_id"]
    share[k] = synthspoof.border_share([gts[v] for v in vids], SCALES)
n_attack_frames = sum(len(g["face_box"]) for g in gts.values())
print(f"{n_attack_frames} attack frames, {time.perf_counter() - t:.1f} s")
table = pd.DataFrame(share).T.mul(100).round(1)
table.columns = [f"{s:.1f}" for s in SCALES]
display(table.rename_axis("border share (%) at scale"))
fig, ax = plt.subplots(figsize=(6.5, 4))
styles = {"all attacks": {"color": "black", "lw": 2.5}}
plot_curves(ax, share, "attack frames whose crop shows border", styles=styles,
            title="Medium border in the crop (ground truth, dlib-like face box)")
save_fig(fig, "00_border_share", FIG_DIR)
plt.show()
half = {k: next((s for s in SCALES if v[s] >= 0.5), None) for k, v in share.items()}
print("smallest scale with border in >= 50 % of frames:", half)
RESULTS["border_share"] = {"box": "face", "half_scale": half, "n_attack_frames": n_attack_frames,
                           "per_scale": share["all attacks"],
                           "per_attack_type": {k: v for k, v in share.items()
                                               if k != "all attacks"}}

# %% [markdown]
# ## 8. How realistic is SynthSpoof?
#
# A dataset teaches a method only as far as it resembles the data the method will meet. Two
# things every real face anti-spoofing dataset has, and that a synthetic one has to earn:
#
# * **Different people.** The public datasets record tens of volunteers; SynthSpoof derives
#   its subjects from two source portraits, re-coloured and re-shaped. Do they look like
#   different people to a face recogniser? dlib's network
# (`fas_lib.models.pretrained.face_recognition`, the PyTorch port of the one notebook 08 uses) maps
# a face chip to a 128-d descriptor; dlib calls two faces the same person when their descriptors are
# less than `realism.DLIB_SAME_PERSON` apart. We embed every subject's sprite and
#   `IDENTITY_PER_SUBJECT` rendered live frames of it (different sessions and cameras), then
#   compare the distances of two subjects with those of two frames of one subject.
# * **Cues that depend on the crop.** In real recordings a tight face crop holds only faint
#   recapture texture (halftone, sub-pixels, blur, a colour cast), while a wide crop adds
#   context (the paper's border, a bezel, fingers), which is why MS-FANS looks at several
#   scales. `fas_lib.studies.cues` measures that on the crop cache (the one notebook 02
#   explains, built here once): simple statistics of the centre 112 x 112 of each crop, the
#   window the CNN is scored on (texture: Laplacian and DCT high-band energy, a periodic-peak
#   "moire" measure; colour: moments in HSV and YCbCr, specular share, colour diversity;
#   context: the longest straight edge), and, per scale, the test EER of a logistic
#   regression trained on them on the training split (subject-disjoint from test).
#
# What published work found on real data, as reference (quoted from the papers, not measured
# here; `fas_lib.studies.literature`):

# %%
print("QUOTED FROM THE PAPERS, NOT MEASURED HERE")
for ref in realism.REFERENCES.values():
    print(f"- {ref['cite']}\n    {ref['dataset']}: {ref['cue']}\n    reported: "
          f"{ref['reported'] or 'no number quoted'}")

# %%
t = time.perf_counter()
identity, distances = realism.synthspoof_identity(ds, per_subject=IDENTITY_PER_SUBJECT,
                                                  seed=SEED)
rows = {}
for name in ("sprites", "frames"):
    st = identity[name]
    rows[name] = {"subjects": st["n_subjects"], "subject pairs": st["different"]["n_pairs"],
                  "pairs distinct (%)": 100 * st["different"]["share_distinct"],
                  "median distance": st["different"]["q50"],
                  "subjects with a twin": st["different"]["n_subjects_with_twin"]}
display(pd.DataFrame(rows).T.round(2).rename_axis("different subjects"))
same = identity["frames"].get("same")
if same:
    print(f"two frames of one subject: median distance {same['q50']:.2f}, 95 % below "
          f"{same['q95']:.2f}; frame pairs of two subjects dlib calls the same person: "
          f"{100 * identity['frames']['false_match_share']:.1f} %")
print("subject pairs by source portrait (frames):",
      {k: f"{100 * v['share_distinct']:.1f} % distinct of {v['n_pairs']}"
       for k, v in identity["frames"]["by_source"].items() if v["n_pairs"]})
fig = realism.plot_identity(distances, title=f"{config.n_subjects} SynthSpoof subjects: "
                            "different people to dlib's face recogniser?")
save_fig(fig, "00_identity", FIG_DIR)
plt.show()
identity_s = time.perf_counter() - t
print(f"identity: {identity_s:.1f} s")

# %% [markdown]
# Read the histogram against the red line: distances of different subjects to its right are
# people dlib would tell apart, to its left "the same person". The table splits the subject
# pairs by source portrait: pairs from one portrait are the ones that stay close.
#
# Now the cue strength. With `DATASET` and `DATA_ROOT` set to a real dataset, the same
# measure runs on its crop cache (and the identity measure on its cached live crops), so the
# two can be compared scale by scale.

# %%
t = time.perf_counter()
real = DATASET != "synthspoof" and DATA_ROOT is not None
if real:
    cache = get_cache(DATASET, DATA_ROOT, protocol=PROTOCOL, smoke=SMOKE, workers=WORKERS)
    chips, meta = realism.cache_chips(cache, IDENTITY_PER_SUBJECT, SEED)
    identity[DATASET] = realism.identity_stats(realism.descriptors(chips), meta)
else:
    cache = get_cache("synthspoof", ds.root, smoke=SMOKE, workers=WORKERS)
cache_s = time.perf_counter() - t
t = time.perf_counter()
cue_frames = cues.cue_set(cache, frames_per_video=CUE_FRAMES_PER_VIDEO)
strength = cues.cue_strength(cue_frames)
n_cue = cue_frames.frames["split"].value_counts().to_dict()
print(f"{cache.manifest['dataset']}: cue statistics of {n_cue} frames at {len(strength)} "
      f"scales, {time.perf_counter() - t:.1f} s (crop cache: {cache_s:.1f} s)")
display(cues.strength_table(strength).rename_axis("test EER (%) at crop scale"))
for by in ("attack_type", "instrument"):
    table = cues.strength_table(strength, by)
    if len(table):
        display(table.rename_axis(f"test EER (%) per {by}"))
fig = cues.plot_strength(strength, by="attack_type")
save_fig(fig, "00_cue_strength", FIG_DIR)
plt.show()
RESULTS["realism"] = {
    "identity": identity,
    "cue_strength": {"dataset": cache.manifest["dataset"], "cache": str(cache.path),
                     "frames_per_video": CUE_FRAMES_PER_VIDEO, "n_frames": n_cue,
                     "statistics": list(cues.STATISTICS), "per_scale": strength},
    "references": {"note": "quoted from the papers, not measured here", **realism.REFERENCES},
    "seconds": {"identity": round(identity_s, 1), "cache": round(cache_s, 1),
                "cues": round(time.perf_counter() - t, 1)},
}

# %% [markdown]
# How to read it: where the data behaves as MS-FANS assumes, the rows fall from left to right
# (weak cues in tight crops, strong ones once the crop shows the medium's context), led by the
# "context statistics only" row, near 50 % at 0.9. A row that is low at every scale means that
# something inside the face itself (colour, texture) gives the attacks away whatever the
# crop: the CNN then needs no context, and the scale of the crop hardly matters (compare
# Table II in notebook 03). `benchmarks/bench_realism.py` runs the same measures (to scale
# 4.0) and writes `results/realism.json`; `realism.train_errors` counts the training frames a
# trained single-scale run still gets wrong.

# %%
RESULTS["runtime_s"] = round(time.perf_counter() - T0, 1)
path = save_results(RESULTS, "00_data", RESULTS_DIR)
print(f"wrote {path}; notebook runtime {RESULTS['runtime_s']:.0f} s")

# %% [markdown]
# ## Summary
#
# - The environment check lists the versions, the device and dlib's predictor files; every
#   later notebook needs the 5-point predictor (alignment) and notebook 01 also the 68-point one.
# - SynthSpoof is generated once per parameter set and cached; `results/00_data.json` records
#   its parameters, size, generation time and throughput.
# - Every dataset is one protocol table (path, subject, label, attack type, quality, split);
#   SynthSpoof's splits are subject-disjoint in Replay-Attack's 15/15/20 proportions.
# - Attacks differ from live faces by faint recapture texture inside the face and by strong
#   context cues around it. The ground-truth border share shows how the context appears only
#   in larger crops — the reason MS-FANS looks at several scales.
# - Realism is measured, not assumed: dlib's face descriptors say how many subject pairs are
#   different people, and hand-crafted statistics of the CNN's centre crop say how strongly
#   live and attack differ at each scale, with texture, colour and context apart
#   (`results/00_data.json`, key `realism`).

# %% [markdown]
# ## Exercises
#
# 1. Generate a dataset with `frames_per_video=16` and `WORKERS=1`. How do the generation time
#    and frames/s change? Which part of the work parallelises?
# 2. Change `SEED`. Which numbers in `00_data.json` change, and by how much does the border
#    share per scale move? What does that tell you about comparing methods on one seed?
# 3. Put a few of your own portrait photos in a folder and pass
#    `SynthConfig(user_faces_dir=...)`. Which photos are skipped, and why
#    (`ds.manifest["user_faces"]`)?
# 4. `synthspoof.border_share(..., box="aligned")` uses the aligner's unit box instead of the
#    detector's box. Predict whether the curve moves left or right, then check (notebook 02
#    does this properly).
# 5. Using the depth view alone, write a one-line rule that separates live from attack frames
#    (hint: the spread of depth values inside the face box). Which attack species does it
#    miss, and why would a real depth camera be harder?
# 6. In section 8, which single statistic separates live from attack best at scale 1.0
#    (`strength[1.0]["best_statistic"]`)? Plot its values for live and attack frames of the
#    test split (`cue_frames.features[1.0]`, `cue_frames.frames`). Is it a cue a real print
#    or screen would carry (see `realism.REFERENCES`)?
