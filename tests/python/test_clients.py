"""The server as the official MCP Python SDK sees it: every result validates against the
tool's declared outputSchema (the SDK checks), and long saves report progress."""

from __future__ import annotations

import pytest

from conftest import entities, server

pytestmark = pytest.mark.anyio


async def test_progress_notifications_during_a_save(db_path):
    """A save sent with a progress token reports progress about every 10%."""
    updates = []

    async def on_progress(progress, total, message):
        updates.append((progress, total, message))

    async with server(db_path) as s:
        result = await s.session.call_tool(
            "healthsim_save_scenario", {"name": "p", "entities": entities(5_000)}, progress_callback=on_progress
        )
        assert not result.is_error
        assert 8 <= len(updates) <= 12, updates
        totals = {total for _, total, _ in updates}
        assert totals == {10_000.0}, "entities plus their canonical rows"
        progress = [p for p, _, _ in updates]
        assert progress == sorted(progress) and progress[-1] == 10_000.0
        # Without a token no notification is sent.
        updates.clear()
        await s.ok("healthsim_save_scenario", {"name": "q", "entities": entities(100)})
        assert updates == []


async def test_every_tool_validates_against_its_output_schema(db_path):
    """The SDK validates structuredContent against outputSchema; every tool passes."""
    async with server(db_path) as s:
        tools = await s.session.list_tools()
        names = sorted(t.name for t in tools.tools)
        assert len(names) == 8
        await s.ok("healthsim_save_scenario", {"name": "v", "entities": {**entities(3), "claims": [{"claim_id": "c"}]}, "tags": ["x"]})
        await s.ok("healthsim_list_scenarios", {})
        await s.ok("healthsim_load_scenario", {"name_or_id": "v"})
        await s.ok("healthsim_load_scenario", {"name_or_id": "v", "include_entities": False})
        await s.ok("healthsim_get_summary", {"scenario_id_or_name": "v"})
        await s.ok("healthsim_query", {"sql": "SELECT * FROM patients"})
        await s.ok("healthsim_tables", {})
        assert (await s.ok("healthsim_delete_scenario", {"name_or_id": "v", "confirm": True}))["status"] == "deleted"
        assert (await s.ok("healthsim_delete_scenario", {"name_or_id": "v", "confirm": True}))["status"] == "not_found"
