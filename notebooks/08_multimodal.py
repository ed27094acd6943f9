# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · Multi-modal anti-spoofing
#
# A colour camera sees texture; an anti-spoofing kiosk often has two more sensors. A
# **structured-light depth camera** sees shape: a print or a screen is a plane, a face is not.
# An **850 nm active NIR camera** sees how skin, ink and screens reflect infrared: a phone
# shows no face to it. Each sensor misses something (a 3-D mask has a face's shape; a print
# made with carbon ink shows a face in NIR), so fusing them should help. This notebook
# measures how much, with SynthSpoof rendering all three sensors with their real failings
# (weak NIR light, depth holes, a few pixels of misregistration), worn attacks that defeat one
# sensor or half a face, and two papers' ways of fusing them; and it asks which of the
# differences between the fusion designs are larger than the luck of the test subjects.
#
# **Learning goals**
#
# 1. See what each sensor sees of every attack type, and measure which attacks each sensor
#    alone cannot tell from a face.
# 2. Train MM-FAS (Parkin & Grinchuk, CVPRW 2019): one trunk per sensor, an aggregation path
#    over three feature levels, and its ablation: early fusion, no aggregation, random vs
#    face-recognition initialisation, one model vs an ensemble of per-attack-type folds.
# 3. Read the unseen-attack rows: each fold's model on the attack type it never saw.
# 4. Train ADSN (Deng et al., TIFS 2023): surface normals and NIR in two ResNet18 streams,
#    a global and a local (part) attention branch, BCE + center + cosine losses and two local
#    terms; remove each loss term and the attention.
# 5. Read MM-FAS and ADSN written out in plain tensors, checked against the library.
# 6. Read the ISO metrics (ACER with APCER the worst attack type) and the ChaLearn metric (TPR
#    at FPR = 1e-2 and 1e-3), and see where each fused model still fails.
# 7. Read a paired bootstrap interval over test subjects: which ablation differences are
#    real, and which could be the luck of who is in the test split.
#
# **Before this notebook**: 00 (SynthSpoof, its depth and NIR preview), 02 (the crop cache),
# 03 (training and the EER). Papers: Parkin & Grinchuk 2019; Deng et al. 2023.
#
# Runtime on a laptop CPU: about 7 min on 2 idle cores (data generation and caching about
# 1.5 min, 24 small models, 22 bootstrap comparisons under a minute), seconds when its runs
# exist in `RUNS_DIR`. SMOKE: about 1 min.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from fas_lib.core.utils import environment_line, save_results, set_seed, smoke_output_dirs
from fas_lib.studies import multimodal
from fas_lib.viz.plots import save_fig

T0 = time.perf_counter()
print(environment_line(("python", "torch", "fas_lib", "device", "torch_threads")))

# %% tags=["parameters"]
SMOKE = False            # True: tiny data and one epoch per model (tests, CI)
SEED = 0
DATASET = "synthspoof"   # or a dataset with depth and NIR (casia_surf, a CSV with extra columns)
DATA_ROOT = None         # that dataset's folder (None: SynthSpoof, generated below)
WORKERS = 2
N_SUBJECTS = 24          # SynthSpoof subjects (split 15/15/20 like Replay-Attack: 7 / 7 / 10)
SESSIONS = ("s1", "s2")  # of s1-s3 (room and light)
LIVE_PER_SESSION = 2     # live videos per subject and session (one per attack type)
FRAMES = 2               # frames per video, all cached
CROP_SIZE = 64           # cached crop side, also the input side of every model
SCALE = 1.0              # one crop scale: the face box
EPOCHS = 5               # every MM-FAS model (folds included)
ADSN_EPOCHS = 5
N_BOOT = 1000            # bootstrap replicates of each paired difference (section 9)
BATCH_SIZE = 32
LR = 1e-3
FACE_RECOGNITION = True  # False: leave out the two face-recognition-trunk rows
FIG_DIR = "../figures"
RESULTS_DIR = "../results"
RUNS_DIR = "../runs"

# %%
set_seed(SEED)
FIG_DIR, RESULTS_DIR = smoke_output_dirs(SMOKE, FIG_DIR, RESULTS_DIR)
if SMOKE:  # one subject per split, one session, two frames, one epoch
    N_SUBJECTS, SESSIONS, LIVE_PER_SESSION, FRAMES = 3, ("s1",), 1, 2
    EPOCHS, ADSN_EPOCHS, N_BOOT = 1, 1, 100
PLAN = multimodal.StudyPlan(scale=SCALE, input_size=CROP_SIZE, epochs=EPOCHS,
                          adsn_epochs=ADSN_EPOCHS, batch_size=BATCH_SIZE, lr=LR, seed=SEED,
                          skip=() if FACE_RECOGNITION else ("fr_random", "fr_init"))

# %% [markdown]
# ## 1. The data: three sensors, ten attack types
#
# SynthSpoof renders depth and NIR for every video when asked (`SynthConfig(modalities=...)`),
# modelled on real sensors with their failings: depth has holes at dark hair and grazing
# angles, NIR falls off with distance and shows specular highlights on skin. Five opt-in attack
# types give fusion something to learn, and something to get wrong:
#
# * **mask**: a rigid 3-D mask (a face's shape in depth, the wrong texture in RGB and NIR, eye
#   holes); **print_nir**: a flat print whose carbon ink shows a face to the NIR camera;
# * **mask_partial**: the rigid mask cut to the upper or the lower half of the face, the rest
#   the attacker's own skin in every sensor (SiW-M's half masks and partial attacks, WMCA's
#   glasses);
# * **mask_flexible**: a thin latex or silicone mask that follows the face and its smile and
#   lets some NIR scatter under its surface as skin does (WMCA's flexible masks);
# * **mask_paper**: a printed photo cut out, bent round the face and folded along the nose:
#   a face-like surface in depth at a lower relief, the NIR of paper and ink (WMCA's paper
#   masks).
#
# Every multi-modal video also has **sensor conditions** of its own (drawn independently of
# its label, `fas_lib.synthspoof.sensors`): the NIR illuminator at 20-100 % of its power (the
# camera's gain lifts the picture and its noise), depth dropouts where the pattern returns too
# weakly, at highlights and in blobs, and a misregistration of a few pixels between the RGB
# camera and the IR camera that gives depth and NIR (as the RealSense SR300 of CASIA-SURF and
# WMCA does): a calibration error per camera device plus the parallax of the face's distance.
# So the three sensors are *not* pixel-aligned any more, as in a real kiosk.
#
# The notebook's dataset is smaller than the course's default (24 subjects, 2 sessions, 2 live
# videos and one of each attack type per subject and session, 2 frames per video; 64 x 64
# crops at scale 1.0) so that it trains 24 models in minutes; 10 test subjects make the
# bootstrap intervals of section 9 possible. The crop cache cuts the depth and NIR crops with
# the RGB crop's alignment transform (the RGB face box): what the IR camera's misregistration
# moves stays moved in the crops. The faces are placed with the generator's exact boxes
# (`use_gt_boxes`: alignment is notebook 01's subject, not this one's).

# %%
from fas_lib.cache.build import build_cache
from fas_lib.synthspoof import ALL_ATTACK_TYPES, SynthConfig, generate, sensor_views

SYNTH = SynthConfig(n_subjects=N_SUBJECTS, frames_per_video=FRAMES, sessions=SESSIONS,
                    live_per_session=LIVE_PER_SESSION,
                    attack_types=ALL_ATTACK_TYPES,
                    modalities=("depth", "nir"), seed=SEED)
t = time.perf_counter()
SYNTHETIC = DATASET == "synthspoof"
if SYNTHETIC:
    reader = generate(SYNTH, workers=WORKERS)
    DATA_ROOT = reader.root
cache = build_cache(DATASET, DATA_ROOT, scales=(SCALE,), n_frames=FRAMES, crop_size=CROP_SIZE,
                    workers=WORKERS, use_gt_boxes=SYNTHETIC, modalities=("depth", "nir"))
DATA_SECONDS = time.perf_counter() - t
print(cache, f"\ndata ready in {DATA_SECONDS:.0f} s")
display(cache.summary())

# %% [markdown]
# ## 2. What each sensor sees
#
# One test subject's videos, the middle frame of each, in the three sensors. Read each column
# for what it cannot tell apart: RGB shows every attack as a face; depth shows prints and
# screens as planes (a warped print as a gentle curve) but the masks as faces (the paper mask
# as a flatter one); NIR shows no face on a screen, a faint one on an ordinary print, a
# skin-like one on the carbon-ink print and the live face, skin on the free half of a partial
# mask, and something close to skin on a silicone mask. Each video has its own NIR light and
# depth holes.

# %%
if SYNTHETIC:
    test_subject = sorted(reader.protocol.loc[reader.protocol["split"] == "test", "subject"])[0]
    views = sensor_views(reader, test_subject, SESSIONS[0])
else:  # another dataset: the first cached test frame of each attack type
    first = cache.frames("test").groupby("attack_type")["index"].first()
    views = {k: (cache.crops("test")[i, 0], cache.array("depth", "test")[i, 0],
                 cache.array("nir", "test")[i, 0]) for k, i in first.items()}
fig, axes = plt.subplots(len(views), 3, figsize=(7.5, 2.3 * len(views)))
for row, (kind, images) in zip(axes, views.items()):
    for ax, img, title in zip(row, images, ("RGB", "depth", "NIR")):
        ax.imshow(img, cmap=None if img.ndim == 3 else "gray")
        ax.set_xticks([]), ax.set_yticks([])
        if kind == list(views)[0]:
            ax.set_title(title)
    row[0].set_ylabel(kind, rotation=0, ha="right", va="center")
fig.tight_layout()
save_fig(fig, "08_sensors", FIG_DIR)

# %% [markdown]
# ## 3. Training every model
#
# One call trains the whole study (`fas_lib.studies.multimodal.run_study`; every run is a folder in
# `RUNS_DIR`, read back when finished, resumed when interrupted): MM-FAS on each sensor alone,
# early fusion, MM-FAS without and with its aggregation path, MM-FAS with dlib's
# face-recognition trunk from random weights and from dlib's, one MM-FAS fold per attack type
# (trained without it), and ADSN with its ablations. All use the CPU presets at 64 x 64, Adam
# and random horizontal flips (the three sensors of a sample flipped together).

# %%
study = multimodal.run_study(cache, PLAN, RUNS_DIR)
pct = lambda df: (100 * df.select_dtypes("number")).round(2)  # noqa: E731
print(f"trained or read back {len(study.results)} runs")

# %% [markdown]
# ## 4. One sensor at a time
#
# The EER of bona fide against each attack type alone, on the test split, for MM-FAS on one
# sensor. A sensor that cannot see an attack leaves it near 50 %; the demand is that
# no sensor is perfect on every attack. The fused models' rows are below them for comparison.

# %%
SENSOR_EER = study.sensor_eer()
display(pct(SENSOR_EER))
for sensor in ("rgb", "depth", "nir"):
    worst = SENSOR_EER.loc[sensor].idxmax()
    print(f"{sensor:5s}: worst attack {worst} (EER {100 * SENSOR_EER.loc[sensor, worst]:.1f} %); "
          f"perfect on {int((SENSOR_EER.loc[sensor] == 0).sum())} of {SENSOR_EER.shape[1]} types")
fig, ax = plt.subplots(figsize=(9, 3.6))
sns.heatmap(100 * SENSOR_EER, annot=True, fmt=".1f", cmap="rocket_r", vmin=0, vmax=50, ax=ax,
            cbar_kws={"label": "test EER (%)"})
ax.set_title("EER of bona fide vs each attack type, per model")
fig.tight_layout()
save_fig(fig, "08_sensor_eer", FIG_DIR)

# %% [markdown]
# ## 5. MM-FAS and its ablation
#
# ISO/IEC 30107-3 at the dev-EER threshold: APCER is the worst attack type's, BPCER the share
# of bona fide rejected, ACER their mean; TPR at FPR = 1e-2 / 1e-3 is the ChaLearn CASIA-SURF
# challenge's metric (with a few hundred test attacks, FPR = 1e-3 means "no attack accepted").
# The face-recognition rows use dlib's ResNet from its stem to its third stage as the trunk
# (`trunk="dlib"`); `fr_init` loads dlib's weights into the RGB trunk and, the first
# convolution averaged over RGB, into the depth and NIR trunks. The port reproduces dlib's
# descriptors (next cell). Whether a row's difference from `mmfas` is more than the luck of
# the test subjects is section 9's question.

# %%
display(pct(study.table("mmfas")))
PORT_ERROR = None
if FACE_RECOGNITION:
    import dlib

    from fas_lib.data.io import read_image
    from fas_lib.models import face_descriptors, load_face_recognition_net
    from fas_lib.models.pretrained.face_recognition import default_model_path
    from fas_lib.preprocess.align import load_detector, load_shape_predictor
    from fas_lib.synthspoof.sources import portrait_files

    recogniser = dlib.face_recognition_model_v1(str(default_model_path()))
    detector, predictor, port = load_detector(), load_shape_predictor("5"), load_face_recognition_net()
    errors = {}
    for name, path in portrait_files().items():
        rgb = read_image(path)
        box = max(zip(*detector.run(rgb, 1)[:2]), key=lambda b: b[1])[0]
        chip = dlib.get_face_chip(rgb, predictor(rgb, box), size=150, padding=0.25)
        ours = face_descriptors(port, chip)[0]
        errors[name] = float(np.abs(ours - np.array(recogniser.compute_face_descriptor(chip))).max())
    PORT_ERROR = max(errors.values())
    print("max |port - dlib| per portrait:", {k: f"{v:.2e}" for k, v in errors.items()})

# %% [markdown]
# ### MM-FAS in plain tensors
#
# What `run_study` trained as `mmfas` is the lines below. The run is read back and its forward
# pass written out on eight test frames: each sensor's trunk gives its level-1, 2 and 3 maps;
# the **main path** concatenates the level-3 maps, runs the fourth stage and pools; the
# **aggregation path** concatenates the sensors' level-k maps, mixes them with a 1x1
# convolution and a ReLU, adds the previous level's output and runs its own copy of stage
# k + 1; the two pooled vectors are summed and classified. The asserts check that these lines
# compute what `fas_lib.models.MMFAS` computes, and the cross-entropy it trains with.

# %%
import torch
import torch.nn.functional as F

from fas_lib.training.multimodal import load_mm_run, load_splits

TEST_SPLIT = load_splits(cache, SCALE, CROP_SIZE, splits=("test",))  # every model reads CROP_SIZE
net, _, net_cfg = load_mm_run(study.folders["mmfas"])
net.eval()
batch = torch.arange(min(8, len(TEST_SPLIT["test"].y)))
xb = {m: TEST_SPLIT["test"].x[m][batch] for m in ("rgb", "depth", "nir")}  # (8, C_m, 64, 64)
yb = TEST_SPLIT["test"].y[batch]                                           # 1 = bona fide
with torch.no_grad():
    levels = [net.trunks[m](xb[m]) for m in net_cfg.modalities]  # per sensor: (l1, l2, l3)
    # main path: the sensors' level-3 maps concatenated, the fourth stage, average pooling
    main = net.main_stage(torch.cat([lv[2] for lv in levels], 1)).mean(dim=(2, 3))  # (8, w4)
    # aggregation path, levels 1-3
    agg = None
    for k, block in enumerate(net.agg):
        cat = torch.cat([lv[k] for lv in levels], 1)                   # (8, 3 * w_k, s_k, s_k)
        mixed = F.relu(F.conv2d(cat, block.merge.weight, block.merge.bias))  # (8, w_k, ...)
        if agg is not None:
            mixed = mixed + agg                                        # the previous level
        agg = block.stage(mixed)                                       # (8, w_k+1, s_k+1, ...)
        print(f"level {k + 1}: concatenated {tuple(cat.shape)} -> out {tuple(agg.shape)}")
    emb = main + agg.mean(dim=(2, 3))                                  # the pooled sum (8, w4)
    logits = F.linear(emb, net.classifier.weight, net.classifier.bias)  # (8, 2), 1 = bona fide
    loss = -F.log_softmax(logits, dim=1)[torch.arange(len(yb)), yb].mean()  # cross-entropy
    lib_logits = net(xb)
assert torch.allclose(logits, lib_logits, atol=1e-5)
assert torch.allclose(loss, F.cross_entropy(lib_logits, yb), atol=1e-6)
print(f"logits equal the library's (max difference {(logits - lib_logits).abs().max():.1e}); "
      f"loss {loss:.4f}")

# %% [markdown]
# ## 6. The fold ensemble and the unseen-attack rows
#
# A **fold ensemble**: one model per fold, each trained on bona fide and every attack type but
# one, their scores averaged (the `ensemble` row above). It is one ingredient of the authors'
# ensemble, not the whole of it: their public repository (AlexanderParkin/ChaLearn_liveness_
# challenge, `data/opts/`) trains 3 attack-type folds with 2 seeds from each of 4 pre-trained
# face networks, 24 networks in all; here one network per fold, one seed, one initialisation
# (the plan's `fold_types` sets the folds, `fold_seeds` the seeds per fold). Below, each
# fold's model on the attack type it never saw, with the threshold from dev *without* that
# type (what the fold's model could know): a high APCER means the other attacks taught it
# nothing about this one.

# %%
UNSEEN = pd.DataFrame(study.unseen).set_index("attack_type")
display(pct(UNSEEN[["test_eer", "apcer", "bpcer", "acer", "tpr_at_fpr_1e-02"]]))

# %% [markdown]
# ### A sensor missing at test time
#
# A deployed system may lose a sensor (an IR-only camera at night, an RGB-only phone).
# `multimodal.missing_sensor` scores a fused model's test split with one input replaced by a
# constant mid-grey and keeps the threshold it was deployed with (its dev EER threshold with
# every sensor): what that system does when a sensor fails, not a model retrained without it.

# %%
rows = []
for name in ("mmfas", "adsn"):
    for sensor in study.results[name]["data"]["modalities"] if name in study.folders else ():
        r = multimodal.missing_sensor(study.folders[name], cache, sensor, data=TEST_SPLIT)
        rows.append({"model": name, **{k: r[k] for k in ("dropped", "test_eer", "apcer",
                                                         "bpcer", "acer", "worst_type")}})
MISSING = pd.DataFrame(rows).set_index(["model", "dropped"])
display(MISSING.assign(**{c: (100 * MISSING[c]).round(2)
                          for c in ("test_eer", "apcer", "bpcer", "acer")}))

# %% [markdown]
# ## 7. ADSN and its ablation
#
# ADSN sees depth (as surface normals) and NIR only, one ResNet18 stream each. Its fusion has
# a **global** branch (per channel, a softmax over the two streams from both streams' pooled
# descriptors) and a **local** branch (in each stream, K attention maps, each a softmax over
# the positions, whose weighted averages of the stream's features are K part features). Its
# loss is BCE + center + cosine on the fused embedding, plus two **local terms**: the parts'
# maps should not overlap, and a part's feature should sit near its class's center for that
# part. The paper's method section was not available here: the local branch and its two terms
# are our reading of its abstract (`fas_lib/models/adsn.py` says what is reconstruction).
# Removing BCE leaves the classifier untrained, so that row is scored by the embedding's
# cosine to the bona fide center minus its cosine to the attack center; `adsn_no_local` drops
# both local terms; `adsn_concat` replaces the attention fusion by a concatenation and a 1x1
# convolution.

# %%
display(pct(study.table("adsn")))

# %% [markdown]
# ### ADSN in plain tensors
#
# The trained `adsn` run on the same eight test frames: surface normals from the depth map
# (SynthSpoof's depth is nearness, 1 = nearest, so a surface whose right side is nearer faces
# left), the two streams, the global and local branches, the embedding and logit, then the
# whole loss written out term by term. The asserts check both against `fas_lib`.

# %%
adsn, adsn_loss, _ = load_mm_run(study.folders["adsn"])
adsn.eval()
lam = {k: getattr(adsn_loss, f"lambda_{k}") for k in ("bce", "center", "cosine", "overlap",
                                                       "parts")}
with torch.no_grad():
    d = xb["depth"]                                                   # (8, 1, 64, 64) in [-1, 1]
    dy, dx = torch.gradient(d, spacing=2.0 / d.shape[-1], dim=(2, 3))  # the crop spans [-1, 1]
    normals = torch.cat([-dx, -dy, torch.ones_like(d)], 1)           # nearness: minus slopes
    normals = normals / normals.norm(dim=1, keepdim=True) * (d != -1.0)  # holes: no normal
    f_d, f_n = adsn.depth_stream(normals), adsn.nir_stream(xb["nir"])  # (8, C, 8, 8) each
    # global branch: both pooled descriptors -> MLP -> per channel, softmax over the 2 streams
    p_d, p_n = f_d.mean(dim=(2, 3)), f_n.mean(dim=(2, 3))            # (8, C)
    g = adsn.fusion["global"].mlp(torch.cat([p_d, p_n], 1)).view(len(yb), 2, -1).softmax(1)
    glob = g[:, 0] * p_d + g[:, 1] * p_n                              # (8, C)
    # local branch: K maps per stream, each a softmax over the positions, pooling the features
    maps, parts = [], []
    for f, local in ((f_d, adsn.fusion["local_depth"]), (f_n, adsn.fusion["local_nir"])):
        a = F.conv2d(f, local.conv.weight, local.conv.bias).flatten(2).softmax(-1)  # (8, K, hw)
        maps.append(a)
        parts.append(a @ f.flatten(2).transpose(1, 2))               # (8, K, C)
    parts = torch.cat(parts, 1)                                       # (8, 2K, C)
    emb = glob + adsn.fusion["local"](parts.flatten(1))               # (8, C)
    logit = adsn.classifier(emb).squeeze(1)                           # (8,), > 0: bona fide
    # the loss, term by term
    c, pc, y = adsn_loss.centers, adsn_loss.part_centers, yb
    bce = F.binary_cross_entropy_with_logits(logit, y.float())
    center = 0.5 * (emb - c[y]).pow(2).sum(1).mean()
    cos = F.normalize(emb, dim=1) @ F.normalize(c, dim=1).T           # (8, 2)
    own = F.one_hot(y, 2).bool()
    cosine = ((1 - cos[own]) + (cos - adsn_loss.margin).clamp(min=0).masked_fill(own, 0).sum(1)
              ).mean()
    unit = F.normalize(torch.stack(maps, 1), dim=-1)                  # (8, 2, K, hw)
    gram = unit @ unit.transpose(-1, -2)                              # (8, 2, K, K)
    overlap = gram[..., ~torch.eye(gram.shape[-1], dtype=torch.bool)].mean()
    part_center = 0.5 * (parts - pc[y]).pow(2).sum(-1).mean()
    total = (lam["bce"] * bce + lam["center"] * center + lam["cosine"] * cosine
             + lam["overlap"] * overlap + lam["parts"] * part_center)
    out = adsn(xb)
    lib = adsn_loss(out, yb)
assert torch.allclose(normals, adsn.depth_input(d), atol=1e-6)
assert torch.allclose(logit, out.logits, atol=1e-5)
assert torch.allclose(total, lib["total"], atol=1e-5)
print(f"maps {tuple(f_d.shape)}; logits equal the library's (max difference "
      f"{(logit - out.logits).abs().max():.1e}); loss {total:.4f} = "
      + " + ".join(f"{lam[k]:g} x {v:.3f}" for k, v in zip(
          lam, (bce, center, cosine, overlap, part_center))))

# %% [markdown]
# Where do ADSN's local parts look, on a live face, a print, a replay and a mask? Each stream
# has K parts, one colour each (red, green, blue, yellow), brighter where the part's map is
# higher (each map scaled to its maximum). The CPU preset keeps its last two stages at 1/8 of
# the input (output stride 8, `ADSNConfig.output_stride`), so at 64 px the maps have 8 x 8
# cells (the paper's ResNet18 at 224 px has 7 x 7); at ResNet18's usual 1/32 they would have
# 2 x 2. The cells are drawn as blocks, not smoothed.

# %%
TEST = TEST_SPLIT["test"]
SHOW = ("live", "print_flat", "replay_phone", "mask")
ATT = multimodal.attention_samples(study.folders["adsn"], TEST, SHOW)
PART_COLOURS = np.array([[1, 0.2, 0.2], [0.2, 1, 0.2], [0.3, 0.5, 1], [1, 0.9, 0.1]])


def part_image(maps: np.ndarray) -> np.ndarray:
    """K part maps (K, S, S) in [0, 1] -> an RGB image: each part's colour times its map."""
    colours = PART_COLOURS[np.arange(len(maps)) % len(PART_COLOURS)]
    return np.clip(np.einsum("kij,kc->ijc", maps, colours), 0, 1)


shown = [k for k in SHOW if k in ATT]
fig, axes = plt.subplots(len(shown), 4, figsize=(8, 2.1 * len(shown)), squeeze=False)
for row, kind in zip(axes, shown):
    a = ATT[kind]
    panels = (a["depth"], a["nir"], part_image(a["parts_depth"]), part_image(a["parts_nir"]))
    titles = ("depth", "NIR", "parts: depth stream", "parts: NIR stream")
    for ax, img, title in zip(row, panels, titles):
        ax.imshow(img, cmap="gray", vmin=-1, vmax=1) if img.ndim == 2 else ax.imshow(img)
        ax.set_xticks([]), ax.set_yticks([])
        if kind == shown[0]:
            ax.set_title(title, fontsize=9)
    row[0].set_ylabel(kind, rotation=0, ha="right", va="center")
fig.tight_layout()
save_fig(fig, "08_attention", FIG_DIR)

# do the local terms keep the parts apart? the mean cosine of every pair of a stream's part
# maps on the test split (0: no two parts look at the same place; 1: all look alike)
from fas_lib.models import overlap_loss

PART_OVERLAP = {}
for name in ("adsn", "adsn_no_local"):
    if name in study.folders:
        m, _, _ = load_mm_run(study.folders[name])
        with torch.no_grad():
            maps = m.eval()({k: TEST.x[k] for k in ("depth", "nir")}).part_maps
        PART_OVERLAP[name] = float(overlap_loss(maps))
print("parts' overlap on test:", {k: round(v, 3) for k, v in PART_OVERLAP.items()})

# %% [markdown]
# ## 8. Where each fused model still fails
#
# APCER per attack type at each model's dev-EER threshold: the share of that attack accepted.
# The worst type of each fused model is what its ACER is made of.

# %%
FUSED = [n for n in ("early", "mmfas", "fr_init", "ensemble", "adsn") if n in study.reports]
APCER = pd.DataFrame({n: study.reports[n]["apcer_per_type"] for n in FUSED}).T
fig, ax = plt.subplots(figsize=(9, 3))
sns.heatmap(100 * APCER, annot=True, fmt=".0f", cmap="rocket_r", vmin=0, vmax=100, ax=ax,
            cbar_kws={"label": "APCER (%)"})
ax.set_title("Share of each attack accepted at the dev-EER threshold")
fig.tight_layout()
save_fig(fig, "08_failures", FIG_DIR)
for n in FUSED:
    r = study.reports[n]
    print(f"{n:9s} worst: {r['worst_type']:13s} APCER {100 * r['apcer']:5.1f} %, "
          f"BPCER {100 * r['bpcer']:5.1f} %")

# %% [markdown]
# ## 9. Which differences are real? A paired bootstrap over test subjects
#
# With a handful of test subjects a test EER is an estimate: other subjects would give other
# numbers. `study.differences()` asks, for every comparison of sections 5 and 7 (MM-FAS against
# each of its ablation rows, ADSN against each of its) and for every fused model against the
# best single sensor (the one with the lowest dev EER), how far the difference of test EERs moves
# with other subjects. It draws as many test subjects as there are, **with replacement** (some
# twice, some not at all), scores **both** models on the same draw (paired: the same frames, so what
# is hard for one is hard for the other), and repeats `N_BOOT` times
# (`fas_lib.evaluation.metrics.paired_bootstrap_eer`); the 2.5th and 97.5th percentiles of the
# replicates' differences are the 95 % interval. A subject's frames are drawn together: they share a
# face, camera and sensor conditions, so they are not independent samples.
#
# **How to read a row.** `diff = EER(a) - EER(b)`: below 0, `a` (MM-FAS, ADSN, or the fused
# model against the best single sensor) has the lower error. An interval entirely below 0
# (or above) says the difference holds for other subjects drawn like these. **An interval that
# contains 0 says these data cannot rank the two**: the difference is within what the choice of
# test subjects alone produces. It does not say the two are equal (more test subjects might
# separate them), and an interval that excludes 0 does not say the difference survives another
# training seed (the bootstrap resamples subjects, not training runs), other data or other
# attacks. With 22 comparisons, about one interval in 20 excludes 0 by luck alone where
# nothing differs. The ACER difference is a point value (each model at its own dev-EER
# threshold), without an interval.

# %%
DIFF = study.differences(n_boot=N_BOOT, seed=SEED)
RATES = ("eer_a", "eer_b", "diff", "ci_low", "ci_high", "acer_diff")
shown = DIFF.set_index(["family", "a", "b"])[[*RATES, "excludes_zero"]]
display(shown.assign(**{c: (100 * shown[c]).round(2) for c in RATES}))
print(f"{int(DIFF['excludes_zero'].sum())} of {len(DIFF)} intervals exclude 0 (unit: "
      f"{DIFF['unit'].iloc[0]}, {DIFF['n_clusters'].iloc[0]} clusters, {N_BOOT} replicates)")
fig, ax = plt.subplots(figsize=(8, 0.3 * len(DIFF) + 1.4))
y = np.arange(len(DIFF))[::-1]
for family, colour in (("mmfas", "tab:blue"), ("adsn", "tab:orange"),
                       ("best_single", "tab:green")):
    m = (DIFF["family"] == family).to_numpy()
    if m.any():
        ax.hlines(y[m], 100 * DIFF["ci_low"][m], 100 * DIFF["ci_high"][m], colour, lw=2)
        ax.plot(100 * DIFF["diff"][m], y[m], "o", color=colour, label=family)
ax.axvline(0, color="black", lw=0.8)
ax.set_yticks(y, [f"{a} - {b}" for a, b in zip(DIFF["a"], DIFF["b"])], fontsize=8)
ax.set_xlabel("test EER(a) - EER(b), percentage points (below 0: a is better); 95 % interval")
ax.set_title("Paired bootstrap over test subjects")
ax.legend(fontsize=8, loc="best")
fig.tight_layout()
save_fig(fig, "08_differences", FIG_DIR)

# %%
def clean(obj):
    """JSON-friendly copy (NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


save_results(clean(dict(
    dataset=DATASET, smoke=SMOKE, seed=SEED, level="frame",
    synth_config=SYNTH.to_dict() if SYNTHETIC else None, crop_size=CROP_SIZE, scale=SCALE,
    n_frames={s: int((cache.table["split"] == s).sum()) for s in ("train", "dev", "test")},
    attack_types=sorted(set(cache.table.loc[cache.table["label"] == 0, "attack_type"])),
    **study.summary(n_boot=N_BOOT, seed=SEED),
    sensor_eer={n: SENSOR_EER.loc[n].to_dict() for n in SENSOR_EER.index},
    port_descriptor_error=PORT_ERROR, attention_missing=ATT["missing"],
    part_overlap=PART_OVERLAP,
    missing_sensor=MISSING.reset_index().to_dict(orient="records"),
    data_seconds=DATA_SECONDS, runtime_s=time.perf_counter() - T0,
)), "08_multimodal", RESULTS_DIR)
print(f"notebook runtime: {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# ## Summary
#
# * SynthSpoof renders RGB, depth and NIR with each sensor's failings (weak NIR light, depth
#   dropouts, a misregistered IR camera), attacks that defeat one sensor each (the masks in
#   depth, the carbon-ink print in NIR), a half-face mask and a flexible one closer to skin.
#   The per-sensor table of section 4 measures which attacks each sensor alone cannot see.
# * MM-FAS gives every sensor its own trunk and fuses them twice: the three level-3 maps
#   concatenated (main path) and an aggregation path over levels 1-3. Section 5's ablation
#   measures early fusion, the aggregation path and dlib's face-recognition weights against
#   random ones; section 6 a per-attack-type fold ensemble and, for each fold, the attack
#   type it never saw.
# * ADSN fuses depth (as surface normals) and NIR with a global branch (per-channel weights
#   of the two streams) and a local one (K parts per stream, kept apart by the overlap term);
#   section 7 removes each loss term and the attention, and shows where the parts look.
# * Sections 5 and 7 write both networks' forward passes and losses in plain tensors and
#   assert that they equal the library's.
# * Section 8 says where each fused model still fails: the attack type its APCER comes from.
# * Section 9 says which of the ablation's differences are larger than the luck of the test
#   subjects: a paired bootstrap over test subjects, one 95 % interval per comparison; an
#   interval containing 0 means these data cannot rank the two designs.

# %% [markdown]
# ## Exercises
#
# 1. Set `SESSIONS=("s1", "s2", "s3")`: does the unseen-attack row of the mask change when
#    the training data holds more rooms and lights?
# 2. Train MM-FAS on depth and NIR only (`PLAN.run("dn", options={"modalities":
#    ("depth", "nir")})` with `fas_lib.training.multimodal.train_mm`): how much does RGB add?
# 3. `init_from_face_recognition(model, inflate="sum")` keeps the response of a grey image
#    equal in the depth and NIR trunks: does it change the `fr_init` row?
# 4. The authors trained MM-FAS with Adam (betas 0.5, 0.999), a cosine schedule, rotations,
#    crops, cutout, colour jitter and flip test-time augmentation:
#    `MMRunConfig.recipe("paper", preset="cpu", options={"input_size": 64}, epochs=EPOCHS,
#    batch_size=BATCH_SIZE, lr=LR)` trains that recipe at this notebook's size (with
#    `fas_lib.training.multimodal.train_mm`). Does it change the `mmfas` row, or the unseen mask row
# of its fold (`exclude_attacks=("mask",)`)?
# 5. Set `N_SUBJECTS = 40` (10 test subjects become 16): do the intervals of section 9 shrink
#    about as `1 / sqrt(test subjects)`? Which differences change side of 0?
