"""Tests of tools/build_site.py: which notebooks the site shows, its API pages, the source tree it
assembles and the link check of the built HTML (the Sphinx build itself runs in ``make site``)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))
from test_layout import module_files  # noqa: E402

bs = load_script("tools/build_site.py")


def _notebook(path: Path, outputs: bool) -> None:
    cell = {"cell_type": "code", "source": "1", "metadata": {}, "execution_count": None,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}] if outputs
            else []}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))


def test_pick_notebooks_full_run_then_smoke_run_then_sources(tmp_path):
    for name in ("00_a", "01_b"):
        _notebook(tmp_path / "notebooks" / f"{name}.ipynb", outputs=False)
    folder, label = bs.pick_notebooks(tmp_path)
    assert folder == tmp_path / "notebooks" and "no outputs" in label
    for run in ("run-20260101-000000-1", "run-20260102-000000-2"):
        for name in ("00_a", "01_b"):
            _notebook(tmp_path / "build/notebook-smoke" / run / "notebooks" / f"{name}.ipynb",
                      outputs=True)
    # the newest smoke run, and only one with every notebook executed
    _notebook(tmp_path / "build/notebook-smoke/run-20260102-000000-2/notebooks/01_b.ipynb",
              outputs=False)
    folder, label = bs.pick_notebooks(tmp_path)
    assert folder.parent.name == "run-20260101-000000-1" and "smoke run" in label
    for name in ("00_a", "01_b"):
        _notebook(tmp_path / "build/notebooks" / f"{name}.ipynb", outputs=True)
    folder, label = bs.pick_notebooks(tmp_path)
    assert folder == tmp_path / "build/notebooks" and "make notebooks" in label
    with pytest.raises(FileNotFoundError, match="not every notebook"):
        bs.pick_notebooks(tmp_path, given=tmp_path / "notebooks")


def test_api_pages_document_every_module_once():
    pages = bs.api_pages(ROOT)
    documented = [m for name, text in pages.items() if name != "index"
                  for m in re.findall(r"\.\. automodule:: (\S+)", text)]
    expected = [m for m in module_files(ROOT / "fas_lib") if m != "fas_lib"]
    assert sorted(documented) == sorted(expected)
    assert all(f"({stage}.md)" in pages["index"] for stage in pages if stage != "index")


def test_assemble_mirrors_the_repository_and_refuses_unlisted_pages(tmp_path):
    src = tmp_path / "src"
    pages = bs.assemble(src, ROOT / "notebooks", "no outputs", ROOT)
    index = (src / "index.md").read_text()
    assert index.startswith((ROOT / "README.md").read_text().rstrip())
    assert all(f"docs/{p}" in index for p in bs.PAGES) and "api/index" in index
    for page in pages:
        assert (src / f"{page}.md").is_file() or (src / f"{page}.ipynb").is_file(), page
    # the figures and files the pages link to are copied at their repository paths
    assert (src / "figures" / "03_table_ii.png").is_file()
    fake = tmp_path / "repo"
    (fake / "docs").mkdir(parents=True)
    (fake / "notebooks").mkdir()
    (fake / "README.md").write_text("# x\n")
    (fake / "docs" / "stray.md").write_text("# stray\n")
    with pytest.raises(ValueError, match="stray"):
        bs.assemble(tmp_path / "src2", fake / "notebooks", "none", fake)


def test_check_links_finds_missing_files_and_anchors(tmp_path):
    html = tmp_path / "html"
    (html / "docs").mkdir(parents=True)
    (html / "_static").mkdir()
    (html / "index.html").write_text(
        '<a href="docs/page.html#here">ok</a> <a href="docs/page.html#gone">anchor</a>'
        '<a href="nope.html">file</a> <a href="https://example.org/x">out</a>'
        '<a href="#top">self</a><h1 id="top">t</h1><img src="docs/missing.png">'
        '<script src="https://cdn.example.org/lib.js"></script>')
    (html / "docs" / "page.html").write_text('<h2 id="here">h</h2><a href="../index.html">up</a>')
    (html / "_static" / "template.html").write_text('<a href="{{ pathto(x) }}">t</a>')
    broken, checked, outside = bs.check_links(html)
    assert sorted(broken) == sorted([
        "index.html: docs/page.html#gone (no #gone on that page)",
        "index.html: nope.html (no such file)",
        "index.html: docs/missing.png (no such file)",
        "index.html: https://cdn.example.org/lib.js (loaded from the network: the site must "
        "work offline)"])
    assert checked == 6 and outside == 2


def test_widget_outputs_keep_their_text_only():
    nb = {"metadata": {"widgets": {"state": {}}}, "cells": [{"cell_type": "code", "outputs": [
        {"output_type": "display_data", "data": {bs.WIDGET_VIEW: {"model_id": "x"},
                                                 "text/plain": "100%|####| 3/3"}}]}]}
    out = bs.without_widgets(nb)
    assert out["cells"][0]["outputs"][0]["data"] == {"text/plain": "100%|####| 3/3"}
    assert "widgets" not in out["metadata"] and bs.WIDGET_VIEW in str(nb)  # input untouched
