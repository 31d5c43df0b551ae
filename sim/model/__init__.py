"""The engine: one replication of the simpy world (sim.model.world), its entities in their own modules.

Leads are born in batches (marketing channels, product sign-ups) and walk their motion's stages in numpy
until the first stage that queues for a person. Only leads that reach such a stage become simpy
processes (sim.model.journey); each then waits at the SDR desk (speed to lead) or the AE desk (pipeline
slots), and the stages in between collapse into one timeout with pre-drawn durations. SDR spare time
goes to outbound prospecting (sim.model.outbound), whose meetings start the outbound motions. Wins
become customers; customer success runs afterwards over arrays (sim.agents.success). The model records
facts only (sim.records); it computes no metric.
"""

from sim.model.world import World, simulate_replication

__all__ = ["World", "simulate_replication"]
