// Where one kernel's time goes inside the .wasm: the kernel called in a loop under V8's
// sampling profiler, on a build that keeps its function names, and the samples summed by
// function (self time). Packing, register tiles, endings and activation loops are functions
// of their own unless inlined, so this tells, for example, what share of a convolution is
// spent packing patches (pack_patches_b, copy_group_b) against the GEMM tile
// (gemm_row_4x8_t) — the question bench/gemm-ab.mjs cannot answer, as it times whole calls.
//
//   node bench/kernel-profile.mjs --gemm=64x784x256 [--case=NN]        # M×K×N, NN/TN/NT/TT
//   node bench/kernel-profile.mjs --conv=32x14x14x16x32 [--kernel=forward|dfilter|dinput]
//                                 (N×H×W×C×F[×S]: an S×S filter, 3 by default, "same" padding, stride 1)
//   node bench/kernel-profile.mjs --act=gelu_forward_slope [--n=262144]   # an activation kernel
//   options: --ms=3000 (time in the loop)  --top=12 (functions listed)
//            --wasm=FILE (a named .wasm to profile instead of compiling assembly/ now)
//
// Compiles assembly/index.ts for the SIMD128 target with --debug (names kept, the same
// optimization level) into bench/build/named.simd.wasm, then runs the loop in a child
// process under --cpu-prof. The rate it prints is the profiled run's, a little slower than an
// unprofiled one; use bench/gemm-ab.mjs for speeds.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./lib/args.js";
import { bumpArena } from "./lib/wasm-arena.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const args = parseArgs();
const ms = Number(args.ms ?? 3000);

if (args.child) {
  await child(args);
  process.exit(0);
}

let wasm = args.wasm;
if (!wasm) {
  wasm = path.join(here, "build", "named.simd.wasm");
  fs.mkdirSync(path.dirname(wasm), { recursive: true });
  execFileSync(process.execPath, [path.join(root, "node_modules/assemblyscript/bin/asc.js"), "assembly/index.ts", "--target", "simd", "--debug", "-o", wasm], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kernel-profile-"));
const passed = process.argv.slice(2).filter((a) => !a.startsWith("--wasm"));
const run = spawnSync(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, fileURLToPath(import.meta.url), "--child", `--wasm=${wasm}`, ...passed], { encoding: "utf8" });
if (run.status !== 0) throw new Error(`kernel-profile: the profiled run failed:\n${run.stderr}`);
process.stdout.write(run.stdout);
const file = fs.readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
const profile = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
fs.rmSync(dir, { recursive: true, force: true });
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const name = nodes.get(id).callFrame.functionName || "(anonymous)";
  const dt = profile.timeDeltas[i];
  self.set(name, (self.get(name) ?? 0) + dt);
  total += dt;
});
console.log("self time   function");
for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top ?? 12))) {
  console.log(`${(100 * t / total).toFixed(1).padStart(8)}%   ${name}`);
}

/** The profiled process: one kernel on its own instance, called for `ms` milliseconds. */
async function child(a) {
  const memory = new WebAssembly.Memory({ initial: 256 });
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(a.wasm), { env: { memory, abort() { throw new Error("abort"); } } });
  const k = instance.exports;
  const arena = bumpArena(memory);
  let fn, flops = 0, what;
  if (a.gemm) {
    const [m, kk, n] = String(a.gemm).split("x").map(Number);
    const cs = String(a.case ?? "NN");
    const tA = cs[0] === "T" ? 1 : 0, tB = cs[1] === "T" ? 1 : 0;
    const pa = arena.alloc(m * kk * 4), pb = arena.alloc(kk * n * 4), pc = arena.alloc(m * n * 4);
    const s = arena.alloc(k.gemm_scratch_bytes(m, n, kk));
    arena.fill(pa, m * kk, 1);
    arena.fill(pb, kk * n, 2);
    fn = () => k.gemm(tA, tB, m, n, kk, 1, pa, tA ? m : kk, pb, tB ? kk : n, 0, pc, n, s);
    flops = 2 * m * n * kk;
    what = `gemm ${m}×${kk}×${n} ${cs}`;
  } else if (a.conv) {
    const [nb, h, w, c, f, sz = 3] = String(a.conv).split("x").map(Number);
    const kernel = String(a.kernel ?? "forward");
    const pair = (lo, hi) => lo | (hi << 16);
    const M = nb * h * w, K = sz * sz * c;
    const x = arena.alloc(M * c * 4), fl = arena.alloc(K * f * 4), y = arena.alloc(M * f * 4);
    const s = arena.alloc(k.conv2d_scratch_bytes(M, K, f));
    arena.fill(x, M * c, 1);
    arena.fill(fl, K * f, 2);
    arena.fill(y, M * f, 3);
    const geo = [nb, h, w, c, f, h, w, pair(sz, sz), pair(1, 1), pair(1, 1), pair((sz - 1) >> 1, (sz - 1) >> 1)];
    if (kernel === "forward") fn = () => k.conv2d_forward(x, fl, y, ...geo, 0, M, s);
    else if (kernel === "dfilter") fn = () => k.conv2d_backward_filter(x, y, fl, ...geo, 0, K, 0, f, 0, s);
    else if (kernel === "dinput") fn = () => k.conv2d_backward_input(y, fl, x, ...geo, 0, s);
    else throw new Error(`--kernel: forward, dfilter or dinput, not ${kernel}`);
    flops = 2 * M * K * f;
    what = `conv2d ${kernel} ${nb}×${h}×${w}×${c}→${f} ${sz}×${sz}`;
  } else if (a.act) {
    const name = String(a.act), n = Number(a.n ?? 262144);
    const f = k[name];
    if (typeof f !== "function") throw new Error(`--act: no kernel ${name} in the module`);
    const x = arena.alloc(n * 4), y = arena.alloc(n * 4), d = arena.alloc(n * 4);
    arena.fill(x, n, 1);
    const v = new Float32Array(memory.buffer, x, n);
    for (let i = 0; i < n; i++) v[i] *= 8; // [−4, 4): both sides of the activations' bends
    // The forms activation kernels take: NAME_forward(x, y, n[, p]), NAME_forward_slope(x, y,
    // d, n), NAME_backward(x, dy, dx, n, accumulate) (p = 0.1 where there is one).
    if (/_forward$/.test(name) && f.length === 3) fn = () => f(x, y, n);
    else if (/_forward$/.test(name) && f.length === 4) fn = () => f(x, y, n, 0.1);
    else if (/_forward_slope$/.test(name) && f.length === 4) fn = () => f(x, y, d, n);
    else if (/_backward$/.test(name) && f.length === 5) fn = () => f(x, y, d, n, 0);
    else throw new Error(`--act: ${name} (${f.length} arguments) is not NAME_forward(x, y, n[, p]), NAME_forward_slope(x, y, d, n) or NAME_backward(x, dy, dx, n, accumulate)`);
    what = `${name}, n = ${n}`;
    flops = 0;
    a.elements = n;
  } else {
    throw new Error("kernel-profile: --gemm=MxKxN, --conv=NxHxWxCxF[xS] or --act=NAME");
  }
  for (let i = 0; i < 20; i++) fn();
  const t0 = performance.now();
  let calls = 0;
  while (performance.now() - t0 < ms) {
    fn();
    calls++;
  }
  const per = (performance.now() - t0) / calls;
  const rate = flops > 0 ? `${(flops / per / 1e6).toFixed(1)} GFLOPS` : `${(per * 1e6 / a.elements).toFixed(2)} ns per element`;
  console.log(`${what}: ${per.toFixed(3)} ms a call, ${rate} (profiled), ${calls} calls`);
}
