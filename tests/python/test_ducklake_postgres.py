"""`--db ducklake:postgres:CONNINFO`: servers sharing a DuckLake whose catalog is a real
PostgreSQL (Debian's package, a cluster started here as in `remote/postgres.py`) and whose
data files are in `HEALTHSIM_DUCKLAKE_DATA_PATH`: the scenarios of DuckLake on SQLite
(test_remote.py) and what a PostgreSQL adds, its restart while servers are connected."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, entities, server
from remote.postgres import bin_dir, cluster
from remote.teamwork import kill_mid_saves, save_at_once
from test_remote import WHEELS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not WHEELS, reason="HEALTHSIM_TEST_EXTENSION_DIR is not set (scripts/test sets it)"),
    pytest.mark.skipif(bin_dir() is None, reason="PostgreSQL is not installed here (scripts/test installs it as root on Debian)"),
]


@pytest.fixture(scope="module")
def postgres():
    with cluster() as running:
        yield running


class Lake:
    """One DuckLake: a fresh database of the cluster and a data folder."""

    def __init__(self, postgres, tmp_path: Path):
        self.postgres = postgres
        self.dbname = postgres.new_database()
        self.files = tmp_path / "files"
        self.db = f"ducklake:postgres:{postgres.conninfo(self.dbname)}"

    def server(self, *extra: str):
        env = {"HEALTHSIM_DUCKLAKE_DATA_PATH": str(self.files)}
        return server(self.db, "--extension-dir", WHEELS, *extra, env=env)  # type: ignore[arg-type]


@pytest.fixture
def lake(postgres, tmp_path):
    return Lake(postgres, tmp_path)


def read_with_python_duckdb(lake: Lake, sql: str):
    """Another program (Python duckdb with the extension wheels) reads the same lake."""
    import duckdb

    site = Path(WHEELS)
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    links = lake.files.parent / "extensions"
    links.mkdir(exist_ok=True)
    for wheel, name in (("ducklake", "ducklake"), ("postgres", "postgres_scanner")):
        link = links / f"{name}.duckdb_extension"
        if not link.exists():
            link.symlink_to(next(site.glob(f"duckdb_extension_{wheel}/extensions/*/{wheel}.duckdb_extension")))
        con.execute(f"LOAD '{link}'")
    con.execute(f"ATTACH 'ducklake:postgres:{lake.postgres.conninfo(lake.dbname)}' AS lake (DATA_PATH '{lake.files}/', READ_ONLY)")
    try:
        return con.execute(sql.replace("{lake}", "lake")).fetchall()
    finally:
        con.close()


async def test_three_servers_share_a_lake_on_postgres(lake):
    async with lake.server() as a, lake.server() as b, lake.server() as c:
        await save_at_once({"a": a, "b": b, "c": c}, 20)
        # Never stale: a save by one is in the others' next listing; a delete too.
        await b.ok("healthsim_save_scenario", {"name": "late", "entities": entities(2, prefix="late")})
        for s in (a, c):
            assert "late" in {x["name"] for x in await s.ok("healthsim_list_scenarios", {"limit": 100})}
        await a.ok("healthsim_delete_scenario", {"name_or_id": "late", "confirm": True})
        assert "late" not in {x["name"] for x in await c.ok("healthsim_list_scenarios", {"limit": 100})}
        # Ids unique although DuckLake has no keys: the writers were serialised.
        dupes = await b.ok(
            "healthsim_query",
            {
                "sql": "SELECT (SELECT count(*) - count(DISTINCT id) FROM scenario_entities) + "
                "(SELECT count(*) - count(DISTINCT name) FROM scenarios) + "
                "(SELECT count(*) - count(DISTINCT scenario_id) FROM scenarios) AS n"
            },
        )
        assert dupes["rows"] == [{"n": 0}]
        counted = await c.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
        assert counted["rows"] == [{"n": 12 * 20 + 10}]
        # User SQL writes nothing, and reaches no file but the lake's.
        for sql in ("DELETE FROM scenarios", "SELECT * FROM query('DELETE FROM scenarios')"):
            await a.error("healthsim_query", {"sql": sql})
        assert "Permission Error" in await a.error("healthsim_query", {"sql": "SELECT * FROM read_csv('/etc/passwd')"})
    # The catalog is PostgreSQL's: DuckLake's tables are there, the rows in the data folder.
    assert int(lake.postgres.sql("SELECT count(*) FROM ducklake_table", lake.dbname)) >= 20
    assert any(lake.files.rglob("*.parquet"))
    assert read_with_python_duckdb(lake, "SELECT count(*) FROM {lake}.scenarios") == [(13,)]
    assert read_with_python_duckdb(lake, "SELECT count(*) FROM {lake}.patients") == [(12 * 20 + 10,)]


async def test_servers_started_together_on_an_empty_lake_all_save(postgres, tmp_path):
    """Four servers started together on a new, empty catalog database race to prepare the
    layout while each saves and races the others for one name. Twice."""
    for round_ in range(2):
        here = tmp_path / f"round{round_}"
        here.mkdir()
        fresh = Lake(postgres, here)
        async with contextlib.AsyncExitStack() as servers:
            started = {label: await servers.enter_async_context(fresh.server()) for label in "abcd"}
            await save_at_once(started, 5)


async def test_kill_9_mid_save_leaves_nothing_partial(lake):
    async with lake.server() as keeper:
        await kill_mid_saves(keeper, lake.server, (0.5, 1.0))


async def test_postgres_restarted_while_servers_are_connected(lake):
    """The catalog's server restarts under connected servers. Restarted between calls: the
    next write succeeds or answers one line, the one after succeeds. Down during calls:
    each answers one line naming the database, and a server started meanwhile serves once
    PostgreSQL is back. Nothing saved before is lost."""
    async with lake.server() as a, lake.server() as b:
        await a.ok("healthsim_save_scenario", {"name": "before", "entities": entities(4)})
        assert [x["name"] for x in await b.ok("healthsim_list_scenarios")] == ["before"]
        saved = {"before"}
        lake.postgres.pg_ctl("restart", "-m", "fast")
        for label, s in (("a", a), ("b", b)):
            is_error, value = await s.call("healthsim_save_scenario", {"name": f"next-{label}", "entities": entities(2, prefix=label)})
            if is_error:
                assert "\n" not in value["error"] and lake.dbname in value["error"], value
            else:
                saved.add(f"next-{label}")
            await s.ok("healthsim_save_scenario", {"name": f"then-{label}", "entities": entities(2, prefix=label)})
            saved.add(f"then-{label}")
        lake.postgres.pg_ctl("stop", "-m", "fast")
        try:
            is_error, value = await a.call("healthsim_save_scenario", {"name": "during", "entities": entities(2, prefix="d")})
            assert is_error, value
            error = value["error"]
            assert "\n" not in error and lake.dbname in error and "start PostgreSQL" in error, error
            is_error, value = await b.call("healthsim_list_scenarios")
            assert is_error and "\n" not in value["error"], value
            async with lake.server() as late:
                is_error, value = await late.call("healthsim_list_scenarios")
                assert is_error and "\n" not in value["error"] and lake.dbname in value["error"], value
                lake.postgres.pg_ctl("start")
                listed = {x["name"] for x in await late.ok("healthsim_list_scenarios")}
                assert listed == saved
                await late.ok("healthsim_save_scenario", {"name": "late", "entities": entities(3, prefix="l")})
                saved.add("late")
        finally:
            if not lake.postgres.running():
                lake.postgres.pg_ctl("start")
        for label, s in (("a", a), ("b", b)):
            await s.ok("healthsim_save_scenario", {"name": f"after-{label}", "entities": entities(3, prefix=label)})
            saved.add(f"after-{label}")
        for s in (a, b):
            assert {x["name"] for x in await s.ok("healthsim_list_scenarios", {"limit": 100})} == saved


def test_catalog_errors_are_one_line_and_never_show_the_password(postgres, tmp_path):
    secret = "pg-secret-password-7d2e"

    def call(db: str, env: dict[str, str]):
        return subprocess.run(
            [BIN, "call", "--db", db, "--extension-dir", WHEELS, "healthsim_list_scenarios"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "RUST_LOG": "healthsim_mcp=debug", **env},
        )

    files = {"HEALTHSIM_DUCKLAKE_DATA_PATH": str(tmp_path / "files")}
    # No such database on the server: one line naming it and the next step.
    missing = call(f"ducklake:postgres:host=127.0.0.1 port={postgres.port} user=postgres password={secret} dbname=nosuch", files)
    assert missing.returncode == 1
    error = json.loads(missing.stdout)["error"]
    assert "\n" not in error and 'database "nosuch" does not exist' in error and "check the connection string" in error, error
    # A new lake needs a place for its data files.
    fresh = postgres.new_database()
    env = {k: v for k, v in os.environ.items() if k != "HEALTHSIM_DUCKLAKE_DATA_PATH"}
    unplaced = subprocess.run(
        [BIN, "call", "--db", f"ducklake:postgres:{postgres.conninfo(fresh)} password={secret}", "--extension-dir", WHEELS, "healthsim_tables"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert unplaced.returncode == 1
    error = json.loads(unplaced.stdout)["error"]
    assert "\n" not in error and "set HEALTHSIM_DUCKLAKE_DATA_PATH" in error, error
    for run in (missing, unplaced):
        assert secret not in run.stdout + run.stderr
