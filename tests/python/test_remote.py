"""`--db quack:HOST:PORT`: several healthsim-mcp processes sharing one database through a
real Quack server (Python duckdb 1.5.5 with the quack and httpfs wheels, started here),
each write one transaction there. The wheels' site-packages is `HEALTHSIM_TEST_EXTENSION_DIR`
(set by scripts/test); the server runs under the same Python."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, entities, server
from remote.teamwork import kill_mid_saves, save_at_once

pytestmark = pytest.mark.anyio

WHEELS = os.environ.get("HEALTHSIM_TEST_EXTENSION_DIR", "")
needs_wheels = pytest.mark.skipif(not WHEELS, reason="HEALTHSIM_TEST_EXTENSION_DIR is not set (scripts/test sets it)")
TOKEN = "quack-test-token-5f2c9e"
SERVE = Path(__file__).parent / "remote" / "quack_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def quack_server(file: Path, port: int | None = None):
    """A Quack server owning `file` (on `port`, else a free one); yields its `--db` address."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVE), str(file), str(port), TOKEN, WHEELS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "serving", f"the Quack server did not start: {line!r} {proc.stderr.read()}"
        yield f"quack:127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=30)


def remote_args(address: str) -> tuple[list[str], dict[str, str]]:
    return ["--extension-dir", WHEELS], {"HEALTHSIM_QUACK_TOKEN": TOKEN}


@contextlib.asynccontextmanager
async def remote_server(address: str):
    args, env = remote_args(address)
    async with server(address, *args, env=env) as s:  # type: ignore[arg-type]
        yield s


def call(address: str, tool: str, args: str = "{}", token: str = TOKEN, log: str = "healthsim_mcp=debug"):
    """One tool call through `healthsim-mcp call`; (exit code, stdout, stderr)."""
    run = subprocess.run(
        [BIN, "call", "--db", address, "--extension-dir", WHEELS, tool, args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HEALTHSIM_QUACK_TOKEN": token, "RUST_LOG": log},
    )
    return run.returncode, run.stdout, run.stderr


@needs_wheels
async def test_three_servers_save_at_once_and_each_sees_every_save(tmp_path):
    with quack_server(tmp_path / "shared.duckdb") as address:
        async with remote_server(address) as a, remote_server(address) as b, remote_server(address) as c:
            winner = await save_at_once({"a": a, "b": b, "c": c}, 25)
            counted = await a.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
            assert counted["rows"] == [{"n": 12 * 25 + 10}]
            # Servers write there at the same moment: our layout keeps its keys (a raced
            # name fails the later commit), unlike in a file, where one server writes.
            keys = await a.ok(
                "healthsim_query",
                {"sql": "SELECT count(*) AS n FROM duckdb_constraints() WHERE table_name = 'scenarios' AND constraint_type = 'UNIQUE'"},
            )
            assert keys["rows"] == [{"n": 1}]
            loaded = await c.ok("healthsim_load_scenario", {"name_or_id": "raced", "include_entities": True})
            assert {p["id"][:2] for p in loaded["entities"]["patients"]} == {f"r{winner}"}


@needs_wheels
@pytest.mark.parametrize("kind", ["quack", "ducklake"])
async def test_servers_started_together_on_an_empty_database_all_save(tmp_path, kind):
    """Four servers started together on a new, empty database race to prepare the layout
    (each startup does, in the background) while each saves four scenarios and races the
    others for one name: every save lands, the raced name once, each server lists all.
    Twice, each time on a fresh database."""
    for round_ in range(2):
        here = tmp_path / f"round{round_}"
        here.mkdir()
        with contextlib.ExitStack() as stack:
            if kind == "quack":
                address = stack.enter_context(quack_server(here / "shared.duckdb"))
                args, env = remote_args(address)
            else:
                address, args = lake_args(here)
                # SQLite's lock makes racing writers wait a second at a time (its busy
                # wait): four servers' saves can queue past the default 10 s.
                args, env = [*args, "--write-timeout-ms", "60000"], {}
            async with contextlib.AsyncExitStack() as servers:
                started = {
                    label: await servers.enter_async_context(server(address, *args, env=env))  # type: ignore[arg-type]
                    for label in "abcd"
                }
                await save_at_once(started, 5)


@needs_wheels
async def test_a_notebook_attaches_the_quack_database_our_servers_made(tmp_path):
    """Our layout on a Quack server has no function defaults (the server supplies ids and
    timestamps), which DuckDB 1.5.5 needs to ATTACH it: a notebook attaches the database
    read-only and reads what a server saved, and sees the next save too."""
    import duckdb

    site = Path(WHEELS)

    def wheel(name: str) -> str:
        return str(sorted(site.glob(f"duckdb_extension_{name}/extensions/*/{name}.duckdb_extension"))[-1])

    with quack_server(tmp_path / "shared.duckdb") as address:
        async with remote_server(address) as s:
            await s.ok("healthsim_save_scenario", {"name": "one", "entities": entities(3)})
            con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
            for name in ("httpfs", "quack"):
                con.execute(f"LOAD '{wheel(name)}'")
            con.execute(f"CREATE SECRET (TYPE quack, TOKEN '{TOKEN}')")
            con.execute(f"ATTACH '{address}' AS hs (READ_ONLY)")
            assert con.execute("SELECT count(*) FROM hs.patients").fetchone()[0] == 3
            await s.ok("healthsim_save_scenario", {"name": "two", "entities": entities(2, prefix="t")})
            names = sorted(r[0] for r in con.execute("SELECT name FROM hs.scenarios").fetchall())
            assert names == ["one", "two"]
            con.close()


@needs_wheels
async def test_a_quack_server_restarted_under_a_running_server(tmp_path):
    """The Quack server is killed and started again under a running server: the next
    read and write work (each call opens its own session there), and nothing saved is lost."""
    port = free_port()
    with contextlib.ExitStack() as first:
        address = first.enter_context(quack_server(tmp_path / "shared.duckdb", port))
        async with remote_server(address) as s:
            await s.ok("healthsim_save_scenario", {"name": "one", "entities": entities(3)})
            assert [x["name"] for x in await s.ok("healthsim_list_scenarios")] == ["one"]
            first.close()  # the Quack server is killed under `s`, then started again
            with quack_server(tmp_path / "shared.duckdb", port) as again:
                async with remote_server(again) as other:
                    await other.ok("healthsim_save_scenario", {"name": "two", "entities": entities(2, prefix="t")})
                assert sorted(x["name"] for x in await s.ok("healthsim_list_scenarios")) == ["one", "two"]
                loaded = await s.ok("healthsim_load_scenario", {"name_or_id": "two"})
                assert [p["id"] for p in loaded["entities"]["patients"]] == ["t0", "t1"]
                await s.ok("healthsim_save_scenario", {"name": "three", "entities": entities(1, prefix="x")})
                assert sorted(x["name"] for x in await s.ok("healthsim_list_scenarios")) == ["one", "three", "two"]


@needs_wheels
def test_a_file_our_server_made_is_served_through_quack(tmp_path):
    """A file our server made on its own (our local layout: no keys, function defaults
    for ids) served by a Quack server: read and written there in its own terms."""
    file = tmp_path / "ours.duckdb"
    made = subprocess.run(
        [BIN, "call", "--db", str(file), "healthsim_save_scenario", json.dumps({"name": "local", "entities": entities(2)})],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    with quack_server(file) as address:
        code, out, err = call(address, "healthsim_save_scenario", json.dumps({"name": "served", "entities": entities(3, prefix="s")}))
        assert code == 0, out + err
        code, out, err = call(address, "healthsim_list_scenarios")
        assert code == 0 and sorted((x["name"], x["entity_count"]) for x in json.loads(out)) == [("local", 2), ("served", 3)]
        code, out, err = call(address, "healthsim_query", '{"sql": "SELECT count(DISTINCT id) AS n FROM scenario_entities"}')
        assert code == 0 and json.loads(out)["rows"] == [{"n": 5}], out


@needs_wheels
async def test_no_server_serves_a_stale_listing(tmp_path):
    """Other servers write at any time: a listing, a load and a summary always ask."""
    with quack_server(tmp_path / "shared.duckdb") as address:
        async with remote_server(address) as a, remote_server(address) as b:
            assert await a.ok("healthsim_list_scenarios") == []
            await b.ok("healthsim_save_scenario", {"name": "from-b", "entities": entities(3)})
            assert [x["name"] for x in await a.ok("healthsim_list_scenarios")] == ["from-b"]
            await b.ok(
                "healthsim_save_scenario", {"name": "from-b", "entities": entities(5), "overwrite": True}
            )
            assert (await a.ok("healthsim_list_scenarios"))[0]["entity_count"] == 5
            await b.ok("healthsim_add_entities", {"scenario_name": "from-b", "entities": entities(2, prefix="x")})
            summary = await a.ok("healthsim_get_summary", {"scenario_id_or_name": "from-b"})
            assert summary["entity_counts"] == {"patients": 7}
            removed = await b.ok("healthsim_delete_scenario", {"name_or_id": "from-b", "confirm": True})
            assert removed["removed"]["entities"] == 7 and removed["removed"]["canonical_rows"] == 7, removed
            assert await a.ok("healthsim_list_scenarios") == []
            assert "not found" in await a.error("healthsim_load_scenario", {"name_or_id": "from-b"})


@needs_wheels
async def test_kill_9_mid_save_leaves_nothing_partial(tmp_path):
    with quack_server(tmp_path / "shared.duckdb") as address:
        async with remote_server(address) as keeper:
            await kill_mid_saves(keeper, lambda: remote_server(address), (0.5, 1.0, 1.0))


# User SQL against a remote database: the inputs of the hostile corpus (tests/it/hostile.rs)
# by kind. "rows": must run; "refused": refused before running; "fails": refused or failed;
# "file": reaches a file (fails on a DuckLake; on a Quack server the owner's setting decides);
# "any": either way, as long as nothing changes.
HOSTILE = [
    ("-- leading comment\nSELECT 1", "rows"),
    ("/* DELETE FROM scenarios; */ SELECT 1", "rows"),
    ("SELECT 1 -- ; DELETE FROM scenarios", "rows"),
    ("SELECT 1; -- trailing comment", "rows"),
    ("sElEcT 1", "rows"),
    ("DeLeTe FROM scenarios", "refused"),
    ("iNsErT INTO scenario_tags VALUES (99, 'x', 'y')", "refused"),
    ("UpDaTe scenarios SET name = 'x'", "refused"),
    ("SELECT 'DROP TABLE scenarios' AS s", "rows"),
    ("SELECT $$; DELETE FROM scenarios; $$ AS s", "rows"),
    ("SELECT * FROM scenarios WHERE name = 'x''; DELETE FROM scenarios; --'", "rows"),
    ("SELECT 1; SELECT 2", "refused"),
    ("SELECT 1;\nDROP TABLE scenarios", "refused"),
    ("SELECT 1; DELETE FROM scenarios; SELECT 2", "refused"),
    ("SELECT 1 -- ;\nROLLBACK; DELETE FROM scenarios", "fails"),
    ("SELECT 1 /* */; COMMIT; DELETE FROM scenarios", "refused"),
    (";", "fails"),
    ("SELECT 'ü€😀' AS ü", "rows"),
    ("SELECT 1；DELETE FROM scenarios", "rows"),
    ("WITH d AS (DELETE FROM scenarios RETURNING *) SELECT * FROM d", "fails"),
    ("WITH x AS (SELECT 1) INSERT INTO scenario_tags SELECT 99, 'x', 'y' FROM x", "refused"),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r", "rows"),
    ("SELECT * FROM read_csv('/etc/passwd')", "file"),
    ("SELECT * FROM read_text('/etc/hostname')", "file"),
    ("SELECT * FROM '/etc/passwd'", "file"),
    ("SELECT * FROM glob('/etc/*')", "file"),
    ("SELECT * FROM query('DELETE FROM scenarios')", "fails"),
    ("SELECT nextval('scenario_entities_seq')", "fails"),
    ("SET threads = 1", "refused"),
    ("RESET threads", "refused"),
    ("PRAGMA enable_profiling", "refused"),
    ("CALL pragma_version()", "refused"),
    ("CALL quack_serve('quack:127.0.0.1:1', token => 'abcdef')", "refused"),
    ("ATTACH ':memory:' AS scratch", "refused"),
    ("DETACH healthsim_remote", "refused"),
    ("INSTALL httpfs", "refused"),
    ("LOAD httpfs", "refused"),
    ("COPY scenarios TO 'stolen.csv'", "refused"),
    ("COPY (SELECT 1) TO 'stolen.csv'", "refused"),
    ("EXPORT DATABASE 'stolen'", "refused"),
    ("CHECKPOINT", "refused"),
    ("VACUUM", "refused"),
    ("BEGIN TRANSACTION", "refused"),
    ("COMMIT", "refused"),
    ("CREATE TEMP TABLE t AS SELECT 1", "refused"),
    ("CREATE TABLE x AS SELECT 1", "refused"),
    ("CREATE MACRO m(x) AS x + 1", "refused"),
    ("DROP TABLE scenarios", "refused"),
    ("ALTER TABLE scenarios ADD COLUMN x INTEGER", "refused"),
    ("TRUNCATE scenarios", "refused"),
    ("PREPARE p AS SELECT 1", "refused"),
    ("USE memory", "refused"),
    ("EXPLAIN DELETE FROM scenarios", "refused"),
    ("FROM scenarios", "rows"),
    ("VALUES (1), (2), (3)", "rows"),
    ("SELECT 1 UNION SELECT 2 EXCEPT SELECT 2", "rows"),
    ("SELECT * FROM range(1000000) LIMIT 10", "rows"),
    ("SELECT 1 AS big" + " " * 90_000, "rows"),
]


@contextlib.asynccontextmanager
async def one_server(kind: str, tmp_path: Path):
    if kind == "quack":
        with quack_server(tmp_path / "shared.duckdb") as address:
            async with remote_server(address) as s:
                yield s
    else:
        lake, args = lake_args(tmp_path)
        async with server(lake, *args) as s:  # type: ignore[arg-type]
            yield s


@needs_wheels
@pytest.mark.parametrize("kind", ["quack", "ducklake"])
async def test_user_sql_cannot_write_on_the_server(tmp_path, kind):
    """Parsed here as one SELECT, run there in a READ ONLY transaction: every write,
    hidden or not, is refused or fails, and the database is unchanged."""
    async with one_server(kind, tmp_path) as s:
        await s.ok("healthsim_save_scenario", {"name": "kept", "entities": entities(3), "tags": ["t"]})
        state = (
            "SELECT (SELECT count(*) FROM scenarios) AS s, (SELECT count(*) FROM patients) AS p, "
            "(SELECT count(*) FROM scenario_tags) AS g, (SELECT count(*) FROM duckdb_tables()) AS t"
        )
        before = await s.ok("healthsim_query", {"sql": state})
        for sql, expected in HOSTILE:
            is_error, value = await s.call("healthsim_query", {"sql": sql})
            if expected == "rows" or (expected == "file" and kind == "quack"):
                assert expected == "file" or not is_error, (sql, value)
            elif expected == "refused":
                assert is_error and "not allowed" in value["error"], (sql, value)
            elif expected in ("fails", "file"):
                assert is_error, (sql, value)
        assert await s.ok("healthsim_query", {"sql": state}) == before
        assert not (tmp_path / "stolen.csv").exists() and not (tmp_path / "stolen").exists()
        ok = await s.ok("healthsim_query", {"sql": "SELECT name FROM scenarios -- trailing"})
        assert ok["rows"] == [{"name": "kept"}]
        # The server keeps serving.
        await s.ok("healthsim_save_scenario", {"name": "after", "entities": entities(1)})


@needs_wheels
def test_server_errors_are_one_line_and_never_show_the_token(tmp_path):
    dead = f"quack:127.0.0.1:{free_port()}"
    code, out, err = call(dead, "healthsim_list_scenarios")
    assert code == 1
    assert f"cannot reach the Quack server {dead}" in out, out
    with quack_server(tmp_path / "shared.duckdb") as address:
        code, out, err = call(address, "healthsim_list_scenarios", token="not-the-token")
        assert code == 1 and "refused the token: set HEALTHSIM_QUACK_TOKEN" in out, out
        code, out, err = call(
            address, "healthsim_save_scenario", '{"name": "s", "entities": {"patients": [{"id": "p", "given_name": "A"}]}}'
        )
        assert code == 0, out + err
        code, out, err = call(address, "healthsim_query", '{"sql": "SELECT * FROM nosuch"}')
        assert code == 1 and "nosuch does not exist" in out and "LINE 1" not in out, out
        for text in (out, err):
            assert TOKEN not in text
    code = subprocess.run(
        [BIN, "call", "--db", dead, "healthsim_tables"], capture_output=True, text=True, env={**os.environ, "HEALTHSIM_QUACK_TOKEN": ""}
    )
    assert code.returncode == 2 and "needs the Quack server's token in HEALTHSIM_QUACK_TOKEN" in code.stderr


# DuckLake: a SQLite catalog and a local data folder, attached by each server.


def lake_args(tmp_path: Path) -> tuple[str, list[str]]:
    return f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}", ["--extension-dir", WHEELS]


@needs_wheels
async def test_two_servers_share_a_ducklake(tmp_path):
    lake, args = lake_args(tmp_path)
    async with server(lake, *args) as a, server(lake, *args) as b:  # type: ignore[arg-type]
        servers = {"a": a, "b": b}
        await save_at_once(servers, 20)
        # Never stale: a save by one is in the other's next listing; a delete too.
        await b.ok("healthsim_save_scenario", {"name": "late", "entities": entities(2, prefix="late")})
        assert "late" in {x["name"] for x in await a.ok("healthsim_list_scenarios", {"limit": 100})}
        await a.ok("healthsim_delete_scenario", {"name_or_id": "late", "confirm": True})
        assert "late" not in {x["name"] for x in await b.ok("healthsim_list_scenarios", {"limit": 100})}
        # Ids are unique although DuckLake has no keys: writers were serialised.
        dupes = await a.ok(
            "healthsim_query",
            {"sql": "SELECT (SELECT count(*) - count(DISTINCT id) FROM scenario_entities) + "
             "(SELECT count(*) - count(DISTINCT name) FROM scenarios) AS n"},
        )
        assert dupes["rows"] == [{"n": 0}]
        # User SQL: no writes, and no files but the lake's.
        for sql in ("DELETE FROM scenarios", "SELECT 1; DROP TABLE scenarios", "SELECT * FROM query('DELETE FROM scenarios')"):
            await a.error("healthsim_query", {"sql": sql})
        assert "Permission Error" in await a.error("healthsim_query", {"sql": "SELECT * FROM read_csv('/etc/passwd')"})
        counted = await a.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
        assert counted["rows"] == [{"n": 8 * 20 + 10}]
    # Another program reads the same lake with Python duckdb and the extension wheels.
    import duckdb

    site = Path(WHEELS)
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    scanner = tmp_path / "sqlite_scanner.duckdb_extension"
    scanner.symlink_to(next(site.glob("duckdb_extension_sqlite/extensions/*/sqlite.duckdb_extension")))
    con.execute(f"LOAD '{next(site.glob('duckdb_extension_ducklake/extensions/*/ducklake.duckdb_extension'))}'")
    con.execute(f"LOAD '{scanner}'")
    con.execute(f"ATTACH 'ducklake:sqlite:{tmp_path / 'lake.sqlite'}' AS lake")
    assert con.execute("SELECT count(*) FROM lake.scenarios").fetchone()[0] == 9


@needs_wheels
async def test_a_ducklake_catalog_locked_past_the_write_timeout_is_one_line(tmp_path):
    """Another program holds the SQLite catalog's lock: a save waits for it up to the
    write timeout, then answers one line saying nothing was written and what to do; a
    read too. Once the lock is let go, both work and the save that failed is absent."""
    import sqlite3

    lake, args = lake_args(tmp_path)
    async with server(lake, *args, "--write-timeout-ms", "1500") as s:  # type: ignore[arg-type]
        await s.ok("healthsim_save_scenario", {"name": "before", "entities": entities(2)})
        holder = sqlite3.connect(tmp_path / "lake.sqlite", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            error = await s.error("healthsim_save_scenario", {"name": "blocked", "entities": entities(2, prefix="b")})
            assert "\n" not in error and "stayed locked" in error and "nothing was written" in error, error
            assert "--write-timeout-ms" in error and "ducklake:postgres" in error, error
            error = await s.error("healthsim_list_scenarios")
            assert "\n" not in error and "stayed locked" in error, error
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert [x["name"] for x in await s.ok("healthsim_list_scenarios")] == ["before"]
        await s.ok("healthsim_save_scenario", {"name": "after", "entities": entities(2, prefix="a")})
        assert sorted(x["name"] for x in await s.ok("healthsim_list_scenarios")) == ["after", "before"]


@needs_wheels
def test_motherduck_offline_is_one_clear_line_without_the_token(tmp_path):
    secret = "md-secret-token-4b1f7a0c"
    run = subprocess.run(
        [BIN, "call", "--db", "md:healthsim", "--extension-dir", WHEELS, "--write-timeout-ms", "5000", "healthsim_list_scenarios"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "motherduck_token": secret, "RUST_LOG": "debug", "HOME": str(tmp_path)},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    error = json.loads(run.stdout)["error"]
    assert error.startswith("cannot reach MotherDuck for --db md:healthsim") or error.startswith(
        "cannot reach --db md:healthsim within the write timeout"
    ), error
    assert "\n" not in error
    assert secret not in run.stdout and secret not in run.stderr


@needs_wheels
@pytest.mark.parametrize("layout", ["1.2", "1.7"])
async def test_a_tooling_layout_through_quack(tmp_path, layout):
    """The Python tooling's layouts on a Quack server, in their own terms: 1.2 has foreign
    keys (a delete takes two transactions), 1.7 is the cohort layout."""
    sys.path.insert(0, str(Path(__file__).parent / "layouts"))
    import make

    subprocess.run([sys.executable, str(Path(__file__).parent / "layouts" / "make.py"), str(tmp_path)], check=True, capture_output=True)
    with quack_server(tmp_path / f"{layout}.duckdb") as address:
        async with remote_server(address) as s:
            listed = await s.ok("healthsim_list_scenarios")
            assert [(x["name"], x["entity_count"]) for x in listed] == [("commercial-members", 2), ("diabetes-cohort", 4)]
            loaded = await s.ok("healthsim_load_scenario", {"name_or_id": "diabetes-cohort"})
            assert loaded["entities"]["patients"] == [make.PATIENT, make.PATIENT2]
            saved = await s.ok("healthsim_save_scenario", {"name": "mine", "entities": entities(3, prefix="m")})
            assert saved["canonical_rows"] == {"patients": 3}
            deleted = await s.ok("healthsim_delete_scenario", {"name_or_id": "diabetes-cohort", "confirm": True})
            assert deleted["removed"] == {"entities": 4, "canonical_rows": 4, "tags": 2}
            assert sorted(x["name"] for x in await s.ok("healthsim_list_scenarios")) == ["commercial-members", "mine"]
