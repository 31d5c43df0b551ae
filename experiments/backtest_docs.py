"""Regenerate the backtest tables and figures quoted in docs/calibration.md ("Backtest").

Runs the rolling-origin backtests of the two shipped data sets (../shared/data: maven_crm and
olist_funnel) with the app's default fit settings (no fit.* overrides), then gathers their tables
into results/backtest_docs/backtest_docs.md and their figures into results/backtest_docs/, copying
the figures to docs/img/. A data set whose folder is absent is skipped with a message.

    make backtest-docs                                  # 200 replications per cutoff
    make backtest-docs ARGS="--replications 100 --workers 2"
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name, short name in docs/img, backtest keys, the single cutoff whose monthly figure the docs show
RUNS = (
    (
        "maven_crm",
        "maven",
        [
            "backtest.cutoffs=[2017-04-30,2017-05-31,2017-06-30,2017-07-31,2017-08-31,2017-09-30]",
            "backtest.horizon_days=90",
        ],
        "2017-06-30",
    ),
    (
        "olist_funnel",
        "olist",
        [
            "backtest.rolling.first=2018-01-31",
            "backtest.rolling.step_days=15",
            "backtest.rolling.count=7",
            "backtest.horizon_days=30",
        ],
        "2018-04-01",
    ),
)


def run_one(name: str, keys: list[str], data_dir: Path, out: Path, args) -> bool:
    """One rolling backtest into out/<name>; False when it failed (its message is on stderr)."""
    cmd = [
        sys.executable, "-m", "sim.calibrate.cli", f"data={name}", f"data.dir={data_dir / name}",
        *keys, f"backtest.replications={args.replications}", f"backtest.workers={args.workers}",
        f"seed={args.seed}", "overwrite=true", f"hydra.run.dir={out / name}",
    ]  # fmt: skip
    print("$ salesim-calibrate " + " ".join(cmd[3:]), flush=True)
    return subprocess.run(cmd, cwd=REPO).returncode == 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replications", type=int, default=200, help="simulated futures per cutoff")
    p.add_argument("--workers", type=int, default=1, help="processes for the replications")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=REPO / "results" / "backtest_docs")
    p.add_argument("--no-docs", action="store_true", help="do not copy the figures to docs/img/")
    args = p.parse_args(argv)
    data_dir, out = args.data_dir.resolve(), args.out.resolve()
    todo = [r for r in RUNS if (data_dir / r[0]).is_dir()]
    for r in RUNS:
        if r not in todo:
            print(
                f"skipping {r[0]}: {data_dir / r[0]} is absent (the shipped data sets live in ../shared/data)"
            )
    if not todo:
        return 0
    out.mkdir(parents=True, exist_ok=True)
    doc = [
        "# Backtests of the shipped data sets",
        "",
        f"Written by `make backtest-docs` (experiments/backtest_docs.py) on {dt.date.today()}: "
        f"default fit settings, {args.replications} replications per cutoff, seed {args.seed}.",
    ]
    figures, failed = [], []
    for name, short, keys, cutoff in todo:
        if not run_one(name, keys, data_dir, out, args):
            failed.append(name)
            continue
        run = out / name
        doc += ["", f"## {name}", "", (run / "rolling_backtest.md").read_text().rstrip()]
        for src, dst in (
            (run / "rolling_backtest.png", f"backtest_{short}_rolling.png"),
            (run / "rolling_scores.png", f"backtest_{short}_scores.png"),
            (run / "rolling" / cutoff / "backtest.png", f"backtest_{short}_{cutoff}.png"),
        ):
            shutil.copyfile(src, out / dst)
            figures.append(out / dst)
            doc += ["", f"![{dst}]({dst})"]
    (out / "backtest_docs.md").write_text("\n".join(doc) + "\n")
    if not args.no_docs:
        for f in figures:
            shutil.copyfile(f, REPO / "docs" / "img" / f.name)
    print(f"tables: {out / 'backtest_docs.md'}; figures: {len(figures)} in {out}"
          + ("" if args.no_docs else " and docs/img/"))  # fmt: skip
    if failed:
        print(f"failed: {', '.join(failed)} (see the messages above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
