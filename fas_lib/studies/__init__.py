"""The experiments of the notebooks, one module per study: the paper's Tables II, III and V
(:mod:`~fas_lib.studies.tables`, :mod:`~fas_lib.studies.reproduce`) and how far their
differences are luck (:mod:`~fas_lib.studies.significance`); alignment quality
(:mod:`~fas_lib.studies.alignment`); SynthSpoof's realism (:mod:`~fas_lib.studies.realism`,
:mod:`~fas_lib.studies.cues`, :mod:`~fas_lib.studies.literature`,
:mod:`~fas_lib.studies.face_context`); shifts and transfer (:mod:`~fas_lib.studies.generalise`,
:mod:`~fas_lib.studies.recipes`, :mod:`~fas_lib.studies.transfer`); the multi-modal study
(:mod:`~fas_lib.studies.multimodal`) and the video study (:mod:`~fas_lib.studies.video`,
:mod:`~fas_lib.studies.video_attention`).
"""
