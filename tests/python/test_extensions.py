"""`--extension-dir`: the server loads the extensions of the remote engines from that
folder by name and from nowhere else, and user SQL still loads nothing. The folder here is
the site-packages of the venv with the `duckdb-extension-*==1.5.5` wheels
(`HEALTHSIM_TEST_EXTENSION_DIR`, set by scripts/test)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, entities, server

pytestmark = pytest.mark.anyio

WHEELS = os.environ.get("HEALTHSIM_TEST_EXTENSION_DIR", "")
needs_wheels = pytest.mark.skipif(not WHEELS, reason="HEALTHSIM_TEST_EXTENSION_DIR is not set (scripts/test sets it)")


def engine(*args: str, home: Path) -> dict[str, str]:
    """`healthsim-mcp engine`: extension name → its status line."""
    run = subprocess.run(
        [BIN, *args, "engine"], capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(home)}
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("healthsim-mcp ") and "on DuckDB v1.5.5" in lines[0], lines[0]
    return {line.split()[0]: line.split(None, 1)[1] for line in lines if line.startswith("  ")}


@needs_wheels
def test_extensions_load_from_the_folder_by_name(tmp_path):
    status = engine("--db", str(tmp_path / "x.duckdb"), "--extension-dir", WHEELS, home=tmp_path)
    for name in ("httpfs", "quack", "ducklake", "sqlite", "postgres"):
        assert status[name].startswith("loaded from "), (name, status[name])
        loaded = Path(status[name].removeprefix("loaded from "))
        # Loaded from the wheels' files (the scanners through a link named for their entry point).
        assert loaded.resolve().is_relative_to(Path(WHEELS).resolve()), loaded
    assert status["sqlite"].endswith("sqlite_scanner.duckdb_extension")
    # MotherDuck's extension is there but needs its service to initialise: named, not hidden.
    assert status["motherduck"].startswith("not available: cannot load extension motherduck"), status["motherduck"]


def test_nothing_is_loaded_from_anywhere_else(tmp_path):
    """An empty folder, or none: every extension is reported missing with the package to
    install, and nothing is downloaded or installed (DuckDB's own folder stays absent)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    status = engine("--db", str(tmp_path / "x.duckdb"), "--extension-dir", str(empty), home=tmp_path)
    assert status["quack"].startswith(f"not available: extension quack is not in --extension-dir {empty}")
    assert "duckdb-extension-quack==1.5.5" in status["quack"]
    assert "sqlite_scanner.duckdb_extension" in status["sqlite"]
    status = engine("--db", str(tmp_path / "x.duckdb"), home=tmp_path)
    # ICU, the SQL dialect's, is looked for beside the binary and in ~/.duckdb too.
    assert status.pop("icu").startswith("not available: extension icu was not found (pip install duckdb-extension-icu==1.5.5")
    assert all("no --extension-dir was given" in line for line in status.values()), status
    assert not (tmp_path / ".duckdb").exists(), "nothing may be installed into DuckDB's extension folder"
    assert list(empty.iterdir()) == []


def test_a_missing_extension_dir_is_refused_at_start(tmp_path):
    run = subprocess.run(
        [BIN, "--db", str(tmp_path / "x.duckdb"), "--extension-dir", str(tmp_path / "nope"), "engine"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == f"healthsim-mcp: --extension-dir {tmp_path / 'nope'} is not a directory; create it or pass another folder"
    assert run.stdout == ""


@needs_wheels
async def test_user_sql_loads_nothing_even_with_an_extension_dir(tmp_path):
    quack = next(Path(WHEELS).glob("duckdb_extension_quack/extensions/*/quack.duckdb_extension"))
    async with server(tmp_path / "x.duckdb", "--extension-dir", WHEELS) as s:
        await s.ok("healthsim_save_scenario", {"name": "x", "entities": entities(1)})
        for sql in (f"LOAD '{quack}'", "LOAD quack", "INSTALL quack", f"INSTALL '{quack}'", "SELECT * FROM quack_query('x')"):
            message = await s.error("healthsim_query", {"sql": sql})
            assert message.startswith(("query refused", "query failed")), (sql, message)
        # (duckdb_extensions() lists a folder, which the read instance may not touch.)
        rows = await s.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM duckdb_functions() WHERE function_name LIKE 'quack%'"})
        assert rows["rows"] == [{"n": 0}], "no quack function exists in the server's instance"
