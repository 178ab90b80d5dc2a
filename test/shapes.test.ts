import { describe, expect, it } from "vitest";
import type { Buf, OpDef, OpEnv } from "../src/ops/op.js";
import { sumOp } from "../src/ops/reduce.js";
import { concatOp, reshapeOp, sliceOp, transposeOp } from "../src/ops/shapes.js";
import type { Kernels } from "../src/runtime/kernels.js";
import { stridesOf } from "../src/ops/strided.js";
import type { Shape } from "../src/runtime/shape.js";
import { kernels, randomArray, runtime } from "./helpers.js";
import { checkGrad, expectError, expectWithin, gbuf } from "./elementwise-util.js";

const sizeOf = (s: Shape) => s.reduce((a, b) => a * b, 1);

/** Float64 reference of a strided gather: out[i] = x[Σ idx·xs] over dims (row-major i). */
function gatherRef(x: ArrayLike<number>, off: number, dims: Shape, xs: readonly number[]): Float64Array {
  const n = sizeOf(dims);
  const out = new Float64Array(n);
  const idx = new Array<number>(dims.length).fill(0);
  for (let i = 0; i < n; i++) {
    let o = off;
    for (let j = 0; j < dims.length; j++) o += idx[j]! * xs[j]!;
    out[i] = x[o]!;
    for (let j = dims.length - 1; j >= 0; j--) {
      if (++idx[j]! < dims[j]!) break;
      idx[j] = 0;
    }
  }
  return out;
}

function transposeRef(x: ArrayLike<number>, s: Shape, perm: readonly number[]): Float64Array {
  const xs = stridesOf(s);
  return gatherRef(x, 0, perm.map((a) => s[a]!), perm.map((a) => xs[a]!));
}

/** All permutations of 0..n-1. */
function perms(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const p of perms(n - 1)) for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)]);
  return out;
}

describe("copy_nd kernel", () => {
  it("gathers, scales and accumulates over strided 4-D spaces (unit, zero, other inner strides, swapped planes)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const cases: { d: number[]; xs: number[] }[] = [];
    for (const [r, c] of [[0, 3], [1, 1], [3, 5], [4, 4], [5, 9], [8, 8], [13, 7], [17, 33], [64, 3]] as const) {
      cases.push({ d: [1, 2, r, c], xs: [0, r * c, c, 1] }); // contiguous
      cases.push({ d: [1, 2, r, c], xs: [0, r * c, 1, r] }); // last two swapped (transpose planes)
      cases.push({ d: [2, 1, r, c], xs: [r, 0, 1, 0] }); // broadcast along the inner axis
      cases.push({ d: [1, 1, r, c], xs: [0, 0, 2 * c + 1, 2] }); // strided rows
    }
    for (const { d, xs } of cases) {
      const span = d.reduce((o, v, i) => o + (v - 1) * xs[i]!, 1);
      const xv = randomArray(Math.max(span, 1), span + 3);
      const n = sizeOf(d);
      const want = gatherRef(xv, 0, d, xs);
      for (const acc of [0, 1]) {
        const alpha = acc ? -0.5 : 1;
        const y0 = acc ? randomArray(n, 9) : new Float32Array(n).fill(NaN);
        const x = gbuf(sg, xv), y = gbuf(sg, y0);
        k.copy_nd(x.ptr, y.ptr, d[0]!, d[1]!, d[2]!, d[3]!, xs[0]!, xs[1]!, xs[2]!, xs[3]!, d[1]! * d[2]! * d[3]!, d[2]! * d[3]!, d[3]!, 1, alpha, acc);
        const w = Float64Array.from(want, (v, i) => (acc ? y0[i]! : 0) + alpha * v);
        expectWithin(y.view(), w, Array.from(w, (v) => 2 ** -23 * (Math.abs(v) + 1)), `copy_nd d=${d} xs=${xs} acc=${acc}`);
        x.check(), y.check(), x.free(), y.free();
      }
    }
  });
});

describe("transpose, slice, concat, reshape ops", () => {
  it("transpose: every permutation of 1-D to 4-D shapes with size-1 and size-0 axes, forward exact", async () => {
    const sg = await runtime();
    const shapes: Shape[] = [[5], [0, 3], [1, 7], [4, 4], [9, 5], [2, 3, 4], [3, 1, 5], [2, 0, 3], [2, 3, 4, 5], [6, 1, 9, 4], [1, 17, 2, 8]];
    for (const s of shapes) {
      const xv = randomArray(sizeOf(s), s.length + 1);
      for (const perm of perms(s.length)) {
        const x = sg.tensor(s, xv);
        const y = sg.apply(transposeOp, [x], { perm });
        expect(y.shape).toEqual(perm.map((a) => s[a]));
        expectWithin(y.data, transposeRef(xv, s, perm), 0, `transpose ${s} perm ${perm}`);
        x.dispose(), y.dispose();
      }
    }
    // Default: axes reversed; negative axes count from the end.
    const x = sg.tensor([2, 3, 4], randomArray(24, 2));
    expect(sg.apply(transposeOp, [x], {}).shape).toEqual([4, 3, 2]);
    expect(sg.apply(transposeOp, [x], { perm: [-1, 0, 1] }).shape).toEqual([4, 2, 3]);
  });

  it("transpose of large planes (the 4 × 4 block path with edges)", async () => {
    const sg = await runtime();
    for (const s of [[67, 131], [3, 64, 33], [128, 256]] as Shape[]) {
      const xv = randomArray(sizeOf(s), 5);
      const perm = s.length === 2 ? [1, 0] : [0, 2, 1];
      const y = sg.apply(transposeOp, [sg.tensor(s, xv)], { perm });
      expectWithin(y.data, transposeRef(xv, s, perm), 0, `transpose ${s}`);
    }
  });

  it("gradients of transpose, slice, concat and reshape match the numeric estimate", async () => {
    const sg = await runtime();
    for (const [s, perm] of [[[3, 4], [1, 0]], [[2, 3, 4], [2, 0, 1]], [[2, 1, 3, 5], [3, 1, 0, 2]], [[5, 6, 4], [0, 2, 1]]] as [Shape, number[]][]) {
      checkGrad(sg, { op: transposeOp, attrs: { perm }, inputs: [{ shape: s, values: randomArray(sizeOf(s), 3) }] }, `transpose ${s} ${perm}`);
    }
    for (const [s, begin, size] of [
      [[7], [2], [3]], [[4, 5], [1, 0], [2, -1]], [[3, 4, 5], [0, 1, 2], [-1, 2, 3]], [[2, 3, 4, 5], [1, 1, 0, 1], [1, 2, -1, 3]], [[3, 4], [3, 4], [0, 0]],
    ] as [Shape, number[], number[]][]) {
      checkGrad(sg, { op: sliceOp, attrs: { begin, size }, inputs: [{ shape: s, values: randomArray(sizeOf(s), 4) }] }, `slice ${s}`);
    }
    for (const [shapes, axis] of [
      [[[2, 3], [4, 3]], 0], [[[2, 3], [2, 1], [2, 5]], 1], [[[2, 3, 4], [2, 2, 4]], -2], [[[1, 2, 3, 2], [1, 2, 3, 5]], 3], [[[2, 0], [2, 3]], 1],
    ] as [Shape[], number][]) {
      checkGrad(sg, { op: concatOp, attrs: { axis }, inputs: shapes.map((s, i) => ({ shape: s, values: randomArray(sizeOf(s), 6 + i) })) }, `concat ${JSON.stringify(shapes)} axis ${axis}`);
    }
    checkGrad(sg, { op: reshapeOp, attrs: { shape: [3, -1] }, inputs: [{ shape: [2, 6], values: randomArray(12, 8) }] }, "reshape");
  });

  it("slice and concat forward against a reference", async () => {
    const sg = await runtime();
    const s = [3, 4, 5, 6];
    const xv = randomArray(sizeOf(s), 11);
    const y = sg.apply(sliceOp, [sg.tensor(s, xv)], { begin: [1, 0, 2, 1], size: [2, -1, 3, 4] });
    expect(y.shape).toEqual([2, 4, 3, 4]);
    const xs = stridesOf(s);
    expectWithin(y.data, gatherRef(xv, 1 * xs[0]! + 2 * xs[2]! + 1, [2, 4, 3, 4], xs), 0, "slice 4-D");
    const a = sg.tensor([2, 2, 3], randomArray(12, 1)), b = sg.tensor([2, 1, 3], randomArray(6, 2));
    const c = sg.apply(concatOp, [a, b], { axis: 1 });
    expect(c.shape).toEqual([2, 3, 3]);
    const want: number[] = [];
    for (let i = 0; i < 2; i++) want.push(...a.data.slice(i * 6, i * 6 + 6), ...b.data.slice(i * 3, i * 3 + 3));
    expectWithin(c.data, want, 0, "concat axis 1");
  });

  it("bad input: clear errors naming the op and shapes", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 3, 4], "x");
    expectError(() => g.reshape(x, [5, 5]), "reshape: cannot reshape x [2, 3, 4] (24 elements) into [5, 5]");
    expectError(() => g.reshape(x, [-1, 5]), "reshape", "[2, 3, 4]", "-1");
    expectError(() => g.reshape(x, [-1, -1]), "reshape", "one -1");
    expectError(() => g.transpose(x, [0, 0, 1]), "transpose: perm [0, 0, 1] is not a permutation", "[2, 3, 4]");
    expectError(() => g.transpose(x, [0, 1]), "transpose: perm [0, 1] is not a permutation");
    expectError(() => g.transpose(x, [0, 1, 3]), "not a permutation");
    expectError(() => g.slice(x, [0, 0, 3], [1, 1, 2]), "slice", "outside x [2, 3, 4] on axis 2");
    expectError(() => g.slice(x, [0, 0], [1, 1]), "slice", "one entry per axis");
    expectError(() => g.concat([x, g.input([2, 2, 5], "y")], 1), "concat: shapes differ outside axis 1", "[2, 3, 4]", "[2, 2, 5]");
    expectError(() => g.concat([x, x], 3), "concat: axis 3 is out of range for input 1 [2, 3, 4]");
    expectError(() => g.concat([], 0), "concat: expects at least one input");
    // The graph still works afterwards.
    const y = g.sum(g.reshape(x, [4, 6]));
    g.forward({ x: randomArray(24, 1) });
    expect(y.value.size).toBe(1);
  });
});

describe("strided copies run the calls planned once per node", () => {
  /** A stand-in for the kernels that records each copy_nd call's sixteen arguments. */
  function recorder() {
    const calls: number[][] = [];
    const k = { copy_nd: (...a: number[]) => calls.push(a), copy_f32() {}, axpy_f32() {} } as unknown as Kernels;
    return { k, calls };
  }
  /** One copy_nd call of a plan: offsets 0, dims [1, 1, 1, 7], unit strides: not what any op below plans. */
  const sentinel = Int32Array.from([0, 0, 1, 1, 1, 7, 0, 0, 0, 1, 0, 0, 0, 1]);
  const buf = (ptr: number, shape: Shape): Buf => ({ ptr, shape, size: sizeOf(shape) });
  const env = (prep: unknown, fresh = 0): OpEnv<never> => ({ saved: [], scratch: 0, prep: prep as never, fresh });

  it("transpose, slice, concat and sum take their copy_nd calls from prepare, forward and backward", () => {
    const cases: { name: string; op: OpDef<any, any>; inputs: Shape[]; attrs: unknown; out: Shape; forward: boolean }[] = [
      { name: "transpose", op: transposeOp, inputs: [[2, 3, 4]], attrs: { perm: [2, 0, 1] }, out: [4, 2, 3], forward: true },
      { name: "slice", op: sliceOp, inputs: [[5, 6]], attrs: { begin: [1, 2], size: [3, 3] }, out: [3, 3], forward: true },
      { name: "concat", op: concatOp, inputs: [[2, 3], [2, 5]], attrs: { axis: 1 }, out: [2, 8], forward: true },
      { name: "sum", op: sumOp, inputs: [[3, 4, 5]], attrs: { axis: 1 }, out: [3, 5], forward: false },
    ];
    for (const c of cases) {
      const prep = c.op.prepare!(c.inputs, c.attrs as never);
      // The plan as made: forward and backward issue copy_nd calls (at least one each).
      const x = c.inputs.map((s, i) => buf(4096 * (i + 1), s));
      const y = buf(65536, c.out);
      const dx = c.inputs.map((s, i) => buf(131072 + 4096 * i, s));
      const fresh = recorder();
      if (c.forward) c.op.forward(fresh.k, x, y, c.attrs as never, env(prep));
      c.op.backward!(fresh.k, x, y, y, dx, c.attrs as never, env(prep));
      expect(fresh.calls.length, c.name).toBeGreaterThanOrEqual(c.forward ? 2 : 1);
      // Every planned list replaced by the sentinel: the calls made are the sentinel's, so
      // forward and backward read the plan and work out nothing of their own.
      const doctored = JSON.parse(JSON.stringify(prep, (_k, v) => (v instanceof Int32Array ? "@" : v)), (_k, v) => (v === "@" ? sentinel : v));
      const seen = recorder();
      if (c.forward) c.op.forward(seen.k, x, y, c.attrs as never, env(doctored));
      c.op.backward!(seen.k, x, y, y, dx, c.attrs as never, env(doctored));
      expect(seen.calls.length, c.name).toBe((c.forward ? c.inputs.length : 0) + c.inputs.length);
      for (const a of seen.calls) expect(a.slice(2, 6), c.name).toEqual([1, 1, 1, 7]);
    }
  });
});

describe("reshape in a graph is a view", () => {
  it("shares its input's value buffer and gradient, sums gradients of several consumers", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const W = g.param([2, 6], { data: randomArray(12, 1) });
    const x = g.input([2, 6], "x", { requiresGrad: true });
    const h = g.mul(W, x); // an op node
    const r = g.reshape(h, [3, 4]);
    const r2 = g.reshape(r, [12]);
    const v = g.param([12], { data: randomArray(12, 2), name: "v" });
    const loss = g.add(g.dot(r2, v), g.sum(g.mul(r, r)));
    const xv = randomArray(12, 3);
    g.forward({ x: xv });
    expect(r.value.ptr).toBe(h.value.ptr);
    expect(r2.value.ptr).toBe(h.value.ptr);
    expect(Array.from(r2.value.data)).toEqual(Array.from(h.value.data));
    g.backward(loss);
    expect(r.grad!.ptr).toBe(h.grad!.ptr);
    // d loss / d W = x·(v + 2h)
    const hv = h.value.data, vv = v.value.data;
    const want = Array.from(xv, (xi, i) => xi * (vv[i]! + 2 * hv[i]!));
    expectWithin(W.grad!.data, want, 1e-5, "dW through reshapes");
    const report = sg.gradcheck(g, loss, { feeds: { x: xv } });
    expect(report.ok).toBe(true);
  });

  it("a reshaped param or input gets its own gradient (leaves accumulate across runs)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const W = g.param([2, 3], { data: [1, 2, 3, 4, 5, 6] });
    const r = g.reshape(W, [3, 2]);
    const loss = g.sum(g.mul(r, r));
    g.forward();
    expect(r.value.ptr).toBe(W.value.ptr);
    g.backward(loss);
    g.backward(loss);
    expect(Array.from(W.grad!.data)).toEqual([4, 8, 12, 16, 20, 24]);
    // A reshape as the output seeded by backward.
    const g2 = sg.graph();
    const p = g2.param([4], { data: [1, 2, 3, 4] });
    const out = g2.reshape(g2.scale(p, 2), [2, 2]);
    g2.forward();
    g2.backward(out, [1, 2, 3, 4]);
    expect(Array.from(p.grad!.data)).toEqual([2, 4, 6, 8]);
  });

  it("an input fed after planning is seen through the view; no allocation per step", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([4, 3], "x");
    const W = g.param([3, 2], { data: randomArray(6, 1) });
    const y = g.sum(g.matmul(g.reshape(g.transpose(g.reshape(x, [3, 4])), [4, 3]), W));
    g.forward({ x: randomArray(12, 1) });
    g.backward(y);
    const before = sg.memory.totalAllocations;
    for (let i = 0; i < 3; i++) {
      g.forward({ x: randomArray(12, i + 2) });
      g.backward(y);
    }
    expect(sg.memory.totalAllocations).toBe(before);
  });
});
