/**
 * The attention op: g.attention and sg.attention over [B, heads, T, dh] against the float64
 * composed reference (values and all three gradients, with a non-unit upstream gradient),
 * gradcheck on a small causal case, errors before any kernel runs, no allocation per step.
 */
import { describe, expect, it } from "vitest";
import { randomArray, runtime } from "./helpers.js";
import { factor, reference } from "./attention-reference.js";
import { attentionScratchBytes } from "../src/ops/attention.js";

function expectNear(what: string, got: ArrayLike<number>, want: Float64Array, mag: Float64Array, fac: number): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const tol = fac * mag[i]! + 1e-30;
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol)) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (error ${err.toExponential(2)}, tolerance ${tol.toExponential(2)})`);
  }
}

describe("attention op", () => {
  it("the planner's scratch size is the kernel's", async () => {
    const sg = await runtime();
    for (const t of [0, 1, 7, 8, 9, 64, 129, 1000]) {
      for (const dh of [0, 1, 3, 16, 64]) expect(attentionScratchBytes(t, dh)).toBe(sg.rt.kernels.attention_scratch_bytes(t, dh));
    }
  });

  for (const causal of [false, true]) {
    it(`graph ${causal ? "causal" : "full"} [2, 3, T, dh]: values and gradients equal the composed float64 form`, async () => {
      const sg = await runtime();
      for (const [T, dh] of [[1, 8], [3, 16], [17, 8], [64, 64], [129, 16]] as const) {
        const shape = [2, 3, T, dh];
        const n = 2 * 3 * T * dh;
        const qv = randomArray(n, 1 + T), kv = randomArray(n, 2 + T), vv = randomArray(n, 3 + T), gv = randomArray(n, 4 + T, -2, 2);
        const g = sg.graph();
        const q = g.param(shape, { data: qv, name: "q" });
        const k = g.param(shape, { data: kv, name: "k" });
        const v = g.param(shape, { data: vv, name: "v" });
        const y = g.attention(q, k, v, { causal });
        expect(y.shape).toEqual(shape);
        g.forward();
        g.backward(y, gv);
        const r = reference(6, T, dh, qv, kv, vv, gv, 1 / Math.sqrt(dh), causal);
        const fac = factor(T, dh, Math.max(...r.sigma));
        const what = `T=${T} dh=${dh}`;
        expectNear(`${what}: y`, y.value.data, r.o, r.oMag, fac);
        expectNear(`${what}: dq`, q.grad!.data, r.dq, r.dqMag, fac);
        expectNear(`${what}: dk`, k.grad!.data, r.dk, r.dkMag, fac);
        expectNear(`${what}: dv`, v.grad!.data, r.dv, r.dvMag, fac);
        g.dispose();
      }
    });
  }

  it("eager sg.attention equals the graph node; scale and causal are honoured", async () => {
    const sg = await runtime();
    const shape = [1, 2, 10, 4];
    const qv = randomArray(80, 5), kv = randomArray(80, 6), vv = randomArray(80, 7);
    const q = sg.tensor(shape, qv), k = sg.tensor(shape, kv), v = sg.tensor(shape, vv);
    const y = sg.attention(q, k, v, { causal: true, scale: 0.9 });
    const r = reference(2, 10, 4, qv, kv, vv, new Float32Array(80), 0.9, true);
    expectNear("eager", y.data, r.o, r.oMag, factor(10, 4, Math.max(...r.sigma)));
    const g = sg.graph();
    const node = g.attention(g.input(shape, "q"), g.input(shape, "k"), g.input(shape, "v"), { causal: true, scale: 0.9 });
    g.forward({ q: qv, k: kv, v: vv });
    expect(Array.from(node.value.data)).toEqual(Array.from(y.data));
    // Row 0 of a causal head sees only position 0: its output is v's row 0.
    expect(Array.from(y.data.slice(0, 4))).toEqual(Array.from(vv.slice(0, 4)));
    for (const t of [q, k, v, y]) t.dispose();
    g.dispose();
  });

  it("gradcheck on a tiny causal block with q = k = v (one tensor used three times)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.param([1, 2, 5, 3], { data: randomArray(30, 9), name: "x" });
    const w = g.param([1, 2, 5, 3], { data: randomArray(30, 10), name: "w" });
    const loss = g.sum(g.mul(g.attention(x, x, x, { causal: true }), w));
    const report = sg.gradcheck(g, loss, { wrt: [x] });
    expect(report.ok).toBe(true);
    g.dispose();
  });

  it("bad input: shapes that disagree, rank < 2, scale ≤ 0 or not finite, bad options; the runtime stays usable", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.input([2, 4, 8, 16], "a");
    const b = g.input([2, 4, 9, 16], "b");
    const c = g.input([2, 4, 8, 8], "c");
    expect(() => g.attention(a, b, a)).toThrow(/^attention: q, k and v must have the same shape: q is \[2, 4, 8, 16\], k is \[2, 4, 9, 16\]/);
    expect(() => g.attention(a, a, c)).toThrow(/attention: .*v is \[2, 4, 8, 8\]/);
    const vec = g.input([16], "vec");
    expect(() => g.attention(vec, vec, vec)).toThrow(/attention: q, k and v must be \[\.\.\., T, dh\]/);
    for (const scale of [0, -0.5, NaN, Infinity, 1e-50]) {
      expect(() => g.attention(a, a, a, { scale })).toThrow(/^attention: scale/);
    }
    expect(() => g.attention(a, a, a, { causal: 1 as unknown as boolean })).toThrow(/attention: causal must be a boolean/);
    expect(() => g.attention(a, a, a, 3 as unknown as object)).toThrow(/attention: options must be an object/);
    const t = sg.tensor([1, 3, 4]);
    const u = sg.tensor([1, 3, 5]);
    expect(() => sg.attention(t, t, u)).toThrow(/^attention: q, k and v must have the same shape/);
    expect(() => sg.attention(t, t, t, { scale: -1 })).toThrow(/^attention: scale/);
    // Still works afterwards.
    const y = sg.attention(t, t, t);
    expect(Array.from(y.data)).toEqual(new Array(12).fill(0));
    for (const x of [t, u, y]) x.dispose();
    g.dispose();
  });

  it("a training step allocates nothing", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const shape = [2, 2, 33, 8];
    const x = g.input(shape, "x");
    const W = g.param(shape, { data: randomArray(2 * 2 * 33 * 8, 3), name: "W" });
    const h = g.mul(x, W);
    const loss = g.sum(g.attention(h, h, h, { causal: true }));
    const xv = randomArray(2 * 2 * 33 * 8, 4);
    g.forward({ x: xv });
    g.backward(loss);
    const before = sg.memory.totalAllocations;
    for (let i = 0; i < 3; i++) {
      g.forward({ x: xv });
      g.backward(loss);
    }
    expect(sg.memory.totalAllocations).toBe(before);
    g.dispose();
  });
});
