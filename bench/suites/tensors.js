// N-D tensors: NumPy-broadcasting elementwise ops (row, column, outer, general strided
// shapes), reductions over axes, transposes, and batched matmul, for simdgrad's eager calls
// beside TensorFlow.js wasm doing the same op in the same run.
import { uniform, missing, reason } from "../lib/data.js";
import { measureSet } from "../lib/timing.js";
import { printTable, fmt, ratio, change } from "../lib/table.js";

const size = (s) => s.reduce((a, b) => a * b, 1);

/** Elementwise and layout rows: elements of output per nanosecond. */
const ELEMENTWISE = [
  { name: "add", what: "row (bias)", a: [64, 1024], b: [1024], sg: (sg, a, b, o) => sg.add(a, b, o), tf: (tf, a, b) => tf.add(a, b) },
  { name: "add", what: "column", a: [64, 1024], b: [64, 1], sg: (sg, a, b, o) => sg.add(a, b, o), tf: (tf, a, b) => tf.add(a, b) },
  { name: "mul", what: "outer", a: [1024, 1], b: [1, 1024], sg: (sg, a, b, o) => sg.mul(a, b, o), tf: (tf, a, b) => tf.mul(a, b) },
  { name: "mul", what: "general 3-D", a: [16, 64, 1024], b: [16, 1, 1024], sg: (sg, a, b, o) => sg.mul(a, b, o), tf: (tf, a, b) => tf.mul(a, b) },
  { name: "sub", what: "general 4-D", a: [8, 16, 32, 64], b: [1, 16, 1, 64], sg: (sg, a, b, o) => sg.sub(a, b, o), tf: (tf, a, b) => tf.sub(a, b) },
  { name: "div", what: "same 1M", a: [1 << 20], b: [1 << 20], sg: (sg, a, b, o) => sg.div(a, b, o), tf: (tf, a, b) => tf.div(a, b) },
  { name: "div", what: "column", a: [64, 1024], b: [64, 1], sg: (sg, a, b, o) => sg.div(a, b, o), tf: (tf, a, b) => tf.div(a, b) },
  // A tiny general broadcast: the call's own cost (planning the strided calls) dominates.
  { name: "add", what: "column, tiny", a: [4, 8], b: [4, 1], sg: (sg, a, b, o) => sg.add(a, b, o), tf: (tf, a, b) => tf.add(a, b) },
  { name: "max", what: "row", a: [64, 1024], b: [1024], sg: (sg, a, b, o) => sg.max(a, b, o), tf: (tf, a, b) => tf.maximum(a, b) },
  { name: "exp", what: "1M", a: [1 << 20], sg: (sg, a, _b, o) => sg.exp(a, o), tf: (tf, a) => tf.exp(a) },
  { name: "log", what: "1M", a: [1 << 20], sg: (sg, a, _b, o) => sg.log(a, o), tf: (tf, a) => tf.log(a), lo: 0.1 },
  { name: "sqrt", what: "1M", a: [1 << 20], sg: (sg, a, _b, o) => sg.sqrt(a, o), tf: (tf, a) => tf.sqrt(a), lo: 0 },
  { name: "sum", what: "axis 0", a: [1024, 1024], out: [1024], sg: (sg, a, _b, o) => sg.sum(a, 0, o), tf: (tf, a) => tf.sum(a, 0), perIn: true },
  { name: "sum", what: "axis -1", a: [1024, 1024], out: [1024], sg: (sg, a, _b, o) => sg.sum(a, -1, o), tf: (tf, a) => tf.sum(a, -1), perIn: true },
  { name: "mean", what: "axes [0, 2]", a: [32, 64, 512], out: [64], sg: (sg, a, _b, o) => sg.mean(a, [0, 2], o), tf: (tf, a) => tf.mean(a, [0, 2]), perIn: true },
  { name: "transpose", what: "[1, 0]", a: [1024, 1024], sg: (sg, a, _b, o) => sg.transpose(a, [1, 0], o), tf: (tf, a) => tf.transpose(a, [1, 0]), perm: [1, 0] },
  { name: "transpose", what: "[0, 2, 1]", a: [16, 256, 256], sg: (sg, a, _b, o) => sg.transpose(a, [0, 2, 1], o), tf: (tf, a) => tf.transpose(a, [0, 2, 1]), perm: [0, 2, 1] },
  { name: "transpose", what: "[2, 0, 1]", a: [64, 64, 256], sg: (sg, a, _b, o) => sg.transpose(a, [2, 0, 1], o), tf: (tf, a) => tf.transpose(a, [2, 0, 1]), perm: [2, 0, 1] },
];

/** Batched matmul rows: GFLOPS and share of the peak probe. */
const BATCHED = [
  { what: "[16,64,64]·[16,64,64]", a: [16, 64, 64], b: [16, 64, 64] },
  { what: "[16,64,64]·[16,64,64]ᵀ", a: [16, 64, 64], b: [16, 64, 64], tB: true },
  { what: "[16,64,64]ᵀ·[16,64,64]", a: [16, 64, 64], b: [16, 64, 64], tA: true },
  { what: "[32,128,64]·[64,64] (folded)", a: [32, 128, 64], b: [64, 64] },
  { what: "[64,64]·[32,64,128]", a: [64, 64], b: [32, 64, 128] },
  { what: "[8,256,256]·[8,256,256]", a: [8, 256, 256], b: [8, 256, 256] },
];

function outShape(r) {
  if (r.out) return r.out;
  if (r.perm) return r.perm.map((p) => r.a[p]);
  if (!r.b) return r.a;
  const n = Math.max(r.a.length, r.b.length);
  return Array.from({ length: n }, (_, i) => {
    const x = r.a[i - (n - r.a.length)] ?? 1, y = r.b[i - (n - r.b.length)] ?? 1;
    return x === 1 ? y : x;
  });
}

export async function run(ctx) {
  const { sg, tf, prev, peak } = ctx;
  const rows = [];
  const cells = [];
  for (const r of ELEMENTWISE) {
    const key = `${r.name}/${r.what}`;
    const row = { key, op: r.name, what: r.what };
    const os = outShape(r);
    const count = r.perIn ? size(r.a) : size(os);
    const aData = uniform(size(r.a), 3, r.lo ?? -2, 2);
    const bData = r.b ? uniform(size(r.b), 5, 0.5, 2) : null;
    const fns = {};
    const cleanup = [];
    const why = missing(sg, [r.name]);
    if (why) row.sg = why;
    else {
      try {
        const a = sg.tensor(r.a, aData);
        const b = r.b ? sg.tensor(r.b, bData) : null;
        const o = sg.zeros(os);
        cleanup.push(() => { a.dispose(); b?.dispose(); o.dispose(); });
        fns.sg = () => r.sg(sg, a, b, o);
      } catch (e) {
        row.sg = reason(e);
      }
    }
    {
      const a = tf.tensor(aData, r.a);
      const b = r.b ? tf.tensor(bData, r.b) : null;
      cleanup.push(() => tf.dispose(b ? [a, b] : [a]));
      fns.tf = () => tf.tidy(() => { r.tf(tf, a, b); });
    }
    try {
      const t = measureSet(fns);
      for (const name in t) row[name] = t[name].error ? reason(t[name].error) : count / t[name].seconds / 1e9;
    } finally {
      for (const f of cleanup) f();
    }
    rows.push(row);
    cells.push([r.name, r.what, `${JSON.stringify(r.a)}${r.b ? " " + JSON.stringify(r.b) : ""}`, fmt(row.sg, 2), fmt(row.tf, 2), ratio(row.sg, row.tf), change(row.sg, prev(key)?.sg)]);
  }
  printTable(
    "N-D elementwise, reductions and transposes, elements per nanosecond (output elements; reductions: input elements)",
    [{ title: "op", align: "l" }, { title: "case", align: "l" }, { title: "shapes", align: "l" }, { title: "simdgrad" }, { title: "tfjs-wasm" }, { title: "sg/tfjs" }, { title: "Δ prev" }],
    cells,
    ["simdgrad: eager sg.<op>(a, b, out) (broadcasting by NumPy rules; sum/mean(x, axis, out); transpose(x, perm, out));",
     "tfjs: the same op inside tf.tidy (allocates its output each call, as tfjs always does)."],
  );

  const mcells = [];
  for (const r of BATCHED) {
    const key = `bmatmul/${r.what}`;
    const row = { key, what: r.what };
    const ra = r.a.length, rb = r.b.length;
    const m = r.tA ? r.a[ra - 1] : r.a[ra - 2], k = r.tA ? r.a[ra - 2] : r.a[ra - 1];
    const n = r.tB ? r.b[rb - 2] : r.b[rb - 1];
    const batch = Math.max(size(r.a.slice(0, -2)), size(r.b.slice(0, -2)));
    const flops = 2 * batch * m * n * k;
    const aData = uniform(size(r.a), 7), bData = uniform(size(r.b), 9);
    const fns = {};
    const cleanup = [];
    try {
      const a = sg.tensor(r.a, aData), b = sg.tensor(r.b, bData);
      const o = sg.zeros([...(ra > 2 ? r.a : r.b).slice(0, -2), m, n]);
      cleanup.push(() => { a.dispose(); b.dispose(); o.dispose(); });
      const opts = { transposeA: r.tA === true, transposeB: r.tB === true, out: o };
      fns.sg = () => sg.matmul(a, b, opts);
    } catch (e) {
      row.sg = reason(e);
    }
    {
      const a = tf.tensor(aData, r.a), b = tf.tensor(bData, r.b);
      cleanup.push(() => tf.dispose([a, b]));
      fns.tf = () => tf.tidy(() => { tf.matMul(a, b, r.tA === true, r.tB === true); });
    }
    try {
      const t = measureSet(fns);
      for (const name in t) row[name] = t[name].error ? reason(t[name].error) : flops / t[name].seconds / 1e9;
    } finally {
      for (const f of cleanup) f();
    }
    row.peak = peak?.muladd ?? null;
    const pct = (v) => (typeof v === "number" && row.peak ? `${((100 * v) / row.peak).toFixed(0)}%` : "-");
    rows.push(row);
    mcells.push([r.what, fmt(row.sg), fmt(row.tf), ratio(row.sg, row.tf), pct(row.sg), change(row.sg, prev(key)?.sg)]);
  }
  printTable(
    "Batched matmul, GFLOPS (higher is better)",
    [{ title: "product", align: "l" }, { title: "simdgrad" }, { title: "tfjs-wasm" }, { title: "sg/tfjs" }, { title: "% peak" }, { title: "Δ prev" }],
    mcells,
    ["simdgrad: sg.matmul(a, b, { transposeA, transposeB, out }) (a loop of packed GEMMs, or one folded GEMM);",
     "tfjs: tf.matMul(a, b, transposeA, transposeB) on 3-D tensors (a 2-D operand broadcast as tfjs allows). % peak: of the mul+add probe."],
  );
  return rows;
}
