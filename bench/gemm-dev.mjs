// GEMM speed while developing the kernel: GFLOPS per problem size and transpose case for
// one build, timed on one long-lived instance after a warm-up (median of several runs).
//
//   node bench/gemm-dev.mjs                                   # SIMD128 build
//   node --experimental-wasm-relaxed-simd bench/gemm-dev.mjs  # relaxed build where valid
//
// Options: --build=simd|relaxed|auto   --runs=N (default 7)   --cases=NN,TN,NT,TT
//          --clock=cpu (process CPU time instead of wall time)  --best (best run, not median)
//          --sizes=64,128,…  (square)  --layers (only the layer shapes)  --gemv (matrix-vector)
//          --quick
//          --peak (also time a plain f32x4 mul+add / relaxed_madd loop from bench/lib/peak.js)
// Reads build/simdgrad.<build>.wasm: run `npm run build:wasm` first.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bumpArena } from "./lib/wasm-arena.js";
import { parseArgs } from "./lib/args.js";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs();

const wasmOf = (b) => fs.readFileSync(path.join(root, "build", `simdgrad.${b}.wasm`));
let build = args.build ?? "auto";
if (build === "auto") build = WebAssembly.validate(wasmOf("relaxed")) ? "relaxed" : "simd";
const bytes = wasmOf(build);
if (!WebAssembly.validate(bytes)) {
  console.error(`the ${build} build does not validate here (relaxed SIMD needs --experimental-wasm-relaxed-simd on Node 20)`);
  process.exit(1);
}

const memory = new WebAssembly.Memory({ initial: 2048 }); // 128 MiB, grown on demand
const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, abort() { throw new Error("abort"); } } });
const k = instance.exports;

// A bump allocator is enough here: every problem resets it.
const arena = bumpArena(memory);
const { alloc } = arena;

const runs = Number(args.runs ?? (args.quick ? 3 : 7));
// On a busy shared machine wall time includes time the thread spent waiting for a core;
// --clock=cpu times with this process's CPU time instead (user + system).
const clock = args.clock === "cpu" ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();

/** Median GFLOPS of `runs` timed batches, each ≥ 60 ms, after ≥ 250 ms of warm-up. */
function time(fn, flops) {
  let reps = 1;
  const warmEnd = performance.now() + (args.quick ? 120 : 250);
  let t0 = performance.now();
  fn();
  let once = performance.now() - t0;
  while (performance.now() < warmEnd) {
    t0 = performance.now();
    fn();
    once = Math.min(once, performance.now() - t0);
  }
  reps = Math.max(1, Math.ceil(60 / Math.max(once, 1e-3)));
  const g = [];
  for (let r = 0; r < runs; r++) {
    t0 = clock();
    for (let i = 0; i < reps; i++) fn();
    const dt = (clock() - t0) / reps;
    g.push(flops / (dt * 1e-3) / 1e9);
  }
  g.sort((a, b) => a - b);
  return args.best ? g[g.length - 1] : g[g.length >> 1];
}

const CASES = { NN: [0, 0], TN: [1, 0], NT: [0, 1], TT: [1, 1] };
const cases = (args.cases ?? "NN,TN,NT,TT").split(",");

function problem(m, n, kk, tA, tB) {
  arena.reset();
  const a = alloc(m * kk * 4);
  const b = alloc(kk * n * 4);
  const c = alloc(m * n * 4);
  const scratch = alloc(k.gemm_scratch_bytes(m, n, kk));
  arena.fill(a, m * kk, 1);
  arena.fill(b, kk * n, 2);
  const lda = tA ? m : kk;
  const ldb = tB ? kk : n;
  return () => k.gemm(tA, tB, m, n, kk, 1, a, lda, b, ldb, 0, c, n, scratch);
}

const square = (args.sizes ?? (args.quick ? "64,256,1024" : "64,128,256,512,1024,2048")).split(",").map(Number);
// m × n × k: the forward, dW and dx products of a [64, 784] → [64, 256] layer, and an odd size.
const layers = [
  [64, 256, 784, "x·W (64×784 · 784×256)"],
  [784, 256, 64, "xᵀ·dy (784×64 · 64×256)"],
  [64, 784, 256, "dy·Wᵀ (64×256 · 256×784)"],
  [266, 265, 131, "odd 266×265×131"],
  // the [64, 256] → [64, 10] output layer: forward, dW, dx
  [64, 10, 256, "h·W2 (64×256 · 256×10)"],
  [256, 10, 64, "hᵀ·dy (256×64 · 64×10)"],
  [64, 256, 10, "dy·W2ᵀ (64×10 · 10×256)"],
];
// Matrix-vector products (one example through a layer, and its gradients).
const gemv = [
  [1, 256, 784, "x·W, one example (1×784 · 784×256)"],
  [784, 1, 256, "W·v (784×256 · 256×1)"],
  [1, 1024, 1024, "1×1024 · 1024×1024"],
  [1024, 1, 1024, "1024×1024 · 1024×1"],
];
const problems = args.gemv
  ? gemv
  : [...(args.layers ? [] : square.map((s) => [s, s, s, `${s}×${s}×${s}`])), ...layers];

console.log(`simdgrad gemm, ${build} build, node ${process.version}, ${args.best ? "best" : "median"} of ${runs} runs, ${args.clock === "cpu" ? "CPU" : "wall"} time, GFLOPS (m×n×k)`);
if (args.peak) {
  try {
    const { buildProbe, measurePeak } = await import("./lib/peak.js");
    await buildProbe();
    const p = await measurePeak(build);
    console.log(`peak probe: mul+add ${p.muladd?.toFixed(1)} GFLOPS, relaxed_madd ${p.madd ? p.madd.toFixed(1) : "n/a"} GFLOPS`);
  } catch (e) {
    console.log(`peak probe unavailable: ${e.message}`);
  }
}
const pad = (s, w) => String(s).padStart(w);
console.log(pad("problem", 34) + cases.map((c) => pad(c, 8)).join(""));
for (const [m, n, kk, label] of problems) {
  const cells = [];
  for (const c of cases) {
    const [tA, tB] = CASES[c];
    const run = problem(m, n, kk, tA, tB);
    cells.push(pad(time(run, 2 * m * n * kk).toFixed(1), 8));
  }
  console.log(pad(label, 34) + cells.join(""));
}
