"""The package's layers, read from its `import` statements (ast): data flows one way.

LAYERS lists the modules bottom to top (docs/architecture.md draws them). A module may import its own
band and the bands below it, never above; nothing imports in a loop, not even through an import hidden
inside a function; and the product never imports its test harness, sim/validate.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "sim"

# Bottom to top: (band, modules). A name covers the module and, for a package, everything inside it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "facts",
        (
            "sim.streams",
            "sim.records",
            "sim.play_targets",
            "sim.pipeline_file",
            "sim.runfolder",
            "sim.money",
        ),
    ),
    ("schema", ("sim.config",)),
    (
        "engine",
        (
            "sim.distributions",
            "sim.close_pull",
            "sim.motions",
            "sim.plays",
            "sim.open_pipeline",
            "sim.agents",
            "sim.model",
        ),
    ),
    ("metrics", ("sim.metrics", "sim.metric_registry", "sim.stats")),
    ("runs", ("sim.executors", "sim.experiment")),
    ("comparisons", ("sim.sensitivity", "sim.compare")),
    (
        "outputs",
        (
            "sim.plots",
            "sim.sweep_plots",
            "sim.html_report",
            "sim.report",
            "sim.capacity_plan",
            "sim.gsa",
        ),
    ),
    ("composition", ("sim.compose",)),
    ("orchestration", ("sim.api", "sim.sweep", "sim.optimise")),
    ("commands", ("sim.cli", "sim.calibrate", "sim", "sim.__main__", "sim.results")),
    ("validation", ("sim.validate",)),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(name: str) -> bool:
    p = ROOT.parent.joinpath(*name.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path) -> list[tuple[str, bool]]:
    """(sim module imported, at module level?) for every import that runs (not TYPE_CHECKING)."""
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                continue
            inner = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                out.extend((a.name, top) for a in child.names if a.name.split(".")[0] == "sim")
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if child.module.split(".")[0] != "sim":
                    continue
                for a in child.names:  # `from sim import model` imports the module sim.model
                    sub = f"{child.module}.{a.name}"
                    out.append((sub if _exists(sub) else child.module, top))
            visit(child, inner)

    visit(ast.parse(path.read_text()), True)
    return out


def import_graph(module_level_only: bool = False) -> dict[str, set[str]]:
    """module -> the sim modules it imports (function-level imports too, unless asked not to)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = module_name(path)
        graph[name] = {
            m for m, top in imports(path) if (top or not module_level_only) and m != name
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of two or more modules (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def band(module: str) -> int:
    """The index in LAYERS of the band holding `module` (the longest declared name that covers it)."""
    best, where = "", -1
    for i, (_, names) in enumerate(LAYERS):
        for n in names:
            covers = module == n or (n != "sim" and module.startswith(n + "."))  # "sim": __init__
            if covers and len(n) > len(best):
                best, where = n, i
    return where


def test_a_module_nobody_declared_has_no_layer():
    assert band("sim.no_such_module") == -1
    assert LAYERS[band("sim.model.world")][0] == "engine"


def test_every_module_has_a_declared_layer():
    missing = sorted(m for m in import_graph() if band(m) < 0)
    assert not missing, (
        f"declare these modules' band in LAYERS (and docs/architecture.md): {missing}"
    )


def test_no_import_loops_among_the_modules_even_inside_functions():
    assert cycles(import_graph(module_level_only=True)) == []
    assert cycles(import_graph()) == []


def test_no_import_climbs_up_the_layers():
    up = [
        f"{m} ({LAYERS[band(m)][0]}) imports {d} ({LAYERS[band(d)][0]})"
        for m, deps in import_graph().items()
        for d in sorted(deps)
        if band(d) > band(m)
    ]
    assert up == []


def test_the_product_never_imports_its_test_harness():
    bad = [
        f"{m} imports {d}"
        for m, deps in import_graph().items()
        if not (m == "sim.validate" or m.startswith("sim.validate."))
        for d in sorted(deps)
        if d == "sim.validate" or d.startswith("sim.validate.")
    ]
    assert bad == []


# The checker itself, on made-up graphs and code: it must be able to fail.
def test_cycle_finder_finds_a_loop_hidden_behind_a_third_module():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_count_and_type_checking_ones_do_not(tmp_path: Path):
    code = (
        "from typing import TYPE_CHECKING\n"
        "from sim import config\n"
        "if TYPE_CHECKING:\n    from sim.model import World\n"
        "def f():\n    from sim.report import strict\n"
    )
    path = tmp_path / "mod.py"
    path.write_text(code)
    assert imports(path) == [("sim.config", True), ("sim.report", False)]


@pytest.mark.parametrize("low, high", [("sim.config", "sim.model"), ("sim.stats", "sim.report")])
def test_bands_order_what_the_design_puts_below(low: str, high: str):
    assert band(low) < band(high)
