# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · MS-FANS: an LSTM that weighs the scales
#
# Notebook 03 showed that every crop scale gives a different error and that no scale is best
# for every dataset. MS-FANS (Sec. III-B) does not pick one: a single CNN describes each of
# `n` crops, an LSTM with **one hidden unit** reads the `n` features as a sequence and emits a
# weight `α_i` per scale (Eq. 2), and the classifier sees `f = Σ α_i f_i` (Eq. 3). Training
# uses the loss of Eq. 6: the fused softmax loss plus 0.5 × an auxiliary loss per scale
# during the first half of the iterations.
#
# **Learning goals**
#
# 1. Write the fusion of Eq. 2-4 (an LSTM with one hidden unit, written gate by gate) and one
#    training step with the loss of Eq. 6 in plain tensors, and check them against `fas_lib`.
# 2. Train MS-FANS end to end with `fas_lib.training.frames.run_experiment` and read its learning
# curves. 3. Inspect the learned weights `α` across test samples: per class and per attack type.
# 4. Compute CNN features **once**, then re-score instantly with hand-set weights — and see
#    what the learned, the averaged and the one-hot (single-scale) weights are worth.
# 5. Understand what "weight" means for raw LSTM outputs (signed, not summing to 1).
#
# **Before this notebook**: 03 (single-scale CNN_S), 04 (Table I). Paper: Sec. III-B/C, Eq. 2-6.
# It ends with the trained run scoring a photo of your own (section 5).
#
# Runtime on a laptop CPU: about 1 min (SMOKE: under 30 s).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from fas_lib.core.utils import environment_line, save_results, set_seed, smoke_output_dirs
from fas_lib.evaluation import metrics
from fas_lib.training.config import load_experiment
from fas_lib.viz.plots import save_fig
from fas_lib.viz.widgets import ScaleWeightExplorer

T0 = time.perf_counter()
print(environment_line(("python", "torch", "fas_lib", "device", "torch_threads")))

# %% tags=["parameters"]
SMOKE = False            # True: tiny data and a few iterations (tests, CI)
SEED = 0
DATASET = "synthspoof"   # any adapter: casia_fasd, replay_attack, oulu_npu, ...
DATA_ROOT = None         # None -> SynthSpoof is generated; else the dataset's folder
PROTOCOL = None          # None -> the dataset's default (CASIA-FASD: standard_nodev, the paper's)
FOLD = None
WORKERS = 2
EXPERIMENT = "msfans"   # configs/msfans.yaml (or a path): the run as data; overridden below
BACKBONE = None          # None -> the file's (CNN_S; paper Tables IV/V: CNN_D)
SCALES = None            # None -> the file's (paper: best group on CASIA-FASD [1.1, 1.2, 1.3])
WEIGHT_NORM = None       # None -> the file's ("none": raw LSTM outputs, the paper's); "softmax"
EPOCHS = None            # None -> CPU preset of fas_lib.training.frames (SMOKE: 15); paper: not stated
PRESET = None            # None -> the file's ("cpu"); "paper": SGD lr 2e-4, momentum 0.9, wd 5e-4
FIG_DIR = "../figures"
RESULTS_DIR = "../results"
RUNS_DIR = "../runs"     # trained runs (gitignored); notebook 06 reuses this run

# %%
set_seed(SEED)
FIG_DIR, RESULTS_DIR = smoke_output_dirs(SMOKE, FIG_DIR, RESULTS_DIR)
# The run is data (configs/msfans.yaml); the parameters above override the file.
if SMOKE and EPOCHS is None:
    EPOCHS = 15  # the one smoke epoch leaves every score alike; 15 (about 2 s) separate the
                 # tiny smoke classes, so the weight explorer's sliders have something to show
(CONFIG,) = load_experiment(EXPERIMENT).configs(
    backbone=BACKBONE, scales=None if SCALES is None else tuple(SCALES), weight_norm=WEIGHT_NORM,
    preset=PRESET, seed=SEED, epochs=EPOCHS, dataset=DATASET, root=DATA_ROOT, protocol=PROTOCOL,
    fold=FOLD, smoke=SMOKE)
BACKBONE, SCALES, WEIGHT_NORM, PRESET = (CONFIG.backbone, CONFIG.scales, CONFIG.weight_norm,
                                         CONFIG.preset)
SCALE_NAMES = [f"{s:g}" for s in SCALES]

# %% [markdown]
# ## 1. The fusion and one training step, by hand
#
# Before training with the library, the lines that *are* the paper, written out. The CNN gives
# one feature `f_i` (length `D = 1024`) per scale (Eq. 1); here random features stand in for
# it. Then:
#
# * **Eq. 2**, `[α_i, h_i] = LSTM(f_i, h_{i-1})`: an LSTM with **one** hidden unit reads the
#   scales in order. With `H = 1` each of its four gates is one number per sample: the input
#   gate `i`, the forget gate `f`, the candidate `g` and the output gate `o` are
#   `σ`, `σ`, `tanh`, `σ` of `W_ih f_i + b_ih + W_hh h_{i-1} + b_hh` (rows 0, 1, 2, 3 of the
#   `(4, D)` and `(4, 1)` weights, PyTorch's gate order); then `c_i = f c_{i-1} + i g` and
#   `h_i = o tanh(c_i)`. The weight of scale `i` is the hidden output itself, `α_i = h_i`
#   (the paper's reading; `fas_lib`'s `weight_norm="none"`), so it lies in (-1, 1).
# * **Eq. 3**, `f = Σ_i α_i f_i`: a weighted sum of the scale features, still of length `D`.
# * **Eq. 4**, softmax of a linear layer `D -> 2` on `f` (the softmax lives in the
#   cross-entropy). **Eq. 5**: one more linear layer per scale on `f_i` alone (auxiliary).
# * **Eq. 6**: `L = L_f + 0.5 Σ_i L_fi` while `iter < MAXITER / 2`, then `L = L_f`.
# * The optimiser of Sec. IV: SGD with momentum 0.9 and weight decay 5e-4, written out:
#   `d = grad + wd · p`, `buf = momentum · buf + d` (`buf = d` at the first step),
#   `p -= lr · buf`; a parameter without a gradient (an auxiliary head once Eq. 6 drops it)
#   is left alone.

# %%
import torch
import torch.nn.functional as F

from fas_lib.models import MultiScaleNet, msfans_loss

# the optimiser settings of the run trained in section 2 (configs/msfans.yaml + its preset)
LR, MOMENTUM, WD = CONFIG.resolve().lr, CONFIG.momentum, CONFIG.weight_decay
AUX, MAX_ITER = 0.5, 10                                # Eq. 6; MAXITER of a toy run


def lstm_weights(f, W_ih, W_hh, b_ih, b_hh):          # Eq. 2: (B, n, D) -> alpha (B, n)
    h = c = f.new_zeros(f.shape[0], 1)                  # h_0 = c_0 = 0
    alphas = []
    for i in range(f.shape[1]):                         # the scales, in input order
        z = f[:, i] @ W_ih.T + b_ih + h @ W_hh.T + b_hh   # (B, 4) gate pre-activations
        z_i, z_f, z_g, z_o = z.split(1, dim=1)
        c = torch.sigmoid(z_f) * c + torch.sigmoid(z_i) * torch.tanh(z_g)
        h = torch.sigmoid(z_o) * torch.tanh(c)
        alphas.append(h)                                # alpha_i = h_i
    return torch.cat(alphas, dim=1)


def forward(P, f):
    alpha = lstm_weights(f, P["W_ih"], P["W_hh"], P["b_ih"], P["b_hh"])    # Eq. 2
    fused = (alpha.unsqueeze(-1) * f).sum(dim=1)                            # Eq. 3
    logits = fused @ P["W"].T + P["b"]                                      # Eq. 4
    aux = torch.stack([f[:, i] @ P[f"W{i}"].T + P[f"b{i}"]                  # Eq. 5
                       for i in range(f.shape[1])], dim=1)
    return alpha, logits, aux


def loss_eq6(logits, aux, y, iteration):
    loss = F.cross_entropy(logits, y)                                       # L_f
    if iteration < MAX_ITER / 2:                                            # + 0.5 sum_i L_fi
        loss = loss + AUX * sum(F.cross_entropy(aux[:, i], y) for i in range(aux.shape[1]))
    return loss


def sgd_step(P, buf):
    with torch.no_grad():
        for k, p in P.items():
            if p.grad is None:                          # not in this loss (aux, 2nd half)
                continue
            d = p.grad + WD * p
            buf[k] = d.clone() if k not in buf else MOMENTUM * buf[k] + d
            p -= LR * buf[k]
            p.grad = None


# %% [markdown]
# The check: `fas_lib`'s model is built on the same seed, the hand-written parameters are
# copies of its fusion head and auxiliary classifiers (the dictionary `NAMES` says which is
# which), and both see the same batch of `B = 4` samples with `n = 3` scale features. For two
# iterations — one in the first half of training (auxiliary losses on) and one in the second
# (off) — the scale weights `α`, the logits, the auxiliary logits and the loss must agree, and
# after each step of the hand-written SGD and of `torch.optim.SGD` (what `fas_lib.training.frames`
# uses, same learning rate, momentum and weight decay) so must every parameter and every update.

# %%
t = time.perf_counter()
B, N, D = 4, 3, 1024
torch.manual_seed(SEED)
lib = MultiScaleNet(BACKBONE, "msfans", n_scales=N, weight_norm="none").train()
NAMES = {"W_ih": "fusion.lstm.weight_ih_l0", "W_hh": "fusion.lstm.weight_hh_l0",
         "b_ih": "fusion.lstm.bias_ih_l0", "b_hh": "fusion.lstm.bias_hh_l0",
         "W": "fusion.classifier.weight", "b": "fusion.classifier.bias",
         **{f"{w}{i}": f"aux.heads.{i}.{p}" for i in range(N)
            for w, p in (("W", "weight"), ("b", "bias"))}}
lib_p = dict(lib.named_parameters())
P = {k: lib_p[v].detach().clone().requires_grad_() for k, v in NAMES.items()}
gen = torch.Generator().manual_seed(SEED)
feats = torch.randn(B, N, D, generator=gen).relu()     # stand-in for CNN features (Eq. 1)
y = torch.tensor([1, 0, 1, 0])

opt = torch.optim.SGD(lib.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
buf = {}
for it in (0, MAX_ITER // 2):
    alpha, logits, aux = forward(P, feats)
    loss = loss_eq6(logits, aux, y, it)
    out = lib.fuse(feats)
    lib_loss = msfans_loss(out, y, it, MAX_ITER, aux_weight=AUX)
    torch.testing.assert_close(alpha, out.weights)
    torch.testing.assert_close(logits, out.logits)
    torch.testing.assert_close(aux, out.per_scale_logits)
    torch.testing.assert_close(loss, lib_loss)
    before = {k: p.detach().clone() for k, p in P.items()}
    loss.backward()
    sgd_step(P, buf)
    opt.zero_grad()
    lib_loss.backward()
    opt.step()
    for k, v in NAMES.items():
        torch.testing.assert_close(P[k], lib_p[v])
        torch.testing.assert_close(P[k] - before[k], lib_p[v].detach() - before[k],
                                   rtol=1e-4, atol=1e-8)
    print(f"iteration {it}: loss {loss.item():.4f} (aux {'on' if it < MAX_ITER / 2 else 'off'}),"
          f" alpha of sample 0 = {alpha[0].detach().numpy().round(3)}, largest update "
          f"{max((P[k] - before[k]).abs().max().item() for k in P):.1e}")
print(f"hand-written fusion, Eq. 6 and SGD == fas_lib ({time.perf_counter() - t:.2f} s)")

# %% [markdown]
# ## 2. Train MS-FANS
#
# One call trains, checkpoints after every epoch, scores `dev` and `test` and computes every
# metric. The run folder under `RUNS_DIR` is named after the configuration, so an interrupted
# run resumes, a finished one is read back, and notebook 06 reuses it for Table III. The
# threshold for HTER / APCER / BPCER is fixed at the EER of `dev` (or of `test` when a protocol
# has no `dev` split, as CASIA-FASD; the result says which). The run's settings are data,
# `configs/msfans.yaml` (`EXPERIMENT`): `fas train --config configs/msfans.yaml` trains the
# same run from the command line.

# %%
from fas_lib.cache.prepare import get_cache
from fas_lib.studies.tables import run_many
from fas_lib.training.runs import load_run
from fas_lib.training.scoring import extract_scale_features, rescore

cache = get_cache(DATASET, DATA_ROOT, protocol=PROTOCOL, fold=FOLD, smoke=SMOKE, workers=WORKERS)
print(cache.path, "|", cache.table.split.value_counts().to_dict())
t = time.perf_counter()
(RUN,) = run_many([CONFIG], RUNS_DIR, cache=cache, desc="MS-FANS")  # read back when finished
RUN_DIR = RUN["run_dir"]
print(f"run {RUN_DIR} ({time.perf_counter() - t:.0f} s; threshold from "
      f"{RUN['metrics']['threshold_split']})")
M = RUN["metrics"]
print(pd.DataFrame({lvl: {k: M[lvl][k] for k in ("dev_eer", "test_eer", "test_hter",
                                                  "test_apcer", "test_bpcer", "test_acer")}
                    for lvl in ("frame", "video") if lvl in M}).T.map(
    lambda v: "—" if v is None or v != v else f"{100 * v:.2f} %"))  # no dev split: dev_eer NaN

# %%
hist = pd.DataFrame(RUN["history"])
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
axes[0].plot(hist.epoch, hist.loss, "o-", label="total (Eq. 6)")
axes[0].plot(hist.epoch, hist.fused, "o-", label="fused softmax loss")
axes[0].plot(hist.epoch, hist.aux, "o-", label="auxiliary (sum over scales)")
axes[0].set_xlabel("epoch"); axes[0].set_ylabel("training loss"); axes[0].legend(fontsize=8)
axes[1].plot(hist.epoch, hist.accuracy, "o-")
axes[1].set_xlabel("epoch"); axes[1].set_ylabel("training accuracy (fused)")
axes[1].set_ylim(0, 1.02)
fig.suptitle(f"MS-FANS ({BACKBONE.upper()}, scales {SCALE_NAMES}) on {DATASET}")
fig.tight_layout()
save_fig(fig, "05_training_curves", FIG_DIR)
plt.show()

# %% [markdown]
# The auxiliary loss drops to zero at half of the iterations: from then on (Eq. 6) only the
# fused feature is trained, so the network can re-balance the scales freely.
#
# ## 3. The learned weights
#
# The CNN runs once over the test split; we keep the per-scale features `(N, n, 1024)` and the
# weights `α` the LSTM gives each sample. With `WEIGHT_NORM = "none"` (the paper), `α_i` is
# the raw LSTM output `o_i · tanh(c_i)`: it lies in (-1, 1), may be negative and the weights of
# one sample need not sum to 1 — the linear classifier absorbs sign and scale. Compare the
# weights *between* scales and *between* groups of samples, not against 1/n.

# %%
model, cfg = load_run(RUN_DIR)
FEATS = extract_scale_features((model, cfg), "test", cache=cache)
W = FEATS.weights.numpy()
frames = FEATS.frames.assign(cls=np.where(FEATS.labels == 1, "bona fide", "attack"))
long = pd.concat([frames.assign(scale=name, weight=W[:, j]) for j, name in enumerate(SCALE_NAMES)],
                 ignore_index=True)
long["attack_type"] = np.where(long.label == 1, "bona fide", long.attack_type)
by_class = long.groupby(["cls", "scale"]).weight.agg(["mean", "std"]).unstack("scale")
by_type = long.groupby(["attack_type", "scale"]).weight.mean().unstack("scale")
print("mean (std) learned weight per class:\n", by_class.round(3), "\n")
print("mean learned weight per attack type:\n", by_type.round(3))

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw=dict(width_ratios=[1, 2]))
sns.boxplot(data=long, x="cls", y="weight", hue="scale", ax=axes[0], fliersize=1.5)
axes[0].set_title("learned weight α per class"); axes[0].set_xlabel("")
sns.boxplot(data=long, x="attack_type", y="weight", hue="scale", ax=axes[1], fliersize=1.5)
axes[1].set_title("learned weight α per attack type (test)"); axes[1].set_xlabel("")
axes[1].tick_params(axis="x", rotation=20)
for ax in axes:
    ax.axhline(0, color="0.6", lw=0.8)
fig.tight_layout()
save_fig(fig, "05_learned_weights", FIG_DIR)
plt.show()

# %% [markdown]
# If the boxes of one class sit apart from those of the other, the LSTM is doing more than
# averaging: it changes the mixture **per sample**, and the weights themselves carry evidence
# about the class. If all boxes coincide, MS-FANS behaves like a fixed weighted average — which
# the next section tests directly.
#
# ## 4. Set the weights yourself
#
# Because the features are stored, scoring the test set with other weights is a matrix
# product (`fas_lib.training.scoring.rescore`): milliseconds. In a live Jupyter session the sliders
# below set one weight per scale (shared by all samples) and the score histogram, the ROC and the
# EER follow at once; **Restore learned weights** goes back to the LSTM's per-sample weights.
# Executed non-interactively (papermill, `FAS_NONINTERACTIVE=1`) the cell draws the static
# version: learned, mean-learned and uniform weights.

# %%
t = time.perf_counter()
_ = rescore(model, FEATS, np.ones(len(SCALES)) / len(SCALES))
print(f"re-scoring {len(FEATS.labels)} test frames with new weights: "
      f"{1e3 * (time.perf_counter() - t):.1f} ms")
explorer = ScaleWeightExplorer(lambda w: rescore(model, FEATS, w), FEATS.labels, SCALE_NAMES, W)
view = explorer.show("05_weight_explorer", FIG_DIR)

# %%
# The same comparison as numbers: learned weights, fixed weight vectors, and each scale alone
# (one-hot weights: the fused classifier reading one scale's feature).
n = len(SCALES)
settings = {"learned (per sample)": None, "mean learned": explorer.mean_learned,
            "uniform 1/n": np.full(n, 1.0 / n)}
total = explorer.mean_learned.sum()
for j, name in enumerate(SCALE_NAMES):
    settings[f"only {name}"] = np.eye(n)[j] * total
y = FEATS.labels
EERS = {k: metrics.eer(y, rescore(model, FEATS, w))[0] for k, w in settings.items()}
print(pd.Series(EERS, name="test EER").map(lambda v: f"{100 * v:.2f} %").to_string())

# %% [markdown]
# The one-hot rows put the sum of the mean learned weights, `Σ ᾱ_i`, on one scale, so the
# fused classifier sees a feature of the sign and size it was trained on. Their EERs are **not**
# those of Table II (there each scale has its own CNN trained alone): here one shared CNN and one
# classifier are probed with a single scale's feature.

# %% [markdown]
# ## 5. Try it on your own photo
#
# The run is a model you can point at any picture. `fas_lib.apps.predict.Predictor` (the code behind
# `fas predict photo.jpg --run RUN_DIR` on the command line) detects every face, aligns it and
# cuts the crops at the run's scales with the very function that cut the training crops, scores
# each face and decides at the threshold fixed on the run's **dev** split (it prints where the
# threshold comes from). Boxes are green for bona fide, red for attack; below each photo, the
# crops the CNN saw, with MS-FANS's weight for each scale.
#
# Until you upload a photo, the two public-domain portraits SynthSpoof is made from are scored.
# They are real photographs of people, but the model was trained on 12 synthetic identities
# derived from them: expect scores that say little about your own face, and try a photo of a
# printout or of a phone screen showing a face. **Camera snapshot**: ipywidgets has no camera
# widget, and whether a browser lets a notebook use the webcam depends on the browser and on
# the page being served over https or localhost; take the snapshot with your camera app and
# upload it, or run `fas predict --camera 0 --run RUN_DIR` in a terminal (OpenCV reads the
# webcam directly). Uploaded photos stay in memory and in a temporary folder: nothing is saved.

# %%
import tempfile
from pathlib import Path

import ipywidgets as widgets
from IPython.display import display

from fas_lib.apps.predict import Predictor, portrait_files
from fas_lib.apps.predict_show import face_figure, format_report

PREDICTOR = Predictor.from_run(RUN_DIR, keep_crops=True)


def show_face(source, frame_idx, rgb, faces):          # called for every photo with a face
    face_figure(Path(source).name, rgb, faces, PREDICTOR.scales)
    plt.show()


def score_photos(paths):
    report = PREDICTOR.predict_paths(paths, on_frame=show_face)
    print(format_report(report))
    return report


TRY_IT = score_photos(list(portrait_files().values()))  # the defaults: the two portraits

upload = widgets.FileUpload(accept="image/*", multiple=True, description="Your photo")
uploaded = widgets.Output()


def on_upload(change):
    with uploaded, tempfile.TemporaryDirectory() as tmp:
        uploaded.clear_output()
        paths = []
        for item in change["new"]:                     # ipywidgets 8: name, content, ...
            path = Path(tmp) / Path(item["name"]).name
            path.write_bytes(bytes(item["content"]))
            paths.append(path)
        score_photos(paths)


upload.observe(on_upload, names="value")
display(widgets.VBox([upload, uploaded]))

# %%
save_results(
    dict(
        dataset=DATASET, protocol=PROTOCOL, smoke=SMOKE, backbone=BACKBONE,
        scales=list(SCALES), weight_norm=WEIGHT_NORM, run_dir=str(RUN_DIR),
        config=RUN["config"], metrics=RUN["metrics"], history=RUN["history"],
        timing=RUN["timing"],
        learned_weights=dict(
            mean=dict(zip(SCALE_NAMES, W.mean(0))), std=dict(zip(SCALE_NAMES, W.std(0))),
            per_class={c: dict(zip(SCALE_NAMES, g.mean(0))) for c, g in
                       ((c, W[(frames.cls == c).to_numpy()]) for c in frames.cls.unique())},
            per_attack_type=by_type.to_dict(orient="index"),
        ),
        test_eer_by_weights=EERS,
        try_it={"threshold": PREDICTOR.threshold.value,
                "threshold_source": PREDICTOR.threshold.source,
                "faces": [{"source": Path(f.source).name, "score": f.score,
                           "decision": "bona fide" if f.live else "attack"}
                          for f in TRY_IT.faces]},
        n_test_frames=int(len(y)),
        runtime_s=time.perf_counter() - T0,
    ),
    "05_lstm_fusion", RESULTS_DIR,
)
print(f"notebook runtime: {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# ## Summary
#
# * MS-FANS = one CNN shared by all scales + an LSTM with one hidden unit that outputs a weight
#   per scale and per sample + a linear classifier on the weighted sum of features.
# * Eq. 2-6 and the SGD step fit in about 40 lines of plain tensors (section 1); checking them
#   against `fas_lib` for weights, logits, loss and updates keeps the library honest to them.
# * Eq. 6's auxiliary losses train each scale's feature on its own for the first half of
#   training, then only the fused loss remains.
# * The paper's weights are raw LSTM outputs: signed, unnormalised; read them relative to each
#   other and across classes.
# * Storing the features turns "what if the weights were different?" into an instant
#   experiment; the saved figure compares learned, mean and uniform weights.
# * A trained run scores any photo (`fas_lib.apps.predict.Predictor`, `fas predict`) with the
#   training data's own preprocessing; `fas export` writes it as one ONNX file.

# %% [markdown]
# ## Exercises
#
# 1. Re-run with `WEIGHT_NORM = "softmax"` (weights positive, summing to 1). Does the EER
#    change? Do the weights of the two classes separate more or less?
# 2. With the sliders, find fixed weights that beat the learned per-sample weights on the test
#    set. Why is that a biased comparison? What would a fair one use (hint: `dev`)?
# 3. Reverse the order of the scales (`SCALES = (1.3, 1.2, 1.1)`). An LSTM reads in order —
#    do the learned weights follow the scales or the positions?
# 4. Set `aux_weight=0` in the `ExperimentConfig` (no auxiliary losses). What happens to the
#    training curves and to the weights? Relate it to the caution in `MSFANSFusion`'s docstring.
# 5. In section 1, feed the hand-written `lstm_weights` the features of one sample with the
#    scales in reverse order. Are the weights reversed too? Then replace `alpha_i = h_i` by a
#    softmax over the scales and check your change against
#    `MultiScaleNet(..., weight_norm="softmax")`. Which line of `forward` had to change?
# 6. In section 5, upload a photo of a face and photos of the same face printed and shown on
#    a phone. Which scale gets the largest weight for each? Does the decision follow? Then
#    export the run (`fas export --run RUN_DIR --onnx model.onnx`) and score the same crops
#    with ONNX Runtime (`fas_lib.apps.export.onnx_scores`): how far apart are the two scores?
