"""Funnel checks: the engine against funnel algebra, against its own CRM file, and its random streams.

* check_funnel_algebra: a linear funnel with no queue (configs/experiment/funnel_algebra.yaml). Every
  lead is an independent chain of stage decisions, so wins ~ Poisson(lambda T prod p), the win rate of
  closed opportunities ~ Binomial(n, prod p) / n, stage k's decided outcomes ~ Binomial(n_k, p_k) and
  the won-deal cycle has mean sum(days_k) and variance sum((cv days_k)^2).
* check_ground_truth: simulate with known parameters, write the opportunity table as a CRM export
  (CSV with dates), read back four columns (created_date, close_date, stage, outcome) and re-estimate
  each stage's probability and mean duration from them alone, as an analyst would.
* check_common_random_numbers: scenarios that differ in something unrelated to a motion give that
  motion identical draws, record by record; named streams are uncorrelated and never shift each other.

A test asserts every row of one check, so the check as a whole must fail a correct engine less than
once in 10,000 runs. Each interval is two-sided at ALPHA = FAMILY_ALPHA / MAX_ROWS = 5e-6
(Bonferroni): with at most MAX_ROWS = 20 rows a check fails a correct engine with probability at
most 20 x 5e-6 = 1e-4, and less, since the exact binomial, Poisson and chi-square regions are
conservative and the rows are not all independent. The CLT rows (mean cycle, mean days recovered)
rest on means of thousands of durations, whose skew moves a 5e-6 tail by a few per cent.
"""

from __future__ import annotations

import copy
import math
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy import optimize, stats

from sim.compose import compose_config, experiment_namespaces
from sim.config import load_run
from sim.metrics import scalar_metrics
from sim.model import simulate_replication
from sim.records import MONTH_DAYS, OPP_COLUMNS, crm_export
from sim.stats import (  # their home; checks and tests also reach them from here
    fit_stage_ps,
)
from sim.streams import Streams
from sim.validate import CheckRow

FAMILY_ALPHA = 1e-4  # a check (all its rows) fails a correct engine less often than this
MAX_ROWS = 20  # rows a check may have (tests/test_validation_funnel.py holds every check to it)
ALPHA = FAMILY_ALPHA / MAX_ROWS  # per row, two-sided: 5e-6
Z = float(stats.norm.isf(ALPHA / 2))  # 4.5648
MOTION = "funnel_algebra"

# replications x expected cohort leads per replication
SIZES = {
    "fast": {"reps": 4, "leads": 20000, "crn_reps": 1, "crn_leads": 4000, "draws": 200_000},
    "full": {"reps": 20, "leads": 100000, "crn_reps": 3, "crn_leads": 20000, "draws": 2_000_000},
}


def _size(size: str) -> dict:
    if size not in SIZES:
        raise ValueError(f"size = {size!r}: allowed are {sorted(SIZES)}")
    return SIZES[size]


# -- building scenarios -------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _composed(overrides: tuple[str, ...]) -> dict:
    cfg = compose_config(["experiment=funnel_algebra", *overrides])
    return OmegaConf.to_container(cfg, resolve=True)


def scenario(*overrides: str, edit=None):
    """The funnel_algebra scenario with command-line style overrides; `edit(data)` may change the
    resolved config dict (e.g. replace the stage list) before validation."""
    data = copy.deepcopy(_composed(tuple(overrides)))
    if edit is not None:
        edit(data)
    return load_run(data, experiment_namespaces())[0]


def linear_funnel(
    stages: list[tuple[float, dict | None]],
    opp_index: int = 0,
    arrival_rate: float = 10.0,
    horizon_days: float = 365.0,
    warmup_days: float = 0.0,
    seed: int = 0,
    fit_mean: float = 0.5,
):
    """A marketing-led linear funnel of len(stages) non-queued stages s0, s1, ... given as
    (p, days-dist-mapping or None), the opportunity created at stage `opp_index`."""

    def edit(d: dict) -> None:
        d["motions"][MOTION] = {
            "entry": "marketing",
            "opportunity_from": f"s{opp_index}",
            "stages": {
                f"s{k}": {"owner": "marketing" if k < opp_index else "ae", "p": p, "days": days}
                for k, (p, days) in enumerate(stages)
            },
        }
        d["channels"]["inbound"]["leads_month"] = arrival_rate * MONTH_DAYS
        d["channels"]["inbound"]["fit_mean"] = fit_mean
        d["horizon_days"], d["warmup_days"], d["seed"] = horizon_days, warmup_days, seed

    return scenario(edit=edit)


def _replications(sc, reps: int):
    for r in range(reps):
        yield simulate_replication(sc, r)


# -- known answers ------------------------------------------------------------------------------
def stage_truth(sc, motion: str = MOTION, segment: str = "smb", fit_mean: float | None = None):
    """(names, effective p, mean days, variance of days) of a motion's stages for one segment."""
    m = sc.motions[motion]
    seg = sc.segments[segment]
    fm = sc.channels["inbound"].fit_mean if fit_mean is None else fit_mean
    names, ps, means, vars_ = [], [], [], []
    for name, st in m.stages.items():
        p = st.p[segment] if isinstance(st.p, dict) else st.p
        names.append(name)
        ps.append(float(p))
        d = st.days
        mean = 0.0 if d is None else d.mean * seg.cycle_scale
        var = 0.0 if d is None or d.dist == "fixed" else (d.cv * d.mean * seg.cycle_scale) ** 2
        means.append(mean)
        vars_.append(var)
    # fit shifts every stage's log-odds (docs/model.md#lead-fit): each stage's truth among the leads
    # that reach it (marketing leads: their channel's fit; others: lead_fit's means)
    lf = sc.lead_fit
    if m.entry != "marketing":
        fm = lf.product_mean if m.entry == "product" else lf.outbound_mean
    ps = list(fit_stage_ps(ps, fm, lf.log_odds_per_fit, lf.ref))
    return names, np.array(ps), np.array(means), np.array(vars_)


def journey_tail_bound(sc, motion: str, t: float, segment: str = "smb") -> float:
    """An upper bound on P(sum of all stage durations > t): Chernoff, min over theta of
    E[exp(theta S)] exp(-theta t), for gamma / exponential / uniform / fixed stages; Cantelli's
    inequality if a stage is lognormal (no moment generating function)."""
    seg = sc.segments[segment]
    dists = [st.days for st in sc.motions[motion].stages.values() if st.days is not None]
    sc_ = seg.cycle_scale
    mean = sum(d.mean * sc_ for d in dists)
    if t <= mean:
        return 1.0
    if any(d.dist == "lognormal" and d.cv > 0 for d in dists):
        var = sum((d.cv * d.mean * sc_) ** 2 for d in dists)
        return var / (var + (t - mean) ** 2)
    theta_max = math.inf
    for d in dists:
        if d.dist in ("gamma", "exponential") and d.cv > 0:
            theta_max = min(theta_max, 1.0 / (d.mean * sc_ * d.cv**2))

    def log_mgf(th: float) -> float:
        total = 0.0
        for d in dists:
            m = d.mean * sc_
            if d.dist == "fixed" or d.cv == 0:
                total += th * m
            elif d.dist in ("gamma", "exponential"):
                k = 1.0 / d.cv**2
                total += -k * math.log1p(-th * m / k)
            else:  # uniform on [m - h, m + h]
                h = math.sqrt(3.0) * d.cv * m
                w = 2 * h * th
                total += th * (m - h) + (math.log(math.expm1(w) / w) if w > 1e-12 else 0.0)
        return total

    hi = theta_max * (1 - 1e-9) if math.isfinite(theta_max) else 50.0 / max(t, 1e-9) * 10
    res = optimize.minimize_scalar(
        lambda th: log_mgf(th) - th * t, bounds=(1e-12, hi), method="bounded"
    )
    return float(min(1.0, math.exp(min(0.0, res.fun))))


# -- rows ---------------------------------------------------------------------------------------
def binomial_row(check: str, expected: str, p: float, k: int, n: int, note: str = "") -> CheckRow:
    """Observed rate k/n against the exact two-sided binomial acceptance region of Bin(n, p)."""
    lo = float(stats.binom.ppf(ALPHA / 2, n, p))
    hi = float(stats.binom.isf(ALPHA / 2, n, p))
    return CheckRow(
        check,
        expected,
        k / n if n else math.nan,
        lo / n if n else math.nan,
        hi / n if n else math.nan,
        bool(n) and lo <= k <= hi,
        note
        or f"exact binomial acceptance region of Bin(n={n}, p={p:.4g}), alpha={ALPHA:g} two-sided",
    )


def poisson_row(check: str, expected: str, mu: float, k: int, note: str = "") -> CheckRow:
    lo = float(stats.poisson.ppf(ALPHA / 2, mu))
    hi = float(stats.poisson.isf(ALPHA / 2, mu))
    return CheckRow(
        check,
        expected,
        float(k),
        lo,
        hi,
        lo <= k <= hi,
        note or f"exact Poisson({mu:.6g}) acceptance region, alpha={ALPHA:g} two-sided",
    )


def mean_row(check: str, expected: str, mu: float, var: float, x: np.ndarray, note="") -> CheckRow:
    """Sample mean of x against mu +- z sqrt(var / n) (CLT, known variance)."""
    n = len(x)
    half = Z * math.sqrt(var / n) if n else math.nan
    obs = float(np.mean(x)) if n else math.nan
    return CheckRow(
        check,
        expected,
        obs,
        mu - half,
        mu + half,
        bool(n) and abs(obs - mu) <= half,
        note or f"CLT: mu +- {Z:.3f} sqrt(var/n), var={var:.4g}, n={n}, alpha={ALPHA:g} two-sided",
    )


def exact_row(check: str, expected: str, mismatches: int, note: str) -> CheckRow:
    return CheckRow(check, expected, float(mismatches), 0.0, 0.0, mismatches == 0, note)


def _fmt_product(ps) -> str:
    return " x ".join(f"{p:.4g}" for p in ps)


# -- 1. funnel algebra --------------------------------------------------------------------------
def check_funnel_algebra(size: str = "fast", overrides: tuple[str, ...] = ()) -> list[CheckRow]:
    """Wins, win rate, won-deal cycle and per-stage conversion against the algebra of a funnel
    with no contention."""
    z = _size(size)
    sc = scenario(f"funnel_algebra.leads={z['leads']}", *overrides)
    names, ps, means, vars_ = stage_truth(sc)
    P, D, V = float(np.prod(ps)), float(means.sum()), float(vars_.sum())
    rate = sc.channels["inbound"].leads_month / MONTH_DAYS
    n_months = int(sc.horizon_days // MONTH_DAYS)  # cohort: arrivals in whole months of the window
    t_cohort = n_months * MONTH_DAYS
    drain = sc.total_days - t_cohort
    bound = journey_tail_bound(sc, MOTION, drain)

    born = won = lost = still_open = unmatched = 0
    cycles: list[np.ndarray] = []
    dec = np.zeros((2, len(names)))
    m_won = m_closed = 0
    m_cycle = 0.0
    for rec in _replications(sc, z["reps"]):
        leads = rec.leads
        b = int(leads.loc[leads["month"] < n_months, "leads"].sum())
        opp = rec.opportunities
        coh = opp[opp["lead_day"].to_numpy() < t_cohort]
        born += b
        unmatched += abs(b - len(coh))  # every lead is an opportunity (created at the first stage)
        out = coh["outcome"].astype(str).to_numpy()
        won += int((out == "won").sum())
        lost += int((out == "lost").sum())
        still_open += int((out == "open").sum())
        w = coh[out == "won"]
        cycles.append((w["closed_day"] - w["created_day"]).to_numpy(dtype=float))
        g = rec.funnel.groupby("stage_index")[["advanced", "dropped"]].sum()
        for k in range(len(names)):
            if k in g.index:
                dec[:, k] += g.loc[k, ["advanced", "dropped"]].to_numpy()
        met = scalar_metrics(rec, sc.costs.gross_margin, sc.costs.overhead)
        nw = int(met["new_customers"])
        m_won += nw
        m_closed += round(nw / met["win_rate"]) if met["win_rate"] > 0 else 0
        m_cycle += met["cycle_days_mean"] * nw if nw else 0.0
    cycle = np.concatenate(cycles)
    R = z["reps"]
    prod = _fmt_product(ps)
    fit_note = (
        f"; stage 1 p is the fit-weighted E[min(1, 2 p F)] = {ps[0]:.4g} (configured "
        f"{sc.motions[MOTION].stages[names[0]].p})"
    )
    rows = [
        poisson_row(
            "leads born in the cohort window (records.leads)",
            f"Poisson: rate x T = {rate:g} x {t_cohort:.1f} d x {R} reps = {rate * t_cohort * R:.6g}",
            rate * t_cohort * R,
            born,
        ),
        exact_row(
            "cohort leads without exactly one opportunity row",
            "0 (opportunity created at the first stage)",
            unmatched,
            "records.leads by arrival month vs opportunities by lead_day; exact",
        ),
        exact_row(
            "cohort opportunities still open at the end of the run",
            f"0 (every cohort lead has >= {drain:.0f} d to finish)",
            still_open,
            f"Chernoff bound P(journey > {drain:.0f} d) <= {bound:.2g} per lead, "
            f"x {born} leads = {bound * born:.2g}",
        ),
        poisson_row(
            "wins from the cohort",
            f"leads x prod p: {rate * t_cohort * R:.6g} x {prod} = {rate * t_cohort * R * P:.6g}",
            rate * t_cohort * R * P,
            won,
            f"wins are a thinned Poisson process: exact Poisson acceptance region, alpha={ALPHA:g}{fit_note}",
        ),
        binomial_row(
            "cohort win rate won / (won + lost)",
            f"prod p = {prod} = {P:.5g}",
            P,
            won,
            won + lost,
        ),
        mean_row(
            "cohort mean won-deal cycle (created to closed), days",
            f"sum of stage means = {' + '.join(f'{m:g}' for m in means)} = {D:g}",
            D,
            V,
            cycle,
            f"CLT, known variance sum (cv m_k)^2 = {V:.4g}, n={len(cycle)}, z={Z:.3f} (alpha={ALPHA:g})",
        ),
    ]
    for k, name in enumerate(names):
        a, d = int(dec[0, k]), int(dec[1, k])
        rows.append(
            binomial_row(
                f"stage {k + 1} ({name}) conversion, records.funnel",
                f"p_{name} = {ps[k]:.4g}" + (" (fit-weighted)" if k == 0 else ""),
                ps[k],
                a,
                a + d,
            )
        )
    lo, hi = sc.warmup_days, sc.total_days
    rows += [
        binomial_row(
            "metrics.win_rate over the window (steady state)",
            f"prod p = {P:.5g}",
            P,
            m_won,
            m_closed,
            f"deals closed in [{lo:g}, {hi:g}): won and lost closures are independent Poisson "
            f"streams, so won | n ~ Bin(n={m_closed}, P); alpha={ALPHA:g} two-sided",
        ),
        CheckRow(
            "metrics.cycle_days_mean over the window (steady state)",
            f"sum of stage means = {D:g}",
            m_cycle / m_won if m_won else math.nan,
            D - Z * math.sqrt(V / m_won),
            D + Z * math.sqrt(V / m_won),
            bool(m_won) and abs(m_cycle / m_won - D) <= Z * math.sqrt(V / m_won),
            f"CLT, known variance {V:.4g}, n={m_won} won deals closed in the window, alpha={ALPHA:g}",
        ),
    ]
    return rows


# -- 2. ground truth from the CRM file ----------------------------------------------------------
GROUND_TRUTH = (
    "seed=7",
    "funnel_algebra.dist=lognormal",
    "funnel_algebra.cv=0.6",
    "funnel_algebra.p.qualify=0.7",  # above 0.5: the fit cap binds; the truth is E[min(1, 1.4 F)]
    "funnel_algebra.p.discovery=0.45",
    "funnel_algebra.p.proposal=0.65",
    "funnel_algebra.p.negotiation=0.85",
    "funnel_algebra.days.qualify=2",
    "funnel_algebra.days.discovery=12",
    "funnel_algebra.days.proposal=9",
    "funnel_algebra.days.negotiation=20",
)


def estimate_from_crm(crm: pd.DataFrame, stages: list[str], as_of, settled_days: float):
    """Per-stage conversion and mean duration of a linear funnel from a CRM opportunity export.

    Uses only created_date, close_date, stage and outcome. A row's `stage` is where it was lost,
    where it sits if open, or the last stage if won. What is identifiable from such a table:
      * p_k: deals decided at stage k are those lost there plus those known to be past it (won, or
        lost/open at a later stage); p_k = passed_k / (passed_k + lost_k). Open deals count for the
        stages they have passed, so no cohort restriction is needed (whether a stage's decision is
        seen depends on durations and earlier outcomes, not on the decision itself).
      * mean days in stage k: per-stage times are not in the table, but a deal closed at stage k
        (lost there, or won if k is last) spent exactly stages 0..k, so the mean created-to-close
        time of group k is m_0 + ... + m_k and m_k is the difference of consecutive group means.
        Only deals created at least `settled_days` before the export date are used (right
        censoring: recent deals close only if quick); none of them may still be open.
      * not identifiable: the shape of a stage's duration distribution (only sums are seen), the
        per-lead probability behind the first stage's fit adjustment (only its mean), and any stage
        before the one that creates the opportunity (no rows for leads dropped there).
    Returns a DataFrame indexed by stage and the number of open deals in the settled cohort.
    """
    idx = {s: i for i, s in enumerate(stages)}
    K = len(stages)
    k = crm["stage"].map(idx).to_numpy()
    if np.isnan(k.astype(float)).any():
        raise ValueError("unknown stage in the CRM file")
    out = crm["outcome"].to_numpy()
    created = pd.to_datetime(crm["created_date"])
    closed = pd.to_datetime(crm["close_date"])
    rows = []
    settled = (pd.Timestamp(as_of) - created).dt.days.to_numpy() >= settled_days
    still_open = int((settled & (out == "open")).sum())
    cyc = (closed - created).dt.days.to_numpy(dtype=float)
    group = np.where(out == "won", K - 1, k)  # the stage a closed deal ended at
    gm, gv, gn = [], [], []
    for j in range(K):
        sel = settled & (out != "open") & (group == j)
        x = cyc[sel]
        gm.append(x.mean() if len(x) else math.nan)
        gv.append(x.var(ddof=1) if len(x) > 1 else math.nan)
        gn.append(len(x))
    for j, s in enumerate(stages):
        lost_j = int(((out == "lost") & (k == j)).sum())
        passed_j = int(((out == "won") | ((out != "won") & (k > j))).sum())
        m = gm[j] - (gm[j - 1] if j else 0.0)
        se = math.sqrt(gv[j] / gn[j] + (gv[j - 1] / gn[j - 1] if j else 0.0))
        rows.append((s, passed_j, lost_j, m, se, gn[j]))
    est = pd.DataFrame(
        rows, columns=["stage", "passed", "lost", "mean_days", "se_days", "n_closed"]
    )
    return est.set_index("stage"), still_open


def check_ground_truth(size: str = "fast") -> list[CheckRow]:
    """Known parameters in, a CRM export out, the parameters recovered from that file alone."""
    z = _size(size)
    sc = scenario(f"funnel_algebra.leads={z['leads']}", *GROUND_TRUTH)
    names, ps, means, _ = stage_truth(sc)
    as_of = pd.Timestamp(sc.start_date) + pd.Timedelta(days=sc.total_days)
    settled_days = sc.warmup_days
    files = []
    with tempfile.TemporaryDirectory() as tmp:
        for r, rec in enumerate(_replications(sc, z["reps"])):
            path = Path(tmp) / f"crm_rep{r}.csv"
            crm_export(rec.opportunities, sc.start_date).to_csv(path, index=False)
            files.append(path)
        # The analyst's view: the files and the pipeline's stage order, nothing else.
        crm = pd.concat(
            [
                pd.read_csv(f, usecols=["created_date", "close_date", "stage", "outcome"])
                for f in files
            ],
            ignore_index=True,
        )
    est, still_open = estimate_from_crm(crm, names, as_of, settled_days)
    rows = [
        exact_row(
            "CRM deals created >= drain_days before the export still open",
            "0 (else the duration estimates are censored)",
            still_open,
            f"{len(crm)} rows read back from {len(files)} CSV exports; settled cohort: created "
            f">= {settled_days:g} d before {as_of.date()}",
        )
    ]
    for j, s in enumerate(names):
        e = est.loc[s]
        n, kk = int(e["passed"] + e["lost"]), int(e["passed"])
        lo = float(stats.beta.ppf(ALPHA / 2, kk, n - kk + 1)) if kk > 0 else 0.0
        hi = float(stats.beta.isf(ALPHA / 2, kk + 1, n - kk)) if kk < n else 1.0
        cfg_p = sc.motions[MOTION].stages[s].p
        rows.append(
            CheckRow(
                f"stage {j + 1} ({s}) conversion recovered from the CRM file",
                f"true p = {ps[j]:.4g}"
                + f" (configured {cfg_p}, shifted by fit among the leads that reach it)",
                kk / n,
                lo,
                hi,
                lo <= ps[j] <= hi,
                f"Clopper-Pearson {1 - ALPHA:.4%} interval of passed/decided (n={n}) must cover "
                "the truth; open deals count for the stages they passed",
            )
        )
    for j, s in enumerate(names):
        e = est.loc[s]
        m, se = float(e["mean_days"]), float(e["se_days"])
        rows.append(
            CheckRow(
                f"stage {j + 1} ({s}) mean days recovered from the CRM file",
                f"true mean = {means[j]:g} ({sc.motions[MOTION].stages[s].days.dist})",
                m,
                m - Z * se,
                m + Z * se,
                abs(m - means[j]) <= Z * se,
                "difference of mean created-to-close days of deals closed at stage k and at k-1 "
                f"(dates, so whole days); normal interval +- {Z:.3f} se with sample variances "
                f"(n_k={int(e['n_closed'])}) must cover the truth",
            )
        )
    return rows


# -- 3. common random numbers and stream independence ------------------------------------------
# the facts of a lead's journey: every opportunity column but ids and labels
OPP_KEY = [
    c for c in OPP_COLUMNS if c not in ("opportunity_id", "type", "motion", "owner", "customer_id")
]

CRN_VARIANTS = {
    "unrelated cost and CS knobs (AE and CSM cost, CSM book size, tools)": (
        "++team.ae.cost_month=15000",
        "++team.csm.book_size=5",
        "++team.csm.cost_month=9000",
        "++costs.tools_month=999",
    ),
    "another channel feeding another motion, worked in an AE queue": (
        "+channels.events={budget_month: 1, ref_budget_month: 1, leads_month: 60, "
        "segment_mix: {mid: 1.0}}",
        "+motions.other={entry: marketing, opportunity_from: demo, stages: {demo: {owner: ae, "
        "queue: ae, p: 0.5, days: {dist: gamma, mean: 5, cv: 1}}, close: {owner: ae, queue: ae, "
        "p: 0.6, days: {dist: exponential, mean: 8}}}}",
        "+mix.mid={other: 1.0}",
        "team.ae.count=2",
    ),
}
APPENDED_STAGE = "+motions.funnel_algebra.stages.legal={owner: ae, p: 0.9, days: {dist: gamma, mean: 4, cv: 0.5}}"


def _records_diff(a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> int:
    """Rows that differ between two tables (same order), plus the difference in length."""
    n = min(len(a), len(b))
    bad = np.zeros(n, dtype=bool)
    for c in cols:
        x, y = a[c].to_numpy()[:n], b[c].to_numpy()[:n]
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            x, y = x.astype(float), y.astype(float)
            same = (x == y) | (np.isnan(x) & np.isnan(y))
        else:
            same = x.astype(str) == y.astype(str)
        bad |= ~same
    return int(bad.sum()) + abs(len(a) - len(b))


def _motion_tables(rec, motion: str = MOTION, max_stage: int | None = None):
    opp = rec.opportunities
    opp = opp[opp["motion"].astype(str) == motion].sort_values("lead_day", kind="stable")
    f = rec.funnel[rec.funnel["motion"] == motion]
    if max_stage is not None:
        f = f[f["stage_index"] < max_stage]
    f = f.sort_values(["stage_index", "month"]).reset_index(drop=True)
    leads = rec.leads[rec.leads["motion"] == motion].reset_index(drop=True)
    return opp.reset_index(drop=True), f, leads


def stream_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def check_common_random_numbers(size: str = "fast") -> list[CheckRow]:
    """Identical draws for a motion whatever else changes; independent, non-interfering streams."""
    z = _size(size)
    base_ov = (f"funnel_algebra.leads={z['crn_leads']}",)
    base = scenario(*base_ov)
    reps = range(z["crn_reps"])
    base_recs = [simulate_replication(base, r) for r in reps]
    rows: list[CheckRow] = []
    fcols = ["stage_index", "month", "advanced", "dropped", "stage_days"]
    for label, ov in CRN_VARIANTS.items():
        sc = scenario(*base_ov, *ov)
        arr = out = opps = n_opp = 0
        for r, ra in zip(reps, base_recs, strict=True):
            rb = simulate_replication(sc, r)
            oa, fa, la = _motion_tables(ra)
            ob, fb, lb = _motion_tables(rb)
            arr += _records_diff(la, lb, ["source", "segment", "month", "leads"])
            arr += _records_diff(oa, ob, ["lead_day"])
            out += _records_diff(fa, fb, fcols)
            opps += _records_diff(oa, ob, OPP_KEY)
            n_opp += len(oa)
        rows += [
            exact_row(
                f"CRN, {label}: {MOTION} arrivals that differ",
                "0 (identical lead counts by month and arrival days)",
                arr,
                f"records.leads rows and lead_day of {n_opp} leads, {len(reps)} replication(s); "
                "exact equality",
            ),
            exact_row(
                f"CRN, {label}: {MOTION} stage outcomes that differ",
                "0 (identical advanced/dropped/stage_days by stage and month)",
                out,
                "records.funnel rows of the shared motion; exact equality",
            ),
            exact_row(
                f"CRN, {label}: {MOTION} opportunity records that differ",
                "0 (identical created/closed days, stage, outcome, amount)",
                opps,
                f"{n_opp} opportunity rows matched in lead_day order (ids are renumbered across "
                "motions, so opportunity_id is not compared); exact equality",
            ),
        ]
    # appending a stage adds streams: the stages before it must see the same draws
    sc = scenario(*base_ov, APPENDED_STAGE)
    K = len(base.motions[MOTION].stages)
    out = opps = n_lost = 0
    for r, ra in zip(reps, base_recs, strict=True):
        rb = simulate_replication(sc, r)
        oa, fa, _ = _motion_tables(ra, max_stage=K)
        ob, fb, _ = _motion_tables(rb, max_stage=K)
        out += _records_diff(fa, fb, fcols)
        lost = (oa["outcome"].astype(str) == "lost").to_numpy()
        opps += _records_diff(oa, ob, ["lead_day", "created_day"])
        opps += _records_diff(oa[lost], ob[lost], OPP_KEY) if len(oa) == len(ob) else len(oa)
        n_lost += int(lost.sum())
    rows += [
        exact_row(
            "CRN, a stage appended after the last: earlier stages' outcomes that differ",
            f"0 (records.funnel of stages 1-{K} identical)",
            out,
            "new stage, new streams outcome/duration/funnel_algebra/legal; exact equality",
        ),
        exact_row(
            "CRN, a stage appended after the last: opportunities lost before it that differ",
            "0 (same leads, same losses at the same stage and day)",
            opps,
            f"{n_lost} lost opportunity rows plus lead/created days of all; exact equality",
        ),
    ]
    rows += _stream_rows(Streams, z["draws"])
    return rows


def _stream_rows(Streams, n: int) -> list[CheckRow]:
    rows = []
    half = Z / math.sqrt(n - 1)
    pairs = {
        "two stage streams, same replication": (
            Streams(42, 0)(f"outcome/{MOTION}/qualify"),
            Streams(42, 0)(f"duration/{MOTION}/qualify"),
        ),
        "one stream, replications 0 and 1": (
            Streams(42, 0)("arrivals/inbound"),
            Streams(42, 1)("arrivals/inbound"),
        ),
        "one stream, seeds 42 and 43": (
            Streams(42, 0)("acv/smb"),
            Streams(43, 0)("acv/smb"),
        ),
    }
    for label, (ga, gb) in pairs.items():
        r = stream_correlation(ga.random(n), gb.random(n))
        rows.append(
            CheckRow(
                f"streams independent: correlation of {label}",
                "0",
                r,
                -half,
                half,
                abs(r) <= half,
                f"under independence r ~ N(0, 1/(n-1)), n={n}: +- {Z:.3f}/sqrt(n-1)",
            )
        )
    # many pairs at once: sum of squared z-scores of 100 stream pairs ~ chi-square(100)
    m, npair = 100, max(1000, n // 20)
    s = Streams(42, 0)
    names = [f"outcome/m{i}/s{i % 7}" for i in range(m)] + [f"arrivals/ch{i}" for i in range(m)]
    chi = 0.0
    for i in range(m):
        r = stream_correlation(s(names[i]).random(npair), s(names[m + i]).random(npair))
        chi += r * r * (npair - 1)
    lo, hi = float(stats.chi2.ppf(ALPHA / 2, m)), float(stats.chi2.isf(ALPHA / 2, m))
    rows.append(
        CheckRow(
            f"streams independent: sum of (r sqrt(n-1))^2 over {m} pairs of named streams",
            f"chi-square({m}): mean {m}",
            chi,
            lo,
            hi,
            lo <= chi <= hi,
            f"n={npair} draws per stream; chi-square({m}) acceptance region, alpha={ALPHA:g}",
        )
    )
    # drawing from other streams never shifts a stream
    alone = Streams(5, 2)("outcome/x/qualify").random(5000)
    busy = Streams(5, 2)
    parts = []
    for i in range(50):
        busy(f"noise/{i}").random(2000)
        busy("arrivals/inbound").normal(size=777)
        parts.append(busy("outcome/x/qualify").random(100))
    mism = int((np.concatenate(parts) != alone).sum())
    rows.append(
        exact_row(
            "streams never shift each other: draws of a stream amid other streams' draws",
            "0 values differ",
            mism,
            "5000 draws taken alone vs in 50 chunks of 100 interleaved with 51 other streams; exact",
        )
    )
    return rows
