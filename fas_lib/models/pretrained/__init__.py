"""Pre-trained networks read without downloading anything: dlib's face-recognition ResNet in
PyTorch (:mod:`~fas_lib.models.pretrained.face_recognition`) from dlib's binary ``.dat``
files (:mod:`~fas_lib.models.pretrained.dlib_dat`), which the ``face-recognition-models``
package ships.
"""
