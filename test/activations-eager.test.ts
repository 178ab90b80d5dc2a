/**
 * The activation ops as users and graphs reach them: OpDefs (shape rules, accumulating
 * backward, which of x and y they read) and the eager API sg.<name>(…) /
 * sg.<name>Backward(…), including every bad input and a working call after each error.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import { ACT, type ActivationName, activationOps, preluOp } from "../src/ops/activations.js";
import type { Buf } from "../src/ops/op.js";
import type { Tensor } from "../src/runtime/tensor.js";
import { expectClose, randomArray, runtime } from "./helpers.js";
import { ACTIVATIONS64, numericDerivative } from "./vmath-reference.js";

let sg: SimdGrad;
beforeAll(async () => {
  sg = await runtime();
});

const NAMES: ActivationName[] = ["step", "sigmoid", "tanh", "hardTanh", "relu", "leakyRelu", "swish", "gelu", "geluTanh"];

function t(shape: number[], data?: ArrayLike<number>): Tensor {
  return sg.tensor(shape, data);
}

/** Random values in [−4, 4] kept 1e-3 away from 0, ±1 and 0.25 (every kink tested here). */
function smooth(n: number, seed: number): Float32Array {
  const x = randomArray(n, seed, -4, 4);
  for (let i = 0; i < n; i++) for (const k of [0, 1, -1, 0.25]) if (Math.abs(x[i]! - k) < 1e-3) x[i] = k + 2e-3;
  return x;
}

describe("activation codes", () => {
  it("ACT mirrors the ACT_* codes of assembly/vmath.ts", () => {
    expect(ACT).toEqual({ identity: 0, step: 1, sigmoid: 2, tanh: 3, hardTanh: 4, relu: 5, leakyRelu: 6, swish: 7, gelu: 8, geluTanh: 9 });
  });
});

describe("OpDefs: shape rules and accumulating backward", () => {
  it("unary activations keep the shape; bad arity and parameters are named", () => {
    for (const name of NAMES) {
      expect(activationOps[name].shape([[2, 3]], { p: 0.1 })).toEqual([2, 3]);
      expect(activationOps[name].shape([[]], { p: 0.1 })).toEqual([]);
      expect(() => activationOps[name].shape([[2], [2]], { p: 0 })).toThrow(/expects 1 input, got 2/);
    }
    expect(() => activationOps.leakyRelu.shape([[2]], { p: NaN })).toThrow("leakyRelu: slope must be a finite number, got NaN");
    expect(() => activationOps.step.shape([[2]], { p: Infinity })).toThrow("step: theta must be a finite number, got Infinity");
    expect(activationOps.geluTanh.name).toBe("gelu");
  });

  it("prelu: slope [] or [1] or [C]; other shapes name both", () => {
    expect(preluOp.shape([[4, 3], []])).toEqual([4, 3]);
    expect(preluOp.shape([[4, 3], [1]])).toEqual([4, 3]);
    expect(preluOp.shape([[4, 3], [3]])).toEqual([4, 3]);
    expect(preluOp.shape([[2, 5, 3], [3]])).toEqual([2, 5, 3]);
    expect(() => preluOp.shape([[4, 3], [4]])).toThrow("prelu: slope must be [] or [C] with C = x's last dimension: x is [4, 3], slope is [4]");
    expect(() => preluOp.shape([[4, 3], [1, 3]])).toThrow("x is [4, 3], slope is [1, 3]");
    expect(() => preluOp.shape([[4, 3]])).toThrow("prelu: expects 2 inputs (x and slope), got 1");
  });

  it("backward adds into dx (never overwrites), reading y for sigmoid/tanh and x for the rest", () => {
    const n = 13;
    for (const name of NAMES) {
      const p = name === "step" ? 0.25 : 0.05;
      const x = t([n], smooth(n, 3));
      const y = sg.apply(activationOps[name], [x], { p });
      const dy = t([n], randomArray(n, 4, -2, 2));
      const dx0 = randomArray(n, 5, -1, 1);
      const dx = t([n], dx0);
      // Poison the buffer the op must NOT read, to prove which one it uses.
      const readsY = name === "sigmoid" || name === "tanh";
      const xs = x.toArray();
      if (readsY) x.fill(NaN);
      const ys = y.toArray();
      if (!readsY && name !== "step") y.fill(NaN);
      activationOps[name].backward!(sg.rt.kernels, [x], y, dy, [dx], { p }, { saved: [], scratch: 0 });
      const fresh = readsY ? sg[name === "sigmoid" ? "sigmoidBackward" : "tanhBackward"](t([n], ys), dy) : null;
      const f = (v: number) => ACTIVATIONS64[name]!(v, Math.fround(p));
      const g = dx.toArray();
      for (let i = 0; i < n; i++) {
        const want = dx0[i]! + (fresh ? fresh.data[i]! : dy.data[i]! * numericDerivative(f, xs[i]!, 1e-5));
        expect(Math.abs(g[i]! - want), `${name} i=${i}`).toBeLessThanOrEqual(2e-6);
      }
      // dx[i] === null: nothing is written, nothing throws.
      activationOps[name].backward!(sg.rt.kernels, [x], y, dy, [null], { p }, { saved: [], scratch: 0 });
      expect(Array.from(dx.toArray())).toEqual(Array.from(g));
    }
  });

  it("prelu backward adds into dx and dslope, either may be null", () => {
    const x = t([3, 4], smooth(12, 8));
    const a = t([4], [0.1, -0.2, 0.3, 0.05]);
    const dy = t([3, 4], randomArray(12, 9, -2, 2));
    const y = sg.apply(preluOp, [x, a], undefined);
    const dx = t([3, 4], new Float32Array(12).fill(1));
    const da = t([4], [1, 2, 3, 4]);
    const env = { saved: [], scratch: 0 };
    preluOp.backward!(sg.rt.kernels, [x, a] as Buf[], y, dy, [dx, da], undefined, env);
    for (let i = 0; i < 12; i++) {
      const xi = x.data[i]!;
      expect(dx.data[i]).toBeCloseTo(1 + dy.data[i]! * (xi > 0 ? 1 : a.data[i % 4]!), 6);
    }
    for (let j = 0; j < 4; j++) {
      let s = j + 1;
      for (let r = 0; r < 3; r++) s += x.data[r * 4 + j]! < 0 ? dy.data[r * 4 + j]! * x.data[r * 4 + j]! : 0;
      expect(da.data[j]).toBeCloseTo(s, 5);
    }
    const before = da.toArray();
    preluOp.backward!(sg.rt.kernels, [x, a] as Buf[], y, dy, [dx, null], undefined, env);
    expect(Array.from(da.toArray())).toEqual(Array.from(before));
    preluOp.backward!(sg.rt.kernels, [x, a] as Buf[], y, dy, [null, null], undefined, env);
  });
});

describe("eager API", () => {
  it("every forward matches the float64 reference, with and without out", () => {
    const x = t([5, 7], smooth(35, 21));
    const refs: [string, (x: Tensor, out?: Tensor) => Tensor, (v: number) => number, number][] = [
      ["step", (v, o) => sg.step(v, 0.25, o), (v) => ACTIVATIONS64.step!(v, 0.25), 0],
      ["sigmoid", (v, o) => sg.sigmoid(v, o), (v) => ACTIVATIONS64.sigmoid!(v, 0), 2.4e-7],
      ["tanh", (v, o) => sg.tanh(v, o), Math.tanh, 2.4e-7],
      ["hardTanh", (v, o) => sg.hardTanh(v, o), (v) => ACTIVATIONS64.hardTanh!(v, 0), 0],
      ["relu", (v, o) => sg.relu(v, o), (v) => ACTIVATIONS64.relu!(v, 0), 0],
      ["leakyRelu", (v, o) => sg.leakyRelu(v, 0.2, o), (v) => ACTIVATIONS64.leakyRelu!(v, Math.fround(0.2)), 6e-8],
      ["swish", (v, o) => sg.swish(v, o), (v) => ACTIVATIONS64.swish!(v, 0), 3.6e-7],
      ["gelu", (v, o) => sg.gelu(v, {}, o), (v) => ACTIVATIONS64.gelu!(v, 0), 6e-7],
      ["gelu tanh", (v, o) => sg.gelu(v, { approximate: "tanh" }, o), (v) => ACTIVATIONS64.geluTanh!(v, 0), 1e-6],
    ];
    for (const [name, fn, ref, rtol] of refs) {
      const want = Array.from(x.data, ref);
      const y = fn(x);
      expect(y.shape).toEqual([5, 7]);
      expectClose(y.data, want, rtol, 1e-7 * (name === "gelu tanh" ? 1 : 0), name);
      const out = t([5, 7]);
      expect(fn(x, out)).toBe(out);
      expectClose(out.data, want, rtol, 1e-7 * (name === "gelu tanh" ? 1 : 0), `${name} into out`);
      y.dispose();
      out.dispose();
    }
  });

  it("defaults and shorthand: leakyRelu slope 0.01, step θ 0, gelu(x, out), in place", () => {
    const x = t([4], [-2, -0.5, 0.5, 2]);
    expect(Array.from(sg.leakyRelu(x).data)).toEqual([-0.02, -0.005, 0.5, 2].map(Math.fround));
    expect(Array.from(sg.step(x).data)).toEqual([0, 0, 1, 1]);
    const out = t([4]);
    expect(sg.gelu(x, out)).toBe(out);
    expectClose(out.data, Array.from(x.data, (v) => ACTIVATIONS64.gelu!(v, 0)), 6e-7, 0, "gelu(x, out)");
    expect(sg.leakyRelu(x, out)).toBe(out);
    expect(Array.from(out.data)).toEqual([-0.02, -0.005, 0.5, 2].map(Math.fround));
    // In place: out is x.
    expect(sg.relu(x, x)).toBe(x);
    expect(Array.from(x.data)).toEqual([0, 0, 0.5, 2]);
  });

  it("prelu: scalar and per-channel slopes", () => {
    const x = t([2, 3], [-1, 2, -3, 4, -5, 6]);
    expect(Array.from(sg.prelu(x, t([], [0.5])).data)).toEqual([-0.5, 2, -1.5, 4, -2.5, 6]);
    const f = Math.fround;
    expect(Array.from(sg.prelu(x, t([3], [0.1, 0.2, 0.3])).data)).toEqual([f(-1 * f(0.1)), 2, f(-3 * f(0.3)), 4, f(-5 * f(0.2)), 6]);
  });

  it("every backward: dx = dy·f′, taking x or y as documented", () => {
    const n = 29;
    const xv = smooth(n, 31);
    const x = t([n], xv);
    const dy = t([n], randomArray(n, 32, -3, 3));
    const cases: [ActivationName, Tensor, number][] = [
      ["step", sg.stepBackward(x, dy), 0.25],
      ["sigmoid", sg.sigmoidBackward(sg.sigmoid(x), dy), 0],
      ["tanh", sg.tanhBackward(sg.tanh(x), dy), 0],
      ["hardTanh", sg.hardTanhBackward(x, dy), 0],
      ["relu", sg.reluBackward(x, dy), 0],
      ["leakyRelu", sg.leakyReluBackward(x, dy, 0.2), 0.2],
      ["swish", sg.swishBackward(x, dy), 0],
      ["gelu", sg.geluBackward(x, dy), 0],
      ["geluTanh", sg.geluBackward(x, dy, { approximate: "tanh" }), 0],
    ];
    for (const [name, dx, p] of cases) {
      const f = (v: number) => ACTIVATIONS64[name]!(v, Math.fround(p));
      const want = Array.from(xv, (v, i) => dy.data[i]! * numericDerivative(f, v, 1e-5));
      expectClose(dx.data, want, 1e-6, 2e-6, `${name}Backward`);
    }
    // leakyRelu's default slope, and out as third argument.
    const out = t([n]);
    expect(sg.leakyReluBackward(x, dy, out)).toBe(out);
    expectClose(out.data, Array.from(xv, (v, i) => dy.data[i]! * (v > 0 ? 1 : Math.fround(0.01))), 1e-7, 0, "leakyReluBackward default");
    expect(sg.geluBackward(x, dy, out)).toBe(out);
    expect(sg.reluBackward(x, dy, out)).toBe(out);
    expect(Array.from(out.data)).toEqual(Array.from(xv, (v, i) => (v > 0 ? dy.data[i]! : 0)));
  });

  it("preluBackward returns { dx, dslope }, into out if given", () => {
    const x = t([2, 3], [-1, 2, -3, 4, -5, 6]);
    const dy = t([2, 3], [1, 2, 3, 4, 5, 6]);
    const a = t([3], [0.1, 0.2, 0.3]);
    const { dx, dslope } = sg.preluBackward(x, dy, a);
    const f = Math.fround;
    expect(Array.from(dx.data)).toEqual([f(0.1), 2, f(3 * f(0.3)), 4, f(5 * f(0.2)), 6]);
    expect(Array.from(dslope.data)).toEqual([-1, -25, -9]);
    expect(dslope.shape).toEqual([3]);
    const outDx = t([2, 3]);
    const outDa = t([3]);
    const r = sg.preluBackward(x, dy, a, { dx: outDx, dslope: outDa });
    expect(r.dx).toBe(outDx);
    expect(r.dslope).toBe(outDa);
    expect(Array.from(outDa.data)).toEqual([-1, -25, -9]);
    const s = sg.preluBackward(x, dy, t([], [0.5]));
    expect(s.dslope.shape).toEqual([]);
    expect(Array.from(s.dslope.data)).toEqual([-35]);
  });

  it("bad inputs get clear errors naming the op and shapes, and the next call works", () => {
    const x = t([2, 3], [1, -2, 3, -4, 5, -6]);
    const ok = () => expect(Array.from(sg.relu(x).data)).toEqual([1, 0, 3, 0, 5, 0]);
    const bad: [() => unknown, string | RegExp][] = [
      [() => sg.relu(42 as unknown as Tensor), "relu: input must be a Tensor, got number"],
      [() => sg.relu(x, t([3])), "relu: out is [3], the result is [2, 3]"],
      [() => sg.sigmoid(x, t([3, 2])), "sigmoid: out is [3, 2], the result is [2, 3]"],
      [() => sg.leakyRelu(x, NaN), "leakyRelu: slope must be a finite number, got NaN"],
      [() => sg.step(x, "1" as unknown as number), "step: theta must be a finite number, got string"],
      [() => sg.prelu(x, t([2])), "prelu: slope must be [] or [C] with C = x's last dimension: x is [2, 3], slope is [2]"],
      [() => sg.prelu(x, 0.2 as unknown as Tensor), /prelu: slope must be a Tensor of shape \[\] or \[C\], got number/],
      [() => sg.gelu(x, { approximate: "fast" as "tanh" }), 'gelu: approximate must be "none" or "tanh", got "fast"'],
      [() => sg.reluBackward(x, t([3, 2])), "reluBackward: dy must have x's shape: x is [2, 3], dy is [3, 2]"],
      [() => sg.tanhBackward(x, t([6])), "tanhBackward: dy must have y's shape: y is [2, 3], dy is [6]"],
      [() => sg.sigmoidBackward(x, t([2, 3]), t([2])), "sigmoidBackward: out is [2], the result is [2, 3]"],
      [() => sg.geluBackward(x, t([1]), { approximate: "tanh" }), "geluBackward: dy must have x's shape: x is [2, 3], dy is [1]"],
      [() => sg.leakyReluBackward(x, x, Infinity), "leakyReluBackward: slope must be a finite number, got Infinity"],
      [() => sg.preluBackward(x, t([2, 2]), t([3])), "preluBackward: dy must have x's shape: x is [2, 3], dy is [2, 2]"],
      [() => sg.preluBackward(x, x, t([4])), "preluBackward: slope must be [] or [C] with C = x's last dimension: x is [2, 3], slope is [4]"],
      [() => sg.preluBackward(x, x, t([3]), { dslope: t([2]) }), "preluBackward: dslope is [2], the result is [3]"],
      [() => sg.swishBackward(undefined as unknown as Tensor, x), "swishBackward: x must be a Tensor, got undefined"],
    ];
    for (const [call, msg] of bad) {
      expect(call).toThrow(msg);
      ok();
    }
    const gone = t([2, 3]);
    gone.dispose();
    expect(() => sg.tanh(gone)).toThrow("tanh: tensor [2, 3] has been disposed");
    expect(() => sg.reluBackward(x, gone)).toThrow(/reluBackward: .*has been disposed/);
    ok();
  });
});
