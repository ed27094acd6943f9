"""The networks of MS-FANS (Luo et al., ICPR 2018); see :mod:`fas_lib.models.cnn`."""

from fas_lib.models.cnn import *  # noqa: F403
from fas_lib.models.cnn import __all__ as _cnn_all
from fas_lib.models.fusion import *  # noqa: F403

__all__ = list(_cnn_all)
