"""The calibration's files: calibrated.yaml (and its experiment preset), fit.json, report.md, plots.

`simulate_check` runs the calibrated scenario and measures, from its records, the quantities the fit
promised (win rate of closed deals, share won by the end, cycle medians, monthly arrivals), so the
report can put simulated next to fitted.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from sim import html_report, money  # noqa: E402
from sim.calibrate.fit import MIN_TREND_MONTHS, TREND_P, Calibration  # noqa: E402
from sim.calibrate.importer import CrmData, summary_lines  # noqa: E402
from sim.config import load_scenario  # noqa: E402
from sim.metrics import cycle_days, win_rate  # noqa: E402
from sim.model import simulate_replication  # noqa: E402
from sim.plots import save  # noqa: E402
from sim.records import MONTH_DAYS, WON  # noqa: E402
from sim.runfolder import release_all, staged  # noqa: E402
from sim.stats import mean_ci95, strict  # noqa: E402

MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _ci(x) -> tuple[float, float, float]:
    """Mean and 95 % interval (sim.stats) of the finite values; no interval from a single value."""
    x = np.asarray([v for v in x if np.isfinite(v)], float)
    if len(x) < 2:
        return (float(x.mean()) if len(x) else float("nan"), float("nan"), float("nan"))
    return (float(x.mean()), *mean_ci95(x))


def simulate_check(cal: Calibration, scenario: dict, replications: int) -> pd.DataFrame:
    """Simulate calibrated.yaml and compare with the fit: one row per (quantity, segment/month)."""

    sc = load_scenario({**scenario, "replications": replications})
    lo, hi = sc.warmup_days, sc.total_days
    cohort_hi = lo + 6 * MONTH_DAYS
    segs = {s.key: s for s in cal.segments.values()}
    vals: dict[tuple[str, str], list[float]] = {}

    def add(q, s, v):
        vals.setdefault((q, s), []).append(float(v))

    n_months = int(round((hi - lo) / MONTH_DAYS))
    fitted_arr: dict[str, float] = {}
    start = pd.Timestamp(sc.start_date) + pd.DateOffset(months=cal.warmup_months)
    for i in range(n_months):
        month = (start + pd.DateOffset(months=i)).to_period("M")
        fitted_arr[month.strftime("%Y-%m")] = float(cal.arrivals.rate(pd.PeriodIndex([month]))[0])
    for r in range(replications):
        rec = simulate_replication(sc, r)
        o = rec.columns["opportunities"]
        cr, cl = o["created_day"], o["closed_day"]
        for key in segs:
            me = o["segment"] == rec.segments.index(key)
            rate = win_rate(o, lo, hi, where=me)
            if np.isfinite(rate):
                add("win rate of closed deals", key, rate)
            coh = me & (cr >= lo) & (cr < cohort_hi)
            if coh.any():
                add("share won by the end (first 6 months' deals)", key,
                    ((o["outcome"] == WON) & coh & (cl < hi)).sum() / coh.sum())  # fmt: skip
            for outcome in ("won", "lost"):
                days = cycle_days(o, lo, hi, where=me, outcome=outcome)
                if len(days):
                    add(f"median days to {'win' if outcome == 'won' else 'lose'}", key,
                        np.median(days))  # fmt: skip
        months = np.floor((cr[(cr >= lo) & (cr < hi)] - lo) / MONTH_DAYS).astype(int)
        counts = np.bincount(months, minlength=n_months)[:n_months]
        for i, label in enumerate(fitted_arr):
            add("opportunities created", label, counts[i])
    # Expected closes inside the window depend on when deals arrived (arrivals are seasonal), so
    # the fitted figures are computed for the same window: a close of age tau lands in [lo, hi) if
    # the deal arrived in [lo - tau, hi - tau); Lambda is the cumulative arrival intensity.
    a = cal.arrivals
    sim_months = pd.period_range(
        pd.Timestamp(sc.start_date), periods=int(hi / MONTH_DAYS) + 2, freq="M"
    )
    f = a.rate(sim_months) / a.level  # factors, quarter ends and trend, month by month
    cum = np.concatenate([[0.0], np.cumsum(f)])  # in units of level x one month

    def big_lambda(t):
        m = np.clip(t / MONTH_DAYS, 0, len(f))
        i = np.floor(m).astype(int).clip(0, len(f) - 1)
        return cum[i] + (m - i) * f[i]

    tau = np.arange(0.25, 1500, 0.5)
    g = big_lambda(hi - tau) - big_lambda(np.maximum(lo - tau, 0))

    # the engine's stall (`stall_days`) keeps a deal due later open for good, so the fitted closes
    # it can reproduce are those by the stall age: the cumulative incidence stops there
    stop = cal.stall_days if cal.stall_days is not None else math.inf

    def window(of, outcome):
        ages = np.minimum(np.concatenate([[0.0], tau + 0.25]), stop)
        dens = np.diff(of.cif(ages, outcome)) * g
        total = dens.sum()
        if total <= 0:
            return 0.0, float("nan")
        return total, float(np.interp(0.5, np.cumsum(dens) / total, tau))

    rows = []
    for (q, s), v in vals.items():
        m, a, b = _ci(v)
        if q == "opportunities created":
            fitted = fitted_arr[s]
        else:
            of = segs[s].outcome
            if q == "win rate of closed deals":
                won_n, lost_n = window(of, "won")[0], window(of, "lost")[0]
                fitted = won_n / (won_n + lost_n)
            elif q.startswith("share won"):
                coh_ages = hi - (lo + np.linspace(0, 6 * MONTH_DAYS, 200))
                fitted = float(np.mean(of.cif(np.minimum(coh_ages, stop), "won")))
            elif q == "median days to win":
                fitted = window(of, "won")[1]
            else:
                fitted = window(of, "lost")[1]
        ok = (a <= fitted <= b) if np.isfinite(a) else None
        rows.append({"quantity": q, "segment": s, "fitted": fitted, "simulated": m,
                     "sim_lo": a, "sim_hi": b, "n": len(v), "fitted_in_ci": ok})  # fmt: skip
    return pd.DataFrame(rows)


# -- plots ----------------------------------------------------------------------------------------
def _grid(n: int):
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_cycle_times(cal: Calibration, path: Path) -> None:
    segs = list(cal.segments.values())
    fig, axes = _grid(len(segs))
    for ax, s in zip(axes, segs, strict=False):
        tmax = float(max(s.max_age, s.aj_times.max(), 30)) * 1.02
        grid = np.linspace(0, tmax, 300)
        ax.step(
            s.aj_times, s.aj_won, where="post", color="tab:green", lw=1.2, label="won, observed"
        )
        ax.plot(grid, s.outcome.cif(grid, "won"), color="darkgreen", ls="--", label="won, fitted")
        if cal.has_losses:
            ax.step(s.aj_times, s.aj_lost, where="post", color="tab:red", lw=1.2,
                    label="lost, observed")  # fmt: skip
            ax.plot(
                grid, s.outcome.cif(grid, "lost"), color="darkred", ls="--", label="lost, fitted"
            )
        ax.set_title(f"{s.name} (n={s.n}{', pooled shape' if s.pooled_shape else ''})", fontsize=9)
        ax.set_xlabel("days since created", fontsize=8)
        ax.set_ylim(0, max(0.05, float(s.aj_won.max()), float(s.aj_lost.max())) * 1.15)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of deals closed", fontsize=8)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Time to close: cumulative incidence, observed (Aalen-Johansen, open deals censored) vs fitted",
        fontsize=10,
    )
    save(fig, path)


def plot_win_rates(cal: Calibration, path: Path) -> None:
    segs = list(cal.segments.values())
    y = np.arange(len(segs))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(segs) + 1.6))
    p = np.array([s.outcome.p_win for s in segs])
    lo = np.array([s.outcome.p_win_ci[0] for s in segs])
    hi = np.array([s.outcome.p_win_ci[1] for s in segs])
    aj = np.array([s.aj_won[-1] for s in segs])
    ax.errorbar(p, y, xerr=[p - lo, hi - p], fmt="o", color="black", capsize=3,
                label="P(won), fitted (90% interval)")  # fmt: skip
    ax.plot(aj, y + 0.18, "s", color="tab:blue", ms=5, label="P(won), Aalen-Johansen plateau")
    ax.plot([s.naive_open_lost for s in segs], y - 0.18, "v", color="tab:red", ms=5,
            label="naive: open deals counted as lost")  # fmt: skip
    if cal.has_losses:
        ax.plot([s.naive_closed for s in segs], y - 0.18, "^", color="tab:orange", ms=5,
                label="won / closed (the CRM's win rate)")  # fmt: skip
    ax.set_yticks(y, [s.name for s in segs], fontsize=8)
    ax.set_xlabel("probability that a new opportunity is won")
    ax.set_xlim(0, 1)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Win probability per segment", fontsize=10)
    save(fig, path)


def plot_arrivals(cal: Calibration, path: Path) -> None:
    from scipy import stats

    a = cal.arrivals
    x = np.arange(len(a.months))
    mu = a.expected()
    c = cal.closes
    rows = 2 if c is not None else 1
    width = max(8, 0.55 * max(len(x), len(c.months) if c is not None else 0) + 2)
    fig, axes = plt.subplots(rows, 1, figsize=(width, 3.4 * rows), squeeze=False)
    ax = axes[0, 0]
    edge = _edge(a)
    ax.bar(x, a.observed, color=np.where(edge, "tab:red", "tab:gray"), alpha=0.7, label="observed")
    if edge.any():
        ax.bar(x[edge], a.observed[edge], color="tab:red", alpha=0.7, label="edge (not fitted)")
    ax.plot(x, mu, "o-", color="tab:blue", label="fitted")
    if a.dispersion:
        k = a.dispersion
        lo = stats.nbinom.ppf(0.05, k, k / (k + mu))
        hi = stats.nbinom.ppf(0.95, k, k / (k + mu))
    else:
        lo, hi = stats.poisson.ppf(0.05, mu), stats.poisson.ppf(0.95, mu)
    ax.fill_between(x, lo, hi, color="tab:blue", alpha=0.15, label="fitted 90% band")
    labels = [str(m) + ("*" if a.exposure[i] < 0.999 else "") for i, m in enumerate(a.months)]
    ax.set_xticks(x, labels, rotation=45, fontsize=8)
    ax.set_ylabel("opportunities created")
    ax.set_title("Monthly arrivals, observed vs fitted (* = month partly in the fitted window)",
                 fontsize=10)  # fmt: skip
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    if c is not None:
        ax = axes[1, 0]
        xc = np.arange(len(c.months))
        qe = c.months.month.to_numpy() % 3 == 0
        ax.bar(xc, c.observed, color=np.where(qe, "tab:orange", "tab:gray"), alpha=0.8)
        ax.plot(xc, c.expected(), "o-", color="black", label="level x quarter-end effect")
        ax.set_xticks(xc, [str(m) for m in c.months], rotation=45, fontsize=8)
        ax.set_ylabel("deals won")
        ax.set_title(
            f"Deals won by close month (orange: quarter-end months)\nend-of-quarter effect "
            f"x{c.quarter_end_boost:.2f} (90% {c.quarter_end_ci[0]:.2f}-{c.quarter_end_ci[1]:.2f})",
            fontsize=10,
        )
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    save(fig, path)


# -- text -----------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float, nd: int = 1) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:,.{nd}f}"


def fit_json(crm: CrmData, cal: Calibration, check: pd.DataFrame | None) -> dict:
    a = cal.arrivals
    segs = {}
    for s in cal.segments.values():
        o = s.outcome
        segs[s.key] = {
            "name": s.name,
            "deals": s.n,
            "won": s.won,
            "lost": s.lost,
            "open": s.open,
            "p_win": o.p_win,
            "p_win_90": list(o.p_win_ci),
            "p_win_aalen_johansen": float(s.aj_won[-1]),
            "p_win_aalen_johansen_90": [float(v) for v in s.aj_won_ci],
            "p_win_range_the_deals_allow": [float(v) for v in s.p_win_range],
            "never_closes": o.stuck,
            "win_rate_closed_only": s.naive_closed,
            "win_rate_open_as_lost": s.naive_open_lost,
            "median_days_won": o.quantile(0.5, "won"),
            "median_days_lost": o.quantile(0.5, "lost") if cal.has_losses else None,
            "classes": [
                {
                    "weight": c.weight,
                    "p_win": c.p_win,
                    "days_won": c.won.as_config(),
                    "days_lost": c.lost.as_config() if c.lost else None,
                }
                for c in o.classes
            ],
            "pooled_durations": s.pooled_shape,
            "deal_size": s.size.as_config() if s.size else None,
            "deal_size_n": s.size_n,
        }
    out = {
        "data": crm.name,
        "cutoff": str(cal.cutoff.date()),
        "fitted_from": str(cal.start.date()),
        "rejected_rows": crm.rejected,
        "repaired_rows": crm.notes,
        "currency": crm.currency,
        "left_truncated_deals": cal.left_truncated,
        "arrivals": {
            "months": [str(m) for m in a.months],
            "observed": [int(v) for v in a.observed],
            "exposure": [float(v) for v in a.exposure],
            "fitted": [float(v) for v in a.expected()],
            "level_month": a.level,
            "quarter_end_boost": a.quarter_end_boost,
            "quarter_end_boost_90": list(a.quarter_end_ci),
            "seasonality": a.seasonality,
            "seasonality_raw": a.raw_seasonality,
            "months_seen": a.seen,
            "edge_months": [str(m) for m, e in zip(a.months, _edge(a), strict=True) if e],
            "level_at": None if a.anchor is None else str(a.anchor.date()),
            "trend_year": a.trend_year,
            "trend_year_estimate": a.trend_estimate,
            "trend_year_90": list(a.trend_ci),
            "trend_p_value": a.trend_p,
            "trend_damping_days": a.trend_damping_days,
            "dispersion": a.dispersion,
            "segment_mix": a.segment_mix,
        },
        "wins_quarter_end_boost": None if cal.closes is None else cal.closes.quarter_end_boost,
        "wins_quarter_end_boost_90": None
        if cal.closes is None
        else list(cal.closes.quarter_end_ci),
        "close_pull": None if cal.close_pull is None else dataclasses.asdict(cal.close_pull),
        "stall_days": cal.stall_days,
        "stall_at_risk": cal.stall_at_risk,
        "segments": segs,
        "win_rate_drift": None
        if cal.drift is None
        else {
            "age_days": cal.drift.age,
            "cohorts": cal.drift.table.to_dict(orient="records"),
            "odds_ratio_year": cal.drift.odds_year,
            "odds_ratio_year_90": list(cal.drift.odds_year_ci),
            "p_value": cal.drift.p_value,
            "supported": cal.drift.supported,
            "recent_odds_carried": cal.drift.recent_odds,
            "note": cal.drift.note,
        },
        "reps": None
        if cal.reps is None
        else {
            "supported": cal.reps.supported,
            "chi2": cal.reps.chi2,
            "dof": cal.reps.dof,
            "p_value": cal.reps.p_value,
            "note": cal.reps.note,
        },
        "team": {
            **cal.ae_team(),
            "open_deals_peak": cal.open_deals_peak(),
            "active_owners_by_month": None
            if cal.team is None
            else {str(m): int(x) for m, x in cal.team.active.items()},
        },
    }
    if check is not None:
        out["check"] = check.to_dict(orient="records")
    return strict(out)


def summary_text(cal: Calibration) -> str:
    a = cal.arrivals
    lines = [
        f"fitted on deals created {cal.start.date()} .. {cal.cutoff.date()}",
        f"  arrivals: {a.level:,.0f} opportunities a month at factor 1; end-of-quarter effect on "
        f"arrivals x{a.quarter_end_boost:.2f} (90% {a.quarter_end_ci[0]:.2f}..{a.quarter_end_ci[1]:.2f})"
        + (
            f", on wins x{cal.closes.quarter_end_boost:.2f} (90% "
            f"{cal.closes.quarter_end_ci[0]:.2f}..{cal.closes.quarter_end_ci[1]:.2f})"
            if cal.closes is not None
            else ""
        ),
        f"  arrivals: {_trend_text(a)}".replace("**", "").replace(": Trend:", ": trend"),
        f"  {'segment':22s} {'deals':>6s} {'P(won)':>8s} {'90% interval':>15s} {'won/closed':>10s} "
        f"{'days to win':>11s} {'days to lose':>12s}",
    ]
    for s in cal.segments.values():
        o = s.outcome
        lost = _num(o.quantile(0.5, "lost"), 0) if cal.has_losses else "-"
        lines.append(
            f"  {s.name[:22]:22s} {s.n:6d} {_pct(o.p_win):>8s} "
            f"{_pct(o.p_win_ci[0]) + '..' + _pct(o.p_win_ci[1]):>15s} "
            f"{_pct(s.naive_closed) if cal.has_losses else '-':>10s} "
            f"{_num(o.quantile(0.5, 'won'), 0):>11s} {lost:>12s}"
        )
    if cal.reps is not None:
        lines.append(f"  reps: {cal.reps.note}")
    return "\n".join(lines) + "\n"


def _edge(a) -> np.ndarray:
    return np.zeros(len(a.months), bool) if a.edge is None else np.asarray(a.edge, bool)


def _trend_text(a) -> str:
    """The trend sentence of the Arrivals section: the estimate, its interval, the test, the verdict."""
    if not np.isfinite(a.trend_estimate):
        return "No trend was fitted."
    est = (
        f"{100 * a.trend_estimate:+.0f} % a year (90% interval {100 * a.trend_ci[0]:+.0f} % to "
        f"{100 * a.trend_ci[1]:+.0f} %; likelihood-ratio test of no trend p = {a.trend_p:.3g})"
    )
    if a.trend_year:
        return (
            f"**Trend: {est}**, kept: calibrated.yaml's channel grows at `trend_year` "
            f"{a.trend_year:+.3f} from the level at {a.anchor.date()} (`trend_anchor`)"
            + (
                f", damped: the growth fades e-fold every {a.trend_damping_days:.0f} days (the "
                f"fitted window, `trend_damping_days`), so the level stops at most "
                f"×{(1 + a.trend_year) ** (a.trend_damping_days / 365.25):.2f} above the anchor's."
                if a.trend_damping_days is not None
                else "."
            )
        )
    used = int((~_edge(a)).sum())
    why = (
        f"fewer than {MIN_TREND_MONTHS} months were fitted ({used})"
        if used < MIN_TREND_MONTHS
        else "the slope rests on one month at an end of the window: a step, not a trend"
        if a.trend_step
        else f"the test does not reject a flat rate at {TREND_P:g}"
    )
    return f"Trend: {est}; not kept ({why}): the calibrated rate is flat."


def _arrival_notes(a) -> list[str]:
    """What a reader of the Arrivals table should know: a saturated fit, and a tail far below the
    level (the usual sign of an export's edge: recent deals not yet recorded as opportunities)."""
    notes = []
    obs, fit = np.asarray(a.observed, float), a.expected()
    if a.use_seasonality and np.allclose(obs, fit, rtol=1e-6):
        notes.append(
            "With one calendar-month factor per month of data the fitted counts equal the observed "
            "ones by construction."
        )
    edge = _edge(a)
    if edge.any():
        months = ", ".join(
            f"{a.months[i].strftime('%b %Y')} {int(obs[i])}" for i in np.flatnonzero(edge)
        )
        notes.append(
            f"**Left out of the fit as the export's edges: {months}** (each below half of what the "
            "other months predict, with a chance under 1 % of so few). At the end this is usually "
            "the newest deals not yet recorded as opportunities; at the start, an extract that "
            "begins mid-stream. They are not read as seasonal lows; the fitted row shows what the "
            "model expects there."
        )
    rate = obs / np.maximum(np.asarray(a.exposure, float), 1e-9)
    low = 0
    while (
        low < len(rate) - 1
        and rate[len(rate) - 1 - low] < 0.5 * a.level
        and not edge[len(rate) - 1 - low]
    ):
        low += 1
    if low and a.use_seasonality:
        months = ", ".join(
            f"{a.months[i].strftime('%b %Y')} {int(obs[i])}"
            for i in range(len(obs) - low, len(obs))
        )
        keep = a.months[len(obs) - low - 1].to_timestamp(how="end").date()
        notes.append(
            f"**The last {'month' if low == 1 else f'{low} months'} ({months}) fall below half the "
            f"level ({a.level:,.0f}).** If the export's newest deals are not yet opportunities "
            "(rows without a date, or stages mapped to skip), this is the edge of the data, not "
            "seasonality, and the factors above carry it into every future year: refit with "
            f"`cutoff={keep}` or `fit.seasonality=false`."
        )
    return [line for n in notes for line in ("", n)]  # a blank line before each note


def _drift_lines(cal: Calibration) -> list[str]:
    """The win-rate drift section: the share won within the common age, cohort by cohort."""
    d = cal.drift
    if d is None:
        return [
            "## Win-rate drift across cohorts",
            "",
            "Not tested: fewer than three creation quarters have been followed "
            "long enough with enough deals.",
            "",
        ]
    return [
        "## Win-rate drift across cohorts",
        "",
        f"Share of each creation quarter's deals won within {d.age:.0f} days (every deal shown has "
        "been followed that long, so open deals bias nothing), and a logistic regression of it on "
        "the creation date with the segments: " + d.note,
        "",
        "| cohort | " + " | ".join(d.table["cohort"]) + " |",
        "|---|" + "---:|" * len(d.table),
        "| deals | " + " | ".join(str(int(v)) for v in d.table["deals"]) + " |",
        f"| won within {d.age:.0f} days | " + " | ".join(_pct(v) for v in d.table["share"]) + " |",
        "",
    ]


# report.html shows these sections first: whether the fit matches the data and the simulation the fit
VERDICTS = ("Simulated vs fitted", "Fitted vs the data")


def report_md(crm: CrmData, cal: Calibration, check: pd.DataFrame | None, outdir: Path) -> str:
    a = cal.arrivals
    L = [f"# Calibration: {crm.name}", ""]
    L += [
        f"Fitted on deals created from {cal.start.date()} (the first close in the file) to "
        f"{cal.cutoff.date()} ("
        + ("the end of the file" if cal.cutoff >= crm.as_of else "the cutoff")
        + "). Run the calibrated scenario with",
        "",
        "```sh",
        f"salesim --config-dir {outdir} experiment=calibrated",
        "```",
        "",
        "## What was read",
        "",
    ]
    L += [f"- {line.strip()}" for line in summary_lines(crm)]
    L += [f"- {n}" for n in cal.notes]
    L += [
        "",
        "## Win probability and time to close",
        "",
        "P(won) is the probability that a new opportunity is eventually won, from a competing-risks "
        "mixture fitted by maximum likelihood with open deals right-censored at their age on the "
        "cutoff (a share of deals never closes: 'never'). The Aalen-Johansen plateau is the "
        "nonparametric estimate of the same quantity. 'won/closed' drops open deals and "
        "'open = lost' counts them as lost: both are shown to make the bias visible.",
        "",
        "| segment | deals | won | lost | open | P(won) | 90% interval | Aalen-Johansen | won/closed "
        "| open = lost | never closes | median days to win | median days to lose | classes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in cal.segments.values():
        o = s.outcome
        L.append(
            f"| {s.name} | {s.n} | {s.won} | {s.lost} | {s.open} | {_pct(o.p_win)} | "
            f"{_pct(o.p_win_ci[0])}–{_pct(o.p_win_ci[1])} | {_pct(s.aj_won[-1])} | "
            f"{_pct(s.naive_closed) if cal.has_losses else '–'} | {_pct(s.naive_open_lost)} | "
            f"{_pct(o.stuck)} | "
            f"{_num(o.quantile(0.5, 'won'), 0)} | "
            f"{_num(o.quantile(0.5, 'lost'), 0) if cal.has_losses else '–'} | "
            f"{len(o.classes)}{' (pooled shape)' if s.pooled_shape else ''} |"
        )
    L += ["", "![win rates](win_rates.png)", "", "![cycle times](cycle_times.png)", ""]
    L += [
        "Time to close per class (the calibrated scenario has one motion per class: `fast`, `slow`, "
        "and `stuck` for deals that never close):",
        "",
        "| segment | class | weight | P(won) in class | days to win (mean, cv) | days to lose (mean, cv) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for s in cal.segments.values():
        names = ("fast", "slow") if len(s.outcome.classes) == 2 else ("all",)
        for nm, c in zip(names, s.outcome.classes, strict=True):
            lost = f"{c.lost.mean:.1f}, {c.lost.cv:.2f}" if c.lost else "–"
            L.append(
                f"| {s.name} | {nm} | {c.weight:.3f} | {_pct(c.p_win)} | "
                f"{c.won.dist} {c.won.mean:.1f}, {c.won.cv:.2f} | {lost} |"
            )
        L.append(f"| {s.name} | never closes | {s.outcome.stuck:.3f} | – | – | – |")
    L += [
        "",
        "## Arrivals",
        "",
        "Opportunities created per month, fitted with a Poisson regression with the month's "
        "exposure"
        + (
            f" (over-dispersed: intervals widened by it, and calibrated.yaml draws months from a "
            f"negative binomial of shape {a.dispersion:.1f})"
            if a.dispersion
            else ""
        )
        + f": level {a.level:,.1f} a month"
        + (f" at {a.anchor.date()}" if a.anchor is not None and a.trend_year else "")
        + f"; end-of-quarter effect on arrivals ×{a.quarter_end_boost:.2f} (90% interval "
        f"{a.quarter_end_ci[0]:.2f}–{a.quarter_end_ci[1]:.2f}). "
        + _trend_text(a)
        + " "
        + (
            "Calendar-month factors are estimated net of the level, trend and quarter end, then "
            "shrunk towards 1 by how often each month was seen (empirical Bayes: the spread between "
            "months against the sampling noise of each); with a year or less of data, no month "
            "can be told from noise and the factors stay near 1."
            if a.use_seasonality
            else "No calendar-month factors (fit.seasonality=false)."
        ),
        "",
        "| month | " + " | ".join(str(m) for m in a.months) + " |",
        "|---|" + "---:|" * len(a.months),
        "| observed | "
        + " | ".join(
            str(int(v)) + (" (edge)" if e else "")
            for v, e in zip(a.observed, _edge(a), strict=True)
        )
        + " |",
        "| fitted | " + " | ".join(f"{v:,.0f}" for v in a.expected()) + " |",
        "",
        *(
            [
                "| calendar month | " + " | ".join(MONTH_ABBR) + " |",
                "|---|" + "---:|" * 12,
                "| months seen | " + " | ".join(f"{v:.1f}" for v in a.seen) + " |",
                "| raw factor | " + " | ".join(f"{v:.2f}" for v in a.raw_seasonality) + " |",
                "| shrunk (used) | " + " | ".join(f"{v:.2f}" for v in a.seasonality) + " |",
            ]
            if a.raw_seasonality is not None and a.seen is not None
            else ["Seasonality (Jan..Dec): " + ", ".join(f"{v:.2f}" for v in a.seasonality)]
        ),
        *_arrival_notes(a),
    ]
    c = cal.closes
    if c is not None:
        L += [
            "",
            f"Deals **won** per close month show an end-of-quarter effect of ×{c.quarter_end_boost:.2f} "
            f"(90% interval {c.quarter_end_ci[0]:.2f}–{c.quarter_end_ci[1]:.2f}; an over-dispersed Poisson "
            "regression of won deals by close month on a quarter-end indicator). salesim's "
            "`quarter_end_boost` acts on arrivals; the bunching of wins at quarter ends is the deal "
            "stage's `close_pull` (below).",
        ]
    L += _pull_lines(cal.close_pull)
    L += [
        "",
        (
            f"**Stalled deals**: no deal open longer than {cal.stall_days:.0f} days ever closed, "
            f"while {cal.stall_at_risk} deals are open longer: a deal still open at that age stays "
            "open for good (the deal stage's `stall_days`; the won and lost durations' tails past "
            "it become stalled deals)."
            if cal.stall_days is not None
            else f"**Stalled deals**: only {cal.stall_at_risk} deals are open longer than the "
            "longest close seen, too few to tell whether deals stall: no `stall_days`."
        ),
    ]
    L += ["", "![arrivals](arrivals.png)", "", *_drift_lines(cal)]
    L += [
        "",
        "## Deal size",
        "",
        f"| segment | won deals with a value | family | mean ({money.unit()}) | cv |",
        "|---|---:|---|---:|---:|",
    ]
    for s in cal.segments.values():
        if s.size:
            L.append(
                f"| {s.name} | {s.size_n} | {s.size.dist} | {s.size.mean:,.1f} | {s.size.cv:.3f} |"
            )
        else:
            L.append(f"| {s.name} | {s.size_n} | none (too few values: 1 a deal) | – | – |")
    L += ["", "## Reps", ""]
    if cal.reps is None:
        L.append("No per-rep analysis: owners are missing or the file has no lost deals.")
    else:
        L.append(cal.reps.note + ".")
        L += ["", "| owner | closed | won | win rate | shrunk |", "|---|---:|---:|---:|---:|"]
        for _, r in cal.reps.table.iterrows():
            L.append(
                f"| {r['owner']} | {r['closed']} | {r['won']} | {_pct(r['rate'])} | {_pct(r['shrunk'])} |"
            )
    L += ["", *team_lines(cal, cal.ae_team())]
    L += [
        "",
        "## Fitted vs the data",
        "",
        "Each segment's fitted P(won) against the data's own censoring-aware figures: the "
        "Aalen-Johansen won incidence at the last follow-up (90 % interval) and the range of final "
        "P(won) the deals allow (from its lower bound to its upper bound plus every deal still "
        "unresolved then). A fit outside that range is replaced by a simpler one (notes above).",
        "",
        "| segment | fitted P(won) | Aalen-Johansen (90%) | range the deals allow | inside |",
        "|---|---:|---:|---:|---|",
    ]
    for s in cal.segments.values():
        lo, hi = s.p_win_range
        inside = "–" if not np.isfinite(lo) else ("yes" if lo <= s.outcome.p_win <= hi else "no")
        L.append(
            f"| {s.name} | {_pct(s.outcome.p_win)} | {_pct(s.aj_won[-1])} "
            f"({_pct(s.aj_won_ci[0])}–{_pct(s.aj_won_ci[1])}) | {_pct(lo)}–{_pct(hi)} | {inside} |"
        )
    if check is not None:
        L += [
            "",
            "## Simulated vs fitted",
            "",
            f"calibrated.yaml simulated {int(check['n'].max())} times; simulated = mean over "
            "replications with its 95% confidence interval (Student t); the last column says whether "
            "the fitted value lies inside it. The fitted figures are for the same window as the "
            "simulation (closes inside it, given the fitted arrivals), so they are exact targets; with "
            "about 40 comparisons at 95 %, two misses are expected by chance.",
            "",
            "| quantity | segment / month | fitted | simulated | 95% CI | inside |",
            "|---|---|---:|---:|---:|---|",
        ]
        for _, r in check.iterrows():
            pct = "win rate" in r["quantity"] or "share" in r["quantity"]
            f = _pct if pct else (lambda v: _num(v, 1))
            inside = {True: "yes", False: "no", None: "–"}[r["fitted_in_ci"]]
            L.append(
                f"| {r['quantity']} | {r['segment']} | {f(r['fitted'])} | {f(r['simulated'])} | "
                f"{f(r['sim_lo'])}–{f(r['sim_hi'])} | {inside} |"
            )
    return "\n".join(L) + "\n"


def team_lines(cal: Calibration, ae: dict) -> list[str]:
    """How the AE team of calibrated.yaml was inferred, and what acts on the calibrated company."""
    peak = cal.open_deals_peak()
    if cal.team is not None:
        who = cal.team.note() + "."
    else:
        who = (
            f"The export names no owners: a notional team of {ae['count']} AEs with "
            f"{ae['max_open_opps']} open deals each, sized for the fitted flow."
        )
    return [
        "## Team and what acts on calibrated.yaml",
        "",
        who,
        f"Each deal holds one of the team's pipeline slots from creation to close; at the fitted "
        f"peak about {peak:,.0f} deals are open, and `team.ae.max_open_opps = "
        f"{ae['max_open_opps']}` gives {ae['count'] * ae['max_open_opps']:,} slots (1.2 times "
        "the peak plus three standard deviations of noise), so the fit is not capacity-bound at "
        "this headcount. Fewer AEs (`team.ae.count`) make deals wait for a slot: longer cycles and "
        "fewer wins (`team.ae.wait_decay_days`); more cannot speed them past the fit. Leavers are "
        "replaced at once (`hiring_lag_days: 0`): the active count is already net of turnover.",
        "",
        "The deal stage stands for the standard opportunity stages (`covers`: discovery, demo, "
        "proposal, negotiation, with shares of its time), so plays aimed at them act on it; plays "
        "working on SDRs or earlier stages are refused with one line. Costs are not known "
        "(`costs.known: false`) until given (docs/calibration.md#running-calibratedyaml).",
    ]


def _pull_lines(pf) -> list[str]:
    """report.md's paragraph on wins pulled into quarter and month ends (fit.fit_close_pull)."""
    if pf is None:
        return []

    def one(name: str, days: float, share: float, ci, n: int) -> str:
        if not n:
            return f"no {name} end has its whole comparison window in the fitted window: share 0"
        return (
            f"{100 * share:.0f} % of the wins due within {days:.0f} days after a {name} end "
            f"(90% interval {100 * ci[0]:.0f}–{100 * ci[1]:.0f} %, from {n} {name} ends)"
        )

    return [
        "",
        "Wins **pulled into the period** (the deal stage's `close_pull`, docs/model.md): "
        + one("quarter", pf.quarter_days, pf.quarter_share, pf.quarter_ci, pf.quarter_ends)
        + "; "
        + one("month", pf.month_days, pf.month_share, pf.month_ci, pf.month_ends)
        + ". Fitted on the daily won counts either side of each period end against their own "
        "mean, the share discounted for the wins not yet in their closing stage at the end (the "
        "fitted time to win). It moves the timing of wins only, not their number.",
    ]


def preset_yaml(scenario: dict) -> str:
    head = (
        "# @package _global_\n"
        "# Written by salesim-calibrate. Run: salesim --config-dir <this folder's parent> "
        "experiment=calibrated\n"
        "defaults:\n  - override /company: null\n  - override /motion: none\n"
    )
    return head + yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True)


def write_outputs(
    crm: CrmData, cal: Calibration, scenario: dict, check: pd.DataFrame | None, outdir: Path
) -> Path:
    """Stage every file in a private folder, then publish them into `outdir`, fit.json last
    (sim.runfolder). Returns calibrated.yaml."""
    with staged(outdir, done="fit.json") as stage, money.using(crm.currency):
        (stage / "experiment").mkdir()
        (stage / "calibrated.yaml").write_text(
            "# The calibrated scenario (plain). salesim runs experiment/calibrated.yaml.\n"
            + yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True)
        )
        (stage / "experiment" / "calibrated.yaml").write_text(preset_yaml(scenario))
        plot_cycle_times(cal, stage / "cycle_times.png")
        plot_win_rates(cal, stage / "win_rates.png")
        plot_arrivals(cal, stage / "arrivals.png")
        (stage / "summary.txt").write_text(summary_text(cal))
        text = report_md(crm, cal, check, outdir)
        (stage / "report.md").write_text(text)
        html_report.write(
            stage, text, first=VERDICTS, config=(stage / "calibrated.yaml").read_text()
        )
        if check is not None:
            check.to_csv(stage / "check.csv", index=False, lineterminator="\n")
        (stage / "fit.json").write_text(json.dumps(fit_json(crm, cal, check), indent=2) + "\n")
    release_all()
    return outdir / "calibrated.yaml"
