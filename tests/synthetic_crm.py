"""A synthetic one-segment CRM export built from day offsets, for calibration tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibrate.importer import CrmData
from sim.calibrate.importer import table as crm_table


def crm_from_days(
    name: str,
    day0: pd.Timestamp,
    created: np.ndarray,
    close: np.ndarray,
    won: np.ndarray,
    seen: np.ndarray,
    as_of_day: float,
    closes_from: pd.Timestamp | None = None,
) -> CrmData:
    """Deals created and closed on these days after `day0`; a deal not `seen` is still open on
    the export date (`as_of_day`)."""
    table = crm_table(
        pd.DataFrame(
            {
                "opportunity_id": [f"D{i}" for i in range(len(created))],
                "segment": "all",
                "created": day0 + pd.to_timedelta(created, unit="D"),
                "closed": (day0 + pd.to_timedelta(close, unit="D")).where(seen),
                "outcome": np.where(seen, np.where(won, "won", "lost"), "open"),
            }
        )
    )
    return CrmData(name, table, None, {}, day0 + pd.Timedelta(days=as_of_day), closes_from)
