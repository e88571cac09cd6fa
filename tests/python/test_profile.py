"""A cohort generated from a HealthSim profile, as a HealthSim user meets it: through the
MCP Python SDK (progress notifications while it runs), then read by Python duckdb from
the same file the way a pytest suite or a notebook does."""

import json
import os
from pathlib import Path

import duckdb
import pytest

from conftest import server

pytestmark = pytest.mark.anyio

PROFILES = Path(__file__).resolve().parents[2] / "fixtures" / "profiles"


async def test_generation_reports_progress_and_the_file_holds_the_cohort(db_path):
    profile = json.loads((PROFILES / "flat_georgia_hypertension.json").read_text())
    updates = []

    async def on_progress(progress, total, message):
        updates.append((progress, total, message))

    async with server(db_path) as s:
        result = await s.session.call_tool(
            "healthsim_execute_profile",
            {"profile": profile, "name": "ga", "count": 3_000, "seed": 8},
            progress_callback=on_progress,
        )
        assert not result.is_error, result.content[0].text
        answer = json.loads(result.content[0].text)
        assert answer["canonical_rows"]["patients"] == 3_000
    progress = [p for p, _, _ in updates]
    assert progress == sorted(progress), progress
    assert progress[-1] == updates[-1][1] == 3_000.0 and len(progress) >= 3, updates
    assert any("generated 3000 of 3000 patients" in (m or "") for _, _, m in updates)
    # The notebook's view: the same file, another process.
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        (patients, diagnosed, in_georgia) = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM diagnoses d WHERE d.patient_mrn = p.mrn "
            "AND d.scenario_id = p.scenario_id AND d.code = 'I10')), count(*) FILTER (WHERE state = 'GA') FROM patients p"
        ).fetchone()
        assert patients == diagnosed == in_georgia == 3_000
        orphans = con.execute(
            "SELECT count(*) FROM claim_lines l ANTI JOIN claims c ON c.claim_id = l.claim_id AND c.scenario_id = l.scenario_id"
        ).fetchone()[0]
        assert orphans == 0
    finally:
        con.close()


def test_a_100000_patient_cohort_fits_a_2_gib_budget(tmp_path):
    """The Colorado COPD template, all three products, 100,000 patients (4.3 million
    entities) under `--max-memory 2048`: generated and saved whole in one transaction, the
    server's peak resident memory within the budget. (Before our layout lost its keys the
    transaction's key indexes exhausted DuckDB's share and the call was refused: 2.9 GB
    unbounded.) About 90 s on two cores."""
    import subprocess

    from conftest import BIN

    db = tmp_path / "big.duckdb"
    args = {"profile": json.loads((PROFILES / "wrapper_colorado_copd.json").read_text()), "name": "big", "count": 100_000}
    out, err = tmp_path / "out.json", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [BIN, "--db", str(db), "--max-memory", "2048", "call", "healthsim_execute_profile", json.dumps(args)],
            stdout=stdout, stderr=stderr,
        )
        # This child's own peak resident memory (KiB on Linux), from the kernel.
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out.read_text()[-500:] + err.read_text()[-2000:]
    answer = json.loads(out.read_text())
    assert answer["patients"] == 100_000 and answer["entity_counts"]["patients"] == 100_000, answer
    assert usage.ru_maxrss < 2048 * 1024, f"peak {usage.ru_maxrss} KiB"
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 100_000
        assert con.execute("SELECT count(*) FROM scenario_entities").fetchone()[0] == sum(answer["entity_counts"].values())
    finally:
        con.close()
