"""The CRM importer: bad files give one line naming file, row and column; unusable rows are counted,
never dropped silently; CRLF, a BOM and Parquet read the same; both shipped exports load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from sim.calibrate.importer import CrmError, load
from sim.config import ConfigError

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

HEADER = "id,rep,product,account,stage,engaged,closed,value"
ROWS = [
    "A1,Ann,Widget,Acme,Won,2024-01-02,2024-02-01,100",
    "A2,Bob,Widget,,Lost,2024-01-05,2024-01-20,0",
    "A3,Ann,Gizmo,Beta,Open,2024-01-09,,",
    "A4,Bob,Gizmo,Beta,Prospect,,,",
    "A5,Ann,Widgte,Acme,Won,2024-01-10,2024-03-01,250",
]


def mapping(folder: Path, file: str = "opps.csv", **over) -> dict:
    m = {
        "name": "test",
        "dir": str(folder),
        "opportunities": {
            "file": file,
            "columns": {
                "opportunity_id": "id",
                "owner": "rep",
                "segment": "product",
                "account": "account",
                "created": "engaged",
                "closed": "closed",
                "amount": "value",
            },
            "stage": "stage",
            "stages": {"Won": "won", "Lost": "lost", "Open": "open", "Prospect": "skip"},
            "date_format": "%Y-%m-%d",
            "amount_for": ["won"],
            "fixes": {"segment": {"Widgte": "Widget"}},
        },
    }
    m["opportunities"].update(over)
    return m


def write(
    folder: Path, rows: list[str], name: str = "opps.csv", eol: str = "\n", bom=False
) -> Path:
    path = folder / name
    text = eol.join([HEADER, *rows]) + eol
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def error(folder: Path, rows: list[str], **over) -> str:
    write(folder, rows)
    with pytest.raises(ConfigError) as exc:
        load(mapping(folder, **over))
    text = str(exc.value)
    assert "\n" not in text, text
    return text


# --- bad files: one line naming file, row and column ---------------------------------------------


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CrmError, match=r"opps\.csv: file not found"):
        load(mapping(tmp_path))


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(CrmError, match=r"data\.dir = .*nowhere.*no such folder"):
        load(mapping(tmp_path / "nowhere"))


def test_missing_column_names_file_and_column(tmp_path):
    m = mapping(tmp_path)
    m["opportunities"]["columns"]["created"] = "engage_date"
    write(tmp_path, ROWS)
    with pytest.raises(CrmError) as exc:
        load(m)
    text = str(exc.value)
    assert "opps.csv" in text and "'engage_date'" in text and "columns.created" in text


def test_unparseable_date_names_row_and_column(tmp_path):
    rows = ROWS.copy()
    rows[2] = "A3,Ann,Gizmo,Beta,Open,09/01/2024,,"
    text = error(tmp_path, rows)
    assert "opps.csv" in text and "row 3 (line 4)" in text and "column 'engaged'" in text
    assert "'09/01/2024'" in text and "%Y-%m-%d" in text


def test_unparseable_number_names_row_and_column(tmp_path):
    rows = ROWS.copy()
    rows[0] = "A1,Ann,Widget,Acme,Won,2024-01-02,2024-02-01,1k"
    text = error(tmp_path, rows)
    assert "row 1 (line 2)" in text and "column 'value'" in text and "'1k'" in text


def test_unknown_stage_names_value_and_allowed(tmp_path):
    rows = [*ROWS, "A6,Ann,Widget,Acme,Negotiation,2024-01-10,,"]
    text = error(tmp_path, rows)
    assert "row 6 (line 7)" in text and "column 'stage'" in text and "'Negotiation'" in text
    assert "Won" in text


def test_empty_stage_is_an_error(tmp_path):
    rows = [*ROWS, "A6,Ann,Widget,Acme,,2024-01-10,,"]
    assert "empty stage" in error(tmp_path, rows)


def test_empty_file_is_named(tmp_path):
    (tmp_path / "opps.csv").write_text("")
    with pytest.raises(CrmError, match="opps.csv: the file is empty"):
        load(mapping(tmp_path))


# --- rows that cannot be used are counted by reason ----------------------------------------------


def test_unusable_rows_are_counted_by_reason(tmp_path):
    rows = [
        *ROWS,
        "A1,Ann,Widget,Acme,Won,2024-01-02,2024-02-01,100",  # duplicate id
        "A7,Ann,Widget,Acme,Won,,2024-02-01,100",  # no created date
        "A8,Ann,Widget,Acme,Won,2024-03-02,2024-02-01,100",  # closed before created
        "A9,Ann,Widget,Acme,Lost,2024-01-02,,",  # lost without a close date
    ]
    write(tmp_path, rows)
    crm = load(mapping(tmp_path))
    assert crm.rejected == {
        "stage 'Prospect' mapped to skip (not an opportunity)": 1,
        "missing or duplicate opportunity id": 1,
        "no created date": 1,
        "closed before created": 1,
        "won or lost without a close date": 1,
    }
    assert len(crm.opportunities) + sum(crm.rejected.values()) == len(rows) == crm.rows_read


def test_repairs_are_applied_and_counted(tmp_path):
    write(tmp_path, ROWS)
    crm = load(mapping(tmp_path))
    o = crm.opportunities.set_index("opportunity_id")
    assert o.loc["A5", "segment"] == "Widget"
    assert crm.notes["segment name fixed (Widgte -> Widget)"] == 1
    assert crm.notes["no account"] == 1
    assert pd.isna(o.loc["A2", "amount"])  # a lost deal's 0 is not its size (amount_for: [won])
    assert list(o["outcome"].astype(str)) == ["won", "lost", "open", "won"]
    assert crm.as_of == pd.Timestamp("2024-03-01")
    assert crm.closes_from == pd.Timestamp("2024-01-20")


def test_crlf_and_bom_read_like_lf(tmp_path):
    a, b = tmp_path / "lf", tmp_path / "crlf"
    a.mkdir(), b.mkdir()
    write(a, ROWS)
    write(b, ROWS, eol="\r\n", bom=True)
    pd.testing.assert_frame_equal(load(mapping(a)).opportunities, load(mapping(b)).opportunities)


def test_parquet_reads_like_csv(tmp_path):
    write(tmp_path, ROWS)
    pd.read_csv(tmp_path / "opps.csv", dtype=str).to_parquet(tmp_path / "opps.parquet")
    csv = load(mapping(tmp_path)).opportunities
    pq = load(mapping(tmp_path, file="opps.parquet")).opportunities
    pd.testing.assert_frame_equal(csv, pq)


def test_unmapped_and_repeated_columns_and_padded_cells_read_the_same(tmp_path):
    """Only mapped columns are read, repeated values through a categorical (sim.calibrate.importer
    _read): a file with extra columns, a header naming one twice, and cells padded with spaces
    imports the same table as the plain file."""
    plain, wide = tmp_path / "plain", tmp_path / "wide"
    plain.mkdir(), wide.mkdir()
    write(plain, ROWS)
    rows = [",".join(f"  {v} " if v else v for v in r.split(",")) + ",x,1,2" for r in ROWS]
    text = "\n".join([HEADER + ",note,extra,extra", *rows]) + "\n"
    (wide / "opps.csv").write_text(text)
    want = load(mapping(plain))
    got = load(mapping(wide))
    pd.testing.assert_frame_equal(want.opportunities, got.opportunities)
    assert (want.rejected, want.notes) == (got.rejected, got.notes)


# --- the shipped exports --------------------------------------------------------------------------


def preset(name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(REPO / "configs" / "data" / f"{name}.yaml"),
                                  resolve=True)  # fmt: skip


needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not present")


@needs_data
def test_maven_crm_loads_with_expected_counts():
    crm = load(preset("maven_crm"))
    o = crm.opportunities
    assert crm.rows_read == 8800 and len(o) == 8300
    assert o["outcome"].value_counts().to_dict() == {"won": 4238, "lost": 2473, "open": 1589}
    assert crm.rejected == {"stage 'Prospecting' mapped to skip (not an opportunity)": 500}
    assert crm.notes["segment name fixed (GTXPro -> GTX Pro)"] == 1480
    assert "GTXPro" not in set(o["segment"])
    assert o["account"].isna().sum() == 1088  # open deals with no account are kept
    assert crm.as_of == pd.Timestamp("2017-12-31")
    assert crm.closes_from == pd.Timestamp("2017-03-01")
    assert o.loc[o["outcome"] == "lost", "amount"].isna().all()


@needs_data
def test_olist_funnel_loads_with_expected_counts():
    crm = load(preset("olist_funnel"))
    o = crm.opportunities
    assert crm.rows_read == 8000 and len(o) == 7999
    assert o["outcome"].value_counts().to_dict() == {"open": 7158, "won": 841, "lost": 0}
    assert crm.rejected == {"closed before created": 1}  # one won_date precedes first contact
    assert len(crm.leads) == 8000
    assert crm.notes["no segment (labelled 'unknown')"] == 60
    assert o.loc[o["outcome"] == "won", "owner"].notna().all()
    assert crm.as_of == pd.Timestamp("2018-11-14")


@needs_data
def test_olist_unknown_origin_fit_is_the_identified_one():
    """With delayed entry the `unknown` origin's two-class fit reads 28.5 % [0, 63 %] (a slow class
    of mean 847 days): it is set aside for the one-class fit, with one note saying why and no note
    claiming it lay outside the deals' range (it did not)."""
    from sim.calibrate.fit import fit

    f = fit(load(preset("olist_funnel")))
    out = f.segments["unknown"].outcome
    assert len(out.classes) == 1 and out.p_win_ci[1] - out.p_win_ci[0] < 0.1, out.p_win_ci
    said = [n for n in f.notes if n.startswith("unknown:")]
    assert len(said) == 1 and "cannot size its slow class" in said[0], said


# --- the command line -----------------------------------------------------------------------------


def run_app(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-c", "from sim.calibrate.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


@needs_data
def test_app_bad_column_exits_2_with_one_line_and_no_results(tmp_path):
    out = tmp_path / "run"
    r = run_app("data=maven_crm", "data.opportunities.columns.created=engaged_on",
                f"hydra.run.dir={out}")  # fmt: skip
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "sales_pipeline.csv" in lines[0] and "'engaged_on'" in lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_app_bad_folder_exits_2(tmp_path):
    r = run_app(
        "data=maven_crm", f"data.dir={tmp_path / 'nowhere'}", f"hydra.run.dir={tmp_path / 'o'}"
    )
    assert r.returncode == 2 and "no such folder" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


# -- one schema: the importer writes the simulator's opportunity table -----------------------------
def test_imported_table_has_the_simulators_columns_and_codes(tmp_path):
    from sim.records import CRM_COLUMNS, OUTCOMES

    write(tmp_path, ROWS)
    o = load(mapping(tmp_path)).opportunities
    assert list(o.columns) == [*CRM_COLUMNS, "account"]
    assert list(o["outcome"].cat.categories) == list(OUTCOMES)  # lost 0, won 1, open 2
    assert set(o["type"]) == {"new"} and (o["customer_id"] == -1).all()
    assert list(o["stage"]) == ["Won", "Lost", "Open", "Won"]
    # a day offset is the date it stands for: created_date = DAY0 + created_day
    from sim.calibrate.importer import DAY0

    back = DAY0 + pd.to_timedelta(o["created_day"], unit="D")
    assert (back == o["created_date"]).all()
    assert o["closed_day"].isna().tolist() == o["close_date"].isna().tolist()


def test_metric_functions_agree_on_a_simulated_table_and_its_csv_read_back(tmp_path, fast_scenario):
    """A replication's crm_export, written as CSV and imported through a mapping, gives the same win
    rate and won value as the records, and the cycle times of its whole dates."""
    import numpy as np

    from sim.metrics import bookings, cycle_days, win_rate
    from sim.model import simulate_replication
    from sim.records import crm_export

    rec = simulate_replication(fast_scenario, 0)
    crm_export(rec.opportunities, fast_scenario.start_date).to_csv(tmp_path / "o.csv", index=False)
    cols = {"opportunity_id": "opportunity_id", "segment": "segment", "owner": "owner",
            "source": "source", "created": "created_date", "closed": "close_date",
            "amount": "amount"}  # fmt: skip
    m = mapping(tmp_path, file="o.csv", columns=cols, stage="outcome", fixes={})
    m["opportunities"].update(
        stages={"won": "won", "lost": "lost", "open": "open"}, amount_for=["won", "lost", "open"]
    )
    imported = load(m).opportunities
    assert len(imported) == len(rec.opportunities)
    assert win_rate(imported) == win_rate(rec) and not np.isnan(win_rate(rec))
    assert bookings(imported) == pytest.approx(bookings(rec), rel=1e-12)
    for seg in rec.segments:
        mine = (imported["segment"] == seg).to_numpy()
        assert win_rate(imported, where=mine) == win_rate(
            rec, where=rec.columns["opportunities"]["segment"] == rec.segments.index(seg)
        )
    o = rec.opportunities
    won = o[o["outcome"] == "won"]
    whole = np.floor(won["closed_day"]) - np.floor(won["created_day"])  # the dates' difference
    assert sorted(cycle_days(imported)) == sorted(whole)


def test_every_unknown_stage_is_listed_in_one_message(tmp_path):
    rows = [
        *ROWS,
        "A6,Ann,Widget,Acme,Negotiation,2024-01-10,,",
        "A7,Ann,Widget,Acme,Demo,2024-01-11,,",
        "A8,Ann,Widget,Acme,Negotiation,2024-01-12,,",
    ]
    text = error(tmp_path, rows)
    assert "2 unknown stage value(s)" in text and "row 6 (line 7)" in text
    assert "'Negotiation' (2)" in text and "'Demo' (1)" in text and "\n" not in text.strip()


def test_stage_patterns_map_whole_families_exact_keys_first():
    from sim.calibrate.importer import map_stages

    stage = pd.Series(["C6:NEW", "C6:WON", "C2:LOSE", "Won", "Other"])
    got = map_stages(stage, {"Won": "won", "C6:WON": "won", "C6:*": "skip", "C?:LOSE": "lost"})
    assert got.iloc[:4].tolist() == ["skip", "won", "lost", "won"] and pd.isna(got.iloc[4])


def test_times_with_utc_offsets_are_converted_to_one_zone(tmp_path):
    """2021-05-08T03:59:51+03:00 is 00:59:51 UTC; rows may carry different offsets."""
    from sim.calibrate.importer import _dates

    s = pd.Series(["2021-05-08T03:59:51+03:00", "2021-05-09T01:00:00+01:00", None])
    notes: dict[str, int] = {}
    got = _dates(s, None, tmp_path / "x.csv", "created", "UTC", notes)
    assert got.iloc[0] == pd.Timestamp("2021-05-08 00:59:51")
    assert got.iloc[1] == pd.Timestamp("2021-05-09 00:00:00") and pd.isna(got.iloc[2])
    assert notes == {"'created': times with a UTC offset, converted to UTC": 2}
    moscow = _dates(s, None, tmp_path / "x.csv", "created", "Europe/Moscow", {})
    assert moscow.iloc[0] == pd.Timestamp("2021-05-08 03:59:51")  # UTC+3 in 2021
    same = pd.Series(["2021-05-08T03:59:51+03:00", "2021-05-09T01:00:00+03:00"])
    assert _dates(same, None, tmp_path / "x.csv", "c").iloc[1] == pd.Timestamp("2021-05-08 22:00")


# --- pipelines and row filters: rows left out are counted, never dropped silently ----------------

PIPE_HEADER = "id,rep,product,account,stage,engaged,closed,value,pipe,cur"
PIPE_ROWS = [
    "A1,Ann,Widget,Acme,Won,2024-01-02,2024-02-01,100,Sales,USD",
    "A2,Bob,Widget,,Lost,2024-01-05,2024-01-20,0,Sales,USD",
    "A3,Ann,Gizmo,Beta,Open,2024-01-09,,,Sales,EUR",
    # another pipeline: its own stage names and a date no format reads need no mapping
    "B1,Ann,Widget,Acme,C6:NEW,someday,,,C6,USD",
    "B2,Ann,Widget,Acme,C6:WON,2024-01-03,2024-01-30,9,C6,USD",
    "B3,Ann,Widget,Acme,C7:WON,2024-01-03,2024-01-30,9,C7,USD",
    "B4,Ann,Widget,Acme,Won,2024-01-03,2024-01-30,9,,USD",
]


def _pipes(folder: Path, rows=PIPE_ROWS) -> None:
    (folder / "opps.csv").write_text("\n".join([PIPE_HEADER, *rows]) + "\n")


def _pipe_mapping(folder: Path, **over) -> dict:
    m = mapping(folder, **over)
    m["opportunities"]["columns"]["pipeline"] = "pipe"
    m["opportunities"]["fixes"] = {}
    return m


def test_pipelines_keep_only_the_named_ones_and_count_the_rest(tmp_path):
    _pipes(tmp_path)
    crm = load(_pipe_mapping(tmp_path, pipelines=["Sales"]))
    assert sorted(crm.opportunities["opportunity_id"]) == ["A1", "A2", "A3"]
    assert crm.rows_read == 7
    assert crm.rejected["pipeline 'C6' not in data.opportunities.pipelines"] == 2
    assert crm.rejected["pipeline 'C7' not in data.opportunities.pipelines"] == 1
    assert crm.rejected["empty pipeline not in data.opportunities.pipelines"] == 1
    assert sum(crm.rejected.values()) + len(crm.opportunities) == crm.rows_read
    from sim.calibrate.importer import summary_lines

    text = "\n".join(summary_lines(crm))
    assert "rejected 2 row(s): pipeline 'C6' not in data.opportunities.pipelines" in text


def test_pipeline_patterns_and_a_generic_keep_filter(tmp_path):
    _pipes(tmp_path, [r for r in PIPE_ROWS if not r.startswith("B1")])
    stages = {"Won": "won", "Lost": "lost", "Open": "open", "C*:WON": "won"}
    crm = load(_pipe_mapping(tmp_path, pipelines=["C?"], stages=stages))
    assert sorted(crm.opportunities["opportunity_id"]) == ["B2", "B3"]
    crm = load(_pipe_mapping(tmp_path, stages=stages, keep={"cur": ["USD"]}))
    assert "A3" not in set(crm.opportunities["opportunity_id"])
    assert crm.rejected == {"'cur' 'EUR' not in data.opportunities.keep.cur": 1}
    assert (
        crm.notes["from 3 pipelines, all kept (set data.opportunities.pipelines to keep some)"] == 5
    )


def test_pipelines_without_a_pipeline_column_or_matching_no_row_is_one_line(tmp_path):
    _pipes(tmp_path)
    m = mapping(tmp_path, pipelines=["Sales"], fixes={})
    with pytest.raises(ConfigError, match=r"^config error: data.opportunities.pipelines: needs"):
        load(m)
    with pytest.raises(CrmError, match=r"no row is left .*pipeline 'Sales' not in") as exc:
        load(_pipe_mapping(tmp_path, pipelines=["Marketing"]))
    assert "\n" not in str(exc.value)


def test_a_missing_pipeline_or_keep_column_is_named_with_its_key(tmp_path):
    _pipes(tmp_path)
    m = _pipe_mapping(tmp_path, pipelines=["Sales"])
    m["opportunities"]["columns"]["pipeline"] = "Funnel"
    with pytest.raises(CrmError, match=r"column 'Funnel' \(data.opportunities.columns.pipeline\)"):
        load(m)
    with pytest.raises(CrmError, match=r"column 'Currency' \(data.opportunities.keep\) not found"):
        load(_pipe_mapping(tmp_path, keep={"Currency": ["EUR"]}))


def test_row_numbers_in_errors_count_the_rows_left_out(tmp_path):
    rows = [*PIPE_ROWS, "A9,Ann,Widget,Acme,Won,2024-13-45,,,Sales,USD"]
    _pipes(tmp_path, rows)
    with pytest.raises(CrmError, match=r"row 8 \(line 9\), column 'engaged'"):
        load(_pipe_mapping(tmp_path, pipelines=["Sales"]))


def test_a_mapping_can_be_one_quoted_yaml_string_so_non_ascii_stages_work_on_the_command_line(
    tmp_path,
):
    """Hydra's override grammar rejects `{"Сделка успешна": won}` (dictionary keys are plain
    ASCII words), but a quoted value may hold anything: the importer reads it as YAML."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    with pytest.raises(Exception, match="no viable alternative"):
        parser.parse_overrides(['data.opportunities.stages={"Сделка успешна": won}'])
    given = 'data.opportunities.stages="{Сделка успешна: won, Сделка провалена: lost, Open: open}"'
    value = parser.parse_overrides([given])[0].value()
    (tmp_path / "opps.csv").write_text(
        "id,Стадия,created,closed\n1,Сделка успешна,2024-01-02,2024-01-20\n"
        "2,Сделка провалена,2024-01-03,2024-01-21\n3,Open,2024-01-04,\n",
        encoding="utf-8",
    )
    m = {
        "name": "ru",
        "dir": str(tmp_path),
        "as_of": "2024-02-01",
        "opportunities": {
            "file": "opps.csv",
            "columns": {"opportunity_id": "id", "created": "created", "closed": "closed"},
            "stage": "Стадия",
            "stages": value,
        },
    }
    got = load(m).opportunities.set_index("opportunity_id")["outcome"]
    assert got.astype(str).to_dict() == {"1": "won", "2": "lost", "3": "open"}
    m["opportunities"]["stages"] = "[won, lost]"
    with pytest.raises(ConfigError, match=r"data.opportunities.stages = .*not a mapping"):
        load(m)


def test_created_and_closed_may_have_formats_of_their_own(tmp_path):
    """A day-first export with a time of creation and a day of close (Bitrix24's Russian UI)."""
    (tmp_path / "opps.csv").write_text(
        "id,stage,created,closed\n1,Won,31.01.2023 14:22:11,15.02.2023\n"
        "2,Lost,01.02.2023 09:00:00,03.02.2023\n3,Open,02.02.2023 10:00:00,\n"
    )
    m = {
        "name": "t",
        "dir": str(tmp_path),
        "as_of": "2023-03-01",
        "opportunities": {
            "file": "opps.csv",
            "columns": {"opportunity_id": "id", "created": "created", "closed": "closed"},
            "stage": "stage",
            "stages": {"Won": "won", "Lost": "lost", "Open": "open"},
            "date_format": {"created": "%d.%m.%Y %H:%M:%S", "closed": "%d.%m.%Y"},
        },
    }
    o = load(m).opportunities.set_index("opportunity_id")
    assert o.loc["1", "created_date"] == pd.Timestamp("2023-01-31 14:22:11")
    assert o.loc["1", "close_date"] == pd.Timestamp("2023-02-15")
    m["opportunities"]["date_format"] = "%d.%m.%Y %H:%M:%S"  # one format cannot read both
    with pytest.raises(CrmError, match=r"column 'closed': '15.02.2023' is not a date"):
        load(m)


def test_the_crm_mapping_snippets_in_the_docs_are_valid_presets():
    """docs/calibration.md, "Exports from common CRMs": each YAML snippet validates as `data`, and
    the Bitrix24 patterns map every pipeline's won and lost stage ids."""
    import re

    import yaml

    from sim.calibrate.importer import map_stages, settings_from

    text = (REPO / "docs" / "calibration.md").read_text()
    section = text[text.index("### Exports from common CRMs") : text.index("## Calibrate")]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    names = [settings_from(b).name for b in blocks]
    assert names == ["salesforce", "hubspot", "pipedrive", "zoho", "bitrix24"]
    stages = settings_from(blocks[-1]).opportunities.stages
    got = map_stages(pd.Series(["WON", "C6:WON", "C6:LOSE", "APOLOGY", "C6:NEW"]), stages)
    assert got.tolist() == ["won", "won", "lost", "lost", "open"]
