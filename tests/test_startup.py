"""Start-up: `salesim` skips the composition Hydra makes only to read `hydra.mode`, which is sound
only while salesim's own configs never set that mode."""

from pathlib import Path

import yaml

from sim.cli import mode_is_default

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_no_config_of_salesims_sets_hydra_mode() -> None:
    """`mode_is_default` trusts this: were a preset to set `hydra.mode`, Hydra's probe must run."""
    files = sorted(CONFIGS.rglob("*.yaml"))
    assert len(files) > 20
    setting = [
        f.relative_to(CONFIGS).as_posix()
        for f in files
        if "mode" in ((yaml.safe_load(f.read_text()) or {}).get("hydra") or {})
    ]
    assert setting == []


def test_the_mode_probe_is_kept_when_the_command_line_could_set_the_mode() -> None:
    assert mode_is_default(["replications=1", "experiment=tornado", "-m", "seed=1,2"])
    for argv in (
        ["hydra.mode=MULTIRUN"],
        ["+hydra.mode=RUN"],
        ["--config-dir", "mine"],
        ["-cd=mine"],
        ["--config-name=other"],
        ["-cp", "elsewhere"],
    ):
        assert not mode_is_default(argv), argv
