/**
 * A reshape (a view) of an op node whose output has other readers: the view's gradient is its
 * own (what its readers send back), not its input's total gradient. Found by the graph fuzzer.
 */
import { describe, expect, it } from "vitest";
import { runtime } from "./helpers.js";

describe("the gradient of a view", () => {
  it("off the backward path it is zero; on it, only what the view's readers send back", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.param([2, 3], { data: [0.1, -0.2, 0.3, 0.4, -0.5, 0.6], name: "x" });
    const a = g.tanh(x);
    const r = g.reshape(a, [6]);
    const off = g.sum(g.mul(a, a)); // does not read r
    const on = g.add(g.sum(a), g.sum(g.scale(r, 2))); // reads a once directly and once through r
    g.forward();
    g.backward(off);
    expect(Array.from(r.grad!.toArray())).toEqual([0, 0, 0, 0, 0, 0]);
    const av = a.value.toArray();
    Array.from(a.grad!.toArray()).forEach((v, i) => expect(v).toBeCloseTo(2 * av[i]!, 6));
    g.zeroGrad();
    g.backward(on);
    expect(Array.from(r.grad!.toArray())).toEqual([2, 2, 2, 2, 2, 2]);
    expect(Array.from(a.grad!.toArray())).toEqual([3, 3, 3, 3, 3, 3]);
    const xv = x.value.toArray();
    Array.from(x.grad!.toArray()).forEach((v, i) => expect(v).toBeCloseTo(3 * (1 - Math.tanh(xv[i]!) ** 2), 6));
    g.dispose();
  });

  it("a view that is its input's only reader still shares its gradient (no extra buffer), with the same results", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.param([2, 2], { data: [1, 2, 3, 4], name: "x" });
    const a = g.scale(x, 3);
    const r = g.reshape(a, [4]);
    const loss = g.sum(g.mul(r, r));
    g.forward();
    g.backward(loss);
    expect(Array.from(r.grad!.toArray())).toEqual([6, 12, 18, 24]);
    expect(r.grad!.ptr).toBe(a.grad!.ptr);
    expect(Array.from(x.grad!.toArray())).toEqual([18, 36, 54, 72]);
    g.dispose();
  });
});
