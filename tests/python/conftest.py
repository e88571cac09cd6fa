"""Shared helpers: start the real healthsim-mcp binary with the official MCP Python SDK
client over stdio, and open the same database with Python duckdb alongside it."""

from __future__ import annotations

import json
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

BIN = os.environ.get("HEALTHSIM_MCP_BIN", "")


def pytest_configure(config):
    if not BIN or not Path(BIN).is_file():
        raise pytest.UsageError("set HEALTHSIM_MCP_BIN to the built healthsim-mcp binary (scripts/test does)")
    config.addinivalue_line("markers", "duckdb_matrix: runs once per Python duckdb version users have (scripts/test)")
    config.addinivalue_line("markers", "relay: needs every DuckDB venv at once (HEALTHSIM_TEST_PYTHONS)")


def pytest_report_header(config):
    import duckdb

    return f"Python duckdb {duckdb.__version__} as the other process"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "healthsim.duckdb"


def child_pids() -> set[int]:
    """PIDs of this process's direct children (Linux /proc)."""
    me = os.getpid()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces; the fields after ')' are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me:
            found.add(int(entry.name))
    return found


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Server:
    """One running server with an initialized SDK session."""

    def __init__(self, session: ClientSession, pid: int):
        self.session = session
        self.pid = pid

    async def call(self, tool: str, args: dict | None = None) -> tuple[bool, object]:
        result = await self.session.call_tool(tool, args or {})
        text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
        value = json.loads(text)
        if not result.is_error and isinstance(value, dict):
            assert result.structured_content == value
        return bool(result.is_error), value

    async def ok(self, tool: str, args: dict | None = None):
        is_error, value = await self.call(tool, args)
        assert not is_error, f"{tool} failed: {value}"
        return value

    async def error(self, tool: str, args: dict | None = None) -> str:
        is_error, value = await self.call(tool, args)
        assert is_error, f"{tool} should fail: {value}"
        return value["error"]


@asynccontextmanager
async def server(db: Path, *args: str, env: dict[str, str] | None = None):
    """Starts healthsim-mcp on `db` and yields a `Server`; closes stdin on exit."""
    params = StdioServerParameters(
        command=BIN,
        args=["--db", str(db), *args],
        env={"RUST_LOG": "healthsim_mcp=warn", **(env or {})},
    )
    before = child_pids()
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            new = child_pids() - before
            assert len(new) == 1, f"expected one new child process, got {new}"
            yield Server(session, new.pop())


def wait_until(condition, timeout: float = 15.0, what: str = "condition"):
    """Polls `condition` until true; fails after `timeout` seconds. Used to observe an
    effect (a lock released), never to stand in for ordering."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def entities(n: int, prefix: str = "p") -> dict:
    """`n` valid patients."""
    return {
        "patients": [
            {"id": f"{prefix}{i}", "given_name": "Test", "family_name": f"P{i}", "birth_date": "1980-01-01", "gender": "F"}
            for i in range(n)
        ]
    }
