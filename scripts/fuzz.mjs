#!/usr/bin/env node
// `npm run test:fuzz -- --seconds N [--seed S] [--build simd|relaxed|both]`: the generated-graph
// and misuse fuzzers of test/fuzz/ on new seeds for N seconds each (default 60), on both
// builds. A failure prints its seed and the shrunk case as code; rerun it with --seed.
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
  console.log(`fuzz: ${project}, ${seconds} s per fuzzer${seed !== undefined ? `, seed ${seed}` : ""}`);
  const r = spawnSync("npx", ["vitest", "run", "--project", project, "test/fuzz/", "--testTimeout", String((seconds * 2 + 120) * 1000)], { env, stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
