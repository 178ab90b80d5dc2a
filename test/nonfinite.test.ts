/**
 * NaN and infinity, op by op: what simdgrad does with them is a documented contract (README,
 * "NaN and infinity"), close to PyTorch's choices.
 * - Forward: NaN in gives NaN out, for every activation (relu(NaN) = NaN), max (NaN wins
 *   either way round), sums, matmul (NaN·0 and Inf·0 are NaN: no zero is skipped) and losses.
 *   ±Inf gives the function's limit: relu(Inf) = Inf, sigmoid(±Inf) = 1 / 0, tanh(±Inf) = ±1,
 *   swish(−Inf) = gelu(−Inf) = 0.
 * - Backward at NaN: smooth activations give NaN; piecewise-linear ones give the gradient of
 *   the branch a NaN falls in, since every comparison with NaN is false: relu′ = 0,
 *   hardTanh′ = 0, leakyRelu′ = slope, step′ = 0.
 * - Losses: a NaN logit, or an infinite one (whose z·t or ∞ − ∞ has no value), makes the loss
 *   NaN, as in PyTorch; a huge finite logit is fine (the softmax is shifted by the row max).
 * - `forward(feeds, { checkFinite: true })` names the first node whose value holds one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimdGrad, Tensor } from "../src/index.js";
import { runtime } from "./helpers.js";

let sg: SimdGrad;
beforeAll(async () => {
  sg = await runtime();
});

const X = [NaN, Infinity, -Infinity, 0, 2];
const arr = (t: Tensor) => Array.from(t.toArray());
const made: Tensor[] = [];
const T = (shape: number[], v: number[]) => {
  const t = sg.tensor(shape, v);
  made.push(t);
  return t;
};
afterAll(() => {
  for (const t of made) t.dispose();
});

describe("NaN and infinity", () => {
  it("activations forward: NaN stays NaN, ±Inf gives the limit", () => {
    const x = T([5], X);
    const want: Record<string, number[]> = {
      relu: [NaN, Infinity, 0, 0, 2],
      leakyRelu: [NaN, Infinity, -Infinity, 0, 2],
      sigmoid: [NaN, 1, 0, 0.5, 0.8807970285415649],
      tanh: [NaN, 1, -1, 0, 0.9640275835990906],
      hardTanh: [NaN, 1, -1, 0, 1],
      step: [NaN, 1, 0, 0, 1],
      swish: [NaN, Infinity, 0, 0, 1.7615940570831299],
      gelu: [NaN, Infinity, 0, 0, 1.9544997215270996],
    };
    for (const [name, w] of Object.entries(want)) {
      const y = (sg as unknown as Record<string, (x: Tensor) => Tensor>)[name]!.call(sg, x);
      made.push(y);
      const got = arr(y);
      for (let i = 0; i < w.length; i++) {
        if (Number.isNaN(w[i]!)) expect(got[i], `${name}(${X[i]})`).toBeNaN();
        else expect(got[i], `${name}(${X[i]})`).toBeCloseTo(w[i]!, 6);
      }
    }
    const gt = sg.gelu(x, { approximate: "tanh" });
    made.push(gt);
    expect(arr(gt).slice(0, 4).map((v) => v + 0)).toEqual([NaN, Infinity, 0, 0]);
  });

  it("activations backward at NaN: NaN for smooth ones, the branch's slope for piecewise-linear ones", () => {
    const x = T([1], [NaN]);
    const dy = T([1], [3]);
    const back = (name: string, v: Tensor) => {
      const r = (sg as unknown as Record<string, (v: Tensor, dy: Tensor) => Tensor>)[`${name}Backward`]!.call(sg, v, dy);
      made.push(r);
      return arr(r)[0]!;
    };
    expect(back("relu", x)).toBe(0);
    expect(back("hardTanh", x)).toBe(0);
    expect(back("step", x)).toBe(0);
    expect(back("leakyRelu", x)).toBeCloseTo(0.03, 7);
    for (const name of ["sigmoid", "tanh", "swish", "gelu"]) expect(back(name, x), name).toBeNaN();
  });

  it("max propagates NaN from either side; sums, means and matmul propagate NaN, and Inf·0 is NaN", () => {
    const a = T([3], [NaN, 1, Infinity]);
    const b = T([3], [1, NaN, 2]);
    const m1 = sg.max(a, b), m2 = sg.max(b, a);
    made.push(m1, m2);
    expect(arr(m1)).toEqual([NaN, NaN, Infinity]);
    expect(arr(m2)).toEqual([NaN, NaN, Infinity]);
    const s = sg.sum(a), mean = sg.mean(b);
    made.push(s, mean);
    expect(arr(s)[0]).toBeNaN();
    expect(arr(mean)[0]).toBeNaN();
    for (const v of [NaN, Infinity]) {
      const c = sg.matmul(T([1, 2], [v, 1]), T([2, 1], [0, 1]));
      made.push(c);
      expect(arr(c)[0], `[${v}, 1]·[0, 1]`).toBeNaN();
    }
  });

  it("losses: a NaN or infinite logit makes the loss NaN (as in PyTorch: z·t at z = ±Inf)", () => {
    const l1 = sg.sigmoidCrossEntropy(T([2], [Infinity, -Infinity]), T([2], [1, 0]));
    const l2 = sg.sigmoidCrossEntropy(T([2], [NaN, 0]), T([2], [1, 0]));
    const l3 = sg.softmaxCrossEntropy(T([1, 3], [NaN, 0, 1]), T([1, 3], [0, 1, 0]));
    made.push(l1, l2, l3);
    expect(arr(l1)[0]).toBeNaN();
    expect(arr(l2)[0]).toBeNaN();
    expect(arr(l3)[0]).toBeNaN();
  });

  it("checkFinite names the first node whose value holds NaN or Inf, and the graph keeps working", () => {
    const g = sg.graph();
    const x = g.input([3], "x");
    const w = g.param([3], { data: [1, 2, 3], name: "w" });
    const h = g.relu(g.mul(x, w));
    const out = g.sum(g.tanh(h));
    expect(() => g.forward({ x: [1, Infinity, 0] }, { checkFinite: true })).toThrow(/mul#\d+'.*NaN or Inf/);
    g.forward({ x: [1, 1, 1] }, { checkFinite: true });
    expect(out.value.toArray()[0]).toBeCloseTo(Math.tanh(1) + Math.tanh(2) + Math.tanh(3), 6);
    g.dispose();
  });
});
