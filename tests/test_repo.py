"""Repository hygiene: notebooks, environment files, README and CI agree with each other.

(a) every notebook is a jupytext pair (``NN_name.py`` percent source, ``NN_name.ipynb``) whose
two files hold the same cells, is stripped, has exactly one ``parameters`` cell (the third),
opens with ``# NN · Title`` and ends with ``## Summary`` and ``## Exercises``;
(b) ``environment.yml`` and ``pyproject.toml`` list the same packages with the same pins;
(c) the README's notebook table lists exactly the notebooks, with their titles and runtimes;
(d) ``.ci/run`` runs the README's test command (followed by ``make site`` and ``make test-browser`` only);
(e) the figures the README names exist (once ``figures/`` is populated);
(f) no tracked file names an absolute path of a developer's machine.
Plus small tests of ``tools/strip_notebooks.py`` and ``tools/run_notebooks.py``. Nothing here
executes a notebook.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sys
import tomllib
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from conftest import load_script  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HEADING = re.compile(r"^# (\d\d) · (.+)$")
REQUIRED_PARAMETERS = ("SMOKE", "SEED", "DATASET", "DATA_ROOT", "FIG_DIR", "RESULTS_DIR")



strip_tool = load_script("tools/strip_notebooks.py")
runner = load_script("tools/run_notebooks.py")


def _heading(nb: nbformat.NotebookNode) -> tuple[str, str]:
    first = nb.cells[0].source.splitlines()[0] if nb.cells and nb.cells[0].source else ""
    m = HEADING.match(first)
    assert nb.cells[0].cell_type == "markdown" and m, \
        f"cell 1 must be markdown starting '# NN · Title', got {first[:60]!r}"
    return m[1], m[2].strip()


def _runtime_claim(nb: nbformat.NotebookNode) -> str:
    """The first "about N min" of the notebook's "Runtime on a laptop CPU:" line."""
    m = re.search(r"Runtime on a laptop CPU:\s*(about [\d.–-]+ min)", nb.cells[0].source)
    assert m, "cell 1 must say 'Runtime on a laptop CPU: about N min'"
    return m[1]


# --- (a) notebooks ------------------------------------------------------------------------------

def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks found in notebooks/ (expected notebooks/NN_name.ipynb)"
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == [f"{i:02d}" for i in range(len(numbers))], f"gaps or duplicates: {numbers}"


def cell_list(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """What a pair must agree on: each cell's type, source and tags, in order."""
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def pair_differences(py: nbformat.NotebookNode, ipynb: nbformat.NotebookNode) -> list[str]:
    """Where the percent source and the notebook of a pair disagree; empty when in sync."""
    a, b = cell_list(py), cell_list(ipynb)
    diffs = [f"cell {i}: .py has {x[0]} {x[1][:50]!r} {x[2]}, .ipynb has {y[0]} {y[1][:50]!r} {y[2]}"
             for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(a) != len(b):
        diffs.append(f".py has {len(a)} cells, .ipynb {len(b)}")
    if py.metadata.get("kernelspec") != ipynb.metadata.get("kernelspec"):
        diffs.append("kernelspecs differ")
    return diffs


def test_every_notebook_has_its_percent_source() -> None:
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    assert [p.stem for p in sources] == [p.stem for p in NOTEBOOKS], \
        "every notebooks/NN_name.ipynb needs its notebooks/NN_name.py and the other way round"
    for path in sources:
        head = path.read_text(encoding="utf-8").split("\n# %%", 1)[0]
        assert "kernelspec:" in head, f"{path.name}: not a jupytext percent file with its header"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_pair_is_in_sync(path: Path) -> None:
    source = path.with_suffix(".py")
    diffs = pair_differences(jupytext.read(source, fmt="py:percent"),
                             nbformat.read(path, as_version=4))
    assert not diffs, (f"{source.name} and {path.name} differ (edit one, then `make sync`): "
                       + "; ".join(diffs[:3]))


def test_pair_check_catches_a_drift() -> None:
    nb = jupytext.reads("# %% [markdown]\n# # 00 · T\n\n# %% tags=[\"parameters\"]\nSMOKE = 1\n",
                        fmt="py:percent")
    assert pair_differences(nb, nb) == []
    edited = jupytext.reads(jupytext.writes(nb, fmt="py:percent").replace("SMOKE = 1", "SMOKE = 2"),
                            fmt="py:percent")
    assert any("cell 1" in d for d in pair_differences(edited, nb))
    untagged = jupytext.reads("# %% [markdown]\n# # 00 · T\n\n# %%\nSMOKE = 1\n",
                              fmt="py:percent")
    assert any("['parameters']" in d for d in pair_differences(nb, untagged))


#: The notebooks that train the paper's experiments, and the experiment files they read.
EXPERIMENT_FILES = {"03": ["table_ii"], "04": ["tables_iv_v"], "05": ["msfans"],
                    "06": ["table_iii", "tables_iv_v"]}


@pytest.mark.parametrize("number", sorted(EXPERIMENT_FILES))
def test_training_notebooks_read_the_experiment_files(number: str) -> None:
    (path,) = [p for p in NOTEBOOKS if p.name.startswith(number)]
    params = nbformat.read(path, as_version=4).cells[2].source
    named = re.findall(r'^[A-Z_0-9]+ = "([a-z0-9_]+)" +# configs/\1\.yaml', params, re.M)
    assert named == EXPERIMENT_FILES[number], \
        f"{path.name}: its parameters name configs {named}, expected {EXPERIMENT_FILES[number]}"
    for name in named:
        assert (ROOT / "configs" / f"{name}.yaml").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stripped(path: Path) -> None:
    found = strip_tool.problems(nbformat.read(path, as_version=4))
    assert not found, f"{path.name} is not stripped (run `make strip`): {found[:5]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_structure(path: Path) -> None:
    assert re.fullmatch(r"\d\d_[a-z0-9]+(_[a-z0-9]+)*\.ipynb", path.name), \
        f"{path.name}: expected NN_snake_case.ipynb"
    nb = nbformat.read(path, as_version=4)
    number, _ = _heading(nb)
    assert number == path.name[:2], f"{path.name}: heading says notebook {number}"
    _runtime_claim(nb)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [2], f"{path.name}: cells tagged 'parameters': {tagged}, expected [2] only"
    params = nb.cells[2]
    assert params.cell_type == "code"
    declared = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", params.source, re.M))
    missing = [p for p in REQUIRED_PARAMETERS if p not in declared]
    assert not missing, f"{path.name}: the parameters cell lacks {missing}"
    assert nb.cells[-1].cell_type == "markdown" and "## Exercises" in nb.cells[-1].source, \
        f"{path.name}: the last cell must hold '## Exercises'"
    tail = [c.source for c in nb.cells[-3:] if c.cell_type == "markdown"]
    summary = [i for i, s in enumerate(tail) if "## Summary" in s]
    assert summary, f"{path.name}: '## Summary' must be in the last cells, before the exercises"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", \
        f"{path.name}: kernelspec must be python3 (what tools/run_notebooks.py runs)"


# --- (b) environment.yml == pyproject.toml -----------------------------------------------------

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split_requirement(text: str) -> tuple[str, str]:
    """``"torch==2.14.1"`` -> ``("torch", "==2.14.1")``; names normalised, spaces removed."""
    m = REQUIREMENT.match(text)
    assert m, f"cannot read the requirement {text!r}"
    return _norm(m[1]), re.sub(r"\s+", "", m[3])


def pyproject_requirements(text: str) -> dict[str, str]:
    """``{normalised name: specifier}`` of pyproject.toml's ``[project] dependencies``."""
    deps = tomllib.loads(text)["project"]["dependencies"]
    return dict(_split_requirement(d) for d in deps)


def environment_requirements(text: str) -> dict[str, str]:
    """``{normalised name: specifier}`` of environment.yml (conda + pip), without python, pip
    and the project itself (``-e .``).

    Raises:
        AssertionError: on a channel other than conda-forge, no python>=3.11,<3.14, a dependency
            line without a comment, or a package listed twice.
    """
    env = yaml.safe_load(text)
    assert env.get("channels") == ["conda-forge"], f"channels: {env.get('channels')}"
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    pip_list = pip[0]["pip"] if pip else []
    pythons = [d for d in conda if d.startswith("python")]
    assert pythons == ["python>=3.11,<3.14"], \
        f"environment.yml must ask for python>=3.11,<3.14 (pyproject's range), got {pythons}"
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("dependencies:")), len(lines))
    for line in lines[start + 1:]:
        if re.match(r"^\s*- (?!pip:)", line):
            assert "#" in line, f"environment.yml: dependency without a comment: {line.strip()!r}"
    found: dict[str, str] = {}
    for item in conda + pip_list:
        if item.startswith(("-e ", "python=", "python>")) or item == "pip":
            continue
        # conda's "pkg=1.2" means "==1.2"
        name, spec = _split_requirement(re.sub(r"(?<![=<>!~])=(?!=)", "==", item))
        assert name not in found, f"environment.yml lists {name} twice"
        found[name] = spec
    return found


def compare_requirements(pyproject: dict[str, str], environment: dict[str, str]) -> list[str]:
    """Differences between the two lists; empty when they agree."""
    diffs = [f"{n}: only in pyproject.toml" for n in sorted(set(pyproject) - set(environment))]
    diffs += [f"{n}: only in environment.yml" for n in sorted(set(environment) - set(pyproject))]
    diffs += [f"{n}: pyproject.toml says {pyproject[n]!r}, environment.yml {environment[n]!r}"
              for n in sorted(set(pyproject) & set(environment)) if pyproject[n] != environment[n]]
    return diffs


def test_environment_yml_matches_pyproject() -> None:
    pyproject = pyproject_requirements((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    environment = environment_requirements((ROOT / "environment.yml").read_text(encoding="utf-8"))
    diffs = compare_requirements(pyproject, environment)
    assert not diffs, "environment.yml and pyproject.toml disagree:\n  " + "\n  ".join(diffs)


#: Packages only the tests use: pyproject's ``test`` extra, never a runtime dependency.
TEST_ONLY = ("pytest", "selenium")


def test_test_tools_are_an_extra_that_make_test_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = pyproject_requirements((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = dict(_split_requirement(d) for d in project["optional-dependencies"]["test"])
    for name in TEST_ONLY:
        assert name in extra, f"{name} belongs in pyproject's `test` extra"
        assert name not in runtime, f"{name} is a test tool, not a runtime dependency"
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r'^\$\(TSTAMP\):.*\n\t\$\(PY\) -m pip install -e "\.\[test\]"', make, re.M), \
        "the Makefile must install the test extra (pip install -e \".[test]\") for its test targets"
    for target in ("test", "test-unit", "test-notebooks", "test-browser"):
        assert re.search(rf"^{target}: \$\(TSTAMP\)", make, re.M), \
            f"make {target} must depend on the test extra's stamp"


#: Packages only the course site uses: pyproject's ``docs`` extra, never a runtime dependency.
DOCS_ONLY = ("sphinx", "myst-nb", "sphinx-book-theme")


def test_site_tools_are_an_extra_that_make_site_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = pyproject_requirements((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = dict(_split_requirement(d) for d in project["optional-dependencies"]["docs"])
    for name in DOCS_ONLY:
        assert extra.get(name, "").startswith("=="), f"{name} belongs pinned in the `docs` extra"
        assert name not in runtime, f"{name} is a site tool, not a runtime dependency"
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r'^\$\(DSTAMP\):.*\n\t\$\(PY\) -m pip install -e "\.\[docs\]"', make, re.M), \
        "the Makefile must install the docs extra (pip install -e \".[docs]\") for make site"
    for target in ("site", "test-browser"):
        assert re.search(rf"^{target}: .*\$\(DSTAMP\)", make, re.M), \
            f"make {target} must depend on the docs extra's stamp"


def test_scikit_learn_pin_allows_det_curve_drop_intermediate() -> None:
    """``fas_lib.evaluation.metrics`` calls ``det_curve(drop_intermediate=...)``, new in scikit-learn 1.7."""
    pyproject = pyproject_requirements((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    m = re.fullmatch(r">=(\d+)\.(\d+)(?:\.\d+)?(?:,.*)?", pyproject["scikit-learn"])
    assert m, f"scikit-learn pin {pyproject['scikit-learn']!r} has no lower bound"
    assert (int(m[1]), int(m[2])) >= (1, 7), f"scikit-learn{pyproject['scikit-learn']} < 1.7"


def test_pyproject_dependencies_have_comments() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[\n(.*?)^\]", text, re.S | re.M)
    assert block, "pyproject.toml: no dependencies list"
    for line in block[1].splitlines():
        if line.strip().startswith('"'):
            assert "#" in line, f"pyproject.toml: dependency without a comment: {line.strip()}"


def test_requirement_comparison_catches_differences() -> None:
    py = pyproject_requirements('[project]\ndependencies = ["torch==2.14.1", "Py_YAML>=6"]\n')
    assert py == {"torch": "==2.14.1", "py-yaml": ">=6"}
    env = environment_requirements(
        "channels: [conda-forge]\ndependencies:\n  - python>=3.11,<3.14  # x\n  - py_yaml>=6  # x\n"
        "  - pip:\n      - torch==2.13.0  # x\n      - extra=1.0  # x\n")
    assert env == {"py-yaml": ">=6", "torch": "==2.13.0", "extra": "==1.0"}
    diffs = compare_requirements(py, env)
    assert any("torch" in d for d in diffs) and any("extra" in d for d in diffs)
    with pytest.raises(AssertionError, match="without a comment"):
        environment_requirements("channels: [conda-forge]\ndependencies:\n"
                                 "  - python>=3.11,<3.14  # x\n  - numpy\n")


# --- (c) README notebook table ------------------------------------------------------------------

def test_readme_notebook_table_lists_the_notebooks(notebook_table) -> None:
    expected = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        number, title = _heading(nb)
        expected.append((number, title, f"notebooks/{path.name}", _runtime_claim(nb)))
    got = [(r.number, r.title, r.link) for r in notebook_table]
    assert got == [e[:3] for e in expected], \
        f"README notebook table rows {got}\n  != notebooks/ {[e[:3] for e in expected]}"
    for row, (number, _, _, claim) in zip(notebook_table, expected):
        assert len(row.cells) == 4, f"row {number}: expected 4 columns, got {len(row.cells)}"
        assert claim in row.runtime, \
            f"row {number}: runtime {row.runtime!r} does not say the notebook's {claim!r}"
        assert row.cells[1], f"row {number}: empty 'what it covers'"
        assert row.figures, f"row {number}: no figures listed"
        bad = [f for f in row.figures if not f.startswith(f"{number}_")]
        assert not bad, f"row {number}: figure names must start with {number}_: {bad}"


def claimed_minutes(claim: str) -> tuple[float, float]:
    """``"about 3–4 min"`` -> (3, 4); ``"about 5 min"`` -> (5, 5)."""
    nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", claim)]
    return min(nums), max(nums)


def test_notebook_runtime_claims_hold_against_the_measured_suite() -> None:
    """Each notebook's "about N min" is at most 1.5 x N + 1 min from what the last complete full
    run measured (``results/notebook_suite.json``): a claim is refreshed when the course gets
    slower. (No lower bound: a notebook can be quicker in the suite than alone, when an earlier
    notebook built the data it needs.)"""
    assert claimed_minutes("about 3–4 min") == (3.0, 4.0)
    assert claimed_minutes("about 5 min") == (5.0, 5.0)
    suite = json.loads((ROOT / "results" / "notebook_suite.json").read_text(encoding="utf-8"))
    slow = []
    for path in NOTEBOOKS:
        _, high = claimed_minutes(_runtime_claim(nbformat.read(path, as_version=4)))
        measured = suite["notebooks"][path.stem] / 60
        if measured > 1.5 * high + 1:
            slow.append(f"{path.stem}: says up to {high:g} min, measured {measured:.1f}")
    assert not slow, "; ".join(slow)


def test_readme_table_parser_rejects_malformed_rows(table_parser) -> None:
    good = ("# T\n\n## Notebooks\n\n| notebook | what | runtime | figures |\n|---|---|---|---|\n"
            "| [00 · Setup](notebooks/00_setup.ipynb) | x | about 1 min | `00_a` |\n\n## Next\n")
    rows = table_parser(good)
    assert [(r.number, r.title, r.runtime, r.figures) for r in rows] == \
        [("00", "Setup", "about 1 min", ["00_a"])]
    with pytest.raises(ValueError, match="not of the form"):
        table_parser(good.replace("[00 · Setup]", "00 Setup"))
    with pytest.raises(ValueError, match="no '## Notebooks' section"):
        table_parser("# T\n")


# --- (d) the quick start and CI -----------------------------------------------------------------

def quick_start_commands(readme: str) -> list[str]:
    """The command lines of the code block(s) of the README's "## Quick start" section."""
    from conftest import section  # tests/conftest.py (pytest puts tests/ on sys.path)

    body = section(readme, "## Quick start")
    blocks = re.findall(r"```(?:bash|sh|console)?\n(.*?)```", body, re.S)
    return [line.strip() for b in blocks for line in b.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_readme_quick_start_has_exactly_two_commands(readme_text: str) -> None:
    commands = quick_start_commands(readme_text)
    assert commands == ["make notebooks", "make test"], f"quick start commands: {commands}"


def test_ci_runs_the_readme_test_command(readme_text: str) -> None:
    ci = ROOT / ".ci" / "run"
    assert ci.is_file(), ".ci/run is missing"
    assert os.access(ci, os.X_OK), ".ci/run is not executable (chmod +x .ci/run)"
    text = ci.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash") or text.startswith("#!/bin/bash")
    assert "set -euo pipefail" in text
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    test_commands = [c for c in quick_start_commands(readme_text) if "test" in c]
    assert len(test_commands) == 1, f"the README's quick start has test commands {test_commands}"
    # the README's test command, once; after it only the site and the browser test (Chromium:
    # CI installs it)
    assert lines.count(test_commands[0]) == 1, \
        f".ci/run must run the README's test command {test_commands[0]!r} exactly once"
    after = lines[lines.index(test_commands[0]) + 1:]
    assert after in ([], ["make site", "make test-browser"]), \
        f".ci/run runs {after!r} after {test_commands[0]!r}; only `make site` and " \
        "`make test-browser` may follow"


def test_readme_credits_the_papers_authors(readme_text: str) -> None:
    """MS-FANS is by Luo, Kan, Shan and Chen (ICPR 2018); no unprovable "first public" claim."""
    intro = readme_text.split("\n## ", 1)[0]
    for author in ("Luo", "Kan", "Shan", "Chen"):
        assert author in intro, f"the README's first paragraph does not name {author}"
    assert not re.search(r"Luo, Pan|Deng|Zhang\)", intro), "wrong MS-FANS author list"
    assert "first public" not in readme_text


def test_cited_datasets_md_exists() -> None:
    """Every ``DATASETS.md`` the README, the package, the notebooks and the tests cite is a file
    of this repository (no absolute paths to a machine's copy)."""
    files = [ROOT / "README.md", *sorted((ROOT / "fas_lib").rglob("*.py")),
             *sorted((ROOT / "notebooks").glob("*.py")), *sorted((ROOT / "tests").rglob("*.py"))]
    cited = []
    for path in files:
        if path == Path(__file__).resolve():
            continue
        for m in re.finditer(r"([\w./-]*)DATASETS\.md", path.read_text(encoding="utf-8")):
            cited.append((path.relative_to(ROOT), m[1]))
    assert cited, "nothing cites DATASETS.md"
    bad = [f"{where}: {prefix}DATASETS.md" for where, prefix in cited
           if prefix.startswith("/") or not (ROOT / prefix / "DATASETS.md").is_file()]
    assert not bad, f"cited but not in the repository: {bad}"


# --- (e) README figures -------------------------------------------------------------------------

def test_readme_figures_exist(readme_text: str, notebook_table) -> None:
    have = {p.stem for p in (ROOT / "figures").glob("*.png")}
    if not have:
        pytest.skip("figures/ is empty: run `make notebooks`")
    missing = [f"figures/{name}" for name in re.findall(r"\]\(figures/([^)]+)\)", readme_text)
               if not (ROOT / "figures" / name).is_file()]
    for row in notebook_table:
        if not any(s.startswith(f"{row.number}_") for s in have):
            continue  # this notebook has not been run yet
        missing += [f"{n} (notebook {row.number})" for n in row.figures
                    if not fnmatch.filter(have, n)]
    assert not missing, f"the README names figures that are not in figures/: {missing}"


# --- tools --------------------------------------------------------------------------------------

def test_strip_tool_strips(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 00 · T"),
        nbformat.v4.new_code_cell("1 + 1", execution_count=3, outputs=[
            nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)]),
    ])
    nb.cells[1].metadata.update({"tags": ["parameters"], "execution": {"t": 1}})
    nb.metadata.update({"papermill": {"duration": 1.0}, "kernelspec": {"name": "python3"}})
    path = tmp_path / "00_t.ipynb"
    nbformat.write(nb, path)
    assert len(strip_tool.problems(nbformat.read(path, as_version=4))) == 4
    assert strip_tool.strip_file(path) is True
    clean = nbformat.read(path, as_version=4)
    assert strip_tool.problems(clean) == []
    assert clean.cells[1].metadata == {"tags": ["parameters"]} and clean.cells[1].source == "1 + 1"
    assert strip_tool.strip_file(path) is False  # idempotent
    assert strip_tool.main(["--check", str(path)]) == 0
    with pytest.raises(FileNotFoundError):
        strip_tool.strip_file(tmp_path / "missing.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid Jupyter notebook"):
        strip_tool.strip_file(bad)


def test_runner_selects_notebooks_and_parses_values(tmp_path: Path) -> None:
    for name in ("00_a.ipynb", "01_b.ipynb", "02_c.ipynb", "notes.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in runner.find_notebooks(tmp_path)] == ["00_a.ipynb", "01_b.ipynb",
                                                                  "02_c.ipynb"]
    assert [p.name for p in runner.find_notebooks(tmp_path, ["2", "00"])] == ["00_a.ipynb",
                                                                              "02_c.ipynb"]
    with pytest.raises(FileNotFoundError, match=r"\['07'\]"):
        runner.find_notebooks(tmp_path, ["07"])
    with pytest.raises(FileNotFoundError, match="no notebooks found"):
        runner.find_notebooks(tmp_path / "empty")
    assert runner.parse_value("3") == 3 and runner.parse_value("(1.1, 1.2)") == (1.1, 1.2)
    assert runner.parse_value("None") is None and runner.parse_value("/data/x") == "/data/x"


def test_runner_kernel_is_this_python() -> None:
    """The ``python3`` Jupyter kernel the runner uses runs this environment's interpreter."""
    exe = runner.check_kernel()
    assert Path(exe).absolute().parent == Path(sys.executable).absolute().parent


def test_runner_suite_record_counts_reused_and_trained_runs(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    assert runner.count_runs(runs_dir) == 0                      # missing folder: none
    for name, finished in (("a", True), ("b", True), ("c", False)):
        (runs_dir / name).mkdir(parents=True)
        if finished:
            (runs_dir / name / "results.json").write_text("{}")
    assert runner.count_runs(runs_dir) == 2                      # an unfinished run is not one
    runs = [runner.NotebookRun("00_a", True, 12.34, "x", load_average=2.1, runs_trained=3,
                               speed=480.0),
            runner.NotebookRun("01_b", True, 5.0, "y")]
    rec = runner.suite_record(runs, 17.9, None, runs_before=2, runs_after=5)
    assert rec["notebooks"] == {"00_a": 12.3, "01_b": 5.0} and rec["total_s"] == 17.9
    assert rec["load_average"] == {"00_a": 2.1}  # a notebook without one is left out
    assert rec["speed"] == {"00_a": 480.0}
    assert rec["runs_trained_per_notebook"] == {"00_a": 3}
    assert rec["runs_reused"] == 2 and rec["runs_trained"] == 3 and rec["all_ok"] is True
    assert rec["mode"] == "full" and rec["machine"]["cpu_cores"] == os.cpu_count()


def test_runner_speed_probe_measures_cnn_s_training() -> None:
    """The probe before each notebook: CNN_S training samples/s, a positive rate, from the
    roofline benchmark's own measurement."""
    speed = runner.speed_probe()
    assert speed is not None and speed > 1


def test_runner_machine_names_the_processor_and_its_vector_unit() -> None:
    """The processor's name and widest vector unit are recorded: the floats of training differ
    between processor types."""
    xeon = runner.machine("processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse4_2 avx "
                          "avx2 avx512f\n")
    assert xeon["cpu"] == "Intel Xeon" and xeon["vector_isa"] == "avx512f"
    epyc = runner.machine("model name\t: AMD EPYC\nflags\t: fpu sse4_2 avx fma avx2\n")
    assert epyc["cpu"] == "AMD EPYC" and epyc["vector_isa"] == "avx2"
    bare = runner.machine("")  # no /proc/cpuinfo (not Linux): still the cores and the platform
    assert bare["vector_isa"] is None and bare["cpu_cores"] == os.cpu_count()


#: Absolute paths of somebody's machine (home folders, the course's work area); a tracked file
#: that names one works only there. ``results/`` is left out: it holds machine-written records
#: of runs (``data_dir``, dataset and cache roots as they were on the machine that ran them).
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|home|Users)/")
MACHINE_PATH_EXEMPT = ("results/",)


def machine_paths(text: str) -> list[str]:
    """The lines of ``text`` that name an absolute path of a developer's machine."""
    return [line.strip() for line in text.splitlines() if MACHINE_PATH.search(line)]


def test_machine_path_finder() -> None:
    home, work = "/" + "home/ann/data", "/" + "work/shared/DATASETS.md"  # not literals: this
    # file is tracked too
    assert machine_paths(f"see {work}\nok ~/x\n") == [f"see {work}"]
    assert machine_paths(f'data = "{home}"') and machine_paths("cd /" + "root/.cache")
    assert not machine_paths("fas_lib/data/datasets/base.py, ~/.cache/fas_lib, a/work/b, "
                             "https://x.org/home/")


def test_no_tracked_file_names_a_machine_path() -> None:
    import subprocess

    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    found = []
    for rel in filter(None, listed):
        if rel.startswith(MACHINE_PATH_EXEMPT) or not (ROOT / rel).is_file():
            continue
        data = (ROOT / rel).read_bytes()
        if b"\0" in data:
            continue  # binary (figures)
        found += [f"{rel}: {line[:100]}" for line in machine_paths(data.decode("utf-8", "replace"))]
    assert not found, "tracked files name paths of a developer's machine:\n  " + "\n  ".join(found)
