import { describe, expect, it } from "vitest";
import { runtime } from "./helpers.js";
import { U32, expectError, expectWithin } from "./elementwise-util.js";

describe("eager elementwise, reduction and loss methods", () => {
  it("add, sub, mul with a bias and a scalar; out and in place", async () => {
    const sg = await runtime();
    const a = sg.tensor([2, 3], [1, 2, 3, 4, 5, 6]);
    const b = sg.tensor([3], [10, 20, 30]);
    const s = sg.tensor([], [2]);
    expect(Array.from(sg.add(a, b).toArray())).toEqual([11, 22, 33, 14, 25, 36]);
    expect(Array.from(sg.sub(b, a).toArray())).toEqual([9, 18, 27, 6, 15, 24]);
    expect(Array.from(sg.mul(a, s).toArray())).toEqual([2, 4, 6, 8, 10, 12]);
    expect(Array.from(sg.sub(s, a).toArray())).toEqual([1, 0, -1, -2, -3, -4]);
    const out = sg.zeros([2, 3]);
    expect(sg.add(a, b, out)).toBe(out);
    expect(Array.from(out.toArray())).toEqual([11, 22, 33, 14, 25, 36]);
    sg.mul(a, a, a); // in place
    expect(Array.from(a.toArray())).toEqual([1, 4, 9, 16, 25, 36]);
    expect(Array.from(sg.scale(b, 0.5).toArray())).toEqual([5, 10, 15]);
    expect(Array.from(sg.max(b, sg.tensor([3], [15, 15, 15])).toArray())).toEqual([15, 20, 30]);
    expectError(() => sg.add(a, b, sg.zeros([3])), "add: out is [3], the result is [2, 3]");
    expectError(() => sg.add(a, sg.zeros([2])), "add: shapes do not broadcast: a is [2, 3], b is [2]");
  });

  it("sum, mean, dot and the three losses", async () => {
    const sg = await runtime();
    const a = sg.tensor([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(sg.sum(a).toArray()[0]).toBe(21);
    expect(Array.from(sg.sum(a, 0).toArray())).toEqual([5, 7, 9]);
    expect(Array.from(sg.mean(a, -1).toArray())).toEqual([2, 5]);
    expect(sg.mean(a).toArray()[0]).toBe(3.5);
    expect(sg.dot(sg.tensor([3], [1, 2, 3]), sg.tensor([3], [4, 5, 6])).toArray()[0]).toBe(32);
    const z = sg.tensor([2, 3], [0, 0, 0, 1, 2, 3]);
    const t = sg.tensor([2, 3], [1, 0, 0, 0, 0, 1]);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expectWithin(sg.softmaxCrossEntropy(z, t).toArray(), [(Math.log(3) + lse - 3) / 2], 8 * U32, "softmaxCrossEntropy");
    const bce = (x: number, y: number) => Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
    expectWithin(sg.sigmoidCrossEntropy(z, t).toArray(), [[0, 0, 0, 1, 2, 3].reduce((acc, x, i) => acc + bce(x, [1, 0, 0, 0, 0, 1][i]!), 0) / 6], 8 * U32, "sigmoidCrossEntropy");
    expect(sg.mse(z, t).toArray()[0]).toBeCloseTo((1 + 0 + 0 + 1 + 4 + 4) / 6, 6);
    expectError(() => sg.mse(z, sg.zeros([3, 2])), "mse: pred and target differ in shape: pred is [2, 3], target is [3, 2]");
    expectError(() => sg.sum(a, 5), "sum: axis 5 is out of range for a is [2, 3]");
    expect(sg.sum(a, 1).toArray()[1]).toBe(15);
  });
});
