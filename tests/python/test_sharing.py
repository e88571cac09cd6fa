"""The sharing guarantees of spec/concurrency.md, proven with real processes: the server
binary driven by the MCP Python SDK, Python duckdb connections, a second server, kill -9
and signals."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import anyio
import duckdb
import pytest

from conftest import BIN, entities, pid_alive, server, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.duckdb_matrix]


def can_write(path) -> bool:
    """Whether this (other) process can open the file read-write right now."""
    try:
        duckdb.connect(str(path)).close()
        return True
    except duckdb.IOException:
        return False


def count(path, sql: str) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


async def test_external_readers_while_idle_and_serving(db_path):
    """1. Python read-only connections and a second server read while the server runs."""
    async with server(db_path) as s:
        await s.ok("healthsim_save_scenario", {"name": "shared", "entities": entities(3)})
        # Right after a write (the server has its read instance open again) ...
        assert count(db_path, "SELECT count(*) FROM patients") == 3
        # ... and while it holds its read instance and serves reads.
        await s.ok("healthsim_list_scenarios")
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM scenarios").fetchone()[0] == 1
            assert len(await s.ok("healthsim_list_scenarios")) == 1
            async with server(db_path) as second:
                listed = await second.ok("healthsim_list_scenarios")
                assert [x["name"] for x in listed] == ["shared"]
                results = []

                async def read(srv):
                    results.append(len(await srv.ok("healthsim_list_scenarios")))

                async with anyio.create_task_group() as tg:
                    for _ in range(5):
                        tg.start_soon(read, s)
                        tg.start_soon(read, second)
                assert results == [1] * 10
            assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 3
        finally:
            con.close()


async def test_save_waits_for_a_reader_then_succeeds(db_path):
    """2, 3. A save waits while Python holds the file, reads keep answering, and the save
    lands within 500 ms of the holder closing."""
    async with server(db_path, "--write-timeout-ms", "30000") as s:
        await s.ok("healthsim_list_scenarios")
        con = duckdb.connect(str(db_path), read_only=True)
        done = {}

        async def save():
            done["value"] = await s.ok("healthsim_save_scenario", {"name": "waited", "entities": entities(5)})
            done["at"] = time.monotonic()

        async with anyio.create_task_group() as tg:
            tg.start_soon(save)
            read_times = []
            for _ in range(10):
                started = time.monotonic()
                assert await s.ok("healthsim_list_scenarios") == []
                read_times.append(time.monotonic() - started)
            # The holder keeps the file a while longer: the save cannot have landed.
            await anyio.sleep(0.3)
            assert "at" not in done, "save must wait while another process holds the file"
            con.close()
            closed_at = time.monotonic()
        assert done["value"]["status"] == "saved"
        assert done["at"] - closed_at < 0.5, f"save landed {done['at'] - closed_at:.3f}s after the holder closed"
        assert max(read_times) < 2.0, f"reads answered during the wait: {read_times}"
        assert [x["name"] for x in await s.ok("healthsim_list_scenarios")] == ["waited"]


async def test_save_times_out_naming_the_holder(db_path):
    """2. If the holder never closes, the save fails after the timeout naming its PID, and
    nothing changes."""
    async with server(db_path, "--write-timeout-ms", "1500") as s:
        await s.ok("healthsim_save_scenario", {"name": "before", "entities": entities(1)})
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            started = time.monotonic()
            message = await s.error("healthsim_save_scenario", {"name": "blocked", "entities": entities(2)})
            waited = time.monotonic() - started
        finally:
            con.close()
        assert f"(PID {os.getpid()})" in message, message
        assert "python" in message.lower(), message
        assert "nothing was written" in message, message
        assert waited >= 1.4, waited
        assert [x["name"] for x in await s.ok("healthsim_list_scenarios")] == ["before"]
    assert count(db_path, "SELECT count(*) FROM scenarios") == 1
    assert count(db_path, "SELECT count(*) FROM patients") == 1


async def test_two_servers_save_and_read_in_a_loop(db_path):
    """4, 5. Two servers alternating saves and reads: every save lands exactly once, each
    sees the other's saves, and a read right after a save sees it."""
    flags = ("--idle-release-ms", "20", "--write-timeout-ms", "60000")
    rounds = 50
    async with server(db_path, *flags) as a, server(db_path, *flags) as b:

        async def loop(srv, prefix):
            for i in range(rounds):
                name = f"{prefix}-{i:03d}"
                saved = await srv.ok("healthsim_save_scenario", {"name": name, "entities": entities(2, name)})
                assert saved["status"] == "saved"
                listed = await srv.ok("healthsim_list_scenarios", {"search": f"{prefix}-", "limit": 200})
                assert name in {x["name"] for x in listed}, f"{name} not visible right after its save"

        async with anyio.create_task_group() as tg:
            tg.start_soon(loop, a, "a")
            tg.start_soon(loop, b, "b")
        expected = {f"{p}-{i:03d}" for p in "ab" for i in range(rounds)}
        for srv in (a, b):
            names = [x["name"] for x in await srv.ok("healthsim_list_scenarios", {"limit": 200})]
            assert len(names) == len(set(names)) == 2 * rounds
            assert set(names) == expected
            rows = await srv.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
            assert rows["rows"] == [{"n": 4 * rounds}]


async def test_idle_release_lets_a_writer_in(db_path):
    """9. Past --idle-release-ms an external writer gets in; with 0 it never does."""
    async with server(db_path, "--idle-release-ms", "200") as s:
        await s.ok("healthsim_list_scenarios")
        wait_until(lambda: can_write(db_path), what="the idle server to release the file")
        # The server reopens on the next read and still works.
        assert await s.ok("healthsim_list_scenarios") == []
    async with server(db_path, "--idle-release-ms", "0") as s:
        await s.ok("healthsim_list_scenarios")
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert not can_write(db_path), "--idle-release-ms 0 keeps the read lock"
        assert await s.ok("healthsim_list_scenarios") == []


async def test_a_write_reopens_for_reading_unless_another_process_waits(db_path):
    """After a save the server opens its read instance again at once, so the read a client
    makes next is warm (released after --idle-release-ms, as after any read). After a save
    that had to wait for another process, or that follows another within a second with no
    read between, it does not: that process may want the file back, and a loop of saves
    would pay each reopen."""
    async with server(db_path, "--idle-release-ms", "60000") as s:
        await s.ok("healthsim_save_scenario", {"name": "first", "entities": entities(2)})
        # Reopened before the answer: a read sent right after finds it open.
        assert not can_write(db_path), "the read instance was not open when the save answered"
        assert [x["name"] for x in await s.ok("healthsim_list_scenarios")] == ["first"]
        # A save right after another (a loop of saves) does not reopen: the next save would wait for it.
        await s.ok("healthsim_save_scenario", {"name": "second", "entities": entities(2, "r")})
        await s.ok("healthsim_save_scenario", {"name": "third", "entities": entities(2, "t")})
        for _ in range(5):
            assert can_write(db_path), "the server reopened after a save in a row"
            await anyio.sleep(0.05)
    holder = duckdb.connect(str(db_path))
    async with server(db_path, "--idle-release-ms", "60000", "--write-timeout-ms", "30000") as s:
        async with anyio.create_task_group() as tg:
            tg.start_soon(s.ok, "healthsim_save_scenario", {"name": "waited", "entities": entities(2, "q")})
            await anyio.sleep(0.3)
            holder.close()
        for _ in range(5):
            assert can_write(db_path), "the server kept out the process it had waited for"
            await anyio.sleep(0.05)
        assert len(await s.ok("healthsim_list_scenarios")) == 4


async def test_listing_sees_external_writes(db_path):
    """Listings are reused only while the server's read instance stays open, when no other
    process can write; a write made after the idle release shows in the next listing."""
    async with server(db_path, "--idle-release-ms", "200") as s:
        assert await s.ok("healthsim_list_scenarios") == []
        assert await s.ok("healthsim_list_scenarios", {"tag": "pytest"}) == []

        def write() -> bool:
            try:
                con = duckdb.connect(str(db_path))
            except duckdb.IOException:
                return False
            try:
                con.execute(
                    "INSERT INTO scenarios (scenario_id, name, created_at, updated_at) "
                    "VALUES ('ext-1', 'external', TIMESTAMP '2026-01-02 03:04:05', TIMESTAMP '2026-01-02 03:04:05')"
                )
                con.execute(
                    "INSERT INTO scenario_entities (scenario_id, entity_type, entity_id, entity_data) "
                    "VALUES ('ext-1', 'patients', 'p1', '{}'), ('ext-1', 'patients', 'p2', '{}')"
                )
                con.execute("INSERT INTO scenario_tags (scenario_id, tag) VALUES ('ext-1', 'pytest')")
            finally:
                con.close()
            return True

        wait_until(write, what="the idle server to release the file for a writer")
        listed = await s.ok("healthsim_list_scenarios")
        assert [(x["name"], x["entity_count"], x["tags"]) for x in listed] == [("external", 2, ["pytest"])]
        assert [x["name"] for x in await s.ok("healthsim_list_scenarios", {"tag": "PYTEST"})] == ["external"]


async def test_user_sql_cannot_release_the_lock(db_path):
    """User SQL touching the database file itself cannot make the server drop its lock."""
    async with server(db_path, "--idle-release-ms", "0") as s:
        await s.ok("healthsim_list_scenarios")
        assert not can_write(db_path)
        for sql in [
            f"SELECT * FROM read_blob('{db_path}')",
            f"SELECT * FROM read_text('{db_path}')",
            f"ATTACH '{db_path}' AS again (READ_ONLY)",
            "DETACH again",
            f"SELECT * FROM read_csv('{db_path}')",
        ]:
            is_error, value = await s.call("healthsim_query", {"sql": sql})
            assert is_error, f"{sql} was allowed: {value}"
            assert not can_write(db_path), f"the lock was lost after {sql}"
        assert (await s.ok("healthsim_query", {"sql": "SELECT 42 AS x"}))["rows"] == [{"x": 42}]


async def test_kill_9_during_large_saves(db_path):
    """7. kill -9 at random points of a large save, 10 times: every scenario is complete
    or absent, and the file opens cleanly."""
    size = 20_000
    payload = entities(size)
    rng = random.Random(20261122)
    for round_ in range(10):
        async with server(db_path) as s:
            pid = s.pid

            async def save():
                try:
                    await s.call("healthsim_save_scenario", {"name": f"big-{round_}", "entities": payload})
                except Exception:  # the process dies under the call
                    pass

            async with anyio.create_task_group() as tg:
                tg.start_soon(save)
                await anyio.sleep(rng.uniform(0.0, 1.2))
                os.kill(pid, signal.SIGKILL)
                tg.cancel_scope.cancel()
            wait_until(lambda: not pid_alive(pid), what="the killed server to exit")
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            for name, entity_count, patient_rows in con.execute(
                """SELECT s.name,
                          (SELECT count(*) FROM scenario_entities e WHERE e.scenario_id = s.scenario_id),
                          (SELECT count(*) FROM patients p WHERE p.scenario_id = s.scenario_id)
                   FROM scenarios s"""
            ).fetchall():
                assert (entity_count, patient_rows) == (size, size), f"{name} is partial"
        finally:
            con.close()
    async with server(db_path) as s:
        listed = await s.ok("healthsim_list_scenarios", {"limit": 200})
        assert all(x["entity_count"] == size for x in listed)
    assert can_write(db_path)


class RawServer:
    """The binary under subprocess.Popen with hand-written JSON-RPC, for exit codes."""

    def __init__(self, db, *args):
        self.proc = subprocess.Popen(
            [BIN, "--db", str(db), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        self.next_id = 0
        self.send("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}})
        assert "result" in self.receive()
        self.notify("notifications/initialized")

    def notify(self, method, params=None):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def send(self, method, params):
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()
        return self.next_id

    def receive(self):
        while True:
            line = self.proc.stdout.readline()
            assert line, "server closed stdout"
            message = json.loads(line)
            if "id" in message:
                return message

    def call(self, tool, args):
        self.send("tools/call", {"name": tool, "arguments": args})
        return self.receive()


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "EOF"])
@pytest.mark.parametrize("when", ["idle", "writing"])
def test_shutdown_exits_0_and_frees_the_file(db_path, how, when):
    """8. SIGTERM, SIGINT and stdin EOF, idle or during a write: the write completes or
    rolls back, the exit code is 0, and the file is immediately writable elsewhere."""
    raw = RawServer(db_path)
    assert raw.call("healthsim_list_scenarios", {})["result"]["isError"] is False
    if when == "writing":
        raw.send("tools/call", {"name": "healthsim_save_scenario", "arguments": {"name": "inflight", "entities": entities(20_000)}})
        time.sleep(0.2)  # let the save get under way; either outcome below is valid
    if how == "EOF":
        raw.proc.stdin.close()
    else:
        raw.proc.send_signal(getattr(signal, how))
    assert raw.proc.wait(timeout=30) == 0
    assert can_write(db_path), "the file is free right after exit"
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT (SELECT count(*) FROM scenario_entities), (SELECT count(*) FROM patients), (SELECT count(*) FROM scenarios)"
        ).fetchone()
    finally:
        con.close()
    assert rows in [(0, 0, 0), (20_000, 20_000, 1)], f"complete or absent, got {rows}"
