"""Layout rules of the ``fas_lib`` package, checked on its source with :mod:`ast` (no imports).

* the package is a stack of subpackages, one per stage (:data:`LAYERS`, lowest first): a module
  imports only its own subpackage and the ones below it, never one above (nothing imports
  upward), and the top level holds no module but ``__init__``;
* every subpackage opens with a docstring that says what the stage does;
* no import cycle among module-level imports, nor when imports inside functions are counted
  (``TYPE_CHECKING`` imports are listed apart and never executed, so they may close a cycle);
* every function body (docstring excluded) is at most ``MAX_FUNCTION_LINES`` lines (modules are
  sized by what belongs together, not by a line cap);
* no module imports or reads another module's private (``_name``) names;
* the README's "Repository layout" tree has one entry per subpackage that names each of its
  modules.

Each check is a function of a source folder, with a self-test on a tiny synthetic package in
``tmp_path`` so that it cannot pass silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fas_lib"
README = PACKAGE.parent / "README.md"
MAX_FUNCTION_LINES = 60

#: The stages of ``fas_lib``, lowest first (``fas_lib.STAGES``, read from its source): a module
#: may import its own stage and those before it.
LAYERS: tuple[str, ...] = ast.literal_eval(next(
    node.value for node in ast.parse((PACKAGE / "__init__.py").read_text("utf-8")).body
    if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "STAGES"))

#: Cycles allowed when imports inside functions are counted, each with its reason.
#: Keys are the cycle's modules, sorted. Empty: the package has none.
ALLOWED_FUNCTION_LEVEL_CYCLES: dict[tuple[str, ...], str] = {}


# ----------------------------------------------------------------------------------------------
# Reading a package
# ----------------------------------------------------------------------------------------------


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the package folder ``root``."""
    mods = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node: ast.AST, module: str, is_package: bool, mods: dict[str, Path]) -> set[str]:
    """The package modules one import statement loads (a package's ``__init__`` included)."""
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(node, module, is_package)
        names = [base] + [f"{base}.{a.name}" for a in node.names]
    found = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            if ".".join(parts[:i]) in mods:
                found.add(".".join(parts[:i]))
    # a module's own packages are already being imported when its code runs: not an edge
    parts = module.split(".")
    return found - {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def import_graph(root: Path) -> dict[str, dict[str, set[str]]]:
    """Module -> {"top": ..., "function": ..., "type_checking": ...} imported package modules.

    ``top`` are module-scope imports (class bodies and ``try``/``if`` blocks at module scope
    included), ``function`` those inside a function, ``type_checking`` those under
    ``if TYPE_CHECKING:``.
    """
    mods = module_files(root)
    graph = {}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        edges: dict[str, set[str]] = {"top": set(), "function": set(), "type_checking": set()}

        def visit(node: ast.AST, kind: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child.test):
                    for stmt in child.body:
                        visit(ast.Module(body=[stmt], type_ignores=[]), "type_checking")
                    for stmt in child.orelse:
                        visit(ast.Module(body=[stmt], type_ignores=[]), kind)
                elif isinstance(child, (ast.Import, ast.ImportFrom)):
                    edges[kind] |= _targets(child, mod, is_pkg, mods)
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    visit(child, "function" if kind == "top" else kind)
                else:
                    visit(child, kind)

        visit(ast.parse(path.read_text(encoding="utf-8")), "top")
        graph[mod] = edges
    return graph


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def all_cycles(edges: dict[str, set[str]], allowed: set[tuple[str, ...]]) -> list[list[str]]:
    """Cycles not in ``allowed``: each found cycle's last edge is removed and the search rerun."""
    edges = {k: set(v) for k, v in edges.items()}
    cycles = []
    while (cycle := find_cycle(edges)) is not None:
        if tuple(sorted(set(cycle))) not in allowed:
            cycles.append(cycle)
        edges[cycle[-2]].discard(cycle[-1])
    return cycles


# ----------------------------------------------------------------------------------------------
# The checks (each returns a list of messages, empty when the rule holds)
# ----------------------------------------------------------------------------------------------


def top_level_cycles(root: Path) -> list[str]:
    graph = import_graph(root)
    cycle = find_cycle({m: e["top"] for m, e in graph.items()})
    return [" -> ".join(cycle)] if cycle else []


def function_level_cycles(root: Path, allowed: set[tuple[str, ...]] = frozenset()) -> list[str]:
    graph = import_graph(root)
    edges = {m: e["top"] | e["function"] for m, e in graph.items()}
    return [" -> ".join(c) for c in all_cycles(edges, set(allowed))]


def stage(module: str) -> str:
    """The subpackage (stage) a dotted module belongs to; ``""`` for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward_imports(root: Path, layers: tuple[str, ...] = LAYERS) -> list[str]:
    """Imports of a later stage than the importer's (any kind: top, function, TYPE_CHECKING), and
    modules outside every stage (the package's own ``__init__`` is below every stage)."""
    out = []
    for mod, edges in import_graph(root).items():
        here = stage(mod)
        if here and here not in layers:
            out.append(f"{mod}: in no stage of {layers}")
            continue
        for target in sorted(set().union(*edges.values())):
            there = stage(target)
            if there in layers and (not here or layers.index(there) > layers.index(here)):
                out.append(f"{mod} imports {target}: {there} is above {here or root.name}")
    return out


def undocumented_stages(root: Path) -> list[str]:
    """Subpackages whose ``__init__`` has no docstring, and modules at the package's top level."""
    out = [f"{p.name}: a module at the top level" for p in sorted(root.glob("*.py"))
           if p.name != "__init__.py"]
    for folder in sorted({p.parent for p in root.glob("**/*.py")} - {root}):
        init = folder / "__init__.py"
        if not init.is_file() or not ast.get_docstring(ast.parse(init.read_text("utf-8"))):
            out.append(f"{folder.relative_to(root.parent)}: no docstring in __init__.py")
    return out


def long_functions(root: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    out = []
    for mod, path in module_files(root).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = node.body
            if (
                len(body) > 1
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body = body[1:]
            n = body[-1].end_lineno - body[0].lineno + 1
            if n > limit:
                out.append(f"{mod}.{node.name} (line {node.lineno}): body {n} lines > {limit}")
    return out


def private_uses(root: Path) -> list[str]:
    """``from pkg.x import _y``, ``import pkg.x as m; m._y`` and ``pkg.x._y`` across modules."""
    mods = module_files(root)
    out = []
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}  # local name -> package module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _resolve(node, mod, is_pkg)
                for a in node.names:
                    full = f"{base}.{a.name}"
                    if full in mods:
                        aliases[a.asname or a.name] = full
                    elif base in mods and base != mod and a.name.startswith("_"):
                        out.append(f"{mod}: from {base} import {a.name}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in mods:
                        aliases[a.asname or a.name] = a.name
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            if node.attr.startswith("__") and node.attr.endswith("__"):
                continue
            target = _dotted(node.value)
            if target is None:
                continue
            head, _, rest = target.partition(".")
            owner = aliases.get(head)
            owner = f"{owner}.{rest}" if owner and rest else owner
            if owner is None and target in mods:
                owner = target
            if owner in mods and owner != mod:
                out.append(f"{mod} (line {node.lineno}): {target}.{node.attr}")
    return out


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def readme_layout_mismatches(root: Path, readme: Path) -> list[str]:
    """Subpackages of ``root`` without exactly one entry in the README's layout tree, and modules
    their entry does not name.

    An entry is a line indented by two spaces that starts with ``name/``; deeper lines continue
    it. A module is named by its file's stem (``reader`` for ``cache/reader.py``), a nested
    package by ``name/``.
    """
    text = readme.read_text(encoding="utf-8")
    block = text.split("## Repository layout", 1)[-1].split("```")[1]
    entries: dict[str, list[str]] = {}
    current = None
    for line in block.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            current = line.split()[0]
            entries.setdefault(current, []).append(line)
        elif line.startswith("   ") and current is not None:
            entries[current][-1] += " " + line.strip()
    out = []
    for pkg in sorted(p for p in root.iterdir() if (p / "__init__.py").is_file()):
        listed = entries.get(f"{pkg.name}/", [])
        if len(listed) != 1:
            out.append(f"{pkg.name}/: listed {len(listed)} times")
            continue
        words = set(listed[0].replace(",", " ").replace(";", " ").replace(":", " ").split())
        names = [p.stem for p in pkg.glob("*.py") if p.name != "__init__.py"]
        names += [f"{p.name}/" for p in pkg.iterdir() if (p / "__init__.py").is_file()]
        out += [f"{pkg.name}/{n}: not named in its entry" for n in sorted(names)
                if n not in words and f"{n}," not in words]
    out += [f"{name}: not a subpackage" for name in entries
            if name.endswith("/") and not (root / name / "__init__.py").is_file()]
    return out


# ----------------------------------------------------------------------------------------------
# The package
# ----------------------------------------------------------------------------------------------


def test_unit_tests_mirror_the_stages():
    """tests/unit holds one folder per stage of fas_lib (and tools/ for the scripts' tests)."""
    unit = PACKAGE.parent / "tests" / "unit"
    folders = {p.name for p in unit.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(LAYERS) | {"tools"}, (
        f"tests/unit folders {sorted(folders)} != the stages {list(LAYERS)} + tools")
    empty = [f for f in sorted(folders) if not list((unit / f).glob("test_*.py"))]
    loose = sorted(p.name for p in unit.glob("*.py"))
    assert not empty and not loose, f"stages without tests {empty}; tests outside a stage {loose}"


def test_no_top_level_import_cycle():
    cycles = top_level_cycles(PACKAGE)
    assert not cycles, "module-level import cycle: " + "; ".join(cycles)


def test_no_function_level_import_cycle():
    cycles = function_level_cycles(PACKAGE, set(ALLOWED_FUNCTION_LEVEL_CYCLES))
    assert not cycles, "import cycle through imports inside functions: " + "; ".join(cycles)


def test_nothing_imports_upward():
    wrong = upward_imports(PACKAGE)
    assert not wrong, "imports of a later stage:\n" + "\n".join(wrong)


def test_every_stage_is_a_documented_subpackage():
    wrong = undocumented_stages(PACKAGE)
    assert not wrong, "\n".join(wrong)


def test_functions_are_short():
    too_long = long_functions(PACKAGE)
    assert not too_long, "\n".join(too_long)


def test_no_private_names_across_modules():
    uses = private_uses(PACKAGE)
    assert not uses, "private names used across modules:\n" + "\n".join(uses)


def test_readme_lists_every_module_once():
    wrong = readme_layout_mismatches(PACKAGE, README)
    assert not wrong, "README 'Repository layout': " + "; ".join(wrong)


def test_graph_sees_the_package():
    graph = import_graph(PACKAGE)
    assert "fas_lib.synthspoof.screen" in graph
    assert "fas_lib.synthspoof.media" in graph["fas_lib.synthspoof.screen"]["top"]


# ----------------------------------------------------------------------------------------------
# Self-tests: each check catches a violation in a tiny synthetic package
# ----------------------------------------------------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_self_top_level_cycle(tmp_path):
    root = _package(
        tmp_path,
        {"a.py": "from pkg import b\n", "b.py": "from .c import x\n", "c.py": "import pkg.a\n"},
    )
    assert top_level_cycles(root) == ["pkg.a -> pkg.b -> pkg.c -> pkg.a"]
    # the same imports inside a function or under TYPE_CHECKING are not top-level
    root2 = _package(
        tmp_path / "2",
        {
            "a.py": "from pkg import b\n",
            "b.py": "def f():\n    from .a import y\n",
            "c.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg.b import z\n",
            "d.py": "from pkg import c\n",
        },
    )
    assert top_level_cycles(root2) == []
    graph = import_graph(root2)
    assert graph["pkg.b"]["function"] == {"pkg.a"}
    assert graph["pkg.c"]["type_checking"] == {"pkg.b"}
    assert function_level_cycles(root2) == ["pkg.a -> pkg.b -> pkg.a"]
    assert function_level_cycles(root2, {("pkg.a", "pkg.b")}) == []


def test_self_upward_import(tmp_path):
    root = _package(tmp_path, {
        "low/__init__.py": '"""Low."""\nimport pkg\n',
        "low/a.py": "def f():\n    from pkg.high import b\n",
        "high/__init__.py": "",
        "high/b.py": "from pkg.low import a\nfrom pkg.high import c\n",
        "high/c.py": "", "odd/d.py": "", "e.py": "from pkg.low import a\n",
    })
    assert upward_imports(root, ("low", "high")) == [
        "pkg.e: in no stage of ('low', 'high')",
        "pkg.low.a imports pkg.high: high is above low",
        "pkg.low.a imports pkg.high.b: high is above low",
        "pkg.odd.d: in no stage of ('low', 'high')",
    ]
    assert upward_imports(root, ("low", "high", "odd", "e")) == [
        "pkg.low.a imports pkg.high: high is above low",
        "pkg.low.a imports pkg.high.b: high is above low",
    ]
    del_low_to_high = root / "low" / "a.py"
    del_low_to_high.write_text("x = 1\n", encoding="utf-8")
    assert upward_imports(root, ("low", "high", "odd", "e")) == []
    assert undocumented_stages(root) == ["e.py: a module at the top level",
                                         "pkg/high: no docstring in __init__.py",
                                         "pkg/odd: no docstring in __init__.py"]


def test_self_long_function(tmp_path):
    doc = '    """Doc\n\n    lines.\n    """\n'
    ok = "def ok():\n" + doc + "    x = 1\n" * 3
    long = (
        "class C:\n    def long(self):\n        y = (\n            1\n        )\n"
        "        return y\n"
    )
    root = _package(tmp_path, {"m.py": ok + long})
    assert long_functions(root, limit=3) == ["pkg.m.long (line 10): body 4 lines > 3"]


def test_self_private_names(tmp_path):
    root = _package(
        tmp_path,
        {
            "a.py": "_x = 1\ndef _f():\n    return _x\n",
            "b.py": "from pkg.a import _x\n",
            "c.py": "from pkg import a\nfrom . import a as aa\nimport pkg.a\n"
            "y = a._f() + aa._x + pkg.a._x + a.__name__\n",
            "d.py": "from pkg.a import _f as f\n",
            "e.py": "class K:\n    def m(self):\n        return self._y\n",
        },
    )
    assert sorted(private_uses(root)) == [
        "pkg.b: from pkg.a import _x",
        "pkg.c (line 4): a._f",
        "pkg.c (line 4): aa._x",
        "pkg.c (line 4): pkg.a._x",
        "pkg.d: from pkg.a import _f",
    ]


def test_self_readme_layout(tmp_path):
    root = _package(tmp_path, {"a/__init__.py": "", "a/x.py": "", "a/y.py": "",
                               "a/n/__init__.py": "", "b/__init__.py": "", "b/z.py": "",
                               "c/__init__.py": ""})
    readme = tmp_path / "README.md"
    readme.write_text(
        "## Repository layout\n\n```\npkg/\n  a/   x: first, n/\n         and y\n"
        "  b/   nothing\n  gone/   old\n```\n", encoding="utf-8")
    assert readme_layout_mismatches(root, readme) == [
        "b/z: not named in its entry", "c/: listed 0 times", "gone/: not a subpackage"]


@pytest.mark.parametrize("check", [top_level_cycles, long_functions, private_uses])
def test_self_clean_package_passes(tmp_path, check):
    root = _package(tmp_path, {"a.py": "from pkg import b\n_x = 1\n", "b.py": "y = 2\n"})
    assert check(root) == []
