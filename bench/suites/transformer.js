// Transformer pieces, ms per call: causal self-attention forward + backward at
// B·heads = 64, T = 256, dh = 64, as simdgrad's fused op (g.attention), as the same attention
// composed from simdgrad's own ops (batched matmul, scale, mask, softmax, matmul), and as
// TensorFlow.js wasm composes it (tf.grads over matMul, softmax, matMul). All three run the
// same data; the fused op's GFLOPS count the causal half only (what it computes).
import { uniform, reason } from "../lib/data.js";
import { measureSet, measureShare, median, timeOnce } from "../lib/timing.js";
import { CHAR_BATCH, charBatch, sgCharStep, tfCharStep } from "./char-model-peers.js";
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
    // The ratio to the composed form, paired: the two called side by side, pair after pair
    // (the order swapped every pair), the median of the per-pair ratios. A ratio of medians
    // taken in different seconds moved by ±10% between runs on a shared machine.
    if (typeof row.fused === "number" && typeof row.composed === "number") {
      const p = measureShare(impls.fused.step, 1, { fn: impls.composed.step, flops: 1 });
      if (!p.error) {
        row.vsComposed = p.share;
        const s = [...p.shares].sort((a, b) => a - b);
        const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
        notes.push(`vs composed: median of ${p.pairs} paired ratios (fused and composed called side by side), quartiles ${q(0.25).toFixed(2)}–${q(0.75).toFixed(2)}×; ms per call in the pairs ${fmt(p.seconds * 1e3, 2)} / ${fmt(p.probeSeconds * 1e3, 2)}.`);
      }
    }
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
  row.vsComposed ??= typeof row.fused === "number" && typeof row.composed === "number" ? row.composed / row.fused : null;
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
      typeof row.vsComposed === "number" ? `${fmt(row.vsComposed, 2)}×` : "—",
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
  rows.push(...(await charModel(ctx)));
  return rows;
}

/**
 * The char model's training step at batch 16: simdgrad (one thread) beside tfjs-wasm, timed
 * alternating on the suite's clock; then simdgrad on 1 and 2 threads by the wall clock
 * (threads exist to cut wall time), alternating rounds, medians; tokens per second = B·T
 * positions trained per second.
 */
async function charModel(ctx) {
  const { sg, tf, build, quick, prev } = ctx;
  const key = `charmodel/train/b${CHAR_BATCH}`;
  const row = { key, what: `char model train step, batch ${CHAR_BATCH} (2 layers, d 64, 4 heads, T 64)` };
  const batch = charBatch();
  const tokens = batch.B * batch.T;
  const { init } = await import("../../dist/index.js");
  const threads = Number(process.env.SIMDGRAD_BENCH_THREADS) || 2;
  const sgT = await init({ relaxedSimd: build === "relaxed", threads });
  const impls = {};
  const notes = [];
  try {
    impls.sg = sgCharStep(sg, batch);
    try {
      impls.tf = tfCharStep(tf, batch, impls.sg.params());
    } catch (e) {
      row.tf = reason(e);
    }
    impls.sgT = sgCharStep(sgT, batch);
    const before = { sg: impls.sg.loss(), tf: impls.tf?.loss() };
    const t = measureSet({ sg: impls.sg.step, tf: impls.tf?.step });
    for (const n in t) row[n] = t[n].error ? reason(t[n].error) : t[n].seconds * 1e3;
    const after = { sg: impls.sg.loss(), tf: impls.tf?.loss() };
    notes.push(`loss on the fixed batch, start → after the timed steps: simdgrad ${before.sg.toFixed(3)} → ${after.sg.toFixed(3)}` +
      (impls.tf ? `, tfjs ${before.tf.toFixed(3)} → ${after.tf.toFixed(3)} (same initial weights)` : ""));
    // 1 vs `threads` threads, wall clock, alternating.
    const rounds = quick ? 3 : 9;
    const minMs = quick ? 30 : 150;
    for (let i = 0; i < (quick ? 2 : 5); i++) (impls.sg.step(), impls.sgT.step());
    const w1 = [];
    const wT = [];
    for (let r = 0; r < rounds; r++) {
      w1.push(timeOnce(impls.sg.step, minMs));
      wT.push(timeOnce(impls.sgT.step, minMs));
    }
    row.wall1 = median(w1);
    row.wallT = median(wT);
    row.threads = threads;
    row.tokPerSec1 = (tokens / row.wall1) * 1e3;
    row.tokPerSecT = (tokens / row.wallT) * 1e3;
  } catch (e) {
    row.sg = reason(e);
  } finally {
    for (const n in impls) impls[n].dispose();
    await sgT.close();
  }
  row.vsTf = typeof row.sg === "number" && typeof row.tf === "number" ? row.tf / row.sg : null;
  row.tokPerSec = typeof row.sg === "number" ? (tokens / row.sg) * 1e3 : null;
  printTable(
    `Transformer: char model training step, batch ${CHAR_BATCH} × ${batch.T} characters (lower ms is better)`,
    [
      { title: "what", align: "l" },
      { title: "simdgrad ms" },
      { title: "tokens/s" },
      { title: "tfjs-wasm ms" },
      { title: "vs tfjs" },
      { title: "1 thread ms (wall)" },
      { title: "tokens/s" },
      { title: `${row.threads ?? threads} threads ms (wall)` },
      { title: "tokens/s" },
      { title: "speed-up" },
      { title: "Δ prev" },
    ],
    [[
      row.what,
      typeof row.sg === "number" ? fmt(row.sg, 2) : String(row.sg ?? "—"),
      fmt(row.tokPerSec, 0),
      typeof row.tf === "number" ? fmt(row.tf, 1) : String(row.tf ?? "—"),
      ratio(row.tf, row.sg),
      fmt(row.wall1, 2),
      fmt(row.tokPerSec1, 0),
      fmt(row.wallT, 2),
      fmt(row.tokPerSecT, 0),
      ratio(row.wall1, row.wallT),
      change(prev(key)?.sg, row.sg),
    ]],
    [
      "One step: forward, backward, clip by global norm, AdamW, on a fixed batch of Brown corpus text.",
      "simdgrad: demo/char-model.js (fused causal attention); tfjs-wasm: the same model from tfjs ops",
      "(bench/suites/char-model-peers.js: composed attention, one-hot embeddings, tf.train.adam + decoupled decay).",
      "simdgrad ms (and its tokens/s) and tfjs ms on the suite's clock, alternating; the thread columns by the",
      `wall clock, alternating rounds, medians; tokens/s = ${tokens} positions per step / time. Target: ≥ 5× tfjs.`,
      "On a machine busier than its cores, wall times (and two threads, which wait for each other) suffer most.",
      ...notes,
    ],
  );
  return [row];
}
