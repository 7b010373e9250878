"""The shape of ``lms_core``: no import cycles, and no front-door framework inside it.

Cycles hide in function-level and ``TYPE_CHECKING`` imports as well as at module level, so the
graph is built from every ``import`` statement anywhere in a module (and from
``importlib.import_module("lms_core...")`` strings), read with ``ast`` without importing anything.
An edge goes to the module named, or to the submodule when ``from package import submodule``
names one; a package's ``__init__`` importing its own submodules is an edge like any other.
Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, but those parent edges are not
counted: every submodule would otherwise form a cycle with a package that re-exports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "lms_core"

#: The front doors' frameworks: the CLI (typer, rich, click), the back office (flask and its
#: extensions) and the jobs (huey, and the ``jobs`` package that wraps it) depend on lms_core,
#: never the other way round.
FORBIDDEN = ("typer", "rich", "click", "flask", "flask_admin", "flask_login", "huey", "jobs")


def _module_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _is_package(files: dict[str, Path], module: str) -> bool:
    return files[module].name == "__init__.py"


def _imported_names(module: str, path: Path, files: dict[str, Path]) -> set[str]:
    """Every module name this module's source imports, anywhere in the file."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if _is_package(files, module) else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between lms_core modules, the outside top-level packages each module imports)."""
    files = _module_files()
    edges: dict[str, set[str]] = {module: set() for module in files}
    outside: dict[str, set[str]] = {module: set() for module in files}
    for module, path in files.items():
        for name in _imported_names(module, path, files):
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                # `from pkg import name`: the submodule when `name` is one, else `pkg` itself.
                target = name
                while target not in files and "." in target:
                    target = target.rpartition(".")[0]
                if target in files and target != module:
                    edges[module].add(target)
            else:
                outside[module].add(name.partition(".")[0])
    return edges, outside


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_one_cycle(edges, set(component)) for component in components]


def _one_cycle(edges: dict[str, set[str]], component: set[str]) -> list[str]:
    """A concrete path start -> ... -> start inside one strongly connected component."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(edges[node] & component):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")  # pragma: no cover


#: Edges made only by an import inside a function (``import_file`` writes an errors file or
#: opens a table only when it gets that far) or only under ``if TYPE_CHECKING:``.
FUNCTION_LEVEL_EDGES = [
    ("lms_core.imports.runs", "lms_core.imports.errors_file"),  # in _refuse
    ("lms_core.imports.stages", "lms_core.formats.sources"),  # in _open
    ("lms_core.imports.stages", "lms_core.imports.oneroster.bundle"),  # in _open
]
TYPE_CHECKING_EDGES = [
    ("lms_core.certificates.pdf.qr", "lms_core.certificates.pdf.templates"),
    ("lms_core.security", "lms_core.settings"),
]
#: Outside packages imported only inside a function (segno) or under TYPE_CHECKING (fpdf).
HIDDEN_OUTSIDE = [
    ("lms_core.certificates.pdf.qr", "segno"),
    ("lms_core.certificates.pdf.qr", "fpdf"),
]


def _module_level_names(path: Path) -> set[str]:
    """What the module's own top-level statements import (not ``if`` blocks, not functions)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_graph_sees_function_level_and_type_checking_imports() -> None:
    edges, outside = _graph()
    files = _module_files()
    assert "lms_core.models.base" in edges["lms_core.models"]  # a package's own submodules count
    for module, target in FUNCTION_LEVEL_EDGES + TYPE_CHECKING_EDGES:
        assert target in edges[module], f"{module} -> {target} not in the graph"
        # The example still holds: no top-level statement of the module imports the target.
        top = _module_level_names(files[module])
        assert not any(n == target or n.startswith(target + ".") for n in top), (
            f"{module} imports {target} at module level now: pick another example"
        )
    for module, package in HIDDEN_OUTSIDE:
        assert package in outside[module], f"{module} -> {package} not seen"
        top = {n.partition(".")[0] for n in _module_level_names(files[module])}
        assert package not in top, f"{module} imports {package} at module level now"
    assert len(edges) > 50


def test_cycle_finder_reports_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c", "a"]]


def test_lms_core_has_no_import_cycle() -> None:
    edges, _ = _graph()
    cycles = _cycles(edges)
    assert not cycles, "import cycles in lms_core:\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_lms_core_imports_no_front_door_framework() -> None:
    _, outside = _graph()
    offenders = sorted(
        f"{module} imports {name}"
        for module, names in outside.items()
        for name in names & set(FORBIDDEN)
    )
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        # CSV/XLSX reading and writing serve every area, so they import none of them.
        ("lms_core.formats", ("lms_core.formats", "lms_core.errors")),
        # Alembic and the relationships need the models together, and nothing else.
        ("lms_core.models", ("lms_core.models",)),
        # Question banks and marking are pure: no database, no session, no area.
        ("lms_core.quizzes.bank", ("lms_core.quizzes.bank", "lms_core.errors", "lms_core.formats")),
        # Rendering a certificate needs a template and fonts, never the database (its worker
        # pool comes from lms_core.workers, which is standard library only).
        (
            "lms_core.certificates.pdf",
            ("lms_core.certificates.pdf", "lms_core.errors", "lms_core.workers"),
        ),
    ],
)
def test_inner_packages_depend_only_on_what_they_may(
    package: str, allowed: tuple[str, ...]
) -> None:
    edges, _ = _graph()
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        if module == package or module.startswith(package + ".")
        for target in targets
        if not any(target == a or target.startswith(a + ".") for a in allowed)
    )
    assert not offenders, "\n".join(offenders)
