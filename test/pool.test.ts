/**
 * maxPool2d and avgPool2d: kernels against float64 loops over a sweep of shapes inside NaN
 * guard bands (max is exact; a mean's tolerance is (window + 2)·2⁻²³ relative to Σ|x|), the
 * max-tie rule (the first maximum in row-major window order takes the whole gradient),
 * gradcheck, bad input.
 */
import { describe, expect, it } from "vitest";
import { type PoolGeo, pool, poolGeo } from "./conv-reference.js";
import { guarded, kernels, randomArray, runtime } from "./helpers.js";

const U = 2 ** -23;
const pack = (a: number, b: number) => (a | (b << 16)) >>> 0;

type P = "valid" | "same" | number;

/** The pooling kernels' geometry arguments after x and y (and dy, dx): N, H, W, C, HO, WO and the packed window, stride, padding. */
const kernelArgs = (g: PoolGeo) => [g.n, g.h, g.w, g.c, g.ho, g.wo, pack(g.kh, g.kw), pack(g.sh, g.sw), pack(g.pt, g.pl)] as const;

/** A case's runtime, kernels, geometry and the sizes of x and y. */
async function poolCase(xs: number[], size: number | [number, number], stride: number | [number, number] | undefined, pad: P) {
  const sg = await runtime();
  const g = poolGeo(xs, size, stride, pad);
  return { sg, k: kernels(sg), g, xn: g.n * g.h * g.w * g.c, yn: g.n * g.ho * g.wo * g.c };
}

/** Output (oy, ox)'s window inside x: rows [ya, yb), columns [xa, xb). */
function windowOf(g: PoolGeo, oy: number, ox: number): [number, number, number, number] {
  return [Math.max(oy * g.sh - g.pt, 0), Math.min(oy * g.sh - g.pt + g.kh, g.h), Math.max(ox * g.sw - g.pl, 0), Math.min(ox * g.sw - g.pl + g.kw, g.w)];
}
const CASES: [number[], number | [number, number], (number | [number, number]) | undefined, P][] = [
  [[1, 1, 1, 1], 1, undefined, "valid"],
  [[1, 4, 4, 1], 2, undefined, "valid"],
  [[2, 5, 7, 3], 2, undefined, "valid"], // odd sizes: the last row and column are dropped
  [[2, 5, 7, 3], 2, undefined, "same"], // … or padded
  [[1, 7, 7, 5], 3, 2, "same"], // overlapping windows
  [[3, 6, 9, 9], [2, 3], [1, 2], "valid"],
  [[1, 8, 8, 16], 3, 1, 1],
  [[2, 28, 28, 16], 2, undefined, "valid"],
  [[1, 9, 10, 4], 3, 3, "same"],
  [[1, 7, 6, 23], 3, 2, "same"], // channels in runs of 16, 4 and a last 3
  [[2, 6, 6, 36], 2, undefined, "valid"],
  [[1, 6, 6, 0], 2, undefined, "valid"],
  [[0, 6, 6, 4], 2, undefined, "valid"],
];

function run(g: PoolGeo, pad: P, xs: number[]) {
  return { g, pad, xs };
}

describe("pooling kernels against float64 loops", () => {
  for (const [xs, size, stride, pad] of CASES) {
    it(`x [${xs}] size ${JSON.stringify(size)} stride ${JSON.stringify(stride)} padding ${JSON.stringify(pad)}`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const g = poolGeo(xs, size, stride, pad);
      void run;
      const xn = g.n * g.h * g.w * g.c;
      const yn = g.n * g.ho * g.wo * g.c;
      const xv = randomArray(xn, 7 + xn);
      const dyv = randomArray(yn, 9 + yn);
      const ref = pool(g, xv, dyv);
      const X = guarded(sg, xn);
      const Y = guarded(sg, yn);
      const DY = guarded(sg, yn);
      const DX = guarded(sg, xn);
      const a = kernelArgs(g);
      try {
        X.set(xv);
        DY.set(dyv);
        k.maxpool2d_forward(X.ptr, Y.ptr, ...a);
        expect(Array.from(Y.view())).toEqual(Array.from(ref.max, Math.fround));
        Y.check();
        DX.set(new Float32Array(xn).fill(NaN));
        k.maxpool2d_backward(X.ptr, Y.ptr, DY.ptr, DX.ptr, ...a, 0);
        const tolMax = (i: number) => 4 * U * Math.abs(ref.dxMax[i]!) * 9;
        const dmx = DX.view();
        for (let i = 0; i < xn; i++) if (!(Math.abs(dmx[i]! - ref.dxMax[i]!) <= tolMax(i))) throw new Error(`max backward ${i}: ${dmx[i]} vs ${ref.dxMax[i]}`);
        const base = randomArray(xn, 4);
        DX.set(base);
        k.maxpool2d_backward(X.ptr, Y.ptr, DY.ptr, DX.ptr, ...a, 1);
        const dma = DX.view();
        for (let i = 0; i < xn; i++) {
          const w = ref.dxMax[i]! + base[i]!;
          if (!(Math.abs(dma[i]! - w) <= 8 * U * (Math.abs(ref.dxMax[i]!) * 9 + Math.abs(base[i]!)))) throw new Error(`max backward accumulated ${i}: ${dma[i]} vs ${w}`);
        }
        DX.check();

        k.avgpool2d_forward(X.ptr, Y.ptr, ...a);
        const y = Y.view();
        for (let i = 0; i < yn; i++) {
          const tol = (g.kh * g.kw + 2) * U * 2 * Math.max(Math.abs(ref.avg[i]!), 1);
          if (!(Math.abs(y[i]! - ref.avg[i]!) <= tol)) throw new Error(`avg forward ${i}: ${y[i]} vs ${ref.avg[i]}`);
        }
        Y.check();
        DX.set(new Float32Array(xn).fill(NaN));
        k.avgpool2d_backward(DY.ptr, DX.ptr, ...a, 0);
        const dav = DX.view();
        for (let i = 0; i < xn; i++) {
          if (!(Math.abs(dav[i]! - ref.dxAvg[i]!) <= 16 * U * Math.max(1, Math.abs(ref.dxAvg[i]!)) * 4)) throw new Error(`avg backward ${i}: ${dav[i]} vs ${ref.dxAvg[i]}`);
        }
        DX.check();
        expect(Array.from(X.view())).toEqual(Array.from(xv));
      } finally {
        for (const b of [X, Y, DY, DX]) b.free();
      }
    });
  }
});

describe("pooling ops", () => {
  it("max: ties send the whole gradient to the first maximum in row-major order; NaN propagates forward and takes no gradient", async () => {
    const sg = await runtime();
    // one image, 4 × 4, two channels; 2 × 2 windows
    const xv = new Float32Array(32);
    // channel 0: window (0,0) all equal 1 → the gradient goes to (0,0)
    for (const [iy, ix] of [[0, 0], [0, 1], [1, 0], [1, 1]]) xv[(iy! * 4 + ix!) * 2] = 1;
    // channel 0: window (0,1): maxima tie at (1,2) and (1,3) → (1,2) gets it
    xv[(1 * 4 + 2) * 2] = 5;
    xv[(1 * 4 + 3) * 2] = 5;
    // channel 1: window (1,1) holds a NaN
    xv[(3 * 4 + 3) * 2 + 1] = NaN;
    const x = sg.tensor([1, 4, 4, 2], xv);
    const y = sg.maxPool2d(x, { size: 2 });
    const yv = y.toArray();
    expect(yv[0]).toBe(1);
    expect(yv[2]).toBe(5);
    expect(Number.isNaN(yv[(1 * 2 + 1) * 2 + 1]!)).toBe(true);
    const dy = sg.tensor(y.shape, new Array(8).fill(3));
    const dx = sg.maxPool2dBackward(x, y, dy, { size: 2 }).toArray();
    expect(dx[0]).toBe(3);
    expect(dx[(0 * 4 + 1) * 2]! + dx[(1 * 4 + 0) * 2]! + dx[(1 * 4 + 1) * 2]!).toBe(0);
    expect(dx[(1 * 4 + 2) * 2]).toBe(3);
    expect(dx[(1 * 4 + 3) * 2]).toBe(0);
    // the NaN window sends nothing back
    for (const [iy, ix] of [[2, 2], [2, 3], [3, 2], [3, 3]]) expect(dx[(iy! * 4 + ix!) * 2 + 1]).toBe(0);
  });

  it("gradcheck of both pools (distinct values, away from ties) with a non-unit upstream gradient", async () => {
    const sg = await runtime();
    for (const kind of ["maxPool2d", "avgPool2d"] as const) {
      for (const opts of [{ size: 2 }, { size: 3, stride: 2, padding: "same" as const }, { size: [2, 3] as [number, number], stride: 1, padding: 1 }]) {
        const g = sg.graph();
        const n = 2 * 6 * 7 * 3;
        // distinct values 0.05 apart in random order: h = 1e-2 never swaps a maximum
        const perm = Array.from({ length: n }, (_, i) => i);
        const r = randomArray(n, 3);
        perm.sort((a, b) => r[a]! - r[b]!);
        const data = perm.map((p) => (p - n / 2) * 0.05);
        const x = g.param([2, 6, 7, 3], { data, name: "x" });
        const y = g[kind](x, opts);
        const c = g.input(y.shape, "c");
        const loss = g.sum(g.mul(y, c));
        const report = sg.gradcheck(g, loss, { feeds: { c: randomArray(y.size, 5, 0.5, 2) }, h: 1e-2, samples: 300 });
        expect(report.ok, `${kind} ${JSON.stringify(opts)}: ${JSON.stringify(report.params)}`).toBe(true);
        g.dispose();
      }
    }
  });

  it("refuses bad input with the op and the shapes named", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 5, 5, 3], "x");
    expect(() => g.maxPool2d(g.input([5, 5, 3], "x3"), { size: 2 })).toThrow(/maxPool2d: x must be \[N, H, W, C\]: x is \[5, 5, 3\]/);
    expect(() => g.avgPool2d(x, { size: 6 })).toThrow(/avgPool2d: the window 6 × 6 is larger than the padded input.*x is \[2, 5, 5, 3\]/);
    expect(g.avgPool2d(x, { size: 6, padding: "same" }).shape).toEqual([2, 1, 1, 3]);
    expect(() => g.maxPool2d(x, { size: 0 })).toThrow(/maxPool2d: size must be a positive integer/);
    expect(() => g.maxPool2d(x, { size: 2, stride: 0 })).toThrow(/maxPool2d: stride must be a positive integer/);
    expect(() => g.maxPool2d(x, { size: 2.5 })).toThrow(/maxPool2d: size/);
    expect(() => g.maxPool2d(x, { size: 2, padding: 2 })).toThrow(/maxPool2d: padding 2 is more than half the window 2 × 2/);
    expect(() => g.maxPool2d(x, {} as never)).toThrow(/maxPool2d: options need the window size/);
    expect(() => g.maxPool2d(x, undefined as never)).toThrow(/maxPool2d: options must be/);
    expect(() => sg.maxPool2dBackward(sg.tensor([1, 4, 4, 1]), sg.tensor([1, 2, 2, 1]), sg.tensor([1, 3, 3, 1]), { size: 2 })).toThrow(/maxPool2dBackward: dy must be \[1, 2, 2, 1\]/);
    expect(Array.from(sg.avgPool2d(sg.ones([1, 4, 4, 1]), { size: 2 }).toArray())).toEqual([1, 1, 1, 1]);
    g.dispose();
  });
});

describe("pooling kernels in float32, bit for bit", () => {
  // The forward reduces each window in registers, 16 channels at a time, then 4, then the
  // last 1–3 (2 × 2 windows at stride 2 through a loop of their own); the backward forms s·dy once per output. Same operations in the same order as
  // this float32 emulation: window order (iy, then ix), the mean's sum times fround(1/count),
  // each contribution dx += fround(s·dy), output by output.
  for (const [xs, size, stride, pad] of [
    [[2, 7, 6, 23], 3, 2, "same"],
    [[1, 8, 9, 21], 3, 1, 1],
    [[1, 6, 6, 3], 2, undefined, "valid"],
    // 2 × 2 windows at stride 2 over a multiple of 4 channels take their own loop (16 then
    // 4 channels at a time; odd sizes leave the last row and column out).
    [[2, 8, 6, 20], 2, undefined, "valid"],
    [[1, 7, 9, 4], 2, undefined, "valid"],
  ] as [number[], number, number | undefined, P][]) {
    it(`x [${xs}] size ${size} stride ${stride ?? size} padding ${JSON.stringify(pad)}`, async () => {
      const { sg, k, g, xn, yn } = await poolCase(xs, size, stride, pad);
      const xv = Float32Array.from(randomArray(xn, 11 + xn), (v, i) => (i % 13 === 0 ? -v * 1e3 : v));
      const dyv = Float32Array.from(randomArray(yn, 12 + yn));
      const base = Float32Array.from(randomArray(xn, 5));
      const f = Math.fround;
      const avg = new Float32Array(yn), mx = new Float32Array(yn), dx = base.slice();
      let o = 0;
      for (let n = 0; n < g.n; n++) for (let oy = 0; oy < g.ho; oy++) for (let ox = 0; ox < g.wo; ox++, o++) {
        const [ya, yb, xa, xb] = windowOf(g, oy, ox);
        const s = f(1 / ((yb - ya) * (xb - xa)));
        for (let c = 0; c < g.c; c++) {
          let sum = NaN, m = NaN;
          for (let iy = ya; iy < yb; iy++) for (let ix = xa; ix < xb; ix++) {
            const v = xv[((n * g.h + iy) * g.w + ix) * g.c + c]!;
            sum = Number.isNaN(sum) ? v : f(sum + v);
            m = Number.isNaN(m) ? v : Math.max(m, v);
            const d = ((n * g.h + iy) * g.w + ix) * g.c + c;
            dx[d] = f(dx[d]! + f(s * dyv[o * g.c + c]!));
          }
          avg[o * g.c + c] = f(sum * s);
          mx[o * g.c + c] = m;
        }
      }
      const X = guarded(sg, xn), Y = guarded(sg, yn), DY = guarded(sg, yn), DX = guarded(sg, xn);
      const a = kernelArgs(g);
      try {
        X.set(xv);
        DY.set(dyv);
        k.avgpool2d_forward(X.ptr, Y.ptr, ...a);
        expect(Array.from(Y.view())).toEqual(Array.from(avg));
        k.maxpool2d_forward(X.ptr, Y.ptr, ...a);
        expect(Array.from(Y.view())).toEqual(Array.from(mx));
        DX.set(base);
        k.avgpool2d_backward(DY.ptr, DX.ptr, ...a, 1);
        expect(Array.from(DX.view())).toEqual(Array.from(dx));
        for (const b of [X, Y, DY, DX]) b.check();
      } finally {
        for (const b of [X, Y, DY, DX]) b.free();
      }
    });
  }
});

describe("pooling gradients over windows that tile the input", () => {
  // With stride = window and every position covered, each dx element gets one contribution,
  // which the kernels write once (average: 0 + s·dy; max: 0 + dy at the window's first
  // maximum, +0 elsewhere) instead of filling dx with 0 and adding to it: the same bits as
  // adding onto zeros (−0 becomes +0, NaN, ±Inf and subnormals pass alike), and nothing
  // left over from before the call.
  const GEOS: [number[], number | [number, number], (number | [number, number]) | undefined, P, boolean][] = [
    [[2, 28, 28, 16], 2, undefined, "valid", true],
    [[1, 6, 8, 20], 2, undefined, "valid", true], // max's own 2 × 2 loop: 16 channels, then 4
    [[2, 4, 4, 4], 2, undefined, "valid", true],
    [[2, 5, 7, 23], 2, undefined, "same", true], // the last row and column padded: still tiled
    [[1, 6, 9, 5], [2, 3], undefined, "valid", true],
    [[1, 5, 5, 4], 2, 2, 1, true], // padding on every side, the first and last windows clipped
    [[2, 5, 7, 3], 2, undefined, "valid", false], // the last row and column in no window
    [[1, 7, 7, 20], 2, 3, "valid", false], // gaps between windows
    [[1, 7, 7, 6], 3, 2, "same", false], // overlapping windows
  ];
  for (const [xs, size, stride, pad, tiles] of GEOS) {
    it(`x [${xs}] size ${JSON.stringify(size)} stride ${JSON.stringify(stride)} padding ${JSON.stringify(pad)} (${tiles ? "tiled" : "not tiled"})`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const g = poolGeo(xs, size, stride, pad);
      const covered = (g.ho - 1) * g.sh - g.pt + g.kh >= g.h && (g.wo - 1) * g.sw - g.pl + g.kw >= g.w && g.sh === g.kh && g.sw === g.kw;
      expect(covered).toBe(tiles);
      const xn = g.n * g.h * g.w * g.c, yn = g.n * g.ho * g.wo * g.c;
      const dyv = randomArray(yn, 11 + yn);
      const special = [-0, 0, NaN, Infinity, -Infinity, 1e-45, -3e-39, 3.4e38];
      special.forEach((v, i) => (dyv[(i * 7) % yn] = v));
      // x with ties (values on a coarse grid) and a NaN, for max's first-maximum rule.
      const xv = randomArray(xn, 5 + xn).map((v) => Math.round(v * 3) / 3);
      if (xn > 3) xv[3] = NaN;
      const X = guarded(sg, xn), Y = guarded(sg, yn), DY = guarded(sg, yn), DX = guarded(sg, xn), ZX = guarded(sg, xn);
      const a = kernelArgs(g);
      try {
        DY.set(dyv);
        DX.set(new Float32Array(xn).fill(NaN));
        k.avgpool2d_backward(DY.ptr, DX.ptr, ...a, 0);
        ZX.set(new Float32Array(xn));
        k.avgpool2d_backward(DY.ptr, ZX.ptr, ...a, 1);
        const bits = (b: typeof DX) => Array.from(new Uint32Array(Float32Array.from(b.view()).buffer));
        const want = bits(ZX);
        expect(bits(DX)).toEqual(want);
        // dy[0] = −0 reaches x[0]: 0 + s·(−0) is +0 (all bits clear), as on the path that adds.
        expect(Object.is(dyv[0], -0)).toBe(true);
        expect(want[0]).toBe(0);
        X.set(xv);
        k.maxpool2d_forward(X.ptr, Y.ptr, ...a);
        DX.set(new Float32Array(xn).fill(NaN));
        k.maxpool2d_backward(X.ptr, Y.ptr, DY.ptr, DX.ptr, ...a, 0);
        ZX.set(new Float32Array(xn));
        k.maxpool2d_backward(X.ptr, Y.ptr, DY.ptr, ZX.ptr, ...a, 1);
        expect(bits(DX)).toEqual(bits(ZX));
        for (const b of [X, Y, DY, DX, ZX]) b.check();
      } finally {
        for (const b of [X, Y, DY, DX, ZX]) b.free();
      }
    });
  }
});

describe("max pooling's maximum is f32x4.max's, bit for bit, over special values", () => {
  // The forward takes pmax (one instruction) and re-takes with f32x4.max the lanes where the
  // two could differ (a NaN in the window, a −0 maximum): windows full of −0 and +0, NaN,
  // ±∞, values whose sum overflows, and ties, over the 2 × 2 loop and the general one
  // (16, 4 and the last 1–3 channels), padding included.
  const SPECIAL = [-0, 0, NaN, Infinity, -Infinity, 3e38, -3e38, 1, -1, 1e-45, -1e-45];
  const SHAPES: [number[], number, number | undefined, P][] = [
    [[2, 6, 8, 20], 2, undefined, "valid"],
    [[1, 5, 7, 4], 2, undefined, "valid"],
    [[2, 7, 6, 23], 3, 2, "same"],
    [[1, 6, 6, 35], 3, 1, 1],
    [[1, 5, 5, 2], 2, 1, "valid"],
  ];
  for (const [xs, size, stride, pad] of SHAPES) {
    it(`x [${xs}] size ${size} stride ${stride ?? size} padding ${JSON.stringify(pad)}`, async () => {
      const { sg, k, g, xn, yn } = await poolCase(xs, size, stride, pad);
      const X = guarded(sg, xn), Y = guarded(sg, yn);
      const a = kernelArgs(g);
      try {
        for (let seed = 1; seed <= 12; seed++) {
          // Mostly special values (more zeros on the even seeds, which gives all-zero windows),
          // the rest on a coarse grid (ties).
          const r = randomArray(2 * xn, 100 * seed + xn, 0, 1);
          const xv = Float32Array.from({ length: xn }, (_, i) => {
            const u = r[2 * i]!, v = r[2 * i + 1]!;
            if (seed % 2 === 0 && u < 0.6) return v < 0.5 ? -0 : 0;
            if (u < 0.5) return SPECIAL[Math.floor(v * SPECIAL.length)]!;
            return Math.round(v * 8) - 4;
          });
          let suspects = 0;
          const want = new Float32Array(yn);
          let o = 0;
          for (let n = 0; n < g.n; n++) for (let oy = 0; oy < g.ho; oy++) for (let ox = 0; ox < g.wo; ox++, o++) {
            const [ya, yb, xa, xb] = windowOf(g, oy, ox);
            for (let c = 0; c < g.c; c++) {
              let m: number | null = null;
              for (let iy = ya; iy < yb; iy++) for (let ix = xa; ix < xb; ix++) {
                const v = xv[((n * g.h + iy) * g.w + ix) * g.c + c]!;
                m = m === null ? v : Math.max(m, v); // IEEE: NaN propagates, +0 over −0
              }
              want[o * g.c + c] = m!;
              if (Number.isNaN(m) || Object.is(m, 0)) suspects++;
            }
          }
          expect(suspects, "windows with a NaN or a zero maximum").toBeGreaterThan(0);
          X.set(xv);
          k.maxpool2d_forward(X.ptr, Y.ptr, ...a);
          const got = Y.view();
          for (let i = 0; i < yn; i++) {
            const ok = Number.isNaN(want[i]!) ? Number.isNaN(got[i]!) : Object.is(got[i], want[i]);
            if (!ok) throw new Error(`seed ${seed}: y[${i}] is ${Object.is(got[i], -0) ? "-0" : got[i]}, expected ${Object.is(want[i], -0) ? "-0" : want[i]}`);
          }
          X.check();
          Y.check();
        }
      } finally {
        X.free();
        Y.free();
      }
    });
  }
});
