"""Read a CRM export (CSV or Parquet) through a column mapping into one opportunity table.

The mapping (configs/data/*.yaml, the `data` group) names the files, the columns, the date formats,
how stage values map to outcomes and which misspellings to fix. `load(settings)` returns `CrmData`:

- `opportunities`: the simulator's opportunity table (sim.records.CRM_COLUMNS, the schema in
  docs/metrics.md): day offsets from DAY0 next to the dates, `outcome` 'lost' | 'won' | 'open' (codes
  0, 1, 2), `type` 'new', `motion` the missing label, `amount` NaN where unknown; plus `account`;
- `leads`: lead_id, created, source (or None when the export has no dated leads);
- `rejected`: reason -> rows that could not be used (never dropped silently), among them the rows
  of pipelines (`pipelines`) or column values (`keep`) the mapping leaves out;
- `notes`: reason -> rows that were used after a repair (a name fixed, an account missing, ...);
- `as_of`: the last date the file knows; `closes_from`: the first close it records (earlier closes
  are missing from the extract, so deals created before it are left-truncated).

A file that cannot be read as mapped (missing file or column, a value that is not a date or a number,
a stage the mapping does not know) raises `CrmError` with one line naming file, row and column.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from sim import money
from sim.config import ConfigError
from sim.records import CRM_COLUMNS, OUTCOMES

REPO = Path(__file__).resolve().parents[2]
# `${repo_root:}` in configs/data/*.yaml: the folder holding configs/, so `data.dir` defaults to
# ../shared/data/<name> next to the repository whatever the current directory is.
OmegaConf.register_new_resolver("repo_root", lambda: str(REPO), replace=True)
# fields a mapping can name (data.opportunities.columns)
FIELDS = (
    "opportunity_id", "account", "segment", "owner", "source", "created", "closed", "amount",
    "pipeline",
)  # fmt: skip
DAY0 = pd.Timestamp("1970-01-01")  # an imported table's day offsets count from here


class CrmError(ConfigError):
    """A CRM file cannot be read as mapped: one line naming file, row and column."""


def _mapping_text(v: Any) -> Any:
    """A mapping given as one quoted string of YAML, e.g. on the command line
    `'data.opportunities.stages="{Сделка успешна: won, C6*: skip}"'`: Hydra's override grammar
    takes only plain ASCII words as dictionary keys (no spaces, colons or Cyrillic), but a quoted
    value may hold anything."""
    if not isinstance(v, str):
        return v
    try:
        out = yaml.safe_load(v)
    except yaml.YAMLError as exc:
        raise ValueError(f"not a YAML mapping ({str(exc).splitlines()[0]})") from None
    if not isinstance(out, dict):
        raise ValueError("not a mapping; write it as {value: outcome, ...}")
    return {str(k): val for k, val in out.items()}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CloseTable(_Model):
    """A second table of closed deals joined to the opportunities by a key (e.g. olist's wins)."""

    file: str
    key: str  # column in this file holding the opportunity id
    outcome: Literal["won", "lost"] = "won"
    columns: dict[str, str]  # closed (required), owner, amount, segment, account
    date_format: str | None = None


class OppTable(_Model):
    file: str
    columns: dict[str, str]  # field -> column in the file; opportunity_id and created are required
    stage: str | None = None  # column holding the deal stage
    stages: Annotated[
        dict[str, Literal["won", "lost", "open", "skip"]], BeforeValidator(_mapping_text)
    ] = {}
    # strftime format of the date columns, or one per field ({created: ..., closed: ...}) when
    # they differ (a time of creation, a day of close); None: pandas guesses (ISO 8601 always works)
    date_format: str | dict[Literal["created", "closed"], str] | None = None
    closes: CloseTable | None = None
    amount_for: list[Literal["won", "lost", "open"]] = ["won", "lost", "open"]
    zero_amount_is_missing: bool = False
    fixes: Annotated[
        dict[str, dict[str, str]], BeforeValidator(_mapping_text)
    ] = {}  # field -> {wrong value: right value}
    segment: str | None = None  # a fixed segment label when no column gives one
    # keep only rows whose columns.pipeline value is one of these names or shell-style patterns
    # ('C6:*'); rows of other pipelines are left out and counted. None: every pipeline is kept
    pipelines: list[str] | None = None
    # keep only rows whose file column (the key) holds one of the values or patterns (e.g.
    # {Currency: [RUB]}, {Type: ['New Business']}); the rest are left out and counted
    keep: Annotated[dict[str, list[str]], BeforeValidator(_mapping_text)] = {}


class LeadTable(_Model):
    file: str
    columns: dict[str, str]  # lead_id, created (required), source
    date_format: str | None = None


class DataSettings(_Model):
    """The `data` config group: where the export is and how to read it."""

    name: str
    dir: str
    opportunities: OppTable
    leads: LeadTable | None = None
    missing_label: str = "unknown"  # segment/source label for empty cells
    # the export date: no record can be dated after it (default: the newest file's modification
    # time, an upper bound even after a copy); rows dated later are rejected and counted
    as_of: dt.date | None = None
    # dates cut off from the rest of the file by more than this many days without a record are
    # outside the export's span (1900-01-01 placeholders, typos like 2071): rejected and counted
    span_gap_days: int = Field(365, ge=1)
    # reject: such rows (after the export date or outside the span) are left out of the fit and
    # counted; keep: they are used as they are (still counted)
    out_of_span: Literal["reject", "keep"] = "reject"
    # a deal amount above this is implausible (a typo, a sentinel, 1e300): set to unknown, counted
    max_amount: float = Field(1e9, gt=0)
    # times with a UTC offset are converted to this zone (an IANA name); times without one are
    # read as its wall-clock time
    timezone: str = "UTC"
    # the currency of the amounts (ISO 4217 code): every report and figure of the calibration and
    # the backtest prints amounts in it, and calibrated.yaml carries it as `currency:` (sim.money)
    currency: str = money.DEFAULT

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return money.check(v)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{v!r} is not a time zone (an IANA name such as 'UTC' or 'Europe/Moscow')"
            ) from None
        return v


@dataclass(frozen=True)
class CrmData:
    name: str
    opportunities: pd.DataFrame
    leads: pd.DataFrame | None
    rejected: dict[str, int]
    as_of: pd.Timestamp
    closes_from: pd.Timestamp | None = None
    notes: dict[str, int] = field(default_factory=dict)
    rows_read: int = 0
    currency: str = money.DEFAULT  # data.currency: what the amounts are in
    has_amounts: bool = False  # an amount column is mapped


def settings_from(data: dict[str, Any]) -> DataSettings:
    """Validate the `data` mapping; a bad key becomes one ConfigError line."""
    try:
        return DataSettings.model_validate(data)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            key = ".".join(["data", *(str(x) for x in e["loc"])])
            if e["type"] == "extra_forbidden":
                lines.append(f"config error: {key}: unknown key; check its spelling")
            elif e["type"] == "missing":
                lines.append(f"config error: {key}: required key is missing")
            else:
                msg = e["msg"].removeprefix("Value error, ")
                lines.append(f"config error: {key} = {e.get('input')!r}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def data_dir(s: DataSettings) -> Path:
    """`data.dir`: absolute, or relative to the current directory."""
    return Path(
        os.path.normpath(Path(s.dir).expanduser())
    )  # repo/../shared -> shared, for messages


# -- reading --------------------------------------------------------------------------------------
def _read(
    path: Path,
    what: str,
    columns: Collection[str] | None = None,
    distinct: Collection[str] = (),
) -> pd.DataFrame:
    """All cells as stripped strings (NA for empty); CRLF, a BOM and Parquet are handled.

    Only `columns` are read when the file has every one of them (a missing one reads the whole
    file, so the error can list what the file has). A CSV's other cells are read through a
    categorical, so each distinct value is one string object however many rows repeat it (a
    segment, a stage, a date): a 3-million-row export loads in a fraction of the memory of one
    object per cell. `distinct` columns (ids, amounts: mostly different values) are read as plain
    strings, which costs less for them than a categorical."""
    if not path.is_file():
        raise CrmError(
            f"data error: {path}: file not found ({what}); set data.dir=PATH to its folder"
        )
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq  # lazy: pandas loads pyarrow for Parquet files only

            names = pq.read_schema(path).names
            use = [c for c in names if c in columns] if columns else None
            df = pd.read_parquet(path, columns=use if use and set(columns) <= set(use) else None)
            for c in df.columns:
                if not pd.api.types.is_datetime64_any_dtype(df[c]):
                    df[c] = df[c].astype("string").str.strip().replace("", pd.NA)
            return df
        opts = {"keep_default_na": False, "encoding": "utf-8-sig"}
        header = [str(c) for c in pd.read_csv(path, dtype=str, nrows=0, **opts).columns]
        stripped = [c.strip() for c in header]
        use = None
        if columns is not None and len(set(stripped)) == len(stripped):
            if set(columns) <= set(stripped):
                use = [h for h, c in zip(header, stripped, strict=True) if c in columns]
        plain = {h for h, c in zip(header, stripped, strict=True) if c in distinct}
        dtype = {h: (str if h in plain else "category") for h in header}
        if len(set(header)) < len(header):  # pandas renames repeated names: read all as text
            dtype = str
        df = pd.read_csv(path, dtype=dtype, usecols=use, **opts)
    except pd.errors.EmptyDataError:
        raise CrmError(f"data error: {path}: the file is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        raise CrmError(f"data error: {path}: not a readable CSV: {str(exc).strip()}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CrmError(f"data error: {path}: cannot be read: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    for c in range(df.shape[1]):  # one column at a time: no second copy of the whole table
        df.isetitem(c, _cells(df.iloc[:, c]))
    return df


def _cells(s: pd.Series) -> pd.Series:
    """A column of a CSV as stripped strings (an object column, NA for empty); a categorical's
    distinct values are each one shared string object."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        return s.str.strip().replace("", pd.NA)
    values = [str(v).strip() for v in s.cat.categories]
    lookup = np.array([v if v else pd.NA for v in values] + [pd.NA], dtype=object)
    return pd.Series(lookup[s.cat.codes.to_numpy()], index=s.index, name=s.name)  # -1: NA


def _where(path: Path, i: int) -> str:
    """Row i (0-based, data rows of the whole file) as the user sees it: 1-based row and, for CSV,
    the file line. Callers pass the row's index label, which is its position in the file even
    after rows of other pipelines were left out."""
    if path.suffix.lower() == ".csv":
        return f"row {i + 1} (line {i + 2})"
    return f"row {i + 1}"


def _row(s: pd.Series, i: int) -> int:
    """The file row of the i-th value of `s` (its index label when the index is the file's rows)."""
    label = s.index[i]
    return int(label) if isinstance(label, (int, np.integer)) else i


def _column(df: pd.DataFrame, path: Path, field_: str, col: str, key: str) -> pd.Series:
    if col not in df.columns:
        raise CrmError(
            f"data error: {path}: column '{col}' ({key}.{field_}) not found; "
            f"the file has columns {list(df.columns)}"
        )
    return df[col]


def _matches(values: pd.Series, patterns: list[str]) -> pd.Series:
    """True where a value equals one of `patterns` or matches one as a shell-style pattern (`*`,
    `?`, `[...]`, the whole value); empty cells match nothing."""
    out = values.isin(patterns) & values.notna()
    globs = [p for p in patterns if any(ch in p for ch in "*?[")]
    if globs:
        for value in values[~out & values.notna()].unique():
            if any(fnmatch.fnmatchcase(str(value), p) for p in globs):
                out |= values == value
    return out.fillna(False).astype(bool)


def _keep_rows(raw: pd.DataFrame, t: OppTable, path: Path, rejected: dict) -> pd.DataFrame:
    """The rows of the pipelines (`pipelines`) and column values (`keep`) the mapping keeps; every
    row left out is counted by its value, before stages, dates and amounts are read, so stage
    values, dates and amounts of other pipelines need no mapping."""
    # (column, allowed values, the key that lists them, how a value is named, the mapping key
    # that names the column: for a missing-column error)
    rules = [
        (c, list(v), f"data.opportunities.keep.{c}", f"'{c}'", ("keep", "data.opportunities"))
        for c, v in t.keep.items()
    ]
    if t.pipelines is not None:
        if "pipeline" not in t.columns:
            raise ConfigError(
                "config error: data.opportunities.pipelines: needs the column that holds the "
                "pipeline: set data.opportunities.columns.pipeline"
            )
        col = t.columns["pipeline"]
        where = ("pipeline", "data.opportunities.columns")
        rules.insert(0, (col, t.pipelines, "data.opportunities.pipelines", "pipeline", where))
    for col, allowed, key, what, (field_, mapped) in rules:
        values = _column(raw, path, field_, col, mapped)
        hit = _matches(values, allowed)
        counts = values[~hit].fillna("").value_counts()
        for value, k in counts.head(20).items():
            shown = f"{what} {value!r}" if value != "" else f"empty {what}"
            _count(rejected, f"{shown} not in {key}", k)
        _count(rejected, f"{what}: {len(counts) - 20} other value(s) not in {key}",
               counts.iloc[20:].sum())  # fmt: skip
        raw = raw[hit]
    if not len(raw):
        raise CrmError(
            f"data error: {path}: no row is left after data.opportunities.pipelines/keep; "
            f"left out: {', '.join(f'{k} {r}' for r, k in rejected.items())}"
        )
    return raw


def map_stages(stage: pd.Series, stages: dict[str, str]) -> pd.Series:
    """Each stage value's outcome: an exact key first, else the first pattern key (shell-style
    `*`, `?`, `[...]`, in the mapping's order) that matches the whole value; NA when none does."""
    out = stage.map({k: v for k, v in stages.items()})
    patterns = [(k, v) for k, v in stages.items() if any(ch in k for ch in "*?[")]
    if patterns and out.isna().any():
        left = stage[out.isna() & stage.notna()]
        for value in left.unique():
            hit = next((v for k, v in patterns if fnmatch.fnmatchcase(str(value), k)), None)
            if hit is not None:
                out[left.index[left == value]] = hit
    return out


def _dates(
    s: pd.Series, fmt: str | None, path: Path, col: str, zone: str = "UTC", notes=None
) -> pd.Series:
    """A column of dates as naive datetimes. Times with a UTC offset (ISO 8601 `...+03:00`, `Z`),
    the same offset or mixed, are converted to `zone` (data.timezone) and counted in `notes`; times
    without one are read as that zone's wall-clock time."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert(zone).dt.tz_localize(None)
        return s.astype("datetime64[ns]")
    try:
        try:
            out = pd.to_datetime(s, format=fmt, errors="coerce")
        except ValueError as exc:  # offsets that differ from row to row
            if "Mixed timezones" not in str(exc):
                raise
            out = pd.to_datetime(s, format=fmt, errors="coerce", utc=True)
        if getattr(out.dt, "tz", None) is not None:
            if notes is not None:
                _count(notes, f"'{col}': times with a UTC offset, converted to {zone}",
                       out.notna().sum())  # fmt: skip
            out = out.dt.tz_convert(zone).dt.tz_localize(None)
        if out.dtype != "datetime64[ns]":  # some value beyond what nanoseconds hold
            out.astype("datetime64[ns]")
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        _out_of_bounds(s, fmt, path, col)
    bad = s.notna() & out.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        want = f"format {fmt!r}" if fmt else "a date"
        raise CrmError(
            f"data error: {path}: {_where(path, _row(s, i))}, column '{col}': {s.iloc[i]!r} is not a date "
            f"({want}); {int(bad.sum())} such row(s)"
        )
    return out.astype("datetime64[ns]")


def _out_of_bounds(s: pd.Series, fmt: str | None, path: Path, col: str) -> None:
    """Some value is a date pandas cannot hold: name the first such row and count them all (slow,
    one value at a time, but only on the way to the error)."""
    first, k = None, 0
    for i, v in enumerate(s.to_numpy()):
        if v is None or v is pd.NA:
            continue
        try:
            pd.Timestamp(pd.to_datetime(v, format=fmt)).as_unit("ns")
        except (pd.errors.OutOfBoundsDatetime, OverflowError):
            k += 1
            first = i if first is None else first
        except ValueError:
            continue  # not a date at all: the caller names it once these are fixed
    i = 0 if first is None else first
    raise CrmError(
        f"data error: {path}: {_where(path, _row(s, i))}, column '{col}': {s.iloc[i]!r} is outside the "
        f"dates that can be held ({pd.Timestamp.min.date()} .. {pd.Timestamp.max.date()}); "
        f"{max(k, 1)} such row(s)"
    )


def _numbers(s: pd.Series, path: Path, col: str) -> pd.Series:
    out = pd.to_numeric(s, errors="coerce")
    bad = s.notna() & out.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CrmError(
            f"data error: {path}: {_where(path, _row(s, i))}, column '{col}': {s.iloc[i]!r} is not a number; "
            f"{int(bad.sum())} such row(s)"
        )
    return out.astype(float)


def _count(d: dict[str, int], reason: str, n: int) -> None:
    if n:
        d[reason] = d.get(reason, 0) + int(n)


# -- the tables -----------------------------------------------------------------------------------
def _require(columns: dict, key: str, fields: tuple[str, ...]) -> None:
    """Every field in `fields` must be mapped to a column."""
    for req in fields:
        if req not in columns:
            raise ConfigError(f"config error: {key}.{req}: required key is missing")


def _opportunities(
    s: DataSettings, root: Path, rejected: dict, notes: dict, export: tuple[pd.Timestamp, str]
) -> pd.DataFrame:
    t = s.opportunities
    path = root / t.file
    mapped = [*t.columns.values(), *([t.stage] if t.stage else []), *t.keep]
    ids = [t.columns[f] for f in ("opportunity_id", "amount") if f in t.columns]
    raw = _read(path, "data.opportunities.file", mapped, ids)
    key = "data.opportunities.columns"
    _require(t.columns, key, ("opportunity_id", "created"))
    unknown = set(t.columns) - set(FIELDS)
    if unknown:
        raise ConfigError(
            f"config error: {key}.{sorted(unknown)[0]}: unknown field; fields are {list(FIELDS)}"
        )
    n = len(raw)
    raw = _keep_rows(raw, t, path, rejected)
    out = pd.DataFrame(index=raw.index)
    for f in FIELDS:
        if f in t.columns:
            col = _column(raw, path, f, t.columns[f], key)
            if f == "created" or f == "closed":
                fmt = t.date_format
                fmt = fmt.get(f) if isinstance(fmt, dict) else fmt
                out[f] = _dates(col, fmt, path, t.columns[f], s.timezone, notes)
            elif f == "amount":
                out[f] = _numbers(col, path, t.columns[f])
            else:
                out[f] = col.astype("string")
        elif f in ("closed",):
            out[f] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
        elif f == "amount":
            out[f] = np.nan
        else:
            out[f] = pd.Series(pd.NA, index=raw.index, dtype="string")
    if "pipeline" in t.columns and t.pipelines is None:
        mixed = out["pipeline"].nunique()
        _count(notes, f"from {mixed} pipelines, all kept (set data.opportunities.pipelines to "
               "keep some)", len(out) if mixed > 1 else 0)  # fmt: skip
    if t.segment is not None and "segment" not in t.columns:
        out["segment"] = t.segment
    for f in ("segment", "source"):
        if f in t.columns:
            _count(notes, f"no {f} (labelled {s.missing_label!r})", out[f].isna().sum())
            out[f] = out[f].fillna(s.missing_label)
    out["segment"] = out["segment"].fillna(s.missing_label).astype("string")
    for f, repl in t.fixes.items():
        if f not in out.columns:
            raise ConfigError(f"config error: data.opportunities.fixes.{f}: no such field")
        hit = out[f].isin(list(repl))
        _count(notes, f"{f} name fixed ({', '.join(f'{a} -> {b}' for a, b in repl.items())})",
               hit.sum())  # fmt: skip
        out[f] = out[f].replace(repl)

    # outcome: from the stage column, or from a joined table of closes
    if t.stage is not None:
        stage = _column(raw, path, "stage", t.stage, "data.opportunities")
        empty = stage.isna()
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise CrmError(
                f"data error: {path}: {_where(path, _row(stage, i))}, column '{t.stage}': empty stage; "
                f"allowed are {sorted(t.stages)}"
            )
        outcome = map_stages(stage, t.stages)
        unknown_stage = outcome.isna()
        if unknown_stage.any():
            counts = stage[unknown_stage].value_counts()
            shown = ", ".join(f"{v!r} ({n})" for v, n in counts.head(40).items())
            more = f" and {len(counts) - 40} more" if len(counts) > 40 else ""
            i = int(np.flatnonzero(unknown_stage.to_numpy())[0])
            raise CrmError(
                f"data error: {path}: column '{t.stage}': {len(counts)} unknown stage value(s), "
                f"first at {_where(path, _row(stage, i))}: {shown}{more}; data.opportunities.stages maps "
                f"{sorted(t.stages)}: add each as won, lost, open or skip (a key may be a "
                "pattern, e.g. 'C6:*': skip)"
            )
        out["outcome"] = outcome.astype(str)
        for value, k in stage[outcome == "skip"].value_counts().items():
            _count(rejected, f"stage '{value}' mapped to skip (not an opportunity)", k)
    else:
        out["outcome"] = np.where(out["closed"].notna(), "won", "open")
    if t.closes is not None:
        out = _join_closes(out, t.closes, root, rejected, s.timezone, notes)
    out = out[out["outcome"] != "skip"]

    # rows that cannot be used, by reason
    dup = out["opportunity_id"].duplicated(keep="first") | out["opportunity_id"].isna()
    _count(rejected, "missing or duplicate opportunity id", dup.sum())
    out = out[~dup]
    no_created = out["created"].isna()
    _count(rejected, "no created date", no_created.sum())
    out = out[~no_created]
    closed_no_date = out["outcome"].isin(["won", "lost"]) & out["closed"].isna()
    _count(rejected, "won or lost without a close date", closed_no_date.sum())
    out = out[~closed_no_date]
    backwards = out["closed"].notna() & (out["closed"] < out["created"].dt.normalize())
    _count(rejected, "closed before created", backwards.sum())
    out = out[~backwards]
    out = _dated_rows(out, s, export, rejected, notes)
    open_dated = (out["outcome"] == "open") & out["closed"].notna()
    _count(notes, "open deal with a close date (date ignored)", open_dated.sum())
    out.loc[open_dated, "closed"] = pd.NaT
    if "account" in t.columns:
        _count(notes, "no account", out["account"].isna().sum())
    if "owner" in t.columns:
        _count(notes, "no owner", out["owner"].isna().sum())

    amount = out["amount"].astype(float)
    if t.zero_amount_is_missing:
        amount = amount.where(amount != 0)
    amount = amount.where(out["outcome"].isin(t.amount_for))
    out["amount"] = _plausible(amount, out["outcome"], s.max_amount, notes)
    _count(notes, "rows read", n)
    if t.stage is not None:
        out["stage"] = stage.loc[out.index]
        del stage
    del raw  # the file's cells: the table below is built without them beside it
    out.index = pd.RangeIndex(len(out))  # as reset_index(drop=True), without copying the rows
    return table(out, s.missing_label)


def _export_date(s: DataSettings, root: Path) -> tuple[pd.Timestamp, str]:
    """The export date and where it came from: `data.as_of`, or the newest modification time of
    the files read (a copy only makes it later, so it stays an upper bound)."""
    if s.as_of is not None:
        return pd.Timestamp(s.as_of), "data.as_of"
    files = [s.opportunities.file]
    if s.opportunities.closes is not None:
        files.append(s.opportunities.closes.file)
    mtime = max((root / f).stat().st_mtime for f in files if (root / f).is_file())
    when = pd.Timestamp(dt.datetime.fromtimestamp(mtime, dt.UTC).date())
    return when, "the file's modification date; set data.as_of=YYYY-MM-DD to change it"


def span(days: np.ndarray, centre: float, gap: int) -> tuple[float, float]:
    """The run of dates (day numbers) around `centre` with no gap longer than `gap` days between
    neighbours: the export's span. Dates beyond such a gap are placeholders or typos."""
    u = np.unique(days[np.isfinite(days)])
    if not len(u):
        return -np.inf, np.inf
    i = int(np.clip(np.searchsorted(u, centre), 0, len(u) - 1))
    breaks = np.flatnonzero(np.diff(u) > gap)  # a break between u[b] and u[b + 1]
    lo = breaks[breaks < i]
    hi = breaks[breaks >= i]
    return float(u[lo[-1] + 1] if len(lo) else u[0]), float(u[hi[0]] if len(hi) else u[-1])


def _dated_rows(
    out: pd.DataFrame,
    s: DataSettings,
    export: tuple[pd.Timestamp, str],
    rejected: dict,
    notes: dict,
) -> pd.DataFrame:
    """Rows dated after the export date or outside the export's span: counted by reason, and left
    out unless `data.out_of_span` is keep (a quarter of rows dated 2031 would otherwise stretch the
    fit window to 2031 and thin the fitted arrivals without a word)."""
    when, why = export
    keep = s.out_of_span == "keep"
    into = notes if keep else rejected
    verb = "kept though" if keep else ""
    last = when + pd.Timedelta(days=1)
    future = (out["created"] >= last) | (out["closed"] >= last)
    _count(into, f"{verb} dated after the export date {when.date()} ({why})".strip(), future.sum())
    if not keep:
        out = out[~future]
    counted = future.to_numpy() if keep else np.zeros(len(out), bool)  # one reason per row
    created = day_of(out["created"])
    closed = day_of(out["closed"])
    ok = np.isfinite(created)
    if ok.any():
        lo, hi = span(
            np.concatenate([created, closed]), float(np.median(created[ok])), s.span_gap_days
        )
        outside = (
            (created < lo)
            | (created > hi)
            | (np.isfinite(closed) & ((closed < lo) | (closed > hi)))
        )
        a, b = (DAY0 + pd.Timedelta(days=lo)).date(), (DAY0 + pd.Timedelta(days=hi)).date()
        _count(into, f"{verb} dated outside the export's span {a} .. {b} (more than "
               f"data.span_gap_days = {s.span_gap_days} days from any other record)".strip(),
               (outside & ~counted).sum())  # fmt: skip
        if not keep:
            out = out[~outside]
    return out


def _plausible(amount: pd.Series, outcome: pd.Series, bound: float, notes: dict) -> pd.Series:
    """Negative, infinite and implausibly large amounts become unknown (the deal is kept), counted
    by reason; a won deal's zero amount is counted as not usable for the deal size."""
    inf = np.isinf(amount)
    neg = (amount < 0) & ~inf
    big = (amount > bound) & ~inf
    _count(notes, "amount infinite (set to unknown)", inf.sum())
    _count(notes, "amount negative (set to unknown)", neg.sum())
    _count(notes, f"amount above data.max_amount = {bound:g} (set to unknown)", big.sum())
    _count(notes, "won with amount 0 (not used for the deal size)",
           ((amount == 0) & (outcome == "won")).sum())  # fmt: skip
    return amount.mask(inf | neg | big)


def day_of(when) -> np.ndarray | float:
    """Day offset from DAY0 of a timestamp or a series of them (NaN for NaT)."""
    d = (pd.to_datetime(when) - DAY0) / pd.Timedelta(days=1)
    return d.to_numpy(dtype=float) if isinstance(d, pd.Series) else float(d)


def reopen(opp: pd.DataFrame, rows: pd.Series) -> None:
    """Turn `rows` of an opportunity table back into open deals, in place: outcome, close date and
    its day offset together (the table carries both; metrics read the offset, calibration the date)."""
    opp.loc[rows, "outcome"] = "open"
    opp.loc[rows, "close_date"] = pd.NaT
    opp.loc[rows, "closed_day"] = np.nan


def table(rows: pd.DataFrame, missing_label: str = "unknown") -> pd.DataFrame:
    """The opportunity table in the simulator's schema (CRM_COLUMNS, then `account`) from rows with
    the mapping's fields: opportunity_id, created, closed (timestamps), outcome, and optionally
    account, segment, owner, source, stage, amount. A CRM's deals are new business; without a
    motion, stage or lead date in the file those are the missing label, '' and NaT."""
    n = len(rows)

    def col(name, default):
        return rows[name] if name in rows else pd.Series(default, index=rows.index)

    def text(values) -> pd.Series:
        # each text column built as a string array of its own: made as objects and converted
        # afterwards, every conversion would copy the block of all object columns (3M rows: GBs)
        return pd.Series(values, index=rows.index).astype("string")

    created = pd.to_datetime(rows["created"]).astype("datetime64[ns]")
    closed = pd.to_datetime(col("closed", pd.NaT)).astype("datetime64[ns]")
    out = pd.DataFrame(
        {
            "opportunity_id": rows["opportunity_id"],
            "type": text(np.full(n, "new", dtype=object)),
            "motion": text(np.full(n, missing_label, dtype=object)),
            "segment": text(col("segment", missing_label)),
            "source": text(col("source", pd.NA)),
            "owner": text(col("owner", pd.NA)),
            "lead_date": pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]"),
            "created_date": created,
            "close_date": closed,
            "lead_day": np.full(n, np.nan),
            "created_day": day_of(created),
            "closed_day": day_of(closed),
            "stage": col("stage", "").astype("string").fillna(""),
            "outcome": pd.Categorical(rows["outcome"].astype(str), categories=list(OUTCOMES)),
            "amount": col("amount", np.nan).astype(float),
            "customer_id": np.full(n, -1),
            "account": text(col("account", pd.NA)),
        },
        index=rows.index,
    )
    order = [*CRM_COLUMNS, "account"]
    return out if list(out.columns) == order else out[order]  # no copy when already in order


def _join_closes(
    out: pd.DataFrame, c: CloseTable, root: Path, rejected: dict, zone: str, notes: dict
) -> pd.DataFrame:
    path = root / c.file
    ids = [c.key, *(c.columns[f] for f in ("amount",) if f in c.columns)]
    raw = _read(path, "data.opportunities.closes.file", [c.key, *c.columns.values()], ids)
    key = "data.opportunities.closes.columns"
    if "closed" not in c.columns:
        raise ConfigError(f"config error: {key}.closed: required key is missing")
    ids = _column(raw, path, "key", c.key, "data.opportunities.closes").astype("string")
    closed = _dates(_column(raw, path, "closed", c.columns["closed"], key), c.date_format, path,
                    c.columns["closed"], zone, notes)  # fmt: skip
    dup = ids.duplicated(keep="first") | ids.isna()
    _count(rejected, f"{c.file}: missing or duplicate {c.key}", dup.sum())
    known = ids.isin(out["opportunity_id"].dropna())
    _count(rejected, f"{c.file}: {c.key} not among the opportunities", (~known & ~dup).sum())
    keep = known & ~dup
    extra = {"closed": closed[keep].to_numpy()}
    for f, col in c.columns.items():
        if f == "closed":
            continue
        v = _column(raw, path, f, col, key)[keep]
        extra[f] = (_numbers(v, path, col) if f == "amount" else v.astype(object)).to_numpy()
    j = pd.DataFrame(extra, index=ids[keep].to_numpy())
    pos = out["opportunity_id"].map(pd.Series(np.arange(len(j)), index=j.index))
    hit = pos.notna().to_numpy()
    rows = pos[hit].astype(int).to_numpy()
    out = out.copy()
    out.loc[hit, "closed"] = j["closed"].to_numpy()[rows]
    out.loc[hit, "outcome"] = c.outcome
    for f in extra:
        if f != "closed":
            vals = j[f].to_numpy()[rows]
            out[f] = out[f].astype(float) if f == "amount" else out[f].astype(object)
            out.loc[hit, f] = vals
            if f != "amount":
                out[f] = out[f].astype("string")
    return out


def _leads(s: DataSettings, root: Path, rejected: dict, notes: dict) -> pd.DataFrame | None:
    t = s.leads
    if t is None:
        return None
    path = root / t.file
    raw = _read(path, "data.leads.file", list(t.columns.values()), [t.columns.get("lead_id", "")])
    key = "data.leads.columns"
    _require(t.columns, key, ("lead_id", "created"))
    out = pd.DataFrame(
        {
            "lead_id": _column(raw, path, "lead_id", t.columns["lead_id"], key).astype("string"),
            "created": _dates(
                _column(raw, path, "created", t.columns["created"], key),
                t.date_format,
                path,
                t.columns["created"],
                s.timezone,
                notes,
            ),
        }
    )
    if "source" in t.columns:
        src = _column(raw, path, "source", t.columns["source"], key).astype("string")
        out["source"] = src.fillna(s.missing_label)
    else:
        out["source"] = s.missing_label
    bad = out["created"].isna()
    _count(rejected, "lead with no created date", bad.sum())
    return out[~bad].reset_index(drop=True)


def load(settings: DataSettings | dict[str, Any]) -> CrmData:
    """Read the export described by `settings` (the `data` config group)."""
    s = settings if isinstance(settings, DataSettings) else settings_from(settings)
    root = data_dir(s)
    if not root.is_dir():
        raise CrmError(
            f"data error: data.dir = {str(root)!r}: no such folder; set data.dir=PATH to the "
            "export's folder (data=crm_example needs none: it ships with salesim)"
        )
    rejected: dict[str, int] = {}
    notes: dict[str, int] = {}
    if not (root / s.opportunities.file).is_file():
        _read(root / s.opportunities.file, "data.opportunities.file")  # names the missing file
    export = _export_date(s, root)
    opp = _opportunities(s, root, rejected, notes, export)
    leads = _leads(s, root, rejected, notes)
    if leads is not None and s.out_of_span == "reject":
        late = leads["created"] >= export[0] + pd.Timedelta(days=1)
        _count(rejected, f"lead dated after the export date {export[0].date()}", late.sum())
        leads = leads[~late].reset_index(drop=True)
    if not len(opp):
        raise CrmError(f"data error: {root / s.opportunities.file}: no usable opportunity rows")
    dates = [opp["created_date"].max(), opp["close_date"].max()]
    if leads is not None and len(leads):
        dates.append(leads["created"].max())
    as_of = max(d for d in dates if pd.notna(d)).normalize()
    closes_from = opp["close_date"].min()
    return CrmData(
        name=s.name,
        opportunities=opp,
        leads=leads,
        rejected=rejected,
        as_of=as_of,
        closes_from=None if pd.isna(closes_from) else closes_from.normalize(),
        notes={k: v for k, v in notes.items() if k != "rows read"},
        rows_read=notes.get("rows read", 0),
        currency=s.currency,
        has_amounts="amount" in s.opportunities.columns
        or (s.opportunities.closes is not None and "amount" in s.opportunities.closes.columns),
    )


def summary_lines(crm: CrmData) -> list[str]:
    """What was read, repaired and rejected, for the terminal and the report."""
    o = crm.opportunities
    counts = o["outcome"].value_counts()
    lines = [
        f"{crm.name}: {crm.rows_read} opportunity rows read, {len(o)} used "
        f"({counts.get('won', 0)} won, {counts.get('lost', 0)} lost, {counts.get('open', 0)} open); "
        f"as of {crm.as_of.date()}"
        + (
            f", closes recorded from {crm.closes_from.date()}"
            if crm.closes_from is not None
            else ""
        )
    ]
    if crm.has_amounts:
        lines.append(f"  amounts in {crm.currency} (data.currency)")
    if crm.leads is not None:
        lines.append(f"  leads: {len(crm.leads)}")
    for reason, k in crm.rejected.items():
        lines.append(f"  rejected {k} row(s): {reason}")
    for reason, k in crm.notes.items():
        lines.append(f"  repaired/kept {k} row(s): {reason}")
    return lines


MIN_OPPORTUNITIES = 10  # fewer usable rows than this cannot carry a fit of arrivals and outcomes


def check_fittable(crm: CrmData, settings: DataSettings | dict[str, Any]) -> None:
    """A file that reads but cannot be fitted (one row, one shared id, no wins, one date, no usable
    won amount) raises CrmError with one line naming the file, the column and the rows, instead of
    a traceback or a meaningless scenario deep inside the fit."""
    s = settings if isinstance(settings, DataSettings) else settings_from(settings)
    t = s.opportunities
    path = data_dir(s) / t.file
    o = crm.opportunities
    rows = f"rows 1..{crm.rows_read}" if crm.rows_read > 1 else "row 1"
    id_col = t.columns["opportunity_id"]
    if len(o) < MIN_OPPORTUNITIES:
        why = ", ".join(f"{k} {r}" for r, k in crm.rejected.items()) or "none rejected"
        if (
            len(o) == 1
            and crm.rows_read > 1
            and crm.rejected.get("missing or duplicate opportunity id", 0) == crm.rows_read - 1
        ):
            raise CrmError(
                f"data error: {path}: column '{id_col}': every row ({rows}) has the same id "
                f"{o['opportunity_id'].iloc[0]!r}; each opportunity needs an id of its own"
            )
        raise CrmError(
            f"data error: {path}: column '{id_col}': {len(o)} usable opportunity row(s) of "
            f"{crm.rows_read} ({rows}; rejected: {why}); the fit needs at least {MIN_OPPORTUNITIES}"
        )
    won = o["outcome"] == "won"
    if not won.any():
        if t.stage is not None:
            where = f"column '{t.stage}'"
        elif t.closes is not None:
            where = f"{t.closes.file}, column '{t.closes.key}'"
        else:
            where = f"column '{t.columns.get('closed', '?')}'"
        counts = o["outcome"].value_counts()
        raise CrmError(
            f"data error: {path}: {where}: no won deal in {rows} ({counts.get('lost', 0)} lost, "
            f"{counts.get('open', 0)} open); the fit needs at least one won deal"
        )
    created = o["created_date"].dt.normalize()
    if created.nunique() < 2:
        raise CrmError(
            f"data error: {path}: column '{t.columns['created']}': every usable row ({rows}) was "
            f"created on {created.iloc[0].date()}; arrivals need opportunities created on at least "
            "two different days"
        )
    closed = o["outcome"].isin(["won", "lost"])  # a mask: the two columns, not every row, are read
    took = (o["close_date"][closed] - o["created_date"][closed]).dt.total_seconds()
    if took.nunique() < 2:
        col = t.columns.get("closed") or (t.closes.columns["closed"] if t.closes else "?")
        raise CrmError(
            f"data error: {path}: column '{col}': every closed deal ({int(closed.sum())} in {rows}) took "
            f"the same time to close ({took.iloc[0] / 86400:g} days); the fit needs times that vary"
        )
    amount_col = t.columns.get("amount") or (t.closes.columns.get("amount") if t.closes else None)
    if amount_col is not None and "won" in t.amount_for:
        usable = o.loc[won, "amount"]
        if not (usable > 0).any():
            why = ", ".join(
                f"{k} {r}" for r, k in crm.notes.items() if r.startswith(("amount", "won"))
            )
            raise CrmError(
                f"data error: {path}: column '{amount_col}': none of the {int(won.sum())} won deals "
                f"in {rows} has a usable amount ({why or 'all empty'}); a deal size cannot be fitted"
            )
