"""Measuring scores: the ISO/IEC 30107-3 metrics and their bootstrap intervals
(:mod:`~fas_lib.evaluation.metrics`), the scores table every method writes and how it is
measured (:mod:`~fas_lib.evaluation.scores`), the multi-modal study's metrics
(:mod:`~fas_lib.evaluation.mm_metrics`) and the published numbers of MS-FANS as data
(:mod:`~fas_lib.evaluation.paper`). It depends on no model and no cache.
"""
