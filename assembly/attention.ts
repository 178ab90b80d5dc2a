// Attention family: scaled dot-product attention, forward and backward, fused and blocked
// over the sequence so that no T × T score matrix is ever stored.
//
// For each of `nbh` independent slices (batch × heads), with Q, K, V, O each T × dh,
// row-major (rows dh floats apart, or heads·dh when the heads of a sequence sit side by
// side in its rows: [B, T, heads·dh], as a linear projection leaves them), and s = the
// scale:
//
//   S = s·Q·Kᵀ (T × T)   (causal: S[r][c] = −∞ where c > r)
//   P = softmax of each row of S,   O = P·V,   L[r] = log Σ_c e^S[r][c]   (the row's logsumexp)
//
// Forward (per slice): Kᵀ is packed once (dh × T, columns padded to a multiple of 8 with
// zeros, rows ⌈T⌉₈ + TPAD floats apart, see TPAD). Then for each block of BQ query rows,
// the key blocks of BK columns go by in order; each block of scores QKᵀ (BQ × BK) is made
// in scratch by register-blocked products, and each row keeps a running maximum m and a
// running sum l:
//
//   m' = max(m, max_c s·S[r][c]),  P[r][c] = e^(s·S[r][c] − m'),
//   l' = e^(m − m')·l + Σ_c P[r][c],  O[r] ← e^(m − m')·O[r] + P[r]·V_block
//
// and at the end O[r] ← O[r]/l, L[r] = m + log l. Causal blocks wholly above the diagonal
// are never visited; on the diagonal, 4 × 8 tiles wholly above it are skipped.
//
// Backward (per slice), from dO and the saved L: D[r] = Σ_d dO[r][d]·O[r][d]; then for each
// key block and each query block that sees it, the scores are made again and
//
//   P = e^(s·QKᵀ − L),  dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = s·P∘(dP − D),
//   dQ += dS·K,  dK += dSᵀ·Q
//
// (dS is the gradient of the unscaled product QKᵀ, scale included). All six block products
// are one register-blocked routine (mm below): C (+)= A·B with A read one element at a time
// through any two strides (so Aᵀ, P, Pᵀ, dS, dSᵀ need no copies), B row-major, 4 × 8
// tiles of C in eight f32x4 registers. Q and dO, the left operands of the score products
// (QKᵀ in both directions, dO·Vᵀ), are packed once per slice in panels of 4 rows
// (pack_panels), which the tile loop reads through one pointer at fixed offsets: measured
// 3–5% faster in all than reading four rows through four pointers, same results bit for bit.
// The exponentials take the non-positive form (exp_nonpos_v): s·S − m and s·S − L are ≤ 0
// up to the rounding of the maximum (a few ulp above 0 at most, where it is still exact).
// The row work between the products (running maximum and sum, exponentials, dS) is one
// call per block (forward_rows, p_rows, ds_rows) with the exponential inlined, the partial
// last vector of a row included: calling the out-of-line exponential there, or a helper
// per row, cost 5–9% of the whole in V8 (each call rebuilds the polynomial's constants).
//
// Kernels allocate nothing; their scratch is attention_scratch_bytes(t, dh) bytes.

import { fmadd } from "./simd";
import { ACT_IDENTITY, exp_v, exp_nonpos_v, lanes_below, log_v, row_max } from "./vmath";
import { finish_full_4x8 } from "./gemm";

// The block sizes (BQ query rows, BK key columns) and TPAD, the extra floats between rows
// of the packed Kᵀ and Vᵀ, are defined once in src/ops/attention-blocking.ts, which the
// TypeScript scratch rule reads too. Why TPAD: a score tile reads 32 bytes from each of dh
// consecutive rows; at T = 256, rows 1024 bytes apart fall into 4 of the L1's 64 sets (16
// sets for a whole 64-column block, 128 lines for its 256), so the block the 4-row tiles
// share was evicted between them. 1056 bytes apart they spread over all sets: forward +
// backward at B·heads 64, T 256, dh 64, causal measured 4.5% faster (median of 161
// alternating pairs of calls, CPU time; 6% on the fastest tenth of each).
import { BK, BQ, TPAD } from "../src/ops/attention-blocking";

/** mm limits for causal blocks (see mm). */
const LIM_NONE: i32 = 0;
const LIM_COLS: i32 = 1;
const LIM_DEPTH_HI: i32 = 2;
const LIM_DEPTH_LO: i32 = 3;

/** Byte offsets of rows 1–3 of a score block (rows BK floats apart), for mm_rows4_r. */
const ROW1: usize = <usize>BK << 2;
const ROW2: usize = 2 * ROW1;
const ROW3: usize = 3 * ROW1;

// @ts-ignore: decorator
@inline function round_up(x: i32, r: i32): i32 {
  return (x + r - 1) / r * r;
}

/**
 * Byte offset of slice s's first element in a tensor whose rows are ld floats apart: slice
 * s = b·heads + h is head h of sequence b, its rows of dh floats starting at float
 * b·t·ld + h·dh. With heads = 1 and ld = dh that is the contiguous s·t·dh.
 */
// @ts-ignore: decorator
@inline function slice_at(s: i32, heads: i32, t: i32, dh: i32, ld: i32): usize {
  const b = s / heads;
  return (<usize>b * <usize>t * <usize>ld + <usize>(s - b * heads) * <usize>dh) << 2;
}

/**
 * Bytes of 16-byte aligned scratch that attention_forward and attention_backward need for
 * sequences of t positions and head size dh (either kernel; the backward needs more):
 * Kᵀ and Vᵀ packed (2·dh·(⌈t⌉₈ + TPAD) floats), Q and dO in panels (2·dh·⌈t⌉₈), two
 * score blocks (2·BQ·BK), D (⌈t⌉₈) and the running maximum and sum (2·BQ). 0 when t ≤ 0.
 */
export function attention_scratch_bytes(t: i32, dh: i32): i32 {
  if (t <= 0) return 0;
  const tp = round_up(t, 8);
  const d = max<i32>(dh, 0);
  return (2 * d * (tp + TPAD) + 2 * d * tp + 2 * BQ * BK + tp + 2 * BQ) << 2;
}

/**
 * Scaled dot-product attention, forward, for `nbh` slices of t positions and head size dh:
 *   O = softmax(scale·Q·Kᵀ (+ causal mask))·V,   L[r] = logsumexp of row r of the scores.
 * Computes slices s0 … s0 + nbh − 1 of tensors holding `heads` heads per sequence: o is
 * [B, T, heads·dh] (row-major; heads = 1 is [B·H, T, dh], each slice contiguous), slice
 * s = b·heads + h being columns h·dh … h·dh + dh − 1 of sequence b (see slice_at); q, k, v
 * are laid out alike with rows ld ≥ heads·dh floats apart (ld = heads·dh, or 3·heads·dh
 * when q, k, v are the three thirds of one [B, T, 3·heads·dh] tensor, k = q + heads·dh
 * and v = q + 2·heads·dh floats). The pointers are the tensors' starts whatever s0 is (a
 * thread takes its slices by s0).
 * lse: nbh·t floats at slice s's row s·t, the logsumexp saved for attention_backward.
 * causal ≠ 0: position r attends to positions c ≤ r only.
 * scale > 0 and finite (the caller checks). o and lse are overwritten (not read) and must
 * not overlap q, k, v or each other. `scratch`: attention_scratch_bytes(t, dh) bytes,
 * 16-byte aligned, overlapping nothing else.
 * Error: products in f32 (fused multiply-adds in the relaxed build) over dh terms; the
 * exponential within 1 ulp; the softmax normalization and P·V sums in f32 — the result is
 * within a few ulp × (dh + t) of the exact one, relative to Σ_c P[r][c]·|V[c][d]|.
 */
export function attention_forward(
  nbh: i32, t: i32, dh: i32, heads: i32, ld: i32, s0: i32, q: usize, k: usize, v: usize, o: usize, lse: usize,
  scale: f32, causal: i32, scratch: usize,
): void {
  if (nbh <= 0 || t <= 0) return;
  if (dh < 0) dh = 0;
  if (heads < 1) heads = 1;
  const lo = heads * dh;
  if (ld < lo) ld = lo;
  const tp = round_up(t, 8);
  const kt = scratch;
  const ts = tp + TPAD;
  const qpan = kt + (<usize>(dh * ts) << 2);
  const sbuf = qpan + (<usize>(dh * tp) << 2);
  const mrow = sbuf + (<usize>(BQ * BK) << 2);
  const lrow = mrow + (<usize>BQ << 2);
  const rowb = <usize>ld << 2; // rows of q, k, v (and their gradients)
  const orow = <usize>lo << 2; // rows of o (and dO)
  const sld = <usize>BK << 2;
  const ldkt = <usize>ts << 2;
  const pb = <usize>dh << 4;
  for (let bh = 0; bh < nbh; bh++) {
    const at = slice_at(s0 + bh, heads, t, dh, ld);
    const qb = q + at;
    const kb = k + at;
    const vb = v + at;
    const ob = o + slice_at(s0 + bh, heads, t, dh, lo);
    const lb = lse + (<usize>(s0 + bh) * <usize>t << 2);
    pack_t(kb, t, dh, rowb, kt, tp, ts);
    pack_panels(qb, t, dh, rowb, qpan);
    for (let r0 = 0; r0 < t; r0 += BQ) {
      const rows = min<i32>(BQ, t - r0);
      const oblk = ob + <usize>r0 * orow;
      if (heads == 1) fill(oblk, rows * dh, 0);
      else for (let r = 0; r < rows; r++) fill(oblk + <usize>r * orow, dh, 0);
      fill(mrow, rows, -Infinity);
      fill(lrow, rows, 0);
      const cend = causal ? r0 + rows : t;
      for (let c0 = 0; c0 < cend; c0 += BK) {
        const width = min<i32>(BK, cend - c0);
        const off = r0 - c0;
        // S = Q_blk · K_blkᵀ (unscaled), 8-column tiles over the padded Kᵀ.
        mm_at(rows, round_up(width, 8), dh, qpan + <usize>(r0 >> 2) * pb, 4, 16, pb, kt + (<usize>c0 << 2), ldkt, sbuf, sld, false,
          causal ? LIM_COLS : LIM_NONE, off);
        forward_rows(sbuf, rows, width, causal, off, scale, mrow, lrow, oblk, dh, orow);
        // O_blk += P · V_blk
        mm(rows, dh, width, sbuf, sld, 4, vb + <usize>c0 * rowb, rowb, oblk, orow, true,
          causal ? LIM_DEPTH_HI : LIM_NONE, off);
      }
      for (let r = 0; r < rows; r++) scale_row(oblk + <usize>r * orow, dh, 1 / load<f32>(lrow + (<usize>r << 2)));
      // L = m + log l, four rows to a call of the out-of-line log (one row a call was 6% of
      // the forward at T 64, dh 16: bench/kernel-profile.mjs --attention=64x64x16x4 --causal).
      const lb0 = lb + (<usize>r0 << 2);
      let r = 0;
      for (; r + 4 <= rows; r += 4) {
        const o = <usize>r << 2;
        v128.store(lb0 + o, f32x4.add(v128.load(mrow + o), log_v(v128.load(lrow + o), true)));
      }
      if (r < rows) {
        // The last 1–3 rows: lanes past them read the rest of the BQ-float m and l rows
        // (whatever they hold) and are dropped; the sums go through l's slots.
        const o = <usize>r << 2;
        v128.store(lrow + o, f32x4.add(v128.load(mrow + o), log_v(v128.load(lrow + o), true)));
        for (let q = o; q < <usize>rows << 2; q += 4) store<f32>(lb0 + q, load<f32>(lrow + q));
      }
    }
  }
}

/**
 * Scaled dot-product attention, backward: with O and L from attention_forward (same q, k,
 * v, scale, causal) and the upstream gradient dO (do_), ADDS
 *   dQ = s·dS·K,  dK = s·dSᵀ·Q,  dV = Pᵀ·dO,  where dS = P∘(dP − D), dP = dO·Vᵀ,
 *   D[r] = Σ_d dO[r][d]·O[r][d], P = e^(s·QKᵀ − L) (masked entries 0),
 * into dq, dk, dv (laid out like q, slices s0 … s0 + nbh − 1 of `heads` per sequence as in
 * attention_forward; read and written), or writes them fresh: bit 0 of `fresh` for dq, 1 for
 * dk, 2 for dv — each slice's rows of that gradient are zeroed (in cache, just before they
 * are summed into) instead of read. A pointer of 0
 * skips that gradient. dq, dk, dv may be the same buffer (every write is an addition) but
 * must not overlap q, k, v, o, lse or do_. scale > 0. `scratch`: attention_scratch_bytes
 * (t, dh) bytes, 16-byte aligned, overlapping nothing else.
 */
export function attention_backward(
  nbh: i32, t: i32, dh: i32, heads: i32, ld: i32, s0: i32, q: usize, k: usize, v: usize, o: usize, lse: usize, do_: usize,
  dq: usize, dk: usize, dv: usize, scale: f32, causal: i32, scratch: usize, fresh: i32,
): void {
  if (nbh <= 0 || t <= 0) return;
  if (dq == 0 && dk == 0 && dv == 0) return;
  if (dh < 0) dh = 0;
  if (heads < 1) heads = 1;
  const lo = heads * dh;
  if (ld < lo) ld = lo;
  const tp = round_up(t, 8);
  const kt = scratch;
  const ts = tp + TPAD;
  const vt = kt + (<usize>(dh * ts) << 2);
  const qpan = vt + (<usize>(dh * ts) << 2);
  const gpan = qpan + (<usize>(dh * tp) << 2);
  const pbuf = gpan + (<usize>(dh * tp) << 2);
  const sbuf = pbuf + (<usize>(BQ * BK) << 2);
  const dvec = sbuf + (<usize>(BQ * BK) << 2);
  const rowb = <usize>ld << 2; // rows of q, k, v (and their gradients)
  const orow = <usize>lo << 2; // rows of o (and dO)
  const sld = <usize>BK << 2;
  const ldt = <usize>ts << 2;
  const needDs = dq != 0 || dk != 0;
  const pb = <usize>dh << 4;
  for (let bh = 0; bh < nbh; bh++) {
    const at = slice_at(s0 + bh, heads, t, dh, ld);
    const ao = slice_at(s0 + bh, heads, t, dh, lo);
    const qb = q + at;
    const kb = k + at;
    const vb = v + at;
    const ob = o + ao;
    const gb = do_ + ao;
    const lb = lse + (<usize>(s0 + bh) * <usize>t << 2);
    if (fresh != 0) {
      if (fresh & 1 && dq != 0) zero_rows(dq + at, t, dh, rowb);
      if (fresh & 2 && dk != 0) zero_rows(dk + at, t, dh, rowb);
      if (fresh & 4 && dv != 0) zero_rows(dv + at, t, dh, rowb);
    }
    pack_t(kb, t, dh, rowb, kt, tp, ts);
    pack_panels(qb, t, dh, rowb, qpan);
    if (needDs) {
      pack_t(vb, t, dh, rowb, vt, tp, ts);
      pack_panels(gb, t, dh, orow, gpan);
      for (let r = 0; r < t; r++) store<f32>(dvec + (<usize>r << 2), dot(gb + <usize>r * orow, ob + <usize>r * orow, dh));
    }
    for (let c0 = 0; c0 < t; c0 += BK) {
      const width = min<i32>(BK, t - c0);
      const w8 = round_up(width, 8);
      const rstart = causal ? c0 / BQ * BQ : 0;
      for (let r0 = rstart; r0 < t; r0 += BQ) {
        const rows = min<i32>(BQ, t - r0);
        const off = r0 - c0;
        const qblk = qb + <usize>r0 * rowb;
        const gblk = gb + <usize>r0 * orow;
        // P = e^(s·Q_blk·K_blkᵀ − L), masked entries 0.
        mm_at(rows, w8, dh, qpan + <usize>(r0 >> 2) * pb, 4, 16, pb, kt + (<usize>c0 << 2), ldt, pbuf, sld, false,
          causal ? LIM_COLS : LIM_NONE, off);
        p_rows(pbuf, rows, width, causal, off, scale, lb + (<usize>r0 << 2));
        // dV_blk += Pᵀ · dO_blk
        if (dv != 0) {
          mm(width, dh, rows, pbuf, 4, sld, gblk, orow, dv + at + <usize>c0 * rowb, rowb, true,
            causal ? LIM_DEPTH_LO : LIM_NONE, off);
        }
        if (!needDs) continue;
        // dP = dO_blk · V_blkᵀ, then dS = s·P∘(dP − D) in place.
        mm_at(rows, w8, dh, gpan + <usize>(r0 >> 2) * pb, 4, 16, pb, vt + (<usize>c0 << 2), ldt, sbuf, sld, false,
          causal ? LIM_COLS : LIM_NONE, off);
        ds_rows(pbuf, sbuf, rows, width, causal, off, scale, dvec + (<usize>r0 << 2));
        // dQ_blk += dS · K_blk;  dK_blk += dSᵀ · Q_blk
        if (dq != 0) {
          mm(rows, dh, width, sbuf, sld, 4, kb + <usize>c0 * rowb, rowb, dq + at + <usize>r0 * rowb, rowb, true,
            causal ? LIM_DEPTH_HI : LIM_NONE, off);
        }
        if (dk != 0) {
          mm(width, dh, rows, sbuf, 4, sld, qblk, rowb, dk + at + <usize>c0 * rowb, rowb, true,
            causal ? LIM_DEPTH_LO : LIM_NONE, off);
        }
      }
    }
  }
}

// ------------------------------------------------------------------ row helpers

/**
 * The forward's softmax step on one block of scores (rows × width at s, rows BK floats
 * apart; causal: row r sees columns c ≤ r + off): each row's running maximum (m) and sum
 * (l) are updated, its scores become e^(scale·S − m'), and its output row (o, rows dh floats
 * apart) is rescaled by e^(m − m'). One call per block, the row work inlined.
 */
function forward_rows(
  s: usize, rows: i32, width: i32, causal: i32, off: i32, scale: f32, m: usize, l: usize, o: usize, dh: i32, rowb: usize,
): void {
  const sld = <usize>BK << 2;
  for (let r = 0; r < rows; r++) {
    const srow = s + <usize>r * sld;
    const nv = causal ? min<i32>(width, max<i32>(0, r + off + 1)) : width;
    if (nv == 0) {
      fill(srow, round_up(width, 4), 0);
      continue;
    }
    const mp = m + (<usize>r << 2);
    const lp = l + (<usize>r << 2);
    const mOld = load<f32>(mp);
    const mNew = max<f32>(mOld, row_max(srow, nv) * scale);
    const sum = exp_row(srow, nv, width, scale, mNew);
    if (mOld == -Infinity) {
      store<f32>(lp, sum);
    } else {
      const alpha = f32x4.extract_lane(exp_v(f32x4.splat(mOld - mNew)), 0);
      store<f32>(lp, fmaf(load<f32>(lp), alpha, sum));
      if (alpha != 1) scale_row(o + <usize>r * rowb, dh, alpha);
    }
    store<f32>(mp, mNew);
  }
}

/**
 * The backward's P on one block (rows × width at p, rows BK floats apart): e^(scale·S − L)
 * with L the rows' logsumexp (at lse), masked entries and the padding to ⌈width⌉₄ zero.
 */
function p_rows(p: usize, rows: i32, width: i32, causal: i32, off: i32, scale: f32, lse: usize): void {
  const sld = <usize>BK << 2;
  for (let r = 0; r < rows; r++) {
    const nv = causal ? min<i32>(width, max<i32>(0, r + off + 1)) : width;
    const prow = p + <usize>r * sld;
    if (nv == 0) fill(prow, round_up(width, 4), 0);
    else exp_row(prow, nv, width, scale, load<f32>(lse + (<usize>r << 2)));
  }
}

/** dS = scale·P∘(dP − D) in place of dP (at g) on one block, D per row at d. */
function ds_rows(p: usize, g: usize, rows: i32, width: i32, causal: i32, off: i32, scale: f32, d: usize): void {
  const sld = <usize>BK << 2;
  for (let r = 0; r < rows; r++) {
    const nv = causal ? min<i32>(width, max<i32>(0, r + off + 1)) : width;
    ds_row(p + <usize>r * sld, g + <usize>r * sld, nv, width, load<f32>(d + (<usize>r << 2)), scale);
  }
}

/** t rows of dh floats, rows `rowb` bytes apart from x, ← 0. */
function zero_rows(x: usize, t: i32, dh: i32, rowb: usize): void {
  if (rowb == <usize>dh << 2) {
    fill(x, t * dh, 0);
    return;
  }
  for (let r = 0; r < t; r++) fill(x + <usize>r * rowb, dh, 0);
}

/** x[0..n) ← v. */
function fill(x: usize, n: i32, v: f32): void {
  const vv = f32x4.splat(v);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), vv);
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), v);
}

/** x[0..n) ← α·x[0..n). */
// @ts-ignore: decorator
@inline function scale_row(x: usize, n: i32, alpha: f32): void {
  const va = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), va));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * alpha);
  }
}

/** Σ a[i]·b[i] over n floats. */
function dot(a: usize, b: usize, n: i32): f32 {
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    s0 = fmadd(v128.load(a + o), v128.load(b + o), s0);
    s1 = fmadd(v128.load(a + o, 16), v128.load(b + o, 16), s1);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    s0 = fmadd(v128.load(a + o), v128.load(b + o), s0);
  }
  const s = f32x4.add(s0, s1);
  let r = (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
  for (; i < n; i++) r += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return r;
}

/** a·b + c with one rounding where the build fuses, else two. */
// @ts-ignore: decorator
@inline function fmaf(a: f32, b: f32, c: f32): f32 {
  return f32x4.extract_lane(fmadd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(c)), 0);
}

/**
 * x[c] ← e^(s·x[c] − m) for c < nv, x[c] ← 0 for nv ≤ c < ⌈w⌉₄ (1 ≤ nv ≤ w); returns
 * Σ_{c<nv} x[c]. The last partial vector is computed whole (the row has room for ⌈w⌉₄
 * floats) and its lanes from nv on are replaced by zeros, whatever they held.
 */
// @ts-ignore: decorator
@inline function exp_row(x: usize, nv: i32, w: i32, s: f32, m: f32): f32 {
  const vs = f32x4.splat(s);
  const vm = f32x4.splat(-m);
  let sum = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= nv; i += 4) {
    const p = x + (<usize>i << 2);
    const e = exp_nonpos_v(fmadd(v128.load(p), vs, vm));
    v128.store(p, e);
    sum = f32x4.add(sum, e);
  }
  if (i < nv) {
    const p = x + (<usize>i << 2);
    const e = v128.and(exp_nonpos_v(fmadd(v128.load(p), vs, vm)), lanes_below(nv - i));
    v128.store(p, e);
    sum = f32x4.add(sum, e);
    i += 4;
  }
  const w4 = round_up(w, 4);
  for (; i < w4; i += 4) v128.store(x + (<usize>i << 2), f32x4.splat(0));
  return (f32x4.extract_lane(sum, 0) + f32x4.extract_lane(sum, 1)) + (f32x4.extract_lane(sum, 2) + f32x4.extract_lane(sum, 3));
}

/**
 * g[c] ← s·p[c]·(g[c] − d) for c < nv, g[c] ← 0 for nv ≤ c < ⌈w⌉₄ (lanes past nv of the
 * last partial vector are replaced by zeros, whatever they held).
 */
// @ts-ignore: decorator
@inline function ds_row(p: usize, g: usize, nv: i32, w: i32, d: f32, s: f32): void {
  const vd = f32x4.splat(d);
  const vs = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= nv; i += 4) {
    const o = <usize>i << 2;
    v128.store(g + o, f32x4.mul(f32x4.mul(v128.load(p + o), vs), f32x4.sub(v128.load(g + o), vd)));
  }
  if (i < nv) {
    const o = <usize>i << 2;
    const r = f32x4.mul(f32x4.mul(v128.load(p + o), vs), f32x4.sub(v128.load(g + o), vd));
    v128.store(g + o, v128.and(r, lanes_below(nv - i)));
    i += 4;
  }
  const w4 = round_up(w, 4);
  for (; i < w4; i += 4) v128.store(g + (<usize>i << 2), f32x4.splat(0));
}

/**
 * dst[d][j] = src[j][d] for j < t, d < dh (src t × dh, contiguous), dst[d][j] = 0 for
 * t ≤ j < tp; dst rows are ts ≥ tp floats apart. 4 × 4 blocks through shuffles, scalar edges.
 */
function pack_t(src: usize, t: i32, dh: i32, ls: usize, dst: usize, tp: i32, ts: i32): void {
  const ld = <usize>ts << 2;
  let j = 0;
  for (; j + 4 <= t; j += 4) {
    const s0 = src + <usize>j * ls;
    const s1 = s0 + ls;
    const s2 = s1 + ls;
    const s3 = s2 + ls;
    let d = 0;
    for (; d + 4 <= dh; d += 4) {
      const o = <usize>d << 2;
      const a = v128.load(s0 + o);
      const b = v128.load(s1 + o);
      const c = v128.load(s2 + o);
      const e = v128.load(s3 + o);
      const ab_lo = i32x4.shuffle(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
      const ab_hi = i32x4.shuffle(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
      const ce_lo = i32x4.shuffle(c, e, 0, 4, 1, 5);
      const ce_hi = i32x4.shuffle(c, e, 2, 6, 3, 7);
      const dp = dst + <usize>d * ld + (<usize>j << 2);
      v128.store(dp, i32x4.shuffle(ab_lo, ce_lo, 0, 1, 4, 5));
      v128.store(dp + ld, i32x4.shuffle(ab_lo, ce_lo, 2, 3, 6, 7));
      v128.store(dp + 2 * ld, i32x4.shuffle(ab_hi, ce_hi, 0, 1, 4, 5));
      v128.store(dp + 3 * ld, i32x4.shuffle(ab_hi, ce_hi, 2, 3, 6, 7));
    }
    for (; d < dh; d++) {
      const o = <usize>d << 2;
      const dp = dst + <usize>d * ld + (<usize>j << 2);
      store<f32>(dp, load<f32>(s0 + o));
      store<f32>(dp, load<f32>(s1 + o), 4);
      store<f32>(dp, load<f32>(s2 + o), 8);
      store<f32>(dp, load<f32>(s3 + o), 12);
    }
  }
  for (; j < t; j++) {
    for (let d = 0; d < dh; d++) store<f32>(dst + <usize>d * ld + (<usize>j << 2), load<f32>(src + <usize>j * ls + (<usize>d << 2)));
  }
  if (t < tp) {
    for (let d = 0; d < dh; d++) {
      for (let jj = t; jj < tp; jj++) store<f32>(dst + <usize>d * ld + (<usize>jj << 2), 0);
    }
  }
}

/**
 * A (t × dh, contiguous) in panels of 4 rows for mm_at: rows 4q … 4q + 3 go to
 * dst + q·16·dh bytes, element (r, d) at 16·d + 4·(r mod 4) bytes into its panel (the four
 * rows' values of column d side by side). Rows t … ⌈t⌉₄ − 1 of the last panel are zeros.
 */
function pack_panels(src: usize, t: i32, dh: i32, ls: usize, dst: usize): void {
  const pb = <usize>dh << 4;
  let j = 0;
  for (; j + 4 <= t; j += 4) {
    const s0 = src + <usize>j * ls;
    const s1 = s0 + ls;
    const s2 = s1 + ls;
    const s3 = s2 + ls;
    const dp = dst + <usize>(j >> 2) * pb;
    let d = 0;
    for (; d + 4 <= dh; d += 4) {
      const o = <usize>d << 2;
      const a = v128.load(s0 + o);
      const b = v128.load(s1 + o);
      const c = v128.load(s2 + o);
      const e = v128.load(s3 + o);
      const ab_lo = i32x4.shuffle(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
      const ab_hi = i32x4.shuffle(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
      const ce_lo = i32x4.shuffle(c, e, 0, 4, 1, 5);
      const ce_hi = i32x4.shuffle(c, e, 2, 6, 3, 7);
      const q = dp + (<usize>d << 4);
      v128.store(q, i32x4.shuffle(ab_lo, ce_lo, 0, 1, 4, 5));
      v128.store(q, i32x4.shuffle(ab_lo, ce_lo, 2, 3, 6, 7), 16);
      v128.store(q, i32x4.shuffle(ab_hi, ce_hi, 0, 1, 4, 5), 32);
      v128.store(q, i32x4.shuffle(ab_hi, ce_hi, 2, 3, 6, 7), 48);
    }
    for (; d < dh; d++) {
      const o = <usize>d << 2;
      const q = dp + (<usize>d << 4);
      store<f32>(q, load<f32>(s0 + o));
      store<f32>(q, load<f32>(s1 + o), 4);
      store<f32>(q, load<f32>(s2 + o), 8);
      store<f32>(q, load<f32>(s3 + o), 12);
    }
  }
  if (j < t) {
    const dp = dst + <usize>(j >> 2) * pb;
    for (let d = 0; d < dh; d++) {
      const q = dp + (<usize>d << 4);
      for (let r = 0; r < 4; r++) {
        store<f32>(q + (<usize>r << 2), j + r < t ? load<f32>(src + <usize>(j + r) * ls + (<usize>d << 2)) : 0);
      }
    }
  }
}

// ------------------------------------------------------------------ block products

/**
 * C (+)= A·B for an m × n block C (rows ldc bytes apart) over depth k: element (i, p) of A
 * is the f32 at a + i·sai + p·sap (byte strides: any layout, A or Aᵀ alike), row p of B
 * starts at b + p·ldb (contiguous columns). acc: add to C, else overwrite C.
 *
 * `lim` trims the work of a causal block, where element (r, c) counts only if c ≤ r + off
 * (everything outside that is zero in A, or unwanted in C):
 *   LIM_COLS      C's 8-column tiles wholly past ilast + off are not computed (left as
 *                 they were);
 *   LIM_DEPTH_HI  row r takes only the depth steps p ≤ r + off (A is zero past them);
 *   LIM_DEPTH_LO  row r takes only the depth steps p ≥ r − off (A is zero before them);
 * where ifirst, ilast are the first and last row of each 4-row tile. Masked steps are not
 * multiplied at all (not multiplied by zero), so a non-finite B row a row must not see
 * does not reach it. Tiles with nothing left are skipped (with acc, C is then unchanged,
 * as it should be).
 */
// @ts-ignore: decorator
@inline function mm(
  m: i32, n: i32, k: i32, a: usize, sai: usize, sap: usize, b: usize, ldb: usize,
  c: usize, ldc: usize, acc: bool, lim: i32, off: i32,
): void {
  mm_at(m, n, k, a, sai, sap, sai << 2, b, ldb, c, ldc, acc, lim, off);
}

/**
 * mm for A stored in 4-row tiles `sat` bytes apart: rows 4q … 4q + 3 of A start at
 * a + q·sat, and within a tile element (r, p) is sai·r + sap·p bytes on (mm is the case
 * sat = 4·sai). With sai = 4 and sap = 16 this reads A packed in panels (pack_panels).
 */
function mm_at(
  m: i32, n: i32, k: i32, a: usize, sai: usize, sap: usize, sat: usize, b: usize, ldb: usize,
  c: usize, ldc: usize, acc: bool, lim: i32, off: i32,
): void {
  for (let i = 0; i < m; i += 4) {
    const mr = min<i32>(4, m - i);
    // [p0, p1): the depth steps every row of the tile takes; rows of a causal tile that
    // reach further (HI) or start earlier (LO) take their own extra steps below, one row at
    // a time, so that no row multiplies a masked zero of A by a B row it must not see
    // (0·Inf and 0·NaN are NaN: a non-finite future value would leak into earlier rows).
    let p0 = 0;
    let p1 = k;
    let nn = n;
    if (lim == LIM_COLS) {
      if (i + mr + off <= 0) continue;
      nn = min<i32>(n, round_up(i + mr + off, 8));
    } else if (lim == LIM_DEPTH_HI) {
      if (min<i32>(k, i + mr + off) <= 0) continue;
      p1 = min<i32>(k, max<i32>(0, i + off + 1));
    } else if (lim == LIM_DEPTH_LO) {
      if (max<i32>(0, i - off) >= k) continue;
      p0 = min<i32>(k, max<i32>(0, i + mr - 1 - off));
    }
    const ai = a + <usize>(i >> 2) * sat + <usize>p0 * sap;
    const bp = b + <usize>p0 * ldb;
    const ci = c + <usize>i * ldc;
    if (p1 > p0 || !acc) {
      if (mr == 4 && sai == 4) {
        mm_rows4_t(nn, p1 - p0, ai, sap, bp, ldb, ci, ldc, acc);
      } else if (mr == 4 && sap == 4 && sai == ROW1) {
        mm_rows4_r(nn, p1 - p0, ai, bp, ldb, ci, ldc, acc);
      } else if (mr == 4) {
        mm_rows4(nn, p1 - p0, ai, sai, sap, bp, ldb, ci, ldc, acc);
      } else {
        for (let r = 0; r < mr; r++) mm_row1(nn, p1 - p0, ai + <usize>r * sai, sap, bp, ldb, ci + <usize>r * ldc, acc);
      }
    }
    // The usual causal tile (4 rows, 8-column multiples, the triangle inside the depth
    // range): its triangle in one pass (mm_tri), the same sums as the rows below.
    if (lim == LIM_DEPTH_HI && mr == 4 && (nn & 7) == 0 && i + off + 1 >= 0 && i + off + 4 <= k) {
      mm_tri(false, nn, a + <usize>i * sai + <usize>p1 * sap, sai, sap, b + <usize>p1 * ldb, ldb, ci, ldc);
    } else if (lim == LIM_DEPTH_LO && mr == 4 && (nn & 7) == 0 && i - off >= 0 && i + 3 - off <= k) {
      mm_tri(true, nn, a + <usize>i * sai + <usize>(p0 - 3) * sap, sai, sap, b + <usize>(p0 - 3) * ldb, ldb, ci, ldc);
    } else if (lim == LIM_DEPTH_HI) {
      for (let r = 0; r < mr; r++) {
        const pr = min<i32>(k, i + r + off + 1);
        if (pr > p1) mm_row1(nn, pr - p1, a + <usize>(i + r) * sai + <usize>p1 * sap, sap, b + <usize>p1 * ldb, ldb, c + <usize>(i + r) * ldc, true);
      }
    } else if (lim == LIM_DEPTH_LO) {
      for (let r = 0; r < mr; r++) {
        const sr = max<i32>(0, i + r - off);
        if (sr < p0) mm_row1(nn, p0 - sr, a + <usize>(i + r) * sai + <usize>sr * sap, sap, b + <usize>sr * ldb, ldb, c + <usize>(i + r) * ldc, true);
      }
    }
  }
}

/**
 * The triangle of a causal 4-row tile, C += for n columns (a multiple of 8), element (r, p)
 * of A at a + r·sai + p·sap, row p of B at b + p·ldb, p counted from a and b:
 *   hi (lo = false): row r takes steps 0 … r − 1 (rows 1, 2, 3 take 1, 2, 3);
 *   lo: row r takes steps r … 2 (rows 0, 1, 2 take 3, 2, 1).
 * Each row's steps are summed from zero in order, then added to C: the same sums, bit for
 * bit, as mm_row1 on each row.
 */
function mm_tri(lo: bool, n: i32, a: usize, sai: usize, sap: usize, b: usize, ldb: usize, c: usize, ldc: usize): void {
  const z = f32x4.splat(0);
  const a1 = a + sai;
  const a2 = a1 + sai;
  const a3 = a2 + sai;
  const c1 = c + ldc;
  const c2 = c1 + ldc;
  const c3 = c2 + ldc;
  for (let j = 0; j + 8 <= n; j += 8) {
    const o = <usize>j << 2;
    const q0 = b + o;
    const q1 = q0 + ldb;
    const q2 = q1 + ldb;
    const b0l = v128.load(q0);
    const b0h = v128.load(q0, 16);
    const b1l = v128.load(q1);
    const b1h = v128.load(q1, 16);
    const b2l = v128.load(q2);
    const b2h = v128.load(q2, 16);
    if (lo) {
      let x = v128.load32_splat(a);
      let sl = fmadd(x, b0l, z);
      let sh = fmadd(x, b0h, z);
      x = v128.load32_splat(a + sap);
      sl = fmadd(x, b1l, sl);
      sh = fmadd(x, b1h, sh);
      x = v128.load32_splat(a + 2 * sap);
      sl = fmadd(x, b2l, sl);
      sh = fmadd(x, b2h, sh);
      v128.store(c + o, f32x4.add(sl, v128.load(c + o)));
      v128.store(c + o, f32x4.add(sh, v128.load(c + o, 16)), 16);
      x = v128.load32_splat(a1 + sap);
      sl = fmadd(x, b1l, z);
      sh = fmadd(x, b1h, z);
      x = v128.load32_splat(a1 + 2 * sap);
      sl = fmadd(x, b2l, sl);
      sh = fmadd(x, b2h, sh);
      v128.store(c1 + o, f32x4.add(sl, v128.load(c1 + o)));
      v128.store(c1 + o, f32x4.add(sh, v128.load(c1 + o, 16)), 16);
      x = v128.load32_splat(a2 + 2 * sap);
      sl = fmadd(x, b2l, z);
      sh = fmadd(x, b2h, z);
      v128.store(c2 + o, f32x4.add(sl, v128.load(c2 + o)));
      v128.store(c2 + o, f32x4.add(sh, v128.load(c2 + o, 16)), 16);
    } else {
      let x = v128.load32_splat(a1);
      let sl = fmadd(x, b0l, z);
      let sh = fmadd(x, b0h, z);
      v128.store(c1 + o, f32x4.add(sl, v128.load(c1 + o)));
      v128.store(c1 + o, f32x4.add(sh, v128.load(c1 + o, 16)), 16);
      x = v128.load32_splat(a2);
      sl = fmadd(x, b0l, z);
      sh = fmadd(x, b0h, z);
      x = v128.load32_splat(a2 + sap);
      sl = fmadd(x, b1l, sl);
      sh = fmadd(x, b1h, sh);
      v128.store(c2 + o, f32x4.add(sl, v128.load(c2 + o)));
      v128.store(c2 + o, f32x4.add(sh, v128.load(c2 + o, 16)), 16);
      x = v128.load32_splat(a3);
      sl = fmadd(x, b0l, z);
      sh = fmadd(x, b0h, z);
      x = v128.load32_splat(a3 + sap);
      sl = fmadd(x, b1l, sl);
      sh = fmadd(x, b1h, sh);
      x = v128.load32_splat(a3 + 2 * sap);
      sl = fmadd(x, b2l, sl);
      sh = fmadd(x, b2h, sh);
      v128.store(c3 + o, f32x4.add(sl, v128.load(c3 + o)));
      v128.store(c3 + o, f32x4.add(sh, v128.load(c3 + o, 16)), 16);
    }
  }
}

/**
 * Four rows of C (+)= A·B: 4 × 8 tiles, then a 4 × 4 tile, then single columns. Inlined into
 * mm_at, as mm_rows4_t and mm_rows4_r are, so that the depth loops sit two loops deep, which
 * V8 unrolls further than one loop deep (as gemm.ts's gemm_panel_rows): the fused attention
 * forward and backward 1.016–1.024× (bench/attention-dev.mjs --baseline, T 256 dh 64 and
 * T 64 dh 16), 2 KB more .wasm (0.2 KB gzipped).
 */
// @ts-ignore: decorator
@inline function mm_rows4(
  n: i32, k: i32, a: usize, sai: usize, sap: usize, b: usize, ldb: usize,
  c: usize, ldc: usize, acc: bool,
): void {
  const a1 = a + sai;
  const a2 = a1 + sai;
  const a3 = a2 + sai;
  const c1 = c + ldc;
  const c2 = c1 + ldc;
  const c3 = c2 + ldc;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let c0_0123 = f32x4.splat(0);
    let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
    let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
    let bp = b + (<usize>j << 2);
    let ap: usize = 0;
    for (let p = 0; p < k; p++) {
      const b_0123 = v128.load(bp);
      const b_4567 = v128.load(bp, 16);
      let x = v128.load32_splat(a + ap);
      c0_0123 = fmadd(x, b_0123, c0_0123);
      c0_4567 = fmadd(x, b_4567, c0_4567);
      x = v128.load32_splat(a1 + ap);
      c1_0123 = fmadd(x, b_0123, c1_0123);
      c1_4567 = fmadd(x, b_4567, c1_4567);
      x = v128.load32_splat(a2 + ap);
      c2_0123 = fmadd(x, b_0123, c2_0123);
      c2_4567 = fmadd(x, b_4567, c2_4567);
      x = v128.load32_splat(a3 + ap);
      c3_0123 = fmadd(x, b_0123, c3_0123);
      c3_4567 = fmadd(x, b_4567, c3_4567);
      ap += sap;
      bp += ldb;
    }
    const o = <usize>j << 2;
    if (acc) {
      c0_0123 = f32x4.add(c0_0123, v128.load(c + o));
      c0_4567 = f32x4.add(c0_4567, v128.load(c + o, 16));
      c1_0123 = f32x4.add(c1_0123, v128.load(c1 + o));
      c1_4567 = f32x4.add(c1_4567, v128.load(c1 + o, 16));
      c2_0123 = f32x4.add(c2_0123, v128.load(c2 + o));
      c2_4567 = f32x4.add(c2_4567, v128.load(c2 + o, 16));
      c3_0123 = f32x4.add(c3_0123, v128.load(c3 + o));
      c3_4567 = f32x4.add(c3_4567, v128.load(c3 + o, 16));
    }
    v128.store(c + o, c0_0123);
    v128.store(c + o, c0_4567, 16);
    v128.store(c1 + o, c1_0123);
    v128.store(c1 + o, c1_4567, 16);
    v128.store(c2 + o, c2_0123);
    v128.store(c2 + o, c2_4567, 16);
    v128.store(c3 + o, c3_0123);
    v128.store(c3 + o, c3_4567, 16);
  }
  if (j + 4 <= n) {
    let c0_0123 = f32x4.splat(0);
    let c1_0123 = c0_0123, c2_0123 = c0_0123, c3_0123 = c0_0123;
    let bp = b + (<usize>j << 2);
    let ap: usize = 0;
    for (let p = 0; p < k; p++) {
      const b_0123 = v128.load(bp);
      c0_0123 = fmadd(v128.load32_splat(a + ap), b_0123, c0_0123);
      c1_0123 = fmadd(v128.load32_splat(a1 + ap), b_0123, c1_0123);
      c2_0123 = fmadd(v128.load32_splat(a2 + ap), b_0123, c2_0123);
      c3_0123 = fmadd(v128.load32_splat(a3 + ap), b_0123, c3_0123);
      ap += sap;
      bp += ldb;
    }
    const o = <usize>j << 2;
    if (acc) {
      c0_0123 = f32x4.add(c0_0123, v128.load(c + o));
      c1_0123 = f32x4.add(c1_0123, v128.load(c1 + o));
      c2_0123 = f32x4.add(c2_0123, v128.load(c2 + o));
      c3_0123 = f32x4.add(c3_0123, v128.load(c3 + o));
    }
    v128.store(c + o, c0_0123);
    v128.store(c1 + o, c1_0123);
    v128.store(c2 + o, c2_0123);
    v128.store(c3 + o, c3_0123);
    j += 4;
  }
  for (; j < n; j++) {
    // One column, the four rows in the lanes of one vector.
    let s = f32x4.splat(0);
    let bp = b + (<usize>j << 2);
    let ap: usize = 0;
    for (let p = 0; p < k; p++) {
      let x = f32x4.splat(load<f32>(a + ap));
      x = f32x4.replace_lane(x, 1, load<f32>(a1 + ap));
      x = f32x4.replace_lane(x, 2, load<f32>(a2 + ap));
      x = f32x4.replace_lane(x, 3, load<f32>(a3 + ap));
      s = fmadd(x, v128.load32_splat(bp), s);
      ap += sap;
      bp += ldb;
    }
    const o = <usize>j << 2;
    let s0 = f32x4.extract_lane(s, 0);
    let s1 = f32x4.extract_lane(s, 1);
    let s2 = f32x4.extract_lane(s, 2);
    let s3 = f32x4.extract_lane(s, 3);
    if (acc) {
      s0 += load<f32>(c + o);
      s1 += load<f32>(c1 + o);
      s2 += load<f32>(c2 + o);
      s3 += load<f32>(c3 + o);
    }
    store<f32>(c + o, s0);
    store<f32>(c1 + o, s1);
    store<f32>(c2 + o, s2);
    store<f32>(c3 + o, s3);
  }
}

/**
 * mm_rows4 for A with its four rows side by side (sai = 4 bytes: element (i, p) at
 * a + 4i + p·sap): one pointer, the rows at fixed offsets. 8-column tiles here; the last
 * 0–7 columns go to mm_rows4.
 */
// @ts-ignore: decorator
@inline function mm_rows4_t(
  n: i32, k: i32, a: usize, sap: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool,
): void {
  // The depth loop runs on its two pointers alone (no step counter: one register and one
  // addition less per step).
  const aend = a + <usize>k * sap;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let c0_0123 = f32x4.splat(0);
    let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
    let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
    let bp = b + (<usize>j << 2);
    let ap = a;
    while (ap < aend) {
      const b_0123 = v128.load(bp);
      const b_4567 = v128.load(bp, 16);
      let x = v128.load32_splat(ap);
      c0_0123 = fmadd(x, b_0123, c0_0123);
      c0_4567 = fmadd(x, b_4567, c0_4567);
      x = v128.load32_splat(ap, 4);
      c1_0123 = fmadd(x, b_0123, c1_0123);
      c1_4567 = fmadd(x, b_4567, c1_4567);
      x = v128.load32_splat(ap, 8);
      c2_0123 = fmadd(x, b_0123, c2_0123);
      c2_4567 = fmadd(x, b_4567, c2_4567);
      x = v128.load32_splat(ap, 12);
      c3_0123 = fmadd(x, b_0123, c3_0123);
      c3_4567 = fmadd(x, b_4567, c3_4567);
      ap += sap;
      bp += ldb;
    }
    const o = c + (<usize>j << 2);
    // C ← (acc ? C + tile : tile): the GEMM's whole-tile ending with α = 1, β = acc.
    finish_full_4x8(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, o, <i32>(ldc >> 2), 1, acc ? 1 : 0, 0, ACT_IDENTITY, 0);
  }
  if (j < n) mm_rows4(n - j, k, a, 4, sap, b + (<usize>j << 2), ldb, c + (<usize>j << 2), ldc, acc);
}

/**
 * mm_rows4 for row-major A whose rows are BK floats apart (sap = 4 bytes, sai = 4·BK: the
 * score blocks P and dS in scratch): one pointer steps 4 bytes a depth step and the four
 * rows are read at fixed offsets from it, so a step bumps two pointers where a pointer per
 * row bumped five. (Unrolling the depth by 4 with fixed offsets measured 30% slower in V8.)
 * 8-column tiles here; the last 0–7 columns go to mm_rows4.
 */
// @ts-ignore: decorator
@inline function mm_rows4_r(
  n: i32, k: i32, a: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool,
): void {
  const aend = a + (<usize>k << 2);
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let c0_0123 = f32x4.splat(0);
    let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
    let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
    let bp = b + (<usize>j << 2);
    let ap = a;
    while (ap < aend) {
      const b_0123 = v128.load(bp);
      const b_4567 = v128.load(bp, 16);
      let x = v128.load32_splat(ap);
      c0_0123 = fmadd(x, b_0123, c0_0123);
      c0_4567 = fmadd(x, b_4567, c0_4567);
      x = v128.load32_splat(ap, ROW1);
      c1_0123 = fmadd(x, b_0123, c1_0123);
      c1_4567 = fmadd(x, b_4567, c1_4567);
      x = v128.load32_splat(ap, ROW2);
      c2_0123 = fmadd(x, b_0123, c2_0123);
      c2_4567 = fmadd(x, b_4567, c2_4567);
      x = v128.load32_splat(ap, ROW3);
      c3_0123 = fmadd(x, b_0123, c3_0123);
      c3_4567 = fmadd(x, b_4567, c3_4567);
      bp += ldb;
      ap += 4;
    }
    const o = c + (<usize>j << 2);
    // C ← (acc ? C + tile : tile): the GEMM's whole-tile ending with α = 1, β = acc.
    finish_full_4x8(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, o, <i32>(ldc >> 2), 1, acc ? 1 : 0, 0, ACT_IDENTITY, 0);
  }
  if (j < n) mm_rows4(n - j, k, a, ROW1, 4, b + (<usize>j << 2), ldb, c + (<usize>j << 2), ldc, acc);
}

/** One row of C (+)= A·B: 8 columns at a time, then 4, then single columns. */
function mm_row1(
  n: i32, k: i32, a: usize, sap: usize, b: usize, ldb: usize, c: usize, acc: bool,
): void {
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let s_0123 = f32x4.splat(0);
    let s_4567 = s_0123;
    let bp = b + (<usize>j << 2);
    let ap = a;
    for (let p = 0; p < k; p++) {
      const x = v128.load32_splat(ap);
      s_0123 = fmadd(x, v128.load(bp), s_0123);
      s_4567 = fmadd(x, v128.load(bp, 16), s_4567);
      ap += sap;
      bp += ldb;
    }
    const o = c + (<usize>j << 2);
    if (acc) {
      s_0123 = f32x4.add(s_0123, v128.load(o));
      s_4567 = f32x4.add(s_4567, v128.load(o, 16));
    }
    v128.store(o, s_0123);
    v128.store(o, s_4567, 16);
  }
  if (j + 4 <= n) {
    let s_0123 = f32x4.splat(0);
    let bp = b + (<usize>j << 2);
    let ap = a;
    for (let p = 0; p < k; p++) {
      s_0123 = fmadd(v128.load32_splat(ap), v128.load(bp), s_0123);
      ap += sap;
      bp += ldb;
    }
    const o = c + (<usize>j << 2);
    if (acc) s_0123 = f32x4.add(s_0123, v128.load(o));
    v128.store(o, s_0123);
    j += 4;
  }
  for (; j < n; j++) {
    let s: f32 = 0;
    let bp = b + (<usize>j << 2);
    let ap = a;
    for (let p = 0; p < k; p++) {
      s += load<f32>(ap) * load<f32>(bp);
      ap += sap;
      bp += ldb;
    }
    const o = c + (<usize>j << 2);
    store<f32>(o, acc ? load<f32>(o) + s : s);
  }
}
