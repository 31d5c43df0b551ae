"""salesim: a discrete-event simulator of B2B sales motions.

from sim import simulate
res = simulate(["motion=plg", "replications=50"])
res.summary["scenarios"]["baseline"]["metrics"]["win_rate"]["p50"]
res.replications, res.monthly, res.funnel, res.opportunities   # pandas data frames
"""

from sim.config import ConfigError

__all__ = ["simulate", "ConfigError"]


def simulate(*args, **kwargs):
    """See sim.api.simulate (imported lazily so `import sim` stays light)."""
    from sim.api import simulate as _simulate

    return _simulate(*args, **kwargs)
