"""salesim: a discrete-event simulator of B2B sales motions.

from sim import simulate
res = simulate(["motion=plg", "replications=50"])
res.summary["scenarios"]["baseline"]["metrics"]["win_rate"]["p50"]
res.replications, res.monthly, res.funnel, res.opportunities   # pandas data frames
"""

from sim.config import ConfigError

__all__ = ["simulate", "ConfigError"]


def simulate(overrides=None, outdir=None, progress=False):
    """Run a scenario, as the `salesim` command does, and return its results.

    `overrides` are command-line style strings (`["motion=plg", "replications=50"]`) or an already
    composed config; `outdir`, when given, is the folder to write summary.json, the tables, figures
    and report.md into (nothing is written without it); `progress` shows a bar over replications.
    The result has `summary` (the summary.json dict: `summary["scenarios"]["baseline"]["metrics"]`)
    and pandas data frames `replications` (a row per replication), `monthly`, `funnel` and
    `opportunities` (the first replication's, CRM-export shaped). A bad config raises
    sim.ConfigError with the one-line message the command prints. Same config and seed, same
    results. (The engine is imported on first call, so `import sim` stays light: sim.api.simulate.)
    """
    from sim.api import simulate as _simulate

    return _simulate(overrides, outdir, progress)
