// Narrow GEMMs: products with a small output width or depth.
//
// First, products with at most 2·NR = 16 output columns (a classifier's last layer, n ≈ 10,
// and its weight gradient). The packed loops of gemm.ts pack op(A) for every depth
// slice, each value broadcast to four lanes, and that pays only when a packed A micro-panel
// is reused across many column tiles; with one or two column tiles the packing (16 bytes
// written and read back for every element of the large operand) costs as much as the
// multiply. Here only op(B), the small operand (kc × n floats), is packed, and op(A) is read
// in place: each depth step loads the MR values of a row block with broadcast loads, from
// one pointer (op(A) = Aᵀ: the MR values sit side by side in a row of A) or from MR row
// pointers (op(A) = A).
//
// Tiles: 1–4 columns MR × 4, 5–8 MR × 8, 9–12 one 2 × 12 pass, 13–16 two MR × 8 passes.
//
// The sums are those of the packed loops, bit for bit: every output is accumulated over
// the depth in order, one multiply-add a step into its own lane, slice by slice of KC, and
// finished by the same code (finish_tile_4x8 / finish_tile_4x4). So which path a product
// takes (and how the thread split cuts it) never changes a result.

import { fmadd } from "./simd";
import { a_block_bytes, finish_full_4x8, finish_tile_4x4, finish_tile_4x8, pack_a, pack_b } from "./gemm";
import { act_v, ACT_IDENTITY, load_upto4, store_upto4 } from "./vmath";
import { KC, MC, MR, NC, NR } from "../src/ops/gemm-blocking";

/** Widest output the narrow path takes (two B micro-panels). */
export const NARROW_MAX_N: i32 = 2 * NR;

/**
 * The driver of the narrow path, as gemm_run's contract (C ← act(α·op(A)·op(B) + β·C +
 * bias), Z ← the value before act) for 1 ≤ n ≤ NARROW_MAX_N, m ≥ 1, k ≥ 0. Scratch laid out
 * as gemm_run's ([A block][B panel][tile]; the A block is left unused), so
 * gemm_scratch_bytes(m, n, k) covers it.
 */
export function gemm_narrow(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, bias: usize, act: i32, p: f32, z: usize,
  c: usize, ldc: i32, scratch: usize,
): void {
  const kcMax = min<i32>(k, KC);
  const mcMax = min<i32>((m + MR - 1) / MR * MR, MC);
  const bpack = scratch + a_block_bytes(mcMax, kcMax);
  const tile = bpack + (<usize>(kcMax * ((n + NR - 1) / NR * NR)) << 2);
  const ldab = <usize>lda << 2;
  const ldcb = <usize>ldc << 2;
  // Bytes between two rows (rs) and two depth steps (ps) of op(A).
  const rs: usize = transA ? 4 : ldab;
  const ps: usize = transA ? ldab : 4;
  let pc = 0;
  do {                                                  // depth slices (once if k = 0)
    const kc = min<i32>(KC, k - pc);
    const first = pc == 0;
    const last = pc + kc >= k;
    const sliceBeta: f32 = first ? beta : 1;
    const sliceBias: usize = last ? bias : 0;
    const sliceAct = last ? act : ACT_IDENTITY;
    const sliceZ: usize = last ? z : 0;
    pack_b(transB, b, ldb, pc, 0, kc, n, bpack);
    const bpanel = <usize>kc * 32;
    const aSlice = a + <usize>pc * ps;
    if (n > NR && n <= NR + 4) {
      // 9–12 columns: one pass of 2 × 12 tiles (three vectors a row). The SIMD128 build needs
      // a register for each product besides the accumulators and the loaded vectors, and V8
      // loads a step's A values ahead of its arithmetic: 3 × 12 needs 9 + 6 + 1 = 16 of the
      // 15 vector registers and spilled an accumulator every step (46% of the peak at
      // 64×12×256, against 55–60% for 2 × 12; bench/gemm-narrow.mjs); a 4 × 8 tile beside a
      // 4 × 4 one reads op(A) twice, the second time for 1–4 columns (64×10×256: 39–42%,
      // 2 × 12: 48%).
      for (let i = 0; i < m; i += 2) {
        const mr = min<i32>(2, m - i);
        const a0 = aSlice + <usize>i * rs;
        const a1 = mr > 1 ? a0 + rs : a0;
        const rowOff = <usize>i * ldcb;
        narrow_2x12(
          kc, a0, a1, ps, bpack, bpanel, mr, n, c + rowOff, ldcb,
          alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ != 0 ? sliceZ + rowOff : 0,
        );
      }
      pc += kc;
      continue;
    }
    for (let i = 0; i < m; i += MR) {                   // row blocks of MR
      const mr = min<i32>(MR, m - i);
      const a0 = aSlice + <usize>i * rs;
      // Rows past m read row 0 of the block again (their sums are never stored): nothing
      // outside A is read.
      const a1 = mr > 1 ? a0 + rs : a0;
      const a2 = mr > 2 ? a0 + 2 * rs : a0;
      const a3 = mr > 3 ? a0 + 3 * rs : a0;
      const rowOff = <usize>i * ldcb;
      const zRow: usize = sliceZ != 0 ? sliceZ + rowOff : 0;
      for (let jr = 0; jr < n; jr += NR) {              // the one or two column tiles
        const nr = min<i32>(NR, n - jr);
        const col = <usize>jr << 2;
        const bp = bpack + <usize>(jr >> 3) * bpanel;
        const cT = c + rowOff + col;
        const zT: usize = zRow != 0 ? zRow + col : 0;
        const biasT: usize = sliceBias != 0 ? sliceBias + col : 0;
        if (nr <= 4) {
          narrow_4x4(kc, a0, a1, a2, a3, ps, bp, mr, nr, cT, ldc, alpha, sliceBeta, biasT, sliceAct, p, zT, tile);
        } else if (transA && mr == MR) {
          narrow_4x8_adjacent(kc, a0, ps, bp, mr, nr, cT, ldc, alpha, sliceBeta, biasT, sliceAct, p, zT, tile);
        } else {
          narrow_4x8(kc, a0, a1, a2, a3, ps, bp, mr, nr, cT, ldc, alpha, sliceBeta, biasT, sliceAct, p, zT, tile);
        }
      }
    }
    pc += kc;
  } while (pc < k);
}

/**
 * One MR × NR tile over kc depth steps with op(A) in place: row r's value at depth step q is
 * the f32 at a{r} + q·ps; B is a packed micro-panel (kc groups of 8 floats). Finished as
 * tile_4x8 (finish_tile_4x8).
 */
// @ts-ignore: decorator
@inline function narrow_4x8(
  kc: i32, a0: usize, a1: usize, a2: usize, a3: usize, ps: usize, bp: usize, mr: i32, nr: i32,
  c: usize, ldc: i32, alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  let c0_0123 = f32x4.splat(0);
  let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
  let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
  let b_0123: v128, b_4567: v128, a: v128;
  const end = bp + (<usize>kc << 5);
  while (bp < end) {
    b_0123 = v128.load(bp);
    b_4567 = v128.load(bp, 16);
    a = v128.load32_splat(a0);
    c0_0123 = fmadd(a, b_0123, c0_0123);
    c0_4567 = fmadd(a, b_4567, c0_4567);
    a = v128.load32_splat(a1);
    c1_0123 = fmadd(a, b_0123, c1_0123);
    c1_4567 = fmadd(a, b_4567, c1_4567);
    a = v128.load32_splat(a2);
    c2_0123 = fmadd(a, b_0123, c2_0123);
    c2_4567 = fmadd(a, b_4567, c2_4567);
    a = v128.load32_splat(a3);
    c3_0123 = fmadd(a, b_0123, c3_0123);
    c3_4567 = fmadd(a, b_4567, c3_4567);
    a0 += ps;
    a1 += ps;
    a2 += ps;
    a3 += ps;
    bp += 32;
  }
  finish_tile_4x8(
    c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567,
    mr, nr, c, ldc, alpha, beta, bias, act, p, z, tile,
  );
}

/**
 * narrow_4x8 for a whole row block of op(A) = Aᵀ: the MR values of a depth step are side by
 * side (a0, a0 + 4, a0 + 8, a0 + 12), so one pointer walks them.
 */
// @ts-ignore: decorator
@inline function narrow_4x8_adjacent(
  kc: i32, a0: usize, ps: usize, bp: usize, mr: i32, nr: i32,
  c: usize, ldc: i32, alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  let c0_0123 = f32x4.splat(0);
  let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
  let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
  let b_0123: v128, b_4567: v128, a: v128;
  const end = bp + (<usize>kc << 5);
  while (bp < end) {
    b_0123 = v128.load(bp);
    b_4567 = v128.load(bp, 16);
    a = v128.load32_splat(a0);
    c0_0123 = fmadd(a, b_0123, c0_0123);
    c0_4567 = fmadd(a, b_4567, c0_4567);
    a = v128.load32_splat(a0, 4);
    c1_0123 = fmadd(a, b_0123, c1_0123);
    c1_4567 = fmadd(a, b_4567, c1_4567);
    a = v128.load32_splat(a0, 8);
    c2_0123 = fmadd(a, b_0123, c2_0123);
    c2_4567 = fmadd(a, b_4567, c2_4567);
    a = v128.load32_splat(a0, 12);
    c3_0123 = fmadd(a, b_0123, c3_0123);
    c3_4567 = fmadd(a, b_4567, c3_4567);
    a0 += ps;
    bp += 32;
  }
  finish_tile_4x8(
    c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567,
    mr, nr, c, ldc, alpha, beta, bias, act, p, z, tile,
  );
}

/**
 * One MR × 4 tile (the last 1–4 columns) over kc depth steps with op(A) in place, as
 * narrow_4x8; reads the first four floats of each group of the packed B micro-panel.
 * Finished as tile_4x4 (finish_tile_4x4).
 */
// @ts-ignore: decorator
@inline function narrow_4x4(
  kc: i32, a0: usize, a1: usize, a2: usize, a3: usize, ps: usize, bp: usize, mr: i32, nr: i32,
  c: usize, ldc: i32, alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  let c0_0123 = f32x4.splat(0);
  let c1_0123 = c0_0123, c2_0123 = c0_0123, c3_0123 = c0_0123;
  let b_0123: v128;
  const end = bp + (<usize>kc << 5);
  while (bp < end) {
    b_0123 = v128.load(bp);
    c0_0123 = fmadd(v128.load32_splat(a0), b_0123, c0_0123);
    c1_0123 = fmadd(v128.load32_splat(a1), b_0123, c1_0123);
    c2_0123 = fmadd(v128.load32_splat(a2), b_0123, c2_0123);
    c3_0123 = fmadd(v128.load32_splat(a3), b_0123, c3_0123);
    a0 += ps;
    a1 += ps;
    a2 += ps;
    a3 += ps;
    bp += 32;
  }
  finish_tile_4x4(c0_0123, c1_0123, c2_0123, c3_0123, mr, nr, c, ldc, alpha, beta, bias, act, p, z, tile);
}

/**
 * One 2 × 12 tile over kc depth steps with op(A) in place (rows at a0, a1, depth steps ps
 * bytes apart); columns 0–7 from the B micro-panel at bp, 8–11 from the first four floats of
 * the next one (bp + bpanel). Finishes the top-left mr × nr part (9 ≤ nr ≤ 12) as the packed
 * tiles do (finish_row_12).
 */
// @ts-ignore: decorator
@inline function narrow_2x12(
  kc: i32, a0: usize, a1: usize, ps: usize, bp: usize, bpanel: usize, mr: i32, nr: i32,
  c: usize, ldcb: usize, alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize,
): void {
  let c0_0123 = f32x4.splat(0);
  let c0_4567 = c0_0123, c0_89ab = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123, c1_89ab = c0_0123;
  let b_0123: v128, b_4567: v128, b_89ab: v128, a: v128;
  let bq = bp + bpanel;
  const end = bp + (<usize>kc << 5);
  while (bp < end) {
    b_0123 = v128.load(bp);
    b_4567 = v128.load(bp, 16);
    b_89ab = v128.load(bq);
    a = v128.load32_splat(a0);
    c0_0123 = fmadd(a, b_0123, c0_0123);
    c0_4567 = fmadd(a, b_4567, c0_4567);
    c0_89ab = fmadd(a, b_89ab, c0_89ab);
    a = v128.load32_splat(a1);
    c1_0123 = fmadd(a, b_0123, c1_0123);
    c1_4567 = fmadd(a, b_4567, c1_4567);
    c1_89ab = fmadd(a, b_89ab, c1_89ab);
    a0 += ps;
    a1 += ps;
    bp += 32;
    bq += 32;
  }
  finish_row_12(c, z, c0_0123, c0_4567, c0_89ab, nr, alpha, beta, bias, act, p);
  if (mr > 1) finish_row_12(c + ldcb, z != 0 ? z + ldcb : 0, c1_0123, c1_4567, c1_89ab, nr, alpha, beta, bias, act, p);
}

/**
 * Finishes one row of nr (9–12) outputs at c from its sums: v = α·acc + β·C (C read only if
 * β ≠ 0) + bias; Z ← v if z ≠ 0; C ← act(v). The same operations in the same order as
 * finish_tile_4x8 and finish_tile_4x4, so the same bits; nothing past column nr is touched.
 */
// @ts-ignore: decorator
@inline function finish_row_12(
  c: usize, z: usize, acc_0123: v128, acc_4567: v128, acc_89ab: v128, nr: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  const rest = nr - 8;
  const va = f32x4.splat(alpha);
  let v_0123 = f32x4.mul(acc_0123, va);
  let v_4567 = f32x4.mul(acc_4567, va);
  let v_89ab = f32x4.mul(acc_89ab, va);
  if (beta != 0) {
    const vb = f32x4.splat(beta);
    v_0123 = f32x4.add(v_0123, f32x4.mul(vb, v128.load(c)));
    v_4567 = f32x4.add(v_4567, f32x4.mul(vb, v128.load(c, 16)));
    v_89ab = f32x4.add(v_89ab, f32x4.mul(vb, load_upto4(c + 32, rest)));
  }
  if (bias != 0) {
    v_0123 = f32x4.add(v_0123, v128.load(bias));
    v_4567 = f32x4.add(v_4567, v128.load(bias, 16));
    v_89ab = f32x4.add(v_89ab, load_upto4(bias + 32, rest));
  }
  if (z != 0) {
    v128.store(z, v_0123);
    v128.store(z, v_4567, 16);
    store_upto4(z + 32, v_89ab, rest);
  }
  if (act != ACT_IDENTITY) {
    v_0123 = act_v(act, v_0123, p);
    v_4567 = act_v(act, v_4567, p);
    v_89ab = act_v(act, v_89ab, p);
  }
  v128.store(c, v_0123);
  v128.store(c, v_4567, 16);
  store_upto4(c + 32, v_89ab, rest);
}

// ------------------------------------------------------------------ shallow products

/** Deepest product the shallow path takes (one short depth loop per tile). */
export const SHALLOW_MAX_K: i32 = 16;

/**
 * Shallow products, k ≤ SHALLOW_MAX_K (the input gradient dy·Wᵀ of a classifier layer has
 * depth 10): C ← α·op(A)·op(B) + β·C, no bias, activation or Z, n > NARROW_MAX_N. The packed
 * loops' panels and sums, but a tile loop whose only inline ending is the plain one (α, β, a
 * store): with a few depth steps per tile, the general ending's branches (bias, Z,
 * activation, edges) cost V8 spilled and reloaded accumulators in every tile. Edge tiles end
 * out of line (shallow_edge). The same bits as gemm_run's packed loops.
 */
export function gemm_shallow(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, scratch: usize,
): void {
  const mcMax = min<i32>((m + MR - 1) / MR * MR, MC);
  const ncMax = min<i32>((n + NR - 1) / NR * NR, NC);
  const apack = scratch;
  const bpack = apack + a_block_bytes(mcMax, k);
  const tile = bpack + (<usize>(k * ncMax) << 2);
  const ldcb = <usize>ldc << 2;
  const bpanel = <usize>k * 32;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min<i32>(NC, n - jc);
    pack_b(transB, b, ldb, 0, jc, k, nc, bpack);
    for (let ic = 0; ic < m; ic += MC) {
      const mc = min<i32>(MC, m - ic);
      pack_a(transA, a, lda, ic, 0, mc, k, apack);
      for (let ir = 0; ir < mc; ir += MR) {
        const mr = min<i32>(MR, mc - ir);
        const ap = apack + a_block_bytes(ir, k);
        const cRow = c + <usize>(ic + ir) * ldcb + (<usize>jc << 2);
        shallow_row(k, ap, bpack, bpanel, nc, mr, cRow, ldcb, alpha, beta, tile);
      }
    }
  }
}

/** One row of tiles of the shallow path (as gemm_rows_4x8 with a plain ending). */
function shallow_row(
  kc: i32, ap0: usize, bp0: usize, bpanel: usize, nc: i32, mr: i32, c: usize, ldcb: usize,
  alpha: f32, beta: f32, tile: usize,
): void {
  const aend = ap0 + (<usize>kc << 6);
  let bq = bp0;
  for (let jr = 0; jr < nc; jr += NR) {
    let c0_0123 = f32x4.splat(0);
    let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
    let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
    let b_0123: v128, b_4567: v128, a: v128;
    let ap = ap0;
    let bp = bq;
    while (ap < aend) {
      b_0123 = v128.load(bp);
      b_4567 = v128.load(bp, 16);
      a = v128.load(ap);
      c0_0123 = fmadd(a, b_0123, c0_0123);
      c0_4567 = fmadd(a, b_4567, c0_4567);
      a = v128.load(ap, 16);
      c1_0123 = fmadd(a, b_0123, c1_0123);
      c1_4567 = fmadd(a, b_4567, c1_4567);
      a = v128.load(ap, 32);
      c2_0123 = fmadd(a, b_0123, c2_0123);
      c2_4567 = fmadd(a, b_4567, c2_4567);
      a = v128.load(ap, 48);
      c3_0123 = fmadd(a, b_0123, c3_0123);
      c3_4567 = fmadd(a, b_4567, c3_4567);
      bp += 32;
      ap += 64;
    }
    const ct = c + (<usize>jr << 2);
    const nr = min<i32>(NR, nc - jr);
    bq += bpanel;
    if (mr < MR || nr < NR) {
      shallow_edge(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, mr, nr, ct, ldcb, alpha, beta, tile);
      continue;
    }
    // v = α·acc + β·C, the packed loops' whole-tile ending.
    finish_full_4x8(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, ct, <i32>(ldcb >> 2), alpha, beta, 0, ACT_IDENTITY, 0);
  }
}

/** An edge tile of the shallow path, ended as the packed loops end it (out of line). */
function shallow_edge(
  c0_0123: v128, c0_4567: v128, c1_0123: v128, c1_4567: v128,
  c2_0123: v128, c2_4567: v128, c3_0123: v128, c3_4567: v128,
  mr: i32, nr: i32, c: usize, ldcb: usize, alpha: f32, beta: f32, tile: usize,
): void {
  const ldc = <i32>(ldcb >> 2);
  if (nr <= 4) {
    finish_tile_4x4(c0_0123, c1_0123, c2_0123, c3_0123, mr, nr, c, ldc, alpha, beta, 0, ACT_IDENTITY, 0, 0, tile);
  } else {
    finish_tile_4x8(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, mr, nr, c, ldc, alpha, beta, 0, ACT_IDENTITY, 0, 0, tile);
  }
}
