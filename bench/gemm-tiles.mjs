// The GEMM's register tile, measured bare: the micro-kernel's depth loop (as in
// assembly/gemm.ts: pre-broadcast A, NR/4 vectors of B a step, fmadd into MR × NR/4
// accumulators) for several tile shapes, each on L1-resident panels, nothing else: no
// packing, no edges, no C. Timed interleaved beside the peak probe's loop, in CPU time,
// median over rounds. It answers "which tile would the engine run fastest on this CPU",
// which the block sizes do not change (see the header of assembly/gemm.ts).
//
//   node bench/gemm-tiles.mjs                                   # SIMD128
//   node --experimental-wasm-relaxed-simd bench/gemm-tiles.mjs --build=relaxed
//   node bench/gemm-tiles.mjs --tiles=4x8,5x8,3x12,6x8 --rounds=15 --kc=128
//   node bench/gemm-tiles.mjs --tiles=4x8,4x8f,5x8f                # f: the loop not unrolled
//   node bench/gemm-tiles.mjs --tiles=4x8,4x8s                      # s: A packed compact (MR floats
//                                          a step) and read with broadcast loads, not pre-broadcast
//   node bench/gemm-tiles.mjs --code=5x8          # print the engine's machine code of one
//                                                 #   tile instead (V8's --print-wasm-code)
//   npx deno run -A bench/gemm-tiles.mjs  |  npx bun bench/gemm-tiles.mjs  |  npx -y node@24 bench/gemm-tiles.mjs
//                                                 # the same tiles in another engine
//
// A tile MR×NR needs MR·NR/4 accumulators; in the loop copy V8 (TurboFan) unrolls, it
// schedules every load of a depth step ahead of the step's arithmetic, so MR + NR/4 loaded
// vectors are live as well. On x64 V8 allocates 15 vector registers: 4×8 needs 8 + 6 = 14,
// 5×8 needs 10 + 7 = 17 and spills two accumulators there (see --code).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./lib/args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs();
const build = args.build ?? "simd";
const rounds = Number(args.rounds ?? 11);
const kc = Number(args.kc ?? 128);
// A tile name MRxNR, or MRxNRf for the same tile "flat": its depth loop alone in the
// function (called once per pass), which V8 does not unroll; otherwise the loop is nested
// in a loop over passes, as loop 1 nests it in assembly/gemm.ts, and V8 unrolls it by two.
const tiles = (args.code ?? args.tiles ?? "4x8,5x8,3x12,6x8").split(",").map((t) => {
  const m = /^(\d+)x(\d+)(f?)(s?)$/.exec(t);
  const [mr, nr] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!(mr >= 1 && nr >= 4 && nr % 4 === 0)) throw new Error(`--tiles: ${t} is not MRxNR (or MRxNRf, MRxNRs, MRxNRfs) with NR a multiple of 4`);
  return { name: t, mr, nv: nr / 4, flat: m[3] === "f", splat: m[4] === "s" };
});

/** AssemblyScript of one tile's kernel: reps passes of kc depth steps over panels at ap, bp. */
function tileSource({ name, mr, nv, flat, splat }) {
  const as = splat ? 4 * mr : 16 * mr;
  const fn = `tile_${name}`;
  const acc = [];
  for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) acc.push(`c${r}_${v}`);
  const step = [];
  for (let v = 0; v < nv; v++) step.push(`      const b${v} = v128.load(bp, ${16 * v});`);
  for (let r = 0; r < mr; r++) {
    step.push(splat ? `      a = v128.load32_splat(ap, ${4 * r});` : `      a = v128.load(ap, ${16 * r});`);
    for (let v = 0; v < nv; v++) step.push(`      c${r}_${v} = fmadd(a, b${v}, c${r}_${v});`);
  }
  const sum = acc.reduce((s, c) => `f32x4.add(${s}, ${c})`);
  return `
export function ${fn}(reps: i32, kc: i32, ap0: usize, bp0: usize, out: usize): void {
  ${flat ? "{" : "for (let r = 0; r < reps; r++) {"}
    let ${acc.map((c) => `${c} = f32x4.splat(0)`).join(", ")};
    let a: v128;
    let ap = ap0, bp = bp0;
    const end = ap0 + <usize>kc * ${as};
    while (ap < end) {
${step.join("\n")}
      ap += ${as};
      bp += ${16 * nv};
    }
    v128.store(out, f32x4.add(v128.load(out), ${sum}));
  }
}
`;
}

const source = `
// @ts-ignore: decorator
@inline function fmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}
${tiles.map(tileSource).join("")}`;

const { default: asc } = await import("assemblyscript/asc");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-tiles-"));
fs.writeFileSync(path.join(dir, "tiles.ts"), source);
let binary = null;
const flags = ["--runtime", "stub", "--importMemory", "-O3", "--noAssert", "--enable", "simd", "--outFile", path.join(dir, "tiles.wasm")];
if (build === "relaxed") flags.push("--enable", "relaxed-simd");
const { error, stderr } = await asc.main([path.join(dir, "tiles.ts"), ...flags], {
  writeFile(name, contents) { if (name.endsWith(".wasm")) binary = contents; },
});
fs.rmSync(dir, { recursive: true, force: true });
if (error || !binary) throw new Error(`asc failed: ${error?.message}\n${stderr}`);
if (!WebAssembly.validate(binary)) {
  console.error(`the ${build} tiles do not validate here (relaxed SIMD needs --experimental-wasm-relaxed-simd on Node 20)`);
  process.exit(1);
}

if (args.code) {
  // The engine's code of one tile: a child node with V8's printing flags runs that tile alone.
  const t = tiles[0];
  const file = path.join(os.tmpdir(), `sg-tile-${process.pid}.wasm`);
  fs.writeFileSync(file, binary);
  const runner = `const m = new WebAssembly.Memory({ initial: 16 });
    const i = new WebAssembly.Instance(new WebAssembly.Module(require("fs").readFileSync(${JSON.stringify(file)})), { env: { memory: m, abort() {} } });
    for (let r = 0; r < 200; r++) i.exports.tile_${t.name}(16, ${kc}, 65536, 65536 + ${64 * kc * 8 + 4096 + 192}, 16);`;
  const r = spawnSync(process.execPath, [...process.execArgv, "--print-wasm-code", "--no-liftoff", "-e", runner], { encoding: "utf8", maxBuffer: 1 << 26 });
  fs.rmSync(file, { force: true });
  console.log(r.stdout + r.stderr);
  process.exit(r.status ?? 0);
}

const memory = new WebAssembly.Memory({ initial: 16 });
const { instance } = await WebAssembly.instantiate(binary, { env: { memory, abort() { throw new Error("abort"); } } });
const f = new Float32Array(memory.buffer);
for (let i = 0; i < f.length; i++) f[i] = ((i * 7919) % 1000) / 1000 - 0.5;
// A panel at 64 KiB, B panel 4 KiB further (not 4 KiB-aligned apart from A's).
const ap = 65536, bp = ap + 64 * kc * 8 + 4096 + 192, out = 16;

const { buildProbe, fasterForm } = await import("./lib/peak.js");
await buildProbe();
const probeWasm = fs.readFileSync(path.join(here, "build", `peak.${build}.wasm`));
const { instance: probe } = await WebAssembly.instantiate(probeWasm, { env: { abort() {} } });
let sink = 0;
const PEAK_ITERS = 1 << 16;
const peakForm = fasterForm(probe.exports, build);
const peakFn = () => (sink += probe.exports[peakForm](PEAK_ITERS, 1));
const peakFlops = 96 * PEAK_ITERS;

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
function repsFor(fn) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 40) { fn(); n++; }
  return Math.max(1, Math.ceil((n * 30) / 40));
}
function gflops(fn, reps, flops) {
  const t0 = cpuMs();
  for (let i = 0; i < reps; i++) fn();
  return (flops * reps) / ((cpuMs() - t0) / 1000) / 1e9;
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

const runs = tiles.map((t) => {
  const k = instance.exports[`tile_${t.name}`];
  const fn = t.flat ? () => { for (let i = 0; i < 16; i++) k(1, kc, ap, bp, out); } : () => k(16, kc, ap, bp, out);
  return { t, fn, flops: 2 * t.mr * 4 * t.nv * kc * 16, g: [] };
});
const warmEnd = performance.now() + 300;
while (performance.now() < warmEnd) { for (const r of runs) r.fn(); peakFn(); }
for (const r of runs) r.reps = repsFor(r.fn);
const peakReps = repsFor(peakFn);
const p = [];
for (let round = 0; round < rounds; round++) {
  p.push(gflops(peakFn, peakReps, peakFlops));
  const order = round & 1 ? [...runs].reverse() : runs;
  for (const r of order) r.g.push(gflops(r.fn, r.reps, r.flops));
}
const pk = median(p);
// The engine by name: Deno and Bun report a Node version of their own in process.version.
const engine = globalThis.Deno ? `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`
  : process.versions.bun ? `Bun ${process.versions.bun} (JavaScriptCore)`
  : `Node ${process.version} (V8 ${process.versions.v8})`;
console.log(`register tiles, ${build} build, ${engine}, depth ${kc} (L1-resident panels), median of ${rounds} interleaved rounds, CPU time`);
console.log(`peak probe (${build === "relaxed" ? "relaxed_madd" : "mul+add"}): ${pk.toFixed(1)} GFLOPS`);
for (const r of runs) {
  const regs = r.t.mr * r.t.nv + r.t.mr + r.t.nv;
  console.log(`tile ${r.t.name.padEnd(6)} ${median(r.g).toFixed(1).padStart(6)} GFLOPS ${((100 * median(r.g)) / pk).toFixed(0).padStart(4)}% of the peak` +
    (r.t.flat ? "   (not unrolled)" : `   (accumulators + loaded vectors a step: ${r.t.mr * r.t.nv} + ${r.t.mr + r.t.nv} = ${regs})`));
}
if (!Number.isFinite(sink)) console.log("probe sink", sink);
