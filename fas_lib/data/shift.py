"""Shift protocols: OULU-NPU's protocols on any table with capture factors.

A model that learns the capture conditions instead of the attack looks perfect when train and
test share them. OULU-NPU (Boulkenafet et al., FG 2017) tests the shift with four protocols;
this module builds them from the ``session`` / ``camera`` / ``instrument`` columns of a protocol
table (:mod:`fas_lib.data.protocol`), for SynthSpoof or any dataset that records them, plus
leave-one-attack-type-out:

==========  ============================================================================
protocol    what train / dev / test hold (each split keeps its own subjects)
==========  ============================================================================
standard    everything (the table as it is)
p1          unseen environment: train session 1, dev session 2, test session 3
p2          unseen instruments: train printer and display 1, dev 2, test 3 (all lives)
p3          unseen camera, fold k of n: test camera k, dev camera k+1, train the others
p4          all three at once: p1's sessions, p2's instruments, and test camera k (fold k),
            train and dev on the other cameras
loao        unseen attack type, fold A: test attack A, dev the next attack type, train the
            others (all lives)
==========  ============================================================================

**The dev split always shares the test's kind of shift**: it holds a session, camera,
instrument or attack type that training never sees, and a level other than the test's, so
that choosing an epoch or a threshold on it measures how a model copes with *a* shift without
peeking at the test's. (OULU-NPU's own dev split shares the training's sessions, phones and
instruments; P1 here keeps "train and dev on sessions 1-2, test on session 3", with dev on the
session training does not see. This is the course's choice, documented in notebook 07.)
Levels are taken in sorted order: ``s1 < s2 < s3``; instruments per family (``print*`` attacks,
the opt-in ``print_nir`` included: printers; ``replay*``: displays; any other attack type, such
as SynthSpoof's opt-in ``mask``, is a family of its own: its masks ``m1 < m2 < m3``).

:class:`fas_lib.cache.views.ProtocolView` presents a crop cache of the ``standard`` protocol
under another protocol without cutting a single crop again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fas_lib.data.protocol import SPLITS, ProtocolError

#: The shift protocols (``standard`` first).
PROTOCOLS: tuple[str, ...] = ("standard", "p1", "p2", "p3", "p4", "loao")
#: Protocols with folds.
FOLDED: tuple[str, ...] = ("p3", "p4", "loao")
_ROLE = {"train": 0, "dev": 1, "test": 2}


def _levels(table: pd.DataFrame, column: str, mask: pd.Series | None = None) -> list[str]:
    values = table.loc[mask if mask is not None else slice(None), column]
    return sorted(v for v in values.unique() if v != "")


def _need(levels: list[str], k: int, what: str, protocol: str) -> None:
    if len(levels) < k:
        raise ProtocolError(
            f"protocol {protocol!r} needs at least {k} {what}, the table has {levels or 'none'}"
            " (SynthSpoof records them, unless its config fixes that factor at one level:"
            " SynthConfig.fixed_factors; a real dataset needs the session / camera / instrument"
            " columns)")


def _family(attack_type: pd.Series) -> pd.Series:
    """``print`` for ``print*``, ``replay`` for ``replay*``, else the attack type (``mask``)."""
    return pd.Series(np.where(attack_type.str.startswith("print"), "print",
                              np.where(attack_type.str.startswith("replay"), "replay",
                                       attack_type)), index=attack_type.index)


def folds(table: pd.DataFrame, protocol: str) -> list[str]:
    """The fold names of a protocol on ``table``: cameras (p3, p4), attack types (loao), or
    ``[]``. Fold ``k`` (1-based) of :func:`apply_protocol` is the ``k``-th of them."""
    if protocol in ("p3", "p4"):
        return _levels(table, "camera")
    if protocol == "loao":
        return sorted(a for a in table["attack_type"].unique() if a != "live")
    return []


def fold_name(table: pd.DataFrame, protocol: str, fold: int | str | None) -> str | None:
    """The fold's level name (``"c2"``, ``"print_cut"``) for a 1-based number or a name."""
    names = folds(table, protocol)
    if not names:
        if fold is not None:
            raise ProtocolError(f"protocol {protocol!r} has no folds; got fold={fold!r}")
        return None
    if isinstance(fold, str) and fold in names:
        return fold
    try:
        k = int(fold)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        k = 0
    if not 1 <= k <= len(names):
        raise ProtocolError(f"protocol {protocol!r} needs fold= 1..{len(names)} or one of "
                            f"{names}; got {fold!r}")
    return names[k - 1]


def _keep_session(t: pd.DataFrame, role: int, protocol: str) -> pd.Series:
    levels = _levels(t, "session")
    _need(levels, 3, "sessions", protocol)
    return t["session"] == levels[role]


def _keep_instrument(t: pd.DataFrame, role: int, protocol: str) -> pd.Series:
    fam = _family(t["attack_type"])
    keep = t["label"] == 1
    for f in sorted(set(fam[t["label"] == 0])):
        mask = (fam == f) & (t["label"] == 0)
        if not mask.any():
            continue
        levels = _levels(t, "instrument", mask)
        _need(levels, 3, f"{f} instruments", protocol)
        keep |= mask & (t["instrument"] == levels[role])
    return keep


def _keep_camera(t: pd.DataFrame, role: int, protocol: str, fold: str) -> pd.Series:
    """p3: test camera ``fold``, dev the next one, train the others. p4: test camera ``fold``,
    train and dev every other camera (dev already holds out a session and an instrument; one
    camera of five on top of that would leave it a handful of videos)."""
    cams = _levels(t, "camera")
    _need(cams, 3, "cameras", protocol)
    k = cams.index(fold)
    test, dev = cams[k], cams[(k + 1) % len(cams)]
    if role == 2:
        return t["camera"] == test
    if protocol == "p4":
        return t["camera"] != test
    if role == 1:
        return t["camera"] == dev
    return ~t["camera"].isin([test, dev])


def _keep_attack(t: pd.DataFrame, role: int, fold: str) -> pd.Series:
    attacks = folds(t, "loao")
    k = attacks.index(fold)
    test, dev = attacks[k], attacks[(k + 1) % len(attacks)]
    live = t["label"] == 1
    if role == 2:
        return live | (t["attack_type"] == test)
    if role == 1:
        return live | (t["attack_type"] == dev)
    return live | ~t["attack_type"].isin([test, dev])


def select(table: pd.DataFrame, protocol: str, fold: int | str | None = None) -> pd.Series:
    """Boolean mask of the rows of ``table`` that ``protocol`` (fold ``fold``) keeps; each row
    keeps its split (subject-disjoint).

    Raises:
        ProtocolError: unknown protocol, bad fold, too few levels of a factor, or a split left
            without bona fide or attack rows.
    """
    protocol = str(protocol).lower()
    if protocol not in PROTOCOLS:
        raise ProtocolError(f"unknown shift protocol {protocol!r}; expected one of {PROTOCOLS}")
    name = fold_name(table, protocol, fold)
    keep = pd.Series(False, index=table.index)
    for split, role in _ROLE.items():
        t = table[table["split"] == split]
        if t.empty:
            continue
        k = pd.Series(True, index=t.index)
        if protocol in ("p1", "p4"):
            k &= _keep_session(table, role, protocol).loc[t.index]
        if protocol in ("p2", "p4"):
            k &= _keep_instrument(table, role, protocol).loc[t.index]
        if protocol in ("p3", "p4"):
            k &= _keep_camera(table, role, protocol, str(name)).loc[t.index]
        if protocol == "loao":
            k &= _keep_attack(table, role, str(name)).loc[t.index]
        keep.loc[t.index] = k
    _check_classes(table[keep], protocol, name)
    return keep


def _check_classes(t: pd.DataFrame, protocol: str, fold: str | None) -> None:
    where = f"protocol {protocol!r}" + (f" fold {fold!r}" if fold else "")
    for split in SPLITS:
        labels = set(t.loc[t["split"] == split, "label"])
        if split in set(t["split"]) and labels != {0, 1}:
            what = "bona fide" if 1 not in labels else "attack"
            raise ProtocolError(f"{where} leaves the {split} split without {what} samples; "
                                "the data have too few videos per factor level")


def apply_protocol(table: pd.DataFrame, protocol: str,
                   fold: int | str | None = None) -> pd.DataFrame:
    """The rows of ``table`` that ``protocol`` keeps (see :func:`select`), index reset."""
    return table[select(table, protocol, fold)].reset_index(drop=True)


def counts(table: pd.DataFrame, protocol: str, fold: int | str | None = None,
           by: str = "label") -> pd.DataFrame:
    """Rows per split (rows) and ``by`` (columns) under a protocol, with a total column."""
    t = apply_protocol(table, protocol, fold)
    c = pd.crosstab(t["split"], t[by]).reindex([s for s in SPLITS if s in set(t["split"])])
    c["total"] = c.sum(axis=1)
    return c
