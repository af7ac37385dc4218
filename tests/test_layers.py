"""The layering of issue 18 (point 4): thin scripts, stages named after their rules, one HTML
renderer, no import cycles in the library."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "lib" / "repgeo"


def _rule_scripts() -> dict[str, str]:
    """script file name -> the rules that run it."""
    out: dict[str, list[str]] = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        rule = None
        lines = smk.read_text().splitlines()
        for i, line in enumerate(lines):
            if m := re.match(r"^rule (\w+):", line):
                rule = m.group(1)
            if line.strip() == "script:":
                name = lines[i + 1].strip().strip('"').rsplit("/", 1)[1]
                out.setdefault(name, []).append(rule)
    return out


SCRIPTS = {k: v for k, v in _rule_scripts().items() if k.endswith(".py")}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_calls_its_stage_by_name_with_named_arguments(script):
    tree = ast.parse((REPO / "scripts" / script).read_text())
    imported = {
        alias.asname or alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("repgeo.stages")
        for alias in node.names
    }
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in imported
    ]
    assert len(calls) == 1, f"{script}: expected one stage call, found {[c.func.id for c in calls]}"
    call = calls[0]
    name = script.removesuffix(".py")
    assert call.func.id == name, f"{script}: the stage function is {call.func.id!r}, not named after its rule {name!r}"
    assert name in SCRIPTS[script], f"{script} is run by rules {SCRIPTS[script]}, none named {name!r}"
    assert not call.args, f"{script}: {call.func.id}() takes {len(call.args)} positional arguments; name them"


def test_one_html_renderer():
    """Every HTML table of the report comes from repgeo.html."""
    offenders = [
        str(path.relative_to(REPO))
        for path in LIB.rglob("*.py")
        if path.name != "html.py" and (".to_html(" in path.read_text() or "<!DOCTYPE html>" in path.read_text())
    ]
    assert not offenders, f"HTML rendered outside repgeo.html: {offenders}"


def _module_name(path: Path) -> str:
    rel = path.relative_to(LIB.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """repgeo modules imported by ``path``, at module level or inside functions (a deferred
    import that closes a cycle is still a cycle)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("repgeo"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("repgeo"))
    return found


def test_library_has_no_import_cycles():
    modules = {_module_name(p): p for p in LIB.rglob("*.py")}
    graph = {m: {t for t in _imports(p, m) if t in modules and t != m} for m, p in modules.items()}
    # a package's __init__ importing its own submodules is not a cycle of the submodules
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if m.startswith(t + ".") or t.startswith(m + "."):
                continue
            if state.get(t) == 1:
                cycles.append([*stack[stack.index(t) :], t] if t in stack else [m, t])
            elif t not in state:
                visit(t, [*stack, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
