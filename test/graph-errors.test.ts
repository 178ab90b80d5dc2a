import { describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import { runtime } from "./helpers.js";

/** A small graph that trains; used to show the graph still works after each error. */
function small(sg: SimdGrad) {
  const g = sg.graph();
  const x = g.input([2, 3], "x");
  const W = g.param([3, 2], { init: "xavier", seed: 1, name: "W" });
  const b = g.param([2], { name: "b" });
  const h = g.linear(x, W, b, "tanh");
  const loss = g.mean(g.mul(h, h));
  const feeds = { x: [1, 2, 3, 4, 5, 6] };
  const works = () => {
    g.forward(feeds);
    g.backward(loss);
    const v = loss.value.toArray()[0]!;
    expect(Number.isFinite(v)).toBe(true);
    expect(W.grad!.toArray().some((d) => d !== 0)).toBe(true);
    g.zeroGrad();
  };
  return { g, x, W, b, h, loss, feeds, works };
}

describe("bad input to graphs gets a clear error and leaves the graph usable", () => {
  it("shape errors when a node is created name the op and the shapes", async () => {
    const sg = await runtime();
    const { g, x, W, works } = small(sg);
    const W2 = g.param([5, 4], { name: "W2" });
    expect(() => g.matmul(x, W2)).toThrow("matmul: inner dimensions differ: a is [2, 3], b is [5, 4]");
    expect(() => g.add(x, g.param([4], { name: "c" }))).toThrow(/add: .*\[2, 3\].*\[4\]/);
    expect(() => g.linear(x, W2)).toThrow(/linear: .*x is \[2, 3\], W is \[5, 4\]/);
    expect(() => g.linear(x, W, g.param([3], { name: "b3" }))).toThrow(/linear: b must be \[2\].*b is \[3\]/);
    expect(() => g.dot(x, x)).toThrow(/dot: .*\[2, 3\]/);
    expect(() => g.softmaxCrossEntropy(x, g.input([2, 4], "t"))).toThrow(/softmaxCrossEntropy: .*\[2, 3\].*\[2, 4\]/);
    expect(() => g.linear(x, W, undefined, "nope" as never)).toThrow(/linear: unknown activation "nope"/);
    expect(() => g.input([2, -2], "bad")).toThrow(/input: shape \[2, -2\]/); // -1 (set by each feed) is allowed
    expect(() => g.input([2.5], "bad")).toThrow(/not a non-negative integer/);
    expect(() => g.param([2], { data: [1, 2, 3] })).toThrow(/param: 'param\d+' \[2\] takes 2 values, data has 3/);
    expect(() => g.param([2], { init: "magic" as never })).toThrow(/param: unknown init 'magic'/);
    expect(() => g.input([1], "x")).toThrow(/the name 'x' is already used/);
    works();
  });

  it("feeds: an unknown name, a missing feed, data of the wrong length", async () => {
    const sg = await runtime();
    const { g, W, works } = small(sg);
    const before = W.value.toArray();
    expect(() => g.forward({ x: [1, 2, 3, 4, 5, 6], z: [1] })).toThrow("forward: no input named 'z' (inputs: 'x')");
    expect(() => g.forward({})).toThrow("forward: input 'x' [2, 3] (input) was not fed");
    expect(() => g.forward({ x: [1, 2, 3] })).toThrow("forward: data for 'x' [2, 3] (input) must have 6 values, got 3");
    expect(() => g.forward({ x: "abc" as never })).toThrow(/must be a Tensor or an array of 6 numbers/);
    expect(() => g.forward({ x: sg.tensor([3, 2]) })).toThrow("forward: data for 'x' [2, 3] (input) has shape [3, 2]");
    expect(W.value.toArray()).toEqual(before);
    works();
    // After one feed an input keeps its value: forward({}) is fine now.
    g.forward({});
  });

  it("backward: before forward, from a non-scalar without an upstream gradient, from a node of another graph", async () => {
    const sg = await runtime();
    const { g, h, loss, works } = small(sg);
    expect(() => g.backward(loss)).toThrow(/backward: run forward before backward/);
    g.forward({ x: [1, 2, 3, 4, 5, 6] });
    expect(() => g.backward(h)).toThrow("backward: 'linear#3' [2, 2] (linear) is not a scalar; pass an upstream gradient of shape [2, 2]");
    expect(() => g.backward(h, [1, 2, 3])).toThrow(/upstream gradient for 'linear#3' \[2, 2\] \(linear\) must have 4 values, got 3/);
    const other = sg.graph();
    const o = other.param([], { data: [1], name: "o" });
    expect(() => g.backward(o)).toThrow("backward: 'o' [] (param) belongs to another graph");
    expect(() => g.add(h, o)).toThrow("add: 'o' [] (param) belongs to another graph");
    const k = g.input([], "k");
    const kk = g.mul(k, k);
    expect(() => g.backward(kk)).toThrow(/does not depend on any param/);
    // New nodes re-plan the graph: its values are gone until the next forward.
    expect(() => g.backward(h, [1, 1, 1, 1])).toThrow(/backward: run forward before backward/);
    g.forward({ x: [1, 2, 3, 4, 5, 6], k: [2] });
    g.backward(h, [1, 1, 1, 1]); // with an upstream gradient it is fine
    other.dispose();
    works();
  });

  it("a disposed graph refuses every call, and the runtime keeps working", async () => {
    const sg = await runtime();
    const { g, loss, W } = small(sg);
    g.forward({ x: [1, 2, 3, 4, 5, 6] });
    const inUse = sg.memory.bytesInUse;
    g.dispose();
    expect(sg.memory.bytesInUse).toBeLessThan(inUse);
    expect(() => g.forward({ x: [1, 2, 3, 4, 5, 6] })).toThrow("forward: this graph has been disposed");
    expect(() => g.backward(loss)).toThrow("backward: this graph has been disposed");
    expect(() => g.relu(loss)).toThrow("relu: this graph has been disposed");
    expect(() => loss.value).toThrow(/the graph of .* has been disposed/);
    expect(() => W.value.toArray()).toThrow(/disposed/);
    small(sg).works();
  });

  it("custom ops returning the wrong number or shape of gradients", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.param([3], { data: [1, 2, 3], name: "a" });
    const b = g.param([2], { data: [4, 5], name: "b" });
    const wrongCount = {
      name: "wrongCount",
      shape: () => [3],
      forward: (_ctx: unknown, x: ReturnType<SimdGrad["tensor"]>) => sg.tensor([3], x.toArray()),
      backward: (_ctx: unknown, dy: ReturnType<SimdGrad["tensor"]>) => [sg.tensor([3], dy.toArray())],
    };
    const c1 = g.custom(wrongCount as never, a, b);
    const l1 = g.sum(c1);
    g.forward();
    expect(() => g.backward(l1)).toThrow("wrongCount: backward must return one gradient (or null) per input: expected 2, got 1");
    const wrongShape = {
      name: "wrongShape",
      forward: (_ctx: unknown, x: ReturnType<SimdGrad["tensor"]>) => sg.tensor([3], x.toArray()),
      backward: () => [sg.tensor([2])],
    };
    const g2 = sg.graph();
    const a2 = g2.param([3], { data: [1, 2, 3], name: "a" });
    const l2 = g2.sum(g2.custom(wrongShape as never, a2));
    g2.forward();
    expect(() => g2.backward(l2)).toThrow("wrongShape: backward's gradient 1 has shape [2], but input 'a' [3] (param) has shape [3]");
    const notATensor = { name: "bad", shape: () => [1], forward: () => 42 };
    const g3 = sg.graph();
    const l3 = g3.custom(notATensor as never, g3.param([1], { name: "p" }));
    expect(() => g3.forward()).toThrow("bad: forward must return a Tensor, got number");
    expect(() => g.custom({} as never, a)).toThrow(/custom: op must be an object with a forward/);
    for (const gg of [g, g2, g3]) gg.dispose();
    void l3;
    small(sg).works();
  });

  it("checkFinite names the first node that produces NaN or Inf", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([3], "x");
    const w = g.param([3], { data: [1, 1, 1], name: "w" });
    const big = g.scale(g.mul(x, w), 1e30); // overflows to Inf for |x| ≥ 1e9
    g.name(big, "big");
    const loss = g.mean(g.mul(big, big));
    // 'big' holds up to 3e30 (finite in float32); its square overflows: the error names the mul.
    expect(() => g.forward({ x: [1, 2, 3] }, { checkFinite: true })).toThrow(/forward: 'mul#\d+' \[3\] \(mul\) has NaN or Inf in its value \(3 of 3 values\)/);
    expect(() => g.forward({ x: [1e10, 0, 0] }, { checkFinite: true })).toThrow(/forward: 'big' \[3\] \(scale\) has NaN or Inf in its value \(1 of 3 values\)/);
    g.forward({ x: [1e-25, 0, 0] }, { checkFinite: true });
    g.backward(loss, undefined, { checkFinite: true });
    expect(Number.isFinite(loss.value.toArray()[0]!)).toBe(true);
    // At x = 1e-20 the forward is finite but the gradient sent to the mul overflows.
    g.forward({ x: [1e-20, 0, 0] }, { checkFinite: true });
    expect(() => g.backward(loss, undefined, { checkFinite: true })).toThrow(
      /backward: 'mul#\d+' \[3\] \(mul\) has NaN or Inf in its gradient \(sent back by 'big' \[3\] \(scale\)\)/,
    );
    g.dispose();
  });
});
