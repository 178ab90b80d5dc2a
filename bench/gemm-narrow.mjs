// Narrow GEMMs: the products of a classifier's last layer (n ≈ 10 outputs) and the other
// shapes with one small dimension (n or k or m ≤ 16), called directly on the module (no
// graph), timed beside the peak probe in the same rounds. The three classifier products are
// issued exactly as the linear layer issues them (src/ops/linear.ts): the forward
// gemm_bias_act with a bias, the weight gradient hᵀ·dy and the input gradient dy·Wᵀ
// accumulated into their gradients (β = 1). A few square and 784→256 layer shapes ride
// along to check that the wide products did not move.
//
//   node bench/gemm-narrow.mjs                             # SIMD128, this build
//   node bench/gemm-narrow.mjs --baseline=/tmp/main-build   # also a build copied aside,
//                                                           #   alternated round by round
//   node --experimental-wasm-relaxed-simd bench/gemm-narrow.mjs --build=relaxed
//   node bench/gemm-narrow.mjs --set=sweep     # n = 1..17 (NN, TN) and k = 1..17 (NT)
//   node bench/gemm-narrow.mjs --set=wide      # only the square and layer shapes
//   Options: --rounds=N (default 9)  --ms=N (CPU ms per timed batch, default 15)
//
// Every figure is process CPU time (user + system), median over rounds, GFLOPS and its share
// of the median mul+add (relaxed: relaxed_madd) peak probe of the same rounds. Reads
// build/simdgrad.<build>.wasm (run `npm run build:wasm` first).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bumpArena } from "./lib/wasm-arena.js";
import { parseArgs } from "./lib/args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs();
const build = args.build ?? "simd";
const rounds = Number(args.rounds ?? 9);
const batchMs = Number(args.ms ?? 15);
const set = args.set ?? "layer";

async function load(dir) {
  const bytes = fs.readFileSync(path.join(dir, `simdgrad.${build}.wasm`));
  if (!WebAssembly.validate(bytes)) {
    console.error(`${dir}: the ${build} build does not validate here (relaxed SIMD needs --experimental-wasm-relaxed-simd on Node 20)`);
    process.exit(1);
  }
  const memory = new WebAssembly.Memory({ initial: 256 });
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, abort() { throw new Error("abort"); } } });
  return { ex: instance.exports, arena: bumpArena(memory), memory };
}

// [label, transA, transB, m, n, k, beta, bias]
const CLASSIFIER = [
  ["fwd h·W2 + b", 0, 0, 64, 10, 256, 0, true],
  ["dW2 += hᵀ·dy", 1, 0, 256, 10, 64, 1, false],
  ["dh += dy·W2ᵀ", 0, 1, 64, 256, 10, 1, false],
];
const WIDE = [
  ["64³ NN", 0, 0, 64, 64, 64, 0, false],
  ["256³ NN", 0, 0, 256, 256, 256, 0, false],
  ["256³ TN", 1, 0, 256, 256, 256, 0, false],
  ["256³ NT", 0, 1, 256, 256, 256, 0, false],
  ["fwd x·W1 + b", 0, 0, 64, 256, 784, 0, true],
  ["dW1 += xᵀ·dz", 1, 0, 784, 256, 64, 1, false],
  ["dx = dz·W1ᵀ", 0, 1, 64, 784, 256, 0, false],
];
function sweep() {
  const out = [];
  for (let n = 1; n <= 17; n++) out.push([`n=${n} NN 64×${n}×256`, 0, 0, 64, n, 256, 0, false]);
  for (let n = 1; n <= 17; n++) out.push([`n=${n} TN 256×${n}×64`, 1, 0, 256, n, 64, 0, false]);
  for (let k = 1; k <= 17; k++) out.push([`k=${k} NT 64×256×${k}`, 0, 1, 64, 256, k, 0, false]);
  for (const m of [2, 3, 4, 5, 8, 12]) out.push([`m=${m} NN ${m}×256×256`, 0, 0, m, 256, 256, 0, false]);
  return out;
}
// --shapes=64x256x10NT,… : extra problems m×n×k with their transpose case (β = 0, no bias).
const extra = (args.shapes ? args.shapes.split(",") : []).map((t) => {
  const [, m, n, k, tA, tB] = /^(\d+)x(\d+)x(\d+)([NT])([NT])$/.exec(t) ?? [];
  if (!m) throw new Error(`--shapes: ${t} is not MxNxK followed by NN, TN, NT or TT`);
  return [`${tA}${tB}`, tA === "T" ? 1 : 0, tB === "T" ? 1 : 0, Number(m), Number(n), Number(k), 0, false];
});
const cases = args.shapes && !args.set ? extra : set === "sweep" ? sweep() : set === "wide" ? WIDE : set === "all" ? [...CLASSIFIER, ...sweep(), ...WIDE] : [...CLASSIFIER, ...WIDE];

/** One call of case c on module instance `mod`, its operands allocated and filled. */
function setup({ ex, arena }, [, tA, tB, m, n, k, beta, bias]) {
  const a = arena.alloc(m * k * 4);
  const b = arena.alloc(k * n * 4);
  const c = arena.alloc(m * n * 4);
  const bp = bias ? arena.alloc(n * 4) : 0;
  const scratch = arena.alloc(ex.gemm_scratch_bytes(m, n, k));
  arena.fill(a, m * k, 1);
  arena.fill(b, k * n, 2);
  arena.fill(c, m * n, 3);
  if (bias) arena.fill(bp, n, 4);
  const lda = tA ? m : k;
  const ldb = tB ? k : n;
  if (bias) return () => ex.gemm_bias_act(tA, tB, m, n, k, a, lda, b, ldb, bp, 0, 0, 0, c, n, scratch);
  // β = 1 accumulates: keep C bounded by scaling the products down (α = 2^-10).
  return () => ex.gemm(tA, tB, m, n, k, beta ? 1 / 1024 : 1, a, lda, b, ldb, beta, c, n, scratch);
}

const builds = [["this", await load(path.join(here, "..", "build"))]];
if (args.baseline) builds.push(["baseline", await load(args.baseline)]);

const { buildProbe, fasterForm } = await import("./lib/peak.js");
await buildProbe();
const { instance: probe } = await WebAssembly.instantiate(fs.readFileSync(path.join(here, "build", `peak.${build}.wasm`)), { env: { abort() {} } });
let sink = 0;
const peakForm = fasterForm(probe.exports, build);
const peakCall = () => (sink += probe.exports[peakForm](1 << 14, 1));
const peakFlops = 96 * (1 << 14);

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const median = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[s.length >> 1]; };
function repsFor(fn) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 10) { fn(); n++; }
  return Math.max(1, Math.ceil((n * batchMs) / 10));
}
function gflops(fn, reps, flops) {
  const t0 = cpuMs();
  for (let i = 0; i < reps; i++) fn();
  return (flops * reps) / ((cpuMs() - t0) / 1000) / 1e9;
}

const runs = cases.map((c) => ({
  c,
  flops: 2 * c[3] * c[4] * c[5],
  fns: builds.map(([, mod]) => setup(mod, c)),
  g: builds.map(() => []),
}));
const warmEnd = performance.now() + 400;
while (performance.now() < warmEnd) { for (const r of runs) for (const f of r.fns) f(); peakCall(); }
for (const r of runs) r.reps = r.fns.map(repsFor);
const peakReps = repsFor(peakCall);
const peaks = [];
for (let round = 0; round < rounds; round++) {
  peaks.push(gflops(peakCall, peakReps, peakFlops));
  for (const r of runs) {
    const order = round & 1 ? [...r.fns.keys()].reverse() : [...r.fns.keys()];
    for (const b of order) r.g[b].push(gflops(r.fns[b], r.reps[b], r.flops));
  }
  peaks.push(gflops(peakCall, peakReps, peakFlops));
}
const pk = median(peaks);
console.log(`narrow GEMMs, ${build} build, node ${process.version}, CPU time, median of ${rounds} rounds${args.baseline ? `, baseline ${args.baseline}` : ""}`);
console.log(`peak probe (${build === "relaxed" ? "relaxed_madd" : "mul+add"}): ${pk.toFixed(1)} GFLOPS`);
const pad = (s, w) => String(s).padStart(w);
console.log(`${"problem".padEnd(24)}${pad("m×n×k", 12)}${builds.map(([n]) => pad(n, 9) + pad("%pk", 6)).join("")}${args.baseline ? pad("ratio", 8) : ""}`);
for (const r of runs) {
  const [label, tA, tB, m, n, k] = r.c;
  const g = r.g.map(median);
  console.log(`${label.padEnd(24)}${pad(`${m}×${n}×${k}`, 12)}${g.map((v) => pad(v.toFixed(1), 9) + pad(((100 * v) / pk).toFixed(0) + "%", 6)).join("")}` +
    (g.length > 1 ? pad((g[0] / g[1]).toFixed(2), 8) : ""));
}
if (!Number.isFinite(sink)) console.log("probe sink", sink);
