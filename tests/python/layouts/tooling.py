"""The Python HealthSim tooling's own steps on a file, re-enacted with the Python duckdb
this runs under (its users' 1.4.x): its startup (the version it reads, the migrations it
would run) and its save. Used by the layout tests after our server wrote to the file:

    python tooling.py FILE FAMILY KEY OWNER      # prints a JSON report
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
import make  # noqa: E402

# The versions of the tooling's migrations (1.3 and 1.7 have none: new files only).
MIGRATIONS = ["1.1", "1.2", "1.4", "1.5", "1.6"]


def main(path: str, family: str, key: str, owner: str) -> dict:
    conn = duckdb.connect(path)
    # Startup: the newest row by applied_at is the version; later migrations would run
    # (compared as strings, as the tooling does).
    row = conn.execute("SELECT version FROM schema_migrations ORDER BY applied_at DESC LIMIT 1").fetchone()
    current = row[0] if row else "0.0"
    pending = [v for v in MIGRATIONS if v > current]
    # Save, as its state manager does.
    parent = "scenarios" if family == "scenario" else "cohorts"
    entities = {
        "patients": [dict(make.PATIENT, id="pat-tool", mrn="MRN-T")],
        "diagnoses": [dict(make.DIAGNOSIS, id="dx-tool", patient_mrn="MRN-T")],
    }
    make.save(conn, family, key, owner, "from-the-tooling", "saved by the tooling", ["tool"], entities,
              "00000000-0000-4000-8000-0000000000aa")
    saved = conn.execute(f"SELECT name FROM {parent} WHERE {key} = '00000000-0000-4000-8000-0000000000aa'").fetchone()
    child = "scenario_entities" if family == "scenario" else "cohort_entities"
    child_owner = "scenario_id" if family == "scenario" else "cohort_id"
    entity_rows = conn.execute(
        f"SELECT count(*) FROM {child} WHERE {child_owner} = '00000000-0000-4000-8000-0000000000aa'"
    ).fetchone()[0]
    canonical = conn.execute(f"SELECT {owner} FROM patients WHERE id = 'pat-tool'").fetchone()
    names = [r[0] for r in conn.execute(f"SELECT name FROM {parent} ORDER BY name").fetchall()]
    conn.close()
    return {
        "duckdb": duckdb.__version__,
        "version": current,
        "pending": pending,
        "saved": saved[0] if saved else None,
        "entity_rows": entity_rows,
        "canonical_owner": canonical[0] if canonical else None,
        "names": names,
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
