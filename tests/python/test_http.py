"""The Streamable HTTP transport: one server process shared by many MCP clients (the
official Python SDK over HTTP), bearer-token auth, and malformed requests."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from conftest import BIN, entities

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token-for-tests"


class HttpServer:
    """The binary with --transport http on an ephemeral loopback port."""

    def __init__(self, db, token: str | None = TOKEN, *args: str, listen: str = "127.0.0.1:0"):
        env = {**os.environ, "RUST_LOG": "healthsim_mcp=info"}
        env.pop("HEALTHSIM_MCP_TOKEN", None)
        if token is not None:
            env["HEALTHSIM_MCP_TOKEN"] = token
        self.proc = subprocess.Popen(
            [BIN, "--db", str(db), "--transport", "http", "--listen", listen, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.stderr: list[str] = []
        ready = threading.Event()
        self.address = None

        def pump():
            for line in self.proc.stderr:
                self.stderr.append(line)
                found = re.search(r"listening on http://([0-9.]+:[0-9]+)/mcp", line)
                if found and found.group(1).startswith("0.0.0.0:"):
                    found = re.search(r"(127\.0\.0\.1:[0-9]+)", "127.0.0.1:" + found.group(1).split(":")[1])
                if found and self.address is None:
                    self.address = found.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        assert ready.wait(60), "server did not start"
        assert self.address, "".join(self.stderr)
        self.url = f"http://{self.address}/mcp"

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(timeout=30)
        return code


@pytest.fixture
def http_server(db_path):
    server = HttpServer(db_path)
    yield server
    assert server.stop() == 0
    assert server.proc.stdout.read() == "", "nothing on stdout"


@asynccontextmanager
async def http_session(url: str, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with create_mcp_http_client(headers=headers) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


async def call_ok(session: ClientSession, tool: str, args: dict | None = None):
    import json

    result = await session.call_tool(tool, args or {})
    text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    assert not result.is_error, f"{tool} failed: {text}"
    return json.loads(text)


async def test_eight_clients_share_one_server(http_server):
    """8 concurrent HTTP clients mixing saves and reads: every save lands exactly once and
    every client sees all of them."""
    clients, saves = 8, 6

    async def client(index: int):
        async with http_session(http_server.url) as session:
            tools = await session.list_tools()
            assert len(tools.tools) == 11
            for i in range(saves):
                name = f"c{index}-s{i}"
                saved = await call_ok(session, "healthsim_save_scenario", {"name": name, "entities": entities(3, name)})
                assert saved["status"] == "saved"
                listed = await call_ok(session, "healthsim_list_scenarios", {"search": name})
                assert [x["name"] for x in listed] == [name], "a read right after a save sees it"

    async with anyio.create_task_group() as tg:
        for index in range(clients):
            tg.start_soon(client, index)
    async with http_session(http_server.url) as session:
        listed = await call_ok(session, "healthsim_list_scenarios", {"limit": 200})
        names = sorted(x["name"] for x in listed)
        assert names == sorted(f"c{c}-s{i}" for c in range(clients) for i in range(saves))
        counted = await call_ok(session, "healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
        assert counted["rows"] == [{"n": clients * saves * 3}]


async def test_token_is_required(http_server):
    """Requests without the token, or with a wrong one, get 401; the right one works."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient() as client:
        for auth in [None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"]:
            extra = {"Authorization": auth} if auth else {}
            response = await client.post(http_server.url, json=initialize, headers={**headers, **extra})
            assert response.status_code == 401, (auth, response.status_code)
            assert "bearer token" in response.text
        ok = await client.post(http_server.url, json=initialize, headers={**headers, "Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200, ok.text
    with pytest.raises(Exception):
        async with http_session(http_server.url, token="wrong"):
            pass
    async with http_session(http_server.url) as session:
        assert await call_ok(session, "healthsim_list_scenarios") == []


async def test_malformed_requests_are_answered_and_serving_continues(http_server):
    """Broken JSON, wrong shapes and unknown sessions get HTTP/JSON-RPC errors; the
    server keeps serving."""
    auth = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json, text/event-stream"}
    bodies = [
        b"{not json",
        b"[]",
        b'{"jsonrpc": "2.0"}',
        b'{"jsonrpc": "1.0", "id": 1, "method": "initialize"}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "healthsim_tables"}}',
        b"\xff\xfe\x00garbage",
        b"x" * 100_000,
    ]
    async with httpx2.AsyncClient() as client:
        for body in bodies:
            response = await client.post(http_server.url, content=body, headers={**auth, "Content-Type": "application/json"})
            assert 400 <= response.status_code < 500, (body[:40], response.status_code, response.text[:200])
        wrong_type = await client.post(http_server.url, content=b"{}", headers={**auth, "Content-Type": "text/plain"})
        assert 400 <= wrong_type.status_code < 500
        unknown_session = await client.post(
            http_server.url,
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            headers={**auth, "Mcp-Session-Id": "no-such-session"},
        )
        assert 400 <= unknown_session.status_code < 500
    async with http_session(http_server.url) as session:
        tables = await call_ok(session, "healthsim_tables")
        assert "scenarios" in tables["system_tables"]
    assert http_server.proc.poll() is None, "still running"


def test_non_loopback_needs_a_token(db_path):
    """Listening beyond loopback without a token is refused at start (exit 2)."""
    env = {k: v for k, v in os.environ.items() if k != "HEALTHSIM_MCP_TOKEN"}
    done = subprocess.run(
        [BIN, "--db", str(db_path), "--transport", "http", "--listen", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2, done
    assert "set HEALTHSIM_MCP_TOKEN" in done.stderr
    assert not db_path.exists(), "nothing was created"


def raw_post(port: int, body: dict, headers: dict) -> tuple[int, dict, str]:
    """One POST to /mcp on 127.0.0.1:`port` with exactly these headers (Host included)."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("POST", "/mcp", skip_host=True, skip_accept_encoding=True)
        for name, value in {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **headers,
        }.items():
            conn.putheader(name, value)
        data = json.dumps(body).encode()
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode(errors="replace")
    finally:
        conn.close()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}


def test_clients_on_other_machines_hosts_and_origins(db_path):
    """Listening on every interface with a token: the names and LAN addresses listed in
    --allowed-hosts are served (loopback always), other Host values get 403; a present
    Origin must be loopback or listed in --allowed-origins, else 403."""
    server = HttpServer(
        db_path,
        TOKEN,
        "--allowed-hosts",
        "healthsim.lan,10.0.0.5:8765",
        "--allowed-origins",
        "https://app.example.com",
        listen="0.0.0.0:0",
    )
    try:
        port = int(server.address.rsplit(":", 1)[1])
        auth = {"Authorization": f"Bearer {TOKEN}"}
        cases = [
            ({"Host": f"healthsim.lan:{port}"}, 200),
            ({"Host": "healthsim.lan"}, 200),
            ({"Host": "10.0.0.5:8765"}, 200),
            ({"Host": "10.0.0.5:9999"}, 403),
            ({"Host": f"127.0.0.1:{port}"}, 200),
            ({"Host": f"localhost:{port}"}, 200),
            ({"Host": "evil.example"}, 403),
            ({"Host": f"healthsim.lan:{port}", "Origin": "http://evil.example"}, 403),
            ({"Host": f"healthsim.lan:{port}", "Origin": "https://app.example.com"}, 200),
            ({"Host": f"healthsim.lan:{port}", "Origin": "https://app.example.com:8443"}, 403),
            ({"Host": f"127.0.0.1:{port}", "Origin": "http://localhost:5173"}, 200),
            ({"Host": f"127.0.0.1:{port}", "Origin": "null"}, 403),
        ]
        for headers, expected in cases:
            status, _, body = raw_post(port, INITIALIZE, {**auth, **headers})
            assert status == expected, (headers, status, body)
        # The token is still required from every host.
        status, _, _ = raw_post(port, INITIALIZE, {"Host": f"healthsim.lan:{port}"})
        assert status == 401
    finally:
        assert server.stop() == 0


def test_ending_a_session_answers_200(http_server):
    """DELETE with the session id ends the session with 200 (the Python SDK 1.x client
    logs `Session termination failed: 202` otherwise); the session is gone afterwards."""
    import http.client

    port = int(http_server.address.rsplit(":", 1)[1])
    auth = {"Authorization": f"Bearer {TOKEN}", "Host": http_server.address}
    status, headers, _ = raw_post(port, INITIALIZE, auth)
    assert status == 200
    session = {k.lower(): v for k, v in headers.items()}["mcp-session-id"]

    def delete() -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("DELETE", "/mcp", headers={**auth, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"})
            return conn.getresponse().status
        finally:
            conn.close()

    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    session_headers = {**auth, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}
    status, _, _ = raw_post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session_headers)
    assert status == 202
    status, _, body = raw_post(port, listing, session_headers)
    assert status == 200 and "healthsim_query" in body, (status, body)
    assert delete() == 200
    status, _, _ = raw_post(port, listing, session_headers)
    assert status == 404, "the session no longer exists"


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_sdk_2_modern_client_discovers_and_calls(db_path, transport):
    """The MCP Python SDK 2.x `Client` as scripts use it: it probes `server/discover`, adopts
    the 2026-07-28 protocol (stateless over HTTP: no session id), and calls tools."""
    import json

    from mcp import Client, StdioServerParameters

    server = None
    if transport == "http":
        server = HttpServer(db_path, None)
        target = server.url
    else:
        target = StdioServerParameters(command=BIN, args=["--db", str(db_path)], env={"RUST_LOG": "warn"})
    try:
        async with Client(target) as client:
            assert client.session.discover_result is not None, "server/discover was answered"
            assert client.protocol_version == "2026-07-28"
            assert client.server_info.name == "healthsim-mcp"
            names = {t.name for t in (await client.list_tools()).tools}
            assert "healthsim_save_scenario" in names and "healthsim_query" in names
            saved = await client.call_tool("healthsim_save_scenario", {"name": "modern", "entities": entities(2)})
            assert not saved.is_error, saved
            result = await client.call_tool("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
            text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
            assert json.loads(text)["rows"] == [{"n": 2}]
            assert result.structured_content == json.loads(text)
    finally:
        if server is not None:
            assert server.stop() == 0


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_sdk_1_client(db_path, transport):
    """The MCP Python SDK 1.x (its own venv, `HEALTHSIM_TEST_MCP1_PYTHON`): initialize,
    tools, a save and a query, and a clean end of the session: no warning logged (the
    session's DELETE is answered 200)."""
    import json
    from pathlib import Path

    python = os.environ.get("HEALTHSIM_TEST_MCP1_PYTHON")
    if not python:
        pytest.skip("HEALTHSIM_TEST_MCP1_PYTHON is not set (scripts/test sets it)")
    script = str(Path(__file__).parent / "clients" / "sdk1_client.py")
    server = None
    if transport == "http":
        server = HttpServer(db_path, None)
        argv = [python, script, "http", server.url]
    else:
        argv = [python, script, "stdio", BIN, str(db_path)]
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    finally:
        if server is not None:
            assert server.stop() == 0
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["server"] == "healthsim-mcp" and seen["protocol"] in ("2025-06-18", "2025-11-25"), seen
    assert len(seen["tools"]) == 11 and not seen["saved_error"], seen
    assert seen["rows"] == [{"n": 1}] and seen["structured_matches"], seen
    assert seen["warnings"] == [], seen["warnings"]
