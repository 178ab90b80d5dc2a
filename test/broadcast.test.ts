import { describe, expect, it } from "vitest";
import { addOp, maxOp, mulOp, subOp } from "../src/ops/elementwise.js";
import { divOp } from "../src/ops/broadcast.js";
import { meanOp, sumOp } from "../src/ops/reduce.js";
import { expOp, logOp, sqrtOp } from "../src/ops/unary.js";
import type { OpDef } from "../src/ops/op.js";
import type { Shape } from "../src/runtime/shape.js";
import { kernels, randomArray, runtime } from "./helpers.js";
import { SIZES, U32, checkGrad, expectError, expectWithin, gbuf } from "./elementwise-util.js";

const sizeOf = (s: Shape) => s.reduce((a, b) => a * b, 1);

/** NumPy broadcast shape (float64 reference side; assumes the shapes broadcast). */
function bshape(a: Shape, b: Shape): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const da = i < r - a.length ? 1 : a[i - (r - a.length)]!;
    const db = i < r - b.length ? 1 : b[i - (r - b.length)]!;
    return da === 1 ? db : da;
  });
}

/** Index of `out`'s element i in an operand of shape s broadcast to out. */
function srcIndex(i: number, out: Shape, s: Shape): number {
  let rem = i, idx = 0, stride = 1;
  for (let j = out.length - 1, k = s.length - 1; j >= 0; j--, k--) {
    const c = rem % out[j]!;
    rem = Math.floor(rem / out[j]!);
    if (k >= 0) {
      if (s[k] !== 1) idx += c * stride;
      stride *= s[k]!;
    }
  }
  return idx;
}

const F64: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => Math.max(a, b),
};
const OPS: [string, OpDef][] = [["add", addOp], ["sub", subOp], ["mul", mulOp], ["div", divOp], ["max", maxOp]];

/** Operand shape pairs: size-1 and broadcast axes, 1-D to 4-D, size 0, both orders. */
const PAIRS: [Shape, Shape][] = [];
for (const [a, b] of [
  [[3], [3]], [[2, 3], [3]], [[2, 3], [2, 1]], [[2, 1], [1, 3]], [[1], [4, 5]], [[], [2, 3]], [[4, 1, 5], [3, 1]],
  [[2, 3, 4], [2, 1, 4]], [[2, 3, 4], [1, 3, 1]], [[2, 1, 4, 1], [3, 1, 5]], [[2, 3, 4, 5], [2, 3, 4, 5]],
  [[5, 1, 1, 7], [1, 6, 9, 1]], [[0, 3], [1, 3]], [[2, 0, 4], [2, 1, 4]], [[17, 33], [17, 1]], [[64, 67], [1, 67]],
  [[9, 1], [9, 1]], [[1, 1], [3]], [[2, 3, 1, 5, 1], [3, 4, 1, 2]], [[7, 5], [7, 5, 1, 1].slice(2)],
] as [Shape, Shape][]) {
  PAIRS.push([a, b]);
  if (JSON.stringify(a) !== JSON.stringify(b)) PAIRS.push([b, a]);
}

describe("binary_nd kernel", () => {
  it("every op, every inner stride pattern, overwrite and accumulate, over the size sweep", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const ops = ["add", "sub", "mul", "div", "max"];
    for (const n of SIZES.filter((v) => v <= 4099)) {
      for (const [as, bs] of [[1, 1], [1, 0], [0, 1], [2, 1], [0, 0], [3, 2]] as const) {
        const av = randomArray(Math.max(1, n * as), n + 1, -2, 2);
        const bv = randomArray(Math.max(1, n * bs), n + 2, 0.5, 2);
        for (let op = 0; op < 6; op++) {
          for (const acc of [0, 1]) {
            const y0 = acc ? randomArray(n, 3) : new Float32Array(n).fill(NaN);
            const a = gbuf(sg, av), b = gbuf(sg, bv), y = gbuf(sg, y0);
            k.binary_nd(op, a.ptr, b.ptr, y.ptr, 1, 1, 1, n, 0, 0, 0, as, 0, 0, 0, bs, acc);
            const want = Float64Array.from({ length: n }, (_, i) => {
              const x = av[i * as]!, z = bv[i * bs]!;
              const r = op < 5 ? F64[ops[op]!]!(x, z) : x > z ? 1 : x === z ? 0.5 : 0;
              return (acc ? y0[i]! : 0) + r;
            });
            expectWithin(y.view(), want, Array.from(want, (v) => 2 * U32 * (Math.abs(v) + 2)), `binary_nd op ${op} n=${n} strides ${as},${bs} acc=${acc}`);
            a.check(), b.check(), y.check(), a.free(), b.free(), y.free();
          }
        }
      }
    }
  });
});

describe("NumPy broadcasting of add, sub, mul, div, max", () => {
  it("forward against a float64 reference over broadcasting shape pairs", async () => {
    const sg = await runtime();
    for (const [name, op] of OPS) {
      for (const [as, bs] of PAIRS) {
        const out = bshape(as, bs);
        const av = randomArray(sizeOf(as), sizeOf(as) + 1, -2, 2);
        const bv = randomArray(sizeOf(bs), sizeOf(bs) + 5, 0.5, 2);
        const y = sg.apply(op, [sg.tensor(as, av), sg.tensor(bs, bv)], undefined);
        expect(y.shape, `${name} ${as} ${bs}`).toEqual(out);
        const want = Float64Array.from({ length: sizeOf(out) }, (_, i) => F64[name]!(av[srcIndex(i, out, as)]!, bv[srcIndex(i, out, bs)]!));
        expectWithin(y.data, want, Array.from(want, (v) => U32 * Math.abs(v)), `${name} ${JSON.stringify(as)} ${JSON.stringify(bs)}`);
        y.dispose();
      }
    }
  });

  it("gradients sum back to each operand's shape (numeric estimate)", async () => {
    const sg = await runtime();
    for (const [name, op] of OPS) {
      for (const [as, bs] of PAIRS) {
        if (sizeOf(bshape(as, bs)) > 400) continue;
        // max: a on the grid 0.1·k + 0.05, b on 0.1·k, so |a − b| ≥ 0.05 stays clear of the
        // kink for the step h = 0.01. Divisors away from 0.
        const av = randomArray(sizeOf(as), 3, -2, 2).map((v) => (name === "max" ? Math.round(v * 10) / 10 + 0.05 : v));
        const bv = randomArray(sizeOf(bs), 4, 0.5, 2).map((v, i) => (name === "div" ? v : name === "max" ? Math.round((i % 2 ? -v : v) * 10) / 10 : i % 2 ? -v : v));
        checkGrad(sg, { op, attrs: undefined, inputs: [{ shape: as, values: av }, { shape: bs, values: bv }], rtol: 5e-3, atol: 5e-3 },
          `${name} ${JSON.stringify(as)} ${JSON.stringify(bs)}`);
      }
    }
  });

  it("max under broadcasting splits ties equally (documented convention)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const a = sg.tensor([2, 3], [1, 2, 3, 2, 2, 0]);
    const b = sg.tensor([3], [2, 2, 2]);
    const y = sg.apply(maxOp, [a, b], undefined);
    expect(Array.from(y.data)).toEqual([2, 2, 3, 2, 2, 2]);
    const dy = sg.tensor([2, 3], [1, 1, 1, 1, 1, 1]);
    const da = sg.zeros([2, 3]), db = sg.zeros([3]);
    const scratch = sg.rt.scratch(maxOp.scratchBytes!([a.shape, b.shape], undefined));
    maxOp.backward!(k, [a, b], y, dy, [da, db], undefined, { saved: [], scratch });
    expect(Array.from(da.data)).toEqual([0, 0.5, 1, 0.5, 0.5, 0]);
    expect(Array.from(db.data)).toEqual([1 + 0.5, 0.5 + 0.5, 0 + 1]);
  });

  it("incompatible shapes: a clear error naming the op and both shapes, before any kernel", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.input([2, 3, 4], "a"), b = g.input([3, 5], "b");
    for (const name of ["add", "sub", "mul", "div", "max"] as const) {
      expectError(() => g[name](a, b), `${name}: shapes do not broadcast: a is [2, 3, 4], b is [3, 5]`);
    }
    expectError(() => sg.apply(divOp, [sg.zeros([4, 2]), sg.zeros([3, 1])], undefined), "div: shapes do not broadcast: a is [4, 2], b is [3, 1]");
    const y = g.sum(g.div(a, g.input([3, 1], "c")));
    g.forward({ a: randomArray(24, 1), b: randomArray(15, 1), c: [1, 2, 4] });
    expect(Number.isFinite(y.value.data[0]!)).toBe(true);
  });
});

describe("exp, log, sqrt", () => {
  it("forward within stated ulps of Math over the size sweep, gradients by numeric estimate", async () => {
    const sg = await runtime();
    for (const n of SIZES) {
      const xv = randomArray(n, n + 1, -10, 10);
      const pv = randomArray(n, n + 2, 1e-3, 50);
      const e = sg.apply(expOp, [sg.tensor([n], xv)], undefined);
      expectWithin(e.data, Array.from(xv, Math.exp), Array.from(xv, (v) => 2 * U32 * Math.exp(v)), `exp n=${n}`);
      const l = sg.apply(logOp, [sg.tensor([n], pv)], undefined);
      expectWithin(l.data, Array.from(pv, Math.log), Array.from(pv, (v) => 4 * U32 * Math.abs(Math.log(v)) + 1e-30), `log n=${n}`);
      const s = sg.apply(sqrtOp, [sg.tensor([n], pv)], undefined);
      expectWithin(s.data, Array.from(pv, (v) => Math.fround(Math.sqrt(v))), 0, `sqrt n=${n}`);
      for (const t of [e, l, s]) t.dispose();
    }
    const l = sg.apply(logOp, [sg.tensor([3], [0, -1, Infinity])], undefined);
    expect(Array.from(l.data)).toEqual([-Infinity, NaN, Infinity]);
    checkGrad(sg, { op: expOp, attrs: undefined, inputs: [{ shape: [3, 7], values: randomArray(21, 1, -2, 2) }] }, "exp");
    checkGrad(sg, { op: logOp, attrs: undefined, inputs: [{ shape: [2, 3, 5], values: randomArray(30, 2, 0.5, 3) }], h: 1e-3 }, "log");
    checkGrad(sg, { op: sqrtOp, attrs: undefined, inputs: [{ shape: [13], values: randomArray(13, 3, 0.5, 3) }], h: 1e-3 }, "sqrt");
  });
});

describe("sum and mean over any axes, with keepDims", () => {
  /** float64 reference: sums over the masked axes of x. */
  function reduceRef(x: ArrayLike<number>, s: Shape, mask: boolean[]): { sum: Float64Array; abs: Float64Array; count: number } {
    const outShape = s.map((d, i) => (mask[i] ? 1 : d));
    const out = new Float64Array(sizeOf(outShape));
    const abs = new Float64Array(out.length);
    for (let i = 0; i < sizeOf(s); i++) {
      const j = srcIndex(i, s, outShape);
      out[j]! += x[i]!;
      abs[j]! += Math.abs(x[i]!);
    }
    return { sum: out, abs, count: s.reduce((a, d, i) => (mask[i] ? a * d : a), 1) };
  }

  const CASES: [Shape, number | number[] | undefined][] = [
    [[5], 0], [[4, 6], 0], [[4, 6], 1], [[4, 6], [0, 1]], [[4, 6], undefined], [[2, 3, 4], [0, 2]], [[2, 3, 4], [1]],
    [[2, 3, 4], [-1, -3]], [[3, 1, 4, 5], [0, 2]], [[3, 2, 4, 5], [1, 3]], [[3, 2, 4, 5], [0, 1, 3]], [[2, 3, 4, 5], []],
    [[0, 4], 0], [[4, 0], 0], [[2, 0, 3], [1]], [[1000, 3], 0], [[3, 5000], [1]], [[2, 513, 2, 3], [1, 3]],
  ];

  it("forward against float64 (overwrite), shapes with and without keepDims", async () => {
    const sg = await runtime();
    for (const [s, axis] of CASES) {
      const n = sizeOf(s);
      const xv = randomArray(n, n + 3, -1, 1);
      const mask = axis === undefined ? s.map(() => true) : s.map((_, i) => (Array.isArray(axis) ? axis : [axis]).some((a) => (a < 0 ? a + s.length : a) === i));
      const ref = reduceRef(xv, s, mask);
      for (const [name, op] of [["sum", sumOp], ["mean", meanOp]] as const) {
        for (const keepDims of [false, true]) {
          const y = sg.apply(op, [sg.tensor(s, xv)], { axis, keepDims });
          expect(y.shape).toEqual(keepDims ? s.map((d, i) => (mask[i] ? 1 : d)) : s.filter((_, i) => !mask[i]));
          const f = name === "mean" ? 1 / ref.count : 1;
          const want = Array.from(ref.sum, (v) => v * f);
          // Bound of a blocked f32 sum: (1024/16 + 4)·u·Σ|x| (see reduce.test.ts), or a row-wise
          // running sum over at most 1000 rows.
          const bound = Array.from(ref.abs, (v) => (v === 0 && ref.count === 0 ? 0 : Math.max(68, Math.min(ref.count, 1100)) * U32 * v * Math.abs(f) + 1e-30));
          expectWithin(y.data, want, bound, `${name} ${JSON.stringify(s)} axis ${JSON.stringify(axis)} keepDims ${keepDims}`);
          y.dispose();
        }
      }
    }
  });

  it("gradients by numeric estimate (keepDims, lists of axes, 4-D)", async () => {
    const sg = await runtime();
    for (const [s, axis] of CASES) {
      if (sizeOf(s) > 300) continue;
      for (const op of [sumOp, meanOp]) {
        for (const keepDims of [false, true]) {
          checkGrad(sg, { op, attrs: { axis, keepDims }, inputs: [{ shape: s, values: randomArray(sizeOf(s), 2) }] }, `${op.name} ${JSON.stringify(s)} ${JSON.stringify(axis)} ${keepDims}`);
        }
      }
    }
  });

  it("the mean over an empty axis is NaN; bad axes are clear errors", async () => {
    const sg = await runtime();
    expect(Array.from(sg.apply(meanOp, [sg.zeros([0, 3])], { axis: 0 }).data)).toEqual([NaN, NaN, NaN]);
    expect(Array.from(sg.apply(sumOp, [sg.zeros([0, 3])], { axis: 0 }).data)).toEqual([0, 0, 0]);
    const g = sg.graph();
    const x = g.input([2, 3, 4], "x");
    expectError(() => g.sum(x, [0, 3]), "sum: axis 3 is out of range for a is [2, 3, 4]");
    expectError(() => g.mean(x, [1, -2]), "mean: axis -2 is listed twice", "[2, 3, 4]");
    expectError(() => g.sum(x, [0.5]), "sum: axis must be an integer");
    expect(g.sum(x, [0, 2], { keepDims: true }).shape).toEqual([1, 3, 1]);
    expect(g.mean(x, -1).shape).toEqual([2, 3]);
  });
});

describe("broadcasting in graphs", () => {
  it("a normalisation written with broadcasting ops passes gradcheck (3-D, keepDims, div, sqrt, exp, log)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 3, 4], "x", { requiresGrad: true });
    const gamma = g.param([1, 3, 1], { data: randomArray(3, 1, 0.5, 1.5), name: "gamma" });
    const beta = g.param([4], { data: randomArray(4, 2), name: "beta" });
    const mu = g.mean(x, -1, { keepDims: true });
    const c = g.sub(x, mu);
    const v = g.mean(g.mul(c, c), [2], { keepDims: true });
    const z = g.add(g.mul(g.div(c, g.sqrt(g.add(v, g.param([], { data: [1e-3], name: "eps" })))), gamma), beta);
    const loss = g.sum(g.log(g.add(g.exp(g.max(z, g.param([1, 1, 4], { data: [0, -0.3, 0.2, 0.1], name: "floor" }))), g.param([], { data: [1], name: "one" }))));
    const report = sg.gradcheck(g, loss, { feeds: { x: randomArray(24, 5, -2, 2) } });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
  });
});
