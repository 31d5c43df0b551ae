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

from sim.records import MONTH_DAYS, Records

NAN = float("nan")
S_AND_M = ("marketing", "product", "sdr", "ae", "tools", "plays")  # cost categories in CAC

HEADLINE = ("win_rate", "cycle_days", "cac", "clv")

# Which way is better, by metric name before the first dot (`cac.plg` -> `cac`): +1 higher, -1 lower.
# Metrics not listed (costs, utilisation, staffing shares) have no good direction: comparisons report
# their difference but no `p_better`.
GOOD_DIRECTION: dict[str, int] = {
    **dict.fromkeys(
        (
            "win_rate",
            "new_customers",
            "bookings",
            "bookings_new",
            "bookings_expansion",
            "arr_end",
            "customers_end",
            "nrr",
            "grr",
            "clv",
            "clv_in_horizon",
            "ltv_to_cac",
            "arpa_month",
            "leads",
            "sla_met_share",
        ),
        1,
    ),
    **dict.fromkeys(
        (
            "cac",
            "cac_payback_months",
            "cycle_days",
            "cycle_days_mean",
            "lead_to_close_days",
            "logo_churn",
            "logo_churn_month",
            "sdr_wait_days",
            "ae_wait_days",
            "sdr_waited_share",
            "sdr_queue_length",
        ),
        -1,
    ),
}


def good_direction(metric: str) -> int | None:
    """+1 if higher is better, -1 if lower is better, None if the metric has no good direction."""
    return GOOD_DIRECTION.get(metric.split(".")[0])


def _div(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else NAN


def month_weights(n_months: int, lo: float, hi: float) -> np.ndarray:
    """Share of each simulation month that lies inside [lo, hi)."""
    starts = np.arange(n_months) * MONTH_DAYS
    overlap = np.clip(np.minimum(starts + MONTH_DAYS, hi) - np.maximum(starts, lo), 0.0, MONTH_DAYS)
    return overlap / MONTH_DAYS


def _in(x: pd.Series, lo: float, hi: float) -> np.ndarray:
    v = x.to_numpy(dtype=float)
    return (v >= lo) & (v < hi)


COST_METRICS = ("cac", "cac_payback_months", "ltv_to_cac", "sm_cost")


def scalar_metrics(
    r: Records, gross_margin: float, allocation: str = "activity", costs_known: bool = True
) -> dict[str, float]:
    """Every scalar metric of one replication, blended, per motion (`win_rate.plg`) and per segment
    (`win_rate.segment.smb`). Without cost data (costs_known false) the cost metrics are NaN."""
    lo, hi = r.window
    opp = r.opportunities
    closed_day = opp["closed_day"].to_numpy(dtype=float)
    in_win = (closed_day >= lo) & (closed_day < hi)
    outcome = opp["outcome"].astype(str).to_numpy()
    won, lost = in_win & (outcome == "won"), in_win & (outcome == "lost")
    is_new = (opp["type"] == "new").to_numpy()
    motion = opp["motion"].astype(str).to_numpy()
    segment = opp["segment"].astype(str).to_numpy()
    amount = opp["amount"].to_numpy(dtype=float)
    cycle = closed_day - opp["created_day"].to_numpy(dtype=float)
    won_new = won & is_new
    n_months = int(r.staff["month"].max()) + 1 if len(r.staff) else math.ceil(hi / MONTH_DAYS)
    w = month_weights(n_months, lo, hi)

    costs = r.costs
    sm_cost = 0.0
    if len(costs):
        cw = costs["amount"].to_numpy() * w[costs["month"].to_numpy()]
        sm_cost = float(cw[costs["category"].isin(S_AND_M).to_numpy()].sum())

    m: dict[str, float] = {}
    m["win_rate"] = _rate(won & is_new, lost & is_new)
    m["cycle_days"], m["cycle_days_mean"] = _median(cycle[won_new]), _mean(cycle[won_new])
    if "lead_day" in opp:
        m["lead_to_close_days"] = _median((closed_day - opp["lead_day"].to_numpy(float))[won_new])
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
    m["clv"] = _div(ret["arpa_month"] * gross_margin, ret["logo_churn_month"])
    m["ltv_to_cac"] = _div(m["clv"], m["cac"])
    m["clv_in_horizon"] = _clv_in_horizon(r, lo, hi, gross_margin)
    leads = r.leads
    m["leads"] = (
        float((leads["leads"].to_numpy() * w[leads["month"].to_numpy()]).sum())
        if len(leads)
        else 0.0
    )
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

    shares = _allocation(r, w, motion[won_new], allocation)
    for name in r.motions:
        mine = motion == name
        # an expansion motion's opportunities are all expansions: its win rate counts them
        kind = mine if not (mine & is_new).sum() and (mine & ~is_new).any() else mine & is_new
        m[f"win_rate.{name}"] = _rate(won & kind, lost & kind)
        sel = won_new & mine
        m[f"new_customers.{name}"] = float(sel.sum())
        m[f"cycle_days.{name}"] = _median(cycle[sel])
        m[f"bookings.{name}"] = float(amount[won & mine].sum())
        m[f"cac.{name}"] = _div(shares.get(name, 0.0), float(sel.sum())) if sel.any() else NAN
    for seg in r.segments:
        mine = is_new & (segment == seg)
        sel = won & mine
        m[f"win_rate.segment.{seg}"] = _rate(sel, lost & mine)
        m[f"cycle_days.segment.{seg}"] = _median(cycle[sel])
        m[f"new_customers.segment.{seg}"] = float(sel.sum())
        m[f"bookings.segment.{seg}"] = float(amount[won & (segment == seg)].sum())
    if not costs_known:
        for k in m:
            if k.split(".")[0] in COST_METRICS:
                m[k] = NAN
    return m


def _clv_in_horizon(r: Records, lo: float, hi: float, gross_margin: float) -> float:
    """Gross margin that the window's new customers earned before the window closed (contract ACV,
    pro rata for the days they were customers), per new customer: the simulated counterpart of clv."""
    c = r.customers
    start = c["start_day"].to_numpy(dtype=float)
    new = (start >= lo) & (start < hi) & (c["motion"].astype(str) != "installed_base").to_numpy()
    if not new.any():
        return NAN
    churn = c["churn_day"].to_numpy(dtype=float)
    until = np.minimum(np.where(np.isnan(churn), hi, churn), hi)[new]
    earned = c["acv"].to_numpy(dtype=float)[new] * (until - start[new]) / 365.25
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
    """Busy share of each role's capacity in the window (SDR inbound work, AE pipeline slots)."""
    out = {"ae_utilization": NAN, "sdr_utilization": NAN, "sdr_prospecting_share": NAN}
    st = r.staff
    if not len(st):
        return out
    for role in ("sdr", "ae"):
        s = st[st["role"] == role]
        ww = w[s["month"].to_numpy()] * MONTH_DAYS
        cap = float((s["capacity"].to_numpy() * ww).sum())
        if role == "ae":
            out["ae_utilization"] = _div(
                float((s["ae_slot_days"].to_numpy() * w[s["month"]]).sum()), cap
            )
        else:
            busy = float((s["sdr_inbound_days"].to_numpy() * w[s["month"]]).sum())
            pros = float((s["sdr_prospecting_days"].to_numpy() * w[s["month"]]).sum())
            out["sdr_utilization"] = _div(busy, cap)
            out["sdr_prospecting_share"] = _div(pros, cap)
    return out


def arr_at(r: Records, t: float | np.ndarray) -> np.ndarray:
    """ARR (sum of contract ACV plus won expansions) of customers active at each time t."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    c = r.customers
    start = c["start_day"].to_numpy()
    churn = c["churn_day"].to_numpy()
    churn = np.where(np.isnan(churn), np.inf, churn)
    acv = c["acv"].to_numpy()
    active = (start[None, :] <= t[:, None]) & (churn[None, :] > t[:, None])
    arr = (active * acv[None, :]).sum(axis=1)
    opp = r.opportunities
    exp = opp[(opp["type"] == "expansion") & (opp["outcome"] == "won")]
    if len(exp):
        cid = exp["customer_id"].to_numpy()
        when = exp["closed_day"].to_numpy()
        amt = exp["amount"].to_numpy()
        alive = (when[None, :] <= t[:, None]) & active[:, cid]
        arr = arr + (alive * amt[None, :]).sum(axis=1)
    return arr


def retention(r: Records, lo: float, hi: float) -> dict[str, float]:
    """NRR, GRR and logo churn of the cohort active at the window start, over the window; monthly
    logo churn and ARPA over all customer-months in the window (for CLV)."""
    c = r.customers
    out = {
        "arr_end": NAN,
        "nrr": NAN,
        "grr": NAN,
        "logo_churn": NAN,
        "logo_churn_month": NAN,
        "arpa_month": NAN,
        "customers_end": 0.0,
    }
    if not len(c):
        return out
    start = c["start_day"].to_numpy()
    churn = c["churn_day"].to_numpy()
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
    c = r.customers
    start = c["start_day"].to_numpy()
    churn = c["churn_day"].to_numpy()
    active = (start <= t) & ~(churn <= t)
    arr = np.where(active, c["acv"].to_numpy(), 0.0)
    opp = r.opportunities
    exp = opp[(opp["type"] == "expansion") & (opp["outcome"] == "won")]
    if len(exp):
        done = exp["closed_day"].to_numpy() <= t
        np.add.at(arr, exp["customer_id"].to_numpy()[done], exp["amount"].to_numpy()[done])
        arr = np.where(active, arr, 0.0)
    return arr


def _allocation(r: Records, w: np.ndarray, won_motions: np.ndarray, rule: str) -> dict[str, float]:
    """S&M cost in the window per motion: direct costs plus shared costs split by the rule in
    costs.allocation ('activity': SDR cost by SDR-stage outcomes, AE cost by AE-stage outcomes,
    tools by new customers; 'customers': every shared cost by new customers). A shared cost with no
    activity to split by (SDRs in a product-led run) falls back to new customers, so per-motion
    costs add up to the blended S&M cost whenever there is any new customer."""
    costs = r.costs
    out: dict[str, float] = {}
    if not len(costs):
        return out
    cw = costs["amount"].to_numpy() * w[costs["month"].to_numpy()]
    costs = costs.assign(weighted=cw)
    sm = costs[costs["category"].isin(S_AND_M)]
    direct = sm[sm["motion"] != "shared"].groupby("motion")["weighted"].sum()
    for k, v in direct.items():
        out[str(k)] = out.get(str(k), 0.0) + float(v)
    by_customers = pd.Series(won_motions).value_counts()
    f = r.funnel
    fw = f.assign(n=(f["advanced"] + f["dropped"]) * w[f["month"].to_numpy()]) if len(f) else f
    for cat, amount in sm[sm["motion"] == "shared"].groupby("category")["weighted"].sum().items():
        basis = by_customers
        if rule == "activity" and cat in ("sdr", "ae") and len(fw):
            activity = fw[fw["owner"] == cat].groupby("motion")["n"].sum()
            if float(activity.sum()) > 0:
                basis = activity
        total = float(basis.sum())
        if total <= 0:
            continue
        for k, v in basis.items():
            out[str(k)] = out.get(str(k), 0.0) + float(amount) * float(v) / total
    return out


def monthly_series(r: Records) -> pd.DataFrame:
    """Bookings, ARR, open pipeline and customers for each month of the window (month 0 = first)."""
    lo, hi = r.window
    n = max(1, math.ceil((hi - lo) / MONTH_DAYS - 1e-9))
    edges = lo + np.arange(n + 1) * MONTH_DAYS
    edges[-1] = min(edges[-1], hi)
    ends = edges[1:] - 1e-9
    opp = r.opportunities
    won = opp[opp["outcome"] == "won"]
    wc = won["closed_day"].to_numpy(dtype=float)
    idx = np.searchsorted(edges, wc, side="right") - 1
    ok = (idx >= 0) & (idx < n) & (wc < hi)
    amt = won["amount"].to_numpy()
    is_new = (won["type"] == "new").to_numpy()
    book_new = np.bincount(idx[ok & is_new], weights=amt[ok & is_new], minlength=n)[:n]
    book_exp = np.bincount(idx[ok & ~is_new], weights=amt[ok & ~is_new], minlength=n)[:n]
    new_cust = np.bincount(idx[ok & is_new], minlength=n)[:n]
    created = opp["created_day"].to_numpy(dtype=float)
    closed = opp["closed_day"].to_numpy(dtype=float)
    closed = np.where(np.isnan(closed), np.inf, closed)
    is_new_all = (opp["type"] == "new").to_numpy()
    open_at = (created[None, :] <= ends[:, None]) & (closed[None, :] > ends[:, None]) & is_new_all
    c = r.customers
    start = c["start_day"].to_numpy()
    churn = np.where(np.isnan(c["churn_day"].to_numpy()), np.inf, c["churn_day"].to_numpy())
    return pd.DataFrame(
        {
            "month": np.arange(n),
            "bookings": book_new + book_exp,
            "bookings_new": book_new,
            "bookings_expansion": book_exp,
            "new_customers": new_cust,
            "arr": arr_at(r, ends),
            "pipeline_open": open_at.sum(axis=1),
            "pipeline_value": (open_at * opp["amount"].to_numpy()[None, :]).sum(axis=1),
            "customers": ((start[None, :] <= ends[:, None]) & (churn[None, :] > ends[:, None])).sum(
                axis=1
            ),
        }
    )


def funnel_counts(r: Records) -> pd.DataFrame:
    """Stage outcomes decided inside the window: advanced, dropped, days spent, per motion and stage."""
    f = r.funnel
    lo, hi = r.window
    n_months = int(f["month"].max()) + 1 if len(f) else 1
    ww = month_weights(n_months, lo, hi)[f["month"].to_numpy(dtype=int)] if len(f) else 0.0
    g = (
        f.assign(
            advanced=f["advanced"] * ww, dropped=f["dropped"] * ww, stage_days=f["stage_days"] * ww
        )
        .groupby(["motion", "stage_index"])[["advanced", "dropped", "stage_days"]]
        .sum()
    )
    rows = []
    for name in r.motions:
        owners = (r.owners or {}).get(name, ("",) * len(r.stages[name]))
        for k, stage in enumerate(r.stages[name]):
            a, d, days = g.loc[(name, k)].tolist() if (name, k) in g.index else (0.0, 0.0, 0.0)
            rows.append((name, k, stage, owners[k], a, d, days))
    out = pd.DataFrame(
        rows,
        columns=["motion", "stage_index", "stage", "owner", "advanced", "dropped", "stage_days"],
    )
    if r.open_at_end is not None:  # leads in progress when the run ended, by stage
        out = out.merge(
            r.open_at_end[["motion", "stage_index", "open"]],
            how="left",
            on=["motion", "stage_index"],
        ).rename(columns={"open": "open_at_end"})
        out["open_at_end"] = out["open_at_end"].fillna(0).astype(float)
    return out
