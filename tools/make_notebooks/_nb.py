"""Tiny notebook builder shared by the ``tools/make_notebooks/NN_*.py`` generator scripts.

A generator lists its cells with :func:`md`, :func:`code` and :func:`params` and calls
:func:`write`, which saves a stripped notebook (no outputs, no execution counts) with the
``python3`` kernel; the one :func:`params` cell gets papermill's ``parameters`` tag.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell (the text is dedented and stripped)."""
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str) -> nbformat.NotebookNode:
    """A code cell (dedented and stripped)."""
    return new_code_cell(textwrap.dedent(text).strip())


def params(text: str) -> nbformat.NotebookNode:
    """The papermill ``parameters`` cell."""
    cell = code(text)
    cell.metadata["tags"] = ["parameters"]
    return cell


def _split_sections(cells: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """Start a new markdown cell at each ``## Summary`` / ``## Exercises`` heading."""
    out = []
    for cell in cells:
        if cell.cell_type != "markdown":
            out.append(cell)
            continue
        parts, current = [], []
        for line in cell.source.splitlines():
            if line.startswith(("## Summary", "## Exercises")) and current:
                parts.append(current)
                current = []
            current.append(line)
        parts.append(current)
        out += [new_markdown_cell("\n".join(p).strip()) for p in parts if "".join(p).strip()]
    return out


def write(cells: list[nbformat.NotebookNode], name: str) -> Path:
    """Write ``notebooks/name`` with ``cells``; returns the path."""
    nb = new_notebook(cells=_split_sections(cells))
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    path = NOTEBOOKS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
