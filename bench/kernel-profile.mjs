// Where one kernel's time goes inside the .wasm: the kernel called in a loop under V8's
// sampling profiler, on a build that keeps its function names, and the samples summed by
// function (self time). Packing, register tiles, endings and activation loops are functions
// of their own unless inlined, so this tells, for example, what share of a convolution is
// spent packing patches (pack_patches_b, copy_group_b) against the GEMM tile
// (gemm_rows_4x8_t) — the question bench/gemm-ab.mjs cannot answer, as it times whole calls.
//
//   node bench/kernel-profile.mjs --gemm=64x784x256 [--case=NN]        # M×K×N, NN/TN/NT/TT
//   node bench/kernel-profile.mjs --conv=32x14x14x16x32 [--kernel=forward|dfilter|dinput]
//                                 (N×H×W×C×F[×S]: an S×S filter, 3 by default, "same" padding, stride 1)
//   node bench/kernel-profile.mjs --act=gelu_forward_slope [--n=262144]   # an activation kernel
//   node bench/kernel-profile.mjs --attention=64x64x16x4 [--causal] [--kernel=forward|backward]
//                                 (slices×T×dh[×heads a sequence]: the character model's
//                                 64 slices of 4 heads, T 64, dh 16; fused attention kernels)
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
import { attentionCall, convCall, gemmCall } from "./lib/kernel-calls.js";

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
    ({ call: fn, flops } = gemmCall(k, arena, m, kk, n, cs[0] === "T" ? 1 : 0, cs[1] === "T" ? 1 : 0));
    what = `gemm ${m}×${kk}×${n} ${cs}`;
  } else if (a.conv) {
    const layer = String(a.conv).split("x").map(Number);
    const kernel = String(a.kernel ?? "forward");
    ({ call: fn, flops } = convCall(k, arena, layer, kernel));
    const [nb, h, w, c, f, sz = 3] = layer;
    what = `conv2d ${kernel} ${nb}×${h}×${w}×${c}→${f} ${sz}×${sz}`;
  } else if (a.attention) {
    const shape = String(a.attention).split("x").map(Number);
    const kernel = String(a.kernel ?? "forward");
    const causal = a.causal !== undefined && a.causal !== "false";
    ({ call: fn, flops } = attentionCall(k, arena, shape, kernel, causal));
    const [nbh, t, dh, heads = 1] = shape;
    what = `attention ${kernel} ${nbh} slices (${heads} heads a sequence) × T ${t} × dh ${dh}${causal ? " causal" : ""}`;
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
    throw new Error("kernel-profile: --gemm=MxKxN, --conv=NxHxWxCxF[xS], --attention=SxTxDH[xHEADS] or --act=NAME");
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
