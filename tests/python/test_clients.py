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
        assert len(names) == 11
        await s.ok("healthsim_save_scenario", {"name": "v", "entities": {**entities(3), "claims": [{"claim_id": "c"}]}, "tags": ["x"]})
        await s.ok("healthsim_list_scenarios", {})
        await s.ok("healthsim_load_scenario", {"name_or_id": "v"})
        await s.ok("healthsim_load_scenario", {"name_or_id": "v", "include_entities": False})
        await s.ok("healthsim_get_summary", {"scenario_id_or_name": "v"})
        await s.ok("healthsim_query", {"sql": "SELECT * FROM patients"})
        await s.ok("healthsim_tables", {})
        assert (await s.ok("healthsim_delete_scenario", {"name_or_id": "v", "confirm": True}))["status"] == "deleted"
        assert (await s.ok("healthsim_delete_scenario", {"name_or_id": "v", "confirm": True}))["status"] == "not_found"


async def test_demo_database_every_tool_and_schema(tmp_path):
    """Against the demo database: every tool's inputSchema and outputSchema is a valid JSON
    Schema 2020-12, every tool answers, and each structured result validates against the
    declared outputSchema (checked here with jsonschema, independently of the SDK)."""
    import json
    import subprocess

    from jsonschema import Draft202012Validator

    from conftest import BIN

    db = tmp_path / "demo.duckdb"
    subprocess.run([BIN, "--db", str(db), "demo", "--small"], check=True, capture_output=True, timeout=300)
    async with server(db) as s:
        tools = {t.name: t for t in (await s.session.list_tools()).tools}
        assert len(tools) == 11
        for tool in tools.values():
            Draft202012Validator.check_schema(tool.input_schema)
            assert tool.input_schema["type"] == "object"
            if tool.output_schema is not None:
                Draft202012Validator.check_schema(tool.output_schema)
        calls = {
            "healthsim_list_scenarios": {"tag": "DEMO"},
            "healthsim_load_scenario": {"name_or_id": "demo-membersim-claims"},
            "healthsim_get_summary": {"scenario_id_or_name": "patientsim"},
            "healthsim_query": {"sql": "SELECT claim_type, sum(total_charge) AS billed FROM claims GROUP BY ALL ORDER BY 1"},
            "healthsim_query_reference": {"table": "places_county", "state": "HI", "limit": 2},
            "healthsim_tables": {},
            "healthsim_search_providers": {"state": "CT", "specialty": "family", "limit": 5},
            "healthsim_save_scenario": {"name": "mine", "entities": {"patient": [{"id": "x", "given_name": "A", "family_name": "B", "birth_date": "1990-01-01", "gender": "F"}]}},
            "healthsim_add_entities": {"scenario_name": "mine", "entities": {"patient": [{"id": "y", "given_name": "C", "family_name": "D", "birth_date": "1991-01-01", "gender": "M"}]}, "batch_number": 2, "total_batches": 2},
            "healthsim_delete_scenario": {"name_or_id": "mine", "confirm": True},
            # An open profile in a place of the demo's reference data: SVI ages, PLACES conditions.
            "healthsim_execute_profile": {"name": "hi", "profile": {"name": "Hawaii", "generation": {"count": 50, "seed": 1, "products": ["patientsim", "membersim"]}, "demographics": {"geography": {"type": "state", "state": "HI"}}}},
        }
        assert set(calls) == set(tools)
        for name, args in calls.items():
            result = await s.session.call_tool(name, args)
            text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
            assert not result.is_error, f"{name}: {text}"
            value = json.loads(text)
            if tools[name].output_schema is not None:
                Draft202012Validator(tools[name].output_schema).validate(result.structured_content)
                assert result.structured_content == value
            if name == "healthsim_list_scenarios":
                assert len(value) == 4
            if name == "healthsim_get_summary":
                assert value["name"] == "demo-patientsim-clinical" and "age_range" in value["statistics"]
            if name == "healthsim_query_reference":
                assert value["row_count"] == 2 and all(r["stateabbr"] == "HI" for r in value["rows"])


async def test_prompts_through_the_sdk(db_path):
    """The workflow prompts, as Claude Code lists them for slash commands: listed with their
    arguments, filled in by prompts/get, and a missing argument refused by name."""
    async with server(db_path) as s:
        listed = await s.session.list_prompts()
        names = {p.name: p for p in listed.prompts}
        assert set(names) == {"explore_scenario", "compare_scenarios", "build_cohort"}
        assert [a.name for a in names["compare_scenarios"].arguments] == ["first", "second"]
        prompt = await s.session.get_prompt("explore_scenario", {"scenario": "demo-patientsim-clinical"})
        text = prompt.messages[0].content.text
        assert "healthsim_get_summary" in text and "demo-patientsim-clinical" in text
        with pytest.raises(Exception, match="needs the argument 'second'"):
            await s.session.get_prompt("compare_scenarios", {"first": "a"})
