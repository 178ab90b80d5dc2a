// Where a training step's time goes: the 784→256 ReLU→10 softmax-CE step of the train suite
// (zeroGrad, forward, backward, SGD), run many times, with every kernel call timed in CPU
// time. Prints each kernel (GEMMs by shape) with its share of the step, the GEMMs' speed
// as a share of the peak probe timed in the same process, and the step efficiency the
// train suite reports (the time the step's matrix products alone would take at the peak,
// over the step's time), split into what the GEMMs lose and what the rest costs.
//
//   node bench/step-profile.mjs                     # SIMD128, batch 64
//   node --experimental-wasm-relaxed-simd bench/step-profile.mjs --build=relaxed
//   node bench/step-profile.mjs --batch=256 --steps=200 --rounds=5
//   node bench/step-profile.mjs --model=cnn          # the conv suite's digits CNN, batch 32
//   node bench/step-profile.mjs --model=cnn --form=composed   # its bias and ReLU as separate add and relu passes
//   node bench/step-profile.mjs --model=cnn --pool=max        # max pooling, as demo/digits.js has it
//   node bench/step-profile.mjs --model=char         # the transformer suite's character model, batch 16 × 64
//
// Needs `npm run build` (dist/ and build/*.wasm). CPU time rather than wall time: on a
// shared machine wall time counts time spent waiting for a core.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./lib/args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs();
const build = args.build ?? "simd";
const model = args.model ?? "mlp";
if (model !== "mlp" && model !== "cnn" && model !== "char") throw new Error(`--model: mlp, cnn or char, not ${model}`);
const B = Number(args.batch ?? (model === "cnn" ? 32 : model === "char" ? 16 : 64));
// The CNN's conv layers: "fused" (bias and ReLU in the convolution's pass, as the suite runs
// them) or "composed" (conv2d, add, relu: three passes each way, the same values).
const form = args.form ?? "fused";
if (form !== "fused" && form !== "composed") throw new Error(`--form: fused or composed, not ${form}`);
// The CNN's pooling: "avg" (as the conv suite runs it) or "max" (as demo/digits.js does).
const pool = args.pool ?? "avg";
if (pool !== "avg" && pool !== "max") throw new Error(`--pool: avg or max, not ${pool}`);
const poolOp = pool === "max" ? "maxPool2d" : "avgPool2d";
const steps = Number(args.steps ?? 200);
const rounds = Number(args.rounds ?? 5);

const { init } = await import("../dist/index.js");
const sg = await init({ relaxedSimd: build === "relaxed", threads: 1, ...(args.wasm ? { wasm: args.wasm } : {}) });
if (sg.features.build !== build) throw new Error(`asked for the ${build} build, init() loaded ${sg.features.build} (relaxed SIMD needs --experimental-wasm-relaxed-simd)`);

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

// Every kernel behind a timer (the runtime reads rt.kernels at each call).
const raw = sg.rt.kernels;
const timed = {};
const stats = new Map();
let timing = false;
for (const name of Object.keys(raw)) {
  const f = raw[name];
  if (typeof f !== "function") continue;
  timed[name] = (...a) => {
    if (!timing) return f(...a);
    const t0 = cpuMs();
    const r = f(...a);
    const dt = cpuMs() - t0;
    let key = name, flops = 0;
    if (name === "gemm" || name === "gemm_bias_act") {
      const [tA, tB, m, n, k] = a;
      key = `${name} ${m}×${n}×${k} ${tA ? "T" : "N"}${tB ? "T" : "N"}`;
      flops = 2 * m * n * k;
    } else if (name.startsWith("conv2d_") && name !== "conv2d_scratch_bytes") {
      // (x|dy, filter|dy, out, n, h, w, c, f, ho, wo, ksize, …): the equal GEMM's flops
      const [, , , n, h, w, c, f, ho, wo, ksize] = a;
      const kk = (ksize & 0xffff) * (ksize >>> 16) * c;
      let m = n * ho * wo;
      if (name.startsWith("conv2d_forward")) m = a[15]; // (row0, rows): this call's rows
      key = `${name} ${n}×${h}×${w}×${c}→${f}`;
      flops = name === "conv2d_backward_filter" ? 2 * m * a[15] * a[17] : 2 * m * kk * f; // (q0, qn, f0, fn)
    } else if (name === "attention_forward" || name === "attention_backward") {
      // (nbh, t, dh, heads, ld, s0, …, causal at 13 or 17): QKᵀ and P·V forward, twice as many backward;
      // the causal half only when causal, as the transformer suite counts
      const [nbh, t, dh] = a;
      const causal = a[name === "attention_forward" ? 13 : 17];
      key = `${name} ${nbh}×${t}×${dh}${causal ? " causal" : ""}`;
      flops = (name === "attention_forward" ? 4 : 8) * nbh * t * t * dh * (causal ? 0.5 : 1);
    }
    let s = stats.get(key);
    if (!s) stats.set(key, (s = { calls: 0, ms: [], cur: 0, flops: 0 }));
    s.calls++;
    s.cur += dt;
    s.flops += flops;
    return r;
  };
}
sg.rt.kernels = timed;

function uniform(n, seed, lo, hi) {
  const f = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    f[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return f;
}
let step, gemmFlops, title;
if (model === "mlp") {
  const [ni, nh, no] = [784, 256, 10];
  const g = sg.graph();
  const x = g.input([B, ni], "x");
  const y = g.input([B, no], "y");
  const W1 = g.param([ni, nh], { data: uniform(ni * nh, 7, -Math.sqrt(6 / ni), Math.sqrt(6 / ni)), name: "W1" });
  const b1 = g.param([nh], { name: "b1" });
  const W2 = g.param([nh, no], { data: uniform(nh * no, 9, -Math.sqrt(6 / nh), Math.sqrt(6 / nh)), name: "W2" });
  const b2 = g.param([no], { name: "b2" });
  const loss = g.softmaxCrossEntropy(g.linear(g.linear(x, W1, b1, "relu"), W2, b2), y);
  const opt = sg.sgd(g.params, { lr: 0.05 });
  const yv = new Float32Array(B * no);
  for (let r = 0; r < B; r++) yv[r * no + (r % no)] = 1;
  g.forward({ x: sg.tensor([B, ni], uniform(B * ni, 101, 0, 1)), y: sg.tensor([B, no], yv) });
  step = () => { opt.zeroGrad(); g.forward(); g.backward(loss); opt.step(); };
  gemmFlops = 2 * B * (ni * nh + nh * no) * 2 + 2 * B * no * nh; // as bench/suites/train.js counts
  title = `training step 784→256 ReLU→10, softmax CE, SGD, batch ${B}`;
} else if (model === "char") {
  // bench/suites/char-model-peers.js's step: the demo's character transformer (2 pre-norm
  // blocks, d_model 64, 4 heads, context 64, GeLU MLP 256) on one fixed batch of Brown corpus
  // text, forward, backward, clipping, AdamW. Its flops: the GEMMs the kernels report.
  const { charBatch, sgCharStep } = await import("./suites/char-model-peers.js");
  const s = sgCharStep(sg, charBatch(B));
  step = s.step;
  gemmFlops = null;
  title = `character transformer training step (2 blocks, d 64, 4 heads, context 64), AdamW, batch ${B} × 64`;
} else {
  // bench/suites/conv.js's CNN: conv 3×3 1→16 + bias, ReLU, avg pool 2, conv 3×3 16→32 +
  // bias, ReLU, avg pool 2, dense 1568→10, softmax CE, SGD ("same" padding).
  const he = (fanIn, n, seed) => uniform(n, seed, -Math.sqrt(6 / fanIn), Math.sqrt(6 / fanIn));
  const g = sg.graph();
  const x = g.input([B, 28, 28, 1], "x");
  const t = g.input([B, 10], "t");
  const f1 = g.param([3, 3, 1, 16], { data: he(9, 144, 31), name: "f1" });
  const f2 = g.param([3, 3, 16, 32], { data: he(144, 144 * 32, 32), name: "f2" });
  const W = g.param([1568, 10], { data: he(1568, 15680, 33), name: "W" });
  const b = g.param([10], { name: "b" });
  const c1 = g.param([16], { data: uniform(16, 35, -0.1, 0.1), name: "c1" });
  const c2 = g.param([32], { data: uniform(32, 36, -0.1, 0.1), name: "c2" });
  const conv = (v, f, c) => (form === "fused"
    ? g.conv2d(v, f, { padding: "same", bias: c, activation: "relu" })
    : g.relu(g.add(g.conv2d(v, f, { padding: "same" }), c)));
  let h = g[poolOp](conv(x, f1, c1), { size: 2 });
  h = g[poolOp](conv(h, f2, c2), { size: 2 });
  const loss = g.softmaxCrossEntropy(g.linear(g.reshape(h, [B, 1568]), W, b), t);
  const opt = sg.sgd(g.params, { lr: 0.05 });
  const tv = new Float32Array(B * 10);
  for (let r = 0; r < B; r++) tv[r * 10 + (r % 10)] = 1;
  g.forward({ x: sg.tensor([B, 28, 28, 1], uniform(B * 784, 34, 0, 1)), t: sg.tensor([B, 10], tv) });
  step = () => { opt.zeroGrad(); g.forward(); g.backward(loss); opt.step(); };
  // conv 1→16 forward and filter gradient (its input gradient is not needed), conv 16→32
  // all three, the dense layer's forward, weight and input gradients
  gemmFlops = 2 * B * 784 * 9 * 16 * 2 + 3 * 2 * B * 196 * 144 * 32 + 3 * 2 * B * 1568 * 10;
  title = `digits CNN training step (conv 1→16, conv 16→32 with bias and ReLU ${form}, ${pool} pooling, dense 1568→10), softmax CE, SGD, batch ${B}`;
}
// The peak probe, as the bench suites time it.
const { buildProbe, fasterForm } = await import("./lib/peak.js");
await buildProbe();
const { instance: probe } = await WebAssembly.instantiate(fs.readFileSync(path.join(here, "build", `peak.${build}.wasm`)), { env: { abort() {} } });
let sink = 0;
const peakForm = fasterForm(probe.exports, build);
const peakFn = () => (sink += probe.exports[peakForm](1 << 16, 1));
const peakGflops = () => { const t0 = cpuMs(); for (let i = 0; i < 20; i++) peakFn(); return (20 * 96 * (1 << 16)) / ((cpuMs() - t0) / 1000) / 1e9; };

const warmEnd = performance.now() + 500;
while (performance.now() < warmEnd) step();
const plain = [], wrapped = [], peaks = [];
for (let r = 0; r < rounds; r++) {
  peaks.push(peakGflops());
  let t0 = cpuMs();
  for (let i = 0; i < steps; i++) step();
  plain.push((cpuMs() - t0) / steps);
  timing = true;
  t0 = cpuMs();
  for (let i = 0; i < steps; i++) step();
  wrapped.push((cpuMs() - t0) / steps);
  timing = false;
  for (const s of stats.values()) { s.ms.push(s.cur / steps); s.cur = 0; }
}
const pk = median(peaks);
const stepMs = median(plain);
const rows = [...stats].map(([key, s]) => ({ key, calls: s.calls / steps / rounds, ms: median(s.ms), flops: s.flops / steps / rounds }))
  .sort((a, b) => b.ms - a.ms);
const kernelMs = rows.reduce((t, r) => t + r.ms, 0);
const wrappedMs = median(wrapped);

console.log(`${title}: ${build} build, node ${process.version}, CPU time, median of ${rounds} rounds of ${steps} steps`);
console.log(`peak probe (${build === "relaxed" ? "relaxed_madd" : "mul+add"}) ${pk.toFixed(1)} GFLOPS; step ${stepMs.toFixed(3)} ms (${wrappedMs.toFixed(3)} ms with every kernel timed)`);
console.log("");
const pad = (s, w) => String(s).padStart(w);
console.log(`${"kernel".padEnd(34)}${pad("calls", 6)}${pad("ms/step", 9)}${pad("share", 7)}${pad("GFLOPS", 8)}${pad("% peak", 8)}`);
for (const r of rows) {
  const gf = r.flops > 0 ? r.flops / (r.ms / 1000) / 1e9 : 0;
  console.log(`${r.key.padEnd(34)}${pad(r.calls.toFixed(0), 6)}${pad(r.ms.toFixed(4), 9)}${pad(((100 * r.ms) / wrappedMs).toFixed(1) + "%", 7)}` +
    (gf ? `${pad(gf.toFixed(1), 8)}${pad(((100 * gf) / pk).toFixed(0) + "%", 8)}` : ""));
}
const outside = Math.max(0, wrappedMs - kernelMs);
console.log(`${"outside the kernels (JS)".padEnd(34)}${pad("", 6)}${pad(outside.toFixed(4), 9)}${pad(((100 * outside) / wrappedMs).toFixed(1) + "%", 7)}`);
const gemmMs = rows.filter((r) => r.flops > 0).reduce((t, r) => t + r.ms, 0);
// (The char model counts the flops its GEMM and attention calls reported.)
const gemmAtPeakMs = ((gemmFlops ?? rows.reduce((t, r) => t + r.flops, 0)) / (pk * 1e9)) * 1000;
console.log("");
console.log(`step efficiency (${model === "cnn" ? "GEMM and convolution" : model === "char" ? "GEMM" : "GEMM"} flops at the peak / step time): ${((100 * gemmAtPeakMs) / stepMs).toFixed(0)}%`);
console.log(`  = the GEMMs' own speed, ${((100 * gemmAtPeakMs) / gemmMs).toFixed(0)}% of the peak, × the GEMMs' share of the step, ${((100 * gemmMs) / wrappedMs).toFixed(0)}%`);
if (!Number.isFinite(sink)) console.log("probe sink", sink);
process.exit(0);
