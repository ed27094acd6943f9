"""Shared pytest set-up: a non-interactive plotting backend, the notebook-test option, the
README notebook-table parser (fixtures ``readme_text``, ``notebook_table``), and two fixtures
unit-test modules opt into with ``pytestmark = pytest.mark.usefixtures(...)``:

* ``private_data_dir``: ``FAS_DATA_DIR`` points at a fresh temporary folder for the module, so
  generated data and the source-portrait cache never touch the user's ``~/.cache/fas_lib``;
* ``one_thread``: PyTorch on one CPU thread for the module (the machine is shared).

Runs train one after the other (``FAS_RUN_WORKERS=1``, :mod:`fas_lib.training.pool`) unless a
test asks for a pool.

The crop-cache tests share ``synth`` (a tiny SynthSpoof) and ``reference`` (its cache), made
once per session; the predict and export tests ``tiny_run``, a run trained on that cache; the
shift-protocol tests (``test_generalise.py``, ``test_recipes.py``) ``three_session_cache``; the
multi-modal training tests (``test_mm_train.py``, ``test_mm_recipe.py``) ``modality_cache``.

``--smoke-run DIR``: let ``tests/notebooks`` check the outputs of an earlier smoke run
(a ``build/notebook-smoke/run-*`` folder) instead of executing the notebooks again; the
browser test reuses its data and runs. ``--run-browser``: run ``tests/browser`` (skipped
otherwise; ``make test-browser``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Tests never open windows and notebook widgets draw their static fallback figure.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("FAS_NONINTERACTIVE", "1")
# Runs train one after the other in the tests and the smoke notebooks whatever the caller's
# environment says (tiny runs: a pool's start-up costs more than it saves); test_pool.py sets one.
os.environ["FAS_RUN_WORKERS"] = "1"


def load_script(path: str) -> ModuleType:
    """A script of the repository (``"tools/readme_tables.py"``: the tools and benchmarks are
    not a package) imported as a module named after its file."""
    file = ROOT / path
    spec = importlib.util.spec_from_file_location(file.stem, file)
    assert spec is not None and spec.loader is not None, f"cannot load {file}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module  # dataclasses of the script resolve their module
    spec.loader.exec_module(module)
    return module


def read_run_status(folder: Path) -> tuple[dict[str, dict], str | None]:
    """``({notebook name: run entry}, FAS_DATA_DIR)`` of the notebook runner's
    ``folder/notebooks/run_status.json`` (a ``build/notebook-smoke/run-*`` folder); ``({}, None)``
    when it has none."""
    status_file = folder / "notebooks" / "run_status.json"
    if not status_file.is_file():
        return {}, None
    status = json.loads(status_file.read_text(encoding="utf-8"))
    return {r["name"]: r for r in status["runs"]}, status.get("data_dir")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--smoke-run`` and ``--run-browser``."""
    parser.addoption(
        "--smoke-run", default=None, metavar="DIR",
        help="check this finished notebook smoke run (build/notebook-smoke/run-*) instead of "
             "running the notebooks")
    parser.addoption(
        "--run-browser", action="store_true", default=False,
        help="run tests/browser (JupyterLab in headless Chromium; what `make test-browser` "
             "runs): without it they are skipped")


@pytest.fixture(scope="module")
def private_data_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("fas_data")
        mp.setenv("FAS_DATA_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def one_thread():
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --- a tiny SynthSpoof and its crop cache, for tests/unit/cache/test_reader.py and test_cache_build.py


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Path:
    """A SynthSpoof of 3 subjects x (live, print_flat, replay_phone) x 1 quality x 3 frames (9
    videos, about 3 s), generated once per session."""
    from fas_lib.synthspoof import SynthConfig, generate

    config = SynthConfig(n_subjects=3, frames_per_video=3, sessions=("s1",), live_per_session=1,
                         attack_types=("print_flat", "replay_phone"))
    return generate(config, root=tmp_path_factory.mktemp("synth") / "ss", workers=1,
                    progress=False).root


@pytest.fixture(scope="session")
def modality_cache(tmp_path_factory):
    """A fake crop cache with depth and NIR crops of 48 x 48 (``tests.fakes.
    build_modality_cache``), made once per session."""
    from tests import fakes

    return fakes.build_modality_cache(tmp_path_factory.mktemp("mm") / "cache", size=48)


@pytest.fixture(scope="session")
def three_session_cache(tmp_path_factory):
    """A 3-subject, 3-session SynthSpoof (one live video, a print and a replay per session, 2
    frames, 320 x 240) cut at scales 1.0 and 1.5 with the generator's face boxes: every shift
    protocol has both classes in every split. Made once per session."""
    from fas_lib.cache.build import build_cache
    from fas_lib.synthspoof import SynthConfig, generate

    config = SynthConfig(n_subjects=3, frames_per_video=2, live_per_session=1,
                         attack_types=("print_flat", "replay_phone"), width=320, height=240)
    root = generate(config, root=tmp_path_factory.mktemp("ss3") / "ss", workers=1,
                    progress=False).root
    return build_cache("synthspoof", root, out=tmp_path_factory.mktemp("c3") / "cache",
                       n_frames=2, scales=(1.0, 1.5), workers=1, progress=False,
                       use_gt_boxes=True)


@pytest.fixture(scope="session")
def reference(synth, tmp_path_factory):
    """The crop cache of ``synth`` at 2 frames per video: an uninterrupted build, to compare
    resumed builds with."""
    from fas_lib.cache.build import build_cache

    return build_cache("synthspoof", synth, out=tmp_path_factory.mktemp("ref") / "cache",
                       n_frames=2, workers=1, progress=False)


@pytest.fixture(scope="session")
def tiny_run(reference, tmp_path_factory) -> Path:
    """A finished MS-FANS run (CNN_S, scales 1.1/1.2/1.3, 3 epochs, one thread) on the
    ``reference`` cache, for the predict and export tests; its folder. (At lr 1e-2 its MS-FANS
    weights collapse to 0 and every score is alike; at 1e-3 they do not.)"""
    import torch

    from fas_lib.training.config import ExperimentConfig
    from fas_lib.training.frames import run_experiment

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    cfg = ExperimentConfig(scales=(1.1, 1.2, 1.3), epochs=3, batch_size=4, lr=1e-3,
                           milestones=(2,), seed=0, device="cpu")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_experiment(cfg, out, cache=reference, progress=False)
    finally:
        torch.set_num_threads(old)
    return out


# --- the README's notebook table, read by tests/test_repo.py and tests/notebooks -------------

NOTEBOOK_ROW = re.compile(r"^\|\s*\[(?P<num>\d\d) · (?P<title>[^\]]+)\]\((?P<link>[^)]+)\)\s*\|")


@dataclass
class NotebookRow:
    """One row of the README's "## Notebooks" table."""

    number: str
    title: str
    link: str
    cells: list[str]  # every cell of the row, first one included

    @property
    def runtime(self) -> str:
        """The "CPU runtime" cell."""
        return self.cells[2] if len(self.cells) > 2 else ""

    @property
    def figures(self) -> list[str]:
        """The figure names (backticked, ``*`` allowed) of the "figures" cell."""
        return re.findall(r"`([^`]+)`", self.cells[3]) if len(self.cells) > 3 else []


def section(text: str, heading: str) -> str:
    """The body of the markdown section ``heading`` (e.g. ``"## Notebooks"``) of ``text``.

    Raises:
        ValueError: when the heading is missing.
    """
    level = heading.split(" ")[0]
    lines = text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        raise ValueError(f"the README has no {heading!r} section") from None
    body = []
    for line in lines[start + 1:]:
        if re.match(r"#{1,%d} " % len(level), line):
            break
        body.append(line)
    return "\n".join(body)


def parse_notebook_table(text: str) -> list[NotebookRow]:
    """The rows of the first table in the README's "## Notebooks" section (the measured
    times that follow it are another table).

    A row starts ``| [NN · Title](notebooks/NN_name.ipynb) | goals | runtime | figures |``.

    Raises:
        ValueError: when the section is missing or a table row does not have that form.
    """
    rows: list[NotebookRow] = []
    in_table = False
    for line in section(text, "## Notebooks").splitlines():
        if not line.startswith("|"):
            if in_table:
                break
            continue
        in_table = True
        if re.match(r"^\|[\s|:-]+\|$", line) or line.lower().startswith("| notebook"):
            continue
        m = NOTEBOOK_ROW.match(line)
        if not m:
            raise ValueError(f"README notebook table row not of the form "
                             f"'| [NN · Title](notebooks/NN_name.ipynb) | ...': {line[:80]}")
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(NotebookRow(m["num"], m["title"].strip(), m["link"], cells))
    return rows


@pytest.fixture(scope="session")
def readme_text() -> str:
    """README.md of the repository."""
    return (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def notebook_table(readme_text: str) -> list[NotebookRow]:
    """The rows of the README's notebook table."""
    return parse_notebook_table(readme_text)


@pytest.fixture(scope="session")
def table_parser():
    """:func:`parse_notebook_table`, for tests that feed it their own text."""
    return parse_notebook_table
