"""One engine for the four methods. :mod:`~fas_lib.training.engine` is the one seeded,
resumable epoch loop (dev selection, warm starts, mixed precision, DDP through
:mod:`~fas_lib.training.devices`); a method plugs in what differs: MS-FANS on frames
(:mod:`~fas_lib.training.frames`, configured by :mod:`~fas_lib.training.config`), STASN and
MS-FANS over time on clips (:mod:`~fas_lib.training.clips`, :mod:`~fas_lib.training.clip_inputs`),
MM-FAS and ADSN on several sensors (:mod:`~fas_lib.training.multimodal`,
:mod:`~fas_lib.training.mm_config`, :mod:`~fas_lib.training.mm_recipe`). Run folders and checkpoints
are :mod:`~fas_lib.training.runs`, a model's scores :mod:`~fas_lib.training.scoring`, and the STASN
/ MM-FAS / ADSN experiment files :mod:`~fas_lib.training.methods`.
"""
