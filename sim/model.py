"""One replication of the simpy world.

Leads are born in batches (marketing channels, product sign-ups) and walk their motion's stages in numpy
until the first stage that queues for a person. Only leads that reach such a stage become simpy
processes; each then waits for an SDR (speed to lead) or an AE slot (pipeline load), and the stages in
between collapse into one timeout with pre-drawn durations. SDR spare time goes to outbound prospecting,
whose meetings start the outbound motions. Wins become customers; customer success runs afterwards over
arrays (sim.agents.success). The model records facts only (sim.records); it computes no metric.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import simpy

from sim.agents.marketing import channel_leads
from sim.agents.people import StaffPlan, plan_staff
from sim.agents.product import signups
from sim.agents.success import run_success
from sim.config import Scenario
from sim.distributions import sample
from sim.motions import (
    DROPPED,
    OPEN,
    PASSED,
    CMotion,
    compile_motions,
    draw_stages,
    walk_batch,
    walk_one,
)
from sim.plays import compile_plays
from sim.records import MONTH_DAYS, Recorder, Records
from sim.streams import Streams

NEVER = float("inf")


class Pool:
    """Batched draws handed out one Python float at a time (no numpy call per event)."""

    def __init__(self, draw, chunk: int = 512) -> None:
        self._draw, self._chunk = draw, chunk
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        if self._i == len(self._buf):
            self._buf, self._i = self._draw(self._chunk).tolist(), 0
        self._i += 1
        return self._buf[self._i - 1]


class RowPool:
    """Pre-drawn stage uniforms and durations for leads born one at a time (outbound meetings)."""

    def __init__(self, cm: CMotion, streams: Streams, chunk: int = 256) -> None:
        self._cm, self._streams, self._chunk = cm, streams, chunk
        self._rows: list = []
        self._i = 0

    def next(self) -> tuple[list[float], list[float]]:
        if self._i == len(self._rows):
            u, d = draw_stages(self._cm, self._streams, self._chunk, source="outbound")
            self._rows, self._i = list(zip(u.tolist(), d.tolist(), strict=True)), 0
        self._i += 1
        return self._rows[self._i - 1]


class World:
    """The simpy world for one replication of a scenario."""

    def __init__(self, sc: Scenario, replication: int) -> None:
        self.sc = sc
        self.streams = Streams(sc.seed, replication)
        self.end = sc.total_days
        self.n_months = max(1, math.ceil(self.end / MONTH_DAYS))
        self.motions = compile_motions(sc)
        self.segs = list(sc.segments)
        self.scale = np.array([s.cycle_scale for s in sc.segments.values()])
        self._scale = self.scale.tolist()
        self.env = simpy.Environment()
        self.rec = Recorder(self.motions, self.segs, self.n_months, self.end)
        team = sc.team
        self.staff: dict[str, StaffPlan] = {
            r: plan_staff(r, getattr(team, r), self.n_months, self.end, self.streams(f"people/{r}"))
            for r in ("sdr", "ae", "csm")
        }
        self.sdr_prod = self.staff["sdr"].productivity.tolist()
        ae = self.staff["ae"]
        self.ae_slots = np.rint(ae.fte * team.ae.max_open_opps).astype(int)
        self.sdr = self._pool(self.staff["sdr"].headcount)
        self.ae = self._pool(self.ae_slots)
        self._owner_turn = 0
        self._busy = 0  # SDRs working an inbound lead right now
        self._waiting: dict = {}  # queued requests -> the lead's facts, recorded as open at the end
        self._check = 0.0  # inbound check interval while SDRs prospect (0: no prospecting)
        sdr = team.sdr
        self._stl_h = list(sdr.speed_to_lead_hours)
        self._stl_m = list(sdr.speed_to_lead_multiplier)
        self._contact = sdr.contact_prob
        self._attempts = sdr.max_attempts
        self._spacing = sdr.attempt_spacing_days
        self._decay = team.ae.wait_decay_days
        self._pools: dict[str, Pool] = {}
        self._terms = [s.contract_months * MONTH_DAYS for s in sc.segments.values()]
        self._price = sc.product.price_per_seat_month
        self.plays = compile_plays(sc, self.motions, self.n_months)  # None without plays
        self._lead_plays = self.plays is not None and self.plays.per_lead
        if self.plays is not None:
            self.rec.sla_hours = self.plays.sla_hours

    def _draw(self, what: str, motion: str, seg: int) -> float:
        """One deal size ("acv") or seat count ("seats") for a segment, from a batched pool keyed by
        motion and segment, so one motion's deals never shift another's draws."""
        key = f"{what}/{motion}/{self.segs[seg]}"
        pool = self._pools.get(key)
        if pool is None:
            dist = getattr(list(self.sc.segments.values())[seg], what)
            rng = self.streams(key)
            pool = self._pools[key] = Pool(lambda n: sample(dist, rng, n))
        return pool.next()

    # -- capacity ----------------------------------------------------------------------------------
    def _pool(self, capacity_by_month: np.ndarray) -> simpy.PriorityResource:
        """A resource whose capacity follows a monthly schedule: vacant seats are held by requests
        of top priority, taken and given back at each month start."""
        cap = max(1, int(capacity_by_month.max()))
        res = simpy.PriorityResource(self.env, capacity=cap)
        self.env.process(self._vacancies(res, cap, capacity_by_month.tolist()))
        return res

    def _vacancies(self, res, cap: int, schedule: list[int]):
        held: list = []
        for m in range(self.n_months):
            want = cap - schedule[m]
            while len(held) < want:
                held.append(res.request(priority=-1))
            while len(held) > want:
                r = held.pop()
                if r.triggered:
                    res.release(r)
                else:
                    r.cancel()
            yield self.env.timeout(MONTH_DAYS)

    # -- run ---------------------------------------------------------------------------------------
    def run(self) -> Records:
        sc = self.sc
        self._people_costs()
        if self.plays is not None:
            for m, amount in self.plays.costs:
                self.rec.cost(m, "plays", "shared", amount)
        self._installed_base()
        if sc.open_pipeline:
            self._warm_start()
        self._outbound()  # first: whether SDRs prospect decides how inbound leads are fed
        for cm in self.motions:
            if cm.entry == "marketing":
                self._marketing(cm)
            elif cm.entry == "product":
                self._product(cm)
        if sc.probe_days > 0:
            self.env.process(self._probe(sc.probe_days))
        self.env.run(until=self.end)
        for cm, source, seg, seats, lead_t, opp_t, k, amount in self._waiting.values():
            self._close(cm, source, "", seg, seats, lead_t, opp_t, OPEN, k, self.end, amount)
        if self._check:  # SDR time not spent on inbound leads went to prospecting
            days = np.minimum(MONTH_DAYS, self.end - np.arange(self.n_months) * MONTH_DAYS)
            self.rec.sdr_prospecting[:] = np.maximum(
                0.0, self.staff["sdr"].headcount * days - self.rec.sdr_busy
            )
        expansion = next((m for m in self.motions if m.name == sc.expansion), None)
        churn = run_success(
            sc,
            self.rec,
            self.staff["csm"].fte,
            expansion,
            self.streams,
            self.n_months,
            self.end,
            self.scale,
            self.plays,
        )
        events = next(self.env._eid)  # simpy's event counter: how many events were scheduled
        return self.rec.finish(sc.warmup_days, sc.horizon_days, churn, events)

    def _people_costs(self) -> None:
        rec = self.rec
        for role, plan in self.staff.items():
            cap = {
                "sdr": plan.headcount,
                "ae": self.ae_slots,
                "csm": plan.fte * self.sc.team.csm.book_size,
            }
            for m in range(self.n_months):
                rec.cost(
                    m,
                    role,
                    "shared" if role != "csm" else (self.sc.expansion or "retention"),
                    plan.cost[m],
                )
                rec.staff(role, m, int(plan.headcount[m]), float(plan.fte[m]), float(cap[role][m]))
        for m in range(self.n_months):
            rec.cost(m, "tools", "shared", self.sc.costs.tools_month)

    def _installed_base(self) -> None:
        rng = self.streams("installed_base")
        base = len(self.motions)  # customer motion code for the installed base
        for i, s in enumerate(self.sc.segments.values()):
            n = s.initial_customers
            if not n:
                continue
            term = s.contract_months * MONTH_DAYS
            starts = -rng.random(n) * term
            for t0 in np.sort(starts).tolist():
                self.rec.customer(i, base, t0, self._draw("acv", "installed_base", i), term)

    def _warm_start(self) -> None:
        """Deals open at day 0 (scenario.open_pipeline) start in their stage, their outcome and
        remaining time drawn given their age (sim.open_pipeline). Like new leads, a deal whose
        remaining stages touch no queue is walked in numpy (`_warm_batch`); others go to simpy
        (`_journey`) from their stage."""
        from sim.open_pipeline import SOURCE, assign_motions, prepare

        by_motion: dict[str, list] = {}
        names = assign_motions(self.sc, self.motions, self.streams, self.scale)
        for deal, name in zip(self.sc.open_pipeline, names, strict=True):
            by_motion.setdefault(name, []).append(deal)
        for cm in self.motions:
            deals = by_motion.get(cm.name)
            if not deals:
                continue
            w = prepare(self.sc, cm, deals, self.streams, self.scale)
            last = cm.blocks[-1]
            in_numpy = (w.stage >= last.start) & (last.kind == "free")
            for k in np.unique(w.stage[in_numpy]).tolist():
                self._warm_batch(cm, k, w, np.flatnonzero(in_numpy & (w.stage == k)))
            for i in np.flatnonzero(~in_numpy).tolist():
                k = int(w.stage[i])
                block = next(j for j, b in enumerate(cm.blocks) if b.start <= k < b.stop)
                age = -float(w.age[i])
                self.env.process(
                    self._journey(
                        cm,
                        SOURCE,
                        block,
                        int(w.seg[i]),
                        float(w.seats[i]),
                        w.u[i].tolist(),
                        w.d[i].tolist(),
                        0.0,
                        0.0,
                        age,
                        age,
                        0.0,
                        first=k,
                        amount=float(w.amount[i]),
                    )
                )

    def _warm_batch(self, cm: CMotion, k: int, w, idx: np.ndarray) -> None:
        """Open deals in stage k of the motion's last block, with no queue in it: walked to the end
        in numpy, their opportunities recorded as a batch."""
        from sim.open_pipeline import SOURCE

        seg, stop = w.seg[idx], cm.n_stages
        walk = walk_batch(
            cm,
            k,
            stop,
            seg,
            w.seats[idx],
            np.zeros(len(idx)),
            w.u[idx, k:stop],
            w.d[idx, k:stop],
            self.scale,
            self.end,
        )
        self.rec.batch(cm.index, k, walk)
        status = walk.status
        outcome = np.where(status == PASSED, 1, np.where(status == OPEN, 2, 0))
        closed = np.where(status == OPEN, np.nan, walk.t_out)
        stage = np.minimum(walk.stage, stop - 1)
        amount = w.amount[idx]
        customer = np.full(len(idx), -1)
        for pos in np.flatnonzero(status == PASSED).tolist():
            s = int(seg[pos])
            customer[pos] = self.rec.customer(
                s, cm.index, float(walk.t_out[pos]), float(amount[pos]), self._terms[s]
            )
        created = -w.age[idx]
        self.rec.opportunities(
            "new", cm.index, seg, SOURCE, "self-serve", created, created, closed, stage, outcome,
            amount, customer,
        )  # fmt: skip

    # -- sources ------------------------------------------------------------------------------------
    def _weights(self, cm: CMotion, seg_mix: dict[str, float]) -> np.ndarray:
        """Segment weights of a motion's source; (months, segments) when plays move the mix."""
        if self.plays is not None and self.plays.mix:
            return np.stack(
                [seg_mix.get(s, 0.0) * self._mix_path(s, cm.name) for s in self.segs], axis=1
            )
        return np.array(
            [seg_mix.get(s, 0.0) * self.sc.acquisition_weight(s, cm.name) for s in self.segs]
        )

    def _mix_path(self, seg: str, motion: str) -> np.ndarray:
        """A motion's mix weight in a segment, month by month (plays may move it)."""
        path = self.plays.mix.get(seg) if self.plays is not None else None
        if path is None:
            return np.full(self.n_months, self.sc.acquisition_weight(seg, motion))
        return path.get(motion, np.zeros(self.n_months))

    def _marketing(self, cm: CMotion) -> None:
        for name, ch in self.sc.channels.items():
            w = self._weights(cm, ch.segment_mix)
            budget = self.plays.monthly.get(("budget", name)) if self.plays is not None else None
            arr, coverage = channel_leads(
                ch,
                w,
                self.sc.start_date,
                self.n_months,
                self.end,
                self.streams(f"arrivals/{name}/{cm.name}"),
                budget,
            )
            spend = (ch.budget_month if budget is None else budget) * coverage
            for m in range(self.n_months):
                self.rec.cost(m, "marketing", cm.name, spend if np.ndim(spend) == 0 else spend[m])
            if len(arr.t):
                # fit scales the first stage's probability by fit / 0.5, capped at 1 (docs/model.md)
                self._enter(cm, name, arr.t, arr.seg, arr.fit / 0.5, arr.fit)

    def _product(self, cm: CMotion) -> None:
        product = self.sc.product
        arr = signups(
            product,
            self._weights(cm, product.segment_mix),
            self.n_months,
            self.end,
            self.streams(f"arrivals/signups/{cm.name}"),
        )
        if product.infra_cost_per_signup:
            months = np.bincount((arr.t // MONTH_DAYS).astype(int), minlength=self.n_months)
            for m, k in enumerate(months.tolist()):
                self.rec.cost(m, "product", cm.name, k * product.infra_cost_per_signup)
        if len(arr.t):
            self._enter(cm, "product", arr.t, arr.seg, None)

    def _seats_for(self, seg: np.ndarray, key: str) -> np.ndarray:
        out = np.empty(len(seg))
        for i, s in enumerate(self.sc.segments.values()):
            idx = np.flatnonzero(seg == i)
            if len(idx):
                rng = self.streams(f"seats/{key}/{self.segs[i]}")
                out[idx] = np.maximum(1.0, np.round(sample(s.seats, rng, len(idx))))
        return out

    def _enter(
        self, cm: CMotion, source: str, t: np.ndarray, seg: np.ndarray, p_mult, fit=None
    ) -> None:
        """Walk a batch of new leads through the motion's first free block in numpy; hand the
        survivors to simpy at the time they reach the first queued stage."""
        rec, n = self.rec, len(t)
        pu = self.plays.draw(self.streams, cm.name, source, n) if self._lead_plays else None
        rec.leads(cm.index, source, seg, t)
        key = f"{cm.name}/{source}"  # this batch's own streams: other sources never shift them
        seats = self._seats_for(seg, key)
        first = cm.blocks[0]
        stop = first.stop if first.kind == "free" else 0
        u, d = draw_stages(cm, self.streams, n, 0, stop, source)
        if p_mult is not None and stop:
            u[:, 0] = u[:, 0] / np.maximum(p_mult, 1e-12)  # u < p*m  <=>  u/m < p
        plays = (self.plays, pu) if pu is not None else None
        w = walk_batch(cm, 0, stop, seg, seats, t, u, d, self.scale, self.end, plays)
        rec.batch(cm.index, 0, w)
        rest = np.zeros(n, dtype=bool)  # some later stage applies: the journey goes on in simpy
        for st in cm.stages[stop:]:
            rest |= st.applies(seats) if st.guarded else True
        if cm.opp_stage < stop:
            self._batch_opportunities(cm, source, seg, seats, t, w, rest)
        block = 1 if first.kind == "free" else 0
        if block >= len(cm.blocks):  # the whole motion was walked in numpy
            return
        wake = w.t_out
        if cm.blocks[block].kind == "sdr" and self._check:
            if pu is None:  # seen at the next inbound check
                wake = np.ceil(w.t_out / self._check) * self._check
            else:  # leads under an SLA are seen at the SLA's check instead
                sla = np.asarray(self.plays.sla_days)[self.plays.codes(pu, seg, w.t_out)]
                every = np.where(np.isfinite(sla), sla, self._check)
                wake = np.where(
                    every > 0, np.ceil(w.t_out / np.where(every > 0, every, 1.0)) * every, w.t_out
                )
        go = (w.status == PASSED) & (w.t_out < self.end) & rest
        late = go & (wake >= self.end)  # reached the queue but nobody looks before the end
        rec.open_at_end[cm.index, stop] += int(late.sum())
        go = np.flatnonzero(go & ~late)
        if not len(go):
            return
        order = go[np.argsort(wake[go], kind="stable")]
        u2, d2 = draw_stages(cm, self.streams, len(order), stop, cm.n_stages, source)
        pad = np.zeros((len(order), stop))
        u2, d2 = np.hstack([pad, u2]), np.hstack([pad, d2])
        sdr_u = self.streams(f"sdr/contact/{key}").random(len(order))
        sdr_w = sample(self.sc.team.sdr.attempt_days, self.streams(f"sdr/work/{key}"), len(order))
        opp_t = w.entry[order, cm.opp_stage] if cm.opp_stage < stop else np.full(len(order), np.nan)
        self.env.process(
            self._feeder(
                cm,
                source,
                block,
                wake[order],
                w.t_out[order],
                seg[order],
                seats[order],
                u2,
                d2,
                sdr_u,
                sdr_w,
                opp_t,
                t[order],
                pu[order] if pu is not None else None,
                fit[order] if fit is not None else None,
            )
        )

    def _batch_opportunities(self, cm, source, seg, seats, t, w, rest) -> None:
        """Opportunities created inside the numpy walk (e.g. product-qualified leads)."""
        j = cm.opp_stage
        created = w.entry[:, j]
        has = ~np.isnan(created) & (created < self.end)
        # only leads whose journey ended inside this block are closed here; the rest go on in simpy
        done = has & ((w.status != PASSED) | ~rest)
        idx = np.flatnonzero(done)
        if not len(idx):
            return
        status = w.status[idx]
        outcome = np.where(status == PASSED, 1, np.where(status == OPEN, 2, 0))
        closed = np.where(status == OPEN, np.nan, w.t_out[idx])
        last_applied = w.applied.shape[1] - 1 - np.argmax(w.applied[:, ::-1], axis=1)
        stage = np.where(
            status == PASSED, last_applied[idx], np.minimum(w.stage[idx], cm.n_stages - 1)
        )
        amount = np.array(
            [self._amount(cm, int(s), float(x)) for s, x in zip(seg[idx], seats[idx], strict=True)]
        )
        customer = np.full(len(idx), -1)
        for pos in np.flatnonzero(status == PASSED).tolist():
            i = int(idx[pos])
            customer[pos] = self.rec.customer(
                int(seg[i]),
                cm.index,
                float(w.t_out[i]),
                float(amount[pos]),
                self._terms[int(seg[i])],
            )
        self.rec.opportunities(
            "new",
            cm.index,
            seg[idx],
            source,
            "self-serve",
            t[idx],
            created[idx],
            closed,
            stage,
            outcome,
            amount,
            customer,
        )

    def _amount(self, cm: CMotion, seg: int, seats: float) -> float:
        if cm.acv == "seats":
            return seats * self._price * 12.0
        return self._draw("acv", cm.name, seg)

    def _feeder(
        self, cm, source, block, wake, t, seg, seats, u, d, sdr_u, sdr_w, opp_t, lead_t, pu, fit
    ):
        """Start each lead's journey at its wake time (sorted): when it reaches block `block` (t), or,
        bound for prospecting SDRs, at their next inbound check, with its arrival time passed on for
        the wait, so the check costs no extra event. `pu`: the leads' play adoption uniforms."""
        env = self.env
        w_l, t_l, seg_l, seats_l = wake.tolist(), t.tolist(), seg.tolist(), seats.tolist()
        su, sw, ot, lt = sdr_u.tolist(), sdr_w.tolist(), opp_t.tolist(), lead_t.tolist()
        pu_l = pu.tolist() if pu is not None else [None] * len(w_l)
        fit_l = fit.tolist() if fit is not None else [0.5] * len(w_l)
        for i, wi in enumerate(w_l):
            if wi > env.now:
                yield env.timeout(wi - env.now)
            env.process(
                self._journey(
                    cm,
                    source,
                    block,
                    seg_l[i],
                    seats_l[i],
                    u[i].tolist(),
                    d[i].tolist(),
                    su[i],
                    sw[i],
                    ot[i],
                    lt[i],
                    t_l[i],
                    pu=pu_l[i],
                    fit=fit_l[i],
                )
            )

    # -- outbound prospecting ----------------------------------------------------------------------
    def _outbound(self) -> None:
        """Spare SDR time goes to outbound prospecting when an outbound motion is in the mix."""
        out = [cm for cm in self.motions if cm.entry == "outbound"]
        pairs = [
            (cm, s) for cm in out for s in range(len(self.segs)) if self._target(s, cm.name) > 0
        ]
        if self.plays is not None and self.plays.mix:  # a pair counts if targeted in any month
            pairs = [
                (cm, s)
                for cm in out
                for s in range(len(self.segs))
                if self._target_path(s, cm.name).max() > 0
            ]
        if not pairs or self.staff["sdr"].headcount.max() == 0:
            return
        # While SDRs prospect they look at the inbound queue only between blocks, on a shared grid.
        self._check = self.sc.team.sdr.prospecting_block_days
        rate = self.sc.team.sdr.outbound_meetings_day
        rates = None  # meetings a prospecting day by month, when plays change it
        if self.plays is not None:
            rates = self.plays.monthly.get(("team.sdr.outbound_meetings_day",))
            rate = rate if rates is None else float(rates.max())
        if rate > 0:
            self.env.process(self._prospecting(pairs, rate, rates))

    def _target(self, s: int, motion: str) -> float:
        """Outbound effort on segment s for an outbound motion: mix weight x team.sdr.target_mix."""
        tm = self.sc.team.sdr.target_mix
        seg = self.segs[s]
        return self.sc.acquisition_weight(seg, motion) * (1.0 if tm is None else tm.get(seg, 0.0))

    def _target_path(self, s: int, motion: str) -> np.ndarray:
        """`_target` month by month, when plays move the mix."""
        tm = self.sc.team.sdr.target_mix
        seg = self.segs[s]
        return self._mix_path(seg, motion) * (1.0 if tm is None else tm.get(seg, 0.0))

    def _prospecting(self, pairs, rate: float, rates=None):
        """Outbound meetings: a Poisson process in prospecting time, simulated by thinning.

        Candidates arrive at the rate of the largest team all prospecting; one is kept with probability
        (SDR seats not working inbound x ramp productivity) / largest team, so the meeting rate follows
        the spare capacity moment by moment without a process per SDR.
        """
        env, rec = self.env, self.rec
        w = np.array([self._target(s, cm.name) for cm, s in pairs])
        cum = np.cumsum(w / w.sum()).tolist() if w.sum() > 0 else None
        cums = [cum] * self.n_months
        if self.plays is not None and self.plays.mix:  # targets by month
            W = np.stack([self._target_path(s, cm.name) for cm, s in pairs], axis=1)
            cums = [np.cumsum(r / r.sum()).tolist() if r.sum() > 0 else None for r in W]
        thin = [1.0] * self.n_months if rates is None else (rates / rate).tolist()
        play_u = {}  # per motion, one pool of adoption uniforms per per-lead play
        if self._lead_plays:
            for cm, _ in pairs:
                rngs = [self.streams(f"play/{p}/{cm.name}/outbound") for p in self.plays.lead_names]
                play_u[cm.index] = [Pool(rng.random) for rng in rngs]
        seats = self.staff["sdr"].headcount.tolist()
        top = max(seats)
        gap = Pool(lambda n: self.streams("outbound/meetings").exponential(1.0 / (rate * top), n))
        keep = Pool(lambda n: self.streams("outbound/keep").random(n))
        pick = Pool(lambda n: self.streams("outbound/target").random(n))
        rows = {cm.index: RowPool(cm, self.streams) for cm, _ in pairs}
        last = self.n_months - 1
        while True:
            yield env.timeout(gap.next())
            m = min(int(env.now // MONTH_DAYS), last)
            spare = seats[m] - self._busy
            if spare <= 0 or keep.next() * top >= spare * self.sdr_prod[m] * thin[m]:
                continue
            cum = cums[m]
            if cum is None:  # plays moved every outbound target out of the mix this month
                continue
            cm, s = pairs[bisect.bisect_right(cum, pick.next() * cum[-1] - 1e-15)]
            rec.lead_one(cm.index, "outbound", s, env.now)
            u, d = rows[cm.index].next()
            pu = [p.next() for p in play_u[cm.index]] if self._lead_plays else None
            env.process(
                self._journey(
                    cm,
                    "outbound",
                    0,
                    s,
                    max(1.0, round(self._draw("seats", cm.name, s))),
                    u,
                    d,
                    0.0,
                    0.0,
                    float("nan"),
                    env.now,
                    pu=pu,
                )
            )

    # -- one lead inside simpy ---------------------------------------------------------------------
    def _journey(
        self,
        cm: CMotion,
        source: str,
        block: int,
        seg: int,
        seats: float,
        u,
        d,
        sdr_u: float,
        sdr_w: float,
        opp_t: float,
        lead_t: float,
        t0: float | None = None,
        first: int = 0,
        amount: float | None = None,
        pu: list[float] | None = None,
        fit: float = 0.5,
    ):
        """One lead from block `block` of its motion to a terminal state (or the horizon). A deal of
        the open pipeline starts at stage `first` inside that block, with its known `amount`.
        `pu`: the lead's adoption uniforms for per-lead plays (None: no such play); `fit`: its score."""
        env, rec, end = self.env, self.rec, self.end
        book = self.plays if pu is not None else None
        plays = (book, pu) if book is not None else None
        scale = self._scale[seg]
        t = env.now if t0 is None else t0  # when the lead reached this block (may be before now)
        owner = ""
        status, k = PASSED, cm.n_stages
        for b in cm.blocks[block:]:
            if b.guarded and not any(
                cm.stages[k].applies_one(seats) for k in range(b.start, b.stop)
            ):
                continue
            if b.kind == "free":
                status, k, t_end, ot = walk_one(
                    cm,
                    max(b.start, first),
                    b.stop,
                    seg,
                    seats,
                    t,
                    u,
                    d,
                    scale,
                    end,
                    1.0,
                    rec,
                    plays,
                )
                opp_t = ot if opp_t != opp_t else opp_t
                if status != PASSED:
                    t = t_end
                    break
                if t_end > env.now:
                    yield env.timeout(t_end - env.now)
                t = t_end
            elif b.kind == "sdr":
                if b.start == cm.opp_stage and opp_t != opp_t:
                    opp_t = t
                if b.guarded and not cm.stages[b.start].applies_one(seats):
                    continue
                t_in = t
                c = book.code(pu, seg, t) if book is not None else 0  # plays the lead works under
                if self._check:  # SDRs are prospecting: the lead is seen at the next check
                    g = math.ceil(t / self._check) * self._check
                    if book is not None and book.sla_days[c] != math.inf:  # checks on the SLA
                        every = book.sla_days[c]
                        g = math.ceil(t / every) * every if every > 0 else t
                    if g >= end:
                        self._close(
                            cm, source, owner, seg, seats, lead_t, opp_t, OPEN, b.start, end, amount
                        )
                        return
                    if g > env.now:
                        yield env.timeout(g - env.now)
                prio = 0.0
                if self.plays is not None and self.plays.has_fit:  # lead scoring: best fit first
                    prio = 1.0 - fit if book is not None and book.by_fit[c] else 0.5
                req = self.sdr.request(priority=prio)
                self._waiting[req] = (cm, source, seg, seats, lead_t, opp_t, b.start, amount)
                yield req
                del self._waiting[req]
                self._busy += 1
                wait = env.now - t
                rec.waits["sdr"].append(wait)
                rec.waits["sdr_at"].append(env.now)  # waits count when service starts
                rec.waits["sdr_fit"].append(fit)
                m = min(int(env.now // MONTH_DAYS), self.n_months - 1)
                contact = book.contact[c] if book is not None else self._contact
                q = contact * self._stl(wait * 24.0)
                contacted, attempts = self._attempt(q, sdr_u)
                work = attempts * sdr_w / self.sdr_prod[m]
                rec.sdr_busy[m] += work
                if env.now + work >= end:  # still being worked when the run ends
                    self._close(
                        cm, source, owner, seg, seats, lead_t, opp_t, OPEN, b.start, end, amount
                    )
                    yield env.timeout(work)  # holds the SDR to the end; never resumes
                    return
                yield env.timeout(work)
                self.sdr.release(req)
                self._busy -= 1
                # the stage lasts from queueing to the end of its own duration after contact;
                # it advances if the lead was contacted and then qualifies (the stage's p)
                j = b.start
                st = cm.stages[j]
                t = env.now + (attempts - 1) * self._spacing
                if st.dist is not None:
                    t += d[j] * scale * (book.d_list[cm.index][c][j] if book is not None else 1.0)
                if t >= end:
                    status, k = OPEN, j
                    break
                p = book.p_list[cm.index][c][j][seg] if book is not None else st.p[seg]
                ok = contacted and u[j] < p
                rec.one(cm.index, j, t, ok, t - t_in)
                if not ok:
                    status, k = DROPPED, j
                    break
                if t > env.now:
                    yield env.timeout(t - env.now)
            else:  # an AE block holds one pipeline slot from acceptance to close
                if cm.opp_stage >= b.start and cm.opp_stage < b.stop and opp_t != opp_t:
                    opp_t = t
                req = self.ae.request(priority=0)
                self._waiting[req] = (cm, source, seg, seats, lead_t, opp_t, b.start, amount)
                yield req
                del self._waiting[req]
                wait = env.now - t
                rec.waits["ae"].append(wait)
                rec.waits["ae_at"].append(env.now)
                owner = self._owner()
                status, k, t_end, ot = walk_one(
                    cm,
                    max(b.start, first),
                    b.stop,
                    seg,
                    seats,
                    env.now,
                    u,
                    d,
                    scale,
                    end,
                    math.exp(
                        -wait / (book.decay[book.code(pu, seg, env.now)] if book else self._decay)
                    ),
                    rec,
                    plays,
                )
                opp_t = ot if opp_t != opp_t else opp_t
                self._hold(env.now, end if status == OPEN else min(t_end, end))
                if status == OPEN:
                    self._close(
                        cm, source, owner, seg, seats, lead_t, opp_t, OPEN, k, t_end, amount
                    )
                    yield env.timeout(NEVER)  # keeps the slot to the end of the run
                if t_end > env.now:
                    yield env.timeout(t_end - env.now)
                self.ae.release(req)
                t = t_end
                if status != PASSED:
                    break
        self._close(cm, source, owner, seg, seats, lead_t, opp_t, status, k, t, amount)

    def _probe(self, every: float):
        """Sample how many leads wait for an SDR (vacant-seat holders excluded), like a monitor
        attached from outside: an independent measure of the queue for Little's law."""
        env, queue = self.env, self.sdr.queue
        at, length = self.rec.waits["sdr_queue_at"], self.rec.waits["sdr_queue"]
        while True:
            yield env.timeout(every)
            at.append(env.now)
            length.append(sum(1 for r in queue if r.priority >= 0))

    def _stl(self, hours: float) -> float:
        """Speed-to-lead multiplier on contact probability: piecewise linear in hours waited."""
        h, m = self._stl_h, self._stl_m
        if hours <= h[0]:
            return m[0]
        i = bisect.bisect_right(h, hours)
        if i >= len(h):
            return m[-1]
        return m[i - 1] + (m[i] - m[i - 1]) * (hours - h[i - 1]) / (h[i] - h[i - 1])

    def _attempt(self, q: float, u: float) -> tuple[bool, int]:
        """Attempts until first contact (geometric with success q), capped at max_attempts."""
        K = self._attempts
        if q <= 0.0:
            return False, K
        if q >= 1.0:
            return True, 1
        if u >= 1.0 - (1.0 - q) ** K:
            return False, K
        return True, max(1, math.ceil(math.log1p(-u) / math.log1p(-q)))

    def _owner(self) -> str:
        m = min(int(self.env.now // MONTH_DAYS), self.n_months - 1)
        reps = self.staff["ae"].active[m]
        if not reps:
            return "AE-unassigned"
        self._owner_turn += 1
        return reps[self._owner_turn % len(reps)]

    def _hold(self, a: float, b: float) -> None:
        """Spread slot-days [a, b) over months."""
        arr = self.rec.ae_slot_days
        while a < b:
            m = int(a // MONTH_DAYS)
            if m >= self.n_months:
                break
            e = min(b, (m + 1) * MONTH_DAYS)
            arr[m] += e - a
            a = e

    def _close(
        self, cm, source, owner, seg, seats, lead_t, opp_t, status, k, t, amount=None
    ) -> None:
        """Record how a lead's journey ended: open leads by stage, and its opportunity if any."""
        if status == OPEN:
            self.rec.open_at_end[cm.index, k] += 1
        if opp_t != opp_t or opp_t >= self.end:  # never became an opportunity
            return
        if status == OPEN or t >= self.end:
            outcome, closed = 2, float("nan")
        else:
            outcome, closed = (1 if status == PASSED else 0), t
        if amount is None:
            amount = self._amount(cm, seg, seats)
        stage = min(k, cm.n_stages - 1)
        customer = -1
        if outcome == 1:
            customer = self.rec.customer(seg, cm.index, t, amount, self._terms[seg])
        self.rec.opportunity(
            "new",
            cm.index,
            seg,
            source,
            owner or "self-serve",
            lead_t,
            opp_t,
            closed,
            stage,
            outcome,
            amount,
            customer,
        )


def simulate_replication(sc: Scenario, replication: int) -> Records:
    """Run replication `replication` of scenario `sc` and return its records."""
    return World(sc, replication).run()
