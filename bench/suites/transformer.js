// Transformer pieces, ms per call: causal self-attention forward + backward at
// B·heads = 64, T = 256, dh = 64, as simdgrad's fused op (g.attention), as the same attention
// composed from simdgrad's own ops (batched matmul, scale, mask, softmax, matmul), and as
// TensorFlow.js wasm composes it (tf.grads over matMul, softmax, matMul). All three run the
// same data; the fused op's GFLOPS count the causal half only (what it computes).
import { uniform, reason } from "../lib/data.js";
import { measureSet } from "../lib/timing.js";
import { printTable, fmt, ratio, change } from "../lib/table.js";

const B = 4, H = 16, T = 256, DH = 64;
const SHAPE = [B, H, T, DH];
const N = B * H * T * DH;
const SCALE = 1 / Math.sqrt(DH);

/** The additive causal mask [T, T]: 0 on and below the diagonal, −1e9 above. */
function causalMask() {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return m;
}

function data() {
  return { q: uniform(N, 31), k: uniform(N, 32), v: uniform(N, 33), dy: uniform(N, 34) };
}

/** simdgrad, fused: g.attention on inputs that want gradients; a step is forward + backward. */
function sgFused(sg, d) {
  const g = sg.graph();
  if (typeof g.attention !== "function") {
    g.dispose();
    return { missing: "g.attention" };
  }
  const q = g.input(SHAPE, "q", { requiresGrad: true });
  const k = g.input(SHAPE, "k", { requiresGrad: true });
  const v = g.input(SHAPE, "v", { requiresGrad: true });
  const y = g.attention(q, k, v, { causal: true });
  const dy = sg.tensor(SHAPE, d.dy);
  g.forward({ q: d.q, k: d.k, v: d.v });
  const step = () => {
    g.forward();
    g.backward(y, dy);
  };
  return { step, out: () => y.value.toArray(), dispose: () => { g.dispose(); dy.dispose(); } };
}

/** simdgrad, composed from its own ops: scores [B·H, T, T] are stored, softmax, P·V. */
function sgComposed(sg, d) {
  const g = sg.graph();
  for (const m of ["matmul", "softmax", "reshape", "add", "scale"]) {
    if (typeof g[m] !== "function") {
      g.dispose();
      return { missing: `g.${m}` };
    }
  }
  try {
    const q = g.input(SHAPE, "q", { requiresGrad: true });
    const k = g.input(SHAPE, "k", { requiresGrad: true });
    const v = g.input(SHAPE, "v", { requiresGrad: true });
    const mask = g.input([T, T], "mask");
    const r = (x) => g.reshape(x, [B * H, T, DH]);
    const s = g.add(g.scale(g.matmul(r(q), r(k), { transposeB: true }), SCALE), mask);
    const y = g.reshape(g.matmul(g.softmax(s), r(v)), SHAPE);
    const dy = sg.tensor(SHAPE, d.dy);
    g.forward({ q: d.q, k: d.k, v: d.v, mask: causalMask() });
    const step = () => {
      g.forward();
      g.backward(y, dy);
    };
    return { step, out: () => y.value.toArray(), dispose: () => { g.dispose(); dy.dispose(); } };
  } catch (e) {
    g.dispose();
    return { missing: reason(e) };
  }
}

/** TensorFlow.js wasm: the composed form under tf.grads. */
function tfComposed(tf, d) {
  const q = tf.tensor(d.q, [B * H, T, DH]);
  const k = tf.tensor(d.k, [B * H, T, DH]);
  const v = tf.tensor(d.v, [B * H, T, DH]);
  const dy = tf.tensor(d.dy, [B * H, T, DH]);
  const mask = tf.tensor(causalMask(), [T, T]);
  const f = (q, k, v) => tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), SCALE), mask)), v);
  const grads = tf.grads(f);
  const step = () => {
    const gs = grads([q, k, v], dy);
    tf.dispose(gs);
  };
  const out = () => tf.tidy(() => f(q, k, v).dataSync());
  return { step, out, dispose: () => tf.dispose([q, k, v, dy, mask]) };
}

/** Largest |a − b| relative to max |b| (how far two implementations' outputs are apart). */
function maxRelDiff(a, b) {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m > 0 ? d / m : d;
}

export async function run(ctx) {
  const { sg, tf, prev, peak } = ctx;
  const rows = [];
  const d = data();
  const key = `attention/causal/bh${B * H}-t${T}-dh${DH}`;
  const row = { key, what: `causal attention fwd+bwd, B·heads ${B * H}, T ${T}, dh ${DH}` };
  const impls = {};
  for (const [name, make] of [["fused", () => sgFused(sg, d)], ["composed", () => sgComposed(sg, d)], ["tf", () => tfComposed(tf, d)]]) {
    try {
      const impl = make();
      if (impl.missing) row[name] = `missing: ${impl.missing}`;
      else impls[name] = impl;
    } catch (e) {
      row[name] = reason(e);
    }
  }
  const notes = [];
  try {
    if (impls.fused && impls.tf) {
      const diff = maxRelDiff(impls.fused.out(), impls.tf.out());
      row.diffTf = diff;
      notes.push(`fused vs tfjs outputs: max |difference| ${diff.toExponential(1)} of max |y|.`);
    }
    const fns = Object.fromEntries(Object.entries(impls).map(([n, impl]) => [n, impl.step]));
    const t = measureSet(fns);
    for (const n in t) row[n] = t[n].error ? reason(t[n].error) : t[n].seconds * 1e3;
  } finally {
    for (const n in impls) impls[n].dispose();
  }
  // Useful work of the causal case: 7 products of T·T·dh/2 multiply-adds per slice
  // (forward Q·Kᵀ and P·V; backward P·V again is not needed, Pᵀ·dO, dO·Vᵀ, dS·K, dSᵀ·Q and
  // the recomputed Q·Kᵀ).
  const flops = 7 * 2 * B * H * T * T * DH / 2;
  row.gflops = typeof row.fused === "number" ? flops / (row.fused * 1e6) : null;
  const ceiling = peak?.madd ?? peak?.muladd ?? null;
  row.pctPeak = row.gflops && ceiling ? (100 * row.gflops) / ceiling : null;
  row.vsComposed = typeof row.fused === "number" && typeof row.composed === "number" ? row.composed / row.fused : null;
  row.vsTf = typeof row.fused === "number" && typeof row.tf === "number" ? row.tf / row.fused : null;
  rows.push(row);
  printTable(
    "Transformer: attention, ms per forward + backward (lower is better)",
    [
      { title: "what", align: "l" },
      { title: "fused ms" },
      { title: "composed ms" },
      { title: "tfjs-wasm ms" },
      { title: "vs composed" },
      { title: "vs tfjs" },
      { title: "fused GFLOPS" },
      { title: "% peak" },
      { title: "Δ prev" },
    ],
    [[
      row.what,
      fmt(row.fused, 2),
      typeof row.composed === "number" ? fmt(row.composed, 2) : String(row.composed ?? "—"),
      fmt(row.tf, 1),
      ratio(row.composed, row.fused),
      ratio(row.tf, row.fused),
      fmt(row.gflops),
      fmt(row.pctPeak, 0),
      change(prev(key)?.fused, row.fused),
    ]],
    [
      "fused: g.attention (one kernel each way, no T×T matrix stored); composed: simdgrad's batched matmul,",
      "scale, mask add, softmax, matmul (T×T scores stored); tfjs-wasm: the composed form under tf.grads.",
      "GFLOPS: 7 causal products (2·B·H·T²·dh/2 flops each) per fused call; % peak: of the relaxed_madd peak",
      "in the relaxed run, of the mul+add peak in the SIMD128 run. Targets: ≥ 2× composed, ≥ 20× tfjs.",
      ...notes,
    ],
  );
  return rows;
}
