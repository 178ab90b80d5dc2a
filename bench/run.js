#!/usr/bin/env node
// simdgrad benchmarks: `npm run bench` (after a build) or `node bench/run.js [options]`.
//
//   --quick            short timings (the whole run in under a minute)
//   --suite NAME       only these suites (gemm, activations, train, load, threads, tensors, norm, transformer, conv, sample; repeat or comma-separate)
//   --relaxed          only the relaxed-SIMD build (restarts node with the flag it needs)
//   --simd             only the SIMD128 build
//   --clock cpu|wall   time each sample by the smaller of the process's CPU time and the wall
//                      time (default: a busy machine slows the numbers less) or by wall time
//                      only; load times are always wall-clock
//
// By default the SIMD128 build runs in this process, then the relaxed build in a child
// process under --experimental-wasm-relaxed-simd; both print their tables. The rows go to
// bench/results/latest.json (the run before becomes previous.json) and each table shows the
// change against the previous run where it has the same row.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setProfile, setClock } from "./lib/timing.js";
import { buildProbe, measurePeak, PEAK_RELAXED } from "./lib/peak.js";
import { loadTf, tfInfo } from "./lib/tf.js";
import { printTable, fmt, change } from "./lib/table.js";
import { checkTargets } from "./lib/targets.js";
import { RELAXED_FLAG, relaxedFlags } from "../scripts/relaxed-simd.mjs";
import { printBothBuilds } from "./lib/summary.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.join(here, "results");
const LATEST = path.join(RESULTS, "latest.json");
const PREVIOUS = path.join(RESULTS, "previous.json");
const SUITES = ["gemm", "activations", "train", "load", "threads", "tensors", "norm", "transformer", "conv", "sample"];

function parseArgs(argv) {
  const a = { quick: false, suites: [], relaxed: false, simd: false, child: false, jsonOut: null, clock: "cpu" };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === "--quick") a.quick = true;
    else if (s === "--relaxed") a.relaxed = true;
    else if (s === "--simd") a.simd = true;
    else if (s === "--child") a.child = true;
    else if (s === "--json-out") a.jsonOut = argv[++i];
    else if (s === "--clock" || s.startsWith("--clock=")) {
      a.clock = s.includes("=") ? s.slice(8) : argv[++i];
      if (a.clock !== "cpu" && a.clock !== "wall") throw new Error(`bench: --clock takes cpu or wall, got ${a.clock}`);
    }
    else if (s === "--suite" || s.startsWith("--suite=")) {
      const v = s.includes("=") ? s.slice(8) : argv[++i];
      for (const name of String(v ?? "").split(",").filter(Boolean)) {
        if (!SUITES.includes(name)) throw new Error(`bench: unknown suite "${name}" (suites: ${SUITES.join(", ")})`);
        a.suites.push(name);
      }
    } else if (s === "--help" || s === "-h") {
      const lines = fs.readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1);
      console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith("//"))).map((l) => l.slice(3)).join("\n"));
      process.exit(0);
    } else throw new Error(`bench: unknown option ${s} (see --help)`);
  }
  if (a.relaxed && a.simd) throw new Error("bench: --relaxed and --simd exclude each other");
  if (a.suites.length === 0) a.suites = SUITES;
  return a;
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

/** Whether this engine validates relaxed SIMD (asked of the probe's relaxed build, which uses it). */
function relaxedAvailable() {
  return WebAssembly.validate(fs.readFileSync(PEAK_RELAXED));
}

function cpuModel() {
  const c = os.cpus();
  return c.length ? `${c[0].model.trim()} (${c.length} logical cores)` : "unknown";
}

/** Runs the chosen suites on one build in this process; returns its results. */
async function runBuild(build, args, previousRun) {
  let init;
  try {
    ({ init } = await import("../dist/index.js"));
  } catch (e) {
    throw new Error(`bench: could not load simdgrad from dist/ (run npm run build first): ${e instanceof Error ? e.message : e}`);
  }
  // One thread, like the tfjs wasm backend in Node (and the CPU clock counts one thread).
  const sg = await init({ relaxedSimd: build === "relaxed", threads: 1 });
  if (sg.features.build !== build) throw new Error(`bench: asked for the ${build} build, init() loaded ${sg.features.build}`);
  const tf = await loadTf();
  const header = {
    build,
    buildLabel: build === "relaxed" ? "relaxed SIMD (SIMD128 + relaxed_madd)" : "SIMD128",
    node: process.version,
    v8: process.versions.v8,
    cpu: cpuModel(),
    gemmTile: sg.features.gemmTile,
    date: new Date().toISOString(),
    quick: args.quick,
    clock: args.clockUsed,
    tfjs: tfInfo(tf),
  };
  console.log(`\n=== simdgrad benchmarks: ${header.buildLabel} build ===`);
  console.log(`node ${header.node} (V8 ${header.v8}), ${header.cpu}, GEMM tile ${header.gemmTile}, ${header.date}${args.quick ? ", --quick" : ""}`);
  console.log(
    args.clockUsed === "cpu"
      ? "clock: per sample, the smaller of the process's CPU time and the wall time (waiting for a core is not counted)"
      : "clock: wall time (numbers drop when the machine is busy)",
  );
  console.log(`peers: TensorFlow.js ${header.tfjs.version} wasm backend (SIMD: ${header.tfjs.simd}, threads: ${header.tfjs.threads}), plain JS`);
  if (args.quick) console.log("--quick: short warm-ups, one round, few samples: rough numbers (small tfjs ops may not be fully optimized yet); use a full run for ratios");
  if (previousRun) console.log(`Δ prev: against the ${previousRun.header.buildLabel} run of ${previousRun.header.date}${previousRun.header.quick ? " (--quick)" : ""}`);

  const prevRows = (suite) => {
    const list = previousRun?.suites?.[suite] ?? [];
    return (key) => list.find((r) => r.key === key);
  };

  // Peak probe.
  const peak = await measurePeak(build);
  const pp = prevRows("peak");
  printTable(
    "Peak probe: independent f32x4 chains, no memory traffic (the 128-bit SIMD FLOP ceiling)",
    [{ title: "variant", align: "l" }, { title: "GFLOPS" }, { title: "Δ prev" }],
    peak.rows.map((r) => [r.what, fmt(r.gflops), change(r.gflops, pp(r.key)?.gflops)]),
    [
      `mul+add peak: ${fmt(peak.muladd)} GFLOPS${peak.madd ? `; relaxed_madd (FMA) peak: ${fmt(peak.madd)} GFLOPS` : " (relaxed_madd: see the relaxed run)"}.`,
      "GEMM rows give their share of the mul+add peak.",
    ],
  );
  const result = { header, peak: { muladd: peak.muladd, madd: peak.madd }, suites: { peak: peak.rows } };

  for (const name of args.suites) {
    const suite = await import(`./suites/${name}.js`);
    const t0 = performance.now();
    result.suites[name] = await suite.run({ sg, tf, build, quick: args.quick, peak, prev: prevRows(name) });
    console.log(`  (${name}: ${((performance.now() - t0) / 1e3).toFixed(1)} s)`);
  }
  await sg.close();
  return result;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  setProfile(args.quick ? "quick" : "full");
  args.clockUsed = setClock(args.clock);

  await buildProbe();
  // --relaxed in a node that lacks relaxed SIMD: start again with the flag.
  if (args.relaxed && !relaxedAvailable()) {
    if (process.execArgv.includes(RELAXED_FLAG)) throw new Error("bench: this node does not support relaxed SIMD, even with " + RELAXED_FLAG);
    const r = spawnSync(process.execPath, [...process.execArgv, RELAXED_FLAG, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
    process.exit(r.status ?? 1);
  }

  const previous = readJson(LATEST);
  const prevRun = (build) => previous?.runs?.find((r) => r.header.build === build) ?? null;
  const runs = [];

  const first = args.relaxed ? "relaxed" : "simd";
  runs.push(await runBuild(first, args, prevRun(first)));

  if (args.child) {
    fs.writeFileSync(args.jsonOut, JSON.stringify(runs[0]));
    return;
  }

  if (!args.relaxed && !args.simd) {
    // The relaxed build, in a child process started with the flag it needs on Node 20 (and
    // without it on Node 22+, which rejects it).
    const tmp = path.join(os.tmpdir(), `simdgrad-bench-${process.pid}.json`);
    const childArgs = [...relaxedFlags(), fileURLToPath(import.meta.url), "--child", "--relaxed", "--json-out", tmp];
    if (args.quick) childArgs.push("--quick");
    childArgs.push("--clock", args.clock);
    childArgs.push("--suite", args.suites.join(","));
    const r = spawnSync(process.execPath, childArgs, { stdio: "inherit" });
    if (r.status === 0 && fs.existsSync(tmp)) {
      runs.push(JSON.parse(fs.readFileSync(tmp, "utf8")));
      fs.rmSync(tmp);
    } else {
      console.log(`\n(the relaxed-SIMD run failed with exit code ${r.status}; only the SIMD128 results are kept)`);
    }
  }

  if (runs.length === 2) printBothBuilds(runs[0], runs[1]);
  const ok = checkTargets(runs);

  fs.mkdirSync(RESULTS, { recursive: true });
  if (fs.existsSync(LATEST)) fs.renameSync(LATEST, PREVIOUS);
  fs.writeFileSync(LATEST, JSON.stringify({ date: new Date().toISOString(), quick: args.quick, suites: args.suites, runs }, null, 1) + "\n");
  console.log(`\nrows written to ${path.relative(process.cwd(), LATEST)}${fs.existsSync(PREVIOUS) ? ` (the run before: ${path.relative(process.cwd(), PREVIOUS)})` : ""}`);
  if (!ok) console.log("some targets are not met yet (see above); the benchmarks themselves ran.");
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
