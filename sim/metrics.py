"""Metric definitions: pure functions of one replication's records (docs/metrics.md is their manual).

The measurement window is [warmup_days, warmup_days + horizon_days). Monthly aggregates in the records
(leads, costs, funnel counts, staff) count a simulation month in the window in proportion to its overlap.
A metric that does not apply (no opportunities closed, no SDR in the motion, no churn) is NaN here and
`null` in summary.json.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.records import (
    EXPANSION,
    LOST,
    MONTH_DAYS,
    NEW,
    OPEN,
    OUTCOMES,
    WON,
    Records,
    opp_columns,
)

NAN = float("nan")
S_AND_M = ("marketing", "product", "sdr", "ae", "tools", "plays")  # cost categories in CAC


def _div(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else NAN


def month_weights(n_months: int, lo: float, hi: float) -> np.ndarray:
    """Share of each simulation month that lies inside [lo, hi)."""
    starts = np.arange(n_months) * MONTH_DAYS
    overlap = np.clip(np.minimum(starts + MONTH_DAYS, hi) - np.maximum(starts, lo), 0.0, MONTH_DAYS)
    return overlap / MONTH_DAYS


def _in(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (x >= lo) & (x < hi)


# metrics that need the company's costs: S&M spend, and the gross margin CLV rests on (a CRM export
# gives neither; `costs.known: false` makes them missing, not a number from defaults)
COST_METRICS = (
    "cac",
    "cac_payback_months",
    "ltv_to_cac",
    "sm_cost",
    "clv",
    "clv_steady_state",
    "clv_in_horizon",
)


# -- the opportunity table: one definition for simulated records and CRM files ----------------------
def opportunity_columns(opp: Records | pd.DataFrame | dict) -> dict[str, np.ndarray]:
    """The numpy columns of an opportunity table in the one schema (sim.records.OPP_COLUMNS):
    simulated `Records`, or a table with labels such as sim.calibrate.importer's."""
    if isinstance(opp, Records):
        return opp.columns["opportunities"]
    if isinstance(opp, pd.DataFrame):
        return opp_columns(opp)
    return opp


def closed_in(opp, lo: float = -math.inf, hi: float = math.inf) -> np.ndarray:
    """Opportunities closed (won or lost) in the window [lo, hi): the rows every deal metric counts."""
    c = opportunity_columns(opp)
    return _in(c["closed_day"], lo, hi) & (c["outcome"] != OPEN)


def win_rate(
    opp, lo: float = -math.inf, hi: float = math.inf, where: np.ndarray | None = None
) -> float:
    """won / (won + lost) over opportunities closed in [lo, hi) (and `where`, a row mask). The
    `win_rate` metric is this over new business (`where` = type new); an imported CRM table is all
    new business."""
    c = opportunity_columns(opp)
    sel = closed_in(c, lo, hi) if where is None else closed_in(c, lo, hi) & where
    return _rate(sel & (c["outcome"] == WON), sel & (c["outcome"] == LOST))


def cycle_days(
    opp,
    lo: float = -math.inf,
    hi: float = math.inf,
    where: np.ndarray | None = None,
    outcome: str = "won",
) -> np.ndarray:
    """closed_day - created_day of the opportunities with `outcome` ('won' or 'lost') closed in
    [lo, hi) (and `where`): the sample whose median is `cycle_days`."""
    c = opportunity_columns(opp)
    sel = closed_in(c, lo, hi) & (c["outcome"] == OUTCOMES.index(outcome))
    if where is not None:
        sel &= where
    return (c["closed_day"] - c["created_day"])[sel]


def bookings(
    opp, lo: float = -math.inf, hi: float = math.inf, where: np.ndarray | None = None
) -> float:
    """Sum of `amount` of opportunities won in [lo, hi) (and `where`); unknown amounts count 0."""
    c = opportunity_columns(opp)
    sel = closed_in(c, lo, hi) & (c["outcome"] == WON)
    if where is not None:
        sel &= where
    return float(np.nansum(c["amount"][sel]))


def scalar_metrics(
    r: Records,
    gross_margin: float,
    overhead: str = "direct_cost",
    costs_known: bool = True,
    clv_years: float = 5.0,
    discount_rate_year: float = 0.10,
) -> dict[str, float]:
    """Every scalar metric of one replication, blended, per motion (`win_rate.plg`) and per segment
    (`win_rate.segment.smb`). Without cost data (costs_known false) the cost metrics are NaN.
    `overhead` is the rule for S&M cost no activity explains (costs.overhead, `attribute_costs`);
    `clv_years` and `discount_rate_year` set the CLV horizon and discounting (`clv_by_customer`)."""
    lo, hi = r.window
    o = r.columns["opportunities"]
    closed_day = o["closed_day"]
    in_win = _in(closed_day, lo, hi)
    outcome = o["outcome"]
    won, lost = in_win & (outcome == WON), in_win & (outcome == LOST)
    is_new = o["type"] == NEW
    motion = o["motion"]
    segment = o["segment"]
    amount = o["amount"]
    cycle = closed_day - o["created_day"]
    won_new = won & is_new
    staff = r.columns["staff"]
    n_months = int(staff["month"].max()) + 1 if len(staff["month"]) else math.ceil(hi / MONTH_DAYS)
    w = month_weights(n_months, lo, hi)

    costs = r.columns["costs"]
    sm_cost = 0.0
    if len(costs["amount"]):
        cw = costs["amount"] * w[costs["month"]]
        sm_cost = float(cw[np.isin(costs["category"], S_AND_M)].sum())

    m: dict[str, float] = {}
    m["win_rate"] = win_rate(o, lo, hi, where=is_new)  # the definitions shared with calibration
    new_cycles = cycle_days(o, lo, hi, where=is_new)
    m["cycle_days"], m["cycle_days_mean"] = _median(new_cycles), _mean(new_cycles)
    if "lead_day" in o:
        m["lead_to_close_days"] = _median((closed_day - o["lead_day"])[won_new])
    n_new = int(won_new.sum())
    m["new_customers"] = float(n_new)
    m["cac"] = _div(sm_cost, n_new)
    new_mrr = float(amount[won_new].mean()) / 12.0 if n_new else NAN
    m["cac_payback_months"] = _div(m["cac"], new_mrr * gross_margin)
    m["bookings_new"] = float(amount[won_new].sum())
    m["bookings_expansion"] = float(amount[won & ~is_new].sum())
    m["bookings"] = m["bookings_new"] + m["bookings_expansion"]
    ret = retention(r, lo, hi)
    m.update(ret)
    m["clv_steady_state"] = _div(ret["arpa_month"] * gross_margin, ret["logo_churn_month"])
    clv_new, clv_seg, clv_motion = clv_by_customer(r, gross_margin, clv_years, discount_rate_year)
    m["clv"] = _mean(clv_new)
    m["ltv_to_cac"] = _div(m["clv"], m["cac"])
    m["clv_in_horizon"] = _clv_in_horizon(r, lo, hi, gross_margin)
    leads = r.columns["leads"]
    m["leads"] = float((leads["leads"] * w[leads["month"]]).sum()) if len(leads["leads"]) else 0.0
    m["sdr_wait_days"] = _mean_in(r.waits["sdr"], r.waits["sdr_at"], lo, hi)
    m["ae_wait_days"] = _mean_in(r.waits["ae"], r.waits["ae_at"], lo, hi)
    served = (r.waits["sdr_at"] >= lo) & (r.waits["sdr_at"] < hi)
    m["sdr_waited_share"] = float((r.waits["sdr"][served] > 0).mean()) if served.any() else NAN
    if r.sla_hours is not None:  # a play set a speed-to-lead SLA: share of leads answered within it
        met = r.waits["sdr"][served] * 24.0 <= r.sla_hours + 1e-9
        m["sla_met_share"] = float(met.mean()) if served.any() else NAN
    m["sdr_served_per_day"] = float(served.sum()) / (hi - lo)
    q = r.waits.get("sdr_queue", np.zeros(0))
    m["sdr_queue_length"] = _mean_in(q, r.waits.get("sdr_queue_at", np.zeros(0)), lo, hi)
    m.update(utilisation(r, w))
    m["sm_cost"] = sm_cost
    m.update(quota_metrics(r, w))

    cell = attributed_costs(r, w, overhead).sum(axis=0)  # (motions, segments)
    n_cell = np.zeros(cell.shape)
    acv_cell = np.zeros(cell.shape)
    np.add.at(n_cell, (motion[won_new], segment[won_new]), 1.0)
    np.add.at(acv_cell, (motion[won_new], segment[won_new]), amount[won_new])
    for i, name in enumerate(r.motions):
        mine = motion == i
        # an expansion motion's opportunities are all expansions: its win rate counts them
        kind = mine if not (mine & is_new).sum() and (mine & ~is_new).any() else mine & is_new
        m[f"win_rate.{name}"] = _rate(won & kind, lost & kind)
        sel = won_new & mine
        m[f"new_customers.{name}"] = float(sel.sum())
        m[f"cycle_days.{name}"] = _median(cycle[sel])
        m[f"bookings.{name}"] = float(amount[won & mine].sum())
        _unit_economics(m, name, cell[i].sum(), n_cell[i].sum(), acv_cell[i].sum(), gross_margin)
        m[f"clv.{name}"] = _mean(clv_new[clv_motion == i])
        m[f"ltv_to_cac.{name}"] = _div(m[f"clv.{name}"], m[f"cac.{name}"])
    for i, seg in enumerate(r.segments):
        mine = is_new & (segment == i)
        sel = won & mine
        m[f"win_rate.segment.{seg}"] = _rate(sel, lost & mine)
        m[f"cycle_days.segment.{seg}"] = _median(cycle[sel])
        m[f"new_customers.segment.{seg}"] = float(sel.sum())
        m[f"bookings.segment.{seg}"] = float(amount[won & (segment == i)].sum())
        key = f"segment.{seg}"
        _unit_economics(
            m, key, cell[:, i].sum(), n_cell[:, i].sum(), acv_cell[:, i].sum(), gross_margin
        )
        m[f"clv.{key}"] = _mean(clv_new[clv_seg == i])
        m[f"ltv_to_cac.{key}"] = _div(m[f"clv.{key}"], m[f"cac.{key}"])
    if not costs_known:
        for k in m:
            if k.split(".")[0] in COST_METRICS:
                m[k] = NAN
    return m


def _unit_economics(
    m: dict[str, float], key: str, cost: float, n: float, acv: float, gross_margin: float
) -> None:
    """cac.<key> (attributed S&M cost / new customers) and cac_payback_months.<key> (CAC / the
    new customers' mean MRR x gross margin) for one motion or segment."""
    m[f"cac.{key}"] = _div(cost, n) if n else NAN
    m[f"cac_payback_months.{key}"] = (
        _div(m[f"cac.{key}"], acv / n / 12.0 * gross_margin) if n else NAN
    )


def _clv_in_horizon(r: Records, lo: float, hi: float, gross_margin: float) -> float:
    """Gross margin that the window's new customers earned before the window closed (contract ACV,
    pro rata for the days they were customers), per new customer: the simulated counterpart of clv."""
    c = r.columns["customers"]
    start = c["start_day"]
    new = (start >= lo) & (start < hi) & (c["motion"] != len(r.motions))  # not installed_base
    if not new.any():
        return NAN
    churn = c["churn_day"]
    until = np.minimum(np.where(np.isnan(churn), hi, churn), hi)[new]
    earned = c["acv"][new] * (until - start[new]) / 365.25
    return float(earned.sum() * gross_margin / new.sum())


def _rate(won: np.ndarray, lost: np.ndarray) -> float:
    w, n = int(won.sum()), int(won.sum() + lost.sum())
    return _div(w, n)


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if len(x) else NAN


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else NAN


def _mean_in(values: np.ndarray, at: np.ndarray, lo: float, hi: float) -> float:
    sel = (at >= lo) & (at < hi)
    return float(values[sel].mean()) if sel.any() else NAN


def utilisation(r: Records, w: np.ndarray) -> dict[str, float]:
    """Busy share of each role's capacity in the window: AE selling hours (or pipeline slots); SDR work of every kind
    (`sdr_utilization`: inbound leads plus outbound prospecting), and each kind's share of it."""
    out = {
        "ae_utilization": NAN,
        "sdr_utilization": NAN,
        "sdr_inbound_share": NAN,
        "sdr_prospecting_share": NAN,
        "ae_prospecting_share": NAN,
    }
    st = r.columns["staff"]
    if not len(st["month"]):
        return out
    for role in ("sdr", "ae"):
        mine = st["role"] == role
        wm = w[st["month"][mine]]
        cap = float((st["capacity"][mine] * (wm * MONTH_DAYS)).sum())
        if role == "ae":
            out["ae_utilization"] = _div(float((st["ae_slot_days"][mine] * wm).sum()), cap)
            out.update(ae_hours_shares(st, mine, wm))
        else:
            busy = float((st["sdr_inbound_days"][mine] * wm).sum())
            pros = float((st["sdr_prospecting_days"][mine] * wm).sum())
            out["sdr_utilization"] = _div(busy + pros, cap)
            out["sdr_inbound_share"] = _div(busy, cap)
            out["sdr_prospecting_share"] = _div(pros, cap)
    return out


def ae_hours_shares(st, mine: np.ndarray, wm: np.ndarray) -> dict[str, float]:
    """With AE selling time modelled: `ae_utilization` is hours worked on deals / selling hours
    available in the window, `ae_prospecting_share` hours spent prospecting / available. Without it
    (no such columns, or no hours): nothing (ae_utilization stays the share of slots in use)."""
    if "ae_hours_available" not in st:
        return {}
    avail = float(np.nansum(st["ae_hours_available"][mine] * wm))
    if avail <= 0:
        return {}
    return {
        "ae_utilization": float(np.nansum(st["ae_hours_worked"][mine] * wm)) / avail,
        "ae_prospecting_share": float(np.nansum(st["ae_hours_prospecting"][mine] * wm)) / avail,
    }


def rep_attainment(r: Records, w: np.ndarray | None = None) -> pd.DataFrame:
    """Each AE's quota year in the window: rep id, months employed in the window, ramped pro-rata
    quota (team.ae.quota_year / 12 x ramp, by month), new-business bookings they closed-won in the
    window (the `owner` of the opportunity), attainment = bookings / quota (NaN without quota) and
    their productivity multiplier. Months partly in the window count in proportion (`month_weights`).
    A deal counts to its owner only if it closed in a month they were employed: the engine does
    not hand a leaver's deals over, so those count to no rep's attainment."""
    c = r.columns.get("reps")
    cols = ["rep", "months", "quota", "bookings", "attainment", "productivity"]
    if c is None or not len(c["rep"]):
        return pd.DataFrame({k: [] for k in cols})
    lo, hi = r.window
    if w is None:
        st = r.columns["staff"]
        n = int(max(st["month"].max() if len(st["month"]) else 0, c["month"].max())) + 1
        w = month_weights(n, lo, hi)
    wm = w[np.minimum(c["month"], len(w) - 1)] * (c["month"] < len(w))
    reps, idx = np.unique(c["rep"].astype(str), return_inverse=True)
    months = np.bincount(idx, weights=c["days"] * wm, minlength=len(reps)) / MONTH_DAYS
    quota = np.bincount(idx, weights=c["quota"] * wm, minlength=len(reps))
    prod = np.zeros(len(reps))
    prod[idx] = c["productivity"]
    n_m = int(c["month"].max()) + 1
    employed = np.zeros((len(reps), n_m), dtype=bool)
    employed[idx, c["month"]] = True
    o = r.columns["opportunities"]
    won = closed_in(o, lo, hi) & (o["outcome"] == WON) & (o["type"] == NEW)
    # a deal counts to its owner if they were employed in the month it closed
    row = {x: i for i, x in enumerate(reps.tolist())}
    booked = np.zeros(len(reps))
    close_m = np.floor_divide(o["closed_day"][won], MONTH_DAYS).astype(int).tolist()
    for own, amt, mo in zip(
        o["owner"][won].tolist(), o["amount"][won].tolist(), close_m, strict=True
    ):
        i = row.get(own)
        if i is not None and mo < n_m and employed[i, mo]:
            booked[i] += amt
    att = np.divide(booked, quota, out=np.full(len(reps), NAN), where=quota > 0)
    return pd.DataFrame(
        {
            "rep": reps,
            "months": months,
            "quota": quota,
            "bookings": booked,
            "attainment": att,
            "productivity": prod,
        }
    )


def quota_metrics(r: Records, w: np.ndarray | None = None) -> dict[str, float]:
    """`quota_attainment` (median attainment over the AEs with quota in the window) and
    `share_at_quota` (share of them at or above quota); NaN without quota (team.ae.quota_year 0)."""
    t = rep_attainment(r, w)
    att = t["attainment"].to_numpy(dtype=float)[t["quota"].to_numpy(dtype=float) > 0]
    return {
        "quota_attainment": _median(att),
        "share_at_quota": float((att >= 1.0).mean()) if len(att) else NAN,
    }


def _won_expansions(r: Records) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer, close day and amount of every won expansion."""
    o = r.columns["opportunities"]
    exp = (o["type"] == EXPANSION) & (o["outcome"] == WON)
    return o["customer_id"][exp], o["closed_day"][exp], o["amount"][exp]


def arr_at(r: Records, t: float | np.ndarray) -> np.ndarray:
    """ARR (sum of contract ACV plus won expansions) of customers active at each time t."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    c = r.columns["customers"]
    start = c["start_day"]
    churn = c["churn_day"]
    churn = np.where(np.isnan(churn), np.inf, churn)
    acv = c["acv"]
    active = (start[None, :] <= t[:, None]) & (churn[None, :] > t[:, None])
    arr = (active * acv[None, :]).sum(axis=1)
    cid, when, amt = _won_expansions(r)
    if len(cid):
        alive = (when[None, :] <= t[:, None]) & active[:, cid]
        arr = arr + (alive * amt[None, :]).sum(axis=1)
    return arr


def retention(r: Records, lo: float, hi: float) -> dict[str, float]:
    """NRR, GRR and logo churn of the cohort active at the window start, over the window; monthly
    logo churn and ARPA over all customer-months in the window (for CLV)."""
    c = r.columns["customers"]
    out = {
        "arr_end": NAN,
        "nrr": NAN,
        "grr": NAN,
        "logo_churn": NAN,
        "logo_churn_month": NAN,
        "arpa_month": NAN,
        "customers_end": 0.0,
    }
    if not len(c["acv"]):
        return out
    start = c["start_day"]
    churn = c["churn_day"]
    churn_f = np.where(np.isnan(churn), np.inf, churn)
    out["arr_end"] = float(arr_at(r, hi - 1e-9)[0])
    out["customers_end"] = float(((start <= hi) & (churn_f > hi)).sum())
    cohort = (start <= lo) & (churn_f > lo)
    if cohort.any():
        per0 = _per_customer_arr(r, lo)
        per1 = _per_customer_arr(r, hi - 1e-9)
        base = per0[cohort].sum()
        out["nrr"] = _div(per1[cohort].sum(), base)
        out["grr"] = _div(np.minimum(per1[cohort], per0[cohort]).sum(), base)
        out["logo_churn"] = float((churn_f[cohort] < hi).mean())
    # customer-months and churned logos inside the window
    exposure = (
        np.clip(np.minimum(churn_f, hi) - np.maximum(start, lo), 0.0, None).sum() / MONTH_DAYS
    )
    churned = float(((churn_f >= lo) & (churn_f < hi)).sum())
    out["logo_churn_month"] = _div(churned, exposure) if churned else NAN
    mid = np.linspace(lo, hi, 13)[:-1] + (hi - lo) / 24
    arr_mid = arr_at(r, mid)
    n_mid = ((start[None, :] <= mid[:, None]) & (churn_f[None, :] > mid[:, None])).sum(axis=1)
    out["arpa_month"] = _div(float(arr_mid.sum()) / 12.0, float(n_mid.sum()))
    return out


def _per_customer_arr(r: Records, t: float) -> np.ndarray:
    c = r.columns["customers"]
    start = c["start_day"]
    churn = c["churn_day"]
    active = (start <= t) & ~(churn <= t)
    arr = np.where(active, c["acv"], 0.0)
    cid, when, amt = _won_expansions(r)
    if len(cid):
        done = when <= t
        np.add.at(arr, cid[done], amt[done])
        arr = np.where(active, arr, 0.0)
    return arr


def attributed_costs(r: Records, w: np.ndarray, overhead: str = "direct_cost") -> np.ndarray:
    """S&M cost of the window attributed by activity: an array (categories of S_AND_M, motions,
    segments) whose sum is the window's S&M cost (docs/metrics.md#cost-attribution).

    Direct costs carry their motion and segment (channel spend split by the leads the channel
    sends each x their segment's `segment_cost`, product cost by sign-up). SDR and AE pay are split
    month by month by their time in the work table (SDR-days on inbound leads; SDR prospecting time
    by the outbound meetings it booked; AE selling hours x the segment's `team.ae.hour_cost`, or
    slot-days held on deals). A play's money goes to the motions
    and segments it targets, by their new customers. What no activity explains (tools, a month
    nobody worked, spend no motion used, a play whose targets won nothing) is overhead, split pro rata to the attributed cost
    ('direct_cost') or to new customers ('new_customers')."""
    nm, ns = len(r.motions), len(r.segments)
    out = np.zeros((len(S_AND_M), nm, ns))
    costs = r.columns["costs"]
    n = len(costs["amount"])
    if not n:
        return out
    n_months = len(w)
    cat = np.array([S_AND_M.index(c) if c in S_AND_M else -1 for c in costs["category"].tolist()])
    index = {name: i for i, name in enumerate(r.motions)}
    mot = np.array([index.get(x, -1) for x in costs["motion"].tolist()], dtype=int)
    seg = np.asarray(costs.get("segment", np.full(n, -1)), dtype=int)
    month = np.minimum(costs["month"], n_months - 1)
    amount = costs["amount"] * w[costs["month"]]
    time = _time_by_role(r, n_months)
    won = _new_customer_cells(r)
    pending = np.zeros(len(S_AND_M))  # overhead, by category
    targets = r.play_targets or {}
    names = costs["motion"].tolist()
    for i in np.flatnonzero((cat >= 0) & (amount != 0)).tolist():
        c, a = cat[i], float(amount[i])
        if names[i] in targets:  # a play's money: its target cells, by their new customers
            ms, ss = targets[names[i]]
            cells = np.zeros((nm, ns))
            cells[np.ix_(ms, ss)] = won[np.ix_(ms, ss)]
            if cells.sum() > 0:
                out[c] += a * cells / cells.sum()
            else:
                pending[c] += a
        elif mot[i] >= 0 and seg[i] >= 0:
            out[c, mot[i], seg[i]] += a
        elif mot[i] >= 0 and won[mot[i]].sum() > 0:  # a motion's cost with no segment
            out[c, mot[i]] += a * won[mot[i]] / won[mot[i]].sum()
        elif S_AND_M[c] in time and time[S_AND_M[c]][month[i]].sum() > 0:
            t = time[S_AND_M[c]][month[i]]
            out[c] += a * t / t.sum()
        else:
            pending[c] += a
    basis = out.sum(axis=0) if overhead == "direct_cost" else won
    if basis.sum() <= 0:
        basis = won if won.sum() > 0 else out.sum(axis=0)
    if basis.sum() > 0:
        out += pending[:, None, None] * (basis / basis.sum())[None]
    return out


def _time_by_role(r: Records, n_months: int) -> dict[str, np.ndarray]:
    """People's time by role as (months, motions, segments) arrays: the work table, plus each
    role's prospecting time spread over the meetings it booked that month (leads of source
    'outbound' for SDRs, each weighted by the prospecting time a meeting of its segment takes,
    1 / outbound_meetings_day; 'ae_outbound' for AEs, whose prospecting hours count as selling
    days)."""
    nm, ns = len(r.motions), len(r.segments)
    out = {role: np.zeros((n_months, nm, ns)) for role in ("sdr", "ae")}
    wk = r.columns.get("work")
    if wk is not None and len(wk["days"]):
        for role, t in out.items():
            sel = (wk["role"] == role) & (wk["month"] < n_months)
            np.add.at(t, (wk["month"][sel], wk["motion"][sel], wk["segment"][sel]), wk["days"][sel])
    st = r.columns["staff"]
    if not len(st["month"]):
        return out
    leads = r.columns["leads"]
    # a meeting's weight: the prospecting time it took (an enterprise meeting takes longer to book)
    sdr_w = np.asarray(r.sdr_days_per_meeting) if r.sdr_days_per_meeting else np.ones(ns)
    for role, column, source, unit, per_meeting in (
        ("sdr", "sdr_prospecting_days", "outbound", 1.0, sdr_w),
        ("ae", "ae_hours_prospecting", "ae_outbound", r.ae_hours_per_day, np.ones(ns)),
    ):
        if column not in st or not unit:
            continue
        sel = (st["role"] == role) & (st["month"] < n_months)
        pros = np.zeros(n_months)
        pros[st["month"][sel]] = np.nan_to_num(st[column][sel]) / unit
        mine = (leads["source"] == source) & (leads["month"] < n_months)
        meet = np.zeros((n_months, nm, ns))
        np.add.at(meet, (leads["month"][mine], leads["motion"][mine], leads["segment"][mine]),
                  leads["leads"][mine] * per_meeting[leads["segment"][mine]])  # fmt: skip
        total = meet.sum(axis=(1, 2))
        has = total > 0
        out[role][has] += pros[has, None, None] * meet[has] / total[has, None, None]
    if r.ae_hour_cost:  # an hour on a segment's deals costs its hour_cost (senior AEs cost more)
        out["ae"] *= np.asarray(r.ae_hour_cost)[None, None, :]
    return out


def _new_customer_cells(r: Records) -> np.ndarray:
    """New customers won in the window by (motion, segment)."""
    lo, hi = r.window
    o = r.columns["opportunities"]
    sel = _in(o["closed_day"], lo, hi) & (o["outcome"] == WON) & (o["type"] == NEW)
    out = np.zeros((len(r.motions), len(r.segments)))
    np.add.at(out, (o["motion"][sel], o["segment"][sel]), 1.0)
    return out


def clv_by_customer(
    r: Records, gross_margin: float, years: float = 5.0, discount_rate_year: float = 0.10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CLV of each new customer of the window, with its segment and motion codes.

    CLV = ACV / 12 x gross margin x sum over months t < 12 x years of q^t, q = (1 - churn)
    x (1 + expansion) / (1 + discount_rate_year)^(1/12): the expected discounted gross margin over
    a finite horizon, with the monthly logo churn and expansion rate the run produced for the
    customer's segment in the window (`segment_rates`)."""
    c = r.columns["customers"]
    lo, hi = r.window
    start = c["start_day"]
    new = (start >= lo) & (start < hi) & (c["motion"] < len(r.motions))  # not installed_base
    churn, growth = segment_rates(r)
    seg = c["segment"][new]
    q = (1.0 - churn[seg]) * (1.0 + growth[seg]) / (1.0 + discount_rate_year) ** (1.0 / 12.0)
    months = 12.0 * years
    annuity = np.where(np.isclose(q, 1.0), months, (1.0 - q**months) / np.where(q == 1, 2, 1 - q))
    clv = c["acv"][new] / 12.0 * gross_margin * annuity
    return clv, seg, c["motion"][new]


def segment_rates(r: Records) -> tuple[np.ndarray, np.ndarray]:
    """Monthly logo churn and monthly expansion rate of each segment over the window: churned logos
    / customer-months, and expansion ACV won / ARR-months (contract ACV x months active). A segment
    with no exposure gets 0 for both."""
    lo, hi = r.window
    c = r.columns["customers"]
    ns = len(r.segments)
    start, seg = c["start_day"], c["segment"]
    churn_f = np.where(np.isnan(c["churn_day"]), np.inf, c["churn_day"])
    months = np.clip(np.minimum(churn_f, hi) - np.maximum(start, lo), 0.0, None) / MONTH_DAYS
    exposure = np.bincount(seg, weights=months, minlength=ns)
    churned = np.bincount(seg, weights=((churn_f >= lo) & (churn_f < hi)), minlength=ns)
    arr_months = np.bincount(seg, weights=months * c["acv"], minlength=ns)
    cid, when, amt = _won_expansions(r)
    inw = _in(when, lo, hi)
    exp = np.bincount(seg[cid[inw]], weights=amt[inw], minlength=ns) if inw.any() else np.zeros(ns)
    churn = np.divide(churned, exposure, out=np.zeros(ns), where=exposure > 0)
    growth = np.divide(exp, arr_months, out=np.zeros(ns), where=arr_months > 0)
    return np.minimum(churn, 1.0), growth


def economics_table(
    r: Records,
    gross_margin: float,
    overhead: str = "direct_cost",
    clv_years: float = 5.0,
    discount_rate_year: float = 0.10,
) -> pd.DataFrame:
    """Unit economics of one replication by motion and segment: attributed S&M cost (and its
    parts), new customers, CAC, new MRR, payback, CLV and LTV:CAC (rows with neither cost nor
    customers are left out)."""
    lo, hi = r.window
    staff = r.columns["staff"]
    n_months = int(staff["month"].max()) + 1 if len(staff["month"]) else math.ceil(hi / MONTH_DAYS)
    cost = attributed_costs(r, month_weights(n_months, lo, hi), overhead)
    won = _new_customer_cells(r)
    o = r.columns["opportunities"]
    sel = _in(o["closed_day"], lo, hi) & (o["outcome"] == WON) & (o["type"] == NEW)
    acv = np.zeros(won.shape)
    np.add.at(acv, (o["motion"][sel], o["segment"][sel]), o["amount"][sel])
    clv, cseg, cmot = clv_by_customer(r, gross_margin, clv_years, discount_rate_year)
    rows = []
    for i, name in enumerate(r.motions):
        for j, seg in enumerate(r.segments):
            total, n = float(cost[:, i, j].sum()), float(won[i, j])
            if total == 0 and n == 0:
                continue
            cac = _div(total, n) if n else NAN
            mrr = acv[i, j] / n / 12.0 if n else NAN
            mine = (cmot == i) & (cseg == j)
            row = {"motion": name, "segment": seg, "sm_cost": total}
            row.update({f"cost_{c}": float(cost[k, i, j]) for k, c in enumerate(S_AND_M)})
            row.update(
                new_customers=n,
                cac=cac,
                new_mrr=mrr,
                cac_payback_months=_div(cac, mrr * gross_margin),
                clv=_mean(clv[mine]),
                ltv_to_cac=_div(_mean(clv[mine]), cac),
            )
            rows.append(row)
    return pd.DataFrame(rows)


def _sum_by(keys: np.ndarray, values: np.ndarray) -> list[tuple[str, float]]:
    """(key, sum of values) for each distinct key, in sorted key order (a groupby-sum)."""
    if not len(keys):
        return []
    labels, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(labels))
    return [(str(k), float(v)) for k, v in zip(labels.tolist(), sums.tolist(), strict=True)]


def monthly_series(r: Records) -> pd.DataFrame:
    """Bookings, ARR, open pipeline and customers for each month of the window (month 0 = first)."""
    lo, hi = r.window
    n = max(1, math.ceil((hi - lo) / MONTH_DAYS - 1e-9))
    edges = lo + np.arange(n + 1) * MONTH_DAYS
    edges[-1] = min(edges[-1], hi)
    ends = edges[1:] - 1e-9
    o = r.columns["opportunities"]
    won_rows = o["outcome"] == WON
    wc = o["closed_day"][won_rows]
    idx = np.searchsorted(edges, wc, side="right") - 1
    ok = (idx >= 0) & (idx < n) & (wc < hi)
    amt = o["amount"][won_rows]
    is_new = o["type"][won_rows] == NEW
    book_new = np.bincount(idx[ok & is_new], weights=amt[ok & is_new], minlength=n)[:n]
    book_exp = np.bincount(idx[ok & ~is_new], weights=amt[ok & ~is_new], minlength=n)[:n]
    new_cust = np.bincount(idx[ok & is_new], minlength=n)[:n]
    created = o["created_day"]
    closed = np.where(np.isnan(o["closed_day"]), np.inf, o["closed_day"])
    is_new_all = o["type"] == NEW
    open_at = (created[None, :] <= ends[:, None]) & (closed[None, :] > ends[:, None]) & is_new_all
    c = r.columns["customers"]
    start = c["start_day"]
    churn = np.where(np.isnan(c["churn_day"]), np.inf, c["churn_day"])
    return pd.DataFrame(
        {
            "month": np.arange(n),
            "bookings": book_new + book_exp,
            "bookings_new": book_new,
            "bookings_expansion": book_exp,
            "new_customers": new_cust,
            "arr": arr_at(r, ends),
            "pipeline_open": open_at.sum(axis=1),
            "pipeline_value": (open_at * o["amount"][None, :]).sum(axis=1),
            "customers": ((start[None, :] <= ends[:, None]) & (churn[None, :] > ends[:, None])).sum(
                axis=1
            ),
        }
    )


def funnel_counts(r: Records) -> pd.DataFrame:
    """Stage outcomes decided inside the window: advanced, dropped, days spent, per motion and stage."""
    f = r.columns["funnel"]
    lo, hi = r.window
    n_months = int(f["month"].max()) + 1 if len(f["month"]) else 1
    ww = month_weights(n_months, lo, hi)[f["month"]]
    width = max((len(s) for s in r.stages.values()), default=1)
    sums = np.zeros((3, len(r.motions) * width))
    cell = f["motion"] * width + f["stage_index"]
    for j, col in enumerate(("advanced", "dropped", "stage_days")):
        sums[j] = np.bincount(cell, weights=f[col] * ww, minlength=sums.shape[1])
    mi = np.repeat(np.arange(len(r.motions)), [len(r.stages[m]) for m in r.motions])
    k = np.concatenate([np.arange(len(r.stages[m])) for m in r.motions]) if r.motions else mi
    flat = mi * width + k
    owners = r.owners or {}
    out = pd.DataFrame(
        {
            "motion": [r.motions[i] for i in mi.tolist()],
            "stage_index": k,
            "stage": [
                r.stages[r.motions[i]][j] for i, j in zip(mi.tolist(), k.tolist(), strict=True)
            ],
            "owner": [
                owners.get(r.motions[i], ("",) * (j + 1))[j]
                for i, j in zip(mi.tolist(), k.tolist(), strict=True)
            ],
            "advanced": sums[0, flat],
            "dropped": sums[1, flat],
            "stage_days": sums[2, flat],
        }
    )
    oe = r.columns.get("open_at_end")
    if oe is not None:  # leads in progress when the run ended, by stage
        opened = np.zeros(len(r.motions) * width)
        np.add.at(opened, oe["motion"] * width + oe["stage_index"], oe["open"])
        out["open_at_end"] = opened[flat].astype(float)
    return out
