"""docs/paper_to_code.md names real code and real notebook sections: every name in its code
column resolves (a module path sets the module that the bare names after it belong to), every
config file exists, every "NN §k" is a section of notebook NN."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "paper_to_code.md"


def _rows() -> list[list[str]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and not set(cells[0]) <= {"-", " "}:
            rows.append(cells)
    return [r for r in rows if r[0] not in ("paper", "what")]


def _resolve(name: str, module: str | None) -> object:
    """``module.attr[.attr]`` under fas_lib, or a bare ``attr[.attr]`` of ``module``."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module("fas_lib." + ".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    if module is None:
        raise AssertionError(f"{name}: no module to look it up in")
    obj = importlib.import_module(module)
    for attr in parts:
        obj = getattr(obj, attr)
    return obj


def _check_code(cell: str) -> int:
    module, n = None, 0
    for token in re.findall(r"`([^`]+)`", cell):
        token = re.sub(r"\(.*\)$", "", token)
        if token.startswith("fas "):
            continue
        if token.endswith(".yaml"):
            assert (ROOT / token).is_file(), token
        elif token.endswith(".py"):  # a module: the bare names after it are its
            assert (ROOT / "fas_lib" / token).is_file(), token
            module = "fas_lib." + token[:-3].replace("/", ".")
        else:
            assert _resolve(token, module) is not None, token
            if "." in token and module is None:
                module = "fas_lib." + token.rsplit(".", 1)[0]
        n += 1
    return n


def test_every_name_in_the_code_column_exists():
    rows = _rows()
    assert len(rows) >= 30
    checked = sum(_check_code(r[2] if len(r) > 3 else r[1]) for r in rows)
    assert checked >= 60


def _sections() -> dict[str, set[int]]:
    """Notebook -> the sections the notebook column cites ("05 §1, §3", "04 §3, 06 §3-4")."""
    out: dict[str, set[int]] = {}
    for row in _rows():
        nb = None
        for item in (row[3] if len(row) > 3 else "").split(","):
            m = re.match(r"\s*(?:(\d\d) )?§(\d+)(?:-(\d+))?", item)
            if not m:
                continue
            nb = m[1] or nb
            out.setdefault(nb, set()).update(range(int(m[2]), int(m[3] or m[2]) + 1))
    return out


@pytest.mark.parametrize("nb", sorted(_sections()))
def test_every_notebook_section_exists(nb):
    text = next((ROOT / "notebooks").glob(f"{nb}_*.py")).read_text(encoding="utf-8")
    for k in sorted(_sections()[nb]):
        assert re.search(rf"^# ## {k}\. ", text, re.M), f"notebook {nb} has no section {k}"
