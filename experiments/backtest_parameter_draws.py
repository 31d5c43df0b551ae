"""Measure what parameter draws do to the rolling backtest (docs/calibration.md, "Parameter
uncertainty in the band"): at each cutoff, one fit, then the same replications (common random
numbers) without draws and with the first B of the draws, for each B asked; coverage of P10-P90 and
the time the draws cost.

    .venv/bin/python experiments/backtest_parameter_draws.py data=maven_crm \\
        'backtest.cutoffs=[2017-04-30,2017-05-31,2017-06-30,2017-07-31,2017-08-31,2017-09-30]' \\
        backtest.horizon_days=90 backtest.replications=100 --draws 10,20

Arguments before --draws are salesim-calibrate overrides (the fit settings and the backtest's
cutoffs, horizon, replications, seed). Prints a table per cutoff and the coverage per setting.
"""

from __future__ import annotations

import dataclasses
import sys
import time


def calibrate_config(overrides: list[str]):
    """The composed `salesim-calibrate` config, as the app sees it."""
    from hydra import compose, initialize_config_dir

    import sim.calibrate.importer  # noqa: F401  (registers the ${repo_root:} resolver)
    from sim.compose import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3", job_name="draws"):
        return compose(config_name="calibrate", overrides=overrides)


def main(argv: list[str]) -> None:
    from sim.calibrate import backtest
    from sim.calibrate.cli import prepare
    from sim.calibrate.uncertainty import draws

    blocks = [10, 20]
    if "--draws" in argv:
        i = argv.index("--draws")
        blocks = [int(v) for v in argv[i + 1].split(",")]
        argv = argv[:i] + argv[i + 2 :]
    cfg = calibrate_config([*argv, "progress=false"])
    crm, _, _, _ = prepare(cfg)
    s = dataclasses.replace(backtest.settings(cfg), parameter_draws=0)  # drawn here, once
    backtest.check(crm, s)
    seed = int(cfg.get("seed", 42))
    covered = {b: [0, 0] for b in [0, *blocks]}
    print("cutoff      actual  setting  P10    P50    P90   covered  seconds")
    for c in s.cutoffs:
        t0 = time.time()
        cal = backtest.fit_at(crm, cfg, c)
        fit_s = time.time() - t0
        rows, _ = backtest.open_pipeline(crm, cal, c, backtest.stale_limit(crm.opportunities, c, s))
        actual = backtest.monthly_actuals(crm.opportunities, c, s.horizon_days)[0].sum()
        t0 = time.time()
        future = float(s.horizon_days) if s.future_cohorts else 0.0  # as backtest.run draws them
        drawn = draws(cal, max(blocks), seed, s.workers, s.cluster_days, future)
        per_draw = (time.time() - t0) / max(blocks)
        base = backtest.scenario_at(cal, rows, c, s, seed)
        for b in [0, *blocks]:
            sc = dict(base)
            if b:
                sc[backtest.BLOCKS] = [
                    {**backtest.scenario_at(d, rows, c, s, seed), "scenario": base["scenario"]}
                    for d in drawn[:b]
                ]
            t0 = time.time()
            won = backtest.simulate(sc, c, dataclasses.replace(s, parameter_draws=b))[:, 0, :]
            sim_s = time.time() - t0
            e = backtest.metric_entry(actual, won.sum(axis=1))
            covered[b][0] += e["covered"]
            covered[b][1] += 1
            cost = (
                f"fit {fit_s:.0f}, sim {sim_s:.0f}"
                if not b
                else f"draws {b * per_draw:.0f}, sim {sim_s:.0f}"
            )
            print(
                f"{c.date()}  {actual:6.0f}  draws={b:<3d} {e['p10']:6.0f} {e['p50']:6.0f} "
                f"{e['p90']:6.0f}  {'yes' if e['covered'] else 'no ':3s}    {cost}",
                flush=True,
            )
    for b, (k, n) in covered.items():
        print(f"draws={b}: P10-P90 held the actual at {k} of {n} cutoffs")
    print(f"(seed {seed}, {s.replications} replications, {s.workers} worker(s))")


if __name__ == "__main__":
    main(sys.argv[1:])
