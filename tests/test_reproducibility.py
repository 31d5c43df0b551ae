"""Same config + seed => byte-identical files, whatever executor or worker count ran it."""

import pytest

from sim.experiment import run_scenario
from sim.report import write_outputs

from .conftest import scenario

FILES = (
    "summary.json",
    "replications.parquet",
    "monthly.parquet",
    "funnel.parquet",
    "opportunities_rep0.csv",
)


def _files(tmp_path, name, executor, workers):
    sc = scenario("replications=6")[0]
    out = tmp_path / name
    write_outputs(run_scenario(sc, executor, workers), sc, out, "parquet", figures=False)
    return {f: (out / f).read_bytes() for f in FILES}


@pytest.mark.parametrize("workers", [2, 3])
def test_local_processes_write_the_same_bytes_as_serial(tmp_path, workers):
    serial = _files(tmp_path, "serial", "serial", 1)
    local = _files(tmp_path, f"local{workers}", "local", workers)
    for f in FILES:
        assert serial[f] == local[f], f"{f} differs between serial and local x{workers}"


def test_another_seed_changes_the_results(tmp_path):
    sc1 = scenario("replications=2", "seed=1")[0]
    sc2 = scenario("replications=2", "seed=2")[0]
    a = run_scenario(sc1).replications["bookings"].tolist()
    b = run_scenario(sc2).replications["bookings"].tolist()
    assert a != b
