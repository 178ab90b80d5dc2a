// The same SIMD128 kernels in every engine simdgrad runs on: Node (this process's V8), Deno
// (a newer V8), Bun (JavaScriptCore, Safari's engine), headless Chromium (the browser's V8)
// and, asked for by name, headless Firefox (SpiderMonkey; see bench/README.md), each timed in a fresh process by bench/lib/engine-gemm.js: the peak probe, the GEMM on
// square and layer shapes as shares of that engine's own ceiling, and a few activation
// kernels in elements per ns. Engines run one after another. Prints a table; decides nothing.
//
//   npm run build && node bench/engines.mjs [--engines=node,node24,deno,bun,chromium,firefox] [--rounds=9] [--build=relaxed]
//
// --build=relaxed times the relaxed-SIMD build against the relaxed_madd probe (Node 20 gets
// --experimental-wasm-relaxed-simd; an engine without relaxed SIMD is reported and skipped).
//
// The engines are bench/lib/engines.js's: also "node24" (or any major) for that Node from the
// npm registry, beside this process's. A missing engine is reported and skipped.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./lib/args.js";
import { buildProbe } from "./lib/peak.js";
import { measureEngine } from "./lib/engine-gemm.js";
import { runEngines } from "./lib/engines.js";
import { printTable, fmt } from "./lib/table.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const args = parseArgs();
const rounds = Number(args.rounds ?? 9);
const wanted = String(args.engines ?? "node,deno,bun,chromium").split(",");
const build = args.build ?? "simd";
if (build !== "simd" && build !== "relaxed") throw new Error(`--build: simd or relaxed, not ${build}`);
await buildProbe();
const peakFile = path.join(here, "build", `peak.${build}.wasm`);
const sgFile = path.join(root, "build", `simdgrad.${build}.wasm`);
if (!fs.existsSync(sgFile)) throw new Error(`build/simdgrad.${build}.wasm is missing: run npm run build first`);
const runs = await runEngines(wanted, {
  runner: path.join(here, "lib", "engine-run.mjs"),
  runnerArgs: [peakFile, sgFile, String(rounds), build],
  fn: measureEngine,
  input: { peak: [...fs.readFileSync(peakFile)], sg: [...fs.readFileSync(sgFile)], rounds, build },
  relaxed: build === "relaxed",
});

const ok = runs.filter((r) => r.result);
const first = ok[0]?.result;
if (!first) throw new Error(`no engine ran: ${runs.map((r) => `${r.name}: ${r.error}`).join("; ")}`);
const rows = [];
for (const p of Object.keys(first.probes)) rows.push([`peak probe, ${p} (GFLOPS)`, ...ok.map((r) => fmt(r.result.probes[p]))]);
rows.push(["ceiling: the larger (GFLOPS)", ...ok.map((r) => fmt(r.result.peak))]);
for (const [i, row] of first.rows.entries()) {
  rows.push([
    row.kind === "gemm" ? `gemm ${row.name}` : `${row.name} (el/ns)`,
    ...ok.map((r) => {
      const x = r.result.rows[i];
      return x.kind === "gemm" ? `${fmt(x.rate)} (${(100 * x.share).toFixed(0)}%)` : fmt(x.rate, 2);
    }),
  ]);
}
printTable(
  `simdgrad's ${build === "relaxed" ? "relaxed-SIMD" : "SIMD128"} kernels by engine, ${rounds} interleaved rounds each, medians (wall clock)`,
  [{ title: "", align: "l" }, ...ok.map((r) => ({ title: r.name }))],
  rows,
  [
    ...ok.map((r) => `${r.name}: ${r.version}`),
    ...runs.filter((r) => r.error).map((r) => `${r.name}: skipped (${r.error})`),
    "gemm: GFLOPS (share of that engine's ceiling, per round); the ceiling is the larger of the probe's two forms.",
  ],
);
