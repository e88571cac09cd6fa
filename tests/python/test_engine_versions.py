"""The database file and the DuckDB lines users run beside the server.

`scripts/test` runs this file once per Python duckdb version users have (1.4.x, the
long-term-support line the HealthSim tooling pins; 1.5.x, the server's own engine; 2.0.x),
each in its own venv: `duckdb` below is that version. The relay test hops across all three
at once through the other venvs' interpreters (`HEALTHSIM_TEST_PYTHONS`)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap

import duckdb
import pytest

from conftest import BIN, entities, server

pytestmark = [pytest.mark.anyio, pytest.mark.duckdb_matrix]

VERSION = tuple(int(p) for p in duckdb.__version__.split(".")[:2])
# What DuckDB 1.4 reads (and so every line users run): storage versions 64 to 67.
READABLE_BY_1_4 = range(64, 68)
TOOLS = {
    "healthsim_list_scenarios": {},
    "healthsim_load_scenario": {"name_or_id": "x"},
    "healthsim_get_summary": {"scenario_id_or_name": "x"},
    "healthsim_query": {"sql": "SELECT 1"},
    "healthsim_query_reference": {"table": "places_county", "state": "HI"},
    "healthsim_tables": {},
    "healthsim_save_scenario": {"name": "x", "entities": entities(1)},
    "healthsim_delete_scenario": {"name_or_id": "x", "confirm": True},
}


def storage_header(path) -> tuple[int, str]:
    """(storage version number, DuckDB version that wrote the header) of a database file."""
    with open(path, "rb") as f:
        head = f.read(116)
    assert head[8:12] == b"DUCK", head[:16]
    (number,) = struct.unpack_from("<Q", head, 12)
    return number, head[52:84].rstrip(b"\0").decode()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def external_scenario(con, scenario_id: str, name: str):
    """What a notebook writing the HealthSim tables by hand does."""
    con.execute(
        "INSERT INTO scenarios (scenario_id, name, created_at, updated_at) VALUES (?, ?, TIMESTAMP '2026-01-02 03:04:05', TIMESTAMP '2026-01-02 03:04:05')",
        [scenario_id, name],
    )
    con.execute(
        "INSERT INTO scenario_entities (scenario_id, entity_type, entity_id, entity_data) VALUES (?, 'patients', 'x1', '{\"id\": \"x1\"}')",
        [scenario_id],
    )


async def test_a_file_the_server_creates_is_read_and_written_by_this_duckdb(db_path):
    """A file the server creates is in a storage version DuckDB 1.4 reads; this DuckDB
    reads it and writes to it, and the server serves what it wrote."""
    async with server(db_path) as s:
        await s.ok("healthsim_save_scenario", {"name": "by-server", "entities": entities(3), "tags": ["t"]})
    number, _ = storage_header(db_path)
    assert number in READABLE_BY_1_4, f"new files must be readable by DuckDB 1.4, got storage {number}"
    con = duckdb.connect(str(db_path))
    try:
        assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 3
        assert con.execute("SELECT tag FROM scenario_tags").fetchall() == [("t",)]
        external_scenario(con, "ext-1", f"by-duckdb-{duckdb.__version__}")
    finally:
        con.close()
    assert storage_header(db_path)[0] in READABLE_BY_1_4, "a write by this DuckDB kept the storage version"
    async with server(db_path) as s:
        names = {x["name"] for x in await s.ok("healthsim_list_scenarios")}
        assert names == {"by-server", f"by-duckdb-{duckdb.__version__}"}
        await s.ok("healthsim_save_scenario", {"name": "again", "entities": entities(2, "q")})
        removed = await s.ok("healthsim_delete_scenario", {"name_or_id": "by-server", "confirm": True})
        assert removed["status"] == "deleted"
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 2
        assert sorted(r[0] for r in con.execute("SELECT name FROM scenarios").fetchall()) == sorted(
            ["again", f"by-duckdb-{duckdb.__version__}"]
        )
    finally:
        con.close()


def make_file(path, storage: str | None):
    """A file made by this DuckDB, in its default storage version or the one named."""
    con = duckdb.connect()
    try:
        option = f" (STORAGE_VERSION '{storage}')" if storage else ""
        con.execute(f"ATTACH '{path}' AS made{option}")
        con.execute("CREATE TABLE made.my_notes AS SELECT range AS n, 'note ' || range AS text FROM range(5)")
    finally:
        con.close()


@pytest.mark.parametrize("storage", [None, "v1.0.0"])
async def test_a_file_this_duckdb_made_is_served(db_path, storage):
    """A file this DuckDB created (default settings, or an explicit storage version) gets
    the HealthSim layout and is served, keeping its own tables; except a DuckDB 2.0 file
    in its default storage version, which the server cannot read: it says so (see below)."""
    make_file(db_path, storage)
    if storage is None and VERSION >= (2, 0):
        pytest.skip("covered by test_a_newer_storage_version_is_refused_in_one_line")
    async with server(db_path) as s:
        await s.ok("healthsim_save_scenario", {"name": "kept", "entities": entities(2)})
        rows = await s.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM my_notes"})
        assert rows["rows"] == [{"n": 5}]
        assert [x["name"] for x in await s.ok("healthsim_list_scenarios")] == ["kept"]
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 2
    finally:
        con.close()


@pytest.mark.skipif(VERSION < (2, 0), reason="only DuckDB 2.0 writes a storage version DuckDB 1.5 cannot read")
async def test_a_newer_storage_version_is_refused_in_one_line(db_path):
    """Every entry point (each tool, `call`, `demo`) says in one line which DuckDB wrote
    the file and how to convert it; the file is untouched; no panic."""
    make_file(db_path, None)
    before = digest(db_path)
    number, writer = storage_header(db_path)
    assert number not in READABLE_BY_1_4 and writer.startswith("v2.")

    def check(message: str):
        assert "\n" not in message.strip(), message
        assert f"DuckDB {writer}" in message, message
        assert "STORAGE_VERSION" in message and "COPY FROM DATABASE" in message, message
        assert "was not changed" in message, message

    async with server(db_path) as s:
        for tool, args in TOOLS.items():
            check(await s.error(tool, args))
    for argv in (["call", "healthsim_tables"], ["demo", "--small"]):
        run = subprocess.run([BIN, "--db", str(db_path), *argv], capture_output=True, text=True, timeout=120)
        assert run.returncode == 1, (argv, run.returncode, run.stderr)
        assert "panicked" not in run.stderr and "RUST_BACKTRACE" not in run.stderr, run.stderr
        message = json.loads(run.stdout)["error"] if argv[0] == "call" else run.stderr.splitlines()[-1]
        check(message)
    assert digest(db_path) == before, "the file must not change"
    assert not db_path.with_name(db_path.name + ".wal").exists()
    # The conversion the message spells out works, and the converted file is served.
    recipe = message.split(f"with DuckDB {VERSION[0]}.{VERSION[1]}: ", 1)[1].split("; then pass --db ")
    con = duckdb.connect()
    try:
        for statement in recipe[0].split("; "):
            con.execute(statement)
    finally:
        con.close()
    converted = recipe[1]
    async with server(converted) as s:
        rows = await s.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM my_notes"})
        assert rows["rows"] == [{"n": 5}]
        await s.ok("healthsim_save_scenario", {"name": "converted", "entities": entities(1)})


def rpc_server(db_path, *args):
    """The server as a bare process speaking JSON-RPC lines (so the test can kill it)."""
    proc = subprocess.Popen(
        [BIN, "--db", str(db_path), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    ids = iter(range(1, 1_000_000))

    def request(method: str, params: dict) -> dict:
        rid = next(ids)
        proc.stdin.write((json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n").encode())
        proc.stdin.flush()
        while True:
            message = json.loads(proc.stdout.readline())
            if message.get("id") == rid:
                return message

    request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})
    proc.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
    proc.stdin.flush()
    return proc, request


async def test_acknowledged_writes_are_seen_and_survive_kill_9(db_path):
    """Each save the server acknowledged (committed to the WAL beside the file) is seen by
    this DuckDB opening the file read-only while the server runs, and survives `kill -9` of
    the server: this DuckDB then reads every one, and writing folds the WAL into the file."""
    proc, request = rpc_server(db_path, "--idle-release-ms", "0")
    try:
        for i in range(4):
            answer = request("tools/call", {"name": "healthsim_save_scenario", "arguments": {"name": f"s{i}", "entities": entities(3, f"k{i}")}})
            assert not answer["result"].get("isError"), answer
            con = duckdb.connect(str(db_path), read_only=True)
            try:
                assert con.execute("SELECT count(*) FROM scenarios").fetchone()[0] == i + 1
            finally:
                con.close()
        answer = request("tools/call", {"name": "healthsim_delete_scenario", "arguments": {"name_or_id": "s0", "confirm": True}})
        assert not answer["result"].get("isError"), answer
        assert os.path.exists(f"{db_path}.wal"), "the writes are in the WAL"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    con = duckdb.connect(str(db_path))
    try:
        names = sorted(r[0] for r in con.execute("SELECT name FROM scenarios").fetchall())
        assert names == ["s1", "s2", "s3"]
        assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 9
    finally:
        con.close()
    assert not os.path.exists(f"{db_path}.wal"), "this DuckDB's close folded the WAL into the file"
    async with server(db_path) as s:
        assert sorted(x["name"] for x in await s.ok("healthsim_list_scenarios")) == ["s1", "s2", "s3"]


async def test_the_wal_of_a_killed_writer_is_replayed(db_path):
    """This DuckDB writes to the server's file and is killed before checkpointing (its
    WAL left behind): the server's reads see the committed rows, its next save folds them
    in, and this DuckDB reads the result."""
    async with server(db_path) as s:
        await s.ok("healthsim_save_scenario", {"name": "first", "entities": entities(1)})
    writer = textwrap.dedent(
        f"""
        import os, signal, duckdb
        con = duckdb.connect({str(db_path)!r})
        con.execute("INSERT INTO scenarios (scenario_id, name) VALUES ('ext-wal', 'from-the-wal')")
        con.execute("INSERT INTO scenario_entities (scenario_id, entity_type, entity_id, entity_data) VALUES ('ext-wal', 'notes', 'n1', '{{}}')")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    run = subprocess.run([sys.executable, "-c", writer], capture_output=True, timeout=60)
    assert run.returncode == -signal.SIGKILL, run.stderr
    wal = db_path.with_name(db_path.name + ".wal")
    assert wal.exists(), "the killed writer left its WAL"
    async with server(db_path) as s:
        listed = {x["name"]: x["entity_count"] for x in await s.ok("healthsim_list_scenarios")}
        assert listed == {"first": 1, "from-the-wal": 1}
        await s.ok("healthsim_save_scenario", {"name": "after", "entities": entities(1, "a")})
    assert not wal.exists(), "the server's write folded the WAL into the file"
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert sorted(r[0] for r in con.execute("SELECT name FROM scenarios").fetchall()) == ["after", "first", "from-the-wal"]
    finally:
        con.close()


def pythons() -> dict[str, str]:
    """DuckDB version → interpreter of its venv, from HEALTHSIM_TEST_PYTHONS."""
    spec = os.environ.get("HEALTHSIM_TEST_PYTHONS", "")
    return dict(item.split("=", 1) for item in spec.split(",") if "=" in item)


@pytest.mark.relay
@pytest.mark.skipif(len(pythons()) < 3, reason="HEALTHSIM_TEST_PYTHONS names fewer than three DuckDB venvs")
async def test_relay_across_every_duckdb_line(db_path):
    """One file passed around: the server creates it, then each DuckDB line in turn reads
    everything written so far and adds a scenario, and the server serves all of them; the
    storage version stays one DuckDB 1.4 reads."""
    async with server(db_path) as s:
        await s.ok("healthsim_save_scenario", {"name": "server-0", "entities": entities(1)})
    expected = ["server-0"]
    for round_ in range(2):
        for version, python in sorted(pythons().items()):
            name = f"duckdb-{version}-{round_}"
            script = textwrap.dedent(
                f"""
                import duckdb
                con = duckdb.connect({str(db_path)!r})
                names = sorted(r[0] for r in con.execute("SELECT name FROM scenarios").fetchall())
                assert names == sorted({expected!r}), names
                con.execute("INSERT INTO scenarios (scenario_id, name) VALUES (?, ?)", [{name!r}, {name!r}])
                con.close()
                print(duckdb.__version__)
                """
            )
            run = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, f"DuckDB {version}: {run.stderr}"
            assert run.stdout.strip() == version
            expected.append(name)
            assert storage_header(db_path)[0] in READABLE_BY_1_4, f"after DuckDB {version}"
        async with server(db_path) as s:
            listed = [x["name"] for x in await s.ok("healthsim_list_scenarios", {"limit": 200})]
            assert sorted(listed) == sorted(expected)
            await s.ok("healthsim_save_scenario", {"name": f"server-{round_ + 1}", "entities": entities(1, f"r{round_}")})
            expected.append(f"server-{round_ + 1}")
