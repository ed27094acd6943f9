"""dlib's binary model files (``serialize`` / ``deserialize``) read without dlib, for
:mod:`fas_lib.models.pretrained.face_recognition`.

dlib writes a network as nested ``add_layer`` objects: the loss layer first (version, its
details), then every layer's version from the top down (1: tag / skip, 2: computational,
3: the layer on the input), the input layer, and then each computational layer's details from
the input side up, each followed by the state ``add_layer`` saves (three flags, three empty
scratch tensors; the layer on the input also its sample-expansion factor). Primitives:
integers are a control byte (low 4 bits: byte count, bit 7: sign) then little-endian bytes;
floats an integer mantissa and exponent of 2; strings a length then bytes; bools ``'0'`` /
``'1'``; tensors a version, ``(n, k, nr, nc)`` and little-endian float32 (version 2).

:func:`read_dlib_net` reads the ``loss_metric`` ResNet of ``dlib_face_recognition_resnet_model_v1``
into :class:`DlibNetFile` (the layers' kinds, integers and flat parameters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class DlibModelError(ValueError):
    """The file is not a readable copy of dlib's face-recognition network."""


class DlibReader:
    """Reads dlib's ``serialize`` primitives from bytes, raising :class:`DlibModelError`."""

    def __init__(self, data: bytes, source: str = "<bytes>") -> None:
        self.data, self.pos, self.source = data, 0, source

    def fail(self, what: str) -> DlibModelError:
        return DlibModelError(f"{self.source}: {what} (at byte {self.pos} of {len(self.data)}); "
                              "the file is corrupt or not dlib's face-recognition network")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"needs {n} more bytes but the file ends")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def integer(self) -> int:
        """dlib's integer: a control byte (low 4 bits: byte count, bit 7: sign), little-endian."""
        control = self.take(1)[0]
        n = control & 0x0F
        if n > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte {control:#04x}")
        value = int.from_bytes(self.take(n), "little")
        return -value if control & 0x80 else value

    def real(self) -> float:
        """dlib's portable float: integer mantissa, integer exponent of 2."""
        mantissa, exponent = self.integer(), self.integer()
        if abs(exponent) > 2000:
            raise self.fail(f"unsupported float exponent {exponent}")
        return math.ldexp(mantissa, exponent)

    def string(self) -> str:
        n = self.integer()
        if not 0 <= n <= 256:
            raise self.fail(f"implausible string length {n}")
        return self.take(n).decode("latin-1")

    def flag(self) -> bool:
        byte = self.take(1)
        if byte not in (b"0", b"1"):
            raise self.fail(f"bad bool {byte!r}")
        return byte == b"1"

    def shape(self) -> tuple[int, int, int, int]:
        dims = tuple(self.integer() for _ in range(4))
        if any(d < 0 for d in dims):
            raise self.fail(f"negative tensor size {dims}")
        return dims  # type: ignore[return-value]

    def tensor(self) -> np.ndarray:
        """A tensor: version, (n, k, nr, nc), then float32 (version 2) or portable floats (1)."""
        version, dims = self.integer(), self.shape()
        count = math.prod(dims)
        if version == 2:
            return np.frombuffer(self.take(4 * count), dtype="<f4").astype(np.float32)
        if version == 1:
            return np.array([self.real() for _ in range(count)], dtype=np.float32)
        raise self.fail(f"unknown tensor version {version}")

    def alias_tensor(self) -> tuple[int, int, int, int]:
        if self.integer() != 1:
            raise self.fail("unknown alias_tensor version")
        return self.shape()

    def at_end(self) -> bool:
        return self.pos == len(self.data)


@dataclass
class DlibLayer:
    """One computational layer as stored: ``kind`` is dlib's tag without version (``con``,
    ``affine``, ``relu``, ``max_pool``, ``avg_pool``, ``add_prev``, ``fc``), ``params`` its flat
    parameters (or ``None``), ``config`` its integers (filters, window, stride, padding...)."""

    kind: str
    params: np.ndarray | None = None
    config: dict[str, int] = field(default_factory=dict)


@dataclass
class DlibNetFile:
    """What :func:`read_dlib_net` finds in the file; ``layers`` run from the input side."""

    loss: str
    margin: float
    distance_threshold: float
    input_mean: tuple[float, float, float]
    input_size: tuple[int, int]
    layers: list[DlibLayer]


_POOL_KEYS = ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
_CON_KEYS = ("filters", "nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")


def _skip(r: DlibReader, aliases: int = 0, reals: int = 0) -> None:
    """Read past fields the PyTorch network does not need."""
    for _ in range(aliases):
        r.alias_tensor()
    for _ in range(reals):
        r.real()


def _read_con(r: DlibReader, tag: str) -> DlibLayer:
    if tag != "con_4":
        raise r.fail(f"unsupported convolution version {tag!r}")
    params = r.tensor()
    config = dict(zip(_CON_KEYS, (r.integer() for _ in _CON_KEYS)))
    _skip(r, aliases=2, reals=4)  # filter / bias views; learning-rate and decay multipliers
    return DlibLayer("con", params, config)


def _read_affine(r: DlibReader, tag: str) -> DlibLayer:
    if tag != "affine_":
        raise r.fail(f"unsupported affine layer {tag!r} (a batch norm that is not frozen?)")
    params = r.tensor()
    _skip(r, aliases=2)  # gamma and beta views of params
    return DlibLayer("affine", params, {"mode": r.integer()})


def _read_pool(r: DlibReader, tag: str) -> DlibLayer:
    config = dict(zip(_POOL_KEYS, (r.integer() for _ in _POOL_KEYS)))
    return DlibLayer(tag.rsplit("_", 1)[0], None, config)


def _read_fc(r: DlibReader, tag: str) -> DlibLayer:
    if tag != "fc_2":
        raise r.fail(f"unsupported fc version {tag!r}")
    outputs, inputs = r.integer(), r.integer()
    params = r.tensor()
    _skip(r, aliases=2)  # weight and bias views
    config = {"outputs": outputs, "inputs": inputs, "bias_mode": r.integer()}
    _skip(r, reals=4)  # learning-rate and weight-decay multipliers
    return DlibLayer("fc", params, config)


_DETAIL_READERS = {
    "con_4": _read_con, "affine_": _read_affine, "max_pool_2": _read_pool,
    "avg_pool_2": _read_pool, "fc_2": _read_fc,
    "relu_": lambda r, tag: DlibLayer("relu"), "add_prev_": lambda r, tag: DlibLayer("add_prev"),
}


def _read_layer(r: DlibReader) -> DlibLayer:
    """One layer's details, then the state dlib's ``add_layer`` saves with it (three flags and
    three scratch tensors, empty in a saved model)."""
    tag = r.string()
    reader = _DETAIL_READERS.get(tag)
    if reader is None:
        raise r.fail(f"unexpected layer {tag!r}")
    layer = reader(r, tag)
    for _ in range(3):
        r.flag()
    for _ in range(3):
        r.tensor()
    return layer


def _read_header(r: DlibReader) -> tuple[str, float, float, int]:
    """Loss layer, then the pre-order versions of the layers (1: tag / skip, 2: computational,
    3: the one on the input); returns the loss, its two floats and the computational count."""
    if r.integer() != 1:
        raise r.fail("unknown loss-layer version")
    loss = r.string()
    if not loss.startswith("loss_metric"):
        raise r.fail(f"expected dlib's metric loss, found {loss!r}")
    margin, threshold = r.real(), r.real()
    versions = []
    while (version := r.integer()) != 3:
        if version not in (1, 2) or len(versions) > 10_000:
            raise r.fail(f"unexpected layer version {version}")
        versions.append(version)
    return loss, margin, threshold, versions.count(2) + 1


def read_dlib_net(path: str | Path) -> DlibNetFile:
    """Parse dlib's serialised ``loss_metric`` ResNet (``dlib_face_recognition_resnet_model_v1``).

    Raises:
        ModelFilesNotFound: (a ``FileNotFoundError``) when ``path`` does not exist.
        DlibModelError: when the bytes are not that network (truncated, another model...).
    """
    from fas_lib.preprocess.align import ModelFilesNotFound

    path = Path(path)
    if not path.is_file():
        raise ModelFilesNotFound(f"dlib face-recognition model not found: {path}")
    r = DlibReader(path.read_bytes(), str(path))
    loss, margin, threshold, n_layers = _read_header(r)
    if r.string() != "input_rgb_image_sized":
        raise r.fail("expected the input layer input_rgb_image_sized")
    mean = (r.real(), r.real(), r.real())
    size = (r.integer(), r.integer())
    layers = [_read_layer(r)]
    r.integer()  # sample expansion factor, stored after the layer on the input
    while not r.at_end() and len(layers) < n_layers:
        layers.append(_read_layer(r))
    if len(layers) != n_layers or not r.at_end():
        raise r.fail(f"read {len(layers)} of {n_layers} layers")
    return DlibNetFile(loss, margin, threshold, mean, size, layers)
