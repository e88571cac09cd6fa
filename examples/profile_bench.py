"""What `healthsim_execute_profile` costs, beside `healthsim_save_scenario` of the same
entities in the same run, through the MCP Python SDK, with the server's peak memory.

    python examples/profile_bench.py [PATIENTS ...]      (default: 2000 20000)

For each size: the profile `fixtures/profiles/wrapper_colorado_copd.json` (all three
products) is generated into a fresh file; the same entities, read back whole through the
scenario's resource, are then saved by `healthsim_save_scenario` into another fresh
file (the JSON the model would otherwise have to write). Both in entities per second;
peak RSS (VmHWM) of each server process. HEALTHSIM_MCP_BIN names the binary."""

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("HEALTHSIM_MCP_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "healthsim-mcp"
)
PROFILE = json.loads((ROOT / "fixtures" / "profiles" / "wrapper_colorado_copd.json").read_text())


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_pid(before: set[int]) -> int:
    children = {int(p) for p in os.listdir("/proc") if p.isdigit()} - before
    for pid in sorted(children):
        try:
            if Path(f"/proc/{pid}/exe").resolve() == Path(BIN).resolve():
                return pid
        except OSError:
            continue
    raise RuntimeError("server process not found")


async def one_size(patients: int, folder: Path) -> dict:
    out = {"patients": patients}
    before = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    params = StdioServerParameters(command=BIN, args=["--db", str(folder / "gen.duckdb")], env={"RUST_LOG": "warn"})
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        pid = server_pid(before)
        start = time.perf_counter()
        result = await s.call_tool("healthsim_execute_profile", {"profile": PROFILE, "name": "gen", "count": patients, "seed": 1})
        out["generate_s"] = time.perf_counter() - start
        answer = json.loads(result.content[0].text)
        assert not result.is_error, answer
        out["entities"] = sum(answer["entity_counts"].values())
        out["generate_rss_mb"] = peak_rss_mb(pid)
        whole = await s.read_resource("healthsim://scenarios/gen")
        entities = json.loads(whole.contents[0].text)["entities"]
    before = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    params = StdioServerParameters(command=BIN, args=["--db", str(folder / "save.duckdb"), "--max-save-entities", "5000000"], env={"RUST_LOG": "warn"})
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        pid = server_pid(before)
        start = time.perf_counter()
        result = await s.call_tool("healthsim_save_scenario", {"name": "saved", "entities": entities})
        out["save_s"] = time.perf_counter() - start
        assert not result.is_error, result.content[0].text
        out["save_rss_mb"] = peak_rss_mb(pid)
        out["json_mb"] = len(json.dumps(entities)) / 1e6
    return out


async def main(sizes: list[int]) -> None:
    print(f"{'patients':>9} {'entities':>9} {'JSON MB':>8} | {'generate s':>10} {'ent/s':>9} {'peak MB':>8} | {'save s':>8} {'ent/s':>9} {'peak MB':>8}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as folder:
            o = await one_size(n, Path(folder))
        print(
            f"{o['patients']:>9,} {o['entities']:>9,} {o['json_mb']:>8.1f} | {o['generate_s']:>10.2f} "
            f"{o['entities'] / o['generate_s']:>9,.0f} {o['generate_rss_mb']:>8.0f} | {o['save_s']:>8.2f} "
            f"{o['entities'] / o['save_s']:>9,.0f} {o['save_rss_mb']:>8.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [2000, 20000]))
