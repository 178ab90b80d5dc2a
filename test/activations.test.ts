/**
 * Activation kernels (assembly/activations.ts) against float64 references: forward over
 * a sweep of sizes between NaN guard bands, backward against two-sided numeric derivatives
 * with non-unit upstream gradients (away from kinks), the kinks on their own, the
 * accumulate flag, in-place use, saturation, PReLU with its slope gradient, and the
 * run-time-code kernels (act_derivative, act_backward) against the named ones.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import { ACT, type ActivationName, BACKWARD_READS, activationBackward, activationForward } from "../src/ops/activations.js";
import type { Kernels } from "../src/runtime/kernels.js";
import { type Guarded, expectClose, guarded, kernels, randomArray, runtime } from "./helpers.js";
import { ACTIVATIONS64, numericDerivative } from "./vmath-reference.js";

const SIZES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 32, 35, 64, 67, 255, 1001, 4099];
const NAMES: ActivationName[] = ["step", "sigmoid", "tanh", "hardTanh", "relu", "leakyRelu", "swish", "gelu", "geluTanh"];

/** The parameter each activation is tested with (θ for step, the slope for leakyRelu). */
const PARAM: Record<ActivationName, number> = {
  step: 0.25, sigmoid: 0, tanh: 0, hardTanh: 0, relu: 0, leakyRelu: 0.07, swish: 0, gelu: 0, geluTanh: 0,
};

/**
 * Forward tolerances |got − want| ≤ rtol·|want| + atol. The piecewise-linear ones are exact
 * (leakyRelu: one rounding of slope·x). Smooth ones: the vmath bounds (2 ulp = 2.4e-7 for σ
 * and tanh, 4 ulp for Φ) plus the final product. geluTanh's atol covers the rounding of its
 * inner argument v = 2√(2/π)(x + 0.044715x³), amplified by |v|·σ′(v) (≤ 1.5e-7 absolute).
 * swish and gelu far left (x ≲ −87) multiply x by a denormal σ(x) or Φ(x): those results
 * are only as precise as that denormal, hence atol 2e-40 (|x|·2^-149 for |x| ≤ 100).
 */
const FWD_TOL: Record<ActivationName, [number, number]> = {
  step: [0, 0],
  sigmoid: [2.4e-7, 1e-44],
  tanh: [2.4e-7, 0],
  hardTanh: [0, 0],
  relu: [0, 0],
  leakyRelu: [6e-8, 0],
  swish: [3.6e-7, 2e-40],
  gelu: [6e-7, 2e-40],
  geluTanh: [4e-7, 1.5e-7],
};

/**
 * Backward tolerances against dy·f′ from a numeric derivative of the float64 forward:
 * |got − want| ≤ rtol·|want| + atol·|dy|. sigmoid and tanh work from the float32 output y,
 * so 1 − y² and y(1 − y) carry y's rounding (≈ 2.4e-7·|y| absolute).
 */
const BWD_TOL: Record<ActivationName, [number, number]> = {
  step: [0, 0],
  sigmoid: [1e-6, 3e-7],
  tanh: [1e-6, 6e-7],
  hardTanh: [1e-9, 0],
  relu: [1e-9, 0],
  leakyRelu: [1e-7, 0],
  swish: [1e-6, 4e-7],
  gelu: [1e-6, 4e-7],
  geluTanh: [1e-6, 6e-7],
};

/** Points where the activation has a kink (the derivative jumps), kept away from in gradient checks. */
function kinks(name: ActivationName): number[] {
  switch (name) {
    case "step": return [PARAM.step];
    case "hardTanh": return [-1, 1];
    case "relu":
    case "leakyRelu": return [0];
    default: return [];
  }
}

/** Random inputs in [−6, 6], moved at least 1e-3 away from the activation's kinks. */
function inputs(name: ActivationName, n: number, seed: number): Float32Array {
  const x = randomArray(n, seed, -6, 6);
  for (let i = 0; i < n; i++) {
    for (const k of kinks(name)) if (Math.abs(x[i]! - k) < 1e-3) x[i] = k + 2e-3;
  }
  return x;
}

/** Non-unit upstream gradients: magnitudes in [0.5, 3), both signs. */
function upstream(n: number, seed: number): Float32Array {
  const u = randomArray(n, seed, 0.5, 3);
  const s = randomArray(n, seed + 1, -1, 1);
  return u.map((v, i) => (s[i]! < 0 ? -v : v));
}

let sg: SimdGrad;
let k: Kernels;
beforeAll(async () => {
  sg = await runtime();
  k = kernels(sg);
});

/** Runs `body` with guarded buffers, checks every guard afterwards, frees them. */
function withBufs<T>(sizes: number[], body: (bufs: Guarded[]) => T): T {
  const bufs = sizes.map((n) => guarded(sg, n));
  try {
    const out = body(bufs);
    for (const b of bufs) b.check();
    return out;
  } finally {
    for (const b of bufs) b.free();
  }
}

function forward(name: ActivationName, x: Float32Array, p = PARAM[name]): Float32Array {
  return withBufs([x.length, x.length], ([gx, gy]) => {
    gx!.set(x);
    activationForward(k, name, gx!.ptr, gy!.ptr, x.length, p);
    expect(Array.from(gx!.view()), "x untouched").toEqual(Array.from(x));
    return gy!.view().slice();
  });
}

/** dx from the kernel: dx0 preset, accumulate as given; v is x or y as the kernel reads. */
function backward(name: ActivationName, v: Float32Array, dy: Float32Array, accumulate: 0 | 1, dx0?: Float32Array, p = PARAM[name]): Float32Array {
  return withBufs([v.length, v.length, v.length], ([gv, gdy, gdx]) => {
    gv!.set(v);
    gdy!.set(dy);
    if (dx0) gdx!.set(dx0);
    activationBackward(k, name, gv!.ptr, gdy!.ptr, gdx!.ptr, v.length, p, accumulate);
    return gdx!.view().slice();
  });
}

describe("activation forward vs float64, every size, guard bands", () => {
  for (const name of NAMES) {
    it(`${name}`, () => {
      const [rtol, atol] = FWD_TOL[name];
      const f = ACTIVATIONS64[name]!;
      for (const n of SIZES) {
        const x = randomArray(n, 100 + n, -6, 6);
        // Exact kinks and a few far-out values ride along.
        const specials = [0, -0, 1, -1, PARAM.step, 0.5, -30, 30, 100, -100];
        for (let i = 0; i < Math.min(n, specials.length); i++) x[(i * 7) % n] = specials[i]!;
        const y = forward(name, x);
        const want = Array.from(x, (v) => f(v, Math.fround(PARAM[name])));
        expectClose(y, want, rtol, atol, `${name} n=${n}`);
      }
    });
  }

  it("the comparison can fail: tanh checked as sigmoid", () => {
    const x = randomArray(64, 3, -2, 2);
    const y = forward("tanh", x);
    expect(() => expectClose(y, Array.from(x, (v) => ACTIVATIONS64.sigmoid!(v, 0)), 2.4e-7, 0, "tanh as sigmoid")).toThrow();
  });

  it("in place (y = x) gives the same values, every size", () => {
    for (const name of NAMES) {
      for (const n of [0, 1, 3, 4, 7, 8, 17, 1001]) {
        const x = randomArray(n, 7 + n, -5, 5);
        const want = forward(name, x);
        const got = withBufs([n], ([g]) => {
          g!.set(x);
          activationForward(k, name, g!.ptr, g!.ptr, n, PARAM[name]);
          return g!.view().slice();
        });
        expect(Array.from(got), `${name} n=${n}`).toEqual(Array.from(want));
      }
    }
  });

  it("saturates without NaN: ±Inf, ±1e30 in; NaN stays NaN", () => {
    const I = Infinity;
    const x = Float32Array.from([I, -I, 1e30, -1e30, 1e4, -1e4, NaN]);
    const want: Record<ActivationName, number[]> = {
      step: [1, 0, 1, 0, 1, 0, NaN],
      sigmoid: [1, 0, 1, 0, 1, 0, NaN],
      tanh: [1, -1, 1, -1, 1, -1, NaN],
      hardTanh: [1, -1, 1, -1, 1, -1, NaN],
      relu: [I, 0, 1e30, 0, 1e4, 0, NaN],
      leakyRelu: [I, -I, 1e30, -7e28, 1e4, -700, NaN],
      swish: [I, 0, 1e30, 0, 1e4, 0, NaN],
      gelu: [I, 0, 1e30, 0, 1e4, 0, NaN],
      geluTanh: [I, 0, 1e30, 0, 1e4, 0, NaN],
    };
    for (const name of NAMES) {
      const y = forward(name, x);
      want[name].forEach((w, i) => {
        const g = y[i]!;
        if (Number.isNaN(w)) expect(g, `${name}(${x[i]})`).toBeNaN();
        else expect(g === Math.fround(w) || Math.abs(g - w) <= 1e-7 * Math.abs(w), `${name}(${x[i]}) = ${g}, want ${w}`).toBe(true);
      });
    }
  });
});

describe("activation backward vs numeric derivative (non-unit dy, away from kinks)", () => {
  for (const name of NAMES) {
    it(`${name}: dx = dy·f′ from ${BACKWARD_READS[name]}`, () => {
      const [rtol, atol] = BWD_TOL[name];
      const p = Math.fround(PARAM[name]);
      const f = (v: number) => ACTIVATIONS64[name]!(v, p);
      for (const n of SIZES) {
        const x = inputs(name, n, 200 + n);
        const dy = upstream(n, 300 + n);
        const v = BACKWARD_READS[name] === "y" ? forward(name, x) : x;
        const dx = backward(name, v, dy, 0);
        const want = Array.from(x, (xi, i) => dy[i]! * numericDerivative(f, xi, 1e-5));
        const tol = Array.from(dy, (d) => atol * Math.abs(d));
        for (let i = 0; i < n; i++) {
          const err = Math.abs(dx[i]! - want[i]!);
          if (!(err <= rtol * Math.abs(want[i]!) + tol[i]!)) {
            throw new Error(`${name}' n=${n} i=${i}: x = ${x[i]}, dy = ${dy[i]}: got ${dx[i]}, want ${want[i]}`);
          }
        }
      }
    });
  }

  it("the check can fail: swish's gradient is not sigmoid's", () => {
    const x = inputs("swish", 64, 5);
    const dy = upstream(64, 6);
    const dx = backward("swish", x, dy, 0);
    const want = Array.from(x, (xi, i) => dy[i]! * numericDerivative((v) => ACTIVATIONS64.sigmoid!(v, 0), xi, 1e-5));
    expect(() => expectClose(dx, want, 1e-6, 1e-6, "swish as sigmoid")).toThrow();
  });

  it("accumulate = 1 adds into dx, accumulate = 0 overwrites it, every size", () => {
    for (const name of NAMES) {
      for (const n of [0, 1, 3, 4, 5, 8, 13, 1001]) {
        const x = inputs(name, n, 40 + n);
        const v = BACKWARD_READS[name] === "y" ? forward(name, x) : x;
        const dy = upstream(n, 50 + n);
        const dx0 = randomArray(n, 60 + n, -2, 2);
        const g = backward(name, v, dy, 0, dx0);
        const acc = backward(name, v, dy, 1, dx0);
        const want = Array.from(dx0, (c, i) => Math.fround(c + g[i]!));
        expect(Array.from(acc), `${name} n=${n}`).toEqual(want);
        if (name === "step") expect(Array.from(g)).toEqual(new Array(n).fill(0));
      }
    }
  });

  it("in place (dx = dy) gives the same values", () => {
    for (const name of NAMES) {
      const n = 37;
      const x = inputs(name, n, 11);
      const v = BACKWARD_READS[name] === "y" ? forward(name, x) : x;
      const dy = upstream(n, 12);
      const want = backward(name, v, dy, 0);
      const got = withBufs([n, n], ([gv, gd]) => {
        gv!.set(v);
        gd!.set(dy);
        activationBackward(k, name, gv!.ptr, gd!.ptr, gd!.ptr, n, PARAM[name], 0);
        return gd!.view().slice();
      });
      expect(Array.from(got), name).toEqual(Array.from(want));
    }
  });

  it("derivatives saturate without NaN for ±Inf and huge inputs", () => {
    const I = Infinity;
    const x = Float32Array.from([I, -I, 1e30, -1e30, 50, -50]);
    const dy = new Float32Array(x.length).fill(2);
    const want: Partial<Record<ActivationName, number[]>> = {
      swish: [2, 0, 2, 0, 2, 0],
      gelu: [2, 0, 2, 0, 2, 0],
      geluTanh: [2, 0, 2, 0, 2, 0],
      relu: [2, 0, 2, 0, 2, 0],
      hardTanh: [0, 0, 0, 0, 0, 0],
    };
    for (const [name, w] of Object.entries(want) as [ActivationName, number[]][]) {
      const got = backward(name, x, dy, 0);
      w.forEach((wi, i) => expect(Math.abs(got[i]! - wi), `${name}'(${x[i]})·2 = ${got[i]}`).toBeLessThanOrEqual(1e-6));
    }
    // sigmoid and tanh read y: at saturated outputs the slope is the least positive float32,
    // 2⁻¹⁴⁹ (y(1 − y) and 1 − y² would be 0, and an infinite dy NaN): dy·2⁻¹⁴⁹, ±Inf for ±Inf.
    expect(Array.from(backward("sigmoid", Float32Array.from([1, 0]), Float32Array.from([2, 2]), 0))).toEqual([2 * 2 ** -149, 2 * 2 ** -149]);
    expect(Array.from(backward("tanh", Float32Array.from([1, -1]), Float32Array.from([2, 2]), 0))).toEqual([2 * 2 ** -149, 2 * 2 ** -149]);
    expect(Array.from(backward("sigmoid", Float32Array.from([1, 0]), Float32Array.from([I, -I]), 0))).toEqual([I, -I]);
    expect(Array.from(backward("tanh", Float32Array.from([1, -1]), Float32Array.from([-I, I]), 0))).toEqual([-I, I]);
  });
});

describe("kinks, on their own, with the documented convention", () => {
  it("relu′(0) = 0 (and at −0); just either side 0 and 1", () => {
    const dx = backward("relu", Float32Array.from([0, -0, 1e-30, -1e-30, 1e-45]), new Float32Array(5).fill(3), 0);
    expect(Array.from(dx)).toEqual([0, 0, 3, 0, 3]);
  });

  it("leakyRelu′(0) = slope", () => {
    const s = 0.07;
    const dx = backward("leakyRelu", Float32Array.from([0, -0, 1e-30, -1e-30]), new Float32Array(4).fill(3), 0, undefined, s);
    expect(Array.from(dx)).toEqual([Math.fround(3 * Math.fround(s)), Math.fround(3 * Math.fround(s)), 3, Math.fround(3 * Math.fround(s))]);
  });

  it("hardTanh′(±1) = 0: the gradient flows only strictly inside (−1, 1)", () => {
    const below = Math.fround(1 - 2 ** -24);
    const x = Float32Array.from([1, -1, below, -below, Math.fround(1 + 2 ** -23), 0]);
    expect(Array.from(backward("hardTanh", x, new Float32Array(6).fill(3), 0))).toEqual([0, 0, 3, 3, 0, 3]);
    // The forward at the kinks: clamp is the identity there.
    expect(Array.from(forward("hardTanh", x))).toEqual([1, -1, below, -below, 1, 0]);
  });

  it("step′ = 0 everywhere, θ included; step(θ) = 0 (strictly greater)", () => {
    const theta = 0.25;
    const x = Float32Array.from([theta, Math.fround(theta + 1e-7), -5, 5, 0]);
    expect(Array.from(backward("step", x, new Float32Array(5).fill(3), 0, undefined, theta))).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(forward("step", x, theta))).toEqual([0, 1, 0, 1, 0]);
  });

  it("relu, leakyRelu and hardTanh forward are continuous at their kinks", () => {
    expect(Array.from(forward("relu", Float32Array.from([0, 1e-30, -1e-30])))).toEqual([0, 1e-30, 0].map(Math.fround));
    expect(Array.from(forward("leakyRelu", Float32Array.from([0, -1]), 0.07))).toEqual([0, Math.fround(-0.07)]);
  });
});

describe("prelu kernels", () => {
  /** Runs prelu_forward; slope has c values. */
  function preluForward(x: Float32Array, slope: Float32Array): Float32Array {
    return withBufs([x.length, x.length, slope.length], ([gx, gy, ga]) => {
      gx!.set(x);
      ga!.set(slope);
      k.prelu_forward(gx!.ptr, gy!.ptr, x.length, ga!.ptr, slope.length);
      return gy!.view().slice();
    });
  }

  function preluBackward(x: Float32Array, dy: Float32Array, slope: Float32Array, accumulate: 0 | 1, dx0: Float32Array | null, da0: Float32Array | null): { dx: Float32Array | null; da: Float32Array | null } {
    return withBufs([x.length, x.length, slope.length, x.length, slope.length], ([gx, gdy, ga, gdx, gda]) => {
      gx!.set(x);
      gdy!.set(dy);
      ga!.set(slope);
      if (dx0) gdx!.set(dx0);
      if (da0) gda!.set(da0);
      k.prelu_backward(gx!.ptr, gdy!.ptr, dx0 ? gdx!.ptr : 0, x.length, ga!.ptr, slope.length, da0 ? gda!.ptr : 0, accumulate);
      expect(Array.from(ga!.view()), "slope untouched").toEqual(Array.from(slope));
      // Skipped outputs stay untouched (still NaN from the guard fill).
      if (!dx0 && x.length > 0) expect(gdx!.view()[0]).toBeNaN();
      if (!da0 && slope.length > 0) expect(gda!.view()[0]).toBeNaN();
      return { dx: dx0 ? gdx!.view().slice() : null, da: da0 ? gda!.view().slice() : null };
    });
  }

  const CHANNELS = [1, 2, 3, 4, 5, 7, 8, 9, 17, 33];
  const ROWS = [0, 1, 2, 5, 31];

  it("forward: per channel slope over the last dimension, every C and row count (exact)", () => {
    for (const c of CHANNELS) {
      for (const rows of ROWS) {
        const n = rows * c;
        const x = randomArray(n, c * 100 + rows, -3, 3);
        if (n > 0) x[0] = 0;
        const a = randomArray(c, c, -0.5, 0.5);
        const y = preluForward(x, a);
        const want = Array.from(x, (v, i) => (v > 0 ? v : Math.fround(v * a[i % c]!)));
        expect(Array.from(y), `C=${c} rows=${rows}`).toEqual(want);
      }
    }
  });

  it("backward: dx exact, dslope = Σ_rows dy·min(x, 0), both vs numeric derivatives", () => {
    for (const c of CHANNELS) {
      for (const rows of ROWS) {
        const n = rows * c;
        const x = randomArray(n, c * 31 + rows, -3, 3);
        for (let i = 0; i < n; i++) if (Math.abs(x[i]!) < 1e-3) x[i] = 2e-3;
        const dy = upstream(n, c + 7 * rows);
        const a = randomArray(c, c + 1, -0.5, 0.5);
        const { dx, da } = preluBackward(x, dy, a, 0, new Float32Array(n), new Float32Array(c));
        // dx against the numeric derivative in x.
        for (let i = 0; i < n; i++) {
          const ai = a[i % c]!;
          const w = dy[i]! * numericDerivative((v) => (v > 0 ? v : ai * v), x[i]!, 1e-5);
          expect(Math.abs(dx![i]! - w), `dx C=${c} rows=${rows} i=${i}`).toBeLessThanOrEqual(1e-6 * Math.abs(w));
        }
        // dslope against the numeric derivative of L(a) = Σ dy·prelu(x; a) in each a_j.
        for (let j = 0; j < c; j++) {
          const L = (aj: number) => {
            let s = 0;
            for (let i = j; i < n; i += c) s += dy[i]! * (x[i]! > 0 ? x[i]! : aj * x[i]!);
            return s;
          };
          const w = numericDerivative(L, a[j]!, 1e-3);
          let mag = 0;
          for (let i = j; i < n; i += c) mag += Math.abs(dy[i]! * x[i]!);
          expect(Math.abs(da![j]! - w), `dslope C=${c} rows=${rows} j=${j}: got ${da![j]}, want ${w}`).toBeLessThanOrEqual(1e-6 * mag + 1e-30);
        }
      }
    }
  });

  it("a single slope ([] or [1]) sums its gradient over everything, large odd sizes too", () => {
    for (const n of [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 1001, 4099]) {
      const x = randomArray(n, n + 5, -3, 3);
      const dy = upstream(n, n + 6);
      const a = Float32Array.from([0.2]);
      const { dx, da } = preluBackward(x, dy, a, 0, new Float32Array(n), new Float32Array(1));
      let want = 0;
      let mag = 0;
      for (let i = 0; i < n; i++) {
        if (x[i]! < 0) want += dy[i]! * x[i]!;
        mag += Math.abs(dy[i]! * x[i]!);
      }
      expect(Math.abs(da![0]! - want), `n=${n}`).toBeLessThanOrEqual(1e-6 * mag);
      expect(Array.from(dx!)).toEqual(Array.from(x, (v, i) => (v > 0 ? dy[i]! : Math.fround(dy[i]! * a[0]!))));
      expect(Array.from(preluForward(x, a))).toEqual(Array.from(x, (v) => (v > 0 ? v : Math.fround(v * a[0]!))));
    }
  });

  it("kink: prelu′(0) = slope for x, and 0 contributes nothing to dslope", () => {
    const x = Float32Array.from([0, -0, 0, 0]);
    const dy = Float32Array.from([2, 2, 2, 2]);
    const a = Float32Array.from([0.25, 0.5]);
    const { dx, da } = preluBackward(x, dy, a, 0, new Float32Array(4), new Float32Array(2));
    expect(Array.from(dx!)).toEqual([0.5, 1, 0.5, 1]);
    expect(Array.from(da!)).toEqual([0, 0]);
  });

  it("accumulate adds into dx and dslope; a null pointer skips that output", () => {
    for (const c of [1, 3, 8]) {
      const n = 5 * c;
      const x = randomArray(n, c, -3, 3);
      const dy = upstream(n, c + 1);
      const a = randomArray(c, c + 2, -0.5, 0.5);
      const dx0 = randomArray(n, c + 3, -1, 1);
      const da0 = randomArray(c, c + 4, -1, 1);
      const fresh = preluBackward(x, dy, a, 0, dx0, da0);
      const acc = preluBackward(x, dy, a, 1, dx0, da0);
      expect(Array.from(acc.dx!)).toEqual(Array.from(dx0, (v, i) => Math.fround(v + fresh.dx![i]!)));
      for (let j = 0; j < c; j++) expect(Math.abs(acc.da![j]! - (da0[j]! + fresh.da![j]!))).toBeLessThanOrEqual(1e-6);
      // Skipping either output leaves the other the same.
      expect(Array.from(preluBackward(x, dy, a, 0, dx0, null).dx!)).toEqual(Array.from(fresh.dx!));
      expect(Array.from(preluBackward(x, dy, a, 0, null, da0).da!)).toEqual(Array.from(fresh.da!));
    }
  });
});

describe("act_grad_v by run-time code (act_derivative kernel, as the fused linear layer uses it)", () => {
  function derivative(code: number, x: Float32Array, y: Float32Array, p: number): Float32Array {
    return withBufs([x.length, x.length, x.length], ([gx, gy, gg]) => {
      gx!.set(x);
      gy!.set(y);
      k.act_derivative(code, gx!.ptr, gy!.ptr, gg!.ptr, x.length, p);
      return gg!.view().slice();
    });
  }

  it("every code: f′ vs the numeric derivative, every size, and equal to what the named backward kernel applies", () => {
    for (const name of NAMES) {
      const [rtol, atol] = BWD_TOL[name];
      const p = Math.fround(PARAM[name]);
      const f = (v: number) => ACTIVATIONS64[name]!(v, p);
      for (const n of [0, 1, 3, 4, 5, 8, 17, 1001]) {
        const x = inputs(name, n, 900 + n);
        const y = forward(name, x);
        const g = derivative(ACT[name], x, y, p);
        for (let i = 0; i < n; i++) {
          const want = numericDerivative(f, x[i]!, 1e-5);
          if (!(Math.abs(g[i]! - want) <= rtol * Math.abs(want) + atol)) {
            throw new Error(`act_grad_v ${name} n=${n} i=${i}: x = ${x[i]}: got ${g[i]}, want ${want}`);
          }
        }
        const dy = upstream(n, 70 + n);
        const dx = backward(name, BACKWARD_READS[name] === "y" ? y : x, dy, 0);
        // (+ 0 identifies −0 with 0: a select gives +0 where dy·0 may give −0.)
        expect(Array.from(dx, (v) => v + 0), `${name} backward = dy·f′`).toEqual(Array.from(g, (gi, i) => Math.fround(dy[i]! * gi) + 0));
      }
    }
    const x = randomArray(9, 1, -3, 3);
    expect(Array.from(derivative(ACT.identity, x, x, 0))).toEqual(new Array(9).fill(1));
  });

  it("g may be y (every code) or x (all but swish, gelu, geluTanh): same values in place", () => {
    for (const name of NAMES) {
      const p = Math.fround(PARAM[name]);
      for (const n of [1, 3, 4, 7, 17]) {
        const x = inputs(name, n, 950 + n);
        const y = forward(name, x);
        const want = Array.from(derivative(ACT[name], x, y, p));
        const intoY = withBufs([n, n], ([gx, gy]) => {
          gx!.set(x);
          gy!.set(y);
          k.act_derivative(ACT[name], gx!.ptr, gy!.ptr, gy!.ptr, n, p);
          return gy!.view().slice();
        });
        expect(Array.from(intoY), `${name} n=${n} into y`).toEqual(want);
        if (name === "swish" || name === "gelu" || name === "geluTanh") continue;
        const intoX = withBufs([n, n], ([gx, gy]) => {
          gx!.set(x);
          gy!.set(y);
          k.act_derivative(ACT[name], gx!.ptr, gy!.ptr, gx!.ptr, n, p);
          return gx!.view().slice();
        });
        expect(Array.from(intoX), `${name} n=${n} into x`).toEqual(want);
      }
    }
  });

  it("kinks by code: relu′(0) = 0, leakyRelu′(0) = slope, hardTanh′(±1) = 0, step′(θ) = 0", () => {
    const z = Float32Array.from([0, -0, 1, -1, 0.25]);
    const y = new Float32Array(5);
    expect(Array.from(derivative(ACT.relu, z, y, 0))).toEqual([0, 0, 1, 0, 1]);
    expect(Array.from(derivative(ACT.leakyRelu, z, y, 0.5))).toEqual([0.5, 0.5, 1, 0.5, 1]);
    expect(Array.from(derivative(ACT.hardTanh, z, y, 0))).toEqual([1, 1, 0, 0, 1]);
    expect(Array.from(derivative(ACT.step, z, y, 0.25))).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("act_forward by run-time code (the fused linear layer's forward step over a span)", () => {
  type ActForward = (kind: number, x: number, y: number, n: number, p: number) => void;
  it("every code equals its named forward kernel (and identity copies), every size, in place too", () => {
    const actForward = (k as unknown as { act_forward: ActForward }).act_forward;
    const codes: [number, ActivationName | null][] = [[ACT.identity, null], ...NAMES.map((n) => [ACT[n], n] as [number, ActivationName])];
    for (const [code, name] of codes) {
      const p = name ? Math.fround(PARAM[name]) : 0;
      for (const n of [0, 1, 3, 4, 5, 8, 17, 1001]) {
        const x = randomArray(n, 40 + n, -6, 6);
        if (n > 2) { x[0] = -0; x[1] = NaN; }
        const want = name ? forward(name, x) : x;
        const got = withBufs([n, n], ([gx, gy]) => {
          gx!.set(x);
          actForward(code, gx!.ptr, gy!.ptr, n, p);
          expect(Array.from(gx!.view()), "x untouched").toEqual(Array.from(x));
          return gy!.view().slice();
        });
        expect(Array.from(got), `code ${code} n=${n}`).toEqual(Array.from(want));
        const inPlace = withBufs([n], ([g]) => {
          g!.set(x);
          actForward(code, g!.ptr, g!.ptr, n, p);
          return g!.view().slice();
        });
        expect(Array.from(inPlace), `code ${code} n=${n} in place`).toEqual(Array.from(want));
      }
    }
  });
});

describe("act_backward by run-time code (the fused linear layer's backward step)", () => {
  /** act_backward between guard bands; with `nullUnread`, 0 for the pointer the kind does not read. */
  function byCode(code: number, x: Float32Array, y: Float32Array, dy: Float32Array, dz0: Float32Array, p: number, accumulate: 0 | 1, nullUnread: boolean): Float32Array {
    const n = x.length;
    return withBufs([n, n, n, n], ([gx, gy, gdy, gdz]) => {
      gx!.set(x);
      gy!.set(y);
      gdy!.set(dy);
      gdz!.set(dz0);
      const readsY = code === ACT.sigmoid || code === ACT.tanh;
      const xp = nullUnread && readsY ? 0 : gx!.ptr;
      const yp = nullUnread && !readsY ? 0 : gy!.ptr;
      k.act_backward(code, xp, yp, gdy!.ptr, gdz!.ptr, n, p, accumulate);
      expect(Array.from(gdy!.view()), "dy untouched").toEqual(Array.from(dy));
      return gdz!.view().slice();
    });
  }

  it("every code equals its named backward kernel, both accumulate modes, every size; the unread pointer may be 0", () => {
    for (const name of NAMES) {
      const p = Math.fround(PARAM[name]);
      for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 17, 35, 1001]) {
        const x = inputs(name, n, 500 + n);
        const y = forward(name, x);
        const dy = upstream(n, 600 + n);
        const dz0 = randomArray(n, 700 + n, -1, 1);
        const v = BACKWARD_READS[name] === "y" ? y : x;
        for (const acc of [0, 1] as const) {
          const want = backward(name, v, dy, acc, dz0);
          for (const nullUnread of [false, true]) {
            const got = byCode(ACT[name], x, y, dy, dz0, p, acc, nullUnread);
            expect(Array.from(got), `${name} n=${n} accumulate=${acc}`).toEqual(Array.from(want));
          }
        }
      }
    }
  });

  it("identity: dz = dy, or dz + dy with accumulate", () => {
    const n = 13;
    const x = randomArray(n, 1, -3, 3);
    const dy = upstream(n, 2);
    const dz0 = randomArray(n, 3, -1, 1);
    expect(Array.from(byCode(ACT.identity, x, x, dy, dz0, 0, 0, false))).toEqual(Array.from(dy));
    expect(Array.from(byCode(ACT.identity, x, x, dy, dz0, 0, 1, false))).toEqual(Array.from(dz0, (d, i) => Math.fround(d + dy[i]!)));
  });

  it("piecewise kinds select dy: an infinite dy where f′ = 0 gives 0, not NaN", () => {
    const x = Float32Array.from([-2, 2, -0.5, 3, 0]);
    const dy = Float32Array.from([Infinity, 1, -Infinity, 1, Infinity]);
    const zero = new Float32Array(5);
    expect(Array.from(byCode(ACT.relu, x, x, dy, zero, 0, 0, false))).toEqual([0, 1, 0, 1, 0]);
    expect(Array.from(byCode(ACT.hardTanh, Float32Array.from([-2, 0.5, 1, -1, 3]), x, dy, zero, 0, 0, false))).toEqual([0, 1, 0, 0, 0]);
    expect(Array.from(byCode(ACT.step, x, x, dy, zero, 0.25, 0, false))).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("two vectors written interleaved (gelu_pair, sigmoid_pair)", () => {
  // Whole pairs of vectors run gelu_pair or sigmoid_pair (assembly/vmath.ts), the operations
  // of two vectors written interleaved; the last values of a call run one vector at a time.
  // Each element must come out with the same bits either way.
  const special = [0, -0, 1e-30, -1e-30, 0.7071067, -0.7071068, 0.70710677, -0.70710677, 0.5, -0.5, 1, -1, 3, -3,
    5.5, -5.5, 9.99, -9.99, 13, -13, 14.85, -14.85, 15, -15, 19.9, -20, -21, 40, -87, -120, Infinity, -Infinity, NaN];
  const n = 96; // 12 pairs of vectors
  const x = new Float32Array(n);
  x.set(special);
  x.set(randomArray(n - special.length, 77, -16, 16), special.length);
  const dy = upstream(n, 78);
  dy[5] = 0;
  dy[9] = -0;
  const out0 = randomArray(n, 79, -2, 2);
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
  type Slope = { gelu_forward_slope(x: number, y: number, d: number, n: number): void };

  /** Runs `call(xPtr, dyPtr, outPtr, count)` over all n values at once, then value by value. */
  function both(call: (px: number, pd: number, po: number, count: number) => void): { whole: Float32Array[]; one: Float32Array[] } {
    const run = (step: number) => withBufs([n, n, n], ([gx, gd, go]) => {
      gx!.set(x);
      gd!.set(dy);
      go!.set(out0);
      for (let i = 0; i < n; i += step) call(gx!.ptr + 4 * i, gd!.ptr + 4 * i, go!.ptr + 4 * i, Math.min(step, n - i));
      return [gd!.view().slice(), go!.view().slice()];
    });
    return { whole: run(n), one: run(1) };
  }

  it("forward with the slope, backward (accumulating or not), forward: the bits of one value at a time", () => {
    const slope = both((px, pd, po, c) => (k as unknown as Slope).gelu_forward_slope(px, po, pd, c));
    expect(bits(slope.whole[0]!), "slope").toEqual(bits(slope.one[0]!));
    expect(bits(slope.whole[1]!), "y beside the slope").toEqual(bits(slope.one[1]!));
    for (const acc of [0, 1]) {
      const back = both((px, pd, po, c) => k.gelu_backward(px, pd, po, c, acc));
      expect(bits(back.whole[1]!), `backward, accumulate ${acc}`).toEqual(bits(back.one[1]!));
    }
    const fwd = both((px, _pd, po, c) => k.gelu_forward(px, po, c));
    expect(bits(fwd.whole[1]!), "forward").toEqual(bits(fwd.one[1]!));
    // And the slope is the backward's factor: dy·slope is the backward's result.
    const byHand = Float32Array.from(dy, (d, i) => Math.fround(d * slope.whole[0]![i]!));
    const back0 = both((px, pd, po, c) => k.gelu_backward(px, pd, po, c, 0));
    expect(bits(back0.whole[1]!)).toEqual(bits(byHand));
  });

  it("sigmoid forward: the bits of one value at a time, in place too", () => {
    const xs = Float32Array.from(x, (v, i) => (i % 3 === 0 ? v * 9 : v)); // out to ±144: both clamps
    xs[40] = -130;
    xs[41] = 40;
    xs[42] = -87.5;
    const run = (step: number, inPlace: boolean) => withBufs([n, n], ([gx, gy]) => {
      gx!.set(xs);
      const dst = inPlace ? gx! : gy!;
      for (let i = 0; i < n; i += step) k.sigmoid_forward(gx!.ptr + 4 * i, dst.ptr + 4 * i, Math.min(step, n - i));
      return dst.view().slice();
    });
    const one = bits(run(1, false));
    expect(bits(run(n, false))).toEqual(one);
    expect(bits(run(n, true)), "in place").toEqual(one);
  });
});
