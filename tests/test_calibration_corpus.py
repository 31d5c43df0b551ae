"""A corpus of degenerate and dirty CRM exports for salesim-calibrate, generated here so every case
stays covered: a file that cannot be fitted stops with one line naming the file, the column and the
rows (exit 2, nothing written); a file with some bad rows or amounts is fitted on the rest, and
every left-out or repaired value is counted by reason.

Each case starts from the same clean synthetic export (tests/test_calibrate_fit.synthetic, 400
deals over 2024, written the way maven_crm's sales_pipeline.csv is laid out) and spoils it one way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibrate.cli import prepare
from sim.calibrate.importer import CrmError

from .test_backtest import FAST_FIT, calibrate_config
from .test_calibrate_fit import maven_shaped, synthetic

REPO = Path(__file__).resolve().parents[1]
N = 400
# the clean file's export date: its last record is on 2024-12-30 at the latest
AS_OF = "2025-01-31"


def clean() -> pd.DataFrame:
    table, _, _ = synthetic(seed=11, n=N)
    return maven_shaped(table)


def every(k: int) -> np.ndarray:
    """Rows 0, k, 2k, ...: the rows a case spoils."""
    return np.arange(N) % k == 0


def _won(df: pd.DataFrame) -> pd.Series:
    return df["deal_stage"] == "Won"


# name -> (spoil the clean table, words the one line must hold besides the file name)
FATAL: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], list[str]]] = {
    "one_row": (lambda d: d.iloc[:1], ["column 'opportunity_id'", "row 1", "at least 10"]),
    "one_shared_id": (
        lambda d: d.assign(opportunity_id="X"),
        ["column 'opportunity_id'", f"rows 1..{N}", "same id 'X'"],
    ),
    "no_wins": (
        lambda d: d.assign(deal_stage=d["deal_stage"].replace("Won", "Lost"), close_value=0),
        ["column 'deal_stage'", f"rows 1..{N}", "no won deal"],
    ),
    "date_before_1677": (
        lambda d: d.assign(engage_date=np.where(every(10), "1600-01-01", d["engage_date"])),
        ["column 'engage_date'", "row 1 (line 2)", "'1600-01-01'", f"{N // 10} such row(s)"],
    ),
    "date_after_2262": (
        lambda d: d.assign(close_date=np.where(every(10), "2300-01-01", d["close_date"])),
        ["column 'close_date'", "row 1 (line 2)", "'2300-01-01'"],
    ),
    "every_date_the_same": (
        lambda d: d.assign(engage_date="2024-03-01", close_date="2024-03-01"),
        ["column 'engage_date'", f"rows 1..{N}", "created on 2024-03-01"],
    ),
    "every_close_same_delay": (
        lambda d: d.assign(close_date=np.where(d["close_date"].notna(), d["engage_date"], None)),
        ["column 'close_date'", f"rows 1..{N}", "the same time to close"],
    ),
    "every_row_open": (  # no close at all: nothing to fit durations or win rates on
        lambda d: d.assign(deal_stage="Engaging", close_date=None, close_value=0),
        ["column 'deal_stage'", f"rows 1..{N}", "no won deal", f"{N} open"],
    ),
    "won_amounts_all_negative": (
        lambda d: d.assign(close_value=-d["close_value"]),
        ["column 'close_value'", f"rows 1..{N}", "amount negative", "has a usable amount"],
    ),
    "won_amounts_all_infinite": (
        lambda d: d.assign(close_value=np.where(_won(d), "inf", "0")),
        ["column 'close_value'", "amount infinite", "has a usable amount"],
    ),
    "won_amounts_all_1e300": (
        lambda d: d.assign(close_value=np.where(_won(d), 1e300, 0)),
        ["column 'close_value'", "data.max_amount", "has a usable amount"],
    ),
}


def export(folder: Path, df: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "sales_pipeline.csv", index=False)
    return folder


def config(folder: Path, *more: str):
    return calibrate_config(
        ["data=maven_crm", f"data.dir={folder}", f"+data.as_of={AS_OF}", *FAST_FIT, *more]
    )


@pytest.mark.parametrize("case", list(FATAL))
def test_unfittable_export_is_one_line_naming_file_column_and_rows(tmp_path, case):
    spoil, words = FATAL[case]
    folder = export(tmp_path / case, spoil(clean()))
    with pytest.raises(CrmError) as exc:
        prepare(config(folder))
    text = str(exc.value)
    assert "\n" not in text, text
    assert text.startswith(f"data error: {folder / 'sales_pipeline.csv'}: "), text
    for w in words:
        assert w in text, (w, text)


def test_the_clean_export_of_the_corpus_is_fittable(tmp_path):
    """The cases above fail because of their spoiling, not because the base file cannot be fitted."""
    crm, *_ = prepare(config(export(tmp_path, clean())))
    assert len(crm.opportunities) == N and not crm.rejected


@pytest.mark.parametrize("case", ["one_shared_id", "no_wins", "date_before_1677"])
def test_app_on_an_unfittable_export_exits_2_with_one_line_and_no_results(tmp_path, case):
    spoil, words = FATAL[case]
    folder = export(tmp_path / "data", spoil(clean()))
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    r = subprocess.run(
        [sys.executable, "-c", "from sim.calibrate.cli import main; main()", "data=maven_crm",
         f"data.dir={folder}", f"hydra.run.dir={out}"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert "sales_pipeline.csv" in lines[0] and words[0] in lines[0]
    assert not out.exists()


# -- repaired cases: fitted on the rest, every left-out value counted ------------------------------
def future_quarter(d: pd.DataFrame) -> pd.DataFrame:
    """A quarter of the rows dated in 2031 (after the export date)."""
    return d.assign(
        engage_date=np.where(every(4), "2031-01-01", d["engage_date"]),
        close_date=np.where(every(4) & d["close_date"].notna(), "2031-02-01", d["close_date"]),
    )


def test_rows_after_the_export_date_are_counted_and_left_out_of_the_fit_window(tmp_path):
    """Before: the 2031 rows stretched the fit window to 2031 and thinned the fitted arrivals to a
    fraction of the real rate, without a word. Now they are counted and the window ends where the
    clean file ends."""
    base, *_ = prepare(config(export(tmp_path / "clean", clean())))
    crm, *_ = prepare(config(export(tmp_path / "dirty", future_quarter(clean()))))
    assert crm.rejected == {
        f"dated after the export date {AS_OF} (data.as_of)": int(every(4).sum())
    }
    assert crm.as_of <= base.as_of
    kept, *_ = prepare(config(tmp_path / "dirty", "+data.out_of_span=keep"))
    assert kept.as_of.year == 2031  # what the user gets when asking to keep them: still counted
    assert kept.notes[f"kept though dated after the export date {AS_OF} (data.as_of)"] == 100
    assert not any("span" in k for k in kept.notes)  # each row counted under one reason


def test_the_export_date_defaults_to_the_files_modification_date(tmp_path):
    folder = export(tmp_path, future_quarter(clean()))
    os.utime(folder / "sales_pipeline.csv", (1736000000, 1736000000))  # 2025-01-04
    crm, *_ = prepare(calibrate_config(["data=maven_crm", f"data.dir={folder}"]))
    (reason,) = crm.rejected
    assert reason.startswith("dated after the export date 2025-01-04 (the file's modification")
    assert crm.rejected[reason] == 100


def test_fitted_arrivals_ignore_rows_after_the_export_date(tmp_path):
    """Paired on the same rows: the dirty file is the clean one with a quarter re-dated to 2031, so
    the fitted monthly level must be about 3/4 of the clean one (the other quarter is gone), not
    the fraction a window stretched to 2031 gives (about 1/7 of that)."""
    from sim.calibrate.fit import fit

    base, *_ = prepare(config(export(tmp_path / "clean", clean())))
    crm, *_ = prepare(config(export(tmp_path / "dirty", future_quarter(clean()))))
    kept, *_ = prepare(config(tmp_path / "dirty", "+data.out_of_span=keep"))
    level = {k: fit(c, classes=(1,)).arrivals.level for k, c in
             {"clean": base, "dirty": crm, "kept": kept}.items()}  # fmt: skip
    assert 0.6 < level["dirty"] / level["clean"] < 0.9, level
    assert level["kept"] / level["clean"] < 0.3, level  # the silent failure, kept on request


def test_placeholder_dates_outside_the_span_are_counted_and_left_out(tmp_path):
    d = clean()
    d["engage_date"] = np.where(every(20), "1900-01-01", d["engage_date"])
    crm, *_ = prepare(config(export(tmp_path, d)))
    (reason,) = crm.rejected
    assert reason.startswith("dated outside the export's span 2024-") and "span_gap_days" in reason
    assert crm.rejected[reason] == int(every(20).sum())
    assert crm.opportunities["created_date"].min().year == 2024


def test_implausible_amounts_are_set_unknown_and_counted_by_reason(tmp_path):
    d = clean()
    won = np.flatnonzero(_won(d).to_numpy())
    amount = d["close_value"].astype(object)
    amount.iloc[won[:3]] = -5
    amount.iloc[won[3:5]] = "inf"
    amount.iloc[won[5:9]] = 1e300
    amount.iloc[won[9:10]] = 0
    crm, *_ = prepare(config(export(tmp_path, d.assign(close_value=amount))))
    assert {k: v for k, v in crm.notes.items() if "amount" in k} == {
        "amount negative (set to unknown)": 3,
        "amount infinite (set to unknown)": 2,
        "amount above data.max_amount = 1e+09 (set to unknown)": 4,
        "won with amount 0 (not used for the deal size)": 1,
    }
    a = crm.opportunities.set_index("opportunity_id")["amount"]
    ids = d["opportunity_id"].to_numpy()
    assert a.loc[ids[won[:9]]].isna().all() and a.loc[ids[won[9]]] == 0
    assert np.isfinite(a.dropna()).all() and a.max() < 1e9
    tight, *_ = prepare(config(tmp_path, "+data.max_amount=1000"))
    assert tight.notes["amount above data.max_amount = 1000 (set to unknown)"] > 4


@pytest.mark.parametrize(
    "override, words",
    [("+data.max_amount=-1", "data.max_amount = -1"), ("+data.as_of=soon", "data.as_of = 'soon'"),
     ("+data.out_of_span=drop", "data.out_of_span = 'drop'"),
     ("+data.span_gap_days=0", "data.span_gap_days = 0")],
)  # fmt: skip
def test_bad_values_of_the_new_data_keys_are_one_config_line(tmp_path, override, words):
    from sim.config import ConfigError

    with pytest.raises(ConfigError) as exc:
        prepare(calibrate_config(["data=maven_crm", f"data.dir={tmp_path}", override]))
    assert "\n" not in str(exc.value) and words in str(exc.value), str(exc.value)


def test_a_three_row_segment_beside_a_normal_one_is_fitted_with_a_note(tmp_path):
    """A segment of 3 deals (1 won, 2 lost) beside ones of about 200: it borrows its time-to-close
    shape from the pooled fit (fewer than fit.min_closed closed deals), its win-rate interval
    cannot be computed and a note says so; the scenario salesim gets is valid and keeps it."""
    from sim.calibrate.fit import fit
    from sim.config import load_scenario

    d = clean()
    tiny = np.arange(N) >= N - 3  # the last rows: created late, so none is left-truncated
    crm, cutoff, opts, _ = prepare(config(export(tmp_path, d.assign(
        product=np.where(tiny, "Tiny", d["product"])))))  # fmt: skip
    assert (crm.opportunities["segment"] == "Tiny").sum() == 3
    cal = fit(crm, cutoff, **opts)
    seg = {s.name: s for s in cal.segments.values()}["Tiny"]
    assert seg.pooled_shape and (seg.n, seg.won) == (3, 1)
    assert any(n.startswith("Tiny: ") for n in cal.notes), cal.notes
    scenario = cal.scenario()
    load_scenario(scenario)
    assert seg.key in scenario["segments"]
