"""What the model pays, in characters, to do the same scripted work through healthsim-mcp and
through the Python HealthSim server (mark64oswald/healthsim-workspace,
packages/mcp-server/healthsim_mcp.py), both driven by the official MCP Python SDK in one run.

Tasks, identical content for both servers (200 synthetic patients from a fixed seed):
  A  build: the patients and their encounters, claims and prescriptions added with
     healthsim_add_entities in batches of --batch-patients patients (first call by name,
     later calls by the id it returned);
  B  inspect: list scenarios/cohorts, the summary, and a full load;
  C  five questions answered with healthsim_query (the answers must agree).
Per call: written = tool name + compact JSON arguments; read = the text content blocks of the
result (what a client shows the model). tools/list is paid on every turn, so it is reported
too. Claude Code writes a result over 50,000 characters to a file instead of the context.

The entity types are the ones both servers accept: the Python server refuses any type outside
patients, members, claims, claim_lines, encounters, prescriptions, subjects (and relationship
types) with "Unknown entity type" (diagnoses, medications, lab_results included), so diagnosis
codes ride on encounters (admitting_diagnosis) and claims (principal_diagnosis). What the
Python server does with them (its answers carry these as "canonical_insert_errors" and a
"warning", counted below): claims never reach its claims table (NOT NULL principal_diagnosis,
which its serializer drops), prescriptions never reach its prescriptions table (it inserts a
prescription_id column the table lacks) and are keyed by fresh UUIDs (it does not read
prescription_number); both stay only as JSON in cohort_entities.

Run with the SDK 2.x venv the tests use, after `cargo build --release`:

    ~/.cache/healthsim-mcp/venv-duckdb-1.5.5/bin/python examples/model_cost.py \
        [--python-server-workspace DIR] [--batch-patients 25] [-v]

HEALTHSIM_MCP_BIN names the binary (default: $CARGO_TARGET_DIR or ./target, release/).

The Python server's setup (done by `python_server()` when missing):
  1. Workspace: DIR (or HEALTHSIM_WORKSPACE) holding packages/mcp-server and packages/core;
     by default they are exported from the git snapshot at $HEALTHSIM_WORKSPACE_GIT
     (default /work/.mirror/mark64oswald+healthsim-workspace/repo) with
     `git --git-dir=GIT archive HEAD packages/mcp-server packages/core | tar -x -C DIR`.
  2. Venv ~/.cache/healthsim-mcp/venv-python-server (HEALTHSIM_PY_SERVER_VENV): stdlib venv,
     then `pip install` PY_SERVER_PINS below (its pyproject pins: mcp>=1, pydantic>=2,
     duckdb<1.5.2; healthsim-core: faker, pyyaml, python-dateutil, pandas). mcp stays on 1.x:
     the server imports mcp.server.fastmcp.FastMCP.
  3. Database: healthsim_mcp.py opens HEALTHSIM_DB_PATH as given and never creates the
     schema, so a fresh file is first initialised the way healthsim-core does on first
     write access: `healthsim.db.connection.DatabaseConnection(path).connect()` (apply_schema,
     version 1.7).
  4. Run: `VENV/bin/python DIR/packages/mcp-server/healthsim_mcp.py` with HEALTHSIM_DB_PATH
     (stdio transport by default; it adds packages/core/src to sys.path itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import venv
from datetime import date, datetime, timedelta
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("HEALTHSIM_MCP_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "healthsim-mcp"
)
WORKSPACE_GIT = os.environ.get("HEALTHSIM_WORKSPACE_GIT", "/work/.mirror/mark64oswald+healthsim-workspace/repo")
PY_VENV = Path(os.environ.get("HEALTHSIM_PY_SERVER_VENV", Path.home() / ".cache/healthsim-mcp/venv-python-server"))
PY_SERVER_PINS = ["mcp==1.30.0", "pydantic==2.14.4", "duckdb==1.5.1", "Faker==40.63.0", "PyYAML==6.0.4", "python-dateutil==4.0.0", "pandas==3.1.1"]
PATIENTS, SEED, NAME, SPILL = 200, 35, "model-cost-200", 50_000

# ---------------------------------------------------------------------------------------------
# Synthetic data (fixed seed)

GIVEN = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Liam", "Maya", "Noah", "Olga", "Priya"]
FAMILY = ["Diaz", "Smith", "Nguyen", "Okafor", "Kowalski", "Haddad", "Brown", "Tanaka", "Garcia", "Muller", "Patel", "Johnson"]
DX = [("E11.9", "Type 2 diabetes mellitus without complications"), ("I10", "Essential hypertension"), ("J06.9", "Acute upper respiratory infection"),
      ("M54.5", "Low back pain"), ("E78.5", "Hyperlipidemia, unspecified"), ("F41.1", "Generalized anxiety disorder"), ("J45.909", "Asthma, uncomplicated"),
      ("N39.0", "Urinary tract infection")]
RX = {"E11.9": ("00093-1048-01", "Metformin 500 MG Oral Tablet"), "I10": ("00378-0018-01", "Lisinopril 10 MG Oral Tablet"),
      "E78.5": ("00093-7155-98", "Atorvastatin 20 MG Oral Tablet"), "J45.909": ("00173-0682-20", "Albuterol 90 MCG Inhaler")}
CITIES = [("Austin", "TX", "78701"), ("Columbus", "OH", "43215"), ("Denver", "CO", "80202"), ("Tampa", "FL", "33602")]


def patient_bundles() -> list[dict[str, list[dict]]]:
    """One {type: [entities]} per patient, the same on every run."""
    rng = random.Random(SEED)
    out = []
    for i in range(PATIENTS):
        mrn, city = f"MRN{100000 + i}", rng.choice(CITIES)
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(65 * 365))
        b = {"patients": [{"id": f"pat-{i:03d}", "mrn": mrn, "given_name": rng.choice(GIVEN), "family_name": rng.choice(FAMILY),
                           "birth_date": born.isoformat(), "gender": rng.choice("FM"), "city": city[0], "state": city[1], "postal_code": city[2]}],
             "encounters": [], "claims": [], "prescriptions": []}
        for k in range(rng.randint(1, 3)):
            code, desc = rng.choice(DX)
            cls = rng.choices("OEI", weights=[8, 2, 1])[0]
            start = datetime(2024, 1, 1, 8) + timedelta(days=rng.randrange(366), minutes=15 * rng.randrange(40))
            end = start + (timedelta(days=rng.randint(1, 5)) if cls == "I" else timedelta(minutes=30 * rng.randint(1, 8)))
            enc = f"enc-{i:03d}-{k}"
            b["encounters"].append({"encounter_id": enc, "patient_mrn": mrn, "class_code": cls, "status": "finished",
                                    "admission_time": start.isoformat(), "discharge_time": end.isoformat(),
                                    "facility": f"{city[0]} General", "admitting_diagnosis": code, "chief_complaint": desc})
            charge = round(rng.uniform(120, 900) * (12 if cls == "I" else 1), 2)
            b["claims"].append({"claim_id": f"clm-{i:03d}-{k}", "claim_type": "INSTITUTIONAL" if cls == "I" else "PROFESSIONAL",
                                "member_id": mrn, "provider_npi": f"1{rng.randrange(10**9):09d}", "service_date": start.date().isoformat(),
                                "principal_diagnosis": code, "total_charge": charge, "total_allowed": round(charge * 0.7, 2),
                                "total_paid": round(charge * 0.6, 2)})
            if code in RX and not any(p["drug_name"] == RX[code][1] for p in b["prescriptions"]):
                b["prescriptions"].append({"prescription_number": f"rx-{i:03d}-{k}", "patient_mrn": mrn, "ndc": RX[code][0], "drug_name": RX[code][1],
                                           "quantity_prescribed": 30, "days_supply": 30, "refills_authorized": 5, "prescriber_npi": f"1{rng.randrange(10**9):09d}",
                                           "written_date": start.date().isoformat(), "expiration_date": (start.date() + timedelta(days=365)).isoformat(),
                                           "directions": "Take as directed"})
        out.append(b)
    return out


def batches(bundles: list[dict], per: int) -> list[dict[str, list[dict]]]:
    merged = []
    for at in range(0, len(bundles), per):
        batch: dict[str, list[dict]] = {}
        for b in bundles[at : at + per]:
            for kind, items in b.items():
                batch.setdefault(kind, []).extend(items)
        merged.append({k: v for k, v in batch.items() if v})
    return merged


# ---------------------------------------------------------------------------------------------
# The five questions, per server's tables. The Python server's claims never reach its claims
# table (its serializer drops principal_diagnosis, which is NOT NULL), so there the model must
# read the saved JSON in cohort_entities.

AGE = "round(avg(date_diff('year', birth_date, DATE '2025-01-01')), 1) AS mean_age FROM patients"
COMMON = [
    "SELECT gender, count(*) AS patients FROM patients GROUP BY gender ORDER BY gender",
    f"SELECT count(*) AS patients, {AGE}",
    "SELECT admitting_diagnosis AS code, count(*) AS encounters FROM encounters GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5",
    "SELECT strftime(admission_time, '%Y-%m') AS month, count(*) AS encounters FROM encounters GROUP BY 1 ORDER BY 1",
]
QUESTIONS = {
    "ours": COMMON + ["SELECT claim_type, count(*) AS claims, sum(total_charge) AS charged, sum(total_paid) AS paid FROM claims GROUP BY 1 ORDER BY 1"],
    "python": COMMON + ["SELECT entity_data->>'claim_type' AS claim_type, count(*) AS claims, sum(CAST(entity_data->>'total_charge' AS DECIMAL(12,2))) AS charged, "
                        "sum(CAST(entity_data->>'total_paid' AS DECIMAL(12,2))) AS paid FROM cohort_entities WHERE entity_type = 'claims' GROUP BY 1 ORDER BY 1"],
}


# ---------------------------------------------------------------------------------------------
# The two servers

def python_server(workspace: Path | None) -> tuple[Path, Path]:
    """The Python server's workspace and venv python, set up if missing (see the docstring)."""
    if workspace is None:
        workspace = Path(os.environ.get("HEALTHSIM_WORKSPACE") or Path(tempfile.gettempdir()) / "model_cost-healthsim-workspace")
        if not (workspace / "packages/mcp-server/healthsim_mcp.py").is_file():
            workspace.mkdir(parents=True, exist_ok=True)
            archive = subprocess.run(["git", f"--git-dir={WORKSPACE_GIT}", "archive", "HEAD", "packages/mcp-server", "packages/core"],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(workspace)], input=archive, check=True)
    python = PY_VENV / "bin" / "python"
    if not python.is_file():
        print(f"creating {PY_VENV} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(PY_VENV)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PY_SERVER_PINS], check=True)
    return workspace, python


def init_python_db(python: Path, workspace: Path, db: Path) -> None:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from healthsim.db.connection import DatabaseConnection; "
            "c = DatabaseConnection(sys.argv[2]); c.connect(); c.close()")
    subprocess.run([str(python), "-c", code, str(workspace / "packages/core/src"), str(db)], check=True)


class Meter:
    """Calls one server's tools, recording what each call costs the model."""

    def __init__(self, label: str, session: ClientSession, envelope: bool):
        self.label, self.session, self.envelope = label, session, envelope
        self.calls: list[dict] = []
        self.failures: list[str] = []

    async def tools_size(self) -> tuple[int, int]:
        tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await self.session.list_tools()).tools]
        model_view = [{k: t[k] for k in ("name", "description", "inputSchema") if k in t} for t in tools]
        return compact_len(tools), compact_len(model_view)

    async def call(self, task: str, tool: str, args: dict) -> object:
        if self.envelope and args is not None:
            args = {"params": args}
        result = await self.session.call_tool(tool, args)
        text = "".join(c.text for c in result.content if c.type == "text")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        # The Python server reports failures as {"error": ...} in a successful result.
        failed = bool(result.is_error) or (isinstance(value, dict) and "error" in value)
        self.calls.append({"task": task, "tool": tool, "written": len(tool) + compact_len(args), "read": len(text), "error": failed,
                           "warning": isinstance(value, dict) and bool(value.get("warning") or value.get("warnings"))})
        if failed:
            self.failures.append(f"{self.label} {tool}: {text[:500]}")
        return value


def compact_len(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


async def run_tasks(m: Meter, kind: str, work: list[dict]) -> list:
    ours = kind == "ours"
    scenario_id = None
    for n, entities in enumerate(work, 1):
        if scenario_id is None:
            args = {"scenario_name" if ours else "cohort_name": NAME, "entities": entities}
        else:
            args = {"scenario_id" if ours else "cohort_id": scenario_id, "entities": entities}
        got = await m.call("A", "healthsim_add_entities", {**args, "batch_number": n, "total_batches": len(work)})
        if isinstance(got, dict):
            scenario_id = scenario_id or got.get("scenario_id" if ours else "cohort_id")
    stored = got.get("scenario_totals" if ours else "cohort_totals", {}).get("total_entities") if isinstance(got, dict) else None
    if stored != sum(len(v) for b in work for v in b.values()):
        m.failures.append(f"{m.label}: the scenario holds {stored} entities after the last batch")
    if ours:
        await m.call("B", "healthsim_list_scenarios", {})
        await m.call("B", "healthsim_get_summary", {"scenario_id_or_name": NAME})
        await m.call("B", "healthsim_load_scenario", {"name_or_id": NAME})
    else:
        await m.call("B", "healthsim_list_cohorts", {})
        await m.call("B", "healthsim_get_cohort_summary", {"cohort_id_or_name": NAME})
        await m.call("B", "healthsim_load_cohort", {"name_or_id": NAME})
    answers = []
    for sql in QUESTIONS[kind]:
        got = await m.call("C", "healthsim_query", {"sql": sql})
        answers.append(got.get("rows") if isinstance(got, dict) else None)
    return answers


async def measure(label: str, kind: str, params: StdioServerParameters, work: list[dict], errlog) -> tuple[Meter, tuple, list]:
    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            m = Meter(label, session, envelope=kind == "python")
            sizes = await m.tools_size()
            answers = await run_tasks(m, kind, work)
            return m, sizes, answers


def normalise(rows):
    if rows is None:
        return None
    def cell(v):
        try:
            return round(float(v), 2)
        except (TypeError, ValueError):
            return str(v)
    return [[cell(v) for v in row.values()] for row in rows]


# ---------------------------------------------------------------------------------------------
# Report

def report(results: list[tuple[Meter, tuple]], work: list[dict], per: int, verbose: bool) -> None:
    n_entities = sum(len(v) for b in work for v in b.values())
    print(f"{PATIENTS} patients, {n_entities} entities, {len(work)} batches of {per} patients: characters the model writes and reads\n")
    print((f"{'':<36}" + "".join(f"{m.label:<32}" for m, _ in results)).rstrip())
    print((f"{'task':<36}" + f"{'calls':>5}{'written':>11}{'read':>11}     " * len(results)).rstrip())
    titles = {"A": "A build in batches", "B": "B inspect (list, summary, load)", "C": "C five questions with SQL"}
    for task, title in [*titles.items(), ("*", "total")]:
        row = f"{title:<36}"
        for m, _ in results:
            calls = [c for c in m.calls if task in ("*", c["task"])]
            row += f"{len(calls):>5}{sum(c['written'] for c in calls):>11,}{sum(c['read'] for c in calls):>11,}     "
        print(row.rstrip())
    print((f"{'tools/list, paid every turn':<36}" + "".join(f"{'':>16}{full:>11,}     " for _, (full, _) in results)).rstrip())
    print((f"{'  name+description+inputSchema':<36}" + "".join(f"{'':>16}{seen:>11,}     " for _, (_, seen) in results)).rstrip())
    print()
    for m, _ in results:
        big = [c for c in m.calls if c["read"] > SPILL]
        warned = [c for c in m.calls if c["warning"]]
        print(f"{m.label}: {len(big)} result(s) over {SPILL:,} characters (Claude Code spills those to a file)"
              + "".join(f"; {c['tool']} {c['read']:,}" for c in big)
              + (f"; {len(warned)} result(s) carry warnings" if warned else ""))
    if verbose:
        for m, _ in results:
            print(f"\n{m.label}")
            for c in m.calls:
                print(f"  {c['task']} {c['tool']:<30} written {c['written']:>9,}  read {c['read']:>9,}"
                      + ("  ERROR" if c["error"] else "") + ("  warning" if c["warning"] else ""))


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python-server-workspace", type=Path, help="a healthsim-workspace checkout (default: exported from the git snapshot)")
    ap.add_argument("--batch-patients", type=int, default=25, help="patients (with their entities) per healthsim_add_entities call")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list every call")
    opts = ap.parse_args()
    started = time.monotonic()
    for _ in range(60):  # the binary may be mid-rebuild
        if Path(BIN).is_file():
            break
        time.sleep(5)
    workspace, python = python_server(opts.python_server_workspace)
    work = batches(patient_bundles(), opts.batch_patients)
    with tempfile.TemporaryDirectory(prefix="model_cost-") as tmp:
        ours_db, py_db = Path(tmp) / "ours.duckdb", Path(tmp) / "python.duckdb"
        init_python_db(python, workspace, py_db)
        servers = [
            ("healthsim-mcp", "ours", StdioServerParameters(command=BIN, args=["--db", str(ours_db)], env={"RUST_LOG": "healthsim_mcp=warn"})),
            ("Python HealthSim server", "python", StdioServerParameters(
                command=str(python), args=[str(workspace / "packages/mcp-server/healthsim_mcp.py")], env={"HEALTHSIM_DB_PATH": str(py_db)})),
        ]
        results, answers = [], []
        with open(Path(tmp) / "stderr.log", "w") as errlog:
            for label, kind, params in servers:
                m, sizes, got = await measure(label, kind, params, work, errlog)
                results.append((m, sizes))
                answers.append(got)
    report(results, work, opts.batch_patients, opts.verbose)
    failures = [f for m, _ in results for f in m.failures]
    for q, (a, b) in enumerate(zip(*answers), 1):
        if normalise(a) != normalise(b):
            failures.append(f"question {q}: the answers differ:\n  {a}\n  {b}")
    print(f"\nthe five answers agree: {'no' if any(f.startswith('question') for f in failures) else 'yes'}; took {time.monotonic() - started:.1f} s")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
