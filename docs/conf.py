"""Sphinx configuration of the course site (``make site``; ``tools/build_site.py`` assembles the
source tree it reads: the README as the home page, ``docs/*.md``, the executed notebooks and the
API pages)."""

from __future__ import annotations

project = "MS-FANS on a laptop"
author = "the fas_lib authors"
copyright = "2026, " + author

extensions = [
    "myst_nb",               # Markdown pages and executed notebooks (outputs as they were saved)
    "sphinx.ext.autodoc",    # the API reference, from the docstrings
    "sphinx.ext.napoleon",   # Google-style Args: / Returns: sections
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the site itself, not from a CDN
]

# notebooks are shown as executed by `make notebooks` (or the smoke run); the site runs nothing
nb_execution_mode = "off"
nb_merge_streams = True
# no widget JavaScript from a CDN: tools/build_site.py keeps the text of widget outputs (progress
# bars) and the site loads nothing from the network
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 4     # GitHub-style #anchors for the pages' headings, as on GitHub
# notebook markdown cells start at level 2 under the title, as on GitHub; warnings stay errors
suppress_warnings = ["myst.header"]

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"   # the signatures stay readable; the docstrings say the types
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True     # "Attributes:" as fields, not a second description of each member

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {"show_toc_level": 2, "home_page_in_toc": True}
html_context = {"default_mode": "light"}  # no theme-mode lookup that fails on file:// pages
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
