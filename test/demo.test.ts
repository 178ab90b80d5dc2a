/**
 * The demo's data pipeline on a few Brown corpus files (a few thousand windows): labels,
 * held-out words, word vectors, scores, the iris split; then a short training run of the
 * notes' window classifier through the graph API, whose loss must go down.
 */
import { describe, expect, it } from "vitest";
// The demo's data modules are plain JavaScript (the demo runs on Node without a build step).
import * as loc from "../demo/data/locations.js";
import * as iris from "../demo/data/iris.js";

/** Press reportage, editorials and reviews: enough place names in 9 files. */
const FILES = ["ca01", "ca02", "ca03", "ca04", "ca05", "ca06", "ca07", "ca08", "cb01"];
const OPTS = { files: FILES, testDocFraction: 0.3, buckets: 64, radius: 2, seed: 1 };

// One build of the small data set for the whole file.
const data = loc.buildLocationData(OPTS);
const words: string[] = data.corpus.words;

/** Base forms of the words of the window centred on c (inside its sentence). */
function windowWords(c: number): string[] {
  const out: string[] = [];
  for (let k = Math.max(data.corpus.sentStart[c]!, c - data.radius); k < Math.min(data.corpus.sentEnd[c]!, c + data.radius + 1); k++) {
    out.push(loc.baseForm(words[k]!));
  }
  return out;
}

describe("demo data: Brown corpus and gazetteer labels", () => {
  it("reads tokens, tags and sentences of the requested files", () => {
    expect(data.corpus.docNames).toEqual(FILES);
    expect(words.length).toBeGreaterThan(10_000);
    expect(data.corpus.tags.length).toBe(words.length);
    expect(words[0]).toBe("The"); // "The Fulton County Grand Jury said Friday …"
    expect(data.corpus.tags[0]).toBe("at");
    for (let i = 0; i < words.length; i += 97) {
      expect(data.corpus.sentStart[i]).toBeLessThanOrEqual(i);
      expect(data.corpus.sentEnd[i]).toBeGreaterThan(i);
    }
  });

  it("labels place names, including multi-word and possessive ones, and nothing lower-case", () => {
    const at = (w: string) => words.indexOf(w);
    expect(data.label[at("Atlanta's")]).toBe(1); // "… of Atlanta's recent primary election"
    expect(data.label[at("Georgia's")]).toBe(1);
    expect(data.label[at("Fulton")]).toBe(0); // a county, not in the gazetteer
    expect(data.label[at("Friday")]).toBe(0);
    let multi = 0;
    for (let i = 0; i + 1 < words.length; i++) {
      if (data.label[i]) expect(words[i]).toMatch(/^[A-Z]/);
      if (words[i] === "United" && words[i + 1] === "States") {
        expect(data.label[i]).toBe(1);
        expect(data.label[i + 1]).toBe(1);
        expect(data.entity[i]).toBe("united states");
        multi++;
      }
    }
    expect(multi).toBeGreaterThan(0);
  });

  it("has both classes in training, validation and test sets", () => {
    const count = (idx: Int32Array) => Array.from(idx).reduce((a, c) => a + data.label[c]!, 0);
    for (const part of [data.train, data.validation, data.test] as Int32Array[]) {
      const pos = count(part);
      expect(pos).toBeGreaterThan(0);
      expect(pos).toBeLessThan(part.length);
    }
    expect(data.train.length).toBeGreaterThan(100);
    expect(data.stats.trainPositives + data.stats.trainNegatives).toBe(data.train.length);
    expect(data.stats.trainNegatives).toBe(3 * data.stats.trainPositives); // negativesPerPositive
  });

  it("keeps held-out and validation place names out of every training window", () => {
    const heldOut: Set<string> = data.heldOutWords;
    const validation: Set<string> = data.validationWords;
    expect(heldOut.size).toBeGreaterThan(0);
    for (const w of heldOut) {
      expect(data.trainLocationWords.has(w)).toBe(false);
      expect(validation.has(w)).toBe(false);
      expect(data.trainWords.has(w)).toBe(false);
    }
    for (const c of data.train as Int32Array) {
      for (const w of windowWords(c)) {
        expect(heldOut.has(w), `training window ${loc.windowText(data, c)}`).toBe(false);
        expect(validation.has(w), `training window ${loc.windowText(data, c)}`).toBe(false);
      }
    }
    // Every test positive is a held-out word; no test window is centred on a seen place name.
    for (const c of data.test as Int32Array) {
      if (data.label[c]) expect(heldOut.has(loc.baseForm(words[c]!))).toBe(true);
    }
    // Training and test windows come from different documents.
    const trainDocs = new Set(Array.from(data.train as Int32Array, (c) => data.corpus.doc[c]));
    for (const c of data.test as Int32Array) expect(trainDocs.has(data.corpus.doc[c])).toBe(false);
  });
});

describe("demo data: hashed word vectors", () => {
  it("gives every window (2·radius + 1)·buckets values, each word's features in its own slot", () => {
    const count = Math.min(300, data.train.length);
    expect(count).toBeGreaterThan(100);
    expect(data.dim).toBe(5 * 64);
    const x = new Float32Array(count * data.dim + 7).fill(NaN); // NaN past the end must stay
    const y = new Float32Array(count);
    loc.fillWindows(data, data.train, 0, count, x, y);
    for (let i = count * data.dim; i < x.length; i++) expect(x[i]).toBeNaN();
    for (let r = 0; r < count; r++) {
      const c = data.train[r];
      expect(y[r]).toBe(data.label[c!]);
      for (let k = 0; k < 5; k++) {
        const slot = x.subarray(r * data.dim + k * 64, r * data.dim + (k + 1) * 64);
        let nonzero = 0;
        let fractional = 0;
        for (const v of slot) {
          if (!Number.isInteger(v)) fractional++; // sums of ±1 (NaN counts here too)
          if (v !== 0) nonzero++;
        }
        expect(fractional, `window ${r}, word ${k}`).toBe(0);
        expect(nonzero, `window ${r}, word ${k}`).toBeGreaterThan(0);
      }
    }
    expect(() => loc.fillWindows(data, data.train, data.train.length - 1, 2, x, y)).toThrow(/fillWindows: windows/);
  });

  it("describes unseen words by their spelling, and a capital changes the vector", () => {
    const f = new loc.Featurizer(256);
    const a = f.codes("Zanzibarville");
    expect(a.length).toBeGreaterThan(3);
    expect(Array.from(f.codes("Zanzibarville"))).toEqual(Array.from(a));
    expect(loc.wordFeatures("Zanzibarville")).toContain("cap");
    expect(loc.wordFeatures("zanzibarville")).not.toContain("cap");
    expect(loc.wordFeatures("1961")).toContain("digit");
    expect(loc.wordShape("St.")).toBe("Xx.");
    for (const code of a) {
      expect(code).not.toBe(0);
      expect(Math.abs(code)).toBeLessThanOrEqual(256);
    }
  });
});

describe("demo data: scores", () => {
  it("counts precision, recall and F1, with weighted negatives", () => {
    const s = loc.binaryScores([1, 1, 0, 0, 1], [1, 0, 1, 0, 1]);
    expect([s.tp, s.fp, s.fn, s.tn]).toEqual([2, 1, 1, 1]);
    expect(s.precision).toBeCloseTo(2 / 3);
    expect(s.recall).toBeCloseTo(2 / 3);
    expect(s.f1).toBeCloseTo(2 / 3);
    const w = loc.binaryScores([1, 1, 0, 0, 1], [1, 0, 1, 0, 1], 4);
    expect(w.precision).toBeCloseTo(2 / 6);
    expect(w.accuracy).toBeCloseTo(6 / 11);
  });

  it("picks the threshold with the best F1", () => {
    const best = loc.bestF1Threshold(Float32Array.from([0.9, 0.8, 0.7, 0.2, 0.1]), [1, 1, 0, 1, 0]);
    // Above 0.75: P = 1, R = 2/3, F1 = 0.8; above 0.15: P = 3/4, R = 1, F1 = 6/7.
    expect(best.f1).toBeCloseTo(6 / 7);
    expect(best.threshold).toBeGreaterThan(0.1);
    expect(best.threshold).toBeLessThan(0.2);
  });
});

describe("demo data: ROC AUC", () => {
  it("is 1 for a perfect ranking, 0 for a reversed one, and counts ties as one half", () => {
    expect(loc.rocAuc(Float32Array.from([0.1, 0.4, 0.35, 0.8]), [0, 1, 0, 1])).toBe(1);
    expect(loc.rocAuc(Float32Array.from([0.9, 0.1]), [0, 1])).toBe(0);
    // Positive 0.5 beats negatives 0.2 and ties 0.5; positive 0.3 beats 0.2 only: (1.5 + 1) / 4.
    expect(loc.rocAuc(Float32Array.from([0.5, 0.3, 0.2, 0.5]), [1, 1, 0, 0])).toBeCloseTo(2.5 / 4);
    expect(loc.rocAuc(Float32Array.from([0.5, 0.3]), [1, 1])).toBeNaN();
  });
});

describe("demo data: word dropout", () => {
  it("hides only the centre word's form, keeping its shape and the context", () => {
    const n = 50;
    const full = new Float32Array(n * data.dim);
    const dropped = new Float32Array(n * data.dim);
    loc.fillWindows(data, data.train, 0, n, full);
    loc.fillWindows(data, data.train, 0, n, dropped, undefined, 1);
    const slot = data.buckets;
    let centreDiffers = 0;
    for (let r = 0; r < n; r++) {
      const base = r * data.dim;
      for (let j = 0; j < data.dim; j++) {
        const inCentre = j >= 2 * slot && j < 3 * slot;
        if (!inCentre) expect(dropped[base + j]).toBe(full[base + j]);
        else if (dropped[base + j] !== full[base + j]) centreDiffers++;
      }
    }
    expect(centreDiffers).toBeGreaterThan(n);
    expect(loc.wordFeatures("Zanzibarville")).toContain("cap");
    const f = new loc.Featurizer(4096);
    const masked = new Set(f.maskedCodes("Zanzibarville"));
    expect(masked.has(f.codes1("cap"))).toBe(true);
    expect(masked.has(f.codes1("w:zanzibarville"))).toBe(false);
    expect(Array.from(f.maskedCodes("Zanzibarville"))).toEqual(Array.from(f.maskedCodes("Quuxopolis")));
  });
});

describe("demo data: iris", () => {
  it("has 150 flowers, 50 per species, and splits them stratified and standardised", () => {
    const rows = iris.loadIris();
    expect(rows.length).toBe(150);
    for (let c = 0; c < 3; c++) expect(rows.filter((r: { label: number }) => r.label === c).length).toBe(50);
    const { train, test } = iris.splitIris(rows, 0.2, 7);
    expect(train.n).toBe(120);
    expect(test.n).toBe(30);
    for (let c = 0; c < 3; c++) expect(Array.from(test.labels as Uint8Array).filter((l) => l === c).length).toBe(10);
    for (let j = 0; j < 4; j++) {
      let m = 0;
      let v = 0;
      for (let i = 0; i < train.n; i++) m += train.x[i * 4 + j]! / train.n;
      for (let i = 0; i < train.n; i++) v += (train.x[i * 4 + j]! - m) ** 2 / train.n;
      expect(Math.abs(m)).toBeLessThan(1e-5);
      expect(v).toBeCloseTo(1, 4);
    }
  });
});

describe("demo: a short training run of the window classifier", () => {
  it("lowers the loss (sigmoid cross-entropy of s = uᵀ·relu(Wx + b))", async () => {
    // Loaded here, so that the data tests above do not depend on the library loading.
    const { runtime } = await import("./helpers.js");
    const sg = await runtime();
    const B = 32;
    const hidden = 16;
    const g = sg.graph();
    const x = g.input([B, data.dim], "x");
    const y = g.input([B, 1], "y");
    const W = g.param([data.dim, hidden], { init: "he", seed: 1, name: "W" });
    const b = g.param([hidden], { init: "zeros", name: "b" });
    const u = g.param([hidden, 1], { init: "xavier", seed: 2, name: "u" });
    const s = g.matmul(g.relu(g.linear(x, W, b)), u);
    const loss = g.sigmoidCrossEntropy(s, y);
    const opt = sg.adam(g.params, { lr: 3e-3 });
    const xs = new Float32Array(B * data.dim);
    const ys = new Float32Array(B);
    const train = data.train as Int32Array;
    const steps = Math.floor(train.length / B);
    const epochLoss: number[] = [];
    for (let epoch = 0; epoch < 8; epoch++) {
      let sum = 0;
      for (let step = 0; step < steps; step++) {
        loc.fillWindows(data, train, step * B, B, xs, ys);
        g.zeroGrad();
        g.forward({ x: xs, y: ys });
        g.backward(loss);
        opt.step();
        const l = loss.value!.toArray()[0]!;
        expect(Number.isFinite(l)).toBe(true);
        sum += l;
      }
      epochLoss.push(sum / steps);
    }
    // The first epoch starts near ln 2 ≈ 0.69 (weights near zero give s ≈ 0); training must
    // bring the mean loss well below both that and the first epoch's.
    expect(epochLoss[0]!).toBeLessThan(1.5);
    expect(epochLoss[7]!).toBeLessThan(0.7 * epochLoss[0]!);
    expect(epochLoss[7]!).toBeLessThan(0.35);
    g.dispose();
  });
});
