"""The install for people without Rust: the Python wheel that carries the release binary
(`scripts/wheel`). Built from the checkout, installed into a fresh venv with no index
(it has no dependencies), its `healthsim-mcp` on the venv's PATH answers `--version` and a
tool call, with DuckDB's ICU extension (the wheel's data) loaded; its platform tag is the one auditwheel finds the binary satisfies; and Claude
Code, told exactly what README tells users (`claude mcp add healthsim -- uvx --from WHEEL
healthsim-mcp --db ...`), connects to it. uv comes from PyPI (`HEALTHSIM_TEST_UV`, which
scripts/test installs)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN
from test_installs import assert_claude_connects, needs_node, node_env

ROOT = Path(__file__).resolve().parents[2]
UV = os.environ.get("HEALTHSIM_TEST_UV", "")
MATURIN_VENV = Path.home() / ".cache" / "healthsim-mcp" / "venv-maturin"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`scripts/wheel OUT` builds the wheel (sharing the release build) and prints its path."""
    out = tmp_path_factory.mktemp("dist")
    run = subprocess.run([str(ROOT / "scripts" / "wheel"), str(out)], capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-4000:]
    path = Path(run.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.parent == out, run.stdout
    return path


def version() -> str:
    return subprocess.run([BIN, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]


def test_wheel_installs_without_a_compiler_and_serves(wheel, tmp_path):
    """pip installs the wheel offline into a fresh venv; the command it puts on the venv's
    PATH is the server: `--version`, `--help` naming both transports, and a tool call."""
    assert re.fullmatch(rf"healthsim_mcp-{re.escape(version())}-py3-none-(manylinux_2_\d+|linux)_(x86_64|aarch64)\.whl", wheel.name), wheel.name
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-index", "--disable-pip-version-check", "--quiet", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    command = venv / "bin" / "healthsim-mcp"
    assert command.is_file()
    shown = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=60)
    assert shown.stdout.strip() == f"healthsim-mcp {version()}", shown
    helped = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60)
    first = helped.stdout.splitlines()[0]
    assert first.startswith("MCP server (stdio or Streamable HTTP)"), helped.stdout
    called = subprocess.run(
        [str(command), "--db", str(tmp_path / "w.duckdb"), "call", "healthsim_tables"],
        capture_output=True, text=True, timeout=120,
    )
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["total"] >= 24
    # The wheel carries DuckDB's ICU extension: SQL with time zones answers as in the CLI.
    engine = subprocess.run([str(command), "engine"], capture_output=True, text=True, timeout=60)
    icu = next(line for line in engine.stdout.splitlines() if line.strip().startswith("icu"))
    assert f"loaded from {venv}/share/healthsim-mcp/extensions/icu.duckdb_extension" in icu, engine.stdout
    zoned = subprocess.run(
        [str(command), "--db", str(tmp_path / "w.duckdb"), "call", "healthsim_query",
         json.dumps({"sql": "SELECT TIMESTAMPTZ '2026-01-01 12:00:00+00' AT TIME ZONE 'America/New_York' AS ny, current_date AS d"})],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert zoned.returncode == 0, zoned.stdout + zoned.stderr
    assert json.loads(zoned.stdout)["rows"][0]["ny"] == "2026-01-01 07:00:00"


def test_wheel_tag_is_what_auditwheel_finds(wheel):
    """The manylinux tag in the wheel's name is the policy its binary satisfies (glibc and
    libstdc++ symbol versions), as auditwheel reads it."""
    auditwheel = MATURIN_VENV / "bin" / "auditwheel"
    shown = subprocess.run([str(auditwheel), "show", str(wheel)], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    tag = wheel.name.removesuffix(".whl").split("-")[-1]
    text = " ".join(shown.stdout.split())
    assert f'consistent with the following platform tag: "{tag}"' in text, shown.stdout


@needs_node
@pytest.mark.skipif(not UV, reason="HEALTHSIM_TEST_UV is not set (scripts/test installs uv from PyPI)")
def test_claude_code_connects_through_uvx(wheel, tmp_path):
    """README's Claude Code line for users, with the wheel: `claude mcp add healthsim --
    uvx --from WHEEL healthsim-mcp --db PATH`; `claude mcp list` shows it Connected."""
    env = {**node_env(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"), "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    env["PATH"] = f"{Path(UV).parent}:{env['PATH']}"
    command = ["uvx", "--from", str(wheel), "healthsim-mcp", "--db", str(tmp_path / "uvx.duckdb")]
    # uvx installs the wheel into its cache the first time; Claude Code's health check then
    # starts it as it would for the user.
    warm = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=300, env=env)
    assert warm.returncode == 0, warm.stderr
    assert_claude_connects(command, env, tmp_path)
