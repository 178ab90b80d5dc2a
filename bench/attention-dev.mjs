// Fused vs composed causal attention (forward + backward) while developing the kernel:
// B·heads = 64, T = 256, dh = 64 by default, one build, one thread, timed alternating by
// process CPU time, medians of several rounds.
//
//   node bench/attention-dev.mjs [--rounds=N] [--min-ms=300] [--t=256] [--dh=64] [--fused-only]
//   node --experimental-wasm-relaxed-simd bench/attention-dev.mjs --relaxed
//   node bench/attention-dev.mjs --baseline=DIR   # also the fused op on another build
//     (--wasm=DIR: this build from DIR instead of build/)
//     (a directory holding its simdgrad.*.wasm, e.g. main's build/ copied aside), timed
//     interleaved in the same process: the ratio of medians baseline / this build
// Reads dist/: run `npm run build` first.
import { init } from "../dist/index.js";
import { parseArgs } from "./lib/args.js";

const args = parseArgs();
const B = 4, H = 16, T = Number(args.t ?? 256), DH = Number(args.dh ?? 64);
const SHAPE = [B, H, T, DH];
const N = B * H * T * DH;
const rounds = Number(args.rounds ?? 7);
const sg = await init({ relaxedSimd: !!args.relaxed, threads: 1, ...(args.wasm ? { wasm: args.wasm } : {}) });
const sgBase = args.baseline ? await init({ relaxedSimd: !!args.relaxed, threads: 1, wasm: args.baseline }) : null;

function rand(n, seed) {
  const f = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    f[i] = (s >>> 0) / 4294967296 - 0.5;
  }
  return f;
}
const d = { q: rand(N, 31), k: rand(N, 32), v: rand(N, 33), dy: rand(N, 34) };
const mask = new Float32Array(T * T);
for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) mask[i * T + j] = -1e9;

function fused(sg) {
  const g = sg.graph();
  const q = g.input(SHAPE, "q", { requiresGrad: true });
  const k = g.input(SHAPE, "k", { requiresGrad: true });
  const v = g.input(SHAPE, "v", { requiresGrad: true });
  const y = g.attention(q, k, v, { causal: true });
  const dy = sg.tensor(SHAPE, d.dy);
  g.forward({ q: d.q, k: d.k, v: d.v });
  return () => { g.forward(); g.backward(y, dy); };
}
function composed() {
  const g = sg.graph();
  const q = g.input(SHAPE, "q", { requiresGrad: true });
  const k = g.input(SHAPE, "k", { requiresGrad: true });
  const v = g.input(SHAPE, "v", { requiresGrad: true });
  const m = g.input([T, T], "mask");
  const r = (x) => g.reshape(x, [B * H, T, DH]);
  const s = g.add(g.scale(g.matmul(r(q), r(k), { transposeB: true }), 1 / Math.sqrt(DH)), m);
  const y = g.reshape(g.matmul(g.softmax(s), r(v)), SHAPE);
  const dy = sg.tensor(SHAPE, d.dy);
  g.forward({ q: d.q, k: d.k, v: d.v, mask });
  return () => { g.forward(); g.backward(y, dy); };
}
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const minMs = Number(args["min-ms"] ?? 300);
function time(f) {
  let n = 0;
  const c0 = cpu(), w0 = performance.now();
  do { f(); n++; } while (performance.now() - w0 < minMs);
  return Math.min(cpu() - c0, performance.now() - w0) / n;
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const fns = args["fused-only"] ? { fused: fused(sg) } : { fused: fused(sg), composed: composed() };
if (sgBase) fns.baseline = fused(sgBase);
for (const f of Object.values(fns)) (f(), f());
const t = Object.fromEntries(Object.keys(fns).map((n) => [n, []]));
// Rounds alternate the order (ABBA…), so a drift in the machine's speed within a round
// weighs on every implementation alike.
for (let r = 0; r < rounds; r++) {
  const names = Object.keys(fns);
  for (const n of r % 2 ? names.reverse() : names) t[n].push(time(fns[n]));
}
const q = (a, f) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(f * s.length))]; };
const ratios = t.composed ? t.fused.map((f, i) => t.composed[i] / f) : [];
const gf = (7 * 2 * B * H * T * T * DH / 2) / (med(t.fused) * 1e6);
console.log(`${args.relaxed ? "relaxed" : "simd128"} T ${T} dh ${DH}: fused ${med(t.fused).toFixed(1)} ms (${gf.toFixed(1)} GFLOPS)` +
  (t.composed ? `, composed ${med(t.composed).toFixed(1)} ms, ratio of medians ${(med(t.composed) / med(t.fused)).toFixed(2)}×, median of per-round ratios ${med(ratios).toFixed(2)}×` : "") +
  `  [fused ${t.fused.map((x) => x.toFixed(0)).join(" ")}]` +
  (t.baseline ? `\n  baseline fused ${med(t.baseline).toFixed(1)} ms: baseline / this ${(med(t.baseline) / med(t.fused)).toFixed(3)}×, median of per-round ratios ${med(t.baseline.map((b, i) => b / t.fused[i])).toFixed(3)}× (quartiles ${[0.25, 0.75].map((f) => q(t.baseline.map((b, i) => b / t.fused[i]), f).toFixed(3)).join(" – ")});` +
    ` fastest tenth: this ${q(t.fused, 0.1).toFixed(1)} ms, baseline ${q(t.baseline, 0.1).toFixed(1)} ms (${(q(t.baseline, 0.1) / q(t.fused, 0.1)).toFixed(3)}×)` : ""));
await sg.close?.();
await sgBase?.close?.();
