/**
 * Test utilities of the elementwise, reduction, loss and optimizer-kernel tests: the size
 * sweep, tolerance checks with a bound per element, and a numeric gradient check that runs
 * an OpDef's forward and backward kernels on guarded buffers.
 */
import { expect } from "vitest";
import type { SimdGrad } from "../src/index.js";
import type { Buf, OpDef } from "../src/ops/op.js";
import type { Shape } from "../src/runtime/shape.js";
import { type Guarded, guarded, kernels, randomArray } from "./helpers.js";

/** Unit roundoff of float32. */
export const U32 = 2 ** -24;

/** 0, 1–3, 4, 5–7, 8, 9–17, multiples of the 16-float step plus tails, large odd sizes. */
export const SIZES: number[] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 127, 128, 131, 1021, 1024,
  1031, 4099, 65537,
];

/** Row × column pairs for broadcast and row/column kernels. */
export const ROWS_COLS: [number, number][] = [];
for (const r of [0, 1, 2, 3, 5, 8, 17]) {
  for (const c of [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 19, 20, 33, 64, 67]) ROWS_COLS.push([r, c]);
}
ROWS_COLS.push([64, 256], [129, 10], [1000, 3], [3, 1000], [257, 131], [2048, 1]);

/**
 * Asserts |got[i] − want[i]| ≤ bound[i] for every i, reporting the worst element.
 * NaN in got where want is finite fails.
 */
export function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number> | number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < want.length; i++) {
    const b = typeof bound === "number" ? bound : bound[i]!;
    const w = want[i]!;
    const g = got[i]!;
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (w === g) continue;
    const err = Math.abs(g - w);
    const ratio = err / Math.max(b, Number.MIN_VALUE);
    if (!(err <= b) && (worst < 0 || !(ratio <= worstRatio))) {
      worst = i;
      worstRatio = ratio;
      if (Number.isNaN(ratio)) break;
    }
  }
  if (worst >= 0) {
    const b = typeof bound === "number" ? bound : bound[worst]!;
    throw new Error(`${what}: element ${worst} of ${want.length} is ${got[worst]}, expected ${want[worst]} (allowed error ${b})`);
  }
}

/** A guarded buffer holding `values`. */
export function gbuf(sg: SimdGrad, values: ArrayLike<number>): Guarded {
  const g = guarded(sg, values.length);
  g.set(values);
  return g;
}

/** A Buf over a guarded buffer, shaped `shape`. */
export function asBuf(g: Guarded, shape: Shape): Buf {
  return { ptr: g.ptr, shape, size: g.n };
}

function sizeOf(s: Shape): number {
  return s.reduce((a, b) => a * b, 1);
}

export interface GradCase<A> {
  op: OpDef<A>;
  attrs: A;
  /** Input values and shapes. */
  inputs: { shape: Shape; values: ArrayLike<number> }[];
  /** Which inputs to check (default: all). */
  wrt?: number[];
  /** Step of the central difference. */
  h?: number;
  rtol?: number;
  atol?: number;
  seed?: number;
}

/**
 * Checks op.backward against (f(x + h) − f(x − h)) / 2h where f(x) = Σ dy·op(x), with a
 * non-unit random upstream gradient dy. The gradients start from random values, so the
 * check also proves that backward adds instead of overwriting, and that inputs whose
 * gradient is not wanted (null) are left alone.
 */
export function checkGrad<A>(sg: SimdGrad, c: GradCase<A>, what: string): void {
  const k = kernels(sg);
  const shapes = c.inputs.map((i) => i.shape);
  const yShape = c.op.shape(shapes, c.attrs);
  const ySize = sizeOf(yShape);
  const xs = c.inputs.map((i) => gbuf(sg, Float32Array.from(i.values)));
  const xb = xs.map((g, i) => asBuf(g, shapes[i]!));
  const y = guarded(sg, ySize);
  const yb = asBuf(y, yShape);
  const savedShapes = c.op.saved?.(shapes, c.attrs) ?? [];
  const saved = savedShapes.map((s) => guarded(sg, sizeOf(s)));
  const scratchBytes = c.op.scratchBytes?.(shapes, c.attrs) ?? 0;
  const scratch = scratchBytes > 0 ? guarded(sg, Math.ceil(scratchBytes / 4)) : null;
  const env = { saved: saved.map((g, i) => asBuf(g, savedShapes[i]!)), scratch: scratch?.ptr ?? 0 };
  const seed = c.seed ?? 7;
  // Upstream gradient: magnitudes in [0.5, 2), both signs.
  const dyv = randomArray(ySize, seed + 1, 0.5, 2).map((v, i) => (i % 3 === 1 ? -v : v));
  const dy = gbuf(sg, dyv);
  const wrt = c.wrt ?? c.inputs.map((_, i) => i);
  const prefill = c.inputs.map((inp, i) => randomArray(inp.values.length, seed + 10 + i, -1, 1));
  const dxs = c.inputs.map((_, i) => (wrt.includes(i) ? gbuf(sg, prefill[i]!) : null));

  const fwd = (): number => {
    c.op.forward(k, xb, yb, c.attrs, env);
    const yv = y.view();
    let s = 0;
    for (let i = 0; i < ySize; i++) s += dyv[i]! * yv[i]!;
    return s;
  };
  fwd();
  c.op.backward!(k, xb, yb, asBuf(dy, yShape), dxs.map((g, i) => (g ? asBuf(g, shapes[i]!) : null)), c.attrs, env);
  const h = c.h ?? 1e-2;
  const rtol = c.rtol ?? 2e-3;
  const atol = c.atol ?? 2e-3;
  for (const i of wrt) {
    const got = Float64Array.from(dxs[i]!.view(), (v, j) => v - prefill[i]![j]!);
    const num = new Float64Array(got.length);
    for (let j = 0; j < got.length; j++) {
      const x = xs[i]!.view();
      const x0 = x[j]!;
      x[j] = x0 + h;
      const hi = Math.fround(x0 + h) - x0;
      const fp = fwd();
      x[j] = x0 - h;
      const lo = x0 - Math.fround(x0 - h);
      const fm = fwd();
      x[j] = x0;
      num[j] = (fp - fm) / (hi + lo);
    }
    const bound = Array.from(num, (v) => atol + rtol * Math.abs(v));
    expectWithin(got, num, bound, `${what}: gradient of input ${i}`);
    dxs[i]!.check();
  }
  for (const g of [...xs, y, dy, ...saved]) g.check();
  scratch?.check();
  for (const g of [...xs, y, dy, ...saved, ...dxs, scratch]) g?.free();
}

/** Runs `f`, expects it to throw an Error whose message contains every fragment. */
export function expectError(f: () => unknown, ...fragments: string[]): void {
  let msg: string | null = null;
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    msg = (e as Error).message;
  }
  expect(msg, "expected an error").not.toBeNull();
  for (const fr of fragments) expect(msg).toContain(fr);
}
