/**
 * conv2d: the shape rule against TensorFlow's output sizes; the three kernels (forward,
 * filter gradient, input gradient) against direct float64 loops over a sweep of shapes,
 * inside NaN guard bands; the op's gradients by gradcheck; bad input.
 *
 * Tolerance of an element: |got − want| ≤ 2·(t + 4)·2⁻²³·Σ|terms|, with t the number of
 * roundings on the way (the K products of a patch row for the forward pass, the M products
 * of the filter gradient, F products plus the KH·KW scattered additions for the input
 * gradient), relative to the magnitude of what was summed rather than the (cancelling) sum.
 */
import { describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import { convScratchBytes, convGeom, conv2dAttrs } from "../src/ops/conv.js";
import { gemmScratchBytes } from "../src/ops/matmul.js";
import { type ConvOpts, type Geo, convBackwardFilter, convBackwardInput, convForward, geo } from "./conv-reference.js";
import { guarded, kernels, randomArray, runtime } from "./helpers.js";

const U = 2 ** -23;

function expectBound(got: ArrayLike<number>, want: Float64Array, mag: Float64Array, terms: number, what: string, base: ArrayLike<number> | null = null): void {
  for (let i = 0; i < want.length; i++) {
    const w = want[i]! + (base ? base[i]! : 0);
    const tol = 2 * (terms + 4) * U * (mag[i]! + (base ? Math.abs(base[i]!) : 0)) + 1e-30;
    const err = Math.abs(got[i]! - w);
    if (!(err <= tol)) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${w} (error ${err.toExponential(2)}, tolerance ${tol.toExponential(2)})`);
  }
}

const pack = (a: number, b: number) => (a | (b << 16)) >>> 0;

function packed(g: Geo) {
  return { ks: pack(g.kh, g.kw), st: pack(g.sh, g.sw), dl: pack(g.dh, g.dw), pd: pack(g.pt, g.pl) };
}

/** [x shape, filter shape, options]: odd sizes, 1×1, stride 2, dilation 2, "same" with even
 *  kernels, C and F not multiples of 4, batch 1, empty dimensions, every blocking boundary. */
const CASES: [number[], number[], ConvOpts][] = [
  [[1, 1, 1, 1], [1, 1, 1, 1], {}],
  [[1, 5, 5, 1], [3, 3, 1, 1], {}],
  [[2, 7, 6, 3], [3, 2, 3, 5], { padding: "same" }],
  [[1, 8, 8, 4], [1, 1, 4, 8], {}],
  [[1, 4, 5, 1], [1, 1, 1, 1], { stride: 2 }],
  [[3, 9, 11, 5], [3, 3, 5, 7], { stride: 2, padding: "same" }],
  [[2, 10, 9, 6], [3, 3, 6, 9], { dilation: 2 }],
  [[1, 6, 6, 2], [2, 2, 2, 3], { padding: "same" }],
  [[1, 7, 6, 2], [4, 4, 2, 3], { padding: "same", stride: 2 }],
  [[1, 6, 5, 3], [4, 2, 3, 2], { padding: "same", dilation: 2 }],
  [[1, 5, 5, 17], [3, 3, 17, 13], { padding: 1 }],
  [[2, 6, 7, 3], [2, 3, 3, 2], { stride: [2, 1], dilation: [1, 2], padding: "same" }],
  [[1, 11, 13, 7], [5, 5, 7, 6], { padding: 2, stride: 3 }],
  [[4, 3, 3, 8], [3, 3, 8, 8], { padding: "same" }],
  [[1, 28, 28, 1], [3, 3, 1, 16], { padding: "same" }],
  [[2, 9, 11, 1], [3, 3, 1, 5], { padding: "same" }], // one channel, rows of 11: groups of four straddle rows
  [[1, 10, 7, 1], [5, 5, 1, 3], { padding: 2, stride: [1, 2] }],
  [[3, 8, 13, 2], [2, 5, 2, 6], { padding: "same", dilation: [2, 1] }],
  [[2, 14, 14, 16], [3, 3, 16, 32], { padding: "same" }],
  [[2, 9, 9, 40], [3, 3, 40, 20], { padding: 1 }], // K = 360 > 256 (two depth slices), M = 162 > 128
  [[1, 6, 6, 130], [3, 3, 130, 5], {}], // K = 1170 > 1024 (two column panels of the input gradient)
  [[1, 3, 3, 2], [1, 1, 2, 1030], {}], // F = 1030 > 1024
  // C ≥ 8 with at least twice as many output pixels as filters: the forward runs transposed
  [[2, 9, 11, 12], [3, 3, 12, 10], { stride: 2, padding: "same" }],
  [[1, 10, 9, 9], [2, 3, 9, 7], { dilation: 2, padding: "same" }], // 9 channels: a scalar tail per piece
  [[2, 20, 20, 8], [3, 3, 8, 16], { padding: "same" }], // M = 800 > 512: two pixel panels
  [[1, 7, 7, 30], [3, 3, 30, 6], { padding: 1 }], // K = 270: a slice boundary inside a piece
  // … in the relaxed build, where rows5_t takes F (45, 48, 64), in blocks of 15 filters as
  // 5 × 8 tiles (the input gradient of the first two as well: C' = 64, 48)
  [[2, 8, 8, 16], [3, 3, 16, 64], { padding: "same" }], // four blocks and one of 4 filters
  [[2, 7, 9, 16], [3, 3, 16, 48], { padding: "same" }], // a last block of 3; 126 pixels: a part panel
  [[2, 9, 9, 40], [3, 3, 40, 45], { padding: 1 }], // K = 360: two depth slices
  // C < 8, K ≤ 256, F a multiple of 4: the forward runs direct (pairs of pixels, 16, 8, 4 filters)
  [[2, 9, 10, 3], [3, 3, 3, 24], { padding: "same", stride: 2 }],
  [[1, 6, 7, 2], [3, 3, 2, 12], { dilation: 2, padding: 2 }],
  [[3, 5, 1, 1], [3, 1, 1, 4], { padding: "same" }], // one output column: no pairs
  // At least twice as many output pixels as patch columns and K ≤ 40, or K ≤ 192 with
  // F ≥ 96: the input gradient runs transposed
  [[3, 12, 13, 4], [3, 3, 4, 24], { stride: 2, padding: "same" }], // K = 36
  [[2, 14, 13, 3], [3, 3, 3, 10], { dilation: 2, padding: 1 }],
  [[2, 11, 12, 7], [3, 3, 7, 100], { padding: "same" }], // K = 63: 7 channels, a partial micro-panel of patch columns
  [[2, 10, 10, 40], [1, 1, 40, 24], {}], // 1×1, K = 40
  [[2, 9, 9, 41], [1, 1, 41, 8], {}], // K = 41 with few filters: the untransposed loops
  [[2, 9, 10, 4], [3, 3, 4, 300], { padding: "same" }], // F = 300: two slices of filters; 180 pixels: two panels, the last partial
  [[2, 15, 13, 12], [4, 4, 12, 100], { padding: "same" }], // K = 192, the most that runs transposed (the filter packed by blocks): panels of 256 and 134 pixels
  [[1, 20, 21, 49], [2, 2, 49, 110], { padding: "same" }], // K = 196: the untransposed loops
  [[1, 4, 5, 3], [2, 3, 3, 4], { padding: 3 }], // windows wholly in the padding (transposed) …
  [[1, 4, 5, 9], [2, 3, 9, 4], { padding: 3 }], // … and untransposed
  // Stride 1 with C ≥ 8 or F < 8, a padding no larger than the window and a filter of at most
  // 384 KiB (C ≤ 128 past 256 KiB, C ≤ 256 below): the input gradient runs as a forward
  // convolution of dy with the rotated filter (the cases above of that kind run it too)
  [[2, 7, 6, 8], [3, 3, 8, 4], { padding: "same" }], // F = 4, K' = 36: the direct forward (overwriting)
  [[1, 9, 8, 8], [4, 4, 8, 8], { padding: "same" }], // 4 × 4 "same": 1 row on top, 2 below
  [[2, 9, 10, 9], [3, 3, 9, 10], { dilation: 2, padding: "same" }],
  [[1, 7, 9, 8], [3, 3, 8, 5], { dilation: [2, 1], padding: 2 }], // rotated padding 2 on top, 0 on the left
  [[1, 5, 5, 8], [3, 3, 8, 4], { padding: 2 }], // the most padding the path takes: rotated padding 0
  [[1, 5, 5, 8], [3, 3, 8, 4], { padding: 3 }], // one more: the scatter loops
  [[2, 10, 9, 64], [3, 3, 64, 128], { padding: "same" }], // a 288 KiB filter: panels of 128 pixels (180 a call)
  [[1, 4, 4, 130], [3, 3, 130, 70], { padding: "same" }], // 320 KiB with C = 130 > 128: the scatter loops
  [[1, 5, 5, 48], [3, 3, 48, 240], { padding: 1 }], // 405 KiB: the scatter loops
  [[1, 4, 4, 260], [1, 1, 260, 3], {}], // C = 260 > 256: the scatter loops
  [[1, 3, 3, 0], [2, 2, 0, 4], {}], // C = 0: an empty sum
  [[0, 5, 5, 2], [3, 3, 2, 4], {}], // N = 0
  [[1, 5, 5, 3], [3, 3, 3, 0], {}], // F = 0
];

const label = (x: number[], f: number[], o: ConvOpts) => `x [${x}] filter [${f}] ${JSON.stringify(o)}`;

describe("conv2d shape rule", () => {
  it("gives TensorFlow's output sizes and padding", () => {
    const out = (x: number[], f: number[], o: ConvOpts) => {
      const g = convGeom(x, f, conv2dAttrs(o as never));
      return [g.ho, g.wo, g.pad & 0xffff, g.pad >>> 16];
    };
    expect(out([1, 28, 28, 1], [3, 3, 1, 16], { padding: "same" })).toEqual([28, 28, 1, 1]);
    expect(out([1, 6, 6, 1], [2, 2, 1, 1], { padding: "same" })).toEqual([6, 6, 0, 0]); // total 1: the extra row at the bottom
    expect(out([1, 7, 7, 1], [4, 4, 1, 1], { padding: "same", stride: 2 })).toEqual([4, 4, 1, 1]); // total 3
    expect(out([1, 10, 10, 1], [3, 3, 1, 1], { dilation: 2 })).toEqual([6, 6, 0, 0]);
    expect(out([1, 5, 5, 1], [3, 3, 1, 1], { padding: 1, stride: 2 })).toEqual([3, 3, 1, 1]);
    expect(out([1, 9, 9, 1], [3, 3, 1, 1], { stride: [2, 3] })).toEqual([4, 3, 0, 0]);
    expect(out([1, 32, 32, 64], [3, 3, 64, 64], { padding: "same", stride: 2 })).toEqual([16, 16, 0, 0]);
  });

  it("conv2d_scratch_bytes of the kernel never exceeds the TypeScript rule", async () => {
    const sg = await runtime();
    const dims = [0, 1, 3, 4, 9, 128, 129, 192, 193, 255, 256, 257, 1023, 1024, 1025, 5000, 100000];
    for (const m of dims) for (const k of dims) for (const f of dims) {
      expect(kernels(sg).conv2d_scratch_bytes(m, k, f), `m=${m} k=${k} f=${f}`).toBe(convScratchBytes(m, k, f));
    }
    expect(convScratchBytes(1e5, 1e5, 1e5)).toBeLessThan(1.3 * 2 ** 20);
    // The transposed input gradient's scratch (K ≤ 192) stays within what the workers hold
    // (src/threads/split.ts sizes it for 65536 of everything).
    const big = convScratchBytes(65536, 65536, 65536);
    for (let k = 1; k <= 200; k++) for (const f of [1, 16, 64, 85, 86, 100, 255, 256, 257, 100000]) {
      expect(convScratchBytes(100000, k, f), `k=${k} f=${f}`).toBeLessThanOrEqual(big);
    }
  });
});

describe("conv2d kernels against float64 loops", () => {
  for (const [xs, fs, o] of CASES) {
    it(label(xs, fs, o), async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const g = geo(xs, fs, o);
      const p = packed(g);
      const xn = g.n * g.h * g.w * g.c;
      const fn = g.kh * g.kw * g.c * g.f;
      const yn = g.n * g.ho * g.wo * g.f;
      const M = g.n * g.ho * g.wo;
      const K = g.kh * g.kw * g.c;
      const xv = randomArray(xn, 11 + xn);
      const fv = randomArray(fn, 13 + fn);
      const dyv = randomArray(yn, 17 + yn);
      const X = guarded(sg, xn);
      const F = guarded(sg, fn);
      const Y = guarded(sg, yn);
      const DY = guarded(sg, yn);
      const DX = guarded(sg, xn);
      const DF = guarded(sg, fn);
      // Scratch of exactly the size the TypeScript rule gives, inside guard bands as large as
      // itself: a kernel that used more than it may would write into them.
      const sf = Math.ceil(Math.max(16, convScratchBytes(M, K, g.f)) / 16) * 4;
      const SC = guarded(sg, sf, sf);
      const scratch = SC.ptr;
      const what = label(xs, fs, o);
      try {
        X.set(xv);
        F.set(fv);
        DY.set(dyv);
        // forward: every row, then a middle range of rows (the others stay NaN)
        const fwd = convForward(g, xv, fv);
        k.conv2d_forward(X.ptr, F.ptr, Y.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 0, M, scratch);
        expectBound(Y.view(), fwd.want, fwd.mag, K, `${what} forward`);
        Y.check();
        if (M >= 3 && g.f > 0) {
          Y.set(new Float32Array(yn).fill(NaN));
          const r0 = 1;
          const rows = M - 2;
          k.conv2d_forward(X.ptr, F.ptr, Y.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, r0, rows, scratch);
          const y = Y.view();
          for (let i = 0; i < yn; i++) {
            const row = Math.floor(i / g.f);
            if (row < r0 || row >= r0 + rows) expect(Number.isNaN(y[i]!), `${what} forward rows: row ${row} written`).toBe(true);
          }
          expectBound(y.slice(r0 * g.f, (r0 + rows) * g.f), fwd.want.slice(r0 * g.f, (r0 + rows) * g.f), fwd.mag.slice(r0 * g.f, (r0 + rows) * g.f), K, `${what} forward rows`);
          Y.check();
        }

        // input gradient: overwriting (dx starts NaN: must not be read) and accumulating
        const din = convBackwardInput(g, dyv, fv);
        DX.set(new Float32Array(xn).fill(NaN));
        k.conv2d_backward_input(DY.ptr, F.ptr, DX.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 0, scratch);
        // Sums of F terms per window tap added tap by tap, or (stride 1, as a forward
        // convolution) of KH·KW·F terms in one run
        const dinTerms = Math.max(g.f + g.kh * g.kw, g.kh * g.kw * g.f);
        expectBound(DX.view(), din.want, din.mag, dinTerms, `${what} input gradient`);
        const dx0 = randomArray(xn, 3);
        DX.set(dx0);
        k.conv2d_backward_input(DY.ptr, F.ptr, DX.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 1, scratch);
        expectBound(DX.view(), din.want, din.mag, dinTerms + 1, `${what} input gradient, accumulated`, dx0);
        DX.check();

        // filter gradient: the whole result, then an inner block accumulated (outside stays NaN)
        const dfl = convBackwardFilter(g, xv, dyv);
        DF.set(new Float32Array(fn).fill(NaN));
        k.conv2d_backward_filter(X.ptr, DY.ptr, DF.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 0, K, 0, g.f, 0, scratch);
        expectBound(DF.view(), dfl.want, dfl.mag, M, `${what} filter gradient`);
        DF.check();
        if (K >= 3 && g.f >= 3) {
          const [q0, qn, f0, fnn] = [1, K - 2, 1, g.f - 2];
          const base = randomArray(fn, 5);
          const init = new Float32Array(fn).fill(NaN);
          for (let q = q0; q < q0 + qn; q++) for (let j = f0; j < f0 + fnn; j++) init[q * g.f + j] = base[q * g.f + j]!;
          DF.set(init);
          k.conv2d_backward_filter(X.ptr, DY.ptr, DF.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, q0, qn, f0, fnn, 1, scratch);
          const got = DF.view();
          for (let q = 0; q < K; q++) for (let j = 0; j < g.f; j++) {
            const i = q * g.f + j;
            const inside = q >= q0 && q < q0 + qn && j >= f0 && j < f0 + fnn;
            if (!inside) expect(Number.isNaN(got[i]!), `${what} filter block: (${q}, ${j}) written`).toBe(true);
            else {
              const w = dfl.want[i]! + base[i]!;
              const tol = 2 * (M + 5) * U * (dfl.mag[i]! + Math.abs(base[i]!));
              if (!(Math.abs(got[i]! - w) <= tol)) throw new Error(`${what} filter block (${q}, ${j}): ${got[i]} vs ${w}`);
            }
          }
          DF.check();
        }
        // The inputs are untouched.
        expect(Array.from(X.view())).toEqual(Array.from(xv));
        expect(Array.from(F.view())).toEqual(Array.from(fv));
        expect(Array.from(DY.view())).toEqual(Array.from(dyv));
        SC.check();
      } finally {
        SC.free();
        for (const b of [X, F, Y, DY, DX, DF]) b.free();
      }
    });
  }
});

/** A layer's geometry, its kernel arguments, sizes (pixels M, patch K, x, filter, y values) and
 *  guarded scratch of the TypeScript rule's size. */
function layer(sg: SimdGrad, xs: number[], fs: number[], o: ConvOpts) {
  const g = geo(xs, fs, o);
  const M = g.n * g.ho * g.wo;
  const K = g.kh * g.kw * g.c;
  const sf = Math.ceil(Math.max(16, convScratchBytes(M, K, g.f)) / 16) * 4;
  return { g, p: packed(g), M, K, xn: g.n * g.h * g.w * g.c, fn: K * g.f, yn: M * g.f, SC: guarded(sg, sf, sf) };
}

describe("conv2d forward in the relaxed build's 5 × 8 tiles", () => {
  // With F filters in blocks of 15 (rows5_t in assembly/gemm.ts) and an ending that stores no
  // Z, the forward runs 5 × 8 tiles; storing Z sends the same layer to the 4 × 8 tiles. The two
  // give the same bits. (In the SIMD128 build both run 4 × 8.)
  const cases: [number[], number[], ConvOpts][] = [
    [[2, 8, 8, 16], [3, 3, 16, 64], { padding: "same" }],
    [[2, 7, 9, 16], [3, 3, 16, 48], { padding: "same" }],
    [[2, 9, 9, 40], [3, 3, 40, 45], { padding: 1 }],
    [[1, 24, 24, 8], [3, 3, 8, 128], { padding: "same" }], // 576 pixels: two panels
  ];
  for (const [xs, fs, o] of cases) {
    it(`with Z stored and without, the same bits: ${label(xs, fs, o)}`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const { g, p, M, K, xn, fn, yn, SC } = layer(sg, xs, fs, o);
      const xv = randomArray(xn, 51), fv = randomArray(fn, 52), bv = randomArray(g.f, 53);
      const [X, F, B, Y, Z] = [guarded(sg, xn), guarded(sg, fn), guarded(sg, g.f), guarded(sg, yn), guarded(sg, yn)];
      const what = label(xs, fs, o);
      try {
        X.set(xv);
        F.set(fv);
        B.set(bv);
        const fwd = convForward(g, xv, fv);
        for (const [act, bias] of [[5, true], [0, true], [0, false], [5, false]] as const) {
          const run = (z: number): Float32Array => {
            Y.set(new Float32Array(yn).fill(NaN));
            k.conv2d_forward_bias_act(X.ptr, F.ptr, Y.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 0, M, bias ? B.ptr : 0, act, 0, z, SC.ptr);
            return Y.view().slice();
          };
          const withZ = run(Z.ptr);
          const without = run(0);
          for (let i = 0; i < yn; i++) {
            if (!Object.is(without[i], withZ[i])) throw new Error(`${what}, act ${act}${bias ? ", bias" : ""}: element ${i} is ${without[i]} without Z, ${withZ[i]} with it`);
          }
          const want = fwd.want.map((v, i) => {
            const t = v + (bias ? bv[i % g.f]! : 0);
            return act === 5 ? Math.max(t, 0) : t;
          });
          expectBound(without, want, fwd.mag.map((m, i) => m + (bias ? Math.abs(bv[i % g.f]!) : 0)), K, `${what}, act ${act}`);
        }
        for (const b of [X, F, B, Y, Z, SC]) b.check();
      } finally {
        for (const b of [X, F, B, Y, Z, SC]) b.free();
      }
    });
  }
});

describe("conv2d filter gradient in the relaxed build's 5 × 8 tiles", () => {
  // All F filters at once (blocks of 15 as 5 × 8 tiles where rows5_t allows) against four
  // filters at a time (4 × 8 tiles), overwriting and accumulating: the same bits.
  const cases: [number[], number[], ConvOpts][] = [
    [[2, 8, 8, 16], [3, 3, 16, 64], { padding: "same" }],
    [[2, 7, 9, 16], [3, 3, 16, 48], { padding: "same" }],
    [[3, 9, 10, 40], [3, 3, 40, 45], { padding: 1 }], // 270 output pixels: two slices
  ];
  for (const [xs, fs, o] of cases) {
    it(`all filters at once give the bits of four at a time: ${label(xs, fs, o)}`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const { g, p, M, K, xn, fn, yn, SC } = layer(sg, xs, fs, o);
      const [X, DY, DF] = [guarded(sg, xn), guarded(sg, yn), guarded(sg, fn)];
      const what = label(xs, fs, o);
      try {
        const xv = randomArray(xn, 61), dyv = randomArray(yn, 62);
        X.set(xv);
        DY.set(dyv);
        const base = randomArray(fn, 63);
        for (const acc of [0, 1]) {
          DF.set(base);
          k.conv2d_backward_filter(X.ptr, DY.ptr, DF.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 0, K, 0, g.f, acc, SC.ptr);
          const all = DF.view().slice();
          DF.set(base);
          for (let f0 = 0; f0 < g.f; f0 += 4) {
            k.conv2d_backward_filter(X.ptr, DY.ptr, DF.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 0, K, f0, Math.min(4, g.f - f0), acc, SC.ptr);
          }
          const fours = DF.view();
          for (let i = 0; i < fn; i++) {
            if (!Object.is(all[i], fours[i])) throw new Error(`${what}, accumulate ${acc}: element ${i} is ${all[i]} at once, ${fours[i]} four filters at a time`);
          }
          if (acc === 0) {
            const ref = convBackwardFilter(g, xv, dyv);
            expectBound(all, ref.want, ref.mag, M, `${what} filter gradient`);
          }
        }
        for (const b of [X, DY, DF, SC]) b.check();
      } finally {
        for (const b of [X, DY, DF, SC]) b.free();
      }
    });
  }
});

describe("conv2d input gradient, transposed", () => {
  // One call over N images runs transposed (at least 2K output pixels); each image alone has
  // fewer than 2K and runs the untransposed loops. The sums are formed the same way and added
  // in the same order, so the two agree bit for bit, overwriting and accumulating. (Stride 1
  // with C ≥ 8 runs as a forward convolution instead: these cases have C < 8 or stride 2.)
  const cases: [number[], number[], ConvOpts][] = [
    [[6, 5, 6, 7], [3, 3, 7, 100], { padding: "same" }], // K = 63; 180 pixels: panels of 128 and 52
    [[12, 7, 8, 4], [3, 3, 4, 11], { stride: 2, padding: 1, dilation: 2 }], // K = 36
    [[5, 6, 6, 3], [3, 3, 3, 300], { padding: "same" }], // two slices of filters over two panels
    [[3, 26, 26, 12], [4, 4, 12, 100], { padding: "same", stride: 2 }], // K = 192, the filter packed by blocks: panels of 256 and 251
    [[3, 3, 4, 1], [3, 3, 1, 6], { padding: "same" }], // K = 9
  ];
  for (const [xs, fs, o] of cases) {
    it(`all images at once equal one image at a time: ${label(xs, fs, o)}`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const g = geo(xs, fs, o);
      const p = packed(g);
      const K = g.kh * g.kw * g.c;
      const M = g.n * g.ho * g.wo;
      expect(M).toBeGreaterThanOrEqual(2 * K);
      expect(g.ho * g.wo).toBeLessThan(2 * K);
      const img = g.h * g.w * g.c;
      const out = g.ho * g.wo * g.f;
      const xn = g.n * img;
      const fn = K * g.f;
      const F = guarded(sg, fn);
      const DY = guarded(sg, g.n * out);
      const DX = guarded(sg, xn);
      // Scratch of exactly the rule's size, inside guard bands as large as itself.
      const sf = Math.ceil(Math.max(16, convScratchBytes(M, K, g.f)) / 16) * 4;
      const SC = guarded(sg, sf, sf);
      const scratch = SC.ptr;
      const what = label(xs, fs, o);
      try {
        F.set(randomArray(fn, 41));
        DY.set(randomArray(g.n * out, 42));
        const base = randomArray(xn, 43);
        for (const acc of [0, 1]) {
          DX.set(acc ? base : new Float32Array(xn).fill(NaN));
          k.conv2d_backward_input(DY.ptr, F.ptr, DX.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, acc, scratch);
          const all = DX.view().slice();
          DX.set(acc ? base : new Float32Array(xn).fill(NaN));
          for (let i = 0; i < g.n; i++) {
            k.conv2d_backward_input(DY.ptr + i * out * 4, F.ptr, DX.ptr + i * img * 4, 1, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, acc, scratch);
          }
          const one = DX.view();
          for (let i = 0; i < xn; i++) {
            if (!Object.is(all[i], one[i])) throw new Error(`${what}, accumulate ${acc}: element ${i} is ${all[i]} at once, ${one[i]} image by image`);
          }
          DX.check();
        }
        const ref = convBackwardInput(g, DY.view().slice(), F.view().slice());
        DX.set(new Float32Array(xn).fill(NaN));
        k.conv2d_backward_input(DY.ptr, F.ptr, DX.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 0, scratch);
        expectBound(DX.view(), ref.want, ref.mag, g.f + g.kh * g.kw, `${what} input gradient`);
        SC.check();
      } finally {
        for (const b of [F, DY, DX, SC]) b.free();
      }
    });
  }
});

describe("conv2d op", () => {
  it("eager conv2d and its backward helpers equal the references", async () => {
    const sg = await runtime();
    const o: ConvOpts = { stride: 2, padding: "same", dilation: 1 };
    const xs = [2, 9, 8, 5];
    const fs = [3, 3, 5, 6];
    const g = geo(xs, fs, o);
    const xv = randomArray(2 * 9 * 8 * 5, 1);
    const fv = randomArray(3 * 3 * 5 * 6, 2);
    const x = sg.tensor(xs, xv);
    const f = sg.tensor(fs, fv);
    const y = sg.conv2d(x, f, o);
    expect(y.shape).toEqual([2, 5, 4, 6]);
    const r = convForward(g, xv, fv);
    expectBound(y.toArray(), r.want, r.mag, 45, "eager forward");
    const dyv = randomArray(y.size, 3);
    const dy = sg.tensor(y.shape, dyv);
    const dx = sg.conv2dBackwardInput(dy, f, xs, o);
    const ri = convBackwardInput(g, dyv, fv);
    expectBound(dx.toArray(), ri.want, ri.mag, 6 + 9, "eager input gradient");
    const df = sg.conv2dBackwardFilter(x, dy, fs, o);
    const rf = convBackwardFilter(g, xv, dyv);
    expectBound(df.toArray(), rf.want, rf.mag, 40, "eager filter gradient");
    for (const t of [x, f, y, dy, dx, df]) t.dispose();
  });

  const gradCases: [number[], number[], ConvOpts][] = [
    [[2, 5, 6, 3], [3, 3, 3, 4], { padding: "same" }],
    [[1, 7, 7, 2], [2, 2, 2, 3], { padding: "same", stride: 2 }],
    [[2, 7, 6, 5], [3, 2, 5, 2], { dilation: 2, padding: 1 }],
    [[1, 4, 4, 1], [1, 1, 1, 5], {}],
  ];
  for (const [xs, fs, o] of gradCases) {
    it(`gradcheck with a non-unit upstream gradient: ${label(xs, fs, o)}`, async () => {
      const sg = await runtime();
      const g = sg.graph();
      const x = g.param(xs, { data: randomArray(xs.reduce((a, b) => a * b), 21), name: "x" });
      const f = g.param(fs, { data: randomArray(fs.reduce((a, b) => a * b), 22), name: "filter" });
      const y = g.conv2d(x, f, o);
      const c = g.input(y.shape, "c");
      const loss = g.sum(g.mul(y, c));
      const cv = randomArray(y.size, 23, 0.5, 2);
      const report = sg.gradcheck(g, loss, { feeds: { c: cv }, samples: 200 });
      expect(report.ok, JSON.stringify(report.params)).toBe(true);
      // And exactly the references' transposes: dx = col2im(c·filterᵀ), dfilter = Pᵀ·c.
      g.zeroGrad();
      g.forward({ c: cv });
      g.backward(loss);
      const gg = geo(xs, fs, o);
      const ri = convBackwardInput(gg, cv, f.value.toArray());
      expectBound(x.grad!.toArray(), ri.want, ri.mag, gg.f + gg.kh * gg.kw, "graph input gradient");
      const rf = convBackwardFilter(gg, x.value.toArray(), cv);
      expectBound(f.grad!.toArray(), rf.want, rf.mag, gg.n * gg.ho * gg.wo, "graph filter gradient");
      g.dispose();
    });
  }

  it("a conv whose input is another conv's output, with the filter used twice", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.param([1, 6, 6, 3], { data: randomArray(108, 31), name: "x" });
    const f = g.param([3, 3, 3, 3], { data: randomArray(81, 32, -0.5, 0.5), name: "f" });
    const y = g.conv2d(g.tanh(g.conv2d(x, f, { padding: "same" })), f, { padding: "same" });
    const loss = g.sum(g.mul(y, y));
    const report = sg.gradcheck(g, loss, { samples: 200 });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
    g.dispose();
  });

  it("refuses bad input with the op and the shapes named, before any kernel runs", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 5, 5, 3], "x");
    const f = g.param([3, 3, 3, 4]);
    const f2 = g.param([3, 3, 2, 4]);
    const x3 = g.input([5, 5, 3], "x3");
    const big = g.param([7, 7, 3, 1]);
    expect(() => g.conv2d(x3, f)).toThrow(/conv2d: x must be \[N, H, W, C\] and filter \[KH, KW, C, F\]: x is \[5, 5, 3\], filter is \[3, 3, 3, 4\]/);
    expect(() => g.conv2d(x, f2)).toThrow(/conv2d: x has 3 channels but the filter takes 2.*x is \[2, 5, 5, 3\], filter is \[3, 3, 2, 4\]/);
    expect(() => g.conv2d(x, big)).toThrow(/conv2d: the window \(7 × 7.*larger than the padded input.*x is \[2, 5, 5, 3\], filter is \[7, 7, 3, 1\]/);
    expect(() => g.conv2d(x, f, { dilation: 3 })).toThrow(/conv2d: the window \(7 × 7 with dilation 3, 3\)/);
    expect(g.conv2d(x, big, { padding: 1 }).shape).toEqual([2, 1, 1, 1]);
    expect(() => g.conv2d(x, f, { stride: 0 })).toThrow(/conv2d: stride must be a positive integer.*got 0/);
    expect(() => g.conv2d(x, f, { stride: -1 })).toThrow(/conv2d: stride/);
    expect(() => g.conv2d(x, f, { stride: 1.5 })).toThrow(/conv2d: stride.*got 1.5/);
    expect(() => g.conv2d(x, f, { stride: [1, 2, 3] as never })).toThrow(/conv2d: stride.*\[1, 2, 3\]/);
    expect(() => g.conv2d(x, f, { dilation: 0 })).toThrow(/conv2d: dilation must be a positive integer/);
    expect(() => g.conv2d(x, f, { dilation: [1, NaN] })).toThrow(/conv2d: dilation/);
    expect(() => g.conv2d(x, f, { padding: "full" as never })).toThrow(/conv2d: padding must be "valid", "same" or a non-negative integer, got "full"/);
    expect(() => g.conv2d(x, f, { padding: -1 })).toThrow(/conv2d: padding/);
    expect(() => g.conv2d(x, f, { padding: 0.5 })).toThrow(/conv2d: padding/);
    expect(() => g.conv2d(x, f, null as never)).toThrow(/conv2d: options must be/);
    // Eager: the same checks, and the runtime works afterwards.
    const xt = sg.tensor([1, 4, 4, 2]);
    const ft = sg.tensor([3, 3, 3, 1]);
    expect(() => sg.conv2d(xt, ft)).toThrow(/conv2d: x has 2 channels but the filter takes 3/);
    expect(() => sg.conv2d(xt, sg.tensor([5, 5, 2, 1]))).toThrow(/conv2d: the window/);
    expect(() => sg.conv2dBackwardInput(sg.tensor([1, 3, 3, 1]), ft, [1, 4, 4, 3])).toThrow(/conv2dBackwardInput: dy must be \[1, 2, 2, 1\] \(the output's shape\), got \[1, 3, 3, 1\]/);
    expect(() => sg.conv2dBackwardFilter(xt, sg.tensor([1, 2, 2, 1]), [3, 3, 2, 1.5])).toThrow(/conv2dBackwardFilter: filterShape must be 4 non-negative integers/);
    // A fused bias or activation is the forward's: the eager gradients refuse them.
    const bias = sg.tensor([1]);
    expect(() => sg.conv2dBackwardInput(sg.tensor([1, 2, 2, 1]), ft, [1, 4, 4, 3], { bias } as never)).toThrow(/conv2dBackwardInput: options take \{ stride, padding, dilation \} only/);
    expect(() => sg.conv2dBackwardFilter(sg.tensor([1, 4, 4, 3]), sg.tensor([1, 2, 2, 1]), [3, 3, 3, 1], { activation: "relu" })).toThrow(/conv2dBackwardFilter: options take/);
    const ok = sg.conv2d(xt, sg.tensor([3, 3, 2, 1], new Array(18).fill(1)), { padding: "same" });
    expect(ok.shape).toEqual([1, 4, 4, 1]);
    g.dispose();
  });

  it("a training step allocates nothing after the first", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([4, 8, 8, 2], "x");
    const f = g.param([3, 3, 2, 4], { init: "he" as never });
    const y = g.avgPool2d(g.relu(g.conv2d(x, f, { padding: "same" })), { size: 2 });
    const w = g.param([4 * 4 * 4, 3]);
    const logits = g.matmul(g.reshape(y, [4, -1]), w);
    const t = g.input([4, 3], "t");
    const loss = g.softmaxCrossEntropy(logits, t);
    const opt = sg.sgd(g.params, { lr: 0.1 });
    const feeds = { x: randomArray(4 * 64 * 2, 5), t: [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0] };
    g.forward(feeds);
    g.backward(loss);
    opt.step();
    const before = sg.memory.totalAllocations;
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      g.forward(feeds);
      g.backward(loss);
      opt.step();
    }
    expect(sg.memory.totalAllocations).toBe(before);
    g.dispose();
  });
});

describe("conv2d with few channels (direct) against the GEMM on the patch matrix", () => {
  // The direct forward (C < 8, K ≤ 256, F a multiple of 4 or below 64) and filter gradient
  // (C < 8, K ≤ 64, a block of a multiple of 4 filters) promise the packed loops' sums: each output's
  // products added in order from 0, one multiply-add a step, padding values multiplied as 0,
  // the filter gradient in slices of 256 pixels added to df in order. So they equal gemm on
  // the patch matrix P (formed here) bit for bit, also where a filter or dy value is ±Inf
  // (0·Inf is NaN in both) and over any range of output rows or block of df.
  const cases: [number[], number[], ConvOpts][] = [
    [[2, 11, 10, 1], [3, 3, 1, 16], { padding: "same" }],
    [[1, 9, 13, 3], [3, 3, 3, 24], { padding: "same", stride: 2 }],
    [[2, 7, 9, 2], [3, 2, 2, 12], { dilation: [2, 1], padding: 2 }],
    [[1, 6, 6, 5], [2, 2, 5, 4], {}],
    [[1, 12, 12, 1], [5, 5, 1, 36], { padding: 1, stride: [1, 2] }],
    [[3, 12, 11, 1], [3, 3, 1, 8], { padding: "same" }], // M = 396: two slices of pixels
    // Windows over the padding go through a band of 4096 floats, KH rows of at most
    // ⌊4096 / (KH·C)⌋ pixels: here 97, so a row of 200 (or 100 at stride 2) output pixels
    // takes it in chunks of 92 (46), the last one shorter and odd.
    [[1, 5, 200, 7], [6, 6, 7, 8], { padding: "same" }],
    [[1, 8, 101, 7], [6, 6, 7, 4], { padding: "same", stride: 2 }],
    // A window 301 pixels wide does not fit in the band's 292: gathered one at a time.
    [[1, 4, 10, 7], [2, 2, 7, 8], { padding: "same", dilation: [1, 300] }],
    // F not a multiple of 4 (up to 63): a filter padded to ⌈F⌉₄, 64 pixels at a time.
    [[1, 6, 70, 1], [3, 3, 1, 6], { padding: "same" }], // LeNet's 1 → 6; M = 420: 7 chunks
    [[2, 7, 9, 3], [3, 3, 3, 10], { padding: "same", stride: 2 }],
    [[1, 5, 6, 2], [2, 2, 2, 63], {}],
    [[2, 5, 5, 1], [3, 3, 1, 1], { padding: 1 }],
  ];
  for (const [xs, fs, o] of cases) {
    it(label(xs, fs, o), async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const g = geo(xs, fs, o);
      const p = packed(g);
      const M = g.n * g.ho * g.wo;
      const K = g.kh * g.kw * g.c;
      const xv = randomArray(g.n * g.h * g.w * g.c, 29);
      const fv = randomArray(K * g.f, 31);
      fv[5] = Infinity;
      fv[K * g.f - 2] = -Infinity;
      const P = new Float32Array(M * K);
      let padded = false;
      for (let n = 0, r = 0; n < g.n; n++) for (let oy = 0; oy < g.ho; oy++) for (let ox = 0; ox < g.wo; ox++, r++) {
        let q = 0;
        for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
          const iy = oy * g.sh - g.pt + ky * g.dh;
          const ix = ox * g.sw - g.pl + kx * g.dw;
          const inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
          padded ||= !inside;
          for (let c = 0; c < g.c; c++, q++) P[r * K + q] = inside ? xv[((n * g.h + iy) * g.w + ix) * g.c + c]! : 0;
        }
      }
      const X = guarded(sg, xv.length), F = guarded(sg, fv.length), Y = guarded(sg, M * g.f);
      const PB = guarded(sg, M * K), Z = guarded(sg, M * g.f);
      // The convolution's scratch (exactly its rule's size, inside guard bands as large) and
      // the GEMM's own.
      const sf = Math.ceil(Math.max(16, convScratchBytes(M, K, g.f)) / 16) * 4;
      const SC = guarded(sg, sf, sf);
      const scratch = SC.ptr;
      const gscratch = sg.rt.arena.alloc(Math.max(16, gemmScratchBytes(M, g.f, K), gemmScratchBytes(K, g.f, M)), "test");
      try {
        X.set(xv);
        F.set(fv);
        PB.set(P);
        k.gemm(0, 0, M, g.f, K, 1, PB.ptr, K, F.ptr, g.f, 0, Z.ptr, g.f, gscratch);
        const want = Array.from(Z.view());
        expect(want.some(Number.isNaN)).toBe(padded); // 0·Inf in a window over the padding
        k.conv2d_forward(X.ptr, F.ptr, Y.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 0, M, scratch);
        expect(Array.from(Y.view())).toEqual(want);
        // An odd range of rows (pairs start one pixel later); the others stay NaN.
        Y.set(new Float32Array(M * g.f).fill(NaN));
        k.conv2d_forward(X.ptr, F.ptr, Y.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, 3, M - 4, scratch);
        const got = Array.from(Y.view());
        for (let i = 0; i < got.length; i++) {
          const row = Math.floor(i / g.f);
          if (row >= 3 && row < M - 1) expect(Object.is(got[i], want[i]), `element ${i}`).toBe(true);
          else expect(got[i]).toBeNaN();
        }

        // The filter gradient df = Pᵀ·dy (direct when the filter block's width is a multiple
        // of 4): the whole of it, then accumulated into df, then an inner block accumulated.
        const dyv = randomArray(M * g.f, 37);
        dyv[7] = Infinity;
        const DY = guarded(sg, M * g.f), DF = guarded(sg, K * g.f), W = guarded(sg, K * g.f);
        try {
          DY.set(dyv);
          const base = Float32Array.from(randomArray(K * g.f, 41));
          const fil = (acc: number, q0: number, qn: number, f0: number, fn: number) =>
            k.conv2d_backward_filter(X.ptr, DY.ptr, DF.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, p.ks, p.st, p.dl, p.pd, q0, qn, f0, fn, acc, scratch);
          const ref = (beta: number, q0: number, qn: number, f0: number, fn: number) =>
            k.gemm(1, 0, qn, fn, M, 1, PB.ptr + 4 * q0, K, DY.ptr + 4 * f0, g.f, beta, W.ptr + 4 * (q0 * g.f + f0), g.f, gscratch);
          for (const [acc, q0, qn, f0, fn] of [[0, 0, K, 0, g.f], [1, 0, K, 0, g.f], [1, 1, K - 2, 4, g.f - 4]] as const) {
            if (qn <= 0 || fn <= 0) continue;
            DF.set(base);
            W.set(base);
            fil(acc, q0, qn, f0, fn);
            ref(acc, q0, qn, f0, fn);
            const got = Array.from(DF.view()), want = Array.from(W.view());
            for (let i = 0; i < got.length; i++) expect(Object.is(got[i], want[i]), `filter gradient (${acc}, ${q0}, ${qn}, ${f0}, ${fn}) element ${i}: ${got[i]} vs ${want[i]}`).toBe(true);
          }
          for (const b of [DY, DF, W]) b.check();
        } finally {
          for (const b of [DY, DF, W]) b.free();
        }
        for (const b of [X, F, Y, PB, Z, SC]) b.check();
      } finally {
        sg.rt.arena.release(gscratch);
        for (const b of [X, F, Y, PB, Z, SC]) b.free();
      }
    });
  }
});
