"""Scale-out on Ray, on a real two-node Ray cluster started on this machine (docs/scale.md).

The cluster is a head plus a second node, one CPU and an 80 MB object store each, started once for
the module with token auth off (RAY_AUTH_MODE=disabled, which every process joining it must share)
and shut down in the fixture's finaliser.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim import simulate
from sim.config import ConfigError
from tests.conftest import FAST, scenario

ROOT = Path(__file__).resolve().parents[1]
SALESIM = [sys.executable, "-m", "sim"]
STORE = 80 * 1024**2

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    env = pytest.MonkeyPatch()
    env.setenv("RAY_AUTH_MODE", "disabled")  # before any Ray process starts: they inherit it
    nodes = None
    try:
        nodes = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 1,
                "object_store_memory": STORE,
                "include_dashboard": False,
                "dashboard_agent_listen_port": 0,  # any free port: test runs may overlap
            },
        )
        nodes.add_node(num_cpus=1, object_store_memory=STORE)
        nodes.wait_for_nodes(timeout=60)
        yield nodes
    finally:
        if nodes is not None:
            nodes.shutdown()
        env.undo()


def test_the_cluster_has_two_nodes(cluster):
    assert len(cluster.list_all_nodes()) == 2


def salesim(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SALESIM, *args],
        cwd=ROOT,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def local_and_on_ray(cluster, tmp_path, run: list[str]) -> None:
    """Run `run` with two local processes into tmp_path/local and on the cluster, one replication a
    task, into tmp_path/ray; the Ray run must succeed and spread its 6 tasks over both nodes."""
    simulate([*run, "executor=local", "workers=2"], outdir=tmp_path / "local")
    proc = salesim(
        *run,
        "executor=ray",
        f"executor.address={cluster.address}",
        "executor.replications_per_task=1",
        f"hydra.run.dir={tmp_path / 'ray'}",
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ray: 6 tasks of up to 1 replications on 2 node(s)" in proc.stdout, proc.stdout


def test_replications_on_ray_are_byte_identical_to_local_processes(cluster, tmp_path):
    """Same seed, same files, whichever executor ran the replications and on which node; and the
    Ray run's tasks went to both nodes (the executor logs the node of every task)."""
    run = [*FAST, "replications=6", "progress=false"]
    local_and_on_ray(cluster, tmp_path, run)
    files = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert {"summary.json", "replications.parquet", "monthly.parquet"} <= set(files)
    assert files == sorted(p.name for p in (tmp_path / "ray").iterdir() if p.name != ".hydra")
    for name in files:
        a, b = (tmp_path / d / name for d in ("local", "ray"))
        assert a.read_bytes() == b.read_bytes(), f"{name} differs between local and ray"


def test_a_sweep_runs_on_the_cluster_through_hydras_ray_launcher(cluster, tmp_path):
    sweep = tmp_path / "sweep"
    proc = salesim(
        "-m",
        "hydra/launcher=ray_cluster",
        f"hydra.launcher.ray.init.address={cluster.address}",
        *FAST,
        "workers=1",
        "progress=false",
        "team.ae.count=8,9",
        f"hydra.sweep.dir={sweep}",
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (sweep / "0" / "summary.json").is_file()
    assert (sweep / "1" / "summary.json").is_file()


def test_an_optuna_study_runs_its_trials_replications_on_the_cluster(cluster, tmp_path):
    """An optimisation (sim/optimise.py) on executor=ray proposes and scores the same trials as one
    whose replications run in this process: the executor changes where, never what."""
    pytest.importorskip("optuna")
    import pandas as pd

    study = [
        "experiment=optimise_budget",
        *FAST,
        "optimise.n_trials=2",
        "optimise.n_startup_trials=2",
        "optimise.budget_limit_month=null",
        "progress=false",
    ]
    simulate([*study, "executor=serial"], outdir=tmp_path / "serial")
    proc = salesim(
        *study,
        "executor=ray",
        f"executor.address={cluster.address}",
        f"hydra.run.dir={tmp_path / 'ray'}",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on 2 node(s)" in proc.stdout or "on 1 node(s)" in proc.stdout, proc.stdout
    a, b = (pd.read_parquet(tmp_path / d / "trials.parquet") for d in ("serial", "ray"))
    pd.testing.assert_frame_equal(a, b)


def test_an_unreachable_address_is_one_line_and_exit_2(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "run"
    proc = salesim(
        *FAST,
        "executor=ray",
        "executor.address=127.0.0.1:1",
        "progress=false",
        f"hydra.run.dir={out}",
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error: executor.address = "), lines
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_a_port_that_is_not_a_ray_head_is_one_line_and_exit_2(tmp_path):
    """Something listens but is not Ray (here a plain HTTP server): without the gRPC probe ray.init
    waited past two minutes on such a port; now the run stops before it, in one line."""
    import http.server
    import threading

    pytest.importorskip("ray")
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "run"
        proc = salesim(
            *FAST,
            "executor=ray",
            f"executor.address=127.0.0.1:{server.server_port}",
            "progress=false",
            f"hydra.run.dir={out}",
            timeout=120,
        )
    finally:
        server.shutdown()
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not answer as a Ray head" in lines[0], lines
    assert not out.exists()


def test_executor_ray_without_ray_installed_is_a_config_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"executor\.kind = 'ray': Ray is not installed"):
        scenario("executor=ray")


def test_global_sensitivity_points_on_ray_are_byte_identical_to_local_processes(cluster, tmp_path):
    """experiment=sobol/morris hands its sample points to the same executor: the tables are the same
    whichever ran them, and the points went to both nodes."""
    run = [
        "replications=2",
        "horizon_days=60",
        "warmup_days=0",
        "progress=false",
        "+uncertainties={channels.paid_search.budget_month: null}",
        "+levers={team.ae.count: {low: 6, high: 10}}",
        "+gsa.method=morris",
        "+gsa.trajectories=2",
        "+gsa.metrics=[leads]",
    ]
    local_and_on_ray(cluster, tmp_path, run)
    for name in ("morris.csv", "morris_points.csv"):
        a, b = (tmp_path / d / name for d in ("local", "ray"))
        assert a.read_bytes() == b.read_bytes(), f"{name} differs between local and ray"
