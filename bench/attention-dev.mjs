// Fused vs composed causal attention (forward + backward) while developing the kernel:
// B·heads = 64, T = 256, dh = 64 by default, one build, one thread, timed alternating by
// process CPU time, medians of several rounds.
//
//   node bench/attention-dev.mjs [--rounds=N] [--t=256] [--dh=64] [--fused-only]
//   node --experimental-wasm-relaxed-simd bench/attention-dev.mjs --relaxed
// Reads dist/: run `npm run build` first.
import { init } from "../dist/index.js";

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, "").split("=");
  return [k, v ?? "1"];
}));
const B = 4, H = 16, T = Number(args.t ?? 256), DH = Number(args.dh ?? 64);
const SHAPE = [B, H, T, DH];
const N = B * H * T * DH;
const rounds = Number(args.rounds ?? 7);
const sg = await init({ relaxedSimd: !!args.relaxed, threads: 1 });

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

function fused() {
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
function time(f, minMs = 300) {
  let n = 0;
  const c0 = cpu(), w0 = performance.now();
  do { f(); n++; } while (performance.now() - w0 < minMs);
  return Math.min(cpu() - c0, performance.now() - w0) / n;
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const fns = args["fused-only"] ? { fused: fused() } : { fused: fused(), composed: composed() };
for (const f of Object.values(fns)) (f(), f());
const t = Object.fromEntries(Object.keys(fns).map((n) => [n, []]));
for (let r = 0; r < rounds; r++) for (const n in fns) t[n].push(time(fns[n]));
const ratios = t.composed ? t.fused.map((f, i) => t.composed[i] / f) : [];
const gf = (7 * 2 * B * H * T * T * DH / 2) / (med(t.fused) * 1e6);
console.log(`${args.relaxed ? "relaxed" : "simd128"} T ${T} dh ${DH}: fused ${med(t.fused).toFixed(1)} ms (${gf.toFixed(1)} GFLOPS)` +
  (t.composed ? `, composed ${med(t.composed).toFixed(1)} ms, ratio of medians ${(med(t.composed) / med(t.fused)).toFixed(2)}×, median of per-round ratios ${med(ratios).toFixed(2)}×` : "") +
  `  [fused ${t.fused.map((x) => x.toFixed(0)).join(" ")}]`);
await sg.close?.();
