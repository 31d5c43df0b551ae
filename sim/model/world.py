"""The world of one replication: the scenario compiled, the people planned, the desks and sources set
up, simpy run to the horizon, and the facts handed to sim.records. The entities live in their own
modules (sources, outbound, SDR desk, AE desk, customers, warm start); this module composes them."""

from __future__ import annotations

import gc
import math

import numpy as np
import simpy

from sim.agents.people import StaffPlan, plan_staff
from sim.agents.success import run_success
from sim.config import Scenario
from sim.model import ae_hours, outbound, sources
from sim.model.ae_desk import AeDesk
from sim.model.customers import DealSize, close, installed_base
from sim.model.draws import SegmentDraws
from sim.model.sdr_desk import SdrDesk
from sim.model.warm_start import warm_start
from sim.motions import OPEN, compile_motions
from sim.plays import compile_plays
from sim.records import MONTH_DAYS, Recorder, Records
from sim.streams import Streams


class World:
    """One replication of a scenario: shared state the entities read, and `run()`."""

    def __init__(self, sc: Scenario, replication: int) -> None:
        self.sc = sc
        self.streams = Streams(sc.seed, replication)
        self.end = sc.total_days
        self.n_months = max(1, math.ceil(self.end / MONTH_DAYS))
        self.motions = compile_motions(sc)
        self.segs = list(sc.segments)
        self.scale = np.array([s.cycle_scale for s in sc.segments.values()])
        self.scale_l = self.scale.tolist()
        self.env = simpy.Environment()
        self.rec = Recorder(self.motions, self.segs, self.n_months, self.end)
        self.staff: dict[str, StaffPlan] = {
            r: plan_staff(
                r, getattr(sc.team, r), self.n_months, self.end, self.streams(f"people/{r}")
            )
            for r in ("sdr", "ae", "csm")
        }
        self.draws = SegmentDraws(sc.segments, self.streams)
        self.deal_size = DealSize(self)  # new deals' ACV, discount and size factors
        self.terms = [s.contract_months * MONTH_DAYS for s in sc.segments.values()]
        self.price = sc.product.price_per_seat_month
        # the play book: without plays, the identity (code 0, the scenario's own parameters)
        self.book = compile_plays(sc, self.motions, self.n_months)
        self.rec.sla_hours = self.book.sla_hours
        self.staff = self.book.train(self.staff)  # training and learning take selling time
        self.sdr = SdrDesk(self)
        self.ae = AeDesk(self)

    def run(self) -> Records:
        sc, rec = self.sc, self.rec
        self._people_costs()
        # a play's money is charged to the motions and segments it targets (sim.plays.cost_targets)
        rec.play_targets = {f"play:{self.book.names[i]}": t for i, t in self.book.targets.items()}
        rates = sc.team.sdr.by_segment("outbound_meetings_day", self.segs)  # days a meeting takes
        rec.sdr_days_per_meeting = tuple(1.0 / r if r > 0 else 0.0 for r in rates)
        if sc.team.ae.hour_cost:  # AE pay is attributed by hours x the segment's hour cost
            rec.ae_hour_cost = tuple(sc.team.ae.hour_cost.get(s, 1.0) for s in self.segs)
        for m, amount, i in self.book.costs:
            rec.cost(m, "plays", f"play:{self.book.names[i]}", amount)
        installed_base(self)
        if sc.open_pipeline:
            warm_start(self)
        outbound.start(self)  # first: whether SDRs prospect decides how inbound leads are fed
        if self.ae.hours is not None:  # AE time left over sources pipeline of their own
            ae_hours.prospecting(self)
        for cm in self.motions:
            if cm.entry == "marketing":
                sources.marketing(self, cm)
            elif cm.entry == "product":
                sources.product(self, cm)
        if sc.probe_days > 0:
            self.env.process(self._probe(sc.probe_days))
        self.env.run(until=self.end)
        for lead in self.sdr.waiting() + self.ae.waiting():  # in line at the end: open
            lead.owner = ""
            close(self, lead, OPEN, lead.cm.blocks[lead.block].start, self.end)
        rec.ae_slot_days += self.ae.slot_days()
        if self.ae.hours is not None:
            avail, worked = self.ae.hours.monthly()
            rec.ae_hours_available += avail
            rec.ae_hours_worked += worked
            rec.ae_hours_prospecting += self.ae.hours.prospecting_hours
            # AE cost follows the hours each motion's and segment's deals booked (in selling days)
            rec.ae_hours_per_day = per_day = max(sc.team.ae.selling_hours_week / 5.0, 1e-9)
            rec.work_days("ae", np.asarray(self.ae.hours.spent) / per_day)
        rec.sdr_busy += self.sdr.busy_days
        if self.sdr.check:  # SDR time not spent on inbound leads went to prospecting
            days = np.minimum(MONTH_DAYS, self.end - np.arange(self.n_months) * MONTH_DAYS)
            rec.sdr_prospecting[:] = np.maximum(
                0.0, self.staff["sdr"].headcount * days - rec.sdr_busy
            )
        expansion = next((m for m in self.motions if m.name == sc.expansion), None)
        churn = run_success(
            sc,
            rec,
            self.staff["csm"].fte,
            expansion,
            self.streams,
            self.n_months,
            self.end,
            self.scale,
            self.book,
        )
        events = next(self.env._eid)  # simpy's event counter: how many events were scheduled
        return rec.finish(sc.warmup_days, sc.horizon_days, churn, events)

    def dispose(self) -> None:
        """Let go of the run's state at once. The world is a web of cycles (the desks and sources
        point back at it, the calls still on simpy's queue at the horizon point at them and at the
        feeders holding every lead of a batch), so without this the leads, desks and lists of a
        replication live on until the cyclic collector walks them all (about 2 ms a replication);
        with it, reference counting frees them as the replication returns."""
        self.env._queue.clear()
        self.__dict__.clear()

    def _people_costs(self) -> None:
        rec, sc = self.rec, self.sc
        for role, plan in self.staff.items():
            cap = {
                "sdr": plan.headcount,
                "ae": self.ae.slots,
                "csm": plan.fte * sc.team.csm.book_size,
            }
            for m in range(self.n_months):
                rec.cost(
                    m,
                    role,
                    "shared" if role != "csm" else (sc.expansion or "retention"),
                    plan.cost[m],
                )
                rec.staff(role, m, int(plan.headcount[m]), float(plan.fte[m]), float(cap[role][m]))
        for m in range(self.n_months):
            rec.cost(m, "tools", "shared", sc.costs.tools_month)

    def _probe(self, every: float):
        """Sample how many leads wait for an SDR, like a monitor
        attached from outside: an independent measure of the queue for Little's law."""
        env, line = self.env, self.sdr.line
        at, length = self.rec.waits["sdr_queue_at"], self.rec.waits["sdr_queue"]
        while True:
            yield env.timeout(every)
            at.append(env.now)
            length.append(len(line))


_frozen = False  # whether this process's long-lived objects were moved out of the collector's sight


def simulate_replication(sc: Scenario, replication: int) -> Records:
    """Run replication `replication` of scenario `sc` and return its records.

    Python's cyclic garbage collector is paused while the replication runs: the engine makes many
    short-lived objects and few cycles, and each collection would walk every live lead (about a
    tenth of the run's time). The world lets go of its state as it returns (`World.dispose`), so
    reference counting frees it and the collector, once it resumes, has almost nothing to walk.

    Before a process's first replication, what it holds (modules, Hydra and pandas state, the
    scenario) is frozen (`gc.freeze`): it lives as long as the process, and otherwise every full
    collection, about one per 20 replications, walks all of it again (about 1.5 ms a
    replication, measured with gc.callbacks)."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
    paused = gc.isenabled()
    gc.disable()
    world = None
    try:
        world = World(sc, replication)
        return world.run()
    finally:
        if world is not None:
            world.dispose()
        if paused:
            gc.enable()
