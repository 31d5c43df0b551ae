"""The `salesim-calibrate` command: read a CRM export, fit a scenario, write calibrated.yaml and a report.

    salesim-calibrate data=maven_crm                 # results/calibrate/<date>/<time>/
    salesim-calibrate data=olist_funnel cutoff=2018-03-31
    salesim-calibrate data=maven_crm backtest.cutoff=2017-06-30 backtest.horizon_days=90

Bad input (a config key, a file, a row) stops the run before anything is written, with one line
naming it, exit status 2 and no traceback (HYDRA_FULL_ERROR=1 shows one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.calibrate.importer import CrmData, check_fittable, load, settings_from, summary_lines
from sim.calibrate.options import container, date, fit_options
from sim.cli import _abandon as abandon
from sim.cli import check_output_dirs
from sim.compose import CONFIG_DIR
from sim.config import ConfigError, load_scenario

__all__ = ["app", "calibrate", "main", "prepare"]


def prepare(cfg: DictConfig) -> tuple[CrmData, pd.Timestamp | None, dict, int]:
    """Validate the config and read the export; every problem becomes a ConfigError line."""
    data = container(cfg, "data")
    if data is None:
        raise ConfigError(
            "config error: data: no data preset chosen; use data=maven_crm or your own"
        )
    settings = settings_from(data)
    cutoff = date(cfg.get("cutoff"), "cutoff")
    opts = fit_options(cfg)
    check = container(cfg, "check") or {}
    reps = check.get("replications", 0)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 0:
        raise ConfigError(f"config error: check.replications = {reps!r}: an integer >= 0")
    bt = container(cfg, "backtest") or {}
    date(bt.get("cutoff"), "backtest.cutoff")
    crm = load(settings)
    check_fittable(crm, settings)
    if cutoff is not None and cutoff < crm.opportunities["created_date"].min():
        raise ConfigError(
            f"config error: cutoff = {cutoff.date()}: before the first record "
            f"({crm.opportunities['created_date'].min().date()})"
        )
    return crm, cutoff, opts, reps


def _abandon(outdir: Path) -> None:
    """Undo what Hydra wrote before we validated, as salesim does (a finished run is left alone)."""
    abandon(outdir, done=("fit.json", "backtest.json"))


def _fail(outdir: Path, exc: Exception) -> None:
    _abandon(outdir)
    print(str(exc), file=sys.stderr)
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise exc
    sys.exit(2)


def calibrate(crm: CrmData, cutoff, opts: dict, reps: int, outdir: Path) -> Path:
    """Fit, check and write every output; returns calibrated.yaml."""
    # lazy: fitting pulls in scipy.stats and statsmodels, the report matplotlib (about a second
    # together), which a rejected option or a bad CRM file never needs
    from sim.calibrate.fit import FitError, fit
    from sim.calibrate.report import simulate_check, write_outputs

    try:
        cal = fit(crm, cutoff, **opts)
    except FitError as exc:  # the data admit no fit: one line, like a bad key
        raise ConfigError(str(exc)) from None
    scenario = cal.scenario()
    try:
        load_scenario(scenario)  # calibrated.yaml must be a scenario salesim accepts
    except ConfigError as exc:  # the fit's fault, not a key the user wrote: say so in one line
        first, *more = str(exc).splitlines()
        raise ConfigError(
            f"fit error: the fit of {crm.name} gives a scenario salesim refuses "
            f"({first.removeprefix('config error: ')}"
            + (f"; {len(more)} more" if more else "")
            + "); try fit.classes=[1] or a longer export"
        ) from None
    check = simulate_check(cal, scenario, reps) if reps else None
    return write_outputs(crm, cal, scenario, check, outdir)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="calibrate")
def app(cfg: DictConfig) -> None:
    outdir = Path(HydraConfig.get().runtime.output_dir)
    try:
        crm, cutoff, opts, reps = prepare(cfg)
    except ConfigError as exc:
        _fail(outdir, exc)
    print("\n".join(summary_lines(crm)))
    try:
        # lazy, as in calibrate(); the "Backtest" section of docs/calibration.md
        from sim.calibrate import backtest

        if backtest.settings(cfg) is not None:  # a cutoff, cutoffs or rolling.first is set
            backtest.run(crm, cfg, outdir)
            print(f"results: {outdir}")
            return
        path = calibrate(crm, cutoff, opts, reps, outdir)
    except ConfigError as exc:
        _fail(outdir, exc)
    except KeyboardInterrupt:
        _abandon(outdir)
        print("interrupted: no results written", file=sys.stderr)
        sys.exit(130)
    print((outdir / "summary.txt").read_text(), end="")
    print(f"calibrated scenario: {path}")
    print(f"run it: salesim --config-dir {outdir} experiment=calibrated")
    print(f"results: {outdir}")


def main() -> None:
    check_output_dirs(sys.argv[1:])
    app()


if __name__ == "__main__":
    main()
