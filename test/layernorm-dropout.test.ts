/**
 * layerNorm (kernels vs float64 over row-length sweeps, gradients of x, gamma and beta by
 * central differences) and dropout (the counter-based mask reproduced in JavaScript, its
 * rate, its gradient, evaluation mode).
 */
import { describe, expect, it } from "vitest";
import { layerNormOp } from "../src/ops/layernorm.js";
import { dropoutThreshold } from "../src/ops/dropout.js";
import { kernels, randomArray, runtime } from "./helpers.js";
import { U32, checkGrad, expectError, expectWithin, gbuf } from "./elementwise-util.js";

function lnRef(x: ArrayLike<number>, g: ArrayLike<number>, b: ArrayLike<number>, rows: number, D: number, eps: number) {
  const y = new Float64Array(rows * D), mean = new Float64Array(rows), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < D; c++) s += x[r * D + c]!;
    const mu = s / D;
    let q = 0;
    for (let c = 0; c < D; c++) q += (x[r * D + c]! - mu) ** 2;
    const rs = 1 / Math.sqrt(q / D + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let c = 0; c < D; c++) y[r * D + c] = (x[r * D + c]! - mu) * rs * g[c]! + b[c]!;
  }
  return { y, mean, rstd };
}

const DS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 64, 100, 768, 1024, 1031];

describe("layernorm kernels vs float64", () => {
  it("forward: y, saved mean and rstd, rows with offsets", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const D of DS) {
      for (const rows of [0, 1, 3, 7]) {
        for (const offset of [0, 100]) {
          const n = rows * D;
          const xv = randomArray(n, D + rows, offset - 2, offset + 2);
          const gv = randomArray(D, D, 0.5, 1.5), bv = randomArray(D, D + 1, -1, 1);
          const ref = lnRef(xv, gv, bv, rows, D, 1e-5);
          const x = gbuf(sg, xv), g = gbuf(sg, gv), b = gbuf(sg, bv);
          const y = gbuf(sg, new Float32Array(n).fill(NaN)), m = gbuf(sg, new Float32Array(rows).fill(NaN)), rs = gbuf(sg, new Float32Array(rows).fill(NaN));
          k.layernorm_forward(x.ptr, g.ptr, b.ptr, y.ptr, m.ptr, rs.ptr, rows, D, 1e-5);
          const what = `layernorm ${rows}x${D} offset ${offset}`;
          // x − μ carries μ's rounding (|μ|·D·u/4 from the f32 lane sums), then the relative
          // error of rstd (≈ D·u from the sums of squares) and the products.
          const spread = 2;
          expectWithin(m.view(), ref.mean, Array.from(ref.mean, (v) => (D / 4 + 4) * U32 * (Math.abs(v) + spread)), `${what}: mean`);
          expectWithin(rs.view(), ref.rstd, Array.from(ref.rstd, (v) => (D / 2 + 8) * U32 * v * (1 + offset / spread)), `${what}: rstd`);
          const rr = Array.from({ length: n }, (_, i) => ref.rstd[Math.floor(i / D)]!);
          expectWithin(y.view(), ref.y, Array.from(ref.y, (_, i) => (D / 2 + 16) * U32 * (1 + offset / spread) * (Math.abs(gv[i % D]!) * spread * rr[i]! + Math.abs(bv[i % D]!)) + 1e-7), `${what}: y`);
          for (const t of [x, g, b, y, m, rs]) {
            t.check();
            t.free();
          }
        }
      }
    }
  });

  it("backward: gradients of x, gamma, beta by central differences over shapes", async () => {
    const sg = await runtime();
    for (const shape of [[1, 1], [1, 4], [3, 5], [2, 3, 7], [4, 17], [2, 2, 2, 9]]) {
      const D = shape[shape.length - 1]!, n = shape.reduce((a, b) => a * b, 1);
      checkGrad(sg, {
        op: layerNormOp, attrs: { eps: 1e-5 },
        inputs: [{ shape, values: randomArray(n, n, -2, 2) }, { shape: [D], values: randomArray(D, 3, 0.5, 1.5) }, { shape: [D], values: randomArray(D, 4, -1, 1) }],
        rtol: 5e-3, atol: 5e-3,
      }, `layerNorm ${JSON.stringify(shape)}`);
    }
  });

  it("backward with only some gradients wanted, and dx overwritten with accumulate 0", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const rows = 5, D = 13, n = rows * D;
    const xv = randomArray(n, 1, -2, 2), gv = randomArray(D, 2, 0.5, 1.5), bv = randomArray(D, 3);
    const dyv = randomArray(n, 4, -1, 1);
    const x = gbuf(sg, xv), g = gbuf(sg, gv), b = gbuf(sg, bv), y = gbuf(sg, new Float32Array(n));
    const m = gbuf(sg, new Float32Array(rows)), rs = gbuf(sg, new Float32Array(rows)), dy = gbuf(sg, dyv);
    k.layernorm_forward(x.ptr, g.ptr, b.ptr, y.ptr, m.ptr, rs.ptr, rows, D, 1e-5);
    const full = { dx: gbuf(sg, new Float32Array(n).fill(NaN)), dg: gbuf(sg, new Float32Array(D)), db: gbuf(sg, new Float32Array(D)) };
    k.layernorm_backward(x.ptr, g.ptr, m.ptr, rs.ptr, dy.ptr, full.dx.ptr, full.dg.ptr, full.db.ptr, rows, D, 0);
    const dg = gbuf(sg, new Float32Array(D)), db = gbuf(sg, new Float32Array(D));
    k.layernorm_backward(x.ptr, g.ptr, m.ptr, rs.ptr, dy.ptr, 0, dg.ptr, db.ptr, rows, D, 0);
    expect(Array.from(dg.view())).toEqual(Array.from(full.dg.view()));
    expect(Array.from(db.view())).toEqual(Array.from(full.db.view()));
    // dbeta is the column sum of dy.
    const cs = Array.from({ length: D }, (_, c) => { let s = 0; for (let r = 0; r < rows; r++) s += dyv[r * D + c]!; return s; });
    expectWithin(db.view(), cs, 1e-5, "dbeta");
    // Each row of dx sums to 0 (the mean is subtracted out).
    const dx = full.dx.view();
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < D; c++) s += dx[r * D + c]!;
      expect(Math.abs(s)).toBeLessThan(1e-5);
    }
    for (const t of [x, g, b, y, m, rs, dy, full.dx, full.dg, full.db, dg, db]) {
      t.check();
      t.free();
    }
  });

  it("in a graph: gradcheck with learned gamma and beta; shape errors", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([6, 8], "x", { requiresGrad: true });
    const gamma = g.param([8], { data: Array.from(randomArray(8, 5, 0.5, 1.5)), name: "gamma" });
    const beta = g.param([8], { data: Array.from(randomArray(8, 6)), name: "beta" });
    const W = g.param([8, 3], { init: "normal", std: 0.5, seed: 2, name: "W" });
    const loss = g.crossEntropy(g.matmul(g.tanh(g.layerNorm(x, gamma, beta)), W), g.input([6], "l"));
    const report = sg.gradcheck(g, loss, { feeds: { x: randomArray(48, 9, -2, 2), l: [0, 1, 2, 2, 1, 0] } });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
    expectError(() => g.layerNorm(x, g.param([7], { name: "g7" }), beta), "layerNorm", "[8]", "x is [6, 8]", "gamma is [7]");
    expectError(() => g.layerNorm(x, gamma, beta, { eps: 0 }), "layerNorm", "eps");
    g.dispose();
  });
});

/** The kernels' hash, in JavaScript: whether element i is kept. */
function mix(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}
function keptRef(seed: number, step: number, i: number, p: number): boolean {
  const key = (seed ^ mix((step + 0x632be5ab) >>> 0)) >>> 0;
  const h = mix((Math.imul(i, 0x9e3779b9) + mix(key)) >>> 0);
  return h >= dropoutThreshold(p) >>> 0;
}

describe("dropout", () => {
  it("kernel masks equal the documented hash for every tail size", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 17, 64, 1031]) {
      for (const p of [0, 0.1, 0.5, 0.9]) {
        const key = k.dropout_key(42, 3);
        expect(key >>> 0).toBe(mix((42 ^ mix((3 + 0x632be5ab) >>> 0)) >>> 0));
        const xv = randomArray(n, n, 0.5, 2);
        const x = gbuf(sg, xv), y = gbuf(sg, new Float32Array(n).fill(NaN));
        k.dropout_forward(x.ptr, y.ptr, n, dropoutThreshold(p), 1 / (1 - p), key);
        const want = Array.from(xv, (v, i) => (keptRef(42, 3, i, p) ? Math.fround(v * Math.fround(1 / (1 - p))) : 0));
        expect(Array.from(y.view())).toEqual(want);
        const dx0 = randomArray(n, 3);
        const dx = gbuf(sg, dx0);
        k.dropout_backward(x.ptr, dx.ptr, n, dropoutThreshold(p), 1 / (1 - p), key, 1);
        expect(Array.from(dx.view())).toEqual(Array.from(want, (w, i) => Math.fround(dx0[i]! + w)));
        for (const t of [x, y, dx]) {
          t.check();
          t.free();
        }
      }
    }
  });

  it("in a graph: drop rate ≈ p, masks change per step and repeat per seed, gradient follows the mask, identity in eval mode", async () => {
    const sg = await runtime();
    const run = (seed: number) => {
      const g = sg.graph();
      const x = g.input([100, 100], "x", { requiresGrad: true });
      const y = g.dropout(x, 0.3, { seed });
      const ones = new Float32Array(10000).fill(1);
      g.forward({ x: ones });
      const y1 = y.value.toArray();
      g.backward(y, randomArray(10000, 1, 1, 2));
      const gx = x.grad!.toArray();
      g.forward({});
      const y2 = y.value.toArray();
      g.train(false);
      expect(g.training).toBe(false);
      g.forward({});
      const y3 = y.value.toArray();
      g.dispose();
      return { y1, y2, y3, gx };
    };
    const a = run(7), b = run(7), c = run(8);
    const dropped = a.y1.filter((v) => v === 0).length / 10000;
    expect(Math.abs(dropped - 0.3)).toBeLessThan(0.03);
    expect(a.y1.every((v) => v === 0 || v === Math.fround(1 / 0.7))).toBe(true);
    expect(Array.from(a.y1)).toEqual(Array.from(b.y1));
    expect(Array.from(a.y2)).toEqual(Array.from(b.y2));
    expect(Array.from(a.y1)).not.toEqual(Array.from(a.y2));
    expect(Array.from(a.y1)).not.toEqual(Array.from(c.y1));
    expect(a.y3.every((v) => v === 1)).toBe(true);
    // dx = dy·mask/(1 − p): zero exactly where y was dropped.
    for (let i = 0; i < 10000; i++) expect(a.gx[i] === 0).toBe(a.y1[i] === 0);
    const sg2 = sg.graph();
    expectError(() => sg2.dropout(sg2.input([2], "x"), 1), "dropout", "p must be");
    sg2.dispose();
  });
});
