"""The MCP Inspector CLI (`@modelcontextprotocol/inspector --cli`, installed by
scripts/test with a Node 22 from npm) lists the tools and calls each one against the demo
database, exactly as the README documents it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN

INSPECTOR = os.environ.get("HEALTHSIM_INSPECTOR", "")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("inspector") / "demo.duckdb"
    subprocess.run([BIN, "--db", str(db), "demo", "--small"], check=True, capture_output=True, timeout=300)
    return db


def inspector(db: Path, *args: str) -> subprocess.CompletedProcess:
    if not INSPECTOR or not Path(INSPECTOR).is_file():
        pytest.fail("set HEALTHSIM_INSPECTOR to the mcp-inspector launcher (scripts/test installs it)")
    bin_dir = str(Path(INSPECTOR).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "MCP_CATALOG_PATH": str(db.parent / "catalog.json")}
    return subprocess.run(
        [INSPECTOR, "--cli", BIN, "--db", str(db), "--format", "json", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_inspector_lists_tools_strictly(demo_db):
    """tools/list: ten tools, and no schema portability error (--strict exits 6 on one)."""
    done = inspector(demo_db, "--method", "tools/list", "--strict")
    assert done.returncode == 0, done.stderr
    tools = json.loads(done.stdout)["result"]["tools"]
    assert sorted(t["name"] for t in tools) == [
        "healthsim_add_entities",
        "healthsim_delete_scenario",
        "healthsim_execute_profile",
        "healthsim_get_summary",
        "healthsim_list_scenarios",
        "healthsim_load_scenario",
        "healthsim_query",
        "healthsim_query_reference",
        "healthsim_save_scenario",
        "healthsim_search_providers",
        "healthsim_tables",
    ]
    assert all(t["annotations"]["title"] for t in tools)


def test_inspector_lists_and_reads_resources(demo_db):
    """resources/list, resources/templates/list and resources/read through the Inspector CLI:
    the summary app and the demo scenarios, a scenario read whole."""
    listed = inspector(demo_db, "--method", "resources/list")
    assert listed.returncode == 0, listed.stderr
    resources = json.loads(listed.stdout)["result"]["resources"]
    uris = [r["uri"] for r in resources]
    assert uris[0] == "ui://healthsim/summary.html"
    assert "healthsim://scenarios/demo-trialsim-oncology" in uris
    templates = inspector(demo_db, "--method", "resources/templates/list")
    assert templates.returncode == 0, templates.stderr
    assert [t["uriTemplate"] for t in json.loads(templates.stdout)["result"]["resourceTemplates"]] == ["healthsim://scenarios/{name}"]
    read = inspector(demo_db, "--method", "resources/read", "--uri", "healthsim://scenarios/demo-trialsim-oncology")
    assert read.returncode == 0, read.stderr
    contents = json.loads(read.stdout)["result"]["contents"]
    document = json.loads(contents[0]["text"])
    assert contents[0]["mimeType"] == "application/json"
    assert document["name"] == "demo-trialsim-oncology" and document["entity_count"] == sum(len(v) for v in document["entities"].values())


CALLS = [
    ("healthsim_list_scenarios", {"tag": "demo"}, lambda v: len(v) == 4),
    ("healthsim_load_scenario", {"name_or_id": "demo-trialsim-oncology"}, lambda v: v["entity_count"] > 0),
    ("healthsim_get_summary", {"scenario_id_or_name": "membersim-claims"}, lambda v: "financials" in v["statistics"]),
    ("healthsim_query", {"sql": "SELECT count(*) AS n FROM members"}, lambda v: v["rows"][0]["n"] > 0),
    ("healthsim_query_reference", {"table": "adi_blockgroup", "state": "RI", "limit": 3}, lambda v: v["row_count"] == 3),
    ("healthsim_tables", {}, lambda v: "population.svi_tract" in v["reference_tables"]),
    ("healthsim_search_providers", {"state": "RI", "entity_type": "organization", "limit": 2}, lambda v: v["result_count"] == 2),
    ("healthsim_save_scenario", {"name": "from-inspector", "entities": {"notes": [{"text": "hi"}]}}, lambda v: v["status"] == "saved"),
    ("healthsim_delete_scenario", {"name_or_id": "from-inspector", "confirm": True}, lambda v: v["status"] == "deleted"),
]


@pytest.mark.parametrize("tool,args,check", CALLS, ids=[c[0] for c in CALLS])
def test_inspector_calls_each_tool(demo_db, tool, args, check):
    done = inspector(demo_db, "--method", "tools/call", "--tool-name", tool, "--tool-args-json", json.dumps(args))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]
    assert not result.get("isError"), result
    text = "".join(c["text"] for c in result["content"] if c["type"] == "text")
    value = json.loads(text)
    assert check(value), value
    if isinstance(value, dict):
        assert result["structuredContent"] == value


def test_inspector_sees_tool_errors(demo_db):
    done = inspector(demo_db, "--method", "tools/call", "--tool-name", "healthsim_query", "--tool-args-json", json.dumps({"sql": "DROP TABLE patients"}))
    # The CLI prints the tool result, then exits 5 ("tool_is_error").
    assert done.returncode == 5, (done.returncode, done.stderr)
    result = json.loads(done.stdout.splitlines()[0])["result"]
    assert result.get("isError") is True, done.stdout
    assert "DROP statements are not allowed" in result["content"][0]["text"]
