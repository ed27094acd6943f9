"""fas_lib: the reusable code of the face anti-spoofing course (MS-FANS and companions).

Importing the package does no work: no seeding, no model loading, no file access.
"""

__version__ = "0.1.0"

#: The seven crop scales of MS-FANS (Luo et al., ICPR 2018, Sec. IV-A).
SCALES: tuple[float, ...] = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)

#: Side of every stored crop in pixels (paper: 128 x 128).
CROP_SIZE: int = 128

#: Label convention used everywhere in the project: 1 = bona fide (live), 0 = attack.
#: Scores follow it: a higher score means *more likely bona fide*.
LIVE: int = 1
ATTACK: int = 0

#: The stages of the package, its subpackages, lowest first: a module imports its own stage and
#: those before it, never a later one (``tests/test_layout.py`` checks it on the source).
STAGES: tuple[str, ...] = (
    "core",        # seeds, folders, results files, the process pool
    "evaluation",  # metrics and the scores table: no model, no cache
    "data",        # protocol table, media decoding, dataset adapters, shift protocols
    "preprocess",  # alignment geometry, dlib, multi-scale crops
    "synthspoof",  # the embedded synthetic dataset (aligns its source portraits)
    "replay",      # replay attacks synthesized from any dataset's live videos
    "cache",       # the crop cache: build, read, views, frame and clip batches
    "models",      # the networks, one folder per paper
    "training",    # the one engine and what each method plugs into it
    "baselines",   # LBP + SVM
    "studies",     # the notebooks' experiments
    "viz",         # figures and widgets
    "apps",        # the fas command, predict, export
)
