"""The published numbers of MS-FANS (Luo, Kan, Shan and Chen, ICPR 2018), as data.

Every table that shows them puts them in rows or columns labelled as the paper's, beside the
numbers measured on the data at hand: notebook 03 (Table II), notebook 06 (Tables III-V) and
``fas reproduce`` (:mod:`fas_lib.studies.reproduce`). The paper measured Tables II-IV on CASIA-FASD
and Table V on REPLAY-ATTACK; all values are percentages.
"""

from __future__ import annotations

from typing import NamedTuple

#: Table II: CNN_S trained and tested at one crop scale, CASIA-FASD, test EER (%).
TABLE_II_EER: dict[float, float] = {
    0.9: 5.93, 1.0: 6.09, 1.1: 5.26, 1.2: 4.67, 1.3: 4.84, 1.4: 4.74, 1.5: 5.55,
}

#: Table III's scale groups, in the order of its columns.
TABLE_III_GROUPS: tuple[tuple[float, ...], ...] = (
    (0.9, 1.0, 1.1), (1.0, 1.1, 1.2), (1.1, 1.2, 1.3), (1.2, 1.3, 1.4), (1.3, 1.4, 1.5),
)

#: Table III: fusion (row) -> CASIA-FASD test EER (%) per group of :data:`TABLE_III_GROUPS`.
TABLE_III_EER: dict[str, list[float]] = {
    "best_single": [5.26, 4.67, 4.67, 4.67, 4.74],
    "average": [4.60, 3.79, 3.74, 3.44, 4.16],
    "concat": [4.81, 3.95, 3.57, 3.68, 3.65],
    "msfans": [4.18, 3.89, 3.15, 3.30, 3.29],
}


class PaperRow(NamedTuple):
    """One row of Table IV or V as published.

    Attributes:
        method: the method as the paper names it (``†``: a deep method).
        ours: the counterpart this repository runs: ``"lbp"`` (colour-texture LBP + SVM),
            ``"cnn_s"`` / ``"cnn_d"`` (MS-FANS with that backbone), or ``None``.
        eer: EER (%).
        hter: HTER (%), ``None`` where the paper gives none.
        flops: the FLOPs column as printed.
    """

    method: str
    ours: str | None
    eer: float
    hter: float | None
    flops: str


#: Table IV (CASIA-FASD): the published methods and MS-FANS on [1.1, 1.2, 1.3].
TABLE_IV_ROWS: tuple[PaperRow, ...] = (
    PaperRow("†Fine-tuned VGG-Face [10]", None, 5.20, None, "30.919G"),
    PaperRow("†DPCNN [10]", None, 4.50, None, "30.919G"),
    PaperRow("†Yang et al. [9]", None, 4.92, None, "0.349G"),
    PaperRow("†LSTM-CNN [12]", None, 5.17, None, "3.045G"),
    PaperRow("Boulkenafet et al. [6]", "lbp", 6.20, None, "-"),
    PaperRow("Siddiqui et al. [14]", None, 3.14, None, "-"),
    PaperRow("Boulkenafet et al. [16]", None, 2.8, None, "-"),
    PaperRow("†Atoum et al. [11]", None, 2.67, None, "42.045G"),
    PaperRow("[1.1, 1.2, 1.3] CNN_S (Ours)", "cnn_s", 3.15, None, "0.075G"),
    PaperRow("[1.1, 1.2, 1.3] CNN_D (Ours)", "cnn_d", 2.40, None, "0.768G"),
)

#: Table V (REPLAY-ATTACK): the published methods and MS-FANS on [1.3, 1.4, 1.5].
TABLE_V_ROWS: tuple[PaperRow, ...] = (
    PaperRow("†Fine-tuned VGG-Face [10]", None, 8.40, 4.30, "30.919G"),
    PaperRow("†DPCNN [10]", None, 2.90, 6.10, "30.919G"),
    PaperRow("†Yang et al. [9]", None, 2.14, None, "0.349G"),
    PaperRow("Boulkenafet et al. [6]", "lbp", 0.40, 2.90, "-"),
    PaperRow("Boulkenafet et al. [16]", None, 0.10, 2.20, "-"),
    PaperRow("†Atoum et al. [11]", None, 0.79, 0.72, "41.825G"),
    PaperRow("[1.3, 1.4, 1.5] CNN_S (Ours)", "cnn_s", 0.002, 0.24, "0.075G"),
    PaperRow("[1.3, 1.4, 1.5] CNN_D (Ours)", "cnn_d", 0.02, 0.39, "0.768G"),
)

#: Table -> (the dataset the paper measured it on, its rows), for Tables IV and V.
COMPARISON_TABLES: dict[str, tuple[str, tuple[PaperRow, ...]]] = {
    "IV": ("CASIA-FASD", TABLE_IV_ROWS),
    "V": ("REPLAY-ATTACK", TABLE_V_ROWS),
}


def table_iii_eer(fusion: str, group: tuple[float, ...]) -> float | None:
    """The paper's Table III EER (%) of ``fusion`` on ``group``; ``None`` for a group it lacks."""
    key = tuple(round(float(s), 6) for s in group)
    for i, g in enumerate(TABLE_III_GROUPS):
        if tuple(round(s, 6) for s in g) == key:
            return TABLE_III_EER[fusion][i]
    return None


def table_ii_eer(scale: float) -> float | None:
    """The paper's Table II EER (%) at ``scale``; ``None`` for a scale it did not test."""
    return TABLE_II_EER.get(round(float(scale), 6))
