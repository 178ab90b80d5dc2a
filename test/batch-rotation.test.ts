/**
 * A graph with a -1 batch dimension fed ten batch sizes in rotation: once each size has been
 * seen, training steps allocate nothing and the memory in use stays exactly flat. The plans
 * share one region as large as the largest plan: the first rotation, sizes growing, replaces
 * it at each size (dropping the smaller plans); from the second on every size fits. With a
 * plan per size (sg.graph({ maxPlans })) nothing is planned again; with fewer plans than sizes
 * it re-plans every run, in the same memory, allocating nothing.
 * scripts/soak.mjs --batches 10 runs the same for 100,000 steps of the 784→256→10 net.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, type SimdGrad } from "../src/index.js";
import { BUILD, randomArray } from "./helpers.js";

let sg: SimdGrad;
beforeAll(async () => {
  sg = await init({ relaxedSimd: BUILD === "relaxed" });
});
afterAll(async () => {
  await sg.close();
});

const SIZES = [1, 2, 3, 7, 8, 9, 16, 31, 33, 64];

function net(maxPlans?: number) {
  const g = sg.graph(maxPlans === undefined ? undefined : { maxPlans });
  const x = g.input([-1, 12], "x");
  const y = g.input([-1], "y");
  const h = g.linear(x, g.param([12, 16], { init: "he", seed: 1 }), g.param([16]), "relu");
  const loss = g.crossEntropy(g.linear(h, g.param([16, 5], { seed: 2 }), g.param([5])), y);
  const opt = sg.adam(g.params, { lr: 0.01 });
  const feeds = SIZES.map((B) => ({ x: randomArray(B * 12, B), y: Array.from({ length: B }, (_, i) => i % 5) }));
  const step = (i: number) => {
    g.forward(feeds[i % feeds.length]!);
    g.backward(loss);
    opt.step();
    opt.zeroGrad();
  };
  return { g, loss, opt, step };
}

describe("ten batch sizes in rotation", () => {
  it("with a plan per size: bytesInUse, allocations and live allocations flat over rotations after the first", () => {
    const { g, opt, step } = net(10);
    for (let i = 0; i < SIZES.length; i++) step(i);
    // Each larger size replaced the region (and dropped the smaller plans); now all fit.
    expect(g.planCount).toBe(1);
    for (let i = 0; i < SIZES.length; i++) step(i);
    expect(g.planCount).toBe(10);
    const m0 = { ...sg.memory };
    for (let r = 0; r < 4; r++) {
      for (let i = 0; i < SIZES.length; i++) step(i);
      const m = sg.memory;
      expect(m.bytesInUse, `rotation ${r}`).toBe(m0.bytesInUse);
      expect(m.totalAllocations, `rotation ${r}`).toBe(m0.totalAllocations);
      expect(m.liveAllocations, `rotation ${r}`).toBe(m0.liveAllocations);
    }
    expect(g.planCount).toBe(10);
    opt.dispose();
    g.dispose();
  });

  it("with the default 8 plans: every run re-plans, in the same memory, allocating nothing", () => {
    const { g, opt, step } = net();
    for (let i = 0; i < SIZES.length; i++) step(i);
    const inUse = sg.memory.bytesInUse;
    const allocs = sg.memory.totalAllocations;
    for (let r = 0; r < 3; r++) for (let i = 0; i < SIZES.length; i++) step(i);
    expect(g.planCount).toBe(8);
    expect(sg.memory.bytesInUse).toBe(inUse);
    expect(sg.memory.totalAllocations).toBe(allocs);
    opt.dispose();
    g.dispose();
  });

  it("maxPlans must be a whole number ≥ 1", () => {
    for (const bad of [0, -1, 2.5, NaN, "4"]) expect(() => sg.graph({ maxPlans: bad as number })).toThrow(/^graph: maxPlans must be a whole number/);
    expect(() => sg.graph(null as never)).toThrow(/^graph: options must be an object/);
    const g = sg.graph({ maxPlans: 1 });
    const x = g.input([-1, 2], "x");
    const s = g.sum(x);
    g.forward({ x: [1, 2] });
    g.forward({ x: [1, 2, 3, 4] });
    expect(g.planCount).toBe(1);
    expect(s.value.toArray()[0]).toBe(10);
    g.dispose();
  });
});
