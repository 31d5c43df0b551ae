"""Draw docs/import_graph.png: salesim's modules in their layers (tests/test_layers.py) and the imports
between them, read from the source with ast. Packages (sim.model, sim.agents, sim.calibrate,
sim.validate) are drawn as one box each.

    .venv/bin/python docs/import_graph.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.test_layers import LAYERS, band, import_graph  # noqa: E402

PACKAGES = ("sim.model", "sim.agents", "sim.calibrate", "sim.validate")


def node(module: str) -> str:
    for p in PACKAGES:
        if module == p or module.startswith(p + "."):
            return p
    return module


def main(path: Path = ROOT / "docs" / "import_graph.png") -> None:
    edges = {
        (node(m), node(d)) for m, deps in import_graph().items() for d in deps if node(m) != node(d)
    }
    nodes = sorted({node(m) for m in import_graph()}, key=lambda n: (band(n), n))
    rows: dict[int, list[str]] = {}
    for n in nodes:
        rows.setdefault(band(n), []).append(n)
    pos = {}
    for b, names in rows.items():
        for i, n in enumerate(names):
            pos[n] = ((i + 1) / (len(names) + 1), b)
    fig, ax = plt.subplots(figsize=(13, 9.5))
    for a, b in sorted(edges):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate(
            "",
            xy=(x1, y1 + 0.18),
            xytext=(x0, y0 - 0.18),
            arrowprops={"arrowstyle": "->", "color": "#8C8C8C", "lw": 0.7, "alpha": 0.6},
        )
    for n, (x, y) in pos.items():
        ax.text(
            x,
            y,
            n.removeprefix("sim.") if n != "sim" else "sim (package)",
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round", "fc": "#DCE6F2", "ec": "#4C72B0"},
        )
    for i, (name, _) in enumerate(LAYERS):
        ax.text(-0.02, i, name, ha="right", va="center", fontsize=10, color="#C44E52")
        ax.axhline(i, color="#EEEEEE", lw=6, zorder=0)
    ax.set_xlim(-0.2, 1.0)
    ax.set_ylim(-0.6, len(LAYERS) - 0.4)
    ax.set_axis_off()
    ax.set_title("salesim: modules by layer, arrows point to what a module imports (always down)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(path)


if __name__ == "__main__":
    main()
