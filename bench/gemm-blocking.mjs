// GEMM block sizes: the whole surface. Compiles assembly/gemm.ts once per (KC, MC, NC)
// variant (the constants rewritten, everything else as in the source), instantiates every
// variant over one memory, and times them all, interleaved, beside the peak probe, on the
// same problems. Prints GFLOPS as a share of the mul+add peak timed in the same rounds.
//
//   node bench/gemm-blocking.mjs                                  # default grid, SIMD128
//   node --experimental-wasm-relaxed-simd bench/gemm-blocking.mjs --build=relaxed
//   node bench/gemm-blocking.mjs --grid=256x128x1024,256x64x256 --sizes=256,1024
//   node bench/gemm-blocking.mjs --thrash=4096                    # + a neighbour thread
//                                                                 #   sweeping 4 MiB
// Options: --rounds=N (default 5)  --cases=NN,TN,NT  --layers (add the 784→256 layer shapes)
//          --narrow (add the 784→256→10 output layer's products, n or k = 10)
//          --src=path/to/gemm.ts   --thrash=KiB (a worker thread that streams over a buffer
//          of that size, read+write, all the time: it shares the last-level cache and, on
//          a core with SMT, the core's L1/L2; its CPU time is not counted)
//
// The clock is the process's CPU time of the main thread's calls (on a busy machine, wall
// time counts time spent waiting for a core). Every variant, every problem, every round:
// median over rounds of the mean of a batch of calls lasting ≥ 30 ms.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bumpArena } from "./lib/wasm-arena.js";
import { startNeighbour } from "./lib/neighbour.js";
import { parseArgs } from "./lib/args.js";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs();
const build = args.build ?? "simd";
const rounds = Number(args.rounds ?? 5);
// A grid entry is KCxMCxNC, or file.ts@KCxMCxNC to take gemm.ts from another file (an older
// version, say: `git show main:assembly/gemm.ts > /tmp/old.ts`).
const grid = (args.grid ?? "256x128x1024,256x128x512,256x64x512,256x64x256,128x128x512,128x64x256,192x96x384")
  .split(",")
  .map((g) => {
    const [file, dims] = g.includes("@") ? g.split("@") : [args.src ?? path.join(root, "assembly/gemm.ts"), g];
    return { file, label: g.includes("@") ? `${path.basename(file, ".ts")}@${dims}` : dims, dims: dims.split("x").map(Number) };
  });

const { default: asc } = await import("assemblyscript/asc");

/**
 * gemm.ts (`src`) compiled alone (plus its imports) for `build`, with KC, MC and NC set:
 * rewritten in src/ops/gemm-blocking.ts (where they are defined now) or, for an older
 * gemm.ts that still defines them itself, in the file.
 */
async function compileVariant(src, kc, mc, nc) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-gemm-"));
  const adir = path.join(dir, "assembly");
  const odir = path.join(dir, "src", "ops");
  fs.mkdirSync(adir);
  fs.mkdirSync(odir, { recursive: true });
  for (const f of fs.readdirSync(path.join(root, "assembly"))) {
    if (f.endsWith(".ts") || f.endsWith(".json")) fs.copyFileSync(path.join(root, "assembly", f), path.join(adir, f));
  }
  // The kernels import a few plain-constant modules from src/ops (the blocking, the
  // activation codes): copy that folder's files too.
  for (const f of fs.readdirSync(path.join(root, "src/ops"))) {
    if (f.endsWith(".ts")) fs.copyFileSync(path.join(root, "src/ops", f), path.join(odir, f));
  }
  const set = (s, name, v) => {
    const re = new RegExp(`const ${name}(: i32)? = \\d+;`);
    if (!re.test(s)) return null;
    return s.replace(re, (m, t) => `const ${name}${t ?? ""} = ${v};`);
  };
  const setAll = (s) => {
    const r = set(s, "KC", kc);
    return r === null ? null : set(set(r, "MC", mc), "NC", nc);
  };
  const blocking = fs.readFileSync(path.join(root, "src/ops/gemm-blocking.ts"), "utf8");
  const inSrc = setAll(src);
  fs.writeFileSync(path.join(adir, "gemm.ts"), inSrc ?? src);
  const inBlocking = inSrc === null ? setAll(blocking) : blocking;
  if (inBlocking === null) throw new Error("no \"const KC = …;\" in gemm.ts or src/ops/gemm-blocking.ts to rewrite");
  fs.writeFileSync(path.join(odir, "gemm-blocking.ts"), inBlocking);
  fs.writeFileSync(path.join(adir, "entry.ts"), 'export * from "./gemm";\n');
  let binary = null;
  const { error, stderr } = await asc.main(
    [path.join(adir, "entry.ts"), "--config", path.join(root, "asconfig.json"), "--target", build, "--outFile", path.join(dir, "out.wasm")],
    { writeFile(name, contents) { if (name.endsWith(".wasm")) binary = contents; } },
  );
  fs.rmSync(dir, { recursive: true, force: true });
  if (error || !binary) throw new Error(`asc failed for ${kc}x${mc}x${nc}: ${error?.message}\n${stderr}`);
  return binary;
}

const memory = new WebAssembly.Memory({ initial: 1024 });
const variants = [];
for (const { file, label, dims: [kc, mc, nc] } of grid) {
  const bin = await compileVariant(fs.readFileSync(file, "utf8"), kc, mc, nc);
  const { instance } = await WebAssembly.instantiate(bin, { env: { memory, abort() { throw new Error("abort"); } } });
  variants.push({ name: label, k: instance.exports });
}

// The peak probe, as the bench suites time it.
const { buildProbe, fasterForm } = await import("./lib/peak.js");
await buildProbe();
const probeWasm = fs.readFileSync(path.join(root, "bench/build", `peak.${build}.wasm`));
const { instance: probe } = await WebAssembly.instantiate(probeWasm, { env: { abort() {} } });
let sink = 0;
const PEAK_ITERS = 1 << 16;
const peakForm = fasterForm(probe.exports, "simd");
const peakFn = () => (sink += probe.exports[peakForm](PEAK_ITERS, 1));
const peakFlops = 96 * PEAK_ITERS;

const arena = bumpArena(memory);
const { alloc, fill } = arena;

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
/** Seconds per call: a batch of calls lasting ≥ 30 ms. */
function timeBatch(fn, reps) {
  const t0 = cpuMs();
  for (let i = 0; i < reps; i++) fn();
  return (cpuMs() - t0) / 1000 / reps;
}
function repsFor(fn) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 40) { fn(); n++; }
  return Math.max(1, Math.ceil(n * 30 / 40));
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

if (args.thrash) await startNeighbour(args.thrash);

const CASES = { NN: [0, 0], TN: [1, 0], NT: [0, 1], TT: [1, 1] };
const cases = (args.cases ?? "NN,TN,NT").split(",");
const sizes = args.sizes === "none" ? [] : (args.sizes ?? "128,256,512,1024").split(",").map(Number);
const problems = sizes.map((s) => [s, s, s]);
if (args.layers) problems.push([64, 256, 784], [784, 256, 64], [64, 784, 256]);
if (args.narrow) problems.push([64, 10, 256], [256, 10, 64], [64, 256, 10], [64, 12, 256], [64, 4, 256]);

console.log(`GEMM block sizes KC×MC×NC, ${build} build, node ${process.version}, median of ${rounds} interleaved rounds, CPU time` +
  (args.thrash ? `, neighbour thread sweeping ${args.thrash} KiB` : ""));
console.log("% of the mul+add peak probe timed in the same rounds (GFLOPS of the peak in the last column)");
const pad = (s, w) => String(s).padStart(w);
console.log(pad("m×n×k case", 18) + variants.map((v) => pad(v.name, 13)).join("") + pad("peak", 8));
const summary = variants.map(() => []);
for (const [m, n, kk] of problems) {
  for (const c of cases) {
    const [tA, tB] = CASES[c];
    arena.reset();
    const a = alloc(m * kk * 4), b = alloc(kk * n * 4), cc = alloc(m * n * 4);
    const scratch = alloc(Math.max(...variants.map((v) => v.k.gemm_scratch_bytes(m, n, kk))));
    fill(a, m * kk, 1); fill(b, kk * n, 2);
    const lda = tA ? m : kk, ldb = tB ? kk : n;
    const fns = variants.map((v) => () => v.k.gemm(tA, tB, m, n, kk, 1, a, lda, b, ldb, 0, cc, n, scratch));
    const flops = 2 * m * n * kk;
    // warm-up: every variant and the probe for a while
    const warmEnd = performance.now() + 300;
    while (performance.now() < warmEnd) { for (const f of fns) f(); peakFn(); }
    const reps = fns.map(repsFor);
    const peakReps = repsFor(peakFn);
    const g = variants.map(() => []);
    const p = [];
    for (let r = 0; r < rounds; r++) {
      const order = variants.map((_, i) => i);
      if (r & 1) order.reverse();
      p.push(peakFlops / timeBatch(peakFn, peakReps) / 1e9);
      for (const i of order) g[i].push(flops / timeBatch(fns[i], reps[i]) / 1e9);
    }
    const pk = median(p);
    const cells = g.map((x, i) => {
      const share = (100 * median(x)) / pk;
      summary[i].push(share);
      return pad(`${median(x).toFixed(1)} ${share.toFixed(0)}%`, 13);
    });
    console.log(pad(`${m}×${n}×${kk} ${c}`, 18) + cells.join("") + pad(pk.toFixed(1), 8));
  }
}
console.log(pad("median share", 18) + summary.map((s) => pad(`${median(s).toFixed(1)}%`, 13)).join(""));
console.log(pad("worst share", 18) + summary.map((s) => pad(`${Math.min(...s).toFixed(1)}%`, 13)).join(""));
if (!Number.isFinite(sink)) console.log("probe sink", sink);
process.exit(0);
