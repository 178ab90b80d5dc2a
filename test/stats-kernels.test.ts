/**
 * The gradient-health kernels (assembly/stats.ts) and the tracked optimizer steps
 * (assembly/optim.ts) against float64 references, over a sweep of sizes, with every output
 * and every input between NaN guard bands.
 */
import { describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import "../src/graph/stats.js";
import { type Guarded, guarded, kernels, randomArray, runtime } from "./helpers.js";

/** 0, 1–3, 4, 5–7, 8, 9–17, the 16-float step and the 1024-value run plus tails, large odd sizes. */
const SIZES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 32, 33, 64, 65, 1023, 1024, 1025, 2048 + 13, 4099, 65537];

/** Float32 unit roundoff. */
const U = 2 ** -24;

function buf(sg: SimdGrad, values: ArrayLike<number>): Guarded {
  const g = guarded(sg, values.length);
  g.set(values);
  return g;
}

/** Values spanning magnitudes 1e-3..1e3 with both signs (so sums of squares are not dominated by one scale). */
function spread(n: number, seed: number): Float32Array {
  const a = randomArray(n, seed, -1, 1);
  const e = randomArray(n, seed + 7, -3, 3);
  for (let i = 0; i < n; i++) a[i] = Math.fround(a[i]! * 10 ** e[i]!);
  return a;
}

function sumsq64(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return s;
}

function maxabs64(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

const REC = 5;

/** f64 view of `count` five-f64 records stored in a guarded f32 buffer. */
function records(sg: SimdGrad, r: Guarded, count: number): Float64Array {
  return new Float64Array(sg.rt.memory.buffer, r.ptr, count * REC);
}

/** A grad_stats table over guarded buffers: returns the table buffer (two i32 per entry). */
function table(sg: SimdGrad, bufs: Guarded[]): Guarded {
  const t = guarded(sg, Math.max(1, bufs.length * 2));
  const v = new Int32Array(sg.rt.memory.buffer, t.ptr, bufs.length * 2);
  bufs.forEach((b, i) => {
    v[2 * i] = b.ptr;
    v[2 * i + 1] = b.n;
  });
  return t;
}

describe("grad_stats", () => {
  it("Σg², max |g| and the previous Σg² of many buffers in one call (sizes 0..65537)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const data = SIZES.map((n, i) => spread(n, 10 + i));
    const bufs = data.map((d) => buf(sg, d));
    const t = table(sg, bufs);
    const r = guarded(sg, SIZES.length * 2 * REC);
    const rec = () => records(sg, r, SIZES.length);
    rec().fill(0);
    for (let i = 0; i < SIZES.length; i++) rec()[REC * i] = -1;
    for (let i = 0; i < SIZES.length; i++) rec()[REC * i + 4] = 1234.5; // must stay
    expect(k.grad_stats(t.ptr, SIZES.length, r.ptr, Infinity)).toBe(0);
    for (let i = 0; i < SIZES.length; i++) {
      const want = sumsq64(data[i]!);
      // f32 lanes over runs of 1024, runs in f64: each partial sum of ≤ 64 squares.
      const tol = 70 * U * want;
      expect(Math.abs(rec()[REC * i]! - want), `Σg² n=${SIZES[i]}`).toBeLessThanOrEqual(tol);
      expect(rec()[REC * i + 1], `max|g| n=${SIZES[i]}`).toBe(maxabs64(data[i]!));
      expect(rec()[REC * i + 2], `previous n=${SIZES[i]}`).toBe(-1);
      expect(rec()[REC * i + 3], `flag n=${SIZES[i]}`).toBe(0);
      expect(rec()[REC * i + 4]).toBe(1234.5);
    }
    // The second call moves Σg² to "previous".
    const first = Array.from({ length: SIZES.length }, (_, i) => rec()[REC * i]!);
    k.grad_stats(t.ptr, SIZES.length, r.ptr, Infinity);
    for (let i = 0; i < SIZES.length; i++) expect(rec()[REC * i + 2]).toBe(first[i]);
    bufs.forEach((b, i) => {
      b.check();
      expect(Array.from(b.view())).toEqual(Array.from(data[i]!)); // read only
      b.free();
    });
    t.check(), r.check(), t.free(), r.free();
  });

  it("flags NaN and ±Inf wherever they are (vector body, 16-step body, scalar tail)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of [1, 3, 4, 7, 16, 17, 1025, 4099]) {
      for (const pos of [0, n - 1, n >> 1]) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const d = randomArray(n, n + pos, -1, 1);
          d[pos] = bad;
          const b = buf(sg, d);
          const ok = buf(sg, randomArray(5, 3));
          const t = table(sg, [ok, b]);
          const r = guarded(sg, 4 * REC);
          const rec = records(sg, r, 2);
          rec.fill(0);
          expect(k.grad_stats(t.ptr, 2, r.ptr, Infinity), `n=${n} at ${pos}: ${bad}`).toBe(1);
          const v = records(sg, r, 2);
          expect(v[3]).toBe(0);
          expect(v[REC + 3], `flag n=${n} at ${pos}`).toBe(1);
          expect(Number.isFinite(v[REC]!)).toBe(false); // Σg²
          expect(v[REC + 1]).toBe(Math.abs(bad)); // NaN propagates through the max; |±Inf| = Inf
          for (const x of [b, ok, t, r]) x.check(), x.free();
        }
      }
    }
  });

  it("flags a sum of squares that overflows float32 (|g| ≥ 1.8e19) though every value is finite", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const b = buf(sg, [1, 2e20, 3, 4, 5]);
    const t = table(sg, [b]);
    const r = guarded(sg, 2 * REC);
    records(sg, r, 1).fill(0);
    expect(k.grad_stats(t.ptr, 1, r.ptr, Infinity)).toBe(1);
    const v = records(sg, r, 1);
    expect([v[0], v[1], v[3]]).toEqual([Infinity, Math.fround(2e20), 1]);
    for (const x of [b, t, r]) x.check(), x.free();
  });

  it("flags growth above the factor from one call to the next, and never on the first call", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const n = 37;
    const d = randomArray(n, 5);
    const b = buf(sg, d);
    const t = table(sg, [b]);
    const r = guarded(sg, 2 * REC);
    const rec = () => records(sg, r, 1);
    rec().fill(0);
    rec()[0] = -1;
    expect(k.grad_stats(t.ptr, 1, r.ptr, 10)).toBe(0);
    b.set(d.map((x) => x * 9.9)); // grew 9.9×: below 10
    expect(k.grad_stats(t.ptr, 1, r.ptr, 10)).toBe(0);
    b.set(d.map((x) => x * 9.9 * 10.1)); // grew 10.1×
    expect(k.grad_stats(t.ptr, 1, r.ptr, 10)).toBe(1);
    expect(rec()[3]).toBe(2);
    expect(Math.sqrt(rec()[0]! / rec()[2]!)).toBeCloseTo(10.1, 4);
    expect(k.grad_stats(t.ptr, 1, r.ptr, 10)).toBe(0); // no further growth
    b.set(new Float32Array(n)); // to zero, then anything: previous 0 is never a growth
    k.grad_stats(t.ptr, 1, r.ptr, 10);
    b.set(d);
    expect(k.grad_stats(t.ptr, 1, r.ptr, 10)).toBe(0);
    b.set(d.map((x) => x * 1e6));
    expect(k.grad_stats(t.ptr, 1, r.ptr, Infinity)).toBe(0); // growth Inf: off
    for (const x of [b, t, r]) x.check(), x.free();
  });

  it("values below 2⁻⁶² (whose squares would be subnormal) add 0 to Σg²; the max still sees them", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const lim = 2 ** -62;
    for (const n of [3, 16, 37, 4099]) {
      const d = new Float32Array(n).fill(1e-20);
      d[n - 1] = -lim; // exactly 2⁻⁶²: counted
      if (n > 3) d[1] = Math.fround(lim * (1 - 2 ** -23)); // just below: not counted
      const b = buf(sg, d);
      const t = table(sg, [b]);
      const r = guarded(sg, 2 * REC);
      records(sg, r, 1).fill(0);
      k.grad_stats(t.ptr, 1, r.ptr, Infinity);
      const v = records(sg, r, 1);
      expect(v[0], `n=${n}`).toBe(lim * lim);
      expect(v[1]).toBe(lim);
      for (const x of [b, t, r]) x.check(), x.free();
    }
  });

  it("a count of 0 touches nothing", async () => {
    const sg = await runtime();
    const r = guarded(sg, 2 * REC);
    expect(kernels(sg).grad_stats(r.ptr, 0, r.ptr, 2)).toBe(0);
    expect(Array.from(r.view()).every(Number.isNaN)).toBe(true);
    r.check(), r.free();
  });
});

describe("sum_squares, max_abs, clip_values", () => {
  it("sum_squares and max_abs vs float64 over the size sweep; NaN propagates", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const s = guarded(sg, 4);
    for (const n of SIZES) {
      const d = spread(n, n + 99);
      const b = buf(sg, d);
      const want = sumsq64(d);
      expect(Math.abs(k.sum_squares(b.ptr, n, s.ptr) - want), `n=${n}`).toBeLessThanOrEqual(70 * U * want);
      expect(k.max_abs(b.ptr, n, s.ptr)).toBe(maxabs64(d));
      if (n > 0) {
        const v = b.view();
        v[n - 1] = NaN;
        expect(k.sum_squares(b.ptr, n, s.ptr)).toBeNaN();
        expect(k.max_abs(b.ptr, n, s.ptr)).toBeNaN();
        v[n - 1] = -Infinity;
        expect(k.max_abs(b.ptr, n, s.ptr)).toBe(Infinity);
      }
      b.check(), b.free();
    }
    s.check(), s.free();
  });

  it("clip_values clamps into [lo, hi] in place; NaN stays NaN, ±Inf clamps", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      const d = randomArray(n, n + 3, -3, 3);
      if (n > 2) d[1] = NaN, d[n - 1] = Infinity, d[0] = -Infinity;
      const b = buf(sg, d);
      k.clip_values(b.ptr, n, -0.5, 1.25);
      const got = b.view();
      for (let i = 0; i < n; i++) {
        const x = d[i]!;
        if (Number.isNaN(x)) expect(got[i], `n=${n} i=${i}`).toBeNaN();
        else expect(got[i], `n=${n} i=${i}`).toBe(Math.min(Math.max(x, -0.5), 1.25));
      }
      b.check(), b.free();
    }
  });
});

describe("flat_stats", () => {
  const codes = { step: 1, sigmoid: 2, tanh: 3, hardTanh: 4, relu: 5 } as const;
  const f = Math.fround;
  const isFlat: Record<keyof typeof codes, (y: number) => boolean> = {
    step: () => true,
    sigmoid: (y) => y <= f(0.01) || y >= f(0.99),
    tanh: (y) => Math.abs(y) >= f(0.99),
    hardTanh: (y) => Math.abs(y) >= 1,
    relu: (y) => y === 0,
  };
  /** Values near every threshold (both sides), exact bounds, zeros of both signs and NaN. */
  const probes = [0, -0, 1, -1, 0.5, -0.5, f(0.01), 0.0100001, 0.0099999, f(0.99), 0.9899999, 0.9900001, -f(0.99), -0.98999, 1.0000001, -1.5, 2, 1e-30, -1e-30, NaN, 0.3, 0.7];

  function reference(act: keyof typeof codes, y: Float32Array, rows: number, cols: number): [number, number] {
    let flat = 0;
    let units = 0;
    for (let c = 0; c < cols; c++) {
      let all = true;
      for (let r = 0; r < rows; r++) {
        if (isFlat[act](y[r * cols + c]!)) flat++;
        else all = false;
      }
      if (all && rows > 0) units++;
    }
    return [flat, units];
  }

  for (const act of Object.keys(codes) as (keyof typeof codes)[]) {
    it(`${act}: flat values and all-flat units over rows × cols (every column tail)`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const out = guarded(sg, 4);
      for (const rows of [0, 1, 2, 3, 5, 64]) {
        for (const cols of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33, 256, 257]) {
          const n = rows * cols;
          const y = new Float32Array(n);
          const pick = randomArray(n, rows * 1000 + cols, 0, probes.length);
          for (let i = 0; i < n; i++) y[i] = probes[Math.floor(pick[i]!)]!;
          // Make a few columns flat in every row, so the unit count is not always 0.
          for (let c = 0; c < cols; c += 3) for (let r = 0; r < rows; r++) y[r * cols + c] = act === "relu" ? 0 : act === "sigmoid" ? (r % 2 ? 0.995 : 0.001) : -1;
          const b = buf(sg, y);
          k.flat_stats(codes[act], b.ptr, rows, cols, out.ptr);
          const got = new Float64Array(sg.rt.memory.buffer, out.ptr, 2);
          const [flat, units] = reference(act, y, rows, cols);
          expect(got[0], `${act} flat ${rows}×${cols}`).toBe(flat);
          expect(got[1], `${act} units ${rows}×${cols}`).toBe(units);
          b.check(), b.free();
        }
      }
      out.check(), out.free();
    });
  }

  it("a code without a flat region counts nothing", async () => {
    const sg = await runtime();
    const out = guarded(sg, 4);
    const b = buf(sg, [0, 0, 0, 0, 0]);
    kernels(sg).flat_stats(6, b.ptr, 1, 5, out.ptr);
    expect(Array.from(new Float64Array(sg.rt.memory.buffer, out.ptr, 2))).toEqual([0, 0]);
    b.check(), b.free(), out.check(), out.free();
  });
});

describe("tracked optimizer steps", () => {
  /** Runs the untracked and the tracked kernel on copies; the updates must be bitwise equal. */
  async function compare(name: string, run: (tracked: boolean, w: number, g: number, s1: number, s2: number, n: number, out: number) => void) {
    const sg = await runtime();
    for (const n of SIZES) {
      const w0 = randomArray(n, n + 11, -1, 1);
      const g0 = randomArray(n, n + 12, -0.5, 0.5);
      const st1 = randomArray(n, n + 13, 0, 0.1);
      const st2 = randomArray(n, n + 14, 0, 0.1);
      const a = [buf(sg, w0), buf(sg, g0), buf(sg, st1), buf(sg, st2)];
      const b = [buf(sg, w0), buf(sg, g0), buf(sg, st1), buf(sg, st2)];
      const out = guarded(sg, 4);
      run(false, a[0]!.ptr, a[1]!.ptr, a[2]!.ptr, a[3]!.ptr, n, 0);
      run(true, b[0]!.ptr, b[1]!.ptr, b[2]!.ptr, b[3]!.ptr, n, out.ptr);
      for (let j = 0; j < 4; j++) expect(Array.from(b[j]!.view()), `${name} n=${n} buffer ${j}`).toEqual(Array.from(a[j]!.view()));
      const w1 = b[0]!.view();
      let dw2 = 0;
      for (let i = 0; i < n; i++) dw2 += (w1[i]! - w0[i]!) ** 2;
      const got = new Float64Array(sg.rt.memory.buffer, out.ptr, 1);
      expect(Math.abs(got[0]! - dw2), `${name} Σ Δw² n=${n}`).toBeLessThanOrEqual(70 * U * dw2 + 1e-30);
      expect(Array.from(out.view().subarray(2)).every(Number.isNaN)).toBe(true); // one f64 written
      for (const x of [...a, ...b, out]) x.check(), x.free();
    }
  }

  it("sgd_step_tracked: the same update as sgd_step, and Σ Δw² of it (momentum and plain)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const [mu, wd] of [[0, 0], [0.9, 0.01], [0, 0.1]] as const) {
      await compare(`sgd μ=${mu} λ=${wd}`, (tr, w, g, v, _s, n, out) =>
        tr ? k.sgd_step_tracked(w, g, v, n, 0.05, mu, wd, out) : k.sgd_step(w, g, v, n, 0.05, mu, wd));
    }
  });

  it("adam_step_tracked and adamw_step_tracked: the same update, and Σ Δw² of it", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const args = [0.01, 0.9, 0.999, 1e-8, 1 - 0.9 ** 3, 1 - 0.999 ** 3, 0.02] as const;
    await compare("adam", (tr, w, g, m, v, n, out) => (tr ? k.adam_step_tracked(w, g, m, v, n, ...args, out) : k.adam_step(w, g, m, v, n, ...args)));
    await compare("adamw", (tr, w, g, m, v, n, out) => (tr ? k.adamw_step_tracked(w, g, m, v, n, ...args, out) : k.adamw_step(w, g, m, v, n, ...args)));
  });
});
