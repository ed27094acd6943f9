"""MM-FAS (Parkin and Grinchuk, CVPRW 2019): per-modality trunks and the aggregation path
(:mod:`~fas_lib.models.mmfas.model`) and the residual stages and modality inputs that ADSN
shares (:mod:`~fas_lib.models.mmfas.blocks`).
"""
