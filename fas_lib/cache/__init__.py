"""The crop cache: aligned multi-scale crops of sampled frames, cut once and read fast. Its
reader (:mod:`~fas_lib.cache.reader`), the build in steps (:mod:`~fas_lib.cache.plan`,
:mod:`~fas_lib.cache.shards`, :mod:`~fas_lib.cache.consolidate`, :mod:`~fas_lib.cache.build`),
the depth and NIR crops (:mod:`~fas_lib.cache.modalities`), a cache seen under a shift protocol
(:mod:`~fas_lib.cache.views`), batches of frames (:mod:`~fas_lib.cache.loader`) and of clips
(:mod:`~fas_lib.cache.clips`), and the one call that makes the data a notebook asks for
(:mod:`~fas_lib.cache.prepare`).
"""
