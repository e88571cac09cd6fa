"""Read latency through a Quack server, on two databases of the same rows: one our
server made on the Quack server (our layout there: no function defaults, so DuckDB can
ATTACH it) and one it made as a local file (sequences as defaults: DuckDB cannot ATTACH it
through Quack). At commit 6762bed the server read the first through a read-only ATTACH and
the second through `quack_query`, which is how README's comparison was measured; since
then both go through `quack_query` (the ATTACH was slower but for small loads).

    ~/.cache/healthsim-mcp/venv-duckdb-1.5.5/bin/python examples/quack_reads_bench.py ENTITIES SCENARIOS

Needs HEALTHSIM_MCP_BIN (the built binary) and HEALTHSIM_TEST_EXTENSION_DIR (the extension
wheels' site-packages), as scripts/test sets them. Prints the median of 7 calls (ms).
"""
from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

BIN = os.environ["HEALTHSIM_MCP_BIN"]
WHEELS = os.environ["HEALTHSIM_TEST_EXTENSION_DIR"]
TOKEN = "bench-token-0d1e"
SERVE = Path(__file__).resolve().parents[1] / "tests/python/remote/quack_server.py"
ENTITIES, SCENARIOS = int(sys.argv[1]), int(sys.argv[2])


def serve(file: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(SERVE), file, str(port), TOKEN, WHEELS], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "serving"
    return proc


def patients(n: int, prefix: str) -> dict:
    return {
        "patients": [
            {"id": f"{prefix}{i}", "given_name": "B", "family_name": f"P{i}", "birth_date": "1980-01-01", "gender": "F"}
            for i in range(n)
        ]
    }


async def open_session(stack: AsyncExitStack, db: str) -> ClientSession:
    params = StdioServerParameters(
        command=BIN,
        args=["--db", db, "--extension-dir", WHEELS],
        env={"HEALTHSIM_QUACK_TOKEN": TOKEN, "RUST_LOG": "healthsim_mcp=warn"},
    )
    read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def fill(db: str) -> None:
    async with AsyncExitStack() as stack:
        session = await open_session(stack, db)
        for k in range(SCENARIOS):
            args = {"name": f"sc{k}", "entities": patients(ENTITIES // SCENARIOS, f"k{k}-")}
            result = await session.call_tool("healthsim_save_scenario", args)
            assert not result.is_error, result.content


async def main() -> None:
    tmp = tempfile.mkdtemp()
    await fill(f"{tmp}/older.duckdb")
    port = 9800 + os.getpid() % 100
    servers = [serve(f"{tmp}/new.duckdb", port), serve(f"{tmp}/older.duckdb", port + 1)]
    try:
        await fill(f"quack:127.0.0.1:{port}")
        reads = (
            ("list", "healthsim_list_scenarios", {"limit": 20}),
            ("load", "healthsim_load_scenario", {"name_or_id": "sc3", "include_entities": True}),
            ("summary", "healthsim_get_summary", {"scenario_id_or_name": "sc3"}),
            ("query", "healthsim_query", {"sql": "SELECT count(*) FROM patients"}),
        )
        for label, db in (("attachable", f"quack:127.0.0.1:{port}"), ("function defaults", f"quack:127.0.0.1:{port + 1}")):
            async with AsyncExitStack() as stack:
                session = await open_session(stack, db)
                await session.call_tool("healthsim_list_scenarios", {})
                medians = []
                for name, tool, args in reads:
                    samples = []
                    for _ in range(7):
                        started = time.perf_counter()
                        result = await session.call_tool(tool, args)
                        samples.append((time.perf_counter() - started) * 1000)
                        assert not result.is_error, result.content
                    medians.append(f"{name} {statistics.median(samples):.1f}")
                print(f"{ENTITIES} entities, {label}: " + ", ".join(medians), flush=True)
    finally:
        for proc in servers:
            proc.kill()


asyncio.run(main())
