/**
 * GEMM family: the gemm, gemm_bias_act and outer kernels against float64 references, and
 * the matmul / outer ops (shapes, eager API, errors, gradients).
 *
 * Tolerance of a GEMM element: |got − want| ≤ (k + 4)·2⁻²³·(|α|·Σ_p |a_ip||b_pj| + |β||c_ij|),
 * the forward error bound of a k-term f32 dot product (with room for the α, β scaling),
 * relative to the magnitude of the terms rather than of the (possibly cancelling) sum.
 */
import { describe, expect, it } from "vitest";
import type { SimdGrad, Tensor } from "../src/index.js";
import { gemmScratchBytes, matmulOp, outerOp } from "../src/ops/matmul.js";
import type { Buf } from "../src/ops/op.js";
import { BUILD, type GemmCase, type Guarded, guarded, kernels, randomArray, runtime } from "./helpers.js";

const U = 2 ** -23;

/** A stored rows × cols matrix with row stride ld inside NaN guard bands; the gaps between
 *  rows are NaN too, so a kernel reading them would poison its result. */
interface Stored {
  g: Guarded;
  rows: number;
  cols: number;
  ld: number;
  /** Row-major logical values (rows × cols), as stored. */
  vals: Float32Array;
}

function stored(sg: SimdGrad, rows: number, cols: number, ld: number, seed: number, fill = true): Stored {
  const n = rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
  const g = guarded(sg, n);
  const vals = fill ? randomArray(rows * cols, seed) : new Float32Array(rows * cols).fill(NaN);
  if (fill) {
    const v = g.view();
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) v[i * ld + j] = vals[i * cols + j]!;
  }
  return { g, rows, cols, ld, vals };
}

/** The logical values of a stored matrix, read back. */
function readStored(s: Stored): Float32Array {
  const v = s.g.view();
  const out = new Float32Array(s.rows * s.cols);
  for (let i = 0; i < s.rows; i++) for (let j = 0; j < s.cols; j++) out[i * s.cols + j] = v[i * s.ld + j]!;
  return out;
}

/** Asserts the row gaps of a stored matrix are still NaN (nothing written between rows). */
function checkGaps(s: Stored, what: string): void {
  const v = s.g.view();
  if (s.cols === 0) return s.g.check();
  for (let i = 0; i + 1 < s.rows; i++) {
    for (let j = s.cols; j < s.ld; j++) {
      if (!Number.isNaN(v[i * s.ld + j]!)) throw new Error(`${what}: gap after row ${i} written at column ${j}`);
    }
  }
  s.g.check();
}

/** float64 α·op(A)·op(B) + β·C0 and the per-element magnitude bound. */
function refGemm(
  tA: boolean, tB: boolean, m: number, n: number, k: number, alpha: number,
  A: Float32Array, B: Float32Array, beta: number, C0: Float32Array | null,
): { want: Float64Array; mag: Float64Array } {
  // A logical is (tA ? k × m : m × k), B logical is (tB ? n × k : k × n), both dense here.
  const want = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let sa = 0;
      for (let p = 0; p < k; p++) {
        const a = tA ? A[p * m + i]! : A[i * k + p]!;
        const b = tB ? B[j * k + p]! : B[p * n + j]!;
        s += a * b;
        sa += Math.abs(a * b);
      }
      let w = alpha * s;
      let mg = Math.abs(alpha) * sa;
      if (beta !== 0 && C0) {
        w += beta * C0[i * n + j]!;
        mg += Math.abs(beta * C0[i * n + j]!);
      }
      want[i * n + j] = w;
      mag[i * n + j] = mg;
    }
  }
  return { want, mag };
}

function expectGemmClose(got: Float32Array, want: Float64Array, mag: Float64Array, k: number, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const tol = (k + 4) * U * mag[i]! + 1e-30;
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol)) {
      throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (error ${err.toExponential(2)}, tolerance ${tol.toExponential(2)})`);
    }
  }
}

/** Bit-for-bit equality of two arrays (cheap enough for large ones). */
function expectSame(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${what}: element ${i} changed from ${want[i]} to ${got[i]}`);
  }
}

type Case = GemmCase;

/** Runs one gemm case through the kernel with guarded, strided buffers and checks it. */
function runGemm(sg: SimdGrad, c: Case, seed: number): void {
  const { tA, tB, m, n, k, alpha, beta, pad } = c;
  const what = `gemm ${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${k} α=${alpha} β=${beta} pad=${pad}`;
  const [ar, ac] = tA ? [k, m] : [m, k];
  const [br, bc] = tB ? [n, k] : [k, n];
  const A = stored(sg, ar, ac, ac + pad[0], seed);
  const B = stored(sg, br, bc, bc + pad[1], seed + 1);
  const C = stored(sg, m, n, n + pad[2], seed + 2, beta !== 0);
  const scratchBytes = gemmScratchBytes(m, n, k);
  const scratch = sg.rt.arena.alloc(scratchBytes, "test");
  try {
    const { want, mag } = refGemm(tA, tB, m, n, k, alpha, A.vals, B.vals, beta, beta !== 0 ? C.vals : null);
    kernels(sg).gemm(tA ? 1 : 0, tB ? 1 : 0, m, n, k, alpha, A.g.ptr, A.ld, B.g.ptr, B.ld, beta, C.g.ptr, C.ld, scratch);
    expectGemmClose(readStored(C), want, mag, k, what);
    checkGaps(A, `${what} A`);
    checkGaps(B, `${what} B`);
    checkGaps(C, `${what} C`);
    // The inputs are untouched.
    expectSame(readStored(A), A.vals, `${what} A`);
    expectSame(readStored(B), B.vals, `${what} B`);
  } finally {
    sg.rt.arena.release(scratch);
    A.g.free();
    B.g.free();
    C.g.free();
  }
}

const TRANS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/**
 * The endings the row-equality tests run: plain gemm (α = −0.75, β = 0.5 on C0), or
 * gemm_bias_act with ReLU or leaky ReLU (slope 0.1) in the tiles, writing Z, or tanh (applied
 * after the tiles, no Z).
 */
type Ending = "gemm" | "relu+z" | "leaky+z" | "tanh";
const ENDINGS: readonly Ending[] = ["gemm", "relu+z", "leaky+z", "tanh"];

/**
 * C and Z of one product through `ending`: op(A) (rows × kk) from A stored with row stride
 * lda, op(B) (kk × n) from B with ldb, the first rows·n values of C0 as C.
 */
function endedProduct(
  sg: SimdGrad, ending: Ending, tA: boolean, tB: boolean, rows: number, n: number, kk: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, C0: Float32Array, bias: Float32Array,
): [Float32Array, Float32Array] {
  const k = kernels(sg);
  const act = ending === "tanh" ? 3 : ending === "relu+z" ? 5 : ending === "leaky+z" ? 6 : 0;
  const [a, b, bi] = [sg.tensor([A.length], A), sg.tensor([B.length], B), sg.tensor([n], bias)];
  const c = sg.tensor([rows * n], C0.subarray(0, rows * n));
  const z = sg.tensor([rows * n], new Float32Array(rows * n));
  const scratch = sg.rt.arena.alloc(gemmScratchBytes(rows, n, kk), "test");
  if (ending === "gemm") k.gemm(tA ? 1 : 0, tB ? 1 : 0, rows, n, kk, -0.75, a.ptr, lda, b.ptr, ldb, 0.5, c.ptr, n, scratch);
  else k.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, rows, n, kk, a.ptr, lda, b.ptr, ldb, bi.ptr, act, 0.1, ending === "tanh" ? 0 : z.ptr, c.ptr, n, scratch);
  sg.rt.arena.release(scratch);
  const out: [Float32Array, Float32Array] = [c.toArray(), z.toArray()];
  for (const t of [a, b, c, z, bi]) t.dispose();
  return out;
}

/** The float64 value `ending` gives an element whose dot product is `sum`, with C0's value c0 and bias b. */
function endedValue(ending: Ending, sum: number, c0: number, b: number): number {
  if (ending === "gemm") return -0.75 * sum + 0.5 * c0;
  const v = sum + b;
  return ending === "tanh" ? Math.tanh(v) : v > 0 ? v : ending === "relu+z" ? 0 : 0.1 * v;
}

/**
 * For each [m, n, k, tB, ldb] (op(A) = A, k floats a row; B's rows ldb floats apart, n × k if
 * tB, else k × n): the m-row product gives, through every ending, the bits of the same rows of
 * a 72-row product (the usual loops), and its corners are right against float64.
 */
function expectRowsOfLarger(sg: SimdGrad, cases: readonly (readonly [number, number, number, boolean, number])[], seed: number): void {
  const big = 72;
  for (const [m, n, kk, tB, ldb] of cases) {
    const A = randomArray(big * kk, seed++);
    const B = randomArray(tB ? n * ldb : kk * ldb, seed++);
    const C0 = randomArray(big * n, seed++);
    const bias = randomArray(n, seed++);
    for (const ending of ENDINGS) {
      const [got, gotZ] = endedProduct(sg, ending, false, tB, m, n, kk, A, kk, B, ldb, C0, bias);
      const [all, allZ] = endedProduct(sg, ending, false, tB, big, n, kk, A, kk, B, ldb, C0, bias);
      const what = `${ending} ${tB ? "NT" : "NN"} m=${m} n=${n} k=${kk} ldb=${ldb}`;
      expectSame(got, all.subarray(0, m * n), what);
      expectSame(gotZ, allZ.subarray(0, m * n), `${what} (Z)`);
      for (const [i, j] of [[0, 0], [m - 1, n - 1], [m - 1, 0]] as const) {
        let sum = 0;
        for (let p = 0; p < kk; p++) sum += A[i * kk + p]! * B[tB ? j * ldb + p : p * ldb + j]!;
        const want = endedValue(ending, sum, C0[i * n + j]!, bias[j]!);
        expect(Math.abs(got[i * n + j]! - want), `${what}: C[${i}][${j}]`).toBeLessThan(1e-4 * (kk + 4));
      }
    }
  }
}

describe("gemm kernel", () => {
  it("gemm_scratch_bytes agrees with the TypeScript rule", async () => {
    const sg = await runtime();
    const dims = [0, 1, 3, 4, 5, 8, 9, 127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 5000];
    for (const m of dims) for (const n of dims) for (const k of dims) {
      expect(kernels(sg).gemm_scratch_bytes(m, n, k), `m=${m} n=${n} k=${k}`).toBe(gemmScratchBytes(m, n, k));
    }
    expect(gemmScratchBytes(100000, 100000, 100000)).toBeLessThan(1.3 * 2 ** 20);
  });

  it("every transpose case over sizes 0–17 in every dimension (α, β, leading dimensions varied)", async () => {
    const sg = await runtime();
    const S = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 16, 17];
    const ab: [number, number][] = [[1, 0], [-0.75, 0], [1.5, 1], [1, -0.5]];
    let seed = 1;
    for (const [tA, tB] of TRANS) {
      for (const m of S) for (const n of S) for (const k of S) {
        const i = m + 3 * n + 7 * k;
        const [alpha, beta] = ab[i % 4]!;
        const pad: [number, number, number] = [i % 3, (i >> 1) % 5, (i >> 2) % 3];
        runGemm(sg, { tA, tB, m, n, k, alpha, beta, pad }, seed++);
      }
    }
  });

  it("tile multiples with tails, and sizes across every blocking boundary (KC 256, MC 16, NC 512)", async () => {
    const sg = await runtime();
    const sizes: [number, number, number][] = [
      [4, 8, 256], [8, 16, 257], [12, 24, 255], [32, 64, 33], [33, 65, 31],
      [128, 40, 512], [129, 41, 513], [130, 1025, 20], [3, 1031, 300], [257, 9, 7],
      // matrix-vector shapes (their own unpacked paths): 32-column blocks, 4, scalar tails
      [1, 1000, 300], [1000, 1, 300], [1, 71, 9], [71, 1, 9], [1, 1, 1001], [2, 1, 5], [1, 2, 13],
      // B of 2^19 floats or more: one row reads B's rows in order (A·B), four panels a pass (3 rows)
      [1, 1030, 510], [3, 1030, 510],
      // … and 2–4 rows read B's rows in order too (gemm_rows_seq; A·B and Aᵀ·B): several slices,
      // an odd last slice (k = 513: one step), column tails of 1–3 and 5–7
      [2, 1030, 600], [4, 1027, 513], [3, 1031, 520], [2, 100, 301],
    ];
    let seed = 1000;
    for (const [tA, tB] of TRANS) {
      for (const [m, n, k] of sizes) {
        runGemm(sg, { tA, tB, m, n, k, alpha: 1, beta: 0, pad: [0, 0, 0] }, seed++);
        runGemm(sg, { tA, tB, m, n, k, alpha: -0.5, beta: 0.75, pad: [3, 1, 5] }, seed++);
      }
    }
  });

  it("one-row A·B (gemv, B's rows read in order in passes of 512 columns, or 32 columns at a time) sums each column in order q = 0…k−1, as float32 steps", async () => {
    // Each output is ((a₀b₀ + a₁b₁) + a₂b₂) + …, every product and sum rounded to float32
    // (the SIMD128 build; relaxed SIMD may fuse each step of the whole-vector columns, so
    // there those are held to the usual bound and the last n mod 4 columns, summed by scalar
    // steps in both builds, to the bits). Shapes on both sides of gemv_seq's bounds
    // (n ≥ 64, k ≥ 16, n·k ≥ 2^19), with several passes and tails; A strided (transposed).
    const sg = await runtime();
    const f = Math.fround;
    const shapes: [number, number][] = [[64, 8192], [513, 1030], [1027, 520], [1031, 300], [1000, 17], [70, 9], [64, 64], [32771, 16]];
    let seed = 4200;
    for (const tA of [false, true]) {
      for (const [n, k] of shapes) {
        const what = `gemm ${tA ? "T" : "N"}N m=1 n=${n} k=${k}`;
        const lda = tA ? 3 : k + 2; // op(A)[0][q] at q·lda (transposed: A is k × 1, stride 3)
        const A = stored(sg, tA ? k : 1, tA ? 1 : k, lda, seed++);
        const B = stored(sg, k, n, n + 5, seed++);
        const C = stored(sg, 1, n, n, seed++, false);
        const scratch = sg.rt.arena.alloc(gemmScratchBytes(1, n, k), "test");
        try {
          kernels(sg).gemm(tA ? 1 : 0, 0, 1, n, k, 1, A.g.ptr, A.ld, B.g.ptr, B.ld, 0, C.g.ptr, C.ld, scratch);
          const got = readStored(C);
          const { want, mag } = refGemm(tA, false, 1, n, k, 1, A.vals, B.vals, 0, null);
          for (let j = 0; j < n; j++) {
            let acc = 0;
            for (let q = 0; q < k; q++) acc = f(acc + f(A.vals[q]! * B.vals[q * n + j]!));
            const tail = j >= (n & ~3);
            if (BUILD === "simd" || tail) {
              if (!Object.is(got[j], acc)) throw new Error(`${what}: column ${j} is ${got[j]}, float32 steps give ${acc}`);
            } else if (!(Math.abs(got[j]! - want[j]!) <= (k + 4) * U * mag[j]! + 1e-30)) {
              throw new Error(`${what}: column ${j} is ${got[j]}, expected ${want[j]}`);
            }
          }
          checkGaps(B, `${what} B`);
          C.g.check();
        } finally {
          sg.rt.arena.release(scratch);
          A.g.free();
          B.g.free();
          C.g.free();
        }
      }
    }
  });

  it("layer-sized and large odd problems: 64×256×784, 784×256×64, 64×784×256, 266×265×131 (m×n×k)", async () => {
    const sg = await runtime();
    const sizes: [number, number, number][] = [[64, 256, 784], [784, 256, 64], [64, 784, 256], [266, 265, 131]];
    let seed = 2000;
    for (const [tA, tB] of TRANS) {
      for (const [m, n, k] of sizes) runGemm(sg, { tA, tB, m, n, k, alpha: 1, beta: 0, pad: [0, 0, 0] }, seed++);
    }
    runGemm(sg, { tA: false, tB: true, m: 266, n: 265, k: 131, alpha: 2, beta: 1, pad: [1, 2, 3] }, seed++);
  });

  it("narrow outputs (n ≤ 16, a classifier's last layer): every transpose case, n = 1–17, classifier shapes, several depth slices", async () => {
    const sg = await runtime();
    let seed = 3000;
    for (const [tA, tB] of TRANS) {
      // The three products of a 256 → 10 classifier layer at batch 64, as training issues them
      // (forward h·W, weight gradient hᵀ·dy with β = 1, input gradient dy·Wᵀ with β = 1).
      for (const [m, n, k, beta] of [[64, 10, 256, 0], [256, 10, 64, 1], [64, 256, 10, 1]] as const) {
        runGemm(sg, { tA, tB, m, n, k, alpha: 1, beta, pad: [0, 0, 0] }, seed++);
        runGemm(sg, { tA, tB, m, n, k, alpha: -0.5, beta: 0.75, pad: [1, 3, 2] }, seed++);
      }
      for (let n = 1; n <= 17; n++) {
        for (const [m, k] of [[2, 5], [7, 3], [65, 256], [13, 300], [6, 513]] as const) {
          const i = m + n + k;
          runGemm(sg, { tA, tB, m, n, k, alpha: i % 2 ? 1 : -1.25, beta: i % 3 === 0 ? 0 : 0.5, pad: [i % 3, n % 2, (i >> 1) % 3] }, seed++);
        }
      }
    }
  });

  it("narrow outputs give the same bits as the same columns of a wider product (the path taken never changes a result; n = 1 is the matrix-vector path, which sums in another order)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    let seed = 4000;
    for (const [tA, tB] of TRANS) {
      for (const [m, n, kk] of [[64, 10, 256], [256, 10, 64], [13, 2, 300], [9, 3, 17], [10, 5, 513], [7, 8, 40], [66, 12, 64], [5, 9, 7], [31, 16, 260], [130, 10, 513], [200, 4, 300], [129, 16, 70]] as const) {
        const wide = 40; // ≥ 17: the packed loops
        const [ar, ac] = tA ? [kk, m] : [m, kk];
        const A = randomArray(ar * ac, seed++);
        const Bw = randomArray(kk * wide, seed++); // op(B) of the wide product, kk × wide
        const B = new Float32Array(kk * n); // its first n columns, stored as op(B) needs
        for (let p = 0; p < kk; p++) for (let j = 0; j < n; j++) B[tB ? j * kk + p : p * n + j] = Bw[p * wide + j]!;
        const BwStored = new Float32Array(kk * wide);
        for (let p = 0; p < kk; p++) for (let j = 0; j < wide; j++) BwStored[tB ? j * kk + p : p * wide + j] = Bw[p * wide + j]!;
        const C0 = randomArray(m * wide, seed++);
        const bias = randomArray(wide, seed++);
        const run = (cols: number, bStored: Float32Array, fused: boolean): Float32Array => {
          const a = sg.tensor([A.length], A), b = sg.tensor([bStored.length], bStored);
          const cInit = new Float32Array(m * cols);
          for (let i = 0; i < m; i++) for (let j = 0; j < cols; j++) cInit[i * cols + j] = C0[i * wide + j]!;
          const c = sg.tensor([m * cols], cInit);
          const bi = sg.tensor([cols], bias.subarray(0, cols));
          const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, cols, kk), "test");
          if (fused) k.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, m, cols, kk, a.ptr, ac, b.ptr, tB ? kk : cols, bi.ptr, 3, 0, 0, c.ptr, cols, scratch);
          else k.gemm(tA ? 1 : 0, tB ? 1 : 0, m, cols, kk, 0.75, a.ptr, ac, b.ptr, tB ? kk : cols, 1, c.ptr, cols, scratch);
          sg.rt.arena.release(scratch);
          const out = c.toArray();
          for (const t of [a, b, c, bi]) t.dispose();
          return out;
        };
        for (const fused of [false, true]) {
          const got = run(n, B, fused);
          const all = run(wide, BwStored, fused);
          const want = new Float32Array(m * n);
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want[i * n + j] = all[i * wide + j]!;
          expectSame(got, want, `${fused ? "gemm_bias_act" : "gemm"} ${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${kk} against n=${wide}`);
        }
      }
    }
  });

  it("narrow Aᵀ·B with A's rows a multiple of 2 KiB apart and a depth slice spanning ≥ 4 MiB (read through strip copies): within bound, and the bits of the same columns of a wider product", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    let seed = 4400;
    // m = 582: nine whole strips of 64 rows and 6 rows read in place; lda 4096 and 6144 floats
    // (16 and 24 KiB, so the first slice of 256 rows spans 4 and 6 MiB and is copied; the
    // second, 44 rows, is read in place); k = 300: two depth slices; n over every narrow tile
    // (4 × 4, 4 × 8, 2 × 12 or in the relaxed build 3 × 12 with a 2 × 12 remainder, two 4 × 8
    // passes).
    for (const lda of [4096, 6144]) {
      for (const n of [3, 8, 10, 16]) {
        const m = 582, kk = 300, wide = 40;
        runGemm(sg, { tA: true, tB: n % 2 === 0, m, n, k: kk, alpha: 0.5, beta: n === 8 ? 0 : 0.25, pad: [lda - m, 1, 2] }, seed++);
        const A = randomArray(kk * lda, seed++);
        const Bw = randomArray(kk * wide, seed++);
        const bias = randomArray(wide, seed++);
        const run = (cols: number, fused: boolean): Float32Array => {
          const b = new Float32Array(kk * cols);
          for (let p = 0; p < kk; p++) for (let j = 0; j < cols; j++) b[p * cols + j] = Bw[p * wide + j]!;
          const ta = sg.tensor([A.length], A), tb = sg.tensor([b.length], b);
          const c = sg.tensor([m * cols], new Float32Array(m * cols).fill(0.5));
          const bi = sg.tensor([cols], bias.subarray(0, cols));
          const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, cols, kk), "test");
          if (fused) k.gemm_bias_act(1, 0, m, cols, kk, ta.ptr, lda, tb.ptr, cols, bi.ptr, 3, 0, 0, c.ptr, cols, scratch);
          else k.gemm(1, 0, m, cols, kk, -0.75, ta.ptr, lda, tb.ptr, cols, 1, c.ptr, cols, scratch);
          sg.rt.arena.release(scratch);
          const out = c.toArray();
          for (const t of [ta, tb, c, bi]) t.dispose();
          return out;
        };
        for (const fused of [false, true]) {
          const got = run(n, fused);
          const all = run(wide, fused);
          const want = new Float32Array(m * n);
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want[i * n + j] = all[i * wide + j]!;
          expectSame(got, want, `${fused ? "gemm_bias_act" : "gemm"} TN m=${m} n=${n} k=${kk} lda=${lda} against n=${wide}`);
        }
      }
    }
  });

  it("deep products (many rows, a small op(B), several depth slices: the slices run inside each row block) give the bits of the same rows computed alone", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    let seed = 4500;
    // [m, n, k]: whole column tiles; B read in place for its last slice (k - 256 = 100, n = 24);
    // a part tile at the end of each row (n = 200); an activation in the tiles (ReLU, 5) and
    // one after them (tanh, 3), with and without Z.
    const shapes = [[4096, 64, 600], [5464, 24, 356], [1000, 200, 600]] as const;
    for (const tB of [false, true]) {
      for (const [m, n, kk] of shapes) {
        const A = randomArray(m * kk, seed++);
        const B = randomArray(kk * n, seed++);
        const C0 = randomArray(m * n, seed++);
        const bias = randomArray(n, seed++);
        const ldb = tB ? kk : n;
        const r0 = Math.min(1037, m - 50); // rows [r0, r0 + 45) again, alone: the usual loop order
        const h = 45;
        for (const mode of ["gemm", "relu+z", "tanh"] as const) {
          const run = (rows: number, first: number): [Float32Array, Float32Array] => {
            const a = sg.tensor([rows * kk], A.subarray(first * kk, (first + rows) * kk));
            const b = sg.tensor([B.length], B);
            const c = sg.tensor([rows * n], C0.subarray(first * n, (first + rows) * n));
            const z = sg.tensor([rows * n], new Float32Array(rows * n));
            const bi = sg.tensor([n], bias);
            const scratch = sg.rt.arena.alloc(gemmScratchBytes(rows, n, kk), "test");
            if (mode === "gemm") k.gemm(0, tB ? 1 : 0, rows, n, kk, -0.75, a.ptr, kk, b.ptr, ldb, 0.5, c.ptr, n, scratch);
            else k.gemm_bias_act(0, tB ? 1 : 0, rows, n, kk, a.ptr, kk, b.ptr, ldb, bi.ptr, mode === "tanh" ? 3 : 5, 0, mode === "tanh" ? 0 : z.ptr, c.ptr, n, scratch);
            sg.rt.arena.release(scratch);
            const out: [Float32Array, Float32Array] = [c.toArray(), z.toArray()];
            for (const t of [a, b, c, z, bi]) t.dispose();
            return out;
          };
          const [all, allZ] = run(m, 0);
          const [part, partZ] = run(h, r0);
          const what = `${mode} N${tB ? "T" : "N"} m=${m} n=${n} k=${kk}, rows ${r0}…${r0 + h - 1}`;
          expectSame(all.subarray(r0 * n, (r0 + h) * n), part, what);
          expectSame(allZ.subarray(r0 * n, (r0 + h) * n), partZ, `${what} (Z)`);
          // And the sums are right: a few outputs against float64.
          for (const i of [0, 1, m - 1]) {
            for (const j of [0, n - 1]) {
              let s = 0;
              for (let p = 0; p < kk; p++) s += A[i * kk + p]! * B[tB ? j * kk + p : p * n + j]!;
              const v = mode === "gemm" ? -0.75 * s + 0.5 * C0[i * n + j]! : s + bias[j]!;
              const want = mode === "gemm" ? v : mode === "tanh" ? Math.tanh(v) : Math.max(v, 0);
              expect(Math.abs(all[i * n + j]! - want), `${what}: C[${i}][${j}]`).toBeLessThan(1e-4 * (kk + 4));
            }
          }
        }
      }
    }
  });

  it("Aᵀ·B with A's rows 1 KiB or more apart (each row block's lines of A copied before they are packed) gives the bits of the same product with A's rows close", async () => {
    const sg = await runtime();
    let seed = 4700;
    // [m, n, k]: several depth slices (600: 256 + 256 + 88; 257: a slice of one step), part
    // column tiles (n = 40, 24), a last row block of 2 rows (m = 50: not copied), 5 blocks.
    const shapes = [[48, 64, 600], [50, 40, 300], [200, 24, 257], [80, 136, 100]] as const;
    for (const tB of [false, true]) {
      for (const [m, n, kk] of shapes) {
        const op = randomArray(kk * m, seed++); // op(A)ᵀ = A, k rows of m
        const B = randomArray(kk * n, seed++);
        const C0 = randomArray(m * n, seed++);
        const bias = randomArray(n, seed++);
        const ldb = tB ? kk : n;
        const at = (lda: number): Float32Array => {
          const A = new Float32Array((kk - 1) * lda + m).fill(Number.NaN);
          for (let p = 0; p < kk; p++) A.set(op.subarray(p * m, (p + 1) * m), p * lda);
          return A;
        };
        for (const ending of ENDINGS) {
          const [near, nearZ] = endedProduct(sg, ending, true, tB, m, n, kk, at(m), m, B, ldb, C0, bias);
          for (const lda of [256, 1031, 4096]) {
            const [far, farZ] = endedProduct(sg, ending, true, tB, m, n, kk, at(lda), lda, B, ldb, C0, bias);
            const what = `${ending} T${tB ? "T" : "N"} m=${m} n=${n} k=${kk} lda=${lda}`;
            expectSame(far, near, what);
            expectSame(farZ, nearZ, `${what} (Z)`);
          }
          for (const [i, j] of [[0, 0], [m - 1, n - 1], [17, 5]] as const) {
            let sum = 0;
            for (let p = 0; p < kk; p++) sum += op[p * m + i]! * B[tB ? j * kk + p : p * n + j]!;
            const want = endedValue(ending, sum, C0[i * n + j]!, bias[j]!);
            expect(Math.abs(near[i * n + j]! - want), `${ending} m=${m} n=${n} k=${kk}: C[${i}][${j}]`).toBeLessThan(1e-4 * (kk + 4));
          }
        }
      }
    }
  });

  it("row blocks of 15 rows in 5 × 8 tiles (relaxed build: op(A) packed compact) give the bits of the same rows computed four at a time", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    let seed = 4900;
    // [m, n, k]: 64³ (four blocks of 15 and a part block of 4); two depth slices with a last
    // one of 3 steps (op(A) = A packs four steps at a time, then one by one) and a last block
    // of 1 row; two column panels (n = 1032); a deep product (slices inside each row block);
    // n = 203, a last part panel of 3 columns (4 × 8 tiles), in the usual order (B read in
    // place but for that panel where op(B) = B) and in the deep one.
    const shapes = [[64, 64, 64], [46, 24, 259], [31, 1032, 70], [2101, 64, 530], [46, 203, 259], [700, 203, 300]] as const;
    // gemm with α, β = (−0.75, 0.5), (1, 1) and (1, 0); the fused layer with bias and ReLU or none.
    const endings = [[-0.75, 0.5], [1, 1], [1, 0], ["relu"], ["bias"]] as const;
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const [m, n, kk] of shapes) {
          const A = randomArray(m * kk, seed++); // op(A) m × kk, stored as A (m × kk) or Aᵀ (kk × m)
          const B = randomArray(kk * n, seed++);
          const C0 = randomArray(m * n, seed++);
          const bias = randomArray(n, seed++);
          const lda = tA ? m : kk;
          const ldb = tB ? kk : n;
          const [a, b, bi] = [sg.tensor([A.length], A), sg.tensor([B.length], B), sg.tensor([n], bias)];
          for (const ending of endings) {
            // Rows [r0, r0 + rows) of the product into C (C0's rows as they were).
            const run = (r0: number, rows: number, c: Tensor): void => {
              const ap = a.ptr + 4 * (tA ? r0 : r0 * kk);
              const cp = c.ptr + 4 * r0 * n;
              const scratch = sg.rt.arena.alloc(gemmScratchBytes(rows, n, kk), "test");
              if (ending.length === 2) k.gemm(tA ? 1 : 0, tB ? 1 : 0, rows, n, kk, ending[0], ap, lda, b.ptr, ldb, ending[1], cp, n, scratch);
              else k.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, rows, n, kk, ap, lda, b.ptr, ldb, bi.ptr, ending[0] === "relu" ? 5 : 0, 0, 0, cp, n, scratch);
              sg.rt.arena.release(scratch);
            };
            const whole = sg.tensor([m * n], C0);
            run(0, m, whole);
            const fours = sg.tensor([m * n], C0);
            // (Never one row alone: that is the matrix-vector path, which sums in another order.)
            for (let r0 = 0, rows = 0; r0 < m; r0 += rows) {
              rows = m - r0 === 5 ? 5 : Math.min(4, m - r0);
              run(r0, rows, fours);
            }
            const got = whole.toArray();
            const what = `${ending.join(",")} ${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${kk}`;
            expectSame(got, fours.toArray(), what);
            for (const [i, j] of [[0, 0], [m - 1, n - 1], [16, 7], [29, n - 1]] as const) {
              let sum = 0;
              for (let q = 0; q < kk; q++) sum += A[tA ? q * m + i : i * kk + q]! * B[tB ? j * kk + q : q * n + j]!;
              const v = ending.length === 2 ? ending[0] * sum + ending[1] * C0[i * n + j]! : sum + bias[j]!;
              const want = ending[0] === "relu" ? Math.max(v, 0) : v;
              expect(Math.abs(got[i * n + j]! - want), `${what}: C[${i}][${j}]`).toBeLessThan(1e-4 * (kk + 4));
            }
            whole.dispose();
            fours.dispose();
          }
          for (const t of [a, b, bi]) t.dispose();
        }
      }
    }
  });

  it("a last micro-panel of one or two rows (m = 4j + 1 or 4j + 2, a batch that is not a multiple of 4: 2 × 16 tiles) gives the bits of the same rows inside whole panels", async () => {
    const sg = await runtime();
    let seed = 4700;
    // [m, n, k]: pairs of whole 8-column panels, then an odd panel and a part one (n = 45, 17);
    // several depth slices (k = 300, 520); B read in place (N·N, n = 32 and 24 with k·n ≤ 4096).
    const shapes = [[5, 45, 300], [2, 24, 77], [6, 200, 33], [33, 32, 100], [34, 64, 520], [9, 17, 40]] as const;
    for (const [tA, tB] of TRANS) {
      for (const [m, n, kk] of shapes) {
        const big = m + 4 - (m % 4) + 4; // the same rows and more, every one of them in a whole panel
        const A = randomArray(big * kk, seed++);
        const B = randomArray(kk * n, seed++);
        const C0 = randomArray(big * n, seed++);
        const bias = randomArray(n, seed++);
        const lda = tA ? big : kk; // Aᵀ stored k × big: the m-row product reads its first m columns
        const ldb = tB ? kk : n;
        for (const ending of ENDINGS) {
          const [part, partZ] = endedProduct(sg, ending, tA, tB, m, n, kk, A, lda, B, ldb, C0, bias);
          const [all, allZ] = endedProduct(sg, ending, tA, tB, big, n, kk, A, lda, B, ldb, C0, bias);
          const what = `${ending} ${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${kk}`;
          expectSame(part, all.subarray(0, m * n), what);
          expectSame(partZ, allZ.subarray(0, m * n), `${what} (Z)`);
          // And the last row's sums are right: a few outputs against float64.
          const i = m - 1;
          for (const j of [0, 15, 16, n - 1]) {
            if (j >= n) continue;
            let sum = 0;
            for (let p = 0; p < kk; p++) sum += A[tA ? p * big + i : i * kk + p]! * B[tB ? j * kk + p : p * n + j]!;
            const want = endedValue(ending, sum, C0[i * n + j]!, bias[j]!);
            expect(Math.abs(part[i * n + j]! - want), `${what}: C[${i}][${j}]`).toBeLessThan(1e-4 * (kk + 4));
          }
        }
      }
    }
  });

  it("shallow products (k ≤ 16, e.g. a classifier's input gradient dy·Wᵀ): every transpose case, k = 1–17, wide and two-panel n", async () => {
    const sg = await runtime();
    let seed = 3500;
    for (const [tA, tB] of TRANS) {
      for (let k = 1; k <= 17; k++) {
        for (const [m, n] of [[64, 256], [5, 17], [13, 41], [3, 600]] as const) {
          const i = m + n + k;
          const [alpha, beta] = ([[1, 1], [1, 0], [-0.5, 0.75], [1.25, 1]] as const)[i % 4]!;
          runGemm(sg, { tA, tB, m, n, k, alpha, beta, pad: [i % 2, k % 3, (i >> 1) % 3] }, seed++);
        }
      }
    }
  });

  it("shallow products give the bits of the general packed loops (a zero bias sends the same product there)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    let seed = 4500;
    for (const [tA, tB] of TRANS) {
      for (const [m, n, kk] of [[64, 256, 10], [5, 17, 1], [13, 41, 16], [3, 600, 7], [66, 40, 3]] as const) {
        const A = sg.tensor([m * kk], randomArray(m * kk, seed++));
        const B = sg.tensor([kk * n], randomArray(kk * n, seed++));
        const zeros = sg.tensor([n], new Float32Array(n));
        const c1 = sg.tensor([m * n], new Float32Array(m * n));
        const c2 = sg.tensor([m * n], new Float32Array(m * n));
        const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, n, kk), "test");
        const [lda, ldb] = [tA ? m : kk, tB ? kk : n];
        k.gemm(tA ? 1 : 0, tB ? 1 : 0, m, n, kk, 1, A.ptr, lda, B.ptr, ldb, 0, c1.ptr, n, scratch);
        k.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, m, n, kk, A.ptr, lda, B.ptr, ldb, zeros.ptr, 0, 0, 0, c2.ptr, n, scratch);
        sg.rt.arena.release(scratch);
        expectSame(c1.toArray(), c2.toArray(), `${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${kk}`);
        for (const t of [A, B, zeros, c1, c2]) t.dispose();
      }
    }
  });

  it("B read in place (whole 8-column panels: a small B, a product of at most 64 rows with B's rows at most 2 KiB apart, or of at most 4 rows (relaxed: 16) with them at most 800 floats apart) gives the bits of the same B packed (stored with a wider row stride: one micro-panel a pass, or two at a stride a multiple of 64 floats)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    let seed = 4600;
    // [m, n, k], read in place at ldb = n and packed at two wider strides (rows more than 2 KiB
    // apart, more than 4096 floats a slice): k·n ≤ 4096 (a small B); m ≤ 64 and n ≤ 512 (a
    // small batch through a layer; several depth slices at k = 300 and 600, m = 64 at the
    // bound; n = 100, 50, 17: whole panels in place and the last part panel packed), packed at
    // 520 and 576 floats; or m ≤ 4 (16 in the relaxed build) and n ≤ 800 (n = 645 and 781
    // with part panels). Products of at most 16 rows are packed at 1000 and 1024 instead (the
    // relaxed build reads 520 and 576 in place there). At 576 and 1024, multiples of 64,
    // pack_b copies two micro-panels a pass (the last whole one alone when their count is odd).
    const shapes = [[40, 64, 64], [30, 240, 17], [40, 24, 170], [9, 32, 128], [33, 16 * 8, 32], [5, 256, 300], [64, 512, 40], [2, 8, 600], [16, 64, 100], [32, 100, 300], [3, 50, 100], [9, 17, 40], [64, 500, 20], [4, 800, 300], [3, 645, 40], [2, 768, 20], [4, 781, 17], [12, 700, 50], [16, 784, 300], [6, 775, 20]] as const;
    for (const [m, n, kk] of shapes) {
      expect(kk * n <= 4096 || (m <= 64 && n <= 512) || (m <= 16 && n <= 800)).toBe(true);
      expect(kk * 520).toBeGreaterThan(4096);
      const A = sg.tensor([m * kk], randomArray(m * kk, seed++));
      const vals = randomArray(kk * n, seed++);
      const bias = sg.tensor([n], randomArray(n, seed++));
      const c0 = randomArray(m * n, seed++);
      const outs: Float32Array[] = [];
      const packed = m <= 16 ? [1000, 1024] : [520, 576];
      for (const ldb of [n, ...packed]) {
        const b = new Float32Array(kk * ldb).fill(NaN);
        for (let p = 0; p < kk; p++) for (let j = 0; j < n; j++) b[p * ldb + j] = vals[p * n + j]!;
        const B = sg.tensor([b.length], b);
        const c1 = sg.tensor([m * n], c0);
        const c2 = sg.tensor([m * n], new Float32Array(m * n));
        const c3 = sg.tensor([m * n], new Float32Array(m * n));
        const z3 = sg.tensor([m * n], new Float32Array(m * n));
        const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, n, kk), "test");
        k.gemm(0, 0, m, n, kk, -0.75, A.ptr, kk, B.ptr, ldb, 0.5, c1.ptr, n, scratch);
        k.gemm_bias_act(0, 0, m, n, kk, A.ptr, kk, B.ptr, ldb, bias.ptr, 5, 0, 0, c2.ptr, n, scratch);
        k.gemm_bias_act(0, 0, m, n, kk, A.ptr, kk, B.ptr, ldb, bias.ptr, 6, 0.1, z3.ptr, c3.ptr, n, scratch);
        sg.rt.arena.release(scratch);
        outs.push(c1.toArray(), c2.toArray(), c3.toArray(), z3.toArray());
        for (const t of [B, c1, c2, c3, z3]) t.dispose();
      }
      expectSame(outs[4]!, outs[0]!, `gemm m=${m} n=${n} k=${kk}`);
      expectSame(outs[5]!, outs[1]!, `gemm_bias_act m=${m} n=${n} k=${kk}`);
      expectSame(outs[6]!, outs[2]!, `gemm_bias_act leaky ReLU m=${m} n=${n} k=${kk}`);
      expectSame(outs[7]!, outs[3]!, `gemm_bias_act leaky ReLU m=${m} n=${n} k=${kk} (Z)`);
      for (let i = 0; i < 4; i++) expectSame(outs[8 + i]!, outs[i]!, `ldb ${packed[1]}, output ${i}: m=${m} n=${n} k=${kk}`);
      // And the last column is right (in place, its part panel packed): against float64.
      const Av = A.toArray();
      for (const i of [0, m - 1]) {
        let sum = 0;
        for (let p = 0; p < kk; p++) sum += Av[i * kk + p]! * vals[p * n + n - 1]!;
        const want = -0.75 * sum + 0.5 * c0[i * n + n - 1]!;
        expect(Math.abs(outs[0]![i * n + n - 1]! - want), `gemm m=${m} n=${n} k=${kk}: C[${i}][${n - 1}]`).toBeLessThan(1e-4 * (kk + 4));
      }
      for (const t of [A, bias]) t.dispose();
    }
  });

  it("few columns and more rows (17 ≤ n ≤ 192, m ≥ 2n: run as Cᵀ = op(B)ᵀ·op(A)ᵀ): every transpose case, edge tiles, several depth slices and row panels", async () => {
    const sg = await runtime();
    let seed = 4700;
    const sizes: [number, number, number][] = [
      [256, 17, 5], [256, 96, 256], [257, 33, 257], [300, 64, 576], [517, 20, 17], [1030, 95, 40], [263, 61, 1], [600, 24, 513],
      [384, 192, 100], [389, 190, 30], [34, 17, 33], [1040, 150, 257],
    ];
    for (const [tA, tB] of TRANS) {
      for (const [m, n, k] of sizes) {
        runGemm(sg, { tA, tB, m, n, k, alpha: 1, beta: 0, pad: [0, 0, 0] }, seed++);
        runGemm(sg, { tA, tB, m, n, k, alpha: -0.5, beta: 0.75, pad: [2, 1, 3] }, seed++);
      }
    }
  });

  it("the transposed path gives the bits of the untransposed one (the first rows of a product with fewer than 2n rows, and the first columns of a product wider than 192)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    let seed = 4800;
    for (const [tA, tB] of TRANS) {
      // (n = 30, 45, 100: in the relaxed build, blocks of 15 columns as 5 × 8 tiles: rows5_t)
      for (const [m, n, kk] of [[300, 64, 576], [256, 17, 40], [517, 96, 300], [260, 30, 7], [400, 192, 33], [300, 100, 300], [200, 45, 40]] as const) {
        const A = randomArray(m * kk, seed++);
        const W = 200; // > 192 columns: the untransposed loops
        const B = randomArray(kk * W, seed++); // op(B) of the widest product, kk × W
        const C0 = randomArray(m * W, seed++);
        const bias = randomArray(W, seed++);
        /** rows × cols of act(α·op(A)·op(B) + β·C0 + bias) (the first rows of A, first columns of op(B)). */
        const run = (rows: number, cols: number, fused: boolean): Float32Array => {
          const a = new Float32Array(rows * kk);
          for (let i = 0; i < rows; i++) for (let p = 0; p < kk; p++) a[tA ? p * rows + i : i * kk + p] = A[i * kk + p]!;
          const b = new Float32Array(kk * cols);
          for (let p = 0; p < kk; p++) for (let j = 0; j < cols; j++) b[tB ? j * kk + p : p * cols + j] = B[p * W + j]!;
          const c = new Float32Array(rows * cols);
          for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) c[i * cols + j] = C0[i * W + j]!;
          const [ta, tb, tc, tbi] = [sg.tensor([a.length], a), sg.tensor([b.length], b), sg.tensor([c.length], c), sg.tensor([cols], bias.subarray(0, cols))];
          const scratch = sg.rt.arena.alloc(gemmScratchBytes(rows, cols, kk), "test");
          const [lda, ldb] = [tA ? rows : kk, tB ? kk : cols];
          if (fused) k.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, rows, cols, kk, ta.ptr, lda, tb.ptr, ldb, tbi.ptr, 3, 0, 0, tc.ptr, cols, scratch);
          else k.gemm(tA ? 1 : 0, tB ? 1 : 0, rows, cols, kk, 0.75, ta.ptr, lda, tb.ptr, ldb, 1, tc.ptr, cols, scratch);
          sg.rt.arena.release(scratch);
          const out = tc.toArray();
          for (const t of [ta, tb, tc, tbi]) t.dispose();
          return out;
        };
        for (const fused of [false, true]) {
          const got = run(m, n, fused);
          const what = `${fused ? "gemm_bias_act" : "gemm"} ${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${kk}`;
          // 2n − 1 rows: the untransposed loops.
          const rows = 2 * n - 1;
          const fewer = run(rows, n, fused);
          expectSame(got.subarray(0, rows * n), fewer, `${what} against m=${rows}`);
          const wide = run(m, W, fused);
          const want = new Float32Array(m * n);
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want[i * n + j] = wide[i * W + j]!;
          expectSame(got, want, `${what} against n=${W}`);
        }
      }
    }
  });

  it("A·Bᵀ with 8 or 16 rows (a small batch's input gradient, run transposed) gives the bits of the same rows of a larger product (the usual loops)", async () => {
    // [m, n, k]: several depth slices (k = 600), a part tile at the end of each row (n = 45), a
    // B wider than a panel of C's rows (n = 530 > 512), the bound n = 2m.
    const cases = [[8, 256, 100], [16, 45, 600], [8, 530, 33], [16, 32, 70]] as const;
    expectRowsOfLarger(await runtime(), cases.map(([m, n, kk]) => [m, n, kk, true, kk] as const), 4900);
  });

  it("up to 16 rows with B packed a panel or two at a time (four where B has 2^19 floats or more), just before the tiles (A·Bᵀ; A·B with B's rows over 512 or 800 floats apart) gives the bits of the same rows of a larger product", async () => {
    // [m, n, k, tB, ldb]: several depth slices (k = 300, 600), a part tile at the end of each
    // row (n = 45, 100, 77), two column panels of C (n = 530, 1000 > 512), 2 × 16 tiles (m = 2,
    // and the last micro-panel at m = 6, 13), several micro-panels (m = 6–15), A·B with B
    // 600 or 1000 floats apart; A·B with n·k ≥ 2^19 (four panels a pass, a last pass of 3
    // columns, C's second column panel, 2 × 16 tiles at 14 rows), and one row of it (B's rows
    // read in order, gemv_rows_seq; k = 256, one depth slice, so the tiles' sums are the same,
    // and so are the endings: β, bias, Z over five passes of 512 columns).
    const cases = [
      [4, 45, 600, true, 600], [3, 530, 33, true, 33], [2, 100, 300, true, 300], [4, 24, 70, true, 70],
      [6, 100, 300, true, 300], [12, 45, 40, true, 40], [13, 530, 20, true, 20], [15, 24, 600, true, 600],
      [4, 1000, 40, false, 1000], [2, 77, 300, false, 1000], [3, 64, 20, false, 1000],
      [6, 100, 300, false, 1000], [13, 45, 40, false, 1000], [11, 530, 20, false, 600],
      [3, 1027, 520, false, 1030], [14, 1040, 512, false, 1040], [1, 2100, 256, false, 2100],
      // 2–4 rows reading B's rows in order (gemm_rows_seq): B from memory (n·k ≥ 2^19) over
      // several slices, an odd last slice, two column panels with a tail (n = 1031: 7 and 3
      // columns past the last whole 8 and 4); B packed otherwise (rows 1000 floats apart, an
      // odd slice of 17 and 257 steps); three rows (a fourth row of sums made and unused)
      [2, 1031, 600, false, 1031], [4, 1030, 513, false, 1030], [3, 1027, 301, false, 1027],
      [4, 64, 17, false, 1000], [2, 100, 257, false, 1000], [3, 70, 40, false, 1000],
      // 5–12 rows, four at a time, with B packed: a last group of one (m = 5, 9), two, three
      [5, 77, 300, false, 1000], [9, 64, 20, false, 1000], [10, 530, 257, false, 1030], [12, 100, 33, false, 600],
    ] as const;
    expectRowsOfLarger(await runtime(), cases, 5100);
  });

  it("α = 0 or k = 0 gives C ← β·C without reading A or B; β = 0 does not read C", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const [m, n, kk, alpha] of [[5, 9, 0, 1], [5, 9, 7, 0], [16, 16, 0, 2], [3, 2, 300, 0], [40, 17, 0, 1], [300, 64, 7, 0], [70, 20, 300, 0]] as const) {
      for (const beta of [0, 0.5, 1]) {
        const nanA = guarded(sg, Math.max(m * kk, 1)); // all NaN
        const nanB = guarded(sg, Math.max(kk * n, 1));
        const C = stored(sg, m, n, n + 1, 7);
        if (beta === 0) C.g.view().fill(NaN);
        const before = readStored(C);
        const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, n, kk), "test");
        k.gemm(0, 0, m, n, kk, alpha, nanA.ptr, kk, nanB.ptr, n, beta, C.g.ptr, n + 1, scratch);
        const got = readStored(C);
        for (let i = 0; i < got.length; i++) {
          expect(got[i], `m=${m} n=${n} k=${kk} α=${alpha} β=${beta} [${i}]`).toBe(beta === 0 ? 0 : Math.fround(beta * before[i]!));
        }
        C.g.check();
        sg.rt.arena.release(scratch);
        nanA.free();
        nanB.free();
        C.g.free();
      }
    }
  });

  it("m = 0 or n = 0 touches nothing", async () => {
    const sg = await runtime();
    const C = guarded(sg, 0);
    kernels(sg).gemm(0, 0, 0, 5, 3, 1, 0, 3, 0, 5, 0, C.ptr, 5, 0);
    kernels(sg).gemm(1, 1, 4, 0, 3, 1, 0, 4, 0, 3, 0, C.ptr, 0, 0);
    C.check();
    C.free();
  });
});

// ------------------------------------------------------------------ fused epilogue

const ACT = {
  identity: 0, step: 1, sigmoid: 2, tanh: 3, hardTanh: 4, relu: 5, leakyRelu: 6, swish: 7, gelu: 8, geluTanh: 9,
} as const;

/** erf in float64: Taylor series near 0, continued fraction for erfc beyond. */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let K = a;
  for (let n = 60; n >= 1; n--) K = a + n / 2 / K;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / K;
  return Math.sign(x) * (1 - erfc);
}

/** Standard normal CDF without cancellation for x ≪ 0. */
function Phi(x: number): number {
  if (x < -2.5 * Math.SQRT2) {
    const a = -x / Math.SQRT2;
    let K = a;
    for (let n = 60; n >= 1; n--) K = a + n / 2 / K;
    return (0.5 * Math.exp(-a * a)) / Math.sqrt(Math.PI) / K;
  }
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

function act64(kind: number, x: number, p: number): number {
  const sig = (v: number) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
  switch (kind) {
    case ACT.step: return x > p ? 1 : 0;
    case ACT.sigmoid: return sig(x);
    case ACT.tanh: return Math.tanh(x);
    case ACT.hardTanh: return Math.min(1, Math.max(-1, x));
    case ACT.relu: return Math.max(0, x);
    case ACT.leakyRelu: return x > 0 ? x : p * x;
    case ACT.swish: return x * sig(x);
    case ACT.gelu: return x * Phi(x);
    case ACT.geluTanh: return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    default: return x;
  }
}

describe("gemm_bias_act kernel (fused linear layer)", () => {
  it("every activation, with and without bias and z, over edge tiles and several depth slices", async () => {
    const sg = await runtime();
    const kr = kernels(sg);
    const sizes: [number, number, number][] = [
      [1, 1, 1], [3, 5, 7], [4, 8, 16], [13, 17, 300], [64, 40, 20], [6, 9, 0],
      [1, 70, 9], [70, 1, 13], [1, 3, 300], [5, 1, 2],
      // narrow outputs (op(B) packed, op(A) read in place): 1–4, 5–8, 9–12 and 13–16 columns
      [64, 10, 256], [7, 12, 40], [10, 16, 257], [5, 3, 9], [9, 11, 5],
      // few columns, many rows (run transposed): full and edge tiles, two depth slices
      [259, 22, 300], [256, 64, 9],
    ];
    let seed = 5000;
    for (const [name, act] of Object.entries(ACT)) {
      const p = act === ACT.step ? 0.3 : act === ACT.leakyRelu ? 0.1 : 0;
      for (const [si, [m, n, k]] of sizes.entries()) {
        for (const variant of [0, 1, 2, 3]) {
          const withBias = (variant & 1) === 1;
          const withZ = (variant & 2) === 2;
          const [tA, tB] = TRANS[(si + variant) % 4]!;
          const what = `${name} ${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${k} bias=${withBias} z=${withZ}`;
          const [ar, ac] = tA ? [k, m] : [m, k];
          const [br, bc] = tB ? [n, k] : [k, n];
          // Values spread over [-3, 3) so every activation sees its curved part.
          const A = stored(sg, ar, ac, ac + 1, seed++);
          const B = stored(sg, br, bc, bc, seed++);
          const scaleA = A.g.view();
          for (let i = 0; i < scaleA.length; i++) scaleA[i] = scaleA[i]! * 1.7;
          for (let i = 0; i < A.vals.length; i++) A.vals[i] = Math.fround(A.vals[i]! * 1.7);
          const bias = guarded(sg, n);
          const biasVals = randomArray(n, seed++, -1, 1);
          bias.set(biasVals);
          const C = stored(sg, m, n, n + 2, 0, false);
          const Z = stored(sg, m, n, n + 2, 0, false);
          const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, n, k), "test");
          const { want, mag } = refGemm(tA, tB, m, n, k, 1, A.vals, B.vals, 0, null);
          kr.gemm_bias_act(
            tA ? 1 : 0, tB ? 1 : 0, m, n, k, A.g.ptr, A.ld, B.g.ptr, B.ld,
            withBias ? bias.ptr : 0, act, p, withZ ? Z.g.ptr : 0, C.g.ptr, C.ld, scratch,
          );
          const got = readStored(C);
          const gotZ = readStored(Z);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              const e = i * n + j;
              const zref = want[e]! + (withBias ? biasVals[j]! : 0);
              const zmag = mag[e]! + (withBias ? Math.abs(biasVals[j]!) : 0);
              const ztol = (k + 4) * U * zmag + 1e-30;
              if (withZ) {
                if (!(Math.abs(gotZ[e]! - zref) <= ztol)) throw new Error(`${what}: z[${i}, ${j}] is ${gotZ[e]}, expected ${zref}`);
              } else if (!Number.isNaN(gotZ[e]!)) {
                throw new Error(`${what}: z written although z = 0`);
              }
              // A step exactly at its threshold is decided by rounding: skip those.
              if (act === ACT.step && Math.abs(zref - p) <= ztol) continue;
              const yref = act64(act, zref, p);
              // Propagated GEMM error (slopes ≤ 1.2) plus the activation's own few-ulp error.
              const tol = 1.2 * ztol + 8 * U * Math.abs(yref) + 1e-7;
              if (!(Math.abs(got[e]! - yref) <= tol)) {
                throw new Error(`${what}: c[${i}, ${j}] is ${got[e]}, expected ${yref} (z ${zref}, tolerance ${tol.toExponential(2)})`);
              }
            }
          }
          checkGaps(C, `${what} C`);
          checkGaps(Z, `${what} Z`);
          bias.check();
          sg.rt.arena.release(scratch);
          for (const s of [A, B, C, Z]) s.g.free();
          bias.free();
        }
      }
    }
  });
});

describe("gemm_bias_act with a transcendental activation (applied after the tiles)", () => {
  it("equals the identity product followed by act_forward, bit for bit, on every path", async () => {
    const sg = await runtime();
    const kr = kernels(sg);
    const actForward = (kr as unknown as { act_forward(kind: number, x: number, y: number, n: number, p: number): void }).act_forward;
    // gemv (m = 1, n = 1), narrow (n ≤ 16), shallow (k ≤ 16), transposed (17 ≤ n ≤ 192,
    // m ≥ 2n), packed, several depth slices, several column panels (n > 512)
    const sizes: [number, number, number][] = [
      [1, 37, 20], [29, 1, 33], [40, 10, 64], [33, 40, 8], [300, 24, 70], [259, 64, 300],
      [37, 45, 30], [20, 600, 40], [9, 200, 513], [1, 1030, 510],
    ];
    let seed = 7100;
    for (const name of ["sigmoid", "tanh", "swish", "gelu", "geluTanh"] as const) {
      const act = ACT[name];
      for (const [si, [m, n, k]] of sizes.entries()) {
        for (const pad of [0, 3]) {
          const [tA, tB] = TRANS[(si + pad) % 4]!;
          const what = `${name} ${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${k} ldc=n+${pad}`;
          const [ar, ac] = tA ? [k, m] : [m, k];
          const [br, bc] = tB ? [n, k] : [k, n];
          const A = stored(sg, ar, ac, ac, seed++);
          const B = stored(sg, br, bc, bc, seed++);
          const av = A.g.view();
          for (let i = 0; i < av.length; i++) av[i] = av[i]! * 2.5;
          const bias = guarded(sg, n);
          bias.set(randomArray(n, seed++, -1, 1));
          const C = stored(sg, m, n, n + pad, 0, false);
          const Z = stored(sg, m, n, n + pad, 0, false);
          const W = stored(sg, m, n, n + pad, 0, false);
          const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, n, k), "test");
          kr.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, m, n, k, A.g.ptr, A.ld, B.g.ptr, B.ld, bias.ptr, act, 0, Z.g.ptr, C.g.ptr, C.ld, scratch);
          kr.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, m, n, k, A.g.ptr, A.ld, B.g.ptr, B.ld, bias.ptr, ACT.identity, 0, 0, W.g.ptr, W.ld, scratch);
          const z = readStored(W);
          expectSame(readStored(Z), z, `${what}: z`);
          for (let i = 0; i < m; i++) actForward(act, W.g.ptr + i * W.ld * 4, W.g.ptr + i * W.ld * 4, n, 0);
          expectSame(readStored(C), readStored(W), `${what}: c`);
          for (const s of [C, Z, W]) checkGaps(s, what);
          sg.rt.arena.release(scratch);
          for (const s of [A, B, C, Z, W]) s.g.free();
          bias.free();
        }
      }
    }
  });
});

describe("gemm_bias_act with GELU and the slope flag (z receives f′(Z))", () => {
  it("C as without the flag and dy ⊙ slope as gelu_backward(Z, dy), bit for bit, on every path; other codes trap", async () => {
    const sg = await runtime();
    const kr = kernels(sg) as unknown as Record<string, (...a: number[]) => void> & ReturnType<typeof kernels>;
    const SLOPE = 0x100;
    const sizes: [number, number, number][] = [
      [1, 37, 20], [29, 1, 33], [40, 10, 64], [33, 40, 8], [300, 24, 70], [259, 64, 300], [37, 45, 30], [20, 600, 40],
    ];
    let seed = 7300;
    for (const [si, [m, n, k]] of sizes.entries()) {
      for (const pad of [0, 3]) {
        const [tA, tB] = TRANS[(si + pad) % 4]!;
        const what = `${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} n=${n} k=${k} ldc=n+${pad}`;
        const [ar, ac] = tA ? [k, m] : [m, k];
        const [br, bc] = tB ? [n, k] : [k, n];
        const A = stored(sg, ar, ac, ac, seed++);
        const B = stored(sg, br, bc, bc, seed++);
        const av = A.g.view();
        for (let i = 0; i < av.length; i++) av[i] = av[i]! * 3;
        const bias = guarded(sg, n);
        bias.set(randomArray(n, seed++, -1, 1));
        const [C, S, C0, Z] = [0, 1, 2, 3].map(() => stored(sg, m, n, n + pad, 0, false));
        const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, n, k), "test");
        const run = (act: number, z: Stored | null, c: Stored) =>
          kr.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, m, n, k, A.g.ptr, A.ld, B.g.ptr, B.ld, bias.ptr, act, 0, z ? z.g.ptr : 0, c.g.ptr, c.ld, scratch);
        run(ACT.gelu | SLOPE, S!, C!);
        run(ACT.gelu, null, C0!);
        run(ACT.identity, null, Z!);
        expectSame(readStored(C!), readStored(C0!), `${what}: c`);
        // dy ⊙ slope against the backward kernel from Z
        const z = readStored(Z!);
        const slope = readStored(S!);
        const dy = randomArray(m * n, seed++, -2, 2);
        const [tz, tdy, tslope, want, got] = [z, dy, slope, new Float32Array(m * n), new Float32Array(m * n)].map((v) => sg.tensor([m * n], v));
        kr.gelu_backward(tz!.ptr, tdy!.ptr, want!.ptr, m * n, 0);
        kr.mul_same(tdy!.ptr, tslope!.ptr, got!.ptr, m * n, 0);
        expectSame(got!.toArray(), want!.toArray(), `${what}: dy ⊙ slope`);
        for (const t of [tz, tdy, tslope, want, got]) t!.dispose();
        for (const s2 of [C!, S!, C0!, Z!]) checkGaps(s2, what);
        sg.rt.arena.release(scratch);
        for (const s2 of [A, B, C!, S!, C0!, Z!]) s2.g.free();
        bias.free();
      }
    }
    // The flag belongs to GELU only.
    const A = stored(sg, 4, 4, 4, 1), B = stored(sg, 4, 8, 8, 2), C = stored(sg, 4, 8, 8, 0, false), Z = stored(sg, 4, 8, 8, 0, false);
    const scratch = sg.rt.arena.alloc(gemmScratchBytes(4, 8, 4), "test");
    expect(() => kr.gemm_bias_act(0, 0, 4, 8, 4, A.g.ptr, 4, B.g.ptr, 8, 0, ACT.swish | SLOPE, 0, Z.g.ptr, C.g.ptr, 8, scratch)).toThrow();
    sg.rt.arena.release(scratch);
    for (const s2 of [A, B, C, Z]) s2.g.free();
  });
});

// ------------------------------------------------------------------ outer kernel

describe("outer kernel", () => {
  it("A ← α·u·vᵀ (+ A) over sizes with tails, strided A, and no read of A when overwriting", async () => {
    const sg = await runtime();
    const kr = kernels(sg);
    const S = [0, 1, 3, 4, 5, 7, 8, 9, 16, 17, 33];
    let seed = 9000;
    for (const m of S) for (const n of S) {
      for (const [alpha, acc] of [[1, 0], [-0.5, 1], [2, 0]] as const) {
        const what = `outer m=${m} n=${n} α=${alpha} accumulate=${acc}`;
        const u = guarded(sg, m);
        const v = guarded(sg, n);
        const uv = randomArray(m, seed++);
        const vv = randomArray(n, seed++);
        u.set(uv);
        v.set(vv);
        const A = stored(sg, m, n, n + (seed % 3), seed++, acc === 1);
        const before = A.vals;
        kr.outer(m, n, alpha, u.ptr, v.ptr, A.g.ptr, A.ld, acc);
        const got = readStored(A);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const w = alpha * uv[i]! * vv[j]! + (acc ? before[i * n + j]! : 0);
            const tol = 2 * U * (Math.abs(alpha * uv[i]! * vv[j]!) + (acc ? Math.abs(before[i * n + j]!) : 0)) + 1e-30;
            if (!(Math.abs(got[i * n + j]! - w) <= tol)) throw new Error(`${what}: [${i}, ${j}] is ${got[i * n + j]}, expected ${w}`);
          }
        }
        checkGaps(A, what);
        u.check();
        v.check();
        u.free();
        v.free();
        A.g.free();
      }
    }
  });
});

// ------------------------------------------------------------------ ops and eager API

/** float64 matmul of logical operands given as shapes + values, numpy rules for 1-D. */
function refMatmul(a: Tensor, b: Tensor, tA: boolean, tB: boolean): Float64Array {
  const A = a.toArray();
  const B = b.toArray();
  const ta = a.shape.length === 2 && tA;
  const tb = b.shape.length === 2 && tB;
  const m = a.shape.length === 1 ? 1 : ta ? a.shape[1]! : a.shape[0]!;
  const k = a.shape.length === 1 ? a.shape[0]! : ta ? a.shape[0]! : a.shape[1]!;
  const n = b.shape.length === 1 ? 1 : tb ? b.shape[0]! : b.shape[1]!;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) {
      const av = ta ? A[p * m + i]! : A[i * k + p]!;
      const bv = b.shape.length === 1 ? B[p]! : tb ? B[j * k + p]! : B[p * n + j]!;
      s += av * bv;
    }
    out[i * n + j] = s;
  }
  return out;
}

function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, `${what} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) {
      throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
    }
  }
}

function rand(sg: SimdGrad, shape: number[], seed: number): Tensor {
  return sg.tensor(shape, randomArray(shape.reduce((x, y) => x * y, 1), seed));
}

describe("sg.matmul and sg.outer", () => {
  it("2-D × 2-D in every transpose case, and 1-D operands as numpy treats them", async () => {
    const sg = await runtime();
    const cases: [number[], number[], boolean, boolean, number[]][] = [
      [[3, 5], [5, 4], false, false, [3, 4]],
      [[5, 3], [5, 4], true, false, [3, 4]],
      [[3, 5], [4, 5], false, true, [3, 4]],
      [[5, 3], [4, 5], true, true, [3, 4]],
      [[5], [5, 4], false, false, [4]],
      [[3, 5], [5], false, false, [3]],
      [[5, 3], [5], true, false, [3]],
      [[5], [4, 5], false, true, [4]],
      [[5], [5], false, false, []],
      [[0, 5], [5, 4], false, false, [0, 4]],
      [[3, 0], [0, 4], false, false, [3, 4]],
    ];
    let seed = 1;
    for (const [as, bs, tA, tB, ys] of cases) {
      const a = rand(sg, as, seed++);
      const b = rand(sg, bs, seed++);
      const y = sg.matmul(a, b, { transposeA: tA, transposeB: tB });
      const what = `matmul ${JSON.stringify(as)}${tA ? "ᵀ" : ""} · ${JSON.stringify(bs)}${tB ? "ᵀ" : ""}`;
      expect(y.shape, what).toEqual(ys);
      expectNear(y.toArray(), refMatmul(a, b, tA, tB), 1e-5, what);
      for (const t of [a, b, y]) t.dispose();
    }
  });

  it("out and accumulate", async () => {
    const sg = await runtime();
    const a = rand(sg, [6, 9], 1);
    const b = rand(sg, [9, 10], 2);
    const want = refMatmul(a, b, false, false);
    const out = sg.tensor([6, 10]).fill(NaN);
    expect(sg.matmul(a, b, { out })).toBe(out);
    expectNear(out.toArray(), want, 1e-5, "out");
    out.fill(2);
    sg.matmul(a, b, { out, accumulate: true });
    expectNear(out.toArray(), want.map((x) => x + 2), 1e-5, "accumulate");

    const u = rand(sg, [7], 3);
    const v = rand(sg, [5], 4);
    const o = sg.outer(u, v);
    expect(o.shape).toEqual([7, 5]);
    const ou = u.toArray();
    const ov = v.toArray();
    const wantO = Array.from({ length: 35 }, (_, e) => ou[Math.floor(e / 5)]! * ov[e % 5]!);
    expectNear(o.toArray(), wantO, 1e-6, "outer");
    sg.outer(u, v, { out: o, accumulate: true });
    expectNear(o.toArray(), wantO.map((x) => 2 * x), 1e-6, "outer accumulate");
    for (const t of [a, b, out, u, v, o]) t.dispose();
  });

  it("bad inputs get clear errors naming the op and the shapes, and the runtime keeps working", async () => {
    const sg = await runtime();
    const a = sg.zeros([64, 784]);
    const b = sg.zeros([700, 256]);
    const x = rand(sg, [2, 3], 1);
    const w = rand(sg, [3, 4], 2);
    const good = refMatmul(x, w, false, false);
    const stillWorks = (after: string) => {
      const y = sg.matmul(x, w);
      expectNear(y.toArray(), good, 1e-5, `after ${after}`);
      y.dispose();
    };
    const bad: [string, () => unknown, string | RegExp][] = [
      ["inner", () => sg.matmul(a, b), "matmul: inner dimensions differ: a is [64, 784], b is [700, 256]"],
      ["inner transposed", () => sg.matmul(a, b, { transposeA: true }), "matmul: inner dimensions differ (aᵀ·b): a is [64, 784], b is [700, 256]"],
      ["vector", () => sg.matmul(sg.zeros([3]), sg.zeros([4])), "matmul: inner dimensions differ: a is [3], b is [4]"],
      ["3-D", () => sg.matmul(sg.zeros([2, 3, 4]), w), "matmul: inner dimensions differ: a is [2, 3, 4], b is [3, 4]"],
      ["scalar", () => sg.matmul(sg.zeros([]), w), "matmul: operands must be vectors or matrices (1-D or 2-D): a is [], b is [3, 4]"],
      ["out shape", () => sg.matmul(x, w, { out: sg.zeros([4, 2]) }), "matmul: out is [4, 2], the result is [2, 4]"],
      ["accumulate", () => sg.matmul(x, w, { accumulate: true }), "matmul: accumulate: true needs out, the tensor to add into"],
      ["aliasing", () => sg.matmul(x, sg.zeros([3, 3]), { out: x }), "matmul: out [2, 3] shares memory with an input [2, 3]"],
      ["not a tensor", () => sg.matmul([1, 2] as unknown as Tensor, w), /^matmul: a must be a Tensor, got array of 2/],
      ["options", () => sg.matmul(x, w, w as never), /^matmul: options must be an object/],
      ["flag type", () => sg.matmul(x, w, { transposeB: 1 as never }), "matmul: transposeB must be true or false, got number"],
      ["accumulate type", () => sg.matmul(x, w, { out: sg.zeros([2, 4]), accumulate: "yes" as never }), "matmul: accumulate must be true or false, got string"],
      ["outer 2-D", () => sg.outer(x, sg.zeros([3])), "outer: operands must be vectors (1-D): u is [2, 3], v is [3]"],
      ["outer out", () => sg.outer(sg.zeros([2]), sg.zeros([3]), { out: sg.zeros([3, 2]) }), "outer: out is [3, 2], the result is [2, 3]"],
    ];
    for (const [name, f, msg] of bad) {
      expect(f, name).toThrow(msg);
      stillWorks(name);
    }
    const gone = rand(sg, [3, 4], 5);
    gone.dispose();
    expect(() => sg.matmul(x, gone)).toThrow(/^matmul: .*disposed/);
    stillWorks("disposed");
    for (const t of [a, b, x, w]) t.dispose();
  });
});

// ------------------------------------------------------------------ gradients

/** The op's forward into a fresh tensor (scratch from the runtime). */
function forward<A>(sg: SimdGrad, op: typeof matmulOp | typeof outerOp, x: Tensor[], attrs: A): Tensor {
  const shape = (op.shape as (s: readonly (readonly number[])[], a: A) => readonly number[])(x.map((t) => t.shape), attrs);
  const y = sg.zeros([...shape]);
  const scratch = sg.rt.scratch((op.scratchBytes as (s: readonly (readonly number[])[], a: A) => number)(x.map((t) => t.shape), attrs));
  (op.forward as (k: unknown, x: readonly Buf[], y: Buf, a: A, env: unknown) => void)(sg.rt.kernels, x, y, attrs, { saved: [], scratch });
  return y;
}

/**
 * Checks op.backward against two-sided numeric derivatives of L = Σ dy ⊙ op(x), with a
 * non-unit upstream gradient dy, and that backward adds into the given gradient buffers.
 */
function checkGradients<A>(sg: SimdGrad, op: typeof matmulOp | typeof outerOp, x: Tensor[], attrs: A, what: string): void {
  const y0 = forward(sg, op, x, attrs);
  const dy = sg.tensor([...y0.shape], randomArray(y0.size, 77, -2, 2));
  const dyv = dy.toArray();
  const L = () => {
    const y = forward(sg, op, x, attrs);
    const yv = y.toArray();
    y.dispose();
    let s = 0;
    for (let i = 0; i < yv.length; i++) s += dyv[i]! * yv[i]!;
    return s;
  };
  // Gradients start at 0.25 so the check also proves they are added, not overwritten.
  const dx = x.map((t) => sg.tensor([...t.shape]).fill(0.25));
  const scratch = sg.rt.scratch((op.scratchBytes as (s: readonly (readonly number[])[], a: A) => number)(x.map((t) => t.shape), attrs));
  (op.backward as (k: unknown, x: readonly Buf[], y: Buf, dy: Buf, dx: readonly (Buf | null)[], a: A, env: unknown) => void)(
    sg.rt.kernels, x, y0, dy, dx, attrs, { saved: [], scratch },
  );
  const h = 0.125;
  for (const [i, t] of x.entries()) {
    const got = dx[i]!.toArray();
    const vals = t.toArray();
    for (let e = 0; e < t.size; e++) {
      const d = t.data;
      d[e] = vals[e]! + h;
      const up = L();
      t.data[e] = vals[e]! - h;
      const down = L();
      t.data[e] = vals[e]!;
      const num = (up - down) / (2 * h);
      if (!(Math.abs(got[e]! - 0.25 - num) <= 1e-4 * (1 + Math.abs(num)))) {
        throw new Error(`${what}: d input ${i} [${e}] is ${got[e]! - 0.25}, numeric ${num}`);
      }
    }
  }
  // A null gradient slot is skipped; the other is still added.
  const only = sg.tensor([...x[1]!.shape]);
  (op.backward as (k: unknown, x: readonly Buf[], y: Buf, dy: Buf, dx: readonly (Buf | null)[], a: A, env: unknown) => void)(
    sg.rt.kernels, x, y0, dy, [null, only], attrs, { saved: [], scratch },
  );
  expectNear(only.toArray(), Array.from(dx[1]!.toArray(), (v) => v - 0.25), 1e-5, `${what} with dx[0] null`);
  for (const t of [y0, dy, only, ...dx]) t.dispose();
}

describe("matmul and outer gradients", () => {
  it("matmul backward matches numeric derivatives in every transpose case and for 1-D operands", async () => {
    const sg = await runtime();
    const dims: [number, number, number][] = [[1, 1, 1], [2, 3, 4], [5, 4, 3], [3, 9, 7], [9, 5, 10]];
    let seed = 300;
    for (const [tA, tB] of TRANS) {
      for (const [m, k, n] of dims) {
        const a = rand(sg, tA ? [k, m] : [m, k], seed++);
        const b = rand(sg, tB ? [n, k] : [k, n], seed++);
        checkGradients(sg, matmulOp, [a, b], { transposeA: tA, transposeB: tB }, `matmul ${tA ? "T" : "N"}${tB ? "T" : "N"} m=${m} k=${k} n=${n}`);
        a.dispose();
        b.dispose();
      }
    }
    const vecCases: [number[], number[], boolean, boolean][] = [
      [[4], [4, 3], false, false], [[4], [3, 4], false, true], [[3, 4], [4], false, false], [[4, 3], [4], true, false], [[6], [6], false, false],
    ];
    for (const [as, bs, tA, tB] of vecCases) {
      const a = rand(sg, as, seed++);
      const b = rand(sg, bs, seed++);
      checkGradients(sg, matmulOp, [a, b], { transposeA: tA, transposeB: tB }, `matmul ${JSON.stringify(as)} ${JSON.stringify(bs)} ${tA} ${tB}`);
      a.dispose();
      b.dispose();
    }
  });

  it("outer backward matches numeric derivatives", async () => {
    const sg = await runtime();
    for (const [m, n] of [[1, 1], [3, 5], [8, 9], [17, 4]] as const) {
      const u = rand(sg, [m], m * 31 + n);
      const v = rand(sg, [n], m * 37 + n);
      checkGradients(sg, outerOp, [u, v], undefined, `outer m=${m} n=${n}`);
      u.dispose();
      v.dispose();
    }
  });
});
