"""Saves per second through a Quack server and a DuckLake: one, then three healthsim-mcp
processes on `--db quack:...` (or `ducklake:sqlite:...`, `ducklake:postgres:...`) saving at
once (each save 10 patients, through the MCP Python SDK), beside one process on a local
file. Also the median latency of a listing, a load (10 patients) and a query on each,
while no one writes.

    ~/.cache/healthsim-mcp/venv-duckdb-1.5.5/bin/python examples/remote_bench.py [SAVES]

Needs the `duckdb-extension-{quack,httpfs,ducklake,sqlite,postgres}` 1.5.5 wheels in this
Python's site-packages and Debian's postgresql (scripts/test installs them; PostgreSQL runs
as a cluster of its own in a temporary folder, see tests/python/remote/postgres.py) and
`cargo build --release`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from remote.postgres import cluster  # noqa: E402

SAVES = int(sys.argv[1]) if len(sys.argv) > 1 else 60
ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("HEALTHSIM_MCP_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "healthsim-mcp"
)
WHEELS = sysconfig.get_paths()["purelib"]
TOKEN = "bench-token-0d1e"


def patients(n: int, prefix: str) -> dict:
    return {
        "patients": [
            {"id": f"{prefix}{i}", "given_name": "B", "family_name": f"P{i}", "birth_date": "1980-01-01", "gender": "F"}
            for i in range(n)
        ]
    }


async def open_server(stack: AsyncExitStack, db: str, data: str) -> ClientSession:
    params = StdioServerParameters(
        command=BIN,
        args=["--db", db, "--extension-dir", WHEELS],
        env={
            "HEALTHSIM_QUACK_TOKEN": TOKEN,
            "HEALTHSIM_DUCKLAKE_DATA_PATH": data,
            "RUST_LOG": os.environ.get("BENCH_LOG", "healthsim_mcp=warn"),
        },
    )
    read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def saves_per_second(db: str, servers: int, tag: str, data: str) -> tuple[float, float, float, float]:
    async with AsyncExitStack() as stack:
        sessions = [await open_server(stack, db, data) for _ in range(servers)]
        await sessions[0].call_tool("healthsim_list_scenarios", {})

        async def run(k: int, session: ClientSession):
            for i in range(SAVES // servers):
                result = await session.call_tool(
                    "healthsim_save_scenario", {"name": f"{tag}-{k}-{i}", "entities": patients(10, f"{tag}{k}{i}-")}
                )
                assert not getattr(result, "is_error", getattr(result, "isError", False)), result.content

        started = time.perf_counter()
        await asyncio.gather(*(run(k, s) for k, s in enumerate(sessions)))
        rate = (SAVES // servers) * servers / (time.perf_counter() - started)
        timings = {}
        reads = (
            ("healthsim_list_scenarios", {"limit": 20}),
            ("healthsim_load_scenario", {"name_or_id": f"{tag}-0-0", "include_entities": True}),
            ("healthsim_query", {"sql": "SELECT count(*) FROM patients"}),
        )
        for tool, args in reads:
            samples = []
            for _ in range(20):
                t = time.perf_counter()
                await sessions[0].call_tool(tool, args)
                samples.append((time.perf_counter() - t) * 1000)
            timings[tool] = statistics.median(samples)
        return rate, *(timings[tool] for tool, _ in reads)


def serve_quack(file: str, port: int) -> subprocess.Popen:
    serve = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/python/remote/quack_server.py"), file, str(port), TOKEN, WHEELS],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert serve.stdout.readline().strip() == "serving"
    return serve


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, cluster() as postgres:
        port = 9700 + os.getpid() % 200
        serve = serve_quack(f"{tmp}/served.duckdb", port)
        try:
            address = f"quack:127.0.0.1:{port}"
            lake = f"ducklake:postgres:{postgres.conninfo(postgres.new_database())}"
            print(f"{SAVES} saves of 10 patients each, through the MCP Python SDK; reads: medians of 20")
            print(f"{'database':<48} {'saves/s':>8} {'list ms':>8} {'load ms':>8} {'query ms':>9}")
            for label, db, servers_at_once in (
                ("local file, 1 server", f"{tmp}/local.duckdb", 1),
                ("Quack server, 1 server", address, 1),
                ("Quack server, 3 servers at once", address, 3),
                ("DuckLake (SQLite catalog), 1 server", f"ducklake:sqlite:{tmp}/lake.sqlite", 1),
                ("DuckLake (SQLite catalog), 3 servers", f"ducklake:sqlite:{tmp}/lake.sqlite", 3),
                ("DuckLake (PostgreSQL catalog), 1 server", lake, 1),
                ("DuckLake (PostgreSQL catalog), 3 servers", lake, 3),
            ):
                try:
                    tag = f"s{servers_at_once}"
                    rate, listing, load, query = await saves_per_second(db, servers_at_once, tag, f"{tmp}/pg-lake-files")
                    print(f"{label:<48} {rate:>8.1f} {listing:>8.2f} {load:>8.2f} {query:>9.2f}", flush=True)
                except Exception as err:  # a failed case is reported, the others still run
                    text = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
                    print(f"{label:<48} failed: {text}", flush=True)
        finally:
            serve.kill()


asyncio.run(main())
