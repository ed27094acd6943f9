"""Replay attacks synthesized from the live videos of any dataset (STASN's "so does data",
notebook 09): the synthesizer (:mod:`~fas_lib.replay.synthesis`) with its own display
(:mod:`~fas_lib.replay.panel`), device (:mod:`~fas_lib.replay.device`) and recapture camera
(:mod:`~fas_lib.replay.camera`), none of them SynthSpoof's.
"""
