"""Before/after check of an engine change: the same replications of a scenario run by this checkout and
by an earlier revision, and every metric compared.

    python bench/compare_engines.py --baseline 5e0ee01 --reps 1000

Both runs use the same seed, so each replication sees the same streams; a change that only reorders
simultaneous events or draws leaves most metrics identical replication by replication. For each metric
that differs beyond floating-point rounding (relative 1e-12: sums in another order) it prints the
means, Welch's two-sample test and the paired test on the per-replication differences (scipy.stats),
and flags a difference beyond chance at a Bonferroni-corrected 5 % over the metrics compared. Exit
status 1 when one is flagged.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench import baseline_checkout  # noqa: E402

CHILD = """
import sys, warnings
root, reps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, root)
warnings.filterwarnings("ignore")
from sim.api import simulate
res = simulate([f"replications={reps}", "executor=serial", *sys.argv[4:]])
res.replications.to_csv(out, index=False)
"""


def replications(root: Path, reps: int, overrides: list[str], out: Path):
    import pandas as pd

    subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(reps), str(out), *overrides],
        check=True,
        cwd=root,
    )
    return pd.read_csv(out)


def main() -> int:
    import numpy as np
    from scipy import stats

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--baseline", required=True, help="the git revision to compare with")
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("overrides", nargs="*", help="config overrides, e.g. seed=7 motion=mlg")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = replications(baseline_checkout(a.baseline), a.reps, a.overrides, Path(tmp) / "a")
        after = replications(ROOT, a.reps, a.overrides, Path(tmp) / "b")
    metrics = [c for c in before.columns if c in after and before[c].dtype.kind == "f"]
    same, rounding, rows = [], [], []
    for c in metrics:
        x, y = before[c].to_numpy(), after[c].to_numpy()
        ok = ~np.isnan(x) & ~np.isnan(y)
        if np.array_equal(x, y, equal_nan=True) or ok.sum() < 3:
            same.append(c)
            continue
        if np.allclose(x, y, rtol=1e-12, atol=0.0, equal_nan=True):  # summation order only
            rounding.append(c)
            continue
        welch = stats.ttest_ind(x[~np.isnan(x)], y[~np.isnan(y)], equal_var=False).pvalue
        paired = stats.ttest_rel(x[ok], y[ok]).pvalue
        rows.append((c, np.nanmean(x), np.nanmean(y), welch, paired))
    alpha = 0.05 / max(1, len(metrics))
    print(
        f"{a.reps} replications, {len(metrics)} metrics; identical in every replication: "
        f"{len(same)}; equal but for floating-point rounding (relative 1e-12): {len(rounding)}"
        + (f" ({', '.join(rounding)})" if rounding else "")
    )
    print(f"{'metric':<28}{'before':>14}{'after':>14}{'Welch p':>10}{'paired p':>10}")
    flagged = 0
    for c, mx, my, pw, pp in rows:
        flag = " <- beyond chance" if min(pw, pp) < alpha else ""
        flagged += bool(flag)
        print(f"{c:<28}{mx:>14.6g}{my:>14.6g}{pw:>10.3f}{pp:>10.3f}{flag}")
    print(f"flagged at Bonferroni alpha {alpha:.1e}: {flagged}")
    return 1 if flagged else 0


if __name__ == "__main__":
    raise SystemExit(main())
