"""Run by `test_http.py::test_sdk_1_client` with the MCP Python SDK 1.x in its own venv
(the SDK most pytest-style scripts still pin): connects over stdio or Streamable HTTP,
saves, queries and ends the session; prints what it saw as one JSON line, including every
warning the SDK logged.

usage: sdk1_client.py stdio BIN DB | sdk1_client.py http URL"""

import asyncio
import json
import logging
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client

warnings: list[str] = []


class Collect(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())


logging.getLogger().addHandler(Collect())


async def exercise(session: ClientSession) -> dict:
    init = await session.initialize()
    tools = sorted(t.name for t in (await session.list_tools()).tools)
    saved = await session.call_tool("healthsim_save_scenario", {"name": "sdk1", "entities": {"patients": [
        {"id": "p1", "given_name": "A", "family_name": "B", "birth_date": "1990-01-01", "gender": "F"}]}})
    queried = await session.call_tool("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
    text = "".join(c.text for c in queried.content if c.type == "text")
    return {
        "protocol": init.protocolVersion,
        "server": init.serverInfo.name,
        "tools": tools,
        "saved_error": saved.isError,
        "rows": json.loads(text)["rows"],
        "structured_matches": queried.structuredContent == json.loads(text),
    }


async def main() -> None:
    mode = sys.argv[1]
    if mode == "stdio":
        params = StdioServerParameters(command=sys.argv[2], args=["--db", sys.argv[3]], env={"RUST_LOG": "warn"})
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                seen = await exercise(session)
    else:
        async with streamablehttp_client(sys.argv[2]) as (read, write, _):
            async with ClientSession(read, write) as session:
                seen = await exercise(session)
    seen["warnings"] = warnings
    print(json.dumps(seen))


asyncio.run(main())
