/**
 * sg.clipGradNorm and sg.clipGradValue against their definitions (PyTorch's
 * clip_grad_norm_ and clip_grad_value_), with guard bands around every gradient.
 */
import { describe, expect, it } from "vitest";
import type { SimdGrad, Tensor } from "../src/index.js";
import { randomArray, runtime } from "./helpers.js";

const SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 33, 1024, 1031, 4099, 65537];

/** Gradient tensors with NaN guard tensors allocated right before and after each (same arena run). */
function gradTensors(sg: SimdGrad, sizes: number[], seed: number, scale = 1): { grads: Tensor[]; guards: Tensor[]; data: Float32Array[] } {
  const grads: Tensor[] = [];
  const guards: Tensor[] = [];
  const data: Float32Array[] = [];
  sizes.forEach((n, i) => {
    guards.push(sg.tensor([16]).fill(NaN));
    const d = randomArray(n, seed + i, -scale, scale);
    data.push(d);
    grads.push(sg.tensor([n], d));
  });
  guards.push(sg.tensor([16]).fill(NaN));
  return { grads, guards, data };
}

function checkGuards(guards: Tensor[]): void {
  for (const g of guards) expect(g.toArray().every(Number.isNaN)).toBe(true);
}

function totalNorm(arrays: ArrayLike<number>[]): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

describe("clipGradNorm", () => {
  it("returns the global norm; when above maxNorm every gradient is scaled by maxNorm/(norm + 1e-6)", async () => {
    const sg = await runtime();
    for (const sizes of [SIZES, [3], [1, 2], [65537, 5]]) {
      const { grads, guards, data } = gradTensors(sg, sizes, sizes.length * 7);
      const want = totalNorm(data);
      const maxNorm = want / 3;
      const got = sg.clipGradNorm(grads, maxNorm);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * want);
      const after = grads.map((t) => t.toArray());
      // The definition: norm after = maxNorm (up to the 1e-6 and float32 rounding)…
      expect(Math.abs(totalNorm(after) - maxNorm)).toBeLessThanOrEqual(2e-6 * maxNorm);
      // …and every value scaled by the one coefficient (direction kept).
      const coef = maxNorm / (want + 1e-6);
      after.forEach((a, j) => {
        let bad = -1;
        for (let i = 0; i < a.length && bad < 0; i++) {
          if (!(Math.abs(a[i]! - data[j]![i]! * coef) <= 2 ** -23 * Math.abs(data[j]![i]! * coef))) bad = i;
        }
        expect(bad, `gradient ${j}: first value not scaled by the coefficient`).toBe(-1);
      });
      checkGuards(guards);
      for (const t of [...grads, ...guards]) t.dispose();
    }
  });

  it("leaves gradients bitwise untouched when the norm is within maxNorm (or equal)", async () => {
    const sg = await runtime();
    const { grads, guards, data } = gradTensors(sg, [5, 17, 1031], 3);
    const n = totalNorm(data);
    for (const maxNorm of [n * 1.0001, n * 10, 1e30]) {
      expect(sg.clipGradNorm(grads, maxNorm)).toBeCloseTo(n, 4);
      grads.forEach((t, j) => expect(Array.from(t.toArray())).toEqual(Array.from(data[j]!)));
    }
    // Exactly at the norm: the factor maxNorm/(norm + 1e-6) is a hair below 1; PyTorch scales too.
    const got = sg.clipGradNorm(grads, n);
    expect(Math.abs(totalNorm(grads.map((t) => t.toArray())) - n)).toBeLessThanOrEqual(2e-6 * n);
    expect(got).toBeCloseTo(n, 4);
    checkGuards(guards);
    for (const t of [...grads, ...guards]) t.dispose();
  });

  it("normType Infinity: the largest |g| is the norm", async () => {
    const sg = await runtime();
    const { grads, guards, data } = gradTensors(sg, [7, 33, 4099], 5, 2);
    let m = 0;
    for (const d of data) for (const v of d) m = Math.max(m, Math.abs(v));
    expect(sg.clipGradNorm(grads, m / 4, { normType: Infinity })).toBe(m);
    let after = 0;
    for (const t of grads) for (const v of t.toArray()) after = Math.max(after, Math.abs(v));
    expect(Math.abs(after - m / 4)).toBeLessThanOrEqual(1e-6 * m);
    checkGuards(guards);
    for (const t of [...grads, ...guards]) t.dispose();
  });

  it("maxNorm 0 zeroes the gradients; an empty list has norm 0", async () => {
    const sg = await runtime();
    const t = sg.tensor([3], [3, -4, 12]);
    expect(sg.clipGradNorm([t], 0)).toBe(13);
    expect(Array.from(t.toArray())).toEqual([0, -0, 0]);
    expect(sg.clipGradNorm([], 1)).toBe(0);
    t.dispose();
  });

  it("on a graph: clips the params' gradients (g.params), leaving their values alone", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([4, 3], "x");
    const W = g.param([3, 2], { data: randomArray(6, 1), name: "W" });
    const b = g.param([2], { data: [0.1, -0.2], name: "b" });
    const loss = g.sum(g.tanh(g.linear(x, W, b)));
    g.forward({ x: randomArray(12, 2, -3, 3) });
    g.backward(loss);
    const before = g.params.map((p) => p.grad!.toArray());
    const values = g.params.map((p) => p.value.toArray());
    const n = totalNorm(before);
    expect(Math.abs(sg.clipGradNorm(g.params, n / 2) - n)).toBeLessThanOrEqual(1e-6 * n);
    expect(Math.abs(totalNorm(g.params.map((p) => p.grad!.toArray())) - n / 2)).toBeLessThanOrEqual(2e-6 * n);
    g.params.forEach((p, i) => expect(Array.from(p.value.toArray())).toEqual(Array.from(values[i]!)));
    g.dispose();
  });

  it("a NaN or Inf gradient: the norm says so and nothing is scaled; errorIfNonfinite names the gradient", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.param([3], { data: [1, 2, 3], name: "a" });
    const c = g.param([4], { data: [1, 1, 1, 1], name: "c" });
    const loss = g.add(g.sum(a), g.sum(c));
    g.forward();
    g.backward(loss);
    c.grad!.set([1, NaN, 1, 1]);
    expect(sg.clipGradNorm(g.params, 0.5)).toBeNaN();
    expect(Array.from(a.grad!.toArray())).toEqual([1, 1, 1]);
    expect(() => sg.clipGradNorm(g.params, 0.5, { errorIfNonfinite: true })).toThrow(
      /^clipGradNorm: the total gradient norm is NaN: the gradient of 'c' \[4\] \(param\) has NaN or Inf \(1 of 4 values\)/,
    );
    c.grad!.set([1, Infinity, 1, 1]);
    expect(sg.clipGradNorm(g.params, 0.5)).toBe(Infinity);
    expect(sg.clipGradNorm(g.params, 0.5, { normType: Infinity })).toBe(Infinity);
    expect(Array.from(a.grad!.toArray())).toEqual([1, 1, 1]);
    g.dispose();
  });
});

describe("clipGradValue", () => {
  it("clamps every value into [−clip, clip]; values inside are untouched; NaN stays NaN", async () => {
    const sg = await runtime();
    const { grads, guards, data } = gradTensors(sg, SIZES, 9, 3);
    grads[5]!.data[2] = NaN;
    grads[6]!.data[0] = -Infinity;
    data[5]![2] = NaN;
    data[6]![0] = -Infinity;
    sg.clipGradValue(grads, 1.5);
    grads.forEach((t, j) => {
      const a = t.toArray();
      let bad = -1;
      for (let i = 0; i < a.length && bad < 0; i++) {
        const v = data[j]![i]!;
        if (Number.isNaN(v) ? !Number.isNaN(a[i]!) : a[i] !== Math.min(1.5, Math.max(-1.5, v))) bad = i;
      }
      expect(bad, `gradient ${j}: first value off its clamp`).toBe(-1);
    });
    checkGuards(guards);
    sg.clipGradValue(grads, Infinity); // no-op
    for (const t of [...grads, ...guards]) t.dispose();
  });

  it("on a graph's params", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.param([4], { data: [1, 2, 3, 4], name: "a" });
    const loss = g.dot(a, a); // gradient 2a
    g.forward();
    g.backward(loss);
    sg.clipGradValue(g.params, 5);
    expect(Array.from(a.grad!.toArray())).toEqual([2, 4, 5, 5]);
    g.dispose();
  });
});

describe("bad input to clipping", () => {
  it("clear errors naming the function and the param; it works afterwards", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2], "x");
    const a = g.param([2], { data: [1, 2], name: "a" });
    const loss = g.dot(a, x);
    g.forward({ x: [3, 4] });
    g.backward(loss);
    expect(() => sg.clipGradNorm(g.params, -1)).toThrow(/^clipGradNorm: maxNorm must be a finite number ≥ 0, got -1/);
    expect(() => sg.clipGradNorm(g.params, NaN)).toThrow(/maxNorm must be a finite number ≥ 0, got NaN/);
    expect(() => sg.clipGradNorm(g.params, "1" as never)).toThrow(/maxNorm must be a finite number/);
    expect(() => sg.clipGradNorm(g.params, 1, { normType: 1 })).toThrow(/^clipGradNorm: normType must be 2 or Infinity, got 1/);
    expect(() => sg.clipGradNorm(42 as never, 1)).toThrow(/^clipGradNorm: expected an array of params \(g\.params\) or gradient tensors, got number/);
    expect(() => sg.clipGradNorm([a, "W" as never], 1)).toThrow(/^clipGradNorm: entry 2 must be a param node or a Tensor, got string/);
    expect(() => sg.clipGradNorm([x], 1)).toThrow(/^clipGradNorm: 'x' \[2\] \(input\) has no gradient/);
    expect(() => sg.clipGradNorm([a, a], 1)).toThrow(/^clipGradNorm: the gradient of 'a' \[2\] \(param\) is listed twice/);
    expect(() => sg.clipGradValue(g.params, -0.5)).toThrow(/^clipGradValue: clip must be a number ≥ 0, got -0.5/);
    expect(() => sg.clipGradValue([x], 1)).toThrow(/^clipGradValue: 'x' \[2\] \(input\) has no gradient/);
    const t = sg.tensor([2], [1, 1]);
    t.dispose();
    expect(() => sg.clipGradValue([t], 1)).toThrow(/^clipGradValue: .*has been disposed/);
    // A single node or tensor is accepted as a list of one.
    expect(sg.clipGradNorm(a as never, 100)).toBe(5);
    // Still works after every error.
    expect(sg.clipGradNorm(g.params, 1)).toBeCloseTo(5, 5);
    expect(Math.hypot(...a.grad!.toArray())).toBeCloseTo(1, 5);
    g.dispose();
    expect(() => sg.clipGradNorm([a], 1)).toThrow(/^clipGradNorm: the graph of 'a' \[2\] \(param\) has been disposed/);
  });

  it("a tensor of another runtime is refused", async () => {
    const sg = await runtime();
    const { init } = await import("../src/index.js");
    const other = await init();
    const t = other.tensor([2], [1, 2]);
    expect(() => sg.clipGradValue([t], 1)).toThrow(/^clipGradValue: tensor 1 \[2\] belongs to another simdgrad runtime/);
    await other.close();
  });
});
