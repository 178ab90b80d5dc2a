/**
 * The gradient of a transpose folded into its matmul (no copy; formed when read, by replaying
 * its consumers' backward): only the consumers the last backward ran send anything back. A
 * consumer off the backward path has a zero dy, and replaying it sent back 0·x, NaN where its
 * other operand is NaN or infinite, to a view no gradient reached. Found by the graph fuzzer
 * (seeds 31415926 and 16180339: log of a negative param times a folded transpose, backward
 * from another branch of the graph).
 */
import { describe, expect, it } from "vitest";
import { runtime } from "./helpers.js";

describe("the gradient of a folded transpose", () => {
  for (const other of [NaN, Infinity, -Infinity]) {
    it(`off the backward path it is zero, though its matmul's other operand is ${other}`, async () => {
      const sg = await runtime();
      const g = sg.graph();
      const a = g.param([1, 1], { name: "a", data: [other] });
      const w = g.param([2, 1], { name: "w", data: [-0.37, 0.75] });
      const wt = g.transpose(w, [1, 0]);
      const m = g.matmul(a, wt); // reads w through its layout: wt is folded
      const p = g.param([1], { name: "p", data: [-0.37] });
      const d = g.dot(p, p); // does not read m
      g.forward();
      expect(wt._folded).toBe(true);
      g.backward(d, [1.25]);
      expect(Array.from(wt.grad!.toArray())).toEqual([0, 0]);
      expect(Array.from(w.grad!.toArray())).toEqual([0, 0]);
      expect(p.grad!.toArray()[0]).toBeCloseTo(2 * -0.37 * 1.25, 6);
      // Backward from the product: now its gradient flows, 0·Inf or NaN included.
      g.backward(m, [0.5, 2]);
      const want = [other * 0.5, other * 2];
      expect(Array.from(wt.grad!.toArray())).toEqual(want);
      expect(Array.from(w.grad!.toArray())).toEqual(want);
      g.dispose();
    });
  }

  it("read by two products, one on the backward path: only that one's gradient", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const w = g.param([3, 2], { name: "w", data: [0.5, -1, 0.25, 2, -0.75, 1.5] });
    const wt = g.transpose(w, [1, 0]); // [2, 3]
    const a = g.param([1, 2], { name: "a", data: [1, -2] });
    const bad = g.param([1, 2], { name: "bad", data: [NaN, 3] });
    const on = g.matmul(a, wt); // [1, 3]
    const off = g.matmul(bad, wt);
    g.forward();
    expect(wt._folded).toBe(true);
    expect(off.value.toArray()[0]).toBeNaN();
    g.backward(on, [1, 2, 3]);
    // d wt = aᵀ·dC = [[1, 2, 3], [−2, −4, −6]]; w's gradient is its transpose.
    expect(Array.from(wt.grad!.toArray())).toEqual([1, 2, 3, -2, -4, -6]);
    expect(Array.from(w.grad!.toArray())).toEqual([1, -2, 2, -4, 3, -6]);
    g.dispose();
  });
});
