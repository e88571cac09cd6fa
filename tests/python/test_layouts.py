"""Every layout the Python HealthSim tooling shipped (1.2 to 1.7, scenarios and cohorts,
files it upgraded in place), served in its own terms: fixtures made by
`layouts/make.py` with Python duckdb 1.4 (what the tooling's users ran), every tool
against each, and afterwards the tooling's own startup and save re-enacted on the file
with DuckDB 1.4 (`layouts/tooling.py`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, server

HERE = Path(__file__).parent / "layouts"
sys.path.insert(0, str(HERE))
import make  # noqa: E402

# Fixture → (family, scenario key column, canonical owner column, version the tooling reads).
LAYOUTS = {
    "1.2": ("scenario", "scenario_id", "scenario_id", "1.2"),
    "1.3-pcp": ("scenario", "scenario_id", "scenario_id", "1.3"),
    "1.3": ("scenario", "scenario_id", "scenario_id", "1.3"),
    "1.4": ("scenario", "id", "scenario_id", "1.4"),
    "1.5": ("cohort", "id", "cohort_id", "1.5"),
    "1.6": ("cohort", "id", "cohort_id", "1.6"),
    "1.7": ("cohort", "id", "cohort_id", "1.7"),
    "1.7-empty": ("cohort", "id", "cohort_id", "1.7"),
    "1.2-to-1.4": ("scenario", "id", "scenario_id", "1.4"),
    "1.2-to-1.7": ("cohort", "id", "cohort_id", "1.6"),
    "1.2-failed-upgrade": ("scenario", "scenario_id", "scenario_id", "1.2"),
}


def duckdb_14() -> str:
    """The interpreter of the Python duckdb 1.4 venv (HEALTHSIM_TEST_PYTHONS), else this one."""
    spec = os.environ.get("HEALTHSIM_TEST_PYTHONS", "")
    venvs = dict(item.split("=", 1) for item in spec.split(",") if "=" in item)
    return next((python for version, python in venvs.items() if version.startswith("1.4.")), sys.executable)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("layouts")
    made = subprocess.run([duckdb_14(), str(HERE / "make.py"), str(out)], capture_output=True, text=True, check=True)
    assert made.stdout.split() == list(LAYOUTS)
    return out


def tooling(path: Path, layout: str) -> dict:
    family, key, owner, _ = LAYOUTS[layout]
    run = subprocess.run(
        [duckdb_14(), str(HERE / "tooling.py"), str(path), family, key, owner], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


PATIENT_NEW = {"id": "pat-new", "mrn": "MRN9", "given_name": "Ada", "family_name": "Stone", "birth_date": "1970-01-01", "gender": "F"}
# pat-002 belongs to diabetes-cohort: in a layout keyed by id alone it stays JSON only.
PATIENT_TAKEN = dict(make.PATIENT2, given_name="Someone", family_name="Else")


@pytest.mark.anyio
@pytest.mark.parametrize("layout", list(LAYOUTS))
async def test_every_tool_in_every_layout(fixtures, tmp_path, layout):
    family, key, owner, version = LAYOUTS[layout]
    db = tmp_path / "h.duckdb"
    shutil.copy(fixtures / f"{layout}.duckdb", db)
    empty = layout == "1.7-empty"
    async with server(db) as s:
        listed = await s.ok("healthsim_list_scenarios")
        if empty:
            assert listed == []
        else:
            assert [(x["name"], x["entity_count"], x["tags"]) for x in listed] == [
                ("commercial-members", 2, ["payer"]),
                ("diabetes-cohort", 4, ["diabetes", "texas"]),
            ]
            loaded = await s.ok("healthsim_load_scenario", {"name_or_id": "diabetes-cohort"})
            assert loaded["entities"]["patients"] == [make.PATIENT, make.PATIENT2]
            assert loaded["scenario_id"] == "00000000-0000-4000-8000-000000000001"
            summary = await s.ok("healthsim_get_summary", {"scenario_id_or_name": "diabetes-cohort"})
            assert summary["statistics"]["gender_distribution"] == {"F": 1, "M": 1}
            assert summary["statistics"]["top_diagnoses"][0]["code"] == "E11.9"
            assert summary["samples"]["patients"][0]["id"] == "pat-001"
            assert "cohort_id" not in summary["samples"]["patients"][0]
        missing = await s.error("healthsim_query_reference", {"table": "places_county", "state": "TX"})
        assert missing.startswith("reference table population.places_county is missing;"), missing
        tables = await s.ok("healthsim_tables")
        assert "patients" in tables["entity_tables"]
        rows = await s.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
        assert rows["rows"] == [{"n": 0 if empty else 2}]
        saved = await s.ok(
            "healthsim_save_scenario",
            {"name": "mine", "entities": {"patients": [PATIENT_NEW, PATIENT_TAKEN]}, "tags": ["ours"]},
        )
        if empty:
            assert saved["canonical_rows"] == {"patients": 2} and "warnings" not in saved
        else:
            assert saved["canonical_rows"] == {"patients": 1}
            assert saved["warnings"][0].startswith("patients: 1 row(s) kept only as JSON ('pat-002')"), saved
        again = await s.ok(
            "healthsim_save_scenario",
            {"name": "mine", "entities": {"patients": [PATIENT_NEW]}, "overwrite": True},
        )
        assert again["canonical_rows"] == {"patients": 1}
        mine = await s.ok("healthsim_load_scenario", {"name_or_id": "mine"})
        assert mine["entities"] == {"patients": [PATIENT_NEW]} and mine["tags"] == []
        # A batch added in the file's own terms: upsert by id, nothing deleted.
        batch = await s.ok("healthsim_add_entities", {"scenario_id": again["scenario_id"], "entities": {
            "patients": [dict(PATIENT_NEW, given_name="Ada Jr."), dict(PATIENT_NEW, id="pat-batch", mrn="MRN-B")]}})
        assert batch["scenario_totals"]["total_entities"] == 2 and batch["is_new_scenario"] is False, batch
        assert batch["canonical_rows"] == {"patients": 2}, batch
        await s.ok("healthsim_save_scenario", {"name": "mine", "entities": {"patients": [PATIENT_NEW]}, "overwrite": True})
        if not empty:
            deleted = await s.ok("healthsim_delete_scenario", {"name_or_id": "diabetes-cohort", "confirm": True})
            assert deleted["removed"] == {"entities": 4, "canonical_rows": 4, "tags": 2}
            names = [x["name"] for x in await s.ok("healthsim_list_scenarios")]
            assert names == ["mine", "commercial-members"]
            assert "not found" in await s.error("healthsim_get_summary", {"scenario_id_or_name": "diabetes-cohort"})
        # Where the tooling and notebooks look: its own tables and owner column.
        parent = "scenarios" if family == "scenario" else "cohorts"
        ours = await s.ok("healthsim_query", {"sql": f"SELECT {key} AS k FROM {parent} WHERE name = 'mine'"})
        canonical = await s.ok("healthsim_query", {"sql": f"SELECT {owner} AS o FROM patients WHERE id = 'pat-new'"})
        assert canonical["rows"] == [{"o": ours["rows"][0]["k"]}]
        labels = await s.ok("healthsim_query", {"sql": "SELECT version FROM schema_migrations ORDER BY applied_at"})
        assert "healthsim-mcp-1" not in [r["version"] for r in labels["rows"]]
    # The tooling, with DuckDB 1.4, still starts on the file and saves to it.
    report = tooling(db, layout)
    assert report["duckdb"].startswith("1.4.") or duckdb_14() == sys.executable
    assert report["version"] == version
    assert report["saved"] == "from-the-tooling" and report["entity_rows"] == 2
    assert report["canonical_owner"] == "00000000-0000-4000-8000-0000000000aa"
    assert "mine" in report["names"]
    # ...and we serve what it saved.
    async with server(db) as s:
        theirs = await s.ok("healthsim_load_scenario", {"name_or_id": "from-the-tooling"})
        assert theirs["tags"] == ["tool"] and len(theirs["entities"]["patients"]) == 1


@pytest.mark.anyio
async def test_migrate_converts_every_layout(fixtures, tmp_path):
    """`healthsim-mcp migrate` converts each layout to ours (backup first), keeping every
    scenario, entity, tag and canonical row; a second run changes nothing."""
    for layout in LAYOUTS:
        db = tmp_path / f"{layout}.duckdb"
        shutil.copy(fixtures / f"{layout}.duckdb", db)
        run = subprocess.run([BIN, "--db", str(db), "migrate"], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert f"backup: {db}.before-migrate-1.duckdb" in run.stdout, run.stdout
        assert "record layout label healthsim-mcp-1" in run.stdout
        again = subprocess.run([BIN, "--db", str(db), "migrate"], capture_output=True, text=True)
        assert "nothing to change" in again.stdout, again.stdout
        async with server(db) as s:
            listed = await s.ok("healthsim_list_scenarios")
            assert len(listed) == (0 if layout == "1.7-empty" else 2), layout
            # Our layout has no keys or indexes (the server keeps rows unique per scenario).
            keys = await s.ok(
                "healthsim_query",
                {"sql": "SELECT (SELECT count(*) FROM duckdb_constraints() WHERE table_name IN ('patients', 'scenarios', 'scenario_entities', 'scenario_tags') AND constraint_type IN ('PRIMARY KEY', 'UNIQUE'))"
                        " + (SELECT count(*) FROM duckdb_indexes() WHERE table_name IN ('patients', 'scenarios', 'scenario_entities', 'scenario_tags')) AS n"},
            )
            assert keys["rows"][0]["n"] == 0, layout
            saved = await s.ok("healthsim_save_scenario", {"name": "mine", "entities": {"patients": [PATIENT_TAKEN], "encounters": [{"encounter_id": "e-mine"}]}, "tags": ["t1", "t2"]})
            assert saved["canonical_rows"]["patients"] == 1, layout
            # Rows copied with their ids, then ours numbered from the sequences: no id twice.
            unique = await s.ok(
                "healthsim_query",
                {"sql": "SELECT (SELECT count(*) - count(DISTINCT id) FROM scenario_entities) + (SELECT count(*) - count(DISTINCT id) FROM scenario_tags) AS dup"},
            )
            assert unique["rows"][0]["dup"] == 0, layout


@pytest.mark.anyio
async def test_a_delete_cut_between_its_two_transactions_is_finished(fixtures, tmp_path):
    """Under the tooling's foreign keys a delete takes two transactions; a scenario whose
    first one committed (rows gone, marked) is hidden from every read and removed by the
    next write."""
    db = tmp_path / "h.duckdb"
    shutil.copy(fixtures / "1.7.duckdb", db)
    import duckdb

    conn = duckdb.connect(str(db))
    uid = "00000000-0000-4000-8000-000000000001"
    for table in ("cohort_entities", "cohort_tags", "patients", "encounters", "diagnoses"):
        conn.execute(f"DELETE FROM {table} WHERE cohort_id = ?", [uid])
    conn.execute("UPDATE cohorts SET metadata = json_merge_patch(metadata, '{\"healthsim_mcp_deleting\": true}') WHERE id = ?", [uid])
    conn.close()
    async with server(db) as s:
        assert [x["name"] for x in await s.ok("healthsim_list_scenarios")] == ["commercial-members"]
        assert "not found" in await s.error("healthsim_load_scenario", {"name_or_id": "diabetes-cohort"})
        await s.ok("healthsim_save_scenario", {"name": "next", "entities": {}})
        rows = await s.ok("healthsim_query", {"sql": "SELECT name FROM cohorts ORDER BY name"})
        assert rows["rows"] == [{"name": "commercial-members"}, {"name": "next"}]


@pytest.mark.anyio
async def test_a_generated_cohort_is_recorded_where_the_tooling_records_runs(fixtures, tmp_path):
    """In the 1.7 layout (cohorts, profiles, profile_executions) a generated cohort gets the
    row HealthSim's profile manager writes: the profile, and a completed execution naming
    the cohort, its seed and entity count."""
    db = tmp_path / "run.duckdb"
    shutil.copy(fixtures / "1.7.duckdb", db)
    profile = json.loads((HERE.parents[2] / "fixtures" / "profiles" / "flat_georgia_hypertension.json").read_text())
    async with server(db) as s:
        answer = await s.ok("healthsim_execute_profile", {"profile": profile, "name": "ga-run", "count": 12, "seed": 5})
        rows = await s.ok("healthsim_query", {"sql": "SELECT p.name, e.cohort_id, e.seed, e.count, e.status FROM profile_executions e "
                                                     "JOIN profiles p ON p.id = e.profile_id"})
    assert rows["rows"] == [{"name": profile["name"], "cohort_id": answer["scenario_id"], "seed": 5,
                             "count": sum(answer["entity_counts"].values()), "status": "completed"}], rows
