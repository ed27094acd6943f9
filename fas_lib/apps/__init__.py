"""What a user runs outside the notebooks: the ``fas`` command (:mod:`~fas_lib.apps.cli`),
scoring one's own photos, videos and camera (:mod:`~fas_lib.apps.predict`,
:mod:`~fas_lib.apps.predict_show`) and ONNX export (:mod:`~fas_lib.apps.export`).
"""
