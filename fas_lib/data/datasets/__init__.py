"""Dataset adapters: every face anti-spoofing dataset as one protocol table.

>>> from fas_lib.data.datasets import load_protocol
>>> result = load_protocol("replay_attack", "/data/replayattack", "print")  # doctest: +SKIP
>>> result.table.groupby(["split", "attack_type"]).size()  # doctest: +SKIP
>>> result.skips  # Counter of files left out, by reason  # doctest: +SKIP

Each adapter reads a dataset in its *original* layout (see ``DATASETS.md``) and returns the
table of :mod:`fas_lib.data.protocol`: paths relative to the root, subject ids as strings, attack
types named as the dataset names them. Nothing is decoded here. A wrong root raises one
:class:`DatasetLayoutError` that describes the expected layout; an unknown protocol or fold
raises :class:`~fas_lib.data.protocol.ProtocolError`.

=============  =============================================================  =====================
dataset        protocols (default first)                                      module
=============  =============================================================  =====================
casia_fasd     standard_nodev, standard, grandtest                            :mod:`.casia_fasd`
replay_attack  grandtest, print, mobile, highdef, photo, video, digitalphoto  :mod:`.replay_attack`
oulu_npu       1, 2, 3 (fold 1-6), 4 (fold 1-6)                               :mod:`.oulu_npu`
nuaa           standard, standard_nodev                                       :mod:`.nuaa`
casia_surf     challenge                                                      :mod:`.casia_surf`
synthspoof     standard (``<root>/protocol.csv``); p1-p4, loao (folds 1-5)    :mod:`.generic_csv`
csv            the CSV file name (``root`` may be the CSV itself)             :mod:`.generic_csv`
=============  =============================================================  =====================

SynthSpoof's shift protocols are those of :mod:`fas_lib.data.shift`.
"""

from __future__ import annotations

from pathlib import Path

from fas_lib.data.datasets.base import (
    DatasetAdapter,
    DatasetLayoutError,
    ProtocolResult,
    read_face_locations,
    read_list_file,
)
from fas_lib.data.datasets.casia_fasd import CasiaFasd
from fas_lib.data.datasets.casia_surf import CasiaSurf
from fas_lib.data.datasets.generic_csv import GenericCsv, SynthSpoof
from fas_lib.data.datasets.nuaa import Nuaa
from fas_lib.data.datasets.oulu_npu import OuluNpu, parse_oulu_name
from fas_lib.data.datasets.replay_attack import ReplayAttack, parse_replay_name
from fas_lib.data.protocol import SkipLog

__all__ = [
    "ADAPTERS",
    "DATASETS",
    "DatasetAdapter",
    "DatasetLayoutError",
    "ProtocolResult",
    "SkipLog",
    "get_adapter",
    "load_protocol",
    "parse_oulu_name",
    "parse_replay_name",
    "protocols",
    "read_face_locations",
    "read_list_file",
]

#: registry name -> adapter class
ADAPTERS: dict[str, type[DatasetAdapter]] = {
    cls.name: cls
    for cls in (CasiaFasd, ReplayAttack, OuluNpu, Nuaa, CasiaSurf, SynthSpoof, GenericCsv)
}

#: the dataset names :func:`load_protocol` accepts
DATASETS: tuple[str, ...] = tuple(ADAPTERS)

_ALIASES: dict[str, str] = {"replay": "replay_attack", "oulu": "oulu_npu", "synth": "synthspoof"}


def _canonical(dataset: str) -> str:
    """Registry name of ``dataset`` (case, ``-`` and spaces are forgiven)."""
    key = str(dataset).strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in ADAPTERS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    return key


def get_adapter(dataset: str, root: str | Path) -> DatasetAdapter:
    """The adapter of ``dataset`` for the copy at ``root`` (nothing is read yet).

    Args:
        dataset: one of :data:`DATASETS`.
        root: the dataset's root folder (for ``csv``: the CSV file or its folder).

    Raises:
        ValueError: unknown dataset name.
    """
    return ADAPTERS[_canonical(dataset)](root)


def protocols(dataset: str) -> tuple[str, ...]:
    """The protocol names a dataset accepts (empty for ``csv``: any CSV file name)."""
    return ADAPTERS[_canonical(dataset)].protocols


def load_protocol(
    dataset: str, root: str | Path, protocol: str | None = None, fold: int | None = None
) -> ProtocolResult:
    """Build a dataset's protocol table.

    Args:
        dataset: one of :data:`DATASETS`.
        root: the dataset's root folder.
        protocol: protocol name; ``None`` picks the dataset's default.
        fold: fold number, for protocols with folds (OULU-NPU 3 and 4: 1-6).

    Returns:
        The table (``.table``), the skip report (``.skips``, ``.skipped``) and the adapter.

    Raises:
        ValueError: unknown dataset name.
        DatasetLayoutError: ``root`` does not hold the dataset's expected layout.
        fas_lib.data.protocol.ProtocolError: unknown protocol, invalid fold, or malformed CSV.
    """
    return get_adapter(dataset, root).load(protocol, fold)
