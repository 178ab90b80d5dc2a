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
//   node bench/gemm-tiles.mjs --tiles=4x8,5x8v                      # v: A packed compact, read four
//                                          rows a load and broadcast by shuffles (the relaxed
//                                          build's 5 × 8 tile: gemm_rows_5x8 in assembly/gemm.ts)
//   node bench/gemm-tiles.mjs --code=5x8          # print the engine's machine code of one
//                                                 #   tile instead (V8's --print-wasm-code)
//   npx deno run -A bench/gemm-tiles.mjs  |  npx bun bench/gemm-tiles.mjs  |  npx -y node@24 bench/gemm-tiles.mjs
//                                                 # the same tiles in another engine
//   node bench/gemm-tiles.mjs --whole --tiles=3x12 [--shapes=252x256x252,768x256x768]
//                                                 # each tile in a whole GEMM (packing, loops, a
//        plain ending; A·B, m and n whole tiles), in paired bursts beside the product's gemm from
//        build/ (4 × 8): the ratio a tile chosen per engine would bring, the results' bits compared
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
// A tile name MRxNR (then s or v, see above), or MRxNRf for the same tile "flat": its depth
// loop alone in the function (called once per pass), which V8 does not unroll; otherwise the
// loop is nested in a loop over passes, as loop 1 nests it in assembly/gemm.ts, and V8
// unrolls it by two.
const tiles = (args.code ?? args.tiles ?? "4x8,5x8,3x12,6x8").split(",").map((t) => {
  const m = /^(\d+)x(\d+)(f?)(s?)(v?)$/.exec(t);
  const [mr, nr] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!(mr >= 1 && nr >= 4 && nr % 4 === 0)) throw new Error(`--tiles: ${t} is not MRxNR (or MRxNRf, MRxNRs, MRxNRv, MRxNRfs, MRxNRfv) with NR a multiple of 4`);
  return { name: t, mr, nv: nr / 4, flat: m[3] === "f", splat: m[4] === "s" || m[5] === "v", lanes: m[5] === "v" };
});

/**
 * A tile's accumulator names, its bytes of A a depth step (as) and the AssemblyScript of one
 * depth step (B's vectors loaded at bp, A's values at ap, one fmadd per accumulator).
 */
function tileParts({ mr, nv, splat, lanes }) {
  const as = splat ? 4 * mr : 16 * mr;
  const acc = [];
  for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) acc.push(`c${r}_${v}`);
  const step = [];
  for (let v = 0; v < nv; v++) step.push(`      const b${v} = v128.load(bp, ${16 * v});`);
  // v: each group of four rows one load, each row's value broadcast by a shuffle.
  if (lanes) for (let g = 0; g < Math.ceil(mr / 4); g++) step.push(`      const av${g} = v128.load(ap, ${16 * g});`);
  for (let r = 0; r < mr; r++) {
    if (lanes) {
      const g = r >> 2, l = r & 3;
      step.push(`      a = i32x4.shuffle(av${g}, av${g}, ${l}, ${l}, ${l}, ${l});`);
    } else step.push(splat ? `      a = v128.load32_splat(ap, ${4 * r});` : `      a = v128.load(ap, ${16 * r});`);
    for (let v = 0; v < nv; v++) step.push(`      c${r}_${v} = fmadd(a, b${v}, c${r}_${v});`);
  }
  return { as, acc, step };
}

/** AssemblyScript of one tile's kernel: reps passes of kc depth steps over panels at ap, bp. */
function tileSource(t) {
  const { name, nv, flat } = t;
  const { as, acc, step } = tileParts(t);
  const fn = `tile_${name}`;
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

/**
 * AssemblyScript of a whole GEMM around one tile (--whole): C = A·B, row-major, m and n whole
 * tiles, k any, in gemm.ts's loops (depth slices of KC = 256, each added to C; A packed per
 * block of at most 16 rows, pre-broadcast or compact as the tile reads it; B packed in NR-column
 * micro-panels of at most 512 columns; loop 1 along a row of C) with a plain ending (the first
 * slice stores, the others add). The same sums as the product's gemm, in the same order.
 */
function wholeSource(t) {
  const { name, mr, nv, splat } = t;
  const { as, acc, step } = tileParts(t);
  const nr = 4 * nv;
  const mc = Math.floor(16 / mr) * mr;
  const nc = Math.floor(512 / nr) * nr;
  const packA = [];
  for (let r = 0; r < mr; r++) {
    packA.push(splat ? `      store<f32>(dst, load<f32>(s + ${r} * rs), ${4 * r});` : `      v128.store(dst, v128.load32_splat(s + ${r} * rs), ${16 * r});`);
  }
  const ending = [];
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < nv; v++) {
      ending.push(`    if (beta) c${r}_${v} = f32x4.add(c${r}_${v}, v128.load(q + ${r} * ld, ${16 * v}));`);
      ending.push(`    v128.store(q + ${r} * ld, c${r}_${v}, ${16 * v});`);
    }
  }
  return `
export function gemm_${name}(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, scratch: usize): void {
  const apack = scratch, bpack = scratch + <usize>${(mc / mr) * as} * <usize>min<i32>(k, 256);
  const ld = <usize>ldc << 2, rs = <usize>lda << 2, ldbb = <usize>ldb << 2;
  for (let jc = 0; jc < n; jc += ${nc}) {
    const nc = min<i32>(${nc}, n - jc);
    for (let pc = 0; pc < k; pc += 256) {
      const kc = min<i32>(256, k - pc);
      const beta = pc > 0;
      let dst = bpack;
      for (let q = 0; q < nc; q += ${nr}) {
        let s = b + <usize>pc * ldbb + (<usize>(jc + q) << 2);
        for (let p = 0; p < kc; p++) {
${Array.from({ length: nv }, (_, v) => `          v128.store(dst, v128.load(s, ${16 * v}), ${16 * v});`).join("\n")}
          s += ldbb;
          dst += ${16 * nv};
        }
      }
      for (let ic = 0; ic < m; ic += ${mc}) {
        const mcb = min<i32>(${mc}, m - ic);
        dst = apack;
        for (let q = 0; q < mcb; q += ${mr}) {
          let s = a + <usize>(ic + q) * rs + (<usize>pc << 2);
          const end = dst + <usize>kc * ${as};
          while (dst < end) {
${packA.join("\n")}
            s += 4;
            dst += ${as};
          }
        }
        for (let ir = 0; ir < mcb; ir += ${mr}) {
          const ap0 = apack + <usize>ir * <usize>kc * ${as / mr};
          const row = c + <usize>(ic + ir) * ld + (<usize>jc << 2);
          for (let jr = 0; jr < nc; jr += ${nr}) {
            let ${acc.map((x) => `${x} = f32x4.splat(0)`).join(", ")};
            let a: v128;
            let ap = ap0, bp = bpack + <usize>(jr / ${nr}) * <usize>kc * ${16 * nv};
            const end = ap0 + <usize>kc * ${as};
            while (ap < end) {
${step.join("\n")}
              ap += ${as};
              bp += ${16 * nv};
            }
            const q = row + (<usize>jr << 2);
${ending.join("\n")}
          }
        }
      }
    }
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
${tiles.map(args.whole ? wholeSource : tileSource).join("")}`;

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

// The engine by name: Deno and Bun report a Node version of their own in process.version.
const engine = globalThis.Deno ? `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`
  : process.versions.bun ? `Bun ${process.versions.bun} (JavaScriptCore)`
  : `Node ${process.version} (V8 ${process.versions.v8})`;

if (args.whole) {
  // Each tile's whole GEMM beside the product's (two instances, paired bursts of CPU time),
  // on shapes whose m and n are whole tiles of every tile asked for.
  const { bumpArena } = await import("./lib/wasm-arena.js");
  const { compare } = await import("./lib/paired.js");
  const instanceOf = async (bytes) => {
    const memory = new WebAssembly.Memory({ initial: 256 });
    const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, abort() { throw new Error("abort"); } } });
    return { k: instance.exports, arena: bumpArena(memory), memory };
  };
  const product = await instanceOf(fs.readFileSync(path.join(here, "..", "build", `simdgrad.${build}.wasm`)));
  const mine = await instanceOf(binary);
  const lcm = (a, b) => { const g = (x, y) => (y ? g(y, x % y) : x); return (a / g(a, b)) * b; };
  const mStep = tiles.reduce((l, t) => lcm(l, t.mr), 4);
  const nStep = tiles.reduce((l, t) => lcm(l, 4 * t.nv), 8);
  const shapes = (args.shapes ?? "256x256x256,768x256x768,64x784x256,784x64x256,1024x1024x1024").split(",").map((x) => {
    const [m, k, n] = x.split("x").map(Number);
    return [Math.round(m / mStep) * mStep, k, Math.round(n / nStep) * nStep];
  });
  const pairs = Number(args.pairs ?? 15);
  console.log(`whole GEMMs by tile, ${build} build, ${engine}: A·B beside the product's gemm (4 × 8), ${pairs} paired bursts of 100 ms, CPU time`);
  for (const [m, k, n] of shapes) {
    const setup = (side) => {
      side.arena.reset();
      const a = side.arena.alloc(m * k * 4), b = side.arena.alloc(k * n * 4), c = side.arena.alloc(m * n * 4);
      side.arena.fill(a, m * k, 1);
      side.arena.fill(b, k * n, 2);
      return { a, b, c };
    };
    const P = setup(product);
    const ps = product.arena.alloc(product.k.gemm_scratch_bytes(m, n, k));
    const base = () => product.k.gemm(0, 0, m, n, k, 1, P.a, k, P.b, n, 0, P.c, n, ps);
    base();
    const want = new Float32Array(product.memory.buffer, P.c, m * n).slice();
    const cells = [`${m}×${k}×${n}`];
    for (const t of tiles) {
      const M = setup(mine);
      const ms = mine.arena.alloc((16 * 16 + 512 * 4) * 256); // an A block (≤ 16 rows, 16 bytes a value) and a B panel (≤ 512 columns) of 256 steps
      const fn = mine.k[`gemm_${t.name}`];
      const call = () => fn(m, n, k, M.a, k, M.b, n, M.c, n, ms);
      call();
      const got = new Float32Array(mine.memory.buffer, M.c, m * n);
      let differ = 0;
      for (let i = 0; i < m * n; i++) if (!Object.is(got[i], want[i])) differ++;
      const r = compare(base, call, pairs, 100);
      cells.push(`${t.name} ${r.ratio.toFixed(3)}× (${r.q1.toFixed(2)}–${r.q3.toFixed(2)}, ${((2 * m * n * k) / r.t1 / 1e6).toFixed(1)} GFLOPS${differ ? `, ${differ} values differ` : ""})`);
    }
    console.log(`  ${cells.join("   ")}   [4 × 8: ${((2 * m * n * k) / compare(base, base, 1, 100).t0 / 1e6).toFixed(1)} GFLOPS]`);
  }
  process.exit(0);
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
console.log(`register tiles, ${build} build, ${engine}, depth ${kc} (L1-resident panels), median of ${rounds} interleaved rounds, CPU time`);
console.log(`peak probe (${build === "relaxed" ? "relaxed_madd" : "mul+add"}): ${pk.toFixed(1)} GFLOPS`);
for (const r of runs) {
  // Live at once: the accumulators and every loaded vector (v: A's loads and one shuffled value).
  const loaded = r.t.lanes ? Math.ceil(r.t.mr / 4) + 1 + r.t.nv : r.t.mr + r.t.nv;
  const regs = r.t.mr * r.t.nv + loaded;
  console.log(`tile ${r.t.name.padEnd(6)} ${median(r.g).toFixed(1).padStart(6)} GFLOPS ${((100 * median(r.g)) / pk).toFixed(0).padStart(4)}% of the peak` +
    (r.t.flat ? "   (not unrolled)" : `   (accumulators + live loaded vectors a step: ${r.t.mr * r.t.nv} + ${loaded} = ${regs})`));
}
if (!Number.isFinite(sink)) console.log("probe sink", sink);
