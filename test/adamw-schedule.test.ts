/**
 * AdamW (decoupled weight decay on matrices only by default) and the warm-up + cosine
 * learning-rate schedule.
 */
import { describe, expect, it } from "vitest";
import { warmupCosine } from "../src/index.js";
import { runtime } from "./helpers.js";

describe("sg.adamw", () => {
  it("decays params with two or more axes only (by default), after PyTorch's AdamW rule", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const W = g.param([2, 2], { data: [1, -2, 3, -4], name: "W" });
    const b = g.param([2], { data: [5, 6], name: "b" });
    const loss = g.sum(g.add(g.matmul(W, b), g.scale(b, 0)));
    const opt = sg.adamw(g.params, { lr: 0.1, weightDecay: 0.5 });
    g.forward();
    g.backward(loss);
    const gW = W.grad!.toArray(), gb = b.grad!.toArray();
    opt.step();
    // Step 1: m̂ = g, v̂ = g², update lr·g/(|g| + eps) = ±lr (for g ≠ 0); decay w·(1 − lr·λ) on W only.
    const want = (w: number, gr: number, decays: boolean) => w * (decays ? 1 - 0.1 * 0.5 : 1) - 0.1 * gr / (Math.abs(gr) + 1e-8);
    const Wv = W.value.toArray(), bv = b.value.toArray();
    [1, -2, 3, -4].forEach((w, i) => expect(Wv[i]).toBeCloseTo(want(w, gW[i]!, true), 6));
    [5, 6].forEach((w, i) => expect(bv[i]).toBeCloseTo(want(w, gb[i]!, false), 6));
    opt.dispose();
    g.dispose();
  });

  it("a decay filter chooses the params; zero gradients leave only the decay", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const W = g.param([3, 1], { data: [1, 2, 3], name: "W" });
    const v = g.param([3], { data: [1, 2, 3], name: "v" });
    const opt = sg.adamw(g.params, { lr: 0.2, weightDecay: 0.25, decay: (p) => p.name === "v" });
    g.zeroGrad();
    opt.step();
    expect(Array.from(W.value.toArray())).toEqual([1, 2, 3]);
    Array.from(v.value.toArray()).forEach((x, i) => expect(x).toBeCloseTo((i + 1) * (1 - 0.2 * 0.25), 6));
    expect(() => sg.adamw(g.params, { decay: 3 as unknown as () => boolean })).toThrow(/^adamw: decay must be a function/);
    expect(() => sg.adamw(g.params, { lr: -1 })).toThrow(/^adamw: lr/);
    opt.dispose();
    g.dispose();
  });
});

describe("warmupCosine", () => {
  it("rises linearly, then falls along half a cosine to minLr", () => {
    const lr = warmupCosine({ lr: 1, warmup: 4, total: 14, minLr: 0.1 });
    expect([0, 1, 2, 3].map(lr)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(lr(4)).toBeCloseTo(1, 12);
    expect(lr(9)).toBeCloseTo(0.55, 12); // halfway: minLr + (lr − minLr)/2
    expect(lr(14)).toBe(0.1);
    expect(lr(1000)).toBe(0.1);
    for (let s = 4; s < 14; s++) expect(lr(s + 1)).toBeLessThan(lr(s));
    const noWarm = warmupCosine({ lr: 2, total: 10 });
    expect(noWarm(0)).toBe(2);
    expect(noWarm(10)).toBe(0);
  });

  it("refuses bad settings with the setting's name", () => {
    expect(() => warmupCosine({ lr: -1, total: 10 })).toThrow(/warmupCosine: lr/);
    expect(() => warmupCosine({ lr: 1, warmup: 11, total: 10 })).toThrow(/warmupCosine: warmup \(11\) must not exceed total/);
    expect(() => warmupCosine({ lr: 1, total: 10, minLr: 2 })).toThrow(/minLr/);
    expect(() => warmupCosine({ lr: 1, total: 2.5 })).toThrow(/integers/);
    expect(() => warmupCosine({ lr: 1, total: 10 })(-1)).toThrow(/step/);
  });
});
