"""Write a large synthetic CRM export (default 1,000,000 deals) in the example export's format, to
time salesim-calibrate on exports of that size (docs/reliability.md, "Large exports").

    .venv/bin/python experiments/large_export.py /tmp/big              # writes /tmp/big/opportunities.csv
    .venv/bin/python experiments/large_export.py /tmp/big --rows 3000000
    time .venv/bin/salesim-calibrate data=crm_example data.dir=/tmp/big data.as_of=2025-12-31 \
        check.replications=0 progress=true hydra.run.dir=/tmp/big_cal

Three years (2023-2025) of deals created uniformly at random, three segments, won with probability
0.3 after a gamma time to close (mean 45 days, cv 0.8) or lost after one of mean 20 days (cv 1.2),
closes at day resolution; deals whose close falls after 2025-12-31 are open then. Deterministic (a
fixed seed), written with numpy and pandas in a few seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = pd.Timestamp("2025-12-31")
FIRST = pd.Timestamp("2023-01-01")


def _gamma_days(rng: np.random.Generator, n: int, mean: float, cv: float) -> np.ndarray:
    k = 1.0 / (cv * cv)
    return np.floor(rng.gamma(k, mean / k, n))  # whole days: a close on the day created is 0


def export(rows: int, seed: int = 7) -> pd.DataFrame:
    """The export as a table: opportunity_id, segment, created_date, close_date, stage, amount."""
    rng = np.random.default_rng(seed)
    span = (AS_OF - FIRST).days + 1
    created = FIRST + pd.to_timedelta(np.sort(rng.integers(0, span, rows)), unit="D")
    segment = rng.choice(np.array(["smb", "mid", "ent"]), rows, p=[0.6, 0.3, 0.1])
    won = rng.random(rows) < 0.3
    days = np.where(won, _gamma_days(rng, rows, 45.0, 0.8), _gamma_days(rng, rows, 20.0, 1.2))
    close = created + pd.to_timedelta(days, unit="D")
    still_open = close > AS_OF
    stage = np.where(still_open, "Open", np.where(won, "Won", "Lost"))
    amount = np.where(won & ~still_open, np.round(rng.lognormal(9.5, 0.8, rows), 2), np.nan)
    return pd.DataFrame(
        {
            "opportunity_id": np.char.add("D", np.arange(1, rows + 1).astype(str)),
            "segment": segment,
            "created_date": created.strftime("%Y-%m-%d"),
            "close_date": pd.Series(close.strftime("%Y-%m-%d")).where(~still_open),
            "stage": stage,
            "amount": amount,
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    a.folder.mkdir(parents=True, exist_ok=True)
    out = a.folder / "opportunities.csv"
    export(a.rows, a.seed).to_csv(out, index=False, lineterminator="\n")
    print(f"wrote {out} ({a.rows:,} deals)")


if __name__ == "__main__":
    main()
