"""What a dataset is before any face is aligned: the protocol table with one row per sample
(:mod:`~fas_lib.data.protocol`), decoding images and videos as RGB with one clear error per
kind of bad file (:mod:`~fas_lib.data.io`), the adapters of the real benchmarks
(:mod:`~fas_lib.data.datasets`: CASIA-FASD, Replay-Attack, OULU-NPU, NUAA, CASIA-SURF, CSV)
and the shift protocols built from a table's capture factors (:mod:`~fas_lib.data.shift`).
The embedded synthetic dataset is its own package, :mod:`fas_lib.synthspoof`.
"""
