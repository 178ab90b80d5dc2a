/**
 * A product's rows do not depend on how many rows it has: generated products of 2–16 rows
 * (the few-row paths: B's rows read in order, B packed a panel or four at a time, read in
 * place, 2 × 16 tiles, a transposed small batch) give, through a random ending, the bits of
 * the same rows of a product with 13 or 43 more rows (the usual packed loops; in the relaxed
 * build, where the columns are whole tiles and the ending makes no call, 15-row blocks of
 * 5 × 8 tiles), as a thread's share of a larger product must; and a few of their elements are
 * right against float64. A's rows are contiguous or 300 floats apart (with op(A) = Aᵀ, the
 * larger product then copies its row blocks' lines of A first, or, in 5 × 8 tiles, packs
 * three blocks at once where it has 45 rows or more). (One row and one column take the matrix-vector paths, which sum in one pass, not in slices
 * of 256: not compared here.) Seeded: FUZZ_SECONDS, FUZZ_SEED as the other fuzzers.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SimdGrad } from "../../src/index.js";
import { gemmScratchBytes } from "../../src/ops/matmul.js";
import { expectSameBits, kernels, randomArray, runtime } from "../helpers.js";

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
const RUNS = Number(process.env.FUZZ_GEMM_RUNS ?? 60);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : SECONDS > 0 ? Date.now() % 2 ** 31 : 20261206;

const ENDINGS = ["gemm", "bias", "relu+z", "tanh", "gelu+slope"] as const;
type Ending = (typeof ENDINGS)[number];

interface Case {
  m: number;
  n: number;
  k: number;
  tA: boolean;
  tB: boolean;
  /** Extra floats between B's rows (0: contiguous), or a stride of its own (ldb = max(that, row)). */
  pad: number;
  /** Extra floats between A's rows: 300 puts op(A) = Aᵀ's depth steps over 1 KiB apart, where
   *  the larger product copies each row block's lines of A before packing them. */
  apad: number;
  wide: boolean;
  /** Rows the larger product has more. */
  extra: number;
  ending: Ending;
  seed: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  m: fc.integer({ min: 2, max: 16 }),
  // Around the bounds the paths choose by: 64 columns, one panel of 512, 2^19 floats of B;
  // and whole 8-column tiles (where the relaxed build's 5 × 8 tiles run).
  n: fc.oneof(fc.integer({ min: 2, max: 80 }), fc.integer({ min: 60, max: 1100 }), fc.integer({ min: 1, max: 80 }).map((t) => 8 * t)),
  k: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 200, max: 600 })),
  tA: fc.boolean(),
  tB: fc.boolean(),
  pad: fc.constantFrom(0, 0, 3, 500),
  apad: fc.constantFrom(0, 0, 300),
  wide: fc.boolean(),
  extra: fc.constantFrom(13, 13, 43),
  ending: fc.constantFrom(...ENDINGS),
  seed: fc.integer({ min: 1, max: 1e6 }),
});

const ACT: Record<Ending, number> = { gemm: 0, bias: 0, "relu+z": 5, tanh: 3, "gelu+slope": 8 | 0x100 };

/** C (and Z) of `rows` rows of op(A)·op(B) through the case's ending. */
function product(sg: SimdGrad, c: Case, rows: number, A: Float32Array, lda: number, B: Float32Array, ldb: number, C0: Float32Array, bias: Float32Array): [Float32Array, Float32Array] {
  const k = kernels(sg);
  const { n } = c;
  const [a, b, bi] = [sg.tensor([A.length], A), sg.tensor([B.length], B), sg.tensor([n], bias)];
  const out = sg.tensor([rows * n], C0.subarray(0, rows * n));
  const z = sg.tensor([rows * n], new Float32Array(rows * n));
  const scratch = sg.rt.arena.alloc(gemmScratchBytes(rows, n, c.k), "test");
  const tA = c.tA ? 1 : 0, tB = c.tB ? 1 : 0;
  if (c.ending === "gemm") {
    const f = c.wide ? k.gemm_wide : k.gemm;
    f(tA, tB, rows, n, c.k, -0.75, a.ptr, lda, b.ptr, ldb, 0.5, out.ptr, n, scratch);
  } else {
    const f = c.wide ? k.gemm_bias_act_wide : k.gemm_bias_act;
    const act = ACT[c.ending];
    const withZ = c.ending === "relu+z" || c.ending === "gelu+slope";
    f(tA, tB, rows, n, c.k, a.ptr, lda, b.ptr, ldb, bi.ptr, act, 0.1, withZ ? z.ptr : 0, out.ptr, n, scratch);
  }
  sg.rt.arena.release(scratch);
  const r: [Float32Array, Float32Array] = [out.toArray(), z.toArray()];
  for (const t of [a, b, bi, out, z]) t.dispose();
  return r;
}

describe("few-row products against the rows of a larger one", () => {
  it(`${SECONDS > 0 ? `${SECONDS} s of` : RUNS} generated products: the same bits as 13 or 43 rows more, every ending, both tiles (seed ${SEED})`, async () => {
    const sg = await runtime();
    let cases = 0;
    let far = 0; // B's rows over 800 floats apart
    let large = 0; // op(B) of 2^19 floats or more
    fc.assert(
      fc.property(caseArb, (c) => {
        cases++;
        const big = c.m + c.extra;
        const { n, k: kk } = c;
        // op(A) is big × kk: stored big × kk, or kk × big when transposed.
        const lda = (c.tA ? big : kk) + c.apad;
        const A = randomArray((c.tA ? kk : big) * lda, c.seed);
        // op(B) is kk × n: stored kk × n, or n × kk when transposed; rows ldb floats apart.
        const row = c.tB ? kk : n;
        const ldb = c.pad === 500 ? Math.max(1000, row) : row + c.pad;
        const B = randomArray((c.tB ? n : kk) * ldb, c.seed + 1);
        const C0 = randomArray(big * n, c.seed + 2);
        const bias = randomArray(n, c.seed + 3);
        if (ldb > 800) far++;
        if (n * kk >= 2 ** 19) large++;
        const what = `${c.ending} ${c.tA ? "T" : "N"}${c.tB ? "T" : "N"} m=${c.m} (and ${big}) n=${n} k=${kk} lda=${lda} ldb=${ldb}${c.wide ? " 4×16" : ""}`;
        const [got, gotZ] = product(sg, c, c.m, A, lda, B, ldb, C0, bias);
        const [all, allZ] = product(sg, c, big, A, lda, B, ldb, C0, bias);
        expectSameBits(got, all.subarray(0, c.m * n), what);
        expectSameBits(gotZ, allZ.subarray(0, c.m * n), `${what} (Z)`);
        if (c.ending === "gemm" || c.ending === "bias") {
          for (const [i, j] of [[0, 0], [c.m - 1, n - 1]] as const) {
            let sum = 0;
            for (let p = 0; p < kk; p++) sum += A[c.tA ? p * lda + i : i * lda + p]! * B[c.tB ? j * ldb + p : p * ldb + j]!;
            const want = c.ending === "gemm" ? -0.75 * sum + 0.5 * C0[i * n + j]! : sum + bias[j]!;
            expect(Math.abs(got[i * n + j]! - want), `${what}: C[${i}][${j}]`).toBeLessThan(1e-4 * (kk + 4));
          }
        }
      }),
      SECONDS > 0 ? { seed: SEED, numRuns: 1e9, interruptAfterTimeLimit: SECONDS * 1000 } : { seed: SEED, numRuns: RUNS },
    );
    expect(cases).toBeGreaterThan(0);
    if (SECONDS > 0) console.log(`gemm rows: ${cases} products (${far} with B's rows over 800 floats apart, ${large} with 2^19 floats of B or more), seed ${SEED}`);
  });
});
