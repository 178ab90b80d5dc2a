/**
 * softmax, logSoftmax and crossEntropy with class labels: kernels against float64
 * references over shape sweeps (every axis, inner sizes with tails), gradients against
 * central differences with a non-unit upstream gradient, graph use, and bad labels.
 */
import { describe, expect, it } from "vitest";
import { crossEntropyOp, logSoftmaxOp, softmaxOp } from "../src/ops/softmax.js";
import { kernels, randomArray, runtime } from "./helpers.js";
import { U32, checkGrad, expectError, expectWithin, gbuf } from "./elementwise-util.js";

/** Float64 softmax / log-softmax over the middle axis of [outer, n, inner]. */
function softmaxRef(x: ArrayLike<number>, outer: number, n: number, inner: number, log: boolean): Float64Array {
  const y = new Float64Array(outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const at = (a: number) => (o * n + a) * inner + j;
      let m = -Infinity;
      for (let a = 0; a < n; a++) m = Math.max(m, x[at(a)]!);
      let s = 0;
      for (let a = 0; a < n; a++) s += Math.exp(x[at(a)]! - m);
      for (let a = 0; a < n; a++) y[at(a)] = log ? x[at(a)]! - m - Math.log(s) : Math.exp(x[at(a)]! - m) / s;
    }
  }
  return y;
}

/** [outer, n, inner] cases: n sweeps the row lengths, inner the column tails. */
const CASES: [number, number, number][] = [];
for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 64, 100, 1024, 1031]) CASES.push([3, n, 1]);
for (const inner of [2, 3, 4, 5, 7, 8, 9, 17]) for (const n of [1, 3, 8, 13]) CASES.push([2, n, inner]);
CASES.push([1, 4099, 1], [64, 1024, 1], [0, 5, 1], [5, 0, 1], [2, 5, 0]);

describe("softmax and log-softmax kernels vs float64", () => {
  for (const log of [false, true]) {
    const name = log ? "log_softmax" : "softmax";
    it(`${name}_forward over [outer, n, inner] sweeps, logits up to ±30 and ±1e4`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      for (const [outer, n, inner] of CASES) {
        for (const range of [30, 1e4]) {
          const size = outer * n * inner;
          const xv = randomArray(size, outer * 131 + n * 7 + inner, -range, range);
          const ref = softmaxRef(xv, outer, n, inner, log);
          const x = gbuf(sg, xv), y = gbuf(sg, new Float32Array(size).fill(NaN));
          (log ? k.log_softmax_forward : k.softmax_forward)(x.ptr, y.ptr, outer, n, inner);
          const what = `${name} [${outer}, ${n}, ${inner}] ±${range}`;
          if (log) {
            // y = (x − m) − log s: |x − m|·u for the difference, ~4 ulp of log s, the sum's (n/4)·u.
            expectWithin(y.view(), ref, Array.from(ref, (v) => (6 + Math.min(n, 512) / 4) * U32 * (Math.abs(v) + Math.log(n + 1)) + 1e-6), what);
          } else {
            // relative: exp (1 ulp, with |x − m|·u from the argument), the sum, 1/s, the product.
            expectWithin(y.view(), ref, Array.from(ref, (v, i) => (8 + Math.min(n, 512) / 4 + 2 * Math.abs(Math.log(Math.max(v, 1e-300)))) * U32 * v + 1e-44 + (Number.isFinite(xv[i]!) ? 0 : 0)), what);
          }
          x.check();
          y.check();
          // in place gives the same values
          if (size > 0) {
            const z = gbuf(sg, xv);
            (log ? k.log_softmax_forward : k.softmax_forward)(z.ptr, z.ptr, outer, n, inner);
            expect(Array.from(z.view())).toEqual(Array.from(y.view()));
            z.free();
          }
          x.free();
          y.free();
        }
      }
    });

    it(`${name}_backward vs the float64 formula, overwrite and accumulate`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      for (const [outer, n, inner] of CASES) {
        const size = outer * n * inner;
        const yv = Float32Array.from(softmaxRef(randomArray(size, n + inner, -5, 5), outer, n, inner, log));
        const dyv = randomArray(size, 99 + n, -2, 2);
        const want = new Float64Array(size);
        const bound = new Float64Array(size);
        for (let o = 0; o < outer; o++) {
          for (let j = 0; j < inner; j++) {
            const at = (a: number) => (o * n + a) * inner + j;
            let t = 0, ta = 0;
            for (let a = 0; a < n; a++) {
              t += log ? dyv[at(a)]! : dyv[at(a)]! * yv[at(a)]!;
              ta += Math.abs(log ? dyv[at(a)]! : dyv[at(a)]! * yv[at(a)]!);
            }
            for (let a = 0; a < n; a++) {
              const i = at(a), yy = yv[i]!, g = dyv[i]!;
              if (log) {
                want[i] = g - Math.exp(yy) * t;
                bound[i] = (4 * Math.abs(g) + Math.exp(yy) * (4 * Math.abs(t) + (Math.min(n, 512) / 4 + 4) * ta)) * U32 * 2 + 1e-30;
              } else {
                want[i] = yy * (g - t);
                bound[i] = yy * (4 * Math.abs(g) + 4 * Math.abs(t) + (Math.min(n, 512) / 4 + 4) * ta) * U32 * 2 + 1e-30;
              }
            }
          }
        }
        for (const acc of [0, 1]) {
          const prev = acc ? randomArray(size, 5, -1, 1) : new Float32Array(size).fill(NaN);
          const y = gbuf(sg, yv), dy = gbuf(sg, dyv), dx = gbuf(sg, prev);
          (log ? k.log_softmax_backward : k.softmax_backward)(y.ptr, dy.ptr, dx.ptr, outer, n, inner, acc);
          const w = Array.from(want, (v, i) => v + (acc ? prev[i]! : 0));
          const b = Array.from(bound, (v, i) => v + (acc ? 2 * U32 * Math.abs(prev[i]!) : 0));
          expectWithin(dx.view(), w, b, `${name} backward [${outer}, ${n}, ${inner}] acc=${acc}`);
          for (const g of [y, dy, dx]) {
            g.check();
            g.free();
          }
        }
      }
    });
  }

  it("rows of all −Inf but one, and huge logits, stay finite", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const x = gbuf(sg, [-Infinity, 3, -Infinity, -Infinity, 1e30, -1e30, 0]);
    const y = gbuf(sg, new Float32Array(7));
    k.softmax_forward(x.ptr, y.ptr, 1, 7, 1);
    expect(Array.from(y.view())).toEqual([0, 0, 0, 0, 1, 0, 0]);
    k.log_softmax_forward(x.ptr, y.ptr, 1, 7, 1);
    const v = y.view();
    expect(v[4]).toBe(0);
    expect(v[5]).toBe(2 * Math.fround(-1e30));
    x.free();
    y.free();
  });
});

describe("softmax, logSoftmax gradients (central differences, non-unit upstream)", () => {
  const shapes: [number[], number][] = [
    [[1], -1], [[5], 0], [[3, 4], -1], [[3, 4], 0], [[2, 3, 5], 1], [[2, 3, 5], -1], [[2, 1, 3, 4], 2], [[2, 3, 1, 6], 0], [[4, 9], 1],
  ];
  for (const [op, name] of [[softmaxOp, "softmax"], [logSoftmaxOp, "logSoftmax"]] as const) {
    it(`${name} over 1-D to 4-D shapes and every kind of axis`, async () => {
      const sg = await runtime();
      for (const [shape, axis] of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        checkGrad(sg, { op, attrs: { axis }, inputs: [{ shape, values: randomArray(n, n + axis, -3, 3) }] }, `${name} ${JSON.stringify(shape)} axis ${axis}`);
      }
    });
  }

  it("crossEntropy gradient for the logits", async () => {
    const sg = await runtime();
    for (const [rows, cols] of [[1, 1], [1, 5], [3, 4], [7, 9], [5, 17]] as const) {
      const labels = Array.from({ length: rows }, (_, r) => (r * 7 + 3) % cols);
      checkGrad(sg, {
        op: crossEntropyOp, attrs: undefined, wrt: [0],
        inputs: [{ shape: [rows, cols], values: randomArray(rows * cols, rows + cols, -3, 3) }, { shape: [rows], values: labels }],
      }, `crossEntropy ${rows}x${cols}`);
    }
  });
});

describe("crossEntropy with labels vs softmaxCrossEntropy with one-hot targets", () => {
  it("same loss and gradients, in a graph", async () => {
    const sg = await runtime();
    for (const [N, C] of [[1, 1], [4, 3], [64, 10], [9, 1031]] as const) {
      const zv = randomArray(N * C, N + C, -6, 6);
      const labels = Array.from({ length: N }, (_, r) => (r * 5 + 1) % C);
      const onehot = new Float32Array(N * C);
      labels.forEach((l, r) => (onehot[r * C + l] = 1));
      const g = sg.graph();
      const z = g.input([N, C], "z", { requiresGrad: true });
      const l = g.input([N], "l");
      const t = g.input([N, C], "t");
      const a = g.crossEntropy(z, l);
      g.forward({ z: zv, l: labels, t: onehot });
      g.backward(a, [1.5]);
      const ga = z.grad!.toArray();
      const la = a.value.toArray()[0]!;
      g.zeroGrad();
      const b = g.softmaxCrossEntropy(z, t);
      g.forward({});
      g.backward(b, [1.5]);
      expect(la).toBeCloseTo(b.value.toArray()[0]!, 5);
      expectWithin(ga, z.grad!.toArray(), 1e-6, `crossEntropy grad ${N}x${C}`);
      g.dispose();
    }
  });

  it("bad labels: clear errors naming the first bad one, runtime usable afterwards", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const z = g.input([3, 4], "z", { requiresGrad: true });
    const l = g.input([3], "l");
    const loss = g.crossEntropy(z, l);
    const zv = randomArray(12, 3);
    expectError(() => g.forward({ z: zv, l: [0, 4, 7] }), "crossEntropy", "label 4 at [1]", "[0, 4)", "[3, 4]");
    expectError(() => g.forward({ z: zv, l: [0, 1.5, 2] }), "crossEntropy", "label 1.5 at [1]");
    expectError(() => g.forward({ z: zv, l: [-1, 1, 2] }), "label -1 at [0]");
    expectError(() => g.forward({ z: zv, l: [0, 1, NaN] }), "label NaN at [2]");
    g.forward({ z: zv, l: [0, 1, 3] });
    expect(Number.isFinite(loss.value.toArray()[0]!)).toBe(true);
    expectError(() => g.crossEntropy(z, g.input([2], "l2")), "crossEntropy", "labels must be [N]", "[3, 4]", "[2]");
    expectError(() => g.softmax(z, 2), "softmax", "axis 2", "[3, 4]");
    expectError(() => g.logSoftmax(z, -3), "logSoftmax", "axis -3");
    g.dispose();
  });
});

describe("softmax in a graph", () => {
  it("gradcheck through softmax, logSoftmax (axis 0 and -1) and a loss", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([4, 6], "x");
    const W = g.param([6, 5], { init: "normal", std: 0.5, seed: 3, name: "W" });
    const h = g.matmul(x, W);
    const p = g.softmax(h, 0);
    const q = g.logSoftmax(g.mul(h, p));
    const loss = g.crossEntropy(q, g.input([4], "l"));
    const report = sg.gradcheck(g, loss, { feeds: { x: randomArray(24, 2, -1, 1), l: [0, 4, 2, 1] } });
    expect(report.ok, JSON.stringify(report)).toBe(true);
    g.dispose();
  });
});
