"""The house's floors hold: every import of ours (function-level ones too) goes down a floor or
stays in its package without a cycle; `api/` and `dashboard/` never import each other; the sandbox
is a program apart. The map is `bot/layers.py`; README's architecture section is drawn from it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot import layers

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "api", "dashboard", "sandbox")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts and path.name[0].isdigit():
                continue  # frozen migrations import nothing of ours
            found[module_name(path)] = path
    return found


MODULES = our_modules()


def resolve(name: str) -> str | None:
    """The module of ours that `name` (a module, or a name inside one) refers to."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path) -> set[str]:
    """Every module of ours that `module` imports, wherever the import statement is."""
    found = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = resolve(name)
            if target and target != module:
                found.add(target)
    return found


GRAPH = {module: imports_of(module, path) for module, path in MODULES.items()}


def violation(source: str, target: str) -> str | None:
    """Why `source` may not import `target`, or None."""
    if layers.SANDBOX in (source.split(".")[0], target.split(".")[0]):
        if source.split(".")[0] == target.split(".")[0] == layers.SANDBOX:
            return None
        if target.split(".")[0] == layers.SANDBOX and source in layers.SANDBOX_STARTERS:
            return None
        return "the sandbox is a separate program"
    src, dst = layers.floor_of(source), layers.floor_of(target)
    assert src and dst, f"{source} or {target} is on no floor of bot/layers.py"
    for a, b in layers.APART:
        if {src[1], dst[1]} == {a, b}:
            return f"{a} and {b} never import each other"
    if src[1] == dst[1]:
        return None
    if dst[0] >= src[0]:
        return f"{dst[1]} (floor {dst[0]}) is not below {src[1]} (floor {src[0]})"
    return None


def test_every_module_is_on_a_floor() -> None:
    lost = [m for m in MODULES if layers.floor_of(m) is None and not m.startswith(layers.SANDBOX)]
    assert lost == []


def test_imports_only_go_down() -> None:
    bad = [f"{source} imports {target}: {why}" for source, targets in sorted(GRAPH.items())
           for target in sorted(targets) if (why := violation(source, target))]
    assert bad == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    # A package's __init__ importing its own submodules is not a cycle of design.
    graph = {m: {t for t in ts if not (m.startswith(t + ".") and MODULES[t].name == "__init__.py")}
             for m, ts in GRAPH.items()}
    assert find_cycle(graph) is None


@pytest.mark.parametrize(("graph", "cycle"), [
    ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


def test_an_upward_import_is_refused() -> None:
    assert violation("bot.inbound.inbox", "bot.automation.handover")
    assert violation("api.rest", "dashboard.state")
    assert violation("bot.platform.runtime", "sandbox.app")
    assert violation("sandbox.app", "bot.core.errors")
    assert violation("bot.automation.router", "bot.inbound.inbox") is None


def test_readme_draws_the_floors() -> None:
    assert layers.render() in (ROOT / "README.md").read_text()
