/**
 * Activations inside graphs: the gradient a parameter receives through each activation,
 * when the activation's output feeds two consumers (their gradients must add), against a
 * float64 numeric derivative; PReLU's slope as a learned parameter; gradcheck agreeing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import type { Node } from "../src/graph/node.js";
import { randomArray, runtime } from "./helpers.js";
import { ACTIVATIONS64, numericDerivative } from "./vmath-reference.js";

let sg: SimdGrad;
beforeAll(async () => {
  sg = await runtime();
});

type G = ReturnType<SimdGrad["graph"]>;
const CASES: [string, (g: G, x: Node) => Node, (v: number) => number][] = [
  ["step", (g, x) => g.step(x, 0.25), (v) => ACTIVATIONS64.step!(v, 0.25)],
  ["sigmoid", (g, x) => g.sigmoid(x), (v) => ACTIVATIONS64.sigmoid!(v, 0)],
  ["tanh", (g, x) => g.tanh(x), Math.tanh],
  ["hardTanh", (g, x) => g.hardTanh(x), (v) => ACTIVATIONS64.hardTanh!(v, 0)],
  ["relu", (g, x) => g.relu(x), (v) => ACTIVATIONS64.relu!(v, 0)],
  ["leakyRelu", (g, x) => g.leakyRelu(x, 0.1), (v) => ACTIVATIONS64.leakyRelu!(v, Math.fround(0.1))],
  ["swish", (g, x) => g.swish(x), (v) => ACTIVATIONS64.swish!(v, 0)],
  ["gelu", (g, x) => g.gelu(x), (v) => ACTIVATIONS64.gelu!(v, 0)],
  ["gelu tanh", (g, x) => g.gelu(x, { approximate: "tanh" }), (v) => ACTIVATIONS64.geluTanh!(v, 0)],
];

/** Values in [−3, 3], 1e-2 away from every kink used here (0, ±1, 0.25). */
function smooth(n: number, seed: number): Float32Array {
  const x = randomArray(n, seed, -3, 3);
  for (let i = 0; i < n; i++) for (const k of [0, 1, -1, 0.25]) if (Math.abs(x[i]! - k) < 1e-2) x[i] = k + 2e-2;
  return x;
}

describe("activations in graphs", () => {
  for (const [name, build, f64] of CASES) {
    it(`${name}: a node with two consumers sends back (c + 1)·f′(x)`, () => {
      const n = 4 * 5;
      const xv = smooth(n, 17);
      const cv = randomArray(n, 18, 0.5, 2.5);
      const g = sg.graph();
      const x = g.param([4, 5], { data: xv, name: "x" });
      const c = g.input([4, 5], "c");
      const h = build(g, x);
      // loss = Σ c ⊙ h + Σ h: h has two consumers.
      const loss = g.add(g.sum(g.mul(h, c)), g.sum(h));
      g.forward({ c: cv });
      const y = h.value.toArray();
      for (let i = 0; i < n; i++) expect(Math.abs(y[i]! - f64(xv[i]!)), `${name} forward i=${i}`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(f64(xv[i]!))));
      g.zeroGrad();
      g.backward(loss);
      const dx = x.grad!.toArray();
      for (let i = 0; i < n; i++) {
        const want = (cv[i]! + 1) * numericDerivative(f64, xv[i]!, 1e-5);
        expect(Math.abs(dx[i]! - want), `${name} dx i=${i}: x = ${xv[i]}`).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want)));
      }
      if (name !== "step") {
        const report = sg.gradcheck(g, loss, { feeds: { c: cv } });
        expect(report.ok, JSON.stringify(report.params)).toBe(true);
      }
      g.dispose();
    });
  }

  it("prelu: the slope is a parameter and gets Σ_rows dy·min(x, 0); x gets dy·(x > 0 ? 1 : a)", () => {
    const xv = smooth(12, 5);
    const av = [0.1, 0.3, -0.2];
    const cv = randomArray(12, 6, 0.5, 2.5);
    const g = sg.graph();
    const x = g.param([4, 3], { data: xv, name: "x" });
    const a = g.param([3], { data: av, name: "a" });
    const c = g.input([4, 3], "c");
    const loss = g.sum(g.mul(g.prelu(x, a), c));
    g.forward({ c: cv });
    g.zeroGrad();
    g.backward(loss);
    const dx = x.grad!.toArray();
    const da = a.grad!.toArray();
    for (let i = 0; i < 12; i++) {
      const want = cv[i]! * (xv[i]! > 0 ? 1 : Math.fround(av[i % 3]!));
      expect(Math.abs(dx[i]! - want), `dx i=${i}`).toBeLessThanOrEqual(1e-6 * Math.abs(want));
    }
    for (let j = 0; j < 3; j++) {
      let want = 0;
      for (let r = 0; r < 4; r++) want += xv[r * 3 + j]! < 0 ? cv[r * 3 + j]! * xv[r * 3 + j]! : 0;
      expect(Math.abs(da[j]! - want), `da j=${j}`).toBeLessThanOrEqual(1e-5);
    }
    const report = sg.gradcheck(g, loss, { feeds: { c: cv } });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
    g.dispose();
  });

  it("prelu: a scalar slope [] gathers its gradient from every element", () => {
    const xv = smooth(10, 9);
    const g = sg.graph();
    const x = g.param([2, 5], { data: xv, name: "x" });
    const a = g.param([], { data: [0.25], name: "a" });
    const loss = g.sum(g.scale(g.prelu(x, a), 3));
    g.forward();
    g.zeroGrad();
    g.backward(loss);
    let want = 0;
    for (const v of xv) if (v < 0) want += 3 * v;
    expect(Math.abs(a.grad!.data[0]! - want)).toBeLessThanOrEqual(1e-5);
    g.dispose();
  });

  it("shape errors from graph building name the op and both shapes", () => {
    const g = sg.graph();
    const x = g.param([4, 3], { name: "x" });
    const bad = g.param([4], { name: "a" });
    expect(() => g.prelu(x, bad)).toThrow("prelu: slope must be [] or [C] with C = x's last dimension: x is [4, 3], slope is [4]");
    expect(() => g.leakyRelu(x, NaN)).toThrow("leakyRelu: slope must be a finite number, got NaN");
    // The graph still works afterwards.
    const loss = g.sum(g.relu(x));
    g.forward();
    expect(Number.isFinite(loss.value.data[0]!)).toBe(true);
    g.dispose();
  });
});
