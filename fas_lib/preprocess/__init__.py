"""From a frame to the crops of MS-FANS: the pure geometry of the alignment (templates,
similarity fit, crop matrices; :mod:`~fas_lib.preprocess.geometry`), dlib's detector and
landmarks with the multi-scale crops of one frame (:mod:`~fas_lib.preprocess.align`) and the
parallel alignment of many files with counted skips (:mod:`~fas_lib.preprocess.batch`),
and the opt-in training augmentation of crops, one draw for every scale of a sample
(:mod:`~fas_lib.preprocess.augment`).
"""
