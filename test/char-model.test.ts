/**
 * The character-level transformer of the demo (demo/char-model.js) on a slice of the Brown
 * corpus: its held-out loss falls below the unigram baseline within a fixed number of
 * steps, sampling is reproducible from a seed, and the nn helpers refuse bad settings.
 * The reader (sampling and the attention heat map) runs on a context that grows: the -1 input
 * dimension; its logits equal the fixed-context graph's at every length.
 */
import { afterAll, describe, expect, it } from "vitest";
// The demo runs on the built package (as a user would), so this test does too.
import { init, nn, type SimdGrad } from "../dist/index.js";
import { brownChars, charsFromTexts, decode, encode, encodeSentence } from "../demo/data/brown-chars.js";
import { brownDir, brownFiles } from "../demo/data/locations.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULTS, buildCharModel, createReader, rng, trainCharModel } from "../demo/char-model.js";
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

  it("reads a growing context through the -1 dimension: the same logits as the fixed window, samples from a seed, attention rows that sum to 1", async () => {
    sg ??= await init({ relaxedSimd: BUILD === "relaxed" });
    const V = 30;
    const cfg = { ...DEFAULTS, context: 24, dModel: 32, heads: 4, hidden: 64 };
    const T = cfg.context;
    // A fixed-window graph with weights moved away from their init, so every part matters.
    const g = sg.graph();
    const m = buildCharModel(g, V, cfg, 1);
    const r = rng(9);
    for (const p of g.params) p.value = Array.from(p.value.toArray(), (v) => v + (r() - 0.5) * 0.4);
    const ids = Array.from({ length: T }, () => Math.floor(r() * V));
    const pos = Array.from({ length: T }, (_, t) => t);
    g.forward({ ids, pos, labels: new Array(T).fill(0) }, { outputs: [m.logits] });
    const full = m.logits.value.toArray();

    const reader = createReader(sg, V, cfg);
    expect(reader.model.ids.shape).toEqual([1, -1]);
    reader.load(g);
    for (const L of [1, 2, 3, 5, 17, T - 1, T]) {
      const row = reader.logitsAfter(ids.slice(0, L));
      // Causal attention: position L−1 of the full window sees only the first L ids.
      let worst = 0;
      for (let c = 0; c < V; c++) worst = Math.max(worst, Math.abs(row[c]! - full[(L - 1) * V + c]!) / (1 + Math.abs(full[(L - 1) * V + c]!)));
      expect(worst, `length ${L}`).toBeLessThan(1e-5);
      expect(reader.model.logits.value.shape).toEqual([L, V]);
    }
    // Past the context the reader keeps the last T ids.
    const longer = [...ids, 3, 4, 5];
    const tail = reader.logitsAfter(longer);
    expect(Array.from(tail)).toEqual(Array.from(reader.logitsAfter(longer.slice(-T))));

    // Sampling: the same seed gives the same ids, another seed others; temperature 0 is the arg max.
    const a = reader.sample([1, 2], 40, 1, 7);
    const b = reader.sample([1, 2], 40, 1, 7);
    const c = reader.sample([1, 2], 40, 1, 8);
    expect(a).toHaveLength(40);
    expect(a.every((x) => Number.isInteger(x) && x >= 0 && x < V)).toBe(true);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const greedy = reader.sample([1, 2], 5, 0, 1);
    expect(reader.sample([1, 2], 5, 0, 99)).toEqual(greedy);
    const first = reader.logitsAfter([1, 2]);
    expect(greedy[0]).toBe(first.indexOf(Math.max(...first)));
    // A hot temperature spreads the choices: more distinct ids than a cold one.
    const hot = new Set(reader.sample([1], 60, 5, 3)).size;
    const cold = new Set(reader.sample([1], 60, 0.05, 3)).size;
    expect(hot).toBeGreaterThan(cold);
    // Every length from 1 to T was planned; the graph keeps one plan per length, all in the
    // longest one's memory (test/char-sample.test.ts).
    expect(reader.graph.planCount).toBeLessThanOrEqual(T);

    // The heat map: softmax(scale·q·kᵀ + mask) from the q and k the graph ran with; rows sum
    // to 1, nothing above the diagonal, and P·v is the fused op's output.
    const L = 11;
    for (const [layer, head] of [[0, 0], [1, 3]] as const) {
      const P = reader.attentionPattern(ids.slice(0, L), layer, head);
      expect(P).toHaveLength(L * L);
      for (let i = 0; i < L; i++) {
        let sum = 0;
        for (let j = 0; j < L; j++) {
          sum += P[i * L + j]!;
          if (j > i) expect(P[i * L + j]).toBe(0);
        }
        expect(sum).toBeCloseTo(1, 5);
      }
      const att = reader.graph.order([reader.model.logits]).filter((n: { opName: string }) => n.opName === "attention")[layer]!;
      const v = att.inputs[2]!.value.toArray();
      const y = att.value.toArray();
      const dh = cfg.dModel / cfg.heads;
      for (let i = 0; i < L; i++) {
        for (let d = 0; d < dh; d++) {
          let acc = 0;
          // q, k, v and y are [1, L, heads·dh]: head h in columns h·dh … h·dh + dh − 1.
          for (let j = 0; j < L; j++) acc += P[i * L + j]! * v[j * cfg.dModel + head * dh + d]!;
          const want = y[i * cfg.dModel + head * dh + d]!;
          expect(Math.abs(acc - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
        }
      }
    }

    // Bad input: clear errors, and the reader keeps working.
    expect(() => reader.sample([], 3, 1, 1)).toThrow(/the prompt is empty/);
    expect(() => reader.sample([1, V], 3, 1, 1)).toThrow(new RegExp(`holds ${V} at 1, not a character id in \\[0, ${V}\\)`));
    expect(() => reader.attentionPattern(new Array(T + 1).fill(1), 0, 0)).toThrow(new RegExp(`${T + 1} characters long; the model reads at most ${T}`));
    expect(() => reader.attentionPattern([1, 2], 2, 0)).toThrow(/layer must be 0 … 1/);
    expect(() => reader.attentionPattern([1, 2], 0, 4)).toThrow(/head must be 0 … 3/);
    expect(() => reader.sample([1], 3, -1, 1)).toThrow(/temperature/);
    expect(reader.sample([1, 2], 40, 1, 7)).toEqual(a);
    reader.dispose();
    g.dispose();
  });

  it("the browser's reading of corpus files gives the Node loader's streams; typed sentences are checked", () => {
    const files = brownFiles().slice(0, 15);
    const texts = files.map((f) => readFileSync(join(brownDir(), f), "latin1"));
    const web = charsFromTexts(texts);
    const node = brownChars({ maxFiles: 15 });
    expect(web.vocab).toBe(node.vocab);
    expect(Buffer.from(web.train).equals(Buffer.from(node.train))).toBe(true);
    expect(Buffer.from(web.heldOut).equals(Buffer.from(node.heldOut))).toBe(true);
    expect(node.train.length).toBeGreaterThan(150_000);
    expect(encodeSentence("The End.", 64)).toEqual({ ids: Array.from(encode(["the end."]).slice(0, 8)) });
    expect(encodeSentence("  ", 64).error).toMatch(/the text is empty/);
    expect(encodeSentence("a".repeat(65), 64).error).toMatch(/at most 64 characters; this text has 65/);
    expect(encodeSentence("café\t@", 64).error).toMatch(/Not in the model's alphabet: "é", "\\t", "@"/);
    expect(encodeSentence("two\nlines", 64).error).toMatch(/a line break/);
  });

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
