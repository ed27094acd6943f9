"""The classic baseline beside the CNNs: colour-texture LBP with a linear SVM (Boulkenafet
et al.; :mod:`~fas_lib.baselines.lbp`) and one such run on a crop cache
(:mod:`~fas_lib.baselines.lbp_runs`).
"""
