"""MS-FANS (Luo, Kan, Shan and Chen, ICPR 2018): the CNN_S / CNN_D backbones of Table I
(:mod:`~fas_lib.models.msfans.cnn`), the Average / Concat / LSTM fusion heads and the loss of
Eq. 6 (:mod:`~fas_lib.models.msfans.fusion`), one CNN shared over the scales
(:mod:`~fas_lib.models.msfans.multiscale`) and MS-FANS over time
(:mod:`~fas_lib.models.msfans.temporal`).
"""
