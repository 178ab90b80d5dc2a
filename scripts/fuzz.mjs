#!/usr/bin/env node
// `npm run test:fuzz -- --seconds N [--seed S] [--build simd|relaxed|both]`: the generated-graph,
// dropout, misuse and few-row GEMM fuzzers of test/fuzz/ on new seeds for N seconds each
// (default 60), on both builds. A failure prints its seed and the shrunk case as code; rerun it with --seed.
//
// The limit holds per fuzzer: no case starts after N s, and a generated graph still being
// checked at N s stops between two of its nodes (as it is generated, and in each float64
// reference run), left unchecked and uncounted; the graph fuzzer prints how long after the
// limit it ended. The overrun is then at most one node of one reference run (measured up to
// 4 s on a busy 2-core machine) plus one simdgrad run of the graph, where one large graph's
// 7–9 reference runs took 69 s. Dropout, misuse and GEMM cases are small (well under a second each).
// Add vitest's start-up and the build (npm run test:fuzz builds first) to the wall time.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const seconds = Number(opt("seconds", "60"));
if (!(seconds > 0)) {
  console.error(`fuzz: --seconds must be a positive number, got ${opt("seconds")}`);
  process.exit(2);
}
const build = opt("build", "both");
const projects = build === "both" ? ["simd128", "relaxed"] : [build === "relaxed" ? "relaxed" : "simd128"];
const env = { ...process.env, FUZZ_SECONDS: String(seconds) };
const seed = opt("seed", undefined);
if (seed !== undefined) env.FUZZ_SEED = seed;
let failed = false;
for (const project of projects) {
  console.log(`fuzz: ${project}, ${seconds} s per fuzzer (a graph under way at the limit stops between two nodes)${seed !== undefined ? `, seed ${seed}` : ""}`);
  const r = spawnSync("npx", ["vitest", "run", "--project", project, "test/fuzz/", "--testTimeout", String((seconds * 2 + 120) * 1000)], { env, stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
