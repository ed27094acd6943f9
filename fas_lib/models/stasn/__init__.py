"""STASN (Yang et al., CVPR 2019): the network with its temporal (TASM), region (RAM) and
spatial (SASM) modules (:mod:`~fas_lib.models.stasn.model`), region attention and the
spatial transformer's crop (:mod:`~fas_lib.models.stasn.regions`) and the frame CNNs it
stands on (:mod:`~fas_lib.models.stasn.encoders`).
"""
