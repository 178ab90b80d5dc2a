/**
 * Sampling from the demo's character transformer (demo/char-model.js) on a growing context:
 * the reader compiles for the longest context and keeps a plan per length in that plan's
 * memory. The ids it samples are those of a reader planning as graphs did before plans shared
 * memory (a few plans kept, each in memory of its own); every length's logits are bitwise a
 * fresh graph's; after the first sample nothing is allocated, and memory in use is one plan's.
 */
import { afterAll, describe, expect, it } from "vitest";
// The demo runs on the built package (as a user would), so this test does too.
import { init, type SimdGrad } from "../dist/index.js";
import { DEFAULTS, createReader, createTrainer, rng } from "../demo/char-model.js";
import { BUILD } from "./helpers.js";

let sg: SimdGrad | null = null;
afterAll(async () => {
  await sg?.close();
});

const V = 30;
const cfg = { ...DEFAULTS, context: 20, dModel: 32, heads: 4, hidden: 64 };

describe("char model reader: plans of a growing context share memory", () => {
  it("samples the same ids as a reader planning each length afresh; logits at every length are a fresh graph's, bit for bit", async () => {
    sg ??= await init({ relaxedSimd: BUILD === "relaxed" });
    const reader = createReader(sg, V, cfg);
    // Weights moved away from their init, so every part matters.
    const r = rng(5);
    for (const p of reader.graph.params) p.value = Array.from(p.value.toArray(), (v: number) => v + (r() - 0.5) * 0.4);
    const before = createReader(sg, V, cfg, { fresh: true });
    before.load(reader.graph);
    for (const [prompt, n, temp, seed] of [[[1, 2], 50, 1, 7], [[3], 45, 0.8, 11], [[4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7], 10, 1.3, 2], [[2, 2], 30, 0, 1]] as const) {
      expect(reader.sample(prompt, n, temp, seed), `prompt ${prompt.length}, seed ${seed}`).toEqual(before.sample(prompt, n, temp, seed));
    }
    before.dispose();
    // Every length, growing then shrinking, against a reader that has planned only that length.
    const ids = Array.from({ length: cfg.context }, () => Math.floor(r() * V));
    const order = [...Array.from({ length: cfg.context }, (_, i) => i + 1), ...Array.from({ length: cfg.context }, (_, i) => cfg.context - i)];
    for (const L of order) {
      const one = createReader(sg, V, cfg, { fresh: true });
      one.load(reader.graph);
      expect(Array.from(reader.logitsAfter(ids.slice(0, L))), `length ${L}`).toEqual(Array.from(one.logitsAfter(ids.slice(0, L))));
      one.dispose();
    }
    reader.dispose();
  }, 120_000);

  it("sampler: the same ids drawn in pieces (as the text page draws them) as in one call; the held-out loss batch by batch", async () => {
    sg ??= await init({ relaxedSimd: BUILD === "relaxed" });
    const reader = createReader(sg, V, cfg);
    for (const piece of [1, 3, 7, 100]) {
      const s = reader.sampler([4, 5], 45, 0.9, 21);
      const sizes: number[] = [];
      while (!s.done) sizes.push(s.next(piece));
      expect(sizes.every((k, i) => k === Math.min(piece, 45 - i * piece))).toBe(true);
      expect(s.next(piece)).toBe(0);
      expect(s.ids).toEqual(reader.sample([4, 5], 45, 0.9, 21));
    }
    expect(() => reader.sampler([], 3, 1, 1)).toThrow(/the prompt is empty/);
    reader.dispose();
    // A trainer's held-out loss is the mean of its batches' (nats → bits).
    const r = rng(3);
    const text = (n: number) => Array.from({ length: n }, () => Math.floor(r() * V));
    const tr = createTrainer(sg, { train: text(4000), heldOut: text(2000), vocab: V }, { cfg: { ...cfg, batch: 4 }, evalBatches: 3 });
    tr.step();
    let sum = 0;
    for (let e = 0; e < tr.evalBatches; e++) sum += tr.heldOutBatch(e);
    expect(tr.heldOutBits()).toBe(sum / 3 / Math.LN2);
    tr.dispose();
  }, 120_000);

  it("after the first sample nothing is allocated, and the reader holds one plan's memory", async () => {
    sg ??= await init({ relaxedSimd: BUILD === "relaxed" });
    const base = sg.memory.bytesInUse;
    const reader = createReader(sg, V, cfg);
    reader.sample([1, 2], 3 * cfg.context, 1, 3);
    const mem = sg.memory;
    for (let i = 0; i < 3; i++) reader.sample([1 + i], 2 * cfg.context, 0.9, i);
    expect(sg.memory.totalAllocations).toBe(mem.totalAllocations);
    expect(sg.memory.bytesInUse).toBe(mem.bytesInUse);
    expect(reader.graph.planCount).toBe(cfg.context);
    const shared = sg.memory.bytesInUse - base;
    reader.dispose();
    expect(sg.memory.bytesInUse).toBe(base);
    // A reader that ran only the longest context: params and one plan.
    const one = createReader(sg, V, cfg, { fresh: true });
    one.logitsAfter(Array.from({ length: cfg.context }, (_, i) => i % V));
    expect(sg.memory.bytesInUse - base).toBe(shared);
    one.dispose();
  }, 120_000);
});
