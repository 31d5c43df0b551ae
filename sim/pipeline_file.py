"""Reading an open-pipeline file (CSV or Parquet) into rows: below sim.config, which reads the file
while validating a scenario, so a bad file stops the run before it starts (sim.open_pipeline runs the
deals)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

COLUMNS = ("segment", "motion", "stage", "age_days", "amount")
REQUIRED = ("segment", "stage", "age_days")


def read_rows(path: str) -> list[dict[str, Any]]:
    """Rows of a CSV or Parquet open-pipeline file, as dicts of the known columns (others ignored).

    Raises ValueError naming the file, the row (the file's line number for CSV) and the column.
    """
    import pandas as pd  # lazy: pandas costs 0.3 s, and only a warm start from a file needs it

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"file not found (relative paths start at {Path.cwd()})")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            df, first = pd.read_parquet(p), 1
        else:
            df, first = pd.read_csv(p, dtype=str, keep_default_na=False), 2
    except Exception as exc:  # pandas/pyarrow raise many kinds; one line is what the user needs
        raise ValueError(f"cannot read {p.name}: {str(exc).splitlines()[0]}") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(
            f"{p.name}: column(s) {missing} missing; required: {list(REQUIRED)}, "
            f"optional: motion, amount; found {list(df.columns)}"
        )
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        where = f"{p.name}, {'line' if first == 2 else 'row'} {i + first}"
        row: dict[str, Any] = {"origin": where}
        for c in COLUMNS:
            v = rec.get(c)
            if isinstance(v, str):
                v = v.strip()
            if v is None or v == "" or (isinstance(v, float) and math.isnan(v)):
                if c in REQUIRED:
                    raise ValueError(f"{where}, column {c}: empty; a value is required")
                continue
            if c in ("age_days", "amount"):
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    v = math.nan
                if not math.isfinite(v) or v < 0 or (c == "amount" and v == 0):
                    allowed = "a number of days >= 0" if c == "age_days" else "a number > 0"
                    raise ValueError(f"{where}, column {c}: {rec.get(c)!r} is not {allowed}")
            row[c] = v if c in ("age_days", "amount") else str(v)
        rows.append(row)
    return rows
