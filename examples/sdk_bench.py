"""Reads as the users' clients see them: the same calls through the official MCP Python SDK
client (what pytest-style scripts use), through bare JSON-RPC lines (a line written, a line
read and parsed: the server's own time), and as raw DuckDB work in this process (the
limit). Prints median and p95 per call, side by side, and what the SDK adds. With SDK 1.x
it also times the same query with the output schema the client holds swapped (ours, a
bare object schema, `{}`, none): what SDK 1.x's per-call schema check costs.

Run with the venv the tests use (it has the SDK 2.x and duckdb 1.5.5), or with the SDK 1.x
venv, after `cargo build --release`:

    ~/.cache/healthsim-mcp/venv-duckdb-1.5.5/bin/python examples/sdk_bench.py [RUNS]

`HEALTHSIM_MCP_BIN` names the binary (default: ./target/release/healthsim-mcp, or
`$CARGO_TARGET_DIR/release/healthsim-mcp`).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import duckdb
except ImportError:  # the SDK 1.x venv: no raw figures
    duckdb = None
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
SDK_VERSION = importlib.metadata.version("mcp")
ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("HEALTHSIM_MCP_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "healthsim-mcp"
)


def entities(n: int, prefix: str) -> dict:
    per = n // 5
    return {
        "patients": [{"id": f"{prefix}-p{i}", "mrn": f"{prefix}-M{i}", "given_name": "Ana", "family_name": f"Diaz{i}", "birth_date": "1970-03-04", "gender": "female"} for i in range(per)],
        "encounters": [{"encounter_id": f"{prefix}-e{i}", "patient_mrn": f"{prefix}-M{i % per}", "class_code": "O", "admission_time": "2024-01-05T10:00:00Z"} for i in range(per)],
        "diagnoses": [{"code": "E11.9", "description": "Type 2 diabetes", "patient_mrn": f"{prefix}-M{i % per}", "diagnosed_date": "2024-01-05"} for i in range(per)],
        "members": [{"member_id": f"{prefix}-m{i}", "given_name": "Ana", "family_name": f"Diaz{i}", "birth_date": "1970-03-04", "gender": "F", "plan_code": "PPO"} for i in range(per)],
        "claims": [{"claim_id": f"{prefix}-c{i}", "member_id": f"{prefix}-m{i % per}", "service_date": "2024-02-01", "total_charge": 120.5, "claim_type": "PROFESSIONAL"} for i in range(n - 4 * per)],
    }


class Bare:
    """Newline-delimited JSON-RPC to the server's stdin/stdout, parsed with json."""

    def __init__(self, db: Path):
        self.proc = subprocess.Popen([BIN, "--db", str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}})
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        line = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}).encode() + b"\n"
        self.proc.stdin.write(line)
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert "result" in answer, answer
        return answer["result"]

    def call(self, tool: str, args: dict) -> dict:
        result = self.request("tools/call", {"name": tool, "arguments": args})
        assert not result.get("isError"), result
        return result

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def timed(work, runs: int = RUNS) -> list[float]:
    work()  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


async def timed_async(work, runs: int = RUNS) -> list[float]:
    await work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def raw_load(con, name: str) -> None:
    """Raw DuckDB on an open connection: what a load reads (scenario row, tags, entity
    texts), JSON-parsed."""
    sid = con.execute("SELECT scenario_id FROM scenarios WHERE name = ?", [name]).fetchone()[0]
    con.execute("SELECT tag FROM scenario_tags WHERE scenario_id = ?", [sid]).fetchall()
    rows = con.execute(
        "SELECT entity_type, CAST(entity_data AS VARCHAR) FROM scenario_entities WHERE scenario_id = ? ORDER BY id", [sid]
    ).fetchall()
    [json.loads(text) for _, text in rows]


# The query every client path times (also right after a save, and with SDK 1.x with its
# cached output schema swapped).
COUNT = "SELECT count(*) FROM patients"

CALLS = [
    ("load 1,000 entities", "healthsim_load_scenario", {"name_or_id": "k1"}, "k1"),
    ("load 10,000 entities", "healthsim_load_scenario", {"name_or_id": "k10"}, "k10"),
    (COUNT, "healthsim_query", {"sql": COUNT}, None),
    ("get_summary, 10,000 entities", "healthsim_get_summary", {"scenario_id_or_name": "k10"}, None),
    ("list_scenarios", "healthsim_list_scenarios", {}, None),
]
AFTER_SAVE = "a query right after a save"


async def through_sdk(db: Path) -> dict[str, list[float]]:
    """Every call through the SDK client; one server process, alone on the file."""
    params = StdioServerParameters(command=BIN, args=["--db", str(db)], env={"RUST_LOG": "healthsim_mcp=warn"})
    times: dict[str, list[float]] = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            async def call(tool: str, args: dict):
                result = await session.call_tool(tool, args)
                assert not getattr(result, "is_error", getattr(result, "isError", False)), result.content

            for label, tool, args, _ in CALLS:
                times[label] = await timed_async(lambda: call(tool, args))
            if SDK_VERSION.startswith("1."):
                await schema_check_cost(session, call, times)
            times[AFTER_SAVE] = []
            for i in range(RUNS):
                await call("healthsim_save_scenario", {"name": f"s{i}", "entities": entities(10, f"s{i}")})
                start = time.perf_counter()
                await call("healthsim_query", {"sql": COUNT})
                times[AFTER_SAVE].append((time.perf_counter() - start) * 1000)
    return times



async def schema_check_cost(session, call, times: dict[str, list[float]]) -> None:
    """SDK 1.x checks the tool's output schema against its metaschema at every call: the
    same query with the schema the client holds (a private cache, filled by the calls
    above) swapped call by call, down to none."""
    held = session._tool_output_schemas
    ours = held["healthsim_query"]
    variants = {"ours": ours, '{"type": "object"}': {"type": "object"}, "{}": {}, "none": None}
    runs = {name: times.setdefault(f"{COUNT}, client's output schema {name}", []) for name in variants}
    for _ in range(RUNS * 4):
        for name, schema in variants.items():
            held["healthsim_query"] = schema
            start = time.perf_counter()
            await call("healthsim_query", {"sql": COUNT})
            runs[name].append((time.perf_counter() - start) * 1000)
    held["healthsim_query"] = ours


def bare_calls(db: Path) -> dict[str, list[float]]:
    """The same calls as bare JSON-RPC lines; one server process, alone on the file."""
    bare = Bare(db)
    times = {label: timed(lambda: bare.call(tool, args)) for label, tool, args, _ in CALLS}
    times[AFTER_SAVE] = []
    for i in range(RUNS):
        bare.call("healthsim_save_scenario", {"name": f"t{i}", "entities": entities(10, f"t{i}")})
        start = time.perf_counter()
        bare.call("healthsim_query", {"sql": COUNT})
        times[AFTER_SAVE].append((time.perf_counter() - start) * 1000)
    bare.close()
    return times


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        setup = Bare(db)
        setup.call("healthsim_save_scenario", {"name": "k1", "entities": entities(1_000, "a")})
        setup.call("healthsim_save_scenario", {"name": "k10", "entities": entities(10_000, "b")})
        setup.close()
        sdk = await through_sdk(db)
        bare = bare_calls(db)
        raw = {}
        if duckdb is not None:
            with duckdb.connect(str(db), read_only=True) as con:
                raw = {label: timed(lambda: raw_load(con, name)) for label, _, _, name in CALLS if name}
    print(f"healthsim-mcp through the MCP Python SDK {SDK_VERSION} vs bare JSON-RPC vs raw DuckDB {duckdb.__version__ if duckdb else '(not installed)'} "
          f"(load: read and JSON-parse the entities); {RUNS} runs; median / p95 ms")
    print("| call | SDK | bare | raw DuckDB | SDK - bare |")
    print("|---|---:|---:|---:|---:|")
    for label in sdk:
        # The schema-swapped queries compare with the bare query.
        against = bare.get(label, bare[COUNT])
        s, b = statistics.median(sdk[label]), statistics.median(against)
        limit = f"{statistics.median(raw[label]):.2f}" if label in raw else "-"
        print(f"| {label} | {s:.2f} / {p95(sdk[label]):.2f} | {b:.2f} / {p95(against):.2f} | {limit} | {s - b:+.2f} ({s / b:.2f}x) |")


if __name__ == "__main__":
    asyncio.run(main())
