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
// Tiles: 1–4 columns MR × 4, 5–8 MR × 8, 9–12 one 2 × 12 pass (3 × 12 in the relaxed build),
// 13–16 two MR × 8 passes.
// op(A) = Aᵀ whose depth slice spans more than any L2 with rows a multiple of 2 KiB apart
// (a classifier's weight gradient over 4096 hidden units) is read through copies of
// 64-row strips instead (strips_pay).
//
// The sums are those of the packed loops, bit for bit: every output is accumulated over
// the depth in order, one multiply-add a step into its own lane, slice by slice of KC, and
// finished by the same code (finish_tile_4x8 / finish_tile_4x4). So which path a product
// takes (and how the thread split cuts it) never changes a result.

import { fmadd } from "./simd";
import { a_block_bytes, copy_steps, finish_full_4x8, finish_tile_4x4, finish_tile_4x8, pack_a, pack_b } from "./gemm";
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
    if (strips_pay(transA, m, kc, ps)) {
      narrow_strips(m, n, kc, a + <usize>pc * ps, ps, scratch, bpack, bpanel, c, ldc, alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ, tile);
    } else {
      narrow_rows(transA, m, n, kc, a + <usize>pc * ps, rs, ps, bpack, bpanel, c, ldc, alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ, tile);
    }
    pc += kc;
  } while (pc < k);
}

/**
 * Rows of op(A) = Aᵀ copied side by side per depth step before the narrow tiles read them (see
 * narrow_strips): the floats a depth step of the A block holds (MC rows, each broadcast to 4
 * lanes), so the copy of a slice fills the block exactly. 64.
 */
const STRIP: i32 = MC * 4;

/**
 * Whether a depth slice of op(A) = Aᵀ is copied in strips first (narrow_strips): its depth
 * steps, rows of A, are a multiple of 2 KiB apart, and the kc rows span at least 4 MiB.
 * The first: an L1 data cache indexed within a 4 KiB page (every x86 L1d: 32 or 48 KiB,
 * 8 or 12 ways, 64 sets of 64-byte lines) holds only one or two sets' ways of the kc lines a
 * tile walks down A, gone before the next tile of the same rows (the same lines, 16 rows
 * each) reads them again. The second: while the slice fits in L2, those reads come back from
 * L2 and the relaxed build's out-of-order core hides them better than it pays for a copy;
 * past any core's L2 (1–2 MiB on current x86) they come from L3, and the copy pays in both
 * builds. Against reading A in place (bench/gemm-ab.mjs, 15 pairs, 2026-12-05, Xeon with 48
 * KiB L1d and 2 MiB L2), Aᵀ·B m×k×n, SIMD128 | relaxed:
 *
 *   span  (lda)            m×k×n          SIMD128   relaxed
 *   8 MiB  (16 KiB)        4096×512×10    1.33×     1.12–1.50×   ← copied
 *   4 MiB  (16 KiB)        4096×256×10    1.26×     1.19×        ← copied
 *   2 MiB  (8 KiB, 4 KiB)  2048×256×10    1.12×     1.02×
 *                          1024×512×10    1.13×     0.93×
 *   1 MiB  (4 KiB, 16 KiB) 1024×256×10    1.08–1.39× 0.88–0.90×
 *                          4096×64×10     1.17×     0.98×
 *   2 KiB rows             512×256×10     0.99×
 *   1 KiB rows             256×64×10      0.97× (copied all the same)
 *
 * so the SIMD128 build would gain from 512 KiB up, and the rule waits for the span where
 * both gain. The other engines on the same machine (bench/engines-ab.mjs, 4096×10×256 Aᵀ·B,
 * 11 pairs), SIMD128 | relaxed: Node 24 1.21× | 1.06×, Deno 1.18× | 1.05×, Bun 1.25× | (takes
 * the SIMD128 build), Chromium 1.75× | 1.09×.
 */
// @ts-ignore: decorator
@inline function strips_pay(transA: i32, m: i32, kc: i32, ps: usize): bool {
  return transA != 0 && m >= STRIP && (ps & 2047) == 0 && <u64>kc * <u64>ps >= (4 << 20);
}

/**
 * One depth slice of gemm_narrow with op(A) = Aᵀ read through copies (strips_pay): STRIP
 * rows at a time, kc depth steps of STRIP contiguous floats copied into the A block of
 * scratch (unused by the narrow path, and MC rows deep since m ≥ STRIP ≥ MC), and
 * the tiles read the copy, one step STRIP floats after the other. Rows past the last whole
 * strip are read in place. Same tiles, same sums.
 */
function narrow_strips(
  m: i32, n: i32, kc: i32, aSlice: usize, ps: usize, strip: usize,
  bpack: usize, bpanel: usize, c: usize, ldc: i32,
  alpha: f32, sliceBeta: f32, sliceBias: usize, sliceAct: i32, p: f32, sliceZ: usize, tile: usize,
): void {
  const whole = m - m % STRIP;
  const ldcb = <usize>ldc << 2;
  for (let i = 0; i < whole; i += STRIP) {
    copy_steps(aSlice + (<usize>i << 2), ps, kc, <usize>STRIP << 2, strip);
    const off = <usize>i * ldcb;
    narrow_rows(
      1, STRIP, n, kc, strip, 4, <usize>STRIP << 2, bpack, bpanel, c + off, ldc,
      alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ != 0 ? sliceZ + off : 0, tile,
    );
  }
  if (whole < m) {
    const off = <usize>whole * ldcb;
    narrow_rows(
      1, m - whole, n, kc, aSlice + (<usize>whole << 2), 4, ps, bpack, bpanel, c + off, ldc,
      alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ != 0 ? sliceZ + off : 0, tile,
    );
  }
}

/** The narrow tiles of m rows of C, op(A) row r, depth step s at aSlice + r·rs + s·ps. */
function narrow_rows(
  transA: i32, m: i32, n: i32, kc: i32, aSlice: usize, rs: usize, ps: usize,
  bpack: usize, bpanel: usize, c: usize, ldc: i32,
  alpha: f32, sliceBeta: f32, sliceBias: usize, sliceAct: i32, p: f32, sliceZ: usize, tile: usize,
): void {
  const ldcb = <usize>ldc << 2;
  if (n > NR && n <= NR + 4) {
    // 9–12 columns: one pass of 2 × 12 tiles (three vectors a row). The SIMD128 build needs
    // a register for each product besides the accumulators and the loaded vectors, and V8
    // loads a step's A values ahead of its arithmetic: 3 × 12 needs 9 + 6 + 1 = 16 of the
    // 15 vector registers and spilled an accumulator every step (46% of the peak at
    // 64×12×256, against 55–60% for 2 × 12; bench/gemm-narrow.mjs); a 4 × 8 tile beside a
    // 4 × 4 one reads op(A) twice, the second time for 1–4 columns (64×10×256: 39–42%,
    // 2 × 12: 48%).
    let i = 0;
    if (ASC_FEATURE_RELAXED_SIMD) {
      // The relaxed build needs no register for a product: 3 × 12 fits (9 + 6 = 15), and its
      // nine accumulators keep two FMA pipes of four cycles' latency busy where 2 × 12's six
      // cannot (see narrow_x12).
      for (; i + 3 <= m; i += 3) {
        const a0 = aSlice + <usize>i * rs;
        const rowOff = <usize>i * ldcb;
        narrow_x12(
          kc, a0, a0 + rs, a0 + 2 * rs, ps, bpack, bpanel, 3, n, c + rowOff, ldcb,
          alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ != 0 ? sliceZ + rowOff : 0, true,
        );
      }
    }
    for (; i < m; i += 2) {
      const mr = min<i32>(2, m - i);
      const a0 = aSlice + <usize>i * rs;
      const a1 = mr > 1 ? a0 + rs : a0;
      const rowOff = <usize>i * ldcb;
      narrow_x12(
        kc, a0, a1, a1, ps, bpack, bpanel, mr, n, c + rowOff, ldcb,
        alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ != 0 ? sliceZ + rowOff : 0, false,
      );
    }
    return;
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
 * One 2 × 12 tile (three = false) or 3 × 12 tile (three = true, a constant at each call) over
 * kc depth steps with op(A) in place (rows at a0, a1, a2, depth steps ps bytes apart); columns
 * 0–7 from the B micro-panel at bp, 8–11 from the first four floats of the next one
 * (bp + bpanel). Finishes the top-left mr × nr part (9 ≤ nr ≤ 12; mr = 3 for a 3 × 12 tile)
 * as the packed tiles do (finish_row_12).
 *
 * 3 × 12 is the relaxed build's tile (see narrow_rows; the rows past the last whole three
 * take 2 × 12). Against 2 × 12 in the relaxed build (bench/gemm-ab.mjs, 11 pairs,
 * 2026-12-05, Xeon VM): 64×256×10, 256×64×10, 1024×256×10, 64×784×12 and 128×128×9 in every
 * transpose case 1.08–1.29× (median 1.19×); bench/engines-ab.mjs, 64×10×256 and 4096×10×256
 * Aᵀ·B: Node 20 1.21× and 1.13×, Node 22 1.25×, 1.15×, Node 24 1.27×, 1.25×, Deno 1.07×,
 * 1.05×, Chromium 1.28×, 1.25×.
 */
// @ts-ignore: decorator
@inline function narrow_x12(
  kc: i32, a0: usize, a1: usize, a2: usize, ps: usize, bp: usize, bpanel: usize, mr: i32, nr: i32,
  c: usize, ldcb: usize, alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, three: bool,
): void {
  let c0_0123 = f32x4.splat(0);
  let c0_4567 = c0_0123, c0_89ab = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123, c1_89ab = c0_0123;
  let c2_0123 = c0_0123, c2_4567 = c0_0123, c2_89ab = c0_0123;
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
    if (three) {
      a = v128.load32_splat(a2);
      c2_0123 = fmadd(a, b_0123, c2_0123);
      c2_4567 = fmadd(a, b_4567, c2_4567);
      c2_89ab = fmadd(a, b_89ab, c2_89ab);
      a2 += ps;
    }
    a0 += ps;
    a1 += ps;
    bp += 32;
    bq += 32;
  }
  finish_row_12(c, z, c0_0123, c0_4567, c0_89ab, nr, alpha, beta, bias, act, p);
  if (mr > 1) finish_row_12(c + ldcb, z != 0 ? z + ldcb : 0, c1_0123, c1_4567, c1_89ab, nr, alpha, beta, bias, act, p);
  if (three) finish_row_12(c + 2 * ldcb, z != 0 ? z + 2 * ldcb : 0, c2_0123, c2_4567, c2_89ab, nr, alpha, beta, bias, act, p);
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
