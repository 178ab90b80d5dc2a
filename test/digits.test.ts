/**
 * Real handwritten digits (package mnist) through the demo's pipeline: the data as shipped,
 * the stratified split, and a small CNN whose loss falls and whose held-out accuracy rises
 * far above chance after a few dozen steps.
 */
import { describe, expect, it } from "vitest";
// The demo's modules are plain JavaScript (the demo runs on Node without a build step).
import * as digits from "../demo/data/digits.js";
import { evaluate, trainNet } from "../demo/digits.js";
import { runtime } from "./helpers.js";

const all = digits.loadDigits();

describe("digits data", () => {
  it("holds 10,000 real 28 × 28 digits, about a thousand of each class, grey levels in [0, 1]", () => {
    expect(all.length).toBe(10_000);
    const counts = new Array(10).fill(0);
    for (const d of all) counts[d.label]++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    let lo = Infinity;
    let hi = -Infinity;
    let ink = 0;
    for (const d of all.slice(0, 500)) {
      expect(d.pixels.length).toBe(784);
      for (const v of d.pixels) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        if (v > 0.5) ink++;
      }
    }
    expect(lo).toBe(0);
    expect(hi).toBeGreaterThan(0.95);
    expect(hi).toBeLessThanOrEqual(1);
    // strokes cover roughly a tenth to a fifth of a digit's pixels
    expect(ink / 500).toBeGreaterThan(40);
    expect(ink / 500).toBeLessThan(250);
  });

  it("splits every class 80/20 with no digit in both parts", () => {
    const { train, test } = digits.splitDigits(all, 0.2, 1);
    expect(train.n + test.n).toBe(10_000);
    expect(test.n).toBeGreaterThan(1990);
    expect(test.n).toBeLessThan(2010);
    const perClass = (s: { labels: Uint8Array }) => Array.from({ length: 10 }, (_, k) => s.labels.filter((l) => l === k).length);
    const tr = perClass(train);
    const te = perClass(test);
    for (let k = 0; k < 10; k++) expect(te[k]! / (tr[k]! + te[k]!)).toBeCloseTo(0.2, 2);
    // no image of the test part appears in the training part
    const key = (x: Float32Array, i: number) => Array.from(x.subarray(i * 784 + 300, i * 784 + 500)).join(",");
    const seen = new Set(Array.from({ length: train.n }, (_, i) => key(train.x, i)));
    let shared = 0;
    for (let i = 0; i < test.n; i++) if (seen.has(key(test.x, i))) shared++;
    expect(shared).toBeLessThan(5); // (a few digits of MNIST are near-duplicates)
  });
});

describe("a small CNN on real digits", () => {
  it("its loss falls and its held-out accuracy climbs far above chance within 80 steps", async () => {
    const sg = await runtime();
    const { train, test } = digits.splitDigits(all, 0.2, 1);
    const t = trainNet(sg, "cnn", train, { epochs: 1, maxSteps: 80, lr: 2e-3 });
    const l = t.stepLosses;
    expect(l.length).toBe(80);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const first = mean(l.slice(0, 10));
    const last = mean(l.slice(-10));
    expect(first).toBeGreaterThan(1.5); // about ln 10 = 2.3 at the start
    expect(last).toBeLessThan(0.5 * first);
    const part = { x: test.x.subarray(0, 500 * 784), labels: test.labels.subarray(0, 500), n: 500 };
    const e = evaluate(sg, "cnn", t.net, part, 250);
    expect(e.accuracy).toBeGreaterThan(0.7);
    t.graph.dispose();
  });
});
