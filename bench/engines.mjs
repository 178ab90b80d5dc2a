// The same SIMD128 kernels in every engine simdgrad runs on: Node (this process's V8), Deno
// (a newer V8), Bun (JavaScriptCore, Safari's engine) and headless Chromium (the browser's
// V8), each timed in a fresh process by bench/lib/engine-gemm.js: the peak probe, the GEMM on
// square and layer shapes as shares of that engine's own ceiling, and a few activation
// kernels in elements per ns. Engines run one after another. Prints a table; decides nothing.
//
//   npm run build && node bench/engines.mjs [--engines=node,deno,bun,chromium] [--rounds=9] [--build=relaxed]
//
// --build=relaxed times the relaxed-SIMD build against the relaxed_madd probe (Node 20 gets
// --experimental-wasm-relaxed-simd; an engine without relaxed SIMD is reported and skipped).
//
// Deno and Bun are the devDependencies' binaries (node_modules/.bin); Chromium is
// /usr/bin/chromium or $CHROMIUM, driven by playwright-core. A missing engine is reported
// and skipped.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./lib/args.js";
import { buildProbe } from "./lib/peak.js";
import { measureEngine } from "./lib/engine-gemm.js";
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
const runner = path.join(here, "lib", "engine-run.mjs");
const bin = (name) => path.join(root, "node_modules", ".bin", name);

/** One runtime in a child process: { version, result } or { error }. */
function child(cmd, argv, versionArgv) {
  if (!fs.existsSync(cmd) && cmd !== process.execPath) return { error: `not found: ${cmd}` };
  const v = spawnSync(cmd, versionArgv, { encoding: "utf8" });
  const version = (v.stdout ?? "").split("\n").filter(Boolean).join(", ");
  const r = spawnSync(cmd, [...argv, runner, peakFile, sgFile, String(rounds), build], { encoding: "utf8", maxBuffer: 1 << 24 });
  const line = (r.stdout ?? "").trim().split("\n").pop();
  if (r.status !== 0 || !line?.startsWith("{")) return { version, error: `exit ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" / ")}` };
  return { version, result: JSON.parse(line) };
}

async function chromium() {
  const exe = process.env.CHROMIUM ?? "/usr/bin/chromium";
  if (!fs.existsSync(exe)) return { error: `not found: ${exe}` };
  const { chromium: pw } = await import("playwright-core");
  const browser = await pw.launch({ executablePath: exe, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage();
    const input = { peak: [...fs.readFileSync(peakFile)], sg: [...fs.readFileSync(sgFile)], rounds, build };
    const result = await page.evaluate(`(${measureEngine.toString()})(${JSON.stringify(input)})`);
    return { version: `Chromium ${browser.version()}`, result };
  } catch (e) {
    return { error: e.message.split("\n")[0] };
  } finally {
    await browser.close();
  }
}

const runs = [];
for (const name of wanted) {
  let run;
  if (name === "node") run = child(process.execPath, build === "relaxed" ? ["--experimental-wasm-relaxed-simd"] : [], ["-p", "`node ${process.version}, V8 ${process.versions.v8}`"]);
  else if (name === "deno") run = child(bin("deno"), ["run", "-A"], ["--version"]);
  else if (name === "bun") run = child(bin("bun"), [], ["--version"]);
  else if (name === "chromium") run = await chromium();
  else throw new Error(`--engines: node, deno, bun or chromium, not ${name}`);
  if (name === "deno" && run.version) run.version = run.version.match(/deno [\d.]+/)?.[0] + ", V8 " + run.version.match(/v8 ([\w.-]+)/)?.[1];
  if (name === "bun" && run.version) run.version = `bun ${run.version} (JavaScriptCore)`;
  runs.push({ name, ...run });
  console.error(`${name}: ${run.error ?? "done"}`);
}

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
