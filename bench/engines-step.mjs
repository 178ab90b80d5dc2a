// The library's own training step in every engine simdgrad runs on: Node (a child process,
// as the others), Deno, Bun and headless Chromium, each timing the 784→256→10 MLP step at
// batch 64 (bench/lib/engine-step.js) beside that engine's peak probe, and reporting the
// step's efficiency: the time its matrix products alone would take at the probe's rate, over
// the step's time. The browser loads the minified bundle from the demo's server, as a page
// would. Engines run one after another, each on the build init() picks there (relaxed SIMD
// where the engine has it and fuses its multiply-add; Node 20 has none without a flag, Bun
// computes it unfused and gets SIMD128), against that build's own
// ceiling (mul+add or relaxed_madd); --build=simd runs SIMD128 everywhere.
//
//   npm run build && node bench/engines-step.mjs [--engines=node,node24,deno,bun,chromium,firefox] [--rounds=9] [--build=simd]
//        [--model=cnn]   (the digits CNN of bench/step-profile.mjs --model=cnn --pool=max, batch 32)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "./lib/args.js";
import { buildProbe } from "./lib/peak.js";
import { measureStep } from "./lib/engine-step.js";
import { runEngines } from "./lib/engines.js";
import { printTable, fmt } from "./lib/table.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const args = parseArgs();
const rounds = Number(args.rounds ?? 9);
const wanted = String(args.engines ?? "node,deno,bun,chromium").split(",");
await buildProbe();
if (!fs.existsSync(path.join(root, "dist", "index.js"))) throw new Error("dist/ is missing: run npm run build first");
const peak = Object.fromEntries(["simd", "relaxed"].map((b) => [b, [...fs.readFileSync(path.join(here, "build", `peak.${b}.wasm`))]]));
if (args.build !== undefined && args.build !== "simd") throw new Error(`--build: only simd (the default is each engine's own choice), not ${args.build}`);
const relaxedSimd = args.build === "simd" ? false : undefined;
const model = String(args.model ?? "mlp");
if (model !== "mlp" && model !== "cnn") throw new Error(`--model: mlp or cnn, not ${model}`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "simdgrad-step-"));
const inputFile = path.join(tmp, "input.json");
fs.writeFileSync(inputFile, JSON.stringify({ lib: pathToFileURL(path.join(root, "dist", "index.js")).href, peak, model, rounds, relaxedSimd }));
const runs = await runEngines(wanted, {
  runner: path.join(here, "lib", "engine-step-run.mjs"),
  runnerArgs: [inputFile],
  fn: measureStep,
  // The page imports the minified bundle from the demo's server (any page of its origin).
  serve: {
    start: async () => (await import("../demo/web/serve.js")).startServer({ port: 0 }),
    path: "/dist/index.js",
    input: (origin) => ({ lib: `${origin}/dist/browser/simdgrad.min.js`, peak, model, rounds, relaxedSimd }),
  },
});
fs.rmSync(tmp, { recursive: true, force: true });
const ok = runs.filter((r) => r.result);
if (ok.length === 0) throw new Error(`no engine ran: ${runs.map((r) => `${r.name}: ${r.error}`).join("; ")}`);
printTable(
  `${model === "cnn" ? "digits CNN (conv 1→16, conv 16→32, max pooling, dense 1568→10) training step, batch 32" : "784→256→10 MLP training step, batch 64"}, SGD, ${rounds} rounds beside the probe, medians`,
  [{ title: "", align: "l" }, ...ok.map((r) => ({ title: r.name }))],
  [
    ["build", ...ok.map((r) => r.result.build)],
    ["ceiling: its build's probe (GFLOPS)", ...ok.map((r) => fmt(r.result.peak))],
    ["step (ms)", ...ok.map((r) => fmt(r.result.stepMs, 3))],
    ["step efficiency (GEMM flops at the peak / step)", ...ok.map((r) => `${(100 * r.result.efficiency).toFixed(0)}%`)],
    ["loss before → after", ...ok.map((r) => `${fmt(r.result.loss[0], 3)} → ${fmt(r.result.loss[1], 3)}`)],
  ],
  [...ok.map((r) => `${r.name}: ${r.version}`), ...runs.filter((r) => r.error).map((r) => `${r.name}: skipped (${r.error})`)],
);
