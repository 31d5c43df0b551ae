"""Real false-alarm rates of the queue checks (sim.validate.queues), measured on exact queues.

A check should fail a correct engine less than once in 10,000 runs. Whether it does depends on more
than its nominal alpha (skewed waits, correlated batches, few replications), so this harness replays
each check on queues that are correct by construction (sim.validate.exact: the Kiefer-Wolfowitz
recursion of FCFS M/M/c stations, vectorised across runs) with the check's own parameters, warm-up,
window, batching and probe, and applies the check's very decision function to every run:

    rule               case                  decision (sim.validate.queues)
    erlang_c_wait      M/M/c at rho          wait_interval(batches_by_count(w, WAIT_BATCHES)) holds Wq
    erlang_c_p_wait    M/M/c at rho          p_wait_interval(w) holds C(c, a)
    littles_law        M/M/c at rho          littles_interval(L_b, (lambda W)_b, lambda W) holds L
    tandem_*           tandem                the tandem rows (SDR/AE mean wait, AE P(wait > 0),
                                             AE holding time, throughput)
    peer_*             tandem vs ciw         welch_interval(salesim reps, ciw reps) holds the
                                             salesim mean (two independent exact samples, each
                                             taken the way that simulator's statistics are)

A run "alarms" when the rule rejects the true value. The rate is reported with its one-sided 95%
Clopper-Pearson upper bound (scipy.stats.beta); the aim is an upper bound below 1e-4. Each run also
yields the rule's p-value, so the file also counts alarms at alpha 1e-4, 1e-5 and 1e-6 (how the
alphas in sim.validate.queues were chosen). Results go to sim/validate/false_alarms.csv (one row per
size, rule and case; --add pools new runs with the stored ones, and refuses a seed already pooled
for that case, which would replay the very same runs), which the check notes and docs/validation.md
quote. A test asserts every row of one check, so families() lists the rows of each queue check and
sim.validate.measured.family bounds the chance that any of them alarms.

    python -m sim.validate.false_alarms --size fast --runs 30000 --seed 1            # every case
    python -m sim.validate.false_alarms --size fast --runs 30000 --seed 2 --only tandem --add
    python -m sim.validate.false_alarms --size full --runs 30000 --only "mmc 5 0.9" --jobs 2

Cases (--only, comma-separated, run in that order): "mmc C RHO" for the MMC_PAIRS, "tandem sdr"
(the tandem's SDR rule: its station is an M/M/c replay of its own), "tandem" (the AE, holding-time
and throughput rules), "peer".
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sim.records import MONTH_DAYS
from sim.validate import exact, measured
from sim.validate.queues import (
    ALPHA,
    BATCHES,
    MMC_PAIRS,
    P_WAIT_ALPHA,
    PEER_ALPHA,
    SIZES,
    TANDEM,
    WAIT_ALPHA,
    WAIT_BATCHES,
    _tandem_theory,
    batches_by_count,
    holding_interval,
    littles_interval,
    p_wait_interval,
    sums_by_time,
    throughput_interval,
    wait_interval,
    welch_interval,
)
from sim.validate.theory import erlang_c, mmc_mean_wait

ALPHAS = (1e-4, 1e-5, 1e-6)
MEMORY = 1.2e9  # bytes of stored waits per chunk of runs


def upper95(fails: int, runs: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a binomial rate."""
    return 1.0 if fails >= runs else float(stats.beta.ppf(0.95, fails + 1, runs - fails))


@dataclass(frozen=True)
class Case:
    name: str  # "mmc 5 0.9", "tandem", "peer"
    label: str  # the case column of the results: "M/M/5 rho 0.9", "tandem", "tandem vs ciw"
    kind: str
    c: int = 0
    rho: float = 0.0


# The rules each kind of case measures (rule ids: sim.validate.measured.RULES).
KIND_RULES = {
    "mmc": ("erlang_c_wait", "erlang_c_p_wait", "littles_law"),
    "sdr": ("tandem_sdr_wait",),
    "tandem": ("tandem_ae_wait", "tandem_ae_p_wait", "tandem_holding", "tandem_throughput"),
    "peer": ("peer_sdr_wait", "peer_ae_wait", "peer_throughput"),
}


def families() -> dict[str, list[tuple[str, str]]]:
    """The (rule, case) rows each queue check asserts at once (tests/test_validation_queues.py runs
    one check per test, and fails when any row fails)."""
    mmc = [c.label for c in cases() if c.kind == "mmc"]
    return {
        "check_erlang_c": [(r, c) for c in mmc for r in ("erlang_c_wait", "erlang_c_p_wait")],
        "check_littles_law": [("littles_law", c) for c in mmc],
        "check_tandem": [(r, "tandem") for r in KIND_RULES["sdr"] + KIND_RULES["tandem"]],
        "check_peer_ciw": [(r, "tandem vs ciw") for r in KIND_RULES["peer"]],
    }


def cases() -> list[Case]:
    out = [Case(f"mmc {c} {rho}", f"M/M/{c} rho {rho}", "mmc", c, rho) for c, rho in MMC_PAIRS]
    sdr = Case("tandem sdr", "tandem", "sdr", TANDEM["sdr_servers"])
    return out + [sdr, Case("tandem", "tandem", "tandem"), Case("peer", "tandem vs ciw", "peer")]


# -- one chunk of runs: {rule: (alarms at the rule's alpha, p-values)} ------------------------------
Result = dict[str, tuple[np.ndarray, np.ndarray]]


def _judge(out: dict, rule: str, iv, truth: float) -> None:
    alarms, ps = out.setdefault(rule, ([], []))
    alarms.append(not iv.covers(truth))
    ps.append(iv.p_value(truth))


def mmc_chunk(case: Case, size: str, runs: int, seed: np.random.SeedSequence) -> Result:
    c, rho = case.c, case.rho
    lam, leads = rho * c, SIZES[size]["mmc_leads"]
    r = exact.mmc_runs(
        c, lam, 1.0, leads // 10, leads, 1.0 / lam, runs, np.random.default_rng(seed)
    )
    wq, pc = mmc_mean_wait(c, lam, 1.0), erlang_c(c, lam)
    out: dict = {}
    for i in range(runs):
        x = r.run(i, BATCHES)
        w = x["window"]
        _judge(out, "erlang_c_wait", wait_interval(batches_by_count(w, WAIT_BATCHES)), wq)
        _judge(out, "erlang_c_p_wait", p_wait_interval(w), pc)
        L_b = x["probe_sums"] / x["probe_counts"]
        lw_b = x["wait_sums"] / np.diff(x["edges"])
        L = x["probe_sums"].sum() / x["probe_counts"].sum()
        lw = x["wait_sums"].sum() / (r.hi - r.lo)
        _judge(out, "littles_law", littles_interval(L_b, lw_b, lw)[1], L)
    return out


def sdr_chunk(case: Case, size: str, runs: int, seed: np.random.SeedSequence) -> Result:
    """The tandem's SDR mean-wait rule. The SDR station never sees the AEs, so it is exactly the
    M/M/c replay (the tandem's arrival and SDR service rates, its leads): half the cost."""
    lam, leads = TANDEM["arrival_rate"], SIZES[size]["tandem_leads"]
    c, mu = TANDEM["sdr_servers"], TANDEM["sdr_service_rate"]
    r = exact.mmc_runs(c, lam, mu, leads // 10, leads, 1.0 / lam, runs, np.random.default_rng(seed))
    wq = _tandem_theory(TANDEM)["sdr"]
    out: dict = {}
    for i in range(runs):
        w = r.run(i, BATCHES)["window"]
        _judge(out, "tandem_sdr_wait", wait_interval(batches_by_count(w, WAIT_BATCHES)), wq)
    return out


def tandem_chunk(case: Case, size: str, runs: int, seed: np.random.SeedSequence) -> Result:
    leads = SIZES[size]["tandem_leads"]
    r = exact.tandem_runs(TANDEM, leads // 10, leads, BATCHES, runs, np.random.default_rng(seed))
    th = _tandem_theory(TANDEM)
    lam, mu2 = TANDEM["arrival_rate"], TANDEM["ae_service_rate"]
    lo, hi = r.edges[0], r.edges[-1]
    out: dict = {}
    for i in range(runs):
        w2 = r.ae[i, r.ae_first[i] : r.ae_stop[i]].astype(float)
        _judge(out, "tandem_ae_wait", wait_interval(batches_by_count(w2, WAIT_BATCHES)), th["ae"])
        _judge(out, "tandem_ae_p_wait", p_wait_interval(w2), th["ae_p"])
        close = r.close[i]
        done = close < hi  # decided before the run's end: records.funnel has it, by month
        month = (close[done] // MONTH_DAYS).astype(int)
        days = np.bincount(month, weights=r.hold[i, done].astype(float))
        n = np.bincount(month)
        has = np.flatnonzero(n > 0)
        _judge(out, "tandem_holding", holding_interval(has, days[has], n[has], lo, hi)[0], 1 / mu2)
        closed = close[(close >= lo) & (close < hi)]
        counts = sums_by_time(closed, np.ones_like(closed), r.edges)
        _judge(out, "tandem_throughput", throughput_interval(counts, r.edges), lam)
    return out


def peer_chunk(case: Case, size: str, runs: int, seed: np.random.SeedSequence) -> Result:
    s = SIZES[size]
    reps, leads = s["peer_reps"], s["peer_leads"]
    ours_seed, peer_seed = seed.spawn(2)
    ours = exact.tandem_means(
        TANDEM, leads // 10, leads, runs * reps, np.random.default_rng(ours_seed)
    )
    peer = exact.tandem_means(
        TANDEM, leads // 10, leads, runs * reps, np.random.default_rng(peer_seed)
    )
    out: dict = {}
    for key in ("sdr", "ae", "throughput"):
        x = ours[key].reshape(runs, reps)
        y = peer[f"ciw_{key}"].reshape(runs, reps)
        for i in range(runs):
            iv = welch_interval(x[i], y[i])
            _judge(
                out, f"peer_{key if key == 'throughput' else key + '_wait'}", iv, float(x[i].mean())
            )
    return out


CHUNKS = {"mmc": mmc_chunk, "sdr": sdr_chunk, "tandem": tandem_chunk, "peer": peer_chunk}
RULE_ALPHA = {
    "erlang_c_wait": WAIT_ALPHA,
    "tandem_sdr_wait": WAIT_ALPHA,
    "tandem_ae_wait": WAIT_ALPHA,
    "erlang_c_p_wait": P_WAIT_ALPHA,
    "tandem_ae_p_wait": P_WAIT_ALPHA,
    **{f"peer_{k}": PEER_ALPHA for k in ("sdr_wait", "ae_wait", "throughput")},
}


def chunk_runs(case: Case, size: str) -> int:
    """Runs per chunk: the stored waits of one chunk fit in MEMORY."""
    s = SIZES[size]
    if case.kind == "mmc":
        per_run = 1.1 * s["mmc_leads"] * 8
    elif case.kind == "sdr":
        per_run = 1.1 * s["tandem_leads"] * 8
    elif case.kind == "tandem":
        per_run = 1.1 * s["tandem_leads"] * 20
    else:
        return max(1, 4000 // s["peer_reps"])
    return int(max(50, min(4000, MEMORY // per_run)))


def measure(case: Case, size: str, runs: int, seed: int, jobs: int = 1) -> dict[str, dict]:
    """Run `runs` exact replays of a case; per rule: runs, alarms at the rule's alpha and at ALPHAS."""
    per = chunk_runs(case, size)
    sizes = [min(per, runs - i) for i in range(0, runs, per)]
    index = [c.name for c in cases()].index(case.name)
    seeds = np.random.SeedSequence([seed, index]).spawn(len(sizes))
    fn = CHUNKS[case.kind]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            parts = list(ex.map(fn, [case] * len(sizes), [size] * len(sizes), sizes, seeds))
    else:
        parts = [fn(case, size, n, s) for n, s in zip(sizes, seeds, strict=True)]
    out = {}
    for rule in parts[0]:
        alarms = np.concatenate([np.asarray(p[rule][0]) for p in parts])
        ps = np.concatenate([np.asarray(p[rule][1]) for p in parts])
        out[rule] = {
            "runs": len(alarms),
            "alarms": int(alarms.sum()),
            "alpha": RULE_ALPHA.get(rule, ALPHA),
            **{f"alarms_at_{a:.0e}".replace("e-0", "e-"): int((ps < a).sum()) for a in ALPHAS},
        }
    return out


def save(rows: list[dict], add: bool, path=measured.RESULTS) -> None:
    """Write the results file: new rows replace (or, with add, pool with) stored ones."""
    old = {(r["size"], r["rule"], r["case"]): dict(r) for r in measured.load(path)}
    for r in rows:
        key = (r["size"], r["rule"], r["case"])
        if add and key in old:
            o = old[key]
            for col in ("runs", "alarms", *(f"alarms_at_{a}" for a in ("1e-4", "1e-5", "1e-6"))):
                r[col] = int(o[col]) + int(r[col])
            r["seconds"] = f"{float(o['seconds']) + float(r['seconds']):.0f}"
            r["seeds"] = f"{o['seeds']};{r['seeds']}"
            r["command"] = f"{o['command']}; {r['command']}"
        r["rate"] = f"{int(r['alarms']) / int(r['runs']):.2e}"
        r["upper95"] = f"{upper95(int(r['alarms']), int(r['runs'])):.2e}"
        old[key] = r
    order = {c.label: i for i, c in enumerate(cases())}
    keep = sorted(old.values(), key=lambda r: (r["size"], order.get(r["case"], 99), r["rule"]))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=measured.COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in keep:
            w.writerow({k: r[k] for k in measured.COLUMNS})
    measured.load.cache_clear()


def restate(path=measured.RESULTS) -> list[str]:
    """Stored rows measured at a larger alpha than their rule uses now: a smaller alpha widens the
    interval, so a run's alarm can only disappear. Restate the same runs' alarms at the rule's alpha
    when that is known (one of ALPHAS, counted from the p-values; or no alarm at the larger alpha);
    returns the rows that could not be restated (they need new runs)."""
    left, rows = [], []
    for r in measured.load(path):
        r = dict(r)
        new = RULE_ALPHA.get(r["rule"], ALPHA)
        if float(r["alpha"]) > new:
            col = f"alarms_at_{new:.0e}".replace("e-0", "e-")
            if col in r:
                r["alarms"] = r[col]
            elif int(r["alarms"]) != 0:
                left.append(f"{r['size']} {r['rule']} {r['case']}")
                rows.append(r)
                continue
            r["command"] += f" (measured at alpha {r['alpha']}, restated at {new:g})"
            r["alpha"] = f"{new:g}"
        rows.append(r)
    save(rows, add=False, path=path)
    return left


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", default="fast", choices=sorted(SIZES))
    ap.add_argument("--runs", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help='cases, e.g. "mmc 5 0.9,tandem,peer"')
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (chunks of runs)")
    ap.add_argument("--add", action="store_true", help="pool with the stored runs of each row")
    ap.add_argument("--no-save", action="store_true", help="print only")
    ap.add_argument(
        "--restate", action="store_true", help="restate stored rows at lower alphas, then exit"
    )
    a = ap.parse_args(argv)
    if a.restate:
        left = restate()
        print("could not restate (need new runs): " + (", ".join(left) or "none"))
        return
    want = {w.strip() for w in a.only.split(",") if w.strip()}
    known = {c.name for c in cases()}
    if want - known:
        print(
            f"--only: unknown case(s) {sorted(want - known)}; allowed: {sorted(known)}",
            file=sys.stderr,
        )
        sys.exit(2)
    if a.add:  # the same seed and case would replay the very same runs: pooling them is no data
        chosen = {
            (c.label, rule)
            for c in cases()
            if c.name in (want or known)
            for rule in KIND_RULES[c.kind]
        }
        reused = sorted(
            f"{r['size']} {r['case']}"
            for r in measured.load()
            if r["size"] == a.size
            and (r["case"], r["rule"]) in chosen
            and str(a.seed) in r["seeds"].split(";")
        )
        if reused:
            print(
                f"--add --seed {a.seed}: already pooled for {', '.join(dict.fromkeys(reused))}; "
                "allowed: a seed not in the seeds column of those rows",
                file=sys.stderr,
            )
            sys.exit(2)
    argv_text = "python -m sim.validate.false_alarms " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    by_name = {c.name: c for c in cases()}
    order = [w.strip() for w in a.only.split(",") if w.strip()] or list(by_name)
    for case in (by_name[n] for n in dict.fromkeys(order)):  # in the order given
        t0 = time.time()
        res = measure(case, a.size, a.runs, a.seed, a.jobs)
        secs = time.time() - t0
        rows = []
        for rule, r in res.items():
            print(
                f"{a.size} {case.label} {rule}: {r['alarms']} alarms in {r['runs']:,} runs at alpha "
                f"{r['alpha']:g} (upper95 {upper95(r['alarms'], r['runs']):.1e}); at 1e-4/1e-5/1e-6: "
                f"{r['alarms_at_1e-4']}/{r['alarms_at_1e-5']}/{r['alarms_at_1e-6']} [{secs:.0f} s]",
                flush=True,
            )
            rows.append(
                {
                    "size": a.size,
                    "rule": rule,
                    "case": case.label,
                    **r,
                    "alpha": f"{r['alpha']:g}",
                    "seconds": f"{secs:.0f}",
                    "seeds": str(a.seed),
                    "command": argv_text,
                }
            )
        if not a.no_save:
            save(rows, a.add)


if __name__ == "__main__":
    main()
