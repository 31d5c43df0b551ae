"""Facts a replication leaves behind, kept columnar, shaped like a CRM export.

The model appends facts through `Recorder`; `Recorder.finish()` freezes them into `Records`, a set of
pandas tables. Metrics (sim.metrics) read only `Records`, so the same code runs on a real CRM file.
Days are floats from the scenario's start; month m covers [m * MONTH_DAYS, (m + 1) * MONTH_DAYS).
"""

from __future__ import annotations

import datetime as dt
from array import array
from dataclasses import dataclass

import numpy as np
import pandas as pd

MONTH_DAYS = 365.25 / 12

OUTCOMES = ("lost", "won", "open")  # codes 0, 1, 2 in the opportunity table
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


def month_of(t: np.ndarray | float) -> np.ndarray | int:
    return (
        np.floor_divide(t, MONTH_DAYS).astype(int)
        if isinstance(t, np.ndarray)
        else int(t // MONTH_DAYS)
    )


@dataclass(frozen=True)
class Records:
    """One replication's facts. Tables are pandas DataFrames; see docs/model.md for the columns."""

    opportunities: pd.DataFrame
    customers: pd.DataFrame
    funnel: pd.DataFrame
    leads: pd.DataFrame
    costs: pd.DataFrame
    staff: pd.DataFrame
    waits: dict[str, np.ndarray]
    warmup_days: float
    horizon_days: float
    motions: tuple[str, ...]
    stages: dict[str, tuple[str, ...]]
    segments: tuple[str, ...]
    owners: dict[str, tuple[str, ...]] | None = None
    open_at_end: pd.DataFrame | None = None  # motion, stage_index, stage, open: leads in progress
    events: int = 0  # simpy events processed (a cost diagnostic, not a fact of the world)
    sla_hours: float | None = None  # the speed-to-lead SLA a play set (sim.plays), if any

    @property
    def window(self) -> tuple[float, float]:
        return self.warmup_days, self.warmup_days + self.horizon_days


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
        self.open_at_end = np.zeros(
            (len(motions), max_k), dtype=int
        )  # leads in progress at the end
        self._opp_batches: list[dict[str, np.ndarray]] = []
        self._opp_rows: list[tuple] = []
        self._cust = {k: array("d") for k in ("start_day", "acv", "term_days")}
        self._cust_int = {k: array("l") for k in ("segment", "motion")}
        self._leads: dict[tuple[int, str, int, int], int] = {}
        self._costs: dict[tuple[int, str, str], float] = {}
        self._staff: list[tuple] = []
        self.waits: dict[str, array] = {
            k: array("d")
            for k in ("sdr", "sdr_at", "sdr_fit", "ae", "ae_at", "sdr_queue", "sdr_queue_at")
        }  # sdr_fit: the fit score of each lead an SDR served, in the order of "sdr"
        self.sla_hours: float | None = None
        self.sdr_busy = np.zeros(n_months)  # SDR-days spent on inbound leads
        self.sdr_prospecting = np.zeros(n_months)  # SDR-days spent prospecting
        self.ae_slot_days = np.zeros(n_months)  # opportunity-days held in AE slots
        self._next_opp = 0

    # -- funnel ---------------------------------------------------------------------------------
    def one(self, motion: int, stage: int, t: float, advanced: bool, days: float) -> None:
        m = int(t // MONTH_DAYS)
        (self._adv if advanced else self._drop)[motion, stage, m] += 1
        self._days[motion, stage, m] += days

    def batch(self, motion: int, start: int, walk) -> None:
        np.add.at(self.open_at_end[motion], walk.stage[walk.status == 2], 1)  # 2: OPEN
        for j in range(walk.applied.shape[1]):
            app = walk.applied[:, j]
            if not app.any():
                continue
            t_dec = walk.entry[app, j] + walk.dur[app, j]
            mo = month_of(t_dec)
            adv = walk.advanced[app, j]
            k = start + j
            self._adv[motion, k] += np.bincount(mo[adv], minlength=self.n_months)[: self.n_months]
            self._drop[motion, k] += np.bincount(mo[~adv], minlength=self.n_months)[: self.n_months]
            self._days[motion, k] += np.bincount(
                mo, weights=walk.dur[app, j], minlength=self.n_months
            )[: self.n_months]

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
                "type": np.full(n, kind, dtype=object),
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
    def cost(self, month: int, category: str, motion: str, amount: float) -> None:
        if amount:
            k = (month, category, motion)
            self._costs[k] = self._costs.get(k, 0.0) + float(amount)

    def staff(self, role: str, month: int, headcount: int, fte: float, capacity: float) -> None:
        self._staff.append((role, month, headcount, fte, capacity))

    # -- freeze -----------------------------------------------------------------------------------
    def finish(
        self, warmup: float, horizon: float, churn_day: np.ndarray, events: int = 0
    ) -> Records:
        names = tuple(m.name for m in self.motions)
        segs = tuple(self.segments)
        opp = self._opportunity_table(names, segs)
        cust = pd.DataFrame(self.customers_so_far())
        cust.insert(0, "customer_id", np.arange(len(cust)))
        cust["churn_day"] = churn_day
        cust["segment"] = pd.Categorical.from_codes(cust["segment"], segs)
        cust["motion"] = pd.Categorical.from_codes(cust["motion"], (*names, "installed_base"))
        mi, k, mo = np.nonzero((self._adv + self._drop) > 0)
        owners = [[st.owner for st in m.stages] for m in self.motions]
        snames = [[st.name for st in m.stages] for m in self.motions]
        funnel = pd.DataFrame(
            {
                "motion": [names[i] for i in mi.tolist()],
                "stage_index": k,
                "stage": [snames[i][j] for i, j in zip(mi.tolist(), k.tolist(), strict=True)],
                "owner": [owners[i][j] for i, j in zip(mi.tolist(), k.tolist(), strict=True)],
                "month": mo,
                "advanced": self._adv[mi, k, mo],
                "dropped": self._drop[mi, k, mo],
                "stage_days": self._days[mi, k, mo],
            }
        )
        leads = pd.DataFrame(
            [(names[k[0]], k[1], segs[k[2]], k[3], v) for k, v in sorted(self._leads.items())],
            columns=["motion", "source", "segment", "month", "leads"],
        )
        costs = pd.DataFrame(
            [(*k, v) for k, v in sorted(self._costs.items())],
            columns=["month", "category", "motion", "amount"],
        )
        staff = pd.DataFrame(self._staff, columns=["role", "month", "headcount", "fte", "capacity"])
        util = pd.DataFrame(
            {
                "month": np.arange(self.n_months),
                "sdr_inbound_days": self.sdr_busy,
                "sdr_prospecting_days": self.sdr_prospecting,
                "ae_slot_days": self.ae_slot_days,
            }
        )
        staff = staff.merge(util, on="month", how="left")
        return Records(
            opportunities=opp,
            customers=cust,
            funnel=funnel,
            leads=leads,
            costs=costs,
            staff=staff,
            waits={k: np.frombuffer(v, dtype=float).copy() for k, v in self.waits.items()},
            warmup_days=warmup,
            horizon_days=horizon,
            motions=names,
            stages={m.name: tuple(s.name for s in m.stages) for m in self.motions},
            owners={m.name: tuple(s.owner for s in m.stages) for m in self.motions},
            open_at_end=pd.DataFrame(
                [
                    (m.name, k, st.name, int(self.open_at_end[mi, k]))
                    for mi, m in enumerate(self.motions)
                    for k, st in enumerate(m.stages)
                ],
                columns=["motion", "stage_index", "stage", "open"],
            ),
            segments=segs,
            events=events,
            sla_hours=self.sla_hours,
        )

    def _opportunity_table(self, names, segs) -> pd.DataFrame:
        parts = [pd.DataFrame(b) for b in self._opp_batches]
        if self._opp_rows:
            parts.append(pd.DataFrame(self._opp_rows, columns=list(OPP_COLUMNS)))
        if parts:
            opp = pd.concat(parts, ignore_index=True)
        else:
            opp = pd.DataFrame({c: [] for c in OPP_COLUMNS})
        # Renumber in creation-time order so ids read like a CRM's, independent of batch order.
        opp = opp.sort_values(["created_day", "opportunity_id"], kind="stable").reset_index(
            drop=True
        )
        opp["opportunity_id"] = np.arange(len(opp))
        opp["motion"] = pd.Categorical.from_codes(opp["motion"].astype(int), names)
        opp["segment"] = pd.Categorical.from_codes(opp["segment"].astype(int), segs)
        opp["outcome"] = pd.Categorical.from_codes(opp["outcome"].astype(int), OUTCOMES)
        width = max(m.n_stages for m in self.motions)
        table = np.array(
            [[s.name for s in m.stages] + [""] * (width - m.n_stages) for m in self.motions],
            dtype=object,
        )
        opp["stage"] = table[opp["motion"].cat.codes.to_numpy(), opp["stage"].to_numpy(dtype=int)]
        for c in ("type", "source", "owner"):
            opp[c] = opp[c].astype(str)
        opp["customer_id"] = opp["customer_id"].astype(int)
        return opp


def crm_export(opp: pd.DataFrame, start_date: dt.date) -> pd.DataFrame:
    """The opportunity table as a CRM export: ISO dates instead of day offsets."""
    base = pd.Timestamp(start_date)
    out = opp.copy()

    def date(col: str):
        return (base + pd.to_timedelta(opp[col], unit="D")).dt.date

    at = list(out.columns).index("lead_day")
    out.insert(at, "lead_date", date("lead_day"))
    out.insert(at + 1, "created_date", date("created_day"))
    out.insert(at + 2, "close_date", date("closed_day"))
    return out
