"""Play-target resolution: which scenario parameters a play's change may target, bound and checked.

Sits below sim.config (which resolves every play while validating a scenario) and needs nothing but the
scenario's shape, so validation never pulls in the engine. sim.plays compiles the resolved changes.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class Scenario(Protocol):
    """The shape of a scenario that play resolution reads (sim.config.Scenario has it). A protocol
    rather than an import, so that sim.config, which resolves plays while validating, stays above
    this module with no import running back up."""

    segments: Mapping[str, Any]
    plays: Mapping[str, Any]
    motions: Mapping[str, Any]
    channels: Mapping[str, Any]


# Keys a change may target. `<...>` accepts a name or a `*` wildcard (fnmatch).
TARGETS = {
    "motions.<motion>.stages.<stage>.p": "per lead; scale or set (clipped to [0, 1])",
    "motions.<motion>.stages.<stage>.days": "per lead; scale (the duration's mean, cv kept)",
    "team.sdr.contact_prob": "per lead; scale or set",
    "team.ae.wait_decay_days": "per lead; scale or set (> 0)",
    "channels.<channel>.budget_month": "per month; scale or set",
    "mix.<segment>": "per month; set (a motion -> weight map summing to 1)",
    "team.sdr.outbound_meetings_day": "per month; scale or set",
    "team.csm.book_size": "per month; scale or set",
    "team.csm.churn_reduction": "per month; scale or set (clipped to [0, 1])",
    "team.csm.uncovered_expansion_factor": "per month; scale or set (clipped to [0, 1])",
    "segments.<segment>.expansion_month": "per month; scale or set (clipped to [0, 1])",
    "segments.<segment>.churn_month": "per month; scale or set (clipped to [0, 1])",
}
_ROLE_LEAD = {"team.sdr.contact_prob": "contact", "team.ae.wait_decay_days": "decay"}
_ROLE_MONTH = (
    "team.sdr.outbound_meetings_day",
    "team.csm.book_size",
    "team.csm.churn_reduction",
    "team.csm.uncovered_expansion_factor",
)
PROB_KINDS = {
    "contact",
    "team.csm.churn_reduction",
    "team.csm.uncovered_expansion_factor",
    "expansion_month",
    "churn_month",
}
MAX_LEAD_PLAYS = 10  # 2^10 compiled parameter sets at most


@dataclass(frozen=True)
class Resolved:
    """One change bound to what it changes: kind ('p', 'days', 'contact', 'decay', 'budget', 'mix',
    a team.* key, 'expansion_month', 'churn_month'), the object (motion/stage indices, channel,
    segment) and the operation."""

    play: int
    kind: str
    key: tuple
    op: str  # 'scale' or 'set'
    value: Any


def _fail(where: str, target: str, why: str) -> None:
    raise ValueError(f"{where}.target = {target!r}: {why}")


def _match(pattern: str, names: list[str], what: str, where: str, target: str) -> list[str]:
    hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if not hits:
        _fail(where, target, f"no {what} matches '{pattern}'; {what}s are {names}")
    return hits


def resolve(sc: Scenario) -> list[Resolved]:
    """Bind every play's changes to the scenario. Raises ValueError naming the play, the change and
    what is allowed (sim.config turns it into a ConfigError)."""
    out: list[Resolved] = []
    segs = list(sc.segments)
    for pi, (name, play) in enumerate(sc.plays.items()):
        if play.segments is not None:
            for s in play.segments:
                if s not in sc.segments:
                    raise ValueError(
                        f"plays.{name}.segments: '{s}' is no segment; segments are {segs}"
                    )
        for ci, ch in enumerate(play.changes):
            out += _resolve_one(sc, pi, f"plays.{name}.changes.{ci}", ch)
        if play.focus is not None:
            _check_focus(sc, name, play.focus)
        _check_sdr(sc, name, play)
    lead = {r.play for r in out if r.kind in ("p", "days", "contact", "decay")}
    lead |= {
        i
        for i, p in enumerate(sc.plays.values())
        if p.sla_hours is not None
        or p.queue_by_fit
        or p.drop_below is not None
        or p.focus is not None
        or p.mql_fit_min is not None
    }
    if len(lead) > MAX_LEAD_PLAYS:
        raise ValueError(
            f"plays: {len(lead)} plays change leads' parameters; at most {MAX_LEAD_PLAYS} at once"
        )
    return out


def _check_sdr(sc: Scenario, name: str, play) -> None:
    """A play that works on the SDR queue needs a stage that queues for SDRs (a calibrated CRM
    scenario starts at the opportunity and has none), or it would silently do nothing."""
    uses = [
        k
        for k, on in (
            ("sla_hours", play.sla_hours is not None),
            ("queue_by_fit", play.queue_by_fit),
            ("drop_below", play.drop_below is not None),
        )
        if on
    ]
    if uses and not any(st.queue == "sdr" for m in sc.motions.values() for st in m.stages.values()):
        raise ValueError(
            f"plays.{name}: works on the SDR queue ({', '.join(uses)}), and no motion has a stage "
            "with queue: sdr (a calibrated CRM scenario starts at the opportunity)"
        )


def _check_focus(sc: Scenario, name: str, f) -> None:
    """A focus must match some stage of some motion, or the play would silently do nothing."""
    where = f"plays.{name}.focus"
    names = list(sc.motions)
    hits = [m for m in names if fnmatch.fnmatchcase(m, f.motions)]
    if not hits:
        raise ValueError(f"{where}.motions = {f.motions!r}: no motion matches; motions are {names}")
    stages = sorted({s for m in hits for s in sc.motions[m].stages})
    if not any(fnmatch.fnmatchcase(s, f.stages) for s in stages):
        raise ValueError(
            f"{where}.stages = {f.stages!r}: no stage matches in motion(s) {hits}; stages are {stages}"
        )


def _resolve_one(sc: Scenario, pi: int, where: str, ch) -> list[Resolved]:
    t = ch.target
    parts = t.split(".")
    op = "scale" if ch.scale is not None else "set"
    value = ch.scale if ch.scale is not None else ch.set
    allowed = "allowed targets: " + ", ".join(TARGETS)
    if parts[0] == "motions" and len(parts) == 5 and parts[2] == "stages":
        if parts[4] not in ("p", "days"):
            _fail(where, t, f"a play can change a stage's p or days, not '{parts[4]}'")
        if parts[4] == "days" and op == "set":
            _fail(where, t, "a stage's days take `scale` (the mean, with its cv kept), not `set`")
        out = []
        names = list(sc.motions)
        for m in _match(parts[1], names, "motion", where, t):
            stages = list(sc.motions[m].stages)
            hits = [s for s in stages if fnmatch.fnmatchcase(s, parts[3])]
            for s in hits:
                out.append(Resolved(pi, parts[4], (names.index(m), stages.index(s)), op, value))
            for s in stages:
                if s not in hits:
                    out += _covered(sc, pi, where, t, (names.index(m), stages.index(s)), op, value)
        if not out:
            seen = sorted(
                {
                    s
                    for m in _match(parts[1], names, "motion", where, t)
                    for s in sc.motions[m].stages
                }
            )
            covered = sorted(
                {
                    c
                    for m in _match(parts[1], names, "motion", where, t)
                    for st in sc.motions[m].stages.values()
                    for c in st.covers or {}
                }
            )
            also = f", standing for {covered}" if covered else ""
            _fail(
                where,
                t,
                f"no stage matches '{parts[3]}' in motion(s) '{parts[1]}'; stages are {seen}{also}",
            )
        _check_value(where, t, parts[4], op, value)
        return out
    if t in _ROLE_LEAD:
        _check_value(where, t, _ROLE_LEAD[t], op, value)
        return [Resolved(pi, _ROLE_LEAD[t], (), op, value)]
    if t in _ROLE_MONTH:
        _check_value(where, t, t, op, value)
        return [Resolved(pi, t, (), op, value)]
    if parts[0] == "channels" and len(parts) == 3 and parts[2] == "budget_month":
        _check_value(where, t, "budget", op, value)
        hits = _match(parts[1], list(sc.channels), "channel", where, t)
        return [Resolved(pi, "budget", (c,), op, value) for c in hits]
    if (
        parts[0] == "segments"
        and len(parts) == 3
        and parts[2] in ("expansion_month", "churn_month")
    ):
        _check_value(where, t, parts[2], op, value)
        hits = _match(parts[1], list(sc.segments), "segment", where, t)
        return [Resolved(pi, parts[2], (s,), op, value) for s in hits]
    if parts[0] == "mix" and len(parts) == 2:
        if op != "set" or not isinstance(value, dict):
            _fail(where, t, "a segment's mix takes `set: {motion: weight, ...}` (weights sum to 1)")
        for m, w in value.items():
            if m not in sc.motions or sc.motions[m].entry == "customers":
                ok = sorted(k for k, v in sc.motions.items() if v.entry != "customers")
                _fail(where, t, f"set names '{m}', not an acquisition motion; motions are {ok}")
            if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
                _fail(where, t, f"set.{m} = {w!r} is not a weight in [0, 1]")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            _fail(where, t, f"set = {dict(value)}: weights sum to {total:g}, not 1")
        hits = _match(parts[1], list(sc.segments), "segment", where, t)
        return [Resolved(pi, "mix", (s,), op, dict(value)) for s in hits]
    _fail(where, t, f"not a key a play can change; {allowed}")
    return []


def _covered(
    sc: Scenario, pi: int, where: str, t: str, key: tuple[int, int], op: str, value: Any
) -> list[Resolved]:
    """A change aimed at stages that a stage stands for (`covers`: a calibrated CRM deal stage
    covers discovery..negotiation) acts on that stage. p: scaled by the factor, once per covered
    stage matched (the win chance of a chain of stages is their product, so a factor on one of them
    scales the whole); `set` cannot apply, since the covered stage's own p is not known. days: the
    covered stage's share s of the time scales, so the stage's days scale by 1 + (factor - 1) * s."""
    parts = t.split(".")
    motion = list(sc.motions.values())[key[0]]
    name = list(motion.stages)[key[1]]
    cov = motion.stages[name].covers or {}
    out = []
    for c, share in cov.items():
        if not fnmatch.fnmatchcase(c, parts[3]):
            continue
        if op == "set":
            _fail(
                where,
                t,
                f"stage '{name}' of motion '{list(sc.motions)[key[0]]}' stands for {list(cov)}: "
                f"a covered stage's p takes `scale`, not `set` (its own p is not known)",
            )
        if parts[4] == "p":
            out.append(Resolved(pi, "p", key, "scale", value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append(Resolved(pi, "days", key, "scale", 1.0 + (value - 1.0) * share))
    return out


def _check_value(where: str, target: str, kind: str, op: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}.{op} = {value!r}: a finite number is required for {target}")
    if value < 0:
        raise ValueError(f"{where}.{op} = {value!r}: must be >= 0")
    if kind == "decay" and value <= 0:
        raise ValueError(f"{where}.{op} = {value!r}: team.ae.wait_decay_days must stay > 0")
    if op == "set" and (kind == "p" or kind in PROB_KINDS) and value > 1:
        raise ValueError(f"{where}.set = {value!r}: {target} is a probability in [0, 1]")
