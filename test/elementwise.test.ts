import { describe, expect, it } from "vitest";
import { addOp, broadcast, maxOp, mulOp, scaleOp, subOp } from "../src/ops/elementwise.js";
import { guarded, kernels, randomArray, runtime } from "./helpers.js";
import { ROWS_COLS, SIZES, U32, checkGrad, expectError, expectWithin, gbuf } from "./elementwise-util.js";

type Bin = "add" | "sub" | "rsub" | "mul";
const f64op: Record<Bin | "max", (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  rsub: (a, b) => b - a,
  mul: (a, b) => a * b,
  max: (a, b) => Math.max(a, b),
};

/** Output before the call: NaN when the kernel must not read it, random when it accumulates. */
function initialY(n: number, acc: number, seed: number): Float32Array {
  return acc ? randomArray(n, seed, -2, 2) : new Float32Array(n).fill(NaN);
}

/** Allowed error of y0 + r (r the exact op result): one rounding of each step. */
function bound(y0: number, r: number, acc: number): number {
  return acc ? 2 * U32 * (Math.abs(y0) + Math.abs(r)) + 1e-30 : U32 * Math.abs(r) + 1e-30;
}

describe("elementwise kernels vs float64 references", () => {
  it("add/sub/mul_same and max_same over the size sweep, overwrite and accumulate", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      const av = randomArray(n, n + 1, -3, 3);
      const bv = randomArray(n, n + 2, -3, 3);
      for (const op of ["add", "sub", "mul", "max"] as const) {
        for (const acc of op === "max" ? [0] : [0, 1]) {
          const y0 = initialY(n, acc, n + 3);
          const a = gbuf(sg, av), b = gbuf(sg, bv), y = gbuf(sg, y0);
          if (op === "max") k.max_same(a.ptr, b.ptr, y.ptr, n);
          else k[`${op}_same`](a.ptr, b.ptr, y.ptr, n, acc);
          const want = new Float64Array(n), tol = new Float64Array(n);
          for (let i = 0; i < n; i++) {
            const r = f64op[op](av[i]!, bv[i]!);
            want[i] = (acc ? y0[i]! : 0) + r;
            tol[i] = op === "max" ? 0 : bound(y0[i]!, r, acc);
          }
          expectWithin(y.view(), want, tol, `${op}_same n=${n} acc=${acc}`);
          for (const g of [a, b, y]) g.check(), g.free();
        }
      }
    }
  });

  it("in place: y may be a", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const av = randomArray(37, 5), bv = randomArray(37, 6);
    const a = gbuf(sg, av), b = gbuf(sg, bv);
    k.mul_same(a.ptr, b.ptr, a.ptr, 37, 0);
    expectWithin(a.view(), Array.from(av, (v, i) => v * bv[i]!), Array.from(av, (v, i) => U32 * Math.abs(v * bv[i]!)), "mul_same in place");
    a.check(), b.check(), a.free(), b.free();
  });

  it("add/sub/rsub/mul_rows: a [rows, cols] with b [cols] broadcast over rows", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const [r, c] of ROWS_COLS) {
      const n = r * c;
      const av = randomArray(n, n + 11, -3, 3);
      const bv = randomArray(c, c + 12, -3, 3);
      for (const op of ["add", "sub", "rsub", "mul"] as const) {
        for (const acc of [0, 1]) {
          const y0 = initialY(n, acc, 99);
          const a = gbuf(sg, av), b = gbuf(sg, bv), y = gbuf(sg, y0);
          k[`${op}_rows`](a.ptr, b.ptr, y.ptr, r, c, acc);
          const want = new Float64Array(n), tol = new Float64Array(n);
          for (let i = 0; i < n; i++) {
            const res = f64op[op](av[i]!, bv[i % c]!);
            want[i] = (acc ? y0[i]! : 0) + res;
            tol[i] = bound(y0[i]!, res, acc);
          }
          expectWithin(y.view(), want, tol, `${op}_rows ${r}x${c} acc=${acc}`);
          for (const g of [a, b, y]) g.check(), g.free();
        }
      }
    }
  });

  it("add/sub/rsub/mul_scalar: the scalar operand read from memory", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      const av = randomArray(n, n + 21, -3, 3);
      const sv = -1.75;
      for (const op of ["add", "sub", "rsub", "mul"] as const) {
        for (const acc of [0, 1]) {
          const y0 = initialY(n, acc, 5);
          const a = gbuf(sg, av), s = gbuf(sg, [sv]), y = gbuf(sg, y0);
          k[`${op}_scalar`](a.ptr, s.ptr, y.ptr, n, acc);
          const want = new Float64Array(n), tol = new Float64Array(n);
          for (let i = 0; i < n; i++) {
            const res = f64op[op](av[i]!, sv);
            want[i] = (acc ? y0[i]! : 0) + res;
            tol[i] = bound(y0[i]!, res, acc);
          }
          expectWithin(y.view(), want, tol, `${op}_scalar n=${n} acc=${acc}`);
          expect(s.view()[0]).toBe(sv);
          for (const g of [a, s, y]) g.check(), g.free();
        }
      }
    }
  });

  it("scale, axpy, fill, copy", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      const xv = randomArray(n, n + 31, -3, 3);
      const y0 = randomArray(n, n + 32, -3, 3);
      const x = gbuf(sg, xv);
      const y = gbuf(sg, new Float32Array(n).fill(NaN));
      k.scale_f32(x.ptr, y.ptr, n, 0.37);
      expectWithin(y.view(), Array.from(xv, (v) => 0.37 * v), Array.from(xv, (v) => 2 * U32 * Math.abs(v)), `scale n=${n}`);
      y.set(y0);
      k.axpy_f32(x.ptr, y.ptr, n, -1.5);
      expectWithin(y.view(), Array.from(xv, (v, i) => y0[i]! - 1.5 * v), Array.from(xv, (v, i) => 2 * U32 * (Math.abs(y0[i]!) + Math.abs(1.5 * v))), `axpy n=${n}`);
      k.fill_f32(y.ptr, n, 2.5);
      expect(y.view().every((v) => v === 2.5)).toBe(true);
      k.copy_f32(x.ptr, y.ptr, n);
      expect(Array.from(y.view())).toEqual(Array.from(xv));
      x.check(), y.check(), x.free(), y.free();
    }
  });

  it("fill: +0 and −0 keep their sign bits on both sides of the bulk-fill threshold (256 floats), nothing outside written", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of [0, 1, 3, 255, 256, 257, 1023, 4099, 784 * 256]) {
      for (const value of [0, -0, 1.5]) {
        const y = gbuf(sg, new Float32Array(n).fill(NaN));
        k.fill_f32(y.ptr, n, value);
        const v = y.view();
        let bad = -1;
        for (let i = 0; i < n && bad < 0; i++) if (!Object.is(v[i], value)) bad = i;
        expect(bad, `fill n=${n} value=${Object.is(value, -0) ? "-0" : value}: element ${bad} is ${v[bad]}`).toBe(-1);
        y.check(), y.free();
      }
    }
  });

  it("max_backward: gradient to the larger input, halves on ties, null pointers skipped", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      const av = randomArray(n, n + 41, -2, 2);
      const bv = randomArray(n, n + 42, -2, 2);
      for (let i = 0; i < n; i += 3) bv[i] = av[i]!; // ties every third element
      const dyv = randomArray(n, n + 43, -2, 2);
      for (const acc of [0, 1]) {
        const da0 = initialY(n, acc, 1), db0 = initialY(n, acc, 2);
        const a = gbuf(sg, av), b = gbuf(sg, bv), dy = gbuf(sg, dyv), da = gbuf(sg, da0), db = gbuf(sg, db0);
        k.max_backward(a.ptr, b.ptr, dy.ptr, da.ptr, db.ptr, n, acc);
        const wa = (i: number) => (av[i]! > bv[i]! ? 1 : av[i] === bv[i] ? 0.5 : 0);
        const wantA = Array.from(dyv, (d, i) => (acc ? da0[i]! : 0) + wa(i) * d);
        const wantB = Array.from(dyv, (d, i) => (acc ? db0[i]! : 0) + (1 - wa(i)) * d);
        const tol = Array.from(dyv, (d, i) => 2 * U32 * (Math.abs(d) + (acc ? Math.abs(da0[i]!) + Math.abs(db0[i]!) : 0)));
        expectWithin(da.view(), wantA, tol, `max_backward da n=${n} acc=${acc}`);
        expectWithin(db.view(), wantB, tol, `max_backward db n=${n} acc=${acc}`);
        // Only db wanted: da (pointer 0) is skipped, db computed the same.
        db.set(db0);
        const daBefore = da.view().slice();
        k.max_backward(a.ptr, b.ptr, dy.ptr, 0, db.ptr, n, acc);
        expectWithin(db.view(), wantB, tol, `max_backward db alone n=${n}`);
        expect(Array.from(da.view())).toEqual(Array.from(daBefore));
        for (const g of [a, b, dy, da, db]) g.check(), g.free();
      }
    }
  });

  it("col_sums, col_sums_mul and row_sums with α, overwrite and accumulate", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const [r, c] of ROWS_COLS) {
      const xv = randomArray(r * c, r * 1000 + c, -2, 2);
      const wv = randomArray(r * c, r * 1000 + c + 1, -2, 2);
      for (const acc of [0, 1]) {
        for (const alpha of [1, -0.5]) {
          // Column sums (with and without weights).
          for (const weighted of [false, true]) {
            const y0 = initialY(c, acc, 3);
            const x = gbuf(sg, xv), w = gbuf(sg, wv), y = gbuf(sg, y0);
            if (weighted) k.col_sums_mul(x.ptr, w.ptr, y.ptr, r, c, alpha, acc);
            else k.col_sums(x.ptr, y.ptr, r, c, alpha, acc);
            const want = new Float64Array(c), tol = new Float64Array(c);
            for (let j = 0; j < c; j++) {
              let s = 0, sa = 0;
              for (let i = 0; i < r; i++) {
                const t = xv[i * c + j]! * (weighted ? wv[i * c + j]! : 1);
                s += t;
                sa += Math.abs(t);
              }
              want[j] = (acc ? y0[j]! : 0) + alpha * s;
              tol[j] = (r + 3) * U32 * (Math.abs(alpha) * sa + Math.abs(acc ? y0[j]! : 0)) + 1e-30;
            }
            expectWithin(y.view(), want, tol, `col_sums${weighted ? "_mul" : ""} ${r}x${c} α=${alpha} acc=${acc}`);
            for (const g of [x, w, y]) g.check(), g.free();
          }
          // Row sums.
          const y0 = initialY(r, acc, 4);
          const x = gbuf(sg, xv), y = gbuf(sg, y0);
          k.row_sums(x.ptr, y.ptr, r, c, alpha, acc);
          const want = new Float64Array(r), tol = new Float64Array(r);
          for (let i = 0; i < r; i++) {
            let s = 0, sa = 0;
            for (let j = 0; j < c; j++) (s += xv[i * c + j]!), (sa += Math.abs(xv[i * c + j]!));
            want[i] = (acc ? y0[i]! : 0) + alpha * s;
            tol[i] = (Math.min(c, 1024) / 16 + 4) * U32 * (Math.abs(alpha) * sa + Math.abs(acc ? y0[i]! : 0)) + 1e-30;
          }
          expectWithin(y.view(), want, tol, `row_sums ${r}x${c} α=${alpha} acc=${acc}`);
          for (const g of [x, y]) g.check(), g.free();
        }
      }
    }
  });
});

describe("add, sub, mul, scale, max ops", () => {
  const cases: { a: number[]; b: number[] }[] = [
    { a: [3, 5], b: [3, 5] },
    { a: [4, 6], b: [6] }, // bias
    { a: [6], b: [4, 6] }, // broadcast operand first
    { a: [2, 3, 5], b: [3, 5] },
    { a: [3, 7], b: [] }, // scalar
    { a: [], b: [9] },
    { a: [5, 3], b: [1] }, // single-element operands broadcast as scalars
    { a: [1, 1], b: [2, 3] },
    { a: [], b: [] },
  ];

  it("broadcast rule: output shape and layout", () => {
    expect(broadcast("add", [64, 256], [256])).toMatchObject({ kind: "rows", big: 0, shape: [64, 256], rows: 64, cols: 256 });
    expect(broadcast("add", [256], [64, 256])).toMatchObject({ kind: "rows", big: 1, shape: [64, 256], rows: 64, cols: 256 });
    expect(broadcast("add", [2, 3, 4], [3, 4])).toMatchObject({ kind: "rows", rows: 2, cols: 12 });
    expect(broadcast("add", [2, 3], [])).toMatchObject({ kind: "scalar", big: 0, shape: [2, 3] });
    expect(broadcast("add", [1], [2, 3])).toMatchObject({ kind: "scalar", big: 1, shape: [2, 3] });
    expect(broadcast("add", [2, 1], [2, 1])).toMatchObject({ kind: "same" });
    expect(broadcast("add", [0, 5], [5])).toMatchObject({ kind: "rows", rows: 0, cols: 5 });
  });

  for (const { a, b } of cases) {
    for (const [name, op] of [["add", addOp], ["sub", subOp], ["mul", mulOp]] as const) {
      it(`${name} forward and gradients: a ${JSON.stringify(a)}, b ${JSON.stringify(b)}`, async () => {
        const sg = await runtime();
        const na = a.reduce((p, q) => p * q, 1), nb = b.reduce((p, q) => p * q, 1);
        const av = randomArray(na, 3, -2, 2), bv = randomArray(nb, 4, -2, 2);
        // Forward through the eager path against a float64 reference.
        const ta = sg.tensor(a, av), tb = sg.tensor(b, bv);
        const y = sg.apply(op, [ta, tb], undefined);
        const bc = broadcast(name, a, b);
        expect(y.shape).toEqual(bc.shape);
        const big = bc.big === 0 ? av : bv, small = bc.big === 0 ? bv : av;
        const want = Array.from(big, (v, i) => {
          const s = bc.kind === "same" ? small[i]! : small[i % small.length]!;
          return bc.big === 0 ? f64op[name](v, s) : f64op[name](s, v);
        });
        expectWithin(y.toArray(), want, want.map((w) => U32 * Math.abs(w)), `${name} forward`);
        for (const t of [ta, tb, y]) t.dispose();
        checkGrad(sg, { op, attrs: undefined, inputs: [{ shape: a, values: av }, { shape: b, values: bv }] }, `${name} ${JSON.stringify(a)} ${JSON.stringify(b)}`);
        // Only one gradient wanted.
        checkGrad(sg, { op, attrs: undefined, inputs: [{ shape: a, values: av }, { shape: b, values: bv }], wrt: [1] }, `${name} db only`);
      });
    }
  }

  it("x·x (both inputs the same values) sums both gradients: 2x", async () => {
    const sg = await runtime();
    const x = randomArray(11, 8, -2, 2);
    checkGrad(sg, { op: mulOp, attrs: undefined, inputs: [{ shape: [11], values: x }, { shape: [11], values: x }] }, "mul x·x");
  });

  it("scale forward and gradient", async () => {
    const sg = await runtime();
    const t = sg.tensor([2, 9], randomArray(18, 9));
    const y = sg.apply(scaleOp, [t], { s: -2.5 });
    expectWithin(y.toArray(), Array.from(t.toArray(), (v) => Math.fround(-2.5 * v)), 0, "scale (one rounding)");
    checkGrad(sg, { op: scaleOp, attrs: { s: -2.5 }, inputs: [{ shape: [2, 9], values: t.toArray() }] }, "scale");
    t.dispose(), y.dispose();
  });

  it("max gradient away from ties matches the numeric estimate", async () => {
    const sg = await runtime();
    const av = randomArray(30, 10, -2, 2);
    // b differs from a by at least 0.1, so ±h never crosses a tie.
    const bv = av.map((v, i) => v + (i % 2 ? 0.3 : -0.3) * (1 + (i % 5) / 5));
    checkGrad(sg, { op: maxOp, attrs: undefined, inputs: [{ shape: [5, 6], values: av }, { shape: [5, 6], values: bv }] }, "max");
  });

  it("max at ties splits the gradient equally (the documented convention)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const a = gbuf(sg, [1, 2, 3, -0, 5]), b = gbuf(sg, [1, 1, 4, 0, 5]);
    const y = guarded(sg, 5), dy = gbuf(sg, [2, 4, 6, 8, -10]);
    const da = gbuf(sg, [1, 1, 1, 1, 1]), db = gbuf(sg, [0, 0, 0, 0, 0]);
    const buf = (g: typeof a) => ({ ptr: g.ptr, shape: [5], size: 5 });
    maxOp.forward(k, [buf(a), buf(b)], buf(y), undefined, { saved: [], scratch: 0 });
    expect(Array.from(y.view())).toEqual([1, 2, 4, 0, 5]);
    maxOp.backward!(k, [buf(a), buf(b)], buf(y), buf(dy), [buf(da), buf(db)], undefined, { saved: [], scratch: 0 });
    // da started at 1 (accumulates); -0 and 0 tie.
    expect(Array.from(da.view())).toEqual([2, 5, 1, 5, -4]);
    expect(Array.from(db.view())).toEqual([1, 0, 6, 4, -5]);
    for (const g of [a, b, y, dy, da, db]) g.check(), g.free();
  });

  it("shape errors name the op and both shapes, and the runtime keeps working", async () => {
    const sg = await runtime();
    const a = sg.zeros([64, 256]), b = sg.zeros([10]), c = sg.ones([256]);
    expectError(() => sg.apply(addOp, [a, b], undefined), "add: shapes do not broadcast: a is [64, 256], b is [10]");
    expectError(() => sg.apply(subOp, [b, a], undefined), "sub: shapes do not broadcast: a is [10], b is [64, 256]");
    expectError(() => sg.apply(mulOp, [a, sg.zeros([64])], undefined), "mul: shapes do not broadcast: a is [64, 256], b is [64]");
    expectError(() => sg.apply(maxOp, [a, b], undefined), "max: shapes do not broadcast: a is [64, 256], b is [10]");
    expectError(() => sg.apply(scaleOp, [a], { s: NaN }), "scale:", "[64, 256]");
    expectError(() => sg.apply(addOp, [a], undefined), "add: expects 2 inputs");
    const y = sg.apply(addOp, [a, c], undefined);
    expect(y.shape).toEqual([64, 256]);
    expect(y.toArray().every((v) => v === 1)).toBe(true);
    for (const t of [a, b, c, y]) t.dispose();
  });
});
