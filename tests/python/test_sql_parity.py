"""SQL as the duckdb CLI and Python duckdb run it: a corpus of the idioms analysts and
models write (dates relative to today, time zones, PIVOT, QUALIFY, GROUP BY ALL,
COLUMNS(), SUMMARIZE, list and struct functions, JSON operators on `entity_data`), each
answered by `healthsim_query` and compared with Python duckdb's answer on the same file.

The server loads ICU from the `duckdb-extension-icu` wheel (found through
--extension-dir, as `scripts/test` installs it); Python duckdb has ICU built in."""

import datetime
import decimal
import os
import uuid

import duckdb
import pytest

from conftest import server

pytestmark = pytest.mark.anyio

EXTENSION_DIR = os.environ.get("HEALTHSIM_TEST_EXTENSION_DIR", "")

CORPUS = {
    "dates relative to today": """
        SELECT count(*) FILTER (WHERE birth_date <= current_date - INTERVAL 18 YEAR) AS adults,
               max(date_diff('year', birth_date, current_date)) AS oldest_years,
               current_date AS today, date_trunc('month', current_date) AS this_month,
               CAST(current_date - INTERVAL 90 DAY AS DATE) AS ninety_days_ago
        FROM patients""",
    "age in years by birthday": """
        SELECT id, date_diff('year', birth_date, current_date)
                   - CASE WHEN strftime(current_date, '%m%d') < strftime(birth_date, '%m%d') THEN 1 ELSE 0 END AS age
        FROM patients ORDER BY id LIMIT 5""",
    "encounters in the last year": """
        SELECT count(*) AS recent FROM encounters
        WHERE admission_time >= current_date - INTERVAL 1 YEAR""",
    "time zones": """
        SELECT TIMESTAMPTZ '2026-03-08 06:30:00+00' AT TIME ZONE 'America/Chicago' AS chicago,
               TIMESTAMP '2026-07-01 12:00:00' AT TIME ZONE 'Europe/Paris' AS paris_instant,
               strftime(TIMESTAMPTZ '2026-01-01 00:00:00+00' AT TIME ZONE 'Asia/Tokyo', '%Y-%m-%d %H:%M') AS tokyo,
               date_part('hour', TIMESTAMPTZ '2026-06-01 12:00:00+00' AT TIME ZONE 'America/New_York') AS ny_hour""",
    "admissions by local day": """
        SELECT CAST(admission_time AT TIME ZONE 'UTC' AT TIME ZONE 'America/Los_Angeles' AS DATE) AS la_day,
               count(*) AS n
        FROM encounters GROUP BY ALL ORDER BY ALL""",
    "pivot without IN": "PIVOT (SELECT gender, class_code FROM patients JOIN encounters ON mrn = patient_mrn) "
    "ON class_code USING count(*) GROUP BY gender ORDER BY gender",
    "pivot with IN": "PIVOT patients ON gender IN ('F', 'M') USING count(*) GROUP BY race ORDER BY race",
    "pivot inside a query": """
        WITH p AS (PIVOT (SELECT code, type FROM diagnoses) ON type USING count(*) GROUP BY code)
        SELECT * FROM p ORDER BY code""",
    "unpivot": """
        UNPIVOT (SELECT id, given_name, family_name FROM patients WHERE id IN ('p1', 'p2'))
        ON given_name, family_name INTO NAME field VALUE value ORDER BY ALL""",
    "qualify": """
        SELECT patient_mrn, encounter_id, admission_time FROM encounters
        QUALIFY row_number() OVER (PARTITION BY patient_mrn ORDER BY admission_time DESC, encounter_id) = 1
        ORDER BY patient_mrn""",
    "group by all": "SELECT gender, race, count(*) AS n FROM patients GROUP BY ALL ORDER BY ALL",
    "from first": "FROM patients SELECT gender, count(*) AS n GROUP BY gender ORDER BY gender",
    "columns()": "SELECT max(COLUMNS(c -> c LIKE '%name%')) FROM patients",
    "columns() regex": "SELECT min(COLUMNS('.*_date')) FROM patients",
    "summarize": "SUMMARIZE SELECT gender, birth_date, race FROM patients",
    "lists and structs": """
        SELECT gender, list(given_name ORDER BY given_name)[1:3] AS first_three,
               {'n': count(*), 'gender': gender} AS info,
               list_transform([1, 2, 3], x -> x * count(*)) AS scaled,
               list_filter(list(id ORDER BY id), x -> x LIKE 'p1%') AS ones
        FROM patients GROUP BY gender ORDER BY gender""",
    "unnest": "SELECT unnest(['a', 'b']) AS letter, unnest([1, 2]) AS n ORDER BY letter",
    "json operators": """
        SELECT entity_data->>'$.gender' AS gender, count(*) AS n,
               min(entity_data->'$.name'->>'$.family') AS first_family,
               max(json_extract_string(entity_data, '$.name.given[0]')) AS given
        FROM scenario_entities WHERE entity_type = 'patient' GROUP BY ALL ORDER BY ALL""",
    "json structure": """
        SELECT json_keys(entity_data) AS keys, json_type(entity_data->'$.name') AS name_type
        FROM scenario_entities WHERE entity_type = 'patient' ORDER BY entity_id LIMIT 2""",
    "window and percentiles": """
        SELECT gender, quantile_cont(date_diff('year', birth_date, DATE '2026-01-01'), 0.5) AS median_age,
               avg(date_diff('year', birth_date, DATE '2026-01-01'))::DECIMAL(6, 2) AS mean_age
        FROM patients GROUP BY ALL ORDER BY ALL""",
    "regular expressions": """
        SELECT regexp_extract(family_name, '([0-9]+)$', 1) AS digits, upper(given_name) AS upper_name
        FROM patients ORDER BY id LIMIT 3""",
    "show tables": "SHOW TABLES",
    "describe": "DESCRIBE patients",
}


def entities() -> dict:
    """Patients with encounters and diagnoses on days spread across the year before today."""
    today = datetime.date.today()
    patients, encounters, diagnoses = [], [], []
    for i in range(24):
        born = datetime.date(1940 + i * 3, 1 + i % 12, 1 + i % 28)
        patients.append({
            "id": f"p{i}", "mrn": f"MRN{i:03d}",
            "name": {"given": ["Ana" if i % 2 else "Ben"], "family": f"Family{i}"},
            "birth_date": born.isoformat(), "gender": "F" if i % 2 else "M",
            "race": ["white", "black", "asian"][i % 3],
        })
        for j in range(1 + i % 3):
            day = today - datetime.timedelta(days=20 * i + 7 * j)
            encounters.append({
                "encounter_id": f"e{i}-{j}", "patient_mrn": f"MRN{i:03d}",
                "class_code": ["AMB", "EMER", "IMP"][(i + j) % 3], "status": "finished",
                "admission_time": f"{day.isoformat()}T{(3 + 5 * j) % 24:02d}:15:00",
            })
            diagnoses.append({
                "id": f"d{i}-{j}", "patient_mrn": f"MRN{i:03d}", "encounter_id": f"e{i}-{j}",
                "code": ["E11.9", "I10", "J45.909"][(i * j) % 3], "type": ["primary", "secondary"][j % 2],
                "diagnosed_date": day.isoformat(),
            })
    return {"patients": patients, "encounters": encounters, "diagnoses": diagnoses}


def as_server_json(value):
    """A Python duckdb value as the server writes it in JSON (the contract's value rules)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            suffix = "+00"
        else:
            suffix = ""
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}"
        return text + suffix
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [as_server_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_server_json(v) for k, v in value.items()}
    return value


async def test_idioms_answer_as_python_duckdb_does(db_path, tmp_path):
    if not EXTENSION_DIR:
        pytest.skip("HEALTHSIM_TEST_EXTENSION_DIR is not set (scripts/test sets it to the wheels' site-packages)")
    env = {"TZ": os.environ["TZ"]} if "TZ" in os.environ else {}
    ours = {}
    async with server(db_path, "--extension-dir", EXTENSION_DIR, env=env) as s:
        await s.ok("healthsim_save_scenario", {"name": "parity", "entities": entities()})
        for name, sql in CORPUS.items():
            is_error, result = await s.call("healthsim_query", {"sql": sql, "limit": 1000})
            assert not is_error, f"{name}: {result}"
            assert result["truncated"] is False, name
            ours[name] = result
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for name, sql in CORPUS.items():
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            assert ours[name]["columns"] == columns, f"{name}: columns {ours[name]['columns']} != {columns}"
            expected = [dict(zip(columns, as_server_json(list(row)))) for row in rows]
            assert ours[name]["rows"] == expected, f"{name}:\n ours   {ours[name]['rows']}\n duckdb {expected}"
    finally:
        con.close()
    # The idioms found data: the comparison is not between two empty answers.
    assert ours["dates relative to today"]["rows"][0]["adults"] == 23  # the youngest was born in 2009
    assert ours["encounters in the last year"]["rows"][0]["recent"] > 0
    assert len(ours["pivot without IN"]["columns"]) == 4  # gender + AMB, EMER, IMP
    assert ours["time zones"]["rows"][0]["chicago"] == "2026-03-08 00:30:00"


async def test_pivot_keeps_every_guard(db_path):
    """A PIVOT runs, but one statement as written is still the rule, and a write dressed
    as a PIVOT's expansion is refused."""
    async with server(db_path) as s:
        await s.ok("healthsim_save_scenario", {"name": "g", "entities": entities()})
        result = await s.ok("healthsim_query", {"sql": "PIVOT (SELECT gender FROM patients) ON gender USING count(*)"})
        assert sorted(result["columns"]) == ["F", "M"]
        for sql, phrase in [
            ("CREATE TYPE mood AS ENUM ('a'); SELECT 1", "2 statements"),
            ("PIVOT patients ON gender USING count(*); SELECT 1", "statements in one call"),
            ("SELECT 1; DROP TABLE patients", "statements in one call"),
            ("CREATE TEMP TABLE t AS SELECT 1", "CREATE statements are not allowed"),
        ]:
            message = await s.error("healthsim_query", {"sql": sql})
            assert phrase in message, f"{sql}: {message}"
        result = await s.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
        assert result["rows"] == [{"n": 24}]


async def test_without_icu_the_error_names_the_fix(db_path, tmp_path):
    """A server that found no ICU answers ICU functions with the wheel to install."""
    async with server(db_path, "--extension-dir", str(tmp_path), env={"HOME": str(tmp_path)}) as s:
        message = await s.error("healthsim_query", {"sql": "SELECT current_date"})
        assert "duckdb-extension-icu==1.5.5" in message and "--extension-dir" in message, message
