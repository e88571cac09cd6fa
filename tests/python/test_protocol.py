"""Protocol robustness over stdio: over a thousand malformed or adversarial JSON-RPC
messages (broken JSON, wrong types, unknown methods, huge ids, requests before
initialize, 10 MB arguments). The server answers per the protocol or ignores what the
protocol lets it ignore, never writes anything but JSON-RPC to stdout, never exits, and a
valid call afterwards still works."""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import threading
import time

from conftest import BIN

PROTOCOL = "2025-06-18"


class Wire:
    """The binary with raw lines in and parsed lines out (checked as they arrive)."""

    def __init__(self, db):
        self.proc = subprocess.Popen(
            [BIN, "--db", str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "off"},
        )
        self.messages: queue.Queue = queue.Queue()
        self.bad_lines: list[bytes] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
                self.bad_lines.append(line)
                continue
            self.messages.put(message)

    def raw(self, data: bytes):
        self.proc.stdin.write(data.rstrip(b"\n").replace(b"\n", b" ") + b"\n")
        self.proc.stdin.flush()

    def send(self, message):
        self.raw(json.dumps(message).encode())

    def wait_for(self, ids: set, timeout: float = 120.0) -> dict:
        """Collects responses until every id in `ids` has one; returns id → response."""
        found: dict = {}
        deadline = time.monotonic() + timeout
        while not ids <= found.keys():
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no response for {sorted(map(str, ids - found.keys()))[:10]}"
            message = self.messages.get(timeout=remaining)
            if "id" in message and ("result" in message or "error" in message):
                key = message["id"]
                if key in ids:
                    assert key not in found, f"two responses for id {key}"
                    found[key] = message
        return found


def request(id_, method, params=None):
    message = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return message


def adversarial(rng: random.Random, next_id, ten_mb_ids: list):
    """Yields (bytes, expected_id or None): None when no response is owed."""
    valid = json.dumps(request(1, "tools/call", {"name": "healthsim_tables", "arguments": {}})).encode()
    for _ in range(150):  # broken JSON: truncations and byte noise
        cut = rng.randrange(1, len(valid) - 1)
        yield valid[:cut], None
        noise = bytes(rng.choice(b"{}[]\":,0123456789abcxyz\\ \t\xff\xfe") for _ in range(rng.randrange(1, 80)))
        yield noise, None
    for text in ["null", "true", "42", '"a string"', "[]", "[1, 2]", "{}", '{"jsonrpc": "2.0"}', "NaN", "1e999999"]:
        yield text.encode(), None
    wrong_types = [
        {"jsonrpc": 2, "id": 5, "method": "tools/list"},
        {"jsonrpc": "1.0", "id": 5, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 5, "method": 17},
        {"jsonrpc": "2.0", "id": [5], "method": "tools/list"},
        {"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": True, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": "healthsim_tables"},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": [1, 2]},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": 5}},
        {"jsonrpc": "2.0", "result": {}, "id": 999_999},
        {"jsonrpc": "2.0", "error": {"code": 1, "message": "x"}, "id": 999_998},
    ]
    for _ in range(10):
        for message in wrong_types:
            yield json.dumps(message).encode(), None
    for _ in range(120):  # unknown methods: every one owes a response
        method = rng.choice(["foo/bar", "", "tools/calls", "TOOLS/LIST", "resources/lisst", "x" * 500, "rpc.discover", "\u0000"])
        id_ = next_id()
        yield json.dumps(request(id_, method, {})).encode(), id_
    for big in [2**53, 2**63 - 1, -(2**63), 0, -1]:  # large ids that still fit: echoed back
        yield json.dumps(request(big, "tools/list")).encode(), big
    for big in [2**64 + 1, 10**30, -(10**30)]:  # ids beyond 64 bits: refused or ignored
        yield json.dumps(request(big, "tools/list")).encode(), None
    for _ in range(20):
        id_ = f"str-{next_id()}-" + "y" * rng.randrange(0, 5000)
        yield json.dumps(request(id_, "tools/list")).encode(), id_
    tools = ["healthsim_query", "healthsim_tables", "healthsim_save_scenario", "healthsim_load_scenario", "nope", ""]
    junk_values = [None, 0, -1, 10**20, "", "x" * 1000, [], {}, {"params": {"params": {}}}, True, 1.5, "\ud7ff\u202e"]
    for _ in range(400):  # tool calls with arguments of every wrong shape
        id_ = next_id()
        arguments = {rng.choice(["sql", "limit", "name", "entities", "params", "zzz"]): rng.choice(junk_values) for _ in range(rng.randrange(0, 4))}
        shape = rng.choice(["object", "object", "null", "text", "list"])
        value = {"object": arguments, "null": None, "text": "text", "list": [arguments]}[shape]
        params = {"name": rng.choice(tools), "arguments": value}
        # A well-formed call is owed a response with its id; a malformed one may get an
        # Invalid Request error whose id is null (JSON-RPC 2.0 § 5).
        yield json.dumps(request(id_, "tools/call", params)).encode(), id_ if shape in ("object", "null") else None
    for _ in range(100):  # notifications the server may ignore
        note = rng.choice(
            [
                {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rng.randrange(10**9)}},
                {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "t", "progress": -5}},
                {"jsonrpc": "2.0", "method": "notifications/unknown", "params": [1]},
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
            ]
        )
        yield json.dumps(note).encode(), None
    deep = "[" * 10_000 + "]" * 10_000
    yield ('{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": ' + deep + "}").encode(), None
    ten_mb = "z" * (10 * 1024 * 1024)
    for tool, arguments in [
        ("healthsim_query", {"sql": ten_mb}),
        ("healthsim_save_scenario", {"name": "big", "entities": {}, "description": ten_mb}),
        ("healthsim_load_scenario", {"name_or_id": ten_mb}),
    ]:
        id_ = next_id()
        ten_mb_ids.append(id_)
        yield json.dumps(request(id_, "tools/call", {"name": tool, "arguments": arguments})).encode(), id_


def test_adversarial_messages_over_stdio(db_path):
    wire = Wire(db_path)
    counter = iter(range(10_000, 10**9))

    def next_id():
        return next(counter)

    try:
        # Before initialize: junk, notifications and requests. Requests are answered
        # with errors; the rest is ignored; the session stays open for a real initialize.
        early = [request(1, "tools/list"), request(2, "tools/call", {"name": "healthsim_tables", "arguments": {}})]
        wire.raw(b"{broken")
        wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        wire.send({"jsonrpc": "2.0", "result": {}, "id": 77})
        for message in early:
            wire.send(message)
        answered = wire.wait_for({1, 2})
        assert all("error" in answered[i] for i in (1, 2)), answered
        wire.send(request(3, "ping"))
        assert "result" in wire.wait_for({3})[3]
        wire.send(request(4, "initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}))
        init = wire.wait_for({4})[4]
        assert init["result"]["serverInfo"]["name"] == "healthsim-mcp", init
        wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

        rng = random.Random(20261124)
        sent, owed, ten_mb_ids = 0, set(), []
        for data, expected in adversarial(rng, next_id, ten_mb_ids):
            wire.raw(data)
            sent += 1
            if expected is not None:
                owed.add(expected)
        assert sent >= 1000, sent
        responses = wire.wait_for(owed)
        for id_ in owed:
            response = responses[id_]
            if "error" in response:
                assert isinstance(response["error"].get("code"), int) and response["error"].get("message"), response
            else:
                # A tool call that reached a tool: a tool result, usually a tool error.
                assert "content" in response["result"] or "tools" in response["result"], response
        assert len(ten_mb_ids) == 3
        for id_ in ten_mb_ids:
            assert responses[id_]["result"]["isError"] is True, "10 MB arguments are refused as tool errors"
            assert "at most" in responses[id_]["result"]["content"][0]["text"]

        # Still serving, stdout still clean.
        wire.send(request("final", "tools/call", {"name": "healthsim_save_scenario", "arguments": {"name": "after", "entities": {}}}))
        final = wire.wait_for({"final"})["final"]
        assert final["result"]["isError"] is False, final
        wire.send(request("list", "tools/call", {"name": "healthsim_list_scenarios", "arguments": {}}))
        listed = json.loads(wire.wait_for({"list"})["list"]["result"]["content"][0]["text"])
        assert [x["name"] for x in listed] == ["after"]
        assert wire.proc.poll() is None, "the server is still running"
        assert wire.bad_lines == [], wire.bad_lines[:5]
    finally:
        wire.proc.stdin.close()
        assert wire.proc.wait(timeout=30) == 0


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc status")


def rss_anon_kib(pid: int) -> int:
    return status_kib(pid, "RssAnon")


def test_memory_is_given_back_after_a_huge_request(db_path):
    """A 100,000-entity save refused for a bad argument touches no database, yet parsing it
    takes hundreds of MB: once the client is quiet the server gives that memory back (the
    line buffer and freed heap), so a long-running server stays small."""
    from conftest import wait_until

    wire = Wire(db_path)
    try:
        wire.send(request(0, "initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}))
        wire.wait_for({0})
        wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        patients = [
            {"id": f"p{i}", "given_name": "Ana", "family_name": f"F{i}", "birth_date": "1980-01-01", "address": {"line": ["1 Main St"]}}
            for i in range(100_000)
        ]
        args = {"name": "huge", "entities": {"patients": patients}, "bogus": 1}
        wire.send(request(1, "tools/call", {"name": "healthsim_save_scenario", "arguments": args}))
        reply = wire.wait_for({1})[1]["result"]
        assert reply["isError"] is True and "bogus" in reply["content"][0]["text"]
        # The high-water mark of the resident set: the freed request may be given back
        # before the reply is read (mimalloc purges freed pages at once).
        peak = status_kib(wire.proc.pid, "VmHWM")
        # The default idle period is 2 s; memory is trimmed once the client is quiet that long.
        wait_until(lambda: rss_anon_kib(wire.proc.pid) < 64 * 1024, timeout=20, what="memory to be given back")
        assert peak > 160 * 1024, f"the request should have needed memory (peak RSS {peak} KiB)"
        assert not wire.bad_lines
    finally:
        wire.proc.stdin.close()
        assert wire.proc.wait(timeout=30) == 0


def test_unreadable_lines_are_answered(db_path):
    """Every line that cannot be read gets an answer (JSON-RPC parse error -32700), to the
    request's id where it can still be read; a string cut mid-emoji (a lone UTF-16
    surrogate escape) is read as U+FFFD and the save goes through."""
    wire = Wire(db_path)
    try:
        wire.send(request(1, "initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}))
        wire.wait_for({1})
        wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        deep = "[" * 200 + "]" * 200
        wire.raw(('{"jsonrpc": "2.0", "id": "deep", "method": "tools/list", "params": ' + deep + "}").encode())
        wire.raw(b'{"jsonrpc": "2.0", "id": "cut", "method": "tools/list", "params": {"x": ')
        wire.raw(b"\xff\xfe not json at all")
        wire.raw(b"{broken")
        answers: dict = {}
        nulls = []
        while len(answers) < 2 or len(nulls) < 2:
            message = wire.messages.get(timeout=30)
            if message.get("id") is None:
                nulls.append(message["error"]["code"])
            else:
                answers[message["id"]] = message["error"]["code"]
        assert answers == {"deep": -32700, "cut": -32700} and nulls == [-32700, -32700], (answers, nulls)
        # The emoji cut in half: stored as U+FFFD, served back as such.
        entity = '{"id": "p1", "given_name": "Ana \\ud83d", "family_name": "B", "birth_date": "1990-01-01", "gender": "F"}'
        wire.raw(('{"jsonrpc": "2.0", "id": "save", "method": "tools/call", "params": {"name": "healthsim_save_scenario", '
                  '"arguments": {"name": "cut", "entities": {"patients": [' + entity + "]}}}}").encode())
        saved = wire.wait_for({"save"})["save"]
        assert saved["result"]["isError"] is False, saved
        wire.send(request("load", "tools/call", {"name": "healthsim_load_scenario", "arguments": {"name_or_id": "cut"}}))
        loaded = json.loads(wire.wait_for({"load"})["load"]["result"]["content"][0]["text"])
        assert loaded["entities"]["patients"][0]["given_name"] == "Ana \ufffd"
        assert wire.proc.poll() is None and wire.bad_lines == []
    finally:
        wire.proc.stdin.close()
        assert wire.proc.wait(timeout=30) == 0


def test_a_cancelled_save_is_all_or_nothing_and_logged(db_path):
    """A save cancelled right after it was sent runs to its end (all or nothing); the
    client gets no answer for it (rmcp drops the answer of a cancelled request), and the
    server's log says whether it was saved, which the next listing confirms."""
    proc = subprocess.Popen(
        [BIN, "--db", str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "RUST_LOG": "healthsim_mcp=warn"},
    )

    def send(message):
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()

    send(request(1, "initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}))
    assert json.loads(proc.stdout.readline())["id"] == 1
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    patients = [{"id": f"p{i}", "given_name": "A", "family_name": "B", "birth_date": "2000-01-01", "gender": "F"} for i in range(50_000)]
    send(request(5, "tools/call", {"name": "healthsim_save_scenario", "arguments": {"name": "cancelled", "entities": {"patients": patients}}}))
    send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5, "reason": "user pressed stop"}})
    send(request(7, "ping"))
    seen = {}
    while 7 not in seen:
        message = json.loads(proc.stdout.readline())
        seen[message["id"]] = message
    # Shutdown waits for the write in progress; then the file says what happened.
    proc.stdin.close()
    rest = proc.stdout.read().decode().splitlines()
    seen.update({m["id"]: m for m in map(json.loads, rest) if "id" in m})
    assert proc.wait(timeout=60) == 0
    log = proc.stderr.read().decode()
    con = duckdb_reader(db_path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM scenarios").fetchall()]
        rows = con.execute("SELECT count(*) FROM patients").fetchone()[0]
    finally:
        con.close()
    assert (names, rows) in ((["cancelled"], 50_000), ([], 0)), "all or nothing"
    if 5 in seen:  # the save finished before the cancellation arrived: answered normally
        assert seen[5]["result"]["isError"] is False and names == ["cancelled"]
    else:
        assert "a save was cancelled by the client" in log, log
        assert ("saved=true" in log) == (names == ["cancelled"]), (names, log)


def duckdb_reader(path):
    import duckdb

    return duckdb.connect(str(path), read_only=True)
