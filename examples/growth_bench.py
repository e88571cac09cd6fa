"""What a save costs as the file grows, side by side in one run: the server through the MCP
Python SDK (what users' scripts observe), and raw DuckDB doing the same durable work on the
same file (open, insert the same rows into the same tables, commit, close: the limit).
Also the reads by scenario (load, summary, a query filtered by scenario) at each size, and,
with `--http`, one HTTP server under 20 sessions making 50 mixed calls each at once.

    ~/.cache/healthsim-mcp/venv-duckdb-1.5.5/bin/python examples/growth_bench.py [--sizes 0,600000,6000000] [--runs 7] [--http]

`HEALTHSIM_MCP_BIN` names the binary (default: the release build). The file is grown
between sizes by raw SQL in the server's own layout (10,000-entity scenarios of patients,
encounters and diagnoses, scenario ids time-ordered as the server makes them), so the same
script measures any build: run it with an older binary to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("HEALTHSIM_MCP_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "healthsim-mcp"
)
FILL_SCENARIO = 10_000


def v7(at_ms: int) -> str:
    """A UUID v7 for `at_ms` (what the server gives scenarios)."""
    raw = bytearray(uuid.uuid4().bytes)
    raw[:6] = at_ms.to_bytes(6, "big")
    raw[6] = (raw[6] & 0x0F) | 0x70
    return str(uuid.UUID(bytes=bytes(raw)))


def entities(n: int, prefix: str) -> dict:
    """`n` entities: a third patients, a third encounters, a third diagnoses."""
    per = max(n // 3, 1)
    rest = n - per if n > 1 else 0
    patients = [
        {"id": f"{prefix}-p{i}", "mrn": f"{prefix}-M{i}", "given_name": "Ana", "family_name": f"Diaz{i}",
         "birth_date": "1970-03-04", "gender": "female"}
        for i in range(per)
    ]
    encounters = [
        {"encounter_id": f"{prefix}-e{i}", "patient_mrn": f"{prefix}-M{i % per}", "class_code": "O",
         "admission_time": "2024-01-05T10:00:00Z"}
        for i in range(rest // 2)
    ]
    diagnoses = [
        {"id": f"{prefix}-d{i}", "code": "E11.9", "description": "Type 2 diabetes", "patient_mrn": f"{prefix}-M{i % per}",
         "diagnosed_date": "2024-01-05"}
        for i in range(rest - rest // 2)
    ]
    out = {"patients": patients}
    if encounters:
        out["encounters"] = encounters
    if diagnoses:
        out["diagnoses"] = diagnoses
    return out


def fill(db: Path, upto: int) -> None:
    """Grows the file to `upto` entities with 10,000-entity scenarios, by raw SQL."""
    con = duckdb.connect(str(db))
    have = con.execute("SELECT count(*) FROM scenario_entities").fetchone()[0]
    start_ms = int(time.time() * 1000) - 10 * 365 * 86400 * 1000
    k = 0
    while have < upto:
        sid = v7(start_ms + k * 60_000 + have)
        name = f"fill-{have}"
        n = min(FILL_SCENARIO, upto - have)
        con.execute("BEGIN")
        con.execute(
            "INSERT INTO scenarios (scenario_id, name, created_at, updated_at, metadata) VALUES (?, ?, now(), now(), '{}')",
            [sid, name],
        )
        con.execute(
            """INSERT INTO scenario_entities (id, scenario_id, entity_type, entity_id, entity_data, created_at)
               SELECT nextval('scenario_entities_seq'), $1,
                      ['patients', 'encounters', 'diagnoses'][i % 3 + 1], $2 || '-' || i,
                      json_object('id', $2 || '-' || i, 'mrn', 'M' || (i // 3), 'given_name', 'Ana',
                                  'family_name', 'Diaz' || i, 'birth_date', '1970-03-04', 'gender', 'female'),
                      now()
               FROM range($3) r(i)""",
            [sid, name, n],
        )
        con.execute(
            """INSERT INTO patients (id, mrn, given_name, family_name, birth_date, gender, scenario_id)
               SELECT $2 || '-' || i, 'M' || (i // 3), 'Ana', 'Diaz' || i, DATE '1970-03-04', 'female', $1
               FROM range(0, $3, 3) r(i)""",
            [sid, name, n],
        )
        con.execute(
            """INSERT INTO encounters (encounter_id, patient_mrn, class_code, admission_time, scenario_id)
               SELECT $2 || '-' || i, 'M' || (i // 3), 'O', TIMESTAMP '2024-01-05 10:00:00', $1
               FROM range(1, $3, 3) r(i)""",
            [sid, name, n],
        )
        con.execute(
            """INSERT INTO diagnoses (id, code, description, patient_mrn, diagnosed_date, scenario_id)
               SELECT $2 || '-' || i, 'E11.9', 'Type 2 diabetes', 'M' || (i // 3), DATE '2024-01-05', $1
               FROM range(2, $3, 3) r(i)""",
            [sid, name, n],
        )
        con.execute("COMMIT")
        have += n
        k += 1
    con.close()


def raw_save(db: Path, doc: dict, name: str) -> float:
    """Raw DuckDB doing a save's durable work: open, the same rows into the same tables,
    commit, close (DuckDB's close checkpoints); seconds."""
    start = time.perf_counter()
    con = duckdb.connect(str(db))
    sid = v7(int(time.time() * 1000))
    con.execute("BEGIN")
    con.execute(
        "INSERT INTO scenarios (scenario_id, name, created_at, updated_at, metadata) VALUES (?, ?, now(), now(), '{}')",
        [sid, name],
    )
    # Rows handed over as one JSON text (binding Python lists costs ~0.2 ms per value).
    entity_rows = [
        {"t": kind, "i": item.get("id") or item.get("encounter_id"), "b": json.dumps(item)}
        for kind, items in doc.items()
        for item in items
    ]
    con.execute(
        """INSERT INTO scenario_entities (id, scenario_id, entity_type, entity_id, entity_data, created_at)
           SELECT nextval('scenario_entities_seq'), $1, t, i, b, now()
           FROM (SELECT unnest(from_json($2, '[{"t": "VARCHAR", "i": "VARCHAR", "b": "VARCHAR"}]'), recursive := true))""",
        [sid, json.dumps(entity_rows)],
    )
    con.execute(
        """INSERT INTO patients (id, mrn, given_name, family_name, birth_date, gender, scenario_id)
           SELECT id, mrn, given_name, family_name, CAST(birth_date AS DATE), gender, $1
           FROM (SELECT unnest(from_json($2, '[{"id": "VARCHAR", "mrn": "VARCHAR", "given_name": "VARCHAR",
                 "family_name": "VARCHAR", "birth_date": "VARCHAR", "gender": "VARCHAR"}]'), recursive := true))""",
        [sid, json.dumps(doc["patients"])],
    )
    if e := doc.get("encounters"):
        con.execute(
            """INSERT INTO encounters (encounter_id, patient_mrn, class_code, admission_time, scenario_id)
               SELECT encounter_id, patient_mrn, class_code, CAST(admission_time AS TIMESTAMP), $1
               FROM (SELECT unnest(from_json($2, '[{"encounter_id": "VARCHAR", "patient_mrn": "VARCHAR",
                     "class_code": "VARCHAR", "admission_time": "VARCHAR"}]'), recursive := true))""",
            [sid, json.dumps(e)],
        )
    if d := doc.get("diagnoses"):
        con.execute(
            """INSERT INTO diagnoses (id, code, description, patient_mrn, diagnosed_date, scenario_id)
               SELECT id, code, description, patient_mrn, CAST(diagnosed_date AS DATE), $1
               FROM (SELECT unnest(from_json($2, '[{"id": "VARCHAR", "code": "VARCHAR", "description": "VARCHAR",
                     "patient_mrn": "VARCHAR", "diagnosed_date": "VARCHAR"}]'), recursive := true))""",
            [sid, json.dumps(d)],
        )
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - start


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def through_sdk(db: Path, runs: int, tag: str) -> dict[str, float]:
    """The server's figures at this size, through the SDK (one session, calls in turn)."""
    params = StdioServerParameters(command=BIN, args=["--db", str(db)], env={"RUST_LOG": "error"})
    out: dict[str, list[float]] = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            async def call(tool: str, args: dict) -> tuple[dict, float]:
                start = time.perf_counter()
                result = await session.call_tool(tool, args)
                took = time.perf_counter() - start
                assert not result.is_error, result.content[0].text[:300]
                return result.structured_content, took

            small, _ = await call("healthsim_save_scenario", {"name": f"{tag}-small", "entities": entities(10, f"{tag}s")})
            sid = small["scenario_id"]
            for i in range(runs):
                _, took = await call("healthsim_save_scenario", {"name": f"{tag}-one-{i}", "entities": entities(1, f"{tag}o{i}")})
                out.setdefault("save 1", []).append(took)
                # A read between saves, as a client does (the save reopens the read instance).
                _, took = await call("healthsim_load_scenario", {"name_or_id": f"{tag}-small"})
                out.setdefault("load", []).append(took)
                _, took = await call("healthsim_get_summary", {"scenario_id_or_name": f"{tag}-small"})
                out.setdefault("summary", []).append(took)
                sql = f"SELECT entity_type, count(*) AS n FROM scenario_entities WHERE scenario_id = '{sid}' GROUP BY ALL"
                _, took = await call("healthsim_query", {"sql": sql})
                out.setdefault("query", []).append(took)
            for i in range(3):
                _, took = await call("healthsim_save_scenario", {"name": f"{tag}-big-{i}", "entities": entities(10_000, f"{tag}b{i}")})
                out.setdefault("save 10k", []).append(took)
    return {k: median_ms(v) for k, v in out.items()}


def raw_figures(db: Path, runs: int, tag: str) -> dict[str, float]:
    one = [raw_save(db, entities(1, f"{tag}r{i}"), f"{tag}-raw-one-{i}") for i in range(runs)]
    big = [raw_save(db, entities(10_000, f"{tag}R{i}"), f"{tag}-raw-big-{i}") for i in range(3)]
    return {"save 1": median_ms(one), "save 10k": median_ms(big)}


async def growth(sizes: list[int], runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "grow.duckdb"
        # The server makes the file and its layout.
        subprocess.run([BIN, "--db", str(db), "call", "healthsim_save_scenario", json.dumps({"name": "seed", "entities": entities(1, "seed")})],
                       check=True, capture_output=True)
        print(f"binary {BIN}; DuckDB {duckdb.__version__} for raw work; medians in ms ({runs} runs, 3 for 10k saves)")
        print(f"{'entities in file':>17} {'MiB':>6} | {'save 1':>7} {'raw':>6} {'x':>5} | {'save 10k':>8} {'raw':>6} {'x':>5} | {'load':>6} {'summary':>7} {'query':>6}")
        first: dict[str, float] | None = None
        for size in sizes:
            started = time.perf_counter()
            fill(db, size)
            grew = time.perf_counter() - started
            held = duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM scenario_entities").fetchone()[0]
            mib = db.stat().st_size / 2**20
            server = await through_sdk(db, runs, f"at{size}")
            raw = raw_figures(db, runs, f"at{size}")
            first = first or server
            print(
                f"{held:>17,} {mib:>6.0f} | {server['save 1']:>7.1f} {raw['save 1']:>6.1f} {server['save 1'] / raw['save 1']:>5.2f} |"
                f" {server['save 10k']:>8.1f} {raw['save 10k']:>6.1f} {server['save 10k'] / raw['save 10k']:>5.2f} |"
                f" {server['load']:>6.1f} {server['summary']:>7.1f} {server['query']:>6.1f}"
                f"   (grown in {grew:.0f} s; vs the first size: save 1 x{server['save 1'] / first['save 1']:.2f},"
                f" save 10k x{server['save 10k'] / first['save 10k']:.2f})",
                flush=True,
            )


async def http_load(sessions: int = 20, calls: int = 50) -> None:
    """One HTTP server, `sessions` SDK sessions at once, each making `calls` mixed calls."""
    import re
    import threading

    from mcp.client.streamable_http import streamable_http_client

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "http.duckdb"
        proc = subprocess.Popen([BIN, "--db", str(db), "--transport", "http", "--listen", "127.0.0.1:0"],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env={**os.environ, "RUST_LOG": "info"})
        address = None
        for line in proc.stderr:
            if found := re.search(r"listening on http://([0-9.]+:[0-9]+)/mcp", line):
                address = found.group(1)
                break
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        url = f"http://{address}/mcp"
        times: dict[str, list[float]] = {}
        failures: list[str] = []
        saved: list[str] = []

        async def client(index: int) -> None:
            async with streamable_http_client(url) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    for i in range(calls):
                        kind = ("list", "query", "summary", "save")[i % 4]
                        if kind == "list":
                            args, tool = {}, "healthsim_list_scenarios"
                        elif kind == "query":
                            args, tool = {"sql": "SELECT count(*) AS n FROM patients"}, "healthsim_query"
                        elif kind == "summary":
                            args, tool = {"scenario_id_or_name": "base"}, "healthsim_get_summary"
                        else:
                            name = f"c{index}-{i}"
                            args, tool = {"name": name, "entities": entities(10, name)}, "healthsim_save_scenario"
                        start = time.perf_counter()
                        result = await session.call_tool(tool, args)
                        times.setdefault(kind, []).append(time.perf_counter() - start)
                        if result.is_error:
                            failures.append(result.content[0].text[:200])
                        elif kind == "save":
                            saved.append(args["name"])

        async with streamable_http_client(url) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await session.call_tool("healthsim_save_scenario", {"name": "base", "entities": entities(30, "base")})
        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(sessions)))
        took = time.perf_counter() - started
        async with streamable_http_client(url) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.call_tool("healthsim_query", {"sql": "SELECT list(name) AS names FROM scenarios"})
                names = set(listed.structured_content["rows"][0]["names"])
        proc.terminate()
        proc.wait()
        lost = [n for n in saved if n not in names]
        print(f"HTTP: {sessions} sessions x {calls} calls in {took:.1f} s; failed {len(failures)}, lost {len(lost)}")
        for kind, values in sorted(times.items()):
            values.sort()
            print(f"  {kind:8s} p50 {median_ms(values):7.1f} ms  p95 {values[int(len(values) * 0.95)] * 1000:7.1f} ms  ({len(values)} calls)")
        for failure in failures[:3]:
            print("  failure:", failure)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,600000,6000000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--http", action="store_true", help="only the 20-session HTTP load")
    args = parser.parse_args()
    if args.http:
        asyncio.run(http_load())
    else:
        asyncio.run(growth([int(s) for s in args.sizes.split(",")], args.runs))


if __name__ == "__main__":
    sys.exit(main())
