"""The engine: one replication of the simpy world (sim.model.world), its entities in their own modules.

Leads are born in batches (marketing channels, product sign-ups) and walk their motion's stages in numpy
until the first stage that queues for a person. Only leads that reach such a stage enter simpy, as a
small record (sim.model.lead) whose journey is a chain of scheduled calls (sim.model.journey): it queues
at the SDR desk (speed to lead) or the AE desk (pipeline slots), and the stages between two desks
collapse into one call with pre-drawn durations. SDR spare time goes to outbound prospecting
(sim.model.outbound), whose meetings start the outbound motions. Wins become customers; customer
success runs afterwards over arrays (sim.agents.success). The model records facts only (sim.records);
it computes no metric.
"""

from sim.model.world import World, simulate_replication

__all__ = ["World", "simulate_replication"]
