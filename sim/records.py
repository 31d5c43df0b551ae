"""Facts a replication leaves behind, kept columnar, shaped like a CRM export.

The model appends facts through `Recorder`; `Recorder.finish()` freezes them into `Records`: numpy
columns (`Records.columns`), which sim.metrics reads directly, and the same tables as pandas
DataFrames (`Records.opportunities`, `.customers`, ...), built only when a consumer asks for one.
The opportunity table has one schema (OPP_COLUMNS, codes OUTCOMES and TYPES, docs/metrics.md) that
the CRM importer (sim.calibrate.importer) writes too, so the same metric code runs on a real CRM file.
Days are floats from the scenario's start; month m covers [m * MONTH_DAYS, (m + 1) * MONTH_DAYS).
"""

from __future__ import annotations

import datetime as dt
from array import array
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

MONTH_DAYS = 365.25 / 12

OUTCOMES = ("lost", "won", "open")  # `outcome` codes 0, 1, 2 in the opportunity table
LOST, WON, OPEN = 0, 1, 2
TYPES = ("new", "expansion")  # `type` codes 0, 1
NEW, EXPANSION = 0, 1
OPP_COLUMNS = (
    "opportunity_id",
    "type",
    "motion",
    "segment",
    "source",
    "owner",
    "lead_day",
    "created_day",
    "closed_day",
    "stage",
    "outcome",
    "amount",
    "customer_id",
)

DATE_COLUMNS = ("lead_date", "created_date", "close_date")  # start date + lead/created/closed_day
# The opportunity table as a file (crm_export) and as read from a CRM (sim.calibrate.importer): the
# day offsets with the dates they stand for, in front of them.
CRM_COLUMNS = (*OPP_COLUMNS[:6], *DATE_COLUMNS, *OPP_COLUMNS[6:])


def month_of(t: np.ndarray | float) -> np.ndarray | int:
    return (
        np.floor_divide(t, MONTH_DAYS).astype(int)
        if isinstance(t, np.ndarray)
        else int(t // MONTH_DAYS)
    )


Columns = dict[str, np.ndarray]
TABLES = (
    "opportunities",
    "customers",
    "funnel",
    "leads",
    "costs",
    "staff",
    "open_at_end",
    "work",
    "reps",
)
REP_COLUMNS = ("rep", "month", "days", "ramp", "quota", "productivity")  # the `reps` table
WORK_ROLES = ("sdr", "ae")  # roles whose time is logged by motion and segment (`Recorder.work`)


@dataclass(frozen=True)
class Records:
    """One replication's facts, columnar: `columns[table][column]` is a numpy array (see
    docs/model.md for the tables). Coded columns hold integer codes: an opportunity's `type` into
    TYPES, `outcome` into OUTCOMES, `motion` into `motions`, `segment` into `segments`, `stage` into
    `stages[motion]`; a customer's `motion` into `motions` + ("installed_base",); funnel, lead and
    open_at_end rows' `motion`/`segment` likewise. The attributes of the same names
    (`opportunities`, `customers`, ...) are pandas DataFrames with labels, built on first access."""

    columns: dict[str, Columns]
    waits: dict[str, np.ndarray]
    warmup_days: float
    horizon_days: float
    motions: tuple[str, ...]
    stages: dict[str, tuple[str, ...]]
    segments: tuple[str, ...]
    owners: dict[str, tuple[str, ...]] | None = None
    events: int = 0  # simpy events processed (a cost diagnostic, not a fact of the world)
    sla_hours: float | None = None  # the speed-to-lead SLA a play set (sim.plays), if any
    ae_hours_per_day: float | None = None  # AE selling hours in a selling day (None: slots only)
    # cost-ledger motion 'play:<name>' -> (motion indices, segment indices) the play targets
    play_targets: dict | None = None
    # SDR prospecting days an outbound meeting takes, by segment (1 / outbound_meetings_day)
    sdr_days_per_meeting: tuple[float, ...] | None = None
    # relative cost of an AE hour by segment (team.ae.hour_cost); None: every hour alike
    ae_hour_cost: tuple[float, ...] | None = None

    @property
    def window(self) -> tuple[float, float]:
        return self.warmup_days, self.warmup_days + self.horizon_days

    @classmethod
    def from_frames(
        cls,
        *,
        opportunities: pd.DataFrame,
        customers: pd.DataFrame,
        funnel: pd.DataFrame,
        leads: pd.DataFrame,
        costs: pd.DataFrame,
        staff: pd.DataFrame,
        open_at_end: pd.DataFrame | None = None,
        work: pd.DataFrame | None = None,
        reps: pd.DataFrame | None = None,
        **fields,
    ) -> Records:
        """Records from tables with labels (the DataFrame attributes' shape), e.g. hand-made or read
        from files; the given frames are what the DataFrame attributes return."""
        motions, segments = tuple(fields["motions"]), tuple(fields["segments"])
        stages = fields["stages"]
        owners = fields.get("owners") or {}
        cust_motions = (*motions, "installed_base")
        frames = {
            "opportunities": opportunities,
            "customers": customers,
            "funnel": funnel,
            "leads": leads,
            "costs": costs,
            "staff": staff,
            "open_at_end": open_at_end,
        }
        if work is not None:
            frames["work"] = work
        if reps is not None:
            frames["reps"] = reps
        o = opportunities
        opp = opp_columns(o, motions, segments)
        opp["stage"] = np.array(
            [
                _index(stages.get(m, ()), s)
                for m, s in zip(o["motion"].astype(str), o["stage"].astype(str), strict=True)
            ],
            dtype=int,
        )
        cols: dict[str, Columns] = {
            "opportunities": opp,
            "customers": {
                "customer_id": customers["customer_id"].to_numpy(dtype=int),
                "start_day": customers["start_day"].to_numpy(dtype=float),
                "acv": customers["acv"].to_numpy(dtype=float),
                "term_days": customers["term_days"].to_numpy(dtype=float),
                "segment": codes(customers["segment"], segments),
                "motion": codes(customers["motion"], cust_motions),
                "churn_day": customers["churn_day"].to_numpy(dtype=float),
            },
            "funnel": {
                "motion": codes(funnel["motion"], motions),
                "stage_index": funnel["stage_index"].to_numpy(dtype=int),
                "owner": np.array(
                    [
                        (owners.get(m) or ("",) * (k + 1))[k]
                        for m, k in zip(funnel["motion"], funnel["stage_index"], strict=True)
                    ],
                    dtype=object,
                ),
                **{
                    c: funnel[c].to_numpy(dtype=int if c == "month" else float)
                    for c in ("month", "advanced", "dropped", "stage_days")
                },
            },
            "leads": {
                "motion": codes(leads["motion"], motions),
                "source": leads["source"].to_numpy(dtype=object),
                "segment": codes(leads["segment"], segments),
                "month": leads["month"].to_numpy(dtype=int),
                "leads": leads["leads"].to_numpy(dtype=int),
            },
            "costs": {
                "month": costs["month"].to_numpy(dtype=int),
                "category": costs["category"].to_numpy(dtype=object),
                "motion": costs["motion"].to_numpy(dtype=object),
                "amount": costs["amount"].to_numpy(dtype=float),
                "segment": np.array(
                    [segments.index(x) if x in segments else -1 for x in costs["segment"]]
                    if "segment" in costs
                    else [-1] * len(costs),
                    dtype=int,
                ),
            },
            "staff": {
                c: staff[c].to_numpy(dtype=object if c == "role" else float) for c in staff.columns
            },
            "open_at_end": {
                "motion": codes(open_at_end["motion"], motions),
                "stage_index": open_at_end["stage_index"].to_numpy(dtype=int),
                "open": open_at_end["open"].to_numpy(dtype=int),
            }
            if open_at_end is not None
            else None,
            "work": {
                "role": work["role"].to_numpy(dtype=object),
                "motion": codes(work["motion"], motions),
                "segment": codes(work["segment"], segments),
                "month": work["month"].to_numpy(dtype=int),
                "days": work["days"].to_numpy(dtype=float),
            }
            if work is not None
            else _no_work(),
            "reps": {
                c: reps[c].to_numpy(dtype=object if c == "rep" else int if c == "month" else float)
                for c in REP_COLUMNS
            }
            if reps is not None
            else _no_reps(),
        }
        cols["staff"]["month"] = staff["month"].to_numpy(dtype=int)
        rec = cls(columns=cols, **fields)
        for name, frame in frames.items():
            rec.__dict__[name] = frame  # what the DataFrame attributes return (cached_property)
        return rec

    # -- the tables as DataFrames, built on first access --------------------------------------------
    @cached_property
    def opportunities(self) -> pd.DataFrame:
        c = self.columns["opportunities"]
        width = max((len(s) for s in self.stages.values()), default=1)
        table = np.array(
            [list(self.stages[m]) + [""] * (width - len(self.stages[m])) for m in self.motions],
            dtype=object,
        ).reshape(len(self.motions), width)
        out = pd.DataFrame(
            {
                "opportunity_id": c["opportunity_id"],
                "type": np.array(TYPES, dtype=object)[c["type"]],
                "motion": pd.Categorical.from_codes(c["motion"], self.motions),
                "segment": pd.Categorical.from_codes(c["segment"], self.segments),
                "source": c["source"],
                "owner": c["owner"],
                **{k: c[k] for k in ("lead_day", "created_day", "closed_day")},
                "stage": table[c["motion"], c["stage"]],
                "outcome": pd.Categorical.from_codes(c["outcome"], OUTCOMES),
                "amount": c["amount"],
                "customer_id": c["customer_id"],
            }
        )
        for k in ("type", "source", "owner"):
            out[k] = out[k].astype(str)
        return out

    @cached_property
    def customers(self) -> pd.DataFrame:
        c = self.columns["customers"]
        return pd.DataFrame(
            {
                **{k: c[k] for k in ("customer_id", "start_day", "acv", "term_days")},
                "segment": pd.Categorical.from_codes(c["segment"], self.segments),
                "motion": pd.Categorical.from_codes(c["motion"], (*self.motions, "installed_base")),
                "churn_day": c["churn_day"],
            }
        )

    @cached_property
    def funnel(self) -> pd.DataFrame:
        c = self.columns["funnel"]
        mi, k = c["motion"].tolist(), c["stage_index"].tolist()
        return pd.DataFrame(
            {
                "motion": [self.motions[i] for i in mi],
                "stage_index": c["stage_index"],
                "stage": [self.stages[self.motions[i]][j] for i, j in zip(mi, k, strict=True)],
                "owner": c["owner"].tolist(),
                "month": c["month"],
                "advanced": c["advanced"],
                "dropped": c["dropped"],
                "stage_days": c["stage_days"],
            }
        )

    @cached_property
    def leads(self) -> pd.DataFrame:
        c = self.columns["leads"]
        names, segs = np.array(self.motions, dtype=object), np.array(self.segments, dtype=object)
        rows = zip(
            names[c["motion"]].tolist(),
            c["source"].tolist(),
            segs[c["segment"]].tolist(),
            c["month"].tolist(),
            c["leads"].tolist(),
            strict=True,
        )
        return pd.DataFrame(list(rows), columns=["motion", "source", "segment", "month", "leads"])

    @cached_property
    def costs(self) -> pd.DataFrame:
        """The cost ledger: month, category, motion ('shared' for a cost no motion incurred
        directly, 'play:<name>' for a play's), amount, and the segment a direct cost was spent on
        ('' when none)."""
        c = self.columns["costs"]
        cols = ("month", "category", "motion", "amount")
        rows = zip(*(c[k].tolist() for k in cols), strict=True)
        out = pd.DataFrame(list(rows), columns=list(cols))
        seg = c.get("segment", np.full(len(c["amount"]), -1))
        out["segment"] = [self.segments[i] if i >= 0 else "" for i in seg.tolist()]
        return out

    @cached_property
    def work(self) -> pd.DataFrame:
        """People's time by role, motion, segment and month (days: SDR-days working inbound
        leads, AE slot-days holding deals): what activity-based cost attribution splits by."""
        c = self.columns.get("work") or _no_work()
        return pd.DataFrame(
            {
                "role": c["role"].tolist(),
                "motion": [self.motions[i] for i in c["motion"].tolist()],
                "segment": [self.segments[i] for i in c["segment"].tolist()],
                "month": c["month"].tolist(),
                "days": c["days"].tolist(),
            }
        )

    @cached_property
    def reps(self) -> pd.DataFrame:
        """AEs by month (REP_COLUMNS): days employed in the month, ramp productivity, ramped
        pro-rata quota of the month (team.ae.quota_year / 12 x ramp x days / month) and the rep's
        productivity multiplier (docs/model.md#quota-and-rep-differences)."""
        c = self.columns.get("reps") or _no_reps()
        return pd.DataFrame({k: c[k] for k in REP_COLUMNS})

    @cached_property
    def staff(self) -> pd.DataFrame:
        c = self.columns["staff"]
        return pd.DataFrame({k: c[k] for k in STAFF_COLUMNS})

    @cached_property
    def open_at_end(self) -> pd.DataFrame | None:
        c = self.columns.get("open_at_end")
        if c is None:
            return None
        return pd.DataFrame(
            {
                "motion": [self.motions[i] for i in c["motion"].tolist()],
                "stage_index": c["stage_index"].tolist(),
                "stage": [
                    self.stages[self.motions[i]][k]
                    for i, k in zip(c["motion"].tolist(), c["stage_index"].tolist(), strict=True)
                ],
                "open": c["open"].tolist(),
            }
        )


STAFF_COLUMNS = (
    "role",
    "month",
    "headcount",
    "fte",
    "capacity",
    "sdr_inbound_days",
    "sdr_prospecting_days",
    "ae_slot_days",
    "ae_hours_available",
    "ae_hours_worked",
    "ae_hours_prospecting",
)


def _no_work() -> Columns:
    return {
        "role": np.zeros(0, dtype=object),
        "motion": np.zeros(0, dtype=int),
        "segment": np.zeros(0, dtype=int),
        "month": np.zeros(0, dtype=int),
        "days": np.zeros(0),
    }


def _no_reps() -> Columns:
    return {
        "rep": np.zeros(0, dtype=object),
        "month": np.zeros(0, dtype=int),
        **{k: np.zeros(0) for k in ("days", "ramp", "quota", "productivity")},
    }


def spread_over_months(a: np.ndarray, b: np.ndarray, n: int, key: np.ndarray, n_keys: int):
    """Days of spans [a, b) in each month (n months; time past them is dropped), summed by key:
    an (n_keys, n) array. A difference array, no spans x months table."""
    out = np.zeros((n_keys, n + 2))
    ma = np.floor_divide(a, MONTH_DAYS).astype(np.int64)
    mb = np.floor_divide(b, MONTH_DAYS).astype(np.int64)
    one = ma == mb
    np.add.at(out, (key[one], np.minimum(ma[one], n)), b[one] - a[one])
    k, ma, mb, a, b = key[~one], ma[~one], mb[~one], a[~one], b[~one]
    np.add.at(out, (k, np.minimum(ma, n)), (ma + 1) * MONTH_DAYS - a)
    np.add.at(out, (k, np.minimum(mb, n)), b - mb * MONTH_DAYS)
    whole = np.zeros((n_keys, n + 2))  # months strictly between: +1 from ma + 1, -1 from mb
    np.add.at(whole, (k, np.minimum(ma + 1, n + 1)), 1.0)
    np.add.at(whole, (k, np.minimum(mb, n + 1)), -1.0)
    out += np.cumsum(whole, axis=1) * MONTH_DAYS
    return out[:, :n]


def _index(labels: tuple[str, ...], label: str) -> int:
    return labels.index(label) if label in labels else -1


def codes(values, labels: tuple[str, ...]) -> np.ndarray:
    """Integer codes of `values` (labels, or a Categorical with any categories) into `labels`; -1
    for a value not among them."""
    s = pd.Series(values)
    cat = pd.Categorical(s.astype(str), categories=list(labels))
    return np.asarray(cat.codes, dtype=int)


def opp_columns(opp: pd.DataFrame, motions=None, segments=None) -> Columns:
    """The columns metrics read from an opportunity table with labels (OPP_COLUMNS: simulated, or
    read from a CRM file by sim.calibrate.importer): day offsets as floats, `type` and `outcome` as
    codes into TYPES and OUTCOMES, `motion` and `segment` as codes into the given labels (default:
    the labels found, in sorted order). Columns the table lacks are absent."""
    out: Columns = {}
    n = len(opp)
    for c in ("lead_day", "created_day", "closed_day", "amount"):
        if c in opp:
            out[c] = opp[c].to_numpy(dtype=float)
    if "opportunity_id" in opp:
        out["opportunity_id"] = opp["opportunity_id"].to_numpy()
    out["type"] = codes(opp["type"], TYPES) if "type" in opp else np.zeros(n, dtype=int)
    out["outcome"] = codes(opp["outcome"], OUTCOMES)
    for c, labels in (("motion", motions), ("segment", segments)):
        if c in opp:
            if labels is None:
                labels = tuple(sorted(set(opp[c].astype(str))))
            out[c] = codes(opp[c], labels)
    for c in ("source", "owner"):
        if c in opp:
            out[c] = opp[c].to_numpy(dtype=object)
    out["customer_id"] = (
        opp["customer_id"].to_numpy(dtype=int) if "customer_id" in opp else np.full(n, -1)
    )
    return out


class Recorder:
    """Append-only collector used while a replication runs."""

    def __init__(self, motions, segments: list[str], n_months: int, end: float) -> None:
        self.motions = motions
        self.segments = segments
        self.n_months = n_months
        self.end = end
        max_k = max(m.n_stages for m in motions)
        self._adv = np.zeros((len(motions), max_k, n_months))
        self._drop = np.zeros((len(motions), max_k, n_months))
        self._days = np.zeros((len(motions), max_k, n_months))
        self._max_k, self._n_m = max_k, n_months
        # single outcomes (`one`), work spans (`work`) and waits are appended one event at a time:
        # plain lists, which take a float or an int faster than an array does (~3x); numpy at the end
        self._one_key: list[int] = []
        self._one_days: list[float] = []
        self.open_at_end = np.zeros(
            (len(motions), max_k), dtype=int
        )  # leads in progress at the end
        self._opp_batches: list[dict[str, np.ndarray]] = []
        self._opp_rows: list[tuple] = []
        self._cust = {k: array("d") for k in ("start_day", "acv", "term_days")}
        self._cust_int = {k: array("l") for k in ("segment", "motion")}
        self._leads: dict[tuple[int, str, int, int], int] = {}
        self._costs: dict[tuple[int, str, str, int], float] = {}
        self._work_key: list[int] = []
        self._work_a: list[float] = []
        self._work_b: list[float] = []
        self._role_row = {r: i * len(motions) for i, r in enumerate(WORK_ROLES)}  # for `work`
        self._n_seg = len(segments)
        self._work_days: dict[str, np.ndarray] = {}  # role -> (motions, segments, months) days
        self._staff: list[tuple] = []
        self._reps: Columns | None = None  # see `rep_months`
        self.waits: dict[str, list[float]] = {
            k: [] for k in ("sdr", "sdr_at", "sdr_fit", "ae", "ae_at", "sdr_queue", "sdr_queue_at")
        }  # sdr_fit: the fit score of each lead an SDR served, in the order of "sdr"
        self.sla_hours: float | None = None
        self.ae_hours_per_day: float | None = None
        self.play_targets: dict | None = None
        self.sdr_days_per_meeting: tuple[float, ...] | None = None
        self.ae_hour_cost: tuple[float, ...] | None = None
        self.sdr_busy = np.zeros(n_months)  # SDR-days spent on inbound leads
        self.sdr_prospecting = np.zeros(n_months)  # SDR-days spent prospecting
        self.ae_slot_days = np.zeros(n_months)  # opportunity-days held in AE slots
        self.ae_hours_available = np.zeros(n_months)  # AE selling hours (0: time not modelled)
        self.ae_hours_worked = np.zeros(n_months)  # AE hours booked by deals
        self.ae_hours_prospecting = np.zeros(n_months)  # AE hours left over, spent prospecting
        self._next_opp = 0

    # -- funnel ---------------------------------------------------------------------------------
    def one(self, motion: int, stage: int, t: float, advanced: bool, days: float) -> None:
        """One stage outcome decided at time t, logged as a flat key (folded into the funnel arrays
        by `_fold`: no numpy call per event)."""
        self._one_key.append(
            ((motion * self._max_k + stage) * self._n_m + int(t // MONTH_DAYS)) * 2 + advanced
        )
        self._one_days.append(days)

    def _fold(self) -> None:
        """Add the logged single outcomes to the funnel arrays."""
        if not self._one_key:
            return
        key = np.array(self._one_key, dtype=np.int64)
        shape = (*self._adv.shape, 2)
        size = int(np.prod(shape))
        counts = np.bincount(key, minlength=size).reshape(shape)
        days = np.bincount(
            key >> 1, weights=np.array(self._one_days, dtype=float), minlength=size // 2
        )
        self._adv += counts[..., 1]
        self._drop += counts[..., 0]
        self._days += days.reshape(shape[:-1])
        self._one_key, self._one_days = [], []

    def batch(self, motion: int, start: int, walk) -> None:
        """The stage outcomes of a batch walk (sim.motions.BatchWalk of stages from `start`), added
        to the funnel arrays with one bincount for all its stages."""
        np.add.at(self.open_at_end[motion], walk.stage[walk.status == 2], 1)  # 2: OPEN
        lead, j = np.nonzero(walk.applied)  # lead by lead: each bin sums in lead order
        if not len(lead):
            return
        dur = walk.dur[lead, j]
        mo = np.floor_divide(walk.entry[lead, j] + dur, MONTH_DAYS).astype(np.int64)
        ok = mo < self.n_months
        key = (((start + j) * self.n_months + mo) * 2 + walk.advanced[lead, j])[ok]
        shape = (*self._adv.shape[1:], 2)
        size = shape[0] * shape[1] * 2
        counts = np.bincount(key, minlength=size).reshape(shape)
        days = np.bincount(key >> 1, weights=dur[ok], minlength=size // 2).reshape(shape[:2])
        self._adv[motion] += counts[..., 1]
        self._drop[motion] += counts[..., 0]
        self._days[motion] += days

    # -- leads, opportunities, customers ----------------------------------------------------------
    def leads(self, motion: int, source: str, seg: np.ndarray, t: np.ndarray) -> None:
        mo = month_of(t)
        key = seg * self.n_months + mo
        counts = np.bincount(key, minlength=len(self.segments) * self.n_months)
        for idx in np.flatnonzero(counts):
            s, m = divmod(int(idx), self.n_months)
            k = (motion, source, s, m)
            self._leads[k] = self._leads.get(k, 0) + int(counts[idx])

    def lead_one(self, motion: int, source: str, seg: int, t: float) -> None:
        k = (motion, source, seg, int(t // MONTH_DAYS))
        self._leads[k] = self._leads.get(k, 0) + 1

    def opportunity(self, *row) -> None:
        """One opportunity, its columns in OPP_COLUMNS order after the id (kind, motion, ...,
        amount, customer_id). The id is assigned here."""
        self._opp_rows.append((self._next_opp, *row))
        self._next_opp += 1

    def opportunities(
        self,
        kind,
        motion,
        seg,
        source,
        owner,
        lead,
        created,
        closed,
        stage,
        outcome,
        amount,
        customer=None,
    ) -> None:
        n = len(created)
        if n == 0:
            return
        ids = np.arange(self._next_opp, self._next_opp + n)
        self._next_opp += n
        self._opp_batches.append(
            {
                "opportunity_id": ids,
                "type": np.full(n, TYPES.index(kind), dtype=np.int8),
                "motion": np.full(n, motion),
                "segment": seg,
                "source": np.asarray(source, dtype=object)
                if not np.isscalar(source)
                else np.full(n, source, dtype=object),
                "owner": np.full(n, owner, dtype=object),
                "lead_day": lead,
                "created_day": created,
                "closed_day": closed,
                "stage": stage,
                "outcome": outcome,
                "amount": amount,
                "customer_id": customer if customer is not None else np.full(n, -1),
            }
        )

    def customer(self, seg: int, motion: int, start: float, acv: float, term_days: float) -> int:
        """Record a customer; returns its id (its row in the customer table)."""
        self._cust["start_day"].append(start)
        self._cust["acv"].append(acv)
        self._cust["term_days"].append(term_days)
        self._cust_int["segment"].append(seg)
        self._cust_int["motion"].append(motion)
        return len(self._cust["acv"]) - 1

    def customers(self, seg, motion: int, start, acv, term_days) -> np.ndarray:
        """Record a batch of customers (arrays, in order); returns their ids."""
        first = len(self._cust["acv"])
        self._cust["start_day"].extend(np.asarray(start, dtype=float).tolist())
        self._cust["acv"].extend(np.asarray(acv, dtype=float).tolist())
        self._cust["term_days"].extend(np.asarray(term_days, dtype=float).tolist())
        self._cust_int["segment"].extend(np.asarray(seg, dtype=int).tolist())
        self._cust_int["motion"].extend([motion] * len(seg))
        return np.arange(first, len(self._cust["acv"]))

    def customers_so_far(self) -> dict[str, np.ndarray]:
        out = {k: np.frombuffer(v, dtype=float).copy() for k, v in self._cust.items()}
        out.update(
            {
                k: np.frombuffer(v, dtype=np.int64 if v.itemsize == 8 else np.int32).astype(int)
                for k, v in self._cust_int.items()
            }
        )
        return out

    # -- money and people -------------------------------------------------------------------------
    def cost(
        self, month: int, category: str, motion: str, amount: float, segment: int = -1
    ) -> None:
        """A cost in a month: `motion` 'shared' when no one motion incurred it, `segment` the
        segment a direct cost was spent on (-1: none; attributed later, sim.metrics)."""
        if amount:
            k = (month, category, motion, segment)
            self._costs[k] = self._costs.get(k, 0.0) + float(amount)

    def work(self, role: str, motion: int, segment: int, a: float, b: float) -> None:
        """Someone in `role` (WORK_ROLES) worked a lead or deal of `motion` and `segment` over days
        [a, b): the time S&M people cost is attributed by (sim.metrics.attribute_costs)."""
        self._work_key.append((self._role_row[role] + motion) * self._n_seg + segment)
        self._work_a.append(a)
        self._work_b.append(b)

    def work_days(self, role: str, days: np.ndarray) -> None:
        """Days someone in `role` worked for each (motion, segment, month), known as totals rather
        than spans (AE selling hours booked by deals, converted to selling days)."""
        self._work_days[role] = self._work_days.get(role, 0.0) + days

    def rep_months(
        self,
        reps: tuple[str, ...],
        ramp: np.ndarray,
        days: np.ndarray,
        quota_year: float,
        productivity: np.ndarray,
    ) -> None:
        """The AEs (ids `reps`, rows of the (reps, months) arrays `ramp` and `days`) as the `reps`
        table: a row per rep and month employed, with that month's ramped, pro-rata quota."""
        i, m = np.nonzero(days > 0)
        self._reps = {
            "rep": np.asarray(reps, dtype=object)[i] if len(reps) else np.zeros(0, dtype=object),
            "month": m.astype(int),
            "days": days[i, m],
            "ramp": ramp[i, m],
            "quota": quota_year / 12.0 * ramp[i, m] * days[i, m] / MONTH_DAYS,
            "productivity": productivity[i],
        }

    def staff(self, role: str, month: int, headcount: int, fte: float, capacity: float) -> None:
        self._staff.append((role, month, headcount, fte, capacity))

    # -- freeze -----------------------------------------------------------------------------------
    def finish(
        self, warmup: float, horizon: float, churn_day: np.ndarray, events: int = 0
    ) -> Records:
        self._fold()
        names = tuple(m.name for m in self.motions)
        cust = self.customers_so_far()
        cust = {
            "customer_id": np.arange(len(cust["acv"])),
            **{k: cust[k] for k in ("start_day", "acv", "term_days", "segment", "motion")},
            "churn_day": np.asarray(churn_day, dtype=float),
        }
        mi, k, mo = np.nonzero((self._adv + self._drop) > 0)
        owners = np.array(
            [[st.owner for st in m.stages] + [""] * (self._adv.shape[1] - m.n_stages)
             for m in self.motions],
            dtype=object,
        )  # fmt: skip
        funnel = {
            "motion": mi,
            "stage_index": k,
            "owner": owners[mi, k],
            "month": mo,
            "advanced": self._adv[mi, k, mo],
            "dropped": self._drop[mi, k, mo],
            "stage_days": self._days[mi, k, mo],
        }
        lead_items = sorted(self._leads.items())
        leads = {
            "motion": np.array([key[0] for key, _ in lead_items], dtype=int),
            "source": np.array([key[1] for key, _ in lead_items], dtype=object),
            "segment": np.array([key[2] for key, _ in lead_items], dtype=int),
            "month": np.array([key[3] for key, _ in lead_items], dtype=int),
            "leads": np.array([v for _, v in lead_items], dtype=int),
        }
        cost_items = sorted(self._costs.items())
        costs = {
            "month": np.array([key[0] for key, _ in cost_items], dtype=int),
            "category": np.array([key[1] for key, _ in cost_items], dtype=object),
            "motion": np.array([key[2] for key, _ in cost_items], dtype=object),
            "amount": np.array([v for _, v in cost_items], dtype=float),
            "segment": np.array([key[3] for key, _ in cost_items], dtype=int),
        }
        month = np.array([row[1] for row in self._staff], dtype=int)
        known = month < self.n_months  # a month without utilisation figures gets NaN (a left join)

        def per_month(x: np.ndarray) -> np.ndarray:
            return np.where(known, x[np.minimum(month, self.n_months - 1)], np.nan)

        staff = {
            "role": np.array([row[0] for row in self._staff], dtype=object),
            "month": month,
            "headcount": np.array([row[2] for row in self._staff], dtype=int),
            "fte": np.array([row[3] for row in self._staff], dtype=float),
            "capacity": np.array([row[4] for row in self._staff], dtype=float),
            "sdr_inbound_days": per_month(self.sdr_busy),
            "sdr_prospecting_days": per_month(self.sdr_prospecting),
            "ae_slot_days": per_month(self.ae_slot_days),
            "ae_hours_available": per_month(self.ae_hours_available),
            "ae_hours_worked": per_month(self.ae_hours_worked),
            "ae_hours_prospecting": per_month(self.ae_hours_prospecting),
        }
        om, ok = zip(*[(i, j) for i, m in enumerate(self.motions) for j in range(m.n_stages)],
                     strict=True)  # fmt: skip
        open_at_end = {
            "motion": np.array(om, dtype=int),
            "stage_index": np.array(ok, dtype=int),
            "open": self.open_at_end[list(om), list(ok)].astype(int),
        }
        return Records(
            columns={
                "opportunities": self._opportunity_columns(),
                "customers": cust,
                "funnel": funnel,
                "leads": leads,
                "costs": costs,
                "staff": staff,
                "open_at_end": open_at_end,
                "work": self._work_columns(),
                "reps": self._reps if self._reps is not None else _no_reps(),
            },
            waits={k: np.array(v, dtype=float) for k, v in self.waits.items()},
            warmup_days=warmup,
            horizon_days=horizon,
            motions=names,
            stages={m.name: tuple(s.name for s in m.stages) for m in self.motions},
            owners={m.name: tuple(s.owner for s in m.stages) for m in self.motions},
            segments=tuple(self.segments),
            events=events,
            sla_hours=self.sla_hours,
            ae_hours_per_day=self.ae_hours_per_day,
            play_targets=self.play_targets,
            sdr_days_per_meeting=self.sdr_days_per_meeting,
            ae_hour_cost=self.ae_hour_cost,
        )

    def _work_columns(self) -> Columns:
        """The logged work spans as days by role, motion, segment and month (non-zero cells)."""
        n_s, n_m = len(self.segments), len(self.motions)
        n_keys = len(WORK_ROLES) * n_m * n_s
        days = spread_over_months(
            np.array(self._work_a, dtype=float),
            np.array(self._work_b, dtype=float),
            self.n_months,
            np.array(self._work_key, dtype=np.int64),
            n_keys,
        )
        for role, d in self._work_days.items():  # (motions, segments, months) -> key rows
            r0 = WORK_ROLES.index(role) * n_m * n_s
            days[r0 : r0 + n_m * n_s, : self.n_months] += d.reshape(n_m * n_s, -1)
        key, month = np.nonzero(days > 0)
        role, rest = np.divmod(key, n_m * n_s)
        motion, seg = np.divmod(rest, n_s)
        return {
            "role": np.asarray(WORK_ROLES, dtype=object)[role],
            "motion": motion.astype(int),
            "segment": seg.astype(int),
            "month": month.astype(int),
            "days": days[key, month],
        }

    def _opportunity_columns(self) -> Columns:
        """The opportunity batches and single rows as one set of columns, in order of creation."""
        parts = list(self._opp_batches)
        if self._opp_rows:
            cols = list(zip(*self._opp_rows, strict=True))
            row = dict(zip(OPP_COLUMNS, cols, strict=True))
            row["type"] = [TYPES.index(x) for x in row["type"]]
            parts.append(row)
        out: Columns = {}
        for c in OPP_COLUMNS:
            dtype = _OPP_DTYPES[c]
            out[c] = (
                np.concatenate([np.asarray(p[c], dtype=dtype) for p in parts])
                if parts
                else np.zeros(0, dtype=dtype)
            )
        # Renumber in creation-time order so ids read like a CRM's, independent of batch order.
        order = np.lexsort((out["opportunity_id"], out["created_day"]))
        out = {c: v[order] for c, v in out.items()}
        out["opportunity_id"] = np.arange(len(order))
        return out


_OPP_DTYPES = {
    "opportunity_id": np.int64,
    "type": np.int8,
    "motion": np.int64,
    "segment": np.int64,
    "source": object,
    "owner": object,
    "lead_day": np.float64,
    "created_day": np.float64,
    "closed_day": np.float64,
    "stage": np.int64,
    "outcome": np.int64,
    "amount": np.float64,
    "customer_id": np.int64,
}


def crm_export(opp: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """The opportunity table as a CRM export (CRM_COLUMNS): ISO dates next to the day offsets."""
    base = pd.Timestamp(start_date)
    out = opp.copy()

    def date(col: str):
        return (base + pd.to_timedelta(opp[col], unit="D")).dt.date

    at = list(out.columns).index("lead_day")
    out.insert(at, "lead_date", date("lead_day"))
    out.insert(at + 1, "created_date", date("created_day"))
    out.insert(at + 2, "close_date", date("closed_day"))
    return out
