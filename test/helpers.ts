/**
 * Shared test helpers: a runtime on the build under test, guarded buffers, float64
 * references and comparison.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { type Graph, init, type Node, type SimdGrad } from "../src/index.js";
import type { Kernels } from "../src/runtime/kernels.js";

/** Which build this vitest project tests: "simd" or "relaxed". */
export const BUILD = (process.env.SIMDGRAD_BUILD ?? "simd") as "simd" | "relaxed";

let shared: Promise<SimdGrad> | null = null;

/** One runtime per test file on the build under test (asserts it really is that build). */
export function runtime(): Promise<SimdGrad> {
  shared ??= init({ relaxedSimd: BUILD === "relaxed" }).then((sg) => {
    expect(sg.features.build).toBe(BUILD);
    return sg;
  });
  return shared;
}

/**
 * Runtimes of 1, 2 and 3 threads on the build under test, opened before the calling file's
 * tests and closed after them (the tests comparing threads with one thread read it).
 */
export function threadRuntimes(): Record<number, SimdGrad> {
  const runtimes: Record<number, SimdGrad> = {};
  beforeAll(async () => {
    for (const t of [1, 2, 3]) runtimes[t] = await init({ threads: t, relaxedSimd: BUILD === "relaxed" });
  });
  afterAll(async () => {
    for (const sg of Object.values(runtimes)) await sg.close();
  });
  return runtimes;
}

/**
 * Asserts two float arrays are equal bit for bit (NaN payloads and the sign of zero
 * included), naming the first element that differs and `what`.
 */
export function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/**
 * Trains the graph `make` builds on each of `runtimes` (1, 2 and 3 threads) for `steps` SGD
 * steps and asserts that 2 and 3 threads give one thread's losses and parameters bit for bit;
 * returns one thread's losses (a test checks they moved).
 */
export function expectSameTraining(
  runtimes: Record<number, SimdGrad>,
  make: (sg: SimdGrad) => { g: Graph; loss: Node; feeds: Record<string, ArrayLike<number>>; lr?: number },
  steps = 3,
): number[] {
  const run = (sg: SimdGrad) => {
    const { g, loss, feeds, lr } = make(sg);
    const opt = sg.sgd(g.params, { lr: lr ?? 0.05 });
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      opt.zeroGrad();
      g.forward(feeds);
      losses.push(loss.value.toArray()[0]!);
      g.backward(loss);
      opt.step();
    }
    const params = g.params.map((p) => p.value.toArray());
    opt.dispose();
    g.dispose();
    return { losses, params };
  };
  const one = run(runtimes[1]!);
  for (const t of [2, 3]) {
    const r = run(runtimes[t]!);
    expect(r.losses, `losses, ${t} threads`).toEqual(one.losses);
    r.params.forEach((p, i) => expectSameBits(p, one.params[i]!, `param ${i}, ${t} threads`));
  }
  return one.losses;
}

/** The raw kernels of a runtime (tests of assembly/ call them directly). */
export function kernels(sg: SimdGrad): Kernels {
  return sg.rt.kernels;
}

/**
 * One GEMM product for the kernel tests (test/gemm.test.ts, test/gemm-tile.test.ts):
 * C = α·op(A)·op(B) + β·C with op(A) m × k and op(B) k × n, transposes tA and tB.
 */
export interface GemmCase {
  tA: boolean;
  tB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  /** Extra floats at the end of each stored row of A, B, C. */
  pad: [number, number, number];
}

/**
 * A float32 buffer of `n` values in linear memory with `guard` NaN-filled values before
 * and after it. `check()` asserts that the guards are still NaN (no kernel wrote outside).
 */
export interface Guarded {
  ptr: number;
  n: number;
  /** A fresh view of the n values (re-derived, safe after memory growth). */
  view(): Float32Array;
  set(values: ArrayLike<number>): void;
  check(): void;
  free(): void;
}

export function guarded(sg: SimdGrad, n: number, guard = 16): Guarded {
  const arena = sg.rt.arena;
  const base = arena.alloc((n + 2 * guard) * 4, "test");
  const ptr = base + guard * 4;
  const mem = () => new Float32Array(sg.rt.memory.buffer);
  const all = mem();
  all.fill(NaN, base / 4, base / 4 + n + 2 * guard);
  return {
    ptr,
    n,
    view: () => new Float32Array(sg.rt.memory.buffer, ptr, n),
    set(values) {
      new Float32Array(sg.rt.memory.buffer, ptr, n).set(values);
    },
    check() {
      const m = mem();
      for (let i = 0; i < guard; i++) {
        if (!Number.isNaN(m[base / 4 + i]!)) throw new Error(`guard band before the buffer was written at -${guard - i}`);
        if (!Number.isNaN(m[ptr / 4 + n + i]!)) throw new Error(`guard band after the buffer was written at +${i}`);
      }
    },
    free: () => arena.release(base),
  };
}

/** Deterministic pseudo-random values in [lo, hi). */
export function randomArray(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

/**
 * Asserts |got − want| ≤ atol + rtol·|want| element-wise, reporting the worst index.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what = ""): void {
  expect(got.length, `${what} length`).toBe(want.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const err = Math.abs(g - w);
    const excess = err - (atol + rtol * Math.abs(w));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
      if (Number.isNaN(excess)) break;
    }
  }
  if (worst >= 0) {
    throw new Error(`${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}
