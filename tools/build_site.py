"""Build the course site (``make site``) and check every link inside it.

The site is assembled in ``build/site/src`` with the repository's own layout, so that the links
of the README and of ``docs/*.md`` work on the site as they do on GitHub:

* ``index.md``: the README (the home page), with the site's table of contents appended;
* ``docs/*.md``: the course's pages (results, SynthSpoof, datasets, deployment, paper to code);
* ``notebooks/NN_*.ipynb``: every notebook **with its outputs**: those of the last complete
  ``make notebooks`` (``build/notebooks``), else of the newest ``make test`` smoke run
  (``build/notebook-smoke/run-*/notebooks``), else the stripped sources; the notebooks page says
  which;
* ``api/``: one page per stage of ``fas_lib``, generated from the docstrings (autodoc);
* every other repository file a page links to (figures, configs, scripts), copied as is.

Sphinx (``docs/conf.py``: myst-nb, the book theme) writes ``build/site/html`` with warnings as
errors; then every ``href`` and ``src`` of the built HTML that stays inside the site is checked:
the file exists and its ``#anchor`` is an ``id`` of that page. Links that leave the site are
counted and left alone (the machine that builds the site may have no network), but a script,
image or stylesheet that a page would load from the network is an error: the site works
offline (MathJax is served from the site, widget outputs are kept as their text).

Usage::

    python tools/build_site.py                 # build/site/html/index.html
    python tools/build_site.py --notebooks DIR # take the executed notebooks from DIR
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "site"
#: The pages of docs/, in the site's order (a page not listed here is an error).
PAGES: tuple[str, ...] = ("running", "synthspoof", "results", "datasets", "deployment",
                          "paper_to_code", "development")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def notebook_names(root: Path = ROOT) -> list[str]:
    """The course's notebooks, ``NN_name``, in order."""
    return sorted(p.stem for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _executed(folder: Path, names: Sequence[str]) -> bool:
    """Whether ``folder`` holds every notebook of ``names``, each with at least one output."""
    for name in names:
        path = folder / f"{name}.ipynb"
        if not path.is_file():
            return False
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        if not any(c.get("outputs") for c in cells if c.get("cell_type") == "code"):
            return False
    return True


def pick_notebooks(root: Path = ROOT, given: Path | None = None) -> tuple[Path, str]:
    """``(folder, what it is)`` of the notebooks the site shows (see the module docstring)."""
    names = notebook_names(root)
    if given is not None:
        if not _executed(given, names):
            raise FileNotFoundError(f"--notebooks {given}: not every notebook of {names} is "
                                    "there with outputs")
        return given, f"the executed notebooks of `{given}`"
    full = root / "build" / "notebooks"
    if _executed(full, names):
        return full, "the outputs of the last `make notebooks` (full parameters)"
    smoke = sorted((root / "build" / "notebook-smoke").glob("run-*/notebooks"), reverse=True)
    for folder in smoke:
        if _executed(folder, names):
            return folder, ("the outputs of a `make test` smoke run (`SMOKE=True`: tiny data, "
                            "few iterations; its numbers are not results)")
    return root / "notebooks", "no outputs: run `make notebooks`, then `make site`"


def _toctree(caption: str, entries: Sequence[str]) -> str:
    return "\n".join(["```{toctree}", ":hidden:", f":caption: {caption}", "",
                      *entries, "```", ""])


def api_pages(root: Path = ROOT) -> dict[str, str]:
    """``{page name: Markdown}``: an index, and one page per stage of ``fas_lib`` listing the
    ``automodule`` of each of its modules."""
    pkg = root / "fas_lib"
    from fas_lib import STAGES as LAYERS  # the stages, lowest first (tests/test_layout.py checks)

    pages = {}
    for stage in LAYERS:
        mods = sorted(p.relative_to(root).with_suffix("") for p in (pkg / stage).rglob("*.py"))
        names = [".".join(m.parts[:-1] if m.name == "__init__" else m.parts) for m in mods]
        names = sorted(set(names), key=lambda n: (n.count("."), n))
        body = [f"# `fas_lib.{stage}`", ""]
        for name in names:
            # a package's __all__ re-exports its modules' names: document only its own
            extra = ["   :ignore-module-all:"] if (root / name.replace(".", "/")).is_dir() else []
            body += ["```{eval-rst}", f".. automodule:: {name}", *extra, "```", ""]
        pages[stage] = "\n".join(body)
    index = ["# API reference", "",
             "One page per stage of `fas_lib`, lowest first: a module imports its own stage and "
             "those listed before it (`fas_lib.STAGES`; `tests/test_layout.py` checks it).", "",
             *[f"- [`fas_lib.{s}`]({s}.md)" for s in LAYERS], "", _toctree("Stages", LAYERS)]
    pages["index"] = "\n".join(index)
    return pages


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def without_widgets(nb: dict) -> dict:
    """The notebook with its widget outputs reduced to their text (a progress bar's last line)
    and no widget state: a static site has no kernel, and widget JavaScript would come from a
    CDN."""
    nb = json.loads(json.dumps(nb))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                data.setdefault("text/plain", "")
    return nb


def _linked_files(page: Path, text: str, root: Path) -> list[Path]:
    """Repository files a Markdown page links to (relative links only, anchors dropped)."""
    out = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:|#", target):
            continue
        path = (page.parent / unquote(target.split("#")[0])).resolve()
        if path.is_file() and root in path.parents:
            out.append(path)
    return out


def assemble(src: Path, notebooks: Path, label: str, root: Path = ROOT) -> list[str]:
    """Write the site's source tree into ``src`` (emptied first); returns its pages."""
    if src.exists():
        shutil.rmtree(src)
    (src / "docs").mkdir(parents=True)
    names = notebook_names(root)
    extra = {p.stem for p in (root / "docs").glob("*.md")} - set(PAGES)
    if extra:
        raise ValueError(f"docs/ pages not in tools/build_site.py PAGES: {sorted(extra)}")
    readme = (root / "README.md").read_text(encoding="utf-8")
    nb_page = ["# The notebooks", "", f"Shown with {label}.", "",
               *[f"- [{n}](notebooks/{n}.ipynb)" for n in names], ""]
    toc = (_toctree("Course", ["notebooks", *[f"notebooks/{n}" for n in names]])
           + _toctree("Pages", [f"docs/{p}" for p in PAGES]) + _toctree("Reference", ["api/index"]))
    (src / "index.md").write_text(readme.rstrip() + "\n\n" + toc, encoding="utf-8")
    (src / "notebooks.md").write_text("\n".join(nb_page), encoding="utf-8")
    (src / "notebooks").mkdir()
    for name in names:
        nb = without_widgets(json.loads((notebooks / f"{name}.ipynb").read_text("utf-8")))
        (src / "notebooks" / f"{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    pages = [root / "README.md"]
    for page in PAGES:
        shutil.copy2(root / "docs" / f"{page}.md", src / "docs" / f"{page}.md")
        pages.append(root / "docs" / f"{page}.md")
    (src / "api").mkdir()
    for name, text in api_pages(root).items():
        (src / "api" / f"{name}.md").write_text(text, encoding="utf-8")
    copied = {root / "README.md", *[root / "docs" / f"{p}.md" for p in PAGES]}
    for page in pages:
        for path in _linked_files(page, page.read_text(encoding="utf-8"), root):
            if path in copied or path.suffix == ".ipynb":
                continue
            dst = src / path.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
            copied.add(path)
    return ["index", "notebooks", *[f"notebooks/{n}" for n in names],
            *[f"docs/{p}" for p in PAGES], "api/index"]


class _Links(HTMLParser):
    """The ``id``s and the ``href`` / ``src`` targets of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[str] = []
        self.resources: list[str] = []  # what the page loads by itself (scripts, images, CSS)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)
            if value and ((key == "href" and tag in ("a", "link")) or
                          (key == "src" and tag in ("img", "script"))):
                self.targets.append(value)
                if tag != "a":
                    self.resources.append(value)


def check_links(html: Path) -> tuple[list[str], int, int]:
    """``(broken links, links checked, links that leave the site)`` of the built site."""
    parsed: dict[Path, _Links] = {}

    def parse(page: Path) -> _Links:
        if page not in parsed:
            p = _Links()
            p.feed(page.read_text(encoding="utf-8", errors="replace"))
            parsed[page] = p
        return parsed[page]

    broken, checked, outside = [], 0, 0
    pages = [p for p in sorted(html.rglob("*.html"))
             if not {"_static", "_sources", "_downloads"} & set(p.relative_to(html).parts)]
    for page in pages:
        links = parse(page)
        for target in links.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or target.startswith(("mailto:", "javascript:")):
                outside += 1
                if target in links.resources and parts.scheme in ("http", "https", ""):
                    broken.append(f"{page.relative_to(html)}: {target} (loaded from the "
                                  "network: the site must work offline)")
                continue
            checked += 1
            dest = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if dest.is_dir():
                dest = dest / "index.html"
            where = f"{page.relative_to(html)}: {target}"
            if not dest.is_file():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and dest.suffix == ".html" and \
                    unquote(parts.fragment) not in parse(dest).ids:
                broken.append(f"{where} (no #{parts.fragment} on that page)")
    return broken, checked, outside


def build(out: Path = OUT, notebooks: Path | None = None, root: Path = ROOT) -> int:
    """Assemble, build with warnings as errors, check the links; returns the exit status."""
    from sphinx.cmd.build import build_main

    folder, label = pick_notebooks(root, notebooks)
    print(f"build_site: notebooks from {folder} ({label})")
    t0 = time.perf_counter()
    pages = assemble(out / "src", folder, label, root)
    html = out / "html"
    if html.exists():
        shutil.rmtree(html)
    status = build_main(["-W", "--keep-going", "-q", "-b", "html", "-c", str(root / "docs"),
                         "-d", str(out / "doctrees"), str(out / "src"), str(html)])
    if status:
        print("build_site: Sphinx reported warnings (errors here); see above", file=sys.stderr)
        return status
    broken, checked, outside = check_links(html)
    print(f"build_site: {len(pages)} pages, {checked} links inside the site checked "
          f"({outside} leave it, not fetched) in {time.perf_counter() - t0:.0f} s")
    if broken:
        print("build_site: broken links:\n  " + "\n  ".join(broken), file=sys.stderr)
        return 1
    print(f"build_site: open {html / 'index.html'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help="default: build/site")
    ap.add_argument("--notebooks", type=Path, default=None,
                    help="executed notebooks to show (default: build/notebooks, else the "
                         "newest smoke run, else the stripped sources)")
    args = ap.parse_args(argv)
    try:
        return build(args.out, args.notebooks)
    except (FileNotFoundError, ValueError) as exc:
        print(f"build_site: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
