"""The options of `salesim-calibrate` (the `fit`, `seed`, date and block keys), validated: shared by the
command and the backtest, which refits at every cutoff with the same options."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.config import ConfigError


def container(cfg: DictConfig, key: str):
    """The block `key` of the config as plain data (None when absent); a bad interpolation is a
    ConfigError."""
    try:
        return OmegaConf.to_container(cfg[key], resolve=True) if key in cfg else None
    except OmegaConfBaseException as exc:
        raise ConfigError(f"config error: {key}: {str(exc).splitlines()[0]}") from None


def date(value, key: str) -> pd.Timestamp | None:
    """A YYYY-MM-DD value as a timestamp (None stays None); anything else is a ConfigError."""
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
    f = container(cfg, "fit") or {}
    known = {
        "min_closed",
        "durations",
        "sizes",
        "classes",
        "warmup_months",
        "horizon_months",
        "seasonality",
        "left_truncation",
        "half_life",
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
    trunc = f.get("left_truncation", True)
    if not isinstance(trunc, bool):
        raise ConfigError(f"config error: fit.left_truncation = {trunc!r}: true or false")
    hl = f.get("half_life", "auto")
    if hl == "auto":
        half_life = None
    elif hl == "off":
        half_life = float("inf")
    elif not isinstance(hl, bool) and isinstance(hl, (int, float)) and hl > 0:
        half_life = float(hl)
    else:
        raise ConfigError(
            f"config error: fit.half_life = {hl!r}: auto, off or a number of days > 0"
        )
    return {
        "half_life": half_life,
        "min_closed": _int(f, "min_closed", 1),
        "families": _families(f, "durations", ("gamma", "lognormal")),
        "sizes": _families(f, "sizes", ("gamma", "lognormal")),
        "classes": tuple(int(k) for k in _families(f, "classes", (1, 2))),
        "warmup_months": _int(f, "warmup_months", 0),
        "horizon_months": _int(f, "horizon_months", 1),
        "seasonality": season,
        "left_truncation": trunc,
        "seed": seed,
    }
