// Load time: from nothing to ready, in fresh processes (median of several), for simdgrad
// (import + init()) and TensorFlow.js (import of core and the wasm backend, setBackend("wasm"),
// ready()), and the first 64×64 matmul after that.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { printTable, fmt, ratio, change } from "../lib/table.js";

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), "../lib/load-probe.js");

function median(values) {
  const s = values.filter((v) => typeof v === "number").sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function probe(args) {
  const r = spawnSync(process.execPath, [...process.execArgv, PROBE, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`load probe ${args.join(" ")} failed: ${(r.stderr || "").trim().split("\n").slice(-3).join(" ")}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

export async function run(ctx) {
  const { build, quick, prev } = ctx;
  const runs = quick ? 3 : 9;
  const libs = [
    { key: "simdgrad", label: `simdgrad (${build})`, args: ["simdgrad", build] },
    { key: "tfjs", label: "tfjs-wasm", args: ["tfjs"] },
  ];
  const rows = [];
  for (const lib of libs) {
    const samples = [];
    let error = null;
    // The first process of each library is not counted: it warms the file cache.
    try {
      probe(lib.args);
      for (let i = 0; i < runs; i++) samples.push(probe(lib.args));
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const pick = (f) => median(samples.map((s) => s[f]));
    rows.push({
      key: lib.key,
      lib: lib.label,
      importMs: pick("importMs"),
      initMs: pick("initMs"),
      readyMs: error ? `n/a (${error.slice(0, 70)})` : pick("readyMs"),
      firstMatmulMs: pick("firstMatmulMs"),
      runs: samples.length,
    });
  }
  const [s, t] = rows;
  const cells = rows.map((r) => [
    r.lib,
    fmt(r.importMs, 1),
    fmt(r.initMs, 1),
    fmt(r.readyMs, 1),
    r === s ? ratio(t.readyMs, s.readyMs) : "",
    fmt(r.firstMatmulMs, 2),
    change(prev(r.key)?.readyMs, r.readyMs),
  ]);
  printTable(
    `Load time, ms (fresh process each, median of ${runs}; lower is better)`,
    [
      { title: "library", align: "l" },
      { title: "import" },
      { title: "init/ready" },
      { title: "total" },
      { title: "tfjs/sg" },
      { title: "1st matmul" },
      { title: "Δ prev" },
    ],
    cells,
    ["simdgrad: import('simdgrad') then await init(); tfjs: import core + wasm backend, setBackend('wasm'), ready().",
     "1st matmul: a 64×64 matmul right after ready (baseline-tier code). Δ prev: + = faster."],
  );
  return rows;
}
