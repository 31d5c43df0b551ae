"""The `salesim-calibrate` command: read a CRM export, fit a scenario, write calibrated.yaml and a report.

    salesim-calibrate data=maven_crm                 # results/calibrate/<date>/<time>/
    salesim-calibrate data=olist_funnel cutoff=2018-03-31
    salesim-calibrate data=maven_crm backtest.cutoff=2017-06-30 backtest.horizon_days=90

Bad input (a config key, a file, a row) stops the run before anything is written, with one line
naming it, exit status 2 and no traceback (HYDRA_FULL_ERROR=1 shows one).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.calibrate.importer import CrmData, load, settings_from, summary_lines
from sim.cli import CONFIG_DIR
from sim.cli import _abandon as abandon
from sim.config import ConfigError


def _container(cfg: DictConfig, key: str):
    try:
        return OmegaConf.to_container(cfg[key], resolve=True) if key in cfg else None
    except OmegaConfBaseException as exc:
        raise ConfigError(f"config error: {key}: {str(exc).splitlines()[0]}") from None


def _date(value, key: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(dt.date.fromisoformat(str(value)))
    except ValueError:
        raise ConfigError(f"config error: {key} = {value!r}: not a date (YYYY-MM-DD)") from None


def _int(fit: dict, key: str, lo: int) -> int:
    v = fit.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ConfigError(f"config error: fit.{key} = {v!r}: an integer >= {lo} is required")
    return v


def _families(fit: dict, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    v = fit.get(key)
    if not isinstance(v, list) or not v or any(x not in allowed for x in v):
        raise ConfigError(f"config error: fit.{key} = {v!r}: a non-empty list of {list(allowed)}")
    return tuple(v)


def fit_options(cfg: DictConfig) -> dict:
    """The `fit` keys, validated, as keyword arguments of sim.calibrate.fit.fit."""
    f = _container(cfg, "fit") or {}
    known = {
        "min_closed",
        "durations",
        "sizes",
        "classes",
        "warmup_months",
        "horizon_months",
        "seasonality",
    }
    for k in f:
        if k not in known:
            raise ConfigError(f"config error: fit.{k}: unknown key; keys are {sorted(known)}")
    seed = cfg.get("seed", 42)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"config error: seed = {seed!r}: an integer >= 0 is required")
    season = f.get("seasonality", True)
    if not isinstance(season, bool):
        raise ConfigError(f"config error: fit.seasonality = {season!r}: true or false")
    return {
        "min_closed": _int(f, "min_closed", 1),
        "families": _families(f, "durations", ("gamma", "lognormal")),
        "sizes": _families(f, "sizes", ("gamma", "lognormal")),
        "classes": tuple(int(k) for k in _families(f, "classes", (1, 2))),
        "warmup_months": _int(f, "warmup_months", 0),
        "horizon_months": _int(f, "horizon_months", 1),
        "seasonality": season,
        "seed": seed,
    }


def prepare(cfg: DictConfig) -> tuple[CrmData, pd.Timestamp | None, dict, int]:
    """Validate the config and read the export; every problem becomes a ConfigError line."""
    data = _container(cfg, "data")
    if data is None:
        raise ConfigError(
            "config error: data: no data preset chosen; use data=maven_crm or your own"
        )
    settings = settings_from(data)
    cutoff = _date(cfg.get("cutoff"), "cutoff")
    opts = fit_options(cfg)
    check = _container(cfg, "check") or {}
    reps = check.get("replications", 0)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 0:
        raise ConfigError(f"config error: check.replications = {reps!r}: an integer >= 0")
    bt = _container(cfg, "backtest") or {}
    _date(bt.get("cutoff"), "backtest.cutoff")
    crm = load(settings)
    if cutoff is not None and cutoff < crm.opportunities["created_date"].min():
        raise ConfigError(
            f"config error: cutoff = {cutoff.date()}: before the first record "
            f"({crm.opportunities['created'].min().date()})"
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
    from sim.calibrate.fit import fit
    from sim.calibrate.report import simulate_check, write_outputs
    from sim.config import load_scenario

    cal = fit(crm, cutoff, **opts)
    scenario = cal.scenario()
    load_scenario(scenario)  # calibrated.yaml must be a scenario salesim accepts
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
        from sim.calibrate import backtest  # the "Backtest" section of docs/calibration.md

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
    from sim.cli import check_output_dirs

    check_output_dirs(sys.argv[1:])
    app()


if __name__ == "__main__":
    main()
