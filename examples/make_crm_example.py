"""Write examples/crm_example/opportunities.csv: a CRM export made by salesim itself from a scenario
with known parameters (truth.yaml), so `salesim-calibrate data=crm_example` works on a bare clone and
its fit can be checked against the truth (docs/calibration.md, "The example export").

    .venv/bin/python examples/make_crm_example.py            # rewrites the shipped file
    .venv/bin/python examples/make_crm_example.py OUT.csv    # or writes elsewhere

One replication of truth.yaml (seed 2023, replication 0), 2023-01-01 .. 2023-12-31: every
opportunity created in the year, won or lost on its close date, or still open at the end (no close
date). Deterministic: the same file every time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

from sim.config import load_scenario
from sim.model.world import simulate_replication
from sim.records import OUTCOMES, crm_export

HERE = Path(__file__).resolve().parent / "crm_example"


def export() -> pd.DataFrame:
    """The example export as a table (what the CSV holds)."""
    sc = load_scenario(yaml.safe_load((HERE / "truth.yaml").read_text()))
    opp = crm_export(simulate_replication(sc, 0).opportunities, sc.start_date)
    outcome = opp["outcome"].astype(str)  # the names (the table holds them as a categorical)
    assert set(outcome) <= set(OUTCOMES), set(outcome)
    won = outcome == "won"
    return pd.DataFrame(
        {
            "opportunity_id": [f"OPP{i:05d}" for i in range(1, len(opp) + 1)],
            "segment": opp["segment"],
            "created_date": opp["created_date"],
            "close_date": opp["close_date"].where(outcome != "open"),
            "stage": outcome.map({"won": "Won", "lost": "Lost", "open": "Open"}),
            "amount": opp["amount"].where(won).round(2),
        }
    )


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else HERE / "opportunities.csv"
    export().to_csv(out, index=False, lineterminator="\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
