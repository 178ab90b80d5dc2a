import { describe, expect, it } from "vitest";
import { dotOp, meanOp, sumOp } from "../src/ops/reduce.js";
import { guarded, kernels, randomArray, runtime } from "./helpers.js";
import { ROWS_COLS, SIZES, U32, checkGrad, expectError, expectWithin, gbuf } from "./elementwise-util.js";

/** Error bound of an f32 sum of terms with absolute sum `abs`, as summed by the kernels
 *  (16 lanes over runs of 1024, runs added in f64): (1024/16 + 4)·u·Σ|t|. */
function sumBound(abs: number, n: number): number {
  return (Math.min(n, 1024) / 16 + 4) * U32 * abs + 1e-30;
}

describe("reduction kernels vs float64 references", () => {
  it("sum_all and dot_f32 over the size sweep (α, overwrite and accumulate)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of [...SIZES, 1_000_003]) {
      const xv = randomArray(n, n + 1, -1, 1);
      const vv = randomArray(n, n + 2, -1, 1);
      let s = 0, sa = 0, d = 0, da = 0;
      for (let i = 0; i < n; i++) {
        s += xv[i]!, sa += Math.abs(xv[i]!);
        d += xv[i]! * vv[i]!, da += Math.abs(xv[i]! * vv[i]!);
      }
      const x = gbuf(sg, xv), v = gbuf(sg, vv);
      for (const acc of [0, 1]) {
        const o0 = acc ? 0.75 : NaN;
        const out = gbuf(sg, [o0]);
        k.sum_all(x.ptr, n, out.ptr, -0.5, acc);
        expectWithin(out.view(), [(acc ? o0 : 0) - 0.5 * s], sumBound(0.5 * sa + 1, n), `sum_all n=${n} acc=${acc}`);
        out.set([o0]);
        k.dot_f32(x.ptr, v.ptr, n, out.ptr, acc);
        expectWithin(out.view(), [(acc ? o0 : 0) + d], sumBound(da + 1, n), `dot n=${n} acc=${acc}`);
        out.check(), out.free();
      }
      for (const g of [x, v]) g.check(), g.free();
    }
  });

  it("sum_axis over [outer, len, inner] and broadcast_axis back", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const shapes: [number, number, number][] = [];
    for (const outer of [0, 1, 3]) for (const [len, inner] of ROWS_COLS.filter(([r, c]) => r * c < 5000)) shapes.push([outer, len, inner]);
    shapes.push([2, 2000, 1], [1, 3, 4099]);
    for (const [outer, len, inner] of shapes) {
      const n = outer * len * inner;
      const xv = randomArray(n, n + 7, -1, 1);
      for (const acc of [0, 1]) {
        const alpha = acc ? 1 : 1 / 3;
        const y0 = acc ? randomArray(outer * inner, 3) : new Float32Array(outer * inner).fill(NaN);
        const x = gbuf(sg, xv), y = gbuf(sg, y0);
        k.sum_axis(x.ptr, y.ptr, outer, len, inner, alpha, acc);
        const want = new Float64Array(outer * inner), tol = new Float64Array(outer * inner);
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            let s = 0, sa = 0;
            for (let a = 0; a < len; a++) {
              const v = xv[(o * len + a) * inner + i]!;
              s += v, sa += Math.abs(v);
            }
            const j = o * inner + i;
            want[j] = (acc ? y0[j]! : 0) + alpha * s;
            // Columns are summed straight down in f32: (len + 3)·u.
            tol[j] = (len + 4) * U32 * (alpha * sa + (acc ? Math.abs(y0[j]!) : 0)) + 1e-30;
          }
        }
        expectWithin(y.view(), want, tol, `sum_axis [${outer}, ${len}, ${inner}] acc=${acc}`);
        // Backward: dx[o, a, i] (+)= α·dy[o, i].
        const dyv = randomArray(outer * inner, 5, -2, 2);
        const dx0 = acc ? randomArray(n, 6) : new Float32Array(n).fill(NaN);
        const dy = gbuf(sg, dyv), dx = gbuf(sg, dx0);
        k.broadcast_axis(dy.ptr, dx.ptr, outer, len, inner, alpha, acc);
        const wantX = new Float64Array(n), tolX = new Float64Array(n);
        for (let j = 0; j < n; j++) {
          const o = Math.floor(j / (len * inner)), i = j % inner;
          const r = alpha * dyv[o * inner + i]!;
          wantX[j] = (acc ? dx0[j]! : 0) + r;
          tolX[j] = 2 * U32 * (Math.abs(r) + (acc ? Math.abs(dx0[j]!) : 0)) + 1e-30;
        }
        expectWithin(dx.view(), wantX, tolX, `broadcast_axis [${outer}, ${len}, ${inner}] acc=${acc}`);
        for (const g of [x, y, dy, dx]) g.check(), g.free();
      }
    }
  });

  it("broadcast_scalar reads the upstream gradient from memory", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      for (const acc of [0, 1]) {
        const dx0 = acc ? randomArray(n, 9) : new Float32Array(n).fill(NaN);
        const dy = gbuf(sg, [1.5]), dx = gbuf(sg, dx0);
        k.broadcast_scalar(dy.ptr, dx.ptr, n, 0.25, acc);
        expectWithin(dx.view(), Array.from(dx0, (v) => (acc ? v : 0) + 0.375), Array.from(dx0, (v) => 2 * U32 * (0.375 + (acc ? Math.abs(v) : 0))), `broadcast_scalar n=${n}`);
        expect(dy.view()[0]).toBe(1.5);
        dy.check(), dx.check(), dy.free(), dx.free();
      }
    }
  });
});

describe("sum, mean and dot ops", () => {
  const shapes: number[][] = [[7], [3, 5], [2, 3, 4], [4, 1, 6], [1]];

  for (const shape of shapes) {
    for (const axis of [undefined, ...shape.map((_, i) => i), -1]) {
      for (const [name, op] of [["sum", sumOp], ["mean", meanOp]] as const) {
        it(`${name}(${JSON.stringify(shape)}, axis ${axis}): forward and gradient`, async () => {
          const sg = await runtime();
          const n = shape.reduce((a, b) => a * b, 1);
          const xv = randomArray(n, n + 3, -2, 2);
          const t = sg.tensor(shape, xv);
          const y = sg.apply(op, [t], { axis });
          // Reference.
          const ax = axis === undefined ? -1 : axis < 0 ? axis + shape.length : axis;
          const outer = axis === undefined ? 1 : shape.slice(0, ax).reduce((a, b) => a * b, 1);
          const len = axis === undefined ? n : shape[ax]!;
          const inner = axis === undefined ? 1 : shape.slice(ax + 1).reduce((a, b) => a * b, 1);
          expect(y.shape).toEqual(axis === undefined ? [] : shape.filter((_, i) => i !== ax));
          const want = new Float64Array(outer * inner);
          for (let o = 0; o < outer; o++) for (let a = 0; a < len; a++) for (let i = 0; i < inner; i++) want[o * inner + i]! += xv[(o * len + a) * inner + i]!;
          if (name === "mean") for (let j = 0; j < want.length; j++) want[j]! /= len;
          expectWithin(y.toArray(), want, (len + 4) * U32 * 2 * len, `${name} forward`);
          t.dispose(), y.dispose();
          checkGrad(sg, { op, attrs: { axis }, inputs: [{ shape, values: xv }] }, `${name} axis ${axis}`);
        });
      }
    }
  }

  it("mean of nothing is NaN, sum of nothing is 0", async () => {
    const sg = await runtime();
    const e = sg.zeros([0, 3]);
    expect(sg.apply(sumOp, [e], {}).toArray()[0]).toBe(0);
    expect(Number.isNaN(sg.apply(meanOp, [e], {}).toArray()[0])).toBe(true);
    expect(Array.from(sg.apply(sumOp, [e], { axis: 0 }).toArray())).toEqual([0, 0, 0]);
    expect(sg.apply(meanOp, [e], { axis: 1 }).shape).toEqual([0]);
  });

  it("dot forward and gradients (upstream gradient read from memory)", async () => {
    const sg = await runtime();
    for (const n of [0, 1, 3, 4, 5, 17, 33]) {
      const u = randomArray(n, n + 1, -2, 2), v = randomArray(n, n + 2, -2, 2);
      const tu = sg.tensor([n], u), tv = sg.tensor([n], v);
      const y = sg.apply(dotOp, [tu, tv], undefined);
      expect(y.shape).toEqual([]);
      let d = 0, da = 0;
      for (let i = 0; i < n; i++) (d += u[i]! * v[i]!), (da += Math.abs(u[i]! * v[i]!));
      expectWithin(y.toArray(), [d], sumBound(da, n), `dot n=${n}`);
      for (const t of [tu, tv, y]) t.dispose();
      if (n > 0) checkGrad(sg, { op: dotOp, attrs: undefined, inputs: [{ shape: [n], values: u }, { shape: [n], values: v }] }, `dot n=${n}`);
    }
  });

  it("errors name the op and the shapes; the runtime keeps working", async () => {
    const sg = await runtime();
    const a = sg.ones([2, 3]);
    expectError(() => sg.apply(sumOp, [a], { axis: 2 }), "sum: axis 2 is out of range for a is [2, 3]");
    expectError(() => sg.apply(meanOp, [a], { axis: -3 }), "mean: axis -3 is out of range for a is [2, 3]");
    expectError(() => sg.apply(sumOp, [a], { axis: 0.5 }), "sum: axis must be an integer", "[2, 3]");
    expectError(() => sg.apply(sumOp, [sg.ones([])], { axis: 0 }), "sum: axis 0 is out of range for a is []");
    expectError(() => sg.apply(dotOp, [sg.ones([3]), sg.ones([4])], undefined), "dot: expects two 1-D tensors of equal length: u is [3], v is [4]");
    expectError(() => sg.apply(dotOp, [a, a], undefined), "dot:", "u is [2, 3], v is [2, 3]");
    const y = sg.apply(sumOp, [a], { axis: -1 });
    expect(Array.from(y.toArray())).toEqual([3, 3]);
    expect(sg.apply(meanOp, [a], {}).toArray()[0]).toBe(1);
  });

  it("sum backward reads the upstream gradient from memory, non-unit", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const x = guarded(sg, 10), y = guarded(sg, 1), dy = gbuf(sg, [-3]), dx = gbuf(sg, new Float32Array(10).fill(1));
    const buf = (g: typeof x, shape: number[]) => ({ ptr: g.ptr, shape, size: g.n });
    meanOp.backward!(k, [buf(x, [10])], buf(y, []), buf(dy, []), [buf(dx, [10])], {}, { saved: [], scratch: 0 });
    expectWithin(dx.view(), new Array(10).fill(1 - 0.3), 1e-7, "mean backward");
    for (const g of [x, y, dy, dx]) g.check(), g.free();
  });
});
