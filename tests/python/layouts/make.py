"""Databases in every layout the Python HealthSim tooling shipped (1.2 to 1.7), written
the way its code wrote them, for the layout tests.

The layouts are facts read in the tooling's `packages/core/src/healthsim/db/schema.py` and
`migrations.py` (repository mark64oswald/healthsim-workspace) at the commits named below,
restated here in a notation of our own; so are the steps of its state manager's saves
(a cohort/scenario row, entity rows numbered by the sequence, canonical rows inserted
with ON CONFLICT on the id column). Run with the Python duckdb users of the tooling ran
(1.4.x):

    python make.py OUT_DIR            # writes OUT_DIR/<layout>.duckdb for every layout
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

# Canonical tables, the same in 1.2 through 1.7: "column[:TYPE][!][=default]", the first
# column is the primary key; `!` is NOT NULL.
CANONICAL = {
    "patients": "id mrn! ssn given_name! middle_name family_name! suffix prefix birth_date:DATE! gender! race "
    "ethnicity language=en street_address street_address_2 city state postal_code country=US phone phone_mobile "
    "email deceased:BOOLEAN death_date:DATE",
    "encounters": "encounter_id patient_mrn! class_code! status! admission_time:TIMESTAMP! discharge_time:TIMESTAMP "
    "facility department room bed chief_complaint admitting_diagnosis discharge_disposition attending_physician "
    "admitting_physician",
    "diagnoses": "id code! description type=final patient_mrn! encounter_id diagnosed_date:DATE! resolved_date:DATE",
    "medications": "id name! code dose! route! frequency! patient_mrn! encounter_id start_date:TIMESTAMP! "
    "end_date:TIMESTAMP status=active prescriber indication",
    "lab_results": "id test_name! loinc_code value! unit reference_range abnormal_flag patient_mrn! encounter_id "
    "collected_time:TIMESTAMP! resulted_time:TIMESTAMP performing_lab ordering_provider",
    "vital_signs": "id patient_mrn! encounter_id observation_time:TIMESTAMP! temperature:DECIMAL(5,2) "
    "heart_rate:INTEGER respiratory_rate:INTEGER systolic_bp:INTEGER diastolic_bp:INTEGER spo2:INTEGER "
    "height_cm:DECIMAL(5,2) weight_kg:DECIMAL(6,2)",
    "orders": "order_id patient_mrn! encounter_id order_type! code! code_system=CPT description priority=routine "
    "status=new ordered_datetime:TIMESTAMP! scheduled_datetime:TIMESTAMP collected_datetime:TIMESTAMP "
    "resulted_datetime:TIMESTAMP ordering_provider_npi ordering_provider_name clinical_indication specimen_type",
    "clinical_notes": "id patient_mrn! encounter_id note_type! note_datetime:TIMESTAMP! author content",
    "members": "id member_id! subscriber_id relationship_code=18 ssn given_name! middle_name family_name! "
    "birth_date:DATE! gender! street_address city state postal_code phone email group_id! plan_code! "
    "coverage_start:DATE! coverage_end:DATE pcp_npi",
    "claims": "claim_id claim_type! member_id! subscriber_id provider_npi! facility_npi service_date:DATE! "
    "admission_date:DATE discharge_date:DATE place_of_service=11 principal_diagnosis! other_diagnoses:JSON "
    "authorization_number total_charge:DECIMAL(12,2) total_allowed:DECIMAL(12,2) total_paid:DECIMAL(12,2) "
    "member_responsibility:DECIMAL(12,2)",
    "claim_lines": "id claim_id! line_number:INTEGER! procedure_code! procedure_modifiers:JSON service_date:DATE! "
    "units:DECIMAL(6,2) charge_amount:DECIMAL(12,2)! allowed_amount:DECIMAL(12,2) paid_amount:DECIMAL(12,2) "
    "diagnosis_pointers:JSON revenue_code ndc_code place_of_service=11",
    "prescriptions": "prescription_number patient_mrn member_id ndc! drug_name! quantity_prescribed:DECIMAL(10,2)! "
    "days_supply:INTEGER! refills_authorized:INTEGER refills_remaining:INTEGER prescriber_npi! prescriber_name "
    "prescriber_dea written_date:DATE! expiration_date:DATE! daw_code=0 directions",
    "pharmacy_claims": "claim_id transaction_code! service_date:DATE! pharmacy_npi! pharmacy_ncpdp member_id! "
    "cardholder_id! person_code bin! pcn! group_number! prescription_number! fill_number:INTEGER ndc! "
    "quantity_dispensed:DECIMAL(10,2)! days_supply:INTEGER! daw_code prescriber_npi! "
    "ingredient_cost_submitted:DECIMAL(12,2) dispensing_fee_submitted:DECIMAL(12,2) "
    "usual_customary_charge:DECIMAL(12,2) gross_amount_due:DECIMAL(12,2) patient_pay_amount:DECIMAL(12,2)",
    "subjects": "id subject_id! usubjid! study_id! site_id! patient_ref ssn given_name! family_name! birth_date:DATE! "
    "gender! race ethnicity screening_id screening_date:DATE informed_consent_date:DATE! randomization_date:DATE "
    "treatment_arm status!",
    "trial_visits": "id usubjid! visit_num:DECIMAL(5,1)! visit_name visit_date:DATE! study_day:INTEGER visit_status "
    "window_deviation_days:INTEGER",
    "adverse_events": "id usubjid! aeseq:INTEGER aeterm! aedecod aebodsys aestdtc:DATE! aeendtc:DATE aesev aetoxgr "
    "aeser aerel aeacn aeout",
    "exposures": "id usubjid! exseq:INTEGER extrt! exdose:DECIMAL(12,4) exdosu exdosfrq exroute exstdtc:DATE! "
    "exendtc:DATE exadj dose_modification",
}
# 1.3 as first shipped (9e9d39e) had an 18th table, dropped again in 6321601.
PCP_ASSIGNMENTS = (
    "id assignment_id! member_id! provider_npi! provider_name effective_date:DATE! termination_date:DATE "
    "assignment_source=member_selection"
)


def columns(spec: str) -> list[tuple[str, str, bool, str | None]]:
    out = []
    for item in spec.split():
        default = None
        if "=" in item:
            item, default = item.split("=", 1)
        not_null = item.endswith("!")
        item = item.rstrip("!")
        name, _, ty = item.partition(":")
        out.append((name, ty or "VARCHAR", not_null, default))
    return out


def canonical_ddl(table: str, spec: str, owner: str) -> str:
    cols = columns(spec)
    parts = []
    for i, (name, ty, not_null, default) in enumerate(cols):
        text = f"{name} {ty}"
        if i == 0:
            text += " PRIMARY KEY"
        elif not_null:
            text += " NOT NULL"
        if default is not None:
            text += f" DEFAULT {default if ty != 'VARCHAR' else repr(default)}"
        if name == "deceased":
            text += " DEFAULT FALSE"
        parts.append(text)
    parts += [
        f"{owner} VARCHAR",
        "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP",
        "source_type VARCHAR",
        "source_system VARCHAR",
        "skill_used VARCHAR",
        "generation_seed INTEGER",
    ]
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(parts)});"


def state_ddl(family: str, key: str) -> str:
    """The scenario (or cohort) tables, with the foreign keys new files got."""
    s, owner = ("scenario", "scenario_id") if family == "scenario" else ("cohort", "cohort_id")
    parent = f"{s}s"
    return f"""
    CREATE SEQUENCE IF NOT EXISTS {s}_entities_seq START 1;
    CREATE SEQUENCE IF NOT EXISTS {s}_tags_seq START 1;
    CREATE TABLE IF NOT EXISTS {parent} ({key} VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, metadata JSON);
    CREATE TABLE IF NOT EXISTS {s}_entities (id INTEGER PRIMARY KEY DEFAULT nextval('{s}_entities_seq'),
        {owner} VARCHAR NOT NULL REFERENCES {parent}({key}), entity_type VARCHAR NOT NULL, entity_id VARCHAR NOT NULL,
        entity_data JSON, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, UNIQUE({owner}, entity_type, entity_id));
    CREATE TABLE IF NOT EXISTS {s}_tags (id INTEGER PRIMARY KEY DEFAULT nextval('{s}_tags_seq'),
        {owner} VARCHAR NOT NULL REFERENCES {parent}({key}), tag VARCHAR NOT NULL, UNIQUE({owner}, tag));
    """


PROFILES = """
    CREATE SEQUENCE IF NOT EXISTS profiles_seq START 1;
    CREATE TABLE IF NOT EXISTS profiles (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR,
        version INTEGER DEFAULT 1, profile_spec JSON NOT NULL, product VARCHAR, tags JSON,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, metadata JSON);
    CREATE TABLE IF NOT EXISTS profile_executions (id INTEGER PRIMARY KEY DEFAULT nextval('profiles_seq'),
        profile_id VARCHAR NOT NULL REFERENCES profiles(id), cohort_id VARCHAR REFERENCES cohorts(id),
        executed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, seed INTEGER, count INTEGER, duration_ms INTEGER,
        status VARCHAR DEFAULT 'completed', error_message VARCHAR, metadata JSON);
"""
JOURNEYS = """
    CREATE SEQUENCE IF NOT EXISTS journeys_seq START 1;
    CREATE TABLE IF NOT EXISTS journeys (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR,
        version INTEGER DEFAULT 1, journey_spec JSON NOT NULL, products JSON, tags JSON, duration_days INTEGER,
        event_count INTEGER, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        metadata JSON);
    CREATE TABLE IF NOT EXISTS journey_executions (id INTEGER PRIMARY KEY DEFAULT nextval('journeys_seq'),
        journey_id VARCHAR NOT NULL REFERENCES journeys(id), profile_id VARCHAR REFERENCES profiles(id),
        cohort_id VARCHAR REFERENCES cohorts(id), entity_id VARCHAR, executed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        start_date DATE, end_date DATE, events_generated INTEGER, duration_ms INTEGER, status VARCHAR DEFAULT 'completed',
        error_message VARCHAR, metadata JSON);
"""


def new_file(path: Path, version: str, family: str, key: str, owner: str, extra: str = "", pcp: bool = False):
    """A database as the tooling's first start created it at `version`."""
    conn = duckdb.connect(str(path))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR PRIMARY KEY, description VARCHAR, "
        "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
    )
    conn.execute(state_ddl(family, key))
    if extra:
        conn.execute(extra)
    for table, spec in CANONICAL.items():
        conn.execute(canonical_ddl(table, spec, owner))
        conn.execute(f"CREATE INDEX IF NOT EXISTS idx_{table}_{family} ON {table}({owner})")
    if pcp:
        conn.execute(canonical_ddl("pcp_assignments", PCP_ASSIGNMENTS, owner))
    conn.execute("INSERT INTO schema_migrations (version, description) VALUES (?, 'Initial schema')", [version])
    return conn


# Entities in the shapes the state manager stored: the JSON copy as given, and the
# canonical row its serializer produced.
PATIENT = {
    "id": "pat-001", "mrn": "MRN001", "given_name": "Maria", "family_name": "Lopez",
    "birth_date": "1961-04-12", "gender": "F", "city": "Austin", "state": "TX",
}
PATIENT2 = {
    "id": "pat-002", "mrn": "MRN002", "given_name": "James", "family_name": "Chen",
    "birth_date": "1978-09-30", "gender": "M", "city": "Dallas", "state": "TX",
}
ENCOUNTER = {
    "encounter_id": "enc-001", "patient_mrn": "MRN001", "class_code": "O", "status": "finished",
    "admission_time": "2024-03-01 09:00:00",
}
DIAGNOSIS = {
    "id": "dx-001", "code": "E11.9", "description": "Type 2 diabetes mellitus without complications",
    "patient_mrn": "MRN001", "diagnosed_date": "2020-05-01",
}
MEMBER = {
    "id": "mem-001", "member_id": "M0001", "given_name": "Ana", "family_name": "Silva", "birth_date": "1985-02-02",
    "gender": "F", "group_id": "GRP1", "plan_code": "PPO", "coverage_start": "2024-01-01",
}
CLAIM = {
    "claim_id": "clm-001", "claim_type": "PROFESSIONAL", "member_id": "M0001", "provider_npi": "1234567893",
    "service_date": "2024-02-10", "principal_diagnosis": "J06.9", "total_charge": 150.0, "total_paid": 90.0,
}

COHORTS = {
    "diabetes-cohort": (
        "Two patients with diabetes",
        ["diabetes", "texas"],
        {"patients": [PATIENT, PATIENT2], "encounters": [ENCOUNTER], "diagnoses": [DIAGNOSIS]},
    ),
    "commercial-members": ("One member and a claim", ["payer"], {"members": [MEMBER], "claims": [CLAIM]}),
}
TABLE_OF = {"patients": "patients", "encounters": "encounters", "diagnoses": "diagnoses", "members": "members",
            "claims": "claims"}


def save(conn, family: str, key: str, owner: str, name: str, description, tags, entities, uid: str,
         entity_owner: str | None = None):
    """What the state manager's save did, step by step (auto-commit, as it ran)."""
    s = "scenario" if family == "scenario" else "cohort"
    entity_owner = entity_owner or ("scenario_id" if family == "scenario" else "cohort_id")
    metadata = {"product": "healthsim", "entity_types": list(entities), "entity_counts": {k: len(v) for k, v in entities.items()}}
    conn.execute(
        f"INSERT INTO {s}s ({key}, name, description, created_at, updated_at, metadata) VALUES (?, ?, ?, now(), now(), ?)",
        [uid, name, description, json.dumps(metadata)],
    )
    for entity_type, items in entities.items():
        table = TABLE_OF[entity_type]
        id_column = columns(CANONICAL[table])[0][0]
        for entity in items:
            conn.execute(
                f"INSERT INTO {s}_entities (id, {entity_owner}, entity_type, entity_id, entity_data, created_at) "
                f"VALUES (nextval('{s}_entities_seq'), ?, ?, ?, ?, now())",
                [uid, entity_type, entity[id_column], json.dumps(entity)],
            )
            row = dict(entity, **{owner: uid, "source_type": "generated", "source_system": "patientsim"})
            cols = list(row)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != id_column)
            conn.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
                f"ON CONFLICT ({id_column}) DO UPDATE SET {updates}",
                list(row.values()),
            )
    for tag in tags:
        conn.execute(
            f"INSERT INTO {s}_tags (id, {entity_owner}, tag) VALUES (nextval('{s}_tags_seq'), ?, ?)", [uid, tag]
        )


def fill(conn, family, key, owner, **kw):
    for i, (name, (description, tags, entities)) in enumerate(COHORTS.items()):
        save(conn, family, key, owner, name, description, tags, entities, f"00000000-0000-4000-8000-00000000000{i + 1}", **kw)


def v1_2(path, pcp=False, version="1.2"):
    conn = new_file(path, version, "scenario", "scenario_id", "scenario_id", pcp=pcp)
    fill(conn, "scenario", "scenario_id", "scenario_id")
    return conn


def migrate_1_4(conn):
    """1.2/1.3 → 1.4 as the migration at c84bd7f ran: scenarios rebuilt keyed `id`, the
    entity and tag tables rebuilt without their foreign keys (and without the default of
    their id)."""
    conn.execute("""
        CREATE TABLE scenarios_new (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR,
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, metadata JSON);
        INSERT INTO scenarios_new SELECT scenario_id, name, description, created_at, updated_at, metadata FROM scenarios;
        CREATE TABLE scenario_entities_new (id INTEGER PRIMARY KEY, scenario_id VARCHAR NOT NULL, entity_type VARCHAR NOT NULL,
            entity_id VARCHAR NOT NULL, entity_data JSON, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
            UNIQUE(scenario_id, entity_type, entity_id));
        INSERT INTO scenario_entities_new SELECT * FROM scenario_entities;
        DROP TABLE scenario_entities;
        ALTER TABLE scenario_entities_new RENAME TO scenario_entities;
        CREATE TABLE scenario_tags_new (id INTEGER PRIMARY KEY, scenario_id VARCHAR NOT NULL, tag VARCHAR NOT NULL,
            UNIQUE(scenario_id, tag));
        INSERT INTO scenario_tags_new SELECT * FROM scenario_tags;
        DROP TABLE scenario_tags;
        ALTER TABLE scenario_tags_new RENAME TO scenario_tags;
        DROP TABLE scenarios;
        ALTER TABLE scenarios_new RENAME TO scenarios;
        CREATE INDEX IF NOT EXISTS idx_scenario_entities_scenario ON scenario_entities(scenario_id);
        CREATE INDEX IF NOT EXISTS idx_scenario_tags_scenario ON scenario_tags(scenario_id);
        INSERT INTO schema_migrations (version, description) VALUES ('1.4', 'Rename scenarios.scenario_id to scenarios.id');
    """)


def migrate_1_5_and_1_6(conn):
    """1.4 → 1.6 as the migrations meant: cohort tables copied from the scenario tables
    (which stay), `cohort_id` added to canonical tables beside `scenario_id` and filled."""
    conn.execute("""
        CREATE SEQUENCE IF NOT EXISTS cohort_entities_seq START 1;
        CREATE SEQUENCE IF NOT EXISTS cohort_tags_seq START 1;
        CREATE TABLE IF NOT EXISTS cohorts (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR,
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, metadata JSON);
        INSERT INTO cohorts SELECT * FROM scenarios;
        CREATE TABLE IF NOT EXISTS cohort_entities (id INTEGER PRIMARY KEY, cohort_id VARCHAR NOT NULL,
            entity_type VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, entity_data JSON,
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, UNIQUE(cohort_id, entity_type, entity_id));
        INSERT INTO cohort_entities SELECT id, scenario_id, entity_type, entity_id, entity_data, created_at FROM scenario_entities;
        CREATE TABLE IF NOT EXISTS cohort_tags (id INTEGER PRIMARY KEY, cohort_id VARCHAR NOT NULL, tag VARCHAR NOT NULL,
            UNIQUE(cohort_id, tag));
        INSERT INTO cohort_tags SELECT id, scenario_id, tag FROM scenario_tags;
    """)
    for table in CANONICAL:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS cohort_id VARCHAR")
        conn.execute(f"UPDATE {table} SET cohort_id = scenario_id WHERE cohort_id IS NULL")
        conn.execute(f"CREATE INDEX IF NOT EXISTS idx_{table}_cohort ON {table}(cohort_id)")
    conn.execute("INSERT INTO schema_migrations (version, description) VALUES ('1.5', 'Rename scenario to cohort')")
    conn.execute("INSERT INTO schema_migrations (version, description) VALUES ('1.6', 'Drop legacy indexes')")


def cohort_file(path, version):
    extra = {"1.5": "", "1.6": PROFILES, "1.7": PROFILES + JOURNEYS}[version]
    # profiles reference cohorts: create them after the state tables.
    conn = new_file(path, version, "cohort", "id", "cohort_id", extra=extra)
    return conn


def make(out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    made = []

    def fresh(name):
        path = out / f"{name}.duckdb"
        path.unlink(missing_ok=True)
        made.append(name)
        return path

    v1_2(fresh("1.2")).close()
    v1_2(fresh("1.3-pcp"), pcp=True, version="1.3").close()
    v1_2(fresh("1.3"), version="1.3").close()
    conn = new_file(fresh("1.4"), "1.4", "scenario", "id", "scenario_id")
    fill(conn, "scenario", "id", "scenario_id")
    conn.close()
    for version in ("1.5", "1.6", "1.7"):
        conn = cohort_file(fresh(version), version)
        fill(conn, "cohort", "id", "cohort_id")
        conn.close()
    cohort_file(fresh("1.7-empty"), "1.7").close()
    conn = v1_2(fresh("1.2-to-1.4"))
    migrate_1_4(conn)
    conn.close()
    conn = v1_2(fresh("1.2-to-1.7"))
    migrate_1_4(conn)
    migrate_1_5_and_1_6(conn)
    conn.close()
    conn = v1_2(fresh("1.2-failed-upgrade"))
    # The 1.4 migration of a later tooling stopped at its second statement (it selected a
    # column 1.2 does not have), leaving an empty scenarios_new behind.
    conn.execute("CREATE TABLE scenarios_new (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR, "
                 "created_at TIMESTAMP, updated_at TIMESTAMP, metadata JSON)")
    conn.close()
    return made


if __name__ == "__main__":
    for name in make(Path(sys.argv[1])):
        print(name)
