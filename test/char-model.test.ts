/**
 * The character-level transformer of the demo (demo/char-model.js) on a slice of the Brown
 * corpus: its held-out loss falls below the unigram baseline within a fixed number of
 * steps, sampling is reproducible from a seed, and the nn helpers refuse bad settings.
 */
import { afterAll, describe, expect, it } from "vitest";
// The demo runs on the built package (as a user would), so this test does too.
import { init, nn, type SimdGrad } from "../dist/index.js";
import { brownChars, decode, encode } from "../demo/data/brown-chars.js";
import { trainCharModel } from "../demo/char-model.js";
import { BUILD } from "./helpers.js";

let sg: SimdGrad | null = null;
afterAll(async () => {
  await sg?.close();
});

describe("char-level transformer on Brown text", () => {
  it("beats the unigram baseline on held-out text within 40 steps; samples repeat from a seed", async () => {
    sg = await init({ relaxedSimd: BUILD === "relaxed" });
    const data = brownChars({ maxFiles: 20 });
    expect(data.train.length).toBeGreaterThan(100_000);
    const r = trainCharModel(sg, data, { steps: 40, warmup: 10, evalBatches: 4, seed: 3 });
    expect(r.unigram).toBeGreaterThan(4);
    expect(r.heldOutBits).toBeLessThan(r.unigram);
    const prompt = Array.from(encode(["the "]).slice(0, 4));
    const a = decode(r.sampleText(prompt, 40, 0.8, 11));
    const b = decode(r.sampleText(prompt, 40, 0.8, 11));
    const c = decode(r.sampleText(prompt, 40, 0.8, 12));
    expect(a).toHaveLength(40);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    r.graph.dispose();
  }, 300_000);

  it("nn helpers: named params, clear errors", async () => {
    sg ??= await init({ relaxedSimd: BUILD === "relaxed" });
    const g = sg.graph();
    const x = g.input([2, 5, 8], "x");
    const y = nn.attention(g, x, { name: "att", heads: 2, causal: true });
    expect(y.shape).toEqual([2, 5, 8]);
    expect(g.params.map((p) => p.name)).toEqual([
      "att.q.weight", "att.q.bias", "att.k.weight", "att.k.bias", "att.v.weight", "att.v.bias", "att.out.weight", "att.out.bias",
    ]);
    expect(() => nn.attention(g, x, { name: "a2", heads: 3 })).toThrow(/nn.attention 'a2': 3 heads do not divide the width 8/);
    expect(() => nn.linear(g, x, 4, {} as { name: string })).toThrow(/nn.linear: options must name the layer/);
    expect(() => nn.linear(g, x, 0, { name: "l" })).toThrow(/nn.linear: outFeatures must be an integer ≥ 1/);
    expect(nn.sample([0, 5, 1], 0, Math.random)).toBe(1);
    expect(() => nn.sample([1, 2], -1, Math.random)).toThrow(/temperature/);
    g.dispose();
  });
});
