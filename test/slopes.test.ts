/**
 * The "why slopes matter" preset (demo/slopes.js) reproduces its claims on both builds:
 * the step net's loss does not fall (its hidden layers get exactly zero gradient), the deep
 * sigmoid net's first-layer gradient is at least 100× smaller than its last layer's, and
 * the ReLU and GeLU nets train.
 */
import { describe, expect, it } from "vitest";
import { SLOPES_ACTIVATIONS, SLOPES_DEFAULTS, createSlopes, formatSlopesTable, runSlopes } from "../demo/slopes.js";
import { runtime } from "./helpers.js";

interface Summary {
  startLoss: number;
  endLoss: number;
  endAccuracy: number;
  layerGradNorms: number[];
  firstLayerGradNorm: number;
  lastLayerGradNorm: number;
  shrink: number | null;
  flatShare: number | null;
  nonfinite: boolean;
}
interface Run {
  activation: string;
  init: string;
  curve: { step: number[]; loss: number[]; accuracy: number[]; gradNorms: number[][]; flat: number[][] };
  summary: Summary;
}
interface Result {
  layers: string[];
  steps: number;
  runs: Run[];
  options: typeof SLOPES_DEFAULTS;
}

const LN2 = Math.LN2;

describe("why slopes matter", () => {
  let result: Result;
  const by = (a: string) => result.runs.find((r) => r.activation === a)!;

  it("runs the five nets side by side with the default preset", async () => {
    const sg = await runtime();
    const before = sg.memory.bytesInUse;
    const progress: number[] = [];
    result = runSlopes(sg, {}, (done: number) => progress.push(done)) as Result;
    expect(result.runs.map((r) => r.activation)).toEqual(["step", "sigmoid", "tanh", "relu", "gelu"]);
    expect(SLOPES_ACTIVATIONS).toEqual(["step", "sigmoid", "tanh", "relu", "gelu"]);
    expect(result.layers).toEqual(["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"]);
    expect(result.steps).toBe(SLOPES_DEFAULTS.steps);
    expect(progress.at(-1)).toBe(SLOPES_DEFAULTS.steps);
    for (const r of result.runs) {
      expect(r.curve.loss.length).toBe(SLOPES_DEFAULTS.steps / SLOPES_DEFAULTS.every);
      expect(r.curve.gradNorms.every((row) => row.length === 8)).toBe(true);
      expect(r.curve.flat.every((row) => row.length === (r.activation === "gelu" ? 0 : 7))).toBe(true);
      expect(r.summary.nonfinite).toBe(false);
    }
    expect(sg.memory.bytesInUse).toBe(before); // every graph, optimizer and tensor freed
    // Plain data.
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it("the step net's loss does not fall: it stays at a coin toss, its hidden layers get exactly 0", () => {
    const s = by("step").summary;
    expect(s.endLoss).toBeGreaterThan(LN2 - 0.02);
    expect(s.endLoss).toBeGreaterThanOrEqual(s.startLoss - 0.02);
    expect(s.endAccuracy).toBeLessThan(0.6);
    expect(s.layerGradNorms.slice(0, 7)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(s.lastLayerGradNorm).toBeGreaterThan(0); // the output layer does learn, from useless features
    expect(s.flatShare).toBe(1);
  });

  it("the deep sigmoid net's first-layer gradient norm is at least 100× smaller than its last layer's", () => {
    const s = by("sigmoid").summary;
    expect(s.firstLayerGradNorm).toBeGreaterThan(0);
    expect(s.lastLayerGradNorm / s.firstLayerGradNorm).toBeGreaterThanOrEqual(100);
    expect(s.shrink).toBe(s.lastLayerGradNorm / s.firstLayerGradNorm);
    expect(by("step").summary.shrink).toBeNull(); // no gradient reaches its first layer at all
    // Layer by layer, the gradient shrinks on the way down.
    for (let l = 1; l < 8; l++) expect(s.layerGradNorms[l - 1]!).toBeLessThan(s.layerGradNorms[l]!);
  });

  it("ReLU and GeLU train (tanh too), and their gradients reach the first layer", () => {
    for (const a of ["relu", "gelu", "tanh"]) {
      const s = by(a).summary;
      expect(s.endLoss, a).toBeLessThan(LN2 / 3);
      expect(s.endAccuracy, a).toBeGreaterThan(0.9);
      expect(s.shrink, a).toBeLessThan(10);
    }
  });

  it("formats the lesson as a table naming every activation with its numbers", () => {
    const text: string = formatSlopesTable(result);
    for (const a of SLOPES_ACTIVATIONS) expect(text).toMatch(new RegExp(`^\\s*${a}\\s`, "m"));
    expect(text).toMatch(/^step\s+xavier\s+0\.\d{3} → 0\.\d{3}\s+\d+\.\d%\s+0\s+\d\.\de-\d\s+∞ \(no slope\)\s+100%$/m);
    expect(text).toContain(`${by("sigmoid").summary.shrink!.toExponential(1)}×`);
  });
});

describe("the preset's runner", () => {
  it("advances a few steps at a time, is deterministic, and frees everything", async () => {
    const sg = await runtime();
    const before = sg.memory.bytesInUse;
    const opts = { steps: 30, every: 10, depth: 4, width: 8, activations: ["sigmoid", "relu"] };
    const a = createSlopes(sg, opts);
    expect(a.step(5)).toBe(5);
    expect(a.result().runs[0].curve.loss).toEqual([]); // no window complete yet
    a.step(100); // never past options.steps
    expect(a.stepsDone).toBe(30);
    const ra = a.result() as Result;
    a.dispose();
    a.dispose();
    expect(() => a.step()).toThrow(/^slopes: this run has been disposed/);
    const rb = runSlopes(sg, opts) as Result;
    expect(rb).toEqual(ra);
    expect(ra.runs[0]!.curve.step).toEqual([10, 20, 30]);
    expect(ra.layers).toEqual(["W1", "W2", "W3", "W4"]);
    expect(sg.memory.bytesInUse).toBe(before);
  });

  it("bad options get a clear error and nothing is left allocated", async () => {
    const sg = await runtime();
    const before = sg.memory.bytesInUse;
    expect(() => createSlopes(sg, { depth: 1 })).toThrow(/^slopes: depth must be an integer ≥ 2, got 1/);
    expect(() => createSlopes(sg, { steps: 2.5 })).toThrow(/^slopes: steps must be an integer ≥ 1, got 2.5/);
    expect(() => createSlopes(sg, { lr: -1 })).toThrow(/^slopes: lr must be a number ≥ 0, got -1/);
    expect(() => createSlopes(sg, { activations: ["swish"] })).toThrow(/^slopes: activations must be a non-empty list of step, sigmoid, tanh, relu, gelu/);
    expect(() => createSlopes(sg, null as never)).toThrow(/^slopes: options must be an object, got null/);
    expect(sg.memory.bytesInUse).toBe(before);
    const r = runSlopes(sg, { steps: 2, every: 1, depth: 2, width: 4, activations: ["relu"] }) as Result;
    expect(r.runs[0]!.curve.loss.length).toBe(2);
    // A run with no complete window has nothing to summarise, and says so.
    const empty = createSlopes(sg, { steps: 5, every: 5, depth: 2, width: 2, activations: ["gelu"] });
    const e = empty.result() as Result;
    empty.dispose();
    expect([e.runs[0]!.summary.startLoss, e.runs[0]!.summary.flatShare]).toEqual([null, null]);
    expect(formatSlopesTable(e)).toMatch(/^gelu\s+he\s+—\s+—/m);
  });
});
