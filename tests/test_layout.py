"""The layout holds (docs/ARCHITECTURE.md draws it): no import cycle in pipeline/, packages
import one way (each only from the layers below it), every SQL statement is in
pipeline/state/, no module over MAX_LINES lines, and function-level imports only where they
buy the CLI its start-up time or load a heavy optional dependency. Read with `ast`: imports
inside functions count; imports under `if TYPE_CHECKING:` do not (they never run)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PIPELINE = Path(__file__).resolve().parent.parent / "pipeline"
MAX_LINES = 400  # lines of the file as `wc -l` counts them: split a module rather than grow it
# Bottom to top; a module may import from its own package and the layers below. The kernel is
# the top-level modules and config/. A new package gets its place here (ARCHITECTURE.md).
LAYERS = ("kernel", "tracking", "feeds", "issue", "curation", "mail", "inbound", "stats",
          "archive", "state", "delivery", "jobs", "web", "cli")
HEAVY = {"httpx", "websockets", "uvicorn", "email_validator"}  # only for the commands needing them
SQL_CALL = re.compile(r"\.(execute|executemany|executescript)\(|sqlite3\.connect\(")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PIPELINE.rglob("*.py")):
        parts = list(path.relative_to(PIPELINE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _runtime_imports(tree: ast.Module):
    """Every import statement that runs (at module level or in a function), with whether it
    is inside a function; the body of `if TYPE_CHECKING:` is skipped."""
    def visit(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    yield from visit(other, in_function)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, in_function
            yield from visit(child, in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))
    yield from visit(tree, False)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The pipeline modules an import statement loads (a package's `from . import x` loads the
    submodule x when there is one)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".")
            if MODULES[module].name != "__init__.py":
                base = base[:-1]
            base = base[: len(base) - node.level + 1]
            base_name = ".".join(base + ([node.module] if node.module else []))
        else:
            base_name = node.module or ""
        names = [f"{base_name}.{alias.name}" if f"{base_name}.{alias.name}" in MODULES
                 else base_name for alias in node.names]
    return [name for name in names if name in MODULES and name != module]


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {target for node, _ in _runtime_imports(tree)
                         for target in _targets(module, node)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    is_package = MODULES[module].name == "__init__.py"
    if len(parts) == 1 or (len(parts) == 2 and not is_package) or parts[1] == "config":
        return "kernel"
    return parts[1]


def test_the_graph_is_read_whole():
    graph = _graph()
    # A function-level import counts (the CLI's commands import the stages inside them).
    assert "pipeline.jobs.weekly" in graph["pipeline.cli.run_cmds"]
    # A package's `from . import x` is the module x.
    assert "pipeline.delivery.journal" in graph["pipeline.delivery.loop"]
    # TYPE_CHECKING imports never run.
    assert "pipeline.state.handle" not in graph["pipeline.cli.send_cmds"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)


def test_packages_import_one_way():
    wrong = []
    for module, targets in _graph().items():
        if module == "pipeline.__main__":  # the program itself
            continue
        layer = _layer(module)
        assert layer in LAYERS, f"{module}: package {layer!r} has no place in LAYERS"
        for target in targets:
            if LAYERS.index(_layer(target)) > LAYERS.index(layer):
                wrong.append(f"{module} ({layer}) imports {target} ({_layer(target)})")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_sql_only_in_the_state_package():
    outside = []
    for module, path in MODULES.items():
        if module.startswith("pipeline.state"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SQL_CALL.search(line):
                outside.append(f"{path.relative_to(PIPELINE.parent)}:{number}: {line.strip()}")
    assert not outside, "SQL outside pipeline/state/:\n" + "\n".join(outside)


def test_no_module_over_the_limit():
    long = {str(path.relative_to(PIPELINE.parent)): count for path in MODULES.values()
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them): {long}"


def test_function_level_imports_only_for_start_up_or_heavy_dependencies():
    wrong = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, in_function in _runtime_imports(tree):
            if not in_function or module.startswith("pipeline.cli"):
                continue
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if node.level == 0 else ["(relative)"])
            if not all(name.split(".")[0] in HEAVY for name in names):
                wrong.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert not wrong, "function-level imports outside the CLI:\n" + "\n".join(wrong)
