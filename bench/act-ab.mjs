// Two builds of the activation kernels side by side: each kernel timed on both, in
// alternating bursts (order swapped every pair), the ratio the median of the per-pair ratios
// (as bench/gemm-ab.mjs does for the GEMM). For changes to one kernel, where the question is
// whether it got slower, by how much; a kernel the change leaves alone (the forward) shows
// the noise.
//
//   node bench/act-ab.mjs --baseline=/path/to/old/build            # SIMD128
//   node --experimental-wasm-relaxed-simd bench/act-ab.mjs --build=relaxed --baseline=DIR
//   options: --pairs=N (default 21)  --ms=N (burst length, default 25)  --sizes=4096,1048576
//            --kernels=sigmoid_backward,tanh_backward,sigmoid_forward
//            --saturated (y = 1 everywhere for the backward kernels: σ and tanh past their
//            float32 range, where the slope from y is 0)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bumpArena } from "./lib/wasm-arena.js";
import { parseArgs } from "./lib/args.js";
import { compare, median } from "./lib/paired.js";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs();
const build = args.build ?? "simd";
if (!args.baseline) throw new Error("--baseline=DIR: a directory holding simdgrad.<build>.wasm of the build to compare with");
const pairs = Number(args.pairs ?? 21);
const ms = Number(args.ms ?? 25);
const sizes = String(args.sizes ?? "4096,1048576").split(",").map(Number);
const kernels = String(args.kernels ?? "sigmoid_backward,tanh_backward,sigmoid_forward").split(",");
const saturated = Boolean(args.saturated);

async function load(dir) {
  const bytes = fs.readFileSync(path.join(dir, `simdgrad.${build}.wasm`));
  const memory = new WebAssembly.Memory({ initial: 256 });
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, abort() { throw new Error("abort"); } } });
  return { k: instance.exports, arena: bumpArena(memory), memory };
}
const sides = [await load(args.baseline), await load(path.join(root, "build"))];

/** One kernel call on one side's instance, over its own operands (the same values on both). */
function setup(side, kernel, n) {
  const { k, arena, memory } = side;
  arena.reset();
  const a = arena.alloc(n * 4), b = arena.alloc(n * 4), c = arena.alloc(n * 4);
  arena.fill(a, n, 1);
  arena.fill(b, n, 2);
  if (kernel.endsWith("_backward")) {
    // y in [0, 1), as σ's and tanh's outputs (the values do not change the kernels' speed).
    const y = new Float32Array(memory.buffer, a, n);
    for (let i = 0; i < n; i++) y[i] = saturated ? 1 : y[i] + 0.5;
    return () => k[kernel](a, b, c, n, 0);
  }
  return () => k[kernel](a, c, n);
}



console.log(`activations A/B, ${build} build: baseline ${args.baseline} vs ${path.join(root, "build")}; ${pairs} pairs of ${ms} ms bursts, CPU time${saturated ? "; y = 1" : ""}`);
console.log("kernel              n        base el/ns  new el/ns  new/base  (quartiles; > 1: new faster)");
for (const kernel of kernels) {
  for (const n of sizes) {
    const r = compare(setup(sides[0], kernel, n), setup(sides[1], kernel, n), pairs, ms);
    const el = n / 1e6; // elements per ns = n / (ms · 10⁶)
    console.log(`${kernel.padEnd(19)} ${String(n).padEnd(8)} ${(el / r.t0).toFixed(3).padStart(10)}  ${(el / r.t1).toFixed(3).padStart(9)}  ${r.ratio.toFixed(3).padStart(7)}×  (${r.q1.toFixed(3)}–${r.q3.toFixed(3)})`);
  }
}
