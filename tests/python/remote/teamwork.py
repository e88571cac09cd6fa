"""What a team's servers do to one database at once, for each engine's tests: saving at
once with a raced name, and a server killed mid-save."""

from __future__ import annotations

import os
import signal

import anyio
import pytest

from conftest import entities


async def save_at_once(servers: dict, size: int) -> str:
    """Each server saves four scenarios of `size` patients and races the others for the
    name `raced`, all at once. Checks that every save landed, the raced name once (the
    others told it exists), and that each server lists them all; returns the winner."""
    raced: dict[str, tuple[bool, object]] = {}

    async def saves(label: str):
        for i in range(4):
            saved = await servers[label].ok(
                "healthsim_save_scenario",
                {"name": f"{label}-{i}", "entities": entities(size, prefix=f"{label}{i}-"), "tags": [label]},
            )
            assert saved["total_entities"] == size

    async def race(label: str):
        raced[label] = await servers[label].call(
            "healthsim_save_scenario", {"name": "raced", "entities": entities(10, prefix=f"r{label}-")}
        )

    async with anyio.create_task_group() as group:
        for label in servers:
            group.start_soon(saves, label)
            group.start_soon(race, label)
    winners = [label for label, (is_error, _) in raced.items() if not is_error]
    assert len(winners) == 1, raced
    for is_error, value in raced.values():
        if is_error:
            assert "already exists" in value["error"], value
    expected = sorted([f"{label}-{i}" for label in servers for i in range(4)] + ["raced"])
    for s in servers.values():
        listed = await s.ok("healthsim_list_scenarios", {"limit": 100})
        assert sorted(x["name"] for x in listed) == expected
        assert sum(x["entity_count"] for x in listed) == 4 * size * len(servers) + 10
    return winners[0]


async def kill_mid_saves(keeper, start_victim, points) -> None:
    """For each fraction in `points`, a server (`start_victim()`) is killed with SIGKILL
    when its save of 20,000 patients reports that much progress (1.0: the last report,
    the write being sent or committed). `keeper`, a server that stays, then finds each
    killed save absent or whole, nothing orphaned, the rest intact, and saves that size
    whole."""
    await keeper.ok("healthsim_save_scenario", {"name": "before", "entities": entities(5)})
    for attempt, at in enumerate(points):
        killed = anyio.Event()
        with pytest.raises(BaseException):
            async with start_victim() as victim:

                async def on_progress(progress, total, message, victim=victim, at=at):
                    if not killed.is_set() and progress >= (total or 1) * at:
                        os.kill(victim.pid, signal.SIGKILL)
                        killed.set()

                with anyio.fail_after(120):
                    await victim.session.call_tool(
                        "healthsim_save_scenario",
                        {"name": f"killed-{attempt}", "entities": entities(20_000, prefix=f"k{attempt}-")},
                        progress_callback=on_progress,
                    )
        assert killed.is_set()
    listed = {x["name"]: x["entity_count"] for x in await keeper.ok("healthsim_list_scenarios")}
    assert listed.pop("before") == 5
    assert all(n == 20_000 for n in listed.values()), listed
    orphans = await keeper.ok(
        "healthsim_query",
        {
            "sql": "SELECT (SELECT count(*) FROM scenario_entities e WHERE e.scenario_id NOT IN "
            "(SELECT scenario_id FROM scenarios)) + (SELECT count(*) FROM patients p WHERE "
            "p.scenario_id NOT IN (SELECT scenario_id FROM scenarios)) AS n"
        },
    )
    assert orphans["rows"] == [{"n": 0}]
    patients = await keeper.ok("healthsim_query", {"sql": "SELECT count(*) AS n FROM patients"})
    assert patients["rows"] == [{"n": 5 + 20_000 * len(listed)}]
    saved = await keeper.ok("healthsim_save_scenario", {"name": "after", "entities": entities(20_000, prefix="a")})
    assert saved["canonical_rows"] == {"patients": 20_000}
    loaded = await keeper.ok("healthsim_load_scenario", {"name_or_id": "after", "include_entities": False})
    assert loaded["entity_count"] == 20_000
