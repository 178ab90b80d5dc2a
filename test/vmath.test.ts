/**
 * Accuracy of the vector math of assembly/vmath.ts (through the vmath_map kernel) against
 * float64, over dense sweeps and special values, with the error bounds its doc comments state.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import { VMATH } from "../src/ops/activations.js";
import { guarded, kernels, runtime } from "./helpers.js";
import { F32_MAX, MIN_NORMAL, ULP, erf64, phi64, sigmoid64, softplus64 } from "./vmath-reference.js";

type Fn = keyof typeof VMATH;

/** The bounds stated in assembly/vmath.ts, in ulp (2^-23) relative, for normal results. */
const BOUND_ULP: Record<Fn, number> = { exp: 1, log: 2, softplus: 2, sigmoid: 2, tanh: 2, erf: 2, normalCdf: 4 };

const REF: Record<Fn, (x: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  softplus: softplus64,
  sigmoid: sigmoid64,
  tanh: Math.tanh,
  erf: erf64,
  normalCdf: phi64,
};

/** Sweeps per function: [lo, hi, points, geometric?]. Every function also gets [−20, 20]. */
const SWEEPS: Record<Fn, [number, number, number, boolean][]> = {
  exp: [[-104, 89, 1 << 18, false], [-1, 1, 1 << 16, false]],
  log: [[1e-45, F32_MAX, 1 << 18, true], [0.25, 4, 1 << 17, false], [1e-6, 20, 1 << 16, false]],
  softplus: [[-110, 110, 1 << 18, false]],
  sigmoid: [[-110, 40, 1 << 18, false]],
  tanh: [[-12, 12, 1 << 18, false], [-1, 1, 1 << 17, false]],
  erf: [[-7, 7, 1 << 18, false], [-1, 1, 1 << 17, false]],
  normalCdf: [[-15, 15, 1 << 18, false], [-2, 2, 1 << 17, false]],
};

const DENORMALS = [1e-45, 3e-45, 1e-42, 1e-40, 1e-39, 5.877471754111438e-39, MIN_NORMAL * 0.999, MIN_NORMAL];
const LARGE = [100, 1e3, 1e4, 1e10, 1e30, 1e38, F32_MAX];

function sweep(lo: number, hi: number, n: number, geometric: boolean): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0 : i / (n - 1);
    x[i] = geometric ? lo * Math.pow(hi / lo, t) : lo + (hi - lo) * t;
  }
  return x;
}

let sg: SimdGrad;
beforeAll(async () => {
  sg = await runtime();
});

/** Runs vmath_map on xs between guard bands; returns a copy of the results. */
function run(fn: Fn, xs: ArrayLike<number>): Float32Array {
  const gx = guarded(sg, xs.length);
  const gy = guarded(sg, xs.length);
  try {
    gx.set(xs);
    kernels(sg).vmath_map(VMATH[fn], gx.ptr, gy.ptr, xs.length);
    gx.check();
    gy.check();
    return gy.view().slice();
  } finally {
    gx.free();
    gy.free();
  }
}

interface Worst {
  ulp: number;
  at: number;
  got: number;
  want: number;
}

/**
 * The worst error of `got` against float64 `ref`, in ulp relative. Results in the
 * denormal range get one denormal step (2^-149, their final rounding) for free, then count
 * relative like the others; results beyond FLT_MAX must be ±Inf or within 4 ulp of
 * ±FLT_MAX (else Infinity).
 */
function worstError(fn: Fn, xs: Float32Array, got: Float32Array): Worst {
  const w: Worst = { ulp: 0, at: NaN, got: NaN, want: NaN };
  const ref = REF[fn];
  for (let i = 0; i < xs.length; i++) {
    const want = ref(xs[i]!);
    const g = got[i]!;
    let e: number;
    if (Number.isNaN(want)) e = Number.isNaN(g) ? 0 : Infinity;
    else if (Math.abs(want) > F32_MAX * (1 - 4 * ULP)) e = Math.abs(g) >= F32_MAX * (1 - 4 * ULP) && Math.sign(g) === Math.sign(want) ? 0 : Infinity;
    else if (want === 0) e = Math.abs(g) <= 2 ** -149 ? 0 : Infinity;
    else if (Math.abs(want) < MIN_NORMAL) e = Math.max(0, Math.abs(g - want) - 2 ** -149) / Math.abs(want) / ULP;
    else e = Math.abs(g - want) / Math.abs(want) / ULP;
    if (!(e <= w.ulp)) {
      w.ulp = e;
      w.at = xs[i]!;
      w.got = g;
      w.want = want;
      if (Number.isNaN(e)) break;
    }
  }
  return w;
}

describe("vmath: error bounds over dense sweeps", () => {
  for (const fn of Object.keys(VMATH) as Fn[]) {
    it(`${fn}: within ${BOUND_ULP[fn]} ulp of float64 on ${SWEEPS[fn].map(([a, b]) => `[${a.toPrecision(3)}, ${b.toPrecision(3)}]`).join(", ")} and [−20, 20]`, () => {
      const ranges = [...SWEEPS[fn], [-20, 20, 1 << 18, false] as [number, number, number, boolean]];
      for (const [lo, hi, n, geo] of ranges) {
        let xs = sweep(lo, hi, n, geo);
        if (fn === "log") xs = xs.filter((v) => v > 0);
        const got = run(fn, xs);
        const w = worstError(fn, xs, got);
        expect(w.ulp, `${fn} on [${lo}, ${hi}]: at x = ${w.at} got ${w.got}, want ${w.want}`).toBeLessThanOrEqual(BOUND_ULP[fn]);
      }
    });
  }

  it("every function: denormal, large and huge arguments within the bound", () => {
    for (const fn of Object.keys(VMATH) as Fn[]) {
      let xs = Float32Array.from([...DENORMALS, ...LARGE].flatMap((v) => [v, -v]));
      if (fn === "log") xs = xs.filter((v) => v > 0);
      const w = worstError(fn, xs, run(fn, xs));
      expect(w.ulp, `${fn}: at x = ${w.at} got ${w.got}, want ${w.want}`).toBeLessThanOrEqual(BOUND_ULP[fn]);
    }
  });

  it("the bound is tight enough to catch a wrong function (the check can fail)", () => {
    const xs = sweep(-3, 3, 1001, false);
    const got = run("tanh", xs);
    // tanh results checked as if they were erf: must fail by far.
    expect(worstError("erf", xs, got).ulp).toBeGreaterThan(1000);
  });
});

describe("vmath: special values", () => {
  const I = Infinity;
  // [x, exact expected value]; Object.is comparison, so signs of zeros count.
  const CASES: Record<Fn, [number, number][]> = {
    exp: [[0, 1], [-0, 1], [I, I], [-I, 0], [NaN, NaN], [1e3, I], [-1e3, 0], [1e30, I], [-1e30, 0], [89, I], [-104, 0], [1e-45, 1], [-1e-45, 1]],
    log: [[1, 0], [0, -I], [-0, -I], [I, I], [-I, NaN], [NaN, NaN], [-1, NaN], [-1e-45, NaN], [-1e30, NaN]],
    softplus: [[I, I], [-I, 0], [NaN, NaN], [1e30, 1e30], [-1e30, 0], [1e3, 1e3], [-1e3, 0], [100, 100]],
    sigmoid: [[0, 0.5], [-0, 0.5], [I, 1], [-I, 0], [NaN, NaN], [1e30, 1], [-1e30, 0], [1e3, 1], [-1e3, 0], [20, 1]],
    tanh: [[0, 0], [-0, -0], [I, 1], [-I, -1], [NaN, NaN], [1e30, 1], [-1e30, -1], [10, 1], [-10, -1], [1e-45, 1e-45], [-1e-40, -1e-40]],
    erf: [[0, 0], [-0, -0], [I, 1], [-I, -1], [NaN, NaN], [1e30, 1], [-1e30, -1], [4, 1], [-4, -1]],
    normalCdf: [[0, 0.5], [-0, 0.5], [I, 1], [-I, 0], [NaN, NaN], [1e30, 1], [-1e30, 0], [40, 1], [-40, 0]],
  };
  for (const fn of Object.keys(CASES) as Fn[]) {
    it(`${fn}: ±0, ±Inf, NaN, saturation`, () => {
      const cases = CASES[fn];
      const got = run(fn, cases.map(([x]) => x));
      cases.forEach(([x, want], i) => {
        const g = Math.fround(got[i]!);
        expect(Object.is(g, Math.fround(want)), `${fn}(${Object.is(x, -0) ? "-0" : x}) = ${Object.is(g, -0) ? "-0" : g}, want ${Object.is(want, -0) ? "-0" : want}`).toBe(true);
      });
    });
  }

  it("results do not depend on the lane: every tail length gives the same values", () => {
    const xs = Float32Array.from([-3.5, -0.7, 0.3, 1.9, 7.25, -12, 0.01]);
    for (const fn of Object.keys(VMATH) as Fn[]) {
      const src = fn === "log" ? xs.map(Math.abs) : xs;
      const full = run(fn, src);
      for (let n = 0; n <= src.length; n++) {
        expect(Array.from(run(fn, src.subarray(0, n))), `${fn} n=${n}`).toEqual(Array.from(full.subarray(0, n)));
      }
    }
  });
});
