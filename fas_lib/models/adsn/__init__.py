"""ADSN (Deng et al., TIFS 2023): surface normals, two ResNet-18 streams and global and local
attention fusion (:mod:`~fas_lib.models.adsn.model`) and its losses: BCE, center, cosine,
the parts' overlap and part centers (:mod:`~fas_lib.models.adsn.losses`).
"""
